/* One flipped byte inside a stored audit record is found by the auditor,
 * who names the record; so is a stored message that no longer matches
 * the log. The store is edited with plain LMDB, as anyone with file
 * access could. */
#include "it.h"
#include "mailroom.pb-c.h"

#include <lmdb.h>
#include <signal.h>
#include <stdlib.h>

#define VICTIM 3

static void flip_record(const char *dir, uint64_t index)
{
	MDB_env *e;
	MDB_txn *t;
	MDB_dbi dbi;
	MDB_val k, v;
	uint8_t key[8];

	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)(index >> (56 - 8 * i));
	cr_assert_eq(mdb_env_create(&e), 0);
	cr_assert_eq(mdb_env_set_maxdbs(e, 32), 0);
	cr_assert_eq(mdb_env_set_mapsize(e, (size_t)1024 << 20), 0);
	cr_assert_eq(mdb_env_open(e, dir, 0, 0600), 0, "cannot open %s", dir);
	cr_assert_eq(mdb_txn_begin(e, NULL, 0, &t), 0);
	cr_assert_eq(mdb_dbi_open(t, "log", 0, &dbi), 0, "no 'log' database");
	k.mv_size = sizeof(key);
	k.mv_data = key;
	cr_assert_eq(mdb_get(t, dbi, &k, &v), 0, "no record %llu", (unsigned long long)index);
	uint8_t *copy = malloc(v.mv_size);
	cr_assert(copy);
	memcpy(copy, v.mv_data, v.mv_size);
	/* The middle of the value is inside the signed record, not its
	 * 64-byte signature, for any record longer than the signature. */
	cr_assert_gt(v.mv_size, 2 * 64, "record %llu is unexpectedly short", (unsigned long long)index);
	copy[v.mv_size / 2 - 32] ^= 0x01;
	v.mv_data = copy;
	cr_assert_eq(mdb_put(t, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(t), 0);
	mdb_env_close(e);
	free(copy);
}

Test(tamper, flipped_byte_named, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {0};
	struct mr_http r;
	char *out = NULL;

	IT_UP(&o);
	for (int i = 0; i < 4; i++) {
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "{\"channel\":\"mailbox\",\"subject\":\"第%d封信\",\"body\":\"审计日志篡改测试用的来信内容。\"}",
		         i + 1);
		cr_assert_eq(mr_post_message(NULL, &env, msg, &r), 0);
		cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
		mr_http_free(&r);
	}
	mr_proc_stop(&env, &env.gateway, SIGTERM);
	mr_proc_stop(&env, &env.router, SIGTERM);

	int rc = mr_audit_cmd(&env, &out, "verify", NULL);
	cr_assert_eq(rc, 0, "the untouched log does not verify: exit %d: %s", rc, out);
	free(out);

	flip_record(env.store, VICTIM);

	rc = mr_audit_cmd(&env, &out, "verify", NULL);
	cr_expect_neq(rc, 0, "a tampered log verified: %s", out);
	cr_expect(out && strstr(out, "record 3") != NULL, "the verdict does not name record 3: %s", out);
	free(out);

	rc = mr_audit_cmd(&env, &out, "verify", "--json", NULL);
	cr_expect_neq(rc, 0);
	json_t *j = json_loads(out ? out : "", 0, NULL);
	cr_expect(j && json_integer_value(json_object_get(j, "bad_index")) == VICTIM &&
	                  json_is_false(json_object_get(j, "ok")),
	          "--json verdict does not name record 3: %s", out);
	json_decref(j);
	free(out);

	/* A trail out of a tampered log is refused, not printed. */
	rc = mr_audit_cmd(&env, &out, "trail", "0000-0000-0000", NULL);
	cr_expect_neq(rc, 0);
	free(out);

	IT_DOWN();
}

/* ---- the stored messages against the log (verify --store) ----
 * Three letters, one answered; then one stored message is edited,
 * added or deleted with plain LMDB, leaving the signed log as it was. */

enum edit { EDIT, DELETE, COPY, GARBLE };

/* Applies fn to the stored message with tracking code code, and writes it
 * back (EDIT), drops it (DELETE), stores the edited copy beside it under
 * the id fn gave it (COPY), or replaces it by bytes that are no message
 * (GARBLE). */
static void edit_msg(const char *dir, const char *code, enum edit how,
                     void (*fn)(Mailroom__StoredMessage *m))
{
	MDB_env *e;
	MDB_txn *t;
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, done = 0;

	cr_assert_eq(mdb_env_create(&e), 0);
	cr_assert_eq(mdb_env_set_maxdbs(e, 32), 0);
	cr_assert_eq(mdb_env_set_mapsize(e, (size_t)1024 << 20), 0);
	cr_assert_eq(mdb_env_open(e, dir, 0, 0600), 0, "cannot open %s", dir);
	cr_assert_eq(mdb_txn_begin(e, NULL, 0, &t), 0);
	cr_assert_eq(mdb_dbi_open(t, "msg", 0, &dbi), 0, "no 'msg' database");
	cr_assert_eq(mdb_cursor_open(t, dbi, &c), 0);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !done;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		Mailroom__StoredMessage *m = mailroom__stored_message__unpack(NULL, v.mv_size, v.mv_data);
		cr_assert(m, "a stored message does not parse");
		if (strcmp(m->tracking_code, code) == 0) {
			done = 1;
			if (how == DELETE) {
				cr_assert_eq(mdb_cursor_del(c, 0), 0);
			} else if (how == GARBLE) {
				/* Field 1 as a varint: protobuf-c refuses it. */
				static uint8_t junk[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
				MDB_val nv = {sizeof(junk), junk};
				cr_assert_eq(mdb_put(t, dbi, &k, &nv, 0), 0);
			} else {
				/* A shallow copy takes the edits, so that m is
				 * freed as it was unpacked. */
				Mailroom__StoredMessage edited = *m;
				uint8_t *buf, id[16];
				size_t len;
				/* The id is the key's, not in the value (store/README.md). */
				cr_assert_eq(k.mv_size, sizeof(id));
				memcpy(id, k.mv_data, sizeof(id));
				edited.id.data = id;
				edited.id.len = sizeof(id);
				fn(&edited);
				edited.id.len = 0;
				len = mailroom__stored_message__get_packed_size(&edited);
				cr_assert((buf = malloc(len)));
				mailroom__stored_message__pack(&edited, buf);
				MDB_val nk = {sizeof(id), id}, nv = {len, buf};
				cr_assert_eq(mdb_put(t, dbi, how == COPY ? &nk : &k, &nv, 0), 0);
				free(buf);
			}
		}
		mailroom__stored_message__free_unpacked(m, NULL);
	}
	mdb_cursor_close(c);
	cr_assert(done, "no stored message %s", code);
	cr_assert_eq(mdb_txn_commit(t), 0);
	mdb_env_close(e);
}

static const struct mr_handler_spec clerk[] = {{"clerk", "general"}};

struct letters {
	char code[3][32];
	char id[3][32];
};

/* Three letters to the general queue; the first is answered 已处理。. */
static void three_letters(struct letters *L)
{
	const struct mr_opts o = {.handlers = clerk, .nhandlers = 1};
	struct mr_http r;
	char *out = NULL;

	IT_UP(&o);
	for (int i = 0; i < 3; i++) {
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "{\"channel\":\"mailbox\",\"subject\":\"第%d封信\",\"body\":\"小区门口的垃圾桶满了。\"}",
		         i + 1);
		cr_assert_eq(mr_post_message(NULL, &env, msg, &r), 0);
		cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
		json_t *j = it_json(&r);
		snprintf(L->code[i], sizeof(L->code[i]), "%s", it_str(j, "tracking_code"));
		snprintf(L->id[i], sizeof(L->id[i]), "%s", it_str(j, "id"));
		json_decref(j);
		mr_http_free(&r);
	}
	cr_assert_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue", "general",
	                            "--wait", "5", NULL),
	             0, "pull: %s", out);
	cr_assert(out && strstr(out, L->id[0]), "pulled another letter: %s", out);
	free(out);
	cr_assert_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "reply", L->id[0], "--text",
	                            "已处理。", NULL),
	             0, "reply: %s", out);
	free(out);
	mr_proc_stop(&env, &env.gateway, SIGTERM);
	mr_proc_stop(&env, &env.router, SIGTERM);
}

/* verify --store fails with exit 30, naming the message and the field,
 * in text and in JSON. */
static void expect_store_fail(const char *id, const char *code, const char *field)
{
	char *out = NULL;
	int rc = mr_audit_cmd(&env, &out, "verify", NULL);

	cr_expect_eq(rc, 30, "verify --store: exit %d, not 30: %s", rc, out);
	cr_expect(out && strstr(out, "FAIL store") && strstr(out, id), "verdict does not name %s: %s",
	          id, out);
	if (code)
		cr_expect(out && strstr(out, code), "verdict does not name %s: %s", code, out);
	cr_expect(out && strstr(out, field), "verdict does not name the field %s: %s", field, out);
	free(out);

	rc = mr_audit_cmd(&env, &out, "verify", "--json", NULL);
	cr_expect_eq(rc, 30, "verify --store --json: exit %d: %s", rc, out);
	json_t *j = json_loads(out ? out : "", 0, NULL);
	cr_expect(j && json_is_false(json_object_get(j, "ok")) &&
	                  strcmp(it_str(j, "fail") ? it_str(j, "fail") : "", "store") == 0 &&
	                  strcmp(it_str(j, "id") ? it_str(j, "id") : "", id) == 0 &&
	                  strcmp(it_str(j, "field") ? it_str(j, "field") : "", field) == 0,
	          "--json verdict: %s", out);
	if (code)
		cr_expect_str_eq(it_str(j, "tracking_code") ? it_str(j, "tracking_code") : "", code);
	json_decref(j);
	free(out);
}

static void untampered_ok(void)
{
	char *out = NULL;
	int rc = mr_audit_cmd(&env, &out, "verify", NULL);

	cr_assert_eq(rc, 0, "the untouched store does not verify: exit %d: %s", rc, out);
	free(out);
}

static void other_body(Mailroom__StoredMessage *m)
{
	m->body = "小区门口的垃圾桶已经清空了。";
}

static void other_reply(Mailroom__StoredMessage *m)
{
	m->reply_text = "未处理。";
}

static void other_queue(Mailroom__StoredMessage *m)
{
	m->queue = "roads";
}

static void unanswered(Mailroom__StoredMessage *m)
{
	m->status = MAILROOM__STATUS__STATUS_QUEUED;
}

static void another_id(Mailroom__StoredMessage *m)
{
	m->id.data[15] ^= 0x01;
	m->tracking_code = "0000-0000-0000";
}

Test(storecheck, untampered_store_passes, .init = it_init, .fini = it_fini, .timeout = 120)
{
	struct letters L;
	char *out = NULL;

	three_letters(&L);
	int rc = mr_audit_cmd(&env, &out, "verify", NULL);
	cr_expect_eq(rc, 0, "verify: exit %d: %s", rc, out);
	cr_expect(out && strstr(out, "store: 3 messages match the log"), "%s", out);
	free(out);
	rc = mr_audit_cmd(&env, &out, "trail", L.code[0], NULL);
	cr_expect_eq(rc, 0, "trail: exit %d: %s", rc, out);
	free(out);
	IT_DOWN();
}

Test(storecheck, changed_body, .init = it_init, .fini = it_fini, .timeout = 120)
{
	struct letters L;

	three_letters(&L);
	untampered_ok();
	edit_msg(env.store, L.code[1], EDIT, other_body);
	expect_store_fail(L.id[1], L.code[1], "subject or body");
	IT_DOWN();
}

Test(storecheck, changed_reply, .init = it_init, .fini = it_fini, .timeout = 120)
{
	struct letters L;
	char *out = NULL;

	three_letters(&L);
	untampered_ok();
	edit_msg(env.store, L.code[0], EDIT, other_reply);
	expect_store_fail(L.id[0], L.code[0], "reply_text");

	/* trail shows the records, then the same verdict. */
	int rc = mr_audit_cmd(&env, &out, "trail", L.code[0], NULL);
	cr_expect_eq(rc, 30, "trail: exit %d: %s", rc, out);
	cr_expect(out && strstr(out, "REPLIED") && strstr(out, "FAIL store") && strstr(out, "reply_text"),
	          "trail: %s", out);
	free(out);
	/* Another message's trail is not concerned. */
	rc = mr_audit_cmd(&env, &out, "trail", L.code[2], NULL);
	cr_expect_eq(rc, 0, "trail of an untouched message: exit %d: %s", rc, out);
	free(out);
	IT_DOWN();
}

Test(storecheck, changed_queue, .init = it_init, .fini = it_fini, .timeout = 120)
{
	struct letters L;

	three_letters(&L);
	untampered_ok();
	edit_msg(env.store, L.code[2], EDIT, other_queue);
	expect_store_fail(L.id[2], L.code[2], "queue");
	IT_DOWN();
}

Test(storecheck, changed_status, .init = it_init, .fini = it_fini, .timeout = 120)
{
	struct letters L;

	three_letters(&L);
	untampered_ok();
	edit_msg(env.store, L.code[0], EDIT, unanswered);
	expect_store_fail(L.id[0], L.code[0], "status");
	IT_DOWN();
}

Test(storecheck, deleted_message, .init = it_init, .fini = it_fini, .timeout = 120)
{
	struct letters L;

	three_letters(&L);
	untampered_ok();
	edit_msg(env.store, L.code[1], DELETE, NULL);
	/* Gone from the store: the log still knows its id. */
	expect_store_fail(L.id[1], NULL, "message");
	IT_DOWN();
}

Test(storecheck, message_not_in_log, .init = it_init, .fini = it_fini, .timeout = 120)
{
	struct letters L;
	char *out = NULL;

	three_letters(&L);
	untampered_ok();
	edit_msg(env.store, L.code[2], COPY, another_id);
	int rc = mr_audit_cmd(&env, &out, "verify", NULL);
	cr_expect_eq(rc, 30, "a message the log never received verified: exit %d: %s", rc, out);
	cr_expect(out && strstr(out, "0000-0000-0000") && strstr(out, "no RECEIVED record"), "%s", out);
	free(out);
	IT_DOWN();
}

Test(storecheck, garbled_message, .init = it_init, .fini = it_fini, .timeout = 120)
{
	struct letters L;
	char *out = NULL;

	three_letters(&L);
	untampered_ok();
	edit_msg(env.store, L.code[1], GARBLE, NULL);
	int rc = mr_audit_cmd(&env, &out, "verify", NULL);
	cr_expect_eq(rc, 30, "a stored value that is no message: exit %d: %s", rc, out);
	cr_expect(out && strstr(out, "FAIL store") && strstr(out, "does not parse"), "%s", out);
	free(out);
	IT_DOWN();
}
