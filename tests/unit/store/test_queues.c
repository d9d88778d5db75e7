/* The two queues with dead letters, the 12345 outbox and the notices to
 * citizens: one implementation (st_queue.c) under two DBI pairs and two
 * counters, so neither sees the other's entries. */
#include "helpers.h"
#include "pb_err.h"

#include <criterion/criterion.h>
#include <string.h>

TestSuite(queues, .init = fx_setup, .fini = fx_teardown);

struct seen {
	uint64_t seq[8];
	int n, stop_after;
};

static int see_notice(uint64_t seq, const uint8_t *v, size_t len, void *arg)
{
	struct seen *s = arg;

	cr_assert(len == 2 && v[0] == 'n', "notice %llu: %.*s", (unsigned long long)seq, (int)len, v);
	s->seq[s->n++] = seq;
	return s->n == s->stop_after;
}

static int see_outbox(const Mailroom__OutboxEntry *e, void *arg)
{
	struct seen *s = arg;

	s->seq[s->n++] = e->seq;
	return s->n == s->stop_after;
}

static void put_notice(st_txn *t, const char *v)
{
	uint64_t seq;

	cr_assert_eq(st_notice_next_seq(t, &seq), PB_OK);
	cr_assert_eq(st_notice_put(t, 0, seq, (const uint8_t *)v, strlen(v)), PB_OK);
}

Test(queues, outbox_and_notices_are_apart)
{
	Mailroom__OutboxEntry e = MAILROOM__OUTBOX_ENTRY__INIT, *got = NULL;
	struct seen s = {0};
	const uint8_t *data;
	uint64_t seq, n;
	size_t len;
	st_txn *t;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	put_notice(t, "n1");
	put_notice(t, "n2");
	put_notice(t, "n3");
	/* Each queue counts its own seqs. */
	cr_assert_eq(st_outbox_next_seq(t, &seq), PB_OK);
	cr_assert_eq(seq, 1);
	e.seq = seq;
	e.order_no = (char *)"SX-1";
	cr_assert_eq(st_outbox_put(t, 0, &e), PB_OK);
	cr_assert_eq(st_notice_count(t, 0, &n), PB_OK);
	cr_assert_eq(n, 3);
	cr_assert_eq(st_outbox_count(t, 0, &n), PB_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(st_notice_get(t, 0, 1, &data, &len), PB_OK);
	cr_assert(len == 2 && memcmp(data, "n1", 2) == 0);
	cr_assert_eq(st_outbox_get(t, 0, 1, &got), PB_OK);
	cr_assert_str_eq(got->order_no, "SX-1");
	st_outbox_free_entry(got);

	/* Notice 2 to the dead letters: gone from one, in the other. */
	cr_assert_eq(st_notice_put(t, 1, 2, (const uint8_t *)"n2", 2), PB_OK);
	cr_assert_eq(st_notice_del(t, 0, 2), PB_OK);
	cr_assert_eq(st_notice_del(t, 0, 2), PB_ENOTFOUND);
	cr_assert_eq(st_notice_get(t, 1, 2, &data, &len), PB_OK);
	cr_assert_eq(st_outbox_get(t, 1, 2, &got), PB_ENOTFOUND);
	cr_assert_null(got);
	cr_assert_eq(st_notice_count(t, 1, &n), PB_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(st_outbox_count(t, 1, &n), PB_OK);
	cr_assert_eq(n, 0);

	/* Walks: in seq order after `after`, up to max, until fn stops. */
	cr_assert_eq(st_notice_each(t, 0, 0, 10, see_notice, &s), PB_OK);
	cr_assert(s.n == 2 && s.seq[0] == 1 && s.seq[1] == 3, "%d", s.n);
	memset(&s, 0, sizeof(s));
	cr_assert_eq(st_notice_each(t, 0, 1, 10, see_notice, &s), PB_OK);
	cr_assert(s.n == 1 && s.seq[0] == 3);
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	cr_assert_eq(st_notice_each(t, 0, 0, 10, see_notice, &s), PB_OK);
	cr_assert_eq(s.n, 1);
	memset(&s, 0, sizeof(s));
	cr_assert_eq(st_notice_each(t, 0, 0, 1, see_notice, &s), PB_OK);
	cr_assert_eq(s.n, 1);
	memset(&s, 0, sizeof(s));
	cr_assert_eq(st_outbox_each(t, 0, 0, 10, see_outbox, &s), PB_OK);
	cr_assert(s.n == 1 && s.seq[0] == 1);

	/* Refusals. */
	cr_assert_eq(st_notice_put(t, 0, 0, (const uint8_t *)"x", 1), PB_EINVAL);
	cr_assert_eq(st_notice_put(t, 0, 9, (const uint8_t *)"x", 0), PB_EINVAL);
	cr_assert_eq(st_notice_put(t, 0, 9, NULL, 1), PB_EINVAL);
	e.seq = 0;
	cr_assert_eq(st_outbox_put(t, 0, &e), PB_EINVAL);
	cr_assert_eq(st_txn_commit(t), PB_OK);

	/* A read transaction reads both and writes neither. */
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_notice_get(t, 0, 3, &data, &len), PB_OK);
	cr_assert_eq(st_notice_put(t, 0, 9, (const uint8_t *)"n9", 2), PB_EINVAL);
	cr_assert_eq(st_outbox_del(t, 0, 1), PB_EINVAL);
	cr_assert_eq(st_notice_next_seq(t, &seq), PB_EINVAL);
	st_txn_abort(t);
	/* The counters went on from where they were. */
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_notice_next_seq(t, &seq), PB_OK);
	cr_assert_eq(seq, 4);
	cr_assert_eq(st_outbox_next_seq(t, &seq), PB_OK);
	cr_assert_eq(seq, 2);
	st_txn_abort(t);
}
