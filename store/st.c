/* The environment and its transactions: opening, the meta records, the
 * genesis record, and the log head every write transaction carries. */
#include "st_int.h"
#include "mt.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DBS 24   /* 21 in use (README.md, "Schema") */
#define MAX_READERS 512

static const char meta_schema[] = "schema_version";
static const char meta_pk[] = "sign_pk";
static const char meta_name[] = "key_name";
/* Written by a rotation, with sign_pk, in the rotation's transaction. */
static const char meta_from[] = "key_from";
static const char meta_prev[] = "prev_pk";
static const char meta_track[] = "track_key";

int sti_err(st_txn *t, int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return PB_OK;
	case MDB_MAP_FULL:
		if (t)
			t->full = 1;
		return PB_EFULL;
	case MDB_NOTFOUND:
		return PB_ENOTFOUND;
	case MDB_KEYEXIST:
		return PB_EEXIST;
	case MDB_TXN_FULL:      /* too many dirty pages: the batch, not the map */
		return PB_ELIMIT;
	case MDB_READERS_FULL:
	case MDB_MAP_RESIZED:
		return PB_EUNAVAIL;
	case MDB_BAD_VALSIZE:
	case MDB_BAD_DBI:
	case EINVAL:
		return PB_EINVAL;
	case MDB_BAD_TXN:
		/* LMDB marks a transaction failed after an error inside it. */
		return t && t->full ? PB_EFULL : PB_ESTATE;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
		return PB_ECORRUPT;
	case ENOMEM:
		return PB_ENOMEM;
	case ENOENT:
		return PB_ENOTFOUND;
	default:
		return PB_EIO;
	}
}

int sti_need_write(const st_txn *t)
{
	if (!t || !t->txn || t->readonly)
		return PB_EINVAL;
	/* LMDB has failed the transaction; records kept in memory until the
	 * seal must not pile up behind it. */
	if (t->full)
		return PB_EFULL;
	if (t->broken)
		return PB_ESTATE;
	return PB_OK;
}

void sti_put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

void sti_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

uint32_t sti_get_be32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = (v << 8) | p[i];
	return v;
}

uint64_t sti_get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

void sti_put_time(uint8_t *p, int64_t ms)
{
	sti_put_be64(p, (uint64_t)ms ^ UINT64_C(0x8000000000000000));
}

int64_t sti_get_time(const uint8_t *p)
{
	return (int64_t)(sti_get_be64(p) ^ UINT64_C(0x8000000000000000));
}

void sti_record_hash(const uint8_t *body, size_t len, uint8_t out[ST_HASH_LEN])
{
	mt_sha256(body, len, out);   /* the CPU's SHA instructions (mt_hash.c) */
}

/* ---- transactions ---- */

/* The head is derived from the last stored record, so there is no second
 * copy of it that could disagree with the log. */
static int load_head(st_txn *t)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	memset(t->last_hash, 0, sizeof(t->last_hash));
	t->next = 0;
	if ((rc = mdb_cursor_open(t->txn, t->env->log, &c)))
		return sti_err(t, rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return PB_OK;
	if (rc)
		return sti_err(t, rc);
	if (k.mv_size != 8 || v.mv_size == 0)
		return PB_ECORRUPT;
	t->next = sti_get_be64(k.mv_data) + 1;
	if (t->next == 0)
		return PB_ECORRUPT;
	sti_record_hash(v.mv_data, v.mv_size, t->last_hash);
	return PB_OK;
}

static int txn_begin_mdb(st_env *env, MDB_txn *parent, unsigned flags, MDB_txn **out)
{
	int rc = mdb_txn_begin(env->env, parent, flags, out);

	/* A writer in another process grew the map past ours: adopt its
	 * size. Only possible while this process has no transaction open. */
	if (rc == MDB_MAP_RESIZED && mdb_env_set_mapsize(env->env, 0) == 0)
		rc = mdb_txn_begin(env->env, parent, flags, out);
	return sti_err(NULL, rc);
}

int st_txn_begin(st_env *env, st_txn *parent, int readonly, st_txn **out)
{
	st_txn *t;
	int rc;

	*out = NULL;
	if (!env)
		return PB_EINVAL;
	if (parent && (readonly || parent->readonly || parent->env != env))
		return PB_EINVAL;
	if (!readonly && env->readonly)
		return PB_EINVAL;
	if (!(t = calloc(1, sizeof(*t))))
		return PB_ENOMEM;
	t->env = env;
	t->parent = parent;
	t->readonly = readonly;
	rc = txn_begin_mdb(env, parent ? parent->txn : NULL, readonly ? MDB_RDONLY : 0, &t->txn);
	if (rc) {
		free(t);
		return rc;
	}
	if (parent) {
		t->next = parent->next;
		memcpy(t->last_hash, parent->last_hash, ST_HASH_LEN);
	} else if (!readonly && (rc = load_head(t))) {
		mdb_txn_abort(t->txn);
		free(t);
		return rc;
	} else if (!readonly) {
		sti_memo_begin(t);
	}
	t->start = t->next;
	*out = t;
	return PB_OK;
}

int st_txn_commit(st_txn *t)
{
	int rc;

	if (!t)
		return PB_EINVAL;
	/* A failed operation has failed the whole top-level transaction. */
	if (!t->parent && !t->readonly && t->full) {
		st_txn_abort(t);
		return PB_EFULL;
	}
	if (!t->readonly && t->broken) {
		st_txn_abort(t);
		return PB_ESTATE;
	}
	/* The checkpoint over the records appended commits with them. */
	if (!t->parent && !t->readonly && (rc = st_log_seal(t))) {
		st_txn_abort(t);
		return rc;
	}
	/* mdb_txn_commit frees the LMDB transaction whatever it returns. */
	rc = sti_err(t, mdb_txn_commit(t->txn));
	/* The rotation record is durable: from now on the new key signs. */
	if (rc == PB_OK && !t->parent && t->rot_from) {
		t->env->rotating = 0;
		sodium_memzero(t->env->keys.prev_sk, sizeof(t->env->keys.prev_sk));
	}
	if (t->parent) {
		if (rc == PB_OK) {
			t->parent->next = t->next;
			memcpy(t->parent->last_hash, t->last_hash, ST_HASH_LEN);
		} else if (t->full) {
			/* LMDB has failed the parent too; let it say why. */
			t->parent->full = 1;
		}
	}
	free(t);
	return rc;
}

void st_txn_abort(st_txn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

/* ---- opening ---- */

static int open_dbis(st_env *e, MDB_txn *txn, unsigned flags)
{
	struct {
		const char *name;
		MDB_dbi *dbi;
		unsigned flags;
	} dbs[] = {
		{"meta", &e->meta, 0},         {"msg", &e->msg, 0},       {"track", &e->track, 0},
		{"extref", &e->extref, 0},     {"queue", &e->queue, 0},   {"counters", &e->counters, 0},
		{"lease", &e->lease, 0},       {"log", &e->log, 0},
		{"deadline", &e->deadline, MDB_DUPSORT | MDB_DUPFIXED},
		{"checkpoint", &e->checkpoint, 0},
		{"applicant", &e->applicant, 0}, {"provisional", &e->provisional, 0},
	};
	int rc;

	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
		if ((rc = mdb_dbi_open(txn, dbs[i].name, flags | dbs[i].flags, dbs[i].dbi)))
			return sti_err(NULL, rc);
	if ((rc = sti_tree_open(e, txn, flags)))
		return rc;
	e->has_trackseq = 0;
	rc = mdb_dbi_open(txn, "trackseq", flags, &e->trackseq);
	if (rc == 0)
		e->has_trackseq = 1;
	else if (rc != MDB_NOTFOUND || (flags & MDB_CREATE))
		return sti_err(NULL, rc);
	if ((rc = sti_texts_open(e, txn, flags)) || (rc = sti_notice_open(e, txn, flags)) ||
	    (rc = sti_cosig_open(e, txn, flags)) || (rc = sti_idem_open(e, txn, flags)))
		return rc;
	return sti_outbox_open(e, txn, flags);
}

static int meta_get(st_txn *t, const char *name, MDB_val *v)
{
	MDB_val k = {strlen(name), (void *)name};

	return sti_err(t, mdb_get(t->txn, t->env->meta, &k, v));
}

static int meta_put(st_txn *t, const char *name, const void *data, size_t len)
{
	MDB_val k = {strlen(name), (void *)name};
	MDB_val v = {len, (void *)data};

	return sti_err(t, mdb_put(t->txn, t->env->meta, &k, &v, 0));
}

/* The tracking-code permutation's key: made once, kept for the store's
 * life, since every issued code depends on it. */
static int track_key(st_txn *t, int create)
{
	st_env *e = t->env;
	MDB_val v;
	int rc = meta_get(t, meta_track, &v);

	if (rc == PB_ENOTFOUND && create) {
		randombytes_buf(e->track_key, sizeof(e->track_key));
		return meta_put(t, meta_track, e->track_key, sizeof(e->track_key));
	}
	if (rc == PB_ENOTFOUND) {
		e->has_trackseq = 0;   /* nothing was issued from a sequence */
		return PB_OK;
	}
	if (rc)
		return rc;
	if (v.mv_size != sizeof(e->track_key))
		return PB_ECORRUPT;
	memcpy(e->track_key, v.mv_data, sizeof(e->track_key));
	return PB_OK;
}

static int check_schema(st_txn *t)
{
	MDB_val v;
	int rc;

	if ((rc = meta_get(t, meta_schema, &v)))
		return rc == PB_ENOTFOUND ? PB_ECORRUPT : rc;
	if (v.mv_size != 4 || sti_get_be32(v.mv_data) != ST_SCHEMA_VERSION) {
		/* No office runs version 1 (records signed one by one), 2
		 * (idempotency keys as text in extref), 3 (the tree's low
		 * levels stored, deadlines one key each) or 4 (no index of
		 * provisional clocks): no conversion is carried. */
		if (v.mv_size == 4)
			pb_error("store: schema version %u, this Mailroom reads version %d only (it "
			         "indexes the messages whose deadline is provisional, its tree keeps "
			         "no levels below 3, its deadlines share a key per due time and its "
			         "messages do not repeat their id); start a new store",
			         (unsigned)sti_get_be32(v.mv_data), ST_SCHEMA_VERSION);
		else
			pb_error("store: unreadable schema version");
		return PB_ECORRUPT;
	}
	return PB_OK;
}

/* The schema version, before any other table is opened: an older store's
 * tables may have other flags, which LMDB refuses (MDB_INCOMPATIBLE)
 * without saying why. A store without one (new, or never initialised) is
 * let through. */
static int schema_first(st_txn *t, int create)
{
	MDB_val v;
	int rc = mdb_dbi_open(t->txn, "meta", create ? MDB_CREATE : 0, &t->env->meta);

	if (rc)
		return sti_err(NULL, rc);
	rc = meta_get(t, meta_schema, &v);
	if (rc == PB_ENOTFOUND)
		return create ? PB_OK : PB_ECORRUPT;
	return rc ? rc : check_schema(t);
}

/* The AUDIT_LOG_KEY record naming keys' signing key: record 0, or a
 * rotation. */
static void key_record(Mailroom__AuditRecord *rec, const struct st_keys *keys)
{
	rec->time_ms = pb_now_ms();
	rec->actor = "router";
	rec->event = MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY;
	rec->key.data = (uint8_t *)keys->sign_pk;
	rec->key.len = sizeof(keys->sign_pk);
	rec->key_name = (char *)keys->key_name;
}

/* A new store: schema version, the key, and record 0 naming the key. */
static int init_store(st_txn *t, const struct st_keys *keys)
{
	Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;
	struct st_receipt r;
	uint8_t ver[4];
	int rc;

	if (t->next != 0) {
		pb_error("store: log present but no schema version");
		return PB_ECORRUPT;
	}
	sti_put_be32(ver, ST_SCHEMA_VERSION);
	if ((rc = meta_put(t, meta_schema, ver, sizeof(ver))) ||
	    (rc = meta_put(t, meta_pk, keys->sign_pk, sizeof(keys->sign_pk))) ||
	    (rc = meta_put(t, meta_name, keys->key_name, strlen(keys->key_name))))
		return rc;
	key_record(&rec, keys);
	return st_log_append(t, &rec, &r);
}

/* An existing store must be signed now with this key, or with the
 * previous one (a rotation is then pending), under this name: receipts
 * carry a key id derived from both. */
static int check_key(st_txn *t, st_env *e)
{
	const struct st_keys *keys = &e->keys;
	char have[ST_KEYLABEL_MAX], want[ST_KEYLABEL_MAX], prev[ST_KEYLABEL_MAX];
	MDB_val pk, name;
	int rc;

	if ((rc = meta_get(t, meta_pk, &pk)) || (rc = meta_get(t, meta_name, &name)))
		return rc == PB_ENOTFOUND ? PB_ECORRUPT : rc;
	if (name.mv_size != strlen(keys->key_name) ||
	    memcmp(name.mv_data, keys->key_name, name.mv_size) != 0) {
		pb_error("store: made under another key name (log_origin)");
		return PB_EAUTH;
	}
	if (pk.mv_size != 32)
		return PB_ECORRUPT;
	if (memcmp(pk.mv_data, keys->sign_pk, 32) == 0)
		return PB_OK;
	if (keys->has_prev && memcmp(pk.mv_data, keys->prev_pk, 32) == 0) {
		e->rotating = 1;
		return PB_OK;
	}
	st_key_label(keys->key_name, pk.mv_data, have, sizeof(have));
	st_key_label(keys->key_name, keys->sign_pk, want, sizeof(want));
	if (keys->has_prev) {
		st_key_label(keys->key_name, keys->prev_pk, prev, sizeof(prev));
		pb_error("store: the log is signed by key %s; the signing key is %s and the "
		         "previous signing key %s: neither continues it",
		         have, want, prev);
	} else {
		pb_error("store: the log is signed by key %s, the signing key given is %s", have,
		         want);
	}
	return PB_EAUTH;
}

int st_rotation_pending(const st_env *env)
{
	return env && !env->readonly && env->rotating;
}

int st_log_key(st_txn *t, struct st_logkey *k)
{
	MDB_val pk, name, from, prev;
	int rc;

	if (!t || !k)
		return PB_EINVAL;
	memset(k, 0, sizeof(*k));
	if ((rc = meta_get(t, meta_pk, &pk)) || (rc = meta_get(t, meta_name, &name)))
		return rc == PB_ENOTFOUND ? PB_ECORRUPT : rc;
	if (pk.mv_size != 32 || name.mv_size == 0 || name.mv_size >= sizeof(k->name))
		return PB_ECORRUPT;
	memcpy(k->pk, pk.mv_data, 32);
	memcpy(k->name, name.mv_data, name.mv_size);
	st_key_id(k->name, k->pk, k->key_id);
	/* Stores that never rotated have neither record. */
	rc = meta_get(t, meta_from, &from);
	if (rc == PB_OK && from.mv_size == 8)
		k->from = sti_get_be64(from.mv_data);
	else if (rc != PB_ENOTFOUND)
		return rc ? rc : PB_ECORRUPT;
	rc = meta_get(t, meta_prev, &prev);
	if (rc == PB_OK && prev.mv_size == 32) {
		memcpy(k->prev_pk, prev.mv_data, 32);
		k->has_prev = 1;
	} else if (rc != PB_ENOTFOUND) {
		return rc ? rc : PB_ECORRUPT;
	}
	return PB_OK;
}

int st_log_rotate(st_txn *t, struct st_receipt *out)
{
	Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;
	const struct st_keys *keys;
	uint8_t from[8];
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	if (t->parent)
		return PB_EINVAL;   /* the key in force belongs to the top level */
	if (!t->env->rotating || t->rot_from)
		return PB_ESTATE;
	keys = &t->env->keys;
	key_record(&rec, keys);
	rec.key_from_size = t->next + 1;
	/* Set first: the record itself is the outgoing key's (index < from). */
	t->rot_from = t->next + 1;
	sti_put_be64(from, t->rot_from);
	if ((rc = st_log_append(t, &rec, out)) ||
	    (rc = meta_put(t, meta_pk, keys->sign_pk, sizeof(keys->sign_pk))) ||
	    (rc = meta_put(t, meta_from, from, sizeof(from))) ||
	    (rc = meta_put(t, meta_prev, keys->prev_pk, sizeof(keys->prev_pk)))) {
		t->broken = 1;   /* half a rotation must never commit */
		return rc;
	}
	return PB_OK;
}

static int open_env(st_env *e, const char *dir, size_t map_size_mb)
{
	unsigned flags = MDB_NOTLS | (e->readonly ? MDB_RDONLY : 0);
	int rc;

	if ((rc = mdb_env_create(&e->env)))
		return sti_err(NULL, rc);
	if ((rc = mdb_env_set_maxdbs(e->env, MAX_DBS)) ||
	    (rc = mdb_env_set_maxreaders(e->env, MAX_READERS)))
		return sti_err(NULL, rc);
	if (map_size_mb && (rc = mdb_env_set_mapsize(e->env, map_size_mb << 20)))
		return sti_err(NULL, rc);
	if ((rc = mdb_env_open(e->env, dir, flags, 0600))) {
		pb_error("store: %s: %s", dir, mdb_strerror(rc));
		return sti_err(NULL, rc);
	}
	e->maxkey = (size_t)mdb_env_get_maxkeysize(e->env);
	if (e->maxkey > STI_KEY_MAX)
		e->maxkey = STI_KEY_MAX;
	return PB_OK;
}

static int open_readonly(st_env *e)
{
	MDB_txn *txn;
	st_txn t = {0};
	int rc;

	if ((rc = txn_begin_mdb(e, NULL, MDB_RDONLY, &txn)))
		return rc;
	t.env = e;
	t.txn = txn;
	t.readonly = 1;
	if ((rc = schema_first(&t, 0)) || (rc = open_dbis(e, txn, 0)) || (rc = track_key(&t, 0))) {
		mdb_txn_abort(txn);
		return rc;
	}
	/* Committing keeps the DBI handles for later transactions. */
	return sti_err(NULL, mdb_txn_commit(txn));
}

static int open_writable(st_env *e)
{
	MDB_txn *txn;
	st_txn *t;
	MDB_val v;
	int rc;

	/* DBI handles must come from a transaction that commits before any
	 * st_txn can use them. */
	if ((rc = txn_begin_mdb(e, NULL, 0, &txn)))
		return rc;
	struct st_txn pre = {.env = e, .txn = txn};
	if ((rc = schema_first(&pre, 1)) || (rc = open_dbis(e, txn, MDB_CREATE))) {
		mdb_txn_abort(txn);
		return rc;
	}
	/* The empty DBIs alone are harmless if we stop here: the next open
	 * finds no schema version and an empty log, and starts again. */
	if ((rc = sti_err(NULL, mdb_txn_commit(txn))))
		return rc;
	if ((rc = st_txn_begin(e, NULL, 0, &t)))
		return rc;
	rc = meta_get(t, meta_schema, &v);
	if (rc == PB_ENOTFOUND)
		rc = init_store(t, &e->keys);
	else if (rc == PB_OK && (rc = check_schema(t)) == PB_OK)
		rc = check_key(t, e);
	if (rc == PB_OK && t->next == 0)
		rc = PB_ECORRUPT;   /* a store without its genesis record */
	if (rc == PB_OK)
		rc = track_key(t, 1);
	/* Not needed unless it still signs the log. */
	if (!e->rotating)
		sodium_memzero(e->keys.prev_sk, sizeof(e->keys.prev_sk));
	if (rc) {
		st_txn_abort(t);
		return rc;
	}
	return st_txn_commit(t);
}

int st_open(const char *dir, size_t map_size_mb, int readonly, const struct st_keys *keys,
            st_env **out)
{
	st_env *e;
	int rc;

	*out = NULL;
	if (!dir || (!readonly && (!keys || map_size_mb == 0)) || map_size_mb > (SIZE_MAX >> 20))
		return PB_EINVAL;
	if (sodium_init() < 0)
		return PB_EIO;
	/* The key name is stored and signed: it must be a proper string. */
	if (!readonly && (!memchr(keys->key_name, 0, sizeof(keys->key_name)) || !keys->key_name[0]))
		return PB_EINVAL;
	if (!readonly && (rc = pb_mkdirs(dir)))
		return rc;
	if (!(e = calloc(1, sizeof(*e))))
		return PB_ENOMEM;
	e->readonly = readonly;
	if (!readonly) {
		e->keys = *keys;
		e->has_keys = 1;
	}
	if ((rc = open_env(e, dir, map_size_mb)) ||
	    (rc = readonly ? open_readonly(e) : open_writable(e))) {
		st_close(e);
		return rc;
	}
	*out = e;
	return PB_OK;
}

void st_close(st_env *e)
{
	if (!e)
		return;
	if (e->env)
		mdb_env_close(e->env);
	sodium_memzero(&e->keys, sizeof(e->keys));
	sti_memo_free(e);
	free(e);
}

/* Callers' values live under "app." so they can never overwrite the
 * store's own meta records. */
static int app_meta_key(const char *name, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "app.%s", name);

	return (n < 0 || (size_t)n >= cap || !*name) ? PB_EINVAL : PB_OK;
}

int st_meta_get(st_txn *t, const char *name, uint8_t *buf, size_t cap, size_t *len)
{
	char key[128];
	MDB_val v;
	int rc;

	if (!t || !buf || !len || (rc = app_meta_key(name, key, sizeof(key))))
		return PB_EINVAL;
	if ((rc = meta_get(t, key, &v)))
		return rc;
	*len = v.mv_size;
	if (v.mv_size > cap)
		return PB_ETOOBIG;
	memcpy(buf, v.mv_data, v.mv_size);
	return PB_OK;
}

int st_meta_put(st_txn *t, const char *name, const uint8_t *data, size_t len)
{
	char key[128];
	int rc;

	if (!t || (rc = app_meta_key(name, key, sizeof(key))))
		return PB_EINVAL;
	if ((rc = sti_need_write(t)))
		return rc;
	return meta_put(t, key, data, len);
}
