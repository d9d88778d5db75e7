/* Disclosure applications (依申请公开): intake with the applicant sealed,
 * repeat detection, and the life-cycle steps of router/README.md
 * ("Disclosure applications"), each checked against the application's
 * phase and written as one audit record. */
#include "rt_chan.h"
#include "rt_ops.h"
#include "pb_disc.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"
#include "pb_utf8.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (86400LL * 1000)
#define CONFIRM_BACK_DAYS 30     /* a receipt confirmed at most this far back */
#define REPEAT_SCAN_MAX 200      /* earlier applications compared, newest first */
#define LEGAL_EXTEND_MAX 20      /* Art. 33: at most 20 working days ... */
#define LEGAL_EXTEND_TIMES 1     /* ... once */
#define SUBJECT_BYTES (40 * 4 + 1)

static int one_of(const char *s, const char *const *list)
{
	return pb_disc_index(list, s) >= 0;
}

static int fail_rc(struct rt_result *res, int rc, const char *what)
{
	return rt_fail(res, rc, pb_err_name(rc), what);
}

/* A message built at run time, kept by res. */
static int fail_msg(struct rt_result *res, int code, const char *error, const char *text)
{
	char *msg = rt_own(res, strdup(text), RT_OWN_FREE);

	return rt_fail(res, code, error, msg ? msg : error);
}

static int64_t working_days_on(struct rt_core *core, int64_t from_ms, int days)
{
	return cal_end_of_day_ms(cal_add_working_days(core->cal, pb_day_of_ms(from_ms), days, NULL));
}

/* ------------------------------------------------------------ intake -- */

static int check_app(const Mailroom__SubmitReq *s, struct rt_result *res)
{
	const Mailroom__DisclosureApp *d = s->disclosure;
	const Mailroom__Applicant *a = d ? d->applicant : NULL;

	if (!d || !a || s->order || s->contact)
		return rt_fail(res, PB_EINVAL, "invalid_request",
		               "a disclosure application carries an applicant and nothing else");
	if (!one_of(a->kind, pb_disc_kinds))
		return rt_fail(res, PB_EINVAL, "invalid_field", "applicant.kind: not an applicant kind");
	if (!rt_text_ok(a->name, 1, 100))
		return rt_fail(res, PB_EINVAL, "invalid_field", "applicant.name: 1-100 characters");
	if (!one_of(a->id_type, pb_disc_id_types) || !rt_text_ok(a->id_number, 1, 64))
		return rt_fail(res, PB_EINVAL, "invalid_field", "applicant: an identity document is required");
	if (!rt_text_ok(a->address, 0, 200))
		return rt_fail(res, PB_EINVAL, "invalid_field", "applicant.address: at most 200 characters");
	if (a->contact && (!rt_text_ok(a->contact->name, 0, 50) || !rt_text_ok(a->contact->phone, 0, 32) ||
	                   !rt_text_ok(a->contact->email, 0, 254)))
		return rt_fail(res, PB_EINVAL, "invalid_field", "applicant contact fields too long");
	if (!one_of(d->form, pb_disc_forms))
		return rt_fail(res, PB_EINVAL, "invalid_field", "form: paper or electronic");
	if (!one_of(d->delivery, pb_disc_deliveries))
		return rt_fail(res, PB_EINVAL, "invalid_field", "delivery: post, pickup, email or online");
	if (!one_of(d->submission_mode, pb_disc_modes))
		return rt_fail(res, PB_EINVAL, "invalid_field", "submission_mode: not a submission mode");
	if (!rt_text_ok(d->purpose, 0, 500))
		return rt_fail(res, PB_EINVAL, "invalid_field", "purpose: at most 500 characters");
	if (!rt_text_ok(s->body, 1, 5000))
		return rt_fail(res, PB_EINVAL, "invalid_field", "description: 1-5000 characters");
	return rt_check_texts(s, res);
}

struct repeat_scan {
	st_txn *t;
	struct rt_bigrams text;   /* the new application's, computed once */
	uint8_t best[PB_ID_LEN];
	int best_pm;
	int rc;
};

static int compare_one(const uint8_t id[16], int64_t received_ms, void *arg)
{
	struct repeat_scan *r = arg;
	Mailroom__StoredMessage *m;
	int pm;

	(void)received_ms;
	if ((r->rc = st_msg_get(r->t, id, &m)))
		return r->rc == PB_ENOTFOUND ? (r->rc = PB_OK) : 1;
	r->rc = rt_similarity_with(&r->text, m->body, &pm);
	st_msg_free(m);
	if (r->rc)
		return 1;
	if (pm > r->best_pm) {
		r->best_pm = pm;
		memcpy(r->best, id, PB_ID_LEN);
	}
	return 0;
}

/* Flags the closest earlier application of the same applicant, if it is
 * close enough; indexes this one either way. */
static int repeats(struct rt_core *core, st_txn *t, struct rt_result *res,
                   Mailroom__StoredMessage *m, const uint8_t hash[ST_HASH_LEN], int64_t now_ms)
{
	const struct pb_conf *c = core->conf;
	struct repeat_scan scan = {.t = t, .best_pm = -1};
	Mailroom__DisclosureState *d = m->disclosure;
	Mailroom__AuditRecord rec;
	uint8_t *rel;
	char detail[64];
	int rc;

	if (c->disc_repeat_window_days > 0) {
		/* Only earlier applications: an old one brought over by an
		 * import is no repeat of a later one. */
		if ((rc = rt_bigrams_of(m->body, &scan.text)))
			return rc;
		rc = st_applicant_each(t, hash, now_ms - (int64_t)c->disc_repeat_window_days * DAY_MS,
		                       now_ms, REPEAT_SCAN_MAX, compare_one, &scan);
		rt_bigrams_free(&scan.text);
		if (rc || scan.rc)
			return rc ? rc : scan.rc;
	}
	if ((rc = st_applicant_add(t, hash, now_ms, m->id.data)))
		return rc;
	if (scan.best_pm < c->disc_repeat_permille)
		return PB_OK;
	if (!(rel = rt_own(res, malloc(PB_ID_LEN), RT_OWN_FREE)))
		return PB_ENOMEM;
	memcpy(rel, scan.best, PB_ID_LEN);
	d->repeat_of.data = rel;
	d->repeat_of.len = PB_ID_LEN;
	d->repeat_permille = (uint32_t)scan.best_pm;
	if ((rc = st_msg_put(t, m)))
		return rc;
	snprintf(detail, sizeof(detail), "probable repeat, resemblance %d/1000", scan.best_pm);
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_FLAGGED;
	rec.related_id = d->repeat_of;
	rec.similarity_permille = d->repeat_permille;
	rec.detail = detail;
	return rt_audit(core, t, res, &rec, m, "router", now_ms, NULL);
}

/* A copy of m's state the caller may change: free_unpacked must only see
 * the pointers unpack made. */
static Mailroom__DisclosureState *own_state(struct rt_result *res, Mailroom__StoredMessage *m)
{
	Mailroom__DisclosureState *d = rt_own(res, malloc(sizeof(*d)), RT_OWN_FREE);

	if (d) {
		*d = *m->disclosure;
		m->disclosure = d;
	}
	return d;
}

int rt_disclosure_create(struct rt_core *core, st_txn *t, const char *actor,
                         const Mailroom__SubmitReq *req, const char *ref, int64_t now_ms,
                         struct rt_result *res, Mailroom__StoredMessage **stored)
{
	Mailroom__SubmitReq s = *req;
	const Mailroom__DisclosureApp *app = req->disclosure;
	Mailroom__DisclosureState disc = MAILROOM__DISCLOSURE_STATE__INIT;
	/* The stored form answers the request: what it points to outlives
	 * this frame. */
	uint8_t *hash = rt_own(res, malloc(ST_HASH_LEN), RT_OWN_FREE), *plain;
	char *subject = rt_own(res, malloc(SUBJECT_BYTES), RT_OWN_FREE);
	size_t plen;
	int rc;

	if (!hash || !subject)
		return fail_rc(res, PB_ENOMEM, "out of memory");
	/* The subject is the start of the description when none was given. */
	if ((!s.subject || !*s.subject) && s.body)
		s.subject = pb_utf8_prefix(s.body, 40, subject, SUBJECT_BYTES) ? subject : NULL;
	if ((rc = check_app(&s, res)))
		return rc;
	disc.applicant_kind = app->applicant->kind;
	disc.form = app->form;
	disc.delivery = app->delivery;
	disc.submission_mode = app->submission_mode;
	disc.purpose = app->purpose;
	disc.phase = MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_OPEN;
	/* Art. 31: online and in person, received when we acknowledge it;
	 * by post or fax, from the date a handler confirms. */
	disc.receipt_ms = now_ms;
	disc.receipt_confirmed = strcmp(app->submission_mode, "online") == 0 ||
	                         strcmp(app->submission_mode, "in_person") == 0;
	disc.receipt_evidence = disc.receipt_confirmed
	                            ? (char *)(strcmp(app->submission_mode, "online") == 0
	                                           ? "acknowledged online on submission"
	                                           : "received in person")
	                            : (char *)"";
	st_applicant_hash(core->store, app->applicant->id_type, app->applicant->id_number, hash);
	disc.applicant_hash.data = hash;
	disc.applicant_hash.len = ST_HASH_LEN;

	plen = mailroom__applicant__get_packed_size(app->applicant);
	if (!(plain = malloc(plen ? plen : 1)))
		return fail_rc(res, PB_ENOMEM, "out of memory");
	mailroom__applicant__pack(app->applicant, plain);
	rc = st_seal(core->store, plain, plen, &disc.applicant_sealed.data, &disc.applicant_sealed.len);
	sodium_memzero(plain, plen);
	free(plain);
	if (rc || !rt_own(res, disc.applicant_sealed.data, RT_OWN_FREE))
		return fail_rc(res, rc ? rc : PB_ENOMEM, "cannot seal the applicant");

	if ((rc = rt_msg_create_ex(core, t, actor, &s, ref, now_ms, &disc, res, stored)))
		return rc;
	if (!own_state(res, *stored))
		return fail_rc(res, PB_ENOMEM, "out of memory");
	if ((rc = repeats(core, t, res, *stored, hash, now_ms)))
		return fail_rc(res, rc, "cannot check for repeats");
	return PB_OK;
}

int rt_disclosure_submit(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                         const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__SubmitReq *s = req->submit;
	Mailroom__StoredMessage *stored;
	char actor[PB_NAME_MAX + 16];
	int rc;

	if (s->access_key_hash.len != PB_AKEY_HASH_LEN)
		return rt_fail(res, PB_EINVAL, "invalid_request", "access key hash required");
	if ((rc = rt_idem_find(t, s, res, &stored)) != PB_ENOTFOUND)
		return rc ? rc : rt_submit_answer(core, t, res, stored, 1);
	if ((rc = rt_disclosure_create(core, t, rt_actor(who, actor, sizeof(actor)), s, NULL, now_ms,
	                               res, &stored)) ||
	    (rc = rt_idem_put(t, s, stored->id.data, res)))
		return rc;
	return rt_submit_answer(core, t, res, stored, 0);
}

/* -------------------------------------------------------------- views -- */

int rt_disclosure_view(struct rt_core *core, struct rt_result *res,
                       const Mailroom__StoredMessage *m, int handler,
                       Mailroom__DisclosureView **out)
{
	const Mailroom__DisclosureState *d = m->disclosure;
	Mailroom__DisclosureView *v = rt_own(res, malloc(sizeof(*v)), RT_OWN_FREE);

	if (!v)
		return PB_ENOMEM;
	mailroom__disclosure_view__init(v);
	v->phase = d->phase;
	v->applicant_kind = d->applicant_kind;
	v->form = d->form;
	v->delivery = d->delivery;
	v->submission_mode = d->submission_mode;
	v->receipt_ms = d->receipt_ms;
	v->receipt_confirmed = d->receipt_confirmed;
	v->correction_due_ms =
	    d->phase == MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_AWAITING_CORRECTION ? d->correction_due_ms : 0;
	v->consultations = d->consultations;
	v->fee_due_ms = d->phase == MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_AWAITING_FEE ? d->fee_due_ms : 0;
	v->notice = d->notice;
	v->outcome = d->outcome;
	v->legal_basis = d->legal_basis;
	v->decided_ms = d->decided_ms;
	v->delivered_ms = d->delivered_ms;
	v->reviews = d->reviews;
	v->n_reviews = d->n_reviews;
	if (handler) {
		v->repeat_of = d->repeat_of;
		v->repeat_permille = d->repeat_permille;
		v->repeat_decision = d->repeat_decision;
		v->purpose = d->purpose;
		if (d->applicant_sealed.len) {
			uint8_t *plain;
			size_t plen;
			int rc = st_unseal(core->store, d->applicant_sealed.data, d->applicant_sealed.len,
			                   &plain, &plen);
			if (rc)
				return rc;
			v->applicant = mailroom__applicant__unpack(NULL, plen, plain);
			sodium_memzero(plain, plen);
			free(plain);
			if (!v->applicant || !rt_own(res, v->applicant, RT_OWN_APPLICANT))
				return PB_ECORRUPT;
		}
	}
	*out = v;
	return PB_OK;
}

int rt_disclosure_view_repeat(st_txn *t, struct rt_result *res, Mailroom__DisclosureView *v)
{
	Mailroom__StoredMessage *e;

	if (!v || v->repeat_of.len != PB_ID_LEN)
		return PB_OK;
	if (rt_msg_load(t, v->repeat_of.data, v->repeat_of.len, res, &e))
		return PB_OK;   /* the earlier one is gone: the flag stays */
	v->repeat_of_tracking = e->tracking_code;
	v->repeat_of_description = e->body;
	v->repeat_of_received_ms = e->received_ms;
	return PB_OK;
}

/* -------------------------------------------------------------- steps -- */

/* What one step needs: the application, its state and reply clock. */
struct step {
	struct rt_core *core;
	st_txn *t;
	struct rt_result *res;
	const Mailroom__DisclosureReq *r;
	Mailroom__StoredMessage *m;
	Mailroom__DisclosureState *d;
	Mailroom__Clock *c;
	int64_t now;
	int64_t old_due;
	char actor[PB_NAME_MAX + 16];
	Mailroom__AuditRecord rec;
	uint8_t chash[ST_HASH_LEN];
};

static int phase_is(const struct step *s, int phase)
{
	return (int)s->d->phase == phase;
}

#define OPEN MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_OPEN
#define AWAIT_CORR MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_AWAITING_CORRECTION
#define AWAIT_FEE MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_AWAITING_FEE
#define DECIDED MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_DECIDED
#define DELIVERED MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_DELIVERED

static int need_open(struct step *s)
{
	if (phase_is(s, DECIDED) || phase_is(s, DELIVERED))
		return rt_fail(s->res, PB_ESTATE, "already_decided", "the application is already decided");
	if (phase_is(s, AWAIT_CORR))
		return rt_fail(s->res, PB_ESTATE, "awaiting_correction",
		               "the application is waiting for the applicant's correction");
	if (phase_is(s, AWAIT_FEE))
		return rt_fail(s->res, PB_ESTATE, "awaiting_fee", "the application is waiting for a fee");
	return PB_OK;
}

static int no_consultation(struct step *s)
{
	if (s->d->consultations)
		return rt_fail(s->res, PB_ESTATE, "consultation_open",
		               "a third-party consultation is still open");
	return PB_OK;
}

static void hash_text(struct step *s, const char *text)
{
	st_content_hash(s->m->text_salt.data, text, strlen(text), s->chash);
	s->rec.content_hash.data = s->chash;
	s->rec.content_hash.len = sizeof(s->chash);
}

/* A clock move on the reply clock; its refusal in words. */
static int move(struct step *s, int action, int64_t at, int days)
{
	const char *why;
	int rc = rt_clock_move(s->core, s->t, s->m, s->c, action, at, days, &why);

	if (rc == PB_ESTATE && strcmp(why, "overdue") == 0)
		return rt_fail(s->res, rc, "overdue",
		               "the reply deadline has passed; the clock cannot be paused now");
	if (rc == PB_ESTATE)
		return rt_fail(s->res, rc, why, "the clock is not paused");
	if (rc)
		return fail_rc(s->res, rc, "cannot change the clock");
	return PB_OK;
}

/* "at" of a step: given and within [lo, now + skew], or now. */
static int step_time(struct step *s, int64_t lo, int64_t *at, const char *what)
{
	int64_t hi = s->now + (int64_t)s->core->conf->request_skew_seconds * 1000;

	*at = s->r->at_ms ? s->r->at_ms : s->now;
	if (*at < lo || *at > hi)
		return rt_fail(s->res, PB_EINVAL, "invalid_field", what);
	return PB_OK;
}

static int confirm_receipt(struct step *s)
{
	int64_t at;
	int rc;

	if ((rc = need_open(s)) || (rc = no_consultation(s)))
		return rc;
	if (s->d->receipt_confirmed)
		return rt_fail(s->res, PB_ESTATE, "receipt_confirmed", "the receipt is already confirmed");
	if (s->d->corrections)
		return rt_fail(s->res, PB_ESTATE, "correction_asked", "a correction was asked already");
	if (!rt_text_ok(s->r->evidence, 1, 500))
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "evidence: 1-500 characters");
	if ((rc = step_time(s, s->m->received_ms - CONFIRM_BACK_DAYS * DAY_MS, &at,
	                    "at: the legal receipt, at most 30 days before entry and not in the future")))
		return rc;
	if ((rc = move(s, MAILROOM__CLOCK_ACTION__CLOCK_RESTART, at, 0)))
		return rc;
	s->d->receipt_ms = at;
	s->d->receipt_confirmed = 1;
	s->d->receipt_evidence = s->r->evidence;
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_RECEIPT_CONFIRMED;
	s->rec.receipt_ms = at;
	s->rec.detail = s->r->evidence;
	return PB_OK;
}

static int request_correction(struct step *s)
{
	const struct pb_conf *c = s->core->conf;
	int rc;

	if ((rc = need_open(s)) || (rc = no_consultation(s)))
		return rc;
	if (s->d->corrections)
		return rt_fail(s->res, PB_ESTATE, "correction_asked",
		               "a correction may be asked once (Art. 30)");
	if (!rt_text_ok(s->r->text, 1, 2000))
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "text: what to correct, 1-2000 characters");
	if (s->now > working_days_on(s->core, s->d->receipt_ms, c->disc_correction_notice_days)) {
		char why[120];
		snprintf(why, sizeof(why), "a correction must be asked within %d working days of receipt (Art. 30)",
		         c->disc_correction_notice_days);
		return fail_msg(s->res, PB_ESTATE, "correction_too_late", why);
	}
	if ((rc = move(s, MAILROOM__CLOCK_ACTION__CLOCK_PAUSE, s->now, 0)))
		return rc;
	s->d->corrections++;
	s->d->correction_due_ms = working_days_on(s->core, s->now, c->disc_correction_days);
	s->d->phase = AWAIT_CORR;
	s->d->notice = s->r->text;
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_CORRECTION_REQUESTED;
	s->rec.party_due_ms = s->d->correction_due_ms;
	hash_text(s, s->r->text);
	return PB_OK;
}

static int correction_received(struct step *s)
{
	int64_t at;
	int rc;

	if (!phase_is(s, AWAIT_CORR))
		return rt_fail(s->res, PB_ESTATE, "no_correction_asked",
		               "the application is not waiting for a correction");
	if ((rc = step_time(s, s->m->received_ms, &at,
	                    "at: when the correction arrived, after the application and not in the future")))
		return rc;
	if ((rc = move(s, MAILROOM__CLOCK_ACTION__CLOCK_RESTART, at, 0)))
		return rc;
	/* Art. 30: the 20 days start again from the corrected application. */
	s->rec.detail = at > s->d->correction_due_ms ? (char *)"received after the applicant's deadline"
	                                             : (char *)"";
	s->d->receipt_ms = at;
	s->d->phase = OPEN;
	s->d->notice = (char *)"";
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_CORRECTION_RECEIVED;
	s->rec.receipt_ms = at;
	if (s->r->text && *s->r->text)
		hash_text(s, s->r->text);
	return PB_OK;
}

static int consult(struct step *s, int done)
{
	int rc;

	if (done) {
		if (!s->d->consultations)
			return rt_fail(s->res, PB_ESTATE, "no_consultation", "no consultation is open");
		if ((rc = move(s, MAILROOM__CLOCK_ACTION__CLOCK_RESUME, s->now, 0)))
			return rc;
		s->d->consultations--;
		s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_CONSULTATION_ENDED;
		return PB_OK;
	}
	if ((rc = need_open(s)))
		return rc;
	if (!rt_text_ok(s->r->text, 1, 200))
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "text: the third party, 1-200 characters");
	if ((rc = move(s, MAILROOM__CLOCK_ACTION__CLOCK_PAUSE, s->now, 0)))
		return rc;
	s->d->consultations++;
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_CONSULTATION_STARTED;
	s->rec.party_due_ms = working_days_on(s->core, s->now, s->core->conf->disc_consult_days);
	hash_text(s, s->r->text);   /* the third party may be a person: only a hash */
	return PB_OK;
}

static int extend(struct step *s)
{
	const struct pb_policy *p = &s->core->conf->policy;
	int max = p->extend_max[PB_CH_DISCLOSURE], times = p->extend_times[PB_CH_DISCLOSURE];
	int rc;

	if ((rc = need_open(s)) || (rc = no_consultation(s)))
		return rc;
	if (s->r->days < 1 || s->r->days > 366)
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "days: 1-366");
	if (!rt_text_ok(s->r->approver, 1, 100))
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "approver: 1-100 characters");
	if (!rt_text_ok(s->r->text, 1, 500))
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "text: the reason, 1-500 characters");
	/* The law caps what the settings may allow. */
	max = max < LEGAL_EXTEND_MAX ? max : LEGAL_EXTEND_MAX;
	times = times < LEGAL_EXTEND_TIMES ? times : LEGAL_EXTEND_TIMES;
	if ((int)s->c->extensions + 1 > times || s->c->extended_days + s->r->days > max) {
		char why[120];
		snprintf(why, sizeof(why), "at most %d working days in %d extension(s) (Art. 33); %d used",
		         max, times, s->c->extended_days);
		return fail_msg(s->res, PB_ELIMIT, "extension_cap", why);
	}
	if ((rc = move(s, MAILROOM__CLOCK_ACTION__CLOCK_EXTEND, s->now, s->r->days)))
		return rc;
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_EXTENDED;
	s->rec.approver = s->r->approver;
	s->rec.detail = s->r->text;
	return PB_OK;
}

static int fee(struct step *s, int paid)
{
	int rc;

	if (paid) {
		if (!phase_is(s, AWAIT_FEE))
			return rt_fail(s->res, PB_ESTATE, "no_fee_notice", "no fee is awaited");
		if ((rc = move(s, MAILROOM__CLOCK_ACTION__CLOCK_RESUME, s->now, 0)))
			return rc;
		s->d->phase = OPEN;
		s->d->notice = (char *)"";
		s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_FEE_PAID;
		return PB_OK;
	}
	if ((rc = need_open(s)) || (rc = no_consultation(s)))
		return rc;
	if (!rt_text_ok(s->r->text, 1, 1000))
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "text: the fee and how to pay, 1-1000 characters");
	if ((rc = move(s, MAILROOM__CLOCK_ACTION__CLOCK_PAUSE, s->now, 0)))
		return rc;
	s->d->fee_due_ms = working_days_on(s->core, s->now, s->core->conf->disc_fee_days);
	s->d->phase = AWAIT_FEE;
	s->d->notice = s->r->text;
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_FEE_NOTICE;
	s->rec.party_due_ms = s->d->fee_due_ms;
	hash_text(s, s->r->text);
	return PB_OK;
}

/* Which outcomes the state allows (router/README.md). */
static int decide_allowed(struct step *s, const char *o)
{
	int rc;

	if (strcmp(o, "other.no_correction") == 0) {
		if (!phase_is(s, AWAIT_CORR) || s->now <= s->d->correction_due_ms)
			return rt_fail(s->res, PB_ESTATE, "correction_not_overdue",
			               "other.no_correction needs a correction asked and its deadline passed");
		return PB_OK;
	}
	if (strcmp(o, "other.fee_unpaid") == 0) {
		if (!phase_is(s, AWAIT_FEE) || s->now <= s->d->fee_due_ms)
			return rt_fail(s->res, PB_ESTATE, "fee_not_overdue",
			               "other.fee_unpaid needs a fee notice and its deadline passed");
		return PB_OK;
	}
	if ((rc = need_open(s)) || (rc = no_consultation(s)))
		return rc;
	if (!s->d->receipt_confirmed)
		return rt_fail(s->res, PB_ESTATE, "receipt_unconfirmed",
		               "confirm the legal receipt date first (Art. 31)");
	if (strcmp(o, "unavailable.unclear_after_correction") == 0 && !s->d->corrections)
		return rt_fail(s->res, PB_ESTATE, "no_correction_asked",
		               "unavailable.unclear_after_correction needs a correction first");
	return PB_OK;
}

static int decide(struct step *s, const struct rt_principal *who)
{
	const Mailroom__DisclosureReq *r = s->r;
	int rc;

	if (phase_is(s, DECIDED) || phase_is(s, DELIVERED))
		return rt_fail(s->res, PB_ESTATE, "already_decided", "the application is already decided");
	if (!one_of(r->outcome, pb_disc_outcomes))
		return rt_fail(s->res, PB_EINVAL, "invalid_outcome", "outcome: one of the 21 statutory codes");
	if (!rt_text_ok(r->text, 1, 10000))
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "text: the reply, 1-10000 characters");
	if (!rt_text_ok(r->legal_basis, strcmp(r->outcome, "disclosed") == 0 ? 0 : 1, 500))
		return rt_fail(s->res, PB_EINVAL, "legal_basis_required",
		               "legal_basis: 1-500 characters, required for every outcome but disclosed");
	if ((rc = decide_allowed(s, r->outcome)))
		return rc;
	/* An imported decision was made in the old system: no lease here. */
	if (!s->res->import_actor &&
	    (rc = rt_lease_holds(who, s->m, &r->lease_token, s->now, s->res)))
		return rc;
	if ((rc = rt_answer(s->t, s->m, r->text, who->handler->name, s->now)))
		return fail_rc(s->res, rc, "cannot record the decision");
	s->d->phase = DECIDED;
	s->d->outcome = r->outcome;
	s->d->legal_basis = r->legal_basis ? r->legal_basis : (char *)"";
	s->d->decided_ms = s->now;
	s->d->notice = (char *)"";
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_DECIDED;
	s->rec.outcome = r->outcome;
	s->rec.legal_basis = s->d->legal_basis;
	hash_text(s, r->text);
	return PB_OK;
}

static int deliver(struct step *s)
{
	if (!phase_is(s, DECIDED))
		return rt_fail(s->res, PB_ESTATE, phase_is(s, DELIVERED) ? "already_delivered" : "not_decided",
		               "only a decided application is delivered, once");
	if (!rt_text_ok(s->r->evidence, 1, 500))
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "evidence: 1-500 characters");
	s->d->phase = DELIVERED;
	s->d->delivered_ms = s->now;
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_DELIVERED;
	s->rec.detail = s->r->evidence;
	return PB_OK;
}

static int review(struct step *s)
{
	const Mailroom__ReviewCase *v = s->r->review;
	int64_t hi = s->now + (int64_t)s->core->conf->request_skew_seconds * 1000;
	int pending;
	size_t i;

	if (!phase_is(s, DECIDED) && !phase_is(s, DELIVERED))
		return rt_fail(s->res, PB_ESTATE, "not_decided", "reviews and lawsuits follow a decision");
	if (!v || !one_of(v->kind, pb_disc_review_kinds))
		return rt_fail(s->res, PB_EINVAL, "invalid_field",
		               "review.kind: review, litigation_direct or litigation_after_review");
	if (!one_of(v->result, pb_disc_results))
		return rt_fail(s->res, PB_EINVAL, "invalid_field",
		               "review.result: upheld, corrected, other or pending");
	if (!rt_text_ok(v->case_no, 1, 64))
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "review.case_no: 1-64 characters");
	pending = strcmp(v->result, "pending") == 0;
	if (v->filed_ms < cal_end_of_day_ms(pb_day_of_ms(s->d->decided_ms)) - DAY_MS + 1 ||
	    v->filed_ms > hi)
		return rt_fail(s->res, PB_EINVAL, "invalid_field",
		               "review.filed: on or after the decision, not in the future");
	if (pending ? v->decided_ms != 0 : (v->decided_ms < v->filed_ms || v->decided_ms > hi))
		return rt_fail(s->res, PB_EINVAL, "invalid_field",
		               "review.decided: none while pending, else between filing and now");
	for (i = 0; i < s->d->n_reviews; i++) {
		const Mailroom__ReviewCase *o = s->d->reviews[i];
		if (strcmp(o->case_no, v->case_no) != 0)
			continue;
		if (strcmp(o->kind, v->kind) != 0 || o->filed_ms != v->filed_ms)
			return rt_fail(s->res, PB_EINVAL, "review_mismatch",
			               "that case is recorded with another kind or filing date");
		if (strcmp(o->result, "pending") != 0)
			return rt_fail(s->res, PB_ESTATE, "review_closed", "that case has its result already");
		break;
	}
	/* A new array: the stored one belongs to unpack. */
	size_t n = s->d->n_reviews + (i == s->d->n_reviews);
	Mailroom__ReviewCase **list = rt_own(s->res, calloc(n, sizeof(*list)), RT_OWN_FREE);
	if (!list)
		return fail_rc(s->res, PB_ENOMEM, "out of memory");
	if (s->d->n_reviews)
		memcpy(list, s->d->reviews, s->d->n_reviews * sizeof(*list));
	list[i] = (Mailroom__ReviewCase *)v;
	s->d->reviews = list;
	s->d->n_reviews = n;
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_REVIEW_RECORDED;
	s->rec.review = (Mailroom__ReviewCase *)v;
	return PB_OK;
}

static int repeat_decision(struct step *s)
{
	if (s->d->repeat_of.len != PB_ID_LEN)
		return rt_fail(s->res, PB_ESTATE, "not_flagged", "the application is not flagged as a repeat");
	if (s->d->repeat_decision && *s->d->repeat_decision)
		return rt_fail(s->res, PB_ESTATE, "repeat_decided", "the repeat flag is decided already");
	if (!s->r->text || (strcmp(s->r->text, "confirmed") != 0 && strcmp(s->r->text, "dismissed") != 0))
		return rt_fail(s->res, PB_EINVAL, "invalid_field", "text: confirmed or dismissed");
	s->d->repeat_decision = s->r->text;
	s->rec.event = MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_DECIDED;
	s->rec.detail = s->r->text;
	s->rec.related_id = s->d->repeat_of;
	return PB_OK;
}

int rt_disclosure_step(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                       const Mailroom__DisclosureReq *r, int64_t now_ms, struct rt_result *res)
{
	struct step s = {.core = core, .t = t, .res = res, .r = r, .now = now_ms};
	int rc, clock_moves = 1;

	if ((rc = rt_msg_load(t, r->id.data, r->id.len, res, &s.m)))
		return rc;
	if (!pb_handler_may(who->handler, s.m->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden", "this handler may not use that queue");
	if (!s.m->disclosure)
		return rt_fail(res, PB_ESTATE, "not_disclosure", "not a disclosure application");
	if (!(s.d = own_state(res, s.m)))
		return fail_rc(res, PB_ENOMEM, "out of memory");
	if (!(s.c = rt_clock_find(s.m, ST_CLOCK_REPLY)))
		return rt_fail(res, PB_ECORRUPT, "no_clock", "the application has no reply clock");
	s.old_due = s.c->due_ms;
	mailroom__audit_record__init(&s.rec);

	switch (r->action) {
	case MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONFIRM_RECEIPT:
		rc = confirm_receipt(&s);
		break;
	case MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REQUEST_CORRECTION:
		rc = request_correction(&s);
		break;
	case MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CORRECTION_RECEIVED:
		rc = correction_received(&s);
		break;
	case MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONSULT:
	case MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONSULT_DONE:
		rc = consult(&s, r->action == MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONSULT_DONE);
		break;
	case MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_EXTEND:
		rc = extend(&s);
		break;
	case MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_FEE_NOTICE:
	case MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_FEE_PAID:
		rc = fee(&s, r->action == MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_FEE_PAID);
		break;
	case MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DECIDE:
		rc = decide(&s, who);
		clock_moves = 0;   /* rt_answer stopped it */
		break;
	case MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DELIVER:
		rc = deliver(&s);
		clock_moves = 0;
		break;
	case MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REVIEW:
		rc = review(&s);
		clock_moves = 0;
		break;
	case MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REPEAT_DECISION:
		rc = repeat_decision(&s);
		clock_moves = 0;
		break;
	default:
		return rt_fail(res, PB_EINVAL, "invalid_field", "unknown disclosure step");
	}
	if (rc)
		return rc;
	if (clock_moves && (rc = rt_clock_settle(core, t, s.m, s.c, s.old_due)))
		return fail_rc(res, rc, "cannot reschedule the clock");
	if (!clock_moves)
		rt_clock_mirror(s.m);
	if ((rc = st_msg_put(t, s.m)))
		return fail_rc(res, rc, "cannot store the application");
	rt_actor(who, s.actor, sizeof(s.actor));
	if (clock_moves || r->action == MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DECIDE)
		rc = rt_clock_record(core, t, res, s.m, &s.rec, s.c, s.old_due, s.actor, now_ms);
	else
		rc = rt_audit(core, t, res, &s.rec, s.m, s.actor, now_ms, NULL);
	if (rc)
		return fail_rc(res, rc, "cannot append to the log");
	/* The handler decides on a flagged repeat by its tracking code. */
	if ((rc = rt_view(core, res, s.m, 1, &res->resp.disclosure)) ||
	    (rc = rt_disclosure_view_repeat(t, res, res->resp.disclosure->disclosure)))
		return fail_rc(res, rc, "cannot build the answer");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_DISCLOSURE;
	return PB_OK;
}

int rt_op_disclosure(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                     const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	return rt_disclosure_step(core, t, who, req->disclosure, now_ms, res);
}

/* ------------------------------------------------------ channel row -- */

static int app_view(struct rt_core *core, struct rt_result *res, const Mailroom__StoredMessage *m,
                    int handler, Mailroom__MessageView *v)
{
	return m->disclosure ? rt_disclosure_view(core, res, m, handler, &v->disclosure) : PB_OK;
}

static int app_pulled(st_txn *t, struct rt_result *res, Mailroom__MessageView *v)
{
	return v->disclosure ? rt_disclosure_view_repeat(t, res, v->disclosure) : PB_OK;
}

static int app_reply(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                     Mailroom__StoredMessage *m, const char *text, int64_t now_ms,
                     struct rt_result *res)
{
	(void)core;
	(void)t;
	(void)who;
	(void)m;
	(void)text;
	(void)now_ms;
	return rt_fail(res, PB_ESTATE, "use_disclosure_steps",
	               "a disclosure application is answered by a decision (disclosure decide)");
}

static int app_clock(const Mailroom__StoredMessage *m, struct rt_result *res)
{
	(void)m;
	return rt_fail(res, PB_ESTATE, "use_disclosure_steps",
	               "a disclosure application's clock moves with its steps (disclosure ...)");
}

/* Applications: their steps (DisclosureReq) are their only answer and
 * their only clock moves. */
const struct rt_chan rt_chan_disclosure_row = {
	.name = "disclosure",
	.submit = rt_disclosure_submit,
	.view = app_view,
	.pulled = app_pulled,
	.reply = app_reply,
	.clock = app_clock,
};
