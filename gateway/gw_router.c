/* The router client: an nng REQ socket dialled in the background, one
 * context and one aio per request in flight. A slow request is never
 * resent (a resent submit could be stored twice): one that gets no answer
 * in time is reported as unavailable, and the client retries. */
#include "gw.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"

#include <nng/protocol/reqrep0/req.h>
#include <stdlib.h>
#include <string.h>

enum { STAGE_IDLE, STAGE_SEND, STAGE_RECV };

/* Pipe events arrive on nng threads; keep the set of live pipe ids so a
 * removal never counts a pipe that was not added. */
static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct gw_router *r = arg;
	uint32_t id = nng_pipe_id(p);

	pthread_mutex_lock(&r->pipe_mu);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		if (r->npipes < GW_MAX_PIPES)
			r->pipes[r->npipes++] = id;
		pb_info("router connected");
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		for (int i = 0; i < r->npipes; i++) {
			if (r->pipes[i] == id) {
				r->pipes[i] = r->pipes[--r->npipes];
				if (r->npipes == 0 && !atomic_load(&r->closing))
					pb_warn("router disconnected");
				break;
			}
		}
	}
	pthread_mutex_unlock(&r->pipe_mu);
}

int gw_router_open(struct gw_router *r, const char *url, const uint8_t *secret, int timeout_ms)
{
	int rv;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->pipe_mu, NULL);
	memcpy(r->secret, secret, PB_GATEWAY_SECRET_LEN);
	r->timeout_ms = timeout_ms;
	if ((rv = nng_req0_open(&r->sock)) != 0) {
		pb_error("router: nng_req0_open: %s", nng_strerror(rv));
		r->closed = 1;
		return PB_EIO;
	}
	if ((rv = nng_pipe_notify(r->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, r)) != 0 ||
	    (rv = nng_pipe_notify(r->sock, NNG_PIPE_EV_REM_POST, pipe_cb, r)) != 0 ||
	    (rv = nng_socket_set_ms(r->sock, NNG_OPT_RECONNMINT, 100)) != 0 ||
	    (rv = nng_socket_set_ms(r->sock, NNG_OPT_RECONNMAXT, 2000)) != 0 ||
	    (rv = nng_socket_set_size(r->sock, NNG_OPT_RECVMAXSZ, PB_WIRE_MAX)) != 0) {
		pb_error("router: socket options: %s", nng_strerror(rv));
		gw_router_close(r);
		return PB_EIO;
	}
	/* NONBLOCK: start now and keep redialling while the router is down. */
	if ((rv = nng_dial(r->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		pb_error("router: dial %s: %s", url, nng_strerror(rv));
		gw_router_close(r);
		return PB_EINVAL;
	}
	return PB_OK;
}

int gw_router_connected(struct gw_router *r)
{
	int n;

	pthread_mutex_lock(&r->pipe_mu);
	n = r->npipes;
	pthread_mutex_unlock(&r->pipe_mu);
	return n > 0;
}

void gw_router_close(struct gw_router *r)
{
	atomic_store(&r->closing, 1);
	pthread_mutex_lock(&r->mu);
	if (!r->closed) {
		r->closed = 1;
		nng_close(r->sock);
	}
	pthread_mutex_unlock(&r->mu);
	pthread_mutex_lock(&r->pipe_mu);
	r->npipes = 0;
	pthread_mutex_unlock(&r->pipe_mu);
}

static void finish(struct gw_call *c, int rc, int nng_err)
{
	c->rc = rc;
	c->nng_err = nng_err;
	c->stage = STAGE_IDLE;
	if (!atomic_load(&c->abandoned))
		c->done(c->arg);
}

/* Runs on an nng thread after the send, then after the receive. */
static void call_cb(void *arg)
{
	struct gw_call *c = arg;
	int rv = nng_aio_result(c->aio);

	if (c->stage == STAGE_SEND) {
		if (rv != 0) {
			/* A failed send leaves the message with us. */
			nng_msg_free(nng_aio_get_msg(c->aio));
			nng_aio_set_msg(c->aio, NULL);
			finish(c, PB_EUNAVAIL, rv);
			return;
		}
		int64_t left = (c->deadline_us - pb_mono_us()) / 1000;
		c->stage = STAGE_RECV;
		nng_aio_set_timeout(c->aio, left > 0 ? (nng_duration)left : 1);
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	if (rv != 0) {
		finish(c, PB_EUNAVAIL, rv);
		return;
	}
	nng_msg *m = nng_aio_get_msg(c->aio);
	nng_aio_set_msg(c->aio, NULL);
	c->resp = mailroom__response__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	nng_msg_free(m);
	if (!c->resp)
		pb_error("router: unreadable response");
	finish(c, c->resp ? PB_OK : PB_ECORRUPT, 0);
}

int gw_call_prepare(struct gw_call *c, struct gw_router *r, Mailroom__Request *req)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv, rc;

	memset(c, 0, sizeof(*c));
	c->router = r;
	if (!gw_router_connected(r))
		return PB_EUNAVAIL;
	if ((rc = pb_wire_seal_gateway(req, r->secret, &buf, &len)) != PB_OK)
		return rc;
	rv = nng_msg_alloc(&c->msg, len);
	if (rv == 0)
		memcpy(nng_msg_body(c->msg), buf, len);
	free(buf);
	if (rv != 0)
		return PB_ENOMEM;
	if ((rv = nng_aio_alloc(&c->aio, call_cb, c)) != 0) {
		gw_call_fini(c);
		return PB_ENOMEM;
	}
	/* Under mu: once gw_router_close has run, no context opens. */
	pthread_mutex_lock(&r->mu);
	rv = r->closed ? NNG_ECLOSED : nng_ctx_open(&c->ctx, r->sock);
	c->has_ctx = rv == 0;
	pthread_mutex_unlock(&r->mu);
	if (rv == 0)
		rv = nng_ctx_set_ms(c->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (rv != 0) {
		gw_call_fini(c);
		return PB_EUNAVAIL;
	}
	return PB_OK;
}

void gw_call_send(struct gw_call *c, gw_call_done done, void *arg)
{
	c->done = done;
	c->arg = arg;
	c->deadline_us = pb_mono_us() + (int64_t)c->router->timeout_ms * 1000;
	c->stage = STAGE_SEND;
	nng_aio_set_timeout(c->aio, c->router->timeout_ms);
	nng_aio_set_msg(c->aio, c->msg);
	c->msg = NULL;
	nng_ctx_send(c->ctx, c->aio);
}

void gw_call_fini(struct gw_call *c)
{
	atomic_store(&c->abandoned, 1);
	if (c->aio) {
		nng_aio_stop(c->aio);   /* cancels and waits for call_cb */
		nng_msg *m = nng_aio_get_msg(c->aio);
		if (m)
			nng_msg_free(m);
		nng_aio_free(c->aio);
		c->aio = NULL;
	}
	if (c->has_ctx) {
		nng_ctx_close(c->ctx);
		c->has_ctx = 0;
	}
	if (c->msg) {
		nng_msg_free(c->msg);
		c->msg = NULL;
	}
	if (c->resp) {
		mailroom__response__free_unpacked(c->resp, NULL);
		c->resp = NULL;
	}
}
