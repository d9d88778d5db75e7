/* gw_conn.c's address rules: trusted proxy lists and the client address
 * taken from X-Forwarded-For. */
#include "gw.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

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
