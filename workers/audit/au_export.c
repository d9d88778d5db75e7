/* export: keys, records and checkpoints of one read-only snapshot of the
 * store in a bundle file (format in au_bundle.c), written atomically. The
 * router may go on writing meanwhile: the snapshot is what one LMDB read
 * transaction sees, and its checkpoints never cover records it lacks. */
#include "au_tlog.h"
#include "pb_err.h"

#include <stdio.h>

int au_cmd_export(int argc, char **argv)
{
	struct au_bundle_stats st;
	struct au_opts o;
	st_env *env;
	st_txn *t;
	int rc;

	if ((rc = au_parse(argc, argv, &o)) >= 0)
		return rc;
	if (o.nargs)
		return au_usage(argv[0], "export takes no arguments");
	if ((rc = st_open(o.store, 0, 1, NULL, &env)))
		return au_fail(o.json, AU_EXIT_OPEN, "cannot_open", "cannot open store %s: %s",
		               o.store, pb_err_str(rc));
	if ((rc = st_txn_begin(env, NULL, 1, &t)) == PB_OK) {
		rc = au_bundle_write(t, o.out, &st);
		st_txn_abort(t);
	}
	st_close(env);
	if (rc == PB_ENOMEM)
		return au_fail(o.json, AU_EXIT_OTHER, "no_memory", "out of memory");
	if (rc)
		return au_fail(o.json, AU_EXIT_OPEN, "cannot_export", "cannot export %s to %s: %s",
		               o.store, o.out, pb_err_str(rc));
	if (o.json)
		return au_emit(json_pack("{s:b, s:s, s:I, s:I, s:I, s:I}", "ok", 1, "bundle", o.out,
		                         "records", (json_int_t)st.records, "checkpoints",
		                         (json_int_t)st.checkpoints, "keys", (json_int_t)st.keys,
		                         "gaps", (json_int_t)st.gaps));
	printf("exported %llu records, %llu checkpoints, %llu key%s to %s\n",
	       (unsigned long long)st.records, (unsigned long long)st.checkpoints,
	       (unsigned long long)st.keys, st.keys == 1 ? "" : "s", o.out);
	if (st.gaps)
		printf("warning: %llu records missing in the store, exported as gaps\n",
		       (unsigned long long)st.gaps);
	return fflush(stdout) == 0 ? AU_EXIT_OK : AU_EXIT_OTHER;
}
