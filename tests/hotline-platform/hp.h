/* A stand-in 12345 platform (hotline-12345.md) for tests and benchmarks:
 * a real HTTP server (libmicrohttpd) on 127.0.0.1 that serves orders
 * through the pull API, takes result events, checks the HMAC of every
 * request, keeps per-order state to answer 409s as the platform would, and
 * reproduces on demand every fault listed in the reference.
 *
 * Thread-safe: the server's threads and the test share one mutex. */
#ifndef HP_H
#define HP_H

#include <stddef.h>
#include <stdint.h>

struct hp;

struct hp_opts {
	const char *app_id;           /* the department's app id */
	const char *secret_hex;       /* its HMAC key, hex as in the secret file */
	int skew_s;                   /* 0: 300 */
	unsigned seed;                /* random feed and random faults */
	int slow_ms;                  /* HP_F_SLOW delay; 0: 3000 */
	int quiet;                    /* no log lines on stderr */
};

int hp_start(const struct hp_opts *o, struct hp **out);
int hp_port(const struct hp *p);
/* "http://127.0.0.1:PORT" */
const char *hp_url(const struct hp *p);
void hp_stop(struct hp *p);

/* ---- the feed (pull) and the orders the platform knows ---- */
enum hp_where { HP_FEED = 1, HP_NOT_IN_FEED = 0 };
/* A new valid dispatch for order_no (NULL: a fresh number) with the next
 * dispatch_seq; registered, and appended to the feed when where is
 * HP_FEED. *json (may be NULL) gets a malloc'd copy for pushing. */
int hp_dispatch(struct hp *p, const char *order_no, int where, char **json, char *no_out,
                size_t no_len);
/* Appends a revoke or an urge of the order's current dispatch. */
int hp_revoke(struct hp *p, const char *order_no, const char *reason);
int hp_urge(struct hp *p, const char *order_no, const char *reason);
/* Appends an order with a missing or invalid field (variant picks which). */
int hp_invalid(struct hp *p, int variant);
/* Appends raw JSON (one order object) as it is. */
int hp_raw(struct hp *p, const char *json);
/* n dispatches into the feed, each with probability invalid_rate replaced
 * by an invalid order. */
int hp_feed_random(struct hp *p, int n, double invalid_rate);
/* The JSON of feed item i (malloc'd), for pushing what was pulled. */
char *hp_feed_json(struct hp *p, size_t i);
size_t hp_feed_len(struct hp *p);

/* ---- files an order may name ("attachments": name, url, sha256, size) ---- */
#define HP_FILES_MAX 16
/* Serves data (copied) at GET {url}/files/NAME, signed like every call
 * and subject to the faults; *json (malloc'd) gets the attachment object
 * an order carries. -1 when full or name is not [A-Za-z0-9._-]{1,63}. */
int hp_file_put(struct hp *p, const char *name, const void *data, size_t len, char **json);
/* The file's next n GETs answer 503 (a platform failing to serve it). */
void hp_file_fail(struct hp *p, const char *name, int n);
/* How often the file was served whole. */
unsigned long hp_file_gets(struct hp *p, const char *name);

/* ---- faults (the reference's last section) ---- */
enum hp_fault {
	HP_F_5XX,           /* 500, 502, 503 in turn, nothing applied */
	HP_F_429,           /* 429 with Retry-After: 1 */
	HP_F_SLOW,          /* events: applied, then answered after slow_ms */
	HP_F_RESET,         /* the connection drops in the middle of the body */
	HP_F_DUP_PAGE,      /* a page's last order comes again on the next page */
	HP_F_REVOKE,        /* a sign accepted: the order is revoked (feed) */
	HP_F_REDISPATCH,    /* a return accepted: dispatched again, seq + 1 (feed) */
	HP_F_COUNT
};
/* The next count requests (or events, for REVOKE and REDISPATCH) get it. */
void hp_fault_burst(struct hp *p, int fault, int count);
/* Each one gets it with probability rate. */
void hp_fault_rate(struct hp *p, int fault, double rate);
void hp_faults_off(struct hp *p);

/* ---- what happened ---- */
struct hp_stats {
	unsigned long pages, events;          /* requests that reached the handler */
	unsigned long accepted, duplicates;   /* events applied; repeats flagged */
	unsigned long conflicts, malformed;   /* 409; 400/422 */
	unsigned long auth_stale, auth_replay, auth_bad_signature, auth_unknown_app;
	unsigned long injected[HP_F_COUNT];
	unsigned long dispatches, revokes, urges, invalid;   /* issued */
};
void hp_stats(struct hp *p, struct hp_stats *s);
/* Times event_id was applied (0 or 1) and answered as a duplicate. */
void hp_event_seen(struct hp *p, const char *event_id, int *applied, int *dups);
/* Every accepted event: fn returns non-zero to stop. */
void hp_each_event(struct hp *p, int (*fn)(const char *event_id, const char *order_no,
                                           const char *type, int dups, void *arg), void *arg);
/* Every valid dispatch issued: (order_no, dispatch_seq). */
void hp_each_dispatch(struct hp *p, int (*fn)(const char *order_no, unsigned seq, void *arg),
                      void *arg);
/* The platform's view of an order: "dispatched", "signed", "finished",
 * "returned", "revoked", or NULL when unknown; *seq its dispatch_seq. */
const char *hp_order_state(struct hp *p, const char *order_no, unsigned *seq);

/* The request signature both sides use (hex out, 65 bytes). */
void hp_signature(const uint8_t *key, size_t keylen, const char *method, const char *path,
                  const char *ts, const char *nonce, const void *body, size_t len, char out[65]);

#endif
