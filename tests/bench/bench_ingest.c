/* bench-ingest: accepted citizen messages per second through the whole
 * path (HTTP, gateway, router, durable group commit) with N concurrent
 * keep-alive clients, and the latency each saw.
 *
 *   bench-ingest [-c CLIENTS] [-t SECONDS] [-w WARMUP] [--url BASE]
 *                [--threads N] [--keep] [--ini TEXT] [--witness MS]
 *                [--prefill N] [--prefill-batch K] [--citizens N]
 *
 * --ini appends TEXT to the servers' config, to try a setting:
 *   --ini $'[gateway]\nrouter_lanes = 2'
 * --witness MS starts a `mailroom-audit witness --serve` beside them and
 * has the router push to it every MS milliseconds (router/README.md,
 * "Witnesses"), to see what witnessing costs the intake; it then prints
 * how many checkpoints the witness cosigned over the run.
 *
 * Without --url it starts its own router and gateway in a temporary
 * directory (the integration harness) and reports their peak RSS and the
 * CPU time (user + system) each spent over the measured window, per
 * accepted message: on a shared machine that is a steadier guide than the
 * rate. The clients' own CPU time is reported the same way, and so are the
 * router's group commits over the window (from /metrics). The clients
 * are event-driven (one thread, epoll, HTTP/1.1 written and read by
 * hand), each a keep-alive connection with one request in flight. With
 * the commits it prints the write requests and kilobytes the store's
 * block device completed per commit (the whole device's: run it on a
 * quiet machine).
 *
 * --prefill N fills the new store with N messages before the servers
 * start, through the router's own code (bench_prefill.c: a checkpoint
 * every K messages, default 32, about the batch a loaded router
 * commits), then waits for the router to go idle (it builds its search
 * index from the store at start) before the load. At the end (without
 * --url) it prints the store's size on disk per message: the data file,
 * its allocated blocks and the LMDB pages in use, over every message
 * stored.
 *
 * --after N numbers the load's messages after N, as --prefill N does:
 * with --url against a kept prefilled store, so that --citizens gives
 * them citizens the prefill did not.
 *
 * --citizens N writes each message from one of N citizens (a mobile
 * number from the message's number, modulo N; the prefill too), so that
 * about one message in N/messages comes from a citizen who wrote before.
 * Without it every message comes from one citizen, with the same text:
 * each is then compared with that citizen's 50 latest and flagged as a
 * repeat (one more record), the costliest intake there is, and the
 * figures before this option were measured so. */
#include "bench_prefill.h"
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct client {
	int id;
	uint32_t *lat_us;          /* latencies of requests inside the window */
	size_t nlat, cap;
	long accepted, errors, transport;
	long by_status[6];         /* 0xx(transport) 1xx.. 5xx, outside 201 */
};

static struct {
	const struct mr_env *env;
	const char *base;
	double start, measure_from, end;
	unsigned long long citizens;   /* 0: one citizen writes every message */
	unsigned long long prefilled;  /* the load's messages are numbered after these */
} B;

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) in a /proc stat file, -1 if unknown; the
 * name field (in parentheses) is copied to comm when asked. */
static double stat_cpu_s(const char *path, char *comm, size_t commlen)
{
	char buf[1024];
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The name may hold spaces and parentheses: fields follow the last ')'. */
	char *p = strrchr(buf, ')'), *open = strchr(buf, '(');
	if (!p || !open || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
	                          &st) != 2)
		return -1;
	if (comm) {
		size_t k = (size_t)(p - open - 1);
		if (k >= commlen)
			k = commlen - 1;
		memcpy(comm, open + 1, k);
		comm[k] = '\0';
	}
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double proc_cpu_s(pid_t pid)
{
	char path[64];

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return stat_cpu_s(path, NULL, 0);
}

/* CPU seconds by thread name (threads of one name summed), so a change
 * can be seen in the thread it was made for. Threads that ended during
 * the run are not counted. */
#define THREADS_MAX 12
struct thread_cpu {
	int n;
	char name[THREADS_MAX][20];
	double s[THREADS_MAX];
};

static void threads_cpu(pid_t pid, struct thread_cpu *t)
{
	char path[64];
	struct dirent *e;
	DIR *d;

	t->n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (pid <= 0 || !(d = opendir(path)))
		return;
	while ((e = readdir(d))) {
		char stat[300], comm[20];
		double s;
		int i;
		if (e->d_name[0] == '.')
			continue;
		snprintf(stat, sizeof(stat), "/proc/%d/task/%.200s/stat", (int)pid, e->d_name);
		if ((s = stat_cpu_s(stat, comm, sizeof(comm))) < 0)
			continue;
		for (i = 0; i < t->n && strcmp(t->name[i], comm) != 0; i++)
			;
		if (i == t->n) {
			if (t->n == THREADS_MAX)
				continue;
			memcpy(t->name[t->n], comm, sizeof(comm));
			t->s[t->n++] = 0;
		}
		t->s[i] += s;
	}
	closedir(d);
}

static void print_threads(const char *what, const struct thread_cpu *a, const struct thread_cpu *b,
                          double per)
{
	printf("cpu us/msg by %s thread", what);
	for (int i = 0; i < b->n; i++) {
		double before = 0;
		for (int j = 0; j < a->n; j++)
			if (strcmp(a->name[j], b->name[i]) == 0)
				before = a->s[j];
		if ((b->s[i] - before) * per >= 1)   /* idle threads say nothing */
			printf("  %s %.0f", b->name[i], (b->s[i] - before) * per);
	}
	printf("\n");
}

static double self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* CPU used by router, gateway and the clients, and the router's group
 * commits so far, sampled at one instant. */
struct cpu_mark {
	double router, gateway, clients;
	double commits, commit_s;   /* -1 when /metrics did not say */
	double disk_ios, disk_kb;   /* writes completed on the store's device; -1: unknown */
	struct thread_cpu rthreads, gthreads;
};

struct text {
	char buf[1 << 16];
	size_t len;
};

static size_t keep_text(char *p, size_t size, size_t n, void *arg)
{
	struct text *t = arg;
	size_t k = size * n;

	if (k > sizeof(t->buf) - 1 - t->len)
		k = sizeof(t->buf) - 1 - t->len;
	memcpy(t->buf + t->len, p, k);
	t->len += k;
	t->buf[t->len] = '\0';
	return size * n;
}

static double metric(const char *page, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = page; (p = strstr(p, name)); p += n)
		if ((p == page || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* The commit count and time from the gateway's /metrics. */
static void commit_mark(struct cpu_mark *m)
{
	static struct text t;
	char url[512];
	CURL *h = curl_easy_init();

	m->commits = m->commit_s = -1;
	if (!h)
		return;
	t.len = 0;
	t.buf[0] = '\0';
	snprintf(url, sizeof(url), "%s/metrics", B.base);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_text);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	if (curl_easy_perform(h) == CURLE_OK) {
		m->commits = metric(t.buf, "mailroom_commit_latency_seconds_count");
		m->commit_s = metric(t.buf, "mailroom_commit_latency_seconds_sum");
	}
	curl_easy_cleanup(h);
}

/* Writes completed on the block device holding the store, from
 * /sys/dev/block/MAJ:MIN/stat (fields 5 and 7): the whole device's, so a
 * quiet machine is assumed. Unknown (tmpfs, no sysfs) gives -1. */
static void disk_mark(struct cpu_mark *m)
{
	struct stat st;
	char path[128];
	unsigned long long f[7];
	FILE *fp;

	m->disk_ios = m->disk_kb = -1;
	if (!B.env || stat(B.env->dir, &st) != 0)
		return;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/stat", major(st.st_dev), minor(st.st_dev));
	if (!(fp = fopen(path, "r")))
		return;
	if (fscanf(fp, "%llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3], &f[4], &f[5],
	           &f[6]) == 7) {
		m->disk_ios = (double)f[4];
		m->disk_kb = (double)f[6] / 2;
	}
	fclose(fp);
}

static void cpu_mark(struct cpu_mark *m)
{
	disk_mark(m);
	m->router = B.env ? proc_cpu_s(B.env->router.pid) : -1;
	m->gateway = B.env ? proc_cpu_s(B.env->gateway.pid) : -1;
	threads_cpu(B.env ? B.env->router.pid : 0, &m->rthreads);
	threads_cpu(B.env ? B.env->gateway.pid : 0, &m->gthreads);
	m->clients = self_cpu_s();
	commit_mark(m);
}

static void sleep_until(double t)
{
	double left;

	while ((left = t - mono()) > 0) {
		struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
		nanosleep(&ts, NULL);
	}
}

struct marks {
	struct cpu_mark start, end;
};

static void *take_marks(void *arg)
{
	struct marks *mk = arg;

	sleep_until(B.measure_from);
	cpu_mark(&mk->start);
	sleep_until(B.end);
	cpu_mark(&mk->end);
	return NULL;
}

static void keep_latency(struct client *c, double s)
{
	if (c->nlat == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16384;
		uint32_t *p = realloc(c->lat_us, cap * sizeof(*p));
		if (!p)
			return;
		c->lat_us = p;
		c->cap = cap;
	}
	c->lat_us[c->nlat++] = (uint32_t)(s * 1e6);
}

/* The clients: one thread drives every connection with epoll, each a
 * keep-alive HTTP/1.1 connection with one request in flight. The
 * requests are plain bytes and the answers are read just far enough to
 * know the status and where the body ends: in production the clients are
 * elsewhere, and here every cycle the load generator spends is taken from
 * the servers it measures. */
#define CONN_IN 16384

struct conn {
	struct client *c;
	int fd;
	double t0;
	long n;
	char out[1024];
	size_t outlen, outoff;
	char in[CONN_IN];
	size_t inlen;
	int busy;                  /* a request is out */
};

static struct {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char host[256];
	int ep;
} N;

/* "http://HOST:PORT[/...]" into N. */
static int resolve(const char *base)
{
	char host[256], port[16] = "80";
	struct addrinfo hints = {0}, *ai;
	const char *p = base, *e;

	if (strncmp(p, "http://", 7) != 0)
		return -1;
	p += 7;
	e = p + strcspn(p, ":/");
	if ((size_t)(e - p) >= sizeof(host))
		return -1;
	memcpy(host, p, (size_t)(e - p));
	host[e - p] = '\0';
	if (*e == ':')
		snprintf(port, sizeof(port), "%.*s", (int)strcspn(e + 1, "/"), e + 1);
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	memcpy(&N.addr, ai->ai_addr, ai->ai_addrlen);
	N.addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	snprintf(N.host, sizeof(N.host), "%.*s", (int)(strcspn(p, "/")), p);
	return 0;
}

static int conn_open(struct conn *k)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = k};
	int one = 1;

	k->fd = socket(N.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (k->fd < 0)
		return -1;
	setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(k->fd, (struct sockaddr *)&N.addr, N.addrlen) != 0 ||
	    epoll_ctl(N.ep, EPOLL_CTL_ADD, k->fd, &ev) != 0) {
		close(k->fd);
		k->fd = -1;
		return -1;
	}
	return 0;
}

static void conn_close(struct conn *k)
{
	if (k->fd >= 0) {
		epoll_ctl(N.ep, EPOLL_CTL_DEL, k->fd, NULL);
		close(k->fd);
	}
	k->fd = -1;
}

/* Writes what is left of the request; 0 when all of it is out. */
static int conn_write(struct conn *k)
{
	while (k->outoff < k->outlen) {
		ssize_t w = send(k->fd, k->out + k->outoff, k->outlen - k->outoff, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = k};
			epoll_ctl(N.ep, EPOLL_CTL_MOD, k->fd, &ev);
			return 1;
		}
		if (w <= 0)
			return -1;
		k->outoff += (size_t)w;
	}
	return 0;
}

/* The sender's mobile number: one for all, or one of B.citizens. */
static unsigned long long phone_of(unsigned long long n)
{
	return 13700137000ULL + (B.citizens ? (B.prefilled + n) % B.citizens : 0);
}

static int start_request(struct conn *k)
{
	static unsigned long long sent;
	char body[512];
	int blen;

	if (k->fd < 0 && conn_open(k) != 0)
		return -1;
	blen = snprintf(body, sizeof(body),
	                "{\"channel\":\"mailbox\",\"subject\":\"关于小区停车难的建议 %d-%ld\","
	                "\"body\":\"您好，我们小区车位严重不足，晚上很多车只能停在消防通道上，"
	                "存在安全隐患。建议协调周边单位夜间开放停车场。\","
	                "\"contact\":{\"name\":\"王五\",\"phone\":\"%llu\"}}",
	                k->c->id, k->n++, phone_of(sent++));
	k->outlen = (size_t)snprintf(k->out, sizeof(k->out),
	                             "POST /v1/messages HTTP/1.1\r\nHost: %s\r\n"
	                             "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
	                             N.host, blen, body);
	k->outoff = 0;
	k->inlen = 0;
	k->t0 = mono();
	k->busy = 1;
	return conn_write(k) < 0 ? -1 : 0;
}

static void count(struct conn *k, int status)
{
	struct client *c = k->c;
	double t1 = mono();

	k->busy = 0;
	/* Only requests wholly inside the window count. */
	if (k->t0 < B.measure_from || t1 > B.end)
		return;
	if (status == 201) {
		c->accepted++;
		keep_latency(c, t1 - k->t0);
	} else {
		c->errors++;
		int cls = status / 100;
		c->by_status[cls >= 0 && cls < 6 ? cls : 0]++;
	}
}

/* A whole answer in k->in? Its status, and whether the server keeps the
 * connection; 0 while more is to come, -1 when it cannot be read. */
static int parse_answer(struct conn *k, int *status, int *keep)
{
	char *end, *p;
	long clen = -1;

	k->in[k->inlen] = '\0';
	if (!(end = strstr(k->in, "\r\n\r\n")))
		return k->inlen >= CONN_IN - 1 ? -1 : 0;
	if (sscanf(k->in, "HTTP/1.%*d %d", status) != 1)
		return -1;
	*keep = 1;
	for (p = strstr(k->in, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, "Content-Length:", 15) == 0)
			clen = strtol(p + 17, NULL, 10);
		else if (strncasecmp(p + 2, "Connection: close", 17) == 0)
			*keep = 0;
	}
	if (clen < 0 || (size_t)(end + 4 - k->in) + (size_t)clen >= CONN_IN)
		return -1;
	return k->inlen >= (size_t)(end + 4 - k->in) + (size_t)clen ? 1 : 0;
}

/* Readable: reads, and when the answer is whole counts it and sends the
 * next request. */
static void conn_ready(struct conn *k, uint32_t events)
{
	int status = 0, keep = 0, r = 0;

	if (events & EPOLLOUT) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = k};
		if (conn_write(k) < 0)
			goto broken;
		if (k->outoff == k->outlen)
			epoll_ctl(N.ep, EPOLL_CTL_MOD, k->fd, &ev);
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	ssize_t got = recv(k->fd, k->in + k->inlen, CONN_IN - 1 - k->inlen, 0);
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (got <= 0)
		goto broken;
	k->inlen += (size_t)got;
	if ((r = parse_answer(k, &status, &keep)) == 0)
		return;
	if (r < 0)
		goto broken;
	count(k, status);
	if (!keep)
		conn_close(k);
	if (mono() < B.end && start_request(k) != 0)
		goto broken;
	return;
broken:
	count(k, 0);
	conn_close(k);
	if (mono() < B.end)
		start_request(k);
}

static int run_clients(struct client *cs, int n)
{
	struct conn *ks = calloc((size_t)n, sizeof(*ks));
	struct epoll_event evs[256];
	int rc = 0;

	if (!ks || resolve(B.base) != 0 || (N.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		fprintf(stderr, "bench-ingest: cannot reach %s\n", B.base);
		free(ks);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		ks[i].c = &cs[i];
		ks[i].fd = -1;
		if (start_request(&ks[i]) != 0) {
			fprintf(stderr, "bench-ingest: cannot connect to %s\n", B.base);
			rc = -1;
			break;
		}
	}
	/* After the window no request starts; what is in flight drains so
	 * the servers end idle. */
	while (!rc) {
		int busy = 0;
		for (int i = 0; i < n; i++)
			busy += ks[i].busy;
		if (mono() >= B.end + 30 || (mono() >= B.end && !busy))
			break;
		int m = epoll_wait(N.ep, evs, 256, 100);
		for (int i = 0; i < m; i++)
			conn_ready(evs[i].data.ptr, evs[i].events);
	}
	for (int i = 0; i < n; i++)
		conn_close(&ks[i]);
	close(N.ep);
	free(ks);
	return rc;
}

/* After a prefill the router builds its search index from the store in
 * the background (about a minute of a core per million messages): the
 * load starts once it has used under 5% of a core for two seconds. */
static int wait_idle(pid_t router)
{
	double last = proc_cpu_s(router), t0 = mono();
	int quiet = 0;

	while (quiet < 2 && mono() - t0 < 1800) {
		sleep(1);
		double now = proc_cpu_s(router);
		if (now < 0)
			return -1;
		quiet = now - last < 0.05 ? quiet + 1 : 0;
		last = now;
	}
	fprintf(stderr, "bench-ingest: router idle after %.0f s\n", mono() - t0);
	return 0;
}

/* The store's bytes per message, read while the router still runs. */
static int disk_report(const char *ini)
{
	struct bench_disk d;

	if (bench_disk_use(ini, &d) || !d.messages)
		return -1;
	printf("store: %llu messages, %llu records  data.mdb %.1f MB (%.1f MB allocated)  "
	       "LMDB pages in use %.1f MB\n",
	       (unsigned long long)d.messages, (unsigned long long)d.records, d.file_bytes / 1e6,
	       d.alloc_bytes / 1e6, d.pages_bytes / 1e6);
	printf("bytes/message: file %.0f  allocated %.0f  pages in use %.0f\n",
	       (double)d.file_bytes / (double)d.messages, (double)d.alloc_bytes / (double)d.messages,
	       (double)d.pages_bytes / (double)d.messages);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench-ingest [-c CLIENTS] [-t SECONDS] [-w WARMUP_SECONDS] [--url BASE]\n"
	           "                    [--threads GATEWAY_THREADS] [--keep] [--ini TEXT]\n"
	           "                    [--witness PUSH_INTERVAL_MS]\n"
	           "                    [--prefill MESSAGES] [--prefill-batch PER_CHECKPOINT]\n"
	           "                    [--citizens N] [--after MESSAGES]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"clients", required_argument, NULL, 'c'},
		{"time", required_argument, NULL, 't'},
		{"warmup", required_argument, NULL, 'w'},
		{"url", required_argument, NULL, 'u'},
		{"threads", required_argument, NULL, 'T'},
		{"keep", no_argument, NULL, 'k'},
		{"ini", required_argument, NULL, 'i'},
		{"witness", required_argument, NULL, 'W'},
		{"prefill", required_argument, NULL, 'P'},
		{"prefill-batch", required_argument, NULL, 'B'},
		{"citizens", required_argument, NULL, 'C'},
		{"after", required_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int clients = 64, threads = 0, keep = 0, witness_ms = 0, ch;
	pid_t witness = 0;
	char wlog[MR_PATH + 16] = "";
	double secs = 10, warm = 1;
	unsigned long long prefill = 0;
	long per_cp = 32;
	const char *url = NULL, *ini = NULL;
	static struct mr_env env;

	while ((ch = getopt_long(argc, argv, "c:t:w:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': clients = atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'w': warm = atof(optarg); break;
		case 'u': url = optarg; break;
		case 'T': threads = atoi(optarg); break;
		case 'k': keep = 1; break;
		case 'i': ini = optarg; break;
		case 'W': witness_ms = atoi(optarg); break;
		case 'P': prefill = B.prefilled = strtoull(optarg, NULL, 10); break;
		case 'B': per_cp = atol(optarg); break;
		case 'C': B.citizens = strtoull(optarg, NULL, 10); break;
		case 'A': B.prefilled = strtoull(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (clients < 1 || clients > 4096 || secs <= 0 || warm < 0 || per_cp < 1 ||
	    (prefill && url)) {
		usage(stderr);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!url) {
		struct mr_opts o = {
			.http_threads = threads,
			.max_per_ip = clients + 16,
			.extra_ini = ini,
			/* About 4 KiB of map per message: room to spare. */
			.map_size_mb = prefill ? (int)(1024 + prefill / 256) : 0,
		};
		if (keep)
			setenv("MR_KEEP_TMP", "1", 1);
		if (mr_env_init(&env, &o) ||
		    (prefill && bench_prefill(env.ini, prefill, (unsigned)per_cp, B.citizens)) || mr_env_up(&env) ||
		    (prefill && wait_idle(env.router.pid))) {
			fprintf(stderr, "bench-ingest: cannot start router and gateway\n");
			mr_env_down(&env);
			return 1;
		}
		url = env.base;
		B.env = &env;
		if (witness_ms > 0) {
			char dir[MR_PATH + 16], vkey[256];
			int port;
			snprintf(dir, sizeof(dir), "%s/witness", env.dir);
			snprintf(wlog, sizeof(wlog), "%s/witness.log", env.dir);
			if ((port = mr_witness_start(&env, dir, "bench.example/witness", wlog, vkey,
			                             sizeof(vkey), &witness)) <= 0 ||
			    mr_witness_attach(&env, "bench", port, vkey, witness_ms)) {
				fprintf(stderr, "bench-ingest: cannot start the witness\n");
				mr_env_down(&env);
				return 1;
			}
		}
	} else if (witness_ms > 0) {
		fprintf(stderr, "bench-ingest: --witness starts its own service; not with --url\n");
		return 1;
	}
	B.base = url;

	struct client *cs = calloc((size_t)clients, sizeof(*cs));
	if (!cs)
		return 1;
	B.start = mono();
	B.measure_from = B.start + warm;
	B.end = B.measure_from + secs;
	for (int i = 0; i < clients; i++)
		cs[i].id = i;
	/* The window's CPU marks are taken by a helper thread, so the client
	 * loop never pauses for them. */
	pthread_t marker;
	struct marks mk;
	if (pthread_create(&marker, NULL, take_marks, &mk) != 0) {
		fprintf(stderr, "bench-ingest: cannot start the CPU sampler\n");
		return 1;
	}
	int crc = run_clients(cs, clients);
	pthread_join(marker, NULL);
	if (crc)
		return 1;
	struct cpu_mark c0 = mk.start, c1 = mk.end;

	long router_kb = -1, gateway_kb = -1, router_anon_kb = -1;
	if (env.dir[0]) {
		router_kb = mr_proc_hwm_kb(&env.router);
		gateway_kb = mr_proc_hwm_kb(&env.gateway);
		/* The resident size counts the store's mapped pages the router has
		 * read (the page cache, shared and reclaimed under pressure);
		 * its own memory is the anonymous part. */
		router_anon_kb = mr_proc_status_kb(&env.router, "RssAnon:");
	}

	size_t n = 0;
	long accepted = 0, errors = 0, by[6] = {0};
	for (int i = 0; i < clients; i++) {
		n += cs[i].nlat;
		accepted += cs[i].accepted;
		errors += cs[i].errors;
		for (int k = 0; k < 6; k++)
			by[k] += cs[i].by_status[k];
	}
	uint32_t *all = malloc((n ? n : 1) * sizeof(*all));
	size_t at = 0;
	for (int i = 0; i < clients; i++) {
		if (cs[i].nlat)
			memcpy(all + at, cs[i].lat_us, cs[i].nlat * sizeof(*all));
		at += cs[i].nlat;
		free(cs[i].lat_us);
	}
	qsort(all, n, sizeof(*all), cmp_u32);
	double p50 = n ? all[n / 2] / 1000.0 : 0, p99 = n ? all[(n * 99) / 100] / 1000.0 : 0;
	double max = n ? all[n - 1] / 1000.0 : 0;

	printf("clients %d  seconds %.1f  warmup %.1f  url %s\n", clients, secs, warm, url);
	printf("accepted/s %.0f  p50 %.1f ms  p99 %.1f ms  max %.1f ms  errors %ld", accepted / secs,
	       p50, p99, max, errors);
	if (router_kb >= 0)
		printf("  router_rss %ld MB (anon %ld MB)  gateway_rss %ld MB", (router_kb + 512) / 1024,
		       (router_anon_kb + 512) / 1024, (gateway_kb + 512) / 1024);
	printf("\n");
	if (accepted > 0) {
		/* Approximate at the edges: requests straddling the window are
		 * not counted while their CPU time is. */
		double per = 1e6 / (double)accepted;
		printf("cpu us/msg");
		if (c0.router >= 0 && c1.router >= 0 && c0.gateway >= 0 && c1.gateway >= 0)
			printf("  router %.0f  gateway %.0f  server %.0f",
			       (c1.router - c0.router) * per, (c1.gateway - c0.gateway) * per,
			       (c1.router - c0.router + c1.gateway - c0.gateway) * per);
		printf("  clients %.0f\n", (c1.clients - c0.clients) * per);
		if (c1.rthreads.n)
			print_threads("router", &c0.rthreads, &c1.rthreads, per);
		if (c1.gthreads.n)
			print_threads("gateway", &c0.gthreads, &c1.gthreads, per);
	}
	if (c0.commits >= 0 && c1.commits > c0.commits) {
		double nc = c1.commits - c0.commits;
		printf("commits/s %.0f  msgs/commit %.1f  commit ms mean %.2f", nc / secs,
		       (double)accepted / nc, (c1.commit_s - c0.commit_s) * 1000 / nc);
		if (c0.disk_ios >= 0 && c1.disk_ios >= c0.disk_ios)
			printf("  disk writes/commit %.1f  KB/commit %.0f", (c1.disk_ios - c0.disk_ios) / nc,
			       (c1.disk_kb - c0.disk_kb) / nc);
		printf("\n");
	}
	if (errors)
		printf("errors by class: transport %ld  1xx %ld  2xx %ld  3xx %ld  4xx %ld  5xx %ld\n",
		       by[0], by[1], by[2], by[3], by[4], by[5]);
	if (witness > 0) {
		char *text = mr_read_text(wlog, NULL), *p = text;
		long n = 0;
		while (p && (p = strstr(p, "add-checkpoint size"))) {
			n++;
			p++;
		}
		free(text);
		printf("witness: push every %d ms, %ld checkpoints cosigned\n", witness_ms, n);
		kill(witness, SIGTERM);
		waitpid(witness, NULL, 0);
	}
	int problems = env.dir[0] && disk_report(env.ini) ? 1 : 0;
	fflush(stdout);
	free(all);
	free(cs);
	if (env.dir[0])
		problems += mr_env_down(&env);
	curl_global_cleanup();
	return problems ? 2 : 0;
}
