/* 12345 orders in the router: re-dispatch after a return reopens the same
 * message, revoke closes whatever the state and fails the lease holder's
 * next step, urge moves an order ahead once, and the handler's sign,
 * finish, return, extension request and reply, each with its refusals and
 * its outbox entry. */
#include "hl_fixture.h"

#include "sn.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(hotline, .init = hl_setup, .fini = fx_teardown);

#define SIGN MAILROOM__HOTLINE_ACTION__HOTLINE_SIGN
#define FINISH MAILROOM__HOTLINE_ACTION__HOTLINE_FINISH
#define RETURN MAILROOM__HOTLINE_ACTION__HOTLINE_RETURN
#define EXTEND MAILROOM__HOTLINE_ACTION__HOTLINE_EXTENSION_REQUEST

static void expect_refused(int rc, struct rt_result *res, int code, const char *error)
{
	cr_expect_eq(rc, code, "wanted %d %s, got %d %s", code, error, rc,
	             res->resp.error ? res->resp.error : "");
	if (res->resp.error)
		cr_expect_str_eq(res->resp.error, error);
	rt_result_clear(res);
}

static int extref(const char *ref, uint8_t id[PB_ID_LEN])
{
	st_txn *t;
	int rc;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	rc = st_extref_get(t, ref, id);
	st_txn_abort(t);
	return rc;
}

Test(hotline, redispatch_after_return_reopens_the_same_message)
{
	int64_t t0 = at("2025-11-03T09:00:00+08:00"), t1 = at("2025-11-10T09:00:00+08:00");
	uint8_t id[PB_ID_LEN], got[PB_ID_LEN], token[16];
	struct rt_result res;

	hl_dispatch("GD-R-1", 1, t0, id);
	hl_pull(&alice, t0 + 1000, got, token);
	cr_assert_eq(hl_act(&alice, RETURN, id, token, "不属于本单位职责范围（依据《条例》第十条）",
	                    "NOT_OURS", 0, t0 + 2000, &res), PB_OK, "%s", res.resp.message);
	cr_expect_str_eq(res.resp.hotline ? "" : "no view", "");
	rt_result_clear(&res);
	Mailroom__StoredMessage *m = hl_msg(id);
	cr_expect_eq(m->status, MAILROOM__STATUS__STATUS_CLOSED);
	cr_expect_eq(m->hotline_state, MAILROOM__HOTLINE_STATE__HOTLINE_RETURNED);
	cr_expect_str_eq(m->close_reason, "NOT_OURS");
	st_msg_free(m);
	cr_expect_eq(hl_depth("hotline"), 0);

	/* The platform sends it back with a higher dispatch_seq. */
	cr_assert_eq(hl_push("GD-R-1", 2, "dispatch", t1, &res), PB_OK, "%s", res.resp.message);
	cr_expect_not(res.resp.submit->duplicate);
	cr_expect_eq(memcmp(res.resp.submit->message->id.data, id, PB_ID_LEN), 0,
	             "a re-dispatch after a return reopens the same message");
	rt_result_clear(&res);
	m = hl_msg(id);
	cr_expect_eq(m->status, MAILROOM__STATUS__STATUS_QUEUED);
	cr_expect_eq(m->hotline_state, MAILROOM__HOTLINE_STATE__HOTLINE_DISPATCHED);
	cr_expect_eq(m->order->dispatch_seq, 2);
	cr_expect_eq(m->close_reason[0], '\0');
	cr_assert_eq(m->n_clocks, 2);
	for (size_t i = 0; i < m->n_clocks; i++) {
		cr_expect_eq(m->clocks[i]->started_ms, t1, "clocks start again from the re-dispatch");
		cr_expect_not(m->clocks[i]->stopped);
	}
	cr_expect_eq(m->reply_due_ms, t1 + 5 * 86400000LL < m->clocks[1]->computed_due_ms ?
	                                      t1 + 5 * 86400000LL : m->clocks[1]->computed_due_ms);
	st_msg_free(m);
	cr_expect_eq(hl_depth("hotline"), 1);
	cr_expect_eq(hl_count_records(MAILROOM__AUDIT_EVENT__AUDIT_REDISPATCHED), 1);

	/* Every delivery keeps its index entry; the order's name points at it too. */
	cr_assert_eq(extref("12345:GD-R-1#1", got), PB_OK);
	cr_expect_eq(memcmp(got, id, PB_ID_LEN), 0);
	cr_assert_eq(extref("12345:GD-R-1#2", got), PB_OK);
	cr_expect_eq(memcmp(got, id, PB_ID_LEN), 0);
	cr_assert_eq(extref("12345:GD-R-1", got), PB_OK);
	cr_expect_eq(memcmp(got, id, PB_ID_LEN), 0);

	/* Repeats of either delivery change nothing. */
	cr_assert_eq(hl_push("GD-R-1", 2, "dispatch", t1 + 5000, &res), PB_OK);
	cr_expect(res.resp.submit->duplicate);
	rt_result_clear(&res);
	cr_assert_eq(hl_push("GD-R-1", 1, "dispatch", t1 + 6000, &res), PB_OK);
	cr_expect(res.resp.submit->duplicate);
	rt_result_clear(&res);
	cr_expect_eq(hl_depth("hotline"), 1);

	/* And it can be worked on again. */
	hl_pull(&bob, t1 + 7000, got, token);
	cr_expect_eq(memcmp(got, id, PB_ID_LEN), 0);
}

Test(hotline, a_second_dispatch_while_ours_is_open_is_a_message_of_its_own)
{
	int64_t t0 = at("2025-11-03T09:00:00+08:00");
	uint8_t a[PB_ID_LEN], b[PB_ID_LEN], got[PB_ID_LEN];
	struct rt_result res;

	hl_dispatch("GD-O-1", 1, t0, a);
	hl_dispatch("GD-O-1", 3, t0 + 1000, b);
	cr_expect_neq(memcmp(a, b, PB_ID_LEN), 0);
	cr_assert_eq(extref("12345:GD-O-1", got), PB_OK);
	cr_expect_eq(memcmp(got, b, PB_ID_LEN), 0, "the latest dispatch is the order's message");
	/* An older dispatch arriving late is not taken. */
	expect_refused(hl_push("GD-O-1", 2, "dispatch", t0 + 2000, &res), &res, PB_ESTATE,
	               "stale_dispatch");
}

Test(hotline, revoke_while_leased_fails_the_next_lease_operation)
{
	int64_t t0 = at("2025-11-03T09:00:00+08:00");
	uint8_t id[PB_ID_LEN], got[PB_ID_LEN], token[16];
	struct rt_result res;

	hl_dispatch("GD-V-1", 1, t0, id);
	hl_pull(&alice, t0 + 1000, got, token);
	cr_assert_eq(hl_act(&alice, SIGN, id, token, NULL, NULL, 0, t0 + 1500, &res), PB_OK);
	rt_result_clear(&res);

	cr_assert_eq(hl_push("GD-V-1", 1, "revoke", t0 + 2000, &res), PB_OK, "%s", res.resp.message);
	cr_expect_not(res.resp.submit->duplicate);
	cr_expect_eq(res.nrecords, 1, "one record, published after the commit");
	rt_result_clear(&res);
	Mailroom__StoredMessage *m = hl_msg(id);
	cr_expect_eq(m->status, MAILROOM__STATUS__STATUS_CLOSED);
	cr_expect_eq(m->hotline_state, MAILROOM__HOTLINE_STATE__HOTLINE_REVOKED);
	cr_expect_eq(m->lease_token.len, 0);
	for (size_t i = 0; i < m->n_clocks; i++)
		cr_expect(m->clocks[i]->stopped, "clocks stop with the revoke");
	st_msg_free(m);

	/* The holder finds out at its next step, whichever it is. */
	expect_refused(lease_op(&alice, MAILROOM__REQUEST__OP_RENEW, id, token, NULL, t0 + 3000, &res),
	               &res, PB_ESTATE, "revoked");
	expect_refused(lease_op(&alice, MAILROOM__REQUEST__OP_REPLY, id, token, "答复", t0 + 3000, &res),
	               &res, PB_ESTATE, "revoked");
	expect_refused(hl_act(&alice, FINISH, id, token, "已办结", NULL, 0, t0 + 3000, &res), &res,
	               PB_ESTATE, "revoked");
	expect_refused(lease_op(&alice, MAILROOM__REQUEST__OP_RELEASE, id, token, NULL, t0 + 3000, &res),
	               &res, PB_ESTATE, "revoked");

	/* No lease is left to expire, and a repeat of the revoke is a repeat. */
	st_txn *t;
	cr_assert_eq(st_txn_begin(core.store, NULL, 0, &t), PB_OK);
	rt_result_init(&res);
	cr_expect_eq(rt_expire_one(&core, t, t0 + 3600000, &res), PB_ENOTFOUND);
	rt_result_clear(&res);
	st_txn_abort(t);
	cr_assert_eq(hl_push("GD-V-1", 1, "revoke", t0 + 4000, &res), PB_OK);
	cr_expect(res.resp.submit->duplicate);
	rt_result_clear(&res);
	cr_expect_eq(hl_count_records(MAILROOM__AUDIT_EVENT__AUDIT_REVOKED), 1);
	/* Only the sign went out; nothing for the revoke itself. */
	cr_expect_eq(hl_outbox_count(0), 1);
}

Test(hotline, revoke_while_queued_takes_it_off_the_queue)
{
	int64_t t0 = at("2025-11-03T09:00:00+08:00");
	uint8_t id[PB_ID_LEN];
	struct rt_result res;

	hl_dispatch("GD-V-2", 1, t0, id);
	cr_expect_eq(hl_depth("hotline"), 1);
	cr_assert_eq(hl_push("GD-V-2", 1, "revoke", t0 + 1000, &res), PB_OK);
	rt_result_clear(&res);
	cr_expect_eq(hl_depth("hotline"), 0);
	pull(&alice, "hotline", t0 + 2000, &res, PB_OK);
	cr_expect_null(res.resp.pull->message, "a revoked order is not handed out");
	rt_result_clear(&res);
	expect_refused(hl_act(&alice, SIGN, id, NULL, NULL, NULL, 0, t0 + 3000, &res), &res, PB_ESTATE,
	               "revoked");
}

Test(hotline, revoke_and_urge_need_a_known_dispatch_and_a_reason)
{
	int64_t t0 = at("2025-11-03T09:00:00+08:00");
	struct rt_result res;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;

	expect_refused(hl_push("GD-NONE", 1, "revoke", t0, &res), &res, PB_ENOTFOUND, "unknown_order");
	expect_refused(hl_push("GD-NONE", 1, "urge", t0, &res), &res, PB_ENOTFOUND, "unknown_order");
	expect_refused(hl_push("GD-NONE", 1, "transfer", t0, &res), &res, PB_EINVAL, "unsupported_kind");
	expect_refused(hl_push("bad no!", 1, "dispatch", t0, &res), &res, PB_EINVAL, "invalid_order");
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = hl_order("GD-X", 1, "revoke", t0);
	req.submit->order->reason = "";
	expect_refused(apply(&gw, &req, t0, &res), &res, PB_EINVAL, "invalid_field");
}

/* hash is that of the stored record at index, and the proof names it. */
static void expect_receipt_of(uint64_t index, const uint8_t *hash, const char *proof)
{
	struct sn_proof *p = calloc(1, sizeof(*p));
	st_txn *t;
	const uint8_t *data;
	size_t len;
	uint8_t h[ST_HASH_LEN];

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_get(t, index, &data, &len), PB_OK);
	cr_assert_gt(len, 0);
	crypto_hash_sha256(h, data, len);
	cr_expect_arr_eq(h, hash, ST_HASH_LEN, "the receipt's hash is its record's");
	st_txn_abort(t);
	cr_assert_not_null(p);
	cr_assert_eq(sn_proof_parse(proof, strlen(proof), p), PB_OK, "%s", proof);
	cr_expect_eq(p->index, index, "the receipt's proof is for its record");
	free(p);
}

Test(hotline, urge_moves_an_overdue_order_ahead_once)
{
	int64_t t0 = at("2025-11-03T09:00:00+08:00"), late = at("2025-12-01T09:00:00+08:00");
	uint8_t a[PB_ID_LEN], b[PB_ID_LEN], got[PB_ID_LEN], token[16];
	struct rt_result res;

	hl_dispatch("GD-U-1", 1, t0, a);
	hl_dispatch("GD-U-2", 1, t0 + 1000, b);
	Mailroom__StoredMessage *m = hl_msg(b);
	cr_assert_lt(m->reply_due_ms, late, "the second order is overdue by then");
	st_msg_free(m);

	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = hl_order("GD-U-2", 1, "urge", late);
	int64_t urged_at = req.submit->order->dispatched_ms;
	cr_assert_eq(apply(&gw, &req, late, &res), PB_OK, "%s", res.resp.message);
	cr_expect_not(res.resp.submit->duplicate);
	/* The urge's receipt is the URGED record's, not the dispatch's. */
	Mailroom__Receipt *rc = res.resp.submit->receipt;
	cr_assert_not_null(rc);
	uint64_t urge_index = rc->log_index;
	uint8_t urge_hash[ST_HASH_LEN];
	char *urge_proof;
	cr_assert_eq(rc->record_hash.len, ST_HASH_LEN);
	cr_assert_not_null(rc->proof);
	memcpy(urge_hash, rc->record_hash.data, ST_HASH_LEN);
	urge_proof = strdup(rc->proof);
	rt_result_clear(&res);
	Mailroom__AuditRecord *r = hl_last_record();
	cr_expect_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_URGED);
	cr_expect_str_eq(r->external_ref, "12345:GD-U-2#1");
	/* The urge's text is the platform's prose: committed, kept sealed. */
	cr_expect_str_eq(r->detail, "");
	m = hl_msg(b);
	cr_expect(fx_commits(&r->detail_commit, &m->text_salt, "detail", "市民再次来电催促"));
	st_msg_free(m);
	Mailroom__RecordTexts *x = fx_texts(r->index);
	cr_assert_not_null(x);
	cr_expect_str_eq(x->detail, "市民再次来电催促");
	mailroom__record_texts__free_unpacked(x, NULL);
	cr_expect_eq(urge_index, r->index, "urge answered with record %llu, the URGED one is %llu",
	             (unsigned long long)urge_index, (unsigned long long)r->index);
	mailroom__audit_record__free_unpacked(r, NULL);
	expect_receipt_of(urge_index, urge_hash, urge_proof);
	free(urge_proof);

	/* The same urge again is a repeat, answered with the same receipt; a
	 * later one is another record. */
	req.submit = hl_order("GD-U-2", 1, "urge", late);
	req.submit->order->dispatched_ms = urged_at;
	cr_assert_eq(apply(&gw, &req, late + 1000, &res), PB_OK);
	cr_expect(res.resp.submit->duplicate);
	cr_expect_eq(res.resp.submit->receipt->log_index, urge_index);
	cr_expect_arr_eq(res.resp.submit->receipt->record_hash.data, urge_hash, ST_HASH_LEN);
	rt_result_clear(&res);
	cr_expect_eq(hl_count_records(MAILROOM__AUDIT_EVENT__AUDIT_URGED), 1);
	req.submit = hl_order("GD-U-2", 1, "urge", late + 3600000);
	cr_assert_eq(apply(&gw, &req, late + 3600000, &res), PB_OK);
	cr_expect_not(res.resp.submit->duplicate);
	rt_result_clear(&res);
	cr_expect_eq(hl_count_records(MAILROOM__AUDIT_EVENT__AUDIT_URGED), 2);

	/* Served first although it came second. */
	cr_expect_eq(hl_depth("hotline"), 2);
	hl_pull(&alice, late + 4000000, got, token);
	cr_expect_eq(memcmp(got, b, PB_ID_LEN), 0, "the urged order is handed out first");
	hl_pull(&alice, late + 4000001, got, token);
	cr_expect_eq(memcmp(got, a, PB_ID_LEN), 0);
}

Test(hotline, sign_finish_and_their_refusals)
{
	int64_t t0 = at("2025-11-03T09:00:00+08:00");
	uint8_t id[PB_ID_LEN], got[PB_ID_LEN], token[16];
	struct rt_result res;

	hl_dispatch("GD-S-1", 1, t0, id);
	/* Pulling is not signing for a 12345 order: the sign clock runs on. */
	hl_pull(&alice, t0 + 1000, got, token);
	Mailroom__StoredMessage *m = hl_msg(id);
	cr_expect_not(m->clocks[0]->stopped);
	st_msg_free(m);

	expect_refused(hl_act(&alice, FINISH, id, token, "已处理", NULL, 0, t0 + 1500, &res), &res,
	               PB_ESTATE, "not_signed");
	expect_refused(hl_act(&bob, SIGN, id, NULL, NULL, NULL, 0, t0 + 1500, &res), &res, PB_ELEASE,
	               "lease_invalid");
	cr_assert_eq(hl_act(&alice, SIGN, id, token, NULL, NULL, 0, t0 + 2000, &res), PB_OK, "%s",
	             res.resp.message);
	cr_expect_eq(res.resp.hotline->hotline_state, MAILROOM__HOTLINE_STATE__HOTLINE_SIGNED);
	rt_result_clear(&res);
	expect_refused(hl_act(&alice, SIGN, id, token, NULL, NULL, 0, t0 + 2500, &res), &res,
	               PB_ESTATE, "already_signed");
	m = hl_msg(id);
	cr_expect(m->clocks[0]->stopped, "signing stops the sign clock");
	cr_expect_not(m->clocks[1]->stopped);
	st_msg_free(m);

	expect_refused(hl_act(&alice, FINISH, id, NULL, "已处理", NULL, 0, t0 + 3000, &res), &res,
	               PB_ELEASE, "lease_invalid");
	expect_refused(hl_act(&alice, FINISH, id, token, "", NULL, 0, t0 + 3000, &res), &res,
	               PB_EINVAL, "invalid_field");
	cr_assert_eq(hl_act(&alice, FINISH, id, token, "路面已修复，已电话告知市民。", NULL, 0,
	                    t0 + 4000, &res), PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);
	m = hl_msg(id);
	cr_expect_eq(m->status, MAILROOM__STATUS__STATUS_REPLIED);
	cr_expect_eq(m->hotline_state, MAILROOM__HOTLINE_STATE__HOTLINE_FINISHED);
	cr_expect(m->clocks[0]->stopped && m->clocks[1]->stopped, "finish stops the clocks");
	cr_expect_str_eq(m->reply_text, "路面已修复，已电话告知市民。");
	st_msg_free(m);
	expect_refused(hl_act(&alice, FINISH, id, token, "again", NULL, 0, t0 + 5000, &res), &res,
	               PB_ESTATE, "already_finished");
	expect_refused(hl_act(&alice, SIGN, id, NULL, NULL, NULL, 0, t0 + 5000, &res), &res, PB_ESTATE,
	               "already_finished");

	/* Two events for the platform, in order, with their identity. */
	struct rt_result list;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__OutboxReq q = MAILROOM__OUTBOX_REQ__INIT;
	req.op_case = MAILROOM__REQUEST__OP_OUTBOX;
	req.outbox = &q;
	cr_assert_eq(read_op(&connector, &req, &list), PB_OK);
	cr_assert_eq(list.resp.outbox->n_entries, 2);
	Mailroom__OutboxEntry *s = list.resp.outbox->entries[0], *f = list.resp.outbox->entries[1];
	cr_expect_str_eq(s->type, "sign");
	cr_expect_str_eq(f->type, "finish");
	cr_expect_lt(s->seq, f->seq);
	cr_expect_str_eq(f->order_no, "GD-S-1");
	cr_expect_eq(f->dispatch_seq, 1);
	cr_expect_str_eq(f->text, "路面已修复，已电话告知市民。");
	cr_expect_str_eq(f->handler_name, "alice");
	cr_expect_str_eq(f->handler_unit, "市城管委");
	cr_expect_eq(strlen(f->event_id), 32 + 1 + 16, "%s", f->event_id);
	cr_expect_str_neq(f->event_id, s->event_id);
	cr_expect_eq(f->at_ms, t0 + 4000);
	rt_result_clear(&list);
}

Test(hotline, sign_with_the_queue_right_while_queued)
{
	int64_t t0 = at("2025-11-03T09:00:00+08:00");
	uint8_t id[PB_ID_LEN];
	struct rt_result res;

	hl_dispatch("GD-S-2", 1, t0, id);
	cr_assert_eq(hl_act(&bob, SIGN, id, NULL, NULL, NULL, 0, t0 + 1000, &res), PB_OK, "%s",
	             res.resp.message);
	rt_result_clear(&res);
	Mailroom__StoredMessage *m = hl_msg(id);
	cr_expect_str_eq(m->signed_by, "bob");
	cr_expect_eq(m->status, MAILROOM__STATUS__STATUS_QUEUED, "signing does not take it");
	st_msg_free(m);
	cr_expect_eq(hl_count_records(MAILROOM__AUDIT_EVENT__AUDIT_SIGNED), 1);
	/* A handler without the queue may not. */
	conf.handlers[1].nqueues = 1;
	expect_refused(hl_act(&bob, SIGN, id, NULL, NULL, NULL, 0, t0 + 2000, &res), &res,
	               PB_EFORBIDDEN, "queue_forbidden");
}

Test(hotline, return_needs_the_lease_a_code_and_a_text)
{
	int64_t t0 = at("2025-11-03T09:00:00+08:00");
	uint8_t id[PB_ID_LEN], got[PB_ID_LEN], token[16];
	struct rt_result res;

	hl_dispatch("GD-T-1", 1, t0, id);
	expect_refused(hl_act(&alice, RETURN, id, NULL, "依据", "NOT_OURS", 0, t0 + 500, &res), &res,
	               PB_ELEASE, "lease_invalid");
	hl_pull(&alice, t0 + 1000, got, token);
	expect_refused(hl_act(&alice, RETURN, id, token, "依据", "", 0, t0 + 1500, &res), &res,
	               PB_EINVAL, "invalid_field");
	expect_refused(hl_act(&alice, RETURN, id, token, "依据", "bad code", 0, t0 + 1500, &res), &res,
	               PB_EINVAL, "invalid_field");
	expect_refused(hl_act(&alice, RETURN, id, token, "", "NOT_OURS", 0, t0 + 1500, &res), &res,
	               PB_EINVAL, "invalid_field");
	cr_assert_eq(hl_act(&alice, RETURN, id, token, "依据《条例》第十条", "NOT_OURS", 0, t0 + 2000,
	                    &res), PB_OK);
	rt_result_clear(&res);
	expect_refused(hl_act(&alice, RETURN, id, token, "依据", "NOT_OURS", 0, t0 + 2500, &res), &res,
	               PB_ESTATE, "returned");
	cr_expect_eq(hl_outbox_count(0), 1);
	Mailroom__AuditRecord *r = hl_last_record();
	cr_expect_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_RETURNED);
	cr_expect_str_eq(r->detail, "NOT_OURS");
	cr_expect_eq(r->content_hash.len, ST_HASH_LEN, "the legal basis is proved, not stored in the log");
	mailroom__audit_record__free_unpacked(r, NULL);
}

Test(hotline, extension_request_and_citizen_reply)
{
	int64_t t0 = at("2025-11-03T09:00:00+08:00");
	uint8_t id[PB_ID_LEN], got[PB_ID_LEN], token[16];
	struct rt_result res;

	hl_dispatch("GD-E-1", 1, t0, id);
	int64_t until = t0 + 20 * 86400000LL;
	expect_refused(hl_act(&bob, EXTEND, id, NULL, "需协调三个部门", NULL, until, t0 + 500, &res),
	               &res, PB_ESTATE, "not_signed");
	hl_pull(&alice, t0 + 1000, got, token);
	cr_assert_eq(hl_act(&alice, SIGN, id, token, NULL, NULL, 0, t0 + 1500, &res), PB_OK);
	rt_result_clear(&res);
	expect_refused(hl_act(&bob, EXTEND, id, NULL, "需协调", NULL, t0, t0 + 2000, &res), &res,
	               PB_EINVAL, "invalid_field");
	/* No lease needed: any handler of the queue may ask. */
	cr_assert_eq(hl_act(&bob, EXTEND, id, NULL, "需协调三个部门", NULL, until, t0 + 2000, &res),
	             PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);

	/* The direct answer to the citizen leaves the order leased and open. */
	cr_assert_eq(lease_op(&alice, MAILROOM__REQUEST__OP_REPLY, id, token, "已电话联系市民说明进展",
	                      t0 + 3000, &res), PB_OK, "%s", res.resp.message);
	cr_expect_eq(res.resp.reply->status, MAILROOM__STATUS__STATUS_LEASED);
	rt_result_clear(&res);
	Mailroom__StoredMessage *m = hl_msg(id);
	cr_expect_str_eq(m->citizen_reply, "已电话联系市民说明进展");
	cr_expect_not(m->clocks[1]->stopped);
	st_msg_free(m);
	cr_expect_eq(hl_count_records(MAILROOM__AUDIT_EVENT__AUDIT_CITIZEN_REPLIED), 1);
	cr_expect_eq(hl_count_records(MAILROOM__AUDIT_EVENT__AUDIT_EXTENSION_REQUESTED), 1);

	struct rt_result list;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__OutboxReq q = MAILROOM__OUTBOX_REQ__INIT;
	req.op_case = MAILROOM__REQUEST__OP_OUTBOX;
	req.outbox = &q;
	cr_assert_eq(read_op(&connector, &req, &list), PB_OK);
	cr_assert_eq(list.resp.outbox->n_entries, 3);
	cr_expect_str_eq(list.resp.outbox->entries[1]->type, "extension_request");
	cr_expect_eq(list.resp.outbox->entries[1]->requested_due_ms, until);
	cr_expect_str_eq(list.resp.outbox->entries[1]->handler_name, "bob");
	cr_expect_str_eq(list.resp.outbox->entries[2]->type, "reply");
	rt_result_clear(&list);
}

Test(hotline, steps_on_other_channels_are_refused)
{
	struct posted p;
	struct rt_result res;
	int64_t t0 = at("2025-11-03T09:00:00+08:00");

	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "小区路灯不亮", t0, &p);
	expect_refused(hl_act(&alice, SIGN, p.id, NULL, NULL, NULL, 0, t0 + 1000, &res), &res,
	               PB_ESTATE, "not_hotline");
	/* And the handler ops are a handler's, not the gateway's. */
	expect_refused(hl_act(&gw, SIGN, p.id, NULL, NULL, NULL, 0, t0 + 1000, &res), &res,
	               PB_EFORBIDDEN, "forbidden");
}
