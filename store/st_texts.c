/* The texts behind the log's commitments: for each record that carries
 * one, the sealed RecordTexts under its index (README.md, "Record texts").
 * The public log holds only the commitments; this DBI never leaves the
 * store. */
#include "st_int.h"
#include "pb_err.h"

int sti_texts_open(st_env *e, MDB_txn *txn, unsigned flags)
{
	int rc;

	e->has_texts = 0;
	rc = mdb_dbi_open(txn, "texts", flags, &e->texts);
	/* A store no writer of this version has opened yet: no texts. */
	if (rc == MDB_NOTFOUND && !(flags & MDB_CREATE))
		return PB_OK;
	if (rc)
		return sti_err(NULL, rc);
	e->has_texts = 1;
	return PB_OK;
}

int st_texts_put(st_txn *t, uint64_t index, const uint8_t *sealed, size_t len)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key}, v = {len, (void *)sealed};
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	if (!sealed || len == 0 || !t->env->has_texts)
		return PB_EINVAL;
	sti_put_be64(key, index);
	/* One record, one set of texts: never replaced. */
	rc = sti_put_rising(t->txn, t->env->texts, &k, &v, MDB_NOOVERWRITE);
	return rc == MDB_KEYEXIST ? PB_EEXIST : sti_err(t, rc);
}

int st_texts_get(st_txn *t, uint64_t index, const uint8_t **data, size_t *len)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key}, v;
	int rc;

	*data = NULL;
	*len = 0;
	if (!t)
		return PB_EINVAL;
	if (!t->env->has_texts)
		return PB_ENOTFOUND;
	sti_put_be64(key, index);
	if ((rc = mdb_get(t->txn, t->env->texts, &k, &v)))
		return sti_err(t, rc);
	*data = v.mv_data;
	*len = v.mv_size;
	return PB_OK;
}
