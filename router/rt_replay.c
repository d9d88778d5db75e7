/* Nonce cache. Two generations of an open-addressing set, swapped every
 * window: a nonce is remembered for at least one window, and requests
 * older than the window are already refused as stale, so together they
 * refuse every replay while memory stays bounded by the request rate. */
#include "rt.h"
#include "pb_err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct gen {
	uint8_t (*slots)[16];
	size_t cap, used;
};

struct rt_replay {
	pthread_mutex_t mu;
	int64_t window_ms;
	int64_t rotated_ms;
	struct gen cur, old;
};

static const uint8_t empty[16];

static size_t slot_of(const uint8_t n[16], size_t cap)
{
	uint64_t h;

	memcpy(&h, n, sizeof(h));   /* nonces are random: their bytes are the hash */
	return (size_t)(h & (cap - 1));
}

static int gen_has(const struct gen *g, const uint8_t n[16])
{
	if (!g->cap)
		return 0;
	for (size_t i = slot_of(n, g->cap);; i = (i + 1) & (g->cap - 1)) {
		if (memcmp(g->slots[i], empty, 16) == 0)
			return 0;
		if (memcmp(g->slots[i], n, 16) == 0)
			return 1;
	}
}

static void gen_put_slot(struct gen *g, const uint8_t n[16])
{
	size_t i = slot_of(n, g->cap);

	while (memcmp(g->slots[i], empty, 16) != 0)
		i = (i + 1) & (g->cap - 1);
	memcpy(g->slots[i], n, 16);
	g->used++;
}

static int gen_add(struct gen *g, const uint8_t n[16])
{
	if ((g->used + 1) * 2 > g->cap) {
		struct gen bigger = {NULL, g->cap ? g->cap * 2 : 1024, 0};
		bigger.slots = calloc(bigger.cap, 16);
		if (!bigger.slots)
			return PB_ENOMEM;
		for (size_t i = 0; i < g->cap; i++)
			if (memcmp(g->slots[i], empty, 16) != 0)
				gen_put_slot(&bigger, g->slots[i]);
		free(g->slots);
		*g = bigger;
	}
	gen_put_slot(g, n);
	return PB_OK;
}

int rt_replay_new(int window_s, struct rt_replay **out)
{
	struct rt_replay *r = calloc(1, sizeof(*r));

	if (!r)
		return PB_ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	r->window_ms = (int64_t)window_s * 1000;
	*out = r;
	return PB_OK;
}

void rt_replay_free(struct rt_replay *r)
{
	if (!r)
		return;
	free(r->cur.slots);
	free(r->old.slots);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

int rt_replay_check(struct rt_replay *r, const uint8_t nonce[16], int64_t now_ms)
{
	int rc;

	/* The all-zero nonce marks empty slots; no honest client sends it. */
	if (memcmp(nonce, empty, 16) == 0)
		return PB_EREPLAY;
	pthread_mutex_lock(&r->mu);
	if (r->rotated_ms == 0)
		r->rotated_ms = now_ms;
	/* Entries must outlive the skew window on both sides of now. */
	if (now_ms - r->rotated_ms >= 2 * r->window_ms) {
		free(r->old.slots);
		r->old = r->cur;
		memset(&r->cur, 0, sizeof(r->cur));
		r->rotated_ms = now_ms;
	}
	if (gen_has(&r->cur, nonce) || gen_has(&r->old, nonce))
		rc = PB_EREPLAY;
	else
		rc = gen_add(&r->cur, nonce);
	pthread_mutex_unlock(&r->mu);
	return rc;
}
