/* A bump allocator for protobuf-c: fixed blocks taken in turn, a larger
 * block of its own for a field that does not fit one, nothing freed
 * until the pool is reset. */
#include "au_pool.h"

#include <stdint.h>
#include <stdlib.h>

#define BLOCK (64u << 10)
#define ALIGN 16u

struct au_pool_block {
	struct au_pool_block *next;
	size_t cap, used;
	_Alignas(ALIGN) unsigned char data[];
};

static struct au_pool_block *block_new(size_t cap)
{
	struct au_pool_block *b;

	if (cap > SIZE_MAX - sizeof(*b) || !(b = malloc(sizeof(*b) + cap)))
		return NULL;
	b->cap = cap;
	b->used = 0;
	return b;
}

static void *pool_alloc(void *arg, size_t size)
{
	struct au_pool *p = arg;
	struct au_pool_block *b = p->used;
	size_t need;

	if (size > SIZE_MAX - ALIGN)
		return NULL;
	need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (!b || b->cap - b->used < need) {
		if (need <= BLOCK && p->spare) {
			b = p->spare;
			p->spare = b->next;
		} else if (!(b = block_new(need > BLOCK ? need : BLOCK))) {
			return NULL;
		}
		/* A large block goes under the current one, which has room left. */
		if (need > BLOCK && p->used) {
			b->next = p->used->next;
			p->used->next = b;
			b->used = need;
			return b->data;
		}
		b->next = p->used;
		p->used = b;
	}
	b->used += need;
	return b->data + b->used - need;
}

static void pool_free(void *arg, void *ptr)
{
	/* Everything goes at once, in au_pool_reset. */
	(void)arg;
	(void)ptr;
}

void au_pool_init(struct au_pool *p)
{
	p->a.alloc = pool_alloc;
	p->a.free = pool_free;
	p->a.allocator_data = p;
	p->used = NULL;
	p->spare = NULL;
}

Mailroom__AuditRecord *au_pool_record(struct au_pool *p, const uint8_t *d, size_t n)
{
	return mailroom__audit_record__unpack(&p->a, n, d);
}

void au_pool_reset(struct au_pool *p)
{
	struct au_pool_block *b, *next;

	for (b = p->used; b; b = next) {
		next = b->next;
		if (b->cap == BLOCK) {
			b->used = 0;
			b->next = p->spare;
			p->spare = b;
		} else {
			free(b);
		}
	}
	p->used = NULL;
}

void au_pool_free(struct au_pool *p)
{
	struct au_pool_block *b, *next;

	au_pool_reset(p);
	for (b = p->spare; b; b = next) {
		next = b->next;
		free(b);
	}
	p->spare = NULL;
}
