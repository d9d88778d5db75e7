/* pj: identity documents (check digits) and POST /v1/disclosure-applications. */
#include "pb_disc.h"
#include "pj.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct pj_error last;
static Mailroom__SubmitReq sub;
static struct pj_disclosure disc;
static json_t *kept;

static void drop(void)
{
	json_decref(kept);
	kept = NULL;
}

/* "ok" (the request stays in sub/disc until the next call) or the code. */
static const char *parse(const char *body)
{
	json_t *root = (json_t *)1;

	drop();
	memset(&last, 0, sizeof(last));
	if (pj_parse_disclosure(body, strlen(body), &root, &sub, &disc, &last) == 0) {
		cr_assert_not_null(root);
		kept = root;
		return "ok";
	}
	cr_assert_null(root, "root must be NULL after a refusal");
	cr_assert(last.message[0], "a refusal says why");
	return last.code;
}

/* An application with one applicant field replaced: key "k":VALUE (VALUE
 * raw JSON; NULL leaves the field out). */
static char *app_with(const char *key, const char *value)
{
	static const char *keys[] = {"kind", "name", "id_type", "id_number", "phone", "email",
	                             "address"};
	static const char *vals[] = {"\"natural_person\"", "\"张三\"", "\"resident_id\"",
	                             "\"11010519491231002X\"", "\"13800000000\"",
	                             "\"a@example.cn\"", "\"北京市西城区某街1号\""};
	char *s = malloc(4096);
	size_t n = 0;

	cr_assert_not_null(s);
	n += (size_t)snprintf(s + n, 4096 - n, "{\"applicant\":{");
	int first = 1;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = vals[i];
		if (key && strcmp(key, keys[i]) == 0)
			v = value;
		if (!v)
			continue;
		n += (size_t)snprintf(s + n, 4096 - n, "%s\"%s\":%s", first ? "" : ",", keys[i], v);
		first = 0;
	}
	snprintf(s + n, 4096 - n,
	         "},\"description\":\"申请公开本机关2024年度道路维修经费预算及执行情况。\","
	         "\"form\":\"electronic\",\"delivery\":\"email\",\"submission_mode\":\"online\","
	         "\"purpose\":\"学术研究\"}");
	return s;
}

static const char *parse_app(const char *key, const char *value)
{
	char *s = app_with(key, value);
	const char *rc = parse(s);

	free(s);
	return rc;
}

/* The top level with one field replaced (NULL value: left out). */
static const char *parse_top(const char *key, const char *value)
{
	static const char *keys[] = {"description", "form", "delivery", "submission_mode",
	                             "purpose"};
	static const char *vals[] = {"\"申请公开某某文件\"", "\"paper\"", "\"post\"",
	                             "\"registered_mail\"", "\"用于诉讼\""};
	size_t cap = 64 * 1024;
	char *s = malloc(cap);
	size_t n = 0;
	const char *rc;

	cr_assert_not_null(s);
	n += (size_t)snprintf(s + n, cap - n,
	                      "{\"applicant\":{\"kind\":\"commercial_enterprise\",\"name\":\"某某有限公司\","
	                      "\"id_type\":\"uscc\",\"id_number\":\"91350100M000100Y43\","
	                      "\"address\":\"福州市某路1号\"}");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = vals[i];
		if (key && strcmp(key, keys[i]) == 0)
			v = value;
		if (v)
			n += (size_t)snprintf(s + n, cap - n, ",\"%s\":%s", keys[i], v);
	}
	snprintf(s + n, cap - n, "}");
	rc = parse(s);
	free(s);
	return rc;
}

/* "\"" + n copies of ch + "\"" */
static char *quoted(const char *ch, size_t n)
{
	size_t w = strlen(ch);
	char *s = malloc(n * w + 3);

	cr_assert_not_null(s);
	s[0] = '"';
	for (size_t i = 0; i < n; i++)
		memcpy(s + 1 + i * w, ch, w);
	s[1 + n * w] = '"';
	s[2 + n * w] = '\0';
	return s;
}

Test(identity, resident_id_check_digit, .fini = drop)
{
	/* Valid: the check digit by ISO 7064 MOD 11-2, X for 10. */
	cr_expect(pj_valid_resident_id("11010519491231002X"));
	cr_expect(pj_valid_resident_id("440308199003070013"));
	cr_expect(pj_valid_resident_id("31011519851201123X"));
	cr_expect(pj_valid_resident_id("110101200002290018"));   /* 29 Feb 2000 */

	cr_expect_not(pj_valid_resident_id("110105194912310021"), "wrong check digit");
	cr_expect_not(pj_valid_resident_id("440308199003070012"), "wrong check digit");
	cr_expect_not(pj_valid_resident_id("440308199003070031"), "two digits swapped");
	cr_expect_not(pj_valid_resident_id("11010519491231002x"), "lower-case x");
	cr_expect_not(pj_valid_resident_id("11010519491231002"), "17 characters");
	cr_expect_not(pj_valid_resident_id("11010519491231002X1"), "19 characters");
	cr_expect_not(pj_valid_resident_id("1101051949123100AX"), "a letter inside");
	cr_expect_not(pj_valid_resident_id("11010520030229001X"), "no 29 Feb in 2003");
	cr_expect_not(pj_valid_resident_id("11010120030229001X"), "no 29 Feb in 2003");
	cr_expect_not(pj_valid_resident_id("110101199013010012"), "month 13");
	cr_expect_not(pj_valid_resident_id("11010118991231001X"), "born before 1900");
	cr_expect_not(pj_valid_resident_id(""));
	cr_expect_not(pj_valid_resident_id(NULL));
}

Test(identity, uscc_check_character)
{
	/* The standard's own example, and codes of real registrations. */
	cr_expect(pj_valid_uscc("91350100M000100Y43"));
	cr_expect(pj_valid_uscc("91110000802100433B"));
	cr_expect(pj_valid_uscc("91440300708461136T"));
	cr_expect(pj_valid_uscc("12100000400000562M"));

	cr_expect_not(pj_valid_uscc("91350100M000100Y44"), "wrong check character");
	cr_expect_not(pj_valid_uscc("91110000802100433C"), "wrong check character");
	cr_expect_not(pj_valid_uscc("91350100M000010Y43"), "two characters swapped");
	cr_expect_not(pj_valid_uscc("91350100I000100Y43"), "I is not in the alphabet");
	cr_expect_not(pj_valid_uscc("91350100O000100Y43"), "O is not in the alphabet");
	cr_expect_not(pj_valid_uscc("91350100m000100y43"), "lower case");
	cr_expect_not(pj_valid_uscc("91350100M000100Y4"), "17 characters");
	cr_expect_not(pj_valid_uscc("91350100M000100Y433"), "19 characters");
	cr_expect_not(pj_valid_uscc(NULL));
}

Test(disclosure, maps_to_submit, .fini = drop)
{
	char *s = app_with(NULL, NULL);

	cr_assert_str_eq(parse(s), "ok", "%s", last.message);
	free(s);
	cr_expect_eq(sub.channel, MAILROOM__CHANNEL__CHANNEL_DISCLOSURE);
	cr_assert_not_null(sub.disclosure);
	cr_expect_eq(sub.disclosure, &disc.app);
	cr_expect_str_eq(sub.body, "申请公开本机关2024年度道路维修经费预算及执行情况。");
	cr_expect_str_eq(sub.subject, sub.body, "a short description is its own subject");
	cr_expect_str_eq(sub.disclosure->description, sub.body);
	cr_expect_str_eq(sub.disclosure->form, "electronic");
	cr_expect_str_eq(sub.disclosure->delivery, "email");
	cr_expect_str_eq(sub.disclosure->submission_mode, "online");
	cr_expect_str_eq(sub.disclosure->purpose, "学术研究");
	const Mailroom__Applicant *a = sub.disclosure->applicant;
	cr_assert_not_null(a);
	cr_expect_str_eq(a->kind, "natural_person");
	cr_expect_str_eq(a->name, "张三");
	cr_expect_str_eq(a->id_type, "resident_id");
	cr_expect_str_eq(a->id_number, "11010519491231002X");
	cr_expect_str_eq(a->address, "北京市西城区某街1号");
	cr_assert_not_null(a->contact);
	cr_expect_str_eq(a->contact->phone, "13800000000");
	cr_expect_str_eq(a->contact->email, "a@example.cn");
	cr_expect_null(sub.contact, "the applicant's contact travels inside the application");
	cr_expect_eq(sub.access_key_hash.len, 0, "the gateway adds the key hash");
}

Test(disclosure, subject_is_the_first_40_characters, .fini = drop)
{
	char body[1024];
	char *d = quoted("申", 50);

	snprintf(body, sizeof(body),
	         "{\"applicant\":{\"kind\":\"other_org\",\"name\":\"某协会\",\"id_type\":\"other\","
	         "\"id_number\":\"社证字第123号\",\"email\":\"x@example.org\"},\"description\":%s,"
	         "\"form\":\"paper\",\"delivery\":\"pickup\",\"submission_mode\":\"in_person\"}",
	         d);
	free(d);
	cr_assert_str_eq(parse(body), "ok", "%s", last.message);
	cr_expect_eq(strlen(sub.subject), 40 * 3, "40 characters of 3 bytes: %s", sub.subject);
	cr_expect_eq(strlen(sub.body), 50 * 3);
	cr_expect_eq(strncmp(sub.subject, sub.body, 120), 0);
	cr_expect_eq(sub.disclosure->purpose, protobuf_c_empty_string, "no purpose given");
	cr_expect_str_eq(sub.disclosure->applicant->contact->phone, "", "no phone given");

	/* Leading white space does not make a blank subject. */
	snprintf(body, sizeof(body),
	         "{\"applicant\":{\"kind\":\"other_org\",\"name\":\"某协会\",\"id_type\":\"other\","
	         "\"id_number\":\"X-1\",\"phone\":\"010-12345678\"},\"description\":\"\\n\\n  请公开A\","
	         "\"form\":\"paper\",\"delivery\":\"pickup\",\"submission_mode\":\"fax\"}");
	cr_assert_str_eq(parse(body), "ok", "%s", last.message);
	cr_expect_str_eq(sub.subject, "请公开A");
}

Test(disclosure, applicant_fields, .fini = drop)
{
	char *longname = quoted("名", 101), *name100 = quoted("名", 100);

	cr_expect_str_eq(parse_app("kind", "\"commercial_enterprise\""), "ok");
	cr_expect_str_eq(parse_app("kind", "\"research_institution\""), "ok");
	cr_expect_str_eq(parse_app("kind", "\"social_welfare_org\""), "ok");
	cr_expect_str_eq(parse_app("kind", "\"legal_service_org\""), "ok");
	cr_expect_str_eq(parse_app("kind", "\"other_org\""), "ok");
	cr_expect_str_eq(parse_app("kind", "\"person\""), "invalid_field");
	cr_expect(strstr(last.message, "applicant.kind") != NULL, "%s", last.message);
	cr_expect_str_eq(parse_app("kind", NULL), "missing_field");
	cr_expect_str_eq(parse_app("kind", "null"), "missing_field");
	cr_expect_str_eq(parse_app("kind", "1"), "invalid_field");

	cr_expect_str_eq(parse_app("name", name100), "ok");
	cr_expect_str_eq(parse_app("name", longname), "invalid_field");
	cr_expect_str_eq(parse_app("name", "\"\""), "invalid_field");
	cr_expect_str_eq(parse_app("name", "\"   \""), "invalid_field");
	cr_expect_str_eq(parse_app("name", "\"张\\n三\""), "invalid_field");
	cr_expect_str_eq(parse_app("name", NULL), "missing_field");
	free(longname);
	free(name100);

	cr_expect_str_eq(parse_app("id_type", "\"driver_licence\""), "invalid_field");
	cr_expect_str_eq(parse_app("id_type", NULL), "missing_field");
	cr_expect_str_eq(parse_app("id_number", NULL), "missing_field");
	cr_expect_str_eq(parse_app("id_number", "\"\""), "invalid_field");
	cr_expect_str_eq(parse_app("id_number", "\"110105194912310021\""), "invalid_field");
	cr_expect(strstr(last.message, "applicant.id_number") != NULL, "%s", last.message);
	cr_expect_str_eq(parse_app("id_number", "\"11010519491231002\""), "invalid_field");

	cr_expect_str_eq(parse_app("phone", "\"0591-87654321\""), "ok");
	cr_expect_str_eq(parse_app("phone", "\"12345\""), "invalid_field");
	cr_expect(strstr(last.message, "applicant.phone") != NULL, "%s", last.message);
	cr_expect_str_eq(parse_app("email", "\"not-an-address\""), "invalid_field");
	cr_expect(strstr(last.message, "applicant.email") != NULL, "%s", last.message);
	cr_expect_str_eq(parse_app("address", "\"\""), "invalid_field");
	cr_expect_str_eq(parse_app("address", "\" \""), "invalid_field");

}

Test(disclosure, identity_by_type, .fini = drop)
{
	char body[1024];
	static const struct {
		const char *type, *number, *want;
	} cases[] = {
		{"uscc", "91110000802100433B", "ok"},
		{"uscc", "91110000802100433C", "invalid_field"},
		{"uscc", "11010519491231002X", "invalid_field"},
		{"resident_id", "91110000802100433B", "invalid_field"},
		{"resident_id", "440308199003070013", "ok"},
		{"passport", "E12345678", "ok"},
		{"passport", "E12", "invalid_field"},
		{"passport", "E1234-5678", "invalid_field"},
		{"other", "军字第0012345号", "ok"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(body, sizeof(body),
		         "{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"李四\",\"id_type\":\"%s\","
		         "\"id_number\":\"%s\",\"phone\":\"+8613912345678\"},\"description\":\"请公开\","
		         "\"form\":\"paper\",\"delivery\":\"post\",\"submission_mode\":\"ordinary_mail\"}",
		         cases[i].type, cases[i].number);
		cr_expect_str_eq(parse(body), cases[i].want, "%s %s: %s", cases[i].type,
		                 cases[i].number, last.message);
	}
}

Test(disclosure, a_way_to_reach_the_applicant, .fini = drop)
{
	char body[1024];

	snprintf(body, sizeof(body),
	         "{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"李四\",\"id_type\":\"passport\","
	         "\"id_number\":\"E12345678\"},\"description\":\"请公开\",\"form\":\"paper\","
	         "\"delivery\":\"post\",\"submission_mode\":\"online\"}");
	cr_expect_str_eq(parse(body), "missing_field");
	cr_expect(strstr(last.message, "phone, email or address") != NULL, "%s", last.message);
	cr_expect_str_eq(parse_app("phone", NULL), "ok");
	cr_expect_str_eq(parse_app("email", NULL), "ok");
	cr_expect_str_eq(parse_app("address", NULL), "ok");
}

Test(disclosure, application_fields, .fini = drop)
{
	char *d5000 = quoted("文", 5000), *d5001 = quoted("文", 5001);
	char *p500 = quoted("用", 500), *p501 = quoted("用", 501);

	cr_expect_str_eq(parse_top(NULL, NULL), "ok", "%s", last.message);
	cr_expect_str_eq(parse_top("description", d5000), "ok", "%s", last.message);
	cr_expect_str_eq(parse_top("description", d5001), "invalid_field");
	cr_expect(strstr(last.message, "description: 1-5000") != NULL, "%s", last.message);
	cr_expect_str_eq(parse_top("description", "\"\""), "invalid_field");
	cr_expect_str_eq(parse_top("description", "\" \\n \""), "invalid_field");
	cr_expect_str_eq(parse_top("description", "\"第一行\\n第二行\""), "ok");
	cr_expect_str_eq(parse_top("description", "\"a\\u0007b\""), "invalid_field");
	cr_expect_str_eq(parse_top("description", NULL), "missing_field");
	cr_expect_str_eq(parse_top("description", "[]"), "invalid_field");

	cr_expect_str_eq(parse_top("form", "\"electronic\""), "ok");
	cr_expect_str_eq(parse_top("form", "\"fax\""), "invalid_field");
	cr_expect_str_eq(parse_top("form", NULL), "missing_field");
	static const char *deliveries[] = {"\"post\"", "\"pickup\"", "\"email\"", "\"online\""};
	for (size_t i = 0; i < 4; i++)
		cr_expect_str_eq(parse_top("delivery", deliveries[i]), "ok");
	cr_expect_str_eq(parse_top("delivery", "\"courier\""), "invalid_field");
	cr_expect_str_eq(parse_top("delivery", NULL), "missing_field");
	static const char *modes[] = {"\"online\"", "\"in_person\"", "\"registered_mail\"",
	                              "\"ordinary_mail\"", "\"fax\""};
	for (size_t i = 0; i < 5; i++)
		cr_expect_str_eq(parse_top("submission_mode", modes[i]), "ok");
	cr_expect_str_eq(parse_top("submission_mode", "\"email\""), "invalid_field");
	cr_expect_str_eq(parse_top("submission_mode", NULL), "missing_field");

	cr_expect_str_eq(parse_top("purpose", NULL), "ok");
	cr_expect_str_eq(parse_top("purpose", "null"), "ok");
	cr_expect_str_eq(parse_top("purpose", p500), "ok");
	cr_expect_str_eq(parse_top("purpose", p501), "invalid_field");
	cr_expect_str_eq(parse_top("purpose", "\"\""), "invalid_field");
	free(d5000);
	free(d5001);
	free(p500);
	free(p501);
}

Test(disclosure, unknown_fields_and_shapes, .fini = drop)
{
	cr_expect_str_eq(parse("{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"李四\","
	                       "\"id_type\":\"passport\",\"id_number\":\"E12345678\",\"phone\":\"13800000000\"},"
	                       "\"description\":\"请公开\",\"form\":\"paper\",\"delivery\":\"post\","
	                       "\"submission_mode\":\"online\",\"channel\":\"disclosure\"}"),
	                 "unknown_field");
	cr_expect(strstr(last.message, "channel") != NULL, "%s", last.message);
	cr_expect_str_eq(parse("{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"李四\","
	                       "\"id_type\":\"passport\",\"id_number\":\"E12345678\",\"phone\":\"13800000000\","
	                       "\"gender\":\"m\"},\"description\":\"请公开\",\"form\":\"paper\","
	                       "\"delivery\":\"post\",\"submission_mode\":\"online\"}"),
	                 "unknown_field");
	cr_expect(strstr(last.message, "applicant.gender") != NULL, "%s", last.message);
	cr_expect_str_eq(parse_app("kind", "\"natural_person\",\"contact\":{}"), "unknown_field");
	cr_expect_str_eq(parse("{\"applicant\":\"张三\",\"description\":\"请公开\",\"form\":\"paper\","
	                       "\"delivery\":\"post\",\"submission_mode\":\"online\"}"),
	                 "invalid_field");
	cr_expect_str_eq(parse("{\"description\":\"请公开\",\"form\":\"paper\",\"delivery\":\"post\","
	                       "\"submission_mode\":\"online\"}"),
	                 "missing_field");
	cr_expect_str_eq(parse("[]"), "invalid_json");
	cr_expect_str_eq(parse("{\"applicant\":"), "invalid_json");
	cr_expect_str_eq(parse("{\"form\":\"paper\",\"form\":\"paper\"}"), "invalid_json");
	cr_expect_str_eq(parse("{\"description\":\"\xff\"}"), "invalid_utf8");
}

Test(disclosure, outcome_codes)
{
	size_t n = 0;

	while (pb_disc_outcomes[n])
		n++;
	cr_expect_eq(n, 21, "the 21 statutory rows");
	cr_expect(pj_outcome_valid("partly_disclosed"));
	cr_expect(pj_outcome_valid("other.fee_unpaid"));
	cr_expect_not(pj_outcome_valid("withheld"));
	cr_expect_not(pj_outcome_valid("Disclosed"));
	cr_expect_not(pj_outcome_valid(NULL));
}

Test(disclosure, notices_default_on_false_declines, .fini = drop)
{
	cr_assert_str_eq(parse_top("purpose", NULL), "ok");
	cr_expect_not(sub.notices_off);
	cr_assert_str_eq(parse_top("purpose", "\"用于诉讼\",\"notices\":false"), "ok");
	cr_expect(sub.notices_off);
	cr_expect_str_eq(parse_top("purpose", "\"用于诉讼\",\"notices\":0"), "invalid_field");
}
