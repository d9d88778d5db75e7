#include "helpers.h"
#include "mt.h"
#include "pb_err.h"
#include "sn.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx fx;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void fx_setup_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	memset(&fx, 0, sizeof(fx));
	snprintf(fx.dir, sizeof(fx.dir), "%s/mr-store-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
	cr_assert_not_null(mkdtemp(fx.dir));
	snprintf(fx.store, sizeof(fx.store), "%s/store", fx.dir);
	pb_conf_defaults(&fx.conf);
	snprintf(fx.conf.store_path, sizeof(fx.conf.store_path), "%s", fx.store);
	snprintf(fx.conf.keys_dir, sizeof(fx.conf.keys_dir), "%s/keys", fx.dir);
	snprintf(fx.conf.signing_key, sizeof(fx.conf.signing_key), "%s/keys/store.key", fx.dir);
	snprintf(fx.conf.data_key, sizeof(fx.conf.data_key), "%s/keys/data.key", fx.dir);
	snprintf(fx.conf.log_origin, sizeof(fx.conf.log_origin), "mailroom.test/log");
}

void fx_setup(void)
{
	int created;

	fx_setup_dir();
	cr_assert_eq(st_keys_load_or_create(&fx.conf, &fx.keys, &created), PB_OK);
	cr_assert_eq(created, 1);
	cr_assert_eq(st_open(fx.store, 16, 0, &fx.keys, &fx.env), PB_OK);
}

void fx_close(void)
{
	st_close(fx.env);
	fx.env = NULL;
}

void fx_teardown(void)
{
	fx_close();
	nftw(fx.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int fx_reopen(size_t map_mb, int readonly)
{
	return st_open(fx.store, map_mb, readonly, readonly ? NULL : &fx.keys, &fx.env);
}

int fx_append(int n, struct st_receipt *last)
{
	st_txn *t;
	int rc;

	if ((rc = st_txn_begin(fx.env, NULL, 0, &t)))
		return rc;
	for (int i = 0; i < n; i++) {
		Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;
		rec.time_ms = 1000 + i;
		rec.actor = "test";
		rec.event = MAILROOM__AUDIT_EVENT__AUDIT_ROUTED;
		rec.queue = "general";
		if ((rc = st_log_append(t, &rec, last))) {
			st_txn_abort(t);
			return rc;
		}
	}
	return st_txn_commit(t);
}

/* Opens fx.store with plain LMDB, runs one write transaction on a DBI. */
static int raw_begin(const char *db, MDB_env **env, MDB_txn **txn, MDB_dbi *dbi)
{
	int rc;

	if ((rc = mdb_env_create(env)))
		return rc;
	if ((rc = mdb_env_set_maxdbs(*env, 24)) || (rc = mdb_env_open(*env, fx.store, 0, 0600)) ||
	    (rc = mdb_txn_begin(*env, NULL, 0, txn))) {
		mdb_env_close(*env);
		return rc;
	}
	if ((rc = mdb_dbi_open(*txn, db, 0, dbi))) {
		mdb_txn_abort(*txn);
		mdb_env_close(*env);
	}
	return rc;
}

static int raw_end(MDB_env *env, MDB_txn *txn, int rc)
{
	if (rc)
		mdb_txn_abort(txn);
	else
		rc = mdb_txn_commit(txn);
	mdb_env_close(env);
	return rc;
}

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

int raw_get(const char *name, const void *key, size_t klen, uint8_t *buf, size_t max, size_t *len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {klen, (void *)key}, v;
	int rc;

	if ((rc = raw_begin(name, &env, &txn, &dbi)))
		return rc;
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc == 0 && v.mv_size > max)
		rc = MDB_BAD_VALSIZE;
	if (rc == 0) {
		memcpy(buf, v.mv_data, v.mv_size);
		*len = v.mv_size;
	}
	return raw_end(env, txn, rc);
}

int raw_log_get(uint64_t index, uint8_t *buf, size_t max, size_t *len)
{
	uint8_t kb[8];

	be64(kb, index);
	return raw_get("log", kb, sizeof(kb), buf, max, len);
}

int raw_log_put(uint64_t index, const uint8_t *buf, size_t len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t kb[8];
	MDB_val k = {8, kb}, v = {len, (void *)buf};
	int rc;

	be64(kb, index);
	if ((rc = raw_begin("log", &env, &txn, &dbi)))
		return rc;
	return raw_end(env, txn, mdb_put(txn, dbi, &k, &v, 0));
}

int raw_log_del(uint64_t index)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t kb[8];
	MDB_val k = {8, kb};
	int rc;

	be64(kb, index);
	if ((rc = raw_begin("log", &env, &txn, &dbi)))
		return rc;
	return raw_end(env, txn, mdb_del(txn, dbi, &k, NULL));
}

int raw_meta_put(const char *name, const void *data, size_t len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {strlen(name), (void *)name}, v = {len, (void *)data};
	int rc;

	if ((rc = raw_begin("meta", &env, &txn, &dbi)))
		return rc;
	return raw_end(env, txn, mdb_put(txn, dbi, &k, &v, 0));
}

int raw_dbi_exists(const char *name)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc = raw_begin(name, &env, &txn, &dbi);

	if (rc == MDB_NOTFOUND)
		return 0;
	raw_end(env, txn, rc);
	return rc == 0;
}

int raw_dbi_pages(const char *name, uint64_t *pages, uint64_t *entries)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat st;
	int rc;

	if ((rc = raw_begin(name, &env, &txn, &dbi)))
		return rc;
	if ((rc = mdb_stat(txn, dbi, &st)) == 0) {
		*pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
		*entries = st.ms_entries;
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc;
}

int raw_meta_get(const char *name, uint8_t *buf, size_t max, size_t *len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc;

	if ((rc = raw_begin("meta", &env, &txn, &dbi)))
		return rc;
	if ((rc = mdb_get(txn, dbi, &k, &v)) == 0) {
		*len = v.mv_size;
		if (v.mv_size > max)
			rc = MDB_BAD_VALSIZE;
		else
			memcpy(buf, v.mv_data, v.mv_size);
	}
	return raw_end(env, txn, rc);
}

int raw_forget_sequence(void)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi, meta;
	MDB_val k = {9, "track_key"};
	int rc;

	if ((rc = raw_begin("trackseq", &env, &txn, &dbi)))
		return rc;
	if ((rc = mdb_drop(txn, dbi, 1)) || (rc = mdb_dbi_open(txn, "meta", 0, &meta)) ||
	    (rc = mdb_del(txn, meta, &k, NULL)))
		return raw_end(env, txn, rc);
	return raw_end(env, txn, 0);
}

int raw_checkpoint_put(uint64_t size, const char *note, size_t len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t kb[8];
	MDB_val k = {8, kb}, v = {len, (void *)note};
	int rc;

	be64(kb, size);
	if ((rc = raw_begin("checkpoint", &env, &txn, &dbi)))
		return rc;
	return raw_end(env, txn, mdb_put(txn, dbi, &k, &v, 0));
}

int raw_checkpoint_sign(uint64_t size, const uint8_t sk[64])
{
	uint8_t (*leaves)[MT_HASH_LEN] = calloc(size ? size : 1, MT_HASH_LEN), root[MT_HASH_LEN];
	uint8_t buf[4096];
	char body[256], note[1024];
	size_t len, blen, nlen;
	int rc = 0;

	if (!leaves)
		return ENOMEM;
	for (uint64_t i = 0; i < size && !rc; i++)
		if (!(rc = raw_log_get(i, buf, sizeof(buf), &len)))
			mt_leaf_hash(buf, len, leaves[i]);
	if (!rc) {
		mt_root_naive(leaves, size, root);
		if (sn_checkpoint_format(fx.keys.key_name, size, root, NULL, body, sizeof(body), &blen) ||
		    sn_sign(body, blen, fx.keys.key_name, sk, note, sizeof(note), &nlen))
			rc = EINVAL;
		else
			rc = raw_checkpoint_put(size, note, nlen);
	}
	free(leaves);
	return rc;
}

int raw_checkpoint_del(uint64_t size)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t kb[8];
	MDB_val k = {8, kb};
	int rc;

	be64(kb, size);
	if ((rc = raw_begin("checkpoint", &env, &txn, &dbi)))
		return rc;
	return raw_end(env, txn, mdb_del(txn, dbi, &k, NULL));
}
