/* Return to dispatch (退回) through the handler command line: a misrouted
 * message goes back to the dispatcher's queue with its reason, its
 * deadline unchanged, the reason committed in the log (the office's
 * auditor sees it match), and mailroom-audit verify accepts the record. */
#include "it.h"

#include <stdlib.h>

static const struct mr_handler_spec handlers[] = {
	{"li", "roads"},
	{"wang", "general"},
};

#define REASON "不属于路政，应由物业管理部门处理"

static json_t *pull_from(int h, const char *queue)
{
	char *out = NULL;
	int rc = mr_handler_cmd(&env, env.handlers[h].key_path, &out, "pull", "--queue", queue,
	                        "--wait", "5", NULL);
	cr_assert_eq(rc, 0, "pull %s: exit %d: %s", queue, rc, out ? out : "");
	json_t *j = it_json_text(out);
	free(out);
	return j;
}

Test(dispatch, a_handler_returns_a_misrouted_message, .init = it_init, .fini = it_fini,
     .timeout = 150)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 2};
	struct mr_http r;
	char *out = NULL, id[40], due[64], path[MR_PATH];
	json_t *j;
	int rc;

	IT_UP(&o);
	/* "路灯" routes to roads; the dispatcher is the mailbox's default, general */
	cr_assert_eq(mr_post_message(NULL, &env,
	                             "{\"channel\":\"mailbox\",\"subject\":\"小区路灯\","
	                             "\"body\":\"小区内部路灯坏了，物业一直不修。\"}",
	                             &r),
	             0);
	cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	snprintf(id, sizeof(id), "%s", it_str(j, "id"));
	json_decref(j);
	mr_http_free(&r);

	j = pull_from(0, "roads");
	cr_assert_str_eq(it_str(j, "message.id") ? it_str(j, "message.id") : "", id);
	snprintf(due, sizeof(due), "%s", it_str(j, "message.reply_due") ? it_str(j, "message.reply_due") : "");
	json_decref(j);

	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "return-to-dispatch", id, "--reason",
	                    REASON, NULL);
	cr_assert_eq(rc, 0, "return-to-dispatch: exit %d: %s", rc, out ? out : "");
	j = it_json_text(out);
	free(out);
	cr_expect_str_eq(it_str(j, "queue") ? it_str(j, "queue") : "", "general");
	cr_expect_str_eq(it_str(j, "status") ? it_str(j, "status") : "", "queued");
	json_decref(j);

	/* The dispatcher's handler gets it, with the clock running on. */
	j = pull_from(1, "general");
	cr_assert_str_eq(it_str(j, "message.id") ? it_str(j, "message.id") : "", id);
	cr_expect_str_eq(it_str(j, "message.reply_due") ? it_str(j, "message.reply_due") : "", due);
	json_decref(j);

	/* Already at the dispatcher's: nothing to return it from. */
	rc = mr_handler_cmd(&env, env.handlers[1].key_path, &out, "return-to-dispatch", id, "--reason",
	                    "再退一次", NULL);
	cr_expect_eq(rc, 8, "a second return: exit %d: %s", rc, out ? out : "");
	j = it_json_text(out);
	cr_expect_str_eq(it_str(j, "error.code") ? it_str(j, "error.code") : "", "already_at_dispatch",
	                 "%s", out ? out : "");
	json_decref(j);
	free(out);

	rc = mr_audit_cmd(&env, &out, "verify", "--calendars", MR_SOURCE_DIR "/deploy/calendars", NULL);
	cr_expect_eq(rc, 0, "verify: exit %d: %s", rc, out ? out : "");
	free(out);
	snprintf(path, sizeof(path), "%s/keys/data.key", env.dir);
	rc = mr_audit_cmd(&env, &out, "trail", id, "--data-key", path, NULL);
	cr_expect_eq(rc, 0, "trail --data-key: exit %d: %s", rc, out ? out : "");
	cr_expect(out && strstr(out, "RETURNED_TO_DISPATCH"), "%s", out ? out : "");
	cr_expect(out && strstr(out, " detail=" REASON " (matches)"), "%s", out ? out : "");
	free(out);
	/* without the data key the reason is a commitment only */
	rc = mr_audit_cmd(&env, &out, "trail", id, NULL);
	cr_expect(out && !strstr(out, REASON), "the public trail shows the reason: %s", out ? out : "");
	free(out);
	IT_DOWN();
}
