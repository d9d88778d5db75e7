/* A small string -> index map with open addressing, for orders, events
 * and nonces. Keys are copied; nothing is ever removed. */
#include "hp_int.h"

#include <stdlib.h>
#include <string.h>

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static size_t slot(char **keys, size_t cap, const char *key)
{
	size_t i = (size_t)fnv(key) & (cap - 1);

	while (keys[i] && strcmp(keys[i], key) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

int hp_map_get(const struct hp_map *m, const char *key, size_t *val)
{
	if (!m->cap)
		return -1;
	size_t i = slot(m->keys, m->cap, key);
	if (!m->keys[i])
		return -1;
	*val = m->vals[i];
	return 0;
}

static int grow(struct hp_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	char **keys = calloc(cap, sizeof(*keys));
	size_t *vals = calloc(cap, sizeof(*vals));

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i]) {
			size_t j = slot(keys, cap, m->keys[i]);
			keys[j] = m->keys[i];
			vals[j] = m->vals[i];
		}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

int hp_map_put(struct hp_map *m, const char *key, size_t val)
{
	if ((m->n + 1) * 2 > m->cap && grow(m))
		return -1;
	size_t i = slot(m->keys, m->cap, key);
	if (!m->keys[i]) {
		if (!(m->keys[i] = strdup(key)))
			return -1;
		m->n++;
	}
	m->vals[i] = val;
	return 0;
}

void hp_map_free(struct hp_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
