/* The auditor's walk over the log: shape, position, chain, key, signature,
 * record by record, stopping at the first failure. Each record is checked
 * under the key in force at its index: record 0's, then from index i + 1
 * the key a rotation record at i names (README.md, "Key rotation"). */
#include "st_int.h"
#include "pb_err.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
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
		return "bad signature";
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

/* A signature that fails under the key in force: say whose it is when it
 * is one of the log's other keys. */
static int bad_signature(const Mailroom__AuditRecord *r, uint64_t pos, const uint8_t *body,
                         size_t blen, const struct keys *ks, struct st_verify_report *rep)
{
	const uint8_t *sig = body + blen;
	char cur[ST_KEYLABEL_MAX], other[ST_KEYLABEL_MAX];

	st_key_label(rep->key_name, ks->pk, cur, sizeof(cur));
	if (pos > 0 && r->event == MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY && r->key.len == 32 &&
	    crypto_core_ed25519_is_valid_point(r->key.data) &&
	    crypto_sign_verify_detached(sig, body, blen, r->key.data) == 0) {
		st_key_label(rep->key_name, r->key.data, other, sizeof(other));
		return why(rep, ST_VERIFY_KEY,
		           "rotation record signed by the key it names (%s), not by %s, the key in "
		           "force: a key cannot authorise itself",
		           other, cur);
	}
	if (ks->has_prev && crypto_sign_verify_detached(sig, body, blen, ks->prev_pk) == 0) {
		st_key_label(rep->key_name, ks->prev_pk, other, sizeof(other));
		return why(rep, ST_VERIFY_SIGNATURE,
		           "signed by the retired key %s; %s signs from record %llu on", other, cur,
		           (unsigned long long)ks->from);
	}
	return why(rep, ST_VERIFY_SIGNATURE, "bad signature under %s, the key in force", cur);
}

/* A later AUDIT_LOG_KEY record at pos, already shown signed by the key in
 * force: it hands the log to the key it names from pos + 1 on. */
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
		if (v.mv_size < ST_SIG_LEN ||
		    !(r = mailroom__audit_record__unpack(NULL, v.mv_size - ST_SIG_LEN, v.mv_data)))
			continue;
		found = r->index > 0 && r->event == MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY &&
		        r->key.len == 32 && memcmp(r->key.data, pk, 32) == 0;
		mailroom__audit_record__free_unpacked(r, NULL);
	}
	mdb_cursor_close(c);
	return found;
}

/* One stored value at position pos; prev is the previous record's hash
 * and becomes this one's. */
static int check_record(uint64_t pos, const MDB_val *k, const MDB_val *v, struct keys *ks,
                        struct st_verify_report *rep, uint8_t prev[ST_HASH_LEN])
{
	Mailroom__AuditRecord *r;
	const uint8_t *body = v->mv_data;
	size_t blen;
	int fail = ST_VERIFY_OK;

	if (v->mv_size < ST_SIG_LEN)
		return why(rep, ST_VERIFY_MALFORMED, "too short to hold a signature");
	blen = v->mv_size - ST_SIG_LEN;
	if (!(r = mailroom__audit_record__unpack(NULL, blen, body)))
		return why(rep, ST_VERIFY_MALFORMED, "does not parse as an AuditRecord");
	if (pos == 0)
		fail = check_genesis(r, ks, rep);
	/* Signature before position: an altered record says so, an authentic
	 * one out of place fails on its index or chain instead. */
	if (!fail && crypto_sign_verify_detached(body + blen, body, blen, ks->pk) != 0)
		fail = bad_signature(r, pos, body, blen, ks, rep);
	if (!fail && (r->index != pos || k->mv_size != 8 || sti_get_be64(k->mv_data) != pos))
		fail = why(rep, ST_VERIFY_INDEX, "holds record %llu", (unsigned long long)r->index);
	if (!fail && (r->prev_hash.len != ST_HASH_LEN ||
	              sodium_memcmp(r->prev_hash.data, prev, ST_HASH_LEN) != 0))
		fail = why(rep, ST_VERIFY_CHAIN, "prev_hash is not the hash of the record before");
	if (!fail && pos > 0 && r->event == MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY)
		fail = rotate(r, pos, ks, rep);
	mailroom__audit_record__free_unpacked(r, NULL);
	if (!fail)
		sti_record_hash(body, blen, prev);
	return fail;
}

/* A pinned key must be one of the log's, and have signed a record: a key
 * named by a rotation alone could be anyone's, named by a retired key. */
static void check_trusted(const struct keys *ks, struct st_verify_report *rep)
{
	if (!ks->trusted)
		return;
	if (!ks->trusted_met) {
		rep->fail = why(rep, ST_VERIFY_KEY, "the trusted key is neither record 0's nor "
		                                    "one a rotation brought in");
		rep->bad_index = 0;
	} else if (ks->trusted_at && rep->records <= ks->trusted_at + 1) {
		rep->fail = why(rep, ST_VERIFY_KEY, "the trusted key has signed no record yet");
		rep->bad_index = ks->trusted_at;
	}
}

int st_verify(st_env *env, const uint8_t *trusted_pk, struct st_verify_report *rep)
{
	uint8_t prev[ST_HASH_LEN] = {0};
	struct keys ks = {.trusted = trusted_pk};
	MDB_cursor *c;
	MDB_val k, v;
	st_txn *t;
	uint64_t pos = 0;
	int rc, fail = ST_VERIFY_OK;

	if (!env || !rep)
		return PB_EINVAL;
	memset(rep, 0, sizeof(*rep));
	if (sodium_init() < 0)
		return PB_EIO;
	if (trusted_pk && !crypto_core_ed25519_is_valid_point(trusted_pk)) {
		rep->fail = why(rep, ST_VERIFY_KEY, "the trusted key is weak");
		return PB_OK;
	}
	if ((rc = st_txn_begin(env, NULL, 1, &t)))
		return rc;
	if ((rc = mdb_cursor_open(t->txn, env->log, &c))) {
		st_txn_abort(t);
		return sti_err(NULL, rc);
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), pos++) {
		rep->records++;
		if ((fail = check_record(pos, &k, &v, &ks, rep, prev)))
			break;
		if (pos == 0 && trusted_pk && !ks.trusted_met && !names_key(t, trusted_pk)) {
			fail = why(rep, ST_VERIFY_KEY, "the trusted key is neither record 0's nor one "
			                               "a rotation brings in");
			break;
		}
		memcpy(rep->head_hash, prev, ST_HASH_LEN);
	}
	mdb_cursor_close(c);
	st_txn_abort(t);
	if (rc && rc != MDB_NOTFOUND)
		return sti_err(NULL, rc);
	if (fail) {
		rep->fail = fail;
		rep->bad_index = pos;
	} else if (rep->records == 0) {
		rep->fail = ST_VERIFY_EMPTY;
	} else {
		check_trusted(&ks, rep);
	}
	return PB_OK;
}
