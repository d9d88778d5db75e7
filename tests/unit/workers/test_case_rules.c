/* The auditor's rules for merges (并单) and assisting queues (主办/协办):
 * a legal history verifies; a reply on a merged-away message, an opinion
 * from a queue never asked, a reply while an opinion is due, a group due
 * the members do not give, an unmerge after the primary closed and an
 * opinion due not on the calendar are each refused. */
#include "helpers.h"
#include "tlog.h"
#include "pb_time.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

TestSuite(case_rules, .init = tdir_setup, .fini = tdir_teardown, .timeout = 60);

#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x

static struct run r;
static struct tl_store s;

#define RUN(...)                                                         \
	do {                                                                 \
		const char *const av_[] = {"mailroom-audit", __VA_ARGS__, NULL}; \
		run_prog(&r, AUDIT_BIN, av_);                                    \
	} while (0)

static void expect(int code, const char *line, const char *what)
{
	tl_commit(&s);
	tl_close_env(&s);
	RUN("verify", "--store", s.dir, "--calendars", TL_CALENDARS);
	cr_assert_eq(r.exit, code, "%s%s", r.out, r.err);
	cr_assert(strncmp(r.out, line, strlen(line)) == 0, "wanted '%s': %s", line, r.out);
	cr_assert(strstr(r.out, what), "wanted '%s': %s", what, r.out);
}

#define expect_state(what) expect(21, "FAIL state: record ", what)

/* sec merged into pri by handler:li, then the primary settled. */
static void merge(struct tl_msg *sec, struct tl_msg *pri, int keep)
{
	Mailroom__AuditRecord a;
	int64_t old = pri->reply.due_ms;

	tl_rec(&s, sec, &a, EV(MERGED), "handler:li");
	a.related_id.data = pri->id;
	a.related_id.len = 16;
	tl_append(&s, &a);
	sec->ack.stopped = sec->reply.stopped = 1;
	if (!keep && sec->reply.due_ms < pri->reply.due_ms) {
		pri->reply.group_due_ms = sec->reply.due_ms;
		tl_compute(&s, &pri->reply);
		pri->reply.escalation = 0;
	}
	tl_rec(&s, pri, &a, EV(MERGE_SETTLED), "handler:li");
	a.clock = &pri->reply;
	a.old_due_ms = old;
	a.deadline_kept = keep;
	tl_append(&s, &a);
}

static void unmerge(struct tl_msg *sec, struct tl_msg *pri)
{
	Mailroom__AuditRecord a;

	sec->reply.stopped = 0;
	tl_rec(&s, sec, &a, EV(UNMERGED), "handler:li");
	a.related_id.data = pri->id;
	a.related_id.len = 16;
	tl_append(&s, &a);
}

static void assist(struct tl_msg *m, const char *queue, int days, int64_t due)
{
	Mailroom__AuditRecord a;

	tl_rec(&s, m, &a, EV(ASSIST_REQUESTED), "handler:li");
	a.assist_queue = (char *)queue;
	a.assist_days = days;
	a.party_due_ms = due ? due
	                     : cal_end_of_day_ms(cal_add_working_days(
	                           s.cal, pb_day_of_ms(a.time_ms), days, NULL));
	tl_append(&s, &a);
}

static void step(struct tl_msg *m, int ev, const char *actor, const char *queue)
{
	Mailroom__AuditRecord a;

	tl_rec(&s, m, &a, ev, actor);
	a.assist_queue = (char *)queue;
	tl_append(&s, &a);
}

static void two(struct tl_msg *pri, struct tl_msg *sec)
{
	tl_create(&s, NULL);
	tl_begin(&s);
	tl_receive(&s, pri, "roads", 1, 15);
	tl_receive(&s, sec, "roads", 1, 5);
}

Test(case_rules, a_legal_history_verifies)
{
	struct tl_msg p, a, b, q;

	two(&p, &a);
	tl_receive(&s, &b, "roads", 1, 15);
	tl_receive(&s, &q, "roads", 1, 15);
	merge(&a, &p, 0);
	cr_assert_eq(p.reply.due_ms, a.reply.due_ms, "the group's earliest due");
	merge(&b, &p, 1);
	unmerge(&b, &p);
	assist(&p, "supervision", 5, 0);
	step(&p, EV(OPINION_DELIVERED), "handler:wang", "supervision");
	tl_lease(&s, &p, "li");
	tl_reply(&s, &p);
	/* The lead answers without an opinion, saying why. */
	assist(&q, "supervision", 3, 0);
	tl_lease(&s, &q, "li");
	step(&q, EV(ASSIST_OVERRIDDEN), q.holder, NULL);
	tl_reply(&s, &q);
	tl_commit(&s);
	tl_close_env(&s);
	RUN("verify", "--store", s.dir, "--calendars", TL_CALENDARS);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
}

Test(case_rules, a_reply_on_a_merged_away_message_is_refused)
{
	struct tl_msg p, a;

	two(&p, &a);
	merge(&a, &p, 0);
	/* Someone takes and answers the merged message anyway. */
	tl_lease(&s, &a, "li");
	expect_state("LEASED on a message merged away");
}

Test(case_rules, an_opinion_from_a_queue_never_asked_is_refused)
{
	struct tl_msg p, a;

	two(&p, &a);
	assist(&p, "supervision", 5, 0);
	step(&p, EV(OPINION_DELIVERED), "handler:zhou", "general");
	expect_state("OPINION_DELIVERED from a queue that was not asked");
}

Test(case_rules, a_reply_while_an_opinion_is_due_is_refused)
{
	struct tl_msg p, a;

	two(&p, &a);
	assist(&p, "supervision", 5, 0);
	tl_lease(&s, &p, "li");
	tl_reply(&s, &p);
	expect_state("REPLIED while an assisting opinion is due");
}

Test(case_rules, a_group_due_the_members_do_not_give_is_refused)
{
	struct tl_msg p, a;
	Mailroom__AuditRecord x;

	two(&p, &a);
	tl_rec(&s, &a, &x, EV(MERGED), "handler:li");
	x.related_id.data = p.id;
	x.related_id.len = 16;
	tl_append(&s, &x);
	/* Settled a day later than the member's due. */
	p.reply.group_due_ms = a.reply.due_ms + PB_DAY_MS;
	tl_compute(&s, &p.reply);
	tl_rec(&s, &p, &x, EV(MERGE_SETTLED), "handler:li");
	x.clock = &p.reply;
	tl_append(&s, &x);
	expect_state("MERGE_SETTLED gives the group due");
}

Test(case_rules, an_unmerge_after_the_primary_closed_is_refused)
{
	struct tl_msg p, a;

	two(&p, &a);
	merge(&a, &p, 0);
	tl_lease(&s, &p, "li");
	tl_reply(&s, &p);
	unmerge(&a, &p);
	expect_state("UNMERGED after its primary was closed");
}

Test(case_rules, an_opinion_due_off_the_calendar_is_a_deadline_failure)
{
	struct tl_msg p, a;

	two(&p, &a);
	/* A date typed in: one day more than 5 working days give. */
	assist(&p, "supervision", 5,
	       cal_end_of_day_ms(cal_add_working_days(s.cal, pb_day_of_ms(s.now), 5, NULL)) +
	           PB_DAY_MS);
	expect(22, "FAIL deadline: record ", "the opinion is due");
}
