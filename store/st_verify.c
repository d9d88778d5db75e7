/* The auditor's walk over the log: shape, position, key, record by
 * record, and at each stored checkpoint its signature under the key in
 * force for its size and its root recomputed from the records, stopping
 * at the first failure. The key in force at size s is record 0's, then
 * from s = i + 1 the key a rotation record at i names; the handover
 * checkpoint at i + 1 must carry the outgoing key's signature too, which
 * is what authorises the rotation (README.md, "Key rotation"). */
#include "st_int.h"
#include "mt.h"
#include "pb_err.h"
#include "sn.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *st_verify_fail_str(int fail)
{
	switch (fail) {
	case ST_VERIFY_OK:
		return "ok";
	case ST_VERIFY_MALFORMED:
		return "malformed record";
	case ST_VERIFY_INDEX:
		return "record index differs from its position";
	case ST_VERIFY_CHAIN:
		return "prev_hash does not match the previous record";
	case ST_VERIFY_SIGNATURE:
		return "record not under a valid signed checkpoint";
	case ST_VERIFY_KEY:
		return "missing or untrusted log key, or a bad key rotation";
	case ST_VERIFY_EMPTY:
		return "empty log";
	default:
		return "unknown";
	}
}

/* The walk's view of the keys. */
struct keys {
	const uint8_t *trusted;       /* NULL: record 0's key is taken */
	int trusted_met;              /* trusted is record 0's key or a rotation's */
	uint64_t trusted_at;          /* the record naming it */
	uint8_t pk[32];               /* in force */
	uint64_t from;
	int has_prev;
	uint8_t prev_pk[32];          /* the key the last rotation retired */
};

static int why(struct st_verify_report *rep, int fail, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int why(struct st_verify_report *rep, int fail, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep->detail, sizeof(rep->detail), fmt, ap);
	va_end(ap);
	return fail;
}

/* Record 0 names the key the log starts with. */
static int check_genesis(const Mailroom__AuditRecord *r, struct keys *ks,
                         struct st_verify_report *rep)
{
	if (r->event != MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY || r->key.len != 32 || !r->key.data)
		return why(rep, ST_VERIFY_KEY, "record 0 is not AUDIT_LOG_KEY with a key");
	/* A small-order key would let anyone forge signatures. */
	if (!crypto_core_ed25519_is_valid_point(r->key.data))
		return why(rep, ST_VERIFY_KEY, "record 0 carries a weak public key");
	if (!r->key_name || !*r->key_name || strlen(r->key_name) >= sizeof(rep->key_name))
		return why(rep, ST_VERIFY_KEY, "record 0 names no usable key name");
	if (r->key_from_size != 0)
		return why(rep, ST_VERIFY_KEY, "record 0 carries key_from_size %llu",
		           (unsigned long long)r->key_from_size);
	memcpy(ks->pk, r->key.data, 32);
	memcpy(rep->genesis_pk, r->key.data, 32);
	memcpy(rep->pubkey, r->key.data, 32);
	memcpy(rep->key_name, r->key_name, strlen(r->key_name) + 1);
	if (ks->trusted && memcmp(ks->trusted, r->key.data, 32) == 0)
		ks->trusted_met = 1;
	return ST_VERIFY_OK;
}

/* A later AUDIT_LOG_KEY record at pos: it hands the log to the key it
 * names from pos + 1 on (the handover checkpoint shows the key in force
 * agreed). */
static int rotate(const Mailroom__AuditRecord *r, uint64_t pos, struct keys *ks,
                  struct st_verify_report *rep)
{
	if (r->key.len != 32 || !r->key.data || !crypto_core_ed25519_is_valid_point(r->key.data))
		return why(rep, ST_VERIFY_KEY, "rotation record names no usable public key");
	if (!r->key_name || strcmp(r->key_name, rep->key_name) != 0)
		return why(rep, ST_VERIFY_KEY,
		           "rotation record names the key '%s'; the log's keys are named '%s'",
		           r->key_name ? r->key_name : "", rep->key_name);
	if (!r->actor || strcmp(r->actor, "router") != 0)
		return why(rep, ST_VERIFY_KEY, "rotation record not written by the router");
	if (memcmp(r->key.data, ks->pk, 32) == 0)
		return why(rep, ST_VERIFY_KEY, "rotation record names the key already in force");
	if (r->key_from_size != pos + 1)
		return why(rep, ST_VERIFY_KEY,
		           "rotation record has key_from_size %llu; a rotation at record %llu takes "
		           "effect at %llu",
		           (unsigned long long)r->key_from_size, (unsigned long long)pos,
		           (unsigned long long)(pos + 1));
	memcpy(ks->prev_pk, ks->pk, 32);
	ks->has_prev = 1;
	memcpy(ks->pk, r->key.data, 32);
	ks->from = pos + 1;
	memcpy(rep->pubkey, ks->pk, 32);
	rep->key_from = ks->from;
	rep->rotations++;
	if (ks->trusted && !ks->trusted_met && memcmp(ks->trusted, ks->pk, 32) == 0) {
		ks->trusted_met = 1;
		ks->trusted_at = pos;
	}
	return ST_VERIFY_OK;
}

/* Whether a rotation record names pk: a trusted key that is not record
 * 0's must be, or the answer is "key" at once, before any other finding. */
static int names_key(st_txn *t, const uint8_t pk[32])
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc, found = 0;

	if (mdb_cursor_open(t->txn, t->env->log, &c))
		return 0;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !found;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		Mailroom__AuditRecord *r;
		if (!(r = mailroom__audit_record__unpack(NULL, v.mv_size, v.mv_data)))
			continue;
		found = r->index > 0 && r->event == MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY &&
		        r->key.len == 32 && memcmp(r->key.data, pk, 32) == 0;
		mailroom__audit_record__free_unpacked(r, NULL);
	}
	mdb_cursor_close(c);
	return found;
}

int st_log_each(st_txn *t, int (*fn)(uint64_t index, const uint8_t *data, size_t len, void *arg),
                void *arg)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc, stop = 0;

	if (!t || !fn)
		return PB_EINVAL;
	if ((rc = mdb_cursor_open(t->txn, t->env->log, &c)))
		return sti_err(t, rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !stop;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if (k.mv_size == 8)
			stop = fn(sti_get_be64(k.mv_data), v.mv_data, v.mv_size, arg);
	mdb_cursor_close(c);
	return rc && rc != MDB_NOTFOUND ? sti_err(t, rc) : PB_OK;
}

struct walk {
	st_txn *t;
	struct keys ks;
	struct mt_range fr;
	uint8_t prev[ST_HASH_LEN];
	uint64_t chain_break;          /* first record whose prev_hash fails, or UINT64_MAX */
	uint64_t covered;              /* size of the last checkpoint verified */
};

/* One stored value at position pos. A prev_hash that fails is only noted:
 * whether its record or the one before was changed is for the checkpoint
 * to say. */
static int check_record(struct walk *w, uint64_t pos, const MDB_val *k, const MDB_val *v,
                        struct st_verify_report *rep)
{
	Mailroom__AuditRecord *r;
	uint8_t leaf[MT_HASH_LEN];
	int fail = ST_VERIFY_OK;

	if (v->mv_size == 0)
		return why(rep, ST_VERIFY_MALFORMED, "empty record");
	if (!(r = mailroom__audit_record__unpack(NULL, v->mv_size, v->mv_data)))
		return why(rep, ST_VERIFY_MALFORMED, "does not parse as an AuditRecord");
	if (pos == 0)
		fail = check_genesis(r, &w->ks, rep);
	if (!fail && (r->index != pos || k->mv_size != 8 || sti_get_be64(k->mv_data) != pos))
		fail = why(rep, ST_VERIFY_INDEX, "holds record %llu", (unsigned long long)r->index);
	if (!fail && w->chain_break == UINT64_MAX &&
	    (r->prev_hash.len != ST_HASH_LEN ||
	     sodium_memcmp(r->prev_hash.data, w->prev, ST_HASH_LEN) != 0))
		w->chain_break = pos;
	if (!fail && pos > 0 && r->event == MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY)
		fail = rotate(r, pos, &w->ks, rep);
	mailroom__audit_record__free_unpacked(r, NULL);
	if (fail)
		return fail;
	sti_record_hash(v->mv_data, v->mv_size, w->prev);
	mt_leaf_hash(v->mv_data, v->mv_size, leaf);
	mt_range_add(&w->fr, leaf);
	return ST_VERIFY_OK;
}

/* The checkpoint at size (the walk has read size records): signed by the
 * key in force for that size, by the outgoing key too at a handover, and
 * over the records' root. *bad gets the record to blame. */
static int check_checkpoint(struct walk *w, uint64_t size, const MDB_val *v,
                            struct st_verify_report *rep, uint64_t *bad)
{
	struct sn_checkpoint cp;
	uint8_t root[MT_HASH_LEN];
	char label[ST_KEYLABEL_MAX];

	*bad = size - 1;
	st_key_label(rep->key_name, w->ks.pk, label, sizeof(label));
	if (sn_open_checkpoint(v->mv_data, v->mv_size, rep->key_name, w->ks.pk, &cp) != PB_OK)
		return why(rep, ST_VERIFY_SIGNATURE, "the checkpoint of size %llu is not signed by %s, "
		           "the key in force", (unsigned long long)size, label);
	if (w->ks.has_prev && size == w->ks.from &&
	    sn_open_checkpoint(v->mv_data, v->mv_size, rep->key_name, w->ks.prev_pk, &cp) != PB_OK)
		return why(rep, ST_VERIFY_KEY, "the handover checkpoint of size %llu is not signed by "
		           "the outgoing key: a key cannot authorise itself",
		           (unsigned long long)size);
	if (w->ks.has_prev && w->covered < w->ks.from && size > w->ks.from) {
		*bad = w->ks.from - 1;
		return why(rep, ST_VERIFY_KEY, "no handover checkpoint at size %llu: nothing "
		           "authorises the rotation", (unsigned long long)w->ks.from);
	}
	if (cp.size != size || cp.origin_len != strlen(rep->key_name) ||
	    memcmp(cp.origin, rep->key_name, cp.origin_len) != 0)
		return why(rep, ST_VERIFY_SIGNATURE, "the checkpoint stored at size %llu names "
		           "another size or log", (unsigned long long)size);
	mt_range_root(&w->fr, root);
	if (sodium_memcmp(root, cp.root, MT_HASH_LEN) != 0) {
		/* A changed record breaks the chain at the next one. */
		if (w->chain_break != UINT64_MAX && w->chain_break > w->covered)
			*bad = w->chain_break - 1;
		return why(rep, ST_VERIFY_SIGNATURE, "rewritten: the records up to %llu are not the "
		           "tree the checkpoint of size %llu signs",
		           (unsigned long long)size, (unsigned long long)size);
	}
	if (w->chain_break != UINT64_MAX) {
		*bad = w->chain_break;
		return why(rep, ST_VERIFY_CHAIN, "prev_hash is not the hash of the record before");
	}
	w->covered = size;
	return ST_VERIFY_OK;
}

/* A pinned key must be one of the log's, and have signed a record: a key
 * named by a rotation alone could be anyone's, named by a retired key. */
static void check_trusted(const struct keys *ks, uint64_t covered, struct st_verify_report *rep)
{
	if (!ks->trusted)
		return;
	if (!ks->trusted_met) {
		rep->fail = why(rep, ST_VERIFY_KEY, "the trusted key is neither record 0's nor "
		                                    "one a rotation brought in");
		rep->bad_index = 0;
	} else if (ks->trusted_at && covered < ks->trusted_at + 1) {
		rep->fail = why(rep, ST_VERIFY_KEY, "the trusted key has signed no checkpoint yet");
		rep->bad_index = ks->trusted_at;
	}
}

/* Checkpoints in size order beside the records: cps is positioned on the
 * next one not reached yet (rc MDB_NOTFOUND when none is left). */
int st_verify(st_env *env, const uint8_t *trusted_pk, struct st_verify_report *rep)
{
	struct walk *w;
	MDB_cursor *c, *cc;
	MDB_val k, v, ck, cv;
	uint64_t pos = 0, bad = 0, beyond;
	int rc, crc, fail = ST_VERIFY_OK;

	if (!env || !rep)
		return PB_EINVAL;
	memset(rep, 0, sizeof(*rep));
	if (sodium_init() < 0)
		return PB_EIO;
	if (trusted_pk && !crypto_core_ed25519_is_valid_point(trusted_pk)) {
		rep->fail = why(rep, ST_VERIFY_KEY, "the trusted key is weak");
		return PB_OK;
	}
	if (!(w = calloc(1, sizeof(*w))))
		return PB_ENOMEM;
	w->ks.trusted = trusted_pk;
	w->chain_break = UINT64_MAX;
	if ((rc = st_txn_begin(env, NULL, 1, &w->t))) {
		free(w);
		return rc;
	}
	if ((rc = mdb_cursor_open(w->t->txn, env->log, &c))) {
		st_txn_abort(w->t);
		free(w);
		return sti_err(NULL, rc);
	}
	if ((rc = mdb_cursor_open(w->t->txn, env->checkpoint, &cc))) {
		mdb_cursor_close(c);
		st_txn_abort(w->t);
		free(w);
		return sti_err(NULL, rc);
	}
	crc = mdb_cursor_get(cc, &ck, &cv, MDB_FIRST);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), pos++) {
		rep->records++;
		bad = pos;
		if ((fail = check_record(w, pos, &k, &v, rep)))
			break;
		if (pos == 0 && trusted_pk && !w->ks.trusted_met && !names_key(w->t, trusted_pk)) {
			fail = why(rep, ST_VERIFY_KEY, "the trusted key is neither record 0's nor one "
			                               "a rotation brings in");
			break;
		}
		memcpy(rep->head_hash, w->prev, ST_HASH_LEN);
		/* Checkpoints below this size were stored by no writer of ours. */
		while (crc == 0 && ck.mv_size == 8 && sti_get_be64(ck.mv_data) <= pos)
			crc = mdb_cursor_get(cc, &ck, &cv, MDB_NEXT);
		if (crc == 0 && ck.mv_size == 8 && sti_get_be64(ck.mv_data) == pos + 1) {
			if ((fail = check_checkpoint(w, pos + 1, &cv, rep, &bad)))
				break;
			crc = mdb_cursor_get(cc, &ck, &cv, MDB_NEXT);
		}
	}
	beyond = crc == 0 && ck.mv_size == 8 ? sti_get_be64(ck.mv_data) : 0;
	mdb_cursor_close(cc);
	mdb_cursor_close(c);
	st_txn_abort(w->t);
	if (rc && rc != MDB_NOTFOUND) {
		free(w);
		return sti_err(NULL, rc);
	}
	if (fail) {
		rep->fail = fail;
		rep->bad_index = bad;
	} else if (rep->records == 0) {
		rep->fail = ST_VERIFY_EMPTY;
	} else if (beyond > rep->records) {
		rep->fail = why(rep, ST_VERIFY_SIGNATURE, "a checkpoint of size %llu, the log has %llu "
		                "records: its tail is gone",
		                (unsigned long long)beyond,
		                (unsigned long long)rep->records);
		rep->bad_index = rep->records;
	} else if (w->covered < rep->records) {
		rep->fail = why(rep, ST_VERIFY_SIGNATURE, "records %llu to %llu are under no signed "
		                "checkpoint", (unsigned long long)w->covered,
		                (unsigned long long)(rep->records - 1));
		rep->bad_index = w->covered;
	} else {
		check_trusted(&w->ks, w->covered, rep);
	}
	free(w);
	return PB_OK;
}
