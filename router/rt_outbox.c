/* The 12345 outbox as mailroom-hotline sees it: a read of pending entries
 * (or dead letters) and the verdicts it sends back. The store stays
 * single-writer: only these verdicts, applied here, remove or move an
 * entry. A final refusal is an alert record in the log. */
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 500
#define LIST_BYTES (4u << 20)   /* an answer stays well under what clients take */
#define ACKS_MAX 1000

static int fail_rc(struct rt_result *res, int rc, const char *what)
{
	return rt_fail(res, rc, pb_err_name(rc), what);
}

static int collect(const Mailroom__OutboxEntry *e, void *arg)
{
	struct rt_outbox_list *l = arg;
	size_t len = mailroom__outbox_entry__get_packed_size(e);
	uint8_t *buf = malloc(len ? len : 1);
	Mailroom__OutboxEntry *copy;

	/* Enough for one answer; the rest comes with the next request. */
	if (l->n > 0 && l->bytes + len > LIST_BYTES) {
		free(buf);
		return 1;
	}
	/* The entry is only valid during the walk: keep a copy. */
	if (!buf || l->n == l->cap) {
		free(buf);
		l->failed = 1;
		return 1;
	}
	mailroom__outbox_entry__pack(e, buf);
	copy = mailroom__outbox_entry__unpack(NULL, len, buf);
	free(buf);
	if (!copy) {
		l->failed = 1;
		return 1;
	}
	l->v[l->n++] = copy;
	l->bytes += len;
	return 0;
}

int rt_op_outbox(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__OutboxReq *q = req->outbox;
	size_t limit = q->limit == 0 || q->limit > LIST_MAX ? LIST_MAX : q->limit;
	Mailroom__OutboxResp *or = rt_own(res, malloc(sizeof(*or)), RT_OWN_FREE);
	struct rt_outbox_list *l = calloc(1, sizeof(*l));
	int rc;

	(void)core;
	(void)who;
	(void)now_ms;

	if (!or || !l || !(l->v = calloc(limit, sizeof(*l->v)))) {
		free(l);
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	}
	l->cap = limit;
	if (!rt_own(res, l, RT_OWN_OUTBOX))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__outbox_resp__init(or);
	if ((rc = st_outbox_each(t, q->dead, q->after_seq, limit, collect, l)))
		return fail_rc(res, rc, "cannot read the outbox");
	if (l->failed)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	if ((rc = st_outbox_count(t, 0, &or->pending)) || (rc = st_outbox_count(t, 1, &or->dead)))
		return fail_rc(res, rc, "cannot count the outbox");
	or->entries = l->v;
	or->n_entries = l->n;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_OUTBOX;
	res->resp.outbox = or;
	return PB_OK;
}

/* A record about an event, not about a change of the message. */
static int outbox_record(struct rt_core *core, st_txn *t, struct rt_result *res, int event,
                         const Mailroom__OutboxEntry *e, const char *detail, int64_t now_ms)
{
	Mailroom__AuditRecord rec;
	char ref[96];

	snprintf(ref, sizeof(ref), "12345:%s#%u", e->order_no, e->dispatch_seq);
	mailroom__audit_record__init(&rec);
	rec.event = event;
	rec.message_id = e->message_id;
	rec.channel = MAILROOM__CHANNEL__CHANNEL_HOTLINE;
	rec.external_ref = ref;
	rec.detail = (char *)detail;
	rec.event_id = e->event_id;
	return rt_audit(core, t, res, &rec, NULL, "hotline", now_ms, NULL);
}

static int kill_entry(struct rt_core *core, st_txn *t, struct rt_result *res,
                      const Mailroom__OutboxAck *a, int64_t now_ms, int *missing)
{
	Mailroom__OutboxEntry *e;
	char detail[400];
	int rc = st_outbox_get(t, 0, a->seq, &e);

	if (rc == PB_ENOTFOUND) {
		(*missing)++;
		return PB_OK;
	}
	if (rc)
		return rc;
	char *old_error = e->error, *old_message = e->error_message;
	e->error = (char *)(a->error ? a->error : "");
	e->error_message = (char *)(a->error_message ? a->error_message : "");
	e->http_status = a->http_status;
	e->attempts = a->attempts;
	e->dead_ms = now_ms;
	snprintf(detail, sizeof(detail), "%s refused by the platform: HTTP %d %s: %.200s", e->type,
	         (int)a->http_status, e->error, e->error_message);
	pb_warn("hotline: event %s (%s) is a dead letter: %s", e->event_id, e->type, detail);
	if (!(rc = st_outbox_put(t, 1, e)) && !(rc = st_outbox_del(t, 0, a->seq)))
		rc = outbox_record(core, t, res, MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_DEAD, e, detail, now_ms);
	/* Give back what unpack made, so only that is freed. */
	e->error = old_error;
	e->error_message = old_message;
	st_outbox_free_entry(e);
	return rc;
}

static int requeue_entry(struct rt_core *core, st_txn *t, struct rt_result *res,
                         const Mailroom__OutboxAck *a, int64_t now_ms, int *missing)
{
	Mailroom__OutboxEntry *e;
	int rc = st_outbox_get(t, 1, a->seq, &e);

	if (rc == PB_ENOTFOUND) {
		(*missing)++;
		return PB_OK;
	}
	if (rc)
		return rc;
	if (!(rc = st_outbox_put(t, 0, e)) && !(rc = st_outbox_del(t, 1, a->seq)))
		rc = outbox_record(core, t, res, MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_REQUEUED, e,
		                   "dead letter sent back to the outbox", now_ms);
	st_outbox_free_entry(e);
	return rc;
}

int rt_op_outbox_ack(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                     const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__OutboxAckReq *q = req->outbox_ack;
	Mailroom__OutboxAckResp *ar = rt_own(res, malloc(sizeof(*ar)), RT_OWN_FREE);
	int missing = 0, applied = 0, rc = PB_OK;

	(void)who;
	if (!ar)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	if (q->n_acks > ACKS_MAX)
		return rt_fail(res, PB_EINVAL, "invalid_request", "too many verdicts in one request");
	mailroom__outbox_ack_resp__init(ar);
	for (size_t i = 0; i < q->n_acks && !rc; i++) {
		const Mailroom__OutboxAck *a = q->acks[i];
		int before = missing;
		switch (a->verdict) {
		case MAILROOM__OUTBOX_VERDICT__OUTBOX_DELIVERED:
			rc = st_outbox_del(t, 0, a->seq);
			if (rc == PB_ENOTFOUND) {
				missing++;
				rc = PB_OK;
			} else if (rc == PB_OK) {
				rc = st_counter_add(t, a->duplicate ? "hotline.delivered_duplicate" :
				                                      "hotline.delivered", 1);
			}
			break;
		case MAILROOM__OUTBOX_VERDICT__OUTBOX_DEAD:
			rc = kill_entry(core, t, res, a, now_ms, &missing);
			break;
		case MAILROOM__OUTBOX_VERDICT__OUTBOX_REQUEUE:
			rc = requeue_entry(core, t, res, a, now_ms, &missing);
			break;
		default:
			return rt_fail(res, PB_EINVAL, "invalid_field", "unknown outbox verdict");
		}
		if (!rc && missing == before)
			applied++;
	}
	if (rc)
		return fail_rc(res, rc, "cannot apply the verdicts");
	ar->applied = (uint32_t)applied;
	ar->missing = (uint32_t)missing;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_OUTBOX_ACK;
	res->resp.outbox_ack = ar;
	return PB_OK;
}
