/* The wire envelope: pb_wire_open on the raw input (a forged or broken
 * envelope must be refused cleanly), and, when the input unpacks as a
 * Request, a seal/open round trip under a gateway secret and a handler key
 * so the parsing past the MAC and the signature is reached too. */
#include "pb_err.h"
#include "pb_wire.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint8_t secret[PB_GATEWAY_SECRET_LEN];
static uint8_t hpk[32], hsk[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	memset(secret, 7, sizeof(secret));
	uint8_t seed[32];
	memset(seed, 9, sizeof(seed));
	crypto_sign_seed_keypair(hpk, hsk, seed);
	return 0;
}

static void open_once(const uint8_t *buf, size_t len, int must)
{
	Mailroom__Envelope *env = NULL;
	Mailroom__Request *req = NULL;
	int rc = pb_wire_open(buf, len, secret, &env, &req);

	if (must && rc != PB_OK)
		abort();   /* what we sealed must open */
	if (rc == PB_OK) {
		mailroom__request__free_unpacked(req, NULL);
		mailroom__envelope__free_unpacked(env, NULL);
	}
}

/* Does req survive pack and unpack? protobuf-c keeps unknown fields it
 * cannot always write back readably; such inputs prove nothing here. */
static int canonical(const Mailroom__Request *req)
{
	size_t n = mailroom__request__get_packed_size(req);
	uint8_t *buf = malloc(n ? n : 1);
	Mailroom__Request *again;

	if (!buf)
		abort();
	mailroom__request__pack(req, buf);
	again = mailroom__request__unpack(NULL, n, buf);
	free(buf);
	if (!again)
		return 0;
	mailroom__request__free_unpacked(again, NULL);
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Mailroom__Request *req;
	ProtobufCBinaryData nonce;
	uint8_t *out;
	size_t outlen;
	int must;

	if (size > PB_WIRE_MAX)
		return 0;
	open_once(data, size, 0);
	req = mailroom__request__unpack(NULL, size, data);
	if (!req)
		return 0;
	must = canonical(req);
	nonce = req->nonce;   /* sealing sets its own, then clears it */
	if (pb_wire_seal_gateway(req, secret, &out, &outlen) == PB_OK) {
		open_once(out, outlen, must);
		free(out);
	}
	if (pb_wire_seal_handler(req, hsk, &out, &outlen) == PB_OK) {
		open_once(out, outlen, must);
		free(out);
	}
	if (pb_wire_pack_item(req, &out, &outlen) == PB_OK)
		free(out);
	req->nonce = nonce;
	mailroom__request__free_unpacked(req, NULL);
	return 0;
}
