/* gw_conn.c's address rules: trusted proxy lists and the client address
 * taken from X-Forwarded-For; the first request line's version check on
 * real loopback sockets, and the hold of a line that arrives in pieces. */
#include "gw.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in v4(const char *a)
{
	struct sockaddr_in s = {.sin_family = AF_INET};

	cr_assert_eq(inet_pton(AF_INET, a, &s.sin_addr), 1);
	return s;
}

static const char *text_of(const struct sockaddr_storage *ss, char *buf)
{
	if (ss->ss_family == AF_INET6)
		return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf,
		                 INET6_ADDRSTRLEN);
	return inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf,
	                 INET6_ADDRSTRLEN);
}

Test(conn, nets_parse_and_match)
{
	struct gw_nets n;
	struct sockaddr_in a = v4("10.1.2.3"), b = v4("11.0.0.1"), c = v4("192.168.1.7");
	struct sockaddr_in6 d = {.sin6_family = AF_INET6};

	cr_assert_eq(gw_nets_parse("10.0.0.0/8, 192.168.1.7 fd00::/8", &n), 0);
	cr_assert_eq(n.n, 3);
	cr_expect(gw_nets_match(&n, (struct sockaddr *)&a));
	cr_expect_not(gw_nets_match(&n, (struct sockaddr *)&b));
	cr_expect(gw_nets_match(&n, (struct sockaddr *)&c));
	cr_assert_eq(inet_pton(AF_INET6, "fd12::1", &d.sin6_addr), 1);
	cr_expect(gw_nets_match(&n, (struct sockaddr *)&d));
	cr_assert_eq(inet_pton(AF_INET6, "fe80::1", &d.sin6_addr), 1);
	cr_expect_not(gw_nets_match(&n, (struct sockaddr *)&d));
	cr_assert_eq(gw_nets_parse("", &n), 0);
	cr_expect_eq(n.n, 0);
	cr_expect_not(gw_nets_match(&n, (struct sockaddr *)&a));
	cr_expect_eq(gw_nets_parse("10.0.0.0/33", &n), -1);
	cr_expect_eq(gw_nets_parse("10.0.0.0/", &n), -1);
	cr_expect_eq(gw_nets_parse("example.org", &n), -1);
	cr_expect_eq(gw_nets_parse("1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8 "
	                           "1.1.1.9 1.1.1.10 1.1.1.11 1.1.1.12 1.1.1.13 1.1.1.14 1.1.1.15 "
	                           "1.1.1.16 1.1.1.17", &n), -1);
}

Test(conn, client_address)
{
	struct gw_nets n;
	struct sockaddr_in proxy = v4("127.0.0.1"), other = v4("127.0.0.2");
	struct sockaddr_storage out;
	char buf[INET6_ADDRSTRLEN];

	cr_assert_eq(gw_nets_parse("127.0.0.1, 10.0.0.0/8", &n), 0);
	cr_expect_eq(gw_client_addr(&n, (struct sockaddr *)&proxy, "203.0.113.5", &out), 0);
	cr_expect_str_eq(text_of(&out, buf), "203.0.113.5");
	/* The right-most address that is not one of ours. */
	cr_expect_eq(gw_client_addr(&n, (struct sockaddr *)&proxy, "1.2.3.4, 203.0.113.5, 10.9.9.9",
	                            &out), 0);
	cr_expect_str_eq(text_of(&out, buf), "203.0.113.5");
	cr_expect_eq(gw_client_addr(&n, (struct sockaddr *)&proxy, " 2001:db8::7 ", &out), 0);
	cr_expect_str_eq(text_of(&out, buf), "2001:db8::7");
	/* Not a trusted peer: the header means nothing. */
	cr_expect_eq(gw_client_addr(&n, (struct sockaddr *)&other, "203.0.113.5", &out), 0);
	cr_expect_str_eq(text_of(&out, buf), "127.0.0.2");
	/* No header, or a broken one: the peer. */
	cr_expect_eq(gw_client_addr(&n, (struct sockaddr *)&proxy, NULL, &out), 0);
	cr_expect_str_eq(text_of(&out, buf), "127.0.0.1");
	cr_expect_eq(gw_client_addr(&n, (struct sockaddr *)&proxy, "unknown", &out), -1);
	cr_expect_str_eq(text_of(&out, buf), "127.0.0.1");
	cr_expect_eq(gw_client_addr(&n, (struct sockaddr *)&proxy, "203.0.113.5,", &out), -1);
}

/* ------------------------------------------- the first request line -- */

/* A loopback TCP pair: *srv the accepted end, the client end returned. */
static int tcp_pair(int *srv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert(l >= 0 && c >= 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert((*srv = accept(l, NULL, NULL)) >= 0);
	close(l);
	return c;
}

static void put(int fd, const char *bytes, size_t n)
{
	cr_assert_eq(send(fd, bytes, n, MSG_NOSIGNAL), (ssize_t)n);
	usleep(20 * 1000);   /* in the server's receive queue */
}

/* Whether an edge-triggered epoll, as MHD's, reports fd readable. */
static int readable(int fd)
{
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET}, out;

	cr_assert(ep >= 0);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	int n = epoll_wait(ep, &out, 1, 50);
	close(ep);
	return n == 1 && (out.events & EPOLLIN);
}

/* What the client end has been sent, up to 511 bytes. */
static void answer_of(int fd, char *buf)
{
	ssize_t n = recv(fd, buf, 511, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
}

/* gw_first_bytes on a fresh connection that sent bytes. */
static int first_of(const char *bytes, size_t n, int tls)
{
	int s, c = tcp_pair(&s);

	put(c, bytes, n);
	int v = gw_first_bytes(s, 1, tls);
	close(s);
	close(c);
	return v;
}

Test(conn, first_line_checked_and_held_until_complete)
{
	static const char good[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	char *line = malloc(GW_LINE_MAX), out[512];
	int s, c;

	cr_assert(line);
	/* complete and served; complete and refused with our 400 */
	cr_expect_eq(first_of(good, sizeof(good) - 1, 0), GW_FIRST_OK);
	c = tcp_pair(&s);
	put(c, "\r\nGET / HTTP/2.0\r\n", 18);
	cr_expect_eq(gw_first_bytes(s, 1, 0), GW_FIRST_VERSION);
	answer_of(c, out);
	cr_expect(strncmp(out, "HTTP/1.1 400 ", 13) == 0 && strstr(out, "unsupported_http_version"),
	          "%s", out);
	close(s);
	close(c);

	/* in pieces: held (not readable) until its end, then given back */
	c = tcp_pair(&s);
	put(c, "GET / HT", 8);
	cr_expect_eq(gw_first_bytes(s, 1, 0), GW_FIRST_PARTIAL);
	cr_expect_not(readable(s), "a held line woke the reader");
	put(c, "TP/1", 4);
	cr_expect_eq(gw_held_line(s, line), GW_FIRST_PARTIAL);
	cr_expect_not(readable(s));
	put(c, ".1\r\n", 4);
	cr_expect_eq(gw_held_line(s, line), GW_FIRST_OK);
	cr_expect(readable(s), "a line given back did not wake the reader");
	close(s);
	close(c);

	/* in pieces, then refused */
	c = tcp_pair(&s);
	put(c, "GET /\0x HTTP/", 13);   /* a NUL is no end of the bytes */
	cr_expect_eq(gw_first_bytes(s, 1, 0), GW_FIRST_PARTIAL);
	put(c, "0.9\r\n", 5);
	cr_expect_eq(gw_held_line(s, line), GW_FIRST_VERSION);
	answer_of(c, out);
	cr_expect(strstr(out, "unsupported_http_version") != NULL, "%s", out);
	close(s);
	close(c);

	/* longer than the first look: read further; longer than MHD's buffer: MHD's */
	size_t n = 5000;
	memset(line, 'a', n);
	memcpy(line, "GET /", 5);
	memcpy(line + n, " HTTP/3\r\n", 9);
	cr_expect_eq(first_of(line, n + 9, 0), GW_FIRST_VERSION);
	memset(line, 'a', GW_LINE_MAX);
	cr_expect_eq(first_of(line, GW_LINE_MAX, 0), GW_FIRST_OK);

	/* no version at all is MHD's 400; under TLS nothing is looked at */
	cr_expect_eq(first_of("GET /\r\n", 7, 0), GW_FIRST_OK);
	cr_expect_eq(first_of("GET / HTTP/2.0\r\n", 16, 1), GW_FIRST_OK);
	free(line);
}
