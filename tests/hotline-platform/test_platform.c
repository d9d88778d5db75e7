/* The stand-in platform itself: its authentication refusals, paging with
 * an opaque cursor, the event rules (duplicates, 409, 422) and each fault
 * as a client sees it. */
#include "hp.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define APP "dept-app"
#define SECRET "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static struct hp *p;

static void setup(void)
{
	struct hp_opts o = {.app_id = APP, .secret_hex = SECRET, .seed = 7, .slow_ms = 1500, .quiet = 1};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	cr_assert_eq(hp_start(&o, &p), 0);
}

static void teardown(void)
{
	hp_stop(p);
	curl_global_cleanup();
}

TestSuite(platform, .init = setup, .fini = teardown);

struct got {
	long status;
	char body[65536];
	size_t len;
	char retry_after[16];
	CURLcode cc;
};

static size_t on_body(char *d, size_t s, size_t n, void *arg)
{
	struct got *g = arg;
	size_t add = s * n;

	if (g->len + add >= sizeof(g->body))
		return 0;
	memcpy(g->body + g->len, d, add);
	g->len += add;
	g->body[g->len] = '\0';
	return add;
}

static size_t on_header(char *d, size_t s, size_t n, void *arg)
{
	struct got *g = arg;

	if (s * n > 13 && strncasecmp(d, "Retry-After: ", 13) == 0)
		snprintf(g->retry_after, sizeof(g->retry_after), "%.*s", (int)strcspn(d + 13, "\r\n"),
		         d + 13);
	return s * n;
}

struct sign {
	const char *app, *nonce;
	long ts;
	int corrupt;
};

static void call(const char *method, const char *path, const char *body, const struct sign *sg,
                 long timeout_ms, struct got *g)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = NULL;
	char url[512], line[160], sig[65], nonce[33], ts[24];
	uint8_t raw[16], key[32];
	size_t kl;

	memset(g, 0, sizeof(*g));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(nonce, sizeof(nonce), raw, sizeof(raw));
	if (sg && sg->nonce)
		snprintf(nonce, sizeof(nonce), "%s", sg->nonce);
	snprintf(ts, sizeof(ts), "%ld", sg && sg->ts ? sg->ts : (long)time(NULL));
	sodium_hex2bin(key, sizeof(key), SECRET, strlen(SECRET), NULL, &kl, NULL);
	hp_signature(key, kl, method, path, ts, nonce, body, body ? strlen(body) : 0, sig);
	if (sg && sg->corrupt)
		sig[3] = sig[3] == 'a' ? 'b' : 'a';
	snprintf(line, sizeof(line), "X-App-Id: %s", sg && sg->app ? sg->app : APP);
	hd = curl_slist_append(hd, line);
	snprintf(line, sizeof(line), "X-Timestamp: %s", ts);
	hd = curl_slist_append(hd, line);
	snprintf(line, sizeof(line), "X-Nonce: %s", nonce);
	hd = curl_slist_append(hd, line);
	snprintf(line, sizeof(line), "X-Signature: %s", sig);
	hd = curl_slist_append(hd, line);
	hd = curl_slist_append(hd, "Content-Type: application/json");
	snprintf(url, sizeof(url), "%s%s", hp_url(p), path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, g);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	g->cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &g->status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
}

static json_t *body_json(const struct got *g)
{
	json_t *j = json_loads(g->body, 0, NULL);

	cr_assert(j, "not JSON: %s", g->body);
	return j;
}

static const char *error_code(json_t *j)
{
	return json_string_value(json_object_get(json_object_get(j, "error"), "code"));
}

static void expect_401(const char *path, const struct sign *sg, const char *code)
{
	struct got g;

	call("GET", path, NULL, sg, 5000, &g);
	cr_expect_eq(g.status, 401);
	json_t *j = body_json(&g);
	cr_expect_str_eq(error_code(j), code);
	json_decref(j);
}

Test(platform, refuses_what_the_department_did_not_sign)
{
	struct got g;
	struct sign once = {.nonce = "abcdefabcdef0123456789"};

	expect_401("/api/v1/orders?cursor=&limit=10", &(struct sign){.app = "other"}, "unknown_app");
	expect_401("/api/v1/orders?cursor=&limit=10", &(struct sign){.ts = time(NULL) - 1000}, "stale");
	expect_401("/api/v1/orders?cursor=&limit=10", &(struct sign){.corrupt = 1}, "bad_signature");
	call("GET", "/api/v1/orders?cursor=&limit=10", NULL, &once, 5000, &g);
	cr_expect_eq(g.status, 200);
	expect_401("/api/v1/orders?cursor=&limit=10", &once, "replay");
	/* The query is covered: signing another one is a bad signature. */
	struct hp_stats s;
	hp_stats(p, &s);
	cr_expect_eq(s.auth_replay, 1);
	cr_expect_eq(s.auth_bad_signature, 1);
}

static char *page(const char *cursor, int limit, json_t **doc)
{
	struct got g;
	char path[256];

	snprintf(path, sizeof(path), "/api/v1/orders?cursor=%s&limit=%d", cursor, limit);
	call("GET", path, NULL, NULL, 5000, &g);
	cr_assert_eq(g.status, 200, "%s", g.body);
	*doc = body_json(&g);
	return strdup(json_string_value(json_object_get(*doc, "next_cursor")));
}

Test(platform, pages_through_the_feed_with_an_opaque_cursor)
{
	json_t *d;
	char *c1, *c2, *c3;

	cr_assert_eq(hp_feed_random(p, 5, 0), 0);
	c1 = page("", 3, &d);
	cr_expect_eq(json_array_size(json_object_get(d, "orders")), 3);
	cr_expect(json_is_true(json_object_get(d, "has_more")));
	json_decref(d);
	c2 = page(c1, 3, &d);
	cr_expect_eq(json_array_size(json_object_get(d, "orders")), 2);
	cr_expect(json_is_false(json_object_get(d, "has_more")));
	json_decref(d);
	c3 = page(c2, 3, &d);
	cr_expect_eq(json_array_size(json_object_get(d, "orders")), 0);
	cr_expect_str_eq(c3, c2, "an empty page keeps the cursor");
	json_decref(d);

	/* A duplicated page repeats its last order on the next one. */
	hp_feed_random(p, 4, 0);
	hp_fault_burst(p, HP_F_DUP_PAGE, 1);
	char *c4 = page(c3, 2, &d);
	json_t *last = json_array_get(json_object_get(d, "orders"), 1);
	char *no = strdup(json_string_value(json_object_get(last, "order_no")));
	json_decref(d);
	free(page(c4, 2, &d));
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(d, "orders"), 0),
	                                                   "order_no")), no);
	json_decref(d);

	struct got g;
	call("GET", "/api/v1/orders?cursor=nonsense&limit=2", NULL, NULL, 5000, &g);
	cr_expect_eq(g.status, 400);
	free(no);
	free(c1);
	free(c2);
	free(c3);
	free(c4);
}

static void event(const char *no, const char *id, unsigned seq, const char *type, const char *extra,
                  long timeout_ms, struct got *g)
{
	char path[128], body[1024];

	snprintf(path, sizeof(path), "/api/v1/orders/%s/events", no);
	snprintf(body, sizeof(body),
	         "{\"event_id\":\"%s\",\"dispatch_seq\":%u,\"type\":\"%s\",\"at\":\"2025-11-03T10:00:00+08:00\","
	         "\"handler\":{\"unit\":\"市城管委\",\"name\":\"liu\"}%s}",
	         id, seq, type, extra ? extra : "");
	call("POST", path, body, NULL, timeout_ms, g);
}

Test(platform, applies_events_by_the_rules)
{
	char no[48];
	struct got g;
	json_t *j;

	cr_assert_eq(hp_dispatch(p, NULL, HP_FEED, NULL, no, sizeof(no)), 0);
	event(no, "e1", 1, "finish", ",\"text\":\"done\"", 5000, &g);
	cr_expect_eq(g.status, 409, "finish before sign: %s", g.body);
	event(no, "e2", 1, "sign", NULL, 5000, &g);
	cr_expect_eq(g.status, 200, "%s", g.body);
	event(no, "e2", 1, "sign", NULL, 5000, &g);
	cr_expect_eq(g.status, 200);
	j = body_json(&g);
	cr_expect(json_is_true(json_object_get(j, "duplicate")), "%s", g.body);
	json_decref(j);
	event(no, "e3", 1, "return", ",\"text\":\"x\"", 5000, &g);
	cr_expect_eq(g.status, 422, "return without reason_code: %s", g.body);
	event(no, "e4", 2, "finish", ",\"text\":\"done\"", 5000, &g);
	cr_expect_eq(g.status, 409, "stale dispatch_seq");
	j = body_json(&g);
	cr_expect_str_eq(error_code(j), "stale_dispatch_seq");
	json_decref(j);
	event(no, "e5", 1, "finish", ",\"text\":\"已办结\"", 5000, &g);
	cr_expect_eq(g.status, 200);
	cr_expect_str_eq(hp_order_state(p, no, NULL), "finished");
	event(no, "e6", 1, "reply", ",\"text\":\"again\"", 5000, &g);
	cr_expect_eq(g.status, 409);
	int applied, dups;
	hp_event_seen(p, "e2", &applied, &dups);
	cr_expect_eq(applied, 1);
	cr_expect_eq(dups, 1);
}

Test(platform, revokes_and_redispatches_on_demand)
{
	char no[48], no2[48];
	struct got g;
	unsigned seq;

	hp_dispatch(p, NULL, HP_FEED, NULL, no, sizeof(no));
	hp_fault_burst(p, HP_F_REVOKE, 1);
	event(no, "s1", 1, "sign", NULL, 5000, &g);
	cr_expect_eq(g.status, 200);
	cr_expect_str_eq(hp_order_state(p, no, NULL), "revoked");
	event(no, "f1", 1, "finish", ",\"text\":\"done\"", 5000, &g);
	cr_expect_eq(g.status, 409, "finish after revoke");

	hp_dispatch(p, NULL, HP_FEED, NULL, no2, sizeof(no2));
	hp_fault_burst(p, HP_F_REDISPATCH, 1);
	event(no2, "r1", 1, "return", ",\"reason_code\":\"NOT_OURS\",\"text\":\"依据\"", 5000, &g);
	cr_expect_eq(g.status, 200, "%s", g.body);
	cr_expect_str_eq(hp_order_state(p, no2, &seq), "dispatched");
	cr_expect_eq(seq, 2);
	/* feed: two dispatches, the revoke, the re-dispatch */
	cr_expect_eq(hp_feed_len(p), 4);
	char *last = hp_feed_json(p, 3);
	cr_expect(strstr(last, "\"dispatch_seq\":2"), "%s", last);
	free(last);
}

Test(platform, faults_as_a_client_sees_them)
{
	char no[48];
	struct got g;

	hp_dispatch(p, NULL, HP_FEED, NULL, no, sizeof(no));
	hp_fault_burst(p, HP_F_5XX, 3);
	for (int i = 0; i < 3; i++) {
		call("GET", "/api/v1/orders?cursor=&limit=5", NULL, NULL, 5000, &g);
		cr_expect_eq(g.status, i == 0 ? 500 : i == 1 ? 502 : 503);
	}
	hp_fault_burst(p, HP_F_429, 1);
	call("GET", "/api/v1/orders?cursor=&limit=5", NULL, NULL, 5000, &g);
	cr_expect_eq(g.status, 429);
	cr_expect_str_eq(g.retry_after, "1");

	hp_fault_burst(p, HP_F_RESET, 1);
	call("GET", "/api/v1/orders?cursor=&limit=5", NULL, NULL, 5000, &g);
	cr_expect_neq(g.cc, CURLE_OK, "the body was cut: %s", g.body);

	/* Applied, but answered too late: the retry is a duplicate. */
	hp_fault_burst(p, HP_F_SLOW, 1);
	event(no, "slow1", 1, "sign", NULL, 500, &g);
	cr_expect_eq(g.cc, CURLE_OPERATION_TIMEDOUT);
	event(no, "slow1", 1, "sign", NULL, 5000, &g);
	cr_expect_eq(g.status, 200);
	cr_expect(strstr(g.body, "\"duplicate\":true"), "%s", g.body);
	struct hp_stats s;
	hp_stats(p, &s);
	cr_expect_eq(s.injected[HP_F_5XX], 3);
	cr_expect_eq(s.injected[HP_F_SLOW], 1);
	cr_expect_eq(s.accepted, 1);
	cr_expect_eq(s.duplicates, 1);
}
