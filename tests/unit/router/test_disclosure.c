/* Disclosure applications in the router: intake with the applicant sealed,
 * Art. 30-33 on real calendar dates, every refused transition, repeats,
 * and imports. */
#include "fixture.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void setup(void)
{
	fx_setup();
	/* alice also handles disclosure applications; bob does not */
	strcpy(conf.handlers[0].queues[conf.handlers[0].nqueues++], "disclosure");
	conf.handlers[0].may_import = 1;
}

TestSuite(disclosure, .init = setup, .fini = fx_teardown);

struct app {
	uint8_t id[PB_ID_LEN];
	char code[PB_TRACK_TEXT_LEN + 1];
	int64_t reply_due;
	uint64_t log_index;
};

static const char *day_of(int64_t ms)
{
	static char buf[40];
	pb_time_fmt(ms, buf, sizeof(buf), 0);
	buf[10] = '\0';
	return buf;
}

static int submit(const char *id_number, const char *mode, const char *text, int64_t now,
                  struct app *a, struct rt_result *res)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SubmitReq s = MAILROOM__SUBMIT_REQ__INIT;
	Mailroom__DisclosureApp d = MAILROOM__DISCLOSURE_APP__INIT;
	Mailroom__Applicant ap = MAILROOM__APPLICANT__INIT;
	Mailroom__Contact c = MAILROOM__CONTACT__INIT;
	uint8_t h[PB_AKEY_HASH_LEN] = {7};
	int rc;

	c.phone = "13800000000";
	ap.kind = "natural_person";
	ap.name = "王小明";
	ap.id_type = "resident_id";
	ap.id_number = (char *)id_number;
	ap.contact = &c;
	d.applicant = &ap;
	d.form = "electronic";
	d.delivery = "email";
	d.submission_mode = (char *)mode;
	d.purpose = "了解道路维修资金使用情况";
	s.channel = MAILROOM__CHANNEL__CHANNEL_DISCLOSURE;
	s.body = (char *)text;
	s.disclosure = &d;
	s.access_key_hash.data = h;
	s.access_key_hash.len = sizeof(h);
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &s;
	rc = apply(&gw, &req, now, res);
	if (rc == PB_OK && a) {
		Mailroom__MessageView *v = res->resp.submit->message;
		memcpy(a->id, v->id.data, PB_ID_LEN);
		strcpy(a->code, v->tracking_code);
		a->reply_due = v->reply_due_ms;
		a->log_index = res->resp.submit->receipt->log_index;
	}
	return rc;
}

static void new_app(const char *mode, int64_t now, struct app *a)
{
	struct rt_result res;

	cr_assert_eq(submit("11010519491231002X", mode, "申请公开本区2024年道路维修资金的使用明细。", now, a,
	                    &res),
	             PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);
}

/* One step; res holds the answer (the caller clears it). */
static int step(const struct app *a, int action, int64_t now, struct rt_result *res,
                const char *text, int64_t at_ms)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__DisclosureReq d = MAILROOM__DISCLOSURE_REQ__INIT;

	d.id.data = (uint8_t *)a->id;
	d.id.len = PB_ID_LEN;
	d.action = action;
	d.text = (char *)text;
	d.at_ms = at_ms;
	d.evidence = (char *)text;
	req.op_case = MAILROOM__REQUEST__OP_DISCLOSURE;
	req.disclosure = &d;
	return apply(&alice, &req, now, res);
}

static void step_ok(const struct app *a, int action, int64_t now, const char *text, int64_t at_ms)
{
	struct rt_result res;
	int rc = step(a, action, now, &res, text, at_ms);

	cr_assert_eq(rc, PB_OK, "step %d: %s", action, res.resp.message ? res.resp.message : "");
	rt_result_clear(&res);
}

static void step_refused(const struct app *a, int action, int64_t now, const char *text,
                         const char *error)
{
	struct rt_result res;
	uint64_t before, after;
	st_txn *t;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &before), PB_OK);
	st_txn_abort(t);
	cr_assert_neq(step(a, action, now, &res, text, 0), PB_OK, "step %d should be refused", action);
	cr_assert_str_eq(res.resp.error, error, "%s", res.resp.message);
	rt_result_clear(&res);
	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &after), PB_OK);
	st_txn_abort(t);
	cr_assert_eq(after, before, "a refused step writes nothing");
}

/* Puts back every lease expired by now, as the writer does. */
static void expire(int64_t now)
{
	for (;;) {
		struct rt_result res;
		st_txn *top, *child;
		int rc;

		rt_result_init(&res);
		cr_assert_eq(st_txn_begin(core.store, NULL, 0, &top), PB_OK);
		cr_assert_eq(st_txn_begin(core.store, top, 0, &child), PB_OK);
		rc = rt_expire_one(&core, child, now, &res);
		if (rc == PB_OK)
			cr_assert_eq(st_txn_commit(child), PB_OK);
		else
			st_txn_abort(child);
		cr_assert_eq(st_log_seal(top), PB_OK);
		cr_assert_eq(st_txn_commit(top), PB_OK);
		rt_result_clear(&res);
		if (rc == PB_ENOTFOUND)
			return;
		cr_assert_eq(rc, PB_OK);
	}
}

static int decide(const struct app *a, const char *outcome, const char *basis, int64_t now,
                  struct rt_result *res)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__DisclosureReq d = MAILROOM__DISCLOSURE_REQ__INIT;
	struct rt_result pr;
	uint8_t token[16] = {0};

	expire(now);
	Mailroom__PullResp *p = pull(&alice, "disclosure", now, &pr, PB_OK);
	if (p->message && memcmp(p->message->id.data, a->id, PB_ID_LEN) == 0)
		memcpy(token, p->lease->token.data, 16);
	rt_result_clear(&pr);
	d.id.data = (uint8_t *)a->id;
	d.id.len = PB_ID_LEN;
	d.action = MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DECIDE;
	d.lease_token.data = token;
	d.lease_token.len = sizeof(token);
	d.outcome = (char *)outcome;
	d.legal_basis = (char *)basis;
	d.text = "经审查，现答复如下……";
	req.op_case = MAILROOM__REQUEST__OP_DISCLOSURE;
	req.disclosure = &d;
	return apply(&alice, &req, now, res);
}

static Mailroom__AuditRecord *record(uint64_t index)
{
	const uint8_t *p;
	size_t n;
	st_txn *t;
	Mailroom__AuditRecord *r;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_get(t, index, &p, &n), PB_OK);
	r = mailroom__audit_record__unpack(NULL, n, p);
	st_txn_abort(t);
	cr_assert_not_null(r);
	return r;
}

static Mailroom__StoredMessage *stored(const struct app *a)
{
	Mailroom__StoredMessage *m;
	st_txn *t;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_msg_get(t, a->id, &m), PB_OK);
	st_txn_abort(t);
	return m;
}

static const char *due_day(const struct app *a)
{
	Mailroom__StoredMessage *m = stored(a);
	const char *d = day_of(m->reply_due_ms);
	st_msg_free(m);
	return d;
}

Test(disclosure, online_intake_seals_the_applicant_and_counts_twenty_working_days)
{
	struct app a;
	uint8_t *raw;
	size_t n;

	new_app("online", at("2025-09-26T10:00:00+08:00"), &a);
	cr_assert_str_eq(day_of(a.reply_due), "2025-10-30", "deadlines.md worked example");
	Mailroom__AuditRecord *r = record(a.log_index);
	cr_assert_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED);
	cr_assert_str_eq(r->applicant_kind, "natural_person");
	cr_assert_str_eq(r->submission_mode, "online");
	cr_assert_eq(r->receipt_ms, at("2025-09-26T10:00:00+08:00"));
	mailroom__audit_record__free_unpacked(r, NULL);

	Mailroom__StoredMessage *m = stored(&a);
	cr_assert(m->disclosure->receipt_confirmed);
	cr_assert_eq(m->ack_due_ms, 0, "no acknowledgement clock");
	n = mailroom__stored_message__get_packed_size(m);
	raw = malloc(n);
	mailroom__stored_message__pack(m, raw);
	cr_assert_null(memmem(raw, n, "11010519491231002X", 18), "the id number is sealed");
	cr_assert_null(memmem(raw, n, "王小明", strlen("王小明")), "the name is sealed");
	cr_assert_null(memmem(raw, n, "13800000000", 11), "the phone is sealed");
	free(raw);
	st_msg_free(m);

	/* handlers see the applicant, citizens do not */
	struct rt_result res;
	Mailroom__PullResp *p = pull(&alice, "disclosure", at("2025-09-26T11:00:00+08:00"), &res, PB_OK);
	cr_assert_not_null(p->message->disclosure->applicant);
	cr_assert_str_eq(p->message->disclosure->applicant->id_number, "11010519491231002X");
	cr_assert_str_eq(p->message->disclosure->purpose, "了解道路维修资金使用情况");
	rt_result_clear(&res);
}

Test(disclosure, mailed_applications_wait_for_the_receipt_date)
{
	struct app a;
	struct rt_result res;

	new_app("registered_mail", at("2025-09-24T10:00:00+08:00"), &a);
	cr_assert_eq(decide(&a, "disclosed", "", at("2025-09-25T10:00:00+08:00"), &res), PB_ESTATE);
	cr_assert_str_eq(res.resp.error, "receipt_unconfirmed");
	rt_result_clear(&res);
	/* signed for on Monday 09-22, two days before it was entered */
	step_ok(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONFIRM_RECEIPT, at("2025-09-25T10:00:00+08:00"),
	        "挂号信签收单 XA20250922", at("2025-09-22T09:00:00+08:00"));
	cr_assert_str_eq(due_day(&a), "2025-10-24");
	step_refused(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONFIRM_RECEIPT,
	             at("2025-09-25T11:00:00+08:00"), "again", "receipt_confirmed");
}

Test(disclosure, correction_restarts_the_clock_and_is_asked_within_seven_working_days)
{
	struct app a, late;

	new_app("online", at("2025-09-26T10:00:00+08:00"), &a);
	new_app("online", at("2025-09-26T10:00:00+08:00"), &late);
	/* 2025-09-26 + 7 working days = 2025-10-13 (deadlines.md) */
	step_refused(&late, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REQUEST_CORRECTION,
	             at("2025-10-14T09:00:00+08:00"), "请补充申请内容的时间范围。", "correction_too_late");
	step_ok(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REQUEST_CORRECTION,
	        at("2025-10-13T17:00:00+08:00"), "请补充申请内容的时间范围。", 0);
	Mailroom__StoredMessage *m = stored(&a);
	cr_assert_eq(m->disclosure->phase, MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_AWAITING_CORRECTION);
	cr_assert_str_eq(day_of(m->disclosure->correction_due_ms), "2025-11-03", "15 working days on");
	st_msg_free(m);
	step_refused(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REQUEST_CORRECTION,
	             at("2025-10-13T18:00:00+08:00"), "again", "awaiting_correction");
	step_ok(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CORRECTION_RECEIVED,
	        at("2025-10-20T09:00:00+08:00"), "", at("2025-10-09T15:00:00+08:00"));
	cr_assert_str_eq(due_day(&a), "2025-11-05", "20 working days from the corrected application");
	step_refused(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REQUEST_CORRECTION,
	             at("2025-10-20T10:00:00+08:00"), "a second one", "correction_asked");
}

Test(disclosure, consultation_pauses_the_clock)
{
	struct app a;
	struct rt_result res;

	new_app("online", at("2025-03-03T09:00:00+08:00"), &a);
	cr_assert_str_eq(day_of(a.reply_due), "2025-03-31");
	step_ok(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONSULT, at("2025-03-10T09:00:00+08:00"),
	        "某建设公司（第三方）", 0);
	cr_assert_eq(decide(&a, "disclosed", "", at("2025-03-12T09:00:00+08:00"), &res), PB_ESTATE);
	cr_assert_str_eq(res.resp.error, "consultation_open");
	rt_result_clear(&res);
	step_ok(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONSULT_DONE, at("2025-03-17T09:00:00+08:00"), "",
	        0);
	cr_assert_str_eq(due_day(&a), "2025-04-08", "five working days paused");
	step_refused(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONSULT_DONE,
	             at("2025-03-17T10:00:00+08:00"), "", "no_consultation");
}

Test(disclosure, one_extension_of_at_most_twenty_working_days)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__DisclosureReq d = MAILROOM__DISCLOSURE_REQ__INIT;
	struct rt_result res;
	struct app a;
	int64_t now = at("2025-03-10T09:00:00+08:00");

	new_app("online", at("2025-03-03T09:00:00+08:00"), &a);
	d.id.data = a.id;
	d.id.len = PB_ID_LEN;
	d.action = MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_EXTEND;
	d.approver = "办公室主任 李华";
	d.text = "涉及多个部门，需要协调";
	d.days = 21;
	req.op_case = MAILROOM__REQUEST__OP_DISCLOSURE;
	req.disclosure = &d;
	cr_assert_eq(apply(&alice, &req, now, &res), PB_ELIMIT);
	cr_assert_str_eq(res.resp.error, "extension_cap");
	rt_result_clear(&res);
	d.days = 20;
	cr_assert_eq(apply(&alice, &req, now, &res), PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);
	cr_assert_str_eq(due_day(&a), "2025-04-28", "2025-03-03 + 40 working days");
	d.days = 1;
	cr_assert_eq(apply(&alice, &req, now, &res), PB_ELIMIT, "once only");
	cr_assert_str_eq(res.resp.error, "extension_cap");
	rt_result_clear(&res);
}

Test(disclosure, illegal_transitions_are_refused)
{
	struct app a;
	struct rt_result res;
	int64_t now = at("2025-03-04T09:00:00+08:00");

	new_app("online", at("2025-03-03T09:00:00+08:00"), &a);
	step_refused(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CORRECTION_RECEIVED, now, "", "no_correction_asked");
	step_refused(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_FEE_PAID, now, "", "no_fee_notice");
	step_refused(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DELIVER, now, "EMS 1", "not_decided");
	step_refused(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REPEAT_DECISION, now, "confirmed", "not_flagged");
	cr_assert_eq(decide(&a, "other.no_correction", "条例第三十条", now, &res), PB_ESTATE);
	cr_assert_str_eq(res.resp.error, "correction_not_overdue");
	rt_result_clear(&res);
	cr_assert_eq(decide(&a, "unavailable.unclear_after_correction", "条例第三十条", now, &res), PB_ESTATE);
	cr_assert_str_eq(res.resp.error, "no_correction_asked");
	rt_result_clear(&res);
	cr_assert_eq(decide(&a, "withheld.state_secret", "", now, &res), PB_EINVAL);
	cr_assert_str_eq(res.resp.error, "legal_basis_required");
	rt_result_clear(&res);
	cr_assert_eq(decide(&a, "withheld.made_up", "x", now, &res), PB_EINVAL);
	cr_assert_str_eq(res.resp.error, "invalid_outcome");
	rt_result_clear(&res);

	/* the generic reply does not answer an application */
	now += 120 * 1000;
	expire(now);
	Mailroom__PullResp *p = pull(&alice, "disclosure", now, &res, PB_OK);
	uint8_t token[16];
	memcpy(token, p->lease->token.data, 16);
	rt_result_clear(&res);
	cr_assert_eq(lease_op(&alice, MAILROOM__REQUEST__OP_REPLY, a.id, token, "答复", now, &res), PB_ESTATE);
	cr_assert_str_eq(res.resp.error, "use_disclosure_steps");
	rt_result_clear(&res);

	/* fee notice, then no decision but fee_unpaid after its deadline */
	step_ok(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_FEE_NOTICE, now, "信息处理费100元，请于20个工作日内缴纳。", 0);
	step_refused(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONSULT, now, "第三方", "awaiting_fee");
	cr_assert_eq(decide(&a, "other.fee_unpaid", "信息处理费管理办法", now, &res), PB_ESTATE);
	cr_assert_str_eq(res.resp.error, "fee_not_overdue");
	rt_result_clear(&res);
	cr_assert_eq(decide(&a, "other.fee_unpaid", "信息处理费管理办法", at("2025-04-15T09:00:00+08:00"), &res),
	             PB_OK, "%s", res.resp.message);
	cr_assert_eq(res.resp.disclosure->disclosure->phase, MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_DECIDED);
	rt_result_clear(&res);
	step_refused(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_FEE_PAID, at("2025-04-15T10:00:00+08:00"), "",
	             "no_fee_notice");
	step_ok(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DELIVER, at("2025-04-15T10:00:00+08:00"),
	        "电子邮件送达", 0);
	step_refused(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DELIVER, at("2025-04-15T11:00:00+08:00"),
	             "again", "already_delivered");
}

Test(disclosure, no_correction_after_the_applicants_deadline)
{
	struct app a;
	struct rt_result res;

	new_app("online", at("2025-03-03T09:00:00+08:00"), &a);
	step_ok(&a, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REQUEST_CORRECTION, at("2025-03-04T09:00:00+08:00"),
	        "请明确所需信息的名称。", 0);
	/* 15 working days from 03-04 end on 03-25 */
	cr_assert_eq(decide(&a, "other.no_correction", "条例第三十条", at("2025-03-25T20:00:00+08:00"), &res),
	             PB_ESTATE);
	rt_result_clear(&res);
	cr_assert_eq(decide(&a, "other.no_correction", "条例第三十条", at("2025-03-26T09:00:00+08:00"), &res),
	             PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);
}

Test(disclosure, reviews_follow_a_decision_and_close_once)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__DisclosureReq d = MAILROOM__DISCLOSURE_REQ__INIT;
	Mailroom__ReviewCase rc = MAILROOM__REVIEW_CASE__INIT;
	struct rt_result res;
	struct app a;

	new_app("online", at("2025-03-03T09:00:00+08:00"), &a);
	cr_assert_eq(decide(&a, "withheld.third_party_rights", "条例第十五条", at("2025-03-20T09:00:00+08:00"),
	                    &res),
	             PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);
	d.id.data = a.id;
	d.id.len = PB_ID_LEN;
	d.action = MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REVIEW;
	d.review = &rc;
	rc.kind = "review";
	rc.case_no = "复议〔2025〕12号";
	rc.filed_ms = at("2025-04-01T09:00:00+08:00");
	rc.result = "pending";
	req.op_case = MAILROOM__REQUEST__OP_DISCLOSURE;
	req.disclosure = &d;
	cr_assert_eq(apply(&alice, &req, at("2025-04-02T09:00:00+08:00"), &res), PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);
	rc.result = "corrected";
	cr_assert_eq(apply(&alice, &req, at("2025-06-02T09:00:00+08:00"), &res), PB_EINVAL, "decided date needed");
	rt_result_clear(&res);
	rc.decided_ms = at("2025-06-01T09:00:00+08:00");
	cr_assert_eq(apply(&alice, &req, at("2025-06-02T09:00:00+08:00"), &res), PB_OK, "%s", res.resp.message);
	cr_assert_eq(res.resp.disclosure->disclosure->n_reviews, 1);
	cr_assert_str_eq(res.resp.disclosure->disclosure->reviews[0]->result, "corrected");
	rt_result_clear(&res);
	cr_assert_eq(apply(&alice, &req, at("2025-06-03T09:00:00+08:00"), &res), PB_ESTATE);
	cr_assert_str_eq(res.resp.error, "review_closed");
	rt_result_clear(&res);
}

Test(disclosure, repeats_are_flagged_for_the_same_applicant_only)
{
	struct app first, again, other, stranger;
	struct rt_result res;
	int64_t t0 = at("2025-03-03T09:00:00+08:00");

	cr_assert_eq(submit("11010519491231002X", "online",
	                    "申请公开2024年本区老旧小区改造项目的招标文件和中标结果。", t0, &first, &res),
	             PB_OK);
	rt_result_clear(&res);
	/* the same request, reworded, a month later */
	cr_assert_eq(submit("110105 19491231002x", "online",
	                    "请公开本区2024年老旧小区改造项目招标文件及中标结果", t0 + 30LL * 86400000, &again,
	                    &res),
	             PB_OK);
	rt_result_clear(&res);
	/* the same applicant asking about something else */
	cr_assert_eq(submit("11010519491231002X", "online",
	                    "申请公开2025年第一季度区财政局三公经费支出情况。", t0 + 31LL * 86400000, &other, &res),
	             PB_OK);
	rt_result_clear(&res);
	/* someone else asking the same thing */
	cr_assert_eq(submit("44030419800101001X", "online",
	                    "申请公开2024年本区老旧小区改造项目的招标文件和中标结果。", t0 + 32LL * 86400000,
	                    &stranger, &res),
	             PB_OK);
	rt_result_clear(&res);

	Mailroom__StoredMessage *m = stored(&again);
	cr_assert_eq(m->disclosure->repeat_of.len, PB_ID_LEN, "a reworded repeat is flagged");
	cr_assert_eq(memcmp(m->disclosure->repeat_of.data, first.id, PB_ID_LEN), 0);
	cr_assert_geq(m->disclosure->repeat_permille, 500);
	st_msg_free(m);
	m = stored(&other);
	cr_assert_eq(m->disclosure->repeat_of.len, 0, "a different request is not");
	st_msg_free(m);
	m = stored(&stranger);
	cr_assert_eq(m->disclosure->repeat_of.len, 0, "another applicant is not");
	st_msg_free(m);

	Mailroom__AuditRecord *r = record(again.log_index + 2);
	cr_assert_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_FLAGGED);
	cr_assert_eq(memcmp(r->related_id.data, first.id, PB_ID_LEN), 0);
	mailroom__audit_record__free_unpacked(r, NULL);

	/* the handler sees the earlier one, and decides */
	int64_t now = t0 + 33LL * 86400000;
	Mailroom__PullResp *p;
	for (;;) {
		p = pull(&alice, "disclosure", now, &res, PB_OK);
		cr_assert_not_null(p->message);
		if (memcmp(p->message->id.data, again.id, PB_ID_LEN) == 0)
			break;
		rt_result_clear(&res);
	}
	cr_assert_str_eq(p->message->disclosure->repeat_of_tracking, first.code);
	cr_assert_str_eq(p->message->disclosure->repeat_of_description,
	                 "申请公开2024年本区老旧小区改造项目的招标文件和中标结果。");
	rt_result_clear(&res);
	step_refused(&again, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REPEAT_DECISION, now, "maybe", "invalid_field");
	step_ok(&again, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REPEAT_DECISION, now, "confirmed", 0);
	step_refused(&again, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REPEAT_DECISION, now, "dismissed",
	             "repeat_decided");
}

Test(disclosure, similarity_on_realistic_texts)
{
	int pm;

	cr_assert_eq(rt_similarity_permille("申请公开某某路拓宽工程的环评报告", "申请公开某某路拓宽工程的环评报告", &pm),
	             PB_OK);
	cr_assert_eq(pm, 1000);
	rt_similarity_permille("申请公开某某路拓宽工程的环境影响评价报告全文",
	                       "请提供某某路拓宽工程环境影响评价报告（全文）", &pm);
	cr_assert_geq(pm, 500, "reworded: %d", pm);
	rt_similarity_permille("申请公开某某路拓宽工程的环境影响评价报告全文",
	                       "申请公开2025年区教育局招聘教师的笔试成绩", &pm);
	cr_assert_lt(pm, 200, "unrelated: %d", pm);
	/* the boilerplate every application shares does not count */
	rt_similarity_permille("申请公开政府信息：本区学校名单", "申请公开政府信息：本区医院名单", &pm);
	cr_assert_lt(pm, 500, "boilerplate only: %d", pm);
	/* full-width and case fold */
	rt_similarity_permille("ＡＢＣ项目批复文件", "abc项目批复文件", &pm);
	cr_assert_eq(pm, 1000);
}

static Mailroom__DisclosureReq *ev_step(Mailroom__DisclosureReq *d, int action, const char *outcome)
{
	mailroom__disclosure_req__init(d);
	d->action = action;
	d->outcome = (char *)outcome;
	d->text = "经审查，予以公开。";
	d->legal_basis = "";
	return d;
}

Test(disclosure, imports_apply_the_same_rules_and_are_idempotent)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__ImportReq im = MAILROOM__IMPORT_REQ__INIT;
	Mailroom__SubmitReq s = MAILROOM__SUBMIT_REQ__INIT;
	Mailroom__DisclosureApp d = MAILROOM__DISCLOSURE_APP__INIT;
	Mailroom__Applicant ap = MAILROOM__APPLICANT__INIT;
	Mailroom__ImportEvent e1 = MAILROOM__IMPORT_EVENT__INIT, e2 = MAILROOM__IMPORT_EVENT__INIT;
	Mailroom__ImportEvent *evs[2] = {&e1, &e2};
	Mailroom__DisclosureReq s1, s2;
	struct rt_result res;
	uint64_t size0, size1;
	st_txn *t;

	ap.kind = "commercial_enterprise";
	ap.name = "某某科技有限公司";
	ap.id_type = "uscc";
	ap.id_number = "91350100M000100Y43";
	d.applicant = &ap;
	d.form = "paper";
	d.delivery = "post";
	d.submission_mode = "in_person";
	s.channel = MAILROOM__CHANNEL__CHANNEL_DISCLOSURE;
	s.body = "申请公开2024年本区工业用地出让结果。";
	s.disclosure = &d;
	im.ref = "OLD-2024-0007";
	im.submit = &s;
	im.received_ms = at("2024-12-20T10:00:00+08:00");
	e1.type = "consultation_started";
	e1.at_ms = at("2024-12-23T10:00:00+08:00");
	e1.step = ev_step(&s1, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONSULT, NULL);
	e2.type = "decided";
	e2.at_ms = at("2025-01-10T10:00:00+08:00");
	e2.step = ev_step(&s2, MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DECIDE, "disclosed");
	im.events = evs;
	im.n_events = 2;
	req.op_case = MAILROOM__REQUEST__OP_IMPORT_MSG;
	req.import_msg = &im;
	int64_t now = at("2025-11-01T10:00:00+08:00");

	/* the decision while the consultation is open: refused, nothing written */
	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &size0), PB_OK);
	st_txn_abort(t);
	cr_assert_eq(apply(&alice, &req, now, &res), PB_ESTATE);
	cr_assert_str_eq(res.resp.error, "consultation_open");
	cr_assert_not_null(strstr(res.resp.message, "event 2 (decided)"), "%s", res.resp.message);
	rt_result_clear(&res);
	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &size1), PB_OK);
	st_txn_abort(t);
	cr_assert_eq(size1, size0);

	/* bob may not import at all */
	cr_assert_eq(apply(&bob, &req, now, &res), PB_EFORBIDDEN);
	rt_result_clear(&res);

	s1.action = MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_EXTEND;
	s1.days = 10;
	s1.approver = "主任";
	s1.text = "需要调查核实";
	cr_assert_eq(apply(&alice, &req, now, &res), PB_OK, "%s", res.resp.message);
	cr_assert_not(res.resp.import_msg->duplicate);
	struct app a;
	memcpy(a.id, res.resp.import_msg->id.data, PB_ID_LEN);
	rt_result_clear(&res);
	cr_assert_eq(apply(&alice, &req, now, &res), PB_OK);
	cr_assert(res.resp.import_msg->duplicate, "the same reference again writes nothing");
	cr_assert_eq(memcmp(res.resp.import_msg->id.data, a.id, PB_ID_LEN), 0);
	rt_result_clear(&res);

	Mailroom__StoredMessage *m = stored(&a);
	cr_assert(m->imported);
	cr_assert_eq(m->received_ms, at("2024-12-20T10:00:00+08:00"));
	cr_assert_str_eq(m->disclosure->outcome, "disclosed");
	cr_assert_eq(m->disclosure->decided_ms, at("2025-01-10T10:00:00+08:00"));
	cr_assert_eq(m->status, MAILROOM__STATUS__STATUS_REPLIED);
	uint64_t first = m->received_log_index;
	st_msg_free(m);
	/* RECEIVED, ROUTED, CLOCK_EXTENDED, DECIDED: operator's, at their own times */
	Mailroom__AuditRecord *r = record(first);
	cr_assert(r->imported);
	char who[64];
	cr_assert_str_eq(r->actor, fx_actor("operator", &alice, who, sizeof(who)));
	cr_assert_eq(r->effective_ms, at("2024-12-20T10:00:00+08:00"));
	cr_assert_eq(r->time_ms, now);
	mailroom__audit_record__free_unpacked(r, NULL);
	r = record(first + 1);
	cr_assert_str_eq(r->actor, "router", "the router's own records stay the router's");
	mailroom__audit_record__free_unpacked(r, NULL);
	r = record(first + 3);
	cr_assert_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_DECIDED);
	cr_assert_str_eq(r->outcome, "disclosed");
	cr_assert_eq(r->effective_ms, at("2025-01-10T10:00:00+08:00"));
	mailroom__audit_record__free_unpacked(r, NULL);

	/* a plain message with its answer */
	Mailroom__SubmitReq p = MAILROOM__SUBMIT_REQ__INIT;
	Mailroom__ImportEvent rep = MAILROOM__IMPORT_EVENT__INIT;
	Mailroom__ImportEvent *one[1] = {&rep};
	p.channel = MAILROOM__CHANNEL__CHANNEL_PETITION;
	p.subject = "信访转办：噪音扰民";
	p.body = "夜间施工噪音扰民。";
	rep.type = "replied";
	rep.at_ms = at("2025-02-01T10:00:00+08:00");
	rep.text = "已责令施工单位整改。";
	rep.by = "张科长";
	im.ref = "XF-2025-0001";
	im.submit = &p;
	im.received_ms = at("2025-01-20T10:00:00+08:00");
	im.events = one;
	im.n_events = 1;
	cr_assert_eq(apply(&alice, &req, now, &res), PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);
	/* events out of order */
	im.ref = "XF-2025-0002";
	rep.at_ms = at("2025-01-01T10:00:00+08:00");
	cr_assert_eq(apply(&alice, &req, now, &res), PB_EINVAL);
	cr_assert_not_null(strstr(res.resp.message, "event 1 (replied)"));
	rt_result_clear(&res);
}

Test(disclosure, an_import_with_a_long_history)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__ImportReq im = MAILROOM__IMPORT_REQ__INIT;
	Mailroom__SubmitReq s = MAILROOM__SUBMIT_REQ__INIT;
	Mailroom__DisclosureApp d = MAILROOM__DISCLOSURE_APP__INIT;
	Mailroom__Applicant ap = MAILROOM__APPLICANT__INIT;
	Mailroom__ImportEvent ev[13], *evs[13];
	Mailroom__DisclosureReq st[13];
	struct rt_result res;
	int64_t t = at("2025-03-03T10:00:00+08:00");

	ap.kind = "other_org";
	ap.name = "某某协会";
	ap.id_type = "other";
	ap.id_number = "社团登记 0001";
	d.applicant = &ap;
	d.form = "paper";
	d.delivery = "pickup";
	d.submission_mode = "online";
	s.channel = MAILROOM__CHANNEL__CHANNEL_DISCLOSURE;
	s.body = "申请公开2024年度本区社会组织年检结果。";
	s.disclosure = &d;
	im.ref = "OLD-LONG-1";
	im.submit = &s;
	im.received_ms = t;
	/* six consultations, one after another, then the decision */
	for (int i = 0; i < 13; i++) {
		mailroom__import_event__init(&ev[i]);
		evs[i] = &ev[i];
		ev[i].at_ms = t + (int64_t)(i + 1) * 3600 * 1000;
		ev[i].type = i == 12 ? "decided" : i % 2 ? "consultation_ended" : "consultation_started";
		ev[i].step = ev_step(&st[i],
		                     i == 12 ? MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DECIDE
		                     : i % 2 ? MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONSULT_DONE
		                             : MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONSULT,
		                     i == 12 ? "disclosed" : NULL);
	}
	im.events = evs;
	im.n_events = 13;
	req.op_case = MAILROOM__REQUEST__OP_IMPORT_MSG;
	req.import_msg = &im;
	cr_assert_eq(apply(&alice, &req, at("2025-11-01T10:00:00+08:00"), &res), PB_OK, "%s",
	             res.resp.message);
	cr_assert_eq(res.resp.import_msg->events, 13);
	rt_result_clear(&res);
}

/* The bigrams of one text, computed once and compared with many (the
 * repeat checks), give what comparing the two texts afresh gives, and come
 * out sorted and distinct whatever bytes of their code points differ. */
Test(disclosure, similarity_with_prepared_bigrams)
{
	static const char *const texts[] = {
		"", "a", "申请公开某某路拓宽工程的环评报告", "请提供某某路拓宽工程环境影响评价报告（全文）",
		"ＡＢＣ项目批复文件 abc 123", "𠀀𠀁𠀂 mixed 文字 and ASCII zz zz zz",
		"关于小区停车难的建议 12-345 您好，我们小区车位严重不足，晚上很多车只能停在消防通道上",
	};
	size_t nt = sizeof(texts) / sizeof(texts[0]);
	char long_a[4096], long_b[4096];
	const char *all[sizeof(texts) / sizeof(texts[0]) + 2];

	/* Long ones too (hundreds of bigrams, CJK, extension B and ASCII
	 * mixed), sharing part of their text. */
	for (size_t k = 0, n = 0; k < 300; k++) {
		uint32_t c = k % 3 == 0 ? 0x4e00 + (uint32_t)(k * 37 % 20000)
		           : k % 3 == 1 ? 0x20000 + (uint32_t)(k * 11 % 4000) : 'a' + (uint32_t)(k % 26);
		char *o = long_a + n;
		if (c < 0x80) {
			o[0] = (char)c;
			n += 1;
		} else if (c < 0x10000) {
			o[0] = (char)(0xe0 | (c >> 12));
			o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
			o[2] = (char)(0x80 | (c & 0x3f));
			n += 3;
		} else {
			o[0] = (char)(0xf0 | (c >> 18));
			o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
			o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
			o[3] = (char)(0x80 | (c & 0x3f));
			n += 4;
		}
		long_a[n] = '\0';
	}
	const char *half = long_a + strlen(long_a) / 2;
	while ((*half & 0xc0) == 0x80)
		half++;   /* at a character's start */
	snprintf(long_b, sizeof(long_b), "%s%s", texts[6], half);
	for (size_t i = 0; i < nt; i++)
		all[i] = texts[i];
	all[nt++] = long_a;
	all[nt++] = long_b;
	for (size_t i = 0; i < nt; i++) {
		struct rt_bigrams b;
		cr_assert_eq(rt_bigrams_of(all[i], &b), PB_OK);
		for (size_t k = 1; k < b.n; k++)
			cr_assert_lt(b.v[k - 1], b.v[k], "text %zu: not sorted and distinct at %zu", i, k);
		for (size_t j = 0; j < nt; j++) {
			int once, afresh;
			cr_assert_eq(rt_similarity_with(&b, all[j], &once), PB_OK);
			cr_assert_eq(rt_similarity_permille(all[i], all[j], &afresh), PB_OK);
			cr_assert_eq(once, afresh, "texts %zu and %zu: %d vs %d", i, j, once, afresh);
		}
		rt_bigrams_free(&b);
	}
	struct rt_bigrams big;
	int pm;
	cr_assert_eq(rt_bigrams_of(long_a, &big), PB_OK);
	cr_assert_gt(big.n, 200, "the long text is sorted the long way: %zu", big.n);
	cr_assert_eq(rt_similarity_with(&big, long_a, &pm), PB_OK);
	cr_assert_eq(pm, 1000);
	cr_assert_eq(rt_similarity_with(&big, long_b, &pm), PB_OK);
	cr_assert(pm > 300 && pm < 700, "half shared: %d", pm);
	rt_bigrams_free(&big);
	/* "ab cd ab" has the bigrams ab, bc, cd, da once each */
	struct rt_bigrams b;
	cr_assert_eq(rt_bigrams_of("ab cd ab", &b), PB_OK);
	cr_assert_eq(b.n, 4);
	rt_bigrams_free(&b);
}
