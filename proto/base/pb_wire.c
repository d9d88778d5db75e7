#include "pb_wire.h"
#include "pb_err.h"
#include "pb_time.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char tag[] = "mailroom/req/v1\n";
#define TAG_LEN (sizeof(tag) - 1)
/* The gateway's MAC: keyed BLAKE2b-256 (libsodium's crypto_generichash
 * with the gateway secret as its key), several times cheaper than
 * HMAC-SHA-256 over a request of a few hundred bytes, and paid twice per
 * message: sealed by the gateway, checked by the router. */
#define WIRE_MAC_LEN 32

static int pack_request(Mailroom__Request *req, uint8_t nonce[16], uint8_t **buf, size_t *len)
{
	randombytes_buf(nonce, 16);
	req->ts_ms = (uint64_t)pb_now_ms();
	req->nonce.data = nonce;
	req->nonce.len = 16;
	*len = mailroom__request__get_packed_size(req);
	if (*len > PB_WIRE_MAX)
		return PB_ETOOBIG;
	*buf = malloc(TAG_LEN + *len + 1);
	if (!*buf)
		return PB_ENOMEM;
	memcpy(*buf, tag, TAG_LEN);
	mailroom__request__pack(req, *buf + TAG_LEN);
	return PB_OK;
}

static int pack_envelope(Mailroom__Envelope *env, uint8_t **out, size_t *outlen)
{
	*outlen = mailroom__envelope__get_packed_size(env);
	*out = malloc(*outlen ? *outlen : 1);
	if (!*out)
		return PB_ENOMEM;
	mailroom__envelope__pack(env, *out);
	return PB_OK;
}

int pb_wire_seal_gateway(Mailroom__Request *req, const uint8_t secret[PB_GATEWAY_SECRET_LEN],
                         uint8_t **out, size_t *outlen)
{
	Mailroom__Envelope env = MAILROOM__ENVELOPE__INIT;
	uint8_t nonce[16], mac[WIRE_MAC_LEN];
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = pack_request(req, nonce, &buf, &len)))
		return rc;
	env.kind = MAILROOM__AUTH_KIND__AUTH_GATEWAY;
	env.request.data = buf + TAG_LEN;
	env.request.len = len;
	env.auth.data = mac;
	env.auth.len = sizeof(mac);
	rc = crypto_generichash(mac, sizeof(mac), buf, TAG_LEN + len, secret, PB_GATEWAY_SECRET_LEN)
	         ? PB_EINVAL
	         : pack_envelope(&env, out, outlen);
	free(buf);
	req->nonce.data = NULL;
	req->nonce.len = 0;
	return rc;
}

int pb_wire_pack_item(Mailroom__Request *req, uint8_t **out, size_t *outlen)
{
	uint8_t nonce[16], *buf;
	size_t len;
	int rc;

	if ((rc = pack_request(req, nonce, &buf, &len)) == PB_OK) {
		/* The tag goes: an item is covered by its batch's MAC. */
		memmove(buf, buf + TAG_LEN, len);
		*out = buf;
		*outlen = len;
	}
	req->nonce.data = NULL;
	req->nonce.len = 0;
	return rc;
}

/* Handlers and the connector sign alike; kind says which key list the
 * router looks env.key up in. */
static int seal_signed(Mailroom__Request *req, int kind, const uint8_t sk[64], uint8_t **out,
                       size_t *outlen)
{
	Mailroom__Envelope env = MAILROOM__ENVELOPE__INIT;
	uint8_t nonce[16], sig[crypto_sign_BYTES];
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = pack_request(req, nonce, &buf, &len)))
		return rc;
	crypto_sign_detached(sig, NULL, buf, TAG_LEN + len, sk);
	env.kind = kind;
	env.key.data = (uint8_t *)sk + 32;   /* libsodium keeps the public key in the second half */
	env.key.len = 32;
	env.request.data = buf + TAG_LEN;
	env.request.len = len;
	env.auth.data = sig;
	env.auth.len = sizeof(sig);
	rc = pack_envelope(&env, out, outlen);
	free(buf);
	req->nonce.data = NULL;
	req->nonce.len = 0;
	return rc;
}

int pb_wire_seal_handler(Mailroom__Request *req, const uint8_t sk[64], uint8_t **out,
                         size_t *outlen)
{
	return seal_signed(req, MAILROOM__AUTH_KIND__AUTH_HANDLER, sk, out, outlen);
}

int pb_wire_seal_connector(Mailroom__Request *req, const uint8_t sk[64], uint8_t **out,
                           size_t *outlen)
{
	return seal_signed(req, MAILROOM__AUTH_KIND__AUTH_CONNECTOR, sk, out, outlen);
}

int pb_wire_seal_httpsig(const Mailroom__HttpSigReq *h, uint8_t **out, size_t *outlen)
{
	Mailroom__Envelope env = MAILROOM__ENVELOPE__INIT;
	size_t len = mailroom__http_sig_req__get_packed_size(h);
	int rc;

	if (len > PB_WIRE_MAX - 64)
		return PB_ETOOBIG;
	if (!(env.request.data = malloc(len ? len : 1)))
		return PB_ENOMEM;
	mailroom__http_sig_req__pack(h, env.request.data);
	env.request.len = len;
	env.kind = MAILROOM__AUTH_KIND__AUTH_HTTPSIG;
	rc = pack_envelope(&env, out, outlen);
	free(env.request.data);
	return rc;
}

int pb_wire_open(const uint8_t *buf, size_t len, const uint8_t gateway_secret[PB_GATEWAY_SECRET_LEN],
                 Mailroom__Envelope **envp, Mailroom__Request **reqp)
{
	Mailroom__Envelope *env;
	Mailroom__Request *req;
	uint8_t *msg;
	int ok = 0;

	*envp = NULL;
	*reqp = NULL;
	if (len > PB_WIRE_MAX)
		return PB_ETOOBIG;
	env = mailroom__envelope__unpack(NULL, len, buf);
	if (!env)
		return PB_EINVAL;
	msg = malloc(TAG_LEN + env->request.len + 1);
	if (!msg) {
		mailroom__envelope__free_unpacked(env, NULL);
		return PB_ENOMEM;
	}
	memcpy(msg, tag, TAG_LEN);
	if (env->request.len)
		memcpy(msg + TAG_LEN, env->request.data, env->request.len);
	if (env->kind == MAILROOM__AUTH_KIND__AUTH_GATEWAY && gateway_secret) {
		uint8_t want[WIRE_MAC_LEN];
		ok = env->auth.len == WIRE_MAC_LEN &&
		     crypto_generichash(want, sizeof(want), msg, TAG_LEN + env->request.len,
		                        gateway_secret, PB_GATEWAY_SECRET_LEN) == 0 &&
		     sodium_memcmp(want, env->auth.data, WIRE_MAC_LEN) == 0;
	} else if (env->kind == MAILROOM__AUTH_KIND__AUTH_HANDLER ||
	           env->kind == MAILROOM__AUTH_KIND__AUTH_CONNECTOR) {
		ok = env->key.len == 32 && env->auth.len == crypto_sign_BYTES &&
		     crypto_sign_verify_detached(env->auth.data, msg, TAG_LEN + env->request.len,
		                                 env->key.data) == 0;
	}
	free(msg);
	if (!ok) {
		mailroom__envelope__free_unpacked(env, NULL);
		return PB_EAUTH;
	}
	req = mailroom__request__unpack(NULL, env->request.len, env->request.data);
	if (!req || req->nonce.len != 16) {
		if (req)
			mailroom__request__free_unpacked(req, NULL);
		mailroom__envelope__free_unpacked(env, NULL);
		return PB_EINVAL;
	}
	*envp = env;
	*reqp = req;
	return PB_OK;
}

int pb_wire_pack_response(const Mailroom__Response *resp, uint8_t **out, size_t *outlen)
{
	*outlen = mailroom__response__get_packed_size(resp);
	*out = malloc(*outlen ? *outlen : 1);
	if (!*out)
		return PB_ENOMEM;
	mailroom__response__pack(resp, *out);
	return PB_OK;
}
