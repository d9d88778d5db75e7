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

#define AUDIT MR_BIN_DIR "/workers/audit/mailroom-audit"
#define CALENDARS MR_SOURCE_DIR "/deploy/calendars"

static const struct mr_handler_spec handlers[] = {
	{"wang", "general, roads"},
};

static char pubkey[MR_PATH];

static const char *path(const char *name)
{
	static char bufs[4][MR_PATH];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, MR_PATH, "%s/%s", env.dir, name);
	return b;
}

static void save(const char *name, const char *data, size_t len)
{
	FILE *f = fopen(path(name), "wb");

	cr_assert_not_null(f, "%s", path(name));
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* mailroom-audit with argv; NULL-terminated. Returns the exit code. */
static int audit(char **out, ...)
{
	char *argv[32] = {AUDIT}, *err = NULL;
	const char *a;
	va_list ap;
	int n = 1, rc;

	va_start(ap, out);
	while ((a = va_arg(ap, const char *)) != NULL && n < 31)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	rc = mr_run(&env, argv, out, &err, 120);
	if (rc != 0 && err && *err)
		fprintf(stderr, "test_tlog: mailroom-audit %s: exit %d: %s", argv[1], rc, err);
	free(err);
	return rc;
}

/* GET path into file name; the body stays in *body when asked. */
static void fetch(const char *p, const char *name, char **body)
{
	struct mr_http r;

	cr_assert_eq(mr_http(NULL, env.base, "GET", p, NULL, NULL, 0, 10000, &r), 0, "GET %s", p);
	cr_assert_eq(r.status, 200, "GET %s: HTTP %ld: %.300s", p, r.status, r.body ? r.body : "");
	save(name, r.body, r.len);
	if (body) {
		*body = r.body;
		r.body = NULL;
	}
	mr_http_free(&r);
}

/* The size line of a checkpoint note. */
static unsigned long long note_size(const char *note)
{
	const char *nl = strchr(note, '\n');

	cr_assert_not_null(nl, "%s", note);
	return strtoull(nl + 1, NULL, 10);
}

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
		save(name, r.body, r.len);
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
	copy_store(path("older"));
}

static void put_older_copy(void)
{
	char p[MR_PATH + 16];

	snprintf(p, sizeof(p), "%s/data.mdb", env.store);
	cr_assert_eq(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/lock.mdb", env.store);
	unlink(p);
	cr_assert_eq(rmdir(env.store), 0);
	cr_assert_eq(rename(path("older"), env.store), 0);
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
	cr_assert_eq(audit(&out, "witness", "--state", path("w"), "--keygen", "--witness-name",
	                   "auditor.example/witness", NULL),
	             0);
	free(out);
	cr_assert_eq(audit(&out, "witness", "--state", path("w"), "--url", env.base, "--pubkey",
	                   pubkey, NULL),
	             0, "%s", out ? out : "");
	cr_assert(out && strstr(out, "\n— auditor.example/witness "), "cosigned: %s", out);
	free(out);
	fetch("/v1/log/checkpoint", "old.txt", &note);
	old_size = note_size(note);
	free(note);

	/* More traffic: letters and an answer. */
	for (int i = 3; i <= 5; i++)
		post(i, NULL);
	answer_one();

	/* The citizen's receipt, checked with what the gateway serves. */
	fetch("/v1/log/checkpoint", "new.txt", &note);
	size = note_size(note);
	free(note);
	cr_assert_gt(size, old_size);
	snprintf(q, sizeof(q), "/v1/log/proof/inclusion?index=%lld&size=%llu", idx, size);
	fetch(q, "inclusion.json", NULL);
	snprintf(q, sizeof(q), "/v1/log/entries?start=%lld&end=%lld", idx, idx + 1);
	fetch(q, "entries.json", NULL);
	cr_assert_eq(audit(&out, "verify-receipt", "--receipt", path("post.json"), "--proof",
	                   path("inclusion.json"), "--checkpoint", path("new.txt"), "--pubkey",
	                   pubkey, "--entry", path("entries.json"), NULL),
	             0, "%s", out ? out : "");
	cr_assert(out && strstr(out, "receipt: record_hash "), "%s", out);
	free(out);

	/* The old checkpoint is a prefix of the new one. */
	snprintf(q, sizeof(q), "/v1/log/proof/consistency?old=%llu&new=%llu", old_size, size);
	fetch(q, "consistency.json", NULL);
	cr_assert_eq(audit(&out, "consistency", path("old.txt"), path("new.txt"), "--proof",
	                   path("consistency.json"), "--pubkey", pubkey, NULL),
	             0, "%s", out ? out : "");
	free(out);

	/* The witness follows: the second run needs the consistency proof. */
	cr_assert_eq(audit(&out, "witness", "--state", path("w"), "--url", env.base, "--pubkey",
	                   pubkey, "--json", NULL),
	             0, "%s", out ? out : "");
	json_t *j = it_json_text(out);
	free(out);
	cr_expect_eq(json_integer_value(it_get(j, "old_size")), (json_int_t)old_size);
	cr_expect_eq(json_integer_value(it_get(j, "size")), (json_int_t)size);
	json_decref(j);

	/* A bundle of the running log verifies on its own. */
	cr_assert_eq(audit(&out, "export", "--store", env.store, "--out", path("log.bundle"), NULL),
	             0, "%s", out ? out : "");
	free(out);
	cr_assert_eq(audit(&out, "verify", path("log.bundle"), "--pubkey", pubkey, "--calendars",
	                   CALENDARS, NULL),
	             0, "%s", out ? out : "");
	cr_assert(out && strncmp(out, "ok: ", 4) == 0, "%s", out);
	free(out);
	cr_assert_eq(audit(&out, "verify", "--store", env.store, "--pubkey", pubkey, "--calendars",
	                   CALENDARS, NULL),
	             0, "%s", out ? out : "");
	free(out);

	/* The store replaced by the older copy: the witness refuses. */
	with_router_stopped(put_older_copy);
	cr_assert_eq(audit(&out, "witness", "--state", path("w"), "--url", env.base, "--pubkey",
	                   pubkey, NULL),
	             26, "%s", out ? out : "");
	cr_assert(out && strncmp(out, "FAIL rollback: ", 15) == 0, "%s", out);
	free(out);

	IT_DOWN();
}
