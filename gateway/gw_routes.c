/* What each route does once its request is in: build the protobuf
 * request, send it to the router with the connection suspended, and turn
 * the router's answer (or its absence) into HTTP. */
#include "gw.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"
#include "pb_time.h"
#include "pj.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NOT_FOUND_STATUS "no message with this tracking code and access key"

/* Unknown code, malformed code and wrong key all look the same. */
static enum MHD_Result status_not_found(struct gw_req *r)
{
	return gw_send_error(r, MHD_HTTP_NOT_FOUND, "not_found", NOT_FOUND_STATUS);
}

static void call_done(void *arg)
{
	struct gw_req *r = arg;
	struct gw *g = r->g;

	/* After the resume r belongs to the HTTP thread again. */
	MHD_resume_connection(r->conn);
	atomic_fetch_sub(&g->inflight, 1);
}

/* Suspends the connection and sends req; the handler runs again once the
 * router has answered or the call failed. An error means nothing was
 * sent and the connection is not suspended. */
int gw_start_call(struct gw_req *r, Mailroom__Request *req)
{
	struct gw *g = r->g;
	int rc;

	/* Counted before prepare, so gw_stop, which closes the client and
	 * then waits for this count, never misses a call. */
	atomic_fetch_add(&g->inflight, 1);
	rc = gw_call_prepare(&r->call, &g->router, req);
	if (rc != PB_OK) {
		atomic_fetch_sub(&g->inflight, 1);
		if (rc != PB_EUNAVAIL)
			pb_error("router request: %s", pb_err_str(rc));
		return rc;
	}
	/* Suspend first, so the resume can never come before it. */
	r->phase = GW_PH_WAIT;
	MHD_suspend_connection(r->conn);
	gw_call_send(&r->call, call_done, r);
	return PB_OK;
}

static enum MHD_Result call_router(struct gw_req *r, Mailroom__Request *req)
{
	if (gw_start_call(r, req) != PB_OK)
		return gw_unavailable(r, "the router is not reachable; try again");
	return MHD_YES;
}

/* Idempotency-Key: 16-128 visible ASCII characters. With it, the key's
 * and the body's hashes go to the router, which answers a repeat with
 * the first message, and the access key is derived from both, so the
 * repeat shows the same key. Without it the gateway makes one, never
 * shown unless the answer is a 202, so that a lost answer can be asked
 * for by key (gw_router.c): "mr-" and the hex of 32 bytes, the time in
 * microseconds then 24 random ones. Such a key is sent as those bytes,
 * not hashed: made keys then grow with time, so the router's index takes
 * them at its right edge instead of dirtying a page per message. -1 when
 * malformed. */
static int idempotency(struct gw_req *r, Mailroom__SubmitReq *sub, uint8_t idem[32],
                       uint8_t body[32])
{
	static const uint8_t domain[] = "mailroom/idem/api";
	const char *k = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Idempotency-Key");
	char kh[65], bh[65];
	size_t n;

	if (!k) {
		uint64_t us = (uint64_t)pb_now_ms() * 1000 + (uint64_t)(pb_mono_us() % 1000);
		for (int i = 0; i < 8; i++)
			idem[i] = (uint8_t)(us >> (56 - 8 * i));
		randombytes_buf(idem + 8, 24);
		memcpy(r->idem_text, "mr-", 3);
		pb_hex(idem, 32, r->idem_text + 3);
		k = r->idem_text;
	}
	n = strlen(k);
	if (n < 16 || n > 128)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (k[i] < 0x21 || k[i] > 0x7e)
			return -1;
	if (k != r->idem_text)
		memcpy(r->idem_text, k, n + 1);
	/* A key made above already has its bytes in idem. */
	if (k != r->idem_text &&
	    (n != 3 + 64 || memcmp(k, "mr-", 3) != 0 ||
	     sodium_hex2bin(idem, 32, k + 3, 64, NULL, NULL, NULL) != 0))
		crypto_generichash(idem, 32, (const uint8_t *)k, n, domain, sizeof(domain) - 1);
	crypto_generichash(body, 32, (const uint8_t *)(r->body ? r->body : ""), r->len, NULL, 0);
	if (k == r->idem_text)
		memcpy(kh, k + 3, sizeof(kh));   /* made from idem above, its hex and NUL */
	else
		pb_hex(idem, 32, kh);
	pb_hex(body, 32, bh);
	gw_akey_derive(r->g, "akey/api", kh, bh, r->akey);
	sub->idem_key.data = idem;
	sub->idem_key.len = 32;
	sub->idem_body.data = body;
	sub->idem_body.len = 32;
	return 0;
}

#define BAD_IDEM "Idempotency-Key: 16-128 visible ASCII characters"

enum MHD_Result gw_post_message(struct gw_req *r)
{
	uint8_t idem[32], body[32];
	Mailroom__SubmitReq sub;
	Mailroom__Contact contact;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	struct pj_error err;
	uint8_t hash[PB_AKEY_HASH_LEN];
	json_t *root;
	enum MHD_Result ret;

	const char *handles[64];
	size_t nhandles = 0;
	size_t cap = (size_t)r->g->conf.attach_max_files;

	if (pj_parse_message(r->body ? r->body : "", r->len, &root, &sub, &contact, &err))
		return gw_send_error(r, MHD_HTTP_BAD_REQUEST, err.code, err.message);
	if (pj_parse_attachments(root, handles, cap < 64 ? cap : 64, &nhandles, &err)) {
		json_decref(root);
		return gw_send_error(r, strcmp(err.code, "too_many_files") == 0
		                            ? MHD_HTTP_UNPROCESSABLE_CONTENT
		                            : MHD_HTTP_BAD_REQUEST,
		                     err.code, err.message);
	}
	sub.attachments = (char **)handles;
	sub.n_attachments = nhandles;
	/* The citizen keeps the key; the router only ever sees its hash. */
	if (idempotency(r, &sub, idem, body)) {
		json_decref(root);
		return gw_send_error(r, MHD_HTTP_BAD_REQUEST, "invalid_field", BAD_IDEM);
	}
	pb_akey_hash(r->akey, strlen(r->akey), hash);
	sub.access_key_hash.data = hash;
	sub.access_key_hash.len = sizeof(hash);
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &sub;
	ret = call_router(r, &req);
	json_decref(root);
	return ret;
}

/* An application for government information: the same path as a message,
 * with the applicant inside (the router seals it). */
enum MHD_Result gw_post_disclosure(struct gw_req *r)
{
	Mailroom__SubmitReq sub;
	struct pj_disclosure d;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	struct pj_error err;
	uint8_t hash[PB_AKEY_HASH_LEN], idem[32], body[32];
	json_t *root;
	enum MHD_Result ret;

	if (pj_parse_disclosure(r->body ? r->body : "", r->len, &root, &sub, &d, &err))
		return gw_send_error(r, MHD_HTTP_BAD_REQUEST, err.code, err.message);
	if (idempotency(r, &sub, idem, body)) {
		json_decref(root);
		sodium_memzero(&d, sizeof(d));
		return gw_send_error(r, MHD_HTTP_BAD_REQUEST, "invalid_field", BAD_IDEM);
	}
	pb_akey_hash(r->akey, strlen(r->akey), hash);
	sub.access_key_hash.data = hash;
	sub.access_key_hash.len = sizeof(hash);
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &sub;
	ret = call_router(r, &req);
	/* The applicant's identity stays only in the sealed request. */
	json_decref(root);
	sodium_memzero(&d, sizeof(d));
	return ret;
}

/* "Bearer <token68>"; the scheme is case-insensitive (RFC 7235). */
const char *gw_bearer(const char *h, size_t *len)
{
	static const char tok[] = "abcdefghijklmnopqrstuvwxyz"
	                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/";
	size_t n;

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	n = strspn(h, tok);
	if (n == 0)
		return NULL;
	n += strspn(h + n, "=");
	if (h[n] != '\0' || n > 256)
		return NULL;
	*len = n;
	return h;
}

enum MHD_Result gw_get_message(struct gw_req *r, const char *url)
{
	static const struct gw_hdr challenge = {MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer"};
	Mailroom__StatusReq st = MAILROOM__STATUS_REQ__INIT;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	uint8_t hash[PB_AKEY_HASH_LEN];
	char code[PB_TRACK_TEXT_LEN + 1];
	size_t klen = 0;
	const char *key = gw_bearer(
		MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
		&klen);

	if (!key)
		return gw_send_error_h(r, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
		                       "send Authorization: Bearer <access key>", &challenge, 1);
	/* Hashed even when the code is malformed: the same work either way. */
	pb_akey_hash(key, klen, hash);
	if (pb_track_normalize(url + strlen(GW_MESSAGES_PREFIX), code, sizeof(code)) != PB_OK)
		return status_not_found(r);
	st.tracking_code = code;
	st.access_key_hash.data = hash;
	st.access_key_hash.len = sizeof(hash);
	req.op_case = MAILROOM__REQUEST__OP_STATUS;
	req.status = &st;
	return call_router(r, &req);
}

enum MHD_Result gw_post_rating(struct gw_req *r, const char *url)
{
	static const struct gw_hdr challenge = {MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer"};
	Mailroom__RateReq rate = MAILROOM__RATE_REQ__INIT;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	uint8_t hash[PB_AKEY_HASH_LEN];
	char code[PB_TRACK_TEXT_LEN + 1], seg[64];
	const char *comment, *from = url + strlen(GW_MESSAGES_PREFIX), *end = strchr(from, '/');
	struct pj_error err;
	json_t *root;
	size_t klen = 0;
	enum MHD_Result ret;
	const char *key = gw_bearer(
		MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
		&klen);

	if (!key)
		return gw_send_error_h(r, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
		                       "send Authorization: Bearer <access key>", &challenge, 1);
	pb_akey_hash(key, klen, hash);
	if (!end || (size_t)(end - from) >= sizeof(seg))
		return status_not_found(r);
	memcpy(seg, from, (size_t)(end - from));
	seg[end - from] = '\0';
	if (pb_track_normalize(seg, code, sizeof(code)) != PB_OK)
		return status_not_found(r);
	if (pj_parse_rating(r->body ? r->body : "", r->len, &root, &rate.level, &comment, &err))
		return gw_send_error(r, strcmp(err.code, "invalid_level") == 0
		                            ? MHD_HTTP_UNPROCESSABLE_CONTENT
		                            : MHD_HTTP_BAD_REQUEST,
		                     err.code, err.message);
	rate.tracking_code = code;
	rate.access_key_hash.data = hash;
	rate.access_key_hash.len = sizeof(hash);
	rate.comment = (char *)(comment ? comment : "");
	req.op_case = MAILROOM__REQUEST__OP_RATE;
	req.rate = &rate;
	ret = call_router(r, &req);
	json_decref(root);
	return ret;
}

enum MHD_Result gw_post_order(struct gw_req *r, const char *method)
{
	Mailroom__SubmitReq sub;
	Mailroom__HotlineOrder order;
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
	const char *why = gw_hotline_verify(&r->g->hotline, &a, pb_now_ms() / 1000);

	if (why && strcmp(why, "unavailable") == 0)
		return gw_unavailable(r, "too many recent requests; try again");
	if (why) {
		pb_warn("hotline: refused push from app '%.64s': %s", a.app_id ? a.app_id : "",
		        why);
		return gw_send_error(r, MHD_HTTP_UNAUTHORIZED, why, "12345 request authentication failed");
	}
	if (pj_parse_order(r->body ? r->body : "", r->len, &root, &sub, &order, &contact, &err)) {
		pb_warn("hotline: refused order from app '%s': %s: %s", a.app_id, err.code,
		        err.message);
		return gw_send_error(r, MHD_HTTP_BAD_REQUEST, err.code, err.message);
	}
	snprintf(r->order_no, sizeof(r->order_no), "%s", order.order_no);
	r->seq = order.dispatch_seq;
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &sub;
	ret = call_router(r, &req);
	pj_order_clear(&order);
	json_decref(root);
	return ret;
}

static enum MHD_Result health(struct gw_req *r, const char *reason)
{
	static const struct gw_hdr retry = {MHD_HTTP_HEADER_RETRY_AFTER, "1"};
	int up = gw_router_connected(&r->g->router);
	json_t *doc = json_pack("{s:s, s:s}", "status", reason ? "unavailable" : "ok", "router",
	                        up ? "connected" : "disconnected");

	if (!reason)
		return gw_send_json(r, MHD_HTTP_OK, doc, NULL, 0);
	if (doc && json_object_set_new(doc, "reason", json_string(reason))) {
		json_decref(doc);
		doc = NULL;
	}
	return gw_send_json(r, MHD_HTTP_SERVICE_UNAVAILABLE, doc, &retry, 1);
}

/* Ready only when the router answers its stats and they show a writer
 * that can take work: the store not full, and no work waiting on a
 * writer that has been silent longer than health_stall_ms. */
enum MHD_Result gw_healthz(struct gw_req *r)
{
	Mailroom__StatsReq st = MAILROOM__STATS_REQ__INIT;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;

	req.op_case = MAILROOM__REQUEST__OP_STATS;
	req.stats = &st;
	if (gw_start_call(r, &req) != PB_OK)
		return health(r, "router_disconnected");
	return MHD_YES;
}

static enum MHD_Result health_answer(struct gw_req *r, const struct gw_call *c)
{
	const Mailroom__StatsResp *s;

	if (c->rc != PB_OK)
		return health(r, "router_timeout");
	if (c->resp->code != 0 || c->resp->result_case != MAILROOM__RESPONSE__RESULT_STATS ||
	    !(s = c->resp->stats))
		return health(r, "router_error");
	if (s->store_full)
		return health(r, "store_full");
	if (s->writer_queued > 0 && s->writer_idle_ms > (uint64_t)r->g->conf.health_stall_ms)
		return health(r, "writer_stalled");
	return health(r, NULL);
}

static enum MHD_Result send_metrics(struct gw_req *r, const Mailroom__StatsResp *stats)
{
	size_t len = 0;
	char *text = gw_metrics_render(&r->g->metrics, stats, &len);

	if (!text)
		return MHD_NO;
	return gw_send_body(r, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4; charset=utf-8",
	                    NULL, 0);
}

enum MHD_Result gw_metrics_page(struct gw_req *r)
{
	Mailroom__StatsReq st = MAILROOM__STATS_REQ__INIT;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;

	req.op_case = MAILROOM__REQUEST__OP_STATS;
	req.stats = &st;
	/* The HTTP counters are worth a scrape even with the router away. */
	if (gw_start_call(r, &req) != PB_OK)
		return send_metrics(r, NULL);
	return MHD_YES;
}

/* ---------------------------------------------------- router answers -- */

static enum MHD_Result router_error(struct gw_req *r, const Mailroom__Response *resp)
{
	int code = resp->code;
	const char *ecode = resp->error && *resp->error ? resp->error : pb_err_name(code);
	const char *msg = resp->message && *resp->message ? resp->message : pb_err_str(code);

	if (r->route == GW_R_MESSAGE && (code == PB_ENOTFOUND || code == PB_EINVAL))
		return status_not_found(r);
	if (r->route == GW_R_RATING && code == PB_ENOTFOUND)
		return status_not_found(r);
	if (r->route == GW_R_RATING && code == PB_EINVAL)
		return gw_send_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, ecode, msg);
	if (strcmp(ecode, "idempotency_mismatch") == 0)
		return gw_send_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, ecode,
		                     "this Idempotency-Key was used with another body");
	switch (code) {
	case PB_EINVAL:
		return gw_send_error(r, MHD_HTTP_BAD_REQUEST, ecode, msg);
	case PB_ENOTFOUND:
		return gw_send_error(r, MHD_HTTP_NOT_FOUND, "not_found", msg);
	case PB_ESTATE:
		return gw_send_error(r, MHD_HTTP_CONFLICT, ecode, msg);
	case PB_EFORBIDDEN:
		return gw_send_error(r, MHD_HTTP_FORBIDDEN, "forbidden", msg);
	case PB_EAUTH:
	case PB_ESTALE:
	case PB_EREPLAY:
		/* Not the client's doing: the secret or the clocks disagree, or
		 * (replay) nng resent a request after its pipe closed. */
		pb_error("router refused the gateway (%s: %s); check gateway_secret and clocks",
		         pb_err_name(code), msg);
		return gw_unavailable(r, "the service could not take the request; try again later");
	case PB_EFULL:
	case PB_EUNAVAIL:
	case PB_EIO:
		pb_warn("router: %s: %s", pb_err_name(code), msg);
		return gw_unavailable(r, "the service is busy; try again");
	default:
		pb_error("router: unexpected %s: %s", pb_err_name(code), msg);
		return gw_unavailable(r, "the service could not answer; try again");
	}
}

static enum MHD_Result bad_answer(struct gw_req *r)
{
	pb_error("router: answer of the wrong shape for %s", r->uri);
	return gw_unavailable(r, "the service could not answer; try again");
}

/* The answers below are written straight from the router's view into the
 * one buffer sent (pj_view_write), the answer's own members after the
 * view's: the same bytes as the tree they were once built as and dumped,
 * with a third of the instructions. */

static enum MHD_Result message_created(struct gw_req *r, const Mailroom__Response *resp)
{
	const Mailroom__SubmitResp *s = resp->submit;
	char location[PB_PATH_MAX + 64];
	char code[PB_TRACK_TEXT_LEN + 1];
	struct pj_out o = {0};
	int disclosure = r->route == GW_R_DISCLOSURE;

	if (resp->result_case != MAILROOM__RESPONSE__RESULT_SUBMIT || !s || !s->message ||
	    pb_track_normalize(s->message->tracking_code, code, sizeof(code)) != PB_OK)
		return bad_answer(r);
	/* An application's 201 says when it counts as received, no more: in
	 * the view's place, or as null after the receipt when the router sent
	 * no state (as when the member was set on the view's tree). */
	pj_view_write(&o, s->message, PJ_CITIZEN, disclosure ? PJ_VIEW_INTAKE : 0);
	pj_out_key(&o, "access_key");
	pj_out_str(&o, r->akey, strlen(r->akey));
	pj_out_key(&o, "receipt");
	pj_receipt_write(&o, s->receipt);
	if (disclosure && !s->message->disclosure) {
		pj_out_key(&o, "disclosure");
		pj_out_raw(&o, "null", 4);
	}
	pj_out_raw(&o, "}", 1);
	sodium_memzero(r->akey, sizeof(r->akey));
	snprintf(location, sizeof(location), "%s/v1/messages/%s", r->g->base, code);
	struct gw_hdr loc = {MHD_HTTP_HEADER_LOCATION, location};
	/* One line per message is an access log: debug, so a busy office's
	 * info log stays readable (the audit log has every message). */
	if (atomic_load_explicit(&r->g->debug_log, memory_order_relaxed)) {
		char id[PB_ID_TEXT_LEN + 1] = "";
		if (s->message->id.len == PB_ID_LEN)
			pb_id_to_text(s->message->id.data, id);
		pb_debug("message %s stored (%s, queue %s)", id,
		         pb_channel_name(s->message->channel), s->message->queue);
	}
	/* A repeat (Idempotency-Key) is the first answer again, as 200; a
	 * resolve found this very request stored, so it is its 201. */
	return gw_send_out(r, s->duplicate && !r->call.resolving ? MHD_HTTP_OK : MHD_HTTP_CREATED,
	                   &o, &loc, 1);
}

static enum MHD_Result message_status(struct gw_req *r, const Mailroom__Response *resp)
{
	struct pj_out o = {0};

	if (resp->result_case != MAILROOM__RESPONSE__RESULT_STATUS || !resp->status)
		return bad_answer(r);
	pj_view_write(&o, resp->status, PJ_CITIZEN, 0);
	/* The receipt against a witnessed checkpoint, when the log has one. */
	if (resp->status->receipt) {
		pj_out_key(&o, "receipt");
		pj_receipt_write(&o, resp->status->receipt);
	}
	pj_out_raw(&o, "}", 1);
	return gw_send_out(r, MHD_HTTP_OK, &o, NULL, 0);
}

static enum MHD_Result order_accepted(struct gw_req *r, const Mailroom__Response *resp)
{
	const Mailroom__SubmitResp *s = resp->submit;
	struct pj_out o = {0};

	if (resp->result_case != MAILROOM__RESPONSE__RESULT_SUBMIT || !s || !s->message)
		return bad_answer(r);
	pj_view_write(&o, s->message, PJ_CITIZEN, 0);
	pj_out_key(&o, "order_no");
	pj_out_str(&o, r->order_no, strlen(r->order_no));
	pj_out_key(&o, "dispatch_seq");
	pj_out_int(&o, r->seq);
	pj_out_key(&o, "duplicate");
	pj_out_bool(&o, s->duplicate);
	pj_out_key(&o, "receipt");
	pj_receipt_write(&o, s->receipt);
	pj_out_raw(&o, "}", 1);
	pb_info("hotline: order %s#%u %s as %s", r->order_no, r->seq,
	        s->duplicate ? "repeated, acknowledged" : "stored", s->message->tracking_code);
	/* A repeat delivery is acknowledged, not created again. */
	return gw_send_out(r, s->duplicate ? MHD_HTTP_OK : MHD_HTTP_CREATED, &o, NULL, 0);
}

static enum MHD_Result rated(struct gw_req *r, const Mailroom__MessageView *v)
{
	struct pj_out o = {0};

	pj_view_write(&o, v, PJ_CITIZEN, 0);
	pj_out_raw(&o, "}", 1);
	return gw_send_out(r, MHD_HTTP_CREATED, &o, NULL, 0);
}

/* Sent, and the router could not say in time whether it stored it: not a
 * 503 (it may be stored), but the key that learns the outcome, since a
 * repeat with it answers the first message or stores this one. */
static enum MHD_Result pending(struct gw_req *r)
{
	static const struct gw_hdr retry = {MHD_HTTP_HEADER_RETRY_AFTER, "5"};
	json_t *doc = json_pack("{s:s, s:s, s:s}", "status", "pending", "idempotency_key",
	                        r->idem_text, "message",
	                        "not confirmed yet; repeat the same request with this "
	                        "Idempotency-Key to get its result");

	sodium_memzero(r->akey, sizeof(r->akey));
	return gw_send_json(r, MHD_HTTP_ACCEPTED, doc, &retry, 1);
}

enum MHD_Result gw_answer(struct gw_req *r)
{
	const struct gw_call *c = &r->call;

	r->phase = GW_PH_DONE;
	if (r->route == GW_R_PAGE)
		return gw_page_answer(r);
	if (r->route == GW_R_HEALTHZ)
		return health_answer(r, c);
	if (r->route == GW_R_UPLOAD)
		return gw_upload_answer(r);
	if (r->route == GW_R_REPLY_FILE)
		return gw_reply_file_answer(r);
	if (c->rc != PB_OK) {
		pb_warn("router: %s%s%s", pb_err_str(c->rc), c->nng_err ? ": " : "",
		        c->nng_err ? nng_strerror(c->nng_err) : "");
		/* A 12345 delivery that is still unknown is 503 all the same: the
		 * platform retries on it, and the retry is recognised (200). */
		if (c->unknown && r->route != GW_R_HOTLINE && r->route != GW_R_PETITION)
			return pending(r);
		if (r->route == GW_R_METRICS)
			return send_metrics(r, NULL);
		return gw_unavailable(r, "the router did not answer in time; try again");
	}
	if (r->route == GW_R_METRICS) {
		int ok = c->resp->code == 0 &&
		         c->resp->result_case == MAILROOM__RESPONSE__RESULT_STATS;
		return send_metrics(r, ok ? c->resp->stats : NULL);
	}
	if (c->resp->code != 0)
		return router_error(r, c->resp);
	switch (r->route) {
	case GW_R_MESSAGES:
	case GW_R_DISCLOSURE:
		return message_created(r, c->resp);
	case GW_R_MESSAGE:
		return message_status(r, c->resp);
	case GW_R_RATING:
		if (c->resp->result_case != MAILROOM__RESPONSE__RESULT_RATE || !c->resp->rate)
			return bad_answer(r);
		return rated(r, c->resp->rate);
	case GW_R_HOTLINE:
		return order_accepted(r, c->resp);
	case GW_R_PETITION:
		return gw_petition_answer(r, c->resp);
	case GW_R_LOG:
		return gw_log_answer(r, c->resp);
	default:
		return bad_answer(r);
	}
}

