/* With the router gone the gateway answers 503 with Retry-After, and
 * nothing it refused turns up later; once the router is back, messages
 * are accepted again. */
#include "it.h"
#include "pb_err.h"
#include "st.h"

#include <signal.h>
#include <stdlib.h>

struct seen {
	int refused, accepted, total;
};

static int count(const Mailroom__StoredMessage *m, void *arg)
{
	struct seen *s = arg;

	s->total++;
	if (m->subject && strcmp(m->subject, "路由器停机时的来信") == 0)
		s->refused++;
	if (m->subject && strcmp(m->subject, "路由器恢复后的来信") == 0)
		s->accepted++;
	return 0;
}

static void post_while_down(const char *what)
{
	static const char msg[] =
		"{\"channel\":\"mailbox\",\"subject\":\"路由器停机时的来信\",\"body\":\"这封信不应被保存。\"}";
	struct mr_http r;

	cr_assert_eq(mr_post_message(NULL, &env, msg, &r), 0, "%s: no HTTP answer", what);
	cr_expect_eq(r.status, 503, "%s: HTTP %ld (wanted 503): %s", what, r.status, r.body);
	cr_expect(r.retry_after[0] && atoi(r.retry_after) > 0, "%s: 503 without a Retry-After", what);
	it_expect_error(&r, NULL);
	cr_expect_lt(r.total_s, 8.0, "%s: the 503 took %.1f s", what, r.total_s);
	mr_http_free(&r);
}

Test(router_down, unavailable_then_back, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.router_timeout_ms = 2000};
	static const char back[] =
		"{\"channel\":\"mailbox\",\"subject\":\"路由器恢复后的来信\",\"body\":\"这封信应被保存。\"}";
	struct mr_http r;

	IT_UP(&o);
	cr_assert_eq(mr_post_message(NULL, &env, back, &r), 0);
	cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
	mr_http_free(&r);

	/* An orderly stop, then a crash: both must give 503. */
	mr_proc_stop(&env, &env.router, SIGTERM);
	post_while_down("router stopped");
	post_while_down("router stopped, second try");
	cr_expect(mr_proc_alive(&env.gateway), "gateway died without its router");

	/* The gateway reports the missing router rather than hiding it. */
	cr_assert_eq(mr_http(NULL, env.base, "GET", "/healthz", NULL, NULL, 0, 10000, &r), 0);
	cr_expect_eq(r.status, 503, "/healthz with no router: HTTP %ld: %s", r.status, r.body);
	mr_http_free(&r);

	cr_assert_eq(mr_router_start(&env), 0);
	/* Give the gateway's reconnect a moment, bounded. */
	long status = 0;
	for (int i = 0; i < 100 && status != 201; i++) {
		if (i)
			mr_sleep_ms(100);
		cr_assert_eq(mr_post_message(NULL, &env, back, &r), 0);
		status = r.status;
		cr_expect(status == 201 || status == 503, "after restart: HTTP %ld: %s", status, r.body);
		mr_http_free(&r);
	}
	cr_expect_eq(status, 201, "router back, but POST still answers %ld", status);

	mr_proc_stop(&env, &env.router, SIGKILL);
	post_while_down("router killed");
	cr_assert_eq(mr_router_start(&env), 0);
	status = 0;
	for (int i = 0; i < 100 && status != 201; i++) {
		if (i)
			mr_sleep_ms(100);
		cr_assert_eq(mr_post_message(NULL, &env, back, &r), 0);
		status = r.status;
		mr_http_free(&r);
	}
	cr_expect_eq(status, 201, "router back after a crash, but POST still answers %ld", status);

	/* Wait out anything a client library might still resend, then look
	 * at what the store holds. */
	mr_sleep_ms(2500);
	mr_proc_stop(&env, &env.router, SIGTERM);
	st_env *st;
	st_txn *t;
	struct seen s = {0};
	cr_assert_eq(st_open(env.store, 0, 1, NULL, &st), PB_OK);
	cr_assert_eq(st_txn_begin(st, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_msg_each(t, count, &s), PB_OK);
	st_txn_abort(t);
	st_close(st);
	cr_expect_eq(s.refused, 0, "%d message(s) answered with 503 were stored anyway", s.refused);
	cr_expect_geq(s.accepted, 3, "only %d accepted messages stored", s.accepted);
	cr_expect_eq(s.total, s.refused + s.accepted);

	cr_expect(mr_proc_alive(&env.gateway), "gateway died");
	IT_DOWN();
}
