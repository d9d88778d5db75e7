/* The auditor's rules for disclosure applications: legal histories
 * (live and imported) verify; each illegal step is refused with a
 * message that names it, and wrong clock inputs are deadline failures. */
#include "disc.h"
#include "helpers.h"
#include "pb_id.h"
#include "pb_time.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

TestSuite(disc_rules, .init = tdir_setup, .fini = tdir_teardown, .timeout = 120);

#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x
#define DAY PB_DAY_MS

static struct run r;
static struct tl_store s;

#define RUN(...)                                                         \
	do {                                                                 \
		const char *const av_[] = {"mailroom-audit", __VA_ARGS__, NULL}; \
		run_prog(&r, AUDIT_BIN, av_);                                    \
	} while (0)
#define CAL "--calendars", TL_CALENDARS

/* A store with one application a received now (online unless mode). */
static void one_app(struct dc_app *a, const char *mode)
{
	tl_create(&s, NULL);
	tl_begin(&s);
	dc_receive(&s, a, "natural_person", mode ? mode : "online", 0);
}

static void expect(int code, const char *line, const char *what)
{
	tl_commit(&s);
	tl_close_env(&s);
	RUN("verify", "--store", s.dir, CAL);
	cr_assert_eq(r.exit, code, "%s%s", r.out, r.err);
	cr_assert(strncmp(r.out, line, strlen(line)) == 0, "wanted '%s': %s", line, r.out);
	cr_assert(strstr(r.out, what), "wanted '%s': %s", what, r.out);
}

#define expect_state(what) expect(21, "FAIL state: record ", what)
#define expect_deadline(what) expect(22, "FAIL deadline: record ", what)

Test(disc_rules, legal_histories_verify)
{
	struct dc_app a, b, c, d, e;

	tl_create(&s, NULL);
	tl_begin(&s);
	/* Online, decided at once and delivered, then reviewed. */
	dc_receive(&s, &a, "natural_person", "online", 0);
	s.now += 3 * DAY;
	dc_decide(&s, &a, "disclosed", NULL);
	dc_deliver(&s, &a);
	int64_t filed = s.now;
	dc_review(&s, &a, "review", "复议〔2025〕7号", filed, "pending", 0);
	s.now += 20 * DAY;
	dc_review(&s, &a, "review", "复议〔2025〕7号", filed, "upheld", s.now);
	dc_review(&s, &a, "litigation_direct", "（2025）京0101行初12号", s.now, "pending", 0);
	/* By post: confirmed, corrected, two third parties, extended, a fee. */
	dc_receive(&s, &b, "commercial_enterprise", "ordinary_mail", 0);
	s.now += DAY;
	dc_confirm(&s, &b, s.now - 2 * DAY);
	dc_correction_request(&s, &b, 15);
	s.now += 4 * DAY;
	dc_correction_received(&s, &b, s.now - 3600 * 1000);
	dc_consult(&s, &b);
	s.now += DAY;
	dc_consult(&s, &b);
	s.now += 6 * DAY;
	dc_consult_done(&s, &b);
	s.now += 2 * DAY;
	dc_consult_done(&s, &b);
	dc_extend(&s, &b, 20);
	dc_fee(&s, &b, 20);
	s.now += 3 * DAY;
	dc_fee_paid(&s, &b);
	dc_decide(&s, &b, "unavailable.unclear_after_correction", "《条例》第三十条");
	/* A repeat, flagged and confirmed after its decision. */
	dc_receive(&s, &c, "natural_person", "online", 0);
	dc_flag(&s, &c, &a);
	dc_decide(&s, &c, "not_processed.repeated", "《条例》第三十六条第（六）项");
	dc_repeat_decide(&s, &c, "confirmed");
	/* Imported: the correction never came. */
	s.now = pb_day_start_ms(pb_days_from_civil(2025, 3, 3)) + 10 * 3600 * 1000;
	dc_receive(&s, &d, "legal_service_org", "in_person", 1);
	s.now += DAY;
	dc_correction_request(&s, &d, 15);
	s.now += 40 * DAY;
	dc_decide(&s, &d, "other.no_correction", "《条例》第三十条");
	/* Imported: the fee never paid. */
	dc_receive(&s, &e, "other_org", "fax", 1);
	dc_confirm(&s, &e, s.now);
	dc_fee(&s, &e, 10);
	s.now += 30 * DAY;
	dc_decide(&s, &e, "other.fee_unpaid", "《条例》第四十二条");
	tl_commit(&s);
	tl_close_env(&s);
	RUN("verify", "--store", s.dir, CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(!strstr(r.out, "another calendar"), "%s", r.out);
}

Test(disc_rules, disclosure_event_on_a_mailbox_message)
{
	struct tl_msg m;
	struct dc_app a;
	Mailroom__AuditRecord rec;

	tl_create(&s, NULL);
	tl_begin(&s);
	tl_receive(&s, &m, "general", 1, 15);
	memset(&a, 0, sizeof(a));
	a.m = m;
	tl_rec(&s, &a.m, &rec, EV(DELIVERED), "handler:li");
	tl_append(&s, &rec);
	expect_state("DELIVERED on a message that is not a disclosure application");
}

Test(disc_rules, replied_on_a_disclosure_application)
{
	struct dc_app a;
	Mailroom__AuditRecord rec;

	one_app(&a, NULL);
	tl_lease(&s, &a.m, "li");
	dc_rec(&s, &a, &rec, EV(REPLIED), a.m.holder);
	tl_append(&s, &rec);
	expect_state("REPLIED on a disclosure application: its answer is DECIDED");
}

Test(disc_rules, generic_clock_pause_on_a_disclosure_application)
{
	struct dc_app a;

	one_app(&a, NULL);
	tl_pause(&s, &a.m);
	expect_state("CLOCK_PAUSED on a disclosure application");
}

Test(disc_rules, second_correction_request)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_correction_request(&s, &a, 15);
	dc_correction_received(&s, &a, s.now);
	dc_correction_request(&s, &a, 15);
	expect_state("a second CORRECTION_REQUESTED: Art. 30 allows one");
}

Test(disc_rules, correction_request_after_seven_working_days)
{
	struct dc_app a;

	one_app(&a, NULL);
	s.now = dc_wd_after(&s, s.now, 8);
	dc_correction_request(&s, &a, 15);
	expect_state("CORRECTION_REQUESTED more than 7 working days after receipt (Art. 30)");
}

Test(disc_rules, correction_received_when_none_asked)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_correction_received(&s, &a, s.now);
	expect_state("CORRECTION_RECEIVED while no correction is awaited");
}

Test(disc_rules, consultation_while_awaiting_a_correction)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_correction_request(&s, &a, 15);
	dc_consult(&s, &a);
	expect_state("CONSULTATION_STARTED while the application awaits a correction");
}

Test(disc_rules, consultation_ended_when_none_open)
{
	struct dc_app a;

	one_app(&a, NULL);
	a.m.reply.pause_depth = 1;
	a.consults = 1;
	dc_consult_done(&s, &a);
	expect_state("CONSULTATION_ENDED with no consultation open");
}

Test(disc_rules, nested_consultations_with_a_wrong_depth)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_consult(&s, &a);
	a.m.reply.pause_depth = 0;   /* the second one claims depth 1 */
	dc_consult(&s, &a);
	expect_state("leaves the clock at pause depth 1; its open pauses give 2");
}

Test(disc_rules, correction_request_while_consulting)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_consult(&s, &a);
	dc_correction_request(&s, &a, 15);
	expect_state("CORRECTION_REQUESTED while a consultation is open");
}

Test(disc_rules, fee_notice_while_consulting)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_consult(&s, &a);
	dc_fee(&s, &a, 20);
	expect_state("FEE_NOTICE while a consultation is open");
}

Test(disc_rules, second_extension)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_extend(&s, &a, 10);
	dc_extend(&s, &a, 5);
	expect_state("a second CLOCK_EXTENDED: Art. 33 allows one extension");
}

Test(disc_rules, extension_past_twenty_working_days)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_extend(&s, &a, 25);
	expect_state("CLOCK_EXTENDED by 25 working days: Art. 33 allows 1 to 20");
}

Test(disc_rules, extension_while_a_consultation_pauses)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_consult(&s, &a);
	dc_extend(&s, &a, 5);
	expect_state("CLOCK_EXTENDED while a consultation pauses the clock");
}

Test(disc_rules, decided_without_the_lease)
{
	struct dc_app a;

	one_app(&a, NULL);
	snprintf(a.m.holder, sizeof(a.m.holder), "handler:li");
	dc_decide(&s, &a, "disclosed", NULL);
	expect_state("DECIDED while the message is not leased");
}

Test(disc_rules, decided_by_someone_else)
{
	struct dc_app a;

	one_app(&a, NULL);
	tl_lease(&s, &a.m, "li");
	snprintf(a.m.holder, sizeof(a.m.holder), "handler:wang");
	dc_decide(&s, &a, "disclosed", NULL);
	expect_state("DECIDED by handler:wang, who does not hold the lease");
}

Test(disc_rules, decided_with_an_unknown_outcome)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_decide(&s, &a, "withheld.too_busy", "无");
	expect_state("DECIDED with outcome 'withheld.too_busy', not one of the 21 statutory codes");
}

Test(disc_rules, refusal_without_a_legal_basis)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_decide(&s, &a, "withheld.state_secret", "");
	expect_state("DECIDED withheld.state_secret without a legal basis");
}

Test(disc_rules, no_correction_when_none_was_asked)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_decide(&s, &a, "other.no_correction", "《条例》第三十条");
	expect_state("DECIDED other.no_correction while no correction is awaited");
}

Test(disc_rules, no_correction_before_its_deadline)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_correction_request(&s, &a, 15);
	s.now += 2 * DAY;
	dc_decide(&s, &a, "other.no_correction", "《条例》第三十条");
	expect_state("before the correction's deadline");
}

Test(disc_rules, fee_unpaid_before_its_deadline)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_fee(&s, &a, 20);
	s.now += DAY;
	dc_decide(&s, &a, "other.fee_unpaid", "《条例》第四十二条");
	expect_state("before the fee's deadline");
}

Test(disc_rules, unclear_after_correction_without_one)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_decide(&s, &a, "unavailable.unclear_after_correction", "《条例》第三十条");
	expect_state("DECIDED unavailable.unclear_after_correction, but no correction arrived");
}

Test(disc_rules, decided_while_a_correction_is_awaited)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_correction_request(&s, &a, 15);
	dc_decide(&s, &a, "disclosed", NULL);
	expect_state("DECIDED disclosed while a correction is awaited");
}

Test(disc_rules, decided_before_a_posted_receipt_was_confirmed)
{
	struct dc_app a;

	one_app(&a, "registered_mail");
	dc_decide(&s, &a, "disclosed", NULL);
	expect_state("DECIDED before the receipt was confirmed (Art. 31)");
}

Test(disc_rules, decided_while_consulting)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_consult(&s, &a);
	dc_decide(&s, &a, "disclosed", NULL);
	expect_state("DECIDED while 1 consultation(s) are open");
}

Test(disc_rules, step_after_the_decision)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_decide(&s, &a, "disclosed", NULL);
	dc_consult(&s, &a);
	expect_state("CONSULTATION_STARTED after the application was DECIDED at record 4");
}

Test(disc_rules, delivered_before_the_decision)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_deliver(&s, &a);
	expect_state("DELIVERED before the application was DECIDED");
}

Test(disc_rules, receipt_confirmed_twice)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_confirm(&s, &a, s.now);
	expect_state("RECEIPT_CONFIRMED on an application whose receipt is fixed");
}

Test(disc_rules, repeat_flagged_by_a_handler)
{
	struct dc_app a, b;
	Mailroom__AuditRecord rec;

	one_app(&a, NULL);
	dc_receive(&s, &b, "natural_person", "online", 0);
	dc_rec(&s, &b, &rec, EV(REPEAT_FLAGGED), "handler:li");
	rec.related_id.data = a.m.id;
	rec.related_id.len = 16;
	tl_append(&s, &rec);
	expect_state("REPEAT_FLAGGED by someone other than the router");
}

Test(disc_rules, repeat_flagged_naming_no_application)
{
	struct dc_app a, ghost;

	one_app(&a, NULL);
	memset(&ghost, 0, sizeof(ghost));
	ghost.m.id[0] = 1;
	dc_flag(&s, &a, &ghost);
	expect_state("not an earlier disclosure application");
}

Test(disc_rules, repeat_decided_without_a_flag)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_repeat_decide(&s, &a, "dismissed");
	expect_state("REPEAT_DECIDED on an application never flagged as a repeat");
}

Test(disc_rules, review_of_an_unknown_kind)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_decide(&s, &a, "disclosed", NULL);
	dc_review(&s, &a, "appeal", "X1", s.now, "pending", 0);
	expect_state("REVIEW_RECORDED of kind 'appeal'");
}

Test(disc_rules, review_decided_twice)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_decide(&s, &a, "disclosed", NULL);
	int64_t filed = s.now;
	dc_review(&s, &a, "review", "X1", filed, "upheld", filed + DAY);
	dc_review(&s, &a, "review", "X1", filed, "corrected", filed + DAY);
	expect_state("REVIEW_RECORDED updates case X1, already decided");
}

Test(disc_rules, review_pending_with_a_decision_date)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_decide(&s, &a, "disclosed", NULL);
	dc_review(&s, &a, "review", "X1", s.now, "pending", s.now);
	expect_state("case X1 is pending but has a decision date");
}

Test(disc_rules, imported_record_by_a_handler)
{
	struct dc_app a;
	Mailroom__AuditRecord rec;

	tl_create(&s, NULL);
	tl_begin(&s);
	dc_receive(&s, &a, "natural_person", "online", 1);
	dc_rec(&s, &a, &rec, EV(DELIVERED), "handler:li");
	rec.actor = "handler:li";
	tl_append(&s, &rec);
	expect_state("an imported record whose actor is not operator:<name>");
}

Test(disc_rules, operator_record_not_marked_imported)
{
	struct dc_app a;
	Mailroom__AuditRecord rec;

	one_app(&a, NULL);
	dc_rec(&s, &a, &rec, EV(DELIVERED), "operator:migrate");
	tl_append(&s, &rec);
	expect_state("written by operator:migrate but not marked imported");
}

/* ---- clock inputs (deadline class) ---- */

Test(disc_rules, correction_restart_from_another_instant)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_correction_request(&s, &a, 15);
	s.now += 3 * DAY;
	a.m.reply.pause_depth = 0;
	a.m.reply.started_ms = s.now - DAY;   /* the record says it arrived now */
	a.m.reply.paused_days = 0;
	a.m.reply.paused_since_ms = 0;
	tl_compute(&s, &a.m.reply);
	{
		Mailroom__AuditRecord rec;
		dc_rec(&s, &a, &rec, EV(CORRECTION_RECEIVED), "handler:li");
		rec.clock = &a.m.reply;
		rec.receipt_ms = s.now;
		tl_append(&s, &rec);
	}
	expect_deadline("the clock restarted");
}

Test(disc_rules, consultation_pause_with_wrong_paused_days)
{
	struct dc_app a;

	one_app(&a, NULL);
	dc_consult(&s, &a);
	s.now += 7 * DAY;
	a.m.reply.paused_days -= 1;   /* dc_consult_done adds the real count */
	dc_consult_done(&s, &a);
	expect_deadline("working days; the clock says");
}

Test(disc_rules, pause_that_moves_the_due_instant)
{
	struct dc_app a;

	one_app(&a, NULL);
	a.m.reply.extended_days = 3;   /* a pause may not add days */
	tl_compute(&s, &a.m.reply);
	dc_consult(&s, &a);
	expect_deadline("extended days changed");
}

/* Real calendar dates: a correction asked on Monday 2025-09-29 and
 * received on Thursday 2025-10-09 (after the National Day week) restarts
 * the 20 working days from 10-09; a consultation from 2025-04-30 to
 * 2025-05-07 (Labour Day holiday inside) adds only the working days. */
Test(disc_rules, correction_restart_and_consultation_pause_on_real_dates)
{
	struct dc_app a, b;

	tl_create(&s, NULL);
	tl_begin(&s);
	s.now = pb_day_start_ms(pb_days_from_civil(2025, 9, 26)) + 10 * 3600 * 1000;
	dc_receive(&s, &a, "natural_person", "online", 0);
	s.now = pb_day_start_ms(pb_days_from_civil(2025, 9, 29)) + 10 * 3600 * 1000;
	dc_correction_request(&s, &a, 15);
	s.now = pb_day_start_ms(pb_days_from_civil(2025, 10, 9)) + 10 * 3600 * 1000;
	dc_correction_received(&s, &a, s.now);
	cr_assert_eq(pb_day_of_ms(a.m.reply.due_ms),
	             cal_add_working_days(s.cal, pb_days_from_civil(2025, 10, 9), 20, NULL));
	s.now = pb_day_start_ms(pb_days_from_civil(2025, 4, 22)) + 10 * 3600 * 1000;
	dc_receive(&s, &b, "natural_person", "online", 0);
	int64_t due0 = b.m.reply.due_ms;
	s.now = pb_day_start_ms(pb_days_from_civil(2025, 4, 30)) + 10 * 3600 * 1000;
	dc_consult(&s, &b);
	s.now = pb_day_start_ms(pb_days_from_civil(2025, 5, 7)) + 10 * 3600 * 1000;
	dc_consult_done(&s, &b);
	/* 05-01..05-05 are holidays: 05-06 and 05-07 are the paused days. */
	cr_assert_eq(b.m.reply.paused_days, 2);
	cr_assert_eq(pb_day_of_ms(b.m.reply.due_ms),
	             cal_add_working_days(s.cal, pb_day_of_ms(due0), 2, NULL));
	tl_commit(&s);
	tl_close_env(&s);
	RUN("verify", "--store", s.dir, CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
}

/* An imported application's trail says when each step happened, not only
 * when the import signed it. */
Test(disc_rules, trail_of_an_imported_application)
{
	struct dc_app a;
	char idt[PB_ID_TEXT_LEN + 1];
	json_t *j, *rec;

	tl_create(&s, NULL);
	tl_begin(&s);
	s.now = pb_day_start_ms(pb_days_from_civil(2025, 3, 3)) + 10 * 3600 * 1000LL;
	dc_receive(&s, &a, "natural_person", "online", 1);
	s.now = pb_day_start_ms(pb_days_from_civil(2025, 3, 10)) + 15 * 3600 * 1000LL;
	dc_decide(&s, &a, "disclosed", NULL);
	tl_commit(&s);
	tl_close(&s);   /* a second store follows */
	pb_id_to_text(a.m.id, idt);
	RUN("trail", idt, "--store", s.dir);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, " RECEIVED effective=2025-03-03T10:00:00.000+08:00 imported "
	                        "actor=operator:migrate"),
	          "%s", r.out);
	cr_assert(strstr(r.out, " DECIDED effective=2025-03-10T15:00:00.000+08:00 imported "),
	          "%s", r.out);
	cr_assert(strstr(r.out, "2026-06-01T10:00:00.000+08:00 DECIDED"), "signed at the import: %s",
	          r.out);
	RUN("trail", idt, "--store", s.dir, "--json");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	j = run_json(&r);
	rec = json_array_get(json_object_get(j, "records"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(rec, "effective")),
	                 "2025-03-03T10:00:00.000+08:00");
	cr_assert(json_is_true(json_object_get(rec, "imported")));
	json_decref(j);

	/* A live application shows neither. */
	one_app(&a, NULL);
	tl_commit(&s);
	tl_close_env(&s);
	pb_id_to_text(a.m.id, idt);
	RUN("trail", idt, "--store", s.dir, "--json");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	j = run_json(&r);
	rec = json_array_get(json_object_get(j, "records"), 0);
	cr_assert(json_is_null(json_object_get(rec, "effective")));
	cr_assert(json_is_false(json_object_get(rec, "imported")));
	json_decref(j);
	RUN("trail", idt, "--store", s.dir);
	cr_assert_null(strstr(r.out, "effective="), "%s", r.out);
	cr_assert_null(strstr(r.out, "imported"), "%s", r.out);
}
