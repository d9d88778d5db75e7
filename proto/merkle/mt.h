/* RFC 6962 / RFC 9162 Merkle trees over SHA-256: hashes, proofs from
 * stored perfect-subtree hashes, and proof verification.
 *
 * Leaf hash H(0x00 || data), node hash H(0x01 || left || right), the root
 * of the empty tree is H(""). A tree of n > 1 leaves splits at k, the
 * largest power of two smaller than n.
 *
 * Proofs are built from perfect subtrees only: the node at (level, index)
 * covers leaves [index << level, (index + 1) << level). Whoever stores
 * those (mt_mem here, the store in LMDB) answers root, inclusion and
 * consistency queries with O(log n) lookups and no rebuild. */
#ifndef MT_H
#define MT_H

#include <stddef.h>
#include <stdint.h>

#define MT_HASH_LEN 32
/* Longest proof for any size below 2^64 (a consistency proof can be one
 * longer than the tree height). */
#define MT_PROOF_MAX 65
/* Perfect subtrees of trees below 2^64 leaves have levels 0..63. */
#define MT_LEVELS 64

/* SHA-256 of data; of the byte tag (none when < 0), a and b. */
void mt_sha256(const uint8_t *data, size_t len, uint8_t out[MT_HASH_LEN]);
void mt_sha256_parts(int tag, const uint8_t *a, size_t an, const uint8_t *b, size_t bn,
                     uint8_t out[MT_HASH_LEN]);
void mt_leaf_hash(const uint8_t *data, size_t len, uint8_t out[MT_HASH_LEN]);
void mt_node_hash(const uint8_t left[MT_HASH_LEN], const uint8_t right[MT_HASH_LEN],
                  uint8_t out[MT_HASH_LEN]);
/* The compact range of perfect subtrees: the root of the leaves so far in
 * at most 64 hashes, for whoever reads a log from its start (the store's
 * verify, the auditor's walk). Zero it to begin. */
struct mt_range {
	uint8_t h[MT_LEVELS][MT_HASH_LEN];
	uint8_t level[MT_LEVELS];
	int n;
};
void mt_range_add(struct mt_range *r, const uint8_t leaf[MT_HASH_LEN]);
/* RFC 6962 root of the leaves added: the right fold of the pieces. */
void mt_range_root(const struct mt_range *r, uint8_t out[MT_HASH_LEN]);

/* Reference root of n leaf hashes by the RFC recursion (tests only: it
 * rehashes everything). */
void mt_root_naive(const uint8_t (*leaves)[MT_HASH_LEN], uint64_t n, uint8_t out[MT_HASH_LEN]);

/* Hash of the complete perfect subtree at (level, index) into out;
 * PB_OK, or a PB_ error that is passed back to the caller unchanged. */
typedef int (*mt_get_fn)(void *arg, uint64_t level, uint64_t index, uint8_t out[MT_HASH_LEN]);

/* Root of the first size leaves (size 0: H("")). */
int mt_root(mt_get_fn get, void *arg, uint64_t size, uint8_t out[MT_HASH_LEN]);
/* RFC 9162 2.1.3.1 inclusion path of leaf index in a tree of size, leaf
 * side first. out holds cap hashes; PB_ETOOBIG if fewer than needed
 * (MT_PROOF_MAX always suffices). PB_EINVAL if index >= size. */
int mt_inclusion_proof(mt_get_fn get, void *arg, uint64_t index, uint64_t size,
                       uint8_t (*out)[MT_HASH_LEN], size_t cap, size_t *len);
/* RFC 9162 2.1.4.1 consistency proof from old_size to new_size.
 * PB_EINVAL unless 0 < old_size <= new_size; equal sizes give an empty
 * proof. */
int mt_consistency_proof(mt_get_fn get, void *arg, uint64_t old_size, uint64_t new_size,
                         uint8_t (*out)[MT_HASH_LEN], size_t cap, size_t *len);

/* RFC 9162 2.1.3.2. PB_OK; PB_EINVAL if index >= size or the proof has
 * the wrong length; PB_ECORRUPT if the computed root differs. */
int mt_verify_inclusion(const uint8_t leaf_hash[MT_HASH_LEN], uint64_t index, uint64_t size,
                        const uint8_t (*proof)[MT_HASH_LEN], size_t len,
                        const uint8_t root[MT_HASH_LEN]);
/* RFC 9162 2.1.4.2, plus equal sizes (empty proof, equal roots).
 * PB_EINVAL if old_size is 0 or above new_size or the proof has the wrong
 * length; PB_ECORRUPT if either computed root differs. */
int mt_verify_consistency(uint64_t old_size, uint64_t new_size,
                          const uint8_t old_root[MT_HASH_LEN], const uint8_t new_root[MT_HASH_LEN],
                          const uint8_t (*proof)[MT_HASH_LEN], size_t len);

/* In-memory tree keeping every perfect-subtree hash (about 2n hashes). */
typedef struct mt_mem mt_mem;

int mt_mem_new(mt_mem **out);
void mt_mem_free(mt_mem *m);
/* Appends one leaf hash; on error the tree is unchanged. */
int mt_mem_append(mt_mem *m, const uint8_t leaf_hash[MT_HASH_LEN]);
uint64_t mt_mem_size(const mt_mem *m);
/* mt_get_fn over an mt_mem (arg); PB_ENOTFOUND for a node not complete. */
int mt_mem_get(void *arg, uint64_t level, uint64_t index, uint8_t out[MT_HASH_LEN]);

#endif
