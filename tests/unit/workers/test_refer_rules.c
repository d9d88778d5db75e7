/* The auditor's rules for referral (REFERRED) and for repeats on the
 * plain channels: legal histories verify; a reply on a referred-away
 * case, a referral by someone else than the lease holder, to a case of
 * the same channel or to no case, and a repeat naming another channel's
 * message are each refused with a message that names them. */
#include "helpers.h"
#include "tlog.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

TestSuite(refer_rules, .init = tdir_setup, .fini = tdir_teardown, .timeout = 120);

#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x
#define CH(x) MAILROOM__CHANNEL__CHANNEL_##x

static struct run r;
static struct tl_store s;

#define RUN(...)                                                         \
	do {                                                                 \
		const char *const av_[] = {"mailroom-audit", __VA_ARGS__, NULL}; \
		run_prog(&r, AUDIT_BIN, av_);                                    \
	} while (0)

static void verify_expect(int code, const char *what)
{
	tl_commit(&s);
	tl_close_env(&s);
	RUN("verify", "--store", s.dir, "--calendars", TL_CALENDARS);
	cr_assert_eq(r.exit, code, "%s%s", r.out, r.err);
	if (what)
		cr_assert(strstr(r.out, what), "wanted '%s': %s", what, r.out);
}

/* REFERRED on m by actor, naming n (NULL: no case). */
static void refer(struct tl_msg *m, const struct tl_msg *n, const char *actor)
{
	Mailroom__AuditRecord rec;
	uint8_t h[32];

	randombytes_buf(h, sizeof(h));
	tl_rec(&s, m, &rec, EV(REFERRED), actor);
	if (n) {
		rec.related_id.data = (uint8_t *)n->id;
		rec.related_id.len = sizeof(n->id);
	}
	rec.content_hash.data = h;
	rec.content_hash.len = sizeof(h);
	rec.detail = "属于投诉事项";
	tl_append(&s, &rec);
	m->holder[0] = '\0';
	m->reply.stopped = 1;
}

/* A mailbox letter m, leased by alice, and the complaint n a referral
 * opens for it. */
static void two_cases(struct tl_msg *m, struct tl_msg *n, int n_channel)
{
	tl_create(&s, NULL);
	tl_begin(&s);
	tl_receive(&s, m, "general", 1, 15);
	tl_lease(&s, m, "alice");
	tl_receive_on(&s, n, n_channel, "general", 1, 15);
}

Test(refer_rules, a_referral_verifies)
{
	struct tl_msg m, n;

	two_cases(&m, &n, CH(COMPLAINT));
	refer(&m, &n, m.holder);
	/* the new case goes its own way */
	tl_lease(&s, &n, "bob");
	tl_reply(&s, &n);
	verify_expect(0, NULL);
}

Test(refer_rules, a_reply_on_a_referred_away_case_is_refused)
{
	struct tl_msg m, n;
	char holder[64];

	two_cases(&m, &n, CH(COMPLAINT));
	snprintf(holder, sizeof(holder), "%s", m.holder);
	refer(&m, &n, m.holder);
	snprintf(m.holder, sizeof(m.holder), "%s", holder);
	tl_reply(&s, &m);
	verify_expect(21, "REPLIED after the message was closed");
}

Test(refer_rules, only_the_lease_holder_refers)
{
	struct tl_msg m, n;

	two_cases(&m, &n, CH(COMPLAINT));
	refer(&m, &n, "handler:mallory");
	verify_expect(21, "REFERRED by handler:mallory, who does not hold the lease");
}

Test(refer_rules, a_referral_names_a_case_of_another_channel)
{
	struct tl_msg m, n;

	two_cases(&m, &n, CH(MAILBOX));
	refer(&m, &n, m.holder);
	verify_expect(21, "a case of its own channel");
}

Test(refer_rules, a_referral_names_a_received_case)
{
	struct tl_msg m, n;

	two_cases(&m, &n, CH(COMPLAINT));
	refer(&m, NULL, m.holder);
	verify_expect(21, "REFERRED names no other case");
}

Test(refer_rules, one_case_is_opened_by_one_referral)
{
	struct tl_msg m, o, n;

	two_cases(&m, &n, CH(COMPLAINT));
	tl_receive(&s, &o, "general", 1, 15);
	tl_lease(&s, &o, "carol");
	refer(&m, &n, m.holder);
	refer(&o, &n, o.holder);
	verify_expect(21, "which another referral names");
}

/* REPEAT_FLAGGED on the later message, naming the earlier. */
static void flag(const struct tl_msg *later, const struct tl_msg *earlier)
{
	Mailroom__AuditRecord rec;

	tl_rec(&s, later, &rec, EV(REPEAT_FLAGGED), "router");
	rec.related_id.data = (uint8_t *)earlier->id;
	rec.related_id.len = sizeof(earlier->id);
	rec.similarity_permille = 812;
	rec.detail = "probable repeat, resemblance 812/1000";
	tl_append(&s, &rec);
}

static void repeat_decide(const struct tl_msg *m, const char *actor, const char *what)
{
	Mailroom__AuditRecord rec;

	tl_rec(&s, m, &rec, EV(REPEAT_DECIDED), actor);
	rec.detail = (char *)what;
	tl_append(&s, &rec);
}

Test(refer_rules, a_plain_repeat_verifies_and_is_decided_once)
{
	struct tl_msg a, b;

	tl_create(&s, NULL);
	tl_begin(&s);
	tl_receive_on(&s, &a, CH(COMPLAINT), "general", 1, 15);
	tl_receive_on(&s, &b, CH(COMPLAINT), "general", 1, 15);
	flag(&b, &a);
	tl_lease(&s, &b, "alice");
	tl_reply(&s, &b);
	repeat_decide(&b, "handler:alice", "dismissed");
	verify_expect(0, NULL);
}

Test(refer_rules, a_plain_repeat_names_its_own_channel)
{
	struct tl_msg a, b;

	tl_create(&s, NULL);
	tl_begin(&s);
	tl_receive_on(&s, &a, CH(CONSULTATION), "general", 1, 5);
	tl_receive_on(&s, &b, CH(COMPLAINT), "general", 1, 15);
	flag(&b, &a);
	verify_expect(21, "not an earlier message of its channel");
}

Test(refer_rules, a_plain_repeat_is_decided_by_a_handler_once)
{
	struct tl_msg a, b;

	tl_create(&s, NULL);
	tl_begin(&s);
	tl_receive(&s, &a, "general", 1, 15);
	tl_receive(&s, &b, "general", 1, 15);
	flag(&b, &a);
	repeat_decide(&b, "handler:alice", "confirmed");
	repeat_decide(&b, "handler:alice", "dismissed");
	verify_expect(21, "REPEAT_DECIDED a second time");
}
