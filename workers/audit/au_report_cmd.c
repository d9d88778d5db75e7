/* report annual / report channels: the full verification walk first (a
 * report from records that do not verify would lend them a credibility
 * they lack), then the tables from the records alone (au_report.c), then
 * the format asked for (au_report_fmt.c).
 *
 * Exit: 0; AU_EXIT_CHECKS when printed but a cross-check failed;
 * AU_EXIT_UNVERIFIED when the log does not verify; the usual codes for
 * usage and unreadable inputs. */
#include "au_report.h"
#include "pb_err.h"
#include "pb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_format(const char *s)
{
	static const char *const names[] = {"md", "html", "csv", "json"};

	if (!s)
		return AU_FMT_MD;
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* Digits only, 1970-9998: the range's end day must stay printable. */
static int parse_year(const char *s, int *out)
{
	int v = 0;

	if (strlen(s) != 4 || strspn(s, "0123456789") != 4)
		return -1;
	for (int i = 0; i < 4; i++)
		v = v * 10 + (s[i] - '0');
	if (v < 1970 || v > 9998)
		return -1;
	*out = v;
	return 0;
}

/* As verify: a --calendars that does not load is an error; the default
 * one missing only means the deadlines go unchecked. */
static int calendars(const struct au_opts *o, int json, cal_set **cal)
{
	char err[PB_PATH_MAX + 200] = "";

	*cal = NULL;
	if (o->calendars || o->local_calendars)
		return au_cal_load(o, json, cal);
	if (cal_load_dir(AU_DEFAULT_CALENDARS, cal, err, sizeof(err)) != PB_OK)
		*cal = NULL;
	return AU_EXIT_OK;
}

static int refuse(int json, const struct au_verdict *v)
{
	return au_fail(json, AU_EXIT_UNVERIFIED, "unverified",
	               "no report: the log does not verify (FAIL %s: %s %llu: %.300s); run "
	               "`" AU_PROG " verify` on the same store or bundle for details",
	               au_class_name(v->fail), v->where, (unsigned long long)v->at, v->text);
}

static int run(const struct au_opts *o, int format, struct au_report *rep)
{
	int json = format == AU_FMT_JSON, rc, ok = 1;
	char name[AU_KEYNAME_MAX] = "", why[256];
	uint8_t pk[32];
	struct au_verdict *v;
	struct au_src s;
	cal_set *cal;

	if (o->pubkey && (rc = au_pubkey(o->pubkey, json, name, pk)))
		return rc;
	if ((rc = calendars(o, json, &cal)))
		return rc;
	if (o->store)
		rc = au_src_store(&s, o->store, json);
	else if ((rc = au_src_bundle(&s, o->args[0], json, why, sizeof(why))) == AU_EXIT_MALFORMED)
		rc = au_fail(json, AU_EXIT_UNVERIFIED, "unverified",
		             "no report: %s is not a well-formed bundle (%s); run `" AU_PROG
		             " verify` for details",
		             o->args[0], why);
	if (rc) {
		cal_free(cal);
		return rc;
	}
	if (!(v = calloc(1, sizeof(*v)))) {
		rc = au_fail(json, AU_EXIT_OTHER, "no_memory", "out of memory");
	} else if ((rc = au_walk(&s, name, o->pubkey ? pk : NULL, cal, v))) {
		rc = au_fail(json, rc == PB_ENOMEM ? AU_EXIT_OTHER : AU_EXIT_OPEN, pb_err_name(rc),
		             "cannot read the log in %s: %s", s.path, pb_err_str(rc));
	} else if (v->fail) {
		rc = refuse(json, v);
	} else if ((rc = au_report_compute(&s, rep))) {
		rc = au_fail(json, rc == PB_ENOMEM ? AU_EXIT_OTHER : AU_EXIT_OPEN, pb_err_name(rc),
		             "cannot read the log in %s: %s", s.path, pb_err_str(rc));
	} else if ((rc = au_report_print(rep, format)) == AU_EXIT_OK && rep->annual) {
		for (int i = 0; i < AU_NCHECKS; i++)
			ok &= rep->ok[i];
		if (!ok) {
			fprintf(stderr, AU_PROG ": a cross-check of the tables failed\n");
			rc = AU_EXIT_CHECKS;
		}
	}
	if (v)
		au_verdict_free(v);
	free(v);
	au_report_free(rep);
	au_src_close(&s);
	cal_free(cal);
	return rc;
}

/* Options both reports share; -1 to go on. */
static int common(int argc, char **argv, struct au_opts *o, int *format, int64_t *now)
{
	int rc;

	if ((rc = au_parse(argc, argv, o)) >= 0)
		return rc;
	if ((*format = parse_format(o->format)) < 0)
		return au_usage(argv[0], "--format is md, html, csv or json");
	if ((o->store != NULL) == (o->nargs == 1) || o->nargs > 1)
		return au_usage(argv[0], "a report takes one bundle file or --store DIR");
	*now = pb_now_ms();
	if (o->now && pb_time_parse(o->now, now))
		return au_fail(*format == AU_FMT_JSON, AU_EXIT_INVALID, "invalid_time",
		               "--now takes an RFC 3339 time such as 2025-11-05T12:00:00+08:00, "
		               "not '%s'",
		               o->now);
	return -1;
}

int au_cmd_report_annual(int argc, char **argv)
{
	struct au_report *rep;
	struct au_opts o;
	int64_t now;
	int format, rc;

	if ((rc = common(argc, argv, &o, &format, &now)) >= 0)
		return rc;
	if (!(rep = calloc(1, sizeof(*rep))))
		return au_fail(format == AU_FMT_JSON, AU_EXIT_OTHER, "no_memory", "out of memory");
	rep->now = now;
	if (parse_year(o.year, &rep->year)) {
		free(rep);
		return au_usage(argv[0], "--year is a year from 1970 to 9998 (YYYY)");
	}
	rep->annual = 1;
	rep->from = pb_days_from_civil(rep->year, 1, 1);
	rep->to = pb_days_from_civil(rep->year, 12, 31);
	rc = run(&o, format, rep);
	free(rep);
	return rc;
}

int au_cmd_report_channels(int argc, char **argv)
{
	struct au_report *rep;
	struct au_opts o;
	int64_t now;
	int format, rc;

	if ((rc = common(argc, argv, &o, &format, &now)) >= 0)
		return rc;
	if (!(rep = calloc(1, sizeof(*rep))))
		return au_fail(format == AU_FMT_JSON, AU_EXIT_OTHER, "no_memory", "out of memory");
	rep->now = now;
	if (pb_date_parse(o.from, &rep->from) || pb_date_parse(o.to, &rep->to) ||
	    rep->to < rep->from || rep->to >= pb_days_from_civil(9999, 12, 31)) {
		free(rep);
		return au_usage(argv[0], "--from and --to are dates YYYY-MM-DD, --from not after --to");
	}
	rc = run(&o, format, rep);
	free(rep);
	return rc;
}
