/* Opening, transactions, messages, indexes, queues, counters, leases and
 * deadlines. */
#include "helpers.h"
#include "mt.h"
#include "pb_err.h"
#include "sn.h"
#include "pb_id.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(store, .init = fx_setup, .fini = fx_teardown);

static void make_id(uint8_t id[16], int64_t ms, uint8_t tag)
{
	memset(id, tag, 16);
	for (int i = 5; i >= 0; i--, ms >>= 8)
		id[i] = (uint8_t)ms;
}

Test(store, new_store_has_genesis)
{
	Mailroom__AuditRecord *r;
	const uint8_t *data;
	size_t len;
	uint64_t n;
	st_txn *t;
	struct stat sb;
	static const uint8_t zero[32];

	cr_assert_eq(stat(fx.store, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0700);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &n), PB_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(st_log_get(t, 0, &data, &len), PB_OK);
	cr_assert_gt(len, 0);
	r = mailroom__audit_record__unpack(NULL, len, data);
	cr_assert_not_null(r);
	cr_assert_eq(r->index, 0);
	cr_assert_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY);
	cr_assert_str_eq(r->actor, "router");
	cr_assert_str_eq(r->key_name, "mailroom.test/log");
	cr_assert_eq(r->key.len, 32);
	cr_assert_arr_eq(r->key.data, fx.keys.sign_pk, 32);
	cr_assert_eq(r->prev_hash.len, 32);
	cr_assert_arr_eq(r->prev_hash.data, zero, 32);
	cr_assert_gt(r->time_ms, 0);
	mailroom__audit_record__free_unpacked(r, NULL);
	/* The record carries no signature: the checkpoint of size 1, written
	 * with it, signs a tree whose one leaf is H(0x00 || record). */
	{
		struct sn_checkpoint cp;
		uint8_t leaf[32];
		char *note;
		size_t nlen;
		uint64_t got;
		cr_assert_eq(st_checkpoint_get(t, 1, &note, &nlen, &got), PB_OK);
		cr_assert_eq(sn_open_checkpoint(note, nlen, "mailroom.test/log", fx.keys.sign_pk, &cp),
		             PB_OK, "%s", note);
		mt_leaf_hash(data, len, leaf);
		cr_assert_eq(cp.size, 1);
		cr_assert_arr_eq(cp.root, leaf, 32);
		free(note);
	}
	cr_assert_eq(st_log_get(t, 1, &data, &len), PB_ENOTFOUND);
	st_txn_abort(t);
}

Test(store, reopen_keeps_state)
{
	uint8_t id[16], got[16];
	st_txn *t;
	uint64_t n;

	make_id(id, 5, 1);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_track_put(t, "1234-5678-9012", id), PB_OK);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	fx_close();
	cr_assert_eq(fx_reopen(16, 0), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_track_get(t, "1234-5678-9012", got), PB_OK);
	cr_assert_arr_eq(got, id, 16);
	cr_assert_eq(st_log_size(t, &n), PB_OK);
	cr_assert_eq(n, 1, "reopening must not write a second genesis record");
	st_txn_abort(t);
}

Test(store, reopen_with_other_key_is_refused)
{
	struct st_keys other = fx.keys;
	st_env *e = NULL;

	fx_close();
	crypto_sign_keypair(other.sign_pk, other.sign_sk);
	cr_assert_eq(st_open(fx.store, 16, 0, &other, &e), PB_EAUTH);
	cr_assert_null(e);
	other = fx.keys;
	strcpy(other.key_name, "elsewhere.example/log");
	cr_assert_eq(st_open(fx.store, 16, 0, &other, &e), PB_EAUTH);
	cr_assert_eq(fx_reopen(16, 0), PB_OK);
}

/* A store of version 1 (records signed one by one), 2 (idempotency keys
 * in extref), 3 (tree levels 1 and 2 stored, a deadline per key) or 4 (no
 * provisional index) is refused, for writing and reading; so is one from
 * a later version. */
Test(store, schema_mismatch_is_corrupt)
{
	uint8_t v1[4] = {0, 0, 0, 1}, v2[4] = {0, 0, 0, 2}, v3[4] = {0, 0, 0, 3};
	uint8_t v4[4] = {0, 0, 0, 4}, v6[4] = {0, 0, 0, 6}, now[4];
	size_t len;

	fx_close();
	cr_assert_eq(raw_meta_get("schema_version", now, sizeof(now), &len), 0);
	cr_assert_eq(len, 4);
	cr_assert_eq(now[3], 5, "a new store is of version 5");
	cr_assert_eq(raw_meta_put("schema_version", v6, sizeof(v6)), 0);
	cr_assert_eq(fx_reopen(16, 0), PB_ECORRUPT);
	cr_assert_eq(raw_meta_put("schema_version", v4, sizeof(v4)), 0);
	cr_assert_eq(fx_reopen(16, 0), PB_ECORRUPT);
	cr_assert_eq(fx_reopen(0, 1), PB_ECORRUPT);
	cr_assert_eq(raw_meta_put("schema_version", v3, sizeof(v3)), 0);
	cr_assert_eq(fx_reopen(16, 0), PB_ECORRUPT);
	cr_assert_eq(fx_reopen(0, 1), PB_ECORRUPT);
	cr_assert_eq(raw_meta_put("schema_version", v2, sizeof(v2)), 0);
	cr_assert_eq(fx_reopen(16, 0), PB_ECORRUPT);
	cr_assert_eq(fx_reopen(0, 1), PB_ECORRUPT);
	cr_assert_eq(raw_meta_put("schema_version", v1, sizeof(v1)), 0);
	cr_assert_eq(fx_reopen(16, 0), PB_ECORRUPT);
	cr_assert_eq(fx_reopen(0, 1), PB_ECORRUPT);
	cr_assert_null(fx.env);
}

Test(store, readonly_open_of_missing_store)
{
	char path[700];
	st_env *e = NULL;

	snprintf(path, sizeof(path), "%s/nothing", fx.dir);
	cr_assert_eq(st_open(path, 0, 1, NULL, &e), PB_ENOTFOUND);
	cr_assert_null(e);
	cr_assert_eq(st_open(path, 16, 0, NULL, &e), PB_EINVAL, "writable needs keys");
}

/* The child's verdict travels in its exit status: 0 = all good, otherwise
 * the number of the check that failed. */
static int reader_child(int go_fd, int done_fd)
{
	struct st_verify_report rep;
	st_env *e;
	st_txn *t, *w;
	uint64_t n;
	uint8_t id[16];
	char c;

	if (st_open(fx.store, 0, 1, NULL, &e))
		return 1;
	if (st_txn_begin(e, NULL, 0, &w) != PB_EINVAL)
		return 2;
	if (st_txn_begin(e, NULL, 1, &t) || st_log_size(t, &n) || n != 4)
		return 3;
	if (st_track_get(t, "0000-0000-0001", id) || id[15] != 7)
		return 4;
	if (st_verify(e, fx.keys.sign_pk, &rep) || rep.fail != ST_VERIFY_OK || rep.records != 4)
		return 5;
	/* Hold the snapshot while the writer commits more. */
	if (write(done_fd, "r", 1) != 1 || read(go_fd, &c, 1) != 1)
		return 6;
	if (st_log_size(t, &n) || n != 4)
		return 7;
	st_txn_abort(t);
	if (st_txn_begin(e, NULL, 1, &t) || st_log_size(t, &n) || n != 6)
		return 8;
	st_txn_abort(t);
	if (st_verify(e, NULL, &rep) || rep.fail != ST_VERIFY_OK || rep.records != 6 ||
	    memcmp(rep.pubkey, fx.keys.sign_pk, 32) != 0 || strcmp(rep.key_name, "mailroom.test/log"))
		return 9;
	st_close(e);
	return 0;
}

/* LMDB forbids a second open of one environment in a process, so the
 * reader is a child process while the parent holds the writer. */
Test(store, readonly_open_beside_writer)
{
	int to_child[2], to_parent[2], status;
	uint8_t id[16];
	st_txn *t;
	pid_t pid;
	char c;

	memset(id, 7, sizeof(id));
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_track_put(t, "0000-0000-0001", id), PB_OK);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	cr_assert_eq(fx_append(3, NULL), PB_OK);
	cr_assert_eq(pipe(to_child), 0);
	cr_assert_eq(pipe(to_parent), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		_exit(reader_child(to_child[0], to_parent[1]));
	}
	/* Our copies closed, so a child that dies early reads as EOF. */
	close(to_child[0]);
	close(to_parent[1]);
	if (read(to_parent[0], &c, 1) == 1) {
		cr_expect_eq(fx_append(2, NULL), PB_OK);
		cr_expect_eq(write(to_child[1], "g", 1), 1);
	}
	close(to_child[1]);
	close(to_parent[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0, "reader check %d failed", WEXITSTATUS(status));
}

Test(store, readonly_env_refuses_writes)
{
	st_txn *t;

	fx_close();
	cr_assert_eq(fx_reopen(0, 1), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_EINVAL);
	cr_assert_null(t);
}

Test(store, read_txn_refuses_writes)
{
	Mailroom__StoredMessage m = MAILROOM__STORED_MESSAGE__INIT;
	Mailroom__AuditRecord rec = MAILROOM__AUDIT_RECORD__INIT;
	struct st_qpos p = {1, 0, {0}};
	uint8_t id[16] = {1};
	st_txn *t, *c;

	m.id.data = id;
	m.id.len = 16;
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_msg_put(t, &m), PB_EINVAL);
	cr_assert_eq(st_track_put(t, "x", id), PB_EINVAL);
	cr_assert_eq(st_queue_push(t, "q", &p), PB_EINVAL);
	cr_assert_eq(st_log_append(t, &rec, NULL), PB_EINVAL);
	cr_assert_eq(st_txn_begin(fx.env, t, 0, &c), PB_EINVAL, "no child of a read txn");
	st_txn_abort(t);
}

Test(store, message_round_trip)
{
	Mailroom__StoredMessage m = MAILROOM__STORED_MESSAGE__INIT, *got;
	Mailroom__HotlineOrder o = MAILROOM__HOTLINE_ORDER__INIT;
	uint8_t id[16], salt[16] = {9, 9, 9};
	st_txn *t;

	make_id(id, 1700000000000, 0x42);
	m.id.data = id;
	m.id.len = 16;
	m.tracking_code = "1234-5678-9012";
	m.channel = MAILROOM__CHANNEL__CHANNEL_HOTLINE;
	m.status = MAILROOM__STATUS__STATUS_QUEUED;
	m.queue = "hotline";
	m.subject = "路灯不亮";
	m.body = "小区门口路灯坏了三天";
	m.text_salt.data = salt;
	m.text_salt.len = sizeof(salt);
	m.received_ms = -5;
	m.reply_due_ms = 1700000000000;
	m.queue_prio = 1;
	o.order_no = "GD2026";
	o.dispatch_seq = 3;
	m.order = &o;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_msg_get(t, id, &got), PB_ENOTFOUND);
	cr_assert_null(got);
	cr_assert_eq(st_msg_put(t, &m), PB_OK);
	cr_assert_eq(st_txn_commit(t), PB_OK);

	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_msg_get(t, id, &got), PB_OK);
	st_txn_abort(t);   /* the message must outlive its transaction */
	cr_assert_eq(got->id.len, 16);
	cr_assert_arr_eq(got->id.data, id, 16);
	cr_assert_str_eq(got->tracking_code, "1234-5678-9012");
	cr_assert_str_eq(got->subject, "路灯不亮");
	cr_assert_str_eq(got->body, m.body);
	cr_assert_eq(got->channel, MAILROOM__CHANNEL__CHANNEL_HOTLINE);
	cr_assert_eq(got->received_ms, -5);
	cr_assert_eq(got->reply_due_ms, 1700000000000);
	cr_assert_eq(got->text_salt.len, 16);
	cr_assert_not_null(got->order);
	cr_assert_str_eq(got->order->order_no, "GD2026");
	cr_assert_eq(got->order->dispatch_seq, 3);
	st_msg_free(got);

	/* The key is the id: the value does not repeat it. */
	uint8_t raw[1024];
	size_t rawlen;
	fx_close();
	cr_assert_eq(raw_get("msg", id, 16, raw, sizeof(raw), &rawlen), 0);
	Mailroom__StoredMessage *bare = mailroom__stored_message__unpack(NULL, rawlen, raw);
	cr_assert_not_null(bare);
	cr_assert_eq(bare->id.len, 0);
	cr_assert_str_eq(bare->tracking_code, "1234-5678-9012");
	mailroom__stored_message__free_unpacked(bare, NULL);
	cr_assert_eq(fx_reopen(16, 0), PB_OK);

	/* put replaces */
	m.status = MAILROOM__STATUS__STATUS_REPLIED;
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_msg_put(t, &m), PB_OK);
	cr_assert_eq(st_msg_get(t, id, &got), PB_OK);
	cr_assert_eq(got->status, MAILROOM__STATUS__STATUS_REPLIED);
	st_msg_free(got);
	m.id.len = 15;
	cr_assert_eq(st_msg_put(t, &m), PB_EINVAL);
	st_txn_abort(t);
	st_msg_free(NULL);
}

struct each_ctx {
	int n, stop_at;
	int64_t ms[8];
};

static int collect(const Mailroom__StoredMessage *m, void *arg)
{
	struct each_ctx *c = arg;

	c->ms[c->n++] = m->received_ms;
	return c->n == c->stop_at;
}

Test(store, msg_each_in_id_order)
{
	int64_t times[] = {300, 100, 500, 200};
	struct each_ctx ctx = {0, 0, {0}};
	uint8_t id[16];
	st_txn *t;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	for (size_t i = 0; i < 4; i++) {
		Mailroom__StoredMessage m = MAILROOM__STORED_MESSAGE__INIT;
		make_id(id, times[i], 0xee);
		m.id.data = id;
		m.id.len = 16;
		m.received_ms = times[i];
		cr_assert_eq(st_msg_put(t, &m), PB_OK);
	}
	cr_assert_eq(st_msg_each(t, collect, &ctx), PB_OK);
	cr_assert_eq(ctx.n, 4);
	cr_assert_eq(ctx.ms[0], 100);
	cr_assert_eq(ctx.ms[1], 200);
	cr_assert_eq(ctx.ms[2], 300);
	cr_assert_eq(ctx.ms[3], 500);
	memset(&ctx, 0, sizeof(ctx));
	ctx.stop_at = 2;
	cr_assert_eq(st_msg_each(t, collect, &ctx), PB_OK);
	cr_assert_eq(ctx.n, 2, "a non-zero return stops the walk");
	st_txn_abort(t);
}

Test(store, track_and_extref)
{
	uint8_t a[16], b[16], got[16];
	st_txn *t;

	memset(a, 0xa, 16);
	memset(b, 0xb, 16);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_track_put(t, "1111-2222-3333", a), PB_OK);
	cr_assert_eq(st_track_put(t, "1111-2222-3333", b), PB_EEXIST);
	cr_assert_eq(st_track_put(t, "1111-2222-3334", b), PB_OK);
	cr_assert_eq(st_track_get(t, "1111-2222-3333", got), PB_OK);
	cr_assert_arr_eq(got, a, 16, "a taken code keeps its first id");
	cr_assert_eq(st_track_get(t, "1111-2222-3334", got), PB_OK);
	cr_assert_arr_eq(got, b, 16);
	cr_assert_eq(st_track_get(t, "9999-9999-9999", got), PB_ENOTFOUND);
	cr_assert_eq(st_track_put(t, "", a), PB_EINVAL);

	cr_assert_eq(st_extref_put(t, "12345:GD2026#1", a), PB_OK);
	cr_assert_eq(st_extref_put(t, "12345:GD2026#1", b), PB_EEXIST);
	cr_assert_eq(st_extref_get(t, "12345:GD2026#1", got), PB_OK);
	cr_assert_arr_eq(got, a, 16);
	cr_assert_eq(st_extref_get(t, "12345:GD2026#2", got), PB_ENOTFOUND);
	/* the two indexes are separate */
	cr_assert_eq(st_extref_get(t, "1111-2222-3333", got), PB_ENOTFOUND);

	char longkey[600];
	memset(longkey, 'x', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	cr_assert_eq(st_extref_put(t, longkey, a), PB_EINVAL);
	cr_assert_eq(st_txn_commit(t), PB_OK);
}

Test(store, idempotency_keys)
{
	uint8_t key[32], other[32], body[32], body2[32], a[16], b[16], got[16];
	st_txn *t;

	memset(key, 0x11, sizeof(key));
	memset(other, 0x11, sizeof(other));
	other[31] = 0x12;              /* differs only past the half kept */
	memset(body, 0x21, sizeof(body));
	memset(body2, 0x21, sizeof(body2));
	body2[0] = 0x22;
	memset(a, 0xa, 16);
	memset(b, 0xb, 16);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_idem_get(t, key, body, got), PB_ENOTFOUND);
	cr_assert_eq(st_idem_put(t, key, body, a), PB_OK);
	cr_assert_eq(st_idem_put(t, key, body2, b), PB_EEXIST, "a key keeps its first message");
	cr_assert_eq(st_idem_put(t, other, body, b), PB_EEXIST, "keys are told apart by 128 bits");
	cr_assert_eq(st_txn_commit(t), PB_OK);

	fx_close();
	cr_assert_eq(fx_reopen(16, 0), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_idem_get(t, key, body, got), PB_OK);
	cr_assert_arr_eq(got, a, 16, "the first message, after a reopen");
	memset(got, 0, sizeof(got));
	cr_assert_eq(st_idem_get(t, key, body2, got), PB_ESTATE, "another request with the key");
	cr_assert_arr_eq(got, a, 16);
	key[0] ^= 1;
	cr_assert_eq(st_idem_get(t, key, body, got), PB_ENOTFOUND);
	cr_assert_eq(st_idem_put(t, key, body, a), PB_EINVAL, "read-only");
	st_txn_abort(t);
}

/* Puts whose keys mostly rise try MDB_APPEND first (sti_put_rising): a
 * key that is not past the last, or is already there, must still take
 * the ordinary put, with its usual answer. */
Test(store, rising_puts_take_keys_out_of_order)
{
	uint8_t id[16];
	uint64_t pages, entries;
	const uint8_t *data;
	size_t len;
	st_txn *t;

	memset(id, 0x5a, sizeof(id));
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_deadline_put(t, 2000, id, 0x21), PB_OK);
	cr_assert_eq(st_deadline_put(t, 1000, id, 0x21), PB_OK, "before the last");
	cr_assert_eq(st_deadline_put(t, 2000, id, 0x21), PB_OK, "the last again");
	cr_assert_eq(st_deadline_put(t, 1500, id, 0x12), PB_OK);
	cr_assert_eq(st_texts_put(t, 7, (const uint8_t *)"b", 1), PB_OK);
	cr_assert_eq(st_texts_put(t, 3, (const uint8_t *)"a", 1), PB_OK);
	cr_assert_eq(st_texts_put(t, 7, (const uint8_t *)"c", 1), PB_EEXIST, "never replaced");
	cr_assert_eq(st_texts_put(t, 3, (const uint8_t *)"c", 1), PB_EEXIST);
	cr_assert_eq(st_texts_get(t, 3, &data, &len), PB_OK);
	cr_assert_eq(len, 1);
	cr_assert_eq(data[0], 'a');
	cr_assert_eq(st_txn_commit(t), PB_OK);
	fx_close();
	cr_assert_eq(raw_dbi_pages("deadline", &pages, &entries), 0);
	cr_assert_eq(entries, 3);
	cr_assert_eq(raw_dbi_pages("texts", &pages, &entries), 0);
	cr_assert_eq(entries, 2);
}

Test(store, track_with_access_key)
{
	uint8_t id[16], got[16], kh[32], gotkh[32];
	static const uint8_t zero[32];
	st_txn *t;

	memset(id, 0x11, 16);
	memset(kh, 0x22, 32);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_track_put_key(t, "2222-3333-4444", id, kh), PB_OK);
	cr_assert_eq(st_track_put_key(t, "2222-3333-4444", id, NULL), PB_EEXIST);
	cr_assert_eq(st_track_put_key(t, "2222-3333-4445", id, NULL), PB_OK);
	cr_assert_eq(st_track_lookup(t, "2222-3333-4444", got, gotkh), PB_OK);
	cr_assert_arr_eq(got, id, 16);
	cr_assert_arr_eq(gotkh, kh, 32);
	cr_assert_eq(st_track_lookup(t, "2222-3333-4445", got, gotkh), PB_OK);
	cr_assert_arr_eq(gotkh, zero, 32, "no key: zeros");
	cr_assert_eq(st_track_get(t, "2222-3333-4444", got), PB_OK);
	cr_assert_arr_eq(got, id, 16);
	memset(gotkh, 0x55, 32);
	cr_assert_eq(st_track_lookup(t, "9999-9999-9999", got, gotkh), PB_ENOTFOUND);
	cr_assert_arr_eq(gotkh, zero, 32, "defined output when missing");
	cr_assert_eq(st_txn_commit(t), PB_OK);
}

Test(store, queue_order_and_depth)
{
	/* pushed out of order; served by (prio, due, id) */
	struct st_qpos in[] = {
		{1, 500, {3}}, {1, -20, {1}}, {0, 9000, {9}}, {1, 0, {2}},
		{1, 500, {2}}, {2, -1000, {5}}, {1, INT64_MIN, {4}}, {1, INT64_MAX, {6}},
	};
	struct st_qpos want[] = {
		{0, 9000, {9}}, {1, INT64_MIN, {4}}, {1, -20, {1}}, {1, 0, {2}},
		{1, 500, {2}}, {1, 500, {3}}, {1, INT64_MAX, {6}}, {2, -1000, {5}},
	};
	struct st_qpos p, other = {0, 0, {0x77}};
	uint64_t depth;
	st_txn *t;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_queue_first(t, "general", &p), PB_ENOTFOUND);
	cr_assert_eq(st_queue_depth(t, "general", &depth), PB_OK);
	cr_assert_eq(depth, 0);
	for (size_t i = 0; i < 8; i++)
		cr_assert_eq(st_queue_push(t, "general", &in[i]), PB_OK);
	/* neighbours whose names extend or precede ours stay out */
	cr_assert_eq(st_queue_push(t, "generala", &other), PB_OK);
	cr_assert_eq(st_queue_push(t, "gen", &other), PB_OK);
	cr_assert_eq(st_queue_push(t, "general", &in[0]), PB_EEXIST);
	cr_assert_eq(st_queue_depth(t, "general", &depth), PB_OK);
	cr_assert_eq(depth, 8, "a refused duplicate must not count");
	cr_assert_eq(st_queue_remove(t, "general", &other), PB_ENOTFOUND);
	cr_assert_eq(st_queue_depth(t, "general", &depth), PB_OK);
	cr_assert_eq(depth, 8);
	cr_assert_eq(st_txn_commit(t), PB_OK);

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	for (size_t i = 0; i < 8; i++) {
		cr_assert_eq(st_queue_first(t, "general", &p), PB_OK);
		cr_assert_eq(p.prio, want[i].prio, "at %zu", i);
		cr_assert_eq(p.due_ms, want[i].due_ms, "at %zu", i);
		cr_assert_arr_eq(p.id, want[i].id, 16, "at %zu", i);
		cr_assert_eq(st_queue_remove(t, "general", &p), PB_OK);
		cr_assert_eq(st_queue_depth(t, "general", &depth), PB_OK);
		cr_assert_eq(depth, 7 - i);
	}
	cr_assert_eq(st_queue_first(t, "general", &p), PB_ENOTFOUND);
	cr_assert_eq(st_queue_first(t, "generala", &p), PB_OK);
	cr_assert_arr_eq(p.id, other.id, 16);
	cr_assert_eq(st_queue_depth(t, "gen", &depth), PB_OK);
	cr_assert_eq(depth, 1);
	cr_assert_eq(st_queue_push(t, "", &other), PB_EINVAL);
	cr_assert_eq(st_txn_commit(t), PB_OK);
}

Test(store, counters)
{
	int64_t v;
	st_txn *t;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_counter_get(t, "commits", &v), PB_OK);
	cr_assert_eq(v, 0, "an untouched counter reads zero");
	cr_assert_eq(st_counter_add(t, "commits", 5), PB_OK);
	cr_assert_eq(st_counter_add(t, "commits", -7), PB_OK);
	cr_assert_eq(st_counter_get(t, "commits", &v), PB_OK);
	cr_assert_eq(v, -2);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	fx_close();
	cr_assert_eq(fx_reopen(16, 0), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_counter_get(t, "commits", &v), PB_OK);
	cr_assert_eq(v, -2);
	st_txn_abort(t);
}

Test(store, leases_by_expiry)
{
	uint8_t a[16], b[16], c[16], id[16];
	int64_t exp;
	st_txn *t;

	memset(a, 1, 16);
	memset(b, 2, 16);
	memset(c, 3, 16);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_lease_first_expired(t, INT64_MAX, &exp, id), PB_ENOTFOUND);
	cr_assert_eq(st_lease_put(t, 2000, a), PB_OK);
	cr_assert_eq(st_lease_put(t, 1000, b), PB_OK);
	cr_assert_eq(st_lease_put(t, -50, c), PB_OK);
	cr_assert_eq(st_lease_first_expired(t, -51, &exp, id), PB_ENOTFOUND);
	cr_assert_eq(st_lease_first_expired(t, -50, &exp, id), PB_OK);
	cr_assert_eq(exp, -50);
	cr_assert_arr_eq(id, c, 16);
	cr_assert_eq(st_lease_del(t, -50, c), PB_OK);
	cr_assert_eq(st_lease_del(t, -50, c), PB_ENOTFOUND);
	cr_assert_eq(st_lease_first_expired(t, 999, &exp, id), PB_ENOTFOUND);
	cr_assert_eq(st_lease_first_expired(t, 5000, &exp, id), PB_OK);
	cr_assert_eq(exp, 1000);
	cr_assert_arr_eq(id, b, 16);
	cr_assert_eq(st_lease_del(t, 1000, a), PB_ENOTFOUND, "expiry and id must both match");
	cr_assert_eq(st_txn_commit(t), PB_OK);
}

Test(store, deadlines)
{
	uint8_t a[16];
	st_txn *t;

	memset(a, 5, 16);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_deadline_put(t, 1000, a, ST_CLOCK_ACK), PB_OK);
	cr_assert_eq(st_deadline_put(t, 1000, a, ST_CLOCK_REPLY), PB_OK);
	cr_assert_eq(st_deadline_put(t, 1000, a, ST_CLOCK_ACK), PB_OK, "put is idempotent");
	cr_assert_eq(st_deadline_del(t, 1000, a, ST_CLOCK_ACK), PB_OK);
	cr_assert_eq(st_deadline_del(t, 1000, a, ST_CLOCK_ACK), PB_ENOTFOUND);
	cr_assert_eq(st_deadline_del(t, 1001, a, ST_CLOCK_REPLY), PB_ENOTFOUND);
	cr_assert_eq(st_deadline_del(t, 1000, a, ST_CLOCK_REPLY), PB_OK);
	cr_assert_eq(st_txn_commit(t), PB_OK);
}

/* Entries under one due time are served in (due, id, clock) order
 * whatever order they came in, and a due time's entries are packed: a
 * working day's thousands of entries fill their pages. */
static void seq_id(uint8_t id[16], uint32_t i)
{
	memset(id, 0, 16);
	id[0] = (uint8_t)(i >> 24);
	id[1] = (uint8_t)(i >> 16);
	id[2] = (uint8_t)(i >> 8);
	id[3] = (uint8_t)i;
}

Test(store, deadlines_share_a_due_time)
{
	uint8_t id[16], got[16], clock;
	uint64_t pages, entries, before, after, map;
	int64_t due;
	st_txn *t;

	memset(id, 0, sizeof(id));
	cr_assert_eq(st_map_use(fx.env, &before, &map), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	/* Rising ids, as the router's (they start with their time), at two
	 * shared due times; then a few out of order. */
	for (uint32_t i = 100; i < 5100; i++) {
		seq_id(id, i);
		cr_assert_eq(st_deadline_put(t, 86400000, id, ST_CLOCK_ACK), PB_OK);
		cr_assert_eq(st_deadline_put(t, 2 * 86400000LL, id, ST_CLOCK_REPLY), PB_OK);
	}
	seq_id(id, 7);
	cr_assert_eq(st_deadline_put(t, 86400000, id, ST_CLOCK_REPLY), PB_OK);
	cr_assert_eq(st_deadline_put(t, 86400000, id, ST_CLOCK_ACK), PB_OK);
	cr_assert_eq(st_deadline_put(t, 86400000, id, ST_CLOCK_ACK), PB_OK, "again");
	cr_assert_eq(st_deadline_first_due(t, 86399999, &due, got, &clock), PB_ENOTFOUND);
	cr_assert_eq(st_deadline_first_due(t, 86400000, &due, got, &clock), PB_OK);
	cr_assert_eq(due, 86400000);
	cr_assert_arr_eq(got, id, 16, "the lowest id first");
	cr_assert_eq(clock, ST_CLOCK_ACK, "then the lowest clock byte");
	cr_assert_eq(st_deadline_del(t, 86400000, id, ST_CLOCK_ACK), PB_OK);
	cr_assert_eq(st_deadline_first_due(t, 86400000, &due, got, &clock), PB_OK);
	cr_assert_eq(clock, ST_CLOCK_REPLY);
	cr_assert_eq(st_deadline_del(t, 86400000, id, ST_CLOCK_REPLY), PB_OK);
	cr_assert_eq(st_deadline_first_due(t, 86400000, &due, got, &clock), PB_OK);
	seq_id(id, 100);
	cr_assert_arr_eq(got, id, 16);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	/* mdb_stat counts no duplicates' pages: the map's growth does. */
	cr_assert_eq(st_map_use(fx.env, &after, &map), PB_OK);
	fx_close();
	cr_assert_eq(raw_dbi_pages("deadline", &pages, &entries), 0);
	cr_assert_eq(entries, 10000);
	/* 17 bytes an entry: 10 000 fill 42 pages; one 25-byte key each, as
	 * before, took 35 bytes and pages about half full (170). */
	pages = (after - before) / 4096;
	cr_assert_leq(pages, 60, "%llu pages for 10 000 entries", (unsigned long long)pages);
}

Test(store, nested_txn_changes)
{
	uint8_t a[16], got[16];
	st_txn *t, *c, *g;

	memset(a, 0xc, 16);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, t, 0, &c), PB_OK);
	cr_assert_eq(st_track_put(c, "0000-0000-0002", a), PB_OK);
	st_txn_abort(c);
	cr_assert_eq(st_track_get(t, "0000-0000-0002", got), PB_ENOTFOUND);
	cr_assert_eq(st_txn_begin(fx.env, t, 0, &c), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, c, 0, &g), PB_OK);
	cr_assert_eq(st_track_put(g, "0000-0000-0003", a), PB_OK);
	cr_assert_eq(st_txn_commit(g), PB_OK);
	cr_assert_eq(st_txn_commit(c), PB_OK);
	cr_assert_eq(st_track_get(t, "0000-0000-0003", got), PB_OK);
	st_txn_abort(t);

	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_track_get(t, "0000-0000-0003", got), PB_ENOTFOUND, "top level aborted");
	st_txn_abort(t);
	st_txn_abort(NULL);
	cr_assert_eq(st_txn_commit(NULL), PB_EINVAL);
}

/* The commitment to a record's free text: BLAKE2b-256 keyed by the salt
 * over "mailroom/text/v1\n" field "\n" text; the value below is computed
 * independently of this code. */
Test(store, text_commitment_known_answer_keyed_and_domain_separated)
{
	uint8_t s1[ST_SALT_LEN], s2[ST_SALT_LEN] = {2}, a[ST_HASH_LEN], b[ST_HASH_LEN];
	char hex[2 * ST_HASH_LEN + 1];
	const char *t = "李主任";

	for (int i = 0; i < ST_SALT_LEN; i++)
		s1[i] = (uint8_t)i;
	st_text_commit(s1, "approver", t, strlen(t), a);
	pb_hex(a, sizeof(a), hex);
	cr_assert_str_eq(hex, "b7ceeb7142d3378870b3361e1f983c622a19a54e7bc3b10cf7d26d60760f9f73");
	st_text_commit(s1, "detail", t, strlen(t), b);
	cr_assert_neq(memcmp(a, b, sizeof(a)), 0, "another field, another commitment");
	st_text_commit(s2, "approver", t, strlen(t), b);
	cr_assert_neq(memcmp(a, b, sizeof(a)), 0, "another salt, another commitment");
	st_content_hash(s1, t, strlen(t), b);
	cr_assert_neq(memcmp(a, b, sizeof(a)), 0, "not the reply's content hash");
}

/* The sealed texts of a record: written once, in the record's
 * transaction (gone with it on abort), and opened by a read-only open
 * only once it is given the data key. */
Test(store, record_texts_once_with_their_transaction_and_the_data_key)
{
	static const char text[] = "属地管理";
	const uint8_t *got;
	uint8_t *sealed, *plain, key[32];
	size_t slen, len, plen;
	st_txn *t, *child;

	cr_assert_eq(st_seal(fx.env, (const uint8_t *)text, strlen(text), &sealed, &slen), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, t, 0, &child), PB_OK);
	cr_assert_eq(st_texts_put(child, 7, sealed, slen), PB_OK);
	st_txn_abort(child);
	cr_assert_eq(st_texts_get(t, 7, &got, &len), PB_ENOTFOUND, "gone with its transaction");
	cr_assert_eq(st_texts_put(t, 7, sealed, slen), PB_OK);
	cr_assert_eq(st_texts_put(t, 7, sealed, slen), PB_EEXIST, "never replaced");
	cr_assert_eq(st_texts_put(t, 8, sealed, 0), PB_EINVAL);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	free(sealed);

	memcpy(key, fx.keys.data_key, sizeof(key));
	fx_close();
	cr_assert_eq(fx_reopen(0, 1), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_texts_get(t, 7, &got, &len), PB_OK);
	cr_assert_eq(st_unseal(fx.env, got, len, &plain, &plen), PB_EINVAL, "no key, no texts");
	st_data_key_set(fx.env, key);
	cr_assert_eq(st_unseal(fx.env, got, len, &plain, &plen), PB_OK);
	cr_assert_eq(plen, strlen(text));
	cr_assert_eq(memcmp(plain, text, plen), 0);
	free(plain);
	cr_assert_eq(st_seal(fx.env, (const uint8_t *)text, 1, &sealed, &slen), PB_EINVAL,
	             "a reader never seals");
	cr_assert_eq(st_texts_get(t, 8, &got, &len), PB_ENOTFOUND);
	st_txn_abort(t);
}

/* Witness cosignatures: one line per witness and checkpoint size (a newer
 * one of the same witness replaces it), read back together in key-id
 * order, the newest cosigned size found, gone with an aborted
 * transaction, and readable by a read-only open. */
Test(store, witness_cosignatures_by_size)
{
	static const uint8_t w1[ST_KEYID_LEN] = {1, 1, 1, 1}, w2[ST_KEYID_LEN] = {2, 2, 2, 2};
	static const char a[] = "\xe2\x80\x94 w1 AAAA\n", b[] = "\xe2\x80\x94 w2 BBBB\n",
	                  a2[] = "\xe2\x80\x94 w1 CCCC\n";
	st_txn *t, *child;
	char *lines;
	size_t len;
	uint64_t size;

	cr_assert_eq(st_txn_begin(fx.env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_cosig_latest(t, &size), PB_ENOTFOUND);
	cr_assert_eq(st_cosig_get(t, 5, &lines, &len), PB_OK);
	cr_assert_null(lines);
	cr_assert_eq(len, 0);
	cr_assert_eq(st_txn_begin(fx.env, t, 0, &child), PB_OK);
	cr_assert_eq(st_cosig_put(child, 9, w1, a, strlen(a)), PB_OK);
	st_txn_abort(child);
	cr_assert_eq(st_cosig_latest(t, &size), PB_ENOTFOUND, "gone with its transaction");
	cr_assert_eq(st_cosig_put(t, 5, w2, b, strlen(b)), PB_OK);
	cr_assert_eq(st_cosig_put(t, 5, w1, a, strlen(a)), PB_OK);
	cr_assert_eq(st_cosig_put(t, 6, w1, a, strlen(a)), PB_OK);
	cr_assert_eq(st_cosig_put(t, 6, w1, a2, strlen(a2)), PB_OK);
	cr_assert_eq(st_cosig_put(t, 7, w1, "no newline", 10), PB_EINVAL);
	cr_assert_eq(st_cosig_put(t, 7, w1, "", 0), PB_EINVAL);
	cr_assert_eq(st_txn_commit(t), PB_OK);

	fx_close();
	cr_assert_eq(fx_reopen(0, 1), PB_OK);
	cr_assert_eq(st_txn_begin(fx.env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_cosig_get(t, 5, &lines, &len), PB_OK);
	cr_assert_eq(len, strlen(a) + strlen(b));
	cr_assert_str_eq(lines, "\xe2\x80\x94 w1 AAAA\n\xe2\x80\x94 w2 BBBB\n");
	free(lines);
	cr_assert_eq(st_cosig_get(t, 6, &lines, &len), PB_OK);
	cr_assert_str_eq(lines, a2, "the newer line of a witness replaces its older");
	free(lines);
	cr_assert_eq(st_cosig_get(t, 4, &lines, &len), PB_OK);
	cr_assert_null(lines);
	cr_assert_eq(st_cosig_latest(t, &size), PB_OK);
	cr_assert_eq(size, 6);
	st_txn_abort(t);
}
