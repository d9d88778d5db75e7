/* The 12345 connector under load and faults: orders arrive by pull and by
 * push at once (some by both), the stand-in platform injects every fault
 * at random, handlers sign, finish, return, ask for extensions and answer
 * citizens, and mailroom-hotline and the router are killed with SIGKILL
 * several times. At the end:
 *  - every valid dispatch is stored, once: (order_no, seq) names one
 *    message, all dispatches of an order name the same one, and there are
 *    no other 12345 messages;
 *  - every event the router wrote was applied by the platform exactly
 *    once (repeats only as the platform's flagged duplicates), or is a
 *    dead letter with the platform's reason; the platform applied nothing
 *    else;
 *  - the outbox is empty, and the log verifies.
 *
 * MR_SOAK_ORDERS (default 2000) and MR_SOAK_SEED repeat a run. */
#include "hl_it.h"
#include "it.h"
#include "pb_err.h"
#include "pb_id.h"
#include "st.h"
#include "wk.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HANDLERS 2
#define KILLS 8
#define MAX_PUSH 4000

static struct hl_it hl;

static const struct mr_handler_spec handlers[HANDLERS] = {
	{"h1", "hotline"},
	{"h2", "hotline"},
};

static struct {
	atomic_int stop, pushing, busy;
	atomic_long handled, pushed, push_retries, ops_retried;
	char *push[MAX_PUSH];
	int npush;
	char nos[MAX_PUSH][48];
	int nnos;
	unsigned seed;
} S;

static unsigned rnd(unsigned *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* ---------------------------------------------------------- pushing -- */

static void *pusher(void *arg)
{
	CURL *h = curl_easy_init();

	(void)arg;
	for (int i = 0; i < S.npush && !atomic_load(&S.stop); i++) {
		for (;;) {
			struct mr_hl_sign sg = {0};
			struct mr_http r;
			int rc = mr_post_order(h, &env, S.push[i], &sg, &r);
			long st = r.status;
			mr_http_free(&r);
			if (rc == 0 && (st == 200 || st == 201))
				break;
			/* The router is down (503) or the gateway was busy: as the
			 * platform does, try again. */
			atomic_fetch_add(&S.push_retries, 1);
			if (atomic_load(&S.stop))
				break;
			mr_sleep_ms(100);
		}
		atomic_fetch_add(&S.pushed, 1);
		/* Spread over the run, so pushes meet the kills too. */
		mr_sleep_ms(10);
	}
	curl_easy_cleanup(h);
	atomic_store(&S.pushing, 0);
	return NULL;
}

/* -------------------------------------------------------- handlers -- */

struct worker {
	int n;
	unsigned seed;
	struct wk_client c;
	const struct mr_handler *h;
};

/* One request, retried while the router is away. 0 or the router's code;
 * *err (may be NULL) the router's error text. */
static int call(struct worker *w, Mailroom__Request *req, int timeout_ms, Mailroom__Response **out,
                char *err, size_t errlen)
{
	for (int tries = 0; !atomic_load(&S.stop); tries++) {
		Mailroom__Response *r = NULL;
		int rc = wk_client_call(&w->c, w->h->sk, req, timeout_ms, &r);
		if (rc == PB_OK && r->code != PB_EUNAVAIL && r->code != PB_ESTALE) {
			int code = r->code;
			if (err)
				snprintf(err, errlen, "%s", r->error ? r->error : "");
			if (out && code == PB_OK)
				*out = r;
			else
				mailroom__response__free_unpacked(r, NULL);
			return code;
		}
		if (r)
			mailroom__response__free_unpacked(r, NULL);
		atomic_fetch_add(&S.ops_retried, 1);
		mr_sleep_ms(200);
	}
	return PB_EUNAVAIL;
}

static int step(struct worker *w, const uint8_t *id, const uint8_t *tok, int action,
                const char *text, const char *code, int64_t due)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__HotlineReq h = MAILROOM__HOTLINE_REQ__INIT;
	char err[64];

	h.id.data = (uint8_t *)id;
	h.id.len = PB_ID_LEN;
	h.lease_token.data = (uint8_t *)tok;
	h.lease_token.len = 16;
	h.action = action;
	h.text = (char *)text;
	h.reason_code = (char *)code;
	h.requested_due_ms = due;
	req.op_case = MAILROOM__REQUEST__OP_HOTLINE;
	req.hotline = &h;
	int rc = call(w, &req, 5000, NULL, err, sizeof(err));
	/* A step whose answer was lost to a crash comes back as done. */
	if (rc == PB_ESTATE && (strcmp(err, "already_signed") == 0 || strcmp(err, "already_finished") == 0))
		return PB_OK;
	return rc;
}

static int reply(struct worker *w, const uint8_t *id, const uint8_t *tok, const char *text)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__ReplyReq rp = MAILROOM__REPLY_REQ__INIT;
	Mailroom__LeaseRef ref = MAILROOM__LEASE_REF__INIT;

	ref.id.data = (uint8_t *)id;
	ref.id.len = PB_ID_LEN;
	ref.lease_token.data = (uint8_t *)tok;
	ref.lease_token.len = 16;
	rp.lease = &ref;
	rp.text = (char *)text;
	req.op_case = MAILROOM__REQUEST__OP_REPLY;
	req.reply = &rp;
	return call(w, &req, 5000, NULL, NULL, 0);
}

/* What a handler does with one order; the router's refusals (revoked in
 * the meantime) end it. */
static void work(struct worker *w, const uint8_t *id, const uint8_t *tok)
{
	unsigned r = rnd(&w->seed) % 100;

	if (r < 12) {
		step(w, id, tok, MAILROOM__HOTLINE_ACTION__HOTLINE_RETURN, "不属于本单位职责（依据三定方案）",
		     "NOT_OURS", 0);
		return;
	}
	if (step(w, id, tok, MAILROOM__HOTLINE_ACTION__HOTLINE_SIGN, NULL, NULL, 0))
		return;
	if (r < 17 && step(w, id, tok, MAILROOM__HOTLINE_ACTION__HOTLINE_EXTENSION_REQUEST,
	                   "需协调多个部门", NULL, (int64_t)(time(NULL) + 30 * 86400) * 1000))
		return;
	if (r >= 17 && r < 22 && reply(w, id, tok, "已电话联系市民说明进展"))
		return;
	step(w, id, tok, MAILROOM__HOTLINE_ACTION__HOTLINE_FINISH, "已处理完毕，已告知市民。", NULL, 0);
}

static void *handler_main(void *arg)
{
	struct worker *w = arg;

	if (wk_client_open(&w->c, env.router_url)) {
		fprintf(stderr, "soak: handler %s cannot dial\n", w->h->name);
		return NULL;
	}
	while (!atomic_load(&S.stop)) {
		Mailroom__Request req = MAILROOM__REQUEST__INIT;
		Mailroom__PullReq p = MAILROOM__PULL_REQ__INIT;
		Mailroom__Response *r = NULL;
		uint8_t id[PB_ID_LEN], tok[16];

		p.queue = "hotline";
		p.wait_ms = 500;
		req.op_case = MAILROOM__REQUEST__OP_PULL;
		req.pull = &p;
		if (call(w, &req, 5000, &r, NULL, 0) != PB_OK || !r)
			continue;
		int got = r->pull && r->pull->message && r->pull->message->id.len == PB_ID_LEN &&
		          r->pull->lease && r->pull->lease->token.len == 16;
		if (got) {
			memcpy(id, r->pull->message->id.data, PB_ID_LEN);
			memcpy(tok, r->pull->lease->token.data, 16);
		}
		mailroom__response__free_unpacked(r, NULL);
		if (!got)
			continue;
		atomic_fetch_add(&S.busy, 1);
		work(w, id, tok);
		atomic_fetch_sub(&S.busy, 1);
		atomic_fetch_add(&S.handled, 1);
	}
	wk_client_close(&w->c);
	return NULL;
}

/* ---------------------------------------------------------- waiting -- */

static int queue_empty(void)
{
	struct worker w = {.h = &env.handlers[0]};
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__QueuesReq q = MAILROOM__QUEUES_REQ__INIT;
	Mailroom__Response *r = NULL;
	int empty = 0;

	if (wk_client_open(&w.c, env.router_url))
		return 0;
	req.op_case = MAILROOM__REQUEST__OP_QUEUES;
	req.queues = &q;
	if (wk_client_call(&w.c, w.h->sk, &req, 3000, &r) == PB_OK && r->code == 0 && r->queues &&
	    r->queues->n_queues == 1)
		empty = r->queues->queues[0]->depth == 0 && r->queues->queues[0]->leased == 0;
	if (r)
		mailroom__response__free_unpacked(r, NULL);
	wk_client_close(&w.c);
	return empty;
}

/* Outbox empty, the whole feed pulled, nothing queued or leased, no
 * push pending. */
static int settled(void)
{
	char *out = NULL, want[24];
	int rc = hl_it_cmd(&env, &out, "status", NULL);
	json_t *j = out ? json_loads(out, 0, NULL) : NULL;
	const char *cur = it_str(j, "cursor");
	int ok;

	snprintf(want, sizeof(want), ".%zx", hp_feed_len(hl.platform));
	ok = rc == 0 && j && json_integer_value(json_object_get(j, "outbox_pending")) == 0 && cur &&
	     strrchr(cur, '.') && strcmp(strrchr(cur, '.'), want) == 0 &&
	     !atomic_load(&S.pushing) && atomic_load(&S.busy) == 0 && queue_empty();
	json_decref(j);
	free(out);
	return ok;
}

/* ---------------------------------------------------------- checking -- */

struct check {
	st_txn *t;
	int missing, split, total;
	char first_bad[160];
	/* per order: the id its first dispatch names */
	char (*nos)[48];
	uint8_t (*ids)[PB_ID_LEN];
	size_t n, cap;
};

static int check_dispatch(const char *no, unsigned seq, void *arg)
{
	struct check *c = arg;
	char ref[96];
	uint8_t id[PB_ID_LEN];

	c->total++;
	snprintf(ref, sizeof(ref), "12345:%s#%u", no, seq);
	if (st_extref_get(c->t, ref, id) != PB_OK) {
		if (!c->missing++)
			snprintf(c->first_bad, sizeof(c->first_bad), "%s not stored", ref);
		return 0;
	}
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->nos[i], no) == 0) {
			if (memcmp(c->ids[i], id, PB_ID_LEN) != 0 && !c->split++)
				snprintf(c->first_bad, sizeof(c->first_bad), "%s: another message", ref);
			return 0;
		}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		c->nos = realloc(c->nos, c->cap * sizeof(*c->nos));
		c->ids = realloc(c->ids, c->cap * sizeof(*c->ids));
	}
	snprintf(c->nos[c->n], sizeof(c->nos[c->n]), "%s", no);
	memcpy(c->ids[c->n++], id, PB_ID_LEN);
	return 0;
}

static int count_hotline(const Mailroom__StoredMessage *m, void *arg)
{
	if (m->channel == MAILROOM__CHANNEL__CHANNEL_HOTLINE)
		(*(size_t *)arg)++;
	return 0;
}

/* Our events: the records that write an outbox entry, and their ids. */
struct ours {
	char (*ids)[64];
	size_t n, cap;
};

static int is_ours(const struct ours *o, const char *id)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->ids[i], id) == 0)
			return 1;
	return 0;
}

struct strays {
	const struct ours *ours;
	int stray;
	char first[96];
};

static int stray_event(const char *id, const char *no, const char *type, int dups, void *arg)
{
	struct strays *s = arg;

	(void)dups;
	if (!is_ours(s->ours, id) && !s->stray++)
		snprintf(s->first, sizeof(s->first), "%s %s %s", id, no, type);
	return 0;
}

static int dead_entry(const Mailroom__OutboxEntry *e, void *arg)
{
	int *bad = arg;

	if (!e->error || !*e->error || (e->http_status != 409 && e->http_status != 400 &&
	                                e->http_status != 422)) {
		fprintf(stderr, "soak: dead letter %s without a final platform error (%d %s)\n",
		        e->event_id, (int)e->http_status, e->error);
		(*bad)++;
	}
	return 0;
}

Test(hotline_soak, pull_and_push_with_faults_and_kills, .init = it_init, .fini = it_fini,
     .timeout = 400)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = HANDLERS, .lease_seconds = 30};
	const char *env_n = getenv("MR_SOAK_ORDERS"), *env_seed = getenv("MR_SOAK_SEED");
	int n = env_n ? atoi(env_n) : 2000;
	pthread_t pt, ht[HANDLERS];
	struct worker w[HANDLERS];
	struct hp_stats st;
	double t0 = mr_now_s();

	S.seed = env_seed ? (unsigned)strtoul(env_seed, NULL, 10) : (unsigned)time(NULL);
	fprintf(stderr, "soak: %d orders, seed %u\n", n, S.seed);
	cr_assert(n > 0 && n <= MAX_PUSH);
	cr_assert_eq(mr_env_init(&env, &o), 0);
	cr_assert_eq(hl_it_init(&env, &hl, S.seed, "deliver_batch = 200\n"), 0);
	cr_assert_eq(mr_env_up(&env), 0);
	mr_wait_past_gateway_start(&env);

	/* The orders: 60% pulled only, 25% pushed only, 15% both; a few bad. */
	unsigned s = S.seed | 1;
	for (int i = 0; i < n; i++) {
		unsigned r = rnd(&s) % 100;
		char *json = NULL;
		if (r < 2) {
			cr_assert_eq(hp_invalid(hl.platform, (int)(rnd(&s) % 5)), 0);
			continue;
		}
		cr_assert_eq(hp_dispatch(hl.platform, NULL, r < 62 || r >= 87 ? HP_FEED : HP_NOT_IN_FEED,
		                         r >= 62 ? &json : NULL, S.nos[S.nnos], sizeof(S.nos[0])), 0);
		S.nnos++;
		if (json)
			S.push[S.npush++] = json;
	}
	hp_fault_rate(hl.platform, HP_F_5XX, 0.03);
	hp_fault_rate(hl.platform, HP_F_429, 0.01);
	hp_fault_rate(hl.platform, HP_F_RESET, 0.02);
	hp_fault_rate(hl.platform, HP_F_SLOW, 0.004);
	hp_fault_rate(hl.platform, HP_F_DUP_PAGE, 0.1);
	hp_fault_rate(hl.platform, HP_F_REVOKE, 0.03);
	hp_fault_rate(hl.platform, HP_F_REDISPATCH, 0.5);

	cr_assert_eq(hl_it_start(&env, &hl), 0);
	atomic_store(&S.pushing, 1);
	cr_assert_eq(pthread_create(&pt, NULL, pusher, NULL), 0);
	for (int i = 0; i < HANDLERS; i++) {
		w[i] = (struct worker){.n = i, .seed = S.seed + 17u * (unsigned)(i + 1), .h = &env.handlers[i]};
		cr_assert_eq(pthread_create(&ht[i], NULL, handler_main, &w[i]), 0);
	}

	/* SIGKILL, in turn, the connector and the router, while work goes on;
	 * chase a few orders meanwhile. */
	for (int k = 0; k < KILLS; k++) {
		mr_sleep_ms(1200 + (long)(rnd(&s) % 1500));
		/* The platform chases a few orders (催办). */
		for (int u = 0; u < 5 && S.nnos; u++)
			hp_urge(hl.platform, S.nos[rnd(&s) % (unsigned)S.nnos], "市民再次来电催办");
		if (k % 2 == 0) {
			hl_it_stop(&env, &hl, SIGKILL);
			mr_sleep_ms(100 + (long)(rnd(&s) % 400));
			cr_assert_eq(hl_it_start(&env, &hl), 0);
		} else {
			mr_proc_stop(&env, &env.router, SIGKILL);
			mr_sleep_ms(100 + (long)(rnd(&s) % 400));
			cr_assert_eq(mr_router_start(&env), 0, "the router did not come back");
		}
	}
	/* Faults stay on; let it settle. */
	int stable = 0;
	for (int i = 0; i < 2400 && stable < 2; i++) {
		mr_sleep_ms(100);
		if (i % 5 == 4)
			stable = settled() ? stable + 1 : 0;
	}
	hp_stats(hl.platform, &st);
	fprintf(stderr,
	        "soak: %.1f s; %ld handled, %ld pushed (%ld retries), %ld router calls retried; "
	        "platform: %lu pages, %lu events, %lu accepted, %lu repeats, %lu conflicts, "
	        "%lu revokes, %lu dispatches; faults 5xx %lu 429 %lu reset %lu slow %lu dup %lu\n",
	        mr_now_s() - t0, atomic_load(&S.handled), atomic_load(&S.pushed),
	        atomic_load(&S.push_retries), atomic_load(&S.ops_retried), st.pages, st.events,
	        st.accepted, st.duplicates, st.conflicts, st.revokes, st.dispatches,
	        st.injected[HP_F_5XX], st.injected[HP_F_429], st.injected[HP_F_RESET],
	        st.injected[HP_F_SLOW], st.injected[HP_F_DUP_PAGE]);
	cr_expect_eq(stable, 2, "the system did not settle");
	atomic_store(&S.stop, 1);
	pthread_join(pt, NULL);
	for (int i = 0; i < HANDLERS; i++)
		pthread_join(ht[i], NULL);
	cr_expect_eq(hl_it_stop(&env, &hl, SIGTERM), 0);
	mr_proc_stop(&env, &env.gateway, SIGTERM);
	mr_proc_stop(&env, &env.router, SIGTERM);

	/* ---- the store against the platform ---- */
	st_env *store;
	st_txn *t;
	cr_assert_eq(st_open(env.store, 0, 1, NULL, &store), PB_OK);
	cr_assert_eq(st_txn_begin(store, NULL, 1, &t), PB_OK);
	struct check c = {.t = t};
	hp_each_dispatch(hl.platform, check_dispatch, &c);
	cr_expect_eq(c.missing, 0, "%d of %d valid dispatches not stored; first: %s", c.missing,
	             c.total, c.first_bad);
	cr_expect_eq(c.split, 0, "%d re-dispatches became another message; first: %s", c.split,
	             c.first_bad);
	size_t nhot = 0;
	cr_assert_eq(st_msg_each(t, count_hotline, &nhot), PB_OK);
	cr_expect_eq(nhot, c.n, "%zu 12345 messages for %zu orders", nhot, c.n);

	/* Our events: from the log, the records that queue one. */
	struct ours ours = {0};
	uint64_t size;
	int lost = 0, dead_bad = 0;
	cr_assert_eq(st_log_size(t, &size), PB_OK);
	for (uint64_t i = 0; i < size; i++) {
		const uint8_t *data;
		size_t len;
		cr_assert_eq(st_log_get(t, i, &data, &len), PB_OK);
		Mailroom__AuditRecord *r = mailroom__audit_record__unpack(NULL, len, data);
		cr_assert_not_null(r);
		int ev = r->event;
		if (r->channel == MAILROOM__CHANNEL__CHANNEL_HOTLINE && r->message_id.len == PB_ID_LEN &&
		    (ev == MAILROOM__AUDIT_EVENT__AUDIT_SIGNED || ev == MAILROOM__AUDIT_EVENT__AUDIT_REPLIED ||
		     ev == MAILROOM__AUDIT_EVENT__AUDIT_RETURNED ||
		     ev == MAILROOM__AUDIT_EVENT__AUDIT_EXTENSION_REQUESTED ||
		     ev == MAILROOM__AUDIT_EVENT__AUDIT_CITIZEN_REPLIED)) {
			if (ours.n == ours.cap) {
				ours.cap = ours.cap ? ours.cap * 2 : 4096;
				ours.ids = realloc(ours.ids, ours.cap * sizeof(*ours.ids));
				cr_assert_not_null(ours.ids);
			}
			char hex[33];
			pb_hex(r->message_id.data, PB_ID_LEN, hex);
			snprintf(ours.ids[ours.n++], 64, "%s-%016llx", hex, (unsigned long long)r->index);
		}
		mailroom__audit_record__free_unpacked(r, NULL);
	}
	/* Each applied once, or dead with the platform's reason. */
	uint64_t ndead = 0, npending = 0;
	cr_assert_eq(st_outbox_count(t, 0, &npending), PB_OK);
	cr_assert_eq(st_outbox_count(t, 1, &ndead), PB_OK);
	cr_expect_eq(npending, 0, "%llu events still in the outbox", (unsigned long long)npending);
	cr_assert_eq(st_outbox_each(t, 1, 0, SIZE_MAX, dead_entry, &dead_bad), PB_OK);
	cr_expect_eq(dead_bad, 0);
	size_t applied = 0;
	for (size_t i = 0; i < ours.n; i++) {
		int a, d;
		hp_event_seen(hl.platform, ours.ids[i], &a, &d);
		applied += (size_t)a;
		if (!a)
			lost++;
	}
	cr_expect_eq((uint64_t)lost, ndead, "%d of our %zu events never applied, %llu dead letters",
	             lost, ours.n, (unsigned long long)ndead);
	struct strays sy = {.ours = &ours};
	hp_each_event(hl.platform, stray_event, &sy);
	cr_expect_eq(sy.stray, 0, "the platform applied %d events we did not write: %s", sy.stray,
	             sy.first);
	cr_expect_eq(applied, st.accepted, "each applied exactly once");
	fprintf(stderr, "soak: %zu orders stored, %zu events of ours, %zu applied, %llu dead letters\n",
	        c.n, ours.n, applied, (unsigned long long)ndead);
	st_txn_abort(t);
	struct st_verify_report rep;
	cr_expect_eq(st_verify(store, NULL, &rep), PB_OK);
	cr_expect_eq(rep.fail, ST_VERIFY_OK, "log: %s at %llu", st_verify_fail_str(rep.fail),
	             (unsigned long long)rep.bad_index);
	st_close(store);
	free(ours.ids);
	free(c.nos);
	free(c.ids);
	for (int i = 0; i < S.npush; i++)
		free(S.push[i]);
	hl_it_fini(&env, &hl);
	IT_DOWN();
}
