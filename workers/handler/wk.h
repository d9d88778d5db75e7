/* wk: the handler client. Key files, the lease-token state directory, and
 * one sealed request/response exchange with the router over nng REQ.
 * Everything returns a pb_err code; nothing here prints. */
#ifndef WK_H
#define WK_H

#include "mailroom.pb-c.h"
#include "pb_conf.h"
#include "pb_id.h"

#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>

#define WK_SEED_LEN 32
#define WK_TOKEN_MAX 64               /* longest lease token we keep */
#define WK_TIMEOUT_MS 15000           /* default receive timeout */
#define WK_PULL_SLACK_MS 10000        /* a pull waits this much beyond its long-poll */
#define WK_RECV_MAX (4u << 20)        /* largest response we accept */

/* Exit codes of mailroom-handler (workers/README.md). */
enum wk_exit {
	WK_EXIT_OK = 0,
	WK_EXIT_USAGE = 1,
	WK_EXIT_UNREACHABLE = 2,   /* router unreachable or timed out */
	WK_EXIT_EMPTY = 3,         /* nothing to pull */
	WK_EXIT_NOTFOUND = 4,
	WK_EXIT_AUTH = 5,          /* unauthenticated, stale, replay, forbidden */
	WK_EXIT_LEASE = 6,         /* lease invalid or expired */
	WK_EXIT_CONFLICT = 7,      /* state conflict */
	WK_EXIT_INVALID = 8,       /* invalid input */
	WK_EXIT_OTHER = 9,
	WK_EXIT_BUSY = 10,         /* over this handler's requests in progress */
};

/* pb_err (a Response.code or a local failure) -> enum wk_exit. */
int wk_exit_code(int err);

/* ---- key files: 64 hex digits of the Ed25519 seed, then a newline ---- */
/* Creates path (mode 0600) with a fresh seed; PB_EEXIST if it exists. */
int wk_key_create(const char *path, uint8_t pk[32]);
/* sk in libsodium layout (seed || public key). *loose (may be NULL) is set
 * when group or others may read the file. */
int wk_key_load(const char *path, uint8_t sk[64], uint8_t pk[32], int *loose);

/* ---- lease tokens: one file per message id, holding the token in hex ---- */
struct wk_state {
	char dir[PB_PATH_MAX];
};
/* dir = override when given, else "<keyfile>.leases". Creates nothing. */
int wk_state_init(struct wk_state *s, const char *keyfile, const char *override);
/* Creates the directory (0700) when needed; replaces any older token. */
int wk_lease_save(const struct wk_state *s, const uint8_t id[PB_ID_LEN], const uint8_t *tok,
                  size_t len);
/* PB_ENOTFOUND when no token is kept for id. */
int wk_lease_load(const struct wk_state *s, const uint8_t id[PB_ID_LEN], uint8_t *tok,
                  size_t max, size_t *len);
/* Removing a token that is not there is not an error. */
int wk_lease_forget(const struct wk_state *s, const uint8_t id[PB_ID_LEN]);

/* ---- the router connection ---- */
struct wk_client {
	nng_socket sock;
	int open;
	char err[256];             /* why the last call failed */
};

/* Opens a REQ socket and dials url (blocking). PB_EUNAVAIL when nobody
 * listens, PB_EINVAL for a bad url; c->err says which. */
int wk_client_open(struct wk_client *c, const char *url);
/* Seals req with sk (fresh ts and nonce), sends it and waits up to
 * timeout_ms for the answer. *resp is freed with
 * mailroom__response__free_unpacked. The return value is about transport
 * only: the router's verdict is (*resp)->code. */
int wk_client_call(struct wk_client *c, const uint8_t sk[64], Mailroom__Request *req,
                   int timeout_ms, Mailroom__Response **resp);
void wk_client_close(struct wk_client *c);

#endif
