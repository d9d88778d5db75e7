#include "pb_time.h"
#include "pb_err.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t pb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pb_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int32_t pb_day_of_ms(int64_t ms)
{
	return (int32_t)floor_div(ms + PB_TZ_OFFSET_MS, PB_DAY_MS);
}

int64_t pb_day_start_ms(int32_t day)
{
	return (int64_t)day * PB_DAY_MS - PB_TZ_OFFSET_MS;
}

/* Howard Hinnant's civil-date algorithms. */
int32_t pb_days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (unsigned)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (unsigned)d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int32_t)((int64_t)era * 146097 + doe - 719468);
}

void pb_civil_from_days(int32_t day, int *y, int *m, int *d)
{
	/* In 64 bits: the shift overflows an int32 within 719468 days of its end. */
	int64_t z = (int64_t)day + 719468;
	int era = (int)((z >= 0 ? z : z - 146096) / 146097);
	unsigned doe = (unsigned)(z - (int64_t)era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int yy = (int)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yy + (*m <= 2);
}

int pb_weekday(int32_t day)
{
	/* 1970-01-01 was a Thursday (3). */
	int w = (int)(((int64_t)day + 3) % 7);
	return w < 0 ? w + 7 : w;
}

/* n decimal digits of v, zero-padded. */
static char *put_digits(char *p, int v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

int pb_time_fmt(int64_t ms, char *buf, size_t len, int with_ms)
{
	/* Days are int32: an instant past their range (a corrupt or hostile
	 * field) is written as the range's end, without overflow on the way. */
	const int64_t lim = (int64_t)(INT32_MAX - 1) * PB_DAY_MS;
	int64_t local = (ms > lim ? lim : ms < -lim ? -lim : ms) + PB_TZ_OFFSET_MS;
	int32_t day = (int32_t)floor_div(local, PB_DAY_MS);
	int64_t rem = local - (int64_t)day * PB_DAY_MS;
	int y, mo, d, n;

	pb_civil_from_days(day, &y, &mo, &d);
	int hh = (int)(rem / 3600000), mi = (int)(rem / 60000 % 60);
	int ss = (int)(rem / 1000 % 60), mss = (int)(rem % 1000);
	/* Every answer and log line has times: digits by hand, not snprintf,
	 * for the years that take exactly four. */
	n = with_ms ? 29 : 25;
	if (y >= 0 && y <= 9999 && len > (size_t)n) {
		char *p = put_digits(buf, y, 4);
		*p++ = '-';
		p = put_digits(p, mo, 2);
		*p++ = '-';
		p = put_digits(p, d, 2);
		*p++ = 'T';
		p = put_digits(p, hh, 2);
		*p++ = ':';
		p = put_digits(p, mi, 2);
		*p++ = ':';
		p = put_digits(p, ss, 2);
		if (with_ms) {
			*p++ = '.';
			p = put_digits(p, mss, 3);
		}
		memcpy(p, "+08:00", 7);
		return n;
	}
	if (with_ms)
		n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+08:00", y, mo, d, hh, mi, ss, mss);
	else
		n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", y, mo, d, hh, mi, ss);
	return (n < 0 || (size_t)n >= len) ? -1 : n;
}

int pb_date_fmt(int32_t day, char *buf, size_t len)
{
	int y, m, d;

	pb_civil_from_days(day, &y, &m, &d);
	int n = snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
	return (n < 0 || (size_t)n >= len) ? -1 : n;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 ? 28 + leap : dm[m - 1];
}

static int parse_date(const char *s, int *y, int *m, int *d)
{
	if (digits(s, 4, y) || s[4] != '-' || digits(s + 5, 2, m) || s[7] != '-' ||
	    digits(s + 8, 2, d))
		return PB_EINVAL;
	if (*y < 1970 || *y > 9999 || *m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m))
		return PB_EINVAL;
	return PB_OK;
}

int pb_date_parse(const char *s, int32_t *day)
{
	int y, m, d;

	if (strlen(s) != 10 || parse_date(s, &y, &m, &d))
		return PB_EINVAL;
	*day = pb_days_from_civil(y, m, d);
	return PB_OK;
}

int pb_time_parse(const char *s, int64_t *ms)
{
	int y, mo, d, hh, mi, ss, frac = 0, oh = 0, om = 0, sign = 1;
	size_t n = strlen(s), i = 19;

	if (n < 20 || parse_date(s, &y, &mo, &d) || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &hh) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
	    digits(s + 17, 2, &ss) || hh > 23 || mi > 59 || ss > 60)
		return PB_EINVAL;
	if (s[i] == '.') {
		int nd = 0;
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, nd++)
			if (nd < 3)
				frac = frac * 10 + (s[i] - '0');
		if (nd == 0)
			return PB_EINVAL;
		for (; nd < 3; nd++)
			frac *= 10;
	}
	if (i >= n)
		return PB_EINVAL;
	if (s[i] == 'Z' || s[i] == 'z') {
		if (i + 1 != n)
			return PB_EINVAL;
	} else if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '-' ? -1 : 1;
		if (n - i != 6 || digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return PB_EINVAL;
	} else {
		return PB_EINVAL;
	}
	if (ss == 60)
		ss = 59;
	int64_t t = (int64_t)pb_days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss;
	t -= sign * (oh * 3600 + om * 60);
	*ms = t * 1000 + frac;
	return PB_OK;
}
