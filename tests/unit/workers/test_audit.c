/* mailroom-audit as a process, against a store built here and then
 * tampered with through raw LMDB. */
#include "helpers.h"
#include "pb_id.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

TestSuite(audit, .init = tdir_setup, .fini = tdir_teardown, .timeout = 60);

static struct run r;
static struct fixture_store fs;

#define RUN(...)                                                      \
	do {                                                              \
		const char *const av_[] = {"mailroom-audit", __VA_ARGS__, NULL}; \
		run_prog(&r, AUDIT_BIN, av_);                                 \
	} while (0)

#define out_json() run_json(&r)

static int count_lines(const char *s, const char *prefix)
{
	int n = 0;
	size_t len = strlen(prefix);

	for (const char *p = s; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, len) == 0)
			n++;
	return n;
}

Test(audit, verify_ok_trusting_record0)
{
	char want[128];

	store_build(&fs, NULL);
	RUN("verify", "--store", fs.dir);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	snprintf(want, sizeof(want), "ok: %llu records, 0 checkpoints, head ",
	         (unsigned long long)fs.records);
	cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
	cr_assert(strstr(r.out, "key mailroom.test/log\n"), "%s", r.out);
	cr_assert(strstr(r.out, "taken from record 0"), "says what it trusted: %s", r.out);
	cr_assert(strstr(r.out, "mailroom.test/log+"), "key name and fingerprint: %s", r.out);
}

Test(audit, verify_ok_with_pubkey_and_json)
{
	json_t *j;

	store_build(&fs, NULL);
	RUN("verify", "--store", fs.dir, "--pubkey", fs.pubkey);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "matches"), "%s", r.out);
	cr_assert_null(strstr(r.out, "record 0"), "%s", r.out);

	RUN("verify", "--json", "--store", fs.dir, "--pubkey", fs.pubkey);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	j = out_json();
	cr_assert(json_is_true(json_object_get(j, "ok")));
	cr_assert_eq(json_integer_value(json_object_get(j, "records")), (json_int_t)fs.records);
	cr_assert_str_eq(json_string_value(json_object_get(j, "trusted")), "pubkey");
	cr_assert_str_eq(json_string_value(json_object_get(j, "key")), "mailroom.test/log");
	cr_assert_eq(strlen(json_string_value(json_object_get(j, "head"))), 64);
	json_decref(j);
}

Test(audit, verify_against_another_key_exit_14)
{
	struct fixture_store other;

	store_build(&fs, NULL);
	store_build(&other, "second");   /* its own keys */
	RUN("verify", "--store", fs.dir, "--pubkey", other.pubkey);
	cr_assert_eq(r.exit, 14, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "FAIL key: record 0: "), "%s", r.out);
}

Test(audit, flipped_signature_exit_13_names_record)
{
	char want[64];

	store_build(&fs, NULL);
	store_flip(fs.dir, 3, -1);
	RUN("verify", "--store", fs.dir);
	cr_assert_eq(r.exit, 13, "%s%s", r.out, r.err);
	snprintf(want, sizeof(want), "FAIL signature: record 3: ");
	cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
}

Test(audit, flipped_body_fails_at_that_record)
{
	json_t *j;

	store_build(&fs, NULL);
	/* Past the first bytes (index, prev_hash): inside the record's text. */
	store_flip(fs.dir, 2, 60);
	RUN("verify", "--store", fs.dir, "--json");
	cr_assert_neq(r.exit, 0);
	cr_assert_geq(r.exit, 10, "a verify class, not a crash: %d %s", r.exit, r.err);
	cr_assert_leq(r.exit, 15);
	j = out_json();
	cr_assert(json_is_false(json_object_get(j, "ok")));
	cr_assert_eq(json_integer_value(json_object_get(j, "bad_index")), 2, "%s", r.out);
	json_decref(j);
}

Test(audit, trail_by_tracking_code)
{
	store_build(&fs, NULL);
	RUN("trail", fs.track, "--store", fs.dir);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, fs.idt), "%s", r.out);
	cr_assert(strstr(r.out, " RECEIVED actor=gateway queue=general due="), "%s", r.out);
	cr_assert(strstr(r.out, " ROUTED actor=router"), "%s", r.out);
	cr_assert(strstr(r.out, " LEASED actor=handler:alice queue=general"), "%s", r.out);
	cr_assert(strstr(r.out, " TRANSFERRED actor=handler:alice queue=roads from_queue=general"),
	          "%s", r.out);
	cr_assert(strstr(r.out, " REPLIED actor=handler:bob"), "%s", r.out);
	cr_assert(strstr(r.out, "content_hash="), "%s", r.out);
	cr_assert(strstr(r.out, "+08:00"), "%s", r.out);
	cr_assert(strstr(r.out, "detail=属地管理??[31mred"), "no control bytes: %s", r.out);
	cr_assert_null(strstr(r.out, "other-queue"), "another message's record: %s", r.out);
	cr_assert_null(strchr(r.out, '\x1b'));
	for (int i = 0; i < fs.nmsg; i++) {
		char idx[32];
		/* The other message's records sit after the second of ours. */
		snprintf(idx, sizeof(idx), "%llu ", (unsigned long long)fs.msg_at[i]);
		cr_assert_eq(count_lines(r.out, idx), 1, "record %s in %s", idx, r.out);
	}
	cr_assert_eq(fs.msg_at[2], fs.msg_at[1] + 3);
}

Test(audit, trail_by_id_json_and_code_spellings)
{
	char digits[16];
	json_t *j, *recs;
	int n = 0;

	store_build(&fs, NULL);
	RUN("trail", "--json", "--store", fs.dir, fs.idt);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	j = out_json();
	cr_assert_str_eq(jstr(j, "message", "tracking_code"), fs.track);
	cr_assert_str_eq(jstr(j, "message", "status"), "replied");
	recs = json_object_get(j, "records");
	cr_assert_eq(json_array_size(recs), (size_t)fs.nmsg);
	cr_assert_str_eq(jstr(json_array_get(recs, 0), "event", NULL), "RECEIVED");
	cr_assert_str_eq(jstr(json_array_get(recs, 3), "detail", NULL), "属地管理\n\x1b[31mred");
	cr_assert_eq(strlen(jstr(json_array_get(recs, 5), "content_hash", NULL)), 64);
	cr_assert_eq(strlen(jstr(json_array_get(recs, 0), "content_hash", NULL)), 64);
	cr_assert(json_is_null(json_object_get(json_array_get(recs, 1), "content_hash")));
	cr_assert(json_is_true(json_object_get(json_object_get(j, "store"), "ok")));
	json_decref(j);

	/* Digits without dashes, and a lower-case id, find the same message. */
	for (const char *p = fs.track; *p; p++)
		if (*p != '-')
			digits[n++] = *p;
	digits[n] = '\0';
	RUN("trail", digits, "--store", fs.dir);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	char lower[PB_ID_TEXT_LEN + 1];
	for (int i = 0; i <= PB_ID_TEXT_LEN; i++)
		lower[i] = (char)tolower((unsigned char)fs.idt[i]);
	RUN("trail", lower, "--store", fs.dir);
	cr_assert_eq(r.exit, 0, "%s", r.err);
}

Test(audit, trail_refuses_tampered_log)
{
	store_build(&fs, NULL);
	store_flip(fs.dir, 4, -10);
	RUN("trail", fs.track, "--store", fs.dir);
	cr_assert_eq(r.exit, 13, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "FAIL signature: record 4: "), "%s", r.out);
	cr_assert_null(strstr(r.out, "RECEIVED"), "no trail from a bad log: %s", r.out);
}

Test(audit, trail_unknown_and_invalid)
{
	char code[16] = "0000-0000-0000";   /* Damm check digit of zeros is 0 */
	uint8_t id[16];
	char idt[PB_ID_TEXT_LEN + 1];

	store_build(&fs, NULL);
	RUN("trail", code, "--store", fs.dir);
	cr_assert_eq(r.exit, 4, "%s%s", r.out, r.err);
	pb_id_new(1, id);
	pb_id_to_text(id, idt);
	RUN("trail", idt, "--store", fs.dir, "--json");
	cr_assert_eq(r.exit, 4, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "\"not_found\""), "%s", r.out);
	RUN("trail", "1234-5678-9013", "--store", fs.dir);
	cr_assert_eq(r.exit, 8, "bad check digit: %s", r.err);
	RUN("trail", "hello", "--store", fs.dir);
	cr_assert_eq(r.exit, 8);
}

Test(audit, usage_and_open_errors)
{
	RUN("verify");
	cr_assert_eq(r.exit, 1, "no --store");
	RUN("frobnicate");
	cr_assert_eq(r.exit, 1);
	RUN("verify", "--store", "x", "--bogus");
	cr_assert_eq(r.exit, 1);
	RUN("trail", "--store", "x");
	cr_assert_eq(r.exit, 1, "no code");
	RUN("verify", "--store", "no-such-store");
	cr_assert_eq(r.exit, 2, "%s", r.err);
	RUN("verify", "--store", "no-such-store", "--json");
	cr_assert_eq(r.exit, 2);
	cr_assert(strstr(r.out, "\"error\""), "%s", r.out);
	RUN("--help");
	cr_assert_eq(r.exit, 0);
	cr_assert(strstr(r.out, "verify"));
	cr_assert(strstr(r.out, "trail"));

	store_build(&fs, NULL);
	RUN("verify", "--store", fs.dir, "--pubkey", "no-such.pub");
	cr_assert_eq(r.exit, 2, "%s", r.err);
	FILE *f = fopen(tpath("bad.pub"), "w");
	cr_assert_not_null(f);
	fputs("not a key\n", f);
	fclose(f);
	RUN("verify", "--store", fs.dir, "--pubkey", "bad.pub");
	cr_assert_eq(r.exit, 8, "%s", r.err);
}

Test(audit, works_while_a_writer_has_it_open)
{
	struct pb_conf *c = calloc(1, sizeof(*c));
	struct st_keys keys;
	st_env *env;
	int created;

	store_build(&fs, NULL);
	cr_assert_not_null(c);
	pb_conf_defaults(c);
	snprintf(c->signing_key, sizeof(c->signing_key), "%s/keys/store.key", tdir);
	snprintf(c->data_key, sizeof(c->data_key), "%s/keys/data.key", tdir);
	snprintf(c->log_origin, sizeof(c->log_origin), "mailroom.test/log");
	cr_assert_eq(st_keys_load_or_create(c, &keys, &created), 0);
	cr_assert_eq(st_open(fs.dir, 16, 0, &keys, &env), 0);
	RUN("verify", "--store", fs.dir, "--pubkey", fs.pubkey);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	st_close(env);
	free(c);
}
