/* pj_view_write and pj_receipt_write: the text the gateway answers with is
 * byte for byte what json_dumps(JSON_COMPACT) gives for the same view as a
 * tree, over thousands of random views: every optional part present or
 * absent, text empty, absent, escaped, non-ASCII and not UTF-8 at all,
 * times unset and out of range, enums outside their range. */
#include "pj.h"
#include "pj_int.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define T0 1764122400000LL   /* 2025-11-26T10:00:00+08:00 */

static uint64_t seed = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static char proof[1400];

/* NULL and "" as often as text, and every kind of text a view may hold. */
static char *text(void)
{
	static char *const pool[] = {
		NULL, "", "general", "路灯坏了，请尽快修理", "quote\" back\\slash /",
		"line\nnext\ttab\rend", "\x01\x1f\x7f ctl \x08\x0c", "é ß 🙂 four", "\xc3\x28 bad",
		"\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 past", "12345678901234567890abcdefgh",
		"1234-5678-9012", proof,
	};

	return pool[pick(sizeof(pool) / sizeof(pool[0]))];
}

static int64_t when(void)
{
	/* Years past 9999 and before 1 too, not the ends of int64: pb_time
	 * takes milliseconds that make a date. */
	static const int64_t odd[] = {0, 0, T0, 1, -86400000LL, 253402300800000LL,
	                              -62198755200000LL};

	return pick(3) ? odd[pick(7)] : T0 + (int64_t)(rnd() % 100000000000ULL);
}

static uint8_t bytes[64];

static ProtobufCBinaryData bin(void)
{
	static const size_t lens[] = {0, 16, 32, 5};

	return (ProtobufCBinaryData){lens[pick(4)], bytes};
}

/* Every part of a view is in one of these; a view points into them. */
struct parts {
	Mailroom__MessageView v;
	Mailroom__Contact contact, acontact;
	Mailroom__HotlineOrder order;
	Mailroom__DisclosureView disc;
	Mailroom__Applicant applicant;
	Mailroom__ReviewCase rc[3], *rcp[3];
	Mailroom__AssistState as[3], *asp[3];
	Mailroom__PetitionState pet;
	Mailroom__CallbackTask cb;
	Mailroom__Attachment at[3], *atp[3], rat[2], *ratp[2];
	char *codes[3];
	Mailroom__Receipt receipt;
};

static void attachments(Mailroom__Attachment *a, Mailroom__Attachment **p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		mailroom__attachment__init(&a[i]);
		a[i].type = text();
		a[i].size = pick(2) ? rnd() : pick(5000);
		a[i].scan = (Mailroom__ScanState)pick(5);
		a[i].sha256 = bin();
		a[i].signature = text();
		p[i] = &a[i];
	}
}

static void random_view(struct parts *x)
{
	Mailroom__MessageView *v = &x->v;

	memset(x, 0, sizeof(*x));
	mailroom__message_view__init(v);
	v->id = bin();
	v->tracking_code = text();
	v->channel = (Mailroom__Channel)pick(9);
	v->status = (Mailroom__Status)pick(7);
	v->queue = text();
	v->subject = text();
	v->body = text();
	v->category = text();
	v->received_ms = when();
	v->ack_due_ms = when();
	v->reply_due_ms = when();
	v->due_provisional = pick(2);
	v->due_recomputed_ms = when();
	v->reply_text = text();
	v->replied_ms = when();
	v->replied_by = text();
	v->imported = pick(2);
	v->published = pick(2);
	v->rating = pick(8);
	v->rated_ms = when();
	if (pick(2)) {
		v->referred_to_tracking = text();
		v->referred_to_channel = (Mailroom__Channel)pick(9);
		v->referred_from_tracking = text();
		v->referred_from_channel = (Mailroom__Channel)pick(9);
		v->referred_ms = when();
	}
	v->merged_into = text();
	v->merged_ms = when();
	v->n_merged_codes = pick(4);
	for (size_t i = 0; i < v->n_merged_codes; i++)
		x->codes[i] = text();
	v->merged_codes = x->codes;
	v->repeat_of = bin();
	v->repeat_of_tracking = text();
	v->repeat_of_received_ms = when();
	v->repeat_permille = (uint32_t)rnd();
	v->repeat_decision = text();
	if (pick(2)) {
		mailroom__contact__init(&x->contact);
		x->contact.name = text();
		x->contact.phone = text();
		x->contact.email = text();
		v->contact = &x->contact;
	}
	if (pick(3) == 0) {
		Mailroom__HotlineOrder *o = &x->order;
		mailroom__hotline_order__init(o);
		o->order_no = text();
		o->dispatch_seq = (uint32_t)rnd();
		o->kind = text();
		o->accepted_ms = when();
		o->dispatched_ms = when();
		o->source = text();
		o->category = text();
		o->category_code = text();
		o->urgency = text();
		o->confidential = pick(2);
		o->region = text();
		o->address = text();
		o->lead_unit = text();
		o->n_co_units = pick(4);
		o->co_units = x->codes;
		o->sign_due_ms = when();
		o->finish_due_ms = when();
		o->reply_required = pick(2);
		o->reason = text();
		v->order = o;
	}
	if (pick(3) == 0) {
		Mailroom__DisclosureView *d = &x->disc;
		mailroom__disclosure_view__init(d);
		d->phase = (Mailroom__DisclosurePhase)pick(7);
		d->applicant_kind = text();
		d->form = text();
		d->delivery = text();
		d->submission_mode = text();
		d->purpose = text();
		d->receipt_ms = when();
		d->receipt_confirmed = pick(2);
		d->correction_due_ms = when();
		d->consultations = (uint32_t)pick(100);
		d->fee_due_ms = when();
		d->notice = text();
		d->outcome = text();
		d->legal_basis = text();
		d->decided_ms = when();
		d->delivered_ms = when();
		d->repeat_of = bin();
		d->repeat_of_tracking = text();
		d->repeat_of_received_ms = when();
		d->repeat_of_description = text();
		d->repeat_permille = (uint32_t)pick(1001);
		d->repeat_decision = text();
		d->n_reviews = pick(4);
		for (size_t i = 0; i < d->n_reviews; i++) {
			mailroom__review_case__init(&x->rc[i]);
			x->rc[i].kind = text();
			x->rc[i].case_no = text();
			x->rc[i].filed_ms = when();
			x->rc[i].result = text();
			x->rc[i].decided_ms = when();
			x->rcp[i] = &x->rc[i];
		}
		d->reviews = x->rcp;
		if (pick(2)) {
			mailroom__applicant__init(&x->applicant);
			x->applicant.kind = text();
			x->applicant.name = text();
			x->applicant.id_type = text();
			x->applicant.id_number = text();
			x->applicant.address = text();
			if (pick(2)) {
				mailroom__contact__init(&x->acontact);
				x->acontact.phone = text();
				x->acontact.email = text();
				x->applicant.contact = &x->acontact;
			}
			d->applicant = &x->applicant;
		}
		v->disclosure = d;
	}
	v->n_assists = pick(4);
	for (size_t i = 0; i < v->n_assists; i++) {
		mailroom__assist_state__init(&x->as[i]);
		x->as[i].queue = text();
		x->as[i].requested_ms = when();
		x->as[i].working_days = (int32_t)rnd();
		x->as[i].due_ms = when();
		x->as[i].provisional = pick(2);
		x->as[i].delivered_ms = when();
		x->as[i].opinion = text();
		x->asp[i] = &x->as[i];
	}
	v->assists = x->asp;
	if (pick(4) == 0) {
		Mailroom__PetitionState *p = &x->pet;
		mailroom__petition_state__init(p);
		p->petition_no = text();
		p->forwarded_by = text();
		p->forwarded_ms = when();
		p->kind = text();
		p->stage = (Mailroom__PetitionStage)pick(11);
		p->accepted_ms = when();
		p->answered_ms = when();
		p->extensions = (uint32_t)pick(5);
		p->review_ms = when();
		v->petition = p;
	}
	if (pick(3) == 0) {
		mailroom__callback_task__init(&x->cb);
		x->cb.queue = text();
		x->cb.due_ms = when();
		x->cb.done_ms = when();
		x->cb.reached = pick(2);
		x->cb.resolved = pick(2);
		x->cb.reopen = pick(2);
		v->callback = &x->cb;
	}
	v->n_attachments = pick(4);
	attachments(x->at, x->atp, v->n_attachments);
	v->attachments = x->atp;
	v->n_reply_attachments = pick(3);
	attachments(x->rat, x->ratp, v->n_reply_attachments);
	v->reply_attachments = x->ratp;
	mailroom__receipt__init(&x->receipt);
	x->receipt.log_index = rnd();
	x->receipt.record_hash = bin();
	x->receipt.key_id = bin();
	x->receipt.proof = text();
}

/* got (pj_out_end's, freed here) against jansson's text of want (taken). */
static void same(char *got, size_t len, json_t *want)
{
	char *ref = want ? json_dumps(want, JSON_COMPACT) : NULL;

	json_decref(want);
	if (!ref) {
		cr_assert_null(got, "written though the tree has none: %s", got);
		return;
	}
	cr_assert_not_null(got, "nothing written for %s", ref);
	cr_assert_str_eq(got, ref);
	cr_assert_eq(len, strlen(ref));
	free(ref);
	free(got);
}

static void init_text(void)
{
	size_t n = 0;

	for (int i = 0; i < 12; i++)
		n += (size_t)snprintf(proof + n, sizeof(proof) - n,
		                      "c2sp.org/tlog-proof@v1 %d 路灯\n"
		                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		                      i);
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 37 + 11);
}

Test(write, views_as_json_dumps)
{
	struct parts x;

	init_text();
	for (int i = 0; i < 3000; i++) {
		random_view(&x);
		for (int who = 0; who < 2; who++) {
			struct pj_out o = {0};
			size_t len = 0;
			pj_view_write(&o, &x.v, who ? PJ_HANDLER : PJ_CITIZEN, 0);
			pj_out_raw(&o, "}", 1);
			char *got = pj_out_end(&o, &len);
			same(got, len, pj_view(&x.v, who ? PJ_HANDLER : PJ_CITIZEN));
		}
	}
}

/* The gateway's 201: the view, an application's disclosure in the short
 * form, then the answer's own members, as the tree it used to build and
 * dump (gw_routes.c, message_created). */
Test(write, answer_members_after_the_view)
{
	struct parts x;

	init_text();
	for (int i = 0; i < 2000; i++) {
		struct pj_out o = {0};
		size_t len = 0;
		json_t *want;

		random_view(&x);
		const Mailroom__Receipt *r = pick(4) ? &x.receipt : NULL;
		int application = pick(2);   /* POST /v1/disclosure-applications */
		pj_view_write(&o, &x.v, PJ_CITIZEN, application ? PJ_VIEW_INTAKE : 0);
		pj_out_key(&o, "access_key");
		pj_out_str(&o, "ak-0123456789abcdef", 19);
		pj_out_key(&o, "receipt");
		pj_receipt_write(&o, r);
		if (application && !x.v.disclosure) {
			pj_out_key(&o, "disclosure");
			pj_out_raw(&o, "null", 4);
		}
		pj_out_raw(&o, "}", 1);
		char *got = pj_out_end(&o, &len);

		/* The tree: a member set again keeps its place. */
		want = pj_view(&x.v, PJ_CITIZEN);
		if (want && (json_object_set_new(want, "access_key",
		                                  json_string("ak-0123456789abcdef")) ||
		             json_object_set_new(want, "receipt", pj_receipt(r)))) {
			json_decref(want);
			want = NULL;
		}
		if (want && application &&
		    json_object_set_new(want, "disclosure", pj_disclosure_intake(&x.v))) {
			json_decref(want);
			want = NULL;
		}
		same(got, len, want);
	}
}

Test(write, receipts)
{
	struct parts x;

	init_text();
	for (int i = 0; i < 2000; i++) {
		struct pj_out o = {0};
		size_t len = 0;
		random_view(&x);
		pj_receipt_write(&o, &x.receipt);
		char *got = pj_out_end(&o, &len);
		same(got, len, pj_receipt(&x.receipt));
	}
	/* Not UTF-8 in the proof: nothing, as jansson would not dump it. */
	x.receipt.proof = "\xc3\x28";
	struct pj_out o = {0};
	pj_receipt_write(&o, &x.receipt);
	cr_assert_null(pj_out_end(&o, NULL));
	cr_assert_null(pj_receipt(&x.receipt));
}

Test(write, scalars)
{
	static const long long ints[] = {0, 1, -1, 9, 10, -10, 4294967295LL, INT64_MAX, INT64_MIN};
	struct pj_out o = {0};
	char want[32];

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		o.len = 0;
		pj_out_int(&o, ints[i]);
		pj_out_raw(&o, "", 0);
		snprintf(want, sizeof(want), "%lld", ints[i]);
		cr_assert_eq(o.len, strlen(want));
		cr_assert(memcmp(o.p, want, o.len) == 0, "%lld", ints[i]);
	}
	o.len = 0;
	pj_out_bool(&o, 1);
	pj_out_bool(&o, 0);
	cr_assert(o.len == 9 && memcmp(o.p, "truefalse", 9) == 0);
	/* A string that is not UTF-8: pj_out_text leaves nothing and does
	 * not fail; pj_out_str fails the whole text. */
	o.len = 0;
	cr_assert_eq(pj_out_text(&o, "ok\xff", 3), -1);
	cr_assert_eq(o.len, 0);
	cr_assert_eq(o.failed, 0);
	pj_out_str(&o, "ok\xff", 3);
	cr_assert_null(pj_out_end(&o, NULL));
	cr_assert_null(o.p);
}

/* pj_utf8_chars and pj_text_clean go a word at a time where they can:
 * the same answers as a plain reading of the Unicode tables, for random
 * text of every kind, at every alignment and length. */
static long table_chars(const unsigned char *p, size_t n)
{
	long count = 0;

	for (size_t i = 0; i < n; count++) {
		unsigned c = p[i], lo = 0x80, hi = 0xbf;
		size_t k;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 2;
		else if (c >= 0xe0 && c <= 0xef)
			k = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		else
			return -1;
		if (n - i < k || p[i + 1] < lo || p[i + 1] > hi)
			return -1;
		for (size_t j = 2; j < k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return -1;
		i += k;
	}
	return count;
}

/* Valid text only: C0 but what flags allow, DEL and C1 refused. */
static int table_clean(const unsigned char *p, size_t n, int flags)
{
	for (size_t i = 0; i < n; i++) {
		unsigned c = p[i];
		if (c < 0x20 && !((flags & PJ_LINES) && (c == '\n' || c == '\r' || c == '\t')))
			return -1;
		if (c == 0x7f || (c == 0xc2 && p[i + 1] < 0xa0))
			return -1;
	}
	return 0;
}

Test(write, text_rules_word_at_a_time)
{
	static const char *const pieces[] = {
		"a", "plain text ", "\n", "\t", "\r", "\x01", "\x1f", "\x7f", "\xc2\x80", "\xc2\x9f",
		"\xc2\xa0", "\xc3\xa9", "路", "灯坏了", "\xe0\x80\x80", "\xe0\xa0\x80", "\xed\x9f\xbf",
		"\xed\xa0\x80", "\xef\xbf\xbf", "🙂", "\xf0\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf",
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\x80", "\xbf", "\xc0\xaf", "\xe8\xb7",
		"\xf0\x9f\x99", "\xff", "12345678", "\"\\",
	};
	unsigned char buf[400];

	for (int t = 0; t < 20000; t++) {
		size_t n = 0, parts = pick(24);
		size_t off = pick(8);   /* every alignment */
		for (size_t i = 0; i < parts; i++) {
			const char *s = pieces[pick(sizeof(pieces) / sizeof(pieces[0]))];
			size_t k = strlen(s);
			memcpy(buf + off + n, s, k);
			n += k;
		}
		/* Sometimes a character cut short at the end. */
		if (n && pick(4) == 0)
			n--;
		const char *s = (const char *)buf + off;
		long want = table_chars(buf + off, n);
		cr_assert_eq(pj_utf8_chars(s, n), want, "case %d", t);
		if (want < 0)
			continue;
		for (int flags = 0; flags <= PJ_LINES; flags += PJ_LINES)
			cr_assert_eq(pj_text_clean(s, n, flags), table_clean(buf + off, n, flags),
			             "case %d flags %d", t, flags);
	}
}
