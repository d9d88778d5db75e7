/* Protobuf views back to JSON: messages, receipts, leases, errors. */
#include "pj.h"
#include "pb_conf.h"
#include "pb_id.h"
#include "pb_time.h"

#include <stdlib.h>
#include <string.h>

const char *pj_status_name(int status)
{
	static const char *const names[] = {"unknown", "queued", "leased", "replied", "closed"};

	if (status < 0 || status > 4)
		return "unknown";
	return names[status];
}

/* Each view is written as text straight into one buffer (struct pj_out):
 * the gateway answers with it as it is, and the tools that want a tree
 * read it back with jansson. One writer, so both say the same. Members
 * come in the order the answers have always had. */

#define LIT(o, s) pj_out_raw(o, s, sizeof(s) - 1)

static void null(struct pj_out *o)
{
	LIT(o, "null");
}

/* Stored text was valid UTF-8 when it came in; should it ever not be,
 * null is shown rather than broken JSON. */
static void str(struct pj_out *o, const char *s)
{
	if (!s)
		s = "";
	if (pj_out_text(o, s, strlen(s)))
		null(o);
}

static void opt_str(struct pj_out *o, const char *s)
{
	if (s && *s)
		str(o, s);
	else
		null(o);
}

/* Text that must be UTF-8: the whole view fails when it is not. */
static void strict_str(struct pj_out *o, const char *s)
{
	pj_out_str(o, s, strlen(s));
}

static void time_json(struct pj_out *o, int64_t ms)
{
	char buf[42];   /* 40 for the text, as always, and its quotes */
	int n;

	if (ms == 0 || (n = pb_time_fmt(ms, buf + 1, sizeof(buf) - 2, 0)) < 0) {
		null(o);
		return;
	}
	n = (int)strlen(buf + 1);
	buf[0] = '"';
	buf[n + 1] = '"';
	pj_out_raw(o, buf, (size_t)n + 2);
}

/* The Asia/Shanghai date of an instant; null when unset. */
static void date_json(struct pj_out *o, int64_t ms)
{
	char buf[16];

	if (ms == 0 || pb_date_fmt(pb_day_of_ms(ms), buf, sizeof(buf)) < 0) {
		null(o);
		return;
	}
	strict_str(o, buf);
}

static void hex_json(struct pj_out *o, const ProtobufCBinaryData *b)
{
	char buf[2 * 1024 + 2];

	if (b->len > 1024) {
		null(o);   /* no field here is anywhere near that */
		return;
	}
	buf[0] = '"';
	pb_hex(b->data, b->len, buf + 1);
	buf[2 * b->len + 1] = '"';
	pj_out_raw(o, buf, 2 * b->len + 2);
}

static void id_json(struct pj_out *o, const ProtobufCBinaryData *b)
{
	char id[PB_ID_TEXT_LEN + 1];

	if (b->len != PB_ID_LEN) {
		null(o);
		return;
	}
	pb_id_to_text(b->data, id);
	pj_out_raw(o, "\"", 1);
	pj_out_raw(o, id, PB_ID_TEXT_LEN);
	pj_out_raw(o, "\"", 1);
}

static void str_array(struct pj_out *o, char **list, size_t n)
{
	pj_out_raw(o, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			pj_out_raw(o, ",", 1);
		str(o, list[i]);
	}
	pj_out_raw(o, "]", 1);
}

static void order_json(struct pj_out *o, const Mailroom__HotlineOrder *h)
{
	LIT(o, "{");
	pj_out_key(o, "order_no"), str(o, h->order_no);
	pj_out_key(o, "dispatch_seq"), pj_out_int(o, h->dispatch_seq);
	pj_out_key(o, "kind"), str(o, h->kind);
	pj_out_key(o, "accepted_at"), time_json(o, h->accepted_ms);
	pj_out_key(o, "dispatched_at"), time_json(o, h->dispatched_ms);
	pj_out_key(o, "source"), opt_str(o, h->source);
	pj_out_key(o, "category"), opt_str(o, h->category);
	pj_out_key(o, "category_code"), opt_str(o, h->category_code);
	pj_out_key(o, "urgency"), opt_str(o, h->urgency);
	pj_out_key(o, "confidential"), pj_out_bool(o, h->confidential);
	pj_out_key(o, "region"), opt_str(o, h->region);
	pj_out_key(o, "address"), opt_str(o, h->address);
	pj_out_key(o, "lead_unit"), opt_str(o, h->lead_unit);
	pj_out_key(o, "co_units"), str_array(o, h->co_units, h->n_co_units);
	pj_out_key(o, "sign_due_at"), time_json(o, h->sign_due_ms);
	pj_out_key(o, "finish_due_at"), time_json(o, h->finish_due_ms);
	pj_out_key(o, "reply_required"), pj_out_bool(o, h->reply_required);
	pj_out_key(o, "reason"), opt_str(o, h->reason);
	LIT(o, "}");
}

static void contact_json(struct pj_out *o, const Mailroom__Contact *c)
{
	LIT(o, "{");
	pj_out_key(o, "name"), opt_str(o, c->name);
	pj_out_key(o, "phone"), opt_str(o, c->phone);
	pj_out_key(o, "email"), opt_str(o, c->email);
	LIT(o, "}");
}

static void reply_json(struct pj_out *o, const Mailroom__MessageView *v)
{
	if ((!v->reply_text || !*v->reply_text) && v->replied_ms == 0) {
		null(o);
		return;
	}
	LIT(o, "{");
	pj_out_key(o, "text"), str(o, v->reply_text);
	pj_out_key(o, "replied_at"), time_json(o, v->replied_ms);
	LIT(o, "}");
}

/* ------------------------------------------------------- disclosure -- */

static const char *phase_name(int p)
{
	static const char *const names[] = {"unknown", "open", "awaiting_correction",
	                                    "awaiting_fee", "decided", "delivered"};

	return p >= 0 && p < (int)(sizeof(names) / sizeof(names[0])) ? names[p] : "unknown";
}

static void reviews_json(struct pj_out *o, const Mailroom__DisclosureView *d)
{
	LIT(o, "[");
	for (size_t i = 0; i < d->n_reviews; i++) {
		const Mailroom__ReviewCase *rc = d->reviews[i];
		if (i)
			LIT(o, ",");
		LIT(o, "{");
		pj_out_key(o, "kind"), str(o, rc->kind);
		pj_out_key(o, "case_no"), str(o, rc->case_no);
		pj_out_key(o, "filed"), date_json(o, rc->filed_ms);
		pj_out_key(o, "result"), str(o, rc->result);
		pj_out_key(o, "decided"), date_json(o, rc->decided_ms);
		LIT(o, "}");
	}
	LIT(o, "]");
}

static void applicant_json(struct pj_out *o, const Mailroom__Applicant *a)
{
	if (!a) {
		null(o);
		return;
	}
	LIT(o, "{");
	pj_out_key(o, "kind"), str(o, a->kind);
	pj_out_key(o, "name"), str(o, a->name);
	pj_out_key(o, "id_type"), str(o, a->id_type);
	pj_out_key(o, "id_number"), str(o, a->id_number);
	pj_out_key(o, "phone"), opt_str(o, a->contact ? a->contact->phone : NULL);
	pj_out_key(o, "email"), opt_str(o, a->contact ? a->contact->email : NULL);
	pj_out_key(o, "address"), opt_str(o, a->address);
	LIT(o, "}");
}

static void repeat_json(struct pj_out *o, const Mailroom__DisclosureView *d)
{
	if (d->repeat_of.len != PB_ID_LEN) {
		null(o);
		return;
	}
	LIT(o, "{");
	pj_out_key(o, "of"), id_json(o, &d->repeat_of);
	pj_out_key(o, "of_tracking_code"), opt_str(o, d->repeat_of_tracking);
	pj_out_key(o, "of_received_at"), time_json(o, d->repeat_of_received_ms);
	pj_out_key(o, "of_description"), opt_str(o, d->repeat_of_description);
	pj_out_key(o, "permille"), pj_out_int(o, d->repeat_permille);
	pj_out_key(o, "decision"), opt_str(o, d->repeat_decision);
	LIT(o, "}");
}

/* A referral names the other case by its code and channel: the
 * citizen's access key opens both. */
static void referral_json(struct pj_out *o, const char *tracking, int channel, int64_t at_ms)
{
	LIT(o, "{");
	pj_out_key(o, "tracking_code"), strict_str(o, tracking);
	pj_out_key(o, "channel"), str(o, pb_channel_name(channel));
	pj_out_key(o, "at"), time_json(o, at_ms);
	LIT(o, "}");
}

/* A plain channel's flagged repeat, for handlers. */
static void plain_repeat_json(struct pj_out *o, const Mailroom__MessageView *v)
{
	LIT(o, "{");
	pj_out_key(o, "of"), id_json(o, &v->repeat_of);
	pj_out_key(o, "of_tracking_code"), opt_str(o, v->repeat_of_tracking);
	pj_out_key(o, "of_received_at"), time_json(o, v->repeat_of_received_ms);
	pj_out_key(o, "permille"), pj_out_int(o, v->repeat_permille);
	pj_out_key(o, "decision"), opt_str(o, v->repeat_decision);
	LIT(o, "}");
}

/* What the 201 of an application says of it: when it counts as received. */
static void intake_json(struct pj_out *o, const Mailroom__DisclosureView *d)
{
	LIT(o, "{");
	pj_out_key(o, "phase"), str(o, phase_name(d->phase));
	pj_out_key(o, "legal_receipt_date"), date_json(o, d->receipt_ms);
	pj_out_key(o, "receipt_confirmed"), pj_out_bool(o, d->receipt_confirmed);
	LIT(o, "}");
}

/* Citizens see where their application stands; handlers also who applied
 * and what the office knows about it. */
static void disclosure_json(struct pj_out *o, const Mailroom__DisclosureView *d,
                            enum pj_audience who)
{
	LIT(o, "{");
	pj_out_key(o, "phase"), str(o, phase_name(d->phase));
	pj_out_key(o, "legal_receipt_date"), date_json(o, d->receipt_ms);
	pj_out_key(o, "receipt_confirmed"), pj_out_bool(o, d->receipt_confirmed);
	pj_out_key(o, "correction_due_at"), time_json(o, d->correction_due_ms);
	pj_out_key(o, "fee_due_at"), time_json(o, d->fee_due_ms);
	pj_out_key(o, "notice"), opt_str(o, d->notice);
	pj_out_key(o, "outcome"), opt_str(o, d->outcome);
	pj_out_key(o, "legal_basis"), opt_str(o, d->legal_basis);
	pj_out_key(o, "decided_at"), time_json(o, d->decided_ms);
	pj_out_key(o, "delivered_at"), time_json(o, d->delivered_ms);
	pj_out_key(o, "reviews"), reviews_json(o, d);
	if (who == PJ_HANDLER) {
		pj_out_key(o, "applicant_kind"), opt_str(o, d->applicant_kind);
		pj_out_key(o, "applicant"), applicant_json(o, d->applicant);
		pj_out_key(o, "form"), opt_str(o, d->form);
		pj_out_key(o, "delivery"), opt_str(o, d->delivery);
		pj_out_key(o, "submission_mode"), opt_str(o, d->submission_mode);
		pj_out_key(o, "purpose"), opt_str(o, d->purpose);
		pj_out_key(o, "receipt_at"), time_json(o, d->receipt_ms);
		pj_out_key(o, "consultations"), pj_out_int(o, d->consultations);
		pj_out_key(o, "repeat"), repeat_json(o, d);
	}
	LIT(o, "}");
}

/* 协办: the assisting queues asked, for handlers. */
static void assists_json(struct pj_out *o, const Mailroom__MessageView *v)
{
	LIT(o, "[");
	for (size_t i = 0; i < v->n_assists; i++) {
		const Mailroom__AssistState *a = v->assists[i];
		if (i)
			LIT(o, ",");
		LIT(o, "{");
		pj_out_key(o, "queue"), str(o, a->queue);
		pj_out_key(o, "requested_at"), time_json(o, a->requested_ms);
		pj_out_key(o, "working_days"), pj_out_int(o, a->working_days);
		pj_out_key(o, "due_at"), time_json(o, a->due_ms);
		pj_out_key(o, "due_provisional"), pj_out_bool(o, a->provisional);
		pj_out_key(o, "delivered_at"), time_json(o, a->delivered_ms);
		pj_out_key(o, "opinion"), opt_str(o, a->opinion);
		LIT(o, "}");
	}
	LIT(o, "]");
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
static void petition_json(struct pj_out *o, const Mailroom__PetitionState *p)
{
	LIT(o, "{");
	pj_out_key(o, "petition_no"), str(o, p->petition_no);
	pj_out_key(o, "forwarded_by"), str(o, p->forwarded_by);
	pj_out_key(o, "forwarded_at"), time_json(o, p->forwarded_ms);
	pj_out_key(o, "kind"), str(o, p->kind);
	pj_out_key(o, "stage"), str(o, stage_name(p->stage));
	pj_out_key(o, "accepted_at"), time_json(o, p->accepted_ms);
	pj_out_key(o, "answered_at"), time_json(o, p->answered_ms);
	pj_out_key(o, "extensions"), pj_out_int(o, p->extensions);
	pj_out_key(o, "review_requested_at"), time_json(o, p->review_ms);
	LIT(o, "}");
}

/* ------------------------------------------------------------ views -- */

static const char *const scan_names[] = {"pending", "clean", "infected"};

/* A message's files: kind, size and the scanner's verdict for everyone;
 * the handler also sees what the scanner found and the hash. */
static void attachments_json(struct pj_out *o, Mailroom__Attachment *const *list, size_t n,
                             enum pj_audience who)
{
	LIT(o, "[");
	for (size_t i = 0; i < n; i++) {
		const Mailroom__Attachment *a = list[i];
		unsigned scan = (unsigned)a->scan < 3 ? (unsigned)a->scan : 0;

		if (i)
			LIT(o, ",");
		LIT(o, "{");
		pj_out_key(o, "n"), pj_out_int(o, (long long)i);
		pj_out_key(o, "type"), str(o, a->type);
		pj_out_key(o, "size"), pj_out_int(o, (long long)a->size);
		pj_out_key(o, "scan"), str(o, scan_names[scan]);
		if (who == PJ_HANDLER) {
			pj_out_key(o, "sha256"), hex_json(o, &a->sha256);
			if (a->scan == MAILROOM__SCAN_STATE__SCAN_INFECTED)
				pj_out_key(o, "found"), str(o, a->signature);
		}
		LIT(o, "}");
	}
	LIT(o, "]");
}

void pj_view_write(struct pj_out *o, const Mailroom__MessageView *v, enum pj_audience who,
                   unsigned flags)
{
	LIT(o, "{");
	pj_out_key(o, "id"), id_json(o, &v->id);
	pj_out_key(o, "tracking_code"), str(o, v->tracking_code);
	pj_out_key(o, "channel"), str(o, pb_channel_name(v->channel));
	pj_out_key(o, "status"), str(o, pj_status_name(v->status));
	pj_out_key(o, "queue"), str(o, v->queue);
	pj_out_key(o, "subject"), str(o, v->subject);
	pj_out_key(o, "received_at"), time_json(o, v->received_ms);
	pj_out_key(o, "ack_due_at"), time_json(o, v->ack_due_ms);
	pj_out_key(o, "reply_due_at"), time_json(o, v->reply_due_ms);
	pj_out_key(o, "due_provisional"), pj_out_bool(o, v->due_provisional);
	/* Only once a new calendar has moved or confirmed a deadline. */
	if (v->due_recomputed_ms)
		pj_out_key(o, "due_recomputed_at"), time_json(o, v->due_recomputed_ms);
	pj_out_key(o, "reply"), reply_json(o, v);
	if (v->referred_to_tracking && *v->referred_to_tracking)
		pj_out_key(o, "referred_to"), referral_json(o, v->referred_to_tracking,
		                                     v->referred_to_channel, v->referred_ms);
	if (v->referred_from_tracking && *v->referred_from_tracking)
		pj_out_key(o, "referred_from"), referral_json(o, v->referred_from_tracking,
		                                       v->referred_from_channel, v->referred_ms);
	/* 并单: closed into another message, whose answer is this one's. */
	if (v->merged_into && *v->merged_into) {
		pj_out_key(o, "merged_into"), str(o, v->merged_into);
		pj_out_key(o, "merged_at"), time_json(o, v->merged_ms);
	}
	if (v->rating) {
		const char *level = pj_rating_name(v->rating);
		pj_out_key(o, "rating"), LIT(o, "{");
		pj_out_key(o, "level");
		if (level)
			strict_str(o, level);
		else
			null(o);
		pj_out_key(o, "rated_at"), time_json(o, v->rated_ms);
		LIT(o, "}");
	}
	if (v->published)
		pj_out_key(o, "published"), LIT(o, "true");
	if (who == PJ_HANDLER && v->callback) {
		pj_out_key(o, "callback"), LIT(o, "{");
		pj_out_key(o, "queue");
		if (v->callback->queue)
			strict_str(o, v->callback->queue);
		else
			null(o);
		pj_out_key(o, "due_at"), time_json(o, v->callback->due_ms);
		pj_out_key(o, "done_at"), time_json(o, v->callback->done_ms);
		pj_out_key(o, "reached"), pj_out_bool(o, v->callback->reached);
		pj_out_key(o, "resolved"), pj_out_bool(o, v->callback->resolved);
		pj_out_key(o, "reopen"), pj_out_bool(o, v->callback->reopen);
		LIT(o, "}");
	}
	if (who == PJ_HANDLER) {
		if (!v->disclosure && v->repeat_of.len == PB_ID_LEN)
			pj_out_key(o, "repeat"), plain_repeat_json(o, v);
		if (v->n_merged_codes)
			pj_out_key(o, "merged"), str_array(o, v->merged_codes, v->n_merged_codes);
		if (v->n_assists)
			pj_out_key(o, "assists"), assists_json(o, v);
		pj_out_key(o, "body"), str(o, v->body);
		pj_out_key(o, "category"), opt_str(o, v->category);
		/* The router already withholds a confidential citizen; not
		 * showing it here as well costs nothing. */
		if (v->contact && !(v->order && v->order->confidential))
			pj_out_key(o, "contact"), contact_json(o, v->contact);
		pj_out_key(o, "replied_by"), opt_str(o, v->replied_by);
		if (v->order)
			pj_out_key(o, "hotline"), order_json(o, v->order);
		if (v->imported)
			pj_out_key(o, "imported"), LIT(o, "true");
	}
	if (v->n_attachments)
		pj_out_key(o, "attachments"), attachments_json(o, v->attachments, v->n_attachments, who);
	if (v->n_reply_attachments)
		pj_out_key(o, "reply_attachments"),
			attachments_json(o, v->reply_attachments, v->n_reply_attachments, who);
	/* The applicant is left out of the citizen's view here too, whatever
	 * the router sent. */
	if (v->disclosure) {
		pj_out_key(o, "disclosure");
		if (flags & PJ_VIEW_INTAKE)
			intake_json(o, v->disclosure);
		else
			disclosure_json(o, v->disclosure, who);
	}
	if (v->petition)
		pj_out_key(o, "petition"), petition_json(o, v->petition);
}

void pj_receipt_write(struct pj_out *o, const Mailroom__Receipt *r)
{
	if (!r) {
		null(o);
		return;
	}
	LIT(o, "{");
	pj_out_key(o, "log_index"), pj_out_int(o, (long long)r->log_index);
	pj_out_key(o, "record_hash"), hex_json(o, &r->record_hash);
	pj_out_key(o, "key_id"), hex_json(o, &r->key_id);
	/* The C2SP tlog-proof: the record, its inclusion proof, the
	 * checkpoint. Kilobytes of text, checked as UTF-8 once, here. */
	if (r->proof && *r->proof)
		pj_out_key(o, "proof"), strict_str(o, r->proof);
	LIT(o, "}");
}

/* The text read back as a tree. */
static json_t *tree(struct pj_out *o)
{
	size_t len;
	char *text = pj_out_end(o, &len);
	json_t *j;

	if (!text)
		return NULL;
	j = json_loadb(text, len, JSON_DECODE_ANY, NULL);
	free(text);
	return j;
}

json_t *pj_view(const Mailroom__MessageView *v, enum pj_audience who)
{
	struct pj_out o = {0};

	pj_view_write(&o, v, who, 0);
	LIT(&o, "}");
	return tree(&o);
}

json_t *pj_disclosure_intake(const Mailroom__MessageView *v)
{
	struct pj_out o = {0};

	if (!v || !v->disclosure)
		return json_null();
	intake_json(&o, v->disclosure);
	return tree(&o);
}

json_t *pj_receipt(const Mailroom__Receipt *r)
{
	struct pj_out o = {0};

	if (!r)
		return json_null();
	pj_receipt_write(&o, r);
	return tree(&o);
}

json_t *pj_lease(const Mailroom__Lease *l)
{
	struct pj_out o = {0};

	if (!l)
		return json_null();
	LIT(&o, "{");
	pj_out_key(&o, "token"), hex_json(&o, &l->token);
	pj_out_key(&o, "expires_at"), time_json(&o, l->expires_ms);
	LIT(&o, "}");
	return tree(&o);
}

json_t *pj_error_json(const char *code, const char *message)
{
	json_t *inner = json_pack("{s:s, s:s}", "code", code ? code : "error", "message",
	                          message ? message : "");

	if (!inner)
		return NULL;
	return json_pack("{s:o}", "error", inner);
}
