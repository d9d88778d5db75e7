/* tlog-checkpoint bodies: origin, tree size, root hash, extensions. */
#include "sn_int.h"
#include "pb_err.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Every extension line non-empty and newline-terminated. */
static int ext_ok(const char *ext, size_t n)
{
	if (n == 0)
		return 1;
	if (ext[n - 1] != '\n' || !sn_text_ok(ext, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ext[i] == '\n' && (i == 0 || ext[i - 1] == '\n'))
			return 0;
	return 1;
}

int sn_checkpoint_format(const char *origin, uint64_t size, const uint8_t root[SN_HASH_LEN],
                         const char *ext, char *out, size_t cap, size_t *len)
{
	size_t olen = strlen(origin), elen = ext ? strlen(ext) : 0, pos = 0;
	char num[24];
	int n, rc;

	*len = 0;
	if (olen == 0 || memchr(origin, '\n', olen) || !sn_text_ok(origin, olen) || !ext_ok(ext, elen))
		return PB_EINVAL;
	n = snprintf(num, sizeof(num), "\n%" PRIu64 "\n", size);
	if (n < 0 || (size_t)n >= sizeof(num))
		return PB_EINVAL;
	if ((rc = sn_append(origin, olen, out, cap, &pos)) ||
	    (rc = sn_append(num, (size_t)n, out, cap, &pos)) ||
	    (rc = sn_b64_append(root, SN_HASH_LEN, out, cap, &pos)) ||
	    (rc = sn_append("\n", 1, out, cap, &pos)) ||
	    (rc = sn_append(ext ? ext : "", elen, out, cap, &pos)))
		return rc;
	*len = pos;
	return PB_OK;
}

/* Canonical decimal: digits only, no leading zero but "0", no overflow. */
static int parse_size(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20 || (s[0] == '0' && n > 1))
		return PB_EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - d) / 10)
			return PB_EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return PB_OK;
}

/* The line starting at *p (up to its newline), moving *p past it. */
static int next_line(const char **p, const char *end, const char **line, size_t *n)
{
	const char *nl;

	if (*p >= end || (nl = memchr(*p, '\n', (size_t)(end - *p))) == NULL)
		return PB_EINVAL;
	*line = *p;
	*n = (size_t)(nl - *p);
	*p = nl + 1;
	return PB_OK;
}

int sn_checkpoint_parse(const char *body, size_t len, struct sn_checkpoint *cp)
{
	const char *p = body, *end = body + len, *line;
	size_t n, rlen;
	int rc;

	memset(cp, 0, sizeof(*cp));
	if (len == 0 || body[len - 1] != '\n' || !sn_text_ok(body, len))
		return PB_EINVAL;
	if ((rc = next_line(&p, end, &line, &n)))
		return rc;
	if (n == 0)
		return PB_EINVAL;
	cp->origin = line;
	cp->origin_len = n;
	if ((rc = next_line(&p, end, &line, &n)) || (rc = parse_size(line, n, &cp->size)))
		return rc;
	if ((rc = next_line(&p, end, &line, &n)))
		return rc;
	if ((rc = sn_b64_decode(line, n, cp->root, SN_HASH_LEN, &rlen)) || rlen != SN_HASH_LEN)
		return PB_EINVAL;
	if (!ext_ok(p, (size_t)(end - p)))
		return PB_EINVAL;
	cp->ext = p;
	cp->ext_len = (size_t)(end - p);
	return PB_OK;
}
