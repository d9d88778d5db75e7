/* Helpers for the gateway tests: a scratch directory, a test config and
 * a small libcurl client. */
#ifndef GW_TEST_UTIL_H
#define GW_TEST_UTIL_H

#include "pb_conf.h"

#include <stddef.h>

#define APP_ID "prov12345"
#define APP_SECRET "abcdefghijklmnop0123456789ABCDEF"   /* the 32 key bytes */

struct resp {
	long status;
	char body[65536];
	size_t len;
	char headers[8192];
	double seconds;
};

/* A fresh directory under $TMPDIR, removed by scratch_remove. */
const char *scratch_dir(void);
void scratch_remove(void);

/* Defaults plus: 127.0.0.1 port 0, router and secrets inside dir, one
 * 12345 app (APP_ID, APP_SECRET). */
void test_conf(struct pb_conf *c, const char *dir);

/* headers: NULL-terminated "Name: value" strings, may be NULL. body may
 * be NULL. Returns 0, or -1 when no HTTP answer came. */
int http_do(const char *method, const char *url, const char *const *headers, const void *body,
            size_t blen, struct resp *r);
/* The value of a response header (case-insensitive name), or NULL. */
const char *resp_header(const struct resp *r, const char *name, char *buf, size_t n);

/* The body as a string, cut to n - 1 bytes. */
void copy_body(char *dst, size_t n, const struct resp *r);

/* X-App-Id, X-Timestamp, X-Nonce and X-Signature for a push, computed
 * straight from the spec's formula with a single-shot HMAC. */
void sign_headers(const char *path, long long ts, const char *nonce, const char *body,
                  char hdrs[4][200]);

#endif
