/* The attachment scanner (rt.h, rt_scanner_start): a thread that wakes
 * every [attachments] scan_interval_ms, finds the files still pending
 * while the counter says there are any, sends each to clamd (rt_clamd.c)
 * and hands each verdict to the writer as a ScanReq from the router
 * itself. Files wait, never passed, while clamd cannot be reached. */
#include "rt_clamd.h"
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"
#include "pb_time.h"
#include "st_attach.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCAN_BATCH 32            /* files one pass takes */

struct pending_file {
	uint8_t id[PB_ID_LEN];
	uint32_t n;
	int reply;
	uint8_t name[ST_ATTACH_NAME_LEN];
};

struct rt_scanner {
	struct rt_core *core;
	struct rt_writer *writer;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, op_done;
};

static atomic_int scanner_up = 1;

int rt_scanner_up(void)
{
	return atomic_load(&scanner_up);
}

struct collect {
	struct pending_file v[SCAN_BATCH];
	size_t n;
};

static void collect_list(struct collect *c, const Mailroom__StoredMessage *m,
                         Mailroom__Attachment **list, size_t n, int reply)
{
	for (size_t i = 0; i < n && c->n < SCAN_BATCH; i++) {
		const Mailroom__Attachment *a = list[i];
		if (a->scan != MAILROOM__SCAN_STATE__SCAN_PENDING || m->id.len != PB_ID_LEN ||
		    a->name_hash.len != ST_ATTACH_NAME_LEN)
			continue;
		memcpy(c->v[c->n].id, m->id.data, PB_ID_LEN);
		memcpy(c->v[c->n].name, a->name_hash.data, ST_ATTACH_NAME_LEN);
		c->v[c->n].n = (uint32_t)i;
		c->v[c->n].reply = reply;
		c->n++;
	}
}

/* The citizen's files and the handler's, both before anyone opens them. */
static int collect_one(const Mailroom__StoredMessage *m, void *arg)
{
	struct collect *c = arg;

	collect_list(c, m, m->attachments, m->n_attachments, 0);
	collect_list(c, m, m->reply_attachments, m->n_reply_attachments, 1);
	return c->n < SCAN_BATCH ? 0 : 1;
}

static void op_done(struct rt_op *op, void *arg)
{
	struct rt_scanner *s = arg;

	free(op->out);
	op->out = NULL;
	pthread_mutex_lock(&s->mu);
	s->op_done = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Sends one verdict through the writer and waits for its commit. */
static void record(struct rt_scanner *s, const struct pending_file *f, int verdict,
                   const char *sig)
{
	Mailroom__ScanReq q = MAILROOM__SCAN_REQ__INIT;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	struct rt_op op;

	q.message_id.data = (uint8_t *)f->id;
	q.message_id.len = PB_ID_LEN;
	q.n = f->n;
	q.reply = f->reply;
	q.scan = verdict == RT_SCAN_INFECTED ? MAILROOM__SCAN_STATE__SCAN_INFECTED
	                                     : MAILROOM__SCAN_STATE__SCAN_CLEAN;
	q.signature = (char *)sig;
	req.op_case = MAILROOM__REQUEST__OP_SCAN;
	req.scan = &q;
	memset(&op, 0, sizeof(op));
	op.who.internal = 1;
	op.req = &req;
	op.enqueued_us = pb_mono_us();
	op.done = op_done;
	op.arg = s;
	rt_result_init(&op.res);
	pthread_mutex_lock(&s->mu);
	s->op_done = 0;
	pthread_mutex_unlock(&s->mu);
	rt_writer_submit(s->writer, &op);
	pthread_mutex_lock(&s->mu);
	while (!s->op_done)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

/* One pass: each pending file to clamd; stops at the first that finds
 * clamd away, so the files wait (never passed) until it is back. */
static void pass(struct rt_scanner *s)
{
	const struct pb_conf *conf = s->core->conf;
	struct collect c = {.n = 0};
	st_txn *t = NULL;
	int64_t pending = 0;

	if (st_txn_begin(s->core->store, NULL, 1, &t) != PB_OK)
		return;
	if (st_counter_get(t, RT_ATTACH_PENDING, &pending) == PB_OK && pending > 0)
		st_msg_each(t, collect_one, &c);
	st_txn_abort(t);
	for (size_t i = 0; i < c.n; i++) {
		uint8_t *plain = NULL;
		size_t len = 0;
		char sig[128] = "";
		int v, rc;

		rc = st_attach_get(conf->store_path, s->core->keys.data_key, c.v[i].name, &plain, &len,
		                   NULL);
		if (rc != PB_OK) {
			pb_error("attachment of a message cannot be read for scanning: %s", pb_err_str(rc));
			continue;
		}
		v = conf->clamd_addr[0] ? rt_clamd_scan(conf->clamd_addr, conf->scan_timeout_ms, plain,
		                                        len, sig, sizeof(sig))
		                        : PB_EUNAVAIL;
		sodium_memzero(plain, len);
		free(plain);
		if (v != RT_SCAN_CLEAN && v != RT_SCAN_INFECTED) {
			if (atomic_exchange(&scanner_up, 0))
				pb_warn("virus scanner at %s unreachable: %zu file(s) wait unscanned, never "
				        "shown until it is back",
				        conf->clamd_addr[0] ? conf->clamd_addr : "(none configured)",
				        (size_t)pending);
			return;
		}
		if (!atomic_exchange(&scanner_up, 1))
			pb_info("virus scanner at %s is back", conf->clamd_addr);
		record(s, &c.v[i], v, sig);
	}
}

static void *scan_main(void *arg)
{
	struct rt_scanner *s = arg;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct timespec ts;
		int ms = s->core->conf->scan_interval_ms;

		pthread_mutex_unlock(&s->mu);
		pass(s);
		pthread_mutex_lock(&s->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (long)(ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!s->stop)
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int rt_scanner_start(struct rt_core *core, struct rt_writer *w, struct rt_scanner **out)
{
	struct rt_scanner *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return PB_ENOMEM;
	s->core = core;
	s->writer = w;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->thread, NULL, scan_main, s) != 0) {
		free(s);
		return PB_ENOMEM;
	}
	*out = s;
	return PB_OK;
}

void rt_scanner_stop(struct rt_scanner *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
