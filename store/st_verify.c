/* The auditor's walk over the log: shape, position, chain, key, signature,
 * record by record, stopping at the first failure. */
#include "st_int.h"
#include "pb_err.h"

#include <sodium.h>
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
		return "missing or untrusted log key";
	case ST_VERIFY_EMPTY:
		return "empty log";
	default:
		return "unknown";
	}
}

/* Record 0 names the key every record is checked under. */
static int check_genesis(const Mailroom__AuditRecord *r, const uint8_t *trusted_pk,
                         struct st_verify_report *rep)
{
	if (r->event != MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY || r->key.len != 32 || !r->key.data)
		return ST_VERIFY_KEY;
	if (trusted_pk && memcmp(r->key.data, trusted_pk, 32) != 0)
		return ST_VERIFY_KEY;
	/* A small-order key would let anyone forge signatures. */
	if (!crypto_core_ed25519_is_valid_point(r->key.data))
		return ST_VERIFY_KEY;
	memcpy(rep->pubkey, r->key.data, 32);
	if (r->key_name && strlen(r->key_name) < sizeof(rep->key_name))
		memcpy(rep->key_name, r->key_name, strlen(r->key_name) + 1);
	return ST_VERIFY_OK;
}

/* One stored value at position pos; prev is the previous record's hash
 * and becomes this one's. */
static int check_record(uint64_t pos, const MDB_val *k, const MDB_val *v, const uint8_t *trusted_pk,
                        struct st_verify_report *rep, uint8_t prev[ST_HASH_LEN])
{
	Mailroom__AuditRecord *r;
	const uint8_t *body = v->mv_data;
	size_t blen;
	int fail = ST_VERIFY_OK;

	if (v->mv_size < ST_SIG_LEN)
		return ST_VERIFY_MALFORMED;
	blen = v->mv_size - ST_SIG_LEN;
	if (!(r = mailroom__audit_record__unpack(NULL, blen, body)))
		return ST_VERIFY_MALFORMED;
	if (pos == 0)
		fail = check_genesis(r, trusted_pk, rep);
	/* Signature before position: an altered record says so, an authentic
	 * one out of place fails on its index or chain instead. */
	if (!fail && crypto_sign_verify_detached(body + blen, body, blen, rep->pubkey) != 0)
		fail = ST_VERIFY_SIGNATURE;
	if (!fail && (r->index != pos || k->mv_size != 8 || sti_get_be64(k->mv_data) != pos))
		fail = ST_VERIFY_INDEX;
	if (!fail && (r->prev_hash.len != ST_HASH_LEN ||
	              sodium_memcmp(r->prev_hash.data, prev, ST_HASH_LEN) != 0))
		fail = ST_VERIFY_CHAIN;
	mailroom__audit_record__free_unpacked(r, NULL);
	if (!fail)
		sti_record_hash(body, blen, prev);
	return fail;
}

int st_verify(st_env *env, const uint8_t *trusted_pk, struct st_verify_report *rep)
{
	uint8_t prev[ST_HASH_LEN] = {0};
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
		rep->fail = ST_VERIFY_KEY;
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
		if ((fail = check_record(pos, &k, &v, trusted_pk, rep, prev)))
			break;
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
	}
	return PB_OK;
}
