/* Attachments through the real processes and a real clamd (our own
 * one-line signature database): upload by the JSON API, judged by
 * content; size and count limits; a clean file scanned and opened by the
 * handler; an infected one quarantined and shown so; the scanner away
 * (files pending, never shown) and back; mailroom-audit verify --store
 * catching a changed file; the citizen downloading the reply's files. */
#include "it.h"
#include "clamd_fx.h"
#include "samples.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static struct clamd_fx clam;
static char clam_base[64];
static char ini[1024];

static const struct mr_handler_spec clerks[] = {{"clerk", "general"}};

static void up(int max_files, long max_bytes)
{
	char dir[128];

	snprintf(clam_base, sizeof(clam_base), "/tmp/mr-itclam-XXXXXX");
	cr_assert_not_null(mkdtemp(clam_base));
	snprintf(dir, sizeof(dir), "%s/clamd", clam_base);
	cr_assert_eq(clamd_fx_start(&clam, dir), 0, "clamd must start (clamav-daemon installed?)");
	snprintf(ini, sizeof(ini),
	         "[attachments]\nclamd = %s\nscan_interval_ms = 100\nscan_timeout_ms = 5000\n"
	         "max_files = %d\nmax_bytes = %ld\n",
	         clam.addr, max_files, max_bytes);
	struct mr_opts o = {.handlers = clerks, .nhandlers = 1, .extra_ini = ini};
	IT_UP(&o);
}

static void down(void)
{
	char cmd[128];

	IT_DOWN();
	clamd_fx_stop(&clam);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", clam_base);
	cr_expect_eq(system(cmd), 0);
}

/* POST /v1/uploads; the JSON answer (or error) and the status in *status. */
static json_t *upload(const void *data, size_t len, const char *type, long *status)
{
	char hdr[128];
	struct curl_slist *h;
	struct mr_http r;
	json_t *j;

	snprintf(hdr, sizeof(hdr), "Content-Type: %s", type);
	h = curl_slist_append(NULL, hdr);
	cr_assert_eq(mr_http(NULL, env.base, "POST", "/v1/uploads", h, data, len, 20000, &r), 0);
	curl_slist_free_all(h);
	*status = r.status;
	j = it_json(&r);
	mr_http_free(&r);
	return j;
}

static char *handle_of(const void *data, size_t len, const char *type, const char *want_type)
{
	long st;
	json_t *j = upload(data, len, type, &st);
	char *h;

	cr_assert_eq(st, 201, "upload: HTTP %ld", st);
	cr_expect_str_eq(it_str(j, "type"), want_type);
	cr_expect_eq(json_integer_value(it_get(j, "size")), (json_int_t)len);
	h = strdup(it_str(j, "handle"));
	json_decref(j);
	return h;
}

static json_t *submit(const char *handles, long want)
{
	char body[1024];
	struct mr_http r;
	json_t *j;

	snprintf(body, sizeof(body),
	         "{\"channel\":\"mailbox\",\"subject\":\"附件\",\"body\":\"请看附件。\","
	         "\"attachments\":[%s]}",
	         handles);
	cr_assert_eq(mr_post_message(NULL, &env, body, &r), 0);
	cr_assert_eq(r.status, want, "submit: HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	mr_http_free(&r);
	return j;
}

/* The citizen's view until attachment n's scan is want (or 15 s pass). */
static json_t *status_until(json_t *msg, int n, const char *want)
{
	char path[32];
	json_t *j = NULL;

	snprintf(path, sizeof(path), "%d", n);
	for (int i = 0; i < 150; i++) {
		struct mr_http r;
		cr_assert_eq(mr_get_status(NULL, &env, it_str(msg, "tracking_code"),
		                           it_str(msg, "access_key"), &r), 0);
		json_decref(j);
		j = it_json(&r);
		mr_http_free(&r);
		json_t *a = json_array_get(it_get(j, "attachments"), (size_t)n);
		if (a && strcmp(json_string_value(json_object_get(a, "scan")), want) == 0)
			return j;
		mr_sleep_ms(100);
	}
	cr_assert_fail("attachment %d never became %s", n, want);
	return NULL;
}

static size_t collect(char *data, size_t size, size_t n, void *arg);

/* /track as a browser without JavaScript: the lookup, then the download
 * button of the reply's first file; the download's status. */
static long track_download(json_t *m)
{
	static char html[65536];
	char url[256], token[128], seal[160], post[1024], *key;
	long status = 0;
	char *type = NULL;
	CURL *h = curl_easy_init();

	snprintf(url, sizeof(url), "%s/track", env.base);
	curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)html);
	html[0] = '\0';
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	it_between(html, "name=\"token\" value=\"", "\"", token, sizeof(token));
	key = curl_easy_escape(h, it_str(m, "access_key"), 0);
	snprintf(post, sizeof(post), "token=%s&code=%s&key=%s", token, it_str(m, "tracking_code"),
	         key);
	curl_free(key);
	html[0] = '\0';
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	const char *form = strstr(html, "class=\"download\"");
	cr_assert_not_null(form, "no download button: %.3000s", html);
	cr_expect_null(strstr(html, it_str(m, "access_key")), "the key is in the page");
	it_between(form, "name=\"token\" value=\"", "\"", token, sizeof(token));
	it_between(form, "name=\"seal\" value=\"", "\"", seal, sizeof(seal));
	snprintf(post, sizeof(post), "token=%s&code=%s&seal=%s&file=0", token,
	         it_str(m, "tracking_code"), seal);
	html[0] = '\0';
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type);
	cr_expect(status != 200 || (type && strcmp(type, "application/pdf") == 0), "%s", type);
	curl_easy_cleanup(h);
	return status;
}

/* GET the reply's file n (from 0) with key on handle h. */
static void reply_file(CURL *h, json_t *msg, const char *key, int n, struct mr_http *r)
{
	char path[128], auth[256];
	struct curl_slist *hd;

	snprintf(path, sizeof(path), "/v1/messages/%s/reply-files/%d", it_str(msg, "tracking_code"),
	         n);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	hd = curl_slist_append(NULL, auth);
	cr_assert_eq(mr_http(h, env.base, "GET", path, hd, NULL, 0, 20000, r), 0);
	curl_slist_free_all(hd);
}

static const char *header(CURL *h, const char *name)
{
	struct curl_header *v = NULL;

	return curl_easy_header(h, name, 0, CURLH_HEADER, -1, &v) == CURLHE_OK ? v->value : "";
}

Test(attach, json_upload_scan_open, .init = it_init, .fini = it_fini, .timeout = 60)
{
	uint8_t png[4096], bad[4096];
	size_t npng = sample_png(png, "a photo of the broken lamp");
	size_t nbad = sample_jpeg(bad, CLAMD_FX_MARKER);
	char handles[300], *out = NULL;

	up(5, 1 << 20);
	/* A PNG declared as a PDF is taken for what it is. */
	char *h1 = handle_of(png, npng, "application/pdf", "image/png");
	char *h2 = handle_of(bad, nbad, "image/jpeg", "image/jpeg");
	/* The same file again gives the same handle. */
	char *h3 = handle_of(png, npng, "image/png", "image/png");
	cr_expect_str_eq(h1, h3);
	snprintf(handles, sizeof(handles), "\"%s\",\"%s\"", h1, h2);
	json_t *m = submit(handles, 201);
	const char *id = it_str(m, "id");
	cr_expect_eq(json_array_size(it_get(m, "attachments")), 2);

	json_t *s = status_until(m, 0, "clean");
	json_decref(s);
	s = status_until(m, 1, "infected");
	cr_expect_null(it_get(json_array_get(it_get(s, "attachments"), 1), "found"),
	               "the citizen is told it was refused, not what was found");
	json_decref(s);

	/* The handler sees both, and what the scanner found in the second. */
	cr_assert_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue",
	                            "general", "--wait", "5", NULL), 0, "pull: %s", out);
	json_t *p = it_json_text(out);
	free(out);
	json_t *a1 = json_array_get(it_get(p, "message.attachments"), 1);
	cr_expect_str_eq(json_string_value(json_object_get(a1, "found")), CLAMD_FX_SIGNATURE);
	json_decref(p);

	/* The clean file opens, byte for byte. */
	const char *dest = it_path("got.png");
	cr_assert_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "attachment", id, "0",
	                            "--out", dest, NULL), 0, "attachment: %s", out);
	free(out);
	size_t glen = 0;
	char *got = mr_read_text(dest, &glen);
	cr_assert_not_null(got);
	cr_expect_eq(glen, npng);
	cr_expect_eq(memcmp(got, png, npng), 0);
	free(got);
	/* The infected one does not. */
	cr_expect_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "attachment", id, "1",
	                            "--out", it_path("bad.jpg"), NULL), 7, "%s", out);
	cr_expect(out && strstr(out, "attachment_infected"), "%s", out);
	free(out);
	cr_expect_neq(access(it_path("bad.jpg"), F_OK), 0, "nothing kept of a refused file");

	/* The handler answers with a file of its own: not a text file named
	 * .pdf, a PDF. The citizen sees it listed, scanned like any other. */
	uint8_t rpdf[4096];
	size_t nrpdf = sample_pdf(rpdf, "the office's answer");
	it_save("answer.pdf", (const char *)rpdf, nrpdf);
	it_save("notes.pdf", "just text\n", 10);
	cr_expect_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "reply", id, "--text",
	                            "已修复，见附件。", "--attach", it_path("notes.pdf"), NULL), 8,
	             "%s", out);
	free(out);
	cr_assert_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "reply", id, "--text",
	                            "已修复，见附件。", "--attach", it_path("answer.pdf"), NULL), 0,
	             "reply: %s", out);
	free(out);
	for (int i = 0; i < 150; i++) {
		struct mr_http r;
		cr_assert_eq(mr_get_status(NULL, &env, it_str(m, "tracking_code"),
		                           it_str(m, "access_key"), &r), 0);
		s = it_json(&r);
		mr_http_free(&r);
		json_t *ra = json_array_get(it_get(s, "reply_attachments"), 0);
		int done = ra && strcmp(json_string_value(json_object_get(ra, "scan")), "clean") == 0;
		if (done)
			cr_expect_str_eq(json_string_value(json_object_get(ra, "type")), "application/pdf");
		json_decref(s);
		if (done)
			break;
		cr_assert_lt(i, 149, "the reply's file was never scanned");
		mr_sleep_ms(100);
	}

	/* The citizen downloads it with the access key, byte for byte. */
	CURL *ch = curl_easy_init();
	struct mr_http r;
	reply_file(ch, m, it_str(m, "access_key"), 0, &r);
	cr_expect_eq(r.status, 200, "%ld %.300s", r.status, r.body);
	cr_expect_eq(r.len, nrpdf);
	cr_expect(r.len == nrpdf && memcmp(r.body, rpdf, nrpdf) == 0, "not the reply's file");
	cr_expect_str_eq(r.content_type, "application/pdf");
	cr_expect(strncmp(header(ch, "Content-Disposition"), "attachment;", 11) == 0);
	cr_expect_str_eq(header(ch, "X-Content-Type-Options"), "nosniff");
	cr_expect_str_eq(header(ch, "Cache-Control"), "no-store");
	mr_http_free(&r);
	/* A wrong key, and a file the reply does not have: the same 404. */
	reply_file(ch, m, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0, &r);
	cr_expect_eq(r.status, 404, "%ld %.300s", r.status, r.body);
	mr_http_free(&r);
	reply_file(ch, m, it_str(m, "access_key"), 1, &r);
	cr_expect_eq(r.status, 404, "%ld %.300s", r.status, r.body);
	mr_http_free(&r);
	curl_easy_cleanup(ch);
	cr_expect_eq(track_download(m), 200);

	/* Each verdict is a record; the store matches the log. */
	cr_expect_eq(mr_audit_cmd(&env, &out, "verify", NULL), 0, "verify: %s", out);
	free(out);

	/* A stored file changed behind the router's back: exit 30. */
	char fpath[MR_PATH + 128];
	snprintf(fpath, sizeof(fpath), "%s/attachments/%s", env.store, h1);
	FILE *f = fopen(fpath, "r+b");
	cr_assert_not_null(f, "%s", fpath);
	cr_assert_eq(fseek(f, -3, SEEK_END), 0);
	int c = fgetc(f);
	cr_assert_eq(fseek(f, -3, SEEK_END), 0);
	fputc(c ^ 0x40, f);
	cr_assert_eq(fclose(f), 0);
	cr_expect_eq(mr_audit_cmd(&env, &out, "verify", NULL), 30, "verify: %s", out);
	cr_expect(out && strstr(out, "attachment 0: its file was changed"), "%s", out);
	free(out);
	/* The handler is refused it too, rather than given altered bytes. */
	cr_expect_neq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "attachment", id, "0",
	                             "--out", it_path("changed.png"), NULL), 0, "%s", out);
	free(out);
	/* And gone altogether. */
	cr_assert_eq(unlink(fpath), 0);
	cr_expect_eq(mr_audit_cmd(&env, &out, "verify", NULL), 30, "verify: %s", out);
	cr_expect(out && strstr(out, "attachment 0: its file is missing"), "%s", out);
	free(out);
	json_decref(m);
	free(h1), free(h2), free(h3);
	down();
}

Test(attach, refusals, .init = it_init, .fini = it_fini, .timeout = 60)
{
	static const char text[] = "not a picture at all, whatever its name says\n";
	uint8_t png[4096], pdf[4096];
	size_t npng = sample_png(png, NULL), npdf = sample_pdf(pdf, NULL);
	long st;
	json_t *j;

	up(2, 65536);
	/* Text sent as a JPEG: refused by its content. */
	j = upload(text, sizeof(text) - 1, "image/jpeg", &st);
	cr_expect_eq(st, 415);
	cr_expect_str_eq(it_str(j, "error.code"), "unsupported_type");
	json_decref(j);
	/* A declared type that is none of ours. */
	j = upload(png, npng, "text/plain", &st);
	cr_expect_eq(st, 415);
	json_decref(j);
	/* Over max_bytes. */
	size_t nbig = 70000;
	uint8_t *big = calloc(1, nbig);
	memcpy(big, pdf, npdf - 7);
	memcpy(big + nbig - 7, "%%EOF\n", 6);
	j = upload(big, nbig, "application/pdf", &st);
	cr_expect_eq(st, 413);
	cr_expect_str_eq(it_str(j, "error.code"), "too_large");
	json_decref(j);
	free(big);
	/* Empty. */
	j = upload("", 0, "application/pdf", &st);
	cr_expect_eq(st, 422);
	json_decref(j);

	/* Over max_files, an unknown handle, a malformed one. */
	char *h = handle_of(png, npng, "image/png", "image/png");
	char *k = handle_of(pdf, npdf, "application/pdf", "application/pdf");
	char three[300], unknown[80];
	snprintf(three, sizeof(three), "\"%s\",\"%s\",\"%s\"", h, k, h);
	j = submit(three, 422);
	cr_expect_str_eq(it_str(j, "error.code"), "too_many_files");
	json_decref(j);
	snprintf(unknown, sizeof(unknown), "\"%064d\"", 0);
	j = submit(unknown, 400);
	cr_expect_str_eq(it_str(j, "error.code"), "invalid_attachment");
	json_decref(j);
	j = submit("\"photo.jpg\"", 400);
	cr_expect_str_eq(it_str(j, "error.code"), "invalid_field");
	json_decref(j);
	free(h), free(k);
	down();
}

Test(attach, scanner_away_then_back, .init = it_init, .fini = it_fini, .timeout = 60)
{
	uint8_t pdf[4096];
	size_t npdf = sample_pdf(pdf, "a scanned letter");
	char handles[80], *out = NULL;

	up(5, 1 << 20);
	clamd_fx_stop(&clam);
	char *h = handle_of(pdf, npdf, "application/pdf", "application/pdf");
	snprintf(handles, sizeof(handles), "\"%s\"", h);
	json_t *m = submit(handles, 201);
	const char *id = it_str(m, "id");

	/* Pending, and so it stays while clamd is away: never passed. */
	mr_sleep_ms(1500);
	json_t *s = status_until(m, 0, "pending");
	json_decref(s);
	cr_expect_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "attachment", id, "0",
	                            "--out", it_path("early.pdf"), NULL), 7, "%s", out);
	cr_expect(out && strstr(out, "attachment_pending"), "%s", out);
	free(out);
	size_t llen = 0;
	char *log = mr_read_text(env.router.log, &llen);
	cr_expect(log && strstr(log, "virus scanner") && strstr(log, "unreachable"),
	          "no alert in the router's log");
	free(log);

	/* A reply's file waits the same way: the citizen is told so. */
	cr_assert_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue",
	                            "general", "--wait", "5", NULL), 0, "pull: %s", out);
	free(out);
	it_save("answer.pdf", (const char *)pdf, npdf);
	cr_assert_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "reply", id, "--text",
	                            "见附件。", "--attach", it_path("answer.pdf"), NULL), 0,
	             "reply: %s", out);
	free(out);
	struct mr_http r;
	reply_file(NULL, m, it_str(m, "access_key"), 0, &r);
	cr_expect_eq(r.status, 409, "%ld %.300s", r.status, r.body);
	json_t *e = it_json(&r);
	cr_expect_str_eq(it_str(e, "error.code"), "attachment_pending");
	json_decref(e);
	mr_http_free(&r);

	cr_assert_eq(clamd_fx_restart(&clam), 0);
	s = status_until(m, 0, "clean");
	json_decref(s);
	cr_expect_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "attachment", id, "0",
	                            "--out", it_path("late.pdf"), NULL), 0, "%s", out);
	free(out);
	json_decref(m);
	free(h);
	down();
}

/* ----------------------------------------------------------- web form -- */

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
	char *buf = arg;
	size_t have = strlen(buf), add = size * n;

	if (have + add < 65536) {
		memcpy(buf + have, data, add);
		buf[have + add] = '\0';
	}
	return add;
}

struct part {
	const char *file;          /* NULL: a text field */
	const void *data;
	size_t len;
};

/* GET the form for its token, then POST it as a browser does, with files. */
static long post_form(CURL *h, const char *path, const char *subject, const struct part *files,
                      int nfiles, char *html)
{
	char url[256], token[128];
	long status = 0;
	curl_mime *mime;

	snprintf(url, sizeof(url), "%s%s", env.base, path);
	html[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, html);
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	cr_assert(strstr(html, "enctype=\"multipart/form-data\""), "the form takes no files");
	cr_assert(strstr(html, "type=\"file\""), "no file field");
	it_between(html, "name=\"token\" value=\"", "\"", token, sizeof(token));
	mime = curl_mime_init(h);
	curl_mimepart *pt = curl_mime_addpart(mime);
	curl_mime_name(pt, "token");
	curl_mime_data(pt, token, CURL_ZERO_TERMINATED);
	pt = curl_mime_addpart(mime);
	curl_mime_name(pt, "subject");
	curl_mime_data(pt, subject, CURL_ZERO_TERMINATED);
	pt = curl_mime_addpart(mime);
	curl_mime_name(pt, "body");
	curl_mime_data(pt, "附件里是照片。\r\n第二行。", CURL_ZERO_TERMINATED);
	for (const char *f = "name\0phone\0email\0"; *f; f += strlen(f) + 1) {
		pt = curl_mime_addpart(mime);
		curl_mime_name(pt, f);
		curl_mime_data(pt, "", 0);
	}
	for (int i = 0; i < nfiles; i++) {
		pt = curl_mime_addpart(mime);
		curl_mime_name(pt, "files");
		curl_mime_data(pt, files[i].data, files[i].len);
		curl_mime_filename(pt, files[i].file);
	}
	html[0] = '\0';
	curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_setopt(h, CURLOPT_MIMEPOST, NULL);
	curl_mime_free(mime);
	return status;
}

Test(attach, web_form, .init = it_init, .fini = it_fini, .timeout = 60)
{
	static char html[65536];
	static const char text[] = "plain text, named like a photo\n";
	uint8_t png[4096], pdf[4096];
	size_t npng = sample_png(png, NULL), npdf = sample_pdf(pdf, "a letter");
	char code[32], key[512];
	CURL *h = curl_easy_init();

	up(2, 65536);
	curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");
	/* A text file named .jpg: the form again, the error at the field,
	 * the text kept. */
	struct part bad[] = {{"photo.jpg", text, sizeof(text) - 1}};
	cr_expect_eq(post_form(h, "/mailbox", "路灯坏了", bad, 1, html), 415, "%.3000s", html);
	cr_expect(strstr(html, "id=\"e-files\""), "no error next to the file field: %.3000s", html);
	cr_expect(strstr(html, "value=\"路灯坏了\""), "the subject was not kept");
	/* Three files where two are allowed. */
	struct part three[] = {{"a.png", png, npng}, {"b.pdf", pdf, npdf}, {"c.png", png, npng}};
	cr_expect_eq(post_form(h, "/mailbox", "路灯坏了", three, 3, html), 422, "%.3000s", html);
	cr_expect(strstr(html, "id=\"e-files\""), "%.3000s", html);
	/* A PNG named .pdf and a PDF: stored, the confirmation shown. */
	struct part good[] = {{"lamp.pdf", png, npng}, {"letter.pdf", pdf, npdf}};
	cr_assert_eq(post_form(h, "/mailbox", "路灯坏了", good, 2, html), 201, "%.3000s", html);
	it_between(html, "id=\"tracking-code\">", "<", code, sizeof(code));
	it_between(html, "id=\"access-key\">", "</dd>", key, sizeof(key));
	/* The key is shown in groups within spans: keep its characters. */
	char *o = key;
	int tag = 0;
	for (char *s = key; *s; s++) {
		if (*s == '<')
			tag = 1;
		else if (*s == '>')
			tag = 0;
		else if (!tag && *s != ' ')
			*o++ = *s;
	}
	*o = '\0';
	json_t *m = json_pack("{s:s, s:s}", "tracking_code", code, "access_key", key);
	json_t *s = status_until(m, 0, "clean");
	json_t *a = it_get(s, "attachments");
	cr_expect_eq(json_array_size(a), 2);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(a, 0), "type")), "image/png");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(a, 1), "type")),
	                 "application/pdf");
	json_decref(s);
	json_decref(m);
	curl_easy_cleanup(h);
	down();
}
