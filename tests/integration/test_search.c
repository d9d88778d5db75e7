/* The handlers' search through the real processes: messages submitted and
 * replied, then searched by two handlers of different queues (each finds
 * only its own), again after a router restart (the index file is taken
 * as it is and followed from its mark), after a crash with a change the
 * file had not taken, after its pages were changed (built anew), and
 * after mailroom-admin search-rebuild. */
#include "it.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static const struct mr_handler_spec handlers[] = {
	{"li", "roads"},
	{"wang", "general"},
	{"ops", "general"},
};

#define OPTS {.handlers = handlers, .nhandlers = 3, .extra_ini = "[handler.ops]\nadmin = yes\n"}

static char ids[3][40];

static void submit(int i, const char *json)
{
	struct mr_http r;

	cr_assert_eq(mr_post_message(NULL, &env, json, &r), 0);
	cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
	json_t *j = it_json(&r);
	snprintf(ids[i], sizeof(ids[i]), "%s", it_str(j, "id"));
	json_decref(j);
	mr_http_free(&r);
}

/* Which of the three messages handler h finds, as "0,2" (newest first),
 * the command's arguments after "search". */
static char *found(int h, ...)
{
	static char got[64];
	char *argv[16], *out = NULL;
	int n = 0;
	va_list ap;

	va_start(ap, h);
	while (n < 15 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	int rc = mr_handler_cmd(&env, env.handlers[h].key_path, &out, "search", argv[0], argv[1],
	                        argv[2], argv[3], argv[4], argv[5], argv[6], NULL);
	cr_assert_eq(rc, 0, "search: exit %d: %s", rc, out ? out : "");
	json_t *j = it_json_text(out);
	free(out);
	got[0] = 0;
	json_t *list = json_object_get(j, "messages"), *m;
	size_t k;
	json_array_foreach(list, k, m) {
		const char *id = json_string_value(json_object_get(m, "id"));
		int which = -1;
		for (int i = 0; i < 3; i++)
			if (id && strcmp(id, ids[i]) == 0)
				which = i;
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%d", k ? "," : "", which);
	}
	json_decref(j);
	return got;
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;

	cr_assert(in && out, "cannot copy %s", from);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		cr_assert_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	cr_assert_eq(fclose(out), 0);
}

static int router_log_has(const char *needle)
{
	char *text = mr_read_text(env.router.log, NULL);
	int has = text && strstr(text, needle);

	free(text);
	return has;
}

/* Every expectation, asked again after each way the index is remade. */
static void expect_all(const char *when)
{
	cr_expect_str_eq(found(0, "小区", NULL), "0", "%s: li 小区", when);
	cr_expect_str_eq(found(1, "小区", NULL), "2,1", "%s: wang 小区", when);
	/* the reply is searched; another queue's reply is not found */
	cr_expect_str_eq(found(0, "维修", NULL), "0", "%s: li 维修", when);
	cr_expect_str_eq(found(1, "维修", NULL), "", "%s: wang 维修", when);
	/* a substring inside a word, and two words */
	cr_expect_str_eq(found(0, "灯坏", NULL), "0", "%s: li 灯坏", when);
	cr_expect_str_eq(found(1, "小区", "收费", NULL), "2", "%s: wang 小区 收费", when);
	/* filters */
	cr_expect_str_eq(found(0, "--state", "replied", NULL), "0", "%s: li replied", when);
	cr_expect_str_eq(found(1, "--state", "replied", NULL), "", "%s: wang replied", when);
	cr_expect_str_eq(found(1, "--channel", "consultation", NULL), "2", "%s: consultation", when);
	cr_expect_str_eq(found(1, "--from", "2000-01-01", "--to", "2000-12-31", NULL), "",
	                 "%s: dates", when);
	cr_expect_str_eq(found(1, "--overdue", NULL), "", "%s: overdue", when);
}

Test(search, two_handlers_each_find_their_own, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = OPTS;
	char *out = NULL, *err = NULL;
	json_t *j;
	int rc;

	IT_UP(&o);
	/* 路灯 routes to roads; the rest stays in general */
	submit(0, "{\"channel\":\"mailbox\",\"subject\":\"小区路灯不亮\",\"body\":\"东门路灯坏了三天。\"}");
	submit(1, "{\"channel\":\"mailbox\",\"subject\":\"楼道噪音\",\"body\":\"小区楼上每晚很吵。\"}");
	submit(2, "{\"channel\":\"consultation\",\"subject\":\"停车收费\","
	          "\"body\":\"小区停车位怎么收费？\"}");

	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue", "roads", NULL);
	cr_assert_eq(rc, 0, "pull: exit %d: %s", rc, out ? out : "");
	free(out);
	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "reply", ids[0], "--text",
	                    "已安排维修，三日内修复。", NULL);
	cr_assert_eq(rc, 0, "reply: exit %d: %s", rc, out ? out : "");
	free(out);
	/* what was just answered is found at once: the search waits for it */
	expect_all("followed");

	/* another department's queue is refused, not silently empty */
	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "search", "小区", "--queue",
	                    "general", NULL);
	cr_expect_neq(rc, 0);
	cr_expect(out && strstr(out, "queue_forbidden"), "%s", out ? out : "");
	free(out);

	char index[MR_PATH + 16];
	snprintf(index, sizeof(index), "%s/search.db", env.store);
	cr_assert_eq(access(index, F_OK), 0, "no index file beside the store");
	cr_expect(router_log_has("messages from the store in "), "the first start builds");

	cr_assert_eq(mr_proc_stop(&env, &env.router, SIGTERM) >= 0, 1);
	cr_assert_eq(mr_router_start(&env), 0);
	expect_all("after a restart");
	cr_expect(router_log_has("search index: 3 messages from "), "a restart takes the file");
	cr_expect(!router_log_has("messages from the store in "), "a restart built the index");

	/* The file as it is now, put back after a change and a crash: the
	 * next start takes it, follows the log from its mark and finds the
	 * change. */
	char old[MR_PATH + 32], wal[MR_PATH + 32];
	snprintf(old, sizeof(old), "%s.before", index);
	snprintf(wal, sizeof(wal), "%s-wal", index);
	cr_assert_eq(mr_proc_stop(&env, &env.router, SIGTERM) >= 0, 1);
	copy_file(index, old);
	cr_assert_eq(mr_router_start(&env), 0);
	rc = mr_handler_cmd(&env, env.handlers[1].key_path, &out, "pull", "--queue", "general", NULL);
	cr_assert_eq(rc, 0, "pull: exit %d: %s", rc, out ? out : "");
	j = it_json_text(out);
	free(out);
	const char *pulled = json_string_value(json_object_get(json_object_get(j, "message"), "id"));
	cr_assert(pulled);
	char want[4];
	snprintf(want, sizeof(want), "%d", strcmp(pulled, ids[1]) == 0 ? 1 : 2);
	json_decref(j);
	cr_assert_eq(mr_proc_stop(&env, &env.router, SIGKILL) >= 0, 1);
	cr_assert_eq(rename(old, index), 0);
	unlink(wal);
	cr_assert_eq(mr_router_start(&env), 0);
	cr_expect(router_log_has("following the log from there"), "after a crash, the file is taken");
	cr_expect_str_eq(found(1, "--state", "leased", NULL), want,
	                 "the pull before the crash is not found");

	/* Pages changed on disk: the file is refused and built anew. */
	cr_assert_eq(mr_proc_stop(&env, &env.router, SIGTERM) >= 0, 1);
	int fd = open(index, O_WRONLY);
	cr_assert_geq(fd, 0);
	static const char junk[4096] = "not an index page";
	cr_assert_eq(pwrite(fd, junk, sizeof(junk), 4096), (ssize_t)sizeof(junk));
	close(fd);
	cr_assert_eq(mr_router_start(&env), 0);
	/* Page 1 opens, so the file is taken; the first read of the changed
	 * page is refused ("try again shortly") and the index built anew. */
	int ok = 0;
	for (double t0 = mr_now_s(); !ok && mr_now_s() - t0 < 20; mr_sleep_ms(100)) {
		rc = mr_handler_cmd(&env, env.handlers[1].key_path, &out, "search", "小区", NULL);
		ok = rc == 0;
		cr_expect(ok || (out && strstr(out, "search_building")), "search: exit %d: %s", rc,
		          out ? out : "");
		free(out);
	}
	cr_assert(ok, "the index was not built again within 20 s");
	expect_all("after a changed page");
	cr_expect(router_log_has("does not open"), "a changed page was not noticed");
	cr_expect(router_log_has("messages from the store in "), "a changed file was not rebuilt");

	/* only a handler with admin = yes may rebuild */
	rc = mr_admin_cmd(&env, env.handlers[0].key_path, &out, &err, "search-rebuild", NULL);
	cr_expect_eq(rc, 5, "li rebuild: exit %d: %s", rc, err ? err : "");
	free(out);
	free(err);
	rc = mr_admin_cmd(&env, env.handlers[2].key_path, &out, &err, "search-rebuild", NULL);
	cr_assert_eq(rc, 0, "rebuild: exit %d: %s", rc, err ? err : "");
	j = it_json_text(out);
	cr_expect_eq(json_integer_value(json_object_get(j, "messages")), 3, "%s", out);
	json_decref(j);
	free(out);
	free(err);
	expect_all("after search-rebuild");
	IT_DOWN();
}
