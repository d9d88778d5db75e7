/* A router link that replaces a dialer nng stopped redialling: see
 * pb_link.h. */
#include "pb_link.h"
#include "pb_log.h"
#include "pb_time.h"
#include "pb_tls.h"

#include <stdio.h>
#include <string.h>

/* Pipe events arrive on nng threads; the set of live pipe ids makes sure
 * a removal never counts a pipe that was not added. */
static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct pb_link *l = arg;
	uint32_t id = nng_pipe_id(p);
	int up = 0, down = 0;

	pthread_mutex_lock(&l->mu);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		if (l->npipes < PB_LINK_MAX_PIPES)
			l->pipes[l->npipes++] = id;
		up = !l->closing;
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		for (int i = 0; i < l->npipes; i++) {
			if (l->pipes[i] == id) {
				l->pipes[i] = l->pipes[--l->npipes];
				if (l->npipes == 0) {
					l->down_since_us = pb_mono_us();
					down = !l->closing;
				}
				break;
			}
		}
	}
	pthread_mutex_unlock(&l->mu);
	if (up && l->what)
		pb_info("%s connected", l->what);
	if (down && l->what)
		pb_warn("%s disconnected", l->what);
}

int pb_link_dial(struct pb_link *l, nng_socket sock, const char *url, const char *what,
                 int flags, char *err, size_t errlen)
{
	int rv;

	memset(l, 0, sizeof(*l));
	if (strlen(url) >= sizeof(l->url)) {
		snprintf(err, errlen, "router URL longer than %zu bytes", sizeof(l->url) - 1);
		return NNG_EINVAL;
	}
	snprintf(l->url, sizeof(l->url), "%s", url);
	l->sock = sock;
	l->what = what;
	l->stale_ms = PB_LINK_STALE_MS;
	l->down_since_us = l->redial_us = pb_mono_us();
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->dial_mu, NULL);
	if ((rv = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, pipe_cb, l)) != 0 ||
	    (rv = nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, pipe_cb, l)) != 0) {
		snprintf(err, errlen, "pipe notifications: %s", nng_strerror(rv));
	} else if ((rv = pb_tls_dial(sock, url, flags, &l->dialer, err, errlen)) == 0) {
		return 0;
	}
	/* The socket may outlive the link: no callback may reach it. */
	nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, NULL, NULL);
	nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, NULL, NULL);
	pb_link_fini(l);
	return rv;
}

/* Closes the old dialer and starts another. Outside mu: closing a dialer
 * may end a pipe that has just come, whose callback takes mu. */
static void redial(struct pb_link *l)
{
	char err[PB_LINK_URL_MAX + 128];
	nng_dialer fresh;
	int rv;

	nng_dialer_close(l->dialer);
	rv = pb_tls_dial(l->sock, l->url, NNG_FLAG_NONBLOCK, &fresh, err, sizeof(err));
	pthread_mutex_lock(&l->mu);
	if (rv == 0)
		l->dialer = fresh;
	l->redials++;
	pthread_mutex_unlock(&l->mu);
	if (rv != 0)
		pb_error("%s: %s", l->what ? l->what : "link", err);
	else if (l->what)
		pb_warn("%s: no connection for %d s; dialling anew", l->what, l->stale_ms / 1000);
}

int pb_link_up(struct pb_link *l)
{
	int64_t now = pb_mono_us(), stale = (int64_t)l->stale_ms * 1000;
	int up, want;

	pthread_mutex_lock(&l->mu);
	up = l->npipes > 0;
	want = !up && !l->closing && now - l->down_since_us >= stale && now - l->redial_us >= stale;
	pthread_mutex_unlock(&l->mu);
	/* Whoever gets there first redials; the others go on at once. */
	if (!want || pthread_mutex_trylock(&l->dial_mu) != 0)
		return up;
	pthread_mutex_lock(&l->mu);
	want = l->npipes == 0 && !l->closing && now - l->redial_us >= stale;
	if (want)
		l->redial_us = now;
	pthread_mutex_unlock(&l->mu);
	if (want)
		redial(l);
	pthread_mutex_unlock(&l->dial_mu);
	return 0;
}

void pb_link_close(struct pb_link *l)
{
	/* A redial under way finishes first, so none starts on a closed socket. */
	pthread_mutex_lock(&l->dial_mu);
	pthread_mutex_lock(&l->mu);
	l->closing = 1;
	pthread_mutex_unlock(&l->mu);
	pthread_mutex_unlock(&l->dial_mu);
}

void pb_link_fini(struct pb_link *l)
{
	pthread_mutex_destroy(&l->mu);
	pthread_mutex_destroy(&l->dial_mu);
}
