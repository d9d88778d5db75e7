/* The C2SP tlog-tiles API of the real gateway, checked by an independent
 * verifier written in Python from the specifications
 * (tests/tiles/tlog_tiles_check.py): at log sizes 1, 255, 256, 257, 65,536
 * and 65,537, partial tiles included, the checkpoint's signature, every
 * tile and entry bundle, the upper levels, the root recomputed from the
 * leaves, the cache headers, and agreement with the JSON routes. Between
 * sizes the service is stopped and the log grown through the store's own
 * append, so the sizes are exact. */
#include "it.h"
#include "pb_conf.h"
#include "pb_err.h"
#include "pb_time.h"
#include "st.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECKER MR_SOURCE_DIR "/tests/tiles/tlog_tiles_check.py"
/* Debian's, with python3-cryptography (deploy/setup.sh installs both). */
#define PYTHON "/usr/bin/python3"
#define BATCH 2000

static void grow_to(uint64_t target)
{
	struct pb_conf *c = calloc(1, sizeof(*c));
	struct st_keys keys;
	char err[256];
	st_env *st;
	int created;
	uint64_t n;

	cr_assert_not_null(c);
	cr_assert_eq(pb_conf_load(env.ini, c, err, sizeof(err)), PB_OK, "%s", err);
	cr_assert_eq(st_keys_load_or_create(c, &keys, &created), PB_OK);
	cr_assert_eq(st_open(env.store, c->map_size_mb, 0, &keys, &st), PB_OK);
	for (;;) {
		Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;
		st_txn *t;
		cr_assert_eq(st_txn_begin(st, NULL, 0, &t), PB_OK);
		cr_assert_eq(st_log_size(t, &n), PB_OK);
		cr_assert_leq(n, target);
		if (n == target) {
			st_txn_abort(t);
			break;
		}
		rec.actor = "router";
		rec.event = MAILROOM__AUDIT_EVENT__AUDIT_ROUTED;
		for (int i = 0; i < BATCH && n < target; i++, n++) {
			rec.time_ms = pb_now_ms();
			cr_assert_eq(st_log_append(t, &rec, NULL), PB_OK);
		}
		cr_assert_eq(st_txn_commit(t), PB_OK, "one checkpoint per commit");
	}
	st_close(st);
	free(c);
}

static void check_size(uint64_t size)
{
	char want[32], pub[MR_PATH], *out = NULL, *err = NULL;
	char *argv[] = {PYTHON, CHECKER, env.base, pub, "--size", want, "--json-api", NULL};
	int rc;

	snprintf(want, sizeof(want), "%llu", (unsigned long long)size);
	snprintf(pub, sizeof(pub), "%s/keys/store.pub", env.dir);
	rc = mr_run(&env, argv, &out, &err, 600);
	cr_assert_eq(rc, 0, "size %llu: exit %d: %s%s", (unsigned long long)size, rc, out ? out : "",
	             err ? err : "");
	cr_assert(out && strncmp(out, "ok: size ", 9) == 0, "%s", out ? out : "");
	cr_log_info("%s", out);
	free(out);
	free(err);
}

static void restart(void)
{
	cr_assert_eq(mr_router_start(&env), 0, "router restarts");
	cr_assert_eq(mr_gateway_start(&env), 0, "gateway restarts");
}

static void stop(void)
{
	mr_proc_stop(&env, &env.gateway, SIGTERM);
	mr_proc_stop(&env, &env.router, SIGTERM);
}

TestSuite(tiles, .init = it_init, .fini = it_fini, .timeout = 600);

Test(tiles, independent_verifier_at_each_size)
{
	static const uint64_t sizes[] = {255, 256, 257, 65536, 65537};
	const struct mr_opts o = {0};
	char *argv[] = {PYTHON, CHECKER, "--self-test", NULL}, *out = NULL;

	IT_UP(&o);
	/* Size 0 has no tiles (nor does a log exist without its record 0):
	 * the verifier's own recursion and tile counts, from the spec. */
	cr_assert_eq(mr_run(&env, argv, &out, NULL, 60), 0, "%s", out ? out : "");
	free(out);
	check_size(1);   /* a new store: record 0 under its checkpoint */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		stop();
		grow_to(sizes[i]);
		restart();
		check_size(sizes[i]);
	}
}

/* Paths the spec does not spell are not tiles; a tile past the
 * checkpoint, or a full one not complete yet, is not served. */
Test(tiles, malformed_and_unpublished_paths)
{
	static const char *const bad[] = {
	    "/tile/0/1",           /* not 3 digits */
	    "/tile/0/0000",        /* not 3 digits */
	    "/tile/0/x000/001",    /* not the canonical spelling of 1 */
	    "/tile/00/000",        /* a level with a leading zero */
	    "/tile/64/000",        /* a level past 63 */
	    "/tile/0/000.p/0",     /* width 0 */
	    "/tile/0/000.p/256",   /* a partial tile of 256 */
	    "/tile/0/000.p/01",    /* a width with a leading zero */
	    "/tile/entries/1",     /* not 3 digits */
	    "/tile/0/000.p/2",     /* wider than the log (size 1) */
	    "/tile/0/000",         /* a full tile the log does not fill */
	    "/tile/1/000.p/1",     /* a level the log does not reach */
	    "/tile/entries/000",   /* a full bundle */
	};
	const struct mr_opts o = {0};
	struct mr_http r;

	IT_UP(&o);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(mr_http(NULL, env.base, "GET", bad[i], NULL, NULL, 0, 5000, &r), 0);
		cr_expect_eq(r.status, 404, "%s: HTTP %ld %s", bad[i], r.status, r.body);
		mr_http_free(&r);
	}
	cr_assert_eq(mr_http(NULL, env.base, "GET", "/tile/0/000.p/1", NULL, NULL, 0, 5000, &r), 0);
	cr_expect_eq(r.status, 200, "the one leaf of a new log: %ld", r.status);
	cr_expect_eq(r.len, 32);
	mr_http_free(&r);
	cr_assert_eq(mr_http(NULL, env.base, "POST", "/checkpoint", NULL, "x", 1, 5000, &r), 0);
	cr_expect_eq(r.status, 405, "read-only: %ld", r.status);
	mr_http_free(&r);
}
