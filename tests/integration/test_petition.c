/* Petitions transferred from the petition system (docs/petition-transfer.md),
 * through the real router and gateway, pushed by the stand-in petition
 * system (tests/petition-system): the signed push and its refusals,
 * idempotence on the petition number (a retry, a timeout, a changed
 * transfer), and the clocks of 信访工作条例 in calendar days — the
 * acceptance notice in 15, the answer in 60 (+30), a review and a
 * re-review in 30 — judged by mailroom-audit overdue --now and trail, with
 * mailroom-audit verify passing. */
#include "it.h"
#include "ps.h"

#include <signal.h>
#include <stdarg.h>
#include <time.h>

#define CALDIR MR_SOURCE_DIR "/deploy/calendars"
#define DAY_MS (86400LL * 1000)
#define TZ_MS (8LL * 3600 * 1000)

static const struct mr_handler_spec handlers[] = {{"xf", "general"}};
static const struct mr_opts opts = {.handlers = handlers, .nhandlers = 1};

static struct ps petsys(void)
{
	struct ps p = {.attempts = 5, .backoff_ms = 300};

	snprintf(p.base, sizeof(p.base), "%s", env.base);
	snprintf(p.app_id, sizeof(p.app_id), "%s", MR_PETITION_APP);
	snprintf(p.secret, sizeof(p.secret), "%s", env.petition_secret);
	return p;
}

/* The Asia/Shanghai day of now, plus n days, as RFC 3339 at h:m. */
static const char *day_at(int n, int h, int m)
{
	static char bufs[4][40];
	static int next;
	char *b = bufs[next++ % 4];
	int64_t day = ((int64_t)time(NULL) * 1000 + TZ_MS) / DAY_MS + n;
	time_t t = (time_t)(day * 86400 + h * 3600 + m * 60);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(b, 40, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
	return b;
}

static const char *end_of(int n)
{
	static char bufs[4][40];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, 40, "%.10sT23:59:59+08:00", day_at(n, 0, 0));
	return b;
}

/* One forwarding time per test, so that a repeat is the same transfer. */
static long forwarded_s(void)
{
	static long t;

	if (!t)
		t = (long)time(NULL) - 60;
	return t;
}

static json_t *deliver(const char *no, const char *content, long want)
{
	struct ps p = petsys();
	struct ps_answer a;
	char *t = ps_transfer(no, "拖欠工资问题", content, forwarded_s());

	cr_assert_not_null(t);
	cr_assert_eq(ps_deliver(&p, t, &a), 0, "no answer for %s after %d tries", no, a.tries);
	free(t);
	cr_assert_eq(a.status, want, "%s: HTTP %ld, wanted %ld: %s", no, a.status, want, a.body);
	return it_json_text(a.body);
}

static json_t *handler(int want_ok, ...)
{
	char *argv[12], *out = NULL;
	const char *s;
	int n = 0, rc;
	va_list ap;

	va_start(ap, want_ok);
	while ((s = va_arg(ap, const char *)) != NULL && n < 11)
		argv[n++] = (char *)s;
	va_end(ap);
	while (n < 12)
		argv[n++] = NULL;
	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, argv[0], argv[1], argv[2], argv[3],
	                    argv[4], argv[5], argv[6], argv[7], argv[8], argv[9], NULL);
	if (want_ok)
		cr_assert_eq(rc, 0, "%s %s: exit %d: %s", argv[0], argv[1], rc, out ? out : "");
	else
		cr_assert_neq(rc, 0, "%s %s was taken: %s", argv[0], argv[1], out ? out : "");
	json_t *j = it_json_text(out);
	free(out);
	return j;
}

static json_t *audit(const char *what, const char *now, const char *id)
{
	char *out = NULL;
	int rc = strcmp(what, "trail") == 0
	             ? mr_audit_cmd(&env, &out, "trail", id, "--json", NULL)
	             : mr_audit_cmd(&env, &out, what, "--calendars", CALDIR, "--now", now, "--json",
	                            NULL);

	cr_assert_eq(rc, 0, "mailroom-audit %s: exit %d: %s", what, rc, out ? out : "");
	json_t *j = it_json_text(out);
	free(out);
	return j;
}

/* The clock ("ack" or "reply") overdue lists for the tracking code. */
static int listed(const char *now, const char *code, const char *clock)
{
	json_t *od = audit("overdue", now, NULL), *e;
	size_t i;
	int found = 0;

	json_array_foreach(it_get(od, "overdue"), i, e)
		found |= strcmp(it_str(e, "clock"), clock) == 0 && it_str(e, "tracking_code") &&
		         strcmp(it_str(e, "tracking_code"), code) == 0;
	json_decref(od);
	return found;
}

static void expect_str(json_t *j, const char *path, const char *want)
{
	const char *got = it_str(j, path);

	cr_expect(got && strcmp(got, want) == 0, "%s is %s, wanted %s", path, got ? got : "(none)",
	          want);
}

/* SIGSTOP is delivered when the process next runs: wait until it stands. */
static void stop_router(void)
{
	char path[64], buf[256];

	cr_assert_eq(kill(env.router.pid, SIGSTOP), 0);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)env.router.pid);
	for (int i = 0; i < 400; i++) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		if (f)
			fclose(f);
		buf[n] = '\0';
		const char *p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'T')
			return;
		mr_sleep_ms(5);
	}
	cr_assert_fail("the router did not stop");
}

static void verify_ok(void)
{
	char *out = NULL;
	int rc = mr_audit_cmd(&env, &out, "verify", "--json", NULL);

	cr_expect_eq(rc, 0, "mailroom-audit verify: exit %d: %s", rc, out ? out : "");
	free(out);
}

Test(petition, push_signature_and_idempotence, .init = it_init, .fini = it_fini, .timeout = 60)
{
	IT_UP(&opts);
	mr_wait_past_gateway_start(&env);
	struct ps p = petsys();
	struct ps_answer a;

	json_t *first = deliver("XF-A-0001", "单位拖欠三个月工资。", 201);
	char id[40];
	snprintf(id, sizeof(id), "%s", it_str(first, "id"));
	expect_str(first, "channel", "petition");
	expect_str(first, "petition_no", "XF-A-0001");
	/* Calendar days from the day of receipt, to the end of the day. */
	expect_str(first, "ack_due_at", end_of(15));
	expect_str(first, "reply_due_at", end_of(60));
	cr_expect(json_is_object(it_get(first, "receipt")), "no receipt");
	cr_expect(!json_is_true(it_get(first, "duplicate")));

	/* The same transfer again: the first message, 200, nothing new. */
	json_t *again = deliver("XF-A-0001", "单位拖欠三个月工资。", 200);
	expect_str(again, "id", id);
	cr_expect(json_is_true(it_get(again, "duplicate")));
	json_decref(again);

	/* The same number with other content. */
	json_t *changed = deliver("XF-A-0001", "单位拖欠半年工资。", 409);
	expect_str(changed, "error.code", "petition_conflict");
	json_decref(changed);

	/* Refusals, each alone at fault. */
	char *t = ps_transfer("XF-A-0002", "噪音", "夜间施工。", forwarded_s());
	static const struct {
		int fault;
		const char *code;
	} bad[] = {{PS_BAD_SIGNATURE, "bad_signature"}, {PS_STALE, "stale"},
	           {PS_UNKNOWN_APP, "unknown_app"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(ps_push_once(&p, t, bad[i].fault, &a), 0);
		cr_expect_eq(a.status, 401, "%s: HTTP %ld: %s", bad[i].code, a.status, a.body);
		json_t *e = it_json_text(a.body);
		expect_str(e, "error.code", bad[i].code);
		json_decref(e);
	}
	/* The 12345 platform's secret is not the petition system's. */
	struct ps wrong = p;
	snprintf(wrong.secret, sizeof(wrong.secret), "%s", env.hotline_secret);
	cr_assert_eq(ps_push_once(&wrong, t, 0, &a), 0);
	cr_expect_eq(a.status, 401, "the 12345 secret was taken: %s", a.body);
	free(t);
	/* A body that is not a transfer. */
	cr_assert_eq(ps_push_once(&p, "{\"petition_no\":\"XF-A-0003\"}", 0, &a), 0);
	cr_expect_eq(a.status, 400, "HTTP %ld: %s", a.status, a.body);

	/* A timeout: the router stands still, the push gives up, and the
	 * retry finds the transfer stored once or stores it now. */
	stop_router();
	t = ps_transfer("XF-A-0004", "欠薪", "工地拖欠农民工工资。", forwarded_s());
	struct ps quick = p;
	quick.timeout_ms = 1500;
	ps_push_once(&quick, t, 0, &a);
	cr_expect(a.status == 0 || a.status == 503, "with the router stopped: HTTP %ld", a.status);
	cr_assert_eq(kill(env.router.pid, SIGCONT), 0);
	cr_assert_eq(ps_deliver(&p, t, &a), 0, "no answer after the router came back");
	cr_expect(a.status == 201 || a.status == 200, "retry: HTTP %ld: %s", a.status, a.body);
	json_t *r1 = it_json_text(a.body);
	cr_assert_eq(ps_deliver(&p, t, &a), 0);
	cr_expect_eq(a.status, 200, "second retry: HTTP %ld: %s", a.status, a.body);
	json_t *r2 = it_json_text(a.body);
	expect_str(r2, "id", it_str(r1, "id"));
	free(t);
	json_decref(r1);
	json_decref(r2);

	/* Two petitions in the log, no more. */
	char *out = NULL;
	char today[11];
	snprintf(today, sizeof(today), "%.10s", day_at(0, 0, 0));
	int rc = mr_audit_cmd(&env, &out, "report", "channels", "--from", today, "--to", today,
	                      "--format", "json", "--calendars", CALDIR, NULL);
	cr_assert_eq(rc, 0, "report: exit %d: %s", rc, out ? out : "");
	json_t *rep = it_json_text(out);
	free(out);
	cr_expect_eq(json_integer_value(it_get(rep, "channels.petition.received")), 2,
	             "petitions received: %lld",
	             (long long)json_integer_value(it_get(rep, "channels.petition.received")));
	json_decref(rep);
	json_decref(first);
	verify_ok();
	IT_DOWN();
}

Test(petition, acceptance_notice_clock, .init = it_init, .fini = it_fini, .timeout = 60)
{
	IT_UP(&opts);
	mr_wait_past_gateway_start(&env);

	json_t *d = deliver("XF-D-0001", "物业侵占公共绿地。", 201);
	json_t *e = deliver("XF-E-0001", "要求撤销已生效判决。", 201);
	const char *dcode = it_str(d, "tracking_code"), *ecode = it_str(e, "tracking_code");

	/* Not accepted: the notice answers it; nothing is overdue after. */
	json_t *v = handler(1, "petition", "not-accept", it_str(e, "id"), "--text",
	                    "属于诉讼程序，不予受理，请向人民法院申请再审。", NULL);
	expect_str(v, "status", "replied");
	expect_str(v, "petition.stage", "not_accepted");
	json_decref(v);
	v = handler(0, "petition", "accept", it_str(e, "id"), NULL);
	expect_str(v, "error.code", "already_decided");
	json_decref(v);

	/* No notice: due at the end of the 15th day, overdue after it. */
	cr_expect(!listed(day_at(15, 23, 0), dcode, "ack"), "acknowledgement overdue too early");
	cr_expect(listed(day_at(16, 0, 30), dcode, "ack"), "acknowledgement not overdue on day 16");
	cr_expect(!listed(day_at(16, 0, 30), dcode, "reply"), "reply overdue on day 16");
	cr_expect(listed(day_at(61, 0, 30), dcode, "reply"), "reply not overdue on day 61");
	cr_expect(!listed(day_at(100, 0, 0), ecode, "ack") && !listed(day_at(100, 0, 0), ecode, "reply"),
	          "a petition not accepted is listed overdue");

	/* The generic steps are not a petition's. */
	v = handler(0, "extend", it_str(d, "id"), "--working-days", "5", "--approver", "王", "--reason",
	            "复杂", NULL);
	expect_str(v, "error.code", "use_petition_steps");
	json_decref(v);
	json_decref(d);
	json_decref(e);
	verify_ok();
	IT_DOWN();
}

static void pull_one(const char *id)
{
	json_t *j = handler(1, "pull", "--queue", "general", NULL);

	expect_str(j, "message.id", id);
	json_decref(j);
}

Test(petition, answer_extension_and_reviews, .init = it_init, .fini = it_fini, .timeout = 60)
{
	IT_UP(&opts);
	mr_wait_past_gateway_start(&env);

	json_t *c = deliver("XF-C-0001", "小区违建长期未拆除。", 201);
	char id[40], code[20];
	snprintf(id, sizeof(id), "%s", it_str(c, "id"));
	snprintf(code, sizeof(code), "%s", it_str(c, "tracking_code"));
	json_decref(c);

	/* Taking it is not the acceptance notice. */
	pull_one(id);
	cr_expect(listed(day_at(16, 0, 30), code, "ack"), "a pull acknowledged the petition");
	json_t *v = handler(0, "petition", "answer", id, "--text", "答复", NULL);
	expect_str(v, "error.code", "not_in_handling");
	json_decref(v);

	v = handler(1, "petition", "accept", id, NULL);
	expect_str(v, "petition.stage", "accepted");
	expect_str(v, "reply_due_at", end_of(60));
	json_decref(v);
	cr_expect(!listed(day_at(16, 0, 30), code, "ack"), "accepted, yet the notice is overdue");

	/* One extension of at most 30 days. */
	v = handler(0, "petition", "extend", id, "--days", "31", "--approver", "王局长", "--reason",
	            "需现场勘验", NULL);
	json_decref(v);
	v = handler(1, "petition", "extend", id, "--days", "30", "--approver", "王局长", "--reason",
	            "需现场勘验", NULL);
	expect_str(v, "reply_due_at", end_of(90));
	json_decref(v);
	v = handler(0, "petition", "extend", id, "--days", "1", "--approver", "王局长", "--reason",
	            "再延", NULL);
	expect_str(v, "error.code", "extension_cap");
	json_decref(v);
	cr_expect(!listed(day_at(90, 23, 0), code, "reply"), "reply overdue before its extended due");
	cr_expect(listed(day_at(91, 0, 30), code, "reply"), "reply not overdue after 90 days");

	v = handler(1, "petition", "answer", id, "--text", "经核查，已责令限期拆除。", NULL);
	expect_str(v, "status", "replied");
	expect_str(v, "petition.stage", "answered");
	json_decref(v);
	cr_expect(!listed(day_at(91, 0, 30), code, "reply"), "answered, yet overdue");
	/* What the petition system learns by asking again. */
	v = deliver("XF-C-0001", "小区违建长期未拆除。", 200);
	expect_str(v, "petition.stage", "answered");
	expect_str(v, "reply.text", "经核查，已责令限期拆除。");
	cr_expect(!it_get(v, "contact"), "the petitioner was sent back");
	json_decref(v);

	/* 复查: reopened, its answer due in 30 days from the request. */
	v = handler(0, "petition", "rereview", id, NULL);
	expect_str(v, "error.code", "no_review_answer");
	json_decref(v);
	v = handler(1, "petition", "review", id, NULL);
	expect_str(v, "status", "queued");
	expect_str(v, "petition.stage", "review");
	expect_str(v, "reply_due_at", end_of(30));
	json_decref(v);
	cr_expect(!listed(day_at(30, 23, 0), code, "reply"), "review overdue too early");
	cr_expect(listed(day_at(31, 0, 30), code, "reply"), "review answer not overdue on day 31");
	pull_one(id);
	v = handler(1, "petition", "answer", id, "--text", "复查意见：维持原处理意见。", NULL);
	expect_str(v, "petition.stage", "review_answered");
	json_decref(v);

	/* 复核, then nothing more. */
	v = handler(1, "petition", "rereview", id, NULL);
	expect_str(v, "petition.stage", "rereview");
	expect_str(v, "reply_due_at", end_of(30));
	json_decref(v);
	pull_one(id);
	v = handler(1, "petition", "answer", id, "--text", "复核意见：维持。", NULL);
	expect_str(v, "petition.stage", "rereview_answered");
	json_decref(v);
	v = handler(0, "petition", "review", id, NULL);
	expect_str(v, "error.code", "not_answered");
	json_decref(v);

	/* The trail shows each step, signed, and the store agrees with it. */
	json_t *tr = audit("trail", NULL, code);
	static const char *const want[] = {"PETITION_ACCEPTED", "PETITION_EXTENDED",
	                                   "PETITION_ANSWERED", "PETITION_REVIEW"};
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		json_t *r;
		size_t i;
		int seen = 0;
		json_array_foreach(it_get(tr, "records"), i, r)
			seen |= it_str(r, "event") && strcmp(it_str(r, "event"), want[k]) == 0;
		cr_expect(seen, "trail shows no %s", want[k]);
	}
	json_decref(tr);
	verify_ok();
	IT_DOWN();
}
