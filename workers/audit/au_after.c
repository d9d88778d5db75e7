/* The rules after the answer (workers/README.md, "Ratings"): one rating
 * per answer, from the gateway or the 12345 connector; a call-back only
 * after a bad rating, and its outcome once; a re-opening only by the
 * call-back, back to an open message with a new reply clock; publishing
 * and withdrawing by handlers, only of answered messages; the veto line's
 * alerts by the router, while the message is unanswered, once per level. */
#include "au_rules.h"

#include <string.h>

#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x

int au_after_event(int ev)
{
	return ev >= EV(RATED) && ev <= EV(RATING_INVITED);
}

int au_after_answered_ok(int ev)
{
	return au_after_event(ev) && ev != EV(VETO_ALERT);
}

static int by_gateway(const struct au_rules *R)
{
	const char *a = R->r->actor;

	return a && (strcmp(a, "gateway") == 0 || strcmp(a, "hotline") == 0);
}

int au_after_record(struct au_rules *R, int ev)
{
	const Mailroom__AuditRecord *r = R->r;
	struct mstate *m = R->m;
	int answered = m->phase == PH_REPLIED;

	switch (ev) {
	case EV(RATED):
		if (!by_gateway(R))
			return au_state(R, "RATED by someone other than the gateway or the connector");
		if (!answered || m->rated)
			return au_state(R, "RATED %s", m->rated ? "a second time" : "before the answer");
		if (r->rating < 1 || r->rating > 5)
			return au_state(R, "RATED with level %u, not 1-5", r->rating);
		m->rated = (uint8_t)r->rating;
		return AU_EXIT_OK;
	case EV(CALLBACK_OPENED):
		if (!au_as_router(R))
			return au_state(R, "CALLBACK_OPENED by someone other than the router");
		if (m->rated < 4 || m->callback_open)
			return au_state(R, "CALLBACK_OPENED without a bad rating, or a second time");
		m->callback_open = 1;
		return AU_EXIT_OK;
	case EV(CALLBACK_DONE):
		if (!au_as_handler(R))
			return au_state(R, "CALLBACK_DONE by someone other than a handler");
		if (m->callback_open != 1)
			return au_state(R, "CALLBACK_DONE with no call-back open");
		m->callback_open = r->callback_outcome && strstr(r->callback_outcome, "reopen=yes") ? 2 : 3;
		return AU_EXIT_OK;
	case EV(REOPENED):
		if (!au_as_handler(R))
			return au_state(R, "REOPENED by someone other than a handler");
		if (!answered || m->callback_open != 2 || !r->clock || r->clock->kind != ST_CLOCK_REPLY)
			return au_state(R, "REOPENED without a call-back that asked for it");
		m->callback_open = 3;
		m->phase = PH_QUEUED;
		return AU_EXIT_OK;
	case EV(PUBLISHED):
		if (!au_as_handler(R))
			return au_state(R, "PUBLISHED by someone other than a handler");
		if (!answered || r->content_hash.len == 0)
			return au_state(R, "PUBLISHED before the answer, or without its texts' hash");
		m->published = 1;
		return AU_EXIT_OK;
	case EV(UNPUBLISHED):
		if (!au_as_handler(R))
			return au_state(R, "UNPUBLISHED by someone other than a handler");
		if (!m->published)
			return au_state(R, "UNPUBLISHED what is not published");
		m->published = 0;
		return AU_EXIT_OK;
	case EV(RATING_INVITED):
		if (!au_as_router(R) || !answered || m->invited || m->rated)
			return au_state(R, "RATING_INVITED not by the router, or not for one unrated answer");
		m->invited = 1;
		return AU_EXIT_OK;
	case EV(VETO_ALERT): {
		int level = m->veto + 1;   /* the detail says the days, as configured */
		if (!au_as_router(R))
			return au_state(R, "VETO_ALERT by someone other than the router");
		if (m->phase != PH_QUEUED && m->phase != PH_LEASED)
			return au_state(R, "VETO_ALERT for a message that is not open");
		if (level > 2)
			return au_state(R, "a third VETO_ALERT");
		m->veto = (uint8_t)level;
		return AU_EXIT_OK;
	}
	default:
		return au_state(R, "unknown event %d", ev);
	}
}
