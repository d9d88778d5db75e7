/* Deadline clocks (docs/deadlines.md). A clock's due instant is always derived
 * from its inputs (start, span, extensions, pauses) and the calendar;
 * every change to it is an audit record with the old and new due instant.
 *
 * The deadline index holds one entry per open clock: the instant of its
 * next escalation step, keyed (instant, id, kind | step << 4). The writer
 * takes due entries in the same transaction that writes the step's record
 * and schedules the next, so each step is written exactly once, across
 * restarts too. */
#include "rt_chan.h"
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STEP_DUE_SOON 1
#define STEP_OVERDUE 2
#define STEP_SERIOUS 3
#define SERIOUS_AFTER_WD 5

static uint8_t index_byte(uint32_t kind, uint32_t step)
{
	return (uint8_t)((kind & 0x0f) | (step << 4));
}

uint8_t rt_deadline_byte(uint32_t kind, uint32_t step)
{
	return index_byte(kind, step);
}

void rt_clock_compute(struct rt_core *core, Mailroom__Clock *c)
{
	int prov = 0;

	if (c->hours > 0) {
		c->computed_due_ms = c->started_ms + (int64_t)c->hours * 3600 * 1000 + c->paused_ms;
	} else if (c->calendar_days > 0) {
		/* Day 0 is the receipt date; every day counts (信访工作条例). */
		int32_t d = pb_day_of_ms(c->started_ms) + c->calendar_days + c->extended_days +
		            c->paused_days;
		c->computed_due_ms = cal_end_of_day_ms(d);
	} else {
		int32_t d0 = pb_day_of_ms(c->started_ms);
		int n = c->working_days + c->extended_days + c->paused_days;
		c->computed_due_ms = cal_end_of_day_ms(cal_add_working_days(core->cal, d0, n, &prov));
	}
	c->provisional = prov;
	c->due_ms = c->computed_due_ms;
	if (c->platform_due_ms > 0 && c->platform_due_ms < c->computed_due_ms)
		c->due_ms = c->platform_due_ms;
	/* A merge settled the group's earliest due on this clock (rt_merge.c). */
	if (c->group_due_ms > 0 && c->group_due_ms < c->due_ms)
		c->due_ms = c->group_due_ms;
}

/* When step fires: due soon when one working day is left (a quarter of the
 * span for hour clocks), overdue at the deadline, seriously overdue five
 * working days after it. */
static int64_t step_at(struct rt_core *core, const Mailroom__Clock *c, uint32_t step)
{
	int32_t due_day = pb_day_of_ms(c->due_ms);

	if (step == STEP_DUE_SOON) {
		if (c->hours > 0)
			return c->due_ms - (int64_t)c->hours * 3600 * 1000 / 4;
		if (c->calendar_days > 0)
			return cal_end_of_day_ms(due_day - 1);
		int32_t d = due_day - 1;
		/* Holidays run at most a few weeks; the bound only guards bad data. */
		while (d > due_day - 60 && !cal_is_working_day(core->cal, d, NULL))
			d--;
		return cal_end_of_day_ms(d);
	}
	if (step == STEP_OVERDUE)
		return c->due_ms;
	return cal_end_of_day_ms(cal_add_working_days(core->cal, due_day, SERIOUS_AFTER_WD, NULL));
}

static int unschedule(st_txn *t, const uint8_t *id, Mailroom__Clock *c)
{
	int rc = PB_OK;

	if (c->next_fire_ms)
		rc = st_deadline_del(t, c->next_fire_ms, id, index_byte(c->kind, c->escalation + 1));
	c->next_fire_ms = 0;
	return rc == PB_ENOTFOUND ? PB_OK : rc;
}

static int schedule(struct rt_core *core, st_txn *t, const uint8_t *id, Mailroom__Clock *c)
{
	int rc;

	if ((rc = unschedule(t, id, c)))
		return rc;
	if (c->stopped || c->pause_depth || c->escalation >= STEP_SERIOUS)
		return PB_OK;
	c->next_fire_ms = step_at(core, c, c->escalation + 1);
	return st_deadline_put(t, c->next_fire_ms, id, index_byte(c->kind, c->escalation + 1));
}

Mailroom__Clock *rt_clock_find(Mailroom__StoredMessage *m, uint32_t kind)
{
	for (size_t i = 0; i < m->n_clocks; i++)
		if (m->clocks[i]->kind == kind)
			return m->clocks[i];
	return NULL;
}

/* The message's summary fields follow its clocks. */
void rt_clock_mirror(Mailroom__StoredMessage *m)
{
	Mailroom__Clock *a = rt_clock_find(m, ST_CLOCK_ACK), *r = rt_clock_find(m, ST_CLOCK_REPLY);

	m->ack_due_ms = a ? a->due_ms : 0;
	m->reply_due_ms = r ? r->due_ms : 0;
	m->due_provisional = (a && a->provisional) || (r && r->provisional);
}

int rt_clocks_start(struct rt_core *core, st_txn *t, struct rt_result *res,
                    Mailroom__StoredMessage *m, int64_t now_ms)
{
	const struct pb_policy *p = &core->conf->policy;
	int ch = m->channel;
	const struct rt_chan *chan = rt_chan_of(ch);
	struct pb_clock span[2] = {p->ack[ch], p->reply[ch]};
	int64_t platform[2] = {0, 0};
	Mailroom__Clock **list = rt_own(res, calloc(2, sizeof(*list)), RT_OWN_FREE);
	Mailroom__Clock *clocks = rt_own(res, calloc(2, sizeof(*clocks)), RT_OWN_FREE);
	int rc;

	if (!list || !clocks)
		return PB_ENOMEM;
	if (chan->spans)
		chan->spans(p, m, span, platform);
	m->n_clocks = 0;
	m->clocks = list;
	for (int i = 0; i < 2; i++) {
		/* An acknowledge clock of zero means the channel has none. */
		if (i == 0 && span[0].working_days == 0 && span[0].hours == 0 && span[0].days == 0)
			continue;
		Mailroom__Clock *c = &clocks[i];
		mailroom__clock__init(c);
		c->kind = i == 0 ? ST_CLOCK_ACK : ST_CLOCK_REPLY;
		c->started_ms = now_ms;
		c->working_days = span[i].working_days;
		c->hours = span[i].hours;
		c->calendar_days = span[i].days;
		c->platform_due_ms = platform[i];
		rt_clock_compute(core, c);
		if ((rc = schedule(core, t, m->id.data, c)))
			return rc;
		list[m->n_clocks++] = c;
	}
	rt_clock_mirror(m);
	return PB_OK;
}

int rt_clock_reopen(struct rt_core *core, st_txn *t, Mailroom__StoredMessage *m, int64_t now_ms,
                    Mailroom__Clock **out)
{
	int ch = (int)m->channel;
	const struct pb_clock *span = &core->conf->policy.reply[ch > 0 && ch < PB_CH_COUNT ? ch : 1];
	Mailroom__Clock *c = rt_clock_find(m, ST_CLOCK_REPLY);
	int rc;

	if (!c)
		return PB_ESTATE;
	if ((rc = unschedule(t, m->id.data, c)))
		return rc;
	/* A new clock in the old one's place: the first one's facts stay in
	 * the log. */
	c->started_ms = now_ms;
	c->working_days = span->working_days;
	c->hours = span->hours;
	c->extended_days = c->paused_days = 0;
	c->extensions = c->pause_depth = c->escalation = 0;
	c->paused_ms = c->paused_since_ms = c->platform_due_ms = c->stopped_ms = 0;
	c->stopped = 0;
	rt_clock_compute(core, c);
	if ((rc = schedule(core, t, m->id.data, c)))
		return rc;
	rt_clock_mirror(m);
	*out = c;
	return PB_OK;
}

int rt_clock_stop(st_txn *t, Mailroom__StoredMessage *m, uint32_t kind, int64_t now_ms)
{
	Mailroom__Clock *c = rt_clock_find(m, kind);
	int rc;

	if (!c || c->stopped)
		return PB_OK;
	if ((rc = unschedule(t, m->id.data, c)))
		return rc;
	c->stopped = 1;
	c->stopped_ms = now_ms;
	return PB_OK;
}

int rt_clock_unstop(struct rt_core *core, st_txn *t, Mailroom__StoredMessage *m, uint32_t kind)
{
	Mailroom__Clock *c = rt_clock_find(m, kind);

	if (!c || !c->stopped)
		return PB_OK;
	c->stopped = 0;
	c->stopped_ms = 0;
	return schedule(core, t, m->id.data, c);
}

/* Queued messages are served due-soonest first: a moved deadline moves
 * the message in its queue. */
static int requeue_for_due(st_txn *t, Mailroom__StoredMessage *m, int64_t old_due)
{
	struct st_qpos pos = {.prio = m->queue_prio, .due_ms = old_due};
	int rc;

	if (m->status != MAILROOM__STATUS__STATUS_QUEUED || old_due == m->reply_due_ms)
		return PB_OK;
	memcpy(pos.id, m->id.data, sizeof(pos.id));
	if ((rc = st_queue_remove(t, m->queue, &pos)))
		return rc;
	pos.due_ms = m->reply_due_ms;
	return st_queue_push(t, m->queue, &pos);
}

static int clock_record(struct rt_core *core, st_txn *t, struct rt_result *res,
                        Mailroom__StoredMessage *m, Mailroom__Clock *c, int event, int64_t old_due,
                        const char *actor, const char *detail, const char *approver, int64_t now_ms)
{
	Mailroom__AuditRecord rec;

	mailroom__audit_record__init(&rec);
	rec.event = event;
	rec.clock = c;
	rec.old_due_ms = old_due;
	rec.detail = (char *)detail;
	rec.approver = (char *)approver;
	return rt_audit(core, t, res, &rec, m, actor, now_ms, NULL);
}

int rt_clock_record(struct rt_core *core, st_txn *t, struct rt_result *res,
                    Mailroom__StoredMessage *m, Mailroom__AuditRecord *rec, Mailroom__Clock *c,
                    int64_t old_due, const char *actor, int64_t now_ms)
{
	rec->clock = c;
	rec->old_due_ms = old_due;
	return rt_audit(core, t, res, rec, m, actor, now_ms, NULL);
}

int rt_clock_move(struct rt_core *core, st_txn *t, Mailroom__StoredMessage *m, Mailroom__Clock *c,
                  int action, int64_t at_ms, int days, const char **why)
{
	int64_t old_due = c->due_ms;
	int rc;

	*why = NULL;
	switch (action) {
	case MAILROOM__CLOCK_ACTION__CLOCK_PAUSE:
		/* Paused time does not count, but a pause cannot take back a
		 * deadline already missed: that would silence the ladder. */
		if (c->pause_depth == 0 && at_ms > c->due_ms) {
			*why = "overdue";
			return PB_ESTATE;
		}
		if (c->pause_depth == 0) {
			if ((rc = unschedule(t, m->id.data, c)))
				return rc;
			c->paused_since_ms = at_ms;
		}
		c->pause_depth++;
		break;
	case MAILROOM__CLOCK_ACTION__CLOCK_RESUME:
		if (c->pause_depth == 0) {
			*why = "not_paused";
			return PB_ESTATE;
		}
		if (--c->pause_depth == 0) {
			if (c->hours > 0)
				c->paused_ms += at_ms - c->paused_since_ms;
			else if (c->calendar_days > 0)
				c->paused_days += pb_day_of_ms(at_ms) - pb_day_of_ms(c->paused_since_ms);
			else
				c->paused_days += cal_working_days_between(
				    core->cal, pb_day_of_ms(c->paused_since_ms), pb_day_of_ms(at_ms), NULL);
			c->paused_since_ms = 0;
			rt_clock_compute(core, c);
		}
		break;
	case MAILROOM__CLOCK_ACTION__CLOCK_EXTEND:
		if ((rc = unschedule(t, m->id.data, c)))
			return rc;
		c->extended_days += days;
		c->extensions++;
		rt_clock_compute(core, c);
		break;
	case MAILROOM__CLOCK_ACTION__CLOCK_RESTART:
		if ((rc = unschedule(t, m->id.data, c)))
			return rc;
		c->started_ms = at_ms;
		c->paused_days = 0;
		c->paused_ms = 0;
		c->pause_depth = 0;
		c->paused_since_ms = 0;
		c->extended_days = 0;
		c->extensions = 0;
		rt_clock_compute(core, c);
		break;
	default:
		*why = "invalid_field";
		return PB_EINVAL;
	}
	if (c->due_ms != old_due)
		c->escalation = 0;
	return PB_OK;
}

int rt_clock_settle(struct rt_core *core, st_txn *t, Mailroom__StoredMessage *m,
                    Mailroom__Clock *c, int64_t old_reply_due)
{
	int rc;

	if ((rc = schedule(core, t, m->id.data, c)))
		return rc;
	rt_clock_mirror(m);
	m->cal_version.data = core->cal_version;   /* the calendar this computation used */
	m->cal_version.len = sizeof(core->cal_version);
	return requeue_for_due(t, m, old_reply_due);
}

static int fail_rc(struct rt_result *res, int rc)
{
	return rt_fail(res, rc, pb_err_name(rc), "cannot change the clock");
}

int rt_op_clock(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	static const int events[] = {0, MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_PAUSED,
	                             MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RESUMED,
	                             MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_EXTENDED,
	                             MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RESTARTED};
	const Mailroom__ClockReq *r = req->clock;
	const struct rt_chan *chan;
	const struct pb_policy *p = &core->conf->policy;
	Mailroom__StoredMessage *m;
	Mailroom__Clock *c;
	char actor[PB_NAME_MAX + 16], why[160] = "";
	const char *code;
	int64_t old_due, at = now_ms;
	int rc;

	if ((rc = rt_msg_load(t, r->id.data, r->id.len, res, &m)))
		return rc;
	if (!pb_handler_may(who->handler, m->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden", "this handler may not use that queue");
	chan = rt_chan_of(m->channel);
	if ((chan->clock && (rc = chan->clock(m, res))) || (chan->closed && (rc = chan->closed(m, res))))
		return rc;
	if (m->status == MAILROOM__STATUS__STATUS_REPLIED || m->status == MAILROOM__STATUS__STATUS_CLOSED)
		return rt_fail(res, PB_ESTATE, "already_answered", "the message is already answered");
	if (!(c = rt_clock_find(m, ST_CLOCK_REPLY)))
		return rt_fail(res, PB_ESTATE, "no_clock", "the message has no reply clock");
	if (!rt_text_ok(r->reason, 1, 500))
		return rt_fail(res, PB_EINVAL, "invalid_field", "reason: 1-500 characters");
	if (r->action < MAILROOM__CLOCK_ACTION__CLOCK_PAUSE || r->action > MAILROOM__CLOCK_ACTION__CLOCK_RESTART)
		return rt_fail(res, PB_EINVAL, "invalid_field", "unknown clock action");
	old_due = c->due_ms;

	/* One pause at a time: a second one would need a second resume, and
	 * a handler who meant to resume would silently leave it paused. */
	if (r->action == MAILROOM__CLOCK_ACTION__CLOCK_PAUSE && c->pause_depth > 0)
		return rt_fail(res, PB_ESTATE, "already_paused", "the clock is already paused");
	if (r->action == MAILROOM__CLOCK_ACTION__CLOCK_RESUME && c->pause_depth == 0)
		return rt_fail(res, PB_ESTATE, "not_paused", "the clock is not paused");
	if (r->action == MAILROOM__CLOCK_ACTION__CLOCK_EXTEND) {
		if (c->hours > 0)
			return rt_fail(res, PB_ESTATE, "hour_clock", "calendar-hour clocks are not extended");
		if (r->working_days < 1 || r->working_days > 366)
			return rt_fail(res, PB_EINVAL, "invalid_field", "working_days: 1-366");
		if (!rt_text_ok(r->approver, 1, 100))
			return rt_fail(res, PB_EINVAL, "invalid_field", "approver: 1-100 characters");
		if ((int)c->extensions + 1 > p->extend_times[m->channel] ||
		    c->extended_days + r->working_days > p->extend_max[m->channel]) {
			snprintf(why, sizeof(why), "at most %d working days in %d extension(s); %d used in %u",
			         p->extend_max[m->channel], p->extend_times[m->channel], c->extended_days,
			         c->extensions);
			char *msg = rt_own(res, strdup(why), RT_OWN_FREE);
			return rt_fail(res, PB_ELIMIT, "extension_cap",
			               msg ? msg : "over the extension cap for this channel");
		}
	}
	if (r->action == MAILROOM__CLOCK_ACTION__CLOCK_RESTART) {
		at = r->received_ms ? r->received_ms : now_ms;
		if (at < m->received_ms || at > now_ms + (int64_t)core->conf->request_skew_seconds * 1000)
			return rt_fail(res, PB_EINVAL, "invalid_field",
			               "received_ms: between the original receipt and now");
	}
	rc = rt_clock_move(core, t, m, c, r->action, at, r->working_days, &code);
	if (rc == PB_ESTATE && strcmp(code, "overdue") == 0)
		return rt_fail(res, rc, code, "the deadline has passed; it cannot be paused");
	if (rc == PB_ESTATE)
		return rt_fail(res, rc, code, "the clock is not paused");
	if (rc)
		return fail_rc(res, rc);
	if ((rc = rt_clock_settle(core, t, m, c, old_due)) || (rc = st_msg_put(t, m)))
		return fail_rc(res, rc);
	if ((rc = clock_record(core, t, res, m, c, events[r->action], old_due,
	                       rt_actor(who, actor, sizeof(actor)), r->reason, r->approver, now_ms)))
		return fail_rc(res, rc);
	if ((rc = rt_view(core, res, m, 1, &res->resp.clock)))
		return fail_rc(res, rc);
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_CLOCK;
	return PB_OK;
}

int rt_escalate_one(struct rt_core *core, st_txn *t, int64_t now_ms, struct rt_result *res)
{
	static const int events[] = {0, MAILROOM__AUDIT_EVENT__AUDIT_DUE_SOON,
	                             MAILROOM__AUDIT_EVENT__AUDIT_OVERDUE,
	                             MAILROOM__AUDIT_EVENT__AUDIT_SERIOUSLY_OVERDUE};
	Mailroom__StoredMessage *m;
	Mailroom__Clock *c;
	uint8_t id[16], b;
	int64_t fire;
	int rc;

	if ((rc = st_deadline_first_due(t, now_ms, &fire, id, &b)))
		return rc;
	uint32_t kind = b & 0x0f, step = b >> 4;
	if ((rc = st_deadline_del(t, fire, id, b)))
		return rc;
	if (kind >= RT_TIMER_VETO)   /* not a clock: the timers after intake (rt_rating.c) */
		return rt_timer_fire(core, t, id, kind, step, now_ms, res);
	rc = rt_msg_load(t, id, sizeof(id), res, &m);
	c = rc == PB_OK ? rt_clock_find(m, kind) : NULL;
	if (rc == PB_ENOTFOUND || !c || c->stopped || c->pause_depth || c->next_fire_ms != fire ||
	    c->escalation + 1 != step || step < 1 || step > STEP_SERIOUS) {
		/* A stale entry: the clock moved or stopped since it was scheduled. */
		rt_result_clear(res);
		return PB_OK;
	}
	if (rc)
		return rc;
	c->next_fire_ms = 0;   /* its entry is gone already */
	c->escalation = step;
	if ((rc = schedule(core, t, id, c)) || (rc = st_msg_put(t, m)))
		return rc;
	return clock_record(core, t, res, m, c, events[step], c->due_ms, "router",
	                    kind == ST_CLOCK_ACK ? "acknowledge" : "reply", NULL, now_ms);
}

struct prov_scan {
	uint8_t (*ids)[16];
	size_t n, cap;
	int failed;
};

/* Ids first, then the changes: st_msg_put takes a message out of the
 * provisional index as its clocks become official. */
static int collect_provisional(const uint8_t id[16], void *arg)
{
	struct prov_scan *s = arg;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		void *p = realloc(s->ids, cap * 16);
		if (!p) {
			s->failed = 1;
			return 1;
		}
		s->ids = p;
		s->cap = cap;
	}
	memcpy(s->ids[s->n++], id, 16);
	return 0;
}

static void log_override(void *what, int year, const char *used, const char *ignored)
{
	pb_info("%scalendar %d: %s used; %s left out (the office's own file wins)",
	        (const char *)what, year, used, ignored);
}

int rt_calendars_load(const struct pb_conf *c, const char *what, cal_set **out, char *err,
                      size_t errlen)
{
	struct stat sb;
	int rc = cal_load_dirs(c->calendars_dir, c->local_calendars_dir, log_override, (void *)what,
	                       out, err, errlen);

	if (rc == PB_ENOTFOUND && stat(c->calendars_dir, &sb) != 0) {
		pb_warn("%sno calendar directory %s: every deadline is provisional (statutory "
		        "holidays only)", what, c->calendars_dir);
		return PB_OK;
	}
	if (rc == PB_OK)
		pb_info("%scalendars %d-%d loaded from %s%s%s", what, cal_first_year(*out),
		        cal_last_year(*out), c->calendars_dir, *c->local_calendars_dir ? " and " : "",
		        c->local_calendars_dir);
	return rc;
}

void rt_calendar_check(struct rt_core *core, int64_t now_ms, int32_t *last_day)
{
	int32_t today = pb_day_of_ms(now_ms);
	int y, m, d;

	if (last_day && *last_day == today)
		return;
	if (last_day)
		*last_day = today;
	if (!cal_next_year_missing(core->cal, now_ms))
		return;
	pb_civil_from_days(today, &y, &m, &d);
	pb_warn("no calendar for %d yet: deadlines reaching into %d are provisional (statutory "
	        "holidays only) until its notice is added as cn-%d.cal to %s and the router reloaded",
	        y + 1, y + 1, y + 1,
	        *core->conf->local_calendars_dir ? core->conf->local_calendars_dir
	                                         : core->conf->calendars_dir);
}

/* After a new calendar is loaded, provisional deadlines are computed again;
 * each one that moves or is no longer provisional gets a record. Runs once
 * per calendar version, over the store's index of the messages with an
 * open provisional clock (store/README.md, "Schema"), not every message. */
int rt_recompute_provisional(struct rt_core *core, int *moved, size_t *visited)
{
	int64_t now_ms = pb_now_ms();
	struct prov_scan scan = {0};
	uint8_t stored[32];
	size_t len = 0;
	st_txn *t;
	int rc;

	*moved = 0;
	if (visited)
		*visited = 0;
	if ((rc = st_txn_begin(core->store, NULL, 0, &t)))
		return rc;
	rc = st_meta_get(t, "calendar_version", stored, sizeof(stored), &len);
	if (rc == PB_OK && len == sizeof(stored) && memcmp(stored, core->cal_version, len) == 0) {
		st_txn_abort(t);
		return PB_OK;
	}
	if ((rc = st_provisional_each(t, collect_provisional, &scan)) || scan.failed)
		goto out;
	if (visited)
		*visited = scan.n;
	for (size_t i = 0; i < scan.n && !rc; i++) {
		struct rt_result res;
		Mailroom__StoredMessage *m;
		rt_result_init(&res);
		if ((rc = rt_msg_load(t, scan.ids[i], 16, &res, &m)) == PB_OK) {
			int64_t old_reply = m->reply_due_ms, old[8];
			int was[8];
			size_t nc = m->n_clocks;
			/* rt_clocks_start makes two at most. */
			if (nc > 8)
				rc = PB_ECORRUPT;
			/* Every clock first, so that each record carries the
			 * message's deadlines as they now stand. */
			for (size_t k = 0; k < nc && !rc; k++) {
				Mailroom__Clock *c = m->clocks[k];
				old[k] = c->due_ms;
				was[k] = c->provisional && !c->stopped;
				if (!was[k])
					continue;
				if ((rc = unschedule(t, m->id.data, c)))
					break;
				rt_clock_compute(core, c);
				if (c->due_ms != old[k])
					c->escalation = 0;
				rc = schedule(core, t, m->id.data, c);
			}
			rt_clock_mirror(m);
			for (size_t k = 0; k < nc && !rc; k++) {
				Mailroom__Clock *c = m->clocks[k];
				if (!was[k] || (c->due_ms == old[k] && c->provisional))
					continue;
				/* The record carries the new deadlines and calendar; the
				 * citizen's view says when they were recomputed. */
				m->cal_version.data = core->cal_version;
				m->cal_version.len = sizeof(core->cal_version);
				m->due_recomputed_ms = now_ms;
				rc = clock_record(core, t, &res, m, c, MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RECOMPUTED,
				                  old[k], "router", "calendar updated", NULL, now_ms);
				(*moved)++;
			}
			if (!rc && !(rc = requeue_for_due(t, m, old_reply)))
				rc = st_msg_put(t, m);
		}
		rt_result_clear(&res);
	}
	if (!rc)
		rc = st_meta_put(t, "calendar_version", core->cal_version, sizeof(core->cal_version));
out:
	free(scan.ids);
	if (rc || scan.failed) {
		st_txn_abort(t);
		return rc ? rc : PB_ENOMEM;
	}
	return st_txn_commit(t);
}
