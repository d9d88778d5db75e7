/* overdue: every missed deadline as of --now, rebuilt from the verified
 * audit records alone and judged by au_judge.c, the definition report
 * channels counts by too. The stored message is mutable and unsigned, so
 * it is read only to show a tracking code. */
#include "au_judge.h"
#include "cal.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tally {
	int overdue, open, late;
};

/* One pass over the verified prefix of the log. */
static int scan(st_txn *t, uint64_t n, struct au_judge *j)
{
	for (uint64_t i = 0; i < n; i++) {
		Mailroom__AuditRecord *r;
		const uint8_t *data;
		size_t len;
		int rc;

		if ((rc = st_log_get(t, i, &data, &len)))
			return rc;
		if (len == 0 ||
		    !(r = mailroom__audit_record__unpack(NULL, len, data)))
			return PB_ECORRUPT;
		rc = au_judge_record(j, r);
		mailroom__audit_record__free_unpacked(r, NULL);
		if (rc)
			return rc;
	}
	return PB_OK;
}

/* Everything one line or one JSON entry shows. */
struct miss {
	const struct au_jmsg *m;
	const struct au_jclock *c;
	int ack;
	int64_t end_ms;            /* when it was met, or the instant judged for an open one */
	int days;                  /* working days missed */
	char track[PB_TRACK_TEXT_LEN + 1];
};

static void print_miss(const struct miss *x)
{
	char idt[PB_ID_TEXT_LEN + 1], ch[32], due[40], at[40];

	pb_id_to_text(x->m->id, idt);
	au_enum_name(&mailroom__channel__descriptor, x->m->channel, "CHANNEL_", 1, ch, sizeof(ch));
	au_fmt_time(x->c->due, due, sizeof(due), 0);
	printf("%s %s tracking=%s channel=%s queue=", idt, x->ack ? "ack" : "reply",
	       *x->track ? x->track : "-", ch);
	au_put_clean(*x->m->queue ? x->m->queue : "-");
	printf(" due=%s%s", due, x->c->provisional ? " (provisional)" : "");
	if (x->c->met) {
		au_fmt_time(x->c->met, at, sizeof(at), 0);
		printf(" %s=%s", x->ack ? "acknowledged_at" : "replied_at", at);
	} else {
		printf(" open");
		if (x->c->paused && x->c->paused_since) {
			au_fmt_time(x->c->paused_since, at, sizeof(at), 0);
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
	              au_time_json(x->c->due, 0), "due_provisional", x->c->provisional, "state",
	              x->c->met ? "late" : "open", x->ack ? "acknowledged_at" : "replied_at",
	              au_time_json(x->c->met, 0), "working_days_missed", x->days);
	if (j && !x->c->met && x->c->paused && x->c->paused_since &&
	    json_object_set_new(j, "paused_since", au_time_json(x->c->paused_since, 0))) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* Reports the clock if it was missed: a line, or an entry in out (the
 * JSON array; NULL for text). */
static int judge(st_txn *t, const cal_set *cal, const struct au_judge *j,
                 const struct au_jmsg *m, int ack, struct tally *tl, json_t *out)
{
	struct miss x = {.m = m, .c = ack ? &m->ack : &m->reply, .ack = ack};
	Mailroom__StoredMessage *sm = NULL;
	int rc;

	if (!au_judge_overdue(au_judge_clock(j, m, x.c, &x.end_ms)))
		return PB_OK;
	x.days = cal_working_days_between(cal, pb_day_of_ms(x.c->due), pb_day_of_ms(x.end_ms),
	                                  NULL);
	tl->overdue++;
	if (x.c->met)
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
	struct tally rt = {0}, at = {0};
	struct au_judge j;
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
	au_judge_init(&j, now_ms);
	rc = scan(t, l->rep.records, &j);
	for (size_t i = 0; !rc && i < au_judge_count(&j); i++)
		if (!(rc = judge(t, cal, &j, au_judge_at(&j, i), 1, &at, arr)))
			rc = judge(t, cal, &j, au_judge_at(&j, i), 0, &rt, arr);
	st_txn_abort(t);
	au_judge_free(&j);
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
	if ((rc = au_cal_load(&o, o.json, &cal)))
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
