/* Key rotation: a new key made beside the old, the store opened with both,
 * the AUDIT_LOG_KEY record under the handover checkpoint signed by the
 * outgoing and the incoming key, later checkpoints by the incoming one,
 * and the verifier against checkpoints signed with the wrong key around
 * the rotation point and bad rotation records. */
#include "helpers.h"
#include "pb_err.h"
#include "sn.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

TestSuite(rotate, .init = fx_setup, .fini = fx_teardown);

static struct st_keys old_keys, new_keys;
static char new_path[400];

/* A new key beside the old one, and the keys a rotating router loads:
 * signing_key = the new one, previous_signing_key = the old. */
static void make_new_keys(void)
{
	struct pb_conf c = fx.conf;
	uint8_t pk[32];
	int created;

	old_keys = fx.keys;
	snprintf(new_path, sizeof(new_path), "%s/keys/store-2.key", fx.dir);
	cr_assert_eq(st_signing_key_create(new_path, fx.conf.log_origin, pk), PB_OK);
	snprintf(c.signing_key, sizeof(c.signing_key), "%s", new_path);
	snprintf(c.previous_signing_key, sizeof(c.previous_signing_key), "%s", fx.conf.signing_key);
	cr_assert_eq(st_keys_load_or_create(&c, &new_keys, &created), PB_OK);
	cr_assert_eq(created, 0, "both keys existed");
	cr_assert_arr_eq(new_keys.sign_pk, pk, 32);
	cr_assert_eq(new_keys.has_prev, 1);
	cr_assert_arr_eq(new_keys.prev_pk, old_keys.sign_pk, 32);
	cr_assert_arr_eq(new_keys.prev_key_id, old_keys.key_id, ST_KEYID_LEN);
	cr_assert_arr_eq(new_keys.data_key, old_keys.data_key, 32);
}

static void open_with(const struct st_keys *k)
{
	fx_close();
	cr_assert_eq(st_open(fx.store, 16, 0, k, &fx.env), PB_OK);
}

/* The log: n records, a rotation (in its own transaction, as the router
 * does it), then m more. Returns the rotation record's index. */
static uint64_t rotated_log(int n, int m)
{
	struct st_receipt r;
	st_txn *t;

	cr_assert_eq(fx_append(n, NULL), PB_OK);
	make_new_keys();
	open_with(&new_keys);
	cr_assert_eq(st_rotation_pending(fx.env), 1);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_log_rotate(t, &r), PB_OK);
	cr_assert_eq(r.index, (uint64_t)n + 1);
	cr_assert_arr_eq(r.key_id, old_keys.key_id, ST_KEYID_LEN, "the outgoing key signs it");
	cr_assert_eq(st_txn_commit(t), PB_OK);
	cr_assert_eq(st_rotation_pending(fx.env), 0);
	if (m)
		cr_assert_eq(fx_append(m, NULL), PB_OK);
	return r.index;
}

/* The checkpoint of size carries a valid signature by pk. */
static int signed_by(uint64_t size, const uint8_t pk[32])
{
	struct sn_checkpoint cp;
	char *note;
	size_t len;
	uint64_t got;
	st_txn *t;
	int ok;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_checkpoint_get(t, size, &note, &len, &got), PB_OK, "no checkpoint of %llu",
	             (unsigned long long)size);
	st_txn_abort(t);
	ok = sn_open_checkpoint(note, len, fx.keys.key_name, pk, &cp) == PB_OK && cp.size == size;
	free(note);
	return ok;
}

static void verify(const uint8_t *trusted, int fail, uint64_t at, struct st_verify_report *rep)
{
	cr_assert_eq(st_verify(fx.env, trusted, rep), PB_OK);
	cr_assert_eq(rep->fail, fail, "got '%s' at %llu (%s), wanted '%s' at %llu",
	             st_verify_fail_str(rep->fail), (unsigned long long)rep->bad_index, rep->detail,
	             st_verify_fail_str(fail), (unsigned long long)at);
	if (fail)
		cr_assert_eq(rep->bad_index, at, "%s", rep->detail);
}

Test(rotate, handover_signed_by_both_and_later_checkpoints_by_new)
{
	struct st_verify_report rep;
	struct st_logkey lk;
	Mailroom__AuditRecord *r;
	const uint8_t *d;
	size_t len;
	st_txn *t;
	uint64_t i = rotated_log(4, 3);

	cr_assert_eq(i, 5);
	/* One checkpoint per commit: the new store, the 4 records, the
	 * rotation alone (the handover), the 3 records after it. */
	cr_assert(signed_by(1, old_keys.sign_pk) && !signed_by(1, new_keys.sign_pk));
	cr_assert(signed_by(i, old_keys.sign_pk) && !signed_by(i, new_keys.sign_pk));
	cr_assert(signed_by(i + 1, old_keys.sign_pk) && signed_by(i + 1, new_keys.sign_pk));
	cr_assert(signed_by(i + 4, new_keys.sign_pk) && !signed_by(i + 4, old_keys.sign_pk));

	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_get(t, i, &d, &len), PB_OK);
	r = mailroom__audit_record__unpack(NULL, len, d);
	cr_assert_not_null(r);
	cr_assert_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY);
	cr_assert_str_eq(r->actor, "router");
	cr_assert_str_eq(r->key_name, "mailroom.test/log");
	cr_assert_eq(r->key.len, 32);
	cr_assert_arr_eq(r->key.data, new_keys.sign_pk, 32);
	cr_assert_eq(r->key_from_size, i + 1);
	mailroom__audit_record__free_unpacked(r, NULL);
	cr_assert_eq(st_log_key(t, &lk), PB_OK);
	cr_assert_arr_eq(lk.pk, new_keys.sign_pk, 32);
	cr_assert_arr_eq(lk.key_id, new_keys.key_id, ST_KEYID_LEN);
	cr_assert_eq(lk.from, i + 1);
	cr_assert_eq(lk.has_prev, 1);
	cr_assert_arr_eq(lk.prev_pk, old_keys.sign_pk, 32);
	st_txn_abort(t);

	/* Trusting record 0's key, the new key or nothing: all follow. */
	verify(NULL, ST_VERIFY_OK, 0, &rep);
	cr_assert_eq(rep.records, i + 4);
	cr_assert_eq(rep.rotations, 1);
	cr_assert_eq(rep.key_from, i + 1);
	cr_assert_arr_eq(rep.pubkey, new_keys.sign_pk, 32);
	cr_assert_arr_eq(rep.genesis_pk, old_keys.sign_pk, 32);
	verify(old_keys.sign_pk, ST_VERIFY_OK, 0, &rep);
	verify(new_keys.sign_pk, ST_VERIFY_OK, 0, &rep);
}

Test(rotate, keys_on_reopen)
{
	struct st_keys only_old = fx.keys, only_new, stranger, with_stranger;
	struct st_logkey lk;
	st_txn *t;
	uint8_t seed[32];

	rotated_log(2, 1);
	only_new = new_keys;
	only_new.has_prev = 0;

	/* The rotation is done: the new key alone opens it, with or without
	 * the old one named, and nothing is pending any more. */
	open_with(&only_new);
	cr_assert_eq(st_rotation_pending(fx.env), 0);
	open_with(&new_keys);
	cr_assert_eq(st_rotation_pending(fx.env), 0);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_log_rotate(t, NULL), PB_ESTATE, "nothing to rotate");
	st_txn_abort(t);

	/* The old key alone no longer continues the log. */
	fx_close();
	cr_assert_eq(st_open(fx.store, 16, 0, &only_old, &fx.env), PB_EAUTH);

	/* An unrelated key, alone or with an unrelated previous one. */
	stranger = fx.keys;
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(stranger.sign_pk, stranger.sign_sk, seed);
	st_key_id(stranger.key_name, stranger.sign_pk, stranger.key_id);
	stranger.has_prev = 0;
	cr_assert_eq(st_open(fx.store, 16, 0, &stranger, &fx.env), PB_EAUTH);
	with_stranger = stranger;
	with_stranger.has_prev = 1;
	memcpy(with_stranger.prev_pk, only_old.sign_pk, 32);   /* retired already */
	memcpy(with_stranger.prev_sk, only_old.sign_sk, 64);
	cr_assert_eq(st_open(fx.store, 16, 0, &with_stranger, &fx.env), PB_EAUTH);

	/* Read-only opens hold no keys and see the key in force. */
	cr_assert_eq(st_open(fx.store, 0, 1, NULL, &fx.env), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_key(t, &lk), PB_OK);
	cr_assert_arr_eq(lk.pk, new_keys.sign_pk, 32);
	cr_assert_eq(lk.from, 4);
	st_txn_abort(t);
}

Test(rotate, before_any_rotation)
{
	struct st_logkey lk;
	st_txn *t, *child;

	cr_assert_eq(st_rotation_pending(fx.env), 0);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_log_key(t, &lk), PB_OK);
	cr_assert_arr_eq(lk.pk, fx.keys.sign_pk, 32);
	cr_assert_eq(lk.from, 0);
	cr_assert_eq(lk.has_prev, 0);
	cr_assert_eq(st_log_rotate(t, NULL), PB_ESTATE, "no previous key: nothing pending");
	st_txn_abort(t);

	make_new_keys();
	open_with(&new_keys);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, t, 0, &child), PB_OK);
	cr_assert_eq(st_log_rotate(child, NULL), PB_EINVAL, "only at the top level");
	st_txn_abort(child);
	cr_assert_eq(st_log_rotate(t, NULL), PB_OK);
	cr_assert_eq(st_log_rotate(t, NULL), PB_ESTATE, "once");
	st_txn_abort(t);
}

/* Until the rotation commits, nothing changes: an aborted one leaves the
 * old key signing and the rotation still pending. */
Test(rotate, aborted_rotation_changes_nothing)
{
	struct st_verify_report rep;
	struct st_logkey lk;
	st_txn *t;

	make_new_keys();
	open_with(&new_keys);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_log_rotate(t, NULL), PB_OK);
	st_txn_abort(t);
	cr_assert_eq(st_rotation_pending(fx.env), 1);
	cr_assert_eq(fx_append(2, NULL), PB_OK);
	cr_assert(signed_by(3, old_keys.sign_pk) && !signed_by(3, new_keys.sign_pk));
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_key(t, &lk), PB_OK);
	cr_assert_arr_eq(lk.pk, old_keys.sign_pk, 32);
	st_txn_abort(t);
	verify(old_keys.sign_pk, ST_VERIFY_OK, 0, &rep);
	cr_assert_eq(rep.rotations, 0);
}

/* Records after the rotation record in its own transaction: the new key's,
 * receipts included; in a nested transaction too. */
Test(rotate, same_transaction)
{
	Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;
	struct st_receipt rr, a, b;
	struct st_verify_report rep;
	st_txn *t, *child;

	make_new_keys();
	open_with(&new_keys);
	rec.actor = "test";
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_ROUTED;
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_log_append(t, &rec, &a), PB_OK);
	cr_assert_eq(st_log_rotate(t, &rr), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, t, 0, &child), PB_OK);
	cr_assert_eq(st_log_append(child, &rec, &b), PB_OK);
	cr_assert_eq(st_txn_commit(child), PB_OK);
	cr_assert_arr_eq(a.key_id, old_keys.key_id, ST_KEYID_LEN);
	cr_assert_arr_eq(rr.key_id, old_keys.key_id, ST_KEYID_LEN);
	cr_assert_arr_eq(b.key_id, new_keys.key_id, ST_KEYID_LEN);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	/* The handover at the rotation's size, then the batch's own. */
	cr_assert(signed_by(rr.index + 1, old_keys.sign_pk) && signed_by(rr.index + 1, new_keys.sign_pk));
	cr_assert(signed_by(b.index + 1, new_keys.sign_pk) && !signed_by(b.index + 1, old_keys.sign_pk));
	verify(old_keys.sign_pk, ST_VERIFY_OK, 0, &rep);
}

/* ---- tampering around the rotation point (store closed, raw LMDB) ---- */

/* Rewrites record index with edit; the checkpoints over it stay as they
 * were. */
static void resign(uint64_t index, const uint8_t *sk, void (*edit)(Mailroom__AuditRecord *))
{
	uint8_t buf[2048], out[2048];
	Mailroom__AuditRecord *r, copy;
	size_t len, blen;

	(void)sk;
	cr_assert_eq(raw_log_get(index, buf, sizeof(buf), &len), 0);
	r = mailroom__audit_record__unpack(NULL, len, buf);
	cr_assert_not_null(r);
	copy = *r;   /* edits may point at static strings; r is freed as unpacked */
	if (edit)
		edit(&copy);
	blen = mailroom__audit_record__pack(&copy, out);
	mailroom__audit_record__free_unpacked(r, NULL);
	cr_assert_eq(raw_log_put(index, out, blen), 0);
}

static void tampered(void (*fn)(uint64_t i), const uint8_t *trusted, int fail, uint64_t at,
                     const char *detail)
{
	struct st_verify_report rep;
	uint64_t i = rotated_log(3, 3);

	fx_close();
	fn(i);
	cr_assert_eq(fx_reopen(0, 1), PB_OK);
	verify(trusted, fail, at == UINT64_MAX ? i : at, &rep);
	cr_assert(strstr(rep.detail, detail), "detail: %s", rep.detail);
}

/* rotated_log(3, 3): checkpoints at 1, i = 4, i + 1 (the handover) and
 * i + 4; a bad one is blamed on its last record. */
static void after_by_old(uint64_t i)
{
	cr_assert_eq(raw_checkpoint_sign(i + 4, old_keys.sign_sk), 0);
}

static void before_by_new(uint64_t i)
{
	cr_assert_eq(raw_checkpoint_sign(i, new_keys.sign_sk), 0);
}

static void rotation_by_new(uint64_t i)
{
	cr_assert_eq(raw_checkpoint_sign(i + 1, new_keys.sign_sk), 0);
}

static void from_plus_one(Mailroom__AuditRecord *r)
{
	r->key_from_size++;
}

static void from_wrong(uint64_t i)
{
	resign(i, old_keys.sign_sk, from_plus_one);
}

static void from_zero(Mailroom__AuditRecord *r)
{
	r->key_from_size = 0;
}

static void from_missing(uint64_t i)
{
	resign(i, old_keys.sign_sk, from_zero);
}

static char other_name[] = "someone.else/log";

static void rename_key(Mailroom__AuditRecord *r)
{
	r->key_name = other_name;
}

static void renamed(uint64_t i)
{
	resign(i, old_keys.sign_sk, rename_key);
}

Test(rotate, checkpoint_after_rotation_signed_by_old_key)
{
	tampered(after_by_old, NULL, ST_VERIFY_SIGNATURE, 7, "not signed by");
}

Test(rotate, checkpoint_before_rotation_signed_by_new_key)
{
	tampered(before_by_new, NULL, ST_VERIFY_SIGNATURE, 3, "not signed by");
}

Test(rotate, handover_signed_by_new_key_only)
{
	tampered(rotation_by_new, old_keys.sign_pk, ST_VERIFY_KEY, UINT64_MAX,
	         "a key cannot authorise itself");
}

Test(rotate, rotation_record_key_from_size_wrong)
{
	tampered(from_wrong, NULL, ST_VERIFY_KEY, UINT64_MAX, "key_from_size 6");
}

Test(rotate, rotation_record_without_key_from_size)
{
	tampered(from_missing, NULL, ST_VERIFY_KEY, UINT64_MAX, "key_from_size 0");
}

Test(rotate, rotation_record_under_another_name)
{
	tampered(renamed, NULL, ST_VERIFY_KEY, UINT64_MAX, "someone.else/log");
}

static void nothing(uint64_t i)
{
	(void)i;
}

Test(rotate, trusted_key_not_of_this_log)
{
	uint8_t pk[32], sk[64];

	crypto_sign_keypair(pk, sk);
	tampered(nothing, pk, ST_VERIFY_KEY, 0, "neither record 0's");
}

/* A log that ends with the rotation record: the handover checkpoint is
 * the new key's first signature, so pinning it holds. Without that
 * checkpoint the rotation is under none. */
Test(rotate, trusted_new_key_signed_the_handover)
{
	struct st_verify_report rep;
	uint64_t i = rotated_log(2, 0);

	verify(new_keys.sign_pk, ST_VERIFY_OK, 0, &rep);
	verify(old_keys.sign_pk, ST_VERIFY_OK, 0, &rep);
	fx_close();
	cr_assert_eq(raw_checkpoint_del(i + 1), 0);
	cr_assert_eq(fx_reopen(0, 1), PB_OK);
	verify(new_keys.sign_pk, ST_VERIFY_SIGNATURE, i, &rep);
	cr_assert(strstr(rep.detail, "no signed checkpoint"), "%s", rep.detail);
}

/* ---- key files ---- */

Test(rotate, new_key_files)
{
	char pub[420], name[128];
	uint8_t pk[32], pk2[32];
	struct stat sb;

	snprintf(new_path, sizeof(new_path), "%s/keys/next.key", fx.dir);
	cr_assert_eq(st_signing_key_create(new_path, "mailroom.test/log", pk), PB_OK);
	cr_assert_eq(stat(new_path, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600);
	snprintf(pub, sizeof(pub), "%s/keys/next.pub", fx.dir);
	cr_assert_eq(st_pubkey_load(pub, name, sizeof(name), pk2), PB_OK);
	cr_assert_str_eq(name, "mailroom.test/log");
	cr_assert_arr_eq(pk, pk2, 32);
	/* Never replaced; a bad name is refused before anything is written. */
	cr_assert_eq(st_signing_key_create(new_path, "mailroom.test/log", pk2), PB_EEXIST);
	cr_assert_eq(st_pubkey_load(pub, name, sizeof(name), pk2), PB_OK);
	cr_assert_arr_eq(pk, pk2, 32);
	snprintf(new_path, sizeof(new_path), "%s/keys/bad.key", fx.dir);
	cr_assert_eq(st_signing_key_create(new_path, "has space", pk2), PB_EINVAL);
	cr_assert_neq(stat(new_path, &sb), 0);
}

Test(rotate, previous_key_setting)
{
	struct pb_conf c = fx.conf;
	struct st_keys k;
	int created;

	/* Named but absent: never made up. */
	snprintf(c.previous_signing_key, sizeof(c.previous_signing_key), "%s/keys/gone.key", fx.dir);
	cr_assert_eq(st_keys_load_or_create(&c, &k, &created), PB_ENOTFOUND);
	/* The signing key itself. */
	snprintf(c.previous_signing_key, sizeof(c.previous_signing_key), "%s", c.signing_key);
	cr_assert_eq(st_keys_load_or_create(&c, &k, &created), PB_EINVAL);
	/* Not set: no previous key. */
	c.previous_signing_key[0] = '\0';
	cr_assert_eq(st_keys_load_or_create(&c, &k, &created), PB_OK);
	cr_assert_eq(k.has_prev, 0);
}
