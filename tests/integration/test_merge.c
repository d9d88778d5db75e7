/* Merge (并单) and lead/assisting queues (主办/协办) through the handler
 * command line, against the real router and gateway: the refusals (a
 * queue the handler may not use, a 12345 order as a secondary, a reply
 * while an opinion is due, an opinion from a queue never asked), the
 * deadline settled on the group's earliest or kept, unmerge, the
 * citizen's view of a merged message before and after its primary's
 * answer, and mailroom-audit verify passing at the end. */
#include "it.h"

#include <stdlib.h>
#include <time.h>

static const struct mr_handler_spec handlers[] = {
	{"li", "roads, general, hotline"},   /* the lead */
	{"zhao", "roads"},
	{"wang", "supervision"},             /* the assisting queue */
};
enum { LI, ZHAO, WANG };

struct msg {
	char id[40], code[20], key[80], due[64], at[64];
};

static void post(const char *channel, const char *subject, struct msg *m)
{
	char body[512];
	struct mr_http r;
	json_t *j;

	snprintf(body, sizeof(body),
	         "{\"channel\":\"%s\",\"subject\":\"%s\",\"body\":\"%s，请尽快处理。\"}", channel,
	         subject, subject);
	cr_assert_eq(mr_post_message(NULL, &env, body, &r), 0);
	cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	snprintf(m->id, sizeof(m->id), "%s", it_str(j, "id"));
	snprintf(m->code, sizeof(m->code), "%s", it_str(j, "tracking_code"));
	snprintf(m->key, sizeof(m->key), "%s", it_str(j, "access_key"));
	snprintf(m->due, sizeof(m->due), "%s", it_str(j, "reply_due_at"));
	snprintf(m->at, sizeof(m->at), "%s", it_str(j, "received_at"));
	json_decref(j);
	mr_http_free(&r);
}

/* Runs mailroom-handler as h; the exit code wanted, the answer parsed. */
#define HANDLER(h, want, ...)                                                              \
	({                                                                                     \
		char *out_ = NULL;                                                                 \
		int rc_ = mr_handler_cmd(&env, env.handlers[h].key_path, &out_, __VA_ARGS__, NULL); \
		cr_assert_eq(rc_, want, "exit %d: %s", rc_, out_ ? out_ : "");                    \
		json_t *j_ = it_json_text(out_);                                                   \
		free(out_);                                                                        \
		j_;                                                                                \
	})

static void expect_error(json_t *j, const char *code)
{
	const char *got = it_str(j, "error.code");
	cr_expect_str_eq(got ? got : "", code);
	json_decref(j);
}

static json_t *status(const struct msg *m)
{
	struct mr_http r;
	json_t *j;

	cr_assert_eq(mr_get_status(NULL, &env, m->code, m->key, &r), 0);
	cr_assert_eq(r.status, 200, "HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	mr_http_free(&r);
	return j;
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	char *buf = arg;
	size_t have = strlen(buf), add = size * n;

	if (have + add < 65536) {
		memcpy(buf + have, p, add);
		buf[have + add] = '\0';
	}
	return add;
}

/* The /track page for m, as a browser gets it: the form's one-time token
 * first (bound to the cookie), then the code and the key posted. */
static const char *track_page(const struct msg *m)
{
	static char html[65536];
	char form[512], token[128] = "", *k, *t;
	CURL *h = curl_easy_init();
	char url[256];
	long status = 0;

	cr_assert(h);
	curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, html);
	snprintf(url, sizeof(url), "%s/track", env.base);
	curl_easy_setopt(h, CURLOPT_URL, url);
	html[0] = '\0';
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	if ((t = strstr(html, "name=\"token\" value=\"")))
		sscanf(t + strlen("name=\"token\" value=\""), "%127[^\"]", token);
	cr_assert(*token, "no token in %s", html);
	k = curl_easy_escape(h, m->key, 0);
	snprintf(form, sizeof(form), "token=%s&code=%s&key=%s", token, m->code, k);
	curl_free(k);
	html[0] = '\0';
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	cr_assert_eq(status, 200, "/track: HTTP %ld: %s", status, html);
	return html;
}

/* report channels for the day of the ISO time at, as JSON. */
static json_t *report(const char *at)
{
	char day[11], *out = NULL;
	json_t *j;

	snprintf(day, sizeof(day), "%s", at);
	int rc = mr_audit_cmd(&env, &out, "report", "channels", "--from", day, "--to", day,
	                      "--format", "json", "--calendars", MR_SOURCE_DIR "/deploy/calendars",
	                      NULL);
	cr_assert_eq(rc, 0, "report: exit %d: %s", rc, out ? out : "");
	j = it_json_text(out);
	free(out);
	return j;
}

static json_int_t num(json_t *j, const char *path)
{
	return json_integer_value(it_get(j, path));
}

static void verify(void)
{
	char *out = NULL;
	int rc = mr_audit_cmd(&env, &out, "verify", "--calendars", MR_SOURCE_DIR "/deploy/calendars",
	                      NULL);
	cr_expect_eq(rc, 0, "verify: exit %d: %s", rc, out ? out : "");
	free(out);
}

Test(merge, merge_settle_unmerge_and_the_citizens_view, .init = it_init, .fini = it_fini,
     .timeout = 60)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 3};
	struct msg p, a, b, k, ka, g;
	char order_no[48], hid[40], *out = NULL;
	struct mr_http r;
	json_t *j;

	IT_UP(&o);
	post("mailbox", "东门路灯不亮", &p);        /* roads, 15 working days */
	post("consultation", "东门路灯何时修", &a);  /* roads, 5: the earliest */
	post("mailbox", "东门路灯坏了", &b);
	post("mailbox", "北门路灯不亮", &k);
	post("consultation", "北门路灯何时修", &ka);
	post("consultation", "咨询办事时间", &g);   /* general */
	cr_assert_str_neq(a.due, p.due, "the test needs two different dues");

	/* zhao may not use general: a handler must be allowed every message
	 * named. */
	expect_error(HANDLER(ZHAO, 5, "merge", p.code, g.code, "--reason", "同一事项"),
	             "queue_forbidden");

	/* A 12345 order is never merged away. */
	mr_wait_past_gateway_start(&env);
	snprintf(order_no, sizeof(order_no), "GD%ld-0801", (long)time(NULL));
	char *oj = mr_order_json(order_no, 1, "路面塌陷");
	struct mr_hl_sign sg = {0};
	cr_assert_eq(mr_post_order(NULL, &env, oj, &sg, &r), 0);
	free(oj);
	cr_assert_eq(r.status, 201, "order: HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	snprintf(hid, sizeof(hid), "%s", it_str(j, "id"));
	json_decref(j);
	mr_http_free(&r);
	expect_error(HANDLER(LI, 7, "merge", p.code, hid, "--reason", "同一事项"), "hotline_order");

	/* The primary takes the group's earliest due. */
	j = HANDLER(LI, 0, "merge", p.code, a.code, b.id, "--reason", "同一路灯，合并办理");
	cr_expect_str_eq(it_str(j, "reply_due_at"), a.due);
	cr_expect_eq(json_array_size(it_get(j, "merged")), 2, "merged: %s",
	             json_dumps(j, JSON_COMPACT));
	json_decref(j);
	/* --keep-deadline: the primary's own due stands. */
	j = HANDLER(LI, 0, "merge", k.code, ka.code, "--keep-deadline", "--reason", "主件时限已告知来信人");
	cr_expect_str_eq(it_str(j, "reply_due_at"), k.due);
	json_decref(j);
	/* Merged once is merged: not again, and not by a reply. */
	expect_error(HANDLER(LI, 7, "merge", k.code, a.code, "--reason", "再并"), "already_merged");

	/* The citizen of a merged message sees the primary's code. */
	j = status(&a);
	cr_expect_str_eq(it_str(j, "status"), "closed");
	cr_expect_str_eq(it_str(j, "merged_into") ? it_str(j, "merged_into") : "", p.code);
	cr_expect(json_is_null(it_get(j, "reply")), "no reply yet");
	cr_expect_str_eq(it_str(j, "reply_due_at"), a.due, "its own due stays");
	json_decref(j);
	{
		const char *html = track_page(&a);
		cr_expect(strstr(html, "并入") && strstr(html, p.code), "%s", html);
		cr_expect(strstr(html, "已合并办理"), "%s", html);
	}

	/* Unmerge: b back in roads with its own clocks. */
	j = HANDLER(LI, 0, "unmerge", b.code, "--reason", "并非同一路段");
	cr_expect_str_eq(it_str(j, "status"), "queued");
	cr_expect_str_eq(it_str(j, "queue"), "roads");
	cr_expect_str_eq(it_str(j, "reply_due_at"), b.due);
	json_decref(j);
	expect_error(HANDLER(LI, 7, "unmerge", b.code), "not_merged");

	/* The primary is due soonest: pulled first, answered. */
	j = HANDLER(LI, 0, "pull", "--queue", "roads", "--wait", "5");
	cr_assert_str_eq(it_str(j, "message.id") ? it_str(j, "message.id") : "", p.id, "%s",
	                 json_dumps(j, JSON_COMPACT));
	json_decref(j);
	json_decref(HANDLER(LI, 0, "reply", p.id, "--text", "东门路灯已修复。"));

	/* Now the merged citizen sees that answer, and the merge stands. */
	j = status(&a);
	cr_expect_str_eq(it_str(j, "reply.text") ? it_str(j, "reply.text") : "", "东门路灯已修复。");
	cr_expect_str_eq(it_str(j, "merged_into") ? it_str(j, "merged_into") : "", p.code);
	json_decref(j);
	expect_error(HANDLER(LI, 7, "unmerge", a.code), "primary_closed");
	{
		const char *html = track_page(&a);
		cr_expect(strstr(html, "东门路灯已修复。"), "%s", html);
		cr_expect(strstr(html, "已答复（合并办理）"), "%s", html);
	}

	verify();
	/* a counts as answered with its primary, on time against its own due;
	 * ka, merged into an open primary, is open. */
	j = report(p.at);
	cr_expect_eq(num(j, "channels.consultation.received"), 3, "%s", json_dumps(j, 0));
	cr_expect_eq(num(j, "channels.consultation.answered"), 1, "%s", json_dumps(j, 0));
	cr_expect_eq(num(j, "channels.consultation.on_time"), 1, "%s", json_dumps(j, 0));
	cr_expect_eq(num(j, "channels.consultation.open"), 2, "%s", json_dumps(j, 0));
	json_decref(j);
	cr_expect_eq(mr_audit_cmd(&env, &out, "trail", a.id, NULL), 0, "%s", out ? out : "");
	cr_expect(out && strstr(out, "MERGED"), "%s", out ? out : "");
	{
		char rel[64];
		snprintf(rel, sizeof(rel), "related=%s", p.id);
		cr_expect(out && strstr(out, rel), "%s", out ? out : "");
	}
	free(out);
	IT_DOWN();
}

Test(merge, assisting_opinions_block_the_leads_reply, .init = it_init, .fini = it_fini,
     .timeout = 60)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 3};
	struct msg c, d;
	char *out = NULL, path[MR_PATH], want[16];
	json_t *j;

	IT_UP(&o);
	post("mailbox", "西门路灯不亮", &c);
	post("mailbox", "南门路灯不亮", &d);

	/* 5 working days by default, on the calendar. */
	j = HANDLER(LI, 0, "assist", c.code, "--queue", "supervision", "--reason", "需督查室核实");
	json_t *a0 = json_array_get(it_get(j, "assists"), 0);
	const char *due = json_string_value(json_object_get(a0, "due_at"));
	cr_assert(due, "no assists: %s", json_dumps(j, JSON_COMPACT));
	{
		/* The auditor's calendar arithmetic, from the day it was asked. */
		char from[11];
		snprintf(from, sizeof(from), "%s", json_string_value(json_object_get(a0, "requested_at")));
		char *const av[] = {MR_BIN_DIR "/workers/audit/mailroom-audit", "deadline", "--from", from,
		                    "--working-days", "5", "--calendars", MR_SOURCE_DIR "/deploy/calendars",
		                    NULL};
		cr_assert_eq(mr_run(&env, av, &out, NULL, 30), 0, "%s", out ? out : "");
		snprintf(want, sizeof(want), "%.10s", out ? out : "");
		free(out);
		cr_expect(strncmp(due, want, 10) == 0, "assist due %s, the calendar gives %s", due, want);
	}
	json_decref(j);
	expect_error(HANDLER(LI, 7, "assist", c.code, "--queue", "supervision", "--reason", "再问"),
	             "already_asked");
	expect_error(HANDLER(LI, 8, "assist", c.code, "--queue", "roads", "--reason", "自己"),
	             "same_queue");
	/* The assisting department sees the case owed; zhao's queue owes none. */
	j = HANDLER(WANG, 0, "assists");
	cr_assert_eq(json_array_size(it_get(j, "cases")), 1, "%s", json_dumps(j, 0));
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(it_get(j, "cases"), 0), "id")),
	                 c.id);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(it_get(j, "cases"), 0), "body")),
	                 "西门路灯不亮，请尽快处理。");
	json_decref(j);
	j = HANDLER(ZHAO, 0, "assists");
	cr_expect_eq(json_array_size(it_get(j, "cases")), 0, "%s", json_dumps(j, 0));
	json_decref(j);
	/* zhao's queue was never asked. */
	expect_error(HANDLER(ZHAO, 5, "opinion", c.code, "--text", "意见"), "not_asked");

	j = HANDLER(LI, 0, "pull", "--queue", "roads", "--wait", "5");
	cr_assert_str_eq(it_str(j, "message.id") ? it_str(j, "message.id") : "", c.id);
	json_decref(j);
	expect_error(HANDLER(LI, 7, "reply", c.id, "--text", "已修复。"), "assist_pending");

	j = HANDLER(WANG, 0, "opinion", c.code, "--text", "经核实，灯杆属路政管理。");
	a0 = json_array_get(it_get(j, "assists"), 0);
	cr_expect(json_is_string(json_object_get(a0, "delivered_at")), "%s", json_dumps(j, JSON_COMPACT));
	json_decref(j);
	expect_error(HANDLER(WANG, 7, "opinion", c.code, "--text", "再说一次"), "not_asked");
	j = HANDLER(WANG, 0, "assists");
	cr_expect_eq(json_array_size(it_get(j, "cases")), 0, "delivered: none owed: %s", json_dumps(j, 0));
	json_decref(j);
	j = HANDLER(LI, 0, "reply", c.id, "--text", "西门路灯已修复。");
	cr_expect_str_eq(it_str(j, "status"), "replied");
	json_decref(j);

	/* The lead may answer without an opinion, saying why. */
	json_decref(HANDLER(LI, 0, "assist", d.code, "--queue", "supervision", "--due-days", "3",
	                    "--reason", "需督查室核实"));
	j = HANDLER(LI, 0, "pull", "--queue", "roads", "--wait", "5");
	json_decref(j);
	expect_error(HANDLER(LI, 1, "reply", d.id, "--text", "已修复。", "--despite-pending"), "usage");
	j = HANDLER(LI, 0, "reply", d.id, "--text", "南门路灯已修复。", "--despite-pending", "--reason",
	            "来信人急需答复，督查意见另行转达");
	cr_expect_str_eq(it_str(j, "status"), "replied");
	json_decref(j);

	verify();
	/* Each case once, for the lead; the opinions apart. */
	j = report(c.at);
	cr_expect_eq(num(j, "channels.mailbox.received"), 2, "%s", json_dumps(j, 0));
	cr_expect_eq(num(j, "channels.mailbox.answered"), 2, "%s", json_dumps(j, 0));
	cr_expect_eq(num(j, "assisting.asked"), 2, "%s", json_dumps(j, 0));
	cr_expect_eq(num(j, "assisting.on_time"), 1, "%s", json_dumps(j, 0));
	cr_expect_eq(num(j, "assisting.open"), 1, "%s", json_dumps(j, 0));
	json_decref(j);
	snprintf(path, sizeof(path), "%s/keys/data.key", env.dir);
	cr_expect_eq(mr_audit_cmd(&env, &out, "trail", c.id, "--data-key", path, NULL), 0, "%s",
	             out ? out : "");
	cr_expect(out && strstr(out, "OPINION_DELIVERED"), "%s", out ? out : "");
	cr_expect(out && strstr(out, "经核实，灯杆属路政管理。 (matches)"), "%s", out ? out : "");
	free(out);
	cr_expect_eq(mr_audit_cmd(&env, &out, "trail", d.id, NULL), 0, "%s", out ? out : "");
	cr_expect(out && strstr(out, "ASSIST_OVERRIDDEN"), "%s", out ? out : "");
	cr_expect(out && !strstr(out, "来信人急需答复"), "the public trail shows the reason: %s", out);
	free(out);
	IT_DOWN();
}
