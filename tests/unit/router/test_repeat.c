/* The plain channels' repeat check and its bigram cache (rt_repeat.c,
 * rt_bgcache.c): the cache gives back what it was given, drops the least
 * recently used past its budget, and a check finds the same resemblance
 * whether the earlier messages' sets come from it or from the store. */
#include "fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static void id_of(int n, uint8_t id[16])
{
	memset(id, 0, 16);
	id[0] = (uint8_t)n;
	id[15] = (uint8_t)(n * 7);
}

static struct rt_bigrams set_of(const char *s)
{
	struct rt_bigrams b;

	cr_assert_eq(rt_bigrams_of(s, &b), PB_OK);
	cr_assert_gt(b.n, 0);
	return b;
}

Test(repeat, cache_gives_back_what_it_took)
{
	struct rt_bgcache *c;
	struct rt_bigrams b = set_of("幸福路的路灯坏了三天"), again = set_of("幸福路的路灯坏了三天");
	uint8_t id[16], other[16];
	size_t n = b.n;

	cr_assert_eq(rt_bgcache_new(1 << 20, &c), PB_OK);
	id_of(1, id);
	id_of(2, other);
	cr_assert_null(rt_bgcache_get(c, id));
	const struct rt_bigrams *kept = rt_bgcache_put(c, id, &b);
	cr_assert_not_null(kept);
	cr_assert_null(b.v, "put takes the set");
	cr_assert_eq(rt_bgcache_get(c, id), kept);
	cr_assert_eq(kept->n, n);
	cr_assert_eq(memcmp(kept->v, again.v, n * sizeof(*kept->v)), 0);
	cr_assert_null(rt_bgcache_get(c, other));
	/* A second put of the same id leaves the set with the caller. */
	cr_assert_null(rt_bgcache_put(c, id, &again));
	cr_assert_not_null(again.v);
	rt_bigrams_free(&again);
	rt_bgcache_free(c);
	/* Without a cache nothing is kept. */
	b = set_of("路灯");
	cr_assert_null(rt_bgcache_put(NULL, id, &b));
	cr_assert_null(rt_bgcache_get(NULL, id));
	rt_bigrams_free(&b);
}

Test(repeat, cache_drops_the_least_recently_used)
{
	static const char *texts[] = {"幸福路的路灯坏了三天没有人修", "小区门口的垃圾堆了一个星期",
	                              "楼上装修噪音每天到晚上十点", "公交站台的顶棚被风吹坏了"};
	struct rt_bgcache *c;
	uint8_t id[4][16];
	size_t one = 0;

	for (int i = 0; i < 4; i++) {
		struct rt_bigrams b = set_of(texts[i]);
		one = one > b.n ? one : b.n;
		rt_bigrams_free(&b);
		id_of(i + 1, id[i]);
	}
	/* Room for three sets of this size, not four. */
	cr_assert_eq(rt_bgcache_new(3 * (one * sizeof(uint64_t) + 96), &c), PB_OK);
	for (int i = 0; i < 3; i++) {
		struct rt_bigrams b = set_of(texts[i]);
		cr_assert_not_null(rt_bgcache_put(c, id[i], &b));
	}
	cr_assert_not_null(rt_bgcache_get(c, id[0]), "all three fit");
	/* id[0] was just used: id[1] is the least recent and goes. */
	struct rt_bigrams b = set_of(texts[3]);
	cr_assert_not_null(rt_bgcache_put(c, id[3], &b));
	cr_assert_null(rt_bgcache_get(c, id[1]));
	cr_assert_not_null(rt_bgcache_get(c, id[0]));
	cr_assert_not_null(rt_bgcache_get(c, id[2]));
	cr_assert_not_null(rt_bgcache_get(c, id[3]));
	rt_bgcache_free(c);
}

/* post() sends every message from one phone number with one body. */
static int expected_permille(const char *a, const char *b)
{
	char x[256], y[256];
	int pm;

	snprintf(x, sizeof(x), "%s\n小区门口的灯坏了三天。", a);
	snprintf(y, sizeof(y), "%s\n小区门口的灯坏了三天。", b);
	cr_assert_eq(rt_similarity_permille(x, y, &pm), PB_OK);
	return pm;
}

Test(repeat, same_resemblance_from_the_cache_and_from_the_store, .init = fx_setup,
     .fini = fx_teardown)
{
	static const char *subjects[] = {"幸福路路灯不亮", "幸福路的路灯一直不亮", "请修幸福路路灯",
	                                 "幸福路路灯不亮了", "幸福路路灯还是不亮"};
	struct posted p[5];
	int64_t now = at("2025-03-03T09:00:00+08:00");

	for (int i = 0; i < 5; i++) {
		/* The third is checked with an empty cache: every earlier set
		 * comes from the store. */
		if (i == 2) {
			rt_bgcache_free(core.bigrams);
			core.bigrams = NULL;
		}
		post(PB_CH_MAILBOX, subjects[i], now + i * 60000, &p[i]);
		cr_assert_not_null(core.bigrams, "the check made its cache");

		int best = -1, at_best = -1;
		for (int j = 0; j < i; j++) {
			int pm = expected_permille(subjects[j], subjects[i]);
			if (pm > best) {
				best = pm;
				at_best = j;
			}
		}
		st_txn *t;
		Mailroom__StoredMessage *m;
		cr_assert_eq(st_txn_begin(core.store, NULL, 1, &t), PB_OK);
		cr_assert_eq(st_msg_get(t, p[i].id, &m), PB_OK);
		st_txn_abort(t);
		if (best >= conf.repeat_permille) {
			cr_assert_eq(m->repeat_of.len, PB_ID_LEN, "message %d is a repeat (%d)", i, best);
			cr_assert_eq(m->repeat_permille, (uint32_t)best, "message %d", i);
			cr_assert_eq(memcmp(m->repeat_of.data, p[at_best].id, PB_ID_LEN), 0, "message %d", i);
		} else {
			cr_assert_eq(m->repeat_of.len, 0, "message %d is no repeat (%d)", i, best);
		}
		st_msg_free(m);
	}
}
