/* The notice outbox: e-mail and SMS notices to citizens, written by the
 * router in the transaction of the change they announce, and their dead
 * letters: a sealed queue (st_queue.c). Values are opaque here: the router
 * seals each entry with the data key before it comes in (they hold
 * contacts). Key layouts are in README.md. */
#include "st_int.h"
#include "pb_err.h"

int sti_notice_open(st_env *e, MDB_txn *txn, unsigned flags)
{
	return sti_queue_open(&e->notice, txn, flags, "notice", "notice_dead", "notice.next_seq");
}

int st_notice_next_seq(st_txn *t, uint64_t *seq)
{
	return t ? sti_queue_next_seq(t, &t->env->notice, seq) : PB_EINVAL;
}

int st_notice_put(st_txn *t, int dead, uint64_t seq, const uint8_t *sealed, size_t len)
{
	return t ? sti_queue_put(t, &t->env->notice, dead, seq, sealed, len) : PB_EINVAL;
}

int st_notice_get(st_txn *t, int dead, uint64_t seq, const uint8_t **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	return t ? sti_queue_get(t, &t->env->notice, dead, seq, data, len) : PB_EINVAL;
}

int st_notice_del(st_txn *t, int dead, uint64_t seq)
{
	return t ? sti_queue_del(t, &t->env->notice, dead, seq) : PB_EINVAL;
}

int st_notice_each(st_txn *t, int dead, uint64_t after, size_t max,
                   int (*fn)(uint64_t seq, const uint8_t *v, size_t len, void *arg), void *arg)
{
	return t ? sti_queue_each(t, &t->env->notice, dead, after, max, fn, arg) : PB_EINVAL;
}

int st_notice_count(st_txn *t, int dead, uint64_t *n)
{
	return t ? sti_queue_count(t, &t->env->notice, dead, n) : PB_EINVAL;
}
