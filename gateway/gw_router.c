/* The router client: an nng REQ socket dialled in the background and a
 * few lanes, each a context and aio with one envelope in flight. Calls
 * wait in a pending list; a free lane takes all that are waiting (up to
 * batch_max) into one BatchReq. At low load a call finds a free lane and
 * goes alone at once; under load calls gather while the lanes are out, so
 * the link, the MAC and both processes' nng work are paid per envelope
 * rather than per request.
 *
 * A slow request is never resent (a resent submit could be stored twice):
 * a lane that gets no answer in time fails its calls as unavailable. A
 * call that never left is known not stored. A submit that left carries
 * an idempotency key and a deadline the router drops it after; its lost
 * answer is asked for by key (a resolve) until the router says stored
 * or not stored, so a 503 always means "not stored". */
#include "gw.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"

#include <nng/protocol/reqrep0/req.h>
#include <stdlib.h>
#include <string.h>

enum { STAGE_IDLE, STAGE_SEND, STAGE_RECV };
enum { GW_CALL_IDLE, GW_CALL_PENDING, GW_CALL_INFLIGHT, GW_CALL_DELIVERING };

/* Room an envelope keeps for everything but the items' bytes. */
#define ENVELOPE_SLACK 4096
#define ITEM_OVERHEAD 8   /* a repeated bytes field's tag and length */

static void lane_cb(void *arg);

static int lanes_alloc(struct gw_router *r, int nlanes)
{
	size_t b = (size_t)r->batch_max;

	if (!(r->lanes = calloc((size_t)nlanes, sizeof(*r->lanes))) ||
	    !(r->idle = calloc((size_t)nlanes, sizeof(*r->idle))))
		return PB_ENOMEM;
	r->lanes_cap = nlanes;
	for (int i = 0; i < nlanes; i++) {
		struct gw_lane *l = &r->lanes[i];
		l->router = r;
		if (!(l->calls = calloc(b, sizeof(*l->calls))) ||
		    !(l->items = calloc(b, sizeof(*l->items))) ||
		    !(l->lens = calloc(b, sizeof(*l->lens))) ||
		    !(l->resps = calloc(b, sizeof(*l->resps))))
			return PB_ENOMEM;
		if (nng_aio_alloc(&l->aio, lane_cb, l) != 0)
			return PB_ENOMEM;
		if (nng_ctx_open(&l->ctx, r->sock) != 0 ||
		    nng_ctx_set_ms(l->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE) != 0)
			return PB_EIO;
		l->has_ctx = 1;
		r->nlanes++;
		r->idle[r->nidle++] = i;
	}
	return PB_OK;
}

int gw_router_open(struct gw_router *r, const char *url, const uint8_t *secret, int timeout_ms,
                   int lanes, int batch_max)
{
	int rv, rc;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	pthread_mutex_init(&r->arm_mu, NULL);
	memcpy(r->secret, secret, PB_GATEWAY_SECRET_LEN);
	r->timeout_ms = timeout_ms;
	r->resolve_ms = 30000;
	r->batch_max = batch_max > 0 ? batch_max : 1;
	if ((rv = nng_req0_open(&r->sock)) != 0) {
		pb_error("router: nng_req0_open: %s", nng_strerror(rv));
		r->closed = 1;
		return PB_EIO;
	}
	if ((rv = nng_socket_set_ms(r->sock, NNG_OPT_RECONNMINT, 100)) != 0 ||
	    (rv = nng_socket_set_ms(r->sock, NNG_OPT_RECONNMAXT, 2000)) != 0 ||
	    (rv = nng_socket_set_size(r->sock, NNG_OPT_RECVMAXSZ, PB_WIRE_MAX)) != 0) {
		pb_error("router: socket options: %s", nng_strerror(rv));
		gw_router_close(r);
		return PB_EIO;
	}
	if ((rc = lanes_alloc(r, lanes > 0 ? lanes : 1)) != PB_OK) {
		pb_error("router: lanes: %s", pb_err_str(rc));
		gw_router_close(r);
		return rc;
	}
	/* NONBLOCK: start now and keep redialling while the router is down. */
	char err[PB_PATH_MAX + 128];
	if ((rv = pb_link_dial(&r->link, r->sock, url, "router", NNG_FLAG_NONBLOCK, err,
	                       sizeof(err))) != 0) {
		pb_error("router: %s", err);
		gw_router_close(r);
		return PB_EINVAL;
	}
	r->linked = 1;
	return PB_OK;
}

int gw_router_connected(struct gw_router *r)
{
	return r->linked && pb_link_up(&r->link);
}

/* Hands finished calls (rc and resp set, linked by next, no longer in any
 * list) back to their owners. done runs outside the lock; a call stays
 * DELIVERING meanwhile, so gw_call_fini waits for it. */
static void deliver(struct gw_router *r, struct gw_call *list)
{
	struct gw_call *c, *next;

	for (c = list; c; c = next) {
		next = c->next;
		c->done(c->arg);
	}
	pthread_mutex_lock(&r->mu);
	for (c = list; c; c = next) {
		next = c->next;
		c->next = NULL;
		c->state = GW_CALL_IDLE;
	}
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* Under mu: c leaves every list as finished with rc, onto *out. */
static void conclude(struct gw_call *c, int rc, int nng_err, struct gw_call **out)
{
	c->rc = rc;
	c->nng_err = nng_err;
	c->lane = NULL;
	c->state = GW_CALL_DELIVERING;
	c->next = *out;
	*out = c;
}

static void enqueue(struct gw_router *r, struct gw_call *c)
{
	c->next = NULL;
	c->state = GW_CALL_PENDING;
	if (r->ptail)
		r->ptail->next = c;
	else
		r->phead = c;
	r->ptail = c;
}

/* Under mu: the call's item becomes a resolve of its key, queued again;
 * PB_OK, or the reason it cannot be. */
static int resolve_again(struct gw_router *r, struct gw_call *c, int64_t now)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SubmitReq sub = MAILROOM__SUBMIT_REQ__INIT;
	int rc;

	if (r->closed || now >= c->resolve_until_us)
		return PB_EUNAVAIL;
	if (c->resolvable == GW_RESOLVE_RESEND) {
		Mailroom__Request *again = mailroom__request__unpack(NULL, c->origlen, c->orig);
		if (!again)
			return PB_ENOMEM;
		again->deadline_ms = (uint64_t)(pb_now_ms() + r->timeout_ms);
		free(c->item);
		c->item = NULL;
		rc = pb_wire_pack_item(again, &c->item, &c->itemlen);
		mailroom__request__free_unpacked(again, NULL);
		if (rc != PB_OK)
			return rc;
		goto queue;
	}
	sub.channel = (Mailroom__Channel)c->channel;
	sub.idem_key.data = c->idem;
	sub.idem_key.len = 32;
	sub.idem_body.data = c->idem + 32;
	sub.idem_body.len = 32;
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &sub;
	req.resolve = 1;
	free(c->item);
	c->item = NULL;
	if ((rc = pb_wire_pack_item(&req, &c->item, &c->itemlen)) != PB_OK)
		return rc;
queue:
	if (c->resp) {
		mailroom__response__free_unpacked(c->resp, NULL);
		c->resp = NULL;
	}
	c->resolving = 1;
	c->lane = NULL;
	c->deadline_us = now + (int64_t)r->timeout_ms * 1000;
	enqueue(r, c);
	return PB_OK;
}

/* Does this answer (rc, resp) leave the call's outcome unknown? A submit
 * that left and got no answer, or one the router refused unread (the
 * copy nng resent after a pipe closed, a restarted router's "stale"); a
 * resolve whose answer is not "stored" or "not_stored". */
static int outcome_unknown(const struct gw_call *c, int sent, int rc, const Mailroom__Response *resp)
{
	if (!c->resolvable)
		return 0;
	if (rc != PB_OK || !resp)
		return sent || c->resolving;
	if (resp->code == PB_OK)
		return 0;
	if (resp->code == PB_EREPLAY || resp->code == PB_ESTALE)
		return 1;
	if (c->resolving && c->resolvable == GW_RESOLVE_RESEND)
		return resp->code == PB_EUNAVAIL;   /* the copy was dropped, or the router is away */
	if (c->resolving)
		return resp->code == PB_EUNAVAIL &&
		       !(resp->error && strcmp(resp->error, "not_stored") == 0);
	return 0;
}

/* Under mu: c ends with rc, unless its outcome is unknown and it can be
 * asked again; then it is queued as a resolve. */
static void settle(struct gw_router *r, struct gw_call *c, int sent, int rc, int nng_err,
                   struct gw_call **out)
{
	if (outcome_unknown(c, sent, rc, c->resp)) {
		/* A resolve that could not even be sealed here would only fail
		 * again at once: no loop on a local failure. */
		if ((sent || rc == PB_EUNAVAIL) && resolve_again(r, c, pb_mono_us()) == PB_OK)
			return;
		if (c->resp) {
			mailroom__response__free_unpacked(c->resp, NULL);
			c->resp = NULL;
		}
		c->unknown = 1;
		rc = PB_EUNAVAIL;
	}
	conclude(c, rc, nng_err, out);
}

/* Under mu: moves waiting calls into l, within the batch's count and
 * size; calls whose time ran out while waiting are concluded onto *late. */
static int take(struct gw_router *r, struct gw_lane *l, struct gw_call **late)
{
	int64_t now = pb_mono_us();
	size_t bytes = 0;

	l->n = 0;
	l->deadline_us = INT64_MAX;
	while (r->phead && l->n < r->batch_max) {
		struct gw_call *c = r->phead;
		if (l->n > 0 && bytes + c->itemlen + ITEM_OVERHEAD > PB_WIRE_MAX - ENVELOPE_SLACK)
			break;
		r->phead = c->next;
		if (!r->phead)
			r->ptail = NULL;
		c->next = NULL;
		if (c->deadline_us <= now) {
			/* Never sent; a resolve that waited is still unknown. */
			settle(r, c, 0, PB_EUNAVAIL, NNG_ETIMEDOUT, late);
			continue;
		}
		bytes += c->itemlen + ITEM_OVERHEAD;
		c->state = GW_CALL_INFLIGHT;
		c->lane = l;
		c->slot = l->n;
		l->calls[l->n] = c;
		l->items[l->n] = c->item;
		l->lens[l->n] = c->itemlen;
		c->item = NULL;
		if (c->deadline_us < l->deadline_us)
			l->deadline_us = c->deadline_us;
		l->n++;
	}
	return l->n;
}

static void drop_items(struct gw_lane *l)
{
	for (int i = 0; i < l->n; i++) {
		free(l->items[i]);
		l->items[i] = NULL;
	}
}

static nng_duration left_ms(int64_t deadline_us)
{
	int64_t left = (deadline_us - pb_mono_us()) / 1000;

	return left > 0 ? (nng_duration)left : 1;
}

/* Seals l's items into one envelope and sends it; PB_OK or the reason
 * nothing was sent. Touches no call: the items are the lane's own. */
static int lane_send(struct gw_lane *l)
{
	struct gw_router *r = l->router;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__BatchReq br = MAILROOM__BATCH_REQ__INIT;
	ProtobufCBinaryData *bins = calloc((size_t)l->n, sizeof(*bins));
	nng_msg *msg = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	l->sent = 0;
	if (!bins) {
		drop_items(l);
		return PB_ENOMEM;
	}
	for (int i = 0; i < l->n; i++) {
		bins[i].data = l->items[i];
		bins[i].len = l->lens[i];
	}
	br.n_items = (size_t)l->n;
	br.items = bins;
	req.op_case = MAILROOM__REQUEST__OP_BATCH;
	req.batch = &br;
	rc = pb_wire_seal_gateway(&req, r->secret, &buf, &len);
	free(bins);
	drop_items(l);
	if (rc != PB_OK)
		return rc;
	if (nng_msg_alloc(&msg, len) != 0) {
		free(buf);
		return PB_ENOMEM;
	}
	memcpy(nng_msg_body(msg), buf, len);
	free(buf);
	pthread_mutex_lock(&r->arm_mu);
	if (atomic_load(&r->closing)) {
		/* never sent: the calls were not stored */
		pthread_mutex_unlock(&r->arm_mu);
		nng_msg_free(msg);
		return PB_EUNAVAIL;
	}
	l->stage = STAGE_SEND;
	nng_aio_set_timeout(l->aio, left_ms(l->deadline_us));
	nng_aio_set_msg(l->aio, msg);
	nng_ctx_send(l->ctx, l->aio);
	pthread_mutex_unlock(&r->arm_mu);
	return PB_OK;
}

/* Ends the lane's envelope: each call still wanted gets its response (or
 * rc), abandoned ones are let go. */
static void lane_finish(struct gw_lane *l, int rc, int nng_err)
{
	struct gw_router *r = l->router;
	struct gw_call *out = NULL;

	pthread_mutex_lock(&r->mu);
	for (int i = 0; i < l->n; i++) {
		struct gw_call *c = l->calls[i];
		l->calls[i] = NULL;
		if (!c) {
			if (l->resps[i])
				mailroom__response__free_unpacked(l->resps[i], NULL);
		} else {
			c->resp = l->resps[i];
			settle(r, c, l->sent, rc != PB_OK ? rc : c->resp ? PB_OK : PB_ECORRUPT, nng_err,
			       &out);
		}
		l->resps[i] = NULL;
	}
	l->n = 0;
	pthread_mutex_unlock(&r->mu);
	if (out)
		deliver(r, out);
}

/* The lane is free: it takes the next calls waiting, or goes idle. */
static void lane_next(struct gw_lane *l)
{
	struct gw_router *r = l->router;

	for (;;) {
		struct gw_call *late = NULL;
		int n;

		pthread_mutex_lock(&r->mu);
		n = r->closed ? 0 : take(r, l, &late);
		if (n == 0) {
			r->idle[r->nidle++] = (int)(l - r->lanes);
			pthread_cond_broadcast(&r->cv);
		}
		pthread_mutex_unlock(&r->mu);
		if (late)
			deliver(r, late);
		if (n == 0)
			return;
		int rc = lane_send(l);
		if (rc == PB_OK)
			return;
		if (!atomic_load(&r->closing))
			pb_error("router request: %s", pb_err_str(rc));
		lane_finish(l, rc, 0);
	}
}

/* Splits the router's answer among the lane's calls. A refusal of the
 * whole envelope (say, a clock the router thinks stale) is every call's
 * answer. */
static int lane_answers(struct gw_lane *l, const uint8_t *buf, size_t len)
{
	Mailroom__Response *resp = mailroom__response__unpack(NULL, len, buf);
	int rc = PB_OK;

	if (!resp)
		return PB_ECORRUPT;
	if (resp->result_case == MAILROOM__RESPONSE__RESULT_BATCH &&
	    resp->batch->n_items == (size_t)l->n) {
		for (int i = 0; i < l->n; i++)
			l->resps[i] = mailroom__response__unpack(NULL, resp->batch->items[i].len,
			                                         resp->batch->items[i].data);
	} else if (resp->code != 0) {
		for (int i = 0; i < l->n; i++)
			l->resps[i] = mailroom__response__unpack(NULL, len, buf);
	} else {
		rc = PB_ECORRUPT;
	}
	mailroom__response__free_unpacked(resp, NULL);
	return rc;
}

/* Runs on an nng thread after the send, then after the receive. */
static void lane_cb(void *arg)
{
	struct gw_lane *l = arg;
	int rv = nng_aio_result(l->aio);

	if (l->stage == STAGE_SEND && rv == 0) {
		struct gw_router *r = l->router;
		l->stage = STAGE_RECV;
		l->sent = 1;
		pthread_mutex_lock(&r->arm_mu);
		if (!atomic_load(&r->closing)) {
			nng_aio_set_timeout(l->aio, left_ms(l->deadline_us));
			nng_ctx_recv(l->ctx, l->aio);
			pthread_mutex_unlock(&r->arm_mu);
			return;
		}
		pthread_mutex_unlock(&r->arm_mu);
		rv = NNG_ECLOSED;   /* sent, and the answer will never come */
	}
	if (l->stage == STAGE_SEND) {
		/* A failed send leaves the message with us. */
		nng_msg_free(nng_aio_get_msg(l->aio));
		nng_aio_set_msg(l->aio, NULL);
	}
	l->stage = STAGE_IDLE;
	if (rv != 0) {
		lane_finish(l, PB_EUNAVAIL, rv);
	} else {
		nng_msg *m = nng_aio_get_msg(l->aio);
		nng_aio_set_msg(l->aio, NULL);
		int rc = lane_answers(l, nng_msg_body(m), nng_msg_len(m));
		nng_msg_free(m);
		if (rc != PB_OK)
			pb_error("router: unreadable response");
		lane_finish(l, rc, 0);
	}
	lane_next(l);
}

void gw_router_close(struct gw_router *r)
{
	struct gw_call *left = NULL, *out = NULL;
	int closing;

	if (r->linked)
		pb_link_close(&r->link);
	pthread_mutex_lock(&r->arm_mu);
	atomic_store(&r->closing, 1);
	pthread_mutex_unlock(&r->arm_mu);
	pthread_mutex_lock(&r->mu);
	closing = !r->closed;
	r->closed = 1;
	left = r->phead;
	r->phead = r->ptail = NULL;
	while (left) {
		struct gw_call *c = left;
		left = c->next;
		c->unknown = c->resolving;
		conclude(c, PB_EUNAVAIL, NNG_ECLOSED, &out);
	}
	pthread_mutex_unlock(&r->mu);
	if (closing)
		nng_close(r->sock);
	if (out)
		deliver(r, out);
	/* Every lane's envelope ends with NNG_ECLOSED; once all are idle no
	 * callback can touch them. */
	pthread_mutex_lock(&r->mu);
	while (r->nidle < r->nlanes)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
	/* Lanes that failed half way through opening are freed too. */
	for (int i = 0; r->lanes && i < r->lanes_cap; i++) {
		struct gw_lane *l = &r->lanes[i];
		if (l->aio) {
			nng_aio_stop(l->aio);
			nng_aio_free(l->aio);
		}
		free(l->calls);
		free(l->items);
		free(l->lens);
		free(l->resps);
	}
	free(r->lanes);
	free(r->idle);
	r->lanes = NULL;
	r->idle = NULL;
	r->nlanes = r->nidle = r->lanes_cap = 0;
	if (r->linked)
		pb_link_fini(&r->link);
	r->linked = 0;
}

int gw_call_prepare(struct gw_call *c, struct gw_router *r, Mailroom__Request *req)
{
	int rc;

	memset(c, 0, sizeof(*c));
	if (!gw_router_connected(r))
		return PB_EUNAVAIL;
	/* The router drops a write it reaches after this (router/README.md). */
	req->deadline_ms = (uint64_t)(pb_now_ms() + r->timeout_ms);
	if (req->op_case == MAILROOM__REQUEST__OP_SUBMIT && req->submit->idem_key.len == 32 &&
	    req->submit->idem_body.len == 32) {
		c->resolvable = GW_RESOLVE_KEY;
		c->channel = req->submit->channel;
		memcpy(c->idem, req->submit->idem_key.data, 32);
		memcpy(c->idem + 32, req->submit->idem_body.data, 32);
	} else if (req->op_case == MAILROOM__REQUEST__OP_SUBMIT &&
	           (req->submit->order || req->submit->petition)) {
		/* Idempotent by the sender's number, so a lost answer is learnt
		 * by sending it again. Kept unsigned: each copy is signed anew. */
		req->deadline_ms = 0;
		c->origlen = mailroom__request__get_packed_size(req);
		if (!(c->orig = malloc(c->origlen ? c->origlen : 1)))
			return PB_ENOMEM;
		mailroom__request__pack(req, c->orig);
		c->resolvable = GW_RESOLVE_RESEND;
		req->deadline_ms = (uint64_t)(pb_now_ms() + r->timeout_ms);
	}
	rc = pb_wire_pack_item(req, &c->item, &c->itemlen);
	req->deadline_ms = 0;
	if (rc != PB_OK) {
		free(c->orig);
		c->orig = NULL;
		return rc;
	}
	/* An item must fit an envelope on its own. */
	if (c->itemlen + ITEM_OVERHEAD > PB_WIRE_MAX - ENVELOPE_SLACK) {
		free(c->item);
		c->item = NULL;
		free(c->orig);
		c->orig = NULL;
		return PB_ETOOBIG;
	}
	c->router = r;
	return PB_OK;
}

void gw_call_send(struct gw_call *c, gw_call_done done, void *arg)
{
	struct gw_router *r = c->router;
	struct gw_lane *l = NULL;

	c->done = done;
	c->arg = arg;
	c->deadline_us = pb_mono_us() + (int64_t)r->timeout_ms * 1000;
	c->resolve_until_us = c->deadline_us + (int64_t)r->resolve_ms * 1000;
	pthread_mutex_lock(&r->mu);
	if (r->closed) {
		struct gw_call *out = NULL;
		conclude(c, PB_EUNAVAIL, NNG_ECLOSED, &out);
		pthread_mutex_unlock(&r->mu);
		deliver(r, out);
		return;
	}
	enqueue(r, c);
	if (r->nidle > 0)
		l = &r->lanes[r->idle[--r->nidle]];
	pthread_mutex_unlock(&r->mu);
	if (l)
		lane_next(l);
}

void gw_call_fini(struct gw_call *c)
{
	struct gw_router *r = c->router;

	if (r) {
		pthread_mutex_lock(&r->mu);
		if (c->state == GW_CALL_PENDING) {
			struct gw_call **pp = &r->phead, *prev = NULL;
			while (*pp && *pp != c) {
				prev = *pp;
				pp = &(*pp)->next;
			}
			if (*pp) {
				*pp = c->next;
				if (r->ptail == c)
					r->ptail = prev;
			}
		} else if (c->state == GW_CALL_INFLIGHT) {
			c->lane->calls[c->slot] = NULL;   /* its answer is dropped */
		}
		while (c->state == GW_CALL_DELIVERING)
			pthread_cond_wait(&r->cv, &r->mu);
		c->state = GW_CALL_IDLE;
		c->router = NULL;
		pthread_mutex_unlock(&r->mu);
	}
	free(c->item);
	c->item = NULL;
	free(c->orig);
	c->orig = NULL;
	if (c->resp) {
		mailroom__response__free_unpacked(c->resp, NULL);
		c->resp = NULL;
	}
}
