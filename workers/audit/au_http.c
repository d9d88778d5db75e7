/* One HTTP GET with libcurl: bounded time and size, no redirects (a log's
 * answers are checked, but a witness should not wander to other hosts). */
#include "au_tlog.h"
#include "pb_err.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_S 10L
#define TOTAL_TIMEOUT_S 30L

struct sink {
	struct au_http *r;
	size_t max;
	int too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	struct au_http *r = s->r;
	size_t len = size * n;
	char *grown;

	if (len > s->max - r->len) {
		s->too_big = 1;
		return 0;
	}
	if (!(grown = realloc(r->body, r->len + len + 1)))
		return 0;
	r->body = grown;
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

int au_http_get(const char *base, const char *path, size_t max, struct au_http *r)
{
	struct sink s = {r, max, 0};
	size_t blen = strlen(base);
	char *url;
	CURL *h;
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	if (!(url = malloc(blen + strlen(path) + 1)))
		return PB_ENOMEM;
	memcpy(url, base, blen);
	strcpy(url + blen, path);
	if (!(h = curl_easy_init())) {
		free(url);
		return PB_ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, TOTAL_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_USERAGENT, AU_PROG);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	else
		snprintf(r->error, sizeof(r->error), "%s: %s", url,
		         s.too_big ? "answer too big" : curl_easy_strerror(cc));
	curl_easy_cleanup(h);
	free(url);
	if (cc != CURLE_OK)
		r->status = 0;
	return cc == CURLE_OK ? PB_OK : PB_EUNAVAIL;
}

void au_http_free(struct au_http *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}
