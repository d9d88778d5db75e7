/* The router connection of mailroom-notify: a REQ socket that redials by
 * itself, requests signed with the notifier's own Ed25519 key ([notify]
 * key_file, listed on the router as [connector.NAME] with role = notify),
 * and no resends: a resent request would be refused as a replay, so the
 * loop retries with a fresh one. */
#include "nt.h"
#include "pb_err.h"
#include "pb_tls.h"
#include "pb_wire.h"

#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nt_router_open(struct nt_router *r, const struct pb_conf *c)
{
	uint8_t seed[32], pk[32];
	int rc, rv;

	memset(r, 0, sizeof(*r));
	if (!*c->notify_key_file || (rc = pb_secret_load(c->notify_key_file, seed, sizeof(seed)))) {
		rc = *c->notify_key_file ? rc : PB_ENOTFOUND;
		snprintf(r->err, sizeof(r->err), "[notify] key_file %s: %s",
		         *c->notify_key_file ? c->notify_key_file : "(not set)",
		         rc == PB_ENOTFOUND ? "not there (mailroom-handler --key FILE keygen makes one)" :
		         rc == PB_ECORRUPT  ? "not 64 hex digits" : pb_err_str(rc));
		return rc;
	}
	crypto_sign_seed_keypair(pk, r->sk, seed);
	sodium_memzero(seed, sizeof(seed));
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
		nt_router_close(r);
		return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? PB_EINVAL : PB_EUNAVAIL;
	}
	return PB_OK;
}

void nt_router_close(struct nt_router *r)
{
	if (r->open)
		nng_close(r->sock);
	r->open = 0;
	sodium_memzero(r->sk, sizeof(r->sk));
}

int nt_router_call(struct nt_router *r, Mailroom__Request *req, Mailroom__Response **resp)
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
	if ((rv = nng_socket_set_ms(r->sock, NNG_OPT_RECVTIMEO, NT_ROUTER_TIMEOUT_MS)) ||
	    (rv = nng_socket_set_ms(r->sock, NNG_OPT_SENDTIMEO, NT_ROUTER_TIMEOUT_MS)) ||
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
