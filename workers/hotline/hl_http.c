/* Signed requests to the 12345 platform (hotline-12345.md,
 * "Authentication"): every call carries X-App-Id, X-Timestamp, a fresh
 * X-Nonce and X-Signature over method, path with query, timestamp, nonce
 * and the body's SHA-256. One easy handle per loop, so connections are
 * reused; connect and total timeouts bound every call. */
#include "hl.h"
#include "pb_err.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void hl_sign(const uint8_t *key, size_t keylen, const char *method, const char *path,
             const char *ts, const char *nonce, const void *body, size_t len, char out[65])
{
	crypto_auth_hmacsha256_state st;
	uint8_t digest[crypto_hash_sha256_BYTES], mac[crypto_auth_hmacsha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	const char *parts[] = {method, "\n", path, "\n", ts, "\n", nonce, "\n", hex};

	crypto_hash_sha256(digest, body ? body : (const void *)"", len);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	crypto_auth_hmacsha256_init(&st, key, keylen);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)parts[i], strlen(parts[i]));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
	sodium_bin2hex(out, 65, mac, sizeof(mac));
}

/* The secret file holds the key as hex, like every secret of Mailroom. */
static int load_key(const char *path, uint8_t *key, size_t cap, size_t *keylen)
{
	char hex[2 * 128 + 8];
	size_t len = 0;
	int rc = pb_read_secret_file(path, (uint8_t *)hex, sizeof(hex) - 1, &len);

	if (rc)
		return rc;
	while (len > 0 && strchr(" \t\r\n", hex[len - 1]))
		len--;
	hex[len] = '\0';
	rc = len < 32 || len % 2 ||
	     sodium_hex2bin(key, cap, hex, len, NULL, keylen, NULL) != 0 || *keylen != len / 2;
	sodium_memzero(hex, sizeof(hex));
	return rc ? PB_EINVAL : PB_OK;
}

int hl_http_init(struct hl_http *h, const struct pb_conf *c, char *err, size_t errlen)
{
	const char *u = c->hotline_platform_url, *scheme = strstr(u, "://"), *slash;
	size_t n = strlen(u);
	int rc;

	memset(h, 0, sizeof(*h));
	if (!*u || !scheme || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)) {
		snprintf(err, errlen, "[hotline] platform_url must be an http(s) URL, not '%s'", u);
		return PB_EINVAL;
	}
	if (!c->hotline_app_id[0]) {
		snprintf(err, errlen, "[hotline] app_id is not set");
		return PB_EINVAL;
	}
	while (n > 0 && u[n - 1] == '/')
		n--;
	if (n >= sizeof(h->base)) {
		snprintf(err, errlen, "[hotline] platform_url is too long");
		return PB_EINVAL;
	}
	memcpy(h->base, u, n);
	h->base[n] = '\0';
	slash = strchr(h->base + (scheme - u) + 3, '/');
	snprintf(h->base_path, sizeof(h->base_path), "%s", slash ? slash : "");
	snprintf(h->app_id, sizeof(h->app_id), "%s", c->hotline_app_id);
	if ((rc = load_key(c->hotline_app_secret_file, h->key, sizeof(h->key), &h->keylen))) {
		snprintf(err, errlen, "[hotline] app_secret_file %s: %s", c->hotline_app_secret_file,
		         rc == PB_EINVAL ? "must hold 32-256 hex digits" : pb_err_str(rc));
		return rc;
	}
	h->connect_ms = c->hotline_connect_timeout_ms;
	h->timeout_ms = c->hotline_timeout_ms;
	if (!(h->h = curl_easy_init())) {
		snprintf(err, errlen, "cannot start libcurl");
		return PB_ENOMEM;
	}
	return PB_OK;
}

void hl_http_fini(struct hl_http *h)
{
	if (h->h)
		curl_easy_cleanup(h->h);
	sodium_memzero(h->key, sizeof(h->key));
	h->h = NULL;
}

void hl_resp_free(struct hl_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

static size_t on_body(char *ptr, size_t size, size_t n, void *arg)
{
	struct hl_resp *r = arg;
	size_t add = size * n;

	/* Returning less than given aborts the transfer. */
	if (r->len + add > (r->max ? r->max : HL_BODY_MAX))
		return 0;
	char *nb = realloc(r->body, r->len + add + 1);
	if (!nb)
		return 0;
	memcpy(nb + r->len, ptr, add);
	r->body = nb;
	r->len += add;
	r->body[r->len] = '\0';
	return add;
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	struct hl_resp *r = arg;
	size_t len = size * n;
	char v[64];

	if (len > 12 && len < 12 + sizeof(v) && strncasecmp(line, "Retry-After:", 12) == 0) {
		memcpy(v, line + 12, len - 12);
		v[len - 12] = '\0';
		r->retry_after_ms = hl_retry_after_ms(v);
	}
	return len;
}

int hl_http_call(struct hl_http *h, const char *method, const char *path, const char *body,
                 size_t len, struct hl_resp *r)
{
	char full[2 * PB_PATH_MAX], url[3 * PB_PATH_MAX], ts[24], nonce[33], sig[65], line[PB_NAME_MAX + 32];
	uint8_t raw[16];
	struct curl_slist *hd = NULL, *tmp;
	int n;

	memset(r, 0, sizeof(*r));
	r->retry_after_ms = -1;
	r->max = h->body_max;
	n = snprintf(full, sizeof(full), "%s%s", h->base_path, path);
	if (n < 0 || (size_t)n >= sizeof(full))
		return PB_EINVAL;
	snprintf(url, sizeof(url), "%s%s", h->base, path);
	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(nonce, sizeof(nonce), raw, sizeof(raw));
	hl_sign(h->key, h->keylen, method, full, ts, nonce, body, len, sig);

	const char *lines[] = {"X-App-Id: ", h->app_id, "X-Timestamp: ", ts, "X-Nonce: ", nonce,
	                       "X-Signature: ", sig};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i += 2) {
		snprintf(line, sizeof(line), "%s%s", lines[i], lines[i + 1]);
		if (!(tmp = curl_slist_append(hd, line)))
			goto oom;
		hd = tmp;
	}
	if (body && !(tmp = curl_slist_append(hd, "Content-Type: application/json")))
		goto oom;
	if (body)
		hd = tmp;
	/* curl would send "Expect: 100-continue" and wait for it on larger bodies. */
	if (!(tmp = curl_slist_append(hd, "Expect:")))
		goto oom;
	hd = tmp;

	curl_easy_reset(h->h);
	curl_easy_setopt(h->h, CURLOPT_URL, url);
	curl_easy_setopt(h->h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->h, CURLOPT_CONNECTTIMEOUT_MS, h->connect_ms);
	curl_easy_setopt(h->h, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	curl_easy_setopt(h->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h->h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h->h, CURLOPT_ERRORBUFFER, r->err);
	curl_easy_setopt(h->h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h->h, CURLOPT_POST, 1L);
		curl_easy_setopt(h->h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(h->h, CURLOPT_HTTPGET, 1L);
	}
	r->cc = curl_easy_perform(h->h);
	if (r->cc == CURLE_OK)
		curl_easy_getinfo(h->h, CURLINFO_RESPONSE_CODE, &r->status);
	else if (!r->err[0])
		snprintf(r->err, sizeof(r->err), "%s", curl_easy_strerror(r->cc));
	/* For /healthz: the platform is failing when it cannot be reached, is
	 * overloaded or refuses our signature; a 4xx about one order is not. */
	cn_health_upstream(r->cc == CURLE_OK && r->status < 500 && r->status != 429 &&
	                   r->status != 401 && r->status != 403);
	curl_slist_free_all(hd);
	return PB_OK;
oom:
	curl_slist_free_all(hd);
	return PB_ENOMEM;
}
