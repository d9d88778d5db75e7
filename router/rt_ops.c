/* Intake, reads and the dispatch of requests to their operation. */
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"
#include "pb_utf8.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rt_op_pull(struct rt_core *, st_txn *, const struct rt_principal *, const Mailroom__Request *,
               int64_t, struct rt_result *);
int rt_op_lease(struct rt_core *, st_txn *, const struct rt_principal *, const Mailroom__Request *,
                int64_t, struct rt_result *);

void rt_result_init(struct rt_result *res)
{
	memset(res, 0, sizeof(*res));
	mailroom__response__init(&res->resp);
}

static void free_owned(void *p, int kind)
{
	if (kind == RT_OWN_MSG) {
		st_msg_free(p);
	} else if (kind == RT_OWN_CONTACT) {
		mailroom__contact__free_unpacked(p, NULL);
	} else if (kind == RT_OWN_APPLICANT) {
		mailroom__applicant__free_unpacked(p, NULL);
	} else if (kind == RT_OWN_HANDLERS) {
		mailroom__handler_list__free_unpacked(p, NULL);
	} else if (kind == RT_OWN_OUTBOX) {
		struct rt_outbox_list *l = p;
		for (size_t i = 0; i < l->n; i++)
			st_outbox_free_entry(l->v[i]);
		free(l->v);
		free(l);
	} else {
		free(p);
	}
}

void *rt_own(struct rt_result *res, void *p, int kind)
{
	if (!p)
		return NULL;
	if (res->nowned < RT_OWNED_INLINE) {
		res->owned[res->nowned].p = p;
		res->owned[res->nowned].kind = kind;
		res->nowned++;
		return p;
	}
	if (res->nowned_more == res->capowned_more) {
		size_t cap = res->capowned_more ? res->capowned_more * 2 : 64;
		struct rt_owned *more = realloc(res->owned_more, cap * sizeof(*more));
		if (!more) {
			free_owned(p, kind);
			return NULL;
		}
		res->owned_more = more;
		res->capowned_more = cap;
	}
	res->owned_more[res->nowned_more].p = p;
	res->owned_more[res->nowned_more].kind = kind;
	res->nowned_more++;
	return p;
}

int rt_note_record(struct rt_result *res, uint64_t index)
{
	if (res->nrecords < RT_MAX_RECORDS_PER_OP) {
		res->records[res->nrecords++] = index;
		return PB_OK;
	}
	if (res->nmore == res->capmore) {
		size_t cap = res->capmore ? res->capmore * 2 : 64;
		uint64_t *p = realloc(res->more, cap * sizeof(*p));
		if (!p)
			return PB_ENOMEM;
		res->more = p;
		res->capmore = cap;
	}
	res->more[res->nmore++] = index;
	return PB_OK;
}

void rt_touch(struct rt_result *res, const char *queue)
{
	if (!queue || !*queue || strcmp(res->touched_queue, queue) == 0)
		return;
	if (!res->touched_queue[0]) {
		snprintf(res->touched_queue, sizeof(res->touched_queue), "%s", queue);
		return;
	}
	for (int i = 0; i < res->nextra; i++)
		if (strcmp(res->extra_queues[i], queue) == 0)
			return;
	if (res->nextra < (int)(sizeof(res->extra_queues) / sizeof(res->extra_queues[0])))
		snprintf(res->extra_queues[res->nextra++], PB_NAME_MAX, "%s", queue);
}

size_t rt_nrecords(const struct rt_result *res)
{
	return (size_t)res->nrecords + res->nmore;
}

uint64_t rt_record_at(const struct rt_result *res, size_t i)
{
	return i < (size_t)res->nrecords ? res->records[i] : res->more[i - (size_t)res->nrecords];
}

void rt_result_clear(struct rt_result *res)
{
	free(res->more);
	for (size_t i = res->nowned_more; i-- > 0;)
		free_owned(res->owned_more[i].p, res->owned_more[i].kind);
	free(res->owned_more);
	for (int i = res->nowned - 1; i >= 0; i--)
		free_owned(res->owned[i].p, res->owned[i].kind);
	rt_result_init(res);
}

int rt_fail(struct rt_result *res, int code, const char *error, const char *message)
{
	res->resp.code = code;
	res->resp.error = (char *)error;
	res->resp.message = (char *)message;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT__NOT_SET;
	return code;
}

int rt_text_ok(const char *s, long min_chars, long max_chars)
{
	if (!s)
		return min_chars == 0;
	size_t len = strlen(s);
	if ((size_t)max_chars * 4 < len)
		return 0;
	long n = pb_utf8_chars(s, len);
	return n >= min_chars && n <= max_chars;
}

const char *rt_actor(const struct rt_principal *who, char *buf, size_t len)
{
	char id[PB_ACTOR_ID_TEXT];

	/* The log names a handler by its key's id, never by name: the office
	 * maps ids to people through its own configuration. */
	if (who->kind == MAILROOM__AUTH_KIND__AUTH_HANDLER && who->handler) {
		pb_actor_id(who->handler->pubkey, id);
		snprintf(buf, len, "handler:%s", id);
	} else if (who->kind == MAILROOM__AUTH_KIND__AUTH_GATEWAY)
		snprintf(buf, len, "gateway");
	else
		snprintf(buf, len, "router");
	return buf;
}

int rt_counter_queue(st_txn *t, const char *queue, const char *what, int64_t delta)
{
	char name[PB_NAME_MAX + 16];

	snprintf(name, sizeof(name), "q.%s.%s", queue, what);
	return st_counter_add(t, name, delta);
}

int rt_msg_load(st_txn *t, const uint8_t *id, size_t idlen, struct rt_result *res,
                Mailroom__StoredMessage **m)
{
	int rc;

	*m = NULL;   /* set on every path: callers test only the code */
	if (idlen != PB_ID_LEN)
		return rt_fail(res, PB_EINVAL, "invalid_id", "message id must be 16 bytes");
	rc = st_msg_get(t, id, m);
	if (rc == PB_ENOTFOUND)
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no such message");
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot read message");
	if (!rt_own(res, *m, RT_OWN_MSG))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	/* Callers edit a shallow copy: free_unpacked must only ever see the
	 * pointers unpack made, never ones an operation put in. */
	Mailroom__StoredMessage *copy = rt_own(res, malloc(sizeof(*copy)), RT_OWN_FREE);
	if (!copy)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	*copy = **m;
	*m = copy;
	return PB_OK;
}

int rt_view(struct rt_core *core, struct rt_result *res, Mailroom__StoredMessage *m, int handler,
            Mailroom__MessageView **out)
{
	Mailroom__MessageView *v = rt_own(res, malloc(sizeof(*v)), RT_OWN_FREE);

	if (!v)
		return PB_ENOMEM;
	mailroom__message_view__init(v);
	v->id = m->id;
	v->tracking_code = m->tracking_code;
	v->channel = m->channel;
	v->status = m->status;
	v->queue = m->queue;
	v->subject = m->subject;
	v->received_ms = m->received_ms;
	v->ack_due_ms = m->ack_due_ms;
	v->reply_due_ms = m->reply_due_ms;
	v->due_provisional = m->due_provisional;
	v->due_recomputed_ms = m->due_recomputed_ms;
	v->reply_text = m->reply_text;
	v->replied_ms = m->replied_ms;
	v->imported = m->imported;
	for (size_t i = 0; i < m->n_clocks; i++)
		if (m->clocks[i]->kind == ST_CLOCK_REPLY) {
			v->paused_since_ms = m->clocks[i]->paused_since_ms;
			v->paused_days = m->clocks[i]->paused_days;
			v->extended_days = m->clocks[i]->extended_days;
		}
	if (m->disclosure) {
		int rc = rt_disclosure_view(core, res, m, handler, &v->disclosure);
		if (rc)
			return rc;
	}
	if (handler) {
		int hide = m->order && m->order->confidential;
		v->body = m->body;
		v->category = m->category;
		v->replied_by = m->replied_by;
		v->order = m->order;
		v->hotline_state = m->hotline_state;
		v->signed_ms = m->signed_ms;
		v->citizen_reply = m->citizen_reply;
		if (!hide && m->contact_sealed.len) {
			uint8_t *plain;
			size_t plen;
			int rc = st_unseal(core->store, m->contact_sealed.data, m->contact_sealed.len,
			                   &plain, &plen);
			if (rc)
				return rc;
			v->contact = mailroom__contact__unpack(NULL, plen, plain);
			sodium_memzero(plain, plen);
			free(plain);
			if (!v->contact || !rt_own(res, v->contact, RT_OWN_CONTACT))
				return PB_ECORRUPT;
		}
	}
	*out = v;
	return PB_OK;
}

/* Events whose detail is a fixed vocabulary and stays clear in the log
 * (README.md, "What the public log reveals"). Every other detail is a free
 * text: the log gets its commitment only. */
static const uint8_t detail_is_code[] = {
	[MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED] = 1,            /* the platform-due note */
	[MAILROOM__AUDIT_EVENT__AUDIT_ROUTED] = 1,              /* route rule name (config) */
	[MAILROOM__AUDIT_EVENT__AUDIT_REDISPATCHED] = 1,        /* dispatch_seq, old state */
	[MAILROOM__AUDIT_EVENT__AUDIT_SIGNED] = 1,              /* "sign" */
	[MAILROOM__AUDIT_EVENT__AUDIT_RETURNED] = 1,            /* reason code [A-Za-z0-9_.-] */
	[MAILROOM__AUDIT_EVENT__AUDIT_EXTENSION_REQUESTED] = 1, /* "extension_request" */
	[MAILROOM__AUDIT_EVENT__AUDIT_CITIZEN_REPLIED] = 1,     /* "reply" */
	[MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_REQUEUED] = 1,     /* fixed sentence */
	[MAILROOM__AUDIT_EVENT__AUDIT_CORRECTION_RECEIVED] = 1, /* fixed sentence */
	[MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_FLAGGED] = 1,      /* resemblance, a number */
	[MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_DECIDED] = 1,      /* confirmed | dismissed */
	[MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RECOMPUTED] = 1,    /* fixed sentence */
	[MAILROOM__AUDIT_EVENT__AUDIT_DUE_SOON] = 1,            /* the clock: acknowledge | reply */
	[MAILROOM__AUDIT_EVENT__AUDIT_OVERDUE] = 1,
	[MAILROOM__AUDIT_EVENT__AUDIT_SERIOUSLY_OVERDUE] = 1,
	[MAILROOM__AUDIT_EVENT__AUDIT_HANDLER_ADDED] = 1,       /* queue names (config), "supervise" */
	[MAILROOM__AUDIT_EVENT__AUDIT_HANDLER_REMOVED] = 1,
};

/* A record's free texts, moved out of it for the time of the append. */
struct private_texts {
	Mailroom__RecordTexts texts;
	Mailroom__ReviewCase review;
	uint8_t salt[ST_SALT_LEN];
	uint8_t commit[4][ST_HASH_LEN];
	char *detail, *approver, *legal_basis;
	Mailroom__ReviewCase *old_review;
	int any;
};

static int is_text(const char *s)
{
	return s && *s;
}

/* Replaces each free text of rec by its commitment, keyed by the
 * message's salt, or a fresh one for records about no message. */
static void texts_take(Mailroom__AuditRecord *rec, const Mailroom__StoredMessage *m,
                       struct private_texts *p)
{
	Mailroom__RecordTexts *x = &p->texts;
	int code = rec->event >= 0 && (size_t)rec->event < sizeof(detail_is_code) &&
	           detail_is_code[rec->event];

	mailroom__record_texts__init(x);
	p->detail = rec->detail;
	p->approver = rec->approver;
	p->legal_basis = rec->legal_basis;
	p->old_review = rec->review;
	if (!code && is_text(rec->detail))
		x->detail = rec->detail;
	if (is_text(rec->approver))
		x->approver = rec->approver;
	if (is_text(rec->legal_basis))
		x->legal_basis = rec->legal_basis;
	if (rec->review && is_text(rec->review->case_no))
		x->case_no = rec->review->case_no;
	p->any = is_text(x->detail) || is_text(x->approver) || is_text(x->legal_basis) ||
	         is_text(x->case_no);
	if (!p->any)
		return;
	if (m && m->text_salt.len == ST_SALT_LEN)
		memcpy(p->salt, m->text_salt.data, ST_SALT_LEN);
	else
		randombytes_buf(p->salt, sizeof(p->salt));
	x->salt.data = p->salt;
	x->salt.len = sizeof(p->salt);
#define COMMIT(text, field, n, dst)                                             \
	if (is_text(text)) {                                                    \
		st_text_commit(p->salt, field, text, strlen(text), p->commit[n]); \
		dst.data = p->commit[n];                                        \
		dst.len = ST_HASH_LEN;                                          \
	}
	COMMIT(x->detail, "detail", 0, rec->detail_commit)
	COMMIT(x->approver, "approver", 1, rec->approver_commit)
	COMMIT(x->legal_basis, "legal_basis", 2, rec->legal_basis_commit)
	if (is_text(x->case_no)) {
		p->review = *rec->review;
		p->review.case_no = (char *)"";
		COMMIT(x->case_no, "case_no", 3, p->review.case_no_commit)
		rec->review = &p->review;
	}
#undef COMMIT
	if (is_text(x->detail))
		rec->detail = (char *)"";
	rec->approver = (char *)"";
	rec->legal_basis = (char *)"";
}

/* Puts rec back as the caller built it: callers reuse records. */
static void texts_give_back(Mailroom__AuditRecord *rec, const struct private_texts *p)
{
	if (!p->any)
		return;
	rec->detail = p->detail;
	rec->approver = p->approver;
	rec->legal_basis = p->legal_basis;
	rec->review = p->old_review;
	rec->detail_commit.data = rec->approver_commit.data = rec->legal_basis_commit.data = NULL;
	rec->detail_commit.len = rec->approver_commit.len = rec->legal_basis_commit.len = 0;
}

/* The clear texts, sealed, under the record's index, in its transaction. */
static int texts_store(struct rt_core *core, st_txn *t, uint64_t index, const struct private_texts *p)
{
	size_t len = mailroom__record_texts__get_packed_size(&p->texts), slen;
	uint8_t *plain, *sealed;
	int rc;

	if (!(plain = malloc(len ? len : 1)))
		return PB_ENOMEM;
	mailroom__record_texts__pack(&p->texts, plain);
	rc = st_seal(core->store, plain, len, &sealed, &slen);
	sodium_memzero(plain, len);
	free(plain);
	if (rc)
		return rc;
	rc = st_texts_put(t, index, sealed, slen);
	free(sealed);
	return rc;
}

int rt_audit(struct rt_core *core, st_txn *t, struct rt_result *res, Mailroom__AuditRecord *rec,
             const Mailroom__StoredMessage *m, const char *actor, int64_t now_ms,
             struct st_receipt *receipt)
{
	struct st_receipt local, *got = receipt ? receipt : &local;
	struct private_texts priv;
	int rc;

	rec->time_ms = now_ms;
	rec->actor = (char *)actor;
	if (res->import_actor) {
		/* An imported step: signed now, as the operator's, with the time
		 * it happened in the old system beside it. */
		rec->imported = 1;
		rec->effective_ms = now_ms;
		rec->time_ms = res->import_now_ms;
		if (strcmp(actor, "router") != 0)
			rec->actor = (char *)res->import_actor;
	}
	if (m) {
		rec->message_id = m->id;
		rec->channel = m->channel;
		if (!rec->queue || !*rec->queue)
			rec->queue = m->queue;
		rec->due_ms = m->reply_due_ms;
		rec->ack_due_ms = m->ack_due_ms;
		rec->due_provisional = m->due_provisional;
		rec->cal_version = m->cal_version;
	}
	texts_take(rec, m, &priv);
	rc = st_log_append(t, rec, got);
	texts_give_back(rec, &priv);
	if (rc)
		return rc;
	if (priv.any && (rc = texts_store(core, t, got->index, &priv)))
		return rc;
	return rt_note_record(res, got->index);
}

const char *rt_route(const struct pb_conf *c, int channel, const char *category,
                     const char *subject, const char *body, const char **rule)
{
	for (int i = 0; i < c->nroutes; i++) {
		const struct pb_route *r = &c->routes[i];
		int hit = r->nkeywords == 0;
		if (r->channel && r->channel != channel)
			continue;
		if (r->category[0] && (!category || strcmp(r->category, category) != 0))
			continue;
		for (int k = 0; k < r->nkeywords && !hit; k++)
			hit = (subject && strstr(subject, r->keywords[k])) ||
			      (body && strstr(body, r->keywords[k]));
		if (hit) {
			*rule = r->name;
			return r->queue;
		}
	}
	*rule = "default";
	return c->default_queue[channel > 0 && channel < PB_CH_COUNT ? channel : PB_CH_MAILBOX];
}

/* ------------------------------------------------------------ intake -- */

/* The receipt is allocated now and filled by rt_result_receipts once the
 * batch is sealed: the record may have been appended in this very batch. */
static int receipt_later(struct rt_result *res, uint64_t index, Mailroom__Receipt **out)
{
	struct {
		Mailroom__Receipt r;
		uint8_t hash[ST_HASH_LEN], sig[ST_SIG_LEN], key_id[ST_KEYID_LEN];
	} *b = rt_own(res, calloc(1, sizeof(*b)), RT_OWN_FREE);

	if (!b)
		return PB_ENOMEM;
	mailroom__receipt__init(&b->r);
	b->r.log_index = index;
	b->r.record_hash.data = b->hash;
	b->r.record_hash.len = ST_HASH_LEN;
	b->r.signature.data = b->sig;
	b->r.signature.len = ST_SIG_LEN;
	b->r.key_id.data = b->key_id;
	b->r.key_id.len = ST_KEYID_LEN;
	res->receipt = &b->r;
	res->receipt_index = index;
	*out = &b->r;
	return PB_OK;
}

int rt_result_receipts(struct rt_core *core, st_txn *t, struct rt_result *res)
{
	Mailroom__Receipt *r = res->receipt;
	const uint8_t *data;
	size_t len;
	int rc;

	if (!r || res->resp.code != PB_OK)
		return PB_OK;
	if ((rc = st_log_get(t, res->receipt_index, &data, &len)))
		return rc;
	if (len < ST_SIG_LEN)
		return PB_ECORRUPT;
	crypto_hash_sha256(r->record_hash.data, data, len - ST_SIG_LEN);
	memcpy(r->signature.data, data + len - ST_SIG_LEN, ST_SIG_LEN);
	memcpy(r->key_id.data, core->keys.key_id, ST_KEYID_LEN);
	return PB_OK;
}

int rt_submit_answer(struct rt_core *core, st_txn *t, struct rt_result *res,
                     Mailroom__StoredMessage *m, int duplicate)
{
	return rt_submit_answer_at(core, t, res, m, duplicate, m->received_log_index);
}

int rt_submit_answer_at(struct rt_core *core, st_txn *t, struct rt_result *res,
                        Mailroom__StoredMessage *m, int duplicate, uint64_t log_index)
{
	Mailroom__SubmitResp *sr = rt_own(res, malloc(sizeof(*sr)), RT_OWN_FREE);
	int rc;

	(void)t;
	if (!sr)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__submit_resp__init(sr);
	if ((rc = rt_view(core, res, m, 0, &sr->message)) ||
	    (rc = receipt_later(res, log_index, &sr->receipt)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot build the answer");
	sr->duplicate = duplicate;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_SUBMIT;
	res->resp.submit = sr;
	return PB_OK;
}

int rt_check_texts(const Mailroom__SubmitReq *s, struct rt_result *res)
{
	if (!rt_text_ok(s->subject, 1, 200))
		return rt_fail(res, PB_EINVAL, "invalid_field", "subject: 1-200 characters");
	if (!rt_text_ok(s->body, 1, 10000))
		return rt_fail(res, PB_EINVAL, "invalid_field", "body: 1-10000 characters");
	if (s->category && strlen(s->category) > 64)
		return rt_fail(res, PB_EINVAL, "invalid_field", "category too long");
	if (s->contact) {
		Mailroom__Contact *c = s->contact;
		if (!rt_text_ok(c->name, 0, 50) || !rt_text_ok(c->phone, 0, 32) ||
		    !rt_text_ok(c->email, 0, 254))
			return rt_fail(res, PB_EINVAL, "invalid_field", "contact fields too long");
	}
	return PB_OK;
}

static int check_submit(const Mailroom__SubmitReq *s, struct rt_result *res)
{
	if (s->channel < MAILROOM__CHANNEL__CHANNEL_MAILBOX ||
	    s->channel > MAILROOM__CHANNEL__CHANNEL_HOTLINE)
		return rt_fail(res, PB_EINVAL, "invalid_channel", "channel not accepted");
	if (s->access_key_hash.len != PB_AKEY_HASH_LEN || s->order)
		return rt_fail(res, PB_EINVAL, "invalid_request", "access key hash required");
	return rt_check_texts(s, res);
}

void rt_submit_hash(const uint8_t salt[ST_SALT_LEN], const char *subject, const char *body,
                    uint8_t out[ST_HASH_LEN])
{
	st_submit_hash(salt, subject, body, out);
}

int rt_seal_contact(struct rt_core *core, struct rt_result *res, const Mailroom__Contact *c,
                    Mailroom__StoredMessage *m)
{
	size_t plen;
	uint8_t *plain;
	int rc;

	m->contact_sealed.data = NULL;
	m->contact_sealed.len = 0;
	if (!c)
		return PB_OK;
	plen = mailroom__contact__get_packed_size(c);
	plain = malloc(plen ? plen : 1);
	if (!plain)
		return PB_ENOMEM;
	mailroom__contact__pack(c, plain);
	rc = st_seal(core->store, plain, plen, &m->contact_sealed.data, &m->contact_sealed.len);
	sodium_memzero(plain, plen);
	free(plain);
	if (rc)
		return rc;
	if (!rt_own(res, m->contact_sealed.data, RT_OWN_FREE))
		return PB_ENOMEM;
	return PB_OK;
}

void rt_platform_note(const Mailroom__StoredMessage *m, char *note, size_t len)
{
	/* deadlines.md section 4: the platform's due times are kept beside
	 * ours and the earlier applies; say so where they differ. */
	note[0] = '\0';
	for (size_t i = 0; i < m->n_clocks; i++) {
		const Mailroom__Clock *c = m->clocks[i];
		size_t n = strlen(note);
		if (c->platform_due_ms && c->platform_due_ms != c->computed_due_ms)
			snprintf(note + n, len - n, "%splatform %s due %s ours", n ? "; " : "",
			         c->kind == ST_CLOCK_ACK ? "sign" : "finish",
			         c->platform_due_ms < c->computed_due_ms ? "earlier than" : "later than");
	}
}

int rt_msg_create(struct rt_core *core, st_txn *t, const char *actor,
                  const Mailroom__SubmitReq *s, const char *ref, int64_t now_ms,
                  struct rt_result *res, Mailroom__StoredMessage **stored)
{
	return rt_msg_create_ex(core, t, actor, s, ref, now_ms, NULL, res, stored);
}

int rt_msg_create_ex(struct rt_core *core, st_txn *t, const char *actor,
                     const Mailroom__SubmitReq *s, const char *ref, int64_t now_ms,
                     Mailroom__DisclosureState *disc, struct rt_result *res,
                     Mailroom__StoredMessage **stored)
{
	Mailroom__StoredMessage m = MAILROOM__STORED_MESSAGE__INIT;
	Mailroom__AuditRecord rec;
	struct st_receipt rcpt;
	uint8_t id[PB_ID_LEN], salt[ST_SALT_LEN], chash[ST_HASH_LEN];
	char code[PB_TRACK_TEXT_LEN + 1], note[160];
	const char *rule, *queue;
	int rc;

	pb_id_new(now_ms, id);
	rc = st_track_issue(t, id, s->access_key_hash.len ? s->access_key_hash.data : NULL, code);
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot allocate a tracking code");
	if (ref && ref[0] && (rc = st_extref_put(t, ref, id)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot index the order");

	queue = rt_route(core->conf, s->channel, s->category, s->subject, s->body, &rule);
	randombytes_buf(salt, sizeof(salt));
	m.id.data = id;
	m.id.len = sizeof(id);
	m.tracking_code = code;
	m.channel = s->channel;
	m.status = MAILROOM__STATUS__STATUS_QUEUED;
	m.queue = (char *)queue;
	m.subject = s->subject;
	m.body = s->body;
	m.category = s->category;
	m.access_key_hash = s->access_key_hash;
	m.text_salt.data = salt;
	m.text_salt.len = sizeof(salt);
	m.received_ms = now_ms;
	m.order = s->order;
	m.disclosure = disc;
	m.imported = res->import_actor != NULL;
	if (s->order)
		m.hotline_state = MAILROOM__HOTLINE_STATE__HOTLINE_DISPATCHED;
	m.queue_prio = 1;
	m.cal_version.data = core->cal_version;
	m.cal_version.len = sizeof(core->cal_version);
	if ((rc = rt_clocks_start(core, t, res, &m, now_ms)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot start the deadline clocks");
	rt_platform_note(&m, note, sizeof(note));
	if ((rc = rt_seal_contact(core, res, s->contact, &m)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot seal contact");

	/* The texts are proved by a salted hash: the log never holds them. */
	rt_submit_hash(salt, s->subject, s->body, chash);
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED;
	rec.content_hash.data = chash;
	rec.content_hash.len = sizeof(chash);
	rec.external_ref = (char *)(ref ? ref : "");
	rec.detail = note;
	if (disc) {
		rec.applicant_kind = disc->applicant_kind;
		rec.submission_mode = disc->submission_mode;
		rec.receipt_ms = disc->receipt_ms;
	}
	if ((rc = rt_audit(core, t, res, &rec, &m, actor, now_ms, &rcpt)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	m.received_log_index = rcpt.index;

	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_ROUTED;
	rec.detail = (char *)rule;
	if ((rc = rt_audit(core, t, res, &rec, &m, "router", now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");

	struct st_qpos pos = {.prio = 1, .due_ms = m.reply_due_ms};
	memcpy(pos.id, id, sizeof(id));
	if ((rc = st_msg_put(t, &m)) || (rc = st_queue_push(t, queue, &pos)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot store the message");
	snprintf(res->touched_queue, sizeof(res->touched_queue), "%s", queue);

	/* Answer from what was just packed, not a re-read: a shallow copy
	 * whose own buffers outlive this frame (the rest is owned by res or
	 * the request), for the caller to edit as rt_msg_load's. */
	struct {
		Mailroom__StoredMessage m;
		uint8_t id[PB_ID_LEN], salt[ST_SALT_LEN];
		char code[PB_TRACK_TEXT_LEN + 1];
	} *kept = rt_own(res, malloc(sizeof(*kept)), RT_OWN_FREE);
	if (!kept)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	kept->m = m;
	memcpy(kept->id, id, sizeof(id));
	memcpy(kept->salt, salt, sizeof(salt));
	memcpy(kept->code, code, sizeof(code));
	kept->m.id.data = kept->id;
	kept->m.text_salt.data = kept->salt;
	kept->m.tracking_code = kept->code;
	*stored = &kept->m;
	return PB_OK;
}

/* "idem:<key>" names the message, "idem:<key>:<body>" the pair, both in
 * the external-reference index: a repeat with the same request is found
 * by the second, one with another request by the first alone. */
static int idem_refs(const Mailroom__SubmitReq *s, char *key, char *pair, size_t len,
                     struct rt_result *res)
{
	char kh[2 * ST_HASH_LEN + 1], bh[2 * ST_HASH_LEN + 1];

	if (s->idem_key.len != ST_HASH_LEN || s->idem_body.len != ST_HASH_LEN)
		return rt_fail(res, PB_EINVAL, "invalid_request", "idempotency hashes malformed");
	pb_hex(s->idem_key.data, ST_HASH_LEN, kh);
	pb_hex(s->idem_body.data, ST_HASH_LEN, bh);
	snprintf(key, len, "idem:%s", kh);
	snprintf(pair, len, "idem:%s:%s", kh, bh);
	return PB_OK;
}

#define IDEM_REF_MAX (8 + 4 * ST_HASH_LEN)

int rt_idem_find(st_txn *t, const Mailroom__SubmitReq *s, struct rt_result *res,
                 Mailroom__StoredMessage **m)
{
	char key[IDEM_REF_MAX], pair[IDEM_REF_MAX];
	uint8_t id[PB_ID_LEN], pid[PB_ID_LEN];
	int rc;

	if (!s->idem_key.len && !s->idem_body.len)
		return PB_ENOTFOUND;
	if ((rc = idem_refs(s, key, pair, sizeof(key), res)))
		return rc;
	rc = st_extref_get(t, key, id);
	if (rc == PB_ENOTFOUND)
		return PB_ENOTFOUND;
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot read the idempotency index");
	rc = st_extref_get(t, pair, pid);
	if (rc == PB_ENOTFOUND || (rc == PB_OK && memcmp(id, pid, PB_ID_LEN) != 0))
		return rt_fail(res, PB_ESTATE, "idempotency_mismatch",
		               "this idempotency key was used with another request");
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot read the idempotency index");
	return rt_msg_load(t, id, sizeof(id), res, m);
}

int rt_idem_put(st_txn *t, const Mailroom__SubmitReq *s, const uint8_t *id,
                struct rt_result *res)
{
	char key[IDEM_REF_MAX], pair[IDEM_REF_MAX];
	int rc;

	if (!s->idem_key.len && !s->idem_body.len)
		return PB_OK;
	if ((rc = idem_refs(s, key, pair, sizeof(key), res)))
		return rc;
	if ((rc = st_extref_put(t, key, id)) || (rc = st_extref_put(t, pair, id)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot index the idempotency key");
	return PB_OK;
}

static int op_submit(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                     const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__SubmitReq *s = req->submit;
	Mailroom__StoredMessage *stored;
	char actor[PB_NAME_MAX + 16];
	int rc;

	/* 12345 orders (dispatch, revoke, urge) share one path with pulled pages. */
	if (s->channel == MAILROOM__CHANNEL__CHANNEL_HOTLINE)
		return rt_hotline_submit(core, t, who, req, now_ms, res);
	if (s->channel == MAILROOM__CHANNEL__CHANNEL_DISCLOSURE)
		return rt_disclosure_submit(core, t, who, req, now_ms, res);
	if ((rc = check_submit(s, res)))
		return rc;
	if ((rc = rt_idem_find(t, s, res, &stored)) != PB_ENOTFOUND)
		return rc ? rc : rt_submit_answer(core, t, res, stored, 1);
	if ((rc = rt_msg_create(core, t, rt_actor(who, actor, sizeof(actor)), s, NULL, now_ms, res,
	                        &stored)) ||
	    (rc = rt_idem_put(t, s, stored->id.data, res)))
		return rc;
	return rt_submit_answer(core, t, res, stored, 0);
}

/* ------------------------------------------------------------- reads -- */

static int op_status(struct rt_core *core, st_txn *t, const Mailroom__Request *req,
                     struct rt_result *res)
{
	static const uint8_t decoy[PB_AKEY_HASH_LEN];
	const Mailroom__StatusReq *s = req->status;
	uint8_t id[PB_ID_LEN], stored_hash[PB_AKEY_HASH_LEN];
	Mailroom__StoredMessage *m;
	int found, match;

	if (!s->tracking_code || s->access_key_hash.len != PB_AKEY_HASH_LEN)
		return rt_fail(res, PB_EINVAL, "invalid_request", "tracking code and key hash required");
	/* One index read and one constant-time compare whether or not the
	 * code exists, so timing does not tell a wrong key from a wrong code. */
	found = st_track_lookup(t, s->tracking_code, id, stored_hash) == PB_OK;
	match = sodium_memcmp(found ? stored_hash : decoy, s->access_key_hash.data,
	                      PB_AKEY_HASH_LEN) == 0;
	if (!found || !match || sodium_is_zero(stored_hash, sizeof(stored_hash)))
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no message with that code and key");
	if (rt_msg_load(t, id, sizeof(id), res, &m))
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no message with that code and key");
	if (rt_view(core, res, m, 0, &res->resp.status))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_STATUS;
	return PB_OK;
}

/* Adds name to list (once), with its depth and leased counters. infos is
 * the backing array, as long as list. */
static int add_queue_info(st_txn *t, const char *name, Mailroom__QueueInfo *infos,
                          Mailroom__QueueInfo **list, size_t *n)
{
	char cname[PB_NAME_MAX + 16];
	int64_t leased = 0;
	int rc;

	for (size_t i = 0; i < *n; i++)
		if (strcmp(list[i]->name, name) == 0)
			return PB_OK;
	Mailroom__QueueInfo *q = &infos[*n];
	mailroom__queue_info__init(q);
	q->name = (char *)name;
	if ((rc = st_queue_depth(t, name, &q->depth)))
		return rc;
	snprintf(cname, sizeof(cname), "q.%s.leased", name);
	if ((rc = st_counter_get(t, cname, &leased)) && rc != PB_ENOTFOUND)
		return rc;
	q->leased = leased > 0 ? (uint64_t)leased : 0;
	list[(*n)++] = q;
	return PB_OK;
}

static int op_queues(st_txn *t, const struct rt_principal *who, struct rt_result *res)
{
	const struct pb_handler *h = who->handler;
	Mailroom__QueuesResp *qr = rt_own(res, malloc(sizeof(*qr)), RT_OWN_FREE);
	Mailroom__QueueInfo **list = rt_own(res, calloc(PB_MAX_QUEUES, sizeof(*list)), RT_OWN_FREE);
	Mailroom__QueueInfo *infos = rt_own(res, calloc(PB_MAX_QUEUES, sizeof(*infos)), RT_OWN_FREE);
	size_t n = 0;
	int rc;

	if (!qr || !list || !infos)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__queues_resp__init(qr);
	for (int i = 0; i < h->nqueues; i++)
		if ((rc = add_queue_info(t, h->queues[i], infos, list, &n)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot read queues");
	qr->queues = list;
	qr->n_queues = n;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_QUEUES;
	res->resp.queues = qr;
	return PB_OK;
}

static int op_stats(struct rt_core *core, st_txn *t, int64_t now_ms, struct rt_result *res)
{
	const struct pb_conf *c = core->conf;
	size_t max = PB_CH_COUNT + (size_t)c->nroutes + (size_t)c->nhandlers * PB_MAX_QUEUES, n = 0;
	Mailroom__StatsResp *sr = rt_own(res, malloc(sizeof(*sr)), RT_OWN_FREE);
	Mailroom__QueueInfo **list = rt_own(res, calloc(max, sizeof(*list)), RT_OWN_FREE);
	Mailroom__QueueInfo *infos = rt_own(res, calloc(max, sizeof(*infos)), RT_OWN_FREE);
	uint64_t *buckets = rt_own(res, calloc(9, sizeof(uint64_t)), RT_OWN_FREE);
	int rc = PB_OK;

	if (!sr || !list || !infos || !buckets)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__stats_resp__init(sr);
	for (int i = 1; i < PB_CH_COUNT && !rc; i++)
		rc = add_queue_info(t, c->default_queue[i], infos, list, &n);
	for (int i = 0; i < c->nroutes && !rc; i++)
		rc = add_queue_info(t, c->routes[i].queue, infos, list, &n);
	for (int i = 0; i < c->nhandlers && !rc; i++)
		for (int k = 0; k < c->handlers[i].nqueues && !rc; k++)
			rc = add_queue_info(t, c->handlers[i].queues[k], infos, list, &n);
	if (rc || (rc = st_log_size(t, &sr->log_size)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot read stats");
	sr->queues = list;
	sr->n_queues = n;
	sr->commits = atomic_load(&core->commits);
	sr->commit_us_sum = atomic_load(&core->commit_us_sum);
	for (int i = 0; i < 9; i++)
		buckets[i] = atomic_load(&core->commit_us_bucket[i]);
	sr->commit_us_bucket = buckets;
	sr->n_commit_us_bucket = 9;
	sr->calendar_next_year_missing = cal_next_year_missing(core->cal, now_ms);
	sr->calendar_last_year = cal_last_year(core->cal);
	rt_health_stats(core, now_ms, sr);
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_STATS;
	res->resp.stats = sr;
	return PB_OK;
}

/* ---------------------------------------------------------- dispatch -- */

int rt_is_write(const Mailroom__Request *req)
{
	switch (req->op_case) {
	case MAILROOM__REQUEST__OP_SUBMIT:
	case MAILROOM__REQUEST__OP_PULL:
	case MAILROOM__REQUEST__OP_RENEW:
	case MAILROOM__REQUEST__OP_REPLY:
	case MAILROOM__REQUEST__OP_RELEASE:
	case MAILROOM__REQUEST__OP_TRANSFER:
	case MAILROOM__REQUEST__OP_CLOCK:
	case MAILROOM__REQUEST__OP_HOTLINE:
	case MAILROOM__REQUEST__OP_INGEST:
	case MAILROOM__REQUEST__OP_OUTBOX_ACK:
	case MAILROOM__REQUEST__OP_DISCLOSURE:
	case MAILROOM__REQUEST__OP_IMPORT_MSG:
	case MAILROOM__REQUEST__OP_HANDLER_ADMIN:
		return 1;
	default:
		return 0;
	}
}

int rt_allowed(const struct rt_principal *who, const Mailroom__Request *req)
{
	switch (req->op_case) {
	case MAILROOM__REQUEST__OP_SUBMIT:
	case MAILROOM__REQUEST__OP_STATUS:
	case MAILROOM__REQUEST__OP_STATS:
		return who->kind == MAILROOM__AUTH_KIND__AUTH_GATEWAY;
	case MAILROOM__REQUEST__OP_LOG:
		/* The log is public: whoever can reach the router may read it. */
		return who->kind == MAILROOM__AUTH_KIND__AUTH_GATEWAY ||
		       (who->kind == MAILROOM__AUTH_KIND__AUTH_HANDLER && who->handler);
	case MAILROOM__REQUEST__OP_PULL:
	case MAILROOM__REQUEST__OP_RENEW:
	case MAILROOM__REQUEST__OP_REPLY:
	case MAILROOM__REQUEST__OP_RELEASE:
	case MAILROOM__REQUEST__OP_TRANSFER:
	case MAILROOM__REQUEST__OP_QUEUES:
	case MAILROOM__REQUEST__OP_CLOCK:
	case MAILROOM__REQUEST__OP_HOTLINE:
	case MAILROOM__REQUEST__OP_DISCLOSURE:
		return who->kind == MAILROOM__AUTH_KIND__AUTH_HANDLER && who->handler;
	case MAILROOM__REQUEST__OP_IMPORT_MSG:
		return who->kind == MAILROOM__AUTH_KIND__AUTH_HANDLER && who->handler &&
		       who->handler->may_import;
	case MAILROOM__REQUEST__OP_DETAIL:
		return who->kind == MAILROOM__AUTH_KIND__AUTH_HANDLER && who->handler;
	case MAILROOM__REQUEST__OP_SUPERVISE:
		return who->kind == MAILROOM__AUTH_KIND__AUTH_HANDLER && who->handler &&
		       who->handler->may_supervise;
	/* Only from mailroom-admin's own key file, never through the console. */
	case MAILROOM__REQUEST__OP_HANDLER_ADMIN:
		return who->kind == MAILROOM__AUTH_KIND__AUTH_HANDLER && who->handler &&
		       who->handler->may_admin && !who->console;
	/* mailroom-hotline seals with the gateway secret (router/README.md). */
	case MAILROOM__REQUEST__OP_INGEST:
	case MAILROOM__REQUEST__OP_OUTBOX:
	case MAILROOM__REQUEST__OP_OUTBOX_ACK:
	case MAILROOM__REQUEST__OP_HOTLINE_STATUS:
		return who->kind == MAILROOM__AUTH_KIND__AUTH_GATEWAY;
	default:
		return 0;
	}
}

int rt_apply(struct rt_core *core, st_txn *txn, const struct rt_principal *who,
             const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	if (!rt_allowed(who, req))
		return rt_fail(res, PB_EFORBIDDEN, "forbidden", "operation not allowed for this caller");
	switch (req->op_case) {
	case MAILROOM__REQUEST__OP_SUBMIT:
		return op_submit(core, txn, who, req, now_ms, res);
	case MAILROOM__REQUEST__OP_PULL:
		return rt_op_pull(core, txn, who, req, now_ms, res);
	case MAILROOM__REQUEST__OP_RENEW:
	case MAILROOM__REQUEST__OP_REPLY:
	case MAILROOM__REQUEST__OP_RELEASE:
	case MAILROOM__REQUEST__OP_TRANSFER:
		return rt_op_lease(core, txn, who, req, now_ms, res);
	case MAILROOM__REQUEST__OP_CLOCK:
		return rt_op_clock(core, txn, who, req, now_ms, res);
	case MAILROOM__REQUEST__OP_HOTLINE:
		return rt_op_hotline(core, txn, who, req, now_ms, res);
	case MAILROOM__REQUEST__OP_INGEST:
		return rt_op_ingest(core, txn, who, req, now_ms, res);
	case MAILROOM__REQUEST__OP_OUTBOX_ACK:
		return rt_op_outbox_ack(core, txn, who, req, now_ms, res);
	case MAILROOM__REQUEST__OP_DISCLOSURE:
		return rt_op_disclosure(core, txn, who, req, now_ms, res);
	case MAILROOM__REQUEST__OP_IMPORT_MSG:
		return rt_op_import(core, txn, who, req, now_ms, res);
	case MAILROOM__REQUEST__OP_HANDLER_ADMIN:
		return rt_op_handler_admin(core, txn, who, req, now_ms, res);
	default:
		return rt_fail(res, PB_EINVAL, "invalid_request", "not a write operation");
	}
}

int rt_read(struct rt_core *core, st_txn *txn, const struct rt_principal *who,
            const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	if (!rt_allowed(who, req))
		return rt_fail(res, PB_EFORBIDDEN, "forbidden", "operation not allowed for this caller");
	switch (req->op_case) {
	case MAILROOM__REQUEST__OP_STATUS:
		return op_status(core, txn, req, res);
	case MAILROOM__REQUEST__OP_QUEUES: {
		int rc = op_queues(txn, who, res);
		if (rc == PB_OK && who->console && (rc = rt_console_queue_counts(txn, res->resp.queues)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot read the messages");
		return rc;
	}
	case MAILROOM__REQUEST__OP_STATS:
		return op_stats(core, txn, now_ms, res);
	case MAILROOM__REQUEST__OP_LOG:
		return rt_op_log(txn, req, res);
	case MAILROOM__REQUEST__OP_OUTBOX:
		return rt_op_outbox(txn, req, res);
	case MAILROOM__REQUEST__OP_HOTLINE_STATUS:
		return rt_op_hotline_status(txn, res);
	case MAILROOM__REQUEST__OP_DETAIL:
	case MAILROOM__REQUEST__OP_SUPERVISE:
		return rt_console_read(core, txn, who, req, now_ms, res);
	default:
		return rt_fail(res, PB_EINVAL, "invalid_request", "not a read operation");
	}
}
