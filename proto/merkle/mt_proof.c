/* Root, inclusion and consistency proofs from perfect-subtree lookups. */
#include "mt.h"
#include "mt_int.h"
#include "pb_err.h"

#include <sodium.h>
#include <string.h>

/* Hash of leaves [start, start + count), count >= 1. The RFC recursion
 * over a range splits off its largest power of two first, so the hash is
 * the right fold of the perfect pieces given by the set bits of count.
 * Walking the bits from the lowest builds that fold with one lookup per
 * piece. Every range a proof needs has its pieces aligned; one that is not
 * cannot be served from perfect subtrees. */
static int range_hash(mt_get_fn get, void *arg, uint64_t start, uint64_t count,
                      uint8_t out[MT_HASH_LEN])
{
	uint8_t h[MT_HASH_LEN];
	uint64_t rest = count;
	int first = 1, rc;

	if (count == 0 || start > UINT64_MAX - count)
		return PB_EINVAL;
	while (rest) {
		unsigned b = mt_ctz(rest);
		uint64_t piece = (uint64_t)1 << b;

		rest &= rest - 1;  /* now the pieces left of this one */
		uint64_t pos = start + rest;
		if (pos & (piece - 1))
			return PB_EINVAL;
		if ((rc = get(arg, b, pos >> b, h)))
			return rc;
		if (first)
			memcpy(out, h, MT_HASH_LEN);
		else
			mt_node_hash(h, out, out);
		first = 0;
	}
	return PB_OK;
}

int mt_root(mt_get_fn get, void *arg, uint64_t size, uint8_t out[MT_HASH_LEN])
{
	if (size == 0) {
		crypto_hash_sha256(out, NULL, 0);
		return PB_OK;
	}
	return range_hash(get, arg, 0, size, out);
}

/* Sibling of index's level-i ancestor, cut at size (only the sibling just
 * below where the paths to index and size - 1 meet can be cut). */
static int sibling(mt_get_fn get, void *arg, uint64_t index, unsigned i, uint64_t size,
                   uint8_t out[MT_HASH_LEN])
{
	uint64_t start = ((index >> i) ^ 1) << i, count = (uint64_t)1 << i;

	if (start >= size)
		return PB_EINVAL;
	if (count > size - start)
		count = size - start;
	return range_hash(get, arg, start, count, out);
}

int mt_inclusion_proof(mt_get_fn get, void *arg, uint64_t index, uint64_t size,
                       uint8_t (*out)[MT_HASH_LEN], size_t cap, size_t *len)
{
	unsigned inner, border, i;
	size_t n = 0;
	int rc;

	*len = 0;
	if (index >= size)
		return PB_EINVAL;
	mt_incl_split(index, size, &inner, &border);
	if ((size_t)inner + border > cap)
		return PB_ETOOBIG;
	for (i = 0; i < inner; i++)
		if ((rc = sibling(get, arg, index, i, size, out[n++])))
			return rc;
	/* Above the meeting point index sits on the right border: only left
	 * siblings (set bits of index) exist there, and they are complete. */
	for (i = inner; i < MT_LEVELS; i++)
		if ((index >> i) & 1)
			if ((rc = get(arg, i, (index >> i) - 1, out[n++])))
				return rc;
	*len = n;
	return PB_OK;
}

/* RFC 9162 SUBPROOF(m, D[lo : lo + n], b) unrolled from the top: each step
 * records one sibling subtree; the proof lists them bottom-up after the
 * final MTH(D[lo : lo + m]) when b is false. */
int mt_consistency_proof(mt_get_fn get, void *arg, uint64_t old_size, uint64_t new_size,
                         uint8_t (*out)[MT_HASH_LEN], size_t cap, size_t *len)
{
	uint8_t sibs[MT_PROOF_MAX][MT_HASH_LEN];
	uint64_t lo = 0, m = old_size, n = new_size;
	size_t ns = 0, need, o = 0;
	int whole = 1, rc;

	*len = 0;
	if (old_size == 0 || old_size > new_size)
		return PB_EINVAL;
	if (old_size == new_size)
		return PB_OK;
	need = mt_cons_len(old_size, new_size);
	if (need > cap || need > MT_PROOF_MAX)
		return PB_ETOOBIG;
	while (m != n) {
		uint64_t k = mt_split(n);

		if (ns >= need)
			return PB_ECORRUPT;
		if (m <= k) {
			rc = range_hash(get, arg, lo + k, n - k, sibs[ns++]);
			n = k;
		} else {
			rc = range_hash(get, arg, lo, k, sibs[ns++]);
			lo += k;
			m -= k;
			n -= k;
			whole = 0;
		}
		if (rc)
			return rc;
	}
	if (ns + !whole != need)
		return PB_ECORRUPT;  /* cannot happen: the length formula is exact */
	if (!whole && (rc = range_hash(get, arg, lo, m, out[o++])))
		return rc;
	while (ns > 0)
		memcpy(out[o++], sibs[--ns], MT_HASH_LEN);
	*len = o;
	return PB_OK;
}
