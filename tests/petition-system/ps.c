/* The stand-in petition system (ps.h): signing and delivering transfers
 * as docs/petition-transfer.md says the real one does. */
#include "ps.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PATH "/v1/petition/transfers"

char *ps_transfer(const char *no, const char *title, const char *content, long forwarded_s)
{
	char at[40], *out;
	time_t t = (time_t)forwarded_s + 8 * 3600;   /* shown in Asia/Shanghai */
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%S+08:00", &tm);
	n = strlen(no) + strlen(title) + strlen(content) + 512;
	if (!(out = malloc(n)))
		return NULL;
	snprintf(out, n,
	         "{\"petition_no\":\"%s\",\"forwarded_by\":\"市信访局\",\"forwarded_at\":\"%s\","
	         "\"kind\":\"complaint\",\"title\":\"%s\",\"content\":\"%s\","
	         "\"contact\":{\"name\":\"李四\",\"phone\":\"13800138000\"},\"region\":\"鼓楼区\"}",
	         no, at, title, content);
	return out;
}

static size_t keep(char *data, size_t size, size_t n, void *arg)
{
	struct ps_answer *a = arg;
	size_t have = strlen(a->body), add = size * n;

	if (have + 1 < sizeof(a->body)) {
		size_t k = add < sizeof(a->body) - 1 - have ? add : sizeof(a->body) - 1 - have;
		memcpy(a->body + have, data, k);
		a->body[have + k] = '\0';
	}
	return add;
}

/* X-Signature = hex(HMAC-SHA256(secret, METHOD \n PATH \n TS \n NONCE \n hex(SHA256(body)))) */
static void sign(const char *secret, const char *ts, const char *nonce, const char *body,
                 char out[65])
{
	uint8_t key[64], digest[32], mac[32];
	char hex[65];
	size_t keylen = 0;
	crypto_auth_hmacsha256_state st;
	const char *parts[] = {"POST", "\n", PATH, "\n", ts, "\n", nonce, "\n", hex};

	if (sodium_hex2bin(key, sizeof(key), secret, strlen(secret), NULL, &keylen, NULL) != 0)
		keylen = 0;
	crypto_hash_sha256(digest, (const uint8_t *)body, strlen(body));
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	crypto_auth_hmacsha256_init(&st, key, keylen);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)parts[i], strlen(parts[i]));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(key, sizeof(key));
	sodium_bin2hex(out, 65, mac, sizeof(mac));
}

int ps_push_once(const struct ps *p, const char *json, int faults, struct ps_answer *a)
{
	struct curl_slist *hd = NULL;
	char ts[32], nonce[33], sig[65], line[256], url[256];
	uint8_t raw[16];
	CURL *h = curl_easy_init();
	CURLcode cc;

	a->status = 0;
	a->body[0] = '\0';
	if (!h)
		return -1;
	snprintf(ts, sizeof(ts), "%ld", (long)time(NULL) - ((faults & PS_STALE) ? 3600 : 0));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(nonce, sizeof(nonce), raw, sizeof(raw));
	sign(p->secret, ts, nonce, json, sig);
	if (faults & PS_BAD_SIGNATURE)
		sig[7] = sig[7] == 'a' ? 'b' : 'a';
	hd = curl_slist_append(hd, "Content-Type: application/json");
	snprintf(line, sizeof(line), "X-App-Id: %s", (faults & PS_UNKNOWN_APP) ? "nobody" : p->app_id);
	hd = curl_slist_append(hd, line);
	snprintf(line, sizeof(line), "X-Timestamp: %s", ts);
	hd = curl_slist_append(hd, line);
	snprintf(line, sizeof(line), "X-Nonce: %s", nonce);
	hd = curl_slist_append(hd, line);
	snprintf(line, sizeof(line), "X-Signature: %s", sig);
	hd = curl_slist_append(hd, line);
	snprintf(url, sizeof(url), "%s%s", p->base, PATH);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, p->timeout_ms ? p->timeout_ms : 10000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	return cc == CURLE_OK ? 0 : -1;
}

int ps_deliver(const struct ps *p, const char *json, struct ps_answer *a)
{
	int max = p->attempts ? p->attempts : 5;
	long wait = p->backoff_ms ? p->backoff_ms : 200;

	for (a->tries = 1; a->tries <= max; a->tries++) {
		struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
		if (ps_push_once(p, json, 0, a) == 0 && a->status != 503)
			return 0;
		nanosleep(&ts, NULL);
	}
	a->tries = max;
	return -1;
}
