/* Protobuf views back to JSON: messages, receipts, leases, errors. */
#include "pj.h"
#include "pb_conf.h"
#include "pb_id.h"
#include "pb_time.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

const char *pj_status_name(int status)
{
	static const char *const names[] = {"unknown", "queued", "leased", "replied", "closed"};

	if (status < 0 || status > 4)
		return "unknown";
	return names[status];
}

/* Adding to an object: a NULL value (allocation failure) marks the whole
 * build as failed, checked once at the end. */
struct build {
	json_t *obj;
	int failed;
};

static void put(struct build *b, const char *key, json_t *v)
{
	if (!v || json_object_set_new(b->obj, key, v) != 0)
		b->failed = 1;
}

/* Stored text was valid UTF-8 when it came in; should it ever not be,
 * null is shown rather than broken JSON. */
static json_t *str(const char *s)
{
	json_t *v = json_string(s ? s : "");

	return v ? v : json_null();
}

static json_t *opt_str(const char *s)
{
	return s && *s ? str(s) : json_null();
}

static json_t *time_json(int64_t ms)
{
	char buf[40];

	if (ms == 0 || pb_time_fmt(ms, buf, sizeof(buf), 0) < 0)
		return json_null();
	return json_string(buf);
}

static json_t *hex_json(const ProtobufCBinaryData *b)
{
	char *buf;
	json_t *v;

	if (b->len > 1024)
		return json_null();   /* no field here is anywhere near that */
	buf = malloc(2 * b->len + 1);
	if (!buf)
		return NULL;
	pb_hex(b->data, b->len, buf);
	v = json_string(buf);
	free(buf);
	return v;
}

static json_t *order_json(const Mailroom__HotlineOrder *o)
{
	struct build b = {json_object(), 0};
	json_t *units = json_array();

	if (!b.obj || !units) {
		json_decref(b.obj);
		json_decref(units);
		return NULL;
	}
	for (size_t i = 0; i < o->n_co_units; i++)
		if (json_array_append_new(units, str(o->co_units[i])))
			b.failed = 1;
	put(&b, "order_no", str(o->order_no));
	put(&b, "dispatch_seq", json_integer(o->dispatch_seq));
	put(&b, "kind", str(o->kind));
	put(&b, "accepted_at", time_json(o->accepted_ms));
	put(&b, "dispatched_at", time_json(o->dispatched_ms));
	put(&b, "source", opt_str(o->source));
	put(&b, "category", opt_str(o->category));
	put(&b, "category_code", opt_str(o->category_code));
	put(&b, "urgency", opt_str(o->urgency));
	put(&b, "confidential", json_boolean(o->confidential));
	put(&b, "region", opt_str(o->region));
	put(&b, "address", opt_str(o->address));
	put(&b, "lead_unit", opt_str(o->lead_unit));
	put(&b, "co_units", units);
	put(&b, "sign_due_at", time_json(o->sign_due_ms));
	put(&b, "finish_due_at", time_json(o->finish_due_ms));
	put(&b, "reply_required", json_boolean(o->reply_required));
	put(&b, "reason", opt_str(o->reason));
	if (b.failed) {
		json_decref(b.obj);
		return NULL;
	}
	return b.obj;
}

static json_t *contact_json(const Mailroom__Contact *c)
{
	struct build b = {json_object(), 0};

	if (!b.obj)
		return NULL;
	put(&b, "name", opt_str(c->name));
	put(&b, "phone", opt_str(c->phone));
	put(&b, "email", opt_str(c->email));
	if (b.failed) {
		json_decref(b.obj);
		return NULL;
	}
	return b.obj;
}

static json_t *reply_json(const Mailroom__MessageView *v)
{
	struct build b;

	if ((!v->reply_text || !*v->reply_text) && v->replied_ms == 0)
		return json_null();
	b.obj = json_object();
	b.failed = 0;
	if (!b.obj)
		return NULL;
	put(&b, "text", str(v->reply_text));
	put(&b, "replied_at", time_json(v->replied_ms));
	if (b.failed) {
		json_decref(b.obj);
		return NULL;
	}
	return b.obj;
}

/* ------------------------------------------------------- disclosure -- */

static const char *phase_name(int p)
{
	static const char *const names[] = {"unknown", "open", "awaiting_correction",
	                                    "awaiting_fee", "decided", "delivered"};

	return p >= 0 && p < (int)(sizeof(names) / sizeof(names[0])) ? names[p] : "unknown";
}

/* The Asia/Shanghai date of an instant; null when unset. */
static json_t *date_json(int64_t ms)
{
	char buf[16];

	if (ms == 0 || pb_date_fmt(pb_day_of_ms(ms), buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

static json_t *done(struct build *b)
{
	if (b->failed) {
		json_decref(b->obj);
		return NULL;
	}
	return b->obj;
}

static json_t *reviews_json(const Mailroom__DisclosureView *d)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < d->n_reviews; i++) {
		const Mailroom__ReviewCase *rc = d->reviews[i];
		struct build b = {json_object(), 0};
		if (!b.obj) {
			json_decref(arr);
			return NULL;
		}
		put(&b, "kind", str(rc->kind));
		put(&b, "case_no", str(rc->case_no));
		put(&b, "filed", date_json(rc->filed_ms));
		put(&b, "result", str(rc->result));
		put(&b, "decided", date_json(rc->decided_ms));
		if (json_array_append_new(arr, done(&b))) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *applicant_json(const Mailroom__Applicant *a)
{
	struct build b = {NULL, 0};

	if (!a)
		return json_null();
	if (!(b.obj = json_object()))
		return NULL;
	put(&b, "kind", str(a->kind));
	put(&b, "name", str(a->name));
	put(&b, "id_type", str(a->id_type));
	put(&b, "id_number", str(a->id_number));
	put(&b, "phone", opt_str(a->contact ? a->contact->phone : NULL));
	put(&b, "email", opt_str(a->contact ? a->contact->email : NULL));
	put(&b, "address", opt_str(a->address));
	return done(&b);
}

static json_t *repeat_json(const Mailroom__DisclosureView *d)
{
	struct build b = {NULL, 0};
	char id[PB_ID_TEXT_LEN + 1];

	if (d->repeat_of.len != PB_ID_LEN)
		return json_null();
	if (!(b.obj = json_object()))
		return NULL;
	pb_id_to_text(d->repeat_of.data, id);
	put(&b, "of", json_string(id));
	put(&b, "of_tracking_code", opt_str(d->repeat_of_tracking));
	put(&b, "of_received_at", time_json(d->repeat_of_received_ms));
	put(&b, "of_description", opt_str(d->repeat_of_description));
	put(&b, "permille", json_integer(d->repeat_permille));
	put(&b, "decision", opt_str(d->repeat_decision));
	return done(&b);
}

/* A referral names the other case by its code and channel: the
 * citizen's access key opens both. */
static json_t *referral_json(const char *tracking, int channel, int64_t at_ms)
{
	struct build b = {NULL, 0};

	if (!tracking || !*tracking)
		return json_null();
	if (!(b.obj = json_object()))
		return NULL;
	put(&b, "tracking_code", json_string(tracking));
	put(&b, "channel", str(pb_channel_name(channel)));
	put(&b, "at", time_json(at_ms));
	return done(&b);
}

/* A plain channel's flagged repeat, for handlers. */
static json_t *plain_repeat_json(const Mailroom__MessageView *v)
{
	struct build b = {NULL, 0};
	char id[PB_ID_TEXT_LEN + 1];

	if (v->repeat_of.len != PB_ID_LEN)
		return json_null();
	if (!(b.obj = json_object()))
		return NULL;
	pb_id_to_text(v->repeat_of.data, id);
	put(&b, "of", json_string(id));
	put(&b, "of_tracking_code", opt_str(v->repeat_of_tracking));
	put(&b, "of_received_at", time_json(v->repeat_of_received_ms));
	put(&b, "permille", json_integer(v->repeat_permille));
	put(&b, "decision", opt_str(v->repeat_decision));
	return done(&b);
}

/* Citizens see where their application stands; handlers also who applied
 * and what the office knows about it. */
static json_t *disclosure_json(const Mailroom__DisclosureView *d, enum pj_audience who)
{
	struct build b = {json_object(), 0};

	if (!b.obj)
		return NULL;
	put(&b, "phase", str(phase_name(d->phase)));
	put(&b, "legal_receipt_date", date_json(d->receipt_ms));
	put(&b, "receipt_confirmed", json_boolean(d->receipt_confirmed));
	put(&b, "correction_due_at", time_json(d->correction_due_ms));
	put(&b, "fee_due_at", time_json(d->fee_due_ms));
	put(&b, "notice", opt_str(d->notice));
	put(&b, "outcome", opt_str(d->outcome));
	put(&b, "legal_basis", opt_str(d->legal_basis));
	put(&b, "decided_at", time_json(d->decided_ms));
	put(&b, "delivered_at", time_json(d->delivered_ms));
	put(&b, "reviews", reviews_json(d));
	if (who == PJ_HANDLER) {
		put(&b, "applicant_kind", opt_str(d->applicant_kind));
		put(&b, "applicant", applicant_json(d->applicant));
		put(&b, "form", opt_str(d->form));
		put(&b, "delivery", opt_str(d->delivery));
		put(&b, "submission_mode", opt_str(d->submission_mode));
		put(&b, "purpose", opt_str(d->purpose));
		put(&b, "receipt_at", time_json(d->receipt_ms));
		put(&b, "consultations", json_integer(d->consultations));
		put(&b, "repeat", repeat_json(d));
	}
	return done(&b);
}

json_t *pj_disclosure_intake(const Mailroom__MessageView *v)
{
	struct build b = {NULL, 0};

	if (!v || !v->disclosure)
		return json_null();
	if (!(b.obj = json_object()))
		return NULL;
	put(&b, "phase", str(phase_name(v->disclosure->phase)));
	put(&b, "legal_receipt_date", date_json(v->disclosure->receipt_ms));
	put(&b, "receipt_confirmed", json_boolean(v->disclosure->receipt_confirmed));
	return done(&b);
}

/* 协办: the assisting queues asked, for handlers. */
static json_t *assists_json(const Mailroom__MessageView *v)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < v->n_assists; i++) {
		const Mailroom__AssistState *a = v->assists[i];
		struct build b = {json_object(), 0};
		if (!b.obj) {
			json_decref(arr);
			return NULL;
		}
		put(&b, "queue", str(a->queue));
		put(&b, "requested_at", time_json(a->requested_ms));
		put(&b, "working_days", json_integer(a->working_days));
		put(&b, "due_at", time_json(a->due_ms));
		put(&b, "due_provisional", json_boolean(a->provisional));
		put(&b, "delivered_at", a->delivered_ms ? time_json(a->delivered_ms) : json_null());
		put(&b, "opinion", opt_str(a->opinion));
		if (b.failed)
			json_decref(b.obj);
		/* append_new drops the value when it fails */
		if (b.failed || json_array_append_new(arr, b.obj)) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *codes_json(char **codes, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		if (json_array_append_new(arr, str(codes[i]))) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

/* --------------------------------------------------------- petition -- */

static const char *stage_name(int s)
{
	static const char *const names[] = {
		"unknown", "received", "accepted", "not_accepted", "answered",
		"review", "review_answered", "rereview", "rereview_answered",
	};

	return s >= 0 && (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

/* A petition's own state: numbers, stage and times, no petitioner. */
static json_t *petition_json(const Mailroom__PetitionState *p)
{
	struct build b = {json_object(), 0};

	if (!b.obj)
		return NULL;
	put(&b, "petition_no", str(p->petition_no));
	put(&b, "forwarded_by", str(p->forwarded_by));
	put(&b, "forwarded_at", time_json(p->forwarded_ms));
	put(&b, "kind", str(p->kind));
	put(&b, "stage", str(stage_name(p->stage)));
	put(&b, "accepted_at", time_json(p->accepted_ms));
	put(&b, "answered_at", time_json(p->answered_ms));
	put(&b, "extensions", json_integer(p->extensions));
	put(&b, "review_requested_at", time_json(p->review_ms));
	return done(&b);
}

/* ------------------------------------------------------------ views -- */

static const char *const scan_names[] = {"pending", "clean", "infected"};

/* A message's files: kind, size and the scanner's verdict for everyone;
 * the handler also sees what the scanner found and the hash. */
static json_t *attachments_json(Mailroom__Attachment *const *list, size_t n,
                                enum pj_audience who)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++) {
		const Mailroom__Attachment *a = list[i];
		struct build b = {json_object(), 0};
		unsigned scan = (unsigned)a->scan < 3 ? (unsigned)a->scan : 0;

		if (!b.obj) {
			json_decref(arr);
			return NULL;
		}
		put(&b, "n", json_integer((json_int_t)i));
		put(&b, "type", str(a->type));
		put(&b, "size", json_integer((json_int_t)a->size));
		put(&b, "scan", str(scan_names[scan]));
		if (who == PJ_HANDLER) {
			put(&b, "sha256", hex_json(&a->sha256));
			if (a->scan == MAILROOM__SCAN_STATE__SCAN_INFECTED)
				put(&b, "found", str(a->signature));
		}
		if (b.failed || json_array_append_new(arr, b.obj)) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

json_t *pj_view(const Mailroom__MessageView *v, enum pj_audience who)
{
	struct build b = {json_object(), 0};
	char id[PB_ID_TEXT_LEN + 1];

	if (!b.obj)
		return NULL;
	if (v->id.len == PB_ID_LEN) {
		pb_id_to_text(v->id.data, id);
		put(&b, "id", json_string(id));
	} else {
		put(&b, "id", json_null());
	}
	put(&b, "tracking_code", str(v->tracking_code));
	put(&b, "channel", str(pb_channel_name(v->channel)));
	put(&b, "status", str(pj_status_name(v->status)));
	put(&b, "queue", str(v->queue));
	put(&b, "subject", str(v->subject));
	put(&b, "received_at", time_json(v->received_ms));
	put(&b, "ack_due_at", time_json(v->ack_due_ms));
	put(&b, "reply_due_at", time_json(v->reply_due_ms));
	put(&b, "due_provisional", json_boolean(v->due_provisional));
	/* Only once a new calendar has moved or confirmed a deadline. */
	if (v->due_recomputed_ms)
		put(&b, "due_recomputed_at", time_json(v->due_recomputed_ms));
	put(&b, "reply", reply_json(v));
	if (v->referred_to_tracking && *v->referred_to_tracking)
		put(&b, "referred_to",
		    referral_json(v->referred_to_tracking, v->referred_to_channel, v->referred_ms));
	if (v->referred_from_tracking && *v->referred_from_tracking)
		put(&b, "referred_from",
		    referral_json(v->referred_from_tracking, v->referred_from_channel, v->referred_ms));
	/* 并单: closed into another message, whose answer is this one's. */
	if (v->merged_into && *v->merged_into) {
		put(&b, "merged_into", str(v->merged_into));
		put(&b, "merged_at", time_json(v->merged_ms));
	}
	if (v->rating)
		put(&b, "rating", json_pack("{s:s?, s:o}", "level", pj_rating_name(v->rating),
		                            "rated_at", time_json(v->rated_ms)));
	if (v->published)
		put(&b, "published", json_true());
	if (who == PJ_HANDLER && v->callback)
		put(&b, "callback", json_pack("{s:s?, s:o, s:o, s:b, s:b, s:b}", "queue",
		                              v->callback->queue, "due_at",
		                              time_json(v->callback->due_ms), "done_at",
		                              time_json(v->callback->done_ms), "reached",
		                              v->callback->reached, "resolved", v->callback->resolved,
		                              "reopen", v->callback->reopen));
	if (who == PJ_HANDLER) {
		if (!v->disclosure && v->repeat_of.len == PB_ID_LEN)
			put(&b, "repeat", plain_repeat_json(v));
		if (v->n_merged_codes)
			put(&b, "merged", codes_json(v->merged_codes, v->n_merged_codes));
		if (v->n_assists)
			put(&b, "assists", assists_json(v));
		put(&b, "body", str(v->body));
		put(&b, "category", opt_str(v->category));
		/* The router already withholds a confidential citizen; not
		 * showing it here as well costs nothing. */
		if (v->contact && !(v->order && v->order->confidential))
			put(&b, "contact", contact_json(v->contact));
		put(&b, "replied_by", opt_str(v->replied_by));
		if (v->order)
			put(&b, "hotline", order_json(v->order));
		if (v->imported)
			put(&b, "imported", json_true());
	}
	if (v->n_attachments)
		put(&b, "attachments", attachments_json(v->attachments, v->n_attachments, who));
	if (v->n_reply_attachments)
		put(&b, "reply_attachments",
		    attachments_json(v->reply_attachments, v->n_reply_attachments, who));
	/* The applicant is left out of the citizen's view here too, whatever
	 * the router sent. */
	if (v->disclosure)
		put(&b, "disclosure", disclosure_json(v->disclosure, who));
	if (v->petition)
		put(&b, "petition", petition_json(v->petition));
	if (b.failed) {
		json_decref(b.obj);
		return NULL;
	}
	return b.obj;
}

json_t *pj_receipt(const Mailroom__Receipt *r)
{
	struct build b;

	if (!r)
		return json_null();
	b.obj = json_object();
	b.failed = 0;
	if (!b.obj)
		return NULL;
	put(&b, "log_index", json_integer((json_int_t)r->log_index));
	put(&b, "record_hash", hex_json(&r->record_hash));
	put(&b, "key_id", hex_json(&r->key_id));
	/* The C2SP tlog-proof: the record, its inclusion proof, the checkpoint. */
	/* Kilobytes of text: checked as UTF-8 once, where it is dumped
	 * (json_dumps and pj_dumps both refuse text that is not). */
	if (r->proof && *r->proof)
		put(&b, "proof", json_stringn_nocheck(r->proof, strlen(r->proof)));
	if (b.failed) {
		json_decref(b.obj);
		return NULL;
	}
	return b.obj;
}

json_t *pj_lease(const Mailroom__Lease *l)
{
	struct build b;

	if (!l)
		return json_null();
	b.obj = json_object();
	b.failed = 0;
	if (!b.obj)
		return NULL;
	put(&b, "token", hex_json(&l->token));
	put(&b, "expires_at", time_json(l->expires_ms));
	if (b.failed) {
		json_decref(b.obj);
		return NULL;
	}
	return b.obj;
}

json_t *pj_error_json(const char *code, const char *message)
{
	json_t *inner = json_pack("{s:s, s:s}", "code", code ? code : "error", "message",
	                          message ? message : "");

	if (!inner)
		return NULL;
	return json_pack("{s:o}", "error", inner);
}
