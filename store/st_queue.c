/* One numbered queue with its dead letters (st_int.h, struct sti_queue):
 * what the 12345 outbox (st_outbox.c) and the notices to citizens
 * (st_notice.c) are made of. Two DBIs keyed by be64 seq, the values
 * opaque here, seqs from a counter so they only rise. */
#include "st_int.h"
#include "pb_err.h"

#include <string.h>

int sti_queue_open(struct sti_queue *q, MDB_txn *txn, unsigned flags, const char *live,
                   const char *dead, const char *counter)
{
	int rc;

	q->open = 0;
	q->counter = counter;
	rc = mdb_dbi_open(txn, live, flags, &q->live);
	if (rc == 0)
		rc = mdb_dbi_open(txn, dead, flags, &q->dead);
	/* A store no writer of this version has opened yet: nothing pending. */
	if (rc == MDB_NOTFOUND && !(flags & MDB_CREATE))
		return PB_OK;
	if (rc)
		return sti_err(NULL, rc);
	q->open = 1;
	return PB_OK;
}

static MDB_dbi dbi_of(const struct sti_queue *q, int dead)
{
	return dead ? q->dead : q->live;
}

int sti_queue_next_seq(st_txn *t, const struct sti_queue *q, uint64_t *seq)
{
	int64_t v;
	int rc;

	if ((rc = sti_need_write(t)) || (rc = st_counter_add(t, q->counter, 1)) ||
	    (rc = st_counter_get(t, q->counter, &v)))
		return rc;
	if (v <= 0)
		return PB_ECORRUPT;
	*seq = (uint64_t)v;
	return PB_OK;
}

int sti_queue_reserve(st_txn *t, const struct sti_queue *q, int dead, uint64_t seq, size_t len,
                      void **out)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key}, v = {len, NULL};
	int rc;

	*out = NULL;
	if ((rc = sti_need_write(t)))
		return rc;
	if (seq == 0 || len == 0 || !q->open)
		return PB_EINVAL;
	sti_put_be64(key, seq);
	/* Seqs only rise; a requeued dead letter goes back under its own. */
	if ((rc = sti_put_rising(t->txn, dbi_of(q, dead), &k, &v, MDB_RESERVE)))
		return sti_err(t, rc);
	*out = v.mv_data;
	return PB_OK;
}

int sti_queue_put(st_txn *t, const struct sti_queue *q, int dead, uint64_t seq, const void *data,
                  size_t len)
{
	void *p;
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	if (!data)
		return PB_EINVAL;
	if ((rc = sti_queue_reserve(t, q, dead, seq, len, &p)))
		return rc;
	memcpy(p, data, len);
	return PB_OK;
}

int sti_queue_get(st_txn *t, const struct sti_queue *q, int dead, uint64_t seq,
                  const uint8_t **data, size_t *len)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key}, v;
	int rc;

	*data = NULL;
	*len = 0;
	if (!t)
		return PB_EINVAL;
	if (!q->open)
		return PB_ENOTFOUND;
	sti_put_be64(key, seq);
	if ((rc = mdb_get(t->txn, dbi_of(q, dead), &k, &v)))
		return sti_err(t, rc);
	*data = v.mv_data;
	*len = v.mv_size;
	return PB_OK;
}

int sti_queue_del(st_txn *t, const struct sti_queue *q, int dead, uint64_t seq)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key};
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	if (!q->open)
		return PB_ENOTFOUND;
	sti_put_be64(key, seq);
	return sti_err(t, mdb_del(t->txn, dbi_of(q, dead), &k, NULL));
}

int sti_queue_each(st_txn *t, const struct sti_queue *q, int dead, uint64_t after, size_t max,
                   int (*fn)(uint64_t seq, const uint8_t *v, size_t len, void *arg), void *arg)
{
	uint8_t key[8];
	MDB_cursor *c;
	MDB_val k = {sizeof(key), key}, v;
	size_t n = 0;
	int rc, stop = 0;

	if (!t || !fn)
		return PB_EINVAL;
	if (!q->open || max == 0 || after == UINT64_MAX)
		return PB_OK;
	sti_put_be64(key, after + 1);
	if ((rc = mdb_cursor_open(t->txn, dbi_of(q, dead), &c)))
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

int sti_queue_count(st_txn *t, const struct sti_queue *q, int dead, uint64_t *n)
{
	MDB_stat st;
	int rc;

	if (!t || !n)
		return PB_EINVAL;
	*n = 0;
	if (!q->open)
		return PB_OK;
	if ((rc = mdb_stat(t->txn, dbi_of(q, dead), &st)))
		return sti_err(t, rc);
	*n = st.ms_entries;
	return PB_OK;
}
