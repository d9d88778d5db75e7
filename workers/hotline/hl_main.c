/* mailroom-hotline [-c CONFIG] [run | status | deadletters [--requeue ID]]
 *  run          the connector: the puller (unless [hotline] pull = 0) and
 *               the deliverer, until SIGINT or SIGTERM.
 *  status       the stored cursor and the outbox counts, as JSON.
 *  deadletters  the events the platform refused for good, as JSON;
 *               --requeue ID (the seq or the event_id) sends one back. */
#include "hl.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int loops(const struct pb_conf *c)
{
	struct hl_ctx x = {c};
	const struct cn_metrics_spec ms = {
		"hotline", "[hotline]", c->hotline_metrics_addr, c->hotline_metrics_port,
		c->hotline_unhealthy_after_s, c->hotline_unhealthy_failures, hl_metrics_render, NULL};
	struct cn_metrics *metrics = NULL;
	pthread_t puller, deliverer;
	int pulling = c->hotline_pull;

	cn_health_start();
	if (cn_metrics_start(&ms, &metrics))
		return CN_EXIT_INVALID;
	if ((pulling && pthread_create(&puller, NULL, hl_pull_main, &x) != 0) ||
	    pthread_create(&deliverer, NULL, hl_deliver_main, &x) != 0) {
		fprintf(stderr, HL_PROG ": cannot start threads\n");
		cn_metrics_stop(metrics);
		return CN_EXIT_OTHER;   /* the process ends, whatever started */
	}
	pb_info("connector for %s started (%s, delivering results)", c->hotline_platform_url,
	        pulling ? "pulling orders" : "push only");
	if (pulling)
		pthread_join(puller, NULL);
	pthread_join(deliverer, NULL);
	cn_metrics_stop(metrics);
	return 0;
}

static int run(const struct pb_conf *c, const char *requeue)
{
	char err[PB_PATH_MAX + 256];
	struct hl_http probe;
	int rc;

	(void)requeue;
	/* Fail at once on a bad [hotline] section rather than in a loop. */
	if (hl_http_init(&probe, c, err, sizeof(err))) {
		fprintf(stderr, HL_PROG ": %s\n", err);
		return CN_EXIT_INVALID;
	}
	hl_http_fini(&probe);
	rc = cn_run(loops, c);
	return rc < 0 ? CN_EXIT_OTHER : rc;
}

static int status(const struct pb_conf *c)
{
	struct cn_router r;
	char cursor[1100];
	uint64_t pending = 0, dead = 0;
	int rc;

	if ((rc = hl_router_open(&r, c)))
		return cn_fail(CN_EXIT_UNREACHABLE, "unavailable", r.err);
	rc = hl_router_status(&r, cursor, sizeof(cursor), &pending, &dead);
	if (rc) {
		char msg[PB_PATH_MAX + 300];
		snprintf(msg, sizeof(msg), "%s", r.err);
		cn_router_close(&r);
		return cn_fail(rc == PB_EUNAVAIL ? CN_EXIT_UNREACHABLE : CN_EXIT_OTHER, pb_err_name(rc), msg);
	}
	cn_router_close(&r);
	return cn_emit(json_pack("{s:s, s:I, s:I}", "cursor", cursor, "outbox_pending",
	                      (json_int_t)pending, "dead_letters", (json_int_t)dead));
}

static json_t *entry_json(const Mailroom__OutboxEntry *e)
{
	return json_pack("{s:I, s:s, s:s, s:I, s:s, s:o, s:s, s:s, s:i, s:s, s:i, s:o}", "seq",
	                 (json_int_t)e->seq, "event_id", e->event_id, "order_no", e->order_no,
	                 "dispatch_seq", (json_int_t)e->dispatch_seq, "type", e->type, "at",
	                 cn_time_or_null(e->at_ms), "error", e->error, "error_message", e->error_message,
	                 "http_status", (int)e->http_status, "handler", e->handler_name, "attempts",
	                 (int)e->attempts, "dead_at", cn_time_or_null(e->dead_ms));
}

/* Lists dead letters; with want, requeues the one whose seq or event_id
 * it names. */
static int deadletters(const struct pb_conf *c, const char *want)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__OutboxReq q = MAILROOM__OUTBOX_REQ__INIT;
	Mailroom__Response *resp;
	struct cn_router r;
	json_t *list = json_array();
	uint64_t found = 0;
	int rc;

	if (!list)
		return CN_EXIT_OTHER;
	if ((rc = hl_router_open(&r, c))) {
		json_decref(list);
		return cn_fail(CN_EXIT_UNREACHABLE, "unavailable", r.err);
	}
	q.dead = 1;
	q.limit = 500;
	req.op_case = MAILROOM__REQUEST__OP_OUTBOX;
	req.outbox = &q;
	for (;;) {
		if ((rc = cn_router_call(&r, &req, HL_ROUTER_TIMEOUT_MS, &resp)) || resp->code) {
			char msg[PB_PATH_MAX + 300];
			snprintf(msg, sizeof(msg), "%s", rc ? r.err : resp->message ? resp->message : "refused");
			if (!rc)
				mailroom__response__free_unpacked(resp, NULL);
			cn_router_close(&r);
			json_decref(list);
			return cn_fail(CN_EXIT_UNREACHABLE, "unavailable", msg);
		}
		size_t n = resp->outbox ? resp->outbox->n_entries : 0;
		for (size_t i = 0; i < n; i++) {
			const Mailroom__OutboxEntry *e = resp->outbox->entries[i];
			char seq[24];
			snprintf(seq, sizeof(seq), "%llu", (unsigned long long)e->seq);
			if (want && (strcmp(want, seq) == 0 || strcmp(want, e->event_id) == 0))
				found = e->seq;
			json_array_append_new(list, entry_json(e));
			q.after_seq = e->seq;
		}
		mailroom__response__free_unpacked(resp, NULL);
		if (n < q.limit)
			break;
	}
	if (!want) {
		cn_router_close(&r);
		return cn_emit(json_pack("{s:o}", "dead_letters", list));
	}
	json_decref(list);
	if (!found) {
		cn_router_close(&r);
		return cn_fail(CN_EXIT_NOTFOUND, "not_found", "no dead letter with that seq or event_id");
	}
	Mailroom__OutboxAckReq aq = MAILROOM__OUTBOX_ACK_REQ__INIT;
	Mailroom__OutboxAck a = MAILROOM__OUTBOX_ACK__INIT, *pa = &a;
	a.seq = found;
	a.verdict = MAILROOM__OUTBOX_VERDICT__OUTBOX_REQUEUE;
	aq.acks = &pa;
	aq.n_acks = 1;
	mailroom__request__init(&req);
	req.op_case = MAILROOM__REQUEST__OP_OUTBOX_ACK;
	req.outbox_ack = &aq;
	rc = cn_router_call(&r, &req, HL_ROUTER_TIMEOUT_MS, &resp);
	if (rc || resp->code || !resp->outbox_ack || resp->outbox_ack->applied != 1) {
		if (!rc)
			mailroom__response__free_unpacked(resp, NULL);
		cn_router_close(&r);
		return cn_fail(rc ? CN_EXIT_UNREACHABLE : CN_EXIT_OTHER, "not_requeued", "the router did not requeue it");
	}
	mailroom__response__free_unpacked(resp, NULL);
	cn_router_close(&r);
	return cn_emit(json_pack("{s:I, s:b}", "requeued", (json_int_t)found, "ok", 1));
}

static int status_cmd(const struct pb_conf *c, const char *requeue)
{
	(void)requeue;
	return status(c);
}

static const struct cn_cmd cmds[] = {
	{"run", run},
	{"status", status_cmd},
	{"deadletters", deadletters},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	static const struct cn_prog prog = {
		HL_PROG, "hotline",
		"usage: " HL_PROG " [-c CONFIG] [run | status | deadletters [--requeue ID]]\n"
		"CONFIG defaults to deploy/mailroom.ini; see workers/README.md, \"12345\".\n",
		cmds, "deadletters"};

	return cn_main(argc, argv, &prog);
}
