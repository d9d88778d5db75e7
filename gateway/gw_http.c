/* The HTTP side: libmicrohttpd with an epoll thread pool, the request
 * phases, the checks that need no body, and gw_start/gw_stop.
 *
 * One struct gw_req lives per request, from the URI callback (which also
 * keeps the raw request target the 12345 signature covers) to MHD's
 * completion callback. The access handler moves it through phases:
 *   NEW   first call, headers only: early refusals (404, 405, 415, 413, 401)
 *   BODY  upload calls: the body is gathered, counted past the limit; then
 *         the route's work (gw_routes.c)
 *   WAIT  suspended while the router works; its callback resumes us
 *   DONE  a response is queued */
#include "gw.h"
#include "gw_web.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"
#include "pj.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* Per connection: headers beyond it get 431. MHD zeroes the whole pool
 * between two requests of a connection, so its size is paid per request;
 * 16 KiB is twice the longest header line the nginx in front passes
 * (8 KiB, deploy/nginx). The first line's check looks that far too. */
#define CONN_MEMORY GW_LINE_MAX

/* ---------------------------------------------------------- answers -- */

/* Is origin one of [gateway] cors_origins (comma- or space-separated,
 * compared exactly)? None are by default. */
int gw_cors_allowed(const char *list, const char *origin)
{
	size_t n = origin ? strlen(origin) : 0;

	if (n == 0)
		return 0;
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ", ");
		if (len == n && strncmp(p, origin, n) == 0)
			return 1;
		p += len;
		p += strspn(p, ", ");
	}
	return 0;
}

/* The API (/v1/) answers a configured origin; the pages never do. */
static void cors_headers(struct gw_req *r, struct MHD_Response *resp)
{
	const char *origin;

	if (strncmp(r->uri, "/v1/", 4) != 0)
		return;
	origin = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Origin");
	MHD_add_response_header(resp, "Vary", "Origin");
	if (!gw_cors_allowed(r->g->conf.cors_origins, origin))
		return;
	MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
	MHD_add_response_header(resp, "Access-Control-Expose-Headers", "Location, Retry-After");
	if (strcmp(r->method, "OPTIONS") == 0) {
		MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, HEAD, POST");
		MHD_add_response_header(resp, "Access-Control-Allow-Headers",
		                        "Content-Type, Authorization, Idempotency-Key");
		MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
	}
}

enum MHD_Result gw_send_body(struct gw_req *r, unsigned status, char *text, size_t len,
                             const char *type, const struct gw_hdr *extra, size_t nextra)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	int cached = 0;
	for (size_t i = 0; i < nextra; i++) {
		MHD_add_response_header(resp, extra[i].name, extra[i].value);
		cached |= strcasecmp(extra[i].name, MHD_HTTP_HEADER_CACHE_CONTROL) == 0;
	}
	if (!cached)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	cors_headers(r, resp);
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	gw_metrics_count(&r->g->metrics, r->route, status);
	r->status = status;
	r->phase = GW_PH_DONE;
	return ret;
}

/* Takes text (malloc'd, or NULL when it could not be made). */
static enum MHD_Result send_json_text(struct gw_req *r, unsigned status, char *text, size_t len,
                                      const struct gw_hdr *extra, size_t nextra)
{
	static const struct gw_hdr retry = {MHD_HTTP_HEADER_RETRY_AFTER, "1"};

	if (!text) {
		/* Out of memory: a fixed answer, the smallest allocation left. */
		static const char oom[] =
			"{\"error\":{\"code\":\"unavailable\",\"message\":\"out of memory\"}}";
		text = strdup(oom);
		if (!text)
			return MHD_NO;
		return gw_send_body(r, MHD_HTTP_SERVICE_UNAVAILABLE, text, strlen(text),
		                    "application/json; charset=utf-8", &retry, 1);
	}
	return gw_send_body(r, status, text, len, "application/json; charset=utf-8", extra, nextra);
}

/* Takes doc. */
enum MHD_Result gw_send_json(struct gw_req *r, unsigned status, json_t *doc,
                             const struct gw_hdr *extra, size_t nextra)
{
	size_t len = 0;
	char *text = pj_dumps(doc, &len);

	json_decref(doc);
	return send_json_text(r, status, text, len, extra, nextra);
}

enum MHD_Result gw_send_out(struct gw_req *r, unsigned status, struct pj_out *o,
                            const struct gw_hdr *extra, size_t nextra)
{
	size_t len = 0;
	char *text = pj_out_end(o, &len);

	return send_json_text(r, status, text, len, extra, nextra);
}

enum MHD_Result gw_send_error_h(struct gw_req *r, unsigned status, const char *code,
                                const char *message, const struct gw_hdr *extra, size_t nextra)
{
	json_t *doc = pj_error_json(code, message);

	if (!doc)   /* a message that is not UTF-8 */
		doc = pj_error_json(code, pb_err_str(PB_EINVAL));
	return gw_send_json(r, status, doc, extra, nextra);
}

enum MHD_Result gw_send_error(struct gw_req *r, unsigned status, const char *code,
                              const char *message)
{
	return gw_send_error_h(r, status, code, message, NULL, 0);
}

enum MHD_Result gw_unavailable(struct gw_req *r, const char *message)
{
	static const struct gw_hdr retry = {MHD_HTTP_HEADER_RETRY_AFTER, "1"};

	return gw_send_error_h(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", message, &retry, 1);
}

/* ---------------------------------------------------------- routing -- */

static const struct {
	const char *path;
	int prefix;          /* 1: path + one more segment; 2: path + anything */
	int route;
	const char *allow;
} routes[] = {
	{"/v1/messages", 0, GW_R_MESSAGES, "POST"},
	{"/v1/disclosure-applications", 0, GW_R_DISCLOSURE, "POST"},
	{GW_MESSAGES_PREFIX, 1, GW_R_MESSAGE, "GET, HEAD"},
	{"/v1/hotline/orders", 0, GW_R_HOTLINE, "POST"},
	{"/v1/petition/transfers", 0, GW_R_PETITION, "POST"},
	{"/v1/uploads", 0, GW_R_UPLOAD, "POST"},
	{"/healthz", 0, GW_R_HEALTHZ, "GET, HEAD"},
	{"/metrics", 0, GW_R_METRICS, "GET, HEAD"},
	{"/v1/log/checkpoint", 0, GW_R_LOG, "GET, HEAD"},
	{"/v1/log/proof/inclusion", 0, GW_R_LOG, "GET, HEAD"},
	{"/v1/log/proof/consistency", 0, GW_R_LOG, "GET, HEAD"},
	{"/v1/log/entries", 0, GW_R_LOG, "GET, HEAD"},
	{"/checkpoint", 0, GW_R_LOG, "GET, HEAD"},   /* C2SP tlog-tiles */
	{"/tile/", 2, GW_R_LOG, "GET, HEAD"},
	{"/", 0, GW_R_PAGE, "GET, HEAD"},
	{"/mailbox", 0, GW_R_PAGE, "GET, HEAD, POST"},
	{"/consultation", 0, GW_R_PAGE, "GET, HEAD, POST"},
	{"/complaint", 0, GW_R_PAGE, "GET, HEAD, POST"},
	{"/disclosure", 0, GW_R_PAGE, "GET, HEAD, POST"},
	{"/track", 0, GW_R_PAGE, "GET, HEAD, POST"},
	{"/display", 0, GW_R_PAGE, "GET, HEAD"},
	{"/answers", 0, GW_R_PAGE, "GET, HEAD"},
	{"/answers/", 1, GW_R_PAGE, "GET, HEAD"},
	{"/stats", 0, GW_R_PAGE, "GET, HEAD"},
	{"/static/", 1, GW_R_PAGE, "GET, HEAD"},
};

/* GW_MESSAGES_PREFIX "{code}" RATING_TAIL */
#define RATING_TAIL "/rating"

static int is_rating(const char *url)
{
	size_t np = strlen(GW_MESSAGES_PREFIX);
	const char *slash;

	if (strncmp(url, GW_MESSAGES_PREFIX, np) != 0)
		return 0;
	slash = strchr(url + np, '/');
	return slash && slash > url + np && strcmp(slash, RATING_TAIL) == 0;
}

static int route_of(const char *url, const char **allow)
{
	if (is_rating(url)) {
		*allow = "POST";
		return GW_R_RATING;
	}
	if (gw_is_reply_file(url, NULL, 0, NULL)) {
		*allow = "GET, HEAD";
		return GW_R_REPLY_FILE;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		size_t n = strlen(routes[i].path);
		int hit;
		if (routes[i].prefix == 2)
			hit = strncmp(url, routes[i].path, n) == 0 && url[n];
		else if (routes[i].prefix)
			hit = strncmp(url, routes[i].path, n) == 0 && url[n] && !strchr(url + n, '/');
		else
			hit = strcmp(url, routes[i].path) == 0;
		if (hit) {
			*allow = routes[i].allow;
			return routes[i].route;
		}
	}
	*allow = "";
	return GW_R_OTHER;
}

/* method is one of the comma-separated allow list. */
static int method_allowed(const char *allow, const char *method)
{
	size_t n = strlen(method);

	for (const char *p = allow; (p = strstr(p, method)) != NULL; p += n)
		if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

static void skip_ws(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* application/json, optionally with charset=utf-8 and nothing else. */
static int is_json_type(const char *ct)
{
	const char *p = ct;

	if (!p)
		return 0;
	skip_ws(&p);
	if (strncasecmp(p, "application/json", 16) != 0)
		return 0;
	p += 16;
	skip_ws(&p);
	if (*p == '\0')
		return 1;
	if (*p++ != ';')
		return 0;
	skip_ws(&p);
	if (strncasecmp(p, "charset", 7) != 0)
		return 0;
	p += 7;
	skip_ws(&p);
	if (*p++ != '=')
		return 0;
	skip_ws(&p);
	int quoted = *p == '"';
	p += quoted;
	if (strncasecmp(p, "utf-8", 5) != 0)
		return 0;
	p += 5;
	if (quoted && *p++ != '"')
		return 0;
	skip_ws(&p);
	return *p == '\0';
}

/* The media types an upload may declare; parameters are ignored. */
static int is_upload_type(const char *ct)
{
	static const char *const ok[] = {"image/jpeg", "image/png", "application/pdf",
	                                 "application/octet-stream"};
	const char *p = ct;

	if (!p)
		return 0;
	skip_ws(&p);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		size_t n = strlen(ok[i]);
		if (strncasecmp(p, ok[i], n) == 0 && (p[n] == '\0' || p[n] == ';' || p[n] == ' '))
			return 1;
	}
	return 0;
}

/* An upload may be a file, and a web form with files one file more than
 * it may carry (so one too many is answered on the form, next to its
 * field); every other body is a small document. */
static size_t body_limit(const struct gw_req *r)
{
	const struct pb_conf *c = &r->g->conf;

	if (r->route == GW_R_UPLOAD)
		return c->attach_max_bytes;
	if (r->route == GW_R_PAGE &&
	    gw_is_multipart(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	                                                MHD_HTTP_HEADER_CONTENT_TYPE)))
		return c->http_body_max + ((size_t)c->attach_max_files + 1) * c->attach_max_bytes;
	return c->http_body_max;
}

int gw_limited(struct gw_req *r, int lookup)
{
	struct gw_limit *l = lookup ? r->g->lookup_limit : r->g->submit_limit;
	int first, wait = gw_limit_take(l, (const struct sockaddr *)&r->client, pb_now_ms(), &first);

	/* No address in the log: the count is what operators need. */
	if (first)
		pb_warn("rate limit: a client went over %d %s a minute", lookup ?
		        r->g->conf.lookup_per_minute : r->g->conf.submit_per_minute,
		        lookup ? "status lookups" : "submissions");
	return wait;
}

/* ----------------------------------------------------------- framing -- */

/* What the headers say about the body's length, and where it came from. */
struct framing {
	int ncl, nte, bad_cl, bad_te;
	const char *xff;
};

/* 1 to 18 digits: no sign, no blanks, no value that could overflow. */
static int length_ok(const char *v)
{
	size_t n = strspn(v, "0123456789");

	return n > 0 && n <= 18 && v[n] == '\0';
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	struct framing *f = cls;

	(void)kind;
	if (!key)
		return MHD_YES;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		f->ncl++;
		f->bad_cl |= !value || !length_ok(value);
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->nte++;
		f->bad_te |= !value || strcasecmp(value, "chunked") != 0;
	} else if (strcasecmp(key, "X-Forwarded-For") == 0) {
		f->xff = value;   /* the last one: a proxy of ours appends */
	}
	return MHD_YES;
}

/* Smuggling needs two readings of one message's length: refuse any
 * message that allows two, and close the connection, since what follows
 * on it cannot be framed with confidence. */
static const char *framing_error(const struct framing *f, const char **message)
{
	if (f->ncl > 1) {
		*message = "more than one Content-Length";
		return "duplicate_content_length";
	}
	if (f->ncl && f->nte) {
		*message = "both Content-Length and Transfer-Encoding";
		return "ambiguous_length";
	}
	if (f->bad_cl) {
		*message = "Content-Length is not a decimal length";
		return "invalid_content_length";
	}
	if (f->nte > 1 || f->bad_te) {
		*message = "only one Transfer-Encoding: chunked is understood";
		return "unsupported_transfer_encoding";
	}
	return NULL;
}

/* First call: everything that can be refused before reading a body. */
static enum MHD_Result begin(struct gw_req *r, const char *url, const char *method,
                             const char *version)
{
	const char *allow, *why, *message;
	struct gw *g = r->g;
	struct framing f = {0};
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, scan_header, &f);
	if (gw_client_addr(gw_conns_proxies(g->conns), ci ? ci->client_addr : NULL, f.xff,
	                   &r->client) != 0)
		pb_warn("a trusted proxy sent a malformed X-Forwarded-For");
	static const struct gw_hdr close_hdr = {MHD_HTTP_HEADER_CONNECTION, "close"};
	if ((why = framing_error(&f, &message)) != NULL)
		return gw_send_error_h(r, MHD_HTTP_BAD_REQUEST, why, message, &close_hdr, 1);
	/* MHD takes HTTP/1.2 and up as 1.1; the first request of a connection
	 * was already checked (gw_conn.c), a later one is checked here. */
	if (!gw_version_served(version))
		return gw_send_error_h(r, MHD_HTTP_BAD_REQUEST, "unsupported_http_version",
		                       GW_VERSION_MESSAGE, &close_hdr, 1);
	r->route = route_of(url, &allow);
	snprintf(r->method, sizeof(r->method), "%s", method);
	if (r->route == GW_R_OTHER)
		return gw_send_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such resource");
	/* A CORS preflight: the headers say whether the origin may call. */
	if (strcmp(method, "OPTIONS") == 0 && strncmp(url, "/v1/", 4) == 0) {
		char *empty = strdup("");
		struct gw_hdr h = {MHD_HTTP_HEADER_ALLOW, allow};
		if (!empty)
			return MHD_NO;
		return gw_send_body(r, MHD_HTTP_NO_CONTENT, empty, 0, "text/plain", &h, 1);
	}
	if (!method_allowed(allow, method)) {
		struct gw_hdr h = {MHD_HTTP_HEADER_ALLOW, allow};
		return gw_send_error_h(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
		                       "method not allowed here", &h, 1);
	}
	if (r->route == GW_R_MESSAGES || r->route == GW_R_DISCLOSURE || r->route == GW_R_MESSAGE ||
	    r->route == GW_R_RATING || r->route == GW_R_UPLOAD || r->route == GW_R_REPLY_FILE) {
		int wait = gw_limited(r, r->route == GW_R_MESSAGE || r->route == GW_R_RATING ||
		                             r->route == GW_R_REPLY_FILE);
		if (wait) {
			char secs[16];
			snprintf(secs, sizeof(secs), "%d", wait);
			struct gw_hdr h = {MHD_HTTP_HEADER_RETRY_AFTER, secs};
			return gw_send_error_h(r, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited",
			                       "too many requests from this address; try again later", &h, 1);
		}
	}
	int page_post = r->route == GW_R_PAGE && strcmp(method, "POST") == 0;
	if (r->route != GW_R_MESSAGES && r->route != GW_R_HOTLINE && r->route != GW_R_DISCLOSURE &&
	    r->route != GW_R_PETITION && r->route != GW_R_RATING && r->route != GW_R_UPLOAD && !page_post)
		return MHD_YES;
	const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_CONTENT_TYPE);
	/* An upload's declared type is only a hint (the content decides); a
	 * form's is checked by the page, which answers in HTML. */
	if (r->route == GW_R_UPLOAD && !is_upload_type(ct))
		return gw_send_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
		                     "send the file as image/jpeg, image/png, application/pdf or "
		                     "application/octet-stream");
	if (!page_post && r->route != GW_R_UPLOAD && !is_json_type(ct))
		return gw_send_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
		                     "send Content-Type: application/json");
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		/* The syntax is checked above; only the size matters here. */
		unsigned long long n = strtoull(cl, NULL, 10);
		if (n > body_limit(r))
			return gw_send_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
			                     "request body over the size limit");
		if (n > 0 && !(r->body = malloc(n)))
			return MHD_NO;
		r->cap = n;
	}
	if (r->route == GW_R_HOTLINE || r->route == GW_R_PETITION) {
		int pet = r->route == GW_R_PETITION;
		const char *why = gw_hotline_precheck(
			pet ? &g->petition : &g->hotline,
			MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-App-Id"),
			MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Timestamp"),
			pb_now_ms() / 1000);
		if (why)
			return gw_send_error(r, MHD_HTTP_UNAUTHORIZED, why,
			                     pet ? "petition system request authentication failed"
			                         : "12345 request authentication failed");
	}
	return MHD_YES;
}

/* Upload data: kept up to the limit, then only counted, and past four
 * times the limit the connection is dropped. */
static enum MHD_Result take(struct gw_req *r, const char *data, size_t n)
{
	size_t max = body_limit(r);

	r->seen += n;
	if (r->too_large || r->len + n > max) {
		r->too_large = 1;
		return r->seen > 4 * max ? MHD_NO : MHD_YES;
	}
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap < r->len + n)
			cap *= 2;
		if (cap > max)
			cap = max;
		char *p = realloc(r->body, cap);
		if (!p)
			return MHD_NO;
		r->body = p;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **ctx)
{
	struct gw_req *r = *ctx;

	(void)cls;
	if (!r)
		return MHD_NO;   /* the URI callback could not allocate */
	/* The connection's deadline follows the request (gw_conn.c). */
	if (r->phase == GW_PH_NEW)
		gw_conn_mark(r->g->conns, conn, GW_CONN_HEADERS, 0);
	else if (*upload_size)
		gw_conn_mark(r->g->conns, conn, GW_CONN_BODY, *upload_size);
	else if (!r->busy) {
		r->busy = 1;
		gw_conn_mark(r->g->conns, conn, GW_CONN_BUSY, 0);
	}
	switch (r->phase) {
	case GW_PH_NEW:
		r->conn = conn;
		r->phase = GW_PH_BODY;
		return begin(r, url, method, version);
	case GW_PH_BODY:
		if (*upload_size) {
			size_t n = *upload_size;
			*upload_size = 0;
			return take(r, upload, n);
		}
		if (r->too_large)
			return gw_send_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
			                     "request body over the size limit");
		switch (r->route) {
		case GW_R_MESSAGES:
			return gw_post_message(r);
		case GW_R_DISCLOSURE:
			return gw_post_disclosure(r);
		case GW_R_MESSAGE:
			return gw_get_message(r, url);
		case GW_R_RATING:
			return gw_post_rating(r, url);
		case GW_R_REPLY_FILE:
			return gw_get_reply_file(r, url);
		case GW_R_HOTLINE:
			return gw_post_order(r, method);
		case GW_R_PETITION:
			return gw_post_petition(r, method);
		case GW_R_UPLOAD:
			return gw_post_upload(r);
		case GW_R_HEALTHZ:
			return gw_healthz(r);
		case GW_R_LOG:
			return gw_get_log(r, url);
		case GW_R_PAGE:
			return gw_page(r, url, method);
		default:
			return gw_metrics_page(r);
		}
	case GW_PH_WAIT:
		return gw_answer(r);
	default:
		*upload_size = 0;   /* answered early; ignore the rest */
		return MHD_YES;
	}
}

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct gw *g = cls;
	struct gw_req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->g = g;
	r->conn = conn;
	r->uri = strdup(uri ? uri : "");
	if (!r->uri) {
		free(r);
		return NULL;
	}
	r->t0_us = gw_mono_us();
	atomic_fetch_add(&g->active, 1);
	return r;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **ctx,
                         enum MHD_RequestTerminationCode toe)
{
	struct gw *g = cls;
	struct gw_req *r = *ctx;

	(void)toe;
	gw_conn_mark(g->conns, conn, GW_CONN_DONE, 0);
	if (!r)
		return;
	gw_access_log(r);
	gw_call_fini(&r->call);
	gw_page_free(r->page);
	free(r->dl.buf);
	sodium_memzero(r->akey, sizeof(r->akey));
	free(r->body);
	free(r->uri);
	free(r);
	*ctx = NULL;
	atomic_fetch_sub(&g->active, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	pb_warn("http: %s", line);
}

/* ---------------------------------------------------------- lifetime -- */

static int wait_zero(atomic_int *n, int ms)
{
	for (int waited = 0; atomic_load(n) > 0; waited += 10) {
		if (waited >= ms)
			return 0;
		usleep(10 * 1000);
	}
	return 1;
}

static void release(struct gw *g)
{
	gw_limit_free(g->submit_limit);
	gw_limit_free(g->lookup_limit);
	gw_hotline_fini(&g->hotline);
	gw_hotline_fini(&g->petition);
	gw_conns_stop(g->conns);
	sodium_memzero(&g->router.secret, sizeof(g->router.secret));
	free(g);
}

static int start_daemon(struct gw *g)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} addr;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	const struct pb_conf *c = &g->conf;

	memset(&addr, 0, sizeof(addr));
	if (inet_pton(AF_INET, c->http_addr, &addr.v4.sin_addr) == 1) {
		addr.v4.sin_family = AF_INET;
		addr.v4.sin_port = htons((uint16_t)c->http_port);
	} else if (inet_pton(AF_INET6, c->http_addr, &addr.v6.sin6_addr) == 1) {
		addr.v6.sin6_family = AF_INET6;
		addr.v6.sin6_port = htons((uint16_t)c->http_port);
		flags |= MHD_USE_IPv6;
	} else {
		pb_error("listen_addr '%s' is not a numeric IPv4 or IPv6 address", c->http_addr);
		return PB_EINVAL;
	}
	const struct MHD_OptionItem *https;
	if (gw_https_options(c, &flags, &https))
		return PB_EINVAL;
	/* The logger comes first so MHD reports option errors through it. */
	g->mhd = MHD_start_daemon(flags, (uint16_t)c->http_port, NULL, NULL, on_request, g,
	                          MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	                          MHD_OPTION_ARRAY, https,
	                          MHD_OPTION_SOCK_ADDR, &addr.sa,
	                          MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->http_threads,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->http_timeout_s,
	                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->http_max_conns,
	                          /* per address: gw_conn.c, which knows the trusted proxies */
	                          MHD_OPTION_NOTIFY_CONNECTION, gw_conns_notify, g->conns,
	                          MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
	                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
	                          MHD_OPTION_URI_LOG_CALLBACK, uri_cb, g,
	                          MHD_OPTION_NOTIFY_COMPLETED, completed_cb, g,
	                          MHD_OPTION_END);
	if (!g->mhd) {
		pb_error("cannot listen on %s port %d", c->http_addr, c->http_port);
		return PB_EIO;
	}
	gw_conns_deferred(g->conns, gw_defer_accept(g->mhd, c->header_timeout_s));
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(g->mhd, MHD_DAEMON_INFO_BIND_PORT);
	g->port = info ? info->port : (uint16_t)c->http_port;
	if (addr.sa.sa_family == AF_INET6)
		pb_info("listening on %s://[%s]:%u", gw_https_scheme(c), c->http_addr, (unsigned)g->port);
	else
		pb_info("listening on %s://%s:%u", gw_https_scheme(c), c->http_addr, (unsigned)g->port);
	return PB_OK;
}

int gw_start(const struct pb_conf *conf, struct gw **out)
{
	uint8_t secret[PB_GATEWAY_SECRET_LEN];
	char err[PB_PATH_MAX + 128];
	int created = 0, rc;
	struct gw *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g)
		return PB_ENOMEM;
	if (sodium_init() < 0) {
		pb_error("libsodium failed to initialise");
		free(g);
		return PB_EIO;
	}
	g->conf = *conf;
	atomic_store(&g->access_log, conf->access_log);
	atomic_store(&g->debug_log, pb_log_level_parse(conf->log_level) == PB_LOG_DEBUG);
	snprintf(g->base, sizeof(g->base), "%s", conf->public_base_url);
	for (size_t n = strlen(g->base); n > 0 && g->base[n - 1] == '/'; n--)
		g->base[n - 1] = '\0';
	/* The router may be creating the same file: O_EXCL makes one win. */
	rc = pb_secret_load_or_create(conf->gateway_secret, secret, sizeof(secret), &created);
	if (rc != PB_OK) {
		pb_error("gateway secret %s: %s", conf->gateway_secret, pb_err_str(rc));
		free(g);
		return rc;
	}
	if (created)
		pb_info("created gateway secret %s", conf->gateway_secret);
	rc = gw_hotline_init(&g->hotline, conf->hotline_skew_seconds, pb_now_ms() / 1000,
	                     GW_NONCE_CAP);
	if (rc == PB_OK)
		rc = gw_hotline_init(&g->petition, conf->hotline_skew_seconds, pb_now_ms() / 1000,
		                     GW_NONCE_CAP);
	if (rc == PB_OK && (rc = gw_load_apps(g, conf, err, sizeof(err))))
		pb_error("%s", err);
	gw_pages_init(g, secret, sizeof(secret));
	if (rc == PB_OK)
		rc = gw_conns_start(&g->conns, &g->conf, &g->metrics, 0);
	if (rc == PB_OK && (gw_limit_init(&g->submit_limit, conf->submit_per_minute) ||
	                    gw_limit_init(&g->lookup_limit, conf->lookup_per_minute)))
		rc = PB_ENOMEM;
	if (rc == PB_OK)
		rc = gw_router_open(&g->router, conf->router_url, secret, conf->router_timeout_ms,
		                    conf->router_lanes, conf->router_batch);
	if (rc == PB_OK)
		g->router.resolve_ms = conf->router_resolve_ms;
	sodium_memzero(secret, sizeof(secret));
	if (rc != PB_OK) {
		release(g);
		return rc;
	}
	if ((rc = start_daemon(g)) != PB_OK ||
	    (rc = gw_console_start(&g->conf, &g->console)) != PB_OK) {
		if (g->mhd)
			MHD_stop_daemon(g->mhd);
		gw_router_close(&g->router);
		release(g);
		return rc;
	}
	*out = g;
	return PB_OK;
}

uint16_t gw_port(const struct gw *g)
{
	return g->port;
}

void gw_stop(struct gw *g)
{
	MHD_socket lsock = MHD_quiesce_daemon(g->mhd);

	gw_console_stop(g->console);

	/* Requests already begun get their answer while the router still
	 * can give one. */
	if (!wait_zero(&g->active, g->conf.router_timeout_ms + 1000))
		pb_warn("stopping with %d requests unfinished", atomic_load(&g->active));
	/* Closing the client ends every call left; each callback resumes its
	 * connection, and MHD must not be stopped with one still suspended. */
	gw_router_close(&g->router);
	if (!wait_zero(&g->inflight, 5000)) {
		pb_error("router calls did not end; exiting without stopping HTTP");
		return;
	}
	MHD_stop_daemon(g->mhd);
	if (lsock != MHD_INVALID_SOCKET)
		close(lsock);
	pb_info("stopped");
	release(g);
}
