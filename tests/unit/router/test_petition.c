/* Petitions in the router (rt_petition.c): the push is idempotent on the
 * petition number and refuses a changed transfer; its clocks count
 * calendar days across the National Day holiday, and their ladder steps
 * fall on calendar days; the steps move them as 信访工作条例 says. */
#include "fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

TestSuite(petition, .init = fx_setup, .fini = fx_teardown);

#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x

static int push(const char *no, const char *body, int64_t now, struct rt_result *res)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SubmitReq s = MAILROOM__SUBMIT_REQ__INIT;
	Mailroom__PetitionTransfer p = MAILROOM__PETITION_TRANSFER__INIT;
	Mailroom__Contact c = MAILROOM__CONTACT__INIT;

	c.name = "李四";
	c.phone = "13800138000";
	p.petition_no = (char *)no;
	p.forwarded_by = "市信访局";
	p.forwarded_ms = at("2026-09-24T09:00:00+08:00");   /* one transfer, however often sent */
	p.kind = "complaint";
	s.channel = MAILROOM__CHANNEL__CHANNEL_PETITION;
	s.subject = "拖欠工资";
	s.body = (char *)body;
	s.category = "complaint";
	s.contact = &c;
	s.petition = &p;
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &s;
	return apply(&gw, &req, now, res);
}

static int step(int action, const uint8_t *id, int days, const char *text, int64_t at_ms,
                int64_t now, struct rt_result *res)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__PetitionReq p = MAILROOM__PETITION_REQ__INIT;

	p.id.data = (uint8_t *)id;
	p.id.len = PB_ID_LEN;
	p.action = action;
	p.days = days;
	p.text = (char *)text;
	p.approver = "王局长";
	p.at_ms = at_ms;
	req.op_case = MAILROOM__REQUEST__OP_PETITION;
	req.petition = &p;
	return apply(&alice, &req, now, res);
}

static void expect_time(const char *want, int64_t got)
{
	char buf[40];

	pb_time_fmt(got, buf, sizeof(buf), 0);
	cr_expect_str_eq(buf, want);
}

/* One ladder step due at now: its event and clock. */
static int ladder(int64_t now, int *event, const char **which)
{
	struct rt_result res;
	st_txn *top, *child;
	int rc;

	rt_result_init(&res);
	cr_assert_eq(st_txn_begin(core.store, NULL, 0, &top), PB_OK);
	cr_assert_eq(st_txn_begin(core.store, top, 0, &child), PB_OK);
	rc = rt_escalate_one(&core, child, now, &res);
	if (rc == PB_OK) {
		cr_assert_eq(res.nrecords, 1);
		cr_assert_eq(st_txn_commit(child), PB_OK);
	} else {
		st_txn_abort(child);
	}
	cr_assert_eq(st_txn_commit(top), PB_OK);
	rt_result_clear(&res);
	if (rc == PB_OK) {
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
		*event = r->event;
		*which = strcmp(r->detail, "acknowledge") == 0 ? "acknowledge" : "reply";
		mailroom__audit_record__free_unpacked(r, NULL);
	}
	return rc;
}

Test(petition, a_repeat_is_the_first_and_a_changed_transfer_is_refused)
{
	struct rt_result res;
	int64_t now = at("2026-09-24T10:00:00+08:00");
	uint8_t id[PB_ID_LEN];

	cr_assert_eq(push("XF-1", "拖欠三个月工资。", now, &res), PB_OK, "%s", res.resp.message);
	cr_assert_not(res.resp.submit->duplicate);
	memcpy(id, res.resp.submit->message->id.data, PB_ID_LEN);
	/* 15 and 60 calendar days, over 国庆 (10-01..10-07), not working days. */
	expect_time("2026-10-09T23:59:59+08:00", res.resp.submit->message->ack_due_ms);
	expect_time("2026-11-23T23:59:59+08:00", res.resp.submit->message->reply_due_ms);
	cr_expect_not(res.resp.submit->message->due_provisional);
	rt_result_clear(&res);

	cr_assert_eq(push("XF-1", "拖欠三个月工资。", now + 60000, &res), PB_OK);
	cr_expect(res.resp.submit->duplicate);
	cr_expect_eq(memcmp(res.resp.submit->message->id.data, id, PB_ID_LEN), 0);
	rt_result_clear(&res);

	cr_assert_eq(push("XF-1", "拖欠半年工资。", now + 60000, &res), PB_ESTATE);
	cr_expect_str_eq(res.resp.error, "petition_conflict");
	rt_result_clear(&res);

	cr_assert_eq(push("XF 2", "拖欠工资。", now, &res), PB_EINVAL);
	rt_result_clear(&res);
}

Test(petition, the_ladder_counts_calendar_days)
{
	struct rt_result res;
	int64_t now = at("2026-09-24T10:00:00+08:00");
	const char *which;
	int ev;

	cr_assert_eq(push("XF-3", "物业侵占绿地。", now, &res), PB_OK);
	rt_result_clear(&res);
	/* The notice: due soon at the end of 10-08 (a holiday), overdue at
	 * the end of 10-09. */
	cr_assert_eq(ladder(at("2026-10-08T23:59:58+08:00"), &ev, &which), PB_ENOTFOUND);
	cr_assert_eq(ladder(at("2026-10-08T23:59:59+08:00"), &ev, &which), PB_OK);
	cr_expect_eq(ev, EV(DUE_SOON));
	cr_expect_str_eq(which, "acknowledge");
	cr_assert_eq(ladder(at("2026-10-09T23:59:59+08:00"), &ev, &which), PB_OK);
	cr_expect_eq(ev, EV(OVERDUE));
	cr_expect_str_eq(which, "acknowledge");
}

Test(petition, acceptance_extension_answer_and_review)
{
	struct rt_result res;
	int64_t now = at("2026-09-24T10:00:00+08:00");
	uint8_t id[PB_ID_LEN];

	cr_assert_eq(push("XF-4", "违建未拆除。", now, &res), PB_OK);
	memcpy(id, res.resp.submit->message->id.data, PB_ID_LEN);
	rt_result_clear(&res);

	/* Accepted on 10-04: 60 days from then, and the notice is met. */
	int64_t acc = at("2026-10-04T09:00:00+08:00");
	cr_assert_eq(step(MAILROOM__PETITION_ACTION__PETITION_ACCEPT, id, 0, NULL, 0, acc, &res), PB_OK,
	             "%s", res.resp.message);
	expect_time("2026-12-03T23:59:59+08:00", res.resp.petition->reply_due_ms);
	cr_expect_eq(res.resp.petition->petition->stage, MAILROOM__PETITION_STAGE__PETITION_STAGE_ACCEPTED);
	rt_result_clear(&res);

	cr_assert_eq(step(MAILROOM__PETITION_ACTION__PETITION_EXTEND, id, 30, "需现场勘验", 0, acc, &res),
	             PB_OK, "%s", res.resp.message);
	expect_time("2027-01-02T23:59:59+08:00", res.resp.petition->reply_due_ms);
	rt_result_clear(&res);
	cr_assert_eq(step(MAILROOM__PETITION_ACTION__PETITION_EXTEND, id, 1, "再延", 0, acc, &res),
	             PB_ELIMIT);
	rt_result_clear(&res);

	/* The answer needs the lease; the generic reply is refused. */
	cr_assert_neq(step(MAILROOM__PETITION_ACTION__PETITION_ANSWER, id, 0, "答复", 0, acc, &res),
	              PB_OK, "answered without the lease");
	rt_result_clear(&res);
	int64_t ans = at("2026-11-20T10:00:00+08:00");
	Mailroom__PullResp *pr = pull(&alice, "general", ans, &res, PB_OK);
	cr_assert_not_null(pr->message);
	uint8_t tok[64];
	size_t toklen = pr->lease->token.len;
	cr_assert_leq(toklen, sizeof(tok));
	memcpy(tok, pr->lease->token.data, toklen);
	rt_result_clear(&res);

	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__PetitionReq p = MAILROOM__PETITION_REQ__INIT;
	p.id.data = id;
	p.id.len = PB_ID_LEN;
	p.lease_token.data = tok;
	p.lease_token.len = toklen;
	p.action = MAILROOM__PETITION_ACTION__PETITION_ANSWER;
	p.text = "已责令限期拆除。";
	req.op_case = MAILROOM__REQUEST__OP_PETITION;
	req.petition = &p;
	cr_assert_eq(apply(&alice, &req, ans + 1000, &res), PB_OK, "%s", res.resp.message);
	cr_expect_eq(res.resp.petition->status, MAILROOM__STATUS__STATUS_REPLIED);
	rt_result_clear(&res);

	/* 复查 asked 31 days after the answer: too late. On day 30: 30 more
	 * days from the request. */
	cr_assert_eq(step(MAILROOM__PETITION_ACTION__PETITION_REVIEW, id, 0, NULL,
	                  at("2026-12-21T10:00:00+08:00"), at("2026-12-21T11:00:00+08:00"), &res),
	             PB_ESTATE);
	cr_expect_str_eq(res.resp.error, "review_window_passed");
	rt_result_clear(&res);
	cr_assert_eq(step(MAILROOM__PETITION_ACTION__PETITION_REVIEW, id, 0, NULL,
	                  at("2026-12-20T10:00:00+08:00"), at("2026-12-21T11:00:00+08:00"), &res),
	             PB_OK, "%s", res.resp.message);
	cr_expect_eq(res.resp.petition->status, MAILROOM__STATUS__STATUS_QUEUED);
	expect_time("2027-01-19T23:59:59+08:00", res.resp.petition->reply_due_ms);
	rt_result_clear(&res);
}
