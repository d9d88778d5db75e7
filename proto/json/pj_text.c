/* Text rules: UTF-8, control characters, phone numbers, e-mail addresses. */
#include "pj.h"
#include "pj_int.h"

#include <stdint.h>
#include <string.h>

long pj_utf8_chars(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	long n = 0;

	while (p < end) {
		unsigned c = *p;
		size_t need;
		uint32_t cp, min;

		if (c < 0x80) {
			/* Runs of ASCII a word at a time: bodies are read twice,
			 * here and again counting each field. */
			if (end - p >= 8 && !(pj_word(p) & PJ_HIGHS)) {
				p += 8;
				n += 8;
			} else {
				p++;
				n++;
			}
			continue;
		}
		/* Three bytes, all of Chinese text, checked at once: the second
		 * byte's range shuts out the overlongs (after E0) and the UTF-16
		 * surrogates (after ED), as the general case below does. */
		if ((c & 0xf0) == 0xe0) {
			unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
			if (end - p < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
				return -1;
			p += 3;
			n++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return -1;   /* continuation byte, 0xc0/0xc1 or 0xf5..0xff */
		}
		if ((size_t)(end - p) <= need)
			return -1;   /* truncated sequence */
		for (size_t i = 1; i <= need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates and beyond Unicode. */
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		p += need + 1;
		n++;
	}
	return n;
}

/* Bytes at p, of 8, before the first that needs a look: below 0x20, DEL,
 * or 0xc2 (which leads the C1 controls). */
static unsigned clean_bytes(const unsigned char *p)
{
	uint64_t w = pj_word(p);

	return pj_word_before(pj_word_below(w, 0x20) | pj_word_is(w, 0x7f) | pj_word_is(w, 0xc2));
}

int pj_text_clean(const char *s, size_t len, int flags)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned c;
		if (len - i >= 8) {
			unsigned k = clean_bytes(p + i);
			i += k;
			if (k == 8)
				continue;
		}
		c = p[i++];
		if (c < 0x20 && !((flags & PJ_LINES) && (c == '\n' || c == '\r' || c == '\t')))
			return -1;
		if (c == 0x7f)
			return -1;
		/* U+0080..U+009F (C1 controls) are 0xc2 0x80..0x9f. */
		if (c == 0xc2 && i < len && p[i] >= 0x80 && p[i] <= 0x9f)
			return -1;
	}
	return 0;
}

static size_t digits(const char *s)
{
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n;
}

/* 1[3-9] and nine more digits, after an optional +86 or 86. */
static int valid_mobile(const char *s)
{
	if (strncmp(s, "+86", 3) == 0)
		s += 3;
	else if (strncmp(s, "86", 2) == 0 && strlen(s) == 13)
		s += 2;
	return strlen(s) == 11 && digits(s) == 11 && s[0] == '1' && s[1] >= '3';
}

/* 0 + 2-3 digit area code, optional dash, 7-8 digit number, optional
 * -extension of 1-6 digits. Without the dash the split is ambiguous, so
 * every split is tried. */
static int valid_landline(const char *s)
{
	if (s[0] != '0')
		return 0;
	for (size_t area = 2; area <= 3; area++) {
		const char *p = s + 1;
		if (digits(p) < area)
			continue;
		p += area;
		if (*p == '-')
			p++;
		size_t run = digits(p);
		for (size_t local = 7; local <= 8; local++) {
			if (run < local)
				continue;
			const char *q = p + local;
			if (*q == '\0')
				return 1;
			if (*q == '-') {
				size_t ext = digits(q + 1);
				if (ext >= 1 && ext <= 6 && q[1 + ext] == '\0')
					return 1;
			}
		}
	}
	return 0;
}

int pj_valid_phone(const char *s)
{
	if (!s || strlen(s) > 24)
		return 0;
	return valid_mobile(s) || valid_landline(s);
}

static int atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+/=?^_`{|}~-", c));
}

static int alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The dot-atom form of RFC 5322 on the left (no quoted strings, no
 * comments) and a host name of two or more labels on the right, its last
 * label alphabetic or punycode. ASCII only. */
int pj_valid_email(const char *s)
{
	if (!s)
		return 0;
	size_t len = strlen(s);
	const char *at = strrchr(s, '@');

	if (len > 254 || !at || at == s || (size_t)(at - s) > 64)
		return 0;
	for (const char *p = s; p < at; p++) {
		if (*p == '.') {
			if (p == s || p + 1 == at || p[1] == '.')
				return 0;
		} else if (!atext((unsigned char)*p)) {
			return 0;
		}
	}
	const char *d = at + 1, *last = NULL;
	int labels = 0;
	while (*d) {
		const char *e = d;
		while (alnum((unsigned char)*e) || *e == '-')
			e++;
		size_t n = (size_t)(e - d);
		if (n == 0 || n > 63 || d[0] == '-' || e[-1] == '-')
			return 0;
		if (*e != '.' && *e != '\0')
			return 0;
		last = d;
		labels++;
		d = *e ? e + 1 : e;
		if (*e == '.' && *d == '\0')
			return 0;   /* trailing dot */
	}
	if (labels < 2)
		return 0;
	if (strncmp(last, "xn--", 4) == 0)
		return 1;
	size_t n = 0;
	for (; last[n]; n++)
		if (!((last[n] >= 'a' && last[n] <= 'z') || (last[n] >= 'A' && last[n] <= 'Z')))
			return 0;
	return n >= 2;
}
