/* RFC 9421 signature headers as the console sends them: the input is
 * "Signature-Input\nSignature\nContent-Digest\nbody" (missing parts are
 * empty). Parses, rebuilds the base and the parameters' text, verifies
 * under a fixed key, checks the digest, and signs what parsed. */
#include "pb_err.h"
#include "pb_httpsig.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint8_t pk[32], sk[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[32];

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	memset(seed, 5, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	return 0;
}

struct req {
	const char *digest;
};

static const char *lookup(void *arg, const char *comp)
{
	const struct req *r = arg;

	if (!strcmp(comp, "@method"))
		return "POST";
	if (!strcmp(comp, "@path"))
		return "/v1/console/pull";
	if (!strcmp(comp, "@authority"))
		return "127.0.0.1:8081";
	if (!strcmp(comp, "content-digest"))
		return r->digest;
	if (!strcmp(comp, "content-type"))
		return "application/json";
	return NULL;
}

/* The next line of [*p, end) as a NUL-terminated copy in buf. */
static const char *line(const char **p, const char *end, char *buf, size_t cap)
{
	size_t n = 0;

	while (*p < end && **p != '\n') {
		if (n + 1 < cap)
			buf[n++] = **p;
		(*p)++;
	}
	if (*p < end)
		(*p)++;
	buf[n] = '\0';
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char in_text[4096], sig_text[4096], dig_text[512], params[2048], field[512];
	const char *p = (const char *)data, *end = p + size;
	struct pb_hs_input in;
	struct req r;
	uint8_t sig[64];
	char *base;
	size_t blen;

	line(&p, end, in_text, sizeof(in_text));
	line(&p, end, sig_text, sizeof(sig_text));
	r.digest = line(&p, end, dig_text, sizeof(dig_text));
	(void)pb_hs_digest_ok(r.digest, (const uint8_t *)p, (size_t)(end - p));
	if (pb_hs_parse_input(in_text, &in) != PB_OK)
		return 0;
	(void)pb_hs_param_get(&in, "keyid");
	(void)pb_hs_param_get(&in, "created");
	(void)pb_hs_covers(&in, "content-digest");
	(void)pb_hs_params_text(&in, params, sizeof(params));
	if (pb_hs_base(&in, lookup, &r, &base, &blen) == PB_OK)
		free(base);
	if (pb_hs_parse_signature(sig_text, in.label, sig) == PB_OK)
		(void)pb_hs_verify(&in, lookup, &r, sig, pk);
	if (pb_hs_sign(&in, lookup, &r, sk, field, sizeof(field)) == PB_OK) {
		/* what we sign must verify */
		if (pb_hs_parse_signature(field, in.label, sig) != PB_OK ||
		    pb_hs_verify(&in, lookup, &r, sig, pk) != PB_OK)
			abort();
	}
	return 0;
}
