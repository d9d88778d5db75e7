/* mailroom-hotline's own identity, spoken to directly over nng: the
 * connector's operations take its key ([connector.NAME]) and nothing
 * else, the gateway secret no longer opens them, and the connector's key
 * opens nothing but them. */
#include "it.h"
#include "mailroom.pb-c.h"
#include "pb_err.h"
#include "pb_wire.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>
#include <stdlib.h>

static const struct mr_handler_spec handlers[] = {
	{"zhao", "general, hotline"},
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

enum { BY_GATEWAY, BY_CONNECTOR, BY_HANDLER, BY_STRANGER };

/* Seals req as who, sends it and returns the answer's code (error into
 * err). */
static int call(nng_socket s, int who, Mailroom__Request *req, char *err, size_t errlen)
{
	uint8_t *buf = NULL, stranger[64], pk[32];
	size_t len = 0;
	void *rbuf;
	size_t rlen;
	int rc;

	switch (who) {
	case BY_GATEWAY:
		rc = pb_wire_seal_gateway(req, env.gateway_secret, &buf, &len);
		break;
	case BY_CONNECTOR:
		rc = pb_wire_seal_connector(req, env.connector.sk, &buf, &len);
		break;
	case BY_HANDLER:
		rc = pb_wire_seal_connector(req, env.handlers[0].sk, &buf, &len);
		break;
	default:
		crypto_sign_keypair(pk, stranger);
		rc = pb_wire_seal_connector(req, stranger, &buf, &len);
		break;
	}
	cr_assert_eq(rc, PB_OK);
	cr_assert_eq(nng_send(s, buf, len, 0), 0);
	free(buf);
	cr_assert_eq(nng_recv(s, &rbuf, &rlen, NNG_FLAG_ALLOC), 0);
	Mailroom__Response *r = mailroom__response__unpack(NULL, rlen, rbuf);
	nng_free(rbuf, rlen);
	cr_assert(r, "the router's answer is not a Response");
	rc = r->code;
	snprintf(err, errlen, "%s", r->error ? r->error : "");
	mailroom__response__free_unpacked(r, NULL);
	return rc;
}

/* The four connector operations, each in a form the router accepts. */
static int connector_op(nng_socket s, int who, int op, char *err, size_t errlen)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__IngestPageReq pg = MAILROOM__INGEST_PAGE_REQ__INIT;
	Mailroom__OutboxReq ob = MAILROOM__OUTBOX_REQ__INIT;
	Mailroom__OutboxAckReq ack = MAILROOM__OUTBOX_ACK_REQ__INIT;
	Mailroom__HotlineStatusReq st = MAILROOM__HOTLINE_STATUS_REQ__INIT;

	req.op_case = op;
	switch (op) {
	case MAILROOM__REQUEST__OP_INGEST:
		pg.cursor = "";
		pg.next_cursor = "c-1";
		req.ingest = &pg;
		break;
	case MAILROOM__REQUEST__OP_OUTBOX:
		ob.limit = 1;
		req.outbox = &ob;
		break;
	case MAILROOM__REQUEST__OP_OUTBOX_ACK:
		req.outbox_ack = &ack;
		break;
	default:
		req.hotline_status = &st;
		break;
	}
	return call(s, who, &req, err, errlen);
}

static const int connector_ops[] = {MAILROOM__REQUEST__OP_INGEST, MAILROOM__REQUEST__OP_OUTBOX,
                                    MAILROOM__REQUEST__OP_OUTBOX_ACK,
                                    MAILROOM__REQUEST__OP_HOTLINE_STATUS};

Test(connector, only_the_connector_key_opens_the_connector_operations, .init = it_init,
     .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	char err[64];
	int code;

	IT_UP(&o);
	nng_socket s = dial();
	for (size_t i = 0; i < sizeof(connector_ops) / sizeof(connector_ops[0]); i++) {
		code = connector_op(s, BY_CONNECTOR, connector_ops[i], err, sizeof(err));
		cr_expect_eq(code, PB_OK, "op %d by the connector: %d %s", connector_ops[i], code, err);
		code = connector_op(s, BY_GATEWAY, connector_ops[i], err, sizeof(err));
		cr_expect_eq(code, PB_EFORBIDDEN, "op %d under the gateway secret: %d %s",
		             connector_ops[i], code, err);
		cr_expect_str_eq(err, "forbidden");
		/* a handler's key is no connector's, nor is a stranger's */
		code = connector_op(s, BY_HANDLER, connector_ops[i], err, sizeof(err));
		cr_expect_eq(code, PB_EAUTH, "op %d by a handler key: %d %s", connector_ops[i], code, err);
		code = connector_op(s, BY_STRANGER, connector_ops[i], err, sizeof(err));
		cr_expect_eq(code, PB_EAUTH, "op %d by an unknown key: %d %s", connector_ops[i], code, err);
	}
	nng_close(s);
	IT_DOWN();
}

Test(connector, the_connector_key_is_neither_gateway_nor_handler, .init = it_init,
     .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SubmitReq sub = MAILROOM__SUBMIT_REQ__INIT;
	Mailroom__PullReq pull = MAILROOM__PULL_REQ__INIT;
	Mailroom__QueuesReq q = MAILROOM__QUEUES_REQ__INIT;
	uint8_t hash[32];
	char err[64];
	int code;

	IT_UP(&o);
	nng_socket s = dial();
	/* a citizen's message */
	randombytes_buf(hash, sizeof(hash));
	sub.channel = MAILROOM__CHANNEL__CHANNEL_MAILBOX;
	sub.subject = "不是网关";
	sub.body = "连接器的密钥不能提交市民来信。";
	sub.access_key_hash.data = hash;
	sub.access_key_hash.len = sizeof(hash);
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &sub;
	code = call(s, BY_CONNECTOR, &req, err, sizeof(err));
	cr_expect_eq(code, PB_EFORBIDDEN, "submit by the connector: %d %s", code, err);
	/* nor a 12345 push, which stays the gateway's */
	sub.channel = MAILROOM__CHANNEL__CHANNEL_HOTLINE;
	code = call(s, BY_CONNECTOR, &req, err, sizeof(err));
	cr_expect_eq(code, PB_EFORBIDDEN, "hotline submit by the connector: %d %s", code, err);
	/* a handler's pull and queue listing */
	mailroom__request__init(&req);
	pull.queue = "hotline";
	req.op_case = MAILROOM__REQUEST__OP_PULL;
	req.pull = &pull;
	code = call(s, BY_CONNECTOR, &req, err, sizeof(err));
	cr_expect_eq(code, PB_EFORBIDDEN, "pull by the connector: %d %s", code, err);
	mailroom__request__init(&req);
	req.op_case = MAILROOM__REQUEST__OP_QUEUES;
	req.queues = &q;
	code = call(s, BY_CONNECTOR, &req, err, sizeof(err));
	cr_expect_eq(code, PB_EFORBIDDEN, "queues by the connector: %d %s", code, err);
	nng_close(s);
	IT_DOWN();
}
