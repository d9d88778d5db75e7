/* pj_dumps: the same bytes as json_dumps(JSON_COMPACT), for documents
 * written by hand and for random ones. */
#include "pj.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void same(const json_t *doc)
{
	char *want = json_dumps(doc, JSON_COMPACT);
	size_t len = 0;
	char *got = pj_dumps(doc, &len);

	cr_assert_not_null(want);
	cr_assert_not_null(got);
	cr_assert_str_eq(got, want);
	cr_assert_eq(len, strlen(want));
	free(want);
	free(got);
}

Test(dump, shapes)
{
	json_t *doc = json_pack("{s:s, s:i, s:I, s:b, s:b, s:n, s:{}, s:[], s:[i, s, {s:s}], s:o}",
	                        "id", "019abcde", "n", -42, "big", (json_int_t)-9007199254740993LL,
	                        "yes", 1, "no", 0, "none", "empty", "list", "mixed", 7, "二",
	                        "k", "v", "real", json_real(0.1));

	cr_assert_not_null(doc);
	same(doc);
	json_decref(doc);
	doc = json_array();
	same(doc);
	json_decref(doc);
}

Test(dump, escapes)
{
	/* Every control, both that must be escaped, the slash and DEL left
	 * alone, text in three scripts, a four-byte character. */
	char s[64];
	json_t *doc;

	for (int i = 0; i < 31; i++)
		s[i] = (char)(i + 1);
	strcpy(s + 31, "\"\\/\x7f 路灯 é 🙂");
	doc = json_pack("{s:s, s:s, s:s}", s, s, "k", "line\nnext\ttab", "quote\"", "\\");
	cr_assert_not_null(doc);
	same(doc);
	json_decref(doc);
	/* A NUL inside a string, as json_stringn keeps it. */
	doc = json_pack("{s:o}", "nul", json_stringn("a\0b", 3));
	same(doc);
	json_decref(doc);
}

Test(dump, refuses_what_jansson_refuses)
{
	json_t *doc = json_pack("{s:o}", "bad", json_stringn_nocheck("\xc3\x28", 2));

	cr_assert_null(json_dumps(doc, JSON_COMPACT));
	cr_assert_null(pj_dumps(doc, NULL));
	cr_assert_null(pj_dumps(NULL, NULL));
	json_decref(doc);
	/* A receipt's proof is checked once, where it is written: a bad byte
	 * past the first eight, and a truncated character at the end. */
	Mailroom__Receipt r = MAILROOM__RECEIPT__INIT;
	static const char *const bad[] = {"c2sp.org/tlog-proof\xff\n", "0123456789\xe8\xb7"};
	for (size_t i = 0; i < 2; i++) {
		struct pj_out o = {0};
		r.proof = (char *)bad[i];
		pj_receipt_write(&o, &r);
		cr_assert_null(pj_out_end(&o, NULL));
		cr_assert_null(pj_receipt(&r));
	}
}

Test(dump, deep_documents)
{
	json_t *doc = json_array(), *in = doc;

	for (int i = 0; i < 200; i++) {
		json_t *next = json_object();
		json_array_append_new(in, next);
		in = json_array();
		json_object_set_new(next, "a", in);
	}
	same(doc);
	json_decref(doc);
}

static const char *const pieces[] = {"a", "Z", " ", "\"", "\\", "/", "\n", "\r", "\t", "\b", "\f",
                                     "\x01", "\x1f", "\x7f", "é", "路", "🙂", "0", "{", "]"};

static json_t *random_string(unsigned *seed)
{
	char buf[512] = "";
	size_t len = 0;
	int n = rand_r(seed) % 96;   /* long runs of plain text, split anywhere */

	for (int i = 0; i < n; i++) {
		const char *p = pieces[rand_r(seed) % (sizeof(pieces) / sizeof(pieces[0]))];
		memcpy(buf + len, p, strlen(p));
		len += strlen(p);
	}
	buf[len] = '\0';
	return json_string(buf);
}

static json_t *random_value(unsigned *seed, int depth)
{
	int kind = rand_r(seed) % (depth > 4 ? 5 : 7);

	switch (kind) {
	case 0: return random_string(seed);
	case 1: return json_integer((json_int_t)rand_r(seed) - RAND_MAX / 2);
	case 2: return json_boolean(rand_r(seed) & 1);
	case 3: return json_null();
	case 4: return random_string(seed);
	case 5: {
		json_t *a = json_array();
		for (int i = rand_r(seed) % 5; i > 0; i--)
			json_array_append_new(a, random_value(seed, depth + 1));
		return a;
	}
	default: {
		json_t *o = json_object();
		for (int i = rand_r(seed) % 6; i > 0; i--) {
			json_t *k = random_string(seed);
			json_object_set_new(o, json_string_value(k), random_value(seed, depth + 1));
			json_decref(k);
		}
		return o;
	}
	}
}

Test(dump, random_documents)
{
	unsigned seed = 20251207;

	for (int i = 0; i < 2000; i++) {
		json_t *doc = json_object();
		json_object_set_new(doc, "v", random_value(&seed, 0));
		same(doc);
		json_decref(doc);
	}
}

/* The 201's document: a view, its access key and its receipt. */
Test(dump, message_view)
{
	static uint8_t id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static uint8_t hash[32] = {0xab, 0xcd};
	Mailroom__MessageView v = MAILROOM__MESSAGE_VIEW__INIT;
	Mailroom__Receipt r = MAILROOM__RECEIPT__INIT;
	json_t *doc;

	v.id.data = id;
	v.id.len = sizeof(id);
	v.tracking_code = "1234-5678-9012";
	v.queue = "general";
	v.subject = "关于小区停车难的建议 \"引号\"";
	v.received_ms = 1764122400000LL;
	v.ack_due_ms = 1764122400000LL + 86400000LL;
	r.log_index = 41;
	r.record_hash.data = hash;
	r.record_hash.len = sizeof(hash);
	r.key_id.data = hash;
	r.key_id.len = 4;
	r.proof = "c2sp.org/tlog-proof@v1\nindex 41\nq80=\n\nmailroom.test/log\n42\nq80=\n\n— "
	          "mailroom.test/log AAAA\n";
	doc = pj_view(&v, PJ_CITIZEN);
	cr_assert_not_null(doc);
	json_object_set_new(doc, "access_key", json_string("k-3fQ_abc"));
	json_object_set_new(doc, "receipt", pj_receipt(&r));
	same(doc);
	json_decref(doc);
}
