/* The wk_ client library: key files, lease-token state, exit codes. */
#include "helpers.h"
#include "pb_err.h"
#include "wk.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(wk_key, .init = tdir_setup, .fini = tdir_teardown);
TestSuite(wk_state, .init = tdir_setup, .fini = tdir_teardown);
TestSuite(wk_exit, .init = tdir_setup, .fini = tdir_teardown);

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

Test(wk_key, create_then_load_round_trip)
{
	uint8_t pk[32], pk2[32], sk[64];
	struct stat st;
	char text[128] = {0};
	FILE *f;
	int loose = -1;

	cr_assert_eq(wk_key_create(tpath("h.key"), pk), PB_OK);
	cr_assert_eq(stat(tpath("h.key"), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	f = fopen(tpath("h.key"), "r");
	cr_assert_not_null(f);
	cr_assert_eq(fread(text, 1, sizeof(text) - 1, f), 65);
	fclose(f);
	cr_assert_eq(text[64], '\n');
	for (int i = 0; i < 64; i++)
		cr_assert(strchr("0123456789abcdef", text[i]), "not hex at %d", i);

	cr_assert_eq(wk_key_load(tpath("h.key"), sk, pk2, &loose), PB_OK);
	cr_assert_eq(loose, 0);
	cr_assert_arr_eq(pk, pk2, 32);
	cr_assert_arr_eq(sk + 32, pk, 32, "libsodium layout: seed then public key");

	/* The pair signs and verifies. */
	uint8_t sig[64];
	crypto_sign_detached(sig, NULL, (const uint8_t *)"x", 1, sk);
	cr_assert_eq(crypto_sign_verify_detached(sig, (const uint8_t *)"x", 1, pk), 0);
}

Test(wk_key, seed_derives_known_key)
{
	uint8_t seed[32], pk[32], sk[64], want_pk[32], want_sk[64];
	char hex[66];

	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	crypto_sign_seed_keypair(want_pk, want_sk, seed);
	pb_hex(seed, 32, hex);
	strcat(hex, "\n");
	write_file(tpath("k"), hex, 0600);
	cr_assert_eq(wk_key_load(tpath("k"), sk, pk, NULL), PB_OK);
	cr_assert_arr_eq(pk, want_pk, 32);
	cr_assert_arr_eq(sk, want_sk, 64);
}

Test(wk_key, refuses_to_overwrite)
{
	uint8_t pk[32], pk2[32], sk[64];

	cr_assert_eq(wk_key_create(tpath("h.key"), pk), PB_OK);
	cr_assert_eq(wk_key_create(tpath("h.key"), pk2), PB_EEXIST);
	cr_assert_eq(wk_key_load(tpath("h.key"), sk, pk2, NULL), PB_OK);
	cr_assert_arr_eq(pk, pk2, 32, "the first key is still there");

	write_file(tpath("other"), "anything", 0644);
	cr_assert_eq(wk_key_create(tpath("other"), pk), PB_EEXIST);
	cr_assert_eq(wk_key_create(tpath("no/such/dir/k"), pk), PB_ENOTFOUND);
}

Test(wk_key, bad_files)
{
	uint8_t pk[32], sk[64];
	int loose = 0;

	cr_assert_eq(wk_key_load(tpath("missing"), sk, pk, NULL), PB_ENOTFOUND);
	write_file(tpath("short"), "abcd\n", 0600);
	cr_assert_eq(wk_key_load(tpath("short"), sk, pk, NULL), PB_EINVAL);
	write_file(tpath("nothex"),
	           "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600);
	cr_assert_eq(wk_key_load(tpath("nothex"), sk, pk, NULL), PB_EINVAL);
	write_file(tpath("long"),
	           "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	           "000102030405060708090a0b0c0d0e0f\n",
	           0600);
	cr_assert_eq(wk_key_load(tpath("long"), sk, pk, NULL), PB_EINVAL);
	write_file(tpath("open"),
	           "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0644);
	cr_assert_eq(wk_key_load(tpath("open"), sk, pk, &loose), PB_OK, "newline is optional");
	cr_assert_eq(loose, 1);
}

/* ---- lease state ---- */

static void some_id(uint8_t id[16], int n)
{
	pb_id_new(1764000000000 + n, id);
}

Test(wk_state, default_dir_is_beside_the_key)
{
	struct wk_state s;

	cr_assert_eq(wk_state_init(&s, "keys/alice.key", NULL), PB_OK);
	cr_assert_str_eq(s.dir, "keys/alice.key.leases");
	cr_assert_eq(wk_state_init(&s, "keys/alice.key", ""), PB_OK);
	cr_assert_str_eq(s.dir, "keys/alice.key.leases");
	cr_assert_eq(wk_state_init(&s, "keys/alice.key", "state/x"), PB_OK);
	cr_assert_str_eq(s.dir, "state/x");
	cr_assert_eq(wk_state_init(&s, NULL, NULL), PB_EINVAL);

	char longp[PB_PATH_MAX + 10];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	cr_assert_eq(wk_state_init(&s, longp, NULL), PB_EINVAL);
}

Test(wk_state, save_load_forget)
{
	struct wk_state s;
	uint8_t id[16], id2[16], tok[16], got[WK_TOKEN_MAX];
	char idt[PB_ID_TEXT_LEN + 1], path[600], text[64] = {0};
	struct stat st;
	size_t len = 0;
	FILE *f;

	some_id(id, 1);
	some_id(id2, 2);
	randombytes_buf(tok, sizeof(tok));
	cr_assert_eq(wk_state_init(&s, tpath("alice.key"), NULL), PB_OK);
	cr_assert_eq(wk_lease_load(&s, id, got, sizeof(got), &len), PB_ENOTFOUND);
	cr_assert_eq(wk_lease_save(&s, id, tok, sizeof(tok)), PB_OK);

	cr_assert_eq(stat(tpath("alice.key.leases"), &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0700);
	pb_id_to_text(id, idt);
	snprintf(path, sizeof(path), "%s/%s", s.dir, idt);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_eq(fread(text, 1, sizeof(text) - 1, f), 33);
	fclose(f);
	char want[34];
	pb_hex(tok, sizeof(tok), want);
	strcat(want, "\n");
	cr_assert_str_eq(text, want);

	cr_assert_eq(wk_lease_load(&s, id, got, sizeof(got), &len), PB_OK);
	cr_assert_eq(len, sizeof(tok));
	cr_assert_arr_eq(got, tok, sizeof(tok));
	cr_assert_eq(wk_lease_load(&s, id2, got, sizeof(got), &len), PB_ENOTFOUND);

	/* A newer token replaces the old one. */
	tok[0] ^= 0xff;
	cr_assert_eq(wk_lease_save(&s, id, tok, 8), PB_OK);
	cr_assert_eq(wk_lease_load(&s, id, got, sizeof(got), &len), PB_OK);
	cr_assert_eq(len, 8);
	cr_assert_arr_eq(got, tok, 8);

	cr_assert_eq(wk_lease_forget(&s, id), PB_OK);
	cr_assert_eq(wk_lease_load(&s, id, got, sizeof(got), &len), PB_ENOTFOUND);
	cr_assert_eq(access(path, F_OK), -1);
	cr_assert_eq(wk_lease_forget(&s, id), PB_OK, "forgetting twice is fine");
}

Test(wk_state, override_dir)
{
	struct wk_state a, b;
	uint8_t id[16], tok[4] = {1, 2, 3, 4}, got[WK_TOKEN_MAX];
	size_t len;

	some_id(id, 3);
	cr_assert_eq(wk_state_init(&a, tpath("alice.key"), tpath("elsewhere/leases")), PB_OK);
	cr_assert_eq(wk_state_init(&b, tpath("alice.key"), NULL), PB_OK);
	cr_assert_eq(wk_lease_save(&a, id, tok, sizeof(tok)), PB_OK);
	cr_assert_eq(access(tpath("elsewhere/leases"), F_OK), 0);
	cr_assert_eq(access(tpath("alice.key.leases"), F_OK), -1);
	cr_assert_eq(wk_lease_load(&b, id, got, sizeof(got), &len), PB_ENOTFOUND);
	cr_assert_eq(wk_lease_load(&a, id, got, sizeof(got), &len), PB_OK);
	cr_assert_arr_eq(got, tok, sizeof(tok));
}

Test(wk_state, bad_tokens)
{
	struct wk_state s;
	uint8_t id[16], tok[WK_TOKEN_MAX + 1] = {0}, got[WK_TOKEN_MAX];
	char idt[PB_ID_TEXT_LEN + 1], path[600];
	size_t len;

	some_id(id, 4);
	cr_assert_eq(wk_state_init(&s, tpath("k"), NULL), PB_OK);
	cr_assert_eq(wk_lease_save(&s, id, tok, 0), PB_EINVAL);
	cr_assert_eq(wk_lease_save(&s, id, tok, WK_TOKEN_MAX + 1), PB_EINVAL);
	cr_assert_eq(wk_lease_save(&s, id, tok, WK_TOKEN_MAX), PB_OK);
	cr_assert_eq(wk_lease_load(&s, id, got, 8, &len), PB_ECORRUPT,
	             "longer than the caller's buffer");

	pb_id_to_text(id, idt);
	snprintf(path, sizeof(path), "%s/%s", s.dir, idt);
	write_file(path, "xyz\n", 0600);
	cr_assert_eq(wk_lease_load(&s, id, got, sizeof(got), &len), PB_ECORRUPT);
	write_file(path, "\n", 0600);
	cr_assert_eq(wk_lease_load(&s, id, got, sizeof(got), &len), PB_ECORRUPT);
}

/* ---- exit codes ---- */

Test(wk_exit, every_pb_err_has_its_code)
{
	static const int want[PB_ERR_COUNT] = {
		[PB_OK] = WK_EXIT_OK,
		[PB_EINVAL] = WK_EXIT_INVALID,
		[PB_ENOMEM] = WK_EXIT_OTHER,
		[PB_EIO] = WK_EXIT_OTHER,
		[PB_ENOTFOUND] = WK_EXIT_NOTFOUND,
		[PB_EEXIST] = WK_EXIT_CONFLICT,
		[PB_EAUTH] = WK_EXIT_AUTH,
		[PB_ESTALE] = WK_EXIT_AUTH,
		[PB_EREPLAY] = WK_EXIT_AUTH,
		[PB_EFORBIDDEN] = WK_EXIT_AUTH,
		[PB_ELEASE] = WK_EXIT_LEASE,
		[PB_ESTATE] = WK_EXIT_CONFLICT,
		[PB_EFULL] = WK_EXIT_OTHER,
		[PB_EUNAVAIL] = WK_EXIT_UNREACHABLE,
		[PB_ECORRUPT] = WK_EXIT_OTHER,
		[PB_ETOOBIG] = WK_EXIT_INVALID,
		[PB_ELIMIT] = WK_EXIT_INVALID,
	};

	for (int e = 0; e < PB_ERR_COUNT; e++)
		cr_expect_eq(wk_exit_code(e), want[e], "%s", pb_err_name(e));
	cr_expect_eq(wk_exit_code(PB_ERR_COUNT), WK_EXIT_OTHER, "codes newer than the tool");
	cr_expect_eq(wk_exit_code(-1), WK_EXIT_OTHER);
	cr_expect_eq(wk_exit_code(1000), WK_EXIT_OTHER);
}

Test(wk_exit, unreachable_router)
{
	struct wk_client c;
	char url[600];

	snprintf(url, sizeof(url), "ipc://%s", tpath("nobody.ipc"));
	cr_assert_eq(wk_client_open(&c, url), PB_EUNAVAIL);
	cr_assert(strstr(c.err, "cannot reach router"), "%s", c.err);
	cr_assert_eq(wk_client_open(&c, "nosuch://x"), PB_EINVAL);
}
