/* Messages, their lookup indexes, queues, counters, leases and deadlines.
 * Key layouts are in README.md. */
#include "st_int.h"
#include "pb_err.h"
#include "pb_id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_TAIL (1 + 4 + 8 + 16)      /* NUL, prio, due, id */
#define LEASE_KEY (8 + 16)
#define DEADLINE_DUP (16 + 1)          /* id, clock: the value under a due time */

/* ---- messages ---- */

static int track_find(st_txn *t, const char *code, int cached, MDB_val *v);

/* The access-key hash the tracking-code index holds for m, if it holds m:
 * NULL otherwise (a code from outside, or none). */
static const uint8_t *indexed_key_hash(st_txn *t, const char *code, const uint8_t id[16])
{
	MDB_val v;

	if (!code || !code[0] || track_find(t, code, 1, &v) != PB_OK || v.mv_size != 16 + 32 ||
	    memcmp(v.mv_data, id, 16) != 0)
		return NULL;
	return (const uint8_t *)v.mv_data + 16;
}

/* The value is the StoredMessage without what the key and the tracking
 * code's index already hold: the id, and the access-key hash when the
 * index has the same (a status lookup reads it there, one read whatever
 * the code). Together 52 bytes, which puts 8 messages of a citizen's
 * usual size in a page rather than 7. Put leaves them out only when they
 * can be read back, and every read puts them back. protobuf-c copies
 * what it keeps, so the message outlives the transaction. */
static int msg_unpack(st_txn *t, const MDB_val *k, const MDB_val *v,
                      Mailroom__StoredMessage **out)
{
	static const uint8_t none[32];
	Mailroom__StoredMessage *m;
	const uint8_t *kh;
	int rc = PB_ENOMEM;

	*out = NULL;
	if (k->mv_size != 16 || !(m = mailroom__stored_message__unpack(NULL, v->mv_size, v->mv_data)))
		return PB_ECORRUPT;
	if (m->id.len != 0) {
		rc = PB_ECORRUPT;
		goto fail;
	}
	if (!(m->id.data = malloc(16)))
		goto fail;
	memcpy(m->id.data, k->mv_data, 16);
	m->id.len = 16;
	if (m->access_key_hash.len == 0 && (kh = indexed_key_hash(t, m->tracking_code, m->id.data)) &&
	    memcmp(kh, none, 32) != 0) {
		if (!(m->access_key_hash.data = malloc(32)))
			goto fail;
		memcpy(m->access_key_hash.data, kh, 32);
		m->access_key_hash.len = 32;
	}
	*out = m;
	return PB_OK;
fail:
	mailroom__stored_message__free_unpacked(m, NULL);
	return rc;
}

int st_msg_get(st_txn *t, const uint8_t id[16], Mailroom__StoredMessage **out)
{
	MDB_val k = {16, (void *)id}, v;
	int rc;

	*out = NULL;
	if (!t)
		return PB_EINVAL;
	if ((rc = mdb_get(t->txn, t->env->msg, &k, &v)))
		return sti_err(t, rc);
	return msg_unpack(t, &k, &v, out);
}

void st_msg_free(Mailroom__StoredMessage *m)
{
	if (m)
		mailroom__stored_message__free_unpacked(m, NULL);
}

/* The provisional index (README.md, "Schema"): m's id while one of its
 * clocks is provisional and not stopped, so a new calendar finds them
 * without reading every message. Most messages never are: for them this
 * is one delete that finds nothing, mostly in an empty table. */
static int provisional_keep(st_txn *t, const Mailroom__StoredMessage *m, MDB_val *k)
{
	MDB_val v = {0, NULL};
	int open = 0, rc;

	for (size_t i = 0; i < m->n_clocks; i++)
		open |= m->clocks[i]->provisional && !m->clocks[i]->stopped;
	if (!open) {
		rc = mdb_del(t->txn, t->env->provisional, k, NULL);
		return rc == MDB_NOTFOUND ? PB_OK : sti_err(t, rc);
	}
	/* Ids start with their time: a new one appends. One already there
	 * is left as it is, its page unwritten. */
	rc = sti_put_rising(t->txn, t->env->provisional, k, &v, MDB_NOOVERWRITE);
	return rc == MDB_KEYEXIST ? PB_OK : sti_err(t, rc);
}

int st_msg_put(st_txn *t, const Mailroom__StoredMessage *m)
{
	MDB_val k, v;
	size_t len;
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	if (!m || m->id.len != 16 || !m->id.data)
		return PB_EINVAL;
	k.mv_size = 16;
	k.mv_data = m->id.data;
	/* A shallow copy without what msg_unpack puts back. */
	static const uint8_t none[32];
	const uint8_t *kh = indexed_key_hash(t, m->tracking_code, m->id.data);
	Mailroom__StoredMessage bare = *m;
	bare.id.len = 0;
	bare.id.data = NULL;
	if (kh && (m->access_key_hash.len == 32 ? memcmp(kh, m->access_key_hash.data, 32) == 0
	                                        : m->access_key_hash.len == 0 && !memcmp(kh, none, 32)))
		bare.access_key_hash.len = 0;
	len = mailroom__stored_message__get_packed_size(&bare);
	v.mv_size = len;
	v.mv_data = NULL;
	/* Ids start with their time, so a new message is mostly the last. */
	if ((rc = sti_put_rising(t->txn, t->env->msg, &k, &v, MDB_RESERVE)))
		return sti_err(t, rc);
	if (mailroom__stored_message__pack(&bare, v.mv_data) != len)
		return PB_ECORRUPT;
	return provisional_keep(t, m, &k);
}

int sti_each(st_txn *t, MDB_dbi dbi, int (*fn)(const MDB_val *k, const MDB_val *v, void *arg),
             void *arg)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc, got;

	if ((rc = mdb_cursor_open(t->txn, dbi, &c)))
		return sti_err(t, rc);
	for (got = mdb_cursor_get(c, &k, &v, MDB_FIRST); got == 0;
	     got = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if ((rc = fn(&k, &v, arg)))
			break;
	mdb_cursor_close(c);
	if (rc)
		return rc == STI_STOP ? PB_OK : rc;
	return got == MDB_NOTFOUND ? PB_OK : sti_err(t, got);
}

/* A caller's walk and what it is handed. */
struct each_call {
	st_txn *t;
	int (*msg)(const Mailroom__StoredMessage *m, void *arg);
	int (*id)(const uint8_t id[16], void *arg);
	void *arg;
};

static int msg_one(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct each_call *e = arg;
	Mailroom__StoredMessage *m;
	int rc, stop;

	if ((rc = msg_unpack(e->t, k, v, &m)))
		return rc;
	stop = e->msg(m, e->arg);
	mailroom__stored_message__free_unpacked(m, NULL);
	return stop ? STI_STOP : 0;
}

int st_msg_each(st_txn *t, int (*fn)(const Mailroom__StoredMessage *m, void *arg), void *arg)
{
	struct each_call e = {t, fn, NULL, arg};

	if (!t || !fn)
		return PB_EINVAL;
	return sti_each(t, t->env->msg, msg_one, &e);
}

static int id_one(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct each_call *e = arg;

	if (k->mv_size != 16 || v->mv_size != 0)
		return PB_ECORRUPT;
	return e->id(k->mv_data, e->arg) ? STI_STOP : 0;
}

int st_provisional_each(st_txn *t, int (*fn)(const uint8_t id[16], void *arg), void *arg)
{
	struct each_call e = {t, NULL, fn, arg};

	if (!t || !fn)
		return PB_EINVAL;
	return sti_each(t, t->env->provisional, id_one, &e);
}

/* ---- string -> id indexes; a taken name keeps its first id ---- */

static int str_key(st_txn *t, const char *s, MDB_val *k)
{
	size_t len;

	if (!t || !s)
		return PB_EINVAL;
	len = strlen(s);
	if (len == 0 || len > t->env->maxkey)
		return PB_EINVAL;
	k->mv_size = len;
	k->mv_data = (void *)s;
	return PB_OK;
}

/* Tracking codes map to id || access-key hash (zeros: no citizen access),
 * so a status lookup is one read whether or not the key matches. */
#define TRACK_VAL (16 + 32)

/* The issued code's entry, if code is one the sequence gave: *found 0
 * when it is not (not issued, or not a sequence code at all). */
/* pb_track_to_seq is ten keyed hashes, and every read and write of a
 * message turns its code back into its seq (msg_unpack), so each thread
 * keeps the codes it turned last. By the permutation's key, which is all
 * the answer depends on. Status lookups do not use it: their time must
 * not tell a code used lately from another. */
#define SEQ_CACHE 256
static _Thread_local struct {
	uint8_t key[32];
	char code[PB_TRACK_TEXT_LEN + 1];
	uint64_t seq;
} seq_cache[SEQ_CACHE];

static uint32_t seq_slot(const char *code)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (; *code; code++)
		h = (h ^ (uint8_t)*code) * 16777619u;
	return h % SEQ_CACHE;
}

static void seq_remember(const st_env *e, const char *code, uint64_t seq)
{
	uint32_t h = seq_slot(code);

	if (strlen(code) > PB_TRACK_TEXT_LEN)
		return;
	memcpy(seq_cache[h].key, e->track_key, sizeof(e->track_key));
	strcpy(seq_cache[h].code, code);
	seq_cache[h].seq = seq;
}

static int code_seq(const st_env *e, const char *code, int cached, uint64_t *seq)
{
	uint32_t h = seq_slot(code);
	int rc;

	if (cached && strcmp(seq_cache[h].code, code) == 0 &&
	    memcmp(seq_cache[h].key, e->track_key, sizeof(e->track_key)) == 0) {
		*seq = seq_cache[h].seq;
		return PB_OK;
	}
	if ((rc = pb_track_to_seq(e->track_key, code, seq)))
		return rc;
	if (cached)
		seq_remember(e, code, *seq);
	return PB_OK;
}

static int seq_get(st_txn *t, const char *code, int cached, MDB_val *v, int *found)
{
	uint8_t kb[8];
	MDB_val k = {sizeof(kb), kb};
	uint64_t seq;
	int rc;

	*found = 0;
	if (!t->env->has_trackseq || code_seq(t->env, code, cached, &seq) != PB_OK)
		return PB_OK;
	sti_put_be64(kb, seq);
	if ((rc = mdb_get(t->txn, t->env->trackseq, &k, v)) == MDB_NOTFOUND)
		return PB_OK;
	if (rc)
		return sti_err(t, rc);
	if (v->mv_size != TRACK_VAL)
		return PB_ECORRUPT;
	*found = 1;
	return PB_OK;
}

static void track_val(uint8_t val[TRACK_VAL], const uint8_t id[16], const uint8_t *key_hash)
{
	memcpy(val, id, 16);
	if (key_hash)
		memcpy(val + 16, key_hash, 32);
	else
		memset(val + 16, 0, 32);
}

int st_track_put_key(st_txn *t, const char *code, const uint8_t id[16], const uint8_t *key_hash)
{
	uint8_t val[TRACK_VAL];
	MDB_val k, v = {sizeof(val), val}, had;
	int rc, issued;

	if ((rc = sti_need_write(t)) || (rc = str_key(t, code, &k)) ||
	    (rc = seq_get(t, code, 0, &had, &issued)))
		return rc;
	if (issued)
		return PB_EEXIST;
	track_val(val, id, key_hash);
	return sti_err(t, mdb_put(t->txn, t->env->track, &k, &v, MDB_NOOVERWRITE));
}

int st_track_issue(st_txn *t, const uint8_t id[16], const uint8_t *key_hash, char *code)
{
	uint8_t val[TRACK_VAL], kb[8];
	MDB_val k = {sizeof(kb), kb}, v = {sizeof(val), val}, ck, old;
	MDB_cursor *c;
	uint64_t seq = 0;
	int rc;

	if ((rc = sti_need_write(t)) || !id || !code)
		return rc ? rc : PB_EINVAL;
	if (!t->env->has_trackseq)
		return PB_ESTATE;
	if ((rc = mdb_cursor_open(t->txn, t->env->trackseq, &c)))
		return sti_err(t, rc);
	MDB_val lk, lv;
	rc = mdb_cursor_get(c, &lk, &lv, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == 0) {
		if (lk.mv_size != 8)
			return PB_ECORRUPT;
		seq = sti_get_be64(lk.mv_data) + 1;
	} else if (rc != MDB_NOTFOUND) {
		return sti_err(t, rc);
	}
	/* A code a store of the random-code era handed out is skipped. */
	for (;; seq++) {
		if ((rc = pb_track_from_seq(t->env->track_key, seq, code)))
			return PB_EFULL;
		if ((rc = str_key(t, code, &ck)))
			return rc;
		if ((rc = mdb_get(t->txn, t->env->track, &ck, &old)) == MDB_NOTFOUND)
			break;
		if (rc)
			return sti_err(t, rc);
	}
	sti_put_be64(kb, seq);
	track_val(val, id, key_hash);
	/* Issue order is key order: the index only ever appends. */
	rc = mdb_put(t->txn, t->env->trackseq, &k, &v, MDB_APPEND);
	if (rc == 0)
		seq_remember(t->env, code, seq);   /* its message is put next */
	return rc == MDB_KEYEXIST ? PB_ECORRUPT : sti_err(t, rc);
}

int st_track_put(st_txn *t, const char *code, const uint8_t id[16])
{
	return st_track_put_key(t, code, id, NULL);
}

/* The code's entry, from the sequence's index or the other; cached: may
 * use the thread's cache of seqs (code_seq). */
static int track_find(st_txn *t, const char *code, int cached, MDB_val *v)
{
	MDB_val k;
	int rc, issued;

	if ((rc = str_key(t, code, &k)) || (rc = seq_get(t, code, cached, v, &issued)))
		return rc;
	if (!issued && (rc = mdb_get(t->txn, t->env->track, &k, v)))
		return sti_err(t, rc);
	return v->mv_size == TRACK_VAL ? PB_OK : PB_ECORRUPT;
}

int st_track_lookup(st_txn *t, const char *code, uint8_t id[16], uint8_t key_hash[32])
{
	MDB_val v;
	int rc;

	/* Defined outputs on every path: callers compare key_hash regardless. */
	memset(id, 0, 16);
	memset(key_hash, 0, 32);
	if ((rc = track_find(t, code, 0, &v)))
		return rc;
	memcpy(id, v.mv_data, 16);
	memcpy(key_hash, (const uint8_t *)v.mv_data + 16, 32);
	return PB_OK;
}

int st_track_get(st_txn *t, const char *code, uint8_t id[16])
{
	uint8_t hash[32];

	return st_track_lookup(t, code, id, hash);
}

/* LMDB splits a full page in half when a key goes in, and a key that
 * rises past it never comes back to fill the left half: a table that
 * mostly grows at its end would stay half empty. An MDB_APPEND put
 * splits at the end instead. It refuses (MDB_KEYEXIST, nothing changed)
 * a key not past the last, which then takes the ordinary path. */
int sti_put_rising(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v, unsigned flags)
{
	int rc = mdb_put(txn, dbi, k, v, flags | MDB_APPEND);

	return rc == MDB_KEYEXIST ? mdb_put(txn, dbi, k, v, flags) : rc;
}

/* External references map to the id alone. */
int st_extref_put(st_txn *t, const char *ref, const uint8_t id[16])
{
	MDB_val k, v = {16, (void *)id};
	int rc;

	if ((rc = sti_need_write(t)) || (rc = str_key(t, ref, &k)))
		return rc;
	return sti_err(t, mdb_put(t->txn, t->env->extref, &k, &v, MDB_NOOVERWRITE));
}

int st_extref_get(st_txn *t, const char *ref, uint8_t id[16])
{
	MDB_val k, v;
	int rc;

	if ((rc = str_key(t, ref, &k)))
		return rc;
	if ((rc = mdb_get(t->txn, t->env->extref, &k, &v)))
		return sti_err(t, rc);
	if (v.mv_size != 16)
		return PB_ECORRUPT;
	memcpy(id, v.mv_data, 16);
	return PB_OK;
}

/* ---- counters: name -> be64 two's complement ---- */

int st_counter_get(st_txn *t, const char *name, int64_t *val)
{
	MDB_val k, v;
	int rc;

	/* Defined on every path: a caller that checks only rc (sti_err maps
	 * LMDB codes in another file) never reads an unset value. */
	*val = 0;
	if ((rc = str_key(t, name, &k)))
		return rc;
	rc = mdb_get(t->txn, t->env->counters, &k, &v);
	if (rc == MDB_NOTFOUND)
		return PB_OK;   /* a counter never touched reads zero */
	if (rc)
		return sti_err(t, rc);
	if (v.mv_size != 8)
		return PB_ECORRUPT;
	*val = (int64_t)sti_get_be64(v.mv_data);
	return PB_OK;
}

int st_counter_add(st_txn *t, const char *name, int64_t delta)
{
	uint8_t buf[8];
	MDB_val k, v = {sizeof(buf), buf};
	int64_t cur;
	int rc;

	if ((rc = sti_need_write(t)) || (rc = st_counter_get(t, name, &cur)))
		return rc;
	/* Unsigned arithmetic: wraps instead of undefined behaviour. */
	sti_put_be64(buf, (uint64_t)cur + (uint64_t)delta);
	if ((rc = str_key(t, name, &k)))
		return rc;
	return sti_err(t, mdb_put(t->txn, t->env->counters, &k, &v, 0));
}

/* ---- queues: name NUL be32 prio, time due, id -> empty ---- */

static int depth_name(st_txn *t, const char *queue, char *buf, size_t len)
{
	int n = snprintf(buf, len, "q.%s.depth", queue);

	if (n < 0 || (size_t)n >= len || (size_t)n > t->env->maxkey)
		return PB_EINVAL;
	return PB_OK;
}

/* buf holds STI_KEY_MAX bytes; the NUL keeps "a" from matching "ab". */
static int queue_prefix(st_txn *t, const char *queue, uint8_t *buf, size_t *len)
{
	size_t n;

	if (!t || !queue)
		return PB_EINVAL;
	n = strlen(queue);
	if (n == 0 || n + QUEUE_TAIL > t->env->maxkey)
		return PB_EINVAL;
	memcpy(buf, queue, n + 1);
	*len = n + 1;
	return PB_OK;
}

static int queue_key(st_txn *t, const char *queue, const struct st_qpos *p, uint8_t *buf,
                     MDB_val *k)
{
	size_t n;
	int rc;

	if (!p)
		return PB_EINVAL;
	if ((rc = queue_prefix(t, queue, buf, &n)))
		return rc;
	sti_put_be32(buf + n, p->prio);
	sti_put_time(buf + n + 4, p->due_ms);
	memcpy(buf + n + 12, p->id, 16);
	k->mv_size = n + 28;
	k->mv_data = buf;
	return PB_OK;
}

int st_queue_push(st_txn *t, const char *queue, const struct st_qpos *p)
{
	uint8_t buf[STI_KEY_MAX];
	char cname[STI_KEY_MAX + 1];
	MDB_val k, v = {0, NULL};
	int rc;

	if ((rc = sti_need_write(t)) || (rc = queue_key(t, queue, p, buf, &k)) ||
	    (rc = depth_name(t, queue, cname, sizeof(cname))))
		return rc;
	if ((rc = sti_put_rising(t->txn, t->env->queue, &k, &v, MDB_NOOVERWRITE)))
		return sti_err(t, rc);
	return st_counter_add(t, cname, 1);
}

int st_queue_remove(st_txn *t, const char *queue, const struct st_qpos *p)
{
	uint8_t buf[STI_KEY_MAX];
	char cname[STI_KEY_MAX + 1];
	MDB_val k;
	int rc;

	if ((rc = sti_need_write(t)) || (rc = queue_key(t, queue, p, buf, &k)) ||
	    (rc = depth_name(t, queue, cname, sizeof(cname))))
		return rc;
	if ((rc = mdb_del(t->txn, t->env->queue, &k, NULL)))
		return sti_err(t, rc);
	return st_counter_add(t, cname, -1);
}

int st_queue_first(st_txn *t, const char *queue, struct st_qpos *p)
{
	uint8_t buf[STI_KEY_MAX];
	MDB_cursor *c;
	MDB_val k, v;
	size_t n;
	int rc;

	if (!p)
		return PB_EINVAL;
	if ((rc = queue_prefix(t, queue, buf, &n)))
		return rc;
	k.mv_size = n;
	k.mv_data = buf;
	if ((rc = mdb_cursor_open(t->txn, t->env->queue, &c)))
		return sti_err(t, rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	mdb_cursor_close(c);
	if (rc)
		return sti_err(t, rc);
	/* The first key at or after "name\0" may belong to the next queue. */
	if (k.mv_size < n || memcmp(k.mv_data, buf, n) != 0)
		return PB_ENOTFOUND;
	if (k.mv_size != n + 28)
		return PB_ECORRUPT;
	const uint8_t *tail = (const uint8_t *)k.mv_data + n;
	p->prio = sti_get_be32(tail);
	p->due_ms = sti_get_time(tail + 4);
	memcpy(p->id, tail + 12, 16);
	return PB_OK;
}

int st_queue_depth(st_txn *t, const char *queue, uint64_t *n)
{
	char cname[STI_KEY_MAX + 1];
	int64_t v;
	int rc;

	if (!t || !queue || !n)
		return PB_EINVAL;
	if ((rc = depth_name(t, queue, cname, sizeof(cname))) ||
	    (rc = st_counter_get(t, cname, &v)))
		return rc;
	if (v < 0)
		return PB_ECORRUPT;
	*n = (uint64_t)v;
	return PB_OK;
}

/* ---- leases: time expires, id -> empty ---- */

static void lease_key(uint8_t buf[LEASE_KEY], int64_t expires_ms, const uint8_t id[16])
{
	sti_put_time(buf, expires_ms);
	memcpy(buf + 8, id, 16);
}

int st_lease_put(st_txn *t, int64_t expires_ms, const uint8_t id[16])
{
	uint8_t buf[LEASE_KEY];
	MDB_val k = {sizeof(buf), buf}, v = {0, NULL};
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	lease_key(buf, expires_ms, id);
	return sti_err(t, mdb_put(t->txn, t->env->lease, &k, &v, 0));
}

int st_lease_del(st_txn *t, int64_t expires_ms, const uint8_t id[16])
{
	uint8_t buf[LEASE_KEY];
	MDB_val k = {sizeof(buf), buf};
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	lease_key(buf, expires_ms, id);
	return sti_err(t, mdb_del(t->txn, t->env->lease, &k, NULL));
}

/* The first entry of a time-ordered index (time || id || ...) if its time
 * has come: leases and deadlines are both served this way. A lease's key
 * is time || id; a deadline's is the time alone, with id || clock its
 * (duplicate) value, so *rest points at the id in either. */
static int first_due(st_txn *t, MDB_dbi dbi, size_t keylen, size_t vallen, int64_t now_ms,
                     int64_t *when, uint8_t id[16], const uint8_t **rest)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	*rest = NULL;   /* set on every path, as st_counter_get's value */
	if ((rc = mdb_cursor_open(t->txn, dbi, &c)))
		return sti_err(t, rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	mdb_cursor_close(c);
	if (rc)
		return sti_err(t, rc);
	if (k.mv_size != keylen || v.mv_size != vallen)
		return PB_ECORRUPT;
	*when = sti_get_time(k.mv_data);
	if (*when > now_ms)
		return PB_ENOTFOUND;
	*rest = vallen ? v.mv_data : (const uint8_t *)k.mv_data + 8;
	memcpy(id, *rest, 16);
	return PB_OK;
}

int st_lease_first_expired(st_txn *t, int64_t now_ms, int64_t *expires_ms, uint8_t id[16])
{
	const uint8_t *rest;

	if (!t || !expires_ms)
		return PB_EINVAL;
	return first_due(t, t->env->lease, LEASE_KEY, 0, now_ms, expires_ms, id, &rest);
}

/* ---- deadlines: time due -> id, clock (sorted fixed-size duplicates) ----
 *
 * Many entries share a due time (a working day's end), so each time is
 * kept once with its entries packed 17 bytes apiece beneath it, rather
 * than 25-byte keys with a node header each. */

static void deadline_entry(uint8_t kb[8], uint8_t vb[DEADLINE_DUP], int64_t due_ms,
                           const uint8_t id[16], uint8_t clock)
{
	sti_put_time(kb, due_ms);
	memcpy(vb, id, 16);
	vb[16] = clock;
}

int st_deadline_put(st_txn *t, int64_t due_ms, const uint8_t id[16], uint8_t clock)
{
	uint8_t kb[8], vb[DEADLINE_DUP];
	MDB_val k = {sizeof(kb), kb}, v = {sizeof(vb), vb}, ck = k, cv;
	MDB_cursor *c;
	unsigned flags = 0;
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	deadline_entry(kb, vb, due_ms, id, clock);
	if ((rc = mdb_cursor_open(t->txn, t->env->deadline, &c)))
		return sti_err(t, rc);
	/* Ids start with their time, so an entry is mostly the last of its
	 * due time: appended there, the duplicates' pages split at the end and
	 * stay full. A new due time goes in as any key (sti_put_rising). */
	rc = mdb_cursor_get(c, &ck, &cv, MDB_SET_KEY);
	if (rc == 0)
		rc = mdb_cursor_get(c, &ck, &cv, MDB_LAST_DUP);
	mdb_cursor_close(c);
	if (rc == 0 && cv.mv_size == DEADLINE_DUP && memcmp(vb, cv.mv_data, DEADLINE_DUP) > 0)
		flags = MDB_APPENDDUP;
	else if (rc != 0 && rc != MDB_NOTFOUND)
		return sti_err(t, rc);
	if (rc == MDB_NOTFOUND)
		return sti_err(t, sti_put_rising(t->txn, t->env->deadline, &k, &v, 0));
	/* An entry already there is left as it is: put is idempotent. */
	return sti_err(t, mdb_put(t->txn, t->env->deadline, &k, &v, flags));
}

int st_deadline_del(st_txn *t, int64_t due_ms, const uint8_t id[16], uint8_t clock)
{
	uint8_t kb[8], vb[DEADLINE_DUP];
	MDB_val k = {sizeof(kb), kb}, v = {sizeof(vb), vb};
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	deadline_entry(kb, vb, due_ms, id, clock);
	return sti_err(t, mdb_del(t->txn, t->env->deadline, &k, &v));
}

int st_deadline_first_due(st_txn *t, int64_t now_ms, int64_t *due_ms, uint8_t id[16],
                          uint8_t *clock)
{
	const uint8_t *rest;
	int rc;

	if (!t || !due_ms || !clock)
		return PB_EINVAL;
	if ((rc = first_due(t, t->env->deadline, 8, DEADLINE_DUP, now_ms, due_ms, id, &rest)))
		return rc;
	*clock = rest[16];
	return PB_OK;
}

/* ---- applicants: hash(16) || be64 received_ms || id(16) -> "" ----
 *
 * The key keeps the first half of the keyed hash: 128 bits, which no two
 * people's identities or contacts will share by accident (as st_idem.c),
 * and 16 bytes less per message. */

#define APPL_HASH 16
#define APPL_KEY_LEN (APPL_HASH + 8 + 16)

int st_applicant_add(st_txn *t, const uint8_t hash[ST_HASH_LEN], int64_t received_ms,
                     const uint8_t id[16])
{
	uint8_t key[APPL_KEY_LEN];
	MDB_val k = {sizeof(key), key}, v = {0, (void *)""};
	int rc;

	if ((rc = sti_need_write(t)))
		return rc;
	memcpy(key, hash, APPL_HASH);
	sti_put_be64(key + APPL_HASH, (uint64_t)received_ms);
	memcpy(key + APPL_HASH + 8, id, 16);
	return sti_err(t, sti_put_rising(t->txn, t->env->applicant, &k, &v, 0));
}

int st_applicant_each(st_txn *t, const uint8_t hash[ST_HASH_LEN], int64_t since_ms,
                      int64_t until_ms, size_t max,
                      int (*fn)(const uint8_t id[16], int64_t received_ms, void *arg), void *arg)
{
	uint8_t probe[APPL_KEY_LEN];
	MDB_cursor *c;
	MDB_val k, v;
	size_t seen = 0;
	int rc, r = 0;

	if ((rc = mdb_cursor_open(t->txn, t->env->applicant, &c)))
		return sti_err(t, rc);
	/* Newest first: start past the last key received by until_ms and walk
	 * back. */
	memcpy(probe, hash, APPL_HASH);
	sti_put_be64(probe + APPL_HASH, (uint64_t)until_ms);
	memset(probe + APPL_HASH + 8, 0xff, sizeof(probe) - APPL_HASH - 8);
	k.mv_size = sizeof(probe);
	k.mv_data = probe;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	rc = rc == MDB_NOTFOUND ? mdb_cursor_get(c, &k, &v, MDB_LAST)
	                        : mdb_cursor_get(c, &k, &v, MDB_PREV);
	for (; rc == 0 && seen < max; rc = mdb_cursor_get(c, &k, &v, MDB_PREV), seen++) {
		if (k.mv_size != APPL_KEY_LEN || memcmp(k.mv_data, hash, APPL_HASH) != 0)
			break;
		int64_t at = (int64_t)sti_get_be64((const uint8_t *)k.mv_data + APPL_HASH);
		if (at < since_ms)
			break;
		if ((r = fn((const uint8_t *)k.mv_data + APPL_HASH + 8, at, arg)))
			break;
	}
	mdb_cursor_close(c);
	if (r)
		return r;
	return rc == 0 || rc == MDB_NOTFOUND ? PB_OK : sti_err(t, rc);
}
