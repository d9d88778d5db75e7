/* Stopping promptly: a router on a store big enough that building its
 * search index takes seconds stops, cleanly, within STOP_LIMIT_S of
 * SIGTERM: once idle after the build, and while it builds (where it
 * used to finish the build first); the log verifies afterwards. The
 * store is filled through the router's own operations
 * (tests/bench/bench_prefill.c), as bench-ingest --prefill does.
 *
 * Under load the router stops as promptly, every 201 it gave survives,
 * and no 503 it gave stored anything.
 *
 * MR_STOP_MESSAGES overrides the store's size. */
#include "it.h"
#include "bench_prefill.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

/* A build of seconds on a busy 2-core machine; under the sanitizers the
 * fill is thirty times slower and the build about twenty. The build puts
 * messages in chunks, so a stop (about 0.1-0.2 s of its own) must still
 * land well inside it: 3,000 messages built in 0.27 s. */
#ifdef __SANITIZE_ADDRESS__
#define MESSAGES 12000
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
	cr_assert_eq(bench_prefill(env.ini, n, PER_CHECKPOINT, 0), 0, "cannot fill the store");
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
	 * far, since the follower thread builds while the router serves.
	 * Without its file the router builds the index again. */
	char index[MR_PATH + 16];
	snprintf(index, sizeof(index), "%s/search.db", env.store);
	cr_assert_eq(unlink(index), 0, "no index file at %s", index);
	cr_assert_eq(mr_router_start(&env), 0, "the router did not start again");
	/* A fifth of the build, at most 300 ms: under the sanitizers the
	 * store is small and its build short. */
	double wait_ms = build_s * 1000 / 5;
	mr_sleep_ms(wait_ms < 300 ? (int)wait_ms : 300);
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

/* ---- under load ---- */

#define LOAD_THREADS 4
/* With peers connected the sockets' close may meet nng 1.5.2's hang,
 * which rt_server_stop cuts after 5 s (router/README.md, "Stopping"). */
#define LOAD_STOP_LIMIT_S (STOP_LIMIT_S + 5.0)
#define LOAD_MAX 20000

static struct {
	pthread_mutex_t mu;
	atomic_int stop;
	int nacks, nrefused;
	char acks[LOAD_MAX][2][40];   /* tracking code, access key */
	char refused[LOAD_MAX][48];   /* idempotency keys answered 503 */
} L = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void body_of(int me, int n, char *body, size_t cap)
{
	snprintf(body, cap,
	         "{\"channel\":\"mailbox\",\"subject\":\"停止测试 t%d n%d\","
	         "\"body\":\"路由器在负载下停止，已确认的信不能丢失。\"}",
	         me, n);
}

static void *load_thread(void *arg)
{
	int me = (int)(intptr_t)arg;
	CURL *h = curl_easy_init();
	char body[320], key[48];

	for (int n = 0; !atomic_load(&L.stop); n++) {
		struct mr_http r;
		snprintf(key, sizeof(key), "stop-%ld-t%d-n%06d", (long)getpid(), me, n);
		body_of(me, n, body, sizeof(body));
		if (mr_post_message_keyed(h, &env, key, body, &r) == 0) {
			json_t *j = r.status == 201 ? mr_http_json(&r) : NULL;
			const char *code = json_string_value(json_object_get(j, "tracking_code"));
			const char *akey = json_string_value(json_object_get(j, "access_key"));
			pthread_mutex_lock(&L.mu);
			if (code && akey && L.nacks < LOAD_MAX) {
				snprintf(L.acks[L.nacks][0], sizeof(L.acks[0][0]), "%s", code);
				snprintf(L.acks[L.nacks][1], sizeof(L.acks[0][1]), "%s", akey);
				L.nacks++;
			} else if (r.status == 503 && L.nrefused < LOAD_MAX) {
				snprintf(L.refused[L.nrefused++], sizeof(L.refused[0]), "%s", key);
			}
			pthread_mutex_unlock(&L.mu);
			json_decref(j);
			if (r.status == 503)
				mr_sleep_ms(20);   /* a real client backs off */
		}
		mr_http_free(&r);
	}
	curl_easy_cleanup(h);
	return NULL;
}

Test(stop, sigterm_under_load)
{
	struct mr_opts o = {.max_per_ip = 64};
	pthread_t th[LOAD_THREADS];

	IT_UP(&o);
	for (int i = 0; i < LOAD_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, load_thread, (void *)(intptr_t)i), 0);
	mr_sleep_ms(1500);
	double took = stop_router();
	cr_expect(took < LOAD_STOP_LIMIT_S, "under load, the router took %.1f s to stop", took);
	mr_sleep_ms(300);   /* clients meet the stopped router: 503 */
	atomic_store(&L.stop, 1);
	for (int i = 0; i < LOAD_THREADS; i++)
		pthread_join(th[i], NULL);
	fprintf(stderr, "stop: under load, %d answered 201, %d answered 503\n", L.nacks, L.nrefused);
	cr_assert_gt(L.nacks, 0, "nothing was acknowledged before the stop");
	cr_assert_eq(mr_router_start(&env), 0, "the router did not start again");

	CURL *h = curl_easy_init();
	int lost = 0, lied = 0;
	for (int i = 0; i < L.nacks; i++) {
		struct mr_http r;
		long st = 0;
		for (int k = 0; k < 50 && st != 200; k++) {   /* the gateway reconnects */
			cr_assert_eq(mr_get_status(h, &env, L.acks[i][0], L.acks[i][1], &r), 0);
			st = r.status;
			mr_http_free(&r);
			if (st == 503)
				mr_sleep_ms(100);
			else
				break;
		}
		lost += st != 200;
	}
	cr_expect_eq(lost, 0, "%d of %d acknowledged messages are gone", lost, L.nacks);
	/* Posted again with its key, a message stored before answers 200. */
	for (int i = 0; i < L.nrefused; i++) {
		struct mr_http r;
		char body[320];
		int me, n;
		cr_assert_eq(sscanf(L.refused[i], "stop-%*d-t%d-n%d", &me, &n), 2);
		body_of(me, n, body, sizeof(body));
		cr_assert_eq(mr_post_message_keyed(h, &env, L.refused[i], body, &r), 0);
		lied += r.status == 200;
		cr_expect(r.status == 201 || r.status == 200, "re-post of %s: %ld", L.refused[i], r.status);
		mr_http_free(&r);
	}
	curl_easy_cleanup(h);
	cr_expect_eq(lied, 0, "%d of %d requests answered 503 had been stored", lied, L.nrefused);

	char *out = NULL;
	int rc = mr_audit_cmd(&env, &out, "verify", NULL);
	cr_expect_eq(rc, 0, "mailroom-audit verify after the stop: %s", out ? out : "");
	free(out);
	IT_DOWN();
}
