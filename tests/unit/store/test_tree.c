/* The Merkle tree kept beside the log: its root and proofs at every size
 * agree with a naive tree over the stored values, and verify with the
 * RFC 9162 algorithms; checkpoints are kept per size. */
#include "helpers.h"
#include "mt.h"
#include "pb_err.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

TestSuite(tree, .init = fx_setup, .fini = fx_teardown);

/* Leaf hashes of the first n stored values, read back from the log. */
static uint8_t (*leaves(uint64_t n))[MT_HASH_LEN]
{
	uint8_t (*l)[MT_HASH_LEN] = calloc(n ? n : 1, MT_HASH_LEN);
	st_txn *t;

	cr_assert_not_null(l);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *data;
		size_t len;
		cr_assert_eq(st_log_get(t, i, &data, &len), PB_OK);
		mt_leaf_hash(data, len, l[i]);
	}
	st_txn_abort(t);
	return l;
}

Test(tree, roots_and_proofs_at_every_size_match_a_naive_tree)
{
	const uint64_t n = 300;   /* with the genesis record: 301 */
	uint8_t root[MT_HASH_LEN], want[MT_HASH_LEN], proof[MT_PROOF_MAX][MT_HASH_LEN];
	size_t len;
	st_txn *t;

	/* several transactions, so nodes span commits */
	for (int i = 0; i < 6; i++)
		cr_assert_eq(fx_append(50, NULL), PB_OK);
	uint8_t (*l)[MT_HASH_LEN] = leaves(n + 1);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	for (uint64_t size = 1; size <= n + 1; size++) {
		cr_assert_eq(st_tree_root(t, size, root), PB_OK);
		mt_root_naive(l, size, want);
		cr_assert_eq(memcmp(root, want, MT_HASH_LEN), 0, "root at size %llu",
		             (unsigned long long)size);
		uint64_t idx = (size * 7919) % size;
		cr_assert_eq(st_tree_inclusion(t, idx, size, proof, MT_PROOF_MAX, &len), PB_OK);
		cr_assert_eq(mt_verify_inclusion(l[idx], idx, size, (const uint8_t(*)[32])proof, len, want),
		             PB_OK, "inclusion of %llu in %llu", (unsigned long long)idx,
		             (unsigned long long)size);
		uint64_t old = 1 + (size * 31) % size;
		uint8_t old_root[MT_HASH_LEN];
		mt_root_naive(l, old, old_root);
		cr_assert_eq(st_tree_consistency(t, old, size, proof, MT_PROOF_MAX, &len), PB_OK);
		cr_assert_eq(mt_verify_consistency(old, size, old_root, want, (const uint8_t(*)[32])proof, len),
		             PB_OK, "consistency %llu -> %llu", (unsigned long long)old,
		             (unsigned long long)size);
	}
	cr_assert_eq(st_tree_root(t, n + 2, root), PB_EINVAL, "no root past the end");
	st_txn_abort(t);
	free(l);
	/* Only the subtrees of 8 records and more are kept: the lower levels
	 * are hashed from the records when asked for. */
	uint64_t pages, entries, want_nodes = 0;
	for (int level = 3; level < 64; level++)
		want_nodes += (n + 1) >> level;
	fx_close();
	cr_assert_eq(raw_dbi_pages("nodes", &pages, &entries), 0);
	cr_assert_eq(entries, want_nodes, "%llu nodes", (unsigned long long)entries);
	cr_assert_eq(fx_reopen(16, 0), PB_OK);
}

/* Roots of every size up to n equal the naive tree's over the log. */
static void roots_match(uint64_t n)
{
	uint8_t (*l)[MT_HASH_LEN] = leaves(n);
	uint8_t root[MT_HASH_LEN], want[MT_HASH_LEN];
	st_txn *t;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	for (uint64_t size = 1; size <= n; size++) {
		cr_assert_eq(st_tree_root(t, size, root), PB_OK, "root at size %llu",
		             (unsigned long long)size);
		mt_root_naive(l, size, want);
		cr_assert_eq(memcmp(root, want, MT_HASH_LEN), 0, "root at size %llu",
		             (unsigned long long)size);
	}
	st_txn_abort(t);
	free(l);
}

Test(tree, roots_survive_a_reopen_read_only_and_for_writing)
{
	for (int i = 0; i < 4; i++)
		cr_assert_eq(fx_append(37, NULL), PB_OK);
	fx_close();
	cr_assert_eq(fx_reopen(16, 1), PB_OK);
	roots_match(149);
	fx_close();
	cr_assert_eq(fx_reopen(16, 0), PB_OK);
	cr_assert_eq(fx_append(40, NULL), PB_OK);
	roots_match(189);
}

Test(tree, an_aborted_child_leaves_no_nodes)
{
	st_txn *top, *child;
	uint8_t before[MT_HASH_LEN], after[MT_HASH_LEN];
	Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;

	cr_assert_eq(fx_append(5, NULL), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &top), PB_OK);
	cr_assert_eq(st_tree_root(top, 6, before), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, top, 0, &child), PB_OK);
	rec.actor = "test";
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_ROUTED;
	cr_assert_eq(st_log_append(child, &rec, NULL), PB_OK);
	cr_assert_eq(st_log_append(child, &rec, NULL), PB_OK);
	st_txn_abort(child);
	cr_assert_eq(st_log_append(top, &rec, NULL), PB_OK);
	cr_assert_eq(st_txn_commit(top), PB_OK);
	uint8_t (*l)[MT_HASH_LEN] = leaves(7);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &top), PB_OK);
	cr_assert_eq(st_tree_root(top, 6, after), PB_OK);
	cr_assert_eq(memcmp(before, after, MT_HASH_LEN), 0);
	cr_assert_eq(st_tree_root(top, 7, after), PB_OK);
	uint8_t want[MT_HASH_LEN];
	mt_root_naive(l, 7, want);
	cr_assert_eq(memcmp(after, want, MT_HASH_LEN), 0);
	st_txn_abort(top);
	free(l);
}

static int count_cp(uint64_t size, const char *note, size_t len, void *arg)
{
	(void)note;
	(void)len;
	*(uint64_t *)arg += size;
	return 0;
}

Test(tree, checkpoints_are_kept_per_size)
{
	st_txn *t;
	char *note;
	size_t len;
	uint64_t size, sum = 0;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	/* A new store's: over record 0. */
	cr_assert_eq(st_checkpoint_get(t, 0, &note, &len, &size), PB_OK);
	cr_assert_eq(size, 1);
	free(note);
	cr_assert_eq(st_checkpoint_put(t, 3, "three", 5), PB_OK);
	cr_assert_eq(st_checkpoint_put(t, 10, "ten", 3), PB_OK);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_checkpoint_get(t, 0, &note, &len, &size), PB_OK);
	cr_assert_eq(size, 10);
	cr_assert_str_eq(note, "ten");
	free(note);
	cr_assert_eq(st_checkpoint_get(t, 3, &note, &len, &size), PB_OK);
	cr_assert_str_eq(note, "three");
	free(note);
	cr_assert_eq(st_checkpoint_get(t, 4, &note, &len, &size), PB_ENOTFOUND);
	cr_assert_eq(st_checkpoint_each(t, count_cp, &sum), PB_OK);
	cr_assert_eq(sum, 14);
	st_txn_abort(t);
}

/* Appends take the tree's right edge below the stored levels from their
 * transaction: a child that aborts leaves its parent's edge as it was,
 * one that commits hands its own back, and the nodes written after
 * either are the naive tree's. */
Test(tree, the_right_edge_follows_children_that_abort_and_commit)
{
	Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;
	st_txn *top, *child;

	rec.actor = "test";
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_ROUTED;
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &top), PB_OK);
	for (int round = 0; round < 6; round++) {
		for (int i = 0; i < 3; i++)
			cr_assert_eq(st_log_append(top, &rec, NULL), PB_OK);
		cr_assert_eq(st_txn_begin(fx.env, top, 0, &child), PB_OK);
		for (int i = 0; i < 5 + round; i++)
			cr_assert_eq(st_log_append(child, &rec, NULL), PB_OK);
		if (round % 2)
			st_txn_abort(child);
		else
			cr_assert_eq(st_txn_commit(child), PB_OK);
	}
	cr_assert_eq(st_txn_commit(top), PB_OK);
	uint64_t n;
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &top), PB_OK);
	cr_assert_eq(st_log_size(top, &n), PB_OK);
	st_txn_abort(top);
	cr_assert_eq(n, 1 + 18 + 5 + 7 + 9, "the aborted children's records are gone");
	roots_match(n);
	cr_assert_eq(fx_append(40, NULL), PB_OK);
	roots_match(n + 40);
}
