/* The handler's side: pull a message under a lease, then renew, reply,
 * release or transfer it. Every step carries the lease token, so a late
 * answer after the lease expired is refused rather than applied twice. */
#include "rt_chan.h"
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_LEN 16

void rt_token_hash(const uint8_t *token, uint8_t out[ST_HASH_LEN])
{
	crypto_generichash(out, ST_HASH_LEN, token, TOKEN_LEN, NULL, 0);
}

static int answer_view(struct rt_core *core, struct rt_result *res, Mailroom__StoredMessage *m,
                       int result_case)
{
	Mailroom__MessageView *v;
	int rc = rt_view(core, res, m, 1, &v);

	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot build the answer");
	res->resp.result_case = result_case;
	switch (result_case) {
	case MAILROOM__RESPONSE__RESULT_REPLY:
		res->resp.reply = v;
		break;
	case MAILROOM__RESPONSE__RESULT_RELEASE:
		res->resp.release = v;
		break;
	default:
		res->resp.transfer = v;
		break;
	}
	return PB_OK;
}

/* Back into a queue: prio 0 puts it ahead of everything not yet tried. */
int rt_requeue(st_txn *t, Mailroom__StoredMessage *m, const char *queue, uint32_t prio,
               struct rt_result *res)
{
	struct st_qpos pos = {.prio = prio, .due_ms = m->reply_due_ms};
	int rc;

	memcpy(pos.id, m->id.data, PB_ID_LEN);
	m->status = MAILROOM__STATUS__STATUS_QUEUED;
	m->queue = (char *)queue;
	m->queue_prio = prio;
	if ((rc = st_queue_push(t, queue, &pos)))
		return rc;
	snprintf(res->touched_queue, sizeof(res->touched_queue), "%s", queue);
	return PB_OK;
}

int rt_drop_lease(st_txn *t, Mailroom__StoredMessage *m)
{
	int rc = st_lease_del(t, m->lease_expires_ms, m->id.data);

	if (rc && rc != PB_ENOTFOUND)
		return rc;
	if ((rc = rt_counter_queue(t, m->queue, "leased", -1)))
		return rc;
	m->lease_token.len = 0;
	m->lease_token.data = NULL;
	m->leased_by = (char *)"";
	m->lease_expires_ms = 0;
	return PB_OK;
}

int rt_op_pull(struct rt_core *core, st_txn *t, const struct rt_principal *who,
               const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__PullReq *p = req->pull;
	const struct rt_chan *ch;
	Mailroom__StoredMessage *m;
	Mailroom__AuditRecord rec;
	struct st_qpos pos;
	uint8_t *token, th[ST_HASH_LEN];
	char actor[PB_NAME_MAX + 16];
	int rc;

	if (!p->queue || !pb_handler_may(who->handler, p->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden", "this handler may not use that queue");
	rc = st_queue_first(t, p->queue, &pos);
	if (rc == PB_ENOTFOUND) {
		PullResp_empty:;
		Mailroom__PullResp *pr = rt_own(res, malloc(sizeof(*pr)), RT_OWN_FREE);
		if (!pr)
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		mailroom__pull_resp__init(pr);
		res->resp.result_case = MAILROOM__RESPONSE__RESULT_PULL;
		res->resp.pull = pr;
		res->park = p->wait_ms > 0;
		return PB_OK;
	}
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot read the queue");
	if ((rc = st_queue_remove(t, p->queue, &pos)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot take from the queue");
	if ((rc = rt_msg_load(t, pos.id, PB_ID_LEN, res, &m)) == PB_ENOTFOUND)
		goto PullResp_empty;   /* an orphan entry: gone now, nothing to lease */
	if (rc)
		return rc;
	ch = rt_chan_of(m->channel);

	token = rt_own(res, malloc(TOKEN_LEN), RT_OWN_FREE);
	if (!token)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	randombytes_buf(token, TOKEN_LEN);
	m->status = MAILROOM__STATUS__STATUS_LEASED;
	m->lease_token.data = token;
	m->lease_token.len = TOKEN_LEN;
	m->leased_by = (char *)who->handler->name;
	m->lease_expires_ms = now_ms + (int64_t)core->conf->lease_seconds * 1000;
	/* A handler taking the message is its acknowledgement (签收), unless
	 * its channel signs explicitly. */
	if ((!ch->pull_keeps_ack && (rc = rt_clock_stop(t, m, ST_CLOCK_ACK, now_ms))) ||
	    (rc = st_msg_put(t, m)) || (rc = st_lease_put(t, m->lease_expires_ms, pos.id)) ||
	    (rc = rt_counter_queue(t, p->queue, "leased", 1)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot record the lease");

	rt_token_hash(token, th);
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_LEASED;
	rec.lease_token_hash.data = th;
	rec.lease_token_hash.len = sizeof(th);
	if ((rc = rt_audit(core, t, res, &rec, m, rt_actor(who, actor, sizeof(actor)), now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");

	Mailroom__PullResp *pr = rt_own(res, malloc(sizeof(*pr)), RT_OWN_FREE);
	Mailroom__Lease *l = rt_own(res, malloc(sizeof(*l)), RT_OWN_FREE);
	if (!pr || !l)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__pull_resp__init(pr);
	mailroom__lease__init(l);
	l->token = m->lease_token;
	l->expires_ms = m->lease_expires_ms;
	pr->lease = l;
	if ((rc = rt_view(core, res, m, 1, &pr->message)) ||
	    (ch->pulled && (rc = ch->pulled(t, res, pr->message))))
		return rt_fail(res, rc, pb_err_name(rc), "cannot build the answer");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_PULL;
	res->resp.pull = pr;
	return PB_OK;
}

int rt_answer(st_txn *t, Mailroom__StoredMessage *m, const char *text, const char *by,
              int64_t now_ms)
{
	int rc;

	if (m->status == MAILROOM__STATUS__STATUS_LEASED) {
		if ((rc = rt_drop_lease(t, m)))
			return rc;
	} else if (m->status == MAILROOM__STATUS__STATUS_QUEUED) {
		/* Only imports answer straight from the queue. */
		struct st_qpos pos = {.prio = m->queue_prio, .due_ms = m->reply_due_ms};
		memcpy(pos.id, m->id.data, PB_ID_LEN);
		if ((rc = st_queue_remove(t, m->queue, &pos)))
			return rc;
	}
	m->status = MAILROOM__STATUS__STATUS_REPLIED;
	m->reply_text = (char *)text;
	m->replied_ms = now_ms;
	m->replied_by = (char *)by;
	/* Answered: the clocks stop, so they leave the deadline index. */
	if ((rc = rt_clock_stop(t, m, ST_CLOCK_ACK, now_ms)))
		return rc;
	return rt_clock_stop(t, m, ST_CLOCK_REPLY, now_ms);
}

int rt_lease_holds(const struct rt_principal *who, const Mailroom__StoredMessage *m,
                   const ProtobufCBinaryData *token, int64_t now_ms, struct rt_result *res)
{
	const struct rt_chan *ch = rt_chan_of(m->channel);
	int rc;

	if (ch->closed && (rc = ch->closed(m, res)))
		return rc;
	if (m->status == MAILROOM__STATUS__STATUS_REPLIED || m->status == MAILROOM__STATUS__STATUS_CLOSED)
		return rt_fail(res, PB_ESTATE, "already_answered", "the message is already answered");
	if (m->status != MAILROOM__STATUS__STATUS_LEASED || token->len != TOKEN_LEN ||
	    m->lease_token.len != TOKEN_LEN || strcmp(m->leased_by, who->handler->name) != 0 ||
	    sodium_memcmp(m->lease_token.data, token->data, TOKEN_LEN) != 0)
		return rt_fail(res, PB_ELEASE, "lease_invalid", "no live lease with that token");
	if (m->lease_expires_ms <= now_ms)
		return rt_fail(res, PB_ELEASE, "lease_expired", "the lease has expired");
	return PB_OK;
}

/* Finds the leased message and checks that this handler holds a live
 * lease on it with this token. */
int rt_lease_check(st_txn *t, const struct rt_principal *who, const Mailroom__LeaseRef *ref,
                   int64_t now_ms, struct rt_result *res, Mailroom__StoredMessage **mp)
{
	Mailroom__StoredMessage *m;
	int rc;

	*mp = NULL;   /* set on every path, as rt_msg_load does */
	if (!ref)
		return rt_fail(res, PB_EINVAL, "invalid_request", "lease reference required");
	if ((rc = rt_msg_load(t, ref->id.data, ref->id.len, res, &m)))
		return rc;
	if (!pb_handler_may(who->handler, m->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden", "this handler may not use that queue");
	if ((rc = rt_lease_holds(who, m, &ref->lease_token, now_ms, res)))
		return rc;
	*mp = m;
	return PB_OK;
}

int rt_op_renew(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	Mailroom__StoredMessage *m;
	Mailroom__AuditRecord rec;
	uint8_t th[ST_HASH_LEN];
	char actor[PB_NAME_MAX + 16];
	int rc;

	if ((rc = rt_lease_check(t, who, req->renew, now_ms, res, &m)))
		return rc;
	if ((rc = st_lease_del(t, m->lease_expires_ms, m->id.data)) && rc != PB_ENOTFOUND)
		return rt_fail(res, rc, pb_err_name(rc), "cannot renew");
	m->lease_expires_ms = now_ms + (int64_t)core->conf->lease_seconds * 1000;
	if ((rc = st_lease_put(t, m->lease_expires_ms, m->id.data)) || (rc = st_msg_put(t, m)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot renew");
	rt_token_hash(m->lease_token.data, th);
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_LEASE_RENEWED;
	rec.lease_token_hash.data = th;
	rec.lease_token_hash.len = sizeof(th);
	if ((rc = rt_audit(core, t, res, &rec, m, rt_actor(who, actor, sizeof(actor)), now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	Mailroom__Lease *l = rt_own(res, malloc(sizeof(*l)), RT_OWN_FREE);
	if (!l)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__lease__init(l);
	l->token = m->lease_token;
	l->expires_ms = m->lease_expires_ms;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_RENEW;
	res->resp.renew = l;
	return PB_OK;
}

static int reply_files(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                       Mailroom__StoredMessage *m, const char *text, char **files, size_t nfiles,
                       int64_t now_ms, struct rt_result *res);

int rt_op_reply(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__ReplyReq *r = req->reply;
	const struct rt_chan *ch;
	Mailroom__StoredMessage *m;
	int rc;

	if (!rt_text_ok(r->text, 1, 10000))
		return rt_fail(res, PB_EINVAL, "invalid_field", "text: 1-10000 characters");
	if ((rc = rt_lease_check(t, who, r->lease, now_ms, res, &m)))
		return rc;
	/* The lead's answer closes a co-handled case (rt_assist.c). */
	if ((rc = rt_assist_gate(core, t, who, m, r->despite_pending, now_ms, res)))
		return rc;
	ch = rt_chan_of(m->channel);
	/* Files go with the plain channels' reply; a 12345 finish or a
	 * disclosure decision answers by its own steps. */
	if (r->n_attachments && ch->reply)
		return rt_fail(res, PB_EINVAL, "attachments_not_here",
		               "files go with a reply on the mailbox, consultation and complaint "
		               "channels only");
	if (ch->reply)
		return ch->reply(core, t, who, m, r->text, now_ms, res);
	return reply_files(core, t, who, m, r->text, r->attachments, r->n_attachments, now_ms, res);
}

int rt_reply_plain(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                   Mailroom__StoredMessage *m, const char *text, int64_t now_ms,
                   struct rt_result *res)
{
	return reply_files(core, t, who, m, text, NULL, 0, now_ms, res);
}

static int reply_files(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                       Mailroom__StoredMessage *m, const char *text, char **files, size_t nfiles,
                       int64_t now_ms, struct rt_result *res)
{
	Mailroom__AuditRecord rec;
	ProtobufCBinaryData *commits = NULL;
	uint8_t chash[ST_HASH_LEN];
	char actor[PB_NAME_MAX + 16];
	int rc;

	if ((rc = rt_answer(t, m, text, who->handler->name, now_ms)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot record the answer");
	if ((rc = rt_attach_bind_reply(core, t, files, nfiles, m, res, &commits)))
		return rc;
	if ((rc = st_msg_put(t, m)) || (rc = rt_invite_schedule(core, t, m, now_ms)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot store the reply");
	st_content_hash(m->text_salt.data, text, strlen(text), chash);
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_REPLIED;
	rec.content_hash.data = chash;
	rec.content_hash.len = sizeof(chash);
	rec.attachment_commits = commits;
	rec.n_attachment_commits = nfiles;
	if ((rc = rt_audit(core, t, res, &rec, m, rt_actor(who, actor, sizeof(actor)), now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	return answer_view(core, res, m, MAILROOM__RESPONSE__RESULT_REPLY);
}

int rt_op_release(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                  const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	Mailroom__StoredMessage *m;
	Mailroom__AuditRecord rec;
	char actor[PB_NAME_MAX + 16];
	int rc;

	if ((rc = rt_lease_check(t, who, req->release, now_ms, res, &m)))
		return rc;
	if ((rc = rt_drop_lease(t, m)) || (rc = rt_requeue(t, m, m->queue, 0, res)) || (rc = st_msg_put(t, m)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot release");
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_RELEASED;
	if ((rc = rt_audit(core, t, res, &rec, m, rt_actor(who, actor, sizeof(actor)), now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	return answer_view(core, res, m, MAILROOM__RESPONSE__RESULT_RELEASE);
}

int rt_op_transfer(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                   const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__TransferReq *x = req->transfer;
	Mailroom__StoredMessage *m;
	Mailroom__AuditRecord rec;
	char actor[PB_NAME_MAX + 16];
	int rc;

	if (!x->to_queue || !pb_conf_queue_known(core->conf, x->to_queue))
		return rt_fail(res, PB_EINVAL, "unknown_queue", "no such queue");
	if (!rt_text_ok(x->reason, 1, 500))
		return rt_fail(res, PB_EINVAL, "invalid_field", "reason: 1-500 characters");
	if ((rc = rt_lease_check(t, who, x->lease, now_ms, res, &m)))
		return rc;
	if (strcmp(m->queue, x->to_queue) == 0)
		return rt_fail(res, PB_EINVAL, "same_queue", "the message is already in that queue");
	char *from = m->queue;
	if ((rc = rt_drop_lease(t, m)) || (rc = rt_requeue(t, m, x->to_queue, 1, res)) || (rc = st_msg_put(t, m)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot transfer");
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_TRANSFERRED;
	rec.from_queue = from;
	rec.queue = x->to_queue;
	rec.detail = x->reason;
	if ((rc = rt_audit(core, t, res, &rec, m, rt_actor(who, actor, sizeof(actor)), now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	return answer_view(core, res, m, MAILROOM__RESPONSE__RESULT_TRANSFER);
}

int rt_expire_one(struct rt_core *core, st_txn *t, int64_t now_ms, struct rt_result *res)
{
	Mailroom__StoredMessage *m;
	Mailroom__AuditRecord rec;
	uint8_t id[PB_ID_LEN];
	int64_t exp;
	int rc;

	if ((rc = st_lease_first_expired(t, now_ms, &exp, id)))
		return rc;
	if ((rc = rt_msg_load(t, id, sizeof(id), res, &m)) == PB_ENOTFOUND ||
	    (rc == PB_OK && (m->status != MAILROOM__STATUS__STATUS_LEASED || m->lease_expires_ms != exp))) {
		/* A stale index entry: the lease already ended another way. */
		rt_result_clear(res);
		return st_lease_del(t, exp, id);
	}
	if (rc)
		return rc;
	if ((rc = rt_drop_lease(t, m)) || (rc = rt_requeue(t, m, m->queue, 0, res)) || (rc = st_msg_put(t, m)))
		return rc;
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_LEASE_EXPIRED;
	return rt_audit(core, t, res, &rec, m, "router", now_ms, NULL);
}
