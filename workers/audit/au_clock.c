/* Deadline arithmetic as the router performs it (deadlines.md sections 1-3
 * and the escalation ladder), and the deadline checks of the verification
 * walk (deadline class).
 *
 * Working-day clocks are due at the end of the day that lies working_days
 * + extended_days + paused_days working days after the start date;
 * calendar-day clocks (petitions) that many calendar days after it; hour
 * clocks hours (plus the paused calendar time) after the start. The
 * platform's due instant, when set and earlier, is the one in force.
 *
 * Every record carries the deadlines in force (due_ms, ack_due_ms); a
 * record with a clock must carry the due instant the calendars give for
 * the clock's inputs, and an escalation step may not come before its
 * time. RECEIVED carries no clock: its due instants are checked against
 * the span the message's first clock record shows. Only records made
 * with the loaded calendar version are recomputed; after CLOCK_RECOMPUTED
 * a message's clocks follow a newer calendar than its records name, so
 * its later records are left out too.
 *
 * A disclosure application's clock moves only with its steps, so each
 * record's clock inputs are checked against the one before: a receipt
 * confirmed or a correction received restarts it from the record's
 * receipt_ms; a pause neither moves the due instant nor changes the
 * inputs, and starts at the event; the end of the last pause adds the
 * working days it lasted; an extension adds extended days only. */
#include "au_rules.h"
#include "pb_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define STEP_DUE_SOON 1
#define STEP_OVERDUE 2
#define SERIOUS_AFTER_WD 5
#define HOUR_MS (3600LL * 1000)

void au_clock_compute(const cal_set *cal, const Mailroom__Clock *c, int64_t *computed,
                      int64_t *due, int *provisional)
{
	int prov = 0;

	if (c->hours > 0) {
		*computed = c->started_ms + (int64_t)c->hours * HOUR_MS + c->paused_ms;
	} else if (c->calendar_days > 0) {
		int32_t d = pb_day_of_ms(c->started_ms) + c->calendar_days + c->extended_days +
		            c->paused_days;
		*computed = cal_end_of_day_ms(d);
	} else {
		int32_t d0 = pb_day_of_ms(c->started_ms);
		int n = c->working_days + c->extended_days + c->paused_days;
		*computed = cal_end_of_day_ms(cal_add_working_days(cal, d0, n, &prov));
	}
	*provisional = prov;
	*due = *computed;
	if (c->platform_due_ms > 0 && c->platform_due_ms < *computed)
		*due = c->platform_due_ms;
	if (c->group_due_ms > 0 && c->group_due_ms < *due)
		*due = c->group_due_ms;
}

/* Due soon when one working day is left (a quarter of the span for hour
 * clocks), overdue at the deadline, seriously overdue five working days
 * after it. */
int64_t au_clock_step_at(const cal_set *cal, const Mailroom__Clock *c, uint32_t step)
{
	int32_t due_day = pb_day_of_ms(c->due_ms);

	if (step == STEP_DUE_SOON) {
		if (c->hours > 0)
			return c->due_ms - (int64_t)c->hours * HOUR_MS / 4;
		if (c->calendar_days > 0)
			return cal_end_of_day_ms(due_day - 1);
		int32_t d = due_day - 1;
		while (d > due_day - 60 && !cal_is_working_day(cal, d, NULL))
			d--;
		return cal_end_of_day_ms(d);
	}
	if (step == STEP_OVERDUE)
		return c->due_ms;
	return cal_end_of_day_ms(cal_add_working_days(cal, due_day, SERIOUS_AFTER_WD, NULL));
}

static void fmt_t(int64_t ms, char *buf, size_t len)
{
	au_fmt_time(ms, buf, len, 1);
}

/* ---- the checks ---- */

static int deadline(struct au_rules *R, uint64_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int deadline(struct au_rules *R, uint64_t at, const char *fmt, ...)
{
	char text[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return au_finding(R, AU_EXIT_DEADLINE, at, "%s", text);
}

static void skip(struct au_rules *R)
{
	if (R->skipped++ == 0)
		R->skipped_first = R->r->index;
}

static int restarts(int ev)
{
	return ev == MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RESTARTED ||
	       ev == MAILROOM__AUDIT_EVENT__AUDIT_RECEIPT_CONFIRMED ||
	       ev == MAILROOM__AUDIT_EVENT__AUDIT_CORRECTION_RECEIVED ||
	       ev == MAILROOM__AUDIT_EVENT__AUDIT_PETITION_ACCEPTED ||
	       ev == MAILROOM__AUDIT_EVENT__AUDIT_PETITION_REVIEW;
}

/* RECEIVED carries due instants but no clock: the first clock record of
 * each kind shows the span the message was given. */
static int received_due(struct au_rules *R, const Mailroom__Clock *c, int k)
{
	Mailroom__Clock c0 = MAILROOM__CLOCK__INIT;
	const struct mstate *m = R->m;
	int64_t computed, due, want = k == K_ACK ? m->received_ack_due : m->received_due;
	char a[40], b[40];
	int prov;

	if (!restarts(R->r->event) && c->started_ms != m->received_ms) {
		fmt_t(c->started_ms, a, sizeof(a));
		fmt_t(m->received_ms, b, sizeof(b));
		return deadline(R, R->r->index, "the clock started %s, the message was received %s",
		                a, b);
	}
	c0.kind = c->kind;
	c0.started_ms = m->received_ms;
	c0.working_days = c->working_days;
	c0.hours = c->hours;
	c0.calendar_days = c->calendar_days;
	c0.platform_due_ms = c->platform_due_ms;
	au_clock_compute(R->cal, &c0, &computed, &due, &prov);
	if (due != want) {
		fmt_t(want, a, sizeof(a));
		fmt_t(due, b, sizeof(b));
		return deadline(R, m->received_at,
		                "RECEIVED gives the %s due %s; the span its clock shows at record "
		                "%llu gives %s",
		                k == K_ACK ? "acknowledgement" : "reply", a,
		                (unsigned long long)R->r->index, b);
	}
	return AU_EXIT_OK;
}

static int recompute(struct au_rules *R, int first)
{
	const Mailroom__AuditRecord *r = R->r;
	const Mailroom__Clock *c = r->clock;
	int k = c->kind == ST_CLOCK_ACK ? K_ACK : K_REPLY;
	int64_t computed, due;
	char a[40], b[40];
	int prov, cls;

	au_clock_compute(R->cal, c, &computed, &due, &prov);
	if (computed != c->computed_due_ms) {
		fmt_t(c->computed_due_ms, a, sizeof(a));
		fmt_t(computed, b, sizeof(b));
		return deadline(R, r->index, "the clock's computed due is %s; the calendars give %s",
		                a, b);
	}
	if (due != c->due_ms) {
		fmt_t(c->due_ms, a, sizeof(a));
		fmt_t(due, b, sizeof(b));
		return deadline(R, r->index, "the clock's due in force is %s; it should be %s", a, b);
	}
	if (prov != (int)c->provisional)
		return deadline(R, r->index, "the clock is %sprovisional; the calendars say %s",
		                c->provisional ? "" : "not ", prov ? "provisional" : "not");
	if (first && R->m->cal_ok && (cls = received_due(R, c, k)))
		return cls;
	if (r->event >= MAILROOM__AUDIT_EVENT__AUDIT_DUE_SOON &&
	    r->event <= MAILROOM__AUDIT_EVENT__AUDIT_SERIOUSLY_OVERDUE) {
		uint32_t step = (uint32_t)(r->event - MAILROOM__AUDIT_EVENT__AUDIT_DUE_SOON + 1);
		int64_t when = au_clock_step_at(R->cal, c, step);
		if (r->time_ms < when) {
			fmt_t(r->time_ms, a, sizeof(a));
			fmt_t(when, b, sizeof(b));
			return deadline(R, r->index, "escalation written %s, before its time %s", a, b);
		}
	}
	return AU_EXIT_OK;
}

/* The due instants a record carries are the ones in force. */
static int carried(struct au_rules *R)
{
	const Mailroom__AuditRecord *r = R->r;
	const struct mstate *m = R->m;
	char a[40], b[40];

	if (r->due_ms != m->clk[K_REPLY].due) {
		fmt_t(r->due_ms, a, sizeof(a));
		fmt_t(m->clk[K_REPLY].due, b, sizeof(b));
		return deadline(R, r->index, "carries reply due %s; the one in force is %s", a, b);
	}
	if (r->ack_due_ms != m->clk[K_ACK].due) {
		fmt_t(r->ack_due_ms, a, sizeof(a));
		fmt_t(m->clk[K_ACK].due, b, sizeof(b));
		return deadline(R, r->index, "carries acknowledgement due %s; the one in force is %s",
		                a, b);
	}
	return AU_EXIT_OK;
}

static int same_input(struct au_rules *R, const char *what, int64_t now, int64_t before)
{
	if (now == before)
		return AU_EXIT_OK;
	return deadline(R, R->r->index, "the clock's %s changed from %lld to %lld", what,
	                (long long)before, (long long)now);
}

/* A disclosure step's change to the clock inputs (kc: as the record
 * before left them; with_cal: working days can be counted). */
static int disc_inputs(struct au_rules *R, const struct kclock *kc, int with_cal)
{
	const Mailroom__AuditRecord *r = R->r;
	const Mailroom__Clock *c = r->clock;
	int ev = r->event, cls;
	int64_t when = au_when(r);
	char a[40], b[40];
	struct kclock was = *kc;

	if (!kc->seen) {
		/* The first clock record: RECEIVED started it plainly. */
		memset(&was, 0, sizeof(was));
		was.due = kc->due;
		was.started = R->m->received_ms;
		was.span = c->working_days;
	}
	if ((cls = same_input(R, "span", c->working_days, was.span)))
		return cls;
	if (restarts(ev)) {
		if (c->started_ms != r->receipt_ms) {
			fmt_t(c->started_ms, a, sizeof(a));
			fmt_t(r->receipt_ms, b, sizeof(b));
			return deadline(R, r->index, "the clock restarted %s; the receipt is %s", a, b);
		}
		return same_input(R, "paused days", c->paused_days, 0);
	}
	if ((cls = same_input(R, "start", c->started_ms, was.started)))
		return cls;
	if (ev != MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_EXTENDED &&
	    (cls = same_input(R, "extended days", c->extended_days, was.extended)))
		return cls;
	if (c->pause_depth > was.depth) {
		/* A pause: the due instant stays; the first one starts the pause. */
		if (c->due_ms != was.due) {
			fmt_t(was.due, a, sizeof(a));
			fmt_t(c->due_ms, b, sizeof(b));
			return deadline(R, r->index, "a pause moved the due instant from %s to %s", a, b);
		}
		if ((cls = same_input(R, "paused days", c->paused_days, was.paused)))
			return cls;
		return same_input(R, "pause start", c->paused_since_ms, was.depth ? was.since : when);
	}
	if (c->pause_depth < was.depth && c->pause_depth == 0) {
		int32_t n;
		if (c->paused_since_ms)
			return deadline(R, r->index, "the clock runs again but keeps a pause start");
		if (!with_cal)
			return AU_EXIT_OK;
		n = cal_working_days_between(R->cal, pb_day_of_ms(was.since), pb_day_of_ms(when), NULL);
		if (c->paused_days != was.paused + n) {
			fmt_t(was.since, a, sizeof(a));
			fmt_t(when, b, sizeof(b));
			return deadline(R, r->index,
			                "the pause from %s to %s adds %d working days; the clock says %d", a,
			                b, n, c->paused_days - was.paused);
		}
		return AU_EXIT_OK;
	}
	if ((cls = same_input(R, "paused days", c->paused_days, was.paused)))
		return cls;
	return same_input(R, "pause start", c->paused_since_ms, was.since);
}

int au_deadlines(struct au_rules *R, int first)
{
	const Mailroom__AuditRecord *r = R->r;
	struct mstate *m = R->m;
	int recomputed = r->event == MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RECOMPUTED;
	int cls, same;

	/* The connector's notes are about an event, not the message's clocks. */
	if (r->event == MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_DEAD ||
	    r->event == MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_REQUEUED ||
	    r->event == MAILROOM__AUDIT_EVENT__AUDIT_NOTICES_OFF ||
	    r->event == MAILROOM__AUDIT_EVENT__AUDIT_NOTICE_DEAD)
		return AU_EXIT_OK;

	same = r->cal_version.len == CAL_VERSION_LEN &&
	       memcmp(r->cal_version.data, R->cal_version, CAL_VERSION_LEN) == 0;
	if (r->clock) {
		const Mailroom__Clock *c = r->clock;
		struct kclock *kc = &m->clk[c->kind == ST_CLOCK_ACK ? K_ACK : K_REPLY];
		if (m->d.phase && !recomputed &&
		    (cls = disc_inputs(R, kc, R->cal && same && !m->recal)))
			return cls;
		/* Only a merge settles a group due (au_case.c). */
		if (c->group_due_ms != kc->group && r->event != MAILROOM__AUDIT_EVENT__AUDIT_MERGE_SETTLED)
			return deadline(R, r->index, "the clock's group due changed outside a merge");
		kc->group = c->group_due_ms;
		if (c->due_ms != kc->due)
			kc->steps = 0;
		kc->due = c->due_ms;
		kc->depth = c->pause_depth;
		kc->seen = 1;
		kc->started = c->started_ms;
		kc->since = c->paused_since_ms;
		kc->span = c->working_days;
		kc->extended = c->extended_days;
		kc->paused = c->paused_days;
	}
	/* CLOCK_RECOMPUTED records are written before the message's summary
	 * follows its clocks. */
	if (!recomputed && (cls = carried(R)))
		return cls;
	if (!R->cal || (!r->clock && r->event != MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED))
		return AU_EXIT_OK;
	if (recomputed)
		m->recal = 1;
	if (!same || m->recal) {
		if (r->clock || r->due_ms)
			skip(R);
		return AU_EXIT_OK;
	}
	return r->clock ? recompute(R, first) : AU_EXIT_OK;
}
