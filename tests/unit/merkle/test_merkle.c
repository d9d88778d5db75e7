/* mt_mem proofs against the RFC recursion, tampering, lookup counts,
 * sizes near 2^64 and argument errors. */
#include "mt.h"
#include "pb_err.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define BIG 10000

typedef uint8_t hash_t[MT_HASH_LEN];

/* Reproducible pseudo-random numbers (splitmix64). */
static uint64_t rng_state = 0x6d61696c726f6f6dULL;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform-enough in [lo, hi]. */
static uint64_t rnd_in(uint64_t lo, uint64_t hi)
{
	return lo + rnd() % (hi - lo + 1);
}

static hash_t *leaves;
static mt_mem *tree;

static void setup(void)
{
	leaves = malloc(BIG * sizeof(hash_t));
	cr_assert(leaves);
	cr_assert_eq(mt_mem_new(&tree), PB_OK);
	for (uint64_t i = 0; i < BIG; i++) {
		uint8_t data[8];

		for (int b = 0; b < 8; b++)
			data[b] = (uint8_t)(i >> (8 * b));
		mt_leaf_hash(data, sizeof(data), leaves[i]);
		cr_assert_eq(mt_mem_append(tree, leaves[i]), PB_OK);
	}
	cr_assert_eq(mt_mem_size(tree), BIG);
}

static void teardown(void)
{
	mt_mem_free(tree);
	free(leaves);
}

static uint64_t split(uint64_t n)
{
	uint64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

/* RFC 9162 2.1.3.1 PATH(m, D[n]), straight from the definition. */
static void ref_path(const hash_t *d, uint64_t m, uint64_t n, hash_t *out, size_t *len)
{
	uint64_t k;

	if (n <= 1)
		return;
	k = split(n);
	if (m < k) {
		ref_path(d, m, k, out, len);
		mt_root_naive((const hash_t *)d + k, n - k, out[(*len)++]);
	} else {
		ref_path(d + k, m - k, n - k, out, len);
		mt_root_naive(d, k, out[(*len)++]);
	}
}

/* RFC 9162 2.1.4.1 SUBPROOF(m, D[n], b). */
static void ref_subproof(const hash_t *d, uint64_t m, uint64_t n, int b, hash_t *out, size_t *len)
{
	uint64_t k;

	if (m == n) {
		if (!b)
			mt_root_naive(d, m, out[(*len)++]);
		return;
	}
	k = split(n);
	if (m <= k) {
		ref_subproof(d, m, k, b, out, len);
		mt_root_naive(d + k, n - k, out[(*len)++]);
	} else {
		ref_subproof(d + k, m - k, n - k, 0, out, len);
		mt_root_naive(d, k, out[(*len)++]);
	}
}

static void check_inclusion(uint64_t idx, uint64_t size, const hash_t root)
{
	hash_t got[MT_PROOF_MAX], want[MT_PROOF_MAX];
	size_t n = 0, wn = 0;

	cr_assert_eq(mt_inclusion_proof(mt_mem_get, tree, idx, size, got, MT_PROOF_MAX, &n), PB_OK);
	ref_path(leaves, idx, size, want, &wn);
	cr_assert(n == wn && memcmp(got, want, n * MT_HASH_LEN) == 0,
	          "inclusion proof %lu in %lu differs from the RFC recursion",
	          (unsigned long)idx, (unsigned long)size);
	cr_assert_eq(mt_verify_inclusion(leaves[idx], idx, size, (const hash_t *)got, n, root), PB_OK,
	             "inclusion %lu in %lu", (unsigned long)idx, (unsigned long)size);
}

static void check_consistency(uint64_t m, uint64_t n, const hash_t r1, const hash_t r2)
{
	hash_t got[MT_PROOF_MAX], want[MT_PROOF_MAX];
	size_t len = 0, wl = 0;

	cr_assert_eq(mt_consistency_proof(mt_mem_get, tree, m, n, got, MT_PROOF_MAX, &len), PB_OK);
	if (m < n)
		ref_subproof(leaves, m, n, 1, want, &wl);
	cr_assert(len == wl && memcmp(got, want, len * MT_HASH_LEN) == 0,
	          "consistency proof %lu -> %lu differs from the RFC recursion",
	          (unsigned long)m, (unsigned long)n);
	cr_assert_eq(mt_verify_consistency(m, n, r1, r2, (const hash_t *)got, len), PB_OK,
	             "consistency %lu -> %lu", (unsigned long)m, (unsigned long)n);
}

Test(merkle, roots_match_naive, .init = setup, .fini = teardown)
{
	hash_t a, b;

	for (uint64_t n = 0; n <= 300; n++) {
		mt_root_naive(leaves, n, a);
		cr_assert_eq(mt_root(mt_mem_get, tree, n, b), PB_OK);
		cr_assert(memcmp(a, b, MT_HASH_LEN) == 0, "root of %lu", (unsigned long)n);
	}
	for (int t = 0; t < 200; t++) {
		uint64_t n = t == 0 ? BIG : rnd_in(301, BIG);

		mt_root_naive(leaves, n, a);
		cr_assert_eq(mt_root(mt_mem_get, tree, n, b), PB_OK);
		cr_assert(memcmp(a, b, MT_HASH_LEN) == 0, "root of %lu", (unsigned long)n);
	}
}

/* The compact range a log reader keeps, leaf by leaf, against the RFC
 * recursion at every size. */
Test(merkle, range_roots_match_naive, .init = setup, .fini = teardown)
{
	static struct mt_range r;
	hash_t a, b;

	memset(&r, 0, sizeof(r));
	for (uint64_t n = 0; n <= 1100; n++) {
		if (n > 0)
			mt_range_add(&r, leaves[n - 1]);
		mt_root_naive(leaves, n, a);
		mt_range_root(&r, b);
		cr_assert(memcmp(a, b, MT_HASH_LEN) == 0, "range root of %lu", (unsigned long)n);
	}
}

Test(merkle, inclusion_match_naive, .init = setup, .fini = teardown)
{
	hash_t root;

	/* Every index of every small size. */
	for (uint64_t size = 1; size <= 130; size++) {
		mt_root_naive(leaves, size, root);
		for (uint64_t i = 0; i < size; i++)
			check_inclusion(i, size, root);
	}
	/* Random sizes up to BIG, random indices plus both ends. */
	for (int t = 0; t < 60; t++) {
		uint64_t size = t == 0 ? BIG : rnd_in(131, BIG);

		mt_root_naive(leaves, size, root);
		check_inclusion(0, size, root);
		check_inclusion(size - 1, size, root);
		for (int k = 0; k < 10; k++)
			check_inclusion(rnd_in(0, size - 1), size, root);
	}
}

Test(merkle, consistency_match_naive, .init = setup, .fini = teardown)
{
	hash_t roots[65];

	for (uint64_t n = 0; n <= 64; n++)
		mt_root_naive(leaves, n, roots[n]);
	for (uint64_t n = 1; n <= 64; n++)
		for (uint64_t m = 1; m <= n; m++)
			check_consistency(m, n, roots[m], roots[n]);
	for (int t = 0; t < 300; t++) {
		uint64_t n = rnd_in(2, BIG), m = t % 3 == 0 ? split(n) : rnd_in(1, n);
		hash_t r1, r2;

		mt_root_naive(leaves, m, r1);
		mt_root_naive(leaves, n, r2);
		check_consistency(m, n, r1, r2);
	}
}

/* Any single bit flip, dropped, added or reordered hash, a neighbouring
 * index or swapped sizes must fail, with the length errors told apart.
 * (A size one larger can legitimately give the same path shape, so it
 * is not a tampering check: the signed root binds the size.) */
Test(merkle, tampered_proofs_rejected, .init = setup, .fini = teardown)
{
	for (int t = 0; t < 300; t++) {
		uint64_t size = rnd_in(2, BIG), idx = rnd_in(0, size - 1);
		hash_t root, p[MT_PROOF_MAX + 1], leaf;
		size_t n;

		cr_assert_eq(mt_root(mt_mem_get, tree, size, root), PB_OK);
		cr_assert_eq(mt_inclusion_proof(mt_mem_get, tree, idx, size, p, MT_PROOF_MAX, &n), PB_OK);
		memcpy(leaf, leaves[idx], MT_HASH_LEN);
		if (n > 0) {
			size_t at = (size_t)rnd_in(0, n - 1);
			uint8_t bit = (uint8_t)(1u << rnd_in(0, 7));

			p[at][rnd_in(0, MT_HASH_LEN - 1)] ^= bit;
			cr_assert_eq(mt_verify_inclusion(leaf, idx, size, (const hash_t *)p, n, root), PB_ECORRUPT);
			cr_assert_eq(mt_inclusion_proof(mt_mem_get, tree, idx, size, p, MT_PROOF_MAX, &n), PB_OK);
			cr_assert_eq(mt_verify_inclusion(leaf, idx, size, (const hash_t *)p, n - 1, root), PB_EINVAL);
		}
		cr_assert_eq(mt_verify_inclusion(leaf, idx, size, (const hash_t *)p, n + 1, root), PB_EINVAL);
		leaf[0] ^= 1;
		cr_assert_eq(mt_verify_inclusion(leaf, idx, size, (const hash_t *)p, n, root), PB_ECORRUPT);
		leaf[0] ^= 1;
		root[31] ^= 0x80;
		cr_assert_eq(mt_verify_inclusion(leaf, idx, size, (const hash_t *)p, n, root), PB_ECORRUPT);
		root[31] ^= 0x80;
		cr_assert_neq(mt_verify_inclusion(leaf, idx ^ 1, size, (const hash_t *)p, n, root), PB_OK);
		cr_assert_eq(mt_verify_inclusion(leaf, size, size, (const hash_t *)p, n, root), PB_EINVAL);
	}
	for (int t = 0; t < 300; t++) {
		uint64_t n = rnd_in(2, BIG), m = rnd_in(1, n - 1);
		hash_t r1, r2, p[MT_PROOF_MAX + 1];
		size_t len;

		cr_assert_eq(mt_root(mt_mem_get, tree, m, r1), PB_OK);
		cr_assert_eq(mt_root(mt_mem_get, tree, n, r2), PB_OK);
		cr_assert_eq(mt_consistency_proof(mt_mem_get, tree, m, n, p, MT_PROOF_MAX, &len), PB_OK);
		cr_assert_gt(len, 0);
		size_t at = (size_t)rnd_in(0, len - 1);
		p[at][rnd_in(0, MT_HASH_LEN - 1)] ^= (uint8_t)(1u << rnd_in(0, 7));
		cr_assert_eq(mt_verify_consistency(m, n, r1, r2, (const hash_t *)p, len), PB_ECORRUPT,
		             "flip %zu of %zu in %lu -> %lu", at, len, (unsigned long)m, (unsigned long)n);
		cr_assert_eq(mt_consistency_proof(mt_mem_get, tree, m, n, p, MT_PROOF_MAX, &len), PB_OK);
		cr_assert_eq(mt_verify_consistency(m, n, r1, r2, (const hash_t *)p, len - 1), PB_EINVAL);
		cr_assert_eq(mt_verify_consistency(m, n, r1, r2, (const hash_t *)p, len + 1), PB_EINVAL);
		cr_assert_eq(mt_verify_consistency(m, n, r2, r1, (const hash_t *)p, len), PB_ECORRUPT);
		cr_assert_eq(mt_verify_consistency(n, m, r1, r2, (const hash_t *)p, len), PB_EINVAL);
		cr_assert_eq(mt_verify_consistency(0, n, r1, r2, (const hash_t *)p, len), PB_EINVAL);
		if (len > 1) {
			hash_t tmp;

			memcpy(tmp, p[0], MT_HASH_LEN);
			memcpy(p[0], p[len - 1], MT_HASH_LEN);
			memcpy(p[len - 1], tmp, MT_HASH_LEN);
			cr_assert_eq(mt_verify_consistency(m, n, r1, r2, (const hash_t *)p, len), PB_ECORRUPT);
		}
	}
}

/* The node source is asked O(log n) times: never a rebuild. */
struct counting {
	mt_mem *m;
	long calls;
};

static int counting_get(void *arg, uint64_t level, uint64_t index, uint8_t out[MT_HASH_LEN])
{
	struct counting *c = arg;

	c->calls++;
	return mt_mem_get(c->m, level, index, out);
}

static long bits(uint64_t x)
{
	long b = 0;

	while (x) {
		b++;
		x >>= 1;
	}
	return b;
}

Test(merkle, lookups_are_logarithmic, .init = setup, .fini = teardown)
{
	struct counting c = {.m = tree};
	hash_t out[MT_PROOF_MAX];
	size_t n;

	for (int t = 0; t < 2000; t++) {
		uint64_t size = rnd_in(1, BIG), idx = rnd_in(0, size - 1), m = rnd_in(1, size);
		long h = bits(size);

		c.calls = 0;
		cr_assert_eq(mt_root(counting_get, &c, size, out[0]), PB_OK);
		cr_assert_leq(c.calls, h);
		c.calls = 0;
		cr_assert_eq(mt_inclusion_proof(counting_get, &c, idx, size, out, MT_PROOF_MAX, &n), PB_OK);
		cr_assert_leq(c.calls, 2 * h, "%ld lookups for an inclusion proof in %lu",
		              c.calls, (unsigned long)size);
		c.calls = 0;
		cr_assert_eq(mt_consistency_proof(counting_get, &c, m, size, out, MT_PROOF_MAX, &n), PB_OK);
		cr_assert_leq(c.calls, 2 * h + 2, "%ld lookups for a consistency proof to %lu",
		              c.calls, (unsigned long)size);
	}
}

/* A tree whose leaves are all equal is consistent at any size with one
 * hash per level, so proofs can be checked for sizes near 2^64. */
static hash_t same_leaf[MT_LEVELS];

static int same_get(void *arg, uint64_t level, uint64_t index, uint8_t out[MT_HASH_LEN])
{
	(void)arg;
	if (level >= MT_LEVELS || index > (UINT64_MAX >> level) - 1)
		return PB_EINVAL;
	memcpy(out, same_leaf[level], MT_HASH_LEN);
	return PB_OK;
}

Test(merkle, huge_sizes)
{
	const uint64_t sizes[] = {UINT64_MAX, UINT64_MAX - 1, (1ULL << 63) + 1, 1ULL << 63,
	                          (1ULL << 63) - 1, 0xdeadbeefcafef00dULL};
	hash_t p[MT_PROOF_MAX], r1, r2;
	size_t n;

	mt_leaf_hash((const uint8_t *)"x", 1, same_leaf[0]);
	for (int l = 1; l < MT_LEVELS; l++)
		mt_node_hash(same_leaf[l - 1], same_leaf[l - 1], same_leaf[l]);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t size = sizes[s];
		const uint64_t idxs[] = {0, 1, size / 2, size - 2, size - 1};

		cr_assert_eq(mt_root(same_get, NULL, size, r2), PB_OK);
		for (size_t k = 0; k < 5; k++) {
			cr_assert_eq(mt_inclusion_proof(same_get, NULL, idxs[k], size, p, MT_PROOF_MAX, &n), PB_OK);
			cr_assert_eq(mt_verify_inclusion(same_leaf[0], idxs[k], size, (const hash_t *)p, n, r2), PB_OK);
			p[n - 1][5] ^= 4;
			cr_assert_eq(mt_verify_inclusion(same_leaf[0], idxs[k], size, (const hash_t *)p, n, r2),
			             PB_ECORRUPT);
			uint64_t old = idxs[k] + 1;
			cr_assert_eq(mt_root(same_get, NULL, old, r1), PB_OK);
			cr_assert_eq(mt_consistency_proof(same_get, NULL, old, size, p, MT_PROOF_MAX, &n), PB_OK);
			cr_assert_eq(mt_verify_consistency(old, size, r1, r2, (const hash_t *)p, n), PB_OK);
		}
	}
	/* The longest consistency proof: one more than the height. */
	cr_assert_eq(mt_root(same_get, NULL, 3, r1), PB_OK);
	cr_assert_eq(mt_root(same_get, NULL, (1ULL << 63) + 1, r2), PB_OK);
	cr_assert_eq(mt_consistency_proof(same_get, NULL, 3, (1ULL << 63) + 1, p, MT_PROOF_MAX, &n), PB_OK);
	cr_assert_eq(n, MT_PROOF_MAX);
	cr_assert_eq(mt_verify_consistency(3, (1ULL << 63) + 1, r1, r2, (const hash_t *)p, n), PB_OK);
}

static int failing_get(void *arg, uint64_t level, uint64_t index, uint8_t out[MT_HASH_LEN])
{
	(void)arg, (void)level, (void)index, (void)out;
	return PB_EIO;
}

Test(merkle, argument_errors, .init = setup, .fini = teardown)
{
	hash_t p[MT_PROOF_MAX], h;
	size_t n = 99;

	cr_assert_eq(mt_inclusion_proof(mt_mem_get, tree, 5, 5, p, MT_PROOF_MAX, &n), PB_EINVAL);
	cr_assert_eq(n, 0);
	cr_assert_eq(mt_inclusion_proof(mt_mem_get, tree, 0, 0, p, MT_PROOF_MAX, &n), PB_EINVAL);
	cr_assert_eq(mt_inclusion_proof(mt_mem_get, tree, 3, 1000, p, 2, &n), PB_ETOOBIG);
	cr_assert_eq(mt_consistency_proof(mt_mem_get, tree, 0, 10, p, MT_PROOF_MAX, &n), PB_EINVAL);
	cr_assert_eq(mt_consistency_proof(mt_mem_get, tree, 11, 10, p, MT_PROOF_MAX, &n), PB_EINVAL);
	cr_assert_eq(mt_consistency_proof(mt_mem_get, tree, 10, 10, p, MT_PROOF_MAX, &n), PB_OK);
	cr_assert_eq(n, 0);
	cr_assert_eq(mt_consistency_proof(mt_mem_get, tree, 3, 1000, p, 2, &n), PB_ETOOBIG);
	/* Sizes past the stored tree: the source's answer comes back. */
	cr_assert_eq(mt_root(mt_mem_get, tree, BIG + 1, h), PB_ENOTFOUND);
	cr_assert_eq(mt_inclusion_proof(mt_mem_get, tree, 0, BIG + 1, p, MT_PROOF_MAX, &n), PB_ENOTFOUND);
	cr_assert_eq(mt_root(failing_get, NULL, 7, h), PB_EIO);
	cr_assert_eq(mt_inclusion_proof(failing_get, NULL, 2, 7, p, MT_PROOF_MAX, &n), PB_EIO);
	cr_assert_eq(mt_consistency_proof(failing_get, NULL, 2, 7, p, MT_PROOF_MAX, &n), PB_EIO);
	/* mt_mem lookups. */
	cr_assert_eq(mt_mem_get(tree, 0, BIG - 1, h), PB_OK);
	cr_assert_eq(mt_mem_get(tree, 0, BIG, h), PB_ENOTFOUND);
	cr_assert_eq(mt_mem_get(tree, 13, 1, h), PB_ENOTFOUND);  /* 8192..16383: not complete */
	cr_assert_eq(mt_mem_get(tree, 13, 0, h), PB_OK);
	cr_assert_eq(mt_mem_get(tree, 14, 0, h), PB_ENOTFOUND);
	cr_assert_eq(mt_mem_get(tree, MT_LEVELS, 0, h), PB_EINVAL);
	/* Empty trees. */
	mt_root_naive(NULL, 0, h);
	cr_assert_eq(mt_verify_consistency(0, 0, h, h, NULL, 0), PB_EINVAL);
	cr_assert_eq(mt_verify_inclusion(h, 0, 0, NULL, 0, h), PB_EINVAL);
}
