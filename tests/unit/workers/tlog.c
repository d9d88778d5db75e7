/* Stores with legal message histories, written record by record as the
 * router writes them, and checkpoints by its code path. */
#include "tlog.h"
#include "helpers.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"
#include "sn.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HOUR_MS (3600LL * 1000)

/* ---- the store ---- */

void tl_create(struct tl_store *s, const char *sub)
{
	struct pb_conf *c = calloc(1, sizeof(*c));
	char err[512] = "";
	int created;

	cr_assert_not_null(c);
	memset(s, 0, sizeof(*s));
	pb_conf_defaults(c);
	snprintf(s->base, sizeof(s->base), "%.200s%s%.40s", tdir, sub ? "/" : "", sub ? sub : "");
	mkdir(s->base, 0700);
	snprintf(s->dir, sizeof(s->dir), "%s/store", s->base);
	snprintf(s->pubkey, sizeof(s->pubkey), "%s/keys/store.pub", s->base);
	snprintf(s->keyfile, sizeof(s->keyfile), "%s/keys/store.key", s->base);
	snprintf(c->keys_dir, sizeof(c->keys_dir), "%s/keys", s->base);
	snprintf(c->signing_key, sizeof(c->signing_key), "%s/keys/store.key", s->base);
	snprintf(c->data_key, sizeof(c->data_key), "%s/keys/data.key", s->base);
	snprintf(c->log_origin, sizeof(c->log_origin), TL_ORIGIN);
	cr_assert_eq(pb_mkdirs(c->keys_dir), PB_OK);
	cr_assert_eq(st_keys_load_or_create(c, &s->keys, &created), PB_OK);
	free(c);
	cr_assert_eq(st_open(s->dir, 64, 0, &s->keys, &s->env), PB_OK);
	cr_assert_eq(cal_load_dir(TL_CALENDARS, &s->cal, err, sizeof(err)), PB_OK, "%s", err);
	cal_version(s->cal, s->calv);
	/* Monday 2025-03-03, 09:00 in Beijing. */
	s->now = pb_day_start_ms(pb_days_from_civil(2025, 3, 3)) + 9 * HOUR_MS;
}

void tl_reopen(struct tl_store *s, const char *dir)
{
	char copy[sizeof(s->dir)];

	if (s->env)
		st_close(s->env);
	snprintf(copy, sizeof(copy), "%s", dir);
	memcpy(s->dir, copy, sizeof(copy));
	cr_assert_eq(st_open(s->dir, 64, 0, &s->keys, &s->env), PB_OK, "%s", s->dir);
}

void tl_close(struct tl_store *s)
{
	cr_assert_null(s->t, "a batch is still open");
	if (s->env)
		st_close(s->env);
	s->env = NULL;
	cal_free(s->cal);
	s->cal = NULL;
	sodium_memzero(&s->keys, sizeof(s->keys));
	sodium_memzero(&s->old, sizeof(s->old));
}

void tl_close_env(struct tl_store *s)
{
	cr_assert_null(s->t, "a batch is still open");
	if (s->env)
		st_close(s->env);
	s->env = NULL;
}

void tl_begin(struct tl_store *s)
{
	cr_assert_null(s->t);
	cr_assert_eq(st_txn_begin(s->env, NULL, 0, &s->t), PB_OK);
}

uint64_t tl_rotate(struct tl_store *s, int dual)
{
	struct pb_conf *c = calloc(1, sizeof(*c));
	struct st_receipt rr;
	char newkey[310];
	uint8_t pk[32];
	int created;
	st_txn *t;

	cr_assert_not_null(c);
	cr_assert_null(s->t, "a batch is still open");
	pb_conf_defaults(c);
	snprintf(newkey, sizeof(newkey), "%.260s/keys/store-%llu.key", s->base,
	         (unsigned long long)tl_size(s));
	cr_assert_eq(st_signing_key_create(newkey, TL_ORIGIN, pk), PB_OK);
	snprintf(c->keys_dir, sizeof(c->keys_dir), "%s/keys", s->base);
	snprintf(c->signing_key, sizeof(c->signing_key), "%s", newkey);
	snprintf(c->previous_signing_key, sizeof(c->previous_signing_key), "%s", s->keyfile);
	snprintf(c->data_key, sizeof(c->data_key), "%s/keys/data.key", s->base);
	snprintf(c->log_origin, sizeof(c->log_origin), TL_ORIGIN);
	s->old = s->keys;
	cr_assert_eq(st_keys_load_or_create(c, &s->keys, &created), PB_OK);
	free(c);
	cr_assert_arr_eq(s->keys.sign_pk, pk, 32);
	snprintf(s->keyfile, sizeof(s->keyfile), "%s", newkey);
	snprintf(s->newpub, sizeof(s->newpub), "%.*s.pub", (int)strlen(newkey) - 4, newkey);
	st_close(s->env);
	cr_assert_eq(st_open(s->dir, 64, 0, &s->keys, &s->env), PB_OK);
	cr_assert(st_rotation_pending(s->env));
	cr_assert_eq(st_txn_begin(s->env, NULL, 0, &t), PB_OK);
	cr_assert_eq(st_log_rotate(t, &rr), PB_OK);
	cr_assert_eq(st_txn_commit(t), PB_OK);
	/* The store signed the handover with both keys; a log whose operator
	 * lost the old key would have the new key's signature alone. */
	if (!dual) {
		uint8_t root[ST_HASH_LEN];
		char body[256], note[256 + SN_LINE_MAX(sizeof(s->keys.key_name))];
		size_t blen, nlen;
		tl_begin(s);
		cr_assert_eq(st_tree_root(s->t, rr.index + 1, root), PB_OK);
		cr_assert_eq(sn_checkpoint_format(s->keys.key_name, rr.index + 1, root, NULL, body,
		                                  sizeof(body), &blen),
		             PB_OK);
		cr_assert_eq(sn_sign(body, blen, s->keys.key_name, s->keys.sign_sk, note, sizeof(note),
		                     &nlen),
		             PB_OK);
		cr_assert_eq(st_checkpoint_put(s->t, rr.index + 1, note, nlen), PB_OK);
		tl_commit(s);
	}
	return rr.index;
}

void tl_commit(struct tl_store *s)
{
	cr_assert_not_null(s->t);
	cr_assert_eq(st_txn_commit(s->t), PB_OK);
	s->t = NULL;
}

uint64_t tl_size(struct tl_store *s)
{
	st_txn *t;
	uint64_t n;

	if (s->t) {
		cr_assert_eq(st_log_size(s->t, &n), PB_OK);
		return n;
	}
	cr_assert_eq(st_txn_begin(s->env, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_log_size(t, &n), PB_OK);
	st_txn_abort(t);
	return n;
}

/* ---- clocks, as router/rt_clock.c computes them ---- */

void tl_compute(const struct tl_store *s, Mailroom__Clock *c)
{
	int prov = 0;

	if (c->hours > 0) {
		c->computed_due_ms = c->started_ms + (int64_t)c->hours * HOUR_MS + c->paused_ms;
	} else if (c->calendar_days > 0) {
		c->computed_due_ms = cal_end_of_day_ms(pb_day_of_ms(c->started_ms) + c->calendar_days +
		                                       c->extended_days + c->paused_days);
	} else {
		int n = c->working_days + c->extended_days + c->paused_days;
		int32_t d0 = pb_day_of_ms(c->started_ms);
		c->computed_due_ms = cal_end_of_day_ms(cal_add_working_days(s->cal, d0, n, &prov));
	}
	c->provisional = prov;
	c->due_ms = c->computed_due_ms;
	if (c->platform_due_ms > 0 && c->platform_due_ms < c->computed_due_ms)
		c->due_ms = c->platform_due_ms;
	if (c->group_due_ms > 0 && c->group_due_ms < c->due_ms)
		c->due_ms = c->group_due_ms;
}

static int64_t step_at(const struct tl_store *s, const Mailroom__Clock *c, int step)
{
	int32_t due_day = pb_day_of_ms(c->due_ms);

	if (step == 1) {
		if (c->hours > 0)
			return c->due_ms - (int64_t)c->hours * HOUR_MS / 4;
		int32_t d = due_day - 1;
		while (!cal_is_working_day(s->cal, d, NULL))
			d--;
		return cal_end_of_day_ms(d);
	}
	if (step == 2)
		return c->due_ms;
	return cal_end_of_day_ms(cal_add_working_days(s->cal, due_day, 5, NULL));
}

/* ---- records ---- */

void tl_rec(struct tl_store *s, const struct tl_msg *m, Mailroom__AuditRecord *r, int event,
            const char *actor)
{
	mailroom__audit_record__init(r);
	r->time_ms = s->now;
	s->now += 1000;
	r->actor = (char *)actor;
	r->event = event;
	r->message_id.data = (uint8_t *)m->id;
	r->message_id.len = 16;
	r->channel = m->channel ? (Mailroom__Channel)m->channel : MAILROOM__CHANNEL__CHANNEL_MAILBOX;
	r->queue = (char *)m->queue;
	r->due_ms = m->reply.due_ms;
	r->ack_due_ms = m->ack.kind ? m->ack.due_ms : 0;
	r->due_provisional = m->reply.provisional || (m->ack.kind && m->ack.provisional);
	r->cal_version.data = (uint8_t *)s->calv;
	r->cal_version.len = sizeof(s->calv);
}

/* ---- the stored messages ----
 * verify --store checks the msg database against the log, so each record
 * about a message leaves it stored as the router would: fixed texts
 * (salted by the message's id) that the record's content_hash commits
 * to, the status its event gives, and the queue and deadlines it
 * carries. A record without a content_hash commits to nothing and
 * stores no text. */
#define TL_SUBJECT "路灯不亮"
#define TL_BODY "幸福路的路灯坏了三天。"
#define TL_ANSWER "已修复。"
#define TL_CITIZEN "已电话告知。"
#define TL_NOTICE "请写明年度。"
#define EVT(x) MAILROOM__AUDIT_EVENT__AUDIT_##x
#define STS(x) MAILROOM__STATUS__STATUS_##x

enum { TX_NONE, TX_TEXTS, TX_ANSWER, TX_CITIZEN, TX_NOTICE };

static const struct {
	int status;
	int text;                  /* what its content_hash commits to */
	int clear_notice, reopen;
} effects[] = {
	[EVT(RECEIVED)] = {STS(QUEUED), TX_TEXTS, 0, 0},
	[EVT(REDISPATCHED)] = {STS(QUEUED), TX_TEXTS, 0, 1},
	[EVT(ROUTED)] = {STS(QUEUED), 0, 0, 0},
	[EVT(LEASED)] = {STS(LEASED), 0, 0, 0},
	[EVT(LEASE_EXPIRED)] = {STS(QUEUED), 0, 0, 0},
	[EVT(RELEASED)] = {STS(QUEUED), 0, 0, 0},
	[EVT(TRANSFERRED)] = {STS(QUEUED), 0, 0, 0},
	[EVT(REPLIED)] = {STS(REPLIED), TX_ANSWER, 0, 0},
	[EVT(DECIDED)] = {STS(REPLIED), TX_ANSWER, 1, 0},
	[EVT(CITIZEN_REPLIED)] = {0, TX_CITIZEN, 0, 0},
	[EVT(RETURNED)] = {STS(CLOSED), 0, 0, 0},
	[EVT(REVOKED)] = {STS(CLOSED), 0, 0, 0},
	[EVT(REFERRED)] = {STS(REPLIED), TX_ANSWER, 0, 0},
	[EVT(CORRECTION_REQUESTED)] = {0, TX_NOTICE, 0, 0},
	[EVT(FEE_NOTICE)] = {0, TX_NOTICE, 0, 0},
	[EVT(CORRECTION_RECEIVED)] = {0, 0, 1, 0},
	[EVT(FEE_PAID)] = {0, 0, 1, 0},
	[EVT(MERGED)] = {STS(CLOSED), 0, 0, 0},
	[EVT(UNMERGED)] = {STS(QUEUED), 0, 0, 1},
	[EVT(PETITION_NOT_ACCEPTED)] = {STS(REPLIED), TX_ANSWER, 0, 0},
	[EVT(PETITION_ANSWERED)] = {STS(REPLIED), TX_ANSWER, 0, 0},
	[EVT(PETITION_REVIEW)] = {STS(QUEUED), 0, 0, 0},
};

static const char *const texts[] = {
	[TX_ANSWER] = TL_ANSWER,
	[TX_CITIZEN] = TL_CITIZEN,
	[TX_NOTICE] = TL_NOTICE,
};

static void store_msg(struct tl_store *s, const Mailroom__AuditRecord *r)
{
	Mailroom__StoredMessage *old = NULL, m = MAILROOM__STORED_MESSAGE__INIT;
	Mailroom__DisclosureState d = MAILROOM__DISCLOSURE_STATE__INIT;
	int64_t when = r->effective_ms ? r->effective_ms : r->time_ms;
	int rc = st_msg_get(s->t, r->message_id.data, &old);

	cr_assert(rc == PB_OK || rc == PB_ENOTFOUND, "st_msg_get: %d", rc);
	/* Shallow copies take the edits; old is freed as it was unpacked. */
	if (old) {
		m = *old;
		if (old->disclosure)
			d = *old->disclosure;
	} else {
		m.id = r->message_id;
		m.text_salt = r->message_id;
		m.channel = r->channel;
	}
	if (m.channel == MAILROOM__CHANNEL__CHANNEL_DISCLOSURE)
		m.disclosure = &d;
	if ((int)r->event < (int)(sizeof(effects) / sizeof(effects[0]))) {
		int e = r->event, hashed = r->content_hash.len == ST_HASH_LEN;
		if (effects[e].reopen) {
			m.reply_text = m.citizen_reply = "";
			m.replied_ms = m.closed_ms = 0;
		}
		if (effects[e].clear_notice)
			d.notice = "";
		if (effects[e].status)
			m.status = effects[e].status;
		if (effects[e].status == STS(CLOSED))
			m.closed_ms = when;
		switch (hashed ? effects[e].text : TX_NONE) {
		case TX_TEXTS:
			m.subject = TL_SUBJECT;
			m.body = TL_BODY;
			break;
		case TX_ANSWER:
			m.reply_text = TL_ANSWER;
			m.replied_ms = when;
			break;
		case TX_CITIZEN:
			m.citizen_reply = TL_CITIZEN;
			break;
		case TX_NOTICE:
			d.notice = TL_NOTICE;
			break;
		}
	}
	if (r->channel) {
		m.queue = r->queue;
		m.reply_due_ms = r->due_ms;
		m.ack_due_ms = r->ack_due_ms;
		m.due_provisional = r->due_provisional;
	}
	cr_assert_eq(st_msg_put(s->t, &m), PB_OK);
	st_msg_free(old);
}

void tl_append(struct tl_store *s, Mailroom__AuditRecord *r)
{
	uint8_t h[ST_HASH_LEN];
	int e = r->event;

	cr_assert_not_null(s->t, "tl_begin first");
	/* A given commitment becomes the one to the fixture's text. */
	if (r->message_id.len == 16 && r->content_hash.len == ST_HASH_LEN &&
	    e < (int)(sizeof(effects) / sizeof(effects[0])) && effects[e].text) {
		if (effects[e].text == TX_TEXTS)
			st_submit_hash(r->message_id.data, TL_SUBJECT, TL_BODY, h);
		else
			st_content_hash(r->message_id.data, texts[effects[e].text],
			                strlen(texts[effects[e].text]), h);
		r->content_hash.data = h;
	}
	cr_assert_eq(st_log_append(s->t, r, NULL), PB_OK);
	if (r->message_id.len == 16)
		store_msg(s, r);
}

void tl_receive(struct tl_store *s, struct tl_msg *m, const char *queue, int ack_wd, int reply_wd)
{
	tl_receive_on(s, m, MAILROOM__CHANNEL__CHANNEL_MAILBOX, queue, ack_wd, reply_wd);
}

void tl_receive_on(struct tl_store *s, struct tl_msg *m, int channel, const char *queue, int ack_wd,
                   int reply_wd)
{
	Mailroom__AuditRecord r;
	uint8_t hash[32];

	memset(m, 0, sizeof(*m));
	m->channel = channel;
	pb_id_new(s->now, m->id);
	snprintf(m->queue, sizeof(m->queue), "%s", queue);
	m->received_ms = s->now;
	mailroom__clock__init(&m->ack);
	mailroom__clock__init(&m->reply);
	if (ack_wd > 0) {
		m->ack.kind = ST_CLOCK_ACK;
		m->ack.started_ms = s->now;
		m->ack.working_days = ack_wd;
		tl_compute(s, &m->ack);
	}
	m->reply.kind = ST_CLOCK_REPLY;
	m->reply.started_ms = s->now;
	m->reply.working_days = reply_wd;
	tl_compute(s, &m->reply);
	randombytes_buf(hash, sizeof(hash));
	tl_rec(s, m, &r, MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED, "gateway");
	r.time_ms = m->received_ms;
	r.content_hash.data = hash;
	r.content_hash.len = sizeof(hash);
	tl_append(s, &r);
	m->received_at = r.index;
	tl_rec(s, m, &r, MAILROOM__AUDIT_EVENT__AUDIT_ROUTED, "router");
	r.time_ms = m->received_ms;
	r.detail = "default";
	tl_append(s, &r);
	s->nmsg++;
}

void tl_lease(struct tl_store *s, struct tl_msg *m, const char *handler)
{
	Mailroom__AuditRecord r;

	snprintf(m->holder, sizeof(m->holder), "handler:%s", handler);
	randombytes_buf(m->token_hash, sizeof(m->token_hash));
	tl_rec(s, m, &r, MAILROOM__AUDIT_EVENT__AUDIT_LEASED, m->holder);
	r.lease_token_hash.data = m->token_hash;
	r.lease_token_hash.len = sizeof(m->token_hash);
	tl_append(s, &r);
	m->ack.stopped = 1;
}

void tl_renew(struct tl_store *s, struct tl_msg *m)
{
	Mailroom__AuditRecord r;

	tl_rec(s, m, &r, MAILROOM__AUDIT_EVENT__AUDIT_LEASE_RENEWED, m->holder);
	r.lease_token_hash.data = m->token_hash;
	r.lease_token_hash.len = sizeof(m->token_hash);
	tl_append(s, &r);
}

static void lease_ends(struct tl_store *s, struct tl_msg *m, int event, const char *actor)
{
	Mailroom__AuditRecord r;

	tl_rec(s, m, &r, event, actor);
	tl_append(s, &r);
	m->holder[0] = '\0';
}

void tl_reply(struct tl_store *s, struct tl_msg *m)
{
	m->reply.stopped = 1;
	lease_ends(s, m, MAILROOM__AUDIT_EVENT__AUDIT_REPLIED, m->holder);
}

void tl_release(struct tl_store *s, struct tl_msg *m)
{
	lease_ends(s, m, MAILROOM__AUDIT_EVENT__AUDIT_RELEASED, m->holder);
}

void tl_expire(struct tl_store *s, struct tl_msg *m)
{
	lease_ends(s, m, MAILROOM__AUDIT_EVENT__AUDIT_LEASE_EXPIRED, "router");
}

void tl_transfer(struct tl_store *s, struct tl_msg *m, const char *to)
{
	Mailroom__AuditRecord r;
	char from[32];

	snprintf(from, sizeof(from), "%s", m->queue);
	snprintf(m->queue, sizeof(m->queue), "%s", to);
	tl_rec(s, m, &r, MAILROOM__AUDIT_EVENT__AUDIT_TRANSFERRED, m->holder);
	r.from_queue = from;
	r.detail = "属地管理";
	tl_append(s, &r);
	m->holder[0] = '\0';
}

static const char *clock_actor(const struct tl_msg *m)
{
	return m->holder[0] ? m->holder : "handler:alice";
}

static void clock_record(struct tl_store *s, struct tl_msg *m, int event, int64_t old_due,
                         const char *actor)
{
	Mailroom__AuditRecord r;

	tl_rec(s, m, &r, event, actor);
	r.clock = &m->reply;
	r.old_due_ms = old_due;
	r.detail = "fixture";
	if (event == MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_EXTENDED)
		r.approver = "王主任";
	tl_append(s, &r);
}

void tl_clock(struct tl_store *s, struct tl_msg *m, int event, int64_t old_due)
{
	clock_record(s, m, event, old_due, clock_actor(m));
}

void tl_extend(struct tl_store *s, struct tl_msg *m, int days)
{
	int64_t old = m->reply.due_ms;

	m->reply.extended_days += days;
	m->reply.extensions++;
	tl_compute(s, &m->reply);
	m->reply.escalation = 0;
	clock_record(s, m, MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_EXTENDED, old, clock_actor(m));
}

void tl_pause(struct tl_store *s, struct tl_msg *m)
{
	if (m->reply.pause_depth++ == 0)
		m->reply.paused_since_ms = s->now;
	clock_record(s, m, MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_PAUSED, m->reply.due_ms,
	             clock_actor(m));
}

void tl_resume(struct tl_store *s, struct tl_msg *m)
{
	int64_t old = m->reply.due_ms;

	if (--m->reply.pause_depth == 0) {
		m->reply.paused_days += cal_working_days_between(
		    s->cal, pb_day_of_ms(m->reply.paused_since_ms), pb_day_of_ms(s->now), NULL);
		m->reply.paused_since_ms = 0;
		tl_compute(s, &m->reply);
		if (m->reply.due_ms != old)
			m->reply.escalation = 0;
	}
	clock_record(s, m, MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RESUMED, old, clock_actor(m));
}

void tl_escalate(struct tl_store *s, struct tl_msg *m, int kind, int step)
{
	Mailroom__Clock *c = kind == ST_CLOCK_ACK ? &m->ack : &m->reply;
	Mailroom__AuditRecord r;
	int64_t at = step_at(s, c, step);

	if (s->now < at)
		s->now = at + 1000;
	c->escalation = (uint32_t)step;
	c->next_fire_ms = step < 3 ? step_at(s, c, step + 1) : 0;
	tl_rec(s, m, &r, MAILROOM__AUDIT_EVENT__AUDIT_DUE_SOON + step - 1, "router");
	r.clock = c;
	r.old_due_ms = c->due_ms;
	r.detail = kind == ST_CLOCK_ACK ? "acknowledge" : "reply";
	tl_append(s, &r);
}

void tl_history(struct tl_store *s, int n)
{
	struct tl_msg *m = calloc((size_t)n, sizeof(*m));

	cr_assert_not_null(m);
	cr_assert_geq(n, 4);
	tl_begin(s);
	for (int i = 0; i < n; i++)
		tl_receive(s, &m[i], "general", 1, 15);
	tl_commit(s);

	tl_begin(s);
	tl_lease(s, &m[0], "alice");
	tl_lease(s, &m[1], "bob");
	tl_extend(s, &m[0], 5);
	tl_pause(s, &m[2]);
	tl_commit(s);

	tl_begin(s);
	tl_renew(s, &m[0]);
	tl_reply(s, &m[0]);
	tl_transfer(s, &m[1], "roads");
	tl_resume(s, &m[2]);
	tl_commit(s);

	tl_begin(s);
	tl_lease(s, &m[1], "carol");
	tl_release(s, &m[1]);
	tl_escalate(s, &m[3], ST_CLOCK_ACK, 1);
	tl_escalate(s, &m[3], ST_CLOCK_ACK, 2);
	tl_escalate(s, &m[3], ST_CLOCK_REPLY, 1);
	tl_escalate(s, &m[3], ST_CLOCK_REPLY, 2);
	tl_commit(s);

	tl_begin(s);
	tl_lease(s, &m[3], "dave");
	tl_reply(s, &m[3]);
	for (int i = 4; i < n; i++) {
		tl_lease(s, &m[i], "erin");
		tl_expire(s, &m[i]);
	}
	tl_commit(s);
	free(m);
}
