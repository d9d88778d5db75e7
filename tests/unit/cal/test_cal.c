/* Working-day calendar tests. The expected data below is copied from
 * docs/deadlines.md section 2 by hand, not read from deploy/calendars, so a
 * mistake in either shows up here. */
#include "cal.h"
#include "pb_err.h"
#include "pb_time.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAL_DIR MR_SOURCE_DIR "/deploy/calendars"

/* ---- reference data (docs/deadlines.md section 2) ---- */

static const struct {
	const char *from, *to;
} ref_holidays[] = {
	{"2024-01-01", "2024-01-01"}, {"2024-02-10", "2024-02-17"},
	{"2024-04-04", "2024-04-06"}, {"2024-05-01", "2024-05-05"},
	{"2024-06-10", "2024-06-10"}, {"2024-09-15", "2024-09-17"},
	{"2024-10-01", "2024-10-07"},
	{"2025-01-01", "2025-01-01"}, {"2025-01-28", "2025-02-04"},
	{"2025-04-04", "2025-04-06"}, {"2025-05-01", "2025-05-05"},
	{"2025-05-31", "2025-06-02"}, {"2025-10-01", "2025-10-08"},
	{"2026-01-01", "2026-01-03"}, {"2026-02-15", "2026-02-23"},
	{"2026-04-04", "2026-04-06"}, {"2026-05-01", "2026-05-05"},
	{"2026-06-19", "2026-06-21"}, {"2026-09-25", "2026-09-27"},
	{"2026-10-01", "2026-10-07"},
};

static const char *ref_makeup[] = {
	"2024-02-04", "2024-02-18", "2024-04-07", "2024-04-28",
	"2024-05-11", "2024-09-14", "2024-09-29", "2024-10-12",
	"2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11",
	"2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10",
};

/* The statutory days off of years without a notice (全国年节及纪念日放假办法:
 * the 2013 revision to 2024, the 2024 one from 2025), with lunar dates
 * and 清明 taken from two independent converters, not from cal.c. */
static const struct {
	const char *from, *to;
} ref_statutory[] = {
	{"2020-01-01", "2020-01-01"}, {"2020-01-25", "2020-01-27"}, {"2020-04-04", "2020-04-04"}, {"2020-05-01", "2020-05-01"}, {"2020-06-25", "2020-06-25"}, {"2020-10-01", "2020-10-01"}, {"2020-10-01", "2020-10-03"},
	{"2021-01-01", "2021-01-01"}, {"2021-02-12", "2021-02-14"}, {"2021-04-04", "2021-04-04"}, {"2021-05-01", "2021-05-01"}, {"2021-06-14", "2021-06-14"}, {"2021-09-21", "2021-09-21"}, {"2021-10-01", "2021-10-03"},
	{"2022-01-01", "2022-01-01"}, {"2022-02-01", "2022-02-03"}, {"2022-04-05", "2022-04-05"}, {"2022-05-01", "2022-05-01"}, {"2022-06-03", "2022-06-03"}, {"2022-09-10", "2022-09-10"}, {"2022-10-01", "2022-10-03"},
	{"2023-01-01", "2023-01-01"}, {"2023-01-22", "2023-01-24"}, {"2023-04-05", "2023-04-05"}, {"2023-05-01", "2023-05-01"}, {"2023-06-22", "2023-06-22"}, {"2023-09-29", "2023-09-29"}, {"2023-10-01", "2023-10-03"},
	{"2024-01-01", "2024-01-01"}, {"2024-02-10", "2024-02-12"}, {"2024-04-04", "2024-04-04"}, {"2024-05-01", "2024-05-01"}, {"2024-06-10", "2024-06-10"}, {"2024-09-17", "2024-09-17"}, {"2024-10-01", "2024-10-03"},
	{"2025-01-01", "2025-01-01"}, {"2025-01-28", "2025-01-31"}, {"2025-04-04", "2025-04-04"}, {"2025-05-01", "2025-05-02"}, {"2025-05-31", "2025-05-31"}, {"2025-10-06", "2025-10-06"}, {"2025-10-01", "2025-10-03"},
	{"2026-01-01", "2026-01-01"}, {"2026-02-16", "2026-02-19"}, {"2026-04-05", "2026-04-05"}, {"2026-05-01", "2026-05-02"}, {"2026-06-19", "2026-06-19"}, {"2026-09-25", "2026-09-25"}, {"2026-10-01", "2026-10-03"},
	{"2027-01-01", "2027-01-01"}, {"2027-02-05", "2027-02-08"}, {"2027-04-05", "2027-04-05"}, {"2027-05-01", "2027-05-02"}, {"2027-06-09", "2027-06-09"}, {"2027-09-15", "2027-09-15"}, {"2027-10-01", "2027-10-03"},
	{"2028-01-01", "2028-01-01"}, {"2028-01-25", "2028-01-28"}, {"2028-04-04", "2028-04-04"}, {"2028-05-01", "2028-05-02"}, {"2028-05-28", "2028-05-28"}, {"2028-10-03", "2028-10-03"}, {"2028-10-01", "2028-10-03"},
	{"2029-01-01", "2029-01-01"}, {"2029-02-12", "2029-02-15"}, {"2029-04-04", "2029-04-04"}, {"2029-05-01", "2029-05-02"}, {"2029-06-16", "2029-06-16"}, {"2029-09-22", "2029-09-22"}, {"2029-10-01", "2029-10-03"},
	{"2030-01-01", "2030-01-01"}, {"2030-02-02", "2030-02-05"}, {"2030-04-05", "2030-04-05"}, {"2030-05-01", "2030-05-02"}, {"2030-06-05", "2030-06-05"}, {"2030-09-12", "2030-09-12"}, {"2030-10-01", "2030-10-03"},
	{"2031-01-01", "2031-01-01"}, {"2031-01-22", "2031-01-25"}, {"2031-04-05", "2031-04-05"}, {"2031-05-01", "2031-05-02"}, {"2031-06-24", "2031-06-24"}, {"2031-10-01", "2031-10-01"}, {"2031-10-01", "2031-10-03"},
};

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int32_t D(const char *s)
{
	int32_t d = 0;

	cr_assert_eq(pb_date_parse(s, &d), PB_OK, "bad date in test: %s", s);
	return d;
}

/* Up to 8 formatted dates alive at once, for messages. */
static const char *F(int32_t d)
{
	static char buf[8][16];
	static int i;

	i = (i + 1) % 8;
	pb_date_fmt(d, buf[i], sizeof(buf[i]));
	return buf[i];
}

static int year_of(int32_t d)
{
	int y, m, dd;

	pb_civil_from_days(d, &y, &m, &dd);
	return y;
}

/* Naive day-by-day model. ref_years: bit (year - 2024) set when loaded. */
static unsigned ref_years;

static int ref_loaded(int32_t d)
{
	int y = year_of(d);

	return y >= 2024 && y <= 2026 && (ref_years & (1u << (y - 2024)));
}

static int ref_working(int32_t d)
{
	if (!ref_loaded(d)) {
		for (int i = 0; i < NELEM(ref_statutory); i++)
			if (D(ref_statutory[i].from) <= d && d <= D(ref_statutory[i].to))
				return 0;
		return pb_weekday(d) < 5;
	}
	for (int i = 0; i < NELEM(ref_makeup); i++)
		if (D(ref_makeup[i]) == d)
			return 1;
	for (int i = 0; i < NELEM(ref_holidays); i++)
		if (D(ref_holidays[i].from) <= d && d <= D(ref_holidays[i].to))
			return 0;
	return pb_weekday(d) < 5;
}

/* Memo of ref_working over 2020..2031, built once per model. */
#define REF_LO 18262  /* 2020-01-01 */
#define REF_N  (12 * 366)
static signed char ref_memo[REF_N];

static void ref_init(unsigned years)
{
	ref_years = years;
	cr_assert_eq(D("2020-01-01"), REF_LO);
	for (int i = 0; i < REF_N; i++)
		ref_memo[i] = (signed char)ref_working(REF_LO + i);
}

static int ref_work_fast(int32_t d)
{
	cr_assert(d >= REF_LO && d < REF_LO + REF_N, "ref model out of range: %s", F(d));
	return ref_memo[d - REF_LO];
}

static int32_t ref_add(int32_t day, int n, int *prov)
{
	int32_t d = day;

	*prov = 0;
	while (n > 0) {
		d++;
		if (!ref_loaded(d))
			*prov = 1;
		if (ref_work_fast(d))
			n--;
	}
	return d;
}

static int ref_between(int32_t a, int32_t b, int *prov)
{
	int k = 0;

	*prov = 0;
	for (int32_t d = a + 1; d <= b; d++) {
		if (!ref_loaded(d))
			*prov = 1;
		k += ref_work_fast(d);
	}
	return k;
}

/* ---- fixture ---- */

static cal_set *cs;

static void load_std(void)
{
	char err[512] = "";
	int rc = cal_load_dir(CAL_DIR, &cs, err, sizeof(err));

	cr_assert_eq(rc, PB_OK, "load %s: %s", CAL_DIR, err);
	cr_assert_not_null(cs);
}

static void free_std(void)
{
	cal_free(cs);
	cs = NULL;
}

TestSuite(cal, .init = load_std, .fini = free_std);

static void expect_add(const cal_set *c, const char *from, int n, const char *want, int want_prov)
{
	int prov = -1;
	int32_t got = cal_add_working_days(c, D(from), n, &prov);

	cr_assert_eq(got, D(want), "%s + %d working days: got %s, want %s", from, n, F(got), want);
	cr_assert_eq(prov, want_prov, "%s + %d: provisional %d, want %d", from, n, prov, want_prov);
}

/* ---- worked examples and the reference table ---- */

Test(cal, worked_examples)
{
	expect_add(cs, "2024-09-27", 20, "2024-10-30", 0);
	expect_add(cs, "2025-01-20", 20, "2025-02-21", 0);
	expect_add(cs, "2025-01-20", 40, "2025-03-21", 0);
	expect_add(cs, "2025-04-25", 20, "2025-05-27", 0);
	expect_add(cs, "2025-09-26", 7, "2025-10-13", 0);
	expect_add(cs, "2025-09-26", 20, "2025-10-30", 0);
	expect_add(cs, "2026-02-13", 20, "2026-03-19", 0);
	expect_add(cs, "2026-09-18", 20, "2026-10-22", 0);
	/* and back again */
	int prov = -1;
	cr_assert_eq(cal_working_days_between(cs, D("2025-01-20"), D("2025-03-21"), &prov), 40);
	cr_assert_eq(prov, 0);
	cr_assert_eq(cal_working_days_between(cs, D("2026-09-18"), D("2026-10-22"), &prov), 20);
}

Test(cal, every_holiday_day)
{
	int days = 0;

	for (int i = 0; i < NELEM(ref_holidays); i++) {
		for (int32_t d = D(ref_holidays[i].from); d <= D(ref_holidays[i].to); d++) {
			int prov = -1;
			cr_assert_eq(cal_is_working_day(cs, d, &prov), 0, "%s is a holiday", F(d));
			cr_assert_eq(prov, 0, "%s: provisional", F(d));
			days++;
		}
	}
	/* 1+8+3+5+1+3+7, 1+8+3+5+3+8, 3+9+3+5+3+3+7 */
	cr_assert_eq(days, 28 + 28 + 33);
}

Test(cal, every_makeup_day)
{
	for (int i = 0; i < NELEM(ref_makeup); i++) {
		int32_t d = D(ref_makeup[i]);
		int prov = -1;

		cr_assert_geq(pb_weekday(d), 5, "reference make-up day %s is no weekend", ref_makeup[i]);
		cr_assert_eq(cal_is_working_day(cs, d, &prov), 1, "%s is a make-up working day",
		    ref_makeup[i]);
		cr_assert_eq(prov, 0);
	}
	/* 除夕 2024 was only encouraged as a day off. */
	cr_assert_eq(cal_is_working_day(cs, D("2024-02-09"), NULL), 1);
}

Test(cal, every_day_2024_to_2026)
{
	ref_init(7);
	for (int32_t d = D("2024-01-01"); d <= D("2026-12-31"); d++) {
		int prov = -1;
		cr_assert_eq(cal_is_working_day(cs, d, &prov), ref_working(d), "%s (weekday %d)",
		    F(d), pb_weekday(d));
		cr_assert_eq(prov, 0, "%s provisional", F(d));
	}
}

Test(cal, working_days_per_year)
{
	static const struct {
		int year, want;
	} yc[] = {{2024, 251}, {2025, 248}, {2026, 248}};

	for (int i = 0; i < NELEM(yc); i++) {
		int32_t a = pb_days_from_civil(yc[i].year, 1, 1), b = pb_days_from_civil(yc[i].year + 1, 1, 1);
		int prov = -1, sum = 0;

		cr_assert_eq(cal_working_days_between(cs, a - 1, b - 1, &prov), yc[i].want, "year %d",
		    yc[i].year);
		cr_assert_eq(prov, 0);
		for (int32_t d = a; d < b; d++)
			sum += cal_is_working_day(cs, d, NULL);
		cr_assert_eq(sum, yc[i].want, "year %d by days", yc[i].year);
	}
	cr_assert_eq(cal_first_year(cs), 2024);
	cr_assert_eq(cal_last_year(cs), 2026);
	cr_assert(cal_has_year(cs, 2025));
	cr_assert(!cal_has_year(cs, 2027));
	cr_assert(!cal_has_year(cs, 2023));
}

/* ---- edges ---- */

Test(cal, year_boundaries)
{
	expect_add(cs, "2024-12-31", 1, "2025-01-02", 0);
	expect_add(cs, "2024-12-27", 3, "2025-01-02", 0);
	/* 2026-01-04 is a Sunday worked for New Year. */
	expect_add(cs, "2025-12-31", 1, "2026-01-04", 0);
	expect_add(cs, "2025-12-31", 2, "2026-01-05", 0);
	int prov = -1;
	cr_assert_eq(cal_working_days_between(cs, D("2025-12-30"), D("2026-01-05"), &prov), 3);
	cr_assert_eq(prov, 0);
	cr_assert_eq(cal_working_days_between(cs, D("2024-12-31"), D("2025-01-01"), &prov), 0);
}

Test(cal, spring_festival)
{
	expect_add(cs, "2024-02-08", 1, "2024-02-09", 0);
	expect_add(cs, "2024-02-08", 2, "2024-02-18", 0);
	expect_add(cs, "2024-02-09", 1, "2024-02-18", 0);
	expect_add(cs, "2025-01-27", 1, "2025-02-05", 0);
	expect_add(cs, "2025-01-24", 1, "2025-01-26", 0);
	expect_add(cs, "2026-02-13", 1, "2026-02-14", 0);
	expect_add(cs, "2026-02-13", 2, "2026-02-24", 0);
	cr_assert_eq(cal_working_days_between(cs, D("2026-02-13"), D("2026-02-24"), NULL), 2);
	cr_assert_eq(cal_working_days_between(cs, D("2026-02-14"), D("2026-02-23"), NULL), 0);
}

Test(cal, receipt_on_holiday_or_makeup_day)
{
	expect_add(cs, "2024-10-03", 1, "2024-10-08", 0);
	expect_add(cs, "2025-10-01", 1, "2025-10-09", 0);
	expect_add(cs, "2025-10-01", 2, "2025-10-10", 0);
	expect_add(cs, "2025-10-01", 3, "2025-10-11", 0);
	expect_add(cs, "2024-10-12", 1, "2024-10-14", 0);
	expect_add(cs, "2025-01-26", 1, "2025-01-27", 0);
	expect_add(cs, "2026-02-28", 1, "2026-03-02", 0);
}

Test(cal, zero_and_negative_n)
{
	expect_add(cs, "2024-10-03", 0, "2024-10-03", 0);
	expect_add(cs, "2025-02-08", 0, "2025-02-08", 0);
	expect_add(cs, "2030-06-01", 0, "2030-06-01", 0);
	expect_add(cs, "2025-03-03", -5, "2025-03-03", 0);
	cr_assert_eq(cal_working_days_between(cs, D("2025-03-03"), D("2025-03-03"), NULL), 0);
	cr_assert_eq(cal_working_days_between(cs, D("2025-03-10"), D("2025-03-03"), NULL), 0);
	/* NULL out-pointer is fine. */
	cr_assert_eq(cal_add_working_days(cs, D("2025-09-26"), 7, NULL), D("2025-10-13"));
}

Test(cal, provisional_after_2026)
{
	int prov = -1;

	/* No notice for 2027: the law's holidays, flagged. 2027-01-01 is a
	 * Friday and 元旦; 10-01 a Friday and 国庆. */
	cr_assert_eq(cal_is_working_day(cs, D("2027-01-01"), &prov), 0);
	cr_assert_eq(prov, 1);
	cr_assert_eq(cal_is_working_day(cs, D("2027-01-02"), &prov), 0);
	cr_assert_eq(prov, 1);
	cr_assert_eq(cal_is_working_day(cs, D("2027-10-01"), &prov), 0);
	cr_assert_eq(prov, 1);
	cr_assert_eq(cal_is_working_day(cs, D("2027-10-04"), &prov), 1);
	cr_assert_eq(prov, 1);
	cr_assert_eq(cal_is_working_day(cs, D("2026-12-31"), &prov), 1);
	cr_assert_eq(prov, 0);

	/* Spans crossing from 2026 into 2027. */
	expect_add(cs, "2026-12-28", 3, "2026-12-31", 0);
	expect_add(cs, "2026-12-30", 1, "2026-12-31", 0);
	expect_add(cs, "2026-12-30", 2, "2027-01-04", 1);
	expect_add(cs, "2026-12-30", 5, "2027-01-07", 1);
	expect_add(cs, "2026-12-31", 1, "2027-01-04", 1);
	expect_add(cs, "2026-12-18", 20, "2027-01-18", 1);
	expect_add(cs, "2027-03-01", 20, "2027-03-29", 1);
	cr_assert_eq(cal_working_days_between(cs, D("2026-12-30"), D("2027-01-07"), &prov), 5);
	cr_assert_eq(prov, 1);
	cr_assert_eq(cal_working_days_between(cs, D("2026-12-01"), D("2026-12-31"), &prov), 22);
	cr_assert_eq(prov, 0);
	/* 2027: 261 weekdays less the seven statutory days off that fall on
	 * one (01-01, 02-05, 02-08, 04-05, 06-09, 09-15, 10-01). */
	cr_assert_eq(cal_working_days_between(cs, D("2026-12-31"), D("2027-12-31"), &prov), 254);
	cr_assert_eq(prov, 1);
}

/* The 2024 revision: 春节 is 除夕 to 初三. For 2027 that is Friday 02-05
 * to Monday 02-08; the weekend inside is no extra day and nothing is
 * made up. */
Test(cal, spring_festival_2027_without_a_notice)
{
	static const char *off[] = {"2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08",
	                            "2027-04-05", "2027-05-01", "2027-05-02", "2027-06-09",
	                            "2027-09-15", "2027-10-02", "2027-10-03"};
	int prov = -1;

	for (int i = 0; i < NELEM(off); i++) {
		cr_assert_eq(cal_is_working_day(cs, D(off[i]), &prov), 0, "%s is a day off", off[i]);
		cr_assert_eq(prov, 1);
	}
	cr_assert_eq(cal_is_working_day(cs, D("2027-02-04"), NULL), 1);
	cr_assert_eq(cal_is_working_day(cs, D("2027-02-09"), NULL), 1);
	cr_assert_eq(cal_is_working_day(cs, D("2027-02-13"), NULL), 0, "no make-up day invented");
	cr_assert_eq(cal_is_working_day(cs, D("2027-05-03"), NULL), 1, "劳动节 is two days");
	expect_add(cs, "2027-02-04", 1, "2027-02-09", 1);
}

/* A year no file mentions, far from the loaded ones, has the law too. */
Test(cal, a_year_with_no_file_has_the_statutory_holidays)
{
	static const char *off[] = {"2030-01-01", "2030-02-02", "2030-02-03", "2030-02-04",
	                            "2030-02-05", "2030-04-05", "2030-05-01", "2030-05-02",
	                            "2030-06-05", "2030-09-12", "2030-10-01", "2030-10-02",
	                            "2030-10-03"};
	int prov = -1;

	for (int i = 0; i < NELEM(off); i++) {
		cr_assert_eq(cal_is_working_day(cs, D(off[i]), &prov), 0, "%s is a day off", off[i]);
		cr_assert_eq(prov, 1);
		cr_assert_eq(cal_is_working_day(NULL, D(off[i]), NULL), 0, "%s, nothing loaded", off[i]);
	}
	cr_assert_eq(cal_is_working_day(cs, D("2030-02-06"), NULL), 1, "after 初三");
	/* The 2013 revision before 2025: 春节 初一 to 初三, 劳动节 one day. */
	cr_assert_eq(cal_is_working_day(cs, D("2023-01-20"), NULL), 1, "除夕 2023 worked");
	cr_assert_eq(cal_is_working_day(cs, D("2023-01-23"), NULL), 0, "初二 2023");
	cr_assert_eq(cal_is_working_day(cs, D("2023-05-02"), NULL), 1);
	/* Past the lunar table only the solar holidays are known. */
	cr_assert_eq(cal_is_working_day(cs, D("2060-01-01"), &prov), 0);
	cr_assert_eq(prov, 1);
	cr_assert_eq(cal_is_working_day(cs, D("2060-10-01"), NULL), 0);
}

Test(cal, provisional_before_2024)
{
	/* 2023-12-30 and 12-31 are consulted and not loaded. */
	expect_add(cs, "2023-12-29", 1, "2024-01-02", 1);
	expect_add(cs, "2023-12-31", 1, "2024-01-02", 0);
	expect_add(cs, "2023-12-27", 1, "2023-12-28", 1);
	int prov = -1;
	cr_assert_eq(cal_working_days_between(cs, D("2023-12-28"), D("2024-01-03"), &prov), 3);
	cr_assert_eq(prov, 1);
	cr_assert_eq(cal_working_days_between(cs, D("2023-12-31"), D("2024-01-03"), &prov), 2);
	cr_assert_eq(prov, 0);
}

Test(cal, null_set_is_the_law)
{
	int prov = -1;
	uint8_t v0[CAL_VERSION_LEN], v1[CAL_VERSION_LEN];
	cal_set *empty = NULL;

	/* 2025 by law alone: 10-01..03 and 中秋 10-06 off, no make-up days. */
	expect_add(NULL, "2025-09-26", 7, "2025-10-13", 1);
	expect_add(NULL, "2025-09-26", 0, "2025-09-26", 0);
	cr_assert_eq(cal_is_working_day(NULL, D("2025-10-01"), &prov), 0);
	cr_assert_eq(prov, 1);
	cr_assert_eq(cal_is_working_day(NULL, D("2025-09-28"), &prov), 0, "no make-up day");
	cr_assert_eq(cal_working_days_between(NULL, D("2025-01-03"), D("2025-01-10"), &prov), 5);
	cr_assert_eq(prov, 1);
	cr_assert_eq(cal_first_year(NULL), 0);
	cr_assert_eq(cal_last_year(NULL), 0);
	cr_assert_eq(cal_has_year(NULL, 2025), 0);

	/* An empty list behaves the same and has the same version. */
	cr_assert_eq(cal_load_files(NULL, 0, &empty, NULL, 0), PB_OK);
	cr_assert_not_null(empty);
	expect_add(empty, "2025-09-26", 7, "2025-10-13", 1);
	cal_version(NULL, v0);
	cal_version(empty, v1);
	cr_assert_arr_eq(v0, v1, CAL_VERSION_LEN);
	cal_version(cs, v1);
	cr_assert(memcmp(v0, v1, CAL_VERSION_LEN) != 0);
	cal_free(empty);
	cal_free(NULL);
}

/* ---- due instants ---- */

static void expect_time(int64_t ms, const char *want)
{
	char buf[64];

	cr_assert_gt(pb_time_fmt(ms, buf, sizeof(buf), 1), 0);
	cr_assert_str_eq(buf, want);
}

static int64_t T(const char *s)
{
	int64_t ms = 0;

	cr_assert_eq(pb_time_parse(s, &ms), PB_OK, "bad time in test: %s", s);
	return ms;
}

Test(cal, end_of_day)
{
	expect_time(cal_end_of_day_ms(D("2024-01-01")), "2024-01-01T23:59:59.000+08:00");
	cr_assert_eq(cal_end_of_day_ms(D("2024-01-01")), T("2024-01-01T15:59:59Z"));
	cr_assert_eq(cal_end_of_day_ms(D("1970-01-01")), 15 * 3600000LL + 59 * 60000 + 59000);
}

Test(cal, due_ms)
{
	int prov = -1;

	/* Working days count from the local (UTC+8) date of receipt. */
	expect_time(cal_due_ms(cs, T("2025-01-20T10:00:00+08:00"), 20, 0, &prov),
	    "2025-02-21T23:59:59.000+08:00");
	cr_assert_eq(prov, 0);
	/* 2025-01-19T16:30Z is already Monday 00:30 in Shanghai. */
	expect_time(cal_due_ms(cs, T("2025-01-19T16:30:00Z"), 20, 0, NULL),
	    "2025-02-21T23:59:59.000+08:00");
	expect_time(cal_due_ms(cs, T("2025-01-20T15:59:59Z"), 20, 0, NULL),
	    "2025-02-21T23:59:59.000+08:00");
	expect_time(cal_due_ms(cs, T("2025-01-20T16:00:00Z"), 20, 0, NULL),
	    "2025-02-24T23:59:59.000+08:00");
	expect_time(cal_due_ms(cs, T("2025-09-26T18:00:00+08:00"), 7, 0, NULL),
	    "2025-10-13T23:59:59.000+08:00");
	/* Zero working days: end of the receipt day. */
	expect_time(cal_due_ms(cs, T("2025-10-01T09:00:00+08:00"), 0, 0, &prov),
	    "2025-10-01T23:59:59.000+08:00");
	cr_assert_eq(prov, 0);
	/* Provisional past the last year. */
	expect_time(cal_due_ms(cs, T("2026-12-30T09:00:00+08:00"), 5, 0, &prov),
	    "2027-01-07T23:59:59.000+08:00");
	cr_assert_eq(prov, 1);

	/* Hours are calendar time, holidays included. */
	int64_t r = T("2025-10-01T22:15:30.250+08:00");
	cr_assert_eq(cal_due_ms(cs, r, 5, 2, &prov), r + 2 * 3600000LL);
	cr_assert_eq(prov, 0);
	expect_time(cal_due_ms(cs, r, 0, 24, NULL), "2025-10-02T22:15:30.250+08:00");
	expect_time(cal_due_ms(NULL, r, 0, 24, &prov), "2025-10-02T22:15:30.250+08:00");
	cr_assert_eq(prov, 0);
}

/* Weekdays strictly after a, up to b, day by day. */
static int naive_weekdays(int32_t a, int32_t b)
{
	int n = 0;

	for (int32_t d = a + 1; d <= b; d++)
		n += pb_weekday(d) < 5;
	return n;
}

Test(cal, days_past_the_calendar_years)
{
	int prov = -1;
	int32_t d;

	/* After the table: weekdays only, provisional, loaded set or not. */
	d = cal_add_working_days(cs, D("2101-03-01"), 20, &prov);
	cr_assert_eq(d, D("2101-03-29"), "%s", F(d));
	cr_assert_eq(prov, 1);
	cr_assert_eq(cal_add_working_days(NULL, D("2101-03-01"), 20, &prov), D("2101-03-29"));
	cr_assert_eq(prov, 1);
	cr_assert_eq(cal_is_working_day(cs, D("7162-01-01"), &prov), pb_weekday(D("7162-01-01")) < 5);
	cr_assert_eq(prov, 1);
	cr_assert_eq(cal_working_days_between(cs, D("2101-01-01"), D("7162-01-01"), &prov),
	    naive_weekdays(D("2101-01-01"), D("7162-01-01")));
	cr_assert_eq(prov, 1);
	expect_time(cal_due_ms(cs, T("9999-12-20T10:00:00+08:00"), 10, 0, &prov),
	    "10000-01-03T23:59:59.000+08:00");
	cr_assert_eq(prov, 1);

	/* The last int32 days: 2147483645 is a Wednesday, 2147483646 a
	 * Thursday, 2147483647 a Friday (weekday = (day + 3) mod 7). */
	cr_assert_eq(cal_is_working_day(cs, INT32_MAX - 2, &prov), 1);
	cr_assert_eq(cal_is_working_day(cs, INT32_MAX - 1, &prov), 1);
	cr_assert_eq(cal_is_working_day(cs, INT32_MAX, &prov), 1);
	cr_assert_eq(prov, 1);
	cr_assert_eq(cal_add_working_days(cs, INT32_MAX - 3, 5, &prov), INT32_MAX);
	cr_assert_eq(cal_working_days_between(cs, INT32_MAX - 7, INT32_MAX, &prov), 5);

	/* Instants past the int32 days take the last (or first) of them. */
	int64_t last = cal_end_of_day_ms(INT32_MAX);
	cr_assert_eq(cal_due_ms(cs, INT64_MAX, 20, 0, &prov), last);
	cr_assert_eq(prov, 1);
	cr_assert_eq(cal_due_ms(cs, pb_day_start_ms(INT32_MAX), 0, 0, NULL), last);
	cr_assert_eq(cal_due_ms(cs, pb_day_start_ms(INT32_MAX) - 1, 0, 0, NULL),
	    cal_end_of_day_ms(INT32_MAX - 1));
	cr_assert_eq(cal_due_ms(cs, INT64_MIN, 0, 0, NULL), cal_end_of_day_ms(INT32_MIN));
	/* Hours stop at INT64_MAX instead of wrapping to a date in the past. */
	cr_assert_eq(cal_due_ms(cs, INT64_MAX - 1000, 0, 24, &prov), INT64_MAX);
	cr_assert_eq(prov, 0);
	cr_assert_eq(cal_due_ms(cs, INT64_MIN, 0, 24, NULL), INT64_MIN + 24 * 3600000LL);
	/* Past 2100 no next year's notice can load, whatever the month. */
	cr_assert_eq(cal_next_year_missing(cs, T("2100-10-31T12:00:00+08:00")), 0);
	cr_assert_eq(cal_next_year_missing(cs, T("2100-11-01T12:00:00+08:00")), 1);
	cr_assert_eq(cal_next_year_missing(cs, T("2101-03-01T12:00:00+08:00")), 1);
	cr_assert_eq(cal_next_year_missing(cs, INT64_MAX), 1);
}

/* ---- property test against the naive model ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: reproducible from the seed printed on failure. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static void property(const cal_set *c, unsigned years, uint64_t seed)
{
	int32_t lo = D("2023-01-01"), hi = D("2028-12-31");
	uint32_t span = (uint32_t)(hi - lo + 1);

	ref_init(years);
	rng_state = seed;
	for (int i = 0; i < 100000; i++) {
		int32_t day = lo + (int32_t)(rng() % span);
		int n = (int)(rng() % 61), p1 = -1, p2 = -1;
		int32_t want = ref_add(day, n, &p1);
		int32_t got = cal_add_working_days(c, day, n, &p2);

		if (got != want || p1 != p2)
			cr_assert_fail("seed %llu: %s + %d: got %s/%d, want %s/%d",
			    (unsigned long long)seed, F(day), n, F(got), p2, F(want), p1);
		if (cal_is_working_day(c, day, &p2) != ref_work_fast(day) || p2 != !ref_loaded(day))
			cr_assert_fail("%s: is_working_day %d/%d", F(day),
			    cal_is_working_day(c, day, NULL), p2);
	}
	for (int i = 0; i < 100000; i++) {
		int32_t a = lo + (int32_t)(rng() % span);
		int32_t b = a + (int32_t)(rng() % 431) - 30;
		int p1 = -1, p2 = -1;
		int want = ref_between(a, b, &p1);
		int got = cal_working_days_between(c, a, b, &p2);

		if (got != want || p1 != p2)
			cr_assert_fail("seed %llu: between %s %s: got %d/%d, want %d/%d",
			    (unsigned long long)seed, F(a), F(b), got, p2, want, p1);
	}
}

Test(cal, property_against_naive)
{
	property(cs, 7, 0x9e3779b97f4a7c15ULL);
}

Test(cal, property_with_gap_year)
{
	const char *paths[] = {CAL_DIR "/cn-2026.cal", CAL_DIR "/cn-2024.cal"};
	cal_set *gap = NULL;
	char err[256] = "";
	int prov = -1;

	cr_assert_eq(cal_load_files(paths, 2, &gap, err, sizeof(err)), PB_OK, "%s", err);
	cr_assert_eq(cal_first_year(gap), 2024);
	cr_assert_eq(cal_last_year(gap), 2026);
	cr_assert(cal_has_year(gap, 2024) && !cal_has_year(gap, 2025) && cal_has_year(gap, 2026));
	/* 2025-01-01 is a Wednesday and, without its calendar, still 元旦. */
	cr_assert_eq(cal_is_working_day(gap, D("2025-01-01"), &prov), 0);
	cr_assert_eq(prov, 1);
	expect_add(gap, "2024-12-31", 1, "2025-01-02", 1);
	expect_add(gap, "2026-02-13", 20, "2026-03-19", 0);
	expect_add(gap, "2024-09-27", 20, "2024-10-30", 0);
	property(gap, 1 | 4, 12345);
	cal_free(gap);
}

/* ---- loader ---- */

static char tmpdir[512];

static void make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	size_t n;

	n = (size_t)snprintf(tmpdir, sizeof(tmpdir), "%s/mr-cal-", base && *base ? base : P_tmpdir);
	cr_assert_lt(n + 7, sizeof(tmpdir));
	memset(tmpdir + n, 'X', 6);	/* mkdtemp's template */
	tmpdir[n + 6] = '\0';
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_not_null(f = fopen(path, "w"), "%s: %s", path, strerror(errno));
	cr_assert_eq(fputs(text, f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
}

static void write_file(const char *name, const char *text)
{
	put(tmpdir, name, text);
}

static void remove_file(const char *name)
{
	char path[640];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
}

static void rm_tmpdir(void)
{
	const char *names[] = {"a.cal", "b.cal", "cn-2024.cal", "cn-2025.cal", "cn-2026.cal"};

	for (int i = 0; i < NELEM(names); i++)
		remove_file(names[i]);
	rmdir(tmpdir);
}

TestSuite(cal_load, .init = make_tmpdir, .fini = rm_tmpdir);

#define HEAD "# test\nyear 2024\nnotice Test notice\nissued 2023-10-25\n"   /* lines 1-4 */

/* Loads text as a.cal (and b.cal if given) and expects a refusal naming
 * file:line and containing what. */
static void expect_refusal(const char *a, const char *b, const char *file, int line,
    const char *what)
{
	char err[512] = "", want[700];
	cal_set *c = (cal_set *)1;
	int rc;

	remove_file("a.cal");
	remove_file("b.cal");
	write_file("a.cal", a);
	if (b != NULL)
		write_file("b.cal", b);
	rc = cal_load_dir(tmpdir, &c, err, sizeof(err));
	cr_assert_neq(rc, PB_OK, "accepted:\n%s", a);
	cr_assert_null(c);
	if (line > 0)
		snprintf(want, sizeof(want), "%s/%s:%d: ", tmpdir, file, line);
	else
		snprintf(want, sizeof(want), "%s/%s: ", tmpdir, file);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "error '%s' does not start with '%s'",
	    err, want);
	cr_assert_not_null(strstr(err, what), "error '%s' lacks '%s'", err, what);
}

Test(cal_load, good_file_loads)
{
	char err[256] = "";
	cal_set *c = NULL;

	write_file("a.cal", "\xEF\xBB\xBF" HEAD "number X〔2023〕1号 # trailing comment\r\n"
	    "\tholiday   2024-02-10\t2024-02-17  \n\nworkday 2024-02-04\n");
	cr_assert_eq(cal_load_dir(tmpdir, &c, err, sizeof(err)), PB_OK, "%s", err);
	cr_assert_eq(cal_is_working_day(c, D("2024-02-12"), NULL), 0);
	cr_assert_eq(cal_is_working_day(c, D("2024-02-04"), NULL), 1);
	cr_assert_eq(cal_is_working_day(c, D("2024-01-01"), NULL), 1);
	cal_free(c);
}

Test(cal_load, makeup_not_weekend)
{
	expect_refusal(HEAD "workday 2024-02-04\nworkday 2024-02-05\n", NULL, "a.cal", 6,
	    "Saturday or Sunday");
}

Test(cal_load, overlapping_holidays)
{
	expect_refusal(HEAD "holiday 2024-05-01 2024-05-05\n\nholiday 2024-05-05 2024-05-06\n", NULL,
	    "a.cal", 7, "overlaps 2024-05-01..2024-05-05 (line 5)");
	expect_refusal(HEAD "holiday 2024-05-03\nholiday 2024-05-01 2024-05-05\n", NULL, "a.cal", 6,
	    "overlaps");
	expect_refusal(HEAD "holiday 2024-05-03\nholiday 2024-05-03\n", NULL, "a.cal", 6, "overlaps");
}

Test(cal_load, dates_outside_year)
{
	expect_refusal(HEAD "holiday 2025-01-01\n", NULL, "a.cal", 5, "outside the file's year 2024");
	expect_refusal(HEAD "holiday 2024-12-31 2025-01-02\n", NULL, "a.cal", 5, "outside");
	expect_refusal(HEAD "workday 2023-12-30\n", NULL, "a.cal", 5, "outside");
}

/* CAL_YEAR_MIN..CAL_YEAR_MAX, as docs/calendars.md states it. */
#define RANGE "is outside the calendar years 1990..2100"

Test(cal_load, the_years_are_1990_to_2100)
{
	char err[512] = "";
	cal_set *c = NULL;
	int prov = -1;

	expect_refusal("year 1989\nnotice N\nissued 1988-11-01\n", NULL, "a.cal", 1,
	    "year 1989 " RANGE);
	expect_refusal("# comment\nyear 2101\nnotice N\nissued 2100-11-01\n", NULL, "a.cal", 2,
	    "year 2101 " RANGE);

	/* Both ends load, in one set: a table from 1990 to 2100. */
	remove_file("a.cal");
	write_file("a.cal", "year 1990\nnotice N\nissued 1989-12-01\nholiday 1990-01-01\n"
	    "workday 1990-01-06\n");
	write_file("b.cal", "year 2100\nnotice N\nissued 2099-11-01\nholiday 2100-12-31\n"
	    "workday 2100-01-02\n");
	cr_assert_eq(cal_load_dir(tmpdir, &c, err, sizeof(err)), PB_OK, "%s", err);
	cr_assert_eq(cal_first_year(c), 1990);
	cr_assert_eq(cal_last_year(c), 2100);
	cr_assert_eq(cal_is_working_day(c, D("1990-01-01"), &prov), 0);
	cr_assert_eq(prov, 0);
	cr_assert_eq(cal_is_working_day(c, D("1990-01-06"), &prov), 1, "a Saturday worked");
	cr_assert_eq(prov, 0);
	cr_assert_eq(cal_is_working_day(c, D("2100-12-31"), &prov), 0, "a Friday off");
	cr_assert_eq(prov, 0);
	cr_assert_eq(cal_is_working_day(c, D("2100-01-02"), &prov), 1);
	cr_assert_eq(prov, 0);
	/* 2100-12-30 (Thursday) + 1: the Friday is off, the next Monday is
	 * past the last calendar year. */
	cr_assert_eq(cal_add_working_days(c, D("2100-12-30"), 1, &prov), D("2101-01-03"));
	cr_assert_eq(prov, 1);
	cal_free(c);
	remove_file("b.cal");
}

Test(cal_load, a_year_far_out_is_refused)
{
	/* The fuzzer's 7162: once a table of 1.9 million days. */
	expect_refusal("year 7162\nnotice N\nissued 7161-11-01\n", NULL, "a.cal", 1,
	    "year 7162 " RANGE);
	expect_refusal(HEAD "year 9999\n", NULL, "a.cal", 5, "second 'year'");
	expect_refusal("year 9999\n", NULL, "a.cal", 1, "year 9999 " RANGE);
	expect_refusal("year 0000\n", NULL, "a.cal", 1, "year 0000 " RANGE);
}

Test(cal_load, dates_outside_the_calendar_years)
{
	/* A date outside the range is named as such, not as another year. */
	expect_refusal(HEAD "holiday 2101-01-01\n", NULL, "a.cal", 5, "date 2101-01-01 " RANGE);
	expect_refusal(HEAD "holiday 2024-12-31 7162-01-01\n", NULL, "a.cal", 5,
	    "date 7162-01-01 " RANGE);
	expect_refusal(HEAD "workday 1989-12-30\n", NULL, "a.cal", 5, "date 1989-12-30 " RANGE);
	expect_refusal("year 2100\nnotice N\nissued 2099-11-01\nholiday 2100-12-31 2101-01-01\n",
	    NULL, "a.cal", 4, "date 2101-01-01 " RANGE);
	expect_refusal("year 1990\nnotice N\nissued 1989-11-01\nworkday 1989-12-31\n", NULL,
	    "a.cal", 4, "date 1989-12-31 " RANGE);
	/* Inside the range, another year is still the file's-year refusal. */
	expect_refusal("year 1990\nnotice N\nissued 1989-11-01\nholiday 1991-01-01\n", NULL,
	    "a.cal", 4, "date 1991-01-01 is outside the file's year 1990");
	expect_refusal("year 2100\nnotice N\nissued 2099-11-01\nworkday 2099-12-26\n", NULL,
	    "a.cal", 4, "date 2099-12-26 is outside the file's year 2100");
	/* The notice's date: from the year before the first calendar year. */
	expect_refusal("year 2024\nnotice N\nissued 7162-01-01\n", NULL, "a.cal", 3,
	    "issued date 7162-01-01 is outside 1989..2100");
	expect_refusal("year 1990\nnotice N\nissued 1988-12-31\n", NULL, "a.cal", 3,
	    "issued date 1988-12-31 is outside 1989..2100");
}

Test(cal_load, duplicate_year_across_files)
{
	expect_refusal(HEAD, "# other\n\nyear 2024\nnotice Other\nissued 2023-10-25\n", "b.cal", 3,
	    "year 2024 already loaded from");
}

Test(cal_load, unknown_directive)
{
	expect_refusal(HEAD "holiday 2024-01-01\nholliday 2024-02-10\n", NULL, "a.cal", 6,
	    "unknown directive 'holliday'");
}

Test(cal_load, malformed_dates)
{
	expect_refusal(HEAD "holiday 2024-2-10\n", NULL, "a.cal", 5, "malformed date '2024-2-10'");
	expect_refusal(HEAD "holiday 2024-02-30\n", NULL, "a.cal", 5, "malformed date");
	expect_refusal(HEAD "holiday 2024-02-10 2024-02-1x\n", NULL, "a.cal", 5, "malformed date");
	expect_refusal(HEAD "workday 24-02-04\n", NULL, "a.cal", 5, "malformed date");
	expect_refusal("year 2024\nnotice N\nissued 2023/10/25\n", NULL, "a.cal", 3, "malformed date");
	expect_refusal("year 24\n", NULL, "a.cal", 1, "YYYY");
}

Test(cal_load, other_refusals)
{
	expect_refusal(HEAD "holiday 2024-02-17 2024-02-10\n", NULL, "a.cal", 5, "before it starts");
	expect_refusal(HEAD "workday 2024-02-04\nworkday 2024-02-04\n", NULL, "a.cal", 6,
	    "already listed (line 5)");
	expect_refusal(HEAD "holiday 2024-02-03 2024-02-05\nworkday 2024-02-04\n", NULL, "a.cal", 6,
	    "lies in holiday");
	expect_refusal(HEAD "workday 2024-02-04\nholiday 2024-02-03 2024-02-05\n", NULL, "a.cal", 6,
	    "contains make-up working day 2024-02-04");
	expect_refusal("notice N\nholiday 2024-01-01\n", NULL, "a.cal", 2, "before 'year'");
	expect_refusal(HEAD "holiday 2024-01-01 2024-01-01 extra\n", NULL, "a.cal", 5, "unexpected");
	expect_refusal(HEAD "year 2025\n", NULL, "a.cal", 5, "second 'year'");
	expect_refusal("year 2024\nissued 2023-10-25\n", NULL, "a.cal", 0, "no 'notice'");
	expect_refusal("year 2024\nnotice N\n", NULL, "a.cal", 0, "no 'issued'");
	expect_refusal("notice N\nissued 2023-10-25\n", NULL, "a.cal", 0, "no 'year'");
}

Test(cal_load, missing_or_empty_dir)
{
	char err[256] = "", path[700];
	cal_set *c = NULL;

	cr_assert_eq(cal_load_dir(tmpdir, &c, err, sizeof(err)), PB_ENOTFOUND);
	cr_assert_null(c);
	cr_assert_not_null(strstr(err, "no *.cal files"), "%s", err);
	snprintf(path, sizeof(path), "%s/absent", tmpdir);
	cr_assert_eq(cal_load_dir(path, &c, err, sizeof(err)), PB_ENOTFOUND);
	cr_assert_not_null(strstr(err, path), "%s", err);
	const char *one[] = {path};
	cr_assert_eq(cal_load_files(one, 1, &c, err, sizeof(err)), PB_ENOTFOUND);
	cr_assert_null(c);
}

/* ---- version ---- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void version_of_dir(uint8_t v[CAL_VERSION_LEN])
{
	char err[256] = "";
	cal_set *c = NULL;

	cr_assert_eq(cal_load_dir(tmpdir, &c, err, sizeof(err)), PB_OK, "%s", err);
	cal_version(c, v);
	cal_free(c);
}

static char *replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	char *out;

	cr_assert_not_null(p, "'%s' not in file", from);
	out = malloc(strlen(s) + strlen(to) + 1);
	cr_assert_not_null(out);
	memcpy(out, s, (size_t)(p - s));
	strcpy(out + (p - s), to);
	strcat(out, p + strlen(from));
	return out;
}

Test(cal_load, version)
{
	const char *years[] = {"cn-2024.cal", "cn-2025.cal", "cn-2026.cal"};
	char *text[3], path[3][640], *mod;
	uint8_t v_std[CAL_VERSION_LEN], v[CAL_VERSION_LEN], v2[CAL_VERSION_LEN];
	const char *order[3];
	cal_set *c = NULL;

	for (int i = 0; i < 3; i++) {
		char src[640];
		snprintf(src, sizeof(src), "%s/%s", CAL_DIR, years[i]);
		text[i] = slurp(src);
		write_file(years[i], text[i]);
		snprintf(path[i], sizeof(path[i]), "%s/%s", tmpdir, years[i]);
	}
	/* A copy has the shipped version. */
	{
		cal_set *s = NULL;
		cr_assert_eq(cal_load_dir(CAL_DIR, &s, NULL, 0), PB_OK);
		cal_version(s, v_std);
		cal_free(s);
	}
	version_of_dir(v);
	cr_assert_arr_eq(v, v_std, CAL_VERSION_LEN);

	/* Stable across load order. */
	order[0] = path[2], order[1] = path[0], order[2] = path[1];
	cr_assert_eq(cal_load_files(order, 3, &c, NULL, 0), PB_OK);
	cal_version(c, v2);
	cal_free(c);
	cr_assert_arr_eq(v2, v_std, CAL_VERSION_LEN);

	/* Comments, spacing and line order are not content. */
	mod = replace(text[1], "holiday 2025-01-01              # 元旦",
	    "holiday   2025-01-01 2025-01-01   # New Year\n# moved");
	char *mod2 = replace(mod, "workday 2025-02-08\n", "");
	free(mod);
	mod = malloc(strlen(mod2) + 64);
	cr_assert_not_null(mod);
	sprintf(mod, "%sworkday\t2025-02-08\n", mod2);
	free(mod2);
	write_file(years[1], mod);
	free(mod);
	version_of_dir(v);
	cr_assert_arr_eq(v, v_std, CAL_VERSION_LEN);

	/* Any date changes it. */
	mod = replace(text[2], "holiday 2026-06-19 2026-06-21", "holiday 2026-06-19 2026-06-22");
	write_file(years[2], mod);
	free(mod);
	version_of_dir(v);
	cr_assert(memcmp(v, v_std, CAL_VERSION_LEN) != 0);
	write_file(years[2], text[2]);
	version_of_dir(v);
	cr_assert_arr_eq(v, v_std, CAL_VERSION_LEN);

	/* So do the notice's number and a missing year. */
	mod = replace(text[0], "〔2023〕7号", "〔2023〕8号");
	write_file(years[0], mod);
	free(mod);
	version_of_dir(v);
	cr_assert(memcmp(v, v_std, CAL_VERSION_LEN) != 0);
	cr_assert_eq(cal_load_files(order, 2, &c, NULL, 0), PB_OK);
	cal_version(c, v2);
	cal_free(c);
	cr_assert(memcmp(v2, v_std, CAL_VERSION_LEN) != 0);
	cr_assert(memcmp(v2, v, CAL_VERSION_LEN) != 0);

	for (int i = 0; i < 3; i++)
		free(text[i]);
}

/* An office loading the 2027 notice: a bad line is refused with the
 * file's name, the line and the reason, also from memory (a bundle). */
Test(cal_load, a_bad_notice_line_names_file_line_and_reason)
{
	static const char good[] = "year 2027\nnotice 国务院办公厅关于2027年部分节假日安排的通知\n"
	                           "issued 2026-11-10\nholiday 2027-01-01 2027-01-03\n";
	static const char bad[] = "year 2027\nnotice 国务院办公厅关于2027年部分节假日安排的通知\n"
	                          "issued 2026-11-10\nholiday 2027-01-01 2027-01-03\n"
	                          "workday 2027-02-10   # a Wednesday\n";
	const char *names[] = {"cn-2027.cal"}, *data[] = {bad};
	size_t lens[] = {sizeof(bad) - 1};
	char err[256] = "";
	cal_set *c = NULL;

	cr_assert_eq(cal_load_bufs(names, data, lens, 1, &c, err, sizeof(err)), PB_EINVAL);
	cr_assert_null(c);
	cr_assert_str_eq(err, "cn-2027.cal:5: make-up working day 2027-02-10 is a Wednesday, not a "
	                      "Saturday or Sunday");
	expect_refusal(bad, NULL, "a.cal", 5, "is a Wednesday");

	data[0] = good;
	lens[0] = sizeof(good) - 1;
	cr_assert_eq(cal_load_bufs(names, data, lens, 1, &c, err, sizeof(err)), PB_OK, "%s", err);
	cr_assert(cal_has_year(c, 2027));
	cr_assert_eq(cal_is_working_day(c, D("2027-02-05"), NULL), 1, "the notice, not the law");
	cal_free(c);
	lens[0] = 0;
	cr_assert_eq(cal_load_bufs(names, data, lens, 1, &c, err, sizeof(err)), PB_EINVAL);
	cr_assert_str_eq(err, "cn-2027.cal: no 'year' line");
}

/* The same bytes give the same version, from a file or from memory. */
Test(cal_load, a_set_loaded_from_memory_has_the_files_version)
{
	char err[256] = "", *buf = NULL;
	const char *path = CAL_DIR "/cn-2026.cal", *names[] = {"x.cal"}, *data[1];
	uint8_t v0[CAL_VERSION_LEN], v1[CAL_VERSION_LEN];
	cal_set *a = NULL, *b = NULL;
	size_t len = 0, cap = 0;
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f);
	cr_assert_eq(getdelim(&buf, &cap, '\0', f) > 0, 1);
	len = strlen(buf);
	fclose(f);
	data[0] = buf;
	cr_assert_eq(cal_load_files(&path, 1, &a, err, sizeof(err)), PB_OK, "%s", err);
	cr_assert_eq(cal_load_bufs(names, data, &len, 1, &b, err, sizeof(err)), PB_OK, "%s", err);
	cal_version(a, v0);
	cal_version(b, v1);
	cr_assert_arr_eq(v0, v1, CAL_VERSION_LEN);
	cal_free(a);
	cal_free(b);
	free(buf);
}

/* From 1 November (Beijing time) on, next year's missing notice shows. */
Test(cal, next_year_missing_from_1_november)
{
	cr_assert_eq(cal_next_year_missing(cs, T("2026-10-31T23:59:59+08:00")), 0);
	cr_assert_eq(cal_next_year_missing(cs, T("2026-10-31T16:00:00Z")), 1, "11-01 00:00 +08");
	cr_assert_eq(cal_next_year_missing(cs, T("2026-12-07T10:00:00+08:00")), 1);
	cr_assert_eq(cal_next_year_missing(cs, T("2025-11-05T10:00:00+08:00")), 0, "2026 loaded");
	cr_assert_eq(cal_next_year_missing(cs, T("2027-01-05T10:00:00+08:00")), 0, "not yet due");
	cr_assert_eq(cal_next_year_missing(NULL, T("2025-11-05T10:00:00+08:00")), 1);
}

/* ---- the shipped directory and the office's own (cal_load_dirs) ---- */

struct overrides {
	int n, year;
	char used[640], ignored[640];
};

static void note_override(void *arg, int year, const char *used, const char *ignored)
{
	struct overrides *o = arg;

	o->n++;
	o->year = year;
	snprintf(o->used, sizeof(o->used), "%s", used);
	snprintf(o->ignored, sizeof(o->ignored), "%s", ignored);
}

/* tmpdir/shipped and tmpdir/local; the suite's fini removes tmpdir. */
static char shipped[600], local[600];

static void make_dirs(void)
{
	make_tmpdir();
	snprintf(shipped, sizeof(shipped), "%s/shipped", tmpdir);
	snprintf(local, sizeof(local), "%s/local", tmpdir);
	cr_assert_eq(mkdir(shipped, 0700), 0);
	cr_assert_eq(mkdir(local, 0700), 0);
}

static void rm_dirs(void)
{
	const char *names[] = {"cn-2024.cal", "cn-2027.cal", "office-2024.cal", "again-2024.cal"};
	char path[700];

	for (int i = 0; i < NELEM(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", shipped, names[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", local, names[i]);
		unlink(path);
	}
	rmdir(shipped);
	rmdir(local);
	rmdir(tmpdir);
}

TestSuite(cal_dirs, .init = make_dirs, .fini = rm_dirs);

#define SHIPPED_2024 HEAD "holiday 2024-02-10 2024-02-17\n"
#define LOCAL_2024 "year 2024\nnotice Office copy\nissued 2023-10-25\nholiday 2024-03-01\n"

Test(cal_dirs, a_year_in_both_is_taken_from_the_office_directory)
{
	struct overrides o = {0};
	char err[256] = "", want[700];
	uint8_t v0[CAL_VERSION_LEN], v1[CAL_VERSION_LEN];
	cal_set *c = NULL, *alone = NULL;

	put(shipped, "cn-2024.cal", SHIPPED_2024);
	put(local, "office-2024.cal", LOCAL_2024);
	cr_assert_eq(cal_load_dirs(shipped, local, note_override, &o, &c, err, sizeof(err)), PB_OK,
	    "%s", err);
	cr_assert_eq(cal_is_working_day(c, D("2024-02-12"), NULL), 1, "the shipped holiday is gone");
	cr_assert_eq(cal_is_working_day(c, D("2024-03-01"), NULL), 0, "the office's holiday");
	cr_assert_eq(o.n, 1);
	cr_assert_eq(o.year, 2024);
	snprintf(want, sizeof(want), "%s/office-2024.cal", local);
	cr_assert_str_eq(o.used, want);
	snprintf(want, sizeof(want), "%s/cn-2024.cal", shipped);
	cr_assert_str_eq(o.ignored, want);
	/* The version is that of the files used, as an auditor loading the
	 * office's file alone computes it. */
	cr_assert_eq(cal_load_dir(local, &alone, err, sizeof(err)), PB_OK, "%s", err);
	cal_version(c, v0);
	cal_version(alone, v1);
	cr_assert_arr_eq(v0, v1, CAL_VERSION_LEN);
	cal_free(c);
	cal_free(alone);
}

Test(cal_dirs, the_office_adds_a_year)
{
	struct overrides o = {0};
	char err[256] = "";
	cal_set *c = NULL;
	int prov = -1;

	put(shipped, "cn-2024.cal", SHIPPED_2024);
	put(local, "cn-2027.cal",
	    "year 2027\nnotice N\nissued 2026-11-01\nholiday 2027-02-05 2027-02-11\n");
	cr_assert_eq(cal_load_dirs(shipped, local, note_override, &o, &c, err, sizeof(err)), PB_OK,
	    "%s", err);
	cr_assert_eq(o.n, 0);
	cr_assert(cal_has_year(c, 2024) && cal_has_year(c, 2027));
	cr_assert_eq(cal_is_working_day(c, D("2024-02-12"), NULL), 0);
	cr_assert_eq(cal_is_working_day(c, D("2027-02-10"), &prov), 0);
	cr_assert_eq(prov, 0, "2027 comes from the office's notice");
	cal_free(c);
}

Test(cal_dirs, no_or_missing_office_directory_is_the_shipped_one)
{
	char err[256] = "", absent[700];
	uint8_t v0[CAL_VERSION_LEN], v[CAL_VERSION_LEN];
	const char *locals[3];
	cal_set *c = NULL;

	put(shipped, "cn-2024.cal", SHIPPED_2024);
	cr_assert_eq(cal_load_dir(shipped, &c, err, sizeof(err)), PB_OK, "%s", err);
	cal_version(c, v0);
	cal_free(c);
	snprintf(absent, sizeof(absent), "%s/absent", tmpdir);
	locals[0] = NULL;
	locals[1] = "";
	locals[2] = absent;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(cal_load_dirs(shipped, locals[i], NULL, NULL, &c, err, sizeof(err)), PB_OK,
		    "%s", err);
		cal_version(c, v);
		cr_assert_arr_eq(v, v0, CAL_VERSION_LEN);
		cal_free(c);
	}
	/* An empty office directory too. */
	cr_assert_eq(cal_load_dirs(shipped, local, NULL, NULL, &c, err, sizeof(err)), PB_OK, "%s",
	    err);
	cal_free(c);
}

Test(cal_dirs, refusals)
{
	char err[512] = "", absent[700], again[700];
	cal_set *c = (cal_set *)1;

	snprintf(absent, sizeof(absent), "%s/absent", tmpdir);
	snprintf(again, sizeof(again), "%s/again-2024.cal", local);
	/* Neither holds a file. */
	cr_assert_eq(cal_load_dirs(absent, local, NULL, NULL, &c, err, sizeof(err)), PB_ENOTFOUND);
	cr_assert_null(c);
	cr_assert_not_null(strstr(err, "no *.cal files"), "%s", err);
	cr_assert_not_null(strstr(err, local), "%s", err);
	/* Only the office's: loads. */
	put(local, "office-2024.cal", LOCAL_2024);
	cr_assert_eq(cal_load_dirs(absent, local, NULL, NULL, &c, err, sizeof(err)), PB_OK, "%s",
	    err);
	cal_free(c);
	/* Two files of one year in the office's directory: which one holds
	 * is not for the loader to guess. */
	put(local, "again-2024.cal", LOCAL_2024);
	c = (cal_set *)1;
	cr_assert_eq(cal_load_dirs(absent, local, NULL, NULL, &c, err, sizeof(err)), PB_EEXIST);
	cr_assert_null(c);
	cr_assert_not_null(strstr(err, "year 2024 already loaded from"), "%s", err);
	/* A bad office file is refused with its file and line. */
	unlink(again);
	put(shipped, "cn-2024.cal", SHIPPED_2024);
	put(local, "cn-2027.cal", "year 2027\nnotice N\nissued 2026-11-01\nholiday 2027-02-30\n");
	cr_assert_neq(cal_load_dirs(shipped, local, NULL, NULL, &c, err, sizeof(err)), PB_OK);
	cr_assert_not_null(strstr(err, "cn-2027.cal:4: "), "%s", err);
}
