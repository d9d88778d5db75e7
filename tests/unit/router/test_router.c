/* Router operations against a real store and the real calendars: intake,
 * routing, deadlines, leases, replies, transfers, expiry, status lookups
 * and the nonce cache. */
#include "fixture.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

TestSuite(router, .init = fx_setup, .fini = fx_teardown);






Test(router, intake_routes_and_computes_deadlines)
{
	struct posted a, b;
	char buf[40];

	/* 2025-09-26 (Fri) + 15 working days crosses the National Day week. */
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "小区路灯不亮", at("2025-09-26T10:00:00+08:00"), &a);
	cr_assert_str_eq(a.queue, "roads");
	pb_time_fmt(a.reply_due, buf, sizeof(buf), 0);
	cr_assert_str_eq(buf, "2025-10-23T23:59:59+08:00");
	pb_time_fmt(a.ack_due, buf, sizeof(buf), 0);
	cr_assert_str_eq(buf, "2025-09-28T23:59:59+08:00", "Sunday 09-28 is a make-up working day");
	post(MAILROOM__CHANNEL__CHANNEL_CONSULTATION, "办事指南", at("2025-09-26T10:00:00+08:00"), &b);
	cr_assert_str_eq(b.queue, "general");
	pb_time_fmt(b.reply_due, buf, sizeof(buf), 0);
	cr_assert_str_eq(buf, "2025-10-10T23:59:59+08:00");
	cr_assert_str_neq(a.code, b.code);
	cr_assert_gt(b.log_index, a.log_index);
}

Test(router, submit_validates_what_reaches_it)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SubmitReq s = MAILROOM__SUBMIT_REQ__INIT;
	struct rt_result res;
	uint8_t h[PB_AKEY_HASH_LEN] = {1};
	char big[1000];

	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &s;
	s.channel = MAILROOM__CHANNEL__CHANNEL_MAILBOX;
	s.subject = "ok";
	s.body = "\xff\xfe";
	s.access_key_hash.data = h;
	s.access_key_hash.len = sizeof(h);
	cr_assert_eq(apply(&gw, &req, pb_now_ms(), &res), PB_EINVAL);
	rt_result_clear(&res);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s.body = "fine";
	s.subject = big;   /* 999 characters */
	cr_assert_eq(apply(&gw, &req, pb_now_ms(), &res), PB_EINVAL);
	rt_result_clear(&res);
	s.subject = "ok";
	s.access_key_hash.len = 0;
	cr_assert_eq(apply(&gw, &req, pb_now_ms(), &res), PB_EINVAL);
	rt_result_clear(&res);
	/* handlers cannot submit; gateways cannot pull */
	s.access_key_hash.len = sizeof(h);
	cr_assert_eq(apply(&alice, &req, pb_now_ms(), &res), PB_EFORBIDDEN);
	rt_result_clear(&res);
}



Test(router, pull_reply_and_status)
{
	struct posted a;
	struct rt_result res, r2;
	int64_t now = pb_now_ms();
	uint8_t token[16];

	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "咨询社保", now, &a);
	Mailroom__PullResp *pr = pull(&alice, "general", now, &res, PB_OK);
	cr_assert_not_null(pr->message);
	cr_assert_eq(memcmp(pr->message->id.data, a.id, PB_ID_LEN), 0);
	cr_assert_not_null(pr->message->contact, "handlers see the contact");
	cr_assert_str_eq(pr->message->contact->phone, "13800000000");
	cr_assert_eq(pr->lease->token.len, 16);
	memcpy(token, pr->lease->token.data, 16);
	rt_result_clear(&res);

	/* nothing else is queued: an empty answer that asks to park when waiting */
	pr = pull(&alice, "general", now, &res, PB_OK);
	cr_assert_null(pr->message);
	rt_result_clear(&res);

	/* a wrong token, then the right one */
	uint8_t bad[16];
	memcpy(bad, token, 16);
	bad[0] ^= 1;
	cr_assert_eq(lease_op(&alice, MAILROOM__REQUEST__OP_REPLY, a.id, bad, "答复", now, &res), PB_ELEASE);
	rt_result_clear(&res);
	cr_assert_eq(lease_op(&alice, MAILROOM__REQUEST__OP_REPLY, a.id, token, "已转社保中心办理。", now, &res),
	             PB_OK);
	cr_assert_eq(res.resp.reply->status, MAILROOM__STATUS__STATUS_REPLIED);
	rt_result_clear(&res);
	cr_assert_eq(lease_op(&alice, MAILROOM__REQUEST__OP_REPLY, a.id, token, "again", now, &res), PB_ESTATE);
	rt_result_clear(&res);

	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__StatusReq s = MAILROOM__STATUS_REQ__INIT;
	req.op_case = MAILROOM__REQUEST__OP_STATUS;
	req.status = &s;
	s.tracking_code = a.code;
	s.access_key_hash.data = a.key_hash;
	s.access_key_hash.len = PB_AKEY_HASH_LEN;
	cr_assert_eq(read_op(&gw, &req, &r2), PB_OK);
	cr_assert_str_eq(r2.resp.status->reply_text, "已转社保中心办理。");
	cr_assert_eq(r2.resp.status->status, MAILROOM__STATUS__STATUS_REPLIED);
	cr_assert_str_empty(r2.resp.status->replied_by, "citizens do not see who replied");
	rt_result_clear(&r2);
	uint8_t wrong[PB_AKEY_HASH_LEN];
	memcpy(wrong, a.key_hash, sizeof(wrong));
	wrong[31] ^= 1;
	s.access_key_hash.data = wrong;
	cr_assert_eq(read_op(&gw, &req, &r2), PB_ENOTFOUND);
	cr_assert_str_eq(r2.resp.error, "not_found");
	rt_result_clear(&r2);
	s.tracking_code = "1000-0000-0000";
	s.access_key_hash.data = a.key_hash;
	cr_assert_eq(read_op(&gw, &req, &r2), PB_ENOTFOUND);
	cr_assert_str_eq(r2.resp.error, "not_found");
	rt_result_clear(&r2);
}

Test(router, leases_expire_back_to_the_head_and_late_answers_fail)
{
	struct posted a, b;
	struct rt_result res;
	int64_t now = pb_now_ms();
	uint8_t token[16];
	st_txn *top, *child;

	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "路灯一", now, &a);
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "路灯二", now + 1, &b);
	Mailroom__PullResp *pr = pull(&bob, "roads", now, &res, PB_OK);
	cr_assert_eq(memcmp(pr->message->id.data, a.id, PB_ID_LEN), 0);
	memcpy(token, pr->lease->token.data, 16);
	rt_result_clear(&res);

	/* renew pushes the expiry out */
	int64_t later = now + 30 * 1000;
	cr_assert_eq(lease_op(&bob, MAILROOM__REQUEST__OP_RENEW, a.id, token, NULL, later, &res), PB_OK);
	cr_assert_eq(res.resp.renew->expires_ms, later + 60 * 1000);
	rt_result_clear(&res);

	/* nothing has expired at later + 59 s */
	int64_t gone = later + 61 * 1000;
	rt_result_init(&res);
	cr_assert_eq(st_txn_begin(core.store, NULL, 0, &top), PB_OK);
	cr_assert_eq(st_txn_begin(core.store, top, 0, &child), PB_OK);
	cr_assert_eq(rt_expire_one(&core, child, later + 59 * 1000, &res), PB_ENOTFOUND);
	st_txn_abort(child);
	cr_assert_eq(st_txn_begin(core.store, top, 0, &child), PB_OK);
	cr_assert_eq(rt_expire_one(&core, child, gone, &res), PB_OK);
	cr_assert_eq(st_txn_commit(child), PB_OK);
	cr_assert_eq(st_txn_commit(top), PB_OK);
	cr_assert_str_eq(res.touched_queue, "roads");
	rt_result_clear(&res);

	/* the late reply is refused, and the expired message is served before b */
	cr_assert_eq(lease_op(&bob, MAILROOM__REQUEST__OP_REPLY, a.id, token, "迟到的答复", gone, &res),
	             PB_ELEASE);
	rt_result_clear(&res);
	pr = pull(&alice, "roads", gone, &res, PB_OK);
	cr_assert_eq(memcmp(pr->message->id.data, a.id, PB_ID_LEN), 0);
	rt_result_clear(&res);
}

Test(router, transfer_moves_between_queues_and_checks_rights)
{
	struct posted a;
	struct rt_result res;
	int64_t now = pb_now_ms();
	uint8_t token[16];

	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "路灯", now, &a);
	pull(&alice, "general", now, &res, PB_OK);   /* nothing in general */
	rt_result_clear(&res);
	pull(&bob, "general", now, &res, PB_EFORBIDDEN);
	rt_result_clear(&res);
	Mailroom__PullResp *pr = pull(&alice, "roads", now, &res, PB_OK);
	memcpy(token, pr->lease->token.data, 16);
	rt_result_clear(&res);
	cr_assert_eq(lease_op(&bob, MAILROOM__REQUEST__OP_RELEASE, a.id, token, NULL, now, &res),
	             PB_ELEASE, "another handler cannot use alice's lease");
	rt_result_clear(&res);
	cr_assert_eq(lease_op(&alice, MAILROOM__REQUEST__OP_TRANSFER, a.id, token, "nowhere", now, &res),
	             PB_EINVAL);
	rt_result_clear(&res);
	cr_assert_eq(lease_op(&alice, MAILROOM__REQUEST__OP_TRANSFER, a.id, token, "general", now, &res),
	             PB_OK);
	cr_assert_str_eq(res.resp.transfer->queue, "general");
	rt_result_clear(&res);
	pr = pull(&alice, "general", now, &res, PB_OK);
	cr_assert_not_null(pr->message);
	cr_assert_eq(memcmp(pr->message->id.data, a.id, PB_ID_LEN), 0);
	rt_result_clear(&res);
}

Test(router, every_change_is_in_the_verified_log)
{
	struct posted a;
	struct rt_result res;
	struct st_verify_report rep;
	int64_t now = pb_now_ms();
	uint8_t token[16];

	post(MAILROOM__CHANNEL__CHANNEL_COMPLAINT, "投诉", now, &a);
	Mailroom__PullResp *pr = pull(&alice, "general", now, &res, PB_OK);
	memcpy(token, pr->lease->token.data, 16);
	rt_result_clear(&res);
	cr_assert_eq(lease_op(&alice, MAILROOM__REQUEST__OP_REPLY, a.id, token, "答复", now, &res), PB_OK);
	rt_result_clear(&res);
	cr_assert_eq(st_verify(core.store, core.keys.sign_pk, &rep), PB_OK);
	cr_assert_eq(rep.fail, ST_VERIFY_OK, "%s at %llu", st_verify_fail_str(rep.fail),
	             (unsigned long long)rep.bad_index);
	/* genesis, received, routed, leased, replied */
	cr_assert_eq(rep.records, 5);
}

Test(router, hotline_orders_are_idempotent)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SubmitReq s = MAILROOM__SUBMIT_REQ__INIT;
	Mailroom__HotlineOrder o = MAILROOM__HOTLINE_ORDER__INIT;
	struct rt_result res;
	uint8_t first[PB_ID_LEN];
	int64_t now = at("2025-09-26T10:00:00+08:00");

	o.order_no = "JS-2025-0001";
	o.dispatch_seq = 1;
	o.kind = "dispatch";
	o.category = "consultation";
	o.urgency = "normal";
	o.finish_due_ms = at("2025-09-29T18:00:00+08:00");
	s.channel = MAILROOM__CHANNEL__CHANNEL_HOTLINE;
	s.subject = "社保卡办理";
	s.body = "市民来电咨询社保卡补办流程。";
	s.order = &o;
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &s;
	cr_assert_eq(apply(&gw, &req, now, &res), PB_OK, "%s", res.resp.message);
	cr_assert_not(res.resp.submit->duplicate);
	memcpy(first, res.resp.submit->message->id.data, PB_ID_LEN);
	cr_assert_str_eq(res.resp.submit->message->queue, "hotline");
	/* computed: 3 working days -> 09-30; the platform's 09-29 18:00 is earlier */
	cr_assert_eq(res.resp.submit->message->reply_due_ms, o.finish_due_ms);
	rt_result_clear(&res);

	cr_assert_eq(apply(&gw, &req, now + 5000, &res), PB_OK);
	cr_assert(res.resp.submit->duplicate);
	cr_assert_eq(memcmp(res.resp.submit->message->id.data, first, PB_ID_LEN), 0);
	rt_result_clear(&res);

	o.dispatch_seq = 2;   /* a re-dispatch is a new delivery */
	cr_assert_eq(apply(&gw, &req, now + 6000, &res), PB_OK);
	cr_assert_not(res.resp.submit->duplicate);
	cr_assert_neq(memcmp(res.resp.submit->message->id.data, first, PB_ID_LEN), 0);
	rt_result_clear(&res);
}

Test(router, urgent_orders_run_on_calendar_hours)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SubmitReq s = MAILROOM__SUBMIT_REQ__INIT;
	Mailroom__HotlineOrder o = MAILROOM__HOTLINE_ORDER__INIT;
	struct rt_result res;
	int64_t now = at("2025-10-01T09:00:00+08:00");   /* a holiday: hours still run */

	o.order_no = "JS-URG-1";
	o.dispatch_seq = 1;
	o.kind = "dispatch";
	o.category = "help";
	o.urgency = "urgent";
	s.channel = MAILROOM__CHANNEL__CHANNEL_HOTLINE;
	s.subject = "井盖缺失";
	s.body = "路口井盖缺失，危及行人。";
	s.order = &o;
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &s;
	cr_assert_eq(apply(&gw, &req, now, &res), PB_OK);
	cr_assert_eq(res.resp.submit->message->ack_due_ms, now + 2 * 3600 * 1000);
	cr_assert_eq(res.resp.submit->message->reply_due_ms, now + 24 * 3600 * 1000);
	rt_result_clear(&res);
}

Test(router, routes_match_channel_category_and_keywords)
{
	const char *rule;

	cr_assert_str_eq(rt_route(&conf, PB_CH_MAILBOX, NULL, "路灯", "", &rule), "roads");
	cr_assert_str_eq(rule, "lights");
	cr_assert_str_eq(rt_route(&conf, PB_CH_MAILBOX, NULL, "x", "门口路灯坏了", &rule), "roads");
	cr_assert_str_eq(rt_route(&conf, PB_CH_MAILBOX, NULL, "x", "y", &rule), "general");
	cr_assert_str_eq(rule, "default");
	cr_assert_str_eq(rt_route(&conf, PB_CH_HOTLINE, NULL, "x", "y", &rule), "hotline");
}

Test(router, nonce_cache_refuses_replays_within_the_window)
{
	struct rt_replay *r;
	uint8_t n[16];
	int64_t t = 1000000;

	cr_assert_eq(rt_replay_new(60, &r), PB_OK);
	for (int i = 0; i < 5000; i++) {
		randombytes_buf(n, sizeof(n));
		cr_assert_eq(rt_replay_check(r, n, t), PB_OK);
		cr_assert_eq(rt_replay_check(r, n, t), PB_EREPLAY);
	}
	randombytes_buf(n, sizeof(n));
	cr_assert_eq(rt_replay_check(r, n, t), PB_OK);
	/* still remembered a full two windows later (stale requests are refused after that) */
	cr_assert_eq(rt_replay_check(r, n, t + 119 * 1000), PB_EREPLAY);
	memset(n, 0, sizeof(n));
	cr_assert_eq(rt_replay_check(r, n, t), PB_EREPLAY, "the all-zero nonce is never fresh");
	rt_replay_free(r);
}
