/* The gateway against a stand-in router: an nng REP socket in this process
 * that opens each envelope with the gateway secret (so the sealing is
 * checked too) and answers from a script keyed on the subject. */
#include "gw.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"
#include "pb_time.h"
#include "util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define JSON_CT "Content-Type: application/json"
#define WORKERS 4

static struct {
	nng_socket sock;
	pthread_t th[WORKERS];
	uint8_t secret[32];
	pthread_mutex_t mu;
	char code[PB_TRACK_TEXT_LEN + 1];
	uint8_t key_hash[32];
	char orders[64][48];
	int norders;
	atomic_int submits, bad_envelopes, envelopes, items, resolves;
	int slow_ms;
	int envelope_ms;   /* each envelope's delay, so that calls gather */
} fake;

static struct gw *g;
static int conf_lanes;   /* router_lanes for the next start, 0 = default */
static struct pb_conf *conf;
static char base[64];

static void view(Mailroom__MessageView *v, uint8_t id[16], const Mailroom__SubmitReq *s)
{
	mailroom__message_view__init(v);
	pb_id_new(pb_now_ms(), id);
	v->id.data = id;
	v->id.len = 16;
	v->tracking_code = fake.code;
	v->channel = s ? s->channel : MAILROOM__CHANNEL__CHANNEL_MAILBOX;
	v->status = MAILROOM__STATUS__STATUS_QUEUED;
	v->queue = v->channel == MAILROOM__CHANNEL__CHANNEL_HOTLINE ? "hotline" : "general";
	/* "q-…" subjects come back as the queue, so each caller can tell its
	 * own answer from its neighbours' in a batch. */
	if (s && strncmp(s->subject, "q-", 2) == 0)
		v->queue = s->subject;
	v->subject = s ? s->subject : "路灯坏了";
	v->received_ms = pb_now_ms();
	v->ack_due_ms = v->received_ms + 86400000LL;
	v->reply_due_ms = v->received_ms + 15 * 86400000LL;
}

/* Builds the answer to one request into out (packed). */
static void respond(const Mailroom__Request *req, uint8_t **out, size_t *outlen)
{
	Mailroom__Response resp = MAILROOM__RESPONSE__INIT;
	Mailroom__SubmitResp sr = MAILROOM__SUBMIT_RESP__INIT;
	Mailroom__Receipt rc = MAILROOM__RECEIPT__INIT;
	Mailroom__MessageView v;
	Mailroom__StatsResp st = MAILROOM__STATS_RESP__INIT;
	Mailroom__QueueInfo q1 = MAILROOM__QUEUE_INFO__INIT, q2 = MAILROOM__QUEUE_INFO__INIT;
	Mailroom__QueueInfo *qs[2] = {&q1, &q2};
	uint64_t buckets[9] = {1, 2, 4, 6, 8, 9, 10, 10, 10};
	uint8_t id[16], hash[32], sig[64], kid[4] = {1, 2, 3, 4};

	memset(hash, 0xab, sizeof(hash));
	memset(sig, 0xcd, sizeof(sig));
	if (req->op_case == MAILROOM__REQUEST__OP_SUBMIT && req->resolve) {
		/* The stand-in stores nothing it answered late. */
		atomic_fetch_add(&fake.resolves, 1);
		resp.code = PB_EUNAVAIL;
		resp.error = "not_stored";
	} else if (req->op_case == MAILROOM__REQUEST__OP_SUBMIT) {
		const Mailroom__SubmitReq *s = req->submit;
		const char *subj = s->subject;
		atomic_fetch_add(&fake.submits, 1);
		if (strcmp(subj, "slow") == 0)
			usleep((useconds_t)fake.slow_ms * 1000);
		if (strcmp(subj, "full") == 0) {
			resp.code = PB_EFULL;
		} else if (strcmp(subj, "auth") == 0) {
			resp.code = PB_EAUTH;
		} else if (strcmp(subj, "state") == 0) {
			resp.code = PB_ESTATE;
			resp.error = "revoked";
			resp.message = "the order was revoked";
		} else if (strcmp(subj, "invalid") == 0) {
			resp.code = PB_EINVAL;
			resp.error = "unknown_category";
			resp.message = "category: not configured";
		} else if (strcmp(subj, "forbidden") == 0) {
			resp.code = PB_EFORBIDDEN;
		} else if (strcmp(subj, "corrupt") == 0) {
			resp.code = PB_ECORRUPT;
		} else {
			pthread_mutex_lock(&fake.mu);
			pb_track_new(fake.code);
			if (s->access_key_hash.len == 32)
				memcpy(fake.key_hash, s->access_key_hash.data, 32);
			if (s->order) {
				for (int i = 0; i < fake.norders; i++)
					if (strcmp(fake.orders[i], s->order->order_no) == 0)
						sr.duplicate = 1;
				if (!sr.duplicate && fake.norders < 64)
					snprintf(fake.orders[fake.norders++], 48, "%s", s->order->order_no);
			}
			view(&v, id, s);
			pthread_mutex_unlock(&fake.mu);
			rc.log_index = 7;
			rc.record_hash.data = hash;
			rc.record_hash.len = 32;
			rc.signature.data = sig;
			rc.signature.len = 64;
			rc.key_id.data = kid;
			rc.key_id.len = 4;
			sr.message = &v;
			sr.receipt = &rc;
			resp.result_case = MAILROOM__RESPONSE__RESULT_SUBMIT;
			resp.submit = &sr;
		}
	} else if (req->op_case == MAILROOM__REQUEST__OP_STATUS) {
		const Mailroom__StatusReq *s = req->status;
		pthread_mutex_lock(&fake.mu);
		int hit = strcmp(s->tracking_code, fake.code) == 0 && s->access_key_hash.len == 32 &&
		          memcmp(s->access_key_hash.data, fake.key_hash, 32) == 0;
		if (hit)
			view(&v, id, NULL);
		pthread_mutex_unlock(&fake.mu);
		if (hit) {
			resp.result_case = MAILROOM__RESPONSE__RESULT_STATUS;
			resp.status = &v;
		} else {
			resp.code = PB_ENOTFOUND;
			resp.error = "not_found";
			resp.message = "router wording that must not leak";
		}
	} else if (req->op_case == MAILROOM__REQUEST__OP_STATS) {
		q1.name = "general";
		q1.depth = 3;
		q2.name = "hotline";
		q2.depth = 1;
		q2.leased = 1;
		st.n_queues = 2;
		st.queues = qs;
		st.log_size = 99;
		st.calendar_next_year_missing = 1;
		st.calendar_last_year = 2026;
		st.commits = 10;
		st.commit_us_sum = 12345;
		st.n_commit_us_bucket = 9;
		st.commit_us_bucket = buckets;
		resp.result_case = MAILROOM__RESPONSE__RESULT_STATS;
		resp.stats = &st;
	} else {
		resp.code = PB_EINVAL;
	}
	cr_assert_eq(pb_wire_pack_response(&resp, out, outlen), PB_OK);
}

/* A gateway batch: each item answered as if alone, in order. */
static void respond_batch(const Mailroom__BatchReq *b, uint8_t **out, size_t *outlen)
{
	Mailroom__Response resp = MAILROOM__RESPONSE__INIT;
	Mailroom__BatchResp br = MAILROOM__BATCH_RESP__INIT;
	ProtobufCBinaryData *items = calloc(b->n_items, sizeof(*items));

	cr_assert(items);
	for (size_t i = 0; i < b->n_items; i++) {
		Mailroom__Request *req =
			mailroom__request__unpack(NULL, b->items[i].len, b->items[i].data);
		cr_assert(req && req->nonce.len == 16, "item %zu is not a sealed request", i);
		respond(req, &items[i].data, &items[i].len);
		mailroom__request__free_unpacked(req, NULL);
	}
	atomic_fetch_add(&fake.items, (int)b->n_items);
	br.n_items = b->n_items;
	br.items = items;
	resp.result_case = MAILROOM__RESPONSE__RESULT_BATCH;
	resp.batch = &br;
	cr_assert_eq(pb_wire_pack_response(&resp, out, outlen), PB_OK);
	for (size_t i = 0; i < b->n_items; i++)
		free(items[i].data);
	free(items);
}

static void *worker(void *arg)
{
	nng_ctx ctx;
	nng_aio *aio;

	(void)arg;
	if (nng_ctx_open(&ctx, fake.sock) || nng_aio_alloc(&aio, NULL, NULL))
		return NULL;
	for (;;) {
		Mailroom__Envelope *env;
		Mailroom__Request *req;
		uint8_t *out;
		size_t outlen;

		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio))
			break;
		nng_msg *m = nng_aio_get_msg(aio);
		if (pb_wire_open(nng_msg_body(m), nng_msg_len(m), fake.secret, &env, &req) != PB_OK) {
			atomic_fetch_add(&fake.bad_envelopes, 1);
			nng_msg_free(m);
			continue;
		}
		atomic_fetch_add(&fake.envelopes, 1);
		if (fake.envelope_ms)
			usleep((useconds_t)fake.envelope_ms * 1000);
		if (req->op_case == MAILROOM__REQUEST__OP_BATCH)
			respond_batch(req->batch, &out, &outlen);
		else
			respond(req, &out, &outlen);
		mailroom__request__free_unpacked(req, NULL);
		mailroom__envelope__free_unpacked(env, NULL);
		nng_msg_clear(m);
		nng_msg_append(m, out, outlen);
		free(out);
		nng_aio_set_msg(aio, m);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio)) {
			nng_msg_free(m);
			break;
		}
	}
	nng_aio_free(aio);
	return NULL;
}

static void fake_start(void)
{
	int created;

	pthread_mutex_init(&fake.mu, NULL);
	/* The same secret file the gateway will read. */
	cr_assert_eq(pb_secret_load_or_create(conf->gateway_secret, fake.secret, 32, &created),
	             PB_OK);
	cr_assert_eq(nng_rep0_open(&fake.sock), 0);
	cr_assert_eq(nng_listen(fake.sock, conf->router_url, NULL, 0), 0);
	for (int i = 0; i < WORKERS; i++)
		pthread_create(&fake.th[i], NULL, worker, NULL);
}

static void fake_stop(void)
{
	nng_close(fake.sock);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(fake.th[i], NULL);
}

static const char *url(const char *path)
{
	static __thread char buf[256];

	snprintf(buf, sizeof(buf), "%s%s", base, path);
	return buf;
}

static void start_with(int timeout_ms)
{
	struct resp r;

	conf = calloc(1, sizeof(*conf));
	test_conf(conf, scratch_dir());
	conf->router_timeout_ms = timeout_ms;
	if (conf_lanes)
		conf->router_lanes = conf_lanes;
	fake.envelope_ms = 0;
	pb_log_init("gateway-test", PB_LOG_WARN);
	cr_assert(sodium_init() >= 0);
	fake.slow_ms = 1500;
	fake_start();
	cr_assert_eq(gw_start(conf, &g), PB_OK);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)gw_port(g));
	for (int i = 0; i < 300; i++) {
		cr_assert_eq(http_do("GET", url("/healthz"), NULL, NULL, 0, &r), 0);
		if (r.status == 200)
			return;
		usleep(10000);
	}
	cr_assert_fail("gateway never connected to the stand-in router");
}

static void start(void)
{
	start_with(400);
}

static void start_one_lane(void)
{
	conf_lanes = 1;
	start_with(5000);
	conf_lanes = 0;
	fake.envelope_ms = 50;
}

static void stop(void)
{
	if (g)
		gw_stop(g);
	fake_stop();
	free(conf);
	scratch_remove();
}

static json_t *post_json(const char *path, const char *body, struct resp *r)
{
	const char *h[] = {JSON_CT, NULL};

	cr_assert_eq(http_do("POST", url(path), h, body, strlen(body), r), 0);
	return json_loads(r->body, 0, NULL);
}

static char *msg(const char *subject)
{
	static __thread char buf[256];

	snprintf(buf, sizeof(buf), "{\"channel\":\"mailbox\",\"subject\":\"%s\",\"body\":\"b\"}",
	         subject);
	return buf;
}

static const char *err_code(json_t *j)
{
	return json_string_value(json_object_get(json_object_get(j, "error"), "code"));
}

TestSuite(router, .init = start, .fini = stop, .timeout = 60);

Test(router, submit_then_status)
{
	struct resp r;
	char loc[128], auth[128], path[64];
	json_t *j = post_json("/v1/messages", msg("路灯坏了"), &r), *rc;

	cr_assert_eq(r.status, 201, "%s", r.body);
	cr_assert_eq(atomic_load(&fake.bad_envelopes), 0);
	const char *code = json_string_value(json_object_get(j, "tracking_code"));
	const char *key = json_string_value(json_object_get(j, "access_key"));
	cr_assert_not_null(code);
	cr_assert_eq(strlen(key), PB_AKEY_TEXT_LEN);
	snprintf(path, sizeof(path), "/v1/messages/%s", code);
	cr_assert_str_eq(resp_header(&r, "Location", loc, sizeof(loc)), path);
	cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "queued");
	cr_assert_str_eq(json_string_value(json_object_get(j, "queue")), "general");
	cr_assert_eq(strlen(json_string_value(json_object_get(j, "id"))), 26);
	rc = json_object_get(j, "receipt");
	cr_assert_eq(json_integer_value(json_object_get(rc, "log_index")), 7);
	cr_assert_str_eq(json_string_value(json_object_get(rc, "key_id")), "01020304");
	cr_assert_null(json_object_get(j, "body"));

	/* The router saw the hash of exactly the key the citizen got. */
	uint8_t h[32];
	pb_akey_hash(key, strlen(key), h);
	cr_assert_eq(memcmp(h, fake.key_hash, 32), 0);

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	const char *hdr[] = {auth, NULL};
	cr_assert_eq(http_do("GET", url(path), hdr, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *s = json_loads(r.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(s, "tracking_code")), code);
	json_decref(s);

	/* Without dashes the code is the same code. */
	char bare[20];
	size_t n = 0;
	for (const char *p = code; *p; p++)
		if (*p != '-')
			bare[n++] = *p;
	bare[n] = '\0';
	snprintf(path, sizeof(path), "/v1/messages/%s", bare);
	cr_assert_eq(http_do("GET", url(path), hdr, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 200, "%s", r.body);

	/* Wrong key, unknown code and malformed code: one identical 404. */
	char wrong[512], unknown[512], malformed[512];
	const char *bad[] = {"Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL};
	snprintf(path, sizeof(path), "/v1/messages/%s", code);
	cr_assert_eq(http_do("GET", url(path), bad, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 404);
	copy_body(wrong, sizeof(wrong), &r);
	char other[PB_TRACK_TEXT_LEN + 1];
	do
		pb_track_new(other);
	while (strcmp(other, code) == 0);
	snprintf(path, sizeof(path), "/v1/messages/%s", other);
	cr_assert_eq(http_do("GET", url(path), hdr, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 404);
	copy_body(unknown, sizeof(unknown), &r);
	cr_assert_eq(http_do("GET", url("/v1/messages/0000-0000-0001"), hdr, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 404);
	copy_body(malformed, sizeof(malformed), &r);
	cr_assert_str_eq(wrong, unknown);
	cr_assert_str_eq(wrong, malformed);
	cr_assert_null(strstr(wrong, "router wording"));
	json_decref(j);
}

Test(router, error_mapping)
{
	static const struct {
		const char *subject;
		long status;
		const char *code;
	} cases[] = {
		{"full", 503, "unavailable"},       {"auth", 503, "unavailable"},
		{"state", 409, "revoked"},          {"invalid", 400, "unknown_category"},
		{"forbidden", 403, "forbidden"},    {"corrupt", 503, "unavailable"},
	};
	struct resp r;
	char h[16];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = post_json("/v1/messages", msg(cases[i].subject), &r);
		cr_assert_eq(r.status, cases[i].status, "%s: %ld", cases[i].subject, r.status);
		cr_assert_str_eq(err_code(j), cases[i].code, "%s", cases[i].subject);
		if (r.status == 503)
			cr_assert_not_null(resp_header(&r, "Retry-After", h, sizeof(h)));
		json_decref(j);
	}
}

Test(router, timeout_is_503_and_late_answer_is_harmless)
{
	struct resp r;
	char h[16];
	json_t *j = post_json("/v1/messages", msg("slow"), &r);

	/* Sent and unanswered: the gateway asks for its outcome, and answers
	 * 503 only once the router says it is not stored. */
	cr_assert_eq(r.status, 503);
	cr_assert_str_eq(err_code(j), "unavailable");
	cr_assert_not_null(resp_header(&r, "Retry-After", h, sizeof(h)));
	cr_assert_geq(atomic_load(&fake.resolves), 1, "no resolve was sent");
	cr_assert_lt(r.seconds, 1.2, "the 400 ms router timeout applies");
	json_decref(j);
	/* The stand-in answers at 1.5 s; that answer must go nowhere. */
	usleep(1500 * 1000);
	j = post_json("/v1/messages", msg("fine"), &r);
	cr_assert_eq(r.status, 201);
	json_decref(j);
}

static void sign(const char *body, const char *nonce, char hdrs[4][200])
{
	sign_headers("/v1/hotline/orders", (long long)time(NULL) + 1, nonce, body, hdrs);
}

Test(router, hotline_created_then_duplicate)
{
	const char *body =
		"{\"order_no\":\"GD-20251126-0001\",\"dispatch_seq\":1,\"kind\":\"dispatch\","
		"\"accepted_at\":\"2025-11-26T09:30:00+08:00\",\"dispatched_at\":\"2025-11-26T10:00:00+08:00\","
		"\"source\":\"phone\",\"category\":\"complaint\",\"category_code\":\"030201\","
		"\"urgency\":\"normal\",\"title\":\"小区噪音扰民\",\"content\":\"夜间施工噪音大\","
		"\"citizen\":{\"name\":\"李四\",\"phone\":\"13900139000\",\"confidential\":true},"
		"\"region\":\"440305\",\"lead_unit\":\"区城管局\","
		"\"sign_due_at\":\"2025-11-26T12:00:00+08:00\","
		"\"finish_due_at\":\"2025-12-03T18:00:00+08:00\",\"reply_required\":true}";
	char hdrs[4][200];
	struct resp r;
	const char *h[] = {JSON_CT, hdrs[0], hdrs[1], hdrs[2], hdrs[3], NULL};

	sign(body, "FirstDelivery0000001", hdrs);
	cr_assert_eq(http_do("POST", url("/v1/hotline/orders"), h, body, strlen(body), &r), 0);
	cr_assert_eq(r.status, 201, "%s", r.body);
	json_t *j = json_loads(r.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(j, "order_no")), "GD-20251126-0001");
	cr_assert_eq(json_integer_value(json_object_get(j, "dispatch_seq")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(j, "queue")), "hotline");
	cr_assert(json_is_false(json_object_get(j, "duplicate")));
	cr_assert(json_is_string(json_object_get(j, "reply_due_at")));
	cr_assert(json_is_string(json_object_get(j, "tracking_code")));
	json_decref(j);

	/* The platform delivers again (new nonce, same order). */
	sign(body, "SecondDelivery000001", hdrs);
	cr_assert_eq(http_do("POST", url("/v1/hotline/orders"), h, body, strlen(body), &r), 0);
	cr_assert_eq(r.status, 200, "%s", r.body);
	j = json_loads(r.body, 0, NULL);
	cr_assert(json_is_true(json_object_get(j, "duplicate")));
	json_decref(j);
}

Test(router, metrics_and_healthz)
{
	struct resp r;
	json_t *j = post_json("/v1/messages", msg("m"), &r);

	json_decref(j);
	cr_assert_eq(http_do("GET", url("/metrics"), NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 200);
	static const char *want[] = {
		"mailroom_http_requests_total{route=\"/v1/messages\",status=\"201\"} 1",
		"mailroom_router_up 1",
		"# TYPE mailroom_commit_latency_seconds histogram",
		"mailroom_commit_latency_seconds_bucket{le=\"0.001\"} 1",
		"mailroom_commit_latency_seconds_bucket{le=\"0.01\"} 6",
		"mailroom_commit_latency_seconds_bucket{le=\"+Inf\"} 10",
		"mailroom_commit_latency_seconds_sum 0.012345",
		"mailroom_commit_latency_seconds_count 10",
		"mailroom_queue_depth{queue=\"general\"} 3",
		"mailroom_queue_depth{queue=\"hotline\"} 1",
		"mailroom_log_records 99",
		"# TYPE mailroom_calendar_next_year_missing gauge\nmailroom_calendar_next_year_missing 1\n",
		"mailroom_calendar_last_year 2026\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(strstr(r.body, want[i]), "missing %s in\n%s", want[i], r.body);
	cr_assert_eq(http_do("GET", url("/healthz"), NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(r.body, "\"connected\""));
}

struct client {
	int id;
	int ok, wrong;
};

static void *client(void *arg)
{
	struct client *c = arg;
	struct resp *r = malloc(sizeof(*r));
	const char *h[] = {JSON_CT, NULL};

	for (int i = 0; i < 5; i++) {
		const char *b = msg("并发");
		if (http_do("POST", url("/v1/messages"), h, b, strlen(b), r) == 0 && r->status == 201)
			c->ok++;
	}
	free(r);
	return NULL;
}

Test(router, concurrent_submits)
{
	pthread_t th[8];
	struct client c[8] = {{0}};
	int ok = 0;

	atomic_store(&fake.submits, 0);
	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, client, &c[i]);
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		ok += c[i].ok;
	}
	cr_assert_eq(ok, 40);
	cr_assert_eq(atomic_load(&fake.submits), 40);
}

static void *slow_client(void *arg)
{
	struct resp *r = arg;
	const char *h[] = {JSON_CT, NULL};
	const char *b = msg("slow");

	http_do("POST", url("/v1/messages"), h, b, strlen(b), r);
	return NULL;
}

Test(drain, stop_lets_a_request_in_flight_finish, .fini = stop, .timeout = 60)
{
	pthread_t th;
	struct resp *r = malloc(sizeof(*r));

	start_with(3000);
	fake.slow_ms = 500;
	pthread_create(&th, NULL, slow_client, r);
	usleep(200 * 1000);
	gw_stop(g);
	g = NULL;
	pthread_join(th, NULL);
	cr_assert_eq(r->status, 201, "the request begun before the stop got its answer");
	free(r);
}

static void *queue_client(void *arg)
{
	struct client *c = arg;
	struct resp *r = malloc(sizeof(*r));
	const char *h[] = {JSON_CT, NULL};

	for (int i = 0; i < 5; i++) {
		char subject[32];
		snprintf(subject, sizeof(subject), "q-%d-%d", c->id, i);
		const char *b = msg(subject);
		if (http_do("POST", url("/v1/messages"), h, b, strlen(b), r) != 0 || r->status != 201)
			continue;
		json_t *j = json_loads(r->body, 0, NULL);
		const char *q = json_string_value(json_object_get(j, "queue"));
		if (q && strcmp(q, subject) == 0)
			c->ok++;
		else
			c->wrong++;
		json_decref(j);
	}
	free(r);
	return NULL;
}

/* One lane and a router that takes 50 ms an envelope: calls gather into
 * batches, and every caller still gets its own answer. */
Test(batch, calls_share_envelopes_and_keep_their_answers, .init = start_one_lane, .fini = stop,
     .timeout = 60)
{
	enum { T = 16 };
	pthread_t th[T];
	struct client c[T];
	int ok = 0, wrong = 0;

	memset(c, 0, sizeof(c));
	atomic_store(&fake.envelopes, 0);
	atomic_store(&fake.items, 0);
	for (int i = 0; i < T; i++) {
		c[i].id = i;
		pthread_create(&th[i], NULL, queue_client, &c[i]);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		ok += c[i].ok;
		wrong += c[i].wrong;
	}
	cr_assert_eq(wrong, 0, "an answer reached the wrong caller");
	cr_assert_eq(ok, T * 5);
	cr_assert_eq(atomic_load(&fake.items), T * 5, "every call went in a batch");
	cr_assert_lt(atomic_load(&fake.envelopes), T * 5 / 2,
	             "%d envelopes for %d calls: they did not share", atomic_load(&fake.envelopes),
	             T * 5);
}
