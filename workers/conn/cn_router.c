/* The router connection of a connector: a REQ socket that redials by
 * itself when the router restarts, requests signed with the connector's
 * own Ed25519 key (listed on the router as [connector.NAME] key), and no
 * resends: a resent request would carry the same nonce and be refused as
 * a replay, so the loops retry with a fresh request instead.
 * (mailroom-handler has its own client, wk_client.c: it signs as a
 * handler and dials blocking, since a command wants "nobody there" now.) */
#include "cn.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_link.h"
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

int cn_router_open(struct cn_router *r, const char *section, const char *key_file,
                   const char *url)
{
	int rc, rv;

	memset(r, 0, sizeof(*r));
	if ((rc = load_key(key_file, r->sk))) {
		snprintf(r->err, sizeof(r->err), "[%s] key_file %s: %s", section,
		         *key_file ? key_file : "(not set)",
		         rc == PB_ENOTFOUND ? "not there (mailroom-handler --key FILE keygen makes one)" :
		         rc == PB_ECORRUPT  ? "not 64 hex digits" : pb_err_str(rc));
		return rc;
	}
	if ((rv = nng_req0_open(&r->sock))) {
		sodium_memzero(r->sk, sizeof(r->sk));
		snprintf(r->err, sizeof(r->err), "cannot open socket: %s", nng_strerror(rv));
		return PB_EIO;
	}
	if ((rv = nng_socket_set_ms(r->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) ||
	    (rv = nng_socket_set_ms(r->sock, NNG_OPT_RECONNMINT, 50)) ||
	    (rv = nng_socket_set_ms(r->sock, NNG_OPT_RECONNMAXT, 1000)) ||
	    (rv = nng_socket_set_size(r->sock, NNG_OPT_RECVMAXSZ, 16u << 20)) ||
	    (rv = pb_link_dial(&r->link, r->sock, url, "router", NNG_FLAG_NONBLOCK, r->err,
	                       sizeof(r->err)))) {
		if (!r->err[0])
			snprintf(r->err, sizeof(r->err), "cannot dial %s: %s", url, nng_strerror(rv));
		nng_close(r->sock);
		sodium_memzero(r->sk, sizeof(r->sk));
		return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? PB_EINVAL : PB_EUNAVAIL;
	}
	r->open = 1;
	return PB_OK;
}

void cn_router_close(struct cn_router *r)
{
	if (r->open) {
		pb_link_close(&r->link);
		nng_close(r->sock);
		pb_link_fini(&r->link);
	}
	r->open = 0;
	sodium_memzero(r->sk, sizeof(r->sk));
}

int cn_router_call(struct cn_router *r, Mailroom__Request *req, int timeout_ms,
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
	/* Not connected still waits below, for a router that is coming back;
	 * this only replaces a dialer that stopped trying. */
	(void)pb_link_up(&r->link);
	if ((rv = nng_socket_set_ms(r->sock, NNG_OPT_RECVTIMEO, timeout_ms)) ||
	    (rv = nng_socket_set_ms(r->sock, NNG_OPT_SENDTIMEO, timeout_ms)) ||
	    (rv = nng_send(r->sock, buf, len, 0))) {
		free(buf);
		snprintf(r->err, sizeof(r->err), "cannot send to the router: %s", nng_strerror(rv));
		cn_health_router(0);
		return PB_EUNAVAIL;
	}
	free(buf);
	buf = NULL;
	if ((rv = nng_recv(r->sock, &buf, &len, NNG_FLAG_ALLOC))) {
		snprintf(r->err, sizeof(r->err), "no answer from the router: %s", nng_strerror(rv));
		cn_health_router(0);
		return PB_EUNAVAIL;
	}
	/* Any answer, even a refusal, shows the router is there. */
	cn_health_router(1);
	*resp = mailroom__response__unpack(NULL, len, buf);
	nng_free(buf, len);
	if (!*resp) {
		snprintf(r->err, sizeof(r->err), "the router sent an unreadable answer");
		return PB_ECORRUPT;
	}
	return PB_OK;
}
