/* The router connection of mailroom-hotline: a REQ socket that redials
 * by itself when the router restarts, requests sealed with the gateway
 * secret (the connector is an edge process of the same trust), and no
 * resends: a resent request would carry the same nonce and be refused as
 * a replay, so the loops retry with a fresh request instead. */
#include "hl.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_tls.h"
#include "pb_wire.h"

#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The router creates the secret on its first start; the connector only
 * reads it, so a wrong path is an error here, not a new key. */
static int load_secret(const char *path, uint8_t out[32])
{
	char hex[2 * 32 + 8];
	size_t len = 0;
	int rc = pb_read_secret_file(path, (uint8_t *)hex, sizeof(hex) - 1, &len);

	if (rc)
		return rc == PB_ETOOBIG ? PB_ECORRUPT : rc;
	while (len > 0 && (hex[len - 1] == '\n' || hex[len - 1] == '\r' || hex[len - 1] == ' '))
		len--;
	hex[len] = '\0';
	rc = len == 64 && pb_unhex(hex, out, 32) == 0 ? PB_OK : PB_ECORRUPT;
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

int hl_router_open(struct hl_router *r, const struct pb_conf *c)
{
	int rc, rv;

	memset(r, 0, sizeof(*r));
	if ((rc = load_secret(c->gateway_secret, r->secret))) {
		snprintf(r->err, sizeof(r->err), "gateway secret %s: %s", c->gateway_secret,
		         rc == PB_ENOTFOUND ? "not there (the router makes it on its first start)" :
		                              rc == PB_ECORRUPT ? "not 64 hex digits" : pb_err_str(rc));
		return rc;
	}
	if ((rv = nng_req0_open(&r->sock))) {
		snprintf(r->err, sizeof(r->err), "cannot open socket: %s", nng_strerror(rv));
		return PB_EIO;
	}
	r->open = 1;
	if ((rv = nng_socket_set_ms(r->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) ||
	    (rv = nng_socket_set_ms(r->sock, NNG_OPT_RECONNMINT, 50)) ||
	    (rv = nng_socket_set_ms(r->sock, NNG_OPT_RECONNMAXT, 1000)) ||
	    (rv = nng_socket_set_size(r->sock, NNG_OPT_RECVMAXSZ, 16u << 20)) ||
	    (rv = pb_tls_dial(r->sock, c->router_url, NNG_FLAG_NONBLOCK, r->err, sizeof(r->err)))) {
		if (!r->err[0])
			snprintf(r->err, sizeof(r->err), "cannot dial %s: %s", c->router_url,
			         nng_strerror(rv));
		hl_router_close(r);
		return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? PB_EINVAL : PB_EUNAVAIL;
	}
	return PB_OK;
}

void hl_router_close(struct hl_router *r)
{
	if (r->open)
		nng_close(r->sock);
	r->open = 0;
	sodium_memzero(r->secret, sizeof(r->secret));
}

int hl_router_call(struct hl_router *r, Mailroom__Request *req, int timeout_ms,
                   Mailroom__Response **resp)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc, rv;

	*resp = NULL;
	r->err[0] = '\0';
	if ((rc = pb_wire_seal_gateway(req, r->secret, &buf, &len))) {
		snprintf(r->err, sizeof(r->err), "cannot seal the request: %s", pb_err_str(rc));
		return rc;
	}
	if ((rv = nng_socket_set_ms(r->sock, NNG_OPT_RECVTIMEO, timeout_ms)) ||
	    (rv = nng_socket_set_ms(r->sock, NNG_OPT_SENDTIMEO, timeout_ms)) ||
	    (rv = nng_send(r->sock, buf, len, 0))) {
		free(buf);
		snprintf(r->err, sizeof(r->err), "cannot send to the router: %s", nng_strerror(rv));
		return PB_EUNAVAIL;
	}
	free(buf);
	buf = NULL;
	if ((rv = nng_recv(r->sock, &buf, &len, NNG_FLAG_ALLOC))) {
		snprintf(r->err, sizeof(r->err), "no answer from the router: %s", nng_strerror(rv));
		return PB_EUNAVAIL;
	}
	*resp = mailroom__response__unpack(NULL, len, buf);
	nng_free(buf, len);
	if (!*resp) {
		snprintf(r->err, sizeof(r->err), "the router sent an unreadable answer");
		return PB_ECORRUPT;
	}
	return PB_OK;
}

int hl_router_status(struct hl_router *r, char *cursor, size_t len, uint64_t *pending,
                     uint64_t *dead)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__HotlineStatusReq q = MAILROOM__HOTLINE_STATUS_REQ__INIT;
	Mailroom__Response *resp;
	int rc;

	req.op_case = MAILROOM__REQUEST__OP_HOTLINE_STATUS;
	req.hotline_status = &q;
	if ((rc = hl_router_call(r, &req, HL_ROUTER_TIMEOUT_MS, &resp)))
		return rc;
	rc = resp->code;
	if (rc == PB_OK && (resp->result_case != MAILROOM__RESPONSE__RESULT_HOTLINE_STATUS ||
	                    !resp->hotline_status))
		rc = PB_ECORRUPT;
	if (rc) {
		snprintf(r->err, sizeof(r->err), "router: %s", resp->message ? resp->message : pb_err_str(rc));
	} else {
		const Mailroom__HotlineStatusResp *s = resp->hotline_status;
		if (strlen(s->cursor) >= len)
			rc = PB_ETOOBIG;
		else
			snprintf(cursor, len, "%s", s->cursor);
		if (pending)
			*pending = s->outbox_pending;
		if (dead)
			*dead = s->outbox_dead;
	}
	mailroom__response__free_unpacked(resp, NULL);
	return rc;
}
