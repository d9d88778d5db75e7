/* The search index alone (router/search/sx.h): substring matching in Chinese,
 * filters, visibility, and that a rebuild answers as the updates did. */
#include "sx.h"
#include "pb_err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const char *all_q[] = {"general", "roads", "noise"};

static void id_of(int n, uint8_t id[SX_ID_LEN])
{
	memset(id, 0, SX_ID_LEN);
	id[0] = 0x42;
	id[14] = (uint8_t)(n >> 8);
	id[15] = (uint8_t)n;
}

static void put(sx *x, int n, const char *queue, int64_t received_ms, const char *subject,
                const char *body, const char *replies)
{
	uint8_t id[SX_ID_LEN];
	struct sx_doc d = {.id = id, .channel = 1, .status = 1, .queue = queue,
	                   .received_ms = received_ms, .open = 1, .subject = subject,
	                   .body = body, .replies = replies};

	id_of(n, id);
	cr_assert_eq(sx_put(x, &d), PB_OK);
}

/* The numbers (id_of) of what q finds, newest first, as "n,n,n". */
static char *found(sx *x, struct sx_query q)
{
	static char out[256];
	uint8_t ids[SX_LIMIT_MAX][SX_ID_LEN];
	size_t n;
	int more;

	if (!q.queues) {
		q.queues = all_q;
		q.nqueues = 3;
	}
	cr_assert_eq(sx_search(x, &q, ids, 50, &n, &more), PB_OK);
	out[0] = 0;
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%d", i ? "," : "",
		         ids[i][14] << 8 | ids[i][15]);
	return out;
}

static sx *fill(void)
{
	sx *x;

	cr_assert_eq(sx_open(&x), PB_OK);
	put(x, 1, "roads", 1000, "小区路灯不亮", "东门路灯坏了三天。", NULL);
	put(x, 2, "noise", 2000, "夜间施工噪音", "工地每晚十一点后还在打桩，影响休息。", NULL);
	put(x, 3, "general", 3000, "咨询停车", "小区停车位收费标准是多少？", "按物价局核定的标准收取。");
	put(x, 4, "roads", 4000, "Road LAMP broken", "The lamp near gate B is out.", NULL);
	return x;
}

Test(sx, chinese_substrings)
{
	sx *x = fill();

	cr_expect_str_eq(found(x, (struct sx_query){.words = "路灯"}), "1");
	cr_expect_str_eq(found(x, (struct sx_query){.words = "灯坏了"}), "1");
	cr_expect_str_eq(found(x, (struct sx_query){.words = "噪音"}), "2");
	cr_expect_str_eq(found(x, (struct sx_query){.words = "小区"}), "3,1");
	/* one character: anywhere, also as a text's last */
	cr_expect_str_eq(found(x, (struct sx_query){.words = "亮"}), "1");
	cr_expect_str_eq(found(x, (struct sx_query){.words = "息"}), "2");
	/* every word must occur; order of words free */
	cr_expect_str_eq(found(x, (struct sx_query){.words = "三天 小区"}), "1");
	cr_expect_str_eq(found(x, (struct sx_query){.words = "小区　收费"}), "3");   /* U+3000 */
	/* not a substring: characters present but not together */
	cr_expect_str_eq(found(x, (struct sx_query){.words = "路亮"}), "");
	cr_expect_str_eq(found(x, (struct sx_query){.words = "东门灯"}), "");
	/* replies are searched too */
	cr_expect_str_eq(found(x, (struct sx_query){.words = "物价局"}), "3");
	/* Latin: case-folded substrings, full-width folded */
	cr_expect_str_eq(found(x, (struct sx_query){.words = "amp"}), "4");
	cr_expect_str_eq(found(x, (struct sx_query){.words = "ＬＡＭＰ"}), "4");
	/* punctuation is not indexed: a quote in a word cannot break the query */
	cr_expect_str_eq(found(x, (struct sx_query){.words = "\"路灯\""}), "1");
	cr_expect_str_eq(found(x, (struct sx_query){.words = "门路灯坏"}), "1");
	sx_close(x);
}

Test(sx, filters)
{
	sx *x = fill();
	uint8_t id[SX_ID_LEN];

	cr_expect_str_eq(found(x, (struct sx_query){.words = ""}), "4,3,2,1");
	cr_expect_str_eq(found(x, (struct sx_query){.queue = "roads"}), "4,1");
	cr_expect_str_eq(found(x, (struct sx_query){.words = "小区", .queue = "roads"}), "1");
	cr_expect_str_eq(found(x, (struct sx_query){.from_ms = 2000, .to_ms = 4000}), "3,2");
	cr_expect_str_eq(found(x, (struct sx_query){.words = "小区", .from_ms = 1001}), "3");
	cr_expect_str_eq(found(x, (struct sx_query){.words = "小区", .to_ms = 1001}), "1");

	/* message 2 gets another channel, is answered and closed; message 1
	 * falls overdue */
	id_of(2, id);
	struct sx_doc d = {.id = id, .channel = 2, .status = 3, .queue = "noise",
	                   .received_ms = 2000, .open = 0, .due_ms = 1500,
	                   .subject = "夜间施工噪音", .body = "工地每晚十一点后还在打桩，影响休息。",
	                   .replies = "已责令停工。"};
	cr_assert_eq(sx_put(x, &d), PB_OK);
	id_of(1, id);
	struct sx_doc e = {.id = id, .channel = 1, .status = 1, .queue = "roads",
	                   .received_ms = 1000, .open = 1, .due_ms = 5000,
	                   .subject = "小区路灯不亮", .body = "东门路灯坏了三天。"};
	cr_assert_eq(sx_put(x, &e), PB_OK);
	cr_expect_str_eq(found(x, (struct sx_query){.channel = 2}), "2");
	cr_expect_str_eq(found(x, (struct sx_query){.status = 3}), "2");
	cr_expect_str_eq(found(x, (struct sx_query){.words = "停工"}), "2");
	cr_expect_str_eq(found(x, (struct sx_query){.overdue = 1, .now_ms = 4999}), "");
	cr_expect_str_eq(found(x, (struct sx_query){.overdue = 1, .now_ms = 5001}), "1");

	uint64_t n;
	cr_assert_eq(sx_count(x, &n), PB_OK);
	cr_expect_eq(n, 4);
	cr_assert_eq(sx_remove(x, id), PB_OK);
	cr_expect_str_eq(found(x, (struct sx_query){.words = "路灯"}), "");
	cr_expect_eq(sx_remove(x, id), PB_ENOTFOUND);
	sx_close(x);
}

Test(sx, visibility)
{
	sx *x = fill();
	const char *roads[] = {"roads"}, *two[] = {"general", "noise"};

	cr_expect_str_eq(found(x, (struct sx_query){.words = "小区", .queues = roads, .nqueues = 1}),
	                 "1");
	cr_expect_str_eq(found(x, (struct sx_query){.words = "小区", .queues = two, .nqueues = 2}), "3");
	/* asking for a queue outside one's own finds nothing */
	cr_expect_str_eq(found(x, (struct sx_query){.queue = "noise", .queues = roads, .nqueues = 1}),
	                 "");
	/* no queues: nothing at all */
	uint8_t ids[4][SX_ID_LEN];
	size_t n = 9;
	int more;
	struct sx_query q = {.words = "小区", .queues = roads, .nqueues = 0};
	cr_assert_eq(sx_search(x, &q, ids, 4, &n, &more), PB_OK);
	cr_expect_eq(n, 0);
	sx_close(x);
}

Test(sx, limits)
{
	sx *x = fill();
	uint8_t ids[SX_LIMIT_MAX][SX_ID_LEN];
	size_t n;
	int more;
	struct sx_query q = {.words = "小区", .queues = all_q, .nqueues = 3};

	cr_assert_eq(sx_search(x, &q, ids, 1, &n, &more), PB_OK);
	cr_expect_eq(n, 1);
	cr_expect(more);
	cr_expect_eq(ids[0][15], 3);
	q.words = "a b c d e f g h i j k l m n o p q";   /* 17 words */
	cr_expect_eq(sx_search(x, &q, ids, 10, &n, &more), PB_EINVAL);
	cr_expect_eq(sx_search(x, &q, ids, SX_LIMIT_MAX + 1, &n, &more), PB_EINVAL);
	q.words = "，。！";   /* nothing the index sees: as if no words */
	cr_assert_eq(sx_search(x, &q, ids, 10, &n, &more), PB_OK);
	cr_expect_eq(n, 4);
	cr_expect_eq(sx_chars("路灯，不亮 Ab"), 6);
	sx_close(x);
}

/* Many messages in one millisecond, all wanting the same slot, keep apart. */
Test(sx, same_millisecond)
{
	sx *x;
	uint8_t id[SX_ID_LEN] = {0};

	cr_assert_eq(sx_open(&x), PB_OK);
	cr_assert_eq(sx_begin(x), PB_OK);
	for (int i = 0; i < 300; i++) {
		id[12] = (uint8_t)(i >> 8);
		id[13] = (uint8_t)i;
		struct sx_doc d = {.id = id, .queue = "roads", .received_ms = 7,
		                   .subject = "同一时刻", .body = "批量导入"};
		cr_assert_eq(sx_put(x, &d), PB_OK);
	}
	cr_assert_eq(sx_commit(x), PB_OK);
	const char *roads[] = {"roads"};
	uint8_t ids[SX_LIMIT_MAX][SX_ID_LEN];
	size_t n1;
	int more;
	struct sx_query q = {.words = "时刻", .queues = roads, .nqueues = 1, .from_ms = 7, .to_ms = 8};
	cr_assert_eq(sx_search(x, &q, ids, SX_LIMIT_MAX, &n1, &more), PB_OK);
	cr_expect_eq(n1, SX_LIMIT_MAX);
	cr_expect(more);
	uint64_t n;
	cr_assert_eq(sx_count(x, &n), PB_OK);
	cr_expect_eq(n, 300);
	sx_close(x);
}

/* The router follows the log with puts over puts (a message queued,
 * leased, transferred, answered) and rebuilds with one put of each final
 * state: both must answer every query alike. */
Test(sx, rebuild_answers_as_incremental_updates)
{
	static const char *subjects[] = {"小区路灯不亮", "夜间施工噪音", "咨询停车收费", "垃圾清运不及时"};
	static const char *bodies[] = {"东门路灯坏了三天。", "工地每晚打桩。", "停车位收费标准？", "小区垃圾堆了一周。"};
	static const char *queues[] = {"roads", "noise", "general"};
	sx *inc, *full;
	struct sx_doc final[40];
	uint8_t idb[40][SX_ID_LEN];
	char replies[40][64];

	cr_assert_eq(sx_open(&inc), PB_OK);
	cr_assert_eq(sx_open(&full), PB_OK);
	for (int i = 0; i < 40; i++) {
		id_of(i + 1, idb[i]);
		struct sx_doc d = {.id = idb[i], .channel = 1 + i % 3, .status = 1,
		                   .queue = queues[i % 3], .received_ms = 1000 + 10 * i, .open = 1,
		                   .due_ms = 1300 + 10 * i, .subject = subjects[i % 4],
		                   .body = bodies[(i / 4) % 4]};
		cr_assert_eq(sx_put(inc, &d), PB_OK);
		d.status = 2;   /* leased */
		cr_assert_eq(sx_put(inc, &d), PB_OK);
		if (i % 5 == 0)   /* transferred */
			d.queue = queues[(i + 1) % 3];
		if (i % 2 == 0) {   /* answered */
			snprintf(replies[i], sizeof(replies[i]), "已处理第%d件，谢谢。", i);
			d.replies = replies[i];
			d.status = 3;
			d.open = 0;
		}
		cr_assert_eq(sx_put(inc, &d), PB_OK);
		final[i] = d;
	}
	/* one is gone from the store: the follower removes it */
	cr_assert_eq(sx_remove(inc, idb[7]), PB_OK);
	cr_assert_eq(sx_begin(full), PB_OK);
	for (int i = 39; i >= 0; i--)   /* another order than the updates came in */
		if (i != 7)
			cr_assert_eq(sx_put(full, &final[i]), PB_OK);
	cr_assert_eq(sx_commit(full), PB_OK);

	const struct sx_query qs[] = {
		{.words = "小区"}, {.words = "路灯"}, {.words = "谢谢"}, {.words = "第10件"},
		{.words = "噪"}, {.status = 3}, {.status = 2}, {.queue = "roads"},
		{.overdue = 1, .now_ms = 1500}, {.channel = 2, .words = "收费"},
		{.from_ms = 1100, .to_ms = 1250}, {.words = "停车 标准"},
	};
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		char a[256];
		snprintf(a, sizeof(a), "%s", found(inc, qs[k]));
		cr_expect_str_eq(found(full, qs[k]), a, "query %zu", k);
		cr_expect_neq(a[0], 0, "query %zu finds something", k);
	}
	sx_close(inc);
	sx_close(full);
}

/* A follower's round (sx_put_all) puts in row order, not in the order
 * given: new messages, some in one millisecond whose ids pick the same
 * slot, and changes to indexed ones (a reply added, a lease), all in one
 * transaction, must answer as the same puts one by one. */
Test(sx, put_all_answers_as_puts)
{
	static const char *bodies[] = {"东门路灯坏了三天。", "工地每晚打桩。", "停车位收费标准？"};
	sx *one, *all;
	struct sx_doc d[30];
	uint8_t idb[30][SX_ID_LEN];

	cr_assert_eq(sx_open(&one), PB_OK);
	cr_assert_eq(sx_open(&all), PB_OK);
	for (int i = 0; i < 30; i++) {
		id_of(100 + i, idb[i]);
		if (i % 4 == 1) {   /* the slot of the one before, in the same millisecond */
			idb[i][13] = 1;
			idb[i][14] = idb[i - 1][14];
			idb[i][15] = idb[i - 1][15];
		}
		d[i] = (struct sx_doc){.id = idb[i], .channel = 1, .status = 1, .queue = all_q[i % 3],
		                       .received_ms = 5000 - 10 * (i / 2), .open = 1,
		                       .subject = "小区问题", .body = bodies[i % 3]};
	}
	/* already indexed, before the round */
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(sx_put(one, &d[i]), PB_OK);
		cr_assert_eq(sx_put(all, &d[i]), PB_OK);
	}
	d[2].replies = "已派人维修路灯。";
	d[5].status = 2;
	cr_assert_eq(sx_begin(one), PB_OK);
	for (int i = 29; i >= 0; i--)
		cr_assert_eq(sx_put(one, &d[i]), PB_OK);
	cr_assert_eq(sx_commit(one), PB_OK);
	cr_assert_eq(sx_begin(all), PB_OK);
	cr_assert_eq(sx_put_all(all, d, 30), PB_OK);
	cr_assert_eq(sx_commit(all), PB_OK);

	uint64_t n1, n2;
	cr_assert_eq(sx_count(one, &n1), PB_OK);
	cr_assert_eq(sx_count(all, &n2), PB_OK);
	cr_expect_eq(n1, 30);
	cr_expect_eq(n2, 30);
	const struct sx_query qs[] = {
		{.words = "小区"}, {.words = "路灯"}, {.words = "维修"}, {.words = "收费"},
		{.status = 2}, {.from_ms = 4900, .to_ms = 4960}, {.words = "打桩", .queue = "roads"},
	};
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		char a[256];
		snprintf(a, sizeof(a), "%s", found(one, qs[k]));
		cr_expect_str_eq(found(all, qs[k]), a, "query %zu", k);
		cr_expect_neq(a[0], 0, "query %zu finds something", k);
	}
	cr_expect_str_eq(found(all, (struct sx_query){.words = "维修"}), "102");
	sx_close(one);
	sx_close(all);
}

/* The follower commits a segment per round and FTS5 merges them (at
 * eight a level, sx.c): an index built in many small rounds must answer
 * as one built in a single transaction, merged or not. */
Test(sx, rounds_answer_as_one_transaction)
{
	static const char *bodies[] = {"东门路灯坏了三天。", "工地每晚打桩，噪音扰民。",
	                               "停车位收费标准？", "Water LEAK at 𠮷野家", "小区垃圾堆了一周"};
	sx *rounds, *once;

	cr_assert_eq(sx_open(&rounds), PB_OK);
	cr_assert_eq(sx_open(&once), PB_OK);
	cr_assert_eq(sx_begin(once), PB_OK);
	for (int r = 0; r < 60; r++) {   /* 60 rounds of 5: several merges */
		struct sx_doc d[5];
		uint8_t idb[5][SX_ID_LEN];
		cr_assert_eq(sx_begin(rounds), PB_OK);
		for (int j = 0; j < 5; j++) {
			int i = r * 5 + j;
			id_of(i + 1, idb[j]);
			d[j] = (struct sx_doc){.id = idb[j], .channel = 1, .status = 1,
			                       .queue = all_q[i % 3], .received_ms = 1000 + i, .open = 1,
			                       .subject = i % 7 ? "咨询" : "投诉", .body = bodies[i % 5]};
			cr_assert_eq(sx_put(once, &d[j]), PB_OK);
		}
		cr_assert_eq(sx_put_all(rounds, d, 5), PB_OK);
		cr_assert_eq(sx_commit(rounds), PB_OK);
	}
	cr_assert_eq(sx_commit(once), PB_OK);

	const char *words[] = {"路灯", "噪音扰民", "灯", "周", "投诉 停车", "leak", "𠮷野",
	                       "𠮷", "家", "ｗａｔｅｒ", "咨询 一周"};
	for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
		char a[256];
		snprintf(a, sizeof(a), "%s", found(once, (struct sx_query){.words = words[k]}));
		cr_expect_str_eq(found(rounds, (struct sx_query){.words = words[k]}), a, "%s", words[k]);
		cr_expect_neq(a[0], 0, "%s finds something", words[k]);
	}
	/* and the newest first, from the last round */
	cr_expect_str_eq(found(rounds, (struct sx_query){.words = "𠮷"}),
	                 "299,294,289,284,279,274,269,264,259,254,249,244,239,234,229,224,219,214,"
	                 "209,204,199,194,189,184,179,174,169,164,159,154,149,144,139,134,129,124,"
	                 "119,114,109,104,99,94,89,84,79,74,69,64,59,54");
	char b[256];
	snprintf(b, sizeof(b), "%s", found(rounds, (struct sx_query){.words = "𠮷"}));
	cr_expect_str_eq(found(rounds, (struct sx_query){.words = "野家 leak"}), b);
	cr_expect_str_eq(found(rounds, (struct sx_query){.words = "家𠮷"}), "");
	sx_close(rounds);
	sx_close(once);
}
