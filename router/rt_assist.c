/* Lead and assisting queues (主办/协办). A case stays in its own queue, the
 * lead's; the lead asks other queues for their opinion, each due a number
 * of working days later on the calendar (never a date typed in). A
 * handler of an asked queue reads the case and delivers the opinion; the
 * text is committed in the log and sealed in the store like every other.
 * The lead's answer, which closes the case, waits for every opinion
 * unless the lead records why it cannot wait. */
#include "rt_chan.h"
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"

#include <stdlib.h>
#include <string.h>

#define ASSIST_MAX 8   /* assisting queues per case: the auditor keeps as many */

size_t rt_assist_pending(const Mailroom__StoredMessage *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n_assists; i++)
		n += m->assists[i]->delivered_ms == 0;
	return n;
}

int rt_assist_may(const struct pb_handler *h, const Mailroom__StoredMessage *m)
{
	for (size_t i = 0; i < m->n_assists; i++)
		if (pb_handler_may(h, m->assists[i]->queue))
			return 1;
	return 0;
}

static int is_open(const Mailroom__StoredMessage *m)
{
	return m->status == MAILROOM__STATUS__STATUS_QUEUED ||
	       m->status == MAILROOM__STATUS__STATUS_LEASED;
}

static int answer(struct rt_core *core, struct rt_result *res, Mailroom__StoredMessage *m,
                  Mailroom__MessageView **slot, int result)
{
	int rc;

	if ((rc = rt_view(core, res, m, 1, slot)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot build the answer");
	res->resp.result_case = result;
	return PB_OK;
}

int rt_op_assist(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__AssistReq *x = req->assist;
	const struct rt_chan *ch;
	Mailroom__StoredMessage *m;
	Mailroom__AssistState *a, **list;
	Mailroom__AuditRecord rec;
	char actor[PB_NAME_MAX + 16];
	int32_t days = x->working_days ? x->working_days : core->conf->assist_days;
	int prov = 0, rc;

	if (!rt_text_ok(x->reason, 1, 500))
		return rt_fail(res, PB_EINVAL, "invalid_field", "reason: 1-500 characters");
	if (days < 1 || days > 60)
		return rt_fail(res, PB_EINVAL, "invalid_field", "working_days: 1-60");
	if (!x->queue || !pb_conf_queue_known(core->conf, x->queue))
		return rt_fail(res, PB_EINVAL, "unknown_queue", "no such queue");
	if ((rc = rt_ref_load(t, x->ref, res, &m)))
		return rc;
	if (!pb_handler_may(who->handler, m->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden", "this handler may not use that queue");
	if (m->channel == MAILROOM__CHANNEL__CHANNEL_DISCLOSURE)
		return rt_fail(res, PB_ESTATE, "use_disclosure_steps",
		               "disclosure applications consult through their own steps");
	ch = rt_chan_of(m->channel);
	if (ch->closed && (rc = ch->closed(m, res)))
		return rc;
	if (!is_open(m))
		return rt_fail(res, PB_ESTATE, "already_answered", "the message is already answered");
	if (strcmp(m->queue, x->queue) == 0)
		return rt_fail(res, PB_EINVAL, "same_queue", "the lead queue does not assist itself");
	for (size_t i = 0; i < m->n_assists; i++)
		if (strcmp(m->assists[i]->queue, x->queue) == 0 && !m->assists[i]->delivered_ms)
			return rt_fail(res, PB_ESTATE, "already_asked",
			               "that queue's opinion is already due");
	if (m->n_assists >= ASSIST_MAX)
		return rt_fail(res, PB_ELIMIT, "too_many_assists", "at most 8 assisting requests a case");
	list = rt_own(res, calloc(m->n_assists + 1, sizeof(*list)), RT_OWN_FREE);
	a = rt_own(res, malloc(sizeof(*a)), RT_OWN_FREE);
	if (!list || !a)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	if (m->n_assists)
		memcpy(list, m->assists, m->n_assists * sizeof(*list));
	mailroom__assist_state__init(a);
	a->queue = x->queue;
	a->requested_ms = now_ms;
	a->working_days = days;
	a->due_ms = cal_end_of_day_ms(cal_add_working_days(core->cal, pb_day_of_ms(now_ms), days, &prov));
	a->provisional = prov;
	list[m->n_assists] = a;
	m->assists = list;
	m->n_assists++;
	if ((rc = st_msg_put(t, m)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot store the request");
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_ASSIST_REQUESTED;
	rec.assist_queue = x->queue;
	rec.assist_days = days;
	rec.party_due_ms = a->due_ms;
	rec.detail = x->reason;
	if ((rc = rt_audit(core, t, res, &rec, m, rt_actor(who, actor, sizeof(actor)), now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	return answer(core, res, m, &res->resp.assist, MAILROOM__RESPONSE__RESULT_ASSIST);
}

int rt_op_opinion(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                  const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__OpinionReq *x = req->opinion;
	Mailroom__StoredMessage *m;
	Mailroom__AssistState *a = NULL, *copy;
	Mailroom__AuditRecord rec;
	char actor[PB_NAME_MAX + 16];
	size_t found = 0, at = 0;
	int rc;

	if (!rt_text_ok(x->text, 1, 10000))
		return rt_fail(res, PB_EINVAL, "invalid_field", "text: 1-10000 characters");
	if (x->queue && *x->queue && !pb_handler_may(who->handler, x->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden", "this handler may not use that queue");
	if ((rc = rt_ref_load(t, x->ref, res, &m)))
		return rc;
	/* The pending asks this handler may answer, or the one it named. */
	for (size_t i = 0; i < m->n_assists; i++) {
		Mailroom__AssistState *s = m->assists[i];
		if (s->delivered_ms || !pb_handler_may(who->handler, s->queue) ||
		    (x->queue && *x->queue && strcmp(x->queue, s->queue) != 0))
			continue;
		found++;
		at = i;
	}
	if (!found && !rt_assist_may(who->handler, m))
		return rt_fail(res, PB_EFORBIDDEN, "not_asked",
		               "none of this handler's queues was asked to assist");
	if (!found)
		return rt_fail(res, PB_ESTATE, "not_asked", "no opinion of that queue is due");
	if (found > 1)
		return rt_fail(res, PB_EINVAL, "queue_required",
		               "several of this handler's queues were asked: name one with queue");
	if (!is_open(m))
		return rt_fail(res, PB_ESTATE, "already_answered", "the case is already answered");
	/* The unpacked array and entries stay as unpack made them: the
	 * copy of m gets its own. */
	Mailroom__AssistState **list = rt_own(res, calloc(m->n_assists, sizeof(*list)), RT_OWN_FREE);
	if (!list || !(copy = rt_own(res, malloc(sizeof(*copy)), RT_OWN_FREE)))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	memcpy(list, m->assists, m->n_assists * sizeof(*list));
	*copy = *m->assists[at];
	a = copy;
	a->delivered_ms = now_ms;
	a->opinion = x->text;
	list[at] = a;
	m->assists = list;
	if ((rc = st_msg_put(t, m)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot store the opinion");
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_OPINION_DELIVERED;
	rec.assist_queue = a->queue;
	rec.detail = x->text;
	if ((rc = rt_audit(core, t, res, &rec, m, rt_actor(who, actor, sizeof(actor)), now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	return answer(core, res, m, &res->resp.opinion, MAILROOM__RESPONSE__RESULT_OPINION);
}

int rt_assist_gate(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                   Mailroom__StoredMessage *m, const char *despite, int64_t now_ms,
                   struct rt_result *res)
{
	Mailroom__AuditRecord rec;
	char actor[PB_NAME_MAX + 16];
	int rc;

	if (!rt_assist_pending(m))
		return PB_OK;
	if (!despite || !*despite)
		return rt_fail(res, PB_ESTATE, "assist_pending",
		               "an assisting opinion is still due; wait for it or say why not");
	if (!rt_text_ok(despite, 1, 500))
		return rt_fail(res, PB_EINVAL, "invalid_field", "despite_pending: 1-500 characters");
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_ASSIST_OVERRIDDEN;
	rec.detail = (char *)despite;
	if ((rc = rt_audit(core, t, res, &rec, m, rt_actor(who, actor, sizeof(actor)), now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	return PB_OK;
}

#define LIST_MAX 200

struct owed {
	const struct pb_handler *h;
	struct {
		uint8_t id[PB_ID_LEN];
		int64_t due;
	} v[LIST_MAX];
	size_t n;
	int partial;
};

/* The earliest opinion this handler's queues owe on m; 0 for none. */
static int64_t owed_due(const struct pb_handler *h, const Mailroom__StoredMessage *m)
{
	int64_t due = 0;

	if (!is_open(m))
		return 0;
	for (size_t i = 0; i < m->n_assists; i++) {
		const Mailroom__AssistState *a = m->assists[i];
		if (!a->delivered_ms && pb_handler_may(h, a->queue) && (!due || a->due_ms < due))
			due = a->due_ms;
	}
	return due;
}

static int collect_owed(const Mailroom__StoredMessage *m, void *arg)
{
	struct owed *o = arg;
	int64_t due = owed_due(o->h, m);
	size_t at;

	if (!due || m->id.len != PB_ID_LEN)
		return 0;
	if (o->n == LIST_MAX) {
		o->partial = 1;
		if (due >= o->v[LIST_MAX - 1].due)
			return 0;
		o->n--;   /* the latest due makes room */
	}
	for (at = o->n; at > 0 && o->v[at - 1].due > due; at--)
		o->v[at] = o->v[at - 1];
	memcpy(o->v[at].id, m->id.data, PB_ID_LEN);
	o->v[at].due = due;
	o->n++;
	return 0;
}

int rt_op_assist_list(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                      const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	struct owed *o = rt_own(res, calloc(1, sizeof(*o)), RT_OWN_FREE);
	Mailroom__AssistListResp *r = rt_own(res, malloc(sizeof(*r)), RT_OWN_FREE);
	Mailroom__MessageView **views;
	Mailroom__StoredMessage *m;
	int rc;

	(void)req;
	(void)now_ms;
	if (!o || !r)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	o->h = who->handler;
	if ((rc = st_msg_each(t, collect_owed, o)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot read the messages");
	if (!(views = rt_own(res, calloc(o->n + 1, sizeof(*views)), RT_OWN_FREE)))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__assist_list_resp__init(r);
	for (size_t i = 0; i < o->n; i++) {
		if ((rc = rt_msg_load(t, o->v[i].id, PB_ID_LEN, res, &m)))
			return rc;
		if ((rc = rt_view(core, res, m, 1, &views[i])))
			return rt_fail(res, rc, pb_err_name(rc), "cannot build the answer");
	}
	r->cases = views;
	r->n_cases = o->n;
	r->partial = o->partial;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_ASSIST_LIST;
	res->resp.assist_list = r;
	return PB_OK;
}
