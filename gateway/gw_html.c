/* Text buffers for the pages, and the one HTML escape. */
#include "gw_web.h"
#include "pj.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gw_buf_add(struct gw_buf *b, const char *s, size_t n)
{
	if (b->failed || n > SIZE_MAX / 2 - b->len - 1 || pj_grow(&b->p, &b->cap, b->len + n + 1)) {
		b->failed = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void gw_buf_str(struct gw_buf *b, const char *s)
{
	gw_buf_add(b, s, strlen(s));
}

void gw_buf_fmt(struct gw_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		gw_buf_add(b, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->failed = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	gw_buf_add(b, big, (size_t)n);
	free(big);
}

void gw_html(struct gw_buf *b, const char *s)
{
	const char *run = s;

	if (!s)
		return;
	for (; *s; s++) {
		const char *ent;
		switch (*s) {
		case '&': ent = "&amp;"; break;
		case '<': ent = "&lt;"; break;
		case '>': ent = "&gt;"; break;
		case '"': ent = "&quot;"; break;
		case '\'': ent = "&#39;"; break;
		default: continue;
		}
		gw_buf_add(b, run, (size_t)(s - run));
		gw_buf_str(b, ent);
		run = s + 1;
	}
	gw_buf_add(b, run, (size_t)(s - run));
}

void gw_buf_free(struct gw_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
