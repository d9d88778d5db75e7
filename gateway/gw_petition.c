/* POST /v1/petition/transfers: the petition system (阳光信访) pushes one
 * transferred petition (docs/petition-transfer.md). It signs exactly as
 * the 12345 platform does (gw_hotline.c), under its own app ids and
 * secrets ([petition.app.ID] secret_file) and with its own nonce memory.
 * The router makes the push idempotent on the petition number. */
#include "gw.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"
#include "pj.h"

#include <stdio.h>
#include <string.h>

int gw_petition_load_apps(struct gw_hotline *h, const struct pb_conf *c, struct gw_appset **out,
                          char *err, size_t errlen)
{
	return gw_apps_load(h, c->petition_apps, c->npetition_apps, "petition", out, err, errlen);
}

enum MHD_Result gw_post_petition(struct gw_req *r, const char *method)
{
	Mailroom__SubmitReq sub;
	Mailroom__PetitionTransfer p;
	Mailroom__Contact contact;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	struct pj_error err;
	json_t *root;
	enum MHD_Result ret;
	struct gw_hl_auth a = {
		.app_id = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-App-Id"),
		.timestamp = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Timestamp"),
		.nonce = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Nonce"),
		.signature = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Signature"),
		.method = method,
		.path = r->uri,
		.body = (const uint8_t *)r->body,
		.body_len = r->len,
	};
	const char *why = gw_hotline_verify(&r->g->petition, &a, pb_now_ms() / 1000);

	if (why && strcmp(why, "unavailable") == 0)
		return gw_unavailable(r, "too many recent requests; try again");
	if (why) {
		pb_warn("petition: refused push from app '%.64s': %s", a.app_id ? a.app_id : "", why);
		return gw_send_error(r, MHD_HTTP_UNAUTHORIZED, why,
		                     "petition system request authentication failed");
	}
	if (pj_parse_petition(r->body ? r->body : "", r->len, &root, &sub, &p, &contact, &err)) {
		pb_warn("petition: refused transfer from app '%s': %s: %s", a.app_id, err.code,
		        err.message);
		return gw_send_error(r, MHD_HTTP_BAD_REQUEST, err.code, err.message);
	}
	snprintf(r->order_no, sizeof(r->order_no), "%s", p.petition_no);
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &sub;
	ret = gw_start_call(r, &req) != PB_OK
	          ? gw_unavailable(r, "the router is not reachable; try again")
	          : MHD_YES;
	json_decref(root);
	return ret;
}

/* The answer: the message as the petition system may see it (no
 * petitioner), its deadlines and the receipt of its RECEIVED record. */
enum MHD_Result gw_petition_answer(struct gw_req *r, const Mailroom__Response *resp)
{
	const Mailroom__SubmitResp *s = resp->submit;
	struct pj_out o = {0};

	if (resp->result_case != MAILROOM__RESPONSE__RESULT_SUBMIT || !s || !s->message) {
		pb_error("router: answer of the wrong shape for %s", r->uri);
		return gw_unavailable(r, "the service could not answer; try again");
	}
	pj_view_write(&o, s->message, PJ_CITIZEN, 0);
	pj_out_key(&o, "petition_no");
	pj_out_str(&o, r->order_no, strlen(r->order_no));
	pj_out_key(&o, "duplicate");
	pj_out_bool(&o, s->duplicate);
	pj_out_key(&o, "receipt");
	pj_receipt_write(&o, s->receipt);
	pj_out_raw(&o, "}", 1);
	pb_info("petition: %s %s as %s", r->order_no,
	        s->duplicate ? "repeated, acknowledged" : "stored", s->message->tracking_code);
	return gw_send_out(r, s->duplicate ? MHD_HTTP_OK : MHD_HTTP_CREATED, &o, NULL, 0);
}
