/* mailroom-router [-c CONFIG]: opens the store (making keys on first
 * start, rotating the log key when the config asks), loads the
 * calendars, and serves until SIGINT or SIGTERM.
 * mailroom-router [-c CONFIG] keygen FILE: a new log signing key for a
 * rotation (store/README.md, "Key rotation"). */
#include "rt.h"
#include "rt_search.h"
#include "rt_witness.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"
#include "pb_time.h"
#include "pb_version.h"

#include <signal.h>
#include <sodium.h>
#include <systemd/sd-daemon.h>
#include <stdio.h>
#include <string.h>

static int load_calendars(struct rt_core *core)
{
	cal_set *cal = NULL;   /* core->cal is atomic: a reload swaps it */
	char err[2 * PB_PATH_MAX + 128];
	int rc;

	if ((rc = rt_calendars_load(core->conf, "", &cal, err, sizeof(err)))) {
		/* A broken calendar is an operator error worth stopping for. */
		pb_error("calendars: %s", err);
		return rc;
	}
	core->cal = cal;
	cal_version(core->cal, core->cal_version);
	rt_calendar_check(core, pb_now_ms(), NULL);
	return PB_OK;
}

/* A new signing key and its .pub beside it, for the operator to point
 * [store] signing_key at (the old key going to previous_signing_key). */
static int keygen(const struct pb_conf *conf, const char *file)
{
	uint8_t pk[32], id[ST_KEYID_LEN];
	char hex[2 * ST_KEYID_LEN + 1];
	int rc = st_signing_key_create(file, conf->log_origin, pk);

	if (rc == PB_EEXIST) {
		fprintf(stderr, "mailroom-router: %s or its .pub exists; a key file is never replaced\n",
		        file);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "mailroom-router: cannot create %s: %s\n", file, pb_err_str(rc));
		return 1;
	}
	st_key_id(conf->log_origin, pk, id);
	pb_hex(id, sizeof(id), hex);
	printf("new log signing key %s+%s in %s (public key file beside it)\n"
	       "to rotate: stop the router, then in [store] set\n"
	       "  previous_signing_key = %s\n"
	       "  signing_key = %s\n"
	       "and start the router: it writes the rotation record and signs with the new key\n",
	       conf->log_origin, hex, file, conf->signing_key, file);
	return fflush(stdout) == 0 ? 0 : 1;
}

static const char help[] =
	"usage: mailroom-router [-c CONFIG] [keygen FILE]\n"
	"  Serves the store until SIGINT or SIGTERM; SIGHUP re-reads CONFIG.\n"
	"  keygen FILE   write a new log signing key for a rotation\n"
	"  -c CONFIG     default deploy/mailroom.ini\n"
	"  --version     this version and the libraries'\n";

int main(int argc, char **argv)
{
	static struct pb_conf conf;
	struct rt_core core;
	struct rt_server *srv = NULL;
	const char *path = "deploy/mailroom.ini", *newkey = NULL;
	char err[512];
	sigset_t set;
	int created, rc, sig;

	if ((rc = pb_std_args(argc, argv, "mailroom-router", help)) >= 0)
		return rc;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "keygen") == 0 && i + 1 < argc && !newkey) {
			newkey = argv[++i];
		} else {
			fprintf(stderr, "usage: mailroom-router [-c CONFIG] [keygen FILE]\n");
			return 1;
		}
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "mailroom-router: libsodium failed to initialise\n");
		return 1;
	}
	if ((rc = pb_conf_load(path, &conf, err, sizeof(err)))) {
		fprintf(stderr, "mailroom-router: %s\n", err);
		return 1;
	}
	if (newkey)
		return keygen(&conf, newkey);
	pb_log_init("router", pb_log_level_parse(conf.log_level));

	/* Signals are taken synchronously below; nng's threads inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&core, 0, sizeof(core));
	core.conf = &conf;
	if ((rc = st_keys_load_or_create(&conf, &core.keys, &created))) {
		pb_error("cannot load keys from %s: %s", conf.keys_dir, pb_err_str(rc));
		return 1;
	}
	if (created)
		pb_info("created a new store signing key %s and data key %s; give auditors the public key beside it",
		        conf.signing_key, conf.data_key);
	if ((rc = load_calendars(&core))) {
		sodium_memzero(&core.keys, sizeof(core.keys));
		return 1;
	}
	if ((rc = st_open(conf.store_path, conf.map_size_mb, 0, &core.keys, &core.store))) {
		pb_error("cannot open the store at %s: %s", conf.store_path, pb_err_str(rc));
		if (rc == PB_EAUTH && !core.keys.has_prev)
			pb_error("refusing to start: when the log is signed by another key, [store] "
			         "signing_key %s has nothing proving it continues the log; point "
			         "signing_key back at the log's key, or, to rotate to this one, set "
			         "[store] previous_signing_key to the log's key (store/README.md, "
			         "\"Key rotation\")",
			         conf.signing_key);
		else if (rc == PB_EAUTH)
			pb_error("neither [store] signing_key %s nor previous_signing_key %s is the key "
			         "the log is signed with: refusing to start",
			         conf.signing_key, conf.previous_signing_key);
		goto out;
	}
	/* A rotation commits before anything is signed with the new key. */
	if ((rc = rt_keys_start(&core)))
		goto out;
	int moved;
	if ((rc = rt_recompute_provisional(&core, &moved, NULL))) {
		pb_error("cannot recompute provisional deadlines: %s", pb_err_str(rc));
		goto out;
	}
	if (moved)
		pb_info("a new calendar moved or confirmed %d provisional deadline(s); each has an "
		        "audit record", moved);
	if ((rc = rt_search_start(&core))) {
		pb_error("cannot start the search index: %s", pb_err_str(rc));
		goto out;
	}
	if ((rc = rt_witness_start(&core))) {
		rt_search_stop(&core);
		goto out;
	}
	if ((rc = rt_server_start(&core, &srv))) {
		pb_error("cannot start: %s", pb_err_str(rc));
		rt_witness_stop(&core);
		rt_search_stop(&core);
		goto out;
	}
	struct rt_metrics *metrics = NULL;
	if ((rc = rt_metrics_start(&core, &metrics))) {
		rt_server_stop(srv);
		rt_witness_stop(&core);
		rt_search_stop(&core);
		goto out;
	}
	/* Ready for systemd (Type=notify) once the store is open and served. */
	sd_notify(0, "READY=1\nSTATUS=store open, serving");
	while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
		pb_info("SIGHUP: re-reading %s", path);
		rt_reload_prepare(&core, path);
	}
	sd_notify(0, "STOPPING=1");
	pb_info("stopping on signal %d", sig);
	int64_t stop_ms = pb_now_ms();
	/* The order of router/README.md, "Stopping": every thread that reads
	 * the store is gone before the store closes. */
	rt_metrics_stop(metrics);
	rt_server_stop(srv);
	rt_witness_stop(&core);
	rt_search_stop(&core);
	pb_info("stopped serving in %lld ms", (long long)(pb_now_ms() - stop_ms));
out:
	st_close(core.store);
	rt_bgcache_free(core.bigrams);
	rt_reload_free(&core);
	cal_free(core.cal);
	sodium_memzero(&core.keys, sizeof(core.keys));
	return rc ? 1 : 0;
}
