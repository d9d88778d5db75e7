/* POST /v1/hotline/orders: one 12345 transfer order (hotline-12345.md,
 * "Order fields"). Every field is checked when present; which ones must
 * be present depends on the kind: a dispatch carries the full order, a
 * revoke or urge only order_no, dispatch_seq, kind, dispatched_at and
 * reason. */
#include "pj.h"
#include "pj_int.h"
#include "pb_conf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_UNITS 32
#define MAX_ATTACHMENTS 32

static const char *const order_keys[] = {
	"order_no", "dispatch_seq", "kind", "accepted_at", "dispatched_at", "source",
	"category", "category_code", "urgency", "title", "content", "citizen", "region",
	"address", "lead_unit", "co_units", "sign_due_at", "finish_due_at", "reply_required",
	"attachments", "reason", NULL,
};
static const char *const citizen_keys[] = {"name", "phone", "confidential", NULL};
static const char *const attachment_keys[] = {"name", "url", "sha256", "size", NULL};
static const char *const kinds[] = {"dispatch", "revoke", "urge", NULL};
static const char *const sources[] = {"phone", "web", "wechat", "app", "sms", "email", NULL};
static const char *const categories[] = {
	"consultation", "help", "complaint", "report", "suggestion", NULL,
};
static const char *const urgencies[] = {"normal", "urgent", "critical", NULL};

static int order_no_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
	return 1;
}

static int all_digits(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int all_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdefABCDEF", s[i]))
			return 0;
	return 1;
}

static int parse_citizen(json_t *root, int required, Mailroom__HotlineOrder *order,
                         Mailroom__Contact *contact, int *present, struct pj_error *err)
{
	json_t *c;
	const char *name = NULL, *phone = NULL;
	int confidential = 0;

	*present = 0;
	if (pj_member(root, "", "citizen", required, &c, err))
		return -1;
	if (!c)
		return 0;
	if (!json_is_object(c))
		return pj_fail(err, "invalid_field", "citizen: must be an object");
	if (pj_known_keys(c, "citizen.", citizen_keys, err))
		return -1;
	/* An anonymous caller has no name or phone; confidentiality must be
	 * stated, never assumed off. */
	if (pj_text(c, "citizen.", "name", 0, 1, 50, PJ_NOBLANK, &name, err) ||
	    pj_text(c, "citizen.", "phone", 0, 1, 24, 0, &phone, err) ||
	    pj_bool(c, "citizen.", "confidential", 1, &confidential, err))
		return -1;
	if (phone && !pj_valid_phone(phone))
		return pj_fail(err, "invalid_field",
		               "citizen.phone: mobile 1xxxxxxxxxx or landline 0xx-xxxxxxxx");
	mailroom__contact__init(contact);
	if (name)
		contact->name = (char *)name;
	if (phone)
		contact->phone = (char *)phone;
	order->confidential = confidential != 0;
	*present = 1;
	return 0;
}

static int parse_units(json_t *root, Mailroom__HotlineOrder *order, struct pj_error *err)
{
	json_t *a, *v;
	size_t i;

	if (pj_member(root, "", "co_units", 0, &a, err))
		return -1;
	if (!a)
		return 0;
	if (!json_is_array(a))
		return pj_fail(err, "invalid_field", "co_units: must be an array of strings");
	if (json_array_size(a) > MAX_UNITS)
		return pj_fail(err, "invalid_field", "co_units: at most %d units", MAX_UNITS);
	if (json_array_size(a) == 0)
		return 0;
	order->co_units = calloc(json_array_size(a), sizeof(char *));
	if (!order->co_units)
		return pj_fail(err, "no_memory", "out of memory");
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);
		long n = s ? pj_utf8_chars(s, len) : -1;
		if (!json_is_string(v) || n < 1 || n > 100 || pj_text_clean(s, len, 0))
			return pj_fail(err, "invalid_field", "co_units[%zu]: 1-100 characters", i);
		order->co_units[order->n_co_units++] = (char *)s;
	}
	return 0;
}

/* Attachments are checked for shape only; nothing of them is kept yet. */
static int check_attachments(json_t *root, struct pj_error *err)
{
	json_t *a, *v;
	size_t i;

	if (pj_member(root, "", "attachments", 0, &a, err))
		return -1;
	if (!a)
		return 0;
	if (!json_is_array(a))
		return pj_fail(err, "invalid_field", "attachments: must be an array of objects");
	if (json_array_size(a) > MAX_ATTACHMENTS)
		return pj_fail(err, "invalid_field", "attachments: at most %d", MAX_ATTACHMENTS);
	json_array_foreach(a, i, v) {
		char path[48];
		const char *name = NULL, *url = NULL, *sha = NULL;
		long long size;

		snprintf(path, sizeof(path), "attachments[%zu].", i);
		if (!json_is_object(v))
			return pj_fail(err, "invalid_field", "attachments[%zu]: must be an object", i);
		if (pj_known_keys(v, path, attachment_keys, err) ||
		    pj_text(v, path, "name", 1, 1, 255, PJ_NOBLANK, &name, err) ||
		    pj_text(v, path, "url", 1, 1, 2048, 0, &url, err) ||
		    pj_text(v, path, "sha256", 1, 64, 64, 0, &sha, err) ||
		    pj_int(v, path, "size", 1, 0, INT64_MAX, &size, err))
			return -1;
		if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
			return pj_fail(err, "invalid_field", "%surl: http or https URL", path);
		if (!all_hex(sha, 64))
			return pj_fail(err, "invalid_field", "%ssha256: 64 hex digits", path);
	}
	return 0;
}

static int parse_fields(json_t *root, Mailroom__SubmitReq *out, Mailroom__HotlineOrder *o,
                        Mailroom__Contact *contact, struct pj_error *err)
{
	const char *order_no = NULL, *kind = NULL, *source = NULL, *category = NULL;
	const char *code = NULL, *urgency = NULL, *title = NULL, *content = NULL;
	const char *region = NULL, *address = NULL, *lead = NULL, *reason = NULL;
	long long seq = 0;
	int reply_required = 0, has_citizen;

	if (pj_known_keys(root, "", order_keys, err))
		return -1;
	/* The kind decides what else is required, so it comes first. */
	if (pj_text(root, "", "order_no", 1, 1, 40, 0, &order_no, err) ||
	    pj_int(root, "", "dispatch_seq", 1, 1, UINT32_MAX, &seq, err) ||
	    pj_enum(root, "", "kind", 1, kinds, &kind, err))
		return -1;
	if (!order_no_ok(order_no))
		return pj_fail(err, "invalid_field", "order_no: 1-40 of [A-Za-z0-9-]");
	int full = strcmp(kind, "dispatch") == 0;
	if (pj_time(root, "", "accepted_at", full, &o->accepted_ms, err) ||
	    pj_time(root, "", "dispatched_at", 1, &o->dispatched_ms, err) ||
	    pj_enum(root, "", "source", full, sources, &source, err) ||
	    pj_enum(root, "", "category", full, categories, &category, err) ||
	    pj_text(root, "", "category_code", full, 1, 16, 0, &code, err) ||
	    pj_enum(root, "", "urgency", full, urgencies, &urgency, err) ||
	    pj_text(root, "", "title", full, 1, 200, PJ_LINES | PJ_NOBLANK, &title, err) ||
	    pj_text(root, "", "content", full, 1, 10000, PJ_LINES | PJ_NOBLANK, &content, err) ||
	    parse_citizen(root, full, o, contact, &has_citizen, err) ||
	    pj_text(root, "", "region", full, 6, 6, 0, &region, err))
		return -1;
	if (region && !all_digits(region, 6))
		return pj_fail(err, "invalid_field", "region: 6-digit division code");
	if (pj_text(root, "", "address", 0, 1, 200, PJ_NOBLANK, &address, err) ||
	    pj_text(root, "", "lead_unit", full, 1, 100, PJ_NOBLANK, &lead, err) ||
	    parse_units(root, o, err) ||
	    pj_time(root, "", "sign_due_at", full, &o->sign_due_ms, err) ||
	    pj_time(root, "", "finish_due_at", full, &o->finish_due_ms, err) ||
	    pj_bool(root, "", "reply_required", full, &reply_required, err) ||
	    check_attachments(root, err) ||
	    pj_text(root, "", "reason", !full, 1, 1000, PJ_LINES | PJ_NOBLANK, &reason, err))
		return -1;

	o->order_no = (char *)order_no;
	o->dispatch_seq = (uint32_t)seq;
	o->kind = (char *)kind;
	o->reply_required = reply_required != 0;
#define SET(field, v) if (v) o->field = (char *)(v)
	SET(source, source);
	SET(category, category);
	SET(category_code, code);
	SET(urgency, urgency);
	SET(region, region);
	SET(address, address);
	SET(lead_unit, lead);
	SET(reason, reason);
#undef SET
	out->channel = MAILROOM__CHANNEL__CHANNEL_HOTLINE;
	if (title)
		out->subject = (char *)title;
	if (content)
		out->body = (char *)content;
	if (category)
		out->category = (char *)category;
	if (has_citizen && (contact->name[0] || contact->phone[0]))
		out->contact = contact;
	out->order = o;
	return 0;
}

int pj_parse_order(const char *body, size_t len, json_t **root, Mailroom__SubmitReq *out,
                   Mailroom__HotlineOrder *order, Mailroom__Contact *contact,
                   struct pj_error *err)
{
	mailroom__submit_req__init(out);
	mailroom__hotline_order__init(order);
	mailroom__contact__init(contact);
	if (pj_load(body, len, root, err))
		return -1;
	if (parse_fields(*root, out, order, contact, err)) {
		pj_order_clear(order);
		json_decref(*root);
		*root = NULL;
		return -1;
	}
	return 0;
}

void pj_order_clear(Mailroom__HotlineOrder *order)
{
	free(order->co_units);
	order->co_units = NULL;
	order->n_co_units = 0;
}
