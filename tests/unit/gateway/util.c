#include "util.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static char dir[256];

const char *scratch_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (!dir[0]) {
		/* Short: the router's ipc path must fit a sockaddr_un. */
		snprintf(dir, sizeof(dir), "%s/mr-gw-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
		cr_assert_not_null(mkdtemp(dir));
	}
	return dir;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void scratch_remove(void)
{
	if (dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
}

void test_conf(struct pb_conf *c, const char *d)
{
	char path[PB_PATH_MAX];
	FILE *f;

	pb_conf_defaults(c);
	snprintf(c->log_level, sizeof(c->log_level), "warn");
	c->http_port = 0;
	c->http_threads = 2;
	c->http_timeout_s = 2;
	snprintf(c->router_url, sizeof(c->router_url), "ipc://%s/router.ipc", d);
	snprintf(c->gateway_secret, sizeof(c->gateway_secret), "%s/keys/gateway.secret", d);
	snprintf(path, sizeof(path), "%s/app.secret", d);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	/* The file holds the hex of the key bytes. */
	for (const char *p = APP_SECRET; *p; p++)
		fprintf(f, "%02x", (unsigned char)*p);
	fputc('\n', f);
	fclose(f);
	cr_assert_eq(chmod(path, 0600), 0);   /* the gateway reads no secret others may read */
	c->nhotline_apps = 1;
	snprintf(c->hotline_apps[0].app_id, PB_NAME_MAX, "%s", APP_ID);
	snprintf(c->hotline_apps[0].secret_file, PB_PATH_MAX, "%s", path);
}

struct sink {
	char *buf;
	size_t len, cap;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;

	if (s->len + len >= s->cap)
		len = s->cap - 1 - s->len;
	memcpy(s->buf + s->len, p, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return size * n;
}

int http_do(const char *method, const char *url, const char *const *headers, const void *body,
            size_t blen, struct resp *r)
{
	static int inited;
	struct curl_slist *list = NULL;
	struct sink b = {r->body, 0, sizeof(r->body)}, h = {r->headers, 0, sizeof(r->headers)};
	CURL *c;
	CURLcode rc;

	if (!inited++)
		curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(r, 0, sizeof(*r));
	c = curl_easy_init();
	cr_assert_not_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
	}
	/* No "Expect: 100-continue" wait unless a test asks for it. */
	list = curl_slist_append(list, "Expect:");
	for (size_t i = 0; headers && headers[i]; i++)
		list = curl_slist_append(list, headers[i]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->seconds);
	r->len = b.len;
	curl_slist_free_all(list);
	curl_easy_cleanup(c);
	return rc == CURLE_OK ? 0 : -1;
}

const char *resp_header(const struct resp *r, const char *name, char *buf, size_t n)
{
	size_t nl = strlen(name);

	for (const char *p = r->headers; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		if (!eol)
			break;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t len = (size_t)(eol - v);
			if (len >= n)
				len = n - 1;
			memcpy(buf, v, len);
			buf[len] = '\0';
			return buf;
		}
		p = eol + 2;
	}
	return NULL;
}

void sign_headers(const char *path, long long ts, const char *nonce, const char *body,
                  char hdrs[4][200])
{
	uint8_t digest[32], mac[32];
	char bodyhex[65], machex[65], msg[1024];

	crypto_hash_sha256(digest, (const uint8_t *)body, strlen(body));
	sodium_bin2hex(bodyhex, sizeof(bodyhex), digest, sizeof(digest));
	snprintf(msg, sizeof(msg), "POST\n%s\n%lld\n%s\n%s", path, ts, nonce, bodyhex);
	/* The test secret is exactly 32 bytes, the single-shot key size. */
	crypto_auth_hmacsha256(mac, (const uint8_t *)msg, strlen(msg), (const uint8_t *)APP_SECRET);
	sodium_bin2hex(machex, sizeof(machex), mac, sizeof(mac));
	snprintf(hdrs[0], 200, "X-App-Id: %s", APP_ID);
	snprintf(hdrs[1], 200, "X-Timestamp: %lld", ts);
	snprintf(hdrs[2], 200, "X-Nonce: %s", nonce);
	snprintf(hdrs[3], 200, "X-Signature: %s", machex);
}

void copy_body(char *dst, size_t n, const struct resp *r)
{
	size_t len = r->len < n - 1 ? r->len : n - 1;

	memcpy(dst, r->body, len);
	dst[len] = '\0';
}
