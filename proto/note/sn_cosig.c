/* tlog-cosignature v1 with Ed25519: the cosigner signs
 * "cosignature/v1\ntime <t>\n" || checkpoint body; the line carries
 * key id (type 0x04) || t (8 bytes, big-endian) || signature. */
#include "sn_int.h"
#include "pb_err.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_LEN 8
#define COSIG_LEN (SN_KEYID_LEN + TS_LEN + SN_SIG_LEN)
#define TS_MAX ((uint64_t)INT64_MAX)

/* The signed message in a fresh buffer (free with free()). */
static int cosig_message(const char *body, size_t blen, uint64_t ts, uint8_t **msg, size_t *mlen)
{
	char head[64];
	int n = snprintf(head, sizeof(head), "cosignature/v1\ntime %" PRIu64 "\n", ts);

	if (n < 0 || (size_t)n >= sizeof(head) || blen > SIZE_MAX - (size_t)n)
		return PB_EINVAL;
	if ((*msg = malloc((size_t)n + blen)) == NULL)
		return PB_ENOMEM;
	memcpy(*msg, head, (size_t)n);
	memcpy(*msg + n, body, blen);
	*mlen = (size_t)n + blen;
	return PB_OK;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < TS_LEN; i++)
		v = v << 8 | p[i];
	return v;
}

int sn_cosign_line(const char *body, size_t blen, const char *name,
                   const uint8_t sk[SN_SK_LEN], uint64_t timestamp, char *out, size_t cap,
                   size_t *len)
{
	uint8_t payload[COSIG_LEN], pk[SN_PK_LEN], *msg;
	size_t mlen;
	int rc;

	*len = 0;
	if (timestamp > TS_MAX || blen == 0 || body[blen - 1] != '\n' || !sn_text_ok(body, blen) ||
	    !sn_name_valid(name))
		return PB_EINVAL;
	if (crypto_sign_ed25519_sk_to_pk(pk, sk) != 0)
		return PB_EINVAL;
	sn_key_id(name, SN_TYPE_COSIG_V1, pk, payload);
	for (int i = 0; i < TS_LEN; i++)
		payload[SN_KEYID_LEN + i] = (uint8_t)(timestamp >> (8 * (TS_LEN - 1 - i)));
	if ((rc = cosig_message(body, blen, timestamp, &msg, &mlen)))
		return rc;
	rc = crypto_sign_detached(payload + SN_KEYID_LEN + TS_LEN, NULL, msg, mlen, sk) == 0
	             ? PB_OK
	             : PB_EINVAL;
	free(msg);
	if (rc == PB_OK)
		rc = sn_format_line(name, payload, sizeof(payload), out, cap, len);
	return rc;
}

struct cosig_ctx {
	const uint8_t *pk;
	uint64_t ts;
};

static int check_cosig(void *arg, const char *text, size_t tlen, const uint8_t *sig,
                       size_t siglen)
{
	struct cosig_ctx *c = arg;
	uint8_t *msg;
	size_t mlen;
	int rc;

	if (siglen != TS_LEN + SN_SIG_LEN || (c->ts = be64(sig)) > TS_MAX)
		return PB_EAUTH;
	if ((rc = cosig_message(text, tlen, c->ts, &msg, &mlen)))
		return rc;
	rc = sn_verify_strict(sig + TS_LEN, msg, mlen, c->pk);
	free(msg);
	return rc;
}

int sn_open_cosigned(const char *note, size_t len, const char *name,
                     const uint8_t pk[SN_PK_LEN], const char **body, size_t *blen,
                     uint64_t *timestamp)
{
	struct cosig_ctx c = {.pk = pk};
	uint8_t id[SN_KEYID_LEN];
	int rc;

	if (!sn_name_valid(name))
		return PB_EINVAL;
	sn_key_id(name, SN_TYPE_COSIG_V1, pk, id);
	if ((rc = sn_open_with(note, len, name, id, check_cosig, &c, body, blen)))
		return rc;
	*timestamp = c.ts;
	return PB_OK;
}

int sn_cosig_timestamp(const char *b64, size_t len, uint64_t *timestamp)
{
	uint8_t payload[COSIG_LEN];
	size_t n;
	uint64_t ts;

	if (sn_b64_decode(b64, len, payload, sizeof(payload), &n) || n != COSIG_LEN)
		return PB_EINVAL;
	if ((ts = be64(payload + SN_KEYID_LEN)) > TS_MAX)
		return PB_EINVAL;
	*timestamp = ts;
	return PB_OK;
}
