/* In-memory tree: level l holds the hashes of the complete perfect
 * subtrees of 2^l leaves, in order, so (level, index) is a plain array
 * lookup. The store keeps the same layout in LMDB. */
#include "mt.h"
#include "mt_int.h"
#include "pb_err.h"

#include <stdlib.h>
#include <string.h>

struct mt_level {
	uint8_t (*h)[MT_HASH_LEN];
	uint64_t n, cap;
};

struct mt_mem {
	uint64_t size;
	struct mt_level lv[MT_LEVELS];
};

int mt_mem_new(mt_mem **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? PB_OK : PB_ENOMEM;
}

void mt_mem_free(mt_mem *m)
{
	if (!m)
		return;
	for (unsigned l = 0; l < MT_LEVELS; l++)
		free(m->lv[l].h);
	free(m);
}

uint64_t mt_mem_size(const mt_mem *m)
{
	return m->size;
}

/* Room for one more hash at this level, growing by doubling. */
static int reserve(struct mt_level *lv)
{
	uint64_t cap;
	void *p;

	if (lv->n < lv->cap)
		return PB_OK;
	cap = lv->cap ? lv->cap * 2 : 64;
	if (cap < lv->cap || cap > SIZE_MAX / MT_HASH_LEN)
		return PB_ENOMEM;
	p = realloc(lv->h, (size_t)cap * MT_HASH_LEN);
	if (!p)
		return PB_ENOMEM;
	lv->h = p;
	lv->cap = cap;
	return PB_OK;
}

int mt_mem_append(mt_mem *m, const uint8_t leaf_hash[MT_HASH_LEN])
{
	uint64_t next;
	unsigned top, l;
	int rc;

	if (m->size == UINT64_MAX)
		return PB_EFULL;
	next = m->size + 1;
	/* Appending leaf next - 1 completes one new subtree on each level up
	 * to the trailing zeros of next. Reserve them all before writing, so
	 * a failed allocation leaves the tree as it was. */
	top = mt_ctz(next);
	for (l = 0; l <= top; l++)
		if ((rc = reserve(&m->lv[l])))
			return rc;
	memcpy(m->lv[0].h[m->lv[0].n++], leaf_hash, MT_HASH_LEN);
	for (l = 1; l <= top; l++) {
		struct mt_level *below = &m->lv[l - 1], *lv = &m->lv[l];

		mt_node_hash(below->h[below->n - 2], below->h[below->n - 1], lv->h[lv->n++]);
	}
	m->size = next;
	return PB_OK;
}

int mt_mem_get(void *arg, uint64_t level, uint64_t index, uint8_t out[MT_HASH_LEN])
{
	const mt_mem *m = arg;

	if (level >= MT_LEVELS)
		return PB_EINVAL;
	if (index >= m->lv[level].n)
		return PB_ENOTFOUND;
	memcpy(out, m->lv[level].h[index], MT_HASH_LEN);
	return PB_OK;
}
