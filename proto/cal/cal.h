/* Working-day calendars (docs/deadlines.md section 2).
 *
 * A working day is Monday to Friday that is not a listed holiday, plus the
 * weekend days a State Council notice names as make-up working days. One
 * calendar file per year; see deploy/calendars/README.md for the format.
 *
 * A year without its notice (before the first, after the last, or in a gap
 * between them) is never counted naively: it takes the statutory holidays
 * the law fixes every year (元旦, 春节, 清明, 劳动节, 端午, 中秋, 国庆; the
 * lunar dates tabled for 2000-2050) without make-up days, and every answer
 * that depended on such a day is flagged provisional. A NULL cal_set is
 * accepted everywhere and means "nothing loaded": the law alone applies,
 * and intake never waits for a calendar.
 *
 * Queries are allocation-free and safe to call from many threads on one
 * loaded set. */
#ifndef CAL_H
#define CAL_H

#include <stddef.h>
#include <stdint.h>

#define CAL_VERSION_LEN 32

/* The years a calendar file may name, in its 'year' line and in every
 * date it lists. Loading refuses anything else: the loaded set keeps a
 * table of every day from its first year to its last, so a mistyped year
 * (7162) would cost megabytes and start-up time for nothing. Days outside
 * the loaded years are still answered (see cal_is_working_day). */
#define CAL_YEAR_MIN 1990
#define CAL_YEAR_MAX 2100

typedef struct cal_set cal_set;

/* Loads every *.cal file in dir (names sorted, dot files skipped).
 * Validates; on error writes "path:line: reason" into err and returns a
 * PB_ code (PB_ENOTFOUND if dir holds no *.cal file; PB_EINVAL for a year
 * or date outside CAL_YEAR_MIN..CAL_YEAR_MAX, the range in the reason). */
int cal_load_dir(const char *dir, cal_set **out, char *err, size_t errlen);
/* Called for each year found in both directories of cal_load_dirs: the
 * file used (the office's) and the one left out (the shipped one). */
typedef void (*cal_override_fn)(void *arg, int year, const char *used, const char *ignored);
/* The shipped directory's *.cal files, then the office's own in local
 * (NULL or "": none), read after them: a year in both is taken from
 * local, and fn (may be NULL) is told. Either directory may be missing;
 * PB_ENOTFOUND when neither holds a *.cal file. Two files of one year in
 * the same directory are refused, as in cal_load_dir. */
int cal_load_dirs(const char *shipped, const char *local, cal_override_fn fn, void *arg,
    cal_set **out, char *err, size_t errlen);
/* The same for an explicit list; n == 0 gives an empty set. */
int cal_load_files(const char *const *paths, int n, cal_set **out, char *err, size_t errlen);
/* The same from memory: file i is data[i], lens[i] bytes, named names[i]
 * in errors (a bundle's embedded calendars). */
int cal_load_bufs(const char *const *names, const char *const *data, const size_t *lens, int n,
    cal_set **out, char *err, size_t errlen);
void cal_free(cal_set *c);

/* SHA-256 over the loaded files' canonical content (sorted by year) — the
 * calendar version recorded with every deadline. Comments, layout, file
 * names and load order do not change it; any date, the notice's title,
 * number or date do. */
void cal_version(const cal_set *c, uint8_t out[CAL_VERSION_LEN]);
/* First and last loaded year; 0 if none. */
int cal_first_year(const cal_set *c);
int cal_last_year(const cal_set *c);
/* 1 if a calendar for year is loaded. */
int cal_has_year(const cal_set *c, int year);

/* 1 from 1 November (Asia/Shanghai) of the year of now_ms while next
 * year's notice is not loaded: deadlines reaching into it are provisional.
 * Always 1 after CAL_YEAR_MAX, when no next notice can be loaded. */
int cal_next_year_missing(const cal_set *c, int64_t now_ms);

/* 1 if working day, 0 if not. *provisional (may be NULL) set to 1 when day is
 * outside loaded years (then the statutory holidays only). Days past the
 * table (after 2099, or after a loaded 2100) and before it (before 2000 or
 * the first loaded year) count weekdays only, provisional: any int32 day
 * is answered in O(1), with no allocation. */
int cal_is_working_day(const cal_set *c, int32_t day, int *provisional);
/* Day 0 = receipt date; returns the n-th working day strictly after `day`;
 * n == 0 returns `day` itself (and consults no day, so is never provisional).
 * Provisional if any day consulted lies outside loaded years. n < 0 counts
 * as 0; a result past INT32_MAX is INT32_MAX. */
int32_t cal_add_working_days(const cal_set *c, int32_t day, int n, int *provisional);
/* Number of working days d with a < d <= b (0 if b <= a). */
int cal_working_days_between(const cal_set *c, int32_t a, int32_t b, int *provisional);
/* 23:59:59.000 Asia/Shanghai of `day`, as ms since epoch. */
int64_t cal_end_of_day_ms(int32_t day);
/* The due instant of a clock started at received_ms: if hours > 0,
 * received_ms + hours * 3600000 (calendar time, for urgent 12345 orders);
 * else end of day of cal_add_working_days(local date of received_ms,
 * working_days). An instant past the int32 days (some 5.8 million years)
 * is taken as the last or first of them, and the hour sum stops at
 * INT64_MAX: a nonsense instant gets a bounded answer, never a wrapped one. */
int64_t cal_due_ms(const cal_set *c, int64_t received_ms, int working_days, int hours,
    int *provisional);

#endif
