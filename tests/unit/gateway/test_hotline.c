/* 12345 push authentication: the signature formula, each refusal, the
 * nonce cache and secret files. */
#include "gw.h"
#include "pb_err.h"
#include "util.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define PATH "/v1/hotline/orders?src=push"
#define BODY "{\"order_no\":\"A1\"}"
#define NONCE "Nonce0123456789abcdef"
#define NOW 1764122400LL

/* HMAC-SHA256 under APP_SECRET of
 * "POST\n" PATH "\n1764122400\n" NONCE "\n" hex(SHA256(BODY)), worked out
 * separately from this code base. */
#define VECTOR "b906007ffcfd5b407aaf74c6e2ef2d67a3342f98de3cfc6b119e3cd1a9a9e4e4"

static void hex(const uint8_t *b, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, b, n);
}

Test(hmac, known_vector)
{
	uint8_t mac[32];
	char out[65];

	gw_hotline_sign((const uint8_t *)APP_SECRET, strlen(APP_SECRET), "POST", PATH, "1764122400",
	                NONCE, (const uint8_t *)BODY, strlen(BODY), mac);
	hex(mac, 32, out);
	cr_assert_str_eq(out, VECTOR);
}

Test(hmac, matches_single_shot_formula)
{
	char hdrs[4][200];
	uint8_t mac[32];
	char out[65];

	/* sign_headers builds the whole string and MACs it in one call. */
	sign_headers(PATH, NOW, NONCE, BODY, hdrs);
	cr_assert_str_eq(hdrs[3], "X-Signature: " VECTOR);
	/* An empty body hashes the empty string. */
	sign_headers("/p", 5, NONCE, "", hdrs);
	gw_hotline_sign((const uint8_t *)APP_SECRET, 32, "POST", "/p", "5", NONCE, NULL, 0, mac);
	hex(mac, 32, out);
	cr_assert_str_eq(hdrs[3] + strlen("X-Signature: "), out);
}

Test(hmac, long_keys_are_hashed_like_hmac_says)
{
	/* Keys past the 64-byte block are hashed first (RFC 2104); the
	 * streaming API must agree with a second, independent computation. */
	uint8_t key[100], mac1[32], mac2[32], k2[32];
	crypto_auth_hmacsha256_state st;

	memset(key, 'k', sizeof(key));
	gw_hotline_sign(key, sizeof(key), "POST", "/x", "1", NONCE, (const uint8_t *)"b", 1, mac1);
	char msg[256];
	uint8_t d[32];
	char dh[65];
	crypto_hash_sha256(d, (const uint8_t *)"b", 1);
	hex(d, 32, dh);
	snprintf(msg, sizeof(msg), "POST\n/x\n1\n%s\n%s", NONCE, dh);
	crypto_hash_sha256(k2, key, sizeof(key));
	crypto_auth_hmacsha256_init(&st, k2, 32);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&st, mac2);
	cr_assert_eq(memcmp(mac1, mac2, 32), 0);
}

static struct gw_hotline hl;

static void setup(void)
{
	cr_assert_eq(gw_hotline_init(&hl, 300, NOW - 1000, 1024), PB_OK);
	cr_assert_eq(gw_hotline_add_app(&hl, APP_ID, (const uint8_t *)APP_SECRET, 32), PB_OK);
	cr_assert_eq(gw_hotline_add_app(&hl, "other", (const uint8_t *)"0123456789abcdefXYZ", 19),
	             PB_OK);
}

static void teardown(void)
{
	gw_hotline_fini(&hl);
}

/* A correctly signed push at ts with nonce, checked at now. */
static const char *check(long long ts, const char *nonce, long long now)
{
	char hdrs[4][200], tsbuf[32];
	struct gw_hl_auth a;

	sign_headers(PATH, ts, nonce, BODY, hdrs);
	snprintf(tsbuf, sizeof(tsbuf), "%lld", ts);
	a = (struct gw_hl_auth){APP_ID, tsbuf, nonce, hdrs[3] + strlen("X-Signature: "),
	                        "POST", PATH, (const uint8_t *)BODY, strlen(BODY)};
	return gw_hotline_verify(&hl, &a, now);
}

Test(decide, accepts_then_refuses_replay, .init = setup, .fini = teardown)
{
	cr_assert_null(check(NOW, NONCE, NOW));
	cr_assert_str_eq(check(NOW, NONCE, NOW), "replay");
	/* Another timestamp, same nonce: still a replay. */
	cr_assert_str_eq(check(NOW + 1, NONCE, NOW + 1), "replay");
	cr_assert_null(check(NOW, "AnotherNonce0123456", NOW));
}

Test(decide, stale, .init = setup, .fini = teardown)
{
	cr_assert_str_eq(check(NOW - 301, NONCE, NOW), "stale");
	cr_assert_str_eq(check(NOW + 301, NONCE, NOW), "stale");
	cr_assert_null(check(NOW - 300, "EdgeNonce0000000a", NOW));
	cr_assert_null(check(NOW + 300, "EdgeNonce0000000b", NOW));
	/* Stale is decided before the nonce is remembered. */
	cr_assert_null(check(NOW, NONCE, NOW));
}

Test(decide, before_start_is_stale, .init = setup, .fini = teardown)
{
	/* After a restart the cache is empty; timestamps from before the
	 * start cannot be checked against it, so they are refused. */
	hl.start_s = NOW;
	cr_assert_str_eq(check(NOW, NONCE, NOW + 10), "stale");
	cr_assert_str_eq(check(NOW - 5, NONCE, NOW + 10), "stale");
	cr_assert_null(check(NOW + 1, NONCE, NOW + 10));
}

Test(decide, unknown_app, .init = setup, .fini = teardown)
{
	struct gw_hl_auth a = {"nobody", "1764122400", NONCE, VECTOR, "POST", PATH,
	                       (const uint8_t *)BODY, strlen(BODY)};

	cr_assert_str_eq(gw_hotline_verify(&hl, &a, NOW), "unknown_app");
	a.app_id = NULL;
	cr_assert_str_eq(gw_hotline_verify(&hl, &a, NOW), "unknown_app");
	a.app_id = "";
	cr_assert_str_eq(gw_hotline_verify(&hl, &a, NOW), "unknown_app");
}

Test(decide, bad_signature, .init = setup, .fini = teardown)
{
	struct gw_hl_auth a = {APP_ID, "1764122400", NONCE, VECTOR, "POST", PATH,
	                       (const uint8_t *)BODY, strlen(BODY)};
	char sig[65];

	/* The vector itself passes; uppercase hex too. */
	cr_assert_null(gw_hotline_verify(&hl, &a, NOW));
	a.nonce = "Nonce0123456789abcdeF";
	cr_assert_str_eq(gw_hotline_verify(&hl, &a, NOW), "bad_signature", "nonce is signed");
	a.nonce = NONCE;
	strcpy(sig, VECTOR);
	sig[10] = sig[10] == '0' ? '1' : '0';
	a.signature = sig;
	cr_assert_str_eq(gw_hotline_verify(&hl, &a, NOW), "bad_signature");
	a.signature = VECTOR "00";
	cr_assert_str_eq(gw_hotline_verify(&hl, &a, NOW), "bad_signature");
	a.signature = NULL;
	cr_assert_str_eq(gw_hotline_verify(&hl, &a, NOW), "bad_signature");
	a.signature = VECTOR;
	a.path = "/v1/hotline/orders";   /* the query is part of what is signed */
	cr_assert_str_eq(gw_hotline_verify(&hl, &a, NOW), "bad_signature");
	a.path = PATH;
	a.body = (const uint8_t *)"{\"order_no\":\"A2\"}";
	cr_assert_str_eq(gw_hotline_verify(&hl, &a, NOW), "bad_signature");
	a.body = (const uint8_t *)BODY;
	a.method = "PUT";
	cr_assert_str_eq(gw_hotline_verify(&hl, &a, NOW), "bad_signature");
	a.method = "POST";
	a.app_id = "other";   /* right signature, other app's secret */
	cr_assert_str_eq(gw_hotline_verify(&hl, &a, NOW), "bad_signature");
}

Test(decide, signature_hex_case, .init = setup, .fini = teardown)
{
	char up[65];
	struct gw_hl_auth a = {APP_ID, "1764122400", NONCE, up, "POST", PATH,
	                       (const uint8_t *)BODY, strlen(BODY)};

	for (int i = 0; i < 65; i++)
		up[i] = (char)(VECTOR[i] >= 'a' && VECTOR[i] <= 'f' ? VECTOR[i] - 32 : VECTOR[i]);
	cr_assert_null(gw_hotline_verify(&hl, &a, NOW));
}

Test(decide, nonce_shape, .init = setup, .fini = teardown)
{
	char n64[65], n65[66];

	cr_assert_str_eq(check(NOW, "short0123456789", NOW), "bad_signature");   /* 15 */
	cr_assert_null(check(NOW, "exact0123456789x", NOW));                     /* 16 */
	cr_assert_str_eq(check(NOW, "with-dash-0123456789", NOW), "bad_signature");
	memset(n64, 'a', 64), n64[64] = '\0';
	memset(n65, 'b', 65), n65[65] = '\0';
	cr_assert_null(check(NOW, n64, NOW));
	cr_assert_str_eq(check(NOW, n65, NOW), "bad_signature");
}

Test(decide, failed_checks_do_not_burn_the_nonce, .init = setup, .fini = teardown)
{
	struct gw_hl_auth a = {APP_ID, "1764122400", NONCE, VECTOR, "PUT", PATH,
	                       (const uint8_t *)BODY, strlen(BODY)};

	cr_assert_str_eq(gw_hotline_verify(&hl, &a, NOW), "bad_signature");
	cr_assert_eq(gw_nonces_count(&hl.nonces), 0);
	a.method = "POST";
	cr_assert_null(gw_hotline_verify(&hl, &a, NOW));
	cr_assert_eq(gw_nonces_count(&hl.nonces), 1);
}

Test(decide, precheck, .init = setup, .fini = teardown)
{
	cr_assert_null(gw_hotline_precheck(&hl, APP_ID, "1764122400", NOW));
	cr_assert_str_eq(gw_hotline_precheck(&hl, "x", "1764122400", NOW), "unknown_app");
	cr_assert_str_eq(gw_hotline_precheck(&hl, APP_ID, NULL, NOW), "stale");
	cr_assert_str_eq(gw_hotline_precheck(&hl, APP_ID, "", NOW), "stale");
	cr_assert_str_eq(gw_hotline_precheck(&hl, APP_ID, "17641224OO", NOW), "stale");
	cr_assert_str_eq(gw_hotline_precheck(&hl, APP_ID, "-1764122400", NOW), "stale");
	cr_assert_str_eq(gw_hotline_precheck(&hl, APP_ID, "1764122400.5", NOW), "stale");
	cr_assert_str_eq(gw_hotline_precheck(&hl, APP_ID, "9999999999999999999999", NOW), "stale");
}

Test(nonces, prune_by_time)
{
	struct gw_nonces n;

	cr_assert_eq(gw_nonces_init(&n, 4), PB_OK);
	cr_assert_eq(gw_nonces_add(&n, 0, "a", 0, 10), PB_OK);
	cr_assert_eq(gw_nonces_add(&n, 0, "b", 5, 10), PB_OK);
	cr_assert_eq(gw_nonces_add(&n, 1, "a", 5, 10), PB_OK, "per app");
	cr_assert_eq(gw_nonces_add(&n, 0, "a", 9, 10), PB_EREPLAY);
	cr_assert_eq(gw_nonces_count(&n), 3);
	/* At 10 "a" (kept until 10) goes, "b" stays. */
	cr_assert_eq(gw_nonces_add(&n, 0, "c", 10, 10), PB_OK);
	cr_assert_eq(gw_nonces_count(&n), 3);
	cr_assert_eq(gw_nonces_add(&n, 0, "a", 10, 10), PB_OK, "forgotten once expired");
	cr_assert_eq(gw_nonces_add(&n, 0, "b", 14, 10), PB_EREPLAY);
	cr_assert_eq(gw_nonces_add(&n, 0, "b", 15, 10), PB_OK);
	gw_nonces_fini(&n);
}

Test(nonces, full_refuses_rather_than_forgets)
{
	struct gw_nonces n;

	cr_assert_eq(gw_nonces_init(&n, 2), PB_OK);
	cr_assert_eq(gw_nonces_add(&n, 0, "a", 0, 10), PB_OK);
	cr_assert_eq(gw_nonces_add(&n, 0, "b", 0, 10), PB_OK);
	cr_assert_eq(gw_nonces_add(&n, 0, "c", 1, 10), PB_EFULL);
	cr_assert_eq(gw_nonces_add(&n, 0, "a", 1, 10), PB_EREPLAY, "still remembered");
	cr_assert_eq(gw_nonces_add(&n, 0, "c", 10, 10), PB_OK);
	gw_nonces_fini(&n);
}

Test(nonces, long_run_keeps_chains_consistent)
{
	struct gw_nonces n;
	char a[32], b[32];

	/* Few buckets, many entries: removals from the middle of chains. */
	cr_assert_eq(gw_nonces_init(&n, 4), PB_OK);
	for (int i = 0; i < 5000; i++) {
		snprintf(a, sizeof(a), "n%d", i);
		cr_assert_eq(gw_nonces_add(&n, i % 3, a, i, 3), PB_OK, "at %d", i);
		cr_assert_leq(gw_nonces_count(&n), 3);
		if (i > 0) {
			snprintf(b, sizeof(b), "n%d", i - 1);
			cr_assert_eq(gw_nonces_add(&n, (i - 1) % 3, b, i, 3), PB_EREPLAY, "at %d", i);
		}
	}
	gw_nonces_fini(&n);
}

static struct gw_nonces shared;

static void *adder(void *arg)
{
	char s[32];
	long t = (long)arg;

	for (int i = 0; i < 1000; i++) {
		snprintf(s, sizeof(s), "t%ld-%d", t, i);
		if (gw_nonces_add(&shared, 0, s, 100, 100) != PB_OK)
			return (void *)1;
	}
	return NULL;
}

Test(nonces, threads)
{
	pthread_t th[4];
	void *ret;

	cr_assert_eq(gw_nonces_init(&shared, 8192), PB_OK);
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, adder, (void *)i);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], &ret);
		cr_assert_null(ret);
	}
	cr_assert_eq(gw_nonces_count(&shared), 4000);
	gw_nonces_fini(&shared);
}

Test(secret, file_rules)
{
	uint8_t key[GW_APP_KEY_MAX];
	size_t len;
	char hex[200];

	memset(hex, 'a', sizeof(hex));
	cr_assert_eq(gw_hotline_secret_parse((const uint8_t *)"000102030405060708090a0B0c0d0e0f\n",
	                                     33, key, &len),
	             PB_OK);
	cr_assert_eq(len, 16);
	cr_assert_eq(key[11], 0x0b);
	cr_assert_eq(key[15], 0x0f);
	cr_assert_eq(gw_hotline_secret_parse((const uint8_t *)hex, 128, key, &len), PB_OK);
	cr_assert_eq(len, 64);
	cr_assert_eq(gw_hotline_secret_parse((const uint8_t *)hex, 30, key, &len), PB_EINVAL,
	             "15 bytes is too short");
	cr_assert_eq(gw_hotline_secret_parse((const uint8_t *)hex, 130, key, &len), PB_EINVAL,
	             "65 bytes is too long");
	cr_assert_eq(gw_hotline_secret_parse((const uint8_t *)hex, 33, key, &len), PB_EINVAL,
	             "odd digit count");
	hex[7] = 'g';
	cr_assert_eq(gw_hotline_secret_parse((const uint8_t *)hex, 32, key, &len), PB_EINVAL,
	             "not hex");
	cr_assert_eq(gw_hotline_secret_parse((const uint8_t *)"abcdefghijklmnop0123456789ABCDEF",
	                                     32, key, &len),
	             PB_EINVAL, "text is not taken as is");
}

Test(secret, load_apps)
{
	struct pb_conf *c = calloc(1, sizeof(*c));
	struct gw_hotline h;
	char err[256];

	test_conf(c, scratch_dir());
	struct gw_appset *set = NULL;

	cr_assert_eq(gw_hotline_init(&h, 300, 0, 16), PB_OK);
	cr_assert_eq(gw_hotline_load_apps(&h, c, &set, err, sizeof(err)), PB_OK, "%s", err);
	cr_assert_eq(set->napps, 1);
	cr_assert_str_eq(set->apps[0].id, APP_ID);
	cr_assert_eq(set->apps[0].keylen, 32);
	cr_assert_eq(atomic_load(&h.set)->napps, 0, "loaded, not yet running");
	gw_hotline_swap(&h, set, "hotline");
	cr_assert_eq(atomic_load(&h.set), set);
	gw_hotline_fini(&h);

	/* Open to others: refused, and the message says how to fix it. */
	cr_assert_eq(chmod(c->hotline_apps[0].secret_file, 0644), 0);
	cr_assert_eq(gw_hotline_init(&h, 300, 0, 16), PB_OK);
	cr_assert_eq(gw_hotline_load_apps(&h, c, &set, err, sizeof(err)), PB_EFORBIDDEN);
	cr_assert_null(set);
	cr_assert(strstr(err, c->hotline_apps[0].secret_file) && strstr(err, "chmod 600"), "%s", err);
	gw_hotline_fini(&h);

	snprintf(c->hotline_apps[0].secret_file, PB_PATH_MAX, "%s/missing", scratch_dir());
	cr_assert_eq(gw_hotline_init(&h, 300, 0, 16), PB_OK);
	cr_assert_neq(gw_hotline_load_apps(&h, c, &set, err, sizeof(err)), PB_OK);
	cr_assert(strstr(err, APP_ID), "%s", err);
	gw_hotline_fini(&h);
	free(c);
	scratch_remove();
}

/* A reload swaps the set: a new app is taken, a removed one refused, a
 * request that began with the old set still checks against it, and a
 * nonce seen before the reload is still a replay after it, though the
 * app's place in the list moved. */
Test(decide, reload_swaps_apps, .init = setup, .fini = teardown)
{
	static const char other_key[] = "fedcba9876543210fedcba9876543210";
	struct gw_appset *next = calloc(1, sizeof(*next));
	struct gw_hl_auth a;
	uint8_t mac[32];
	char sig[65];

	cr_assert_not_null(next);
	const struct gw_appset *before = atomic_load(&hl.set);
	cr_assert_null(check(NOW, NONCE, NOW));

	/* "new" first, APP_ID second, "other" gone. */
	memcpy(next->apps[0].id, "new", 4);
	memcpy(next->apps[0].key, other_key, 32);
	next->apps[0].keylen = 32;
	next->apps[0].tag = 7;
	next->apps[1] = before->apps[0];
	next->napps = 2;
	gw_hotline_swap(&hl, next, "hotline");

	cr_assert_str_eq(check(NOW, NONCE, NOW), "replay");
	cr_assert_null(check(NOW, NONCE "x", NOW));
	cr_assert_str_eq(gw_hotline_precheck(&hl, "other", "1764122400", NOW), "unknown_app");
	cr_assert_null(gw_hotline_precheck(&hl, "new", "1764122400", NOW));
	gw_hotline_sign((const uint8_t *)other_key, 32, "POST", PATH, "1764122400", NONCE,
	                (const uint8_t *)BODY, strlen(BODY), mac);
	sodium_bin2hex(sig, sizeof(sig), mac, sizeof(mac));
	a = (struct gw_hl_auth){.app_id = "new", .timestamp = "1764122400", .nonce = NONCE,
	                        .signature = sig, .method = "POST", .path = PATH,
	                        .body = (const uint8_t *)BODY, .body_len = strlen(BODY)};
	cr_assert_null(gw_hotline_verify(&hl, &a, NOW));
	/* The replaced set is kept for requests that still hold it. */
	cr_assert_eq(next->older, before);
	cr_assert_str_eq(before->apps[0].id, APP_ID);
}
