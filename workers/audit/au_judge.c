/* Judging a message as of an instant (au_judge.h). What ends a clock is
 * what the state machine (au_rules.c, au_disc.c) says closes a message:
 *
 *   answered      REPLIED, a disclosure DECIDED, a 12345 RETURNED, a
 *                 REFERRED (answered by referral to another channel), a
 *                 petition's PETITION_ANSWERED or PETITION_NOT_ACCEPTED;
 *                 the first answer counts (a returned order re-dispatched
 *                 was answered all the same), except that a petition's
 *                 review (PETITION_REVIEW) reopens it: it is then judged
 *                 by the review's clock and answer
 *   acknowledged  LEASED (a 12345 order: SIGNED; a petition:
 *                 PETITION_ACCEPTED), or any answer
 *   withdrawn     a 12345 REVOKED before any answer; a re-dispatch
 *                 reopens it
 *   merged away   (并单) answered when its primary is answered, at that
 *                 instant, against its own due; MERGED acknowledges it,
 *                 UNMERGED makes it a message of its own again
 *
 * The due instant judged is the one in force when the clock ended, or at
 * the instant for an open one. An answer given while the reply clock
 * stood paused (closed waiting for the applicant) is on time: the office's
 * time was not running. An open clock that stands paused is judged at the
 * start of its pause. */
#include "au_judge.h"
#include "pb_err.h"

#include <stdio.h>
#include <string.h>

#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x

void au_judge_init(struct au_judge *j, int64_t as_of)
{
	struct au_judge z = {.as_of = as_of, .msgs = AU_IDTAB_INIT(struct au_jmsg)};

	*j = z;
}

void au_judge_free(struct au_judge *j)
{
	au_idtab_free(&j->msgs);
}

const struct au_jmsg *au_judge_find(const struct au_judge *j, const uint8_t id[PB_ID_LEN])
{
	return au_idtab_find(&j->msgs, id);
}

static int answers(int ev)
{
	return ev == EV(REPLIED) || ev == EV(DECIDED) || ev == EV(RETURNED) || ev == EV(REFERRED) ||
	       ev == EV(PETITION_ANSWERED) || ev == EV(PETITION_NOT_ACCEPTED);
}

/* The due instants a record carries; the connector's notes carry none. */
static void follow(struct au_jmsg *m, const Mailroom__AuditRecord *r)
{
	const Mailroom__Clock *c = r->clock;

	if (r->event == EV(OUTBOX_DEAD) || r->event == EV(OUTBOX_REQUEUED) ||
	    r->event == EV(NOTICES_OFF) || r->event == EV(NOTICE_DEAD))
		return;
	if (!m->reply.met) {
		if (c && c->kind == ST_CLOCK_REPLY) {
			m->reply.due = c->due_ms;
			m->reply.provisional = c->provisional;
			m->reply.paused = c->pause_depth > 0;
			m->reply.paused_since = m->reply.paused ? c->paused_since_ms : 0;
		} else if (r->event != EV(CLOCK_RECOMPUTED)) {
			m->reply.due = r->due_ms;
			m->reply.provisional = r->due_provisional;
		}
		if (r->queue && *r->queue)
			snprintf(m->queue, sizeof(m->queue), "%s", r->queue);
	}
	if (!m->ack.met) {
		if (c && c->kind == ST_CLOCK_ACK)
			m->ack.due = c->due_ms;
		else if (r->event != EV(CLOCK_RECOMPUTED))
			m->ack.due = r->ack_due_ms;
	}
}

/* A letter entered after the instant may have been received, in law,
 * before it (a receipt confirmed up to 30 days back): it counts as
 * received then. */
static int received_by(const struct au_judge *j, const Mailroom__AuditRecord *r)
{
	return (r->event == EV(RECEIVED) || r->event == EV(RECEIPT_CONFIRMED)) &&
	       r->channel == MAILROOM__CHANNEL__CHANNEL_DISCLOSURE && r->receipt_ms > 0 &&
	       r->receipt_ms <= j->as_of;
}

static uint32_t index_of(const struct au_judge *j, const struct au_jmsg *m)
{
	return (uint32_t)(((const uint8_t *)m - j->msgs.v) / j->msgs.stride) + 1;
}

/* MERGED and UNMERGED: m joins or leaves its primary's members. */
static int membership(struct au_judge *j, struct au_jmsg *m, const Mailroom__AuditRecord *r,
                      int64_t t)
{
	struct au_jmsg *p;
	uint32_t *link;

	if (r->event == EV(MERGED)) {
		if (r->related_id.len != PB_ID_LEN || !(p = au_idtab_find(&j->msgs, r->related_id.data)))
			return PB_OK;
		m->primary = index_of(j, p);
		m->next_member = p->members;
		p->members = index_of(j, m);
		if (!m->ack.met)
			m->ack.met = t;
		return PB_OK;
	}
	if (!m->primary)
		return PB_OK;
	p = au_idtab_at(&j->msgs, m->primary - 1);
	for (link = &p->members; *link; link = &((struct au_jmsg *)au_idtab_at(&j->msgs, *link - 1))->next_member)
		if (*link == index_of(j, m)) {
			*link = m->next_member;
			break;
		}
	m->primary = m->next_member = 0;
	return PB_OK;
}

/* The primary's first answer answers its members then. */
static void answer_members(struct au_judge *j, const struct au_jmsg *p, int64_t t)
{
	for (uint32_t i = p->members; i;) {
		struct au_jmsg *s = au_idtab_at(&j->msgs, i - 1);
		if (!s->reply.met)
			s->reply.met = t;
		if (!s->ack.met)
			s->ack.met = t;
		i = s->next_member;
	}
}

int au_judge_record(struct au_judge *j, const Mailroom__AuditRecord *r)
{
	int64_t t = au_when(r);
	struct au_jmsg *m;
	int added, ev = r->event;

	/* Records about no message (the log key) have no clocks; what
	 * happened after the instant is not known then. */
	if (r->message_id.len != PB_ID_LEN || (t > j->as_of && !received_by(j, r)))
		return PB_OK;
	if (!(m = au_idtab_get(&j->msgs, r->message_id.data, &added)))
		return PB_ENOMEM;
	if (!m->received && (ev == EV(RECEIVED) || ev == EV(RECEIPT_CONFIRMED))) {
		m->received = 1;
		m->channel = r->channel;
	}
	if (ev == EV(RECEIVED)) {
		m->receipt = r->channel == MAILROOM__CHANNEL__CHANNEL_DISCLOSURE && r->receipt_ms
		                 ? r->receipt_ms
		                 : t;
	} else if (ev == EV(RECEIPT_CONFIRMED) && r->receipt_ms) {
		m->receipt = r->receipt_ms;
	} else if (ev == EV(REDISPATCHED) && !m->reply.met) {
		/* Back from the platform with new clocks. */
		m->closed = 0;
		m->ack.met = 0;
	} else if (ev == EV(PETITION_REVIEW)) {
		/* A review reopens the petition: judged by the review's clock. */
		m->reply.met = 0;
	}
	follow(m, r);
	if ((ev == EV(MERGED) || ev == EV(UNMERGED)) && membership(j, m, r, t))
		return PB_ENOMEM;
	if (answers(ev) && !m->reply.met) {
		m->reply.met = t;
		if (!m->ack.met)
			m->ack.met = t;
		answer_members(j, m, t);
	}
	if (!m->ack.met &&
	    ((ev == EV(LEASED) && m->channel != MAILROOM__CHANNEL__CHANNEL_HOTLINE &&
	      m->channel != MAILROOM__CHANNEL__CHANNEL_PETITION) ||
	     ev == EV(SIGNED) || ev == EV(PETITION_ACCEPTED)))
		m->ack.met = t;
	if (ev == EV(REVOKED) && !m->reply.met && !m->closed)
		m->closed = t;
	return PB_OK;
}

enum au_jstate au_judge_clock(const struct au_judge *j, const struct au_jmsg *m,
                              const struct au_jclock *c, int64_t *end)
{
	int64_t e;
	enum au_jstate s;

	if (!m->received) {
		e = 0;
		s = AU_J_UNKNOWN;
	} else if (c->met) {
		e = c->met;
		s = !c->due || c->paused || c->met <= c->due ? AU_J_ON_TIME : AU_J_LATE;
	} else if (m->closed) {
		e = m->closed;
		s = AU_J_CLOSED;
	} else {
		e = c->paused && c->paused_since ? c->paused_since : j->as_of;
		s = c->due && e > c->due ? AU_J_OPEN_OVERDUE : AU_J_OPEN;
	}
	if (end)
		*end = e;
	return s;
}

const char *au_judge_name(enum au_jstate s)
{
	static const char *const names[] = {"unknown", "open", "overdue", "on_time", "late",
	                                    "closed"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}
