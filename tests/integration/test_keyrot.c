/* Rotating the log key with the real router and gateway, as an operator
 * would: letters posted, the router stopped, a new key made with
 * mailroom-router keygen, refused while nothing proves it continues the
 * log, then named in the config with the old one as previous_signing_key;
 * the router restarted rotates, more letters come in, and the auditor's
 * tools all follow: verify of the store and of a bundle, receipts from
 * before and after, consistency and the witness across the rotation. */
#include "it.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define AUDIT MR_BIN_DIR "/workers/audit/mailroom-audit"
#define ROUTER MR_BIN_DIR "/router/mailroom-router"
#define CALENDARS MR_SOURCE_DIR "/deploy/calendars"

static const struct mr_handler_spec handlers[] = {
	{"wang", "general, roads"},
};

/* A program with argv; NULL-terminated. Returns the exit code; stdout in
 * *out and stderr in *err when asked (malloc'd). */
static int prog(char **out, char **err, const char *bin, ...)
{
	char *argv[40] = {(char *)bin}, *e = NULL;
	const char *a;
	va_list ap;
	int n = 1, rc;

	va_start(ap, bin);
	while ((a = va_arg(ap, const char *)) != NULL && n < 39)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	rc = mr_run(&env, argv, out, &e, 120);
	if (err)
		*err = e;
	else
		free(e);
	return rc;
}

/* mailroom-audit, which must succeed; stdout into *out. */
#define AUDIT_OK(out, ...)                                                              \
	do {                                                                                \
		char *err_ = NULL;                                                          \
		int rc_ = prog((out), &err_, AUDIT, __VA_ARGS__, NULL);                     \
		cr_assert_eq(rc_, 0, "mailroom-audit %s: exit %d: %s%s", #__VA_ARGS__, rc_, \
		             *(out) ? *(out) : "", err_ ? err_ : "");                       \
		free(err_);                                                                 \
	} while (0)

/* Posts a letter, saves the answer as name.json; its receipt's log index,
 * and its key id in kid. */
static long long post(int i, const char *name, char kid[9])
{
	struct mr_http r;
	char msg[256], file[64];
	json_t *j;
	long long idx;

	snprintf(msg, sizeof(msg),
	         "{\"channel\":\"mailbox\",\"subject\":\"第%d封信\","
	         "\"body\":\"密钥轮换测试用的来信内容。\"}",
	         i);
	cr_assert_eq(mr_post_message(NULL, &env, msg, &r), 0);
	cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	idx = json_integer_value(it_get(j, "receipt.log_index"));
	cr_assert_gt(idx, 0, "%s", r.body);
	cr_assert_not_null(it_str(j, "receipt.key_id"), "%s", r.body);
	snprintf(kid, 9, "%s", it_str(j, "receipt.key_id"));
	snprintf(file, sizeof(file), "%s.json", name);
	it_save(file, r.body, r.len);
	json_decref(j);
	mr_http_free(&r);
	return idx;
}

/* The config's [store] keys replaced by a section appended at its end
 * (later values win). */
static void set_keys(const char *signing, const char *previous)
{
	FILE *f = fopen(env.ini, "a");

	cr_assert_not_null(f);
	fprintf(f, "\n[store]\nsigning_key = %s\nprevious_signing_key = %s\n", signing,
	        previous ? previous : "");
	cr_assert_eq(fclose(f), 0);
}

static void wait_for_log(void)
{
	for (double until = mr_now_s() + 20;; mr_sleep_ms(50)) {
		struct mr_http r;
		int rc = mr_http(NULL, env.base, "GET", "/v1/log/checkpoint", NULL, NULL, 0, 2000, &r);
		long status = r.status;
		mr_http_free(&r);
		if (rc == 0 && status == 200)
			return;
		cr_assert_lt(mr_now_s(), until, "the gateway does not reach the router again");
	}
}

/* verify-receipt for the letter saved as name, against cp.txt; with the
 * rotation proven by rotation.json when asked. */
static void receipt_ok(const char *name, long long idx, unsigned long long size, const char *pub,
                       int rotation)
{
	char q[160], post[64], proof[64], entries[64], rot[MR_PATH], *out = NULL;

	snprintf(post, sizeof(post), "%s.json", name);
	snprintf(proof, sizeof(proof), "%s.proof", name);
	snprintf(entries, sizeof(entries), "%s.entries", name);
	snprintf(q, sizeof(q), "/v1/log/proof/inclusion?index=%lld&size=%llu", idx, size);
	it_fetch(q, proof, NULL);
	snprintf(q, sizeof(q), "/v1/log/entries?start=%lld&end=%lld", idx, idx + 1);
	it_fetch(q, entries, NULL);
	snprintf(rot, sizeof(rot), "%s", it_path("rotation.json"));
	if (rotation)
		AUDIT_OK(&out, "verify-receipt", "--receipt", it_path(post), "--proof", it_path(proof),
		         "--checkpoint", it_path("cp.txt"), "--pubkey", pub, "--entry", it_path(entries),
		         "--rotation", rot);
	else
		AUDIT_OK(&out, "verify-receipt", "--receipt", it_path(post), "--proof", it_path(proof),
		         "--checkpoint", it_path("cp.txt"), "--pubkey", pub, "--entry", it_path(entries));
	cr_assert(out && strstr(out, "receipt: record_hash "), "%s", out);
	free(out);
	/* The receipt alone: its own tlog-proof, against its commit's checkpoint. */
	if (rotation)
		AUDIT_OK(&out, "verify-receipt", "--receipt", it_path(post), "--pubkey", pub,
		         "--rotation", rot);
	else
		AUDIT_OK(&out, "verify-receipt", "--receipt", it_path(post), "--pubkey", pub);
	cr_assert(out && strstr(out, "receipt: record_hash "), "%s", out);
	free(out);
}

TestSuite(keyrot, .init = it_init, .fini = it_fini, .timeout = 240);

Test(keyrot, rotate_the_log_key_and_audit_across_it)
{
	struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	char oldkey[MR_PATH], newkey[MR_PATH], oldpub[MR_PATH], newpub[MR_PATH], q[160];
	char kid_before[9], kid_after[9], *out = NULL, *err = NULL, *note = NULL, *log;
	unsigned long long old_size, size;
	long long before, after, rot;
	json_t *j;

	IT_UP(&o);
	snprintf(oldkey, sizeof(oldkey), "%s/keys/store.key", env.dir);
	snprintf(oldpub, sizeof(oldpub), "%s/keys/store.pub", env.dir);
	snprintf(newkey, sizeof(newkey), "%s/keys/store-2.key", env.dir);
	snprintf(newpub, sizeof(newpub), "%s/keys/store-2.pub", env.dir);

	before = post(1, "before", kid_before);
	post(2, "second", kid_before);
	it_fetch("/v1/log/checkpoint", "old.txt", &note);
	old_size = it_note_size(note);
	free(note);
	AUDIT_OK(&out, "witness", "--state", it_path("w"), "--url", env.base, "--pubkey", oldpub);
	free(out);

	/* The operator: stop, make the new key, point the config at it. */
	cr_assert_eq(mr_proc_stop(&env, &env.router, SIGTERM), 0, "router stopped cleanly");
	cr_assert_eq(prog(&out, NULL, ROUTER, "-c", env.ini, "keygen", newkey, NULL), 0, "%s", out);
	cr_assert(out && strstr(out, "previous_signing_key = "), "says what to set: %s", out);
	free(out);
	cr_assert_neq(prog(&out, NULL, ROUTER, "-c", env.ini, "keygen", newkey, NULL), 0,
	              "a key file is never replaced");
	free(out);

	/* The new key alone: nothing proves it continues the log. */
	set_keys(newkey, NULL);
	cr_assert_eq(prog(NULL, &err, ROUTER, "-c", env.ini, NULL), 1, "refused: %s", err);
	cr_assert(err && strstr(err, "previous_signing_key"), "names the setting: %s", err);
	cr_assert(strstr(err, "signing_key"), "%s", err);
	free(err);

	/* With the old key as previous_signing_key the router rotates. */
	set_keys(newkey, oldkey);
	cr_assert_eq(mr_router_start(&env), 0, "router restarts with the new key");
	wait_for_log();
	log = mr_read_text(env.router.log, NULL);
	cr_assert(log && strstr(log, "log key rotated: record "), "%s", log ? log : "");
	cr_assert(strstr(log, "under a checkpoint signed by "), "the handover: %s", log);
	free(log);

	after = post(3, "after", kid_after);
	post(4, "fourth", kid_after);
	cr_assert_str_neq(kid_before, kid_after, "receipts name the new key");

	/* The store and a bundle, under the first key and under the new one. */
	AUDIT_OK(&out, "verify", "--store", env.store, "--pubkey", oldpub, "--calendars", CALENDARS);
	cr_assert(out && strstr(out, "\nrotation: record "), "%s", out);
	free(out);
	AUDIT_OK(&out, "verify", "--store", env.store, "--pubkey", newpub, "--calendars", CALENDARS,
	         "--json");
	j = it_json_text(out);
	free(out);
	cr_assert_eq(json_array_size(it_get(j, "rotations")), 1);
	rot = json_integer_value(json_object_get(json_array_get(it_get(j, "rotations"), 0), "index"));
	json_decref(j);
	cr_assert(rot > before && rot < after, "rotation at %lld, between %lld and %lld", rot, before,
	          after);
	AUDIT_OK(&out, "export", "--store", env.store, "--out", it_path("log.bundle"));
	cr_assert(out && strstr(out, " 2 keys to "), "%s", out);
	free(out);
	AUDIT_OK(&out, "verify", it_path("log.bundle"), "--pubkey", oldpub, "--calendars", CALENDARS);
	free(out);
	AUDIT_OK(&out, "verify", it_path("log.bundle"), "--pubkey", newpub, "--calendars", CALENDARS);
	free(out);

	/* Receipts from before and after, against the latest checkpoint: the
	 * rotation proven by the gateway's inclusion answer for its record in
	 * the handover checkpoint, which carries it. */
	it_fetch("/v1/log/checkpoint", "cp.txt", &note);
	size = it_note_size(note);
	free(note);
	snprintf(q, sizeof(q), "/v1/log/proof/inclusion?index=%lld&size=%lld", rot, rot + 1);
	it_fetch(q, "rotation.json", NULL);
	receipt_ok("before", before, size, oldpub, 1);
	receipt_ok("after", after, size, oldpub, 1);
	receipt_ok("after", after, size, newpub, 0);

	/* The checkpoint from before is a prefix of the one after. */
	snprintf(q, sizeof(q), "/v1/log/proof/consistency?old=%llu&new=%llu", old_size, size);
	it_fetch(q, "consistency.json", NULL);
	AUDIT_OK(&out, "consistency", it_path("old.txt"), it_path("cp.txt"), "--proof",
	         it_path("consistency.json"), "--pubkey", oldpub, "--rotation",
	         it_path("rotation.json"));
	free(out);

	/* The witness kept a checkpoint from before: it follows the rotation
	 * through the gateway, then goes on under the new key. */
	AUDIT_OK(&out, "witness", "--state", it_path("w"), "--url", env.base, "--pubkey", oldpub,
	         "--json");
	j = it_json_text(out);
	free(out);
	cr_assert_eq(json_integer_value(it_get(j, "rotations")), 1);
	cr_assert_eq(json_integer_value(it_get(j, "old_size")), (json_int_t)old_size);
	json_decref(j);
	post(5, "fifth", kid_after);
	AUDIT_OK(&out, "witness", "--state", it_path("w"), "--url", env.base, "--pubkey", newpub,
	         "--json");
	j = it_json_text(out);
	free(out);
	cr_assert_eq(json_integer_value(it_get(j, "rotations")), 0);
	json_decref(j);

	/* A restart with the old key alone is refused now. */
	cr_assert_eq(mr_proc_stop(&env, &env.router, SIGTERM), 0, "router stopped cleanly");
	set_keys(oldkey, NULL);
	cr_assert_eq(prog(NULL, &err, ROUTER, "-c", env.ini, NULL), 1, "refused: %s", err);
	free(err);
	set_keys(newkey, NULL);
	cr_assert_eq(mr_router_start(&env), 0, "the new key alone continues the log");
	wait_for_log();
	IT_DOWN();
}
