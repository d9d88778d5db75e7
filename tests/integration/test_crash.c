/* Crash safety: messages and 12345 orders stream in while the router is
 * killed with SIGKILL at random moments and restarted, round after round.
 * Whatever was acknowledged must survive; no 12345 delivery may become
 * two messages; the log must still verify. Every message carries an
 * Idempotency-Key: posted again at the end, a request answered 503 must
 * not have been stored, and every message in the store must be one some
 * client was told of (201), or will learn of by its key (202, no answer).
 *
 * MR_CRASH_ROUNDS and MR_CRASH_SEED override the defaults (the seed is
 * printed so a failing run can be repeated). */
#include "it.h"
#include "pb_err.h"
#include "st.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define ROUNDS 20
#define MSG_THREADS 3
#define MAX_ACKS 20000
#define MAX_ORDERS 4000
#define MAX_ODD 32

struct ack {
	char code[16];
	char key[40];
};

/* A message not answered 201: posted again at the end with its key. */
struct unsure {
	char key[64];
	char body[320];
	long status;     /* 503, 202 or 0 (no answer) */
};

struct order {
	char no[40];
	unsigned seq;
	char id[32];     /* the id of the first 200/201, "" while unacknowledged */
};

static struct {
	pthread_mutex_t mu;
	atomic_int stop;
	atomic_int round;
	struct ack acks[MAX_ACKS];
	int nacks;
	struct unsure unsure[MAX_ACKS];
	int nunsure;
	long n202;
	struct order orders[MAX_ORDERS];
	int norders;
	long n201, n503, n200;
	int nodd;
	char odd[MAX_ODD][256];   /* statuses that are neither success nor 503 */
	int nviolations;
	char violations[MAX_ODD][256];
} S = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* xorshift: reproducible from the printed seed. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void note_odd(const char *what, long status, const char *body)
{
	pthread_mutex_lock(&S.mu);
	if (S.nodd < MAX_ODD)
		snprintf(S.odd[S.nodd], sizeof(S.odd[0]), "round %d %s: HTTP %ld %.150s", S.round, what,
		         status, body ? body : "");
	S.nodd++;
	pthread_mutex_unlock(&S.mu);
}

static void violation(const char *fmt, const char *a, const char *b, const char *c)
{
	char line[sizeof(S.violations[0])];

	/* Formatted apart: the arguments may point into S itself. */
	snprintf(line, sizeof(line), fmt, a, b, c);
	pthread_mutex_lock(&S.mu);
	if (S.nviolations < MAX_ODD)
		memcpy(S.violations[S.nviolations], line, sizeof(line));
	S.nviolations++;
	pthread_mutex_unlock(&S.mu);
}

static void note_unsure(const char *key, const char *body, long status)
{
	pthread_mutex_lock(&S.mu);
	if (S.nunsure < MAX_ACKS) {
		struct unsure *u = &S.unsure[S.nunsure++];
		snprintf(u->key, sizeof(u->key), "%s", key);
		snprintf(u->body, sizeof(u->body), "%s", body);
		u->status = status;
	}
	pthread_mutex_unlock(&S.mu);
}

static void *message_thread(void *arg)
{
	int me = (int)(intptr_t)arg, n = 0;
	CURL *h = curl_easy_init();
	/* As large as a kept one, so what is kept is what was sent. */
	char body[sizeof(S.unsure[0].body)], key[sizeof(S.unsure[0].key)];

	while (!atomic_load(&S.stop)) {
		struct mr_http r;
		snprintf(key, sizeof(key), "crash-%ld-t%d-n%06d", (long)getpid(), me, n);
		snprintf(body, sizeof(body),
		         "{\"channel\":\"mailbox\",\"subject\":\"崩溃测试 r%d t%d n%d\","
		         "\"body\":\"路由器随时可能被强行终止，这封信若已确认就不能丢失。\"}",
		         S.round, me, n++);
		if (mr_post_message_keyed(h, &env, key, body, &r) != 0 || r.status == 0) {
			note_odd("message transport", 0, "");
			note_unsure(key, body, 0);
			mr_http_free(&r);
			mr_sleep_ms(20);
			continue;
		}
		if (r.status == 201) {
			json_t *j = mr_http_json(&r);
			const char *code = it_str(j, "tracking_code"), *key = it_str(j, "access_key");
			pthread_mutex_lock(&S.mu);
			S.n201++;
			if (code && key && S.nacks < MAX_ACKS) {
				snprintf(S.acks[S.nacks].code, sizeof(S.acks[0].code), "%s", code);
				snprintf(S.acks[S.nacks].key, sizeof(S.acks[0].key), "%s", key);
				S.nacks++;
			}
			pthread_mutex_unlock(&S.mu);
			if (!code || !key)
				note_odd("201 without code or key", r.status, r.body);
			json_decref(j);
		} else if (r.status == 503 || r.status == 202) {
			pthread_mutex_lock(&S.mu);
			if (r.status == 503)
				S.n503++;
			else
				S.n202++;
			pthread_mutex_unlock(&S.mu);
			note_unsure(key, body, r.status);
			/* A real client backs off; spinning would only count 503s. */
			mr_sleep_ms(20);
		} else {
			note_odd("message", r.status, r.body);
		}
		mr_http_free(&r);
	}
	curl_easy_cleanup(h);
	return NULL;
}

/* Posts order i once and checks the answer against what is known of it.
 * Returns the HTTP status (0: no answer). */
static long post_order(CURL *h, int i, int final)
{
	struct order *o = &S.orders[i];
	struct mr_hl_sign s = {0};
	struct mr_http r;
	char *json = mr_order_json(o->no, o->seq, NULL);

	if (!json || mr_post_order(h, &env, json, &s, &r) != 0) {
		note_odd("order transport", 0, "");
		free(json);
		return 0;
	}
	free(json);
	json_t *j = mr_http_json(&r);
	const char *id = it_str(j, "id");
	pthread_mutex_lock(&S.mu);
	char known[32];
	snprintf(known, sizeof(known), "%s", o->id);
	if ((r.status == 200 || r.status == 201) && id && !known[0])
		snprintf(o->id, sizeof(o->id), "%s", id);
	if (r.status == 200)
		S.n200++;
	else if (r.status == 201)
		S.n201++;
	else if (r.status == 503)
		S.n503++;
	pthread_mutex_unlock(&S.mu);

	if (r.status == 201 && known[0])
		violation("order %s: acknowledged as %s, then created again as %s", o->no, known,
		          id ? id : "?");
	else if (r.status == 200 && known[0] && (!id || strcmp(id, known) != 0))
		violation("order %s: acknowledged as %s, later answered with %s", o->no, known,
		          id ? id : "?");
	else if ((r.status == 200 || r.status == 201) && !id)
		note_odd("order success without id", r.status, r.body);
	else if (r.status != 200 && r.status != 201 && (final || r.status != 503))
		note_odd(final ? "final order" : "order", r.status, r.body);
	long status = r.status;
	json_decref(j);
	mr_http_free(&r);
	return status;
}

static void *order_thread(void *arg)
{
	CURL *h = curl_easy_init();
	int n = 0;

	(void)arg;
	while (!atomic_load(&S.stop)) {
		int i;
		/* Mostly new deliveries; every fourth a repeat of an earlier one. */
		pthread_mutex_lock(&S.mu);
		if (S.norders > 0 && n % 4 == 3) {
			i = (int)(rnd() % (uint64_t)S.norders);
		} else if (S.norders < MAX_ORDERS) {
			i = S.norders++;
			snprintf(S.orders[i].no, sizeof(S.orders[i].no), "CR%ld-R%02d-%04d", (long)getpid(),
			         S.round, n);
			S.orders[i].seq = 1;
			S.orders[i].id[0] = '\0';
		} else {
			i = (int)(rnd() % (uint64_t)S.norders);
		}
		pthread_mutex_unlock(&S.mu);
		if (post_order(h, i, 0) == 503)
			mr_sleep_ms(20);
		n++;
	}
	curl_easy_cleanup(h);
	return NULL;
}

struct scan {
	int total;
	char (*refs)[64];
	int nrefs, cap;
	char (*codes)[16];
	int ncodes;
};

static int scan_msg(const Mailroom__StoredMessage *m, void *arg)
{
	struct scan *s = arg;

	s->total++;
	if (s->ncodes < s->cap && m->tracking_code)
		snprintf(s->codes[s->ncodes++], 16, "%s", m->tracking_code);
	if (m->order && s->nrefs < s->cap)
		snprintf(s->refs[s->nrefs++], 64, "%s#%u", m->order->order_no, m->order->dispatch_seq);
	return 0;
}

static int cmp64(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int cmp16(const void *a, const void *b)
{
	return strcmp(a, b);
}

Test(crash, kill9_rounds, .init = it_init, .fini = it_fini, .timeout = 600)
{
	const struct mr_opts o = {.router_timeout_ms = 1500};
	int rounds = getenv("MR_CRASH_ROUNDS") ? atoi(getenv("MR_CRASH_ROUNDS")) : ROUNDS;
	uint64_t seed = getenv("MR_CRASH_SEED") ? strtoull(getenv("MR_CRASH_SEED"), NULL, 10) :
	                                          (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	pthread_t th[MSG_THREADS + 1];

	if (!seed)
		seed = 1;
	rng_state = seed;
	fprintf(stderr, "crash: %d rounds, seed %llu\n", rounds, (unsigned long long)seed);
	IT_UP(&o);
	mr_wait_past_gateway_start(&env);
	double t_start = mr_now_s();

	/* The clients never pause: the router is killed under load and
	 * restarted at once, as a supervisor would, so requests in flight at
	 * the kill meet both the dead router and its successor. */
	atomic_store(&S.stop, 0);
	for (int i = 0; i < MSG_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, message_thread, (void *)(intptr_t)i), 0);
	cr_assert_eq(pthread_create(&th[MSG_THREADS], NULL, order_thread, NULL), 0);
	for (int round = 0; round < rounds; round++) {
		S.round = round;
		mr_sleep_ms(50 + (long)(rnd() % 451));
		mr_proc_stop(&env, &env.router, SIGKILL);
		mr_sleep_ms((long)(rnd() % 150));
		if (!mr_proc_alive(&env.gateway) || mr_router_start(&env)) {
			atomic_store(&S.stop, 1);
			for (int i = 0; i <= MSG_THREADS; i++)
				pthread_join(th[i], NULL);
			cr_assert_fail("round %d: gateway died or router did not restart", round);
		}
	}
	/* A last stretch with the router up, so the final checks start from
	 * a connected gateway. */
	mr_sleep_ms(300);
	atomic_store(&S.stop, 1);
	for (int i = 0; i <= MSG_THREADS; i++)
		pthread_join(th[i], NULL);
	fprintf(stderr, "crash: %.1f s of rounds; 201 %ld, 200 %ld, 503 %ld, 202 %ld, other %d; "
	                "%d messages and %d orders acknowledged or posted\n",
	        mr_now_s() - t_start, S.n201, S.n200, S.n503, S.n202, S.nodd, S.nacks, S.norders);
	for (int i = 0; i < S.nodd && i < MAX_ODD; i++)
		fprintf(stderr, "crash: unexpected: %s\n", S.odd[i]);
	for (int i = 0; i < S.nviolations && i < MAX_ODD; i++)
		fprintf(stderr, "crash: VIOLATION: %s\n", S.violations[i]);
	cr_expect_gt(S.nacks, rounds, "too few messages acknowledged (%d) for the test to mean much",
	             S.nacks);

	/* Every acknowledged message answers, with its key. */
	CURL *h = curl_easy_init();
	int lost = 0;
	for (int i = 0; i < S.nacks; i++) {
		struct mr_http r;
		long st = 0;
		/* The gateway may still be reconnecting to the new router. */
		for (int k = 0; k < 50; k++) {
			cr_assert_eq(mr_get_status(h, &env, S.acks[i].code, S.acks[i].key, &r), 0);
			st = r.status;
			mr_http_free(&r);
			if (st != 503)
				break;
			mr_sleep_ms(100);
		}
		if (st != 200) {
			if (lost < 10)
				fprintf(stderr, "crash: LOST %s (HTTP %ld)\n", S.acks[i].code, st);
			lost++;
		}
	}
	cr_expect_eq(lost, 0, "%d of %d acknowledged messages are gone", lost, S.nacks);

	/* Every message not answered 201, posted again with its key: 200 means
	 * it was stored. For a 503 that is a "not stored" that lied. */
	int lied = 0, stored_later = 0, unsettled = 0;
	for (int i = 0; i < S.nunsure; i++) {
		struct unsure *u = &S.unsure[i];
		struct mr_http r;
		long st = 0;
		for (int k = 0; k < 50; k++) {
			cr_assert_eq(mr_post_message_keyed(h, &env, u->key, u->body, &r), 0);
			st = r.status;
			mr_http_free(&r);
			if (st != 503)
				break;
			mr_sleep_ms(100);
		}
		if (st == 200 && u->status == 503) {
			if (lied < 10)
				fprintf(stderr, "crash: STORED AFTER 503: %s\n", u->key);
			lied++;
		}
		if (st == 200 || st == 201)
			stored_later++;
		else
			unsettled++;
	}
	fprintf(stderr, "crash: %d answered 503, 202 or nothing; %d of them stored after the 503\n",
	        S.nunsure, lied);
	cr_expect_eq(lied, 0, "%d requests answered 503 were stored", lied);
	cr_expect_eq(unsettled, 0, "%d requests could not be settled by their key", unsettled);

	/* Every order once more: the acknowledged ones must be recognised. */
	int acked_orders = 0;
	for (int i = 0; i < S.norders; i++) {
		if (S.orders[i].id[0])
			acked_orders++;
		post_order(h, i, 1);
	}
	curl_easy_cleanup(h);
	cr_expect_eq(S.nviolations, 0, "%d order delivery violation(s), first: %s", S.nviolations,
	             S.violations[0]);
	cr_expect_eq(S.nodd, 0, "%d unexpected answer(s), first: %s", S.nodd, S.odd[0]);

	mr_proc_stop(&env, &env.gateway, SIGTERM);
	mr_proc_stop(&env, &env.router, SIGTERM);
	char *out = NULL;
	int rc = mr_audit_cmd(&env, &out, "verify", NULL);
	cr_expect_eq(rc, 0, "the log does not verify after the crashes: exit %d: %s", rc, out);
	free(out);

	/* The store: every acknowledged code present, no delivery twice. */
	struct scan sc = {0};
	sc.cap = MAX_ACKS + MAX_ORDERS + 1000;
	sc.refs = calloc((size_t)sc.cap, 64);
	sc.codes = calloc((size_t)sc.cap, 16);
	cr_assert(sc.refs && sc.codes);
	st_env *st;
	st_txn *t;
	cr_assert_eq(st_open(env.store, 0, 1, NULL, &st), PB_OK);
	cr_assert_eq(st_txn_begin(st, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_msg_each(t, scan_msg, &sc), PB_OK);
	st_txn_abort(t);
	st_close(st);
	qsort(sc.refs, (size_t)sc.nrefs, 64, cmp64);
	int dups = 0;
	for (int i = 1; i < sc.nrefs; i++)
		if (strcmp(sc.refs[i - 1], sc.refs[i]) == 0) {
			if (dups < 10)
				fprintf(stderr, "crash: delivery %s stored twice\n", sc.refs[i]);
			dups++;
		}
	cr_expect_eq(dups, 0, "%d 12345 deliveries stored as two messages", dups);
	qsort(sc.codes, (size_t)sc.ncodes, 16, cmp16);
	int missing = 0;
	for (int i = 0; i < S.nacks; i++)
		if (!bsearch(S.acks[i].code, sc.codes, (size_t)sc.ncodes, 16, cmp16))
			missing++;
	cr_expect_eq(missing, 0, "%d acknowledged tracking codes are not in the store", missing);
	/* Orders acknowledged during the rounds plus every message
	 * acknowledged; more orders are fine (stored, then the answer was
	 * lost: the platform's retry is recognised). Messages are exactly the
	 * ones acknowledged and the ones settled by key above: none stored
	 * that no client can learn of. */
	cr_expect_geq(sc.total, S.nacks + acked_orders, "store holds %d messages, %d were acknowledged",
	             sc.total, S.nacks + acked_orders);
	cr_expect_eq(sc.total - sc.nrefs, S.nacks + stored_later,
	             "store holds %d messages, %d acknowledged and %d settled by key",
	             sc.total - sc.nrefs, S.nacks, stored_later);
	cr_expect_leq(sc.nrefs, S.norders, "more deliveries stored (%d) than were ever posted (%d)",
	             sc.nrefs, S.norders);
	fprintf(stderr, "crash: store holds %d messages (%d orders); acknowledged %d + %d\n", sc.total,
	        sc.nrefs, S.nacks, acked_orders);
	free(sc.refs);
	free(sc.codes);
	IT_DOWN();
}
