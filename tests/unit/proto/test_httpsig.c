/* RFC 9421 signature bases and RFC 9530 digests (pb_httpsig). */
#include "pb_err.h"
#include "pb_httpsig.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void init(void)
{
	cr_assert(sodium_init() >= 0);
}

TestSuite(httpsig, .init = init);

struct kv {
	const char *k, *v;
};

static const char *lookup(void *arg, const char *comp)
{
	for (const struct kv *p = arg; p->k; p++)
		if (strcmp(p->k, comp) == 0)
			return p->v;
	return NULL;
}

/* RFC 9421 appendix B.1.4: test-key-ed25519 (private key d, public x). */
static const char b14_seed_hex[] =
    "9f8362f87a484a954e6e740c5b4c0e84229139a20aa8ab56ff66586f6a7d29c5";
static const char b14_pub_b64url[] = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";

/* Appendix B.2.6, "Signing a Request Using ed25519". */
static const struct kv b26[] = {
    {"date", "Tue, 20 Apr 2021 02:07:55 GMT"},
    {"@method", "POST"},
    {"@path", "/foo"},
    {"@authority", "example.com"},
    {"content-type", "application/json"},
    {"content-length", "18"},
    {NULL, NULL},
};
static const char b26_input[] =
    "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" "
    "\"content-length\");created=1618884473;keyid=\"test-key-ed25519\"";
static const char b26_base[] =
    "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n"
    "\"@method\": POST\n"
    "\"@path\": /foo\n"
    "\"@authority\": example.com\n"
    "\"content-type\": application/json\n"
    "\"content-length\": 18\n"
    "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" "
    "\"content-length\");created=1618884473;keyid=\"test-key-ed25519\"";
static const char b26_sig[] = "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1"
                              "u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:";

static void b14_keys(uint8_t pk[32], uint8_t sk[64])
{
	uint8_t seed[32], x[32];
	size_t len;

	cr_assert_eq(sodium_hex2bin(seed, 32, b14_seed_hex, 64, NULL, &len, NULL), 0);
	cr_assert_eq(crypto_sign_seed_keypair(pk, sk, seed), 0);
	cr_assert_eq(sodium_base642bin(x, 32, b14_pub_b64url, strlen(b14_pub_b64url), NULL, &len,
	                               NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
	             0);
	cr_assert_eq(memcmp(pk, x, 32), 0, "the RFC's d and x are one key pair");
}

Test(httpsig, rfc9421_b26_base_and_signature)
{
	struct pb_hs_input in;
	uint8_t pk[32], sk[64], sig[64];
	char *base, field[160];
	size_t len;

	b14_keys(pk, sk);
	cr_assert_eq(pb_hs_parse_input(b26_input, &in), PB_OK);
	cr_assert_str_eq(in.label, "sig-b26");
	cr_assert_eq(in.ncomp, 6);
	cr_assert_eq(pb_hs_param_get(&in, "created")->ival, 1618884473);
	cr_assert_str_eq(pb_hs_param_get(&in, "keyid")->sval, "test-key-ed25519");
	cr_assert_eq(pb_hs_base(&in, lookup, (void *)b26, &base, &len), PB_OK);
	cr_assert_str_eq(base, b26_base);
	cr_assert_eq(len, strlen(b26_base));
	free(base);
	/* The RFC's signature verifies, and Ed25519 being deterministic, ours is it. */
	cr_assert_eq(pb_hs_parse_signature(b26_sig, "sig-b26", sig), PB_OK);
	cr_assert_eq(pb_hs_verify(&in, lookup, (void *)b26, sig, pk), PB_OK);
	cr_assert_eq(pb_hs_sign(&in, lookup, (void *)b26, sk, field, sizeof(field)), PB_OK);
	cr_assert_str_eq(field, b26_sig);
}

Test(httpsig, changed_component_fails)
{
	struct kv v[7];
	struct pb_hs_input in;
	uint8_t pk[32], sk[64], sig[64];

	b14_keys(pk, sk);
	memcpy(v, b26, sizeof(v));
	v[2].v = "/bar";
	cr_assert_eq(pb_hs_parse_input(b26_input, &in), PB_OK);
	cr_assert_eq(pb_hs_parse_signature(b26_sig, "sig-b26", sig), PB_OK);
	cr_assert_eq(pb_hs_verify(&in, lookup, v, sig, pk), PB_EAUTH);
	v[2].v = NULL;   /* a covered component the request lacks */
	v[2].k = "x-none";
	cr_assert_eq(pb_hs_verify(&in, lookup, v, sig, pk), PB_EINVAL);
	/* a value with a line break cannot forge another line */
	memcpy(v, b26, sizeof(v));
	v[2].v = "/foo\n\"@authority\": evil";
	cr_assert_eq(pb_hs_verify(&in, lookup, v, sig, pk), PB_EINVAL);
	/* another label than the input's */
	cr_assert_eq(pb_hs_parse_signature(b26_sig, "sig1", sig), PB_EINVAL);
}

Test(httpsig, parse_refuses_malformed_inputs)
{
	static const char *bad[] = {
	    "sig1=(\"@method\" \"@method\");created=1",       /* repeated component */
	    "sig1=(\"@method\");created=1, sig2=(\"@path\")", /* two signatures */
	    "sig1=(\"@method\";sf);created=1",                /* component parameters */
	    "sig1=(\"@method\");created",                     /* boolean parameter */
	    "sig1=(\"@method\");created=1;created=2",         /* repeated parameter */
	    "sig1=(\"@method\");alg=ed25519",                 /* a token */
	    "Sig1=(\"@method\")",                             /* upper case key */
	    "sig1=(\"@me\x01thod\")",                         /* control character */
	    "sig1=\"@method\"",                               /* not an inner list */
	    "",
	};
	struct pb_hs_input in;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(pb_hs_parse_input(bad[i], &in), PB_EINVAL, "accepted: %s", bad[i]);
	cr_assert_eq(pb_hs_parse_input("sig1=();created=1;nonce=\"a\\\"b\"", &in), PB_OK);
	char text[128];
	cr_assert_eq(pb_hs_params_text(&in, text, sizeof(text)), PB_OK);
	cr_assert_str_eq(text, "();created=1;nonce=\"a\\\"b\"");
}

/* RFC 9530 appendix B.1: {"hello": "world"} */
Test(httpsig, content_digest_rfc9530)
{
	static const char body[] = "{\"hello\": \"world\"}\n";
	char d[PB_HS_DIGEST_MAX];

	pb_hs_content_digest((const uint8_t *)body, strlen(body), d);
	cr_assert_str_eq(d, "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:");
	cr_assert(pb_hs_digest_ok(d, (const uint8_t *)body, strlen(body)));
	cr_assert(pb_hs_digest_ok("sha-512=:AAAA:, sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:",
	                          (const uint8_t *)body, strlen(body)));
	cr_assert_not(pb_hs_digest_ok(d, (const uint8_t *)body, strlen(body) - 1));
	cr_assert_not(pb_hs_digest_ok("sha-512=:AAAA:", (const uint8_t *)body, strlen(body)));
	cr_assert_not(pb_hs_digest_ok(NULL, (const uint8_t *)body, strlen(body)));
}

/* The worked example of docs/handler-api.md, byte for byte. */
Test(httpsig, handler_api_worked_example)
{
	static const char body[] =
	    "{\"lease\":\"5f0c2a9e41d87b3c\",\"text\":\"已安排维修，三日内修复。\"}";
	static const char input[] =
	    "sig1=(\"@method\" \"@path\" \"content-digest\");created=1796090400;"
	    "keyid=\"26b40b8f93fff3d897112f7ebc582b232dbd72517d082fe83cfb30ddce43d1bb\";"
	    "nonce=\"b1946ac92492d2347c6235b4d2611184\";alg=\"ed25519\"";
	static const char base_text[] =
	    "\"@method\": POST\n"
	    "\"@path\": /api/v1/messages/01KBZ8P4M3Q7T2V6X9Y1C5D8F0/reply\n"
	    "\"content-digest\": sha-256=:eiPSYTQ2egsfOGsRXU8kWFyEjunhY8JyQO8e4eihTnk=:\n"
	    "\"@signature-params\": (\"@method\" \"@path\" \"content-digest\");created=1796090400;"
	    "keyid=\"26b40b8f93fff3d897112f7ebc582b232dbd72517d082fe83cfb30ddce43d1bb\";"
	    "nonce=\"b1946ac92492d2347c6235b4d2611184\";alg=\"ed25519\"";
	static const char sig_field[] = "sig1=:fWCxRW4zoMIRdgCk7+nVFzBlH7m594HBtwCnIXUwpwq77C3ys3xZsfL/"
	                                "+nKJ9SKMO+TLxCqLAMl6VB5hya/6CA==:";
	char digest[PB_HS_DIGEST_MAX], *base, field[160], keyid[65];
	struct kv v[] = {
	    {"@method", "POST"},
	    {"@path", "/api/v1/messages/01KBZ8P4M3Q7T2V6X9Y1C5D8F0/reply"},
	    {"content-digest", digest},
	    {NULL, NULL},
	};
	struct pb_hs_input in;
	uint8_t pk[32], sk[64], sig[64];
	size_t len;

	b14_keys(pk, sk);
	sodium_bin2hex(keyid, sizeof(keyid), pk, 32);
	cr_assert_str_eq(keyid, "26b40b8f93fff3d897112f7ebc582b232dbd72517d082fe83cfb30ddce43d1bb");
	pb_hs_content_digest((const uint8_t *)body, strlen(body), digest);
	cr_assert_str_eq(digest, "sha-256=:eiPSYTQ2egsfOGsRXU8kWFyEjunhY8JyQO8e4eihTnk=:");
	cr_assert_eq(pb_hs_parse_input(input, &in), PB_OK);
	cr_assert_eq(pb_hs_base(&in, lookup, v, &base, &len), PB_OK);
	cr_assert_str_eq(base, base_text);
	free(base);
	cr_assert_eq(pb_hs_sign(&in, lookup, v, sk, field, sizeof(field)), PB_OK);
	cr_assert_str_eq(field, sig_field);
	cr_assert_eq(pb_hs_parse_signature(sig_field, "sig1", sig), PB_OK);
	cr_assert_eq(pb_hs_verify(&in, lookup, v, sig, pk), PB_OK);
}
