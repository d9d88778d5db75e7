/* Imports from an office's old system (mailroom-admin import): one message
 * and its history per request, applied through the same intake and steps
 * as live traffic, each at its original time, in one nested transaction,
 * so a refused event refuses the whole message and writes nothing. */
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_PREFIX "import:"

/* The event's refusal, with which event it was. */
static int event_fail(struct rt_result *res, size_t i, const char *type)
{
	char buf[400];
	char *msg;

	snprintf(buf, sizeof(buf), "event %zu (%s): %s", i + 1, type && *type ? type : "?",
	         res->resp.message ? res->resp.message : "refused");
	msg = rt_own(res, strdup(buf), RT_OWN_FREE);
	if (msg)
		res->resp.message = msg;
	return res->resp.code;
}

static int answer(struct rt_core *core, st_txn *t, struct rt_result *res, const uint8_t *id,
                  int duplicate, uint32_t events)
{
	Mailroom__ImportResp *ir = rt_own(res, malloc(sizeof(*ir)), RT_OWN_FREE);
	Mailroom__StoredMessage *m;
	int rc;

	(void)core;
	if (!ir)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	if ((rc = rt_msg_load(t, id, PB_ID_LEN, res, &m)))
		return rc;
	mailroom__import_resp__init(ir);
	ir->id = m->id;
	ir->tracking_code = m->tracking_code;
	ir->duplicate = duplicate;
	ir->events = events;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_IMPORT_MSG;
	res->resp.import_msg = ir;
	return PB_OK;
}

/* A plain message's answer in the old system. */
static int replied(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                   const uint8_t *id, const Mailroom__ImportEvent *e, struct rt_result *res)
{
	Mailroom__StoredMessage *m;
	Mailroom__AuditRecord rec;
	uint8_t chash[ST_HASH_LEN];
	char detail[PB_NAME_MAX + 16];
	int rc;

	if ((rc = rt_msg_load(t, id, PB_ID_LEN, res, &m)))
		return rc;
	if (m->status == MAILROOM__STATUS__STATUS_REPLIED)
		return rt_fail(res, PB_ESTATE, "already_answered", "the message is already answered");
	if (m->disclosure)
		return rt_fail(res, PB_ESTATE, "use_disclosure_steps",
		               "a disclosure application is answered by a decision");
	if (!rt_text_ok(e->text, 1, 10000))
		return rt_fail(res, PB_EINVAL, "invalid_field", "text: 1-10000 characters");
	if (!rt_text_ok(e->by, 0, 50))
		return rt_fail(res, PB_EINVAL, "invalid_field", "by: at most 50 characters");
	if ((rc = rt_answer(t, m, e->text, who->handler->name, e->at_ms)) || (rc = st_msg_put(t, m)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot record the answer");
	st_content_hash(m->text_salt.data, e->text, strlen(e->text), chash);
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_REPLIED;
	rec.content_hash.data = chash;
	rec.content_hash.len = sizeof(chash);
	snprintf(detail, sizeof(detail), "%s%s", e->by && *e->by ? "answered by " : "",
	         e->by ? e->by : "");
	rec.detail = detail;
	if ((rc = rt_audit(core, t, res, &rec, m, "operator", e->at_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	return PB_OK;
}

int rt_op_import(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__ImportReq *r = req->import_msg;
	const Mailroom__SubmitReq *s = r->submit;
	Mailroom__StoredMessage *m;
	char ref[sizeof(REF_PREFIX) + 128], actor[PB_NAME_MAX + 16], kid[PB_ACTOR_ID_TEXT];
	uint8_t id[PB_ID_LEN];
	int64_t last;
	int rc;

	if (!rt_text_ok(r->ref, 1, 128))
		return rt_fail(res, PB_EINVAL, "invalid_field", "ref: 1-128 characters");
	snprintf(ref, sizeof(ref), REF_PREFIX "%s", r->ref);
	if ((rc = st_extref_get(t, ref, id)) == PB_OK)
		return answer(core, t, res, id, 1, 0);
	if (rc != PB_ENOTFOUND)
		return rt_fail(res, rc, pb_err_name(rc), "cannot read the import index");
	if (!s || s->channel < MAILROOM__CHANNEL__CHANNEL_MAILBOX ||
	    s->channel > MAILROOM__CHANNEL__CHANNEL_PETITION)
		return rt_fail(res, PB_EINVAL, "invalid_channel", "channel not accepted");
	if (s->order || (s->access_key_hash.len && s->access_key_hash.len != PB_AKEY_HASH_LEN))
		return rt_fail(res, PB_EINVAL, "invalid_request", "an import carries no order or key");
	if (r->received_ms <= 0 || r->received_ms > now_ms)
		return rt_fail(res, PB_EINVAL, "invalid_field", "received_at: in the past");

	pb_actor_id(who->handler->pubkey, kid);
	snprintf(actor, sizeof(actor), "operator:%s", kid);
	res->import_actor = rt_own(res, strdup(actor), RT_OWN_FREE);
	if (!res->import_actor)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	res->import_now_ms = now_ms;

	if (s->channel == MAILROOM__CHANNEL__CHANNEL_DISCLOSURE)
		rc = rt_disclosure_create(core, t, actor, s, ref, r->received_ms, res, &m);
	else if (!(rc = rt_check_texts(s, res)) &&
	         !(rc = rt_msg_create(core, t, actor, s, ref, r->received_ms, res, &m)))
		rc = rt_repeat_check(core, t, res, m, s->contact, r->received_ms);
	if (rc)
		return rc;
	memcpy(id, m->id.data, PB_ID_LEN);

	last = r->received_ms;
	for (size_t i = 0; i < r->n_events; i++) {
		const Mailroom__ImportEvent *e = r->events[i];
		if (e->at_ms < last || e->at_ms > now_ms) {
			rt_fail(res, PB_EINVAL, "invalid_field",
			        "at: events in order, after the message was received, not in the future");
			return event_fail(res, i, e->type);
		}
		last = e->at_ms;
		if (e->type && strcmp(e->type, "replied") == 0) {
			rc = replied(core, t, who, id, e, res);
		} else if (e->step && s->channel == MAILROOM__CHANNEL__CHANNEL_DISCLOSURE) {
			Mailroom__DisclosureReq step = *e->step;
			step.id.data = id;
			step.id.len = PB_ID_LEN;
			rc = rt_disclosure_step(core, t, who, &step, e->at_ms, res);
		} else {
			rc = rt_fail(res, PB_EINVAL, "invalid_event", "not an event of this channel");
		}
		if (rc)
			return event_fail(res, i, e->type);
	}
	return answer(core, t, res, id, 0, (uint32_t)r->n_events);
}
