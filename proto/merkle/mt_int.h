/* Bit helpers shared by the merkle sources. */
#ifndef MT_INT_H
#define MT_INT_H

#include <stdint.h>

/* Number of significant bits (0 for 0). */
static inline unsigned mt_bitlen(uint64_t x)
{
	return x ? 64u - (unsigned)__builtin_clzll(x) : 0u;
}

static inline unsigned mt_popcount(uint64_t x)
{
	return (unsigned)__builtin_popcountll(x);
}

/* Trailing zero bits; x must not be 0. */
static inline unsigned mt_ctz(uint64_t x)
{
	return (unsigned)__builtin_ctzll(x);
}

/* The RFC split point: largest power of two below n; n must be > 1. */
static inline uint64_t mt_split(uint64_t n)
{
	return (uint64_t)1 << (mt_bitlen(n - 1) - 1);
}

/* Inclusion proof of index in size (index < size): inner hashes below the
 * level where the paths to index and size - 1 meet, border hashes above. */
static inline void mt_incl_split(uint64_t index, uint64_t size, unsigned *inner, unsigned *border)
{
	*inner = mt_bitlen(index ^ (size - 1));
	/* inner can be 64, and a shift by 64 is undefined. */
	*border = *inner >= 64 ? 0u : mt_popcount(index >> *inner);
}

/* Length of the consistency proof for 0 < old < size: the inclusion path
 * of old - 1 above the level of old's lowest set bit, plus that subtree's
 * own hash unless old is exactly a power of two. */
static inline unsigned mt_cons_len(uint64_t old, uint64_t size)
{
	unsigned inner, border, shift = mt_ctz(old);

	mt_incl_split(old - 1, size, &inner, &border);
	return (old == ((uint64_t)1 << shift) ? 0u : 1u) + inner - shift + border;
}

#endif
