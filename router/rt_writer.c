/* The one writer thread. It gathers pending requests for a short window,
 * applies each in its own nested transaction (a failing request aborts
 * alone; a batch of plain submits first tries without, see direct_ok),
 * expires leases, commits the batch durably once, and only then answers
 * every request in it: group commit without weaker durability.
 *
 * Answering (packing each response, handing it to nng, publishing the
 * batch's records) is done by a second thread, the answerer, so the
 * writer can start the next batch as soon as the commit returns. Batches
 * reach the answerer in commit order. */
#include "rt.h"
#include "rt_chan.h"
#include "rt_search.h"
#include "rt_witness.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"
#include "pb_wire.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TIMED_PER_BATCH 64
#define TICK_MS 200        /* how often leases and escalations are looked at when idle */

struct rt_writer {
	struct rt_core *core;
	rt_publish_fn publish;
	void *publish_arg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rt_op *head, *tail;   /* pending, under mu */
	int stop;                    /* stopping: submits answer at once, the thread drains */
	struct rt_op *waiters;       /* parked pulls; writer thread only */
	struct rt_fence *fence;      /* given-up requests' keys; writer thread only */
	uint64_t *pub;               /* records to publish after a commit */
	size_t npub, cappub;
	/* committed batches for the answerer, oldest first, under amu */
	pthread_t answerer;
	pthread_mutex_t amu;
	pthread_cond_t acv;
	struct rt_answers *ahead, *atail;
	int astop;
};

/* One committed batch: its ops to answer, then the records to publish. */
struct rt_answers {
	struct rt_answers *next;
	struct rt_op *done;
	size_t npub;
	uint64_t pub[];
};

static const int64_t bucket_us[] = {1000, 2000, 5000, 10000, 20000, 50000, 100000, 250000};

static void record_commit(struct rt_core *core, int64_t us)
{
	int b = 0;

	while (b < 8 && us > bucket_us[b])
		b++;
	atomic_fetch_add(&core->commits, 1);
	atomic_fetch_add(&core->commit_us_sum, (uint64_t)us);
	atomic_fetch_add(&core->commit_us_bucket[b], 1);
}

/* Health for /healthz (writer_queued counts requests from submission until
 * their batch is processed): a write refused for a full map marks the store
 * full until a batch commits with none refused; every commit (idle ticks
 * too) shows the writer is alive. */
static void note_health(struct rt_core *core, int worked, int rc, const struct rt_op *done)
{
	int full = rc == PB_EFULL;

	for (const struct rt_op *op = done; op && !full; op = op->next)
		full = op->res.resp.code == PB_EFULL;
	if (full)
		atomic_store(&core->store_full, 1);
	else if (rc == PB_OK && worked)
		atomic_store(&core->store_full, 0);
	if (rc == PB_OK)
		atomic_store(&core->last_commit_ms, pb_mono_us() / 1000);
}

void rt_health_stats(struct rt_core *core, int64_t now_ms, Mailroom__StatsResp *sr)
{
	int64_t last = atomic_load(&core->last_commit_ms), queued = atomic_load(&core->writer_queued);
	int64_t mono = pb_mono_us() / 1000;

	(void)now_ms;
	sr->store_full = atomic_load(&core->store_full) != 0;
	sr->writer_queued = queued > 0 ? (uint64_t)queued : 0;
	sr->writer_idle_ms = last > 0 && mono > last ? (uint64_t)(mono - last) : 0;
}

void rt_pack(struct rt_op *op)
{
	static const uint8_t oom[] = {0x08, PB_ENOMEM};   /* Response{code = PB_ENOMEM} */

	if (pb_wire_pack_response(&op->res.resp, &op->out, &op->outlen) == PB_OK)
		return;
	op->out = malloc(sizeof(oom));
	if (op->out) {
		memcpy(op->out, oom, sizeof(oom));
		op->outlen = sizeof(oom);
	} else {
		op->outlen = 0;
	}
}

static void finish(struct rt_op *op)
{
	rt_pack(op);
	rt_result_clear(&op->res);
	rt_prep_free(&op->prep);   /* after the answer: the stored message pointed into it */
	op->done(op, op->arg);
}

static int note_records(struct rt_writer *w, const struct rt_result *res)
{
	if (res->nrecords == 0)
		return PB_OK;
	size_t n = rt_nrecords(res);

	if (w->npub + n > w->cappub) {
		size_t cap = w->cappub ? w->cappub * 2 : 1024;
		while (cap < w->npub + n)
			cap *= 2;
		uint64_t *p = realloc(w->pub, cap * sizeof(*p));
		if (!p)
			return PB_ENOMEM;
		w->pub = p;
		w->cappub = cap;
	}
	for (size_t i = 0; i < n; i++)
		w->pub[w->npub++] = rt_record_at(res, i);
	return PB_OK;
}

/* Wakes parked pulls on a queue that gained a message. */
static void wake_waiters(struct rt_writer *w, const char *queue, struct rt_op **batch)
{
	struct rt_op **pp = &w->waiters;

	while (*pp) {
		struct rt_op *op = *pp;
		if (strcmp(op->req->pull->queue, queue) == 0) {
			*pp = op->next;
			op->next = *batch;
			*batch = op;
		} else {
			pp = &op->next;
		}
	}
}

static void answer(struct rt_writer *w, struct rt_op *done, const uint64_t *pub, size_t npub)
{
	struct rt_op *next;

	if (npub && w->publish) {
		st_txn *r;
		if (st_txn_begin(w->core->store, NULL, 1, &r) == PB_OK) {
			w->publish(r, pub, (int)npub, w->publish_arg);
			st_txn_abort(r);
		}
	}
	for (struct rt_op *op = done; op; op = next) {
		next = op->next;
		finish(op);
	}
	/* After the answers: the search index follows on its own thread. */
	if (npub)
		rt_search_kick(w->core);
}

/* Passes a committed batch to the answerer; answers it here if the
 * batch cannot be queued. */
static void hand_off(struct rt_writer *w, struct rt_op *done)
{
	struct rt_answers *a;

	if (!done && !w->npub)
		return;
	a = malloc(sizeof(*a) + w->npub * sizeof(a->pub[0]));
	if (!a) {
		answer(w, done, w->pub, w->npub);
		return;
	}
	a->next = NULL;
	a->done = done;
	a->npub = w->npub;
	if (w->npub)
		memcpy(a->pub, w->pub, w->npub * sizeof(a->pub[0]));
	pthread_mutex_lock(&w->amu);
	if (w->atail)
		w->atail->next = a;
	else
		w->ahead = a;
	w->atail = a;
	pthread_cond_signal(&w->acv);
	pthread_mutex_unlock(&w->amu);
}

static void *answerer_main(void *arg)
{
	struct rt_writer *w = arg;

	pthread_setname_np(pthread_self(), "rt-answer");
	pthread_mutex_lock(&w->amu);
	for (;;) {
		while (!w->ahead && !w->astop)
			pthread_cond_wait(&w->acv, &w->amu);
		struct rt_answers *a = w->ahead;
		if (!a)
			break;   /* stopping, and everything is answered */
		w->ahead = w->atail = NULL;
		pthread_mutex_unlock(&w->amu);
		while (a) {
			struct rt_answers *next = a->next;
			answer(w, a->done, a->pub, a->npub);
			free(a);
			a = next;
		}
		pthread_mutex_lock(&w->amu);
	}
	pthread_mutex_unlock(&w->amu);
	return NULL;
}

typedef int (*timed_fn)(struct rt_core *, st_txn *, int64_t, struct rt_result *);

/* Work the clock brings (expired leases, escalation steps), each item in
 * its own nested transaction like a request, bounded per batch. */
static void timed_work(struct rt_writer *w, st_txn *txn, int64_t now, timed_fn fn, const char *what,
                       char (*touched)[PB_NAME_MAX], int *ntouched)
{
	for (int i = 0; txn && i < TIMED_PER_BATCH; i++) {
		struct rt_result res;
		st_txn *child;
		rt_result_init(&res);
		if (st_txn_begin(w->core->store, txn, 0, &child))
			break;
		int rc = fn(w->core, child, now, &res);
		if (rc == PB_OK && (rc = st_txn_commit(child)) == PB_OK) {
			note_records(w, &res);
			if (res.touched_queue[0] && *ntouched < 64)
				memcpy(touched[(*ntouched)++], res.touched_queue, PB_NAME_MAX);
		} else if (rc != PB_OK) {
			st_txn_abort(child);
		}
		rt_result_clear(&res);
		if (rc) {
			if (rc != PB_ENOTFOUND)
				pb_warn("%s failed: %s", what, pb_err_str(rc));
			break;
		}
	}
}

/* After a request is applied: a pull whose wait goes on is parked, any
 * other op joins the answered list, with its records and the queues it
 * touched noted. */
static void settle(struct rt_writer *w, struct rt_op *op, int64_t now, struct rt_op **done,
                   char (*touched)[PB_NAME_MAX], int *ntouched)
{
	if (op->res.park && now < op->wait_until_ms) {
		rt_result_clear(&op->res);
		op->next = w->waiters;
		w->waiters = op;
		return;
	}
	if (op->res.resp.code == PB_OK && note_records(w, &op->res) == PB_OK) {
		if (op->res.touched_queue[0] && *ntouched < 64)
			memcpy(touched[(*ntouched)++], op->res.touched_queue, PB_NAME_MAX);
		for (int i = 0; i < op->res.nextra && *ntouched < 64; i++)
			memcpy(touched[(*ntouched)++], op->res.extra_queues[i], PB_NAME_MAX);
	}
	op->next = *done;
	*done = op;
}

/* Each request in its own nested transaction, so a failing one aborts
 * alone. txn NULL: the batch's could not begin (rc says why). */
static void apply_nested(struct rt_writer *w, struct rt_op *batch, st_txn *txn, int rc,
                         int64_t now, struct rt_op **done, char (*touched)[PB_NAME_MAX],
                         int *ntouched)
{
	struct rt_core *core = w->core;
	struct rt_op *next;
	st_txn *child;

	for (struct rt_op *op = batch; op; op = next) {
		next = op->next;
		rt_result_init(&op->res);
		op->res.prep = &op->prep;
		if (rc) {
			rt_fail(&op->res, rc, pb_err_name(rc), "store unavailable");
		} else if ((rc = st_txn_begin(core->store, txn, 0, &child)) == PB_OK) {
			if (rt_fence_gate(w->fence, core, child, op->req, now, &op->res)) {
				st_txn_abort(child);   /* a resolve reads; a dropped one writes nothing */
			} else if (rt_apply(core, child, &op->who, op->req, now, &op->res) == PB_OK &&
			    !op->res.park) {
				int crc = st_txn_commit(child);
				if (crc) {
					rt_result_clear(&op->res);
					rt_fail(&op->res, crc, pb_err_name(crc), "cannot store");
				}
			} else {
				st_txn_abort(child);
			}
		} else {
			rt_fail(&op->res, rc, pb_err_name(rc), "store unavailable");
			rc = PB_OK;   /* the batch goes on; this one failed */
		}
		settle(w, op, now, done, touched, ntouched);
	}
}

/* The optimistic path: a nested transaction costs LMDB a copy of every
 * page it touches, so a batch of plain-channel submits (nothing else,
 * no resolve) is applied straight in the batch's transaction. Their
 * only effects outside it are the result, the prepared repeat scan and
 * the bigram cache; rewind_direct undoes the first two, and the cache
 * may keep sets under ids the abort took away, which no index names.
 * A resolve fences keys and a pull parks: those batches stay nested. */
static int direct_ok(const struct rt_op *batch)
{
	for (const struct rt_op *op = batch; op; op = op->next) {
		const Mailroom__Request *r = op->req;
		if (r->op_case != MAILROOM__REQUEST__OP_SUBMIT || r->resolve || !r->submit ||
		    rt_chan_of(r->submit->channel) != &rt_chan_plain_row)
			return 0;
	}
	return batch != NULL;
}

/* 0 when every request applied; otherwise one failed and txn holds its
 * half-done writes: the caller aborts it and redoes the batch nested.
 * *stop is the first op this pass did not reach. */
static int apply_direct(struct rt_writer *w, struct rt_op *batch, st_txn *txn, int64_t now,
                        struct rt_op **stop)
{
	for (struct rt_op *op = batch; op; op = op->next) {
		rt_result_init(&op->res);
		op->res.prep = &op->prep;
		*stop = op->next;
		if (rt_fence_gate(w->fence, w->core, txn, op->req, now, &op->res))
			continue;   /* dropped unapplied: it wrote nothing */
		if (rt_apply(w->core, txn, &op->who, op->req, now, &op->res) != PB_OK ||
		    op->res.resp.code != PB_OK || op->res.park)
			return 1;
	}
	return 0;
}

/* Before the redo: the direct pass's results go, and so does each
 * prepared repeat scan, whose finding may name a message of the aborted
 * transaction. */
static void rewind_direct(struct rt_op *batch, const struct rt_op *stop)
{
	for (struct rt_op *op = batch; op != stop; op = op->next) {
		rt_result_clear(&op->res);
		rt_prep_rewind(&op->prep);
	}
}

static void process(struct rt_writer *w, struct rt_op *batch)
{
	struct rt_core *core = w->core;
	struct rt_op *done = NULL, *next, *woken = NULL, *stop = NULL;
	char touched[64][PB_NAME_MAX];
	int ntouched = 0;
	int64_t now = pb_now_ms(), t0 = pb_mono_us();
	st_txn *txn = NULL;
	int rc, direct;

	w->npub = 0;
	rc = st_txn_begin(core->store, NULL, 0, &txn);
	direct = rc == PB_OK && direct_ok(batch);
	if (direct && apply_direct(w, batch, txn, now, &stop)) {
		/* One failed: the batch again the careful way, results as ever. */
		rewind_direct(batch, stop);
		st_txn_abort(txn);
		txn = NULL;
		direct = 0;
		atomic_fetch_add(&core->writer_redos, 1);
		rc = st_txn_begin(core->store, NULL, 0, &txn);
	}
	if (direct) {
		for (struct rt_op *op = batch; op; op = next) {
			next = op->next;
			settle(w, op, now, &done, touched, &ntouched);
		}
	} else {
		apply_nested(w, batch, txn, rc, now, &done, touched, &ntouched);
	}

	timed_work(w, txn, now, rt_expire_one, "lease expiry", touched, &ntouched);
	timed_work(w, txn, now, rt_escalate_one, "escalation", touched, &ntouched);
	/* Cosignatures the pusher verified ride along: no fsync of their own. */
	rt_witness_store(core, txn);

	/* One signed checkpoint per batch that added records, in the batch's
	 * own transaction: it becomes visible only with the records it
	 * covers, durably. Then the receipts that prove against it. */
	if (txn && (rc = st_log_seal(txn)) != PB_OK)
		pb_error("cannot write the checkpoint: %s", pb_err_str(rc));
	/* Every receipt proves against the same checkpoint: read it once. */
	struct rt_note note = {0};
	for (struct rt_op *op = done; txn && op && !rc; op = op->next) {
		if (!op->res.receipt || op->res.resp.code != PB_OK)
			continue;
		if (!note.text)
			rc = rt_witness_note(txn, 0, &note.text, &note.len, &note.size);
		if (!rc)
			rc = rt_result_receipts_at(core, txn, &op->res, &note);
	}
	free(note.text);
	if (txn && rc) {
		st_txn_abort(txn);
		txn = NULL;
	}
	if (txn) {
		int worked = batch != NULL || w->npub > 0;
		rc = st_txn_commit(txn);
		/* Idle ticks commit nothing; they would only blur the histogram. */
		if (worked)
			record_commit(core, pb_mono_us() - t0);
	}
	note_health(core, batch != NULL, rc, done);
	if (rc) {
		pb_error("commit failed: %s; answering the batch with an error", pb_err_str(rc));
		ntouched = 0;
		w->npub = 0;
		for (struct rt_op *op = done; op; op = op->next)
			if (op->res.resp.code == PB_OK) {
				rt_result_clear(&op->res);
				rt_fail(&op->res, rc == PB_EFULL ? PB_EFULL : PB_EUNAVAIL,
				        rc == PB_EFULL ? "full" : "unavailable", "nothing was stored");
			}
	}
	hand_off(w, done);
	for (int i = 0; i < ntouched; i++)
		wake_waiters(w, touched[i], &woken);
	if (woken) {
		/* Woken pulls go first in the next batch. */
		pthread_mutex_lock(&w->mu);
		struct rt_op *last = woken;
		int64_t n = 1;
		while (last->next) {
			last = last->next;
			n++;
		}
		atomic_fetch_add(&core->writer_queued, n);
		last->next = w->head;
		w->head = woken;
		if (!w->tail)
			w->tail = last;
		pthread_mutex_unlock(&w->mu);
	}
}

static void deadline_in(struct timespec *ts, int64_t us)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += us / 1000000;
	ts->tv_nsec += (us % 1000000) * 1000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Moves parked pulls whose wait is over into the batch, so they are
 * answered (empty, or with a message that arrived meanwhile). */
static int64_t expire_waiters(struct rt_writer *w, struct rt_op **batch, int64_t now)
{
	int64_t next = now + TICK_MS;
	struct rt_op **pp = &w->waiters;

	while (*pp) {
		struct rt_op *op = *pp;
		if (op->wait_until_ms <= now) {
			*pp = op->next;
			op->next = *batch;
			*batch = op;
		} else {
			if (op->wait_until_ms < next)
				next = op->wait_until_ms;
			pp = &op->next;
		}
	}
	return next;
}

static void *writer_main(void *arg)
{
	struct rt_writer *w = arg;
	const struct pb_conf *c = w->core->conf;
	int64_t next_tick = 0;
	int32_t cal_day = pb_day_of_ms(pb_now_ms());   /* rt_main warned at start */

	/* Named, so per-thread tools (top -H, perf) tell the stages apart. */
	pthread_setname_np(pthread_self(), "rt-writer");
	for (;;) {
		struct rt_op *batch = NULL, **tailp = &batch;
		struct timespec ts;
		int64_t now = pb_now_ms();
		int n = 0;

		pthread_mutex_lock(&w->mu);
		if (!w->head && !w->stop && now < next_tick) {
			deadline_in(&ts, (next_tick - now) * 1000);
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		}
		if (w->stop && !w->head) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		/* A short window lets concurrent requests share one fsync. */
		if (w->head && c->commit_window_us > 0 && !w->head->next) {
			deadline_in(&ts, c->commit_window_us);
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		}
		while (w->head && n < c->commit_max_batch) {
			struct rt_op *op = w->head;
			w->head = op->next;
			op->next = NULL;
			*tailp = op;
			tailp = &op->next;
			n++;
		}

		if (!w->head)
			w->tail = NULL;
		pthread_mutex_unlock(&w->mu);

		now = pb_now_ms();
		rt_reload_apply(w->core);   /* between batches: no transaction open */
		rt_calendar_check(w->core, now, &cal_day);
		next_tick = expire_waiters(w, &batch, now);
		if (batch || now >= next_tick - TICK_MS)
			process(w, batch);
		/* Counted until processed: a writer stuck in a commit has work. */
		atomic_fetch_sub(&w->core->writer_queued, n);
	}
	/* Shutting down: parked pulls end empty, and the answerer finishes
	 * what it was given before the writer counts as stopped. */
	while (w->waiters) {
		struct rt_op *op = w->waiters;
		w->waiters = op->next;
		rt_result_init(&op->res);
		rt_fail(&op->res, PB_EUNAVAIL, "unavailable", "router stopping");
		finish(op);
	}
	pthread_mutex_lock(&w->amu);
	w->astop = 1;
	pthread_cond_signal(&w->acv);
	pthread_mutex_unlock(&w->amu);
	pthread_join(w->answerer, NULL);
	return NULL;
}

int rt_writer_start(struct rt_core *core, rt_publish_fn publish, void *arg, struct rt_writer **out)
{
	struct rt_writer *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;

	if (!w)
		return PB_ENOMEM;
	w->core = core;
	atomic_store(&core->last_commit_ms, pb_mono_us() / 1000);   /* idle counts from start */
	w->publish = publish;
	w->publish_arg = arg;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&w->amu, NULL);
	pthread_cond_init(&w->acv, NULL);
	/* A fenced key is held while a copy signed before the fence could
	 * still be admitted (request_skew_seconds), twice over. */
	if (rt_fence_new(2000 * (int64_t)core->conf->request_skew_seconds, &w->fence)) {
		rt_writer_free(w);
		return PB_ENOMEM;
	}
	if (pthread_create(&w->answerer, NULL, answerer_main, w) != 0) {
		rt_writer_free(w);
		return PB_EIO;
	}
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_mutex_lock(&w->amu);
		w->astop = 1;
		pthread_cond_signal(&w->acv);
		pthread_mutex_unlock(&w->amu);
		pthread_join(w->answerer, NULL);
		rt_writer_free(w);
		return PB_EIO;
	}
	*out = w;
	return PB_OK;
}

void rt_writer_submit(struct rt_writer *w, struct rt_op *op)
{
	op->next = NULL;
	rt_writer_submit_list(w, op);
}

void rt_writer_submit_list(struct rt_writer *w, struct rt_op *ops)
{
	struct rt_op *last = ops;
	int64_t n = 1;

	if (!ops)
		return;
	while (last->next) {
		last = last->next;
		n++;
	}
	pthread_mutex_lock(&w->mu);
	if (w->stop) {
		/* Shutting down: answer at once rather than strand the caller,
		 * and so that a steady load cannot keep the drain from ending:
		 * the writer commits what it held when the stop came, no more.
		 * A 503 here stored nothing, as it says. */
		pthread_mutex_unlock(&w->mu);
		while (ops) {
			struct rt_op *op = ops;
			ops = op->next;
			rt_result_init(&op->res);
			rt_fail(&op->res, PB_EUNAVAIL, "unavailable", "router stopping");
			finish(op);
		}
		return;
	}
	if (w->tail)
		w->tail->next = ops;
	else
		w->head = ops;
	w->tail = last;
	atomic_fetch_add(&w->core->writer_queued, n);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void rt_writer_stop(struct rt_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	/* The thread answered everything it held; submits since the stop
	 * answered themselves. */
	pthread_mutex_lock(&w->mu);
	struct rt_op *left = w->head;
	w->head = w->tail = NULL;
	pthread_mutex_unlock(&w->mu);
	while (left) {
		struct rt_op *op = left;
		left = op->next;
		rt_result_init(&op->res);
		rt_fail(&op->res, PB_EUNAVAIL, "unavailable", "router stopping");
		finish(op);
	}
}

void rt_writer_free(struct rt_writer *w)
{
	if (!w)
		return;
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->amu);
	pthread_cond_destroy(&w->acv);
	free(w->pub);
	rt_fence_free(w->fence);
	free(w);
}
