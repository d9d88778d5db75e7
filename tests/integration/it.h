/* What every integration test file shares: one environment per test
 * (Criterion runs each test in its own process), torn down in fini even
 * when an assertion ended the test early. */
#ifndef MR_IT_H
#define MR_IT_H

#include "harness.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct mr_env env;

static void it_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void it_fini(void)
{
	mr_env_down(&env);
	curl_global_cleanup();
}

#define IT_UP(opts)                                                                   \
	do {                                                                              \
		cr_assert_eq(mr_env_init(&env, (opts)), 0, "cannot prepare the environment"); \
		cr_assert_eq(mr_env_up(&env), 0, "router or gateway did not start");         \
	} while (0)

/* An orderly stop must be clean: exit 0 and no sanitizer report. */
#define IT_DOWN()                                                                     \
	cr_expect_eq(mr_env_down(&env), 0,                                               \
	             "router or gateway died, stopped uncleanly or reported a sanitizer " \
	             "finding (see stderr)")

/* mailroom-audit with the arguments given, NULL-terminated: its exit code,
 * stdout into *out (malloc'd; out may be NULL), stderr shown when it
 * fails. */
static inline int it_audit(char **out, ...)
{
	char *argv[32] = {MR_BIN_DIR "/workers/audit/mailroom-audit"}, *err = NULL;
	const char *a;
	va_list ap;
	int n = 1, rc;

	va_start(ap, out);
	while ((a = va_arg(ap, const char *)) != NULL && n < 31)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	rc = mr_run(&env, argv, out, &err, 120);
	if (rc != 0 && err && *err)
		fprintf(stderr, "mailroom-audit %s: exit %d: %s", argv[1], rc, err);
	free(err);
	return rc;
}

/* Value at a dotted path ("receipt.key_id"), or NULL. */
static inline json_t *it_get(json_t *j, const char *path)
{
	char key[128];

	while (j && *path) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		j = json_object_get(j, key);
		path += n + (path[n] == '.');
	}
	return j;
}

static inline const char *it_str(json_t *j, const char *path)
{
	return json_string_value(it_get(j, path));
}

/* Parses a response body, failing the test when it is not a JSON object. */
static inline json_t *it_json(const struct mr_http *r)
{
	json_t *j = mr_http_json(r);

	cr_assert(j && json_is_object(j), "not a JSON object (HTTP %ld): %.300s", r->status,
	          r->body ? r->body : "(no body)");
	return j;
}

static inline json_t *it_json_text(const char *text)
{
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;

	cr_assert(j && json_is_object(j), "not a JSON object: %.300s", text ? text : "(nothing)");
	return j;
}

/* {"error":{"code":C,"message":...}} with the given code (NULL: any). */
static inline void it_expect_error(const struct mr_http *r, const char *code)
{
	json_t *j = mr_http_json(r);
	const char *c = it_str(j, "error.code");

	cr_expect(j && c && json_is_string(it_get(j, "error.message")),
	          "HTTP %ld: body is not {\"error\":{\"code\",\"message\"}}: %.300s", r->status,
	          r->body ? r->body : "(no body)");
	if (code && c)
		cr_expect_str_eq(c, code, "HTTP %ld: error code '%s', wanted '%s'", r->status, c, code);
	json_decref(j);
}

static inline int it_alive(void)
{
	return mr_proc_alive(&env.router) && mr_proc_alive(&env.gateway);
}

/* env.dir + "/" + name, in one of 8 buffers used in turn. */
static inline const char *it_path(const char *name)
{
	static char bufs[8][MR_PATH];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, MR_PATH, "%s/%s", env.dir, name);
	return b;
}

/* Writes data to env.dir/name. */
static inline void it_save(const char *name, const char *data, size_t len)
{
	char p[MR_PATH];
	FILE *f;

	snprintf(p, sizeof(p), "%s", it_path(name));
	f = fopen(p, "wb");
	cr_assert_not_null(f, "%s", p);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* GET path from the gateway into env.dir/name, which must answer 200;
 * the body stays in *body when asked (malloc'd). */
static inline void it_fetch(const char *path, const char *name, char **body)
{
	struct mr_http r;

	cr_assert_eq(mr_http(NULL, env.base, "GET", path, NULL, NULL, 0, 10000, &r), 0, "GET %s",
	             path);
	cr_assert_eq(r.status, 200, "GET %s: HTTP %ld: %.300s", path, r.status,
	             r.body ? r.body : "");
	it_save(name, r.body, r.len);
	if (body) {
		*body = r.body;
		r.body = NULL;
	}
	mr_http_free(&r);
}

/* The size line of a checkpoint note. */
static inline unsigned long long it_note_size(const char *note)
{
	const char *nl = strchr(note, '\n');

	cr_assert_not_null(nl, "%s", note);
	return strtoull(nl + 1, NULL, 10);
}

/* ------------------------------------------ the pages, as a browser -- */

/* Where a page's body or headers go: cut at cap - 1, always terminated. */
struct it_sink {
	char *p;
	size_t cap;
};

static inline size_t it_collect(char *data, size_t size, size_t n, void *arg)
{
	struct it_sink *s = arg;
	size_t have = strlen(s->p), add = size * n;

	if (have + add < s->cap) {
		memcpy(s->p + have, data, add);
		s->p[have + add] = '\0';
	}
	return add;
}

static inline size_t it_discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data, (void)arg;
	return size * n;
}

/* One browser is a curl handle with its own cookie jar (CURLOPT_COOKIEFILE
 * ""). GET path, or POST form (urlencoded) to it: the status, the body in
 * body (cap bytes), the headers in headers (hcap bytes) when not NULL. */
static inline long it_page(CURL *h, const char *method, const char *path, const char *form,
                           char *body, size_t cap, char *headers, size_t hcap)
{
	char url[256], none[1];
	struct it_sink b = {body, cap}, hd = {headers ? headers : none, headers ? hcap : 1};
	struct curl_slist *list = NULL;
	long status = 0;

	snprintf(url, sizeof(url), "%s%s", env.base, path);
	body[0] = '\0';
	hd.p[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, it_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)&b);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, it_collect);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, (void *)&hd);
	if (strcmp(method, "POST") == 0) {
		list = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	cr_assert_eq(curl_easy_perform(h), CURLE_OK, "%s %s", method, path);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, NULL);
	/* The sinks were on this stack: a later perform of h must not use them. */
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, it_discard);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	curl_slist_free_all(list);
	return status;
}

/* The text between the first before in html and the next after. */
static inline void it_between(const char *html, const char *before, const char *after, char *out,
                              size_t cap)
{
	const char *p = strstr(html, before), *q;

	cr_assert_not_null(p, "no %s in %.3000s", before, html);
	p += strlen(before);
	q = strstr(p, after);
	cr_assert(q && (size_t)(q - p) < cap, "%s…%s too long or unended", before, after);
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
}

#endif
