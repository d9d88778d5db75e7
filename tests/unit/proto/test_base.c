/* The pb_ base: time, ids, tracking codes, access keys, UTF-8, config
 * and the authenticated wire envelope. */
#include "pb_conf.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"
#include "pb_utf8.h"
#include "pb_tls.h"
#include "pb_wire.h"

#include <criterion/criterion.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void init(void)
{
	cr_assert(sodium_init() >= 0);
}

TestSuite(base, .init = init);

Test(base, civil_dates_round_trip)
{
	int y, m, d;

	cr_assert_eq(pb_days_from_civil(1970, 1, 1), 0);
	cr_assert_eq(pb_days_from_civil(2024, 2, 29), 19782);
	for (int32_t day = -800; day < 40000; day += 7) {
		pb_civil_from_days(day, &y, &m, &d);
		cr_assert_eq(pb_days_from_civil(y, m, d), day);
	}
	cr_assert_eq(pb_weekday(pb_days_from_civil(2026, 11, 24)), 1);   /* Tuesday */
	cr_assert_eq(pb_weekday(pb_days_from_civil(2024, 2, 4)), 6);     /* Sunday */
	/* The ends of the int32 range: no overflow (UBSan), and exact. */
	cr_assert_eq(pb_weekday(INT32_MAX), 4);   /* (2^31 - 1 + 3) mod 7 */
	cr_assert_eq(pb_weekday(INT32_MIN), 1);   /* (-2^31 + 3) mod 7, from 0 */
	pb_civil_from_days(INT32_MAX, &y, &m, &d);
	cr_assert(y == 5881580 && m == 7 && d == 11, "%d-%d-%d", y, m, d);
	cr_assert_eq(pb_days_from_civil(5881580, 7, 11), INT32_MAX);
	pb_civil_from_days(INT32_MIN, &y, &m, &d);
	cr_assert(y == -5877641 && m == 6 && d == 23, "%d-%d-%d", y, m, d);
	cr_assert_eq(pb_days_from_civil(-5877641, 6, 23), INT32_MIN);
}

Test(base, local_day_is_utc_plus_8)
{
	int64_t ms;

	/* 2025-01-01T16:30:00Z is 2025-01-02 00:30 in Shanghai. */
	cr_assert_eq(pb_time_parse("2025-01-01T16:30:00Z", &ms), PB_OK);
	cr_assert_eq(pb_day_of_ms(ms), pb_days_from_civil(2025, 1, 2));
	cr_assert_eq(pb_day_start_ms(pb_days_from_civil(2025, 1, 2)), ms - 30 * 60 * 1000);
}

/* pb_time_fmt writes its digits by hand: checked against gmtime_r over
 * years 1 to 9999, both forms, and a buffer one byte short. */
Test(base, time_format_matches_gmtime)
{
	unsigned seed = 7;

	for (int i = 0; i < 20000; i++) {
		int64_t ms = ((int64_t)rand_r(&seed) << 31 | rand_r(&seed)) % (315537897599000LL - 2 * 86400000LL) -
		             62135596800000LL + 86400000LL;
		time_t t = (time_t)((ms - (((ms % 1000) + 1000) % 1000)) / 1000) + 8 * 3600;
		struct tm tm;
		char want[48], got[48];
		gmtime_r(&t, &tm);
		for (int with_ms = 0; with_ms < 2; with_ms++) {
			int n = snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
			                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
			if (with_ms)
				n += snprintf(want + n, sizeof(want) - (size_t)n, ".%03d",
				              (int)(((ms % 1000) + 1000) % 1000));
			strcpy(want + n, "+08:00");
			cr_assert_eq(pb_time_fmt(ms, got, sizeof(got), with_ms), (int)strlen(want));
			cr_assert_str_eq(got, want);
			cr_assert_eq(pb_time_fmt(ms, got, strlen(want), with_ms), -1);
		}
	}
}

Test(base, time_format_and_parse)
{
	char buf[40];
	int64_t ms, back;

	cr_assert_eq(pb_time_parse("2025-09-26T10:00:00+08:00", &ms), PB_OK);
	cr_assert_eq(ms, 1758852000000LL);
	cr_assert_gt(pb_time_fmt(ms, buf, sizeof(buf), 0), 0);
	cr_assert_str_eq(buf, "2025-09-26T10:00:00+08:00");
	cr_assert_eq(pb_time_parse("2025-09-26T02:00:00.250Z", &back), PB_OK);
	cr_assert_eq(back, ms + 250);
	pb_time_fmt(back, buf, sizeof(buf), 1);
	cr_assert_str_eq(buf, "2025-09-26T10:00:00.250+08:00");
	/* The ends of int64: no overflow (UBSan), a year at the days' end. */
	cr_assert_gt(pb_time_fmt(INT64_MAX, buf, sizeof(buf), 1), 0);
	cr_assert_gt(pb_time_fmt(INT64_MIN, buf, sizeof(buf), 1), 0);
	cr_assert_eq(buf[0], '-');
	cr_assert_eq(pb_time_parse("2025-09-26T10:00:00-05:30", &back), PB_OK);
	cr_assert_eq(back, ms + (13 * 60 + 30) * 60000LL);
	const char *bad[] = {"", "2025-09-26", "2025-09-26T10:00:00", "2025-02-30T10:00:00Z",
	                     "2025-09-26T24:00:00Z", "2025-09-26T10:00:00+8:00", "2025-09-26T10:00:00Zx",
	                     "2025-09-26T10:00:00.Z", "x025-09-26T10:00:00Z"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(pb_time_parse(bad[i], &back), PB_EINVAL, "accepted '%s'", bad[i]);
	int32_t day;
	cr_assert_eq(pb_date_parse("2024-02-29", &day), PB_OK);
	cr_assert_eq(pb_date_parse("2023-02-29", &day), PB_EINVAL);
	pb_date_fmt(day, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2024-02-29");
}

Test(base, ids_are_time_ordered_and_round_trip)
{
	uint8_t a[PB_ID_LEN], b[PB_ID_LEN], back[PB_ID_LEN];
	char text[PB_ID_TEXT_LEN + 1], text2[PB_ID_TEXT_LEN + 1];

	pb_id_new(1700000000000LL, a);
	pb_id_new(1700000000001LL, b);
	cr_assert_lt(memcmp(a, b, PB_ID_LEN), 0);
	cr_assert_eq(pb_id_time_ms(a), 1700000000000LL);
	pb_id_to_text(a, text);
	pb_id_to_text(b, text2);
	cr_assert_eq(strlen(text), PB_ID_TEXT_LEN);
	cr_assert_lt(strcmp(text, text2), 0, "text form keeps time order");
	cr_assert_eq(pb_id_from_text(text, back), PB_OK);
	cr_assert_eq(memcmp(a, back, PB_ID_LEN), 0);
	text[0] = '9';   /* first character carries only 3 bits */
	cr_assert_eq(pb_id_from_text(text, back), PB_EINVAL);
	cr_assert_eq(pb_id_from_text("short", back), PB_EINVAL);
}

Test(base, tracking_codes_catch_typos)
{
	char code[PB_TRACK_TEXT_LEN + 1], norm[PB_TRACK_TEXT_LEN + 1], typo[PB_TRACK_TEXT_LEN + 1];

	for (int i = 0; i < 2000; i++) {
		pb_track_new(code);
		cr_assert_eq(strlen(code), PB_TRACK_TEXT_LEN);
		cr_assert_neq(code[0], '0');
		cr_assert_eq(pb_track_normalize(code, norm, sizeof(norm)), PB_OK);
		cr_assert_str_eq(norm, code);
		/* every single-digit change is caught */
		for (int pos = 0; pos < PB_TRACK_TEXT_LEN; pos++) {
			if (code[pos] == '-')
				continue;
			strcpy(typo, code);
			typo[pos] = (char)('0' + (code[pos] - '0' + 1 + i % 9) % 10);
			cr_assert_eq(pb_track_normalize(typo, norm, sizeof(norm)), PB_EINVAL);
		}
		/* and every swap of unequal neighbours */
		char digits[13];
		int n = 0;
		for (int k = 0; code[k]; k++)
			if (code[k] != '-')
				digits[n++] = code[k];
		digits[n] = '\0';
		for (int k = 0; k + 1 < n; k++) {
			if (digits[k] == digits[k + 1])
				continue;
			char sw[13];
			strcpy(sw, digits);
			sw[k] = digits[k + 1];
			sw[k + 1] = digits[k];
			cr_assert_eq(pb_track_normalize(sw, norm, sizeof(norm)), PB_EINVAL, "%s", sw);
		}
	}
	cr_assert_eq(pb_track_normalize("12345678901", norm, sizeof(norm)), PB_EINVAL);
	cr_assert_eq(pb_track_normalize("1234-5678-901a", norm, sizeof(norm)), PB_EINVAL);
}

static int cmp_code(const void *a, const void *b)
{
	return memcmp(a, b, PB_TRACK_TEXT_LEN + 1);
}

Test(base, sequence_codes_are_a_keyed_permutation, .init = init)
{
	enum { N = 20000 };
	uint8_t key[PB_TRACK_KEY_LEN], other[PB_TRACK_KEY_LEN];
	char(*codes)[PB_TRACK_TEXT_LEN + 1] = calloc(N, PB_TRACK_TEXT_LEN + 1);
	char norm[PB_TRACK_TEXT_LEN + 1], again[PB_TRACK_TEXT_LEN + 1];
	int same_under_other = 0, prefixes = 0;
	static char seen[10000];
	uint64_t back;

	cr_assert_not_null(codes);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(other, sizeof(other));
	for (uint64_t s = 0; s < N; s++) {
		/* consecutive seqs, then seqs spread over the whole range */
		uint64_t seq = s < N / 2 ? s : (s * 4503599627ULL) % PB_TRACK_SEQ_MAX;
		cr_assert_eq(pb_track_from_seq(key, seq, codes[s]), PB_OK);
		cr_assert_neq(codes[s][0], '0');
		cr_assert_eq(pb_track_normalize(codes[s], norm, sizeof(norm)), PB_OK, "%s", codes[s]);
		cr_assert_str_eq(norm, codes[s]);
		cr_assert_eq(pb_track_to_seq(key, codes[s], &back), PB_OK);
		cr_assert_eq(back, seq, "%s", codes[s]);
		cr_assert_eq(pb_track_from_seq(other, seq, again), PB_OK);
		same_under_other += strcmp(again, codes[s]) == 0;
		if (s < 1000) {
			int p = atoi(codes[s]);   /* the first group */
			prefixes += !seen[p];
			seen[p] = 1;
		}
	}
	qsort(codes, N, sizeof(codes[0]), cmp_code);
	for (int i = 1; i < N; i++)
		cr_assert_neq(strcmp(codes[i - 1], codes[i]), 0, "two seqs gave %s", codes[i]);
	cr_assert_lt(same_under_other, 3, "another key gives other codes");
	/* 1000 consecutive seqs land all over: their first groups (9000
	 * possible) are nearly all different, as for random codes. */
	cr_assert_gt(prefixes, 900, "%d distinct first groups", prefixes);
	free(codes);
}

Test(base, sequence_codes_bounds_and_format, .init = init)
{
	uint8_t key[PB_TRACK_KEY_LEN];
	char code[PB_TRACK_TEXT_LEN + 1];
	uint64_t seq;

	/* Issued codes must read back in every later version: the expected
	 * codes come from an independent implementation of the comment in
	 * pb_id.c (Python's hashlib.blake2b, digest_size 8, keyed). */
	for (int i = 0; i < PB_TRACK_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	struct {
		uint64_t seq;
		const char *code;
	} kat[] = {
		{0, "6440-0025-4923"},         {1, "8156-7605-8792"},
		{2, "5421-9974-0761"},         {123456789, "6661-6992-8453"},
		{89999999999ULL, "8593-5367-2617"},
	};
	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		cr_assert_eq(pb_track_from_seq(key, kat[i].seq, code), PB_OK);
		cr_assert_str_eq(code, kat[i].code);
		cr_assert_eq(pb_track_to_seq(key, kat[i].code, &seq), PB_OK);
		cr_assert_eq(seq, kat[i].seq);
	}
	cr_assert_eq(pb_track_from_seq(key, PB_TRACK_SEQ_MAX, code), PB_EINVAL);
	cr_assert_eq(pb_track_to_seq(key, "6440 0025 4923", &seq), PB_OK, "spaces as typed");
	cr_assert_eq(seq, 0);
	cr_assert_eq(pb_track_to_seq(key, "6440-0025-4924", &seq), PB_EINVAL, "check digit");
	cr_assert_eq(pb_track_to_seq(key, "6440-0025", &seq), PB_EINVAL);
	/* a well-formed code with a leading zero: no seq gives it */
	cr_assert_eq(pb_track_to_seq(key, "0000-0000-0000", &seq), PB_ENOTFOUND);
}

Test(base, access_keys)
{
	char k1[PB_AKEY_TEXT_LEN + 1], k2[PB_AKEY_TEXT_LEN + 1];
	uint8_t h1[PB_AKEY_HASH_LEN], h2[PB_AKEY_HASH_LEN];

	pb_akey_new(k1);
	pb_akey_new(k2);
	cr_assert_eq(strlen(k1), PB_AKEY_TEXT_LEN);
	cr_assert_str_neq(k1, k2);
	pb_akey_hash(k1, strlen(k1), h1);
	pb_akey_hash(k1, strlen(k1), h2);
	cr_assert_eq(memcmp(h1, h2, sizeof(h1)), 0);
	pb_akey_hash(k2, strlen(k2), h2);
	cr_assert_neq(memcmp(h1, h2, sizeof(h1)), 0);
}

Test(base, utf8_counts_characters_and_rejects_bad_sequences)
{
	cr_assert_eq(pb_utf8_chars("小区路灯不亮", strlen("小区路灯不亮")), 6);
	cr_assert_eq(pb_utf8_chars("a\xf0\x9f\x98\x80", 5), 2);
	const char *bad[] = {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	                     "\xff", "\xe5\xb0", "\x80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(pb_utf8_chars(bad[i], strlen(bad[i])), -1, "case %zu", i);
	cr_assert_eq(pb_utf8_chars("a\0b", 3), -1);
}

static char *write_tmp(const char *text)
{
	static char path[512];
	const char *tmp = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/mr-conf-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* Secrets are read only while no one but the owner may access them. */
Test(base, secret_files_open_to_others_are_refused)
{
	static const struct {
		mode_t mode;
		int rc;
	} cases[] = {{0600, PB_OK}, {0400, PB_OK}, {0700, PB_OK}, {0644, PB_EFORBIDDEN},
	             {0640, PB_EFORBIDDEN}, {0604, PB_EFORBIDDEN}, {0620, PB_EFORBIDDEN},
	             {0601, PB_EFORBIDDEN}, {0666, PB_EFORBIDDEN}};
	char *path = write_tmp("00112233445566778899aabbccddeeff\n");
	uint8_t buf[64], key[16];
	size_t len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(chmod(path, cases[i].mode), 0);
		cr_expect_eq(pb_read_secret_file(path, buf, sizeof(buf), &len), cases[i].rc,
		             "pb_read_secret_file at %04o", (unsigned)cases[i].mode);
		cr_expect_eq(pb_secret_load(path, key, sizeof(key)), cases[i].rc,
		             "pb_secret_load at %04o", (unsigned)cases[i].mode);
		int created = 1;
		cr_expect_eq(pb_secret_load_or_create(path, key, sizeof(key), &created), cases[i].rc,
		             "pb_secret_load_or_create at %04o", (unsigned)cases[i].mode);
		cr_expect_eq(created, 0, "an existing file is never replaced");
	}
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(pb_secret_load(path, key, sizeof(key)), PB_OK);
	cr_expect_eq(key[0], 0x00);
	cr_expect_eq(key[15], 0xff);
	/* Ordinary files (configs, public keys) are read whatever their mode. */
	cr_assert_eq(chmod(path, 0644), 0);
	cr_expect_eq(pb_read_file(path, buf, sizeof(buf), &len), PB_OK);
	unlink(path);
}

Test(base, config_defaults_follow_the_policy_table)
{
	struct pb_conf c;
	char err[256];

	cr_assert_eq(pb_conf_load(NULL, &c, err, sizeof(err)), PB_OK);
	cr_assert_eq(c.policy.reply[PB_CH_MAILBOX].working_days, 15);
	cr_assert_eq(c.policy.reply[PB_CH_CONSULTATION].working_days, 5);
	cr_assert_eq(c.policy.reply[PB_CH_COMPLAINT].working_days, 15);
	cr_assert_eq(c.policy.hotline_consult_reply.working_days, 3);
	cr_assert_eq(c.policy.hotline_urgent_reply.hours, 24);
	cr_assert_eq(c.http_body_max, 64 * 1024);
	cr_assert_str_eq(c.http_addr, "127.0.0.1");
}

Test(base, config_reads_routes_handlers_and_policy)
{
	struct pb_conf c;
	char err[256];
	const char *text =
	    "[router]\nlisten = tcp://127.0.0.1:7100\nlease_seconds = 30\n"
	    "[queues]\nmailbox = director\n"
	    "[route.lights]\nchannel = mailbox\nkeywords = 路灯, 照明\nqueue = roads\n"
	    "[policy]\nmailbox.reply = 10wd\nhotline.urgent.reply = 12h\n"
	    "[handler.alice]\nkey = 0101010101010101010101010101010101010101010101010101010101010101\n"
	    "queues = roads, director\nimport = yes\n"
	    "[disclosure]\ncorrection_days = 10\nrepeat_permille = 750\n";
	char *path = write_tmp(text);

	cr_assert_eq(pb_conf_load(path, &c, err, sizeof(err)), PB_OK, "%s", err);
	unlink(path);
	cr_assert(c.handlers[0].may_import);
	cr_assert_eq(c.disc_correction_days, 10);
	cr_assert_eq(c.disc_repeat_permille, 750);
	cr_assert_eq(c.disc_consult_days, 15);
	cr_assert_str_eq(c.router_url, "tcp://127.0.0.1:7100");
	cr_assert_eq(c.lease_seconds, 30);
	cr_assert_str_eq(c.default_queue[PB_CH_MAILBOX], "director");
	cr_assert_eq(c.nroutes, 1);
	cr_assert_eq(c.routes[0].nkeywords, 2);
	cr_assert_str_eq(c.routes[0].keywords[1], "照明");
	cr_assert_eq(c.policy.reply[PB_CH_MAILBOX].working_days, 10);
	cr_assert_eq(c.policy.hotline_urgent_reply.hours, 12);
	cr_assert_eq(c.nhandlers, 1);
	cr_assert_eq(c.handlers[0].nqueues, 2);
	cr_assert(pb_handler_may(&c.handlers[0], "director"));
	cr_assert_not(pb_handler_may(&c.handlers[0], "general"));
	cr_assert(pb_conf_queue_known(&c, "roads"));
	cr_assert_not(pb_conf_queue_known(&c, "nowhere"));
}

/* 信访工作条例 counts calendar days: 15 to notify, 60 to answer, one
 * extension of 30, 30 for a review; "Nd" sets them, and the petition
 * system's apps sit beside the 12345 platform's. */
Test(base, config_petition_calendar_days_and_apps)
{
	struct pb_conf c;
	char err[256];
	const char *text = "[policy]\npetition.reply = 45d\npetition.review = 20d\n"
	                   "[petition.app.xfj]\nsecret_file = /tmp/xfj.secret\n"
	                   "[hotline.app.gd]\nsecret_file = /tmp/gd.secret\n";
	char *path;

	cr_assert_eq(pb_conf_load(NULL, &c, err, sizeof(err)), PB_OK);
	cr_expect_eq(c.policy.ack[PB_CH_PETITION].days, 15);
	cr_expect_eq(c.policy.ack[PB_CH_PETITION].hours, 0);
	cr_expect_eq(c.policy.ack[PB_CH_PETITION].working_days, 0);
	cr_expect_eq(c.policy.reply[PB_CH_PETITION].days, 60);
	cr_expect_eq(c.policy.extend_max[PB_CH_PETITION], 30);
	cr_expect_eq(c.policy.extend_times[PB_CH_PETITION], 1);
	cr_expect_eq(c.policy.petition_review.days, 30);
	path = write_tmp(text);
	cr_assert_eq(pb_conf_load(path, &c, err, sizeof(err)), PB_OK, "%s", err);
	unlink(path);
	cr_expect_eq(c.policy.reply[PB_CH_PETITION].days, 45);
	cr_expect_eq(c.policy.petition_review.days, 20);
	cr_assert_eq(c.npetition_apps, 1);
	cr_expect_str_eq(c.petition_apps[0].app_id, "xfj");
	cr_expect_str_eq(c.petition_apps[0].secret_file, "/tmp/xfj.secret");
	cr_assert_eq(c.nhotline_apps, 1);
	cr_expect_str_eq(c.hotline_apps[0].app_id, "gd");
	/* "5wd" stays working days; "0d" is no span. */
	path = write_tmp("[policy]\npetition.reply = 5wd\n");
	cr_assert_eq(pb_conf_load(path, &c, err, sizeof(err)), PB_OK, "%s", err);
	unlink(path);
	cr_expect_eq(c.policy.reply[PB_CH_PETITION].working_days, 5);
	cr_expect_eq(c.policy.reply[PB_CH_PETITION].days, 0);
	path = write_tmp("[policy]\npetition.reply = 0d\n");
	cr_expect_neq(pb_conf_load(path, &c, err, sizeof(err)), PB_OK);
	unlink(path);
}

/* The 12345 connector's key on both sides: the router's list and the
 * connector's own key file. */
Test(base, config_reads_connectors_and_dispatcher)
{
	struct pb_conf c;
	char err[256];
	uint8_t key[32];
	const char *text =
	    "[route]\ndispatcher = general\n"
	    "[hotline]\nkey_file = /srv/keys/hotline.key\n"
	    "[connector.hotline]\nkey = 0202020202020202020202020202020202020202020202020202020202020202\n";
	char *path = write_tmp(text);

	cr_assert_eq(pb_conf_load(path, &c, err, sizeof(err)), PB_OK, "%s", err);
	unlink(path);
	cr_assert_str_eq(c.hotline_key_file, "/srv/keys/hotline.key");
	cr_assert_str_eq(c.dispatcher_queue, "general");
	cr_assert_eq(c.nconnectors, 1);
	cr_assert_str_eq(c.connectors[0].name, "hotline");
	memset(key, 2, sizeof(key));
	cr_assert_eq(pb_conf_connector_by_key(&c, key), &c.connectors[0]);
	key[31] = 3;
	cr_assert_null(pb_conf_connector_by_key(&c, key));
	/* a handler's key list is not the connectors' */
	cr_assert_null(pb_conf_handler_by_key(&c, c.connectors[0].pubkey));
}

Test(base, config_errors_name_file_and_line)
{
	struct pb_conf c;
	char err[256];
	struct {
		const char *text, *want;
	} cases[] = {
		{"[router]\n\nlease_seconds = 1\n", ":3:"},
		{"[router]\nbogus = 1\n", ":2: unknown setting"},
		{"[policy]\nmailbox.reply = soon\n", ":2: bad clock"},
		{"[handler.bob]\nkey = 12\n", ":2: handler key"},
		{"[handler.bob]\nqueues = a\n", "has no key"},
		{"[route.x]\nchannel = fax\n", ":2: unknown channel"},
		{"[connector.hotline]\nkey = 12\n", ":2: connector key"},
		{"[connector.hotline]\nsecret = 12\n", ":2: unknown connector key"},
		{"[queues]\nmailbox = Bad Name\n", ":2: bad queue name"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = write_tmp(cases[i].text);
		cr_expect_neq(pb_conf_load(path, &c, err, sizeof(err)), PB_OK, "case %zu", i);
		cr_expect(strstr(err, path) != NULL, "case %zu: %s", i, err);
		cr_expect(strstr(err, cases[i].want) != NULL, "case %zu: %s", i, err);
		unlink(path);
	}
}

Test(base, config_reads_tls_settings)
{
	struct pb_conf c;
	char err[256];
	char *path = write_tmp("[router]\nlisten = tls+tcp://10.0.0.1:4433\n"
	                       "[tls]\ncert_file = g.crt\nkey_file = g.key\nca_file = ca.crt\n"
	                       "server_name = router.example\n"
	                       "[gateway]\ntls_cert_file = h.crt\ntls_key_file = h.key\n");

	cr_assert_eq(pb_conf_load(path, &c, err, sizeof(err)), PB_OK, "%s", err);
	unlink(path);
	cr_assert_str_eq(c.tls_cert_file, "g.crt");
	cr_assert_str_eq(c.tls_key_file, "g.key");
	cr_assert_str_eq(c.tls_ca_file, "ca.crt");
	cr_assert_str_eq(c.tls_server_name, "router.example");
	cr_assert_str_eq(c.https_cert_file, "h.crt");
	cr_assert(pb_tls_url(c.router_url));
	cr_assert_not(pb_tls_url("tcp://10.0.0.1:4433"));

	/* HTTPS needs both files. */
	path = write_tmp("[gateway]\ntls_cert_file = h.crt\n");
	cr_assert_eq(pb_conf_load(path, &c, err, sizeof(err)), PB_EINVAL);
	cr_assert(strstr(err, "go together") != NULL, "%s", err);
	unlink(path);
}

/* A tls+tcp:// URL without certificates is refused at once, naming the
 * settings, rather than failing every handshake later. */
Test(base, tls_dial_needs_settings)
{
	struct pb_conf c;
	char msg[512];
	nng_socket s;

	pb_conf_defaults(&c);
	pb_tls_configure(&c);
	cr_assert_eq(nng_req0_open(&s), 0);
	cr_assert_neq(pb_tls_dial(s, "tls+tcp://127.0.0.1:1", NNG_FLAG_NONBLOCK, NULL, msg, sizeof(msg)), 0);
	cr_assert(strstr(msg, "[tls] cert_file") != NULL, "%s", msg);
	cr_assert_eq(pb_tls_listen(s, "tls+tcp://127.0.0.1:0"), PB_EINVAL);
	nng_close(s);
}

Test(base, wire_envelopes_authenticate)
{
	uint8_t secret[32], other[32], pk[32], sk[64];
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__StatsReq stats = MAILROOM__STATS_REQ__INIT;
	Mailroom__Envelope *env;
	Mailroom__Request *got;
	uint8_t *buf;
	size_t len;

	randombytes_buf(secret, sizeof(secret));
	randombytes_buf(other, sizeof(other));
	req.op_case = MAILROOM__REQUEST__OP_STATS;
	req.stats = &stats;
	cr_assert_eq(pb_wire_seal_gateway(&req, secret, &buf, &len), PB_OK);
	cr_assert_eq(pb_wire_open(buf, len, secret, &env, &got), PB_OK);
	cr_assert_eq(got->op_case, MAILROOM__REQUEST__OP_STATS);
	cr_assert_eq(got->nonce.len, 16);
	cr_assert_gt(got->ts_ms, 0);
	mailroom__request__free_unpacked(got, NULL);
	mailroom__envelope__free_unpacked(env, NULL);
	cr_assert_eq(pb_wire_open(buf, len, other, &env, &got), PB_EAUTH);
	/* any flipped byte fails, whether it lands in the MAC, the request or framing */
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x01;
		int rc = pb_wire_open(buf, len, secret, &env, &got);
		cr_assert_neq(rc, PB_OK, "flip at %zu accepted", i);
		buf[i] ^= 0x01;
	}
	free(buf);

	crypto_sign_keypair(pk, sk);
	cr_assert_eq(pb_wire_seal_handler(&req, sk, &buf, &len), PB_OK);
	cr_assert_eq(pb_wire_open(buf, len, NULL, &env, &got), PB_OK);
	cr_assert_eq(env->key.len, 32);
	cr_assert_eq(memcmp(env->key.data, pk, 32), 0);
	mailroom__request__free_unpacked(got, NULL);
	mailroom__envelope__free_unpacked(env, NULL);
	/* a handler envelope is not accepted as a gateway one, nor the reverse */
	buf[len - 1] ^= 0x80;
	cr_assert_eq(pb_wire_open(buf, len, secret, &env, &got), PB_EAUTH);
	free(buf);
}

/* How the log names a handler: SHA-256("mailroom/actor/v1\n" || pk)[:8]. */
Test(base, actor_id_known_answer)
{
	uint8_t pk[32];
	char id[PB_ACTOR_ID_TEXT];

	for (int i = 0; i < 32; i++)
		pk[i] = (uint8_t)i;
	pb_actor_id(pk, id);
	cr_assert_str_eq(id, "0771f0f89b8eb4b4");
}

Test(base, config_reads_the_web_settings)
{
	struct pb_conf c;
	char err[256];
	const char *text = "[office]\nname = 示范市交通运输局\ndepartment.roads = 道路管理科\n"
	                   "[gateway]\ncors_origins = https://a.example, https://b.example\n"
	                   "submit_per_minute = 5\nlookup_per_minute = 0\n";
	char *path = write_tmp(text);

	cr_assert_eq(pb_conf_load(path, &c, err, sizeof(err)), PB_OK, "%s", err);
	unlink(path);
	cr_assert_str_eq(c.office_name, "示范市交通运输局");
	cr_assert_str_eq(pb_conf_department(&c, "roads"), "道路管理科");
	cr_assert_str_eq(pb_conf_department(&c, "general"), "general");
	cr_assert_str_eq(c.cors_origins, "https://a.example, https://b.example");
	cr_assert_eq(c.submit_per_minute, 5);
	cr_assert_eq(c.lookup_per_minute, 0);

	/* Defaults: an office name, no origins, no limits. */
	cr_assert_eq(pb_conf_load(NULL, &c, err, sizeof(err)), PB_OK);
	cr_assert_neq(c.office_name[0], '\0');
	cr_assert_str_eq(c.cors_origins, "");
	cr_assert_eq(c.submit_per_minute, 0);

	path = write_tmp("[office]\ndepartment.Bad Name = x\n");
	cr_assert_neq(pb_conf_load(path, &c, err, sizeof(err)), PB_OK);
	unlink(path);
}
