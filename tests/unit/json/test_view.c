/* pj: MessageView, Receipt and Lease to JSON; error bodies. */
#include "pj.h"

#include <criterion/criterion.h>
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
	uint8_t hash[32], sig[5] = {'h', 'e', 'l', 'l', 'o'}, key[4] = {0xde, 0xad, 0xbe, 0xef};
	json_t *j;

	for (int i = 0; i < 32; i++)
		hash[i] = (uint8_t)i;
	r.log_index = 42;
	r.record_hash.data = hash;
	r.record_hash.len = 32;
	r.signature.data = sig;
	r.signature.len = 5;
	r.key_id.data = key;
	r.key_id.len = 4;
	j = pj_receipt(&r);
	cr_assert_eq(json_integer_value(json_object_get(j, "log_index")), 42);
	cr_assert_str_eq(s(j, "record_hash"),
	                 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	cr_assert_str_eq(s(j, "signature"), "aGVsbG8=");   /* standard alphabet, padded */
	cr_assert_str_eq(s(j, "key_id"), "deadbeef");
	cr_assert_eq(json_object_size(j), 4);
	json_decref(j);

	sig[0] = 0xfb, sig[1] = 0xff;   /* '+' and '/' of the standard alphabet */
	r.signature.len = 2;
	j = pj_receipt(&r);
	cr_assert_str_eq(s(j, "signature"), "+/8=");
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
