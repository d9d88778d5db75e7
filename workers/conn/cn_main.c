/* The scaffolding of a connector's main: PROG [-c CONFIG] [COMMAND]
 * [--requeue ID], --help and --version, the config, logging, signals and
 * the JSON a command prints. Each connector passes its command table. */
#include "cn.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"
#include "pb_version.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CONF "deploy/mailroom.ini"

atomic_int cn_stop;
static const char *prog_name = "mailroom";

int cn_sleep(int64_t ms)
{
	/* Short steps: a stop is seen within 50 ms. */
	while (ms > 0 && !atomic_load(&cn_stop)) {
		int64_t step = ms < 50 ? ms : 50;
		struct timespec ts = {(time_t)(step / 1000), (long)(step % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return atomic_load(&cn_stop) ? -1 : 0;
}

static void *signals(void *arg)
{
	sigset_t *set = arg;
	int sig;

	sigwait(set, &sig);
	pb_info("stopping on signal %d", sig);
	atomic_store(&cn_stop, 1);
	return NULL;
}

int cn_run(int (*body)(const struct pb_conf *c), const struct pb_conf *c)
{
	pthread_t sigs;
	sigset_t set;
	int rc;

	/* Blocked before any thread starts, so only sigwait sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&sigs, NULL, signals, &set) != 0) {
		fprintf(stderr, "%s: cannot start threads\n", prog_name);
		return -1;
	}
	rc = body(c);
	/* A loop that gave up (bad config) stops the process; wake sigwait. */
	atomic_store(&cn_stop, 1);
	pthread_kill(sigs, SIGTERM);
	pthread_join(sigs, NULL);
	pb_info("stopped");
	return rc;
}

int cn_emit(json_t *j)
{
	if (!j || json_dumpf(j, stdout, JSON_INDENT(2)) != 0) {
		json_decref(j);
		return CN_EXIT_OTHER;
	}
	json_decref(j);
	fputc('\n', stdout);
	return fflush(stdout) == 0 ? 0 : CN_EXIT_OTHER;
}

int cn_fail(int code, const char *error, const char *msg)
{
	fprintf(stderr, "%s: %s\n", prog_name, msg);
	cn_emit(json_pack("{s:{s:s, s:s}}", "error", "code", error, "message", msg));
	return code;
}

json_t *cn_time_or_null(int64_t ms)
{
	char buf[40];

	return ms > 0 && pb_time_fmt(ms, buf, sizeof(buf), 0) > 0 ? json_string(buf) : json_null();
}

static const struct cn_cmd *find(const struct cn_prog *p, const char *name)
{
	for (const struct cn_cmd *c = p->cmds; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

int cn_main(int argc, char **argv, const struct cn_prog *p)
{
	static struct pb_conf conf;
	const struct cn_cmd *cmd = p->cmds;
	const char *path = NULL, *requeue = NULL;
	char err[PB_PATH_MAX + 128];
	int i, rc;

	prog_name = p->name;
	if ((i = pb_std_args(argc, argv, p->name, NULL)) >= 0)   /* --version */
		return i;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--requeue") == 0 && i + 1 < argc)
			requeue = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return fputs(p->usage, stdout), 0;
		else if (argv[i][0] != '-' && find(p, argv[i]))
			cmd = find(p, argv[i]);
		else
			return fputs(p->usage, stderr), CN_EXIT_USAGE;
	}
	if (requeue && (!p->requeue_cmd || strcmp(cmd->name, p->requeue_cmd) != 0))
		return fputs(p->usage, stderr), CN_EXIT_USAGE;
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "%s: cannot initialise libsodium or libcurl\n", p->name);
		return CN_EXIT_OTHER;
	}
	/* Only the default may be missing: a named file must be there. */
	if (!path && access(DEFAULT_CONF, F_OK) == 0)
		path = DEFAULT_CONF;
	if (pb_conf_load(path, &conf, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", p->name, err);
		curl_global_cleanup();
		return CN_EXIT_INVALID;
	}
	pb_log_init(p->log_ident, pb_log_level_parse(conf.log_level));
	rc = cmd->fn(&conf, requeue);
	curl_global_cleanup();
	return rc;
}
