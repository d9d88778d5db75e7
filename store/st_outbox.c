/* The 12345 outbox: result events for the platform, written by the router
 * in the transaction of the state change they report, and the index that
 * names the latest message of an order. Key layouts are in README.md. */
#include "st_int.h"
#include "pb_err.h"

#include <stdlib.h>
#include <string.h>

#define SEQ_COUNTER "outbox.next_seq"

int sti_outbox_open(st_env *e, MDB_txn *txn, unsigned flags)
{
	int rc;

	e->has_outbox = 0;
	rc = mdb_dbi_open(txn, "outbox", flags, &e->outbox);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "outbox_dead", flags, &e->outbox_dead);
	/* A store no writer of this version has opened yet: nothing pending. */
	if (rc == MDB_NOTFOUND && !(flags & MDB_CREATE))
		return PB_OK;
	if (rc)
		return sti_err(NULL, rc);
	e->has_outbox = 1;
	return PB_OK;
}

int st_extref_set(st_txn *t, const char *ref, const uint8_t id[16])
{
	MDB_val k, v = {16, (void *)id};
	size_t len;
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	len = ref ? strlen(ref) : 0;
	if (len == 0 || len > t->env->maxkey)
		return PB_EINVAL;
	k.mv_size = len;
	k.mv_data = (void *)ref;
	return sti_err(t, mdb_put(t->txn, t->env->extref, &k, &v, 0));
}

static MDB_dbi dbi_of(st_txn *t, int dead)
{
	return dead ? t->env->outbox_dead : t->env->outbox;
}

int st_outbox_next_seq(st_txn *t, uint64_t *seq)
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

int st_outbox_put(st_txn *t, int dead, const Mailroom__OutboxEntry *e)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key}, v;
	size_t len;
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	if (!e || e->seq == 0 || !t->env->has_outbox)
		return PB_EINVAL;
	sti_put_be64(key, e->seq);
	len = mailroom__outbox_entry__get_packed_size(e);
	v.mv_size = len;
	v.mv_data = NULL;
	if ((rc = mdb_put(t->txn, dbi_of(t, dead), &k, &v, MDB_RESERVE)))
		return sti_err(t, rc);
	if (mailroom__outbox_entry__pack(e, v.mv_data) != len)
		return PB_ECORRUPT;
	return PB_OK;
}

int st_outbox_get(st_txn *t, int dead, uint64_t seq, Mailroom__OutboxEntry **out)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key}, v;
	int rc;

	*out = NULL;
	if (!t)
		return PB_EINVAL;
	if (!t->env->has_outbox)
		return PB_ENOTFOUND;
	sti_put_be64(key, seq);
	if ((rc = mdb_get(t->txn, dbi_of(t, dead), &k, &v)))
		return sti_err(t, rc);
	if (!(*out = mailroom__outbox_entry__unpack(NULL, v.mv_size, v.mv_data)))
		return PB_ECORRUPT;
	return PB_OK;
}

void st_outbox_free_entry(Mailroom__OutboxEntry *e)
{
	if (e)
		mailroom__outbox_entry__free_unpacked(e, NULL);
}

int st_outbox_del(st_txn *t, int dead, uint64_t seq)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key};
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	if (!t->env->has_outbox)
		return PB_ENOTFOUND;
	sti_put_be64(key, seq);
	return sti_err(t, mdb_del(t->txn, dbi_of(t, dead), &k, NULL));
}

int st_outbox_each(st_txn *t, int dead, uint64_t after, size_t max,
                   int (*fn)(const Mailroom__OutboxEntry *e, void *arg), void *arg)
{
	uint8_t key[8];
	MDB_cursor *c;
	MDB_val k = {sizeof(key), key}, v;
	size_t n = 0;
	int rc, stop = 0;

	if (!t || !fn)
		return PB_EINVAL;
	if (!t->env->has_outbox || max == 0)
		return PB_OK;
	if (after == UINT64_MAX)
		return PB_OK;
	sti_put_be64(key, after + 1);
	if ((rc = mdb_cursor_open(t->txn, dbi_of(t, dead), &c)))
		return sti_err(t, rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && !stop && n < max;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++) {
		Mailroom__OutboxEntry *e;
		if (k.mv_size != 8 || !(e = mailroom__outbox_entry__unpack(NULL, v.mv_size, v.mv_data))) {
			mdb_cursor_close(c);
			return PB_ECORRUPT;
		}
		stop = fn(e, arg);
		mailroom__outbox_entry__free_unpacked(e, NULL);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return sti_err(t, rc);
	return PB_OK;
}

int st_outbox_count(st_txn *t, int dead, uint64_t *n)
{
	MDB_stat st;
	int rc;

	if (!t || !n)
		return PB_EINVAL;
	*n = 0;
	if (!t->env->has_outbox)
		return PB_OK;
	if ((rc = mdb_stat(t->txn, dbi_of(t, dead), &st)))
		return sti_err(t, rc);
	*n = st.ms_entries;
	return PB_OK;
}
