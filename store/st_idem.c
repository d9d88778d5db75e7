/* The idempotency index: one fixed-size entry per key (README.md,
 * "Idempotency keys"). It replaced two hex-text references in extref
 * (69 and 134 bytes of key each): binary halves of the two hashes keep
 * an entry at 48 bytes. */
#include <string.h>

#include <sodium.h>

#include "st_int.h"
#include "pb_err.h"

int sti_idem_open(st_env *e, MDB_txn *txn, unsigned flags)
{
	int rc;

	e->has_idem = 0;
	rc = mdb_dbi_open(txn, "idem", flags, &e->idem);
	/* A store of another version, opened read-only: its schema check
	 * refuses it next. */
	if (rc == MDB_NOTFOUND && !(flags & MDB_CREATE))
		return PB_OK;
	if (rc)
		return sti_err(NULL, rc);
	e->has_idem = 1;
	return PB_OK;
}

int st_idem_put(st_txn *t, const uint8_t key[ST_HASH_LEN], const uint8_t body[ST_HASH_LEN],
                const uint8_t id[16])
{
	uint8_t val[16 + ST_IDEM_HALF];
	MDB_val k = {ST_IDEM_HALF, (void *)key}, v = {sizeof(val), val};
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	if (!t->env->has_idem)
		return PB_EINVAL;
	memcpy(val, id, 16);
	memcpy(val + 16, body, ST_IDEM_HALF);
	/* A key keeps its first message: a retry never replaces it. */
	rc = mdb_put(t->txn, t->env->idem, &k, &v, MDB_NOOVERWRITE);
	return rc == MDB_KEYEXIST ? PB_EEXIST : sti_err(t, rc);
}

int st_idem_get(st_txn *t, const uint8_t key[ST_HASH_LEN], const uint8_t body[ST_HASH_LEN],
                uint8_t id[16])
{
	MDB_val k = {ST_IDEM_HALF, (void *)key}, v;
	int rc;

	if (!t)
		return PB_EINVAL;
	if (!t->env->has_idem)
		return PB_ENOTFOUND;
	if ((rc = mdb_get(t->txn, t->env->idem, &k, &v)))
		return sti_err(t, rc);
	if (v.mv_size != 16 + ST_IDEM_HALF)
		return PB_ECORRUPT;
	memcpy(id, v.mv_data, 16);
	/* The body hash is no secret (the caller holds the request), but a
	 * constant-time compare costs nothing here. */
	return sodium_memcmp((const uint8_t *)v.mv_data + 16, body, ST_IDEM_HALF) ? PB_ESTATE : PB_OK;
}
