/* Return to dispatch (退回): the lease holder sends a misrouted message
 * back to the dispatcher's queue ([route] dispatcher, else the channel's
 * default queue) with a reason. Routing starts again there; the clocks
 * run on, so the deadline the citizen was given still holds. The reason
 * is a free text: the log gets its commitment (rt_audit.c). */
#include "rt_ops.h"
#include "pb_err.h"

#include <string.h>

static const char *dispatcher(const struct pb_conf *c, int channel)
{
	if (c->dispatcher_queue[0])
		return c->dispatcher_queue;
	return c->default_queue[channel > 0 && channel < PB_CH_COUNT ? channel : PB_CH_MAILBOX];
}

int rt_op_return_to_dispatch(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                             const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__DispatchReturnReq *x = req->return_to_dispatch;
	Mailroom__StoredMessage *m;
	Mailroom__AuditRecord rec;
	Mailroom__MessageView *v;
	char actor[PB_NAME_MAX + 16];
	const char *to;
	int rc;

	if (!rt_text_ok(x->reason, 1, 500))
		return rt_fail(res, PB_EINVAL, "invalid_field", "reason: 1-500 characters");
	if ((rc = rt_lease_check(t, who, x->lease, now_ms, res, &m)))
		return rc;
	to = dispatcher(core->conf, m->channel);
	if (strcmp(m->queue, to) == 0)
		return rt_fail(res, PB_EINVAL, "already_at_dispatch",
		               "the message is already in the dispatcher's queue");
	char *from = m->queue;
	if ((rc = rt_drop_lease(t, m)) || (rc = rt_requeue(t, m, to, 1, res)) ||
	    (rc = st_msg_put(t, m)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot return the message");
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_RETURNED_TO_DISPATCH;
	rec.from_queue = from;
	rec.queue = (char *)to;
	rec.detail = x->reason;
	if ((rc = rt_audit(core, t, res, &rec, m, rt_actor(who, actor, sizeof(actor)), now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	if ((rc = rt_view(core, res, m, 1, &v)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot build the answer");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_RETURN_TO_DISPATCH;
	res->resp.return_to_dispatch = v;
	return PB_OK;
}
