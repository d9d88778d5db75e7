/* The nng face of the router: a REP socket served by many contexts, each
 * an aio state machine (receive, then answer, then receive again). Reads
 * are answered in the callback from an LMDB snapshot, which never waits
 * on a lock; writes go to the writer thread and are answered from its
 * completion, so no callback ever blocks.
 *
 * `contexts` of them are always receiving: a context that takes a request
 * is replaced at once (from the spares, or a new one), and goes back to
 * the spares after answering when enough are receiving. So pulls waiting
 * in the writer never take the contexts intake needs; what bounds them is
 * each handler's quota of requests in the writer (handler_max_requests),
 * past which it is answered "busy". */
#include "rt.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"
#include "pb_tls.h"
#include "pb_wire.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <sodium.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { CTX_RECV, CTX_WAIT, CTX_SEND };

struct rt_ctx {
	struct rt_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	int state;
	Mailroom__Envelope *env;
	struct rt_op op;
	uint8_t quota_key[32];        /* the handler whose quota it holds */
	int quota_held;
	struct rt_ctx *all_next;      /* every context, freed at stop */
	struct rt_ctx *spare_next;
};

#define QUOTA_SLOTS 1024          /* handlers with requests in the writer at once */

struct quota_slot {
	uint8_t key[32];
	int n;
};

struct rt_server {
	struct rt_core *core;
	nng_socket rep, pub;
	struct rt_writer *writer;
	struct rt_scanner *scanner;
	struct rt_replay *replay;
	uint8_t gateway_secret[PB_GATEWAY_SECRET_LEN];
	int64_t start_ms;
	int nctx;                     /* contexts kept receiving */
	/* cmu guards the lists, the counts and the quotas */
	pthread_mutex_t cmu;
	struct rt_ctx *all, *spare;
	int receiving, nall, maxall, stopping;
	struct quota_slot quota[QUOTA_SLOTS];
};

#define BATCH_MAX 1024   /* items one gateway envelope may carry */

/* A gateway batch: one op per item, answered together, in order, once the
 * last of them is done. left counts the items not yet done, plus one held
 * while the batch is being taken apart. */
struct rt_batch {
	struct rt_ctx *c;
	atomic_size_t left;
	size_t n;
	struct rt_op ops[];
};

static void ctx_cb(void *arg);

/* Under cmu: a context ready to receive, or NULL at the cap. */
static struct rt_ctx *ctx_get(struct rt_server *s)
{
	struct rt_ctx *c = s->spare;

	if (c) {
		s->spare = c->spare_next;
		return c;
	}
	if (s->nall >= s->maxall || !(c = calloc(1, sizeof(*c))))
		return NULL;
	c->srv = s;
	if (nng_aio_alloc(&c->aio, ctx_cb, c) != 0) {
		free(c);
		return NULL;
	}
	if (nng_ctx_open(&c->ctx, s->rep) != 0) {
		nng_aio_free(c->aio);
		free(c);
		return NULL;
	}
	c->all_next = s->all;
	s->all = c;
	s->nall++;
	return c;
}

/* Brings the receiving contexts back to nctx. */
static void refill(struct rt_server *s)
{
	for (;;) {
		struct rt_ctx *c = NULL;
		pthread_mutex_lock(&s->cmu);
		if (!s->stopping && s->receiving < s->nctx && (c = ctx_get(s)) != NULL) {
			s->receiving++;
			c->state = CTX_RECV;
		}
		pthread_mutex_unlock(&s->cmu);
		if (!c)
			return;
		nng_ctx_recv(c->ctx, c->aio);
	}
}

/* A context that has answered receives again, or rests as a spare when
 * enough are receiving. */
static void recycle(struct rt_ctx *c)
{
	struct rt_server *s = c->srv;
	int again;

	pthread_mutex_lock(&s->cmu);
	again = !s->stopping && s->receiving < s->nctx;
	if (again) {
		s->receiving++;
		c->state = CTX_RECV;
	} else {
		c->state = CTX_WAIT;
		c->spare_next = s->spare;
		s->spare = c;
	}
	pthread_mutex_unlock(&s->cmu);
	if (again)
		nng_ctx_recv(c->ctx, c->aio);
}

/* Under cmu: the handler's slot (n == 0 and key set when new), or NULL. */
static struct quota_slot *quota_slot(struct rt_server *s, const uint8_t key[32])
{
	static const uint8_t none[32];
	uint64_t h;
	struct quota_slot *free_slot = NULL;

	memcpy(&h, key, sizeof(h));   /* public keys: their bytes are spread enough */
	for (size_t i = 0, k = (size_t)(h % QUOTA_SLOTS); i < QUOTA_SLOTS;
	     i++, k = (k + 1) % QUOTA_SLOTS) {
		struct quota_slot *q = &s->quota[k];
		if (memcmp(q->key, key, 32) == 0)
			return q;
		if (q->n == 0 && !free_slot)
			free_slot = q;
		if (memcmp(q->key, none, 32) == 0)
			break;
	}
	if (free_slot)
		memcpy(free_slot->key, key, 32);
	return free_slot;
}

/* One more of this handler's requests into the writer: 0, or -1 over its
 * quota. */
static int quota_take(struct rt_ctx *c, const uint8_t key[32])
{
	struct rt_server *s = c->srv;
	struct quota_slot *q;
	int ok;

	pthread_mutex_lock(&s->cmu);
	q = quota_slot(s, key);
	ok = q && q->n < s->core->conf->handler_max_requests;
	if (ok) {
		q->n++;
		memcpy(c->quota_key, key, 32);
		c->quota_held = 1;
	}
	pthread_mutex_unlock(&s->cmu);
	return ok ? 0 : -1;
}

static void quota_give(struct rt_ctx *c)
{
	struct rt_server *s = c->srv;
	struct quota_slot *q;

	if (!c->quota_held)
		return;
	pthread_mutex_lock(&s->cmu);
	if ((q = quota_slot(s, c->quota_key)) != NULL && q->n > 0)
		q->n--;
	c->quota_held = 0;
	pthread_mutex_unlock(&s->cmu);
}

static void send_msg(struct rt_ctx *c, nng_msg *msg)
{
	if (!msg) {
		/* Cannot answer: drop the request; the client times out. */
		recycle(c);
		return;
	}
	nng_aio_set_msg(c->aio, msg);
	c->state = CTX_SEND;
	nng_ctx_send(c->ctx, c->aio);
}

static void send_bytes(struct rt_ctx *c, const uint8_t *buf, size_t len)
{
	nng_msg *msg = NULL;

	if (nng_msg_alloc(&msg, 0) != 0 || nng_msg_append(msg, buf, len) != 0) {
		if (msg)
			nng_msg_free(msg);
		msg = NULL;
	}
	send_msg(c, msg);
}

static void release_request(struct rt_ctx *c)
{
	if (c->op.req)
		mailroom__request__free_unpacked(c->op.req, NULL);
	if (c->env)
		mailroom__envelope__free_unpacked(c->env, NULL);
	c->op.req = NULL;
	c->env = NULL;
}

/* op->out = a packed refusal. */
static void refuse(struct rt_op *op, int code, const char *error, const char *message)
{
	rt_result_init(&op->res);
	rt_fail(&op->res, code, error, message);
	rt_pack(op);
	rt_result_clear(&op->res);
}

static void answer_error(struct rt_ctx *c, int code, const char *error, const char *message)
{
	refuse(&c->op, code, error, message);
	release_request(c);
	send_bytes(c, c->op.out, c->op.outlen);
	free(c->op.out);
	c->op.out = NULL;
}

/* From the writer thread, after the durable commit. */
static void write_done(struct rt_op *op, void *arg)
{
	struct rt_ctx *c = arg;

	/* The change is durable: the set in force follows the store, and the
	 * answer goes out only once it does (mailroom-admin can rely on it). */
	if (op->req && op->req->op_case == MAILROOM__REQUEST__OP_HANDLER_ADMIN &&
	    op->req->handler_admin->action != MAILROOM__HANDLER_ACTION__HANDLER_LIST &&
	    rt_handlers_reload(c->srv->core))
		pb_error("cannot reload the handler list; the change applies after a restart");
	quota_give(c);
	release_request(c);
	send_bytes(c, op->out, op->outlen);
	free(op->out);
	op->out = NULL;
}

static int fresh(const struct pb_conf *conf, const Mailroom__Request *req, int64_t now,
                 int64_t start_ms)
{
	int64_t skew = (int64_t)conf->request_skew_seconds * 1000;

	/* Requests signed before this router started may have been served by
	 * the previous process: refusing them closes the replay window a
	 * restart would otherwise open (the nonce cache lives in memory). */
	return (int64_t)req->ts_ms <= now + skew && (int64_t)req->ts_ms >= now - skew &&
	       (int64_t)req->ts_ms >= start_ms;
}

/* Checks op->req as op->who may send it. Refusals and reads are answered
 * here (op->out is set, returns 0); a write is made ready for the writer
 * and returns 1. */
static int admit(struct rt_server *s, struct rt_op *op, int64_t now)
{
	const struct pb_conf *conf = s->core->conf;
	const Mailroom__Request *req = op->req;
	st_txn *t;
	int rc;

	if (!fresh(conf, req, now, s->start_ms)) {
		refuse(op, PB_ESTALE, "stale", "timestamp outside the allowed window");
		return 0;
	}
	if (!rt_allowed(&op->who, req)) {
		refuse(op, PB_EFORBIDDEN, "forbidden", "operation not allowed for this caller");
		return 0;
	}
	/* Reads are refused on replay too: a replayed read would show its
	 * answer again, now, to whoever holds the copy. A console read had its
	 * nonce checked with its signature (rt_console.c). */
	if ((rt_is_write(req) || !op->who.console) &&
	    (rc = rt_replay_check(s->replay, req->nonce.data, now))) {
		refuse(op, rc, pb_err_name(rc), "request replayed");
		return 0;
	}
	if (rt_is_write(req)) {
		/* Here, in parallel, what the serial writer need not do. */
		rt_prepare(s->core, req, &op->prep);
		op->enqueued_us = pb_mono_us();
		op->wait_until_ms = 0;
		if (req->op_case == MAILROOM__REQUEST__OP_PULL) {
			uint32_t wait = req->pull->wait_ms;
			if ((int64_t)wait > conf->max_wait_ms)
				wait = (uint32_t)conf->max_wait_ms;
			op->wait_until_ms = now + wait;
		}
		return 1;
	}
	rt_result_init(&op->res);
	if ((rc = st_txn_begin(s->core->store, NULL, 1, &t))) {
		rt_fail(&op->res, PB_EUNAVAIL, "unavailable", "store unavailable");
	} else {
		rt_read(s->core, t, &op->who, req, now, &op->res);
		st_txn_abort(t);
	}
	rt_pack(op);
	rt_result_clear(&op->res);
	return 0;
}

/* The batch's answer, the items' packed responses one after another. */
static nng_msg *batch_answer(struct rt_batch *b)
{
	Mailroom__Response resp = MAILROOM__RESPONSE__INIT;
	Mailroom__BatchResp br = MAILROOM__BATCH_RESP__INIT;
	ProtobufCBinaryData *items = calloc(b->n, sizeof(*items));
	nng_msg *msg = NULL;

	if (!items)
		return NULL;
	for (size_t i = 0; i < b->n; i++) {
		items[i].data = b->ops[i].out;
		items[i].len = b->ops[i].outlen;
	}
	br.n_items = b->n;
	br.items = items;
	resp.result_case = MAILROOM__RESPONSE__RESULT_BATCH;
	resp.batch = &br;
	if (nng_msg_alloc(&msg, mailroom__response__get_packed_size(&resp)) == 0)
		mailroom__response__pack(&resp, nng_msg_body(msg));
	else
		msg = NULL;
	free(items);
	return msg;
}

static void batch_item_done(struct rt_op *op, void *arg)
{
	struct rt_batch *b = arg;

	if (op && op->req) {
		mailroom__request__free_unpacked(op->req, NULL);
		op->req = NULL;
	}
	if (atomic_fetch_sub(&b->left, 1) != 1)
		return;
	nng_msg *msg = batch_answer(b);
	struct rt_ctx *c = b->c;
	for (size_t i = 0; i < b->n; i++)
		free(b->ops[i].out);
	free(b);
	send_msg(c, msg);
}

/* Takes the batch apart: every item is admitted on its own, the reads
 * and refusals are answered now and the writes go to the writer in one
 * hand-over, in the batch's order. */
static void handle_batch(struct rt_ctx *c, Mailroom__Request *outer, int64_t now)
{
	struct rt_server *s = c->srv;
	const Mailroom__BatchReq *br = outer->batch;
	struct rt_op *writes = NULL, **tail = &writes;
	struct rt_batch *b;

	if (c->env->kind != MAILROOM__AUTH_KIND__AUTH_GATEWAY) {
		answer_error(c, PB_EFORBIDDEN, "forbidden", "operation not allowed for this caller");
		return;
	}
	if (!fresh(s->core->conf, outer, now, s->start_ms)) {
		answer_error(c, PB_ESTALE, "stale", "timestamp outside the allowed window");
		return;
	}
	if (br->n_items == 0 || br->n_items > BATCH_MAX) {
		answer_error(c, PB_EINVAL, "malformed", "request refused");
		return;
	}
	if (!(b = calloc(1, sizeof(*b) + br->n_items * sizeof(b->ops[0])))) {
		answer_error(c, PB_EUNAVAIL, "unavailable", "router out of memory");
		return;
	}
	b->c = c;
	b->n = br->n_items;
	atomic_init(&b->left, b->n + 1);
	for (size_t i = 0; i < b->n; i++) {
		struct rt_op *op = &b->ops[i];
		op->who.kind = MAILROOM__AUTH_KIND__AUTH_GATEWAY;
		op->done = batch_item_done;
		op->arg = b;
		op->req = mailroom__request__unpack(NULL, br->items[i].len, br->items[i].data);
		if (!op->req || op->req->nonce.len != 16) {
			refuse(op, PB_EINVAL, "malformed", "request refused");
			batch_item_done(op, b);
		} else if (admit(s, op, now)) {
			*tail = op;
			tail = &op->next;
		} else {
			batch_item_done(op, b);
		}
	}
	release_request(c);
	c->state = CTX_WAIT;
	rt_writer_submit_list(s->writer, writes);
	batch_item_done(NULL, b);
}

static void dispatch(struct rt_ctx *c, int64_t now)
{
	struct rt_server *s = c->srv;

	if (admit(s, &c->op, now)) {
		/* A handler's requests in the writer are bounded, so waiting
		 * pulls cannot pile up without end. */
		if (c->op.who.handler && quota_take(c, c->op.who.handler->pubkey)) {
			refuse(&c->op, PB_ELIMIT, "busy",
			       "too many requests of this handler in progress; try again later");
			rt_prep_free(&c->op.prep);   /* never reaches the writer, which frees it */
			write_done(&c->op, c);
			return;
		}
		c->op.done = write_done;
		c->op.arg = c;
		c->state = CTX_WAIT;
		rt_writer_submit(s->writer, &c->op);
		return;
	}
	write_done(&c->op, c);
}

/* A console request (AUTH_HTTPSIG, rt_console.c): 1 when it was one, and
 * has been answered or handed on. */
static int console(struct rt_ctx *c, const uint8_t *buf, size_t len, int64_t now)
{
	struct rt_server *s = c->srv;
	const char *error, *message;
	Mailroom__Request *req;
	int rc;

	if (len > PB_WIRE_MAX || !(c->env = mailroom__envelope__unpack(NULL, len, buf)))
		return 0;
	if (c->env->kind != MAILROOM__AUTH_KIND__AUTH_HTTPSIG) {
		release_request(c);
		return 0;
	}
	rc = rt_console_open(s->core, s->replay, s->start_ms, c->env, now, &req, &c->op.who, &error,
	                     &message);
	if (rc) {
		answer_error(c, rc, error, message);
		return 1;
	}
	c->op.req = req;
	dispatch(c, now);
	return 1;
}

static void handle(struct rt_ctx *c, const uint8_t *buf, size_t len)
{
	struct rt_server *s = c->srv;
	Mailroom__Request *req;
	int64_t now = pb_now_ms();
	int rc;

	rc = pb_wire_open(buf, len, s->gateway_secret, &c->env, &req);
	if (rc == PB_EAUTH && console(c, buf, len, now))
		return;
	if (rc) {
		/* One answer for every authentication failure: no oracle. */
		answer_error(c, rc == PB_EAUTH ? PB_EAUTH : PB_EINVAL,
		             rc == PB_EAUTH ? "unauthenticated" : "malformed", "request refused");
		return;
	}
	c->op.req = req;
	memset(&c->op.who, 0, sizeof(c->op.who));
	c->op.who.kind = c->env->kind;
	if (c->env->kind == MAILROOM__AUTH_KIND__AUTH_HANDLER) {
		c->op.who.handler = rt_handler_by_key(s->core, c->env->key.data);
		if (!c->op.who.handler) {
			answer_error(c, PB_EAUTH, "unauthenticated", "request refused");
			return;
		}
	} else if (c->env->kind == MAILROOM__AUTH_KIND__AUTH_CONNECTOR) {
		c->op.who.connector = pb_conf_connector_by_key(s->core->conf, c->env->key.data);
		if (!c->op.who.connector) {
			answer_error(c, PB_EAUTH, "unauthenticated", "request refused");
			return;
		}
	}
	if (req->op_case == MAILROOM__REQUEST__OP_BATCH) {
		handle_batch(c, req, now);
		return;
	}
	dispatch(c, now);
}

static void ctx_cb(void *arg)
{
	struct rt_ctx *c = arg;
	int rv = nng_aio_result(c->aio);

	switch (c->state) {
	case CTX_RECV:
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
			return;
		if (rv == 0) {
			nng_msg *msg = nng_aio_get_msg(c->aio);
			/* This one is busy now: another takes its place. */
			pthread_mutex_lock(&c->srv->cmu);
			c->srv->receiving--;
			c->state = CTX_WAIT;
			pthread_mutex_unlock(&c->srv->cmu);
			refill(c->srv);
			handle(c, nng_msg_body(msg), nng_msg_len(msg));
			nng_msg_free(msg);
			return;
		}
		nng_ctx_recv(c->ctx, c->aio);
		break;
	case CTX_SEND:
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(c->aio));
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
			return;
		recycle(c);
		break;
	default:
		break;
	}
}

static void publish(st_txn *t, const uint64_t *indexes, int n, void *arg)
{
	struct rt_server *s = arg;

	for (int i = 0; i < n; i++) {
		const uint8_t *data;
		size_t len;
		nng_msg *msg;
		if (st_log_get(t, indexes[i], &data, &len) != PB_OK)
			continue;
		if (nng_msg_alloc(&msg, 0) != 0)
			return;
		if (nng_msg_append(msg, data, len) != 0 || nng_sendmsg(s->pub, msg, NNG_FLAG_NONBLOCK) != 0)
			nng_msg_free(msg);
	}
}

/* ipc://path needs its directory. */
static int ensure_ipc_dir(const char *url)
{
	char dir[PB_PATH_MAX];

	if (strncmp(url, "ipc://", 6) != 0)
		return PB_OK;
	snprintf(dir, sizeof(dir), "%s", url + 6);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return PB_OK;
	*slash = '\0';
	return pb_mkdirs(dir);
}

static int listen_on(nng_socket sock, const char *url)
{
	if (ensure_ipc_dir(url))
		return PB_EIO;
	return pb_tls_listen(sock, url);
}

int rt_server_start(struct rt_core *core, struct rt_server **out)
{
	struct rt_server *s = calloc(1, sizeof(*s));
	int created, rc;

	if (!s)
		return PB_ENOMEM;
	s->core = core;
	s->start_ms = pb_now_ms();
	pthread_mutex_init(&s->cmu, NULL);
	if ((rc = pb_secret_load_or_create(core->conf->gateway_secret, s->gateway_secret,
	                                   sizeof(s->gateway_secret), &created)))
		goto fail;
	if (created)
		pb_info("created the gateway secret %s", core->conf->gateway_secret);
	if ((rc = rt_replay_new(core->conf->request_skew_seconds, &s->replay)))
		goto fail;
	if ((rc = rt_handlers_reload(core)))
		goto fail;
	rc = PB_EIO;
	if (nng_rep0_open(&s->rep) != 0 || nng_pub0_open(&s->pub) != 0)
		goto fail;
	nng_socket_set_size(s->rep, NNG_OPT_RECVMAXSZ, PB_WIRE_MAX + 1024);
	if ((rc = listen_on(s->pub, core->conf->events_url)))
		goto fail;
	if ((rc = rt_writer_start(core, publish, s, &s->writer)))
		goto fail;
	if ((rc = rt_scanner_start(core, s->writer, &s->scanner)))
		goto fail;
	s->nctx = core->conf->router_contexts;
	/* Room for every receiver, and as many again several times over for
	 * requests in progress (handlers' bounded by their quotas). */
	s->maxall = 4 * s->nctx + 1024;
	if ((rc = listen_on(s->rep, core->conf->router_url)))
		goto fail;
	refill(s);
	rc = PB_ENOMEM;
	if (s->receiving < s->nctx)
		goto fail;
	pb_info("listening on %s, events on %s, %d contexts", core->conf->router_url,
	        core->conf->events_url, s->nctx);
	*out = s;
	return PB_OK;
fail:
	rt_server_stop(s);
	return rc;
}

/* nng 1.5.2 can hang in nng_close while it tears down a pipe whose peer
 * died with data unread (a close deadlock fixed upstream after 1.5.2).
 * The sockets close only after the writer has committed and answered
 * everything it held, so a close still stuck after CLOSE_GRACE_MS leaves
 * nothing to lose: say so and end the process rather than hang a stop. */
#define CLOSE_GRACE_MS 5000

struct close_watch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

static void *close_watchdog(void *arg)
{
	struct close_watch *w = arg;
	struct timespec ts;
	int rc = 0, done;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += CLOSE_GRACE_MS / 1000;
	pthread_mutex_lock(&w->mu);
	while (!w->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	done = w->done;
	pthread_mutex_unlock(&w->mu);
	if (!done) {
		pb_warn("the sockets did not close within %d s (a known hang of nng 1.5.2); every "
		        "request was committed and answered, so the router exits now",
		        CLOSE_GRACE_MS / 1000);
		_exit(0);
	}
	return NULL;
}

void rt_server_stop(struct rt_server *s)
{
	if (!s)
		return;
	/* The writer answers what it holds while the contexts still live
	 * (nng frees them when the socket closes); then the socket closes,
	 * every callback is waited for, and only then the writer goes. The
	 * scanner, which waits on the writer, stops first. */
	rt_scanner_stop(s->scanner);
	s->scanner = NULL;
	rt_writer_stop(s->writer);
	/* No context is made or armed from here on; the list is then fixed. */
	pthread_mutex_lock(&s->cmu);
	s->stopping = 1;
	pthread_mutex_unlock(&s->cmu);
	/* Stopping each aio waits out its running callback and refuses new
	 * work, so nothing touches a context once the socket closes. */
	for (struct rt_ctx *c = s->all; c; c = c->all_next)
		nng_aio_stop(c->aio);
	struct close_watch w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	pthread_t watch;
	int watching = pthread_create(&watch, NULL, close_watchdog, &w) == 0;
	nng_close(s->rep);
	while (s->all) {
		struct rt_ctx *c = s->all;
		s->all = c->all_next;
		nng_aio_free(c->aio);
		release_request(c);
		free(c);
	}
	rt_writer_free(s->writer);
	nng_close(s->pub);
	if (watching) {
		pthread_mutex_lock(&w.mu);
		w.done = 1;
		pthread_cond_signal(&w.cv);
		pthread_mutex_unlock(&w.mu);
		pthread_join(watch, NULL);
	}
	rt_replay_free(s->replay);
	rt_handlers_free(s->core);
	sodium_memzero(s->gateway_secret, sizeof(s->gateway_secret));
	pthread_mutex_destroy(&s->cmu);
	free(s);
}
