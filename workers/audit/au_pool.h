/* A bump allocator for protobuf-c (au_pool.c): the walk unpacks many
 * records and lets them go together, so it gets neither a malloc and a
 * free per field nor a walk of each record to free it. */
#ifndef AU_POOL_H
#define AU_POOL_H

#include "mailroom.pb-c.h"

#include <stddef.h>

struct au_pool_block;
struct au_pool {
	ProtobufCAllocator a;          /* what protobuf-c is given */
	struct au_pool_block *used;    /* head: the block being filled */
	struct au_pool_block *spare;   /* emptied by au_pool_reset, kept */
};

void au_pool_init(struct au_pool *p);
/* A record unpacked into the pool; NULL when it does not parse (or out
 * of memory). It lives until the next au_pool_reset. */
Mailroom__AuditRecord *au_pool_record(struct au_pool *p, const uint8_t *d, size_t n);
/* Lets go of everything unpacked; keeps the blocks of the usual size. */
void au_pool_reset(struct au_pool *p);
void au_pool_free(struct au_pool *p);

#endif
