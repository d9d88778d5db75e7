/* mailroom-audit across a log key rotation, as processes: verify of the
 * store and of a bundle under the first key, the new one or none;
 * verify-receipt and consistency with the rotation proven by --rotation;
 * the witness following the rotation through the log server; and each
 * way a rotation can be got wrong, refused with its own class. */
#include "helpers.h"
#include "tlog.h"
#include "pb_err.h"
#include "sn.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fini(void)
{
	tl_srv_stop();
	tdir_teardown();
}

TestSuite(tlog_rotate, .init = tdir_setup, .fini = fini, .timeout = 120);

static struct run r;
static struct tl_store s;
static uint64_t rot;        /* the rotation record's index */
static uint64_t before_cp;  /* the last checkpoint before it */

#define RUN(...)                                                         \
	do {                                                                 \
		const char *const av_[] = {"mailroom-audit", __VA_ARGS__, NULL}; \
		run_prog(&r, AUDIT_BIN, av_);                                    \
	} while (0)
#define CAL "--calendars", TL_CALENDARS

static int starts(const char *str, const char *prefix)
{
	return strncmp(str, prefix, strlen(prefix)) == 0;
}

static char *slurp_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 1 << 16);
	size_t n;

	cr_assert(f && buf, "%s", path);
	n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int count_lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* Six messages' histories under the first key, a rotation, four more
 * under the new one; every batch checkpointed. Returns the log's size. */
static uint64_t build(void)
{
	tl_create(&s, NULL);
	tl_history(&s, 6);
	before_cp = tl_size(&s);
	rot = tl_rotate(&s, 1);
	cr_assert_eq(rot, before_cp);
	tl_history(&s, 4);
	uint64_t n = tl_size(&s);
	tl_close_env(&s);
	return n;
}

/* verify of the store and of a bundle exported from it, both failing with
 * code and a line starting with line. */
static void expect_both(const char *pubkey, int code, const char *line)
{
	RUN("verify", "--store", s.dir, "--pubkey", pubkey, CAL);
	cr_assert_eq(r.exit, code, "store: %s%s", r.out, r.err);
	cr_assert(starts(r.out, line), "store: wanted '%s', got: %s", line, r.out);
	RUN("export", "--store", s.dir, "--out", "log.bundle");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	RUN("verify", "log.bundle", "--pubkey", pubkey, CAL);
	cr_assert_eq(r.exit, code, "bundle: %s%s", r.out, r.err);
	cr_assert(starts(r.out, line), "bundle: wanted '%s', got: %s", line, r.out);
}

Test(tlog_rotate, store_and_bundle_verify_under_either_key)
{
	char want[200];
	uint64_t n = build();
	json_t *j, *rots;

	snprintf(want, sizeof(want), "rotation: record %llu hands the log from " TL_ORIGIN "+",
	         (unsigned long long)rot);
	expect_both(s.pubkey, 0, "ok: ");
	cr_assert(strstr(r.out, want), "%s", r.out);
	cr_assert(strstr(r.out, "\nkey: " TL_ORIGIN "+"), "%s", r.out);
	expect_both(s.newpub, 0, "ok: ");
	cr_assert(strstr(r.out, want), "%s", r.out);

	/* Trusting record 0: the rotation is listed in JSON. */
	RUN("verify", "--store", s.dir, "--json", CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	j = run_json(&r);
	cr_assert_eq(json_integer_value(json_object_get(j, "records")), (json_int_t)n);
	rots = json_object_get(j, "rotations");
	cr_assert_eq(json_array_size(rots), 1, "%s", r.out);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(rots, 0), "index")),
	             (json_int_t)rot);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(rots, 0), "from")),
	             (json_int_t)rot + 1);
	json_decref(j);

	RUN("export", "--store", s.dir, "--out", "log.bundle");
	cr_assert(strstr(r.out, " 2 keys to "), "both keys in the bundle: %s", r.out);

	/* trail and overdue take the store's own walk (st_verify). */
	RUN("overdue", "--store", s.dir, "--pubkey", s.newpub, CAL, "--now",
	    "2025-03-03T09:00:00+08:00");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	RUN("overdue", "--store", s.dir, "--pubkey", s.pubkey, CAL, "--now",
	    "2025-03-03T09:00:00+08:00");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
}

/* ---- each way to get a rotation wrong ---- */

static void tampered(int code, const char *prefix, uint64_t at, const char *what)
{
	char want[200];

	snprintf(want, sizeof(want), "%s %llu: ", prefix, (unsigned long long)at);
	expect_both(s.pubkey, code, want);
	cr_assert(strstr(r.out, what), "wanted '%s': %s", what, r.out);
}

Test(tlog_rotate, checkpoint_before_rotation_signed_by_new_key)
{
	build();
	tl_raw_resign_checkpoint(s.dir, before_cp, TL_ORIGIN, s.keys.sign_sk);
	tampered(20, "FAIL checkpoint: checkpoint", before_cp, "");
}

/* The handover signed by the new key alone: nothing the key in force
 * signed holds the record that names it. */
Test(tlog_rotate, handover_signed_by_new_key_only)
{
	build();
	tl_raw_resign_checkpoint(s.dir, rot + 1, TL_ORIGIN, s.keys.sign_sk);
	tampered(14, "FAIL key: record", rot, "a key cannot authorise itself");
	/* Trusting record 0 without --pubkey changes nothing. */
	RUN("verify", "--store", s.dir, CAL);
	cr_assert_eq(r.exit, 14, "%s%s", r.out, r.err);
	/* Nor does trusting the new key. */
	RUN("verify", "--store", s.dir, "--pubkey", s.newpub, CAL);
	cr_assert_eq(r.exit, 14, "%s%s", r.out, r.err);
}

static void from_plus_one(Mailroom__AuditRecord *rec)
{
	rec->key_from_size++;
}

Test(tlog_rotate, rotation_record_key_from_size_wrong)
{
	build();
	tl_raw_rewrite(s.dir, rot, from_plus_one);
	tampered(14, "FAIL key: record", rot, "key_from_size");
}

Test(tlog_rotate, checkpoint_after_rotation_signed_by_old_key_only)
{
	uint64_t n = build();

	tl_raw_resign_checkpoint(s.dir, n, TL_ORIGIN, s.old.sign_sk);
	tampered(20, "FAIL checkpoint: checkpoint", n, "signed only by the retired key");
}

/* A log whose handover the outgoing key did not sign (tl_rotate without
 * dual): the rotation is not authorised, under either key. */
Test(tlog_rotate, handover_without_the_outgoing_key)
{
	char want[64];

	tl_create(&s, NULL);
	tl_history(&s, 4);
	rot = tl_rotate(&s, 0);
	tl_close_env(&s);
	snprintf(want, sizeof(want), "FAIL key: record %llu: ", (unsigned long long)rot);
	expect_both(s.pubkey, 14, want);
	expect_both(s.newpub, 14, want);
}

/* ---- verify-receipt and consistency, the rotation proven ---- */

static uint64_t proof_files(void)
{
	uint64_t n = build();

	cr_assert_eq(tl_save_checkpoint(s.dir, 0, tpath("cp.txt")), n);
	tl_save_checkpoint(s.dir, before_cp, tpath("old.txt"));
	tl_save_inclusion(s.dir, rot, rot + 1, tpath("rotation.json"));
	/* record 1, under the first key; the last one, under the new */
	tl_save_receipt(s.dir, &s.old, 1, tpath("before.json"));
	tl_save_inclusion(s.dir, 1, n, tpath("before.proof"));
	tl_save_entry(s.dir, 1, tpath("before.b64"));
	tl_save_receipt(s.dir, &s.keys, n - 1, tpath("after.json"));
	tl_save_inclusion(s.dir, n - 1, n, tpath("after.proof"));
	tl_save_entry(s.dir, n - 1, tpath("after.b64"));
	tl_save_consistency(s.dir, before_cp, n, tpath("consistency.json"));
	return n;
}

#define RECEIPT(which, pub, ...)                                                           \
	RUN("verify-receipt", "--receipt", which ".json", "--proof", which ".proof",         \
	    "--checkpoint", "cp.txt", "--entry", which ".b64", "--pubkey", pub, __VA_ARGS__)

Test(tlog_rotate, receipts_before_and_after)
{
	proof_files();
	/* The first key with the rotation proven: both receipts. */
	RECEIPT("before", s.pubkey, "--rotation", "rotation.json");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "keys: the record is under " TL_ORIGIN "+"), "%s", r.out);
	RECEIPT("after", s.pubkey, "--rotation", "rotation.json", "--json");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	json_t *j = run_json(&r);
	cr_assert_eq(json_integer_value(json_object_get(j, "rotations")), 1);
	json_decref(j);
	/* The new key alone: receipts made under it. */
	RECEIPT("after", s.newpub, "--json");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);

	/* The first key without the proof: the checkpoint is not its. */
	RECEIPT("after", s.pubkey, "--json");
	cr_assert_eq(r.exit, 20, "%s%s", r.out, r.err);
	/* The new key cannot vouch for a receipt of the first. */
	RECEIPT("before", s.newpub, "--json");
	cr_assert_eq(r.exit, 14, "%s%s", r.out, r.err);
	/* A receipt naming the other key than the one in force at its record. */
	tl_save_receipt(s.dir, &s.keys, 1, tpath("before.json"));
	RECEIPT("before", s.pubkey, "--rotation", "rotation.json");
	cr_assert_eq(r.exit, 14, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "the key in force there"), "%s", r.out);
}

/* Rewrites the rotation file's entry: key_from_size bumped, or its time
 * (then it is no longer the record in the tree). */
static void forge_rotation(int bump_from)
{
	json_t *j = json_load_file(tpath("rotation.json"), 0, NULL);
	const char *b64 = json_string_value(json_object_get(j, "entry"));
	uint8_t raw[4096], out[4096];
	char enc[8192];
	size_t n, blen;
	Mailroom__AuditRecord *rec, copy;

	cr_assert_not_null(b64);
	cr_assert_eq(sodium_base642bin(raw, sizeof(raw), b64, strlen(b64), NULL, &n, NULL,
	                               sodium_base64_VARIANT_ORIGINAL),
	             0);
	rec = mailroom__audit_record__unpack(NULL, n, raw);
	cr_assert_not_null(rec);
	copy = *rec;
	if (bump_from)
		copy.key_from_size++;
	else
		copy.time_ms++;
	blen = mailroom__audit_record__pack(&copy, out);
	mailroom__audit_record__free_unpacked(rec, NULL);
	sodium_bin2base64(enc, sizeof(enc), out, blen, sodium_base64_VARIANT_ORIGINAL);
	cr_assert_eq(json_object_set_new(j, "entry", json_string(enc)), 0);
	cr_assert_eq(json_object_del(j, "leaf_hash"), 0);
	cr_assert_eq(json_dump_file(j, tpath("rotation.json"), 0), 0);
	json_decref(j);
}

Test(tlog_rotate, receipt_rotation_proofs_refused)
{
	proof_files();
	/* key_from_size wrong. */
	forge_rotation(1);
	RECEIPT("after", s.pubkey, "--rotation", "rotation.json");
	cr_assert_eq(r.exit, 14, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "key_from_size"), "%s", r.out);
	/* Not the record in the handover's tree. */
	tl_save_inclusion(s.dir, rot, rot + 1, tpath("rotation.json"));
	forge_rotation(0);
	RECEIPT("after", s.pubkey, "--rotation", "rotation.json");
	cr_assert_eq(r.exit, 24, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "not in the handover checkpoint's tree"), "%s", r.out);
	/* The record as stored: a valid proof. */
	tl_save_inclusion(s.dir, rot, rot + 1, tpath("rotation.json"));
	RECEIPT("after", s.pubkey, "--rotation", "rotation.json");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	tl_save_inclusion(s.dir, rot - 1, rot, tpath("rotation.json"));
	RECEIPT("after", s.pubkey, "--rotation", "rotation.json");
	cr_assert_eq(r.exit, 14, "not a rotation record: %s%s", r.out, r.err);
	/* A proof in another tree than the handover's. */
	tl_save_inclusion(s.dir, rot, tl_save_checkpoint(s.dir, 0, tpath("cp.txt")),
	                  tpath("rotation.json"));
	RECEIPT("after", s.pubkey, "--rotation", "rotation.json");
	cr_assert_eq(r.exit, 8, "%s%s", r.out, r.err);
	/* The latest checkpoint re-signed by the retired key alone. */
	tl_save_inclusion(s.dir, rot, rot + 1, tpath("rotation.json"));
	tl_raw_resign_checkpoint(s.dir, tl_save_checkpoint(s.dir, 0, tpath("cp.txt")), TL_ORIGIN,
	                         s.old.sign_sk);
	tl_save_checkpoint(s.dir, 0, tpath("cp.txt"));
	RECEIPT("after", s.pubkey, "--rotation", "rotation.json");
	cr_assert_eq(r.exit, 20, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "signed only by the retired key"), "%s", r.out);

	/* The handover signed by the key it names alone. */
	tl_raw_resign_checkpoint(s.dir, rot + 1, TL_ORIGIN, s.keys.sign_sk);
	tl_save_inclusion(s.dir, rot, rot + 1, tpath("rotation.json"));
	RECEIPT("after", s.pubkey, "--rotation", "rotation.json");
	cr_assert_eq(r.exit, 14, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "a key cannot authorise itself"), "%s", r.out);
}

Test(tlog_rotate, consistency_across_the_rotation)
{
	proof_files();
	RUN("consistency", "old.txt", "cp.txt", "--proof", "consistency.json", "--pubkey", s.pubkey,
	    "--rotation", "rotation.json");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "1 rotation proven"), "%s", r.out);
	/* Without the proof the new checkpoint is not the first key's. */
	RUN("consistency", "old.txt", "cp.txt", "--proof", "consistency.json", "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 20, "%s%s", r.out, r.err);
	/* The handover signed by the key it names alone. */
	tl_raw_resign_checkpoint(s.dir, rot + 1, TL_ORIGIN, s.keys.sign_sk);
	tl_save_inclusion(s.dir, rot, rot + 1, tpath("rotation.json"));
	RUN("consistency", "old.txt", "cp.txt", "--proof", "consistency.json", "--pubkey", s.pubkey,
	    "--rotation", "rotation.json");
	cr_assert_eq(r.exit, 14, "%s%s", r.out, r.err);
}

/* ---- the witness ---- */

static const char *url;
static uint64_t full_size;

/* The log up to a state the witness keeps (4 messages), then the rest. */
static void witness_scene(void)
{
	tl_create(&s, NULL);
	tl_history(&s, 4);
	before_cp = tl_size(&s);
	tl_close_env(&s);
	url = tl_srv_start(s.dir);
	RUN("witness", "--state", "w", "--url", url, "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	tl_reopen(&s, s.dir);
	rot = tl_rotate(&s, 1);
	tl_close_env(&s);
	tl_copy_store(s.dir, tpath("handover"));
	tl_reopen(&s, s.dir);
	tl_history(&s, 4);
	full_size = tl_size(&s);
	tl_close_env(&s);
}

static json_t *witness_json(const char *state, const char *pub)
{
	RUN("witness", "--state", state, "--url", url, "--pubkey", pub, "--json");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	return run_json(&r);
}

Test(tlog_rotate, witness_follows_the_rotation)
{
	char *keys;
	json_t *j;

	witness_scene();
	j = witness_json("w", s.pubkey);
	cr_assert_eq(json_integer_value(json_object_get(j, "old_size")), (json_int_t)before_cp);
	cr_assert_eq(json_integer_value(json_object_get(j, "rotations")), 1, "%s", r.out);
	json_decref(j);
	keys = slurp_text(tpath("w/keys"));
	cr_assert_eq(count_lines(keys), 2, "%s", keys);
	free(keys);

	/* Nothing new: the fast way, no rotation. */
	j = witness_json("w", s.pubkey);
	cr_assert_eq(json_integer_value(json_object_get(j, "rotations")), 0, "%s", r.out);
	json_decref(j);
	/* The new key is one it followed, so it may be named too. */
	json_decref(witness_json("w", s.newpub));

	/* First runs: with the first key the log is read from record 0; with
	 * the new one the checkpoint is signed by it already. */
	RUN("witness", "--state", "w2", "--url", url, "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, "followed 1 key rotation"), "%s", r.err);
	cr_assert(starts(r.out, TL_ORIGIN "\n"), "prints the checkpoint: %s", r.out);
	j = witness_json("w3", s.newpub);
	cr_assert_eq(json_integer_value(json_object_get(j, "rotations")), 0, "%s", r.out);
	json_decref(j);
	/* A witness state from before does not take a key it has not followed. */
	RUN("witness", "--state", "w3", "--url", url, "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 14, "%s%s", r.out, r.err);
}

/* The log served as it stood right after the rotation: its checkpoint is
 * the handover, signed by both keys, its last record the rotation. The
 * witness follows the rotation there, then goes on under the new key. */
Test(tlog_rotate, witness_at_the_handover_checkpoint)
{
	json_t *j;
	char *note;

	witness_scene();
	tl_srv_set(tpath("handover"));
	j = witness_json("w", s.pubkey);
	cr_assert_eq(json_integer_value(json_object_get(j, "size")), (json_int_t)rot + 1);
	cr_assert_eq(json_integer_value(json_object_get(j, "rotations")), 1, "%s", r.out);
	json_decref(j);
	note = slurp_text(tpath("w/checkpoint"));
	cr_assert_eq(sn_open_checkpoint(note, strlen(note), TL_ORIGIN, s.old.sign_pk,
	                                &(struct sn_checkpoint){0}),
	             PB_OK, "the handover is signed by the old key too: %s", note);
	free(note);
	/* A first run with the new key there: the last record hands the log to
	 * it at the checkpoint's size, nothing to read. */
	j = witness_json("w4", s.newpub);
	cr_assert_eq(json_integer_value(json_object_get(j, "rotations")), 0, "%s", r.out);
	json_decref(j);
	/* With the old key it reads from record 0 and follows. */
	j = witness_json("w5", s.pubkey);
	cr_assert_eq(json_integer_value(json_object_get(j, "rotations")), 1, "%s", r.out);
	json_decref(j);
	tl_srv_set(s.dir);
	j = witness_json("w", s.pubkey);
	cr_assert_eq(json_integer_value(json_object_get(j, "rotations")), 0, "%s", r.out);
	cr_assert_eq(json_integer_value(json_object_get(j, "size")), (json_int_t)full_size);
	json_decref(j);
}

/* Each bad rotation, served from a tampered copy: refused with its class,
 * the witness's state left as it was. */
static void witness_refuses(void (*tamper)(const char *dir), int code, const char *line,
                            const char *what)
{
	char *before, *after;

	witness_scene();
	before = slurp_text(tpath("w/checkpoint"));
	tl_copy_store(s.dir, tpath("bad"));
	tamper(tpath("bad"));
	tl_srv_set(tpath("bad"));
	RUN("witness", "--state", "w", "--url", url, "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, code, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, line), "wanted '%s': %s", line, r.out);
	cr_assert(strstr(r.out, what), "wanted '%s': %s", what, r.out);
	after = slurp_text(tpath("w/checkpoint"));
	cr_assert_str_eq(before, after, "refusals leave the state as it was");
	free(before);
	free(after);
	/* The honest log is still followed. */
	tl_srv_set(s.dir);
	RUN("witness", "--state", "w", "--url", url, "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
}

static void t_by_new(const char *dir)
{
	tl_raw_resign_checkpoint(dir, rot + 1, TL_ORIGIN, s.keys.sign_sk);
}

static void later_time(Mailroom__AuditRecord *rec)
{
	rec->time_ms++;
}

static void t_rewritten(const char *dir)
{
	tl_raw_rewrite(dir, rot + 1, later_time);
}

static void t_from(const char *dir)
{
	tl_raw_rewrite(dir, rot, from_plus_one);
}

static void t_checkpoint_old(const char *dir)
{
	tl_raw_resign_checkpoint(dir, full_size, TL_ORIGIN, s.old.sign_sk);
}

Test(tlog_rotate, witness_refuses_rotation_signed_by_new_key)
{
	witness_refuses(t_by_new, 14, "FAIL key: record ", "a key cannot authorise itself");
}

Test(tlog_rotate, witness_refuses_a_rewritten_record)
{
	witness_refuses(t_rewritten, 12, "FAIL chain: record ", "prev_hash");
}

Test(tlog_rotate, witness_refuses_wrong_key_from_size)
{
	witness_refuses(t_from, 14, "FAIL key: record ", "key_from_size");
}

Test(tlog_rotate, witness_refuses_checkpoint_signed_by_old_key_only)
{
	witness_refuses(t_checkpoint_old, 20, "FAIL checkpoint: checkpoint ",
	                "signed only by the retired key");
}
