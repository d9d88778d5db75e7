/* RFC 6962 leaf and node hashes and the reference (recursive) root. */
#include "mt.h"
#include "mt_int.h"

#include <sodium.h>
#include <string.h>

void mt_leaf_hash(const uint8_t *data, size_t len, uint8_t out[MT_HASH_LEN])
{
	crypto_hash_sha256_state st;
	const uint8_t prefix = 0x00;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &prefix, 1);
	crypto_hash_sha256_update(&st, data, len);
	crypto_hash_sha256_final(&st, out);
}

void mt_node_hash(const uint8_t left[MT_HASH_LEN], const uint8_t right[MT_HASH_LEN],
                  uint8_t out[MT_HASH_LEN])
{
	uint8_t buf[1 + 2 * MT_HASH_LEN];

	/* Copy first: out may alias left or right. */
	buf[0] = 0x01;
	memcpy(buf + 1, left, MT_HASH_LEN);
	memcpy(buf + 1 + MT_HASH_LEN, right, MT_HASH_LEN);
	crypto_hash_sha256(out, buf, sizeof(buf));
}

void mt_root_naive(const uint8_t (*leaves)[MT_HASH_LEN], uint64_t n, uint8_t out[MT_HASH_LEN])
{
	uint8_t l[MT_HASH_LEN], r[MT_HASH_LEN];
	uint64_t k;

	if (n == 0) {
		crypto_hash_sha256(out, NULL, 0);
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
