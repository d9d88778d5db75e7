/* Pulled pages and the outbox: a page commits its orders and the next
 * cursor together, refuses bad orders with a record and goes on, and is
 * refused whole when not fetched from the stored cursor; the outbox's
 * verdicts remove, dead-letter (with an alert record) and requeue. */
#include "hl_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

TestSuite(outbox, .init = hl_setup, .fini = fx_teardown);

/* Items whose orders each have storage of their own. */
struct page {
	Mailroom__IngestPageReq p;
	Mailroom__IngestItem items[8], *ptrs[8];
	Mailroom__SubmitReq subs[8];
	Mailroom__HotlineOrder orders[8];
	char nos[8][40];
};

static void page_init(struct page *pg, const char *cursor, const char *next)
{
	memset(pg, 0, sizeof(*pg));
	mailroom__ingest_page_req__init(&pg->p);
	pg->p.cursor = (char *)cursor;
	pg->p.next_cursor = (char *)next;
	pg->p.advance = 1;
	pg->p.items = pg->ptrs;
}

static void page_order(struct page *pg, const char *no, uint32_t seq, const char *kind, int64_t now)
{
	size_t i = pg->p.n_items++;
	Mailroom__SubmitReq *s = hl_order(no, seq, kind, now);

	mailroom__ingest_item__init(&pg->items[i]);
	pg->orders[i] = *s->order;
	snprintf(pg->nos[i], sizeof(pg->nos[i]), "%s", no);
	pg->orders[i].order_no = pg->nos[i];
	pg->orders[i].kind = kind[0] == 'd' ? "dispatch" : kind[0] == 'r' ? "revoke" : "urge";
	pg->subs[i] = *s;
	pg->subs[i].contact = NULL;
	pg->subs[i].order = &pg->orders[i];
	pg->items[i].submit = &pg->subs[i];
	pg->ptrs[i] = &pg->items[i];
}

static void page_refused(struct page *pg, const char *no, const char *code, const char *why)
{
	size_t i = pg->p.n_items++;

	mailroom__ingest_item__init(&pg->items[i]);
	pg->items[i].order_no = (char *)no;
	pg->items[i].dispatch_seq = 1;
	pg->items[i].refused_code = (char *)code;
	pg->items[i].refused_detail = (char *)why;
	pg->ptrs[i] = &pg->items[i];
}

static int ingest(struct page *pg, int64_t now, struct rt_result *res)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;

	req.op_case = MAILROOM__REQUEST__OP_INGEST;
	req.ingest = &pg->p;
	return apply(&connector, &req, now, res);
}

static void status(char *cursor, size_t len, uint64_t *pending, uint64_t *dead)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__HotlineStatusReq q = MAILROOM__HOTLINE_STATUS_REQ__INIT;
	struct rt_result res;

	req.op_case = MAILROOM__REQUEST__OP_HOTLINE_STATUS;
	req.hotline_status = &q;
	cr_assert_eq(read_op(&connector, &req, &res), PB_OK);
	snprintf(cursor, len, "%s", res.resp.hotline_status->cursor);
	if (pending)
		*pending = res.resp.hotline_status->outbox_pending;
	if (dead)
		*dead = res.resp.hotline_status->outbox_dead;
	rt_result_clear(&res);
}

Test(outbox, a_page_commits_its_orders_and_cursor_and_refuses_bad_ones)
{
	int64_t t0 = at("2025-11-03T09:00:00+08:00");
	struct page pg;
	struct rt_result res;
	char cur[64];

	page_init(&pg, "", "c-1");
	page_order(&pg, "GD-P-1", 1, "dispatch", t0);
	page_refused(&pg, "GD-P-2", "missing_field", "title: required");
	page_order(&pg, "GD-P-3", 1, "revoke", t0);   /* never dispatched here */
	page_order(&pg, "GD-P-1", 1, "dispatch", t0); /* the same order twice on a page */
	page_order(&pg, "GD-P-4", 1, "dispatch", t0);
	cr_assert_eq(ingest(&pg, t0, &res), PB_OK, "%s", res.resp.message);
	Mailroom__IngestPageResp *r = res.resp.ingest;
	cr_expect_eq(r->stored, 2);
	cr_expect_eq(r->duplicates, 1);
	cr_expect_eq(r->refused, 2);
	cr_assert_eq(r->n_results, 5);
	cr_expect_str_eq(r->results[1], "missing_field");
	cr_expect_str_eq(r->results[2], "unknown_order");
	cr_expect_str_eq(r->results[3], "duplicate");
	cr_expect_str_eq(r->cursor, "c-1");
	rt_result_clear(&res);
	cr_expect_eq(hl_depth("hotline"), 2);
	cr_expect_eq(hl_count_records(MAILROOM__AUDIT_EVENT__AUDIT_ORDER_REFUSED), 2);
	status(cur, sizeof(cur), NULL, NULL);
	cr_expect_str_eq(cur, "c-1");

	/* The same page again, after a crash lost our answer: refused whole. */
	cr_assert_eq(ingest(&pg, t0 + 1000, &res), PB_ESTATE);
	cr_expect_str_eq(res.resp.error, "cursor_moved");
	rt_result_clear(&res);
	cr_expect_eq(hl_count_records(MAILROOM__AUDIT_EVENT__AUDIT_ORDER_REFUSED), 2);

	/* An empty last page that does not move the cursor. */
	page_init(&pg, "c-1", "");
	pg.p.advance = 0;
	cr_assert_eq(ingest(&pg, t0 + 2000, &res), PB_OK);
	cr_expect_str_eq(res.resp.ingest->cursor, "c-1");
	rt_result_clear(&res);
	status(cur, sizeof(cur), NULL, NULL);
	cr_expect_str_eq(cur, "c-1");

	/* The refusal record names the order and the reason. */
	page_init(&pg, "c-1", "c-2");
	page_refused(&pg, "GD-P-9", "invalid_field", "region: 6-digit division code");
	cr_assert_eq(ingest(&pg, t0 + 3000, &res), PB_OK);
	rt_result_clear(&res);
	Mailroom__AuditRecord *rec = hl_last_record();
	cr_expect_eq(rec->event, MAILROOM__AUDIT_EVENT__AUDIT_ORDER_REFUSED);
	cr_expect_str_eq(rec->external_ref, "12345:GD-P-9#1");
	/* About no message: committed under a salt of its own, kept sealed. */
	cr_expect_str_eq(rec->detail, "");
	Mailroom__RecordTexts *x = fx_texts(rec->index);
	cr_assert_not_null(x);
	cr_expect_str_eq(x->detail, "invalid_field: region: 6-digit division code");
	cr_expect(fx_commits(&rec->detail_commit, &x->salt, "detail", x->detail));
	mailroom__record_texts__free_unpacked(x, NULL);
	cr_expect_str_eq(rec->actor, "hotline");
	mailroom__audit_record__free_unpacked(rec, NULL);
}

/* Pulled pages come from the connector's own key: neither a handler nor
 * the gateway's secret may feed them in. */
Test(outbox, pages_are_for_the_connector_only)
{
	struct page pg;
	struct rt_result res;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;

	page_init(&pg, "", "c-1");
	req.op_case = MAILROOM__REQUEST__OP_INGEST;
	req.ingest = &pg.p;
	cr_expect_eq(apply(&alice, &req, pb_now_ms(), &res), PB_EFORBIDDEN);
	rt_result_clear(&res);
	cr_expect_eq(apply(&gw, &req, pb_now_ms(), &res), PB_EFORBIDDEN);
	rt_result_clear(&res);
	cr_expect_eq(apply(&connector, &req, pb_now_ms(), &res), PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);
}

static int ack(uint64_t seq, int verdict, const char *error, int status, struct rt_result *res)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__OutboxAckReq q = MAILROOM__OUTBOX_ACK_REQ__INIT;
	Mailroom__OutboxAck a = MAILROOM__OUTBOX_ACK__INIT, *pa = &a;

	a.seq = seq;
	a.verdict = verdict;
	a.error = (char *)error;
	a.error_message = (char *)(error ? "order already revoked" : "");
	a.http_status = status;
	a.attempts = 1;
	q.acks = &pa;
	q.n_acks = 1;
	req.op_case = MAILROOM__REQUEST__OP_OUTBOX_ACK;
	req.outbox_ack = &q;
	return apply(&connector, &req, pb_now_ms(), res);
}

static uint64_t first_seq(int dead, char *error, size_t len)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__OutboxReq q = MAILROOM__OUTBOX_REQ__INIT;
	struct rt_result res;
	uint64_t seq;

	q.dead = dead;
	q.limit = 1;
	req.op_case = MAILROOM__REQUEST__OP_OUTBOX;
	req.outbox = &q;
	cr_assert_eq(read_op(&connector, &req, &res), PB_OK);
	cr_assert_eq(res.resp.outbox->n_entries, 1);
	seq = res.resp.outbox->entries[0]->seq;
	if (error)
		snprintf(error, len, "%s", res.resp.outbox->entries[0]->error);
	rt_result_clear(&res);
	return seq;
}

Test(outbox, verdicts_remove_dead_letter_and_requeue)
{
	int64_t t0 = pb_now_ms();
	uint8_t a[PB_ID_LEN], b[PB_ID_LEN];
	struct rt_result res;
	char cur[16], err[64];
	uint64_t pending, dead;

	hl_dispatch("GD-Q-1", 1, t0, a);
	hl_dispatch("GD-Q-2", 1, t0, b);
	cr_assert_eq(hl_act(&alice, MAILROOM__HOTLINE_ACTION__HOTLINE_SIGN, a, NULL, NULL, NULL, 0, t0,
	                    &res), PB_OK);
	rt_result_clear(&res);
	cr_assert_eq(hl_act(&alice, MAILROOM__HOTLINE_ACTION__HOTLINE_SIGN, b, NULL, NULL, NULL, 0, t0,
	                    &res), PB_OK);
	rt_result_clear(&res);
	status(cur, sizeof(cur), &pending, &dead);
	cr_expect_eq(pending, 2);
	cr_expect_eq(dead, 0);

	uint64_t s1 = first_seq(0, NULL, 0);
	cr_assert_eq(ack(s1, MAILROOM__OUTBOX_VERDICT__OUTBOX_DELIVERED, NULL, 200, &res), PB_OK);
	cr_expect_eq(res.resp.outbox_ack->applied, 1);
	rt_result_clear(&res);
	/* A verdict sent twice (an answer lost in a crash) is harmless. */
	cr_assert_eq(ack(s1, MAILROOM__OUTBOX_VERDICT__OUTBOX_DELIVERED, NULL, 200, &res), PB_OK);
	cr_expect_eq(res.resp.outbox_ack->missing, 1);
	rt_result_clear(&res);

	uint64_t s2 = first_seq(0, NULL, 0);
	cr_expect_gt(s2, s1);
	cr_assert_eq(ack(s2, MAILROOM__OUTBOX_VERDICT__OUTBOX_DEAD, "order_revoked", 409, &res), PB_OK);
	rt_result_clear(&res);
	status(cur, sizeof(cur), &pending, &dead);
	cr_expect_eq(pending, 0);
	cr_expect_eq(dead, 1);
	cr_expect_eq(first_seq(1, err, sizeof(err)), s2);
	cr_expect_str_eq(err, "order_revoked");
	Mailroom__AuditRecord *r = hl_last_record();
	cr_expect_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_DEAD);
	cr_expect_str_eq(r->external_ref, "12345:GD-Q-2#1");
	Mailroom__RecordTexts *x = fx_texts(r->index);
	cr_assert_not_null(x);
	cr_expect(strstr(x->detail, "409") && strstr(x->detail, "order_revoked"), "%s", x->detail);
	cr_expect(fx_commits(&r->detail_commit, &x->salt, "detail", x->detail));
	cr_expect_str_eq(r->detail, "");
	mailroom__record_texts__free_unpacked(x, NULL);
	cr_expect_eq(strlen(r->event_id), 49);
	mailroom__audit_record__free_unpacked(r, NULL);

	cr_assert_eq(ack(s2, MAILROOM__OUTBOX_VERDICT__OUTBOX_REQUEUE, NULL, 0, &res), PB_OK);
	rt_result_clear(&res);
	status(cur, sizeof(cur), &pending, &dead);
	cr_expect_eq(pending, 1);
	cr_expect_eq(dead, 0);
	cr_expect_eq(first_seq(0, NULL, 0), s2, "it keeps its place and its event id");
	cr_expect_eq(hl_count_records(MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_REQUEUED), 1);
}

Test(outbox, the_store_hands_out_rising_seqs_and_walks_in_order)
{
	st_txn *t;
	uint64_t seqs[5];
	Mailroom__OutboxEntry e = MAILROOM__OUTBOX_ENTRY__INIT;

	cr_assert_eq(st_txn_begin(core.store, NULL, 0, &t), PB_OK);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(st_outbox_next_seq(t, &seqs[i]), PB_OK);
		if (i)
			cr_expect_gt(seqs[i], seqs[i - 1]);
		e.seq = seqs[i];
		e.type = "sign";
		cr_assert_eq(st_outbox_put(t, 0, &e), PB_OK);
	}
	cr_assert_eq(st_outbox_del(t, 0, seqs[0]), PB_OK);
	cr_expect_eq(st_outbox_del(t, 0, seqs[0]), PB_ENOTFOUND);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	cr_expect_eq(hl_outbox_count(0), 4);
	/* Emptied and refilled, seqs still rise: a requeued dead letter never
	 * meets a newer entry under its number. */
	cr_assert_eq(st_txn_begin(core.store, NULL, 0, &t), PB_OK);
	for (int i = 1; i < 5; i++)
		cr_assert_eq(st_outbox_del(t, 0, seqs[i]), PB_OK);
	uint64_t next;
	cr_assert_eq(st_outbox_next_seq(t, &next), PB_OK);
	cr_expect_gt(next, seqs[4]);
	st_txn_abort(t);
}
