/* Tracking codes issued from the store's sequence: unique, found again
 * after a reopen and by read-only opens, and living beside the random
 * codes that stores of an earlier version handed out. */
#include "helpers.h"
#include "pb_err.h"
#include "pb_id.h"

#include <criterion/criterion.h>
#include <string.h>

TestSuite(track, .init = fx_setup, .fini = fx_teardown);

static void mkid(uint8_t id[16], int n)
{
	memset(id, 0, 16);
	id[14] = (uint8_t)(n >> 8);
	id[15] = (uint8_t)n;
}

/* Issues n codes in one transaction, codes[i] for id i + first. */
static void issue(int first, int n, char (*codes)[PB_TRACK_TEXT_LEN + 1])
{
	uint8_t id[16], hash[32];
	st_txn *t;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	for (int i = 0; i < n; i++) {
		mkid(id, first + i);
		memset(hash, first + i, sizeof(hash));
		cr_assert_eq(st_track_issue(t, id, hash, codes[i]), PB_OK);
	}
	cr_assert_eq(st_txn_commit(t), PB_OK);
}

static void found(const char *code, int n)
{
	uint8_t id[16], want[16], hash[32], want_hash[32];
	st_txn *t;

	mkid(want, n);
	memset(want_hash, n, sizeof(want_hash));
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_track_lookup(t, code, id, hash), PB_OK, "%s", code);
	cr_assert_eq(memcmp(id, want, 16), 0, "%s", code);
	cr_assert_eq(memcmp(hash, want_hash, 32), 0, "%s", code);
	st_txn_abort(t);
}

Test(track, issued_codes_are_valid_distinct_and_found)
{
	char codes[300][PB_TRACK_TEXT_LEN + 1], norm[PB_TRACK_TEXT_LEN + 1];
	uint8_t id[16], hash[32];
	st_txn *t;

	issue(0, 200, codes);
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(pb_track_normalize(codes[i], norm, sizeof(norm)), PB_OK);
		for (int j = 0; j < i; j++)
			cr_assert_neq(strcmp(codes[i], codes[j]), 0);
		found(codes[i], i);
	}
	/* An issued code cannot be placed again by hand. */
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	mkid(id, 999);
	cr_assert_eq(st_track_put(t, codes[17], id), PB_EEXIST);
	st_txn_abort(t);
	/* A well-formed code not issued yet is simply not there. */
	char unknown[PB_TRACK_TEXT_LEN + 1];
	uint8_t key[32];
	size_t len;
	fx_close();
	cr_assert_eq(raw_meta_get("track_key", key, sizeof(key), &len), 0);
	cr_assert_eq(len, 32);
	cr_assert_eq(pb_track_from_seq(key, 5000, unknown), PB_OK);
	cr_assert_eq(fx_reopen(16, 1), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_track_lookup(t, unknown, id, hash), PB_ENOTFOUND);
	st_txn_abort(t);
	for (int i = 0; i < 200; i += 37)
		found(codes[i], i);   /* read-only opens see them too */
	fx_close();
	/* The sequence and its key survive a reopen: later codes are new. */
	cr_assert_eq(fx_reopen(16, 0), PB_OK);
	issue(200, 100, codes + 200);
	for (int i = 200; i < 300; i++)
		for (int j = 0; j < 200; j++)
			cr_assert_neq(strcmp(codes[i], codes[j]), 0);
	found(codes[5], 5);
	found(codes[250], 250);
}

Test(track, an_aborted_issue_is_issued_again)
{
	char a[1][PB_TRACK_TEXT_LEN + 1], b[1][PB_TRACK_TEXT_LEN + 1];
	uint8_t id[16], hash[32];
	st_txn *top, *child;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &top), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, top, 0, &child), PB_OK);
	mkid(id, 1);
	cr_assert_eq(st_track_issue(child, id, NULL, a[0]), PB_OK);
	st_txn_abort(child);
	cr_assert_eq(st_txn_commit(top), PB_OK);
	issue(2, 1, b);
	cr_assert_str_eq(a[0], b[0], "the sequence did not move");
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &top), PB_OK);
	cr_assert_eq(st_track_lookup(top, b[0], id, hash), PB_OK);
	cr_assert_eq(id[15], 2);
	st_txn_abort(top);
}

Test(track, codes_from_before_the_sequence_keep_working_and_are_never_reissued)
{
	char codes[20][PB_TRACK_TEXT_LEN + 1], taken[PB_TRACK_TEXT_LEN + 1];
	uint8_t id[16], hash[32], key[32];
	size_t len;
	st_txn *t;

	/* An older store: a random code, no sequence and no key yet. */
	fx_close();
	cr_assert_eq(raw_forget_sequence(), 0);
	cr_assert_eq(raw_dbi_exists("trackseq"), 0);
	cr_assert_eq(fx_reopen(16, 1), PB_OK, "read-only opens take it as it is");
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_track_lookup(t, "6440-0025-4923", id, hash), PB_ENOTFOUND);
	st_txn_abort(t);
	fx_close();
	cr_assert_eq(fx_reopen(16, 0), PB_OK);
	fx_close();
	/* The writer gave it a key; suppose the random era had handed out
	 * what is now the sequence's second code. */
	cr_assert_eq(raw_meta_get("track_key", key, sizeof(key), &len), 0);
	cr_assert_eq(pb_track_from_seq(key, 1, taken), PB_OK);
	cr_assert_eq(fx_reopen(16, 0), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	mkid(id, 100);
	memset(hash, 100, sizeof(hash));
	cr_assert_eq(st_track_put_key(t, taken, id, hash), PB_OK);
	cr_assert_eq(st_txn_commit(t), PB_OK);

	issue(0, 20, codes);
	for (int i = 0; i < 20; i++) {
		cr_assert_neq(strcmp(codes[i], taken), 0, "code %d was handed out before", i);
		found(codes[i], i);
	}
	found(taken, 100);
}

static size_t packed_len(const char *code, const uint8_t *hash, const uint8_t id[16])
{
	Mailroom__StoredMessage m = MAILROOM__STORED_MESSAGE__INIT;

	m.tracking_code = (char *)code;
	m.subject = "路灯不亮";
	if (hash) {
		m.access_key_hash.data = (uint8_t *)hash;
		m.access_key_hash.len = 32;
	}
	(void)id;
	return mailroom__stored_message__get_packed_size(&m);
}

/* A message keeps its access-key hash in the tracking code's index only
 * when the index holds the same for it; a read gives it back either way,
 * and a message without one still reads without. */
Test(track, a_message_shares_its_key_hash_with_the_index)
{
	char codes[3][PB_TRACK_TEXT_LEN + 1];
	uint8_t id[3][16], hash[32], other[32], raw[512];
	Mailroom__StoredMessage m = MAILROOM__STORED_MESSAGE__INIT, *got;
	size_t len;
	st_txn *t;

	memset(hash, 0x42, sizeof(hash));
	memset(other, 0x43, sizeof(other));
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	for (int i = 0; i < 3; i++) {
		mkid(id[i], 900 + i);
		cr_assert_eq(st_track_issue(t, id[i], i == 2 ? NULL : hash, codes[i]), PB_OK);
		m.id.data = id[i];
		m.id.len = 16;
		m.tracking_code = codes[i];
		m.subject = "路灯不亮";
		m.access_key_hash.data = i == 1 ? other : hash;   /* 1: not the index's */
		m.access_key_hash.len = i == 2 ? 0 : 32;
		cr_assert_eq(st_msg_put(t, &m), PB_OK);
	}
	cr_assert_eq(st_txn_commit(t), PB_OK);
	fx_close();
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(raw_get("msg", id[i], 16, raw, sizeof(raw), &len), 0);
		cr_assert_eq(len, packed_len(codes[i], i == 1 ? other : NULL, id[i]),
		             "message %d: %zu bytes", i, len);
	}
	cr_assert_eq(fx_reopen(0, 1), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(st_msg_get(t, id[i], &got), PB_OK);
		cr_assert_arr_eq(got->id.data, id[i], 16);
		cr_assert_eq(got->access_key_hash.len, i == 2 ? 0 : 32, "message %d", i);
		if (i < 2)
			cr_assert_arr_eq(got->access_key_hash.data, i == 1 ? other : hash, 32);
		st_msg_free(got);
	}
	st_txn_abort(t);
}
