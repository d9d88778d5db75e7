/* The router's business rules: the input's first byte picks who sent it
 * (the gateway, a handler with every power, a handler of one queue, or a
 * console handler), the rest is a protobuf Request, applied the way the
 * writer does (rt_apply in a nested transaction, batch sealed, receipts
 * filled, committed) or read (rt_read), as rt_server.c dispatches. One
 * store in a temporary directory (TMPDIR; a tmpfs is fastest), made anew
 * every FZ_RESET runs so it does not fill. */
#include "pb_err.h"
#include "pb_time.h"
#include "rt.h"
#include "rt_search.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FZ_RESET 20000

static struct pb_conf conf;
static struct rt_core core;
static char dir[256];
static struct rt_principal who[4];
static unsigned long runs;
static int64_t now_ms;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_router: %s\n", what);
	abort();
}

static void store_open(void)
{
	char err[256];
	int created;
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/mr-fz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(conf.store_path, sizeof(conf.store_path), "%s/store", dir);
	snprintf(conf.keys_dir, sizeof(conf.keys_dir), "%s/keys", dir);
	snprintf(conf.signing_key, sizeof(conf.signing_key), "%s/keys/store.key", dir);
	snprintf(conf.data_key, sizeof(conf.data_key), "%s/keys/data.key", dir);
	memset(&core, 0, sizeof(core));
	core.conf = &conf;
	if (st_keys_load_or_create(&conf, &core.keys, &created))
		die("keys");
	if (cal_load_dir(MR_SOURCE_DIR "/deploy/calendars", &core.cal, err, sizeof(err)))
		die(err);
	cal_version(core.cal, core.cal_version);
	if (st_open(conf.store_path, conf.map_size_mb, 0, &core.keys, &core.store))
		die("st_open");
	if (rt_keys_start(&core) || rt_handlers_reload(&core))
		die("start");
}

static void store_close(void)
{
	char cmd[300];

	rt_handlers_free(&core);
	st_close(core.store);
	rt_bgcache_free(core.bigrams);
	cal_free(core.cal);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		die("rm");
}

static void at_exit(void)
{
	store_close();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		die("sodium");
	pb_conf_defaults(&conf);
	conf.map_size_mb = 64;
	conf.lease_seconds = 60;
	conf.nroutes = 1;
	strcpy(conf.routes[0].name, "lights");
	conf.routes[0].nkeywords = 1;
	strcpy(conf.routes[0].keywords[0], "路灯");
	strcpy(conf.routes[0].queue, "roads");
	conf.nhandlers = 2;
	strcpy(conf.handlers[0].name, "alice");
	conf.handlers[0].nqueues = 2;
	strcpy(conf.handlers[0].queues[0], "general");
	strcpy(conf.handlers[0].queues[1], "roads");
	conf.handlers[0].may_import = conf.handlers[0].may_admin = conf.handlers[0].may_supervise = 1;
	memset(conf.handlers[0].pubkey, 1, 32);
	strcpy(conf.handlers[1].name, "bob");
	conf.handlers[1].nqueues = 1;
	strcpy(conf.handlers[1].queues[0], "roads");
	memset(conf.handlers[1].pubkey, 2, 32);
	who[0] = (struct rt_principal){.kind = MAILROOM__AUTH_KIND__AUTH_GATEWAY};
	who[1] = (struct rt_principal){.kind = MAILROOM__AUTH_KIND__AUTH_HANDLER,
	                               .handler = &conf.handlers[0]};
	who[2] = (struct rt_principal){.kind = MAILROOM__AUTH_KIND__AUTH_HANDLER,
	                               .handler = &conf.handlers[1]};
	who[3] = (struct rt_principal){.kind = MAILROOM__AUTH_KIND__AUTH_HANDLER,
	                               .handler = &conf.handlers[0], .console = 1};
	if (pb_time_parse("2026-11-24T10:00:00+08:00", &now_ms))
		die("time");
	store_open();
	atexit(at_exit);
	return 0;
}

static void run(const struct rt_principal *p, const Mailroom__Request *req)
{
	struct rt_result res;
	st_txn *top, *child = NULL;

	rt_result_init(&res);
	if (!rt_is_write(req)) {
		if (st_txn_begin(core.store, NULL, 1, &top))
			die("read txn");
		rt_read(&core, top, p, req, now_ms, &res);
		st_txn_abort(top);
		rt_result_clear(&res);
		return;
	}
	if (st_txn_begin(core.store, NULL, 0, &top) || st_txn_begin(core.store, top, 0, &child))
		die("txn");
	if (rt_apply(&core, child, p, req, now_ms, &res) == PB_OK && !res.park) {
		if (st_txn_commit(child))
			die("child commit");
	} else {
		st_txn_abort(child);
	}
	/* a full store is an answer (503), not a crash */
	if (st_log_seal(top) || rt_result_receipts(&core, top, &res))
		st_txn_abort(top);
	else
		(void)st_txn_commit(top);   /* gone either way */
	rt_result_clear(&res);
}

/* The search follower reads two fields of each log record by hand
 * (rt_search_refs): whatever protobuf-c unpacks as an AuditRecord, it
 * must read too, and find the same two ids. */
static void refs_agree(const uint8_t *data, size_t size)
{
	Mailroom__AuditRecord *r = mailroom__audit_record__unpack(NULL, size, data);
	struct rt_refs refs;
	int rc = rt_search_refs(data, size, &refs);

	if (!r)
		return;
	const ProtobufCBinaryData *want[2] = {&r->message_id, &r->related_id};
	if (rc)
		die("rt_search_refs refused a record protobuf-c reads");
	for (int j = 0; j < 2; j++)
		if (refs.len[j] != want[j]->len ||
		    (want[j]->len && memcmp(refs.ref[j], want[j]->data, want[j]->len)))
			die("rt_search_refs read another id than protobuf-c");
	mailroom__audit_record__free_unpacked(r, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Mailroom__Request *req;

	refs_agree(data, size);

	if (size < 1)
		return 0;
	if (++runs % FZ_RESET == 0) {
		store_close();
		store_open();
	}
	now_ms += 1000 + (int64_t)(data[0] >> 2) * 3600 * 1000;   /* time moves on */
	req = mailroom__request__unpack(NULL, size - 1, data + 1);
	if (!req)
		return 0;
	run(&who[data[0] & 3], req);
	mailroom__request__free_unpacked(req, NULL);
	return 0;
}
