/* The deadline index read back in time order, and callers' meta values. */
#include "helpers.h"
#include "pb_err.h"

#include <criterion/criterion.h>
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
