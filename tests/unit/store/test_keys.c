/* Key files, the signed-note public key, sealing personal data, content
 * hashes. */
#include "helpers.h"
#include "pb_err.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(keys, .init = fx_setup_dir, .fini = fx_teardown);

/* golang.org/x/mod/sumdb/note's test key pair. */
static const char peter_vkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char peter_skey_data[] = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0600), 0);   /* keys are refused when others may read them */
}

static void read_text(const char *path, char *buf, size_t max)
{
	size_t len;

	cr_assert_eq(pb_read_file(path, (uint8_t *)buf, max - 1, &len), PB_OK);
	buf[len] = '\0';
}

static void pub_of(char *buf, size_t len)
{
	snprintf(buf, len, "%s/keys/store.pub", fx.dir);
}

Test(keys, created_then_loaded)
{
	struct st_keys k1, k2;
	char pub[700], name[128];
	uint8_t pk[32], id[4];
	struct stat sb;
	int created;

	cr_assert_eq(st_keys_load_or_create(&fx.conf, &k1, &created), PB_OK);
	cr_assert_eq(created, 1);
	cr_assert_eq(stat(fx.conf.signing_key, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600);
	cr_assert_eq(stat(fx.conf.data_key, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600);
	pub_of(pub, sizeof(pub));
	cr_assert_eq(stat(pub, &sb), 0);
	cr_assert_eq(sb.st_mode & 0022, 0, "public, but not writable by others");

	cr_assert_eq(st_keys_load_or_create(&fx.conf, &k2, &created), PB_OK);
	cr_assert_eq(created, 0);
	cr_assert_arr_eq(k1.sign_sk, k2.sign_sk, 64);
	cr_assert_arr_eq(k1.sign_pk, k2.sign_pk, 32);
	cr_assert_arr_eq(k1.sign_sk + 32, k1.sign_pk, 32);
	cr_assert_arr_eq(k1.data_key, k2.data_key, 32);
	cr_assert_str_eq(k1.key_name, "mailroom.test/log");
	st_key_id(k1.key_name, k1.sign_pk, id);
	cr_assert_arr_eq(k1.key_id, id, 4);

	cr_assert_eq(st_pubkey_load(pub, name, sizeof(name), pk), PB_OK);
	cr_assert_str_eq(name, "mailroom.test/log");
	cr_assert_arr_eq(pk, k1.sign_pk, 32);
}

/* Against the reference implementation's published key: our key id and
 * our public key file must be what a signed-note verifier expects. */
Test(keys, signed_note_vector)
{
	uint8_t raw[33];
	size_t rawlen;
	char hex[80], text[200], pub[700], name[64];
	uint8_t pk[32];
	struct st_keys k;
	int created;

	cr_assert_eq(sodium_init() >= 0, 1);
	cr_assert_eq(sodium_base642bin(raw, sizeof(raw), peter_skey_data, strlen(peter_skey_data),
	                               NULL, &rawlen, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	cr_assert_eq(rawlen, 33);
	cr_assert_eq(raw[0], 1);
	sodium_bin2hex(hex, sizeof(hex), raw + 1, 32);
	cr_assert_eq(mkdir(fx.conf.keys_dir, 0700), 0);
	write_file(fx.conf.signing_key, hex);
	strcpy(fx.conf.log_origin, "PeterNeumann");

	cr_assert_eq(st_keys_load_or_create(&fx.conf, &k, &created), PB_OK);
	cr_assert_eq(created, 1, "the data key was new");
	pub_of(pub, sizeof(pub));
	read_text(pub, text, sizeof(text));
	cr_assert_eq(strncmp(text, peter_vkey, strlen(peter_vkey)), 0, "wrote %s", text);
	cr_assert_str_eq(text + strlen(peter_vkey), "\n");
	cr_assert_eq(k.key_id[0], 0xc7);
	cr_assert_eq(k.key_id[3], 0xa3);

	/* and the other key of the vector set, read back */
	write_file(pub, "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop\n");
	cr_assert_eq(st_pubkey_load(pub, name, sizeof(name), pk), PB_OK);
	cr_assert_str_eq(name, "EnochRoot");
}

Test(keys, pub_path_without_key_suffix)
{
	struct st_keys k;
	char pub[700];
	struct stat sb;
	int created;

	snprintf(fx.conf.signing_key, sizeof(fx.conf.signing_key), "%s/keys/signing", fx.dir);
	cr_assert_eq(st_keys_load_or_create(&fx.conf, &k, &created), PB_OK);
	snprintf(pub, sizeof(pub), "%s/keys/signing.pub", fx.dir);
	cr_assert_eq(stat(pub, &sb), 0);
}

Test(keys, stale_pub_file_is_refused)
{
	struct st_keys k;
	char pub[700];
	int created;

	cr_assert_eq(mkdir(fx.conf.keys_dir, 0700), 0);
	pub_of(pub, sizeof(pub));
	write_file(pub, peter_vkey);
	cr_assert_eq(st_keys_load_or_create(&fx.conf, &k, &created), PB_EAUTH);
	/* a changed log_origin no longer matches the file either */
	cr_assert_eq(unlink(pub), 0);
	cr_assert_eq(st_keys_load_or_create(&fx.conf, &k, &created), PB_OK);
	strcpy(fx.conf.log_origin, "other.example/log");
	cr_assert_eq(st_keys_load_or_create(&fx.conf, &k, &created), PB_EAUTH);
}

Test(keys, bad_key_names)
{
	struct st_keys k;
	int created;

	strcpy(fx.conf.log_origin, "a+b");
	cr_assert_eq(st_keys_load_or_create(&fx.conf, &k, &created), PB_EINVAL);
	strcpy(fx.conf.log_origin, "a b");
	cr_assert_eq(st_keys_load_or_create(&fx.conf, &k, &created), PB_EINVAL);
	fx.conf.log_origin[0] = '\0';
	cr_assert_eq(st_keys_load_or_create(&fx.conf, &k, &created), PB_EINVAL);
}

/* Each secret the store reads is refused while group or others may access
 * it, and read once it is 0600. */
Test(keys, secrets_open_to_others_are_refused)
{
	struct st_keys k;
	int created;
	static const mode_t modes[] = {0644, 0640, 0604, 0620, 0602, 0660};

	cr_assert_eq(mkdir(fx.conf.keys_dir, 0700), 0);
	cr_assert_eq(st_keys_load_or_create(&fx.conf, &k, &created), PB_OK);
	cr_assert_eq(created, 1);
	for (int which = 0; which < 2; which++) {
		const char *path = which ? fx.conf.data_key : fx.conf.signing_key;
		for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
			cr_assert_eq(chmod(path, modes[i]), 0);
			cr_expect_eq(st_keys_load_or_create(&fx.conf, &k, &created), PB_EFORBIDDEN,
			             "%s at %04o was read", path, (unsigned)modes[i]);
		}
		cr_assert_eq(chmod(path, 0600), 0);
		cr_assert_eq(st_keys_load_or_create(&fx.conf, &k, &created), PB_OK);
		cr_expect_eq(created, 0);
	}
	/* The previous signing key too. */
	uint8_t pk[32];
	cr_assert_lt(strlen(fx.conf.keys_dir) + 8, sizeof(fx.conf.previous_signing_key));
	memcpy(fx.conf.previous_signing_key, fx.conf.keys_dir, strlen(fx.conf.keys_dir));
	strcpy(fx.conf.previous_signing_key + strlen(fx.conf.keys_dir), "/old.key");
	cr_assert_eq(st_signing_key_create(fx.conf.previous_signing_key, fx.conf.log_origin, pk),
	             PB_OK);
	cr_assert_eq(st_keys_load_or_create(&fx.conf, &k, &created), PB_OK);
	cr_assert_eq(chmod(fx.conf.previous_signing_key, 0644), 0);
	cr_expect_eq(st_keys_load_or_create(&fx.conf, &k, &created), PB_EFORBIDDEN);
}

Test(keys, corrupt_key_file)
{
	struct st_keys k;
	int created;

	cr_assert_eq(mkdir(fx.conf.keys_dir, 0700), 0);
	write_file(fx.conf.signing_key, "not hex\n");
	cr_assert_eq(st_keys_load_or_create(&fx.conf, &k, &created), PB_ECORRUPT);
}

Test(keys, pubkey_parse_errors)
{
	char path[700], name[64], small[5];
	uint8_t pk[32];

	snprintf(path, sizeof(path), "%s/k.pub", fx.dir);
	cr_assert_eq(st_pubkey_load(path, name, sizeof(name), pk), PB_ENOTFOUND);
	write_file(path, "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n");
	cr_assert_eq(st_pubkey_load(path, name, sizeof(name), pk), PB_ECORRUPT, "key id mismatch");
	write_file(path, "PeterNeumann+c74f20a3+AhpC2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n");
	cr_assert_eq(st_pubkey_load(path, name, sizeof(name), pk), PB_EINVAL, "algorithm byte");
	write_file(path, "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq\n");
	cr_assert_eq(st_pubkey_load(path, name, sizeof(name), pk), PB_EINVAL, "short key");
	write_file(path, "PeterNeumann+c74f20a3\n");
	cr_assert_eq(st_pubkey_load(path, name, sizeof(name), pk), PB_EINVAL);
	write_file(path, "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n");
	cr_assert_eq(st_pubkey_load(path, name, sizeof(name), pk), PB_EINVAL);
	write_file(path, peter_vkey);
	cr_assert_eq(st_pubkey_load(path, small, sizeof(small), pk), PB_ETOOBIG);
	cr_assert_eq(st_pubkey_load(path, name, sizeof(name), pk), PB_OK, "newline optional");
}

static st_env *open_with_keys(struct st_keys *k)
{
	st_env *e;
	int created;

	cr_assert_eq(st_keys_load_or_create(&fx.conf, k, &created), PB_OK);
	cr_assert_eq(st_open(fx.store, 4, 0, k, &e), PB_OK);
	return e;
}

Test(keys, seal_round_trip)
{
	static const char text[] = "{\"name\":\"张三\",\"phone\":\"13800000000\"}";
	uint8_t *a, *b, *plain;
	size_t alen, blen, plen;
	struct st_keys k;

	fx.env = open_with_keys(&k);
	cr_assert_eq(st_seal(fx.env, (const uint8_t *)text, strlen(text), &a, &alen), PB_OK);
	cr_assert_eq(alen, strlen(text) + 40);
	cr_assert_eq(st_seal(fx.env, (const uint8_t *)text, strlen(text), &b, &blen), PB_OK);
	cr_assert_neq(memcmp(a, b, 24), 0, "fresh nonce every time");
	cr_assert_eq(st_unseal(fx.env, a, alen, &plain, &plen), PB_OK);
	cr_assert_eq(plen, strlen(text));
	cr_assert_eq(memcmp(plain, text, plen), 0);
	free(plain);

	for (size_t i = 0; i < alen; i += 7) {
		a[i] ^= 0x80;
		cr_assert_eq(st_unseal(fx.env, a, alen, &plain, &plen), PB_ECORRUPT, "byte %zu", i);
		cr_assert_null(plain);
		a[i] ^= 0x80;
	}
	cr_assert_eq(st_unseal(fx.env, a, 39, &plain, &plen), PB_ECORRUPT);
	cr_assert_eq(st_unseal(fx.env, a, 0, &plain, &plen), PB_ECORRUPT);
	cr_assert_eq(st_unseal(fx.env, a, alen - 1, &plain, &plen), PB_ECORRUPT);
	free(a);
	free(b);

	cr_assert_eq(st_seal(fx.env, NULL, 0, &a, &alen), PB_OK);
	cr_assert_eq(alen, 40);
	cr_assert_eq(st_unseal(fx.env, a, alen, &plain, &plen), PB_OK);
	cr_assert_eq(plen, 0);
	free(plain);
	free(a);
}

Test(keys, seal_needs_the_data_key)
{
	uint8_t *out, *plain;
	size_t outlen, plen;
	struct st_keys k, other;
	st_env *e;

	fx.env = open_with_keys(&k);
	cr_assert_eq(st_seal(fx.env, (const uint8_t *)"x", 1, &out, &outlen), PB_OK);
	st_close(fx.env);
	fx.env = NULL;

	/* another data key cannot open it */
	other = k;
	randombytes_buf(other.data_key, sizeof(other.data_key));
	cr_assert_eq(st_open(fx.store, 4, 0, &other, &e), PB_OK);
	cr_assert_eq(st_unseal(e, out, outlen, &plain, &plen), PB_ECORRUPT);
	st_close(e);

	/* read-only opens hold no keys */
	cr_assert_eq(st_open(fx.store, 0, 1, NULL, &fx.env), PB_OK);
	cr_assert_eq(st_unseal(fx.env, out, outlen, &plain, &plen), PB_EINVAL);
	cr_assert_eq(st_seal(fx.env, (const uint8_t *)"x", 1, &plain, &plen), PB_EINVAL);
	free(out);
}

Test(keys, content_hash_is_keyed)
{
	uint8_t s1[16], s2[16], h1[32], h2[32], h3[32], want[32];
	static const char text[] = "已转交城管局处理";

	cr_assert_eq(sodium_init() >= 0, 1);
	memset(s1, 1, sizeof(s1));
	memset(s2, 2, sizeof(s2));
	st_content_hash(s1, text, strlen(text), h1);
	st_content_hash(s2, text, strlen(text), h2);
	st_content_hash(s1, text, strlen(text) - 1, h3);
	cr_assert_neq(memcmp(h1, h2, 32), 0, "salt changes the hash");
	cr_assert_neq(memcmp(h1, h3, 32), 0, "text changes the hash");
	crypto_generichash(want, 32, (const uint8_t *)text, strlen(text), s1, 16);
	cr_assert_arr_eq(h1, want, 32, "BLAKE2b-256 keyed by the salt");
	st_content_hash(s1, text, strlen(text), h2);
	cr_assert_arr_eq(h1, h2, 32);
}
