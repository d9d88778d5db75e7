/* Appending to and reading the signed, hash-chained audit log. */
#include "st_int.h"
#include "mt.h"
#include "pb_err.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- pending records ---- */

void sti_pending_free(st_txn *t, int aborted)
{
	if (aborted) {
		/* A helper that has not started on one skips it. */
		for (size_t i = 0; i < t->npend; i++) {
			int expect = STI_REC_QUEUED;
			atomic_compare_exchange_strong(&t->pend[i]->state, &expect, STI_REC_DROPPED);
		}
	}
	free(t->pend);
	t->pend = NULL;
	t->npend = t->cappend = 0;
	if (!t->parent && !t->readonly && t->env->pool)
		sti_pool_reset(t->env->pool);
}

static int pending_reserve(st_txn *t, size_t more)
{
	if (t->npend + more <= t->cappend)
		return PB_OK;
	size_t cap = t->cappend ? t->cappend : 16;
	while (cap < t->npend + more)
		cap *= 2;
	struct sti_rec **p = realloc(t->pend, cap * sizeof(*p));
	if (!p)
		return PB_ENOMEM;
	t->pend = p;
	t->cappend = cap;
	return PB_OK;
}

int sti_pending_merge(st_txn *child)
{
	st_txn *parent = child->parent;
	int rc;

	if (!child->npend)
		return PB_OK;
	if ((rc = pending_reserve(parent, child->npend)))
		return rc;
	memcpy(parent->pend + parent->npend, child->pend, child->npend * sizeof(*child->pend));
	parent->npend += child->npend;
	free(child->pend);
	child->pend = NULL;
	child->npend = child->cappend = 0;
	return PB_OK;
}

/* Before a rotation commits, the outgoing key signs up to the rotation
 * record and the incoming one after it; the top level knows where. */
static int signs_new(const st_txn *t, uint64_t index)
{
	const st_txn *top = t;

	if (!t->env->rotating)
		return 1;
	while (top->parent)
		top = top->parent;
	return top->rot_from && index >= top->rot_from;
}

/* The secret key that signs record index, and its key id. */
static const uint8_t *sign_sk(const st_txn *t, uint64_t index)
{
	return signs_new(t, index) ? t->env->keys.sign_sk : t->env->keys.prev_sk;
}

static const uint8_t *sign_key_id(const st_txn *t, uint64_t index)
{
	return signs_new(t, index) ? t->env->keys.key_id : t->env->keys.prev_key_id;
}

int st_log_append(st_txn *t, Mailroom__AuditRecord *rec, struct st_receipt *out)
{
	Mailroom__AuditRecord r;
	uint8_t prev[ST_HASH_LEN], hash[ST_HASH_LEN];
	struct sti_rec *p;
	size_t len;
	int rc;

	if ((rc = sti_need_write(t)) || !rec || !t->env->has_keys)
		return rc ? rc : PB_EINVAL;
	if (t->next == UINT64_MAX)
		return PB_EFULL;
	/* A copy, so nothing of ours is left in the caller's record. */
	r = *rec;
	memcpy(prev, t->last_hash, sizeof(prev));
	r.index = t->next;
	r.prev_hash.data = prev;
	r.prev_hash.len = sizeof(prev);
	len = mailroom__audit_record__get_packed_size(&r);
	if (len > SIZE_MAX - ST_SIG_LEN - sizeof(*p))
		return PB_ETOOBIG;
	if ((rc = pending_reserve(t, 1)))
		return rc;
	if (!(p = malloc(sizeof(*p) + len + ST_SIG_LEN)))
		return PB_ENOMEM;
	if (mailroom__audit_record__pack(&r, p->value) != len) {
		free(p);
		return PB_ECORRUPT;   /* cannot happen; never store a short body */
	}
	memset(p->value + len, 0, ST_SIG_LEN);
	p->index = r.index;
	p->len = len + ST_SIG_LEN;
	/* Decided now: a rotation appended earlier in this batch already
	 * moved the keys on for the records after it. */
	p->sk = sign_sk(t, r.index);
	atomic_init(&p->state, STI_REC_QUEUED);
	/* The chain runs through the body alone, so it advances now. */
	sti_record_hash(p->value, len, hash);
	if ((rc = sti_pool_add(t->env->pool, p))) {
		free(p);
		return rc;
	}
	t->pend[t->npend++] = p;
	t->next = r.index + 1;
	memcpy(t->last_hash, hash, sizeof(hash));
	rec->index = r.index;
	if (out) {
		out->index = r.index;
		memcpy(out->hash, hash, sizeof(hash));
		memset(out->sig, 0, ST_SIG_LEN);
		memcpy(out->key_id, sign_key_id(t, r.index), ST_KEYID_LEN);
	}
	return PB_OK;
}

int st_log_seal(st_txn *t)
{
	uint8_t kbuf[8];
	MDB_val k = {sizeof(kbuf), kbuf}, v;
	int rc = PB_OK;

	if ((rc = sti_need_write(t)))
		return rc;
	if (t->parent)
		return PB_EINVAL;   /* only the top level knows the batch is complete */
	if (!t->npend)
		return PB_OK;
	sti_pool_finish(t->env->pool);
	for (size_t i = 0; i < t->npend && !rc; i++) {
		struct sti_rec *p = t->pend[i];
		if (atomic_load(&p->state) != STI_REC_SIGNED) {
			rc = PB_ECORRUPT;   /* cannot happen: committed records are never dropped */
			break;
		}
		sti_put_be64(kbuf, p->index);
		v.mv_size = p->len;
		v.mv_data = p->value;
		/* MDB_APPEND refuses any key not above the last, so a head that
		 * disagreed with the log would fail here rather than overwrite. */
		rc = mdb_put(t->txn, t->env->log, &k, &v, MDB_APPEND);
		if (rc == MDB_KEYEXIST)
			rc = PB_ECORRUPT;
		else
			rc = sti_err(t, rc);
		if (!rc)
			rc = sti_tree_append(t, p->index, p->leaf);
	}
	sti_pending_free(t, 0);
	return rc;
}

int st_log_size(st_txn *t, uint64_t *n)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if (!t || !n)
		return PB_EINVAL;
	if (!t->readonly) {
		*n = t->next;
		return PB_OK;
	}
	if ((rc = mdb_cursor_open(t->txn, t->env->log, &c)))
		return sti_err(t, rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND) {
		*n = 0;
		return PB_OK;
	}
	if (rc)
		return sti_err(t, rc);
	if (k.mv_size != 8)
		return PB_ECORRUPT;
	*n = sti_get_be64(k.mv_data) + 1;
	return PB_OK;
}

int st_log_get(st_txn *t, uint64_t index, const uint8_t **data, size_t *len)
{
	uint8_t kbuf[8];
	MDB_val k = {sizeof(kbuf), kbuf}, v;
	int rc;

	if (!t || !data || !len)
		return PB_EINVAL;
	sti_put_be64(kbuf, index);
	if ((rc = mdb_get(t->txn, t->env->log, &k, &v))) {
		/* Appended in this transaction but not sealed yet. */
		if (rc == MDB_NOTFOUND && !t->readonly && index < t->next)
			return PB_ESTATE;
		return sti_err(t, rc);
	}
	if (v.mv_size < ST_SIG_LEN)
		return PB_ECORRUPT;
	*data = v.mv_data;
	*len = v.mv_size;
	return PB_OK;
}
