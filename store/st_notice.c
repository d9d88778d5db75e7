/* The notice outbox: e-mail and SMS notices to citizens, written by the
 * router in the transaction of the change they announce, and their dead
 * letters. Values are opaque here: the router seals each entry with the
 * data key before it comes in (they hold contacts). Key layouts are in
 * README.md. */
#include "st_int.h"
#include "pb_err.h"

#include <string.h>

#define SEQ_COUNTER "notice.next_seq"

int sti_notice_open(st_env *e, MDB_txn *txn, unsigned flags)
{
	int rc;

	e->has_notice = 0;
	rc = mdb_dbi_open(txn, "notice", flags, &e->notice);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "notice_dead", flags, &e->notice_dead);
	/* A store no writer of this version has opened yet: nothing pending. */
	if (rc == MDB_NOTFOUND && !(flags & MDB_CREATE))
		return PB_OK;
	if (rc)
		return sti_err(NULL, rc);
	e->has_notice = 1;
	return PB_OK;
}

static MDB_dbi dbi_of(st_txn *t, int dead)
{
	return dead ? t->env->notice_dead : t->env->notice;
}

int st_notice_next_seq(st_txn *t, uint64_t *seq)
{
	int64_t v;
	int rc;

	if ((rc = sti_need_write(t)) || (rc = st_counter_add(t, SEQ_COUNTER, 1)) ||
	    (rc = st_counter_get(t, SEQ_COUNTER, &v)))
		return rc;
	if (v <= 0)
		return PB_ECORRUPT;
	*seq = (uint64_t)v;
	return PB_OK;
}

int st_notice_put(st_txn *t, int dead, uint64_t seq, const uint8_t *sealed, size_t len)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key}, v = {len, (void *)sealed};
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	if (seq == 0 || !sealed || len == 0 || !t->env->has_notice)
		return PB_EINVAL;
	sti_put_be64(key, seq);
	return sti_err(t, mdb_put(t->txn, dbi_of(t, dead), &k, &v, 0));
}

int st_notice_get(st_txn *t, int dead, uint64_t seq, const uint8_t **data, size_t *len)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key}, v;
	int rc;

	*data = NULL;
	*len = 0;
	if (!t)
		return PB_EINVAL;
	if (!t->env->has_notice)
		return PB_ENOTFOUND;
	sti_put_be64(key, seq);
	if ((rc = mdb_get(t->txn, dbi_of(t, dead), &k, &v)))
		return sti_err(t, rc);
	*data = v.mv_data;
	*len = v.mv_size;
	return PB_OK;
}

int st_notice_del(st_txn *t, int dead, uint64_t seq)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key};
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	if (!t->env->has_notice)
		return PB_ENOTFOUND;
	sti_put_be64(key, seq);
	return sti_err(t, mdb_del(t->txn, dbi_of(t, dead), &k, NULL));
}

int st_notice_each(st_txn *t, int dead, uint64_t after, size_t max,
                   int (*fn)(uint64_t seq, const uint8_t *v, size_t len, void *arg), void *arg)
{
	uint8_t key[8];
	MDB_cursor *c;
	MDB_val k = {sizeof(key), key}, v;
	size_t n = 0;
	int rc, stop = 0;

	if (!t || !fn)
		return PB_EINVAL;
	if (!t->env->has_notice || max == 0 || after == UINT64_MAX)
		return PB_OK;
	sti_put_be64(key, after + 1);
	if ((rc = mdb_cursor_open(t->txn, dbi_of(t, dead), &c)))
		return sti_err(t, rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && !stop && n < max;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++) {
		if (k.mv_size != 8) {
			mdb_cursor_close(c);
			return PB_ECORRUPT;
		}
		stop = fn(sti_get_be64(k.mv_data), v.mv_data, v.mv_size, arg);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return sti_err(t, rc);
	return PB_OK;
}

int st_notice_count(st_txn *t, int dead, uint64_t *n)
{
	MDB_stat st;
	int rc;

	if (!t || !n)
		return PB_EINVAL;
	*n = 0;
	if (!t->env->has_notice)
		return PB_OK;
	if ((rc = mdb_stat(t->txn, dbi_of(t, dead), &st)))
		return sti_err(t, rc);
	*n = st.ms_entries;
	return PB_OK;
}
