/* Time in Mailroom: instants are int64 milliseconds since the Unix epoch;
 * dates are int32 days since 1970-01-01 in Asia/Shanghai (UTC+8, no DST).
 * Everything shown to people is RFC 3339 with a +08:00 offset. */
#ifndef PB_TIME_H
#define PB_TIME_H

#include <stddef.h>
#include <stdint.h>

#define PB_TZ_OFFSET_MS (8LL * 3600 * 1000)
#define PB_DAY_MS (86400LL * 1000)

int64_t pb_now_ms(void);
/* Monotonic clock, for timeouts and latency. */
int64_t pb_mono_us(void);

/* Local (UTC+8) date of an instant. */
int32_t pb_day_of_ms(int64_t ms);
/* 00:00:00.000 local time of a day. */
int64_t pb_day_start_ms(int32_t day);
/* Days since epoch <-> civil date (proleptic Gregorian). */
int32_t pb_days_from_civil(int y, int m, int d);
void pb_civil_from_days(int32_t day, int *y, int *m, int *d);
/* 0 = Monday ... 6 = Sunday. */
int pb_weekday(int32_t day);

/* "2026-11-24T10:00:00+08:00" (with_ms adds ".123"). Returns length or -1. */
int pb_time_fmt(int64_t ms, char *buf, size_t len, int with_ms);
/* "2026-11-24". Returns length or -1. */
int pb_date_fmt(int32_t day, char *buf, size_t len);
/* Strict YYYY-MM-DD; PB_EINVAL otherwise. */
int pb_date_parse(const char *s, int32_t *day);
/* RFC 3339 with 'Z' or a ±hh:mm offset, optional fraction. */
int pb_time_parse(const char *s, int64_t *ms);

#endif
