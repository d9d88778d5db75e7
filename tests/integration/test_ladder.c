/* The escalation ladder across router crashes. A 12345 order whose
 * platform due times are a few seconds away runs its ladder in real time:
 * "due soon" at once (one working day before is already past), "overdue"
 * at the due instant. The router is killed with SIGKILL between the steps
 * and after them; each step must still be written exactly once. */
#include "harness.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct mr_env env;

static void fini(void)
{
	cr_expect_eq(mr_env_down(&env), 0, "processes exited cleanly");
}

TestSuite(ladder, .fini = fini, .timeout = 120);

static void rfc3339_utc(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* How many records of this message have event ev and detail. */
static int count(const char *code, const char *ev, const char *detail)
{
	char *out = NULL;
	json_error_t jerr;
	int n = 0;

	cr_assert_eq(mr_audit_cmd(&env, &out, "trail", code, "--json", NULL), 0, "%s", out ? out : "");
	json_t *j = json_loads(out, 0, &jerr);
	free(out);
	cr_assert_not_null(j, "trail --json: %s", jerr.text);
	json_t *recs = json_object_get(j, "records"), *r;
	size_t i;
	json_array_foreach(recs, i, r)
	{
		const char *e = json_string_value(json_object_get(r, "event"));
		const char *d = json_string_value(json_object_get(r, "detail"));
		n += e && strcmp(e, ev) == 0 && d && strcmp(d, detail) == 0;
	}
	json_decref(j);
	return n;
}

static int wait_count(const char *code, const char *ev, const char *detail, int want, double secs)
{
	double until = mr_now_s() + secs;
	int n;

	while ((n = count(code, ev, detail)) < want && mr_now_s() < until)
		mr_sleep_ms(200);
	return n;
}

Test(ladder, each_step_once_across_kill_9)
{
	struct mr_opts o = {0};
	struct mr_hl_sign s = {0};
	struct mr_http r = {0};
	char due[40], *body;
	json_error_t jerr;

	cr_assert_eq(mr_env_init(&env, &o), 0);
	cr_assert_eq(mr_env_up(&env), 0);
	mr_wait_past_gateway_start(&env);

	time_t due_at = time(NULL) + 4;
	rfc3339_utc(due_at, due, sizeof(due));
	char *order = mr_order_json("LADDER-1", 1, "路灯不亮");
	json_t *j = json_loads(order, 0, &jerr);
	free(order);
	cr_assert_not_null(j);
	json_object_set_new(j, "sign_due_at", json_string(due));
	json_object_set_new(j, "finish_due_at", json_string(due));
	body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	cr_assert_eq(mr_post_order(NULL, &env, body, &s, &r), 0);
	free(body);
	cr_assert_eq(r.status, 201, "%s", r.body);
	json_t *resp = mr_http_json(&r);
	cr_assert_not_null(resp);
	char code[32];
	snprintf(code, sizeof(code), "%s", json_string_value(json_object_get(resp, "tracking_code")));
	json_decref(resp);
	mr_http_free(&r);

	/* Step 1 for both clocks comes at once; then the router dies. */
	cr_assert_eq(wait_count(code, "DUE_SOON", "reply", 1, 5), 1);
	cr_assert_eq(wait_count(code, "DUE_SOON", "acknowledge", 1, 5), 1);
	mr_proc_stop(&env, &env.router, SIGKILL);
	cr_assert_eq(mr_router_start(&env), 0);

	/* Step 2 at the due instant, written by the restarted router. */
	cr_assert_eq(wait_count(code, "OVERDUE", "reply", 1, 10), 1);
	cr_assert_eq(wait_count(code, "OVERDUE", "acknowledge", 1, 5), 1);
	mr_proc_stop(&env, &env.router, SIGKILL);
	cr_assert_eq(mr_router_start(&env), 0);
	mr_sleep_ms(1000);

	/* Nothing lost, nothing doubled; the last step is days away. */
	cr_assert_eq(count(code, "DUE_SOON", "reply"), 1);
	cr_assert_eq(count(code, "DUE_SOON", "acknowledge"), 1);
	cr_assert_eq(count(code, "OVERDUE", "reply"), 1);
	cr_assert_eq(count(code, "OVERDUE", "acknowledge"), 1);
	cr_assert_eq(count(code, "SERIOUSLY_OVERDUE", "reply"), 0);
	char *out = NULL;
	cr_assert_eq(mr_audit_cmd(&env, &out, "verify", NULL), 0, "%s", out ? out : "");
	free(out);
}
