/* The writer thread's optimistic path (rt_writer.c): a batch of plain
 * submits runs straight in the batch's transaction; when one of them
 * fails, the batch is aborted and redone with a nested transaction per
 * request, so the answers and the store are what the nested path gives:
 * the failing ones answered their errors, the others stored once, under
 * a checkpoint the auditor's walk accepts, nothing of a failed one left. */
#include "fixture.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

struct sub {
	struct fx_submit f;
	struct rt_op op;
	Mailroom__Response *resp;   /* the answer, unpacked */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int answered;

static void on_done(struct rt_op *op, void *arg)
{
	struct sub *x = arg;

	x->resp = mailroom__response__unpack(NULL, op->outlen, op->out);
	free(op->out);
	op->out = NULL;
	pthread_mutex_lock(&mu);
	answered++;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

/* A citizen's letter; prepared as the receiving thread would when prep. */
static void sub_init(struct sub *x, int channel, const char *subject, const char *phone, int prep)
{
	memset(x, 0, sizeof(*x));
	fx_submit_init(&x->f, channel, subject, "小区门口的灯坏了三天，晚上出行很不方便。", phone);
	x->op.who = gw;
	x->op.req = &x->f.req;
	x->op.done = on_done;
	x->op.arg = x;
	if (prep)
		rt_prepare(&core, &x->f.req, &x->op.prep);
}

/* Hands the n letters to the writer as one list (one batch: the writer
 * takes the whole list under one lock) and waits for every answer. */
static void run_batch(struct rt_writer *w, struct sub **v, int n)
{
	for (int i = 0; i < n; i++)
		v[i]->op.next = i + 1 < n ? &v[i + 1]->op : NULL;
	pthread_mutex_lock(&mu);
	answered = 0;
	pthread_mutex_unlock(&mu);
	rt_writer_submit_list(w, &v[0]->op);
	pthread_mutex_lock(&mu);
	while (answered < n)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < n; i++)
		cr_assert_not_null(v[i]->resp, "answer %d unpacks", i);
}

static Mailroom__StoredMessage *stored(const struct sub *x)
{
	Mailroom__StoredMessage *m = NULL;
	st_txn *t;

	cr_assert_eq(x->resp->code, PB_OK, "%s", x->resp->message ? x->resp->message : "");
	cr_assert_eq(x->resp->submit->message->id.len, PB_ID_LEN);
	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_msg_get(t, x->resp->submit->message->id.data, &m), PB_OK,
	             "the answered id is stored");
	st_txn_abort(t);
	return m;
}

static int count_one(const Mailroom__StoredMessage *m, void *arg)
{
	(void)m;
	(*(int *)arg)++;
	return 0;
}

static void store_size(int *msgs, uint64_t *records)
{
	st_txn *t;

	*msgs = 0;
	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_msg_each(t, count_one, msgs), PB_OK);
	cr_assert_eq(st_log_size(t, records), PB_OK);
	st_txn_abort(t);
}

/* Every entry of the deadline index, each checked to name a stored
 * message (taken out one by one in a transaction then aborted). */
static int deadlines_of_stored(void)
{
	Mailroom__StoredMessage *m;
	uint8_t id[PB_ID_LEN], clock;
	int64_t due;
	int n = 0, rc;
	st_txn *t;

	cr_assert_eq(st_txn_begin(core.store, NULL, 0, &t), PB_OK);
	while ((rc = st_deadline_first_due(t, INT64_MAX, &due, id, &clock)) == PB_OK) {
		cr_assert_eq(st_msg_get(t, id, &m), PB_OK, "a deadline of a message never stored");
		st_msg_free(m);
		cr_assert_eq(st_deadline_del(t, due, id, clock), PB_OK);
		n++;
	}
	cr_assert_eq(rc, PB_ENOTFOUND);
	st_txn_abort(t);
	return n;
}

static void free_sub(struct sub *x)
{
	mailroom__response__free_unpacked(x->resp, NULL);
	x->resp = NULL;
}

Test(writer, a_failing_submit_redoes_the_batch_nested, .init = fx_setup, .fini = fx_teardown)
{
	struct sub a, a2, bad, c, bad2, d, e;
	struct sub *batch1[] = {&a, &a2, &bad, &c, &bad2}, *batch2[] = {&d, &e};
	struct rt_writer *w;
	struct st_verify_report rep;
	uint64_t records0, records;
	int msgs;
	uint8_t short_key[5] = {1, 2, 3, 4, 5};
	char *missing[] = {"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"};

	store_size(&msgs, &records0);
	cr_assert_eq(msgs, 0);
	/* a and a2 are the same letter from the same phone: a2 is stored as
	 * a repeat of a, a scan made in the batch's own transaction. bad
	 * fails after both were applied; c, unprepared, comes after it. */
	sub_init(&a, MAILROOM__CHANNEL__CHANNEL_MAILBOX, "幸福路路灯不亮", "13800000000", 1);
	sub_init(&a2, MAILROOM__CHANNEL__CHANNEL_MAILBOX, "幸福路路灯不亮", "13800000000", 1);
	sub_init(&bad, MAILROOM__CHANNEL__CHANNEL_COMPLAINT, "窗口服务态度差", "13900000000", 1);
	/* A file never uploaded: refused after its tracking code and
	 * deadlines were written, which the abort must take away. */
	bad.f.s.attachments = missing;
	bad.f.s.n_attachments = 1;
	sub_init(&bad2, MAILROOM__CHANNEL__CHANNEL_MAILBOX, "垃圾清运不及时", "13600000000", 1);
	bad2.f.s.idem_key.data = short_key;
	bad2.f.s.idem_key.len = sizeof(short_key);
	bad2.f.s.idem_body.data = short_key;
	bad2.f.s.idem_body.len = sizeof(short_key);
	sub_init(&c, MAILROOM__CHANNEL__CHANNEL_CONSULTATION, "公积金提取要带什么材料", "13700000000", 0);

	cr_assert_eq(rt_writer_start(&core, NULL, NULL, &w), PB_OK);
	uint64_t redos0 = atomic_load(&core.writer_redos);
	run_batch(w, batch1, 5);
	cr_expect_eq(atomic_load(&core.writer_redos), redos0 + 1, "the batch was redone nested");

	/* The failing one answered its own error, as the nested path says it. */
	cr_expect_eq(bad.resp->code, PB_EINVAL);
	cr_expect_str_eq(bad.resp->error, "invalid_attachment");
	cr_expect_null(bad.resp->submit);
	cr_expect_eq(bad2.resp->code, PB_EINVAL);
	cr_expect_str_eq(bad2.resp->error, "invalid_request");

	/* The others: stored once each, under the ids they were answered. */
	Mailroom__StoredMessage *ma = stored(&a), *ma2 = stored(&a2), *mc = stored(&c);
	store_size(&msgs, &records);
	cr_expect_eq(msgs, 3, "three letters stored, none twice");
	cr_expect_eq(ma->repeat_of.len, 0);
	cr_assert_eq(ma2->repeat_of.len, PB_ID_LEN, "a2 flagged as a repeat");
	cr_expect_eq(memcmp(ma2->repeat_of.data, ma->id.data, PB_ID_LEN), 0,
	             "of the a that was stored, not of the aborted pass's");
	cr_expect_eq(mc->repeat_of.len, 0);
	/* received + routed each, and a2's repeat flag: nothing of the
	 * aborted pass is left in the log. */
	cr_expect_eq(records, records0 + 7, "log %llu -> %llu", (unsigned long long)records0,
	             (unsigned long long)records);
	cr_expect_eq(a.resp->submit->receipt->log_index, records0, "a's received record comes first");
	cr_expect_eq(ma->received_log_index, records0);
	cr_expect_eq(ma2->received_log_index, records0 + 2);
	cr_expect_eq(mc->received_log_index, records0 + 5);
	cr_expect_eq(a2.resp->submit->receipt->log_index, records0 + 2);
	cr_expect_eq(c.resp->submit->receipt->log_index, records0 + 5);

	/* A batch where nothing fails stays on the direct path. */
	sub_init(&d, MAILROOM__CHANNEL__CHANNEL_MAILBOX, "幸福路路灯不亮", "13800000000", 1);
	sub_init(&e, MAILROOM__CHANNEL__CHANNEL_COMPLAINT, "窗口服务态度差", "13900000000", 1);
	run_batch(w, batch2, 2);
	cr_expect_eq(atomic_load(&core.writer_redos), redos0 + 1, "no redo");
	Mailroom__StoredMessage *md = stored(&d), *me = stored(&e);
	cr_assert_eq(md->repeat_of.len, PB_ID_LEN);
	/* a and a2 share a millisecond: either is the earlier letter. */
	cr_expect(memcmp(md->repeat_of.data, ma2->id.data, PB_ID_LEN) == 0 ||
	              memcmp(md->repeat_of.data, ma->id.data, PB_ID_LEN) == 0,
	          "of a stored letter");
	store_size(&msgs, &records);
	cr_expect_eq(msgs, 5);
	cr_expect_eq(records, records0 + 7 + 5);

	rt_writer_stop(w);
	rt_writer_free(w);
	/* mailroom-audit verify's walk: every record under a signed checkpoint. */
	cr_assert_eq(st_verify(core.store, NULL, &rep), PB_OK);
	cr_expect_eq(rep.fail, ST_VERIFY_OK, "%s", rep.detail);
	cr_expect_eq(rep.records, records);
	int nd = deadlines_of_stored();
	cr_expect_eq(nd, 3 * 5, "three timers for each stored letter, no more: %d", nd);

	struct sub *all[] = {&a, &a2, &bad, &c, &bad2, &d, &e};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		free_sub(all[i]);   /* the writer freed each prep with its answer */
	}
	st_msg_free(ma);
	st_msg_free(ma2);
	st_msg_free(mc);
	st_msg_free(md);
	st_msg_free(me);
}
