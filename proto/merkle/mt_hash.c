/* RFC 6962 leaf and node hashes and the reference (recursive) root.
 *
 * SHA-256 through libcrypto: it uses the CPU's SHA instructions where
 * there are any, several times faster than libsodium's portable code, and
 * every record is hashed as it is appended and again by every audit. Each
 * thread keeps its own digest context (freed when the thread ends);
 * libsodium's SHA-256 stands in if libcrypto cannot give one. */
#include "mt.h"
#include "mt_int.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static pthread_key_t sha_key;
static EVP_MD *sha_md;   /* NULL: libsodium's */

static void ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void sha_init(void)
{
	if (pthread_key_create(&sha_key, ctx_free) == 0)
		sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static EVP_MD_CTX *sha_ctx(void)
{
	EVP_MD_CTX *c;

	pthread_once(&sha_once, sha_init);
	if (!sha_md)
		return NULL;
	if ((c = pthread_getspecific(sha_key)))
		return c;
	if (!(c = EVP_MD_CTX_new()))
		return NULL;
	if (pthread_setspecific(sha_key, c) != 0) {
		EVP_MD_CTX_free(c);
		return NULL;
	}
	return c;
}

void mt_sha256_parts(int tag, const uint8_t *a, size_t an, const uint8_t *b, size_t bn,
                     uint8_t out[MT_HASH_LEN])
{
	EVP_MD_CTX *c = sha_ctx();
	crypto_hash_sha256_state st;
	uint8_t t = (uint8_t)tag;
	unsigned int len;

	if (c && EVP_DigestInit_ex2(c, sha_md, NULL) && (tag < 0 || EVP_DigestUpdate(c, &t, 1)) &&
	    (!an || EVP_DigestUpdate(c, a, an)) && (!bn || EVP_DigestUpdate(c, b, bn)) &&
	    EVP_DigestFinal_ex(c, out, &len) && len == MT_HASH_LEN)
		return;
	crypto_hash_sha256_init(&st);
	if (tag >= 0)
		crypto_hash_sha256_update(&st, &t, 1);
	crypto_hash_sha256_update(&st, a, an);
	crypto_hash_sha256_update(&st, b, bn);
	crypto_hash_sha256_final(&st, out);
}

void mt_sha256(const uint8_t *data, size_t len, uint8_t out[MT_HASH_LEN])
{
	mt_sha256_parts(-1, data, len, NULL, 0, out);
}

void mt_leaf_hash(const uint8_t *data, size_t len, uint8_t out[MT_HASH_LEN])
{
	mt_sha256_parts(0x00, data, len, NULL, 0, out);
}

void mt_node_hash(const uint8_t left[MT_HASH_LEN], const uint8_t right[MT_HASH_LEN],
                  uint8_t out[MT_HASH_LEN])
{
	uint8_t l[MT_HASH_LEN], r[MT_HASH_LEN];

	/* Copy first: out may alias left or right. */
	memcpy(l, left, MT_HASH_LEN);
	memcpy(r, right, MT_HASH_LEN);
	mt_sha256_parts(0x01, l, MT_HASH_LEN, r, MT_HASH_LEN, out);
}

void mt_range_add(struct mt_range *r, const uint8_t leaf[MT_HASH_LEN])
{
	memcpy(r->h[r->n], leaf, MT_HASH_LEN);
	r->level[r->n++] = 0;
	while (r->n >= 2 && r->level[r->n - 1] == r->level[r->n - 2]) {
		mt_node_hash(r->h[r->n - 2], r->h[r->n - 1], r->h[r->n - 2]);
		r->level[r->n - 2]++;
		r->n--;
	}
}

void mt_range_root(const struct mt_range *r, uint8_t out[MT_HASH_LEN])
{
	if (r->n == 0) {
		mt_sha256(NULL, 0, out);
		return;
	}
	memcpy(out, r->h[r->n - 1], MT_HASH_LEN);
	for (int i = r->n - 2; i >= 0; i--)
		mt_node_hash(r->h[i], out, out);
}

void mt_root_naive(const uint8_t (*leaves)[MT_HASH_LEN], uint64_t n, uint8_t out[MT_HASH_LEN])
{
	uint8_t l[MT_HASH_LEN], r[MT_HASH_LEN];
	uint64_t k;

	if (n == 0) {
		mt_sha256(NULL, 0, out);
		return;
	}
	if (n == 1) {
		memcpy(out, leaves[0], MT_HASH_LEN);
		return;
	}
	k = mt_split(n);
	mt_root_naive(leaves, k, l);
	mt_root_naive(leaves + k, n - k, r);
	mt_node_hash(l, r, out);
}
