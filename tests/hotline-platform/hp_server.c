/* The stand-in's HTTP face: authentication of every request, the pull
 * API, the events route, and the faults, all under one mutex. The server
 * runs a thread per connection, so a slow answer delays no other. */
#include "hp_int.h"

#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX (1 << 20)
#define PAGE_MAX 100

struct req {
	char *uri;        /* as sent: path and query, what the signature covers */
	char *body;
	size_t len;
	int too_big;
	int started;      /* the first call comes before any of the body */
};

struct reset_body {   /* HP_F_RESET: half a body, then the connection drops */
	char *data;
	size_t len, sent;
};

void hp_log(const struct hp *p, const char *fmt, ...)
{
	va_list ap;

	if (p->quiet)
		return;
	fprintf(stderr, "hotline-platform: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void hp_signature(const uint8_t *key, size_t keylen, const char *method, const char *path,
                  const char *ts, const char *nonce, const void *body, size_t len, char out[65])
{
	crypto_auth_hmacsha256_state st;
	uint8_t digest[32], mac[32];
	char hex[65];
	const char *parts[] = {method, "\n", path, "\n", ts, "\n", nonce, "\n", hex};

	crypto_hash_sha256(digest, body ? body : (const void *)"", len);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	crypto_auth_hmacsha256_init(&st, key, keylen);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)parts[i], strlen(parts[i]));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, 65, mac, sizeof(mac));
}

int hp_fault_take(struct hp *p, int fault)
{
	struct hp_fault_cfg *f = &p->faults[fault];

	if (f->burst > 0) {
		f->burst--;
	} else if (!(f->rate > 0 && hp_rand(p) < f->rate)) {
		return 0;
	}
	p->st.injected[fault]++;
	return 1;
}

static enum MHD_Result send_text(struct MHD_Connection *c, int status, char *text,
                                 const char *retry_after)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!text)
		text = strdup("{}");
	r = MHD_create_response_from_buffer(text ? strlen(text) : 0, text, MHD_RESPMEM_MUST_FREE);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (retry_after)
		MHD_add_response_header(r, "Retry-After", retry_after);
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *code,
                                  const char *message)
{
	json_t *j = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return send_text(c, status, s, NULL);
}

static ssize_t reset_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct reset_body *b = cls;
	size_t half = b->len / 2;

	(void)pos;
	if (b->sent >= half)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t n = half - b->sent < max ? half - b->sent : max;
	memcpy(buf, b->data + b->sent, n);
	b->sent += n;
	return (ssize_t)n;
}

static void reset_free(void *cls)
{
	struct reset_body *b = cls;

	free(b->data);
	free(b);
}

/* Announces the whole length, sends half, then drops the connection. */
static enum MHD_Result send_reset(struct MHD_Connection *c, int status, char *text)
{
	struct reset_body *b = calloc(1, sizeof(*b));
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!b || !text) {
		free(b);
		free(text);
		return MHD_NO;
	}
	b->data = text;
	b->len = strlen(text);
	r = MHD_create_response_from_callback(b->len, 1024, reset_reader, b, reset_free);
	if (!r) {
		reset_free(b);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Sleeps in small steps so a stopping server does not wait long. */
static void nap(struct hp *p, int ms)
{
	for (int i = 0; i < ms && !p->stopping; i += 10)
		usleep(10 * 1000);
}

static int nonce_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 16 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/* NULL when the request is the department's, else the 401 code. */
static const char *authenticate(struct hp *p, struct MHD_Connection *c, const char *method,
                                const struct req *q)
{
	const char *app = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-App-Id");
	const char *ts = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Timestamp");
	const char *nonce = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Nonce");
	const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Signature");
	char want[65];
	long long t;
	char *end;
	size_t seen;

	if (!app || strcmp(app, p->app_id) != 0) {
		p->st.auth_unknown_app++;
		return "unknown_app";
	}
	t = ts ? strtoll(ts, &end, 10) : 0;
	if (!ts || *end || llabs(t - (long long)time(NULL)) > p->skew_s) {
		p->st.auth_stale++;
		return "stale";
	}
	hp_signature(p->key, p->keylen, method, q->uri, ts, nonce ? nonce : "", q->body, q->len, want);
	if (!nonce_ok(nonce) || !sig || strlen(sig) != 64 || sodium_memcmp(want, sig, 64) != 0) {
		p->st.auth_bad_signature++;
		return "bad_signature";
	}
	if (hp_map_get(&p->nonces, nonce, &seen) == 0) {
		p->st.auth_replay++;
		return "replay";
	}
	hp_map_put(&p->nonces, nonce, (size_t)t);
	return NULL;
}

static char *cursor_text(const struct hp *p, size_t at)
{
	char *s = malloc(48);

	if (s)
		snprintf(s, 48, "c%s.%zx", p->cursor_salt, at);
	return s;
}

static int cursor_parse(const struct hp *p, const char *s, size_t *at)
{
	size_t n = strlen(p->cursor_salt);
	char *end;

	if (!s || !*s) {
		*at = 0;
		return 0;
	}
	if (s[0] != 'c' || strncmp(s + 1, p->cursor_salt, n) != 0 || s[1 + n] != '.')
		return -1;
	*at = (size_t)strtoull(s + 2 + n, &end, 16);
	return *end || *at > p->nfeed ? -1 : 0;
}

static enum MHD_Result get_orders(struct hp *p, struct MHD_Connection *c)
{
	const char *cur = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "cursor");
	const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	long limit = lim ? strtol(lim, NULL, 10) : 20;
	size_t at, n;
	json_t *orders, *doc;
	char *text, *next;

	if (limit < 1 || limit > PAGE_MAX)
		return send_error(c, 400, "invalid_limit", "limit: 1-100");
	if (cursor_parse(p, cur, &at))
		return send_error(c, 400, "invalid_cursor", "unknown cursor");
	p->st.pages++;
	orders = json_array();
	n = p->nfeed - at < (size_t)limit ? p->nfeed - at : (size_t)limit;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_loads(p->feed[at + i].json, JSON_DECODE_ANY, NULL);
		json_array_append_new(orders, o ? o : json_null());
	}
	/* The same order on two consecutive pages. */
	size_t next_at = at + n;
	if (n > 1 && hp_fault_take(p, HP_F_DUP_PAGE))
		next_at--;
	next = cursor_text(p, next_at);
	doc = json_pack("{s:o, s:s, s:b}", "orders", orders, "next_cursor", next ? next : "",
	                "has_more", next_at < p->nfeed);
	free(next);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (hp_fault_take(p, HP_F_RESET))
		return send_reset(c, 200, text);
	return send_text(c, 200, text, NULL);
}

/* /api/v1/orders/{order_no}/events, the order number checked. */
static int events_path(const char *url, char *no, size_t len)
{
	static const char pre[] = "/api/v1/orders/", post[] = "/events";
	size_t n;

	if (strncmp(url, pre, sizeof(pre) - 1) != 0)
		return -1;
	url += sizeof(pre) - 1;
	n = strcspn(url, "/");
	if (n == 0 || n >= len || strcmp(url + n, post) != 0)
		return -1;
	memcpy(no, url, n);
	no[n] = '\0';
	return 0;
}

static enum MHD_Result post_event(struct hp *p, struct MHD_Connection *c, const char *no,
                                  const struct req *q)
{
	char *out = NULL;
	int status, slow, reset;

	p->st.events++;
	status = hp_event_apply(p, no, q->body ? q->body : "", q->len, &out);
	/* Applied first: the retry must be recognised as a duplicate. */
	slow = status == 200 && hp_fault_take(p, HP_F_SLOW);
	reset = !slow && status == 200 && hp_fault_take(p, HP_F_RESET);
	if (slow) {
		pthread_mutex_unlock(&p->mu);
		nap(p, p->slow_ms);
		pthread_mutex_lock(&p->mu);
	}
	if (reset)
		return send_reset(c, status, out);
	return send_text(c, status, out, NULL);
}

static enum MHD_Result get_file(struct hp *p, struct MHD_Connection *c, const char *name)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	for (size_t i = 0; i < p->nfiles; i++) {
		struct hp_file *f = &p->files[i];
		if (strcmp(f->name, name) != 0)
			continue;
		if (f->fail > 0) {
			f->fail--;
			return send_error(c, 503, "unavailable", "try again later");
		}
		r = MHD_create_response_from_buffer(f->len, f->data, MHD_RESPMEM_MUST_COPY);
		if (!r)
			return MHD_NO;
		MHD_add_response_header(r, "Content-Type", "application/octet-stream");
		f->gets++;
		ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	return send_error(c, 404, "not_found", "no such file");
}

int hp_file_put(struct hp *p, const char *name, const void *data, size_t len, char **json)
{
	uint8_t sha[32];
	char hex[65], url[160];
	struct hp_file *f;
	int rc = -1;

	if (!name || !*name || strlen(name) >= sizeof(f->name) ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
	        strlen(name))
		return -1;
	crypto_hash_sha256(sha, data, len);
	sodium_bin2hex(hex, sizeof(hex), sha, sizeof(sha));
	snprintf(url, sizeof(url), "%s/files/%s", p->url, name);
	pthread_mutex_lock(&p->mu);
	if (p->nfiles < HP_FILES_MAX && (!len || (f = &p->files[p->nfiles], f->data = malloc(len)))) {
		f = &p->files[p->nfiles++];
		snprintf(f->name, sizeof(f->name), "%s", name);
		if (len)
			memcpy(f->data, data, len);
		f->len = len;
		f->gets = 0;
		rc = 0;
	}
	pthread_mutex_unlock(&p->mu);
	if (rc == 0 && json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "name", name, "url", url, "sha256", hex,
		                      "size", (json_int_t)len);
		*json = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (!*json)
			rc = -1;
	}
	return rc;
}

void hp_file_fail(struct hp *p, const char *name, int n)
{
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->nfiles; i++)
		if (strcmp(p->files[i].name, name) == 0)
			p->files[i].fail = n;
	pthread_mutex_unlock(&p->mu);
}

unsigned long hp_file_gets(struct hp *p, const char *name)
{
	unsigned long n = 0;

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->nfiles; i++)
		if (strcmp(p->files[i].name, name) == 0)
			n = p->files[i].gets;
	pthread_mutex_unlock(&p->mu);
	return n;
}

static enum MHD_Result route(struct hp *p, struct MHD_Connection *c, const char *url,
                             const char *method, struct req *q)
{
	char no[64];
	const char *why;

	if (q->too_big)
		return send_error(c, 413, "too_big", "body over 1 MiB");
	if ((why = authenticate(p, c, method, q)))
		return send_error(c, 401, why, "authentication failed");
	if (hp_fault_take(p, HP_F_5XX)) {
		static const int codes[] = {500, 502, 503};
		return send_error(c, codes[p->status_turn++ % 3], "unavailable", "try again later");
	}
	if (hp_fault_take(p, HP_F_429)) {
		json_t *j = json_pack("{s:{s:s, s:s}}", "error", "code", "rate_limited", "message", "slow down");
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		return send_text(c, 429, s, "1");
	}
	if (strcmp(method, "GET") == 0 && strcmp(url, "/api/v1/orders") == 0)
		return get_orders(p, c);
	if (strcmp(method, "GET") == 0 && strncmp(url, "/files/", 7) == 0)
		return get_file(p, c, url + 7);
	if (strcmp(method, "POST") == 0 && events_path(url, no, sizeof(no)) == 0)
		return post_event(p, c, no, q);
	return send_error(c, 404, "not_found", "no such route");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **ctx)
{
	struct hp *p = cls;
	struct req *q = *ctx;
	enum MHD_Result ret;

	(void)version;
	if (!q)
		return MHD_NO;
	if (!q->started) {
		q->started = 1;
		return MHD_YES;
	}
	if (*size) {
		if (q->len + *size > BODY_MAX) {
			q->too_big = 1;
		} else {
			char *nb = realloc(q->body, q->len + *size + 1);
			if (!nb)
				return MHD_NO;
			memcpy(nb + q->len, data, *size);
			q->body = nb;
			q->len += *size;
			q->body[q->len] = '\0';
		}
		*size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&p->mu);
	ret = route(p, c, url, method, q);
	pthread_mutex_unlock(&p->mu);
	return ret;
}

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *q = calloc(1, sizeof(*q));

	(void)cls;
	(void)c;
	if (q && !(q->uri = strdup(uri ? uri : ""))) {
		free(q);
		q = NULL;
	}
	return q;
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode toe)
{
	struct req *q = *ctx;

	(void)cls;
	(void)c;
	(void)toe;
	if (q) {
		free(q->uri);
		free(q->body);
		free(q);
	}
	*ctx = NULL;
}

int hp_start(const struct hp_opts *o, struct hp **out)
{
	struct hp *p = calloc(1, sizeof(*p));
	uint8_t salt[4];
	size_t keylen = 0;

	*out = NULL;
	if (!p || sodium_init() < 0 || !o->app_id || !o->secret_hex ||
	    sodium_hex2bin(p->key, sizeof(p->key), o->secret_hex, strlen(o->secret_hex), NULL,
	                   &keylen, NULL) != 0 || keylen == 0) {
		free(p);
		return -1;
	}
	p->keylen = keylen;
	snprintf(p->app_id, sizeof(p->app_id), "%s", o->app_id);
	p->skew_s = o->skew_s ? o->skew_s : 300;
	p->slow_ms = o->slow_ms ? o->slow_ms : 3000;
	p->quiet = o->quiet;
	p->rnd = o->seed ? o->seed : (unsigned)time(NULL);
	randombytes_buf(salt, sizeof(salt));
	sodium_bin2hex(p->cursor_salt, sizeof(p->cursor_salt), salt, sizeof(salt));
	pthread_mutex_init(&p->mu, NULL);
	p->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
	                          NULL, NULL, on_request, p,
	                          MHD_OPTION_URI_LOG_CALLBACK, uri_cb, p,
	                          MHD_OPTION_NOTIFY_COMPLETED, completed_cb, p,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	                          MHD_OPTION_END);
	if (!p->mhd) {
		pthread_mutex_destroy(&p->mu);
		free(p);
		return -1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(p->mhd, MHD_DAEMON_INFO_BIND_PORT);
	p->port = info ? info->port : 0;
	snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", p->port);
	*out = p;
	return 0;
}

int hp_port(const struct hp *p)
{
	return p->port;
}

const char *hp_url(const struct hp *p)
{
	return p->url;
}

void hp_stop(struct hp *p)
{
	if (!p)
		return;
	p->stopping = 1;
	MHD_stop_daemon(p->mhd);
	for (size_t i = 0; i < p->nfeed; i++)
		free(p->feed[i].json);
	free(p->feed);
	free(p->orders);
	free(p->disp);
	free(p->events);
	hp_map_free(&p->order_ix);
	hp_map_free(&p->event_ix);
	hp_map_free(&p->nonces);
	for (size_t i = 0; i < p->nfiles; i++)
		free(p->files[i].data);
	pthread_mutex_destroy(&p->mu);
	sodium_memzero(p->key, sizeof(p->key));
	free(p);
}

void hp_fault_burst(struct hp *p, int fault, int count)
{
	pthread_mutex_lock(&p->mu);
	if (fault >= 0 && fault < HP_F_COUNT)
		p->faults[fault].burst = count;
	pthread_mutex_unlock(&p->mu);
}

void hp_fault_rate(struct hp *p, int fault, double rate)
{
	pthread_mutex_lock(&p->mu);
	if (fault >= 0 && fault < HP_F_COUNT)
		p->faults[fault].rate = rate;
	pthread_mutex_unlock(&p->mu);
}

void hp_faults_off(struct hp *p)
{
	pthread_mutex_lock(&p->mu);
	memset(p->faults, 0, sizeof(p->faults));
	pthread_mutex_unlock(&p->mu);
}

void hp_stats(struct hp *p, struct hp_stats *s)
{
	pthread_mutex_lock(&p->mu);
	*s = p->st;
	pthread_mutex_unlock(&p->mu);
}
