/* The signing pool: records are signed as they are appended, by helper
 * threads side by side with the writer, which only waits at the seal for
 * what is left.
 *
 * Most of an Ed25519 signature is R = r·B, and r need not come from the
 * message: any secret, uniformly random scalar used once gives a valid
 * signature (RFC 8032 derives r from the key and message only so that a
 * weak random number generator cannot leak the key). A low-priority
 * thread (SCHED_IDLE: it runs only on a core nothing else wants, such as
 * while the writer waits for its fsync) makes (r, R) pairs ahead into a
 * locked stock; a record then costs one SHA-512 and a scalar
 * multiply-add. Each pair is taken once and wiped. With the stock empty a
 * record is signed the RFC 8032 way, so the stock only ever saves time;
 * verifiers cannot tell the two apart. A process must not fork with the
 * store open (LMDB forbids it too): the child would share the stock. */
#include "st_int.h"
#include "mt.h"
#include "pb_err.h"

#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define STOCK_MAX 2048
#define WAKE_AT 16

struct nonce {
	uint8_t r[32];   /* secret scalar, uniform in [1, L) */
	uint8_t R[32];   /* r·B */
};

struct sti_pool {
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	int nthreads, stop;
	pthread_t threads[4];
	/* Records since the last seal or abort, in append order; under mu. */
	struct sti_rec **q;
	size_t nq, capq;
	size_t taken;                 /* q[0 .. taken) are claimed */
	int busy;                     /* claimed and being signed */
	int sleeping;                 /* helpers waiting for work */
	int waiting;                  /* the writer waits for busy == 0 */
	/* The nonce stock, in sodium_malloc'd (locked, guarded) memory. */
	pthread_mutex_t nmu;
	pthread_cond_t ncv;
	struct nonce *stock;
	_Atomic size_t nstock;        /* changed under nmu; read without it by sti_pool_add */
	int maker_waits, maker_stop, has_maker;
	pthread_t maker;
};

/* Never waits: the maker runs at idle priority, and a signer blocked on a
 * lock it holds would wait for a core to fall idle. */
static int take_nonce(struct sti_pool *p, struct nonce *out)
{
	int got = 0;

	if (pthread_mutex_trylock(&p->nmu) != 0)
		return 0;
	if (p->nstock) {
		struct nonce *n = &p->stock[--p->nstock];
		memcpy(out, n, sizeof(*out));
		sodium_memzero(n, sizeof(*n));
		got = 1;
		if (p->maker_waits)
			pthread_cond_signal(&p->ncv);
	}
	pthread_mutex_unlock(&p->nmu);
	return got;
}

static void *maker_main(void *arg)
{
	struct sti_pool *p = arg;
	struct sched_param sp = {0};
	struct nonce n;

	pthread_setname_np(pthread_self(), "st-nonce");
	/* Refused (some sandboxes): the stock is then made at normal priority. */
	(void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	pthread_mutex_lock(&p->nmu);
	while (!p->maker_stop) {
		if (p->nstock == STOCK_MAX) {
			p->maker_waits = 1;
			pthread_cond_wait(&p->ncv, &p->nmu);
			p->maker_waits = 0;
			continue;
		}
		pthread_mutex_unlock(&p->nmu);
		crypto_core_ed25519_scalar_random(n.r);
		if (crypto_scalarmult_ed25519_base_noclamp(n.R, n.r) != 0) {
			pthread_mutex_lock(&p->nmu);
			continue;   /* r = 0 only: never, but never use it */
		}
		pthread_mutex_lock(&p->nmu);
		if (p->nstock < STOCK_MAX)
			p->stock[p->nstock++] = n;
	}
	pthread_mutex_unlock(&p->nmu);
	sodium_memzero(&n, sizeof(n));
	return NULL;
}

/* Ed25519 with a nonce from the stock: S = r + SHA-512(R || A || M)·a. */
static void sign_with(const struct nonce *n, uint8_t sig[64], const uint8_t *m, size_t mlen,
                      const uint8_t sk[64])
{
	crypto_hash_sha512_state st;
	uint8_t h[64], k[32], wide[64], a[32];

	/* a: the clamped half of SHA-512(seed), reduced mod L. */
	crypto_hash_sha512(wide, sk, 32);
	wide[0] &= 248;
	wide[31] &= 127;
	wide[31] |= 64;
	memset(wide + 32, 0, 32);
	crypto_core_ed25519_scalar_reduce(a, wide);
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, n->R, 32);
	crypto_hash_sha512_update(&st, sk + 32, 32);   /* the public key */
	crypto_hash_sha512_update(&st, m, mlen);
	crypto_hash_sha512_final(&st, h);
	crypto_core_ed25519_scalar_reduce(k, h);
	crypto_core_ed25519_scalar_mul(k, k, a);
	memcpy(sig, n->R, 32);
	crypto_core_ed25519_scalar_add(sig + 32, k, n->r);
	sodium_memzero(wide, sizeof(wide));
	sodium_memzero(a, sizeof(a));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(&st, sizeof(st));
}

static void sign(struct sti_pool *p, uint8_t sig[64], const uint8_t *m, size_t mlen,
              const uint8_t sk[64])
{
	struct nonce n;

	if (p && take_nonce(p, &n)) {
		sign_with(&n, sig, m, mlen, sk);
		sodium_memzero(&n, sizeof(n));
	} else {
		crypto_sign_detached(sig, NULL, m, mlen, sk);
	}
}

/* Signs one record unless it was dropped first; its leaf hash covers the
 * signature, so it is computed here too. */
static void sign_rec(struct sti_pool *p, struct sti_rec *r)
{
	int expect = STI_REC_QUEUED;
	size_t body = r->len - ST_SIG_LEN;

	if (!atomic_compare_exchange_strong(&r->state, &expect, STI_REC_BUSY))
		return;
	sign(p, r->value + body, r->value, body, r->sk);
	mt_leaf_hash(r->value, r->len, r->leaf);
	atomic_store(&r->state, STI_REC_SIGNED);
}

/* Under mu: claims the next record, signs it without the lock. */
static void sign_next(struct sti_pool *p)
{
	struct sti_rec *r = p->q[p->taken++];

	p->busy++;
	pthread_mutex_unlock(&p->mu);
	sign_rec(p, r);
	pthread_mutex_lock(&p->mu);
	if (--p->busy == 0 && p->waiting)
		pthread_cond_signal(&p->idle);
}

static void *pool_main(void *arg)
{
	struct sti_pool *p = arg;

	pthread_setname_np(pthread_self(), "st-sign");
	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		if (p->taken < p->nq) {
			sign_next(p);
			continue;
		}
		p->sleeping++;
		pthread_cond_wait(&p->work, &p->mu);
		p->sleeping--;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int sti_pool_start(struct sti_pool **out, int nthreads)
{
	struct sti_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return PB_ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->idle, NULL);
	pthread_mutex_init(&p->nmu, NULL);
	pthread_cond_init(&p->ncv, NULL);
	/* Without its locked memory or its thread there is no stock, and
	 * every record is signed the RFC 8032 way. */
	p->stock = sodium_malloc(STOCK_MAX * sizeof(*p->stock));
	if (p->stock && pthread_create(&p->maker, NULL, maker_main, p) == 0)
		p->has_maker = 1;
	for (int i = 0; i < nthreads && i < 4; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0)
			break;
		p->nthreads++;
	}
	*out = p;
	return PB_OK;
}

void sti_pool_stop(struct sti_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	if (p->has_maker) {
		pthread_mutex_lock(&p->nmu);
		p->maker_stop = 1;
		pthread_cond_signal(&p->ncv);
		pthread_mutex_unlock(&p->nmu);
		pthread_join(p->maker, NULL);
	}
	/* Helpers are gone: nothing else touches the records. */
	for (size_t i = 0; i < p->nq; i++)
		free(p->q[i]);
	free(p->q);
	sodium_free(p->stock);   /* wipes it */
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->idle);
	pthread_mutex_destroy(&p->nmu);
	pthread_cond_destroy(&p->ncv);
	free(p);
}

int sti_pool_add(struct sti_pool *p, struct sti_rec *rec)
{
	pthread_mutex_lock(&p->mu);
	if (p->nq == p->capq) {
		size_t cap = p->capq ? p->capq * 2 : 256;
		struct sti_rec **q = realloc(p->q, cap * sizeof(*q));
		if (!q) {
			pthread_mutex_unlock(&p->mu);
			return PB_ENOMEM;
		}
		p->q = q;
		p->capq = cap;
	}
	p->q[p->nq++] = rec;
	/* Only a sleeping helper needs the (system call) wake-up, and with
	 * stocked nonces a record takes less time to sign than a wake-up:
	 * then a helper is woken once per WAKE_AT records, and the seal signs
	 * the rest. */
	if (p->sleeping && (p->nq - p->taken >= WAKE_AT || atomic_load_explicit(&p->nstock,
	                                                   memory_order_relaxed) < WAKE_AT))
		pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return PB_OK;
}

static void wait_idle(struct sti_pool *p)
{
	p->waiting = 1;
	while (p->busy)
		pthread_cond_wait(&p->idle, &p->mu);
	p->waiting = 0;
}

void sti_pool_finish(struct sti_pool *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->taken < p->nq)
		sign_next(p);
	wait_idle(p);
	pthread_mutex_unlock(&p->mu);
}

void sti_pool_reset(struct sti_pool *p)
{
	pthread_mutex_lock(&p->mu);
	/* Unclaimed records are never looked at again: skip them. */
	p->taken = p->nq;
	wait_idle(p);
	for (size_t i = 0; i < p->nq; i++)
		free(p->q[i]);
	p->nq = p->taken = 0;
	pthread_mutex_unlock(&p->mu);
}
