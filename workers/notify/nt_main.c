/* mailroom-notify [-c CONFIG] [run | status | deadletters [--requeue SEQ]]
 *  run          sends the pending notices, until SIGINT or SIGTERM.
 *  status       counts: pending, dead letters, sent so far, as JSON.
 *  deadletters  the notices refused for good, contacts masked, as JSON;
 *               --requeue SEQ sends one back to be tried again. */
#include "nt.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int loop(const struct pb_conf *c)
{
	const struct cn_metrics_spec ms = {
		"notify", "[notify]", c->notify_metrics_addr, c->notify_metrics_port,
		c->notify_unhealthy_after_s, c->notify_unhealthy_failures, nt_metrics_render, NULL};
	struct cn_metrics *metrics = NULL;
	int rc;

	cn_health_start();
	if ((rc = cn_metrics_start(&ms, &metrics)))
		return rc;
	rc = nt_run(c);
	cn_metrics_stop(metrics);
	return rc;
}

static int run(const struct pb_conf *c, const char *requeue)
{
	(void)requeue;
	int rc = cn_run(loop, c);
	return rc == PB_OK ? 0 : rc == PB_EINVAL || rc == PB_ENOTFOUND ? CN_EXIT_INVALID : CN_EXIT_OTHER;
}

static int call(struct cn_router *r, Mailroom__Request *req, Mailroom__Response **resp)
{
	int rc = cn_router_call(r, req, NT_ROUTER_TIMEOUT_MS, resp);

	if (rc)
		return cn_fail(CN_EXIT_UNREACHABLE, "unavailable", r->err);
	if ((*resp)->code) {
		int code = (*resp)->code == PB_EFORBIDDEN ? CN_EXIT_INVALID : CN_EXIT_OTHER;
		rc = cn_fail(code, (*resp)->error ? (*resp)->error : "refused",
		             (*resp)->message ? (*resp)->message : "refused");
		mailroom__response__free_unpacked(*resp, NULL);
		return rc;
	}
	return 0;
}

static int status(struct cn_router *r)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__NoticesReq q = MAILROOM__NOTICES_REQ__INIT;
	Mailroom__Response *resp;
	int rc;

	q.limit = 1;
	req.op_case = MAILROOM__REQUEST__OP_NOTICES;
	req.notices = &q;
	if ((rc = call(r, &req, &resp)))
		return rc;
	rc = cn_emit(json_pack("{s:I, s:I, s:I}", "pending", (json_int_t)resp->notices->pending,
	                    "dead_letters", (json_int_t)resp->notices->dead, "sent",
	                    (json_int_t)resp->notices->sent));
	mailroom__response__free_unpacked(resp, NULL);
	return rc;
}

/* "z***@example.cn", "138****0000": the operator recognises, no more. */
static json_t *masked(const char *to)
{
	char buf[300];
	const char *at = strchr(to, '@');
	size_t n = strlen(to);

	if (at)
		snprintf(buf, sizeof(buf), "%.1s***%.250s", to, at);
	else if (n >= 7)
		snprintf(buf, sizeof(buf), "%.3s****%s", to, to + n - 4);
	else
		snprintf(buf, sizeof(buf), "****");
	return json_string(buf);
}

static int deadletters(struct cn_router *r, const char *want)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__NoticesReq q = MAILROOM__NOTICES_REQ__INIT;
	Mailroom__Response *resp;
	json_t *list = json_array();
	uint64_t found = 0;
	int rc;

	q.dead = 1;
	q.limit = 200;
	req.op_case = MAILROOM__REQUEST__OP_NOTICES;
	req.notices = &q;
	for (;;) {
		if ((rc = call(r, &req, &resp))) {
			json_decref(list);
			return rc;
		}
		size_t n = resp->notices->n_entries;
		for (size_t i = 0; i < n; i++) {
			const Mailroom__NoticeEntry *e = resp->notices->entries[i];
			char seq[24];
			snprintf(seq, sizeof(seq), "%llu", (unsigned long long)e->seq);
			if (want && (strcmp(want, seq) == 0 || strcmp(want, e->event_id) == 0))
				found = e->seq;
			json_array_append_new(
			    list, json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:i, s:s, s:o, s:o}", "seq",
			                    (json_int_t)e->seq, "event_id", e->event_id, "kind", e->kind,
			                    "medium", e->medium, "tracking_code", e->tracking_code, "to",
			                    masked(e->to), "attempts", (int)e->attempts, "error", e->error,
			                    "at", cn_time_or_null(e->at_ms), "dead_at", cn_time_or_null(e->dead_ms)));
			q.after_seq = e->seq;
		}
		mailroom__response__free_unpacked(resp, NULL);
		if (n < q.limit)
			break;
	}
	if (!want)
		return cn_emit(json_pack("{s:o}", "dead_letters", list));
	json_decref(list);
	if (!found)
		return cn_fail(CN_EXIT_NOTFOUND, "not_found", "no dead letter with that seq or event_id");
	Mailroom__NoticeAckReq aq = MAILROOM__NOTICE_ACK_REQ__INIT;
	Mailroom__NoticeAck a = MAILROOM__NOTICE_ACK__INIT, *pa = &a;
	a.seq = found;
	a.verdict = MAILROOM__NOTICE_VERDICT__NOTICE_REQUEUE;
	aq.acks = &pa;
	aq.n_acks = 1;
	mailroom__request__init(&req);
	req.op_case = MAILROOM__REQUEST__OP_NOTICE_ACK;
	req.notice_ack = &aq;
	if ((rc = call(r, &req, &resp)))
		return rc;
	int applied = resp->notice_ack && resp->notice_ack->applied == 1;
	mailroom__response__free_unpacked(resp, NULL);
	if (!applied)
		return cn_fail(CN_EXIT_OTHER, "not_requeued", "the router did not requeue it");
	return cn_emit(json_pack("{s:I, s:b}", "requeued", (json_int_t)found, "ok", 1));
}

/* status and deadletters: one router link each. */
static int with_router(const struct pb_conf *c, const char *requeue, int status_only)
{
	struct cn_router r;
	int rc;

	if ((rc = cn_router_open(&r, "notify", c->notify_key_file, c->router_url)))
		return cn_fail(rc == PB_EUNAVAIL ? CN_EXIT_UNREACHABLE : CN_EXIT_INVALID, "unavailable",
		               r.err);
	rc = status_only ? status(&r) : deadletters(&r, requeue);
	cn_router_close(&r);
	return rc;
}

static int status_cmd(const struct pb_conf *c, const char *requeue)
{
	return with_router(c, requeue, 1);
}

static int deadletters_cmd(const struct pb_conf *c, const char *requeue)
{
	return with_router(c, requeue, 0);
}

static const struct cn_cmd cmds[] = {
	{"run", run},
	{"status", status_cmd},
	{"deadletters", deadletters_cmd},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	static const struct cn_prog prog = {
		NT_PROG, "notify",
		"usage: " NT_PROG " [-c CONFIG] [run | status | deadletters [--requeue SEQ]]\n"
		"CONFIG defaults to deploy/mailroom.ini; see workers/notify/README.md.\n",
		cmds, "deadletters"};

	return cn_main(argc, argv, &prog);
}
