/* The store's keys: the Ed25519 log key (with its signed-note public key
 * file), the secretbox key for personal data, and content hashes. */
#include "st_int.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEAL_OVERHEAD (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
#define ALG_ED25519 0x01   /* signed-note signature type byte */
#define PUB_MAX 512

void st_key_id(const char *name, const uint8_t pk[32], uint8_t id[ST_KEYID_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];
	const uint8_t sep[2] = {'\n', ALG_ED25519};

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
	crypto_hash_sha256_update(&st, sep, sizeof(sep));
	crypto_hash_sha256_update(&st, pk, 32);
	crypto_hash_sha256_final(&st, h);
	memcpy(id, h, ST_KEYID_LEN);
}

void st_key_label(const char *name, const uint8_t pk[32], char *buf, size_t len)
{
	uint8_t id[ST_KEYID_LEN];
	char hex[2 * ST_KEYID_LEN + 1];

	st_key_id(name, pk, id);
	pb_hex(id, sizeof(id), hex);
	snprintf(buf, len, "%.127s+%s", name, hex);
}

/* Signed-note key names: non-empty, no '+', no spaces or control bytes. */
static int valid_key_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max)
		return 0;
	for (; *s; s++)
		if (*s == '+' || (unsigned char)*s <= ' ' || *s == 0x7f)
			return 0;
	return 1;
}

/* "<name>+<key id hex>+<base64(0x01 || pk)>\n" into buf. */
static int pub_format(const char *name, const uint8_t pk[32], char *buf, size_t len,
                      size_t *outlen)
{
	uint8_t id[ST_KEYID_LEN], raw[33];
	char hex[2 * ST_KEYID_LEN + 1];
	char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
	int n;

	st_key_id(name, pk, id);
	pb_hex(id, sizeof(id), hex);
	raw[0] = ALG_ED25519;
	memcpy(raw + 1, pk, 32);
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(buf, len, "%s+%s+%s\n", name, hex, b64);
	if (n < 0 || (size_t)n >= len)
		return PB_ETOOBIG;
	*outlen = (size_t)n;
	return PB_OK;
}

/* signing_key with ".key" replaced by ".pub", or with ".pub" added. */
static int pub_path(const char *key_path, char *buf, size_t len)
{
	size_t n = strlen(key_path);

	if (n > 4 && strcmp(key_path + n - 4, ".key") == 0)
		n -= 4;
	if (n + 5 > len)
		return PB_EINVAL;
	memcpy(buf, key_path, n);
	memcpy(buf + n, ".pub", 5);
	return PB_OK;
}

static int write_new(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0)
		return errno == EEXIST ? PB_EEXIST : PB_EIO;
	ssize_t w = write(fd, text, len);
	int ok = w == (ssize_t)len && fsync(fd) == 0;
	close(fd);
	if (!ok) {
		unlink(path);
		return PB_EIO;
	}
	return PB_OK;
}

/* Writes the public key file if absent; an existing one must agree, since
 * auditors take their trust from it. */
static int ensure_pub(const char *key_path, const struct st_keys *k)
{
	char path[PB_PATH_MAX], text[PUB_MAX], name[sizeof(k->key_name)];
	uint8_t pk[32];
	size_t n;
	int rc;

	if ((rc = pub_path(key_path, path, sizeof(path))) ||
	    (rc = pub_format(k->key_name, k->sign_pk, text, sizeof(text), &n)))
		return rc;
	rc = write_new(path, text, n);
	if (rc != PB_EEXIST)
		return rc;
	if ((rc = st_pubkey_load(path, name, sizeof(name), pk))) {
		pb_error("store: %s: unreadable public key file", path);
		return rc;
	}
	if (strcmp(name, k->key_name) != 0 || memcmp(pk, k->sign_pk, 32) != 0) {
		pb_error("store: %s names another key than %s", path, key_path);
		return PB_EAUTH;
	}
	return PB_OK;
}

/* previous_signing_key: only read, never made; a rotation needs the key
 * the log is signed with now, and a fresh one would prove nothing. */
static int load_prev(const char *path, struct st_keys *k)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	int rc = pb_secret_load(path, seed, sizeof(seed));

	if (rc == PB_ENOTFOUND)
		pb_error("store: previous_signing_key %s does not exist", path);
	else if (rc)
		pb_error("store: previous_signing_key %s is not a signing key file", path);
	if (rc)
		return rc;
	rc = crypto_sign_seed_keypair(k->prev_pk, k->prev_sk, seed) == 0 ? PB_OK : PB_EIO;
	sodium_memzero(seed, sizeof(seed));
	if (rc)
		return rc;
	if (memcmp(k->prev_pk, k->sign_pk, 32) == 0) {
		pb_error("store: previous_signing_key %s is the signing_key itself", path);
		return PB_EINVAL;
	}
	st_key_id(k->key_name, k->prev_pk, k->prev_key_id);
	k->has_prev = 1;
	return PB_OK;
}

int st_keys_load_or_create(const struct pb_conf *c, struct st_keys *k, int *created)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	int c1 = 0, c2 = 0, rc;

	*created = 0;
	memset(k, 0, sizeof(*k));
	if (sodium_init() < 0)
		return PB_EIO;
	if (!valid_key_name(c->log_origin, sizeof(k->key_name))) {
		pb_error("store: log_origin '%s' is not a usable key name", c->log_origin);
		return PB_EINVAL;
	}
	memcpy(k->key_name, c->log_origin, strlen(c->log_origin) + 1);
	if ((rc = pb_secret_load_or_create(c->signing_key, seed, sizeof(seed), &c1)))
		goto fail;
	rc = crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, seed) == 0 ? PB_OK : PB_EIO;
	sodium_memzero(seed, sizeof(seed));
	if (rc)
		goto fail;
	st_key_id(k->key_name, k->sign_pk, k->key_id);
	if ((rc = pb_secret_load_or_create(c->data_key, k->data_key, sizeof(k->data_key), &c2)))
		goto fail;
	if ((rc = ensure_pub(c->signing_key, k)))
		goto fail;
	if (c->previous_signing_key[0] && (rc = load_prev(c->previous_signing_key, k)))
		goto fail;
	*created = c1 || c2;
	return PB_OK;
fail:
	sodium_memzero(k, sizeof(*k));
	return rc;
}

int st_signing_key_create(const char *path, const char *name, uint8_t pk[32])
{
	uint8_t seed[crypto_sign_SEEDBYTES], sk[64];
	char pub[PB_PATH_MAX], text[PUB_MAX];
	size_t n;
	int created, rc;

	if (sodium_init() < 0)
		return PB_EIO;
	if (!valid_key_name(name, sizeof(((struct st_keys *)0)->key_name)))
		return PB_EINVAL;
	if ((rc = pub_path(path, pub, sizeof(pub))))
		return rc;
	/* Both files are new, or nothing is written: a key file is never
	 * replaced, and a stale .pub must not pass for the new key's. */
	if (access(path, F_OK) == 0 || access(pub, F_OK) == 0)
		return PB_EEXIST;
	if ((rc = pb_secret_load_or_create(path, seed, sizeof(seed), &created)))
		return rc;
	if (!created) {
		/* Made by someone else meanwhile: theirs, not ours. */
		sodium_memzero(seed, sizeof(seed));
		return PB_EEXIST;
	}
	rc = crypto_sign_seed_keypair(pk, sk, seed) == 0 ? PB_OK : PB_EIO;
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	if (rc == PB_OK && (rc = pub_format(name, pk, text, sizeof(text), &n)) == PB_OK)
		rc = write_new(pub, text, n);
	if (rc)
		unlink(path);
	return rc;
}

int st_pubkey_load(const char *path, char *name, size_t namelen, uint8_t pk[32])
{
	char text[PUB_MAX + 1], *p1, *p2;
	uint8_t raw[33], id[ST_KEYID_LEN], want[ST_KEYID_LEN];
	size_t len, rawlen;
	int rc;

	if ((rc = pb_read_file(path, (uint8_t *)text, PUB_MAX, &len)))
		return rc;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	text[len] = '\0';
	if (strlen(text) != len)
		return PB_EINVAL;   /* a NUL inside */
	if (!(p1 = strchr(text, '+')) || !(p2 = strchr(p1 + 1, '+')))
		return PB_EINVAL;
	*p1++ = '\0';
	*p2++ = '\0';
	if (!valid_key_name(text, namelen))
		return (text[0] && strlen(text) >= namelen) ? PB_ETOOBIG : PB_EINVAL;
	if (pb_unhex(p1, id, sizeof(id)))
		return PB_EINVAL;
	if (sodium_base642bin(raw, sizeof(raw), p2, strlen(p2), NULL, &rawlen, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    rawlen != sizeof(raw) || raw[0] != ALG_ED25519)
		return PB_EINVAL;
	if (!crypto_core_ed25519_is_valid_point(raw + 1))
		return PB_EINVAL;
	st_key_id(text, raw + 1, want);
	if (memcmp(id, want, sizeof(id)) != 0)
		return PB_ECORRUPT;
	memcpy(name, text, strlen(text) + 1);
	memcpy(pk, raw + 1, 32);
	return PB_OK;
}

/* ---- personal data ---- */

int st_seal(const st_env *env, const uint8_t *plain, size_t len, uint8_t **out, size_t *outlen)
{
	static const uint8_t empty[1];
	uint8_t *buf;

	*out = NULL;
	*outlen = 0;
	if (!env || !env->has_keys || (!plain && len))
		return PB_EINVAL;
	if (len > SIZE_MAX - SEAL_OVERHEAD)
		return PB_ETOOBIG;
	if (!(buf = malloc(len + SEAL_OVERHEAD)))
		return PB_ENOMEM;
	randombytes_buf(buf, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(buf + crypto_secretbox_NONCEBYTES, plain ? plain : empty, len, buf,
	                      env->keys.data_key);
	*out = buf;
	*outlen = len + SEAL_OVERHEAD;
	return PB_OK;
}

int st_unseal(const st_env *env, const uint8_t *sealed, size_t len, uint8_t **out, size_t *outlen)
{
	uint8_t *buf;
	size_t plen;

	*out = NULL;
	*outlen = 0;
	if (!env || !(env->has_keys || env->has_data_key) || (!sealed && len))
		return PB_EINVAL;
	if (len < SEAL_OVERHEAD)
		return PB_ECORRUPT;
	plen = len - SEAL_OVERHEAD;
	/* One spare byte: callers may NUL-terminate text, and malloc(0) is odd. */
	if (!(buf = malloc(plen + 1)))
		return PB_ENOMEM;
	if (crypto_secretbox_open_easy(buf, sealed + crypto_secretbox_NONCEBYTES,
	                               len - crypto_secretbox_NONCEBYTES, sealed,
	                               env->keys.data_key) != 0) {
		free(buf);
		return PB_ECORRUPT;
	}
	buf[plen] = 0;
	*out = buf;
	*outlen = plen;
	return PB_OK;
}

void st_content_hash(const uint8_t salt[ST_SALT_LEN], const char *text, size_t len,
                     uint8_t out[ST_HASH_LEN])
{
	crypto_generichash(out, ST_HASH_LEN, (const uint8_t *)text, len, salt, ST_SALT_LEN);
}

void st_data_key_set(st_env *env, const uint8_t key[32])
{
	if (!env || !env->readonly)
		return;
	memcpy(env->keys.data_key, key, sizeof(env->keys.data_key));
	env->has_data_key = 1;
}

void st_text_commit(const uint8_t salt[ST_SALT_LEN], const char *field, const char *text,
                    size_t len, uint8_t out[ST_HASH_LEN])
{
	static const char tag[] = "mailroom/text/v1\n";
	crypto_generichash_state st;

	crypto_generichash_init(&st, salt, ST_SALT_LEN, ST_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)tag, sizeof(tag) - 1);
	crypto_generichash_update(&st, (const uint8_t *)field, strlen(field));
	crypto_generichash_update(&st, (const uint8_t *)"\n", 1);
	crypto_generichash_update(&st, (const uint8_t *)(text ? text : ""), text ? len : 0);
	crypto_generichash_final(&st, out, ST_HASH_LEN);
}

void st_submit_hash(const uint8_t salt[ST_SALT_LEN], const char *subject, const char *body,
                    uint8_t out[ST_HASH_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, salt, ST_SALT_LEN, ST_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)subject, strlen(subject));
	crypto_generichash_update(&st, (const uint8_t *)"\n", 1);
	crypto_generichash_update(&st, (const uint8_t *)body, strlen(body));
	crypto_generichash_final(&st, out, ST_HASH_LEN);
}

/* Keyed by a key derived from the data key, so the index says nothing to
 * whoever lacks it; the number is upper-cased and stripped of spaces and
 * dashes so one document hashes the same however it was typed. */
void st_applicant_hash(const st_env *env, const char *id_type, const char *id_number,
                       uint8_t out[ST_HASH_LEN])
{
	static const char ctx[] = "mailroom/applicant/v1";
	uint8_t key[crypto_generichash_KEYBYTES];
	crypto_generichash_state st;

	crypto_generichash(key, sizeof(key), (const uint8_t *)ctx, sizeof(ctx) - 1,
	                   env->keys.data_key, sizeof(env->keys.data_key));
	crypto_generichash_init(&st, key, sizeof(key), ST_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)(id_type ? id_type : ""),
	                          id_type ? strlen(id_type) : 0);
	crypto_generichash_update(&st, (const uint8_t *)"\n", 1);
	for (const char *p = id_number ? id_number : ""; *p; p++) {
		uint8_t ch = (uint8_t)*p;
		if (ch == ' ' || ch == '-')
			continue;
		if (ch >= 'a' && ch <= 'z')
			ch = (uint8_t)(ch - 'a' + 'A');
		crypto_generichash_update(&st, &ch, 1);
	}
	crypto_generichash_final(&st, out, ST_HASH_LEN);
	sodium_memzero(key, sizeof(key));
}
