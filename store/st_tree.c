/* The RFC 6962 Merkle tree over the log, and the signed checkpoints.
 *
 * nodes DBI: be64 last || be8 level -> SHA-256 of the perfect subtree at
 * (level, index), level NODE_LEVEL_MIN and up, which covers records
 * [index << level, (index + 1) << level) and so ends at record
 * last = ((index + 1) << level) - 1.
 * A leaf is H(0x00 || stored value), the serialised record. Nodes below
 * NODE_LEVEL_MIN are not stored: they were seven eighths of the table,
 * and one is at most 2^(NODE_LEVEL_MIN-1) records away, hashed in a few
 * microseconds. Appending record i writes every stored subtree it
 * completes (one put per 2^NODE_LEVEL_MIN records on average), in the
 * append's own transaction; root and proofs then cost O(log n) reads
 * and a few records' hashes at any size.
 * Every node record i completes ends at i, so the keys only ever grow:
 * appends fill pages and a commit dirties the tree's last page or two.
 *
 * checkpoint DBI: be64 size -> the signed note for that size, written by
 * the seal of the transaction that appended the records it covers. */
#include "st_int.h"
#include "mt.h"
#include "pb_err.h"
#include "pb_log.h"
#include "sn.h"

#include <stdlib.h>
#include <string.h>

#define NODE_KEY 9
/* The lowest level kept in nodes: a node below it is hashed from at most
 * 4 records (README.md, "Schema"). */
#define NODE_LEVEL_MIN STI_NODE_LEVEL_MIN

static void node_key(uint8_t k[NODE_KEY], uint64_t level, uint64_t index)
{
	sti_put_be64(k, ((index + 1) << level) - 1);
	k[8] = (uint8_t)level;
}

int sti_tree_open(st_env *e, MDB_txn *txn, unsigned flags)
{
	return sti_err(NULL, mdb_dbi_open(txn, "nodes", flags & MDB_CREATE, &e->tree));
}

struct getter {
	st_txn *t;
};

/* ---- the writer's node memo ----
 * The receipts of a commit prove its records against the commit's own
 * checkpoint: their paths share most nodes, and the lowest ones are the
 * batch's own, just hashed by the appends. So a write transaction keeps
 * every node it hashes or reads in a small direct-mapped table, and the
 * proofs of one commit hash each record and read each stored node about
 * once rather than once per proof (README.md, "The tree's cost").
 * A complete node never changes, and a node enters the tree only through
 * the append that completes it, which writes its slot: so a slot left
 * over records of a child that did not commit is overwritten before any
 * lookup can reach it. Between top-level transactions another process
 * may have appended, so each begins a new generation, and slots of an
 * older one are empty. A slot overwritten is only a node hashed or read
 * again. */
#define MEMO_SLOTS 512

struct sti_memo {
	uint64_t gen;   /* the current top-level transaction's; slots of others are empty */
	struct memo_slot {
		uint64_t gen, index;
		uint8_t level, h[MT_HASH_LEN];
	} slot[MEMO_SLOTS];
};

static struct memo_slot *memo_slot(const st_txn *t, uint64_t level, uint64_t index)
{
	/* Fibonacci hashing spreads the runs of neighbours a batch makes. */
	uint64_t k = (index * 64 + level) * UINT64_C(0x9E3779B97F4A7C15);

	if (t->readonly || !t->env->memo)
		return NULL;
	return &t->env->memo->slot[k >> 55];
}

static int memo_get(const st_txn *t, uint64_t level, uint64_t index, uint8_t out[MT_HASH_LEN])
{
	const struct memo_slot *s = memo_slot(t, level, index);

	if (!s || s->gen != t->env->memo->gen || s->index != index || s->level != level)
		return 0;
	memcpy(out, s->h, MT_HASH_LEN);
	return 1;
}

static void memo_put(const st_txn *t, uint64_t level, uint64_t index, const uint8_t h[MT_HASH_LEN])
{
	struct memo_slot *s = memo_slot(t, level, index);

	if (!s)
		return;
	s->gen = t->env->memo->gen;
	s->index = index;
	s->level = (uint8_t)level;
	memcpy(s->h, h, MT_HASH_LEN);
}

void sti_memo_begin(st_txn *t)
{
	/* Without one the tree only costs what it did before. */
	if (!t->env->memo)
		t->env->memo = calloc(1, sizeof(*t->env->memo));
	if (t->env->memo)
		t->env->memo->gen++;
}

void sti_memo_free(st_env *e)
{
	free(e->memo);
	e->memo = NULL;
}

/* A leaf, from its record. */
static int leaf_get(st_txn *t, uint64_t index, uint8_t out[MT_HASH_LEN])
{
	const uint8_t *data;
	size_t len;
	int rc = st_log_get(t, index, &data, &len);

	if (rc)
		return rc == PB_ENOTFOUND ? PB_ECORRUPT : rc;
	mt_leaf_hash(data, len, out);
	return PB_OK;
}

static int node_get(void *arg, uint64_t level, uint64_t index, uint8_t out[MT_HASH_LEN])
{
	struct getter *g = arg;
	uint8_t kb[NODE_KEY], left[MT_HASH_LEN];
	MDB_val k = {sizeof(kb), kb}, v;
	int rc;

	if (level >= MT_LEVELS)
		return PB_EINVAL;
	if (memo_get(g->t, level, index, out))
		return PB_OK;
	if (level == 0) {
		if ((rc = leaf_get(g->t, index, out)))
			return rc;
	} else if (level < NODE_LEVEL_MIN) {
		if ((rc = node_get(arg, level - 1, 2 * index, left)) ||
		    (rc = node_get(arg, level - 1, 2 * index + 1, out)))
			return rc;
		mt_node_hash(left, out, out);
	} else {
		node_key(kb, level, index);
		if ((rc = mdb_get(g->t->txn, g->t->env->tree, &k, &v)))
			return rc == MDB_NOTFOUND ? PB_ECORRUPT : sti_err(g->t, rc);
		if (v.mv_size != MT_HASH_LEN)
			return PB_ECORRUPT;
		memcpy(out, v.mv_data, MT_HASH_LEN);
	}
	memo_put(g->t, level, index, out);
	return PB_OK;
}

static int node_put(st_txn *t, uint64_t level, uint64_t index, const uint8_t h[MT_HASH_LEN])
{
	uint8_t kb[NODE_KEY];
	MDB_val k = {sizeof(kb), kb}, v = {MT_HASH_LEN, (void *)h};
	int rc;

	node_key(kb, level, index);
	/* MDB_APPEND also refuses a node out of order rather than misfile it. */
	rc = mdb_put(t->txn, t->env->tree, &k, &v, MDB_APPEND);
	return rc == MDB_KEYEXIST ? PB_ECORRUPT : sti_err(t, rc);
}

int sti_tree_append(st_txn *t, uint64_t index, const uint8_t leaf[ST_HASH_LEN])
{
	struct getter g = {t};
	uint8_t h[MT_HASH_LEN], left[MT_HASH_LEN];
	int rc;

	memcpy(h, leaf, MT_HASH_LEN);
	memo_put(t, 0, index, h);
	/* h is the node (level, i) record index completes; each 1 bit at the
	 * bottom of index closes one more subtree, with the left sibling
	 * (level, i - 1). The appends before put that sibling in the memo,
	 * so below the stored levels it is hashed from its records only at a
	 * transaction's first appends. */
	for (uint64_t level = 0; (index >> level) & 1; level++) {
		if ((rc = node_get(&g, level, (index >> level) - 1, left)))
			return rc;
		mt_node_hash(left, h, h);
		memo_put(t, level + 1, index >> (level + 1), h);
		if (level + 1 >= NODE_LEVEL_MIN && (rc = node_put(t, level + 1, index >> (level + 1), h)))
			return rc;
	}
	return PB_OK;
}

static int size_ok(st_txn *t, uint64_t size)
{
	uint64_t n;
	int rc = st_log_size(t, &n);

	if (rc)
		return rc;
	return size <= n ? PB_OK : PB_EINVAL;
}

int st_tree_node(st_txn *t, uint64_t level, uint64_t index, uint8_t out[ST_HASH_LEN])
{
	struct getter g = {t};
	uint64_t n;
	int rc;

	if (!t || !out || level >= MT_LEVELS || index > (UINT64_MAX >> level) - 1)
		return PB_EINVAL;
	if ((rc = st_log_size(t, &n)))
		return rc;
	if (((index + 1) << level) > n)
		return PB_ENOTFOUND;
	return node_get(&g, level, index, out);
}

int st_tree_root(st_txn *t, uint64_t size, uint8_t root[ST_HASH_LEN])
{
	struct getter g = {t};
	int rc;

	if (!t || !root)
		return PB_EINVAL;
	if ((rc = size_ok(t, size)))
		return rc;
	return mt_root(node_get, &g, size, root);
}

int st_tree_inclusion(st_txn *t, uint64_t index, uint64_t size, uint8_t (*proof)[ST_HASH_LEN],
                      size_t cap, size_t *len)
{
	struct getter g = {t};
	int rc;

	if (!t || !proof || !len)
		return PB_EINVAL;
	if ((rc = size_ok(t, size)))
		return rc;
	return mt_inclusion_proof(node_get, &g, index, size, proof, cap, len);
}

int st_tree_consistency(st_txn *t, uint64_t old_size, uint64_t new_size,
                        uint8_t (*proof)[ST_HASH_LEN], size_t cap, size_t *len)
{
	struct getter g = {t};
	int rc;

	if (!t || !proof || !len)
		return PB_EINVAL;
	if ((rc = size_ok(t, new_size)))
		return rc;
	return mt_consistency_proof(node_get, &g, old_size, new_size, proof, cap, len);
}

int st_checkpoint_put(st_txn *t, uint64_t size, const char *note, size_t len)
{
	uint8_t kb[8];
	MDB_val k = {sizeof(kb), kb}, v = {len, (void *)note};
	int rc;

	if ((rc = sti_need_write(t)) || !note || len == 0)
		return rc ? rc : PB_EINVAL;
	sti_put_be64(kb, size);
	return sti_err(t, mdb_put(t->txn, t->env->checkpoint, &k, &v, 0));
}

int st_checkpoint_get(st_txn *t, uint64_t size, char **note, size_t *len, uint64_t *got_size)
{
	MDB_cursor *c;
	uint8_t kb[8];
	MDB_val k = {sizeof(kb), kb}, v;
	int rc;

	if (!t || !note || !len)
		return PB_EINVAL;
	if ((rc = mdb_cursor_open(t->txn, t->env->checkpoint, &c)))
		return sti_err(t, rc);
	if (size == 0) {
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	} else {
		sti_put_be64(kb, size);
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
	}
	mdb_cursor_close(c);
	if (rc)
		return sti_err(t, rc);
	if (k.mv_size != 8)
		return PB_ECORRUPT;
	*note = malloc(v.mv_size + 1);
	if (!*note)
		return PB_ENOMEM;
	memcpy(*note, v.mv_data, v.mv_size);
	(*note)[v.mv_size] = '\0';
	*len = v.mv_size;
	if (got_size)
		*got_size = sti_get_be64(k.mv_data);
	return PB_OK;
}

int st_checkpoint_each(st_txn *t, int (*fn)(uint64_t size, const char *note, size_t len, void *arg),
                       void *arg)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc, stop = 0;

	if (!t || !fn)
		return PB_EINVAL;
	if ((rc = mdb_cursor_open(t->txn, t->env->checkpoint, &c)))
		return sti_err(t, rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !stop;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			mdb_cursor_close(c);
			return PB_ECORRUPT;
		}
		stop = fn(sti_get_be64(k.mv_data), v.mv_data, v.mv_size, arg);
	}
	mdb_cursor_close(c);
	return rc == 0 || rc == MDB_NOTFOUND ? PB_OK : sti_err(t, rc);
}

/* The note for size, signed by sk and, for a handover, also by prev_sk. */
static int checkpoint_at(st_txn *t, uint64_t size, const uint8_t *sk, const uint8_t *prev_sk)
{
	const char *name = t->env->keys.key_name;
	uint8_t root[ST_HASH_LEN];
	char body[256], note[256 + 2 * SN_LINE_MAX(sizeof(t->env->keys.key_name))];
	size_t blen, nlen, llen;
	int rc;

	if ((rc = st_tree_root(t, size, root)) ||
	    (rc = sn_checkpoint_format(name, size, root, NULL, body, sizeof(body), &blen)) ||
	    (rc = sn_sign(body, blen, name, sk, note, sizeof(note), &nlen)))
		return rc;
	/* A second signature line: signed notes allow several. */
	if (prev_sk && (rc = sn_sign_line(body, blen, name, prev_sk, note + nlen,
	                                  sizeof(note) - nlen, &llen)))
		return rc;
	if (prev_sk)
		nlen += llen;
	if ((rc = st_checkpoint_put(t, size, note, nlen)))
		return rc;
	t->cp_size = size;
	return PB_OK;
}

int st_log_seal(st_txn *t)
{
	const struct st_keys *k;
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	if (t->parent)
		return PB_EINVAL;   /* only the top level knows the batch is complete */
	if (t->next == t->start || t->next == t->cp_size)
		return PB_OK;
	k = &t->env->keys;
	/* A rotation pending: the outgoing key still signs. */
	if (t->env->rotating && !t->rot_from)
		return checkpoint_at(t, t->next, k->prev_sk, NULL);
	/* The handover: the size the new key starts at, signed by both, so
	 * whoever knows only the old key can follow (and it authorises the
	 * rotation record below it). */
	if (t->rot_from && t->cp_size < t->rot_from &&
	    (rc = checkpoint_at(t, t->rot_from, k->sign_sk, k->prev_sk)))
		return rc;
	if (t->next == t->cp_size)
		return PB_OK;
	return checkpoint_at(t, t->next, k->sign_sk, NULL);
}
