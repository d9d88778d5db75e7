/* What the records of merges (并单) and assisting queues (主办/协办) may say
 * (state class; router/rt_merge.c, rt_assist.c):
 *
 *   MERGED       by a handler (the lease holder if the message is leased),
 *                on an open message that is not a 12345 order, not a
 *                disclosure application, not itself a primary, with no
 *                opinion due; related_id an open message that is not
 *                merged away. The message is then merged: nothing but
 *                UNMERGED (or DUPLICATE) may follow, a reply least of all.
 *   MERGE_SETTLED by a handler, on that primary after its MERGED records:
 *                its reply clock's group due is the earliest reply due of
 *                the members and the primary, when earlier than the one in
 *                force, or unchanged when deadline_kept.
 *   UNMERGED     by a handler, on a merged message whose primary is still
 *                open: queued again, in the queue the record names.
 *   ASSIST_REQUESTED by a handler, on an open case, for a queue that is
 *                not the lead's and has no opinion due; party_due_ms is
 *                assist_days working days on the calendar (deadline
 *                class when recomputed).
 *   OPINION_DELIVERED by a handler, for a queue asked whose opinion is
 *                due.
 *   ASSIST_OVERRIDDEN by the lease holder while an opinion is due; only
 *                after it may the lead's REPLIED close the case. */
#include "au_rules.h"
#include "pb_time.h"

#include <stdio.h>
#include <string.h>

#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x

static int is_open(const struct mstate *m)
{
	return m->phase == PH_QUEUED || m->phase == PH_LEASED;
}

static int pending(const struct mstate *m)
{
	int n = 0;

	for (int i = 0; i < m->nassist; i++)
		n += !m->as[i].done;
	return n;
}

static int merged(struct au_rules *R)
{
	const Mailroom__AuditRecord *r = R->r;
	struct mstate *m = R->m, *p;
	int cls;

	if (!au_as_handler(R))
		return au_state(R, "MERGED by someone other than a handler");
	if (m->hotline)
		return au_state(R, "a 12345 order MERGED away");
	if (!is_open(m))
		return au_state(R, "MERGED while the message is not open");
	if (m->phase == PH_LEASED && (cls = au_by_holder(R, "MERGED")))
		return cls;
	if (m->nmerged)
		return au_state(R, "MERGED away while %u messages are merged into it", m->nmerged);
	if (pending(m))
		return au_state(R, "MERGED away while an assisting opinion is due");
	if (r->related_id.len != PB_ID_LEN || memcmp(r->related_id.data, m->id, PB_ID_LEN) == 0)
		return au_state(R, "MERGED without another message as its primary");
	if (!(p = au_rules_find(R, r->related_id.data)) || !is_open(p))
		return au_state(R, "MERGED into a message that is not open");
	if (p->d.phase)
		return au_state(R, "MERGED into a disclosure application");
	m->phase = PH_MERGED;
	m->closed_at = r->index;
	m->primary = (uint32_t)(p - R->msgs) + 1;
	m->acked = 1;   /* merging handles it; the acknowledgement clock stopped */
	p->nmerged++;
	p->merging++;
	if (m->clk[K_REPLY].due && (!p->group_min || m->clk[K_REPLY].due < p->group_min))
		p->group_min = m->clk[K_REPLY].due;
	return AU_EXIT_OK;
}

static int settled(struct au_rules *R)
{
	const Mailroom__AuditRecord *r = R->r;
	const Mailroom__Clock *c = r->clock;
	struct mstate *m = R->m;
	const struct kclock *kc = &m->clk[K_REPLY];
	int64_t want;

	if (!au_as_handler(R))
		return au_state(R, "MERGE_SETTLED by someone other than a handler");
	if (!is_open(m))
		return au_state(R, "MERGE_SETTLED while the primary is not open");
	if (!m->merging)
		return au_state(R, "MERGE_SETTLED with no MERGED record before it");
	if (!c || c->kind != ST_CLOCK_REPLY)
		return au_state(R, "MERGE_SETTLED without the reply clock");
	if (c->pause_depth != kc->depth)
		return au_state(R, "pause depth %u after %u", c->pause_depth, kc->depth);
	want = !r->deadline_kept && m->group_min && m->group_min < kc->due ? m->group_min
	                                                                   : kc->group;
	if (c->group_due_ms != want)
		return au_state(R, "MERGE_SETTLED gives the group due %lld; the members give %lld",
		                (long long)c->group_due_ms, (long long)want);
	m->merging = 0;
	m->group_min = 0;
	return AU_EXIT_OK;
}

static int unmerged(struct au_rules *R)
{
	const Mailroom__AuditRecord *r = R->r;
	struct mstate *m = R->m, *p;

	if (!au_as_handler(R))
		return au_state(R, "UNMERGED by someone other than a handler");
	if (m->phase != PH_MERGED)
		return au_state(R, "UNMERGED while the message is not merged");
	p = &R->msgs[m->primary - 1];
	if (r->related_id.len != PB_ID_LEN || memcmp(r->related_id.data, p->id, PB_ID_LEN) != 0)
		return au_state(R, "UNMERGED from a message it was not merged into");
	if (!is_open(p))
		return au_state(R, "UNMERGED after its primary was closed");
	p->nmerged--;
	m->primary = 0;
	m->phase = PH_QUEUED;
	m->queue_h = au_hash_str(R, r->queue);
	return AU_EXIT_OK;
}

static struct assist *asked(struct au_rules *R, uint64_t q)
{
	for (int i = 0; i < R->m->nassist; i++)
		if (R->m->as[i].queue_h == q && !R->m->as[i].done)
			return &R->m->as[i];
	return NULL;
}

static int assist_requested(struct au_rules *R)
{
	const Mailroom__AuditRecord *r = R->r;
	struct mstate *m = R->m;
	uint64_t q = au_hash_str(R, r->assist_queue);
	struct assist *a;

	if (!au_as_handler(R))
		return au_state(R, "ASSIST_REQUESTED by someone other than a handler");
	if (!is_open(m))
		return au_state(R, "ASSIST_REQUESTED while the case is not open");
	if (!r->assist_queue || !*r->assist_queue || q == m->queue_h)
		return au_state(R, "ASSIST_REQUESTED of no queue or of the lead's own");
	if (asked(R, q))
		return au_state(R, "ASSIST_REQUESTED of a queue whose opinion is already due");
	if (m->nassist >= AU_ASSIST_MAX)
		return au_state(R, "more than %d ASSIST_REQUESTED", AU_ASSIST_MAX);
	if (r->assist_days < 1 || r->assist_days > 60)
		return au_state(R, "ASSIST_REQUESTED for %d working days", r->assist_days);
	/* The opinion's due comes from the calendar, never from a hand. */
	if (R->cal && r->cal_version.len == CAL_VERSION_LEN &&
	    memcmp(r->cal_version.data, R->cal_version, CAL_VERSION_LEN) == 0) {
		int64_t due = cal_end_of_day_ms(
		    cal_add_working_days(R->cal, pb_day_of_ms(au_when(r)), r->assist_days, NULL));
		if (due != r->party_due_ms)
			return au_finding(R, AU_EXIT_DEADLINE, r->index,
			                  "the opinion is due %lld; %d working days give %lld",
			                  (long long)r->party_due_ms, r->assist_days, (long long)due);
	}
	a = &m->as[m->nassist++];
	a->queue_h = q;
	a->due = r->party_due_ms;
	a->done = 0;
	return AU_EXIT_OK;
}

static int opinion(struct au_rules *R)
{
	struct assist *a;

	if (!au_as_handler(R))
		return au_state(R, "OPINION_DELIVERED by someone other than a handler");
	if (!is_open(R->m))
		return au_state(R, "OPINION_DELIVERED while the case is not open");
	if (!(a = asked(R, au_hash_str(R, R->r->assist_queue))))
		return au_state(R, "OPINION_DELIVERED from a queue that was not asked");
	a->done = 1;
	return AU_EXIT_OK;
}

static int overridden(struct au_rules *R)
{
	int cls;

	if ((cls = au_by_holder(R, "ASSIST_OVERRIDDEN")))
		return cls;
	if (!pending(R->m))
		return au_state(R, "ASSIST_OVERRIDDEN with no opinion due");
	R->m->overridden = 1;
	return AU_EXIT_OK;
}

int au_case_answer(struct au_rules *R)
{
	if (pending(R->m) && !R->m->overridden && !R->r->imported)
		return au_state(R, "REPLIED while an assisting opinion is due, with no "
		                   "ASSIST_OVERRIDDEN");
	return AU_EXIT_OK;
}

int au_case_record(struct au_rules *R, int ev, int *handled)
{
	char name[48];

	*handled = 1;
	if (R->m->d.phase && ev >= EV(MERGED) && ev <= EV(ASSIST_OVERRIDDEN))
		return au_state(R, "a merge or assist step on a disclosure application");
	switch (ev) {
	case EV(MERGED):
		return merged(R);
	case EV(MERGE_SETTLED):
		return settled(R);
	case EV(UNMERGED):
		return unmerged(R);
	case EV(ASSIST_REQUESTED):
		return assist_requested(R);
	case EV(OPINION_DELIVERED):
		return opinion(R);
	case EV(ASSIST_OVERRIDDEN):
		return overridden(R);
	default:
		break;
	}
	*handled = 0;
	if (R->m->phase == PH_MERGED && ev != EV(DUPLICATE))
		return au_state(R, "%s on a message merged away at record %llu",
		                au_enum_name(&mailroom__audit_event__descriptor, ev, "AUDIT_", 0, name,
		                             sizeof(name)),
		                (unsigned long long)R->m->closed_at);
	return AU_EXIT_OK;
}
