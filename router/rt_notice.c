/* Notices to citizens (workers/notify/README.md). rt_audit hands every
 * record of a message here; the events a citizen is told of become one
 * sealed notice per contact medium, in the transaction of the change, so
 * a notice exists exactly when its change committed and never twice. The
 * reads and verdicts of mailroom-notify, and the citizen's opt-out, are
 * the operations below. */
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 200
#define ACKS_MAX 1000
#define OPTOUT_SCAN 100000   /* pending notices looked at to drop a citizen's */

/* Which records a citizen hears of, and as what. A reply also invites a
 * rating of the work, in its own notice. */
static const struct {
	int event;
	const char *kinds[2];
} events[] = {
	{MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED, {"receipt", NULL}},
	{MAILROOM__AUDIT_EVENT__AUDIT_TRANSFERRED, {"transferred", NULL}},
	{MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_EXTENDED, {"extended", NULL}},
	{MAILROOM__AUDIT_EVENT__AUDIT_REPLIED, {"replied", "rate"}},
	{MAILROOM__AUDIT_EVENT__AUDIT_DECIDED, {"replied", "rate"}},
};

/* A Chinese mobile number, as SMS providers take it: 11 digits from 1,
 * optionally after +86. Landlines get no SMS. */
static int is_mobile(const char *p)
{
	if (!p)
		return 0;
	if (strncmp(p, "+86", 3) == 0)
		p += 3;
	if (strlen(p) != 11 || p[0] != '1')
		return 0;
	for (int i = 0; i < 11; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

/* The citizen's contact, unsealed: a message's own or a disclosure
 * applicant's. NULL when there is none. Freed with contact_free. */
static Mailroom__Contact *contact_open(struct rt_core *core, const Mailroom__StoredMessage *m,
                                       Mailroom__Applicant **app, int *rc)
{
	const ProtobufCBinaryData *sealed = &m->contact_sealed;
	uint8_t *plain;
	size_t plen;

	*app = NULL;
	*rc = PB_OK;
	if (!sealed->len && m->disclosure)
		sealed = &m->disclosure->applicant_sealed;
	if (!sealed->len)
		return NULL;
	if ((*rc = st_unseal(core->store, sealed->data, sealed->len, &plain, &plen)))
		return NULL;
	Mailroom__Contact *c = NULL;
	if (sealed == &m->contact_sealed) {
		c = mailroom__contact__unpack(NULL, plen, plain);
	} else if ((*app = mailroom__applicant__unpack(NULL, plen, plain))) {
		c = (*app)->contact;
	}
	sodium_memzero(plain, plen);
	free(plain);
	if (!c && !*app)
		*rc = PB_ECORRUPT;
	return c;
}

static void contact_free(Mailroom__Contact *c, Mailroom__Applicant *app)
{
	/* Free what unpack made; contacts are wiped on the way out. */
	if (app)
		mailroom__applicant__free_unpacked(app, NULL);
	else if (c)
		mailroom__contact__free_unpacked(c, NULL);
}

/* Seals e and writes it under e->seq. */
static int notice_store(struct rt_core *core, st_txn *t, int dead, const Mailroom__NoticeEntry *e)
{
	size_t len = mailroom__notice_entry__get_packed_size(e), slen;
	uint8_t *plain = malloc(len ? len : 1), *sealed;
	int rc;

	if (!plain)
		return PB_ENOMEM;
	mailroom__notice_entry__pack(e, plain);
	rc = st_seal(core->store, plain, len, &sealed, &slen);
	sodium_memzero(plain, len);
	free(plain);
	if (rc)
		return rc;
	rc = st_notice_put(t, dead, e->seq, sealed, slen);
	free(sealed);
	return rc;
}

static Mailroom__NoticeEntry *notice_open(struct rt_core *core, const uint8_t *v, size_t len)
{
	Mailroom__NoticeEntry *e;
	uint8_t *plain;
	size_t plen;

	if (st_unseal(core->store, v, len, &plain, &plen))
		return NULL;
	e = mailroom__notice_entry__unpack(NULL, plen, plain);
	sodium_memzero(plain, plen);
	free(plain);
	return e;
}

static int add_notice(struct rt_core *core, st_txn *t, const Mailroom__AuditRecord *rec,
                      const Mailroom__StoredMessage *m, uint64_t index, const char *kind,
                      const char *medium, const char *to, int64_t now_ms)
{
	Mailroom__NoticeEntry e = MAILROOM__NOTICE_ENTRY__INIT;
	char idhex[2 * PB_ID_LEN + 1], event_id[128];
	int rc;

	if ((rc = st_notice_next_seq(t, &e.seq)))
		return rc;
	pb_hex(m->id.data, m->id.len == PB_ID_LEN ? PB_ID_LEN : 0, idhex);
	snprintf(event_id, sizeof(event_id), "%s-%llu-%s-%s", idhex, (unsigned long long)index, kind,
	         medium);
	e.event_id = event_id;
	e.kind = (char *)kind;
	e.medium = (char *)medium;
	e.to = (char *)to;
	e.tracking_code = m->tracking_code;
	e.message_id = m->id;
	e.log_index = index;
	e.at_ms = now_ms;
	e.department = (char *)pb_conf_department(core->conf, rec->queue && *rec->queue ? rec->queue
	                                                                                : m->queue);
	e.due_ms = m->reply_due_ms;
	e.channel = m->channel;
	if (rec->clock)
		e.extended_days = rec->clock->extended_days;
	return notice_store(core, t, 0, &e);
}

int rt_notice_record(struct rt_core *core, st_txn *t, struct rt_result *res,
                     const Mailroom__AuditRecord *rec, const Mailroom__StoredMessage *m,
                     uint64_t index, int64_t now_ms)
{
	Mailroom__Applicant *app;
	Mailroom__Contact *c;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(events) / sizeof(events[0]) && events[i].event != (int)rec->event; i++)
		;
	if (i == sizeof(events) / sizeof(events[0]))
		return PB_OK;
	/* The 12345 platform answers its own callers; imported history has
	 * been told already; an opted-out citizen is told nothing. */
	if (m->channel == MAILROOM__CHANNEL__CHANNEL_HOTLINE || m->imported || res->import_actor ||
	    m->notices_off)
		return PB_OK;
	/* Only the reply clock's extension moves the date the citizen waits for. */
	if (rec->event == MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_EXTENDED &&
	    (!rec->clock || rec->clock->kind != ST_CLOCK_REPLY))
		return PB_OK;
	/* A contact sealed before the writer (rt_prepare) is the request's
	 * own, in clear at hand: no need to open the seal again. */
	int borrowed = res->prep && res->prep->have_sealed && m->contact_sealed.len &&
	               m->contact_sealed.data == res->prep->sealed;
	if (borrowed) {
		c = res->prep->sub->contact;
		app = NULL;
		rc = PB_OK;
	} else {
		c = contact_open(core, m, &app, &rc);
		if (rc)
			return rc;
	}
	for (int k = 0; k < 2 && events[i].kinds[k] && c && !rc; k++) {
		if (c->email && *c->email)
			rc = add_notice(core, t, rec, m, index, events[i].kinds[k], "email", c->email, now_ms);
		if (!rc && is_mobile(c->phone))
			rc = add_notice(core, t, rec, m, index, events[i].kinds[k], "sms", c->phone, now_ms);
	}
	if (!borrowed)
		contact_free(c, app);
	return rc;
}

/* ---- mailroom-notify's reads and verdicts ---- */

/* "z***@example.cn", "138****0000": enough for a handler to recognise. */
static char *mask(struct rt_result *res, const char *to)
{
	size_t n = strlen(to);
	char *out = rt_own(res, malloc(n + 8), RT_OWN_FREE);
	const char *at = strchr(to, '@');

	if (!out)
		return NULL;
	if (at)
		snprintf(out, n + 8, "%.1s***%s", to, at);
	else if (n >= 7)
		snprintf(out, n + 8, "%.3s****%s", to, to + n - 4);
	else
		snprintf(out, n + 8, "****");
	return out;
}

struct list {
	struct rt_core *core;
	struct rt_result *res;
	Mailroom__NoticeEntry **v;
	size_t n, cap;
	int masked, failed;
};

static int collect(uint64_t seq, const uint8_t *v, size_t len, void *arg)
{
	struct list *l = arg;
	Mailroom__NoticeEntry *e = notice_open(l->core, v, len);

	(void)seq;
	if (!e || !rt_own(l->res, e, RT_OWN_NOTICE) || l->n == l->cap) {
		l->failed = 1;
		return 1;
	}
	/* A masked answer is a shallow copy: free_unpacked must only ever
	 * see the pointers unpack made. */
	if (l->masked) {
		Mailroom__NoticeEntry *copy = rt_own(l->res, malloc(sizeof(*copy)), RT_OWN_FREE);
		if (!copy) {
			l->failed = 1;
			return 1;
		}
		*copy = *e;
		if (!(copy->to = mask(l->res, e->to))) {
			l->failed = 1;
			return 1;
		}
		e = copy;
	}
	l->v[l->n++] = e;
	return 0;
}

int rt_op_notices(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                  const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__NoticesReq *q = req->notices;
	size_t limit = q->limit == 0 || q->limit > LIST_MAX ? LIST_MAX : q->limit;
	Mailroom__NoticesResp *nr = rt_own(res, malloc(sizeof(*nr)), RT_OWN_FREE);
	struct list l = {.core = core, .res = res, .cap = limit};
	int64_t sent = 0;
	int rc;

	(void)now_ms;
	/* Handlers see who a notice was for only as much as to recognise it. */
	l.masked = who->kind != MAILROOM__AUTH_KIND__AUTH_CONNECTOR;
	if (!nr || !(l.v = rt_own(res, calloc(limit, sizeof(*l.v)), RT_OWN_FREE)))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__notices_resp__init(nr);
	if ((rc = st_notice_each(t, q->dead, q->after_seq, limit, collect, &l)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot read the notices");
	if (l.failed)
		return rt_fail(res, PB_ECORRUPT, "corrupt", "cannot open a notice");
	if ((rc = st_notice_count(t, 0, &nr->pending)) || (rc = st_notice_count(t, 1, &nr->dead)) ||
	    (rc = st_counter_get(t, "notice.sent", &sent)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot count the notices");
	nr->sent = sent > 0 ? (uint64_t)sent : 0;
	nr->entries = l.v;
	nr->n_entries = l.n;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_NOTICES;
	res->resp.notices = nr;
	return PB_OK;
}

/* Moves one notice between the lists; a dead letter is an alert record
 * that names the event, never the contact or the provider's words. */
static int move(struct rt_core *core, st_txn *t, struct rt_result *res, const Mailroom__NoticeAck *a,
                int from_dead, int64_t now_ms, int *missing)
{
	const uint8_t *v;
	size_t len;
	int rc = st_notice_get(t, from_dead, a->seq, &v, &len);

	if (rc == PB_ENOTFOUND) {
		(*missing)++;
		return PB_OK;
	}
	if (rc)
		return rc;
	Mailroom__NoticeEntry *e = notice_open(core, v, len);
	if (!e)
		return PB_ECORRUPT;
	char *old_error = e->error;
	e->error = (char *)(a->error ? a->error : "");
	e->attempts = a->attempts;
	e->dead_ms = from_dead ? 0 : now_ms;
	if (!(rc = notice_store(core, t, !from_dead, e)) && !(rc = st_notice_del(t, from_dead, a->seq)) &&
	    !from_dead) {
		Mailroom__AuditRecord rec;
		char detail[64];
		mailroom__audit_record__init(&rec);
		snprintf(detail, sizeof(detail), "%s %s notice refused", e->kind, e->medium);
		rec.event = MAILROOM__AUDIT_EVENT__AUDIT_NOTICE_DEAD;
		rec.message_id = e->message_id;
		rec.channel = e->channel;
		rec.event_id = e->event_id;
		rec.detail = detail;
		pb_warn("notify: notice %s is a dead letter after %u attempts", e->event_id,
		        (unsigned)a->attempts);
		if (!(rc = rt_audit(core, t, res, &rec, NULL, "notify", now_ms, NULL)))
			rc = st_counter_add(t, "notice.dead_total", 1);
	}
	e->error = old_error;
	mailroom__notice_entry__free_unpacked(e, NULL);
	return rc;
}

int rt_op_notice_ack(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                     const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__NoticeAckReq *q = req->notice_ack;
	Mailroom__NoticeAckResp *ar = rt_own(res, malloc(sizeof(*ar)), RT_OWN_FREE);
	int missing = 0, applied = 0, rc = PB_OK;

	(void)who;
	if (!ar)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	if (q->n_acks > ACKS_MAX)
		return rt_fail(res, PB_EINVAL, "invalid_request", "too many verdicts in one request");
	mailroom__notice_ack_resp__init(ar);
	for (size_t i = 0; i < q->n_acks && !rc; i++) {
		const Mailroom__NoticeAck *a = q->acks[i];
		int before = missing;
		switch (a->verdict) {
		case MAILROOM__NOTICE_VERDICT__NOTICE_SENT:
			rc = st_notice_del(t, 0, a->seq);
			if (rc == PB_ENOTFOUND) {
				missing++;
				rc = PB_OK;
			} else if (rc == PB_OK) {
				rc = st_counter_add(t, "notice.sent", 1);
			}
			break;
		case MAILROOM__NOTICE_VERDICT__NOTICE_DEAD:
			rc = move(core, t, res, a, 0, now_ms, &missing);
			break;
		case MAILROOM__NOTICE_VERDICT__NOTICE_REQUEUE:
			rc = move(core, t, res, a, 1, now_ms, &missing);
			break;
		default:
			return rt_fail(res, PB_EINVAL, "invalid_field", "unknown notice verdict");
		}
		if (!rc && missing == before)
			applied++;
	}
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot apply the verdicts");
	ar->applied = (uint32_t)applied;
	ar->missing = (uint32_t)missing;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_NOTICE_ACK;
	res->resp.notice_ack = ar;
	return PB_OK;
}

/* ---- the citizen's opt-out ---- */

struct drop {
	struct rt_core *core;
	const ProtobufCBinaryData *id;
	uint64_t seqs[64];
	int n;
};

static int find_theirs(uint64_t seq, const uint8_t *v, size_t len, void *arg)
{
	struct drop *d = arg;
	Mailroom__NoticeEntry *e = notice_open(d->core, v, len);

	if (e && e->message_id.len == d->id->len &&
	    memcmp(e->message_id.data, d->id->data, d->id->len) == 0)
		d->seqs[d->n++] = seq;
	if (e)
		mailroom__notice_entry__free_unpacked(e, NULL);
	return d->n == (int)(sizeof(d->seqs) / sizeof(d->seqs[0]));
}

int rt_op_notices_off(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                      const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	static const uint8_t decoy[PB_AKEY_HASH_LEN];
	const Mailroom__NoticesOffReq *s = req->notices_off;
	uint8_t id[PB_ID_LEN], stored_hash[PB_AKEY_HASH_LEN];
	Mailroom__StoredMessage *m;
	int found, match, rc;

	(void)who;
	if (!s->tracking_code || s->access_key_hash.len != PB_AKEY_HASH_LEN)
		return rt_fail(res, PB_EINVAL, "invalid_request", "tracking code and key hash required");
	/* As a status read: a wrong key and a wrong code look alike. */
	found = st_track_lookup(t, s->tracking_code, id, stored_hash) == PB_OK;
	match = sodium_memcmp(found ? stored_hash : decoy, s->access_key_hash.data,
	                      PB_AKEY_HASH_LEN) == 0;
	if (!found || !match || sodium_is_zero(stored_hash, sizeof(stored_hash)))
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no message with that code and key");
	if (rt_msg_load(t, id, sizeof(id), res, &m))
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no message with that code and key");
	if (!m->notices_off) {
		Mailroom__AuditRecord rec;
		struct drop d = {.core = core, .id = &m->id};
		m->notices_off = 1;
		if ((rc = st_msg_put(t, m)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot store the message");
		mailroom__audit_record__init(&rec);
		rec.event = MAILROOM__AUDIT_EVENT__AUDIT_NOTICES_OFF;
		if ((rc = rt_audit(core, t, res, &rec, m, "gateway", now_ms, NULL)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
		/* What is still waiting is not sent either. */
		if ((rc = st_notice_each(t, 0, 0, OPTOUT_SCAN, find_theirs, &d)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot read the notices");
		for (int i = 0; i < d.n; i++)
			if ((rc = st_notice_del(t, 0, d.seqs[i])))
				return rt_fail(res, rc, pb_err_name(rc), "cannot drop a notice");
	}
	if (rt_view(core, res, m, 0, &res->resp.notices_off))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_NOTICES_OFF;
	return PB_OK;
}
