/* Disclosure applications as the router writes them (disc.h). */
#include "disc.h"
#include "helpers.h"
#include "pb_id.h"
#include "pb_time.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x
#define OPERATOR "operator:migrate"

int64_t dc_wd_after(const struct tl_store *s, int64_t ms, int n)
{
	int32_t d = cal_add_working_days(s->cal, pb_day_of_ms(ms), n, NULL);

	return pb_day_start_ms(d) + 10 * 3600 * 1000LL;
}

void dc_rec(struct tl_store *s, struct dc_app *a, Mailroom__AuditRecord *r, int event,
            const char *actor)
{
	tl_rec(s, &a->m, r, event, actor);
	r->channel = MAILROOM__CHANNEL__CHANNEL_DISCLOSURE;
	r->ack_due_ms = 0;
	if (a->imported) {
		r->imported = 1;
		r->effective_ms = r->time_ms;
		r->time_ms = DC_IMPORT_MS;
		/* The router's own records keep their actor. */
		if (strcmp(actor, "router") != 0)
			r->actor = OPERATOR;
	}
}

void dc_receive(struct tl_store *s, struct dc_app *a, const char *kind, const char *mode,
                int imported)
{
	Mailroom__AuditRecord r;
	uint8_t hash[32];

	memset(a, 0, sizeof(*a));
	a->imported = imported;
	pb_id_new(s->now, a->m.id);
	snprintf(a->m.queue, sizeof(a->m.queue), "disclosure");
	a->m.received_ms = a->receipt_ms = s->now;
	mailroom__clock__init(&a->m.ack);
	mailroom__clock__init(&a->m.reply);
	a->m.reply.kind = ST_CLOCK_REPLY;
	a->m.reply.started_ms = s->now;
	a->m.reply.working_days = 20;
	tl_compute(s, &a->m.reply);
	randombytes_buf(hash, sizeof(hash));
	dc_rec(s, a, &r, EV(RECEIVED), "gateway");
	r.content_hash.data = hash;
	r.content_hash.len = sizeof(hash);
	r.applicant_kind = (char *)kind;
	r.submission_mode = (char *)mode;
	r.receipt_ms = a->receipt_ms;
	tl_append(s, &r);
	a->m.received_at = r.index;
	s->now -= 1000;   /* ROUTED at the same instant */
	dc_rec(s, a, &r, EV(ROUTED), "router");
	r.detail = "default";
	tl_append(s, &r);
	s->nmsg++;
}

static const char *step_actor(const struct dc_app *a)
{
	return a->m.holder[0] ? a->m.holder : "handler:li";
}

/* A step that moves the clock: the record carries it. */
static void clock_step(struct tl_store *s, struct dc_app *a, int event, int64_t old_due,
                       int64_t party_due, int64_t receipt)
{
	Mailroom__AuditRecord r;
	uint8_t hash[32];

	dc_rec(s, a, &r, event, step_actor(a));
	/* The router commits to the text these steps carry. */
	if (event == EV(CORRECTION_REQUESTED) || event == EV(FEE_NOTICE) ||
	    event == EV(CONSULTATION_STARTED)) {
		randombytes_buf(hash, sizeof(hash));
		r.content_hash.data = hash;
		r.content_hash.len = sizeof(hash);
	}
	r.clock = &a->m.reply;
	r.old_due_ms = old_due;
	r.party_due_ms = party_due;
	r.receipt_ms = receipt;
	r.detail = "fixture";
	if (event == EV(CLOCK_EXTENDED))
		r.approver = "王主任";
	tl_append(s, &r);
}

static void pause(struct tl_store *s, struct dc_app *a)
{
	if (a->m.reply.pause_depth++ == 0)
		a->m.reply.paused_since_ms = s->now;
}

static void unpause(struct tl_store *s, struct dc_app *a)
{
	Mailroom__Clock *c = &a->m.reply;
	int64_t old = c->due_ms;

	if (--c->pause_depth == 0) {
		c->paused_days += cal_working_days_between(s->cal, pb_day_of_ms(c->paused_since_ms),
		                                           pb_day_of_ms(s->now), NULL);
		c->paused_since_ms = 0;
		tl_compute(s, c);
		if (c->due_ms != old)
			c->escalation = 0;
	}
}

static void restart(struct tl_store *s, struct dc_app *a, int64_t at)
{
	Mailroom__Clock *c = &a->m.reply;

	c->started_ms = at;
	c->paused_days = 0;
	c->paused_ms = 0;
	if (c->pause_depth == 0)
		c->paused_since_ms = 0;
	tl_compute(s, c);
	c->escalation = 0;
	a->receipt_ms = at;
}

void dc_confirm(struct tl_store *s, struct dc_app *a, int64_t at)
{
	int64_t old = a->m.reply.due_ms;

	restart(s, a, at);
	clock_step(s, a, EV(RECEIPT_CONFIRMED), old, 0, at);
}

void dc_correction_request(struct tl_store *s, struct dc_app *a, int wd)
{
	int64_t old = a->m.reply.due_ms;

	pause(s, a);
	clock_step(s, a, EV(CORRECTION_REQUESTED), old,
	           cal_end_of_day_ms(cal_add_working_days(s->cal, pb_day_of_ms(s->now), wd, NULL)),
	           0);
}

void dc_correction_received(struct tl_store *s, struct dc_app *a, int64_t at)
{
	int64_t old = a->m.reply.due_ms;

	a->m.reply.pause_depth = 0;
	restart(s, a, at);
	clock_step(s, a, EV(CORRECTION_RECEIVED), old, 0, at);
}

void dc_consult(struct tl_store *s, struct dc_app *a)
{
	int64_t old = a->m.reply.due_ms;

	pause(s, a);
	a->consults++;
	clock_step(s, a, EV(CONSULTATION_STARTED), old,
	           cal_end_of_day_ms(cal_add_working_days(s->cal, pb_day_of_ms(s->now), 15, NULL)),
	           0);
}

void dc_consult_done(struct tl_store *s, struct dc_app *a)
{
	int64_t old = a->m.reply.due_ms;

	unpause(s, a);
	a->consults--;
	clock_step(s, a, EV(CONSULTATION_ENDED), old, 0, 0);
}

void dc_fee(struct tl_store *s, struct dc_app *a, int wd)
{
	int64_t old = a->m.reply.due_ms;

	pause(s, a);
	clock_step(s, a, EV(FEE_NOTICE), old,
	           cal_end_of_day_ms(cal_add_working_days(s->cal, pb_day_of_ms(s->now), wd, NULL)),
	           0);
}

void dc_fee_paid(struct tl_store *s, struct dc_app *a)
{
	int64_t old = a->m.reply.due_ms;

	unpause(s, a);
	clock_step(s, a, EV(FEE_PAID), old, 0, 0);
}

void dc_extend(struct tl_store *s, struct dc_app *a, int days)
{
	int64_t old = a->m.reply.due_ms;

	a->m.reply.extended_days += days;
	a->m.reply.extensions++;
	tl_compute(s, &a->m.reply);
	a->m.reply.escalation = 0;
	clock_step(s, a, EV(CLOCK_EXTENDED), old, 0, 0);
}

void dc_decide(struct tl_store *s, struct dc_app *a, const char *outcome, const char *basis)
{
	Mailroom__AuditRecord r;
	uint8_t hash[32];

	if (!a->imported && !a->m.holder[0])
		tl_lease(s, &a->m, "li");
	randombytes_buf(hash, sizeof(hash));
	dc_rec(s, a, &r, EV(DECIDED), a->m.holder[0] ? a->m.holder : "handler:li");
	r.outcome = (char *)outcome;
	r.legal_basis = (char *)basis;
	r.content_hash.data = hash;
	r.content_hash.len = sizeof(hash);
	/* as the router writes it: the reply clock, stopped */
	a->m.reply.stopped = 1;
	a->m.reply.stopped_ms = s->now;
	r.clock = &a->m.reply;
	tl_append(s, &r);
	a->m.holder[0] = '\0';
}

void dc_deliver(struct tl_store *s, struct dc_app *a)
{
	Mailroom__AuditRecord r;

	dc_rec(s, a, &r, EV(DELIVERED), "handler:li");
	r.detail = "post";
	tl_append(s, &r);
}

void dc_review(struct tl_store *s, struct dc_app *a, const char *kind, const char *case_no,
               int64_t filed, const char *result, int64_t decided)
{
	Mailroom__AuditRecord r;
	Mailroom__ReviewCase c = MAILROOM__REVIEW_CASE__INIT;

	c.kind = (char *)kind;
	c.case_no = (char *)case_no;
	c.filed_ms = filed;
	c.result = (char *)result;
	c.decided_ms = decided;
	dc_rec(s, a, &r, EV(REVIEW_RECORDED), "handler:li");
	r.review = &c;
	tl_append(s, &r);
}

void dc_flag(struct tl_store *s, struct dc_app *a, const struct dc_app *earlier)
{
	Mailroom__AuditRecord r;

	dc_rec(s, a, &r, EV(REPEAT_FLAGGED), "router");
	r.related_id.data = (uint8_t *)earlier->m.id;
	r.related_id.len = sizeof(earlier->m.id);
	r.similarity_permille = 850;
	tl_append(s, &r);
}

void dc_repeat_decide(struct tl_store *s, struct dc_app *a, const char *verdict)
{
	Mailroom__AuditRecord r;

	dc_rec(s, a, &r, EV(REPEAT_DECIDED), "handler:li");
	r.detail = (char *)verdict;
	tl_append(s, &r);
}
