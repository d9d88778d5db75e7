/* Stopping promptly: a router on a store big enough that building its
 * search index takes seconds stops, cleanly, within STOP_LIMIT_S of
 * SIGTERM: once idle after the build, and while it builds (where it
 * used to finish the build first); the log verifies afterwards. The
 * store is filled through the router's own operations
 * (tests/bench/bench_prefill.c), as bench-ingest --prefill does.
 *
 * MR_STOP_MESSAGES overrides the store's size. */
#include "it.h"
#include "bench_prefill.h"

#include <signal.h>
#include <sys/wait.h>

/* A build of seconds on a busy 2-core machine; under the sanitizers the
 * fill is thirty times slower and the build about twenty. */
#ifdef __SANITIZE_ADDRESS__
#define MESSAGES 3000
#else
#define MESSAGES 50000
#endif
#define PER_CHECKPOINT 1024 /* fewer signatures: the fill is the test's cost */
#define STOP_LIMIT_S 3.0
#define BUILD_DONE "messages from the store in "
#define BUILD_STOPPED "search index: build stopped"

TestSuite(stop, .init = it_init, .fini = it_fini, .timeout = 120);

/* The text after needle in the router's current log, or NULL. */
static char *log_after(const struct mr_proc *p, const char *needle)
{
	char *text = mr_read_text(p->log, NULL), *hit, *copy = NULL;

	if (text && (hit = strstr(text, needle)))
		copy = strdup(hit + strlen(needle));
	free(text);
	return copy;
}

static int log_has(const struct mr_proc *p, const char *needle)
{
	char *rest = log_after(p, needle);

	free(rest);
	return rest != NULL;
}

/* SIGTERM; the seconds until the router exited, which must be cleanly. */
static double stop_router(void)
{
	double t0 = mr_now_s();
	int st = mr_proc_stop(&env, &env.router, SIGTERM);
	double took = mr_now_s() - t0;

	fprintf(stderr, "stop: exit %.2f s after SIGTERM\n", took);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the router stopped uncleanly");
	return took;
}

Test(stop, sigterm_idle_and_during_index_build)
{
	unsigned long long n = MESSAGES;
	const char *env_n = getenv("MR_STOP_MESSAGES");

	if (env_n)
		n = strtoull(env_n, NULL, 10);
	struct mr_opts o = {.map_size_mb = (int)(1024 + n / 256)};
	cr_assert_eq(mr_env_init(&env, &o), 0, "cannot prepare the environment");
	double t0 = mr_now_s();
	cr_assert_eq(bench_prefill(env.ini, n, PER_CHECKPOINT), 0, "cannot fill the store");
	fprintf(stderr, "stop: %llu messages filled in %.1f s\n", n, mr_now_s() - t0);

	/* Idle, the index built: how long a build takes here and now. */
	cr_assert_eq(mr_router_start(&env), 0, "the router did not start");
	char *rest = NULL;
	for (t0 = mr_now_s(); !(rest = log_after(&env.router, BUILD_DONE)) && mr_now_s() - t0 < 90;)
		mr_sleep_ms(50);
	cr_assert(rest, "the index was not built within 90 s");
	double build_s = atof(rest) / 1000;
	free(rest);
	fprintf(stderr, "stop: the index took %.2f s to build\n", build_s);
	double took = stop_router();
	cr_expect(took < STOP_LIMIT_S, "idle, the router took %.1f s to stop", took);

	/* During the build: "listening on" comes before the build has gone
	 * far, since the follower thread builds while the router serves. */
	cr_assert_eq(mr_router_start(&env), 0, "the router did not start again");
	mr_sleep_ms(300);
	cr_assert(!log_has(&env.router, BUILD_DONE),
	          "the index was built before the stop: the store is too small to test it "
	          "(raise MR_STOP_MESSAGES)");
	took = stop_router();
	cr_expect(took < STOP_LIMIT_S, "during the build, the router took %.1f s to stop", took);
	/* Not merely a build that happened to end: well before it would have. */
	cr_expect(took < build_s / 2, "the stop took %.2f s of a %.2f s build", took, build_s);
	cr_expect(log_has(&env.router, BUILD_STOPPED), "the build did not see the stop");
	cr_expect(!log_has(&env.router, BUILD_DONE), "the build ran to its end after SIGTERM");

	char *out = NULL;
	int rc = mr_audit_cmd(&env, &out, "verify", NULL);
	cr_expect_eq(rc, 0, "mailroom-audit verify after the stops: %s", out ? out : "");
	free(out);
	IT_DOWN();
}
