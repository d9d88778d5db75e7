/* The deadline index read back in time order, the provisional index kept
 * by st_msg_put, and callers' meta values. */
#include "helpers.h"
#include "pb_err.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <string.h>

TestSuite(index, .init = fx_setup, .fini = fx_teardown);

Test(index, deadlines_come_back_earliest_first_and_only_when_due)
{
	st_txn *t;
	uint8_t a[16], b[16], id[16];
	int64_t due;
	uint8_t clock;

	memset(a, 0xaa, sizeof(a));
	memset(b, 0xbb, sizeof(b));
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_deadline_put(t, 5000, a, 0x12), PB_OK);
	cr_assert_eq(st_deadline_put(t, -10, b, 0x21), PB_OK);
	cr_assert_eq(st_deadline_first_due(t, -11, &due, id, &clock), PB_ENOTFOUND);
	cr_assert_eq(st_deadline_first_due(t, 0, &due, id, &clock), PB_OK);
	cr_assert_eq(due, -10);
	cr_assert_eq(memcmp(id, b, 16), 0);
	cr_assert_eq(clock, 0x21);
	cr_assert_eq(st_deadline_del(t, -10, b, 0x21), PB_OK);
	cr_assert_eq(st_deadline_first_due(t, 4999, &due, id, &clock), PB_ENOTFOUND);
	cr_assert_eq(st_deadline_first_due(t, 5000, &due, id, &clock), PB_OK);
	cr_assert_eq(clock, 0x12);
	cr_assert_eq(st_txn_commit(t), PB_OK);
}

Test(index, meta_values_are_kept_apart_from_the_schema)
{
	st_txn *t;
	uint8_t buf[8];
	size_t len;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_meta_get(t, "cal", buf, sizeof(buf), &len), PB_ENOTFOUND);
	cr_assert_eq(st_meta_put(t, "cal", (const uint8_t *)"abc", 3), PB_OK);
	/* the same name as a store record must not touch it */
	cr_assert_eq(st_meta_put(t, "schema_version", (const uint8_t *)"x", 1), PB_OK);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	fx_close();
	cr_assert_eq(fx_reopen(64, 0), PB_OK, "store still opens: its schema record is intact");
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_meta_get(t, "cal", buf, sizeof(buf), &len), PB_OK);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(buf, "abc", 3), 0);
	cr_assert_eq(st_meta_get(t, "cal", buf, 2, &len), PB_ETOOBIG);
	cr_assert_eq(st_meta_get(t, "", buf, sizeof(buf), &len), PB_EINVAL);
	st_txn_abort(t);
}

/* ---- the provisional index: messages with an open provisional clock ---- */

struct prov_ids {
	uint8_t ids[8][16];
	int n;
};

static int prov_collect(const uint8_t id[16], void *arg)
{
	struct prov_ids *p = arg;

	cr_assert_lt(p->n, 8);
	memcpy(p->ids[p->n++], id, 16);
	return 0;
}

/* The index as t sees it: exactly the n ids after n, in id order. */
static void expect_provisional(st_txn *t, int n, ...)
{
	struct prov_ids got = {.n = 0};
	va_list ap;

	cr_assert_eq(st_provisional_each(t, prov_collect, &got), PB_OK);
	cr_assert_eq(got.n, n, "%d in the index, %d expected", got.n, n);
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		cr_assert_eq(memcmp(got.ids[i], va_arg(ap, const uint8_t *), 16), 0, "entry %d", i);
	va_end(ap);
}

enum { NONE = -1, OFFICIAL = 0, OPEN = 1, STOPPED = 2 };

/* A message whose clocks are as given: NONE leaves the clock out. */
static int put_clocks(st_txn *t, const uint8_t id[16], int first, int second)
{
	Mailroom__StoredMessage m = MAILROOM__STORED_MESSAGE__INIT;
	Mailroom__Clock c[2], *cp[2];
	int how[2] = {first, second};

	for (int i = 0; i < 2; i++) {
		if (how[i] == NONE)
			continue;
		mailroom__clock__init(&c[m.n_clocks]);
		c[m.n_clocks].kind = (uint32_t)(i + 1);
		c[m.n_clocks].provisional = how[i] != OFFICIAL;
		c[m.n_clocks].stopped = how[i] == STOPPED;
		cp[m.n_clocks] = &c[m.n_clocks];
		m.n_clocks++;
	}
	m.id.data = (uint8_t *)id;
	m.id.len = 16;
	m.clocks = cp;
	return st_msg_put(t, &m);
}

Test(index, provisional_holds_exactly_the_messages_with_an_open_provisional_clock)
{
	uint8_t a[16], b[16], c[16], d[16], e[16];
	st_txn *t, *child;

	/* ids rise with their first bytes, as the router's do */
	memset(a, 0x11, 16);
	memset(b, 0x22, 16);
	memset(c, 0x33, 16);
	memset(d, 0x44, 16);
	memset(e, 0x55, 16);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	expect_provisional(t, 0);
	cr_assert_eq(put_clocks(t, a, OPEN, OFFICIAL), PB_OK);
	cr_assert_eq(put_clocks(t, b, OFFICIAL, OFFICIAL), PB_OK);
	cr_assert_eq(put_clocks(t, c, STOPPED, OPEN), PB_OK, "one open clock is enough");
	cr_assert_eq(put_clocks(t, d, STOPPED, OFFICIAL), PB_OK, "a stopped clock is not open");
	cr_assert_eq(put_clocks(t, e, NONE, NONE), PB_OK);
	expect_provisional(t, 2, a, c);
	/* the same again changes nothing */
	cr_assert_eq(put_clocks(t, a, OPEN, OFFICIAL), PB_OK);
	expect_provisional(t, 2, a, c);
	cr_assert_eq(st_txn_commit(t), PB_OK);

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(put_clocks(t, a, STOPPED, OFFICIAL), PB_OK, "answered: stopped");
	cr_assert_eq(put_clocks(t, c, STOPPED, OFFICIAL), PB_OK, "a new calendar: official");
	cr_assert_eq(put_clocks(t, b, OFFICIAL, OPEN), PB_OK, "provisional later on (a correction)");
	expect_provisional(t, 1, b);
	/* a child's puts go with it when it aborts */
	cr_assert_eq(st_txn_begin(fx.env, t, 0, &child), PB_OK);
	cr_assert_eq(put_clocks(child, e, OPEN, NONE), PB_OK);
	cr_assert_eq(put_clocks(child, b, OFFICIAL, OFFICIAL), PB_OK);
	expect_provisional(child, 1, e);
	st_txn_abort(child);
	expect_provisional(t, 1, b);
	cr_assert_eq(st_txn_commit(t), PB_OK);

	/* durable, and readable by a read-only open */
	fx_close();
	cr_assert_eq(fx_reopen(0, 1), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	expect_provisional(t, 1, b);
	st_txn_abort(t);
}

static int stop_at_first(const uint8_t id[16], void *arg)
{
	(void)id;
	(*(int *)arg)++;
	return 1;
}

Test(index, provisional_walk_stops_when_asked)
{
	uint8_t id[16];
	st_txn *t;
	int calls = 0;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	for (int i = 1; i <= 3; i++) {
		memset(id, i, 16);
		cr_assert_eq(put_clocks(t, id, OPEN, NONE), PB_OK);
	}
	cr_assert_eq(st_provisional_each(t, stop_at_first, &calls), PB_OK);
	cr_assert_eq(calls, 1, "a non-zero return stops the walk");
	cr_assert_eq(st_provisional_each(t, NULL, NULL), PB_EINVAL);
	cr_assert_eq(st_txn_commit(t), PB_OK);
}
