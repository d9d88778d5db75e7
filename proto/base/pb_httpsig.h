/* HTTP Message Signatures (RFC 9421) with Ed25519, and the sha-256
 * Content-Digest of RFC 9530: the shape of a console request. The router
 * verifies with these; tests and C clients sign with them. One signature
 * per request (one member in Signature-Input and Signature); components
 * carry no parameters. See docs/handler-api.md for the profile. */
#ifndef PB_HTTPSIG_H
#define PB_HTTPSIG_H

#include <stddef.h>
#include <stdint.h>

#define PB_HS_MAX_COMP 12
#define PB_HS_MAX_PARAMS 8
#define PB_HS_NAME_MAX 64
#define PB_HS_VALUE_MAX 256
#define PB_HS_DIGEST_MAX 64   /* "sha-256=:" base64(32) ":" and NUL */
#define PB_HS_INPUT_MAX 1024  /* longest Signature-Input we take */

struct pb_hs_param {
	char name[PB_HS_NAME_MAX];
	int is_int;
	long long ival;
	char sval[PB_HS_VALUE_MAX];   /* string (and token) values */
};

struct pb_hs_input {
	char label[PB_HS_NAME_MAX];
	int ncomp;
	char comp[PB_HS_MAX_COMP][PB_HS_NAME_MAX];   /* "@method", "content-digest", ... */
	int nparam;
	struct pb_hs_param param[PB_HS_MAX_PARAMS];  /* in the order given */
};

/* Parses a Signature-Input field holding one signature. PB_EINVAL when
 * it is not a well-formed one. */
int pb_hs_parse_input(const char *text, struct pb_hs_input *in);
/* The named parameter, or NULL. */
const struct pb_hs_param *pb_hs_param_get(const struct pb_hs_input *in, const char *name);
/* Is comp among the covered components? */
int pb_hs_covers(const struct pb_hs_input *in, const char *comp);
/* The "@signature-params" value: the inner list and its parameters in
 * RFC 8941 serialisation (also the Signature-Input member value). */
int pb_hs_params_text(const struct pb_hs_input *in, char *buf, size_t cap);

/* A covered component's value, or NULL when the request lacks it. */
typedef const char *(*pb_hs_lookup)(void *arg, const char *component);

/* The signature base (RFC 9421 section 2.5), malloc'd and NUL-terminated;
 * PB_EINVAL when a component is missing or a value holds a line break. */
int pb_hs_base(const struct pb_hs_input *in, pb_hs_lookup get, void *arg, char **out,
               size_t *outlen);
/* Parses a Signature field: the member named label, a 64-byte byte sequence. */
int pb_hs_parse_signature(const char *text, const char *label, uint8_t sig[64]);
/* Rebuilds the base and checks sig under pk. PB_EAUTH when it does not verify. */
int pb_hs_verify(const struct pb_hs_input *in, pb_hs_lookup get, void *arg, const uint8_t sig[64],
                 const uint8_t pk[32]);
/* Signs: fills the Signature field text "label=:base64:" for in. */
int pb_hs_sign(const struct pb_hs_input *in, pb_hs_lookup get, void *arg, const uint8_t sk[64],
               char *sig_field, size_t cap);

/* "sha-256=:base64(SHA-256(body)):" */
void pb_hs_content_digest(const uint8_t *body, size_t len, char out[PB_HS_DIGEST_MAX]);
/* Does a Content-Digest field value hold a sha-256 member matching body?
 * Other algorithms' members are ignored; a wrong sha-256 fails. */
int pb_hs_digest_ok(const char *field, const uint8_t *body, size_t len);

#endif
