/* Sealing and opening the authenticated Envelope that carries every
 * request to the router (see mailroom.proto). One place for the domain
 * tag and the MAC/signature rules, so gateway, handler client and router
 * cannot drift apart. */
#ifndef PB_WIRE_H
#define PB_WIRE_H

#include "mailroom.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define PB_WIRE_MAX (1u << 20)   /* the router refuses larger envelopes */
#define PB_GATEWAY_SECRET_LEN 32

/* Packs req (filling ts_ms and nonce) and wraps it. *out is malloc'd. */
int pb_wire_seal_gateway(Mailroom__Request *req, const uint8_t secret[PB_GATEWAY_SECRET_LEN],
                         uint8_t **out, size_t *outlen);
/* Packs req alone (filling ts_ms and nonce), as one item of a gateway
 * BatchReq: no tag and no MAC of its own. *out is malloc'd. */
int pb_wire_pack_item(Mailroom__Request *req, uint8_t **out, size_t *outlen);
int pb_wire_seal_handler(Mailroom__Request *req, const uint8_t sk[64], uint8_t **out,
                         size_t *outlen);
/* The same under the 12345 connector's own key (AUTH_CONNECTOR). */
int pb_wire_seal_connector(Mailroom__Request *req, const uint8_t sk[64], uint8_t **out,
                           size_t *outlen);

/* Wraps a console request as the gateway forwards it (AUTH_HTTPSIG): no
 * tag and no MAC, the handler's RFC 9421 signature inside is what the
 * router checks. */
int pb_wire_seal_httpsig(const Mailroom__HttpSigReq *h, uint8_t **out, size_t *outlen);

/* Parses an Envelope and checks its MAC or signature. For AUTH_HANDLER
 * (AUTH_CONNECTOR) the caller must then check that env->key is a
 * configured handler (connector); the
 * signature is checked against that key here. On success *req is the
 * unpacked request (free with mailroom__request__free_unpacked) and *env
 * the envelope (free with mailroom__envelope__free_unpacked). Freshness and
 * nonce checks are the router's (they need its clock and memory).
 * AUTH_HTTPSIG envelopes are not opened here: PB_EAUTH (rt_console.c). */
int pb_wire_open(const uint8_t *buf, size_t len, const uint8_t gateway_secret[PB_GATEWAY_SECRET_LEN],
                 Mailroom__Envelope **env, Mailroom__Request **req);

/* Packs a Response into a malloc'd buffer. */
int pb_wire_pack_response(const Mailroom__Response *resp, uint8_t **out, size_t *outlen);

#endif
