/* The statutory annual report through the real processes: a generated
 * 2024-2026 history (disclosure applications of every applicant kind and
 * outcome, corrections, consultations, extensions, fees, reviews and
 * lawsuits; letters of the other five channels) written as an import file,
 * imported by mailroom-admin into the real router, verified and reported
 * by mailroom-audit. The expected tables are counted from the generator's
 * plan (tests/common/report_plan.c), never from the store; the generator
 * keeps every history legal (router/README.md, "Disclosure applications")
 * on the real calendars, and follows each reply clock by deadlines.md. */
#include "it.h"

#include "cal.h"
#include "pb_time.h"
#include "report_plan.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_BIN MR_BIN_DIR "/workers/audit/mailroom-audit"
#define CALDIR MR_SOURCE_DIR "/deploy/calendars"
#define NAPPS 320
#define NOTHER 160
/* The agreement test's larger data set. */
#define BIG_APPS 1100
#define BIG_OTHER 740
#define MIN_MS 60000LL
#define DAY_MS PB_DAY_MS

static const struct mr_handler_spec handlers[] = {{"ops", "disclosure, general"}};
#define OPTS {.handlers = handlers, .nhandlers = 1, .extra_ini = "[handler.ops]\nimport = yes\n"}

/* deploy/mailroom.ini's defaults (pb_conf.c): the reply clocks of the
 * channels and the disclosure deadlines of deadlines.md section 3. */
static const int reply_wd[5] = {15, 5, 15, 5, 0};   /* petition: 60 calendar days */
#define PETITION_DAYS 60   /* calendar days, to the end of the day */
#define DISC_REPLY_WD 20
#define CORRECTION_NOTICE_WD 7
#define CORRECTION_WD 15
#define FEE_WD 20

static cal_set *cal;
static struct rp_plan plan;
static uint64_t rng = 0x2545f4914f6cdd1dull;
static int64_t horizon;          /* no event after this: the router refuses the future */
static int nlines, line_events[BIG_APPS + BIG_OTHER];

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static int64_t day_at(int32_t day, int minutes)
{
	return pb_day_start_ms(day) + minutes * MIN_MS;
}

static int32_t civil(int y, int m, int d)
{
	return pb_days_from_civil(y, m, d);
}

static void set_time(json_t *o, const char *key, int64_t ms)
{
	char buf[40];

	cr_assert_gt(pb_time_fmt(ms, buf, sizeof(buf), 0), 0);
	json_object_set_new(o, key, json_string(buf));
}

static void set_date(json_t *o, const char *key, int32_t day)
{
	char buf[16];

	cr_assert_gt(pb_date_fmt(day, buf, sizeof(buf)), 0);
	json_object_set_new(o, key, json_string(buf));
}

/* ---- identities that pass the gateway's checks (GB 11643, GB 32100) -- */

static void resident_id(int i, char out[19])
{
	static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	int y, m, d, sum = 0;

	pb_civil_from_days(civil(1950, 1, 1) + i * 37 % 18000, &y, &m, &d);
	snprintf(out, 19, "110105%04d%02d%02d%03d", y, m, d, i % 1000);
	for (int k = 0; k < 17; k++)
		sum += (out[k] - '0') * w[k];
	out[17] = "10X98765432"[sum % 11];
	out[18] = '\0';
}

static void uscc(int i, char out[19])
{
	static const char alpha[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
	static const int w[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
	int sum = 0;

	snprintf(out, 19, "91350100M%08u", (unsigned)i % 100000000u);
	for (int k = 0; k < 17; k++)
		sum += (int)(strchr(alpha, out[k]) - alpha) * w[k];
	out[17] = alpha[(31 - sum % 31) % 31];
	out[18] = '\0';
}

/* ---- one message's history, as the generator writes it ---- */

enum { OPEN, AWAIT_CORRECTION, AWAIT_FEE };

struct gen {
	json_t *line, *events;
	struct rp_msg *m;
	int64_t received, t;         /* entry; the last event's time */
	int stopped;                 /* the next event would lie past the horizon */
	/* The reply clock (deadlines.md): from its start day, its working days
	 * plus the extension plus the working days spent paused; 20 working
	 * days from the receipt, started again by a confirmed receipt or a
	 * correction received. */
	int64_t started, due, paused_since;
	int wd, days, ext, paused_days, depth;
	/* The application's state (router/README.md). */
	int phase, corrections, consults, confirmed;
	int64_t correction_due, fee_due;
};

static void clock_compute(struct gen *g)
{
	if (g->days)
		g->due = cal_end_of_day_ms(pb_day_of_ms(g->started) + g->days);
	else
		g->due = cal_end_of_day_ms(cal_add_working_days(
		    cal, pb_day_of_ms(g->started), g->wd + g->ext + g->paused_days, NULL));
}

static void clock_restart(struct gen *g, int64_t at)
{
	g->started = at;
	g->ext = g->paused_days = g->depth = 0;
	clock_compute(g);
}

static void clock_pause(struct gen *g, int64_t at)
{
	if (g->depth++ == 0)
		g->paused_since = at;
}

/* Paused time does not count: the working days after the day it was
 * paused, up to the day it runs again. */
static void clock_resume(struct gen *g, int64_t at)
{
	if (--g->depth == 0) {
		g->paused_days += cal_working_days_between(cal, pb_day_of_ms(g->paused_since),
		                                           pb_day_of_ms(at), NULL);
		clock_compute(g);
	}
}

/* A time d_lo..d_hi days after the last event, in office hours, after it. */
static int64_t later(const struct gen *g, int d_lo, int d_hi)
{
	int32_t day = pb_day_of_ms(g->t) + d_lo + (int)rnd((unsigned)(d_hi - d_lo + 1));
	int64_t at = day_at(day, 9 * 60 + (int)rnd(8 * 60));

	return at > g->t ? at : g->t + (1 + rnd(90)) * MIN_MS;
}

/* The next event at `at`, or none (and the history stops) past the
 * horizon. */
static json_t *event(struct gen *g, const char *type, int64_t at)
{
	json_t *e;

	if (g->stopped || at > horizon) {
		g->stopped = 1;
		return NULL;
	}
	cr_assert_geq(at, g->t, "events in order");
	e = json_object();
	json_object_set_new(e, "type", json_string(type));
	set_time(e, "at", at);
	json_array_append_new(g->events, e);
	g->t = at;
	return e;
}

static void state(struct gen *g)
{
	rp_push(g->m, g->t, g->due, g->depth > 0);
}

static void gen_begin(struct gen *g, int ch, const char *ref, int64_t received)
{
	memset(g, 0, sizeof(*g));
	g->m = rp_msg_new(&plan);
	g->m->ch = ch;
	g->m->receipt = g->received = g->t = received;
	g->line = json_object();
	g->events = json_array();
	json_object_set_new(g->line, "ref", json_string(ref));
	json_object_set_new(g->line, "channel", json_string(rp_channels[ch]));
	set_time(g->line, "received_at", received);
}

static void gen_end(struct gen *g, FILE *f)
{
	char *text;

	line_events[nlines++] = (int)json_array_size(g->events);
	if (json_array_size(g->events))
		json_object_set(g->line, "events", g->events);
	json_decref(g->events);
	text = json_dumps(g->line, JSON_COMPACT);
	cr_assert_not_null(text);
	fprintf(f, "%s\n", text);
	free(text);
	json_decref(g->line);
}

/* ---- disclosure applications ---- */

static const char *const modes[5] = {"online", "in_person", "registered_mail", "ordinary_mail",
                                     "fax"};
static const char *const topics[] = {
	"本机关%d年度道路维修经费预算及执行情况", "%d年某地块国有土地使用权出让公告及成交结果",
	"%d年度政府采购项目的中标公告和合同", "%d年城区老旧小区改造项目的立项批复",
	"%d年度行政处罚决定书（环境保护类）", "%d年某河道整治工程的环境影响评价文件",
	"%d年度财政专项资金分配结果", "%d年公共租赁住房分配名单及审核依据",
	"%d年度重大建设项目批准和实施情况", "%d年义务教育阶段学校招生划片方案",
};
#define NTOPICS (sizeof(topics) / sizeof(topics[0]))

static int step_confirm(struct gen *g, int64_t at)
{
	json_t *e = event(g, "receipt_confirmed", at);

	if (!e)
		return 0;
	json_object_set_new(e, "evidence", json_string("挂号信签收单"));
	g->confirmed = 1;
	g->m->receipt = at;                  /* Art. 31: the legal receipt */
	clock_restart(g, at);
	state(g);
	return 1;
}

/* Art. 30: within 7 working days of the receipt; the reply clock waits
 * and the applicant has 15 working days. */
static int step_correction(struct gen *g)
{
	int64_t limit = cal_end_of_day_ms(
	    cal_add_working_days(cal, pb_day_of_ms(g->m->receipt), CORRECTION_NOTICE_WD, NULL));
	int64_t at = later(g, 0, 6);
	json_t *e;

	if (at > limit)
		at = g->t + MIN_MS;
	cr_assert_leq(at, limit);
	cr_assert_leq(at, g->due);
	if (!(e = event(g, "correction_requested", at)))
		return 0;
	json_object_set_new(e, "text", json_string("请写明所需信息的名称、文号或者便于查询的其他特征描述"));
	clock_pause(g, at);
	g->phase = AWAIT_CORRECTION;
	g->corrections++;
	g->correction_due =
	    cal_end_of_day_ms(cal_add_working_days(cal, pb_day_of_ms(at), CORRECTION_WD, NULL));
	state(g);
	return 1;
}

/* The corrected application arrives (sometimes after its deadline): the
 * 20 working days start again from that day. */
static int step_corrected(struct gen *g)
{
	if (!event(g, "correction_received", later(g, 1, rnd(5) ? 18 : 30)))
		return 0;
	g->phase = OPEN;
	clock_restart(g, g->t);
	state(g);
	return 1;
}

/* Art. 32: one or two third parties at once; paused until both answer
 * (or left waiting: the history stops there). */
static int step_consult(struct gen *g, int leave_open)
{
	int two = rnd(3) == 0;
	int64_t at = later(g, 1, 6);
	json_t *e;

	if (at > g->due)
		return 1;   /* too late to pause: decide without asking */
	if (!(e = event(g, "consultation_started", at)))
		return 0;
	json_object_set_new(e, "text", json_string("某建设工程有限公司"));
	clock_pause(g, at);
	g->consults++;
	state(g);
	if (two) {
		if (!(e = event(g, "consultation_started", later(g, 0, 2))))
			return 0;
		json_object_set_new(e, "text", json_string("某规划设计研究院"));
		clock_pause(g, g->t);
		g->consults++;
		state(g);
	}
	if (leave_open)
		return 0;
	while (g->consults) {
		if (!event(g, "consultation_ended", later(g, 2, 16)))
			return 0;
		clock_resume(g, g->t);
		g->consults--;
		state(g);
	}
	return 1;
}

/* Art. 33: once, at most 20 working days. */
static int step_extend(struct gen *g)
{
	int days = 5 + (int)rnd(16);
	json_t *e = event(g, "extended", later(g, 1, 8));

	if (!e)
		return 0;
	json_object_set_new(e, "days", json_integer(days));
	json_object_set_new(e, "approver", json_string("王主任"));
	json_object_set_new(e, "reason", json_string("需调取档案并汇总多个科室的材料"));
	g->ext += days;
	clock_compute(g);
	state(g);
	return 1;
}

static int step_fee(struct gen *g, int paid)
{
	int64_t at = later(g, 1, 6);
	json_t *e;

	if (at > g->due) {
		if (paid)
			return 1;
		at = g->t + MIN_MS;
	}
	cr_assert_leq(at, g->due);
	if (!(e = event(g, "fee_notice", at)))
		return 0;
	json_object_set_new(e, "text", json_string("复制费 50 元，请于 20 个工作日内缴纳"));
	clock_pause(g, at);
	g->phase = AWAIT_FEE;
	g->fee_due = cal_end_of_day_ms(cal_add_working_days(cal, pb_day_of_ms(at), FEE_WD, NULL));
	state(g);
	if (!paid)
		return 1;
	if (!event(g, "fee_paid", later(g, 1, 12)))
		return 0;
	clock_resume(g, g->t);
	g->phase = OPEN;
	state(g);
	return 1;
}

/* An answer on time (now and then at the due instant itself) or late (now
 * and then by one second), after the last event. */
static int64_t answer_at(const struct gen *g, int on_time, int late_days)
{
	int64_t at;

	if (on_time && g->due > g->t + MIN_MS) {
		if (rnd(10) == 0)
			return g->due;
		return g->t + MIN_MS + (int64_t)rnd((unsigned)((g->due - g->t - MIN_MS) / MIN_MS)) * MIN_MS;
	}
	at = rnd(8) == 0 ? g->due + 1000
	                 : g->due + (1 + rnd((unsigned)late_days)) * DAY_MS - rnd(600) * MIN_MS;
	return at > g->t ? at : later(g, 0, 5);
}

static int step_decide(struct gen *g, int oc, int64_t at)
{
	json_t *e = event(g, "decided", at);

	if (!e)
		return 0;
	json_object_set_new(e, "outcome", json_string(rp_codes[oc]));
	json_object_set_new(e, "text", json_string(oc ? "经审查，现答复如下，详见答复书。" : "予以公开，见附件。"));
	if (oc)
		json_object_set_new(e, "legal_basis",
		                    json_string("《中华人民共和国政府信息公开条例》第三十六条"));
	json_object_set_new(e, "by", json_string("李四"));
	g->m->outcome = oc;
	g->m->answered = at;
	g->m->answer_due = g->due;   /* the due in force, as it stood (paused or not) */
	g->m->answer_paused = g->depth > 0;
	state(g);
	return 1;
}

struct rev {
	int64_t at;
	json_t *ev;
};

static int rev_cmp(const void *a, const void *b)
{
	const struct rev *x = a, *y = b;

	return (x->at > y->at) - (x->at < y->at);
}

/* When a review record was entered: by default its decision date, else
 * its filing date (00:00); now and then an explicit time some days on,
 * within the horizon and after `after`. */
static int64_t review_at(int32_t day, int64_t after, json_t *e)
{
	int64_t at = day_at(day, 0), t;

	cr_assert_leq(at, horizon);
	if (at > after && rnd(3))
		return at;
	t = day_at(day + (int)rnd(12), 9 * 60 + (int)rnd(8 * 60));
	if (t > horizon)
		t = day_at(day, 9 * 60 + (int)rnd(8 * 60));
	if (t <= after)
		t = after + (1 + rnd(120)) * MIN_MS;
	if (t > horizon)
		t = at > after ? at : after;
	if (t != at)
		set_time(e, "at", t);
	return t;
}

/* Reviews and lawsuits after the decision: some filed the same day (so
 * entered with their own time), some recorded pending first, some still
 * pending, some decided the next year, some filed in late December and
 * entered in January. The table counts a case by the dates it carries. */
static void gen_cases(struct gen *g)
{
	static int seq;
	struct rev list[4];
	int n = 0, ncases = 1 + (rnd(4) == 0);

	for (int k = 0; k < ncases; k++) {
		int kind = (int)rnd(RP_NRKINDS), result = (int)rnd(RP_NRESULTS), first = rnd(2);
		int32_t filed = pb_day_of_ms(g->t) + (rnd(6) ? 1 + (int)rnd(60) : 0), decided = 0;
		int64_t after = g->t;
		char no[64];
		if (day_at(filed, 0) > horizon)
			continue;
		if (result != RP_RESULT_PENDING) {
			decided = filed + 1 + (int)rnd(240);
			if (day_at(decided, 0) > horizon)
				result = RP_RESULT_PENDING, first = 0;
		}
		seq++;
		snprintf(no, sizeof(no), kind == 0 ? "复〔%d〕%d号" : "（%d）行初%d号",
		         2024 + seq % 3, seq);
		struct rp_case *c = rp_case_new(&plan);
		c->kind = kind;
		c->result = result;
		c->filed = day_at(filed, 0);
		c->decided = result == RP_RESULT_PENDING ? 0 : day_at(decided, 0);
		for (int rec = result == RP_RESULT_PENDING || !first ? 1 : 0; rec < 2; rec++) {
			int pending = rec == 0 || result == RP_RESULT_PENDING;
			json_t *e = json_object();
			json_object_set_new(e, "type", json_string("review"));
			json_object_set_new(e, "kind", json_string(rp_rkinds[kind]));
			json_object_set_new(e, "case_no", json_string(no));
			set_date(e, "filed", filed);
			json_object_set_new(e, "result", json_string(rp_results[pending ? 3 : result]));
			if (!pending)
				set_date(e, "decided", decided);
			/* Not before the decision, nor a result before its pending
			 * record. */
			list[n].at = after = review_at(pending ? filed : decided, after, e);
			list[n++].ev = e;
		}
	}
	/* Stable: a case's pending record before its result. */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && rev_cmp(&list[j - 1], &list[j]) > 0; j--) {
			struct rev tmp = list[j];
			list[j] = list[j - 1];
			list[j - 1] = tmp;
		}
	for (int i = 0; i < n; i++) {
		cr_assert_geq(list[i].at, g->t);
		cr_assert_leq(list[i].at, horizon);
		g->t = list[i].at;
		json_array_append_new(g->events, list[i].ev);
	}
}

/* One application; open ones stop at some step (awaiting a correction or
 * a fee, a consultation open, or simply undecided), late ones are decided
 * after their due instant. */
static void gen_app(int i, FILE *f)
{
	struct gen g;
	char ref[32], id[19], desc[200];
	int32_t d0 = civil(2024, 1, 2), span = civil(2026, 10, 31) - d0, day;
	static int app_kind[BIG_APPS], app_year[BIG_APPS];
	int kind = (int)rnd(RP_NKINDS), oc = (int)rnd(RP_NCODES), open = rnd(8) == 0, who = i;
	int r = (int)rnd(10), mode = r < 4 ? 0 : r < 6 ? 1 : 2 + (int)rnd(3);
	json_t *a, *e;

	/* Some near the turn of the year, for the carry-over. */
	if (i % 9 == 0)
		day = civil(2024 + (i / 9) % 2, 12, 14 + (int)rnd(18));
	else
		day = d0 + (int)rnd((unsigned)span);
	/* Now and then the applicant before asks again for the same: a
	 * probable repeat, flagged by the router (and still counted). */
	if (i % 23 == 5) {
		who = i - 1;
		kind = app_kind[who];
	}
	app_kind[i] = kind;
	snprintf(ref, sizeof(ref), "OLD-D-%04d", i);
	gen_begin(&g, RP_CH_DISCLOSURE, ref, day_at(day, 8 * 60 + (int)rnd(9 * 60)));
	g.m->kind = kind;
	a = json_object();
	json_object_set_new(a, "kind", json_string(rp_kinds[kind]));
	if (kind == 0) {
		resident_id(who, id);
		json_object_set_new(a, "name", json_string("张三"));
		json_object_set_new(a, "id_type", json_string("resident_id"));
	} else {
		uscc(who, id);
		json_object_set_new(a, "name", json_string("某某单位"));
		json_object_set_new(a, "id_type", json_string("uscc"));
	}
	json_object_set_new(a, "id_number", json_string(id));
	json_object_set_new(a, "phone", json_string("13800000000"));
	json_object_set_new(g.line, "applicant", a);
	app_year[i] = who == i ? 2020 + (int)rnd(6) : app_year[who];
	snprintf(desc, sizeof(desc), topics[who % NTOPICS], app_year[i]);
	json_object_set_new(g.line, "description", json_string(desc));
	json_object_set_new(g.line, "form", json_string(rnd(2) ? "paper" : "electronic"));
	json_object_set_new(g.line, "delivery", json_string(rnd(2) ? "post" : "email"));
	json_object_set_new(g.line, "submission_mode", json_string(modes[mode]));

	g.wd = DISC_REPLY_WD;
	clock_restart(&g, g.received);
	g.confirmed = mode < 2;
	state(&g);
	if (mode >= 2) {
		/* Mail and fax: the legal receipt is confirmed by a handler, now and
		 * then only after the turn of the year; a few never are. */
		if (open && rnd(3) == 0)
			goto done;
		if (!step_confirm(&g, later(&g, 0, 4)))
			goto done;
	}
	if (oc == 18) {                                   /* other.no_correction */
		if (!step_correction(&g) || open)
			goto done;
		step_decide(&g, oc, g.correction_due + (1 + rnd(20)) * DAY_MS - rnd(600) * MIN_MS);
		goto decided;
	}
	if (oc == 19) {                                   /* other.fee_unpaid */
		if (!step_fee(&g, 0) || open)
			goto done;
		step_decide(&g, oc, g.fee_due + (1 + rnd(15)) * DAY_MS - rnd(600) * MIN_MS);
		goto decided;
	}
	if (oc == 12 || rnd(6) == 0) {
		if (!step_correction(&g) || (open && rnd(3) == 0) || !step_corrected(&g))
			goto done;
	}
	if (rnd(4) == 0 && !step_consult(&g, open && rnd(2)))
		goto done;
	if (rnd(5) == 0 && !step_extend(&g))
		goto done;
	if (rnd(8) == 0 && !step_fee(&g, 1))
		goto done;
	if (open)
		goto done;
	step_decide(&g, oc, answer_at(&g, rnd(10) < 7, 15));
decided:
	if (g.stopped)
		goto done;
	if (rnd(2) && (e = event(&g, "delivered", later(&g, 0, 3))))
		json_object_set_new(e, "evidence", json_string("EMS 1234567890123"));
	if (!g.stopped && rnd(3) == 0)
		gen_cases(&g);
done:
	gen_end(&g, f);
}

/* ---- the other channels ---- */

static void gen_other(int i, FILE *f)
{
	static const char *const subjects[5] = {"小区噪声扰民", "居住证办理材料",
	                                        "窗口工作人员态度", "路面塌陷",
	                                        "阳光信访转办：拖欠工资"};
	struct gen g;
	char ref[32];
	int ch = (int)rnd(5), fate = (int)rnd(6);
	int32_t d0 = civil(2024, 2, 1), span = civil(2026, 10, 31) - d0, day;
	json_t *e, *contact;

	day = i % 7 == 0 ? civil(2024 + (i / 7) % 2, 12, 10 + (int)rnd(22))
	                 : d0 + (int)rnd((unsigned)span);
	snprintf(ref, sizeof(ref), "OLD-%c-%04d", "MCSHP"[ch], i);
	gen_begin(&g, ch, ref, day_at(day, 8 * 60 + (int)rnd(10 * 60)));
	json_object_set_new(g.line, "subject", json_string(subjects[ch]));
	json_object_set_new(g.line, "body", json_string("群众反映的情况，请核实处理并答复。"));
	contact = json_object();
	json_object_set_new(contact, "name", json_string("王五"));
	json_object_set_new(contact, "phone", json_string("13900139000"));
	json_object_set_new(g.line, "contact", contact);
	g.wd = reply_wd[ch];
	g.days = ch == 4 ? PETITION_DAYS : 0;
	clock_restart(&g, g.received);
	state(&g);
	if (fate > 0) {
		int64_t at = answer_at(&g, fate >= 3, 20);
		if ((e = event(&g, "replied", at))) {
			json_object_set_new(e, "text", json_string("已转相关部门核实处理，感谢您的来信。"));
			json_object_set_new(e, "by", json_string("赵六"));
			g.m->answered = at;
			g.m->answer_due = g.due;
			state(&g);
		}
	}
	gen_end(&g, f);
}

static void generate(const char *path, int napps, int nother)
{
	char err[256];
	FILE *f;

	cr_assert_eq(cal_load_dir(CALDIR, &cal, err, sizeof(err)), 0, "%s", err);
	horizon = day_at(civil(2026, 11, 13), 18 * 60);
	cr_assert_lt(horizon, pb_now_ms(), "the data set ends 2026-11-13: the clock is earlier");
	cr_assert_not_null(f = fopen(path, "w"), "%s: %s", path, strerror(errno));
	for (int i = 0; i < napps; i++)
		gen_app(i, f);
	for (int i = 0; i < nother; i++)
		gen_other(i, f);
	cr_assert_eq(fclose(f), 0);
	cal_free(cal);
	cal = NULL;
}

/* ---- running the tools ---- */

static int audit(char **out, char **err, const char *const *args)
{
	char *argv[24] = {AUDIT_BIN};
	int n = 1;

	int export = strcmp(args[0], "export") == 0;

	for (; *args && n < 20; args++)
		argv[n++] = (char *)*args;
	if (!export) {   /* every command that checks deadlines, on the real calendars */
		argv[n++] = "--calendars";
		argv[n++] = CALDIR;
	}
	argv[n] = NULL;
	return mr_run(&env, argv, out, err, 120);
}

#define AUDIT(out, err, ...) audit((out), (err), (const char *const[]){__VA_ARGS__, NULL})

static long num(json_t *j, const char *k)
{
	return (long)json_integer_value(it_get(j, k));
}

static json_t *import(const char *file, int *rc, char **err)
{
	char *out = NULL;
	json_t *sum;

	*rc = mr_admin_cmd(&env, env.handlers[0].key_path, &out, err, "import", "--file", file, NULL);
	sum = out && *out ? json_loads(out, 0, NULL) : NULL;
	cr_assert_not_null(sum, "exit %d, no JSON summary: %s %s", *rc, out ? out : "",
	                   *err ? *err : "");
	free(out);
	return sum;
}

/* A copy of the bundle with one byte of record k's signature flipped. */
static void tamper(const char *from, const char *to, uint64_t k)
{
	size_t len, off = 19;
	unsigned char *b = (unsigned char *)mr_read_text(from, &len);
	FILE *f;

	cr_assert_not_null(b);
	cr_assert(len > off && memcmp(b, "mailroom-bundle v1\n", off) == 0, "not a bundle");
	while (off + 12 <= len && memcmp(b + off, "LOGV", 4) != 0) {
		uint64_t n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | b[off + 4 + i];
		off += 12 + n;
	}
	cr_assert(off + 12 <= len, "no LOGV section");
	off += 12;
	for (uint64_t i = 0;; i++) {
		uint32_t n = (uint32_t)b[off] << 24 | (uint32_t)b[off + 1] << 16 |
		             (uint32_t)b[off + 2] << 8 | b[off + 3];
		cr_assert(off + 4 + n <= len);
		if (i == k) {
			/* A bit of the record's actor (field 4, ASCII): the record
			 * still parses, so only the tree can tell. */
			size_t p = off + 4, end = off + 4 + n;
			int done = 0;
			while (p < end && !done) {
				uint64_t key = 0, v = 0;
				for (int sh = 0; p < end; sh += 7) {
					key |= (uint64_t)(b[p] & 0x7f) << sh;
					if (!(b[p++] & 0x80))
						break;
				}
				if ((key & 7) == 0) {
					while (p < end && (b[p++] & 0x80))
						;
					continue;
				}
				cr_assert_eq(key & 7, 2, "record %llu: an unexpected wire type",
				             (unsigned long long)k);
				for (int sh = 0; p < end; sh += 7) {
					v |= (uint64_t)(b[p] & 0x7f) << sh;
					if (!(b[p++] & 0x80))
						break;
				}
				if (key >> 3 == 4 && v > 0) {
					b[p] ^= 0x01;
					done = 1;
				}
				p += v;
			}
			cr_assert(done, "record %llu has no actor", (unsigned long long)k);
			break;
		}
		off += 4 + n;
	}
	cr_assert_not_null(f = fopen(to, "wb"));
	cr_assert_eq(fwrite(b, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	free(b);
}

Test(report, imported_and_reported, .init = it_init, .fini = it_fini, .timeout = 240)
{
	static const char *const fmts[4] = {"md", "html", "csv", "json"};
	const struct mr_opts o = OPTS;
	char file[600], bundle[600], bad[600], pub[600], year[8], now[40], *out = NULL, *err = NULL;
	char *a = NULL, *b = NULL;
	int rc, nonzero = 0, decided[RP_NCODES] = {0}, kinds_new[3][RP_NKINDS] = {{0}};
	uint64_t records;
	json_t *sum, *j;

	IT_UP(&o);
	snprintf(file, sizeof(file), "%s/old-system.jsonl", env.dir);
	snprintf(bundle, sizeof(bundle), "%s/trail.bundle", env.dir);
	snprintf(bad, sizeof(bad), "%s/tampered.bundle", env.dir);
	snprintf(pub, sizeof(pub), "%s/keys/store.pub", env.dir);
	generate(file, NAPPS, NOTHER);

	/* The plan covers what the issue asks: every outcome decided, every
	 * applicant kind received in every year. */
	for (int i = 0; i < plan.nmsgs; i++) {
		const struct rp_msg *m = &plan.msgs[i];
		int y, mo, d;
		if (m->ch != RP_CH_DISCLOSURE)
			continue;
		if (m->outcome >= 0)
			decided[m->outcome]++;
		pb_civil_from_days(pb_day_of_ms(m->receipt), &y, &mo, &d);
		if (y >= 2024 && y <= 2026)
			kinds_new[y - 2024][m->kind]++;
	}
	for (int oc = 0; oc < RP_NCODES; oc++)
		cr_assert_gt(decided[oc], 0, "no application decided %s", rp_codes[oc]);
	for (int y = 0; y < 3; y++)
		for (int k = 0; k < RP_NKINDS; k++)
			cr_assert_gt(kinds_new[y][k], 0, "%d: no %s", 2024 + y, rp_kinds[k]);

	/* Imported whole, then all duplicates. */
	sum = import(file, &rc, &err);
	cr_assert_eq(rc, 0, "import: exit %d: %.2000s", rc, err);
	cr_expect_eq(num(sum, "lines"), nlines);
	cr_expect_eq(num(sum, "imported"), nlines, "%.2000s", err);
	cr_expect_eq(num(sum, "duplicates"), 0);
	cr_expect_eq(num(sum, "refused"), 0, "%.2000s", err);
	cr_expect(json_is_true(it_get(sum, "complete")));
	cr_assert_eq(json_array_size(it_get(sum, "results")), (size_t)nlines);
	for (int i = 0; i < nlines; i++)
		cr_expect_eq(num(json_array_get(it_get(sum, "results"), (size_t)i), "events"),
		             line_events[i], "line %d", i + 1);
	json_decref(sum);
	free(err);
	sum = import(file, &rc, &err);
	cr_expect_eq(rc, 0, "again: exit %d: %.2000s", rc, err);
	cr_expect_eq(num(sum, "imported"), 0);
	cr_expect_eq(num(sum, "duplicates"), nlines);
	cr_expect_eq(num(sum, "refused"), 0);
	json_decref(sum);
	free(err);

	/* What the router wrote is what the auditor accepts, deadlines
	 * included (a snapshot, while the router runs). */
	rc = AUDIT(&out, &err, "verify", "--store", env.store, "--pubkey", pub, "--json");
	cr_assert_eq(rc, 0, "verify: exit %d: %s %s", rc, out, err);
	j = it_json_text(out);
	cr_expect(json_is_true(it_get(j, "ok")));
	cr_expect_str_eq(it_str(j, "deadlines"), "checked");
	records = (uint64_t)num(j, "records");
	json_decref(j);
	free(out);
	free(err);

	/* The store stands still from here: reports and bundle see one log. */
	mr_proc_stop(&env, &env.gateway, SIGTERM);
	mr_proc_stop(&env, &env.router, SIGTERM);

	for (int y = 2024; y <= 2026; y++) {
		snprintf(year, sizeof(year), "%d", y);
		rc = AUDIT(&out, &err, "report", "annual", "--year", year, "--store", env.store,
		           "--pubkey", pub, "--format", "json");
		cr_assert_eq(rc, 0, "report %d: exit %d: %s", y, rc, err);
		j = it_json_text(out);
		rp_check_annual(&plan, y, j, &nonzero);
		json_decref(j);
		free(out);
		free(err);
	}
	/* Most cells are counted somewhere. */
	cr_expect_gt(nonzero, 150, "%d", nonzero);

	/* Channel counts over a range across the turn of a year. */
	{
		struct rp_expect e;
		rc = AUDIT(&out, &err, "report", "channels", "--from", "2024-12-01", "--to", "2025-01-31",
		           "--store", env.store, "--format", "json");
		cr_assert_eq(rc, 0, "report channels: exit %d: %s", rc, err);
		j = it_json_text(out);
		rp_expect(&plan, 2025, civil(2024, 12, 1), civil(2025, 1, 31), &e);
		rp_check_channels(it_get(j, "channels"), &e, "2024-12-01..2025-01-31");
		json_decref(j);
		free(out);
		free(err);
	}

	/* From an exported bundle: the same bytes, every year and format. */
	rc = AUDIT(&out, &err, "export", "--store", env.store, "--out", bundle);
	cr_assert_eq(rc, 0, "export: exit %d: %s", rc, err);
	free(out);
	free(err);
	/* One instant for both: a year not over yet is judged as of now. */
	cr_assert_gt(pb_time_fmt(pb_now_ms(), now, sizeof(now), 0), 0);
	for (int y = 2024; y <= 2026; y++)
		for (int f = 0; f < 4; f++) {
			snprintf(year, sizeof(year), "%d", y);
			rc = AUDIT(&a, &err, "report", "annual", "--year", year, "--store", env.store,
			           "--format", fmts[f], "--now", now);
			cr_assert_eq(rc, 0, "%d %s from the store: exit %d: %s", y, fmts[f], rc, err);
			free(err);
			rc = AUDIT(&b, &err, "report", "annual", "--year", year, bundle, "--pubkey", pub,
			           "--format", fmts[f], "--now", now);
			cr_assert_eq(rc, 0, "%d %s from the bundle: exit %d: %s", y, fmts[f], rc, err);
			free(err);
			cr_assert(a && *a, "%d %s: empty", y, fmts[f]);
			cr_assert_str_eq(a, b, "%d %s: the bundle's report differs from the store's", y,
			                 fmts[f]);
			free(a);
			free(b);
		}

	/* One byte flipped in a copy: no report, and verify named. */
	tamper(bundle, bad, records / 2);
	rc = AUDIT(&out, &err, "report", "annual", "--year", "2025", bad, "--pubkey", pub);
	cr_expect_eq(rc, 28, "a tampered bundle: exit %d", rc);
	cr_expect_str_eq(out, "", "nothing on stdout");
	snprintf(file, sizeof(file), "the log does not verify (FAIL root: record %llu",
	         (unsigned long long)(records / 2));
	cr_expect(strstr(err, file) != NULL, "%s", err);
	cr_expect(strstr(err, "run `mailroom-audit verify`") != NULL, "%s", err);
	free(out);
	free(err);
	rc = AUDIT(&out, &err, "report", "annual", "--year", "2025", bad, "--pubkey", pub, "--format",
	           "json");
	cr_expect_eq(rc, 28);
	j = it_json_text(out);
	cr_expect_str_eq(it_str(j, "error.code"), "unverified");
	json_decref(j);
	free(out);
	free(err);
	IT_DOWN();
}

/* ---- overdue and the report agree ---- */

/* POSTs one live message of a channel the gateway takes (n: which). */
static void post_live(int n)
{
	static const char *const chans[3] = {"mailbox", "consultation", "complaint"};
	char body[600], id[19];
	struct mr_http r;

	if (n % 4 == 3) {
		resident_id(7000 + n, id);
		snprintf(body, sizeof(body),
		         "{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"申请人%d\","
		         "\"id_type\":\"resident_id\",\"id_number\":\"%s\",\"phone\":\"13800000000\"},"
		         "\"description\":\"申请公开%d号文件的全文及其附件。\",\"form\":\"electronic\","
		         "\"delivery\":\"email\",\"submission_mode\":\"online\"}",
		         n, id, n);
		cr_assert_eq(mr_post_disclosure(NULL, &env, body, &r), 0);
	} else {
		snprintf(body, sizeof(body),
		         "{\"channel\":\"%s\",\"subject\":\"来信%d\",\"body\":\"请答复第%d号来信。\"}",
		         chans[n % 4], n, n);
		cr_assert_eq(mr_post_message(NULL, &env, body, &r), 0);
	}
	cr_assert_eq(r.status, 201, "POST: HTTP %ld: %s", r.status, r.body);
	mr_http_free(&r);
}

/* Pulls one message of queue and takes one step on it (some refused: an
 * imported application may be waiting for its applicant); the message's
 * tracking code goes in touched. */
static void act(const char *queue, int n, json_t *touched)
{
	const char *key = env.handlers[0].key_path;
	char *out = NULL, id[32];
	json_t *j;

	if (mr_handler_cmd(&env, key, &out, "pull", "--queue", queue, NULL) != 0) {
		free(out);
		return;
	}
	j = it_json_text(out);
	free(out);
	snprintf(id, sizeof(id), "%s", it_str(j, "message.id"));
	json_object_set_new(touched, it_str(j, "message.tracking_code"), json_true());
	json_decref(j);
	out = NULL;
	if (strcmp(queue, "disclosure") != 0)
		mr_handler_cmd(&env, key, &out, "reply", id, "--text", "已办理。", NULL);
	else if (n % 3 == 0)
		mr_handler_cmd(&env, key, &out, "disclosure", "decide", id, "--outcome", "disclosed",
		               "--text", "予以公开。", NULL);
	else if (n % 3 == 1)
		mr_handler_cmd(&env, key, &out, "disclosure", "request-correction", id, "--text",
		               "请写明文件名称", NULL);
	else
		mr_handler_cmd(&env, key, &out, "disclosure", "extend", id, "--days", "15",
		               "--approver", "王主任", "--reason", "需调取档案", NULL);
	free(out);
}

static json_t *audit_json(const char *const *args)
{
	char *out = NULL, *err = NULL;
	int rc = audit(&out, &err, args);

	cr_assert_eq(rc, 0, "%s: exit %d: %s", args[0], rc, err);
	cr_assert_not_null(out, "%s %s: exit 0, but its output file could not be read (%s)",
	                   args[0], args[1], err ? err : "");
	json_t *j = it_json_text(out);
	free(out);
	free(err);
	return j;
}
#define AUDIT_JSON(...) audit_json((const char *const[]){__VA_ARGS__, NULL})

/* At T: every reply clock overdue lists is one report channels counts
 * as overdue, channel by channel; and the imported messages listed are
 * exactly the ones the plan says are overdue then (touched: answered or
 * stepped live since, not judged by the plan after now). Returns the
 * number listed. */
static long agree_at(int64_t t, int64_t live_from, json_t *codes, json_t *touched, int year)
{
	char at[40], to[16], what[64];
	long per[RP_NCHANNELS] = {0}, n = 0, in_year[RP_NCHANNELS] = {0};
	json_t *od, *rep, *e, *listed = json_object();
	size_t i;

	cr_assert_gt(pb_time_fmt(t, at, sizeof(at), 0), 0);
	cr_assert_gt(pb_date_fmt(pb_day_of_ms(t), to, sizeof(to)), 0);
	od = AUDIT_JSON("overdue", "--store", env.store, "--now", at, "--json");
	rep = AUDIT_JSON("report", "channels", "--from", "2020-01-01", "--to", to, "--store",
	                 env.store, "--now", at, "--format", "json");
	json_array_foreach(it_get(od, "overdue"), i, e) {
		if (strcmp(it_str(e, "clock"), "reply") != 0)
			continue;
		for (int c = 0; c < RP_NCHANNELS; c++)
			per[c] += strcmp(it_str(e, "channel"), rp_channels[c]) == 0;
		json_object_set_new(listed, it_str(e, "tracking_code"), json_true());
		n++;
	}
	for (int c = 0; c < RP_NCHANNELS; c++) {
		snprintf(what, sizeof(what), "channels.%s.overdue", rp_channels[c]);
		cr_expect_eq(per[c], num(rep, what), "%s %s: overdue lists %ld, report channels %ld",
		             at, rp_channels[c], per[c], num(rep, what));
	}
	for (int k = 0; k < plan.nmsgs; k++) {
		const char *code = json_string_value(json_array_get(codes, (size_t)k));
		int st = rp_judge(&plan.msgs[k], t), want = st == RP_J_OVERDUE || st == RP_J_LATE;
		int y, mo, d;
		if (t >= live_from && json_object_get(touched, code))
			continue;
		cr_expect_eq(json_object_get(listed, code) != NULL, want,
		             "%s: %s (plan message %d) %s", at, code, k,
		             want ? "overdue, not listed" : "listed, not overdue");
		pb_civil_from_days(pb_day_of_ms(plan.msgs[k].receipt), &y, &mo, &d);
		if (want && y == year)
			in_year[plan.msgs[k].ch]++;
	}
	if (year) {
		/* The year's report, judged at its end: the same. */
		snprintf(what, sizeof(what), "%d", year);
		json_t *an = AUDIT_JSON("report", "annual", "--year", what, "--store", env.store,
		                        "--now", at, "--format", "json");
		for (int c = 0; c < RP_NCHANNELS; c++) {
			snprintf(what, sizeof(what), "channels.%s.overdue", rp_channels[c]);
			cr_expect_eq(in_year[c], num(an, what), "%d %s: overdue %ld, annual %ld", year,
			             rp_channels[c], in_year[c], num(an, what));
		}
		json_decref(an);
	}
	json_decref(listed);
	json_decref(rep);
	json_decref(od);
	return n;
}

/* 1,840 imported messages over 2024-2026 and 160 live ones (2,000), some
 * answered, paused or extended now: at five instants from 2024 to a year
 * from now, overdue --now T lists exactly what report channels --to T
 * counts as overdue, and the plan agrees item by item. */
Test(report, overdue_agrees, .init = it_init, .fini = it_fini, .timeout = 240)
{
	const struct mr_opts o = OPTS;
	char file[600], *err = NULL, now_s[40];
	json_t *sum, *codes = json_array(), *touched = json_object();
	int64_t now, t;
	long n;
	int rc;

	IT_UP(&o);
	snprintf(file, sizeof(file), "%s/old-system.jsonl", env.dir);
	generate(file, BIG_APPS, BIG_OTHER);
	cr_assert_eq(plan.nmsgs, nlines);
	sum = import(file, &rc, &err);
	cr_assert_eq(rc, 0, "import: exit %d: %.2000s", rc, err);
	cr_assert_eq(num(sum, "imported"), nlines, "%.2000s", err);
	for (int i = 0; i < nlines; i++)
		json_array_append(codes, it_get(json_array_get(it_get(sum, "results"), (size_t)i),
		                                "tracking_code"));
	json_decref(sum);
	free(err);

	now = pb_now_ms() / 1000 * 1000;
	for (int i = 0; i < 160; i++)
		post_live(i);
	for (int i = 0; i < 8; i++) {
		act("general", i, touched);
		act("disclosure", i, touched);
	}

	/* Mid-2024, the end of 2025 (with its annual report), now, a day in
	 * twelve and one in two hundred. */
	cr_assert_eq(pb_time_parse("2024-06-30T23:59:59+08:00", &t), 0);
	n = agree_at(t, now, codes, touched, 0);
	cr_expect_gt(n, 20, "overdue in mid-2024: %ld", n);
	cr_assert_eq(pb_time_parse("2025-12-31T23:59:59+08:00", &t), 0);
	agree_at(t, now, codes, touched, 2025);
	t = pb_now_ms() / 1000 * 1000;
	agree_at(t, now, codes, touched, 0);
	for (int days = 12; days <= 200; days += 188) {
		cr_assert_gt(pb_date_fmt(pb_day_of_ms(now) + days, now_s, sizeof(now_s)), 0);
		strcat(now_s, "T23:59:59+08:00");
		cr_assert_eq(pb_time_parse(now_s, &t), 0);
		agree_at(t, now, codes, touched, 0);
	}
	json_decref(codes);
	json_decref(touched);
	IT_DOWN();
}
