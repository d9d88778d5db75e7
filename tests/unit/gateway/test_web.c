/* The web pages' pieces: the one HTML escape, the urlencoded parser and
 * the mapping of a form to the JSON request the API takes (which the
 * API's own parser must then accept). */
#include "gw_web.h"
#include "pb_conf.h"
#include "pj.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ escape -- */

static char *esc(const char *s)
{
	static char out[512];
	struct gw_buf b = {0};

	gw_html(&b, s);
	cr_assert(!b.failed);
	snprintf(out, sizeof(out), "%s", b.p ? b.p : "");
	gw_buf_free(&b);
	return out;
}

Test(html, escapes_the_five_characters)
{
	cr_assert_str_eq(esc("<script>alert('x')</script>"),
	                 "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
	cr_assert_str_eq(esc("a\"b&c"), "a&quot;b&amp;c");
	cr_assert_str_eq(esc("\" onfocus=\"x"), "&quot; onfocus=&quot;x");
}

Test(html, keeps_text_and_utf8)
{
	cr_assert_str_eq(esc("东门路灯不亮 100%"), "东门路灯不亮 100%");
	cr_assert_str_eq(esc(""), "");
	cr_assert_str_eq(esc("&amp;"), "&amp;amp;");   /* escaped again: never trusted */
}

Test(html, buffer_grows_past_its_first_block)
{
	struct gw_buf b = {0};

	for (int i = 0; i < 5000; i++)
		gw_html(&b, "<>");
	cr_assert(!b.failed);
	cr_assert_eq(b.len, 5000 * 8);
	cr_assert_eq(strncmp(b.p + b.len - 8, "&lt;&gt;", 8), 0);
	gw_buf_free(&b);
}

/* ------------------------------------------------------------ parser -- */

static int parse(const char *body, struct gw_form *f, const char **why)
{
	return gw_form_parse(body, strlen(body), f, why);
}

Test(form, decodes_plus_percent_and_utf8)
{
	struct gw_form f;
	const char *why = NULL;

	cr_assert_eq(parse("subject=%E8%B7%AF%E7%81%AF+%E5%9D%8F%E4%BA%86&body=a%2Bb%26c%3Dd&empty=",
	                   &f, &why), 0, "%s", why);
	cr_assert_eq(f.n, 3);
	cr_assert_str_eq(gw_form_get(&f, "subject"), "路灯 坏了");
	cr_assert_str_eq(gw_form_get(&f, "body"), "a+b&c=d");
	cr_assert_str_eq(gw_form_get(&f, "empty"), "");
	cr_assert_null(gw_form_get(&f, "other"));
	gw_form_free(&f);
}

Test(form, newlines_become_lf)
{
	struct gw_form f;
	const char *why;

	cr_assert_eq(parse("body=a%0D%0Ab%0Dc%0Ad&name", &f, &why), 0);
	cr_assert_str_eq(gw_form_get(&f, "body"), "a\nb\nc\nd");
	cr_assert_str_eq(gw_form_get(&f, "name"), "");   /* a name without '=' */
	gw_form_free(&f);
}

Test(form, empty_pairs_and_empty_body)
{
	struct gw_form f;
	const char *why;

	cr_assert_eq(parse("&&a=1&&", &f, &why), 0);
	cr_assert_eq(f.n, 1);
	gw_form_free(&f);
	cr_assert_eq(gw_form_parse("", 0, &f, &why), 0);
	cr_assert_eq(f.n, 0);
	gw_form_free(&f);
}

Test(form, refusals)
{
	static const char *const bad[] = {
		"a=%",            /* escape cut short */
		"a=%4",
		"a=%zz",
		"a=%C3%28",       /* not UTF-8 */
		"a=%ED%A0%80",    /* a surrogate */
		"a=%C0%AF",       /* overlong */
		"a=%00",          /* NUL */
		"a=%07",          /* control character */
		"a=1&a=2",        /* repeated */
		"A=1",            /* name outside [a-z0-9_] */
		"=1",             /* empty name */
		"a%20b=1",
		"abcdefghijklmnopqrstuvwxyz0123456=1",   /* 33 characters */
	};
	struct gw_form f;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;
		cr_assert_eq(parse(bad[i], &f, &why), -1, "accepted %s", bad[i]);
		cr_assert_not_null(why);
		cr_assert_null(f.mem);
	}
}

Test(form, field_count_is_bounded)
{
	char body[1024] = "";
	struct gw_form f;
	const char *why;

	for (int i = 0; i < GW_FORM_FIELDS; i++)
		snprintf(body + strlen(body), sizeof(body) - strlen(body), "f%d=x&", i);
	cr_assert_eq(parse(body, &f, &why), 0);
	cr_assert_eq(f.n, GW_FORM_FIELDS);
	gw_form_free(&f);
	strcat(body, "one_more=x");
	cr_assert_eq(parse(body, &f, &why), -1);
}

/* Every prefix and every byte flipped: refused or parsed, never a crash
 * or a read past the end (run under ASan). */
Test(form, prefixes_and_mutations)
{
	static const char src[] = "subject=%E8%B7%AF+x&body=a%0D%0Ab&phone=138%2000";
	char buf[sizeof(src)];
	struct gw_form f;
	const char *why;

	for (size_t n = 0; n < sizeof(src) - 1; n++) {
		char *copy = malloc(n ? n : 1);   /* exactly n bytes: ASan sees any overread */
		memcpy(copy, src, n);
		if (gw_form_parse(copy, n, &f, &why) == 0)
			gw_form_free(&f);
		free(copy);
	}
	for (size_t i = 0; i < sizeof(src) - 1; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(buf, src, sizeof(src));
			buf[i] ^= (char)(1 << bit);
			if (gw_form_parse(buf, sizeof(src) - 1, &f, &why) == 0)
				gw_form_free(&f);
		}
}

/* --------------------------------------------------- form -> request -- */

static json_t *map(int channel, const char *body, struct gw_ferrs *e)
{
	static const char *const skip[] = {"token", NULL};
	struct gw_form f;
	const char *why;
	json_t *doc;

	cr_assert_eq(parse(body, &f, &why), 0, "%s", body);
	doc = gw_form_request(channel, &f, skip, e);
	gw_form_free(&f);
	return doc;
}

Test(mapping, message_is_what_the_api_takes)
{
	struct gw_ferrs e;
	json_t *doc = map(PB_CH_COMPLAINT,
	                  "token=t&subject=%E6%80%81%E5%BA%A6&body=x&name=+%E7%8E%8B%E4%BA%94+"
	                  "&phone=13800000000&email=",
	                  &e);
	Mailroom__SubmitReq sub;
	Mailroom__Contact contact;
	struct pj_error err;
	json_t *root;

	cr_assert_not_null(doc);
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert_str_eq(text, "{\"body\":\"x\",\"channel\":\"complaint\",\"contact\":{\"name\":\"王五\","
	                       "\"phone\":\"13800000000\"},\"subject\":\"态度\"}");
	cr_assert_eq(pj_parse_message(text, strlen(text), &root, &sub, &contact, &err), 0, "%s",
	             err.message);
	cr_assert_eq(sub.channel, PB_CH_COMPLAINT);
	json_decref(root);
	free(text);
	json_decref(doc);
}

Test(mapping, message_without_contact_has_none)
{
	struct gw_ferrs e;
	json_t *doc = map(PB_CH_MAILBOX, "subject=a&body=b&name=&phone=&email=", &e);

	cr_assert_not_null(doc);
	cr_assert_null(json_object_get(doc, "contact"));
	json_decref(doc);
}

static const char *err_of(const struct gw_ferrs *e, const char *field)
{
	for (int i = 0; i < e->n; i++)
		if (strcmp(e->e[i].field, field) == 0)
			return e->e[i].msg;
	return NULL;
}

Test(mapping, message_errors_name_their_fields)
{
	struct gw_ferrs e;
	json_t *doc = map(PB_CH_MAILBOX, "subject=+&body=&phone=123&email=no-at", &e);

	cr_assert_null(doc);
	cr_assert_eq(e.n, 4);
	cr_assert_not_null(err_of(&e, "subject"));
	cr_assert_not_null(err_of(&e, "body"));
	cr_assert_not_null(strstr(err_of(&e, "phone"), "电话"));
	cr_assert_not_null(err_of(&e, "email"));
}

Test(mapping, lengths_count_characters)
{
	char body[4096] = "subject=";
	struct gw_ferrs e;
	json_t *doc;

	for (int i = 0; i < 200; i++)
		strcat(body, "%E8%B7%AF");   /* 200 characters, 600 bytes */
	strcat(body, "&body=b");
	doc = map(PB_CH_MAILBOX, body, &e);
	cr_assert_not_null(doc, "%d %s %s", e.n, e.n ? e.e[0].field : "", e.n ? e.e[0].msg : "");
	json_decref(doc);
	memmove(body + 8 + 9, body + 8, strlen(body + 8) + 1);
	memcpy(body + 8, "%E8%B7%AF", 9);   /* 201 */
	cr_assert_null(map(PB_CH_MAILBOX, body, &e));
	cr_assert_not_null(err_of(&e, "subject"));
}

Test(mapping, unknown_fields_and_channels_are_refused)
{
	struct gw_ferrs e;

	cr_assert_null(map(PB_CH_MAILBOX, "subject=a&body=b&category=x", &e));
	cr_assert_eq(e.n, 1);
	cr_assert_null(map(PB_CH_HOTLINE, "subject=a&body=b", &e));
	cr_assert_eq(e.n, 1);
}

#define DISC "kind=natural_person&name=%E5%BC%A0%E4%B8%89&id_type=resident_id" \
             "&id_number=11010519491231002x&phone=&email=a%40example.cn&address=" \
             "&description=%E9%A2%84%E7%AE%97&purpose=&form=electronic&delivery=email"

Test(mapping, disclosure_is_what_the_api_takes)
{
	struct gw_ferrs e;
	json_t *doc = map(PB_CH_DISCLOSURE, DISC, &e), *root;
	Mailroom__SubmitReq sub;
	struct pj_disclosure d;
	struct pj_error err;

	cr_assert_not_null(doc, "%s", e.n ? e.e[0].msg : "");
	/* The check character, typed in lower case, is sent upper case. */
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "applicant"),
	                                                   "id_number")), "11010519491231002X");
	cr_assert_str_eq(json_string_value(json_object_get(doc, "submission_mode")), "online");
	char *text = json_dumps(doc, JSON_COMPACT);
	cr_assert_eq(pj_parse_disclosure(text, strlen(text), &root, &sub, &d, &err), 0, "%s",
	             err.message);
	json_decref(root);
	free(text);
	json_decref(doc);
}

Test(mapping, disclosure_errors)
{
	struct gw_ferrs e;

	/* A wrong check digit, no way to reach the applicant, no choice made. */
	cr_assert_null(map(PB_CH_DISCLOSURE,
	                   "kind=natural_person&name=a&id_type=resident_id&id_number=110105194912310021"
	                   "&description=x&form=&delivery=email", &e));
	cr_assert_not_null(err_of(&e, "id_number"));
	cr_assert_not_null(err_of(&e, "phone"));
	cr_assert_not_null(err_of(&e, "form"));
	cr_assert_null(err_of(&e, "delivery"));
	cr_assert_null(map(PB_CH_DISCLOSURE,
	                   "kind=martian&name=&id_type=uscc&id_number=91350100M000100Y4X"
	                   "&phone=13800000000&description=&form=paper&delivery=fax", &e));
	cr_assert_not_null(err_of(&e, "kind"));
	cr_assert_not_null(err_of(&e, "name"));
	cr_assert_not_null(err_of(&e, "id_number"));
	cr_assert_not_null(err_of(&e, "description"));
	cr_assert_not_null(err_of(&e, "delivery"));
}

/* ---------------------------------------------------- CORS, limits -- */

#include "gw.h"
#include <arpa/inet.h>

Test(cors, exact_origins_only)
{
	const char *list = "https://a.example, https://b.example,https://c.example";

	cr_assert(gw_cors_allowed(list, "https://a.example"));
	cr_assert(gw_cors_allowed(list, "https://b.example"));
	cr_assert(gw_cors_allowed(list, "https://c.example"));
	cr_assert_not(gw_cors_allowed(list, "https://a.example.evil"));
	cr_assert_not(gw_cors_allowed(list, "https://a.exampl"));
	cr_assert_not(gw_cors_allowed(list, ""));
	cr_assert_not(gw_cors_allowed(list, NULL));
	cr_assert_not(gw_cors_allowed("", "https://a.example"));
}

Test(limit, per_address_per_minute)
{
	struct gw_limit *l;
	struct sockaddr_in a = {.sin_family = AF_INET}, b = {.sin_family = AF_INET};
	int first;
	const int64_t t0 = 1764122400000LL;   /* a minute's start */

	cr_assert_eq(sodium_init() < 0, 0);
	inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
	inet_pton(AF_INET, "192.0.2.2", &b.sin_addr);
	cr_assert_eq(gw_limit_init(&l, 2), 0);
	cr_assert_eq(gw_limit_take(l, (struct sockaddr *)&a, t0, &first), 0);
	cr_assert_eq(gw_limit_take(l, (struct sockaddr *)&a, t0 + 1000, &first), 0);
	cr_assert_eq(gw_limit_take(l, (struct sockaddr *)&a, t0 + 20000, &first), 40);
	cr_assert(first);
	cr_assert_eq(gw_limit_take(l, (struct sockaddr *)&a, t0 + 30000, &first), 30);
	cr_assert_not(first);   /* logged once per window */
	cr_assert_eq(gw_limit_take(l, (struct sockaddr *)&b, t0 + 30000, &first), 0);
	cr_assert_eq(gw_limit_take(l, (struct sockaddr *)&a, t0 + 60000, &first), 0);   /* next minute */
	gw_limit_free(l);
	/* 0: no limit at all. */
	cr_assert_eq(gw_limit_init(&l, 0), 0);
	cr_assert_null(l);
	cr_assert_eq(gw_limit_take(NULL, (struct sockaddr *)&a, t0, &first), 0);
}

Test(mapping, notices_declined_on_either_form)
{
	struct gw_ferrs e;
	json_t *doc = map(PB_CH_MAILBOX, "subject=a&body=b&phone=13800000000&notices=off", &e);

	cr_assert_not_null(doc);
	cr_expect(json_is_false(json_object_get(doc, "notices")));
	json_decref(doc);
	doc = map(PB_CH_MAILBOX, "subject=a&body=b&phone=13800000000&notices=on", &e);
	cr_assert_not_null(doc);
	cr_expect_null(json_object_get(doc, "notices"), "on is the API's default: not sent");
	json_decref(doc);
	doc = map(PB_CH_DISCLOSURE, DISC "&notices=off", &e);
	cr_assert_not_null(doc, "%s", e.n ? e.e[0].msg : "");
	cr_expect(json_is_false(json_object_get(doc, "notices")));
	char *text = json_dumps(doc, JSON_COMPACT);
	Mailroom__SubmitReq sub;
	struct pj_disclosure d;
	struct pj_error err;
	json_t *root;
	cr_assert_eq(pj_parse_disclosure(text, strlen(text), &root, &sub, &d, &err), 0, "%s",
	             err.message);
	cr_expect(sub.notices_off);
	json_decref(root);
	free(text);
	json_decref(doc);
}
