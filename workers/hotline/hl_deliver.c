/* The deliverer: reads the outbox from the router and posts each event to
 * POST {platform}/api/v1/orders/{order_no}/events, in seq order within an
 * order (an entry waiting for a retry holds back the later ones of its
 * order, not the others). Verdicts go back to the router in one request
 * per round; only the router changes the store.
 *  - 200 {"accepted":true} (or a flagged duplicate): delivered.
 *  - 409, 400, 422 and other 4xx: final, a dead letter with the
 *    platform's error (the router writes an alert record).
 *  - 429 (honouring Retry-After), 5xx, timeouts, resets: retried with
 *    exponential backoff and jitter; an entry keeps its event_id, so a
 *    retry of an event that was applied comes back as a duplicate.
 *  - 401: retried, loudly: a wrong secret or clock is ours to fix. */
#include "hl.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 500
#define RETRY_BASE_MS 250

struct retry {             /* an entry that failed and waits */
	uint64_t seq;
	unsigned attempts;
	int64_t next_ms;
};

struct deliverer {
	const struct pb_conf *c;
	struct hl_http h;
	struct cn_router r;
	struct retry *retries;
	size_t nretries, capretries;
	int64_t pause_until_ms;    /* a 429 pauses every delivery */
	unsigned seed;
	/* the round's verdicts */
	Mailroom__OutboxAck *acks, **ackp;
	size_t nacks, capacks;
	char (*errs)[2][200];
	unsigned delivered, dups, dead, failed;
};

enum outcome { OUT_DELIVERED, OUT_DUPLICATE, OUT_FINAL, OUT_RETRY };

static struct retry *retry_find(struct deliverer *d, uint64_t seq)
{
	for (size_t i = 0; i < d->nretries; i++)
		if (d->retries[i].seq == seq)
			return &d->retries[i];
	return NULL;
}

static struct retry *retry_add(struct deliverer *d, uint64_t seq)
{
	if (d->nretries == d->capretries) {
		size_t cap = d->capretries ? d->capretries * 2 : 64;
		struct retry *v = realloc(d->retries, cap * sizeof(*v));
		if (!v)
			return NULL;
		d->retries = v;
		d->capretries = cap;
	}
	struct retry *r = &d->retries[d->nretries++];
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	return r;
}

static void retry_drop(struct deliverer *d, uint64_t seq)
{
	struct retry *r = retry_find(d, seq);

	if (r)
		*r = d->retries[--d->nretries];
}

static json_t *time_json(int64_t ms)
{
	char buf[40];

	if (ms <= 0 || pb_time_fmt(ms, buf, sizeof(buf), 0) < 0)
		return NULL;
	return json_string(buf);
}

char *hl_event_json(const Mailroom__OutboxEntry *e)
{
	json_t *j = json_pack("{s:s, s:I, s:s, s:o*, s:{s:s, s:s, s:s}}", "event_id", e->event_id,
	                      "dispatch_seq", (json_int_t)e->dispatch_seq, "type", e->type, "at",
	                      time_json(e->at_ms), "handler", "unit", e->handler_unit, "name",
	                      e->handler_name, "phone", "");
	char *s;

	if (!j)
		return NULL;
	if ((e->text && *e->text && json_object_set_new(j, "text", json_string(e->text))) ||
	    (e->reason_code && *e->reason_code &&
	     json_object_set_new(j, "reason_code", json_string(e->reason_code))) ||
	    (e->requested_due_ms && json_object_set_new(j, "requested_due_at",
	                                                time_json(e->requested_due_ms)))) {
		json_decref(j);
		return NULL;
	}
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

/* The platform's {"error":{"code","message"}}, or the status. */
static void error_of(const struct hl_resp *r, char *code, size_t clen, char *msg, size_t mlen)
{
	json_t *j = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
	json_t *e = json_object_get(j, "error");
	const char *c = json_string_value(json_object_get(e, "code"));
	const char *m = json_string_value(json_object_get(e, "message"));

	snprintf(code, clen, "%s", c ? c : "");
	if (!c)
		snprintf(code, clen, "http_%ld", r->status);
	snprintf(msg, mlen, "%s", m ? m : r->body ? r->body : "");
	json_decref(j);
}

static enum outcome post_event(struct deliverer *d, const Mailroom__OutboxEntry *e, char *code,
                               char *msg, long *status, int64_t *retry_after)
{
	char path[160], *body = hl_event_json(e);
	struct hl_resp r;
	enum outcome out;

	*status = 0;
	*retry_after = -1;
	if (!body || strlen(e->order_no) > 64) {
		free(body);
		snprintf(code, 200, "local_error");
		snprintf(msg, 200, "cannot build the event");
		return OUT_RETRY;
	}
	/* Order numbers are [A-Za-z0-9-]: nothing to escape. */
	snprintf(path, sizeof(path), "/api/v1/orders/%s/events", e->order_no);
	if (hl_http_call(&d->h, "POST", path, body, strlen(body), &r)) {
		free(body);
		return OUT_RETRY;
	}
	free(body);
	*status = r.status;
	if (r.cc != CURLE_OK) {
		snprintf(code, 200, "transport");
		snprintf(msg, 200, "%.199s", r.err);
		out = OUT_RETRY;
	} else if (r.status == 200) {
		json_t *j = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
		if (json_is_true(json_object_get(j, "accepted")))
			out = json_is_true(json_object_get(j, "duplicate")) ? OUT_DUPLICATE : OUT_DELIVERED;
		else
			out = OUT_RETRY;   /* a 200 we cannot read: ask again, it is idempotent */
		json_decref(j);
	} else if (r.status == 429 || r.status == 408 || r.status >= 500 || r.status == 401) {
		error_of(&r, code, 200, msg, 200);
		*retry_after = r.retry_after_ms;
		if (r.status == 401)
			pb_error("deliverer: the platform refused our signature: %s; check [hotline] "
			         "app_id, app_secret_file and the clock", code);
		out = OUT_RETRY;
	} else {
		error_of(&r, code, 200, msg, 200);
		out = OUT_FINAL;
	}
	hl_resp_free(&r);
	return out;
}

static Mailroom__OutboxAck *ack_add(struct deliverer *d)
{
	if (d->nacks == d->capacks) {
		size_t cap = d->capacks ? d->capacks * 2 : 64;
		Mailroom__OutboxAck *a = realloc(d->acks, cap * sizeof(*a));
		if (!a)
			return NULL;
		d->acks = a;
		char (*e)[2][200] = realloc(d->errs, cap * sizeof(*e));
		if (!e)
			return NULL;
		d->errs = e;
		d->capacks = cap;
	}
	Mailroom__OutboxAck *a = &d->acks[d->nacks];
	mailroom__outbox_ack__init(a);
	d->errs[d->nacks][0][0] = d->errs[d->nacks][1][0] = '\0';
	d->nacks++;
	return a;
}

/* Sends the round's verdicts. If they are lost, the entries come back
 * next round and the platform flags the repeats. */
static void send_acks(struct deliverer *d)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__OutboxAckReq q = MAILROOM__OUTBOX_ACK_REQ__INIT;
	Mailroom__OutboxAck **list;
	Mailroom__Response *resp;

	if (!d->nacks)
		return;
	if (!(list = calloc(d->nacks, sizeof(*list))))
		return;
	for (size_t i = 0; i < d->nacks; i++) {
		list[i] = &d->acks[i];
		if (d->acks[i].verdict == MAILROOM__OUTBOX_VERDICT__OUTBOX_DEAD) {
			list[i]->error = d->errs[i][0];
			list[i]->error_message = d->errs[i][1];
		}
	}
	q.acks = list;
	q.n_acks = d->nacks;
	req.op_case = MAILROOM__REQUEST__OP_OUTBOX_ACK;
	req.outbox_ack = &q;
	if (cn_router_call(&d->r, &req, HL_ROUTER_TIMEOUT_MS, &resp)) {
		pb_warn("deliverer: verdicts not recorded (%s); those events go again", d->r.err);
	} else {
		if (resp->code)
			pb_warn("deliverer: router refused the verdicts: %s", resp->message ? resp->message : "");
		mailroom__response__free_unpacked(resp, NULL);
	}
	free(list);
}

static int blocked(char (*orders)[48], size_t n, const char *no)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(orders[i], no) == 0)
			return 1;
	return 0;
}

/* One round over the outbox. Returns how long to wait before the next. */
static int64_t round_once(struct deliverer *d)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__OutboxReq q = MAILROOM__OUTBOX_REQ__INIT;
	Mailroom__Response *resp;
	char (*held)[48] = NULL;
	size_t nheld = 0;
	int64_t now = pb_now_ms(), wake = now + d->c->hotline_poll_interval_ms;
	unsigned tried = 0;

	q.limit = LIST_MAX;
	req.op_case = MAILROOM__REQUEST__OP_OUTBOX;
	req.outbox = &q;
	if (cn_router_call(&d->r, &req, HL_ROUTER_TIMEOUT_MS, &resp)) {
		pb_warn("deliverer: %s", d->r.err);
		return -1;
	}
	if (resp->code || resp->result_case != MAILROOM__RESPONSE__RESULT_OUTBOX || !resp->outbox) {
		pb_warn("deliverer: cannot read the outbox: %s", resp->message ? resp->message : "");
		mailroom__response__free_unpacked(resp, NULL);
		return -1;
	}
	const Mailroom__OutboxResp *o = resp->outbox;
	held = calloc(o->n_entries + 1, sizeof(*held));
	d->nacks = 0;
	d->delivered = d->dups = d->dead = d->failed = 0;
	for (size_t i = 0; held && i < o->n_entries && !atomic_load(&cn_stop); i++) {
		const Mailroom__OutboxEntry *e = o->entries[i];
		struct retry *rt = retry_find(d, e->seq);
		char code[200] = "", msg[200] = "";
		int64_t ra;
		long status;

		if (blocked(held, nheld, e->order_no))
			continue;
		now = pb_now_ms();
		if ((rt && rt->next_ms > now) || d->pause_until_ms > now) {
			int64_t at = d->pause_until_ms > now ? d->pause_until_ms : rt->next_ms;
			if (at < wake)
				wake = at;
			snprintf(held[nheld++], 48, "%s", e->order_no);
			continue;
		}
		if (tried++ >= (unsigned)d->c->hotline_deliver_batch) {
			wake = now;
			break;
		}
		enum outcome out = post_event(d, e, code, msg, &status, &ra);
		Mailroom__OutboxAck *a = out == OUT_RETRY ? NULL : ack_add(d);
		if (out != OUT_RETRY && !a)
			out = OUT_RETRY;
		switch (out) {
		case OUT_DELIVERED:
		case OUT_DUPLICATE:
			a->seq = e->seq;
			a->verdict = MAILROOM__OUTBOX_VERDICT__OUTBOX_DELIVERED;
			a->duplicate = out == OUT_DUPLICATE;
			a->http_status = (int32_t)status;
			retry_drop(d, e->seq);
			d->delivered++;
			d->dups += out == OUT_DUPLICATE;
			atomic_fetch_add(&hl_stats.delivered, 1);
			break;
		case OUT_FINAL:
			a->seq = e->seq;
			a->verdict = MAILROOM__OUTBOX_VERDICT__OUTBOX_DEAD;
			a->http_status = (int32_t)status;
			a->attempts = (rt ? rt->attempts : 0) + 1;
			snprintf(d->errs[d->nacks - 1][0], 200, "%s", code);
			snprintf(d->errs[d->nacks - 1][1], 200, "%s", msg);
			retry_drop(d, e->seq);
			d->dead++;
			atomic_fetch_add(&hl_stats.dead, 1);
			break;
		default:
			if (!rt && !(rt = retry_add(d, e->seq)))
				break;
			rt->attempts++;
			rt->next_ms = pb_now_ms() + hl_backoff_for(&d->seed, rt->attempts, RETRY_BASE_MS,
			                                           d->c->hotline_backoff_max_ms);
			if (ra >= 0) {
				d->pause_until_ms = pb_now_ms() + ra;
				if (rt->next_ms < d->pause_until_ms)
					rt->next_ms = d->pause_until_ms;
			}
			pb_debug("deliverer: %s %s for %s: %s %s; retry %u", e->type, e->event_id,
			         e->order_no, code, msg, rt->attempts);
			if (rt->next_ms < wake)
				wake = rt->next_ms;
			snprintf(held[nheld++], 48, "%s", e->order_no);
			d->failed++;
			atomic_fetch_add(&hl_stats.retries, 1);
			break;
		}
	}
	size_t listed = o->n_entries;
	mailroom__response__free_unpacked(resp, NULL);
	free(held);
	send_acks(d);
	if (d->delivered || d->dead || d->failed)
		pb_info("deliverer: %u delivered (%u repeats), %u dead letters, %u to retry", d->delivered,
		        d->dups, d->dead, d->failed);
	/* More was listed than tried: go on at once. */
	if (listed == LIST_MAX && tried > 0)
		return 0;
	now = pb_now_ms();
	return wake > now ? wake - now : 0;
}

void *hl_deliver_main(void *arg)
{
	const struct hl_ctx *x = arg;
	struct deliverer d;
	struct hl_backoff b;
	char err[PB_PATH_MAX + 256];

	memset(&d, 0, sizeof(d));
	d.c = x->conf;
	d.seed = (unsigned)pb_now_ms();
	if (hl_http_init(&d.h, d.c, err, sizeof(err))) {
		pb_error("deliverer: %s", err);
		atomic_store(&cn_stop, 1);
		return NULL;
	}
	if (hl_router_open(&d.r, d.c)) {
		pb_error("deliverer: %s", d.r.err);
		hl_http_fini(&d.h);
		atomic_store(&cn_stop, 1);
		return NULL;
	}
	hl_backoff_init(&b, 200, d.c->hotline_backoff_max_ms);
	while (!atomic_load(&cn_stop)) {
		int64_t wait = round_once(&d);
		if (wait < 0) {
			cn_sleep(hl_backoff_next(&b));
			continue;
		}
		hl_backoff_reset(&b);
		if (wait > 0)
			cn_sleep(wait);
	}
	cn_router_close(&d.r);
	hl_http_fini(&d.h);
	free(d.retries);
	free(d.acks);
	free(d.errs);
	return NULL;
}
