/* Referral, repeats on the plain channels, and one message's detail:
 *   refer ID --to CHANNEL --reason TEXT [--outcome CODE --legal-basis TEXT]
 *   repeat-decide ID confirmed|dismissed
 *   show ID */
#include "wk_cli.h"
#include "pb_conf.h"
#include "pb_err.h"
#include "pj.h"

#include <stdio.h>
#include <string.h>

/* The answer's view, printed; the request's response freed. */
static int emit_view(Mailroom__Response *r, Mailroom__MessageView *v)
{
	json_t *j = v ? wk_view(v) : NULL;

	mailroom__response__free_unpacked(r, NULL);
	if (!v)
		return wk_fail(WK_EXIT_OTHER, "bad_response", "router sent no message view");
	return wk_emit(j);
}

/* 转办: the old case is closed as referred, the new one opened in the
 * other channel with the same access key; the lease is over. */
int wk_cmd_refer(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__ReferReq f = MAILROOM__REFER_REQ__INIT;
	Mailroom__LeaseRef ref = MAILROOM__LEASE_REF__INIT;
	Mailroom__Response *r;
	struct wk_lease_arg a;
	int ch, rc;

	if (!x->o.to || !x->o.reason)
		return wk_fail(WK_EXIT_USAGE, "usage", "refer needs --to CHANNEL and --reason TEXT");
	ch = pb_channel_parse(x->o.to);
	if (ch != PB_CH_MAILBOX && ch != PB_CH_CONSULTATION && ch != PB_CH_COMPLAINT &&
	    ch != PB_CH_DISCLOSURE)
		return wk_fail(WK_EXIT_INVALID, "invalid_channel",
		               "--to takes mailbox, consultation, complaint or disclosure, not '%s'",
		               x->o.to);
	if (!*x->o.reason)
		return wk_fail(WK_EXIT_INVALID, "invalid_reason", "referral reason is empty");
	if ((rc = wk_lease_arg(x, &a, 1)))
		return rc;
	wk_lease_ref(&a, &ref);
	f.lease = &ref;
	f.to = (Mailroom__Channel)ch;
	f.reason = (char *)x->o.reason;
	f.outcome = (char *)(x->o.outcome ? x->o.outcome : "");
	f.legal_basis = (char *)(x->o.legal_basis ? x->o.legal_basis : "");
	req.op_case = MAILROOM__REQUEST__OP_REFER;
	req.refer = &f;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_REFER, &r)))
		return wk_after_lease_call(&a, rc);
	wk_lease_done(&a);
	return emit_view(r, r->refer);
}

int wk_cmd_repeat_decide(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__RepeatDecideReq d = MAILROOM__REPEAT_DECIDE_REQ__INIT;
	Mailroom__Response *r;
	uint8_t id[PB_ID_LEN];
	const char *what = x->o.args[1];
	int rc;

	if (pb_id_from_text(x->o.args[0], id))
		return wk_fail(WK_EXIT_INVALID, "invalid_id", "'%s' is not a message id (26 characters)",
		               x->o.args[0]);
	if (strcmp(what, "confirmed") != 0 && strcmp(what, "dismissed") != 0)
		return wk_fail(WK_EXIT_USAGE, "usage", "repeat-decide ID confirmed|dismissed, not '%s'",
		               what);
	d.id.data = id;
	d.id.len = PB_ID_LEN;
	d.decision = (char *)what;
	req.op_case = MAILROOM__REQUEST__OP_REPEAT_DECIDE;
	req.repeat_decide = &d;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_REPEAT_DECIDE, &r)))
		return rc;
	return emit_view(r, r->repeat_decide);
}

/* One message of this handler's queues, with its contact, an earlier
 * repeat and its referral. */
int wk_cmd_show(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__MessageReq d = MAILROOM__MESSAGE_REQ__INIT;
	Mailroom__Response *r;
	uint8_t id[PB_ID_LEN];
	int rc;

	if (pb_id_from_text(x->o.args[0], id))
		return wk_fail(WK_EXIT_INVALID, "invalid_id", "'%s' is not a message id (26 characters)",
		               x->o.args[0]);
	d.id.data = id;
	d.id.len = PB_ID_LEN;
	req.op_case = MAILROOM__REQUEST__OP_DETAIL;
	req.detail = &d;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_DETAIL, &r)))
		return rc;
	return emit_view(r, r->detail);
}
