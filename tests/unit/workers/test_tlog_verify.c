/* mailroom-audit export and verify as processes: a store with legal
 * histories and checkpoints written as the router writes them, then
 * tampered with (store and bundle alike), and crafted histories that
 * break the message state machine or carry wrong deadlines. */
#include "helpers.h"
#include "tlog.h"
#include "pb_id.h"
#include "pb_time.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(tlog_verify, .init = tdir_setup, .fini = tdir_teardown, .timeout = 120);

static struct run r;
static struct tl_store s;

#define RUN(...)                                                         \
	do {                                                                 \
		const char *const av_[] = {"mailroom-audit", __VA_ARGS__, NULL}; \
		run_prog(&r, AUDIT_BIN, av_);                                    \
	} while (0)
#define CAL "--calendars", TL_CALENDARS

#define out_json() run_json(&r)

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A store of six messages' histories in five checkpointed batches; its
 * size. The environment is closed, keys kept. */
static uint64_t build(void)
{
	tl_create(&s, NULL);
	tl_history(&s, 6);
	uint64_t n = tl_size(&s);
	tl_close_env(&s);
	return n;
}

static void export_to(const char *file)
{
	RUN("export", "--store", s.dir, "--out", file, CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
}

/* verify of the store and of a bundle exported before the tampering. */
static void expect_both(const char *bundle, int code, const char *line)
{
	RUN("verify", "--store", s.dir, "--pubkey", s.pubkey, CAL);
	cr_assert_eq(r.exit, code, "store: %s%s", r.out, r.err);
	cr_assert(starts(r.out, line), "store: wanted '%s', got: %s", line, r.out);
	if (!bundle)
		return;
	RUN("verify", bundle, "--pubkey", s.pubkey, CAL);
	cr_assert_eq(r.exit, code, "bundle: %s%s", r.out, r.err);
	cr_assert(starts(r.out, line), "bundle: wanted '%s', got: %s", line, r.out);
}

Test(tlog_verify, store_and_bundle_verify)
{
	char want[300], first[400];
	struct stat sb;
	uint64_t n = build();
	json_t *j;

	/* The new store's checkpoint, then one per batch. */
	snprintf(want, sizeof(want), "ok: %llu records, 6 checkpoints, head ", (unsigned long long)n);
	RUN("verify", "--store", s.dir, "--pubkey", s.pubkey, CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, want), "%s", r.out);
	cr_assert(strstr(r.out, ", key " TL_ORIGIN "\n"), "%s", r.out);
	cr_assert_null(strstr(r.out, "warning"), "a clean log has no warnings: %s", r.out);
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(r.out, "\n"), r.out);

	char calv[2 * CAL_VERSION_LEN + 1];
	pb_hex(s.calv, CAL_VERSION_LEN, calv);
	RUN("export", "--store", s.dir, "--out", "log.bundle", CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	snprintf(want, sizeof(want),
	         "exported %llu records, 6 checkpoints, 1 key to log.bundle\n"
	         "calendars: 3 files, version %s\n",
	         (unsigned long long)n, calv);
	cr_assert_str_eq(r.out, want);
	cr_assert_eq(stat(tpath("log.bundle.tmp"), &sb), -1, "no temporary file left");

	FILE *f = fopen(tpath("log.bundle"), "rb");
	char magic[20] = "";
	cr_assert_not_null(f);
	cr_assert_eq(fread(magic, 1, 19, f), 19);
	fclose(f);
	cr_assert_str_eq(magic, "mailroom-bundle v1\n");

	RUN("verify", "log.bundle", "--pubkey", s.pubkey, CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, first), "the bundle says what the store says: %s / %s", first, r.out);

	RUN("verify", "--json", "log.bundle", CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	j = out_json();
	cr_assert(json_is_true(json_object_get(j, "ok")));
	cr_assert_str_eq(jstr(j, "source", NULL), "bundle");
	cr_assert_str_eq(jstr(j, "trusted", NULL), "record0");
	cr_assert_str_eq(jstr(j, "deadlines", NULL), "checked");
	cr_assert_eq(json_integer_value(json_object_get(j, "records")), (json_int_t)n);
	cr_assert_eq(json_integer_value(json_object_get(j, "checkpoints")), 6);
	cr_assert_eq(json_integer_value(json_object_get(j, "checkpointed")), (json_int_t)n);
	cr_assert_eq(json_array_size(json_object_get(j, "warnings")), 0);
	json_decref(j);
}

/* Every commit that appends records signs a checkpoint over them in the
 * same transaction: records under none were not written by the store. */
Test(tlog_verify, records_under_no_checkpoint_fail)
{
	struct tl_msg m;
	char want[128];
	uint64_t n = build(), end;

	tl_reopen(&s, s.dir);
	tl_begin(&s);
	tl_receive(&s, &m, "general", 1, 15);
	tl_commit(&s);
	end = tl_size(&s);
	tl_close_env(&s);
	tl_raw_delete_checkpoint(s.dir, end);
	snprintf(want, sizeof(want), "FAIL checkpoint: record %llu: records %llu..%llu are under no "
	         "signed checkpoint", (unsigned long long)n, (unsigned long long)n,
	         (unsigned long long)end - 1);
	expect_both(NULL, 20, want);
}

Test(tlog_verify, warnings_are_not_failures)
{
	build();

	/* The default calendar directory is not there: deadlines unchecked,
	 * which is no clean pass (31) unless asked for. */
	RUN("verify", "--store", s.dir);
	cr_assert_eq(r.exit, 31, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "ok, deadlines not checked: "), "%s", r.out);
	cr_assert(strstr(r.out, "warning: deadlines not checked"), "%s", r.out);
	RUN("verify", "--store", s.dir, "--no-deadlines");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	RUN("verify", "--store", s.dir, "--calendars", "no-such-dir");
	cr_assert_eq(r.exit, 8, "a named calendar directory must load: %s", r.err);
}

Test(tlog_verify, another_calendar_version_is_a_warning)
{
	struct tl_msg m;

	tl_create(&s, NULL);
	s.calv[0] ^= 0xff;   /* records name a calendar the auditor does not have */
	tl_begin(&s);
	tl_receive(&s, &m, "general", 1, 15);
	tl_extend(&s, &m, 3);
	tl_commit(&s);
	tl_close_env(&s);
	RUN("verify", "--store", s.dir, CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "warning: 2 records computed with another calendar version"), "%s",
	          r.out);
}

Test(tlog_verify, flipped_byte_is_a_rewritten_record)
{
	uint64_t n = build();
	long off;

	(void)n;
	export_to("log.bundle");
	off = tl_raw_offset(s.dir, 7, "general");
	store_flip(s.dir, 7, off);
	tl_bundle_edit(tpath("log.bundle"), TL_B_FLIP, 7, (uint64_t)off);
	expect_both("log.bundle", 18, "FAIL root: record 7: ");
}

Test(tlog_verify, deleted_record_is_missing)
{
	build();
	export_to("log.bundle");
	tl_raw_delete(s.dir, 5);
	tl_bundle_edit(tpath("log.bundle"), TL_B_DELETE, 5, 0);
	expect_both("log.bundle", 16, "FAIL missing: record 5: ");
}

Test(tlog_verify, swapped_records_are_out_of_order)
{
	build();
	export_to("log.bundle");
	tl_raw_swap(s.dir, 5, 6);
	tl_bundle_edit(tpath("log.bundle"), TL_B_SWAP, 5, 6);
	expect_both("log.bundle", 11, "FAIL index: record 5: ");
	cr_assert(strstr(r.out, "out of order"), "%s", r.out);
}

Test(tlog_verify, truncated_tail_is_shorter_than_its_checkpoint)
{
	char want[64];
	uint64_t n = build();

	export_to("log.bundle");
	tl_raw_truncate(s.dir, n - 3);
	tl_bundle_edit(tpath("log.bundle"), TL_B_TRUNCATE, n - 3, 0);
	snprintf(want, sizeof(want), "FAIL truncated: checkpoint %llu: ", (unsigned long long)n);
	expect_both("log.bundle", 17, want);
}

Test(tlog_verify, resigned_tail_under_old_checkpoints_has_another_root)
{
	struct tl_msg m;
	uint64_t n = build(), cut;
	char want[64];

	/* The first checkpoint covers the first batch; rewrite what follows
	 * with the log key itself, leaving the published checkpoints. */
	cut = 1 + 2 * 6;
	tl_raw_rewind(s.dir, cut);
	tl_reopen(&s, s.dir);
	tl_begin(&s);
	while (tl_size(&s) < n)
		tl_receive(&s, &m, "general", 1, 15);
	tl_commit(&s);
	tl_close_env(&s);
	/* The second checkpoint is the first one over rewritten records. */
	RUN("verify", "--store", s.dir, "--json");
	cr_assert_eq(r.exit, 18, "%s%s", r.out, r.err);
	RUN("verify", "--store", s.dir, CAL);
	cr_assert_eq(r.exit, 18, "%s%s", r.out, r.err);
	snprintf(want, sizeof(want), "FAIL root: record ");
	cr_assert(starts(r.out, want), "%s", r.out);
}

Test(tlog_verify, checkpoint_with_a_bad_signature)
{
	char want[64];
	uint64_t n = build();

	tl_raw_flip_checkpoint(s.dir, n, strlen(TL_ORIGIN) + 8);
	snprintf(want, sizeof(want), "FAIL checkpoint: checkpoint %llu: ", (unsigned long long)n);
	expect_both(NULL, 20, want);
}

Test(tlog_verify, another_key_and_usage)
{
	struct tl_store other;

	build();
	tl_create(&other, "second");
	tl_close(&other);
	RUN("verify", "--store", s.dir, "--pubkey", other.pubkey, CAL);
	cr_assert_eq(r.exit, 14, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "FAIL key: record 0: "), "%s", r.out);
	RUN("verify", "log.bundle", "--store", s.dir);
	cr_assert_eq(r.exit, 1);
	RUN("verify", "no-such.bundle");
	cr_assert_eq(r.exit, 2);
	tl_write_text(tpath("junk"), "not a bundle at all\n");
	RUN("verify", "junk");
	cr_assert_eq(r.exit, 8, "%s", r.err);
	export_to("log.bundle");
	cr_assert_eq(truncate(tpath("log.bundle"), 200), 0);
	RUN("verify", "log.bundle");
	cr_assert_eq(r.exit, 10, "a cut bundle file: %s%s", r.out, r.err);
	cr_assert(starts(r.out, "FAIL malformed: bundle 0: "), "%s", r.out);
	RUN("export", "--store", s.dir);
	cr_assert_eq(r.exit, 1, "--out is required");
}

Test(tlog_verify, export_while_a_writer_has_the_store_open)
{
	struct tl_msg m;

	build();
	tl_reopen(&s, s.dir);
	tl_begin(&s);
	tl_receive(&s, &m, "general", 1, 15);
	/* Uncommitted records are not in the snapshot. */
	RUN("export", "--store", s.dir, "--out", "live.bundle");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	tl_commit(&s);
	RUN("verify", "live.bundle", CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	RUN("verify", "--store", s.dir, CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	tl_close_env(&s);
}

/* ---- the state machine ---- */

/* A store with one received message m; the caller appends more. */
static void one_message(struct tl_msg *m)
{
	tl_create(&s, NULL);
	tl_begin(&s);
	tl_receive(&s, m, "general", 1, 15);
}

static void expect_state(const char *what)
{
	tl_commit(&s);
	tl_close_env(&s);
	RUN("verify", "--store", s.dir, CAL);
	cr_assert_eq(r.exit, 21, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "FAIL state: record "), "%s", r.out);
	cr_assert(strstr(r.out, what), "wanted '%s': %s", what, r.out);
}

Test(tlog_verify, replied_without_a_lease)
{
	struct tl_msg m;

	one_message(&m);
	snprintf(m.holder, sizeof(m.holder), "handler:alice");
	tl_reply(&s, &m);
	expect_state("REPLIED while the message is not leased");
}

Test(tlog_verify, second_received)
{
	struct tl_msg m;
	Mailroom__AuditRecord rec;

	one_message(&m);
	tl_rec(&s, &m, &rec, MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED, "gateway");
	tl_append(&s, &rec);
	expect_state("a second RECEIVED (the first is record 1)");
}

Test(tlog_verify, replied_by_someone_without_the_lease)
{
	struct tl_msg m;

	one_message(&m);
	tl_lease(&s, &m, "alice");
	snprintf(m.holder, sizeof(m.holder), "handler:bob");
	tl_reply(&s, &m);
	expect_state("REPLIED by handler:bob, who does not hold the lease taken at record 3");
}

Test(tlog_verify, escalation_after_the_reply)
{
	struct tl_msg m;

	one_message(&m);
	tl_lease(&s, &m, "alice");
	tl_reply(&s, &m);
	tl_escalate(&s, &m, ST_CLOCK_REPLY, 1);
	expect_state("DUE_SOON after the message was closed at record 4");
}

Test(tlog_verify, escalation_step_twice)
{
	struct tl_msg m;

	one_message(&m);
	tl_escalate(&s, &m, ST_CLOCK_REPLY, 1);
	tl_escalate(&s, &m, ST_CLOCK_REPLY, 1);
	expect_state("DUE_SOON a second time for the same reply deadline");
}

Test(tlog_verify, acknowledgement_escalation_after_the_lease)
{
	struct tl_msg m;

	one_message(&m);
	tl_lease(&s, &m, "alice");
	tl_escalate(&s, &m, ST_CLOCK_ACK, 1);
	expect_state("touches the acknowledgement clock after it stopped");
}

Test(tlog_verify, received_never_routed)
{
	struct tl_msg m, n;
	Mailroom__AuditRecord rec;

	one_message(&m);
	memset(&n, 0, sizeof(n));
	n = m;
	n.id[15] ^= 1;
	tl_rec(&s, &n, &rec, MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED, "gateway");
	tl_append(&s, &rec);
	expect_state("RECEIVED but never ROUTED");
}

/* ---- deadlines ---- */

static void expect_deadline(const char *line, const char *what)
{
	tl_commit(&s);
	tl_close_env(&s);
	RUN("verify", "--store", s.dir, CAL);
	cr_assert_eq(r.exit, 22, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, line), "wanted '%s': %s", line, r.out);
	cr_assert(strstr(r.out, what), "wanted '%s': %s", what, r.out);
	/* Without calendars the same log passes only if the auditor says
	 * deadlines are not to be checked. */
	RUN("verify", "--store", s.dir);
	cr_assert_eq(r.exit, 31, "%s%s", r.out, r.err);
	RUN("verify", "--store", s.dir, "--no-deadlines");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
}

Test(tlog_verify, extension_with_a_wrong_computed_due)
{
	struct tl_msg m;
	int64_t old;

	one_message(&m);
	old = m.reply.due_ms;
	m.reply.extended_days += 5;
	m.reply.extensions++;
	tl_compute(&s, &m.reply);
	m.reply.computed_due_ms += PB_DAY_MS;
	m.reply.due_ms += PB_DAY_MS;
	tl_clock(&s, &m, MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_EXTENDED, old);
	expect_deadline("FAIL deadline: record 3: ", "computed due is");
}

Test(tlog_verify, received_due_against_the_clock_span)
{
	struct tl_msg m;

	one_message(&m);
	/* Its first clock record shows a 10-day span; RECEIVED said 15. */
	m.reply.working_days = 10;
	tl_extend(&s, &m, 2);
	expect_deadline("FAIL deadline: record 1: ", "RECEIVED gives the reply due");
}

Test(tlog_verify, escalation_before_its_time)
{
	struct tl_msg m;
	Mailroom__AuditRecord rec;

	one_message(&m);
	tl_escalate(&s, &m, ST_CLOCK_REPLY, 1);
	m.reply.escalation = 2;
	tl_rec(&s, &m, &rec, MAILROOM__AUDIT_EVENT__AUDIT_OVERDUE, "router");
	rec.time_ms = m.reply.due_ms - 3600 * 1000;
	rec.clock = &m.reply;
	tl_append(&s, &rec);
	expect_deadline("FAIL deadline: record 4: ", "before its time");
}

static char *read_bytes(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;

	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	*len = (size_t)ftell(f);
	rewind(f);
	cr_assert_not_null(b = malloc(*len));
	cr_assert_eq(fread(b, 1, *len, f), *len);
	fclose(f);
	return b;
}

static void write_bytes(const char *path, const char *b, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(b, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* A bundle carries the calendars it was judged by: verified anywhere,
 * with no --calendars, its deadlines are checked on them. */
Test(tlog_verify, a_bundle_carries_its_calendars)
{
	json_t *j;

	build();
	export_to("log.bundle");
	RUN("verify", "log.bundle", "--json");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	j = out_json();
	cr_assert_str_eq(jstr(j, "deadlines", NULL), "checked");
	cr_assert_eq(json_array_size(json_object_get(j, "warnings")), 0, "%s", r.out);
	json_decref(j);
	RUN("verify", "log.bundle");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "ok: "), "%s", r.out);

	/* A calendar changed inside the bundle no longer hashes to the
	 * version stated with it. */
	size_t len = 0;
	char *b = read_bytes(tpath("log.bundle"), &len);
	char *hit = memmem(b, len, "holiday 2026-10-01 2026-10-07", 29);
	cr_assert_not_null(hit, "the 2026 file is embedded as it is");
	hit[17] = '6';
	write_bytes(tpath("bad.bundle"), b, len);
	free(b);
	RUN("verify", "bad.bundle");
	cr_assert_eq(r.exit, 10, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "its calendars: the calendar files do not hash to the version"),
	          "%s", r.out);
	/* --calendars still overrides what the bundle carries. */
	RUN("verify", "bad.bundle", CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
}

/* A bundle exported without calendars (as every bundle before them):
 * deadlines cannot be checked, so the verdict says so and exits 31. */
Test(tlog_verify, a_bundle_without_calendars_exits_31)
{
	build();
	RUN("export", "--store", s.dir, "--out", "old.bundle");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "warning: no calendars embedded"), "%s", r.out);
	RUN("verify", "old.bundle");
	cr_assert_eq(r.exit, 31, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "ok, deadlines not checked: "), "%s", r.out);
	cr_assert(strstr(r.out, "the bundle carries no calendars"), "%s", r.out);
	RUN("verify", "old.bundle", "--no-deadlines");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	RUN("verify", "old.bundle", CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	/* A named directory that does not load is refused at export. */
	RUN("export", "--store", s.dir, "--out", "x.bundle", "--calendars", "no-such-dir");
	cr_assert_eq(r.exit, 8, "%s%s", r.out, r.err);
}
