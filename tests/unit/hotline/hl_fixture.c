#include "hl_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

void hl_setup(void)
{
	fx_setup();
	strcpy(conf.handlers[0].queues[conf.handlers[0].nqueues++], "hotline");
	strcpy(conf.handlers[1].queues[conf.handlers[1].nqueues++], "hotline");
	strcpy(conf.hotline_unit, "市城管委");
}

Mailroom__SubmitReq *hl_order(const char *order_no, uint32_t seq, const char *kind, int64_t now)
{
	static Mailroom__SubmitReq s;
	static Mailroom__HotlineOrder o;
	static Mailroom__Contact c;
	static char no[64], k[16];

	mailroom__submit_req__init(&s);
	mailroom__hotline_order__init(&o);
	mailroom__contact__init(&c);
	snprintf(no, sizeof(no), "%s", order_no);
	snprintf(k, sizeof(k), "%s", kind);
	o.order_no = no;
	o.dispatch_seq = seq;
	o.kind = k;
	o.dispatched_ms = now - 60000;
	s.channel = MAILROOM__CHANNEL__CHANNEL_HOTLINE;
	s.order = &o;
	if (strcmp(kind, "dispatch") == 0) {
		o.accepted_ms = now - 600000;
		o.category = "help";
		o.urgency = "normal";
		o.source = "phone";
		o.region = "110105";
		o.lead_unit = "市城管委";
		o.sign_due_ms = now + 86400000LL;
		o.finish_due_ms = now + 5 * 86400000LL;
		c.name = "李四";
		c.phone = "13900139000";
		s.contact = &c;
		s.subject = "小区门口路面塌陷";
		s.body = "市民来电反映：小区门口路面塌陷，请尽快处理。";
		s.category = "help";
	} else {
		o.reason = kind[0] == 'r' ? "重复派单，撤回" : "市民再次来电催促";
	}
	return &s;
}

int hl_push(const char *order_no, uint32_t seq, const char *kind, int64_t now, struct rt_result *res)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;

	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = hl_order(order_no, seq, kind, now);
	return apply(&gw, &req, now, res);
}

void hl_dispatch(const char *order_no, uint32_t seq, int64_t now, uint8_t id[PB_ID_LEN])
{
	struct rt_result res;

	cr_assert_eq(hl_push(order_no, seq, "dispatch", now, &res), PB_OK, "%s", res.resp.message);
	memcpy(id, res.resp.submit->message->id.data, PB_ID_LEN);
	rt_result_clear(&res);
}

void hl_pull(const struct rt_principal *who, int64_t now, uint8_t id[PB_ID_LEN], uint8_t token[16])
{
	struct rt_result res;
	Mailroom__PullResp *pr = pull(who, "hotline", now, &res, PB_OK);

	cr_assert_not_null(pr->message, "nothing to pull");
	memcpy(id, pr->message->id.data, PB_ID_LEN);
	memcpy(token, pr->lease->token.data, 16);
	rt_result_clear(&res);
}

int hl_act(const struct rt_principal *who, int action, const uint8_t *id, const uint8_t *token,
           const char *text, const char *code, int64_t due, int64_t now, struct rt_result *res)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__HotlineReq h = MAILROOM__HOTLINE_REQ__INIT;

	h.id.data = (uint8_t *)id;
	h.id.len = PB_ID_LEN;
	if (token) {
		h.lease_token.data = (uint8_t *)token;
		h.lease_token.len = 16;
	}
	h.action = action;
	h.text = (char *)text;
	h.reason_code = (char *)code;
	h.requested_due_ms = due;
	req.op_case = MAILROOM__REQUEST__OP_HOTLINE;
	req.hotline = &h;
	return apply(who, &req, now, res);
}

Mailroom__StoredMessage *hl_msg(const uint8_t *id)
{
	st_txn *t;
	Mailroom__StoredMessage *m;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_msg_get(t, id, &m), PB_OK);
	st_txn_abort(t);
	return m;
}

static Mailroom__AuditRecord *record_at(st_txn *t, uint64_t i)
{
	const uint8_t *data;
	size_t len;

	cr_assert_eq(st_log_get(t, i, &data, &len), PB_OK);
	Mailroom__AuditRecord *r = mailroom__audit_record__unpack(NULL, len, data);
	cr_assert_not_null(r);
	return r;
}

int hl_count_records(int event)
{
	st_txn *t;
	uint64_t n;
	int count = 0;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &n), PB_OK);
	for (uint64_t i = 0; i < n; i++) {
		Mailroom__AuditRecord *r = record_at(t, i);
		count += (int)r->event == event;
		mailroom__audit_record__free_unpacked(r, NULL);
	}
	st_txn_abort(t);
	return count;
}

Mailroom__AuditRecord *hl_last_record(void)
{
	st_txn *t;
	uint64_t n;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &n), PB_OK);
	Mailroom__AuditRecord *r = record_at(t, n - 1);
	st_txn_abort(t);
	return r;
}

uint64_t hl_depth(const char *queue)
{
	st_txn *t;
	uint64_t n;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_queue_depth(t, queue, &n), PB_OK);
	st_txn_abort(t);
	return n;
}

uint64_t hl_outbox_count(int dead)
{
	st_txn *t;
	uint64_t n;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_outbox_count(t, dead, &n), PB_OK);
	st_txn_abort(t);
	return n;
}
