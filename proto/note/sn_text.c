/* Text rules of signed notes and canonical base64. */
#include "sn_int.h"
#include "pb_err.h"
#include "pb_utf8.h"

#include <sodium.h>
#include <string.h>

int sn_text_ok(const char *s, size_t n)
{
	if (pb_utf8_chars(s, n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\n')
			return 0;
	return 1;
}

/* Code point at s (valid UTF-8 already), its length in *n. */
static uint32_t decode_cp(const unsigned char *s, size_t *n)
{
	if (s[0] < 0x80) {
		*n = 1;
		return s[0];
	}
	if (s[0] < 0xe0) {
		*n = 2;
		return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
	}
	if (s[0] < 0xf0) {
		*n = 3;
		return (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
	}
	*n = 4;
	return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
	       (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
}

/* Unicode White_Space outside ASCII. */
static int unicode_space(uint32_t c)
{
	return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

int sn_name_ok(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	if (n == 0 || pb_utf8_chars(s, n) < 0)
		return 0;
	while (i < n) {
		uint32_t c = decode_cp(u + i, &k);

		/* ASCII space and controls, DEL, '+', and Unicode spaces. */
		if (c <= 0x20 || c == 0x7f || c == '+' || (c >= 0x80 && c < 0xa0) || unicode_space(c))
			return 0;
		i += k;
	}
	return 1;
}

int sn_name_valid(const char *name)
{
	return name != NULL && sn_name_ok(name, strlen(name));
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int sn_b64_ok(const char *s, size_t n)
{
	size_t pad = 0;

	if (n == 0 || n % 4 != 0)
		return 0;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < n - pad; i++)
		if (b64_val(s[i]) < 0)
			return 0;
	/* The bits after the last whole byte must be zero. */
	if (pad == 1)
		return (b64_val(s[n - 2]) & 0x03) == 0;
	if (pad == 2)
		return (b64_val(s[n - 3]) & 0x0f) == 0;
	return 1;
}

int sn_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	const char *end;

	if (!sn_b64_ok(s, n))
		return PB_EINVAL;
	if (sodium_base642bin(out, cap, s, n, NULL, outlen, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != s + n)
		return PB_EINVAL;
	return PB_OK;
}

int sn_append(const char *s, size_t n, char *out, size_t cap, size_t *pos)
{
	if (*pos >= cap || n >= cap - *pos)
		return PB_ETOOBIG;
	memcpy(out + *pos, s, n);
	*pos += n;
	out[*pos] = '\0';
	return PB_OK;
}

/* Everything a note or a proof encodes is public (roots, hashes,
 * signatures, log records), so a table lookup per character is fine:
 * libsodium's encoder is the constant-time one secrets need, and it cost
 * a receipt about a fifth of its instructions (the record rides along). */
static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sn_b64_append(const uint8_t *in, size_t n, char *out, size_t cap, size_t *pos)
{
	size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), i;
	char *o;

	/* need counts the NUL written after the text. */
	if (*pos >= cap || need > cap - *pos)
		return PB_ETOOBIG;
	o = out + *pos;
	for (i = 0; n - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*o++ = b64_chars[v >> 18];
		*o++ = b64_chars[(v >> 12) & 63];
		*o++ = b64_chars[(v >> 6) & 63];
		*o++ = b64_chars[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (n - i > 1 ? (uint32_t)in[i + 1] << 8 : 0);
		*o++ = b64_chars[v >> 18];
		*o++ = b64_chars[(v >> 12) & 63];
		*o++ = n - i > 1 ? b64_chars[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	*pos += need - 1;
	return PB_OK;
}

int sn_decimal(const char *s, size_t n, uint64_t *v)
{
	*v = 0;
	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return PB_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || *v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return PB_EINVAL;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return PB_OK;
}

int sn_hash_lines(const char *text, size_t len, size_t *pos, uint8_t (*out)[SN_HASH_LEN],
                  size_t max, size_t *n)
{
	*n = 0;
	for (;;) {
		const char *l = text + *pos, *nl = memchr(l, '\n', len - *pos);
		size_t ll, got;
		if (!nl)
			return PB_EINVAL;
		ll = (size_t)(nl - l);
		*pos += ll + 1;
		if (ll == 0)
			return PB_OK;
		if (*n == max || sn_b64_decode(l, ll, out[*n], SN_HASH_LEN, &got) || got != SN_HASH_LEN)
			return PB_EINVAL;
		(*n)++;
	}
}

int sn_hash_lines_append(const uint8_t (*h)[SN_HASH_LEN], size_t n, char *out, size_t cap,
                         size_t *pos)
{
	int rc;

	for (size_t i = 0; i < n; i++)
		if ((rc = sn_b64_append(h[i], SN_HASH_LEN, out, cap, pos)) ||
		    (rc = sn_append("\n", 1, out, cap, pos)))
			return rc;
	return PB_OK;
}
