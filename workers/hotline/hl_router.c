/* The router connection of mailroom-hotline: a REQ socket that redials
 * by itself when the router restarts, requests signed with the
 * connector's own Ed25519 key ([hotline] key_file, listed on the router
 * as [connector.NAME] key), and no resends: a resent request would carry
 * the same nonce and be refused as a replay, so the loops retry with a
 * fresh request instead. */
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

/* The key file holds the hex of the Ed25519 seed, as a handler's does
 * (mailroom-handler --key FILE keygen makes one; its pubkey command prints
 * what the router's [connector.NAME] key takes). */
static int load_key(const char *path, uint8_t sk[64])
{
	uint8_t seed[32], pk[32];
	int rc;

	if (!*path)
		return PB_ENOTFOUND;
	if ((rc = pb_secret_load(path, seed, sizeof(seed))))
		return rc;
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof(seed));
	return PB_OK;
}

int hl_router_open(struct hl_router *r, const struct pb_conf *c)
{
	int rc, rv;

	memset(r, 0, sizeof(*r));
	if ((rc = load_key(c->hotline_key_file, r->sk))) {
		snprintf(r->err, sizeof(r->err), "[hotline] key_file %s: %s",
		         *c->hotline_key_file ? c->hotline_key_file : "(not set)",
		         rc == PB_ENOTFOUND ? "not there (mailroom-handler --key FILE keygen makes one)" :
		         rc == PB_ECORRUPT  ? "not 64 hex digits" : pb_err_str(rc));
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
	sodium_memzero(r->sk, sizeof(r->sk));
}

int hl_router_call(struct hl_router *r, Mailroom__Request *req, int timeout_ms,
                   Mailroom__Response **resp)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc, rv;

	*resp = NULL;
	r->err[0] = '\0';
	if ((rc = pb_wire_seal_connector(req, r->sk, &buf, &len))) {
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
