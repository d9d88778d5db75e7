/* The operation table (router/rt_optab.c): one row for every Request
 * oneof case, a function for every row that can run, and the caller
 * checked against the row before the function is ever called. */
#include "fixture.h"
#include "rt_optab.h"

#include <criterion/criterion.h>
#include <strings.h>

TestSuite(optab, .init = fx_setup, .fini = fx_teardown);

static const ProtobufCFieldDescriptor *op_field(unsigned i)
{
	const ProtobufCMessageDescriptor *d = &mailroom__request__descriptor;
	const ProtobufCFieldDescriptor *f = &d->fields[i];

	return (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ? f : NULL;
}

Test(optab, every_request_case_has_exactly_one_row)
{
	const ProtobufCMessageDescriptor *d = &mailroom__request__descriptor;
	size_t cases = 0, rows = 0;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = op_field(i);
		if (!f)
			continue;
		const struct rt_optab_row *row = rt_optab_row((int)f->id);
		cases++;
		cr_assert_not_null(row, "Request.%s has no row", f->name);
		cr_assert(strcasecmp(row->name, f->name) == 0, "row %u is %s, the oneof says %s", f->id,
		          row->name, f->name);
	}
	/* and no row stands for a case the protocol does not have */
	for (size_t c = 0; c < rt_optab_size(); c++)
		rows += rt_optab_row((int)c) != NULL;
	cr_assert_gt(cases, 20);
	cr_assert_eq(rows, cases, "%zu rows for %zu oneof cases", rows, cases);
	cr_assert_null(rt_optab_row(0));
	cr_assert_null(rt_optab_row((int)rt_optab_size()));
}

Test(optab, every_row_that_runs_has_its_function)
{
	for (size_t c = 0; c < rt_optab_size(); c++) {
		const struct rt_optab_row *row = rt_optab_row((int)c);
		if (!row)
			continue;
		if (row->writes)
			cr_assert_not_null(row->fn, "write %s has no apply function", row->name);
		if (row->by)
			cr_assert_not_null(row->fn, "%s may be sent but has no function", row->name);
		else
			cr_assert_not(row->writes, "%s writes but no one may send it", row->name);
	}
}

/* Every row, sent by each kind of caller it does not name, with no
 * payload at all: were the function to run it would read through NULL. */
Test(optab, a_caller_not_allowed_is_refused_before_the_function_runs)
{
	struct rt_principal console = alice, nobody = {.kind = 0}, keyless = alice,
	                    unlisted = connector;
	const struct rt_principal *callers[] = {&gw, &alice, &console, &connector,
	                                        &nobody, &keyless, &unlisted};
	unsigned bits[] = {RT_BY_GATEWAY, RT_BY_HANDLER, RT_BY_CONSOLE, RT_BY_CONNECTOR, 0, 0, 0};
	uint64_t before, after;
	int refused = 0;
	st_txn *t;

	console.console = 1;
	keyless.handler = NULL;   /* a handler envelope whose key is no handler's */
	unlisted.connector = NULL;   /* and a connector's that is no connector's */
	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &before), PB_OK);
	st_txn_abort(t);
	for (size_t c = 0; c < rt_optab_size(); c++) {
		const struct rt_optab_row *row = rt_optab_row((int)c);
		if (!row)
			continue;
		for (size_t k = 0; k < sizeof(callers) / sizeof(callers[0]); k++) {
			Mailroom__Request req = MAILROOM__REQUEST__INIT;
			struct rt_result res;
			int rc;

			if (row->by & bits[k])
				continue;
			req.op_case = (Mailroom__Request__OpCase)c;   /* payload left NULL */
			cr_assert_not(rt_allowed(callers[k], &req), "%s allowed to caller %zu", row->name, k);
			rc = row->writes ? apply(callers[k], &req, pb_now_ms(), &res)
			                 : read_op(callers[k], &req, &res);
			cr_assert_eq(rc, PB_EFORBIDDEN, "%s from caller %zu: %d", row->name, k, rc);
			cr_assert_str_eq(res.resp.error, "forbidden");
			rt_result_clear(&res);
			refused++;
		}
	}
	cr_assert_gt(refused, 80);
	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &after), PB_OK);
	st_txn_abort(t);
	cr_assert_eq(after, before, "a refused request wrote to the log");
}

/* The rights a handler holds as well: import, admin, supervise. */
Test(optab, rights_are_part_of_the_gate)
{
	static const int cases[] = {MAILROOM__REQUEST__OP_IMPORT_MSG,
	                            MAILROOM__REQUEST__OP_HANDLER_ADMIN,
	                            MAILROOM__REQUEST__OP_SUPERVISE};
	struct pb_handler plain = *alice.handler, granted = *alice.handler;
	struct rt_principal p = alice, g = alice, gc;

	plain.may_import = plain.may_admin = plain.may_supervise = 0;
	granted.may_import = granted.may_admin = granted.may_supervise = 1;
	p.handler = &plain;
	g.handler = &granted;
	gc = g;
	gc.console = 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Mailroom__Request req = MAILROOM__REQUEST__INIT;
		struct rt_result res;

		req.op_case = (Mailroom__Request__OpCase)cases[i];
		cr_assert_not(rt_allowed(&p, &req), "case %d without the right", cases[i]);
		cr_assert(rt_allowed(&g, &req), "case %d with the right", cases[i]);
		rt_result_init(&res);
		cr_assert_eq(rt_optab_row(cases[i])->writes ? apply(&p, &req, pb_now_ms(), &res)
		                                            : read_op(&p, &req, &res),
		             PB_EFORBIDDEN);
		rt_result_clear(&res);
	}
	/* import and handler administration never through the console */
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	req.op_case = MAILROOM__REQUEST__OP_IMPORT_MSG;
	cr_assert_not(rt_allowed(&gc, &req));
	req.op_case = MAILROOM__REQUEST__OP_HANDLER_ADMIN;
	cr_assert_not(rt_allowed(&gc, &req));
	req.op_case = MAILROOM__REQUEST__OP_SUPERVISE;
	cr_assert(rt_allowed(&gc, &req));
}
