/* The router's side of notices (router/rt_notice.c), against a real
 * store: a notice per event and medium in the transaction of the change,
 * sealed at rest; only mailroom-notify reads contacts in the clear; the
 * verdicts remove, dead-letter (with an alert record naming no one) and
 * requeue; a citizen's opt-out stops what waits and what comes. */
#include "fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct pb_connector notify_conn;
static struct rt_principal notifier;

static void setup(void)
{
	fx_setup();
	snprintf(notify_conn.name, sizeof(notify_conn.name), "notify");
	notify_conn.notify = 1;
	notifier = (struct rt_principal){.kind = MAILROOM__AUTH_KIND__AUTH_CONNECTOR,
	                                 .connector = &notify_conn};
}

TestSuite(notices, .init = setup, .fini = fx_teardown);

static Mailroom__NoticesResp *list(const struct rt_principal *who, int dead, struct rt_result *res)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__NoticesReq q = MAILROOM__NOTICES_REQ__INIT;

	q.dead = dead;
	req.op_case = MAILROOM__REQUEST__OP_NOTICES;
	req.notices = &q;
	cr_assert_eq(read_op(who, &req, res), PB_OK, "%s", res->resp.message);
	return res->resp.notices;
}

static int verdict(uint64_t seq, int v, const char *why, struct rt_result *res)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__NoticeAckReq q = MAILROOM__NOTICE_ACK_REQ__INIT;
	Mailroom__NoticeAck a = MAILROOM__NOTICE_ACK__INIT, *pa = &a;

	a.seq = seq;
	a.verdict = v;
	a.error = (char *)why;
	a.attempts = 3;
	q.acks = &pa;
	q.n_acks = 1;
	req.op_case = MAILROOM__REQUEST__OP_NOTICE_ACK;
	req.notice_ack = &q;
	return apply(&notifier, &req, pb_now_ms(), res);
}

struct scan {
	const char *needle;
	int hit;
};

static int scan_one(uint64_t seq, const uint8_t *v, size_t len, void *arg)
{
	struct scan *x = arg;

	(void)seq;
	x->hit |= memmem(v, len, x->needle, strlen(x->needle)) != NULL;
	return 0;
}

/* Does any stored (sealed) value hold needle in the clear? */
static int raw_contains(int dead, const char *needle)
{
	struct scan s = {needle, 0};
	st_txn *t;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_notice_each(t, dead, 0, 1000, scan_one, &s), PB_OK);
	st_txn_abort(t);
	return s.hit;
}

Test(notices, a_receipt_notice_sealed_and_read_by_the_notifier_alone)
{
	struct posted p;
	struct rt_result res;
	char idhex[2 * PB_ID_LEN + 1], want[128];
	Mailroom__NoticesResp *n;

	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "小区路灯不亮", pb_now_ms(), &p);
	n = list(&notifier, 0, &res);
	cr_assert_eq(n->n_entries, 1);
	cr_assert_eq(n->pending, 1);
	Mailroom__NoticeEntry *e = n->entries[0];
	cr_expect_str_eq(e->kind, "receipt");
	cr_expect_str_eq(e->medium, "sms");
	cr_expect_str_eq(e->to, "13800000000");
	cr_expect_str_eq(e->tracking_code, p.code);
	cr_expect_eq(e->log_index, p.log_index, "the notice names the RECEIVED record");
	pb_hex(p.id, PB_ID_LEN, idhex);
	snprintf(want, sizeof(want), "%s-%llu-receipt-sms", idhex, (unsigned long long)p.log_index);
	cr_expect_str_eq(e->event_id, want);
	rt_result_clear(&res);
	/* At rest the contact is sealed. */
	cr_expect_not(raw_contains(0, "13800000000"));
	cr_expect_not(raw_contains(0, p.code));

	/* A handler recognises it, no more; others may not read at all. */
	n = list(&alice, 0, &res);
	cr_expect_str_eq(n->entries[0]->to, "138****0000");
	rt_result_clear(&res);
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__NoticesReq q = MAILROOM__NOTICES_REQ__INIT;
	req.op_case = MAILROOM__REQUEST__OP_NOTICES;
	req.notices = &q;
	cr_expect_eq(read_op(&connector, &req, &res), PB_EFORBIDDEN, "the 12345 connector");
	rt_result_clear(&res);
	cr_expect_eq(read_op(&gw, &req, &res), PB_EFORBIDDEN, "the gateway");
	rt_result_clear(&res);
	/* and only the notifier gives verdicts */
	Mailroom__NoticeAckReq aq = MAILROOM__NOTICE_ACK_REQ__INIT;
	mailroom__request__init(&req);
	req.op_case = MAILROOM__REQUEST__OP_NOTICE_ACK;
	req.notice_ack = &aq;
	cr_expect_eq(apply(&alice, &req, pb_now_ms(), &res), PB_EFORBIDDEN);
	rt_result_clear(&res);
}

Test(notices, sent_removes_once_dead_letters_alert_and_requeue)
{
	struct posted p, p2;
	struct rt_result res;
	Mailroom__NoticesResp *n;
	uint64_t seq, seq2, size;

	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "噪音扰民", pb_now_ms(), &p);
	post(MAILROOM__CHANNEL__CHANNEL_COMPLAINT, "窗口态度差", pb_now_ms(), &p2);
	n = list(&notifier, 0, &res);
	cr_assert_eq(n->n_entries, 2);
	seq = n->entries[0]->seq;
	seq2 = n->entries[1]->seq;
	cr_assert_gt(seq2, seq);
	rt_result_clear(&res);

	cr_assert_eq(verdict(seq, MAILROOM__NOTICE_VERDICT__NOTICE_SENT, NULL, &res), PB_OK);
	cr_expect_eq(res.resp.notice_ack->applied, 1);
	rt_result_clear(&res);
	/* A repeat after a lost answer changes nothing. */
	cr_assert_eq(verdict(seq, MAILROOM__NOTICE_VERDICT__NOTICE_SENT, NULL, &res), PB_OK);
	cr_expect_eq(res.resp.notice_ack->missing, 1);
	rt_result_clear(&res);

	st_txn *t;
	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &size), PB_OK);
	st_txn_abort(t);
	cr_assert_eq(verdict(seq2, MAILROOM__NOTICE_VERDICT__NOTICE_DEAD,
	                     "sms: InvalidParameterValue.IncorrectPhoneNumber 13800000000", &res),
	             PB_OK);
	cr_expect_eq(res.resp.notice_ack->applied, 1);
	rt_result_clear(&res);
	n = list(&notifier, 1, &res);
	cr_assert_eq(n->n_entries, 1);
	cr_expect_eq(n->pending, 0);
	cr_expect_eq(n->dead, 1);
	cr_expect_eq(n->sent, 1);
	cr_expect_eq(n->entries[0]->attempts, 3);
	cr_expect(strstr(n->entries[0]->error, "IncorrectPhoneNumber"));
	cr_expect_gt(n->entries[0]->dead_ms, 0);
	rt_result_clear(&res);
	cr_expect_not(raw_contains(1, "13800000000"), "dead letters are sealed too");

	/* The alert record names the event, not the citizen or the provider's words. */
	const uint8_t *v;
	size_t len;
	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_get(t, size, &v, &len), PB_OK);
	Mailroom__AuditRecord *r = mailroom__audit_record__unpack(NULL, len, v);
	cr_assert_not_null(r);
	cr_expect_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_NOTICE_DEAD);
	cr_expect(strstr(r->event_id, "-receipt-sms"), "%s", r->event_id);
	cr_expect_eq(r->message_id.len, PB_ID_LEN);
	cr_expect(memcmp(r->message_id.data, p2.id, PB_ID_LEN) == 0);
	cr_expect_not(memmem(v, len, "13800000000", 11));
	cr_expect_not(memmem(v, len, "IncorrectPhone", 14));
	mailroom__audit_record__free_unpacked(r, NULL);
	st_txn_abort(t);

	cr_assert_eq(verdict(seq2, MAILROOM__NOTICE_VERDICT__NOTICE_REQUEUE, NULL, &res), PB_OK);
	rt_result_clear(&res);
	n = list(&notifier, 0, &res);
	cr_expect_eq(n->n_entries, 1);
	cr_expect_eq(n->dead, 0);
	cr_expect_eq(n->entries[0]->seq, seq2);
	rt_result_clear(&res);
}

Test(notices, opting_out_drops_what_waits_and_what_comes)
{
	struct posted p;
	struct rt_result res;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__NoticesOffReq q = MAILROOM__NOTICES_OFF_REQ__INIT;
	uint8_t wrong[PB_AKEY_HASH_LEN] = {1};

	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "小区路灯不亮", pb_now_ms(), &p);
	q.tracking_code = p.code;
	q.access_key_hash.data = wrong;
	q.access_key_hash.len = sizeof(wrong);
	req.op_case = MAILROOM__REQUEST__OP_NOTICES_OFF;
	req.notices_off = &q;
	cr_expect_eq(apply(&gw, &req, pb_now_ms(), &res), PB_ENOTFOUND, "a wrong key");
	rt_result_clear(&res);
	cr_expect_eq(list(&notifier, 0, &res)->n_entries, 1);
	rt_result_clear(&res);

	q.access_key_hash.data = p.key_hash;
	cr_assert_eq(apply(&gw, &req, pb_now_ms(), &res), PB_OK, "%s", res.resp.message);
	cr_expect(res.resp.notices_off->notices_off);
	cr_expect_null(res.resp.notices_off->contact);
	rt_result_clear(&res);
	cr_expect_eq(list(&notifier, 0, &res)->n_entries, 0, "the waiting receipt is dropped");
	rt_result_clear(&res);
	/* Twice is once: no second record. */
	cr_assert_eq(apply(&gw, &req, pb_now_ms(), &res), PB_OK);
	cr_expect_eq(res.nrecords, 0);
	rt_result_clear(&res);

	/* A reply later tells no one. */
	Mailroom__PullResp *pr = pull(&alice, p.queue, pb_now_ms(), &res, PB_OK);
	uint8_t token[64];
	size_t tl = pr->lease->token.len;
	memcpy(token, pr->lease->token.data, tl);
	rt_result_clear(&res);
	cr_assert_eq(lease_op(&alice, MAILROOM__REQUEST__OP_REPLY, p.id, token, "已修复。", pb_now_ms(),
	                      &res),
	             PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);
	cr_expect_eq(list(&notifier, 0, &res)->n_entries, 0);
	rt_result_clear(&res);
}

Test(notices, a_reply_tells_and_invites_a_rating_12345_orders_tell_nothing)
{
	struct posted p;
	struct rt_result res;
	Mailroom__NoticesResp *n;

	post(MAILROOM__CHANNEL__CHANNEL_CONSULTATION, "办证需要什么材料", pb_now_ms(), &p);
	Mailroom__PullResp *pr = pull(&alice, p.queue, pb_now_ms(), &res, PB_OK);
	uint8_t token[64];
	size_t tl = pr->lease->token.len;
	memcpy(token, pr->lease->token.data, tl);
	rt_result_clear(&res);
	cr_assert_eq(lease_op(&alice, MAILROOM__REQUEST__OP_REPLY, p.id, token, "请携带身份证。",
	                      pb_now_ms(), &res),
	             PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);
	n = list(&notifier, 0, &res);
	cr_assert_eq(n->n_entries, 3);
	cr_expect_str_eq(n->entries[0]->kind, "receipt");
	cr_expect_str_eq(n->entries[1]->kind, "replied");
	cr_expect_str_eq(n->entries[2]->kind, "rate");
	cr_expect_eq(n->entries[1]->log_index, n->entries[2]->log_index);
	rt_result_clear(&res);
}

Test(notices, an_extension_tells_the_new_deadline_and_days_never_the_reason)
{
	struct posted p;
	struct rt_result res;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__ClockReq c = MAILROOM__CLOCK_REQ__INIT;
	Mailroom__NoticesResp *n;
	int64_t now = pb_now_ms();

	conf.policy.reply[PB_CH_MAILBOX].working_days = 20;
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "信息公开", now, &p);
	c.id.data = p.id;
	c.id.len = PB_ID_LEN;
	c.action = MAILROOM__CLOCK_ACTION__CLOCK_EXTEND;
	c.working_days = 10;
	c.approver = "李主任";
	c.reason = "需要调取档案";
	req.op_case = MAILROOM__REQUEST__OP_CLOCK;
	req.clock = &c;
	cr_assert_eq(apply(&alice, &req, now, &res), PB_OK, "%s", res.resp.message);
	int64_t due = res.resp.clock->reply_due_ms;
	cr_assert_gt(due, p.reply_due);
	rt_result_clear(&res);
	n = list(&notifier, 0, &res);
	cr_assert_eq(n->n_entries, 2);
	cr_expect_str_eq(n->entries[1]->kind, "extended");
	cr_expect_eq(n->entries[1]->extended_days, 10);
	cr_expect_eq(n->entries[1]->due_ms, due, "the new deadline");
	rt_result_clear(&res);
	cr_expect_not(raw_contains(0, "调取档案"));
	/* The entry holds no reason at all, sealed or not: only general words go out. */
	n = list(&notifier, 0, &res);
	size_t len = mailroom__notice_entry__get_packed_size(n->entries[1]);
	uint8_t buf[1024];
	cr_assert_lt(len, sizeof(buf));
	mailroom__notice_entry__pack(n->entries[1], buf);
	cr_expect_not(memmem(buf, len, "调取档案", strlen("调取档案")));
	cr_expect_not(memmem(buf, len, "李主任", strlen("李主任")));
	rt_result_clear(&res);
}
