/* systemctl reload (SIGHUP) with the real processes: the router takes a
 * new route from the edited file without a restart and keeps serving; a
 * broken file is refused and the running routes stay; the gateway's
 * access log names route and status, never the path, and a reload turns
 * it off. Both tell systemd when they are ready (sd_notify). */
#include "it.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
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
