/* The hashing half of the walk, on a thread of its own: each record's
 * SHA-256 (what the next record's prev_hash must hold), the Merkle root
 * at each checkpoint's size, and the checkpoint's signature under the key
 * the walk last said was in force (the walk uses that only when its key
 * for the checkpoint is the same, and opens it itself otherwise). It only reads the source and the walk
 * only compares what it finds, so the two run side by side on two cores.
 * The root is kept as the compact range of perfect subtrees (at most 64
 * hashes), and the record hashes in a ring the thread may not run more
 * than RING records ahead in, so memory does not grow with the log.
 *
 * The hashes are the tree's own (mt.h, whose SHA-256 uses the CPU's SHA
 * instructions): a leaf is H(0x00 || record), a node
 * H(0x01 || left || right). */
#include "au_tlog.h"
#include "pb_err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RING 8192                  /* record hashes held at once */
#define STEP 256                   /* records between two reports of progress */

/* A checkpoint note the thread opened: under key number gen (0: not). */
struct opened {
	uint32_t gen;
	size_t blen;
	uint64_t size;
	uint8_t root[MT_HASH_LEN];
};

struct au_roots {
	const struct au_src *s;
	pthread_t th;
	int threaded;                  /* 0: hashed on demand in the caller */
	pthread_mutex_t mu;
	pthread_cond_t more;           /* done grew, or the thread ended */
	pthread_cond_t room;           /* used grew, or stop */
	uint64_t done;                 /* records hashed (mu) */
	uint64_t used;                 /* the walk needs no hash below it (mu) */
	int ended, stop;               /* (mu) */
	uint64_t seen;                 /* the walk's copy of done */
	struct au_key key;             /* the walk's key in force (mu) */
	uint32_t key_gen;              /* its number, 0: none yet (mu) */
	/* the thread's own */
	uint64_t next;                 /* the next record to hash */
	size_t next_cp;
	struct mt_range fr;
	uint8_t (*roots)[MT_HASH_LEN]; /* by checkpoint, in the source's order */
	struct opened *opened;         /* by checkpoint */
	uint8_t ring[RING][ST_HASH_LEN];
};

/* The signature of checkpoint cp, under the key the walk has now. */
static void open_ahead(struct au_roots *R, size_t cp)
{
	const struct au_cp *c = &R->s->cps[cp];
	struct au_note n = {.text = c->note, .len = c->len};
	struct au_key k;
	uint32_t gen;
	char why[AU_KEYNAME_MAX + 64];

	if (R->threaded)
		pthread_mutex_lock(&R->mu);
	k = R->key;
	gen = R->key_gen;
	if (R->threaded)
		pthread_mutex_unlock(&R->mu);
	if (!gen || au_note_open_checked(&n, k.name, k.pk, why, sizeof(why)) != AU_EXIT_OK)
		return;
	R->opened[cp] = (struct opened){.gen = gen, .blen = n.blen, .size = n.size};
	memcpy(R->opened[cp].root, n.root, MT_HASH_LEN);
}

/* Record R->next: 0, or 1 at a gap (the walk stops there first). A
 * checkpoint's root is taken when the tree reaches its size; one out of
 * order is passed over, as the walk refuses it before asking. */
static int hash_one(struct au_roots *R)
{
	const struct au_src *s = R->s;
	uint64_t i = R->next;
	uint8_t leaf[MT_HASH_LEN];
	const uint8_t *d;
	size_t n;

	if (i >= s->size || au_src_get(s, i, &d, &n) || n == 0)
		return 1;
	mt_sha256(d, n, R->ring[i % RING]);
	mt_leaf_hash(d, n, leaf);
	mt_range_add(&R->fr, leaf);
	for (; R->next_cp < s->ncps && s->cps[R->next_cp].size <= i + 1; R->next_cp++)
		if (s->cps[R->next_cp].size == i + 1) {
			mt_range_root(&R->fr, R->roots[R->next_cp]);
			open_ahead(R, R->next_cp);
		}
	R->next = i + 1;
	return 0;
}

static void *hash_all(void *arg)
{
	struct au_roots *R = arg;
	uint64_t used = 0;
	int stop = 0, end = 0;

	while (!stop && !end) {
		if (R->next - used >= RING) {
			pthread_mutex_lock(&R->mu);
			while (R->next - R->used >= RING && !R->stop)
				pthread_cond_wait(&R->room, &R->mu);
			used = R->used;
			stop = R->stop;
			pthread_mutex_unlock(&R->mu);
			continue;
		}
		end = hash_one(R);
		if (end || R->next % STEP == 0) {
			pthread_mutex_lock(&R->mu);
			R->done = R->next;
			R->ended = end;
			used = R->used;
			stop = R->stop;
			pthread_cond_signal(&R->more);
			pthread_mutex_unlock(&R->mu);
		}
	}
	return NULL;
}

int au_roots_start(const struct au_src *s, struct au_roots **out)
{
	struct au_roots *R = calloc(1, sizeof(*R));

	if (!R)
		return PB_ENOMEM;
	R->s = s;
	if (s->ncps && (!(R->roots = calloc(s->ncps, MT_HASH_LEN)) ||
	                !(R->opened = calloc(s->ncps, sizeof(*R->opened))))) {
		free(R->roots);
		free(R);
		return PB_ENOMEM;
	}
	pthread_mutex_init(&R->mu, NULL);
	pthread_cond_init(&R->more, NULL);
	pthread_cond_init(&R->room, NULL);
	/* Without a thread the same work is done as the walk asks. */
	R->threaded = pthread_create(&R->th, NULL, hash_all, R) == 0;
	*out = R;
	return PB_OK;
}

/* Until records [0, n) are hashed: PB_OK, or PB_ENOTFOUND when a gap
 * comes first. */
static int wait_for(struct au_roots *R, uint64_t n)
{
	if (n <= R->seen)
		return PB_OK;
	if (!R->threaded) {
		while (R->next < n)
			if (hash_one(R))
				return PB_ENOTFOUND;
		R->seen = R->next;
		return PB_OK;
	}
	pthread_mutex_lock(&R->mu);
	while (R->done < n && !R->ended)
		pthread_cond_wait(&R->more, &R->mu);
	R->seen = R->done;
	pthread_mutex_unlock(&R->mu);
	return n <= R->seen ? PB_OK : PB_ENOTFOUND;
}

int au_roots_hash(struct au_roots *R, uint64_t i, uint8_t out[ST_HASH_LEN])
{
	int rc;

	if ((rc = wait_for(R, i + 1)))
		return rc;
	memcpy(out, R->ring[i % RING], ST_HASH_LEN);
	/* The walk keeps its own copy: the slot may be used again. */
	if (R->threaded && (i + 1) % STEP == 0) {
		pthread_mutex_lock(&R->mu);
		R->used = i + 1;
		pthread_cond_signal(&R->room);
		pthread_mutex_unlock(&R->mu);
	}
	return PB_OK;
}

int au_roots_root(struct au_roots *R, size_t cp, uint8_t out[MT_HASH_LEN])
{
	int rc;

	if (cp >= R->s->ncps)
		return PB_EINVAL;
	if ((rc = wait_for(R, R->s->cps[cp].size)))
		return rc;
	memcpy(out, R->roots[cp], MT_HASH_LEN);
	return PB_OK;
}

uint32_t au_roots_key(struct au_roots *R, const struct au_key *k)
{
	uint32_t gen;

	if (R->threaded)
		pthread_mutex_lock(&R->mu);
	R->key = *k;
	gen = ++R->key_gen;
	if (R->threaded)
		pthread_mutex_unlock(&R->mu);
	return gen;
}

int au_roots_note(struct au_roots *R, size_t cp, uint32_t gen, struct au_note *n)
{
	const struct opened *o;

	if (cp >= R->s->ncps || wait_for(R, R->s->cps[cp].size) != PB_OK)
		return 0;
	o = &R->opened[cp];
	if (!gen || o->gen != gen)
		return 0;
	n->blen = o->blen;
	n->size = o->size;
	memcpy(n->root, o->root, MT_HASH_LEN);
	return 1;
}

void au_roots_stop(struct au_roots *R)
{
	if (!R)
		return;
	if (R->threaded) {
		pthread_mutex_lock(&R->mu);
		R->stop = 1;
		pthread_cond_signal(&R->room);
		pthread_mutex_unlock(&R->mu);
		pthread_join(R->th, NULL);
	}
	pthread_cond_destroy(&R->room);
	pthread_cond_destroy(&R->more);
	pthread_mutex_destroy(&R->mu);
	free(R->opened);
	free(R->roots);
	free(R);
}
