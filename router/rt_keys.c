/* The log key: signed checkpoints, and the key rotation the router makes
 * on start when [store] signing_key is a new key and previous_signing_key
 * the one the log is signed with (store/README.md, "Key rotation").
 *
 * The rotation is two durable steps. First the AUDIT_LOG_KEY record,
 * signed by the outgoing key, commits alone: nothing is ever signed by the
 * new key before the record that authorises it is on disk. Then the
 * handover checkpoint for the size the new key starts at, signed by both
 * keys, so a witness that knows only the old key can follow. A crash
 * between the two is finished on the next start. */
#include "rt.h"
#include "pb_err.h"
#include "pb_log.h"
#include "sn.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTE_MAX (256 + 2 * SN_LINE_MAX(sizeof(((struct st_keys *)0)->key_name)))

int rt_checkpoint(struct rt_core *core, st_txn *txn, int outgoing_too)
{
	uint8_t root[ST_HASH_LEN];
	char body[256], note[NOTE_MAX];
	size_t blen, nlen, llen;
	uint64_t size;
	int rc;

	if ((rc = st_log_size(txn, &size)) || (rc = st_tree_root(txn, size, root)))
		return rc;
	if ((rc = sn_checkpoint_format(core->keys.key_name, size, root, NULL, body, sizeof(body),
	                               &blen)) ||
	    (rc = sn_sign(body, blen, core->keys.key_name, core->keys.sign_sk, note, sizeof(note),
	                  &nlen)))
		return rc;
	/* A second signature line: signed notes allow several. */
	if (outgoing_too) {
		if (!core->keys.has_prev)
			return PB_EINVAL;
		if ((rc = sn_sign_line(body, blen, core->keys.key_name, core->keys.prev_sk, note + nlen,
		                       sizeof(note) - nlen, &llen)))
			return rc;
		nlen += llen;
	}
	return st_checkpoint_put(txn, size, note, nlen);
}

static int rotate(struct rt_core *core)
{
	struct st_receipt r;
	char from[ST_KEYLABEL_MAX], to[ST_KEYLABEL_MAX];
	st_txn *t;
	int rc;

	if ((rc = st_txn_begin(core->store, NULL, 0, &t)))
		return rc;
	if ((rc = st_log_rotate(t, &r))) {
		st_txn_abort(t);
		return rc;
	}
	if ((rc = st_txn_commit(t)))
		return rc;
	st_key_label(core->keys.key_name, core->keys.prev_pk, from, sizeof(from));
	st_key_label(core->keys.key_name, core->keys.sign_pk, to, sizeof(to));
	pb_info("log key rotated: record %llu, signed by %s, hands the log to %s from size %llu on",
	        (unsigned long long)r.index, from, to, (unsigned long long)(r.index + 1));
	return PB_OK;
}

/* The checkpoint for the size the key in force starts at, if the log ends
 * there and none was written (the first start after a rotation). */
static int handover(struct rt_core *core)
{
	struct st_logkey lk;
	uint64_t size, got;
	char *note = NULL;
	size_t len;
	st_txn *t;
	int rc, dual;

	if ((rc = st_txn_begin(core->store, NULL, 0, &t)))
		return rc;
	if ((rc = st_log_key(t, &lk)) || (rc = st_log_size(t, &size)))
		goto out;
	if (lk.from == 0 || size != lk.from)
		goto out;
	rc = st_checkpoint_get(t, size, &note, &len, &got);
	free(note);
	if (rc != PB_ENOTFOUND)
		goto out;
	dual = core->keys.has_prev && lk.has_prev && memcmp(core->keys.prev_pk, lk.prev_pk, 32) == 0;
	if (!dual)
		pb_warn("the handover checkpoint at size %llu is signed by the new key only: "
		        "previous_signing_key is not the key it replaced",
		        (unsigned long long)size);
	if ((rc = rt_checkpoint(core, t, dual)))
		goto out;
	rc = st_txn_commit(t);
	t = NULL;
	if (rc == PB_OK)
		pb_info("handover checkpoint at size %llu signed by the new%s key",
		        (unsigned long long)size, dual ? " and the outgoing" : "");
out:
	if (t)
		st_txn_abort(t);
	return rc;
}

int rt_keys_start(struct rt_core *core)
{
	int pending = st_rotation_pending(core->store), rc;

	if (pending && (rc = rotate(core))) {
		pb_error("cannot write the key rotation record: %s", pb_err_str(rc));
		return rc;
	}
	if ((rc = handover(core))) {
		pb_error("cannot write the handover checkpoint: %s", pb_err_str(rc));
		return rc;
	}
	if (core->keys.has_prev && !pending)
		pb_info("[store] previous_signing_key is not needed any more: the log is signed by "
		        "signing_key; remove the setting and keep the old key offline");
	/* The outgoing key signs nothing more in this process. */
	sodium_memzero(core->keys.prev_sk, sizeof(core->keys.prev_sk));
	return PB_OK;
}
