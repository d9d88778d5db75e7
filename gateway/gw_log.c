/* GET /v1/log/...: the transparency log, read-only. The signed checkpoint
 * goes out as the signed note it is (text/plain); proofs and entries as
 * JSON with base64 hashes. Sizes above the latest checkpoint are refused,
 * so a client is only ever shown durable, published state.
 *
 * Beside them, the C2SP tlog-tiles paths (c2sp.org/tlog-tiles): GET
 * /checkpoint, /tile/<L>/<N>[.p/<W>] and /tile/entries/<N>[.p/<W>], with
 * <N> in 3-digit elements, all but the last prefixed with x. Tiles and
 * bundles never change once served, so they are cached for a year; the
 * checkpoint for two seconds at most. */
#include "gw.h"
#include "pb_err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A query parameter as an unsigned decimal with no sign or junk. */
static int arg_u64(struct gw_req *r, const char *name, int required, uint64_t *out)
{
	const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
	char *end;

	*out = 0;
	if (!v || !*v)
		return required ? -1 : 0;
	if (v[0] < '0' || v[0] > '9' || strlen(v) > 20)
		return -1;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || *end)
		return -1;
	*out = n;
	return 0;
}

/* A decimal of at most digits characters, no leading zero unless alone. */
static int dec(const char *s, size_t n, size_t digits, uint64_t *out)
{
	*out = 0;
	if (n == 0 || n > digits || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*out = *out * 10 + (uint64_t)(s[i] - '0');
	}
	return 0;
}

/* <N>[.p/<W>] as the spec writes it, and only so: the path must be the
 * one N encodes to (no x000 in front, no other spelling). */
static int tile_index(const char *p, uint64_t *n, uint32_t *width)
{
	const char *part = strstr(p, ".p/");
	size_t nlen = part ? (size_t)(part - p) : strlen(p);
	char want[64];
	uint64_t w = 256, v = 0;
	int k;

	if (part && (dec(part + 3, strlen(part + 3), 3, &w) || w < 1 || w > 255))
		return -1;
	for (size_t i = 0; i < nlen; i++) {
		if (p[i] >= '0' && p[i] <= '9') {
			if (v > (UINT64_MAX - 9) / 10)
				return -1;
			v = v * 10 + (uint64_t)(p[i] - '0');
		} else if (p[i] != 'x' && p[i] != '/') {
			return -1;
		}
	}
	/* Re-encode: 3-digit groups from the right, x on all but the last. */
	{
		char groups[8][4];
		int ng = 0;
		uint64_t x = v;
		size_t at = 0;
		do {
			snprintf(groups[ng++], 4, "%03u", (unsigned)(x % 1000));
			x /= 1000;
		} while (x && ng < 8);
		for (k = ng - 1; k >= 0; k--)
			at += (size_t)snprintf(want + at, sizeof(want) - at, "%s%s%s", k ? "x" : "",
			                       groups[k], k ? "/" : "");
	}
	if (strlen(want) != nlen || memcmp(want, p, nlen) != 0)
		return -1;
	*n = v;
	*width = (uint32_t)w;
	return 0;
}

/* /tile/<L>/<N>[.p/<W>] or /tile/entries/<N>[.p/<W>] into q. */
static int tile_path(const char *url, Mailroom__LogReq *q)
{
	const char *p = url + strlen("/tile/"), *slash;
	uint64_t level;

	if (strncmp(p, "entries/", 8) == 0) {
		q->kind = MAILROOM__LOG_REQ__KIND__ENTRY_BUNDLE;
		return tile_index(p + 8, &q->index, &q->width);
	}
	if (!(slash = strchr(p, '/')) || dec(p, (size_t)(slash - p), 2, &level) || level > 63)
		return -1;
	q->kind = MAILROOM__LOG_REQ__KIND__TILE;
	q->level = (uint32_t)level;
	return tile_index(slash + 1, &q->index, &q->width);
}

enum MHD_Result gw_get_log(struct gw_req *r, const char *url)
{
	Mailroom__LogReq q = MAILROOM__LOG_REQ__INIT;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	int bad = 0;

	if (strcmp(url, "/checkpoint") == 0) {
		q.kind = MAILROOM__LOG_REQ__KIND__CHECKPOINT;
		r->log_tiled = 1;
	} else if (strncmp(url, "/tile/", 6) == 0) {
		if (tile_path(url, &q))
			return gw_send_error(r, MHD_HTTP_NOT_FOUND, "not_found",
			                     "not a tile path (c2sp.org/tlog-tiles)");
		r->log_tiled = 1;
	} else if (strcmp(url, "/v1/log/checkpoint") == 0) {
		q.kind = MAILROOM__LOG_REQ__KIND__CHECKPOINT;
		bad = arg_u64(r, "size", 0, &q.size);
	} else if (strcmp(url, "/v1/log/proof/inclusion") == 0) {
		q.kind = MAILROOM__LOG_REQ__KIND__INCLUSION;
		bad = arg_u64(r, "index", 1, &q.index) || arg_u64(r, "size", 1, &q.size);
	} else if (strcmp(url, "/v1/log/proof/consistency") == 0) {
		q.kind = MAILROOM__LOG_REQ__KIND__CONSISTENCY;
		bad = arg_u64(r, "old", 1, &q.old_size) || arg_u64(r, "new", 1, &q.size);
	} else {
		q.kind = MAILROOM__LOG_REQ__KIND__ENTRIES;
		bad = arg_u64(r, "start", 1, &q.start) || arg_u64(r, "end", 1, &q.end);
	}
	if (bad)
		return gw_send_error(r, MHD_HTTP_BAD_REQUEST, "invalid_query",
		                     "query parameters must be unsigned decimal numbers");
	r->log_kind = q.kind;
	req.op_case = MAILROOM__REQUEST__OP_LOG;
	req.log = &q;
	if (gw_start_call(r, &req) != PB_OK)
		return gw_unavailable(r, "the router is not reachable; try again");
	return MHD_YES;
}

static json_t *b64(const uint8_t *data, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(cap);
	json_t *j;

	if (!s)
		return NULL;
	sodium_bin2base64(s, cap, data, len, sodium_base64_VARIANT_ORIGINAL);
	j = json_string(s);
	free(s);
	return j;
}

static json_t *b64_list(const ProtobufCBinaryData *items, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, b64(items[i].data, items[i].len))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

enum MHD_Result gw_log_answer(struct gw_req *r, const Mailroom__Response *resp)
{
	const Mailroom__LogResp *l = resp->log;
	json_t *doc = NULL;

	if (resp->result_case != MAILROOM__RESPONSE__RESULT_LOG || !l)
		return gw_unavailable(r, "the service could not answer; try again");
	switch (r->log_kind) {
	case MAILROOM__LOG_REQ__KIND__CHECKPOINT: {
		static const struct gw_hdr fresh = {MHD_HTTP_HEADER_CACHE_CONTROL, "public, max-age=2"};
		size_t len = strlen(l->checkpoint);
		char *text = malloc(len + 1);
		if (!text)
			return MHD_NO;
		memcpy(text, l->checkpoint, len + 1);
		return gw_send_body(r, MHD_HTTP_OK, text, len, "text/plain; charset=utf-8",
		                    r->log_tiled ? &fresh : NULL, r->log_tiled ? 1 : 0);
	}
	case MAILROOM__LOG_REQ__KIND__TILE:
	case MAILROOM__LOG_REQ__KIND__ENTRY_BUNDLE: {
		static const struct gw_hdr forever = {MHD_HTTP_HEADER_CACHE_CONTROL,
		                                      "public, max-age=31536000, immutable"};
		char *bytes = malloc(l->tile.len ? l->tile.len : 1);
		if (!bytes)
			return MHD_NO;
		memcpy(bytes, l->tile.data, l->tile.len);
		return gw_send_body(r, MHD_HTTP_OK, bytes, l->tile.len, "application/octet-stream",
		                    &forever, 1);
	}
	case MAILROOM__LOG_REQ__KIND__INCLUSION: {
		uint64_t idx;
		arg_u64(r, "index", 1, &idx);
		doc = json_pack("{s:I, s:I, s:o, s:o}", "index", (json_int_t)idx, "size",
		                (json_int_t)l->size, "leaf_hash", b64(l->leaf_hash.data, l->leaf_hash.len),
		                "proof", b64_list(l->proof, l->n_proof));
		/* The stored record the leaf hashes, when the router sent it. */
		if (doc && l->n_entries == 1 &&
		    json_object_set_new(doc, "entry", b64(l->entries[0].data, l->entries[0].len))) {
			json_decref(doc);
			doc = NULL;
		}
		/* The checkpoint signed at that size, when there is one. */
		if (doc && l->checkpoint && *l->checkpoint &&
		    json_object_set_new(doc, "checkpoint", json_string(l->checkpoint))) {
			json_decref(doc);
			doc = NULL;
		}
		break;
	}
	case MAILROOM__LOG_REQ__KIND__CONSISTENCY: {
		uint64_t old;
		arg_u64(r, "old", 1, &old);
		doc = json_pack("{s:I, s:I, s:o}", "old", (json_int_t)old, "new", (json_int_t)l->size,
		                "proof", b64_list(l->proof, l->n_proof));
		break;
	}
	default:
		doc = json_pack("{s:I, s:I, s:o}", "start", (json_int_t)l->start, "size",
		                (json_int_t)l->size, "entries", b64_list(l->entries, l->n_entries));
		break;
	}
	return gw_send_json(r, MHD_HTTP_OK, doc, NULL, 0);
}
