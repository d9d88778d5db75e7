/* After the answer, through the real processes: the citizen's rating
 * (before the answer 409, a level that is none 422, once only), the
 * call-back a bad rating opens and its outcome with a re-opening (back in
 * the department's queue with a new reply clock, answered again);
 * published answers on the public pages (the citizen's contact refused
 * and never shown, search, withdrawal) and /stats; the veto line's alerts
 * at 60 and 80 days for imported unanswered letters, once each, and in
 * the router's /metrics. mailroom-audit verify passes after each. */
#include "it.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>

static const struct mr_handler_spec handlers[] = {
	{"li", "roads,disclosure"},
	{"zhao", "callback"},
	{"ops", "general"},
};

#define NAME "欧阳明远"
#define PHONE "13912345678"
#define COMMENT "答复没有解决路灯问题"

static void post_letter(const char *subject, char *id, char *code, char *key)
{
	struct mr_http r;
	char body[1024];

	snprintf(body, sizeof(body),
	         "{\"channel\":\"mailbox\",\"subject\":\"%s\",\"body\":\"东门路灯坏了三天，请联系"
	         NAME "，电话 " PHONE "。\",\"contact\":{\"name\":\"" NAME "\",\"phone\":\"" PHONE "\"}}",
	         subject);
	cr_assert_eq(mr_post_message(NULL, &env, body, &r), 0);
	cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
	json_t *j = it_json(&r);
	snprintf(id, 40, "%s", it_str(j, "id"));
	snprintf(code, 40, "%s", it_str(j, "tracking_code"));
	snprintf(key, 80, "%s", it_str(j, "access_key"));
	json_decref(j);
	mr_http_free(&r);
}

/* mailroom-handler as handlers[h]. */
#define HCMD(h, out, ...) mr_handler_cmd(&env, env.handlers[h].key_path, out, __VA_ARGS__, NULL)

/* Pulls id from queue with handler h and answers it. */
static void answer(int h, const char *queue, const char *id, const char *text)
{
	char *out = NULL;
	int rc = HCMD(h, &out, "pull", "--queue", queue, "--wait", "5");

	cr_assert_eq(rc, 0, "pull: exit %d: %s", rc, out ? out : "");
	json_t *j = it_json_text(out);
	cr_assert_str_eq(it_str(j, "message.id") ? it_str(j, "message.id") : "", id);
	json_decref(j);
	free(out);
	rc = HCMD(h, &out, "reply", id, "--text", text);
	cr_assert_eq(rc, 0, "reply: exit %d: %s", rc, out ? out : "");
	free(out);
}

static long rate(const char *code, const char *key, const char *body, char **resp)
{
	struct curl_slist *hd = NULL;
	struct mr_http r;
	char path[128], auth[160];

	snprintf(path, sizeof(path), "/v1/messages/%s/rating", code);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	hd = curl_slist_append(hd, auth);
	hd = curl_slist_append(hd, "Content-Type: application/json");
	cr_assert_eq(mr_http(NULL, env.base, "POST", path, hd, body, strlen(body), 30000, &r), 0);
	curl_slist_free_all(hd);
	long status = r.status;
	*resp = r.body ? strdup(r.body) : strdup("");
	mr_http_free(&r);
	return status;
}

static void expect_error(const char *body, const char *code)
{
	json_t *j = it_json_text(body);
	cr_expect_str_eq(it_str(j, "error.code") ? it_str(j, "error.code") : "", code, "%s", body);
	json_decref(j);
}

static void verify(void)
{
	char *out = NULL;
	int rc = mr_audit_cmd(&env, &out, "verify", "--calendars", MR_SOURCE_DIR "/deploy/calendars",
	                      NULL);
	cr_expect_eq(rc, 0, "verify: exit %d: %s", rc, out ? out : "");
	free(out);
}

/* How many records of the message have this event in the public trail. */
static int count(const char *code, const char *ev)
{
	char *out = NULL;
	int n = 0;

	cr_assert_eq(mr_audit_cmd(&env, &out, "trail", code, "--json", NULL), 0, "%s", out ? out : "");
	json_t *j = it_json_text(out);
	json_t *recs = json_object_get(j, "records"), *r;
	size_t i;
	json_array_foreach(recs, i, r)
	{
		const char *e = json_string_value(json_object_get(r, "event"));
		n += e && strcmp(e, ev) == 0;
	}
	cr_expect(!strstr(out, COMMENT), "the public trail shows the comment");
	json_decref(j);
	free(out);
	return n;
}

/* report channels' satisfaction row of queue and channel mailbox, today. */
static json_t *sat_row(const char *queue)
{
	char *out = NULL, day[16];
	time_t t = time(NULL) + 8 * 3600;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	int rc = mr_audit_cmd(&env, &out, "report", "channels", "--from", day, "--to", day, "--format",
	                      "json", "--calendars", MR_SOURCE_DIR "/deploy/calendars", NULL);
	cr_assert_eq(rc, 0, "report: exit %d: %s", rc, out ? out : "");
	json_t *j = it_json_text(out), *r, *found = NULL;
	size_t i;
	free(out);
	json_array_foreach(json_object_get(j, "satisfaction"), i, r)
	{
		const char *q = json_string_value(json_object_get(r, "queue"));
		const char *c = json_string_value(json_object_get(r, "channel"));
		if (q && c && strcmp(q, queue) == 0 && strcmp(c, "mailbox") == 0)
			found = json_incref(r);
	}
	json_decref(j);
	cr_assert_not_null(found, "no satisfaction row for %s", queue);
	return found;
}

static long num(json_t *j, const char *k)
{
	return (long)json_integer_value(json_object_get(j, k));
}

Test(rating, once_after_the_answer_and_the_callback_reopens, .init = it_init, .fini = it_fini,
     .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 3};
	char id[40], code[40], key[80], *resp = NULL, *out = NULL, due1[64];
	struct mr_http r;
	int rc;

	IT_UP(&o);
	post_letter("路灯不亮", id, code, key);

	cr_expect_eq(rate(code, key, "{\"level\":\"satisfied\"}", &resp), 409, "%s", resp);
	expect_error(resp, "not_replied");
	free(resp);

	answer(0, "roads", id, "已安排维修。");
	cr_expect_eq(rate(code, key, "{\"level\":\"great\"}", &resp), 422, "%s", resp);
	expect_error(resp, "invalid_level");
	free(resp);
	cr_expect_eq(rate(code, key, "{\"level\":\"satisfied\",\"stars\":5}", &resp), 400, "%s", resp);
	free(resp);
	cr_expect_eq(rate(code, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "{\"level\":\"satisfied\"}", &resp),
	             404, "%s", resp);
	free(resp);

	cr_assert_eq(rate(code, key, "{\"level\":\"dissatisfied\",\"comment\":\"" COMMENT "\"}", &resp),
	             201, "%s", resp);
	json_t *j = it_json_text(resp);
	cr_expect_str_eq(it_str(j, "rating.level") ? it_str(j, "rating.level") : "", "dissatisfied");
	json_decref(j);
	free(resp);
	cr_expect_eq(rate(code, key, "{\"level\":\"very_satisfied\"}", &resp), 409, "%s", resp);
	expect_error(resp, "already_rated");
	free(resp);

	/* The call-back queue's handler sees it open. */
	rc = HCMD(1, &out, "callbacks");
	cr_assert_eq(rc, 0, "callbacks: exit %d: %s", rc, out ? out : "");
	j = it_json_text(out);
	cr_expect_str_eq(it_str(json_array_get(json_object_get(j, "callbacks"), 0), "tracking_code")
	                     ? it_str(json_array_get(json_object_get(j, "callbacks"), 0), "tracking_code")
	                     : "",
	                 code, "%s", out);
	cr_expect_eq(json_array_size(json_object_get(j, "callbacks")), 1);
	json_decref(j);
	free(out);

	/* The call-back, by the message's department (or the call-back queue's handler). */
	rc = HCMD(0, &out, "callback", code, "--reached", "yes", "--resolved", "no", "--reopen", "yes");
	cr_expect_eq(rc, 0, "the message's own department may call back: exit %d: %s", rc, out);
	free(out);
	/* ... and only once */
	rc = HCMD(1, &out, "callback", code, "--reached", "yes", "--resolved", "no", "--reopen", "yes");
	cr_expect_eq(rc, 7, "a second call-back: exit %d: %s", rc, out ? out : "");
	expect_error(out, "no_callback");
	free(out);
	cr_assert_eq(HCMD(1, &out, "callbacks"), 0);
	j = it_json_text(out);
	cr_expect_eq(json_array_size(json_object_get(j, "callbacks")), 0, "recorded: not open: %s", out);
	json_decref(j);
	free(out);

	/* Re-opened: queued in roads again, a new reply deadline, answered again. */
	cr_assert_eq(mr_get_status(NULL, &env, code, key, &r), 0);
	j = it_json(&r);
	cr_expect_str_eq(it_str(j, "status") ? it_str(j, "status") : "", "queued", "%s", r.body);
	cr_expect_str_eq(it_str(j, "queue") ? it_str(j, "queue") : "", "roads");
	snprintf(due1, sizeof(due1), "%s", it_str(j, "reply_due_at") ? it_str(j, "reply_due_at") : "");
	cr_expect(due1[0], "a new reply deadline: %s", r.body);
	json_decref(j);
	mr_http_free(&r);
	answer(0, "roads", id, "已更换灯具，今晚恢复照明。");

	cr_expect_eq(count(code, "RATED"), 1);
	cr_expect_eq(count(code, "CALLBACK_OPENED"), 1);
	cr_expect_eq(count(code, "CALLBACK_DONE"), 1);
	cr_expect_eq(count(code, "REOPENED"), 1);
	cr_expect_eq(count(code, "REPLIED"), 2);
	json_t *row = sat_row("roads");
	cr_expect_eq(num(row, "rated"), 1);
	cr_expect_eq(num(row, "satisfied"), 0);
	cr_expect_eq(num(row, "callbacks_owed"), 1, "a bad rating under a name");
	cr_expect_eq(num(row, "callbacks_done"), 1);
	cr_expect_eq(num(row, "callbacks_on_time"), 1);
	cr_expect_eq(num(row, "reopened"), 1);
	json_decref(row);
	verify();
	IT_DOWN();
}

Test(rating, a_good_rating_opens_no_callback, .init = it_init, .fini = it_fini, .timeout = 90)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 3};
	char id[40], code[40], key[80], *resp = NULL, *out = NULL;
	int rc;

	IT_UP(&o);
	post_letter("路灯又坏", id, code, key);
	answer(0, "roads", id, "已修好。");
	cr_assert_eq(rate(code, key, "{\"level\":\"basically_satisfied\"}", &resp), 201, "%s", resp);
	free(resp);
	rc = HCMD(1, &out, "callback", code, "--reached", "no", "--resolved", "no", "--reopen", "no");
	cr_expect_eq(rc, 7, "no call-back to record: exit %d: %s", rc, out ? out : "");
	free(out);
	cr_expect_eq(count(code, "CALLBACK_OPENED"), 0);
	json_t *row = sat_row("roads");
	cr_expect_eq(num(row, "rated"), 1);
	cr_expect_eq(num(row, "satisfied"), 1);
	cr_expect_eq(num(row, "callbacks_owed"), 0);
	json_decref(row);
	verify();
	IT_DOWN();
}

static long get_page(const char *path, char **body)
{
	struct mr_http r;

	cr_assert_eq(mr_http(NULL, env.base, "GET", path, NULL, NULL, 0, 30000, &r), 0);
	long s = r.status;
	*body = strdup(r.body ? r.body : "");
	mr_http_free(&r);
	return s;
}

Test(rating, published_answers_never_show_the_contact, .init = it_init, .fini = it_fini,
     .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 3};
	char id[40], code[40], key[80], path[600], page[128], *out = NULL, *html = NULL;
	FILE *f;
	int rc;

	IT_UP(&o);
	post_letter("东门路灯", id, code, key);

	snprintf(path, sizeof(path), "%s/redacted.txt", env.dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("东门路灯坏了三天，请联系来信人，电话 139 1234 5678。\n", f);
	cr_assert_eq(fclose(f), 0);
	rc = HCMD(0, &out, "publish", code, "--subject", "东门路灯不亮", "--body-file", path);
	cr_expect_eq(rc, 7, "publishing before the answer: exit %d: %s", rc, out ? out : "");
	free(out);

	answer(0, "roads", id, "已安排维修，三日内修复。");
	/* the phone, spaced out, is still the phone */
	rc = HCMD(0, &out, "publish", code, "--subject", "东门路灯不亮", "--body-file", path);
	cr_expect_eq(rc, 8, "the phone in the text: exit %d: %s", rc, out ? out : "");
	expect_error(out, "contact_in_text");
	free(out);
	rc = HCMD(0, &out, "publish", code, "--subject", NAME "反映路灯", "--body-file", path);
	cr_expect_eq(rc, 8, "the name in the subject: exit %d: %s", rc, out ? out : "");
	free(out);

	cr_assert_not_null(f = fopen(path, "w"));
	fputs("东门路灯坏了三天，请尽快修复。\n", f);
	cr_assert_eq(fclose(f), 0);
	rc = HCMD(2, &out, "publish", code, "--subject", "东门路灯不亮", "--body-file", path);
	cr_expect_eq(rc, 5, "another department's handler: exit %d: %s", rc, out ? out : "");
	free(out);
	rc = HCMD(0, &out, "publish", code, "--subject", "东门路灯不亮", "--body-file", path);
	cr_assert_eq(rc, 0, "publish: exit %d: %s", rc, out ? out : "");
	free(out);

	cr_expect_eq(get_page("/answers", &html), 200);
	cr_expect(strstr(html, "东门路灯不亮"), "%s", html);
	cr_expect(!strstr(html, NAME) && !strstr(html, PHONE), "%s", html);
	free(html);
	cr_expect_eq(get_page("/answers?q=%E4%B8%89%E6%97%A5", &html), 200);   /* 三日: in the reply */
	cr_expect(strstr(html, "东门路灯不亮"), "search by the reply: %s", html);
	free(html);
	cr_expect_eq(get_page("/answers?q=%E6%B0%B4%E7%AE%A1", &html), 200);   /* 水管: nowhere */
	cr_expect(!strstr(html, "东门路灯不亮"), "%s", html);
	free(html);
	snprintf(page, sizeof(page), "/answers/%s", id);
	cr_expect_eq(get_page(page, &html), 200);
	cr_expect(strstr(html, "请尽快修复") && strstr(html, "三日内修复"), "%s", html);
	cr_expect(!strstr(html, NAME) && !strstr(html, PHONE) && !strstr(html, code), "%s", html);
	free(html);
	cr_expect_eq(get_page("/stats", &html), 200);
	cr_expect(strstr(html, "<table") && strstr(html, "局长信箱"), "%s", html);
	free(html);

	rc = HCMD(0, &out, "unpublish", code, "--reason", "来信人要求撤下");
	cr_assert_eq(rc, 0, "unpublish: exit %d: %s", rc, out ? out : "");
	free(out);
	cr_expect_eq(get_page(page, &html), 404);
	free(html);
	cr_expect_eq(get_page("/answers", &html), 200);
	cr_expect(!strstr(html, "东门路灯不亮"), "%s", html);
	free(html);
	cr_expect_eq(get_page("/answers/NOTANID", &html), 404);
	free(html);
	cr_expect_eq(count(code, "PUBLISHED"), 1);
	cr_expect_eq(count(code, "UNPUBLISHED"), 1);
	verify();
	IT_DOWN();
}

/* "YYYY-MM-DDTHH:MM:SS+08:00", days ago. */
static void days_ago(int days, char *buf, size_t len)
{
	time_t t = time(NULL) - (time_t)days * 86400 + 8 * 3600;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

static int veto_count(const char *code)
{
	return count(code, "VETO_ALERT");
}

Test(rating, the_veto_line_at_60_and_80_days, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {
		.handlers = handlers,
		.nhandlers = 3,
		.extra_ini = "[handler.ops]\nimport = yes\n[router]\nmetrics_addr = 127.0.0.1\n"
		             "metrics_port = 0\n",
	};
	char path[600], d85[40], d65[40], d84[40], codes[3][40], *out = NULL, *err = NULL;
	FILE *f;
	int rc;

	IT_UP(&o);
	days_ago(85, d85, sizeof(d85));
	days_ago(65, d65, sizeof(d65));
	days_ago(84, d84, sizeof(d84));
	snprintf(path, sizeof(path), "%s/old.jsonl", env.dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fprintf(f,
	        "{\"ref\":\"V-1\",\"channel\":\"mailbox\",\"received_at\":\"%s\",\"subject\":\"积水\","
	        "\"body\":\"小区积水。\",\"events\":[]}\n"
	        "{\"ref\":\"V-2\",\"channel\":\"mailbox\",\"received_at\":\"%s\",\"subject\":\"噪音\","
	        "\"body\":\"夜间施工噪音。\",\"events\":[]}\n"
	        "{\"ref\":\"V-3\",\"channel\":\"mailbox\",\"received_at\":\"%s\",\"subject\":\"垃圾\","
	        "\"body\":\"垃圾清运不及时。\",\"events\":[{\"type\":\"replied\",\"at\":\"%s\","
	        "\"text\":\"已处理。\",\"by\":\"王五\"}]}\n",
	        d85, d65, d85, d84);
	cr_assert_eq(fclose(f), 0);
	rc = mr_admin_cmd(&env, env.handlers[2].key_path, &out, &err, "import", "--file", path, NULL);
	cr_assert_eq(rc, 0, "import: exit %d: %s %s", rc, out ? out : "", err ? err : "");
	json_t *sum = it_json_text(out);
	for (int i = 0; i < 3; i++)
		snprintf(codes[i], sizeof(codes[i]), "%s",
		         it_str(json_array_get(it_get(sum, "results"), (size_t)i), "tracking_code"));
	json_decref(sum);
	free(out);
	free(err);

	/* The writer takes due timers on its next tick. */
	double until = mr_now_s() + 10;
	while ((veto_count(codes[0]) < 2 || veto_count(codes[1]) < 1) && mr_now_s() < until)
		mr_sleep_ms(200);
	cr_expect_eq(veto_count(codes[0]), 2, "85 days unanswered: the 60- and the 80-day alert");
	cr_expect_eq(veto_count(codes[1]), 1, "65 days unanswered: the 60-day alert");
	cr_expect_eq(veto_count(codes[2]), 0, "answered: no alert");

	/* Restarted, nothing is written twice. */
	cr_assert_eq(mr_proc_stop(&env, &env.router, SIGTERM), 0);
	cr_assert_eq(mr_router_start(&env), 0);
	mr_sleep_ms(1500);
	cr_expect_eq(veto_count(codes[0]), 2);
	cr_expect_eq(veto_count(codes[1]), 1);

	/* The router's /metrics counts them. */
	char *log = mr_read_text(env.router.log, NULL), *at, url[128];
	int mport = 0;
	cr_assert(log && (at = strstr(log, "metrics on http://127.0.0.1:")), "%s", log ? log : "");
	mport = atoi(at + strlen("metrics on http://127.0.0.1:"));
	free(log);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", mport);
	struct mr_http r;
	cr_assert_eq(mr_http(NULL, url, "GET", "/metrics", NULL, NULL, 0, 30000, &r), 0);
	cr_expect(strstr(r.body, "mailroom_veto_cases{queue=\"general\",level=\"1\",days=\"60\"} 2"),
	          "%s", r.body);
	cr_expect(strstr(r.body, "mailroom_veto_cases{queue=\"general\",level=\"2\",days=\"80\"} 1"),
	          "%s", r.body);
	mr_http_free(&r);
	verify();
	IT_DOWN();
}

Test(rating, a_decision_is_published_without_the_applicant, .init = it_init, .fini = it_fini,
     .timeout = 90)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 3};
	struct mr_http r;
	char code[40], id[40], path[600], *out = NULL;
	FILE *f;
	int rc;

	IT_UP(&o);
	cr_assert_eq(mr_post_disclosure(NULL, &env,
	                                "{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"" NAME "\","
	                                "\"id_type\":\"resident_id\",\"id_number\":\"11010519491231002X\","
	                                "\"phone\":\"" PHONE "\"},\"description\":\"申请公开本机关2024年"
	                                "道路维修经费预算。\",\"form\":\"electronic\",\"delivery\":\"email\","
	                                "\"submission_mode\":\"online\"}",
	                                &r),
	             0);
	cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
	json_t *j = it_json(&r);
	snprintf(id, sizeof(id), "%s", it_str(j, "id"));
	snprintf(code, sizeof(code), "%s", it_str(j, "tracking_code"));
	json_decref(j);
	mr_http_free(&r);
	rc = HCMD(0, &out, "pull", "--queue", "disclosure", "--wait", "5");
	cr_assert_eq(rc, 0, "pull: exit %d: %s", rc, out ? out : "");
	free(out);
	rc = HCMD(0, &out, "disclosure", "decide", id, "--outcome", "disclosed", "--text",
	          "予以公开，见附件。");
	cr_assert_eq(rc, 0, "decide: exit %d: %s", rc, out ? out : "");
	free(out);

	snprintf(path, sizeof(path), "%s/redacted.txt", env.dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("申请人" NAME "申请公开本机关2024年道路维修经费预算。\n", f);
	cr_assert_eq(fclose(f), 0);
	rc = HCMD(0, &out, "publish", code, "--subject", "道路维修经费", "--body-file", path);
	cr_expect_eq(rc, 8, "the applicant's name: exit %d: %s", rc, out ? out : "");
	expect_error(out, "contact_in_text");
	free(out);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("身份证 11010519491231002X\n", f);
	cr_assert_eq(fclose(f), 0);
	rc = HCMD(0, &out, "publish", code, "--subject", "道路维修经费", "--body-file", path);
	cr_expect_eq(rc, 8, "the applicant's identity number: exit %d: %s", rc, out ? out : "");
	free(out);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("申请公开本机关2024年道路维修经费预算。\n", f);
	cr_assert_eq(fclose(f), 0);
	rc = HCMD(0, &out, "publish", code, "--subject", "道路维修经费", "--body-file", path);
	cr_expect_eq(rc, 0, "publish: exit %d: %s", rc, out ? out : "");
	free(out);
	verify();
	IT_DOWN();
}
