/* The log key on the router's start: the rotation record in its own
 * durable transaction, with the handover checkpoint signed by both keys,
 * receipts and checkpoints by the new key afterwards. */
#include "fixture.h"
#include "sn.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(keys, .init = fx_setup, .fini = fx_teardown);

static uint8_t old_pk[32];

/* Stops using the store, makes a new key and reopens with it as
 * signing_key and the old one as previous_signing_key. */
static void reopen_rotating(void)
{
	char newkey[300];
	uint8_t pk[32];
	int created;

	memcpy(old_pk, core.keys.sign_pk, 32);
	st_close(core.store);
	core.store = NULL;
	snprintf(newkey, sizeof(newkey), "%s/keys/store-2.key", dir);
	cr_assert_eq(st_signing_key_create(newkey, conf.log_origin, pk), PB_OK);
	snprintf(conf.previous_signing_key, sizeof(conf.previous_signing_key), "%s",
	         conf.signing_key);
	snprintf(conf.signing_key, sizeof(conf.signing_key), "%s", newkey);
	cr_assert_eq(st_keys_load_or_create(&conf, &core.keys, &created), PB_OK);
	cr_assert_arr_eq(core.keys.sign_pk, pk, 32);
	cr_assert_eq(st_open(conf.store_path, conf.map_size_mb, 0, &core.keys, &core.store), PB_OK);
}

static uint64_t log_size(void)
{
	st_txn *t;
	uint64_t n;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &n), PB_OK);
	st_txn_abort(t);
	return n;
}

/* Whether the checkpoint stored for size opens under pk. */
static int cp_signed_by(uint64_t size, const uint8_t pk[32])
{
	struct sn_checkpoint cp;
	char *note;
	size_t len;
	uint64_t got;
	st_txn *t;
	int rc;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_checkpoint_get(t, size, &note, &len, &got), PB_OK, "no checkpoint %llu",
	             (unsigned long long)size);
	st_txn_abort(t);
	rc = sn_open_checkpoint(note, len, conf.log_origin, pk, &cp);
	if (rc == PB_OK)
		cr_assert_eq(cp.size, size);
	free(note);
	return rc == PB_OK;
}

static int ncheckpoints(void)
{
	char *note;
	size_t len;
	uint64_t got;
	st_txn *t;
	int n = 0;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	for (uint64_t s = 1; s <= 64; s++)
		if (st_checkpoint_get(t, s, &note, &len, &got) == PB_OK) {
			free(note);
			n++;
		}
	st_txn_abort(t);
	return n;
}

Test(keys, rotation_on_start)
{
	struct st_verify_report rep;
	struct posted before, after;
	uint64_t size;
	int n;

	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "来信", pb_now_ms(), &before);
	reopen_rotating();
	cr_assert_eq(st_rotation_pending(core.store), 1);
	size = log_size();
	n = ncheckpoints();
	cr_assert_eq(rt_keys_start(&core), PB_OK);
	cr_assert_eq(st_rotation_pending(core.store), 0);
	cr_assert_eq(log_size(), size + 1, "one rotation record");
	cr_assert_eq(ncheckpoints(), n + 1, "one checkpoint, the handover");
	cr_assert(cp_signed_by(size + 1, core.keys.sign_pk), "the new key signs the handover");
	cr_assert(cp_signed_by(size + 1, old_pk), "and the outgoing key with it");
	for (size_t i = 0; i < sizeof(core.keys.prev_sk); i++)
		cr_assert_eq(core.keys.prev_sk[i], 0, "the old secret key is wiped");

	/* Afterwards: records, receipts and checkpoints by the new key only. */
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "又一封信", pb_now_ms(), &after);
	cr_assert_gt(after.log_index, size);
	cr_assert(cp_signed_by(log_size(), core.keys.sign_pk));
	cr_assert(!cp_signed_by(log_size(), old_pk));

	cr_assert_eq(st_verify(core.store, old_pk, &rep), PB_OK);
	cr_assert_eq(rep.fail, ST_VERIFY_OK, "%s at %llu", rep.detail,
	             (unsigned long long)rep.bad_index);
	cr_assert_eq(rep.rotations, 1);
	cr_assert_eq(rep.key_from, size + 1);

	/* A second start changes nothing. */
	n = ncheckpoints();
	cr_assert_eq(rt_keys_start(&core), PB_OK);
	cr_assert_eq(ncheckpoints(), n);
}

/* The rotation record never commits without its handover: the store's
 * seal writes it, signed by both keys, in the same transaction. A start
 * afterwards has nothing left to do. */
Test(keys, handover_commits_with_the_rotation)
{
	uint64_t size;
	st_txn *t;
	int n;

	reopen_rotating();
	size = log_size();
	cr_assert_eq(st_txn_begin(core.store, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_log_rotate(t, NULL), PB_OK);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	cr_assert(cp_signed_by(size + 1, core.keys.sign_pk));
	cr_assert(cp_signed_by(size + 1, old_pk));
	n = ncheckpoints();
	cr_assert_eq(rt_keys_start(&core), PB_OK);
	cr_assert_eq(log_size(), size + 1, "no second rotation");
	cr_assert_eq(ncheckpoints(), n);
}

/* Nothing to rotate: no record, no checkpoint. */
Test(keys, nothing_to_do)
{
	uint64_t size = log_size();
	int n = ncheckpoints();

	cr_assert_eq(rt_keys_start(&core), PB_OK);
	cr_assert_eq(log_size(), size);
	cr_assert_eq(ncheckpoints(), n);
}
