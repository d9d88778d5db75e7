/* Repeats on the plain channels through the real processes: the same
 * person (same phone or e-mail, written differently) with a similar text
 * on the same channel is flagged with the earlier case, shown to the
 * handler (show, pull) and decided once; another person, another
 * channel, or an earlier message just outside the window is no repeat,
 * one just inside it is (imported at its original time). verify passes
 * and the public trail holds the flag without the contact. */
#include "it.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const struct mr_handler_spec handlers[] = {
	{"li", "general, supervision"},
};

#define DAY_S (24 * 3600)
#define COMPLAINT_A "物业公司擅自提高停车费，业主多次反映无人处理。"
#define COMPLAINT_B "物业公司擅自提高小区停车费，业主多次反映一直无人处理。"
#define LETTER_A "建议在学校门口增设人行横道和减速带，保障学生安全。"
#define LETTER_B "建议学校门口增设人行横道以及减速带，保障学生上下学安全。"

static void at_text(time_t t, char *buf, size_t n)
{
	time_t b = t + 8 * 3600;
	struct tm tm;

	gmtime_r(&b, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

/* Posts a message; its id into id. */
static void post(const char *channel, const char *subject, const char *body, const char *contact,
                 char *id, size_t len)
{
	char json[1024];
	struct mr_http r;
	json_t *j;

	snprintf(json, sizeof(json),
	         "{\"channel\":\"%s\",\"subject\":\"%s\",\"body\":\"%s\",\"contact\":%s}", channel,
	         subject, body, contact);
	cr_assert_eq(mr_post_message(NULL, &env, json, &r), 0);
	cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	cr_expect_null(it_get(j, "repeat"), "the citizen is not told: %s", r.body);
	snprintf(id, len, "%s", it_str(j, "id"));
	json_decref(j);
	mr_http_free(&r);
}

/* Imports one mailbox letter received at t; its tracking code into code. */
static void import_at(const char *ref, time_t t, const char *body, const char *contact, char *code,
                      size_t len)
{
	char path[600], at[40], *out = NULL, *err = NULL;
	FILE *f;
	int rc;

	at_text(t, at, sizeof(at));
	snprintf(path, sizeof(path), "%s/%s.jsonl", env.dir, ref);
	cr_assert_not_null(f = fopen(path, "w"));
	fprintf(f,
	        "{\"ref\":\"%s\",\"channel\":\"mailbox\",\"received_at\":\"%s\",\"subject\":\"学校门口\","
	        "\"body\":\"%s\",\"contact\":%s}\n",
	        ref, at, body, contact);
	cr_assert_eq(fclose(f), 0);
	rc = mr_admin_cmd(&env, env.handlers[0].key_path, &out, &err, "import", "--file", path, NULL);
	cr_assert_eq(rc, 0, "import: exit %d: %s", rc, err ? err : "");
	json_t *sum = it_json_text(out);
	snprintf(code, len, "%s", it_str(json_array_get(it_get(sum, "results"), 0), "tracking_code"));
	json_decref(sum);
	free(out);
	free(err);
}

/* mailroom-handler show ID: the handler's view. */
static json_t *show(const char *id)
{
	char *out = NULL;
	int rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "show", id, NULL);

	cr_assert_eq(rc, 0, "show: exit %d: %s", rc, out ? out : "");
	json_t *j = it_json_text(out);
	free(out);
	return j;
}

static const char *code_of(const char *id)
{
	static char code[16];
	json_t *j = show(id);

	snprintf(code, sizeof(code), "%s", it_str(j, "tracking_code"));
	json_decref(j);
	return code;
}

/* The flag the handler sees on id: the earlier case's code, or NULL. */
static int flagged_as(const char *id, const char *earlier_code)
{
	json_t *j = show(id);
	const char *c = it_str(j, "repeat.of_tracking_code");
	int ok = earlier_code ? c && strcmp(c, earlier_code) == 0 : it_get(j, "repeat") == NULL;

	if (!ok)
		fprintf(stderr, "%s: repeat %s, wanted %s\n", id, c ? c : "none",
		        earlier_code ? earlier_code : "none");
	json_decref(j);
	return ok;
}

static int decide(const char *id, const char *what, char **out)
{
	return mr_handler_cmd(&env, env.handlers[0].key_path, out, "repeat-decide", id, what, NULL);
}

Test(repeats, on_the_plain_channels, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers,
	                          .nhandlers = 1,
	                          .extra_ini = "[handler.li]\nimport = yes\n\n[repeats]\n"
	                                       "complaint_window_days = 30\nmailbox_window_days = 30\n"};
	char c1[32], c2[32], c3[32], c4[32], e1[32], e2[32], m1[32], m2[32], code[16], in[16],
	    out_[16], *out = NULL;
	time_t now = time(NULL);
	json_t *j;
	int rc;

	IT_UP(&o);
	/* complaints: the same person, the phone written two ways */
	post("complaint", "停车费", COMPLAINT_A, "{\"phone\":\"13800000001\"}", c1, sizeof(c1));
	post("complaint", "停车费", COMPLAINT_B, "{\"phone\":\"+8613800000001\"}", c2, sizeof(c2));
	/* another person, the same words; the same person on another channel */
	post("complaint", "停车费", COMPLAINT_B, "{\"phone\":\"13900000002\"}", c3, sizeof(c3));
	post("consultation", "停车费", COMPLAINT_B, "{\"phone\":\"13800000001\"}", c4, sizeof(c4));
	snprintf(code, sizeof(code), "%s", code_of(c1));
	cr_expect(flagged_as(c1, NULL), "the first is no repeat");
	cr_expect(flagged_as(c2, code), "the same person again");
	cr_expect(flagged_as(c3, NULL), "another person");
	cr_expect(flagged_as(c4, NULL), "another channel");

	/* mailbox: an e-mail written two ways */
	post("mailbox", "学校门口", LETTER_A, "{\"email\":\"Wang.Wu@Example.cn\"}", e1, sizeof(e1));
	post("mailbox", "学校门口", LETTER_B, "{\"email\":\"wang.wu@example.cn\"}", e2, sizeof(e2));
	cr_expect(flagged_as(e2, code_of(e1)), "the same address");

	/* the window's edge: 30 days back, 10 minutes inside and outside */
	import_at("OLD-IN", now - 30 * DAY_S + 600, LETTER_A, "{\"phone\":\"13700000003\"}", in,
	          sizeof(in));
	import_at("OLD-OUT", now - 30 * DAY_S - 600, LETTER_A, "{\"phone\":\"13600000004\"}", out_,
	          sizeof(out_));
	post("mailbox", "学校门口", LETTER_B, "{\"phone\":\"13700000003\"}", m1, sizeof(m1));
	post("mailbox", "学校门口", LETTER_B, "{\"phone\":\"13600000004\"}", m2, sizeof(m2));
	cr_expect(flagged_as(m1, in), "inside the window");
	cr_expect(flagged_as(m2, NULL), "outside the window");

	/* the pull shows the flag with the earlier case */
	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue", "supervision",
	                    "--wait", "5", NULL);
	cr_assert_eq(rc, 0, "%s", out ? out : "");
	j = it_json_text(out);
	free(out);
	cr_expect_str_eq(it_str(j, "message.id"), c1);
	json_decref(j);
	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue", "supervision",
	                    "--wait", "5", NULL);
	j = it_json_text(out);
	free(out);
	cr_expect_str_eq(it_str(j, "message.id"), c2);
	cr_expect_str_eq(it_str(j, "message.repeat.of_tracking_code"), code);
	cr_expect(json_integer_value(it_get(j, "message.repeat.permille")) >= 500, "resemblance");
	json_decref(j);

	/* decided once: dismissed, then refused; an unflagged one refused */
	cr_expect_eq(decide(c2, "dismissed", &out), 0, "%s", out ? out : "");
	j = it_json_text(out);
	free(out);
	cr_expect_str_eq(it_str(j, "repeat.decision"), "dismissed");
	json_decref(j);
	cr_expect_eq(decide(c2, "confirmed", &out), 7, "%s", out ? out : "");
	cr_expect(out && strstr(out, "repeat_decided"), "%s", out ? out : "");
	free(out);
	cr_expect_eq(decide(c3, "confirmed", &out), 7, "%s", out ? out : "");
	cr_expect(out && strstr(out, "not_flagged"), "%s", out ? out : "");
	free(out);
	cr_expect_eq(decide(m1, "confirmed", &out), 0, "%s", out ? out : "");
	free(out);

	cr_expect_eq(mr_audit_cmd(&env, &out, "verify", NULL), 0, "verify: %s", out ? out : "");
	free(out);
	cr_expect_eq(mr_audit_cmd(&env, &out, "trail", c2, NULL), 0);
	cr_expect(out && strstr(out, "REPEAT_FLAGGED") && strstr(out, "REPEAT_DECIDED"), "%s",
	          out ? out : "");
	cr_expect(out && !strstr(out, "13800000001"), "the phone in the public trail");
	free(out);
	IT_DOWN();
}
