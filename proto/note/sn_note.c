/* Signed notes: signing and strict opening. */
#include "sn_int.h"
#include "pb_err.h"

#include <sodium.h>
#include <string.h>

/* Largest signature payload this module decodes: key id, timestamp and
 * an Ed25519 signature. Longer lines of other keys are only checked for
 * form, never decoded. */
#define PAYLOAD_MAX (SN_KEYID_LEN + 8 + SN_SIG_LEN)

void sn_key_id(const char *name, uint8_t type, const uint8_t pk[SN_PK_LEN],
               uint8_t id[SN_KEYID_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];
	const uint8_t sep[2] = {'\n', type};

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
	crypto_hash_sha256_update(&st, sep, sizeof(sep));
	crypto_hash_sha256_update(&st, pk, SN_PK_LEN);
	crypto_hash_sha256_final(&st, h);
	memcpy(id, h, SN_KEYID_LEN);
}

int sn_format_line(const char *name, const uint8_t *payload, size_t plen, char *out, size_t cap,
                   size_t *len)
{
	size_t pos = 0;
	int rc;

	*len = 0;
	if (!sn_name_valid(name))
		return PB_EINVAL;
	if ((rc = sn_append(SN_DASH, SN_DASH_LEN, out, cap, &pos)) ||
	    (rc = sn_append(name, strlen(name), out, cap, &pos)) ||
	    (rc = sn_append(" ", 1, out, cap, &pos)) ||
	    (rc = sn_b64_append(payload, plen, out, cap, &pos)) ||
	    (rc = sn_append("\n", 1, out, cap, &pos)))
		return rc;
	*len = pos;
	return PB_OK;
}

/* A body must be a valid note text on its own: non-empty, ending in a
 * newline, no controls. */
static int body_ok(const char *body, size_t blen)
{
	return blen > 0 && body[blen - 1] == '\n' && sn_text_ok(body, blen);
}

int sn_sign_line(const char *body, size_t blen, const char *name,
                 const uint8_t sk[SN_SK_LEN], char *out, size_t cap, size_t *len)
{
	uint8_t payload[SN_KEYID_LEN + SN_SIG_LEN], pk[SN_PK_LEN];

	*len = 0;
	if (!body_ok(body, blen) || !sn_name_valid(name))
		return PB_EINVAL;
	if (crypto_sign_ed25519_sk_to_pk(pk, sk) != 0)
		return PB_EINVAL;
	sn_key_id(name, SN_TYPE_ED25519, pk, payload);
	if (crypto_sign_detached(payload + SN_KEYID_LEN, NULL, (const uint8_t *)body, blen, sk) != 0)
		return PB_EINVAL;
	return sn_format_line(name, payload, sizeof(payload), out, cap, len);
}

int sn_sign(const char *body, size_t blen, const char *name, const uint8_t sk[SN_SK_LEN],
            char *out, size_t cap, size_t *len)
{
	size_t pos = 0, line;
	int rc;

	*len = 0;
	if (!body_ok(body, blen))
		return PB_EINVAL;
	if ((rc = sn_append(body, blen, out, cap, &pos)) ||
	    (rc = sn_append("\n", 1, out, cap, &pos)))
		return rc;
	if ((rc = sn_sign_line(body, blen, name, sk, out + pos, cap - pos, &line)))
		return rc;
	*len = pos + line;
	return PB_OK;
}

/* The last "\n\n" separates text from signatures (the text may hold
 * blank lines of its own). */
static const char *last_blank_line(const char *s, size_t n)
{
	for (size_t i = n - 1; i > 0; i--)
		if (s[i] == '\n' && s[i - 1] == '\n')
			return s + i - 1;
	return NULL;
}

int sn_open_with(const char *note, size_t len, const char *name, const uint8_t id[SN_KEYID_LEN],
                 sn_check_fn check, void *ctx, const char **body, size_t *blen)
{
	size_t name_len = strlen(name), tlen, nsigs = 0;
	const char *split, *p, *end = note + len;
	int verified = 0, rc;

	if (len < 2 || !sn_text_ok(note, len) || note[len - 1] != '\n')
		return PB_EINVAL;
	if ((split = last_blank_line(note, len)) == NULL)
		return PB_EINVAL;
	tlen = (size_t)(split - note) + 1;
	p = split + 2;
	if (p == end)
		return PB_EINVAL;  /* no signature lines */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *nm, *sp, *b64;
		uint8_t payload[PAYLOAD_MAX];
		size_t plen, bl;

		/* p < end and the note ends in '\n', so nl is found. */
		if (++nsigs > SN_MAX_SIGS)
			return PB_EINVAL;
		if ((size_t)(nl - p) < SN_DASH_LEN || memcmp(p, SN_DASH, SN_DASH_LEN) != 0)
			return PB_EINVAL;
		nm = p + SN_DASH_LEN;
		sp = memchr(nm, ' ', (size_t)(nl - nm));
		if (sp == NULL || !sn_name_ok(nm, (size_t)(sp - nm)))
			return PB_EINVAL;
		b64 = sp + 1;
		/* Every line must be well formed: a key id and at least a byte. */
		bl = (size_t)(nl - b64);
		if (!sn_b64_ok(b64, bl) || bl / 4 * 3 - (b64[bl - 1] == '=') - (b64[bl - 2] == '=') <
		                               SN_KEYID_LEN + 1)
			return PB_EINVAL;
		p = nl + 1;
		if ((size_t)(sp - nm) != name_len || memcmp(nm, name, name_len) != 0)
			continue;
		if (bl > 4 * ((PAYLOAD_MAX + 2) / 3)) {
			/* Longer than any signature of ours: a line of another key,
			 * unless it claims our key id, which then cannot verify. The
			 * first 8 characters hold 6 whole bytes. */
			if ((rc = sn_b64_decode(b64, 8, payload, sizeof(payload), &plen)))
				return rc;
			if (memcmp(payload, id, SN_KEYID_LEN) == 0)
				return PB_EAUTH;
			continue;
		}
		if ((rc = sn_b64_decode(b64, bl, payload, sizeof(payload), &plen)))
			return rc;
		if (memcmp(payload, id, SN_KEYID_LEN) != 0)
			continue;
		/* Our key: it must verify, and only once. */
		if (verified)
			return PB_EINVAL;
		if ((rc = check(ctx, note, tlen, payload + SN_KEYID_LEN, plen - SN_KEYID_LEN)))
			return rc;
		verified = 1;
	}
	if (!verified)
		return PB_EAUTH;
	*body = note;
	*blen = tlen;
	return PB_OK;
}

static int check_ed25519(void *ctx, const char *text, size_t tlen, const uint8_t *sig,
                         size_t siglen)
{
	if (siglen != SN_SIG_LEN)
		return PB_EAUTH;
	return sn_verify_strict(sig, (const uint8_t *)text, tlen, ctx);
}

int sn_open(const char *note, size_t len, const char *name, const uint8_t pk[SN_PK_LEN],
            const char **body, size_t *blen)
{
	uint8_t id[SN_KEYID_LEN];

	if (!sn_name_valid(name))
		return PB_EINVAL;
	sn_key_id(name, SN_TYPE_ED25519, pk, id);
	return sn_open_with(note, len, name, id, check_ed25519, (void *)pk, body, blen);
}

static int check_ed25519_checked_key(void *ctx, const char *text, size_t tlen,
                                     const uint8_t *sig, size_t siglen)
{
	if (siglen != SN_SIG_LEN)
		return PB_EAUTH;
	return sn_verify_strict_checked_key(sig, (const uint8_t *)text, tlen, ctx);
}

int sn_open_checked_key(const char *note, size_t len, const char *name,
                        const uint8_t pk[SN_PK_LEN], const char **body, size_t *blen)
{
	uint8_t id[SN_KEYID_LEN];

	if (!sn_name_valid(name))
		return PB_EINVAL;
	sn_key_id(name, SN_TYPE_ED25519, pk, id);
	return sn_open_with(note, len, name, id, check_ed25519_checked_key, (void *)pk, body,
	                    blen);
}

int sn_open_checkpoint(const char *note, size_t len, const char *name,
                       const uint8_t pk[SN_PK_LEN], struct sn_checkpoint *cp)
{
	const char *body;
	size_t blen;
	int rc;

	if ((rc = sn_open(note, len, name, pk, &body, &blen)))
		return rc;
	return sn_checkpoint_parse(body, blen, cp);
}
