/* The auditor's rules for petitions pushed by the petition system
 * (workers/README.md, "Petitions in the log"): a legal history verifies,
 * with its calendar-day deadlines; each illegal step is refused with a
 * message that names it. Records are written as router/rt_petition.c
 * writes them. */
#include "helpers.h"
#include "pb_id.h"
#include "pb_time.h"
#include "tlog.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

TestSuite(pet_rules, .init = tdir_setup, .fini = tdir_teardown, .timeout = 120);

#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x
#define DAY PB_DAY_MS
#define HANDLER "handler:0123456789abcdef"

static struct run r;
static struct tl_store s;

#define RUN(...)                                                         \
	do {                                                                 \
		const char *const av_[] = {"mailroom-audit", __VA_ARGS__, NULL}; \
		run_prog(&r, AUDIT_BIN, av_);                                    \
	} while (0)

static void rec(struct tl_msg *m, Mailroom__AuditRecord *x, int ev, const char *actor)
{
	tl_rec(&s, m, x, ev, actor);
	x->channel = MAILROOM__CHANNEL__CHANNEL_PETITION;
}

/* RECEIVED and ROUTED: the notice due in 15 days, the answer in 60. */
static void receive(struct tl_msg *m, const char *no)
{
	Mailroom__AuditRecord x;
	uint8_t hash[32];
	char ref[64];

	memset(m, 0, sizeof(*m));
	pb_id_new(s.now, m->id);
	snprintf(m->queue, sizeof(m->queue), "general");
	m->received_ms = s.now;
	mailroom__clock__init(&m->ack);
	mailroom__clock__init(&m->reply);
	m->ack.kind = ST_CLOCK_ACK;
	m->ack.started_ms = s.now;
	m->ack.calendar_days = 15;
	tl_compute(&s, &m->ack);
	m->reply.kind = ST_CLOCK_REPLY;
	m->reply.started_ms = s.now;
	m->reply.calendar_days = 60;
	tl_compute(&s, &m->reply);
	randombytes_buf(hash, sizeof(hash));
	snprintf(ref, sizeof(ref), "petition:%s", no);
	rec(m, &x, EV(RECEIVED), "gateway");
	x.time_ms = m->received_ms;
	x.content_hash.data = hash;
	x.content_hash.len = sizeof(hash);
	x.external_ref = ref;
	tl_append(&s, &x);
	m->received_at = x.index;
	rec(m, &x, EV(ROUTED), "router");
	x.time_ms = m->received_ms;
	x.detail = "default";
	tl_append(&s, &x);
	s.nmsg++;
}

static void lease(struct tl_msg *m)
{
	Mailroom__AuditRecord x;

	snprintf(m->holder, sizeof(m->holder), HANDLER);
	randombytes_buf(m->token_hash, sizeof(m->token_hash));
	rec(m, &x, EV(LEASED), m->holder);
	x.lease_token_hash.data = m->token_hash;
	x.lease_token_hash.len = sizeof(m->token_hash);
	tl_append(&s, &x);
}

static void accept(struct tl_msg *m, int restart)
{
	Mailroom__AuditRecord x;
	int64_t old = m->reply.due_ms;

	m->ack.stopped = 1;
	m->ack.stopped_ms = s.now;
	if (restart)
		m->reply.started_ms = s.now;
	tl_compute(&s, &m->reply);
	rec(m, &x, EV(PETITION_ACCEPTED), HANDLER);
	x.clock = &m->reply;
	x.old_due_ms = old;
	tl_append(&s, &x);
}

static void extend(struct tl_msg *m, int days)
{
	Mailroom__AuditRecord x;
	int64_t old = m->reply.due_ms;

	m->reply.extended_days += days;
	m->reply.extensions++;
	tl_compute(&s, &m->reply);
	rec(m, &x, EV(PETITION_EXTENDED), HANDLER);
	x.clock = &m->reply;
	x.old_due_ms = old;
	tl_append(&s, &x);
}

static void answer(struct tl_msg *m, const char *what)
{
	Mailroom__AuditRecord x;
	uint8_t hash[32];

	randombytes_buf(hash, sizeof(hash));
	rec(m, &x, EV(PETITION_ANSWERED), HANDLER);
	x.detail = (char *)what;
	x.content_hash.data = hash;
	x.content_hash.len = sizeof(hash);
	tl_append(&s, &x);
	m->holder[0] = '\0';
	m->ack.stopped = m->reply.stopped = 1;
}

static void review(struct tl_msg *m, const char *what)
{
	Mailroom__AuditRecord x;
	int64_t old = m->reply.due_ms;

	m->reply.stopped = 0;
	m->reply.started_ms = s.now;
	m->reply.calendar_days = 30;
	m->reply.extended_days = 0;
	m->reply.extensions = 0;
	tl_compute(&s, &m->reply);
	rec(m, &x, EV(PETITION_REVIEW), HANDLER);
	x.detail = (char *)what;
	x.clock = &m->reply;
	x.old_due_ms = old;
	tl_append(&s, &x);
}

static void verify(int code, const char *what)
{
	tl_commit(&s);
	tl_close_env(&s);
	RUN("verify", "--store", s.dir, "--calendars", TL_CALENDARS);
	cr_assert_eq(r.exit, code, "%s%s", r.out, r.err);
	if (what)
		cr_assert(strstr(r.out, what), "wanted '%s': %s", what, r.out);
}

/* Accepted on day 10, extended, answered, reviewed and re-reviewed. */
static void history(struct tl_msg *m)
{
	tl_create(&s, NULL);
	tl_begin(&s);
	receive(m, "XF-1");
	lease(m);
	s.now += 10 * DAY;
	accept(m, 1);
	extend(m, 30);
	s.now += 70 * DAY;
	answer(m, "answer");
	s.now += 29 * DAY;
}

Test(pet_rules, a_legal_history_verifies)
{
	struct tl_msg m;

	history(&m);
	review(&m, "review");
	lease(&m);
	s.now += 20 * DAY;
	answer(&m, "review");
	s.now += 5 * DAY;
	review(&m, "rereview");
	lease(&m);
	answer(&m, "rereview");
	verify(0, NULL);
	cr_assert(!strstr(r.out, "another calendar"), "%s", r.out);
}

Test(pet_rules, a_review_after_30_days)
{
	struct tl_msg m;

	history(&m);
	s.now += 2 * DAY;
	review(&m, "review");
	verify(21, "PETITION_REVIEW asked more than 30 days after the answer");
}

Test(pet_rules, a_rereview_before_the_review)
{
	struct tl_msg m;

	history(&m);
	review(&m, "rereview");
	verify(21, "PETITION_REVIEW (rereview) before the answer it reviews");
}

Test(pet_rules, a_second_extension)
{
	struct tl_msg m;

	tl_create(&s, NULL);
	tl_begin(&s);
	receive(&m, "XF-2");
	accept(&m, 1);
	extend(&m, 10);
	extend(&m, 10);
	verify(21, "PETITION_EXTENDED a second time");
}

Test(pet_rules, an_extension_over_30_days)
{
	struct tl_msg m;

	tl_create(&s, NULL);
	tl_begin(&s);
	receive(&m, "XF-3");
	accept(&m, 1);
	extend(&m, 31);
	verify(21, "PETITION_EXTENDED by 31 days");
}

Test(pet_rules, an_acceptance_that_keeps_the_old_start)
{
	struct tl_msg m;

	tl_create(&s, NULL);
	tl_begin(&s);
	receive(&m, "XF-4");
	s.now += 3 * DAY;
	accept(&m, 0);
	verify(21, "does not start afresh");
}

Test(pet_rules, a_generic_reply_on_a_petition)
{
	struct tl_msg m;

	tl_create(&s, NULL);
	tl_begin(&s);
	receive(&m, "XF-5");
	lease(&m);
	tl_reply(&s, &m);
	verify(21, "REPLIED on a petition");
}

Test(pet_rules, an_answer_before_acceptance)
{
	struct tl_msg m;

	tl_create(&s, NULL);
	tl_begin(&s);
	receive(&m, "XF-6");
	lease(&m);
	answer(&m, "answer");
	verify(21, "PETITION_ANSWERED when the petition is not in handling");
}

/* Counted as working days, the 60 days would be due later: a deadline
 * failure. */
Test(pet_rules, a_due_counted_in_working_days)
{
	struct tl_msg m;

	tl_create(&s, NULL);
	tl_begin(&s);
	receive(&m, "XF-7");
	s.now += DAY;
	m.ack.stopped = 1;
	m.reply.started_ms = s.now;
	tl_compute(&s, &m.reply);
	m.reply.due_ms = m.reply.computed_due_ms =
	    cal_end_of_day_ms(cal_add_working_days(s.cal, pb_day_of_ms(s.now), 60, NULL));
	Mailroom__AuditRecord x;
	rec(&m, &x, EV(PETITION_ACCEPTED), HANDLER);
	x.clock = &m.reply;
	tl_append(&s, &x);
	verify(22, "the calendars give");
}

Test(pet_rules, a_petition_event_on_a_mailbox_message)
{
	struct tl_msg m;
	Mailroom__AuditRecord x;

	tl_create(&s, NULL);
	tl_begin(&s);
	tl_receive(&s, &m, "general", 1, 15);
	tl_rec(&s, &m, &x, EV(PETITION_ACCEPTED), HANDLER);
	x.clock = &m.reply;
	tl_append(&s, &x);
	verify(21, "PETITION_ACCEPTED on a message that is not a petition");
}
