/* POST /v1/uploads: one citizen's file, raw, judged by its content (not
 * its name or declared type), sent to the router in chunks under the wire
 * limit, and answered with the handle that POST /v1/messages names once
 * the router has the file stored and fsync'd (store/README.md,
 * "Attachments"). */
#include "gw.h"
#include "pb_err.h"
#include "pb_ftype.h"
#include "pb_log.h"

#include <string.h>

#define CHUNK (512u << 10)   /* with its envelope, well under PB_WIRE_MAX */

static enum MHD_Result send_chunk(struct gw_req *r)
{
	Mailroom__UploadReq up = MAILROOM__UPLOAD_REQ__INIT;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	size_t n = r->len - r->upload_off > CHUNK ? CHUNK : r->len - r->upload_off;

	up.upload_id.data = r->upload_id;
	up.upload_id.len = sizeof(r->upload_id);
	up.seq = r->upload_seq;
	up.data.data = (uint8_t *)r->body + r->upload_off;
	up.data.len = n;
	up.final = r->upload_off + n == r->len;
	req.op_case = MAILROOM__REQUEST__OP_UPLOAD;
	req.upload = &up;
	r->upload_off += n;
	r->upload_seq++;
	if (gw_start_call(r, &req) != PB_OK)
		return gw_unavailable(r, "the router is not reachable; try again");
	return MHD_YES;
}

enum MHD_Result gw_post_upload(struct gw_req *r)
{
	if (r->len == 0)
		return gw_send_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "empty_file",
		                     "the request body is the file, and it is empty");
	if (!(r->upload_type = pb_ftype_sniff((const uint8_t *)r->body, r->len)))
		return gw_send_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_type",
		                     "the file is not a JPEG, PNG or PDF (judged by its content)");
	randombytes_buf(r->upload_id, sizeof(r->upload_id));
	r->upload_off = 0;
	r->upload_seq = 0;
	return send_chunk(r);
}

static enum MHD_Result refused(struct gw_req *r, const Mailroom__Response *resp)
{
	const char *ecode = resp->error && *resp->error ? resp->error : pb_err_name(resp->code);
	const char *msg = resp->message && *resp->message ? resp->message : pb_err_str(resp->code);

	switch (resp->code) {
	case PB_ETOOBIG:
		return gw_send_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", msg);
	case PB_EINVAL:
		return gw_send_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, ecode, msg);
	default:
		pb_warn("router: upload: %s: %s", ecode, msg);
		return gw_unavailable(r, "the file could not be stored; try again");
	}
}

enum MHD_Result gw_upload_answer(struct gw_req *r)
{
	const struct gw_call *c = &r->call;
	const Mailroom__UploadResp *u;
	json_t *doc;

	if (c->rc != PB_OK)
		return gw_unavailable(r, "the router did not answer in time; try again");
	if (c->resp->code != 0)
		return refused(r, c->resp);
	if (c->resp->result_case != MAILROOM__RESPONSE__RESULT_UPLOAD || !(u = c->resp->upload))
		return gw_unavailable(r, "the service could not answer; try again");
	if (r->upload_off < r->len) {
		gw_call_fini(&r->call);
		return send_chunk(r);
	}
	if (!u->handle || !*u->handle)
		return gw_unavailable(r, "the service could not answer; try again");
	doc = json_pack("{s:s, s:I, s:s}", "handle", u->handle, "size", (json_int_t)u->size, "type",
	                u->type ? u->type : "");
	return gw_send_json(r, MHD_HTTP_CREATED, doc, NULL, 0);
}
