/* mailroom-hotline: the 12345 connector (hotline-12345.md). Two loops:
 * the puller fetches pages of orders from the platform and hands each page
 * to the router in one request (orders and next cursor commit together);
 * the deliverer reads the router's outbox and posts the result events to
 * the platform, in order per order, and sends back the verdicts. The
 * store is never opened here: the router stays its only writer. */
#ifndef HL_H
#define HL_H

#include "cn.h"
#include "mailroom.pb-c.h"
#include "pb_conf.h"

#include <curl/curl.h>
#include <jansson.h>
#include <nng/nng.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HL_PROG "mailroom-hotline"
#define HL_ROUTER_TIMEOUT_MS 15000
#define HL_BODY_MAX (8u << 20)         /* largest platform answer we read */
#define HL_CHUNK_MAX (768u << 10)      /* a request to the router stays under PB_WIRE_MAX */

/* ---- the platform: signed HTTP (hl_http.c) ---- */
struct hl_http {
	CURL *h;
	char base[PB_PATH_MAX];        /* platform_url without a trailing slash */
	char base_path[PB_PATH_MAX];   /* its path part, e.g. "" or "/gw" */
	char app_id[PB_NAME_MAX];
	uint8_t key[128];
	size_t keylen;
	long connect_ms, timeout_ms;
	size_t body_max;               /* 0: HL_BODY_MAX; larger for a file */
};

struct hl_resp {
	long status;                   /* 0 when the transfer failed */
	CURLcode cc;
	char *body;
	size_t len;
	int64_t retry_after_ms;        /* -1 when absent */
	size_t max;                    /* the body's cap for this call */
	char err[CURL_ERROR_SIZE];
};

/* Reads the app secret (hex) named by the config. err says why not. */
int hl_http_init(struct hl_http *h, const struct pb_conf *c, char *err, size_t errlen);
void hl_http_fini(struct hl_http *h);
/* One signed request; path is below the API root, e.g. "/api/v1/orders?..."
 * (the base path is put in front and signed with it). Returns PB_OK when
 * an HTTP answer came, whatever its status; r->cc tells transport errors. */
int hl_http_call(struct hl_http *h, const char *method, const char *path, const char *body,
                 size_t len, struct hl_resp *r);
void hl_resp_free(struct hl_resp *r);
/* hex(HMAC-SHA256(key, METHOD\nPATH\nTS\nNONCE\nhex(SHA256(body)))). */
void hl_sign(const uint8_t *key, size_t keylen, const char *method, const char *path,
             const char *ts, const char *nonce, const void *body, size_t len, char out[65]);

/* ---- the router (hl_router.c; the link is cn_router, workers/conn) ---- */
/* The link under [hotline] key_file. */
int hl_router_open(struct cn_router *r, const struct pb_conf *c);
/* The stored cursor and the outbox counts. */
int hl_router_status(struct cn_router *r, char *cursor, size_t len, uint64_t *pending,
                     uint64_t *dead);

/* ---- waiting (hl_backoff.c) ---- */
struct hl_backoff {
	int64_t base_ms, max_ms, cur_ms;
	unsigned seed;
};
void hl_backoff_init(struct hl_backoff *b, int64_t base_ms, int64_t max_ms);
/* The next delay: exponential, capped, with full jitter. */
int64_t hl_backoff_next(struct hl_backoff *b);
void hl_backoff_reset(struct hl_backoff *b);
/* Exponential delay for the n-th attempt (1-based), with jitter. */
int64_t hl_backoff_for(unsigned *seed, unsigned attempts, int64_t base_ms, int64_t max_ms);
/* Retry-After: delta seconds or an HTTP date; -1 when absent or bad. */
int64_t hl_retry_after_ms(const char *value);

/* ---- a 12345 order's files (hl_fetch.c) ---- */
/* The files the order names ("attachments": name, url, sha256, size),
 * fetched from the platform with signed GETs, checked against their size
 * and SHA-256 and stored through the router; *handles (malloc'd, *n of
 * them, free with hl_fetch_free) for its SubmitReq. A file that can never
 * be taken (not under platform_url, refused with 4xx, wrong size or hash,
 * not JPEG, PNG or PDF, past max_files) is left out with a warning; -1
 * when one could not be fetched or stored now (fetch the page again). */
int hl_fetch_order(struct hl_http *h, struct cn_router *r, const struct pb_conf *c,
                   json_t *order, char ***handles, size_t *n);
void hl_fetch_free(char **handles, size_t n);

/* ---- what /metrics shows (hl_metrics.c) ----
 * Counted by the loops since the start; read by the listener's thread. */
struct hl_stats {
	atomic_ullong orders_stored, orders_repeated, orders_refused, cursor_moves;
	atomic_ullong delivered, dead, retries;
	atomic_llong last_pull_ms;     /* a page fetched and handed in; 0: not yet */
	atomic_llong caught_up_ms;     /* the platform had no more; 0: not yet */
};
extern struct hl_stats hl_stats;
/* The connector's lines of /metrics (cn_metrics_spec.render). */
void hl_metrics_render(FILE *f, void *arg);

/* ---- the loops ---- */
struct hl_ctx {
	const struct pb_conf *conf;
};
void *hl_pull_main(void *ctx);
void *hl_deliver_main(void *ctx);

/* JSON body of an outbox entry as the platform takes it (malloc'd). */
char *hl_event_json(const Mailroom__OutboxEntry *e);

#endif
