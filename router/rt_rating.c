/* After the answer: the citizen's rating (好差评), the call-back it may
 * open (回访), and the timers that watch answers and open cases: the
 * one invitation to rate, and the veto line (单项否决) alerts at
 * [rating] veto_days and veto_days_2 after receipt.
 *
 * The timers live in the deadline index beside the clocks' ladder steps,
 * under kinds of their own (RT_TIMER_*): each fires once, in the
 * transaction that writes its record, across restarts too. */
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (86400LL * 1000)

static int satisfied(uint32_t level)
{
	return level >= 1 && level <= 3;
}

int rt_rating_bad(uint32_t level)
{
	return level >= 4 && level <= 5;
}

/* The citizen's message by code and key hash, with the same work whether
 * or not the code exists (as rt_op_status). */
int rt_msg_by_key(st_txn *t, const char *code, const ProtobufCBinaryData *hash,
                           struct rt_result *res, Mailroom__StoredMessage **m)
{
	static const uint8_t decoy[PB_AKEY_HASH_LEN];
	uint8_t id[PB_ID_LEN], stored[PB_AKEY_HASH_LEN];
	int found, match;

	if (!code || hash->len != PB_AKEY_HASH_LEN)
		return rt_fail(res, PB_EINVAL, "invalid_request", "tracking code and key hash required");
	found = st_track_lookup(t, code, id, stored) == PB_OK;
	match = sodium_memcmp(found ? stored : decoy, hash->data, PB_AKEY_HASH_LEN) == 0;
	if (!found || !match || sodium_is_zero(stored, sizeof(stored)))
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no message with that code and key");
	if (rt_msg_load(t, id, sizeof(id), res, m))
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no message with that code and key");
	return PB_OK;
}

/* A handler's message by id, or by tracking code (no key: handlers are
 * trusted with the codes of their queues). */
int rt_msg_by_ref(st_txn *t, const ProtobufCBinaryData *idb, const char *code,
                  struct rt_result *res, Mailroom__StoredMessage **m)
{
	uint8_t id[PB_ID_LEN], hash[PB_AKEY_HASH_LEN];

	if (idb->len)
		return rt_msg_load(t, idb->data, idb->len, res, m);
	if (!code || !*code || st_track_lookup(t, code, id, hash) != PB_OK)
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no such message");
	return rt_msg_load(t, id, sizeof(id), res, m);
}

int rt_timer_put(st_txn *t, const uint8_t *id, int64_t at_ms, uint32_t kind, uint32_t step)
{
	return st_deadline_put(t, at_ms, id, rt_deadline_byte(kind, step));
}

int rt_timers_start(struct rt_core *core, st_txn *t, const Mailroom__StoredMessage *m)
{
	return rt_timer_put(t, m->id.data, m->received_ms + core->conf->veto_days * DAY_MS,
	                    RT_TIMER_VETO, 1);
}

/* Opens the call-back a bad rating asks for, due [rating] callback_days
 * working days on, and records it. */
static int open_callback(struct rt_core *core, st_txn *t, struct rt_result *res,
                         Mailroom__StoredMessage *m, int64_t now_ms)
{
	const struct pb_conf *c = core->conf;
	Mailroom__CallbackTask *cb = rt_own(res, malloc(sizeof(*cb)), RT_OWN_FREE);
	Mailroom__AuditRecord rec;

	if (!cb)
		return PB_ENOMEM;
	mailroom__callback_task__init(cb);
	cb->queue = (char *)c->callback_queue;
	cb->opened_ms = now_ms;
	cb->due_ms = cal_end_of_day_ms(
		cal_add_working_days(core->cal, pb_day_of_ms(now_ms), c->callback_days, NULL));
	m->callback = cb;
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_CALLBACK_OPENED;
	rec.callback_due_ms = cb->due_ms;
	return rt_audit(core, t, res, &rec, m, "router", now_ms, NULL);
}

int rt_op_rate(struct rt_core *core, st_txn *t, const struct rt_principal *who,
               const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__RateReq *x = req->rate;
	Mailroom__StoredMessage *m;
	Mailroom__AuditRecord rec;
	Mailroom__MessageView *v;
	char actor[32];
	int rc;

	if ((rc = rt_msg_by_key(t, x->tracking_code, &x->access_key_hash, res, &m)))
		return rc;
	if (x->level < 1 || x->level > 5)
		return rt_fail(res, PB_EINVAL, "invalid_level", "level: 1 (very satisfied) to 5");
	if (!rt_text_ok(x->comment, 0, 500))
		return rt_fail(res, PB_EINVAL, "invalid_field", "comment: at most 500 characters");
	if (m->channel == MAILROOM__CHANNEL__CHANNEL_HOTLINE)
		return rt_fail(res, PB_ESTATE, "rated_by_platform",
		               "the 12345 platform's rating is the rating of record");
	if (m->status != MAILROOM__STATUS__STATUS_REPLIED || !m->replied_ms)
		return rt_fail(res, PB_ESTATE, "not_replied", "a message can be rated once answered");
	if (m->rating)
		return rt_fail(res, PB_ESTATE, "already_rated", "this answer has been rated already");
	m->rating = x->level;
	m->rated_ms = now_ms;
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_RATED;
	rec.rating = x->level;
	rec.rating_named = m->contact_sealed.len > 0;
	rec.detail = x->comment;   /* committed by rt_audit, never clear */
	if ((rc = rt_audit(core, t, res, &rec, m, rt_actor(who, actor, sizeof(actor)), now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	if (rt_rating_bad(x->level) && !m->callback && (rc = open_callback(core, t, res, m, now_ms)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot open the call-back");
	if ((rc = st_msg_put(t, m)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot store the rating");
	if ((rc = rt_view(core, res, m, 0, &v)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot build the answer");
	/* The page after a rating is the status page: with its receipt. */
	rt_view_receipt(core, t, res, m, v);
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_RATE;
	res->resp.rate = v;
	return PB_OK;
}

/* Re-opening: back in its department's queue with a new reply clock. */
static int reopen(struct rt_core *core, st_txn *t, struct rt_result *res,
                  Mailroom__StoredMessage *m, const char *actor, int64_t now_ms)
{
	Mailroom__AuditRecord rec;
	Mailroom__Clock *c;
	int64_t old_due = m->reply_due_ms;
	int rc;

	if (!m->first_replied_ms)
		m->first_replied_ms = m->replied_ms;
	m->replied_ms = 0;
	m->reopened++;
	if ((rc = rt_clock_reopen(core, t, m, now_ms, &c)))
		return rc;
	if ((rc = rt_requeue(t, m, m->queue, 1, res)))
		return rc;
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_REOPENED;
	return rt_clock_record(core, t, res, m, &rec, c, old_due, actor, now_ms);
}

int rt_op_callback(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                   const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__CallbackReq *x = req->callback;
	Mailroom__StoredMessage *m;
	Mailroom__CallbackTask *cb;
	Mailroom__AuditRecord rec;
	Mailroom__MessageView *v;
	char actor[PB_NAME_MAX + 16], outcome[64];
	int rc;

	if ((rc = rt_msg_by_ref(t, &x->id, x->tracking_code, res, &m)))
		return rc;
	if (!rt_text_ok(x->note, 0, 2000))
		return rt_fail(res, PB_EINVAL, "invalid_field", "note: at most 2000 characters");
	if (!m->callback || m->callback->done_ms)
		return rt_fail(res, PB_ESTATE, "no_callback", "no call-back is open for this message");
	if (!pb_handler_may(who->handler, m->callback->queue) && !pb_handler_may(who->handler, m->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden",
		               "this handler may use neither the call-back queue nor the message's");
	if (x->reopen && m->channel == MAILROOM__CHANNEL__CHANNEL_DISCLOSURE)
		return rt_fail(res, PB_ESTATE, "use_disclosure_steps",
		               "a disclosure decision is reviewed, not re-opened");
	if (x->reopen && m->status != MAILROOM__STATUS__STATUS_REPLIED)
		return rt_fail(res, PB_ESTATE, "not_replied", "only an answered message can be re-opened");
	if (!(cb = rt_own(res, malloc(sizeof(*cb)), RT_OWN_FREE)))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	*cb = *m->callback;
	cb->done_ms = now_ms;
	cb->reached = x->reached;
	cb->resolved = x->resolved;
	cb->reopen = x->reopen;
	m->callback = cb;
	snprintf(outcome, sizeof(outcome), "reached=%s resolved=%s reopen=%s",
	         x->reached ? "yes" : "no", x->resolved ? "yes" : "no", x->reopen ? "yes" : "no");
	rt_actor(who, actor, sizeof(actor));
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_CALLBACK_DONE;
	rec.callback_outcome = outcome;
	rec.callback_due_ms = cb->due_ms;
	rec.detail = x->note;
	if ((rc = rt_audit(core, t, res, &rec, m, actor, now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	if (x->reopen && (rc = reopen(core, t, res, m, actor, now_ms)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot re-open the message");
	if ((rc = st_msg_put(t, m)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot store the call-back");
	if ((rc = rt_view(core, res, m, 1, &v)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot build the answer");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_CALLBACK;
	res->resp.callback = v;
	return PB_OK;
}

/* ------------------------------------------------- open call-backs -- */

struct open_cbs {
	const struct pb_handler *h;
	struct rt_result *res;
	Mailroom__SupervisedItem **v;
	size_t n, cap;
	int failed;
};

static int collect_cb(const Mailroom__StoredMessage *m, void *arg)
{
	struct open_cbs *o = arg;
	const Mailroom__CallbackTask *cb = m->callback;

	if (!cb || cb->done_ms || m->id.len != PB_ID_LEN ||
	    (!pb_handler_may(o->h, cb->queue) && !pb_handler_may(o->h, m->queue)))
		return 0;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		Mailroom__SupervisedItem **p = realloc(o->v, cap * sizeof(*p));
		if (!p)
			goto fail;
		o->v = p;
		o->cap = cap;
	}
	/* m is freed after this call: the item keeps copies, owned by res */
	Mailroom__SupervisedItem *it = rt_own(o->res, malloc(sizeof(*it)), RT_OWN_FREE);
	char *code = rt_own(o->res, strdup(m->tracking_code ? m->tracking_code : ""), RT_OWN_FREE);
	char *queue = rt_own(o->res, strdup(m->queue ? m->queue : ""), RT_OWN_FREE);
	uint8_t *id = rt_own(o->res, malloc(PB_ID_LEN), RT_OWN_FREE);
	if (!it || !code || !queue || !id)
		goto fail;
	memcpy(id, m->id.data, PB_ID_LEN);
	mailroom__supervised_item__init(it);
	it->id.data = id;
	it->id.len = PB_ID_LEN;
	it->tracking_code = code;
	it->queue = queue;
	it->channel = m->channel;
	it->status = m->status;
	it->received_ms = m->received_ms;
	it->callback_due_ms = cb->due_ms;
	it->rating = m->rating;
	o->v[o->n++] = it;
	return 0;
fail:
	o->failed = 1;
	return 1;
}

static int earliest_due(const void *a, const void *b)
{
	const Mailroom__SupervisedItem *x = *(Mailroom__SupervisedItem *const *)a;
	const Mailroom__SupervisedItem *y = *(Mailroom__SupervisedItem *const *)b;

	return (x->callback_due_ms > y->callback_due_ms) - (x->callback_due_ms < y->callback_due_ms);
}

int rt_op_callbacks(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                    const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	Mailroom__CallbacksResp *cr = rt_own(res, malloc(sizeof(*cr)), RT_OWN_FREE);
	struct open_cbs o = {.h = who->handler, .res = res};
	int rc;

	(void)core;
	(void)req;
	(void)now_ms;
	if (!cr)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__callbacks_resp__init(cr);
	rc = st_msg_each(t, collect_cb, &o);
	if (o.v && !rt_own(res, o.v, RT_OWN_FREE))
		o.failed = 1;
	if (rc || o.failed)
		return rt_fail(res, rc ? rc : PB_ENOMEM, pb_err_name(rc ? rc : PB_ENOMEM),
		               "cannot read the messages");
	if (o.n)
		qsort(o.v, o.n, sizeof(*o.v), earliest_due);
	cr->items = o.v;
	cr->n_items = o.n;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_CALLBACKS;
	res->resp.callbacks = cr;
	return PB_OK;
}

/* ------------------------------------------------------------ timers -- */

static int veto_fire(struct rt_core *core, st_txn *t, struct rt_result *res,
                     Mailroom__StoredMessage *m, uint32_t step, int64_t now_ms)
{
	const struct pb_conf *c = core->conf;
	Mailroom__AuditRecord rec;
	char days[16];
	int rc;

	/* Answered (or closed) since it was scheduled, or written already. */
	if (m->replied_ms || m->first_replied_ms || m->status == MAILROOM__STATUS__STATUS_REPLIED ||
	    m->status == MAILROOM__STATUS__STATUS_CLOSED || m->veto_step >= step || step > 2)
		return PB_ENOTFOUND;
	m->veto_step = step;
	if (step == 1 && c->veto_days_2 > c->veto_days &&
	    (rc = rt_timer_put(t, m->id.data, m->received_ms + c->veto_days_2 * DAY_MS,
	                       RT_TIMER_VETO, 2)))
		return rc;
	snprintf(days, sizeof(days), "%d", step == 1 ? c->veto_days : c->veto_days_2);
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_VETO_ALERT;
	rec.detail = days;
	if ((rc = st_msg_put(t, m)))
		return rc;
	return rt_audit(core, t, res, &rec, m, "router", now_ms, NULL);
}

static int invite_fire(struct rt_core *core, st_txn *t, struct rt_result *res,
                       Mailroom__StoredMessage *m, int64_t now_ms)
{
	Mailroom__AuditRecord rec;
	int rc;

	if (m->rating || m->rating_invited || m->status != MAILROOM__STATUS__STATUS_REPLIED ||
	    m->channel == MAILROOM__CHANNEL__CHANNEL_HOTLINE)
		return PB_ENOTFOUND;
	m->rating_invited = 1;
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_RATING_INVITED;
	if ((rc = st_msg_put(t, m)))
		return rc;
	return rt_audit(core, t, res, &rec, m, "router", now_ms, NULL);
}

int rt_invite_schedule(struct rt_core *core, st_txn *t, const Mailroom__StoredMessage *m,
                       int64_t now_ms)
{
	if (m->rating_invited || m->channel == MAILROOM__CHANNEL__CHANNEL_HOTLINE)
		return PB_OK;
	return rt_timer_put(t, m->id.data, now_ms + core->conf->rating_invite_days * DAY_MS,
	                    RT_TIMER_INVITE, 1);
}

int rt_timer_fire(struct rt_core *core, st_txn *t, const uint8_t *id, uint32_t kind,
                  uint32_t step, int64_t now_ms, struct rt_result *res)
{
	Mailroom__StoredMessage *m;
	int rc = rt_msg_load(t, id, PB_ID_LEN, res, &m);

	if (rc == PB_OK && kind == RT_TIMER_VETO)
		rc = veto_fire(core, t, res, m, step, now_ms);
	else if (rc == PB_OK && kind == RT_TIMER_INVITE)
		rc = invite_fire(core, t, res, m, now_ms);
	else if (rc == PB_OK)
		rc = PB_ENOTFOUND;
	if (rc == PB_ENOTFOUND) {
		/* Stale: nothing to write; the entry is gone already. */
		rt_result_clear(res);
		return PB_OK;
	}
	return rc;
}

/* ------------------------------------------------- satisfaction sums -- */

void rt_rating_count(const Mailroom__StoredMessage *m, Mailroom__QueueSupervision *q)
{
	if (m->rating) {
		q->rated++;
		q->satisfied += satisfied(m->rating);
		if (rt_rating_bad(m->rating) && m->contact_sealed.len)
			q->callbacks_owed++;
	}
	if (m->callback && m->callback->done_ms && m->contact_sealed.len) {
		q->callbacks_done++;
		q->callbacks_on_time += m->callback->done_ms <= m->callback->due_ms;
	}
	q->reopened += m->reopened > 0;
}
