/* GET /v1/log/...: the transparency log, read-only. The signed checkpoint
 * goes out as the signed note it is (text/plain); proofs and entries as
 * JSON with base64 hashes. Sizes above the latest checkpoint are refused,
 * so a client is only ever shown durable, published state. */
#include "gw.h"
#include "pb_err.h"

#include <errno.h>
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

enum MHD_Result gw_get_log(struct gw_req *r, const char *url)
{
	Mailroom__LogReq q = MAILROOM__LOG_REQ__INIT;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	int bad = 0;

	if (strcmp(url, "/v1/log/checkpoint") == 0) {
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
		size_t len = strlen(l->checkpoint);
		char *text = malloc(len + 1);
		if (!text)
			return MHD_NO;
		memcpy(text, l->checkpoint, len + 1);
		return gw_send_body(r, MHD_HTTP_OK, text, len, "text/plain; charset=utf-8", NULL, 0);
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
