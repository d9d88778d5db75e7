/* Repeats on the plain channels (局长信箱, 在线咨询, 监督投诉). The same
 * person is found by a keyed hash of the normalised phone number or
 * e-mail address (st_applicant_hash under a per-channel domain, so the
 * clear contact is never indexed or logged), in the index disclosure
 * applicants use. An earlier message of the same channel, received within
 * [repeats] <channel>_window_days before this one, whose subject and body
 * resemble this one's from [repeats] permille, is named in an
 * AUDIT_REPEAT_FLAGGED record. Nothing is refused; the handler sees the
 * earlier case and records confirmed or dismissed (AUDIT_REPEAT_DECIDED).
 * Look back only: a message is compared with what came before it. */
#include "rt_chan.h"
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (86400LL * 1000)
#define SCAN_MAX 50           /* earlier messages compared per contact, newest first: the
                               * writer thread pays for each */
#define TEXT_MAX (10000 * 4 + 200 * 4 + 2)
/* The bigram cache's budget: an entry of a 300-character message is
 * about 2 KiB, so some 8,000 messages, the last 50 of 160 busy contacts. */
#define BGCACHE_BYTES ((size_t)16 << 20)

int rt_contact_norm(const char *kind, const char *in, char *out, size_t len)
{
	size_t n = 0;

	if (!in || len == 0)
		return -1;
	if (strcmp(kind, "phone") == 0) {
		/* digits only; a mobile number with the country code is the
		 * same number without it */
		for (const char *p = in; *p; p++) {
			if (*p >= '0' && *p <= '9') {
				if (n + 1 >= len)
					return -1;
				out[n++] = *p;
			}
		}
		out[n] = '\0';
		if (n == 13 && strncmp(out, "861", 3) == 0)
			memmove(out, out + 2, (n -= 2) + 1);
		else if (n == 15 && strncmp(out, "00861", 5) == 0)
			memmove(out, out + 4, (n -= 4) + 1);
		return n >= 5 ? 0 : -1;
	}
	if (strcmp(kind, "email") == 0) {
		const char *b = in, *e = in + strlen(in);
		while (*b == ' ' || *b == '\t')
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - b) + 1 > len || !memchr(b, '@', (size_t)(e - b)))
			return -1;
		for (; b < e; b++)
			out[n++] = (char)(*b >= 'A' && *b <= 'Z' ? *b - 'A' + 'a' : *b);
		out[n] = '\0';
		return 0;
	}
	return -1;
}

/* The keyed hash of one way to reach the citizen on one channel. */
static int contact_hash(struct rt_core *core, int channel, const char *kind, const char *value,
                        uint8_t out[ST_HASH_LEN])
{
	char norm[256], domain[64];

	if (!value || !*value || rt_contact_norm(kind, value, norm, sizeof(norm)))
		return -1;
	snprintf(domain, sizeof(domain), "contact/%d/%s", channel, kind);
	st_applicant_hash(core->store, domain, norm, out);
	return 0;
}

static const char *const kinds[2] = {"phone", "email"};

static char *whole_text(const char *subject, const char *body)
{
	size_t a = subject ? strlen(subject) : 0, b = body ? strlen(body) : 0;
	char *s = malloc(a + b + 2);

	if (s) {
		memcpy(s, subject ? subject : "", a);
		s[a] = '\n';
		memcpy(s + a + 1, body ? body : "", b);
		s[a + b + 1] = '\0';
	}
	return s;
}

struct scan {
	st_txn *t;
	struct rt_bgcache *cache;
	struct rt_bigrams text;   /* the new message's, computed once for every comparison */
	const uint8_t *self;
	uint8_t best[PB_ID_LEN];
	int best_pm;
	int rc;
};

/* An earlier message's bigram set: from the cache, else built from the
 * stored texts and kept. *owned is set when the caller must free it. */
static int bigrams_of_msg(struct scan *s, const uint8_t id[16], struct rt_bigrams *owned,
                          const struct rt_bigrams **out)
{
	Mailroom__StoredMessage *m;
	char *text;
	int rc;

	if ((*out = rt_bgcache_get(s->cache, id)))
		return PB_OK;
	if ((rc = st_msg_get(s->t, id, &m)))
		return rc;
	text = whole_text(m->subject, m->body);
	st_msg_free(m);
	if (!text)
		return PB_ENOMEM;
	rc = rt_bigrams_of(text, owned);
	free(text);
	if (rc)
		return rc;
	if ((*out = rt_bgcache_put(s->cache, id, owned)))
		return PB_OK;
	*out = owned;
	return PB_OK;
}

static int compare_one(const uint8_t id[16], int64_t received_ms, void *arg)
{
	struct scan *s = arg;
	struct rt_bigrams owned = {0};
	const struct rt_bigrams *b;
	int pm;

	(void)received_ms;
	if (s->self && memcmp(id, s->self, PB_ID_LEN) == 0)
		return 0;
	if ((s->rc = bigrams_of_msg(s, id, &owned, &b)))
		return s->rc == PB_ENOTFOUND ? (s->rc = PB_OK) : 1;
	pm = rt_similarity_sets(&s->text, b);
	rt_bigrams_free(&owned);
	if (pm > s->best_pm) {
		s->best_pm = pm;
		memcpy(s->best, id, PB_ID_LEN);
	}
	return 0;
}

/* The pieces of the check that need no store (rt_prepare): the new
 * message's bigram set and its contact's hashes. */
void rt_repeat_prepare(struct rt_core *core, const Mailroom__SubmitReq *s, struct rt_prep *p)
{
	const char *values[2] = {s->contact ? s->contact->phone : NULL,
	                         s->contact ? s->contact->email : NULL};
	char *text;

	/* Long texts are refused by the intake; no work on them here. */
	if (!s->subject || !s->body || strlen(s->subject) + strlen(s->body) + 2 > TEXT_MAX)
		return;
	if ((text = whole_text(s->subject, s->body))) {
		if (rt_bigrams_of(text, &p->text))
			p->text.v = NULL;
		free(text);
	}
	for (int k = 0; k < 2; k++)
		p->hashed[k] = contact_hash(core, s->channel, kinds[k], values[k], p->contact_hash[k]) == 0;
}

/* The scan for earlier messages, before the new one is created: its
 * flag then goes into the one put of the message. Only with the
 * prepared set and hashes; without them rt_repeat_check does it all. */
int rt_repeat_scan(struct rt_core *core, st_txn *t, struct rt_result *res,
                   const Mailroom__SubmitReq *s, int64_t received_ms)
{
	const struct pb_conf *conf = core->conf;
	int ch = (int)s->channel, window = ch > 0 && ch < PB_CH_COUNT ? conf->repeat_window_days[ch] : 0;
	struct rt_prep *p = rt_prep_for(res, s);
	struct scan scan = {.t = t, .best_pm = -1};
	int rc = PB_OK;

	if (!p || !p->text.v)
		return PB_OK;
	if (!core->bigrams)
		rt_bgcache_new(BGCACHE_BYTES, &core->bigrams);
	scan.cache = core->bigrams;
	scan.text = p->text;   /* lent: rt_repeat_check hands it to the cache */
	for (int k = 0; k < 2 && window > 0 && !rc; k++) {
		if (!p->hashed[k])
			continue;
		rc = st_applicant_each(t, p->contact_hash[k], received_ms - (int64_t)window * DAY_MS,
		                       received_ms, SCAN_MAX, compare_one, &scan);
		if (scan.rc)
			rc = scan.rc;
	}
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot check for repeats");
	p->scanned = 1;
	p->repeat_pm = scan.best_pm;
	memcpy(p->repeat_of, scan.best, PB_ID_LEN);
	return PB_OK;
}

int rt_repeat_check(struct rt_core *core, st_txn *t, struct rt_result *res,
                    Mailroom__StoredMessage *m, const Mailroom__Contact *c, int64_t received_ms)
{
	const struct pb_conf *conf = core->conf;
	int ch = (int)m->channel, window = ch > 0 && ch < PB_CH_COUNT ? conf->repeat_window_days[ch] : 0;
	struct scan scan = {.t = t, .self = m->id.data, .best_pm = -1};
	const char *values[2] = {c ? c->phone : NULL, c ? c->email : NULL};
	uint8_t h[ST_HASH_LEN];
	Mailroom__AuditRecord rec;
	char detail[64];
	uint8_t *rel;
	char *text;
	int rc = PB_OK;
	/* Prepared for this very message (its texts and contact) or not at all. */
	struct rt_prep *p = NULL;
	if (res->prep && res->prep->sub && res->prep->sub->contact == c &&
	    res->prep->sub->subject == m->subject && res->prep->sub->body == m->body &&
	    res->prep->sub->channel == m->channel)
		p = res->prep;

	/* Without memory for the cache the check runs uncached. */
	if (!core->bigrams)
		rt_bgcache_new(BGCACHE_BYTES, &core->bigrams);
	scan.cache = core->bigrams;
	if (p && p->text.v) {
		scan.text = p->text;   /* taken: the cache keeps it below */
		p->text.v = NULL;
		p->text.n = 0;
	} else {
		if (!(text = whole_text(m->subject, m->body)))
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		rc = rt_bigrams_of(text, &scan.text);
		free(text);
		if (rc)
			return rt_fail(res, rc, pb_err_name(rc), "cannot check for repeats");
	}
	for (int k = 0; k < 2 && p && p->scanned; k++)
		if (p->hashed[k] && (rc = st_applicant_add(t, p->contact_hash[k], received_ms, m->id.data)))
			break;
	if (p && p->scanned) {
		scan.best_pm = p->repeat_pm;
		memcpy(scan.best, p->repeat_of, PB_ID_LEN);
	}
	for (int k = 0; k < 2 && !(p && p->scanned); k++) {
		if (p)
			memcpy(h, p->contact_hash[k], sizeof(h));
		if (p ? !p->hashed[k] : contact_hash(core, m->channel, kinds[k], values[k], h) != 0)
			continue;
		/* Earlier ones only: an old message brought over by an import
		 * is no repeat of a later one. */
		rc = window > 0 ? st_applicant_each(t, h, received_ms - (int64_t)window * DAY_MS,
		                                    received_ms, SCAN_MAX, compare_one, &scan)
		                : PB_OK;
		if (scan.rc)
			rc = scan.rc;
		if (rc || (rc = st_applicant_add(t, h, received_ms, m->id.data)))
			break;
	}
	/* This message is the next one's earlier message: keep its set. */
	if (!rc)
		rt_bgcache_put(scan.cache, m->id.data, &scan.text);
	rt_bigrams_free(&scan.text);
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot check for repeats");
	if (scan.best_pm < conf->repeat_permille)
		return PB_OK;
	/* Scanned before the message was created: stored with its flag. */
	if (!(p && p->scanned)) {
		if (!(rel = rt_own(res, malloc(PB_ID_LEN), RT_OWN_FREE)))
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		memcpy(rel, scan.best, PB_ID_LEN);
		m->repeat_of.data = rel;
		m->repeat_of.len = PB_ID_LEN;
		m->repeat_permille = (uint32_t)scan.best_pm;
		if ((rc = st_msg_put(t, m)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot store the message");
	}
	snprintf(detail, sizeof(detail), "probable repeat, resemblance %d/1000", scan.best_pm);
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_FLAGGED;
	rec.related_id = m->repeat_of;
	rec.similarity_permille = m->repeat_permille;
	rec.detail = detail;
	if ((rc = rt_audit(core, t, res, &rec, m, "router", received_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	return PB_OK;
}

/* After a pull or in a detail read: the earlier case a flag names. */
int rt_repeat_view(st_txn *t, struct rt_result *res, Mailroom__MessageView *v)
{
	Mailroom__StoredMessage *e;

	if (!v || v->repeat_of.len != PB_ID_LEN)
		return PB_OK;
	if (rt_msg_load(t, v->repeat_of.data, v->repeat_of.len, res, &e))
		return PB_OK;   /* the earlier one is gone: the flag stays */
	v->repeat_of_tracking = e->tracking_code;
	v->repeat_of_received_ms = e->received_ms;
	return PB_OK;
}

int rt_op_repeat_decide(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                        const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__RepeatDecideReq *x = req->repeat_decide;
	Mailroom__StoredMessage *m;
	Mailroom__AuditRecord rec;
	Mailroom__MessageView *v;
	char actor[PB_NAME_MAX + 16];
	int rc;

	if (!x->decision || (strcmp(x->decision, "confirmed") != 0 && strcmp(x->decision, "dismissed") != 0))
		return rt_fail(res, PB_EINVAL, "invalid_field", "decision: confirmed or dismissed");
	if ((rc = rt_msg_load(t, x->id.data, x->id.len, res, &m)))
		return rc;
	if (!pb_handler_may(who->handler, m->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden", "this handler may not use that queue");
	if (m->disclosure)
		return rt_fail(res, PB_ESTATE, "use_disclosure_steps",
		               "a disclosure application's repeat is decided by its own step (disclosure repeat)");
	if (m->repeat_of.len != PB_ID_LEN)
		return rt_fail(res, PB_ESTATE, "not_flagged", "the message is not flagged as a repeat");
	if (m->repeat_decision && *m->repeat_decision)
		return rt_fail(res, PB_ESTATE, "repeat_decided", "the repeat flag is decided already");
	m->repeat_decision = x->decision;
	if ((rc = st_msg_put(t, m)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot store the message");
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_DECIDED;
	rec.related_id = m->repeat_of;
	rec.detail = x->decision;
	if ((rc = rt_audit(core, t, res, &rec, m, rt_actor(who, actor, sizeof(actor)), now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	if ((rc = rt_view(core, res, m, 1, &v)) || (rc = rt_repeat_view(t, res, v)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot build the answer");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_REPEAT_DECIDE;
	res->resp.repeat_decide = v;
	return PB_OK;
}
