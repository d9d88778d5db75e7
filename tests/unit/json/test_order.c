/* pj: POST /v1/hotline/orders validation (hotline-12345.md "Order fields"). */
#include "pj.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FULL_ORDER                                                                             \
	"{\"order_no\":\"GD-20251126-0001\",\"dispatch_seq\":1,\"kind\":\"dispatch\","            \
	"\"accepted_at\":\"2025-11-26T09:30:00+08:00\",\"dispatched_at\":\"2025-11-26T10:00:00+08:00\"," \
	"\"source\":\"phone\",\"category\":\"complaint\",\"category_code\":\"030201\","             \
	"\"urgency\":\"normal\",\"title\":\"小区噪音扰民\",\"content\":\"夜间施工噪音大\","         \
	"\"citizen\":{\"name\":\"李四\",\"phone\":\"13900139000\",\"confidential\":false},"          \
	"\"region\":\"440305\",\"address\":\"南山区某路1号\",\"lead_unit\":\"区城管局\","            \
	"\"co_units\":[\"区住建局\",\"街道办\"],\"sign_due_at\":\"2025-11-26T12:00:00+08:00\","       \
	"\"finish_due_at\":\"2025-12-03T18:00:00+08:00\",\"reply_required\":true,"                 \
	"\"attachments\":[{\"name\":\"photo.jpg\",\"url\":\"https://12345.example.cn/f/1\","        \
	"\"sha256\":\"5347a635a60b777ae9bc2448e96ff31dae848537f9fcd1aeb5b059855a2f832d\","          \
	"\"size\":1024}]}"

static struct pj_error last;

static const char *parse(const char *body)
{
	Mailroom__SubmitReq s;
	Mailroom__HotlineOrder o;
	Mailroom__Contact c;
	json_t *root = (json_t *)1;

	memset(&last, 0, sizeof(last));
	if (pj_parse_order(body, strlen(body), &root, &s, &o, &c, &last) == 0) {
		pj_order_clear(&o);
		json_decref(root);
		return "ok";
	}
	cr_assert_null(root);
	cr_assert_null(o.co_units);
	return last.code;
}

/* FULL_ORDER with key removed (value NULL) or set to the JSON text value. */
static const char *parse_with(const char *key, const char *value)
{
	json_t *o = json_loads(FULL_ORDER, 0, NULL);
	char *text;
	const char *code;

	cr_assert_not_null(o);
	if (value) {
		json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
		cr_assert_not_null(v, "bad test value %s", value);
		json_object_set_new(o, key, v);
	} else {
		json_object_del(o, key);
	}
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	code = parse(text);
	free(text);
	return code;
}

/* The same for a field of citizen. */
static const char *parse_citizen_with(const char *key, const char *value)
{
	json_t *o = json_loads(FULL_ORDER, 0, NULL), *c = json_object_get(o, "citizen");
	char *text;
	const char *code;

	if (value)
		json_object_set_new(c, key, json_loads(value, JSON_DECODE_ANY, NULL));
	else
		json_object_del(c, key);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	code = parse(text);
	free(text);
	return code;
}

Test(order, full_dispatch_maps_everything)
{
	Mailroom__SubmitReq s;
	Mailroom__HotlineOrder o;
	Mailroom__Contact c;
	struct pj_error err;
	json_t *root;

	cr_assert_eq(pj_parse_order(FULL_ORDER, strlen(FULL_ORDER), &root, &s, &o, &c, &err), 0,
	             "%s: %s", err.code, err.message);
	cr_assert_eq(s.channel, MAILROOM__CHANNEL__CHANNEL_HOTLINE);
	cr_assert_str_eq(s.subject, "小区噪音扰民");
	cr_assert_str_eq(s.body, "夜间施工噪音大");
	cr_assert_str_eq(s.category, "complaint");
	cr_assert_eq(s.order, &o);
	cr_assert_eq(s.contact, &c);
	cr_assert_str_eq(c.name, "李四");
	cr_assert_str_eq(c.phone, "13900139000");
	cr_assert_str_eq(o.order_no, "GD-20251126-0001");
	cr_assert_eq(o.dispatch_seq, 1);
	cr_assert_str_eq(o.kind, "dispatch");
	cr_assert_eq(o.accepted_ms, 1764120600000LL);
	cr_assert_eq(o.dispatched_ms, 1764122400000LL);
	cr_assert_str_eq(o.source, "phone");
	cr_assert_str_eq(o.category_code, "030201");
	cr_assert_str_eq(o.urgency, "normal");
	cr_assert_not(o.confidential);
	cr_assert_str_eq(o.region, "440305");
	cr_assert_str_eq(o.address, "南山区某路1号");
	cr_assert_str_eq(o.lead_unit, "区城管局");
	cr_assert_eq(o.n_co_units, 2);
	cr_assert_str_eq(o.co_units[1], "街道办");
	cr_assert_eq(o.sign_due_ms, 1764129600000LL);
	cr_assert(o.reply_required);
	cr_assert_str_eq(o.reason, "");
	pj_order_clear(&o);
	cr_assert_null(o.co_units);
	json_decref(root);
}

Test(order, revoke_minimal_shape)
{
	Mailroom__SubmitReq s;
	Mailroom__HotlineOrder o;
	Mailroom__Contact c;
	struct pj_error err;
	json_t *root;
	const char *body = "{\"order_no\":\"GD-1\",\"dispatch_seq\":2,\"kind\":\"revoke\","
	                   "\"dispatched_at\":\"2025-11-26T10:00:00Z\",\"reason\":\"市民撤诉\"}";

	cr_assert_eq(pj_parse_order(body, strlen(body), &root, &s, &o, &c, &err), 0, "%s: %s",
	             err.code, err.message);
	cr_assert_eq(s.channel, MAILROOM__CHANNEL__CHANNEL_HOTLINE);
	cr_assert_str_eq(o.kind, "revoke");
	cr_assert_eq(o.dispatch_seq, 2);
	cr_assert_str_eq(o.reason, "市民撤诉");
	cr_assert_eq(o.dispatched_ms, 1764151200000LL);
	cr_assert_str_eq(s.subject, "");
	cr_assert_null(s.contact);
	cr_assert_eq(o.n_co_units, 0);
	pj_order_clear(&o);
	json_decref(root);
}

Test(order, urge_and_revoke_need_reason)
{
	cr_assert_str_eq(parse("{\"order_no\":\"A1\",\"dispatch_seq\":1,\"kind\":\"urge\","
	                       "\"dispatched_at\":\"2025-11-26T10:00:00+08:00\",\"reason\":\"催办\"}"),
	                 "ok");
	cr_assert_str_eq(parse("{\"order_no\":\"A1\",\"dispatch_seq\":1,\"kind\":\"revoke\","
	                       "\"dispatched_at\":\"2025-11-26T10:00:00+08:00\"}"),
	                 "missing_field");
	cr_assert(strstr(last.message, "reason"));
	cr_assert_str_eq(parse("{\"order_no\":\"A1\",\"dispatch_seq\":1,\"kind\":\"urge\","
	                       "\"reason\":\"催办\"}"),
	                 "missing_field");
	cr_assert(strstr(last.message, "dispatched_at"));
}

Test(order, each_dispatch_field_required)
{
	static const char *required[] = {
		"order_no", "dispatch_seq", "kind", "accepted_at", "dispatched_at", "source",
		"category", "category_code", "urgency", "title", "content", "citizen", "region",
		"lead_unit", "sign_due_at", "finish_due_at", "reply_required",
	};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		cr_assert_str_eq(parse_with(required[i], NULL), "missing_field", "%s", required[i]);
		cr_assert(strstr(last.message, required[i]), "%s: %s", required[i], last.message);
	}
	/* Optional ones. */
	cr_assert_str_eq(parse_with("address", NULL), "ok");
	cr_assert_str_eq(parse_with("co_units", NULL), "ok");
	cr_assert_str_eq(parse_with("attachments", NULL), "ok");
	cr_assert_str_eq(parse_citizen_with("name", NULL), "ok");
	cr_assert_str_eq(parse_citizen_with("phone", NULL), "ok");
	cr_assert_str_eq(parse_citizen_with("confidential", NULL), "missing_field");
	cr_assert(strstr(last.message, "citizen.confidential"));
}

Test(order, invalid_values)
{
	static const struct {
		const char *key, *value;
	} bad[] = {
		{"order_no", "\"GD_1\""},
		{"order_no", "\"\""},
		{"order_no", "\"A12345678901234567890123456789012345678901\""},
		{"order_no", "12"},
		{"dispatch_seq", "0"},
		{"dispatch_seq", "-1"},
		{"dispatch_seq", "\"1\""},
		{"dispatch_seq", "1.5"},
		{"dispatch_seq", "1.0"},
		{"dispatch_seq", "4294967296"},
		{"kind", "\"cancel\""},
		{"accepted_at", "\"2025-11-26 10:00:00\""},
		{"accepted_at", "\"2025-11-26T10:00:00\""},
		{"accepted_at", "1764122400"},
		{"dispatched_at", "\"2025-13-26T10:00:00+08:00\""},
		{"source", "\"fax\""},
		{"category", "\"other\""},
		{"category_code", "\"12345678901234567\""},
		{"urgency", "\"high\""},
		{"title", "\"\""},
		{"content", "7"},
		{"citizen", "\"李四\""},
		{"region", "\"44030\""},
		{"region", "\"44030a\""},
		{"region", "440305"},
		{"lead_unit", "[]"},
		{"co_units", "\"区住建局\""},
		{"co_units", "[1]"},
		{"co_units", "[\"\"]"},
		{"sign_due_at", "\"tomorrow\""},
		{"finish_due_at", "\"\""},
		{"reply_required", "\"true\""},
		{"reply_required", "1"},
		{"attachments", "{}"},
		{"attachments", "[1]"},
		{"attachments", "[{\"name\":\"a\",\"url\":\"ftp://x\",\"sha256\":"
		                "\"5347a635a60b777ae9bc2448e96ff31dae848537f9fcd1aeb5b059855a2f832d\","
		                "\"size\":1}]"},
		{"attachments", "[{\"name\":\"a\",\"url\":\"https://x\",\"sha256\":\"00\",\"size\":1}]"},
		{"attachments", "[{\"name\":\"a\",\"url\":\"https://x\",\"sha256\":"
		                "\"5347a635a60b777ae9bc2448e96ff31dae848537f9fcd1aeb5b059855a2f832d\","
		                "\"size\":-1}]"},
		{"reason", "\"\""},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_str_eq(parse_with(bad[i].key, bad[i].value), "invalid_field", "%s=%s: %s",
		                 bad[i].key, bad[i].value, last.message);
		cr_assert(strstr(last.message, bad[i].key), "%s: %s", bad[i].key, last.message);
	}
	cr_assert_str_eq(parse_with("attachments", "[{\"name\":\"a\",\"sha256\":\"00\",\"size\":1}]"),
	                 "missing_field");
	cr_assert(strstr(last.message, "attachments[0].url"), "%s", last.message);
}

Test(order, text_lengths)
{
	char *t = malloc(201 * 3 + 3);
	char *c = malloc(10001 * 3 + 3);

	strcpy(t, "\"");
	for (int i = 0; i < 200; i++)
		strcat(t, "题");
	strcat(t, "\"");
	cr_assert_str_eq(parse_with("title", t), "ok");
	t[strlen(t) - 1] = '\0';
	strcat(t, "题\"");
	cr_assert_str_eq(parse_with("title", t), "invalid_field");

	char *p = c;
	*p++ = '"';
	for (int i = 0; i < 10000; i++)
		memcpy(p, "文", 3), p += 3;
	strcpy(p, "\"");
	cr_assert_str_eq(parse_with("content", c), "ok");
	strcpy(p, "文\"");
	cr_assert_str_eq(parse_with("content", c), "invalid_field");
	free(t);
	free(c);
}

Test(order, citizen_fields)
{
	cr_assert_str_eq(parse_citizen_with("confidential", "\"yes\""), "invalid_field");
	cr_assert_str_eq(parse_citizen_with("phone", "\"12345\""), "invalid_field");
	cr_assert(strstr(last.message, "citizen.phone"));
	cr_assert_str_eq(parse_citizen_with("phone", "\"0755-12345678\""), "ok");
	cr_assert_str_eq(parse_citizen_with("nickname", "\"x\""), "unknown_field");
	cr_assert(strstr(last.message, "citizen.nickname"));
}

Test(order, confidential_citizen)
{
	Mailroom__SubmitReq s;
	Mailroom__HotlineOrder o;
	Mailroom__Contact c;
	struct pj_error err;
	json_t *root, *doc = json_loads(FULL_ORDER, 0, NULL);
	char *text;

	json_object_set_new(json_object_get(doc, "citizen"), "confidential", json_true());
	text = json_dumps(doc, JSON_COMPACT);
	cr_assert_eq(pj_parse_order(text, strlen(text), &root, &s, &o, &c, &err), 0);
	cr_assert(o.confidential);
	/* Still sent: the router seals it and withholds it from handlers. */
	cr_assert_eq(s.contact, &c);
	pj_order_clear(&o);
	json_decref(root);
	json_decref(doc);
	free(text);
}

Test(order, unknown_fields)
{
	cr_assert_str_eq(parse_with("priority", "1"), "unknown_field");
	cr_assert(strstr(last.message, "priority"));
	cr_assert_str_eq(parse_with("attachments",
	                            "[{\"name\":\"a\",\"url\":\"https://x\",\"sha256\":"
	                            "\"5347a635a60b777ae9bc2448e96ff31dae848537f9fcd1aeb5b059855a2f832d\","
	                            "\"size\":1,\"mime\":\"image/jpeg\"}]"),
	                 "unknown_field");
	cr_assert(strstr(last.message, "attachments[0].mime"), "%s", last.message);
}

Test(order, json_and_utf8_errors)
{
	cr_assert_str_eq(parse("{"), "invalid_json");
	cr_assert_str_eq(parse("[]"), "invalid_json");
	cr_assert_str_eq(parse("{\"order_no\":\"A\xff\"}"), "invalid_utf8");
	cr_assert_str_eq(parse("{\"order_no\":\"A1\",\"order_no\":\"A2\"}"), "invalid_json");
}

Test(order, failure_after_units_frees_them)
{
	/* co_units parsed, then a later field fails: nothing may leak. */
	cr_assert_str_eq(parse_with("reply_required", "\"no\""), "invalid_field");
}
