/* Published answers (公开答复) and the public statistics: a handler
 * publishes a replied message's redacted subject and body beside the
 * reply, or withdraws them with a reason; the gateway reads them for
 * /answers and the monthly counts for /stats. Nothing the citizen gave
 * as contact may be in a published text. */
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWERS_MAX 100

/* Only the digits of s, so "138 0000 0000" still shows the number. */
static void digits_of(const char *s, char *out, size_t len)
{
	size_t n = 0;

	for (; s && *s && n + 1 < len; s++)
		if (*s >= '0' && *s <= '9')
			out[n++] = *s;
	out[n] = '\0';
}

static int has(const char *text, const char *needle)
{
	if (!text || !needle || !*needle)
		return 0;
	if (strstr(text, needle))
		return 1;
	/* e-mail addresses case-insensitively */
	return strchr(needle, '@') && strcasestr(text, needle);
}

/* 1 when a published text holds the citizen's name, phone or e-mail. */
static int shows_contact(const Mailroom__Contact *c, const char *const *texts, size_t n)
{
	char phone[64], digits[2 * 10000 + 1];

	digits_of(c->phone, phone, sizeof(phone));
	for (size_t i = 0; i < n; i++) {
		if (has(texts[i], c->name) || has(texts[i], c->email) || has(texts[i], c->phone))
			return 1;
		digits_of(texts[i], digits, sizeof(digits));
		if (strlen(phone) >= 5 && strstr(digits, phone))
			return 1;
	}
	return 0;
}

/* An applicant's name, identity number and address count as contact too. */
static int shows_applicant(const Mailroom__Applicant *a, const char *const *texts, size_t n)
{
	Mailroom__Contact c = MAILROOM__CONTACT__INIT;

	c.name = a->name;
	for (size_t i = 0; i < n; i++)
		if (has(texts[i], a->id_number) || has(texts[i], a->address))
			return 1;
	return shows_contact(&c, texts, n) || (a->contact && shows_contact(a->contact, texts, n));
}

static int contact_check(struct rt_core *core, const Mailroom__StoredMessage *m,
                         const char *const *texts, size_t n, int *found)
{
	const ProtobufCBinaryData *sealed = m->disclosure ? &m->disclosure->applicant_sealed
	                                                  : &m->contact_sealed;
	uint8_t *plain;
	size_t plen;
	int rc;

	*found = 0;
	if (!sealed->len)
		return PB_OK;
	if ((rc = st_unseal(core->store, sealed->data, sealed->len, &plain, &plen)))
		return rc;
	if (m->disclosure) {
		Mailroom__Applicant *a = mailroom__applicant__unpack(NULL, plen, plain);
		if (a) {
			*found = shows_applicant(a, texts, n);
			mailroom__applicant__free_unpacked(a, NULL);
		}
		rc = a ? PB_OK : PB_ECORRUPT;
	} else {
		Mailroom__Contact *c = mailroom__contact__unpack(NULL, plen, plain);
		if (c) {
			*found = shows_contact(c, texts, n);
			mailroom__contact__free_unpacked(c, NULL);
		}
		rc = c ? PB_OK : PB_ECORRUPT;
	}
	sodium_memzero(plain, plen);
	free(plain);
	return rc;
}

int rt_op_publish(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                  const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__PublishReq *x = req->publish;
	Mailroom__StoredMessage *m;
	Mailroom__AuditRecord rec;
	Mailroom__MessageView *v;
	Mailroom__PublishedAnswer *p;
	uint8_t chash[ST_HASH_LEN];
	char actor[PB_NAME_MAX + 16];
	int rc, found;

	if ((rc = rt_msg_by_ref(t, &x->id, x->tracking_code, res, &m)))
		return rc;
	if (!pb_handler_may(who->handler, m->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden", "this handler may not use that queue");
	rt_actor(who, actor, sizeof(actor));
	mailroom__audit_record__init(&rec);
	if (x->unpublish) {
		if (!rt_text_ok(x->reason, 1, 500))
			return rt_fail(res, PB_EINVAL, "invalid_field", "reason: 1-500 characters");
		if (!m->published)
			return rt_fail(res, PB_ESTATE, "not_published", "this answer is not published");
		m->published = NULL;
		rec.event = MAILROOM__AUDIT_EVENT__AUDIT_UNPUBLISHED;
		rec.detail = x->reason;
	} else {
		const char *texts[] = {x->subject, x->body, m->reply_text};
		if (!rt_text_ok(x->subject, 1, 200) || !rt_text_ok(x->body, 1, 10000))
			return rt_fail(res, PB_EINVAL, "invalid_field",
			               "subject 1-200 and body 1-10 000 characters");
		if (m->status != MAILROOM__STATUS__STATUS_REPLIED || !m->replied_ms)
			return rt_fail(res, PB_ESTATE, "not_replied", "only an answered message can be published");
		if ((rc = contact_check(core, m, texts, 3, &found)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot read the contact");
		if (found)
			return rt_fail(res, PB_EINVAL, "contact_in_text",
			               "the subject, body or reply holds the citizen's name, phone or e-mail; "
			               "redact it before publishing");
		if (!(p = rt_own(res, malloc(sizeof(*p)), RT_OWN_FREE)))
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		mailroom__published_answer__init(p);
		p->subject = x->subject;
		p->body = x->body;
		p->published_ms = now_ms;
		p->published_by = actor;
		m->published = p;
		rt_submit_hash(m->text_salt.data, x->subject, x->body, chash);
		rec.event = MAILROOM__AUDIT_EVENT__AUDIT_PUBLISHED;
		rec.content_hash.data = chash;
		rec.content_hash.len = sizeof(chash);
	}
	if ((rc = st_msg_put(t, m)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot store the message");
	if ((rc = rt_audit(core, t, res, &rec, m, actor, now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	if ((rc = rt_view(core, res, m, 1, &v)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot build the answer");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_PUBLISH;
	res->resp.publish = v;
	return PB_OK;
}

/* ------------------------------------------------------------ reads -- */

struct found {
	uint8_t id[PB_ID_LEN];
	int64_t at;
};

struct scan {
	const char *query;
	struct found *v;
	size_t n, cap;
	int failed;
	/* statistics */
	Mailroom__MonthStats *months;
	size_t nmonths, capmonths;
};

static int matches(const Mailroom__StoredMessage *m, const char *q)
{
	if (!q || !*q)
		return 1;
	return strstr(m->published->subject, q) || strstr(m->published->body, q) ||
	       (m->reply_text && strstr(m->reply_text, q));
}

static int collect(const Mailroom__StoredMessage *m, void *arg)
{
	struct scan *s = arg;

	if (!m->published || m->id.len != PB_ID_LEN || !matches(m, s->query))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct found *p = realloc(s->v, cap * sizeof(*p));
		if (!p) {
			s->failed = 1;
			return 1;
		}
		s->v = p;
		s->cap = cap;
	}
	memcpy(s->v[s->n].id, m->id.data, PB_ID_LEN);
	s->v[s->n++].at = m->published->published_ms;
	return 0;
}

static int newest_first(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	return x->at < y->at ? 1 : x->at > y->at ? -1 : memcmp(x->id, y->id, PB_ID_LEN);
}

static int public_answer(struct rt_result *res, Mailroom__StoredMessage *m, Mailroom__PublicAnswer **out)
{
	Mailroom__PublicAnswer *a = rt_own(res, malloc(sizeof(*a)), RT_OWN_FREE);

	if (!a)
		return PB_ENOMEM;
	mailroom__public_answer__init(a);
	a->id = m->id;
	a->channel = m->channel;
	a->department = m->queue;
	a->subject = m->published->subject;
	a->body = m->published->body;
	a->reply = m->reply_text;
	a->received_ms = m->received_ms;
	a->replied_ms = m->first_replied_ms ? m->first_replied_ms : m->replied_ms;
	a->published_ms = m->published->published_ms;
	*out = a;
	return PB_OK;
}

static void month_of(int64_t ms, char out[16])
{
	int y, mo, d;

	pb_civil_from_days(pb_day_of_ms(ms), &y, &mo, &d);
	snprintf(out, 16, "%04d-%02d", y, mo);
}

/* Counts m in its month and channel (by receipt). */
static int tally(const Mailroom__StoredMessage *m, void *arg)
{
	struct scan *s = arg;
	Mailroom__MonthStats *ms = NULL;
	char month[16];
	int64_t answered = m->first_replied_ms ? m->first_replied_ms : m->replied_ms;

	month_of(m->received_ms, month);
	for (size_t i = 0; i < s->nmonths && !ms; i++)
		if (s->months[i].channel == m->channel && strcmp(s->months[i].month, month) == 0)
			ms = &s->months[i];
	if (!ms) {
		if (s->nmonths == s->capmonths) {
			size_t cap = s->capmonths ? s->capmonths * 2 : 32;
			Mailroom__MonthStats *p = realloc(s->months, cap * sizeof(*p));
			if (!p) {
				s->failed = 1;
				return 1;
			}
			s->months = p;
			s->capmonths = cap;
		}
		ms = &s->months[s->nmonths++];
		mailroom__month_stats__init(ms);
		if (!(ms->month = strdup(month))) {
			s->nmonths--;
			s->failed = 1;
			return 1;
		}
		ms->channel = m->channel;
	}
	ms->received++;
	if (answered) {
		Mailroom__Clock *c = NULL;
		for (size_t i = 0; i < m->n_clocks; i++)
			if (m->clocks[i]->kind == ST_CLOCK_REPLY)
				c = m->clocks[i];
		ms->answered++;
		/* A re-opened case's first clock was replaced by its new one: it
		 * counts as answered, and on time only by that clock. */
		ms->on_time += !c || !c->due_ms || m->replied_ms <= c->due_ms;
		if (answered > m->received_ms)
			ms->answer_days_sum += (uint64_t)((answered - m->received_ms) / (86400LL * 1000));
	}
	if (m->rating) {
		ms->rated++;
		ms->satisfied += m->rating <= 3;
	}
	return 0;
}

static int by_month(const void *a, const void *b)
{
	const Mailroom__MonthStats *x = a, *y = b;
	int c = strcmp(y->month, x->month);

	return c ? c : (int)x->channel - (int)y->channel;
}

static void free_months(void *arg)
{
	struct scan *s = arg;

	for (size_t i = 0; i < s->nmonths; i++)
		free(s->months[i].month);
}

static int stats(st_txn *t, struct rt_result *res, Mailroom__AnswersResp *ar)
{
	struct scan s = {0};
	Mailroom__MonthStats **list;
	int rc = st_msg_each(t, tally, &s);

	if (!rc && s.failed)
		rc = PB_ENOMEM;
	if (!rc && s.nmonths) {
		qsort(s.months, s.nmonths, sizeof(*s.months), by_month);
		list = rt_own(res, calloc(s.nmonths, sizeof(*list)), RT_OWN_FREE);
		/* the month strings are owned one by one, the array as a whole */
		for (size_t i = 0; list && i < s.nmonths; i++)
			if (!rt_own(res, s.months[i].month, RT_OWN_FREE))
				list = NULL;
		if (!list) {
			free(s.months);
			return PB_ENOMEM;
		}
		rt_own(res, s.months, RT_OWN_FREE);
		for (size_t i = 0; i < s.nmonths; i++)
			list[i] = &s.months[i];
		ar->months = list;
		ar->n_months = s.nmonths;
		return PB_OK;
	}
	free_months(&s);
	free(s.months);
	return rc;
}

int rt_op_answers(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                  const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__AnswersReq *x = req->answers;
	Mailroom__AnswersResp *ar = rt_own(res, malloc(sizeof(*ar)), RT_OWN_FREE);
	Mailroom__StoredMessage *m;
	struct scan s = {.query = x->query};
	size_t limit = x->limit && x->limit < ANSWERS_MAX ? x->limit : ANSWERS_MAX;
	int rc;

	(void)core;
	(void)who;
	(void)now_ms;
	if (!ar)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__answers_resp__init(ar);
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_ANSWERS;
	res->resp.answers = ar;
	if (x->stats) {
		if ((rc = stats(t, res, ar)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot count the messages");
		return PB_OK;
	}
	if (!rt_text_ok(x->query, 0, 100))
		return rt_fail(res, PB_EINVAL, "invalid_field", "query: at most 100 characters");
	if (x->id.len) {
		/* One answer: not found unless published, whatever it is. */
		if (x->id.len != PB_ID_LEN || rt_msg_load(t, x->id.data, x->id.len, res, &m) ||
		    !m->published)
			return rt_fail(res, PB_ENOTFOUND, "not_found", "no such published answer");
		s.v = NULL;
		limit = 1;
		ar->answers = rt_own(res, calloc(1, sizeof(*ar->answers)), RT_OWN_FREE);
		if (!ar->answers || public_answer(res, m, &ar->answers[0]))
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		ar->n_answers = 1;
		return PB_OK;
	}
	if ((rc = st_msg_each(t, collect, &s)) || s.failed) {
		free(s.v);
		return rt_fail(res, rc ? rc : PB_ENOMEM, pb_err_name(rc ? rc : PB_ENOMEM),
		               "cannot read the messages");
	}
	if (s.n)   /* qsort's array may not be NULL, even for none */
		qsort(s.v, s.n, sizeof(*s.v), newest_first);
	if (s.n > limit)
		s.n = limit;
	ar->answers = s.n ? rt_own(res, calloc(s.n, sizeof(*ar->answers)), RT_OWN_FREE) : NULL;
	for (size_t i = 0; i < s.n; i++) {
		if (!ar->answers || (rc = rt_msg_load(t, s.v[i].id, PB_ID_LEN, res, &m)) ||
		    (rc = public_answer(res, m, &ar->answers[ar->n_answers]))) {
			free(s.v);
			return rt_fail(res, PB_ENOMEM, "no_memory", "cannot read the answers");
		}
		ar->n_answers++;
	}
	free(s.v);
	return PB_OK;
}
