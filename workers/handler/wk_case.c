/* Merge (并单) and lead/assisting queues (主办/协办): merge, unmerge,
 * assist and opinion. No lease is needed; the router checks that the
 * handler may act on every message named. A message is named by its id
 * or its tracking code, which the router resolves. Each prints the view
 * the router answers. */
#include "wk_cli.h"
#include "pb_err.h"
#include "pj.h"

#include <stdlib.h>
#include <string.h>

#define MERGE_MAX 16   /* the router's bound */

/* Sends req, prints the view in the answer's slot want. */
static int send_view(struct wk_ctx *x, Mailroom__Request *req, int want)
{
	Mailroom__Response *r;
	const Mailroom__MessageView *v = NULL;
	json_t *j;
	int rc;

	if ((rc = wk_call(x, req, 0, want, &r)))
		return rc;
	switch (want) {
	case MAILROOM__RESPONSE__RESULT_MERGE:
		v = r->merge;
		break;
	case MAILROOM__RESPONSE__RESULT_UNMERGE:
		v = r->unmerge;
		break;
	case MAILROOM__RESPONSE__RESULT_ASSIST:
		v = r->assist;
		break;
	default:
		v = r->opinion;
		break;
	}
	if (!v) {
		mailroom__response__free_unpacked(r, NULL);
		return wk_fail(WK_EXIT_OTHER, "bad_response", "router sent no message view");
	}
	j = wk_view(v);
	mailroom__response__free_unpacked(r, NULL);
	return wk_emit(j);
}

static int need_reason(struct wk_ctx *x, const char *cmd)
{
	if (!x->o.reason)
		return wk_fail(WK_EXIT_USAGE, "usage", "%s needs --reason TEXT", cmd);
	if (!*x->o.reason)
		return wk_fail(WK_EXIT_INVALID, "invalid_reason", "%s reason is empty", cmd);
	return WK_EXIT_OK;
}

int wk_cmd_merge(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__MergeReq m = MAILROOM__MERGE_REQ__INIT;
	int rc;

	if ((rc = need_reason(x, "merge")))
		return rc;
	if (x->o.nargs - 1 > MERGE_MAX)
		return wk_fail(WK_EXIT_INVALID, "too_many", "merge at most %d messages at once",
		               MERGE_MAX);
	m.primary = x->o.args[0];
	m.refs = x->o.args + 1;
	m.n_refs = (size_t)x->o.nargs - 1;
	m.reason = (char *)x->o.reason;
	m.keep_deadline = (x->o.seen & WK_O_KEEP) != 0;
	req.op_case = MAILROOM__REQUEST__OP_MERGE;
	req.merge = &m;
	return send_view(x, &req, MAILROOM__RESPONSE__RESULT_MERGE);
}

int wk_cmd_unmerge(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__UnmergeReq u = MAILROOM__UNMERGE_REQ__INIT;

	u.ref = x->o.args[0];
	u.reason = (char *)(x->o.reason ? x->o.reason : "");
	req.op_case = MAILROOM__REQUEST__OP_UNMERGE;
	req.unmerge = &u;
	return send_view(x, &req, MAILROOM__RESPONSE__RESULT_UNMERGE);
}

int wk_cmd_assist(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__AssistReq a = MAILROOM__ASSIST_REQ__INIT;
	int rc;

	if (!x->o.queue)
		return wk_fail(WK_EXIT_USAGE, "usage", "assist needs --queue Q");
	if ((rc = need_reason(x, "assist")))
		return rc;
	/* Working days only: the calendar gives the date, never the handler. */
	if (x->o.due_days && (wk_parse_days(x->o.due_days, &a.working_days) || a.working_days > 60))
		return wk_fail(WK_EXIT_INVALID, "invalid_days",
		               "--due-days takes whole working days, 1-60, not '%s'", x->o.due_days);
	a.ref = x->o.args[0];
	a.queue = (char *)x->o.queue;
	a.reason = (char *)x->o.reason;
	req.op_case = MAILROOM__REQUEST__OP_ASSIST;
	req.assist = &a;
	return send_view(x, &req, MAILROOM__RESPONSE__RESULT_ASSIST);
}

int wk_cmd_opinion(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__OpinionReq o = MAILROOM__OPINION_REQ__INIT;

	if (!x->o.text)
		return wk_fail(WK_EXIT_USAGE, "usage", "opinion needs --text TEXT");
	if (!*x->o.text)
		return wk_fail(WK_EXIT_INVALID, "invalid_text", "opinion text is empty");
	o.ref = x->o.args[0];
	o.queue = (char *)(x->o.queue ? x->o.queue : "");
	o.text = (char *)x->o.text;
	req.op_case = MAILROOM__REQUEST__OP_OPINION;
	req.opinion = &o;
	return send_view(x, &req, MAILROOM__RESPONSE__RESULT_OPINION);
}

/* The cases whose opinion this handler's queues owe, due soonest first. */
int wk_cmd_assists(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__AssistListReq l = MAILROOM__ASSIST_LIST_REQ__INIT;
	Mailroom__Response *r;
	json_t *cases, *j;
	int rc;

	req.op_case = MAILROOM__REQUEST__OP_ASSIST_LIST;
	req.assist_list = &l;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_ASSIST_LIST, &r)))
		return rc;
	if (!r->assist_list) {
		mailroom__response__free_unpacked(r, NULL);
		return wk_fail(WK_EXIT_OTHER, "bad_response", "router sent no list");
	}
	if (!(cases = json_array())) {
		mailroom__response__free_unpacked(r, NULL);
		return wk_emit(NULL);
	}
	for (size_t i = 0; i < r->assist_list->n_cases; i++)
		if (json_array_append_new(cases, wk_view(r->assist_list->cases[i]))) {
			json_decref(cases);
			mailroom__response__free_unpacked(r, NULL);
			return wk_emit(NULL);
		}
	j = json_pack("{s:o, s:b}", "cases", cases, "partial", r->assist_list->partial);
	mailroom__response__free_unpacked(r, NULL);
	return wk_emit(j);
}
