/* mailroom-handler petition STEP ID: the steps of a petition transferred
 * from the petition system (workers/README.md, "Petitions"). Each sends
 * one PetitionReq; the router checks that the petition's stage allows it
 * and records it. answer needs the lease (it ends it); accept and
 * not-accept send the kept lease when there is one; the others need the
 * right to the petition's queue.
 *
 * --date is an Asia/Shanghai date: today means now, an earlier day its
 * first instant (00:00 +08:00). */
#include "wk_cli.h"
#include "pb_err.h"
#include "pb_time.h"

#include <stdio.h>
#include <string.h>

enum { NEEDS_LEASE = 1, SENDS_LEASE = 2 };

struct step {
	const char *name;
	Mailroom__PetitionAction action;
	wk_optset need;     /* WK_O_* required */
	wk_optset allow;    /* WK_O_* taken besides those */
	int flags;
	const char *usage;
};

#define A(x) MAILROOM__PETITION_ACTION__PETITION_##x
#define LEASE_OPTS (WK_O_LEASE | WK_O_STATE)

static const struct step steps[] = {
	{"accept", A(ACCEPT), 0, LEASE_OPTS, SENDS_LEASE, "accept ID"},
	{"not-accept", A(NOT_ACCEPT), WK_O_TEXT, LEASE_OPTS, SENDS_LEASE, "not-accept ID --text TEXT"},
	{"extend", A(EXTEND), WK_O_NDAYS | WK_O_APPROVER | WK_O_REASON, 0, 0,
	 "extend ID --days N --approver NAME --reason TEXT"},
	{"answer", A(ANSWER), WK_O_TEXT, LEASE_OPTS, NEEDS_LEASE, "answer ID --text TEXT"},
	{"review", A(REVIEW), 0, WK_O_DATE, 0, "review ID [--date YYYY-MM-DD]"},
	{"rereview", A(REREVIEW), 0, WK_O_DATE, 0, "rereview ID [--date YYYY-MM-DD]"},
};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

static const struct step *find_step(const char *name)
{
	for (size_t i = 0; i < NSTEPS; i++)
		if (strcmp(steps[i].name, name) == 0)
			return &steps[i];
	return NULL;
}

static void list_steps(void)
{
	fprintf(stderr, "steps:\n");
	for (size_t i = 0; i < NSTEPS; i++)
		fprintf(stderr, "  " WK_PROG " --key FILE petition %s\n", steps[i].usage);
}

static int nonempty(const char *opt, const char *v)
{
	if (!*v)
		return wk_fail(WK_EXIT_INVALID, "invalid_field", "%s must not be empty", opt);
	return WK_EXIT_OK;
}

/* Fills p from the options the step takes; an exit code on refusal. */
static int fill(struct wk_ctx *x, const struct step *s, Mailroom__PetitionReq *p)
{
	wk_optset given = x->o.seen & WK_O_PETITION;
	int e;

	if (given & ~(s->need | s->allow))
		return wk_fail(WK_EXIT_USAGE, "usage", "usage: petition %s", s->usage);
	if (s->need & ~given)
		return wk_fail(WK_EXIT_USAGE, "usage", "usage: petition %s", s->usage);
	p->action = s->action;
	if (x->o.text) {
		if ((e = nonempty("--text", x->o.text)))
			return e;
		p->text = (char *)x->o.text;
	}
	if (s->action == A(EXTEND)) {
		if (wk_parse_days(x->o.ndays, &p->days))
			return wk_fail(WK_EXIT_INVALID, "invalid_days",
			               "--days takes whole calendar days, not '%s'", x->o.ndays);
		if ((e = nonempty("--approver", x->o.approver)) ||
		    (e = nonempty("--reason", x->o.reason)))
			return e;
		p->approver = (char *)x->o.approver;
		p->text = (char *)x->o.reason;
	}
	if (x->o.date) {
		int32_t day, today = pb_day_of_ms(pb_now_ms());
		if (pb_date_parse(x->o.date, &day) || day > today)
			return wk_fail(WK_EXIT_INVALID, "invalid_date",
			               "--date takes a past date YYYY-MM-DD (Asia/Shanghai), not '%s'",
			               x->o.date);
		p->at_ms = day == today ? 0 : pb_day_start_ms(day);
	}
	return WK_EXIT_OK;
}

int wk_cmd_petition(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__PetitionReq p = MAILROOM__PETITION_REQ__INIT;
	Mailroom__Response *r;
	struct wk_lease_arg a;
	const struct step *s = find_step(x->o.args[0]);
	int lease = 0, rc;
	json_t *j;

	if (!s) {
		rc = wk_fail(WK_EXIT_USAGE, "usage", "no petition step '%s'", x->o.args[0]);
		list_steps();
		return rc;
	}
	/* From here on the id is the only argument, as for other commands. */
	x->o.args++;
	x->o.nargs--;
	if ((rc = fill(x, s, &p)) || (rc = wk_lease_arg(x, &a, (s->flags & NEEDS_LEASE) != 0)))
		return rc;
	p.id.data = a.id;
	p.id.len = PB_ID_LEN;
	if ((s->flags & (NEEDS_LEASE | SENDS_LEASE)) && a.toklen) {
		p.lease_token.data = a.tok;
		p.lease_token.len = a.toklen;
		lease = 1;
	}
	req.op_case = MAILROOM__REQUEST__OP_PETITION;
	req.petition = &p;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_PETITION, &r)))
		return lease ? wk_after_lease_call(&a, rc) : rc;
	if (!r->petition) {
		mailroom__response__free_unpacked(r, NULL);
		return wk_fail(WK_EXIT_OTHER, "bad_response", "router sent no message view");
	}
	j = wk_view(r->petition);
	/* An answer or a refusal to accept ends the lease. */
	if (lease && r->petition->status != MAILROOM__STATUS__STATUS_LEASED)
		wk_lease_done(&a);
	mailroom__response__free_unpacked(r, NULL);
	return wk_emit(j);
}
