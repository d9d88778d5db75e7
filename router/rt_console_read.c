/* The console's own reads (declared in rt.h): one message's detail
 * with its timeline, for a handler of its queue, and the supervision
 * (督办) counts, for handlers with supervise = yes. Both read a snapshot
 * and never wait on the writer. */
#include "rt_chan.h"
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"

#include <stdlib.h>
#include <string.h>

#define TIMELINE_SCAN_MAX 65536   /* records read per detail at most */
#define TIMELINE_MAX 256          /* steps shown */
#define SUPERVISE_ITEMS_MAX 2000  /* open messages listed to supervisors */

/* The message's records, from its receipt on: a bounded scan of the
 * snapshot (the log has no index by message). */
static int timeline(st_txn *t, const Mailroom__StoredMessage *m, struct rt_result *res,
                    Mailroom__MessageView *v)
{
	Mailroom__TimelineEntry **list, *items;
	uint64_t size, end;
	size_t n = 0;
	int rc;

	if ((rc = st_log_size(t, &size)))
		return rc;
	end = m->received_log_index + TIMELINE_SCAN_MAX < size ? m->received_log_index + TIMELINE_SCAN_MAX
	                                                        : size;
	list = rt_own(res, calloc(TIMELINE_MAX, sizeof(*list)), RT_OWN_FREE);
	items = rt_own(res, calloc(TIMELINE_MAX, sizeof(*items)), RT_OWN_FREE);
	if (!list || !items)
		return PB_ENOMEM;
	for (uint64_t i = m->received_log_index; i < end && n < TIMELINE_MAX; i++) {
		const uint8_t *data;
		size_t len;
		if ((rc = st_log_get(t, i, &data, &len)) || len == 0)
			return rc ? rc : PB_ECORRUPT;
		Mailroom__AuditRecord *r = mailroom__audit_record__unpack(NULL, len, data);
		if (!r)
			return PB_ECORRUPT;
		if (r->message_id.len == PB_ID_LEN && memcmp(r->message_id.data, m->id.data, PB_ID_LEN) == 0) {
			Mailroom__TimelineEntry *e = &items[n];
			char *actor = rt_own(res, strdup(r->actor ? r->actor : ""), RT_OWN_FREE);
			char *queue = rt_own(res, strdup(r->queue ? r->queue : ""), RT_OWN_FREE);
			if (!actor || !queue) {
				mailroom__audit_record__free_unpacked(r, NULL);
				return PB_ENOMEM;
			}
			mailroom__timeline_entry__init(e);
			e->log_index = r->index;
			e->time_ms = r->time_ms;
			e->event = r->event;
			e->actor = actor;
			e->queue = queue;
			e->due_ms = r->due_ms;
			e->ack_due_ms = r->ack_due_ms;
			e->old_due_ms = r->old_due_ms;
			list[n++] = e;
		}
		mailroom__audit_record__free_unpacked(r, NULL);
	}
	v->timeline = list;
	v->n_timeline = n;
	v->timeline_partial = end < size || n == TIMELINE_MAX;
	return PB_OK;
}

static int read_detail(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                       const Mailroom__Request *req, struct rt_result *res)
{
	Mailroom__StoredMessage *m;

	if (rt_msg_load(t, req->detail->id.data, req->detail->id.len, res, &m))
		return res->resp.code;
	/* Another department's message is as absent as an unknown one (an
	 * assisting queue's case is its own to read), except
	 * to a supervisor, who sees its trail as the citizen's view: no body,
	 * no contact. */
	int mine = pb_handler_may(who->handler, m->queue) || rt_assist_may(who->handler, m);
	if (!mine && !who->handler->may_supervise)
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no such message");
	if (rt_view(core, res, m, mine, &res->resp.detail))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	/* what only the department's own handlers see (an earlier repeat) */
	const struct rt_chan *ch = rt_chan_of(m->channel);
	if (mine && ch->pulled && ch->pulled(t, res, res->resp.detail))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	int rc = timeline(t, m, res, res->resp.detail);
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot read the message's records");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_DETAIL;
	return PB_OK;
}

/* The highest escalation step of an open message's running clocks:
 * 0 none, 1 due soon, 2 overdue, 3 seriously overdue. -1 when closed. */
static int open_step(const Mailroom__StoredMessage *m)
{
	uint32_t step = 0;

	if (m->status != MAILROOM__STATUS__STATUS_QUEUED && m->status != MAILROOM__STATUS__STATUS_LEASED)
		return -1;
	for (size_t i = 0; i < m->n_clocks; i++)
		if (!m->clocks[i]->stopped && m->clocks[i]->escalation > step)
			step = m->clocks[i]->escalation;
	return step > 3 ? 3 : (int)step;
}

static int count_queue(const Mailroom__StoredMessage *m, void *arg)
{
	Mailroom__QueuesResp *qr = arg;
	int step = open_step(m);

	if (step <= 0 || !m->queue)
		return 0;
	for (size_t i = 0; i < qr->n_queues; i++)
		if (strcmp(qr->queues[i]->name, m->queue) == 0) {
			qr->queues[i]->due_soon += step == 1;
			qr->queues[i]->overdue += step == 2;
			qr->queues[i]->seriously_overdue += step == 3;
		}
	return 0;
}

int rt_console_queue_counts(st_txn *txn, Mailroom__QueuesResp *qr)
{
	return st_msg_each(txn, count_queue, qr);
}

struct sv {
	struct rt_result *res;
	int64_t month_ms, year_ms;
	size_t n, cap;
	Mailroom__QueueSupervision **rows;
	Mailroom__SupervisedItem **items;
	size_t n_items;
	int failed, items_partial;
	int64_t veto_before_ms;      /* received before this and unanswered: the veto line */
	Mailroom__SupervisedItem **veto;
	size_t n_veto, cap_veto;
};

/* Lists an unanswered case past the veto line: all of them, uncapped,
 * since each is a matter for the office's head. */
static int veto_item(struct sv *v, const Mailroom__StoredMessage *m)
{
	if (v->n_veto == v->cap_veto) {
		size_t cap = v->cap_veto ? v->cap_veto * 2 : 16;
		Mailroom__SupervisedItem **p = realloc(v->veto, cap * sizeof(*p));
		if (!p)
			return -1;
		v->veto = p;
		v->cap_veto = cap;
	}
	Mailroom__SupervisedItem *it = rt_own(v->res, malloc(sizeof(*it)), RT_OWN_FREE);
	char *code = rt_own(v->res, strdup(m->tracking_code ? m->tracking_code : ""), RT_OWN_FREE);
	char *queue = rt_own(v->res, strdup(m->queue ? m->queue : ""), RT_OWN_FREE);
	uint8_t *id = rt_own(v->res, malloc(PB_ID_LEN), RT_OWN_FREE);
	if (!it || !code || !queue || !id || m->id.len != PB_ID_LEN)
		return -1;
	memcpy(id, m->id.data, PB_ID_LEN);
	mailroom__supervised_item__init(it);
	it->id.data = id;
	it->id.len = PB_ID_LEN;
	it->tracking_code = code;
	it->queue = queue;
	it->channel = m->channel;
	it->status = m->status;
	it->reply_due_ms = m->reply_due_ms;
	it->received_ms = m->received_ms;
	it->step = m->veto_step;
	v->veto[v->n_veto++] = it;
	return 0;
}

/* Lists one open message; past the cap, only says the list is partial. */
static int list_item(struct sv *v, const Mailroom__StoredMessage *m, int step)
{
	if (v->n_items == SUPERVISE_ITEMS_MAX) {
		v->items_partial = 1;
		return 0;
	}
	if (!v->items && !(v->items = rt_own(v->res, calloc(SUPERVISE_ITEMS_MAX, sizeof(*v->items)),
	                                     RT_OWN_FREE)))
		return -1;
	Mailroom__SupervisedItem *it = rt_own(v->res, malloc(sizeof(*it)), RT_OWN_FREE);
	char *code = rt_own(v->res, strdup(m->tracking_code ? m->tracking_code : ""), RT_OWN_FREE);
	char *queue = rt_own(v->res, strdup(m->queue ? m->queue : ""), RT_OWN_FREE);
	uint8_t *id = rt_own(v->res, malloc(PB_ID_LEN), RT_OWN_FREE);
	if (!it || !code || !queue || !id || m->id.len != PB_ID_LEN)
		return -1;
	memcpy(id, m->id.data, PB_ID_LEN);
	mailroom__supervised_item__init(it);
	it->id.data = id;
	it->id.len = PB_ID_LEN;
	it->tracking_code = code;
	it->queue = queue;
	it->channel = m->channel;
	it->status = m->status;
	it->reply_due_ms = m->reply_due_ms;
	it->step = (uint32_t)step;
	v->items[v->n_items++] = it;
	return 0;
}

/* Most urgent first, then the earliest deadline. */
static int item_order(const void *a, const void *b)
{
	const Mailroom__SupervisedItem *x = *(Mailroom__SupervisedItem *const *)a;
	const Mailroom__SupervisedItem *y = *(Mailroom__SupervisedItem *const *)b;

	if (x->step != y->step)
		return x->step > y->step ? -1 : 1;
	return (x->reply_due_ms > y->reply_due_ms) - (x->reply_due_ms < y->reply_due_ms);
}

static Mailroom__QueueSupervision *row(struct sv *v, const char *queue, int channel)
{
	for (size_t i = 0; i < v->n; i++)
		if ((int)v->rows[i]->channel == channel && strcmp(v->rows[i]->queue, queue) == 0)
			return v->rows[i];
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 32;
		Mailroom__QueueSupervision **p = realloc(v->rows, cap * sizeof(*p));
		if (!p)
			return NULL;
		v->rows = p;
		v->cap = cap;
	}
	Mailroom__QueueSupervision *q = rt_own(v->res, malloc(sizeof(*q)), RT_OWN_FREE);
	char *name = rt_own(v->res, strdup(queue), RT_OWN_FREE);
	if (!q || !name)
		return NULL;
	mailroom__queue_supervision__init(q);
	q->queue = name;
	q->channel = channel;
	v->rows[v->n++] = q;
	return q;
}

static int tally(const Mailroom__StoredMessage *m, void *arg)
{
	struct sv *v = arg;
	Mailroom__QueueSupervision *q = row(v, m->queue ? m->queue : "", m->channel);

	if (!q) {
		v->failed = 1;
		return 1;
	}
	int step = open_step(m);
	if (step >= 0) {
		q->open++;
		q->due_soon += step == 1;
		q->overdue += step == 2;
		q->seriously_overdue += step == 3;
		if (list_item(v, m, step) ||
		    (!m->first_replied_ms && m->received_ms < v->veto_before_ms && veto_item(v, m))) {
			v->failed = 1;
			return 1;
		}
	} else if (m->status == MAILROOM__STATUS__STATUS_REPLIED && m->replied_ms >= v->year_ms) {
		int on_time = m->reply_due_ms == 0 || m->replied_ms <= m->reply_due_ms;
		q->year_answered++;
		q->year_on_time += on_time;
		if (m->replied_ms >= v->month_ms) {
			q->month_answered++;
			q->month_on_time += on_time;
		}
	}
	rt_rating_count(m, q);
	return 0;
}

/* Every department's counts: one pass over the messages (a snapshot
 * read; it never blocks the writer). */
static int read_supervise(struct rt_core *core, st_txn *t, int64_t now_ms, struct rt_result *res)
{
	Mailroom__SuperviseResp *sr = rt_own(res, malloc(sizeof(*sr)), RT_OWN_FREE);
	struct sv v = {.res = res,
	               .veto_before_ms = now_ms - (int64_t)core->conf->veto_days * 86400 * 1000};
	int y, mo, d, rc;

	if (!sr)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__supervise_resp__init(sr);
	pb_civil_from_days(pb_day_of_ms(now_ms), &y, &mo, &d);
	v.month_ms = pb_day_start_ms(pb_days_from_civil(y, mo, 1));
	v.year_ms = pb_day_start_ms(pb_days_from_civil(y, 1, 1));
	rc = st_msg_each(t, tally, &v);
	if (v.rows && !rt_own(res, v.rows, RT_OWN_FREE))
		v.failed = 1;
	if (v.veto && !rt_own(res, v.veto, RT_OWN_FREE))
		v.failed = 1;
	if (rc || v.failed)
		return rt_fail(res, rc ? rc : PB_ENOMEM, rc ? pb_err_name(rc) : "no_memory",
		               "cannot read the messages");
	sr->queues = v.rows;
	sr->n_queues = v.n;
	if (v.n_items)
		qsort(v.items, v.n_items, sizeof(*v.items), item_order);
	sr->items = v.items;
	sr->n_items = v.n_items;
	sr->items_partial = v.items_partial;
	sr->veto = v.veto;
	sr->n_veto = v.n_veto;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_SUPERVISE;
	res->resp.supervise = sr;
	return PB_OK;
}

int rt_console_read(struct rt_core *core, st_txn *txn, const struct rt_principal *who,
                    const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	if (req->op_case == MAILROOM__REQUEST__OP_DETAIL)
		return read_detail(core, txn, who, req, res);
	return read_supervise(core, txn, now_ms, res);
}
