/* The deadline-clock commands (deadlines.md): extend, pause, resume and
 * restart each send one ClockReq and print the message view. No lease is
 * needed; the router checks that the handler may use the message's queue
 * and that the action fits the clock's state. */
#include "wk_cli.h"
#include "pb_err.h"
#include "pb_time.h"
#include "pj.h"

#include <stdio.h>
#include <string.h>

#define EXTEND_MAX_DAYS 366   /* the router's bound; the policy cap is usually lower */

/* Whole working days, 1-366, digits only: "+5" or " 5" are typos here. */
int wk_parse_days(const char *s, int32_t *out)
{
	size_t n = strlen(s);
	int32_t v = 0;

	if (n == 0 || n > 3 || strspn(s, "0123456789") != n)
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	if (v < 1 || v > EXTEND_MAX_DAYS)
		return -1;
	*out = v;
	return 0;
}

/* Checks what every clock command shares (id, reason), sends c and prints
 * the answer. */
static int send_clock(struct wk_ctx *x, Mailroom__ClockReq *c, const char *cmd)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__Response *r;
	uint8_t id[PB_ID_LEN];
	json_t *j;
	int rc;

	if (!x->o.reason)
		return wk_fail(WK_EXIT_USAGE, "usage", "%s needs --reason TEXT", cmd);
	if (!*x->o.reason)
		return wk_fail(WK_EXIT_INVALID, "invalid_reason", "%s reason is empty", cmd);
	if (pb_id_from_text(x->o.args[0], id))
		return wk_fail(WK_EXIT_INVALID, "invalid_id",
		               "'%s' is not a message id (26 characters)", x->o.args[0]);
	c->id.data = id;
	c->id.len = PB_ID_LEN;
	c->reason = (char *)x->o.reason;
	req.op_case = MAILROOM__REQUEST__OP_CLOCK;
	req.clock = c;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_CLOCK, &r)))
		return rc;
	if (!r->clock) {
		mailroom__response__free_unpacked(r, NULL);
		return wk_fail(WK_EXIT_OTHER, "bad_response", "router sent no message view");
	}
	j = pj_view(r->clock, PJ_HANDLER);
	mailroom__response__free_unpacked(r, NULL);
	return wk_emit(j);
}

int wk_cmd_extend(struct wk_ctx *x)
{
	Mailroom__ClockReq c = MAILROOM__CLOCK_REQ__INIT;

	if (!x->o.days || !x->o.approver || !x->o.reason)
		return wk_fail(WK_EXIT_USAGE, "usage",
		               "extend needs --working-days N, --approver NAME and --reason TEXT");
	if (wk_parse_days(x->o.days, &c.working_days))
		return wk_fail(WK_EXIT_INVALID, "invalid_days",
		               "--working-days takes whole working days, 1-%d, not '%s'",
		               EXTEND_MAX_DAYS, x->o.days);
	if (!*x->o.approver)
		return wk_fail(WK_EXIT_INVALID, "invalid_approver", "approver is empty");
	c.action = MAILROOM__CLOCK_ACTION__CLOCK_EXTEND;
	c.approver = (char *)x->o.approver;
	return send_clock(x, &c, "extend");
}

int wk_cmd_pause(struct wk_ctx *x)
{
	Mailroom__ClockReq c = MAILROOM__CLOCK_REQ__INIT;

	c.action = MAILROOM__CLOCK_ACTION__CLOCK_PAUSE;
	return send_clock(x, &c, "pause");
}

int wk_cmd_resume(struct wk_ctx *x)
{
	Mailroom__ClockReq c = MAILROOM__CLOCK_REQ__INIT;

	c.action = MAILROOM__CLOCK_ACTION__CLOCK_RESUME;
	return send_clock(x, &c, "resume");
}

/* A correction (补正) arrived: the reply clock starts again from its
 * receipt, by default now. */
int wk_cmd_restart(struct wk_ctx *x)
{
	Mailroom__ClockReq c = MAILROOM__CLOCK_REQ__INIT;

	if (x->o.received) {
		/* received_ms 0 would silently mean "now": refuse the epoch too. */
		if (pb_time_parse(x->o.received, &c.received_ms) || c.received_ms <= 0)
			return wk_fail(WK_EXIT_INVALID, "invalid_time",
			               "--received-at takes an RFC 3339 time such as "
			               "2025-03-03T09:30:00+08:00, not '%s'",
			               x->o.received);
	}
	c.action = MAILROOM__CLOCK_ACTION__CLOCK_RESTART;
	return send_clock(x, &c, "restart");
}
