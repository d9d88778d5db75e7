/* sn_verify_strict against the public Ed25519 vectors: every Wycheproof
 * case as it says, and CCTV's edge cases, where each vector flagged
 * low_order_* must be refused. libsodium's own verify runs alongside so
 * the log shows what the strict checks add. */
#include "pb_err.h"
#include "sn.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TV_DIR MR_SOURCE_DIR "/../shared/testvectors"
#define ED_DIR TV_DIR "/ed25519"

static json_t *load(const char *path)
{
	json_error_t err;
	json_t *doc = json_load_file(path, 0, &err);

	cr_assert(doc, "%s: %s", path, err.text);
	return doc;
}

static void init(void)
{
	cr_assert(sodium_init() >= 0);
}

static void skip_if_missing(void)
{
	struct stat st;

	if (stat(ED_DIR, &st) != 0)
		cr_skip_test("test vectors not found at " ED_DIR
		             " (../shared/testvectors beside the repo); skipped");
}

/* Hex into a malloc'd buffer (at least one byte allocated). */
static uint8_t *unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2 + 1;
	uint8_t *out = malloc(n);

	cr_assert(out);
	cr_assert_eq(sodium_hex2bin(out, n, hex, strlen(hex), NULL, len, NULL), 0, "bad hex");
	return out;
}

static int plain_verify(const uint8_t *sig, const uint8_t *msg, size_t len, const uint8_t *pk)
{
	return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}

Test(ed25519, wycheproof, .init = init)
{
	long total = 0, valid = 0, invalid = 0, bad_len = 0, plain_accepts_invalid = 0;
	json_t *doc, *groups, *g;
	size_t gi;

	skip_if_missing();
	doc = load(ED_DIR "/wycheproof_ed25519_test.json");
	groups = json_object_get(doc, "testGroups");
	cr_assert(json_is_array(groups));
	json_array_foreach(groups, gi, g) {
		size_t pklen, ti;
		uint8_t *pk = unhex(json_string_value(json_object_get(json_object_get(g, "publicKey"), "pk")),
		                    &pklen);
		json_t *t;

		json_array_foreach(json_object_get(g, "tests"), ti, t) {
			size_t mlen, slen;
			uint8_t *msg = unhex(json_string_value(json_object_get(t, "msg")), &mlen);
			uint8_t *sig = unhex(json_string_value(json_object_get(t, "sig")), &slen);
			const char *result = json_string_value(json_object_get(t, "result"));
			long id = (long)json_integer_value(json_object_get(t, "tcId"));
			int want = strcmp(result, "valid") == 0, ok;

			cr_assert(want || strcmp(result, "invalid") == 0, "tcId %ld: result %s", id, result);
			total++;
			if (slen != SN_SIG_LEN || pklen != SN_PK_LEN) {
				/* The API takes exactly 64 and 32 bytes: a caller
				 * refuses other lengths before verifying. */
				cr_expect(!want, "tcId %ld: valid case with a %zu-byte signature", id, slen);
				bad_len++;
				ok = 0;
			} else {
				int rc = sn_verify_strict(sig, msg, mlen, pk);

				cr_expect(rc == PB_OK || rc == PB_EAUTH, "tcId %ld: %s", id, pb_err_name(rc));
				ok = rc == PB_OK;
				if (!want && plain_verify(sig, msg, mlen, pk))
					plain_accepts_invalid++;
			}
			cr_expect_eq(ok, want, "tcId %ld (%s): want %s", id,
			             json_string_value(json_object_get(t, "comment")), result);
			want ? valid++ : invalid++;
			free(msg);
			free(sig);
		}
		free(pk);
	}
	json_decref(doc);
	cr_expect_eq(total, 151);
	cr_log_info("wycheproof: %ld cases, %ld valid accepted, %ld invalid rejected (%ld of them "
	            "by length before verifying); libsodium's plain verify accepts %ld invalid",
	            total, valid, invalid, bad_len, plain_accepts_invalid);
}

struct tally {
	long n, strict_ok, plain_ok;
};

static int has_flag(json_t *flags, const char *prefix)
{
	size_t i;
	json_t *f;

	json_array_foreach(flags, i, f)
		if (strncmp(json_string_value(f), prefix, strlen(prefix)) == 0)
			return 1;
	return 0;
}

static const char *const cctv_flags[] = {
	"low_order_A", "low_order_R", "low_order_component_A", "low_order_component_R",
	"low_order_residue", "non_canonical_A", "non_canonical_R", "reencoded_k",
};
#define NFLAGS (sizeof(cctv_flags) / sizeof(cctv_flags[0]))

Test(ed25519, cctv, .init = init)
{
	struct tally by_flag[NFLAGS] = {{0}}, low = {0}, other = {0};
	json_t *doc, *v;
	size_t i;

	skip_if_missing();
	doc = load(ED_DIR "/cctv_ed25519vectors.json");
	cr_assert(json_is_array(doc));
	json_array_foreach(doc, i, v) {
		size_t pklen, slen;
		uint8_t *pk = unhex(json_string_value(json_object_get(v, "key")), &pklen);
		uint8_t *sig = unhex(json_string_value(json_object_get(v, "sig")), &slen);
		const char *msg = json_string_value(json_object_get(v, "msg"));
		json_t *flags = json_object_get(v, "flags");
		long num = (long)json_integer_value(json_object_get(v, "number"));
		struct tally *t;
		int strict, plain;
		size_t k;
		json_t *x;

		cr_assert(pklen == SN_PK_LEN && slen == SN_SIG_LEN && msg, "vector %ld", num);
		strict = sn_verify_strict(sig, (const uint8_t *)msg, strlen(msg), pk) == PB_OK;
		plain = plain_verify(sig, (const uint8_t *)msg, strlen(msg), pk);
		/* With a key that passes the check once, the per-signature variant
		 * must decide exactly as the full one. */
		if (crypto_core_ed25519_is_valid_point(pk))
			cr_expect_eq(sn_verify_strict_checked_key(sig, (const uint8_t *)msg, strlen(msg), pk) ==
			                     PB_OK,
			             strict, "vector %ld: checked-key variant disagrees", num);
		json_array_foreach(flags, k, x)
			for (size_t f = 0; f < NFLAGS; f++)
				if (strcmp(json_string_value(x), cctv_flags[f]) == 0) {
					by_flag[f].n++;
					by_flag[f].strict_ok += strict;
					by_flag[f].plain_ok += plain;
				}
		t = has_flag(flags, "low_order") ? &low : &other;
		t->n++;
		t->strict_ok += strict;
		t->plain_ok += plain;
		if (t == &low)
			cr_expect(!strict, "vector %ld flagged low_order accepted", num);
		else if (json_array_size(flags) == 0)
			cr_expect(strict, "vector %ld, an ordinary signature, refused", num);
		free(pk);
		free(sig);
	}
	json_decref(doc);
	cr_expect_eq(low.n + other.n, 914);
	cr_log_info("cctv: %ld vectors flagged low_order*: strict accepts %ld, libsodium plain "
	            "accepts %ld",
	            low.n, low.strict_ok, low.plain_ok);
	cr_log_info("cctv: %ld vectors without a low_order flag: strict accepts %ld, libsodium plain "
	            "accepts %ld",
	            other.n, other.strict_ok, other.plain_ok);
	for (size_t f = 0; f < NFLAGS; f++)
		cr_log_info("cctv: flag %-22s %4ld vectors: strict accepts %ld, plain accepts %ld",
		            cctv_flags[f], by_flag[f].n, by_flag[f].strict_ok, by_flag[f].plain_ok);
}
