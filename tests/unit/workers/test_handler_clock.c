/* mailroom-handler's deadline-clock commands: extend, pause, resume and
 * restart, checked for their arguments and against the stand-in router. */
#include "helpers.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"
#include "wk.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

TestSuite(handler_clock, .init = tdir_setup, .fini = tdir_teardown, .timeout = 60);

static struct run r;
static struct fake_cfg cfg;
static char idt[PB_ID_TEXT_LEN + 1];

#define RUN(...) RUN_HANDLER(&r, __VA_ARGS__)

#define out_json() run_json(&r)

#define expect_error(exit, code) run_expect_error(&r, (exit), (code))

static void setup(void)
{
	uint8_t pk[32];

	memset(&cfg, 0, sizeof(cfg));
	pb_id_new(1764000000000, cfg.id);
	pb_id_to_text(cfg.id, idt);
	memset(cfg.token, 0xa5, sizeof(cfg.token));
	cr_assert_eq(wk_key_create(tpath("alice.key"), pk), PB_OK);
}

/* Runs one clock command against a fresh stand-in and returns what it saw. */
static void expect_view(struct fake_seen *s, int action)
{
	json_t *j;

	cr_assert_eq(r.exit, 0, "%s %s", r.out, r.err);
	j = out_json();
	cr_assert_str_eq(jstr(j, "id", NULL), idt);
	cr_assert_str_eq(jstr(j, "reply_due_at", NULL), "2025-12-24T23:59:59+08:00", "%s", r.out);
	json_decref(j);
	fake_seen(s);
	cr_assert_eq(s->op, MAILROOM__REQUEST__OP_CLOCK);
	cr_assert(s->auth_ok, "signed like every other request");
	cr_assert_arr_eq(s->id, cfg.id, 16);
	cr_assert_eq(s->action, action);
}

Test(handler_clock, extend_sends_days_approver_and_reason)
{
	struct fake_seen s;

	setup();
	const char *url = fake_start(&cfg);
	RUN("--router", url, "--key", "alice.key", "extend", idt, "--working-days", "20",
	    "--approver", "王主任", "--reason", "需征求第三方意见");
	expect_view(&s, MAILROOM__CLOCK_ACTION__CLOCK_EXTEND);
	cr_assert_eq(s.working_days, 20);
	cr_assert_str_eq(s.approver, "王主任");
	cr_assert_str_eq(s.reason, "需征求第三方意见");
	cr_assert_eq(access(tpath("alice.key.leases"), F_OK), -1, "no lease involved");
}

Test(handler_clock, pause_and_resume)
{
	struct fake_seen s;

	setup();
	const char *url = fake_start(&cfg);
	RUN("--router", url, "--key", "alice.key", "pause", idt, "--reason", "征求第三方意见");
	expect_view(&s, MAILROOM__CLOCK_ACTION__CLOCK_PAUSE);
	cr_assert_str_eq(s.reason, "征求第三方意见");
	cr_assert_eq(s.working_days, 0);
	cr_assert_str_eq(s.approver, "");

	RUN("--router", url, "--key", "alice.key", "--reason", "意见已收到", "resume", idt);
	expect_view(&s, MAILROOM__CLOCK_ACTION__CLOCK_RESUME);
	cr_assert_str_eq(s.reason, "意见已收到");
	cr_assert_eq(s.nreq, 2);
}

Test(handler_clock, restart_with_and_without_received_at)
{
	struct fake_seen s;
	int64_t want;

	setup();
	const char *url = fake_start(&cfg);
	RUN("--router", url, "--key", "alice.key", "restart", idt, "--reason", "补正材料已收到",
	    "--received-at", "2025-03-03T09:30:00+08:00");
	expect_view(&s, MAILROOM__CLOCK_ACTION__CLOCK_RESTART);
	cr_assert_eq(pb_time_parse("2025-03-03T01:30:00Z", &want), PB_OK);
	cr_assert_eq(s.received_ms, want);
	cr_assert_str_eq(s.reason, "补正材料已收到");

	RUN("--router", url, "--key", "alice.key", "restart", idt, "--reason", "补正");
	expect_view(&s, MAILROOM__CLOCK_ACTION__CLOCK_RESTART);
	cr_assert_eq(s.received_ms, 0, "0 asks the router for now");
}

Test(handler_clock, refusals_map_to_exits)
{
	static const struct {
		int code;
		const char *error;
		int exit;
	} cases[] = {
		{PB_ELIMIT, "extension_cap", 8},
		{PB_EINVAL, "invalid_field", 8},
		{PB_ESTATE, "not_paused", 7},
		{PB_ESTATE, "already_paused", 7},
		{PB_ESTATE, "already_answered", 7},
		{PB_EFORBIDDEN, "queue_forbidden", 5},
		{PB_EIO, "io", 9},
	};

	setup();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg.code = cases[i].code;
		cfg.error = cases[i].error;
		const char *url = fake_start(&cfg);
		RUN("--router", url, "--key", "alice.key", "extend", idt, "--working-days", "30",
		    "--approver", "王主任", "--reason", "复杂");
		expect_error(cases[i].exit, cases[i].error);
		cr_assert(strstr(r.out, "refused by the test"), "router's text shown: %s", r.out);
		fake_stop();
	}
}

Test(handler_clock, unknown_message_exit_4)
{
	uint8_t other[16];
	char ot[PB_ID_TEXT_LEN + 1];

	setup();
	const char *url = fake_start(&cfg);
	pb_id_new(1764000000001, other);
	pb_id_to_text(other, ot);
	RUN("--router", url, "--key", "alice.key", "pause", ot, "--reason", "x");
	expect_error(4, "not_found");
}

/* Checked before anything is sent: no router is listening here. */
Test(handler_clock, argument_errors)
{
	setup();
	RUN("--key", "alice.key", "extend", idt, "--working-days", "5", "--reason", "x");
	expect_error(1, "usage");                          /* no --approver */
	RUN("--key", "alice.key", "extend", idt, "--approver", "a", "--reason", "x");
	expect_error(1, "usage");                          /* no --working-days */
	RUN("--key", "alice.key", "extend", idt, "--working-days", "5", "--approver", "a");
	expect_error(1, "usage");                          /* no --reason */
	RUN("--key", "alice.key", "pause", idt);
	expect_error(1, "usage");
	RUN("--key", "alice.key", "resume", "--reason", "x");
	expect_error(1, "usage");                          /* no id */
	RUN("--key", "alice.key", "pause", idt, "--reason", "x", "--working-days", "5");
	expect_error(1, "usage");                          /* does not apply */
	RUN("--key", "alice.key", "pause", idt, "--reason", "x", "--received-at",
	    "2025-03-03T09:30:00+08:00");
	expect_error(1, "usage");
	RUN("--key", "alice.key", "resume", idt, "--reason", "x", "--lease", "00");
	expect_error(1, "usage");                          /* no lease for clocks */

	static const char *bad_days[] = {"0", "367", "-1", "+5", "5x", "", "1000"};
	for (size_t i = 0; i < sizeof(bad_days) / sizeof(bad_days[0]); i++) {
		RUN("--key", "alice.key", "extend", idt, "--working-days", bad_days[i], "--approver",
		    "a", "--reason", "x");
		expect_error(8, "invalid_days");
	}
	RUN("--key", "alice.key", "extend", idt, "--working-days", "366", "--approver", "",
	    "--reason", "x");
	expect_error(8, "invalid_approver");
	RUN("--key", "alice.key", "pause", idt, "--reason", "");
	expect_error(8, "invalid_reason");
	RUN("--key", "alice.key", "pause", "not-an-id", "--reason", "x");
	expect_error(8, "invalid_id");
	RUN("--key", "alice.key", "restart", idt, "--reason", "x", "--received-at", "2025-03-03");
	expect_error(8, "invalid_time");
	RUN("--key", "alice.key", "restart", idt, "--reason", "x", "--received-at",
	    "1970-01-01T00:00:00Z");
	expect_error(8, "invalid_time");

	/* Valid arguments get as far as the (absent) router. */
	RUN("--key", "alice.key", "--router", "ipc://nobody.ipc", "extend", idt, "--working-days",
	    "366", "--approver", "a", "--reason", "x");
	expect_error(2, "unavailable");
}
