/* What makes a gateway's 503 honest (router/README.md, "Honest answers").
 * Before the writer applies a request it asks here whether it still may:
 * a request whose sender's deadline has passed is dropped unapplied, and
 * so is a submit whose idempotency key a resolve has fenced. A resolve
 * (Request.resolve) answers from the store whether its key was stored;
 * when it was not, it fences the key, so no copy still on its way can be
 * stored after the gateway said "not stored". The fence lives on the
 * writer thread only, and in memory: a copy that outlives the router is
 * refused as signed before its start. */
#include "rt.h"
#include "rt_ops.h"
#include "pb_err.h"

#include <stdlib.h>
#include <string.h>

#define FENCE_MAX 65536

struct fence_entry {
	uint8_t key[32];
	uint64_t ts_ms;     /* the resolve's signing time: older copies are dropped */
	int64_t until_ms;
};

struct rt_fence {
	int64_t keep_ms;
	size_t n, cap;
	struct fence_entry *e;
};

int rt_fence_new(int64_t keep_ms, struct rt_fence **out)
{
	struct rt_fence *f = calloc(1, sizeof(*f));

	if (!f)
		return PB_ENOMEM;
	f->keep_ms = keep_ms;
	*out = f;
	return PB_OK;
}

void rt_fence_free(struct rt_fence *f)
{
	if (!f)
		return;
	free(f->e);
	free(f);
}

/* Drops the entries whose copies can no longer arrive; 1 when a copy of
 * key signed at ts is held back. A request signed after the resolve (the
 * client's retry) is a new one, and goes on. */
static int fenced(struct rt_fence *f, const uint8_t key[32], uint64_t ts, int64_t now)
{
	int hit = 0;

	for (size_t i = 0; i < f->n;) {
		if (f->e[i].until_ms <= now) {
			f->e[i] = f->e[--f->n];
			continue;
		}
		if (memcmp(f->e[i].key, key, 32) == 0 && ts <= f->e[i].ts_ms)
			hit = 1;
		i++;
	}
	return hit;
}

static int fence_add(struct rt_fence *f, const uint8_t key[32], uint64_t ts, int64_t now)
{
	if (fenced(f, key, ts, now))
		return PB_OK;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		struct fence_entry *e;
		if (cap > FENCE_MAX || !(e = realloc(f->e, cap * sizeof(*e))))
			return PB_EFULL;
		f->e = e;
		f->cap = cap;
	}
	memcpy(f->e[f->n].key, key, 32);
	f->e[f->n].ts_ms = ts;
	f->e[f->n].until_ms = now + f->keep_ms;
	f->n++;
	return PB_OK;
}

static int has_key(const Mailroom__Request *req)
{
	return req->op_case == MAILROOM__REQUEST__OP_SUBMIT && req->submit->idem_key.len == 32;
}

static int resolve(struct rt_fence *f, struct rt_core *core, st_txn *t,
                   const Mailroom__Request *req, int64_t now, struct rt_result *res)
{
	Mailroom__StoredMessage *m;
	int rc;

	if (!has_key(req))
		return rt_fail(res, PB_EINVAL, "invalid_request", "resolve needs an idempotency key");
	rc = rt_idem_find(t, req->submit, res, &m);
	if (rc == PB_OK)
		return rt_submit_answer(core, t, res, m, 1);
	if (rc != PB_ENOTFOUND)
		return rc;   /* res says why (a mismatch, a read error) */
	/* Still unknown to the gateway when the fence is full: it asks again. */
	if (fence_add(f, req->submit->idem_key.data, req->ts_ms, now))
		return rt_fail(res, PB_EUNAVAIL, "unavailable", "cannot hold the key; ask again");
	return rt_fail(res, PB_EUNAVAIL, "not_stored", "nothing was stored");
}

int rt_fence_gate(struct rt_fence *f, struct rt_core *core, st_txn *t,
                  const Mailroom__Request *req, int64_t now, struct rt_result *res)
{
	if (req->resolve) {
		resolve(f, core, t, req, now, res);
		return 1;
	}
	if ((req->deadline_ms && (uint64_t)now >= req->deadline_ms) ||
	    (has_key(req) && f->n && fenced(f, req->submit->idem_key.data, req->ts_ms, now))) {
		rt_fail(res, PB_EUNAVAIL, "expired", "the sender gave up; nothing was stored");
		return 1;
	}
	return 0;
}
