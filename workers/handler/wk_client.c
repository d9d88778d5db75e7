#include "wk.h"
#include "pb_err.h"
#include "pb_wire.h"
#include "pb_tls.h"

#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>

int wk_exit_code(int err)
{
	switch (err) {
	case PB_OK:
		return WK_EXIT_OK;
	case PB_EUNAVAIL:
		return WK_EXIT_UNREACHABLE;
	case PB_ENOTFOUND:
		return WK_EXIT_NOTFOUND;
	case PB_EAUTH:
	case PB_ESTALE:
	case PB_EREPLAY:
	case PB_EFORBIDDEN:
		return WK_EXIT_AUTH;
	case PB_ELEASE:
		return WK_EXIT_LEASE;
	case PB_ESTATE:
	case PB_EEXIST:
		return WK_EXIT_CONFLICT;
	case PB_EINVAL:
	case PB_ETOOBIG:
	case PB_ELIMIT:
		return WK_EXIT_INVALID;
	default:
		/* ENOMEM, EIO, EFULL, ECORRUPT and codes newer than this tool. */
		return WK_EXIT_OTHER;
	}
}

static int nng_to_pb(int rv)
{
	switch (rv) {
	case 0:
		return PB_OK;
	case NNG_EADDRINVAL:
	case NNG_ENOTSUP:
	case NNG_EINVAL:
		return PB_EINVAL;
	case NNG_ENOMEM:
		return PB_ENOMEM;
	case NNG_EMSGSIZE:
		return PB_ETOOBIG;
	default:
		/* refused, no such ipc path, timed out, closed... */
		return PB_EUNAVAIL;
	}
}

int wk_client_open(struct wk_client *c, const char *url)
{
	int rv;

	c->open = 0;
	c->err[0] = '\0';
	if ((rv = nng_req0_open(&c->sock))) {
		snprintf(c->err, sizeof(c->err), "cannot open socket: %s", nng_strerror(rv));
		return nng_to_pb(rv);
	}
	c->open = 1;
	/* Resending would repeat a signed request under the same nonce, which
	 * the router refuses as a replay; a CLI retries by running again. */
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) ||
	    (rv = nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, WK_TIMEOUT_MS)) ||
	    (rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, WK_RECV_MAX))) {
		snprintf(c->err, sizeof(c->err), "cannot set socket option: %s", nng_strerror(rv));
		wk_client_close(c);
		return nng_to_pb(rv);
	}
	/* Blocking dial: a CLI wants "nobody there" now, not a silent retry. */
	if ((rv = pb_tls_dial(c->sock, url, 0, NULL, c->err, sizeof(c->err)))) {
		if (!pb_tls_url(url))
			snprintf(c->err, sizeof(c->err), "cannot reach router at %s: %s", url,
			         nng_strerror(rv));
		wk_client_close(c);
		return nng_to_pb(rv);
	}
	return PB_OK;
}

int wk_client_call(struct wk_client *c, const uint8_t sk[64], Mailroom__Request *req,
                   int timeout_ms, Mailroom__Response **resp)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv, rc;

	*resp = NULL;
	c->err[0] = '\0';
	if (!c->open) {
		snprintf(c->err, sizeof(c->err), "not connected");
		return PB_EINVAL;
	}
	if (timeout_ms <= 0)
		timeout_ms = WK_TIMEOUT_MS;
	if ((rc = pb_wire_seal_handler(req, sk, &buf, &len))) {
		snprintf(c->err, sizeof(c->err), "cannot seal request: %s", pb_err_str(rc));
		return rc;
	}
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, timeout_ms)) ||
	    (rv = nng_send(c->sock, buf, len, 0))) {
		free(buf);
		snprintf(c->err, sizeof(c->err), "cannot send to router: %s", nng_strerror(rv));
		return nng_to_pb(rv);
	}
	free(buf);
	buf = NULL;
	if ((rv = nng_recv(c->sock, &buf, &len, NNG_FLAG_ALLOC))) {
		if (rv == NNG_ETIMEDOUT)
			snprintf(c->err, sizeof(c->err), "no answer from router within %d ms",
			         timeout_ms);
		else
			snprintf(c->err, sizeof(c->err), "cannot receive from router: %s",
			         nng_strerror(rv));
		return rv == NNG_EMSGSIZE ? PB_EUNAVAIL : nng_to_pb(rv);
	}
	*resp = mailroom__response__unpack(NULL, len, buf);
	nng_free(buf, len);
	if (!*resp) {
		snprintf(c->err, sizeof(c->err), "router sent an unreadable response");
		return PB_ECORRUPT;
	}
	return PB_OK;
}

void wk_client_close(struct wk_client *c)
{
	if (c->open)
		nng_close(c->sock);
	c->open = 0;
}
