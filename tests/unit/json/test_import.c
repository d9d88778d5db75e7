/* pj: one line of a mailroom-admin import file -> ImportReq. */
#include "pj.h"
#include "pb_time.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct pj_error last;
static struct pj_import im;
static json_t *kept;

static void drop(void)
{
	pj_import_clear(&im);
	json_decref(kept);
	kept = NULL;
}

static const char *parse(const char *line)
{
	json_t *root = (json_t *)1;

	drop();
	memset(&last, 0, sizeof(last));
	if (pj_parse_import(line, strlen(line), &root, &im, &last) == 0) {
		cr_assert_not_null(root);
		kept = root;
		return "ok";
	}
	cr_assert_null(root, "root must be NULL after a refusal");
	cr_assert_null(im.ev, "nothing left allocated after a refusal");
	cr_assert(last.message[0], "a refusal says why");
	return last.code;
}

static int64_t t(const char *s)
{
	int64_t ms = 0;

	cr_assert_eq(pb_time_parse(s, &ms), 0, "%s", s);
	return ms;
}

#define APPLICANT                                                                         \
	"\"applicant\":{\"kind\":\"legal_service_org\",\"name\":\"某律师事务所\","              \
	"\"id_type\":\"uscc\",\"id_number\":\"91350100M000100Y43\",\"email\":\"law@example.cn\"}"
#define DISC_HEAD                                                                         \
	"{\"ref\":\"OLD-2025-0001\",\"channel\":\"disclosure\","                              \
	"\"received_at\":\"2025-03-03T10:00:00+08:00\"," APPLICANT ","                        \
	"\"description\":\"申请公开某项目环评报告\",\"form\":\"electronic\","                  \
	"\"delivery\":\"email\",\"submission_mode\":\"registered_mail\""

/* A disclosure line whose events array is EVENTS (raw JSON). */
static const char *disc_events(const char *events)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf), DISC_HEAD ",\"events\":[%s]}", events);
	return parse(buf);
}

static const char *mail_line(const char *extra)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
	         "{\"ref\":\"OLD-M-7\",\"channel\":\"mailbox\",\"received_at\":\"2025-05-06T09:00:00Z\","
	         "\"subject\":\"路灯\",\"body\":\"东门路灯坏了\"%s}",
	         extra);
	return parse(buf);
}

Test(import, disclosure_every_event, .fini = drop)
{
	const char *ev =
		"{\"type\":\"receipt_confirmed\",\"at\":\"2025-03-01T00:00:00+08:00\",\"evidence\":\"挂号信签收单\"},"
		"{\"type\":\"correction_requested\",\"at\":\"2025-03-05T10:00:00+08:00\",\"text\":\"请明确项目名称\"},"
		"{\"type\":\"correction_received\",\"at\":\"2025-03-10T10:00:00+08:00\"},"
		"{\"type\":\"consultation_started\",\"at\":\"2025-03-12T10:00:00+08:00\",\"text\":\"某公司\"},"
		"{\"type\":\"consultation_ended\",\"at\":\"2025-03-20T10:00:00+08:00\"},"
		"{\"type\":\"extended\",\"at\":\"2025-04-01T10:00:00+08:00\",\"days\":20,\"approver\":\"王主任\",\"reason\":\"需调取档案\"},"
		"{\"type\":\"fee_notice\",\"at\":\"2025-04-02T10:00:00+08:00\",\"text\":\"复制费100元\"},"
		"{\"type\":\"fee_paid\",\"at\":\"2025-04-03T10:00:00+08:00\"},"
		"{\"type\":\"decided\",\"at\":\"2025-04-10T10:00:00+08:00\",\"outcome\":\"partly_disclosed\","
		"\"text\":\"部分公开\",\"legal_basis\":\"条例第十六条\",\"by\":\"李四\"},"
		"{\"type\":\"delivered\",\"at\":\"2025-04-11T10:00:00+08:00\",\"evidence\":\"电子邮件\"},"
		"{\"type\":\"review\",\"kind\":\"review\",\"case_no\":\"复2025-1\",\"filed\":\"2025-06-01\","
		"\"result\":\"upheld\",\"decided\":\"2025-08-01\"},"
		"{\"type\":\"review\",\"kind\":\"litigation_after_review\",\"case_no\":\"（2025）京01行初1号\","
		"\"filed\":\"2025-08-20\",\"result\":\"pending\",\"at\":\"2025-08-21T09:00:00+08:00\"}";

	cr_assert_str_eq(disc_events(ev), "ok", "%s", last.message);
	const Mailroom__ImportReq *r = &im.req;
	cr_expect_str_eq(r->ref, "OLD-2025-0001");
	cr_expect_eq(r->received_ms, t("2025-03-03T10:00:00+08:00"));
	cr_assert_not_null(r->submit);
	cr_expect_eq(r->submit->channel, MAILROOM__CHANNEL__CHANNEL_DISCLOSURE);
	cr_assert_not_null(r->submit->disclosure);
	cr_expect_str_eq(r->submit->disclosure->applicant->id_type, "uscc");
	cr_expect_str_eq(r->submit->disclosure->submission_mode, "registered_mail");
	cr_expect_str_eq(r->submit->body, "申请公开某项目环评报告");
	cr_assert_eq(r->n_events, 12);

	static const struct {
		const char *type;
		int action;
	} want[] = {
		{"receipt_confirmed", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONFIRM_RECEIPT},
		{"correction_requested", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REQUEST_CORRECTION},
		{"correction_received", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CORRECTION_RECEIVED},
		{"consultation_started", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONSULT},
		{"consultation_ended", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONSULT_DONE},
		{"extended", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_EXTEND},
		{"fee_notice", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_FEE_NOTICE},
		{"fee_paid", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_FEE_PAID},
		{"decided", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DECIDE},
		{"delivered", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DELIVER},
		{"review", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REVIEW},
		{"review", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REVIEW},
	};
	for (size_t i = 0; i < 12; i++) {
		const Mailroom__ImportEvent *e = r->events[i];
		cr_expect_str_eq(e->type, want[i].type, "event %zu", i);
		cr_assert_not_null(e->step, "event %zu has its step", i);
		cr_expect_eq((int)e->step->action, want[i].action, "event %zu", i);
		cr_expect_eq(e->step->at_ms, e->at_ms, "event %zu: the step is at the event's time", i);
		cr_expect_eq(e->step->id.len, 0, "the router knows the message");
	}
	cr_expect_eq(r->events[0]->at_ms, t("2025-03-01T00:00:00+08:00"));
	cr_expect_str_eq(r->events[0]->step->evidence, "挂号信签收单");
	cr_expect_str_eq(r->events[1]->step->text, "请明确项目名称");
	cr_expect_str_eq(r->events[3]->step->text, "某公司");
	cr_expect_eq(r->events[5]->step->days, 20);
	cr_expect_str_eq(r->events[5]->step->approver, "王主任");
	cr_expect_str_eq(r->events[5]->step->text, "需调取档案");
	cr_expect_str_eq(r->events[6]->step->text, "复制费100元");
	const Mailroom__DisclosureReq *d = r->events[8]->step;
	cr_expect_str_eq(d->outcome, "partly_disclosed");
	cr_expect_str_eq(d->text, "部分公开");
	cr_expect_str_eq(d->legal_basis, "条例第十六条");
	cr_expect_str_eq(r->events[8]->by, "李四");
	cr_expect_str_eq(r->events[9]->step->evidence, "电子邮件");
	const Mailroom__ReviewCase *rc = r->events[10]->step->review;
	cr_assert_not_null(rc);
	cr_expect_str_eq(rc->kind, "review");
	cr_expect_str_eq(rc->case_no, "复2025-1");
	cr_expect_str_eq(rc->result, "upheld");
	cr_expect_eq(rc->filed_ms, t("2025-06-01T00:00:00+08:00"));
	cr_expect_eq(rc->decided_ms, t("2025-08-01T00:00:00+08:00"));
	cr_expect_eq(r->events[10]->at_ms, rc->decided_ms, "no at: when it was decided");
	rc = r->events[11]->step->review;
	cr_expect_str_eq(rc->result, "pending");
	cr_expect_eq(rc->decided_ms, 0);
	cr_expect_eq(r->events[11]->at_ms, t("2025-08-21T09:00:00+08:00"));

	/* The request packs. */
	size_t n = mailroom__import_req__get_packed_size(r);
	uint8_t *buf = malloc(n);
	cr_assert_not_null(buf);
	cr_expect_eq(mailroom__import_req__pack(r, buf), n);
	Mailroom__ImportReq *back = mailroom__import_req__unpack(NULL, n, buf);
	cr_assert_not_null(back);
	cr_expect_eq(back->n_events, 12);
	cr_expect_str_eq(back->events[8]->step->outcome, "partly_disclosed");
	mailroom__import_req__free_unpacked(back, NULL);
	free(buf);
}

Test(import, other_channels, .fini = drop)
{
	cr_assert_str_eq(mail_line(",\"contact\":{\"name\":\"张三\",\"phone\":\"13800000000\"},"
	                           "\"category\":\"roads\",\"events\":[{\"type\":\"replied\","
	                           "\"at\":\"2025-05-07T09:00:00+08:00\",\"text\":\"已修复\",\"by\":\"王五\"}]"),
	                 "ok", "%s", last.message);
	cr_expect_eq(im.req.submit->channel, MAILROOM__CHANNEL__CHANNEL_MAILBOX);
	cr_expect_str_eq(im.req.submit->subject, "路灯");
	cr_expect_str_eq(im.req.submit->body, "东门路灯坏了");
	cr_expect_str_eq(im.req.submit->category, "roads");
	cr_assert_not_null(im.req.submit->contact);
	cr_expect_str_eq(im.req.submit->contact->phone, "13800000000");
	cr_expect_null(im.req.submit->disclosure);
	cr_expect_eq(im.req.received_ms, t("2025-05-06T17:00:00+08:00"));
	cr_assert_eq(im.req.n_events, 1);
	cr_expect_str_eq(im.req.events[0]->type, "replied");
	cr_expect_str_eq(im.req.events[0]->text, "已修复");
	cr_expect_str_eq(im.req.events[0]->by, "王五");
	cr_expect_null(im.req.events[0]->step);

	cr_expect_str_eq(mail_line(""), "ok", "no events: an open message");
	cr_expect_eq(im.req.n_events, 0);

	static const char *chans[] = {"consultation", "complaint", "hotline", "petition"};
	static const int want[] = {MAILROOM__CHANNEL__CHANNEL_CONSULTATION,
	                           MAILROOM__CHANNEL__CHANNEL_COMPLAINT,
	                           MAILROOM__CHANNEL__CHANNEL_HOTLINE,
	                           MAILROOM__CHANNEL__CHANNEL_PETITION};
	for (size_t i = 0; i < 4; i++) {
		char line[512];
		snprintf(line, sizeof(line),
		         "{\"ref\":\"R%zu\",\"channel\":\"%s\",\"received_at\":\"2025-01-02T08:00:00+08:00\","
		         "\"subject\":\"s\",\"body\":\"b\"}",
		         i, chans[i]);
		cr_expect_str_eq(parse(line), "ok", "%s: %s", chans[i], last.message);
		cr_expect_eq((int)im.req.submit->channel, want[i], "%s", chans[i]);
	}
}

Test(import, refusals, .fini = drop)
{
	static const struct {
		const char *events, *code, *where;
	} bad[] = {
		{"{\"type\":\"replied\",\"at\":\"2025-04-01T10:00:00+08:00\",\"text\":\"x\",\"by\":\"y\"}",
		 "invalid_field", "events[0].type"},
		{"{\"type\":\"approved\",\"at\":\"2025-04-01T10:00:00+08:00\"}", "invalid_field",
		 "events[0].type"},
		{"{\"at\":\"2025-04-01T10:00:00+08:00\"}", "missing_field", "events[0].type"},
		{"{\"type\":\"fee_paid\"}", "missing_field", "events[0].at"},
		{"{\"type\":\"fee_paid\",\"at\":\"2025-04-01 10:00\"}", "invalid_field", "events[0].at"},
		{"{\"type\":\"fee_paid\",\"at\":\"2025-04-01T10:00:00\"}", "invalid_field",
		 "events[0].at"},
		{"{\"type\":\"fee_paid\",\"at\":\"2025-04-01T10:00:00+08:00\",\"text\":\"x\"}",
		 "unknown_field", "events[0].text"},
		{"{\"type\":\"fee_notice\",\"at\":\"2025-04-01T10:00:00+08:00\"}", "missing_field",
		 "events[0].text"},
		{"{\"type\":\"decided\",\"at\":\"2025-04-01T10:00:00+08:00\",\"outcome\":\"refused\","
		 "\"text\":\"x\",\"legal_basis\":\"y\"}",
		 "invalid_field", "events[0].outcome"},
		{"{\"type\":\"decided\",\"at\":\"2025-04-01T10:00:00+08:00\",\"outcome\":\"withheld.state_secret\","
		 "\"text\":\"x\"}",
		 "missing_field", "events[0].legal_basis"},
		{"{\"type\":\"extended\",\"at\":\"2025-04-01T10:00:00+08:00\",\"days\":0,\"approver\":\"a\","
		 "\"reason\":\"r\"}",
		 "invalid_field", "events[0].days"},
		{"{\"type\":\"extended\",\"at\":\"2025-04-01T10:00:00+08:00\",\"days\":\"20\",\"approver\":\"a\","
		 "\"reason\":\"r\"}",
		 "invalid_field", "events[0].days"},
		{"{\"type\":\"extended\",\"at\":\"2025-04-01T10:00:00+08:00\",\"days\":20,\"reason\":\"r\"}",
		 "missing_field", "events[0].approver"},
		{"{\"type\":\"review\",\"kind\":\"appeal\",\"case_no\":\"1\",\"filed\":\"2025-06-01\","
		 "\"result\":\"pending\"}",
		 "invalid_field", "events[0].kind"},
		{"{\"type\":\"review\",\"kind\":\"review\",\"case_no\":\"1\",\"filed\":\"2025-06-01\","
		 "\"result\":\"upheld\"}",
		 "missing_field", "events[0].decided"},
		{"{\"type\":\"review\",\"kind\":\"review\",\"case_no\":\"1\",\"filed\":\"2025-06-01\","
		 "\"result\":\"pending\",\"decided\":\"2025-07-01\"}",
		 "invalid_field", "events[0].decided"},
		{"{\"type\":\"review\",\"kind\":\"review\",\"case_no\":\"1\",\"filed\":\"2025-06-31\","
		 "\"result\":\"pending\"}",
		 "invalid_field", "events[0].filed"},
		{"{\"type\":\"review\",\"kind\":\"review\",\"case_no\":\"1\",\"filed\":\"2025-06-01\","
		 "\"result\":\"upheld\",\"decided\":\"2025-05-01\"}",
		 "invalid_field", "events[0].decided"},
		{"{\"type\":\"delivered\",\"at\":\"2025-04-01T10:00:00+08:00\",\"evidence\":\"\"}",
		 "invalid_field", "events[0].evidence"},
		{"\"fee_paid\"", "invalid_field", "events[0]"},
	};
	char line[8192];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_str_eq(disc_events(bad[i].events), bad[i].code, "case %zu: %s", i,
		                 last.message);
		cr_expect(strncmp(last.message, bad[i].where, strlen(bad[i].where)) == 0,
		          "case %zu: '%s' should name %s", i, last.message, bad[i].where);
	}
	/* The second event is the bad one. */
	cr_expect_str_eq(disc_events("{\"type\":\"fee_paid\",\"at\":\"2025-04-01T10:00:00+08:00\"},"
	                             "{\"type\":\"fee_paid\"}"),
	                 "missing_field");
	cr_expect(strstr(last.message, "events[1].at") != NULL, "%s", last.message);

	cr_expect_str_eq(mail_line(",\"events\":[{\"type\":\"decided\",\"at\":\"2025-04-01T10:00:00+08:00\","
	                           "\"outcome\":\"disclosed\",\"text\":\"x\"}]"),
	                 "invalid_field", "a mailbox message has no decision");
	cr_expect_str_eq(mail_line(",\"events\":[{\"type\":\"replied\",\"at\":\"2025-04-01T10:00:00+08:00\","
	                           "\"text\":\"x\"}]"),
	                 "missing_field", "who replied is required");
	cr_expect_str_eq(mail_line(",\"events\":{}"), "invalid_field");
	cr_expect_str_eq(mail_line("," APPLICANT), "unknown_field", "applicant is for disclosure");
	cr_expect_str_eq(mail_line(",\"extra\":1"), "unknown_field");
	cr_expect_str_eq(mail_line(",\"contact\":{\"phone\":\"123\"}"), "invalid_field");

	snprintf(line, sizeof(line), DISC_HEAD ",\"subject\":\"x\"}");
	cr_expect_str_eq(parse(line), "unknown_field", "disclosure takes its description");
	snprintf(line, sizeof(line), DISC_HEAD "}");
	cr_expect_str_eq(parse(line), "ok", "%s", last.message);
	cr_expect_str_eq(parse("{\"ref\":\"X\",\"channel\":\"fax\",\"received_at\":\"2025-01-01T00:00:00Z\"}"),
	                 "invalid_field");
	cr_expect_str_eq(parse("{\"channel\":\"mailbox\",\"received_at\":\"2025-01-01T00:00:00Z\","
	                       "\"subject\":\"s\",\"body\":\"b\"}"),
	                 "missing_field");
	cr_expect(strstr(last.message, "ref") != NULL, "%s", last.message);
	cr_expect_str_eq(parse("{\"ref\":\"X\",\"channel\":\"mailbox\",\"subject\":\"s\",\"body\":\"b\"}"),
	                 "missing_field");
	cr_expect(strstr(last.message, "received_at") != NULL, "%s", last.message);
	cr_expect_str_eq(parse("{\"ref\":\"X\",\"channel\":\"mailbox\""), "invalid_json");
	cr_expect_str_eq(parse("[1]"), "invalid_json");
	cr_expect_str_eq(parse(DISC_HEAD ",\"applicant\":{}}"), "invalid_json", "duplicate key");
}

Test(import, event_count_bounded, .fini = drop)
{
	size_t per = strlen("{\"type\":\"fee_paid\",\"at\":\"2025-04-01T10:00:00+08:00\"},");
	size_t cap = (PJ_IMPORT_EVENTS_MAX + 1) * per + 2048;
	char *buf = malloc(cap), *p;

	cr_assert_not_null(buf);
	for (int n = PJ_IMPORT_EVENTS_MAX; n <= PJ_IMPORT_EVENTS_MAX + 1; n++) {
		p = buf + snprintf(buf, cap, DISC_HEAD ",\"events\":[");
		for (int i = 0; i < n; i++)
			p += sprintf(p, "%s{\"type\":\"fee_paid\",\"at\":\"2025-04-01T10:00:00+08:00\"}",
			             i ? "," : "");
		strcpy(p, "]}");
		cr_expect_str_eq(parse(buf), n == PJ_IMPORT_EVENTS_MAX ? "ok" : "invalid_field",
		                 "%d events: %s", n, last.message);
	}
	free(buf);
}

/* The example the README points to parses, line by line. */
Test(import, example_file, .fini = drop)
{
	FILE *f = fopen(MR_SOURCE_DIR "/deploy/import-example.jsonl", "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lines = 0, disclosure = 0;

	cr_assert_not_null(f, "deploy/import-example.jsonl is missing");
	while ((n = getline(&line, &cap, f)) > 0) {
		lines++;
		cr_expect_str_eq(parse(line), "ok", "line %d: %s", lines, last.message);
		disclosure += im.req.submit && im.req.submit->disclosure != NULL;
	}
	free(line);
	fclose(f);
	cr_expect_eq(lines, 8);
	cr_expect_eq(disclosure, 3);
}
