/* overdue: every missed deadline, rebuilt from the verified audit records
 * alone. The stored message is mutable and unsigned, so it is read only
 * to show a tracking code.
 *
 * Per message, the reply deadline in force is the due_ms of its latest
 * record up to and including REPLIED (RECEIVED sets it, CLOCK_* records
 * move it); the acknowledgement deadline is ack_due_ms up to the first
 * LEASED (or REPLIED). A reply clock whose latest clock record says it is
 * paused is judged at the instant the pause began: paused days do not
 * count (deadlines.md section 3). */
#include "au.h"
#include "au_idtab.h"
#include "cal.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clk {
	int64_t due_ms;            /* in force; 0 = the message has no such clock */
	int provisional;
	int64_t met_ms;            /* answered or acknowledged; 0 = open */
};

struct msg {
	uint8_t id[PB_ID_LEN];
	int channel;
	char queue[PB_NAME_MAX];
	struct clk reply, ack;
	int paused;
	int64_t paused_since_ms;
};

/* Messages in the order the log first names them, found by id through an
 * open-addressing table of (index + 1). */
struct book {
	struct au_idtab msgs;      /* struct msg */
};

struct tally {
	int overdue, open, late;
};

static int find_or_add(struct book *b, const uint8_t id[PB_ID_LEN], struct msg **out)
{
	int added;

	*out = au_idtab_get(&b->msgs, id, &added);
	return *out ? PB_OK : PB_ENOMEM;
}

static void book_free(struct book *b)
{
	au_idtab_free(&b->msgs);
}

/* Applies one record; what a record says after a clock was met does not
 * reopen it. */
static void apply(struct msg *m, const Mailroom__AuditRecord *r)
{
	int replied = r->event == MAILROOM__AUDIT_EVENT__AUDIT_REPLIED;

	if (!m->ack.met_ms) {
		m->ack.due_ms = r->ack_due_ms;
		if (replied || r->event == MAILROOM__AUDIT_EVENT__AUDIT_LEASED)
			m->ack.met_ms = r->time_ms;
	}
	if (m->reply.met_ms)
		return;
	m->channel = r->channel;
	if (r->queue && *r->queue)
		snprintf(m->queue, sizeof(m->queue), "%s", r->queue);
	m->reply.due_ms = r->due_ms;
	m->reply.provisional = r->due_provisional;
	if (r->clock && r->clock->kind == ST_CLOCK_REPLY) {
		m->paused = r->clock->pause_depth > 0;
		m->paused_since_ms = m->paused ? r->clock->paused_since_ms : 0;
	}
	if (replied)
		m->reply.met_ms = r->time_ms;
}

/* One pass over the verified prefix of the log. */
static int scan(st_txn *t, uint64_t n, struct book *b)
{
	for (uint64_t i = 0; i < n; i++) {
		Mailroom__AuditRecord *r;
		const uint8_t *data;
		struct msg *m;
		size_t len;
		int rc;

		if ((rc = st_log_get(t, i, &data, &len)))
			return rc;
		if (len <= ST_SIG_LEN ||
		    !(r = mailroom__audit_record__unpack(NULL, len - ST_SIG_LEN, data)))
			return PB_ECORRUPT;
		/* Records about no message (the log key) have no clocks. */
		if (r->message_id.len == PB_ID_LEN) {
			if ((rc = find_or_add(b, r->message_id.data, &m)) == PB_OK)
				apply(m, r);
		}
		mailroom__audit_record__free_unpacked(r, NULL);
		if (rc)
			return rc;
	}
	return PB_OK;
}

/* Everything one line or one JSON entry shows. */
struct miss {
	const struct msg *m;
	const struct clk *c;
	int ack;
	int64_t end_ms;            /* when it was met, or "today" for an open one */
	int days;                  /* working days missed */
	char track[PB_TRACK_TEXT_LEN + 1];
};

static void print_miss(const struct miss *x)
{
	char idt[PB_ID_TEXT_LEN + 1], ch[32], due[40], at[40];

	pb_id_to_text(x->m->id, idt);
	au_enum_name(&mailroom__channel__descriptor, x->m->channel, "CHANNEL_", 1, ch, sizeof(ch));
	au_fmt_time(x->c->due_ms, due, sizeof(due), 0);
	printf("%s %s tracking=%s channel=%s queue=", idt, x->ack ? "ack" : "reply",
	       *x->track ? x->track : "-", ch);
	au_put_clean(*x->m->queue ? x->m->queue : "-");
	printf(" due=%s%s", due, x->c->provisional ? " (provisional)" : "");
	if (x->c->met_ms) {
		au_fmt_time(x->c->met_ms, at, sizeof(at), 0);
		printf(" %s=%s", x->ack ? "acknowledged_at" : "replied_at", at);
	} else {
		printf(" open");
		if (!x->ack && x->m->paused) {
			au_fmt_time(x->m->paused_since_ms, at, sizeof(at), 0);
			printf(" paused_since=%s", at);
		}
	}
	printf(" missed=%d\n", x->days);
}

static json_t *miss_json(const struct miss *x)
{
	char idt[PB_ID_TEXT_LEN + 1], ch[32];
	json_t *j;

	pb_id_to_text(x->m->id, idt);
	au_enum_name(&mailroom__channel__descriptor, x->m->channel, "CHANNEL_", 1, ch, sizeof(ch));
	j = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:o, s:b, s:s, s:o, s:i}", "id", idt,
	              "tracking_code", *x->track ? x->track : NULL, "channel", ch, "queue",
	              x->m->queue, "clock", x->ack ? "ack" : "reply", "due",
	              au_time_json(x->c->due_ms, 0), "due_provisional", x->c->provisional, "state",
	              x->c->met_ms ? "late" : "open", x->ack ? "acknowledged_at" : "replied_at",
	              au_time_json(x->c->met_ms, 0), "working_days_missed", x->days);
	if (j && !x->ack && !x->c->met_ms && x->m->paused &&
	    json_object_set_new(j, "paused_since", au_time_json(x->m->paused_since_ms, 0))) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* Reports the clock if it was missed: a line, or an entry in out (the
 * JSON array; NULL for text). */
static int judge(st_txn *t, const cal_set *cal, const struct msg *m, int ack, int64_t now_ms,
                 struct tally *tl, json_t *out)
{
	struct miss x = {.m = m, .c = ack ? &m->ack : &m->reply, .ack = ack};
	Mailroom__StoredMessage *sm = NULL;
	int rc;

	if (!x.c->due_ms)
		return PB_OK;
	x.end_ms = x.c->met_ms ? x.c->met_ms : now_ms;
	if (!ack && !x.c->met_ms && m->paused)
		x.end_ms = m->paused_since_ms;
	if (x.end_ms <= x.c->due_ms)
		return PB_OK;
	x.days = cal_working_days_between(cal, pb_day_of_ms(x.c->due_ms), pb_day_of_ms(x.end_ms),
	                                  NULL);
	tl->overdue++;
	if (x.c->met_ms)
		tl->late++;
	else
		tl->open++;
	rc = st_msg_get(t, m->id, &sm);
	if (rc && rc != PB_ENOTFOUND)
		return rc;
	if (sm && sm->tracking_code)
		snprintf(x.track, sizeof(x.track), "%s", sm->tracking_code);
	st_msg_free(sm);
	if (!out) {
		print_miss(&x);
		return PB_OK;
	}
	return json_array_append_new(out, miss_json(&x)) ? PB_ENOMEM : PB_OK;
}

static json_t *summary_json(const struct tally *r, const struct tally *a)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "overdue", r->overdue, "open", r->open,
	                 "answered_late", r->late, "ack_overdue", a->overdue, "ack_open", a->open,
	                 "ack_late", a->late);
}

static int report(const struct au_opts *o, struct au_log *l, const cal_set *cal, int64_t now_ms)
{
	uint8_t v[CAL_VERSION_LEN];
	char ver[2 * CAL_VERSION_LEN + 1];
	struct book b = {.msgs = AU_IDTAB_INIT(struct msg)};
	struct tally rt = {0}, at = {0};
	json_t *arr = NULL;
	st_txn *t;
	int rc;

	if (o->json && !(arr = json_array()))
		return au_fail(1, AU_EXIT_OTHER, "no_memory", "out of memory");
	if ((rc = st_txn_begin(l->env, NULL, 1, &t))) {
		json_decref(arr);
		return au_fail(o->json, AU_EXIT_OPEN, "cannot_read", "cannot read %s: %s", o->store,
		               pb_err_str(rc));
	}
	rc = scan(t, l->rep.records, &b);
	for (size_t i = 0; !rc && i < b.msgs.n; i++)
		if (!(rc = judge(t, cal, au_idtab_at(&b.msgs, i), 1, now_ms, &at, arr)))
			rc = judge(t, cal, au_idtab_at(&b.msgs, i), 0, now_ms, &rt, arr);
	st_txn_abort(t);
	book_free(&b);
	if (rc) {
		json_decref(arr);
		return au_fail(o->json, AU_EXIT_OTHER, pb_err_name(rc), "cannot read the store: %s",
		               pb_err_str(rc));
	}
	if (!o->json) {
		printf("%d overdue (open %d, answered late %d); "
		       "acknowledgement: %d overdue (open %d, late %d)\n",
		       rt.overdue, rt.open, rt.late, at.overdue, at.open, at.late);
		return fflush(stdout) == 0 ? AU_EXIT_OK : AU_EXIT_OTHER;
	}
	cal_version(cal, v);
	pb_hex(v, sizeof(v), ver);
	return au_emit(json_pack("{s:o, s:s, s:o, s:o, s:o}", "now", au_time_json(now_ms, 0),
	                         "calendar_version", ver, "log", au_log_json(l), "overdue", arr,
	                         "summary", summary_json(&rt, &at)));
}

int au_cmd_overdue(int argc, char **argv)
{
	struct au_opts o;
	struct au_log l;
	cal_set *cal;
	int64_t now_ms = pb_now_ms();
	int rc;

	if ((rc = au_parse(argc, argv, &o)) >= 0)
		return rc;
	if (o.nargs)
		return au_usage(argv[0], "overdue takes no arguments");
	if (o.now && pb_time_parse(o.now, &now_ms))
		return au_fail(o.json, AU_EXIT_INVALID, "invalid_time",
		               "--now takes an RFC 3339 time such as 2025-11-05T12:00:00+08:00, "
		               "not '%s'",
		               o.now);
	if ((rc = au_cal_load(o.calendars, o.json, &cal)))
		return rc;
	/* A report out of a log that fails verification would be evidence of
	 * nothing: refuse with the verify verdict instead. */
	if ((rc = au_log_open(o.store, o.pubkey, o.json, &l))) {
		cal_free(cal);
		return rc;
	}
	if (!l.pinned && !o.json)
		fprintf(stderr, AU_PROG ": note: log key %s taken from record 0; pass --pubkey FILE "
		                "to check it against a known key\n",
		        l.rep.key_name);
	rc = report(&o, &l, cal, now_ms);
	au_log_close(&l);
	cal_free(cal);
	return rc;
}
