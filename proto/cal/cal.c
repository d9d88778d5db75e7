#include "cal.h"
#include "pb_err.h"
#include "pb_time.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAL_LINE_MAX 1024
#define CAL_TEXT_MAX 256
#define CAL_RANGES_MAX 128
/* First line hashed into every version, so a change of the canonical form
 * or of the rule for years without a notice can never collide with an
 * older version. 2: such years take the statutory holidays. */
#define CAL_CANON_HEADER "mailroom-calendar 2\n"

/*
 * The statutory holidays (全国年节及纪念日放假办法) every year has by law,
 * whether or not its notice is loaded. A year without a notice gets these
 * and no make-up working days: a holiday on a weekend is just a day off.
 * The lunar dates (正月初一, 端午, 中秋) and 清明 are tabled as MMDD for
 * CAL_STAT_FIRST..CAL_STAT_LAST; they were computed astronomically and
 * checked against a second, table-based converter.
 */
#define CAL_STAT_FIRST 2000
#define CAL_STAT_LAST 2050
/* The table spans at least these years; past CAL_STAT_LAST only the
 * solar holidays are known, before CAL_SPAN_FIRST only weekends. */
#define CAL_SPAN_FIRST CAL_STAT_FIRST
#define CAL_SPAN_LAST 2099

static const struct cal_stat_year {
	int16_t spring, qingming, dragon, autumn;   /* 正月初一, 清明, 端午, 中秋 */
} stat_years[CAL_STAT_LAST - CAL_STAT_FIRST + 1] = {
	{205, 404, 606, 912}, /* 2000 */
	{124, 405, 625, 1001}, /* 2001 */
	{212, 405, 615, 921}, /* 2002 */
	{201, 405, 604, 911}, /* 2003 */
	{122, 404, 622, 928}, /* 2004 */
	{209, 405, 611, 918}, /* 2005 */
	{129, 405, 531, 1006}, /* 2006 */
	{218, 405, 619, 925}, /* 2007 */
	{207, 404, 608, 914}, /* 2008 */
	{126, 404, 528, 1003}, /* 2009 */
	{214, 405, 616, 922}, /* 2010 */
	{203, 405, 606, 912}, /* 2011 */
	{123, 404, 623, 930}, /* 2012 */
	{210, 404, 612, 919}, /* 2013 */
	{131, 405, 602, 908}, /* 2014 */
	{219, 405, 620, 927}, /* 2015 */
	{208, 404, 609, 915}, /* 2016 */
	{128, 404, 530, 1004}, /* 2017 */
	{216, 405, 618, 924}, /* 2018 */
	{205, 405, 607, 913}, /* 2019 */
	{125, 404, 625, 1001}, /* 2020 */
	{212, 404, 614, 921}, /* 2021 */
	{201, 405, 603, 910}, /* 2022 */
	{122, 405, 622, 929}, /* 2023 */
	{210, 404, 610, 917}, /* 2024 */
	{129, 404, 531, 1006}, /* 2025 */
	{217, 405, 619, 925}, /* 2026 */
	{206, 405, 609, 915}, /* 2027 */
	{126, 404, 528, 1003}, /* 2028 */
	{213, 404, 616, 922}, /* 2029 */
	{203, 405, 605, 912}, /* 2030 */
	{123, 405, 624, 1001}, /* 2031 */
	{211, 404, 612, 919}, /* 2032 */
	{131, 404, 601, 908}, /* 2033 */
	{219, 405, 620, 927}, /* 2034 */
	{208, 405, 610, 916}, /* 2035 */
	{128, 404, 530, 1004}, /* 2036 */
	{215, 404, 618, 924}, /* 2037 */
	{204, 405, 607, 913}, /* 2038 */
	{124, 405, 527, 1002}, /* 2039 */
	{212, 404, 614, 920}, /* 2040 */
	{201, 404, 603, 910}, /* 2041 */
	{122, 404, 622, 928}, /* 2042 */
	{210, 405, 611, 917}, /* 2043 */
	{130, 404, 531, 1005}, /* 2044 */
	{217, 404, 619, 925}, /* 2045 */
	{206, 404, 608, 915}, /* 2046 */
	{126, 405, 529, 1004}, /* 2047 */
	{214, 404, 615, 922}, /* 2048 */
	{202, 404, 604, 911}, /* 2049 */
	{123, 404, 623, 930}, /* 2050 */
};

/* The revision in force from from_year on. The Spring Festival starts
 * spring_from days after 正月初一 (-1: 除夕). */
static const struct cal_law {
	int from_year;
	int spring_from, spring_days, labour_days, lunar_days;
} laws[] = {
	{2000, 0, 3, 3, 0},    /* 1999 revision */
	{2008, -1, 3, 1, 1},   /* 2007: 清明, 端午, 中秋 added, 劳动节 one day */
	{2014, 0, 3, 1, 1},    /* 2013: 春节 from 初一 */
	{2025, -1, 4, 2, 1},   /* 2024: 春节 from 除夕, four days; 劳动节 two */
};

/*
 * Loaded form. Offsets are days since day0 (1 January of the first year
 * covered); the table covers whole years up to 31 December of the last
 * one: the loaded years and at least CAL_SPAN_FIRST..CAL_SPAN_LAST.
 *   cum[i]  working days in [day0, day0 + i)
 *   pcum[i] provisional (gap-year) days in [day0, day0 + i)
 *   wd[k]   offset of the working day with cum[wd[k]] == k
 * Outside the table the weekends-only rule is counted in O(1), so a query
 * is a few lookups whatever the span.
 */
struct cal_set {
	int first_year, last_year;   /* loaded notices; 0 if none */
	int32_t day0, ndays;
	int32_t *cum, *pcum, *wd;
	uint8_t version[CAL_VERSION_LEN];
};

/* What one file said, before the years are merged. */
struct cal_range {
	int32_t from, to;
	int line;
};

struct cal_file {
	const char *path;
	const char *data;          /* NULL: read path; else the file's bytes */
	size_t len;
	int layer;                 /* cal_load_dirs: 0 shipped, 1 the office's own */
	int year, year_line;
	char notice[CAL_TEXT_MAX], number[CAL_TEXT_MAX];
	int32_t issued;
	int has_issued;
	struct cal_range hol[CAL_RANGES_MAX], work[CAL_RANGES_MAX];
	int nhol, nwork;
};

static const char *wday_names[] = {
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
};

static int fail(char *err, size_t errlen, const char *path, int line, int code,
    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int fail(char *err, size_t errlen, const char *path, int line, int code,
    const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return code;
	if (line > 0)
		n = snprintf(err, errlen, "%s:%d: ", path, line);
	else
		n = snprintf(err, errlen, "%s: ", path);
	if (n < 0 || (size_t)n >= errlen)
		return code;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

/* ---- parsing ---- */

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

/* Cuts the next blank-separated token off *p; NULL at the end. */
static char *next_token(char **p)
{
	char *s = *p, *tok;

	while (is_space(*s))
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	tok = s;
	while (*s != '\0' && !is_space(*s))
		s++;
	if (*s != '\0')
		*s++ = '\0';
	*p = s;
	return tok;
}

static int year_of(int32_t day)
{
	int y, m, d;

	pb_civil_from_days(day, &y, &m, &d);
	return y;
}

/* Every year that enters a set passes here first, so the table built from
 * it stays within CAL_YEAR_MIN..CAL_YEAR_MAX. */
static int check_year(struct cal_file *cf, int line, const char *what, const char *tok, int y,
    char *err, size_t errlen)
{
	if (y < CAL_YEAR_MIN || y > CAL_YEAR_MAX)
		return fail(err, errlen, cf->path, line, PB_EINVAL,
		    "%s %.10s is outside the calendar years %d..%d", what, tok, CAL_YEAR_MIN,
		    CAL_YEAR_MAX);
	return PB_OK;
}

static int parse_day(struct cal_file *cf, int line, const char *tok, int32_t *day,
    char *err, size_t errlen)
{
	int y, rc;

	if (pb_date_parse(tok, day) != PB_OK)
		return fail(err, errlen, cf->path, line, PB_EINVAL,
		    "malformed date '%.40s' (want YYYY-MM-DD)", tok);
	y = year_of(*day);
	if ((rc = check_year(cf, line, "date", tok, y, err, errlen)) != PB_OK)
		return rc;
	if (y != cf->year)
		return fail(err, errlen, cf->path, line, PB_EINVAL,
		    "date %.10s is outside the file's year %d", tok, cf->year);
	return PB_OK;
}

static int no_more(struct cal_file *cf, int line, char **p, char *err, size_t errlen)
{
	char *tok = next_token(p);

	if (tok != NULL)
		return fail(err, errlen, cf->path, line, PB_EINVAL,
		    "unexpected '%.40s' at end of line", tok);
	return PB_OK;
}

static int parse_year(struct cal_file *cf, int line, char *args, char *err, size_t errlen)
{
	char *tok = next_token(&args);
	int y = 0, rc;

	if (cf->year != 0)
		return fail(err, errlen, cf->path, line, PB_EINVAL,
		    "second 'year' (first on line %d)", cf->year_line);
	if (tok == NULL || strlen(tok) != 4)
		return fail(err, errlen, cf->path, line, PB_EINVAL, "'year' wants YYYY");
	for (int i = 0; i < 4; i++) {
		if (tok[i] < '0' || tok[i] > '9')
			return fail(err, errlen, cf->path, line, PB_EINVAL,
			    "'year' wants YYYY, not '%.40s'", tok);
		y = y * 10 + (tok[i] - '0');
	}
	if ((rc = check_year(cf, line, "year", tok, y, err, errlen)) != PB_OK)
		return rc;
	cf->year = y;
	cf->year_line = line;
	return no_more(cf, line, &args, err, errlen);
}

static int parse_text(struct cal_file *cf, int line, const char *name, char *dst,
    const char *args, char *err, size_t errlen)
{
	size_t n = strlen(args);

	if (dst[0] != '\0')
		return fail(err, errlen, cf->path, line, PB_EINVAL, "second '%s'", name);
	if (n == 0)
		return fail(err, errlen, cf->path, line, PB_EINVAL, "'%s' needs a value", name);
	if (n >= CAL_TEXT_MAX)
		return fail(err, errlen, cf->path, line, PB_EINVAL,
		    "'%s' longer than %d bytes", name, CAL_TEXT_MAX - 1);
	memcpy(dst, args, n + 1);
	return PB_OK;
}

static int parse_issued(struct cal_file *cf, int line, char *args, char *err, size_t errlen)
{
	char *tok = next_token(&args);

	if (cf->has_issued)
		return fail(err, errlen, cf->path, line, PB_EINVAL, "second 'issued'");
	if (tok == NULL || pb_date_parse(tok, &cf->issued) != PB_OK)
		return fail(err, errlen, cf->path, line, PB_EINVAL,
		    "malformed date '%.40s' (want YYYY-MM-DD)", tok ? tok : "");
	/* The notice comes out the year before its own, so the file's year is
	 * not required here; the first calendar year's notice is from the year
	 * before it. */
	if (year_of(cf->issued) < CAL_YEAR_MIN - 1 || year_of(cf->issued) > CAL_YEAR_MAX)
		return fail(err, errlen, cf->path, line, PB_EINVAL,
		    "issued date %.10s is outside %d..%d (notices for the calendar years %d..%d)",
		    tok, CAL_YEAR_MIN - 1, CAL_YEAR_MAX, CAL_YEAR_MIN, CAL_YEAR_MAX);
	cf->has_issued = 1;
	return no_more(cf, line, &args, err, errlen);
}

static int parse_holiday(struct cal_file *cf, int line, char *args, char *err, size_t errlen)
{
	char *a = next_token(&args), *b = next_token(&args);
	char fa[16], fb[16];
	int32_t from, to;
	int rc;

	if (a == NULL)
		return fail(err, errlen, cf->path, line, PB_EINVAL,
		    "'holiday' wants FROM [TO]");
	if ((rc = parse_day(cf, line, a, &from, err, errlen)) != PB_OK)
		return rc;
	to = from;
	if (b != NULL && (rc = parse_day(cf, line, b, &to, err, errlen)) != PB_OK)
		return rc;
	if ((rc = no_more(cf, line, &args, err, errlen)) != PB_OK)
		return rc;
	if (to < from)
		return fail(err, errlen, cf->path, line, PB_EINVAL,
		    "holiday ends (%s) before it starts (%s)", b, a);
	for (int i = 0; i < cf->nhol; i++) {
		const struct cal_range *h = &cf->hol[i];
		if (from <= h->to && h->from <= to) {
			pb_date_fmt(h->from, fa, sizeof(fa));
			pb_date_fmt(h->to, fb, sizeof(fb));
			return fail(err, errlen, cf->path, line, PB_EINVAL,
			    "holiday overlaps %s..%s (line %d)", fa, fb, h->line);
		}
	}
	for (int i = 0; i < cf->nwork; i++) {
		const struct cal_range *w = &cf->work[i];
		if (from <= w->from && w->from <= to) {
			pb_date_fmt(w->from, fa, sizeof(fa));
			return fail(err, errlen, cf->path, line, PB_EINVAL,
			    "holiday contains make-up working day %s (line %d)", fa, w->line);
		}
	}
	if (cf->nhol == CAL_RANGES_MAX)
		return fail(err, errlen, cf->path, line, PB_ELIMIT,
		    "more than %d 'holiday' lines", CAL_RANGES_MAX);
	cf->hol[cf->nhol++] = (struct cal_range){from, to, line};
	return PB_OK;
}

static int parse_workday(struct cal_file *cf, int line, char *args, char *err, size_t errlen)
{
	char *a = next_token(&args);
	char fa[16], fb[16];
	int32_t day;
	int rc, wd;

	if (a == NULL)
		return fail(err, errlen, cf->path, line, PB_EINVAL, "'workday' wants a date");
	if ((rc = parse_day(cf, line, a, &day, err, errlen)) != PB_OK)
		return rc;
	if ((rc = no_more(cf, line, &args, err, errlen)) != PB_OK)
		return rc;
	wd = pb_weekday(day);
	if (wd < 5)
		return fail(err, errlen, cf->path, line, PB_EINVAL,
		    "make-up working day %s is a %s, not a Saturday or Sunday", a, wday_names[wd]);
	for (int i = 0; i < cf->nwork; i++)
		if (cf->work[i].from == day)
			return fail(err, errlen, cf->path, line, PB_EINVAL,
			    "make-up working day %s already listed (line %d)", a, cf->work[i].line);
	for (int i = 0; i < cf->nhol; i++) {
		const struct cal_range *h = &cf->hol[i];
		if (h->from <= day && day <= h->to) {
			pb_date_fmt(h->from, fa, sizeof(fa));
			pb_date_fmt(h->to, fb, sizeof(fb));
			return fail(err, errlen, cf->path, line, PB_EINVAL,
			    "make-up working day %s lies in holiday %s..%s (line %d)", a, fa, fb,
			    h->line);
		}
	}
	if (cf->nwork == CAL_RANGES_MAX)
		return fail(err, errlen, cf->path, line, PB_ELIMIT,
		    "more than %d 'workday' lines", CAL_RANGES_MAX);
	cf->work[cf->nwork++] = (struct cal_range){day, day, line};
	return PB_OK;
}

static int parse_line(struct cal_file *cf, int line, char *s, size_t len, char *err,
    size_t errlen)
{
	char *p, *dir, *end;

	if (memchr(s, '\0', len) != NULL)
		return fail(err, errlen, cf->path, line, PB_EINVAL, "NUL byte in line");
	if (len > CAL_LINE_MAX)
		return fail(err, errlen, cf->path, line, PB_EINVAL,
		    "line longer than %d bytes", CAL_LINE_MAX);
	/* Editors on some desktops start UTF-8 files with a byte-order mark. */
	if (line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	/* '#' never occurs inside a multi-byte UTF-8 sequence. */
	if ((p = strchr(s, '#')) != NULL)
		*p = '\0';
	end = s + strlen(s);
	while (end > s && is_space(end[-1]))
		*--end = '\0';
	p = s;
	if ((dir = next_token(&p)) == NULL)
		return PB_OK;
	while (is_space(*p))
		p++;

	if (strcmp(dir, "year") == 0)
		return parse_year(cf, line, p, err, errlen);
	if (strcmp(dir, "notice") == 0)
		return parse_text(cf, line, "notice", cf->notice, p, err, errlen);
	if (strcmp(dir, "number") == 0)
		return parse_text(cf, line, "number", cf->number, p, err, errlen);
	if (strcmp(dir, "issued") == 0)
		return parse_issued(cf, line, p, err, errlen);
	if (strcmp(dir, "holiday") == 0 || strcmp(dir, "workday") == 0) {
		/* Dates are checked against the year as they are read. */
		if (cf->year == 0)
			return fail(err, errlen, cf->path, line, PB_EINVAL,
			    "'%s' before 'year'", dir);
		if (dir[0] == 'h')
			return parse_holiday(cf, line, p, err, errlen);
		return parse_workday(cf, line, p, err, errlen);
	}
	return fail(err, errlen, cf->path, line, PB_EINVAL, "unknown directive '%.40s'", dir);
}

static int parse_file(struct cal_file *cf, char *err, size_t errlen)
{
	FILE *f;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	int line = 0, rc = PB_OK;

	if (cf->data != NULL && cf->len == 0)
		return fail(err, errlen, cf->path, 0, PB_EINVAL, "no 'year' line");
	f = cf->data != NULL ? fmemopen((void *)cf->data, cf->len, "r") : fopen(cf->path, "r");
	if (f == NULL)
		return fail(err, errlen, cf->path, 0, errno == ENOENT ? PB_ENOTFOUND : PB_EIO,
		    "%s", strerror(errno));
	while (rc == PB_OK && (len = getline(&buf, &cap, f)) != -1)
		rc = parse_line(cf, ++line, buf, (size_t)len, err, errlen);
	if (rc == PB_OK && ferror(f))
		rc = fail(err, errlen, cf->path, line + 1, PB_EIO, "read failed");
	free(buf);
	fclose(f);
	if (rc != PB_OK)
		return rc;
	if (cf->year == 0)
		return fail(err, errlen, cf->path, 0, PB_EINVAL, "no 'year' line");
	if (cf->notice[0] == '\0')
		return fail(err, errlen, cf->path, 0, PB_EINVAL, "no 'notice' line");
	if (!cf->has_issued)
		return fail(err, errlen, cf->path, 0, PB_EINVAL, "no 'issued' line");
	return PB_OK;
}

/* ---- building ---- */

static int cmp_range(const void *a, const void *b)
{
	const struct cal_range *x = a, *y = b;

	return (x->from > y->from) - (x->from < y->from);
}

static int cmp_file(const void *a, const void *b)
{
	const struct cal_file *x = a, *y = b;

	return (x->year > y->year) - (x->year < y->year);
}

static void hash_line(crypto_hash_sha256_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void hash_line(crypto_hash_sha256_state *st, const char *fmt, ...)
{
	char buf[CAL_TEXT_MAX + 32];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* Texts are shorter than CAL_TEXT_MAX, so n always fits. */
	if (n > 0)
		crypto_hash_sha256_update(st, (const unsigned char *)buf, (size_t)n);
}

/* Canonical content: the directives' values in a fixed order, files sorted
 * by year and lines by date. cf must already be sorted. */
static void hash_files(struct cal_file *cf, int n, uint8_t out[CAL_VERSION_LEN])
{
	crypto_hash_sha256_state st;
	char a[16], b[16];

	crypto_hash_sha256_init(&st);
	hash_line(&st, "%s", CAL_CANON_HEADER);
	for (int i = 0; i < n; i++) {
		qsort(cf[i].hol, (size_t)cf[i].nhol, sizeof(cf[i].hol[0]), cmp_range);
		qsort(cf[i].work, (size_t)cf[i].nwork, sizeof(cf[i].work[0]), cmp_range);
		pb_date_fmt(cf[i].issued, a, sizeof(a));
		hash_line(&st, "year %d\n", cf[i].year);
		hash_line(&st, "notice %s\n", cf[i].notice);
		hash_line(&st, "number %s\n", cf[i].number);
		hash_line(&st, "issued %s\n", a);
		for (int j = 0; j < cf[i].nhol; j++) {
			pb_date_fmt(cf[i].hol[j].from, a, sizeof(a));
			pb_date_fmt(cf[i].hol[j].to, b, sizeof(b));
			hash_line(&st, "holiday %s %s\n", a, b);
		}
		for (int j = 0; j < cf[i].nwork; j++) {
			pb_date_fmt(cf[i].work[j].from, a, sizeof(a));
			hash_line(&st, "workday %s\n", a);
		}
	}
	crypto_hash_sha256_final(&st, out);
}

#define K_WORK 1
#define K_PROV 2

static void day_off(uint8_t *kind, int32_t day0, int32_t ndays, int32_t day)
{
	if (day - day0 >= 0 && day - day0 < ndays)
		kind[day - day0] &= (uint8_t)~K_WORK;
}

static void days_off(uint8_t *kind, int32_t day0, int32_t ndays, int32_t from, int n)
{
	for (int i = 0; i < n; i++)
		day_off(kind, day0, ndays, from + i);
}

static int32_t mmdd(int y, int v)
{
	return pb_days_from_civil(y, v / 100, v % 100);
}

/* A year without its notice: the statutory holidays of the revision in
 * force, flagged provisional. Solar dates need no table; before
 * CAL_STAT_FIRST or after CAL_STAT_LAST only they are known. */
static void statutory_year(uint8_t *kind, int32_t day0, int32_t ndays, int y)
{
	const struct cal_law *law = &laws[0];
	int32_t ys = pb_days_from_civil(y, 1, 1), ye = pb_days_from_civil(y + 1, 1, 1);

	for (size_t i = 0; i < sizeof(laws) / sizeof(laws[0]); i++)
		if (y >= laws[i].from_year)
			law = &laws[i];
	for (int32_t d = ys; d < ye; d++)
		if (d - day0 >= 0 && d - day0 < ndays)
			kind[d - day0] |= K_PROV;
	day_off(kind, day0, ndays, ys);                                       /* 元旦 */
	days_off(kind, day0, ndays, pb_days_from_civil(y, 5, 1), law->labour_days);   /* 劳动节 */
	days_off(kind, day0, ndays, pb_days_from_civil(y, 10, 1), 3);                 /* 国庆 */
	if (y < CAL_STAT_FIRST || y > CAL_STAT_LAST)
		return;
	const struct cal_stat_year *sy = &stat_years[y - CAL_STAT_FIRST];
	days_off(kind, day0, ndays, mmdd(y, sy->spring) + law->spring_from, law->spring_days);
	days_off(kind, day0, ndays, mmdd(y, sy->qingming), law->lunar_days);
	days_off(kind, day0, ndays, mmdd(y, sy->dragon), law->lunar_days);
	days_off(kind, day0, ndays, mmdd(y, sy->autumn), law->lunar_days);
}

/* cf sorted by year, years distinct. The table spans the loaded years and
 * the statutory table, so every year in it is either a notice or the law. */
static int build(struct cal_file *cf, int n, cal_set **out)
{
	int first = CAL_SPAN_FIRST, last = CAL_SPAN_LAST;
	int32_t day0, ndays, nwork = 0;
	uint8_t *kind;
	cal_set *c;

	if (n > 0 && cf[0].year < first)
		first = cf[0].year;
	if (n > 0 && cf[n - 1].year > last)
		last = cf[n - 1].year;
	/* parse_year and parse_day hold every year to CAL_YEAR_MIN..CAL_YEAR_MAX,
	 * so the table is 111 years at most. */
	day0 = pb_days_from_civil(first, 1, 1);
	ndays = pb_days_from_civil(last + 1, 1, 1) - day0;
	if ((kind = malloc((size_t)ndays)) == NULL)
		return PB_ENOMEM;
	for (int i = 0; i < ndays; i++)
		kind[i] = pb_weekday(day0 + i) < 5 ? K_WORK : 0;
	for (int y = first, i = 0; y <= last; y++) {
		while (i < n && cf[i].year < y)
			i++;
		if (i == n || cf[i].year != y)
			statutory_year(kind, day0, ndays, y);
	}
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < cf[i].nhol; j++)
			for (int32_t d = cf[i].hol[j].from; d <= cf[i].hol[j].to; d++)
				kind[d - day0] &= (uint8_t)~K_WORK;
		for (int j = 0; j < cf[i].nwork; j++)
			kind[cf[i].work[j].from - day0] |= K_WORK;
	}
	for (int i = 0; i < ndays; i++)
		nwork += kind[i] & K_WORK;

	size_t words = 2 * ((size_t)ndays + 1) + (size_t)nwork;
	if ((c = malloc(sizeof(*c) + words * sizeof(int32_t))) == NULL) {
		free(kind);
		return PB_ENOMEM;
	}
	c->first_year = n > 0 ? cf[0].year : 0;
	c->last_year = n > 0 ? cf[n - 1].year : 0;
	c->day0 = day0;
	c->ndays = ndays;
	c->cum = (int32_t *)(c + 1);
	c->pcum = c->cum + ndays + 1;
	c->wd = c->pcum + ndays + 1;
	c->cum[0] = c->pcum[0] = 0;
	for (int32_t i = 0; i < ndays; i++) {
		if (kind[i] & K_WORK)
			c->wd[c->cum[i]] = i;
		c->cum[i + 1] = c->cum[i] + (kind[i] & K_WORK);
		c->pcum[i + 1] = c->pcum[i] + ((kind[i] & K_PROV) != 0);
	}
	free(kind);
	hash_files(cf, n, c->version);
	*out = c;
	return PB_OK;
}

/* nlocal: the last nlocal of the n files are the office's own; a year in
 * one of them and in an earlier (shipped) file is taken from the former,
 * the latter is dropped and reported through fn. */
static int load(const char *const *paths, const char *const *data, const size_t *lens, int n,
    int nlocal, cal_override_fn fn, void *arg, cal_set **out, char *err, size_t errlen)
{
	struct cal_file *cf;
	int rc = PB_OK, kept = 0;

	if (out == NULL || n < 0 || (n > 0 && paths == NULL) || (data != NULL && lens == NULL))
		return PB_EINVAL;
	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((cf = calloc((size_t)n + 1, sizeof(*cf))) == NULL)
		return PB_ENOMEM;
	for (int i = 0; i < n && rc == PB_OK; i++) {
		cf[kept].path = paths[i];
		cf[kept].layer = i >= n - nlocal;
		if (data != NULL) {
			if (data[i] == NULL) {
				rc = PB_EINVAL;
				break;
			}
			cf[kept].data = data[i];
			cf[kept].len = lens[i];
		}
		rc = parse_file(&cf[kept], err, errlen);
		for (int j = 0; j < kept && rc == PB_OK; j++) {
			if (cf[j].year != cf[kept].year)
				continue;
			if (cf[j].layer == cf[kept].layer) {
				rc = fail(err, errlen, cf[kept].path, cf[kept].year_line, PB_EEXIST,
				    "year %d already loaded from %s", cf[kept].year, cf[j].path);
				break;
			}
			/* The office's file replaces the shipped one. */
			if (fn != NULL)
				fn(arg, cf[kept].year, cf[kept].path, cf[j].path);
			cf[j] = cf[kept];
			memset(&cf[kept], 0, sizeof(cf[kept]));
			kept--;
			break;
		}
		kept++;
	}
	if (rc == PB_OK) {
		qsort(cf, (size_t)kept, sizeof(*cf), cmp_file);
		rc = build(cf, kept, out);
		if (rc == PB_ENOMEM)
			fail(err, errlen, "calendar", 0, rc, "out of memory");
	}
	free(cf);
	return rc;
}

int cal_load_files(const char *const *paths, int n, cal_set **out, char *err, size_t errlen)
{
	return load(paths, NULL, NULL, n, 0, NULL, NULL, out, err, errlen);
}

int cal_load_bufs(const char *const *names, const char *const *data, const size_t *lens, int n,
    cal_set **out, char *err, size_t errlen)
{
	if (n > 0 && data == NULL)
		return PB_EINVAL;
	return load(names, data, lens, n, 0, NULL, NULL, out, err, errlen);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct cal_paths {
	char **p;
	int n, cap;
};

static void paths_free(struct cal_paths *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->p[i]);
	free(l->p);
}

/* Appends dir's *.cal files (dot files skipped), sorted by name. A missing
 * dir adds nothing when missing_ok, else is PB_ENOTFOUND. */
static int list_dir(const char *dir, int missing_ok, struct cal_paths *l, char *err,
    size_t errlen)
{
	DIR *d;
	struct dirent *de;
	int first = l->n, rc = PB_OK;

	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT && missing_ok)
			return PB_OK;
		return fail(err, errlen, dir, 0, errno == ENOENT ? PB_ENOTFOUND : PB_EIO, "%s",
		    strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char **np;

		if (de->d_name[0] == '.' || len <= 4 || strcmp(de->d_name + len - 4, ".cal") != 0)
			continue;
		if (l->n == l->cap) {
			int cap = l->cap ? l->cap * 2 : 8;
			if ((np = realloc(l->p, (size_t)cap * sizeof(*np))) == NULL) {
				rc = PB_ENOMEM;
				break;
			}
			l->p = np;
			l->cap = cap;
		}
		if (asprintf(&l->p[l->n], "%s/%s", dir, de->d_name) < 0) {
			rc = PB_ENOMEM;
			break;
		}
		l->n++;
	}
	closedir(d);
	if (rc != PB_OK)
		return fail(err, errlen, dir, 0, rc, "out of memory");
	if (l->n > first)   /* l->p is NULL while empty */
		qsort(l->p + first, (size_t)(l->n - first), sizeof(*l->p), cmp_str);
	return PB_OK;
}

int cal_load_dir(const char *dir, cal_set **out, char *err, size_t errlen)
{
	struct cal_paths l = {0};
	int rc;

	if (dir == NULL || out == NULL)
		return PB_EINVAL;
	*out = NULL;
	if ((rc = list_dir(dir, 0, &l, err, errlen)) == PB_OK) {
		if (l.n == 0)
			rc = fail(err, errlen, dir, 0, PB_ENOTFOUND, "no *.cal files");
		else
			rc = cal_load_files((const char *const *)l.p, l.n, out, err, errlen);
	}
	paths_free(&l);
	return rc;
}

int cal_load_dirs(const char *shipped, const char *local, cal_override_fn fn, void *arg,
    cal_set **out, char *err, size_t errlen)
{
	struct cal_paths l = {0};
	int rc, nshipped = 0;

	if (shipped == NULL || out == NULL)
		return PB_EINVAL;
	*out = NULL;
	if (local != NULL && local[0] == '\0')
		local = NULL;
	if ((rc = list_dir(shipped, 1, &l, err, errlen)) == PB_OK && local != NULL) {
		nshipped = l.n;
		rc = list_dir(local, 1, &l, err, errlen);
	} else {
		nshipped = l.n;
	}
	if (rc == PB_OK && l.n == 0)
		rc = fail(err, errlen, shipped, 0, PB_ENOTFOUND, "no *.cal files%s%s",
		    local ? " here nor in " : "", local ? local : "");
	if (rc == PB_OK)
		rc = load((const char *const *)l.p, NULL, NULL, l.n, l.n - nshipped, fn, arg, out,
		    err, errlen);
	paths_free(&l);
	return rc;
}

void cal_free(cal_set *c)
{
	free(c);
}

/* ---- queries ---- */

/* Nothing loaded: the law alone, built once. Should that allocation fail,
 * the same formulas run on an empty table (weekends only). */
static int32_t empty_counts[1];
static const cal_set empty_set = {
	.cum = empty_counts, .pcum = empty_counts, .wd = empty_counts,
};
static cal_set *law_set;
static pthread_once_t law_once = PTHREAD_ONCE_INIT;

static void law_build(void)
{
	if (build(NULL, 0, &law_set) != PB_OK)
		law_set = NULL;
}

static const cal_set *or_law(const cal_set *c)
{
	if (c != NULL)
		return c;
	pthread_once(&law_once, law_build);
	return law_set != NULL ? law_set : &empty_set;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Weekdays in [monday0, x), monday0 = 1969-12-29 (day -3); negative before. */
static int64_t wk_count(int64_t x)
{
	int64_t t = x + 3, q = floor_div(t, 7), r = t - 7 * q;

	return 5 * q + (r < 5 ? r : 5);
}

/* The weekday x with wk_count(x) == k. */
static int64_t wk_nth(int64_t k)
{
	int64_t q = floor_div(k, 5);

	return 7 * q + (k - 5 * q) - 3;
}

/* Working days in [day0, d), negative for d < day0. */
static int64_t count(const cal_set *c, int64_t d)
{
	int64_t off = d - c->day0;

	if (off < 0)
		return wk_count(d) - wk_count(c->day0);
	if (off > c->ndays)
		return c->cum[c->ndays] + wk_count(d) - wk_count((int64_t)c->day0 + c->ndays);
	return c->cum[off];
}

/* The working day d with count(c, d) == k. */
static int64_t nth(const cal_set *c, int64_t k)
{
	int64_t total = c->cum[c->ndays];

	if (k < 0)
		return wk_nth(k + wk_count(c->day0));
	if (k >= total)
		return wk_nth(k - total + wk_count((int64_t)c->day0 + c->ndays));
	return (int64_t)c->day0 + c->wd[k];
}

/* Provisional days in [day0, d): everything outside the table counts. */
static int64_t pcount(const cal_set *c, int64_t d)
{
	int64_t off = d - c->day0;

	if (off < 0)
		return off;
	if (off > c->ndays)
		return c->pcum[c->ndays] + (off - c->ndays);
	return c->pcum[off];
}

static void set_prov(int *provisional, int v)
{
	if (provisional != NULL)
		*provisional = v;
}

void cal_version(const cal_set *c, uint8_t out[CAL_VERSION_LEN])
{
	if (c == NULL)
		hash_files(NULL, 0, out);
	else
		memcpy(out, c->version, CAL_VERSION_LEN);
}

int cal_first_year(const cal_set *c)
{
	return c ? c->first_year : 0;
}

int cal_last_year(const cal_set *c)
{
	return c ? c->last_year : 0;
}

int cal_has_year(const cal_set *c, int year)
{
	if (c == NULL || c->ndays == 0 || year < c->first_year || year > c->last_year)
		return 0;
	int64_t a = pb_days_from_civil(year, 1, 1), b = pb_days_from_civil(year + 1, 1, 1);
	return pcount(c, b) == pcount(c, a);
}

/* pb_day_of_ms for any instant: past the int32 days it saturates rather
 * than overflow (within 8 hours of INT64_MAX) or wrap to a negative day. */
static int32_t day_of_ms(int64_t ms)
{
	if (ms >= pb_day_start_ms(INT32_MAX))
		return INT32_MAX;
	if (ms < pb_day_start_ms(INT32_MIN))
		return INT32_MIN;
	return pb_day_of_ms(ms);
}

int cal_next_year_missing(const cal_set *c, int64_t now_ms)
{
	int32_t day = day_of_ms(now_ms);
	int y, m, d;

	/* Past the calendar years no next notice can load. */
	if (day >= pb_days_from_civil(CAL_YEAR_MAX + 1, 1, 1))
		return 1;
	pb_civil_from_days(day, &y, &m, &d);
	return m >= 11 && !cal_has_year(c, y + 1);
}

int cal_is_working_day(const cal_set *c, int32_t day, int *provisional)
{
	int64_t off;

	c = or_law(c);
	off = (int64_t)day - c->day0;
	if (off < 0 || off >= c->ndays) {
		set_prov(provisional, 1);
		return pb_weekday(day) < 5;
	}
	set_prov(provisional, c->pcum[off + 1] != c->pcum[off]);
	return c->cum[off + 1] != c->cum[off];
}

int32_t cal_add_working_days(const cal_set *c, int32_t day, int n, int *provisional)
{
	int64_t r;

	c = or_law(c);
	if (n <= 0) {
		set_prov(provisional, 0);
		return day;
	}
	r = nth(c, count(c, (int64_t)day + 1) + n - 1);
	set_prov(provisional, pcount(c, r + 1) != pcount(c, (int64_t)day + 1));
	return r > INT32_MAX ? INT32_MAX : (int32_t)r;
}

int cal_working_days_between(const cal_set *c, int32_t a, int32_t b, int *provisional)
{
	int64_t k;

	c = or_law(c);
	if (b <= a) {
		set_prov(provisional, 0);
		return 0;
	}
	k = count(c, (int64_t)b + 1) - count(c, (int64_t)a + 1);
	set_prov(provisional, pcount(c, (int64_t)b + 1) != pcount(c, (int64_t)a + 1));
	return k > INT_MAX ? INT_MAX : (int)k;
}

int64_t cal_end_of_day_ms(int32_t day)
{
	return pb_day_start_ms(day) + PB_DAY_MS - 1000;
}

int64_t cal_due_ms(const cal_set *c, int64_t received_ms, int working_days, int hours,
    int *provisional)
{
	if (hours > 0) {
		int64_t span = (int64_t)hours * 3600000;

		set_prov(provisional, 0);
		return received_ms > INT64_MAX - span ? INT64_MAX : received_ms + span;
	}
	return cal_end_of_day_ms(
	    cal_add_working_days(c, day_of_ms(received_ms), working_days, provisional));
}
