/* Referral across channels (workers/README.md, "Referral"). The lease
 * holder closes a message that belongs in another channel and opens a
 * linked case there, in one transaction:
 *
 *   1. the new case: RECEIVED and ROUTED at the referral time, its own
 *      clocks from its channel's policy, the same texts, contact and
 *      access key (the citizen's key opens both);
 *   2. a disclosure application is first DECIDED under its statutory
 *      outcome (the generic decision, with all its checks);
 *   3. AUDIT_REFERRED on the old case, naming the new one.
 *
 * Petitions arrive by import only (rt_chan.c), so no referral opens one;
 * `targets` below is where a petition intake would be added. */
#include "rt_chan.h"
#include "rt_ops.h"
#include "pb_disc.h"
#include "pb_err.h"
#include "pb_id.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define CH(x) MAILROOM__CHANNEL__CHANNEL_##x

/* The channels a referral may open a case in. */
static const uint8_t targets[] = {
	[CH(MAILBOX)] = 1, [CH(CONSULTATION)] = 1, [CH(COMPLAINT)] = 1, [CH(DISCLOSURE)] = 1,
};

/* A disclosure application referred away is closed under one of these. */
static const char *const referral_outcomes[] = {
	"not_processed.petition_complaint", "other.other", NULL,
};

int rt_refer_outcome_ok(const char *outcome)
{
	return pb_disc_index(referral_outcomes, outcome) >= 0;
}

int rt_refer_target_ok(int from, int to)
{
	if (to <= 0 || (size_t)to >= sizeof(targets) || !targets[to] || from == to)
		return 0;
	/* 12345 orders go back to the platform (退单), petitions are imports */
	return from > 0 && (size_t)from < sizeof(targets) && targets[from];
}

/* The citizen's contact as the old case holds it: its contact, or an
 * application's applicant (name and contact). */
static int old_contact(struct rt_core *core, struct rt_result *res,
                       const Mailroom__StoredMessage *m, Mailroom__Contact **out)
{
	uint8_t *plain;
	size_t plen;
	int rc;

	*out = NULL;
	if (m->disclosure && m->disclosure->applicant_sealed.len) {
		Mailroom__Applicant *a;
		if ((rc = st_unseal(core->store, m->disclosure->applicant_sealed.data,
		                    m->disclosure->applicant_sealed.len, &plain, &plen)))
			return rc;
		a = mailroom__applicant__unpack(NULL, plen, plain);
		sodium_memzero(plain, plen);
		free(plain);
		if (!a || !rt_own(res, a, RT_OWN_APPLICANT))
			return PB_ECORRUPT;
		Mailroom__Contact *c = rt_own(res, malloc(sizeof(*c)), RT_OWN_FREE);
		if (!c)
			return PB_ENOMEM;
		mailroom__contact__init(c);
		if (a->contact)
			*c = *a->contact;
		c->name = a->name;
		*out = c;
		return PB_OK;
	}
	if (!m->contact_sealed.len)
		return PB_OK;
	if ((rc = st_unseal(core->store, m->contact_sealed.data, m->contact_sealed.len, &plain, &plen)))
		return rc;
	*out = mailroom__contact__unpack(NULL, plen, plain);
	sodium_memzero(plain, plen);
	free(plain);
	if (!*out || !rt_own(res, *out, RT_OWN_CONTACT))
		return PB_ECORRUPT;
	return PB_OK;
}

/* A message referred into disclosure becomes an online application
 * whose applicant is the citizen as known. Its legal receipt is the
 * referral (Art. 31, online: the office has the request and says so to
 * the applicant through the status view); an identity document the
 * office needs is asked for by a correction (Art. 30). */
static int referred_application(struct rt_core *core, struct rt_result *res,
                                const Mailroom__Contact *c, Mailroom__DisclosureState *d)
{
	Mailroom__Applicant a = MAILROOM__APPLICANT__INIT;
	uint8_t *plain;
	size_t plen;
	int rc;

	a.kind = (char *)"natural_person";
	a.name = c && c->name ? c->name : (char *)"";
	a.id_type = (char *)"other";
	a.contact = (Mailroom__Contact *)c;
	d->applicant_kind = a.kind;
	d->form = (char *)"electronic";
	d->delivery = (char *)"online";
	d->submission_mode = (char *)"online";
	d->phase = MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_OPEN;
	d->receipt_confirmed = 1;
	d->receipt_evidence = (char *)"referred from another channel";
	plen = mailroom__applicant__get_packed_size(&a);
	if (!(plain = malloc(plen ? plen : 1)))
		return PB_ENOMEM;
	mailroom__applicant__pack(&a, plain);
	rc = st_seal(core->store, plain, plen, &d->applicant_sealed.data, &d->applicant_sealed.len);
	sodium_memzero(plain, plen);
	free(plain);
	if (rc)
		return rc;
	return rt_own(res, d->applicant_sealed.data, RT_OWN_FREE) ? PB_OK : PB_ENOMEM;
}

/* Opens the new case at now_ms; *out is its stored form. */
static int open_case(struct rt_core *core, st_txn *t, const char *actor,
                     const Mailroom__StoredMessage *old, int to, int64_t now_ms,
                     struct rt_result *res, Mailroom__StoredMessage **out)
{
	Mailroom__SubmitReq s = MAILROOM__SUBMIT_REQ__INIT;
	Mailroom__DisclosureState *d = NULL;
	Mailroom__Contact *c;
	int rc;

	if ((rc = old_contact(core, res, old, &c)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot open the citizen's contact");
	s.channel = to;
	s.subject = old->subject;
	s.body = old->body;
	s.category = old->category;
	s.access_key_hash = old->access_key_hash;
	if (to == CH(DISCLOSURE)) {
		if (!(d = rt_own(res, malloc(sizeof(*d)), RT_OWN_FREE)))
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		mailroom__disclosure_state__init(d);
		d->receipt_ms = now_ms;
		if ((rc = referred_application(core, res, c, d)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot seal the applicant");
	} else {
		s.contact = c;
	}
	if ((rc = rt_msg_create_ex(core, t, actor, &s, NULL, now_ms, d, res, out)))
		return rc;
	(*out)->referred_from = old->id;
	(*out)->referred_from_tracking = old->tracking_code;
	(*out)->referred_from_channel = old->channel;
	(*out)->referred_ms = now_ms;
	if ((rc = st_msg_put(t, *out)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot store the new case");
	return PB_OK;
}

/* The disclosure decision the referral closes an application with. */
static int decide_referred(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                           const Mailroom__ReferReq *x, const char *outcome, int64_t now_ms,
                           struct rt_result *res)
{
	Mailroom__DisclosureReq d = MAILROOM__DISCLOSURE_REQ__INIT;

	d.id = x->lease->id;
	d.lease_token = x->lease->lease_token;
	d.action = MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DECIDE;
	d.text = x->reason;
	d.outcome = (char *)outcome;
	d.legal_basis = x->legal_basis;
	return rt_disclosure_step(core, t, who, &d, now_ms, res);
}

int rt_op_refer(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__ReferReq *x = req->refer;
	Mailroom__StoredMessage *m, *n;
	Mailroom__AuditRecord rec;
	Mailroom__MessageView *v;
	uint8_t chash[ST_HASH_LEN];
	char actor[PB_NAME_MAX + 16];
	const char *outcome = NULL;
	int rc;

	if (!rt_text_ok(x->reason, 1, 500))
		return rt_fail(res, PB_EINVAL, "invalid_field", "reason: 1-500 characters");
	if ((rc = rt_lease_check(t, who, x->lease, now_ms, res, &m)))
		return rc;
	if (!rt_refer_target_ok(m->channel, x->to))
		return rt_fail(res, PB_EINVAL, "invalid_channel",
		               m->channel == x->to ? "the message is already in that channel"
		                                   : "no referral between these channels");
	if (m->disclosure) {
		outcome = x->outcome && *x->outcome ? x->outcome : "not_processed.petition_complaint";
		if (!rt_refer_outcome_ok(outcome))
			return rt_fail(res, PB_EINVAL, "invalid_outcome",
			               "outcome: not_processed.petition_complaint or other.other");
		if (!rt_text_ok(x->legal_basis, 1, 500))
			return rt_fail(res, PB_EINVAL, "legal_basis_required", "legal_basis: 1-500 characters");
	} else if ((x->outcome && *x->outcome) || (x->legal_basis && *x->legal_basis)) {
		return rt_fail(res, PB_EINVAL, "invalid_field",
		               "outcome and legal_basis are for disclosure applications");
	}
	rt_actor(who, actor, sizeof(actor));
	if ((rc = open_case(core, t, actor, m, x->to, now_ms, res, &n)))
		return rc;
	if (outcome) {
		if ((rc = decide_referred(core, t, who, x, outcome, now_ms, res)))
			return rc;
		if ((rc = rt_msg_load(t, m->id.data, m->id.len, res, &m)))
			return rc;
	} else if ((rc = rt_answer(t, m, x->reason, who->handler->name, now_ms))) {
		return rt_fail(res, rc, pb_err_name(rc), "cannot close the message");
	}
	m->referred_to = n->id;
	m->referred_to_tracking = n->tracking_code;
	m->referred_to_channel = n->channel;
	m->referred_ms = now_ms;
	if ((rc = st_msg_put(t, m)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot store the message");
	st_content_hash(m->text_salt.data, x->reason, strlen(x->reason), chash);
	mailroom__audit_record__init(&rec);
	rec.event = MAILROOM__AUDIT_EVENT__AUDIT_REFERRED;
	rec.related_id = n->id;
	rec.content_hash.data = chash;
	rec.content_hash.len = sizeof(chash);
	rec.detail = x->reason;
	rec.outcome = (char *)(outcome ? outcome : "");
	if ((rc = rt_audit(core, t, res, &rec, m, actor, now_ms, NULL)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
	if ((rc = rt_view(core, res, m, 1, &v)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot build the answer");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_REFER;
	res->resp.refer = v;
	return PB_OK;
}
