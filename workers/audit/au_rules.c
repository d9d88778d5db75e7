/* What the records of one message may say, in order (state class).
 *
 *   RECEIVED once, first; ROUTED right after it: the message is queued.
 *   LEASED only while queued, by a handler; LEASE_RENEWED, REPLIED,
 *   RELEASED, TRANSFERRED and RETURNED_TO_DISPATCH only while leased and
 *   by the lease holder;
 *   LEASE_EXPIRED only while leased and by the router. REFERRED (au_disc.c,
 *   au_referred) only while leased, by the lease holder, naming a case of
 *   another channel RECEIVED before it: it closes the message as REPLIED
 *   does. REPEAT_FLAGGED by the router, naming an earlier message of the
 *   same channel; REPEAT_DECIDED once, also after the answer. Nothing after
 *   REPLIED but DUPLICATE. CLOCK_* only between ROUTED and REPLIED, pauses
 *   nesting properly. Escalation steps (DUE_SOON, OVERDUE,
 *   SERIOUSLY_OVERDUE) by the router, in order, once per clock and due
 *   instant, never while paused, never after the clock stopped (the
 *   acknowledgement clock at the first LEASED, both at REPLIED).
 *   Imported records (mailroom-admin import) are by operator:<name>, at
 *   their effective_ms (the router's own records in an import keep
 *   "router"), and stand for a handler; an imported answer needs no
 *   lease. Disclosure applications follow their
 *   own steps, in au_disc.c; merges and assisting queues theirs, in
 *   au_case.c; transferred petitions theirs, in au_pet.c.
 *
 * The deadlines records carry are checked in au_clock.c. Strings are
 * compared by keyed hashes, so each message costs a fixed, small amount
 * of memory. */
#include "au_rules.h"
#include "pb_err.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int au_rules_new(const cal_set *cal, struct au_rules **out)
{
	struct au_rules *r = calloc(1, sizeof(*r));

	if (!r)
		return PB_ENOMEM;
	r->cal = cal;
	if (cal)
		cal_version(cal, r->cal_version);
	crypto_shorthash_keygen(r->hkey);
	*out = r;
	return PB_OK;
}

void au_rules_free(struct au_rules *r)
{
	if (!r)
		return;
	free(r->msgs);
	free(r->slots);
	free(r->cases);
	free(r);
}

void au_rules_skipped(const struct au_rules *r, uint64_t *n, uint64_t *first)
{
	*n = r->skipped;
	*first = r->skipped_first;
}

uint64_t au_hash_bytes(const struct au_rules *R, const void *p, size_t n)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, p, n, R->hkey);
	memcpy(&v, h, sizeof(v));
	return v;
}

uint64_t au_hash_str(const struct au_rules *R, const char *s)
{
	return au_hash_bytes(R, s ? s : "", s ? strlen(s) : 0);
}

/* ---- messages by id ---- */

static size_t slot_of(const struct au_rules *R, const uint8_t id[PB_ID_LEN])
{
	return (size_t)au_hash_bytes(R, id, PB_ID_LEN) & (R->nslots - 1);
}

static int grow(struct au_rules *R)
{
	size_t ns = R->nslots ? R->nslots * 2 : 1024;
	uint32_t *slots;

	if (ns > UINT32_MAX || !(slots = calloc(ns, sizeof(*slots))))
		return PB_ENOMEM;
	free(R->slots);
	R->slots = slots;
	R->nslots = ns;
	for (size_t i = 0; i < R->n; i++) {
		size_t s = slot_of(R, R->msgs[i].id);
		while (R->slots[s])
			s = (s + 1) & (ns - 1);
		R->slots[s] = (uint32_t)i + 1;
	}
	return PB_OK;
}

struct mstate *au_rules_find(struct au_rules *R, const uint8_t id[PB_ID_LEN])
{
	if (!R->nslots)
		return NULL;
	for (size_t s = slot_of(R, id); R->slots[s]; s = (s + 1) & (R->nslots - 1))
		if (memcmp(R->msgs[R->slots[s] - 1].id, id, PB_ID_LEN) == 0)
			return &R->msgs[R->slots[s] - 1];
	return NULL;
}

static struct mstate *find_or_add(struct au_rules *R, const uint8_t id[PB_ID_LEN])
{
	size_t s;

	if ((R->n + 1) * 2 > R->nslots && grow(R))
		return NULL;
	for (s = slot_of(R, id); R->slots[s]; s = (s + 1) & (R->nslots - 1))
		if (memcmp(R->msgs[R->slots[s] - 1].id, id, PB_ID_LEN) == 0)
			return &R->msgs[R->slots[s] - 1];
	if (R->n == R->cap) {
		size_t cap = R->cap ? R->cap * 2 : 256;
		struct mstate *p = realloc(R->msgs, cap * sizeof(*p));
		if (!p)
			return NULL;
		R->msgs = p;
		R->cap = cap;
	}
	struct mstate *m = &R->msgs[R->n];
	memset(m, 0, sizeof(*m));
	memcpy(m->id, id, PB_ID_LEN);
	R->slots[s] = (uint32_t)++R->n;
	return m;
}

/* ---- findings ---- */

static const char *ev_name(int ev, char *buf, size_t len)
{
	return au_enum_name(&mailroom__audit_event__descriptor, ev, "AUDIT_", 0, buf, len);
}

int au_finding(struct au_rules *R, int cls, uint64_t at, const char *fmt, ...)
{
	char idt[PB_ID_TEXT_LEN + 1], text[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (R->m) {
		pb_id_to_text(R->m->id, idt);
		snprintf(R->why, R->wlen, "message %s: %s", idt, text);
	} else {
		snprintf(R->why, R->wlen, "%s", text);
	}
	*R->at = at;
	return cls;
}

int au_state(struct au_rules *R, const char *fmt, ...)
{
	char text[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return au_finding(R, AU_EXIT_STATE, R->r->index, "%s", text);
}

/* ---- the state machine ---- */

int64_t au_when(const Mailroom__AuditRecord *r)
{
	return r->effective_ms ? r->effective_ms : r->time_ms;
}

/* The events after the first series (which ends at REPEAT_DECIDED) that
 * verify knows; any other is an unknown event. A new event adds a row. */
static int later_event(int ev)
{
	static const int known[] = {
		MAILROOM__AUDIT_EVENT__AUDIT_RETURNED_TO_DISPATCH,
		MAILROOM__AUDIT_EVENT__AUDIT_MERGED,
		MAILROOM__AUDIT_EVENT__AUDIT_MERGE_SETTLED,
		MAILROOM__AUDIT_EVENT__AUDIT_UNMERGED,
		MAILROOM__AUDIT_EVENT__AUDIT_ASSIST_REQUESTED,
		MAILROOM__AUDIT_EVENT__AUDIT_OPINION_DELIVERED,
		MAILROOM__AUDIT_EVENT__AUDIT_ASSIST_OVERRIDDEN,
		MAILROOM__AUDIT_EVENT__AUDIT_REFERRED,
		MAILROOM__AUDIT_EVENT__AUDIT_NOTICES_OFF,
		MAILROOM__AUDIT_EVENT__AUDIT_NOTICE_DEAD,
		MAILROOM__AUDIT_EVENT__AUDIT_ATTACHMENT_SCANNED,
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i] == ev)
			return 1;
	return 0;
}

static int is_handler(const char *actor)
{
	return actor && strncmp(actor, "handler:", 8) == 0 && actor[8];
}

int au_as_handler(const struct au_rules *R)
{
	return R->r->imported || is_handler(R->r->actor);
}

int au_as_router(const struct au_rules *R)
{
	return R->r->actor && strcmp(R->r->actor, "router") == 0;
}

int au_by_holder(struct au_rules *R, const char *what)
{
	const struct mstate *m = R->m;
	const Mailroom__AuditRecord *r = R->r;

	if (m->phase != PH_LEASED)
		return au_state(R, "%s while the message is not leased", what);
	if (au_hash_str(R, r->actor) != m->holder_h) {
		char a[80];
		snprintf(a, sizeof(a), "%s", r->actor ? r->actor : "");
		return au_state(R, "%s by %s, who does not hold the lease taken at record %llu", what,
		             a, (unsigned long long)m->leased_at);
	}
	return AU_EXIT_OK;
}

static int clock_kind(struct au_rules *R, int *k)
{
	const Mailroom__Clock *c = R->r->clock;

	if (!c)
		return au_state(R, "carries no clock");
	if (c->kind != ST_CLOCK_ACK && c->kind != ST_CLOCK_REPLY)
		return au_state(R, "names clock kind %u", c->kind);
	*k = c->kind == ST_CLOCK_ACK ? K_ACK : K_REPLY;
	if (*k == K_ACK && R->m->received_ack_due == 0)
		return au_state(R, "changes an acknowledgement clock the message never had");
	if (*k == K_ACK && R->m->acked)
		return au_state(R, "touches the acknowledgement clock after it stopped");
	return AU_EXIT_OK;
}

static int clock_change(struct au_rules *R, int ev)
{
	const Mailroom__Clock *c = R->r->clock;
	struct kclock *kc;
	int k, cls;

	if (R->m->phase != PH_QUEUED && R->m->phase != PH_LEASED)
		return au_state(R, "a clock change before the message was routed");
	if ((cls = clock_kind(R, &k)))
		return cls;
	kc = &R->m->clk[k];
	switch (ev) {
	case MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_PAUSED:
		if (c->pause_depth != kc->depth + 1)
			return au_state(R, "pause depth %u after %u", c->pause_depth, kc->depth);
		break;
	case MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RESUMED:
		if (kc->depth == 0)
			return au_state(R, "resumes a clock that is not paused");
		if (c->pause_depth != kc->depth - 1)
			return au_state(R, "pause depth %u after %u", c->pause_depth, kc->depth);
		break;
	case MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RESTARTED:
		if (c->pause_depth != 0)
			return au_state(R, "a restarted clock still paused");
		break;
	default:
		if (c->pause_depth != kc->depth)
			return au_state(R, "pause depth %u after %u", c->pause_depth, kc->depth);
		break;
	}
	return AU_EXIT_OK;
}

static int escalation(struct au_rules *R, uint32_t step)
{
	static const char *const names[] = {"", "DUE_SOON", "OVERDUE", "SERIOUSLY_OVERDUE"};
	const Mailroom__AuditRecord *r = R->r;
	struct kclock *kc;
	int k, cls;

	if (!au_as_router(R))
		return au_state(R, "%s written by someone other than the router", names[step]);
	if (R->m->phase != PH_QUEUED && R->m->phase != PH_LEASED)
		return au_state(R, "%s before the message was routed", names[step]);
	if ((cls = clock_kind(R, &k)))
		return cls;
	kc = &R->m->clk[k];
	if (r->clock->due_ms != kc->due)
		return au_state(R, "%s for a due instant no record set", names[step]);
	if (kc->depth > 0 || r->clock->pause_depth > 0)
		return au_state(R, "%s while the clock is paused", names[step]);
	if (r->clock->escalation != step)
		return au_state(R, "%s whose clock says step %u", names[step], r->clock->escalation);
	if (step <= kc->steps)
		return au_state(R, "%s a second time for the same %s deadline", names[step],
		             k == K_ACK ? "acknowledgement" : "reply");
	if (step != kc->steps + 1u)
		return au_state(R, "%s before %s", names[step], names[kc->steps + 1]);
	kc->steps = (uint8_t)step;
	return AU_EXIT_OK;
}

static int transition(struct au_rules *R, int ev)
{
	const Mailroom__AuditRecord *r = R->r;
	struct mstate *m = R->m;
	char name[48];
	int cls, handled;

	/* A file's verdict may come at any time after the message arrived,
	 * also once it is closed: one per file the RECEIVED record named. */
	if (ev == MAILROOM__AUDIT_EVENT__AUDIT_ATTACHMENT_SCANNED) {
		if (m->phase == PH_NEW)
			return au_state(R, "ATTACHMENT_SCANNED before the message was RECEIVED");
		if (!au_as_router(R))
			return au_state(R, "ATTACHMENT_SCANNED by someone other than the router");
		if (!r->detail || (strcmp(r->detail, "clean") != 0 && strcmp(r->detail, "infected") != 0))
			return au_state(R, "ATTACHMENT_SCANNED without a verdict of clean or infected");
		if (r->n_attachment_commits != 1 || r->attachment_commits[0].len != 32)
			return au_state(R, "ATTACHMENT_SCANNED without the file's commitment");
		if (m->verdicts >= m->files)
			return au_state(R, "more verdicts than the %u file(s) RECEIVED named", m->files);
		m->verdicts++;
		return AU_EXIT_OK;
	}
	/* Disclosure applications have their own steps (au_disc.c). */
	if (m->phase != PH_NEW && ((cls = au_disc_record(R, ev, &handled)) || handled))
		return cls;
	/* So have transferred petitions (au_pet.c). */
	if (m->phase != PH_NEW && ((cls = au_pet_record(R, ev, &handled)) || handled))
		return cls;
	if (m->phase == PH_NEW && ev != MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED)
		return au_state(R, "%s before the message was RECEIVED", ev_name(ev, name, sizeof(name)));
	if (m->phase == PH_RECEIVED && ev != MAILROOM__AUDIT_EVENT__AUDIT_ROUTED)
		return au_state(R, "%s before ROUTED", ev_name(ev, name, sizeof(name)));
	/* A closed message takes only the platform's word: a re-dispatch, a
	 * revoke or a chase, and the connector's notes about its events. */
	if (m->phase == PH_REPLIED && ev != MAILROOM__AUDIT_EVENT__AUDIT_DUPLICATE &&
	    ev != MAILROOM__AUDIT_EVENT__AUDIT_REDISPATCHED && ev != MAILROOM__AUDIT_EVENT__AUDIT_REVOKED &&
	    ev != MAILROOM__AUDIT_EVENT__AUDIT_URGED && ev != MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_DEAD &&
	    ev != MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_REQUEUED &&
	    ev != MAILROOM__AUDIT_EVENT__AUDIT_NOTICES_OFF && ev != MAILROOM__AUDIT_EVENT__AUDIT_NOTICE_DEAD &&
	    !au_after_answered_ok(ev) &&
	    !(ev == MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_DECIDED && m->d.flagged))
		return au_state(R, "%s after the message was closed at record %llu",
		             ev_name(ev, name, sizeof(name)), (unsigned long long)m->closed_at);
	if (au_after_event(ev))
		return au_after_record(R, ev);
	/* Merges and assisting queues (au_case.c). */
	if ((cls = au_case_record(R, ev, &handled)) || handled)
		return cls;
	switch (ev) {
	case MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED:
		if (m->phase != PH_NEW)
			return au_state(R, "a second RECEIVED (the first is record %llu)",
			             (unsigned long long)m->received_at);
		m->files = r->n_attachment_commits > 255 ? 255 : (uint8_t)r->n_attachment_commits;
		m->phase = PH_RECEIVED;
		m->received_at = r->index;
		m->received_ms = au_when(r);
		m->received_due = r->due_ms;
		m->received_ack_due = r->ack_due_ms;
		m->clk[K_REPLY].due = r->due_ms;
		m->clk[K_ACK].due = r->ack_due_ms;
		m->queue_h = au_hash_str(R, r->queue);
		m->cal_ok = R->cal && r->cal_version.len == CAL_VERSION_LEN &&
		            memcmp(r->cal_version.data, R->cal_version, CAL_VERSION_LEN) == 0;
		m->hotline = r->channel == MAILROOM__CHANNEL__CHANNEL_HOTLINE;
		m->imported = r->imported;
		m->channel = (uint8_t)r->channel;
		m->pet_ch = r->channel == MAILROOM__CHANNEL__CHANNEL_PETITION;
		au_pet_received(R);
		return au_disc_received(R);
	case MAILROOM__AUDIT_EVENT__AUDIT_REDISPATCHED:
		/* The same message, received again with new clocks; ROUTED follows. */
		if (m->phase != PH_REPLIED || !m->hotline)
			return au_state(R, "REDISPATCHED while the order is still open");
		m->phase = PH_RECEIVED;
		m->received_at = r->index;
		m->received_ms = r->time_ms;
		m->received_due = r->due_ms;
		m->received_ack_due = r->ack_due_ms;
		memset(m->clk, 0, sizeof(m->clk));
		m->clk[K_REPLY].due = r->due_ms;
		m->clk[K_ACK].due = r->ack_due_ms;
		m->acked = 0;
		m->cal_ok = R->cal && r->cal_version.len == CAL_VERSION_LEN &&
		            memcmp(r->cal_version.data, R->cal_version, CAL_VERSION_LEN) == 0;
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_REVOKED:
		if (!m->hotline)
			return au_state(R, "REVOKED for a message that is not a 12345 order");
		if (m->phase != PH_REPLIED)
			m->closed_at = r->index;
		m->phase = PH_REPLIED;
		m->acked = 1;
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_URGED:
	case MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_DEAD:
	case MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_REQUEUED:
		if (!m->hotline)
			return au_state(R, "%s for a message that is not a 12345 order",
			             ev_name(ev, name, sizeof(name)));
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_NOTICES_OFF:
	case MAILROOM__AUDIT_EVENT__AUDIT_NOTICE_DEAD:
		/* Notices to the citizen (router/rt_notice.c): about telling,
		 * not about the message's handling; any time after routing. */
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_SIGNED:
		if (!m->hotline || (m->phase != PH_QUEUED && m->phase != PH_LEASED))
			return au_state(R, "SIGNED when the order is not open for signing");
		if (!au_as_handler(R))
			return au_state(R, "SIGNED by someone other than a handler");
		m->acked = 1;
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_EXTENSION_REQUESTED:
		if (!m->hotline || (m->phase != PH_QUEUED && m->phase != PH_LEASED))
			return au_state(R, "EXTENSION_REQUESTED when the order is not open");
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_CITIZEN_REPLIED:
		if (!m->hotline)
			return au_state(R, "CITIZEN_REPLIED for a message that is not a 12345 order");
		return au_by_holder(R, "CITIZEN_REPLIED");
	case MAILROOM__AUDIT_EVENT__AUDIT_RETURNED:
		if (!m->hotline)
			return au_state(R, "RETURNED for a message that is not a 12345 order");
		if ((cls = au_by_holder(R, "RETURNED")))
			return cls;
		m->phase = PH_REPLIED;
		m->closed_at = r->index;
		m->acked = 1;
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_ROUTED:
		if (m->phase != PH_RECEIVED)
			return au_state(R, "ROUTED again");
		if (!au_as_router(R))
			return au_state(R, "ROUTED by someone other than the router");
		m->phase = PH_QUEUED;
		m->queue_h = au_hash_str(R, r->queue);
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_LEASED:
		if (m->phase != PH_QUEUED)
			return au_state(R, "LEASED while already leased (record %llu)",
			             (unsigned long long)m->leased_at);
		if (!au_as_handler(R))
			return au_state(R, "LEASED by someone other than a handler");
		if (au_hash_str(R, r->queue) != m->queue_h)
			return au_state(R, "LEASED from a queue the message is not in");
		m->phase = PH_LEASED;
		m->leased_at = r->index;
		m->holder_h = au_hash_str(R, r->actor);
		m->token_h = au_hash_bytes(R, r->lease_token_hash.data, r->lease_token_hash.len);
		/* Taking a message acknowledges it, except a 12345 order (SIGNED
		 * does) and a petition (its acceptance notice or answer does). */
		if (!m->hotline && !m->pet_ch)
			m->acked = 1;
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_LEASE_RENEWED:
		if ((cls = au_by_holder(R, "LEASE_RENEWED")))
			return cls;
		if (au_hash_bytes(R, r->lease_token_hash.data, r->lease_token_hash.len) != m->token_h)
			return au_state(R, "LEASE_RENEWED names another lease token");
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_REPLIED:
		/* The handler's files with it are scanned too. */
		m->files += r->n_attachment_commits > 255u - m->files ? (uint8_t)(255u - m->files)
		                                                       : (uint8_t)r->n_attachment_commits;
		/* An answer brought over by an import was given in the old
		 * system: no lease here. */
		if (r->imported && m->phase != PH_QUEUED && m->phase != PH_LEASED)
			return au_state(R, "an imported REPLIED while the message is not open");
		if (!r->imported && (cls = au_by_holder(R, "REPLIED")))
			return cls;
		if ((cls = au_case_answer(R)))
			return cls;
		m->phase = PH_REPLIED;
		m->closed_at = r->index;
		m->acked = 1;
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_RELEASED:
		if ((cls = au_by_holder(R, "RELEASED")))
			return cls;
		m->phase = PH_QUEUED;
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_TRANSFERRED:
		if ((cls = au_by_holder(R, "TRANSFERRED")))
			return cls;
		if (au_hash_str(R, r->from_queue) != m->queue_h)
			return au_state(R, "TRANSFERRED from a queue the message is not in");
		m->phase = PH_QUEUED;
		m->queue_h = au_hash_str(R, r->queue);
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_RETURNED_TO_DISPATCH:
		/* a transfer to the dispatcher's queue; the clocks run on */
		if ((cls = au_by_holder(R, "RETURNED_TO_DISPATCH")))
			return cls;
		if (au_hash_str(R, r->from_queue) != m->queue_h)
			return au_state(R, "RETURNED_TO_DISPATCH from a queue the message is not in");
		m->phase = PH_QUEUED;
		m->queue_h = au_hash_str(R, r->queue);
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_LEASE_EXPIRED:
		if (m->phase != PH_LEASED)
			return au_state(R, "LEASE_EXPIRED while the message is not leased");
		if (!au_as_router(R))
			return au_state(R, "LEASE_EXPIRED by someone other than the router");
		m->phase = PH_QUEUED;
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_DUPLICATE:
		return AU_EXIT_OK;
	case MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_FLAGGED:
		if (m->hotline)
			return au_state(R, "REPEAT_FLAGGED on a 12345 order");
		return au_repeat_flagged(R);
	case MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_DECIDED:
		return au_repeat_decided(R);
	case MAILROOM__AUDIT_EVENT__AUDIT_REFERRED:
		/* an answer by referral: the lease holder closes it */
		if (m->hotline)
			return au_state(R, "REFERRED on a 12345 order: it goes back to the platform");
		if ((cls = au_by_holder(R, "REFERRED")))
			return cls;
		return au_referred(R);
	case MAILROOM__AUDIT_EVENT__AUDIT_DUE_SOON:
	case MAILROOM__AUDIT_EVENT__AUDIT_OVERDUE:
	case MAILROOM__AUDIT_EVENT__AUDIT_SERIOUSLY_OVERDUE:
		return escalation(R, (uint32_t)(ev - MAILROOM__AUDIT_EVENT__AUDIT_DUE_SOON + 1));
	default:
		return clock_change(R, ev);
	}
}

/* Records written by mailroom-admin import: by an operator, at their
 * original time, about a message the import created. Only they may name
 * an operator. */
static int imported(struct au_rules *R)
{
	const Mailroom__AuditRecord *r = R->r;
	int op = r->actor && strncmp(r->actor, "operator:", 9) == 0;

	if (!r->imported) {
		if (op)
			return au_state(R, "written by %.80s but not marked imported", r->actor);
		return AU_EXIT_OK;
	}
	/* The router's own records in an import keep their actor. */
	if ((!op || !r->actor[9]) && !au_as_router(R))
		return au_state(R, "an imported record whose actor is not operator:<name>");
	if (r->effective_ms <= 0)
		return au_state(R, "an imported record without its original time (effective_ms)");
	if (r->event != MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED && !R->m->imported)
		return au_state(R, "an imported record about a message that was not imported");
	return AU_EXIT_OK;
}

int au_rules_record(struct au_rules *R, const Mailroom__AuditRecord *r, char *why, size_t len,
                    uint64_t *at)
{
	int ev = r->event, first = 0, cls;

	R->r = r;
	R->m = NULL;
	R->why = why;
	R->wlen = len;
	R->at = at;
	if (ev == MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY) {
		if (r->message_id.len)
			return au_state(R, "AUDIT_LOG_KEY about a message");
		if (r->key.len != 32 || !crypto_core_ed25519_is_valid_point(r->key.data))
			return au_state(R, "AUDIT_LOG_KEY without a usable key");
		return AU_EXIT_OK;
	}
	if (ev == MAILROOM__AUDIT_EVENT__AUDIT_HANDLER_ADDED ||
	    ev == MAILROOM__AUDIT_EVENT__AUDIT_HANDLER_REMOVED) {
		/* The handler list changed: a key, never a message or a name. */
		if (r->message_id.len)
			return au_state(R, "a handler change about a message");
		if (r->key.len != 32 || !crypto_core_ed25519_is_valid_point(r->key.data))
			return au_state(R, "a handler change without a usable key");
		return AU_EXIT_OK;
	}
	if (ev == MAILROOM__AUDIT_EVENT__AUDIT_ORDER_REFUSED) {
		/* An order never taken: there is no message to follow. */
		if (r->message_id.len)
			return au_state(R, "ORDER_REFUSED about a stored message");
		return AU_EXIT_OK;
	}
	if (ev <= MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY ||
	    (ev > MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_DECIDED && !later_event(ev) &&
	     !au_pet_event(ev) && !au_after_event(ev)))
		return au_state(R, "unknown event %d", ev);
	if (r->message_id.len != PB_ID_LEN)
		return au_state(R, "names no message");
	if (!(R->m = find_or_add(R, r->message_id.data)))
		return -1;
	if ((cls = imported(R)))
		return cls;
	/* A re-opened message's new reply clock starts at the re-opening. */
	if (r->clock && (r->clock->kind == ST_CLOCK_ACK || r->clock->kind == ST_CLOCK_REPLY) &&
	    ev != MAILROOM__AUDIT_EVENT__AUDIT_REOPENED)
		first = !R->m->clk[r->clock->kind == ST_CLOCK_ACK ? K_ACK : K_REPLY].seen;
	if ((cls = transition(R, ev)))
		return cls;
	return au_deadlines(R, first);
}

int au_rules_finish(struct au_rules *R, char *why, size_t len, uint64_t *at)
{
	R->why = why;
	R->wlen = len;
	R->at = at;
	for (size_t i = 0; i < R->n; i++)
		if (R->msgs[i].phase == PH_RECEIVED) {
			R->m = &R->msgs[i];
			return au_finding(R, AU_EXIT_STATE, R->m->received_at, "RECEIVED but never ROUTED");
		}
	return AU_EXIT_OK;
}
