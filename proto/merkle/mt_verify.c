/* RFC 9162 proof verification (sections 2.1.3.2 and 2.1.4.2). The proof
 * length is checked against the sizes first, so a malformed proof
 * (PB_EINVAL) is told apart from one that does not match (PB_ECORRUPT). */
#include "mt.h"
#include "mt_int.h"
#include "pb_err.h"

#include <sodium.h>
#include <string.h>

static int same_hash(const uint8_t a[MT_HASH_LEN], const uint8_t b[MT_HASH_LEN])
{
	return sodium_memcmp(a, b, MT_HASH_LEN) == 0;
}

int mt_verify_inclusion(const uint8_t leaf_hash[MT_HASH_LEN], uint64_t index, uint64_t size,
                        const uint8_t (*proof)[MT_HASH_LEN], size_t len,
                        const uint8_t root[MT_HASH_LEN])
{
	uint8_t r[MT_HASH_LEN];
	unsigned inner, border;
	uint64_t fn, sn;

	if (index >= size)
		return PB_EINVAL;
	mt_incl_split(index, size, &inner, &border);
	if (len != (size_t)inner + border)
		return PB_EINVAL;
	fn = index;
	sn = size - 1;
	memcpy(r, leaf_hash, MT_HASH_LEN);
	for (size_t i = 0; i < len; i++) {
		if (sn == 0)
			return PB_EINVAL;
		if ((fn & 1) || fn == sn) {
			mt_node_hash(proof[i], r, r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			mt_node_hash(r, proof[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return PB_EINVAL;
	return same_hash(r, root) ? PB_OK : PB_ECORRUPT;
}

int mt_verify_consistency(uint64_t old_size, uint64_t new_size,
                          const uint8_t old_root[MT_HASH_LEN], const uint8_t new_root[MT_HASH_LEN],
                          const uint8_t (*proof)[MT_HASH_LEN], size_t len)
{
	uint8_t fr[MT_HASH_LEN], sr[MT_HASH_LEN];
	uint64_t fn, sn;
	size_t i = 0;

	/* A proof from the empty tree proves nothing (RFC: 0 < first). */
	if (old_size == 0 || old_size > new_size)
		return PB_EINVAL;
	if (old_size == new_size) {
		if (len != 0)
			return PB_EINVAL;
		return same_hash(old_root, new_root) ? PB_OK : PB_ECORRUPT;
	}
	if (len != mt_cons_len(old_size, new_size))
		return PB_EINVAL;
	/* Step 2: a power-of-two old tree is itself the first subtree, so
	 * its root stands in for the proof's first element. */
	if ((old_size & (old_size - 1)) == 0) {
		memcpy(fr, old_root, MT_HASH_LEN);
	} else {
		memcpy(fr, proof[0], MT_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, MT_HASH_LEN);
	fn = old_size - 1;
	sn = new_size - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < len; i++) {
		if (sn == 0)
			return PB_EINVAL;
		if ((fn & 1) || fn == sn) {
			mt_node_hash(proof[i], fr, fr);
			mt_node_hash(proof[i], sr, sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			mt_node_hash(sr, proof[i], sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return PB_EINVAL;
	return same_hash(fr, old_root) && same_hash(sr, new_root) ? PB_OK : PB_ECORRUPT;
}
