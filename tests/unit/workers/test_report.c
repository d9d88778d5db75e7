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

static const char *const kinds[6] = {"natural_person", "commercial_enterprise",
                                     "research_institution", "social_welfare_org",
                                     "legal_service_org", "other_org"};
static const char *const codes[21] = {
	"disclosed", "partly_disclosed", "withheld.state_secret", "withheld.prohibited_by_law",
	"withheld.three_safeties_one_stability", "withheld.third_party_rights",
	"withheld.internal_affairs", "withheld.process_information", "withheld.enforcement_file",
	"withheld.inquiry_matter", "unavailable.not_held", "unavailable.needs_creation",
	"unavailable.unclear_after_correction", "not_processed.petition_complaint",
	"not_processed.repeated", "not_processed.publication", "not_processed.excessive",
	"not_processed.confirm_or_reissue", "other.no_correction", "other.fee_unpaid",
	"other.other"};
static const char *const channels[6] = {"mailbox", "consultation", "complaint",
                                        "hotline", "petition", "disclosure"};
static const int channel_enum[5] = {1, 2, 3, 4, 6};
static const char *const rkinds[3] = {"review", "litigation_direct", "litigation_after_review"};
static const char *const results[4] = {"upheld", "corrected", "other", "pending"};

/* What the generator did, message by message. */
struct plan {
	int ch;                    /* index into channels */
	int kind;                  /* disclosure: index into kinds */
	int outcome;               /* -1: never decided */
	int64_t receipt;           /* the instant that counts as received */
	int64_t answered, answer_due, revoked;
	int nst;
	struct { int64_t t, due; int paused; } st[12];
};
struct pcase {
	int kind, result;          /* the last record's */
	int64_t filed, decided;
};

static struct plan plans[NAPPS + NOTHER];
static struct pcase cases[NCASES];
static int nplans, ncases;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void push(struct plan *p, int64_t t, const Mailroom__Clock *c)
{
	cr_assert_lt(p->nst, 12);
	p->st[p->nst].t = t;
	p->st[p->nst].due = c->due_ms;
	p->st[p->nst].paused = c->pause_depth > 0;
	p->nst++;
}

static int64_t at10(int y, int m, int d)
{
	return pb_day_start_ms(pb_days_from_civil(y, m, d)) + 10 * 3600 * 1000LL;
}

static void gen_case(const struct plan *p, struct dc_app *a, int i)
{
	struct pcase *c = &cases[ncases++];
	char no[32];

	snprintf(no, sizeof(no), "（%d）案%d号", 2024 + i % 3, i);
	c->kind = (int)rnd(3);
	c->filed = p->answered + (int64_t)rnd(90) * DAY;
	c->result = (int)rnd(4);
	c->decided = c->result == 3 ? 0 : c->filed + (int64_t)(1 + rnd(300)) * DAY;
	if (c->result != 3 && rnd(2))
		dc_review(&s, a, rkinds[c->kind], no, c->filed, "pending", 0);
	dc_review(&s, a, rkinds[c->kind], no, c->filed, results[c->result], c->decided);
}

static void gen_app(int i)
{
	struct plan *p = &plans[nplans++];
	struct dc_app a;
	int32_t d0 = pb_days_from_civil(2024, 1, 2), span = pb_days_from_civil(2026, 2, 27) - d0;
	int mail = rnd(5) == 0, open = rnd(7) == 0, oc = (int)rnd(21);
	int64_t t;

	memset(p, 0, sizeof(*p));
	/* Some at the turn of the year, for the carry-over. */
	if (i % 10 == 0)
		s.now = at10(2024 + (i / 10) % 2, 12, 20 + (int)rnd(10));
	else
		s.now = pb_day_start_ms(d0 + (int32_t)rnd((unsigned)span)) + 10 * 3600 * 1000LL;
	s.now += i * 1000;
	p->ch = 5;
	p->kind = (int)rnd(6);
	p->outcome = -1;
	dc_receive(&s, &a, kinds[p->kind], mail ? "registered_mail" : "online", (int)rnd(2));
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
	dc_decide(&s, &a, codes[oc], oc ? "《中华人民共和国政府信息公开条例》" : NULL);
	if (rnd(3) == 0)
		dc_deliver(&s, &a);
	if (ncases < NCASES - 1 && rnd(3) == 0) {
		gen_case(p, &a, ncases);
		if (rnd(4) == 0)
			gen_case(p, &a, ncases);
	}
}

/* A message of another channel, answered (or returned, or revoked) or
 * left open. */
static void gen_other(int i)
{
	struct plan *p = &plans[nplans++];
	Mailroom__AuditRecord rec;
	struct tl_msg m;
	int32_t d0 = pb_days_from_civil(2024, 6, 3), span = pb_days_from_civil(2026, 3, 31) - d0;
	uint8_t hash[32];
	int ch = (int)rnd(5), fate = (int)rnd(6);

	memset(p, 0, sizeof(*p));
	p->ch = ch;
	p->kind = p->outcome = -1;
	s.now = pb_day_start_ms(d0 + (int32_t)rnd((unsigned)span)) + 9 * 3600 * 1000LL + i * 1000;
	if (i % 8 == 0)
		s.now = at10(2025, 12, 1 + (int)rnd(28));
	memset(&m, 0, sizeof(m));
	pb_id_new(s.now, m.id);
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
	nplans = ncases = 0;
	for (int i = 0; i < NAPPS + NOTHER; i++) {
		if (i % 40 == 0)
			tl_begin(&s);
		if (i < NAPPS)
			gen_app(i);
		else
			gen_other(i);
		if (i % 40 == 39 || i == NAPPS + NOTHER - 1)
			tl_commit(&s, 1);
	}
	tl_close_env(&s);
}

/* ---- the expected numbers, from the plan ---- */

struct expect {
	long s3[25][7];            /* new, carried_in, 21 outcomes, total, carried_out */
	long s4[3][5];
	long ch[6][5];
};

static void expect_year(int year, int32_t from, int32_t to, struct expect *e)
{
	int32_t ys = pb_days_from_civil(year, 1, 1), ye = pb_days_from_civil(year, 12, 31);
	int64_t end = pb_day_start_ms(to + 1) - 1;

	memset(e, 0, sizeof(*e));
	for (int i = 0; i < nplans; i++) {
		const struct plan *p = &plans[i];
		int32_t rd = pb_day_of_ms(p->receipt), dd = pb_day_of_ms(p->answered);
		int dec = p->answered != 0;
		long *c = e->ch[p->ch];
		if (rd >= from && rd <= to) {
			c[0]++;
			if (dec && p->answered <= end) {
				c[1]++;
				c[p->answered <= p->answer_due ? 2 : 3]++;
			} else if (!(p->revoked && p->revoked <= end)) {
				int k = 0;
				c[4]++;
				while (k + 1 < p->nst && p->st[k + 1].t <= end)
					k++;
				if (!p->st[k].paused && p->st[k].due < cal_end_of_day_ms(to))
					c[3]++;
			}
		}
		if (p->ch != 5)
			continue;
		for (int col = 0; col < 7; col++) {
			if (col != p->kind && col != 6)
				continue;
			if (rd >= ys && rd <= ye)
				e->s3[0][col]++;
			if (rd < ys && !(dec && dd < ys))
				e->s3[1][col]++;
			if (dec && dd >= ys && dd <= ye) {
				e->s3[2 + p->outcome][col]++;
				e->s3[23][col]++;
			}
			if (rd <= ye && !(dec && dd <= ye))
				e->s3[24][col]++;
		}
	}
	for (int i = 0; i < ncases; i++) {
		const struct pcase *c = &cases[i];
		int pending = c->result == 3;
		int32_t dd = pending ? 0 : pb_day_of_ms(c->decided);
		if (pb_day_of_ms(c->filed) > ye || (!pending && dd < ys))
			continue;
		e->s4[c->kind][!pending && dd <= ye ? c->result : 3]++;
		e->s4[c->kind][4]++;
	}
}

static long jl(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	cr_assert(json_is_integer(v), "no integer at %s", k);
	return (long)json_integer_value(v);
}

static void check_row(json_t *row, const long *want, const char *name)
{
	cr_assert(json_is_object(row), "no row %s", name);
	for (int k = 0; k < 6; k++)
		cr_assert_eq(jl(row, kinds[k]), want[k], "%s.%s: %ld, want %ld", name, kinds[k],
		             jl(row, kinds[k]), want[k]);
	cr_assert_eq(jl(row, "total"), want[6], "%s.total: %ld, want %ld", name, jl(row, "total"),
	             want[6]);
}

static void check_annual(int year, json_t *doc, int *nonzero)
{
	static const char *const s4k[5] = {"upheld", "corrected", "other", "pending", "total"};
	static const char *const chk[5] = {"received", "answered", "on_time", "overdue", "open"};
	struct expect e;
	json_t *rows = json_object_get(json_object_get(doc, "section3"), "rows"), *oc, *v;
	size_t i;

	expect_year(year, pb_days_from_civil(year, 1, 1), pb_days_from_civil(year, 12, 31), &e);
	cr_assert_eq(jl(doc, "year"), year);
	check_row(json_object_get(rows, "new"), e.s3[0], "new");
	check_row(json_object_get(rows, "carried_in"), e.s3[1], "carried_in");
	oc = json_object_get(rows, "outcomes");
	cr_assert_eq(json_object_size(oc), 21);
	for (int o = 0; o < 21; o++)
		check_row(json_object_get(oc, codes[o]), e.s3[2 + o], codes[o]);
	check_row(json_object_get(rows, "total"), e.s3[23], "total");
	check_row(json_object_get(rows, "carried_out"), e.s3[24], "carried_out");
	for (int g = 0; g < 3; g++)
		for (int c = 0; c < 5; c++) {
			json_t *grp = json_object_get(json_object_get(doc, "section4"), rkinds[g]);
			cr_assert_eq(jl(grp, s4k[c]), e.s4[g][c], "%d %s.%s: %ld, want %ld", year,
			             rkinds[g], s4k[c], jl(grp, s4k[c]), e.s4[g][c]);
			*nonzero += e.s4[g][c] > 0;
		}
	for (int ch = 0; ch < 6; ch++)
		for (int c = 0; c < 5; c++) {
			json_t *o = json_object_get(json_object_get(doc, "channels"), channels[ch]);
			cr_assert_eq(jl(o, chk[c]), e.ch[ch][c], "%d %s.%s: %ld, want %ld", year,
			             channels[ch], chk[c], jl(o, chk[c]), e.ch[ch][c]);
			*nonzero += e.ch[ch][c] > 0;
		}
	cr_assert_eq(json_array_size(json_object_get(doc, "checks")), 4);
	json_array_foreach(json_object_get(doc, "checks"), i, v)
		cr_assert(json_is_true(json_object_get(v, "ok")), "check %s failed",
		          json_string_value(json_object_get(v, "name")));
	for (int row = 0; row < 25; row++)
		*nonzero += e.s3[row][6] > 0;
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
		check_annual(year, doc, &nonzero);
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
	cr_assert_gt(jl(in, "total"), 0);
	json_decref(y24);
	json_decref(y25);
}

Test(report, channels_of_a_range)
{
	static const char *const chk[5] = {"received", "answered", "on_time", "overdue", "open"};
	struct expect e;
	json_t *doc;

	build();
	RUN("report", "channels", "--from", "2025-03-01", "--to", "2025-06-30", "--store", s.dir,
	    "--format", "json", CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	doc = run_json(&r);
	cr_assert_null(json_object_get(doc, "section3"));
	expect_year(2025, pb_days_from_civil(2025, 3, 1), pb_days_from_civil(2025, 6, 30), &e);
	for (int ch = 0; ch < 6; ch++)
		for (int c = 0; c < 5; c++)
			cr_assert_eq(jl(json_object_get(json_object_get(doc, "channels"), channels[ch]),
			                chk[c]),
			             e.ch[ch][c], "%s.%s", channels[ch], chk[c]);
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
	tl_bundle_edit(tpath("log.bundle"), TL_B_FLIP, 40, 20);
	RUN("report", "annual", "--year", "2025", tpath("log.bundle"), CAL);
	cr_assert_eq(r.exit, 28, "%s%s", r.out, r.err);
	cr_assert_str_eq(r.out, "");
	cr_assert(strstr(r.err, "the log does not verify (FAIL signature: record 40"), "%s", r.err);
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
	tl_commit(&s, 1);
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
