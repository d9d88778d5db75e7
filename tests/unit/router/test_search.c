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
