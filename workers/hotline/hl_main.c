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
#include "pb_version.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CONF "deploy/mailroom.ini"

enum { EXIT_USAGE = 1, EXIT_UNREACHABLE = 2, EXIT_NOTFOUND = 4, EXIT_INVALID = 8, EXIT_OTHER = 9 };

static void *signals(void *arg)
{
	sigset_t *set = arg;
	int sig;

	sigwait(set, &sig);
	pb_info("stopping on signal %d", sig);
	atomic_store(&hl_stop, 1);
	return NULL;
}

static int run(const struct pb_conf *c)
{
	struct hl_ctx x = {c};
	pthread_t puller, deliverer, sigs;
	sigset_t set;
	char err[PB_PATH_MAX + 256];
	struct hl_http probe;
	int pulling = c->hotline_pull;

	/* Fail at once on a bad [hotline] section rather than in a loop. */
	if (hl_http_init(&probe, c, err, sizeof(err))) {
		fprintf(stderr, HL_PROG ": %s\n", err);
		return EXIT_INVALID;
	}
	hl_http_fini(&probe);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&sigs, NULL, signals, &set) != 0 ||
	    (pulling && pthread_create(&puller, NULL, hl_pull_main, &x) != 0) ||
	    pthread_create(&deliverer, NULL, hl_deliver_main, &x) != 0) {
		fprintf(stderr, HL_PROG ": cannot start threads\n");
		return EXIT_OTHER;
	}
	pb_info("connector for %s started (%s, delivering results)", c->hotline_platform_url,
	        pulling ? "pulling orders" : "push only");
	if (pulling)
		pthread_join(puller, NULL);
	pthread_join(deliverer, NULL);
	/* A loop that gave up (bad config) stops the process; wake sigwait. */
	if (!atomic_load(&hl_stop))
		atomic_store(&hl_stop, 1);
	pthread_kill(sigs, SIGTERM);
	pthread_join(sigs, NULL);
	pb_info("stopped");
	return 0;
}

static int emit(json_t *j)
{
	if (!j || json_dumpf(j, stdout, JSON_INDENT(2)) != 0) {
		json_decref(j);
		return EXIT_OTHER;
	}
	json_decref(j);
	fputc('\n', stdout);
	return fflush(stdout) == 0 ? 0 : EXIT_OTHER;
}

static int fail(int code, const char *error, const char *msg)
{
	fprintf(stderr, HL_PROG ": %s\n", msg);
	json_t *j = json_pack("{s:{s:s, s:s}}", "error", "code", error, "message", msg);
	emit(j);
	return code;
}

static int status(const struct pb_conf *c)
{
	struct hl_router r;
	char cursor[1100];
	uint64_t pending = 0, dead = 0;
	int rc;

	if ((rc = hl_router_open(&r, c)))
		return fail(EXIT_UNREACHABLE, "unavailable", r.err);
	rc = hl_router_status(&r, cursor, sizeof(cursor), &pending, &dead);
	if (rc) {
		char msg[PB_PATH_MAX + 300];
		snprintf(msg, sizeof(msg), "%s", r.err);
		hl_router_close(&r);
		return fail(rc == PB_EUNAVAIL ? EXIT_UNREACHABLE : EXIT_OTHER, pb_err_name(rc), msg);
	}
	hl_router_close(&r);
	return emit(json_pack("{s:s, s:I, s:I}", "cursor", cursor, "outbox_pending",
	                      (json_int_t)pending, "dead_letters", (json_int_t)dead));
}

static json_t *time_or_null(int64_t ms)
{
	char buf[40];

	return ms > 0 && pb_time_fmt(ms, buf, sizeof(buf), 0) > 0 ? json_string(buf) : json_null();
}

static json_t *entry_json(const Mailroom__OutboxEntry *e)
{
	return json_pack("{s:I, s:s, s:s, s:I, s:s, s:o, s:s, s:s, s:i, s:s, s:i, s:o}", "seq",
	                 (json_int_t)e->seq, "event_id", e->event_id, "order_no", e->order_no,
	                 "dispatch_seq", (json_int_t)e->dispatch_seq, "type", e->type, "at",
	                 time_or_null(e->at_ms), "error", e->error, "error_message", e->error_message,
	                 "http_status", (int)e->http_status, "handler", e->handler_name, "attempts",
	                 (int)e->attempts, "dead_at", time_or_null(e->dead_ms));
}

/* Lists dead letters; with want, requeues the one whose seq or event_id
 * it names. */
static int deadletters(const struct pb_conf *c, const char *want)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__OutboxReq q = MAILROOM__OUTBOX_REQ__INIT;
	Mailroom__Response *resp;
	struct hl_router r;
	json_t *list = json_array();
	uint64_t found = 0;
	int rc;

	if (!list)
		return EXIT_OTHER;
	if ((rc = hl_router_open(&r, c))) {
		json_decref(list);
		return fail(EXIT_UNREACHABLE, "unavailable", r.err);
	}
	q.dead = 1;
	q.limit = 500;
	req.op_case = MAILROOM__REQUEST__OP_OUTBOX;
	req.outbox = &q;
	for (;;) {
		if ((rc = hl_router_call(&r, &req, HL_ROUTER_TIMEOUT_MS, &resp)) || resp->code) {
			char msg[PB_PATH_MAX + 300];
			snprintf(msg, sizeof(msg), "%s", rc ? r.err : resp->message ? resp->message : "refused");
			if (!rc)
				mailroom__response__free_unpacked(resp, NULL);
			hl_router_close(&r);
			json_decref(list);
			return fail(EXIT_UNREACHABLE, "unavailable", msg);
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
		hl_router_close(&r);
		return emit(json_pack("{s:o}", "dead_letters", list));
	}
	json_decref(list);
	if (!found) {
		hl_router_close(&r);
		return fail(EXIT_NOTFOUND, "not_found", "no dead letter with that seq or event_id");
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
	rc = hl_router_call(&r, &req, HL_ROUTER_TIMEOUT_MS, &resp);
	if (rc || resp->code || !resp->outbox_ack || resp->outbox_ack->applied != 1) {
		if (!rc)
			mailroom__response__free_unpacked(resp, NULL);
		hl_router_close(&r);
		return fail(rc ? EXIT_UNREACHABLE : EXIT_OTHER, "not_requeued", "the router did not requeue it");
	}
	mailroom__response__free_unpacked(resp, NULL);
	hl_router_close(&r);
	return emit(json_pack("{s:I, s:b}", "requeued", (json_int_t)found, "ok", 1));
}

static int usage(FILE *f)
{
	fprintf(f, "usage: " HL_PROG " [-c CONFIG] [run | status | deadletters [--requeue ID]]\n"
	                "CONFIG defaults to " DEFAULT_CONF "; see workers/README.md, \"12345\".\n");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static struct pb_conf conf;
	const char *path = NULL, *cmd = "run", *requeue = NULL;
	char err[PB_PATH_MAX + 128];
	int i;

	if ((i = pb_std_args(argc, argv, "mailroom-hotline", NULL)) >= 0)   /* --version */
		return i;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--requeue") == 0 && i + 1 < argc)
			requeue = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return usage(stdout), 0;
		else if (argv[i][0] != '-' && (strcmp(argv[i], "run") == 0 || strcmp(argv[i], "status") == 0 ||
		                               strcmp(argv[i], "deadletters") == 0))
			cmd = argv[i];
		else
			return usage(stderr);
	}
	if (requeue && strcmp(cmd, "deadletters") != 0)
		return usage(stderr);
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, HL_PROG ": cannot initialise libsodium or libcurl\n");
		return EXIT_OTHER;
	}
	/* Only the default may be missing: a named file must be there. */
	if (!path && access(DEFAULT_CONF, F_OK) == 0)
		path = DEFAULT_CONF;
	if (pb_conf_load(path, &conf, err, sizeof(err))) {
		fprintf(stderr, HL_PROG ": %s\n", err);
		return EXIT_INVALID;
	}
	pb_log_init("hotline", pb_log_level_parse(conf.log_level));
	int rc;
	if (strcmp(cmd, "status") == 0)
		rc = status(&conf);
	else if (strcmp(cmd, "deadletters") == 0)
		rc = deadletters(&conf, requeue);
	else
		rc = run(&conf);
	curl_global_cleanup();
	return rc;
}
