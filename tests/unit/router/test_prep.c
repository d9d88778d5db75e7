/* A submit's pieces made before the writer (rt_prep.c): the writer
 * stores the prepared salt, seal and repeat flag for the request they
 * were made for, and does the work itself for any other request. */
#include "fixture.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void sub_init(struct fx_submit *x, const char *subject)
{
	fx_submit_init(x, MAILROOM__CHANNEL__CHANNEL_MAILBOX, subject, "小区门口的灯坏了三天。",
	               "13800000000");
}

/* Applies x with prep (may be NULL) as the writer would; the stored message. */
static Mailroom__StoredMessage *submit(struct fx_submit *x, struct rt_prep *prep, int64_t now)
{
	struct rt_result res;
	Mailroom__StoredMessage *m;
	st_txn *t;

	fx_prep = prep;
	cr_assert_eq(apply(&gw, &x->req, now, &res), PB_OK, "%s", res.resp.message);
	fx_prep = NULL;
	cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
	cr_assert_eq(st_msg_get(t, res.resp.submit->message->id.data, &m), PB_OK);
	st_txn_abort(t);
	rt_result_clear(&res);
	return m;
}

static void expect_contact(const Mailroom__StoredMessage *m)
{
	uint8_t *plain;
	size_t plen;

	cr_assert_eq(st_unseal(core.store, m->contact_sealed.data, m->contact_sealed.len, &plain, &plen),
	             PB_OK);
	Mailroom__Contact *c = mailroom__contact__unpack(NULL, plen, plain);
	cr_assert_not_null(c);
	cr_expect_str_eq(c->phone, "13800000000");
	mailroom__contact__free_unpacked(c, NULL);
	free(plain);
}

Test(prep, the_writer_uses_what_was_prepared_for_its_request, .init = fx_setup,
     .fini = fx_teardown)
{
	struct fx_submit a, b, c;
	struct rt_prep pa, pc;
	int64_t now = at("2025-03-03T09:00:00+08:00");

	sub_init(&a, "幸福路路灯不亮");
	rt_prepare(&core, &a.req, &pa);
	cr_assert_eq(pa.sub, &a.s);
	cr_assert_not_null(pa.text.v, "the bigram set");
	cr_assert(pa.hashed[0] && !pa.hashed[1], "the phone's hash, no e-mail");
	cr_assert(pa.have_commit && pa.have_sealed);
	Mailroom__StoredMessage *ma = submit(&a, &pa, now);
	cr_expect_eq(memcmp(ma->text_salt.data, pa.salt, ST_SALT_LEN), 0, "the prepared salt");
	cr_expect_eq(ma->contact_sealed.len, pa.sealed_len);
	cr_expect_eq(memcmp(ma->contact_sealed.data, pa.sealed, pa.sealed_len), 0, "the prepared seal");
	cr_expect_null(pa.text.v, "the set went to the cache");
	cr_expect_eq(ma->repeat_of.len, 0, "the first is no repeat");
	expect_contact(ma);

	/* The same letter again: flagged in the message as stored. */
	sub_init(&c, "幸福路路灯不亮");
	rt_prepare(&core, &c.req, &pc);
	Mailroom__StoredMessage *mc = submit(&c, &pc, now + 60000);
	cr_expect(pc.scanned, "scanned before the message was created");
	cr_assert_eq(mc->repeat_of.len, PB_ID_LEN);
	cr_expect_eq(memcmp(mc->repeat_of.data, ma->id.data, PB_ID_LEN), 0);
	cr_expect_eq(mc->repeat_permille, 1000);
	expect_contact(mc);
	rt_prep_free(&pc);

	/* Pieces made for another request are not used: b gets its own. */
	sub_init(&b, "幸福路路灯不亮");
	rt_prep_free(&pa);
	rt_prepare(&core, &a.req, &pa);
	Mailroom__StoredMessage *mb = submit(&b, &pa, now + 120000);
	cr_expect_neq(memcmp(mb->text_salt.data, pa.salt, ST_SALT_LEN), 0, "b's own salt");
	cr_expect_neq(memcmp(mb->contact_sealed.data, pa.sealed,
	                     pa.sealed_len < mb->contact_sealed.len ? pa.sealed_len
	                                                             : mb->contact_sealed.len),
	              0, "b's own seal");
	cr_expect(!pa.scanned && pa.text.v, "a's pieces untouched");
	cr_assert_eq(mb->repeat_of.len, PB_ID_LEN, "still found a repeat, the long way");
	cr_expect_eq(memcmp(mb->repeat_of.data, mc->id.data, PB_ID_LEN), 0, "the newest first");
	expect_contact(mb);
	rt_prep_free(&pa);
	st_msg_free(ma);
	st_msg_free(mb);
	st_msg_free(mc);
}
