/* C2SP tlog-witness (c2sp.org/tlog-witness): the add-checkpoint request
 * body and the 409 answer's size, and verifier key lines
 * ("<name>+<hex id>+<base64(type || pk)>").
 *
 *   old <decimal>\n
 *   <base64 hash>\n ... (at most 63, none when old is 0)
 *   \n
 *   <signed checkpoint note> */
#include "sn_int.h"
#include "pb_err.h"
#include "pb_id.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

int sn_addcp_format(uint64_t old, const uint8_t (*proof)[SN_HASH_LEN], size_t n,
                    const char *note, size_t nlen, char *out, size_t cap, size_t *len)
{
	char head[32];
	size_t pos = 0;
	int k, rc;

	if (!out || (n && !proof) || !note || nlen == 0 || n > SN_ADDCP_PROOF_MAX ||
	    (old == 0 && n))
		return PB_EINVAL;
	k = snprintf(head, sizeof(head), "old %llu\n", (unsigned long long)old);
	if ((rc = sn_append(head, (size_t)k, out, cap, &pos)) ||
	    (rc = sn_hash_lines_append(proof, n, out, cap, &pos)))
		return rc;
	if ((rc = sn_append("\n", 1, out, cap, &pos)) || (rc = sn_append(note, nlen, out, cap, &pos)))
		return rc;
	*len = pos;
	return PB_OK;
}

int sn_addcp_parse(const char *text, size_t len, struct sn_addcp *a)
{
	const char *nl;
	size_t pos;

	if (!text || !a)
		return PB_EINVAL;
	memset(a, 0, sizeof(*a));
	if (!sn_text_ok(text, len) || len < 4 || memcmp(text, "old ", 4) != 0)
		return PB_EINVAL;
	if (!(nl = memchr(text, '\n', len)) ||
	    sn_decimal(text + 4, (size_t)(nl - text) - 4, &a->old))
		return PB_EINVAL;
	pos = (size_t)(nl - text) + 1;
	if (sn_hash_lines(text, len, &pos, a->proof, SN_ADDCP_PROOF_MAX, &a->n))
		return PB_EINVAL;
	/* The spec: no proof from size 0. */
	if ((a->old == 0 && a->n) || pos >= len)
		return PB_EINVAL;
	a->note = text + pos;
	a->note_len = len - pos;
	return PB_OK;
}

int sn_tlog_size_parse(const char *text, size_t len, uint64_t *size)
{
	if (!text || len < 2 || text[len - 1] != '\n')
		return PB_EINVAL;
	return sn_decimal(text, len - 1, size);
}

void sn_vkey_format(const char *name, uint8_t type, const uint8_t pk[SN_PK_LEN], char *buf,
                    size_t len)
{
	uint8_t raw[1 + SN_PK_LEN], id[SN_KEYID_LEN];
	char b64[sodium_base64_ENCODED_LEN(1 + SN_PK_LEN, sodium_base64_VARIANT_ORIGINAL)];
	char hex[2 * SN_KEYID_LEN + 1];

	raw[0] = type;
	memcpy(raw + 1, pk, SN_PK_LEN);
	sn_key_id(name, type, pk, id);
	pb_hex(id, sizeof(id), hex);
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
	snprintf(buf, len, "%s+%s+%s", name, hex, b64);
}

int sn_vkey_parse(const char *s, size_t len, uint8_t type, char *name, size_t namecap,
                  uint8_t pk[SN_PK_LEN])
{
	char text[SN_VKEY_MAX], *p1, *p2;
	uint8_t raw[1 + SN_PK_LEN], id[SN_KEYID_LEN], want[SN_KEYID_LEN];
	size_t rawlen;

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	if (len == 0 || len >= sizeof(text) || memchr(s, '\0', len))
		return PB_EINVAL;
	memcpy(text, s, len);
	text[len] = '\0';
	if (!(p1 = strchr(text, '+')) || !(p2 = strchr(p1 + 1, '+')))
		return PB_EINVAL;
	*p1++ = '\0';
	*p2++ = '\0';
	if (strlen(text) >= namecap || !sn_name_valid(text) || pb_unhex(p1, id, sizeof(id)))
		return PB_EINVAL;
	if (sodium_base642bin(raw, sizeof(raw), p2, strlen(p2), NULL, &rawlen, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    rawlen != sizeof(raw) || raw[0] != type || !crypto_core_ed25519_is_valid_point(raw + 1))
		return PB_EINVAL;
	sn_key_id(text, type, raw + 1, want);
	if (memcmp(id, want, sizeof(id)) != 0)
		return PB_EINVAL;
	memcpy(name, text, strlen(text) + 1);
	memcpy(pk, raw + 1, SN_PK_LEN);
	return PB_OK;
}
