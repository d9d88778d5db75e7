/* Refused input leaves no trace of its values: hostile and malformed
 * messages, disclosure applications, signed 12345 pushes and import lines,
 * each carrying distinctive names, phone numbers and texts, are refused;
 * then neither the router's nor the gateway's log (at debug level) holds
 * any of those values, and no error answer repeats one. */
#include "it.h"

#include <signal.h>

static const struct mr_handler_spec handlers[] = {
	{"ops", "disclosure, general"},
};

/* Every value below that is someone's data, or text of theirs. */
static const char *const markers[] = {
	"13912340001", "1580000222",  "甄测试甲",    "MARKSUBJ-C",  "赵标记丙",    "MARKBODY-D",
	"13700001111", "markE-at-example", "110105194912310021", "钱标记丁", "13600002222",
	"MARKDESC-G",  "孙标记戊",    "1590000333",  "李标记己",    "MARKCONTENT-I",
	"15900004444", "MARKRG",      "MARKREASON-L", "13500005555", "MARKREF-N", "MARKSUBJ-N",
	"周标记庚",    "1880000666",  "吴标记辛",    "13300007777", "MARKDESC-O", "13911112222",
};

static void expect_no_marker(const char *text, const char *where)
{
	for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++)
		cr_expect(strstr(text, markers[i]) == NULL, "%s holds '%s':\n%.2000s", where,
		          markers[i], strstr(text, markers[i]));
}

/* The answer is the refusal wanted and repeats none of the values. */
static void expect_refusal(struct mr_http *r, long status, const char *code, const char *what)
{
	cr_expect_eq(r->status, status, "%s: HTTP %ld (wanted %ld): %.300s", what, r->status, status,
	             r->body ? r->body : "");
	if (r->status >= 400)
		it_expect_error(r, code);
	expect_no_marker(r->body ? r->body : "", what);
	mr_http_free(r);
}

static const struct {
	const char *what, *body, *code;
} messages[] = {
	{"a bad escape after a phone number",
	 "{\"channel\":\"mailbox\",\"subject\":\"s\",\"body\":\"b\",\"contact\":{\"phone\":\"13912340001\\q\"}}",
	 "invalid_json"},
	{"a bad phone number",
	 "{\"channel\":\"mailbox\",\"subject\":\"s\",\"body\":\"b\","
	 "\"contact\":{\"name\":\"甄测试甲\",\"phone\":\"1580000222\"}}",
	 "invalid_field"},
	{"an unknown field",
	 "{\"channel\":\"mailbox\",\"subject\":\"MARKSUBJ-C\",\"body\":\"b\",\"nickname\":\"赵标记丙\"}",
	 "unknown_field"},
	{"a blank subject",
	 "{\"channel\":\"mailbox\",\"subject\":\"   \",\"body\":\"MARKBODY-D 13700001111\"}",
	 "invalid_field"},
	{"a bad e-mail address",
	 "{\"channel\":\"mailbox\",\"subject\":\"s\",\"body\":\"b\","
	 "\"contact\":{\"email\":\"markE-at-example.cn\"}}",
	 "invalid_field"},
	{"a string cut short",
	 "{\"channel\":\"mailbox\",\"subject\":\"s\",\"body\":\"b\",\"contact\":{\"phone\":\"13911112222",
	 "invalid_json"},
};

static const struct {
	const char *what, *body, *code;
} applications[] = {
	{"an identity number with a wrong check digit",
	 "{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"钱标记丁\",\"id_type\":\"resident_id\","
	 "\"id_number\":\"110105194912310021\",\"phone\":\"13600002222\"},"
	 "\"description\":\"MARKDESC-G\",\"form\":\"electronic\",\"delivery\":\"email\","
	 "\"submission_mode\":\"online\"}",
	 "invalid_field"},
	{"an application cut short",
	 "{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"孙标记戊", "invalid_json"},
};

/* Signed pushes with bad fields; the signature is good each time. */
static const struct {
	const char *what, *body;
	long status;
	const char *code;
} orders[] = {
	{"a bad citizen phone",
	 "{\"order_no\":\"NL-1\",\"dispatch_seq\":1,\"kind\":\"dispatch\","
	 "\"accepted_at\":\"2025-11-03T09:00:00+08:00\",\"dispatched_at\":\"2025-11-03T09:05:00+08:00\","
	 "\"source\":\"phone\",\"category\":\"help\",\"category_code\":\"0301\",\"urgency\":\"normal\","
	 "\"title\":\"路灯\",\"content\":\"MARKCONTENT-I\","
	 "\"citizen\":{\"name\":\"李标记己\",\"phone\":\"1590000333\",\"confidential\":false},"
	 "\"region\":\"110105\",\"lead_unit\":\"市城管委\",\"sign_due_at\":\"2025-11-04T09:00:00+08:00\","
	 "\"finish_due_at\":\"2025-11-10T18:00:00+08:00\",\"reply_required\":true}",
	 400, "invalid_field"},
	{"a bad escape after a phone number",
	 "{\"order_no\":\"NL-2\",\"citizen\":{\"phone\":\"15900004444\\q\"}}", 400, "invalid_json"},
	{"a number that does not end",
	 "{\"order_no\":\"NL-2\",\"citizen\":{\"phone\":13911112222.}}", 400, "invalid_json"},
	{"a region that is not a division code",
	 "{\"order_no\":\"NL-3\",\"dispatch_seq\":1,\"kind\":\"dispatch\","
	 "\"accepted_at\":\"2025-11-03T09:00:00+08:00\",\"dispatched_at\":\"2025-11-03T09:05:00+08:00\","
	 "\"source\":\"phone\",\"category\":\"help\",\"category_code\":\"0301\",\"urgency\":\"normal\","
	 "\"title\":\"路灯\",\"content\":\"MARKCONTENT-I\","
	 "\"citizen\":{\"name\":\"李标记己\",\"phone\":\"13300007777\",\"confidential\":false},"
	 "\"region\":\"MARKRG\",\"lead_unit\":\"市城管委\",\"sign_due_at\":\"2025-11-04T09:00:00+08:00\","
	 "\"finish_due_at\":\"2025-11-10T18:00:00+08:00\",\"reply_required\":true}",
	 400, "invalid_field"},
	{"an urge for an order never received",
	 "{\"order_no\":\"NL-4\",\"dispatch_seq\":1,\"kind\":\"urge\","
	 "\"dispatched_at\":\"2025-11-03T09:05:00+08:00\",\"reason\":\"MARKREASON-L\"}",
	 404, "not_found"},
	{"an unknown field",
	 "{\"order_no\":\"NL-5\",\"dispatch_seq\":1,\"kind\":\"urge\",\"caller\":\"13500005555\","
	 "\"dispatched_at\":\"2025-11-03T09:05:00+08:00\",\"reason\":\"r\"}",
	 400, "unknown_field"},
};

/* One line refused by mailroom-admin itself, one by the router. */
static const char *const import_lines[] = {
	"{\"ref\":\"MARKREF-N\",\"channel\":\"mailbox\",\"received_at\":\"2025-06-03T08:40:00+08:00\","
	"\"subject\":\"MARKSUBJ-N\",\"body\":\"b\",\"contact\":{\"name\":\"周标记庚\",\"phone\":\"1880000666\"}}",
	"{\"ref\":\"NL-IMPORT-2\",\"channel\":\"disclosure\",\"received_at\":\"2025-03-03T10:00:00+08:00\","
	"\"applicant\":{\"kind\":\"natural_person\",\"name\":\"吴标记辛\",\"id_type\":\"passport\","
	"\"id_number\":\"E12345678\",\"phone\":\"13300007777\"},\"description\":\"MARKDESC-O\","
	"\"form\":\"electronic\",\"delivery\":\"email\",\"submission_mode\":\"online\","
	"\"events\":[{\"type\":\"correction_received\",\"at\":\"2025-03-05T10:00:00+08:00\"}]}",
};

static void expect_clean_log(const struct mr_proc *p)
{
	char *log = mr_read_text(p->log, NULL);

	cr_assert_not_null(log, "no %s log", p->what);
	expect_no_marker(log, p->log);
	free(log);
}

Test(nolog, refused_values_reach_no_log_and_no_answer, .init = it_init, .fini = it_fini,
     .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers,
	                          .nhandlers = 1,
	                          .extra_ini = "[handler.ops]\nimport = yes\n",
	                          .log_level = "debug"};
	struct mr_http r;

	IT_UP(&o);
	for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
		cr_assert_eq(mr_post_message(NULL, &env, messages[i].body, &r), 0);
		expect_refusal(&r, 400, messages[i].code, messages[i].what);
	}
	for (size_t i = 0; i < sizeof(applications) / sizeof(applications[0]); i++) {
		cr_assert_eq(mr_post_disclosure(NULL, &env, applications[i].body, &r), 0);
		expect_refusal(&r, 400, applications[i].code, applications[i].what);
	}
	mr_wait_past_gateway_start(&env);
	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		struct mr_hl_sign s = {0};
		cr_assert_eq(mr_post_order(NULL, &env, orders[i].body, &s, &r), 0);
		expect_refusal(&r, orders[i].status, orders[i].code, orders[i].what);
	}

	char path[MR_PATH + 16], *out = NULL, *err = NULL;
	snprintf(path, sizeof(path), "%s/bad.jsonl", env.dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	for (size_t i = 0; i < sizeof(import_lines) / sizeof(import_lines[0]); i++)
		fprintf(f, "%s\n", import_lines[i]);
	cr_assert_eq(fclose(f), 0);
	int rc = mr_admin_cmd(&env, env.handlers[0].key_path, &out, &err, "import", "--file", path,
	                      NULL);
	cr_expect_eq(rc, 10, "both lines refused: exit %d\n%s\n%s", rc, out ? out : "",
	             err ? err : "");
	cr_expect(err && strstr(err, "LINE 1:") && strstr(err, "LINE 2:"), "%s", err ? err : "");
	free(out);
	free(err);

	/* Something was logged about them, so the search is not vacuous. */
	char *glog = mr_read_text(env.gateway.log, NULL);
	cr_assert(glog && strstr(glog, "hotline: refused order"), "the gateway logged no refusal");
	free(glog);
	/* Stopped first, so what they log on the way out counts too. */
	mr_proc_stop(&env, &env.gateway, SIGTERM);
	mr_proc_stop(&env, &env.router, SIGTERM);
	expect_clean_log(&env.router);
	expect_clean_log(&env.gateway);
	IT_DOWN();
}
