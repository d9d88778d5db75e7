/* Referral (rt_refer.c) and plain-channel repeats (rt_repeat.c) in the
 * router: the contact normalisation, which channels may refer where, the
 * two cases a referral leaves in the store, and the window's exact edge. */
#include "fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

TestSuite(refer, .init = fx_setup, .fini = fx_teardown);

#define CH(x) MAILROOM__CHANNEL__CHANNEL_##x
#define DAY_MS (86400LL * 1000)

/* rt_contact_norm into a static buffer; NULL when refused. */
static const char *norm(const char *kind, const char *in)
{
	static char out[64];

	return rt_contact_norm(kind, in, out, sizeof(out)) ? NULL : out;
}

Test(refer, contacts_are_normalised)
{
	cr_expect_str_eq(norm("phone", "13800000000"), "13800000000");
	cr_expect_str_eq(norm("phone", "+86 138-0000-0000"), "13800000000");
	cr_expect_str_eq(norm("phone", "8613800000000"), "13800000000");
	cr_expect_str_eq(norm("phone", "0086 13800000000"), "13800000000");
	cr_expect_str_eq(norm("phone", "010-12345678"), "01012345678");
	cr_expect_null(norm("phone", "12-34"), "too short to name anyone");
	cr_expect_null(norm("phone", ""));
	cr_expect_str_eq(norm("email", " Wang.Wu@Example.CN "), "wang.wu@example.cn");
	cr_expect_null(norm("email", "no-at-sign"));
	cr_expect_null(norm("fax", "13800000000"));
	char small[6];
	cr_expect_eq(rt_contact_norm("phone", "13800000000", small, sizeof(small)), -1, "no room");
}

Test(refer, which_channels_refer_where)
{
	const int plain[] = {CH(MAILBOX), CH(CONSULTATION), CH(COMPLAINT), CH(DISCLOSURE)};

	for (size_t i = 0; i < 4; i++)
		for (size_t k = 0; k < 4; k++)
			cr_expect_eq(rt_refer_target_ok(plain[i], plain[k]), i != k, "%d -> %d", plain[i],
			             plain[k]);
	cr_expect_not(rt_refer_target_ok(CH(HOTLINE), CH(COMPLAINT)), "12345 returns to the platform");
	cr_expect_not(rt_refer_target_ok(CH(MAILBOX), CH(HOTLINE)));
	cr_expect_not(rt_refer_target_ok(CH(MAILBOX), CH(PETITION)), "no petition intake");
	cr_expect_not(rt_refer_target_ok(CH(MAILBOX), 99));
	cr_expect(rt_refer_outcome_ok("not_processed.petition_complaint"));
	cr_expect(rt_refer_outcome_ok("other.other"));
	cr_expect_not(rt_refer_outcome_ok("disclosed"));
	cr_expect_not(rt_refer_outcome_ok(NULL));
}

static Mailroom__StoredMessage *stored(const uint8_t *id)
{
	Mailroom__StoredMessage *m;
	st_txn *t;

	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_msg_get(t, id, &m), PB_OK);
	st_txn_abort(t);
	return m;
}

static int refer(const uint8_t *id, const uint8_t *token, int to, int64_t now, struct rt_result *res)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__ReferReq f = MAILROOM__REFER_REQ__INIT;
	Mailroom__LeaseRef ref = MAILROOM__LEASE_REF__INIT;

	ref.id.data = (uint8_t *)id;
	ref.id.len = PB_ID_LEN;
	ref.lease_token.data = (uint8_t *)token;
	ref.lease_token.len = 16;
	f.lease = &ref;
	f.to = to;
	f.reason = "属于监督投诉事项，已转投诉件办理。";
	req.op_case = MAILROOM__REQUEST__OP_REFER;
	req.refer = &f;
	return apply(&alice, &req, now, res);
}

Test(refer, a_referral_leaves_two_linked_cases)
{
	int64_t t0 = at("2026-03-02T10:00:00+08:00"), now = t0 + 3 * DAY_MS;
	struct posted letter, fresh;
	struct rt_result res;
	uint8_t token[16];

	post(CH(MAILBOX), "物业收费", t0, &letter);
	/* a complaint received at the referral's time: the deadline to match */
	post(CH(COMPLAINT), "物业收费投诉", now, &fresh);
	Mailroom__PullResp *p = pull(&alice, "general", now, &res, PB_OK);
	cr_assert_eq(memcmp(p->message->id.data, letter.id, PB_ID_LEN), 0);
	memcpy(token, p->lease->token.data, sizeof(token));
	rt_result_clear(&res);

	cr_assert_eq(refer(letter.id, token, CH(HOTLINE), now, &res), PB_EINVAL);
	cr_expect_str_eq(res.resp.error, "invalid_channel");
	rt_result_clear(&res);
	cr_assert_eq(refer(letter.id, token, CH(COMPLAINT), now, &res), PB_OK, "%s", res.resp.message);
	cr_assert_eq(res.resp.result_case, MAILROOM__RESPONSE__RESULT_REFER);
	char code[PB_TRACK_TEXT_LEN + 1];
	snprintf(code, sizeof(code), "%s", res.resp.refer->referred_to_tracking);
	rt_result_clear(&res);
	/* the lease went with it: a second referral is refused */
	cr_assert_neq(refer(letter.id, token, CH(CONSULTATION), now, &res), PB_OK);
	rt_result_clear(&res);

	Mailroom__StoredMessage *old = stored(letter.id), *n = stored(old->referred_to.data);
	cr_expect_eq(old->status, MAILROOM__STATUS__STATUS_REPLIED);
	cr_expect_eq(old->referred_ms, now);
	cr_expect_str_eq(old->referred_to_tracking, code);
	cr_expect_eq(n->channel, CH(COMPLAINT));
	cr_expect_str_eq(n->tracking_code, code);
	cr_expect_eq(memcmp(n->referred_from.data, letter.id, PB_ID_LEN), 0);
	cr_expect_str_eq(n->referred_from_tracking, letter.code);
	cr_expect_eq(n->access_key_hash.len, PB_AKEY_HASH_LEN);
	cr_expect_eq(memcmp(n->access_key_hash.data, letter.key_hash, PB_AKEY_HASH_LEN), 0,
	             "the citizen's key opens the new case");
	cr_expect_eq(n->received_ms, now, "received at the referral");
	cr_expect_eq(n->reply_due_ms, fresh.reply_due, "the complaint policy from the referral");
	cr_expect_eq(n->ack_due_ms, fresh.ack_due);
	cr_expect_str_eq(n->subject, old->subject);
	cr_expect_eq(n->contact_sealed.len > 0, 1, "the contact went with it");
	st_msg_free(old);
	st_msg_free(n);
}

static void submit_from(int channel, const char *phone, const char *body, int64_t now,
                        uint8_t id[PB_ID_LEN])
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SubmitReq s = MAILROOM__SUBMIT_REQ__INIT;
	Mailroom__Contact c = MAILROOM__CONTACT__INIT;
	uint8_t kh[PB_AKEY_HASH_LEN] = {1};
	struct rt_result res;

	c.phone = (char *)phone;
	s.channel = channel;
	s.subject = "停车费";
	s.body = (char *)body;
	s.contact = &c;
	s.access_key_hash.data = kh;
	s.access_key_hash.len = sizeof(kh);
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &s;
	cr_assert_eq(apply(&gw, &req, now, &res), PB_OK, "%s", res.resp.message);
	memcpy(id, res.resp.submit->message->id.data, PB_ID_LEN);
	rt_result_clear(&res);
}

#define TEXT_A "物业公司擅自提高停车费，业主多次反映无人处理。"
#define TEXT_B "物业公司擅自提高小区停车费，业主多次反映一直无人处理。"

Test(refer, repeats_look_back_to_the_window_edge)
{
	int64_t t0 = at("2026-03-02T10:00:00+08:00"), w = 30 * DAY_MS;
	uint8_t a[PB_ID_LEN], b[PB_ID_LEN], c[PB_ID_LEN], d[PB_ID_LEN], e[PB_ID_LEN];
	Mailroom__StoredMessage *m;

	conf.repeat_window_days[CH(COMPLAINT)] = 30;
	submit_from(CH(COMPLAINT), "13800000001", TEXT_A, t0, a);
	submit_from(CH(COMPLAINT), "+8613800000001", TEXT_B, t0 + w, b);   /* on the edge */
	submit_from(CH(COMPLAINT), "13800000002", TEXT_A, t0, c);
	submit_from(CH(COMPLAINT), "13800000002", TEXT_B, t0 + w + 1, d);  /* 1 ms past it */
	submit_from(CH(CONSULTATION), "13800000001", TEXT_B, t0 + 1, e);  /* another channel */

	m = stored(b);
	cr_expect_eq(m->repeat_of.len, PB_ID_LEN, "flagged on the window's edge");
	cr_expect_eq(memcmp(m->repeat_of.data, a, PB_ID_LEN), 0);
	cr_expect_geq(m->repeat_permille, 500);
	st_msg_free(m);
	m = stored(d);
	cr_expect_eq(m->repeat_of.len, 0, "past the window");
	st_msg_free(m);
	m = stored(e);
	cr_expect_eq(m->repeat_of.len, 0, "another channel");
	st_msg_free(m);
	m = stored(a);
	cr_expect_eq(m->repeat_of.len, 0, "look back only");
	st_msg_free(m);

	/* 0 days: the channel's check is off */
	conf.repeat_window_days[CH(COMPLAINT)] = 0;
	submit_from(CH(COMPLAINT), "13800000001", TEXT_A, t0 + w + 2, c);
	m = stored(c);
	cr_expect_eq(m->repeat_of.len, 0, "off");
	st_msg_free(m);
}
