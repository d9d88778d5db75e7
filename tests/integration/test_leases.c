/* Leases through the handler command line: expiry hands a message to the
 * next handler, a late answer under the dead lease is refused, transfer
 * moves it, and queue permissions and unknown keys are enforced. */
#include "it.h"

#include <stdlib.h>

/* workers/handler/wk.h, enum wk_exit */
enum { EXIT_EMPTY = 3, EXIT_AUTH = 5, EXIT_LEASE = 6 };

static const struct mr_handler_spec handlers[] = {
	{"alice", "general, roads"},
	{"bob", "general, roads"},
	{"carol", "roads"},
};

static const char *key_of(int i)
{
	return env.handlers[i].key_path;
}

static void expect_error_code(const char *out, const char *code)
{
	json_t *j = out ? json_loads(out, 0, NULL) : NULL;
	const char *c = it_str(j, "error.code");

	cr_expect(c && strcmp(c, code) == 0, "wanted error code %s, got: %s", code, out);
	json_decref(j);
}

Test(leases, expiry_late_reply_transfer_permissions, .init = it_init, .fini = it_fini,
     .timeout = 150)
{
	const struct mr_opts o = {.lease_seconds = 5, .handlers = handlers, .nhandlers = 3};
	struct mr_http r;
	char *out = NULL, id[32];
	json_t *j;
	int rc;

	IT_UP(&o);
	cr_assert_eq(mr_post_message(NULL, &env,
	                             "{\"channel\":\"mailbox\",\"subject\":\"噪音扰民\","
	                             "\"body\":\"工地夜间施工到凌晨两点，严重影响休息。\"}",
	                             &r),
	             0);
	cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	snprintf(id, sizeof(id), "%s", it_str(j, "id"));
	json_decref(j);
	mr_http_free(&r);

	rc = mr_handler_cmd(&env, key_of(0), &out, "pull", "--queue", "general", "--wait", "5", NULL);
	cr_assert_eq(rc, 0, "alice pull: exit %d: %s", rc, out);
	j = it_json_text(out);
	free(out);
	cr_assert_str_eq(it_str(j, "message.id") ? it_str(j, "message.id") : "", id);
	json_decref(j);

	/* Leased: nobody else sees it while the lease lives. */
	rc = mr_handler_cmd(&env, key_of(1), &out, "pull", "--queue", "general", "--wait", "0", NULL);
	cr_expect_eq(rc, EXIT_EMPTY, "bob got a leased message: exit %d: %s", rc, out);
	free(out);

	/* Bob waits; the message comes back when alice's 5 s lease runs out. */
	double t0 = mr_now_s();
	rc = mr_handler_cmd(&env, key_of(1), &out, "pull", "--queue", "general", "--wait", "15", NULL);
	double waited = mr_now_s() - t0;
	cr_assert_eq(rc, 0, "bob pull after expiry: exit %d: %s", rc, out);
	j = it_json_text(out);
	free(out);
	cr_expect_str_eq(it_str(j, "message.id") ? it_str(j, "message.id") : "", id,
	                 "bob did not get the expired message");
	json_decref(j);
	cr_expect_gt(waited, 3.0, "handed to bob after %.1f s, before the lease could expire", waited);
	cr_expect_lt(waited, 12.0, "expired lease took %.1f s to come back", waited);

	/* Alice answers late under her dead lease: refused, not applied. */
	rc = mr_handler_cmd(&env, key_of(0), &out, "reply", id, "--text", "迟到的答复", NULL);
	cr_expect_eq(rc, EXIT_LEASE, "late reply: exit %d (wanted lease refusal): %s", rc, out);
	free(out);

	/* Bob keeps it alive, then hands it to roads. */
	rc = mr_handler_cmd(&env, key_of(1), &out, "renew", id, NULL);
	cr_expect_eq(rc, 0, "bob renew: exit %d: %s", rc, out);
	free(out);
	rc = mr_handler_cmd(&env, key_of(1), &out, "transfer", id, "--to", "roads", "--reason",
	                    "属于道路施工管理范围", NULL);
	cr_assert_eq(rc, 0, "transfer: exit %d: %s", rc, out);
	j = it_json_text(out);
	free(out);
	cr_expect_str_eq(it_str(j, "queue") ? it_str(j, "queue") : "", "roads");
	cr_expect_str_eq(it_str(j, "status") ? it_str(j, "status") : "", "queued");
	json_decref(j);

	/* After the transfer bob holds nothing: his old token is refused. */
	rc = mr_handler_cmd(&env, key_of(1), &out, "reply", id, "--text", "x", NULL);
	cr_expect_neq(rc, 0, "reply after transfer was accepted: %s", out);
	free(out);

	rc = mr_handler_cmd(&env, key_of(2), &out, "pull", "--queue", "roads", "--wait", "5", NULL);
	cr_assert_eq(rc, 0, "carol pull roads: exit %d: %s", rc, out);
	j = it_json_text(out);
	free(out);
	cr_expect_str_eq(it_str(j, "message.id") ? it_str(j, "message.id") : "", id);
	json_decref(j);
	rc = mr_handler_cmd(&env, key_of(2), &out, "reply", id, "--text", "已责令工地停止夜间施工。", NULL);
	cr_expect_eq(rc, 0, "carol reply: exit %d: %s", rc, out);
	free(out);

	/* Carol may not pull general; alice may not pull supervision. */
	rc = mr_handler_cmd(&env, key_of(2), &out, "pull", "--queue", "general", "--wait", "0", NULL);
	cr_expect_eq(rc, EXIT_AUTH, "carol pulled general: exit %d: %s", rc, out);
	expect_error_code(out, "queue_forbidden");
	free(out);
	rc = mr_handler_cmd(&env, key_of(0), &out, "pull", "--queue", "supervision", "--wait", "0", NULL);
	cr_expect_eq(rc, EXIT_AUTH, "alice pulled supervision: exit %d: %s", rc, out);
	free(out);

	/* A key the configuration does not list is refused outright. */
	char stranger[MR_PATH];
	uint8_t sk[64], pk[32];
	snprintf(stranger, sizeof(stranger), "%s/stranger.key", env.dir);
	cr_assert_eq(mr_key_write(stranger, sk, pk), 0);
	rc = mr_handler_cmd(&env, stranger, &out, "queues", NULL);
	cr_expect_eq(rc, EXIT_AUTH, "unknown key: exit %d: %s", rc, out);
	free(out);
	rc = mr_handler_cmd(&env, stranger, &out, "pull", "--queue", "general", "--wait", "0", NULL);
	cr_expect_eq(rc, EXIT_AUTH, "unknown key pull: exit %d: %s", rc, out);
	free(out);

	/* The log tells what happened, in order. */
	cr_assert_eq(mr_audit_cmd(&env, &out, "trail", id, NULL), 0, "trail: %s", out);
	const char *events[] = {" RECEIVED", " LEASED", " LEASE_EXPIRED", " LEASED",
	                        " LEASE_RENEWED", " TRANSFERRED", " LEASED", " REPLIED"};
	const char *at = out;
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		const char *hit = strstr(at, events[i]);
		cr_expect(hit != NULL, "trail lacks%s (event %zu) in order:\n%s", events[i], i, out);
		if (hit)
			at = hit + 1;
	}
	free(out);
	IT_DOWN();
}
