/* Appending to and reading the signed, hash-chained audit log. */
#include "st_int.h"
#include "pb_err.h"

#include <sodium.h>
#include <string.h>

int st_log_append(st_txn *t, Mailroom__AuditRecord *rec, struct st_receipt *out)
{
	Mailroom__AuditRecord r;
	uint8_t prev[ST_HASH_LEN], kbuf[8], hash[ST_HASH_LEN];
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
	if (len > SIZE_MAX - ST_SIG_LEN)
		return PB_ETOOBIG;
	sti_put_be64(kbuf, r.index);
	v.mv_size = len + ST_SIG_LEN;
	v.mv_data = NULL;
	/* Reserve the value and build it in place: body then signature.
	 * MDB_APPEND refuses any key not above the last, so a head that
	 * disagreed with the log would fail here rather than overwrite. */
	rc = mdb_put(t->txn, t->env->log, &k, &v, MDB_APPEND | MDB_RESERVE);
	if (rc == MDB_KEYEXIST)
		return PB_ECORRUPT;
	if (rc)
		return sti_err(t, rc);
	if (mailroom__audit_record__pack(&r, v.mv_data) != len)
		return PB_ECORRUPT;   /* cannot happen; never store a short body */
	crypto_sign_detached((uint8_t *)v.mv_data + len, NULL, v.mv_data, len, t->env->keys.sign_sk);
	sti_record_hash(v.mv_data, len, hash);

	if (out) {
		out->index = r.index;
		memcpy(out->hash, hash, sizeof(hash));
		memcpy(out->sig, (uint8_t *)v.mv_data + len, ST_SIG_LEN);
		memcpy(out->key_id, t->env->keys.key_id, ST_KEYID_LEN);
	}
	/* Last: later puts may move the reserved value. */
	if ((rc = sti_tree_append(t, r.index, v.mv_data, v.mv_size)))
		return rc;
	t->next = r.index + 1;
	memcpy(t->last_hash, hash, sizeof(hash));
	rec->index = r.index;
	return PB_OK;
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
	if (v.mv_size < ST_SIG_LEN)
		return PB_ECORRUPT;
	*data = v.mv_data;
	*len = v.mv_size;
	return PB_OK;
}
