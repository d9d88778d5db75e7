/* The steps of a disclosure application (依申请公开) as router/README.md
 * allows them, record by record (state class):
 *
 *   RECEIVED      applicant_kind, submission_mode and receipt_ms; no
 *                 acknowledgement clock. Receipt is confirmed at once for
 *                 online and in_person, otherwise by RECEIPT_CONFIRMED.
 *   RECEIPT_CONFIRMED   open, not confirmed, no correction asked.
 *   CORRECTION_REQUESTED  open, none asked before, no consultation open;
 *                 pauses the clock, party_due_ms the applicant's deadline.
 *   CORRECTION_RECEIVED   only while one is awaited; restarts the clock.
 *   CONSULTATION_STARTED / _ENDED  open; pauses nest.
 *   FEE_NOTICE / FEE_PAID  open, no consultation open / awaiting the fee.
 *   CLOCK_EXTENDED  open, nothing paused, once, 1-20 working days.
 *   DECIDED       the lease holder (an imported one needs no lease); one
 *                 of the 21 codes; a legal basis unless `disclosed`; see
 *                 decide() for the phases each outcome needs.
 *   after DECIDED only DELIVERED (once), REVIEW_RECORDED and
 *                 REPEAT_DECIDED.
 *   REPEAT_FLAGGED by the router, before the decision, naming another
 *                 application; REPEAT_DECIDED once, confirmed|dismissed.
 *
 * Steps are a handler's (or an import's). REPLIED and the generic clock
 * records are refused on disclosure applications, and disclosure events
 * on anything else. Each record that moves the clock must carry it with
 * the pause depth the open pauses give; au_clock.c checks its inputs. */
#include "au_disc.h"
#include "au_rules.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORRECTION_NOTICE_WD 7

const unsigned char au_outcome_group[AU_NOUTCOMES] = {
	0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5,
};
const char *const au_groups[AU_NGROUPS] = {
	"disclosed", "partly_disclosed", "withheld", "unavailable", "not_processed", "other",
};
#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x
#define OC_DISCLOSED 0
#define OC_UNCLEAR 12
#define OC_NO_CORRECTION 18
#define OC_FEE_UNPAID 19
#define MAX_EXTENSION_WD 20   /* Art. 33 */

/* The outcomes a disclosure application referred away is DECIDED with. */
const char *const au_referral_outcomes[2] = {"not_processed.petition_complaint", "other.other"};

int au_code_index(const char *const *table, int n, const char *s)
{
	if (!s)
		return -1;
	for (int i = 0; i < n; i++)
		if (strcmp(table[i], s) == 0)
			return i;
	return -1;
}

static const char *evn(int ev, char *buf, size_t len)
{
	return au_enum_name(&mailroom__audit_event__descriptor, ev, "AUDIT_", 0, buf, len);
}

static const char *str(const char *s)
{
	return s ? s : "";
}

int au_disc_received(struct au_rules *R)
{
	const Mailroom__AuditRecord *r = R->r;
	struct mstate *m = R->m;
	int mode;

	if (r->channel != MAILROOM__CHANNEL__CHANNEL_DISCLOSURE)
		return AU_EXIT_OK;
	if (au_code_index(pb_disc_kinds, AU_NKINDS, r->applicant_kind) < 0)
		return au_state(R, "RECEIVED names applicant kind '%.40s', not one of the six",
		                str(r->applicant_kind));
	if ((mode = au_code_index(pb_disc_modes, AU_NMODES, r->submission_mode)) < 0)
		return au_state(R, "RECEIVED names submission mode '%.40s'", str(r->submission_mode));
	if (r->receipt_ms <= 0)
		return au_state(R, "RECEIVED for a disclosure application without its receipt_ms");
	if (r->ack_due_ms)
		return au_state(R, "RECEIVED gives a disclosure application an acknowledgement clock");
	memset(&m->d, 0, sizeof(m->d));
	m->d.phase = DP_OPEN;
	/* Art. 31: the 201 fixes the receipt for these; mail and fax wait for
	 * the handler's confirmation. */
	m->d.confirmed = mode <= 1;
	/* The reply clock runs from the legal receipt. */
	m->received_ms = r->receipt_ms;
	return AU_EXIT_OK;
}

/* The record carries the reply clock with the pause depth want. */
static int clock_depth(struct au_rules *R, const char *what, uint32_t want)
{
	const Mailroom__Clock *c = R->r->clock;

	if (!c)
		return au_state(R, "%s carries no clock", what);
	if (c->kind != ST_CLOCK_REPLY)
		return au_state(R, "%s carries clock kind %u, not the reply clock", what, c->kind);
	if (c->pause_depth != want)
		return au_state(R, "%s leaves the clock at pause depth %u; its open pauses give %u", what,
		                c->pause_depth, want);
	return AU_EXIT_OK;
}

static int by_handler(struct au_rules *R, const char *what)
{
	if (!au_as_handler(R))
		return au_state(R, "%s by %.80s, who is not a handler", what, str(R->r->actor));
	return AU_EXIT_OK;
}

/* A deadline given to the applicant or a third party lies ahead. */
static int party_due(struct au_rules *R, const char *what)
{
	if (R->r->party_due_ms <= au_when(R->r))
		return au_state(R, "%s without a deadline after it (party_due_ms)", what);
	return AU_EXIT_OK;
}

static int decide(struct au_rules *R)
{
	const Mailroom__AuditRecord *r = R->r;
	struct mstate *m = R->m;
	struct dstate *d = &m->d;
	char a[40], b[40];
	int oc = au_code_index(pb_disc_outcomes, AU_NOUTCOMES, r->outcome), cls;

	if (oc < 0)
		return au_state(R, "DECIDED with outcome '%.60s', not one of the 21 statutory codes",
		                str(r->outcome));
	if (oc != OC_DISCLOSED && !*str(r->legal_basis) && r->legal_basis_commit.len != ST_HASH_LEN)
		return au_state(R, "DECIDED %s without a legal basis", pb_disc_outcomes[oc]);
	if (r->content_hash.len == 0)
		return au_state(R, "DECIDED without the reply's content hash");
	if (r->imported) {
		if (m->phase != PH_QUEUED && m->phase != PH_LEASED)
			return au_state(R, "an imported DECIDED while the application is not open");
	} else if ((cls = au_by_holder(R, "DECIDED"))) {
		return cls;
	}
	if (oc == OC_NO_CORRECTION || oc == OC_FEE_UNPAID) {
		int want = oc == OC_NO_CORRECTION ? DP_AWAIT_CORRECTION : DP_AWAIT_FEE;
		const char *what = oc == OC_NO_CORRECTION ? "correction" : "fee";
		if (d->phase != want)
			return au_state(R, "DECIDED %s while no %s is awaited", pb_disc_outcomes[oc], what);
		if (au_when(r) <= d->party_due) {
			au_fmt_time(au_when(r), a, sizeof(a), 0);
			au_fmt_time(d->party_due, b, sizeof(b), 0);
			return au_state(R, "DECIDED %s at %s, before the %s's deadline %s passed",
			                pb_disc_outcomes[oc], a, what, b);
		}
	} else {
		if (d->phase == DP_AWAIT_CORRECTION)
			return au_state(R, "DECIDED %s while a correction is awaited", pb_disc_outcomes[oc]);
		if (d->phase == DP_AWAIT_FEE)
			return au_state(R, "DECIDED %s while a fee is awaited", pb_disc_outcomes[oc]);
		if (!d->confirmed)
			return au_state(R, "DECIDED before the receipt was confirmed (Art. 31)");
		if (d->consults)
			return au_state(R, "DECIDED while %u consultation(s) are open", d->consults);
		if (oc == OC_UNCLEAR && !d->corrected)
			return au_state(R, "DECIDED %s, but no correction arrived", pb_disc_outcomes[oc]);
	}
	d->phase = DP_DECIDED;
	d->decided_at = r->index;
	m->phase = PH_REPLIED;
	m->closed_at = r->index;
	m->acked = 1;
	return AU_EXIT_OK;
}

static struct rcase *find_case(struct au_rules *R, uint32_t msg, uint64_t h)
{
	for (size_t i = R->ncases; i-- > 0;)
		if (R->cases[i].msg == msg && R->cases[i].case_h == h)
			return &R->cases[i];
	return NULL;
}

const char *au_case_key(const Mailroom__ReviewCase *c, char buf[2 * ST_HASH_LEN + 1])
{
	if (c->case_no_commit.len == ST_HASH_LEN) {
		pb_hex(c->case_no_commit.data, ST_HASH_LEN, buf);
		return buf;
	}
	if (!*str(c->case_no) || strlen(c->case_no) > 200)
		return NULL;
	return c->case_no;
}

/* A review or lawsuit: new, or a pending one given its result. */
static int review(struct au_rules *R)
{
	const Mailroom__ReviewCase *c = R->r->review;
	uint32_t msg = (uint32_t)(R->m - R->msgs);
	int k, res;
	struct rcase *old;
	uint64_t h;
	char kbuf[2 * ST_HASH_LEN + 1];
	const char *case_no;

	if (!c)
		return au_state(R, "REVIEW_RECORDED without a review");
	if ((k = au_code_index(pb_disc_review_kinds, AU_NREVIEW_KINDS, c->kind)) < 0)
		return au_state(R, "REVIEW_RECORDED of kind '%.40s'", str(c->kind));
	if (!(case_no = au_case_key(c, kbuf)))
		return au_state(R, "REVIEW_RECORDED without a usable case number");
	if ((res = au_code_index(pb_disc_results, AU_NRESULTS, c->result)) < 0)
		return au_state(R, "REVIEW_RECORDED with result '%.40s'", str(c->result));
	if (c->filed_ms <= 0)
		return au_state(R, "REVIEW_RECORDED without the filing date");
	if (res == AU_RESULT_PENDING && c->decided_ms)
		return au_state(R, "REVIEW_RECORDED: case %.60s is pending but has a decision date",
		                case_no);
	if (res != AU_RESULT_PENDING && c->decided_ms < c->filed_ms)
		return au_state(R, "REVIEW_RECORDED: case %.60s decided %s before it was filed",
		                case_no, c->decided_ms ? "" : "(no date)");
	h = au_hash_str(R, case_no);
	if ((old = find_case(R, msg, h))) {
		if (old->kind != k)
			return au_state(R, "REVIEW_RECORDED names case %.60s as %s; it was filed as %s",
			                case_no, pb_disc_review_kinds[k], pb_disc_review_kinds[old->kind]);
		if (old->filed_ms != c->filed_ms)
			return au_state(R, "REVIEW_RECORDED changes the filing date of case %.60s",
			                case_no);
		if (!old->pending)
			return au_state(R, "REVIEW_RECORDED updates case %.60s, already decided",
			                case_no);
		if (res == AU_RESULT_PENDING)
			return au_state(R, "REVIEW_RECORDED records case %.60s again, still pending",
			                case_no);
		old->pending = 0;
		return AU_EXIT_OK;
	}
	if (R->ncases == R->capcases) {
		size_t cap = R->capcases ? R->capcases * 2 : 64;
		struct rcase *p = realloc(R->cases, cap * sizeof(*p));
		if (!p)
			return -1;
		R->cases = p;
		R->capcases = cap;
	}
	R->cases[R->ncases++] = (struct rcase){.msg = msg, .kind = (uint8_t)k,
	                                       .pending = res == AU_RESULT_PENDING, .case_h = h,
	                                       .filed_ms = c->filed_ms};
	return AU_EXIT_OK;
}

int au_repeat_flagged(struct au_rules *R)
{
	const Mailroom__AuditRecord *r = R->r;
	struct mstate *o;
	char idt[PB_ID_TEXT_LEN + 1];

	if (!au_as_router(R))
		return au_state(R, "REPEAT_FLAGGED by someone other than the router");
	if (R->m->d.flagged)
		return au_state(R, "REPEAT_FLAGGED a second time");
	if (r->related_id.len != PB_ID_LEN)
		return au_state(R, "REPEAT_FLAGGED names no earlier application");
	if (memcmp(r->related_id.data, R->m->id, PB_ID_LEN) == 0)
		return au_state(R, "REPEAT_FLAGGED names the application itself");
	/* an application repeats an application; a plain message one of
	 * its own channel */
	if (!(o = au_rules_find(R, r->related_id.data)) || o->phase == PH_NEW ||
	    (R->m->d.phase ? !o->d.phase : o->channel != R->m->channel)) {
		pb_id_to_text(r->related_id.data, idt);
		return au_state(R, "REPEAT_FLAGGED names %s, not an earlier %s", idt,
		                R->m->d.phase ? "disclosure application" : "message of its channel");
	}
	if (r->similarity_permille > 1000)
		return au_state(R, "REPEAT_FLAGGED with similarity %u per mille", r->similarity_permille);
	R->m->d.flagged = 1;
	return AU_EXIT_OK;
}

int au_repeat_decided(struct au_rules *R)
{
	const char *v = str(R->r->detail);
	struct dstate *d = &R->m->d;
	int cls;

	if ((cls = by_handler(R, "REPEAT_DECIDED")))
		return cls;
	if (!d->flagged)
		return au_state(R, "REPEAT_DECIDED on %s never flagged as a repeat",
		                d->phase ? "an application" : "a message");
	if (d->repeat_decided)
		return au_state(R, "REPEAT_DECIDED a second time");
	if (strcmp(v, "confirmed") != 0 && strcmp(v, "dismissed") != 0)
		return au_state(R, "REPEAT_DECIDED '%.40s', not confirmed or dismissed", v);
	d->repeat_decided = 1;
	return AU_EXIT_OK;
}

/* REFERRED: a handler closed the message as belonging to another
 * channel; related_id names the case opened for it, RECEIVED in the same
 * transaction just before, in another channel, and named by no other
 * referral. */
int au_referred(struct au_rules *R)
{
	const Mailroom__AuditRecord *r = R->r;
	struct mstate *o;
	char idt[PB_ID_TEXT_LEN + 1];

	if (!au_as_handler(R))
		return au_state(R, "REFERRED by someone other than a handler");
	if (R->m->referred)
		return au_state(R, "REFERRED a second time");
	if (r->related_id.len != PB_ID_LEN || memcmp(r->related_id.data, R->m->id, PB_ID_LEN) == 0)
		return au_state(R, "REFERRED names no other case");
	pb_id_to_text(r->related_id.data, idt);
	if (!(o = au_rules_find(R, r->related_id.data)) || o->phase == PH_NEW || o->received_at >= r->index)
		return au_state(R, "REFERRED to %s, which was never RECEIVED", idt);
	if (o->channel == R->m->channel)
		return au_state(R, "REFERRED to %s, a case of its own channel", idt);
	if (o->referral_new || o->referred)
		return au_state(R, "REFERRED to %s, which another referral names or which was referred away", idt);
	if (r->content_hash.len == 0)
		return au_state(R, "REFERRED without the notice's content hash");
	o->referral_new = 1;
	R->m->referred = 1;
	R->m->phase = PH_REPLIED;
	R->m->closed_at = r->index;
	R->m->acked = 1;
	return AU_EXIT_OK;
}

static int extend(struct au_rules *R)
{
	const Mailroom__AuditRecord *r = R->r;
	struct dstate *d = &R->m->d;
	int32_t days;
	int cls;

	if ((cls = by_handler(R, "CLOCK_EXTENDED")))
		return cls;
	if (d->phase != DP_OPEN)
		return au_state(R, "CLOCK_EXTENDED while the application awaits a %s",
		                d->phase == DP_AWAIT_FEE ? "fee" : "correction");
	if (d->consults)
		return au_state(R, "CLOCK_EXTENDED while a consultation pauses the clock");
	if (d->extensions)
		return au_state(R, "a second CLOCK_EXTENDED: Art. 33 allows one extension");
	if ((cls = clock_depth(R, "CLOCK_EXTENDED", 0)))
		return cls;
	days = r->clock->extended_days - R->m->clk[K_REPLY].extended;
	if (days < 1 || days > MAX_EXTENSION_WD)
		return au_state(R, "CLOCK_EXTENDED by %d working days: Art. 33 allows 1 to %d", days,
		                MAX_EXTENSION_WD);
	if (!*str(r->approver) && r->approver_commit.len != ST_HASH_LEN)
		return au_state(R, "CLOCK_EXTENDED without its approver");
	d->extensions++;
	return AU_EXIT_OK;
}

/* The steps before the decision. */
static int step(struct au_rules *R, int ev, const char *name)
{
	const Mailroom__AuditRecord *r = R->r;
	struct dstate *d = &R->m->d;
	int cls;

	if ((cls = by_handler(R, name)))
		return cls;
	switch (ev) {
	case EV(RECEIPT_CONFIRMED):
		if (d->phase != DP_OPEN || d->corrections)
			return au_state(R, "RECEIPT_CONFIRMED after a correction was asked");
		if (d->confirmed)
			return au_state(R, "RECEIPT_CONFIRMED on an application whose receipt is fixed");
		if (r->receipt_ms <= 0)
			return au_state(R, "RECEIPT_CONFIRMED without receipt_ms");
		if ((cls = clock_depth(R, name, d->consults)))
			return cls;
		d->confirmed = 1;
		return AU_EXIT_OK;
	case EV(CORRECTION_REQUESTED):
		if (d->corrections)
			return au_state(R, "a second CORRECTION_REQUESTED: Art. 30 allows one");
		if (d->phase != DP_OPEN)
			return au_state(R, "CORRECTION_REQUESTED while a fee is awaited");
		if (d->consults)
			return au_state(R, "CORRECTION_REQUESTED while a consultation is open");
		if ((cls = party_due(R, name)) || (cls = clock_depth(R, name, 1)))
			return cls;
		/* Art. 30: asked within 7 working days of the receipt the
		 * clock started from. */
		if (R->cal && r->clock &&
		    au_when(r) > cal_end_of_day_ms(cal_add_working_days(
		                     R->cal, pb_day_of_ms(r->clock->started_ms), CORRECTION_NOTICE_WD, NULL)))
			return au_state(R, "CORRECTION_REQUESTED more than %d working days after receipt (Art. 30)",
			                CORRECTION_NOTICE_WD);
		d->corrections = 1;
		d->phase = DP_AWAIT_CORRECTION;
		d->party_due = r->party_due_ms;
		return AU_EXIT_OK;
	case EV(CORRECTION_RECEIVED):
		if (d->phase != DP_AWAIT_CORRECTION)
			return au_state(R, "CORRECTION_RECEIVED while no correction is awaited");
		if (r->receipt_ms <= 0)
			return au_state(R, "CORRECTION_RECEIVED without receipt_ms");
		if ((cls = clock_depth(R, name, 0)))
			return cls;
		d->phase = DP_OPEN;
		d->corrected = 1;
		d->confirmed = 1;   /* the corrected application is the receipt now */
		d->party_due = 0;
		return AU_EXIT_OK;
	case EV(CONSULTATION_STARTED):
		if (d->phase != DP_OPEN)
			return au_state(R, "CONSULTATION_STARTED while the application awaits a %s",
			                d->phase == DP_AWAIT_FEE ? "fee" : "correction");
		if (d->consults == UINT8_MAX)
			return au_state(R, "CONSULTATION_STARTED: too many open");
		if ((cls = party_due(R, name)) || (cls = clock_depth(R, name, d->consults + 1u)))
			return cls;
		d->consults++;
		return AU_EXIT_OK;
	case EV(CONSULTATION_ENDED):
		if (!d->consults)
			return au_state(R, "CONSULTATION_ENDED with no consultation open");
		if ((cls = clock_depth(R, name, d->consults - 1u)))
			return cls;
		d->consults--;
		return AU_EXIT_OK;
	case EV(FEE_NOTICE):
		if (d->phase != DP_OPEN)
			return au_state(R, "FEE_NOTICE while the application awaits a %s",
			                d->phase == DP_AWAIT_FEE ? "fee" : "correction");
		if (d->consults)
			return au_state(R, "FEE_NOTICE while a consultation is open");
		if ((cls = party_due(R, name)) || (cls = clock_depth(R, name, 1)))
			return cls;
		d->phase = DP_AWAIT_FEE;
		d->party_due = r->party_due_ms;
		return AU_EXIT_OK;
	case EV(FEE_PAID):
		if (d->phase != DP_AWAIT_FEE)
			return au_state(R, "FEE_PAID while no fee is awaited");
		if ((cls = clock_depth(R, name, 0)))
			return cls;
		d->phase = DP_OPEN;
		d->party_due = 0;
		return AU_EXIT_OK;
	}
	return AU_EXIT_OK;
}

int au_disc_record(struct au_rules *R, int ev, int *handled)
{
	struct mstate *m = R->m;
	struct dstate *d = &m->d;
	int disc_ev = ev >= EV(RECEIPT_CONFIRMED) && ev <= EV(REPEAT_DECIDED);
	char name[48];
	int cls;

	*handled = 0;
	/* Notices to the applicant: the generic rules take them, any time. */
	if (ev == EV(NOTICES_OFF) || ev == EV(NOTICE_DEAD))
		return AU_EXIT_OK;
	if (!d->phase && (ev == EV(REPEAT_FLAGGED) || ev == EV(REPEAT_DECIDED)))
		return AU_EXIT_OK;   /* a plain channel's repeat: au_rules.c */
	/* The event's name is for findings: most records of other channels
	 * leave before it is looked up. */
	if (!d->phase) {
		*handled = disc_ev;
		return disc_ev ? au_state(R, "%s on a message that is not a disclosure application",
		                          evn(ev, name, sizeof(name)))
		               : AU_EXIT_OK;
	}
	evn(ev, name, sizeof(name));
	/* Until ROUTED the generic rules speak, but the router may flag a
	 * repeat as soon as the application is stored. */
	if (m->phase == PH_RECEIVED && ev != EV(REPEAT_FLAGGED))
		return AU_EXIT_OK;
	/* Referred away: the DECIDED that closed it, then REFERRED at once
	 * (router/rt_refer.c). */
	if (ev == EV(REFERRED)) {
		*handled = 1;
		if (d->phase != DP_DECIDED || R->r->index != d->decided_at + 1)
			return au_state(R, "REFERRED on a disclosure application not DECIDED by the record before");
		if (au_code_index(au_referral_outcomes, 2, R->r->outcome) < 0)
			return au_state(R, "REFERRED with outcome '%.60s', not one a referral closes with",
			                str(R->r->outcome));
		return au_referred(R);
	}
	if (d->phase >= DP_DECIDED && ev != EV(DELIVERED) && ev != EV(REVIEW_RECORDED) &&
	    ev != EV(REPEAT_DECIDED) && !au_after_answered_ok(ev)) {
		*handled = 1;
		return au_state(R, "%s after the application was DECIDED at record %llu", name,
		                (unsigned long long)d->decided_at);
	}
	*handled = 1;
	switch (ev) {
	case EV(REPLIED):
		return au_state(R, "REPLIED on a disclosure application: its answer is DECIDED");
	case EV(CLOCK_PAUSED):
	case EV(CLOCK_RESUMED):
	case EV(CLOCK_RESTARTED):
		return au_state(R, "%s on a disclosure application: its clock moves by its own steps",
		                name);
	case EV(CLOCK_EXTENDED):
		return extend(R);
	case EV(DECIDED):
		return decide(R);
	case EV(DELIVERED):
		if ((cls = by_handler(R, name)))
			return cls;
		if (d->phase != DP_DECIDED)
			return au_state(R, "DELIVERED %s", d->phase == DP_DELIVERED
			                                       ? "a second time"
			                                       : "before the application was DECIDED");
		d->phase = DP_DELIVERED;
		return AU_EXIT_OK;
	case EV(REVIEW_RECORDED):
		if ((cls = by_handler(R, name)))
			return cls;
		if (d->phase < DP_DECIDED)
			return au_state(R, "REVIEW_RECORDED before the application was DECIDED");
		return review(R);
	case EV(REPEAT_FLAGGED):
		return au_repeat_flagged(R);
	case EV(REPEAT_DECIDED):
		return au_repeat_decided(R);
	case EV(RECEIPT_CONFIRMED):
	case EV(CORRECTION_REQUESTED):
	case EV(CORRECTION_RECEIVED):
	case EV(CONSULTATION_STARTED):
	case EV(CONSULTATION_ENDED):
	case EV(FEE_NOTICE):
	case EV(FEE_PAID):
		return step(R, ev, name);
	default:
		*handled = 0;
		return AU_EXIT_OK;
	}
}
