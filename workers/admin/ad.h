/* ad: mailroom-admin, the operator's tool for work on the whole office
 * rather than one message: import (migration from an old system) and
 * handler (the store-kept handler list).
 * Talks to the router only, through mr_handler_client, as a handler whose
 * [handler.NAME] section says import = yes. */
#ifndef AD_H
#define AD_H

#include "wk.h"

#include <jansson.h>
#include <stdio.h>

#define AD_PROG "mailroom-admin"
#define AD_DEFAULT_CONF "deploy/mailroom.ini"
#define AD_DEFAULT_KEY "var/handler.key"   /* the demo key deploy/run.sh makes */
#define AD_LINE_MAX (1u << 20)             /* longest import line, bytes */
#define AD_IMPORT_TIMEOUT_MS 30000         /* one message and all its events */

/* Exit codes of mailroom-admin (workers/admin/README.md). */
enum ad_exit {
	AD_EXIT_OK = 0,
	AD_EXIT_USAGE = 1,
	AD_EXIT_UNREACHABLE = 2,   /* router unreachable or silent: the rest not sent */
	AD_EXIT_AUTH = 5,          /* the router refused the key: the rest not sent */
	AD_EXIT_INVALID = 8,       /* bad config, key file or unreadable import file */
	AD_EXIT_OTHER = 9,
	AD_EXIT_LINES = 10,        /* some lines refused; the others were imported */
	AD_EXIT_REFUSED = 11,      /* handler: the router refused the change (code on stderr) */
};

struct ad_import_stats {
	unsigned long lines;        /* non-blank lines read */
	unsigned long imported;
	unsigned long duplicates;
	unsigned long refused;
};

/* Sends every line of in as one ImportReq over c, signed with sk. Refused
 * lines are reported on err as "LINE N: code: message" and skipped;
 * results (a JSON array) gets one {line, ref, id, tracking_code,
 * duplicate, events} per line the router took. Returns an enum ad_exit. */
int ad_import(FILE *in, struct wk_client *c, const uint8_t sk[64], FILE *err,
              struct ad_import_stats *st, json_t *results);

/* mailroom-admin handler ACTION ...: argv[0] is the action. */
struct ad_handler_args {
	const char *action;         /* add | remove | list */
	const char *name;
	const char *pub;            /* add: --key, hex */
	const char *queues;         /* add: --queues a,b */
	int supervise;
	uint8_t key[32];
};
/* 0, or an exit code after a message on stderr. */
int ad_handler_parse(int argc, char **argv, struct ad_handler_args *a);
int ad_handler_run(const struct ad_handler_args *a, struct wk_client *c, const uint8_t sk[64]);

/* mailroom-admin search-rebuild (ad_search.c). Returns an enum ad_exit. */
int ad_search_rebuild(struct wk_client *c, const uint8_t sk[64]);

/* mailroom-admin backup --out DIR / restore --from DIR (ad_backup.c);
 * store NULL: the config's [store] path. Return an enum ad_exit. */
int ad_backup(const struct pb_conf *c, const char *store, const char *out);
int ad_restore(const struct pb_conf *c, const char *from, const char *store, int force);

#endif
