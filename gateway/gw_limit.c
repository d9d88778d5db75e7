/* Per-address limits on submissions and status lookups: a fixed
 * one-minute window per address in a direct-mapped table. Addresses are
 * kept only as a keyed hash (an IPv6 client by its /64), and a collision
 * simply starts the newcomer's count afresh: the table bounds memory, not
 * precision. */
#include "gw.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096

struct slot {
	uint64_t tag;
	int64_t window;
	int count;
};

struct gw_limit {
	pthread_mutex_t mu;
	int per_minute;
	uint8_t key[crypto_shorthash_KEYBYTES];
	struct slot slots[SLOTS];
};

int gw_limit_init(struct gw_limit **out, int per_minute)
{
	struct gw_limit *l;

	*out = NULL;
	if (per_minute <= 0)
		return 0;   /* no limit */
	if (!(l = calloc(1, sizeof(*l))))
		return -1;
	pthread_mutex_init(&l->mu, NULL);
	l->per_minute = per_minute;
	crypto_shorthash_keygen(l->key);
	*out = l;
	return 0;
}

void gw_limit_free(struct gw_limit *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static uint64_t tag_of(const struct gw_limit *l, const struct sockaddr *sa)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t t;

	if (sa && sa->sa_family == AF_INET6)
		crypto_shorthash(h, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, 8, l->key);
	else if (sa && sa->sa_family == AF_INET)
		crypto_shorthash(h, (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr, 4,
		                 l->key);
	else
		crypto_shorthash(h, (const uint8_t *)"", 0, l->key);
	memcpy(&t, h, sizeof(t));
	return t;
}

int gw_limit_take(struct gw_limit *l, const struct sockaddr *sa, int64_t now_ms, int *first)
{
	int64_t window = now_ms / 60000;
	uint64_t tag;
	int wait = 0;

	*first = 0;
	if (!l)
		return 0;
	tag = tag_of(l, sa);
	pthread_mutex_lock(&l->mu);
	struct slot *s = &l->slots[tag % SLOTS];
	if (s->tag != tag || s->window != window) {
		s->tag = tag;
		s->window = window;
		s->count = 0;
	}
	if (s->count < l->per_minute) {
		s->count++;
	} else {
		*first = s->count == l->per_minute;
		if (*first)
			s->count++;   /* log once per address and window */
		wait = (int)(60 - (now_ms % 60000) / 1000);
	}
	pthread_mutex_unlock(&l->mu);
	return wait;
}
