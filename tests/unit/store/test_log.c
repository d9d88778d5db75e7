/* The audit log: chaining, one signed checkpoint per commit, the head
 * across nested transactions, and the verifier against tampered,
 * reordered and truncated logs. */
#include "helpers.h"
#include "mt.h"
#include "pb_err.h"
#include "sn.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(log, .init = fx_setup, .fini = fx_teardown);

static Mailroom__AuditRecord *record_at(st_txn *t, uint64_t i, const uint8_t **data, size_t *len)
{
	cr_assert_eq(st_log_get(t, i, data, len), PB_OK);
	cr_assert_gt(*len, 0);
	return mailroom__audit_record__unpack(NULL, *len, *data);
}

static int append_one(st_txn *t, const char *detail, struct st_receipt *r)
{
	Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;

	rec.time_ms = 42;
	rec.actor = "handler:li";
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_REPLIED;
	rec.detail = (char *)detail;
	return st_log_append(t, &rec, r);
}

static void verify_ok(uint64_t records)
{
	struct st_verify_report rep;

	cr_assert_eq(st_verify(fx.env, fx.keys.sign_pk, &rep), PB_OK);
	cr_assert_eq(rep.fail, ST_VERIFY_OK, "failed at %llu: %s", (unsigned long long)rep.bad_index,
	             st_verify_fail_str(rep.fail));
	cr_assert_eq(rep.records, records);
}

Test(log, append_chains_and_checkpoints)
{
	Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT, *r;
	struct st_receipt rc[3];
	uint8_t hash[32], genesis_hash[32], mine[32];
	const uint8_t *data;
	size_t len;
	st_txn *t;

	memset(mine, 0x5a, sizeof(mine));
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	r = record_at(t, 0, &data, &len);
	crypto_hash_sha256(genesis_hash, data, len);
	mailroom__audit_record__free_unpacked(r, NULL);

	rec.actor = "gateway";
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED;
	rec.prev_hash.data = mine;   /* whatever the caller had stays theirs */
	rec.prev_hash.len = sizeof(mine);
	cr_assert_eq(st_log_append(t, &rec, &rc[0]), PB_OK);
	cr_assert_eq(rec.index, 1);
	cr_assert_eq(rec.prev_hash.data, mine);
	cr_assert_eq(rec.prev_hash.len, sizeof(mine));
	cr_assert_eq(append_one(t, "a", &rc[1]), PB_OK);
	cr_assert_eq(append_one(t, "b", &rc[2]), PB_OK);
	cr_assert_eq(st_txn_commit(t), PB_OK);

	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(rc[i].index, (uint64_t)i + 1);
		cr_assert_arr_eq(rc[i].key_id, fx.keys.key_id, ST_KEYID_LEN);
		r = record_at(t, rc[i].index, &data, &len);
		cr_assert_not_null(r);
		cr_assert_eq(r->index, rc[i].index);
		cr_assert_eq(r->prev_hash.len, 32);
		cr_assert_arr_eq(r->prev_hash.data, i == 0 ? genesis_hash : rc[i - 1].hash, 32);
		crypto_hash_sha256(hash, data, len);
		cr_assert_arr_eq(hash, rc[i].hash, 32);
		mailroom__audit_record__free_unpacked(r, NULL);
	}
	st_txn_abort(t);
	verify_ok(4);
}

/* The value is the record alone; the commit that stored it wrote one
 * checkpoint over the tree, signed the RFC 8032 way: the same bytes as
 * crypto_sign_detached gives, and no other size in between. */
Test(log, one_deterministic_checkpoint_per_commit)
{
	struct sn_checkpoint cp;
	uint8_t root[MT_HASH_LEN];
	char body[256], want[1024], *note;
	size_t nlen, blen, wlen;
	uint64_t got;
	int count = 0;
	st_txn *t;

	cr_assert_eq(fx_append(5, NULL), PB_OK);   /* records 1..5, one commit */
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_checkpoint_get(t, 0, &note, &nlen, &got), PB_OK);
	cr_assert_eq(got, 6);
	cr_assert_eq(sn_open_checkpoint(note, nlen, fx.keys.key_name, fx.keys.sign_pk, &cp), PB_OK);
	cr_assert_eq(st_tree_root(t, 6, root), PB_OK);
	cr_assert_arr_eq(cp.root, root, MT_HASH_LEN);
	cr_assert_eq(sn_checkpoint_format(fx.keys.key_name, 6, root, NULL, body, sizeof(body), &blen),
	             PB_OK);
	cr_assert_eq(sn_sign(body, blen, fx.keys.key_name, fx.keys.sign_sk, want, sizeof(want), &wlen),
	             PB_OK);
	cr_assert_eq(nlen, wlen);
	cr_assert_arr_eq(note, want, wlen, "not the deterministic signature:\n%s", note);
	free(note);
	for (uint64_t size = 1; size <= 6; size++) {
		if (st_checkpoint_get(t, size, &note, &nlen, &got) == PB_OK) {
			count++;
			free(note);
		}
	}
	cr_assert_eq(count, 2, "checkpoints at 1 (the new store) and 6 only");
	st_txn_abort(t);
}

Test(log, a_record_is_readable_at_once_and_the_seal_checkpoints_it)
{
	struct st_receipt r;
	const uint8_t *data;
	char *note;
	size_t len;
	uint64_t got;
	st_txn *t;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(append_one(t, "p", &r), PB_OK);
	cr_assert_eq(st_log_get(t, r.index, &data, &len), PB_OK);
	cr_assert_eq(st_checkpoint_get(t, r.index + 1, &note, &len, &got), PB_ENOTFOUND);
	cr_assert_eq(st_log_seal(t), PB_OK);
	cr_assert_eq(st_checkpoint_get(t, 0, &note, &len, &got), PB_OK);
	cr_assert_eq(got, r.index + 1);
	free(note);
	cr_assert_eq(st_log_seal(t), PB_OK, "nothing new: nothing to sign");
	for (int i = 0; i < 50; i++)
		cr_assert_eq(append_one(t, "q", &r), PB_OK);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	verify_ok(r.index + 1);
}

Test(log, nested_abort_keeps_head)
{
	struct st_receipt r;
	st_txn *t, *c;
	uint64_t n;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(append_one(t, "p1", &r), PB_OK);
	cr_assert_eq(r.index, 1);
	cr_assert_eq(st_txn_begin(fx.env, t, 0, &c), PB_OK);
	cr_assert_eq(append_one(c, "c1", &r), PB_OK);
	cr_assert_eq(append_one(c, "c2", &r), PB_OK);
	cr_assert_eq(r.index, 3);
	cr_assert_eq(st_log_size(c, &n), PB_OK);
	cr_assert_eq(n, 4);
	st_txn_abort(c);
	cr_assert_eq(st_log_size(t, &n), PB_OK);
	cr_assert_eq(n, 2);
	cr_assert_eq(append_one(t, "p2", &r), PB_OK);
	cr_assert_eq(r.index, 2, "the aborted child's records are gone");
	cr_assert_eq(st_txn_commit(t), PB_OK);
	verify_ok(3);
}

Test(log, nested_commit_advances_head)
{
	struct st_receipt r;
	st_txn *t, *c, *g;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, t, 0, &c), PB_OK);
	cr_assert_eq(append_one(c, "c1", &r), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, c, 0, &g), PB_OK);
	cr_assert_eq(append_one(g, "g1", &r), PB_OK);
	cr_assert_eq(st_txn_commit(g), PB_OK);
	cr_assert_eq(append_one(c, "c2", &r), PB_OK);
	cr_assert_eq(r.index, 3);
	cr_assert_eq(st_txn_commit(c), PB_OK);
	cr_assert_eq(append_one(t, "p1", &r), PB_OK);
	cr_assert_eq(r.index, 4);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	verify_ok(5);
}

Test(log, aborted_top_level_leaves_no_trace)
{
	struct st_receipt r;
	st_txn *t;

	cr_assert_eq(fx_append(2, NULL), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(append_one(t, "gone", &r), PB_OK);
	cr_assert_eq(r.index, 3);
	st_txn_abort(t);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(append_one(t, "kept", &r), PB_OK);
	cr_assert_eq(r.index, 3);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	verify_ok(4);
}

/* Children that abort drop their records, and the index they held is
 * reused. Only what was committed is written and in the tree. */
Test(log, aborted_children_leave_nothing)
{
	uint8_t (*leaves)[MT_HASH_LEN], root[MT_HASH_LEN], want[MT_HASH_LEN];
	struct st_receipt r;
	const uint8_t *data;
	size_t len;
	uint64_t n, kept = 1;   /* the genesis record */
	st_txn *t, *c;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	for (int i = 0; i < 60; i++) {
		cr_assert_eq(st_txn_begin(fx.env, t, 0, &c), PB_OK);
		for (int k = 0; k < 3; k++)
			cr_assert_eq(append_one(c, i % 3 == 1 ? "dropped" : "kept", &r), PB_OK);
		if (i % 3 == 1) {
			st_txn_abort(c);
		} else {
			cr_assert_eq(st_txn_commit(c), PB_OK);
			kept += 3;
		}
	}
	cr_assert_eq(r.index + 1, kept);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	/* A top-level abort. */
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	for (int k = 0; k < 20; k++)
		cr_assert_eq(append_one(t, "gone", &r), PB_OK);
	st_txn_abort(t);
	verify_ok(kept);

	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &n), PB_OK);
	cr_assert_eq(n, kept);
	leaves = calloc(n, sizeof(*leaves));
	cr_assert_not_null(leaves);
	for (uint64_t i = 0; i < n; i++) {
		cr_assert_eq(st_log_get(t, i, &data, &len), PB_OK);
		mt_leaf_hash(data, len, leaves[i]);
	}
	mt_root_naive(leaves, n, want);
	cr_assert_eq(st_tree_root(t, n, root), PB_OK);
	cr_assert_arr_eq(root, want, MT_HASH_LEN);
	st_txn_abort(t);
	free(leaves);
}

Test(log, many_appends_verify)
{
	struct st_verify_report rep;
	struct st_receipt last;

	for (int i = 0; i < 20; i++)
		cr_assert_eq(fx_append(50, &last), PB_OK);
	fx_close();
	cr_assert_eq(fx_reopen(16, 0), PB_OK);
	cr_assert_eq(fx_append(1, &last), PB_OK);
	cr_assert_eq(last.index, 1001);
	cr_assert_eq(st_verify(fx.env, NULL, &rep), PB_OK);
	cr_assert_eq(rep.fail, ST_VERIFY_OK);
	cr_assert_eq(rep.records, 1002);
	cr_assert_arr_eq(rep.head_hash, last.hash, 32);
	cr_assert_arr_eq(rep.pubkey, fx.keys.sign_pk, 32);
	cr_assert_str_eq(rep.key_name, "mailroom.test/log");
}

/* Closes the store, lets fn damage it, reopens read-only and verifies. */
static struct st_verify_report tampered(void (*fn)(void), const uint8_t *trusted)
{
	struct st_verify_report rep;

	cr_assert_eq(fx_append(9, NULL), PB_OK);   /* records 0..9 */
	fx_close();
	fn();
	cr_assert_eq(fx_reopen(0, 1), PB_OK);
	cr_assert_eq(st_verify(fx.env, trusted, &rep), PB_OK);
	return rep;
}

/* The checkpoint over records 0..9, its signature changed. */
static void flip_checkpoint_sig(void)
{
	char note[1024];
	st_txn *t;
	char *n;
	size_t len;
	uint64_t got;

	cr_assert_eq(fx_reopen(0, 1), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_checkpoint_get(t, 10, &n, &len, &got), PB_OK);
	cr_assert_lt(len, sizeof(note));
	memcpy(note, n, len);
	free(n);
	st_txn_abort(t);
	fx_close();
	note[len - 10] = note[len - 10] == 'A' ? 'B' : 'A';
	cr_assert_eq(raw_checkpoint_put(10, note, len), 0);
}

static void flip_body_byte(void)
{
	uint8_t buf[1024], *p;
	size_t len;

	cr_assert_eq(raw_log_get(6, buf, sizeof(buf), &len), 0);
	p = memmem(buf, len, "general", 7);
	cr_assert_not_null(p);
	p[0] = 'G';   /* still parses, no longer what was checkpointed */
	cr_assert_eq(raw_log_put(6, buf, len), 0);
}

static void truncate_value(void)
{
	uint8_t buf[1024];
	size_t len;

	cr_assert_eq(raw_log_get(3, buf, sizeof(buf), &len), 0);
	cr_assert_eq(raw_log_put(3, buf, 40), 0);
}

static void garbage_value(void)
{
	uint8_t buf[200];

	memset(buf, 0xff, sizeof(buf));
	cr_assert_eq(raw_log_put(5, buf, sizeof(buf)), 0);
}

static void delete_record(void)
{
	cr_assert_eq(raw_log_del(5), 0);
}

static void swap_records(void)
{
	uint8_t a[1024], b[1024];
	size_t alen, blen;

	cr_assert_eq(raw_log_get(3, a, sizeof(a), &alen), 0);
	cr_assert_eq(raw_log_get(7, b, sizeof(b), &blen), 0);
	cr_assert_eq(raw_log_put(3, b, blen), 0);
	cr_assert_eq(raw_log_put(7, a, alen), 0);
}

/* A record whose prev_hash lies, under a correctly signed checkpoint:
 * only the chain shows it. */
static void forge_chain(void)
{
	Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;
	uint8_t prev[32], buf[512];
	size_t len;

	randombytes_buf(prev, sizeof(prev));
	rec.index = 10;
	rec.prev_hash.data = prev;
	rec.prev_hash.len = sizeof(prev);
	rec.actor = "test";
	len = mailroom__audit_record__pack(&rec, buf);
	cr_assert_eq(raw_log_put(10, buf, len), 0);
	cr_assert_eq(raw_checkpoint_sign(11, fx.keys.sign_sk), 0);
}

/* A record the log holds, again at the wrong position. */
static void forge_index(void)
{
	uint8_t buf[1024];
	size_t len;

	cr_assert_eq(raw_log_get(9, buf, sizeof(buf), &len), 0);
	cr_assert_eq(raw_log_put(10, buf, len), 0);
}

static void drop_last(void)
{
	cr_assert_eq(raw_log_del(9), 0);
}

static void check(const struct st_verify_report *rep, int fail, uint64_t at)
{
	cr_assert_eq(rep->fail, fail, "got '%s' at %llu, wanted '%s' at %llu",
	             st_verify_fail_str(rep->fail), (unsigned long long)rep->bad_index,
	             st_verify_fail_str(fail), (unsigned long long)at);
	cr_assert_eq(rep->bad_index, at);
}

Test(log, tamper_checkpoint_signature)
{
	struct st_verify_report rep = tampered(flip_checkpoint_sig, fx.keys.sign_pk);

	check(&rep, ST_VERIFY_SIGNATURE, 9);
	cr_assert_eq(rep.records, 10);
}

/* The rewritten record is named: record 7's prev_hash no longer holds
 * its hash, and the root under the checkpoint differs. */
Test(log, tamper_body_byte)
{
	struct st_verify_report rep = tampered(flip_body_byte, NULL);

	check(&rep, ST_VERIFY_SIGNATURE, 6);
	cr_assert(strstr(rep.detail, "rewritten"), "%s", rep.detail);
}

/* A record appended by hand, chained right, under no checkpoint. */
static void unsigned_tail(void)
{
	Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;
	uint8_t prev[32], buf[1024];
	size_t len;

	cr_assert_eq(raw_log_get(9, buf, sizeof(buf), &len), 0);
	crypto_hash_sha256(prev, buf, len);
	rec.index = 10;
	rec.prev_hash.data = prev;
	rec.prev_hash.len = sizeof(prev);
	rec.actor = "test";
	len = mailroom__audit_record__pack(&rec, buf);
	cr_assert_eq(raw_log_put(10, buf, len), 0);
}

Test(log, record_under_no_checkpoint)
{
	struct st_verify_report rep = tampered(unsigned_tail, NULL);

	check(&rep, ST_VERIFY_SIGNATURE, 10);
	cr_assert(strstr(rep.detail, "no signed checkpoint"), "%s", rep.detail);
}

Test(log, tamper_short_value)
{
	struct st_verify_report rep = tampered(truncate_value, NULL);

	check(&rep, ST_VERIFY_MALFORMED, 3);
}

Test(log, tamper_garbage_value)
{
	struct st_verify_report rep = tampered(garbage_value, NULL);

	check(&rep, ST_VERIFY_MALFORMED, 5);
}

Test(log, deleted_record)
{
	struct st_verify_report rep = tampered(delete_record, NULL);

	check(&rep, ST_VERIFY_INDEX, 5);
}

Test(log, swapped_records)
{
	struct st_verify_report rep = tampered(swap_records, NULL);

	check(&rep, ST_VERIFY_INDEX, 3);
}

Test(log, forged_chain)
{
	struct st_verify_report rep = tampered(forge_chain, NULL);

	check(&rep, ST_VERIFY_CHAIN, 10);
}

Test(log, replayed_record)
{
	struct st_verify_report rep = tampered(forge_index, NULL);

	check(&rep, ST_VERIFY_INDEX, 10);
}

Test(log, truncated_tail_is_found)
{
	/* The store keeps the checkpoint of the commit that wrote them. */
	struct st_verify_report rep = tampered(drop_last, NULL);

	check(&rep, ST_VERIFY_SIGNATURE, 9);
	cr_assert_eq(rep.records, 9);
	cr_assert(strstr(rep.detail, "tail"), "%s", rep.detail);
}

static void nothing(void)
{
}

Test(log, wrong_trusted_key)
{
	uint8_t pk[32], sk[64];
	struct st_verify_report rep;

	crypto_sign_keypair(pk, sk);
	rep = tampered(nothing, pk);
	check(&rep, ST_VERIFY_KEY, 0);
	cr_assert_eq(st_verify(fx.env, fx.keys.sign_pk, &rep), PB_OK);
	check(&rep, ST_VERIFY_OK, 0);
	cr_assert_eq(rep.records, 10);
}

/* The Ed25519 identity point: small order, accepts forged signatures. */
static const uint8_t small_order[32] = {1};

Test(log, small_order_trusted_key)
{
	struct st_verify_report rep = tampered(nothing, small_order);

	check(&rep, ST_VERIFY_KEY, 0);
}

static void small_order_genesis(void)
{
	Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;
	uint8_t zero[32] = {0}, buf[512];
	size_t len;

	rec.prev_hash.data = zero;
	rec.prev_hash.len = 32;
	rec.actor = "router";
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY;
	rec.key.data = (uint8_t *)small_order;
	rec.key.len = 32;
	rec.key_name = "evil";
	len = mailroom__audit_record__pack(&rec, buf);
	cr_assert_eq(raw_log_put(0, buf, len), 0);
}

Test(log, small_order_genesis_key)
{
	struct st_verify_report rep = tampered(small_order_genesis, NULL);

	check(&rep, ST_VERIFY_KEY, 0);
}

static void drop_genesis(void)
{
	cr_assert_eq(raw_log_del(0), 0);
}

Test(log, missing_genesis)
{
	struct st_verify_report rep = tampered(drop_genesis, NULL);

	check(&rep, ST_VERIFY_KEY, 0);
}

static void empty_log(void)
{
	for (uint64_t i = 0; i < 10; i++)
		cr_assert_eq(raw_log_del(i), 0);
}

Test(log, empty_log)
{
	struct st_verify_report rep = tampered(empty_log, NULL);

	cr_assert_eq(rep.fail, ST_VERIFY_EMPTY);
	cr_assert_eq(rep.records, 0);
}

Test(log, fail_strings)
{
	for (int f = ST_VERIFY_OK; f <= ST_VERIFY_EMPTY; f++)
		cr_assert_str_neq(st_verify_fail_str(f), "unknown");
	cr_assert_str_eq(st_verify_fail_str(99), "unknown");
}

/* A 1 MB map fills up: every path reports PB_EFULL, nothing crashes, and
 * what was committed still verifies. */
Test(log, map_full)
{
	char detail[2048];
	struct st_verify_report rep;
	struct st_receipt r;
	uint64_t committed = 1;
	int full = 0, rc;
	st_txn *t, *c;

	memset(detail, 'x', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	fx_close();
	cr_assert_eq(fx_reopen(1, 0), PB_OK);

	/* Work in children, as the router does: a full child is aborted and
	 * the parent commits what it has. */
	for (int i = 0; i < 2000 && !full; i++) {
		int n = 0;
		cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
		cr_assert_eq(st_txn_begin(fx.env, t, 0, &c), PB_OK);
		for (; n < 10 && (rc = append_one(c, detail, &r)) == PB_OK; n++)
			;
		if (rc == PB_OK) {
			rc = st_txn_commit(c);
		} else {
			st_txn_abort(c);
			n = 0;
		}
		cr_assert(rc == PB_OK || rc == PB_EFULL, "got %s", pb_err_name(rc));
		full = rc == PB_EFULL;
		if (full && n) {
			/* The failed child commit failed its parent too. */
			cr_assert_eq(st_txn_commit(t), PB_EFULL);
			break;
		}
		rc = st_txn_commit(t);
		cr_assert(rc == PB_OK || rc == PB_EFULL, "got %s", pb_err_name(rc));
		if (rc == PB_OK)
			committed += (uint64_t)n;
		full |= rc == PB_EFULL;
	}
	cr_assert(full, "a 1 MB map never filled");

	/* Straight in a top-level transaction: an append meets the full map,
	 * and so does everything after it, the commit included. */
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	for (int i = 0; i < 1000 && (rc = append_one(t, detail, &r)) == PB_OK; i++)
		;
	cr_assert_eq(rc, PB_EFULL);
	cr_assert_eq(st_txn_commit(t), PB_EFULL);

	cr_assert_eq(st_verify(fx.env, fx.keys.sign_pk, &rep), PB_OK);
	cr_assert_eq(rep.fail, ST_VERIFY_OK);
	cr_assert_eq(rep.records, committed);

	fx_close();
	cr_assert_eq(fx_reopen(0, 1), PB_OK);
	cr_assert_eq(st_verify(fx.env, fx.keys.sign_pk, &rep), PB_OK);
	cr_assert_eq(rep.fail, ST_VERIFY_OK);
	cr_assert_eq(rep.records, committed);
	fx_close();

	/* A bigger map and the log carries on. */
	cr_assert_eq(fx_reopen(8, 0), PB_OK);
	cr_assert_eq(fx_append(5, &r), PB_OK);
	cr_assert_eq(r.index, committed + 4);
	verify_ok(committed + 5);
}
