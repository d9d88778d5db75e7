/* One line of a mailroom-admin import file: a message brought over from an
 * office's old system, with its life-cycle events at their original times
 * (README.md, "Import"). Checked as strictly as live traffic; the router
 * then applies the same state machine. */
#include "pj.h"
#include "pj_int.h"
#include "pb_disc.h"
#include "pb_conf.h"
#include "pb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const disc_keys[] = {
	"ref", "channel", "received_at", "applicant", "description", "form", "delivery",
	"submission_mode", "purpose", "events", NULL,
};
static const char *const msg_keys[] = {
	"ref", "channel", "received_at", "subject", "body", "contact", "category", "events", NULL,
};
static const char *const channels[] = {
	"mailbox", "consultation", "complaint", "hotline", "petition", "disclosure", NULL,
};

/* What an event may carry besides type, at and by. */
enum {
	F_TEXT = 1 << 0,       /* text, required */
	F_EVIDENCE = 1 << 1,
	F_EXTEND = 1 << 2,     /* days, approver, reason */
	F_DECIDE = 1 << 3,     /* outcome, text, legal_basis */
	F_REVIEW = 1 << 4,     /* kind, case_no, filed, result, decided; at optional */
};

struct ev_rule {
	const char *type;
	int action;            /* Mailroom__DisclosureAction; 0: not a disclosure step */
	unsigned fields;
	long text_max;
};

static const struct ev_rule rules[] = {
	{"receipt_confirmed", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONFIRM_RECEIPT, F_EVIDENCE, 0},
	{"correction_requested", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REQUEST_CORRECTION, F_TEXT,
	 2000},
	{"correction_received", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CORRECTION_RECEIVED, 0, 0},
	{"consultation_started", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONSULT, F_TEXT, 500},
	{"consultation_ended", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_CONSULT_DONE, 0, 0},
	{"extended", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_EXTEND, F_EXTEND, 0},
	{"fee_notice", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_FEE_NOTICE, F_TEXT, 2000},
	{"fee_paid", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_FEE_PAID, 0, 0},
	{"decided", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DECIDE, F_DECIDE, 10000},
	{"delivered", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_DELIVER, F_EVIDENCE, 0},
	{"review", MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_REVIEW, F_REVIEW, 0},
	{"replied", 0, F_TEXT, 10000},
};
#define NRULES (sizeof(rules) / sizeof(rules[0]))

static const struct ev_rule *rule_of(const char *type)
{
	for (size_t i = 0; i < NRULES; i++)
		if (strcmp(rules[i].type, type) == 0)
			return &rules[i];
	return NULL;
}

/* Keys an event of this rule may hold. */
static int event_keys(json_t *e, const char *path, const struct ev_rule *r,
                      struct pj_error *err)
{
	static const char *const base[] = {"type", "at", "by", NULL};
	static const char *const text[] = {"text", NULL};
	static const char *const evidence[] = {"evidence", NULL};
	static const char *const extend[] = {"days", "approver", "reason", NULL};
	static const char *const decide[] = {"outcome", "text", "legal_basis", NULL};
	static const char *const review[] = {"kind", "case_no", "filed", "result", "decided", NULL};
	const char *const *extra = NULL;
	const char *allowed[16];
	size_t n = 0;

	if (r->fields & F_TEXT)
		extra = text;
	else if (r->fields & F_EVIDENCE)
		extra = evidence;
	else if (r->fields & F_EXTEND)
		extra = extend;
	else if (r->fields & F_DECIDE)
		extra = decide;
	else if (r->fields & F_REVIEW)
		extra = review;
	for (size_t i = 0; base[i]; i++)
		allowed[n++] = base[i];
	for (size_t i = 0; extra && extra[i]; i++)
		allowed[n++] = extra[i];
	allowed[n] = NULL;
	return pj_known_keys(e, path, allowed, err);
}

/* A strict YYYY-MM-DD, as 00:00 Asia/Shanghai of that day. */
static int date_field(json_t *obj, const char *path, const char *key, int required, int64_t *ms,
                      struct pj_error *err)
{
	const char *s = NULL;
	int32_t day;

	if (pj_text(obj, path, key, required, 10, 10, 0, &s, err)) {
		if (strcmp(err->code, "invalid_field") == 0)
			pj_fail(err, "invalid_field", "%s%s: a date YYYY-MM-DD", path, key);
		return -1;
	}
	if (!s)
		return 0;
	if (pb_date_parse(s, &day))
		return pj_fail(err, "invalid_field", "%s%s: a date YYYY-MM-DD", path, key);
	*ms = pb_day_start_ms(day);
	return 0;
}

static int review_fields(json_t *e, const char *path, Mailroom__ReviewCase *rc,
                         struct pj_error *err)
{
	const char *kind = NULL, *case_no = NULL, *result = NULL;

	if (pj_enum(e, path, "kind", 1, pb_disc_review_kinds, &kind, err) ||
	    pj_text(e, path, "case_no", 1, 1, 100, PJ_NOBLANK, &case_no, err) ||
	    date_field(e, path, "filed", 1, &rc->filed_ms, err) ||
	    pj_enum(e, path, "result", 1, pb_disc_results, &result, err) ||
	    date_field(e, path, "decided", 0, &rc->decided_ms, err))
		return -1;
	if (strcmp(result, "pending") == 0 && rc->decided_ms)
		return pj_fail(err, "invalid_field", "%sdecided: a pending case has no decision date",
		               path);
	if (strcmp(result, "pending") != 0 && !rc->decided_ms)
		return pj_fail(err, "missing_field", "%sdecided: required with a result", path);
	if (rc->decided_ms && rc->decided_ms < rc->filed_ms)
		return pj_fail(err, "invalid_field", "%sdecided: before the filing date", path);
	rc->kind = (char *)kind;
	rc->case_no = (char *)case_no;
	rc->result = (char *)result;
	return 0;
}

static int step_fields(json_t *e, const char *path, const struct ev_rule *r,
                       Mailroom__DisclosureReq *st, Mailroom__ReviewCase *rc,
                       struct pj_error *err)
{
	const char *text = NULL, *s = NULL;
	long long days = 0;

	st->action = (Mailroom__DisclosureAction)r->action;
	if (r->fields & F_TEXT) {
		if (pj_text(e, path, "text", 1, 1, r->text_max, PJ_LINES | PJ_NOBLANK, &text, err))
			return -1;
		st->text = (char *)text;
	}
	if (r->fields & F_EVIDENCE) {
		if (pj_text(e, path, "evidence", 1, 1, 500, PJ_LINES | PJ_NOBLANK, &s, err))
			return -1;
		st->evidence = (char *)s;
	}
	if (r->fields & F_EXTEND) {
		if (pj_int(e, path, "days", 1, 1, 366, &days, err) ||
		    pj_text(e, path, "approver", 1, 1, 100, PJ_NOBLANK, &s, err))
			return -1;
		st->days = (int32_t)days;
		st->approver = (char *)s;
		if (pj_text(e, path, "reason", 1, 1, 500, PJ_LINES | PJ_NOBLANK, &text, err))
			return -1;
		st->text = (char *)text;
	}
	if (r->fields & F_DECIDE) {
		if (pj_text(e, path, "outcome", 1, 1, 64, 0, &s, err))
			return -1;
		if (!pj_outcome_valid(s))
			return pj_fail(err, "invalid_field", "%soutcome: not one of the 21 outcome codes",
			               path);
		st->outcome = (char *)s;
		s = NULL;   /* pj_text leaves it alone when legal_basis is absent */
		if (pj_text(e, path, "text", 1, 1, r->text_max, PJ_LINES | PJ_NOBLANK, &text, err) ||
		    pj_text(e, path, "legal_basis", 0, 1, 1000, PJ_LINES | PJ_NOBLANK, &s, err))
			return -1;
		st->text = (char *)text;
		if (!s && strcmp(st->outcome, "disclosed") != 0)
			return pj_fail(err, "missing_field", "%slegal_basis: required for every outcome "
			               "but disclosed", path);
		if (s)
			st->legal_basis = (char *)s;
	}
	if (r->fields & F_REVIEW) {
		if (review_fields(e, path, rc, err))
			return -1;
		st->review = rc;
	}
	return 0;
}

static int parse_event(json_t *e, size_t i, int disclosure, struct pj_import *im,
                       struct pj_error *err)
{
	char path[48];
	const char *type = NULL, *by = NULL;
	const struct ev_rule *r;
	Mailroom__ImportEvent *ev = &im->ev[i];
	int64_t at = 0;

	snprintf(path, sizeof(path), "events[%zu].", i);
	if (!json_is_object(e))
		return pj_fail(err, "invalid_field", "events[%zu]: must be an object", i);
	if (pj_text(e, path, "type", 1, 1, 32, 0, &type, err))
		return -1;
	if (!(r = rule_of(type)))
		return pj_fail(err, "invalid_field", "%stype: not an event type (see the import format)",
		               path);
	/* A disclosure application is answered by its decision; the other
	 * channels only by a reply. */
	if (disclosure != (r->action != 0))
		return pj_fail(err, "invalid_field", "%stype: not an event of this channel "
		               "(disclosure: its steps; others: replied)", path);
	if (event_keys(e, path, r, err) ||
	    pj_time(e, path, "at", !(r->fields & F_REVIEW), &at, err) ||
	    pj_text(e, path, "by", r->action == 0, 1, 50, PJ_NOBLANK, &by, err))
		return -1;
	ev->type = (char *)type;
	if (by)
		ev->by = (char *)by;
	if (r->action == 0) {
		const char *text = NULL;
		if (pj_text(e, path, "text", 1, 1, r->text_max, PJ_LINES | PJ_NOBLANK, &text, err))
			return -1;
		ev->text = (char *)text;
		ev->at_ms = at;
		return 0;
	}
	if (step_fields(e, path, r, &im->steps[i], &im->reviews[i], err))
		return -1;
	/* A review record without its own time happened when last heard of. */
	if (!at && (r->fields & F_REVIEW))
		at = im->reviews[i].decided_ms ? im->reviews[i].decided_ms : im->reviews[i].filed_ms;
	ev->at_ms = at;
	im->steps[i].at_ms = at;
	ev->step = &im->steps[i];
	return 0;
}

static int parse_events(json_t *root, int disclosure, struct pj_import *im,
                        struct pj_error *err)
{
	json_t *arr;
	size_t n;

	if (pj_member(root, "", "events", 0, &arr, err))
		return -1;
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return pj_fail(err, "invalid_field", "events: must be an array");
	n = json_array_size(arr);
	if (n > PJ_IMPORT_EVENTS_MAX)
		return pj_fail(err, "invalid_field", "events: at most %d", PJ_IMPORT_EVENTS_MAX);
	if (n == 0)
		return 0;
	im->ev = calloc(n, sizeof(*im->ev));
	im->evp = calloc(n, sizeof(*im->evp));
	im->steps = calloc(n, sizeof(*im->steps));
	im->reviews = calloc(n, sizeof(*im->reviews));
	if (!im->ev || !im->evp || !im->steps || !im->reviews)
		return pj_fail(err, "no_memory", "out of memory");
	for (size_t i = 0; i < n; i++) {
		mailroom__import_event__init(&im->ev[i]);
		mailroom__disclosure_req__init(&im->steps[i]);
		mailroom__review_case__init(&im->reviews[i]);
		im->evp[i] = &im->ev[i];
	}
	for (size_t i = 0; i < n; i++)
		if (parse_event(json_array_get(arr, i), i, disclosure, im, err))
			return -1;
	im->req.n_events = n;
	im->req.events = im->evp;
	return 0;
}

static int parse_message_fields(json_t *root, struct pj_import *im, struct pj_error *err)
{
	const char *subject = NULL, *body = NULL, *category = NULL;
	int has_contact;

	if (pj_known_keys(root, "", msg_keys, err) ||
	    pj_text(root, "", "subject", 1, 1, 200, PJ_LINES | PJ_NOBLANK, &subject, err) ||
	    pj_text(root, "", "body", 1, 1, 10000, PJ_LINES | PJ_NOBLANK, &body, err) ||
	    pj_text(root, "", "category", 0, 1, 64, 0, &category, err) ||
	    pj_parse_contact(root, &im->contact, &has_contact, err))
		return -1;
	im->submit.subject = (char *)subject;
	im->submit.body = (char *)body;
	if (category)
		im->submit.category = (char *)category;
	if (has_contact)
		im->submit.contact = &im->contact;
	return 0;
}

static int parse_line(json_t *root, struct pj_import *im, struct pj_error *err)
{
	const char *ref = NULL, *channel = NULL;
	int disclosure;

	/* The channel decides which keys belong; an unknown one is named
	 * before the rest is looked at. */
	if (pj_enum(root, "", "channel", 1, channels, &channel, err))
		return -1;
	disclosure = strcmp(channel, "disclosure") == 0;
	if (disclosure) {
		if (pj_known_keys(root, "", disc_keys, err) ||
		    pj_disclosure_fields(root, "", &im->submit, &im->d, err))
			return -1;
	} else if (parse_message_fields(root, im, err)) {
		return -1;
	}
	im->submit.channel = (Mailroom__Channel)pb_channel_parse(channel);
	if (pj_text(root, "", "ref", 1, 1, 100, PJ_NOBLANK, &ref, err) ||
	    pj_time(root, "", "received_at", 1, &im->req.received_ms, err) ||
	    parse_events(root, disclosure, im, err))
		return -1;
	im->req.ref = (char *)ref;
	im->req.submit = &im->submit;
	return 0;
}

int pj_parse_import(const char *line, size_t len, json_t **root, struct pj_import *im,
                    struct pj_error *err)
{
	memset(im, 0, sizeof(*im));
	mailroom__import_req__init(&im->req);
	mailroom__submit_req__init(&im->submit);
	mailroom__contact__init(&im->contact);
	if (pj_load(line, len, root, err))
		return -1;
	if (parse_line(*root, im, err)) {
		pj_import_clear(im);
		json_decref(*root);
		*root = NULL;
		return -1;
	}
	return 0;
}

void pj_import_clear(struct pj_import *im)
{
	free(im->ev);
	free(im->evp);
	free(im->steps);
	free(im->reviews);
	im->ev = NULL;
	im->evp = NULL;
	im->steps = NULL;
	im->reviews = NULL;
	im->req.n_events = 0;
	im->req.events = NULL;
}
