/* Deadline arithmetic as the router performs it (deadlines.md sections 1-3
 * and the escalation ladder), and the deadline checks of the verification
 * walk (deadline class).
 *
 * Working-day clocks are due at the end of the day that lies working_days
 * + extended_days + paused_days working days after the start date; hour
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
 * its later records are left out too. */
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
	} else {
		int32_t d0 = pb_day_of_ms(c->started_ms);
		int n = c->working_days + c->extended_days + c->paused_days;
		*computed = cal_end_of_day_ms(cal_add_working_days(cal, d0, n, &prov));
	}
	*provisional = prov;
	*due = *computed;
	if (c->platform_due_ms > 0 && c->platform_due_ms < *computed)
		*due = c->platform_due_ms;
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

/* RECEIVED carries due instants but no clock: the first clock record of
 * each kind shows the span the message was given. */
static int received_due(struct au_rules *R, const Mailroom__Clock *c, int k)
{
	Mailroom__Clock c0 = MAILROOM__CLOCK__INIT;
	const struct mstate *m = R->m;
	int64_t computed, due, want = k == K_ACK ? m->received_ack_due : m->received_due;
	char a[40], b[40];
	int prov;

	if (R->r->event != MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RESTARTED &&
	    c->started_ms != m->received_ms) {
		fmt_t(c->started_ms, a, sizeof(a));
		fmt_t(m->received_ms, b, sizeof(b));
		return deadline(R, R->r->index, "the clock started %s, the message was received %s",
		                a, b);
	}
	c0.kind = c->kind;
	c0.started_ms = m->received_ms;
	c0.working_days = c->working_days;
	c0.hours = c->hours;
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

int au_deadlines(struct au_rules *R, int first)
{
	const Mailroom__AuditRecord *r = R->r;
	struct mstate *m = R->m;
	int recomputed = r->event == MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RECOMPUTED;
	int cls, same;

	/* The connector's notes are about an event, not the message's clocks. */
	if (r->event == MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_DEAD ||
	    r->event == MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_REQUEUED)
		return AU_EXIT_OK;

	if (r->clock) {
		struct kclock *kc = &m->clk[r->clock->kind == ST_CLOCK_ACK ? K_ACK : K_REPLY];
		if (r->clock->due_ms != kc->due)
			kc->steps = 0;
		kc->due = r->clock->due_ms;
		kc->depth = r->clock->pause_depth;
		kc->seen = 1;
	}
	/* CLOCK_RECOMPUTED records are written before the message's summary
	 * follows its clocks. */
	if (!recomputed && (cls = carried(R)))
		return cls;
	if (!R->cal || (!r->clock && r->event != MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED))
		return AU_EXIT_OK;
	same = r->cal_version.len == CAL_VERSION_LEN &&
	       memcmp(r->cal_version.data, R->cal_version, CAL_VERSION_LEN) == 0;
	if (recomputed)
		m->recal = 1;
	if (!same || m->recal) {
		if (r->clock || r->due_ms)
			skip(R);
		return AU_EXIT_OK;
	}
	return r->clock ? recompute(R, first) : AU_EXIT_OK;
}
