/* mailroom-audit deadline and overdue as processes: due dates from the
 * repository's calendars, and missed deadlines rebuilt from a store's
 * audit records. */
#include "helpers.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

TestSuite(deadline, .init = tdir_setup, .fini = tdir_teardown, .timeout = 60);
TestSuite(overdue, .init = tdir_setup, .fini = tdir_teardown, .timeout = 60);

#define CALENDARS MR_SOURCE_DIR "/deploy/calendars"

static struct run r;

#define RUN(...)                                                      \
	do {                                                              \
		const char *const av_[] = {"mailroom-audit", __VA_ARGS__, NULL}; \
		run_prog(&r, AUDIT_BIN, av_);                                 \
	} while (0)

#define out_json() run_json(&r)

/* ---- deadline ---- */

Test(deadline, worked_examples_of_deadlines_md)
{
	/* deadlines.md section 2, "Worked examples". */
	static const struct {
		const char *from, *days, *due;
	} ex[] = {
		{"2024-09-27", "20", "2024-10-30"}, {"2025-01-20", "20", "2025-02-21"},
		{"2025-01-20", "40", "2025-03-21"}, {"2025-04-25", "20", "2025-05-27"},
		{"2025-09-26", "7", "2025-10-13"},  {"2025-09-26", "20", "2025-10-30"},
		{"2026-02-13", "20", "2026-03-19"}, {"2026-09-18", "20", "2026-10-22"},
	};
	char want[32];

	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		RUN("deadline", "--from", ex[i].from, "--working-days", ex[i].days, "--calendars",
		    CALENDARS);
		cr_assert_eq(r.exit, 0, "%s + %s: %s", ex[i].from, ex[i].days, r.err);
		snprintf(want, sizeof(want), "%s\n", ex[i].due);
		cr_assert_str_eq(r.out, want, "%s + %s", ex[i].from, ex[i].days);
	}
}

Test(deadline, zero_days_is_day_zero)
{
	RUN("deadline", "--from", "2025-01-28", "--working-days", "0", "--calendars", CALENDARS);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "2025-01-28\n", "a holiday, but no day is counted");
}

Test(deadline, past_the_last_calendar_is_provisional)
{
	RUN("deadline", "--from", "2026-12-21", "--working-days", "20", "--calendars", CALENDARS);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	/* No 2027 notice: 元旦 is off all the same, by law. */
	cr_assert_str_eq(r.out, "2027-01-19 provisional\n");
	RUN("deadline", "--from", "2026-12-30", "--working-days", "2", "--calendars", CALENDARS);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "2027-01-04 provisional\n");
	/* Inside the loaded years nothing is provisional. */
	RUN("deadline", "--from", "2026-11-02", "--working-days", "20", "--calendars", CALENDARS);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_null(strstr(r.out, "provisional"), "%s", r.out);
}

Test(deadline, json_shape)
{
	json_t *j;
	const char *ver;

	RUN("deadline", "--json", "--from", "2025-01-20", "--working-days", "40", "--calendars",
	    CALENDARS);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	j = out_json();
	cr_assert_eq(json_object_size(j), 6, "%s", r.out);
	cr_assert_str_eq(jstr(j, "from", NULL), "2025-01-20");
	cr_assert_eq(json_integer_value(json_object_get(j, "working_days")), 40);
	cr_assert_str_eq(jstr(j, "due", NULL), "2025-03-21");
	cr_assert_str_eq(jstr(j, "due_at", NULL), "2025-03-21T23:59:59+08:00");
	cr_assert(json_is_false(json_object_get(j, "provisional")));
	ver = jstr(j, "calendar_version", NULL);
	cr_assert_not_null(ver);
	cr_assert_eq(strlen(ver), 64);
	cr_assert_eq(strspn(ver, "0123456789abcdef"), 64);
	json_decref(j);

	RUN("deadline", "--json", "--from", "2027-03-01", "--working-days", "5", "--calendars",
	    CALENDARS);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	j = out_json();
	cr_assert(json_is_true(json_object_get(j, "provisional")), "%s", r.out);
	json_decref(j);
}

Test(deadline, bad_arguments)
{
	RUN("deadline", "--working-days", "20", "--calendars", CALENDARS);
	cr_assert_eq(r.exit, 1, "no --from");
	RUN("deadline", "--from", "2025-01-20", "--calendars", CALENDARS);
	cr_assert_eq(r.exit, 1, "no --working-days");
	RUN("deadline", "--from", "2025-01-20", "--working-days", "3", "--store", "x");
	cr_assert_eq(r.exit, 1, "--store does not apply");
	RUN("deadline", "2025-01-20", "--from", "2025-01-20", "--working-days", "3");
	cr_assert_eq(r.exit, 1, "no positional arguments");

	static const char *dates[] = {"2025-1-20", "2025-02-30", "20250120", "yesterday"};
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		RUN("deadline", "--from", dates[i], "--working-days", "3", "--calendars", CALENDARS);
		cr_assert_eq(r.exit, 8, "%s: %s", dates[i], r.err);
	}
	RUN("deadline", "--from", "9999-12-20", "--working-days", "10", "--calendars", CALENDARS);
	cr_assert_eq(r.exit, 8, "past year 9999: %s", r.out);
	static const char *days[] = {"-1", "+3", "3x", "", "10001"};
	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
		RUN("deadline", "--from", "2025-01-20", "--working-days", days[i], "--json",
		    "--calendars", CALENDARS);
		cr_assert_eq(r.exit, 8, "'%s': %s", days[i], r.err);
		cr_assert(strstr(r.out, "\"invalid_days\""), "%s", r.out);
	}
}

Test(deadline, broken_calendar_names_file_and_line)
{
	char want[300];
	FILE *f;

	cr_assert_eq(mkdir(tpath("cal"), 0700), 0);
	f = fopen(tpath("cal/cn-2025.cal"), "w");
	cr_assert_not_null(f);
	fputs("year 2025\nnotice test\nissued 2024-11-12\nholiday 2025-02-30\n", f);
	fclose(f);
	RUN("deadline", "--from", "2025-01-20", "--working-days", "20", "--calendars", tpath("cal"));
	cr_assert_eq(r.exit, 8, "%s", r.err);
	snprintf(want, sizeof(want), "%s:4: ", tpath("cal/cn-2025.cal"));
	cr_assert(strstr(r.err, want), "names file and line: %s", r.err);
	cr_assert_str_eq(r.out, "", "no date printed");

	RUN("deadline", "--from", "2025-01-20", "--working-days", "20", "--calendars",
	    tpath("no-such-dir"));
	cr_assert_eq(r.exit, 8, "%s", r.err);
}

/* The office's own file for a year replaces the shipped one, as in the
 * router ([router] local_calendars); a named directory must exist. */
Test(deadline, the_offices_own_calendar_wins)
{
	FILE *f;

	/* 2025-01-20 + 20 is 2025-02-21 on the shipped 2025 notice. */
	cr_assert_eq(mkdir(tpath("office"), 0700), 0);
	RUN("deadline", "--from", "2025-01-20", "--working-days", "20", "--calendars", CALENDARS,
	    "--local-calendars", tpath("office"));
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "2025-02-21\n", "an empty office directory changes nothing");
	/* The office's 2025: no Spring Festival break, a week off in March. */
	f = fopen(tpath("office/cn-2025.cal"), "w");
	cr_assert_not_null(f);
	fputs("year 2025\nnotice office copy\nissued 2024-11-12\nholiday 2025-03-03 2025-03-07\n",
	      f);
	fclose(f);
	RUN("deadline", "--from", "2025-01-20", "--working-days", "20", "--calendars", CALENDARS,
	    "--local-calendars", tpath("office"));
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "2025-02-17\n", "the office's 2025, not the shipped one");
	RUN("deadline", "--from", "2025-01-20", "--working-days", "30", "--calendars", CALENDARS,
	    "--local-calendars", tpath("office"));
	cr_assert_str_eq(r.out, "2025-03-10\n", "the office's week off in March");
	RUN("deadline", "--from", "2025-01-20", "--working-days", "20", "--calendars", CALENDARS,
	    "--local-calendars", tpath("no-such-dir"));
	cr_assert_eq(r.exit, 8, "a missing office directory is refused: %s", r.err);
	cr_assert(strstr(r.err, "--local-calendars"), "%s", r.err);
}

/* ---- overdue ---- */

static int64_t at(const char *rfc3339)
{
	int64_t ms;

	cr_assert_eq(pb_time_parse(rfc3339, &ms), PB_OK, "%s", rfc3339);
	return ms;
}

static int64_t eod(const char *date)
{
	char buf[40];

	snprintf(buf, sizeof(buf), "%sT23:59:59+08:00", date);
	return at(buf);
}

/* One message as its records describe it; due and ack change as the
 * test goes. */
struct m {
	uint8_t id[16];
	char idt[PB_ID_TEXT_LEN + 1];
	int channel;
	const char *queue;
	int64_t due, ack;
};

static void m_init(struct m *m, int64_t t, int channel, const char *queue, const char *due,
                   const char *ack)
{
	pb_id_new(t, m->id);
	pb_id_to_text(m->id, m->idt);
	m->channel = channel;
	m->queue = queue;
	m->due = eod(due);
	m->ack = ack ? eod(ack) : 0;
}

/* Appends a record about m; clock (may be NULL) is the reply clock after
 * a clock change. */
static void rec(st_txn *t, const struct m *m, int event, const char *when,
                Mailroom__Clock *clock, int64_t old_due)
{
	Mailroom__AuditRecord r = MAILROOM__AUDIT_RECORD__INIT;

	r.time_ms = at(when);
	r.actor = event == MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED ? "gateway" : "handler:alice";
	r.event = event;
	r.message_id.data = (uint8_t *)m->id;
	r.message_id.len = 16;
	r.channel = m->channel;
	r.queue = (char *)m->queue;
	r.due_ms = m->due;
	r.ack_due_ms = m->ack;
	r.clock = clock;
	r.old_due_ms = old_due;
	cr_assert_eq(st_log_append(t, &r, NULL), PB_OK);
}

static void clock_rec(st_txn *t, const struct m *m, int event, const char *when, int depth,
                      const char *since, int64_t old_due)
{
	Mailroom__Clock c = MAILROOM__CLOCK__INIT;

	c.kind = ST_CLOCK_REPLY;
	c.pause_depth = (uint32_t)depth;
	c.paused_since_ms = since ? at(since) : 0;
	c.due_ms = m->due;
	rec(t, m, event, when, &c, old_due);
}

/* The message as the store keeps it: only its tracking code is shown.
 * Its due fields are wrong on purpose; the report must not read them. */
static void stored(st_txn *t, const struct m *m, char track[PB_TRACK_TEXT_LEN + 1])
{
	Mailroom__StoredMessage s = MAILROOM__STORED_MESSAGE__INIT;

	pb_track_new(track);
	s.id.data = (uint8_t *)m->id;
	s.id.len = 16;
	s.tracking_code = track;
	s.channel = m->channel;
	s.status = MAILROOM__STATUS__STATUS_REPLIED;
	s.queue = (char *)m->queue;
	s.subject = "路灯不亮";
	s.body = "幸福路的路灯坏了三天。";
	s.reply_due_ms = eod("2030-01-01");
	s.ack_due_ms = eod("2030-01-01");
	cr_assert_eq(st_msg_put(t, &s), PB_OK);
	cr_assert_eq(st_track_put(t, track, m->id), PB_OK);
}

enum { A, B, C, D, E, F, G, NM };
static struct fixture_store fs;
static struct m ms[NM];
static char track_a[PB_TRACK_TEXT_LEN + 1], track_b[PB_TRACK_TEXT_LEN + 1];

#define NOW "2025-11-05T12:00:00+08:00"
#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x
#define CH(x) MAILROOM__CHANNEL__CHANNEL_##x

static void build(void)
{
	st_env *env = store_create(&fs, NULL);
	int64_t base = at("2025-01-20T10:00:00+08:00");
	st_txn *t;

	cr_assert_eq(st_txn_begin(env, NULL, 0, &t), PB_OK);
	/* A: acknowledged and answered in time. */
	m_init(&ms[A], base, CH(MAILBOX), "roads", "2025-02-21", "2025-01-21");
	rec(t, &ms[A], EV(RECEIVED), "2025-01-20T10:00:00+08:00", NULL, 0);
	rec(t, &ms[A], EV(LEASED), "2025-01-21T09:00:00+08:00", NULL, 0);
	rec(t, &ms[A], EV(REPLIED), "2025-02-20T15:00:00+08:00", NULL, 0);
	stored(t, &ms[A], track_a);

	/* B: acknowledged two working days late (the Sunday 04-27 was a
	 * make-up working day), answered two working days late. */
	m_init(&ms[B], base + 1, CH(COMPLAINT), "env", "2025-05-27", "2025-04-27");
	rec(t, &ms[B], EV(RECEIVED), "2025-04-25T16:00:00+08:00", NULL, 0);
	rec(t, &ms[B], EV(ROUTED), "2025-04-25T16:00:01+08:00", NULL, 0);
	rec(t, &ms[B], EV(LEASED), "2025-04-29T10:00:00+08:00", NULL, 0);
	rec(t, &ms[B], EV(LEASE_EXPIRED), "2025-04-29T10:30:00+08:00", NULL, 0);
	rec(t, &ms[B], EV(LEASED), "2025-05-28T10:00:00+08:00", NULL, 0);
	rec(t, &ms[B], EV(REPLIED), "2025-05-29T11:00:00+08:00", NULL, 0);
	stored(t, &ms[B], track_b);

	/* C: a disclosure application (no acknowledgement clock), paused for
	 * a day and moved to 10-31, still open: three working days missed. */
	m_init(&ms[C], base + 2, CH(DISCLOSURE), "disclosure", "2025-10-30", NULL);
	rec(t, &ms[C], EV(RECEIVED), "2025-09-26T09:00:00+08:00", NULL, 0);
	clock_rec(t, &ms[C], EV(CLOCK_PAUSED), "2025-10-09T10:00:00+08:00", 1,
	          "2025-10-09T10:00:00+08:00", ms[C].due);
	ms[C].due = eod("2025-10-31");
	clock_rec(t, &ms[C], EV(CLOCK_RESUMED), "2025-10-10T10:00:00+08:00", 0, NULL,
	          eod("2025-10-30"));

	/* D: open, not due yet. */
	m_init(&ms[D], base + 3, CH(MAILBOX), "roads", "2025-11-18", "2025-10-29");
	rec(t, &ms[D], EV(RECEIVED), "2025-10-28T10:00:00+08:00", NULL, 0);
	rec(t, &ms[D], EV(LEASED), "2025-10-28T11:00:00+08:00", NULL, 0);

	/* E: extended by 20 working days, then answered inside the extension. */
	m_init(&ms[E], base + 4, CH(DISCLOSURE), "disclosure", "2025-02-21", NULL);
	rec(t, &ms[E], EV(RECEIVED), "2025-01-20T10:00:00+08:00", NULL, 0);
	ms[E].due = eod("2025-03-21");
	clock_rec(t, &ms[E], EV(CLOCK_EXTENDED), "2025-02-10T10:00:00+08:00", 0, NULL,
	          eod("2025-02-21"));
	rec(t, &ms[E], EV(REPLIED), "2025-03-10T10:00:00+08:00", NULL, 0);

	/* F: paused before its deadline and still paused: not overdue. */
	m_init(&ms[F], base + 5, CH(DISCLOSURE), "disclosure", "2025-10-30", NULL);
	rec(t, &ms[F], EV(RECEIVED), "2025-09-26T09:00:00+08:00", NULL, 0);
	clock_rec(t, &ms[F], EV(CLOCK_PAUSED), "2025-10-20T10:00:00+08:00", 1,
	          "2025-10-20T10:00:00+08:00", ms[F].due);

	/* G: paused after its deadline had passed: overdue up to the pause,
	 * two working days across the National Day holiday. */
	m_init(&ms[G], base + 6, CH(DISCLOSURE), "disclosure", "2025-09-29", NULL);
	rec(t, &ms[G], EV(RECEIVED), "2025-09-01T10:00:00+08:00", NULL, 0);
	clock_rec(t, &ms[G], EV(CLOCK_PAUSED), "2025-10-09T10:00:00+08:00", 1,
	          "2025-10-09T10:00:00+08:00", ms[G].due);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	st_close(env);
}

/* The text line about m's clock, or NULL. */
static const char *line_of(const struct m *m, const char *clock)
{
	static char want[64];

	snprintf(want, sizeof(want), "%s %s ", m->idt, clock);
	return strstr(r.out, want);
}

static int count_lines(void)
{
	int n = 0;

	for (const char *p = r.out; *p; p++)
		n += *p == '\n';
	return n;
}

Test(overdue, text_report)
{
	char want[256];
	const char *l;

	build();
	RUN("overdue", "--store", fs.dir, "--calendars", CALENDARS, "--now", NOW);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);

	l = line_of(&ms[B], "reply");
	cr_assert_not_null(l, "%s", r.out);
	snprintf(want, sizeof(want),
	         "%s reply tracking=%s channel=complaint queue=env due=2025-05-27T23:59:59+08:00 "
	         "replied_at=2025-05-29T11:00:00+08:00 missed=2\n",
	         ms[B].idt, track_b);
	cr_assert(strncmp(l, want, strlen(want)) == 0, "got %s\nwant %s", r.out, want);
	l = line_of(&ms[B], "ack");
	cr_assert_not_null(l, "%s", r.out);
	snprintf(want, sizeof(want),
	         "%s ack tracking=%s channel=complaint queue=env due=2025-04-27T23:59:59+08:00 "
	         "acknowledged_at=2025-04-29T10:00:00+08:00 missed=2\n",
	         ms[B].idt, track_b);
	cr_assert(strncmp(l, want, strlen(want)) == 0, "got %s\nwant %s", r.out, want);

	l = line_of(&ms[C], "reply");
	cr_assert_not_null(l, "%s", r.out);
	snprintf(want, sizeof(want),
	         "%s reply tracking=- channel=disclosure queue=disclosure "
	         "due=2025-10-31T23:59:59+08:00 open missed=3\n",
	         ms[C].idt);
	cr_assert(strncmp(l, want, strlen(want)) == 0, "got %s\nwant %s", r.out, want);

	l = line_of(&ms[G], "reply");
	cr_assert_not_null(l, "%s", r.out);
	cr_assert(strstr(l, " open paused_since=2025-10-09T10:00:00+08:00 missed=2\n"), "%s", l);

	for (int i = 0; i < NM; i++)
		if (i != B && i != C && i != G) {
			cr_assert_null(line_of(&ms[i], "reply"), "message %c: %s", 'A' + i, r.out);
			cr_assert_null(line_of(&ms[i], "ack"), "message %c: %s", 'A' + i, r.out);
		}
	cr_assert_null(line_of(&ms[C], "ack"), "no acknowledgement clock");
	cr_assert_eq(count_lines(), 5, "four misses and the summary: %s", r.out);
	cr_assert(strstr(r.out, "\n3 overdue (open 2, answered late 1); "
	                        "acknowledgement: 1 overdue (open 0, late 1)\n"),
	          "%s", r.out);
	cr_assert(strstr(r.err, "record 0"), "says what it trusted: %s", r.err);
}

Test(overdue, today_moves_open_ones)
{
	build();
	/* On the due day itself nothing open is late yet; D falls due 11-18. */
	RUN("overdue", "--store", fs.dir, "--calendars", CALENDARS, "--now",
	    "2025-10-31T23:00:00+08:00", "--pubkey", fs.pubkey);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_null(line_of(&ms[C], "reply"), "%s", r.out);
	cr_assert_eq(r.err[0], '\0', "key pinned, no note: %s", r.err);

	RUN("overdue", "--store", fs.dir, "--calendars", CALENDARS, "--now",
	    "2025-11-19T09:00:00+08:00");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(line_of(&ms[D], "reply"), " open missed=1\n"), "%s", r.out);
	cr_assert(strstr(line_of(&ms[C], "reply"), " open missed=13\n"), "%s", r.out);
}

Test(overdue, json_report)
{
	json_t *j, *arr, *s;
	int seen = 0;

	build();
	RUN("overdue", "--json", "--store", fs.dir, "--calendars", CALENDARS, "--now", NOW);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	j = out_json();
	cr_assert_str_eq(jstr(j, "now", NULL), NOW);
	cr_assert_eq(strlen(jstr(j, "calendar_version", NULL)), 64);
	cr_assert_str_eq(jstr(j, "log", "key"), "mailroom.test/log");
	s = json_object_get(j, "summary");
	cr_assert_eq(json_integer_value(json_object_get(s, "overdue")), 3, "%s", r.out);
	cr_assert_eq(json_integer_value(json_object_get(s, "open")), 2);
	cr_assert_eq(json_integer_value(json_object_get(s, "answered_late")), 1);
	cr_assert_eq(json_integer_value(json_object_get(s, "ack_overdue")), 1);
	cr_assert_eq(json_integer_value(json_object_get(s, "ack_open")), 0);
	cr_assert_eq(json_integer_value(json_object_get(s, "ack_late")), 1);
	arr = json_object_get(j, "overdue");
	cr_assert_eq(json_array_size(arr), 4, "%s", r.out);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *e = json_array_get(arr, i);
		const char *id = jstr(e, "id", NULL), *clock = jstr(e, "clock", NULL);
		long days = (long)json_integer_value(json_object_get(e, "working_days_missed"));
		if (strcmp(id, ms[B].idt) == 0 && strcmp(clock, "reply") == 0) {
			cr_assert_str_eq(jstr(e, "tracking_code", NULL), track_b);
			cr_assert_str_eq(jstr(e, "channel", NULL), "complaint");
			cr_assert_str_eq(jstr(e, "queue", NULL), "env");
			cr_assert_str_eq(jstr(e, "state", NULL), "late");
			cr_assert_str_eq(jstr(e, "due", NULL), "2025-05-27T23:59:59+08:00");
			cr_assert_str_eq(jstr(e, "replied_at", NULL), "2025-05-29T11:00:00+08:00");
			cr_assert_eq(days, 2);
			seen |= 1;
		} else if (strcmp(id, ms[B].idt) == 0) {
			cr_assert_str_eq(clock, "ack");
			cr_assert_str_eq(jstr(e, "acknowledged_at", NULL), "2025-04-29T10:00:00+08:00");
			cr_assert_eq(days, 2);
			seen |= 2;
		} else if (strcmp(id, ms[C].idt) == 0) {
			cr_assert(json_is_null(json_object_get(e, "tracking_code")));
			cr_assert(json_is_null(json_object_get(e, "replied_at")));
			cr_assert_str_eq(jstr(e, "state", NULL), "open");
			cr_assert_eq(days, 3);
			seen |= 4;
		} else {
			cr_assert_str_eq(id, ms[G].idt);
			cr_assert_str_eq(jstr(e, "paused_since", NULL), "2025-10-09T10:00:00+08:00");
			cr_assert_eq(days, 2);
			seen |= 8;
		}
	}
	cr_assert_eq(seen, 15);
	json_decref(j);
}

Test(overdue, refuses_a_tampered_log)
{
	build();
	store_flip(fs.dir, 3, -1);
	RUN("overdue", "--store", fs.dir, "--calendars", CALENDARS, "--now", NOW);
	cr_assert_eq(r.exit, 13, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "FAIL signature: record 3: "), "%s", r.out);
	cr_assert_null(strstr(r.out, "overdue"), "no report from a bad log: %s", r.out);
	RUN("overdue", "--json", "--store", fs.dir, "--calendars", CALENDARS, "--now", NOW);
	cr_assert_eq(r.exit, 13, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "\"ok\": false"), "%s", r.out);
}

Test(overdue, bad_arguments)
{
	RUN("overdue", "--calendars", CALENDARS);
	cr_assert_eq(r.exit, 1, "no --store");
	RUN("overdue", "--store", "x", "--from", "2025-01-01");
	cr_assert_eq(r.exit, 1, "--from does not apply");
	RUN("overdue", "--store", "no-such-store", "--calendars", CALENDARS);
	cr_assert_eq(r.exit, 2, "%s", r.err);
	RUN("overdue", "--store", "no-such-store", "--calendars", CALENDARS, "--now", "today");
	cr_assert_eq(r.exit, 8, "%s", r.err);
	RUN("overdue", "--store", "no-such-store", "--calendars", "no-such-dir");
	cr_assert_eq(r.exit, 8, "%s", r.err);
}
