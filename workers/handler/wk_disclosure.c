/* mailroom-handler disclosure STEP ID: the steps of an application for
 * government information (workers/README.md, "Disclosure applications").
 * Each sends one DisclosureReq; the router checks that the application's
 * state allows it and records it. Only decide needs the lease (the answer
 * ends it); the others need the right to the application's queue.
 *
 * Dates are Asia/Shanghai dates: today means now, an earlier day its
 * first instant (00:00 +08:00). */
#include "wk_cli.h"
#include "pb_err.h"
#include "pb_time.h"
#include "pj.h"

#include <stdio.h>
#include <string.h>

enum { NEEDS_LEASE = 1, ONE_OF = 2 };

struct step {
	const char *name;
	Mailroom__DisclosureAction action;
	wk_optset need;     /* WK_O_* required */
	wk_optset allow;    /* WK_O_* taken besides those */
	int flags;
	const char *usage;
};

#define A(x) MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_##x

static const struct step steps[] = {
	{"confirm-receipt", A(CONFIRM_RECEIPT), WK_O_DATE | WK_O_EVIDENCE, 0, 0,
	 "confirm-receipt ID --date YYYY-MM-DD --evidence TEXT"},
	{"request-correction", A(REQUEST_CORRECTION), WK_O_TEXT, 0, 0,
	 "request-correction ID --text TEXT"},
	{"correction-received", A(CORRECTION_RECEIVED), 0, WK_O_DATE, 0,
	 "correction-received ID [--date YYYY-MM-DD]"},
	{"consult", A(CONSULT), WK_O_PARTY, 0, 0, "consult ID --party TEXT"},
	{"consult-done", A(CONSULT_DONE), 0, 0, 0, "consult-done ID"},
	{"extend", A(EXTEND), WK_O_NDAYS | WK_O_APPROVER | WK_O_REASON, 0, 0,
	 "extend ID --days N --approver NAME --reason TEXT"},
	{"fee-notice", A(FEE_NOTICE), WK_O_TEXT, 0, 0, "fee-notice ID --text TEXT"},
	{"fee-paid", A(FEE_PAID), 0, 0, 0, "fee-paid ID"},
	{"decide", A(DECIDE), WK_O_OUTCOME | WK_O_TEXT, WK_O_LEGAL | WK_O_LEASE | WK_O_STATE,
	 NEEDS_LEASE, "decide ID --outcome CODE --text TEXT [--legal-basis TEXT]"},
	{"deliver", A(DELIVER), WK_O_EVIDENCE, 0, 0, "deliver ID --evidence TEXT"},
	{"review", A(REVIEW), WK_O_KIND | WK_O_CASE | WK_O_FILED | WK_O_RESULT, WK_O_DECIDED, 0,
	 "review ID --kind KIND --case-no N --filed YYYY-MM-DD --result RESULT "
	 "[--decided YYYY-MM-DD]"},
	{"repeat", A(REPEAT_DECISION), 0, WK_O_CONFIRM | WK_O_DISMISS, ONE_OF,
	 "repeat ID --confirm|--dismiss"},
};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

static const char *const review_kinds[] = {"review", "litigation_direct",
                                           "litigation_after_review", NULL};
static const char *const review_results[] = {"upheld", "corrected", "other", "pending", NULL};

static int in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

/* *ms = 0 for today (the router takes "now"), 00:00 of an earlier day. */
static int parse_date(const char *opt, const char *s, int allow_today, int64_t *ms)
{
	int32_t day, today = pb_day_of_ms(pb_now_ms());

	if (pb_date_parse(s, &day))
		return wk_fail(WK_EXIT_INVALID, "invalid_date",
		               "%s takes a date YYYY-MM-DD (Asia/Shanghai), not '%s'", opt, s);
	if (day > today)
		return wk_fail(WK_EXIT_INVALID, "invalid_date", "%s %s is in the future", opt, s);
	*ms = day == today && allow_today ? 0 : pb_day_start_ms(day);
	return WK_EXIT_OK;
}

static int nonempty(const char *opt, const char *v)
{
	if (!*v)
		return wk_fail(WK_EXIT_INVALID, "invalid_field", "%s must not be empty", opt);
	return WK_EXIT_OK;
}

static int review_args(struct wk_ctx *x, Mailroom__ReviewCase *rc)
{
	int rc_ = 0;

	if (!in_list(x->o.kind, review_kinds))
		return wk_fail(WK_EXIT_INVALID, "invalid_kind",
		               "--kind is review, litigation_direct or litigation_after_review, not '%s'",
		               x->o.kind);
	if (!in_list(x->o.result, review_results))
		return wk_fail(WK_EXIT_INVALID, "invalid_result",
		               "--result is upheld, corrected, other or pending, not '%s'", x->o.result);
	if ((rc_ = nonempty("--case-no", x->o.case_no)) ||
	    (rc_ = parse_date("--filed", x->o.filed, 0, &rc->filed_ms)))
		return rc_;
	if (x->o.decided && (rc_ = parse_date("--decided", x->o.decided, 0, &rc->decided_ms)))
		return rc_;
	if (strcmp(x->o.result, "pending") == 0 && x->o.decided)
		return wk_fail(WK_EXIT_INVALID, "invalid_date", "a pending case has no --decided date");
	if (strcmp(x->o.result, "pending") != 0 && !x->o.decided)
		return wk_fail(WK_EXIT_INVALID, "invalid_date", "--result %s needs --decided YYYY-MM-DD",
		               x->o.result);
	if (rc->decided_ms && rc->decided_ms < rc->filed_ms)
		return wk_fail(WK_EXIT_INVALID, "invalid_date", "--decided is before --filed");
	rc->kind = (char *)x->o.kind;
	rc->case_no = (char *)x->o.case_no;
	rc->result = (char *)x->o.result;
	return WK_EXIT_OK;
}

/* Fills d from the options the step takes; an exit code on refusal. */
static int fill(struct wk_ctx *x, const struct step *s, Mailroom__DisclosureReq *d,
                Mailroom__ReviewCase *rc)
{
	int e;

	d->action = s->action;
	if (x->o.text && (e = nonempty("--text", x->o.text)))
		return e;
	if (x->o.text)
		d->text = (char *)x->o.text;
	if (x->o.evidence) {
		if ((e = nonempty("--evidence", x->o.evidence)))
			return e;
		d->evidence = (char *)x->o.evidence;
	}
	if (x->o.date && (e = parse_date("--date", x->o.date, 1, &d->at_ms)))
		return e;
	if (x->o.party) {
		if ((e = nonempty("--party", x->o.party)))
			return e;
		d->text = (char *)x->o.party;   /* who is consulted */
	}
	if (s->action == A(EXTEND)) {
		if (wk_parse_days(x->o.ndays, &d->days))
			return wk_fail(WK_EXIT_INVALID, "invalid_days",
			               "--days takes whole working days, not '%s'", x->o.ndays);
		if ((e = nonempty("--approver", x->o.approver)) ||
		    (e = nonempty("--reason", x->o.reason)))
			return e;
		d->approver = (char *)x->o.approver;
		d->text = (char *)x->o.reason;
	}
	if (s->action == A(DECIDE)) {
		if (!pj_outcome_valid(x->o.outcome))
			return wk_fail(WK_EXIT_INVALID, "invalid_outcome",
			               "--outcome takes one of the 21 outcome codes (e.g. disclosed, "
			               "partly_disclosed, withheld.state_secret), not '%s'",
			               x->o.outcome);
		d->outcome = (char *)x->o.outcome;
		if (x->o.legal_basis) {
			if ((e = nonempty("--legal-basis", x->o.legal_basis)))
				return e;
			d->legal_basis = (char *)x->o.legal_basis;
		} else if (strcmp(x->o.outcome, "disclosed") != 0) {
			return wk_fail(WK_EXIT_INVALID, "legal_basis_required",
			               "--outcome %s needs --legal-basis TEXT", x->o.outcome);
		}
	}
	if (s->action == A(REVIEW)) {
		if ((e = review_args(x, rc)))
			return e;
		d->review = rc;
	}
	if (s->action == A(REPEAT_DECISION))
		d->text = (x->o.seen & WK_O_CONFIRM) ? "confirmed" : "dismissed";
	return WK_EXIT_OK;
}

static const struct step *find_step(const char *name)
{
	for (size_t i = 0; i < NSTEPS; i++)
		if (strcmp(steps[i].name, name) == 0)
			return &steps[i];
	return NULL;
}

/* Options: the step's own, nothing else; a usage error otherwise. */
static int check_opts(struct wk_ctx *x, const struct step *s)
{
	wk_optset given = x->o.seen & WK_O_DISCLOSURE;
	wk_optset extra = given & ~(s->need | s->allow);
	wk_optset missing = s->need & ~given;

	if (extra)
		return wk_fail(WK_EXIT_USAGE, "usage", "option --%s does not apply to disclosure %s",
		               wk_opt_name(extra & -extra), s->name);
	if (missing)
		return wk_fail(WK_EXIT_USAGE, "usage", "usage: disclosure %s", s->usage);
	if ((s->flags & ONE_OF) && !(given & WK_O_CONFIRM) == !(given & WK_O_DISMISS))
		return wk_fail(WK_EXIT_USAGE, "usage", "usage: disclosure %s (exactly one)", s->usage);
	return WK_EXIT_OK;
}

static void list_steps(void)
{
	fprintf(stderr, "steps:\n");
	for (size_t i = 0; i < NSTEPS; i++)
		fprintf(stderr, "  " WK_PROG " --key FILE disclosure %s\n", steps[i].usage);
}

int wk_cmd_disclosure(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__DisclosureReq d = MAILROOM__DISCLOSURE_REQ__INIT;
	Mailroom__ReviewCase rc = MAILROOM__REVIEW_CASE__INIT;
	Mailroom__Response *r;
	struct wk_lease_arg a;
	const struct step *s = find_step(x->o.args[0]);
	json_t *j;
	int rc_;

	if (!s) {
		rc_ = wk_fail(WK_EXIT_USAGE, "usage", "no disclosure step '%s'", x->o.args[0]);
		list_steps();
		return rc_;
	}
	/* From here on the id is the only argument, as for other commands. */
	x->o.args++;
	x->o.nargs--;
	if ((rc_ = check_opts(x, s)) || (rc_ = fill(x, s, &d, &rc)))
		return rc_;
	if ((rc_ = wk_lease_arg(x, &a, (s->flags & NEEDS_LEASE) != 0)))
		return rc_;
	d.id.data = a.id;
	d.id.len = PB_ID_LEN;
	if (s->flags & NEEDS_LEASE) {
		d.lease_token.data = a.tok;
		d.lease_token.len = a.toklen;
	}
	req.op_case = MAILROOM__REQUEST__OP_DISCLOSURE;
	req.disclosure = &d;
	if ((rc_ = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_DISCLOSURE, &r)))
		return (s->flags & NEEDS_LEASE) ? wk_after_lease_call(&a, rc_) : rc_;
	if (!r->disclosure) {
		mailroom__response__free_unpacked(r, NULL);
		return wk_fail(WK_EXIT_OTHER, "bad_response", "router sent no message view");
	}
	j = wk_view(r->disclosure);
	mailroom__response__free_unpacked(r, NULL);
	/* The decision is the answer: the lease is over. */
	if (s->flags & NEEDS_LEASE)
		wk_lease_done(&a);
	return wk_emit(j);
}
