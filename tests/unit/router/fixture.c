/* The router tests' fixture: a fresh store, the real calendars, two
 * handlers, and helpers that run one request the way the writer does. */
#include "fixture.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"
#include "rt.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pb_conf conf;
struct rt_core core;
char dir[256];
struct rt_principal gw = {.kind = MAILROOM__AUTH_KIND__AUTH_GATEWAY};
struct rt_principal alice, bob, connector;

void fx_setup(void)
{
	char err[256];
	int created;

	cr_assert(sodium_init() >= 0);
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/mr-rt-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
	cr_assert_not_null(mkdtemp(dir));
	pb_conf_defaults(&conf);
	snprintf(conf.store_path, sizeof(conf.store_path), "%s/store", dir);
	snprintf(conf.keys_dir, sizeof(conf.keys_dir), "%s/keys", dir);
	snprintf(conf.signing_key, sizeof(conf.signing_key), "%s/keys/store.key", dir);
	snprintf(conf.data_key, sizeof(conf.data_key), "%s/keys/data.key", dir);
	conf.map_size_mb = 64;
	conf.lease_seconds = 60;
	conf.nroutes = 1;
	strcpy(conf.routes[0].name, "lights");
	conf.routes[0].nkeywords = 1;
	strcpy(conf.routes[0].keywords[0], "路灯");
	strcpy(conf.routes[0].queue, "roads");
	conf.nhandlers = 2;
	strcpy(conf.handlers[0].name, "alice");
	conf.handlers[0].nqueues = 2;
	strcpy(conf.handlers[0].queues[0], "general");
	strcpy(conf.handlers[0].queues[1], "roads");
	strcpy(conf.handlers[1].name, "bob");
	conf.handlers[1].nqueues = 1;
	strcpy(conf.handlers[1].queues[0], "roads");
	alice = (struct rt_principal){.kind = MAILROOM__AUTH_KIND__AUTH_HANDLER,
	                              .handler = &conf.handlers[0]};
	bob = (struct rt_principal){.kind = MAILROOM__AUTH_KIND__AUTH_HANDLER,
	                            .handler = &conf.handlers[1]};
	/* mailroom-hotline, under its own key */
	conf.nconnectors = 1;
	strcpy(conf.connectors[0].name, "hotline");
	connector = (struct rt_principal){.kind = MAILROOM__AUTH_KIND__AUTH_CONNECTOR,
	                                  .connector = &conf.connectors[0]};

	memset(&core, 0, sizeof(core));
	core.conf = &conf;
	cr_assert_eq(st_keys_load_or_create(&conf, &core.keys, &created), PB_OK);
	cr_assert_eq(cal_load_dir(MR_SOURCE_DIR "/deploy/calendars", &core.cal, err, sizeof(err)), PB_OK,
	             "%s", err);
	cal_version(core.cal, core.cal_version);
	cr_assert_eq(st_open(conf.store_path, conf.map_size_mb, 0, &core.keys, &core.store), PB_OK);
}

void fx_teardown(void)
{
	char cmd[300];

	st_close(core.store);
	rt_bgcache_free(core.bigrams);
	core.bigrams = NULL;
	cal_free(core.cal);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

struct rt_prep *fx_prep;

int apply(const struct rt_principal *who, Mailroom__Request *req, int64_t now,
                 struct rt_result *res)
{
	st_txn *top, *child;
	int rc;

	rt_result_init(res);
	res->prep = fx_prep;
	cr_assert_eq(st_txn_begin(core.store, NULL, 0, &top), PB_OK);
	cr_assert_eq(st_txn_begin(core.store, top, 0, &child), PB_OK);
	rc = rt_apply(&core, child, who, req, now, res);
	if (rc == PB_OK && !res->park)
		cr_assert_eq(st_txn_commit(child), PB_OK);
	else
		st_txn_abort(child);
	/* as the writer does: seal the batch, then fill receipts */
	cr_assert_eq(st_log_seal(top), PB_OK);
	cr_assert_eq(rt_result_receipts(&core, top, res), PB_OK);
	cr_assert_eq(st_txn_commit(top), PB_OK);
	return rc;
}

int read_op(const struct rt_principal *who, Mailroom__Request *req, struct rt_result *res)
{
	st_txn *t;
	int rc;

	rt_result_init(res);
	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	rc = rt_read(&core, t, who, req, pb_now_ms(), res);
	st_txn_abort(t);
	return rc;
}



void post(int channel, const char *subject, int64_t now, struct posted *p)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SubmitReq s = MAILROOM__SUBMIT_REQ__INIT;
	Mailroom__Contact c = MAILROOM__CONTACT__INIT;
	struct rt_result res;
	char key[PB_AKEY_TEXT_LEN + 1];

	pb_akey_new(key);
	pb_akey_hash(key, strlen(key), p->key_hash);
	c.name = "张三";
	c.phone = "13800000000";
	s.channel = channel;
	s.subject = (char *)subject;
	s.body = "小区门口的灯坏了三天。";
	s.contact = &c;
	s.access_key_hash.data = p->key_hash;
	s.access_key_hash.len = PB_AKEY_HASH_LEN;
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &s;
	cr_assert_eq(apply(&gw, &req, now, &res), PB_OK, "%s", res.resp.message);
	Mailroom__MessageView *v = res.resp.submit->message;
	cr_assert_eq(v->id.len, PB_ID_LEN);
	memcpy(p->id, v->id.data, PB_ID_LEN);
	strcpy(p->code, v->tracking_code);
	strcpy(p->queue, v->queue);
	p->reply_due = v->reply_due_ms;
	p->ack_due = v->ack_due_ms;
	p->log_index = res.resp.submit->receipt->log_index;
	cr_assert_null(v->contact, "citizens' answers never carry the contact back");
	rt_result_clear(&res);
}

int64_t at(const char *rfc3339)
{
	int64_t ms;
	cr_assert_eq(pb_time_parse(rfc3339, &ms), PB_OK);
	return ms;
}

Mailroom__PullResp *pull(const struct rt_principal *who, const char *queue, int64_t now,
                                struct rt_result *res, int expect)
{
	static Mailroom__Request req;
	static Mailroom__PullReq p;

	mailroom__request__init(&req);
	mailroom__pull_req__init(&p);
	p.queue = (char *)queue;
	req.op_case = MAILROOM__REQUEST__OP_PULL;
	req.pull = &p;
	cr_assert_eq(apply(who, &req, now, res), expect, "%s", res->resp.message ? res->resp.message : "");
	return expect == PB_OK ? res->resp.pull : NULL;
}

int lease_op(const struct rt_principal *who, int op, const uint8_t *id, const uint8_t *token,
                    const char *arg, int64_t now, struct rt_result *res)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__LeaseRef ref = MAILROOM__LEASE_REF__INIT;
	Mailroom__ReplyReq rp = MAILROOM__REPLY_REQ__INIT;
	Mailroom__TransferReq tr = MAILROOM__TRANSFER_REQ__INIT;

	ref.id.data = (uint8_t *)id;
	ref.id.len = PB_ID_LEN;
	ref.lease_token.data = (uint8_t *)token;
	ref.lease_token.len = 16;
	req.op_case = op;
	switch (op) {
	case MAILROOM__REQUEST__OP_REPLY:
		rp.lease = &ref;
		rp.text = (char *)arg;
		req.reply = &rp;
		break;
	case MAILROOM__REQUEST__OP_TRANSFER:
		tr.lease = &ref;
		tr.to_queue = (char *)arg;
		tr.reason = "属地管理";
		req.transfer = &tr;
		break;
	case MAILROOM__REQUEST__OP_RENEW:
		req.renew = &ref;
		break;
	default:
		req.release = &ref;
		break;
	}
	return apply(who, &req, now, res);
}

Mailroom__RecordTexts *fx_texts(uint64_t index)
{
	Mailroom__RecordTexts *x = NULL;
	const uint8_t *data;
	uint8_t *plain;
	size_t len, plen;
	st_txn *t;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	if (st_texts_get(t, index, &data, &len) == PB_OK &&
	    st_unseal(core.store, data, len, &plain, &plen) == PB_OK) {
		x = mailroom__record_texts__unpack(NULL, plen, plain);
		free(plain);
	}
	st_txn_abort(t);
	return x;
}

const char *fx_actor(const char *prefix, const struct rt_principal *who, char *buf, size_t len)
{
	char id[PB_ACTOR_ID_TEXT];

	pb_actor_id(who->handler->pubkey, id);
	snprintf(buf, len, "%s:%s", prefix, id);
	return buf;
}

int fx_commits(const ProtobufCBinaryData *commit, const ProtobufCBinaryData *salt,
               const char *field, const char *text)
{
	uint8_t want[ST_HASH_LEN];

	if (commit->len != ST_HASH_LEN || salt->len != ST_SALT_LEN)
		return 0;
	st_text_commit(salt->data, field, text, strlen(text), want);
	return memcmp(want, commit->data, ST_HASH_LEN) == 0;
}

void fx_submit_init(struct fx_submit *x, int channel, const char *subject, const char *body,
                    const char *phone)
{
	char key[PB_AKEY_TEXT_LEN + 1];

	memset(x, 0, sizeof(*x));
	mailroom__request__init(&x->req);
	mailroom__submit_req__init(&x->s);
	mailroom__contact__init(&x->c);
	pb_akey_new(key);
	pb_akey_hash(key, strlen(key), x->key_hash);
	x->c.name = "张三";
	x->c.phone = (char *)phone;
	x->s.channel = channel;
	x->s.subject = (char *)subject;
	x->s.body = (char *)body;
	x->s.contact = &x->c;
	x->s.access_key_hash.data = x->key_hash;
	x->s.access_key_hash.len = PB_AKEY_HASH_LEN;
	x->req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	x->req.submit = &x->s;
}
