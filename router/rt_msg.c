/* The helper library under the operations: loading, viewing, creating
 * and routing messages, receipts, idempotency keys. */
#include "rt_chan.h"
#include "rt_ops.h"
#include "rt_witness.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"
#include "pb_utf8.h"
#include "mt.h"
#include "sn.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	else if (who->kind == MAILROOM__AUTH_KIND__AUTH_CONNECTOR)
		snprintf(buf, len, "hotline");   /* one connector per office: its role, no name */
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
	const struct rt_chan *ch = rt_chan_of(m->channel);
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
	v->merged_into = m->merged_into_code;
	v->merged_ms = m->merged_ms;
	/* Referral: both cases name each other, to the citizen too. */
	v->referred_to_tracking = m->referred_to_tracking;
	v->referred_to_channel = m->referred_to_channel;
	v->referred_from_tracking = m->referred_from_tracking;
	v->referred_from_channel = m->referred_from_channel;
	v->referred_ms = m->referred_ms;
	v->rating = m->rating;
	v->rated_ms = m->rated_ms;
	v->published = m->published != NULL;
	v->attachments = m->attachments;
	v->n_attachments = m->n_attachments;
	v->reply_attachments = m->reply_attachments;
	v->n_reply_attachments = m->n_reply_attachments;
	for (size_t i = 0; i < m->n_clocks; i++)
		if (m->clocks[i]->kind == ST_CLOCK_REPLY) {
			v->paused_since_ms = m->clocks[i]->paused_since_ms;
			v->paused_days = m->clocks[i]->paused_days;
			v->extended_days = m->clocks[i]->extended_days;
		}
	v->notices_off = m->notices_off;
	if (ch->view) {
		int rc = ch->view(core, res, m, handler, v);
		if (rc)
			return rc;
	}
	if (handler) {
		int hide = ch->contact_hidden && ch->contact_hidden(m);
		v->body = m->body;
		v->category = m->category;
		v->replied_by = m->replied_by;
		v->merged_codes = m->merged_codes;
		v->n_merged_codes = m->n_merged_codes;
		v->assists = m->assists;
		v->n_assists = m->n_assists;
		v->repeat_of = m->repeat_of;
		v->repeat_permille = m->repeat_permille;
		v->repeat_decision = m->repeat_decision;
		v->callback = m->callback;
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
/* A receipt for record index with room for its hash and key id, owned
 * by res; NULL when out of memory. */
static Mailroom__Receipt *receipt_new(struct rt_result *res, uint64_t index)
{
	struct {
		Mailroom__Receipt r;
		uint8_t hash[ST_HASH_LEN], key_id[ST_KEYID_LEN];
	} *b = rt_own(res, calloc(1, sizeof(*b)), RT_OWN_FREE);

	if (!b)
		return NULL;
	mailroom__receipt__init(&b->r);
	b->r.log_index = index;
	b->r.record_hash.data = b->hash;
	b->r.record_hash.len = ST_HASH_LEN;
	b->r.key_id.data = b->key_id;
	b->r.key_id.len = ST_KEYID_LEN;
	return &b->r;
}

static int receipt_later(struct rt_result *res, uint64_t index, Mailroom__Receipt **out)
{
	Mailroom__Receipt *r = receipt_new(res, index);

	if (!r)
		return PB_ENOMEM;
	res->receipt = r;
	res->receipt_index = index;
	*out = r;
	return PB_OK;
}

/* r for record index against the signed note of size (len bytes). */
static int receipt_fill(struct rt_core *core, st_txn *t, struct rt_result *res, uint64_t index,
                        const char *note, size_t len, uint64_t size, Mailroom__Receipt *r)
{
	uint8_t proof[SN_PROOF_MAX][ST_HASH_LEN];
	const uint8_t *data;
	char *text;
	size_t dlen, n, cap, tlen;
	int rc;

	if ((rc = st_log_get(t, index, &data, &dlen)))
		return rc;
	if (res->appended_known && res->appended_index == index)
		memcpy(r->record_hash.data, res->appended_hash, ST_HASH_LEN);
	else
		mt_sha256(data, dlen, r->record_hash.data);
	memcpy(r->key_id.data, core->keys.key_id, ST_KEYID_LEN);
	if ((rc = st_tree_inclusion(t, index, size, proof, SN_PROOF_MAX, &n)))
		return rc;
	/* The record rides along as the proof's extra data: with it the proof
	 * stands alone (its leaf is H(0x00 || record)). */
	cap = 64 + (dlen + 2) / 3 * 4 + n * 46 + len;
	if (!(text = rt_own(res, malloc(cap), RT_OWN_FREE)))
		return PB_ENOMEM;
	if ((rc = sn_proof_format(index, data, dlen, (const uint8_t(*)[SN_HASH_LEN])proof, n, note,
	                          len, text, cap, &tlen)))
		return rc;
	r->proof = text;
	return PB_OK;
}

int rt_result_receipts_at(struct rt_core *core, st_txn *t, struct rt_result *res,
                          const struct rt_note *n)
{
	Mailroom__Receipt *r = res->receipt;

	if (!r || res->resp.code != PB_OK)
		return PB_OK;
	return receipt_fill(core, t, res, res->receipt_index, n->text, n->len, n->size, r);
}

int rt_result_receipts(struct rt_core *core, st_txn *t, struct rt_result *res)
{
	struct rt_note n;
	int rc;

	if (!res->receipt || res->resp.code != PB_OK)
		return PB_OK;
	/* The latest checkpoint: the batch's own, sealed before receipts, with
	 * whatever cosignatures it has (none yet when the batch made it; a
	 * repeated submission's may have some). The status view carries a
	 * cosigned one. */
	if ((rc = rt_witness_note(t, 0, &n.text, &n.len, &n.size)))
		return rc;
	rc = rt_result_receipts_at(core, t, res, &n);
	free(n.text);
	return rc;
}

int rt_status_receipt(struct rt_core *core, st_txn *t, struct rt_result *res, uint64_t index,
                      Mailroom__Receipt **out)
{
	Mailroom__Receipt *r = receipt_new(res, index);
	char *note;
	size_t len;
	uint64_t size;
	int rc;

	if (!r)
		return PB_ENOMEM;
	if ((rc = rt_witness_receipt_note(t, index, &note, &len, &size)))
		return rc;
	rc = receipt_fill(core, t, res, index, note, len, size, r);
	free(note);
	if (rc == PB_OK)
		*out = r;
	return rc;
}

void rt_view_receipt(struct rt_core *core, st_txn *t, struct rt_result *res,
                     const Mailroom__StoredMessage *m, Mailroom__MessageView *v)
{
	/* A store too old to know the index has no receipt to give. */
	if (m->received_log_index > 0 &&
	    rt_status_receipt(core, t, res, m->received_log_index, &v->receipt))
		pb_warn("cannot build a status receipt for record %llu",
		        (unsigned long long)m->received_log_index);
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

void rt_submit_hash(const uint8_t salt[ST_SALT_LEN], const char *subject, const char *body,
                    uint8_t out[ST_HASH_LEN])
{
	st_submit_hash(salt, subject, body, out);
}

int rt_contact_seal(struct rt_core *core, const Mailroom__Contact *c, uint8_t **out, size_t *outlen)
{
	size_t plen = mailroom__contact__get_packed_size(c);
	uint8_t *plain = malloc(plen ? plen : 1);
	int rc;

	if (!plain)
		return PB_ENOMEM;
	mailroom__contact__pack(c, plain);
	rc = st_seal(core->store, plain, plen, out, outlen);
	sodium_memzero(plain, plen);
	free(plain);
	return rc;
}

int rt_seal_contact(struct rt_core *core, struct rt_result *res, const Mailroom__Contact *c,
                    Mailroom__StoredMessage *m)
{
	int rc;

	m->contact_sealed.data = NULL;
	m->contact_sealed.len = 0;
	if (!c)
		return PB_OK;
	if ((rc = rt_contact_seal(core, c, &m->contact_sealed.data, &m->contact_sealed.len)))
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
	/* Salt, commitment and sealed contact made before the writer, if so. */
	const struct rt_prep *p = rt_prep_for(res, s);
	int rc;

	pb_id_new(now_ms, id);
	rc = st_track_issue(t, id, s->access_key_hash.len ? s->access_key_hash.data : NULL, code);
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot allocate a tracking code");
	if (ref && ref[0] && (rc = st_extref_put(t, ref, id)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot index the order");

	queue = rt_route(core->conf, s->channel, s->category, s->subject, s->body, &rule);
	if (p && p->have_commit)
		memcpy(salt, p->salt, sizeof(salt));
	else
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
	m.notices_off = s->notices_off;
	if (s->order)
		m.hotline_state = MAILROOM__HOTLINE_STATE__HOTLINE_DISPATCHED;
	m.queue_prio = 1;
	if (p && p->scanned && p->repeat_pm >= core->conf->repeat_permille) {
		m.repeat_of.data = (uint8_t *)p->repeat_of;   /* the op's, outliving the answer */
		m.repeat_of.len = sizeof(p->repeat_of);
		m.repeat_permille = (uint32_t)p->repeat_pm;
	}
	m.cal_version.data = core->cal_version;
	m.cal_version.len = sizeof(core->cal_version);
	if ((rc = rt_clocks_start(core, t, res, &m, now_ms)) || (rc = rt_timers_start(core, t, &m)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot start the deadline clocks");
	rt_platform_note(&m, note, sizeof(note));
	if (p && p->have_sealed) {
		/* The prepared buffer outlives the answer (freed with the op). */
		m.contact_sealed.data = p->sealed;
		m.contact_sealed.len = p->sealed_len;
	} else if ((rc = rt_seal_contact(core, res, s->contact, &m))) {
		return rt_fail(res, rc, pb_err_name(rc), "cannot seal contact");
	}

	/* The texts are proved by a salted hash: the log never holds them. */
	ProtobufCBinaryData *acommits = NULL;
	size_t nacommits = 0;
	if ((rc = rt_attach_bind(core, t, s, &m, res, &acommits, &nacommits)))
		return rc;
	if (p && p->have_commit)
		memcpy(chash, p->content_hash, sizeof(chash));
	else
		rt_submit_hash(salt, s->subject, s->body, chash);
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED;
	rec.attachment_commits = acommits;
	rec.n_attachment_commits = nacommits;
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
	res->appended_known = 1;
	res->appended_index = rcpt.index;
	memcpy(res->appended_hash, rcpt.hash, ST_HASH_LEN);

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

/* The store's idempotency index (st_idem_*) names, for a key, the first
 * message and the hash of the request that stored it: a repeat with the
 * same request gets that message, one with another request a refusal. */
static int idem_check(const Mailroom__SubmitReq *s, struct rt_result *res)
{
	if (s->idem_key.len != ST_HASH_LEN || s->idem_body.len != ST_HASH_LEN)
		return rt_fail(res, PB_EINVAL, "invalid_request", "idempotency hashes malformed");
	return PB_OK;
}

int rt_idem_find(st_txn *t, const Mailroom__SubmitReq *s, struct rt_result *res,
                 Mailroom__StoredMessage **m)
{
	uint8_t id[PB_ID_LEN];
	int rc;

	if (!s->idem_key.len && !s->idem_body.len)
		return PB_ENOTFOUND;
	if ((rc = idem_check(s, res)))
		return rc;
	rc = st_idem_get(t, s->idem_key.data, s->idem_body.data, id);
	if (rc == PB_ENOTFOUND)
		return PB_ENOTFOUND;
	if (rc == PB_ESTATE)
		return rt_fail(res, PB_ESTATE, "idempotency_mismatch",
		               "this idempotency key was used with another request");
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot read the idempotency index");
	return rt_msg_load(t, id, sizeof(id), res, m);
}

int rt_idem_put(st_txn *t, const Mailroom__SubmitReq *s, const uint8_t *id,
                struct rt_result *res)
{
	int rc;

	if (!s->idem_key.len && !s->idem_body.len)
		return PB_OK;
	if ((rc = idem_check(s, res)))
		return rc;
	if ((rc = st_idem_put(t, s->idem_key.data, s->idem_body.data, id)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot index the idempotency key");
	return PB_OK;
}

