#include "report_plan.h"

#include "cal.h"
#include "pb_time.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

const char *const rp_kinds[RP_NKINDS] = {"natural_person",     "commercial_enterprise",
                                         "research_institution", "social_welfare_org",
                                         "legal_service_org",  "other_org"};
const char *const rp_codes[RP_NCODES] = {
	"disclosed", "partly_disclosed", "withheld.state_secret", "withheld.prohibited_by_law",
	"withheld.three_safeties_one_stability", "withheld.third_party_rights",
	"withheld.internal_affairs", "withheld.process_information", "withheld.enforcement_file",
	"withheld.inquiry_matter", "unavailable.not_held", "unavailable.needs_creation",
	"unavailable.unclear_after_correction", "not_processed.petition_complaint",
	"not_processed.repeated", "not_processed.publication", "not_processed.excessive",
	"not_processed.confirm_or_reissue", "other.no_correction", "other.fee_unpaid",
	"other.other"};
const char *const rp_channels[RP_NCHANNELS] = {"mailbox", "consultation", "complaint",
                                               "hotline", "petition",     "disclosure"};
const char *const rp_rkinds[RP_NRKINDS] = {"review", "litigation_direct",
                                           "litigation_after_review"};
const char *const rp_results[RP_NRESULTS] = {"upheld", "corrected", "other", "pending"};

static const char *const ch_counts[5] = {"received", "answered", "on_time", "overdue", "open"};
static const char *const s4_cols[5] = {"upheld", "corrected", "other", "pending", "total"};

struct rp_msg *rp_msg_new(struct rp_plan *p)
{
	if (p->nmsgs == p->capmsgs) {
		int cap = p->capmsgs ? p->capmsgs * 2 : 256;
		struct rp_msg *n = realloc(p->msgs, (size_t)cap * sizeof(*n));
		cr_assert_not_null(n);
		p->msgs = n;
		p->capmsgs = cap;
	}
	memset(&p->msgs[p->nmsgs], 0, sizeof(p->msgs[0]));
	p->msgs[p->nmsgs].kind = p->msgs[p->nmsgs].outcome = -1;
	return &p->msgs[p->nmsgs++];
}

struct rp_case *rp_case_new(struct rp_plan *p)
{
	if (p->ncases == p->capcases) {
		int cap = p->capcases ? p->capcases * 2 : 64;
		struct rp_case *n = realloc(p->cases, (size_t)cap * sizeof(*n));
		cr_assert_not_null(n);
		p->cases = n;
		p->capcases = cap;
	}
	memset(&p->cases[p->ncases], 0, sizeof(p->cases[0]));
	return &p->cases[p->ncases++];
}

void rp_push(struct rp_msg *m, int64_t t, int64_t due, int paused)
{
	cr_assert_lt(m->nst, RP_STATES);
	m->st[m->nst].t = t;
	m->st[m->nst].due = due;
	m->st[m->nst].paused = paused;
	m->nst++;
}

/* Received by at (entered then, or received in law before it); answered
 * by at (on time against the due in force then, or while the clock stood
 * paused waiting for the applicant); else open unless revoked, and
 * overdue when the due in force at `at` has passed by then, or by the
 * start of a pause still running then. */
int rp_judge(const struct rp_msg *m, int64_t at)
{
	int k = 0, p0;

	if (!m->nst || (m->st[0].t > at && m->receipt > at))
		return RP_J_UNKNOWN;
	if (m->answered && m->answered <= at)
		return m->answer_paused || m->answered <= m->answer_due ? RP_J_ON_TIME : RP_J_LATE;
	if (m->revoked && m->revoked <= at)
		return RP_J_CLOSED;
	while (k + 1 < m->nst && m->st[k + 1].t <= at)
		k++;
	for (p0 = k; m->st[k].paused && p0 > 0 && m->st[p0 - 1].paused; p0--)
		;
	return (m->st[k].paused ? m->st[p0].t : at) > m->st[k].due ? RP_J_OVERDUE : RP_J_OPEN;
}

void rp_expect(const struct rp_plan *p, int year, int32_t from, int32_t to, struct rp_expect *e)
{
	int32_t ys = pb_days_from_civil(year, 1, 1), ye = pb_days_from_civil(year, 12, 31);
	/* Judged at the end of the range's last day, the instant a deadline
	 * on it falls, or now when that is earlier. */
	int64_t end = cal_end_of_day_ms(to), now = pb_now_ms();

	if (now < end)
		end = now;
	memset(e, 0, sizeof(*e));
	for (int i = 0; i < p->nmsgs; i++) {
		const struct rp_msg *m = &p->msgs[i];
		int32_t rd = pb_day_of_ms(m->receipt), dd = pb_day_of_ms(m->answered);
		int dec = m->answered != 0, st = rp_judge(m, end);
		long *c = e->ch[m->ch];
		/* Channels: received in the range, and judged at its end. */
		if (rd >= from && rd <= to && st != RP_J_UNKNOWN) {
			c[0]++;
			c[1] += st == RP_J_ON_TIME || st == RP_J_LATE;
			c[2] += st == RP_J_ON_TIME;
			c[3] += st == RP_J_LATE || st == RP_J_OVERDUE;
			c[4] += st == RP_J_OPEN || st == RP_J_OVERDUE;
		}
		if (m->ch != RP_CH_DISCLOSURE)
			continue;
		/* Table 三: an application counts in the year of its decision,
		 * and is carried over while open. */
		for (int col = 0; col <= RP_NKINDS; col++) {
			if (col != m->kind && col != RP_NKINDS)
				continue;
			if (rd >= ys && rd <= ye)
				e->s3[RP_ROW_NEW][col]++;
			if (rd < ys && !(dec && dd < ys))
				e->s3[RP_ROW_CARRIED_IN][col]++;
			if (dec && dd >= ys && dd <= ye) {
				e->s3[RP_ROW_OUTCOME0 + m->outcome][col]++;
				e->s3[RP_ROW_TOTAL][col]++;
			}
			if (rd <= ye && !(dec && dd <= ye))
				e->s3[RP_ROW_CARRIED_OUT][col]++;
		}
	}
	/* Table 四: filed by the year's end and not decided before it; the
	 * result's column when decided within it, else pending. */
	for (int i = 0; i < p->ncases; i++) {
		const struct rp_case *c = &p->cases[i];
		int pending = c->result == RP_RESULT_PENDING;
		int32_t dd = pending ? 0 : pb_day_of_ms(c->decided);
		if (pb_day_of_ms(c->filed) > ye || (!pending && dd < ys))
			continue;
		e->s4[c->kind][!pending && dd <= ye ? c->result : RP_RESULT_PENDING]++;
		e->s4[c->kind][RP_NRESULTS]++;
	}
}

static long jl(json_t *o, const char *k, const char *what)
{
	json_t *v = json_object_get(o, k);

	cr_assert(json_is_integer(v), "%s: no integer at %s", what, k);
	return (long)json_integer_value(v);
}

static void check_row(json_t *row, const long *want, int year, const char *name)
{
	char what[96];

	snprintf(what, sizeof(what), "%d section3 %s", year, name);
	cr_assert(json_is_object(row), "%s: no row", what);
	cr_assert_eq(json_object_size(row), RP_NKINDS + 1, "%s: %zu keys", what,
	             json_object_size(row));
	for (int k = 0; k <= RP_NKINDS; k++) {
		const char *key = k < RP_NKINDS ? rp_kinds[k] : "total";
		cr_assert_eq(jl(row, key, what), want[k], "%s.%s: %ld, want %ld", what, key,
		             jl(row, key, what), want[k]);
	}
}

void rp_check_channels(json_t *channels, const struct rp_expect *e, const char *what)
{
	cr_assert(json_is_object(channels), "%s: no channels", what);
	for (int ch = 0; ch < RP_NCHANNELS; ch++) {
		json_t *o = json_object_get(channels, rp_channels[ch]);
		cr_assert(json_is_object(o), "%s: no channel %s", what, rp_channels[ch]);
		for (int c = 0; c < 5; c++)
			cr_assert_eq(jl(o, ch_counts[c], what), e->ch[ch][c], "%s %s.%s: %ld, want %ld",
			             what, rp_channels[ch], ch_counts[c], jl(o, ch_counts[c], what),
			             e->ch[ch][c]);
	}
}

void rp_check_annual(const struct rp_plan *p, int year, json_t *doc, int *nonzero)
{
	static const char *const checks[4] = {"balance", "outcome_sum", "column_sum",
	                                      "counted_once"};
	json_t *rows = json_object_get(json_object_get(doc, "section3"), "rows"), *oc, *v;
	struct rp_expect e;
	char what[32];
	size_t i;

	rp_expect(p, year, pb_days_from_civil(year, 1, 1), pb_days_from_civil(year, 12, 31), &e);
	snprintf(what, sizeof(what), "%d", year);
	cr_assert_eq(jl(doc, "year", what), year);
	check_row(json_object_get(rows, "new"), e.s3[RP_ROW_NEW], year, "new");
	check_row(json_object_get(rows, "carried_in"), e.s3[RP_ROW_CARRIED_IN], year, "carried_in");
	oc = json_object_get(rows, "outcomes");
	cr_assert_eq(json_object_size(oc), RP_NCODES);
	for (int o = 0; o < RP_NCODES; o++)
		check_row(json_object_get(oc, rp_codes[o]), e.s3[RP_ROW_OUTCOME0 + o], year, rp_codes[o]);
	/* The six group rows (一)-(六): each the sum of its codes. */
	cr_assert_eq(json_object_size(json_object_get(rows, "groups")), 6);
	for (int g = 0; g < 6; g++) {
		static const char *const groups[6] = {"disclosed", "partly_disclosed", "withheld",
		                                      "unavailable", "not_processed", "other"};
		long sum[RP_NKINDS + 1] = {0};
		size_t n = strlen(groups[g]);
		for (int o = 0; o < RP_NCODES; o++)
			if (strncmp(rp_codes[o], groups[g], n) == 0 &&
			    (rp_codes[o][n] == '\0' || rp_codes[o][n] == '.'))
				for (int k = 0; k <= RP_NKINDS; k++)
					sum[k] += e.s3[RP_ROW_OUTCOME0 + o][k];
		check_row(json_object_get(json_object_get(rows, "groups"), groups[g]), sum, year,
		          groups[g]);
	}
	check_row(json_object_get(rows, "total"), e.s3[RP_ROW_TOTAL], year, "total");
	check_row(json_object_get(rows, "carried_out"), e.s3[RP_ROW_CARRIED_OUT], year,
	          "carried_out");
	for (int g = 0; g < RP_NRKINDS; g++) {
		json_t *grp = json_object_get(json_object_get(doc, "section4"), rp_rkinds[g]);
		cr_assert(json_is_object(grp), "%d: no section4.%s", year, rp_rkinds[g]);
		for (int c = 0; c < 5; c++) {
			cr_assert_eq(jl(grp, s4_cols[c], what), e.s4[g][c],
			             "%d section4 %s.%s: %ld, want %ld", year, rp_rkinds[g], s4_cols[c],
			             jl(grp, s4_cols[c], what), e.s4[g][c]);
			*nonzero += e.s4[g][c] > 0;
		}
	}
	rp_check_channels(json_object_get(doc, "channels"), &e, what);
	for (int ch = 0; ch < RP_NCHANNELS; ch++)
		for (int c = 0; c < 5; c++)
			*nonzero += e.ch[ch][c] > 0;
	cr_assert_eq(json_array_size(json_object_get(doc, "checks")), 4);
	json_array_foreach(json_object_get(doc, "checks"), i, v) {
		cr_assert_str_eq(json_string_value(json_object_get(v, "name")), checks[i]);
		cr_assert(json_is_true(json_object_get(v, "ok")), "%d: check %s failed", year,
		          checks[i]);
	}
	for (int row = 0; row < RP_ROWS; row++)
		*nonzero += e.s3[row][RP_NKINDS] > 0;
}
