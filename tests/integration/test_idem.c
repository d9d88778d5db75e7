/* Safe to resubmit: an Idempotency-Key on the JSON API and a web form's
 * one-time token each give the first message back, across restarts of
 * both the gateway and the router (the router indexes the key with the
 * message in one transaction), and never a second message. Also the
 * form's CSRF binding and CORS for configured origins. */
#include "it.h"

#include <signal.h>
#include <stdlib.h>

#define MSG "{\"channel\":\"mailbox\",\"subject\":\"重复提交\",\"body\":\"同一封信只登记一次。\"}"
#define OTHER "{\"channel\":\"mailbox\",\"subject\":\"重复提交\",\"body\":\"换了内容。\"}"
#define DISC "{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"张三\",\"id_type\":\"resident_id\"," \
             "\"id_number\":\"11010519491231002X\",\"email\":\"a@example.cn\"},"                  \
             "\"description\":\"申请公开道路维修经费。\",\"form\":\"electronic\","                  \
             "\"delivery\":\"email\",\"submission_mode\":\"online\"}"
#define KEY_HDR "Idempotency-Key: 5f0c1a2e-8d4b-4c1e-9a77-2b6f0e3d9c10"

static long log_size(void)
{
	struct mr_http r;
	long n = -1;

	cr_assert_eq(mr_http(NULL, env.base, "GET", "/v1/log/checkpoint", NULL, NULL, 0, 10000, &r), 0);
	const char *nl = r.body ? strchr(r.body, '\n') : NULL;
	if (r.status == 200 && nl)
		n = atol(nl + 1);
	mr_http_free(&r);
	return n;
}

static json_t *post(const char *path, const char *hdr, const char *body, long want)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	struct mr_http r;
	json_t *j;

	if (hdr)
		h = curl_slist_append(h, hdr);
	cr_assert_eq(mr_http(NULL, env.base, "POST", path, h, body, strlen(body), 10000, &r), 0);
	curl_slist_free_all(h);
	cr_assert_eq(r.status, want, "%s: HTTP %ld (wanted %ld): %s", path, r.status, want, r.body);
	j = it_json(&r);
	mr_http_free(&r);
	return j;
}

static void restart_both(void)
{
	mr_proc_stop(&env, &env.gateway, SIGTERM);
	mr_proc_stop(&env, &env.router, SIGTERM);
	cr_assert_eq(mr_router_start(&env), 0);
	cr_assert_eq(mr_gateway_start(&env), 0);
}

Test(idem, api_key_repeats_the_first_answer, .init = it_init, .fini = it_fini, .timeout = 120)
{
	IT_UP(NULL);
	json_t *a = post("/v1/messages", KEY_HDR, MSG, 201);
	long size = log_size();
	json_t *b = post("/v1/messages", KEY_HDR, MSG, 200);

	cr_expect_str_eq(it_str(b, "tracking_code"), it_str(a, "tracking_code"));
	cr_expect_str_eq(it_str(b, "id"), it_str(a, "id"));
	cr_expect_str_eq(it_str(b, "access_key"), it_str(a, "access_key"));
	cr_expect_eq(log_size(), size, "a repeat added records to the log");

	/* The same key with another body: refused, nothing stored. */
	json_t *c = post("/v1/messages", KEY_HDR, OTHER, 422);
	cr_expect_str_eq(it_str(c, "error.code"), "idempotency_mismatch");
	cr_expect_eq(log_size(), size);

	/* The index is in the store: it holds across restarts. */
	restart_both();
	json_t *d = post("/v1/messages", KEY_HDR, MSG, 200);
	cr_expect_str_eq(it_str(d, "tracking_code"), it_str(a, "tracking_code"));
	cr_expect_str_eq(it_str(d, "access_key"), it_str(a, "access_key"));

	/* The key reads the message, as the first answer's key did. */
	struct mr_http r;
	cr_assert_eq(mr_get_status(NULL, &env, it_str(a, "tracking_code"), it_str(d, "access_key"), &r), 0);
	cr_expect_eq(r.status, 200, "HTTP %ld: %s", r.status, r.body);
	mr_http_free(&r);

	/* Without the header every post is a message of its own. */
	json_t *e = post("/v1/messages", NULL, MSG, 201), *f = post("/v1/messages", NULL, MSG, 201);
	cr_expect_str_neq(it_str(e, "tracking_code"), it_str(f, "tracking_code"));
	json_decref(post("/v1/messages", "Idempotency-Key: short", MSG, 400));
	json_decref(a), json_decref(b), json_decref(c), json_decref(d), json_decref(e), json_decref(f);
	IT_DOWN();
}

Test(idem, disclosure_key, .init = it_init, .fini = it_fini, .timeout = 120)
{
	IT_UP(NULL);
	json_t *a = post("/v1/disclosure-applications", KEY_HDR, DISC, 201);
	json_t *b = post("/v1/disclosure-applications", KEY_HDR, DISC, 200);

	cr_expect_str_eq(it_str(b, "tracking_code"), it_str(a, "tracking_code"));
	cr_expect_str_eq(it_str(b, "disclosure.phase"), it_str(a, "disclosure.phase"));
	/* The two APIs share the index: the key is the request's, whatever its route. */
	json_t *c = post("/v1/messages", KEY_HDR, MSG, 422);
	json_decref(a), json_decref(b), json_decref(c);
	IT_DOWN();
}

/* ----------------------------------------------------------- forms -- */

/* The page shows the key in eight groups of four, each in a span. */
static void unspace(char *s)
{
	char *o = s, *start = s;
	int tag = 0, groups = 0;

	for (; *s; s++) {
		if (*s == '<')
			tag = 1, groups += s[1] != '/';
		else if (*s == '>')
			tag = 0;
		else if (!tag && *s != ' ')
			*o++ = *s;
	}
	*o = '\0';
	cr_assert_eq(groups, 8, "key shown as '%s'", start);
	cr_assert_eq(strlen(start), 32);
}

Test(idem, form_token_across_restarts, .init = it_init, .fini = it_fini, .timeout = 120)
{
	static char html[8192];
	char token[128], form[512], code1[32], key1[256], code2[32], key2[256];
	CURL *h = curl_easy_init(), *other = curl_easy_init();

	IT_UP(NULL);
	curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");
	curl_easy_setopt(other, CURLOPT_COOKIEFILE, "");
	cr_assert_eq(it_page(h, "GET", "/mailbox", NULL, html, sizeof(html), NULL, 0), 200);
	it_between(html, "name=\"token\" value=\"", "\"", token, sizeof(token));
	snprintf(form, sizeof(form), "token=%s&subject=%%E8%%B7%%AF%%E7%%81%%AF&body=%%E5%%9D%%8F%%E4%%BA%%86"
	         "&name=&phone=&email=", token);

	cr_assert_eq(it_page(h, "POST", "/mailbox", form, html, sizeof(html), NULL, 0), 201, "%s", html);
	it_between(html, "id=\"tracking-code\">", "<", code1, sizeof(code1));
	it_between(html, "id=\"access-key\">", "</dd>", key1, sizeof(key1));
	unspace(key1);
	long size = log_size();

	/* A double click or a reload, and again after both processes restart. */
	cr_assert_eq(it_page(h, "POST", "/mailbox", form, html, sizeof(html), NULL, 0), 200);
	restart_both();
	cr_assert_eq(it_page(h, "POST", "/mailbox", form, html, sizeof(html), NULL, 0), 200, "%s", html);
	it_between(html, "id=\"tracking-code\">", "<", code2, sizeof(code2));
	it_between(html, "id=\"access-key\">", "</dd>", key2, sizeof(key2));
	unspace(key2);
	cr_expect_str_eq(code2, code1);
	cr_expect_str_eq(key2, key1);
	cr_expect_eq(log_size(), size, "a repeated form added records");

	/* The shown key opens the message through the API too. */
	struct mr_http r;
	cr_assert_eq(mr_get_status(NULL, &env, code1, key1, &r), 0);
	cr_expect_eq(r.status, 200, "HTTP %ld: %s", r.status, r.body);
	mr_http_free(&r);

	/* The token is bound to its browser's cookie: another browser (or a
	 * forged cross-site post) gets the form back, and nothing is stored. */
	cr_assert_eq(it_page(other, "POST", "/mailbox", form, html, sizeof(html), NULL, 0), 403);
	cr_expect_not_null(strstr(html, "路灯"), "the input was not kept");
	cr_expect_eq(log_size(), size);
	/* Not a form at all. */
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{}");
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	char url[256];
	long status = 0;
	snprintf(url, sizeof(url), "%s/mailbox", env.base);
	curl_easy_setopt(h, CURLOPT_URL, url);
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	cr_expect_eq(status, 415);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	curl_easy_cleanup(other);
	IT_DOWN();
}

Test(idem, cors_only_for_configured_origins, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.extra_ini = "[gateway]\ncors_origins = https://a.example, https://b.example\n"};
	static char html[8192];
	static char hdrs[8192];
	struct it_sink bs = {html, sizeof(html)}, hs = {hdrs, sizeof(hdrs)};
	CURL *h = curl_easy_init();
	struct curl_slist *hd;

	IT_UP(&o);
	html[0] = '\0';
	hd = curl_slist_append(NULL, "Origin: https://b.example");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "OPTIONS");
	char url[256];
	snprintf(url, sizeof(url), "%s/v1/messages", env.base);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, it_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)&bs);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, it_collect);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, (void *)&hs);
	hdrs[0] = '\0';
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	cr_expect_not_null(strstr(hdrs, "Access-Control-Allow-Origin: https://b.example"), "%s", hdrs);
	cr_expect_not_null(strstr(hdrs, "Idempotency-Key"), "%s", hdrs);
	curl_slist_free_all(hd);

	hd = curl_slist_append(NULL, "Origin: https://evil.example");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	hdrs[0] = '\0';
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	cr_expect_null(strstr(hdrs, "Access-Control-Allow-Origin"), "%s", hdrs);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	IT_DOWN();
}

/* ----------------------------------------------------------- limits -- */

Test(idem, per_address_limits, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.extra_ini = "[gateway]\nsubmit_per_minute = 3\nlookup_per_minute = 2\n"};
	static char html[8192], hdrs[8192];
	char token[128], form[512];
	struct mr_http r;
	CURL *h = curl_easy_init();

	IT_UP(&o);
	/* Two of the three submissions go through the API... */
	json_decref(post("/v1/messages", NULL, MSG, 201));
	json_decref(post("/v1/messages", NULL, MSG, 201));
	/* ...the third through a form (a GET does not count)... */
	curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");
	cr_assert_eq(it_page(h, "GET", "/complaint", NULL, html, sizeof(html), NULL, 0), 200);
	it_between(html, "name=\"token\" value=\"", "\"", token, sizeof(token));
	snprintf(form, sizeof(form), "token=%s&subject=%%E6%%8A%%95%%E8%%AF%%89&body=x&name=&phone=&email=",
	         token);
	cr_assert_eq(it_page(h, "POST", "/complaint", form, html, sizeof(html), NULL, 0), 201, "%s", html);
	/* ...and the fourth is refused, with the time to wait. */
	cr_assert_eq(mr_post_message(NULL, &env, MSG, &r), 0);
	cr_expect_eq(r.status, 429, "HTTP %ld: %s", r.status, r.body);
	cr_expect(atoi(r.retry_after) >= 1 && atoi(r.retry_after) <= 60, "Retry-After '%s'", r.retry_after);
	it_expect_error(&r, "rate_limited");
	mr_http_free(&r);
	/* A refused form comes back with its input. */
	cr_assert_eq(it_page(h, "POST", "/complaint", form, html, sizeof(html), hdrs, sizeof(hdrs)), 429);
	cr_expect_not_null(strstr(html, "提交太频繁"));
	cr_expect_not_null(strstr(html, "投诉"), "the input was not kept");
	cr_expect_not_null(strcasestr(hdrs, "Retry-After: "), "%s", hdrs);

	/* Lookups have their own count. */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(mr_get_status(NULL, &env, "0000-0000-0000", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &r), 0);
		cr_expect_eq(r.status, i < 2 ? 404 : 429, "lookup %d: HTTP %ld", i, r.status);
		mr_http_free(&r);
	}
	curl_easy_cleanup(h);
	IT_DOWN();
}
