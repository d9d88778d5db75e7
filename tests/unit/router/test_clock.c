/* Deadline clocks in the router: pauses (one at a time), extensions and
 * their cap, restarts, the escalation ladder across a restart, and the
 * recomputation of provisional deadlines when a new calendar arrives.
 * Expected dates are counted by hand on the 2025/2026 State Council
 * calendars. */
#include "fixture.h"
#include "pj.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(clock, .init = fx_setup, .fini = fx_teardown);

static int clock_op(int action, const uint8_t *id, int days, const char *approver,
                    const char *reason, int64_t received, int64_t now, struct rt_result *res)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__ClockReq c = MAILROOM__CLOCK_REQ__INIT;

	c.id.data = (uint8_t *)id;
	c.id.len = PB_ID_LEN;
	c.action = action;
	c.working_days = days;
	c.approver = (char *)approver;
	c.reason = (char *)reason;
	c.received_ms = received;
	req.op_case = MAILROOM__REQUEST__OP_CLOCK;
	req.clock = &c;
	return apply(&alice, &req, now, res);
}

static void expect_due(const char *want, int64_t got)
{
	char buf[40];

	pb_time_fmt(got, buf, sizeof(buf), 0);
	cr_assert_str_eq(buf, want);
}

/* The reply due of a message, read back from the store. */
static int64_t reply_due(const uint8_t *id)
{
	st_txn *t;
	Mailroom__StoredMessage *m;
	int64_t due;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_msg_get(t, id, &m), PB_OK);
	due = m->reply_due_ms;
	st_msg_free(m);
	st_txn_abort(t);
	return due;
}

/* The last record in the log, unpacked (free with the protobuf free). */
static Mailroom__AuditRecord *last_record(void)
{
	st_txn *t;
	uint64_t n;
	const uint8_t *data;
	size_t len;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &n), PB_OK);
	cr_assert_eq(st_log_get(t, n - 1, &data, &len), PB_OK);
	Mailroom__AuditRecord *r = mailroom__audit_record__unpack(NULL, len, data);
	st_txn_abort(t);
	cr_assert_not_null(r);
	return r;
}

static void pull_to_stop_ack(const uint8_t *id, int64_t now)
{
	struct rt_result res;
	Mailroom__PullResp *pr = pull(&alice, "general", now, &res, PB_OK);

	cr_assert_not_null(pr->message);
	cr_assert_eq(memcmp(pr->message->id.data, id, PB_ID_LEN), 0);
	rt_result_clear(&res);
}

static uint64_t log_size(void)
{
	st_txn *t;
	uint64_t n;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &n), PB_OK);
	st_txn_abort(t);
	return n;
}

/* The stored reply clock, packed, to see that a refusal changed nothing. */
static size_t packed_clock(const uint8_t *id, uint8_t *buf, size_t cap)
{
	st_txn *t;
	Mailroom__StoredMessage *m;
	size_t n;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_msg_get(t, id, &m), PB_OK);
	Mailroom__Clock *c = NULL;
	for (size_t i = 0; i < m->n_clocks; i++)
		if (m->clocks[i]->kind == ST_CLOCK_REPLY)
			c = m->clocks[i];
	cr_assert_not_null(c);
	n = mailroom__clock__get_packed_size(c);
	cr_assert_leq(n, cap);
	mailroom__clock__pack(c, buf);
	st_msg_free(m);
	st_txn_abort(t);
	return n;
}

/* A refused clock step writes no record and leaves the clock as it was. */
static void expect_refused_unchanged(int action, const uint8_t *id, const char *code, int64_t now)
{
	struct rt_result res;
	uint8_t before[512], after[512];
	size_t nb = packed_clock(id, before, sizeof(before));
	uint64_t size = log_size();

	cr_assert_eq(clock_op(action, id, 0, NULL, "再次操作", 0, now, &res), PB_ESTATE);
	cr_assert_str_eq(res.resp.error, code);
	rt_result_clear(&res);
	cr_assert_eq(log_size(), size, "a refused step writes no record");
	cr_assert_eq(packed_clock(id, after, sizeof(after)), nb);
	cr_assert_arr_eq(after, before, nb, "a refused step leaves the clock as it was");
}

Test(clock, a_pause_leaves_out_the_days_until_resumed_and_pauses_do_not_nest)
{
	struct posted a;
	struct rt_result res;

	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "社保", at("2025-09-01T10:00:00+08:00"), &a);
	expect_due("2025-09-22T23:59:59+08:00", a.reply_due);   /* 15 working days */
	/* Resuming a clock that runs is refused, and so is a second pause. */
	expect_refused_unchanged(MAILROOM__CLOCK_ACTION__CLOCK_RESUME, a.id, "not_paused",
	                         at("2025-09-02T10:00:00+08:00"));
	cr_assert_eq(clock_op(MAILROOM__CLOCK_ACTION__CLOCK_PAUSE, a.id, 0, NULL, "征求第三方意见",
	                      0, at("2025-09-03T10:00:00+08:00"), &res), PB_OK);
	rt_result_clear(&res);
	expect_refused_unchanged(MAILROOM__CLOCK_ACTION__CLOCK_PAUSE, a.id, "already_paused",
	                         at("2025-09-04T10:00:00+08:00"));
	expect_due("2025-09-22T23:59:59+08:00", reply_due(a.id));
	cr_assert_eq(clock_op(MAILROOM__CLOCK_ACTION__CLOCK_RESUME, a.id, 0, NULL, "第三方已答复",
	                      0, at("2025-09-10T16:00:00+08:00"), &res), PB_OK);
	rt_result_clear(&res);
	/* 09-04, 05, 08, 09, 10 did not count: 20 working days from 09-01,
	 * the last being Sunday 09-28, a make-up working day. */
	expect_due("2025-09-28T23:59:59+08:00", reply_due(a.id));
	Mailroom__AuditRecord *r = last_record();
	cr_assert_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RESUMED);
	expect_due("2025-09-22T23:59:59+08:00", r->old_due_ms);
	expect_due("2025-09-28T23:59:59+08:00", r->clock->due_ms);
	cr_assert_eq(r->clock->paused_days, 5);
	cr_assert_eq(r->clock->pause_depth, 0);
	char who[64];
	cr_assert_str_eq(r->actor, fx_actor("handler", &alice, who, sizeof(who)));
	cr_assert_str_eq(r->detail, "");
	Mailroom__RecordTexts *x = fx_texts(r->index);
	cr_assert_not_null(x);
	cr_expect_str_eq(x->detail, "第三方已答复");
	cr_expect(fx_commits(&r->detail_commit, &x->salt, "detail", "第三方已答复"));
	mailroom__record_texts__free_unpacked(x, NULL);
	mailroom__audit_record__free_unpacked(r, NULL);
	expect_refused_unchanged(MAILROOM__CLOCK_ACTION__CLOCK_RESUME, a.id, "not_paused",
	                         at("2025-09-11T10:00:00+08:00"));
	cr_assert_eq(clock_op(MAILROOM__CLOCK_ACTION__CLOCK_PAUSE, a.id, 0, NULL, "too late",
	                      0, at("2025-09-29T09:00:00+08:00"), &res), PB_ESTATE,
	             "a missed deadline cannot be paused");
	cr_assert_str_eq(res.resp.error, "overdue");
	rt_result_clear(&res);
}

Test(clock, one_extension_up_to_the_cap)
{
	struct posted a;
	struct rt_result res;

	conf.policy.reply[PB_CH_MAILBOX].working_days = 20;
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "信息公开", at("2025-01-20T09:00:00+08:00"), &a);
	expect_due("2025-02-21T23:59:59+08:00", a.reply_due);
	cr_assert_eq(clock_op(MAILROOM__CLOCK_ACTION__CLOCK_EXTEND, a.id, 20, NULL, "需要调取档案",
	                      0, at("2025-02-10T09:00:00+08:00"), &res), PB_EINVAL, "an approver is needed");
	rt_result_clear(&res);
	cr_assert_eq(clock_op(MAILROOM__CLOCK_ACTION__CLOCK_EXTEND, a.id, 21, "李主任", "需要调取档案",
	                      0, at("2025-02-10T09:00:00+08:00"), &res), PB_ELIMIT);
	cr_assert_str_eq(res.resp.error, "extension_cap");
	rt_result_clear(&res);
	cr_assert_eq(clock_op(MAILROOM__CLOCK_ACTION__CLOCK_EXTEND, a.id, 20, "李主任", "需要调取档案",
	                      0, at("2025-02-10T09:00:00+08:00"), &res), PB_OK);
	expect_due("2025-03-21T23:59:59+08:00", res.resp.clock->reply_due_ms);
	rt_result_clear(&res);
	Mailroom__AuditRecord *r = last_record();
	cr_assert_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_EXTENDED);
	/* The approver and the reason: commitments under the message's salt,
	 * in different domains, never the names. */
	cr_assert_str_eq(r->approver, "");
	cr_assert_str_eq(r->detail, "");
	st_txn *t;
	Mailroom__StoredMessage *m;
	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_msg_get(t, a.id, &m), PB_OK);
	st_txn_abort(t);
	cr_expect(fx_commits(&r->approver_commit, &m->text_salt, "approver", "李主任"));
	cr_expect(fx_commits(&r->detail_commit, &m->text_salt, "detail", "需要调取档案"));
	cr_expect_not(fx_commits(&r->detail_commit, &m->text_salt, "approver", "需要调取档案"));
	st_msg_free(m);
	mailroom__audit_record__free_unpacked(r, NULL);
	cr_assert_eq(clock_op(MAILROOM__CLOCK_ACTION__CLOCK_EXTEND, a.id, 1, "李主任", "再延一天",
	                      0, at("2025-03-01T09:00:00+08:00"), &res), PB_ELIMIT, "only once");
	rt_result_clear(&res);
	expect_due("2025-03-21T23:59:59+08:00", reply_due(a.id));
}

Test(clock, a_correction_restarts_the_clock)
{
	struct posted a;
	struct rt_result res;

	conf.policy.reply[PB_CH_MAILBOX].working_days = 20;
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "补正", at("2025-04-25T09:00:00+08:00"), &a);
	expect_due("2025-05-27T23:59:59+08:00", a.reply_due);
	cr_assert_eq(clock_op(MAILROOM__CLOCK_ACTION__CLOCK_RESTART, a.id, 0, NULL, "补正材料已收到",
	                      at("2025-04-01T09:00:00+08:00"), at("2025-09-26T11:00:00+08:00"), &res),
	             PB_EINVAL, "not before the original receipt");
	rt_result_clear(&res);
	cr_assert_eq(clock_op(MAILROOM__CLOCK_ACTION__CLOCK_RESTART, a.id, 0, NULL, "补正材料已收到",
	                      at("2025-09-26T10:00:00+08:00"), at("2025-09-26T11:00:00+08:00"), &res),
	             PB_OK);
	rt_result_clear(&res);
	expect_due("2025-10-30T23:59:59+08:00", reply_due(a.id));
}

static int escalate(int64_t now, struct rt_result *res)
{
	st_txn *top, *child;
	int rc;

	rt_result_init(res);
	cr_assert_eq(st_txn_begin(core.store, NULL, 0, &top), PB_OK);
	cr_assert_eq(st_txn_begin(core.store, top, 0, &child), PB_OK);
	rc = rt_escalate_one(&core, child, now, res);
	if (rc == PB_OK)
		cr_assert_eq(st_txn_commit(child), PB_OK);
	else
		st_txn_abort(child);
	cr_assert_eq(st_txn_commit(top), PB_OK);
	return rc;
}

/* Takes every due entry at now: none of them a ladder step (the veto
 * line and the invitation to rate may be due by then). */
static void no_ladder_step(int64_t now, const char *why)
{
	struct rt_result res;
	int rc, n = 0;

	while ((rc = escalate(now, &res)) == PB_OK && n++ < 16) {
		if (res.nrecords) {
			Mailroom__AuditRecord *r = last_record();
			cr_expect(r->event < MAILROOM__AUDIT_EVENT__AUDIT_DUE_SOON ||
			              r->event > MAILROOM__AUDIT_EVENT__AUDIT_SERIOUSLY_OVERDUE,
			          "%s: a ladder step %d", why, r->event);
			mailroom__audit_record__free_unpacked(r, NULL);
		}
		rt_result_clear(&res);
	}
	cr_assert_eq(rc, PB_ENOTFOUND, "%s", why);
}

static void expect_step(int64_t now, int event)
{
	struct rt_result res;

	cr_assert_eq(escalate(now, &res), PB_OK);
	cr_assert_eq(res.nrecords, 1);
	rt_result_clear(&res);
	Mailroom__AuditRecord *r = last_record();
	cr_assert_eq(r->event, event);
	cr_assert_str_eq(r->detail, "reply");
	mailroom__audit_record__free_unpacked(r, NULL);
}

Test(clock, the_ladder_steps_once_each_across_a_restart)
{
	struct posted a;
	struct rt_result res;

	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "噪音", at("2025-09-26T10:00:00+08:00"), &a);
	pull_to_stop_ack(a.id, at("2025-09-26T11:00:00+08:00"));
	expect_due("2025-10-23T23:59:59+08:00", a.reply_due);
	/* due soon at the end of the last working day before: 10-22 */
	cr_assert_eq(escalate(at("2025-10-22T23:59:58+08:00"), &res), PB_ENOTFOUND);
	expect_step(at("2025-10-22T23:59:59+08:00"), MAILROOM__AUDIT_EVENT__AUDIT_DUE_SOON);
	cr_assert_eq(escalate(at("2025-10-22T23:59:59+08:00"), &res), PB_ENOTFOUND, "written once");

	/* the router restarts between steps */
	st_close(core.store);
	cr_assert_eq(st_open(conf.store_path, conf.map_size_mb, 0, &core.keys, &core.store), PB_OK);

	int64_t late = at("2025-11-03T09:00:00+08:00");
	expect_step(late, MAILROOM__AUDIT_EVENT__AUDIT_OVERDUE);
	/* seriously overdue five working days after 10-23: 10-30 */
	expect_step(late, MAILROOM__AUDIT_EVENT__AUDIT_SERIOUSLY_OVERDUE);
	cr_assert_eq(escalate(late, &res), PB_ENOTFOUND);
	no_ladder_step(at("2026-06-01T00:00:00+08:00"), "the ladder ends");
}

Test(clock, pausing_holds_the_ladder_and_a_reply_stops_it)
{
	struct posted a;
	struct rt_result res;
	uint8_t token[16];

	conf.lease_seconds = 86400;
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "道路", at("2025-09-26T10:00:00+08:00"), &a);
	Mailroom__PullResp *pr = pull(&alice, "general", at("2025-09-26T11:00:00+08:00"), &res, PB_OK);
	memcpy(token, pr->lease->token.data, 16);
	rt_result_clear(&res);
	cr_assert_eq(clock_op(MAILROOM__CLOCK_ACTION__CLOCK_PAUSE, a.id, 0, NULL, "征求意见", 0,
	                      at("2025-09-26T12:00:00+08:00"), &res), PB_OK);
	rt_result_clear(&res);
	no_ladder_step(at("2025-12-31T00:00:00+08:00"), "paused: no steps");
	cr_assert_eq(clock_op(MAILROOM__CLOCK_ACTION__CLOCK_RESUME, a.id, 0, NULL, "已答复", 0,
	                      at("2025-09-26T13:00:00+08:00"), &res), PB_OK);
	rt_result_clear(&res);
	cr_assert_eq(lease_op(&alice, MAILROOM__REQUEST__OP_REPLY, a.id, token, "已处理",
	                      at("2025-09-26T14:00:00+08:00"), &res), PB_OK);
	rt_result_clear(&res);
	no_ladder_step(at("2025-12-31T00:00:00+08:00"), "answered: no steps");
}

/* Takes every entry due at now; how many records of event it wrote. */
static int drain(int64_t now, int event)
{
	struct rt_result res;
	int rc, n = 0, guard = 0;

	while ((rc = escalate(now, &res)) == PB_OK && guard++ < 32) {
		if (res.nrecords) {
			Mailroom__AuditRecord *r = last_record();
			n += (int)r->event == event;
			mailroom__audit_record__free_unpacked(r, NULL);
		}
		rt_result_clear(&res);
	}
	cr_assert_eq(rc, PB_ENOTFOUND);
	return n;
}

#define DAY (86400LL * 1000)

Test(clock, the_veto_line_alerts_at_60_and_80_days_once_each)
{
	struct posted a;
	int64_t t0 = at("2025-09-26T10:00:00+08:00");
	const int veto = MAILROOM__AUDIT_EVENT__AUDIT_VETO_ALERT;

	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "积水", t0, &a);
	cr_expect_eq(drain(t0 + 60 * DAY - 1, veto), 0, "not before 60 days");
	cr_expect_eq(drain(t0 + 60 * DAY, veto), 1, "at 60 days");
	cr_expect_eq(drain(t0 + 79 * DAY, veto), 0, "once");
	st_close(core.store);
	cr_assert_eq(st_open(conf.store_path, conf.map_size_mb, 0, &core.keys, &core.store), PB_OK);
	cr_expect_eq(drain(t0 + 80 * DAY, veto), 1, "at 80 days, after a restart");
	Mailroom__AuditRecord *r = last_record();
	cr_expect_str_eq(r->detail, "80");
	mailroom__audit_record__free_unpacked(r, NULL);
	cr_expect_eq(drain(t0 + 400 * DAY, veto), 0, "two levels only");
}

Test(clock, an_answer_is_invited_to_be_rated_once_and_never_vetoed)
{
	struct posted a;
	struct rt_result res;
	uint8_t token[16];
	int64_t t0 = at("2025-09-26T10:00:00+08:00"), t1 = t0 + 2 * 3600 * 1000;

	conf.lease_seconds = 86400;
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "道路", t0, &a);
	Mailroom__PullResp *pr = pull(&alice, "general", t0 + 3600 * 1000, &res, PB_OK);
	memcpy(token, pr->lease->token.data, 16);
	rt_result_clear(&res);
	cr_assert_eq(lease_op(&alice, MAILROOM__REQUEST__OP_REPLY, a.id, token, "已处理", t1, &res),
	             PB_OK);
	rt_result_clear(&res);
	cr_expect_eq(drain(t1 + 3 * DAY - 1, MAILROOM__AUDIT_EVENT__AUDIT_RATING_INVITED), 0);
	cr_expect_eq(drain(t1 + 3 * DAY, MAILROOM__AUDIT_EVENT__AUDIT_RATING_INVITED), 1);
	cr_expect_eq(drain(t1 + 30 * DAY, MAILROOM__AUDIT_EVENT__AUDIT_RATING_INVITED), 0, "once");
	cr_expect_eq(drain(t0 + 100 * DAY, MAILROOM__AUDIT_EVENT__AUDIT_VETO_ALERT), 0, "answered");
}

Test(clock, a_new_calendar_recomputes_provisional_deadlines)
{
	const char *files[] = {MR_SOURCE_DIR "/deploy/calendars/cn-2024.cal",
	                       MR_SOURCE_DIR "/deploy/calendars/cn-2025.cal"};
	struct posted a;
	char err[256];
	int moved;

	cal_free(core.cal);
	cr_assert_eq(cal_load_files(files, 2, &core.cal, err, sizeof(err)), PB_OK, "%s", err);
	cal_version(core.cal, core.cal_version);
	cr_assert_eq(rt_recompute_provisional(&core, &moved, NULL), PB_OK);
	/* 2025-12-20 (Sat) + 15 working days, 2026 unknown: its statutory
	 * holidays only (01-01 off, nothing made up) */
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "年底", at("2025-12-20T10:00:00+08:00"), &a);
	expect_due("2026-01-12T23:59:59+08:00", a.reply_due);

	cal_free(core.cal);
	cr_assert_eq(cal_load_dir(MR_SOURCE_DIR "/deploy/calendars", &core.cal, err, sizeof(err)), PB_OK);
	cal_version(core.cal, core.cal_version);
	cr_assert_eq(rt_recompute_provisional(&core, &moved, NULL), PB_OK);
	cr_assert_geq(moved, 1);
	/* 01-01..03 off, Sunday 01-04 worked: the same day, now official,
	 * and recorded all the same */
	expect_due("2026-01-12T23:59:59+08:00", reply_due(a.id));
	Mailroom__AuditRecord *r = last_record();
	cr_assert_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RECOMPUTED);
	cr_assert_not(r->clock->provisional);
	expect_due("2026-01-12T23:59:59+08:00", r->old_due_ms);
	mailroom__audit_record__free_unpacked(r, NULL);
	cr_assert_eq(rt_recompute_provisional(&core, &moved, NULL), PB_OK);
	cr_assert_eq(moved, 0, "once per calendar version");
}

static Mailroom__AuditRecord *record_at(uint64_t n);

/* The recompute reads the messages the store's provisional index names,
 * not every message: among many with official deadlines, the few whose
 * deadline reaches into the year without a notice are all it reads, and
 * each of those moves or is confirmed, once. */
Test(clock, a_recompute_reads_only_the_provisional_messages)
{
	const char *files[] = {MR_SOURCE_DIR "/deploy/calendars/cn-2024.cal",
	                       MR_SOURCE_DIR "/deploy/calendars/cn-2025.cal"};
	struct posted a;
	char err[256];
	int moved;
	size_t visited = 99;

	cal_free(core.cal);
	cr_assert_eq(cal_load_files(files, 2, &core.cal, err, sizeof(err)), PB_OK, "%s", err);
	cal_version(core.cal, core.cal_version);
	cr_assert_eq(rt_recompute_provisional(&core, &moved, &visited), PB_OK);
	cr_assert_eq(visited, 0, "an empty store");
	/* 60 in March 2025, due in 2025: official */
	for (int i = 0; i < 60; i++) {
		post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "春天", at("2025-03-03T10:00:00+08:00") + i * 60000,
		     &a);
		cr_assert_lt(a.reply_due, at("2026-01-01T00:00:00+08:00"));
	}
	/* 3 in late December, due in 2026: provisional (both clocks of the
	 * first two, the reply clock of the last: its acknowledgement is
	 * due on 12-22 already) */
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "年底", at("2025-12-30T10:00:00+08:00"), &a);
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "年底", at("2025-12-31T10:00:00+08:00"), &a);
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "年底", at("2025-12-19T10:00:00+08:00"), &a);
	cr_assert_geq(a.reply_due, at("2026-01-01T00:00:00+08:00"));

	cal_free(core.cal);
	cr_assert_eq(cal_load_dir(MR_SOURCE_DIR "/deploy/calendars", &core.cal, err, sizeof(err)), PB_OK);
	cal_version(core.cal, core.cal_version);
	uint64_t before = log_size();
	cr_assert_eq(rt_recompute_provisional(&core, &moved, &visited), PB_OK);
	cr_assert_eq(visited, 3, "read %zu messages, not the 63 stored", visited);
	cr_assert_geq(moved, 3, "each provisional one moved or was confirmed");
	cr_assert_eq(log_size(), before + (uint64_t)moved, "one record each");
	for (uint64_t i = before; i < before + (uint64_t)moved; i++) {
		Mailroom__AuditRecord *r = record_at(i);
		cr_assert_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RECOMPUTED);
		cr_assert_not(r->clock->provisional);
		mailroom__audit_record__free_unpacked(r, NULL);
	}

	/* official now: out of the index, so a later calendar reads none */
	core.cal_version[0] ^= 1;
	cr_assert_eq(rt_recompute_provisional(&core, &moved, &visited), PB_OK);
	cr_assert_eq(visited, 0);
	cr_assert_eq(moved, 0);
}

/* The record of index n (free with the protobuf free). */
static Mailroom__AuditRecord *record_at(uint64_t n)
{
	st_txn *t;
	const uint8_t *data;
	size_t len;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_get(t, n, &data, &len), PB_OK);
	Mailroom__AuditRecord *r = mailroom__audit_record__unpack(NULL, len, data);
	st_txn_abort(t);
	cr_assert_not_null(r);
	return r;
}

/* What the citizen's status lookup answers, as JSON. */
static json_t *citizen_view(const struct posted *a)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__StatusReq s = MAILROOM__STATUS_REQ__INIT;
	struct rt_result res;
	json_t *j;

	req.op_case = MAILROOM__REQUEST__OP_STATUS;
	req.status = &s;
	s.tracking_code = (char *)a->code;
	s.access_key_hash.data = (uint8_t *)a->key_hash;
	s.access_key_hash.len = PB_AKEY_HASH_LEN;
	cr_assert_eq(read_op(&gw, &req, &res), PB_OK);
	j = pj_view(res.resp.status, PJ_CITIZEN);
	rt_result_clear(&res);
	cr_assert_not_null(j);
	return j;
}

static const char *jstr(json_t *j, const char *key)
{
	const char *v = json_string_value(json_object_get(j, key));

	cr_assert_not_null(v, "no string %s", key);
	return v;
}

/* 2026 without its notice, a message of Monday 2026-01-26. By law alone
 * 除夕 02-16 to 初三 02-19 are off and nothing is made up, so 15 working
 * days end on Friday 02-20. The notice gives 02-15..23 off and Saturday
 * 02-14 worked: they end on 02-14. The acknowledge clock (one working
 * day, 01-27) keeps its day and loses its flag; both get a record, and
 * the citizen's view shows the change. */
Test(clock, the_official_year_recomputes_both_clocks_and_the_view_shows_it)
{
	const char *files[] = {MR_SOURCE_DIR "/deploy/calendars/cn-2024.cal",
	                       MR_SOURCE_DIR "/deploy/calendars/cn-2025.cal"};
	struct posted a;
	char err[256];
	int moved;
	json_t *j;

	cal_free(core.cal);
	cr_assert_eq(cal_load_files(files, 2, &core.cal, err, sizeof(err)), PB_OK, "%s", err);
	cal_version(core.cal, core.cal_version);
	cr_assert_eq(rt_recompute_provisional(&core, &moved, NULL), PB_OK);
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "春节前", at("2026-01-26T10:00:00+08:00"), &a);
	expect_due("2026-01-27T23:59:59+08:00", a.ack_due);
	expect_due("2026-02-20T23:59:59+08:00", a.reply_due);
	j = citizen_view(&a);
	cr_assert(json_is_true(json_object_get(j, "due_provisional")));
	cr_assert_null(json_object_get(j, "due_recomputed_at"), "nothing recomputed yet");
	json_decref(j);

	/* The office adds the 2026 notice; the router starts on it. */
	uint64_t before = log_size();
	cal_free(core.cal);
	cr_assert_eq(cal_load_dir(MR_SOURCE_DIR "/deploy/calendars", &core.cal, err, sizeof(err)), PB_OK);
	cal_version(core.cal, core.cal_version);
	int64_t t0 = pb_now_ms();
	cr_assert_eq(rt_recompute_provisional(&core, &moved, NULL), PB_OK);
	cr_assert_eq(moved, 2, "the acknowledge and the reply clock");
	cr_assert_eq(log_size(), before + 2);

	int seen_ack = 0, seen_reply = 0;
	for (uint64_t i = before; i < before + 2; i++) {
		Mailroom__AuditRecord *r = record_at(i);
		cr_assert_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RECOMPUTED);
		cr_assert_not(r->clock->provisional);
		cr_assert_not(r->due_provisional);
		cr_assert_eq(r->cal_version.len, sizeof(core.cal_version));
		cr_assert_arr_eq(r->cal_version.data, core.cal_version, sizeof(core.cal_version));
		if (r->clock->kind == ST_CLOCK_ACK) {
			seen_ack++;
			expect_due("2026-01-27T23:59:59+08:00", r->old_due_ms);
			expect_due("2026-01-27T23:59:59+08:00", r->clock->due_ms);
		} else {
			seen_reply++;
			expect_due("2026-02-20T23:59:59+08:00", r->old_due_ms);
			expect_due("2026-02-14T23:59:59+08:00", r->clock->due_ms);
		}
		mailroom__audit_record__free_unpacked(r, NULL);
	}
	cr_assert_eq(seen_ack, 1);
	cr_assert_eq(seen_reply, 1);

	j = citizen_view(&a);
	cr_assert_str_eq(jstr(j, "reply_due_at"), "2026-02-14T23:59:59+08:00");
	cr_assert_str_eq(jstr(j, "ack_due_at"), "2026-01-27T23:59:59+08:00");
	cr_assert(json_is_false(json_object_get(j, "due_provisional")));
	int64_t when = 0;
	cr_assert_eq(pb_time_parse(jstr(j, "due_recomputed_at"), &when), PB_OK);
	cr_assert(when >= t0 - 1000 && when <= pb_now_ms() + 1000, "recomputed now");
	json_decref(j);
}
