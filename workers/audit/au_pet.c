/* The steps of a transferred petition (信访, router/README.md "Petitions"),
 * record by record (state class):
 *
 *   RECEIVED      channel petition, external_ref petition:<number>, with
 *                 an acknowledgement clock: the acceptance notice
 *                 (受理告知). Imported petitions keep the generic rules.
 *   LEASED        does not acknowledge it: the notice does.
 *   PETITION_ACCEPTED  once, before any notice, by a handler (the lease
 *                 holder while leased); the reply clock restarts at it.
 *   PETITION_NOT_ACCEPTED  likewise; closes the petition.
 *   PETITION_EXTENDED  accepted and not answered, once, 1-30 days, by a
 *                 handler.
 *   PETITION_ANSWERED  the lease holder; detail `answer` after the
 *                 acceptance, `review` / `rereview` for a review under way.
 *   PETITION_REVIEW  detail `review` after the answer, `rereview` after the
 *                 review's answer; asked (effective time) within 30 days of
 *                 that answer, by a handler; reopens the petition with a
 *                 reply clock from the request.
 *
 * REPLIED and the generic clock records are refused on petitions, and
 * petition events on anything else. au_clock.c checks the clocks. */
#include "au_rules.h"
#include "pb_time.h"

#include <stdio.h>
#include <string.h>

#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x
#define ASK_WITHIN_DAYS 30
#define MAX_EXTENSION_DAYS 30

enum { PS_RECEIVED = 1, PS_ACCEPTED, PS_NOT_ACCEPTED, PS_ANSWERED, PS_REVIEW, PS_REVIEW_ANSWERED,
       PS_REREVIEW, PS_REREVIEW_ANSWERED };

static int is_pet_event(int ev)
{
	return ev >= EV(PETITION_ACCEPTED) && ev <= EV(PETITION_REVIEW);
}

int au_pet_event(int ev)
{
	return is_pet_event(ev);
}

static int detail_is(const Mailroom__AuditRecord *r, const char *want)
{
	return r->detail && strcmp(r->detail, want) == 0;
}

/* A handler's step, by the lease holder while the petition is leased. */
static int by_handler(struct au_rules *R, const char *what)
{
	if (!au_as_handler(R))
		return au_state(R, "%s by someone other than a handler", what);
	if (R->m->phase == PH_LEASED)
		return au_by_holder(R, what);
	return AU_EXIT_OK;
}

static int reply_clock(struct au_rules *R, const char *what)
{
	const Mailroom__Clock *c = R->r->clock;

	if (!c || c->kind != ST_CLOCK_REPLY || c->calendar_days <= 0)
		return au_state(R, "%s without the petition's reply clock in calendar days", what);
	if (c->pause_depth || c->stopped)
		return au_state(R, "%s leaves the reply clock paused or stopped", what);
	return AU_EXIT_OK;
}

/* The clock starts at the step: acceptance or the review request. */
static int starts_here(struct au_rules *R, const char *what)
{
	const Mailroom__Clock *c = R->r->clock;

	if (c->started_ms != au_when(R->r) || c->extended_days || c->paused_days)
		return au_state(R, "%s: the reply clock does not start afresh at it", what);
	return AU_EXIT_OK;
}

static int open_for_notice(struct au_rules *R, const char *what)
{
	struct mstate *m = R->m;

	if (m->phase != PH_QUEUED && m->phase != PH_LEASED)
		return au_state(R, "%s while the petition is not open", what);
	if (m->pet != PS_RECEIVED)
		return au_state(R, "%s after the acceptance notice was given", what);
	return by_handler(R, what);
}

static int step(struct au_rules *R, int ev)
{
	const Mailroom__AuditRecord *r = R->r;
	struct mstate *m = R->m;
	int cls;

	switch (ev) {
	case EV(REPLIED):
		return au_state(R, "REPLIED on a petition: its answer is PETITION_ANSWERED");
	case EV(CLOCK_PAUSED):
	case EV(CLOCK_RESUMED):
	case EV(CLOCK_EXTENDED):
	case EV(CLOCK_RESTARTED):
		return au_state(R, "a generic clock change on a petition: its clocks move with its steps");
	case EV(PETITION_ACCEPTED):
		if ((cls = open_for_notice(R, "PETITION_ACCEPTED")) ||
		    (cls = reply_clock(R, "PETITION_ACCEPTED")) ||
		    (cls = starts_here(R, "PETITION_ACCEPTED")))
			return cls;
		m->pet = PS_ACCEPTED;
		m->acked = 1;
		return AU_EXIT_OK;
	case EV(PETITION_NOT_ACCEPTED):
		if ((cls = open_for_notice(R, "PETITION_NOT_ACCEPTED")))
			return cls;
		m->pet = PS_NOT_ACCEPTED;
		m->phase = PH_REPLIED;
		m->closed_at = r->index;
		m->acked = 1;
		return AU_EXIT_OK;
	case EV(PETITION_EXTENDED):
		if (m->pet != PS_ACCEPTED || (m->phase != PH_QUEUED && m->phase != PH_LEASED))
			return au_state(R, "PETITION_EXTENDED when the petition is not in handling");
		if (m->pet_ext)
			return au_state(R, "PETITION_EXTENDED a second time");
		if ((cls = by_handler(R, "PETITION_EXTENDED")) ||
		    (cls = reply_clock(R, "PETITION_EXTENDED")))
			return cls;
		if (r->clock->extended_days < 1 || r->clock->extended_days > MAX_EXTENSION_DAYS)
			return au_state(R, "PETITION_EXTENDED by %d days; 1-%d are allowed",
			                r->clock->extended_days, MAX_EXTENSION_DAYS);
		m->pet_ext = 1;
		return AU_EXIT_OK;
	case EV(PETITION_ANSWERED): {
		static const struct {
			uint8_t from, to;
			const char *what;
		} t[] = {{PS_ACCEPTED, PS_ANSWERED, "answer"},
		         {PS_REVIEW, PS_REVIEW_ANSWERED, "review"},
		         {PS_REREVIEW, PS_REREVIEW_ANSWERED, "rereview"}};
		size_t i;
		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
			if (m->pet == t[i].from)
				break;
		if (i == sizeof(t) / sizeof(t[0]))
			return au_state(R, "PETITION_ANSWERED when the petition is not in handling");
		if (!detail_is(r, t[i].what))
			return au_state(R, "PETITION_ANSWERED says '%.20s'; the petition awaits its %s",
			                r->detail ? r->detail : "", t[i].what);
		if ((cls = au_by_holder(R, "PETITION_ANSWERED")))
			return cls;
		m->pet = t[i].to;
		m->pet_answered = au_when(r);
		m->phase = PH_REPLIED;
		m->closed_at = r->index;
		m->acked = 1;
		return AU_EXIT_OK;
	}
	case EV(PETITION_REVIEW): {
		int re = detail_is(r, "rereview");
		if (!re && !detail_is(r, "review"))
			return au_state(R, "PETITION_REVIEW says neither review nor rereview");
		if (m->pet != (re ? PS_REVIEW_ANSWERED : PS_ANSWERED))
			return au_state(R, "PETITION_REVIEW (%s) before the answer it reviews",
			                re ? "rereview" : "review");
		if (au_when(r) < m->pet_answered ||
		    pb_day_of_ms(au_when(r)) > pb_day_of_ms(m->pet_answered) + ASK_WITHIN_DAYS)
			return au_state(R, "PETITION_REVIEW asked more than %d days after the answer",
			                ASK_WITHIN_DAYS);
		if (!au_as_handler(R))
			return au_state(R, "PETITION_REVIEW by someone other than a handler");
		if ((cls = reply_clock(R, "PETITION_REVIEW")) ||
		    (cls = starts_here(R, "PETITION_REVIEW")))
			return cls;
		m->pet = re ? PS_REREVIEW : PS_REVIEW;
		m->phase = PH_QUEUED;
		m->queue_h = au_hash_str(R, r->queue);
		return AU_EXIT_OK;
	}
	default:
		return AU_EXIT_OK;
	}
}

int au_pet_record(struct au_rules *R, int ev, int *handled)
{
	struct mstate *m = R->m;
	char name[48];

	*handled = 0;
	if (!m->pet) {
		*handled = is_pet_event(ev);
		if (!*handled)
			return AU_EXIT_OK;
		au_enum_name(&mailroom__audit_event__descriptor, ev, "AUDIT_", 0, name, sizeof(name));
		return au_state(R, "%s on a message that is not a petition", name);
	}
	if (m->phase == PH_RECEIVED)
		return AU_EXIT_OK;
	if (!is_pet_event(ev) && ev != EV(REPLIED) && ev != EV(CLOCK_PAUSED) &&
	    ev != EV(CLOCK_RESUMED) && ev != EV(CLOCK_EXTENDED) && ev != EV(CLOCK_RESTARTED))
		return AU_EXIT_OK;
	*handled = 1;
	return step(R, ev);
}

/* RECEIVED: a petition pushed by the petition system (its number in
 * external_ref) starts waiting for its acceptance notice. Imported ones
 * keep the generic rules. */
void au_pet_received(struct au_rules *R)
{
	const char *ref = R->r->external_ref;

	if (R->r->channel == MAILROOM__CHANNEL__CHANNEL_PETITION && ref &&
	    strncmp(ref, "petition:", 9) == 0)
		R->m->pet = PS_RECEIVED;
}
