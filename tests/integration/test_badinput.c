/* Hostile and broken HTTP input: each is refused with the right status
 * and error JSON (or the connection is closed), and afterwards a normal
 * message is still accepted and neither process has died. */
#include "it.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_S 2

static const char good[] = "{\"channel\":\"mailbox\",\"subject\":\"测试\",\"body\":\"正常的来信。\"}";

static void still_serving(const char *after)
{
	struct mr_http r;

	cr_expect(mr_proc_alive(&env.gateway), "gateway died after %s", after);
	cr_expect(mr_proc_alive(&env.router), "router died after %s", after);
	cr_assert_eq(mr_post_message(NULL, &env, good, &r), 0, "no answer after %s", after);
	cr_expect_eq(r.status, 201, "normal POST after %s: HTTP %ld: %s", after, r.status, r.body);
	mr_http_free(&r);
}

struct bad {
	const char *what;
	const char *content_type;      /* NULL: none */
	const char *body;
	size_t len;                    /* 0: strlen(body) */
	long status;
	const char *code;              /* expected error.code, NULL: any */
};

static void send_bad(const struct bad *b)
{
	struct curl_slist *hd = NULL;
	struct mr_http r;
	char line[160];

	if (b->content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", b->content_type);
		hd = curl_slist_append(hd, line);
	} else {
		hd = curl_slist_append(hd, "Content-Type:");   /* curl would add a form type */
	}
	size_t len = b->len ? b->len : strlen(b->body);
	int rc = mr_http(NULL, env.base, "POST", "/v1/messages", hd, b->body, len, 30000, &r);
	curl_slist_free_all(hd);
	cr_expect_eq(rc, 0, "%s: no HTTP answer", b->what);
	cr_expect_eq(r.status, b->status, "%s: HTTP %ld (wanted %ld): %.300s", b->what, r.status,
	             b->status, r.body ? r.body : "");
	if (r.status >= 400)
		it_expect_error(&r, b->code);
	mr_http_free(&r);
	still_serving(b->what);
}

static int connect_gateway(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)env.port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect: %s", strerror(errno));
	return fd;
}

/* Reads until EOF, error or timeout. Returns the HTTP status seen (0:
 * none) and sets *closed when the peer closed or reset. */
static int read_answer(int fd, int timeout_ms, int *closed)
{
	char buf[4096], head[64] = "";
	size_t have = 0;
	double end = mr_now_s() + timeout_ms / 1000.0;

	*closed = 0;
	for (;;) {
		int left = (int)((end - mr_now_s()) * 1000);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (left <= 0)
			break;
		int n = poll(&p, 1, left);
		if (n <= 0)
			break;
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got <= 0) {
			*closed = 1;
			break;
		}
		if (have < sizeof(head) - 1) {
			size_t k = (size_t)got < sizeof(head) - 1 - have ? (size_t)got : sizeof(head) - 1 - have;
			memcpy(head + have, buf, k);
			have += k;
			head[have] = '\0';
		}
	}
	int status = 0;
	if (strncmp(head, "HTTP/1.", 7) == 0)
		status = atoi(head + 9);
	return status;
}

Test(badinput, refused_and_still_serving, .init = it_init, .fini = it_fini, .timeout = 180)
{
	const struct mr_opts o = {.connection_timeout_s = TIMEOUT_S};

	IT_UP(&o);
	still_serving("start");

	/* 70 KiB of otherwise valid JSON. */
	size_t big_len = 70 * 1024;
	char *big = malloc(big_len + 1);
	cr_assert(big);
	int n = snprintf(big, big_len, "{\"channel\":\"mailbox\",\"subject\":\"大\",\"body\":\"");
	memset(big + n, 'a', big_len - (size_t)n - 2);
	memcpy(big + big_len - 2, "\"}", 2);
	big[big_len] = '\0';

	const struct bad cases[] = {
		{"truncated JSON", "application/json", "{\"channel\":\"mailbox\",\"subject\":\"断", 0, 400, NULL},
		{"70 KiB body", "application/json", big, big_len, 413, NULL},
		{"non-UTF-8", "application/json",
		 "{\"channel\":\"mailbox\",\"subject\":\"\xff\xfe\xc0\xaf\",\"body\":\"x\"}", 0, 400, NULL},
		{"overlong UTF-8", "application/json",
		 "{\"channel\":\"mailbox\",\"subject\":\"\xc0\xbc\",\"body\":\"x\"}", 0, 400, NULL},
		{"wrong type", "application/json",
		 "{\"channel\":\"mailbox\",\"subject\":5,\"body\":\"x\"}", 0, 400, NULL},
		{"contact not an object", "application/json",
		 "{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"x\",\"contact\":[]}", 0, 400, NULL},
		{"unknown field", "application/json",
		 "{\"channel\":\"mailbox\",\"subject\":\"a\",\"body\":\"x\",\"priority\":\"high\"}", 0, 400,
		 "unknown_field"},
		{"unknown channel", "application/json",
		 "{\"channel\":\"hotline\",\"subject\":\"a\",\"body\":\"x\"}", 0, 400, NULL},
		{"missing body", "application/json", "{\"channel\":\"mailbox\",\"subject\":\"a\"}", 0, 400,
		 NULL},
		{"NUL in a string", "application/json",
		 "{\"channel\":\"mailbox\",\"subject\":\"a\\u0000b\",\"body\":\"x\"}", 0, 400, NULL},
		{"array, not object", "application/json", "[1,2,3]", 0, 400, NULL},
		{"empty body", "application/json", "", 0, 400, NULL},
		{"text/plain", "text/plain", good, 0, 415, NULL},
		{"form type", "application/x-www-form-urlencoded", good, 0, 415, NULL},
		{"no content type", NULL, good, 0, 415, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		send_bad(&cases[i]);

	/* The same 70 KiB, chunked, so no Content-Length warns the server. */
	{
		struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
		struct mr_http r;
		hd = curl_slist_append(hd, "Transfer-Encoding: chunked");
		int rc = mr_http(NULL, env.base, "POST", "/v1/messages", hd, big, big_len, 30000, &r);
		curl_slist_free_all(hd);
		cr_expect(rc != 0 || r.status == 413, "chunked 70 KiB: HTTP %ld: %.200s", r.status,
		          r.body ? r.body : "");
		mr_http_free(&r);
		still_serving("chunked 70 KiB body");
	}
	free(big);

	/* Wrong paths and methods. */
	{
		struct mr_http r;
		cr_assert_eq(mr_http(NULL, env.base, "GET", "/v1/nothing", NULL, NULL, 0, 10000, &r), 0);
		cr_expect_eq(r.status, 404, "GET /v1/nothing: HTTP %ld", r.status);
		it_expect_error(&r, NULL);
		mr_http_free(&r);
		cr_assert_eq(mr_http(NULL, env.base, "DELETE", "/v1/messages", NULL, NULL, 0, 10000, &r), 0);
		cr_expect_eq(r.status, 405, "DELETE /v1/messages: HTTP %ld", r.status);
		it_expect_error(&r, NULL);
		mr_http_free(&r);
		cr_assert_eq(mr_http(NULL, env.base, "GET", "/v1/messages/not-a-code", NULL, NULL, 0, 10000,
		                     &r),
		             0);
		cr_expect(r.status == 404 || r.status == 400 || r.status == 401,
		          "GET malformed code: HTTP %ld", r.status);
		mr_http_free(&r);
		still_serving("wrong paths");
	}

	/* Header flood: thousands of headers before an otherwise valid POST.
	 * Accepting it would be the failure. */
	{
		int fd = connect_gateway(), closed;
		char line[128];
		size_t blen = strlen(good);
		snprintf(line, sizeof(line),
		         "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n");
		ssize_t w = send(fd, line, strlen(line), MSG_NOSIGNAL);
		int refused = w < 0;
		for (int i = 0; i < 5000 && !refused; i++) {
			int k = snprintf(line, sizeof(line), "X-Flood-%d: %032d\r\n", i, i);
			if (send(fd, line, (size_t)k, MSG_NOSIGNAL) < 0)
				refused = 1;
		}
		if (!refused) {
			int k = snprintf(line, sizeof(line), "Content-Length: %zu\r\n\r\n", blen);
			if (send(fd, line, (size_t)k, MSG_NOSIGNAL) < 0 || send(fd, good, blen, MSG_NOSIGNAL) < 0)
				refused = 1;
		}
		int status = read_answer(fd, 10000, &closed);
		cr_expect(refused || closed || (status >= 400 && status < 500),
		          "header flood: status %d, connection %s", status, closed ? "closed" : "open");
		cr_expect(status < 200 || status >= 300, "header flood was accepted (HTTP %d)", status);
		close(fd);
		still_serving("header flood");
	}

	/* A sender that trickles header bytes slower than the timeout. */
	{
		int fd = connect_gateway(), closed = 0;
		const char *start = "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
		double t0 = mr_now_s();
		cr_assert(send(fd, start, strlen(start), MSG_NOSIGNAL) > 0);
		for (int i = 0; i < 5 && !closed; i++) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (poll(&p, 1, (TIMEOUT_S + 1) * 1000) > 0) {
				read_answer(fd, 2000, &closed);
				break;
			}
			if (send(fd, "a", 1, MSG_NOSIGNAL) < 0)
				closed = 1;
		}
		double took = mr_now_s() - t0;
		cr_expect(closed, "a slow sender kept its connection for %.1f s (timeout %d s)", took,
		          TIMEOUT_S);
		cr_expect_lt(took, 3.0 * (TIMEOUT_S + 1), "closing a slow sender took %.1f s", took);
		close(fd);
		still_serving("slow sender");
	}

	/* A body that stops halfway. */
	{
		int fd = connect_gateway(), closed = 0;
		char head[256];
		snprintf(head, sizeof(head),
		         "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
		         "Content-Length: 500\r\n\r\n{\"channel\":");
		cr_assert(send(fd, head, strlen(head), MSG_NOSIGNAL) > 0);
		int status = read_answer(fd, (TIMEOUT_S + 4) * 1000, &closed);
		cr_expect(closed, "a stalled body kept its connection (status %d)", status);
		cr_expect(status < 200 || status >= 300, "a half body was accepted (HTTP %d)", status);
		close(fd);
		still_serving("stalled body");
	}

	IT_DOWN();
}
