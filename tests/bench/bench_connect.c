/* bench-connect: the cost of a fresh connection to the gateway.
 *
 *   bench-connect [-n CONNECTIONS] [-r ROUNDS]
 *
 * Starts a router and a gateway (the integration harness), then, ROUNDS
 * times, opens CONNECTIONS connections one after another, each sending
 * one GET of an unknown path and reading the 404 to the close. Prints
 * each round's median and 90th percentile time per connection and the
 * connections per second, then the median of the rounds' medians. The
 * gateway's work per connection is what is measured: accepting, the
 * request line's check before libmicrohttpd parses it, one answer that
 * needs no router. */
#include "harness.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One connection: request, answer to the close. Seconds, or -1. */
static double one(int port)
{
	static const char req[] = "GET /no-such HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char buf[2048];
	double t0 = mono();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok = 0;
	ssize_t n;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req) - 1) {
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			ok |= n > 12 && strncmp(buf, "HTTP/1.1 404", 12) == 0;
	}
	close(fd);
	return ok ? mono() - t0 : -1;
}

int main(int argc, char **argv)
{
	static struct mr_env env;
	int conns = 2000, rounds = 5, ch, failed = 0;

	while ((ch = getopt(argc, argv, "n:r:h")) != -1) {
		switch (ch) {
		case 'n': conns = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fprintf(ch == 'h' ? stdout : stderr, "usage: bench-connect [-n CONNECTIONS] [-r ROUNDS]\n");
			return ch == 'h' ? 0 : 1;
		}
	}
	if (conns < 10 || conns > 1000000 || rounds < 1 || rounds > 100) {
		fprintf(stderr, "bench-connect: -n 10..1000000, -r 1..100\n");
		return 1;
	}
	struct mr_opts o = {.max_per_ip = 1024};
	double *t = calloc((size_t)conns, sizeof(*t)), *med = calloc((size_t)rounds, sizeof(*med));
	if (!t || !med || mr_env_init(&env, &o) || mr_env_up(&env)) {
		fprintf(stderr, "bench-connect: cannot start router and gateway\n");
		mr_env_down(&env);
		return 1;
	}
	for (int i = 0; i < 200; i++)   /* warm up */
		(void)one(env.port);
	for (int r = 0; r < rounds; r++) {
		double t0 = mono();
		int got = 0;

		for (int i = 0; i < conns; i++) {
			double s = one(env.port);
			if (s < 0)
				failed++;
			else
				t[got++] = s;
		}
		double took = mono() - t0;
		if (got == 0)
			break;
		qsort(t, (size_t)got, sizeof(*t), cmp);
		med[r] = t[got / 2];
		printf("round %d: %d connections  median %.1f us  p90 %.1f us  %.0f conn/s\n", r + 1,
		       got, med[r] * 1e6, t[got * 9 / 10] * 1e6, got / took);
	}
	qsort(med, (size_t)rounds, sizeof(*med), cmp);
	printf("median of round medians: %.1f us per connection; %d failed\n", med[rounds / 2] * 1e6,
	       failed);
	free(t);
	free(med);
	return mr_env_down(&env) || failed ? 2 : 0;
}
