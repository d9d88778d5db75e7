/* The 12345 commands: sign, finish, return and extend-request each send
 * one HotlineReq; the router records the step and queues the event that
 * mailroom-hotline passes on to the platform.
 *  - sign: the kept (or --lease) token when the order is leased; without
 *    one the router signs only while the order waits in its queue.
 *  - finish, return: the lease, like reply; the kept token is dropped.
 *  - extend-request: no lease, like the clock commands. */
#include "wk_cli.h"
#include "pb_err.h"
#include "pb_time.h"
#include "pj.h"

#include <stdio.h>
#include <string.h>

static const char *state_name(int s)
{
	static const char *const names[] = {NULL, "dispatched", "signed", "finished", "returned",
	                                    "revoked"};

	return s > 0 && s < (int)(sizeof(names) / sizeof(names[0])) ? names[s] : NULL;
}

json_t *wk_view(const Mailroom__MessageView *v)
{
	json_t *j = pj_view(v, PJ_HANDLER), *h;
	const char *st = state_name(v->hotline_state);
	char at[40];

	if (!j || !(h = json_object_get(j, "hotline")) || !json_is_object(h))
		return j;
	if ((st && json_object_set_new(h, "state", json_string(st))) ||
	    (v->signed_ms && pb_time_fmt(v->signed_ms, at, sizeof(at), 0) > 0 &&
	     json_object_set_new(h, "signed_at", json_string(at))) ||
	    (v->citizen_reply && *v->citizen_reply &&
	     json_object_set_new(h, "citizen_reply", json_string(v->citizen_reply)))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Sends h for the message in a and prints the answer; drops the kept
 * token when the step ended the lease. */
static int send_hotline(struct wk_ctx *x, struct wk_lease_arg *a, Mailroom__HotlineReq *h,
                        int ends_lease)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__Response *r;
	json_t *j;
	int rc;

	h->id.data = a->id;
	h->id.len = PB_ID_LEN;
	h->lease_token.data = a->toklen ? a->tok : NULL;
	h->lease_token.len = a->toklen;
	req.op_case = MAILROOM__REQUEST__OP_HOTLINE;
	req.hotline = h;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_HOTLINE, &r)))
		return a->toklen ? wk_after_lease_call(a, rc) : rc;
	if (!r->hotline) {
		mailroom__response__free_unpacked(r, NULL);
		return wk_fail(WK_EXIT_OTHER, "bad_response", "router sent no message view");
	}
	j = wk_view(r->hotline);
	mailroom__response__free_unpacked(r, NULL);
	if (ends_lease)
		wk_lease_done(a);
	return wk_emit(j);
}

int wk_cmd_sign(struct wk_ctx *x)
{
	Mailroom__HotlineReq h = MAILROOM__HOTLINE_REQ__INIT;
	struct wk_lease_arg a;
	int rc;

	if ((rc = wk_lease_arg(x, &a, 0)))
		return rc;
	h.action = MAILROOM__HOTLINE_ACTION__HOTLINE_SIGN;
	return send_hotline(x, &a, &h, 0);
}

int wk_cmd_finish(struct wk_ctx *x)
{
	Mailroom__HotlineReq h = MAILROOM__HOTLINE_REQ__INIT;
	struct wk_lease_arg a;
	int rc;

	if (!x->o.text)
		return wk_fail(WK_EXIT_USAGE, "usage", "finish needs --text TEXT");
	if (!*x->o.text)
		return wk_fail(WK_EXIT_INVALID, "invalid_text", "finish text is empty");
	if ((rc = wk_lease_arg(x, &a, 1)))
		return rc;
	h.action = MAILROOM__HOTLINE_ACTION__HOTLINE_FINISH;
	h.text = (char *)x->o.text;
	return send_hotline(x, &a, &h, 1);
}

int wk_cmd_return(struct wk_ctx *x)
{
	Mailroom__HotlineReq h = MAILROOM__HOTLINE_REQ__INIT;
	struct wk_lease_arg a;
	int rc;

	if (!x->o.reason_code || !x->o.text)
		return wk_fail(WK_EXIT_USAGE, "usage", "return needs --reason-code CODE and --text TEXT");
	if (!*x->o.reason_code || !*x->o.text)
		return wk_fail(WK_EXIT_INVALID, "invalid_field", "reason code and text must not be empty");
	if ((rc = wk_lease_arg(x, &a, 1)))
		return rc;
	h.action = MAILROOM__HOTLINE_ACTION__HOTLINE_RETURN;
	h.reason_code = (char *)x->o.reason_code;
	h.text = (char *)x->o.text;
	return send_hotline(x, &a, &h, 1);
}

int wk_cmd_extend_request(struct wk_ctx *x)
{
	Mailroom__HotlineReq h = MAILROOM__HOTLINE_REQ__INIT;
	struct wk_lease_arg a;

	if (!x->o.until || !x->o.text)
		return wk_fail(WK_EXIT_USAGE, "usage", "extend-request needs --until RFC3339 and --text TEXT");
	if (!*x->o.text)
		return wk_fail(WK_EXIT_INVALID, "invalid_text", "extension request text is empty");
	if (pb_time_parse(x->o.until, &h.requested_due_ms) || h.requested_due_ms <= 0)
		return wk_fail(WK_EXIT_INVALID, "invalid_time",
		               "--until takes an RFC 3339 time such as 2025-10-10T18:00:00+08:00, not '%s'",
		               x->o.until);
	if (pb_id_from_text(x->o.args[0], a.id))
		return wk_fail(WK_EXIT_INVALID, "invalid_id", "'%s' is not a message id (26 characters)",
		               x->o.args[0]);
	a.toklen = 0;
	a.from_file = 0;
	h.action = MAILROOM__HOTLINE_ACTION__HOTLINE_EXTENSION_REQUEST;
	h.text = (char *)x->o.text;
	return send_hotline(x, &a, &h, 0);
}
