/* A dialled link to the router that keeps itself up. nng redials a lost
 * connection by itself, but the 1.5.2 in Debian 12 can stop doing so: a
 * dialer whose router was killed and restarted was seen to make no
 * further connect() at all, leaving its process cut off for good. So a
 * link counts its connected pipes, and when it has had none for
 * stale_ms and someone asks (pb_link_up, on an ordinary thread), it
 * closes the dialer and starts a new one.
 *
 * The link owns the socket's pipe notifications; its owner keeps the
 * socket, opens it before pb_link_dial and closes it after
 * pb_link_close. */
#ifndef PB_LINK_H
#define PB_LINK_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdint.h>

#define PB_LINK_MAX_PIPES 16
#define PB_LINK_STALE_MS 5000
#define PB_LINK_URL_MAX 4096

struct pb_link {
	nng_socket sock;
	nng_dialer dialer;
	char url[PB_LINK_URL_MAX];
	const char *what;             /* in log lines: "router" */
	int stale_ms;                 /* no pipe for this long: a new dialer */
	pthread_mutex_t mu;           /* guards the rest */
	pthread_mutex_t dial_mu;      /* one redial at a time */
	int closing;                  /* pipes going away on purpose: no warning */
	int npipes;
	uint32_t pipes[PB_LINK_MAX_PIPES];
	int64_t down_since_us;        /* monotonic; since start when never up */
	int64_t redial_us;            /* the last new dialer */
	uint64_t redials;
};

/* Dials url on sock (pb_tls_dial: flags 0 waits for the first
 * connection, NNG_FLAG_NONBLOCK does not) and starts counting its pipes.
 * what names the peer in the log, or NULL for no log lines. On failure
 * writes the reason into err and returns nng's error code; the link is
 * then unusable and needs no pb_link_close. */
int pb_link_dial(struct pb_link *l, nng_socket sock, const char *url, const char *what,
                 int flags, char *err, size_t errlen);
/* Is a pipe connected? When none has been for stale_ms, and no new
 * dialer was started in that time, starts one first. Call it from a
 * thread of your own, never an nng callback: closing a dialer waits. */
int pb_link_up(struct pb_link *l);
/* The link goes down on purpose: no more warnings or redials. Call it
 * before closing the socket, and pb_link_fini after. */
void pb_link_close(struct pb_link *l);
void pb_link_fini(struct pb_link *l);

#endif
