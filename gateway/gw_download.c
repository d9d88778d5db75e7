/* Files for the citizen. A file of the handler's reply: GET
 * /v1/messages/{code}/reply-files/{n} with the access key as a Bearer
 * token, and /track's download button (gw_pages.c), which carries the
 * key's hash sealed, never the key. The router proves the key as for a
 * status read and hands out a clean file in pieces under the wire limit;
 * they are gathered here and sent as one download. And the receipt of
 * the letter, from /track's receipt button. */
#include "gw.h"
#include "pb_err.h"
#include "pb_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_FILES "/reply-files/"

/* Asks for the next piece, from what is gathered so far. */
static int ask(struct gw_req *r)
{
	Mailroom__ReplyFileReq q = MAILROOM__REPLY_FILE_REQ__INIT;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;

	q.tracking_code = r->dl.code;
	q.access_key_hash.data = r->dl.hash;
	q.access_key_hash.len = sizeof(r->dl.hash);
	q.n = r->dl.n;
	q.offset = r->dl.len;
	req.op_case = MAILROOM__REQUEST__OP_REPLY_FILE;
	req.reply_file = &q;
	return gw_start_call(r, &req);
}

int gw_dl_start(struct gw_req *r, const char *code, const uint8_t hash[PB_AKEY_HASH_LEN],
                uint32_t n)
{
	snprintf(r->dl.code, sizeof(r->dl.code), "%s", code);
	memcpy(r->dl.hash, hash, sizeof(r->dl.hash));
	r->dl.n = n;
	r->dl.len = 0;
	return ask(r);
}

int gw_dl_step(struct gw_req *r, enum MHD_Result *ret)
{
	const struct gw_call *c = &r->call;
	const Mailroom__AttachmentResp *a;
	const Mailroom__Attachment *info;
	size_t max = r->g->conf.attach_max_bytes;
	char *grown;

	if (c->rc != PB_OK || !c->resp)
		return GW_DL_AWAY;
	if (c->resp->code != PB_OK)
		return GW_DL_REFUSED;
	a = c->resp->attachment;
	if (c->resp->result_case != MAILROOM__RESPONSE__RESULT_ATTACHMENT || !a || !(info = a->info) ||
	    a->offset != r->dl.len || a->data.len > max - r->dl.len || !info->type) {
		pb_error("router: a file's piece of the wrong shape");
		return GW_DL_AWAY;
	}
	if (a->data.len) {
		if (!(grown = realloc(r->dl.buf, r->dl.len + a->data.len)))
			return GW_DL_AWAY;
		r->dl.buf = grown;
		memcpy(r->dl.buf + r->dl.len, a->data.data, a->data.len);
		r->dl.len += a->data.len;
	}
	snprintf(r->dl.type, sizeof(r->dl.type), "%s", info->type);
	if (!a->last) {
		/* A piece that carried nothing and is not the last would ask forever. */
		if (!a->data.len)
			return GW_DL_AWAY;
		gw_call_fini(&r->call);
		if (ask(r) != PB_OK)
			return GW_DL_AWAY;
		*ret = MHD_YES;
		return GW_DL_MORE;
	}
	return GW_DL_DONE;
}

enum MHD_Result gw_dl_send(struct gw_req *r)
{
	static const char *const exts[][2] = {
		{"image/jpeg", "jpg"}, {"image/png", "png"}, {"application/pdf", "pdf"},
	};
	const char *ext = NULL;
	char disp[96];
	char *body;

	/* Only the three types the router stores; anything else is not served. */
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (strcmp(r->dl.type, exts[i][0]) == 0)
			ext = exts[i][1];
	if (!ext)
		return gw_unavailable(r, "the service could not answer; try again");
	snprintf(disp, sizeof(disp), "attachment; filename=\"reply-%s-%u.%s\"", r->dl.code,
	         r->dl.n, ext);
	const struct gw_hdr hdrs[] = {
		{MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp},
		{MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff"},
		{MHD_HTTP_HEADER_CACHE_CONTROL, "no-store"},
	};
	/* gw_send_body takes the buffer; an empty file still needs one. */
	body = r->dl.len ? r->dl.buf : malloc(1);
	if (!body)
		return MHD_NO;
	r->dl.buf = NULL;
	return gw_send_body(r, MHD_HTTP_OK, body, r->dl.len, r->dl.type, hdrs,
	                    sizeof(hdrs) / sizeof(hdrs[0]));
}

/* The receipt (a c2sp.org/tlog-proof text) as a file to keep: /track's
 * receipt button. */
enum MHD_Result gw_receipt_send(struct gw_req *r, const char *code, const char *proof)
{
	char disp[96];
	size_t len = strlen(proof);
	char *body = malloc(len + 1);

	if (!body)
		return MHD_NO;
	memcpy(body, proof, len + 1);
	snprintf(disp, sizeof(disp), "attachment; filename=\"mailroom-%s-receipt.txt\"", code);
	const struct gw_hdr hdrs[] = {
		{MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp},
		{MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff"},
		{MHD_HTTP_HEADER_CACHE_CONTROL, "no-store"},
	};
	return gw_send_body(r, MHD_HTTP_OK, body, len, "text/plain; charset=utf-8", hdrs,
	                    sizeof(hdrs) / sizeof(hdrs[0]));
}

/* "{code}/reply-files/{n}" after the prefix, n the file's "n" in the
 * status (from 0); 0 when it is not this route. */
int gw_is_reply_file(const char *url, char *code, size_t clen, uint32_t *n)
{
	size_t np = strlen(GW_MESSAGES_PREFIX), nt = strlen(REPLY_FILES);
	const char *from = url + np, *tail, *d;
	unsigned long v = 0;

	if (strncmp(url, GW_MESSAGES_PREFIX, np) != 0 || !(tail = strchr(from, '/')) ||
	    strncmp(tail, REPLY_FILES, nt) != 0)
		return 0;
	d = tail + nt;
	if (!*d || strlen(d) > 3 || strspn(d, "0123456789") != strlen(d) || (d[0] == '0' && d[1]))
		return 0;
	v = strtoul(d, NULL, 10);
	if (code) {
		if ((size_t)(tail - from) >= clen)
			return 0;
		memcpy(code, from, (size_t)(tail - from));
		code[tail - from] = '\0';
	}
	if (n)
		*n = (uint32_t)v;
	return 1;
}

enum MHD_Result gw_get_reply_file(struct gw_req *r, const char *url)
{
	static const struct gw_hdr challenge = {MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer"};
	uint8_t hash[PB_AKEY_HASH_LEN];
	char seg[64], code[PB_TRACK_TEXT_LEN + 1];
	uint32_t n = 0;
	size_t klen = 0;
	const char *key = gw_bearer(
		MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
		&klen);

	if (!key)
		return gw_send_error_h(r, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
		                       "send Authorization: Bearer <access key>", &challenge, 1);
	pb_akey_hash(key, klen, hash);
	if (!gw_is_reply_file(url, seg, sizeof(seg), &n) ||
	    pb_track_normalize(seg, code, sizeof(code)) != PB_OK)
		return gw_send_error(r, MHD_HTTP_NOT_FOUND, "not_found",
		                     "no such file with this tracking code and access key");
	if (gw_dl_start(r, code, hash, n) != PB_OK)
		return gw_unavailable(r, "the router is not reachable; try again");
	return MHD_YES;
}

enum MHD_Result gw_reply_file_answer(struct gw_req *r)
{
	const Mailroom__Response *resp = r->call.resp;
	enum MHD_Result ret = MHD_NO;

	switch (gw_dl_step(r, &ret)) {
	case GW_DL_MORE:
		return ret;
	case GW_DL_DONE:
		return gw_dl_send(r);
	case GW_DL_REFUSED:
		break;
	default:
		return gw_unavailable(r, "the router did not answer in time; try again");
	}
	/* A wrong key, code or number: one answer, so none tells which. */
	if (resp->code == PB_ENOTFOUND || resp->code == PB_EINVAL)
		return gw_send_error(r, MHD_HTTP_NOT_FOUND, "not_found",
		                     "no such file with this tracking code and access key");
	if (resp->code == PB_ESTATE && resp->error)
		return gw_send_error(r, MHD_HTTP_CONFLICT, resp->error,
		                     resp->message ? resp->message : "the file cannot be read now");
	pb_warn("router: reply file: %s: %s", pb_err_name(resp->code),
	        resp->error ? resp->error : "");
	return gw_unavailable(r, "the file cannot be read now; try again");
}
