/* The repeat check's bigram cache: each stored message's sorted bigram
 * set, by message id, least recently used dropped first past a byte
 * budget. Without it every new message from a contact rebuilt (loaded,
 * unpacked, folded, sorted) the sets of up to 50 earlier ones.
 *
 * Keyed by id alone because a plain-channel message's subject and body
 * never change once stored (the one rewrite of texts, the 12345
 * re-dispatch, is of hotline messages, which no repeat check reads), and
 * messages are never deleted. An entry for a message whose transaction
 * later aborted is never asked for (its id is in no index): it only ages
 * out. Writer thread only, like the checks that use it. */
#include "rt.h"
#include "pb_err.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	uint8_t id[16];
	struct rt_bigrams b;
	struct entry *prev, *next;   /* recency: head is the newest */
	struct entry *hnext;         /* hash chain */
};

struct rt_bgcache {
	struct entry **slots;
	size_t nslots;               /* a power of two */
	struct entry *head, *tail;
	size_t bytes, max_bytes;
};

static size_t cost(const struct entry *e)
{
	return sizeof(*e) + e->b.n * sizeof(*e->b.v);
}

/* Ids start with the time: mix in every byte so chains stay short. */
static size_t slot_of(const struct rt_bgcache *c, const uint8_t id[16])
{
	uint64_t a, b;

	memcpy(&a, id, 8);
	memcpy(&b, id + 8, 8);
	a ^= b * 0x9e3779b97f4a7c15ULL;
	a ^= a >> 29;
	a *= 0xbf58476d1ce4e5b9ULL;
	return (size_t)(a ^ (a >> 32)) & (c->nslots - 1);
}

int rt_bgcache_new(size_t max_bytes, struct rt_bgcache **out)
{
	struct rt_bgcache *c = calloc(1, sizeof(*c));
	size_t n = 1024;

	*out = NULL;
	/* About one slot per kilobyte of budget: an entry costs at least that. */
	while (n < max_bytes / 1024 && n < ((size_t)1 << 24))
		n <<= 1;
	if (!c || !(c->slots = calloc(n, sizeof(*c->slots)))) {
		free(c);
		return PB_ENOMEM;
	}
	c->nslots = n;
	c->max_bytes = max_bytes;
	*out = c;
	return PB_OK;
}

static void unlink_lru(struct rt_bgcache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void push_front(struct rt_bgcache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void drop(struct rt_bgcache *c, struct entry *e)
{
	struct entry **p = &c->slots[slot_of(c, e->id)];

	while (*p != e)
		p = &(*p)->hnext;
	*p = e->hnext;
	unlink_lru(c, e);
	c->bytes -= cost(e);
	rt_bigrams_free(&e->b);
	free(e);
}

const struct rt_bigrams *rt_bgcache_get(struct rt_bgcache *c, const uint8_t id[16])
{
	if (!c)
		return NULL;
	for (struct entry *e = c->slots[slot_of(c, id)]; e; e = e->hnext)
		if (memcmp(e->id, id, sizeof(e->id)) == 0) {
			unlink_lru(c, e);
			push_front(c, e);
			return &e->b;
		}
	return NULL;
}

const struct rt_bigrams *rt_bgcache_put(struct rt_bgcache *c, const uint8_t id[16],
                                        struct rt_bigrams *b)
{
	struct entry *e;

	if (!c || rt_bgcache_get(c, id) || !(e = calloc(1, sizeof(*e))))
		return NULL;
	memcpy(e->id, id, sizeof(e->id));
	e->b = *b;
	b->v = NULL;
	b->n = 0;
	size_t s = slot_of(c, id);
	e->hnext = c->slots[s];
	c->slots[s] = e;
	push_front(c, e);
	c->bytes += cost(e);
	while (c->bytes > c->max_bytes && c->tail != e)
		drop(c, c->tail);
	return &e->b;
}

void rt_bgcache_free(struct rt_bgcache *c)
{
	if (!c)
		return;
	while (c->head)
		drop(c, c->head);
	free(c->slots);
	free(c);
}
