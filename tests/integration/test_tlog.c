/* The transparency log from the auditor's side, against the real router
 * and gateway: receipts and proofs fetched over HTTP and checked with
 * mailroom-audit, a witness following the live log and refusing it once
 * the store is replaced by an older copy, and a bundle exported while the
 * router runs. */
#include "it.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define CALENDARS MR_SOURCE_DIR "/deploy/calendars"

static const struct mr_handler_spec handlers[] = {
	{"wang", "general, roads"},
};

static char pubkey[MR_PATH];

/* Posts a letter; saves the whole answer as name; returns its log index. */
static long long post(int i, const char *name)
{
	struct mr_http r;
	char msg[256];
	json_t *j;
	long long idx;

	snprintf(msg, sizeof(msg),
	         "{\"channel\":\"mailbox\",\"subject\":\"第%d封信\","
	         "\"body\":\"透明日志测试用的来信内容。\"}",
	         i);
	cr_assert_eq(mr_post_message(NULL, &env, msg, &r), 0);
	cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	idx = json_integer_value(it_get(j, "receipt.log_index"));
	cr_assert_gt(idx, 0, "%s", r.body);
	if (name)
		it_save(name, r.body, r.len);
	json_decref(j);
	mr_http_free(&r);
	return idx;
}

static void copy_store(const char *to)
{
	char from[MR_PATH + 16], dst[MR_PATH + 16], buf[65536];
	FILE *in, *out;
	size_t n;

	snprintf(from, sizeof(from), "%s/data.mdb", env.store);
	cr_assert_eq(mkdir(to, 0700), 0, "%s", to);
	snprintf(dst, sizeof(dst), "%s/data.mdb", to);
	in = fopen(from, "rb");
	out = fopen(dst, "wb");
	cr_assert(in && out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		cr_assert_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	cr_assert_eq(fclose(out), 0);
}

/* Stops the router, lets fn work on the store, starts it again and waits
 * until the gateway reaches it. */
static void with_router_stopped(void (*fn)(void))
{
	double until;

	cr_assert_eq(mr_proc_stop(&env, &env.router, SIGTERM), 0, "router stopped cleanly");
	fn();
	cr_assert_eq(mr_router_start(&env), 0, "router restarts");
	for (until = mr_now_s() + 20;; mr_sleep_ms(50)) {
		struct mr_http r;
		int rc = mr_http(NULL, env.base, "GET", "/v1/log/checkpoint", NULL, NULL, 0, 2000, &r);
		long status = r.status;
		mr_http_free(&r);
		if (rc == 0 && status == 200)
			break;
		cr_assert_lt(mr_now_s(), until, "the gateway does not reach the router again");
	}
}

static void take_older_copy(void)
{
	copy_store(it_path("older"));
}

static void put_older_copy(void)
{
	char p[MR_PATH + 16];

	snprintf(p, sizeof(p), "%s/data.mdb", env.store);
	cr_assert_eq(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/lock.mdb", env.store);
	unlink(p);
	/* The search index of the newer store goes with the older one: the
	 * router must see that it does not follow it. */
	char q[MR_PATH + 32];
	snprintf(p, sizeof(p), "%s/search.db", env.store);
	snprintf(q, sizeof(q), "%s/search.db", it_path("older"));
	cr_assert_eq(rename(p, q), 0);
	snprintf(p, sizeof(p), "%s/search.db-wal", env.store);
	unlink(p);
	cr_assert_eq(rmdir(env.store), 0);
	cr_assert_eq(rename(it_path("older"), env.store), 0);
}

/* One message pulled and answered by the handler. */
static void answer_one(void)
{
	char *out = NULL;
	json_t *j;

	cr_assert_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue",
	                            "general", NULL),
	             0, "%s", out ? out : "");
	j = it_json_text(out);
	free(out);
	const char *id = it_str(j, "message.id");
	cr_assert_not_null(id);
	out = NULL;
	cr_assert_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "reply", id, "--text",
	                            "已处理，谢谢您的来信。", NULL),
	             0, "%s", out ? out : "");
	free(out);
	json_decref(j);
}

TestSuite(tlog, .init = it_init, .fini = it_fini, .timeout = 240);

Test(tlog, receipts_proofs_witness_and_rollback)
{
	struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	char q[160], *note = NULL, *out = NULL;
	unsigned long long old_size, size;
	long long idx;

	IT_UP(&o);
	snprintf(pubkey, sizeof(pubkey), "%s/keys/store.pub", env.dir);
	idx = post(1, "post.json");
	post(2, NULL);
	/* An older copy of the store, taken while the router is stopped. */
	with_router_stopped(take_older_copy);

	/* The witness sees the log for the first time. */
	cr_assert_eq(it_audit(&out, "witness", "--state", it_path("w"), "--keygen", "--witness-name",
	                   "auditor.example/witness", NULL),
	             0);
	free(out);
	cr_assert_eq(it_audit(&out, "witness", "--state", it_path("w"), "--url", env.base, "--pubkey",
	                   pubkey, NULL),
	             0, "%s", out ? out : "");
	cr_assert(out && strstr(out, "\n— auditor.example/witness "), "cosigned: %s", out);
	free(out);
	it_fetch("/v1/log/checkpoint", "old.txt", &note);
	old_size = it_note_size(note);
	free(note);

	/* More traffic: letters and an answer. */
	for (int i = 3; i <= 5; i++)
		post(i, NULL);
	answer_one();

	/* The citizen's receipt, checked with what the gateway serves. */
	it_fetch("/v1/log/checkpoint", "new.txt", &note);
	size = it_note_size(note);
	free(note);
	cr_assert_gt(size, old_size);
	snprintf(q, sizeof(q), "/v1/log/proof/inclusion?index=%lld&size=%llu", idx, size);
	it_fetch(q, "inclusion.json", NULL);
	snprintf(q, sizeof(q), "/v1/log/entries?start=%lld&end=%lld", idx, idx + 1);
	it_fetch(q, "entries.json", NULL);
	cr_assert_eq(it_audit(&out, "verify-receipt", "--receipt", it_path("post.json"), "--proof",
	                   it_path("inclusion.json"), "--checkpoint", it_path("new.txt"), "--pubkey",
	                   pubkey, "--entry", it_path("entries.json"), NULL),
	             0, "%s", out ? out : "");
	cr_assert(out && strstr(out, "receipt: record_hash "), "%s", out);
	free(out);

	/* The old checkpoint is a prefix of the new one. */
	snprintf(q, sizeof(q), "/v1/log/proof/consistency?old=%llu&new=%llu", old_size, size);
	it_fetch(q, "consistency.json", NULL);
	cr_assert_eq(it_audit(&out, "consistency", it_path("old.txt"), it_path("new.txt"), "--proof",
	                   it_path("consistency.json"), "--pubkey", pubkey, NULL),
	             0, "%s", out ? out : "");
	free(out);

	/* The witness follows: the second run needs the consistency proof. */
	cr_assert_eq(it_audit(&out, "witness", "--state", it_path("w"), "--url", env.base, "--pubkey",
	                   pubkey, "--json", NULL),
	             0, "%s", out ? out : "");
	json_t *j = it_json_text(out);
	free(out);
	cr_expect_eq(json_integer_value(it_get(j, "old_size")), (json_int_t)old_size);
	cr_expect_eq(json_integer_value(it_get(j, "size")), (json_int_t)size);
	json_decref(j);

	/* A bundle of the running log verifies on its own. */
	cr_assert_eq(it_audit(&out, "export", "--store", env.store, "--out", it_path("log.bundle"), NULL),
	             0, "%s", out ? out : "");
	free(out);
	cr_assert_eq(it_audit(&out, "verify", it_path("log.bundle"), "--pubkey", pubkey, "--calendars",
	                   CALENDARS, NULL),
	             0, "%s", out ? out : "");
	cr_assert(out && strncmp(out, "ok: ", 4) == 0, "%s", out);
	free(out);
	cr_assert_eq(it_audit(&out, "verify", "--store", env.store, "--pubkey", pubkey, "--calendars",
	                   CALENDARS, NULL),
	             0, "%s", out ? out : "");
	free(out);

	/* The store replaced by the older copy: the witness refuses. */
	with_router_stopped(put_older_copy);
	cr_assert_eq(it_audit(&out, "witness", "--state", it_path("w"), "--url", env.base, "--pubkey",
	                   pubkey, NULL),
	             26, "%s", out ? out : "");
	cr_assert(out && strncmp(out, "FAIL rollback: ", 15) == 0, "%s", out);
	free(out);
	/* Nor does the router take the newer store's search index. */
	char *log = mr_read_text(env.router.log, NULL);
	cr_expect(log && strstr(log, "does not follow this store"), "the index was taken");
	free(log);

	IT_DOWN();
}
