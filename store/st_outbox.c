/* The 12345 outbox: result events for the platform, written by the router
 * in the transaction of the state change they report, a queue with dead
 * letters (st_queue.c) whose values are serialised OutboxEntry; and the
 * index that names the latest message of an order. Key layouts are in
 * README.md. */
#include "st_int.h"
#include "pb_err.h"

#include <string.h>

int sti_outbox_open(st_env *e, MDB_txn *txn, unsigned flags)
{
	return sti_queue_open(&e->outbox, txn, flags, "outbox", "outbox_dead", "outbox.next_seq");
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

int st_outbox_next_seq(st_txn *t, uint64_t *seq)
{
	return t ? sti_queue_next_seq(t, &t->env->outbox, seq) : PB_EINVAL;
}

/* Packed straight into the page LMDB reserves for it. */
int st_outbox_put(st_txn *t, int dead, const Mailroom__OutboxEntry *e)
{
	size_t len;
	void *p;
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	if (!e || e->seq == 0)
		return PB_EINVAL;
	len = mailroom__outbox_entry__get_packed_size(e);
	if ((rc = sti_queue_reserve(t, &t->env->outbox, dead, e->seq, len, &p)))
		return rc;
	if (mailroom__outbox_entry__pack(e, p) != len)
		return PB_ECORRUPT;
	return PB_OK;
}

int st_outbox_get(st_txn *t, int dead, uint64_t seq, Mailroom__OutboxEntry **out)
{
	const uint8_t *data;
	size_t len;
	int rc;

	*out = NULL;
	if (!t)
		return PB_EINVAL;
	if ((rc = sti_queue_get(t, &t->env->outbox, dead, seq, &data, &len)))
		return rc;
	if (!(*out = mailroom__outbox_entry__unpack(NULL, len, data)))
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
	return t ? sti_queue_del(t, &t->env->outbox, dead, seq) : PB_EINVAL;
}

/* st_outbox_each's callback over the queue's raw values. */
struct each {
	int (*fn)(const Mailroom__OutboxEntry *e, void *arg);
	void *arg;
	int corrupt;
};

static int each_entry(uint64_t seq, const uint8_t *v, size_t len, void *arg)
{
	struct each *x = arg;
	Mailroom__OutboxEntry *e = mailroom__outbox_entry__unpack(NULL, len, v);
	int stop;

	(void)seq;
	if (!e)
		return x->corrupt = 1;
	stop = x->fn(e, x->arg);
	mailroom__outbox_entry__free_unpacked(e, NULL);
	return stop;
}

int st_outbox_each(st_txn *t, int dead, uint64_t after, size_t max,
                   int (*fn)(const Mailroom__OutboxEntry *e, void *arg), void *arg)
{
	struct each x = {fn, arg, 0};
	int rc;

	if (!t || !fn)
		return PB_EINVAL;
	rc = sti_queue_each(t, &t->env->outbox, dead, after, max, each_entry, &x);
	return rc ? rc : x.corrupt ? PB_ECORRUPT : PB_OK;
}

int st_outbox_count(st_txn *t, int dead, uint64_t *n)
{
	return t ? sti_queue_count(t, &t->env->outbox, dead, n) : PB_EINVAL;
}
