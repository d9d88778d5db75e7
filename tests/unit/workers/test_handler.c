/* mailroom-handler as a process: argument errors, keygen, and whole
 * exchanges against a stand-in router. */
#include "helpers.h"
#include "pb_err.h"
#include "wk.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

TestSuite(handler_cli, .init = tdir_setup, .fini = tdir_teardown);
TestSuite(handler_net, .init = tdir_setup, .fini = tdir_teardown, .timeout = 60);

static struct run r;

#define RUN(...) RUN_HANDLER(&r, __VA_ARGS__)

#define out_json() run_json(&r)

#define expect_error(exit, code) run_expect_error(&r, (exit), (code))

/* ---- without a router ---- */

Test(handler_cli, usage_errors_exit_1)
{
	const char *id = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

	{
		const char *const av[] = {"mailroom-handler", NULL};
		run_prog(&r, HANDLER_BIN, av);
		expect_error(1, "usage");
	}
	RUN("queues");
	expect_error(1, "usage");                          /* no --key */
	RUN("--key", "k", "frobnicate");
	expect_error(1, "usage");
	RUN("--key", "k", "--bogus", "queues");
	expect_error(1, "usage");
	RUN("--key", "k", "pull", "--queue");
	expect_error(1, "usage");                          /* option without value */
	RUN("--key", "k", "queues", "--queue", "general");
	expect_error(1, "usage");                          /* does not apply */
	RUN("--key", "k", "reply", "--text", "hi");
	expect_error(1, "usage");                          /* no id */
	RUN("--key", "k", "release", id, id);
	expect_error(1, "usage");
	RUN("--key", "k", "queues", "extra");
	expect_error(1, "usage");
	RUN("--key", "k", "pull");
	expect_error(1, "usage");                          /* no --queue */
	RUN("--key", "k", "pull", "--queue", "general", "--wait", "soon");
	expect_error(1, "usage");
	RUN("--key", "k", "pull", "--queue", "general", "--wait", "-1");
	expect_error(1, "usage");
	RUN("--key", "k", "reply", id);
	expect_error(1, "usage");                          /* no --text */
	RUN("--key", "k", "transfer", id, "--to", "roads");
	expect_error(1, "usage");                          /* no --reason */
}

Test(handler_cli, help_is_not_an_error)
{
	RUN("--help");
	cr_assert_eq(r.exit, 0);
	cr_assert(strstr(r.out, "usage:"), "%s", r.out);
}

Test(handler_cli, invalid_input_exit_8)
{
	RUN("--key", "k", "reply", "not-an-id", "--text", "hi");
	expect_error(8, "invalid_id");
	RUN("--key", "k", "release", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--lease", "abc");
	expect_error(8, "invalid_lease");
	RUN("--key", "k", "reply", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--text", "");
	expect_error(8, "invalid_text");
	RUN("--key", "k", "pull", "--queue", "Roads Dept");
	expect_error(8, "invalid_queue");
	RUN("--key", "k", "transfer", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--to", "a/b", "--reason", "x");
	expect_error(8, "invalid_queue");
}

Test(handler_cli, keygen_writes_key_and_prints_config)
{
	uint8_t sk[64], pk[32];
	char hex[65], want[200];
	json_t *j;

	RUN("--key", "alice.key", "keygen");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_eq(wk_key_load(tpath("alice.key"), sk, pk, NULL), PB_OK);
	pb_hex(pk, 32, hex);
	j = out_json();
	cr_assert_str_eq(json_string_value(json_object_get(j, "public_key")), hex);
	snprintf(want, sizeof(want), "[handler.alice]\nkey = %s\nqueues = general", hex);
	cr_assert_str_eq(json_string_value(json_object_get(j, "config")), want);
	char id[PB_ACTOR_ID_TEXT];
	pb_actor_id(pk, id);
	snprintf(want, sizeof(want), "handler:%s", id);
	cr_assert_str_eq(json_string_value(json_object_get(j, "actor")), want, "the log's name for it");
	json_decref(j);

	RUN("--key", "alice.key", "pubkey");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	snprintf(want, sizeof(want), "%s\n", hex);
	cr_assert_str_eq(r.out, want, "bare hex for scripts");

	RUN("--key", "alice.key", "keygen");
	expect_error(7, "exists");
	uint8_t pk2[32];
	cr_assert_eq(wk_key_load(tpath("alice.key"), sk, pk2, NULL), PB_OK);
	cr_assert_arr_eq(pk, pk2, 32, "not overwritten");

	RUN("--key", "k2", "keygen", "--name", "roads-desk");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert(strstr(r.out, "[handler.roads-desk]"), "%s", r.out);
	RUN("--key", "k3", "keygen", "--name", "a]b");
	expect_error(8, "invalid_name");
	cr_assert_eq(access(tpath("k3"), F_OK), -1, "nothing written for a bad name");
}

Test(handler_cli, missing_key_file_exit_8)
{
	RUN("--key", "nokey", "--router", "ipc://nobody.ipc", "queues");
	expect_error(8, "invalid");
}

Test(handler_cli, unreachable_router_exit_2)
{
	uint8_t pk[32];

	cr_assert_eq(wk_key_create(tpath("alice.key"), pk), PB_OK);
	RUN("--key", "alice.key", "--router", "ipc://nobody.ipc", "queues");
	expect_error(2, "unavailable");
	cr_assert(strstr(r.err, "ipc://nobody.ipc"), "stderr names the url: %s", r.err);
	/* The default config is absent here: defaults apply, the same failure. */
	RUN("--key", "alice.key", "queues");
	expect_error(2, "unavailable");
}

Test(handler_cli, named_config_must_exist)
{
	uint8_t pk[32];

	cr_assert_eq(wk_key_create(tpath("alice.key"), pk), PB_OK);
	RUN("-c", "missing.ini", "--key", "alice.key", "queues");
	expect_error(8, "bad_config");
}

Test(handler_cli, router_url_from_config)
{
	uint8_t pk[32];
	FILE *f = fopen(tpath("m.ini"), "w");

	cr_assert_not_null(f);
	fputs("[router]\nlisten = ipc://from-config.ipc\n", f);
	fclose(f);
	cr_assert_eq(wk_key_create(tpath("alice.key"), pk), PB_OK);
	RUN("-c", "m.ini", "--key", "alice.key", "queues");
	expect_error(2, "unavailable");
	cr_assert(strstr(r.err, "from-config.ipc"), "%s", r.err);
	RUN("-c", "m.ini", "--router", "ipc://override.ipc", "--key", "alice.key", "queues");
	cr_assert(strstr(r.err, "override.ipc"), "%s", r.err);
}

/* ---- against the stand-in router ---- */

static struct fake_cfg cfg;
static const char *url;
static uint8_t pk[32];

static void net_start(void)
{
	memset(&cfg, 0, sizeof(cfg));
	pb_id_new(1764000000000, cfg.id);
	memset(cfg.token, 0xa5, sizeof(cfg.token));
	memset(cfg.renewed, 0x5a, sizeof(cfg.renewed));
	cr_assert_eq(wk_key_create(tpath("alice.key"), pk), PB_OK);
}

static const char *idtext(void)
{
	static char t[PB_ID_TEXT_LEN + 1];

	pb_id_to_text(cfg.id, t);
	return t;
}

static const char *state_file(const char *dir)
{
	static char p[600];

	snprintf(p, sizeof(p), "%s/%s", tpath(dir), idtext());
	return p;
}

static void expect_token_file(const char *dir, const uint8_t tok[16])
{
	char want[40], text[64] = {0};
	FILE *f = fopen(state_file(dir), "r");

	cr_assert_not_null(f, "no token file %s", state_file(dir));
	cr_assert_gt(fread(text, 1, sizeof(text) - 1, f), 0);
	fclose(f);
	pb_hex(tok, 16, want);
	strcat(want, "\n");
	cr_assert_str_eq(text, want);
}

Test(handler_net, queues)
{
	struct fake_seen s;
	json_t *j, *q;

	net_start();
	url = fake_start(&cfg);
	RUN("--router", url, "--key", "alice.key", "queues");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	j = out_json();
	q = json_array_get(json_object_get(j, "queues"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(q, "name")), "general");
	cr_assert_eq(json_integer_value(json_object_get(q, "depth")), 3);
	cr_assert_eq(json_integer_value(json_object_get(q, "leased")), 1);
	cr_assert_eq(json_array_size(json_object_get(j, "queues")), 2);
	json_decref(j);
	fake_seen(&s);
	cr_assert_eq(s.op, MAILROOM__REQUEST__OP_QUEUES);
	cr_assert(s.auth_ok);
	cr_assert_arr_eq(s.pk, pk, 32, "signed with the key file's key");
}

Test(handler_net, fresh_nonce_every_request)
{
	struct fake_seen a, b;

	net_start();
	url = fake_start(&cfg);
	RUN("--router", url, "--key", "alice.key", "queues");
	cr_assert_eq(r.exit, 0);
	fake_seen(&a);
	RUN("--router", url, "--key", "alice.key", "queues");
	cr_assert_eq(r.exit, 0);
	fake_seen(&b);
	cr_assert_eq(b.nreq, 2);
	cr_assert_arr_neq(a.nonce, b.nonce, 16);
	cr_assert_gt(b.ts_ms, 0);
}

Test(handler_net, pull_keeps_token_and_reply_drops_it)
{
	struct fake_seen s;
	json_t *j, *m;
	char hex[40];

	net_start();
	url = fake_start(&cfg);
	RUN("--router", url, "--key", "alice.key", "pull", "--queue", "general", "--wait", "2");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert(strstr(r.out, "路灯不亮"), "UTF-8, not \\u escapes: %s", r.out);
	j = out_json();
	m = json_object_get(j, "message");
	cr_assert(json_is_object(m), "%s", r.out);
	cr_assert_str_eq(json_string_value(json_object_get(m, "id")), idtext());
	pb_hex(cfg.token, 16, hex);
	cr_assert_str_eq(jstr(j, "lease", "token"), hex);
	json_decref(j);
	fake_seen(&s);
	cr_assert_eq(s.op, MAILROOM__REQUEST__OP_PULL);
	cr_assert_str_eq(s.queue, "general");
	cr_assert_eq(s.wait_ms, 2000);
	expect_token_file("alice.key.leases", cfg.token);

	RUN("--router", url, "--key", "alice.key", "reply", idtext(), "--text",
	    "已修复，谢谢。");
	cr_assert_eq(r.exit, 0, "%s %s", r.out, r.err);
	fake_seen(&s);
	cr_assert_eq(s.op, MAILROOM__REQUEST__OP_REPLY);
	cr_assert_str_eq(s.text, "已修复，谢谢。");
	cr_assert_eq(s.token_len, 16);
	cr_assert_arr_eq(s.token, cfg.token, 16);
	cr_assert_arr_eq(s.id, cfg.id, 16);
	j = out_json();
	cr_assert_str_eq(json_string_value(json_object_get(j, "id")), idtext());
	json_decref(j);
	cr_assert_eq(access(state_file("alice.key.leases"), F_OK), -1, "token file removed");
}

Test(handler_net, pull_empty_exit_3)
{
	json_t *j;

	net_start();
	cfg.empty = 1;
	url = fake_start(&cfg);
	RUN("--router", url, "--key", "alice.key", "pull", "--queue", "general");
	cr_assert_eq(r.exit, 3, "%s", r.err);
	j = out_json();
	cr_assert(json_is_null(json_object_get(j, "message")));
	cr_assert_eq(json_object_size(j), 1);
	json_decref(j);
	cr_assert_eq(access(tpath("alice.key.leases"), F_OK), -1, "no token kept");

	fake_stop();
	cfg.empty = 2;
	url = fake_start(&cfg);
	RUN("--router", url, "--key", "alice.key", "pull", "--queue", "general");
	cr_assert_eq(r.exit, 3, "%s", r.err);
}

Test(handler_net, renew_keeps_file_release_removes)
{
	struct fake_seen s;
	json_t *j;

	net_start();
	url = fake_start(&cfg);
	RUN("--router", url, "--key", "alice.key", "pull", "--queue", "general");
	cr_assert_eq(r.exit, 0, "%s", r.err);

	RUN("--router", url, "--key", "alice.key", "renew", idtext());
	cr_assert_eq(r.exit, 0, "%s", r.err);
	j = out_json();
	cr_assert_str_eq(json_string_value(json_object_get(j, "id")), idtext());
	cr_assert(json_is_object(json_object_get(j, "lease")), "%s", r.out);
	json_decref(j);
	expect_token_file("alice.key.leases", cfg.renewed);

	RUN("--router", url, "--key", "alice.key", "release", idtext());
	cr_assert_eq(r.exit, 0, "%s", r.err);
	fake_seen(&s);
	cr_assert_eq(s.op, MAILROOM__REQUEST__OP_RELEASE);
	cr_assert_arr_eq(s.token, cfg.renewed, 16, "the renewed token was used");
	cr_assert_eq(access(state_file("alice.key.leases"), F_OK), -1);
}

Test(handler_net, transfer_with_state_override)
{
	struct fake_seen s;

	net_start();
	url = fake_start(&cfg);
	RUN("--router", url, "--key", "alice.key", "--state", "st", "pull", "--queue", "general");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	expect_token_file("st", cfg.token);
	cr_assert_eq(access(tpath("alice.key.leases"), F_OK), -1);

	RUN("--router", url, "--key", "alice.key", "transfer", idtext(), "--to", "roads",
	    "--reason", "属地管理", "--state", "st");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	fake_seen(&s);
	cr_assert_eq(s.op, MAILROOM__REQUEST__OP_TRANSFER);
	cr_assert_str_eq(s.to, "roads");
	cr_assert_str_eq(s.reason, "属地管理");
	cr_assert_eq(access(state_file("st"), F_OK), -1);
}

Test(handler_net, lease_flag_overrides_lookup)
{
	char hex[40];

	net_start();
	url = fake_start(&cfg);
	pb_hex(cfg.token, 16, hex);
	RUN("--router", url, "--key", "alice.key", "release", idtext(), "--lease", hex);
	cr_assert_eq(r.exit, 0, "%s", r.err);

	/* A wrong --lease is refused, and says nothing about the kept token. */
	struct wk_state st;
	uint8_t bad[16] = {1};
	cr_assert_eq(wk_state_init(&st, tpath("alice.key"), NULL), PB_OK);
	cr_assert_eq(wk_lease_save(&st, cfg.id, cfg.token, 16), PB_OK);
	pb_hex(bad, 16, hex);
	RUN("--router", url, "--key", "alice.key", "release", idtext(), "--lease", hex);
	expect_error(6, "lease_invalid");
	expect_token_file("alice.key.leases", cfg.token);
}

Test(handler_net, dead_kept_token_is_dropped)
{
	struct wk_state st;
	uint8_t bad[16] = {7};

	net_start();
	url = fake_start(&cfg);
	cr_assert_eq(wk_state_init(&st, tpath("alice.key"), NULL), PB_OK);
	cr_assert_eq(wk_lease_save(&st, cfg.id, bad, sizeof(bad)), PB_OK);
	RUN("--router", url, "--key", "alice.key", "reply", idtext(), "--text", "x");
	expect_error(6, "lease_invalid");
	cr_assert_eq(access(state_file("alice.key.leases"), F_OK), -1);
}

Test(handler_net, router_codes_map_to_exits)
{
	static const struct {
		int code;
		int exit;
	} cases[] = {
		{PB_EAUTH, 5},     {PB_ESTALE, 5}, {PB_EREPLAY, 5}, {PB_EFORBIDDEN, 5},
		{PB_ENOTFOUND, 4}, {PB_ESTATE, 7}, {PB_EINVAL, 8},  {PB_EIO, 9},
		{PB_EUNAVAIL, 2},
	};

	net_start();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg.code = cases[i].code;
		url = fake_start(&cfg);
		RUN("--router", url, "--key", "alice.key", "queues");
		expect_error(cases[i].exit, pb_err_name(cases[i].code));
		cr_assert(strstr(r.out, "refused by the test"), "router's text shown: %s", r.out);
		fake_stop();
	}
}
