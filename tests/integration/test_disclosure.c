/* A disclosure application through the real processes: POST, the
 * citizen's lookup, pull, and every step with mailroom-handler. */
#include "it.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const struct mr_handler_spec handlers[] = {
	{"liu", "disclosure, general"},
};

static const char application[] =
	"{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"张三\",\"id_type\":\"resident_id\","
	"\"id_number\":\"11010519491231002X\",\"phone\":\"13800000000\",\"email\":\"a@example.cn\","
	"\"address\":\"北京市西城区某街1号\"},"
	"\"description\":\"申请公开本机关2024年度道路维修经费预算及执行情况，包括各项目的合同金额和验收报告。\","
	"\"form\":\"electronic\",\"delivery\":\"email\",\"submission_mode\":\"registered_mail\","
	"\"purpose\":\"了解道路维修情况\"}";

static char id[32], code[16], key[64];

static void today(char *buf, size_t n)
{
	time_t t = time(NULL) + 8 * 3600;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d", &tm);
}

/* One step: exit 0 and the printed view, which the caller frees. */
static json_t *step(const char *what, ...)
{
	char *argv[24], *out = NULL;
	const char *a;
	int n = 0, rc;
	va_list ap;

	va_start(ap, what);
	while ((a = va_arg(ap, const char *)) != NULL && n < 20)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	/* mr_handler_cmd takes varargs only: spell out up to 12 arguments. */
	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "disclosure", what, id,
	                    n > 0 ? argv[0] : NULL, n > 1 ? argv[1] : NULL, n > 2 ? argv[2] : NULL,
	                    n > 3 ? argv[3] : NULL, n > 4 ? argv[4] : NULL, n > 5 ? argv[5] : NULL,
	                    n > 6 ? argv[6] : NULL, n > 7 ? argv[7] : NULL, n > 8 ? argv[8] : NULL,
	                    n > 9 ? argv[9] : NULL, NULL);
	if (rc != 0) {
		cr_expect_eq(rc, 0, "disclosure %s: exit %d: %s", what, rc, out ? out : "");
		free(out);
		cr_assert_fail("disclosure %s refused", what);
	}
	json_t *j = it_json_text(out);
	free(out);
	return j;
}

/* A refused step: its exit code, and the router's code printed. */
static int refused(const char *what, const char *a1, const char *a2, const char *a3,
                   const char *a4, const char *a5, const char *a6)
{
	char *out = NULL;
	int rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "disclosure", what, id, a1, a2,
	                        a3, a4, a5, a6, NULL);
	json_t *j = it_json_text(out);

	cr_expect(it_str(j, "error.code") != NULL, "%s: no error printed: %s", what, out);
	json_decref(j);
	free(out);
	return rc;
}

static const char *phase(json_t *j)
{
	const char *p = it_str(j, "disclosure.phase");

	return p ? p : "(none)";
}

static json_t *status(void)
{
	struct mr_http r;

	cr_assert_eq(mr_get_status(NULL, &env, code, key, &r), 0);
	cr_assert_eq(r.status, 200, "GET status: HTTP %ld: %s", r.status, r.body);
	json_t *j = it_json(&r);
	/* Never the applicant, at any stage. */
	cr_expect_null(strstr(r.body, "张三"), "%s", r.body);
	cr_expect_null(strstr(r.body, "11010519491231002X"), "%s", r.body);
	cr_expect_null(strstr(r.body, "13800000000"), "%s", r.body);
	cr_expect_null(strstr(r.body, "a@example.cn"), "%s", r.body);
	cr_expect_null(it_get(j, "disclosure.applicant"));
	mr_http_free(&r);
	return j;
}

Test(disclosure, application_life_cycle, .init = it_init, .fini = it_fini, .timeout = 200)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	struct mr_http r;
	char date[16], *out = NULL;
	json_t *j;

	today(date, sizeof(date));
	IT_UP(&o);

	/* Intake: 201 after the commit, the receipt date, not yet confirmed
	 * (registered mail waits for the handler). */
	cr_assert_eq(mr_post_disclosure(NULL, &env, application, &r), 0);
	cr_assert_eq(r.status, 201, "POST: HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	cr_assert(mr_is_track(it_str(j, "tracking_code")), "%s", r.body);
	snprintf(code, sizeof(code), "%s", it_str(j, "tracking_code"));
	snprintf(key, sizeof(key), "%s", it_str(j, "access_key"));
	snprintf(id, sizeof(id), "%s", it_str(j, "id"));
	cr_expect_str_eq(it_str(j, "channel"), "disclosure");
	cr_expect(strstr(r.location, code) != NULL, "Location %s", r.location);
	cr_expect_str_eq(phase(j), "open");
	cr_expect_str_eq(it_str(j, "disclosure.legal_receipt_date"), date);
	cr_expect(json_is_false(it_get(j, "disclosure.receipt_confirmed")), "%s", r.body);
	cr_expect_eq(json_object_size(it_get(j, "disclosure")), 3);
	cr_expect(json_is_integer(it_get(j, "receipt.log_index")), "%s", r.body);
	cr_expect_null(strstr(r.body, "11010519491231002X"));
	cr_expect(it_str(j, "reply_due_at") != NULL, "the reply clock runs: %s", r.body);
	json_decref(j);
	mr_http_free(&r);

	j = status();
	cr_expect_str_eq(phase(j), "open");
	cr_expect(json_is_array(it_get(j, "disclosure.reviews")));
	json_decref(j);

	/* The handler sees who applied. */
	cr_assert_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue",
	                            "disclosure", "--wait", "5", NULL),
	             0, "pull: %s", out);
	j = it_json_text(out);
	free(out);
	cr_expect_str_eq(it_str(j, "message.id"), id);
	cr_expect_str_eq(it_str(j, "message.disclosure.applicant.name"), "张三");
	cr_expect_str_eq(it_str(j, "message.disclosure.applicant.id_number"), "11010519491231002X");
	cr_expect_str_eq(it_str(j, "message.disclosure.applicant.kind"), "natural_person");
	cr_expect_str_eq(it_str(j, "message.disclosure.submission_mode"), "registered_mail");
	cr_expect(json_is_null(it_get(j, "message.disclosure.repeat")), "a first application");
	json_decref(j);

	/* Art. 31: the receipt confirmed. */
	j = step("confirm-receipt", "--date", date, "--evidence", "挂号信签收单 XA123", NULL);
	cr_expect(json_is_true(it_get(j, "disclosure.receipt_confirmed")));
	cr_expect_str_eq(it_str(j, "disclosure.legal_receipt_date"), date);
	json_decref(j);
	/* Art. 30: a correction, and it arrives. */
	j = step("request-correction", "--text", "请写明所需文件的年度", NULL);
	cr_expect_str_eq(phase(j), "awaiting_correction");
	cr_expect(it_str(j, "disclosure.correction_due_at") != NULL, "the applicant's deadline");
	json_decref(j);
	cr_expect_eq(refused("request-correction", "--text", "再次补正", NULL, NULL, NULL, NULL), 7,
	             "a correction is asked once");
	j = status();
	cr_expect_str_eq(phase(j), "awaiting_correction");
	cr_expect(it_str(j, "disclosure.correction_due_at") != NULL);
	cr_expect_str_eq(it_str(j, "disclosure.notice") ? it_str(j, "disclosure.notice") : "",
	                 "请写明所需文件的年度", "the citizen sees what to correct");
	json_decref(j);
	j = step("correction-received", NULL);
	cr_expect_str_eq(phase(j), "open");
	json_decref(j);
	/* Art. 32: a third party, twice at once. */
	j = step("consult", "--party", "某建设有限公司", NULL);
	cr_expect_eq(json_integer_value(it_get(j, "disclosure.consultations")), 1);
	json_decref(j);
	j = step("consult", "--party", "某设计院", NULL);
	cr_expect_eq(json_integer_value(it_get(j, "disclosure.consultations")), 2);
	json_decref(j);
	cr_expect_eq(refused("decide", "--outcome", "disclosed", "--text", "予以公开", NULL, NULL), 7,
	             "no decision while a consultation is open");
	j = step("consult-done", NULL);
	json_decref(j);
	j = step("consult-done", NULL);
	cr_expect_eq(json_integer_value(it_get(j, "disclosure.consultations")), 0);
	char before[40];
	snprintf(before, sizeof(before), "%s", it_str(j, "reply_due_at") ? it_str(j, "reply_due_at") : "");
	json_decref(j);
	cr_expect_neq(refused("consult-done", NULL, NULL, NULL, NULL, NULL, NULL), 0,
	              "nothing left to end");
	/* Art. 33: one extension. */
	j = step("extend", "--days", "10", "--approver", "王主任", "--reason", "需调取档案", NULL);
	const char *due = it_str(j, "reply_due_at");
	cr_expect(due && strcmp(due, before) > 0, "the extension moves the deadline: %s -> %s",
	          before, due ? due : "null");
	json_decref(j);
	int rc = refused("extend", "--days", "5", "--approver", "王主任", "--reason", "再延");
	cr_expect(rc == 7 || rc == 8, "a second extension is refused (exit %d)", rc);
	cr_expect_eq(refused("decide", "--outcome", "other.no_correction", "--text", "视为撤回",
	                     "--legal-basis", "条例第三十条"),
	             7, "no_correction only when a correction is overdue");
	cr_expect_eq(refused("deliver", "--evidence", "邮件", NULL, NULL, NULL, NULL), 7,
	             "nothing to deliver before the decision");

	/* The decision, on the lease from pull. */
	j = step("decide", "--outcome", "partly_disclosed", "--text", "部分公开，见附件。",
	         "--legal-basis", "《政府信息公开条例》第三十七条", NULL);
	cr_expect_str_eq(phase(j), "decided");
	cr_expect_str_eq(it_str(j, "status"), "replied");
	cr_expect_str_eq(it_str(j, "disclosure.outcome"), "partly_disclosed");
	json_decref(j);
	j = step("deliver", "--evidence", "电子邮件发送", NULL);
	cr_expect_str_eq(phase(j), "delivered");
	json_decref(j);
	/* A review, filed then decided. */
	j = step("review", "--kind", "review", "--case-no", "复〔2026〕1号", "--filed", date,
	         "--result", "pending", NULL);
	cr_expect_eq(json_array_size(it_get(j, "disclosure.reviews")), 1);
	json_decref(j);
	j = step("review", "--kind", "review", "--case-no", "复〔2026〕1号", "--filed", date,
	         "--result", "upheld", "--decided", date, NULL);
	cr_expect_eq(json_array_size(it_get(j, "disclosure.reviews")), 1, "the same case updated");
	cr_expect_str_eq(it_str(json_array_get(it_get(j, "disclosure.reviews"), 0), "result"),
	                 "upheld");
	json_decref(j);

	/* The citizen sees the outcome, never the applicant. */
	j = status();
	cr_expect_str_eq(it_str(j, "status"), "replied");
	cr_expect_str_eq(phase(j), "delivered");
	cr_expect(json_is_true(it_get(j, "disclosure.receipt_confirmed")));
	cr_expect_str_eq(it_str(j, "disclosure.legal_receipt_date"), date);
	cr_expect_str_eq(it_str(j, "disclosure.outcome"), "partly_disclosed");
	cr_expect_str_eq(it_str(j, "disclosure.legal_basis"), "《政府信息公开条例》第三十七条");
	cr_expect(it_str(j, "disclosure.decided_at") != NULL);
	cr_expect(it_str(j, "disclosure.delivered_at") != NULL);
	json_t *rv = json_array_get(it_get(j, "disclosure.reviews"), 0);
	cr_expect_str_eq(it_str(rv, "kind"), "review");
	cr_expect_str_eq(it_str(rv, "filed"), date);
	cr_expect_str_eq(it_str(rv, "decided"), date);
	cr_expect_str_eq(it_str(j, "reply.text"), "部分公开，见附件。");
	json_decref(j);

	/* What the router wrote is what the auditor accepts: signatures,
	 * chain, checkpoints, the disclosure state machine and every deadline
	 * recomputed on the calendars (a read-only snapshot of the store). */
	int vrc = mr_audit_cmd(&env, &out, "verify", "--json", "--calendars",
	                       MR_SOURCE_DIR "/deploy/calendars", NULL);
	cr_expect_eq(vrc, 0, "mailroom-audit verify --store: exit %d: %s", vrc, out ? out : "");
	j = it_json_text(out);
	free(out);
	cr_expect(json_is_true(it_get(j, "ok")));
	cr_expect_str_eq(it_str(j, "deadlines") ? it_str(j, "deadlines") : "", "checked");
	/* The log key, then RECEIVED, ROUTED, LEASED and the twelve steps
	 * taken: the refused ones wrote nothing. */
	cr_expect_eq(json_integer_value(it_get(j, "records")), 16, "records: %lld",
	             json_integer_value(it_get(j, "records")));
	json_decref(j);
	IT_DOWN();
}

/* Refusals at the edge with the real router behind it: nothing stored. */
Test(disclosure, bad_applications, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	struct mr_http r;
	char *out = NULL;
	const char *bad_id =
		"{\"applicant\":{\"kind\":\"commercial_enterprise\",\"name\":\"某公司\",\"id_type\":\"uscc\","
		"\"id_number\":\"91350100M000100Y44\",\"phone\":\"13800000000\"},\"description\":\"请公开\","
		"\"form\":\"paper\",\"delivery\":\"post\",\"submission_mode\":\"online\"}";
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: text/plain");

	IT_UP(&o);
	cr_assert_eq(mr_post_disclosure(NULL, &env, bad_id, &r), 0);
	cr_expect_eq(r.status, 400, "%s", r.body);
	it_expect_error(&r, "invalid_field");
	mr_http_free(&r);
	cr_assert_eq(mr_http(NULL, env.base, "POST", "/v1/disclosure-applications", hd, application,
	                     strlen(application), 30000, &r),
	             0);
	curl_slist_free_all(hd);
	cr_expect_eq(r.status, 415);
	mr_http_free(&r);
	cr_expect_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue",
	                            "disclosure", NULL),
	             3, "nothing was stored: %s", out);
	free(out);
	IT_DOWN();
}
