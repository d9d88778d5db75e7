/* A citizen's message from POST to the handler's reply and the audit
 * trail, and the routing rules, through the real processes. */
#include "it.h"
#include "pb_err.h"
#include "pb_id.h"
#include "mt.h"
#include "sn.h"
#include "st.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const struct mr_handler_spec handlers[] = {
	{"wang", "general, roads, supervision"},
};

static const char letter[] =
	"{\"channel\":\"mailbox\",\"subject\":\"关于小区垃圾清运的建议\","
	"\"body\":\"您好，我们小区的垃圾每天只清运一次，夏天气味很大，建议增加清运次数。\","
	"\"contact\":{\"name\":\"张三\",\"phone\":\"13800138000\",\"email\":\"zhangsan@example.com\"}}";

static int ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), k = strlen(tail);

	return n >= k && strcmp(s + n - k, tail) == 0;
}

static int is_hex(const char *s, size_t n)
{
	if (!s || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

/* The receipt must be the stored record's hash, and carry its C2SP
 * tlog-proof: the record itself, and a path to the root of a checkpoint
 * signed by the store key. An auditor checks it against the log later. */
static void check_receipt(json_t *rc, const char *pub_hex)
{
	uint8_t hash[32], want[32], pk[32], leaf[32], rec[4096];
	struct sn_checkpoint cp;
	struct sn_proof *p = calloc(1, sizeof(*p));
	const uint8_t *data;
	const char *proof = it_str(rc, "proof");
	size_t len, rlen;
	st_env *st;
	st_txn *t;
	json_int_t idx = json_integer_value(it_get(rc, "log_index"));

	cr_assert_not_null(p);
	cr_assert_eq(pb_unhex(pub_hex, pk, 32), 0, "audit gave no public key: %s", pub_hex);
	cr_assert_eq(pb_unhex(it_str(rc, "record_hash"), want, 32), 0);
	cr_assert_null(it_get(rc, "signature"), "records are not signed one by one");
	cr_assert_not_null(proof, "the receipt carries no proof");
	cr_assert_eq(sn_proof_parse(proof, strlen(proof), p), PB_OK, "not a tlog-proof: %s", proof);
	cr_assert_eq((json_int_t)p->index, idx);
	cr_assert_eq(sn_open_checkpoint(p->note, p->note_len, "mailroom.test/log", pk, &cp), PB_OK,
	             "the proof's checkpoint is not signed by the store key: %s", proof);
	cr_assert_eq(st_open(env.store, 0, 1, NULL, &st), PB_OK, "cannot open the store read-only");
	cr_assert_eq(st_txn_begin(st, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_get(t, (uint64_t)idx, &data, &len), PB_OK, "no record %lld", (long long)idx);
	crypto_hash_sha256(hash, data, len);
	cr_expect(memcmp(hash, want, 32) == 0, "receipt record_hash is not SHA-256 of record %lld",
	          (long long)idx);
	cr_assert_eq(sodium_base642bin(rec, sizeof(rec), p->extra, p->extra_len, NULL, &rlen, NULL,
	                               sodium_base64_VARIANT_ORIGINAL),
	             0);
	cr_expect(rlen == len && memcmp(rec, data, len) == 0, "the proof carries another record");
	mt_leaf_hash(data, len, leaf);
	cr_expect_eq(mt_verify_inclusion(leaf, p->index, cp.size, (const uint8_t(*)[32])p->hashes, p->n,
	                                 cp.root),
	             PB_OK, "the proof does not lead to the checkpoint's root");
	st_txn_abort(t);
	st_close(st);
	free(p);
}

Test(e2e, mailbox_letter_to_reply, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	struct mr_http r, r2;
	char *out = NULL, code[PB_TRACK_TEXT_LEN + 1], key[64], id[32], unknown[PB_TRACK_TEXT_LEN + 1];
	json_t *j, *p;

	IT_UP(&o);

	cr_assert_eq(mr_post_message(NULL, &env, letter, &r), 0, "POST failed at transport level");
	cr_assert_eq(r.status, 201, "POST /v1/messages: HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	cr_assert(it_str(j, "id") && strlen(it_str(j, "id")) == PB_ID_TEXT_LEN, "id: %s", r.body);
	cr_expect(mr_is_track(it_str(j, "tracking_code")), "tracking_code not dddd-dddd-dddd: %s", r.body);
	cr_expect(it_str(j, "access_key") && strlen(it_str(j, "access_key")) == PB_AKEY_TEXT_LEN,
	          "access_key: %s", r.body);
	cr_expect_str_eq(it_str(j, "status") ? it_str(j, "status") : "", "queued");
	cr_expect_str_eq(it_str(j, "queue") ? it_str(j, "queue") : "", "general");
	cr_expect(it_str(j, "received_at") && ends_with(it_str(j, "received_at"), "+08:00"),
	          "received_at: %s", r.body);
	cr_expect(it_str(j, "reply_due_at") && ends_with(it_str(j, "reply_due_at"), "+08:00"),
	          "reply_due_at: %s", r.body);
	cr_expect(json_is_integer(it_get(j, "receipt.log_index")) &&
	                  json_integer_value(it_get(j, "receipt.log_index")) > 0,
	          "receipt.log_index: %s", r.body);
	cr_expect(is_hex(it_str(j, "receipt.record_hash"), 64), "receipt.record_hash: %s", r.body);
	cr_expect(it_str(j, "receipt.proof") &&
	              strncmp(it_str(j, "receipt.proof"), "c2sp.org/tlog-proof@v1\n", 23) == 0,
	          "receipt.proof: %s", r.body);
	cr_expect(is_hex(it_str(j, "receipt.key_id"), 8), "receipt.key_id: %s", r.body);
	cr_assert(mr_is_track(it_str(j, "tracking_code")) && it_str(j, "access_key"));
	snprintf(code, sizeof(code), "%s", it_str(j, "tracking_code"));
	snprintf(key, sizeof(key), "%s", it_str(j, "access_key"));
	snprintf(id, sizeof(id), "%s", it_str(j, "id"));
	cr_expect(strstr(r.location, code) != NULL && strstr(r.location, "/v1/messages/") != NULL,
	          "Location header '%s' does not name /v1/messages/%s", r.location, code);
	json_t *receipt = json_incref(it_get(j, "receipt"));
	json_decref(j);
	mr_http_free(&r);

	/* The citizen sees it queued before anyone acts. */
	cr_assert_eq(mr_get_status(NULL, &env, code, key, &r), 0);
	cr_expect_eq(r.status, 200, "GET status: HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	cr_expect_str_eq(it_str(j, "status") ? it_str(j, "status") : "", "queued");
	cr_expect_null(it_get(j, "contact"), "a citizen's view must not carry the contact");
	json_decref(j);
	mr_http_free(&r);

	/* The handler pulls it, with the contact shown. */
	cr_assert_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue", "general",
	                            "--wait", "5", NULL),
	             0, "pull: %s", out);
	p = it_json_text(out);
	free(out);
	cr_expect_str_eq(it_str(p, "message.id") ? it_str(p, "message.id") : "", id);
	cr_expect_str_eq(it_str(p, "message.tracking_code") ? it_str(p, "message.tracking_code") : "",
	                 code);
	cr_expect_str_eq(it_str(p, "message.contact.name") ? it_str(p, "message.contact.name") : "",
	                 "张三", "contact not shown to the handler");
	cr_expect_str_eq(it_str(p, "message.contact.phone") ? it_str(p, "message.contact.phone") : "",
	                 "13800138000");
	cr_expect(it_str(p, "message.body") && strstr(it_str(p, "message.body"), "垃圾"),
	          "body not shown to the handler");
	cr_expect(it_str(p, "lease.token") != NULL, "no lease in the pull output");
	json_decref(p);

	cr_assert_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "reply", id, "--text",
	                            "您好，已安排每日清运两次。感谢您的建议。", NULL),
	             0, "reply: %s", out);
	p = it_json_text(out);
	free(out);
	cr_expect_str_eq(it_str(p, "status") ? it_str(p, "status") : "", "replied", "reply output");
	json_decref(p);

	cr_assert_eq(mr_get_status(NULL, &env, code, key, &r), 0);
	cr_expect_eq(r.status, 200, "GET status: HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	cr_expect_str_eq(it_str(j, "status") ? it_str(j, "status") : "", "replied");
	cr_expect_str_eq(it_str(j, "reply.text") ? it_str(j, "reply.text") : "",
	                 "您好，已安排每日清运两次。感谢您的建议。");
	cr_expect_null(it_get(j, "replied_by"), "a citizen must not see who replied");
	json_decref(j);
	mr_http_free(&r);

	/* Read over the phone, the code comes without dashes. */
	char bare[16];
	snprintf(bare, sizeof(bare), "%.4s%.4s%.4s", code, code + 5, code + 10);
	cr_assert_eq(mr_get_status(NULL, &env, bare, key, &r), 0);
	cr_expect_eq(r.status, 200, "GET %s (no dashes): HTTP %ld: %s", bare, r.status, r.body);
	mr_http_free(&r);

	/* A wrong key and an unknown code are the same answer: no oracle. */
	char wrong[64];
	snprintf(wrong, sizeof(wrong), "%s", key);
	wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
	do
		pb_track_new(unknown);
	while (strcmp(unknown, code) == 0);
	cr_assert_eq(mr_get_status(NULL, &env, code, wrong, &r), 0);
	cr_assert_eq(mr_get_status(NULL, &env, unknown, key, &r2), 0);
	cr_expect_eq(r.status, 404, "wrong key: HTTP %ld: %s", r.status, r.body);
	cr_expect_eq(r2.status, 404, "unknown code: HTTP %ld: %s", r2.status, r2.body);
	it_expect_error(&r, NULL);
	cr_expect(r.len == r2.len && r.body && r2.body && memcmp(r.body, r2.body, r.len) == 0,
	          "wrong key and unknown code answered differently:\n%s\n%s", r.body, r2.body);
	mr_http_free(&r);
	mr_http_free(&r2);
	/* No key at all is refused too, and says nothing about the code. */
	cr_assert_eq(mr_get_status(NULL, &env, code, NULL, &r), 0);
	cr_expect(r.status == 401 || r.status == 404, "no key: HTTP %ld: %s", r.status, r.body);
	mr_http_free(&r);

	/* The audit side: the log verifies and tells the whole story. */
	cr_expect_eq(mr_audit_cmd(&env, &out, "verify", NULL), 0, "verify: %s", out);
	free(out);
	cr_assert_eq(mr_audit_cmd(&env, &out, "verify", "--json", NULL), 0);
	j = it_json_text(out);
	free(out);
	check_receipt(receipt, it_str(j, "public_key") ? it_str(j, "public_key") : "");
	json_decref(j);
	json_decref(receipt);

	cr_assert_eq(mr_audit_cmd(&env, &out, "trail", code, NULL), 0, "trail: %s", out);
	const char *events[] = {" RECEIVED", " ROUTED", " LEASED", " REPLIED"};
	const char *at = out;
	for (size_t i = 0; i < 4; i++) {
		const char *hit = strstr(at, events[i]);
		cr_expect(hit != NULL, "trail lacks%s after the earlier events:\n%s", events[i], out);
		if (hit)
			at = hit;
	}
	/* The log names the handler by its key's id, never by name. */
	char kid[PB_ACTOR_ID_TEXT], actor[32];
	pb_actor_id(env.handlers[0].pk, kid);
	snprintf(actor, sizeof(actor), "handler:%s", kid);
	cr_expect(strstr(out, actor) != NULL, "trail does not name the handler's key:\n%s", out);
	cr_expect(strstr(out, "wang") == NULL, "trail names the handler:\n%s", out);
	free(out);

	/* The operator's view agrees: genesis + 4 records, nothing waiting. */
	cr_assert_eq(mr_http(NULL, env.base, "GET", "/metrics", NULL, NULL, 0, 10000, &r), 0);
	cr_expect_eq(r.status, 200, "/metrics: HTTP %ld", r.status);
	cr_expect(r.body && strstr(r.body, "mailroom_router_up 1"), "/metrics: router not up:\n%s",
	          r.body);
	cr_expect(r.body && strstr(r.body, "mailroom_log_records 5\n"),
	          "/metrics: wrong log size:\n%s", r.body);
	cr_expect(r.body && strstr(r.body, "mailroom_queue_depth{queue=\"general\"} 0\n"),
	          "/metrics: general not empty:\n%s", r.body);
	mr_http_free(&r);

	IT_DOWN();
}

/* Posts one message and returns its queue (caller frees). */
static char *queue_of(const char *json, char *id, size_t idlen)
{
	struct mr_http r;
	char *q;

	cr_assert_eq(mr_post_message(NULL, &env, json, &r), 0);
	cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
	json_t *j = it_json(&r);
	q = strdup(it_str(j, "queue") ? it_str(j, "queue") : "(none)");
	snprintf(id, idlen, "%s", it_str(j, "id") ? it_str(j, "id") : "");
	json_decref(j);
	mr_http_free(&r);
	return q;
}

/* The message now at the head of queue, as the handler sees it. */
static void expect_pulled(const char *queue, const char *id)
{
	char *out = NULL;
	int rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue", queue,
	                        "--wait", "2", NULL);

	cr_expect_eq(rc, 0, "pull --queue %s: exit %d: %s", queue, rc, out);
	if (rc == 0) {
		json_t *p = it_json_text(out);
		cr_expect_str_eq(it_str(p, "message.id") ? it_str(p, "message.id") : "", id,
		                 "queue %s served another message", queue);
		json_decref(p);
	}
	free(out);
}

Test(e2e, routing_rules, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	char id[32], *q;

	IT_UP(&o);

	/* Keyword rule: 路灯 in the body sends it to roads. */
	q = queue_of("{\"channel\":\"consultation\",\"subject\":\"夜间照明问题\","
	             "\"body\":\"幸福路口的路灯坏了三天了，晚上很黑。\"}",
	             id, sizeof(id));
	cr_expect_str_eq(q, "roads", "路灯 message routed to %s", q);
	free(q);
	expect_pulled("roads", id);

	/* Channel rule: any complaint goes to supervision. */
	q = queue_of("{\"channel\":\"complaint\",\"subject\":\"窗口工作人员态度问题\","
	             "\"body\":\"今天上午在办事大厅三号窗口办理业务时，工作人员态度恶劣。\"}",
	             id, sizeof(id));
	cr_expect_str_eq(q, "supervision", "complaint routed to %s", q);
	free(q);
	expect_pulled("supervision", id);

	/* Neither: the channel's default queue. */
	q = queue_of("{\"channel\":\"consultation\",\"subject\":\"社保卡办理\","
	             "\"body\":\"请问社保卡丢失后如何补办？\"}",
	             id, sizeof(id));
	cr_expect_str_eq(q, "general", "plain consultation routed to %s", q);
	free(q);
	expect_pulled("general", id);

	IT_DOWN();
}
