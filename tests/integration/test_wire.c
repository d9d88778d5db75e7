/* The router's front door, spoken to directly over nng: replayed bytes,
 * stale or future timestamps, bad MACs and unknown keys are refused with
 * the documented codes, and a restart does not reopen the replay window. */
#include "it.h"
#include "mailroom.pb-c.h"
#include "pb_err.h"
#include "pb_time.h"
#include "pb_wire.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>

static const struct mr_handler_spec handlers[] = {
	{"zhao", "general"},
};

static nng_socket dial(void)
{
	nng_socket s;

	cr_assert_eq(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 15000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 15000);
	cr_assert_eq(nng_dial(s, env.router_url, NULL, 0), 0, "cannot dial %s", env.router_url);
	return s;
}

/* Sends the bytes as they are and returns the router's Response. */
static Mailroom__Response *call_resp(nng_socket s, const uint8_t *buf, size_t len)
{
	void *rbuf;
	size_t rlen;
	int rv;

	cr_assert_eq(rv = nng_send(s, (void *)buf, len, 0), 0, "send: %s", nng_strerror(rv));
	cr_assert_eq(rv = nng_recv(s, &rbuf, &rlen, NNG_FLAG_ALLOC), 0, "recv: %s", nng_strerror(rv));
	Mailroom__Response *r = mailroom__response__unpack(NULL, rlen, rbuf);
	nng_free(rbuf, rlen);
	cr_assert(r, "the router's answer is not a Response");
	return r;
}

/* The same, for its code and error string. */
static int call(nng_socket s, const uint8_t *buf, size_t len, char *error, size_t errlen)
{
	Mailroom__Response *r = call_resp(s, buf, len);
	int code = r->code;

	if (error)
		snprintf(error, errlen, "%s", r->error ? r->error : "");
	mailroom__response__free_unpacked(r, NULL);
	return code;
}

static void pull_req(Mailroom__Request *req, Mailroom__PullReq *p)
{
	mailroom__request__init(req);
	mailroom__pull_req__init(p);
	p->queue = "general";
	p->wait_ms = 0;
	req->op_case = MAILROOM__REQUEST__OP_PULL;
	req->pull = p;
}

/* An Envelope built by hand, for timestamps pb_wire would never write. */
static void seal_at(uint64_t ts_ms, const uint8_t sk[64], uint8_t **out, size_t *outlen)
{
	static const char tag[] = "mailroom/req/v1\n";
	Mailroom__Request req;
	Mailroom__PullReq p;
	Mailroom__Envelope e = MAILROOM__ENVELOPE__INIT;
	uint8_t nonce[16], sig[64];
	size_t n;

	pull_req(&req, &p);
	randombytes_buf(nonce, sizeof(nonce));
	req.ts_ms = ts_ms;
	req.nonce.data = nonce;
	req.nonce.len = sizeof(nonce);
	n = mailroom__request__get_packed_size(&req);
	uint8_t *msg = malloc(strlen(tag) + n);
	cr_assert(msg);
	memcpy(msg, tag, strlen(tag));
	mailroom__request__pack(&req, msg + strlen(tag));
	crypto_sign_detached(sig, NULL, msg, strlen(tag) + n, sk);
	e.kind = MAILROOM__AUTH_KIND__AUTH_HANDLER;
	e.key.data = (uint8_t *)sk + 32;
	e.key.len = 32;
	e.request.data = msg + strlen(tag);
	e.request.len = n;
	e.auth.data = sig;
	e.auth.len = sizeof(sig);
	*outlen = mailroom__envelope__get_packed_size(&e);
	*out = malloc(*outlen);
	cr_assert(*out);
	mailroom__envelope__pack(&e, *out);
	free(msg);
}

static void submit_req(Mailroom__Request *req, Mailroom__SubmitReq *s, uint8_t hash[32])
{
	mailroom__request__init(req);
	mailroom__submit_req__init(s);
	randombytes_buf(hash, 32);
	s->channel = MAILROOM__CHANNEL__CHANNEL_MAILBOX;
	s->subject = "直接提交";
	s->body = "经由路由器直接提交的测试信件。";
	s->access_key_hash.data = hash;
	s->access_key_hash.len = 32;
	req->op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req->submit = s;
}

/* A status lookup for a code nobody was given. */
static void status_req(Mailroom__Request *req, Mailroom__StatusReq *st, uint8_t hash[32])
{
	mailroom__request__init(req);
	mailroom__status_req__init(st);
	st->tracking_code = "1234-5678-9012";
	st->access_key_hash.data = hash;
	st->access_key_hash.len = 32;
	req->op_case = MAILROOM__REQUEST__OP_STATUS;
	req->status = st;
}

Test(wire, replay_stale_auth, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	Mailroom__Request req;
	Mailroom__PullReq p;
	Mailroom__SubmitReq sub;
	uint8_t *buf, hash[32];
	size_t len;
	char err[64];
	int code;

	cr_assert_eq(mr_env_init(&env, &o), 0);
	cr_assert_eq(mr_router_start(&env), 0);
	nng_socket s = dial();
	const uint8_t *sk = env.handlers[0].sk;

	/* The identical bytes twice: served once, then refused as a replay. */
	pull_req(&req, &p);
	cr_assert_eq(pb_wire_seal_handler(&req, sk, &buf, &len), PB_OK);
	code = call(s, buf, len, err, sizeof(err));
	cr_expect_eq(code, PB_OK, "first pull refused: %d %s", code, err);
	code = call(s, buf, len, err, sizeof(err));
	cr_expect_eq(code, PB_EREPLAY, "replayed pull: code %d (%s), wanted PB_EREPLAY", code, err);
	free(buf);

	/* A write through the gateway's door, replayed: stored once only. */
	submit_req(&req, &sub, hash);
	cr_assert_eq(pb_wire_seal_gateway(&req, env.gateway_secret, &buf, &len), PB_OK);
	code = call(s, buf, len, err, sizeof(err));
	cr_expect_eq(code, PB_OK, "gateway submit refused: %d %s", code, err);
	code = call(s, buf, len, err, sizeof(err));
	cr_expect_eq(code, PB_EREPLAY, "replayed submit: code %d (%s), wanted PB_EREPLAY", code, err);
	free(buf);

	/* Ten minutes old, and ten minutes ahead: stale both ways. */
	seal_at((uint64_t)(pb_now_ms() - 600000), sk, &buf, &len);
	code = call(s, buf, len, err, sizeof(err));
	cr_expect_eq(code, PB_ESTALE, "10 min old request: code %d (%s), wanted PB_ESTALE", code, err);
	free(buf);
	seal_at((uint64_t)(pb_now_ms() + 600000), sk, &buf, &len);
	code = call(s, buf, len, err, sizeof(err));
	cr_expect_eq(code, PB_ESTALE, "10 min ahead: code %d (%s), wanted PB_ESTALE", code, err);
	free(buf);
	/* The hand-built envelope itself is sound when fresh. */
	seal_at((uint64_t)pb_now_ms(), sk, &buf, &len);
	code = call(s, buf, len, err, sizeof(err));
	cr_expect_eq(code, PB_OK, "fresh hand-sealed request refused: %d %s", code, err);
	free(buf);

	/* A gateway envelope under the wrong secret, then the right one. */
	uint8_t wrong[32];
	randombytes_buf(wrong, sizeof(wrong));
	Mailroom__StatusReq st;
	status_req(&req, &st, hash);
	cr_assert_eq(pb_wire_seal_gateway(&req, wrong, &buf, &len), PB_OK);
	code = call(s, buf, len, err, sizeof(err));
	cr_expect_eq(code, PB_EAUTH, "wrong MAC: code %d (%s), wanted PB_EAUTH", code, err);
	free(buf);
	cr_assert_eq(pb_wire_seal_gateway(&req, env.gateway_secret, &buf, &len), PB_OK);
	code = call(s, buf, len, err, sizeof(err));
	cr_expect_eq(code, PB_ENOTFOUND, "right MAC, unknown code: %d (%s)", code, err);
	free(buf);

	/* A well-signed request from a key nobody configured. */
	uint8_t ssk[64], spk[32];
	crypto_sign_keypair(spk, ssk);
	pull_req(&req, &p);
	cr_assert_eq(pb_wire_seal_handler(&req, ssk, &buf, &len), PB_OK);
	code = call(s, buf, len, err, sizeof(err));
	cr_expect_eq(code, PB_EAUTH, "unknown handler key: code %d (%s), wanted PB_EAUTH", code, err);
	free(buf);

	/* A handler may not submit as if it were the gateway. */
	submit_req(&req, &sub, hash);
	cr_assert_eq(pb_wire_seal_handler(&req, sk, &buf, &len), PB_OK);
	code = call(s, buf, len, err, sizeof(err));
	cr_expect_eq(code, PB_EFORBIDDEN, "handler submit: code %d (%s), wanted PB_EFORBIDDEN", code,
	             err);
	free(buf);

	/* Garbage is refused, and the router keeps serving. */
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01, 0x02};
	code = call(s, junk, sizeof(junk), err, sizeof(err));
	cr_expect(code == PB_EINVAL || code == PB_EAUTH, "junk: code %d (%s)", code, err);

	/* Sealed before a restart, sent after it: the fresh process has no
	 * nonce memory, so it must refuse by timestamp. */
	pull_req(&req, &p);
	cr_assert_eq(pb_wire_seal_handler(&req, sk, &buf, &len), PB_OK);
	nng_close(s);
	mr_proc_stop(&env, &env.router, SIGTERM);
	mr_sleep_ms(20);
	cr_assert_eq(mr_router_start(&env), 0);
	s = dial();
	code = call(s, buf, len, err, sizeof(err));
	cr_expect_eq(code, PB_ESTALE, "request sealed before the restart: code %d (%s)", code, err);
	free(buf);
	pull_req(&req, &p);
	cr_assert_eq(pb_wire_seal_handler(&req, sk, &buf, &len), PB_OK);
	code = call(s, buf, len, err, sizeof(err));
	cr_expect_eq(code, PB_OK, "fresh pull after restart: code %d (%s)", code, err);
	free(buf);

	nng_close(s);
	cr_expect(mr_proc_alive(&env.router), "router died");
	IT_DOWN();
}

/* One item's bytes with the timestamp and nonce given, as pb_wire never
 * writes them. */
static void item_at(Mailroom__Request *req, uint64_t ts_ms, size_t nonce_len,
                    ProtobufCBinaryData *out)
{
	uint8_t nonce[16];

	randombytes_buf(nonce, sizeof(nonce));
	req->ts_ms = ts_ms;
	req->nonce.data = nonce;
	req->nonce.len = nonce_len;
	out->len = mailroom__request__get_packed_size(req);
	out->data = malloc(out->len);
	cr_assert(out->data);
	mailroom__request__pack(req, out->data);
	req->nonce.data = NULL;
	req->nonce.len = 0;
}

static void seal_batch(ProtobufCBinaryData *items, size_t n, const uint8_t *secret,
                       const uint8_t *sk, uint8_t **buf, size_t *len)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__BatchReq br = MAILROOM__BATCH_REQ__INIT;

	br.n_items = n;
	br.items = items;
	req.op_case = MAILROOM__REQUEST__OP_BATCH;
	req.batch = &br;
	if (sk)
		cr_assert_eq(pb_wire_seal_handler(&req, sk, buf, len), PB_OK);
	else
		cr_assert_eq(pb_wire_seal_gateway(&req, secret, buf, len), PB_OK);
}

static int item_code(const Mailroom__Response *r, size_t i, Mailroom__Response **out)
{
	Mailroom__Response *it = mailroom__response__unpack(NULL, r->batch->items[i].len,
	                                                    r->batch->items[i].data);
	cr_assert(it, "item %zu is not a Response", i);
	int code = it->code;
	if (out)
		*out = it;
	else
		mailroom__response__free_unpacked(it, NULL);
	return code;
}

/* The gateway's batches: every item is checked as if it had come alone,
 * answered in its place, and one bad item harms none of the others. */
Test(wire, batch_items_checked_alone, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	enum { N = 9 };
	static const int want[N] = {PB_OK,         PB_EREPLAY,    PB_ESTALE,
	                            PB_EINVAL,     PB_EFORBIDDEN, PB_EFORBIDDEN,
	                            PB_EINVAL,     PB_ENOTFOUND,  PB_OK};
	ProtobufCBinaryData items[N], inner[1];
	Mailroom__Request req;
	Mailroom__SubmitReq sub;
	Mailroom__PullReq p;
	Mailroom__StatusReq st;
	Mailroom__Response *r, *a, *b;
	uint8_t *buf, *bbuf, hash[32];
	size_t len, blen;
	int64_t now = pb_now_ms();

	cr_assert_eq(mr_env_init(&env, &o), 0);
	cr_assert_eq(mr_router_start(&env), 0);
	nng_socket s = dial();

	submit_req(&req, &sub, hash);
	cr_assert_eq(pb_wire_pack_item(&req, &items[0].data, &items[0].len), PB_OK);
	items[1].len = items[0].len;                    /* the same item again */
	items[1].data = malloc(items[1].len);
	cr_assert(items[1].data);
	memcpy(items[1].data, items[0].data, items[0].len);
	item_at(&req, (uint64_t)(now - 600000), 16, &items[2]);   /* ten minutes old */
	item_at(&req, (uint64_t)now, 8, &items[3]);               /* a short nonce */
	cr_assert_eq(pb_wire_pack_item(&req, &inner[0].data, &inner[0].len), PB_OK);
	Mailroom__Request nested = MAILROOM__REQUEST__INIT;
	Mailroom__BatchReq nb = MAILROOM__BATCH_REQ__INIT;
	nb.n_items = 1;
	nb.items = inner;
	nested.op_case = MAILROOM__REQUEST__OP_BATCH;
	nested.batch = &nb;
	cr_assert_eq(pb_wire_pack_item(&nested, &items[4].data, &items[4].len), PB_OK);
	pull_req(&req, &p);                                       /* a handler's operation */
	cr_assert_eq(pb_wire_pack_item(&req, &items[5].data, &items[5].len), PB_OK);
	items[6].len = 5;                                         /* not a Request */
	items[6].data = malloc(5);
	cr_assert(items[6].data);
	memcpy(items[6].data, "\xff\xff\xff\x01\x02", 5);
	status_req(&req, &st, hash);
	cr_assert_eq(pb_wire_pack_item(&req, &items[7].data, &items[7].len), PB_OK);
	submit_req(&req, &sub, hash);
	cr_assert_eq(pb_wire_pack_item(&req, &items[8].data, &items[8].len), PB_OK);

	seal_batch(items, N, env.gateway_secret, NULL, &buf, &len);
	r = call_resp(s, buf, len);
	cr_assert_eq(r->code, PB_OK, "batch refused: %d %s", r->code, r->error);
	cr_assert_eq(r->result_case, MAILROOM__RESPONSE__RESULT_BATCH);
	cr_assert_eq(r->batch->n_items, N, "one answer per item");
	for (size_t i = 0; i < N; i++) {
		int code = item_code(r, i, NULL);
		cr_expect_eq(code, want[i], "item %zu: code %d, wanted %d", i, code, want[i]);
	}
	/* The two good submits are two messages, each answered in its place. */
	item_code(r, 0, &a);
	item_code(r, 8, &b);
	cr_assert_eq(a->result_case, MAILROOM__RESPONSE__RESULT_SUBMIT);
	cr_assert_eq(b->result_case, MAILROOM__RESPONSE__RESULT_SUBMIT);
	cr_expect_str_neq(a->submit->message->tracking_code, b->submit->message->tracking_code);
	cr_expect_lt(a->submit->receipt->log_index, b->submit->receipt->log_index,
	             "items are applied in the batch's order");
	mailroom__response__free_unpacked(a, NULL);
	mailroom__response__free_unpacked(b, NULL);
	mailroom__response__free_unpacked(r, NULL);

	/* The whole envelope again: both submits are replays, nothing is
	 * stored twice. */
	r = call_resp(s, buf, len);
	cr_assert_eq(r->result_case, MAILROOM__RESPONSE__RESULT_BATCH);
	cr_expect_eq(item_code(r, 0, NULL), PB_EREPLAY);
	cr_expect_eq(item_code(r, 8, NULL), PB_EREPLAY);
	mailroom__response__free_unpacked(r, NULL);
	free(buf);

	/* Only the gateway batches. */
	seal_batch(items + 8, 1, NULL, env.handlers[0].sk, &bbuf, &blen);
	r = call_resp(s, bbuf, blen);
	cr_expect_eq(r->code, PB_EFORBIDDEN, "a handler's batch: code %d", r->code);
	mailroom__response__free_unpacked(r, NULL);
	free(bbuf);
	/* An empty batch is malformed. */
	seal_batch(items, 0, env.gateway_secret, NULL, &bbuf, &blen);
	r = call_resp(s, bbuf, blen);
	cr_expect_eq(r->code, PB_EINVAL, "an empty batch: code %d", r->code);
	mailroom__response__free_unpacked(r, NULL);
	free(bbuf);

	for (size_t i = 0; i < N; i++)
		free(items[i].data);
	free(inner[0].data);
	nng_close(s);
	cr_expect(mr_proc_alive(&env.router), "router died");
	IT_DOWN();
}
