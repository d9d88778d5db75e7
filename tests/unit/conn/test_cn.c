/* workers/conn: /healthz judged on the router's and the upstream's
 * state, /metrics with the common lines and a connector's own, the
 * listener's refusals, cn_main's options and dispatch, and the router
 * link (a missing key, a router that never answers). */
#include "cn.h"
#include "harness.h"
#include "pb_err.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* method path on the listener (the integration harness's client); the
 * status, the body in *out (malloc'd). */
static long request(int port, const char *method, const char *path, char **out)
{
	char base[64];
	struct mr_http r;
	long status;

	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	cr_assert_eq(mr_http(NULL, base, method, path, NULL, NULL, 0, 5000, &r), 0);
	status = r.status;
	*out = strdup(r.body ? r.body : "");
	mr_http_free(&r);
	return status;
}

static atomic_ullong widgets;

static void render_own(FILE *f, void *arg)
{
	const struct cn_stat t[] = {{"widgets_total", "counter", "Widgets made.", &widgets}};

	cr_assert_str_eq(arg, "mine");
	cn_metric_table(f, "test", t, 1);
}

static struct cn_metrics *listen_for_tests(void)
{
	const struct cn_metrics_spec s = {"test", "[test]", "127.0.0.1", 0, 1, 3, render_own, "mine"};
	struct cn_metrics *m = NULL;

	cn_health_start();
	cr_assert_eq(cn_metrics_start(&s, &m), PB_OK);
	cr_assert(m && cn_metrics_port(m) > 0);
	return m;
}

Test(cn, metrics_carry_the_common_lines_and_the_connectors_own)
{
	struct cn_metrics *m = listen_for_tests();
	char *body;

	atomic_store(&widgets, 41);
	atomic_fetch_add(&widgets, 1);
	cr_assert_eq(request(cn_metrics_port(m), "GET", "/metrics", &body), 200);
	cr_expect(strstr(body, "# TYPE mailroom_test_build_info gauge\nmailroom_test_build_info{version=\""),
	          "%s", body);
	cr_expect(strstr(body, "\nmailroom_test_healthy 1\n"), "%s", body);
	cr_expect(strstr(body, "\nmailroom_test_router_up 1\n"), "%s", body);
	cr_expect(strstr(body, "\nmailroom_test_upstream_failures_total 0\n"), "%s", body);
	cr_expect(strstr(body, "# HELP mailroom_test_widgets_total Widgets made.\n"
	                       "# TYPE mailroom_test_widgets_total counter\n"
	                       "mailroom_test_widgets_total 42\n"), "%s", body);
	free(body);
	cr_expect_eq(request(cn_metrics_port(m), "GET", "/nothing", &body), 404);
	free(body);
	cr_expect_eq(request(cn_metrics_port(m), "POST", "/metrics", &body), 405);
	free(body);
	cr_expect_eq(request(cn_metrics_port(m), "DELETE", "/healthz", &body), 405);
	free(body);
	cn_metrics_stop(m);
}

Test(cn, healthz_judges_the_router_and_the_upstream, .timeout = 30)
{
	struct cn_metrics *m = listen_for_tests();
	int port = cn_metrics_port(m);
	char *body;

	cr_assert_eq(request(port, "GET", "/healthz", &body), 200);
	cr_expect_str_eq(body, "{\"status\":\"ok\"}");
	free(body);
	/* Past the threshold (1 s) without an answer from the router. */
	cn_health_router(0);
	usleep(1200 * 1000);
	cr_assert_eq(request(port, "GET", "/healthz", &body), 503);
	cr_expect(strstr(body, "\"unhealthy\"") && strstr(body, "router has not answered"), "%s", body);
	free(body);
	cr_assert_eq(request(port, "GET", "/metrics", &body), 200);
	cr_expect(strstr(body, "\nmailroom_test_router_up 0\n"), "%s", body);
	cr_expect(strstr(body, "\nmailroom_test_healthy 0\n"), "%s", body);
	free(body);
	/* The router answers (a refusal counts); the upstream has not
	 * succeeded for as long, but fails only twice: still healthy. */
	cn_health_router(1);
	cn_health_upstream(0);
	cn_health_upstream(0);
	cr_assert_eq(request(port, "GET", "/healthz", &body), 200, "%s", body);
	free(body);
	/* A third failure in a row (unhealthy_failures = 3). */
	cn_health_upstream(0);
	cr_assert_eq(request(port, "GET", "/healthz", &body), 503);
	cr_expect(strstr(body, "upstream failed 3 times in a row"), "%s", body);
	free(body);
	/* One success clears it; the total stays. */
	cn_health_upstream(1);
	cr_assert_eq(request(port, "GET", "/healthz", &body), 200);
	free(body);
	cr_assert_eq(request(port, "GET", "/metrics", &body), 200);
	cr_expect(strstr(body, "\nmailroom_test_upstream_failures_total 3\n"), "%s", body);
	cr_expect(strstr(body, "\nmailroom_test_upstream_consecutive_failures 0\n"), "%s", body);
	free(body);
	cn_metrics_stop(m);
}

Test(cn, an_empty_address_is_no_listener_and_a_bad_one_an_error)
{
	struct cn_metrics_spec s = {"test", "[test]", "", 0, 1, 3, NULL, NULL};
	struct cn_metrics *m = (struct cn_metrics *)1;

	cr_expect_eq(cn_metrics_start(&s, &m), PB_OK);
	cr_expect_null(m);
	s.addr = "localhost";
	cr_expect_eq(cn_metrics_start(&s, &m), PB_EINVAL);
	cr_expect_null(m);
	cn_metrics_stop(NULL);
}

/* ---- cn_main ---- */
static char seen_cmd[32], seen_requeue[32];

static int cmd_a(const struct pb_conf *c, const char *requeue)
{
	(void)c;
	snprintf(seen_cmd, sizeof(seen_cmd), "a");
	snprintf(seen_requeue, sizeof(seen_requeue), "%s", requeue ? requeue : "-");
	return 0;
}

static int cmd_b(const struct pb_conf *c, const char *requeue)
{
	snprintf(seen_cmd, sizeof(seen_cmd), "b:%s", c->log_level);
	snprintf(seen_requeue, sizeof(seen_requeue), "%s", requeue ? requeue : "-");
	return 5;
}

static const struct cn_cmd cmds[] = {{"alpha", cmd_a}, {"beta", cmd_b}, {NULL, NULL}};
static const struct cn_prog prog = {"mailroom-test", "test", "usage: mailroom-test\n", cmds, "beta"};

static int run_main(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5)
{
	char *argv[7] = {"mailroom-test", (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5,
	                 NULL};
	int argc = 1;

	while (argc < 6 && argv[argc])
		argc++;
	seen_cmd[0] = seen_requeue[0] = '\0';
	return cn_main(argc, argv, &prog);
}

Test(cn, main_dispatches_by_its_table_and_refuses_bad_usage)
{
	char ini[] = "/tmp/cn-test-XXXXXX";
	int fd = mkstemp(ini);

	cr_assert(fd >= 0);
	cr_assert(write(fd, "[general]\nlog_level = warn\n", 27) == 27);
	close(fd);
	cr_expect_eq(run_main("-c", ini, NULL, NULL, NULL), 0);
	cr_expect_str_eq(seen_cmd, "a", "the first command is the default");
	cr_expect_eq(run_main("-c", ini, "beta", "--requeue", "17"), 5, "the command's own code");
	cr_expect_str_eq(seen_cmd, "b:warn", "the config reaches the command");
	cr_expect_str_eq(seen_requeue, "17");
	cr_expect_eq(run_main("-c", ini, "alpha", "--requeue", "17"), CN_EXIT_USAGE,
	             "--requeue belongs to beta only");
	cr_expect_str_eq(seen_cmd, "");
	cr_expect_eq(run_main("-c", ini, "gamma", NULL, NULL), CN_EXIT_USAGE);
	cr_expect_eq(run_main("-c", ini, "--bogus", NULL, NULL), CN_EXIT_USAGE);
	cr_expect_eq(run_main("--help", NULL, NULL, NULL, NULL), 0);
	cr_expect_eq(run_main("-c", "/nonexistent/mailroom.ini", NULL, NULL, NULL), CN_EXIT_INVALID,
	             "a named config must be there");
	cr_expect_str_eq(seen_cmd, "");
	unlink(ini);
}

/* ---- the router link ---- */
Test(cn, router_link_names_a_missing_key_and_counts_unanswered_calls, .timeout = 30)
{
	char dir[] = "/tmp/cn-key-XXXXXX", key[64], url[96];
	uint8_t seed[32];
	char hex[65];
	struct cn_router r;
	struct cn_health h;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__NoticesReq q = MAILROOM__NOTICES_REQ__INIT;
	Mailroom__Response *resp = (Mailroom__Response *)1;
	FILE *f;

	cr_assert(sodium_init() >= 0);
	cr_assert(mkdtemp(dir));
	snprintf(key, sizeof(key), "%s/k.key", dir);
	snprintf(url, sizeof(url), "ipc://%s/nobody.ipc", dir);
	cr_expect_eq(cn_router_open(&r, "notify", key, url), PB_ENOTFOUND);
	cr_expect(strstr(r.err, "[notify] key_file") && strstr(r.err, "keygen"), "%s", r.err);
	cr_expect_eq(cn_router_open(&r, "notify", "", url), PB_ENOTFOUND);
	cr_expect(strstr(r.err, "(not set)"), "%s", r.err);

	randombytes_buf(seed, sizeof(seed));
	sodium_bin2hex(hex, sizeof(hex), seed, sizeof(seed));
	cr_assert((f = fopen(key, "w")));
	fprintf(f, "%s\n", hex);
	fclose(f);
	cr_assert_eq(chmod(key, 0600), 0);
	/* Nobody listens: the dial does not block, the call times out. */
	cr_assert_eq(cn_router_open(&r, "notify", key, url), PB_OK, "%s", r.err);
	req.op_case = MAILROOM__REQUEST__OP_NOTICES;
	req.notices = &q;
	cn_health_start();
	cr_expect_eq(cn_router_call(&r, &req, 200, &resp), PB_EUNAVAIL);
	cr_expect_null(resp);
	cr_expect(strstr(r.err, "router"), "%s", r.err);
	cn_health_get(&h);
	cr_expect_eq(h.router_fails, 1);
	cn_router_close(&r);
	unlink(key);
	rmdir(dir);
}
