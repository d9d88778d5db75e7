/* 12345 orders coming in (hotline-12345.md): one path for push (a
 * SubmitReq from the gateway) and pull (a page from mailroom-hotline).
 *
 *  - dispatch: idempotent on (order_no, dispatch_seq) through the extref
 *    "12345:<order_no>#<seq>". A higher dispatch_seq for an order we
 *    closed (returned, revoked or finished) reopens the same message with
 *    clocks started anew; while our message is still open it is a
 *    separate delivery and gets a message of its own. "12345:<order_no>"
 *    names the latest message of the order.
 *  - revoke: closes the message whatever its state; the lease holder
 *    learns it at its next lease operation ("revoked").
 *  - urge: a record, and the message moves ahead in its queue; once per
 *    (order_no, dispatch_seq, dispatched_at). It is answered with its own
 *    record's receipt, whose index is kept (meta "receipt:<urge key>") so
 *    a repeat gets the same one.
 * A refusal aborts only that order; a page records it and goes on. */
#include "rt_chan.h"
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX 96
#define CURSOR_MAX 1024
#define CURSOR_META "hotline.cursor"
#define PAGE_MAX 1000
#define URGED_PRIO 0

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int valid_order_no(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 40)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static void order_ref(char *buf, size_t len, const char *no, uint32_t seq)
{
	snprintf(buf, len, "12345:%s#%u", no, seq);
}

static void latest_ref(char *buf, size_t len, const char *no)
{
	snprintf(buf, len, "12345:%s", no);
}

static int is_open(const Mailroom__StoredMessage *m)
{
	return m->status == MAILROOM__STATUS__STATUS_QUEUED ||
	       m->status == MAILROOM__STATUS__STATUS_LEASED;
}

static int fail_rc(struct rt_result *res, int rc, const char *what)
{
	return rt_fail(res, rc, pb_err_name(rc), what);
}

/* Finds the message a revoke or urge names by its dispatch. */
static int find_dispatch(st_txn *t, const Mailroom__HotlineOrder *o, struct rt_result *res,
                         Mailroom__StoredMessage **m)
{
	char ref[REF_MAX];
	uint8_t id[PB_ID_LEN];
	int rc;

	order_ref(ref, sizeof(ref), o->order_no, o->dispatch_seq);
	rc = st_extref_get(t, ref, id);
	if (rc == PB_ENOTFOUND)
		return rt_fail(res, PB_ENOTFOUND, "unknown_order",
		               "no dispatch with this order_no and dispatch_seq was received");
	if (rc)
		return fail_rc(res, rc, "cannot read the order index");
	return rt_msg_load(t, id, sizeof(id), res, m);
}

/* The queue entry of a queued message, as it was pushed. */
static void qpos_of(const Mailroom__StoredMessage *m, struct st_qpos *pos)
{
	pos->prio = m->queue_prio;
	pos->due_ms = m->reply_due_ms;
	memcpy(pos->id, m->id.data, PB_ID_LEN);
}

/* A returned (or otherwise closed) order came back: same message, new
 * content and clocks from now, queued again. */
static int reopen(struct rt_core *core, st_txn *t, const char *actor, const Mailroom__SubmitReq *s,
                  Mailroom__StoredMessage *m, const char *ref, int64_t now_ms,
                  struct rt_result *res)
{
	static const char *const was[] = {"", "dispatched", "signed", "finished", "returned", "revoked"};
	Mailroom__AuditRecord rec;
	uint8_t chash[ST_HASH_LEN];
	char note[160], detail[320];
	const char *rule, *queue;
	int rc;

	if (m->text_salt.len != ST_SALT_LEN || m->id.len != PB_ID_LEN)
		return fail_rc(res, PB_ECORRUPT, "stored message lacks its salt or id");
	if ((rc = st_extref_put(t, ref, m->id.data)))
		return fail_rc(res, rc, "cannot index the order");
	/* Stopped clocks are out of the deadline index; these replace them. */
	for (size_t i = 0; i < m->n_clocks; i++)
		if ((rc = rt_clock_stop(t, m, m->clocks[i]->kind, now_ms)))
			return fail_rc(res, rc, "cannot stop the old clocks");
	unsigned old_state = m->hotline_state < 6 ? m->hotline_state : 0;
	queue = rt_route(core->conf, s->channel, s->category, s->subject, s->body, &rule);
	m->subject = s->subject;
	m->body = s->body;
	m->category = s->category;
	m->order = s->order;
	m->status = MAILROOM__STATUS__STATUS_QUEUED;
	m->hotline_state = MAILROOM__HOTLINE_STATE__HOTLINE_DISPATCHED;
	m->queue = (char *)queue;
	m->queue_prio = 1;
	m->signed_ms = 0;
	m->signed_by = (char *)"";
	m->closed_ms = 0;
	m->close_reason = (char *)"";
	m->reply_text = (char *)"";
	m->replied_ms = 0;
	m->replied_by = (char *)"";
	m->citizen_reply = (char *)"";
	m->cal_version.data = core->cal_version;
	m->cal_version.len = sizeof(core->cal_version);
	if ((rc = rt_seal_contact(core, res, s->contact, m)))
		return fail_rc(res, rc, "cannot seal contact");
	if ((rc = rt_clocks_start(core, t, res, m, now_ms)))
		return fail_rc(res, rc, "cannot start the deadline clocks");
	rt_platform_note(m, note, sizeof(note));
	snprintf(detail, sizeof(detail), "dispatch_seq %u after %s%s%s", s->order->dispatch_seq,
	         was[old_state], note[0] ? "; " : "", note);

	rt_submit_hash(m->text_salt.data, s->subject, s->body, chash);
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_REDISPATCHED;
	rec.content_hash.data = chash;
	rec.content_hash.len = sizeof(chash);
	rec.external_ref = (char *)ref;
	rec.detail = detail;
	if ((rc = rt_audit(core, t, res, &rec, m, actor, now_ms, NULL)))
		return fail_rc(res, rc, "cannot append to the log");
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_ROUTED;
	rec.detail = (char *)rule;
	if ((rc = rt_audit(core, t, res, &rec, m, "router", now_ms, NULL)))
		return fail_rc(res, rc, "cannot append to the log");

	struct st_qpos pos;
	qpos_of(m, &pos);
	if ((rc = st_msg_put(t, m)) || (rc = st_queue_push(t, queue, &pos)))
		return fail_rc(res, rc, "cannot store the message");
	snprintf(res->touched_queue, sizeof(res->touched_queue), "%s", queue);
	return PB_OK;
}

static int dispatch(struct rt_core *core, st_txn *t, const char *actor, const Mailroom__SubmitReq *s,
                    int64_t now_ms, struct rt_result *res, Mailroom__StoredMessage **out, int *dup)
{
	const Mailroom__HotlineOrder *o = s->order;
	char ref[REF_MAX], latest[REF_MAX];
	uint8_t id[PB_ID_LEN];
	Mailroom__StoredMessage *m;
	int rc;

	if ((rc = rt_check_texts(s, res)))
		return rc;
	order_ref(ref, sizeof(ref), o->order_no, o->dispatch_seq);
	latest_ref(latest, sizeof(latest), o->order_no);
	rc = st_extref_get(t, ref, id);
	if (rc == PB_OK) {
		*dup = 1;
		return rt_msg_load(t, id, sizeof(id), res, out);
	}
	if (rc != PB_ENOTFOUND)
		return fail_rc(res, rc, "cannot read the order index");

	rc = st_extref_get(t, latest, id);
	if (rc != PB_OK && rc != PB_ENOTFOUND)
		return fail_rc(res, rc, "cannot read the order index");
	if (rc == PB_OK && (rc = rt_msg_load(t, id, sizeof(id), res, &m)))
		return rc;
	if (rc == PB_OK && m->order) {
		if (o->dispatch_seq < m->order->dispatch_seq)
			return rt_fail(res, PB_ESTATE, "stale_dispatch",
			               "a later dispatch of this order is already here");
		if (!is_open(m)) {
			if ((rc = reopen(core, t, actor, s, m, ref, now_ms, res)))
				return rc;
			*out = m;
			return PB_OK;
		}
	}
	/* First dispatch, or another while ours is still open: a message of
	 * its own, which becomes the order's latest. */
	if ((rc = rt_msg_create(core, t, actor, s, ref, now_ms, res, &m)))
		return rc;
	if ((rc = st_extref_set(t, latest, m->id.data)))
		return fail_rc(res, rc, "cannot index the order");
	*out = m;
	return PB_OK;
}

static int revoke(struct rt_core *core, st_txn *t, const char *actor, const Mailroom__SubmitReq *s,
                  int64_t now_ms, struct rt_result *res, Mailroom__StoredMessage **out, int *dup)
{
	const Mailroom__HotlineOrder *o = s->order;
	Mailroom__StoredMessage *m;
	Mailroom__AuditRecord rec;
	char ref[REF_MAX];
	int rc;

	if ((rc = find_dispatch(t, o, res, &m)))
		return rc;
	*out = m;
	/* Already withdrawn, or aimed at a dispatch a later one replaced:
	 * a repeat delivery, acknowledged. */
	if (m->hotline_state == MAILROOM__HOTLINE_STATE__HOTLINE_REVOKED ||
	    (m->order && m->order->dispatch_seq > o->dispatch_seq)) {
		*dup = 1;
		return PB_OK;
	}
	if (m->status == MAILROOM__STATUS__STATUS_LEASED) {
		if ((rc = rt_drop_lease(t, m)))
			return fail_rc(res, rc, "cannot end the lease");
	} else if (m->status == MAILROOM__STATUS__STATUS_QUEUED) {
		struct st_qpos pos;
		qpos_of(m, &pos);
		if ((rc = st_queue_remove(t, m->queue, &pos)) && rc != PB_ENOTFOUND)
			return fail_rc(res, rc, "cannot take it from its queue");
	}
	if ((rc = rt_clock_stop(t, m, ST_CLOCK_ACK, now_ms)) ||
	    (rc = rt_clock_stop(t, m, ST_CLOCK_REPLY, now_ms)))
		return fail_rc(res, rc, "cannot stop the clocks");
	m->status = MAILROOM__STATUS__STATUS_CLOSED;
	m->hotline_state = MAILROOM__HOTLINE_STATE__HOTLINE_REVOKED;
	m->closed_ms = now_ms;
	m->close_reason = o->reason;
	if ((rc = st_msg_put(t, m)))
		return fail_rc(res, rc, "cannot store the message");
	order_ref(ref, sizeof(ref), o->order_no, o->dispatch_seq);
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_REVOKED;
	rec.detail = o->reason;
	rec.external_ref = ref;
	if ((rc = rt_audit(core, t, res, &rec, m, actor, now_ms, NULL)))
		return fail_rc(res, rc, "cannot append to the log");
	return PB_OK;
}

static int urge(struct rt_core *core, st_txn *t, const char *actor, const Mailroom__SubmitReq *s,
                int64_t now_ms, struct rt_result *res, Mailroom__StoredMessage **out, int *dup,
                uint64_t *log_index)
{
	const Mailroom__HotlineOrder *o = s->order;
	Mailroom__StoredMessage *m;
	Mailroom__AuditRecord rec;
	struct st_receipt rcpt;
	char ref[REF_MAX], key[REF_MAX + 32], meta[REF_MAX + 48];
	uint8_t id[PB_ID_LEN], be[8];
	size_t len = 0;
	int rc;

	if ((rc = find_dispatch(t, o, res, &m)))
		return rc;
	*out = m;
	order_ref(ref, sizeof(ref), o->order_no, o->dispatch_seq);
	snprintf(key, sizeof(key), "%s@urge:%lld", ref, (long long)o->dispatched_ms);
	snprintf(meta, sizeof(meta), "receipt:%s", key);
	rc = st_extref_get(t, key, id);
	if (rc == PB_OK) {
		/* A repeat answers with the first delivery's record. */
		*dup = 1;
		if ((rc = st_meta_get(t, meta, be, sizeof(be), &len)) == PB_OK && len == sizeof(be))
			*log_index = get_be64(be);
		else if (rc != PB_ENOTFOUND)
			return fail_rc(res, rc == PB_OK ? PB_ECORRUPT : rc, "cannot read the urge's receipt");
		return PB_OK;
	}
	if (rc != PB_ENOTFOUND || (rc = st_extref_put(t, key, m->id.data)))
		return fail_rc(res, rc, "cannot index the urge");
	/* Lower prio is served first: an urged message goes ahead of the
	 * ordinary ones in its queue. */
	if (m->queue_prio > URGED_PRIO) {
		if (m->status == MAILROOM__STATUS__STATUS_QUEUED) {
			struct st_qpos pos;
			qpos_of(m, &pos);
			if ((rc = st_queue_remove(t, m->queue, &pos)))
				return fail_rc(res, rc, "cannot move it in its queue");
			pos.prio = URGED_PRIO;
			if ((rc = st_queue_push(t, m->queue, &pos)))
				return fail_rc(res, rc, "cannot move it in its queue");
			snprintf(res->touched_queue, sizeof(res->touched_queue), "%s", m->queue);
		}
		m->queue_prio = URGED_PRIO;
		if ((rc = st_msg_put(t, m)))
			return fail_rc(res, rc, "cannot store the message");
	}
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_URGED;
	rec.detail = o->reason;
	rec.external_ref = ref;
	if ((rc = rt_audit(core, t, res, &rec, m, actor, now_ms, &rcpt)))
		return fail_rc(res, rc, "cannot append to the log");
	/* The urge is answered with its own record, now and on a repeat. */
	*log_index = rcpt.index;
	put_be64(be, rcpt.index);
	if ((rc = st_meta_put(t, meta, be, sizeof(be))))
		return fail_rc(res, rc, "cannot keep the urge's receipt");
	return PB_OK;
}

/* One order, push or pull. On success *m is the message (owned by res),
 * *dup says whether it was a repeat and *log_index names the record that
 * answers it: the message's receipt, or an urge's own record. */
static int ingest(struct rt_core *core, st_txn *t, const char *actor, const Mailroom__SubmitReq *s,
                  int64_t now_ms, struct rt_result *res, Mailroom__StoredMessage **m, int *dup,
                  uint64_t *log_index)
{
	const Mailroom__HotlineOrder *o = s ? s->order : NULL;

	*dup = 0;
	*m = NULL;
	*log_index = UINT64_MAX;   /* the message's receipt, unless an urge says otherwise */
	if (!o || !valid_order_no(o->order_no) || o->dispatch_seq < 1)
		return rt_fail(res, PB_EINVAL, "invalid_order", "order_no and dispatch_seq required");
	if (s->channel != MAILROOM__CHANNEL__CHANNEL_HOTLINE)
		return rt_fail(res, PB_EINVAL, "invalid_channel", "12345 orders come on the hotline channel");
	if (!o->kind)
		return rt_fail(res, PB_EINVAL, "invalid_order", "kind required");
	if (strcmp(o->kind, "dispatch") == 0)
		return dispatch(core, t, actor, s, now_ms, res, m, dup);
	if (strcmp(o->kind, "revoke") != 0 && strcmp(o->kind, "urge") != 0)
		return rt_fail(res, PB_EINVAL, "unsupported_kind", "kind: dispatch, revoke or urge");
	if (!rt_text_ok(o->reason, 1, 1000))
		return rt_fail(res, PB_EINVAL, "invalid_field", "reason: 1-1000 characters");
	if (o->kind[0] == 'r')
		return revoke(core, t, actor, s, now_ms, res, m, dup);
	return urge(core, t, actor, s, now_ms, res, m, dup, log_index);
}

int rt_hotline_submit(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                      const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	Mailroom__StoredMessage *m;
	char actor[PB_NAME_MAX + 16];
	uint64_t index;
	int dup, rc;

	if ((rc = ingest(core, t, rt_actor(who, actor, sizeof(actor)), req->submit, now_ms, res, &m,
	                 &dup, &index)))
		return rc;
	return rt_submit_answer_at(core, t, res, m, dup,
	                           index == UINT64_MAX ? m->received_log_index : index);
}

/* ------------------------------------------------------------ pages -- */

/* Is this failure the order's own (refuse it, go on) or the store's
 * (fail the page, so its cursor does not move)? */
static int order_fault(int rc)
{
	return rc == PB_EINVAL || rc == PB_ESTATE || rc == PB_ENOTFOUND || rc == PB_ELIMIT ||
	       rc == PB_ETOOBIG;
}

/* An order not taken: logged, and a record naming it and the reason. */
static int refuse(struct rt_core *core, st_txn *t, struct rt_result *res, const char *order_no,
                  uint32_t seq, const char *code, const char *why, int64_t now_ms)
{
	Mailroom__AuditRecord rec;
	char ref[REF_MAX] = "", detail[600];
	int ok = valid_order_no(order_no) && seq > 0;

	if (ok)
		order_ref(ref, sizeof(ref), order_no, seq);
	snprintf(detail, sizeof(detail), "%s: %s", code && *code ? code : "refused",
	         why && *why ? why : "not taken");
	/* Only a checked order number goes into the log line as it came. */
	pb_warn("hotline: refused order %s: %s", ok ? ref : "(no valid order_no)", detail);
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_ORDER_REFUSED;
	rec.channel = MAILROOM__CHANNEL__CHANNEL_HOTLINE;
	rec.detail = detail;
	rec.external_ref = ref;
	return rt_audit(core, t, res, &rec, NULL, "hotline", now_ms, NULL);
}

#define CODE_LEN 48

/* One order of a page in its own nested transaction: a refusal undoes
 * only that order. Returns 0 (stored, repeat or refused) or the store
 * error that fails the whole page; *result names the outcome. */
static int page_item(struct rt_core *core, st_txn *t, const Mailroom__IngestItem *it,
                     int64_t now_ms, struct rt_result *res, char *code, int *outcome)
{
	const Mailroom__HotlineOrder *o = it->submit ? it->submit->order : NULL;
	const char *no = o ? o->order_no : it->order_no;
	uint32_t seq = o ? o->dispatch_seq : it->dispatch_seq;
	Mailroom__StoredMessage *m;
	struct rt_result sub;
	char why[300];
	st_txn *child;
	uint64_t index;
	int dup, rc;

	if (it->refused_code && *it->refused_code) {
		snprintf(code, CODE_LEN, "%s", it->refused_code);
		*outcome = 2;
		return refuse(core, t, res, it->order_no, it->dispatch_seq, it->refused_code,
		              it->refused_detail, now_ms);
	}
	if ((rc = st_txn_begin(core->store, t, 0, &child)))
		return rc;
	rt_result_init(&sub);
	rc = ingest(core, child, "hotline", it->submit, now_ms, &sub, &m, &dup, &index);
	if (rc == PB_OK) {
		if ((rc = st_txn_commit(child)) == PB_OK) {
			for (size_t i = 0; i < rt_nrecords(&sub) && !rc; i++)
				rc = rt_note_record(res, rt_record_at(&sub, i));
			rt_touch(res, sub.touched_queue);
			for (int i = 0; i < sub.nextra; i++)
				rt_touch(res, sub.extra_queues[i]);
			*outcome = dup;
			snprintf(code, CODE_LEN, "%s", dup ? "duplicate" : "stored");
		}
		rt_result_clear(&sub);
		return rc;
	}
	st_txn_abort(child);
	snprintf(code, CODE_LEN, "%s", sub.resp.error ? sub.resp.error : pb_err_name(rc));
	snprintf(why, sizeof(why), "%s", sub.resp.message ? sub.resp.message : pb_err_str(rc));
	rt_result_clear(&sub);
	if (!order_fault(rc))
		return rc;
	*outcome = 2;
	return refuse(core, t, res, no, seq, code, why, now_ms);
}

int rt_op_ingest(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__IngestPageReq *p = req->ingest;
	const char *cur = p->cursor ? p->cursor : "", *next = p->next_cursor ? p->next_cursor : "";
	char *stored = rt_own(res, malloc(CURSOR_MAX + 1), RT_OWN_FREE);
	size_t len = 0, n = p->n_items;
	int rc;

	(void)who;
	if (!stored)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	rc = st_meta_get(t, CURSOR_META, (uint8_t *)stored, CURSOR_MAX, &len);
	if (rc == PB_ENOTFOUND)
		len = 0;
	else if (rc)
		return fail_rc(res, rc, "cannot read the stored cursor");
	stored[len] = '\0';
	/* A page applies only on top of the cursor it was fetched with, so a
	 * late or repeated request can never move the cursor back. */
	if (strcmp(cur, stored) != 0)
		return rt_fail(res, PB_ESTATE, "cursor_moved",
		               "the stored cursor is not the one this page was fetched with");
	if (n > PAGE_MAX || (p->advance && strlen(next) > CURSOR_MAX))
		return rt_fail(res, PB_EINVAL, "invalid_request", "page or cursor too large");

	Mailroom__IngestPageResp *pr = rt_own(res, malloc(sizeof(*pr)), RT_OWN_FREE);
	char **results = rt_own(res, calloc(n ? n : 1, sizeof(*results)), RT_OWN_FREE);
	char *codes = rt_own(res, calloc(n ? n : 1, CODE_LEN), RT_OWN_FREE);
	if (!pr || !results || !codes)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__ingest_page_resp__init(pr);
	for (size_t i = 0; i < n; i++) {
		int outcome = 0;
		results[i] = codes + i * CODE_LEN;
		if ((rc = page_item(core, t, p->items[i], now_ms, res, results[i], &outcome)))
			return fail_rc(res, rc, "cannot store the page");
		if (outcome == 0)
			pr->stored++;
		else if (outcome == 1)
			pr->duplicates++;
		else
			pr->refused++;
	}
	if (p->advance) {
		if ((rc = st_meta_put(t, CURSOR_META, (const uint8_t *)next, strlen(next))))
			return fail_rc(res, rc, "cannot store the cursor");
		pr->cursor = (char *)next;
	} else {
		pr->cursor = stored;
	}
	pr->results = results;
	pr->n_results = n;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_INGEST;
	res->resp.ingest = pr;
	return PB_OK;
}

int rt_op_hotline_status(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                         const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	Mailroom__HotlineStatusResp *hs = rt_own(res, malloc(sizeof(*hs)), RT_OWN_FREE);
	char *cur = rt_own(res, malloc(CURSOR_MAX + 1), RT_OWN_FREE);
	size_t len = 0;
	int rc;

	(void)core;
	(void)who;
	(void)req;
	(void)now_ms;

	if (!hs || !cur)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__hotline_status_resp__init(hs);
	rc = st_meta_get(t, CURSOR_META, (uint8_t *)cur, CURSOR_MAX, &len);
	if (rc == PB_ENOTFOUND)
		len = 0;
	else if (rc)
		return fail_rc(res, rc, "cannot read the stored cursor");
	cur[len] = '\0';
	hs->cursor = cur;
	if ((rc = st_outbox_count(t, 0, &hs->outbox_pending)) ||
	    (rc = st_outbox_count(t, 1, &hs->outbox_dead)))
		return fail_rc(res, rc, "cannot count the outbox");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_HOTLINE_STATUS;
	res->resp.hotline_status = hs;
	return PB_OK;
}

/* ------------------------------------------------------ channel row -- */

static int order_view(struct rt_core *core, struct rt_result *res, const Mailroom__StoredMessage *m,
                      int handler, Mailroom__MessageView *v)
{
	(void)core;
	(void)res;
	if (handler) {
		v->order = m->order;
		v->hotline_state = m->hotline_state;
		v->signed_ms = m->signed_ms;
		v->citizen_reply = m->citizen_reply;
	}
	return PB_OK;
}

/* A confidential order (保密件) keeps the citizen's contact from handlers. */
static int order_confidential(const Mailroom__StoredMessage *m)
{
	return m->order && m->order->confidential;
}

static int order_reply(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                       Mailroom__StoredMessage *m, const char *text, int64_t now_ms,
                       struct rt_result *res)
{
	if (!m->order)
		return rt_reply_plain(core, t, who, m, text, now_ms, res);
	return rt_hotline_reply(core, t, who, m, text, now_ms, res);
}

/* The platform's kinds of order have their own spans, and its due times
 * stand beside ours (the earlier applies, docs/deadlines.md section 4). */
static void order_spans(const struct pb_policy *p, const Mailroom__StoredMessage *m,
                        struct pb_clock span[2], int64_t platform[2])
{
	if (!m->order)
		return;
	if (m->order->category && strcmp(m->order->category, "consultation") == 0)
		span[1] = p->hotline_consult_reply;
	if (m->order->urgency && (strcmp(m->order->urgency, "urgent") == 0 ||
	                          strcmp(m->order->urgency, "critical") == 0)) {
		span[0] = p->hotline_urgent_ack;
		span[1] = p->hotline_urgent_reply;
	}
	platform[0] = m->order->sign_due_ms;
	platform[1] = m->order->finish_due_ms;
}

/* 12345 orders: dispatch, revoke and urge share one intake with pulled
 * pages; the platform is told of a sign explicitly, so a pull is no
 * acknowledgement. */
const struct rt_chan rt_chan_hotline_row = {
	.name = "hotline",
	.submit = rt_hotline_submit,
	.view = order_view,
	.contact_hidden = order_confidential,
	.pull_keeps_ack = 1,
	.closed = rt_hotline_closed,
	.reply = order_reply,
	.spans = order_spans,
};
