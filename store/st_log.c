/* Appending to and reading the audit log. A record is written, and the
 * Merkle tree extended, as it is appended; the commit signs one
 * checkpoint over the lot (st_tree.c). */
#include "st_int.h"
#include "mt.h"
#include "pb_err.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* The key whose checkpoints cover record index: before a rotation
 * commits, the outgoing one up to the rotation record. */
static const uint8_t *key_id_at(const st_txn *t, uint64_t index)
{
	const st_txn *top = t;

	while (top->parent)
		top = top->parent;
	if (t->env->rotating && !(top->rot_from && index >= top->rot_from))
		return t->env->keys.prev_key_id;
	return t->env->keys.key_id;
}

int st_log_append(st_txn *t, Mailroom__AuditRecord *rec, struct st_receipt *out)
{
	Mailroom__AuditRecord r;
	uint8_t prev[ST_HASH_LEN], hash[ST_HASH_LEN], leaf[ST_HASH_LEN], kbuf[8];
	uint8_t small[1024], *buf = small;
	MDB_val k = {sizeof(kbuf), kbuf}, v;
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
	if (len > sizeof(small) && !(buf = malloc(len)))
		return PB_ENOMEM;
	if (mailroom__audit_record__pack(&r, buf) != len) {
		rc = PB_ECORRUPT;   /* cannot happen; never store a short record */
		goto out;
	}
	sti_put_be64(kbuf, r.index);
	v.mv_size = len;
	v.mv_data = buf;
	/* MDB_APPEND refuses any key not above the last, so a head that
	 * disagreed with the log would fail here rather than overwrite. */
	rc = mdb_put(t->txn, t->env->log, &k, &v, MDB_APPEND);
	rc = rc == MDB_KEYEXIST ? PB_ECORRUPT : sti_err(t, rc);
	if (rc)
		goto out;
	mt_leaf_hash(buf, len, leaf);
	if ((rc = sti_tree_append(t, r.index, leaf)))
		goto out;
	sti_record_hash(buf, len, hash);
	t->next = r.index + 1;
	memcpy(t->last_hash, hash, sizeof(hash));
	rec->index = r.index;
	if (out) {
		out->index = r.index;
		memcpy(out->hash, hash, sizeof(hash));
		memcpy(out->key_id, key_id_at(t, r.index), ST_KEYID_LEN);
	}
out:
	if (buf != small)
		free(buf);
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
	if ((rc = mdb_get(t->txn, t->env->log, &k, &v)))
		return sti_err(t, rc);
	if (v.mv_size == 0)
		return PB_ECORRUPT;
	*data = v.mv_data;
	*len = v.mv_size;
	return PB_OK;
}
