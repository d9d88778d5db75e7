/* E-mail through the office's relay ([notify.smtp]) with libcurl: STARTTLS
 * on smtp:// (required unless require_tls = no), TLS from the start on
 * smtps://. The message is plain UTF-8 text, base64 in transit so any
 * relay takes it, and its Message-ID is the notice's event id, so a copy
 * sent twice after a crash is one message to the citizen's mail system. */
#include "nt.h"
#include "pb_log.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_b64(struct buf *b, const uint8_t *data, size_t n)
{
	char out[sodium_base64_ENCODED_LEN(57, sodium_base64_VARIANT_ORIGINAL)];

	sodium_bin2base64(out, sizeof(out), data, n, sodium_base64_VARIANT_ORIGINAL);
	puts_(b, out);
}

/* RFC 2047 encoded words of at most 39 bytes of UTF-8 each (52 in base64),
 * split between characters, folded onto new lines. */
static void put_subject(struct buf *b, const char *s)
{
	size_t n = strlen(s), i = 0;

	puts_(b, "Subject:");
	while (i < n) {
		size_t take = n - i > 39 ? 39 : n - i;
		while (take > 0 && i + take < n && ((unsigned char)s[i + take] & 0xC0) == 0x80)
			take--;
		puts_(b, i ? "\r\n =?UTF-8?B?" : " =?UTF-8?B?");
		put_b64(b, (const uint8_t *)s + i, take);
		puts_(b, "?=");
		i += take;
	}
	puts_(b, "\r\n");
}

/* The address inside "Name <addr>", or all of it. */
static void addr_of(const char *from, char *out, size_t cap)
{
	const char *lt = strrchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;

	if (lt && gt && gt > lt + 1)
		snprintf(out, cap, "%.*s", (int)(gt - lt - 1), lt + 1);
	else
		snprintf(out, cap, "%s", from);
}

/* From: the display name, in an encoded word when it is not ASCII. */
static void put_from(struct buf *b, const char *from, const char *addr)
{
	const char *lt = strrchr(from, '<');
	size_t n = lt ? (size_t)(lt - from) : 0;
	int ascii = 1;

	while (n && from[n - 1] == ' ')
		n--;
	for (size_t i = 0; i < n; i++)
		ascii &= (unsigned char)from[i] < 0x80;
	puts_(b, "From: ");
	if (n && ascii) {
		put(b, from, n);
		puts_(b, " ");
	} else if (n && n <= 45) {
		puts_(b, "=?UTF-8?B?");
		put_b64(b, (const uint8_t *)from, n);
		puts_(b, "?= ");
	}
	puts_(b, "<");
	puts_(b, addr);
	puts_(b, ">\r\n");
}

char *nt_smtp_payload(const struct pb_conf *c, const Mailroom__NoticeEntry *e,
                      const struct nt_msg *m, int64_t now_ms)
{
	struct buf b = {0};
	char line[600], addr[256];
	const char *domain;
	time_t now = (time_t)(now_ms / 1000);
	struct tm tm;

	addr_of(c->smtp_from, addr, sizeof(addr));
	domain = strchr(addr, '@') ? strchr(addr, '@') + 1 : "mailroom.invalid";
	gmtime_r(&now, &tm);
	strftime(line, sizeof(line), "Date: %a, %d %b %Y %H:%M:%S +0000\r\n", &tm);
	puts_(&b, line);
	put_from(&b, c->smtp_from, addr);
	snprintf(line, sizeof(line), "To: <%s>\r\n", e->to);
	puts_(&b, line);
	put_subject(&b, m->subject);
	snprintf(line, sizeof(line),
	         "Message-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n"
	         "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n"
	         "Auto-Submitted: auto-generated\r\n\r\n",
	         e->event_id, domain);
	puts_(&b, line);
	for (size_t i = 0, n = strlen(m->text); i < n; i += 57) {
		put_b64(&b, (const uint8_t *)m->text + i, n - i > 57 ? 57 : n - i);
		puts_(&b, "\r\n");
	}
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

struct reader {
	const char *p;
	size_t left;
};

static size_t on_read(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct reader *r = arg;
	size_t n = size * nmemb < r->left ? size * nmemb : r->left;

	memcpy(dst, r->p, n);
	r->p += n;
	r->left -= n;
	return n;
}

void nt_smtp_send(const struct pb_conf *c, const char *password, const Mailroom__NoticeEntry *e,
                  const struct nt_msg *m, struct nt_result *r)
{
	char from[256], rcpt[300], *payload;
	struct curl_slist *to = NULL;
	struct reader rd;
	long code = 0;
	CURLcode rc;
	CURL *h;

	r->outcome = NT_RETRY;
	r->why[0] = '\0';
	/* The gateway checked the address; a line break or bracket here would
	 * be a header of the citizen's making. */
	if (!*e->to || strpbrk(e->to, "\r\n<> ")) {
		r->outcome = NT_FINAL;
		snprintf(r->why, sizeof(r->why), "smtp: not an address");
		return;
	}
	if (!(payload = nt_smtp_payload(c, e, m, (int64_t)time(NULL) * 1000)) ||
	    !(h = curl_easy_init())) {
		free(payload);
		snprintf(r->why, sizeof(r->why), "out of memory");
		return;
	}
	addr_of(c->smtp_from, from, sizeof(from));
	snprintf(rcpt, sizeof(rcpt), "<%s>", e->to);
	rd.p = payload;
	rd.left = strlen(payload);
	if (!(to = curl_slist_append(NULL, rcpt))) {
		curl_easy_cleanup(h);
		free(payload);
		snprintf(r->why, sizeof(r->why), "out of memory");
		return;
	}
	char mail_from[260];
	snprintf(mail_from, sizeof(mail_from), "<%s>", from);
	curl_easy_setopt(h, CURLOPT_URL, c->smtp_url);
	curl_easy_setopt(h, CURLOPT_USE_SSL, (long)(c->smtp_require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY));
	if (*c->smtp_ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->smtp_ca_file);
	if (*c->smtp_user) {
		curl_easy_setopt(h, CURLOPT_USERNAME, c->smtp_user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, password ? password : "");
	}
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, to);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &rd);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->notify_timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->notify_timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(to);
	curl_easy_cleanup(h);
	sodium_memzero(payload, strlen(payload));
	free(payload);
	if (rc == CURLE_OK) {
		r->outcome = NT_SENT;
		return;
	}
	/* A 5xx from the relay (unknown mailbox, refused) is final; anything
	 * else (4xx, no connection, a timeout, TLS refused) may pass later. */
	if (code >= 500 && code < 600)
		r->outcome = NT_FINAL;
	snprintf(r->why, sizeof(r->why), "smtp: %s (reply %ld)", curl_easy_strerror(rc), code);
}
