/* The gateway over real HTTP with no router listening: every answer that
 * needs no router, and 503 for those that do. */
#include "gw.h"
#include "pb_err.h"
#include "pb_log.h"
#include "util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define JSON_CT "Content-Type: application/json"
#define VALID "{\"channel\":\"mailbox\",\"subject\":\"路灯坏了\",\"body\":\"请修理\"}"

static struct gw *g;
static struct pb_conf *conf;
static char base[64];

static void start(void)
{
	conf = calloc(1, sizeof(*conf));
	cr_assert_not_null(conf);
	test_conf(conf, scratch_dir());
	pb_log_init("gateway-test", PB_LOG_WARN);
	cr_assert_eq(sodium_init() >= 0, 1);
	cr_assert_eq(gw_start(conf, &g), PB_OK);
	cr_assert_neq(gw_port(g), 0);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)gw_port(g));
}

static void stop(void)
{
	gw_stop(g);
	free(conf);
	scratch_remove();
}

static const char *url(const char *path)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s%s", base, path);
	return buf;
}

/* The error code of a JSON error body; also checks its shape and type. */
static const char *error_code(const struct resp *r)
{
	static char code[64];
	char ct[128];
	json_t *j = json_loads(r->body, 0, NULL);

	cr_assert_not_null(j, "body is not JSON: %s", r->body);
	cr_assert_str_eq(resp_header(r, "Content-Type", ct, sizeof(ct)),
	                 "application/json; charset=utf-8");
	json_t *e = json_object_get(j, "error");
	cr_assert(json_is_string(json_object_get(e, "code")), "%s", r->body);
	cr_assert(json_is_string(json_object_get(e, "message")), "%s", r->body);
	snprintf(code, sizeof(code), "%s", json_string_value(json_object_get(e, "code")));
	json_decref(j);
	return code;
}

static void post(const char *path, const char *ct, const char *body, size_t len, struct resp *r)
{
	const char *h[] = {ct, NULL};

	cr_assert_eq(http_do("POST", url(path), ct ? h : NULL, body, len, r), 0);
}

TestSuite(http, .init = start, .fini = stop, .timeout = 30);

Test(http, valid_post_without_router_is_503)
{
	struct resp r;
	char h[64];

	post("/v1/messages", JSON_CT, VALID, strlen(VALID), &r);
	cr_assert_eq(r.status, 503);
	cr_assert_str_eq(error_code(&r), "unavailable");
	cr_assert_not_null(resp_header(&r, "Retry-After", h, sizeof(h)));
	cr_assert_str_eq(h, "1");
	cr_assert_null(resp_header(&r, "Location", h, sizeof(h)), "nothing was stored");
	cr_assert_lt(r.seconds, 2.0, "answered at once, not after a timeout");
}

Test(http, invalid_json_is_400)
{
	struct resp r;

	post("/v1/messages", JSON_CT, "{\"channel\":", 11, &r);
	cr_assert_eq(r.status, 400);
	cr_assert_str_eq(error_code(&r), "invalid_json");
	const char *unknown = "{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\",\"x\":1}";
	post("/v1/messages", JSON_CT, unknown, strlen(unknown), &r);
	cr_assert_eq(r.status, 400);
	cr_assert_str_eq(error_code(&r), "unknown_field");
	const char *bad = "{\"channel\":\"mailbox\",\"subject\":\"a\xff\",\"body\":\"b\"}";
	post("/v1/messages", JSON_CT, bad, strlen(bad), &r);
	cr_assert_eq(r.status, 400);
	cr_assert_str_eq(error_code(&r), "invalid_utf8");
	post("/v1/messages", JSON_CT, NULL, 0, &r);
	cr_assert_eq(r.status, 400);
	cr_assert_str_eq(error_code(&r), "invalid_json");
}

Test(http, content_type)
{
	struct resp r;

	post("/v1/messages", "Content-Type: text/plain", VALID, strlen(VALID), &r);
	cr_assert_eq(r.status, 415);
	cr_assert_str_eq(error_code(&r), "unsupported_media_type");
	post("/v1/messages", "Content-Type: application/json; charset=latin1", VALID, strlen(VALID),
	     &r);
	cr_assert_eq(r.status, 415);
	post("/v1/messages", "Content-Type: application/jsonx", VALID, strlen(VALID), &r);
	cr_assert_eq(r.status, 415);
	post("/v1/messages", "Content-Type;", VALID, strlen(VALID), &r);   /* empty header */
	cr_assert_eq(r.status, 415);
	/* Accepted forms reach the router check (503 here). */
	post("/v1/messages", "Content-Type: application/json; charset=utf-8", VALID, strlen(VALID),
	     &r);
	cr_assert_eq(r.status, 503);
	post("/v1/messages", "Content-Type: Application/JSON;charset=\"UTF-8\"", VALID,
	     strlen(VALID), &r);
	cr_assert_eq(r.status, 503);
}

Test(http, too_large)
{
	size_t n = 70 * 1024;
	char *big = malloc(n);
	struct resp r;
	const char *chunked[] = {JSON_CT, "Transfer-Encoding: chunked", NULL};

	memset(big, ' ', n);
	big[0] = '{', big[n - 1] = '}';
	post("/v1/messages", JSON_CT, big, n, &r);
	cr_assert_eq(r.status, 413);
	cr_assert_str_eq(error_code(&r), "too_large");
	/* Without a Content-Length the body is counted as it arrives. */
	cr_assert_eq(http_do("POST", url("/v1/messages"), chunked, big, n, &r), 0);
	cr_assert_eq(r.status, 413);
	cr_assert_str_eq(error_code(&r), "too_large");
	/* Exactly the limit is still read and parsed. */
	post("/v1/messages", JSON_CT, big, 64 * 1024, &r);
	cr_assert_eq(r.status, 400);
	free(big);
}

Test(http, unknown_route_and_method)
{
	struct resp r;
	char h[64];

	cr_assert_eq(http_do("GET", url("/nope"), NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(error_code(&r), "not_found");
	cr_assert_eq(http_do("GET", url("/v1/messages/1/2"), NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 404);
	cr_assert_eq(http_do("GET", url("/v1/messages"), NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 405);
	cr_assert_str_eq(error_code(&r), "method_not_allowed");
	cr_assert_str_eq(resp_header(&r, "Allow", h, sizeof(h)), "POST");
	cr_assert_eq(http_do("DELETE", url("/healthz"), NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 405);
	cr_assert_str_eq(resp_header(&r, "Allow", h, sizeof(h)), "GET, HEAD");
	cr_assert_eq(http_do("PUT", url("/v1/hotline/orders"), NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 405);
}

Test(http, healthz_disconnected)
{
	struct resp r;
	json_t *j;

	cr_assert_eq(http_do("GET", url("/healthz"), NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 503);
	j = json_loads(r.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(j, "router")), "disconnected");
	json_decref(j);
}

Test(http, status_needs_bearer)
{
	struct resp r;
	char h[64], first[512];
	const char *bad_auth[] = {"Authorization: Basic YTpi", NULL};
	const char *empty[] = {"Authorization: Bearer ", NULL};
	const char *key[] = {"Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL};
	const char *other[] = {"Authorization: bearer wrong-key", NULL};

	cr_assert_eq(http_do("GET", url("/v1/messages/1234-5678-9012"), NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 401);
	cr_assert_str_eq(error_code(&r), "unauthenticated");
	cr_assert_str_eq(resp_header(&r, "WWW-Authenticate", h, sizeof(h)), "Bearer");
	cr_assert_eq(http_do("GET", url("/v1/messages/1234-5678-9012"), bad_auth, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 401);
	cr_assert_eq(http_do("GET", url("/v1/messages/1234-5678-9012"), empty, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 401);
	/* Malformed codes answer exactly as an unknown one would. */
	cr_assert_eq(http_do("GET", url("/v1/messages/1234-5678-9012"), key, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(error_code(&r), "not_found");
	copy_body(first, sizeof(first), &r);
	cr_assert_eq(http_do("GET", url("/v1/messages/hello"), other, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body, first);
}

Test(http, hotline_auth_without_router)
{
	char hdrs[4][200];
	struct resp r;
	const char *body = "{\"order_no\":\"A1\",\"dispatch_seq\":1,\"kind\":\"urge\","
	                   "\"dispatched_at\":\"2025-11-26T10:00:00+08:00\",\"reason\":\"催办\"}";
	/* Later than the gateway's start second, as every push must be. */
	long long now = (long long)time(NULL) + 1;

	post("/v1/hotline/orders", JSON_CT, body, strlen(body), &r);
	cr_assert_eq(r.status, 401);
	cr_assert_str_eq(error_code(&r), "unknown_app");

	sign_headers("/v1/hotline/orders", now, "NonceAAAAAAAAAAAAAAA", body, hdrs);
	const char *h[] = {JSON_CT, hdrs[0], hdrs[1], hdrs[2], hdrs[3], NULL};
	cr_assert_eq(http_do("POST", url("/v1/hotline/orders"), h, body, strlen(body), &r), 0);
	cr_assert_eq(r.status, 503, "%s", r.body);
	cr_assert_str_eq(error_code(&r), "unavailable");
	cr_assert_eq(http_do("POST", url("/v1/hotline/orders"), h, body, strlen(body), &r), 0);
	cr_assert_eq(r.status, 401);
	cr_assert_str_eq(error_code(&r), "replay");

	sign_headers("/v1/hotline/orders", now - 1000, "NonceBBBBBBBBBBBBBBB", body, hdrs);
	cr_assert_eq(http_do("POST", url("/v1/hotline/orders"), h, body, strlen(body), &r), 0);
	cr_assert_eq(r.status, 401);
	cr_assert_str_eq(error_code(&r), "stale");

	sign_headers("/v1/hotline/orders", now, "NonceCCCCCCCCCCCCCCC", "{}", hdrs);
	cr_assert_eq(http_do("POST", url("/v1/hotline/orders"), h, body, strlen(body), &r), 0);
	cr_assert_eq(r.status, 401);
	cr_assert_str_eq(error_code(&r), "bad_signature");

	/* The query is signed as sent. */
	sign_headers("/v1/hotline/orders?src=push&x=%41", now, "NonceEEEEEEEEEEEEEEE", body, hdrs);
	cr_assert_eq(http_do("POST", url("/v1/hotline/orders?src=push&x=%41"), h, body,
	                     strlen(body), &r),
	             0);
	cr_assert_eq(r.status, 503, "%s", r.body);
	sign_headers("/v1/hotline/orders", now, "NonceFFFFFFFFFFFFFFF", body, hdrs);
	cr_assert_eq(http_do("POST", url("/v1/hotline/orders?src=push"), h, body, strlen(body), &r),
	             0);
	cr_assert_eq(r.status, 401);
	cr_assert_str_eq(error_code(&r), "bad_signature");

	/* Signed but not a valid order: 400, with the field named. */
	sign_headers("/v1/hotline/orders", now, "NonceDDDDDDDDDDDDDDD", "{\"kind\":\"x\"}", hdrs);
	cr_assert_eq(http_do("POST", url("/v1/hotline/orders"), h, "{\"kind\":\"x\"}", 12, &r), 0);
	cr_assert_eq(r.status, 400);
	cr_assert_str_eq(error_code(&r), "missing_field");
	cr_assert(strstr(r.body, "order_no"), "%s", r.body);
}

Test(http, metrics_without_router)
{
	struct resp r;
	char ct[128];

	post("/v1/messages", JSON_CT, "{", 1, &r);
	cr_assert_eq(http_do("GET", url("/metrics"), NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert(strncmp(resp_header(&r, "Content-Type", ct, sizeof(ct)), "text/plain", 10) == 0);
	cr_assert(strstr(r.body, "mailroom_http_requests_total{route=\"/v1/messages\",status=\"400\"} 1"),
	          "%s", r.body);
	cr_assert(strstr(r.body, "mailroom_router_up 0"), "%s", r.body);
	cr_assert_null(strstr(r.body, "mailroom_commit_latency_seconds_bucket"));
}

Test(http, head_on_healthz)
{
	struct resp r;

	cr_assert_eq(http_do("HEAD", url("/healthz"), NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 503);
	cr_assert_eq(r.len, 0);
}

/* A raw socket, for what curl will not send. */
static int dial(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(gw_port(g))};
	struct timeval tv = {5, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

Test(http, header_flood_gets_4xx_or_close)
{
	char line[1100], buf[256];
	int fd = dial();
	ssize_t n;
	struct resp r;

	send(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 32, MSG_NOSIGNAL);
	memset(line, 'a', sizeof(line));
	for (int i = 0; i < 200; i++) {
		int k = snprintf(line, sizeof(line), "X-Fill-%d: ", i);
		line[k] = 'a';
		memcpy(line + sizeof(line) - 2, "\r\n", 2);
		if (send(fd, line, sizeof(line), MSG_NOSIGNAL) < 0)
			break;   /* already closed on us: fine */
	}
	send(fd, "\r\n", 2, MSG_NOSIGNAL);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		cr_assert(strncmp(buf, "HTTP/1.1 4", 10) == 0, "%s", buf);
	}
	close(fd);
	/* Still serving. */
	cr_assert_eq(http_do("GET", url("/healthz"), NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 503);
}

Test(http, slow_sender_is_closed)
{
	char buf[256];
	int fd = dial();
	ssize_t n;

	/* connection_timeout_s is 2 in the test config. */
	send(fd, "POST /v1/messages HTTP/1.1\r\nHost: x\r\n", 37, MSG_NOSIGNAL);
	n = recv(fd, buf, sizeof(buf), 0);
	cr_assert_leq(n, 0, "closed without an answer, not left open");
	close(fd);
}

Test(http, stop_is_prompt)
{
	struct timespec a, b;

	/* Keep-alive idle connection open while stopping. */
	int fd = dial();
	clock_gettime(CLOCK_MONOTONIC, &a);
	gw_stop(g);
	clock_gettime(CLOCK_MONOTONIC, &b);
	cr_assert_lt(b.tv_sec - a.tv_sec, 3);
	close(fd);
	/* stop() runs gw_stop again: start a fresh one for it. */
	cr_assert_eq(gw_start(conf, &g), PB_OK);
}

#define APPLICATION                                                                        \
	"{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"张三\",\"id_type\":\"resident_id\"," \
	"\"id_number\":\"11010519491231002X\",\"phone\":\"13800000000\"},"                      \
	"\"description\":\"申请公开道路维修经费\",\"form\":\"electronic\",\"delivery\":\"email\","    \
	"\"submission_mode\":\"online\"}"

/* The application route is checked like /v1/messages before any router. */
Test(http, disclosure_application_checks)
{
	static const char path[] = "/v1/disclosure-applications";
	const char *bad_id = "{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"张三\","
	                     "\"id_type\":\"resident_id\",\"id_number\":\"110105194912310021\","
	                     "\"phone\":\"13800000000\"},\"description\":\"申请公开\",\"form\":\"paper\","
	                     "\"delivery\":\"post\",\"submission_mode\":\"online\"}";
	const char *unknown = "{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"张三\","
	                      "\"id_type\":\"passport\",\"id_number\":\"E12345678\","
	                      "\"phone\":\"13800000000\"},\"description\":\"申请公开\",\"form\":\"paper\","
	                      "\"delivery\":\"post\",\"submission_mode\":\"online\",\"channel\":\"x\"}";
	size_t n = 70 * 1024;
	char *big = malloc(n), h[64];
	struct resp r;

	cr_assert_not_null(big);
	post(path, "Content-Type: text/plain", APPLICATION, strlen(APPLICATION), &r);
	cr_expect_eq(r.status, 415);
	cr_expect_str_eq(error_code(&r), "unsupported_media_type");
	memset(big, ' ', n);
	big[0] = '{', big[n - 1] = '}';
	post(path, JSON_CT, big, n, &r);
	cr_expect_eq(r.status, 413);
	cr_expect_str_eq(error_code(&r), "too_large");
	free(big);
	post(path, JSON_CT, bad_id, strlen(bad_id), &r);
	cr_expect_eq(r.status, 400);
	cr_expect_str_eq(error_code(&r), "invalid_field");
	cr_expect(strstr(r.body, "applicant.id_number") != NULL, "%s", r.body);
	cr_expect_null(strstr(r.body, "110105194912310021"), "the number is not echoed: %s", r.body);
	post(path, JSON_CT, unknown, strlen(unknown), &r);
	cr_expect_eq(r.status, 400);
	cr_expect_str_eq(error_code(&r), "unknown_field");
	cr_assert_eq(http_do("GET", url(path), NULL, NULL, 0, &r), 0);
	cr_expect_eq(r.status, 405);
	cr_expect_str_eq(resp_header(&r, "Allow", h, sizeof(h)), "POST");
	/* Valid, with no router: 503, nothing stored. */
	post(path, JSON_CT, APPLICATION, strlen(APPLICATION), &r);
	cr_expect_eq(r.status, 503);
	cr_expect_str_eq(error_code(&r), "unavailable");
	cr_expect_not_null(resp_header(&r, "Retry-After", h, sizeof(h)));
	cr_expect_null(resp_header(&r, "Location", h, sizeof(h)));
}

/* Each route's counters carry its own name on /metrics. */
Test(http, route_names)
{
	cr_expect_str_eq(gw_route_name(GW_R_UPLOAD), "/v1/uploads");
	cr_expect_str_eq(gw_route_name(GW_R_OTHER), "other");
	cr_expect_str_eq(gw_route_name(GW_R_RATING), "/v1/messages/{tracking_code}/rating");
	cr_expect_str_eq(gw_route_name(GW_R_REPLY_FILE),
	                 "/v1/messages/{tracking_code}/reply-files/{n}");
}
