/* A handler's steps on a 12345 order: sign (签收), finish (办结), return
 * (退单), extension request (延期申请) and the direct reply to the
 * citizen. Each writes its audit record and, in the same transaction, the
 * outbox entry mailroom-hotline delivers to the platform.
 *
 * Who may do what:
 *  - sign: the lease holder with its token, or, while the order waits in
 *    its queue, any handler of that queue (signing needs no reading).
 *  - finish, return, reply: the lease holder with its token.
 *  - extension request: any handler of the queue, like the clock commands.
 * finish, reply and extension request need the order signed first. */
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail_rc(struct rt_result *res, int rc, const char *what)
{
	return rt_fail(res, rc, pb_err_name(rc), what);
}

/* Reason codes are the platform's: short, [A-Za-z0-9_.-]. */
static int valid_reason_code(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

/* Queues the event for the platform. The event id is derived from the
 * message id and the log index of the record of the change, so it is
 * stable across retries and unique per change. */
static int outbox_emit(struct rt_core *core, st_txn *t, const Mailroom__StoredMessage *m,
                       const char *type, const char *handler, const char *text,
                       const char *reason_code, int64_t requested_due_ms, uint64_t log_index,
                       int64_t now_ms)
{
	Mailroom__OutboxEntry e = MAILROOM__OUTBOX_ENTRY__INIT;
	char id[2 * PB_ID_LEN + 1], event_id[2 * PB_ID_LEN + 18];
	int rc;

	if (!m->order || m->id.len != PB_ID_LEN)
		return PB_EINVAL;
	if ((rc = st_outbox_next_seq(t, &e.seq)))
		return rc;
	pb_hex(m->id.data, PB_ID_LEN, id);
	snprintf(event_id, sizeof(event_id), "%s-%016llx", id, (unsigned long long)log_index);
	e.event_id = event_id;
	e.order_no = m->order->order_no;
	e.dispatch_seq = m->order->dispatch_seq;
	e.type = (char *)type;
	e.at_ms = now_ms;
	e.handler_unit = (char *)core->conf->hotline_unit;
	e.handler_name = (char *)handler;
	e.text = (char *)(text ? text : "");
	e.reason_code = (char *)(reason_code ? reason_code : "");
	e.requested_due_ms = requested_due_ms;
	e.message_id = m->id;
	e.log_index = log_index;
	return st_outbox_put(t, 0, &e);
}

/* The record of the change, then its event, in this transaction. */
static int record_and_emit(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                           struct rt_result *res, Mailroom__StoredMessage *m, int event,
                           const char *type, const char *text, const char *reason_code,
                           int64_t requested_due_ms, int64_t now_ms)
{
	Mailroom__AuditRecord rec;
	struct st_receipt rcpt;
	uint8_t chash[ST_HASH_LEN];
	char actor[PB_NAME_MAX + 16], ref[96];
	int rc;

	snprintf(ref, sizeof(ref), "12345:%s#%u", m->order->order_no, m->order->dispatch_seq);
	mailroom__audit_record__init(&rec);
	rec.event = event;
	rec.external_ref = ref;
	rec.detail = (char *)(reason_code && *reason_code ? reason_code : type);
	if (text && *text && m->text_salt.len == ST_SALT_LEN) {
		st_content_hash(m->text_salt.data, text, strlen(text), chash);
		rec.content_hash.data = chash;
		rec.content_hash.len = sizeof(chash);
	}
	if ((rc = rt_audit(core, t, res, &rec, m, rt_actor(who, actor, sizeof(actor)), now_ms, &rcpt)))
		return fail_rc(res, rc, "cannot append to the log");
	if ((rc = outbox_emit(core, t, m, type, who->handler->name, text, reason_code,
	                      requested_due_ms, rcpt.index, now_ms)))
		return fail_rc(res, rc, "cannot queue the event for the platform");
	return PB_OK;
}

static int answer(struct rt_core *core, struct rt_result *res, Mailroom__StoredMessage *m, int which)
{
	Mailroom__MessageView *v;
	int rc = rt_view(core, res, m, 1, &v);

	if (rc)
		return fail_rc(res, rc, "cannot build the answer");
	res->resp.result_case = which;
	if (which == MAILROOM__RESPONSE__RESULT_REPLY)
		res->resp.reply = v;
	else
		res->resp.hotline = v;
	return PB_OK;
}

static int need_signed(const Mailroom__StoredMessage *m, struct rt_result *res)
{
	if (m->hotline_state != MAILROOM__HOTLINE_STATE__HOTLINE_SIGNED)
		return rt_fail(res, PB_ESTATE, "not_signed", "sign the 12345 order first");
	return PB_OK;
}

int rt_hotline_closed(const Mailroom__StoredMessage *m, struct rt_result *res)
{
	if (m->hotline_state == MAILROOM__HOTLINE_STATE__HOTLINE_REVOKED)
		return rt_fail(res, PB_ESTATE, "revoked", "the 12345 platform withdrew this order (撤单)");
	if (m->hotline_state == MAILROOM__HOTLINE_STATE__HOTLINE_RETURNED)
		return rt_fail(res, PB_ESTATE, "returned", "this 12345 order was returned to the platform");
	return PB_OK;
}

int rt_hotline_reply(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                     Mailroom__StoredMessage *m, const char *text, int64_t now_ms,
                     struct rt_result *res)
{
	int rc;

	if ((rc = need_signed(m, res)))
		return rc;
	m->citizen_reply = (char *)text;
	if ((rc = st_msg_put(t, m)))
		return fail_rc(res, rc, "cannot store the reply");
	if ((rc = record_and_emit(core, t, who, res, m, MAILROOM__AUDIT_EVENT__AUDIT_CITIZEN_REPLIED,
	                          "reply", text, NULL, 0, now_ms)))
		return rc;
	return answer(core, res, m, MAILROOM__RESPONSE__RESULT_REPLY);
}

static int do_sign(st_txn *t, const struct rt_principal *who, const Mailroom__HotlineReq *h,
                   Mailroom__StoredMessage *m, int64_t now_ms, struct rt_result *res)
{
	int rc;

	if (m->hotline_state == MAILROOM__HOTLINE_STATE__HOTLINE_SIGNED)
		return rt_fail(res, PB_ESTATE, "already_signed", "this 12345 order is already signed");
	/* Leased: only its holder. Queued: the queue right is enough. */
	if (m->status != MAILROOM__STATUS__STATUS_QUEUED &&
	    (rc = rt_lease_holds(who, m, &h->lease_token, now_ms, res)))
		return rc;
	m->hotline_state = MAILROOM__HOTLINE_STATE__HOTLINE_SIGNED;
	m->signed_ms = now_ms;
	m->signed_by = (char *)who->handler->name;
	if ((rc = rt_clock_stop(t, m, ST_CLOCK_ACK, now_ms)) || (rc = st_msg_put(t, m)))
		return fail_rc(res, rc, "cannot record the signature");
	return PB_OK;
}

static int do_finish(st_txn *t, const struct rt_principal *who, const Mailroom__HotlineReq *h,
                     Mailroom__StoredMessage *m, int64_t now_ms, struct rt_result *res)
{
	int rc;

	if (!rt_text_ok(h->text, 1, 10000))
		return rt_fail(res, PB_EINVAL, "invalid_field", "text: 1-10000 characters");
	if ((rc = rt_lease_holds(who, m, &h->lease_token, now_ms, res)) || (rc = need_signed(m, res)))
		return rc;
	if ((rc = rt_drop_lease(t, m)))
		return fail_rc(res, rc, "cannot end the lease");
	m->status = MAILROOM__STATUS__STATUS_REPLIED;
	m->hotline_state = MAILROOM__HOTLINE_STATE__HOTLINE_FINISHED;
	m->reply_text = h->text;
	m->replied_ms = now_ms;
	m->replied_by = (char *)who->handler->name;
	/* The answer: both clocks stop, as for a reply. */
	if ((rc = rt_clock_stop(t, m, ST_CLOCK_ACK, now_ms)) ||
	    (rc = rt_clock_stop(t, m, ST_CLOCK_REPLY, now_ms)) || (rc = st_msg_put(t, m)))
		return fail_rc(res, rc, "cannot store the answer");
	return PB_OK;
}

static int do_return(st_txn *t, const struct rt_principal *who, const Mailroom__HotlineReq *h,
                     Mailroom__StoredMessage *m, int64_t now_ms, struct rt_result *res)
{
	int rc;

	if (!valid_reason_code(h->reason_code))
		return rt_fail(res, PB_EINVAL, "invalid_field", "reason_code: 1-32 of [A-Za-z0-9_.-]");
	if (!rt_text_ok(h->text, 1, 2000))
		return rt_fail(res, PB_EINVAL, "invalid_field", "text: 1-2000 characters (the legal basis)");
	if ((rc = rt_lease_holds(who, m, &h->lease_token, now_ms, res)))
		return rc;
	if ((rc = rt_drop_lease(t, m)))
		return fail_rc(res, rc, "cannot end the lease");
	m->status = MAILROOM__STATUS__STATUS_CLOSED;
	m->hotline_state = MAILROOM__HOTLINE_STATE__HOTLINE_RETURNED;
	m->closed_ms = now_ms;
	m->close_reason = h->reason_code;
	if ((rc = rt_clock_stop(t, m, ST_CLOCK_ACK, now_ms)) ||
	    (rc = rt_clock_stop(t, m, ST_CLOCK_REPLY, now_ms)) || (rc = st_msg_put(t, m)))
		return fail_rc(res, rc, "cannot store the return");
	return PB_OK;
}

static int do_extension(const Mailroom__HotlineReq *h, const Mailroom__StoredMessage *m,
                        int64_t now_ms, struct rt_result *res)
{
	int rc;

	if (!rt_text_ok(h->text, 1, 2000))
		return rt_fail(res, PB_EINVAL, "invalid_field", "text: 1-2000 characters");
	if (h->requested_due_ms <= now_ms || h->requested_due_ms <= m->reply_due_ms)
		return rt_fail(res, PB_EINVAL, "invalid_field",
		               "requested due: in the future and after the due time in force");
	if ((rc = need_signed(m, res)))
		return rc;
	return PB_OK;
}

int rt_op_hotline(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                  const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__HotlineReq *h = req->hotline;
	Mailroom__StoredMessage *m;
	int rc, event;
	const char *type;

	if ((rc = rt_msg_load(t, h->id.data, h->id.len, res, &m)))
		return rc;
	if (!pb_handler_may(who->handler, m->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden", "this handler may not use that queue");
	if (m->channel != MAILROOM__CHANNEL__CHANNEL_HOTLINE || !m->order)
		return rt_fail(res, PB_ESTATE, "not_hotline", "not a 12345 order");
	if ((rc = rt_hotline_closed(m, res)))
		return rc;
	if (m->status == MAILROOM__STATUS__STATUS_REPLIED || m->status == MAILROOM__STATUS__STATUS_CLOSED)
		return rt_fail(res, PB_ESTATE, "already_finished", "this 12345 order is already finished");
	switch (h->action) {
	case MAILROOM__HOTLINE_ACTION__HOTLINE_SIGN:
		rc = do_sign(t, who, h, m, now_ms, res);
		event = MAILROOM__AUDIT_EVENT__AUDIT_SIGNED;
		type = "sign";
		break;
	case MAILROOM__HOTLINE_ACTION__HOTLINE_FINISH:
		/* Finishing closes a co-handled order as a reply does; no
		 * despite_pending here: finish after the opinions, or reply. */
		if (!(rc = rt_assist_gate(core, t, who, m, NULL, now_ms, res)))
			rc = do_finish(t, who, h, m, now_ms, res);
		/* The answer, as the auditor reads replies. */
		event = MAILROOM__AUDIT_EVENT__AUDIT_REPLIED;
		type = "finish";
		break;
	case MAILROOM__HOTLINE_ACTION__HOTLINE_RETURN:
		rc = do_return(t, who, h, m, now_ms, res);
		event = MAILROOM__AUDIT_EVENT__AUDIT_RETURNED;
		type = "return";
		break;
	case MAILROOM__HOTLINE_ACTION__HOTLINE_EXTENSION_REQUEST:
		rc = do_extension(h, m, now_ms, res);
		event = MAILROOM__AUDIT_EVENT__AUDIT_EXTENSION_REQUESTED;
		type = "extension_request";
		break;
	default:
		return rt_fail(res, PB_EINVAL, "invalid_field", "unknown 12345 action");
	}
	if (rc)
		return rc;
	if ((rc = record_and_emit(core, t, who, res, m, event, type,
	                          h->action == MAILROOM__HOTLINE_ACTION__HOTLINE_SIGN ? NULL : h->text,
	                          h->action == MAILROOM__HOTLINE_ACTION__HOTLINE_RETURN ? h->reason_code : NULL,
	                          h->action == MAILROOM__HOTLINE_ACTION__HOTLINE_EXTENSION_REQUEST ?
	                                  h->requested_due_ms : 0,
	                          now_ms)))
		return rc;
	return answer(core, res, m, MAILROOM__RESPONSE__RESULT_HOTLINE);
}
