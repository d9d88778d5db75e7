/* deploy/nginx/mailroom.conf in front of the gateway: Debian's nginx as a
 * plain process on a free loopback port with the file (its ports
 * replaced), the gateway trusting it; each client's own address is what
 * the per-address limit counts. Exits 77 (skipped) when nginx is not
 * installed; deploy/setup.sh installs it. */
#include "it.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SKIP 77

static const char good[] = "{\"channel\":\"mailbox\",\"subject\":\"代理\",\"body\":\"经由代理的来信。\"}";

static const char *nginx_bin(void)
{
	static const char *const where[] = {"/usr/sbin/nginx", "/usr/bin/nginx"};

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	(void)set;
	if (!nginx_bin()) {
		fprintf(stderr, "nginx is not installed (deploy/setup.sh installs it): skipped\n");
		exit(SKIP);
	}
}

/* A copy of s with every from replaced by to; malloc'd. */
static char *replace(const char *s, const char *from, const char *to)
{
	size_t n = 0, fl = strlen(from), tl = strlen(to);

	for (const char *p = s; (p = strstr(p, from)) != NULL; p += fl)
		n++;
	char *out = malloc(strlen(s) + n * tl + 1), *o = out;
	cr_assert(out);
	for (const char *p = s, *q; *p; p = q + fl) {
		if (!(q = strstr(p, from))) {
			strcpy(o, p);
			return out;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
	}
	*o = '\0';
	return out;
}

/* A POST through nginx from 127.0.0.<host>; the status. */
static long post_via(int port, int host)
{
	struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
	char req[1024], buf[256];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t have = 0;

	cr_assert(fd >= 0);
	src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)host);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.sin_port = htons((uint16_t)port);
	cr_assert_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0, "bind: %s", strerror(errno));
	cr_assert_eq(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0, "connect: %s",
	             strerror(errno));
	snprintf(req, sizeof(req),
	         "POST /v1/messages HTTP/1.1\r\nHost: mailroom.test\r\nContent-Type: application/json\r\n"
	         "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
	         strlen(good), good);
	cr_assert_eq(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (have >= sizeof(buf) - 1 || poll(&p, 1, 5000) <= 0)
			break;
		ssize_t got = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	buf[have] = '\0';
	close(fd);
	return strncmp(buf, "HTTP/1.1 ", 9) == 0 ? atol(buf + 9) : 0;
}

static pid_t nginx_pid;

static void stop_nginx(void)
{
	if (nginx_pid > 0) {
		kill(nginx_pid, SIGTERM);
		waitpid(nginx_pid, NULL, 0);
		nginx_pid = 0;
	}
	it_fini();
}

Test(nginx, per_address_limit_through_proxy, .init = it_init, .fini = stop_nginx, .timeout = 120)
{
	const struct mr_opts o = {
		.extra_ini = "[gateway]\nsubmit_per_minute = 2\ntrusted_proxies = 127.0.0.1\n"};
	char path[MR_PATH + 32], gw[64], listen_line[64];
	int port = mr_free_port();

	cr_assert_gt(port, 0);
	IT_UP(&o);

	/* The example file, pointed at this gateway and a free port. */
	char *conf = mr_read_text(MR_SOURCE_DIR "/deploy/nginx/mailroom.conf", NULL);
	cr_assert(conf, "cannot read deploy/nginx/mailroom.conf");
	snprintf(gw, sizeof(gw), "127.0.0.1:%d", env.port);
	snprintf(listen_line, sizeof(listen_line), "listen 127.0.0.1:%d;", port);
	char *a = replace(conf, "127.0.0.1:8080", gw), *b = replace(a, "listen 80;", listen_line);
	cr_assert(strcmp(a, conf) != 0 && strcmp(b, a) != 0, "the example's ports were not found");
	snprintf(path, sizeof(path), "%s/mailroom.conf", env.dir);
	FILE *f = fopen(path, "we");
	cr_assert(f);
	fputs(b, f);
	cr_assert_eq(fclose(f), 0);
	free(conf);
	free(a);
	free(b);

	/* Its own process, files and temp directories: no root needed. */
	snprintf(path, sizeof(path), "%s/nginx.conf", env.dir);
	cr_assert(f = fopen(path, "we"));
	fprintf(f,
	        "daemon off;\nmaster_process off;\nworker_processes 1;\npid %s/nginx.pid;\n"
	        "error_log %s/nginx-error.log warn;\nevents { worker_connections 256; }\n"
	        "http {\n access_log off;\n client_body_temp_path %s/nb;\n proxy_temp_path %s/np;\n"
	        " fastcgi_temp_path %s/nf;\n uwsgi_temp_path %s/nu;\n scgi_temp_path %s/ns;\n"
	        " include %s/mailroom.conf;\n}\n",
	        env.dir, env.dir, env.dir, env.dir, env.dir, env.dir, env.dir, env.dir);
	cr_assert_eq(fclose(f), 0);
	nginx_pid = fork();
	cr_assert_geq(nginx_pid, 0);
	if (nginx_pid == 0) {
		execl(nginx_bin(), "nginx", "-p", env.dir, "-e", "stderr", "-c", path, (char *)NULL);
		_exit(127);
	}
	/* Ready once it accepts. */
	int up = 0;
	for (int i = 0; i < 100 && !up; i++) {
		struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		up = connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0;
		close(fd);
		if (!up)
			mr_sleep_ms(50);
	}
	cr_assert(up, "nginx did not start (see %s/nginx-error.log)", env.dir);

	/* Two citizens behind the one proxy address: each has its own limit. */
	cr_expect_eq(post_via(port, 2), 201);
	cr_expect_eq(post_via(port, 2), 201);
	cr_expect_eq(post_via(port, 2), 429, "the forwarded address was not limited");
	cr_expect_eq(post_via(port, 3), 201, "a second citizen shared the first one's limit");
	cr_expect_eq(post_via(port, 3), 201);
	cr_expect_eq(post_via(port, 3), 429);
	IT_DOWN();
}
