/* The handlers' console listener ([console] in mailroom.ini): a second
 * HTTP daemon, never the public one. Every /api/v1/ request must carry an
 * RFC 9421 signature made by a handler key in the browser; this file
 * checks only that the headers are there, then forwards the method, the
 * raw path and query, the headers and the body verbatim to the router
 * (AUTH_HTTPSIG), which verifies the signature and decides what the
 * request means (router/rt_console.c). Here the router's answer becomes
 * JSON.
 *
 * Handlers are few, so a thread per connection and a blocking call to the
 * router keep this simple; the public listener's batching is not needed. */
#include "gw.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"
#include "pj.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define API_PREFIX "/api/v1/"
#define MAX_HEADERS 32

/* The pages (gateway/console, embedded at build time). Nothing is loaded
 * from elsewhere: the policy allows this origin only, and no inline code. */
extern const unsigned char gw_console_index[], gw_console_js[], gw_console_css[];
extern const size_t gw_console_index_len, gw_console_js_len, gw_console_css_len;

#define CSP                                                                             \
	"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const struct page {
	const char *path, *type;
	const unsigned char *data;
	const size_t *len;
} pages[] = {
	{"/", "text/html; charset=utf-8", gw_console_index, &gw_console_index_len},
	{"/console.js", "text/javascript; charset=utf-8", gw_console_js, &gw_console_js_len},
	{"/console.css", "text/css; charset=utf-8", gw_console_css, &gw_console_css_len},
};

struct gw_console {
	struct MHD_Daemon *mhd;
	nng_socket sock;
	struct pb_link link;       /* its own router link, redialled when stuck */
	const struct pb_conf *conf;
	uint16_t port;
	struct gw_conns *conns;    /* the first line's check (gw_conn.c) */
	struct gw_metrics metrics; /* its closes: not shown anywhere */
};

struct creq {
	char *uri;                 /* the request target as sent */
	char *body;
	size_t len, cap;
	int too_large, started;
};

/* ---------------------------------------------------------- answers -- */

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, char *text,
                                 const char *type, const struct gw_hdr *extra)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!text)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (extra)
		MHD_add_response_header(resp, extra->name, extra->value);
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_json_h(struct MHD_Connection *conn, unsigned status, json_t *doc,
                                   const struct gw_hdr *extra)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	if (!text) {
		text = strdup("{\"error\":{\"code\":\"unavailable\",\"message\":\"out of memory\"}}");
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	return send_text(conn, status, text, "application/json; charset=utf-8", extra);
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *doc)
{
	return send_json_h(conn, status, doc, NULL);
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *code,
                                  const char *message)
{
	json_t *doc = pj_error_json(code, message);

	return send_json(conn, status, doc ? doc : pj_error_json(code, pb_err_str(PB_EINVAL)));
}

/* The router's refusals as HTTP: a 4xx that fits, 503 when it could not
 * act; never another 5xx. */
static unsigned status_of(int code)
{
	static const unsigned map[PB_ERR_COUNT] = {
		[PB_EINVAL] = 400, [PB_ENOMEM] = 503, [PB_EIO] = 503, [PB_ENOTFOUND] = 404,
		[PB_EEXIST] = 409, [PB_EAUTH] = 401, [PB_ESTALE] = 401, [PB_EREPLAY] = 401,
		[PB_EFORBIDDEN] = 403, [PB_ELEASE] = 409, [PB_ESTATE] = 409, [PB_EFULL] = 503,
		[PB_EUNAVAIL] = 503, [PB_ECORRUPT] = 503, [PB_ETOOBIG] = 413, [PB_ELIMIT] = 422,
	};
	return code > 0 && code < PB_ERR_COUNT && map[code] ? map[code] : 400;
}

static json_t *view(const Mailroom__MessageView *v)
{
	return v ? pj_view(v, PJ_HANDLER) : json_null();
}

static json_t *queue_list(Mailroom__QueueInfo **q, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(
			    a, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "name", q[i]->name, "depth",
			                 (json_int_t)q[i]->depth, "leased", (json_int_t)q[i]->leased,
			                 "due_soon", (json_int_t)q[i]->due_soon, "overdue",
			                 (json_int_t)q[i]->overdue, "seriously_overdue",
			                 (json_int_t)q[i]->seriously_overdue))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *time_or_null(int64_t ms);

/* Unanswered past the veto line (单项否决): every one, the oldest first as
 * the router lists them. */
static json_t *veto_list(const Mailroom__SuperviseResp *s)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < s->n_veto; i++) {
		const Mailroom__SupervisedItem *it = s->veto[i];
		char id[PB_ID_TEXT_LEN + 1] = "";
		if (it->id.len == PB_ID_LEN)
			pb_id_to_text(it->id.data, id);
		if (json_array_append_new(
			    a, json_pack("{s:s,s:s,s:s,s:s,s:o*,s:I}", "id", id, "tracking_code",
			                 it->tracking_code, "department", it->queue, "channel",
			                 pb_channel_name(it->channel), "received_at",
			                 time_or_null(it->received_ms), "alerts", (json_int_t)it->step))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The satisfaction figures of one row (workers/README.md, "Ratings"). */
static json_t *with_rating(json_t *o, const Mailroom__QueueSupervision *q)
{
	json_t *r = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "rated", (json_int_t)q->rated, "satisfied",
	                      (json_int_t)q->satisfied, "callbacks_owed",
	                      (json_int_t)q->callbacks_owed, "callbacks_done",
	                      (json_int_t)q->callbacks_done, "callbacks_on_time",
	                      (json_int_t)q->callbacks_on_time, "reopened", (json_int_t)q->reopened);
	int bad = !o || !r || json_object_update(o, r);

	json_decref(r);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The counts per department and channel, and the open messages to open
 * a trail from. */
static json_t *supervision(const Mailroom__SuperviseResp *s)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < s->n_queues; i++) {
		const Mailroom__QueueSupervision *q = s->queues[i];
		if (json_array_append_new(
			    a, with_rating(json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "department", q->queue,
			                 "channel", pb_channel_name(q->channel), "open", (json_int_t)q->open,
			                 "due_soon", (json_int_t)q->due_soon, "overdue",
			                 (json_int_t)q->overdue, "seriously_overdue",
			                 (json_int_t)q->seriously_overdue, "month_answered",
			                 (json_int_t)q->month_answered, "month_on_time",
			                 (json_int_t)q->month_on_time, "year_answered",
			                 (json_int_t)q->year_answered, "year_on_time",
			                 (json_int_t)q->year_on_time), q))) {
			json_decref(a);
			return NULL;
		}
	}
	json_t *items = json_array();
	for (size_t i = 0; items && i < s->n_items; i++) {
		const Mailroom__SupervisedItem *it = s->items[i];
		char id[PB_ID_TEXT_LEN + 1] = "";
		static const char *const steps[] = {"none", "due_soon", "overdue", "seriously_overdue"};
		if (it->id.len == PB_ID_LEN)
			pb_id_to_text(it->id.data, id);
		if (json_array_append_new(
			    items, json_pack("{s:s,s:s,s:s,s:s,s:s,s:o*,s:s}", "id", id, "tracking_code",
			                     it->tracking_code, "department", it->queue, "channel",
			                     pb_channel_name(it->channel), "status",
			                     it->status == MAILROOM__STATUS__STATUS_LEASED ? "leased" : "queued",
			                     "reply_due_at", time_or_null(it->reply_due_ms), "step",
			                     steps[it->step > 3 ? 3 : it->step]))) {
			json_decref(items);
			items = NULL;
		}
	}
	json_t *veto = items ? veto_list(s) : NULL;
	if (!items || !veto) {
		json_decref(a);
		json_decref(items);
		return NULL;
	}
	return json_pack("{s:o*,s:o*,s:b,s:o*}", "departments", a, "items", items, "items_partial",
	                 s->items_partial, "veto", veto);
}

static json_t *handler_list(const Mailroom__HandlerList *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n_entries; i++) {
		char hex[65];
		json_t *q = json_array();
		for (size_t k = 0; q && k < l->entries[i]->n_queues; k++)
			json_array_append_new(q, json_string(l->entries[i]->queues[k]));
		sodium_bin2hex(hex, sizeof(hex), l->entries[i]->key.data,
		               l->entries[i]->key.len == 32 ? 32 : 0);
		json_array_append_new(a, json_pack("{s:s,s:s,s:o*,s:b,s:b}", "name",
		                                   l->entries[i]->name, "key", hex, "queues", q,
		                                   "supervise", l->entries[i]->supervise, "removed",
		                                   l->entries[i]->removed));
	}
	return json_pack("{s:o*,s:I}", "handlers", a, "log_index", (json_int_t)l->log_index);
}

/* "leased" for AUDIT_LEASED. */
static json_t *event_name(int ev)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&mailroom__audit_event__descriptor, ev);
	char name[64];
	size_t i = 0;

	if (!v)
		return json_integer(ev);
	for (const char *p = strncmp(v->name, "AUDIT_", 6) == 0 ? v->name + 6 : v->name;
	     *p && i + 1 < sizeof(name); p++)
		name[i++] = (char)tolower((unsigned char)*p);
	name[i] = '\0';
	return json_string(name);
}

static json_t *time_or_null(int64_t ms)
{
	char buf[40];

	return ms > 0 && pb_time_fmt(ms, buf, sizeof(buf), 0) > 0 ? json_string(buf) : json_null();
}

/* The handler's view with the message's steps and their deadlines. */
static json_t *detail(const Mailroom__MessageView *v)
{
	json_t *doc = view(v), *steps = json_array();

	for (size_t i = 0; steps && i < v->n_timeline; i++) {
		const Mailroom__TimelineEntry *e = v->timeline[i];
		json_array_append_new(
			steps, json_pack("{s:I,s:o*,s:o*,s:s,s:s,s:o*,s:o*,s:o*}", "log_index",
			                 (json_int_t)e->log_index, "at", time_or_null(e->time_ms), "event",
			                 event_name(e->event), "actor", e->actor, "queue", e->queue,
			                 "reply_due_at", time_or_null(e->due_ms), "ack_due_at",
			                 time_or_null(e->ack_due_ms), "old_due_at", time_or_null(e->old_due_ms)));
	}
	if (!doc || !steps || json_object_set_new(doc, "timeline", steps) ||
	    json_object_set_new(doc, "timeline_partial", json_boolean(v->timeline_partial))) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* The search box's answer: {"messages":[…],"more"}. */
static json_t *search_list(const Mailroom__SearchResp *s)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < s->n_items; i++) {
		const Mailroom__SearchItem *it = s->items[i];
		char id[PB_ID_TEXT_LEN + 1] = "";
		if (it->id.len == PB_ID_LEN)
			pb_id_to_text(it->id.data, id);
		if (json_array_append_new(
			    a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o*,s:o*,s:b}", "id", id,
			                 "tracking_code", it->tracking_code, "channel",
			                 pb_channel_name(it->channel), "status", pj_status_name(it->status),
			                 "queue", it->queue, "subject", it->subject, "received_at",
			                 time_or_null(it->received_ms), "reply_due_at",
			                 time_or_null(it->reply_due_ms), "overdue", it->overdue))) {
			json_decref(a);
			a = NULL;
		}
	}
	return a ? json_pack("{s:o,s:b}", "messages", a, "more", s->more) : NULL;
}

/* The cases this handler's queues owe an opinion on: {"cases":[…],"partial"}. */
static json_t *assist_list(const Mailroom__AssistListResp *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && l && i < l->n_cases; i++)
		if (json_array_append_new(a, view(l->cases[i]))) {
			json_decref(a);
			a = NULL;
		}
	return a ? json_pack("{s:o,s:b}", "cases", a, "partial", l && l->partial) : NULL;
}

/* A piece of a file: {"type","size","offset","data" (base64),"last"}. */
static json_t *file_piece(const Mailroom__AttachmentResp *a)
{
	size_t cap = sodium_base64_ENCODED_LEN(a->data.len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(cap);
	json_t *doc;

	if (!b64 || !a->info) {
		free(b64);
		return NULL;
	}
	sodium_bin2base64(b64, cap, a->data.data, a->data.len, sodium_base64_VARIANT_ORIGINAL);
	doc = json_pack("{s:s,s:I,s:I,s:s,s:b}", "type", a->info->type ? a->info->type : "",
	                "size", (json_int_t)a->info->size, "offset", (json_int_t)a->offset, "data",
	                b64, "last", a->last);
	free(b64);
	return doc;
}

/* The body of a successful answer. */
static json_t *result_json(const Mailroom__Response *r)
{
	switch (r->result_case) {
	case MAILROOM__RESPONSE__RESULT_QUEUES:
		return json_pack("{s:o*}", "queues", queue_list(r->queues->queues, r->queues->n_queues));
	case MAILROOM__RESPONSE__RESULT_PULL:
		return json_pack("{s:o*,s:o*}", "message", view(r->pull->message), "lease",
		                 r->pull->lease ? pj_lease(r->pull->lease) : json_null());
	case MAILROOM__RESPONSE__RESULT__NOT_SET:   /* an empty pull */
		return json_pack("{s:n,s:n}", "message", "lease");
	case MAILROOM__RESPONSE__RESULT_RENEW:
		return json_pack("{s:o*}", "lease", pj_lease(r->renew));
	case MAILROOM__RESPONSE__RESULT_REPLY:
		return json_pack("{s:o*}", "message", view(r->reply));
	case MAILROOM__RESPONSE__RESULT_RELEASE:
		return json_pack("{s:o*}", "message", view(r->release));
	case MAILROOM__RESPONSE__RESULT_TRANSFER:
		return json_pack("{s:o*}", "message", view(r->transfer));
	case MAILROOM__RESPONSE__RESULT_CLOCK:
		return json_pack("{s:o*}", "message", view(r->clock));
	case MAILROOM__RESPONSE__RESULT_HOTLINE:
		return json_pack("{s:o*}", "message", view(r->hotline));
	case MAILROOM__RESPONSE__RESULT_DISCLOSURE:
		return json_pack("{s:o*}", "message", view(r->disclosure));
	case MAILROOM__RESPONSE__RESULT_REFER:
		return json_pack("{s:o*}", "message", view(r->refer));
	case MAILROOM__RESPONSE__RESULT_REPEAT_DECIDE:
		return json_pack("{s:o*}", "message", view(r->repeat_decide));
	case MAILROOM__RESPONSE__RESULT_PETITION:
		return json_pack("{s:o*}", "message", view(r->petition));
	case MAILROOM__RESPONSE__RESULT_MERGE:
		return json_pack("{s:o*}", "message", view(r->merge));
	case MAILROOM__RESPONSE__RESULT_UNMERGE:
		return json_pack("{s:o*}", "message", view(r->unmerge));
	case MAILROOM__RESPONSE__RESULT_ASSIST:
		return json_pack("{s:o*}", "message", view(r->assist));
	case MAILROOM__RESPONSE__RESULT_OPINION:
		return json_pack("{s:o*}", "message", view(r->opinion));
	case MAILROOM__RESPONSE__RESULT_ASSIST_LIST:
		return assist_list(r->assist_list);
	case MAILROOM__RESPONSE__RESULT_DETAIL:
		return json_pack("{s:o*}", "message", detail(r->detail));
	case MAILROOM__RESPONSE__RESULT_CALLBACK:
		return json_pack("{s:o*}", "message", view(r->callback));
	case MAILROOM__RESPONSE__RESULT_PUBLISH:
		return json_pack("{s:o*}", "message", view(r->publish));
	case MAILROOM__RESPONSE__RESULT_SUPERVISE:
		return supervision(r->supervise);
	case MAILROOM__RESPONSE__RESULT_SEARCH:
		return search_list(r->search);
	case MAILROOM__RESPONSE__RESULT_HANDLER_ADMIN:
		return handler_list(r->handler_admin);
	case MAILROOM__RESPONSE__RESULT_ATTACHMENT:
		return file_piece(r->attachment);
	default:
		/* The router did it: a result this table cannot show yet is
		 * still a success, never a 503 for a committed change. */
		return json_object();
	}
}

/* ------------------------------------------------------ forwarding -- */

struct hdrs {
	Mailroom__HttpHeader v[MAX_HEADERS];
	Mailroom__HttpHeader *p[MAX_HEADERS];
	char *owned[MAX_HEADERS * 2];
	size_t n, nowned;
	int overflow;
};

/* Every field but credentials of other kinds, names in lower case, a
 * repeated field's values joined by ", " (RFC 9421 2.1). */
static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
	struct hdrs *h = cls;
	char name[PB_NAME_MAX];
	size_t n = strlen(key);

	(void)kind;
	if (n == 0 || n >= sizeof(name))
		return MHD_YES;
	for (size_t i = 0; i <= n; i++)
		name[i] = (char)tolower((unsigned char)key[i]);
	if (strcmp(name, "cookie") == 0 || strcmp(name, "authorization") == 0)
		return MHD_YES;
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].name, name) == 0) {
			size_t len = strlen(h->v[i].value) + 2 + strlen(value) + 1;
			char *joined = malloc(len);
			if (!joined || h->nowned == MAX_HEADERS * 2) {
				free(joined);
				h->overflow = 1;
				return MHD_NO;
			}
			snprintf(joined, len, "%s, %s", h->v[i].value, value);
			h->owned[h->nowned++] = joined;
			h->v[i].value = joined;
			return MHD_YES;
		}
	if (h->n == MAX_HEADERS || h->nowned == MAX_HEADERS * 2) {
		h->overflow = 1;
		return MHD_NO;
	}
	char *copy = strdup(name);
	if (!copy) {
		h->overflow = 1;
		return MHD_NO;
	}
	h->owned[h->nowned++] = copy;
	mailroom__http_header__init(&h->v[h->n]);
	h->v[h->n].name = copy;
	h->v[h->n].value = (char *)value;
	h->p[h->n] = &h->v[h->n];
	h->n++;
	return MHD_YES;
}

/* One blocking call to the router. */
static int call(struct gw_console *gc, const uint8_t *buf, size_t len, Mailroom__Response **out)
{
	nng_ctx ctx;
	nng_aio *aio = NULL;
	nng_msg *msg = NULL;
	int rv;

	*out = NULL;
	/* Not connected still waits below, for a router that is coming back;
	 * this only replaces a dialer that stopped trying. */
	(void)pb_link_up(&gc->link);
	if ((rv = nng_ctx_open(&ctx, gc->sock)) != 0)
		return PB_EUNAVAIL;
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) == 0 && (rv = nng_msg_alloc(&msg, 0)) == 0 &&
	    (rv = nng_msg_append(msg, buf, len)) == 0) {
		nng_aio_set_timeout(aio, gc->conf->router_timeout_ms);
		nng_aio_set_msg(aio, msg);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if ((rv = nng_aio_result(aio)) == 0) {
			msg = NULL;   /* nng owns it now */
			/* A pull may wait its long poll out at the router. */
			nng_aio_set_timeout(aio, gc->conf->router_timeout_ms + gc->conf->max_wait_ms);
			nng_ctx_recv(ctx, aio);
			nng_aio_wait(aio);
			if ((rv = nng_aio_result(aio)) == 0) {
				msg = nng_aio_get_msg(aio);
				*out = mailroom__response__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
			}
		}
	}
	if (msg)
		nng_msg_free(msg);
	if (aio)
		nng_aio_free(aio);
	nng_ctx_close(ctx);
	return rv == 0 && *out ? PB_OK : PB_EUNAVAIL;
}

static enum MHD_Result forward(struct gw_console *gc, struct MHD_Connection *conn,
                               const char *method, struct creq *r)
{
	Mailroom__HttpSigReq h = MAILROOM__HTTP_SIG_REQ__INIT;
	Mailroom__Response *resp = NULL;
	struct hdrs hd = {.n = 0};
	char *q = strchr(r->uri, '?');
	uint8_t *env = NULL;
	size_t envlen;
	enum MHD_Result ret;
	int rc;

	h.signature_input = (char *)MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                                        "Signature-Input");
	h.signature = (char *)MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Signature");
	if (!h.signature_input || !h.signature)
		return send_error(conn, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
		                  "sign the request (Signature-Input and Signature, RFC 9421)");
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect, &hd);
	if (hd.overflow) {
		ret = send_error(conn, MHD_HTTP_BAD_REQUEST, "too_many_headers", "too many header fields");
		goto out;
	}
	if (q)
		*q++ = '\0';
	h.method = (char *)method;
	h.path = r->uri;
	h.query = q ? q : "";
	h.authority = (char *)MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	h.headers = hd.p;
	h.n_headers = hd.n;
	h.body.data = (uint8_t *)r->body;
	h.body.len = r->len;
	if ((rc = pb_wire_seal_httpsig(&h, &env, &envlen))) {
		ret = send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", pb_err_str(rc));
		goto out;
	}
	if (call(gc, env, envlen, &resp)) {
		ret = send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
		                 "the router is not reachable; try again");
		goto out;
	}
	if (resp->code)
		ret = send_error(conn, status_of(resp->code), resp->error && *resp->error ? resp->error
		                                                     : pb_err_name(resp->code),
		                 resp->message && *resp->message ? resp->message : pb_err_str(resp->code));
	else
		ret = send_json(conn, MHD_HTTP_OK, result_json(resp));
out:
	if (resp)
		mailroom__response__free_unpacked(resp, NULL);
	free(env);
	for (size_t i = 0; i < hd.nowned; i++)
		free(hd.owned[i]);
	return ret;
}

/* ------------------------------------------------------------ http -- */

static enum MHD_Result send_page(struct MHD_Connection *conn, const struct page *p)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(*p->len, (void *)p->data, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, p->type);
	MHD_add_response_header(resp, "Content-Security-Policy", CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* application/json, with parameters (charset) or none. */
static int is_json(const char *ct)
{
	return ct && strncasecmp(ct, "application/json", 16) == 0 &&
	       (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **ctx)
{
	struct gw_console *gc = cls;
	struct creq *r = *ctx;
	size_t max = gc->conf->http_body_max;

	if (!r)
		return MHD_NO;
	if (!r->started) {
		r->started = 1;
		/* MHD takes HTTP/1.2 and up as 1.1; the first request of a
		 * connection was refused already (console_notify). */
		static const struct gw_hdr close_hdr = {MHD_HTTP_HEADER_CONNECTION, "close"};
		if (!gw_version_served(version))
			return send_json_h(conn, MHD_HTTP_BAD_REQUEST,
			                   pj_error_json("unsupported_http_version", GW_VERSION_MESSAGE),
			                   &close_hdr);
		for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
			if (strcmp(url, pages[i].path) == 0 &&
			    (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
				return send_page(conn, &pages[i]);
		if (strncmp(url, API_PREFIX, strlen(API_PREFIX)) != 0)
			return send_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no such resource");
		if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
			return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
			                  "GET or POST");
		if (strcmp(method, "POST") == 0 &&
		    !is_json(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                         MHD_HTTP_HEADER_CONTENT_TYPE)))
			return send_error(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
			                  "send Content-Type: application/json");
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (r->too_large || r->len + n > max) {
			r->too_large = 1;
			return MHD_YES;
		}
		if (r->len + n > r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 4096;
			while (cap < r->len + n)
				cap *= 2;
			char *p = realloc(r->body, cap);
			if (!p)
				return MHD_NO;
			r->body = p;
			r->cap = cap;
		}
		memcpy(r->body + r->len, upload, n);
		r->len += n;
		return MHD_YES;
	}
	if (r->too_large)
		return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
		                  "request body over the size limit");
	return forward(gc, conn, method, r);
}

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct creq *r = calloc(1, sizeof(*r));

	(void)cls;
	(void)conn;
	if (r && !(r->uri = strdup(uri ? uri : ""))) {
		free(r);
		r = NULL;
	}
	return r;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **ctx,
                         enum MHD_RequestTerminationCode toe)
{
	struct creq *r = *ctx;

	(void)cls;
	(void)conn;
	(void)toe;
	if (r) {
		free(r->body);
		free(r->uri);
		free(r);
	}
	*ctx = NULL;
}

/* The router link of a console that will not start. */
static void unlink_router(struct gw_console *gc)
{
	pb_link_close(&gc->link);
	nng_close(gc->sock);
	pb_link_fini(&gc->link);
}

int gw_console_start(const struct pb_conf *conf, struct gw_console **out)
{
	struct sockaddr_in addr;
	struct gw_console *gc;
	char err[PB_PATH_MAX + 128] = "";
	int rv;

	*out = NULL;
	if (!conf->console_addr[0])
		return PB_OK;
	memset(&addr, 0, sizeof(addr));
	if (inet_pton(AF_INET, conf->console_addr, &addr.sin_addr) != 1) {
		pb_error("[console] listen_addr '%s' is not a numeric IPv4 address", conf->console_addr);
		return PB_EINVAL;
	}
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)conf->console_port);
	if (!(gc = calloc(1, sizeof(*gc))))
		return PB_ENOMEM;
	gc->conf = conf;
	if ((rv = gw_conns_start(&gc->conns, conf, &gc->metrics, 1)) != PB_OK) {
		free(gc);
		return rv;
	}
	if ((rv = nng_req0_open(&gc->sock)) != 0) {
		gw_conns_stop(gc->conns);
		free(gc);
		return PB_EIO;
	}
	/* Never resend: a write is answered once, after its commit. Contexts
	 * take the socket's setting when opened. */
	if ((rv = nng_socket_set_ms(gc->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	    (rv = pb_link_dial(&gc->link, gc->sock, conf->router_url, "console: router",
	                       NNG_FLAG_NONBLOCK, err, sizeof(err))) != 0) {
		pb_error("console: %s", err[0] ? err : nng_strerror(rv));
		nng_close(gc->sock);
		gw_conns_stop(gc->conns);
		free(gc);
		return PB_EIO;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	                 MHD_USE_ERROR_LOG;
	const struct MHD_OptionItem *https;
	if (gw_https_options(conf, &flags, &https)) {
		unlink_router(gc);
		gw_conns_stop(gc->conns);
		free(gc);
		return PB_EINVAL;
	}
	gc->mhd = MHD_start_daemon(
		flags, 0,
		NULL, NULL, on_request, gc, MHD_OPTION_SOCK_ADDR, &addr,
		MHD_OPTION_ARRAY, https,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)conf->http_timeout_s,
		MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16u,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)GW_LINE_MAX,
		MHD_OPTION_URI_LOG_CALLBACK, uri_cb, gc, MHD_OPTION_NOTIFY_COMPLETED, completed_cb, gc,
		/* the public listener's look at the first line, without its
		 * deadlines and budget: handlers are few */
		MHD_OPTION_NOTIFY_CONNECTION, gw_conns_notify, gc->conns, MHD_OPTION_END);
	if (!gc->mhd) {
		pb_error("console: cannot listen on %s port %d", conf->console_addr, conf->console_port);
		unlink_router(gc);
		gw_conns_stop(gc->conns);
		free(gc);
		return PB_EIO;
	}
	gw_conns_deferred(gc->conns, gw_defer_accept(gc->mhd, conf->header_timeout_s));
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(gc->mhd, MHD_DAEMON_INFO_BIND_PORT);
	gc->port = info ? info->port : (uint16_t)conf->console_port;
	pb_info("console listening on %s://%s:%u", gw_https_scheme(conf), conf->console_addr,
	        (unsigned)gc->port);
	*out = gc;
	return PB_OK;
}

uint16_t gw_console_port(const struct gw_console *gc)
{
	return gc ? gc->port : 0;
}

void gw_console_stop(struct gw_console *gc)
{
	if (!gc)
		return;
	/* Closing the socket first ends calls waiting on the router. */
	MHD_socket lsock = MHD_quiesce_daemon(gc->mhd);
	pb_link_close(&gc->link);
	nng_close(gc->sock);
	MHD_stop_daemon(gc->mhd);
	pb_link_fini(&gc->link);   /* no request thread is left to ask it */
	if (lsock != MHD_INVALID_SOCKET)
		close(lsock);
	gw_conns_stop(gc->conns);
	free(gc);
}
