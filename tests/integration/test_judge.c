/* One judgment of answered, on time, overdue and open across the
 * auditor's commands, through the real processes: a disclosure decision
 * answers; an imported answer counts at its effective time; a range that
 * ends after now is judged as of now; an imported application is never a
 * repeat of a later live one, and a flagged repeat names the earlier one
 * by tracking code. */
#include "it.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CALDIR MR_SOURCE_DIR "/deploy/calendars"
#define DAY_S 86400

static const struct mr_handler_spec handlers[] = {{"ops", "disclosure, general"}};
#define OPTS {.handlers = handlers, .nhandlers = 1, .extra_ini = "[handler.ops]\nimport = yes\n"}

#define ZHANG                                                                                  \
	"{\"kind\":\"natural_person\",\"name\":\"张三\",\"id_type\":\"resident_id\","               \
	"\"id_number\":\"11010519491231002X\",\"phone\":\"13800000000\"}"
#define FIRM                                                                                   \
	"{\"kind\":\"commercial_enterprise\",\"name\":\"某某科技有限公司\",\"id_type\":\"uscc\","    \
	"\"id_number\":\"91350100M000100Y43\",\"phone\":\"0591-87654321\"}"
#define ROADS "申请公开本机关2024年度道路维修经费预算及执行情况。"
#define LAND "申请公开2025年某地块土地出让公告及成交结果。"

/* The instant t (seconds) in Beijing time, RFC 3339; or its date. */
static void at_text(time_t t, char *buf, size_t n, int date_only)
{
	time_t b = t + 8 * 3600;
	struct tm tm;

	gmtime_r(&b, &tm);
	strftime(buf, n, date_only ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

static json_t *audit(const char *what, ...)
{
	char *argv[16], *out = NULL;
	const char *a;
	int n = 0, rc;
	va_list ap;

	va_start(ap, what);
	while ((a = va_arg(ap, const char *)) != NULL && n < 12)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	/* trail judges no deadline arithmetic: it takes no calendars. */
	rc = mr_audit_cmd(&env, &out, what, strcmp(what, "trail") ? "--calendars" : "--json",
	                  strcmp(what, "trail") ? CALDIR : "--json", n > 0 ? argv[0] : NULL,
	                  n > 1 ? argv[1] : NULL, n > 2 ? argv[2] : NULL, n > 3 ? argv[3] : NULL,
	                  n > 4 ? argv[4] : NULL, n > 5 ? argv[5] : NULL, n > 6 ? argv[6] : NULL,
	                  n > 7 ? argv[7] : NULL, NULL);
	cr_assert_eq(rc, 0, "mailroom-audit %s: exit %d: %s", what, rc, out ? out : "");
	json_t *j = it_json_text(out);
	free(out);
	return j;
}

/* mailroom-audit report channels|annual ... --format json */
static json_t *report(const char *kind, ...)
{
	char *argv[12], *out = NULL;
	const char *a;
	int n = 0, rc;
	va_list ap;

	va_start(ap, kind);
	while ((a = va_arg(ap, const char *)) != NULL && n < 8)
		argv[n++] = (char *)a;
	va_end(ap);
	rc = mr_audit_cmd(&env, &out, "report", kind, "--calendars", CALDIR, "--format", "json",
	                  n > 0 ? argv[0] : NULL, n > 1 ? argv[1] : NULL, n > 2 ? argv[2] : NULL,
	                  n > 3 ? argv[3] : NULL, n > 4 ? argv[4] : NULL, n > 5 ? argv[5] : NULL,
	                  NULL);
	cr_assert_eq(rc, 0, "report %s: exit %d: %s", kind, rc, out ? out : "");
	json_t *j = it_json_text(out);
	free(out);
	return j;
}

static long num(json_t *j, const char *k)
{
	json_t *v = it_get(j, k);

	cr_assert(json_is_integer(v), "no integer at %s", k);
	return (long)json_integer_value(v);
}

/* The imported messages' tracking codes, in the file's order. */
static json_t *import_lines(const char *const *ls, size_t n)
{
	char path[600], *out = NULL, *err = NULL;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/old-%zu.jsonl", env.dir, n);
	cr_assert_not_null(f = fopen(path, "w"));
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", ls[i]);
	cr_assert_eq(fclose(f), 0);
	rc = mr_admin_cmd(&env, env.handlers[0].key_path, &out, &err, "import", "--file", path, NULL);
	cr_assert_eq(rc, 0, "import: exit %d: %s", rc, err ? err : "");
	json_t *sum = it_json_text(out);
	free(out);
	free(err);
	cr_assert_eq(num(sum, "imported"), (long)n);
	return sum;
}

static const char *imported_code(json_t *sum, size_t i)
{
	return it_str(json_array_get(it_get(sum, "results"), i), "tracking_code");
}

static json_t *post(const char *path_kind, const char *body)
{
	struct mr_http r;
	int rc = strcmp(path_kind, "disclosure") == 0 ? mr_post_disclosure(NULL, &env, body, &r)
	                                               : mr_post_message(NULL, &env, body, &r);

	cr_assert_eq(rc, 0);
	cr_assert_eq(r.status, 201, "POST: HTTP %ld: %s", r.status, r.body);
	json_t *j = it_json(&r);
	mr_http_free(&r);
	return j;
}

static json_t *handler(const char *a0, const char *a1, const char *a2, const char *a3,
                       const char *a4, const char *a5, const char *a6, const char *a7)
{
	char *out = NULL;
	int rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, a0, a1, a2, a3, a4, a5, a6, a7,
	                        NULL);

	cr_assert_eq(rc, 0, "%s %s: exit %d: %s", a0, a1 ? a1 : "", rc, out ? out : "");
	json_t *j = it_json_text(out);
	free(out);
	return j;
}

/* Pulls from the disclosure queue until id is leased. */
static void lease(const char *id)
{
	for (int i = 0; i < 6; i++) {
		json_t *j = handler("pull", "--queue", "disclosure", NULL, NULL, NULL, NULL, NULL);
		int found = strcmp(it_str(j, "message.id"), id) == 0;
		json_decref(j);
		if (found)
			return;
	}
	cr_assert_fail("%s never pulled", id);
}

/* The reply entry overdue lists for the tracking code, or NULL. */
static json_t *listed(json_t *od, const char *code)
{
	json_t *e;
	size_t i;

	json_array_foreach(it_get(od, "overdue"), i, e)
		if (strcmp(it_str(e, "clock"), "reply") == 0 && it_str(e, "tracking_code") &&
		    strcmp(it_str(e, "tracking_code"), code) == 0)
			return e;
	return NULL;
}

/* Reply entries of overdue, per channel, against the report's overdue
 * column; the total returned. */
static long agree(json_t *od, json_t *rep, const char *what)
{
	static const char *const chans[] = {"mailbox", "consultation", "complaint",
	                                    "hotline", "petition",     "disclosure"};
	long total = 0;

	for (size_t c = 0; c < 6; c++) {
		long n = 0;
		json_t *e;
		size_t i;
		char key[64];
		json_array_foreach(it_get(od, "overdue"), i, e)
			n += strcmp(it_str(e, "clock"), "reply") == 0 && strcmp(it_str(e, "channel"), chans[c]) == 0;
		snprintf(key, sizeof(key), "channels.%s.overdue", chans[c]);
		cr_expect_eq(n, num(rep, key), "%s %s: overdue lists %ld, the report counts %ld", what,
		             chans[c], n, num(rep, key));
		total += n;
	}
	return total;
}

Test(judge, a_decision_answers, .init = it_init, .fini = it_fini, .timeout = 200)
{
	const struct mr_opts o = OPTS;
	const char *const old[] = {
	    "{\"ref\":\"OLD-D1\",\"channel\":\"disclosure\",\"received_at\":\"2025-09-01T10:00:00+08:00\","
	    "\"applicant\":" ZHANG ",\"description\":\"" ROADS "\",\"form\":\"electronic\","
	    "\"delivery\":\"email\",\"submission_mode\":\"online\",\"events\":["
	    "{\"type\":\"decided\",\"at\":\"2025-09-10T10:00:00+08:00\",\"outcome\":\"disclosed\","
	    "\"text\":\"予以公开。\",\"by\":\"李四\"},"
	    "{\"type\":\"delivered\",\"at\":\"2025-09-11T10:00:00+08:00\",\"evidence\":\"电子邮件\"}]}"};
	char later[40], later_day[16], id[32], code[16], oldcode[16];
	json_t *j, *sum;

	IT_UP(&o);
	sum = import_lines(old, 1);
	snprintf(oldcode, sizeof(oldcode), "%s", imported_code(sum, 0));
	json_decref(sum);
	j = post("disclosure", "{\"applicant\":" FIRM ",\"description\":\"" LAND "\","
	                       "\"form\":\"electronic\",\"delivery\":\"email\",\"submission_mode\":\"online\"}");
	snprintf(id, sizeof(id), "%s", it_str(j, "id"));
	snprintf(code, sizeof(code), "%s", it_str(j, "tracking_code"));
	json_decref(j);
	lease(id);
	json_decref(handler("disclosure", "decide", id, "--outcome", "disclosed", "--text", "予以公开。",
	                    NULL));
	json_decref(handler("disclosure", "deliver", id, "--evidence", "电子邮件", NULL, NULL, NULL));

	/* Checked 90 days on, long after both would have been due. */
	at_text(time(NULL) + 90 * DAY_S, later, sizeof(later), 0);
	at_text(time(NULL) + 90 * DAY_S, later_day, sizeof(later_day), 1);
	j = audit("overdue", "--now", later, "--json", NULL);
	cr_expect_null(listed(j, code), "the live application was decided: %s",
	               json_dumps(listed(j, code), 0));
	cr_expect_null(listed(j, oldcode), "the imported one was decided in 2025");
	cr_expect_eq(num(j, "summary.overdue"), 0);
	json_decref(j);

	j = report("channels", "--from", "2025-01-01", "--to", later_day, "--now", later, NULL);
	cr_expect_eq(num(j, "channels.disclosure.received"), 2);
	cr_expect_eq(num(j, "channels.disclosure.answered"), 2);
	cr_expect_eq(num(j, "channels.disclosure.on_time"), 2);
	cr_expect_eq(num(j, "channels.disclosure.overdue"), 0);
	cr_expect_eq(num(j, "channels.disclosure.open"), 0);
	json_decref(j);
	j = report("annual", "--year", "2025", NULL);
	cr_expect_eq(num(j, "channels.disclosure.on_time"), 1);
	json_decref(j);

	j = audit("trail", code, "--now", later, "--json", NULL);
	cr_expect_str_eq(it_str(j, "judgment.reply.state"), "on_time");
	json_decref(j);
	j = audit("trail", oldcode, "--json", NULL);
	cr_expect_str_eq(it_str(j, "judgment.reply.state"), "on_time");
	cr_expect_str_eq(it_str(j, "judgment.reply.at"), "2025-09-10T10:00:00.000+08:00");
	json_decref(j);
	IT_DOWN();
}

Test(judge, imports_count_at_their_time, .init = it_init, .fini = it_fini, .timeout = 200)
{
	const struct mr_opts o = OPTS;
	const char *const old[] = {
	    "{\"ref\":\"OLD-M1\",\"channel\":\"mailbox\",\"received_at\":\"2025-06-03T09:00:00+08:00\","
	    "\"subject\":\"噪声扰民\",\"body\":\"夜间施工噪声大。\",\"events\":[{\"type\":\"replied\","
	    "\"at\":\"2025-06-05T16:00:00+08:00\",\"text\":\"已责令整改。\",\"by\":\"赵六\"}]}"};
	char now[40], today[16], *out = NULL, *err = NULL, code[16];
	const char *instants[] = {"2025-06-30T23:59:59+08:00", "2025-12-31T23:59:59+08:00", now};
	json_t *j, *sum, *od;
	int rc;

	IT_UP(&o);
	sum = import_lines(old, 1);
	snprintf(code, sizeof(code), "%s", imported_code(sum, 0));
	json_decref(sum);
	rc = mr_admin_cmd(&env, env.handlers[0].key_path, &out, &err, "import", "--file",
	                  MR_SOURCE_DIR "/deploy/import-example.jsonl", NULL);
	cr_assert_eq(rc, 0, "%s", err ? err : "");
	free(out);
	free(err);

	/* Answered two days after it came, in the old system. */
	j = audit("overdue", "--json", NULL);
	cr_expect_null(listed(j, code), "answered on 2025-06-05, on time");
	json_decref(j);
	j = audit("trail", code, "--json", NULL);
	cr_expect_str_eq(it_str(j, "judgment.reply.state"), "on_time");
	cr_expect_str_eq(it_str(j, "judgment.reply.at"), "2025-06-05T16:00:00.000+08:00");
	json_decref(j);

	/* The example file: overdue and the report agree, at each instant. */
	at_text(time(NULL), now, sizeof(now), 0);
	at_text(time(NULL), today, sizeof(today), 1);
	for (int i = 0; i < 3; i++) {
		char to[16];
		snprintf(to, sizeof(to), "%.10s", instants[i]);
		od = audit("overdue", "--now", instants[i], "--json", NULL);
		j = report("channels", "--from", "2020-01-01", "--to", to, "--now", instants[i], NULL);
		agree(od, j, instants[i]);
		json_decref(j);
		json_decref(od);
	}
	/* The year's report counts the same applications as overdue did at
	 * its end (all of the example was received in 2025). */
	od = audit("overdue", "--now", "2025-12-31T23:59:59+08:00", "--json", NULL);
	j = report("annual", "--year", "2025", NULL);
	agree(od, j, "2025");
	json_decref(j);
	json_decref(od);
	IT_DOWN();
}

Test(judge, a_range_after_now_is_judged_now, .init = it_init, .fini = it_fini, .timeout = 200)
{
	const struct mr_opts o = OPTS;
	char year[8], now[40];
	json_t *j;

	IT_UP(&o);
	json_decref(post("message", "{\"channel\":\"complaint\",\"subject\":\"窗口态度\","
	                            "\"body\":\"办事窗口工作人员态度差。\"}"));
	json_decref(post("message", "{\"channel\":\"consultation\",\"subject\":\"居住证\","
	                            "\"body\":\"居住证办理需要哪些材料？\"}"));
	at_text(time(NULL), now, sizeof(now), 0);
	snprintf(year, sizeof(year), "%.4s", now);
	j = report("annual", "--year", year, NULL);
	cr_expect_eq(num(j, "channels.complaint.open"), 1);
	cr_expect_eq(num(j, "channels.complaint.overdue"), 0, "not due yet");
	cr_expect_eq(num(j, "channels.consultation.overdue"), 0, "not due yet");
	cr_expect(it_str(j, "judged_as_of") && strncmp(it_str(j, "judged_as_of"), now, 10) == 0,
	          "judged as of today: %s", it_str(j, "judged_as_of"));
	json_decref(j);
	j = audit("overdue", "--json", NULL);
	cr_expect_eq(num(j, "summary.overdue"), 0);
	json_decref(j);
	IT_DOWN();
}

Test(judge, repeats_look_back, .init = it_init, .fini = it_fini, .timeout = 200)
{
	const struct mr_opts o = OPTS;
	char month_ago[40], line[1200], live[32], oldcode[16], zhang[16];
	const char *ls[1] = {line};
	json_t *j, *sum, *e;
	size_t i;

	IT_UP(&o);
	/* A live application, then an old one of the same applicant, same
	 * text, received 21 months before it. */
	json_decref(post("disclosure", "{\"applicant\":" ZHANG ",\"description\":\"" ROADS "\","
	                               "\"form\":\"electronic\",\"delivery\":\"email\","
	                               "\"submission_mode\":\"online\"}"));
	snprintf(line, sizeof(line),
	         "{\"ref\":\"OLD-R1\",\"channel\":\"disclosure\",\"received_at\":"
	         "\"2025-03-03T10:00:00+08:00\",\"applicant\":" ZHANG ",\"description\":\"" ROADS
	         "\",\"form\":\"electronic\",\"delivery\":\"email\",\"submission_mode\":\"online\"}");
	sum = import_lines(ls, 1);
	snprintf(zhang, sizeof(zhang), "%s", imported_code(sum, 0));
	json_decref(sum);
	j = audit("trail", zhang, "--json", NULL);
	json_array_foreach(it_get(j, "records"), i, e)
		cr_expect(strcmp(it_str(e, "event"), "REPEAT_FLAGGED") != 0,
		          "an old application is no repeat of a later one");
	json_decref(j);

	/* An application imported from a month ago, then the same one live:
	 * the live one repeats it, and says which by tracking code. */
	at_text(time(NULL) - 30 * DAY_S, month_ago, sizeof(month_ago), 0);
	snprintf(line, sizeof(line),
	         "{\"ref\":\"OLD-R2\",\"channel\":\"disclosure\",\"received_at\":\"%s\","
	         "\"applicant\":" FIRM ",\"description\":\"" LAND "\",\"form\":\"electronic\","
	         "\"delivery\":\"email\",\"submission_mode\":\"online\"}",
	         month_ago);
	sum = import_lines(ls, 1);
	snprintf(oldcode, sizeof(oldcode), "%s", imported_code(sum, 0));
	json_decref(sum);
	j = post("disclosure", "{\"applicant\":" FIRM ",\"description\":\"" LAND "\","
	                       "\"form\":\"electronic\",\"delivery\":\"email\",\"submission_mode\":\"online\"}");
	snprintf(live, sizeof(live), "%s", it_str(j, "id"));
	json_decref(j);
	lease(live);
	j = handler("disclosure", "repeat", live, "--confirm", NULL, NULL, NULL, NULL);
	cr_expect_str_eq(it_str(j, "disclosure.repeat.of_tracking_code"), oldcode,
	                 "the step's answer names the earlier application");
	json_decref(j);
	IT_DOWN();
}
