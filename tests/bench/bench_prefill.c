/* bench_prefill: a store of a given size, quickly, as the router makes it.
 *
 * Each message is the request the gateway sends for bench-ingest's own
 * POST /v1/messages body (pj_parse_message, a fresh idempotency key and
 * access-key hash), applied by rt_apply straight in the batch's
 * transaction as the writer thread applies a batch of plain submits, so tracking codes, indexes, the repeat check, the
 * records and the Merkle tree are the router's. What differs is only the
 * grouping: a checkpoint is signed every per_checkpoint messages (the
 * batch a loaded router commits), and many of them share one LMDB
 * transaction and one fsync, which is what makes a million take minutes
 * rather than an hour. The texts and contact are bench-ingest's, so the
 * load that follows meets a store shaped like its own. */
#include "bench_prefill.h"

#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"
#include "pj.h"
#include "rt.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PER_TXN_CHECKPOINTS 128   /* checkpoints per LMDB transaction */

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct core_open {
	struct pb_conf conf;
	struct rt_core core;
};

/* The router's start, without serving: config, keys, calendars, store. */
static int core_open(const char *ini, int readonly, struct core_open *o)
{
	char err[512];
	int created, rc;

	memset(o, 0, sizeof(*o));
	if (sodium_init() < 0 || (rc = pb_conf_load(ini, &o->conf, err, sizeof(err)))) {
		fprintf(stderr, "prefill: %s\n", sodium_init() < 0 ? "libsodium" : err);
		return -1;
	}
	o->core.conf = &o->conf;
	if (readonly) {
		if ((rc = st_open(o->conf.store_path, 0, 1, NULL, &o->core.store)))
			goto fail;
		return 0;
	}
	if ((rc = st_keys_load_or_create(&o->conf, &o->core.keys, &created)))
		goto fail;
	if ((rc = cal_load_dir(o->conf.calendars_dir, &o->core.cal, err, sizeof(err)))) {
		fprintf(stderr, "prefill: calendars: %s\n", err);
		return -1;
	}
	cal_version(o->core.cal, o->core.cal_version);
	if ((rc = st_open(o->conf.store_path, o->conf.map_size_mb, 0, &o->core.keys, &o->core.store)))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "prefill: cannot open the store at %s: %s\n", o->conf.store_path,
	        pb_err_str(rc));
	return -1;
}

static void core_close(struct core_open *o)
{
	st_close(o->core.store);
	rt_bgcache_free(o->core.bigrams);
	cal_free(o->core.cal);
	sodium_memzero(&o->core.keys, sizeof(o->core.keys));
}

/* One message, as the writer applies a gateway's submit in a batch of
 * plain submits: in the batch's transaction itself. */
static int submit_one(struct rt_core *core, st_txn *txn, uint64_t i, uint64_t citizens,
                      int64_t now)
{
	static const struct rt_principal gateway = {.kind = MAILROOM__AUTH_KIND__AUTH_GATEWAY};
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SubmitReq sub;
	Mailroom__Contact contact;
	struct rt_result res;
	struct rt_prep prep;
	struct pj_error perr;
	uint8_t idem[32], body_hash[32], akey[PB_AKEY_HASH_LEN];
	char body[512];
	json_t *root;
	int rc, n;

	/* bench-ingest's body (start_request), numbered apart from its own. */
	n = snprintf(body, sizeof(body),
	             "{\"channel\":\"mailbox\",\"subject\":\"关于小区停车难的建议 p-%llu\","
	             "\"body\":\"您好，我们小区车位严重不足，晚上很多车只能停在消防通道上，"
	             "存在安全隐患。建议协调周边单位夜间开放停车场。\","
	             "\"contact\":{\"name\":\"王五\",\"phone\":\"%llu\"}}",
	             (unsigned long long)i,
	             13700137000ULL + (unsigned long long)(citizens ? i % citizens : 0));
	if (n < 0 || (size_t)n >= sizeof(body) ||
	    pj_parse_message(body, (size_t)n, &root, &sub, &contact, &perr)) {
		fprintf(stderr, "prefill: the message does not parse\n");
		return -1;
	}
	randombytes_buf(idem, sizeof(idem));
	crypto_generichash(body_hash, sizeof(body_hash), (const uint8_t *)body, (size_t)n, NULL, 0);
	randombytes_buf(akey, sizeof(akey));
	sub.idem_key.data = idem;
	sub.idem_key.len = sizeof(idem);
	sub.idem_body.data = body_hash;
	sub.idem_body.len = sizeof(body_hash);
	sub.access_key_hash.data = akey;
	sub.access_key_hash.len = sizeof(akey);
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &sub;

	/* What the receiving thread does before the writer, then the writer. */
	rt_prepare(core, &req, &prep);
	rt_result_init(&res);
	res.prep = &prep;
	/* Straight in the batch's transaction, as the writer applies a batch
	 * of plain submits; a failure fails the whole fill, so no redo. */
	rc = rt_apply(core, txn, &gateway, &req, now, &res);
	if (rc)
		fprintf(stderr, "prefill: message %llu: %s (%s)\n", (unsigned long long)i,
		        pb_err_str(rc), res.resp.message ? res.resp.message : "");
	rt_result_clear(&res);
	rt_prep_free(&prep);
	json_decref(root);
	return rc ? -1 : 0;
}

int bench_prefill(const char *ini, uint64_t n, unsigned per_checkpoint, uint64_t citizens)
{
	struct core_open *o = malloc(sizeof(*o));
	st_txn *txn = NULL;
	double t0 = mono(), shown = t0;
	int rc = 0;

	if (!o || core_open(ini, 0, o)) {
		free(o);
		return -1;
	}
	if (!per_checkpoint)
		per_checkpoint = 1;
	/* Received over the last days, a few milliseconds apart, ending now. */
	int64_t now = pb_now_ms() - (int64_t)(n * 2);
	for (uint64_t i = 0; i < n && !rc; i++, now += 2) {
		if (!txn && (rc = st_txn_begin(o->core.store, NULL, 0, &txn)))
			break;
		if (submit_one(&o->core, txn, i, citizens, now)) {
			rc = PB_EIO;
			break;
		}
		/* A group commit's checkpoint; every PER_TXN_CHECKPOINTS, the commit. */
		if ((i + 1) % per_checkpoint == 0 || i + 1 == n) {
			if ((rc = st_log_seal(txn)))
				break;
			if ((i + 1) % ((uint64_t)per_checkpoint * PER_TXN_CHECKPOINTS) == 0 || i + 1 == n) {
				rc = st_txn_commit(txn);
				txn = NULL;
			}
		}
		if (mono() - shown >= 10) {
			shown = mono();
			fprintf(stderr, "prefill: %llu of %llu messages, %.0f/s\n", (unsigned long long)i + 1,
			        (unsigned long long)n, (double)(i + 1) / (shown - t0));
		}
	}
	st_txn_abort(txn);
	if (rc)
		fprintf(stderr, "prefill: %s\n", pb_err_str(rc));
	else
		fprintf(stderr, "prefill: %llu messages in %.1f s, a checkpoint every %u\n",
		        (unsigned long long)n, mono() - t0, per_checkpoint);
	core_close(o);
	free(o);
	return rc ? -1 : 0;
}

static int count_msg(const Mailroom__StoredMessage *m, void *arg)
{
	(void)m;
	++*(uint64_t *)arg;
	return 0;
}

int bench_disk_use(const char *ini, struct bench_disk *d)
{
	struct core_open *o = malloc(sizeof(*o));
	char path[PB_PATH_MAX + 16];
	uint64_t mapsize;
	struct stat sb;
	st_txn *t;
	int rc;

	memset(d, 0, sizeof(*d));
	if (!o || core_open(ini, 1, o)) {
		free(o);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/data.mdb", o->conf.store_path);
	if (stat(path, &sb) == 0) {
		d->file_bytes = (uint64_t)sb.st_size;
		d->alloc_bytes = (uint64_t)sb.st_blocks * 512;
	}
	rc = st_map_use(o->core.store, &d->pages_bytes, &mapsize);
	if (!rc && !(rc = st_txn_begin(o->core.store, NULL, 1, &t))) {
		if (!(rc = st_log_size(t, &d->records)))
			rc = st_msg_each(t, count_msg, &d->messages);
		st_txn_abort(t);
	}
	if (rc)
		fprintf(stderr, "prefill: cannot read the store: %s\n", pb_err_str(rc));
	core_close(o);
	free(o);
	return rc ? -1 : 0;
}
