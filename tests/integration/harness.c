#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUTER_BIN MR_BIN_DIR "/router/mailroom-router"
#define GATEWAY_BIN MR_BIN_DIR "/gateway/mailroom-gateway"
#define HANDLER_BIN MR_BIN_DIR "/workers/handler/mailroom-handler"
#define AUDIT_BIN MR_BIN_DIR "/workers/audit/mailroom-audit"
#define ADMIN_BIN MR_BIN_DIR "/workers/admin/mailroom-admin"
/* Sanitizer builds start slowly; a start that takes this long is broken. */
#define START_TIMEOUT_MS 20000
#define STOP_TIMEOUT_MS 15000

static int complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int complain(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "harness: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

int mr_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int mr_metric(const char *text, const char *name, double *value)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char *end;
		if (strncmp(p, name, n) != 0 || p[n] != ' ')
			continue;
		*value = strtod(p + n + 1, &end);
		return end == p + n + 1 ? -1 : 0;
	}
	return -1;
}

char *mr_scrape(int port, const char *path, long *status)
{
	char base[64];
	struct mr_http r;
	char *body;

	*status = 0;
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	if (mr_http(NULL, base, "GET", path, NULL, NULL, 0, 5000, &r) != 0)
		return NULL;
	*status = r.status;
	body = strdup(r.body ? r.body : "");
	mr_http_free(&r);
	return body;
}

double mr_scrape_metric(int port, const char *name)
{
	long status;
	char *text = mr_scrape(port, "/metrics", &status);
	double v = -1;

	if (!text || status != 200 || mr_metric(text, name, &v) != 0)
		v = -1;
	free(text);
	return v;
}

double mr_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void mr_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int mr_is_track(const char *s)
{
	if (!s || strlen(s) != 14)
		return 0;
	for (int i = 0; i < 14; i++) {
		if (i == 4 || i == 9) {
			if (s[i] != '-')
				return 0;
		} else if (s[i] < '0' || s[i] > '9') {
			return 0;
		}
	}
	return 1;
}

char *mr_read_text(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);

	if (fd < 0)
		return complain("cannot create %s: %s", path, strerror(errno));
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return complain("cannot write %s", path);
	}
	close(fd);
	return 0;
}

int mr_key_write(const char *path, uint8_t sk[64], uint8_t pk[32])
{
	uint8_t seed[32];
	char hex[65], line[70];

	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_bin2hex(hex, sizeof(hex), seed, sizeof(seed));
	snprintf(line, sizeof(line), "%s\n", hex);
	sodium_memzero(seed, sizeof(seed));
	return write_file(path, line, 0600);
}

/* ------------------------------------------------------ environment -- */

int mr_env_init(struct mr_env *e, const struct mr_opts *o)
{
	static const struct mr_opts none;
	const char *tmp = getenv("TMPDIR");
	char path[MR_PATH], hex[65];
	FILE *f;

	if (!o)
		o = &none;
	memset(e, 0, sizeof(*e));
	e->router.what = "router";
	e->gateway.what = "gateway";
	if (sodium_init() < 0)
		return complain("libsodium failed to initialise");
	/* ipc:// paths must fit a sockaddr_un, so keep the directory short. */
	if (!tmp || !*tmp || strlen(tmp) > 60)
		tmp = P_tmpdir;
	snprintf(e->dir, sizeof(e->dir), "%s/mr-it-XXXXXX", tmp);
	if (!mkdtemp(e->dir))
		return complain("mkdtemp %s: %s", e->dir, strerror(errno));
	snprintf(e->ini, sizeof(e->ini), "%s/mailroom.ini", e->dir);
	snprintf(e->store, sizeof(e->store), "%s/store", e->dir);
	snprintf(e->router_url, sizeof(e->router_url), "ipc://%s/router.ipc", e->dir);
	snprintf(path, sizeof(path), "%s/keys", e->dir);
	if (mkdir(path, 0700) != 0)
		return complain("mkdir %s: %s", path, strerror(errno));

	/* Written here rather than left to the router, so tests can seal
	 * gateway requests themselves. */
	randombytes_buf(e->gateway_secret, sizeof(e->gateway_secret));
	sodium_bin2hex(hex, sizeof(hex), e->gateway_secret, sizeof(e->gateway_secret));
	snprintf(path, sizeof(path), "%s/keys/gateway.secret", e->dir);
	char line[80];
	snprintf(line, sizeof(line), "%s\n", hex);
	if (write_file(path, line, 0600))
		return -1;

	/* The app secret file holds the HMAC key as hex, like every other
	 * secret file. */
	uint8_t raw[32];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(e->hotline_secret, sizeof(e->hotline_secret), raw, sizeof(raw));
	snprintf(path, sizeof(path), "%s/keys/hotline-%s.secret", e->dir, MR_HOTLINE_APP);
	snprintf(line, sizeof(line), "%s\n", e->hotline_secret);
	if (write_file(path, line, 0600))
		return -1;
	/* The petition system's app, its own secret. */
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(e->petition_secret, sizeof(e->petition_secret), raw, sizeof(raw));
	snprintf(path, sizeof(path), "%s/keys/petition-%s.secret", e->dir, MR_PETITION_APP);
	snprintf(line, sizeof(line), "%s\n", e->petition_secret);
	if (write_file(path, line, 0600))
		return -1;

	if (o->nhandlers > MR_MAX_HANDLERS)
		return complain("too many handlers");
	for (int i = 0; i < o->nhandlers; i++) {
		struct mr_handler *h = &e->handlers[i];
		snprintf(h->name, sizeof(h->name), "%s", o->handlers[i].name);
		snprintf(h->key_path, sizeof(h->key_path), "%s/%s.key", e->dir, o->handlers[i].name);
		if (mr_key_write(h->key_path, h->sk, h->pk))
			return -1;
	}
	e->nhandlers = o->nhandlers;
	snprintf(e->connector.name, sizeof(e->connector.name), "hotline");
	snprintf(e->connector.key_path, sizeof(e->connector.key_path), "%s/keys/hotline.key", e->dir);
	if (mr_key_write(e->connector.key_path, e->connector.sk, e->connector.pk))
		return -1;

	if (!(f = fopen(e->ini, "we")))
		return complain("cannot create %s", e->ini);
	fprintf(f, "[general]\nlog_level = %s\n\n", o->log_level ? o->log_level : "info");
	fprintf(f, "[store]\npath = %s\nmap_size_mb = %d\nkeys_dir = %s/keys\n"
	           "signing_key = %s/keys/store.key\ndata_key = %s/keys/data.key\n"
	           "log_origin = mailroom.test/log\n\n",
	        e->store, o->map_size_mb ? o->map_size_mb : 1024, e->dir, e->dir, e->dir);
	if (o->calendars)
		snprintf(e->calendars, sizeof(e->calendars), "%s", o->calendars);
	else
		snprintf(e->calendars, sizeof(e->calendars), "%s/deploy/calendars", MR_SOURCE_DIR);
	/* Set even when empty: the default, ./var/calendars, depends on where
	 * the test runs. */
	snprintf(e->local_calendars, sizeof(e->local_calendars), "%s",
	         o->local_calendars ? o->local_calendars : "");
	fprintf(f, "[router]\nlisten = %s\nevents = ipc://%s/events.ipc\n"
	           "gateway_secret = %s/keys/gateway.secret\ncalendars = %s\nlocal_calendars = %s\n",
	        e->router_url, e->dir, e->dir, e->calendars, e->local_calendars);
	if (o->lease_seconds)
		fprintf(f, "lease_seconds = %d\n", o->lease_seconds);
	if (o->set_commit_window)
		fprintf(f, "commit_window_us = %d\n", o->commit_window_us);
	fprintf(f, "\n[gateway]\nlisten_addr = 127.0.0.1\nport = 0\n");
	if (o->http_threads)
		fprintf(f, "threads = %d\n", o->http_threads);
	if (o->connection_timeout_s)
		fprintf(f, "connection_timeout_s = %d\n", o->connection_timeout_s);
	if (o->router_timeout_ms)
		fprintf(f, "router_timeout_ms = %d\n", o->router_timeout_ms);
	if (o->max_per_ip)
		fprintf(f, "max_per_ip = %d\n", o->max_per_ip);
	sodium_bin2hex(hex, sizeof(hex), e->connector.pk, 32);
	fprintf(f, "\n[hotline]\nskew_seconds = 300\nkey_file = %s\n\n[hotline.app.%s]\n"
	           "secret_file = %s/keys/hotline-%s.secret\n\n[connector.hotline]\nkey = %s\n\n",
	        e->connector.key_path, MR_HOTLINE_APP, e->dir, MR_HOTLINE_APP, hex);
	fprintf(f, "[petition.app.%s]\nsecret_file = %s/keys/petition-%s.secret\n\n",
	        MR_PETITION_APP, e->dir, MR_PETITION_APP);
	fprintf(f, "[queues]\nmailbox = general\nconsultation = general\ncomplaint = general\n"
	           "hotline = hotline\n\n");
	fprintf(f, "[route.streetlights]\nkeywords = 路灯, 照明\nqueue = roads\n\n"
	           "[route.complaints]\nchannel = complaint\nqueue = supervision\n\n");
	for (int i = 0; i < e->nhandlers; i++) {
		sodium_bin2hex(hex, sizeof(hex), e->handlers[i].pk, 32);
		fprintf(f, "[handler.%s]\nkey = %s\nqueues = %s\n\n", e->handlers[i].name, hex,
		        o->handlers[i].queues);
	}
	if (o->extra_ini)
		fprintf(f, "%s\n", o->extra_ini);
	if (fclose(f) != 0)
		return complain("cannot write %s", e->ini);
	return 0;
}

pid_t mr_spawn(const char *log, char *const argv[])
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t parent = getpid(), pid;

	if (fd < 0 || devnull < 0) {
		complain("cannot open %s: %s", log, strerror(errno));
		if (fd >= 0)
			close(fd);
		if (devnull >= 0)
			close(devnull);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		/* Only async-signal-safe calls until exec: the parent may have
		 * threads. A test that dies must not leave servers behind. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(devnull, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	close(devnull);
	if (pid < 0)
		complain("fork: %s", strerror(errno));
	return pid;
}

int mr_proc_alive(struct mr_proc *p)
{
	int st;

	if (p->pid <= 0)
		return 0;
	pid_t r = waitpid(p->pid, &st, WNOHANG);
	if (r == 0)
		return 1;
	if (r == p->pid) {
		p->status = st;
		p->pid = 0;
	}
	return 0;
}

/* Finds needle in the log, waiting for it; copies the rest of its line. */
static int wait_log(struct mr_proc *p, const char *needle, char *rest, size_t restlen,
                    int timeout_ms)
{
	double end = mono_s() + timeout_ms / 1000.0;

	for (;;) {
		char *text = mr_read_text(p->log, NULL);
		char *hit = text ? strstr(text, needle) : NULL;
		if (hit) {
			if (rest) {
				hit += strlen(needle);
				size_t n = strcspn(hit, "\r\n");
				if (n >= restlen)
					n = restlen - 1;
				memcpy(rest, hit, n);
				rest[n] = '\0';
			}
			free(text);
			return 0;
		}
		free(text);
		if (!mr_proc_alive(p))
			return complain("%s exited before logging '%s'", p->what, needle);
		if (mono_s() > end)
			return complain("%s did not log '%s' in %d ms", p->what, needle, timeout_ms);
		mr_sleep_ms(10);
	}
}

int mr_gateway_log_port(struct mr_env *e, const char *tag)
{
	char rest[128];

	if (wait_log(&e->gateway, tag, rest, sizeof(rest), START_TIMEOUT_MS))
		return -1;
	int port = atoi(rest);
	return port > 0 && port <= 65535 ? port : -1;
}

static int start_proc(struct mr_env *e, struct mr_proc *p, const char *bin)
{
	char *argv[] = {(char *)bin, "-c", e->ini, NULL};

	if (p->pid > 0)
		return complain("%s already running", p->what);
	p->starts++;
	snprintf(p->log, sizeof(p->log), "%s/%s-%d.log", e->dir, p->what, p->starts);
	p->pid = mr_spawn(p->log, argv);
	return p->pid > 0 ? 0 : -1;
}

int mr_router_start(struct mr_env *e)
{
	if (start_proc(e, &e->router, ROUTER_BIN))
		return -1;
	if (wait_log(&e->router, "listening on", NULL, 0, START_TIMEOUT_MS)) {
		mr_proc_dump(&e->router, 20);
		return -1;
	}
	return 0;
}

int mr_gateway_start(struct mr_env *e)
{
	char rest[128];
	struct mr_http r;
	double end;

	if (start_proc(e, &e->gateway, GATEWAY_BIN))
		return -1;
	if (wait_log(&e->gateway, "listening on http://", rest, sizeof(rest), START_TIMEOUT_MS)) {
		mr_proc_dump(&e->gateway, 20);
		return -1;
	}
	/* Taken once it listens: the gateway fixed its own start second (before
	 * which it refuses 12345 timestamps) no later than that. */
	e->gateway_start_s = (long)time(NULL);
	char *colon = strrchr(rest, ':');
	e->port = colon ? atoi(colon + 1) : 0;
	if (e->port <= 0 || e->port > 65535)
		return complain("no port in the gateway's line '%s'", rest);
	snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", e->port);
	end = mono_s() + START_TIMEOUT_MS / 1000.0;
	for (;;) {
		int rc = mr_http(NULL, e->base, "GET", "/healthz", NULL, NULL, 0, 2000, &r);
		long status = r.status;
		mr_http_free(&r);
		if (rc == 0 && status == 200)
			return 0;
		if (!mr_proc_alive(&e->gateway) || mono_s() > end) {
			mr_proc_dump(&e->gateway, 20);
			return complain("gateway /healthz never answered 200 (last %ld)", status);
		}
		mr_sleep_ms(20);
	}
}

int mr_env_up(struct mr_env *e)
{
	if (mr_router_start(e) || mr_gateway_start(e))
		return -1;
	return 0;
}

void mr_proc_dump(const struct mr_proc *p, int lines)
{
	size_t len;
	char *text = mr_read_text(p->log, &len);

	if (!text)
		return;
	const char *s = text + len;
	int n = 0;
	while (s > text && n <= lines)
		if (*--s == '\n')
			n++;
	fprintf(stderr, "---- %s (%s), last lines:\n%s\n----\n", p->what, p->log, s);
	free(text);
}

/* Sanitizer findings are problems even when the process exited 0. */
static int log_problems(const struct mr_proc *p)
{
	char *text = mr_read_text(p->log, NULL);
	int bad = 0;

	if (!text)
		return 0;
	bad = strstr(text, "Sanitizer") != NULL || strstr(text, "runtime error:") != NULL;
	if (bad)
		fprintf(stderr, "harness: %s log %s reports a sanitizer finding\n", p->what, p->log);
	free(text);
	return bad;
}

int mr_proc_stop(struct mr_env *e, struct mr_proc *p, int sig)
{
	double end;
	int st = 0;

	if (p->pid <= 0)
		return p->status;
	kill(p->pid, sig);
	end = mono_s() + STOP_TIMEOUT_MS / 1000.0;
	for (;;) {
		pid_t r = waitpid(p->pid, &st, WNOHANG);
		if (r == p->pid)
			break;
		if (r < 0) {
			st = 0;
			break;
		}
		if (mono_s() > end) {
			complain("%s did not stop on signal %d; killing it", p->what, sig);
			e->problems++;
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
			break;
		}
		mr_sleep_ms(5);
	}
	p->pid = 0;
	p->status = st;
	if (sig != SIGKILL && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		complain("%s stopped uncleanly on signal %d: %s %d", p->what, sig,
		         WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		mr_proc_dump(p, 30);
		e->problems++;
	}
	e->problems += log_problems(p);
	return st;
}

long mr_proc_status_kb(const struct mr_proc *p, const char *field)
{
	char path[64], *text, *hit;
	long kb = -1;

	if (p->pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)p->pid);
	if (!(text = mr_read_text(path, NULL)))
		return -1;
	if ((hit = strstr(text, field)))
		kb = strtol(hit + strlen(field), NULL, 10);
	free(text);
	return kb;
}

long mr_proc_hwm_kb(const struct mr_proc *p)
{
	return mr_proc_status_kb(p, "VmHWM:");
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int mr_env_down(struct mr_env *e)
{
	if (!e->dir[0])
		return e->problems;
	/* Gateway first: it must cope with its router vanishing, not the
	 * other way round. A process that already died is a problem too. */
	struct mr_proc *order[] = {&e->gateway, &e->router};
	for (int i = 0; i < 2; i++) {
		struct mr_proc *p = order[i];
		if (p->pid > 0 && !mr_proc_alive(p)) {
			complain("%s had died: %s %d", p->what, WIFEXITED(p->status) ? "exit" : "signal",
			         WIFEXITED(p->status) ? WEXITSTATUS(p->status) : WTERMSIG(p->status));
			mr_proc_dump(p, 30);
			e->problems++;
		}
		mr_proc_stop(e, p, SIGTERM);
	}
	if (getenv("MR_KEEP_TMP"))
		fprintf(stderr, "harness: keeping %s\n", e->dir);
	else
		nftw(e->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	e->dir[0] = '\0';
	return e->problems;
}

/* ------------------------------------------------------------- HTTP -- */

static size_t on_body(char *ptr, size_t size, size_t n, void *arg)
{
	struct mr_http *r = arg;
	size_t add = size * n;
	char *nb = realloc(r->body, r->len + add + 1);

	if (!nb)
		return 0;
	memcpy(nb + r->len, ptr, add);
	r->body = nb;
	r->len += add;
	r->body[r->len] = '\0';
	return add;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) != 0)
		return;
	line += k;
	n -= k;
	while (n && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, line, n);
	out[n] = '\0';
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	struct mr_http *r = arg;
	size_t len = size * n;

	header_value(line, len, "Location:", r->location, sizeof(r->location));
	header_value(line, len, "Retry-After:", r->retry_after, sizeof(r->retry_after));
	header_value(line, len, "Content-Type:", r->content_type, sizeof(r->content_type));
	return len;
}

int mr_http(CURL *h, const char *base, const char *method, const char *path,
            struct curl_slist *headers, const void *body, size_t len, long timeout_ms,
            struct mr_http *r)
{
	CURL *own = NULL;
	char url[1024];
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	if (!h) {
		own = h = curl_easy_init();
		if (!h)
			return complain("curl_easy_init failed");
	} else {
		curl_easy_reset(h);
	}
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 30000L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (headers)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		if (body) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		}
	}
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
		curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &r->total_s);
	}
	if (own)
		curl_easy_cleanup(own);
	return cc == CURLE_OK ? 0 : -1;
}

void mr_http_free(struct mr_http *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

json_t *mr_http_json(const struct mr_http *r)
{
	if (!r->body)
		return NULL;
	return json_loadb(r->body, r->len, 0, NULL);
}

int mr_post_message(CURL *h, const struct mr_env *e, const char *json, struct mr_http *r)
{
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	int rc = mr_http(h, e->base, "POST", "/v1/messages", hd, json, strlen(json), 30000, r);

	curl_slist_free_all(hd);
	return rc;
}

int mr_post_message_keyed(CURL *h, const struct mr_env *e, const char *key, const char *json,
                          struct mr_http *r)
{
	char hdr[128];
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	int rc;

	snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", key);
	hd = curl_slist_append(hd, hdr);
	rc = mr_http(h, e->base, "POST", "/v1/messages", hd, json, strlen(json), 60000, r);
	curl_slist_free_all(hd);
	return rc;
}

int mr_post_disclosure(CURL *h, const struct mr_env *e, const char *json, struct mr_http *r)
{
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	int rc = mr_http(h, e->base, "POST", "/v1/disclosure-applications", hd, json, strlen(json),
	                 30000, r);

	curl_slist_free_all(hd);
	return rc;
}

int mr_get_status(CURL *h, const struct mr_env *e, const char *code, const char *key,
                  struct mr_http *r)
{
	struct curl_slist *hd = NULL;
	char path[256], auth[512];
	int rc;

	snprintf(path, sizeof(path), "/v1/messages/%s", code);
	if (key) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
		hd = curl_slist_append(hd, auth);
	}
	rc = mr_http(h, e->base, "GET", path, hd, NULL, 0, 30000, r);
	curl_slist_free_all(hd);
	return rc;
}

/* ------------------------------------------------------------ 12345 -- */

static void rfc3339(time_t t, char *buf, size_t len)
{
	/* Asia/Shanghai has no DST: a fixed +08:00 offset is exact. */
	time_t local = t + 8 * 3600;
	struct tm tm;

	gmtime_r(&local, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

char *mr_order_json(const char *order_no, unsigned dispatch_seq, const char *title)
{
	time_t now = time(NULL);
	char acc[40], disp[40], sign[40], fin[40];
	json_t *j;
	char *s;

	rfc3339(now - 600, acc, sizeof(acc));
	rfc3339(now - 60, disp, sizeof(disp));
	rfc3339(now + 86400, sign, sizeof(sign));
	rfc3339(now + 5 * 86400, fin, sizeof(fin));
	j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
	              " s:{s:s, s:s, s:b}, s:[s], s:s, s:s, s:b}",
	              "order_no", order_no, "dispatch_seq", (int)dispatch_seq, "kind", "dispatch",
	              "accepted_at", acc, "dispatched_at", disp, "source", "phone", "category",
	              "help", "category_code", "0301", "urgency", "normal", "title",
	              title ? title : "小区门口路面塌陷", "content",
	              "市民来电反映：小区门口路面塌陷，存在安全隐患，请尽快处理。", "region",
	              "110105", "lead_unit", "市城管委", "citizen", "name", "李四", "phone",
	              "13900139000", "confidential", 0, "co_units", "区住建委", "sign_due_at",
	              sign, "finish_due_at", fin, "reply_required", 1);
	if (!j)
		return NULL;
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

void mr_hl_signature(const char *secret, const char *method, const char *path, const char *ts,
                     const char *nonce, const void *body, size_t len, char out[65])
{
	uint8_t digest[32], mac[32];
	char hex[65];
	crypto_auth_hmacsha256_state st;

	uint8_t key[128];
	size_t keylen = 0;

	/* The secret file and this argument hold the key as hex. */
	if (sodium_hex2bin(key, sizeof(key), secret, strlen(secret), NULL, &keylen, NULL) != 0)
		keylen = 0;
	crypto_hash_sha256(digest, body, len);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	crypto_auth_hmacsha256_init(&st, key, keylen);
	const char *parts[] = {method, "\n", path, "\n", ts, "\n", nonce, "\n", hex};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)parts[i], strlen(parts[i]));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(key, sizeof(key));
	sodium_bin2hex(out, 65, mac, sizeof(mac));
}

int mr_post_order(CURL *h, const struct mr_env *e, const char *json, struct mr_hl_sign *s,
                  struct mr_http *r)
{
	static const char path[] = "/v1/hotline/orders";
	struct curl_slist *hd = NULL;
	char ts[32], sig[65], line[256];
	uint8_t raw[16];
	size_t len = strlen(json);
	int rc;

	snprintf(ts, sizeof(ts), "%ld", s->timestamp ? s->timestamp : (long)time(NULL));
	if (s->nonce) {
		snprintf(s->used_nonce, sizeof(s->used_nonce), "%s", s->nonce);
	} else {
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2hex(s->used_nonce, sizeof(s->used_nonce), raw, sizeof(raw));
	}
	mr_hl_signature(s->secret ? s->secret : e->hotline_secret, "POST", path, ts, s->used_nonce,
	                json, len, sig);
	if (s->corrupt)
		sig[10] = sig[10] == '0' ? '1' : '0';
	hd = curl_slist_append(hd, "Content-Type: application/json");
	snprintf(line, sizeof(line), "X-App-Id: %s", s->app_id ? s->app_id : MR_HOTLINE_APP);
	hd = curl_slist_append(hd, line);
	snprintf(line, sizeof(line), "X-Timestamp: %s", ts);
	hd = curl_slist_append(hd, line);
	snprintf(line, sizeof(line), "X-Nonce: %s", s->used_nonce);
	hd = curl_slist_append(hd, line);
	snprintf(line, sizeof(line), "X-Signature: %s", sig);
	hd = curl_slist_append(hd, line);
	rc = mr_http(h, e->base, "POST", path, hd, json, len, 30000, r);
	curl_slist_free_all(hd);
	return rc;
}

void mr_wait_past_gateway_start(const struct mr_env *e)
{
	while ((long)time(NULL) <= e->gateway_start_s)
		mr_sleep_ms(50);
}

/* ---------------------------------------------------- command line -- */

int mr_run(struct mr_env *e, char *const argv[], char **out, char **err, int timeout_s)
{
	static unsigned seq;
	char opath[MR_PATH], epath[MR_PATH];
	int ofd, efd, st;
	double end;
	pid_t pid;

	if (out)
		*out = NULL;
	if (err)
		*err = NULL;
	seq++;
	snprintf(opath, sizeof(opath), "%s/cmd-%u.out", e->dir, seq);
	snprintf(epath, sizeof(epath), "%s/cmd-%u.err", e->dir, seq);
	ofd = open(opath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	efd = open(epath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (ofd < 0 || efd < 0) {
		if (ofd >= 0)
			close(ofd);
		if (efd >= 0)
			close(efd);
		return complain("cannot create %s", opath);
	}
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(ofd);
	close(efd);
	if (pid < 0)
		return complain("fork: %s", strerror(errno));
	end = mono_s() + timeout_s;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			break;
		if (mono_s() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			complain("%s did not finish in %d s", argv[0], timeout_s);
			return -1;
		}
		mr_sleep_ms(5);
	}
	if (out)
		*out = mr_read_text(opath, NULL);
	if (err)
		*err = mr_read_text(epath, NULL);
	if (!WIFEXITED(st)) {
		complain("%s died on signal %d", argv[0], WTERMSIG(st));
		return -1;
	}
	return WEXITSTATUS(st);
}

#define MAX_ARGS 32

static int run_va(struct mr_env *e, char **argv, int n, char **out, va_list ap)
{
	const char *a;
	char *err = NULL;
	int rc;

	while ((a = va_arg(ap, const char *)) != NULL && n < MAX_ARGS - 3)
		argv[n++] = (char *)a;
	argv[n] = NULL;
	rc = mr_run(e, argv, out, &err, e->audit_timeout_s > 0 ? e->audit_timeout_s : 120);
	/* Tools explain refusals on stderr; keep that visible in test output. */
	if (rc != 0 && err && *err)
		fprintf(stderr, "harness: %s %s: exit %d: %s", strrchr(argv[0], '/') + 1,
		        argv[n > 5 ? 5 : n - 1], rc, err);
	free(err);
	return rc;
}

int mr_handler_cmd(struct mr_env *e, const char *key_path, char **out, ...)
{
	char *argv[MAX_ARGS] = {HANDLER_BIN, "-c", e->ini, "--key", (char *)key_path};
	va_list ap;
	int rc;

	va_start(ap, out);
	rc = run_va(e, argv, 5, out, ap);
	va_end(ap);
	return rc;
}

int mr_admin_cmd(struct mr_env *e, const char *key_path, char **out, char **err, ...)
{
	char *argv[MAX_ARGS] = {ADMIN_BIN, "-c", e->ini, "--key", (char *)key_path};
	const char *a;
	int n = 5;
	va_list ap;

	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) != NULL && n < MAX_ARGS - 1)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	return mr_run(e, argv, out, err, 120);
}

int mr_audit_cmd(struct mr_env *e, char **out, ...)
{
	char *argv[MAX_ARGS] = {AUDIT_BIN};
	va_list ap;
	int n = 1, rc;
	const char *a;

	va_start(ap, out);
	int cals = 0;
	while ((a = va_arg(ap, const char *)) != NULL && n < MAX_ARGS - 7) {
		cals |= strcmp(a, "--calendars") == 0 || strcmp(a, "--no-deadlines") == 0;
		argv[n++] = (char *)a;
	}
	va_end(ap);
	argv[n++] = "--store";
	argv[n++] = e->store;
	/* verify checks deadlines on the calendars the router ran on. */
	if (n > 1 && strcmp(argv[1], "verify") == 0 && !cals) {
		argv[n++] = "--calendars";
		argv[n++] = e->calendars;
		if (*e->local_calendars) {
			argv[n++] = "--local-calendars";
			argv[n++] = e->local_calendars;
		}
	}
	argv[n] = NULL;
	char *err = NULL;
	rc = mr_run(e, argv, out, &err, 120);
	if (rc != 0 && err && *err)
		fprintf(stderr, "harness: mailroom-audit: exit %d: %s", rc, err);
	free(err);
	return rc;
}

/* ---- a witness ---- */

int mr_witness_start(struct mr_env *e, const char *dir, const char *name, const char *log,
                     char *vkey, size_t cap, pid_t *pid)
{
	static const char mark[] = "serving add-checkpoint on http://127.0.0.1:";
	char pub[MR_PATH + 16], pubkey[MR_PATH + 16], *text, *at;
	size_t len;
	double until;

	snprintf(pub, sizeof(pub), "%s/witness.pub", dir);
	snprintf(pubkey, sizeof(pubkey), "%s/keys/store.pub", e->dir);
	if (access(pub, R_OK) != 0) {
		char *argv[] = {AUDIT_BIN, "witness", "--state", (char *)dir, "--keygen",
		                "--witness-name", (char *)name, NULL};
		if (mr_run(e, argv, NULL, NULL, 30) != 0)
			return complain("witness --keygen in %s failed", dir);
	}
	if (!(text = mr_read_text(pub, &len)))
		return complain("cannot read %s", pub);
	while (len > 0 && text[len - 1] == '\n')
		len--;
	if (len >= cap) {
		free(text);
		return complain("%s: key line too long", pub);
	}
	memcpy(vkey, text, len);
	vkey[len] = '\0';
	free(text);
	char *argv[] = {AUDIT_BIN, "witness", "--state", (char *)dir, "--url", e->base, "--pubkey",
	                pubkey, "--serve", "127.0.0.1:0", NULL};
	if ((*pid = mr_spawn(log, argv)) <= 0)
		return -1;
	for (until = mr_now_s() + 20; mr_now_s() < until; mr_sleep_ms(50)) {
		int port = 0;
		if ((text = mr_read_text(log, NULL)) && (at = strstr(text, mark)))
			port = atoi(at + sizeof(mark) - 1);
		free(text);
		if (port > 0)
			return port;
	}
	return complain("the witness did not start (see %s)", log);
}

int mr_witness_attach(struct mr_env *e, const char *name, int port, const char *vkey,
                      int interval_ms)
{
	FILE *f = fopen(e->ini, "a");
	double until;

	if (!f)
		return complain("cannot append to %s", e->ini);
	fprintf(f, "\n[witness]\npush_interval_ms = %d\n[witness.%s]\nurl = http://127.0.0.1:%d\n"
	           "key = %s\n",
	        interval_ms, name, port, vkey);
	if (fclose(f) != 0)
		return complain("cannot write %s", e->ini);
	if (mr_proc_stop(e, &e->router, SIGTERM) != 0 || mr_router_start(e) != 0)
		return complain("the router did not restart with the witness");
	for (until = mr_now_s() + 20; mr_now_s() < until; mr_sleep_ms(50)) {
		struct mr_http r;
		int rc = mr_http(NULL, e->base, "GET", "/v1/log/checkpoint", NULL, NULL, 0, 2000, &r);
		long status = r.status;
		mr_http_free(&r);
		if (rc == 0 && status == 200)
			return 0;
	}
	return complain("the gateway does not reach the restarted router");
}
