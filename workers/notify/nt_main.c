/* mailroom-notify [-c CONFIG] [run | status | deadletters [--requeue SEQ]]
 *  run          sends the pending notices, until SIGINT or SIGTERM.
 *  status       counts: pending, dead letters, sent so far, as JSON.
 *  deadletters  the notices refused for good, contacts masked, as JSON;
 *               --requeue SEQ sends one back to be tried again. */
#include "nt.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"
#include "pb_version.h"

#include <curl/curl.h>
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
	atomic_store(&nt_stop, 1);
	return NULL;
}

static int run(const struct pb_conf *c)
{
	pthread_t sigs;
	sigset_t set;
	int rc;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&sigs, NULL, signals, &set) != 0) {
		fprintf(stderr, NT_PROG ": cannot start threads\n");
		return EXIT_OTHER;
	}
	rc = nt_run(c);
	if (!atomic_load(&nt_stop))
		atomic_store(&nt_stop, 1);
	pthread_kill(sigs, SIGTERM);
	pthread_join(sigs, NULL);
	pb_info("stopped");
	return rc == PB_OK ? 0 : rc == PB_EINVAL || rc == PB_ENOTFOUND ? EXIT_INVALID : EXIT_OTHER;
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
	fprintf(stderr, NT_PROG ": %s\n", msg);
	emit(json_pack("{s:{s:s, s:s}}", "error", "code", error, "message", msg));
	return code;
}

static int call(struct nt_router *r, Mailroom__Request *req, Mailroom__Response **resp)
{
	int rc = nt_router_call(r, req, resp);

	if (rc)
		return fail(EXIT_UNREACHABLE, "unavailable", r->err);
	if ((*resp)->code) {
		int code = (*resp)->code == PB_EFORBIDDEN ? EXIT_INVALID : EXIT_OTHER;
		rc = fail(code, (*resp)->error ? (*resp)->error : "refused",
		          (*resp)->message ? (*resp)->message : "refused");
		mailroom__response__free_unpacked(*resp, NULL);
		return rc;
	}
	return 0;
}

static int status(struct nt_router *r)
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
	rc = emit(json_pack("{s:I, s:I, s:I}", "pending", (json_int_t)resp->notices->pending,
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

static json_t *time_or_null(int64_t ms)
{
	char buf[40];

	return ms > 0 && pb_time_fmt(ms, buf, sizeof(buf), 0) > 0 ? json_string(buf) : json_null();
}

static int deadletters(struct nt_router *r, const char *want)
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
			                    "at", time_or_null(e->at_ms), "dead_at", time_or_null(e->dead_ms)));
			q.after_seq = e->seq;
		}
		mailroom__response__free_unpacked(resp, NULL);
		if (n < q.limit)
			break;
	}
	if (!want)
		return emit(json_pack("{s:o}", "dead_letters", list));
	json_decref(list);
	if (!found)
		return fail(EXIT_NOTFOUND, "not_found", "no dead letter with that seq or event_id");
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
		return fail(EXIT_OTHER, "not_requeued", "the router did not requeue it");
	return emit(json_pack("{s:I, s:b}", "requeued", (json_int_t)found, "ok", 1));
}

static int usage(FILE *f)
{
	fprintf(f, "usage: " NT_PROG " [-c CONFIG] [run | status | deadletters [--requeue SEQ]]\n"
	           "CONFIG defaults to " DEFAULT_CONF "; see workers/notify/README.md.\n");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static struct pb_conf conf;
	const char *path = NULL, *cmd = "run", *requeue = NULL;
	char err[PB_PATH_MAX + 128];
	struct nt_router r;
	int i, rc;

	if ((i = pb_std_args(argc, argv, NT_PROG, NULL)) >= 0)   /* --version */
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
		fprintf(stderr, NT_PROG ": cannot initialise libsodium or libcurl\n");
		return EXIT_OTHER;
	}
	if (!path && access(DEFAULT_CONF, F_OK) == 0)
		path = DEFAULT_CONF;
	if (pb_conf_load(path, &conf, err, sizeof(err))) {
		fprintf(stderr, NT_PROG ": %s\n", err);
		return EXIT_INVALID;
	}
	pb_log_init("notify", pb_log_level_parse(conf.log_level));
	if (strcmp(cmd, "run") == 0) {
		rc = run(&conf);
	} else if ((rc = nt_router_open(&r, &conf))) {
		rc = fail(rc == PB_EUNAVAIL ? EXIT_UNREACHABLE : EXIT_INVALID, "unavailable", r.err);
	} else {
		rc = strcmp(cmd, "status") == 0 ? status(&r) : deadletters(&r, requeue);
		nt_router_close(&r);
	}
	curl_global_cleanup();
	return rc;
}
