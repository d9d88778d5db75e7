/* The router's search (rt_search.c) against a real store: only the
 * handler's queues, a reply found once committed, and the rebuilt index
 * answering as the followed one did. */
#include "fixture.h"
#include "rt_search.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* How many messages who finds, and which of p[0..n) they are, as "0,2"
 * (newest first). */
static const char *found(const struct rt_principal *who, const char *words, int status,
                         const struct posted *p, int np)
{
	static char out[64];
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SearchReq s = MAILROOM__SEARCH_REQ__INIT;
	struct rt_result res;

	s.words = (char *)words;
	s.status = status;
	req.op_case = MAILROOM__REQUEST__OP_SEARCH;
	req.search = &s;
	cr_assert_eq(read_op(who, &req, &res), PB_OK, "%s", res.resp.message);
	cr_assert_eq(res.resp.result_case, MAILROOM__RESPONSE__RESULT_SEARCH);
	out[0] = 0;
	for (size_t i = 0; i < res.resp.search->n_items; i++) {
		int which = -1;
		for (int k = 0; k < np; k++)
			if (memcmp(res.resp.search->items[i]->id.data, p[k].id, PB_ID_LEN) == 0)
				which = k;
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%d", i ? "," : "", which);
	}
	rt_result_clear(&res);
	return out;
}

static void rebuild(const struct rt_principal *who, int expect, uint64_t messages)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SearchRebuildReq r = MAILROOM__SEARCH_REBUILD_REQ__INIT;
	struct rt_result res;

	req.op_case = MAILROOM__REQUEST__OP_SEARCH_REBUILD;
	req.search_rebuild = &r;
	cr_assert_eq(read_op(who, &req, &res), expect, "%s", res.resp.message);
	if (expect == PB_OK)
		cr_expect_eq(res.resp.search_rebuild->messages, messages);
	rt_result_clear(&res);
}

Test(search, follows_the_log_and_rebuilds_alike, .init = fx_setup, .fini = fx_teardown)
{
	int64_t now = pb_now_ms();
	struct posted p[3];
	struct rt_result res;
	uint8_t token[16];

	/* one before the index starts, two after */
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "小区路灯不亮", now, &p[0]);   /* roads */
	cr_assert_eq(rt_search_start(&core), PB_OK);
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "楼道噪音", now + 1, &p[1]);   /* general */
	post(MAILROOM__CHANNEL__CHANNEL_CONSULTATION, "停车收费", now + 2, &p[2]);
	cr_assert_str_eq(p[0].queue, "roads");

	/* bob has roads only; alice general and roads */
	cr_expect_str_eq(found(&bob, "小区", 0, p, 3), "0");
	cr_expect_str_eq(found(&alice, "小区", 0, p, 3), "2,1,0");
	cr_expect_str_eq(found(&alice, "噪音", 0, p, 3), "1");
	cr_expect_str_eq(found(&bob, "噪音", 0, p, 3), "");

	Mailroom__PullResp *pr = pull(&bob, "roads", now + 3, &res, PB_OK);
	cr_assert_not_null(pr->message);
	memcpy(token, pr->lease->token.data, 16);
	rt_result_clear(&res);
	cr_assert_eq(lease_op(&bob, MAILROOM__REQUEST__OP_REPLY, p[0].id, token, "已更换东门灯泡。",
	                      now + 4, &res),
	             PB_OK, "%s", res.resp.message);
	rt_result_clear(&res);
	/* the reply, committed a moment ago, is found */
	cr_expect_str_eq(found(&bob, "灯泡", 0, p, 3), "0");
	cr_expect_str_eq(found(&bob, "", MAILROOM__STATUS__STATUS_REPLIED, p, 3), "0");
	cr_expect_str_eq(found(&alice, "", MAILROOM__STATUS__STATUS_QUEUED, p, 3), "2,1");

	/* only admin = yes rebuilds; then every answer is the same */
	rebuild(&alice, PB_EFORBIDDEN, 0);
	conf.handlers[0].may_admin = 1;
	rebuild(&alice, PB_OK, 3);
	cr_expect_str_eq(found(&bob, "小区", 0, p, 3), "0");
	cr_expect_str_eq(found(&alice, "小区", 0, p, 3), "2,1,0");
	cr_expect_str_eq(found(&bob, "灯泡", 0, p, 3), "0");
	cr_expect_str_eq(found(&bob, "", MAILROOM__STATUS__STATUS_REPLIED, p, 3), "0");
	cr_expect_str_eq(found(&alice, "", MAILROOM__STATUS__STATUS_QUEUED, p, 3), "2,1");
	/* and it goes on following */
	struct posted q;
	post(MAILROOM__CHANNEL__CHANNEL_MAILBOX, "路灯又坏了", now + 5, &q);
	cr_expect_str_eq(found(&bob, "又坏", 0, &q, 1), "0");
	rt_search_stop(&core);
}

Test(search, refusals, .init = fx_setup, .fini = fx_teardown)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SearchReq s = MAILROOM__SEARCH_REQ__INIT;
	struct rt_result res;

	req.op_case = MAILROOM__REQUEST__OP_SEARCH;
	req.search = &s;
	/* not started: refused, not an empty list */
	cr_expect_eq(read_op(&bob, &req, &res), PB_EUNAVAIL);
	rt_result_clear(&res);
	cr_assert_eq(rt_search_start(&core), PB_OK);
	s.queue = "general";
	cr_expect_eq(read_op(&bob, &req, &res), PB_EFORBIDDEN);
	cr_expect_str_eq(res.resp.error, "queue_forbidden");
	rt_result_clear(&res);
	s.queue = NULL;
	s.limit = 201;
	cr_expect_eq(read_op(&bob, &req, &res), PB_EINVAL);
	rt_result_clear(&res);
	s.limit = 0;
	s.from_ms = 2000;
	s.to_ms = 1000;
	cr_expect_eq(read_op(&bob, &req, &res), PB_EINVAL);
	cr_expect_str_eq(res.resp.error, "invalid_range");
	rt_result_clear(&res);
	s.from_ms = s.to_ms = 0;
	s.words = "一 二 三 四 五 六 七 八 九 十 甲 乙 丙 丁 戊 己 庚";   /* 17 */
	cr_expect_eq(read_op(&bob, &req, &res), PB_EINVAL);
	cr_expect_str_eq(res.resp.error, "invalid_words");
	rt_result_clear(&res);
	rt_search_stop(&core);
}

/* rt_search_refs reads message_id and related_id by hand: the same as
 * protobuf-c's unpack, on a full record and on every cut of it. */
static void refs_as_protobuf(const uint8_t *buf, size_t len)
{
	Mailroom__AuditRecord *r = mailroom__audit_record__unpack(NULL, len, buf);
	struct rt_refs refs;
	int rc = rt_search_refs(buf, len, &refs);

	if (!r)
		return;
	cr_assert_eq(rc, PB_OK, "a record protobuf-c reads, cut at %zu", len);
	const ProtobufCBinaryData *want[2] = {&r->message_id, &r->related_id};
	for (int j = 0; j < 2; j++) {
		cr_assert_eq(refs.len[j], want[j]->len, "field %d, cut at %zu", j, len);
		if (want[j]->len)
			cr_assert_eq(memcmp(refs.ref[j], want[j]->data, want[j]->len), 0);
	}
	mailroom__audit_record__free_unpacked(r, NULL);
}

Test(search_refs, reads_two_fields_as_protobuf_c_does)
{
	Mailroom__AuditRecord r = MAILROOM__AUDIT_RECORD__INIT;
	Mailroom__Clock clock = MAILROOM__CLOCK__INIT;
	uint8_t mid[PB_ID_LEN], rid[PB_ID_LEN], hash[32], buf[1024];
	struct rt_refs refs;

	memset(mid, 0xa1, sizeof(mid));
	memset(rid, 0xb2, sizeof(rid));
	memset(hash, 0xc3, sizeof(hash));
	/* fields of every wire type around the two: varints, strings, a
	 * nested message, bytes before and after, a tag of two bytes */
	r.index = 300;
	r.prev_hash = (ProtobufCBinaryData){sizeof(hash), hash};
	r.time_ms = -5;
	r.actor = "handler:abc";
	r.event = 3;
	r.message_id = (ProtobufCBinaryData){sizeof(mid), mid};
	r.queue = "roads";
	clock.due_ms = 1234567;
	r.clock = &clock;
	r.related_id = (ProtobufCBinaryData){sizeof(rid), rid};
	r.similarity_permille = 900;
	r.imported = 1;
	size_t len = mailroom__audit_record__pack(&r, buf);
	cr_assert_lt(len, sizeof(buf));

	cr_assert_eq(rt_search_refs(buf, len, &refs), PB_OK);
	cr_assert_eq(refs.len[0], PB_ID_LEN);
	cr_assert_eq(refs.len[1], PB_ID_LEN);
	cr_assert_eq(memcmp(refs.ref[0], mid, PB_ID_LEN), 0);
	cr_assert_eq(memcmp(refs.ref[1], rid, PB_ID_LEN), 0);
	for (size_t cut = 0; cut <= len; cut++)
		refs_as_protobuf(buf, cut);

	/* cut inside message_id's bytes: not a record */
	const uint8_t *at = refs.ref[0];
	cr_assert_eq(rt_search_refs(buf, (size_t)(at - buf) + 5, &refs), PB_ECORRUPT);

	/* a record naming no message */
	r.message_id = (ProtobufCBinaryData){0, NULL};
	r.related_id = (ProtobufCBinaryData){0, NULL};
	len = mailroom__audit_record__pack(&r, buf);
	cr_assert_eq(rt_search_refs(buf, len, &refs), PB_OK);
	cr_assert(refs.ref[0] == NULL && refs.len[0] == 0 && refs.ref[1] == NULL && refs.len[1] == 0);
	refs_as_protobuf(buf, len);
}

Test(search_refs, last_field_wins_and_bad_wire_is_refused)
{
	/* message_id twice: the last counts, as for protobuf-c */
	static const uint8_t twice[] = {0x32, 1, 'a', 0x32, 2, 'b', 'c', 0x8a, 0x02, 1, 'z'};
	/* wire types protobuf-c refuses: a group (3), 7; a varint of 11
	 * bytes; a length past the end; a fixed64 cut short */
	static const uint8_t group[] = {0x0b, 0x0c};
	static const uint8_t seven[] = {0x0f};
	static const uint8_t longvar[] = {0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
	static const uint8_t past[] = {0x32, 5, 'a'};
	static const uint8_t fixed[] = {0x09, 1, 2, 3};
	struct rt_refs refs;

	cr_assert_eq(rt_search_refs(twice, sizeof(twice), &refs), PB_OK);
	cr_assert_eq(refs.len[0], 2);
	cr_assert_eq(memcmp(refs.ref[0], "bc", 2), 0);
	cr_assert_eq(refs.len[1], 1);
	cr_assert_eq(refs.ref[1][0], 'z');
	refs_as_protobuf(twice, sizeof(twice));
	cr_assert_eq(rt_search_refs(group, sizeof(group), &refs), PB_ECORRUPT);
	cr_assert_eq(rt_search_refs(seven, sizeof(seven), &refs), PB_ECORRUPT);
	cr_assert_eq(rt_search_refs(longvar, sizeof(longvar), &refs), PB_ECORRUPT);
	cr_assert_eq(rt_search_refs(past, sizeof(past), &refs), PB_ECORRUPT);
	cr_assert_eq(rt_search_refs(fixed, sizeof(fixed), &refs), PB_ECORRUPT);
	cr_assert_null(mailroom__audit_record__unpack(NULL, sizeof(past), past));
	cr_assert_null(mailroom__audit_record__unpack(NULL, sizeof(longvar), longvar));
}
