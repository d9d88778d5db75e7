/* 12345 push (hotline-12345.md): HMAC authentication with its four
 * refusals, and at-least-once delivery made idempotent per
 * (order_no, dispatch_seq). */
#include "it.h"

#include <stdlib.h>
#include <time.h>

static const struct mr_handler_spec handlers[] = {
	{"liu", "hotline"},
};

/* Posts and returns the status; *id gets the message id when there is one. */
static long post(const char *json, struct mr_hl_sign *s, char *id, size_t idlen, char *body,
                 size_t bodylen)
{
	struct mr_http r;

	cr_assert_eq(mr_post_order(NULL, &env, json, s, &r), 0, "order POST failed in transport");
	if (id) {
		json_t *j = mr_http_json(&r);
		snprintf(id, idlen, "%s", it_str(j, "id") ? it_str(j, "id") : "");
		json_decref(j);
	}
	if (body)
		snprintf(body, bodylen, "%s", r.body ? r.body : "");
	long st = r.status;
	mr_http_free(&r);
	return st;
}

static void expect_401(const char *json, struct mr_hl_sign *s, const char *code)
{
	struct mr_http r;

	cr_assert_eq(mr_post_order(NULL, &env, json, s, &r), 0);
	cr_expect_eq(r.status, 401, "wanted 401 %s, got HTTP %ld: %s", code, r.status, r.body);
	it_expect_error(&r, code);
	mr_http_free(&r);
}

Test(hotline, push_auth_and_idempotence, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	char id1[40], id2[40], id3[40], body[2048], order_no[40];
	struct mr_http r;
	long st;

	IT_UP(&o);
	mr_wait_past_gateway_start(&env);
	snprintf(order_no, sizeof(order_no), "GD%ld-0001", (long)time(NULL));
	char *json = mr_order_json(order_no, 1, NULL);
	cr_assert(json);

	struct mr_hl_sign s1 = {0};
	st = post(json, &s1, id1, sizeof(id1), body, sizeof(body));
	cr_assert_eq(st, 201, "first delivery: HTTP %ld: %s", st, body);
	cr_expect_eq(strlen(id1), 26, "no id in %s", body);
	json_t *j = it_json_text(body);
	cr_expect_str_eq(it_str(j, "queue") ? it_str(j, "queue") : "", "hotline");
	cr_expect(mr_is_track(it_str(j, "tracking_code")), "tracking_code in %s", body);
	json_decref(j);

	/* The platform's retry: same order, newly signed. */
	struct mr_hl_sign s2 = {0};
	st = post(json, &s2, id2, sizeof(id2), body, sizeof(body));
	cr_expect_eq(st, 200, "repeat delivery: HTTP %ld (wanted 200): %s", st, body);
	cr_expect_str_eq(id2, id1, "repeat delivery made a second message");

	/* Refusals, each alone at fault. */
	struct mr_hl_sign stale = {.timestamp = (long)time(NULL) - 1000};
	expect_401(json, &stale, "stale");
	struct mr_hl_sign ahead = {.timestamp = (long)time(NULL) + 1000};
	expect_401(json, &ahead, "stale");
	struct mr_hl_sign again = {.nonce = s1.used_nonce};
	expect_401(json, &again, "replay");
	struct mr_hl_sign bad = {.corrupt = 1};
	expect_401(json, &bad, "bad_signature");
	struct mr_hl_sign wrongkey = {.secret = "0123456789abcdef0123456789abcdef"};
	expect_401(json, &wrongkey, "bad_signature");
	struct mr_hl_sign unknown = {.app_id = "no-such-app"};
	expect_401(json, &unknown, "unknown_app");

	/* A body changed after signing is a bad signature, not an order. */
	{
		struct mr_hl_sign sg = {0};
		char sig[65], ts[32], line[128];
		struct curl_slist *hd = NULL;
		char *other = mr_order_json(order_no, 7, "被篡改的标题");
		snprintf(ts, sizeof(ts), "%ld", (long)time(NULL));
		snprintf(sg.used_nonce, sizeof(sg.used_nonce), "tamperednonce0001");
		mr_hl_signature(env.hotline_secret, "POST", "/v1/hotline/orders", ts, sg.used_nonce,
		                json, strlen(json), sig);
		hd = curl_slist_append(hd, "Content-Type: application/json");
		snprintf(line, sizeof(line), "X-App-Id: %s", MR_HOTLINE_APP);
		hd = curl_slist_append(hd, line);
		snprintf(line, sizeof(line), "X-Timestamp: %s", ts);
		hd = curl_slist_append(hd, line);
		snprintf(line, sizeof(line), "X-Nonce: %s", sg.used_nonce);
		hd = curl_slist_append(hd, line);
		snprintf(line, sizeof(line), "X-Signature: %s", sig);
		hd = curl_slist_append(hd, line);
		cr_assert_eq(mr_http(NULL, env.base, "POST", "/v1/hotline/orders", hd, other,
		                     strlen(other), 30000, &r),
		             0);
		cr_expect_eq(r.status, 401, "body swapped after signing: HTTP %ld: %s", r.status, r.body);
		it_expect_error(&r, "bad_signature");
		mr_http_free(&r);
		curl_slist_free_all(hd);
		free(other);
	}

	/* Still one message for this delivery after all that. */
	struct mr_hl_sign s3 = {0};
	st = post(json, &s3, id2, sizeof(id2), body, sizeof(body));
	cr_expect_eq(st, 200, "third delivery: HTTP %ld: %s", st, body);
	cr_expect_str_eq(id2, id1);
	free(json);

	/* Re-dispatched after a return: a new delivery, a new message. */
	json = mr_order_json(order_no, 2, NULL);
	struct mr_hl_sign s4 = {0};
	st = post(json, &s4, id3, sizeof(id3), body, sizeof(body));
	cr_expect_eq(st, 201, "dispatch_seq 2: HTTP %ld (wanted 201): %s", st, body);
	cr_expect_str_neq(id3, id1, "dispatch_seq 2 answered with the first delivery's id");
	struct mr_hl_sign s5 = {0};
	st = post(json, &s5, id2, sizeof(id2), body, sizeof(body));
	cr_expect_eq(st, 200, "dispatch_seq 2 again: HTTP %ld: %s", st, body);
	cr_expect_str_eq(id2, id3);
	free(json);

	/* A citizen who asked for confidentiality (是否保密). */
	char secret_no[48];
	snprintf(secret_no, sizeof(secret_no), "%s-S", order_no);
	json = mr_order_json(secret_no, 1, "举报某单位违规收费");
	cr_assert(json);
	char *flag = strstr(json, "\"confidential\":false");
	cr_assert(flag, "order JSON lacks the confidential flag: %s", json);
	memcpy(flag, "\"confidential\":true ", strlen("\"confidential\":true "));
	struct mr_hl_sign s6 = {0};
	st = post(json, &s6, id2, sizeof(id2), body, sizeof(body));
	cr_expect_eq(st, 201, "confidential order: HTTP %ld: %s", st, body);
	free(json);

	/* The handler sees each order with its platform fields, and the
	 * citizen only when not confidential. */
	int seen = 0;
	for (int i = 0; i < 3; i++) {
		char *out = NULL;
		int rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue",
		                        "hotline", "--wait", "5", NULL);
		cr_expect_eq(rc, 0, "pull hotline: exit %d: %s", rc, out);
		if (rc == 0) {
			j = it_json_text(out);
			const char *no = it_str(j, "message.hotline.order_no");
			cr_expect(no != NULL, "pulled order has no hotline fields: %s", out);
			if (no && strcmp(no, secret_no) == 0) {
				seen |= 1;
				cr_expect_null(it_get(j, "message.contact"),
				               "a confidential citizen was shown to the handler: %s", out);
				cr_expect(!strstr(out, "李四") && !strstr(out, "13900139000"),
				          "the confidential citizen's name or phone leaked: %s", out);
			} else if (no && strcmp(no, order_no) == 0) {
				seen |= 2;
				cr_expect_str_eq(it_str(j, "message.contact.name") ?
				                         it_str(j, "message.contact.name") : "",
				                 "李四", "citizen not shown: %s", out);
			}
			json_decref(j);
		}
		free(out);
	}
	cr_expect_eq(seen, 3, "did not pull both the plain and the confidential order");

	char *out = NULL;
	cr_expect_eq(mr_audit_cmd(&env, &out, "verify", NULL), 0, "verify: %s", out);
	free(out);
	cr_expect(it_alive(), "a process died");
	IT_DOWN();
}

/* An urge is answered with the receipt of its own URGED record, and its
 * repeat with the same one; neither is the dispatch's receipt. */
Test(hotline, urge_answers_with_its_own_receipt, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	char body[2048], order_no[40], urge[512], disp_at[40];
	struct mr_hl_sign s1 = {0}, s2 = {0}, s3 = {0};
	time_t now = time(NULL);
	long st;

	IT_UP(&o);
	mr_wait_past_gateway_start(&env);
	snprintf(order_no, sizeof(order_no), "GD%ld-URGE", (long)now);
	char *json = mr_order_json(order_no, 1, NULL);
	cr_assert(json);
	st = post(json, &s1, NULL, 0, body, sizeof(body));
	free(json);
	cr_assert_eq(st, 201, "dispatch: HTTP %ld: %s", st, body);
	json_t *d = it_json_text(body);

	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(disp_at, sizeof(disp_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(urge, sizeof(urge),
	         "{\"order_no\":\"%s\",\"dispatch_seq\":1,\"kind\":\"urge\",\"dispatched_at\":\"%s\","
	         "\"reason\":\"市民再次来电催办\"}",
	         order_no, disp_at);
	st = post(urge, &s2, NULL, 0, body, sizeof(body));
	cr_assert_eq(st, 201, "urge: HTTP %ld: %s", st, body);
	json_t *u = it_json_text(body);
	st = post(urge, &s3, NULL, 0, body, sizeof(body));
	cr_assert_eq(st, 200, "repeated urge: HTTP %ld: %s", st, body);
	json_t *u2 = it_json_text(body);

	json_int_t di = json_integer_value(it_get(d, "receipt.log_index"));
	json_int_t ui = json_integer_value(it_get(u, "receipt.log_index"));
	cr_expect_gt(ui, di, "the urge's receipt names record %lld, the dispatch's is %lld",
	             (long long)ui, (long long)di);
	cr_expect_str_neq(it_str(u, "receipt.record_hash"), it_str(d, "receipt.record_hash"));
	cr_expect_str_neq(it_str(u, "receipt.proof"), it_str(d, "receipt.proof"));
	cr_expect_eq(json_integer_value(it_get(u2, "receipt.log_index")), ui);
	cr_expect_str_eq(it_str(u2, "receipt.record_hash"), it_str(u, "receipt.record_hash"));
	cr_expect_eq(json_integer_value(it_get(u2, "receipt.log_index")), ui);
	cr_expect_str_eq(it_str(u, "receipt.key_id"), it_str(d, "receipt.key_id"));
	json_decref(d);
	json_decref(u);
	json_decref(u2);
	IT_DOWN();
}
