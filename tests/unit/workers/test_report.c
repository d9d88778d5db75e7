/* mailroom-audit report: a generated data set over 2024-2026 (disclosure
 * applications live and imported, with corrections, consultations,
 * fees, extensions, back-dated receipts, reviews and lawsuits, and
 * messages of the other five channels), written into a store with the
 * store API; the expected tables are counted here from the generator's
 * plan, and every cell of the report is compared. */
#include "disc.h"
#include "helpers.h"
#include "pb_id.h"
#include "pb_time.h"
#include "report_plan.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

TestSuite(report, .init = tdir_setup, .fini = tdir_teardown, .timeout = 240);

#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x
#define DAY PB_DAY_MS
#define NAPPS 160
#define NOTHER 100
#define NCASES 80

static struct run r;
static struct tl_store s;

#define RUN(...)                                                         \
	do {                                                                 \
		const char *const av_[] = {"mailroom-audit", __VA_ARGS__, NULL}; \
		run_prog(&r, AUDIT_BIN, av_);                                    \
	} while (0)
#define CAL "--calendars", TL_CALENDARS

static const int channel_enum[5] = {1, 2, 3, 4, 6};

static struct rp_plan plan;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void push(struct rp_msg *p, int64_t t, const Mailroom__Clock *c)
{
	rp_push(p, t, c->due_ms, c->pause_depth > 0);
}

static int64_t at10(int y, int m, int d)
{
	return pb_day_start_ms(pb_days_from_civil(y, m, d)) + 10 * 3600 * 1000LL;
}

static void gen_case(const struct rp_msg *p, struct dc_app *a, int i)
{
	struct rp_case *c = rp_case_new(&plan);
	char no[32];

	snprintf(no, sizeof(no), "（%d）案%d号", 2024 + i % 3, i);
	c->kind = (int)rnd(3);
	c->filed = p->answered + (int64_t)rnd(90) * DAY;
	c->result = (int)rnd(4);
	c->decided = c->result == 3 ? 0 : c->filed + (int64_t)(1 + rnd(300)) * DAY;
	if (c->result != 3 && rnd(2))
		dc_review(&s, a, rp_rkinds[c->kind], no, c->filed, "pending", 0);
	dc_review(&s, a, rp_rkinds[c->kind], no, c->filed, rp_results[c->result], c->decided);
}

static void gen_app(int i)
{
	struct rp_msg *p = rp_msg_new(&plan);
	struct dc_app a;
	int32_t d0 = pb_days_from_civil(2024, 1, 2), span = pb_days_from_civil(2026, 2, 27) - d0;
	int mail = rnd(5) == 0, open = rnd(7) == 0, oc = (int)rnd(21);
	int64_t t;

	/* Some at the turn of the year, for the carry-over. */
	if (i % 10 == 0)
		s.now = at10(2024 + (i / 10) % 2, 12, 20 + (int)rnd(10));
	else
		s.now = pb_day_start_ms(d0 + (int32_t)rnd((unsigned)span)) + 10 * 3600 * 1000LL;
	s.now += i * 1000;
	p->ch = RP_CH_DISCLOSURE;
	p->kind = (int)rnd(6);
	dc_receive(&s, &a, rp_kinds[p->kind], mail ? "registered_mail" : "online", (int)rnd(2));
	memcpy(p->id, a.m.id, sizeof(p->id));
	p->receipt = a.receipt_ms;
	push(p, p->receipt, &a.m.reply);
	if (mail) {
		/* Entered two days late; the receipt was the day before entry. */
		s.now += 2 * DAY;
		t = s.now;
		dc_confirm(&s, &a, t - 3 * DAY);
		p->receipt = t - 3 * DAY;
		push(p, t, &a.m.reply);
	}
	s.now += DAY;
	t = s.now;
	if (oc == 18 || oc == 12) {
		dc_correction_request(&s, &a, 15);
		push(p, t, &a.m.reply);
		s.now += (oc == 18 ? 40 : 5) * DAY;
		if (oc == 12) {
			t = s.now;
			dc_correction_received(&s, &a, t);
			push(p, t, &a.m.reply);
			s.now += (int64_t)rnd(20) * DAY;
		}
	} else if (oc == 19) {
		dc_fee(&s, &a, 10);
		push(p, t, &a.m.reply);
		s.now += 30 * DAY;
	} else {
		if (rnd(4) == 0) {
			dc_consult(&s, &a);
			push(p, t, &a.m.reply);
			s.now += 8 * DAY;
			t = s.now;
			dc_consult_done(&s, &a);
			push(p, t, &a.m.reply);
		}
		if (rnd(5) == 0) {
			t = s.now;
			dc_extend(&s, &a, 10);
			push(p, t, &a.m.reply);
		}
		s.now += (int64_t)rnd(45) * DAY;
	}
	if (open)
		return;
	if (!a.imported)
		tl_lease(&s, &a.m, "li");
	p->outcome = oc;
	p->answered = s.now;
	p->answer_due = a.m.reply.due_ms;
	p->answer_paused = a.m.reply.pause_depth > 0;
	dc_decide(&s, &a, rp_codes[oc], oc ? "《中华人民共和国政府信息公开条例》" : NULL);
	if (rnd(3) == 0)
		dc_deliver(&s, &a);
	if (plan.ncases < NCASES - 1 && rnd(3) == 0) {
		gen_case(p, &a, plan.ncases);
		if (rnd(4) == 0)
			gen_case(p, &a, plan.ncases);
	}
}

/* A message of another channel, answered (or returned, or revoked) or
 * left open. */
static void gen_other(int i)
{
	struct rp_msg *p = rp_msg_new(&plan);
	Mailroom__AuditRecord rec;
	struct tl_msg m;
	int32_t d0 = pb_days_from_civil(2024, 6, 3), span = pb_days_from_civil(2026, 3, 31) - d0;
	uint8_t hash[32];
	int ch = (int)rnd(5), fate = (int)rnd(6);

	p->ch = ch;
	s.now = pb_day_start_ms(d0 + (int32_t)rnd((unsigned)span)) + 9 * 3600 * 1000LL + i * 1000;
	if (i % 8 == 0)
		s.now = at10(2025, 12, 1 + (int)rnd(28));
	memset(&m, 0, sizeof(m));
	pb_id_new(s.now, m.id);
	memcpy(p->id, m.id, sizeof(p->id));
	snprintf(m.queue, sizeof(m.queue), "general");
	m.received_ms = p->receipt = s.now;
	mailroom__clock__init(&m.ack);
	mailroom__clock__init(&m.reply);
	m.reply.kind = ST_CLOCK_REPLY;
	m.reply.started_ms = s.now;
	m.reply.working_days = ch == 3 ? 5 : 15;
	tl_compute(&s, &m.reply);
	randombytes_buf(hash, sizeof(hash));
	tl_rec(&s, &m, &rec, EV(RECEIVED), "gateway");
	rec.channel = channel_enum[ch];
	rec.content_hash.data = hash;
	rec.content_hash.len = sizeof(hash);
	tl_append(&s, &rec);
	tl_rec(&s, &m, &rec, EV(ROUTED), "router");
	tl_append(&s, &rec);
	push(p, p->receipt, &m.reply);
	if (fate == 0)
		return;   /* still open */
	s.now += (int64_t)(1 + rnd(40)) * DAY;
	if (ch == 3 && fate == 1) {
		p->revoked = s.now;
		tl_rec(&s, &m, &rec, EV(REVOKED), "router");
		tl_append(&s, &rec);
		return;
	}
	tl_lease(&s, &m, "zhang");
	p->answered = s.now;
	p->answer_due = m.reply.due_ms;
	tl_rec(&s, &m, &rec, ch == 3 && fate == 2 ? EV(RETURNED) : EV(REPLIED), m.holder);
	tl_append(&s, &rec);
}

static void build(void)
{
	tl_create(&s, NULL);
	plan.nmsgs = plan.ncases = 0;
	for (int i = 0; i < NAPPS + NOTHER; i++) {
		if (i % 40 == 0)
			tl_begin(&s);
		if (i < NAPPS)
			gen_app(i);
		else
			gen_other(i);
		if (i % 40 == 39 || i == NAPPS + NOTHER - 1)
			tl_commit(&s);
	}
	tl_close_env(&s);
}

static json_t *annual(int year, const char *src)
{
	char y[8];

	snprintf(y, sizeof(y), "%d", year);
	if (src)
		RUN("report", "annual", "--year", y, src, "--format", "json", CAL);
	else
		RUN("report", "annual", "--year", y, "--store", s.dir, "--format", "json", "--pubkey",
		    s.pubkey, CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	return run_json(&r);
}

Test(report, every_cell_of_three_years)
{
	int nonzero = 0;

	build();
	RUN("verify", "--store", s.dir, CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	for (int year = 2024; year <= 2026; year++) {
		json_t *doc = annual(year, NULL);
		rp_check_annual(&plan, year, doc, &nonzero);
		json_decref(doc);
	}
	/* The data set is not trivial: most cells are counted somewhere. */
	cr_assert_gt(nonzero, 80, "%d", nonzero);
}

Test(report, carried_out_is_carried_in_next_year)
{
	json_t *y24, *y25, *out, *in;

	build();
	y24 = annual(2024, NULL);
	y25 = annual(2025, NULL);
	out = json_object_get(json_object_get(json_object_get(y24, "section3"), "rows"),
	                      "carried_out");
	in = json_object_get(json_object_get(json_object_get(y25, "section3"), "rows"),
	                     "carried_in");
	cr_assert(json_equal(out, in), "2024 carried out differs from 2025 carried in");
	cr_assert_gt(json_integer_value(json_object_get(in, "total")), 0);
	json_decref(y24);
	json_decref(y25);
}

Test(report, channels_of_a_range)
{
	struct rp_expect e;
	json_t *doc;

	build();
	RUN("report", "channels", "--from", "2025-03-01", "--to", "2025-06-30", "--store", s.dir,
	    "--format", "json", CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	doc = run_json(&r);
	cr_assert_null(json_object_get(doc, "section3"));
	rp_expect(&plan, 2025, pb_days_from_civil(2025, 3, 1), pb_days_from_civil(2025, 6, 30), &e);
	rp_check_channels(json_object_get(doc, "channels"), &e, "2025-03-01..2025-06-30");
	json_decref(doc);
}

Test(report, store_and_bundle_give_the_same_bytes)
{
	static const char *const fmts[4] = {"md", "html", "csv", "json"};
	static char a[65536];

	build();
	RUN("export", "--store", s.dir, "--out", tpath("log.bundle"));
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	for (int f = 0; f < 4; f++) {
		RUN("report", "annual", "--year", "2025", "--store", s.dir, "--format", fmts[f], CAL);
		cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
		snprintf(a, sizeof(a), "%s", r.out);
		RUN("report", "annual", "--year", "2025", tpath("log.bundle"), "--format", fmts[f],
		    "--pubkey", s.pubkey, CAL);
		cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
		cr_assert_str_eq(r.out, a, "format %s differs", fmts[f]);
	}
	RUN("report", "annual", "--year", "2025", "--store", s.dir, CAL);
	cr_assert(strstr(r.out, "三、收到和处理政府信息公开申请情况"));
	cr_assert(strstr(r.out, "（二）部分公开（区分处理的，只计这一情形，不计其他情形）"));
	cr_assert(strstr(r.out, "行政诉讼·复议后起诉·尚未审结"));
	RUN("report", "annual", "--year", "2025", "--store", s.dir, "--format", "html", CAL);
	cr_assert(strstr(r.out, "@page { size: A4"));
	cr_assert(strstr(r.out, "<th colspan=\"5\">法人或其他组织</th>"));
	cr_assert(strstr(r.out, "</html>"));
}

Test(report, tampered_bundle_is_refused)
{
	build();
	RUN("export", "--store", s.dir, "--out", tpath("log.bundle"));
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	tl_bundle_edit(tpath("log.bundle"), TL_B_FLIP, 40, 60);   /* past index and prev_hash */
	RUN("report", "annual", "--year", "2025", tpath("log.bundle"), CAL);
	cr_assert_eq(r.exit, 28, "%s%s", r.out, r.err);
	cr_assert_str_eq(r.out, "");
	cr_assert(strstr(r.err, "the log does not verify (FAIL root: record 40"), "%s", r.err);
	cr_assert(strstr(r.err, "run `mailroom-audit verify`"), "%s", r.err);
	RUN("report", "channels", "--from", "2025-01-01", "--to", "2025-01-31",
	    tpath("log.bundle"), "--format", "json", CAL);
	cr_assert_eq(r.exit, 28, "%s%s", r.out, r.err);
	run_expect_error(&r, 28, "unverified");
}

/* A decision dated before its application's receipt passes the state
 * machine (the router checks dates) but breaks the balance of table 三. */
Test(report, failed_check_exits_non_zero)
{
	struct dc_app a;

	tl_create(&s, NULL);
	tl_begin(&s);
	s.now = at10(2026, 1, 5);
	dc_receive(&s, &a, "natural_person", "online", 1);
	s.now = at10(2025, 12, 29);
	dc_decide(&s, &a, "disclosed", NULL);
	tl_commit(&s);
	tl_close_env(&s);
	RUN("report", "annual", "--year", "2025", "--store", s.dir, "--format", "json", CAL);
	cr_assert_eq(r.exit, 29, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "\"name\": \"balance\",\n      \"ok\": false"), "%s", r.out);
	cr_assert(strstr(r.err, "cross-check"), "%s", r.err);
}

Test(report, bad_arguments)
{
	RUN("report", "annual", "--store", "x");
	cr_assert_eq(r.exit, 1);
	cr_assert(strstr(r.err, "--year is required"), "%s", r.err);
	RUN("report", "annual", "--year", "25", "--store", "x");
	cr_assert_eq(r.exit, 1);
	RUN("report", "annual", "--year", "2025", "--store", "x", "--format", "pdf");
	cr_assert_eq(r.exit, 1);
	RUN("report", "channels", "--from", "2025-02-01", "--to", "2025-01-01", "--store", "x");
	cr_assert_eq(r.exit, 1);
	RUN("report", "weekly", "--store", "x");
	cr_assert_eq(r.exit, 1);
	RUN("report", "annual", "--year", "2025");
	cr_assert_eq(r.exit, 1);
}

/* At instants across the data set (before it, inside, at a year's end,
 * after it): overdue --now T lists exactly the reply clocks report
 * channels --to T counts as overdue, channel by channel, and exactly the
 * messages the plan says are overdue then: late answers, replies,
 * decisions, 12345 returns and revokes, pauses and extensions. */
Test(report, overdue_agrees_with_channels)
{
	static const char *const at[] = {"2024-03-31T23:59:59+08:00", "2024-09-30T23:59:59+08:00",
	                                 "2025-06-30T23:59:59+08:00", "2025-12-31T23:59:59+08:00",
	                                 "2026-04-30T23:59:59+08:00", "2027-06-30T23:59:59+08:00"};
	long total = 0;

	build();
	for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		char to[16], idt[PB_ID_TEXT_LEN + 1];
		long per[RP_NCHANNELS] = {0};
		json_t *od, *rep, *e, *listed = json_object();
		int64_t t;
		size_t i;

		cr_assert_eq(pb_time_parse(at[k], &t), 0);
		snprintf(to, sizeof(to), "%.10s", at[k]);
		RUN("overdue", "--store", s.dir, "--now", at[k], "--json", CAL);
		cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
		od = run_json(&r);
		RUN("report", "channels", "--from", "2020-01-01", "--to", to, "--now", at[k],
		    "--store", s.dir, "--format", "json", CAL);
		cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
		rep = run_json(&r);
		json_array_foreach(json_object_get(od, "overdue"), i, e) {
			if (strcmp(json_string_value(json_object_get(e, "clock")), "reply") != 0)
				continue;
			for (int c = 0; c < RP_NCHANNELS; c++)
				per[c] += strcmp(json_string_value(json_object_get(e, "channel")),
				                 rp_channels[c]) == 0;
			json_object_set_new(listed, json_string_value(json_object_get(e, "id")),
			                    json_true());
		}
		for (int c = 0; c < RP_NCHANNELS; c++) {
			long n = (long)json_integer_value(json_object_get(
			    json_object_get(json_object_get(rep, "channels"), rp_channels[c]), "overdue"));
			cr_expect_eq(per[c], n, "%s %s: overdue lists %ld, report channels %ld", at[k],
			             rp_channels[c], per[c], n);
		}
		for (int m = 0; m < plan.nmsgs; m++) {
			int st = rp_judge(&plan.msgs[m], t), want = st == RP_J_OVERDUE || st == RP_J_LATE;
			pb_id_to_text(plan.msgs[m].id, idt);
			cr_expect_eq(json_object_get(listed, idt) != NULL, want, "%s: %s %s", at[k], idt,
			             want ? "overdue, not listed" : "listed, not overdue");
			total += want;
		}
		json_decref(listed);
		json_decref(rep);
		json_decref(od);
	}
	cr_expect_gt(total, 50, "overdue somewhere: %ld", total);
}
