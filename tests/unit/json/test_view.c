/* pj: MessageView, Receipt and Lease to JSON; error bodies. */
#include "pj.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define T0 1764122400000LL   /* 2025-11-26T10:00:00+08:00 */

static uint8_t id_bytes[16] = {0x01, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56,
                               0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56};

static Mailroom__Contact contact = MAILROOM__CONTACT__INIT;
static Mailroom__HotlineOrder order = MAILROOM__HOTLINE_ORDER__INIT;
static char *units[] = {"区住建局", "街道办"};

static void fill(Mailroom__MessageView *v)
{
	mailroom__message_view__init(v);
	v->id.data = id_bytes;
	v->id.len = sizeof(id_bytes);
	v->tracking_code = "1234-5678-9012";
	v->channel = MAILROOM__CHANNEL__CHANNEL_MAILBOX;
	v->status = MAILROOM__STATUS__STATUS_QUEUED;
	v->queue = "general";
	v->subject = "路灯坏了";
	v->body = "请尽快修理";
	v->category = "infrastructure";
	v->received_ms = T0;
	v->ack_due_ms = T0 + 86400000LL;
	v->reply_due_ms = 0;
	contact.name = "张三";
	contact.phone = "13800138000";
	contact.email = "";
	v->contact = &contact;
}

static const char *s(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	cr_assert(json_is_string(v), "%s is not a string", k);
	return json_string_value(v);
}

Test(view, citizen_fields)
{
	Mailroom__MessageView v;
	json_t *j;

	fill(&v);
	j = pj_view(&v, PJ_CITIZEN);
	cr_assert_not_null(j);
	cr_assert_eq(strlen(s(j, "id")), 26);
	cr_assert_str_eq(s(j, "tracking_code"), "1234-5678-9012");
	cr_assert_str_eq(s(j, "channel"), "mailbox");
	cr_assert_str_eq(s(j, "status"), "queued");
	cr_assert_str_eq(s(j, "queue"), "general");
	cr_assert_str_eq(s(j, "subject"), "路灯坏了");
	cr_assert_str_eq(s(j, "received_at"), "2025-11-26T10:00:00+08:00");
	cr_assert_str_eq(s(j, "ack_due_at"), "2025-11-27T10:00:00+08:00");
	cr_assert(json_is_null(json_object_get(j, "reply_due_at")), "0 ms is null");
	cr_assert(json_is_false(json_object_get(j, "due_provisional")));
	cr_assert(json_is_null(json_object_get(j, "reply")));
	/* A citizen sees neither the body echoed nor contact nor handler. */
	cr_assert_null(json_object_get(j, "body"));
	cr_assert_null(json_object_get(j, "contact"));
	cr_assert_null(json_object_get(j, "replied_by"));
	cr_assert_null(json_object_get(j, "hotline"));
	cr_assert_eq(json_object_size(j), 11);
	json_decref(j);
}

Test(view, id_text_is_crockford)
{
	Mailroom__MessageView v;
	json_t *j;

	fill(&v);
	j = pj_view(&v, PJ_CITIZEN);
	const char *id = s(j, "id");
	for (size_t i = 0; i < 26; i++)
		cr_assert(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", id[i]), "%s", id);
	json_decref(j);
	v.id.len = 0;
	j = pj_view(&v, PJ_CITIZEN);
	cr_assert(json_is_null(json_object_get(j, "id")));
	json_decref(j);
}

Test(view, reply)
{
	Mailroom__MessageView v;
	json_t *j, *r;

	fill(&v);
	v.status = MAILROOM__STATUS__STATUS_REPLIED;
	v.reply_text = "已修复";
	v.replied_ms = T0 + 3600000LL;
	v.replied_by = "alice";
	j = pj_view(&v, PJ_CITIZEN);
	r = json_object_get(j, "reply");
	cr_assert(json_is_object(r));
	cr_assert_str_eq(s(r, "text"), "已修复");
	cr_assert_str_eq(s(r, "replied_at"), "2025-11-26T11:00:00+08:00");
	cr_assert_str_eq(s(j, "status"), "replied");
	cr_assert_null(json_object_get(j, "replied_by"));
	json_decref(j);

	j = pj_view(&v, PJ_HANDLER);
	cr_assert_str_eq(s(j, "replied_by"), "alice");
	json_decref(j);
}

Test(view, handler_fields)
{
	Mailroom__MessageView v;
	json_t *j, *c;

	fill(&v);
	j = pj_view(&v, PJ_HANDLER);
	cr_assert_str_eq(s(j, "body"), "请尽快修理");
	cr_assert_str_eq(s(j, "category"), "infrastructure");
	c = json_object_get(j, "contact");
	cr_assert(json_is_object(c));
	cr_assert_str_eq(s(c, "name"), "张三");
	cr_assert_str_eq(s(c, "phone"), "13800138000");
	cr_assert(json_is_null(json_object_get(c, "email")));
	cr_assert(json_is_null(json_object_get(j, "replied_by")));
	cr_assert_null(json_object_get(j, "hotline"));
	json_decref(j);
}

Test(view, confidential_hides_contact)
{
	Mailroom__MessageView v;
	json_t *j, *h;

	fill(&v);
	v.channel = MAILROOM__CHANNEL__CHANNEL_HOTLINE;
	order.order_no = "GD-1";
	order.dispatch_seq = 3;
	order.kind = "dispatch";
	order.dispatched_ms = T0;
	order.urgency = "urgent";
	order.confidential = 1;
	order.n_co_units = 2;
	order.co_units = units;
	v.order = &order;
	j = pj_view(&v, PJ_HANDLER);
	cr_assert_null(json_object_get(j, "contact"), "a confidential citizen stays hidden");
	h = json_object_get(j, "hotline");
	cr_assert(json_is_object(h));
	cr_assert_str_eq(s(h, "order_no"), "GD-1");
	cr_assert_eq(json_integer_value(json_object_get(h, "dispatch_seq")), 3);
	cr_assert_str_eq(s(h, "dispatched_at"), "2025-11-26T10:00:00+08:00");
	cr_assert(json_is_null(json_object_get(h, "accepted_at")));
	cr_assert(json_is_true(json_object_get(h, "confidential")));
	cr_assert_eq(json_array_size(json_object_get(h, "co_units")), 2);
	cr_assert_str_eq(s(j, "channel"), "hotline");
	json_decref(j);

	order.confidential = 0;
	j = pj_view(&v, PJ_HANDLER);
	cr_assert(json_is_object(json_object_get(j, "contact")));
	json_decref(j);

	/* Citizens never get the order. */
	j = pj_view(&v, PJ_CITIZEN);
	cr_assert_null(json_object_get(j, "hotline"));
	json_decref(j);
}

Test(view, receipt)
{
	Mailroom__Receipt r = MAILROOM__RECEIPT__INIT;
	uint8_t hash[32], key[4] = {0xde, 0xad, 0xbe, 0xef};
	json_t *j;

	for (int i = 0; i < 32; i++)
		hash[i] = (uint8_t)i;
	r.log_index = 42;
	r.record_hash.data = hash;
	r.record_hash.len = 32;
	r.key_id.data = key;
	r.key_id.len = 4;
	j = pj_receipt(&r);
	cr_assert_eq(json_integer_value(json_object_get(j, "log_index")), 42);
	cr_assert_str_eq(s(j, "record_hash"),
	                 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	cr_assert_str_eq(s(j, "key_id"), "deadbeef");
	cr_assert_eq(json_object_size(j), 3, "no proof given, none shown");
	json_decref(j);

	r.proof = "c2sp.org/tlog-proof@v1\nindex 42\n\nnote\n";
	j = pj_receipt(&r);
	cr_assert_str_eq(s(j, "proof"), r.proof);
	cr_assert_null(json_object_get(j, "signature"), "records are not signed one by one");
	json_decref(j);

	j = pj_receipt(NULL);
	cr_assert(json_is_null(j));
}

Test(view, lease)
{
	Mailroom__Lease l = MAILROOM__LEASE__INIT;
	uint8_t tok[4] = {0x00, 0x01, 0xfe, 0xff};
	json_t *j;

	l.token.data = tok;
	l.token.len = 4;
	l.expires_ms = T0 + 300000;
	j = pj_lease(&l);
	cr_assert_str_eq(s(j, "token"), "0001feff");
	cr_assert_str_eq(s(j, "expires_at"), "2025-11-26T10:05:00+08:00");
	json_decref(j);
}

Test(view, error_json)
{
	json_t *j = pj_error_json("invalid_field", "subject: 1-200 characters");
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	cr_assert_str_eq(text,
	                 "{\"error\":{\"code\":\"invalid_field\",\"message\":\"subject: 1-200 characters\"}}");
	free(text);
	json_decref(j);
	cr_assert_null(pj_error_json("x", "bad \xff utf-8"));
}

Test(view, status_names)
{
	cr_assert_str_eq(pj_status_name(1), "queued");
	cr_assert_str_eq(pj_status_name(2), "leased");
	cr_assert_str_eq(pj_status_name(3), "replied");
	cr_assert_str_eq(pj_status_name(4), "closed");
	cr_assert_str_eq(pj_status_name(0), "unknown");
	cr_assert_str_eq(pj_status_name(99), "unknown");
}

/* A disclosure application decided after a review: what each reader sees. */
static Mailroom__Applicant applicant = MAILROOM__APPLICANT__INIT;
static Mailroom__Contact app_contact = MAILROOM__CONTACT__INIT;
static Mailroom__ReviewCase review = MAILROOM__REVIEW_CASE__INIT;
static Mailroom__ReviewCase *reviews[] = {&review};
static uint8_t earlier[16] = {0x01, 0x9a, 0xbc, 0xde, 0xf0, 0x00, 0x34, 0x56,
                              0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x57};

static void fill_disclosure(Mailroom__MessageView *v, Mailroom__DisclosureView *d)
{
	fill(v);
	v->channel = MAILROOM__CHANNEL__CHANNEL_DISCLOSURE;
	v->contact = NULL;
	mailroom__disclosure_view__init(d);
	applicant.kind = "natural_person";
	applicant.name = "张三";
	applicant.id_type = "resident_id";
	applicant.id_number = "11010519491231002X";
	app_contact.phone = "13800000000";
	applicant.contact = &app_contact;
	applicant.address = "北京市";
	review.kind = "review";
	review.case_no = "复2025-1";
	review.filed_ms = T0 + 10 * 86400000LL;
	review.result = "pending";
	d->phase = MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_DELIVERED;
	d->applicant_kind = "natural_person";
	d->applicant = &applicant;
	d->form = "electronic";
	d->delivery = "email";
	d->submission_mode = "registered_mail";
	d->receipt_ms = T0 - 3 * 86400000LL;
	d->receipt_confirmed = 1;
	d->outcome = "withheld.third_party_rights";
	d->legal_basis = "条例第十五条";
	d->decided_ms = T0 + 86400000LL;
	d->delivered_ms = T0 + 2 * 86400000LL;
	d->repeat_of.data = earlier;
	d->repeat_of.len = sizeof(earlier);
	d->repeat_of_tracking = "1111-2222-3334";
	d->repeat_permille = 812;
	d->repeat_of_description = "申请公开道路维修经费";
	d->repeat_of_received_ms = T0 - 30 * 86400000LL;
	d->n_reviews = 1;
	d->reviews = reviews;
	v->disclosure = d;
}

Test(view, disclosure_citizen)
{
	Mailroom__MessageView v;
	Mailroom__DisclosureView d;
	json_t *j, *x;

	fill_disclosure(&v, &d);
	j = pj_view(&v, PJ_CITIZEN);
	cr_assert_not_null(j);
	cr_assert_str_eq(s(j, "channel"), "disclosure");
	x = json_object_get(j, "disclosure");
	cr_assert(json_is_object(x));
	cr_expect_str_eq(s(x, "phase"), "delivered");
	cr_expect_str_eq(s(x, "legal_receipt_date"), "2025-11-23");
	cr_expect(json_is_true(json_object_get(x, "receipt_confirmed")));
	cr_expect_str_eq(s(x, "outcome"), "withheld.third_party_rights");
	cr_expect_str_eq(s(x, "legal_basis"), "条例第十五条");
	cr_expect_str_eq(s(x, "decided_at"), "2025-11-27T10:00:00+08:00");
	cr_expect_str_eq(s(x, "delivered_at"), "2025-11-28T10:00:00+08:00");
	cr_expect(json_is_null(json_object_get(x, "correction_due_at")));
	cr_expect(json_is_null(json_object_get(x, "fee_due_at")));
	json_t *r = json_array_get(json_object_get(x, "reviews"), 0);
	cr_assert(json_is_object(r));
	cr_expect_str_eq(s(r, "kind"), "review");
	cr_expect_str_eq(s(r, "filed"), "2025-12-06");
	cr_expect_str_eq(s(r, "result"), "pending");
	cr_expect(json_is_null(json_object_get(r, "decided")));
	/* Nothing about who applied, nor the office's own notes. */
	cr_expect_eq(json_object_size(x), 11);
	char *text = json_dumps(j, 0);
	cr_assert_not_null(text);
	cr_expect_null(strstr(text, "张三"));
	cr_expect_null(strstr(text, "11010519491231002X"));
	cr_expect_null(strstr(text, "13800000000"));
	cr_expect_null(strstr(text, "1111-2222-3334"));
	cr_expect_null(strstr(text, "道路维修经费"), "not the earlier application's text");
	cr_expect(json_is_null(json_object_get(x, "notice")), "nothing asked of the applicant");
	free(text);
	cr_expect_eq(json_object_size(j), 12);
	json_decref(j);

	j = pj_disclosure_intake(&v);
	cr_assert(json_is_object(j));
	cr_expect_eq(json_object_size(j), 3);
	cr_expect_str_eq(s(j, "phase"), "delivered");
	cr_expect_str_eq(s(j, "legal_receipt_date"), "2025-11-23");
	cr_expect(json_is_true(json_object_get(j, "receipt_confirmed")));
	json_decref(j);
	v.disclosure = NULL;
	j = pj_disclosure_intake(&v);
	cr_expect(json_is_null(j));
	json_decref(j);
}

Test(view, disclosure_handler)
{
	Mailroom__MessageView v;
	Mailroom__DisclosureView d;
	json_t *j, *x, *a, *rp;

	fill_disclosure(&v, &d);
	v.imported = 1;
	j = pj_view(&v, PJ_HANDLER);
	cr_assert_not_null(j);
	cr_expect(json_is_true(json_object_get(j, "imported")));
	x = json_object_get(j, "disclosure");
	cr_assert(json_is_object(x));
	cr_expect_str_eq(s(x, "applicant_kind"), "natural_person");
	cr_expect_str_eq(s(x, "submission_mode"), "registered_mail");
	cr_expect_str_eq(s(x, "receipt_at"), "2025-11-23T10:00:00+08:00");
	a = json_object_get(x, "applicant");
	cr_assert(json_is_object(a));
	cr_expect_str_eq(s(a, "name"), "张三");
	cr_expect_str_eq(s(a, "id_type"), "resident_id");
	cr_expect_str_eq(s(a, "id_number"), "11010519491231002X");
	cr_expect_str_eq(s(a, "phone"), "13800000000");
	cr_expect(json_is_null(json_object_get(a, "email")));
	cr_expect_str_eq(s(a, "address"), "北京市");
	rp = json_object_get(x, "repeat");
	cr_assert(json_is_object(rp));
	cr_expect_eq(strlen(s(rp, "of")), 26);
	cr_expect_str_eq(s(rp, "of_tracking_code"), "1111-2222-3334");
	cr_expect_eq(json_integer_value(json_object_get(rp, "permille")), 812);
	cr_expect(json_is_null(json_object_get(rp, "decision")), "not decided yet");
	cr_expect_str_eq(s(rp, "of_description"), "申请公开道路维修经费");
	cr_expect_str_eq(s(rp, "of_received_at"), "2025-10-27T10:00:00+08:00");
	json_decref(j);

	/* Not flagged: no repeat; no applicant sent: null. */
	d.repeat_of.len = 0;
	d.applicant = NULL;
	j = pj_view(&v, PJ_HANDLER);
	x = json_object_get(j, "disclosure");
	cr_expect(json_is_null(json_object_get(x, "repeat")));
	cr_expect(json_is_null(json_object_get(x, "applicant")));
	json_decref(j);
}

/* 并单 and 协办: the citizen sees the primary's code, never the assisting
 * queues or their opinions; the handler sees both. */
Test(view, merged_and_assists)
{
	Mailroom__MessageView v;
	Mailroom__AssistState a = MAILROOM__ASSIST_STATE__INIT, *as[] = {&a};
	char *codes[] = {"1111-2222-3333"};
	json_t *j, *x;

	fill(&v);
	v.status = MAILROOM__STATUS__STATUS_CLOSED;
	v.merged_into = "9999-8888-7777";
	v.merged_ms = T0 + 1000;
	v.merged_codes = codes;
	v.n_merged_codes = 1;
	a.queue = "supervision";
	a.requested_ms = T0;
	a.working_days = 5;
	a.due_ms = T0 + 7 * 86400000LL;
	a.opinion = "意见全文";
	a.delivered_ms = T0 + 86400000LL;
	v.assists = as;
	v.n_assists = 1;

	j = pj_view(&v, PJ_CITIZEN);
	cr_assert(j);
	cr_expect_str_eq(s(j, "merged_into"), "9999-8888-7777");
	cr_expect_str_eq(s(j, "merged_at"), "2025-11-26T10:00:01+08:00");
	cr_expect_null(json_object_get(j, "assists"), "the citizen sees no assisting queue");
	cr_expect_null(json_object_get(j, "merged"));
	json_decref(j);

	j = pj_view(&v, PJ_HANDLER);
	cr_assert(j);
	cr_expect_str_eq(json_string_value(json_array_get(json_object_get(j, "merged"), 0)),
	                 "1111-2222-3333");
	x = json_array_get(json_object_get(j, "assists"), 0);
	cr_expect_str_eq(s(x, "queue"), "supervision");
	cr_expect_str_eq(s(x, "opinion"), "意见全文");
	cr_expect_eq(json_integer_value(json_object_get(x, "working_days")), 5);
	cr_expect_str_eq(s(x, "delivered_at"), "2025-11-27T10:00:00+08:00");
	json_decref(j);

	/* Not merged: no such keys at all. */
	fill(&v);
	j = pj_view(&v, PJ_CITIZEN);
	cr_expect_null(json_object_get(j, "merged_into"));
	json_decref(j);
}

/* Referral: both audiences see the other case by code and channel; a
 * plain channel's repeat only the handler sees. */
Test(view, referral_and_plain_repeat)
{
	Mailroom__MessageView v;
	uint8_t earlier[16] = {0x01, 0x9a};

	fill(&v);
	v.status = MAILROOM__STATUS__STATUS_REPLIED;
	v.referred_to_tracking = "2222-3333-4444";
	v.referred_to_channel = MAILROOM__CHANNEL__CHANNEL_COMPLAINT;
	v.referred_ms = T0;
	v.repeat_of.data = earlier;
	v.repeat_of.len = sizeof(earlier);
	v.repeat_of_tracking = "5555-6666-7777";
	v.repeat_permille = 812;
	for (int who = 0; who < 2; who++) {
		json_t *j = pj_view(&v, who ? PJ_HANDLER : PJ_CITIZEN);
		json_t *r = json_object_get(j, "referred_to");
		cr_assert(json_is_object(r));
		cr_expect_str_eq(s(r, "tracking_code"), "2222-3333-4444");
		cr_expect_str_eq(s(r, "channel"), "complaint");
		cr_expect_str_eq(s(r, "at"), "2025-11-26T10:00:00+08:00");
		cr_expect_null(json_object_get(j, "referred_from"));
		json_t *rep = json_object_get(j, "repeat");
		if (who) {
			cr_expect_str_eq(s(rep, "of_tracking_code"), "5555-6666-7777");
			cr_expect_eq(json_integer_value(json_object_get(rep, "permille")), 812);
		} else {
			cr_expect_null(rep, "a citizen is not shown another case");
		}
		json_decref(j);
	}
	v.referred_to_tracking = NULL;
	v.referred_from_tracking = "2222-3333-4444";
	v.referred_from_channel = MAILROOM__CHANNEL__CHANNEL_DISCLOSURE;
	json_t *j = pj_view(&v, PJ_CITIZEN);
	cr_expect_null(json_object_get(j, "referred_to"));
	cr_expect_str_eq(s(json_object_get(j, "referred_from"), "channel"), "disclosure");
	json_decref(j);
}
