/* Per-message state found by message id: a growing array of elements
 * that each start with their 16-byte id, and an open-addressing index
 * over it (the overdue, report and store-check passes). */
#ifndef AU_IDTAB_H
#define AU_IDTAB_H

#include "pb_id.h"

#include <stddef.h>
#include <stdint.h>

struct au_idtab {
	uint8_t *v;                /* n elements of stride bytes */
	size_t stride, n, cap;
	uint32_t *slots;           /* index + 1, 0 = empty */
	size_t nslots;             /* a power of two, kept at most half full */
};

#define AU_IDTAB_INIT(type) {NULL, sizeof(type), 0, 0, NULL, 0}

/* The element for id; a new one is zeroed but for its id, and *added
 * set. NULL when out of memory. */
void *au_idtab_get(struct au_idtab *t, const uint8_t id[PB_ID_LEN], int *added);
static inline void *au_idtab_at(const struct au_idtab *t, size_t i)
{
	return t->v + i * t->stride;
}
/* The element for id, NULL when there is none. */
void *au_idtab_find(const struct au_idtab *t, const uint8_t id[PB_ID_LEN]);
void au_idtab_free(struct au_idtab *t);

#endif
