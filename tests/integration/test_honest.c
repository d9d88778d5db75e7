/* A 503 means "not stored" (gateway/README.md, "Honest answers"). The
 * router is stopped (SIGSTOP) past router_timeout_ms while citizens post,
 * or the gateway is killed while they wait; afterwards every request is
 * posted again with its Idempotency-Key: a 200 (the first message) for a
 * request that was answered 503 is a message stored behind a "not
 * stored", a second message for one key is a duplicate. Signed reads are
 * refused when replayed, as writes are. */
#include "it.h"
#include "mailroom.pb-c.h"
#include "pb_err.h"
#include "pb_wire.h"

#include <dirent.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#define CLIENTS 20

static const struct mr_handler_spec handlers[] = {
	{"zhao", "general"},
};

struct post {
	int i;
	char key[48];
	char body[256];
	long status;
	char code[32];
};

static struct post posts[CLIENTS];

static long post_keyed(CURL *h, struct post *p, char *code, size_t codelen)
{
	char hdr[96];
	struct mr_http r;
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	long status;

	snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", p->key);
	hd = curl_slist_append(hd, hdr);
	if (mr_http(h, env.base, "POST", "/v1/messages", hd, p->body, strlen(p->body), 60000, &r))
		r.status = 0;
	status = r.status;
	if (code) {
		json_t *j = mr_http_json(&r);
		snprintf(code, codelen, "%s", j && it_str(j, "tracking_code") ? it_str(j, "tracking_code") : "");
		json_decref(j);
	}
	curl_slist_free_all(hd);
	mr_http_free(&r);
	return status;
}

static void *client(void *arg)
{
	struct post *p = arg;
	CURL *h = curl_easy_init();

	p->status = post_keyed(h, p, p->code, sizeof(p->code));
	curl_easy_cleanup(h);
	return NULL;
}

static void prepare(const char *what)
{
	for (int i = 0; i < CLIENTS; i++) {
		posts[i].i = i;
		snprintf(posts[i].key, sizeof(posts[i].key), "%s-key-%04d-%08lx", what, i,
		         (unsigned long)random());
		snprintf(posts[i].body, sizeof(posts[i].body),
		         "{\"channel\":\"mailbox\",\"subject\":\"%s %d\",\"body\":\"路由器暂停时提交。\"}",
		         what, i);
		posts[i].status = -1;
		posts[i].code[0] = '\0';
	}
}

/* SIGSTOP stops a process only once one of its threads, woken to take
 * the signal, is scheduled; until then the others run on and may serve
 * what the clients post. Waits until every thread is stopped. */
static int router_stop(void)
{
	char path[64], stat[512];

	if (kill(env.router.pid, SIGSTOP) != 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)env.router.pid);
	for (int tries = 0; tries < 2000; tries++) {
		DIR *d = opendir(path);
		struct dirent *de;
		int running = 0;
		if (!d)
			return -1;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			char file[384];
			snprintf(file, sizeof(file), "%s/%s/stat", path, de->d_name);
			FILE *f = fopen(file, "r");
			size_t n = f ? fread(stat, 1, sizeof(stat) - 1, f) : 0;
			if (f)
				fclose(f);
			stat[n] = '\0';
			char *r = strrchr(stat, ')');
			/* A thread that exited meanwhile has no stat left. */
			if (r && r[1] == ' ' && r[2] != 'T' && r[2] != 't' && r[2] != 'Z' && r[2] != 'X')
				running = 1;
		}
		closedir(d);
		if (!running)
			return 0;
		mr_sleep_ms(1);
	}
	return -1;
}

/* Each key posted again: a 503 must not have been stored (the repeat
 * stores it now: 201), a 2xx must have been (the repeat is 200 with the
 * same code), and a second repeat is always the first message again. */
static void check_outcomes(int allow_transport)
{
	CURL *h = curl_easy_init();
	int told_not_stored_but_stored = 0, lost = 0, dup = 0;

	for (int i = 0; i < CLIENTS; i++) {
		char code[32], code2[32];
		long s = post_keyed(h, &posts[i], code, sizeof(code));
		long s2 = post_keyed(h, &posts[i], code2, sizeof(code2));
		if (posts[i].status == 503 && s == 200)
			told_not_stored_but_stored++;
		if ((posts[i].status == 201 || posts[i].status == 200) &&
		    (s != 200 || strcmp(code, posts[i].code) != 0))
			lost++;
		if (s2 != 200 || strcmp(code, code2) != 0)
			dup++;
		cr_expect(posts[i].status == 201 || posts[i].status == 503 || posts[i].status == 202 ||
		              (allow_transport && posts[i].status == 0),
		          "request %d: HTTP %ld", i, posts[i].status);
		cr_expect(s == 200 || s == 201, "repeat of %d: HTTP %ld", i, s);
	}
	curl_easy_cleanup(h);
	cr_expect_eq(told_not_stored_but_stored, 0,
	             "%d requests answered 503 were stored all the same", told_not_stored_but_stored);
	cr_expect_eq(lost, 0, "%d acknowledged requests are not stored as answered", lost);
	cr_expect_eq(dup, 0, "%d keys gave two different messages", dup);
}

TestSuite(honest, .init = it_init, .fini = it_fini, .timeout = 180);

/* The router stalls past router_timeout_ms, then goes on. */
Test(honest, router_stall_503_is_not_stored)
{
	struct mr_opts o = {.router_timeout_ms = 1000, .handlers = handlers, .nhandlers = 1};
	pthread_t t[CLIENTS];
	int n503 = 0;

	IT_UP(&o);
	prepare("stall");
	cr_assert_eq(router_stop(), 0, "the router did not stop");
	for (int i = 0; i < CLIENTS; i++)
		pthread_create(&t[i], NULL, client, &posts[i]);
	mr_sleep_ms(2500);
	kill(env.router.pid, SIGCONT);
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < CLIENTS; i++)
		n503 += posts[i].status == 503;
	cr_log_info("stall: %d of %d answered 503", n503, CLIENTS);
	check_outcomes(0);
	IT_DOWN();
}

/* The router stays away longer than the gateway keeps asking: a request
 * it may have stored is 202 pending, never 503; the key then learns the
 * outcome. */
Test(honest, long_stall_is_pending_not_503)
{
	struct mr_opts o = {.router_timeout_ms = 500, .handlers = handlers, .nhandlers = 1,
	                    .extra_ini = "[gateway]\nrouter_resolve_ms = 1000\n"};
	pthread_t t[CLIENTS];

	IT_UP(&o);
	prepare("pending");
	cr_assert_eq(router_stop(), 0, "the router did not stop");
	for (int i = 0; i < CLIENTS; i++)
		pthread_create(&t[i], NULL, client, &posts[i]);
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(t[i], NULL);
	kill(env.router.pid, SIGCONT);
	/* Sent ones are pending; ones that never found a lane are known not
	 * stored, and may be 503. */
	int n202 = 0;
	for (int i = 0; i < CLIENTS; i++) {
		n202 += posts[i].status == 202;
		cr_expect(posts[i].status == 202 || posts[i].status == 503,
		          "request %d: HTTP %ld while the router was stopped", i, posts[i].status);
	}
	cr_expect_gt(n202, 0, "no request was left pending");
	check_outcomes(0);
	IT_DOWN();
}

/* The gateway dies while its requests wait on a stopped router, and the
 * router goes on only after their deadline: it stores none of them, so
 * the citizens' retries (same key) store each exactly once. */
Test(honest, gateway_killed_mid_request)
{
	struct mr_opts o = {.router_timeout_ms = 1000, .handlers = handlers, .nhandlers = 1};
	pthread_t t[CLIENTS];
	int stored_behind = 0;

	IT_UP(&o);
	prepare("gwkill");
	cr_assert_eq(router_stop(), 0, "the router did not stop");
	for (int i = 0; i < CLIENTS; i++)
		pthread_create(&t[i], NULL, client, &posts[i]);
	mr_sleep_ms(400);
	mr_proc_stop(&env, &env.gateway, SIGKILL);
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(t[i], NULL);
	mr_sleep_ms(1200);
	kill(env.router.pid, SIGCONT);
	mr_sleep_ms(300);
	cr_assert_eq(mr_gateway_start(&env), 0, "the gateway did not come back");
	CURL *h = curl_easy_init();
	for (int i = 0; i < CLIENTS; i++) {
		cr_expect_eq(posts[i].status, 0, "request %d: HTTP %ld from a killed gateway", i,
		             posts[i].status);
		char code[32];
		long s = post_keyed(h, &posts[i], code, sizeof(code));
		stored_behind += s == 200;
		cr_expect(s == 200 || s == 201, "retry %d: HTTP %ld", i, s);
	}
	curl_easy_cleanup(h);
	cr_expect_eq(stored_behind, 0, "%d messages were stored behind dropped connections",
	             stored_behind);
	IT_DOWN();
}

/* A signed read sent twice: served once, then refused as a replay. */
Test(honest, signed_read_replay_refused)
{
	struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__QueuesReq q = MAILROOM__QUEUES_REQ__INIT;
	uint8_t *buf;
	size_t len;
	nng_socket s;

	cr_assert_eq(mr_env_init(&env, &o), 0);
	cr_assert_eq(mr_router_start(&env), 0);
	cr_assert_eq(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 15000);
	cr_assert_eq(nng_dial(s, env.router_url, NULL, 0), 0);
	req.op_case = MAILROOM__REQUEST__OP_QUEUES;
	req.queues = &q;
	cr_assert_eq(pb_wire_seal_handler(&req, env.handlers[0].sk, &buf, &len), PB_OK);
	for (int round = 0; round < 2; round++) {
		void *rbuf;
		size_t rlen;
		cr_assert_eq(nng_send(s, buf, len, 0), 0);
		cr_assert_eq(nng_recv(s, &rbuf, &rlen, NNG_FLAG_ALLOC), 0);
		Mailroom__Response *r = mailroom__response__unpack(NULL, rlen, rbuf);
		nng_free(rbuf, rlen);
		cr_assert(r);
		if (round == 0)
			cr_expect_eq(r->code, PB_OK, "first read refused: %d", r->code);
		else
			cr_expect_eq(r->code, PB_EREPLAY, "replayed read answered: code %d", r->code);
		mailroom__response__free_unpacked(r, NULL);
	}
	free(buf);
	nng_close(s);
	IT_DOWN();
}

#define PULLS 300

static struct {
	nng_socket s;
	atomic_int ok, busy, other;
} P;

static void *long_pull(void *arg)
{
	(void)arg;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__PullReq p = MAILROOM__PULL_REQ__INIT;
	nng_ctx ctx;
	nng_aio *aio;
	nng_msg *m;
	uint8_t *buf;
	size_t len;

	p.queue = "general";
	p.wait_ms = 20000;
	req.op_case = MAILROOM__REQUEST__OP_PULL;
	req.pull = &p;
	if (pb_wire_seal_handler(&req, env.handlers[0].sk, &buf, &len) != PB_OK ||
	    nng_ctx_open(&ctx, P.s) != 0 || nng_aio_alloc(&aio, NULL, NULL) != 0 ||
	    nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, buf, len) != 0) {
		atomic_fetch_add(&P.other, 1);
		return NULL;
	}
	free(buf);
	nng_aio_set_timeout(aio, 30000);
	nng_aio_set_msg(aio, m);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if (nng_aio_result(aio) == 0) {
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
	} else {
		nng_msg_free(m);
	}
	if (nng_aio_result(aio) == 0) {
		nng_msg *a = nng_aio_get_msg(aio);
		Mailroom__Response *r = mailroom__response__unpack(NULL, nng_msg_len(a), nng_msg_body(a));
		if (r && r->code == PB_ELIMIT && r->error && strcmp(r->error, "busy") == 0)
			atomic_fetch_add(&P.busy, 1);
		else if (r && r->code == PB_OK)
			atomic_fetch_add(&P.ok, 1);
		else
			atomic_fetch_add(&P.other, 1);
		if (r)
			mailroom__response__free_unpacked(r, NULL);
		nng_msg_free(a);
	} else {
		atomic_fetch_add(&P.other, 1);
	}
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return NULL;
}

/* 300 long-polling pulls at once from one handler: intake keeps its
 * contexts, so citizens' posts are stored at their normal speed, and the
 * pulls past the handler's quota are refused "busy" at once. */
Test(honest, long_polls_do_not_starve_intake)
{
	struct mr_opts o = {.router_timeout_ms = 3000, .handlers = handlers, .nhandlers = 1};
	pthread_t t[PULLS];
	CURL *h;

	IT_UP(&o);
	cr_assert_eq(nng_req0_open(&P.s), 0);
	cr_assert_eq(nng_dial(P.s, env.router_url, NULL, 0), 0);
	for (int i = 0; i < PULLS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, long_pull, NULL), 0);
	/* The quota's 16 wait in the writer; the rest are refused at once. */
	for (int k = 0; k < 100 && atomic_load(&P.busy) < PULLS - 16; k++)
		mr_sleep_ms(100);
	cr_expect_geq(atomic_load(&P.busy), PULLS - 16,
	              "only %d of %d pulls past the quota were refused busy", atomic_load(&P.busy),
	              PULLS);
	h = curl_easy_init();
	for (int i = 0; i < 10; i++) {
		char body[160];
		struct mr_http r;
		snprintf(body, sizeof(body),
		         "{\"channel\":\"mailbox\",\"subject\":\"排队测试 %d\",\"body\":\"长轮询不挡来信。\"}", i);
		cr_assert_eq(mr_post_message(h, &env, body, &r), 0);
		cr_expect_eq(r.status, 201, "post %d: HTTP %ld while pulls wait", i, r.status);
		cr_expect_lt(r.total_s, 1.0, "post %d took %.2f s while pulls wait", i, r.total_s);
		mr_http_free(&r);
	}
	curl_easy_cleanup(h);
	/* The waiting pulls take the posts; the rest end when the socket goes. */
	mr_sleep_ms(500);
	nng_close(P.s);
	for (int i = 0; i < PULLS; i++)
		pthread_join(t[i], NULL);
	cr_expect_geq(atomic_load(&P.ok), 10, "only %d pulls got a message", atomic_load(&P.ok));
	IT_DOWN();
}

static void *push_order(void *arg)
{
	long *status = arg;
	CURL *h = curl_easy_init();
	struct mr_hl_sign s = {0};
	struct mr_http r;
	char *json = mr_order_json("HONEST-0001", 1, NULL);

	*status = json && mr_post_order(h, &env, json, &s, &r) == 0 ? r.status : 0;
	if (json)
		mr_http_free(&r);
	free(json);
	curl_easy_cleanup(h);
	return NULL;
}

/* A 12345 push whose answer is lost in a stall is sent again by the
 * gateway and settled: 201, not a 503 for a delivery that was stored. */
Test(honest, hotline_push_settled_after_stall)
{
	struct mr_opts o = {.router_timeout_ms = 1000, .handlers = handlers, .nhandlers = 1};
	pthread_t t;
	long status = -1, again;

	IT_UP(&o);
	mr_wait_past_gateway_start(&env);
	cr_assert_eq(router_stop(), 0, "the router did not stop");
	pthread_create(&t, NULL, push_order, &status);
	mr_sleep_ms(2500);
	kill(env.router.pid, SIGCONT);
	pthread_join(t, NULL);
	cr_expect_eq(status, 201, "push during a stall: HTTP %ld", status);
	push_order(&again);
	cr_expect_eq(again, 200, "the platform's repeat: HTTP %ld", again);
	IT_DOWN();
}
