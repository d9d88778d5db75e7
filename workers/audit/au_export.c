/* export: keys, records and checkpoints of one read-only snapshot of the
 * store in a bundle file (format in au_bundle.c), written atomically,
 * with the calendar files deadlines are checked on. The router may go on
 * writing meanwhile: the snapshot is what one LMDB read transaction sees,
 * and its checkpoints never cover records it lacks. */
#include "au_tlog.h"
#include "pb_err.h"
#include "pb_id.h"

#include <stdio.h>
#include <string.h>

/* The calendars to embed: the files the router's rule takes from
 * --calendars and --local-calendars. A named directory must load; the
 * default one missing gives a bundle without calendars, said so (verify
 * then needs --calendars). */
static int read_cals(const struct au_opts *o, struct au_cals *c, char *warn, size_t wlen)
{
	char err[2 * PB_PATH_MAX + 256] = "";
	const char *dir = o->calendars ? o->calendars : AU_DEFAULT_CALENDARS;
	int rc = au_cals_read_dirs(dir, o->local_calendars, c, err, sizeof(err));

	if (rc == PB_OK)
		return AU_EXIT_OK;
	if (rc == PB_ENOMEM)
		return au_fail(o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	if (o->calendars || o->local_calendars || rc != PB_ENOTFOUND)
		return au_fail(o->json, AU_EXIT_INVALID, "bad_calendar", "%s", err);
	snprintf(warn, wlen, "no calendars embedded (%.200s): pass --calendars DIR, or verify will "
	         "need it", err);
	return AU_EXIT_OK;
}

/* The router keeps the version it last loaded; other files would leave
 * the deadlines it computed unchecked. */
static void compare_version(st_txn *t, const struct au_cals *c, char *warn, size_t wlen)
{
	uint8_t v[32];
	size_t len = 0;
	char a[65], b[65];

	if (!c->n || st_meta_get(t, "calendar_version", v, sizeof(v), &len) != PB_OK ||
	    len != sizeof(v) || memcmp(v, c->version, sizeof(v)) == 0)
		return;
	pb_hex(c->version, 32, a);
	pb_hex(v, 32, b);
	snprintf(warn, wlen, "the calendars embedded (version %.12s) are not the ones the router last "
	         "loaded (version %.12s)", a, b);
}

int au_cmd_export(int argc, char **argv)
{
	struct au_bundle_stats st;
	struct au_cals cals = {0};
	char warn[2][400] = {"", ""};
	char ver[65] = "";
	struct au_opts o;
	st_env *env;
	st_txn *t;
	int rc;

	if ((rc = au_parse(argc, argv, &o)) >= 0)
		return rc;
	if (o.nargs)
		return au_usage(argv[0], "export takes no arguments");
	if ((rc = read_cals(&o, &cals, warn[0], sizeof(warn[0]))))
		return rc;
	if ((rc = st_open(o.store, 0, 1, NULL, &env))) {
		au_cals_free(&cals);
		return au_fail(o.json, AU_EXIT_OPEN, "cannot_open", "cannot open store %s: %s",
		               o.store, pb_err_str(rc));
	}
	if ((rc = st_txn_begin(env, NULL, 1, &t)) == PB_OK) {
		compare_version(t, &cals, warn[1], sizeof(warn[1]));
		rc = au_bundle_write(t, &cals, o.out, &st);
		st_txn_abort(t);
	}
	st_close(env);
	if (cals.n)
		pb_hex(cals.version, 32, ver);
	int ncals = cals.n;
	au_cals_free(&cals);
	if (rc == PB_ENOMEM)
		return au_fail(o.json, AU_EXIT_OTHER, "no_memory", "out of memory");
	if (rc)
		return au_fail(o.json, AU_EXIT_OPEN, "cannot_export", "cannot export %s to %s: %s",
		               o.store, o.out, pb_err_str(rc));
	if (o.json) {
		json_t *w = json_array();
		for (int i = 0; w && i < 2; i++)
			if (*warn[i])
				json_array_append_new(w, json_string(warn[i]));
		return au_emit(json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:i, s:s?, s:o}", "ok", 1,
		                         "bundle", o.out, "records", (json_int_t)st.records,
		                         "checkpoints", (json_int_t)st.checkpoints, "keys",
		                         (json_int_t)st.keys, "gaps", (json_int_t)st.gaps, "calendars",
		                         ncals, "calendar_version", *ver ? ver : NULL, "warnings",
		                         w ? w : json_array()));
	}
	printf("exported %llu records, %llu checkpoints, %llu key%s to %s\n",
	       (unsigned long long)st.records, (unsigned long long)st.checkpoints,
	       (unsigned long long)st.keys, st.keys == 1 ? "" : "s", o.out);
	if (ncals)
		printf("calendars: %d file%s, version %s\n", ncals, ncals == 1 ? "" : "s", ver);
	if (st.gaps)
		printf("warning: %llu records missing in the store, exported as gaps\n",
		       (unsigned long long)st.gaps);
	for (int i = 0; i < 2; i++)
		if (*warn[i])
			printf("warning: %s\n", warn[i]);
	return fflush(stdout) == 0 ? AU_EXIT_OK : AU_EXIT_OTHER;
}
