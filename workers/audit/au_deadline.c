/* deadline: the due date N working days after a receipt date, from the
 * calendar files alone (deadlines.md sections 1 and 2). No store. */
#include "au.h"
#include "cal.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"

#include <stdio.h>
#include <string.h>

#define MAX_DAYS 10000   /* decades of working days: anything more is a typo */

int au_cal_load(const struct au_opts *o, int json, cal_set **out)
{
	char err[2 * PB_PATH_MAX + 256] = "";
	const char *dir = o->calendars ? o->calendars : AU_DEFAULT_CALENDARS;
	int rc;

	/* The router's rule: the office's own year files win. */
	if ((rc = cal_load_dirs(dir, o->local_calendars, NULL, NULL, out, err, sizeof(err)))) {
		*out = NULL;
		if (rc == PB_ENOMEM)
			return au_fail(json, AU_EXIT_OTHER, "no_memory", "out of memory");
		/* The loader names the file and line; print that as it is. */
		if (!*err)
			snprintf(err, sizeof(err), "%s: %s", dir, pb_err_str(rc));
		return au_fail(json, AU_EXIT_INVALID, "bad_calendar", "%s", err);
	}
	return AU_EXIT_OK;
}

/* Digits only, 0-MAX_DAYS: "-1", "+5" and "20x" are refused. */
static int parse_days(const char *s, int *out)
{
	size_t n = strlen(s);
	int v = 0;

	if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	if (v > MAX_DAYS)
		return -1;
	*out = v;
	return 0;
}

static int report(const struct au_opts *o, const cal_set *cal, int32_t from, int n)
{
	char fromt[16], due[16], at[40], ver[2 * CAL_VERSION_LEN + 1];
	uint8_t v[CAL_VERSION_LEN];
	int prov = 0;
	int32_t d = cal_add_working_days(cal, from, n, &prov);

	/* YYYY-MM-DD has four digits of year. */
	if (d > pb_days_from_civil(9999, 12, 31) || pb_date_fmt(from, fromt, sizeof(fromt)) < 0 ||
	    pb_date_fmt(d, due, sizeof(due)) < 0 ||
	    pb_time_fmt(cal_end_of_day_ms(d), at, sizeof(at), 0) < 0)
		return au_fail(o->json, AU_EXIT_INVALID, "invalid", "the due date is past year 9999");
	if (!o->json) {
		printf("%s%s\n", due, prov ? " provisional" : "");
		return fflush(stdout) == 0 ? AU_EXIT_OK : AU_EXIT_OTHER;
	}
	cal_version(cal, v);
	pb_hex(v, sizeof(v), ver);
	return au_emit(json_pack("{s:s, s:i, s:s, s:s, s:b, s:s}", "from", fromt, "working_days", n,
	                         "due", due, "due_at", at, "provisional", prov,
	                         "calendar_version", ver));
}

int au_cmd_deadline(int argc, char **argv)
{
	struct au_opts o;
	cal_set *cal;
	int32_t from;
	int n, rc;

	if ((rc = au_parse(argc, argv, &o)) >= 0)
		return rc;
	if (o.nargs)
		return au_usage(argv[0], "deadline takes no arguments");
	if (!o.from || !o.days)
		return au_usage(argv[0], "deadline needs --from YYYY-MM-DD and --working-days N");
	if (pb_date_parse(o.from, &from))
		return au_fail(o.json, AU_EXIT_INVALID, "invalid_date",
		               "--from takes a date as YYYY-MM-DD, not '%s'", o.from);
	if (parse_days(o.days, &n))
		return au_fail(o.json, AU_EXIT_INVALID, "invalid_days",
		               "--working-days takes whole working days, 0-%d, not '%s'", MAX_DAYS,
		               o.days);
	if ((rc = au_cal_load(&o, o.json, &cal)))
		return rc;
	rc = report(&o, cal, from, n);
	cal_free(cal);
	return rc;
}
