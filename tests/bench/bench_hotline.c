/* bench-hotline: the 12345 connector's throughput against the stand-in
 * platform, without faults.
 *
 *   bench-hotline [-n ORDERS] [--page LIMIT] [--batch N] [--keep]
 *
 *  1. pull: N orders wait on the platform; mailroom-hotline starts and
 *     the clock runs until the router's stored cursor is at the end of
 *     the feed (every order committed): orders/second ingested.
 *  2. deliver: with the connector stopped, a handler signs every order
 *     (N sign events in the outbox); the connector starts and the clock
 *     runs until the outbox is empty: events/second delivered.
 *  --metrics turns on the connector's /metrics and scrapes it every 20 ms
 *  throughout (a scraper far keener than Prometheus), to show what a
 *  scrape costs the work; it prints the scrapes' median time. */
#include "hl.h"
#include "hl_it.h"
#include "pb_err.h"
#include "wk.h"

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct mr_env env;
static struct hl_it hl;
static struct pb_conf conf;

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const struct mr_handler_spec handlers[] = {{"bench", "hotline"}};

/* The router's view: cursor and outbox counts, straight over nng. */
static int status(struct cn_router *r, char *cursor, size_t len, uint64_t *pending)
{
	return hl_router_status(r, cursor, len, pending, NULL);
}

static int at_end(const char *cursor, size_t n)
{
	char want[24];
	const char *dot = strrchr(cursor, '.');

	snprintf(want, sizeof(want), ".%zx", n);
	return dot && strcmp(dot, want) == 0;
}

/* Pulls and signs every order, as one handler, in process. */
static int sign_all(size_t n)
{
	struct wk_client c;
	size_t done = 0;

	if (wk_client_open(&c, env.router_url))
		return -1;
	while (done < n) {
		Mailroom__Request req = MAILROOM__REQUEST__INIT;
		Mailroom__PullReq p = MAILROOM__PULL_REQ__INIT;
		Mailroom__HotlineReq h = MAILROOM__HOTLINE_REQ__INIT;
		Mailroom__Response *r = NULL;
		uint8_t id[16], tok[16];

		p.queue = "hotline";
		req.op_case = MAILROOM__REQUEST__OP_PULL;
		req.pull = &p;
		if (wk_client_call(&c, env.handlers[0].sk, &req, 10000, &r) || r->code || !r->pull ||
		    !r->pull->message) {
			if (r)
				mailroom__response__free_unpacked(r, NULL);
			break;
		}
		memcpy(id, r->pull->message->id.data, 16);
		memcpy(tok, r->pull->lease->token.data, 16);
		mailroom__response__free_unpacked(r, NULL);
		mailroom__request__init(&req);
		h.id.data = id;
		h.id.len = 16;
		h.lease_token.data = tok;
		h.lease_token.len = 16;
		h.action = MAILROOM__HOTLINE_ACTION__HOTLINE_SIGN;
		req.op_case = MAILROOM__REQUEST__OP_HOTLINE;
		req.hotline = &h;
		if (wk_client_call(&c, env.handlers[0].sk, &req, 10000, &r) || r->code) {
			if (r)
				mailroom__response__free_unpacked(r, NULL);
			break;
		}
		mailroom__response__free_unpacked(r, NULL);
		done++;
	}
	wk_client_close(&c);
	return done == n ? 0 : -1;
}

/* ---- --metrics: a scraper thread ---- */
#define SCRAPES_MAX 100000
static atomic_int scraping;
static int scrape_port;
static double scrape_ms[SCRAPES_MAX];
static size_t nscrapes;

static void *scraper(void *arg)
{
	(void)arg;
	while (atomic_load(&scraping)) {
		long status;
		double t = mono();
		char *text = mr_scrape(scrape_port, "/metrics", &status);
		if (text && status == 200 && nscrapes < SCRAPES_MAX)
			scrape_ms[nscrapes++] = (mono() - t) * 1000.0;
		free(text);
		mr_sleep_ms(20);
	}
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"page", required_argument, NULL, 'p'},
	                                     {"batch", required_argument, NULL, 'b'},
	                                     {"keep", no_argument, NULL, 'k'},
	                                     {"metrics", no_argument, NULL, 'm'},
	                                     {NULL, 0, NULL, 0}};
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	int n = 2000, page = 100, batch = 500, metrics = 0, ch;
	char extra[256], cursor[1100], err[600];
	pthread_t scr;
	struct cn_router r;
	uint64_t pending = 1;
	double t0, t_pull, t_deliver;

	while ((ch = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		if (ch == 'n')
			n = atoi(optarg);
		else if (ch == 'p')
			page = atoi(optarg);
		else if (ch == 'b')
			batch = atoi(optarg);
		else if (ch == 'k')
			setenv("MR_KEEP_TMP", "1", 1);
		else if (ch == 'm')
			metrics = 1;
		else
			return fprintf(stderr, "usage: bench-hotline [-n ORDERS] [--page LIMIT] [--batch N] "
			                       "[--keep] [--metrics]\n"), 1;
	}
	if (n < 1 || page < 1 || page > 100 || batch < 1 || batch > 1000)
		return fprintf(stderr, "bench-hotline: bad numbers\n"), 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	scrape_port = metrics ? mr_free_port() : 0;
	snprintf(extra, sizeof(extra),
	         "page_limit = %d\ndeliver_batch = %d\npoll_interval_ms = 20\n%s%d\n", page, batch,
	         metrics ? "metrics_addr = 127.0.0.1\nmetrics_port = " : "# ", scrape_port);
	if (mr_env_init(&env, &o) || hl_it_init(&env, &hl, 1, extra)) {
		fprintf(stderr, "bench-hotline: cannot prepare\n");
		return 1;
	}
	if (mr_env_up(&env)) {
		mr_env_down(&env);
		return 1;
	}
	if (pb_conf_load(env.ini, &conf, err, sizeof(err)) || hl_router_open(&r, &conf)) {
		fprintf(stderr, "bench-hotline: %s\n", err);
		return 1;
	}
	if (hp_feed_random(hl.platform, n, 0)) {
		fprintf(stderr, "bench-hotline: cannot fill the feed\n");
		return 1;
	}

	atomic_store(&scraping, metrics);
	if (metrics && pthread_create(&scr, NULL, scraper, NULL) != 0)
		return 1;
	t0 = mono();
	if (hl_it_start(&env, &hl))
		return 1;
	for (;;) {
		if (status(&r, cursor, sizeof(cursor), NULL) == PB_OK && at_end(cursor, (size_t)n))
			break;
		mr_sleep_ms(5);
		if (mono() - t0 > 600) {
			fprintf(stderr, "bench-hotline: ingest did not finish\n");
			return 1;
		}
	}
	t_pull = mono() - t0;
	hl_it_stop(&env, &hl, SIGTERM);
	struct hp_stats st;
	hp_stats(hl.platform, &st);
	unsigned long pages = st.pages;

	if (sign_all((size_t)n)) {
		fprintf(stderr, "bench-hotline: could not sign every order\n");
		return 1;
	}
	t0 = mono();
	if (hl_it_start(&env, &hl))
		return 1;
	while (status(&r, cursor, sizeof(cursor), &pending) != PB_OK || pending > 0) {
		mr_sleep_ms(5);
		if (mono() - t0 > 600) {
			fprintf(stderr, "bench-hotline: delivery did not finish\n");
			return 1;
		}
	}
	t_deliver = mono() - t0;
	if (metrics) {
		atomic_store(&scraping, 0);
		pthread_join(scr, NULL);
	}
	hp_stats(hl.platform, &st);
	printf("pull:    %d orders in %.2f s = %.0f orders/s (pages of %d, %lu pages)\n", n, t_pull,
	       n / t_pull, page, pages);
	printf("deliver: %d events in %.2f s = %.0f events/s (%lu accepted, %lu repeats)\n", n,
	       t_deliver, n / t_deliver, st.accepted, st.duplicates);
	if (metrics && nscrapes) {
		qsort(scrape_ms, nscrapes, sizeof(scrape_ms[0]), by_value);
		printf("metrics: %zu scrapes of /metrics, median %.2f ms, max %.2f ms\n", nscrapes,
		       scrape_ms[nscrapes / 2], scrape_ms[nscrapes - 1]);
	}
	cn_router_close(&r);
	hl_it_fini(&env, &hl);
	mr_env_down(&env);
	curl_global_cleanup();
	return 0;
}
