/* The 12345 connector end to end: the stand-in platform, mailroom-hotline,
 * the router, the gateway and mailroom-handler as a handler uses it.
 * Orders arrive by pull (and push), handler steps go back as events; a
 * revoke reaches a handler holding the lease, a returned order comes back
 * re-dispatched as the same message, an urge moves an overdue order
 * ahead, and bad orders are refused without stopping their page. */
#include "hl_it.h"
#include "it.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct hl_it hl;

static const struct mr_handler_spec handlers[] = {
	{"liu", "hotline"},
};

static void up(unsigned seed, const char *extra)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};

	cr_assert_eq(mr_env_init(&env, &o), 0);
	cr_assert_eq(hl_it_init(&env, &hl, seed, extra), 0);
	cr_assert_eq(mr_env_up(&env), 0);
	cr_assert_eq(hl_it_start(&env, &hl), 0);
}

static void down(void)
{
	char *out = NULL;

	/* Whatever the test did, the auditor must accept the trail it left:
	 * signatures, tree, state machine and deadlines. */
	cr_expect_eq(mr_audit_cmd(&env, &out, "verify", "--calendars", MR_SOURCE_DIR "/deploy/calendars",
	                          NULL),
	             0, "mailroom-audit verify: %s", out ? out : "");
	free(out);
	cr_expect_eq(hl_it_stop(&env, &hl, SIGTERM), 0, "mailroom-hotline did not stop cleanly");
	hl_it_fini(&env, &hl);
	IT_DOWN();
}

static void fini(void)
{
	hl_it_fini(&env, &hl);
	it_fini();
}

/* mailroom-handler as liu; the parsed output (NULL when not JSON). */
static json_t *handler(int *rc, ...)
{
	char *argv[24] = {MR_BIN_DIR "/workers/handler/mailroom-handler", "-c", env.ini, "--key",
	                  env.handlers[0].key_path};
	const char *a;
	char *out = NULL, *err = NULL;
	va_list ap;
	int n = 5;

	va_start(ap, rc);
	while ((a = va_arg(ap, const char *)) != NULL && n < 23)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	*rc = mr_run(&env, argv, &out, &err, 60);
	json_t *j = out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	free(err);
	return j;
}

struct status {
	long pending, dead;
	char cursor[256];
};

static int hotline_status(struct status *s)
{
	char *out = NULL;
	int rc = hl_it_cmd(&env, &out, "status", NULL);
	json_t *j = out ? json_loads(out, 0, NULL) : NULL;

	free(out);
	if (rc || !j)
		return -1;
	s->pending = (long)json_integer_value(json_object_get(j, "outbox_pending"));
	s->dead = (long)json_integer_value(json_object_get(j, "dead_letters"));
	snprintf(s->cursor, sizeof(s->cursor), "%s", it_str(j, "cursor") ? it_str(j, "cursor") : "");
	json_decref(j);
	return 0;
}

static int queue_depth_is(void *arg)
{
	int rc;
	long want = *(long *)arg;
	json_t *j = handler(&rc, "queues", NULL);
	long depth = rc == 0 ? (long)json_integer_value(it_get(json_array_get(it_get(j, "queues"), 0),
	                                                       "depth")) : -1;
	json_decref(j);
	return depth == want;
}

/* The stored cursor has passed feed item *arg (the stand-in's cursors end
 * in ".<hex position>"). */
static int cursor_at(void *arg)
{
	struct status s;
	char want[24];

	snprintf(want, sizeof(want), ".%lx", *(long *)arg);
	return hotline_status(&s) == 0 && strstr(s.cursor, want) &&
	       strcmp(strrchr(s.cursor, '.'), want) == 0;
}

static int outbox_empty(void *arg)
{
	struct status s;

	(void)arg;
	return hotline_status(&s) == 0 && s.pending == 0;
}

/* Pulls the next order; copies its id and order_no. */
static void pull_one(char *id, char *no, unsigned *seq)
{
	int rc;
	json_t *j = handler(&rc, "pull", "--queue", "hotline", "--wait", "5", NULL);

	cr_assert_eq(rc, 0, "pull: exit %d", rc);
	snprintf(id, 32, "%s", it_str(j, "message.id"));
	if (no)
		snprintf(no, 48, "%s", it_str(j, "message.hotline.order_no"));
	if (seq)
		*seq = (unsigned)json_integer_value(it_get(j, "message.hotline.dispatch_seq"));
	json_decref(j);
}

Test(hotline_pull, orders_in_events_out_with_faults, .init = it_init, .fini = fini, .timeout = 200)
{
	struct hp_stats st;
	long want = 24;
	int rc;

	up(11, NULL);
	/* 24 good orders and 4 bad ones, on pages of 20. */
	cr_assert_eq(hp_feed_random(hl.platform, 12, 0), 0);
	for (int v = 0; v < 4; v++)
		cr_assert_eq(hp_invalid(hl.platform, v), 0);
	cr_assert_eq(hp_feed_random(hl.platform, 12, 0), 0);
	hp_fault_burst(hl.platform, HP_F_5XX, 2);
	hp_fault_burst(hl.platform, HP_F_RESET, 1);
	hp_fault_burst(hl.platform, HP_F_DUP_PAGE, 1);
	cr_assert_eq(hl_it_wait(queue_depth_is, &want, 30000), 0, "the orders did not all arrive");

	/* A push of an order that was already pulled is a repeat. */
	char *first = hp_feed_json(hl.platform, 0);
	struct mr_hl_sign sg = {0};
	struct mr_http r;
	mr_wait_past_gateway_start(&env);
	cr_assert_eq(mr_post_order(NULL, &env, first, &sg, &r), 0);
	cr_expect_eq(r.status, 200, "push after pull: HTTP %ld %s", r.status, r.body);
	mr_http_free(&r);
	free(first);

	/* Every delivery fault while the events go out. */
	hp_fault_burst(hl.platform, HP_F_5XX, 3);
	hp_fault_burst(hl.platform, HP_F_429, 1);
	hp_fault_burst(hl.platform, HP_F_SLOW, 1);
	hp_fault_burst(hl.platform, HP_F_RESET, 2);
	for (int i = 0; i < 24; i++) {
		char id[32], no[48];
		pull_one(id, no, NULL);
		json_decref(handler(&rc, "sign", id, NULL));
		cr_assert_eq(rc, 0, "sign %s: exit %d", id, rc);
		json_t *j = handler(&rc, "finish", id, "--text", "已处理完毕，已电话告知市民。", NULL);
		cr_assert_eq(rc, 0, "finish %s: exit %d", id, rc);
		cr_expect_str_eq(it_str(j, "hotline.state") ? it_str(j, "hotline.state") : "", "finished");
		json_decref(j);
	}
	cr_assert_eq(hl_it_wait(outbox_empty, NULL, 60000), 0, "the outbox did not empty");
	hp_stats(hl.platform, &st);
	cr_expect_eq(st.accepted, 48, "every sign and finish accepted once (%lu)", st.accepted);
	cr_expect_eq(st.conflicts + st.malformed, 0);
	cr_expect_geq(st.duplicates, 1, "the slow answer's retry is flagged as a repeat");
	cr_expect_geq(st.injected[HP_F_5XX], 5);

	/* The four bad orders were refused, each with a record. */
	cr_expect_eq(hl_it_verify(&env, NULL), 0, "the log is intact");
	struct status s;
	cr_assert_eq(hotline_status(&s), 0);
	cr_expect_eq(s.dead, 0);
	cr_expect_neq(s.cursor[0], '\0', "the cursor is stored");
	char *log = mr_read_text(env.router.log, NULL);
	int refusals = 0;
	for (char *p = log; p && (p = strstr(p, "hotline: refused order")); p++)
		refusals++;
	cr_expect_eq(refusals, 4, "each bad order is refused with a logged reason");
	free(log);
	down();
}

Test(hotline_pull, revoke_reaches_the_lease_holder, .init = it_init, .fini = fini, .timeout = 120)
{
	char id[32], no[48];
	long want = 1;
	int rc;

	up(12, NULL);
	hp_dispatch(hl.platform, NULL, HP_FEED, NULL, no, sizeof(no));
	cr_assert_eq(hl_it_wait(queue_depth_is, &want, 20000), 0);
	pull_one(id, NULL, NULL);
	json_decref(handler(&rc, "sign", id, NULL));
	cr_assert_eq(rc, 0);
	/* The platform withdraws it while liu works on it. */
	cr_assert_eq(hp_revoke(hl.platform, no, "市民撤回诉求"), 0);
	for (int i = 0; i < 100; i++) {
		json_decref(handler(&rc, "renew", id, NULL));
		if (rc != 0)
			break;
		mr_sleep_ms(100);
	}
	cr_expect_eq(rc, 7, "renew after the revoke: exit %d (wanted 7)", rc);
	json_t *j = handler(&rc, "finish", id, "--text", "已办结", "--lease", "00112233445566778899aabbccddeeff", NULL);
	cr_expect_eq(rc, 7);
	cr_expect_str_eq(it_str(j, "error.code") ? it_str(j, "error.code") : "", "revoked");
	json_decref(j);
	cr_expect_str_eq(hp_order_state(hl.platform, no, NULL), "revoked");

	/* The same revoke pushed as well: a repeat. Pushed with a bad
	 * signature or a replayed nonce: refused, nothing changes. */
	char *revoke = hp_feed_json(hl.platform, 1);
	struct mr_hl_sign ok = {0}, bad = {.corrupt = 1};
	struct mr_http r;
	cr_assert(revoke && strstr(revoke, "\"revoke\""), "%s", revoke);
	mr_wait_past_gateway_start(&env);
	cr_assert_eq(mr_post_order(NULL, &env, revoke, &ok, &r), 0);
	cr_expect_eq(r.status, 200, "revoke pushed after it was pulled: HTTP %ld %s", r.status, r.body);
	mr_http_free(&r);
	struct mr_hl_sign again = {.nonce = ok.used_nonce};
	cr_assert_eq(mr_post_order(NULL, &env, revoke, &again, &r), 0);
	cr_expect_eq(r.status, 401);
	it_expect_error(&r, "replay");
	mr_http_free(&r);
	cr_assert_eq(mr_post_order(NULL, &env, revoke, &bad, &r), 0);
	cr_expect_eq(r.status, 401);
	it_expect_error(&r, "bad_signature");
	mr_http_free(&r);
	free(revoke);
	/* An urge for an order never received. */
	const char *urge = "{\"order_no\":\"NEVER-SEEN\",\"dispatch_seq\":1,\"kind\":\"urge\","
	                   "\"dispatched_at\":\"2025-11-03T09:00:00+08:00\",\"reason\":\"催办\"}";
	struct mr_hl_sign s2 = {0};
	cr_assert_eq(mr_post_order(NULL, &env, urge, &s2, &r), 0);
	cr_expect_eq(r.status, 404, "urge of an unknown order: HTTP %ld %s", r.status, r.body);
	mr_http_free(&r);
	down();
}

static int platform_refused_us(void *arg)
{
	struct hp_stats st;

	hp_stats(((struct hl_it *)arg)->platform, &st);
	return st.auth_bad_signature >= 2;
}

Test(hotline_pull, the_platform_refuses_a_wrong_secret, .init = it_init, .fini = fini, .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	char path[MR_PATH];
	long want = 1;
	FILE *f;

	cr_assert_eq(mr_env_init(&env, &o), 0);
	cr_assert_eq(hl_it_init(&env, &hl, 16, NULL), 0);
	cr_assert_eq(mr_env_up(&env), 0);
	hp_dispatch(hl.platform, NULL, HP_FEED, NULL, NULL, 0);
	/* Our copy of the secret is wrong: every call is refused, nothing is
	 * ingested, and the connector keeps trying without falling over. */
	snprintf(path, sizeof(path), "%s/keys/platform.secret", env.dir);
	cr_assert((f = fopen(path, "we")));
	fprintf(f, "%064d\n", 7);
	fclose(f);
	cr_assert_eq(hl_it_start(&env, &hl), 0);
	cr_assert_eq(hl_it_wait(platform_refused_us, &hl, 10000), 0, "no signed call reached the platform");
	struct hp_stats st;
	hp_stats(hl.platform, &st);
	cr_expect_eq(st.pages, 0);
	char *log = mr_read_text(hl.hotline.log, NULL);
	cr_expect(log && strstr(log, "refused our signature"), "no error logged");
	free(log);
	cr_assert_eq(hl_it_stop(&env, &hl, SIGTERM), 0);
	/* Put right, the same order comes in. */
	cr_assert((f = fopen(path, "we")));
	fprintf(f, "%s\n", hl.secret_hex);
	fclose(f);
	cr_assert_eq(hl_it_start(&env, &hl), 0);
	cr_assert_eq(hl_it_wait(queue_depth_is, &want, 20000), 0);
	down();
}

Test(hotline_pull, a_returned_order_comes_back_as_the_same_message, .init = it_init, .fini = fini,
     .timeout = 120)
{
	char id[32], id2[32], no[48], no2[48];
	unsigned seq;
	long want = 1;
	int rc;

	up(13, NULL);
	hp_dispatch(hl.platform, NULL, HP_FEED, NULL, no, sizeof(no));
	hp_fault_burst(hl.platform, HP_F_REDISPATCH, 1);
	cr_assert_eq(hl_it_wait(queue_depth_is, &want, 20000), 0);
	pull_one(id, NULL, NULL);
	json_t *j = handler(&rc, "return", id, "--reason-code", "NOT_OURS", "--text",
	                    "不属于本单位职责（依据《条例》第十条）", NULL);
	cr_assert_eq(rc, 0, "return: exit %d", rc);
	cr_expect_str_eq(it_str(j, "status"), "closed");
	json_decref(j);
	/* The event goes out, the platform dispatches again, the puller brings it. */
	cr_assert_eq(hl_it_wait(queue_depth_is, &want, 30000), 0, "no re-dispatch arrived");
	pull_one(id2, no2, &seq);
	cr_expect_str_eq(id2, id, "the same message");
	cr_expect_str_eq(no2, no);
	cr_expect_eq(seq, 2);
	json_decref(handler(&rc, "sign", id2, NULL));
	cr_expect_eq(rc, 0);
	/* An extension request needs no lease; a bad time is caught at once. */
	json_decref(handler(&rc, "extend-request", id2, "--until", "tomorrow", "--text", "需协调", NULL));
	cr_expect_eq(rc, 8);
	j = handler(&rc, "extend-request", id2, "--until", "2099-01-01T18:00:00+08:00", "--text",
	            "需协调住建、水务两个部门", NULL);
	cr_expect_eq(rc, 0, "extend-request: exit %d", rc);
	cr_expect_str_eq(it_str(j, "hotline.state") ? it_str(j, "hotline.state") : "", "signed");
	json_decref(j);
	/* Signing twice is refused. */
	j = handler(&rc, "sign", id2, NULL);
	cr_expect_eq(rc, 7);
	cr_expect_str_eq(it_str(j, "error.code") ? it_str(j, "error.code") : "", "already_signed");
	json_decref(j);
	down();
}

static int dead_letters(void *arg)
{
	struct status s;

	return hotline_status(&s) == 0 && s.dead == *(long *)arg && s.pending == 0;
}

Test(hotline_pull, refused_events_become_dead_letters_and_can_be_requeued, .init = it_init,
     .fini = fini, .timeout = 120)
{
	char id[32], no[48];
	long want = 1, two = 2;
	int rc;

	up(15, NULL);
	hp_dispatch(hl.platform, NULL, HP_FEED, NULL, no, sizeof(no));
	cr_assert_eq(hl_it_wait(queue_depth_is, &want, 20000), 0);
	/* Worked on while the connector is stopped, and meanwhile withdrawn
	 * on the platform: both events will be refused there. */
	cr_assert_eq(hl_it_stop(&env, &hl, SIGTERM), 0);
	pull_one(id, NULL, NULL);
	json_decref(handler(&rc, "sign", id, NULL));
	cr_assert_eq(rc, 0);
	json_decref(handler(&rc, "finish", id, "--text", "已办结", NULL));
	cr_assert_eq(rc, 0);
	cr_assert_eq(hp_revoke(hl.platform, no, "市民撤回"), 0);
	cr_assert_eq(hl_it_start(&env, &hl), 0);
	cr_assert_eq(hl_it_wait(dead_letters, &two, 20000), 0, "no dead letters");

	char *out = NULL;
	cr_assert_eq(hl_it_cmd(&env, &out, "deadletters", NULL), 0);
	json_t *j = it_json_text(out);
	free(out);
	json_t *list = it_get(j, "dead_letters");
	cr_assert_eq(json_array_size(list), 2, "%s", json_dumps(j, 0));
	json_t *first = json_array_get(list, 0);
	cr_expect_str_eq(it_str(first, "type"), "sign");
	cr_expect_str_eq(it_str(first, "error"), "order_revoked");
	cr_expect_eq(json_integer_value(it_get(first, "http_status")), 409);
	char event_id[80];
	snprintf(event_id, sizeof(event_id), "%s", it_str(first, "event_id"));
	json_decref(j);

	/* Sent back, tried again, refused again: still two, one more alert. */
	cr_assert_eq(hl_it_cmd(&env, &out, "deadletters", "--requeue", event_id, NULL), 0);
	free(out);
	mr_sleep_ms(500);
	cr_assert_eq(hl_it_wait(dead_letters, &two, 20000), 0);
	cr_expect_eq(hl_it_cmd(&env, &out, "deadletters", "--requeue", "999999", NULL), 4);
	free(out);
	int applied, dups;
	hp_event_seen(hl.platform, event_id, &applied, &dups);
	cr_expect_eq(applied, 0, "a refused event is not applied");
	down();
}

/* A dispatch whose platform due times have passed. */
static char *overdue_json(const char *no, int hours_ago)
{
	time_t t = time(NULL) + 8 * 3600 - hours_ago * 3600;
	char due[40], acc[40];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(due, sizeof(due), "%Y-%m-%dT%H:%M:%S+08:00", &tm);
	t -= 86400;
	gmtime_r(&t, &tm);
	strftime(acc, sizeof(acc), "%Y-%m-%dT%H:%M:%S+08:00", &tm);
	json_t *j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:b},"
	                      " s:s, s:s, s:s, s:s, s:b}",
	                      "order_no", no, "dispatch_seq", 1, "kind", "dispatch", "accepted_at", acc,
	                      "dispatched_at", acc, "source", "phone", "category", "help",
	                      "category_code", "0301", "urgency", "normal", "title", "井盖缺失",
	                      "content", "路口井盖缺失，危及行人。", "citizen", "name", "赵六",
	                      "confidential", 0, "region", "110105", "lead_unit", "市城管委",
	                      "sign_due_at", due, "finish_due_at", due, "reply_required", 0);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

Test(hotline_pull, urge_moves_an_overdue_order_ahead, .init = it_init, .fini = fini, .timeout = 120)
{
	char id[32], no[48], *a = overdue_json("HPU-OLD", 48), *b = overdue_json("HPU-NEW", 2);
	long want = 2;

	up(14, NULL);
	hp_raw(hl.platform, a);
	hp_raw(hl.platform, b);
	free(a);
	free(b);
	cr_assert_eq(hl_it_wait(queue_depth_is, &want, 20000), 0);
	/* Both overdue; the older is ahead until the platform chases the newer. */
	char *urge = "{\"order_no\":\"HPU-NEW\",\"dispatch_seq\":1,\"kind\":\"urge\","
	             "\"dispatched_at\":\"2025-11-03T09:00:00+08:00\",\"reason\":\"市民多次来电催办\"}";
	hp_raw(hl.platform, urge);
	hp_raw(hl.platform, urge);   /* delivered twice: one urge */
	long at = 4;
	cr_assert_eq(hl_it_wait(cursor_at, &at, 20000), 0, "the urges were not pulled");
	pull_one(id, no, NULL);
	cr_expect_str_eq(no, "HPU-NEW", "the urged order comes first");
	pull_one(id, no, NULL);
	cr_expect_str_eq(no, "HPU-OLD");
	down();
}

/* ---- mailroom-hotline's own /metrics and /healthz ---- */
static int hl_mport;

struct want {
	const char *name;
	double at_least;
};

static int metric_reaches(void *arg)
{
	const struct want *w = arg;

	return mr_scrape_metric(hl_mport, w->name) >= w->at_least;
}

struct health {
	long status;
	const char *word;   /* in the body */
};

static int health_is(void *arg)
{
	const struct health *h = arg;
	long status;
	char *body = mr_scrape(hl_mport, "/healthz", &status);
	int ok = body && status == h->status && (!h->word || strstr(body, h->word));

	free(body);
	return ok;
}

Test(hotline_pull, health_and_metrics_follow_the_work, .init = it_init, .fini = fini,
     .timeout = 180)
{
	char extra[200], id[32];
	long depth = 5;
	int rc;

	hl_mport = mr_free_port();
	snprintf(extra, sizeof(extra),
	         "metrics_addr = 127.0.0.1\nmetrics_port = %d\nunhealthy_after_s = 2\n"
	         "unhealthy_failures = 3\n", hl_mport);
	up(21, extra);
	struct want up_ = {"mailroom_hotline_uptime_seconds", 0};
	cr_assert_eq(hl_it_wait(metric_reaches, &up_, 10000), 0, "no /metrics on port %d", hl_mport);
	long status;
	char *text = mr_scrape(hl_mport, "/metrics", &status);
	cr_assert(text && status == 200);
	cr_expect(strstr(text, "mailroom_hotline_build_info{version=\""), "%s", text);
	free(text);
	struct health ok = {200, "\"ok\""};
	cr_expect_eq(hl_it_wait(health_is, &ok, 5000), 0, "healthz is not 200 at the start");
	cr_expect_eq(mr_scrape_metric(hl_mport, "mailroom_hotline_orders_pulled_total"), 0);

	/* Five orders pulled: counted, the cursor moved, the feed caught up. */
	cr_assert_eq(hp_feed_random(hl.platform, 5, 0), 0);
	cr_assert_eq(hl_it_wait(queue_depth_is, &depth, 20000), 0, "the orders did not arrive");
	struct want pulled = {"mailroom_hotline_orders_pulled_total", 5};
	cr_assert_eq(hl_it_wait(metric_reaches, &pulled, 5000), 0);
	cr_expect_eq(mr_scrape_metric(hl_mport, "mailroom_hotline_orders_pulled_total"), 5);
	cr_expect_geq(mr_scrape_metric(hl_mport, "mailroom_hotline_cursor_advances_total"), 1);
	double age = mr_scrape_metric(hl_mport, "mailroom_hotline_last_pull_age_seconds");
	cr_expect(age >= 0 && age < 5, "last pull %g s ago", age);
	age = mr_scrape_metric(hl_mport, "mailroom_hotline_feed_lag_seconds");
	cr_expect(age >= 0 && age < 5, "caught up %g s ago", age);
	cr_expect_eq(mr_scrape_metric(hl_mport, "mailroom_hotline_router_up"), 1);

	/* The platform failing every call: the sign waits and is retried, and
	 * /healthz says the upstream is failing; then it is delivered. */
	hp_fault_rate(hl.platform, HP_F_5XX, 1.0);
	pull_one(id, NULL, NULL);
	json_decref(handler(&rc, "sign", id, NULL));
	cr_assert_eq(rc, 0, "sign %s: exit %d", id, rc);
	struct want retried = {"mailroom_hotline_delivery_retries_total", 1};
	cr_assert_eq(hl_it_wait(metric_reaches, &retried, 10000), 0, "no retry counted");
	struct health failing = {503, "upstream"};
	cr_expect_eq(hl_it_wait(health_is, &failing, 10000), 0,
	             "healthz stays 200 while the platform fails");
	cr_expect_eq(mr_scrape_metric(hl_mport, "mailroom_hotline_healthy"), 0);
	cr_expect_geq(mr_scrape_metric(hl_mport, "mailroom_hotline_upstream_consecutive_failures"), 3);
	cr_expect_eq(mr_scrape_metric(hl_mport, "mailroom_hotline_deliveries_ok_total"), 0);
	hp_faults_off(hl.platform);
	struct want delivered = {"mailroom_hotline_deliveries_ok_total", 1};
	cr_assert_eq(hl_it_wait(metric_reaches, &delivered, 15000), 0, "the sign was not delivered");
	cr_expect_eq(hl_it_wait(health_is, &ok, 10000), 0, "healthz not 200 once the platform is back");
	cr_expect_eq(mr_scrape_metric(hl_mport, "mailroom_hotline_deliveries_failed_total"), 0);

	/* The router gone: unhealthy, saying so; back once it answers. */
	cr_assert_eq(mr_proc_stop(&env, &env.router, SIGTERM) >= 0, 1);
	struct health no_router = {503, "router"};
	cr_expect_eq(hl_it_wait(health_is, &no_router, 10000), 0, "healthz 200 without a router");
	cr_expect_eq(mr_scrape_metric(hl_mport, "mailroom_hotline_router_up"), 0);
	cr_assert_eq(mr_router_start(&env), 0);
	cr_expect_eq(hl_it_wait(health_is, &ok, 30000), 0, "healthz not 200 once the router is back");
	cr_expect_eq(mr_scrape_metric(hl_mport, "mailroom_hotline_router_up"), 1);
	down();
}
