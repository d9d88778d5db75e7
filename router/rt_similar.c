/* Resemblance of two descriptions, for repeated disclosure applications:
 * Jaccard similarity of the sets of character bigrams of their normalised
 * texts. Chinese has no spaces to split words on, and bigrams are what
 * word-level overlap looks like at the character level. */
#include "rt.h"
#include "pb_err.h"

#include <stdlib.h>
#include <string.h>

/* Bigrams every application carries (申请, 公开, 政府信息 ...) say nothing
 * about what is asked for; counting them would make all applications
 * look alike. */
static const char *const boilerplate[] = {
	"申请", "请公", "公开", "政府", "府信", "信息", "关于", "有关", "相关", "提供",
	"请求", "本人", "我们", "要求", "予以", "贵单", "单位", "以下", "如下", "现申",
};

/* The next code point of s (len bytes left); 0 at the end or on a bad
 * sequence (the router only sees validated UTF-8). */
static uint32_t next_cp(const unsigned char **s, const unsigned char *end)
{
	const unsigned char *p = *s;
	uint32_t c;
	int n;

	if (p >= end)
		return 0;
	if (p[0] < 0x80) {
		c = p[0];
		n = 1;
	} else if ((p[0] & 0xe0) == 0xc0) {
		c = p[0] & 0x1f;
		n = 2;
	} else if ((p[0] & 0xf0) == 0xe0) {
		c = p[0] & 0x0f;
		n = 3;
	} else {
		c = p[0] & 0x07;
		n = 4;
	}
	if (end - p < n)
		return 0;
	for (int i = 1; i < n; i++)
		c = (c << 6) | (p[i] & 0x3f);
	*s = p + n;
	return c;
}

/* Keeps letters, digits and CJK ideographs; folds full-width ASCII and
 * case; everything else (spaces, punctuation) separates nothing, it is
 * simply dropped. */
static uint32_t fold(uint32_t c)
{
	if (c >= 0xff01 && c <= 0xff5e)
		c -= 0xfee0;
	if (c >= 'A' && c <= 'Z')
		c += 'a' - 'A';
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return c;
	if ((c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) ||
	    (c >= 0x20000 && c <= 0x2ffff))
		return c;
	return 0;
}

#define NSTOP (sizeof(boilerplate) / sizeof(boilerplate[0]))

static void stop_bigrams(uint64_t stop[NSTOP])
{
	for (size_t i = 0; i < NSTOP; i++) {
		const unsigned char *p = (const unsigned char *)boilerplate[i];
		const unsigned char *e = p + strlen(boilerplate[i]);
		uint32_t a = next_cp(&p, e), b = next_cp(&p, e);
		stop[i] = ((uint64_t)a << 21) | b;
	}
}

static int is_stop(const uint64_t stop[NSTOP], uint64_t g)
{
	for (size_t i = 0; i < NSTOP; i++)
		if (stop[i] == g)
			return 1;
	return 0;
}

/* Sorts v (a bigram is two 21-bit code points, 42 bits): by insertion
 * when short, else LSD radix over the bytes that differ. qsort's call per
 * comparison was most of the writer thread's time on a repeat check
 * (docs/scaling.md). */
static void sort_u64(uint64_t *v, uint64_t *tmp, size_t n)
{
	uint64_t diff = 0;

	if (n <= 96) {
		/* A short text: clearing the counts would cost more than this. */
		for (size_t i = 1; i < n; i++) {
			uint64_t x = v[i];
			size_t j = i;
			for (; j > 0 && v[j - 1] > x; j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
		return;
	}
	for (size_t i = 1; i < n; i++)
		diff |= v[i] ^ v[0];
	for (int shift = 0; shift < 48; shift += 8) {
		size_t count[256] = {0}, pos = 0;
		if (!((diff >> shift) & 0xff))
			continue;   /* every key has this byte: the pass would move nothing */
		for (size_t i = 0; i < n; i++)
			count[(v[i] >> shift) & 0xff]++;
		for (int b = 0; b < 256; b++) {
			size_t c = count[b];
			count[b] = pos;
			pos += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[(v[i] >> shift) & 0xff]++] = v[i];
		memcpy(v, tmp, n * sizeof(*v));
	}
}

int rt_bigrams_of(const char *s, struct rt_bigrams *out)
{
	size_t len = s ? strlen(s) : 0, k = 0;
	const unsigned char *p = (const unsigned char *)(s ? s : ""), *end = p + len;
	uint64_t *v = malloc(2 * (len + 1) * sizeof(*v)), stop[NSTOP];
	uint32_t prev = 0, c;

	out->v = NULL;
	out->n = 0;
	if (!v)
		return PB_ENOMEM;
	stop_bigrams(stop);
	while (p < end) {
		const unsigned char *before = p;
		if (!(c = next_cp(&p, end))) {
			p = before + 1;
			continue;
		}
		if (!(c = fold(c)))
			continue;
		if (prev) {
			uint64_t g = ((uint64_t)prev << 21) | c;
			if (!is_stop(stop, g))
				v[k++] = g;
		}
		prev = c;
	}
	sort_u64(v, v + len + 1, k);
	size_t d = 0;
	for (size_t i = 0; i < k; i++)
		if (d == 0 || v[d - 1] != v[i])
			v[d++] = v[i];
	out->v = v;
	out->n = d;
	return PB_OK;
}

void rt_bigrams_free(struct rt_bigrams *b)
{
	free(b->v);
	b->v = NULL;
	b->n = 0;
}

int rt_similarity_sets(const struct rt_bigrams *x, const struct rt_bigrams *y)
{
	size_t i = 0, j = 0, both = 0;

	while (i < x->n && j < y->n) {
		if (x->v[i] == y->v[j]) {
			both++;
			i++;
			j++;
		} else if (x->v[i] < y->v[j]) {
			i++;
		} else {
			j++;
		}
	}
	return x->n + y->n - both > 0 ? (int)(both * 1000 / (x->n + y->n - both)) : 0;
}

int rt_similarity_with(const struct rt_bigrams *x, const char *b, int *permille)
{
	struct rt_bigrams y;
	int rc;

	*permille = 0;
	if ((rc = rt_bigrams_of(b, &y)))
		return rc;
	*permille = rt_similarity_sets(x, &y);
	rt_bigrams_free(&y);
	return PB_OK;
}

int rt_similarity_permille(const char *a, const char *b, int *permille)
{
	struct rt_bigrams x;
	int rc;

	*permille = 0;
	if ((rc = rt_bigrams_of(a, &x)))
		return rc;
	rc = rt_similarity_with(&x, b, permille);
	rt_bigrams_free(&x);
	return rc;
}
