/* systemctl reload (SIGHUP) with the real processes: the router takes a
 * new route from the edited file without a restart and keeps serving; a
 * broken file is refused and the running routes stay; the gateway's
 * access log names route and status, never the path, and a reload turns
 * it off. Both tell systemd when they are ready (sd_notify). */
#include "it.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

TestSuite(reload, .init = it_init, .fini = it_fini, .timeout = 120);

static const char water[] =
	"{\"channel\":\"mailbox\",\"subject\":\"水管爆裂\",\"body\":\"三号楼水管爆裂，请尽快处理。\"}";

static void append_ini(const char *text)
{
	FILE *f = fopen(env.ini, "a");

	cr_assert_not_null(f, "%s", env.ini);
	cr_assert(fputs(text, f) >= 0);
	cr_assert_eq(fclose(f), 0);
}

/* The queue a new letter about a burst pipe goes to; its tracking code
 * into code when code is not NULL. */
static char *post_queue(char *code, size_t len)
{
	struct mr_http r = {0};
	json_t *j, *q, *t;
	char *out;

	cr_assert_eq(mr_post_message(NULL, &env, water, &r), 0);
	cr_assert_eq(r.status, 201, "status %ld: %.*s", r.status, (int)r.len, r.body);
	j = mr_http_json(&r);
	cr_assert_not_null(j);
	q = json_object_get(j, "queue");
	t = json_object_get(j, "tracking_code");
	cr_assert(json_is_string(q) && json_is_string(t));
	out = strdup(json_string_value(q));
	if (code)
		snprintf(code, len, "%s", json_string_value(t));
	json_decref(j);
	mr_http_free(&r);
	return out;
}

static int log_count(const struct mr_proc *p, const char *needle)
{
	size_t len = 0;
	char *text = mr_read_text(p->log, &len);
	int n = 0;

	cr_assert_not_null(text, "%s", p->log);
	for (char *s = text; (s = strstr(s, needle)); s += strlen(needle))
		n++;
	free(text);
	return n;
}

/* log_count once the line is there, or after 5 seconds. */
static int wait_log(const struct mr_proc *p, const char *needle)
{
	int n = 0;

	for (int i = 0; i < 100 && !(n = log_count(p, needle)); i++)
		mr_sleep_ms(50);
	return n;
}

/* Posts until the letter lands in want, for up to 5 seconds (the writer
 * applies a reload between two batches). */
static int lands_in(const char *want)
{
	for (int i = 0; i < 50; i++) {
		char *q = post_queue(NULL, 0);
		int hit = strcmp(q, want) == 0;

		free(q);
		if (hit)
			return 1;
		mr_sleep_ms(100);
	}
	return 0;
}

Test(reload, router_takes_a_new_route_and_refuses_a_broken_file)
{
	char *q;

	IT_UP(NULL);
	q = post_queue(NULL, 0);
	cr_assert_str_eq(q, "general");
	free(q);

	append_ini("\n[route.water]\nkeywords = 水管\nqueue = water\n");
	cr_assert_eq(kill(env.router.pid, SIGHUP), 0);
	cr_assert(lands_in("water"), "the new route was not taken after SIGHUP");
	cr_assert(mr_proc_alive(&env.router));
	cr_assert_geq(log_count(&env.router, "reload: routes 2 -> 3"), 1);
	cr_assert_geq(log_count(&env.router, "configuration reloaded"), 1);

	/* A broken file: refused, said so, the running routes stay. */
	append_ini("\n[route.broken]\nchannel = nonsense\nqueue = nowhere\n");
	cr_assert_eq(kill(env.router.pid, SIGHUP), 0);
	wait_log(&env.router, "reload refused");
	cr_assert_eq(log_count(&env.router, "reload refused, the running configuration stays"), 1);
	cr_assert(mr_proc_alive(&env.router));
	q = post_queue(NULL, 0);
	cr_assert_str_eq(q, "water");
	free(q);
	IT_DOWN();
}

Test(reload, gateway_access_log_names_routes_and_a_reload_turns_it_off)
{
	char code[32], path[64], *q;
	struct mr_http r = {0};
	int lines;

	IT_UP(NULL);
	q = post_queue(code, sizeof(code));
	free(q);
	snprintf(path, sizeof(path), "/v1/messages/%s", code);
	cr_assert_eq(mr_http(NULL, env.base, "GET", path, NULL, NULL, 0, 5000, &r), 0);
	cr_assert_eq(r.status, 401, "status %ld", r.status);
	mr_http_free(&r);
	/* Logged when MHD is done with the request, just after the answer. */
	cr_assert_geq(wait_log(&env.gateway, "access POST /v1/messages 201 "), 1);
	cr_assert_geq(wait_log(&env.gateway, "access GET /v1/messages/{tracking_code} 401 "), 1);
	/* The path holds the tracking code: it is never logged. */
	cr_assert_eq(log_count(&env.gateway, code), 0, "the tracking code is in the log");

	append_ini("\n[gateway]\naccess_log = no\n");
	cr_assert_eq(kill(env.gateway.pid, SIGHUP), 0);
	wait_log(&env.gateway, "configuration reloaded");
	cr_assert_eq(log_count(&env.gateway, "reload: access_log off"), 1);
	lines = log_count(&env.gateway, "access ");
	q = post_queue(NULL, 0);
	free(q);
	mr_sleep_ms(200);
	cr_assert_eq(log_count(&env.gateway, "access "), lines, "access_log = no still logs");

	/* A file that does not load leaves the gateway as it was. */
	append_ini("\n[gateway]\naccess_log = maybe\n");
	cr_assert_eq(kill(env.gateway.pid, SIGHUP), 0);
	wait_log(&env.gateway, "reload refused");
	cr_assert_eq(log_count(&env.gateway, "reload refused"), 1);
	cr_assert(mr_proc_alive(&env.gateway));
	IT_DOWN();
}

/* A stand-in for systemd's notification socket: router and gateway each
 * send READY=1 once they serve. */
Test(reload, router_and_gateway_notify_readiness)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {5, 0};
	char buf[512];
	int fd, ready = 0;

	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/mr-notify-%d.sock", (int)getpid());
	unlink(sa.sun_path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	cr_assert_eq(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);
	IT_UP(NULL);
	unsetenv("NOTIFY_SOCKET");
	while (ready < 2) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

		if (n < 0)
			break;
		buf[n] = '\0';
		if (strstr(buf, "READY=1"))
			ready++;
	}
	close(fd);
	unlink(sa.sun_path);
	cr_assert_eq(ready, 2, "READY=1 from %d of router and gateway", ready);
	IT_DOWN();
}

/* A 12345 push signed as app (secret its hex key, NULL: the env's), with
 * nonce when given; the status. */
static long push(const char *app, const char *secret, const char *nonce, char *used, int n)
{
	char order_no[48];
	struct mr_hl_sign s = {.app_id = app, .secret = secret, .nonce = nonce};
	struct mr_http r;
	char *json;

	snprintf(order_no, sizeof(order_no), "GD%ld-%04d", (long)time(NULL), n);
	json = mr_order_json(order_no, 1, NULL);
	cr_assert_not_null(json);
	cr_assert_eq(mr_post_order(NULL, &env, json, &s, &r), 0);
	if (used)
		snprintf(used, 65, "%s", s.used_nonce);
	long st = r.status;
	if (st == 401)
		cr_log_info("push as %s: %.*s", app, (int)r.len, r.body);
	mr_http_free(&r);
	free(json);
	return st;
}

/* The petition push's refusal for app "second" with an unsigned body:
 * unknown_app before the app is configured, bad_signature after. */
static void expect_petition(const char *code)
{
	struct curl_slist *hd = NULL;
	struct mr_http r;
	char ts[64];

	snprintf(ts, sizeof(ts), "X-Timestamp: %ld", (long)time(NULL));
	hd = curl_slist_append(hd, "Content-Type: application/json");
	hd = curl_slist_append(hd, "X-App-Id: second");
	hd = curl_slist_append(hd, ts);
	hd = curl_slist_append(hd, "X-Nonce: 0123456789abcdef0123");
	hd = curl_slist_append(hd, "X-Signature: 00");
	cr_assert_eq(mr_http(NULL, env.base, "POST", "/v1/petition/transfers", hd, "{}", 2, 5000, &r),
	             0);
	curl_slist_free_all(hd);
	cr_expect_eq(r.status, 401, "petition push: HTTP %ld", r.status);
	it_expect_error(&r, code);
	mr_http_free(&r);
}

/* Removes the [hotline.app.NAME] section the harness wrote. */
static void drop_app(const char *name)
{
	char head[96], *text, *at, *end;
	size_t len;
	FILE *f;

	snprintf(head, sizeof(head), "[hotline.app.%s]\n", name);
	text = mr_read_text(env.ini, &len);
	cr_assert_not_null(text);
	at = strstr(text, head);
	cr_assert_not_null(at, "no %s in %s", head, env.ini);
	end = strstr(at + strlen(head), "\n\n");
	cr_assert_not_null(end);
	memmove(at, end + 2, strlen(end + 2) + 1);
	f = fopen(env.ini, "w");
	cr_assert_not_null(f);
	cr_assert(fputs(text, f) >= 0);
	cr_assert_eq(fclose(f), 0);
	free(text);
}

Test(reload, gateway_takes_new_12345_apps_and_refuses_a_broken_file)
{
	static const char second_key[] = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
	char path[600], text[1400], nonce_first[65], nonce_second[65];
	FILE *f;

	IT_UP(NULL);
	mr_wait_past_gateway_start(&env);
	cr_assert_eq(push(MR_HOTLINE_APP, NULL, NULL, nonce_first, 1), 201);
	cr_assert_eq(push("second", second_key, NULL, NULL, 2), 401, "not configured yet");
	expect_petition("unknown_app");

	/* A new app: its secret file, its section, SIGHUP. */
	snprintf(path, sizeof(path), "%s/keys/hotline-second.secret", env.dir);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	cr_assert(fprintf(f, "%s\n", second_key) > 0);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0600), 0);
	snprintf(text, sizeof(text),
	         "\n[hotline.app.second]\nsecret_file = %s\n\n[petition.app.second]\nsecret_file = %s\n\n",
	         path, path);
	append_ini(text);
	cr_assert_eq(kill(env.gateway.pid, SIGHUP), 0);
	cr_assert_eq(wait_log(&env.gateway, "hotline app 'second' added"), 1);
	cr_assert_eq(log_count(&env.gateway, "petition app 'second' added"), 1);
	expect_petition("bad_signature");
	cr_assert_eq(push("second", second_key, NULL, nonce_second, 3), 201);
	cr_assert_eq(push(MR_HOTLINE_APP, NULL, NULL, NULL, 4), 201, "the running app stays");
	/* The nonces seen before the reload are still remembered. */
	cr_assert_eq(push(MR_HOTLINE_APP, NULL, nonce_first, NULL, 5), 401);

	/* The first app removed: refused; the second, now first in the file,
	 * keeps its nonce memory. */
	drop_app(MR_HOTLINE_APP);
	cr_assert_eq(kill(env.gateway.pid, SIGHUP), 0);
	snprintf(text, sizeof(text), "hotline app '%s' removed", MR_HOTLINE_APP);
	cr_assert_eq(wait_log(&env.gateway, text), 1);
	cr_assert_eq(push(MR_HOTLINE_APP, NULL, NULL, NULL, 6), 401, "a removed app still pushes");
	cr_assert_eq(push("second", second_key, NULL, NULL, 7), 201);
	cr_assert_eq(push("second", second_key, nonce_second, NULL, 8), 401, "a replay after reload");

	/* A broken file (a secret that cannot be read): refused, the running
	 * apps stay, and no secret is ever logged. */
	append_ini("[hotline.app.broken]\nsecret_file = /nonexistent/broken.secret\n\n");
	cr_assert_eq(kill(env.gateway.pid, SIGHUP), 0);
	cr_assert_eq(wait_log(&env.gateway, "reload refused"), 1);
	cr_assert_eq(log_count(&env.gateway, "hotline app 'broken'"), 1, "the reason names the app");
	cr_assert_eq(push("second", second_key, NULL, NULL, 9), 201, "the running apps stay");
	cr_assert_eq(push(MR_HOTLINE_APP, NULL, NULL, NULL, 10), 401);
	cr_assert_eq(log_count(&env.gateway, second_key), 0, "a secret is in the log");
	cr_assert_eq(log_count(&env.gateway, env.hotline_secret), 0, "a secret is in the log");
	cr_assert(mr_proc_alive(&env.gateway));
	IT_DOWN();
}
