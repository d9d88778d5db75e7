/* verify --store and trail against stored messages edited behind the
 * log's back: the fields the integration tests (it_tamper) do not reach
 * with the real router in a few steps: deadlines, answered and closed
 * marks, and a disclosure application's notice. */
#include "disc.h"
#include "helpers.h"
#include "pb_id.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

TestSuite(store_check, .init = tdir_setup, .fini = tdir_teardown, .timeout = 120);

static struct run r;
static struct tl_store s;
static struct tl_msg answered, waiting;
static struct dc_app asked, decided;

#define RUN(...)                                                         \
	do {                                                                 \
		const char *const av_[] = {"mailroom-audit", __VA_ARGS__, NULL}; \
		run_prog(&r, AUDIT_BIN, av_);                                    \
	} while (0)
#define CAL "--calendars", TL_CALENDARS

/* Four messages: one answered, one waiting (with an acknowledgement
 * clock), an application waiting for its correction (a notice) and one
 * decided after a correction (its notice emptied). */
static void build(void)
{
	tl_create(&s, NULL);
	tl_begin(&s);
	tl_receive(&s, &answered, "general", 0, 15);
	tl_lease(&s, &answered, "alice");
	tl_reply(&s, &answered);
	tl_receive(&s, &waiting, "roads", 1, 15);
	dc_receive(&s, &asked, "natural_person", "online", 0);
	dc_correction_request(&s, &asked, 15);
	dc_receive(&s, &decided, "natural_person", "online", 0);
	dc_correction_request(&s, &decided, 15);
	dc_correction_received(&s, &decided, s.now);
	dc_decide(&s, &decided, "disclosed", NULL);
	tl_commit(&s);
	tl_close_env(&s);
}

static void expect_store(const uint8_t id[16], const char *field, const char *text)
{
	char idt[PB_ID_TEXT_LEN + 1];

	pb_id_to_text(id, idt);
	RUN("verify", "--store", s.dir, CAL);
	cr_assert_eq(r.exit, 30, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "FAIL store: message ") && strstr(r.out, idt) && strstr(r.out, text),
	          "wanted %s and '%s': %s", idt, text, r.out);
	RUN("verify", "--store", s.dir, CAL, "--json");
	cr_assert_eq(r.exit, 30, "%s%s", r.out, r.err);
	json_t *j = run_json(&r);
	cr_assert_str_eq(json_string_value(json_object_get(j, "field")), field, "%s", r.out);
	cr_assert_str_eq(json_string_value(json_object_get(j, "id")), idt);
	json_decref(j);
	/* trail shows the records, then fails the same way. */
	RUN("trail", idt, "--store", s.dir);
	cr_assert_eq(r.exit, 30, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "RECEIVED") && strstr(r.out, text), "%s", r.out);
}

Test(store_check, matching_store_passes)
{
	char idt[PB_ID_TEXT_LEN + 1];

	build();
	RUN("verify", "--store", s.dir, CAL);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "store: 4 messages match the log"), "%s", r.out);
	RUN("verify", "--store", s.dir, CAL, "--json");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	json_t *v = run_json(&r);
	cr_assert_eq(json_integer_value(json_object_get(v, "messages")), 4, "%s", r.out);
	json_decref(v);
	pb_id_to_text(asked.m.id, idt);
	RUN("trail", idt, "--store", s.dir, "--json");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	json_t *j = run_json(&r);
	cr_assert(json_is_true(json_object_get(json_object_get(j, "store"), "ok")), "%s", r.out);
	json_decref(j);
}

static void later_reply_due(Mailroom__StoredMessage *m)
{
	m->reply_due_ms += 86400000;
}

Test(store_check, reply_due_moved)
{
	build();
	tl_raw_edit_msg(s.dir, waiting.id, later_reply_due);
	expect_store(waiting.id, "reply_due_ms", "reply_due_ms is ");
}

static void no_ack_due(Mailroom__StoredMessage *m)
{
	m->ack_due_ms = 0;
}

Test(store_check, ack_due_dropped)
{
	build();
	tl_raw_edit_msg(s.dir, waiting.id, no_ack_due);
	expect_store(waiting.id, "ack_due_ms", "ack_due_ms is -");
}

static void not_answered(Mailroom__StoredMessage *m)
{
	m->replied_ms = 0;
}

Test(store_check, answer_time_cleared)
{
	build();
	tl_raw_edit_msg(s.dir, decided.m.id, not_answered);
	expect_store(decided.m.id, "replied_ms", "replied_ms is 0, but the log records an answer");
}

static void requeued(Mailroom__StoredMessage *m)
{
	m->status = MAILROOM__STATUS__STATUS_QUEUED;
}

Test(store_check, answered_message_requeued)
{
	build();
	tl_raw_edit_msg(s.dir, answered.id, requeued);
	expect_store(answered.id, "status", "status is queued, the log says replied");
}

static void closed(Mailroom__StoredMessage *m)
{
	m->closed_ms = 1;
}

Test(store_check, open_message_marked_closed)
{
	build();
	tl_raw_edit_msg(s.dir, waiting.id, closed);
	expect_store(waiting.id, "closed_ms", "closed_ms is set, but the log has it open");
}

static void other_notice(Mailroom__StoredMessage *m)
{
	/* A copy: m's own parts are freed as they were unpacked. */
	static Mailroom__DisclosureState d;

	d = *m->disclosure;
	d.notice = "无需补正。";
	m->disclosure = &d;
}

Test(store_check, notice_changed)
{
	build();
	tl_raw_edit_msg(s.dir, asked.m.id, other_notice);
	expect_store(asked.m.id, "disclosure.notice",
	             "disclosure.notice differs from the commitment in record");
}

Test(store_check, notice_after_the_decision)
{
	build();
	tl_raw_edit_msg(s.dir, decided.m.id, other_notice);
	expect_store(decided.m.id, "disclosure.notice", "disclosure.notice is set, but record");
}

static void answer_on_waiting(Mailroom__StoredMessage *m)
{
	m->reply_text = "已处理。";
}

Test(store_check, answer_the_log_never_saw)
{
	build();
	tl_raw_edit_msg(s.dir, waiting.id, answer_on_waiting);
	expect_store(waiting.id, "reply_text", "reply_text is set, but no record commits to one");
}
