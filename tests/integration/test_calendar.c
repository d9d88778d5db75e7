/* The office loads a year's holiday notice: the router, restarted on it,
 * recomputes the provisional deadlines with a signed record each, the
 * citizen's status shows the change, /metrics tells whether next year's
 * notice is still missing, and an exported bundle carries the calendars.
 *
 * The router starts on a calendar directory with the 2024 notice only,
 * so whatever today is, this year is provisional. The notices added
 * later are test files for this year and next with no holidays at all:
 * no working day is lost, so the due dates can only come earlier. */
#include "it.h"

#include <dirent.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static const char letter[] =
	"{\"channel\":\"mailbox\",\"subject\":\"路面坑洼\",\"body\":\"人民路口路面有坑。\"}";

static char caldir[MR_PATH];

static void copy_file(const char *from, const char *to)
{
	size_t len = 0;
	char *text = mr_read_text(from, &len);
	FILE *f;

	cr_assert_not_null(text, "%s", from);
	f = fopen(to, "wb");
	cr_assert_not_null(f, "%s", to);
	cr_assert_eq(fwrite(text, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	free(text);
}

/* A notice for year in dir; holidays: NULL, or its "holiday" lines. */
static void write_notice_in(const char *dir, int year, const char *holidays)
{
	char path[MR_PATH + 32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cn-%d.cal", dir, year);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fprintf(f, "year %d\nnotice 测试用通知 %d\nissued %d-11-01\n%s", year, year, year - 1,
	        holidays ? holidays : "");
	cr_assert_eq(fclose(f), 0);
}

static void write_notice(int year)
{
	write_notice_in(caldir, year, NULL);
}

/* Today in Asia/Shanghai, as the router sees it. */
static void today(int *year, int *month)
{
	time_t t = time(NULL) + 8 * 3600;
	struct tm tm;

	gmtime_r(&t, &tm);
	*year = tm.tm_year + 1900;
	*month = tm.tm_mon + 1;
}

static char *metrics(void)
{
	struct mr_http r;
	char *body;

	cr_assert_eq(mr_http(NULL, env.base, "GET", "/metrics", NULL, NULL, 0, 10000, &r), 0);
	cr_assert_eq(r.status, 200, "/metrics: HTTP %ld", r.status);
	cr_assert_not_null(r.body);
	body = strdup(r.body);
	mr_http_free(&r);
	return body;
}

static void expect_metric(const char *body, const char *name, long want)
{
	char line[128];

	snprintf(line, sizeof(line), "\n%s %ld\n", name, want);
	cr_expect(strstr(body, line) != NULL, "/metrics lacks '%s %ld':\n%s", name, want, body);
}

static json_t *status(const char *code, const char *key)
{
	struct mr_http r;
	json_t *j;

	/* The gateway reconnects to a restarted router within moments. */
	for (int i = 0;; i++) {
		cr_assert_eq(mr_get_status(NULL, &env, code, key, &r), 0);
		if (r.status != 503 || i == 100)
			break;
		mr_http_free(&r);
		mr_sleep_ms(100);
	}
	cr_assert_eq(r.status, 200, "GET status: HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	mr_http_free(&r);
	return j;
}

static char localdir[MR_PATH];   /* [router] local_calendars, when a test makes one */

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[MR_PATH + 300];

	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* The calendar directories go with the environment, pass or fail. */
static void cal_fini(void)
{
	it_fini();
	if (*caldir)
		rm_dir(caldir);
	if (*localdir)
		rm_dir(localdir);
}

TestSuite(calendar, .init = it_init, .fini = cal_fini, .timeout = 180);

Test(calendar, a_new_notice_recomputes_provisional_deadlines_on_restart)
{
	struct mr_opts o = {0};
	struct mr_http r;
	char code[32], key[128], *out = NULL, *m;
	int year, month;

	today(&year, &month);
	/* Made before the environment, whose config names it. */
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp || strlen(tmp) > 200)
		tmp = P_tmpdir;
	cr_assert_gt(snprintf(caldir, sizeof(caldir), "%s/mr-cal-XXXXXX", tmp), 0);
	cr_assert_not_null(mkdtemp(caldir));
	char cn2024[MR_PATH + 16];
	snprintf(cn2024, sizeof(cn2024), "%s/cn-2024.cal", caldir);
	copy_file(MR_SOURCE_DIR "/deploy/calendars/cn-2024.cal", cn2024);
	o.calendars = caldir;
	IT_UP(&o);

	/* This year has no notice: the deadlines are provisional. */
	cr_assert_eq(mr_post_message(NULL, &env, letter, &r), 0);
	cr_assert_eq(r.status, 201, "POST: HTTP %ld: %s", r.status, r.body);
	json_t *j = it_json(&r);
	snprintf(code, sizeof(code), "%s", it_str(j, "tracking_code"));
	snprintf(key, sizeof(key), "%s", it_str(j, "access_key"));
	cr_expect(json_is_true(it_get(j, "due_provisional")), "%s", r.body);
	json_decref(j);
	mr_http_free(&r);
	j = status(code, key);
	char reply_before[40];
	snprintf(reply_before, sizeof(reply_before), "%s", it_str(j, "reply_due_at"));
	cr_expect(json_is_true(it_get(j, "due_provisional")));
	cr_expect_null(it_get(j, "due_recomputed_at"));
	json_decref(j);
	m = metrics();
	expect_metric(m, "mailroom_calendar_last_year", 2024);
	expect_metric(m, "mailroom_calendar_next_year_missing", month >= 11);
	free(m);
	/* From 1 November the router says so in its log too. */
	char warn[64];
	size_t len = 0;
	char *log = mr_read_text(env.router.log, &len);
	snprintf(warn, sizeof(warn), "no calendar for %d yet", year + 1);
	cr_assert_not_null(log);
	cr_expect_eq(strstr(log, warn) != NULL, month >= 11, "router log:\n%s", log);
	free(log);

	/* The notices arrive; the router is restarted on them. */
	write_notice(year);
	write_notice(year + 1);
	cr_assert_eq(mr_proc_stop(&env, &env.router, SIGTERM), 0);
	cr_assert_eq(mr_router_start(&env), 0);

	j = status(code, key);
	cr_expect(json_is_false(it_get(j, "due_provisional")), "still provisional");
	cr_expect(json_is_string(it_get(j, "due_recomputed_at")), "the view says it was recomputed");
	const char *reply_after = it_str(j, "reply_due_at");
	cr_assert_not_null(reply_after);
	/* Same offset, same format: the strings order as the instants. */
	cr_expect(strcmp(reply_after, reply_before) <= 0, "no working day was lost: %s -> %s",
	          reply_before, reply_after);
	json_decref(j);

	/* One signed record per clock: acknowledge and reply. */
	cr_assert_eq(mr_audit_cmd(&env, &out, "trail", code, NULL), 0, "trail: %s", out);
	int n = 0;
	for (const char *p = out; (p = strstr(p, "CLOCK_RECOMPUTED")) != NULL; p++)
		n++;
	cr_expect_eq(n, 2, "two recompute records:\n%s", out);
	free(out);
	cr_expect_eq(mr_audit_cmd(&env, &out, "verify", NULL), 0, "verify: %s", out);
	free(out);

	m = metrics();
	expect_metric(m, "mailroom_calendar_last_year", year + 1);
	expect_metric(m, "mailroom_calendar_next_year_missing", 0);
	free(m);

	/* The bundle carries these calendars: verify needs nothing else. */
	char *argv[] = {MR_BIN_DIR "/workers/audit/mailroom-audit", "export", "--store", env.store,
	                "--out", (char *)it_path("log.bundle"), "--calendars", caldir, NULL};
	cr_assert_eq(mr_run(&env, argv, &out, NULL, 60), 0, "export: %s", out);
	free(out);
	char *vargv[] = {MR_BIN_DIR "/workers/audit/mailroom-audit", "verify",
	                 (char *)it_path("log.bundle"), NULL};
	cr_expect_eq(mr_run(&env, vargv, &out, NULL, 60), 0, "verify bundle: %s", out);
	cr_expect(out && strncmp(out, "ok: ", 4) == 0, "%s", out);
	free(out);

	IT_DOWN();
}

/* The same, with systemctl reload (SIGHUP) instead of a restart: the
 * router takes the new notices between two batches, recomputes with a
 * signed record per clock, and refuses a broken file, keeping the rest. */
Test(calendar, a_new_notice_is_taken_by_a_reload)
{
	struct mr_opts o = {0};
	struct mr_http r;
	char code[32], key[128], path[MR_PATH + 32], *out = NULL, *m, *log;
	int year, month, n = 0;
	json_t *j;
	FILE *f;

	today(&year, &month);
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp || strlen(tmp) > 200)
		tmp = P_tmpdir;
	cr_assert_gt(snprintf(caldir, sizeof(caldir), "%s/mr-cal-XXXXXX", tmp), 0);
	cr_assert_not_null(mkdtemp(caldir));
	snprintf(path, sizeof(path), "%s/cn-2024.cal", caldir);
	copy_file(MR_SOURCE_DIR "/deploy/calendars/cn-2024.cal", path);
	o.calendars = caldir;
	IT_UP(&o);

	cr_assert_eq(mr_post_message(NULL, &env, letter, &r), 0);
	cr_assert_eq(r.status, 201, "POST: HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	snprintf(code, sizeof(code), "%s", it_str(j, "tracking_code"));
	snprintf(key, sizeof(key), "%s", it_str(j, "access_key"));
	cr_assert(json_is_true(it_get(j, "due_provisional")), "%s", r.body);
	json_decref(j);
	mr_http_free(&r);

	write_notice(year);
	write_notice(year + 1);
	cr_assert_eq(kill(env.router.pid, SIGHUP), 0);
	for (int i = 0;; i++) {
		j = status(code, key);
		int prov = json_is_true(it_get(j, "due_provisional"));
		json_decref(j);
		if (!prov)
			break;
		cr_assert_lt(i, 50, "still provisional 5 s after SIGHUP");
		mr_sleep_ms(100);
	}
	cr_assert(mr_proc_alive(&env.router));
	cr_assert_eq(mr_audit_cmd(&env, &out, "trail", code, NULL), 0, "trail: %s", out);
	for (const char *p = out; (p = strstr(p, "CLOCK_RECOMPUTED")) != NULL; p++)
		n++;
	cr_expect_eq(n, 2, "two recompute records:\n%s", out);
	free(out);
	cr_expect_eq(mr_audit_cmd(&env, &out, "verify", NULL), 0, "verify: %s", out);
	free(out);
	m = metrics();
	expect_metric(m, "mailroom_calendar_last_year", year + 1);
	free(m);

	/* A broken notice: refused, and the loaded years stay. */
	snprintf(path, sizeof(path), "%s/cn-%d.cal", caldir, year + 2);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "year %d\nholiday not-a-date\n", year + 2);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(kill(env.router.pid, SIGHUP), 0);
	for (int i = 0; i < 50; i++) {
		size_t len = 0;
		log = mr_read_text(env.router.log, &len);
		cr_assert_not_null(log);
		if (strstr(log, "reload refused"))
			break;
		free(log);
		log = NULL;
		mr_sleep_ms(100);
	}
	cr_assert_not_null(log, "no refusal in the router's log");
	cr_expect(strstr(log, "reload refused, the running configuration stays: calendars:"), "%s", log);
	free(log);
	cr_assert(mr_proc_alive(&env.router));
	m = metrics();
	expect_metric(m, "mailroom_calendar_last_year", year + 1);
	free(m);
	IT_DOWN();
}

static void make_dir(char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp || strlen(tmp) > 200)
		tmp = P_tmpdir;
	cr_assert_gt(snprintf(buf, len, "%s/mr-cal-XXXXXX", tmp), 0);
	cr_assert_not_null(mkdtemp(buf));
}

/* What mailroom-audit deadline computes from today, on --calendars
 * caldir (and --local-calendars localdir when with_local). */
static void audit_due(const char *from, int days, int with_local, char due[32])
{
	char n[16], *out = NULL;
	char *argv[] = {MR_BIN_DIR "/workers/audit/mailroom-audit", "deadline", "--from",
	                (char *)from, "--working-days", n, "--calendars", caldir,
	                with_local ? "--local-calendars" : NULL, localdir, NULL};

	snprintf(n, sizeof(n), "%d", days);
	cr_assert_eq(mr_run(&env, argv, &out, NULL, 30), 0, "deadline: %s", out);
	cr_assert(out && strlen(out) >= 10, "%s", out);
	snprintf(due, 32, "%.10s", out);
	free(out);
}

Test(calendar, the_offices_own_directory_wins_and_is_reloaded)
{
	struct mr_opts o = {0};
	char due_a[16], due_b[16], want[32], today_s[16], tomorrow_s[16], *out = NULL;
	char hol[2][128], line[2 * MR_PATH + 128], *log = NULL;
	int year, month;

	today(&year, &month);
	/* Today and tomorrow in Asia/Shanghai. */
	time_t t = time(NULL) + 8 * 3600;
	struct tm tm, tm1;
	gmtime_r(&t, &tm);
	t += 86400;
	gmtime_r(&t, &tm1);
	strftime(today_s, sizeof(today_s), "%Y-%m-%d", &tm);
	strftime(tomorrow_s, sizeof(tomorrow_s), "%Y-%m-%d", &tm1);

	/* Shipped: this year and next without holidays. The office's: none yet. */
	make_dir(caldir, sizeof(caldir));
	make_dir(localdir, sizeof(localdir));
	write_notice(year);
	write_notice(year + 1);
	o.calendars = caldir;
	o.local_calendars = localdir;
	IT_UP(&o);

	struct mr_http r;
	cr_assert_eq(mr_post_message(NULL, &env, letter, &r), 0);
	cr_assert_eq(r.status, 201, "POST: HTTP %ld: %s", r.status, r.body);
	json_t *j = it_json(&r);
	snprintf(due_a, sizeof(due_a), "%.10s", it_str(j, "reply_due_at"));
	cr_expect(json_is_false(it_get(j, "due_provisional")), "%s", r.body);
	json_decref(j);
	mr_http_free(&r);
	/* The letter's reply clock is 15 working days, as the auditor counts. */
	audit_due(today_s, 15, 0, want);
	cr_assert_str_eq(due_a, want, "router %s, auditor %s", due_a, want);

	/* The office's own notices for both years: every day off from tomorrow
	 * to the end of February. */
	hol[0][0] = '\0';
	if (tm1.tm_year + 1900 == year)
		snprintf(hol[0], sizeof(hol[0]), "holiday %s %d-12-31\n", tomorrow_s, year);
	snprintf(hol[1], sizeof(hol[1]), "holiday %d-01-01 %d-02-28\n", year + 1, year + 1);
	write_notice_in(localdir, year, hol[0]);
	write_notice_in(localdir, year + 1, hol[1]);
	cr_assert_eq(kill(env.router.pid, SIGHUP), 0);
	snprintf(line, sizeof(line), "reload: calendar %d: %s/cn-%d.cal used; %s/cn-%d.cal left out",
	         year + 1, localdir, year + 1, caldir, year + 1);
	for (int i = 0; i < 100; i++) {
		size_t len = 0;
		free(log);
		log = mr_read_text(env.router.log, &len);
		cr_assert_not_null(log);
		if (strstr(log, line))
			break;
		mr_sleep_ms(100);
	}
	cr_expect(strstr(log, line) != NULL, "the router does not say which file it used for %d "
	          "('%s'):\n%s", year + 1, line, log);
	free(log);

	/* A letter now is due after the office's holidays. */
	cr_assert_eq(mr_post_message(NULL, &env, letter, &r), 0);
	cr_assert_eq(r.status, 201, "POST: HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	snprintf(due_b, sizeof(due_b), "%.10s", it_str(j, "reply_due_at"));
	json_decref(j);
	mr_http_free(&r);
	snprintf(want, sizeof(want), "%d-03-01", year + 1);
	cr_expect(strcmp(due_b, want) >= 0, "due %s, not after the office's holidays", due_b);
	/* The auditor, given the same two directories, says the same. */
	audit_due(today_s, 15, 1, want);
	cr_expect_str_eq(due_b, want, "router %s, auditor %s", due_b, want);
	audit_due(today_s, 15, 0, want);
	cr_expect_str_neq(due_b, want, "without the office's directory the auditor counts otherwise");
	/* And verify, on both (the harness passes --local-calendars), holds. */
	cr_expect_eq(mr_audit_cmd(&env, &out, "verify", NULL), 0, "verify: %s", out);
	free(out);
	IT_DOWN();
}
