/* A document to compact JSON text, byte for byte what json_dumps gives
 * with JSON_COMPACT, in one growing buffer. jansson's dump calls back per
 * piece and decodes every character of every string; on the gateway's 201
 * (a receipt's proof is a kilobyte of text with escaped newlines) that was
 * the largest single cost of an accepted message. Strings are copied in
 * runs and checked as UTF-8 once, which is all the escaping needs. */
#include "pj.h"
#include "pj_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_DEPTH 64   /* deeper documents (none of ours) go to jansson */

int pj_grow(char **p, size_t *cap, size_t need)
{
	size_t c = *cap ? *cap : 2048;
	char *q;

	if (need <= *cap)
		return 0;
	if (need > SIZE_MAX / 2)
		return -1;
	while (c < need)
		c *= 2;
	if (!(q = realloc(*p, c)))
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

/* Where n more bytes go, with room for the NUL pj_out_end adds; NULL once
 * anything has failed. A piece of several parts is then written with one
 * check. */
static char *room(struct pj_out *o, size_t n)
{
	if (o->failed)
		return NULL;
	if (n > SIZE_MAX / 2 - o->len - 1 || pj_grow(&o->p, &o->cap, o->len + n + 1)) {
		o->failed = 1;
		return NULL;
	}
	return o->p + o->len;
}

void pj_out_raw(struct pj_out *o, const char *s, size_t n)
{
	char *q = room(o, n);

	if (!q)
		return;
	memcpy(q, s, n);
	o->len += n;
}

/* How many of the 8 bytes at p are plain, before the first that needs a
 * look: a control, '"', '\\' or one of a multi-byte character. Plain
 * ASCII text is then passed over a word at a time, and a word with a
 * newline in it is not gone through byte by byte. */
static unsigned plain_bytes(const unsigned char *p)
{
	uint64_t w = pj_word(p);

	return pj_word_before(pj_word_below(w, 0x20) | pj_word_is(w, '"') | pj_word_is(w, '\\') |
	                      (w & PJ_HIGHS));
}

/* Bytes in a character that starts with lead; 0 for a byte that cannot
 * start one (pj_utf8_chars then decides the rest). */
static size_t char_len(unsigned char lead)
{
	return lead < 0xc2 ? 0 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead < 0xf5 ? 4 : 0;
}

/* jansson's escapes: the two that must be, the short forms of five
 * controls, \u00XX (upper-case hex) for the other controls; '/' and
 * everything from 0x7f up as they are. Text that is not UTF-8 is -1 (the
 * caller decides), as jansson refuses to dump it. */
static int string(struct pj_out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;

	pj_out_raw(o, "\"", 1);
	while (p < end) {
		char esc[6];
		size_t len = 2;
		if (end - p >= 8) {
			unsigned k = plain_bytes(p);
			p += k;
			if (k == 8)
				continue;
		}
		if (*p >= 0x80) {
			size_t k = char_len(*p);
			if (k == 0 || (size_t)(end - p) < k || pj_utf8_chars((const char *)p, k) != 1)
				return -1;
			p += k;
			continue;
		}
		if (*p >= 0x20 && *p != '"' && *p != '\\') {
			p++;
			continue;
		}
		esc[0] = '\\';
		switch (*p) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			len = 6;
		}
		size_t k = (size_t)(p - run);
		char *q = room(o, k + len);
		if (!q)
			return 0;   /* failed already: the text is dropped anyway */
		memcpy(q, run, k);
		memcpy(q + k, esc, len);
		o->len += k + len;
		run = ++p;
	}
	size_t k = (size_t)(p - run);
	char *q = room(o, k + 1);
	if (q) {
		memcpy(q, run, k);
		q[k] = '"';
		o->len += k + 1;
	}
	return 0;
}

/* Keys are ours: plain ASCII. A value never ends in '{', so that is how
 * the first member is known. */
void pj_out_key(struct pj_out *o, const char *key)
{
	size_t n = strlen(key);
	int comma = o->len && o->p[o->len - 1] != '{';
	char *q = room(o, n + 4);

	if (!q)
		return;
	if (comma)
		*q++ = ',';
	*q++ = '"';
	memcpy(q, key, n);
	q[n] = '"';
	q[n + 1] = ':';
	o->len = (size_t)(q + n + 2 - o->p);
}

void pj_out_str(struct pj_out *o, const char *s, size_t n)
{
	if (string(o, s, n))
		o->failed = 1;
}

int pj_out_text(struct pj_out *o, const char *s, size_t n)
{
	size_t at = o->len;

	if (string(o, s, n) == 0)
		return 0;
	if (!o->failed)
		o->len = at;
	return -1;
}

/* Decimal digits by hand: snprintf is a few hundred instructions. */
void pj_out_int(struct pj_out *o, long long v)
{
	char buf[24], *p = buf + sizeof(buf);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	pj_out_raw(o, p, (size_t)(buf + sizeof(buf) - p));
}

void pj_out_bool(struct pj_out *o, int b)
{
	if (b)
		pj_out_raw(o, "true", 4);
	else
		pj_out_raw(o, "false", 5);
}

char *pj_out_end(struct pj_out *o, size_t *len)
{
	if (o->failed || pj_grow(&o->p, &o->cap, o->len + 1)) {
		free(o->p);
		*o = (struct pj_out){0};
		return NULL;
	}
	o->p[o->len] = '\0';
	if (len)
		*len = o->len;
	return o->p;
}

/* Reals (none in our views) and documents past DUMP_DEPTH: jansson's own
 * text, so the output stays its output. */
static void borrowed(struct pj_out *o, const json_t *v)
{
	char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!t) {
		o->failed = 1;
		return;
	}
	pj_out_raw(o, t, strlen(t));
	free(t);
}

static void value(struct pj_out *o, const json_t *v, int depth)
{
	int first = 1;

	if (o->failed)
		return;
	if (depth > DUMP_DEPTH) {
		borrowed(o, v);
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *m;
		pj_out_raw(o, "{", 1);
		/* insertion order, as json_dumps without JSON_SORT_KEYS */
		json_object_foreach((json_t *)v, key, m) {
			if (!first)
				pj_out_raw(o, ",", 1);
			first = 0;
			pj_out_str(o, key, strlen(key));
			pj_out_raw(o, ":", 1);
			value(o, m, depth + 1);
		}
		pj_out_raw(o, "}", 1);
		return;
	}
	case JSON_ARRAY:
		pj_out_raw(o, "[", 1);
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				pj_out_raw(o, ",", 1);
			value(o, json_array_get(v, i), depth + 1);
		}
		pj_out_raw(o, "]", 1);
		return;
	case JSON_STRING:
		pj_out_str(o, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		pj_out_int(o, json_integer_value(v));
		return;
	case JSON_TRUE:
		pj_out_raw(o, "true", 4);
		return;
	case JSON_FALSE:
		pj_out_raw(o, "false", 5);
		return;
	case JSON_NULL:
		pj_out_raw(o, "null", 4);
		return;
	default:
		borrowed(o, v);
		return;
	}
}

char *pj_dumps(const json_t *doc, size_t *len)
{
	struct pj_out o = {0};

	if (!doc)
		return NULL;
	value(&o, doc, 0);
	return pj_out_end(&o, len);
}
