/* Witness cosignatures (c2sp.org/tlog-cosignature) the router collected
 * for its checkpoints: key be64(checkpoint size) || witness key id (4
 * bytes), value the cosignature line as the witness sent it. Not part of
 * the log: each line proves itself under the witness's key, so storing
 * one changes nothing a record states (README.md, "Witness
 * cosignatures"). */
#include "st_int.h"
#include "pb_err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define COSIG_KEY_LEN (8 + ST_KEYID_LEN)
#define COSIG_LINE_MAX 1024

int sti_cosig_open(st_env *e, MDB_txn *txn, unsigned flags)
{
	int rc;

	e->has_cosig = 0;
	rc = mdb_dbi_open(txn, "cosig", flags, &e->cosig);
	/* A read-only open of a store no writer of this version opened. */
	if (rc == MDB_NOTFOUND && !(flags & MDB_CREATE))
		return PB_OK;
	if (rc)
		return sti_err(NULL, rc);
	e->has_cosig = 1;
	return PB_OK;
}

int st_cosig_put(st_txn *t, uint64_t size, const uint8_t key_id[ST_KEYID_LEN], const char *line,
                 size_t len)
{
	uint8_t kb[COSIG_KEY_LEN];
	MDB_val k = {sizeof(kb), kb}, v = {len, (void *)line};
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	if (!line || len == 0 || len > COSIG_LINE_MAX || line[len - 1] != '\n' ||
	    !t->env->has_cosig)
		return PB_EINVAL;
	sti_put_be64(kb, size);
	memcpy(kb + 8, key_id, ST_KEYID_LEN);
	/* A newer cosignature of the same witness for the same size replaces
	 * the older: either proves the same thing. */
	return sti_err(t, mdb_put(t->txn, t->env->cosig, &k, &v, 0));
}

int st_cosig_get(st_txn *t, uint64_t size, char **lines, size_t *len)
{
	uint8_t kb[COSIG_KEY_LEN] = {0};
	MDB_val k = {sizeof(kb), kb}, v;
	MDB_cursor *c;
	char *out = NULL, *grown;
	size_t n = 0;
	int rc;

	*lines = NULL;
	*len = 0;
	if (!t)
		return PB_EINVAL;
	if (!t->env->has_cosig)
		return PB_OK;
	if ((rc = mdb_cursor_open(t->txn, t->env->cosig, &c)))
		return sti_err(t, rc);
	sti_put_be64(kb, size);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != COSIG_KEY_LEN || sti_get_be64(k.mv_data) != size)
			break;
		if (!(grown = realloc(out, n + v.mv_size + 1))) {
			rc = ENOMEM;
			break;
		}
		out = grown;
		memcpy(out + n, v.mv_data, v.mv_size);
		n += v.mv_size;
		out[n] = '\0';
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		free(out);
		return rc == ENOMEM ? PB_ENOMEM : sti_err(t, rc);
	}
	*lines = out;
	*len = n;
	return PB_OK;
}

int st_cosig_latest(st_txn *t, uint64_t *size)
{
	MDB_val k, v;
	MDB_cursor *c;
	int rc;

	*size = 0;
	if (!t)
		return PB_EINVAL;
	if (!t->env->has_cosig)
		return PB_ENOTFOUND;
	if ((rc = mdb_cursor_open(t->txn, t->env->cosig, &c)))
		return sti_err(t, rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	mdb_cursor_close(c);
	if (rc)
		return sti_err(t, rc);
	if (k.mv_size != COSIG_KEY_LEN)
		return PB_ECORRUPT;
	*size = sti_get_be64(k.mv_data);
	return PB_OK;
}
