/* Referral across channels through the real processes: a mailbox letter
 * referred to complaints, that complaint to disclosure, and a disclosure
 * application to complaints (closed under its statutory outcome). The
 * citizen's one access key opens every case, each old case names the new
 * one and the new one the old; each new case's deadline is its channel's
 * from the referral; a referred-away case takes no reply; mailroom-audit
 * verify passes, trail shows REFERRED, and report channels counts the
 * referred-away cases as answered and the new ones in their channels. */
#include "it.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const struct mr_handler_spec handlers[] = {
	{"li", "general, supervision, disclosure"},
};

#define NOTICE "您反映的问题属于监督投诉事项，已转为投诉件办理。"

static char key[64];

static void today(char *buf, size_t n)
{
	time_t t = time(NULL) + 8 * 3600;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d", &tm);
}

/* mailroom-handler as li: exit code, *j the printed JSON (caller frees). */
static int handler(json_t **j, ...)
{
	char *argv[16], *out = NULL;
	const char *a;
	int n = 0, rc;
	va_list ap;

	va_start(ap, j);
	while ((a = va_arg(ap, const char *)) != NULL && n < 14)
		argv[n++] = (char *)a;
	va_end(ap);
	while (n < 14)
		argv[n++] = NULL;
	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, argv[0], argv[1], argv[2], argv[3],
	                    argv[4], argv[5], argv[6], argv[7], argv[8], argv[9], argv[10], argv[11],
	                    argv[12], argv[13], NULL);
	*j = out ? json_loads(out, 0, NULL) : NULL;
	if (rc == 0)
		cr_assert(*j && json_is_object(*j), "not JSON: %s", out ? out : "");
	free(out);
	return rc;
}

/* Pulls the next message of queue, which must be the one with code. */
static void pull(const char *queue, const char *code, char *id, size_t idlen)
{
	json_t *j;

	cr_assert_eq(handler(&j, "pull", "--queue", queue, "--wait", "5", NULL), 0);
	cr_assert_str_eq(it_str(j, "message.tracking_code") ? it_str(j, "message.tracking_code") : "",
	                 code, "pulled from %s", queue);
	snprintf(id, idlen, "%s", it_str(j, "message.id"));
	json_decref(j);
}

/* The citizen's view of code, with the one key. */
static json_t *status(const char *code)
{
	struct mr_http r;
	json_t *j;

	cr_assert_eq(mr_get_status(NULL, &env, code, key, &r), 0);
	cr_assert_eq(r.status, 200, "GET %s: HTTP %ld: %s", code, r.status, r.body);
	j = it_json(&r);
	cr_expect_null(strstr(r.body, "13800000000"), "the contact in the citizen's view");
	mr_http_free(&r);
	return j;
}

/* The deadline instant N working days after today, by mailroom-audit. */
static void due_after(int days, char *out, size_t len)
{
	char date[16], n[8], *text = NULL, *err = NULL;
	json_t *j;

	today(date, sizeof(date));
	snprintf(n, sizeof(n), "%d", days);
	char *const argv[] = {MR_BIN_DIR "/workers/audit/mailroom-audit", "deadline", "--from", date,
	                      "--working-days", n, "--json", "--calendars", env.calendars, NULL};
	cr_assert_eq(mr_run(&env, argv, &text, &err, 30), 0, "%s%s", text ? text : "", err ? err : "");
	free(err);
	j = it_json_text(text);
	snprintf(out, len, "%s", it_str(j, "due_at"));
	json_decref(j);
	free(text);
}

/* The referral's answer names the new case; returns its code in out. */
static void refer_ok(json_t *j, const char *channel, char *out, size_t len)
{
	cr_assert_str_eq(it_str(j, "referred_to.channel") ? it_str(j, "referred_to.channel") : "",
	                 channel);
	cr_assert(mr_is_track(it_str(j, "referred_to.tracking_code")), "no new code");
	cr_expect_str_eq(it_str(j, "status"), "replied");
	snprintf(out, len, "%s", it_str(j, "referred_to.tracking_code"));
}

/* The /track page through its form, as a browser: one curl handle with
 * its cookie engine on (the form's token is bound to the cookie). */
struct page {
	char *p;
	size_t n;
};

static size_t on_page(char *d, size_t sz, size_t nm, void *arg)
{
	struct page *pg = arg;
	char *q = realloc(pg->p, pg->n + sz * nm + 1);

	if (!q)
		return 0;
	memcpy(q + pg->n, d, sz * nm);
	pg->n += sz * nm;
	q[pg->n] = '\0';
	pg->p = q;
	return sz * nm;
}

static long fetch(CURL *h, const char *path, const char *form, struct page *pg)
{
	char url[256];
	long status = 0;

	snprintf(url, sizeof(url), "%s%s", env.base, path);
	free(pg->p);
	*pg = (struct page){0};
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_page);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, pg);
	if (form)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	else
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* The HTML of code's /track page; the caller frees it. */
static char *track_page(const char *code)
{
	CURL *h = curl_easy_init();
	struct page pg = {0};
	char token[128], body[512];
	const char *p;

	cr_assert_not_null(h);
	curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");
	cr_assert_eq(fetch(h, "/track", NULL, &pg), 200);
	p = pg.p ? strstr(pg.p, "name=\"token\" value=\"") : NULL;
	cr_assert_not_null(p, "no form token: %s", pg.p);
	p += strlen("name=\"token\" value=\"");
	snprintf(token, sizeof(token), "%.*s", (int)strcspn(p, "\""), p);
	snprintf(body, sizeof(body), "token=%s&code=%s&key=%s", token, code, key);
	long st = fetch(h, "/track", body, &pg);
	cr_assert_eq(st, 200, "POST /track: HTTP %ld: %.300s", st, pg.p);
	curl_easy_cleanup(h);
	return pg.p;
}

static long channel_count(json_t *rep, const char *channel, const char *what)
{
	char path[64];

	snprintf(path, sizeof(path), "channels.%s.%s", channel, what);
	return (long)json_integer_value(it_get(rep, path));
}

Test(refer, across_channels_with_one_key, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	char code1[16], code2[16], code3[16], code4[16], id1[32], id2[32], id3[32], due[40], date[16];
	char *out = NULL;
	struct mr_http r;
	json_t *j;

	IT_UP(&o);
	cr_assert_eq(mr_post_message(NULL, &env,
	                             "{\"channel\":\"mailbox\",\"subject\":\"物业乱收费\","
	                             "\"body\":\"小区物业擅自提高停车费，街道不管。\","
	                             "\"contact\":{\"name\":\"张三\",\"phone\":\"13800000000\"}}",
	                             &r),
	             0);
	cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	snprintf(code1, sizeof(code1), "%s", it_str(j, "tracking_code"));
	snprintf(key, sizeof(key), "%s", it_str(j, "access_key"));
	json_decref(j);
	mr_http_free(&r);

	/* mailbox -> complaint */
	char token[128];
	cr_assert_eq(handler(&j, "pull", "--queue", "general", "--wait", "5", NULL), 0);
	cr_assert_str_eq(it_str(j, "message.tracking_code"), code1);
	snprintf(id1, sizeof(id1), "%s", it_str(j, "message.id"));
	snprintf(token, sizeof(token), "%s", it_str(j, "lease.token"));
	json_decref(j);
	cr_expect_eq(handler(&j, "refer", id1, "--to", "mailbox", "--reason", NOTICE, NULL), 8,
	             "a referral to its own channel");
	json_decref(j);
	cr_expect_eq(handler(&j, "refer", id1, "--to", "complaint", "--reason", NOTICE, "--outcome",
	                     "other.other", NULL),
	             8, "an outcome is for applications");
	json_decref(j);
	cr_assert_eq(handler(&j, "refer", id1, "--to", "complaint", "--reason", NOTICE, NULL), 0);
	refer_ok(j, "complaint", code2, sizeof(code2));
	json_decref(j);
	/* The referred-away case takes no reply: its lease ended with it. */
	int rc = handler(&j, "reply", id1, "--text", "已处理。", "--lease", token, NULL);
	cr_expect(rc == 6 || rc == 7, "a reply on a referred-away case: exit %d", rc);
	json_decref(j);

	j = status(code1);
	cr_expect_str_eq(it_str(j, "status"), "replied");
	cr_expect_str_eq(it_str(j, "referred_to.tracking_code"), code2);
	cr_expect_str_eq(it_str(j, "reply.text"), NOTICE);
	json_decref(j);
	j = status(code2);
	cr_expect_str_eq(it_str(j, "channel"), "complaint");
	cr_expect_str_eq(it_str(j, "status"), "queued");
	cr_expect_str_eq(it_str(j, "referred_from.tracking_code"), code1);
	cr_expect_str_eq(it_str(j, "referred_from.channel"), "mailbox");
	due_after(15, due, sizeof(due));
	cr_expect_str_eq(it_str(j, "reply_due_at"), due, "complaint: 15 working days from the referral");
	json_decref(j);

	/* complaint -> disclosure: an online application, received now */
	pull("supervision", code2, id2, sizeof(id2));
	cr_assert_eq(handler(&j, "refer", id2, "--to", "disclosure", "--reason", "请按依申请公开办理。",
	                     NULL),
	             0);
	refer_ok(j, "disclosure", code3, sizeof(code3));
	json_decref(j);
	j = status(code3);
	today(date, sizeof(date));
	cr_expect_str_eq(it_str(j, "channel"), "disclosure");
	cr_expect_str_eq(it_str(j, "referred_from.tracking_code"), code2);
	cr_expect_str_eq(it_str(j, "disclosure.phase"), "open");
	cr_expect(json_is_true(it_get(j, "disclosure.receipt_confirmed")), "received at the referral");
	cr_expect_str_eq(it_str(j, "disclosure.legal_receipt_date"), date);
	due_after(20, due, sizeof(due));
	cr_expect_str_eq(it_str(j, "reply_due_at"), due, "disclosure: 20 working days");
	json_decref(j);

	/* disclosure -> complaint, under 不予处理 · 信访举报投诉类申请 */
	pull("disclosure", code3, id3, sizeof(id3));
	cr_expect_eq(handler(&j, "refer", id3, "--to", "complaint", "--reason", NOTICE, NULL), 8,
	             "an application needs its legal basis");
	cr_expect_str_eq(it_str(j, "error.code") ? it_str(j, "error.code") : "", "legal_basis_required");
	json_decref(j);
	cr_assert_eq(handler(&j, "refer", id3, "--to", "complaint", "--reason", NOTICE,
	                     "--legal-basis", "《政府信息公开条例》第三十九条第一款", NULL),
	             0);
	refer_ok(j, "complaint", code4, sizeof(code4));
	cr_expect_str_eq(it_str(j, "disclosure.outcome"), "not_processed.petition_complaint");
	json_decref(j);
	j = status(code3);
	cr_expect_str_eq(it_str(j, "disclosure.phase"), "decided");
	cr_expect_str_eq(it_str(j, "referred_to.tracking_code"), code4);
	json_decref(j);
	j = status(code4);
	cr_expect_str_eq(it_str(j, "referred_from.channel"), "disclosure");
	json_decref(j);
	/* the web page says the same, in words */
	char *html = track_page(code1);
	cr_expect(strstr(html, "已转为") && strstr(html, code2) && strstr(html, "监督投诉"), "%s", html);
	free(html);
	html = track_page(code2);
	cr_expect(strstr(html, "转自") && strstr(html, code1) && strstr(html, "局长信箱"), "%s", html);
	free(html);
	/* the applicant's contact went with the application */
	cr_assert_eq(handler(&j, "pull", "--queue", "supervision", "--wait", "5", NULL), 0);
	cr_expect_str_eq(it_str(j, "message.tracking_code"), code4);
	cr_expect_str_eq(it_str(j, "message.contact.phone") ? it_str(j, "message.contact.phone") : "",
	                 "13800000000");
	json_decref(j);

	cr_expect_eq(mr_audit_cmd(&env, &out, "verify", NULL), 0, "verify: %s", out ? out : "");
	free(out);
	cr_expect_eq(mr_audit_cmd(&env, &out, "trail", code1, NULL), 0);
	cr_expect(out && strstr(out, "REFERRED"), "%s", out ? out : "");
	char rel[48];
	snprintf(rel, sizeof(rel), "related=%s", id2);
	cr_expect(out && strstr(out, rel), "the referral names the new case: %s", out ? out : "");
	cr_expect(out && !strstr(out, NOTICE), "the notice in the public trail: %s", out ? out : "");
	cr_expect(out && strstr(out, "reply=on_time"), "answered by referral: %s", out ? out : "");
	free(out);
	cr_expect_eq(mr_audit_cmd(&env, &out, "report", "channels", "--from", date, "--to", date,
	                          "--format", "json", "--calendars", env.calendars, NULL),
	             0, "%s", out ? out : "");
	j = it_json_text(out);
	cr_expect_eq(channel_count(j, "mailbox", "answered"), 1);
	cr_expect_eq(channel_count(j, "complaint", "received"), 2);
	cr_expect_eq(channel_count(j, "complaint", "answered"), 1);
	cr_expect_eq(channel_count(j, "complaint", "open"), 1);
	cr_expect_eq(channel_count(j, "disclosure", "received"), 1);
	cr_expect_eq(channel_count(j, "disclosure", "answered"), 1);
	json_decref(j);
	free(out);
	IT_DOWN();
}
