#include "pb_httpsig.h"
#include "pb_err.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------- RFC 8941, the subset -- */

static int lcalpha(int c)
{
	return c >= 'a' && c <= 'z';
}

static int keychar(int c)
{
	return lcalpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == '*';
}

static void skip_sp(const char **p)
{
	while (**p == ' ')
		(*p)++;
}

static int parse_key(const char **p, char *out)
{
	size_t n = 0;

	if (!lcalpha(**p) && **p != '*')
		return PB_EINVAL;
	while (keychar(**p)) {
		if (n + 1 >= PB_HS_NAME_MAX)
			return PB_EINVAL;
		out[n++] = *(*p)++;
	}
	out[n] = '\0';
	return PB_OK;
}

/* An sf-string: printable ASCII, with \" and \\ the only escapes. */
static int parse_string(const char **p, char *out, size_t cap)
{
	size_t n = 0;

	if (**p != '"')
		return PB_EINVAL;
	(*p)++;
	for (;;) {
		int c = (unsigned char)**p;
		if (c == '"') {
			(*p)++;
			break;
		}
		if (c == '\\') {
			c = (unsigned char)*++(*p);
			if (c != '"' && c != '\\')
				return PB_EINVAL;
		} else if (c < 0x20 || c > 0x7e) {
			return PB_EINVAL;
		}
		if (n + 1 >= cap)
			return PB_EINVAL;
		out[n++] = (char)c;
		(*p)++;
	}
	out[n] = '\0';
	return PB_OK;
}

static int parse_param(const char **p, struct pb_hs_param *pr)
{
	int rc;

	memset(pr, 0, sizeof(*pr));
	if ((rc = parse_key(p, pr->name)))
		return rc;
	if (**p != '=')
		return PB_EINVAL;   /* boolean parameters are not part of the profile */
	(*p)++;
	if (**p == '"')
		return parse_string(p, pr->sval, sizeof(pr->sval));
	if (**p == '-' || (**p >= '0' && **p <= '9')) {
		char *end;
		const char *s = *p;
		size_t digits = strspn(s + (*s == '-'), "0123456789");
		if (digits == 0 || digits > 15)
			return PB_EINVAL;
		pr->ival = strtoll(s, &end, 10);
		pr->is_int = 1;
		*p = end;
		return PB_OK;
	}
	return PB_EINVAL;   /* the profile takes strings and integers only */
}

int pb_hs_parse_input(const char *text, struct pb_hs_input *in)
{
	const char *p = text;
	int rc;

	memset(in, 0, sizeof(*in));
	if (!text || strlen(text) > PB_HS_INPUT_MAX)
		return PB_EINVAL;
	skip_sp(&p);
	if ((rc = parse_key(&p, in->label)))
		return rc;
	if (*p++ != '=' || *p++ != '(')
		return PB_EINVAL;
	for (;;) {
		skip_sp(&p);
		if (*p == ')') {
			p++;
			break;
		}
		if (in->ncomp == PB_HS_MAX_COMP)
			return PB_EINVAL;
		if ((rc = parse_string(&p, in->comp[in->ncomp], PB_HS_NAME_MAX)))
			return rc;
		if (!in->comp[in->ncomp][0])
			return PB_EINVAL;
		for (int i = 0; i < in->ncomp; i++)
			if (strcmp(in->comp[i], in->comp[in->ncomp]) == 0)
				return PB_EINVAL;   /* RFC 9421 2.5: a component at most once */
		in->ncomp++;
		if (*p != ' ' && *p != ')')
			return PB_EINVAL;   /* component parameters are not part of the profile */
	}
	while (*p == ';') {
		p++;
		skip_sp(&p);
		if (in->nparam == PB_HS_MAX_PARAMS)
			return PB_EINVAL;
		if ((rc = parse_param(&p, &in->param[in->nparam])))
			return rc;
		for (int i = 0; i < in->nparam; i++)
			if (strcmp(in->param[i].name, in->param[in->nparam].name) == 0)
				return PB_EINVAL;
		in->nparam++;
	}
	skip_sp(&p);
	return *p ? PB_EINVAL : PB_OK;   /* one signature only: no further members */
}

const struct pb_hs_param *pb_hs_param_get(const struct pb_hs_input *in, const char *name)
{
	for (int i = 0; i < in->nparam; i++)
		if (strcmp(in->param[i].name, name) == 0)
			return &in->param[i];
	return NULL;
}

int pb_hs_covers(const struct pb_hs_input *in, const char *comp)
{
	for (int i = 0; i < in->ncomp; i++)
		if (strcmp(in->comp[i], comp) == 0)
			return 1;
	return 0;
}

/* Appends with a bound; PB_ETOOBIG when it would not fit. */
static int put(char *buf, size_t cap, size_t *n, const char *s, size_t len)
{
	if (*n + len + 1 > cap)
		return PB_ETOOBIG;
	memcpy(buf + *n, s, len);
	*n += len;
	buf[*n] = '\0';
	return PB_OK;
}

static int put_string(char *buf, size_t cap, size_t *n, const char *s)
{
	int rc = put(buf, cap, n, "\"", 1);

	for (; !rc && *s; s++) {
		if (*s == '"' || *s == '\\')
			rc = put(buf, cap, n, "\\", 1);
		if (!rc)
			rc = put(buf, cap, n, s, 1);
	}
	return rc ? rc : put(buf, cap, n, "\"", 1);
}

int pb_hs_params_text(const struct pb_hs_input *in, char *buf, size_t cap)
{
	size_t n = 0;
	int rc = put(buf, cap, &n, "(", 1);

	for (int i = 0; !rc && i < in->ncomp; i++) {
		if (i)
			rc = put(buf, cap, &n, " ", 1);
		if (!rc)
			rc = put_string(buf, cap, &n, in->comp[i]);
	}
	if (!rc)
		rc = put(buf, cap, &n, ")", 1);
	for (int i = 0; !rc && i < in->nparam; i++) {
		const struct pb_hs_param *pr = &in->param[i];
		rc = put(buf, cap, &n, ";", 1);
		if (!rc)
			rc = put(buf, cap, &n, pr->name, strlen(pr->name));
		if (!rc)
			rc = put(buf, cap, &n, "=", 1);
		if (!rc && pr->is_int) {
			char num[32];
			int len = snprintf(num, sizeof(num), "%lld", pr->ival);
			rc = put(buf, cap, &n, num, (size_t)len);
		} else if (!rc) {
			rc = put_string(buf, cap, &n, pr->sval);
		}
	}
	return rc;
}

/* ------------------------------------------------- the signature base -- */

int pb_hs_base(const struct pb_hs_input *in, pb_hs_lookup get, void *arg, char **out,
               size_t *outlen)
{
	char params[PB_HS_INPUT_MAX + 64];
	size_t cap = 256, n = 0;
	char *buf;
	int rc;

	*out = NULL;
	if ((rc = pb_hs_params_text(in, params, sizeof(params))))
		return rc;
	for (int i = 0; i < in->ncomp; i++) {
		const char *v = get(arg, in->comp[i]);
		if (!v || strpbrk(v, "\r\n"))
			return PB_EINVAL;
		cap += strlen(in->comp[i]) + strlen(v) + 8;
	}
	cap += strlen(params);
	if (!(buf = malloc(cap)))
		return PB_ENOMEM;
	buf[0] = '\0';
	for (int i = 0; i < in->ncomp && !rc; i++) {
		const char *v = get(arg, in->comp[i]);
		rc = put_string(buf, cap, &n, in->comp[i]);
		if (!rc)
			rc = put(buf, cap, &n, ": ", 2);
		if (!rc)
			rc = put(buf, cap, &n, v, strlen(v));
		if (!rc)
			rc = put(buf, cap, &n, "\n", 1);
	}
	if (!rc)
		rc = put(buf, cap, &n, "\"@signature-params\": ", 21);
	if (!rc)
		rc = put(buf, cap, &n, params, strlen(params));
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = n;
	return PB_OK;
}

int pb_hs_parse_signature(const char *text, const char *label, uint8_t sig[64])
{
	char key[PB_HS_NAME_MAX];
	const char *p = text, *end;
	size_t len;

	if (!text)
		return PB_EINVAL;
	skip_sp(&p);
	if (parse_key(&p, key) || strcmp(key, label) != 0 || *p++ != '=' || *p++ != ':')
		return PB_EINVAL;
	if (!(end = strchr(p, ':')))
		return PB_EINVAL;
	if (sodium_base642bin(sig, 64, p, (size_t)(end - p), NULL, &len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != 64)
		return PB_EINVAL;
	p = end + 1;
	skip_sp(&p);
	return *p ? PB_EINVAL : PB_OK;
}

int pb_hs_verify(const struct pb_hs_input *in, pb_hs_lookup get, void *arg, const uint8_t sig[64],
                 const uint8_t pk[32])
{
	char *base;
	size_t len;
	int rc;

	if ((rc = pb_hs_base(in, get, arg, &base, &len)))
		return rc;
	rc = crypto_sign_verify_detached(sig, (const unsigned char *)base, len, pk) == 0 ? PB_OK
	                                                                                 : PB_EAUTH;
	free(base);
	return rc;
}

int pb_hs_sign(const struct pb_hs_input *in, pb_hs_lookup get, void *arg, const uint8_t sk[64],
               char *sig_field, size_t cap)
{
	uint8_t sig[64];
	char b64[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
	char *base;
	size_t len;
	int rc;

	if ((rc = pb_hs_base(in, get, arg, &base, &len)))
		return rc;
	crypto_sign_detached(sig, NULL, (const unsigned char *)base, len, sk);
	free(base);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	if ((size_t)snprintf(sig_field, cap, "%s=:%s:", in->label, b64) >= cap)
		return PB_ETOOBIG;
	return PB_OK;
}

/* ------------------------------------------------ RFC 9530 digests -- */

void pb_hs_content_digest(const uint8_t *body, size_t len, char out[PB_HS_DIGEST_MAX])
{
	uint8_t h[crypto_hash_sha256_BYTES];
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];

	crypto_hash_sha256(h, body, len);
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, PB_HS_DIGEST_MAX, "sha-256=:%s:", b64);
}

int pb_hs_digest_ok(const char *field, const uint8_t *body, size_t len)
{
	char want[PB_HS_DIGEST_MAX];
	const char *p = field;
	size_t wlen;
	int found = 0;

	if (!field)
		return 0;
	pb_hs_content_digest(body, len, want);
	wlen = strlen(want);
	/* A dictionary: "alg=:b64:" members separated by commas. */
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *end = strchr(p, ',');
		size_t mlen = end ? (size_t)(end - p) : strlen(p);
		while (mlen && p[mlen - 1] == ' ')
			mlen--;
		if (mlen > 8 && strncmp(p, "sha-256=", 8) == 0) {
			if (mlen != wlen || memcmp(p, want, wlen) != 0)
				return 0;
			found = 1;
		}
		p = end ? end : p + strlen(p);
	}
	return found;
}
