/* pj: UTF-8, phone and e-mail rules, and POST /v1/messages validation. */
#include "pj.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct pj_error last;

/* "ok" or the refusal code; *root is checked to be NULL on refusal. */
static const char *parse_n(const char *body, size_t len)
{
	Mailroom__SubmitReq s;
	Mailroom__Contact c;
	json_t *root = (json_t *)1;

	memset(&last, 0, sizeof(last));
	if (pj_parse_message(body, len, &root, &s, &c, &last) == 0) {
		cr_assert_not_null(root);
		json_decref(root);
		return "ok";
	}
	cr_assert_null(root, "root must be NULL after a refusal");
	cr_assert(last.message[0], "a refusal says why");
	return last.code;
}

static const char *parse(const char *body)
{
	return parse_n(body, strlen(body));
}

/* A string of n copies of a (UTF-8) character. */
static char *repeat(const char *ch, size_t n)
{
	size_t w = strlen(ch);
	char *s = malloc(n * w + 1);

	cr_assert_not_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * w, ch, w);
	s[n * w] = '\0';
	return s;
}

static char *msg_with(const char *subject, const char *body)
{
	size_t n = strlen(subject) + strlen(body) + 100;
	char *s = malloc(n);

	cr_assert_not_null(s);
	snprintf(s, n, "{\"channel\":\"mailbox\",\"subject\":\"%s\",\"body\":\"%s\"}", subject, body);
	return s;
}

#define OK_MSG "{\"channel\":\"mailbox\",\"subject\":\"路灯坏了\",\"body\":\"请修理\"}"

Test(utf8, counts_code_points)
{
	cr_assert_eq(pj_utf8_chars("", 0), 0);
	cr_assert_eq(pj_utf8_chars("abc", 3), 3);
	cr_assert_eq(pj_utf8_chars("中文", 6), 2);
	cr_assert_eq(pj_utf8_chars("\xf0\x9f\x98\x80", 4), 1);   /* U+1F600 */
	cr_assert_eq(pj_utf8_chars("\xc2\xa9x", 3), 2);
}

Test(utf8, refuses_invalid)
{
	static const char *bad[] = {
		"\xc0\xaf",           /* overlong '/' */
		"\xe0\x80\xaf",       /* overlong, 3 bytes */
		"\xf0\x80\x80\xaf",   /* overlong, 4 bytes */
		"\xed\xa0\x80",       /* U+D800, a surrogate */
		"\xed\xbf\xbf",       /* U+DFFF */
		"\xe4\xb8",           /* truncated 中 */
		"\xff",
		"\xfe",
		"\x80",               /* lone continuation */
		"\xf4\x90\x80\x80",   /* beyond U+10FFFF */
		"\xf5\x80\x80\x80",
		"a\xe4\xb8" "b",      /* continuation missing mid-string */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(pj_utf8_chars(bad[i], strlen(bad[i])), -1, "case %zu", i);
}

Test(message, valid_minimal_maps_fields)
{
	Mailroom__SubmitReq s;
	Mailroom__Contact c;
	struct pj_error err;
	json_t *root;
	const char *body = "{\"channel\":\"complaint\",\"subject\":\"噪音\",\"body\":\"夜间施工\"}";

	cr_assert_eq(pj_parse_message(body, strlen(body), &root, &s, &c, &err), 0, "%s",
	             err.message);
	cr_assert_eq(s.channel, MAILROOM__CHANNEL__CHANNEL_COMPLAINT);
	cr_assert_str_eq(s.subject, "噪音");
	cr_assert_str_eq(s.body, "夜间施工");
	cr_assert_str_eq(s.category, "");
	cr_assert_null(s.contact);
	cr_assert_null(s.order);
	json_decref(root);
}

Test(message, valid_full_maps_contact)
{
	Mailroom__SubmitReq s;
	Mailroom__Contact c;
	struct pj_error err;
	json_t *root;
	const char *body = "{\"channel\":\"consultation\",\"subject\":\"社保\",\"body\":\"如何办理\","
	                   "\"category\":\"social-security\",\"contact\":{\"name\":\"张三\","
	                   "\"phone\":\"13800138000\",\"email\":\"zhang@example.cn\"}}";

	cr_assert_eq(pj_parse_message(body, strlen(body), &root, &s, &c, &err), 0, "%s",
	             err.message);
	cr_assert_eq(s.channel, MAILROOM__CHANNEL__CHANNEL_CONSULTATION);
	cr_assert_str_eq(s.category, "social-security");
	cr_assert_eq(s.contact, &c);
	cr_assert_str_eq(c.name, "张三");
	cr_assert_str_eq(c.phone, "13800138000");
	cr_assert_str_eq(c.email, "zhang@example.cn");
	json_decref(root);
}

Test(message, channels)
{
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\"}"), "ok");
	cr_assert_str_eq(parse("{\"channel\":\"consultation\",\"subject\":\"a\",\"body\":\"b\"}"), "ok");
	cr_assert_str_eq(parse("{\"channel\":\"complaint\",\"subject\":\"a\",\"body\":\"b\"}"), "ok");
	cr_assert_str_eq(parse("{\"channel\":\"hotline\",\"subject\":\"a\",\"body\":\"b\"}"),
	                 "invalid_field");
	cr_assert_str_eq(parse("{\"channel\":\"MAILBOX\",\"subject\":\"a\",\"body\":\"b\"}"),
	                 "invalid_field");
	cr_assert_str_eq(parse("{\"channel\":\"\",\"subject\":\"a\",\"body\":\"b\"}"),
	                 "invalid_field");
	cr_assert(strstr(last.message, "channel"));
}

Test(message, missing_fields)
{
	cr_assert_str_eq(parse("{\"subject\":\"a\",\"body\":\"b\"}"), "missing_field");
	cr_assert(strstr(last.message, "channel"));
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"body\":\"b\"}"), "missing_field");
	cr_assert(strstr(last.message, "subject"));
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\"}"), "missing_field");
	cr_assert(strstr(last.message, "body"));
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":null,\"body\":\"b\"}"),
	                 "missing_field");
	cr_assert_str_eq(parse("{}"), "missing_field");
}

Test(message, subject_length_in_characters)
{
	char *s200 = repeat("中", 200), *s201 = repeat("中", 201);
	char *ok = msg_with(s200, "b"), *bad = msg_with(s201, "b");

	cr_assert_str_eq(parse(ok), "ok");
	cr_assert_str_eq(parse(bad), "invalid_field");
	cr_assert(strstr(last.message, "subject"));
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"\",\"body\":\"b\"}"),
	                 "invalid_field");
	free(s200), free(s201), free(ok), free(bad);
}

Test(message, body_length_in_characters)
{
	char *b10000 = repeat("文", 10000), *b10001 = repeat("文", 10001);
	char *ok = msg_with("a", b10000), *bad = msg_with("a", b10001);

	cr_assert_str_eq(parse(ok), "ok");
	cr_assert_str_eq(parse(bad), "invalid_field");
	cr_assert(strstr(last.message, "body"));
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"\"}"),
	                 "invalid_field");
	free(b10000), free(b10001), free(ok), free(bad);
}

Test(message, control_characters)
{
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\\nb\\tc\\r\",\"body\":\"b\"}"),
	                 "ok");
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\\u0001\",\"body\":\"b\"}"),
	                 "invalid_field");
	cr_assert(strstr(last.message, "subject"));
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\\u001b[31m\",\"body\":\"b\"}"),
	                 "invalid_field");
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\\u007f\",\"body\":\"b\"}"),
	                 "invalid_field");
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\\u0085\",\"body\":\"b\"}"),
	                 "invalid_field");
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"x\\u0007\"}"),
	                 "invalid_field");
	/* Single-line fields take no line breaks either. */
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\","
	                       "\"category\":\"x\\ny\"}"),
	                 "invalid_field");
}

Test(message, blank_text_refused)
{
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"   \",\"body\":\"b\"}"),
	                 "invalid_field");
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\" \\n \"}"),
	                 "invalid_field");
	/* Nothing is stripped: leading spaces stay and are fine. */
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"  a\",\"body\":\"b \"}"),
	                 "ok");
}

Test(message, category)
{
	char *c64 = repeat("类", 64), *c65 = repeat("类", 65);
	char buf[1024];

	snprintf(buf, sizeof(buf),
	         "{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\",\"category\":\"%s\"}", c64);
	cr_assert_str_eq(parse(buf), "ok");
	snprintf(buf, sizeof(buf),
	         "{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\",\"category\":\"%s\"}", c65);
	cr_assert_str_eq(parse(buf), "invalid_field");
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\","
	                       "\"category\":7}"),
	                 "invalid_field");
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\","
	                       "\"category\":null}"),
	                 "ok");
	free(c64), free(c65);
}

Test(message, unknown_fields)
{
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\",\"x\":1}"),
	                 "unknown_field");
	cr_assert(strstr(last.message, "x"));
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\","
	                       "\"contact\":{\"nickname\":\"z\"}}"),
	                 "unknown_field");
	cr_assert(strstr(last.message, "contact.nickname"), "%s", last.message);
	/* A long name is cut at a character boundary: the message stays UTF-8. */
	char *name = repeat("键", 30), buf[256];
	snprintf(buf, sizeof(buf), "{\"%s\":1}", name);
	cr_assert_str_eq(parse(buf), "unknown_field");
	cr_assert_geq(pj_utf8_chars(last.message, strlen(last.message)), 1);
	cr_assert(strstr(last.message, ": unknown field"));
	free(name);
	/* Reported even when a required field is missing as well. */
	cr_assert_str_eq(parse("{\"Subject\":\"a\"}"), "unknown_field");
}

Test(message, wrong_types)
{
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":1,\"body\":\"b\"}"),
	                 "invalid_field");
	cr_assert_str_eq(parse("{\"channel\":[\"mailbox\"],\"subject\":\"a\",\"body\":\"b\"}"),
	                 "invalid_field");
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":true}"),
	                 "invalid_field");
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\","
	                       "\"contact\":\"13800138000\"}"),
	                 "invalid_field");
	cr_assert(strstr(last.message, "contact"));
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\","
	                       "\"contact\":{\"name\":5}}"),
	                 "invalid_field");
	cr_assert(strstr(last.message, "contact.name"));
}

Test(message, invalid_json)
{
	cr_assert_str_eq(parse(""), "invalid_json");
	cr_assert_str_eq(parse("{"), "invalid_json");
	cr_assert_str_eq(parse("[]"), "invalid_json");
	cr_assert_str_eq(parse("\"text\""), "invalid_json");
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\"} trailing"), "invalid_json");
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"channel\":\"complaint\","
	                       "\"subject\":\"a\",\"body\":\"b\"}"),
	                 "invalid_json");
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\\u0000b\",\"body\":\"b\"}"),
	                 "invalid_json");
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"\\ud800\",\"body\":\"b\"}"),
	                 "invalid_json");
	/* A raw NUL byte is valid UTF-8 but not JSON. */
	cr_assert_str_eq(parse_n("{\"channel\":\"mailbox\"\0}", 22), "invalid_json");
}

Test(message, invalid_utf8)
{
	static const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80", "\xe4\xb8", "\xff"};
	char buf[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"channel\":\"mailbox\",\"subject\":\"a%s\",\"body\":\"b\"}",
		         bad[i]);
		cr_assert_str_eq(parse(buf), "invalid_utf8", "case %zu", i);
	}
}

Test(phone, accepted)
{
	static const char *ok[] = {
		"13800138000", "19912345678", "+8613800138000", "8613800138000", "010-12345678",
		"01012345678", "0755-1234567", "07551234567", "021-12345678-123", "0571-88886666-1",
		"010-1234567-123456",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert(pj_valid_phone(ok[i]), "%s", ok[i]);
}

Test(phone, refused)
{
	static const char *bad[] = {
		"", "abc", "12800138000", "1380013800", "138001380000", "+8612800138000",
		"+86-13800138000", "138 0013 8000", "010-123456", "10-12345678", "010-12345678-",
		"010-12345678-1234567", "0-12345678", "01-12345678", "010--12345678",
		"010-123456789", "+86010-12345678", "13800138000 ", "１３８００１３８０００",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(pj_valid_phone(bad[i]), "%s", bad[i]);
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\","
	                       "\"contact\":{\"phone\":\"12345\"}}"),
	                 "invalid_field");
	cr_assert(strstr(last.message, "contact.phone"));
}

Test(email, accepted)
{
	char local64[80];

	static const char *ok[] = {
		"a@b.cn", "first.last@example.com", "x+tag@sub.example.org", "o'brien@example.ie",
		"user_1@mail-server.example.com", "user@example.xn--fiqs8s", "A@EXAMPLE.COM",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert(pj_valid_email(ok[i]), "%s", ok[i]);
	memset(local64, 'a', 64);
	strcpy(local64 + 64, "@example.com");
	cr_assert(pj_valid_email(local64));
}

Test(email, refused)
{
	char local65[80], long_addr[300];

	static const char *bad[] = {
		"", "plain", "@example.com", "a@", "a@b", "a..b@example.com", ".a@example.com",
		"a.@example.com", "a@-example.com", "a@example-.com", "a@example..com",
		"a@example.com.", "a b@example.com", "张三@example.com", "a@example.c",
		"a@exa_mple.com", "a@example.123", "a@@example.com", "\"a\"@example.com",
		"a@[127.0.0.1]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(pj_valid_email(bad[i]), "%s", bad[i]);
	memset(local65, 'a', 65);
	strcpy(local65 + 65, "@example.com");
	cr_assert_not(pj_valid_email(local65));
	/* The 254-character cap, with every label legal. */
	char *b = repeat("b", 62), *c = repeat("c", 61);
	snprintf(long_addr, sizeof(long_addr), "a@%s.%s.%s.%s.com", b, c, c, c);
	cr_assert_eq(strlen(long_addr), 254);
	cr_assert(pj_valid_email(long_addr));
	snprintf(long_addr, sizeof(long_addr), "a@%s.%s.%s.%s.com", b, b, c, c);
	cr_assert_eq(strlen(long_addr), 255);
	cr_assert_not(pj_valid_email(long_addr));
	free(b), free(c);
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\","
	                       "\"contact\":{\"email\":\"nope\"}}"),
	                 "invalid_field");
	cr_assert(strstr(last.message, "contact.email"));
}

Test(message, contact_name_length)
{
	char *n50 = repeat("名", 50), *n51 = repeat("名", 51);
	char buf[512];

	snprintf(buf, sizeof(buf),
	         "{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\",\"contact\":{\"name\":\"%s\"}}",
	         n50);
	cr_assert_str_eq(parse(buf), "ok");
	snprintf(buf, sizeof(buf),
	         "{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\",\"contact\":{\"name\":\"%s\"}}",
	         n51);
	cr_assert_str_eq(parse(buf), "invalid_field");
	cr_assert_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\","
	                       "\"contact\":{}}"),
	                 "ok");
	free(n50), free(n51);
}

Test(message, sample_is_valid)
{
	cr_assert_str_eq(parse(OK_MSG), "ok");
}

Test(message, notices_default_on_false_declines)
{
	Mailroom__SubmitReq s;
	Mailroom__Contact c;
	struct pj_error err;
	json_t *root;
	const char *on = "{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\"}";
	const char *off = "{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\",\"notices\":false}";

	cr_assert_eq(pj_parse_message(on, strlen(on), &root, &s, &c, &err), 0, "%s", err.message);
	cr_expect_not(s.notices_off);
	json_decref(root);
	cr_assert_eq(pj_parse_message(off, strlen(off), &root, &s, &c, &err), 0, "%s", err.message);
	cr_expect(s.notices_off);
	json_decref(root);
	cr_expect_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\",\"notices\":true}"), "ok");
	cr_expect_str_eq(parse("{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"b\",\"notices\":\"no\"}"),
	                 "invalid_field");
}
