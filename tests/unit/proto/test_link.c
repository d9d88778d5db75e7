/* pb_link: a router link counts its pipes and, once it has had none for
 * stale_ms, replaces a dialer that stopped trying. The stuck dialer is
 * made here by closing it, which is what nng 1.5.2's looks like from
 * outside: no pipe, and no connect() ever again. */
#include "pb_link.h"
#include "pb_time.h"

#include <criterion/criterion.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], url[128];
static nng_socket rep, req;
static struct pb_link lk;

static void listen_rep(void)
{
	cr_assert_eq(nng_rep0_open(&rep), 0);
	cr_assert_eq(nng_listen(rep, url, NULL, 0), 0);
}

static void setup(void)
{
	char err[256];

	snprintf(dir, sizeof(dir), "/tmp/pb-link-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(url, sizeof(url), "ipc://%s/router.ipc", dir);
	listen_rep();
	cr_assert_eq(nng_req0_open(&req), 0);
	cr_assert_eq(nng_socket_set_ms(req, NNG_OPT_RECONNMINT, 20), 0);
	cr_assert_eq(nng_socket_set_ms(req, NNG_OPT_RECONNMAXT, 50), 0);
	cr_assert_eq(pb_link_dial(&lk, req, url, NULL, NNG_FLAG_NONBLOCK, err, sizeof(err)), 0,
	             "%s", err);
	lk.stale_ms = 200;
}

static void teardown(void)
{
	char path[160];

	pb_link_close(&lk);
	nng_close(req);
	pb_link_fini(&lk);
	nng_close(rep);
	/* nng reaps closed pipes on its own threads, with no call that waits
	 * for them (nng_fini would also close Criterion's own nng pipe):
	 * give them time. What nng 1.5.2 still leaves unreachable now and
	 * then is suppressed for this test alone (test_link.lsan). */
	nng_msleep(300);
	snprintf(path, sizeof(path), "%s/router.ipc", dir);
	unlink(path);
	rmdir(dir);
}

/* Polls pb_link_up for up to ms. */
static int comes_up(int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (pb_link_up(&lk))
			return 1;
		usleep(10000);
	}
	return pb_link_up(&lk);
}

static void round_trip(void)
{
	char *got = NULL;
	size_t len = 0;

	cr_assert_eq(nng_socket_set_ms(req, NNG_OPT_SENDTIMEO, 2000), 0);
	cr_assert_eq(nng_socket_set_ms(rep, NNG_OPT_RECVTIMEO, 2000), 0);
	cr_assert_eq(nng_send(req, "ping", 5, 0), 0);
	cr_assert_eq(nng_recv(rep, &got, &len, NNG_FLAG_ALLOC), 0);
	cr_assert_str_eq(got, "ping");
	cr_assert_eq(nng_send(rep, got, len, NNG_FLAG_ALLOC), 0);
	got = NULL;
	cr_assert_eq(nng_recv(req, &got, &len, NNG_FLAG_ALLOC), 0);
	nng_free(got, len);
}

TestSuite(link, .init = setup, .fini = teardown, .timeout = 20);

Test(link, counts_its_pipe)
{
	cr_assert(comes_up(2000), "the link never came up");
	round_trip();
	cr_assert_eq(lk.redials, 0);
}

Test(link, replaces_a_dialer_that_stopped)
{
	cr_assert(comes_up(2000));
	/* The dialer goes, and its pipe with it: nobody will redial. */
	cr_assert_eq(nng_dialer_close(lk.dialer), 0);
	for (int i = 0; i < 100 && lk.npipes; i++)
		usleep(10000);
	cr_assert_eq(pb_link_up(&lk), 0);
	cr_assert_eq(lk.redials, 0, "redialled before stale_ms");
	usleep(300 * 1000);
	cr_assert(comes_up(2000), "a stuck dialer was not replaced");
	cr_assert_eq(lk.redials, 1);
	round_trip();
}

Test(link, redials_once_per_stale_period_while_the_router_is_away)
{
	cr_assert(comes_up(2000));
	nng_close(rep);
	for (int i = 0; i < 100 && lk.npipes; i++)
		usleep(10000);
	cr_assert_eq(nng_dialer_close(lk.dialer), 0);
	usleep(250 * 1000);
	cr_assert_eq(pb_link_up(&lk), 0);
	cr_assert_eq(lk.redials, 1);
	/* Asked again and again while nobody listens: no new dialer yet. */
	for (int i = 0; i < 10; i++)
		cr_assert_eq(pb_link_up(&lk), 0);
	cr_assert_eq(lk.redials, 1);
	/* The router comes back: the new dialer finds it by itself. */
	listen_rep();
	cr_assert(comes_up(2000));
	cr_assert_eq(lk.redials, 1);
	round_trip();
}

Test(link, a_live_link_is_left_alone)
{
	cr_assert(comes_up(2000));
	nng_dialer before = lk.dialer;
	usleep(300 * 1000);
	for (int i = 0; i < 10; i++)
		cr_assert(pb_link_up(&lk));
	cr_assert_eq(lk.redials, 0);
	cr_assert_eq(nng_dialer_id(lk.dialer), nng_dialer_id(before));
}

Test(link, closing_stops_redials)
{
	cr_assert(comes_up(2000));
	cr_assert_eq(nng_dialer_close(lk.dialer), 0);
	usleep(300 * 1000);
	pb_link_close(&lk);
	cr_assert_eq(pb_link_up(&lk), 0);
	cr_assert_eq(lk.redials, 0);
}
