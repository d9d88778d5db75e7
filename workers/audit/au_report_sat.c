/* The satisfaction part of report channels (workers/README.md, "Ratings"),
 * from the verified records only: per department (the records' queue)
 * and channel, the ratings given in the range, the bad ones given under
 * a name and how many of those were called back (on time: by the
 * call-back's due instant), and the re-openings in the range. */
#include "au_report.h"
#include "au_idtab.h"
#include "au_judge.h"
#include "pb_err.h"
#include "pb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x

struct smsg {
	uint8_t id[PB_ID_LEN];
	uint8_t owed;              /* a bad rating under a name, in the range */
	uint32_t row;              /* its row + 1 */
	int64_t due;               /* the call-back's due instant */
};

static struct au_sat *row(struct au_report *rep, const char *queue, int channel, uint32_t *at)
{
	for (size_t i = 0; i < rep->nsat; i++)
		if (rep->sat[i].channel == channel && strcmp(rep->sat[i].queue, queue) == 0) {
			*at = (uint32_t)i + 1;
			return &rep->sat[i];
		}
	if (rep->nsat == rep->capsat) {
		size_t cap = rep->capsat ? rep->capsat * 2 : 16;
		struct au_sat *p = realloc(rep->sat, cap * sizeof(*p));
		if (!p)
			return NULL;
		rep->sat = p;
		rep->capsat = cap;
	}
	struct au_sat *s = &rep->sat[rep->nsat++];
	memset(s, 0, sizeof(*s));
	snprintf(s->queue, sizeof(s->queue), "%s", queue);
	s->channel = channel;
	*at = (uint32_t)rep->nsat;
	return s;
}

int au_sat_record(struct au_report *rep, struct au_idtab *msgs, const Mailroom__AuditRecord *r)
{
	int64_t t = au_when(r);
	int32_t day = pb_day_of_ms(t);
	int in = day >= rep->from && day <= rep->to && t <= rep->as_of, added;
	struct au_sat *s;
	struct smsg *m;
	uint32_t at;

	if (r->event < EV(RATED) || r->event > EV(REOPENED) || r->message_id.len != PB_ID_LEN)
		return PB_OK;
	if (!(m = au_idtab_get(msgs, r->message_id.data, &added)))
		return PB_ENOMEM;
	switch ((int)r->event) {
	case EV(RATED):
		if (!in)
			break;
		if (!(s = row(rep, r->queue ? r->queue : "", r->channel, &at)))
			return PB_ENOMEM;
		s->rated++;
		s->satisfied += r->rating >= 1 && r->rating <= 3;
		if (r->rating >= 4 && r->rating_named) {
			s->owed++;
			m->owed = 1;
			m->row = at;
		}
		break;
	case EV(CALLBACK_OPENED):
		m->due = r->callback_due_ms;
		break;
	case EV(CALLBACK_DONE):
		if (m->owed && m->row && t <= rep->as_of) {
			rep->sat[m->row - 1].done++;
			rep->sat[m->row - 1].on_time += t <= m->due;
		}
		break;
	case EV(REOPENED):
		if (!in)
			break;
		if (!(s = row(rep, r->queue ? r->queue : "", r->channel, &at)))
			return PB_ENOMEM;
		s->reopened++;
		break;
	}
	return PB_OK;
}

static int by_row(const void *a, const void *b)
{
	const struct au_sat *x = a, *y = b;
	int c = strcmp(x->queue, y->queue);

	return c ? c : x->channel - y->channel;
}

void au_sat_finish(struct au_report *rep)
{
	if (rep->nsat)
		qsort(rep->sat, rep->nsat, sizeof(*rep->sat), by_row);
}

void au_report_free(struct au_report *rep)
{
	free(rep->sat);
	rep->sat = NULL;
	rep->nsat = rep->capsat = 0;
}

size_t au_sat_msg_size(void)
{
	return sizeof(struct smsg);
}
