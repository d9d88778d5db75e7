/* Petitions transferred from the petition system (阳光信访), 信访工作条例
 * (docs/petition-transfer.md, docs/deadlines.md section 5). Calendar days.
 *
 * Intake is the gateway's signed push, one SubmitReq per transfer,
 * idempotent on the petition system's number: the number is indexed as
 * `petition:<no>` with the message, and a hash of the transfer is kept
 * with it, so a repeat answers the first message and a changed transfer
 * under the same number is refused (petition_conflict).
 *
 * Clocks: the acknowledgement clock is the acceptance notice (受理告知,
 * 15 days from receipt); the reply clock runs 60 days, first from receipt
 * and, once accepted, from the acceptance. An extension adds at most
 * [policy] petition.extend_max days, once. A review (复查) or re-review
 * (复核) asked within 30 days of the answer reopens the petition with a
 * reply clock of [policy] petition.review days from the request.
 *
 * Steps and who may take them (each is one record):
 *   ACCEPT, NOT_ACCEPT  a handler of the queue, or the lease holder while leased
 *   EXTEND, REVIEW, REREVIEW  a handler of the queue
 *   ANSWER              the lease holder */
#include "rt_chan.h"
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX 96
#define ASK_WITHIN_DAYS 30   /* 复查 / 复核: asked within 30 days of the answer */
#define DAY_MS (86400LL * 1000)

static int fail_rc(struct rt_result *res, int rc, const char *what)
{
	return rt_fail(res, rc, pb_err_name(rc), what);
}

/* The petition system's numbers: 1-64 of [A-Za-z0-9_.-]. */
static int number_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

static int kind_ok(const char *k)
{
	static const char *const kinds[] = {"complaint", "request", "suggestion", "report", "other"};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (k && strcmp(k, kinds[i]) == 0)
			return 1;
	return 0;
}

/* What identifies the content of a transfer: the request as sent, less
 * the per-delivery fields. */
static int transfer_hash(const Mailroom__SubmitReq *s, uint8_t out[ST_HASH_LEN])
{
	Mailroom__SubmitReq c = *s;
	uint8_t *buf;
	size_t len;

	c.access_key_hash.len = 0;
	c.idem_key.len = 0;
	c.idem_body.len = 0;
	len = mailroom__submit_req__get_packed_size(&c);
	if (!(buf = malloc(len ? len : 1)))
		return PB_ENOMEM;
	mailroom__submit_req__pack(&c, buf);
	crypto_generichash(out, ST_HASH_LEN, buf, len, (const uint8_t *)"mailroom/petition/v1", 20);
	free(buf);
	return PB_OK;
}

static int petition_submit(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                           const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__SubmitReq *s = req->submit;
	const Mailroom__PetitionTransfer *p = s->petition;
	Mailroom__StoredMessage *m;
	Mailroom__PetitionState *st;
	uint8_t hash[ST_HASH_LEN], id[PB_ID_LEN];
	char ref[REF_MAX], actor[PB_NAME_MAX + 16];
	int rc;

	if (!p || s->order || s->disclosure)
		return rt_fail(res, PB_EINVAL, "invalid_request", "a petition transfer is required");
	if (!number_ok(p->petition_no))
		return rt_fail(res, PB_EINVAL, "invalid_field", "petition_no: 1-64 of [A-Za-z0-9_.-]");
	if (!rt_text_ok(p->forwarded_by, 1, 100))
		return rt_fail(res, PB_EINVAL, "invalid_field", "forwarded_by: 1-100 characters");
	if (!kind_ok(p->kind))
		return rt_fail(res, PB_EINVAL, "invalid_field",
		               "kind: complaint, request, suggestion, report or other");
	if (p->region && !rt_text_ok(p->region, 0, 100))
		return rt_fail(res, PB_EINVAL, "invalid_field", "region: up to 100 characters");
	if (p->forwarded_ms <= 0 || p->forwarded_ms > now_ms + (int64_t)core->conf->request_skew_seconds * 1000)
		return rt_fail(res, PB_EINVAL, "invalid_field", "forwarded_at: a time not in the future");
	if ((rc = rt_check_texts(s, res)))
		return rc;
	if ((rc = transfer_hash(s, hash)))
		return fail_rc(res, rc, "cannot hash the transfer");
	snprintf(ref, sizeof(ref), "petition:%s", p->petition_no);

	/* A repeat of the number: the same transfer is answered again, a
	 * changed one refused; nothing is written either way. */
	rc = st_extref_get(t, ref, id);
	if (rc == PB_OK) {
		if ((rc = rt_msg_load(t, id, sizeof(id), res, &m)))
			return rc;
		if (!m->petition || m->petition->transfer_hash.len != sizeof(hash) ||
		    sodium_memcmp(m->petition->transfer_hash.data, hash, sizeof(hash)) != 0)
			return rt_fail(res, PB_ESTATE, "petition_conflict",
			               "this petition number was received with other content");
		return rt_submit_answer(core, t, res, m, 1);
	}
	if (rc != PB_ENOTFOUND)
		return fail_rc(res, rc, "cannot read the petition index");

	if ((rc = rt_msg_create_ex(core, t, rt_actor(who, actor, sizeof(actor)), s, ref, now_ms, NULL,
	                           res, &m)))
		return rc;
	st = rt_own(res, calloc(1, sizeof(*st) + sizeof(hash)), RT_OWN_FREE);
	if (!st)
		return fail_rc(res, PB_ENOMEM, "out of memory");
	mailroom__petition_state__init(st);
	st->petition_no = p->petition_no;
	st->forwarded_by = p->forwarded_by;
	st->forwarded_ms = p->forwarded_ms;
	st->kind = p->kind;
	st->region = p->region;
	memcpy(st + 1, hash, sizeof(hash));
	st->transfer_hash.data = (uint8_t *)(st + 1);
	st->transfer_hash.len = sizeof(hash);
	st->stage = MAILROOM__PETITION_STAGE__PETITION_STAGE_RECEIVED;
	m->petition = st;
	if ((rc = st_msg_put(t, m)))
		return fail_rc(res, rc, "cannot store the petition");
	return rt_submit_answer(core, t, res, m, 0);
}

/* ---------------------------------------------------------- hooks -- */

static int petition_view(struct rt_core *core, struct rt_result *res,
                         const Mailroom__StoredMessage *m, int handler, Mailroom__MessageView *v)
{
	(void)core;
	(void)res;
	(void)handler;
	v->petition = m->petition;   /* no personal data in it */
	return PB_OK;
}

static int use_steps(const Mailroom__StoredMessage *m, struct rt_result *res)
{
	(void)m;
	return rt_fail(res, PB_ESTATE, "use_petition_steps",
	               "a petition's clocks and answers move only with its steps (mailroom-handler petition)");
}

static int petition_reply(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                          Mailroom__StoredMessage *m, const char *text, int64_t now_ms,
                          struct rt_result *res)
{
	(void)core;
	(void)t;
	(void)who;
	(void)text;
	(void)now_ms;
	return use_steps(m, res);
}

static int petition_closed(const Mailroom__StoredMessage *m, struct rt_result *res)
{
	if (m->petition && m->petition->stage == MAILROOM__PETITION_STAGE__PETITION_STAGE_NOT_ACCEPTED)
		return rt_fail(res, PB_ESTATE, "not_accepted", "this petition was not accepted (不予受理)");
	return PB_OK;
}

/* Petitions count calendar days; the acceptance notice is explicit. */
const struct rt_chan rt_chan_petition_row = {
	.name = "petition",
	.submit = petition_submit,
	.view = petition_view,
	.pull_keeps_ack = 1,
	.closed = petition_closed,
	.reply = petition_reply,
	.clock = use_steps,
};

/* ---------------------------------------------------------- steps -- */

struct pstep {
	struct rt_core *core;
	st_txn *t;
	const struct rt_principal *who;
	const Mailroom__PetitionReq *r;
	Mailroom__StoredMessage *m;
	Mailroom__PetitionState *p;
	struct rt_result *res;
	int64_t now, at;
	Mailroom__AuditRecord rec;
	uint8_t chash[ST_HASH_LEN];
};

static int stage_is(struct pstep *s, int want, const char *code, const char *msg)
{
	if ((int)s->p->stage != want)
		return rt_fail(s->res, PB_ESTATE, code, msg);
	return PB_OK;
}

/* Leased: only its holder; queued: the queue right is enough. */
static int holder_if_leased(struct pstep *s)
{
	if (s->m->status != MAILROOM__STATUS__STATUS_LEASED)
		return PB_OK;
	return rt_lease_holds(s->who, s->m, &s->r->lease_token, s->now, s->res);
}

static void commit_text(struct pstep *s, const char *text)
{
	st_content_hash(s->m->text_salt.data, text, strlen(text), s->chash);
	s->rec.content_hash.data = s->chash;
	s->rec.content_hash.len = sizeof(s->chash);
}

static int accept(struct pstep *s)
{
	Mailroom__Clock *c = rt_clock_find(s->m, ST_CLOCK_REPLY);
	const char *why;
	int64_t old;
	int rc;

	if ((rc = stage_is(s, MAILROOM__PETITION_STAGE__PETITION_STAGE_RECEIVED, "already_decided",
	                   "the acceptance notice was given already")) ||
	    (rc = holder_if_leased(s)))
		return rc;
	if (!c)
		return rt_fail(s->res, PB_ESTATE, "no_clock", "the petition has no reply clock");
	old = c->due_ms;
	/* Handling takes 60 days from the acceptance. */
	if ((rc = rt_clock_stop(s->t, s->m, ST_CLOCK_ACK, s->now)) ||
	    (rc = rt_clock_move(s->core, s->t, s->m, c, MAILROOM__CLOCK_ACTION__CLOCK_RESTART, s->now,
	                        0, &why)) ||
	    (rc = rt_clock_settle(s->core, s->t, s->m, c, old)))
		return fail_rc(s->res, rc, "cannot start the handling clock");
	s->p->stage = MAILROOM__PETITION_STAGE__PETITION_STAGE_ACCEPTED;
	s->p->accepted_ms = s->now;
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_PETITION_ACCEPTED;
	s->rec.clock = c;
	s->rec.old_due_ms = old;
	return PB_OK;
}

static int not_accept(struct pstep *s)
{
	int rc;

	if (!rt_text_ok(s->r->text, 1, 2000))
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "text: 1-2000 characters (the notice)");
	if ((rc = stage_is(s, MAILROOM__PETITION_STAGE__PETITION_STAGE_RECEIVED, "already_decided",
	                   "the acceptance notice was given already")) ||
	    (rc = holder_if_leased(s)))
		return rc;
	if ((rc = rt_answer(s->t, s->m, s->r->text, s->who->handler->name, s->now)))
		return fail_rc(s->res, rc, "cannot close the petition");
	s->p->stage = MAILROOM__PETITION_STAGE__PETITION_STAGE_NOT_ACCEPTED;
	s->p->answered_ms = s->now;
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_PETITION_NOT_ACCEPTED;
	commit_text(s, s->r->text);
	return PB_OK;
}

static int extend(struct pstep *s)
{
	const struct pb_policy *pol = &s->core->conf->policy;
	Mailroom__Clock *c = rt_clock_find(s->m, ST_CLOCK_REPLY);
	const char *why;
	int64_t old;
	int rc, ch = MAILROOM__CHANNEL__CHANNEL_PETITION;

	if ((rc = stage_is(s, MAILROOM__PETITION_STAGE__PETITION_STAGE_ACCEPTED, "not_accepted_yet",
	                   "only an accepted petition in handling is extended")))
		return rc;
	if (!c)
		return rt_fail(s->res, PB_ESTATE, "no_clock", "the petition has no reply clock");
	if (s->r->days < 1 || s->r->days > pol->extend_max[ch])
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "days: 1 to [policy] petition.extend_max (30)");
	if (!rt_text_ok(s->r->approver, 1, 100) || !rt_text_ok(s->r->text, 1, 500))
		return rt_fail(s->res, PB_EINVAL, "invalid_field",
		               "approver: 1-100 characters; text (the reason): 1-500");
	if ((int)s->p->extensions + 1 > pol->extend_times[ch] ||
	    c->extended_days + s->r->days > pol->extend_max[ch])
		return rt_fail(s->res, PB_ELIMIT, "extension_cap",
		               "a petition is extended once, by at most 30 days");
	old = c->due_ms;
	if ((rc = rt_clock_move(s->core, s->t, s->m, c, MAILROOM__CLOCK_ACTION__CLOCK_EXTEND, s->now,
	                        s->r->days, &why)) ||
	    (rc = rt_clock_settle(s->core, s->t, s->m, c, old)))
		return fail_rc(s->res, rc, "cannot extend the clock");
	s->p->extensions++;
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_PETITION_EXTENDED;
	s->rec.clock = c;
	s->rec.old_due_ms = old;
	s->rec.detail = s->r->text;
	s->rec.approver = s->r->approver;
	return PB_OK;
}

/* The stage an answer or a request moves from, and to. */
static const struct {
	int from, to;
	const char *what;
} answers[] = {
	{MAILROOM__PETITION_STAGE__PETITION_STAGE_ACCEPTED, MAILROOM__PETITION_STAGE__PETITION_STAGE_ANSWERED, "answer"},
	{MAILROOM__PETITION_STAGE__PETITION_STAGE_REVIEW, MAILROOM__PETITION_STAGE__PETITION_STAGE_REVIEW_ANSWERED, "review"},
	{MAILROOM__PETITION_STAGE__PETITION_STAGE_REREVIEW, MAILROOM__PETITION_STAGE__PETITION_STAGE_REREVIEW_ANSWERED, "rereview"},
};

static int answer(struct pstep *s)
{
	size_t i;
	int rc;

	if (!rt_text_ok(s->r->text, 1, 10000))
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "text: 1-10000 characters");
	for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
		if ((int)s->p->stage == answers[i].from)
			break;
	if (i == sizeof(answers) / sizeof(answers[0]))
		return rt_fail(s->res, PB_ESTATE, "not_in_handling",
		               "only an accepted petition, or a review under way, is answered");
	if ((rc = rt_lease_holds(s->who, s->m, &s->r->lease_token, s->now, s->res)))
		return rc;
	if ((rc = rt_answer(s->t, s->m, s->r->text, s->who->handler->name, s->now)))
		return fail_rc(s->res, rc, "cannot store the answer");
	s->p->stage = answers[i].to;
	s->p->answered_ms = s->now;
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_PETITION_ANSWERED;
	s->rec.detail = (char *)answers[i].what;
	commit_text(s, s->r->text);
	return PB_OK;
}

/* 复查 after the answer, 复核 after the review's answer: asked within 30
 * days of it, it reopens the petition with its own clock. */
static int review(struct pstep *s, int rereview)
{
	int from = rereview ? MAILROOM__PETITION_STAGE__PETITION_STAGE_REVIEW_ANSWERED
	                    : MAILROOM__PETITION_STAGE__PETITION_STAGE_ANSWERED;
	int64_t skew = (int64_t)s->core->conf->request_skew_seconds * 1000;
	Mailroom__Clock *c = rt_clock_find(s->m, ST_CLOCK_REPLY);
	int64_t old;
	int rc;

	if ((rc = stage_is(s, from, rereview ? "no_review_answer" : "not_answered",
	                   rereview ? "a re-review (复核) follows the review's answer"
	                            : "a review (复查) follows the answer")))
		return rc;
	if (!c)
		return rt_fail(s->res, PB_ESTATE, "no_clock", "the petition has no reply clock");
	if (s->at < s->p->answered_ms || s->at > s->now + skew)
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "at: between the answer and now");
	if (pb_day_of_ms(s->at) > pb_day_of_ms(s->p->answered_ms) + ASK_WITHIN_DAYS)
		return rt_fail(s->res, PB_ESTATE, "review_window_passed",
		               "a review is asked within 30 days of the answer");
	old = c->due_ms;
	/* A new clock from the request, stopped clocks restarted. */
	c->stopped = 0;
	c->stopped_ms = 0;
	c->started_ms = s->at;
	c->calendar_days = s->core->conf->policy.petition_review.days;
	c->working_days = 0;
	c->hours = 0;
	c->extended_days = 0;
	c->extensions = 0;
	c->paused_days = 0;
	c->paused_ms = 0;
	c->pause_depth = 0;
	c->paused_since_ms = 0;
	c->escalation = 0;
	c->next_fire_ms = 0;
	rt_clock_compute(s->core, c);
	rt_clock_mirror(s->m);
	if ((rc = rt_requeue(s->t, s->m, s->m->queue, 1, s->res)) ||
	    (rc = rt_clock_settle(s->core, s->t, s->m, c, s->m->reply_due_ms)))
		return fail_rc(s->res, rc, "cannot reopen the petition");
	s->p->stage = rereview ? MAILROOM__PETITION_STAGE__PETITION_STAGE_REREVIEW
	                       : MAILROOM__PETITION_STAGE__PETITION_STAGE_REVIEW;
	s->p->review_ms = s->at;
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_PETITION_REVIEW;
	s->rec.detail = rereview ? "rereview" : "review";
	s->rec.clock = c;
	s->rec.old_due_ms = old;
	if (s->at != s->now)
		s->rec.effective_ms = s->at;
	return PB_OK;
}

int rt_op_petition(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                   const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	struct pstep s = {.core = core, .t = t, .who = who, .r = req->petition, .res = res,
	                  .now = now_ms};
	char actor[PB_NAME_MAX + 16];
	int rc;

	if ((rc = rt_msg_load(t, s.r->id.data, s.r->id.len, res, &s.m)))
		return rc;
	if (!pb_handler_may(who->handler, s.m->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden", "this handler may not use that queue");
	if (s.m->channel != MAILROOM__CHANNEL__CHANNEL_PETITION || !s.m->petition)
		return rt_fail(res, PB_ESTATE, "not_petition", "not a transferred petition");
	if (s.m->text_salt.len != ST_SALT_LEN)
		return rt_fail(res, PB_ECORRUPT, "corrupt", "the petition has no salt");
	s.p = s.m->petition;
	s.at = s.r->at_ms ? s.r->at_ms : now_ms;
	mailroom__audit_record__init(&s.rec);
	switch (s.r->action) {
	case MAILROOM__PETITION_ACTION__PETITION_ACCEPT: rc = accept(&s); break;
	case MAILROOM__PETITION_ACTION__PETITION_NOT_ACCEPT: rc = not_accept(&s); break;
	case MAILROOM__PETITION_ACTION__PETITION_EXTEND: rc = extend(&s); break;
	case MAILROOM__PETITION_ACTION__PETITION_ANSWER: rc = answer(&s); break;
	case MAILROOM__PETITION_ACTION__PETITION_REVIEW: rc = review(&s, 0); break;
	case MAILROOM__PETITION_ACTION__PETITION_REREVIEW: rc = review(&s, 1); break;
	default: return rt_fail(res, PB_EINVAL, "invalid_field", "unknown petition action");
	}
	if (rc)
		return rc;
	if ((rc = st_msg_put(t, s.m)))
		return fail_rc(res, rc, "cannot store the petition");
	if ((rc = rt_audit(core, t, res, &s.rec, s.m, rt_actor(who, actor, sizeof(actor)), now_ms,
	                   NULL)))
		return fail_rc(res, rc, "cannot append to the log");
	if ((rc = rt_view(core, res, s.m, 1, &res->resp.petition)))
		return fail_rc(res, rc, "cannot build the answer");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_PETITION;
	return PB_OK;
}
