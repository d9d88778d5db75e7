#include "au_idtab.h"

#include <stdlib.h>
#include <string.h>

static size_t slot_of(const struct au_idtab *t, const uint8_t *id)
{
	uint64_t h;

	/* The id's last eight bytes are random. */
	memcpy(&h, id + PB_ID_LEN - 8, sizeof(h));
	return (size_t)(h * 0x9e3779b97f4a7c15ull) & (t->nslots - 1);
}

static int grow(struct au_idtab *t)
{
	size_t ns = t->nslots ? t->nslots * 2 : 1024;
	uint32_t *slots;

	if (ns > UINT32_MAX || !(slots = calloc(ns, sizeof(*slots))))
		return -1;
	free(t->slots);
	t->slots = slots;
	t->nslots = ns;
	for (size_t i = 0; i < t->n; i++) {
		size_t s = slot_of(t, au_idtab_at(t, i));
		while (t->slots[s])
			s = (s + 1) & (ns - 1);
		t->slots[s] = (uint32_t)i + 1;
	}
	return 0;
}

void *au_idtab_get(struct au_idtab *t, const uint8_t id[PB_ID_LEN], int *added)
{
	uint8_t *e;
	size_t s;

	*added = 0;
	if ((t->n + 1) * 2 > t->nslots && grow(t))
		return NULL;
	for (s = slot_of(t, id); t->slots[s]; s = (s + 1) & (t->nslots - 1))
		if (memcmp(au_idtab_at(t, t->slots[s] - 1), id, PB_ID_LEN) == 0)
			return au_idtab_at(t, t->slots[s] - 1);
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		uint8_t *v = realloc(t->v, cap * t->stride);
		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	e = au_idtab_at(t, t->n);
	memset(e, 0, t->stride);
	memcpy(e, id, PB_ID_LEN);
	t->slots[s] = (uint32_t)++t->n;
	*added = 1;
	return e;
}

void *au_idtab_find(const struct au_idtab *t, const uint8_t id[PB_ID_LEN])
{
	if (!t->nslots)
		return NULL;
	for (size_t s = slot_of(t, id); t->slots[s]; s = (s + 1) & (t->nslots - 1))
		if (memcmp(au_idtab_at(t, t->slots[s] - 1), id, PB_ID_LEN) == 0)
			return au_idtab_at(t, t->slots[s] - 1);
	return NULL;
}

void au_idtab_free(struct au_idtab *t)
{
	free(t->v);
	free(t->slots);
	t->v = NULL;
	t->slots = NULL;
	t->n = t->cap = t->nslots = 0;
}
