/* Tencent Cloud SMS: the SendSms action (API version 2021-01-11) signed
 * with TC3-HMAC-SHA256, the provider's signature version 3. The text of
 * an SMS is the template the office had approved by the provider; we
 * send its id and its parameters (the template file's TemplateId and
 * Params lines) and the provider fills it in. */
#include "nt.h"
#include "pb_log.h"

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SERVICE "sms"
#define VERSION "2021-01-11"
#define CTYPE "application/json; charset=utf-8"
#define SIGNED_HEADERS "content-type;host;x-tc-action"

static void hex(const uint8_t *in, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, in, n);
}

static void sha256_hex(const char *s, size_t n, char out[65])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const uint8_t *)s, n);
	hex(h, sizeof(h), out);
}

static void hmac(const uint8_t *key, size_t keylen, const char *msg, uint8_t out[32])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

int nt_tc3_authorization(const char *secret_id, const char *secret_key, const char *host,
                         const char *action, int64_t timestamp, const char *body, char *out,
                         size_t outlen)
{
	char date[16], action_lc[64], body_hash[65], creq_hash[65], sig[65], *creq, *sts;
	uint8_t k[32];
	time_t ts = (time_t)timestamp;
	struct tm tm;
	size_t i, keylen = strlen(secret_key) + 3;
	int n;

	gmtime_r(&ts, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	for (i = 0; action[i] && i + 1 < sizeof(action_lc); i++)
		action_lc[i] = (char)(action[i] >= 'A' && action[i] <= 'Z' ? action[i] + 32 : action[i]);
	action_lc[i] = '\0';
	sha256_hex(body, strlen(body), body_hash);
	if (asprintf(&creq, "POST\n/\n\ncontent-type:%s\nhost:%s\nx-tc-action:%s\n\n%s\n%s", CTYPE,
	             host, action_lc, SIGNED_HEADERS, body_hash) < 0)
		return -1;
	sha256_hex(creq, strlen(creq), creq_hash);
	free(creq);
	if (asprintf(&sts, "TC3-HMAC-SHA256\n%lld\n%s/" SERVICE "/tc3_request\n%s",
	             (long long)timestamp, date, creq_hash) < 0)
		return -1;
	/* The key is derived per day and service: "TC3" ‖ SecretKey, then the
	 * date, the service, "tc3_request"; it signs the string. */
	char *k0 = malloc(keylen + 1);
	if (!k0) {
		free(sts);
		return -1;
	}
	snprintf(k0, keylen + 1, "TC3%s", secret_key);
	hmac((const uint8_t *)k0, keylen, date, k);
	sodium_memzero(k0, keylen);
	free(k0);
	hmac(k, sizeof(k), SERVICE, k);
	hmac(k, sizeof(k), "tc3_request", k);
	hmac(k, sizeof(k), sts, k);
	free(sts);
	hex(k, sizeof(k), sig);
	sodium_memzero(k, sizeof(k));
	n = snprintf(out, outlen,
	             "TC3-HMAC-SHA256 Credential=%s/%s/" SERVICE "/tc3_request, SignedHeaders="
	             SIGNED_HEADERS ", Signature=%s",
	             secret_id, date, sig);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

struct body {
	char *p;
	size_t len;
};

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > 64 * 1024 || !(p = realloc(b->p, b->len + n + 1)))
		return 0;
	memcpy(p + b->len, data, n);
	b->len += n;
	p[b->len] = '\0';
	b->p = p;
	return n;
}

/* The provider's error codes: these pass with time (or with the office
 * fixing its account); the rest (a wrong number, a blocked number, a bad
 * template) never will, so the notice is a dead letter at once. */
static int may_pass(const char *code)
{
	static const char *const later[] = {"InternalError", "RequestLimitExceeded", "LimitExceeded",
	                                    "AuthFailure", "ResourceUnavailable",
	                                    "FailedOperation.InsufficientBalanceInSmsPackage"};
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++)
		if (strncmp(code, later[i], strlen(later[i])) == 0)
			return 1;
	return 0;
}

static void judge(long status, const char *text, struct nt_result *r)
{
	json_t *root = text ? json_loads(text, 0, NULL) : NULL;
	json_t *resp = json_object_get(root, "Response");
	json_t *error = json_object_get(resp, "Error");
	json_t *set = json_object_get(resp, "SendStatusSet");
	const char *code = NULL, *msg = "";

	if (status >= 500 || status == 429 || status == 0) {
		r->outcome = NT_RETRY;
		snprintf(r->why, sizeof(r->why), "sms: HTTP %ld", status);
	} else if (status != 200 || !resp) {
		r->outcome = NT_FINAL;
		snprintf(r->why, sizeof(r->why), "sms: HTTP %ld, not a SendSms answer", status);
	} else {
		if (error) {
			code = json_string_value(json_object_get(error, "Code"));
			msg = json_string_value(json_object_get(error, "Message"));
		} else if (json_array_size(set) == 1) {
			code = json_string_value(json_object_get(json_array_get(set, 0), "Code"));
			msg = json_string_value(json_object_get(json_array_get(set, 0), "Message"));
		}
		if (code && strcmp(code, "Ok") == 0) {
			r->outcome = NT_SENT;
		} else {
			r->outcome = code && may_pass(code) ? NT_RETRY : NT_FINAL;
			snprintf(r->why, sizeof(r->why), "sms: %s: %.120s", code ? code : "no status",
			         msg ? msg : "");
		}
	}
	json_decref(root);
}

/* host[:port] as the URL names it: what curl sends as Host, so what is signed. */
static int host_of(const char *url, char *out, size_t cap)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	int rc = -1;

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_PORT, &port, 0);
		rc = snprintf(out, cap, "%s%s%s", host, port ? ":" : "", port ? port : "") >= (int)cap;
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

void nt_sms_tencent_send(const struct pb_conf *c, const char *secret,
                         const Mailroom__NoticeEntry *e, const struct nt_msg *m,
                         const struct nt_var *vars, size_t nvars, struct nt_result *r)
{
	char host[300], auth[512], phone[40], params[sizeof(m->params)], hdr[600];
	json_t *body = NULL, *set;
	struct curl_slist *h = NULL;
	struct body got = {0};
	char *text = NULL;
	long status = 0;
	CURL *curl = NULL;
	int64_t now = (int64_t)time(NULL);

	r->outcome = NT_RETRY;
	r->why[0] = '\0';
	if (!*m->template_id) {
		r->outcome = NT_FINAL;
		snprintf(r->why, sizeof(r->why), "sms: the %s template has no TemplateId line", e->kind);
		return;
	}
	if (host_of(c->sms_url, host, sizeof(host))) {
		snprintf(r->why, sizeof(r->why), "sms: bad [notify.sms] url");
		return;
	}
	snprintf(phone, sizeof(phone), "%s%s", e->to[0] == '+' ? "" : "+86", e->to);
	set = json_array();
	snprintf(params, sizeof(params), "%s", m->params);
	for (char *save = NULL, *p = strtok_r(params, ", ", &save); p && set;
	     p = strtok_r(NULL, ", ", &save)) {
		const char *v = nt_var_get(vars, nvars, p);
		json_array_append_new(set, json_string(v ? v : ""));
	}
	body = json_pack("{s:[s], s:s, s:s, s:s, s:o, s:s}", "PhoneNumberSet", phone, "SmsSdkAppId",
	                 c->sms_app_id, "SignName", c->sms_sign_name, "TemplateId", m->template_id,
	                 "TemplateParamSet", set, "SessionContext", e->event_id);
	if (!body || !(text = json_dumps(body, JSON_COMPACT)) ||
	    nt_tc3_authorization(c->sms_secret_id, secret, host, "SendSms", now, text, auth,
	                         sizeof(auth)) ||
	    !(curl = curl_easy_init())) {
		snprintf(r->why, sizeof(r->why), "sms: cannot build the request");
		goto out;
	}
	snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Content-Type: " CTYPE);
	snprintf(hdr, sizeof(hdr), "Host: %s", host);
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "X-TC-Action: SendSms");
	h = curl_slist_append(h, "X-TC-Version: " VERSION);
	snprintf(hdr, sizeof(hdr), "X-TC-Timestamp: %lld", (long long)now);
	h = curl_slist_append(h, hdr);
	snprintf(hdr, sizeof(hdr), "X-TC-Region: %s", c->sms_region);
	h = curl_slist_append(h, hdr);
	if (!h) {
		snprintf(r->why, sizeof(r->why), "sms: out of memory");
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_URL, c->sms_url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &got);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)c->notify_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	CURLcode rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		snprintf(r->why, sizeof(r->why), "sms: %s", curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	judge(status, got.p, r);
out:
	curl_slist_free_all(h);
	if (curl)
		curl_easy_cleanup(curl);
	free(got.p);
	if (text) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	json_decref(body);
}
