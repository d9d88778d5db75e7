/* The Merkle tree kept beside the log: its root and proofs at every size
 * agree with a naive tree over the stored values, and verify with the
 * RFC 9162 algorithms; checkpoints are kept per size. */
#include "helpers.h"
#include "mt.h"
#include "pb_err.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Appends take their left siblings below the stored levels from the
 * transaction's node memo: after a child that aborts the parent's right
 * edge is the one before it, after one that commits the child's, and the
 * nodes written after either are the naive tree's. */
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

/* Appends n records of actor who to t. */
static void append_as(st_txn *t, int n, const char *who)
{
	for (int i = 0; i < n; i++) {
		Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;
		rec.time_ms = 5000 + i;
		rec.actor = (char *)who;
		rec.event = MAILROOM__AUDIT_EVENT__AUDIT_ROUTED;
		rec.queue = "general";
		cr_assert_eq(st_log_append(t, &rec, NULL), PB_OK);
	}
}

/* One batch of b records, as the router makes them: some in the
 * top-level transaction, some in children that commit, and before them
 * records of a child (and, when decoy_top, of a whole transaction) that
 * does not commit, proved while they stood, whose nodes must not be
 * taken for the ones that replace them. After the seal, every record of
 * the batch and a few older ones are proved in the writing transaction;
 * a fresh read transaction then proves each one by one from what is
 * stored, and both must be the same bytes and verify against the naive
 * root. */
static void batch_proofs_match(uint64_t b, int decoy_top)
{
	uint8_t (*got)[MT_PROOF_MAX][MT_HASH_LEN], one[MT_PROOF_MAX][MT_HASH_LEN], root[MT_HASH_LEN];
	uint64_t from, size, nidx = 0, *idx;
	size_t *glen, len;
	st_txn *top, *child;

	if (decoy_top) {
		cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &top), PB_OK);
		cr_assert_eq(st_log_size(top, &from), PB_OK);
		append_as(top, (int)b + 3, "decoy");
		cr_assert_eq(st_tree_inclusion(top, from, from + b + 3, one, MT_PROOF_MAX, &len), PB_OK);
		cr_assert_eq(st_tree_root(top, from + b + 3, root), PB_OK);
		st_txn_abort(top);
	}
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &top), PB_OK);
	cr_assert_eq(st_log_size(top, &from), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, top, 0, &child), PB_OK);
	append_as(child, (int)(b % 5) + 2, "aborted");
	cr_assert_eq(st_tree_inclusion(child, from, from + b % 5 + 2, one, MT_PROOF_MAX, &len), PB_OK);
	st_txn_abort(child);
	for (uint64_t done = 0; done < b;) {
		uint64_t k = 1 + (done * 7 + b) % 4;
		if (k > b - done)
			k = b - done;
		if (done % 2) {
			append_as(top, (int)k, "test");
		} else {
			cr_assert_eq(st_txn_begin(fx.env, top, 0, &child), PB_OK);
			append_as(child, (int)k, "child");
			cr_assert_eq(st_txn_commit(child), PB_OK);
		}
		done += k;
	}
	cr_assert_eq(st_log_seal(top), PB_OK);
	size = from + b;
	idx = calloc(b + 3, sizeof(*idx));
	got = calloc(b + 3, sizeof(*got));
	glen = calloc(b + 3, sizeof(*glen));
	cr_assert(idx && got && glen);
	for (uint64_t i = from; i < size; i++)
		idx[nidx++] = i;
	idx[nidx++] = 0;
	idx[nidx++] = from / 2;
	idx[nidx++] = from ? from - 1 : size - 1;
	for (uint64_t j = 0; j < nidx; j++)
		cr_assert_eq(st_tree_inclusion(top, idx[j], size, got[j], MT_PROOF_MAX, &glen[j]), PB_OK);
	cr_assert_eq(st_txn_commit(top), PB_OK);

	uint8_t (*l)[MT_HASH_LEN] = leaves(size);
	mt_root_naive(l, size, root);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &top), PB_OK);
	for (uint64_t j = 0; j < nidx; j++) {
		cr_assert_eq(st_tree_inclusion(top, idx[j], size, one, MT_PROOF_MAX, &len), PB_OK);
		cr_assert_eq(len, glen[j]);
		cr_assert_eq(memcmp(one, got[j], len * MT_HASH_LEN), 0, "proof of %llu in %llu",
		             (unsigned long long)idx[j], (unsigned long long)size);
		cr_assert_eq(mt_verify_inclusion(l[idx[j]], idx[j], size, (const uint8_t(*)[32])one, len,
		                                 root),
		             PB_OK);
	}
	st_txn_abort(top);
	free(l);
	free(idx);
	free(got);
	free(glen);
}

/* Batches of many sizes, from a tree of one record up, crossing the
 * stored levels' boundaries (every 8 records) at every offset. */
Test(tree, proofs_in_the_writing_transaction_equal_proofs_made_one_by_one)
{
	static const uint64_t shape[] = {1, 1, 2, 3, 5, 8, 13, 24, 7, 1, 31, 64, 9, 6, 17, 40, 2, 25};
	uint8_t one[MT_PROOF_MAX][MT_HASH_LEN];
	size_t len = 99;
	st_txn *top;

	/* The genesis record alone: its proof in a tree of size 1 is empty. */
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &top), PB_OK);
	cr_assert_eq(st_tree_inclusion(top, 0, 1, one, MT_PROOF_MAX, &len), PB_OK);
	cr_assert_eq(len, 0);
	st_txn_abort(top);
	for (size_t s = 0; s < sizeof(shape) / sizeof(shape[0]); s++)
		batch_proofs_match(shape[s], s % 3 == 1);
}

/* The writer keeps the nodes it hashed only for one top-level
 * transaction: after one that did not commit, another process may have
 * appended different records at the same indices, and a proof made by
 * the next transaction must be of those. */
Test(tree, a_new_transaction_does_not_take_nodes_another_writer_replaced)
{
	uint8_t got[MT_PROOF_MAX][MT_HASH_LEN], one[MT_PROOF_MAX][MT_HASH_LEN], root[MT_HASH_LEN];
	uint64_t from;
	size_t glen, len;
	st_txn *t;
	pid_t pid;
	int status;

	cr_assert_eq(fx_append(6, NULL), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &from), PB_OK);
	append_as(t, 9, "decoy");
	cr_assert_eq(st_tree_inclusion(t, from, from + 9, got, MT_PROOF_MAX, &glen), PB_OK);
	st_txn_abort(t);
	/* The other writer: its own env on the same store, in a child process. */
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		st_env *e;
		int ok = st_open(fx.store, 16, 0, &fx.keys, &e) == PB_OK &&
		         st_txn_begin(e, NULL, 0, &t) == PB_OK;
		for (int i = 0; ok && i < 9; i++) {
			Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;
			rec.actor = "other";
			rec.event = MAILROOM__AUDIT_EVENT__AUDIT_ROUTED;
			ok = st_log_append(t, &rec, NULL) == PB_OK;
		}
		_exit(ok && st_txn_commit(t) == PB_OK ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_tree_inclusion(t, from, from + 9, got, MT_PROOF_MAX, &glen), PB_OK);
	st_txn_abort(t);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_tree_inclusion(t, from, from + 9, one, MT_PROOF_MAX, &len), PB_OK);
	st_txn_abort(t);
	cr_assert_eq(len, glen);
	cr_assert_eq(memcmp(one, got, len * MT_HASH_LEN), 0);
	uint8_t (*l)[MT_HASH_LEN] = leaves(from + 9);
	mt_root_naive(l, from + 9, root);
	cr_assert_eq(mt_verify_inclusion(l[from], from, from + 9, (const uint8_t(*)[32])one, len, root),
	             PB_OK);
	free(l);
}
