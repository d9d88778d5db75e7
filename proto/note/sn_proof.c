/* C2SP tlog-proof (c2sp.org/tlog-proof): an entry's index, its inclusion
 * proof and the signed checkpoint of the tree it is in, as one text an
 * auditor checks offline with the log's key.
 *
 *   c2sp.org/tlog-proof@v1\n
 *   [extra <base64>\n]
 *   index <decimal>\n
 *   <base64 hash>\n ... (leaf side first)
 *   \n
 *   <signed checkpoint note> */
#include "sn_int.h"
#include "pb_err.h"

#include <stdio.h>
#include <string.h>

#define HEADER "c2sp.org/tlog-proof@v1\n"

int sn_proof_format(uint64_t index, const uint8_t *extra, size_t elen,
                    const uint8_t (*proof)[SN_HASH_LEN], size_t n, const char *note, size_t nlen,
                    char *out, size_t cap, size_t *len)
{
	char num[32];
	size_t pos = 0;
	int rc, k;

	if (!out || (n && !proof) || (elen && !extra) || !note || nlen == 0 || n > SN_PROOF_MAX)
		return PB_EINVAL;
	k = snprintf(num, sizeof(num), "index %llu\n", (unsigned long long)index);
	if ((rc = sn_append(HEADER, sizeof(HEADER) - 1, out, cap, &pos)))
		return rc;
	if (elen && ((rc = sn_append("extra ", 6, out, cap, &pos)) ||
	             (rc = sn_b64_append(extra, elen, out, cap, &pos)) ||
	             (rc = sn_append("\n", 1, out, cap, &pos))))
		return rc;
	if ((rc = sn_append(num, (size_t)k, out, cap, &pos)) ||
	    (rc = sn_hash_lines_append(proof, n, out, cap, &pos)))
		return rc;
	if ((rc = sn_append("\n", 1, out, cap, &pos)) || (rc = sn_append(note, nlen, out, cap, &pos)))
		return rc;
	*len = pos;
	return PB_OK;
}

/* The line at *pos (without its newline); PB_EINVAL when none ends. */
static int line(const char *s, size_t len, size_t *pos, const char **l, size_t *n)
{
	const char *nl = memchr(s + *pos, '\n', len - *pos);

	if (!nl)
		return PB_EINVAL;
	*l = s + *pos;
	*n = (size_t)(nl - *l);
	*pos += *n + 1;
	return PB_OK;
}

int sn_proof_parse(const char *text, size_t len, struct sn_proof *p)
{
	const char *l;
	size_t n, pos = 0;

	if (!text || !p)
		return PB_EINVAL;
	memset(p, 0, sizeof(*p));
	if (!sn_text_ok(text, len) || len < sizeof(HEADER) - 1 ||
	    memcmp(text, HEADER, sizeof(HEADER) - 1) != 0)
		return PB_EINVAL;
	pos = sizeof(HEADER) - 1;
	if (line(text, len, &pos, &l, &n))
		return PB_EINVAL;
	if (n > 6 && memcmp(l, "extra ", 6) == 0) {
		if (!sn_b64_ok(l + 6, n - 6))
			return PB_EINVAL;
		p->extra = l + 6;
		p->extra_len = n - 6;
		if (line(text, len, &pos, &l, &n))
			return PB_EINVAL;
	}
	if (n < 7 || memcmp(l, "index ", 6) != 0 || sn_decimal(l + 6, n - 6, &p->index) ||
	    sn_hash_lines(text, len, &pos, p->hashes, SN_PROOF_MAX, &p->n))
		return PB_EINVAL;
	if (pos >= len)
		return PB_EINVAL;
	p->note = text + pos;
	p->note_len = len - pos;
	return PB_OK;
}
