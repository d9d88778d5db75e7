/* verify: the whole log, record by record (st_verify), and a one-line
 * verdict. */
#include "au.h"

int au_cmd_verify(int argc, char **argv)
{
	struct au_opts o;
	struct au_log l;
	json_t *j;
	int rc;

	if ((rc = au_parse(argc, argv, &o)) >= 0)
		return rc;
	if (o.nargs)
		return au_usage(argv[0], "verify takes no arguments");
	if ((rc = au_log_open(o.store, o.pubkey, o.json, &l)))
		return rc;
	if (o.json) {
		json_t *info = au_log_json(&l);
		j = json_pack("{s:b}", "ok", 1);
		if (!info || !j || json_object_update(j, info)) {
			json_decref(j);
			j = NULL;
		}
		json_decref(info);
		rc = au_emit(j);
	} else {
		au_log_print(&l, o.pubkey);
	}
	au_log_close(&l);
	return rc;
}
