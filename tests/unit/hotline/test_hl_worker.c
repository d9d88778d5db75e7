/* Pieces of mailroom-hotline: its request signature is the one the
 * platform (and the stand-in) computes, the event body follows the
 * reference's shape per type, Retry-After is read in both forms, and the
 * backoff grows, is capped and jittered. */
#include "hl.h"
#include "hp.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

Test(hl_worker, signs_as_the_platform_checks)
{
	uint8_t key[32];
	char a[65], b[65];
	const char *body = "{\"event_id\":\"x\"}";

	cr_assert(sodium_init() >= 0);
	randombytes_buf(key, sizeof(key));
	hl_sign(key, sizeof(key), "POST", "/api/v1/orders/GD-1/events", "1760000000", "abcdef0123456789",
	        body, strlen(body), a);
	hp_signature(key, sizeof(key), "POST", "/api/v1/orders/GD-1/events", "1760000000",
	             "abcdef0123456789", body, strlen(body), b);
	cr_expect_str_eq(a, b);
	/* The query is part of what is signed. */
	hl_sign(key, sizeof(key), "GET", "/api/v1/orders?cursor=&limit=20", "1760000000",
	        "abcdef0123456789", "", 0, a);
	hl_sign(key, sizeof(key), "GET", "/api/v1/orders?cursor=&limit=21", "1760000000",
	        "abcdef0123456789", "", 0, b);
	cr_expect_str_neq(a, b);
}

static json_t *event(Mailroom__OutboxEntry *e)
{
	char *s = hl_event_json(e);
	json_t *j;

	cr_assert_not_null(s);
	j = json_loads(s, 0, NULL);
	free(s);
	cr_assert_not_null(j);
	return j;
}

Test(hl_worker, event_bodies_follow_the_reference)
{
	Mailroom__OutboxEntry e = MAILROOM__OUTBOX_ENTRY__INIT;
	json_t *j;

	e.event_id = "0123-00000000000000a1";
	e.order_no = "GD-1";
	e.dispatch_seq = 2;
	e.type = "sign";
	e.at_ms = 1758852000000;   /* 2025-09-26T10:00:00+08:00 */
	e.handler_unit = "市城管委";
	e.handler_name = "liu";
	j = event(&e);
	cr_expect_str_eq(json_string_value(json_object_get(j, "event_id")), e.event_id);
	cr_expect_eq(json_integer_value(json_object_get(j, "dispatch_seq")), 2);
	cr_expect_str_eq(json_string_value(json_object_get(j, "at")), "2025-09-26T10:00:00+08:00");
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "handler"), "unit")),
	                 "市城管委");
	cr_expect_null(json_object_get(j, "text"), "a sign carries no text");
	cr_expect_null(json_object_get(j, "requested_due_at"));
	json_decref(j);

	e.type = "return";
	e.text = "依据《条例》第十条";
	e.reason_code = "NOT_OURS";
	j = event(&e);
	cr_expect_str_eq(json_string_value(json_object_get(j, "reason_code")), "NOT_OURS");
	cr_expect_str_eq(json_string_value(json_object_get(j, "text")), e.text);
	json_decref(j);

	e.type = "extension_request";
	e.reason_code = "";
	e.requested_due_ms = 1759226400000;   /* 2025-09-30T18:00:00+08:00 */
	j = event(&e);
	cr_expect_str_eq(json_string_value(json_object_get(j, "requested_due_at")),
	                 "2025-09-30T18:00:00+08:00");
	cr_expect_null(json_object_get(j, "reason_code"));
	json_decref(j);
}

Test(hl_worker, retry_after_in_both_forms)
{
	char date[64];
	time_t t = time(NULL) + 120;
	struct tm tm;

	cr_expect_eq(hl_retry_after_ms(" 1\r\n"), 1000);
	cr_expect_eq(hl_retry_after_ms("30"), 30000);
	cr_expect_eq(hl_retry_after_ms("-5"), -1);
	cr_expect_eq(hl_retry_after_ms("soon"), -1);
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	int64_t ms = hl_retry_after_ms(date);
	cr_expect(ms > 100000 && ms <= 121000, "%lld", (long long)ms);
}

Test(hl_worker, backoff_grows_capped_with_jitter)
{
	struct hl_backoff b;
	int64_t prev_cap = 0;
	unsigned seed = 42;

	hl_backoff_init(&b, 100, 1000);
	for (int i = 0; i < 10; i++) {
		int64_t d = hl_backoff_next(&b);
		cr_expect(d >= b.cur_ms / 2 && d <= b.cur_ms, "delay %lld for cap %lld", (long long)d,
		          (long long)b.cur_ms);
		cr_expect(b.cur_ms >= prev_cap && b.cur_ms <= 1000);
		prev_cap = b.cur_ms;
	}
	cr_expect_eq(b.cur_ms, 1000);
	hl_backoff_reset(&b);
	cr_expect_leq(hl_backoff_next(&b), 100);
	/* Per attempt: 250, 500, 1000, ... capped. */
	cr_expect_leq(hl_backoff_for(&seed, 1, 250, 5000), 250);
	cr_expect_geq(hl_backoff_for(&seed, 3, 250, 5000), 500);
	cr_expect_leq(hl_backoff_for(&seed, 30, 250, 5000), 5000);
	/* Jitter: not all the same. */
	int64_t x = hl_backoff_for(&seed, 5, 250, 60000);
	int differ = 0;
	for (int i = 0; i < 20; i++)
		differ |= hl_backoff_for(&seed, 5, 250, 60000) != x;
	cr_expect(differ);
}
