/* The store-kept handler list (rt_handlers.c) and the opening of console
 * requests (rt_console.c) against a real store. */
#include "fixture.h"
#include "pb_httpsig.h"
#include "pb_wire.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t alice_sk[64], bob_sk[64];
static struct rt_replay *replay;

static void setup(void)
{
	fx_setup();
	crypto_sign_keypair(conf.handlers[0].pubkey, alice_sk);
	crypto_sign_keypair(conf.handlers[1].pubkey, bob_sk);
	conf.handlers[0].may_admin = 1;
	cr_assert_eq(rt_handlers_reload(&core), PB_OK);
	/* the principals point into the set in force, as the server's do */
	alice.handler = rt_handler_by_key(&core, conf.handlers[0].pubkey);
	bob.handler = rt_handler_by_key(&core, conf.handlers[1].pubkey);
	cr_assert(alice.handler && bob.handler);
	cr_assert_eq(rt_replay_new(conf.request_skew_seconds, &replay), PB_OK);
}

static void teardown(void)
{
	rt_replay_free(replay);
	rt_handlers_free(&core);
	fx_teardown();
}

TestSuite(console, .init = setup, .fini = teardown);

static int admin(const struct rt_principal *who, Mailroom__HandlerAction action, const char *name,
                 const uint8_t *pk, const char *queue, struct rt_result *res)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__HandlerAdminReq a = MAILROOM__HANDLER_ADMIN_REQ__INIT;
	Mailroom__HandlerEntry e = MAILROOM__HANDLER_ENTRY__INIT;
	char *queues[1] = {(char *)queue};

	e.name = (char *)name;
	if (pk) {
		e.key.data = (uint8_t *)pk;
		e.key.len = 32;
	}
	if (queue) {
		e.queues = queues;
		e.n_queues = 1;
	}
	a.action = action;
	a.entry = &e;
	req.op_case = MAILROOM__REQUEST__OP_HANDLER_ADMIN;
	req.handler_admin = &a;
	return apply(who, &req, pb_now_ms(), res);
}

static Mailroom__AuditRecord *record(uint64_t index)
{
	const uint8_t *data;
	size_t len;
	st_txn *t;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_get(t, index, &data, &len), PB_OK);
	Mailroom__AuditRecord *r = mailroom__audit_record__unpack(NULL, len, data);
	st_txn_abort(t);
	cr_assert_not_null(r);
	return r;
}

#define ADD MAILROOM__HANDLER_ACTION__HANDLER_ADD
#define REMOVE MAILROOM__HANDLER_ACTION__HANDLER_REMOVE

Test(console, handler_added_then_removed)
{
	struct rt_result res;
	uint8_t pk[32], sk[64];

	crypto_sign_keypair(pk, sk);
	cr_assert_null(rt_handler_by_key(&core, pk));
	cr_assert_eq(admin(&alice, ADD, "carol", pk, "general", &res), PB_OK, "%s", res.resp.message);
	uint64_t idx = res.resp.handler_admin->log_index;
	rt_result_clear(&res);
	/* in force once reloaded, as the server does after the commit */
	cr_assert_eq(rt_handlers_reload(&core), PB_OK);
	const struct pb_handler *h = rt_handler_by_key(&core, pk);
	cr_assert_not_null(h);
	cr_expect_str_eq(h->name, "carol");
	cr_expect(pb_handler_may(h, "general"));
	cr_expect_not(pb_handler_may(h, "roads"));

	/* The record: the key and the queues, the admin's actor, no name. */
	Mailroom__AuditRecord *r = record(idx);
	cr_expect_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_HANDLER_ADDED);
	cr_expect_eq(r->key.len, 32);
	cr_expect(r->key.len == 32 && memcmp(r->key.data, pk, 32) == 0);
	char who[64];
	cr_expect_str_eq(r->actor, fx_actor("handler", &alice, who, sizeof(who)));
	cr_expect_str_eq(r->detail, "queues=general");
	cr_expect_eq(r->message_id.len, 0);
	mailroom__audit_record__free_unpacked(r, NULL);

	cr_assert_eq(admin(&alice, REMOVE, "carol", NULL, NULL, &res), PB_OK, "%s", res.resp.message);
	idx = res.resp.handler_admin->log_index;
	rt_result_clear(&res);
	cr_assert_eq(rt_handlers_reload(&core), PB_OK);
	cr_expect_null(rt_handler_by_key(&core, pk));
	r = record(idx);
	cr_expect_eq(r->event, MAILROOM__AUDIT_EVENT__AUDIT_HANDLER_REMOVED);
	cr_expect(r->key.len == 32 && memcmp(r->key.data, pk, 32) == 0);
	mailroom__audit_record__free_unpacked(r, NULL);
	/* twice: nothing of that name is in force */
	cr_expect_eq(admin(&alice, REMOVE, "carol", NULL, NULL, &res), PB_ENOTFOUND);
	rt_result_clear(&res);
}

Test(console, ini_handler_removed_and_replaced)
{
	struct rt_result res;
	uint8_t pk[32], sk[64];

	cr_assert_eq(admin(&alice, REMOVE, "bob", NULL, NULL, &res), PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);
	cr_assert_eq(rt_handlers_reload(&core), PB_OK);
	cr_expect_null(rt_handler_by_key(&core, conf.handlers[1].pubkey), "the tombstone hides bob");
	/* a new key for the name */
	crypto_sign_keypair(pk, sk);
	cr_assert_eq(admin(&alice, ADD, "bob", pk, "roads", &res), PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);
	cr_assert_eq(rt_handlers_reload(&core), PB_OK);
	cr_expect_not_null(rt_handler_by_key(&core, pk));
	cr_expect_null(rt_handler_by_key(&core, conf.handlers[1].pubkey));
}

Test(console, handler_changes_refused)
{
	struct rt_result res;
	uint8_t pk[32], sk[64], bad[32] = {0};

	crypto_sign_keypair(pk, sk);
	cr_expect_eq(admin(&bob, ADD, "carol", pk, "general", &res), PB_EFORBIDDEN, "no admin = yes");
	rt_result_clear(&res);
	struct rt_principal via_console = alice;
	via_console.console = 1;
	cr_expect_eq(admin(&via_console, ADD, "carol", pk, "general", &res), PB_EFORBIDDEN,
	             "never through the console");
	rt_result_clear(&res);
	cr_expect_eq(admin(&alice, ADD, "carol", pk, "nowhere", &res), PB_EINVAL);
	cr_expect_str_eq(res.resp.error, "unknown_queue");
	rt_result_clear(&res);
	cr_expect_eq(admin(&alice, ADD, "Carol!", pk, "general", &res), PB_EINVAL);
	cr_expect_str_eq(res.resp.error, "invalid_name");
	rt_result_clear(&res);
	cr_expect_eq(admin(&alice, ADD, "carol", bad, "general", &res), PB_EINVAL);
	cr_expect_str_eq(res.resp.error, "invalid_key");
	rt_result_clear(&res);
	cr_expect_eq(admin(&alice, ADD, "carol", conf.handlers[1].pubkey, "general", &res), PB_EEXIST);
	cr_expect_str_eq(res.resp.error, "key_in_use");
	rt_result_clear(&res);
}

/* ------------------------------------------------- console requests -- */

struct creq {
	Mailroom__HttpSigReq h;
	Mailroom__HttpHeader hd[2], *hp[2];
	char digest[PB_HS_DIGEST_MAX], input[600], sig[200];
	Mailroom__Envelope env;
	uint8_t *packed;
};

static const char *get(void *arg, const char *comp)
{
	struct creq *c = arg;

	if (strcmp(comp, "@method") == 0)
		return c->h.method;
	if (strcmp(comp, "@path") == 0)
		return c->h.path;
	if (strcmp(comp, "content-digest") == 0)
		return c->digest;
	return NULL;
}

/* A signed request; body NULL for none. */
static void make(struct creq *c, const uint8_t sk[64], const char *method, const char *path,
                 const char *body, long created, const char *nonce)
{
	char keyid[65];
	struct pb_hs_input in;

	memset(c, 0, sizeof(*c));
	mailroom__http_sig_req__init(&c->h);
	c->h.method = (char *)method;
	c->h.path = (char *)path;
	c->h.query = "";
	sodium_bin2hex(keyid, sizeof(keyid), sk + 32, 32);
	if (body) {
		pb_hs_content_digest((const uint8_t *)body, strlen(body), c->digest);
		mailroom__http_header__init(&c->hd[0]);
		c->hd[0].name = "content-digest";
		c->hd[0].value = c->digest;
		c->hp[0] = &c->hd[0];
		c->h.headers = c->hp;
		c->h.n_headers = 1;
		c->h.body.data = (uint8_t *)body;
		c->h.body.len = strlen(body);
	}
	snprintf(c->input, sizeof(c->input),
	         "sig1=(\"@method\" \"@path\"%s);created=%ld;keyid=\"%s\";nonce=\"%s\"",
	         body ? " \"content-digest\"" : "", created, keyid, nonce);
	cr_assert_eq(pb_hs_parse_input(c->input, &in), PB_OK);
	cr_assert_eq(pb_hs_sign(&in, get, c, sk, c->sig, sizeof(c->sig)), PB_OK);
	c->h.signature_input = c->input;
	c->h.signature = c->sig;
}

static int open_req(struct creq *c, Mailroom__Request **req, struct rt_principal *who,
                    const char **error)
{
	const char *message;
	size_t len = mailroom__http_sig_req__get_packed_size(&c->h);
	uint8_t *buf = malloc(len + 1);
	int rc;

	mailroom__http_sig_req__pack(&c->h, buf);
	mailroom__envelope__init(&c->env);
	c->env.kind = MAILROOM__AUTH_KIND__AUTH_HTTPSIG;
	c->env.request.data = buf;
	c->env.request.len = len;
	rc = rt_console_open(&core, replay, 0, &c->env, pb_now_ms(), req, who, error, &message);
	free(buf);
	return rc;
}

static long now_s(void)
{
	return (long)(pb_now_ms() / 1000);
}

Test(console, signed_request_opens_to_the_handlers_request)
{
	struct creq c;
	Mailroom__Request *req;
	struct rt_principal who;
	const char *error;

	make(&c, alice_sk, "POST", "/api/v1/pull", "{\"queue\":\"general\",\"wait\":2}", now_s(),
	     "nonce-0000000000001");
	cr_assert_eq(open_req(&c, &req, &who, &error), PB_OK, "%s", error);
	cr_expect_eq(req->op_case, MAILROOM__REQUEST__OP_PULL);
	cr_expect_str_eq(req->pull->queue, "general");
	cr_expect_eq(req->pull->wait_ms, 2000);
	cr_expect_eq(req->nonce.len, 16);
	cr_expect_eq(who.handler, alice.handler);
	cr_expect(who.console);
	mailroom__request__free_unpacked(req, NULL);
}

Test(console, replayed_nonce_refused_for_reads)
{
	struct creq c;
	Mailroom__Request *req;
	struct rt_principal who;
	const char *error;

	make(&c, alice_sk, "GET", "/api/v1/queues", NULL, now_s(), "nonce-0000000000002");
	cr_assert_eq(open_req(&c, &req, &who, &error), PB_OK, "%s", error);
	mailroom__request__free_unpacked(req, NULL);
	cr_expect_eq(open_req(&c, &req, &who, &error), PB_EREPLAY);
	cr_expect_null(req);
	/* the same nonce under another key is another request */
	make(&c, bob_sk, "GET", "/api/v1/queues", NULL, now_s(), "nonce-0000000000002");
	cr_assert_eq(open_req(&c, &req, &who, &error), PB_OK, "%s", error);
	mailroom__request__free_unpacked(req, NULL);
}

Test(console, stale_created_refused)
{
	struct creq c;
	Mailroom__Request *req;
	struct rt_principal who;
	const char *error;

	make(&c, alice_sk, "GET", "/api/v1/queues", NULL, now_s() - conf.request_skew_seconds - 5,
	     "nonce-0000000000003");
	cr_expect_eq(open_req(&c, &req, &who, &error), PB_ESTALE);
	cr_expect_str_eq(error, "stale");
}

Test(console, body_changed_after_signing_refused)
{
	struct creq c;
	Mailroom__Request *req;
	struct rt_principal who;
	const char *error;
	static const char other[] = "{\"queue\":\"roads\"}";

	make(&c, alice_sk, "POST", "/api/v1/pull", "{\"queue\":\"general\"}", now_s(),
	     "nonce-0000000000004");
	c.h.body.data = (uint8_t *)other;
	c.h.body.len = strlen(other);
	cr_expect_eq(open_req(&c, &req, &who, &error), PB_EAUTH);
	cr_expect_str_eq(error, "digest_mismatch");
	/* a digest made to match the new body breaks the signature instead */
	pb_hs_content_digest((const uint8_t *)other, strlen(other), c.digest);
	cr_expect_eq(open_req(&c, &req, &who, &error), PB_EAUTH);
	cr_expect_str_eq(error, "unauthenticated");
	/* and a body without content-digest covered is refused outright */
	make(&c, alice_sk, "POST", "/api/v1/pull", NULL, now_s(), "nonce-0000000000005");
	c.h.body.data = (uint8_t *)other;
	c.h.body.len = strlen(other);
	cr_expect_eq(open_req(&c, &req, &who, &error), PB_EAUTH);
	cr_expect_str_eq(error, "invalid_signature");
}

Test(console, removed_handler_refused)
{
	struct creq c;
	struct rt_result res;
	Mailroom__Request *req;
	struct rt_principal who;
	const char *error;

	cr_assert_eq(admin(&alice, REMOVE, "bob", NULL, NULL, &res), PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);
	cr_assert_eq(rt_handlers_reload(&core), PB_OK);
	make(&c, bob_sk, "GET", "/api/v1/queues", NULL, now_s(), "nonce-0000000000006");
	cr_expect_eq(open_req(&c, &req, &who, &error), PB_EAUTH);
	cr_expect_str_eq(error, "unauthenticated");
}

Test(console, message_detail_only_in_the_handlers_queues)
{
	struct posted p;
	struct rt_result res;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__MessageReq m = MAILROOM__MESSAGE_REQ__INIT;

	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "垃圾清运", pb_now_ms(), &p);
	cr_assert_str_eq(p.queue, "general");
	m.id.data = p.id;
	m.id.len = PB_ID_LEN;
	req.op_case = MAILROOM__REQUEST__OP_DETAIL;
	req.detail = &m;
	cr_assert_eq(read_op(&alice, &req, &res), PB_OK, "%s", res.resp.message);
	cr_expect_str_eq(res.resp.detail->contact->name, "张三");
	cr_assert_eq(res.resp.detail->n_timeline, 2, "received and routed");
	cr_expect_eq(res.resp.detail->timeline[0]->event, MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED);
	cr_expect_eq(res.resp.detail->timeline[1]->event, MAILROOM__AUDIT_EVENT__AUDIT_ROUTED);
	cr_expect_eq(res.resp.detail->timeline[1]->due_ms, p.reply_due);
	cr_expect_not(res.resp.detail->timeline_partial);
	rt_result_clear(&res);
	/* bob has roads only: the message is as absent as an unknown one */
	cr_expect_eq(read_op(&bob, &req, &res), PB_ENOTFOUND);
	rt_result_clear(&res);
}

Test(console, supervision_counts)
{
	struct posted a, b;
	struct rt_result res;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SuperviseReq sv = MAILROOM__SUPERVISE_REQ__INIT;
	int64_t now = pb_now_ms();

	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "垃圾清运", now, &a);
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "噪音扰民", now, &b);
	Mailroom__PullResp *pr = pull(&alice, "general", now, &res, PB_OK);
	uint8_t id[PB_ID_LEN], tok[64];
	size_t toklen = pr->lease->token.len;
	memcpy(id, pr->message->id.data, PB_ID_LEN);
	memcpy(tok, pr->lease->token.data, toklen);
	rt_result_clear(&res);
	cr_assert_eq(lease_op(&alice, MAILROOM__REQUEST__OP_REPLY, id, tok, "已处理。", now, &res), PB_OK,
	             "%s", res.resp.message);
	rt_result_clear(&res);

	req.op_case = MAILROOM__REQUEST__OP_SUPERVISE;
	req.supervise = &sv;
	cr_expect_eq(read_op(&alice, &req, &res), PB_EFORBIDDEN, "supervise = yes is needed");
	rt_result_clear(&res);
	conf.handlers[0].may_supervise = 1;
	cr_assert_eq(rt_handlers_reload(&core), PB_OK);
	alice.handler = rt_handler_by_key(&core, conf.handlers[0].pubkey);
	cr_assert_eq(read_op(&alice, &req, &res), PB_OK, "%s", res.resp.message);
	cr_assert_eq(res.resp.supervise->n_queues, 1);
	Mailroom__QueueSupervision *q = res.resp.supervise->queues[0];
	cr_expect_str_eq(q->queue, "general");
	cr_expect_eq(q->channel, MAILROOM__CHANNEL__CHANNEL_MAILBOX);
	cr_expect_eq(q->open, 1);
	cr_expect_eq(q->overdue, 0);
	cr_expect_eq(q->month_answered, 1);
	cr_expect_eq(q->month_on_time, 1);
	cr_expect_eq(q->year_answered, 1);
	cr_expect_eq(q->year_on_time, 1);
	rt_result_clear(&res);
}

Test(console, profile_enforced)
{
	struct creq c;
	Mailroom__Request *req;
	struct rt_principal who;
	const char *error;

	/* a query the signature does not cover */
	make(&c, alice_sk, "GET", "/api/v1/queues", NULL, now_s(), "nonce-0000000000007");
	c.h.query = "queue=roads";
	cr_expect_eq(open_req(&c, &req, &who, &error), PB_EAUTH);
	cr_expect_str_eq(error, "invalid_signature");
	/* another method than the one signed */
	make(&c, alice_sk, "GET", "/api/v1/queues", NULL, now_s(), "nonce-0000000000008");
	c.h.method = "POST";
	cr_expect_eq(open_req(&c, &req, &who, &error), PB_EAUTH);
	cr_expect_str_eq(error, "unauthenticated");
	/* a nonce too short to be one */
	make(&c, alice_sk, "GET", "/api/v1/queues", NULL, now_s(), "short");
	cr_expect_eq(open_req(&c, &req, &who, &error), PB_EAUTH);
	cr_expect_str_eq(error, "invalid_signature");
	/* a route the router does not know, signed: 404, after the checks */
	make(&c, alice_sk, "GET", "/api/v1/nowhere", NULL, now_s(), "nonce-0000000000009");
	cr_expect_eq(open_req(&c, &req, &who, &error), PB_ENOTFOUND);
	cr_expect_str_eq(error, "not_found");
}

static int escalate(int64_t now)
{
	struct rt_result res;
	st_txn *top, *child;
	int rc;

	rt_result_init(&res);
	cr_assert_eq(st_txn_begin(core.store, NULL, 0, &top), PB_OK);
	cr_assert_eq(st_txn_begin(core.store, top, 0, &child), PB_OK);
	rc = rt_escalate_one(&core, child, now, &res);
	if (rc == PB_OK)
		cr_assert_eq(st_txn_commit(child), PB_OK);
	else
		st_txn_abort(child);
	cr_assert_eq(st_txn_commit(top), PB_OK);
	rt_result_clear(&res);
	return rc;
}

Test(console, queue_counts_by_escalation)
{
	struct posted old, fresh;
	struct rt_result res;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__QueuesReq q = MAILROOM__QUEUES_REQ__INIT;
	int steps = 0;

	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "垃圾清运", at("2025-03-03T10:00:00+08:00"), &old);
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "噪音扰民", pb_now_ms(), &fresh);
	while (escalate(pb_now_ms()) == PB_OK && steps < 20)
		steps++;
	cr_assert_geq(steps, 3, "the old letter climbs the ladder");
	req.op_case = MAILROOM__REQUEST__OP_QUEUES;
	req.queues = &q;
	struct rt_principal via_console = alice;
	via_console.console = 1;
	cr_assert_eq(read_op(&via_console, &req, &res), PB_OK, "%s", res.resp.message);
	Mailroom__QueueInfo *g = NULL;
	for (size_t i = 0; i < res.resp.queues->n_queues; i++)
		if (strcmp(res.resp.queues->queues[i]->name, "general") == 0)
			g = res.resp.queues->queues[i];
	cr_assert_not_null(g);
	cr_expect_eq(g->depth, 2);
	cr_expect_eq(g->seriously_overdue, 1);
	cr_expect_eq(g->overdue, 0);
	cr_expect_eq(g->due_soon, 0);
	rt_result_clear(&res);
	/* mailroom-handler's listing stays O(queues): no counts there */
	cr_assert_eq(read_op(&alice, &req, &res), PB_OK);
	for (size_t i = 0; i < res.resp.queues->n_queues; i++)
		cr_expect_eq(res.resp.queues->queues[i]->seriously_overdue, 0);
	rt_result_clear(&res);
}

/* 并单 and 协办 from the console open to the same requests as
 * mailroom-handler's: the path's id names the message, the body the rest. */
Test(console, merge_and_assist_open_to_the_handlers_requests)
{
	struct creq c;
	Mailroom__Request *req;
	struct rt_principal who;
	const char *error;
	char path[96], id[PB_ID_TEXT_LEN + 1];
	uint8_t raw[PB_ID_LEN];

	pb_id_new(pb_now_ms(), raw);
	pb_id_to_text(raw, id);
	snprintf(path, sizeof(path), "/api/v1/messages/%s/merge", id);
	make(&c, alice_sk, "POST", path,
	     "{\"refs\":[\"3141-5926-5358\",\"01JD00000000000000000000AA\"],\"reason\":\"同一事项\","
	     "\"keep_deadline\":true}",
	     now_s(), "nonce-merge-000000001");
	cr_assert_eq(open_req(&c, &req, &who, &error), PB_OK, "%s", error);
	cr_expect_eq(req->op_case, MAILROOM__REQUEST__OP_MERGE);
	cr_expect_str_eq(req->merge->primary, id);
	cr_assert_eq(req->merge->n_refs, 2);
	cr_expect_str_eq(req->merge->refs[0], "3141-5926-5358");
	cr_expect(req->merge->keep_deadline);
	mailroom__request__free_unpacked(req, NULL);

	snprintf(path, sizeof(path), "/api/v1/messages/%s/assist", id);
	make(&c, alice_sk, "POST", path, "{\"queue\":\"roads\",\"working_days\":3,\"reason\":\"核实\"}",
	     now_s(), "nonce-assist-00000001");
	cr_assert_eq(open_req(&c, &req, &who, &error), PB_OK, "%s", error);
	cr_expect_eq(req->op_case, MAILROOM__REQUEST__OP_ASSIST);
	cr_expect_str_eq(req->assist->ref, id);
	cr_expect_eq(req->assist->working_days, 3);
	mailroom__request__free_unpacked(req, NULL);

	/* A date typed in is no field of an assist. */
	make(&c, alice_sk, "POST", path, "{\"queue\":\"roads\",\"due\":\"2026-12-31\",\"reason\":\"核实\"}",
	     now_s(), "nonce-assist-00000002");
	cr_expect_neq(open_req(&c, &req, &who, &error), PB_OK);
	cr_expect_str_eq(error, "unknown_field");
}
