/* Merge (并单): several messages about one matter are answered once. The
 * merged-away messages close naming their primary; their citizens see the
 * primary's tracking code and, once it is answered, its answer. The
 * primary's reply deadline becomes the earliest of the group unless the
 * handler keeps it, with a reason. An unmerge, while the primary is open,
 * puts a message back in its own queue with its own clocks.
 *
 * A 12345 order is never merged away: the platform waits for its own
 * finish (docs/hotline-12345.md has no event for "merged"), so it is
 * refused as a secondary. It may be the primary. */
#include "rt_chan.h"
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"

#include <stdlib.h>
#include <string.h>

#define MERGE_MAX 16   /* messages merged in one request */

int rt_ref_load(st_txn *t, const char *ref, struct rt_result *res, Mailroom__StoredMessage **m)
{
	char code[PB_TRACK_TEXT_LEN + 1];
	uint8_t id[PB_ID_LEN];
	int rc;

	*m = NULL;
	if (!ref || !*ref)
		return rt_fail(res, PB_EINVAL, "invalid_id", "a message id or tracking code is required");
	if (pb_id_from_text(ref, id) == 0)
		return rt_msg_load(t, id, sizeof(id), res, m);
	if (pb_track_normalize(ref, code, sizeof(code)))
		return rt_fail(res, PB_EINVAL, "invalid_id", "not a message id nor a tracking code");
	if ((rc = st_track_get(t, code, id)) == PB_ENOTFOUND)
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no such message");
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot read message");
	return rt_msg_load(t, id, sizeof(id), res, m);
}

static int is_open(const Mailroom__StoredMessage *m)
{
	return m->status == MAILROOM__STATUS__STATUS_QUEUED ||
	       m->status == MAILROOM__STATUS__STATUS_LEASED;
}

/* What every message of a merge must be: the handler's to act on, open,
 * and not a disclosure application (those follow their own steps). */
static int check_member(const struct rt_principal *who, const Mailroom__StoredMessage *m,
                        struct rt_result *res)
{
	const struct rt_chan *ch = rt_chan_of(m->channel);
	int rc;

	if (!pb_handler_may(who->handler, m->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden", "this handler may not use that queue");
	if (m->channel == MAILROOM__CHANNEL__CHANNEL_DISCLOSURE)
		return rt_fail(res, PB_ESTATE, "use_disclosure_steps",
		               "disclosure applications are not merged");
	if (ch->closed && (rc = ch->closed(m, res)))
		return rc;
	if (m->merged_into.len)
		return rt_fail(res, PB_ESTATE, "already_merged", "the message is merged into another");
	if (!is_open(m))
		return rt_fail(res, PB_ESTATE, "already_answered", "the message is already answered");
	return PB_OK;
}

/* Takes a secondary off its queue or its lease: only its own holder (or
 * nobody) may have it. */
static int take_off(const struct rt_principal *who, Mailroom__StoredMessage *m, st_txn *t,
                    struct rt_result *res)
{
	int rc;

	if (m->status == MAILROOM__STATUS__STATUS_LEASED) {
		/* An expired lease not yet put back is still its holder's in
		 * the log: wait for LEASE_EXPIRED. */
		if (!m->leased_by || strcmp(m->leased_by, who->handler->name) != 0)
			return rt_fail(res, PB_ESTATE, "leased_by_other",
			               "another handler holds a lease on that message");
		rc = rt_drop_lease(t, m);
	} else {
		struct st_qpos pos = {.prio = m->queue_prio, .due_ms = m->reply_due_ms};
		memcpy(pos.id, m->id.data, PB_ID_LEN);
		rc = st_queue_remove(t, m->queue, &pos);
	}
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot take the message off its queue");
	return PB_OK;
}

static int fail_store(struct rt_result *res, int rc)
{
	return rt_fail(res, rc, pb_err_name(rc), "cannot store the merge");
}

int rt_op_merge(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__MergeReq *x = req->merge;
	Mailroom__StoredMessage *p, *s;
	Mailroom__AuditRecord rec;
	Mailroom__Clock *c;
	char actor[PB_NAME_MAX + 16], **codes;
	int64_t earliest = INT64_MAX, old_due;
	size_t n;
	int rc;

	if (!rt_text_ok(x->reason, 1, 500))
		return rt_fail(res, PB_EINVAL, "invalid_field", "reason: 1-500 characters");
	if (x->n_refs < 1 || x->n_refs > MERGE_MAX)
		return rt_fail(res, PB_EINVAL, "invalid_field", "merge 1-16 messages at once");
	if ((rc = rt_ref_load(t, x->primary, res, &p)) || (rc = check_member(who, p, res)))
		return rc;
	if (!(c = rt_clock_find(p, ST_CLOCK_REPLY)))
		return rt_fail(res, PB_ESTATE, "no_clock", "the primary has no reply clock");
	n = p->n_merged_codes;
	codes = rt_own(res, calloc(n + x->n_refs, sizeof(*codes)), RT_OWN_FREE);
	if (!codes)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	if (n)
		memcpy(codes, p->merged_codes, n * sizeof(*codes));
	rt_actor(who, actor, sizeof(actor));
	for (size_t i = 0; i < x->n_refs; i++) {
		if ((rc = rt_ref_load(t, x->refs[i], res, &s)))
			return rc;
		if (memcmp(s->id.data, p->id.data, PB_ID_LEN) == 0)
			return rt_fail(res, PB_EINVAL, "same_message", "a message cannot merge into itself");
		/* Named twice: the first merge already closed it. */
		if ((rc = check_member(who, s, res)))
			return rc;
		if (s->channel == MAILROOM__CHANNEL__CHANNEL_HOTLINE)
			return rt_fail(res, PB_ESTATE, "hotline_order",
			               "a 12345 order is finished on the platform; it cannot be merged away");
		if (s->n_merged_codes)
			return rt_fail(res, PB_ESTATE, "is_primary",
			               "messages are merged into that one; unmerge them first");
		if (rt_assist_pending(s))
			return rt_fail(res, PB_ESTATE, "assist_pending",
			               "an assisting opinion on that message is still due");
		if ((rc = take_off(who, s, t, res)))
			return rc;
		if (s->reply_due_ms && s->reply_due_ms < earliest)
			earliest = s->reply_due_ms;
		s->status = MAILROOM__STATUS__STATUS_CLOSED;
		s->merged_into = p->id;
		s->merged_into_code = p->tracking_code;
		s->merged_ms = now_ms;
		s->closed_ms = now_ms;
		/* Merging handles it: both clocks stop where they stand; the
		 * reply's due stays its own (workers/README.md, the report rule). */
		if ((rc = rt_clock_stop(t, s, ST_CLOCK_ACK, now_ms)) ||
		    (rc = rt_clock_stop(t, s, ST_CLOCK_REPLY, now_ms)) || (rc = st_msg_put(t, s)))
			return fail_store(res, rc);
		codes[n++] = s->tracking_code;
		mailroom__audit_record__init(&rec);
		rec.event = MAILROOM__AUDIT_EVENT__AUDIT_MERGED;
		rec.related_id = p->id;
		rec.detail = x->reason;
		if ((rc = rt_audit(core, t, res, &rec, s, actor, now_ms, NULL)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	}
	/* The primary: the group's earliest due, unless kept. */
	p->merged_codes = codes;
	p->n_merged_codes = n;
	old_due = c->due_ms;
	if (!x->keep_deadline && earliest < c->due_ms) {
		c->group_due_ms = earliest;
		rt_clock_compute(core, c);
		c->escalation = 0;
	}
	if ((rc = rt_clock_settle(core, t, p, c, old_due)) || (rc = st_msg_put(t, p)))
		return fail_store(res, rc);
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_MERGE_SETTLED;
	rec.deadline_kept = x->keep_deadline;
	rec.detail = x->reason;
	if ((rc = rt_clock_record(core, t, res, p, &rec, c, old_due, actor, now_ms)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	if ((rc = rt_view(core, res, p, 1, &res->resp.merge)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot build the answer");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_MERGE;
	return PB_OK;
}

int rt_op_unmerge(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                  const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__UnmergeReq *x = req->unmerge;
	Mailroom__StoredMessage *m, *p;
	Mailroom__AuditRecord rec;
	char actor[PB_NAME_MAX + 16];
	size_t k = 0;
	int rc;

	if (x->reason && *x->reason && !rt_text_ok(x->reason, 1, 500))
		return rt_fail(res, PB_EINVAL, "invalid_field", "reason: 1-500 characters");
	if ((rc = rt_ref_load(t, x->ref, res, &m)))
		return rc;
	if (!pb_handler_may(who->handler, m->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden", "this handler may not use that queue");
	if (m->merged_into.len != PB_ID_LEN)
		return rt_fail(res, PB_ESTATE, "not_merged", "the message is not merged into another");
	if ((rc = rt_msg_load(t, m->merged_into.data, m->merged_into.len, res, &p)))
		return rc;
	if (!pb_handler_may(who->handler, p->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden",
		               "this handler may not use the primary's queue");
	if (!is_open(p))
		return rt_fail(res, PB_ESTATE, "primary_closed",
		               "the primary is answered or closed: the merge stands");
	/* The primary forgets it, in an array of its own (the unpacked one
	 * is freed as unpack made it); its settled deadline stays as
	 * promised. */
	char **codes = rt_own(res, calloc(p->n_merged_codes + 1, sizeof(*codes)), RT_OWN_FREE);
	if (!codes)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	for (size_t i = 0; i < p->n_merged_codes; i++)
		if (strcmp(p->merged_codes[i], m->tracking_code) != 0)
			codes[k++] = p->merged_codes[i];
	p->merged_codes = codes;
	p->n_merged_codes = k;
	m->merged_into.data = NULL;
	m->merged_into.len = 0;
	m->merged_into_code = (char *)"";
	m->merged_ms = 0;
	m->closed_ms = 0;
	if ((rc = rt_clock_unstop(core, t, m, ST_CLOCK_REPLY)) ||
	    (rc = rt_requeue(t, m, m->queue, 1, res)) || (rc = st_msg_put(t, m)) ||
	    (rc = st_msg_put(t, p)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot store the unmerge");
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_UNMERGED;
	rec.related_id = p->id;
	rec.detail = x->reason;
	if ((rc = rt_audit(core, t, res, &rec, m, rt_actor(who, actor, sizeof(actor)), now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	if ((rc = rt_view(core, res, m, 1, &res->resp.unmerge)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot build the answer");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_UNMERGE;
	return PB_OK;
}

int rt_merge_status(st_txn *t, struct rt_result *res, const Mailroom__StoredMessage *m,
                    Mailroom__MessageView *v)
{
	Mailroom__StoredMessage *p;
	int rc;

	if (m->merged_into.len != PB_ID_LEN)
		return PB_OK;
	if ((rc = rt_msg_load(t, m->merged_into.data, m->merged_into.len, res, &p)))
		return rc;
	if (p->status == MAILROOM__STATUS__STATUS_REPLIED) {
		v->reply_text = p->reply_text;
		v->replied_ms = p->replied_ms;
	}
	return PB_OK;
}
