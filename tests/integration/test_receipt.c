/* The receipt on the citizen's pages, as a browser without JavaScript
 * uses them: the confirmation after a letter form and the /track status
 * page each offer 下载收件凭证, a post carrying the key's hash sealed
 * (never the key, never in a URL) that downloads the c2sp.org/tlog-proof
 * text; mailroom-audit verify-receipt checks each download with the log's
 * public key alone. A wrong key, a seal of another letter and another
 * browser get no receipt. The page after a rating offers it too. */
#include "it.h"

#define PAGE_MAX 65536
#define RECEIPT_LINE "本机关不能暗中修改或删除这条记录"

static char html[PAGE_MAX], hdrs[8192];

/* The key as the confirmation shows it, in groups in spans: bare. */
static void key_of(const char *page, char *key, size_t cap)
{
	char shown[512];
	size_t n = 0;
	int tag = 0;

	it_between(page, "id=\"access-key\">", "</dd>", shown, sizeof(shown));
	for (const char *s = shown; *s && n < cap - 1; s++) {
		if (*s == '<')
			tag = 1;
		else if (*s == '>')
			tag = 0;
		else if (!tag && *s != ' ')
			key[n++] = *s;
	}
	key[n] = '\0';
	cr_assert_eq(n, 32, "key shown as %s", shown);
}

/* The receipt form's hidden fields on the page in html, as a post. */
static void receipt_post(const char *code, char *post, size_t cap)
{
	const char *form = strstr(html, "id=\"receipt\"");
	char token[128], seal[160];

	cr_assert_not_null(form, "no receipt button: %.3000s", html);
	cr_assert_not_null(strstr(form, "下载收件凭证"));
	cr_assert_not_null(strstr(html, RECEIPT_LINE), "no plain line about the record");
	it_between(form, "name=\"token\" value=\"", "\"", token, sizeof(token));
	it_between(form, "name=\"seal\" value=\"", "\"", seal, sizeof(seal));
	snprintf(post, cap, "token=%s&code=%s&seal=%s&receipt=1", token, code, seal);
}

/* Posts the receipt form and checks the download; saved as name. */
static void download(CURL *h, const char *code, const char *post, const char *name)
{
	char want[128];

	cr_assert_eq(it_page(h, "POST", "/track", post, html, sizeof(html), hdrs, sizeof(hdrs)), 200,
	             "%.2000s", html);
	cr_expect_not_null(strcasestr(hdrs, "Content-Type: text/plain; charset=utf-8"), "%s", hdrs);
	snprintf(want, sizeof(want),
	         "Content-Disposition: attachment; filename=\"mailroom-%s-receipt.txt\"", code);
	cr_expect_not_null(strcasestr(hdrs, want), "%s", hdrs);
	cr_expect_not_null(strcasestr(hdrs, "Cache-Control: no-store"), "%s", hdrs);
	cr_assert_eq(strncmp(html, "c2sp.org/tlog-proof@v1\n", 23), 0, "%.500s", html);
	it_save(name, html, strlen(html));
}

static int verify(const char *name, char **out)
{
	return it_audit(out, "verify-receipt", "--receipt", it_path(name), "--pubkey",
	                it_path("keys/store.pub"), NULL);
}

/* A letter through the mailbox form: its code and key from the
 * confirmation, which stays in html. */
static void send_letter(CURL *h, char *code, size_t ccap, char *key, size_t kcap)
{
	char token[128], form[512];

	cr_assert_eq(it_page(h, "GET", "/mailbox", NULL, html, sizeof(html), NULL, 0), 200);
	it_between(html, "name=\"token\" value=\"", "\"", token, sizeof(token));
	snprintf(form, sizeof(form),
	         "token=%s&subject=%%E8%%B7%%AF%%E7%%81%%AF&body=%%E5%%9D%%8F%%E4%%BA%%86"
	         "&name=&phone=&email=",
	         token);
	cr_assert_eq(it_page(h, "POST", "/mailbox", form, html, sizeof(html), NULL, 0), 201, "%.2000s",
	             html);
	it_between(html, "id=\"tracking-code\">", "<", code, ccap);
	key_of(html, key, kcap);
}

/* /track with code and key: the status, the page in html. */
static long track(CURL *h, const char *code, const char *key)
{
	char token[128], post[512];

	cr_assert_eq(it_page(h, "GET", "/track", NULL, html, sizeof(html), NULL, 0), 200);
	it_between(html, "name=\"token\" value=\"", "\"", token, sizeof(token));
	snprintf(post, sizeof(post), "token=%s&code=%s&key=%s", token, code, key);
	return it_page(h, "POST", "/track", post, html, sizeof(html), NULL, 0);
}

Test(receipt, pages_download_verifies, .init = it_init, .fini = it_fini, .timeout = 120)
{
	char code[32], key[64], code2[32], key2[64], post[1024], other_post[1024], *out = NULL;
	CURL *h = curl_easy_init(), *stranger = curl_easy_init();

	IT_UP(NULL);
	curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");
	curl_easy_setopt(stranger, CURLOPT_COOKIEFILE, "");

	/* The confirmation's button. */
	send_letter(h, code, sizeof(code), key, sizeof(key));
	receipt_post(code, post, sizeof(post));
	cr_expect_null(strstr(strstr(html, "id=\"receipt\""), key), "the key is in the form");
	download(h, code, post, "confirmation.txt");
	cr_assert_eq(verify("confirmation.txt", &out), 0, "%s", out ? out : "");
	free(out);
	out = NULL;

	/* The status page's button. */
	cr_assert_eq(track(h, code, key), 200, "%.2000s", html);
	receipt_post(code, post, sizeof(post));
	cr_expect_null(strstr(html, key), "the key is in the status page");
	download(h, code, post, "track.txt");
	cr_assert_eq(verify("track.txt", &out), 0, "%s", out ? out : "");
	free(out);

	/* One letter of the proof changed: verify-receipt refuses it, so the
	 * checks above could fail. */
	{
		char *bad = strdup(html), *c = strstr(bad, "\n\n");
		cr_assert_not_null(c, "%s", html);
		c -= 5;   /* inside the proof's last hash line */
		*c = *c == 'A' ? 'B' : 'A';
		it_save("spoiled.txt", bad, strlen(bad));
		free(bad);
	}
	cr_assert_neq(verify("spoiled.txt", NULL), 0, "a spoiled receipt must not verify");

	/* A wrong key: the not-found page, no button, no proof. */
	cr_assert_eq(track(h, code, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 404, "%.2000s", html);
	cr_expect_null(strstr(html, "id=\"receipt\""));
	cr_expect_null(strstr(html, "tlog-proof"));

	/* Another letter's code under this letter's seal: refused. */
	send_letter(h, code2, sizeof(code2), key2, sizeof(key2));
	cr_assert_str_neq(code, code2);
	snprintf(other_post, sizeof(other_post), "%s", post);
	{
		char *at = strstr(other_post, "&code=");
		cr_assert_not_null(at);
		memcpy(at + 6, code2, strlen(code2));
	}
	cr_assert_eq(it_page(h, "POST", "/track", other_post, html, sizeof(html), NULL, 0), 403,
	             "%.2000s", html);
	cr_expect_null(strstr(html, "tlog-proof"));

	/* The same form from another browser (another cookie): refused. */
	cr_assert_eq(it_page(stranger, "POST", "/track", post, html, sizeof(html), NULL, 0), 403,
	             "%.2000s", html);
	cr_expect_null(strstr(html, "tlog-proof"));

	curl_easy_cleanup(h);
	curl_easy_cleanup(stranger);
	IT_DOWN();
}

static const struct mr_handler_spec roads[] = {{"li", "roads"}};

/* The page a rating answers with is the status page, and carries the
 * receipt button as /track's status does. */
Test(receipt, after_a_rating, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.handlers = roads, .nhandlers = 1};
	char code[32], key[64], id[64], token[128], seal[160], post[1024], *out = NULL;
	CURL *h = curl_easy_init();
	int rc;

	IT_UP(&o);
	curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");
	send_letter(h, code, sizeof(code), key, sizeof(key));
	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue", "roads", "--wait",
	                    "5", NULL);
	cr_assert_eq(rc, 0, "pull: exit %d: %s", rc, out ? out : "");
	json_t *j = it_json_text(out);
	cr_assert_not_null(it_str(j, "message.id"), "%s", out);
	snprintf(id, sizeof(id), "%s", it_str(j, "message.id"));
	json_decref(j);
	free(out);
	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "reply", id, "--text", "已修好。",
	                    NULL);
	cr_assert_eq(rc, 0, "reply: exit %d: %s", rc, out ? out : "");
	free(out);
	out = NULL;

	/* The status page's rating form, then its answer. */
	cr_assert_eq(track(h, code, key), 200, "%.2000s", html);
	const char *form = strstr(html, "id=\"rate\"");
	cr_assert_not_null(form, "no rating form: %.3000s", html);
	it_between(form, "name=\"token\" value=\"", "\"", token, sizeof(token));
	it_between(form, "name=\"seal\" value=\"", "\"", seal, sizeof(seal));
	snprintf(post, sizeof(post), "token=%s&code=%s&seal=%s&level=satisfied&comment=", token, code,
	         seal);
	cr_assert_eq(it_page(h, "POST", "/track", post, html, sizeof(html), NULL, 0), 200, "%.2000s",
	             html);
	cr_assert_not_null(strstr(html, "id=\"rated\""), "not the rated page: %.2000s", html);
	receipt_post(code, post, sizeof(post));
	download(h, code, post, "rated.txt");
	cr_assert_eq(verify("rated.txt", &out), 0, "%s", out ? out : "");
	free(out);

	curl_easy_cleanup(h);
	IT_DOWN();
}
