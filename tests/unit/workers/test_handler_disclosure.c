/* mailroom-handler disclosure STEP ID: what each step sends, the lease for
 * decide, and the arguments refused before anything is sent. */
#include "helpers.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"
#include "wk.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

TestSuite(handler_disclosure, .init = tdir_setup, .fini = tdir_teardown, .timeout = 60);

static struct run r;
static struct fake_cfg cfg;
static char idt[PB_ID_TEXT_LEN + 1];
static struct fake_seen s;

#define RUN(...) RUN_HANDLER(&r, __VA_ARGS__)
#define expect_error(exit, code) run_expect_error(&r, (exit), (code))
#define A(x) MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_##x

static void setup(void)
{
	uint8_t pk[32];

	memset(&cfg, 0, sizeof(cfg));
	pb_id_new(1764000000000, cfg.id);
	pb_id_to_text(cfg.id, idt);
	memset(cfg.token, 0xa5, sizeof(cfg.token));
	cr_assert_eq(wk_key_create(tpath("alice.key"), pk), PB_OK);
}

/* The step went out as action, and the view came back. */
static void expect_step(int action, const char *phase)
{
	json_t *j;

	cr_assert_eq(r.exit, 0, "%s %s", r.out, r.err);
	j = run_json(&r);
	cr_expect_str_eq(jstr(j, "id", NULL), idt);
	cr_expect_str_eq(jstr(j, "channel", NULL), "disclosure");
	cr_expect_str_eq(jstr(j, "disclosure", "phase"), phase, "%s", r.out);
	json_decref(j);
	fake_seen(&s);
	cr_assert_eq(s.op, MAILROOM__REQUEST__OP_DISCLOSURE);
	cr_assert(s.auth_ok, "signed like every other request");
	cr_assert_arr_eq(s.id, cfg.id, 16);
	cr_assert_eq(s.disc_action, action);
}

static int64_t day_start(const char *date)
{
	int32_t day;

	cr_assert_eq(pb_date_parse(date, &day), PB_OK);
	return pb_day_start_ms(day);
}

static void today(char *buf, size_t n)
{
	cr_assert_gt(pb_date_fmt(pb_day_of_ms(pb_now_ms()), buf, n), 0);
}

Test(handler_disclosure, steps_without_lease)
{
	char now[16];

	setup();
	today(now, sizeof(now));
	const char *url = fake_start(&cfg);
	RUN("--router", url, "--key", "alice.key", "disclosure", "confirm-receipt", idt, "--date",
	    "2025-03-03", "--evidence", "挂号信回执 XA123");
	expect_step(A(CONFIRM_RECEIPT), "open");
	cr_expect_eq(s.at_ms, day_start("2025-03-03"), "00:00 +08:00 of that day");
	cr_expect_str_eq(s.evidence, "挂号信回执 XA123");
	cr_expect_eq(s.token_len, 0, "no lease for this step");

	RUN("--router", url, "--key", "alice.key", "disclosure", "confirm-receipt", idt, "--date",
	    now, "--evidence", "传真确认");
	expect_step(A(CONFIRM_RECEIPT), "open");
	cr_expect_eq(s.at_ms, 0, "today is now, for the router");

	RUN("--router", url, "--key", "alice.key", "disclosure", "request-correction", idt,
	    "--text", "请写明文件名称");
	expect_step(A(REQUEST_CORRECTION), "open");
	cr_expect_str_eq(s.text, "请写明文件名称");

	RUN("--router", url, "--key", "alice.key", "disclosure", "correction-received", idt);
	expect_step(A(CORRECTION_RECEIVED), "open");
	cr_expect_eq(s.at_ms, 0);
	RUN("--router", url, "--key", "alice.key", "disclosure", "correction-received", idt,
	    "--date", "2025-03-10");
	expect_step(A(CORRECTION_RECEIVED), "open");
	cr_expect_eq(s.at_ms, day_start("2025-03-10"));

	RUN("--router", url, "--key", "alice.key", "disclosure", "consult", idt, "--party",
	    "某建设公司");
	expect_step(A(CONSULT), "open");
	cr_expect_str_eq(s.text, "某建设公司");
	RUN("--router", url, "--key", "alice.key", "disclosure", "consult-done", idt);
	expect_step(A(CONSULT_DONE), "open");

	RUN("--router", url, "--key", "alice.key", "disclosure", "extend", idt, "--days", "20",
	    "--approver", "王主任", "--reason", "需调取档案");
	expect_step(A(EXTEND), "open");
	cr_expect_eq(s.days, 20);
	cr_expect_str_eq(s.approver, "王主任");
	cr_expect_str_eq(s.text, "需调取档案");

	RUN("--router", url, "--key", "alice.key", "disclosure", "fee-notice", idt, "--text",
	    "复制费 100 元");
	expect_step(A(FEE_NOTICE), "open");
	cr_expect_str_eq(s.text, "复制费 100 元");
	RUN("--router", url, "--key", "alice.key", "disclosure", "fee-paid", idt);
	expect_step(A(FEE_PAID), "open");

	RUN("--router", url, "--key", "alice.key", "disclosure", "deliver", idt, "--evidence",
	    "EMS 1234567890");
	expect_step(A(DELIVER), "open");
	cr_expect_str_eq(s.evidence, "EMS 1234567890");

	RUN("--router", url, "--key", "alice.key", "disclosure", "review", idt, "--kind",
	    "litigation_direct", "--case-no", "（2025）京0102行初12号", "--filed", "2025-06-01",
	    "--result", "corrected", "--decided", "2025-09-30");
	expect_step(A(REVIEW), "open");
	cr_expect(s.has_review);
	cr_expect_str_eq(s.review_kind, "litigation_direct");
	cr_expect_str_eq(s.case_no, "（2025）京0102行初12号");
	cr_expect_str_eq(s.review_result, "corrected");
	cr_expect_eq(s.filed_ms, day_start("2025-06-01"));
	cr_expect_eq(s.decided_ms, day_start("2025-09-30"));
	RUN("--router", url, "--key", "alice.key", "disclosure", "review", idt, "--kind", "review",
	    "--case-no", "复2025-3", "--filed", "2025-06-01", "--result", "pending");
	expect_step(A(REVIEW), "open");
	cr_expect_eq(s.decided_ms, 0);

	RUN("--router", url, "--key", "alice.key", "disclosure", "repeat", idt, "--confirm");
	expect_step(A(REPEAT_DECISION), "open");
	cr_expect_str_eq(s.text, "confirmed");
	RUN("--router", url, "--key", "alice.key", "disclosure", "repeat", idt, "--dismiss");
	expect_step(A(REPEAT_DECISION), "open");
	cr_expect_str_eq(s.text, "dismissed");
	cr_expect_eq(access(tpath("alice.key.leases"), F_OK), -1, "no lease involved");
}

Test(handler_disclosure, decide_uses_and_ends_the_lease)
{
	struct wk_state st;
	char hex[33];
	uint8_t bad[16] = {1};

	setup();
	const char *url = fake_start(&cfg);
	RUN("--router", url, "--key", "alice.key", "disclosure", "decide", idt, "--outcome",
	    "disclosed", "--text", "予以公开，见附件。");
	expect_error(6, "no_lease");
	fake_seen(&s);
	cr_expect_eq(s.nreq, 0, "nothing sent without a lease");

	cr_assert_eq(wk_state_init(&st, tpath("alice.key"), NULL), PB_OK);
	cr_assert_eq(wk_lease_save(&st, cfg.id, cfg.token, 16), PB_OK);
	pb_hex(bad, 16, hex);
	RUN("--router", url, "--key", "alice.key", "disclosure", "decide", idt, "--outcome",
	    "disclosed", "--text", "予以公开", "--lease", hex);
	expect_error(6, "lease_invalid");
	uint8_t tok[64];
	size_t len;
	cr_expect_eq(wk_lease_load(&st, cfg.id, tok, sizeof(tok), &len), PB_OK,
	             "a wrong --lease leaves the kept token");

	RUN("--router", url, "--key", "alice.key", "disclosure", "decide", idt, "--outcome",
	    "withheld.third_party_rights", "--text", "涉及第三方商业秘密，不予公开。",
	    "--legal-basis", "《政府信息公开条例》第十五条");
	expect_step(A(DECIDE), "decided");
	cr_expect_eq(s.token_len, 16);
	cr_expect_arr_eq(s.token, cfg.token, 16);
	cr_expect_str_eq(s.outcome, "withheld.third_party_rights");
	cr_expect_str_eq(s.legal_basis, "《政府信息公开条例》第十五条");
	cr_expect_str_eq(s.text, "涉及第三方商业秘密，不予公开。");
	cr_expect_eq(wk_lease_load(&st, cfg.id, tok, sizeof(tok), &len), PB_ENOTFOUND,
	             "the decision ended the lease: the kept token is gone");
}

Test(handler_disclosure, refusals_map_to_exits)
{
	static const struct {
		int code;
		const char *error;
		int exit;
	} cases[] = {
		{PB_ESTATE, "consultation_open", 7},
		{PB_ELIMIT, "extension_cap", 8},
		{PB_EFORBIDDEN, "forbidden", 5},
	};

	setup();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg.code = cases[i].code;
		cfg.error = cases[i].error;
		const char *url = fake_start(&cfg);
		RUN("--router", url, "--key", "alice.key", "disclosure", "extend", idt, "--days", "5",
		    "--approver", "王主任", "--reason", "复杂");
		expect_error(cases[i].exit, cases[i].error);
		fake_stop();
	}
}

/* Checked before anything is sent: no router listens here. */
Test(handler_disclosure, argument_errors)
{
	char future[16];

	setup();
	pb_date_fmt(pb_day_of_ms(pb_now_ms()) + 2, future, sizeof(future));
	RUN("--key", "alice.key", "disclosure", "approve", idt);
	expect_error(1, "usage");
	cr_expect(strstr(r.err, "confirm-receipt") != NULL, "the steps are listed: %s", r.err);
	RUN("--key", "alice.key", "disclosure", idt);
	expect_error(1, "usage");                       /* no step */
	RUN("--key", "alice.key", "disclosure", "consult", idt);
	expect_error(1, "usage");                       /* no --party */
	RUN("--key", "alice.key", "disclosure", "confirm-receipt", idt, "--date", "2025-03-03");
	expect_error(1, "usage");                       /* no --evidence */
	RUN("--key", "alice.key", "disclosure", "consult-done", idt, "--text", "x");
	expect_error(1, "usage");                       /* does not apply */
	RUN("--key", "alice.key", "disclosure", "fee-paid", idt, "--lease", "00");
	expect_error(1, "usage");                       /* only decide takes the lease */
	RUN("--key", "alice.key", "disclosure", "extend", idt, "--working-days", "5",
	    "--approver", "a", "--reason", "r");
	expect_error(1, "usage");                       /* --days here */
	RUN("--key", "alice.key", "disclosure", "repeat", idt);
	expect_error(1, "usage");
	RUN("--key", "alice.key", "disclosure", "repeat", idt, "--confirm", "--dismiss");
	expect_error(1, "usage");
	RUN("--key", "alice.key", "extend", idt, "--days", "5", "--approver", "a", "--reason", "r");
	expect_error(1, "usage");                       /* the clock command takes --working-days */

	RUN("--key", "alice.key", "disclosure", "confirm-receipt", idt, "--date", "2025-3-3",
	    "--evidence", "x");
	expect_error(8, "invalid_date");
	RUN("--key", "alice.key", "disclosure", "confirm-receipt", idt, "--date", future,
	    "--evidence", "x");
	expect_error(8, "invalid_date");
	RUN("--key", "alice.key", "disclosure", "confirm-receipt", idt, "--date", "2025-03-03",
	    "--evidence", "");
	expect_error(8, "invalid_field");
	RUN("--key", "alice.key", "disclosure", "extend", idt, "--days", "0", "--approver", "a",
	    "--reason", "r");
	expect_error(8, "invalid_days");
	RUN("--key", "alice.key", "disclosure", "decide", idt, "--outcome", "refused", "--text",
	    "x");
	expect_error(8, "invalid_outcome");
	RUN("--key", "alice.key", "disclosure", "decide", idt, "--outcome", "other.fee_unpaid",
	    "--text", "x");
	expect_error(8, "legal_basis_required");
	RUN("--key", "alice.key", "disclosure", "review", idt, "--kind", "appeal", "--case-no",
	    "1", "--filed", "2025-06-01", "--result", "pending");
	expect_error(8, "invalid_kind");
	RUN("--key", "alice.key", "disclosure", "review", idt, "--kind", "review", "--case-no",
	    "1", "--filed", "2025-06-01", "--result", "won");
	expect_error(8, "invalid_result");
	RUN("--key", "alice.key", "disclosure", "review", idt, "--kind", "review", "--case-no",
	    "1", "--filed", "2025-06-01", "--result", "upheld");
	expect_error(8, "invalid_date");                /* a result needs its date */
	RUN("--key", "alice.key", "disclosure", "review", idt, "--kind", "review", "--case-no",
	    "1", "--filed", "2025-06-01", "--result", "pending", "--decided", "2025-07-01");
	expect_error(8, "invalid_date");
	RUN("--key", "alice.key", "disclosure", "review", idt, "--kind", "review", "--case-no",
	    "1", "--filed", "2025-06-01", "--result", "upheld", "--decided", "2025-05-01");
	expect_error(8, "invalid_date");
	RUN("--key", "alice.key", "disclosure", "fee-paid", "not-an-id");
	expect_error(8, "invalid_id");

	RUN("--key", "alice.key", "--router", "ipc://nobody.ipc", "disclosure", "fee-paid", idt);
	expect_error(2, "unavailable");
}
