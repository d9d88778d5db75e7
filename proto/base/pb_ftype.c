/* File types by content (pb_ftype.h). Each check is a table row: magic
 * bytes, then a walk that a truncated or disguised file fails. */
#include "pb_ftype.h"

#include <string.h>

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Trailing bytes some writers append after the end marker. */
static size_t trim(const uint8_t *p, size_t n)
{
	while (n > 0 && (p[n - 1] == 0 || p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	return n;
}

/* SOI, then a marker segment, and EOI at the end. */
static int jpeg_ok(const uint8_t *p, size_t n)
{
	n = trim(p, n);
	return n >= 6 && p[3] >= 0xc0 && p[n - 2] == 0xff && p[n - 1] == 0xd9;
}

/* Chunks by their lengths from IHDR (13 bytes) to IEND, which ends it. */
static int png_ok(const uint8_t *p, size_t n)
{
	size_t off = 8;
	int first = 1;

	while (off + 12 <= n) {
		uint32_t len = be32(p + off);
		const uint8_t *type = p + off + 4;

		if (len > n - off - 12)
			return 0;
		if (first && (memcmp(type, "IHDR", 4) != 0 || len != 13))
			return 0;
		first = 0;
		off += 12 + (size_t)len;
		if (memcmp(type, "IEND", 4) == 0)
			return len == 0 && trim(p, n) <= off;
	}
	return 0;
}

/* A header line, and the end-of-file marker within the last KiB. */
static int pdf_ok(const uint8_t *p, size_t n)
{
	size_t from;

	if (n < 16 || (p[5] != '1' && p[5] != '2') || p[6] != '.')
		return 0;
	n = trim(p, n);
	from = n > 1024 ? n - 1024 : 0;
	for (size_t i = n; i >= from + 5; i--)
		if (memcmp(p + i - 5, "%%EOF", 5) == 0)
			return 1;
	return 0;
}

static const struct ftype {
	const char *mime;
	const char *magic;
	size_t magic_len;
	int (*ok)(const uint8_t *p, size_t n);
} types[] = {
	{"image/jpeg", "\xff\xd8\xff", 3, jpeg_ok},
	{"image/png", "\x89PNG\r\n\x1a\n", 8, png_ok},
	{"application/pdf", "%PDF-", 5, pdf_ok},
};

const char *pb_ftype_sniff(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const struct ftype *t = &types[i];
		if (n >= t->magic_len && memcmp(p, t->magic, t->magic_len) == 0)
			return t->ok(p, n) ? t->mime : NULL;
	}
	return NULL;
}
