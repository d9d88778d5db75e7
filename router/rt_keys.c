/* The key rotation the router makes on start when [store] signing_key is
 * a new key and previous_signing_key the one the log is signed with
 * (store/README.md, "Key rotation"). The AUDIT_LOG_KEY record commits
 * alone, with the handover checkpoint the store's seal writes for the
 * size the new key starts at, signed by both keys: the outgoing key's
 * signature over the tree that holds the record is what authorises the
 * new key, and a witness that knows only the old key can follow. */
#include "rt.h"
#include "pb_err.h"
#include "pb_log.h"
#include "sn.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	pb_info("log key rotated: record %llu, under a checkpoint signed by %s and %s, hands the log "
	        "to the latter from size %llu on",
	        (unsigned long long)r.index, from, to, (unsigned long long)(r.index + 1));
	return PB_OK;
}

int rt_keys_start(struct rt_core *core)
{
	int pending = st_rotation_pending(core->store), rc;

	if (pending && (rc = rotate(core))) {
		pb_error("cannot write the key rotation record: %s", pb_err_str(rc));
		return rc;
	}
	if (core->keys.has_prev && !pending)
		pb_info("[store] previous_signing_key is not needed any more: the log is signed by "
		        "signing_key; remove the setting and keep the old key offline");
	/* The outgoing key signs nothing more in this process. */
	sodium_memzero(core->keys.prev_sk, sizeof(core->keys.prev_sk));
	return PB_OK;
}
