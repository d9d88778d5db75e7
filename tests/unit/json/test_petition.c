/* pj: POST /v1/petition/transfers validation (docs/petition-transfer.md). */
#include "pj.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FULL                                                                                   \
	"{\"petition_no\":\"XF320100-2026-000123\",\"forwarded_by\":\"市信访局\","                \
	"\"forwarded_at\":\"2026-12-07T09:00:00+08:00\",\"kind\":\"complaint\","                  \
	"\"title\":\"拖欠工资\",\"content\":\"公司拖欠三个月工资。\\n请处理。\","                   \
	"\"contact\":{\"name\":\"李四\",\"phone\":\"13800138000\"},\"region\":\"鼓楼区\"}"

static const char *parse(const char *body, Mailroom__SubmitReq *s, Mailroom__PetitionTransfer *p,
                         json_t **root)
{
	static struct pj_error err;
	static Mailroom__Contact c;   /* s->contact points here */

	if (pj_parse_petition(body, strlen(body), root, s, p, &c, &err) == 0)
		return "ok";
	cr_assert_null(*root);
	return err.code;
}

static const char *parse_with(const char *key, const char *value)
{
	json_t *o = json_loads(FULL, 0, NULL), *root = NULL;
	Mailroom__SubmitReq s;
	Mailroom__PetitionTransfer p;
	const char *code;
	char *text;

	cr_assert_not_null(o);
	if (value)
		json_object_set_new(o, key, json_loads(value, JSON_DECODE_ANY, NULL));
	else
		json_object_del(o, key);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	code = parse(text, &s, &p, &root);
	free(text);
	json_decref(root);
	return code;
}

Test(petition_json, a_full_transfer)
{
	Mailroom__SubmitReq s;
	Mailroom__PetitionTransfer p;
	json_t *root = NULL;

	cr_assert_str_eq(parse(FULL, &s, &p, &root), "ok");
	cr_expect_eq(s.channel, MAILROOM__CHANNEL__CHANNEL_PETITION);
	cr_expect_eq(s.petition, &p);
	cr_expect_str_eq(p.petition_no, "XF320100-2026-000123");
	cr_expect_str_eq(p.forwarded_by, "市信访局");
	cr_expect_eq(p.forwarded_ms, 1796605200000LL);
	cr_expect_str_eq(s.subject, "拖欠工资");
	cr_expect_str_eq(s.contact->phone, "13800138000");
	json_decref(root);
}

Test(petition_json, refusals)
{
	cr_expect_str_eq(parse_with("petition_no", NULL), "missing_field");
	cr_expect_str_eq(parse_with("petition_no", "\"XF 1\""), "invalid_field");
	cr_expect_str_eq(parse_with("petition_no", "\"\""), "invalid_field");
	cr_expect_str_eq(parse_with("forwarded_at", "\"2026-12-07\""), "invalid_field");
	cr_expect_str_eq(parse_with("kind", "\"gossip\""), "invalid_field");
	cr_expect_str_eq(parse_with("title", NULL), "missing_field");
	cr_expect_str_eq(parse_with("content", "\"  \""), "invalid_field");
	cr_expect_str_eq(parse_with("attachments", "[]"), "unknown_field");
	cr_expect_str_eq(parse_with("contact", "{\"phone\":\"123\"}"), "invalid_field");
	cr_expect_str_eq(parse_with("region", NULL), "ok");
	cr_expect_str_eq(parse_with("contact", NULL), "ok");
}
