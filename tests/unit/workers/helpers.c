#include "helpers.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"
#include "pb_wire.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <lmdb.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char tdir[256];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tdir_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	/* Short: the ipc socket path lives in here too. */
	if (!tmp || !*tmp || strlen(tmp) > 60)
		tmp = P_tmpdir;
	snprintf(tdir, sizeof(tdir), "%s/mr-wk-XXXXXX", tmp);
	cr_assert_not_null(mkdtemp(tdir));
}

void tdir_teardown(void)
{
	fake_stop();
	if (tdir[0])
		nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	tdir[0] = '\0';
}

const char *tpath(const char *name)
{
	static char bufs[4][512];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", tdir, name);
	return b;
}

json_t *run_json(const struct run *r)
{
	json_error_t e;
	json_t *j = json_loads(r->out, 0, &e);

	cr_assert_not_null(j, "stdout is not JSON (%s): %s", e.text, r->out);
	return j;
}

void run_expect_error(const struct run *r, int exit, const char *code)
{
	json_t *j;

	cr_assert_eq(r->exit, exit, "exit %d, want %d; stderr: %s", r->exit, exit, r->err);
	j = run_json(r);
	cr_assert_str_eq(jstr(j, "error", "code"), code, "%s", r->out);
	cr_assert_neq(r->err[0], '\0', "a line on stderr too");
	json_decref(j);
}

const char *jstr(json_t *j, const char *a, const char *b)
{
	json_t *v = json_object_get(j, a);

	return json_string_value(b ? json_object_get(v, b) : v);
}

static void slurp(const char *path, char *buf, size_t max)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (!f)
		return;
	n = fread(buf, 1, max - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
}

void run_prog(struct run *r, const char *prog, const char *const argv[])
{
	const char *out = tpath(".run.out"), *err = tpath(".run.err");
	char outp[512], errp[512];
	int status;
	pid_t pid;

	snprintf(outp, sizeof(outp), "%s", out);
	snprintf(errp, sizeof(errp), "%s", err);
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0 || chdir(tdir) != 0)
			_exit(126);
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	r->exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	slurp(outp, r->out, sizeof(r->out));
	slurp(errp, r->err, sizeof(r->err));
}

/* ---- the store ---- */

static void append(st_txn *t, Mailroom__AuditRecord *rec)
{
	cr_assert_eq(st_log_append(t, rec, NULL), PB_OK);
}

st_env *store_create(struct fixture_store *s, const char *sub)
{
	char base[200];
	struct pb_conf *c = calloc(1, sizeof(*c));
	struct st_keys keys;
	st_env *env;
	int created;

	cr_assert_not_null(c);
	memset(s, 0, sizeof(*s));
	pb_conf_defaults(c);
	snprintf(base, sizeof(base), "%.150s%s%.40s", tdir, sub ? "/" : "", sub ? sub : "");
	snprintf(s->dir, sizeof(s->dir), "%s/store", base);
	snprintf(s->pubkey, sizeof(s->pubkey), "%s/keys/store.pub", base);
	snprintf(c->store_path, sizeof(c->store_path), "%s", s->dir);
	snprintf(c->keys_dir, sizeof(c->keys_dir), "%s/keys", base);
	snprintf(c->signing_key, sizeof(c->signing_key), "%s/keys/store.key", base);
	snprintf(c->data_key, sizeof(c->data_key), "%s/keys/data.key", base);
	snprintf(c->log_origin, sizeof(c->log_origin), "mailroom.test/log");
	cr_assert_eq(st_keys_load_or_create(c, &keys, &created), PB_OK);
	cr_assert_eq(st_open(s->dir, 16, 0, &keys, &env), PB_OK);
	free(c);
	sodium_memzero(&keys, sizeof(keys));
	return env;
}

void store_build(struct fixture_store *s, const char *sub)
{
	Mailroom__StoredMessage m = MAILROOM__STORED_MESSAGE__INIT;
	uint8_t other[16], hash[32], salt[16], texts[32], other_texts[32];
	int64_t now = pb_now_ms();
	st_env *env = store_create(s, sub);
	st_txn *t;

	pb_id_new(now, s->id);
	pb_id_to_text(s->id, s->idt);
	pb_track_new(s->track);
	pb_id_new(now + 1, other);
	randombytes_buf(salt, sizeof(salt));
	st_content_hash(salt, "已修复", strlen("已修复"), hash);
	/* The stored messages match their records: verify --store checks. */
	st_submit_hash(salt, "路灯不亮", "幸福路的路灯坏了三天。", texts);
	st_submit_hash(other, "路灯不亮", "幸福路的路灯坏了三天。", other_texts);

	cr_assert_eq(st_txn_begin(env, NULL, 0, &t), PB_OK);
	m.id.data = s->id;
	m.id.len = 16;
	m.tracking_code = s->track;
	m.channel = MAILROOM__CHANNEL__CHANNEL_MAILBOX;
	m.status = MAILROOM__STATUS__STATUS_REPLIED;
	m.queue = "roads";
	m.subject = "路灯不亮";
	m.body = "幸福路的路灯坏了三天。";
	m.received_ms = now;
	m.text_salt.data = salt;
	m.text_salt.len = sizeof(salt);
	m.reply_due_ms = now + 15 * PB_DAY_MS;
	m.reply_text = "已修复";
	m.replied_ms = now;
	cr_assert_eq(st_msg_put(t, &m), PB_OK);
	cr_assert_eq(st_track_put(t, s->track, s->id), PB_OK);
	/* The other message, still queued; its id is its salt. */
	Mailroom__StoredMessage om = m;
	om.id.data = other;
	om.tracking_code = "";
	om.status = MAILROOM__STATUS__STATUS_QUEUED;
	om.queue = "other-queue";
	om.text_salt.data = other;
	om.reply_text = "";
	om.replied_ms = 0;
	cr_assert_eq(st_msg_put(t, &om), PB_OK);

	Mailroom__AuditRecord r = MAILROOM__AUDIT_RECORD__INIT;
	r.time_ms = now;
	r.actor = "gateway";
	r.event = MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED;
	r.message_id.data = s->id;
	r.message_id.len = 16;
	r.channel = MAILROOM__CHANNEL__CHANNEL_MAILBOX;
	r.queue = "general";
	r.due_ms = now + 15 * PB_DAY_MS;
	r.content_hash.data = texts;
	r.content_hash.len = sizeof(texts);
	append(t, &r);
	s->first_msg = r.index;
	r.content_hash.len = 0;
	s->msg_at[s->nmsg++] = r.index;

	r.event = MAILROOM__AUDIT_EVENT__AUDIT_ROUTED;
	r.actor = "router";
	append(t, &r);
	s->msg_at[s->nmsg++] = r.index;

	/* Someone else's message in between. */
	Mailroom__AuditRecord o = r;
	o.message_id.data = other;
	o.event = MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED;
	o.actor = "gateway";
	o.queue = "other-queue";
	o.content_hash.data = other_texts;
	o.content_hash.len = sizeof(other_texts);
	append(t, &o);
	o.content_hash.len = 0;
	o.event = MAILROOM__AUDIT_EVENT__AUDIT_ROUTED;
	o.actor = "router";
	append(t, &o);

	r.event = MAILROOM__AUDIT_EVENT__AUDIT_LEASED;
	r.actor = "handler:alice";
	append(t, &r);
	s->msg_at[s->nmsg++] = r.index;

	r.event = MAILROOM__AUDIT_EVENT__AUDIT_TRANSFERRED;
	r.from_queue = "general";
	r.queue = "roads";
	r.detail = "属地管理\n\x1b[31mred";
	append(t, &r);
	s->msg_at[s->nmsg++] = r.index;

	r.event = MAILROOM__AUDIT_EVENT__AUDIT_LEASED;
	r.actor = "handler:bob";
	r.from_queue = "";
	r.detail = "";
	append(t, &r);
	s->msg_at[s->nmsg++] = r.index;

	r.event = MAILROOM__AUDIT_EVENT__AUDIT_REPLIED;
	r.content_hash.data = hash;
	r.content_hash.len = sizeof(hash);
	append(t, &r);
	s->msg_at[s->nmsg++] = r.index;
	cr_assert_eq(st_txn_commit(t), PB_OK);
	s->records = r.index + 1;
	st_close(env);
}

void store_flip(const char *dir, uint64_t index, long off)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t *copy;
	size_t at;

	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 32), 0);
	cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "log", 0, &dbi), 0);
	/* Walk to the index-th entry: keys are big-endian, so order is index. */
	cr_assert_eq(mdb_cursor_open(txn, dbi, &cur), 0);
	cr_assert_eq(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
	for (uint64_t i = 0; i < index; i++)
		cr_assert_eq(mdb_cursor_get(cur, &k, &v, MDB_NEXT), 0);
	at = off < 0 ? v.mv_size - (size_t)(-off) : (size_t)off;
	cr_assert_lt(at, v.mv_size);
	copy = malloc(v.mv_size);
	cr_assert_not_null(copy);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[at] ^= 0x01;
	v.mv_data = copy;
	mdb_cursor_close(cur);
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(copy);
}

/* ---- the stand-in router ---- */

static struct {
	pthread_t thr;
	pthread_mutex_t mu;
	nng_socket sock;
	int running;
	char url[320];
	struct fake_cfg cfg;
	struct fake_seen seen;
} fk = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void note(const Mailroom__Envelope *env, const Mailroom__Request *req)
{
	struct fake_seen *s = &fk.seen;
	const Mailroom__LeaseRef *ref = NULL;

	memset(s->queue, 0, sizeof(s->queue));
	s->op = req->op_case;
	s->nreq++;
	s->auth_ok = 1;
	memcpy(s->pk, env->key.data, 32);
	s->ts_ms = req->ts_ms;
	if (req->nonce.len == sizeof(s->nonce))
		memcpy(s->nonce, req->nonce.data, sizeof(s->nonce));
	switch (req->op_case) {
	case MAILROOM__REQUEST__OP_PULL:
		snprintf(s->queue, sizeof(s->queue), "%s", req->pull->queue);
		s->wait_ms = req->pull->wait_ms;
		break;
	case MAILROOM__REQUEST__OP_REPLY:
		ref = req->reply->lease;
		snprintf(s->text, sizeof(s->text), "%s", req->reply->text);
		break;
	case MAILROOM__REQUEST__OP_TRANSFER:
		ref = req->transfer->lease;
		snprintf(s->to, sizeof(s->to), "%s", req->transfer->to_queue);
		snprintf(s->reason, sizeof(s->reason), "%s", req->transfer->reason);
		break;
	case MAILROOM__REQUEST__OP_RENEW:
		ref = req->renew;
		break;
	case MAILROOM__REQUEST__OP_RELEASE:
		ref = req->release;
		break;
	case MAILROOM__REQUEST__OP_CLOCK:
		if (req->clock->id.len == 16)
			memcpy(s->id, req->clock->id.data, 16);
		s->action = req->clock->action;
		s->working_days = req->clock->working_days;
		snprintf(s->approver, sizeof(s->approver), "%s", req->clock->approver);
		snprintf(s->reason, sizeof(s->reason), "%s", req->clock->reason);
		s->received_ms = req->clock->received_ms;
		break;
	case MAILROOM__REQUEST__OP_DISCLOSURE: {
		const Mailroom__DisclosureReq *d = req->disclosure;
		if (d->id.len == 16)
			memcpy(s->id, d->id.data, 16);
		s->token_len = 0;
		if (d->lease_token.len > 0 && d->lease_token.len <= sizeof(s->token)) {
			memcpy(s->token, d->lease_token.data, d->lease_token.len);
			s->token_len = d->lease_token.len;
		}
		s->disc_action = d->action;
		snprintf(s->text, sizeof(s->text), "%s", d->text);
		snprintf(s->outcome, sizeof(s->outcome), "%s", d->outcome);
		snprintf(s->legal_basis, sizeof(s->legal_basis), "%s", d->legal_basis);
		snprintf(s->evidence, sizeof(s->evidence), "%s", d->evidence);
		snprintf(s->approver, sizeof(s->approver), "%s", d->approver);
		s->at_ms = d->at_ms;
		s->days = d->days;
		s->has_review = d->review != NULL;
		if (d->review) {
			snprintf(s->review_kind, sizeof(s->review_kind), "%s", d->review->kind);
			snprintf(s->case_no, sizeof(s->case_no), "%s", d->review->case_no);
			snprintf(s->review_result, sizeof(s->review_result), "%s", d->review->result);
			s->filed_ms = d->review->filed_ms;
			s->decided_ms = d->review->decided_ms;
		}
		break;
	}
	default:
		break;
	}
	if (ref && ref->id.len == 16 && ref->lease_token.len <= sizeof(s->token)) {
		memcpy(s->id, ref->id.data, 16);
		memcpy(s->token, ref->lease_token.data, ref->lease_token.len);
		s->token_len = ref->lease_token.len;
	}
}

static int token_ok(const Mailroom__LeaseRef *ref)
{
	const struct fake_cfg *c = &fk.cfg;

	if (!ref || ref->id.len != 16 || memcmp(ref->id.data, c->id, 16) != 0)
		return PB_ENOTFOUND;
	if (ref->lease_token.len == 16 && (memcmp(ref->lease_token.data, c->token, 16) == 0 ||
	                                   memcmp(ref->lease_token.data, c->renewed, 16) == 0))
		return PB_OK;
	return PB_ELEASE;
}

/* Builds the answer to req into resp, using the storage the caller owns. */
static void answer(const Mailroom__Request *req, Mailroom__Response *resp, Mailroom__MessageView *v,
                   Mailroom__Lease *l, Mailroom__PullResp *pr, Mailroom__QueuesResp *qr,
                   Mailroom__QueueInfo **qi)
{
	const struct fake_cfg *c = &fk.cfg;
	const Mailroom__LeaseRef *ref = NULL;
	int rc;

	v->id.data = (uint8_t *)c->id;
	v->id.len = 16;
	v->subject = "路灯不亮";
	v->body = "幸福路的路灯坏了三天。";
	v->queue = "general";
	v->status = MAILROOM__STATUS__STATUS_LEASED;
	v->received_ms = 1764000000000;
	l->token.data = (uint8_t *)c->token;
	l->token.len = 16;
	l->expires_ms = 1764000300000;
	if (c->code) {
		resp->code = c->code;
		resp->error = (char *)(c->error ? c->error : pb_err_name(c->code));
		resp->message = "refused by the test";
		return;
	}
	switch (req->op_case) {
	case MAILROOM__REQUEST__OP_QUEUES:
		resp->result_case = MAILROOM__RESPONSE__RESULT_QUEUES;
		resp->queues = qr;
		qr->n_queues = 2;
		qr->queues = qi;
		qi[0]->name = "general";
		qi[0]->depth = 3;
		qi[0]->leased = 1;
		qi[1]->name = "roads";
		return;
	case MAILROOM__REQUEST__OP_PULL:
		if (c->empty == 2)
			return;
		resp->result_case = MAILROOM__RESPONSE__RESULT_PULL;
		resp->pull = pr;
		if (!c->empty) {
			pr->message = v;
			pr->lease = l;
		}
		return;
	case MAILROOM__REQUEST__OP_RENEW:
		ref = req->renew;
		break;
	case MAILROOM__REQUEST__OP_REPLY:
		ref = req->reply->lease;
		break;
	case MAILROOM__REQUEST__OP_RELEASE:
		ref = req->release;
		break;
	case MAILROOM__REQUEST__OP_TRANSFER:
		ref = req->transfer->lease;
		break;
	case MAILROOM__REQUEST__OP_CLOCK:
		/* No lease: only the id has to be right. */
		if (req->clock->id.len != 16 || memcmp(req->clock->id.data, c->id, 16) != 0) {
			resp->code = PB_ENOTFOUND;
			resp->error = "not_found";
			return;
		}
		v->reply_due_ms = 1766591999000;   /* 2025-12-24T23:59:59+08:00 */
		resp->result_case = MAILROOM__RESPONSE__RESULT_CLOCK;
		resp->clock = v;
		return;
	case MAILROOM__REQUEST__OP_DISCLOSURE: {
		/* Decide needs the lease; the other steps only the id. */
		static Mailroom__DisclosureView dv;
		const Mailroom__DisclosureReq *d = req->disclosure;
		Mailroom__LeaseRef lr = MAILROOM__LEASE_REF__INIT;
		if (d->id.len != 16 || memcmp(d->id.data, c->id, 16) != 0) {
			resp->code = PB_ENOTFOUND;
			resp->error = "not_found";
			return;
		}
		lr.id = d->id;
		lr.lease_token = d->lease_token;
		if (d->action == MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DECIDE && (rc = token_ok(&lr))) {
			resp->code = rc;
			resp->error = (char *)pb_err_name(rc);
			resp->message = "lease token wrong or expired";
			return;
		}
		mailroom__disclosure_view__init(&dv);
		dv.phase = MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_OPEN;
		dv.receipt_ms = 1764000000000;
		dv.receipt_confirmed = 1;
		if (d->action == MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DECIDE) {
			dv.phase = MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_DECIDED;
			dv.outcome = d->outcome;
			dv.legal_basis = d->legal_basis;
			v->status = MAILROOM__STATUS__STATUS_REPLIED;
		}
		v->channel = MAILROOM__CHANNEL__CHANNEL_DISCLOSURE;
		v->disclosure = &dv;
		resp->result_case = MAILROOM__RESPONSE__RESULT_DISCLOSURE;
		resp->disclosure = v;
		return;
	}
	default:
		resp->code = PB_EINVAL;
		return;
	}
	if ((rc = token_ok(ref))) {
		resp->code = rc;
		resp->error = (char *)pb_err_name(rc);
		resp->message = "lease token wrong or expired";
		return;
	}
	resp->result_case = (Mailroom__Response__ResultCase)req->op_case;
	switch (req->op_case) {
	case MAILROOM__REQUEST__OP_RENEW:
		l->token.data = (uint8_t *)c->renewed;
		resp->renew = l;
		break;
	case MAILROOM__REQUEST__OP_REPLY:
		v->status = MAILROOM__STATUS__STATUS_REPLIED;
		v->reply_text = req->reply->text;
		resp->reply = v;
		break;
	case MAILROOM__REQUEST__OP_RELEASE:
		v->status = MAILROOM__STATUS__STATUS_QUEUED;
		resp->release = v;
		break;
	default:
		v->status = MAILROOM__STATUS__STATUS_QUEUED;
		v->queue = req->transfer->to_queue;
		resp->transfer = v;
		break;
	}
}

static void serve_one(void *buf, size_t len)
{
	Mailroom__Response resp = MAILROOM__RESPONSE__INIT;
	Mailroom__MessageView v = MAILROOM__MESSAGE_VIEW__INIT;
	Mailroom__Lease l = MAILROOM__LEASE__INIT;
	Mailroom__PullResp pr = MAILROOM__PULL_RESP__INIT;
	Mailroom__QueuesResp qr = MAILROOM__QUEUES_RESP__INIT;
	Mailroom__QueueInfo q0 = MAILROOM__QUEUE_INFO__INIT, q1 = MAILROOM__QUEUE_INFO__INIT;
	Mailroom__QueueInfo *qi[2] = {&q0, &q1};
	Mailroom__Envelope *env;
	Mailroom__Request *req;
	uint8_t *out;
	size_t outlen;
	int opened;

	pthread_mutex_lock(&fk.mu);
	opened = pb_wire_open(buf, len, NULL, &env, &req) == PB_OK;
	if (!opened) {
		fk.seen.nreq++;
		fk.seen.auth_ok = 0;
		resp.code = PB_EAUTH;
	} else {
		note(env, req);
		answer(req, &resp, &v, &l, &pr, &qr, qi);
	}
	if (pb_wire_pack_response(&resp, &out, &outlen) == PB_OK) {
		nng_send(fk.sock, out, outlen, 0);
		free(out);
	}
	if (opened) {
		mailroom__request__free_unpacked(req, NULL);
		mailroom__envelope__free_unpacked(env, NULL);
	}
	pthread_mutex_unlock(&fk.mu);
}

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		void *buf;
		size_t len;
		int rv = nng_recv(fk.sock, &buf, &len, NNG_FLAG_ALLOC);
		if (rv == NNG_ECLOSED)
			return NULL;
		if (rv)
			continue;
		serve_one(buf, len);
		nng_free(buf, len);
	}
}

const char *fake_start(const struct fake_cfg *cfg)
{
	fk.cfg = *cfg;
	memset(&fk.seen, 0, sizeof(fk.seen));
	snprintf(fk.url, sizeof(fk.url), "ipc://%s/router.ipc", tdir);
	cr_assert_eq(nng_rep0_open(&fk.sock), 0);
	cr_assert_eq(nng_listen(fk.sock, fk.url, NULL, 0), 0);
	cr_assert_eq(pthread_create(&fk.thr, NULL, serve, NULL), 0);
	fk.running = 1;
	return fk.url;
}

void fake_stop(void)
{
	if (!fk.running)
		return;
	nng_close(fk.sock);
	pthread_join(fk.thr, NULL);
	fk.running = 0;
}

void fake_seen(struct fake_seen *out)
{
	pthread_mutex_lock(&fk.mu);
	*out = fk.seen;
	pthread_mutex_unlock(&fk.mu);
}
