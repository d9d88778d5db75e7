/* mailroom-audit as a process, against a store built here and then
 * tampered with through raw LMDB. */
#include "helpers.h"
#include "pb_conf.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

TestSuite(audit, .init = tdir_setup, .fini = tdir_teardown, .timeout = 60);

static struct run r;
static struct fixture_store fs;

#define RUN(...)                                                      \
	do {                                                              \
		const char *const av_[] = {"mailroom-audit", __VA_ARGS__, NULL}; \
		run_prog(&r, AUDIT_BIN, av_);                                 \
	} while (0)

#define out_json() run_json(&r)
#define CAL "--calendars", MR_SOURCE_DIR "/deploy/calendars"

static int count_lines(const char *s, const char *prefix)
{
	int n = 0;
	size_t len = strlen(prefix);

	for (const char *p = s; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, len) == 0)
			n++;
	return n;
}

Test(audit, verify_ok_trusting_record0)
{
	char want[128];

	store_build(&fs, NULL);
	RUN("verify", "--store", fs.dir, CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	/* One checkpoint for the new store, one for the commit that followed. */
	snprintf(want, sizeof(want), "ok: %llu records, 2 checkpoints, head ",
	         (unsigned long long)fs.records);
	cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
	cr_assert(strstr(r.out, "key mailroom.test/log\n"), "%s", r.out);
	cr_assert(strstr(r.out, "taken from record 0"), "says what it trusted: %s", r.out);
	cr_assert(strstr(r.out, "mailroom.test/log+"), "key name and fingerprint: %s", r.out);
}

Test(audit, verify_ok_with_pubkey_and_json)
{
	json_t *j;

	store_build(&fs, NULL);
	RUN("verify", "--store", fs.dir, "--pubkey", fs.pubkey, CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "matches"), "%s", r.out);
	cr_assert_null(strstr(r.out, "record 0"), "%s", r.out);

	RUN("verify", "--json", "--store", fs.dir, "--pubkey", fs.pubkey, CAL);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	j = out_json();
	cr_assert(json_is_true(json_object_get(j, "ok")));
	cr_assert_eq(json_integer_value(json_object_get(j, "records")), (json_int_t)fs.records);
	cr_assert_str_eq(json_string_value(json_object_get(j, "trusted")), "pubkey");
	cr_assert_str_eq(json_string_value(json_object_get(j, "key")), "mailroom.test/log");
	cr_assert_eq(strlen(json_string_value(json_object_get(j, "head"))), 64);
	json_decref(j);
}

/* No calendars to check deadlines on: the log verifies, the verdict line
 * says the deadlines were not checked, and the exit is 31, unless the
 * auditor says --no-deadlines. */
Test(audit, verify_without_calendars_exits_31_unless_no_deadlines)
{
	char want[128];
	json_t *j;

	store_build(&fs, NULL);
	RUN("verify", "--store", fs.dir);
	cr_assert_eq(r.exit, 31, "%s%s", r.out, r.err);
	snprintf(want, sizeof(want), "ok, deadlines not checked: %llu records, 2 checkpoints, head ",
	         (unsigned long long)fs.records);
	cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
	cr_assert(strstr(r.out, "warning: deadlines not checked: no calendars in deploy/calendars"),
	          "%s", r.out);
	RUN("verify", "--store", fs.dir, "--json");
	cr_assert_eq(r.exit, 31, "%s%s", r.out, r.err);
	j = out_json();
	cr_assert_str_eq(json_string_value(json_object_get(j, "deadlines")), "not_checked");
	json_decref(j);

	RUN("verify", "--store", fs.dir, "--no-deadlines");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	snprintf(want, sizeof(want), "ok: %llu records, ", (unsigned long long)fs.records);
	cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
	cr_assert(strstr(r.out, "warning: deadlines not checked (--no-deadlines)"), "%s", r.out);
	RUN("verify", "--store", fs.dir, "--no-deadlines", CAL);
	cr_assert_eq(r.exit, 1, "the two exclude each other");
	RUN("export", "--store", fs.dir, "--out", "x.bundle", "--no-deadlines");
	cr_assert_eq(r.exit, 1, "verify only");
	/* A broken log still fails with its own class. */
	store_flip(fs.dir, 3, -1);
	RUN("verify", "--store", fs.dir);
	cr_assert_eq(r.exit, 18, "%s%s", r.out, r.err);
}

Test(audit, verify_against_another_key_exit_14)
{
	struct fixture_store other;

	store_build(&fs, NULL);
	store_build(&other, "second");   /* its own keys */
	RUN("verify", "--store", fs.dir, "--pubkey", other.pubkey);
	cr_assert_eq(r.exit, 14, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "FAIL key: record 0: "), "%s", r.out);
}

/* No record is signed: a changed one is no longer the tree its checkpoint
 * signs, and the next record's prev_hash names it. */
Test(audit, rewritten_record_exit_18_names_record)
{
	char want[64];

	store_build(&fs, NULL);
	store_flip(fs.dir, 3, -1);
	RUN("verify", "--store", fs.dir);
	cr_assert_eq(r.exit, 18, "%s%s", r.out, r.err);
	snprintf(want, sizeof(want), "FAIL root: record 3: ");
	cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
}

Test(audit, flipped_body_fails_at_that_record)
{
	json_t *j;

	store_build(&fs, NULL);
	/* Past the first bytes (index, prev_hash): inside the record's text. */
	store_flip(fs.dir, 2, 60);
	RUN("verify", "--store", fs.dir, "--json");
	cr_assert_neq(r.exit, 0);
	cr_assert_geq(r.exit, 10, "a verify class, not a crash: %d %s", r.exit, r.err);
	cr_assert_leq(r.exit, 18);
	j = out_json();
	cr_assert(json_is_false(json_object_get(j, "ok")));
	cr_assert_eq(json_integer_value(json_object_get(j, "bad_index")), 2, "%s", r.out);
	json_decref(j);
}

Test(audit, trail_by_tracking_code)
{
	store_build(&fs, NULL);
	RUN("trail", fs.track, "--store", fs.dir);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, fs.idt), "%s", r.out);
	cr_assert(strstr(r.out, " RECEIVED actor=gateway queue=general due="), "%s", r.out);
	cr_assert(strstr(r.out, " ROUTED actor=router"), "%s", r.out);
	cr_assert(strstr(r.out, " LEASED actor=handler:alice queue=general"), "%s", r.out);
	cr_assert(strstr(r.out, " TRANSFERRED actor=handler:alice queue=roads from_queue=general"),
	          "%s", r.out);
	cr_assert(strstr(r.out, " REPLIED actor=handler:bob"), "%s", r.out);
	cr_assert(strstr(r.out, "content_hash="), "%s", r.out);
	cr_assert(strstr(r.out, "+08:00"), "%s", r.out);
	cr_assert(strstr(r.out, "detail=属地管理??[31mred"), "no control bytes: %s", r.out);
	cr_assert_null(strstr(r.out, "other-queue"), "another message's record: %s", r.out);
	cr_assert_null(strchr(r.out, '\x1b'));
	for (int i = 0; i < fs.nmsg; i++) {
		char idx[32];
		/* The other message's records sit after the second of ours. */
		snprintf(idx, sizeof(idx), "%llu ", (unsigned long long)fs.msg_at[i]);
		cr_assert_eq(count_lines(r.out, idx), 1, "record %s in %s", idx, r.out);
	}
	cr_assert_eq(fs.msg_at[2], fs.msg_at[1] + 3);
}

Test(audit, trail_by_id_json_and_code_spellings)
{
	char digits[16];
	json_t *j, *recs;
	int n = 0;

	store_build(&fs, NULL);
	RUN("trail", "--json", "--store", fs.dir, fs.idt);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	j = out_json();
	cr_assert_str_eq(jstr(j, "message", "tracking_code"), fs.track);
	cr_assert_str_eq(jstr(j, "message", "status"), "replied");
	recs = json_object_get(j, "records");
	cr_assert_eq(json_array_size(recs), (size_t)fs.nmsg);
	cr_assert_str_eq(jstr(json_array_get(recs, 0), "event", NULL), "RECEIVED");
	cr_assert_str_eq(jstr(json_array_get(recs, 3), "detail", NULL), "属地管理\n\x1b[31mred");
	cr_assert_eq(strlen(jstr(json_array_get(recs, 5), "content_hash", NULL)), 64);
	cr_assert_eq(strlen(jstr(json_array_get(recs, 0), "content_hash", NULL)), 64);
	cr_assert(json_is_null(json_object_get(json_array_get(recs, 1), "content_hash")));
	cr_assert(json_is_true(json_object_get(json_object_get(j, "store"), "ok")));
	json_decref(j);

	/* Digits without dashes, and a lower-case id, find the same message. */
	for (const char *p = fs.track; *p; p++)
		if (*p != '-')
			digits[n++] = *p;
	digits[n] = '\0';
	RUN("trail", digits, "--store", fs.dir);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	char lower[PB_ID_TEXT_LEN + 1];
	for (int i = 0; i <= PB_ID_TEXT_LEN; i++)
		lower[i] = (char)tolower((unsigned char)fs.idt[i]);
	RUN("trail", lower, "--store", fs.dir);
	cr_assert_eq(r.exit, 0, "%s", r.err);
}

Test(audit, trail_refuses_tampered_log)
{
	store_build(&fs, NULL);
	store_flip(fs.dir, 4, -10);
	RUN("trail", fs.track, "--store", fs.dir);
	cr_assert_eq(r.exit, 13, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "FAIL signature: record 4: "), "%s", r.out);
	cr_assert_null(strstr(r.out, "RECEIVED"), "no trail from a bad log: %s", r.out);
}

Test(audit, trail_unknown_and_invalid)
{
	char code[16] = "0000-0000-0000";   /* Damm check digit of zeros is 0 */
	uint8_t id[16];
	char idt[PB_ID_TEXT_LEN + 1];

	store_build(&fs, NULL);
	RUN("trail", code, "--store", fs.dir);
	cr_assert_eq(r.exit, 4, "%s%s", r.out, r.err);
	pb_id_new(1, id);
	pb_id_to_text(id, idt);
	RUN("trail", idt, "--store", fs.dir, "--json");
	cr_assert_eq(r.exit, 4, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "\"not_found\""), "%s", r.out);
	RUN("trail", "1234-5678-9013", "--store", fs.dir);
	cr_assert_eq(r.exit, 8, "bad check digit: %s", r.err);
	RUN("trail", "hello", "--store", fs.dir);
	cr_assert_eq(r.exit, 8);
}

Test(audit, usage_and_open_errors)
{
	RUN("verify");
	cr_assert_eq(r.exit, 1, "no --store");
	RUN("frobnicate");
	cr_assert_eq(r.exit, 1);
	RUN("verify", "--store", "x", "--bogus");
	cr_assert_eq(r.exit, 1);
	RUN("trail", "--store", "x");
	cr_assert_eq(r.exit, 1, "no code");
	RUN("verify", "--store", "no-such-store");
	cr_assert_eq(r.exit, 2, "%s", r.err);
	RUN("verify", "--store", "no-such-store", "--json");
	cr_assert_eq(r.exit, 2);
	cr_assert(strstr(r.out, "\"error\""), "%s", r.out);
	RUN("--help");
	cr_assert_eq(r.exit, 0);
	cr_assert(strstr(r.out, "verify"));
	cr_assert(strstr(r.out, "trail"));

	store_build(&fs, NULL);
	RUN("verify", "--store", fs.dir, "--pubkey", "no-such.pub");
	cr_assert_eq(r.exit, 2, "%s", r.err);
	FILE *f = fopen(tpath("bad.pub"), "w");
	cr_assert_not_null(f);
	fputs("not a key\n", f);
	fclose(f);
	RUN("verify", "--store", fs.dir, "--pubkey", "bad.pub");
	cr_assert_eq(r.exit, 8, "%s", r.err);
}

Test(audit, works_while_a_writer_has_it_open)
{
	struct pb_conf *c = calloc(1, sizeof(*c));
	struct st_keys keys;
	st_env *env;
	int created;

	store_build(&fs, NULL);
	cr_assert_not_null(c);
	pb_conf_defaults(c);
	snprintf(c->signing_key, sizeof(c->signing_key), "%s/keys/store.key", tdir);
	snprintf(c->data_key, sizeof(c->data_key), "%s/keys/data.key", tdir);
	snprintf(c->log_origin, sizeof(c->log_origin), "mailroom.test/log");
	cr_assert_eq(st_keys_load_or_create(c, &keys, &created), 0);
	cr_assert_eq(st_open(fs.dir, 16, 0, &keys, &env), 0);
	RUN("verify", "--store", fs.dir, "--pubkey", fs.pubkey, CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	st_close(env);
	free(c);
}

/* ---- trail --data-key: the sealed texts beside their commitments ---- */

/* A message with a transfer (reason) and an extension (approver, reason),
 * each text committed in the record and sealed under the record's index.
 * Returns the extension's index. */
static uint64_t texts_store_build(void)
{
	Mailroom__StoredMessage m = MAILROOM__STORED_MESSAGE__INIT;
	Mailroom__RecordTexts x = MAILROOM__RECORD_TEXTS__INIT;
	uint8_t salt[ST_SALT_LEN], c1[ST_HASH_LEN], c2[ST_HASH_LEN], *plain, *sealed;
	size_t len, slen;
	int64_t now = pb_now_ms();
	st_env *env = store_create(&fs, NULL);
	st_txn *t;

	pb_id_new(now, fs.id);
	pb_id_to_text(fs.id, fs.idt);
	randombytes_buf(salt, sizeof(salt));
	cr_assert_eq(st_txn_begin(env, NULL, 0, &t), PB_OK);
	m.id.data = fs.id;
	m.id.len = 16;
	m.channel = MAILROOM__CHANNEL__CHANNEL_MAILBOX;
	/* Stored as the router leaves it, so the store check holds. */
	m.status = MAILROOM__STATUS__STATUS_QUEUED;
	m.queue = "general";
	m.subject = "路灯";
	m.body = "东门路灯不亮";
	m.text_salt.data = salt;
	m.text_salt.len = sizeof(salt);
	cr_assert_eq(st_msg_put(t, &m), PB_OK);

	Mailroom__AuditRecord r = MAILROOM__AUDIT_RECORD__INIT;
	uint8_t ch[ST_HASH_LEN];
	st_submit_hash(salt, m.subject, m.body, ch);
	r.content_hash.data = ch;
	r.content_hash.len = sizeof(ch);
	r.time_ms = now;
	r.actor = "gateway";
	r.event = MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED;
	r.message_id = m.id;
	r.channel = m.channel;
	r.queue = "general";
	cr_assert_eq(st_log_append(t, &r, NULL), PB_OK);
	r.content_hash.data = NULL;
	r.content_hash.len = 0;

	for (int i = 0; i < 2; i++) {
		r.actor = "handler:0123456789abcdef";
		r.event = i ? MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_EXTENDED
		            : MAILROOM__AUDIT_EVENT__AUDIT_TRANSFERRED;
		mailroom__record_texts__init(&x);
		x.salt.data = salt;
		x.salt.len = sizeof(salt);
		x.detail = i ? "需调取档案-乙" : "属地管理-甲";
		st_text_commit(salt, "detail", x.detail, strlen(x.detail), c1);
		r.detail_commit.data = c1;
		r.detail_commit.len = sizeof(c1);
		if (i) {
			x.approver = "钱主任";
			st_text_commit(salt, "approver", x.approver, strlen(x.approver), c2);
			r.approver_commit.data = c2;
			r.approver_commit.len = sizeof(c2);
		}
		cr_assert_eq(st_log_append(t, &r, NULL), PB_OK);
		len = mailroom__record_texts__get_packed_size(&x);
		plain = malloc(len);
		cr_assert_not_null(plain);
		mailroom__record_texts__pack(&x, plain);
		cr_assert_eq(st_seal(env, plain, len, &sealed, &slen), PB_OK);
		cr_assert_eq(st_texts_put(t, r.index, sealed, slen), PB_OK);
		free(plain);
		free(sealed);
	}
	cr_assert_eq(st_txn_commit(t), PB_OK);
	st_close(env);
	return r.index;
}

/* Replaces the sealed texts of record index, as someone with the data key
 * and write access to the files could. */
static void texts_tamper(uint64_t index, const char *field, const char *text)
{
	Mailroom__RecordTexts *x;
	uint8_t key[32], kbuf[8], *plain, *sealed;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {sizeof(kbuf), kbuf}, v;
	size_t len;

	cr_assert_eq(pb_secret_load(tpath("keys/data.key"), key, sizeof(key)), PB_OK);
	for (int i = 0; i < 8; i++)
		kbuf[i] = (uint8_t)(index >> (56 - 8 * i));
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 32), 0);
	cr_assert_eq(mdb_env_open(env, fs.dir, 0, 0600), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "texts", 0, &dbi), 0);
	cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0);
	len = v.mv_size - crypto_secretbox_MACBYTES - crypto_secretbox_NONCEBYTES;
	plain = malloc(len);
	cr_assert_not_null(plain);
	cr_assert_eq(crypto_secretbox_open_easy(plain, (uint8_t *)v.mv_data + crypto_secretbox_NONCEBYTES,
	                                        v.mv_size - crypto_secretbox_NONCEBYTES, v.mv_data, key),
	             0);
	x = mailroom__record_texts__unpack(NULL, len, plain);
	cr_assert_not_null(x);
	free(plain);
	free(strcmp(field, "detail") == 0 ? x->detail : x->approver);
	*(strcmp(field, "detail") == 0 ? &x->detail : &x->approver) = strdup(text);
	len = mailroom__record_texts__get_packed_size(x);
	plain = malloc(len);
	sealed = malloc(len + crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES);
	cr_assert(plain && sealed);
	mailroom__record_texts__pack(x, plain);
	mailroom__record_texts__free_unpacked(x, NULL);
	randombytes_buf(sealed, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(sealed + crypto_secretbox_NONCEBYTES, plain, len, sealed, key);
	v.mv_data = sealed;
	v.mv_size = len + crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(plain);
	free(sealed);
}

Test(audit, trail_shows_sealed_texts_and_reports_a_tampered_one)
{
	uint64_t ext = texts_store_build();

	/* Without the key: commitments only, never the texts. */
	RUN("trail", fs.idt, "--store", fs.dir);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, " detail_commit="), "%s", r.out);
	cr_assert(strstr(r.out, " approver_commit="), "%s", r.out);
	cr_assert_null(strstr(r.out, "钱主任"), "%s", r.out);
	cr_assert_null(strstr(r.out, "属地管理"), "%s", r.out);

	/* With it: each text beside its commitment, all matching. */
	RUN("trail", fs.idt, "--store", fs.dir, "--data-key", tpath("keys/data.key"));
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, " detail=属地管理-甲 (matches)"), "%s", r.out);
	cr_assert(strstr(r.out, " approver=钱主任 (matches)"), "%s", r.out);
	cr_assert_null(strstr(r.out, "MISMATCH"), "%s", r.out);

	/* A stored approver changed afterwards is named, with its own exit. */
	texts_tamper(ext, "approver", "孙主任");
	RUN("trail", fs.idt, "--store", fs.dir, "--data-key", tpath("keys/data.key"));
	cr_assert_eq(r.exit, 32, "%d %s%s", r.exit, r.out, r.err);
	cr_assert(strstr(r.out, " approver=孙主任 MISMATCH"), "%s", r.out);
	cr_assert(strstr(r.out, " detail=需调取档案-乙 (matches)"), "%s", r.out);
	cr_assert(strstr(r.err, "do not match"), "%s", r.err);

	RUN("trail", fs.idt, "--store", fs.dir, "--data-key", tpath("keys/data.key"), "--json");
	cr_assert_eq(r.exit, 32, "%s%s", r.out, r.err);
	json_t *j = out_json();
	cr_assert_eq(json_integer_value(json_object_get(j, "text_mismatches")), 1, "%s", r.out);
	json_decref(j);

	/* A wrong key opens nothing: every commitment is unmatched. */
	FILE *f = fopen(tpath("other.key"), "w");
	cr_assert_not_null(f);
	fprintf(f, "%064d\n", 7);
	fclose(f);
	cr_assert_eq(chmod(tpath("other.key"), 0600), 0);
	RUN("trail", fs.idt, "--store", fs.dir, "--data-key", tpath("other.key"));
	cr_assert_eq(r.exit, 32, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, " detail=(none stored) MISMATCH"), "%s", r.out);
}
