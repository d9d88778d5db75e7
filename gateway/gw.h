/* gw: the HTTP gateway. Internal header shared by the gateway's files and
 * its tests; nothing else includes it.
 *
 *   gw_http.c     MHD daemon, request phases, early checks, gw_start/gw_stop
 *   gw_routes.c   each route's work, the router call and its answer
 *   gw_router.c   nng REQ client: calls batched into a few lanes
 *   gw_hotline.c  12345 push authentication and the nonce cache
 *   gw_metrics.c  request counters and the Prometheus page
 *   gw_pages.c    the citizen's web pages (gw_web.h: gw_form.c, gw_html.c)
 *   gw_console.c  the handlers' console listener: signed requests forwarded
 *   gw_download.c a reply's file for the citizen, gathered in pieces
 *   gw_main.c     the mailroom-gateway program */
#ifndef GW_H
#define GW_H

#include "mailroom.pb-c.h"
#include "pb_conf.h"
#include "pb_link.h"
#include "pb_id.h"
#include "pb_wire.h"

#include <jansson.h>
#include <microhttpd.h>
#include <nng/nng.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* ------------------------------------------------------ router client -- */


struct gw_call;
struct gw_router;

/* One envelope in flight: a REQ context carrying a batch of calls. */
struct gw_lane {
	struct gw_router *router;
	nng_ctx ctx;
	nng_aio *aio;
	int has_ctx;
	int stage;
	int sent;                     /* the envelope left: its calls' outcome is the router's */
	int n;                        /* calls in the envelope out */
	int64_t deadline_us;          /* the earliest of theirs */
	struct gw_call **calls;       /* batch_max each; NULL once abandoned */
	uint8_t **items;              /* their packed requests, owned here */
	size_t *lens;
	Mailroom__Response **resps;
};

struct gw_router {
	nng_socket sock;
	int timeout_ms;
	int batch_max;                /* calls per envelope */
	uint8_t secret[PB_GATEWAY_SECRET_LEN];
	/* mu guards closed, the pending list, the idle lanes, and every
	 * call's state; cv tells waiters a call or lane was let go */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int closed;
	atomic_int closing;           /* pipes going away on purpose: no warning */
	struct gw_call *phead, *ptail;
	int nlanes, nidle, lanes_cap;   /* open, idle, allocated */
	int resolve_ms;               /* how long a lost submit's outcome is asked for */
	struct gw_lane *lanes;
	int *idle;
	/* held while a lane arms its receive, and while closing is set: no
	 * receive is armed once the socket's close has begun (nng 1.5.2
	 * panics on a receive racing its socket's close) */
	pthread_mutex_t arm_mu;
	struct pb_link link;          /* counts the pipes, redials a stuck dialer */
	int linked;
};

typedef void (*gw_call_done)(void *arg);

/* One request. Prepared on the HTTP thread (every failure that can happen
 * synchronously happens there), then sent; done(arg) runs on an nng
 * thread with rc set, and must not block. */
struct gw_call {
	struct gw_router *router;
	uint8_t *item;                /* the packed request until a lane takes it */
	size_t itemlen;
	int state;                    /* GW_CALL_*, under router->mu */
	struct gw_lane *lane;         /* while in flight */
	int slot;
	int64_t deadline_us;
	struct gw_call *next;         /* pending list */
	int rc;                       /* pb_err once done */
	int nng_err;                  /* why, when rc is PB_EUNAVAIL */
	Mailroom__Response *resp;     /* when rc == PB_OK */
	gw_call_done done;
	void *arg;
	/* A submit with an idempotency key: once sent, a lost answer is asked
	 * for (a resolve) until the router says, or resolve_until_us passes
	 * and the call ends unknown (gateway/README.md, "Honest answers"). */
	int resolvable;               /* GW_RESOLVE_* */
	int channel;
	uint8_t *orig;                /* GW_RESOLVE_RESEND: the request, unsigned */
	size_t origlen;
	uint8_t idem[64];             /* key hash, then body hash */
	int resolving;                /* the item out is a resolve */
	int unknown;                  /* rc != PB_OK, yet it may be stored: answer 202 */
	int64_t resolve_until_us;
};

/* How a call's lost answer is learnt: not at all (reads), by asking for
 * its idempotency key, or, for a 12345 delivery (idempotent on its order
 * number and dispatch), by sending it again. */
enum { GW_RESOLVE_NONE, GW_RESOLVE_KEY, GW_RESOLVE_RESEND };

/* lanes: envelopes in flight at once; batch_max: calls one may carry. */
int gw_router_open(struct gw_router *r, const char *url, const uint8_t *secret, int timeout_ms,
                   int lanes, int batch_max);
/* Nonzero while a pipe to the router is up. */
int gw_router_connected(struct gw_router *r);
/* Aborts every call in flight (their done runs with PB_EUNAVAIL) and
 * frees the lanes. */
void gw_router_close(struct gw_router *r);

/* Packs req and readies the call. PB_EUNAVAIL when no router is connected
 * or the client is closed. On error nothing needs freeing. */
int gw_call_prepare(struct gw_call *c, struct gw_router *r, Mailroom__Request *req);
void gw_call_send(struct gw_call *c, gw_call_done done, void *arg);
/* Withdraws the call (waiting out a running done), then frees what it
 * holds. Idempotent. */
void gw_call_fini(struct gw_call *c);

/* -------------------------------------------------------- 12345 push -- */

#define GW_NONCE_MIN 16
#define GW_NONCE_MAX 64
#define GW_APP_KEY_MIN 16
#define GW_APP_KEY_MAX 64
#define GW_NONCE_CAP 65536

struct gw_nonce_ent {
	uint64_t hash;
	int64_t expires_s;
	uint32_t next;          /* bucket chain, GW_NIL at the end */
	uint8_t app;
	char nonce[GW_NONCE_MAX + 1];
};

/* Nonces seen lately, per app. A ring in arrival order (so the oldest is
 * pruned first) indexed by a chained hash table. */
struct gw_nonces {
	pthread_mutex_t mu;
	struct gw_nonce_ent *ents;
	uint32_t *buckets;
	size_t cap, nbuckets, head, count;
	uint8_t key[crypto_shorthash_KEYBYTES];
};

int gw_nonces_init(struct gw_nonces *n, size_t cap);
void gw_nonces_fini(struct gw_nonces *n);
/* Drops entries whose time has passed, then records (app, nonce) until
 * now_s + keep_s. PB_OK, PB_EREPLAY when present, PB_EFULL when every
 * slot is still live. */
int gw_nonces_add(struct gw_nonces *n, int app, const char *nonce, int64_t now_s, int64_t keep_s);
size_t gw_nonces_count(struct gw_nonces *n);

struct gw_app {
	char id[PB_NAME_MAX];
	uint8_t key[GW_APP_KEY_MAX];
	size_t keylen;
	uint8_t tag;         /* the app's number in the nonce cache, kept across reloads */
};

/* The apps as one file gave them. A reload builds a new set and swaps the
 * pointer; a request reads the pointer once, so it finishes with the set
 * it began with. Replaced sets are kept until gw_hotline_fini. */
struct gw_appset {
	struct gw_appset *older;
	int napps;
	struct gw_app apps[PB_MAX_HOTLINE_APPS];
};

struct gw_hotline {
	struct gw_appset *_Atomic set;
	int64_t skew_s;
	int64_t start_s;     /* timestamps at or before this are refused */
	struct gw_nonces nonces;
};

/* What a push carries for authentication; any header may be NULL. */
struct gw_hl_auth {
	const char *app_id, *timestamp, *nonce, *signature;
	const char *method, *path;    /* path with its query, as sent */
	const uint8_t *body;
	size_t body_len;
};

int gw_hotline_init(struct gw_hotline *h, int64_t skew_s, int64_t start_s, size_t nonce_cap);
void gw_hotline_fini(struct gw_hotline *h);
int gw_hotline_add_app(struct gw_hotline *h, const char *id, const uint8_t *key, size_t keylen);
/* Reads every [hotline.app.ID] secret_file of c into a new set. */
int gw_hotline_load_apps(struct gw_hotline *h, const struct pb_conf *c, struct gw_appset **out,
                         char *err, size_t errlen);
/* Reads the secret files of n apps into a new set for h (tags kept from
 * the running set); what names them in err. Freed with gw_appset_free
 * unless given to gw_hotline_swap. */
int gw_apps_load(struct gw_hotline *h, const struct pb_hotline_app *apps, int n, const char *what,
                 struct gw_appset **out, char *err, size_t errlen);
/* Makes s the running set and logs the app ids added, removed and whose
 * secret changed (what names the system). One thread at a time. */
void gw_hotline_swap(struct gw_hotline *h, struct gw_appset *s, const char *what);
void gw_appset_free(struct gw_appset *s);
/* A secret file: the hex of the HMAC key (16..64 bytes, so 32..128 hex
 * digits), trailing white space allowed. */
int gw_hotline_secret_parse(const uint8_t *buf, size_t len, uint8_t *key, size_t *keylen);
void gw_hotline_sign(const uint8_t *key, size_t keylen, const char *method, const char *path,
                     const char *timestamp, const char *nonce, const uint8_t *body,
                     size_t body_len, uint8_t mac[32]);
/* The checks that need no body: "unknown_app" or "stale", else NULL. */
const char *gw_hotline_precheck(struct gw_hotline *h, const char *app_id, const char *timestamp,
                                int64_t now_s);
/* All checks. NULL when accepted (the nonce is then recorded), else
 * "unknown_app", "stale", "bad_signature", "replay", or "unavailable"
 * when the nonce cache is full. */
const char *gw_hotline_verify(struct gw_hotline *h, const struct gw_hl_auth *a, int64_t now_s);

/* ------------------------------------------------------------ metrics -- */

enum gw_route {
	GW_R_MESSAGES,    /* POST /v1/messages */
	GW_R_MESSAGE,     /* GET /v1/messages/{tracking_code} */
	GW_R_HOTLINE,     /* POST /v1/hotline/orders */
	GW_R_HEALTHZ,
	GW_R_METRICS,
	GW_R_LOG,         /* GET /v1/log/... (transparency log, read-only) */
	GW_R_DISCLOSURE,  /* POST /v1/disclosure-applications */
	GW_R_PAGE,        /* the citizen's web pages (gw_pages.c) */
	GW_R_PETITION,    /* POST /v1/petition/transfers */
	GW_R_UPLOAD,      /* POST /v1/uploads: one file, raw (gw_upload.c) */
	GW_R_OTHER,
	GW_R_RATING,      /* POST /v1/messages/{tracking_code}/rating */
	GW_R_REPLY_FILE,  /* GET /v1/messages/{tracking_code}/reply-files/{n} */
	GW_R_COUNT
};

#define GW_NSTATUS 14

/* Why the gateway closed a connection itself (gw_conn.c). */
enum gw_close {
	GW_CLOSE_HEADERS,       /* headers not complete within header_timeout_s */
	GW_CLOSE_BODY,          /* body slower than body_min_rate */
	GW_CLOSE_IDLE,          /* no next request within header_timeout_s */
	GW_CLOSE_BUDGET,        /* pushed out for a newer client: over the budget */
	GW_CLOSE_PER_ADDRESS,   /* pushed out: over max_per_ip from its address */
	GW_CLOSE_VERSION,       /* a request line naming an HTTP other than 1.0 or 1.1 */
	GW_CLOSE_COUNT
};

struct gw_metrics {
	atomic_ulong n[GW_R_COUNT][GW_NSTATUS];
	atomic_ulong closed[GW_CLOSE_COUNT];
	atomic_long conns;      /* connections open */
};

void gw_metrics_count(struct gw_metrics *m, int route, unsigned status);
/* The Prometheus text page; stats NULL when the router did not answer.
 * malloc'd, NULL on allocation failure. */
char *gw_metrics_render(struct gw_metrics *m, const Mailroom__StatsResp *stats, size_t *len);

/* ------------------------------------------------------------- limits -- */

/* Requests per client address and minute (gw_limit.c). */
struct gw_limit;
/* per_minute <= 0: no limit, *out NULL (every take then passes). */
int gw_limit_init(struct gw_limit **out, int per_minute);
void gw_limit_free(struct gw_limit *l);
/* 0 when the request may go on, else the seconds until the window ends;
 * *first is set on the first refusal of an address in a window. */
int gw_limit_take(struct gw_limit *l, const struct sockaddr *sa, int64_t now_ms, int *first);
/* -------------------------------------------------------- connections -- */

/* Addresses and networks ("10.0.0.1", "fd00::/8"), e.g. trusted proxies. */
#define GW_MAX_NETS 16
struct gw_nets {
	int n;
	struct gw_net {
		int family;
		int bits;
		uint8_t a[16];
	} net[GW_MAX_NETS];
};
/* Comma- or space-separated; -1 on a bad entry or more than GW_MAX_NETS. */
int gw_nets_parse(const char *list, struct gw_nets *out);
int gw_nets_match(const struct gw_nets *nets, const struct sockaddr *sa);
/* A numeric address of len bytes, blanks around allowed; 0 or -1. */
int gw_addr_parse(const char *text, size_t len, struct sockaddr_storage *out);
/* The client: peer, or when peer is a trusted proxy the right-most
 * address in X-Forwarded-For that is not one (xff may be NULL). -1 when
 * xff is malformed (out is then the last address understood, or peer). */
int gw_client_addr(const struct gw_nets *proxies, const struct sockaddr *peer, const char *xff,
                   struct sockaddr_storage *out);

/* Deadlines and the connection budget (gw_conn.c). */
struct gw_conns;
enum { GW_CONN_HEADERS, GW_CONN_BODY, GW_CONN_BUSY, GW_CONN_DONE };
/* lines_only: only the first line's version check (the console listener),
 * no deadlines or budget. */
int gw_conns_start(struct gw_conns **out, const struct pb_conf *c, struct gw_metrics *m,
                   int lines_only);
/* Only after MHD has stopped. */
void gw_conns_stop(struct gw_conns *cs);
/* MHD_OPTION_NOTIFY_CONNECTION's callback; cls is the gw_conns. */
void gw_conns_notify(void *cls, struct MHD_Connection *conn, void **sc,
                     enum MHD_ConnectionNotificationCode code);
/* A request's progress on conn: GW_CONN_* (bytes of body for GW_CONN_BODY). */
void gw_conn_mark(struct gw_conns *cs, struct MHD_Connection *conn, int event, size_t bytes);
const struct gw_nets *gw_conns_proxies(const struct gw_conns *cs);
/* The public listener has TCP_DEFER_ACCEPT (see gw_first_bytes). */
void gw_conns_deferred(struct gw_conns *cs, int on);

/* The HTTP version check, shared by both listeners (gw_conn.c). */
enum { GW_FIRST_OK, GW_FIRST_VERSION, GW_FIRST_SILENT, GW_FIRST_PARTIAL };
/* The longest first line looked at: MHD's buffer (a longer one gets its 414). */
#define GW_LINE_MAX (16 * 1024)
/* Sets TCP_DEFER_ACCEPT (seconds) on d's listening socket: 1 when set. */
int gw_defer_accept(struct MHD_Daemon *d, int seconds);
/* A fresh connection's first bytes, peeked at: GW_FIRST_VERSION when its
 * first line names an HTTP other than 1.0 or 1.1 (our 400 is then sent),
 * GW_FIRST_SILENT when deferred and nothing came within the defer time.
 * The caller shuts the socket down for both. GW_FIRST_PARTIAL when the
 * line is not complete yet: the socket is then held from MHD until
 * gw_held_line says otherwise. tls: no line to look at. */
int gw_first_bytes(int fd, int deferred, int tls);
/* A held socket's line, peeked at again into buf (GW_LINE_MAX bytes):
 * GW_FIRST_PARTIAL while still held; GW_FIRST_VERSION (our 400 sent: the
 * caller shuts it down) or GW_FIRST_OK (given back to MHD). */
int gw_held_line(int fd, char *buf);
#define GW_VERSION_MESSAGE "only versions 1.0 and 1.1 of HTTP are served"
/* HTTP/1.0 or HTTP/1.1, as MHD names the request's version. */
int gw_version_served(const char *version);

/* ------------------------------------------------------------ console -- */

/* The handlers' console listener ([console]); *out stays NULL when
 * listen_addr is empty. conf must outlive it. */
/* HTTPS when [gateway] tls_cert_file is set: adds MHD_USE_TLS to *flags
 * (and polls instead of epoll, see gw_https.c) and points *opts at an MHD_OPTION_ARRAY with the certificate and key
 * (else at an empty one). PB_EINVAL, logged, when they cannot be read. */
int gw_https_options(const struct pb_conf *c, unsigned *flags, const struct MHD_OptionItem **opts);
const char *gw_https_scheme(const struct pb_conf *c);

struct gw_console;
int gw_console_start(const struct pb_conf *conf, struct gw_console **out);
uint16_t gw_console_port(const struct gw_console *gc);
void gw_console_stop(struct gw_console *gc);

/* --------------------------------------------------------------- http -- */

struct gw;

/* Loads the gateway secret and the 12345 app secrets, connects to the
 * router (in the background) and serves HTTP. Logs
 * "listening on http://ADDR:PORT" once bound. */
int gw_start(const struct pb_conf *conf, struct gw **out);
uint16_t gw_port(const struct gw *g);
/* Stops accepting, lets requests in flight finish (bounded by the router
 * timeout), then shuts down. */
void gw_stop(struct gw *g);

/* Shared by gw_http.c and gw_routes.c only. */

#define GW_MESSAGES_PREFIX "/v1/messages/"

struct gw {
	struct pb_conf conf;
	struct MHD_Daemon *mhd;
	struct gw_router router;
	struct gw_hotline hotline;
	struct gw_hotline petition;   /* the petition system's apps, same signature */
	struct gw_metrics metrics;
	struct gw_console *console;   /* NULL without [console] */
	atomic_int active;      /* requests between URI and completion callbacks */
	atomic_int inflight;    /* router calls whose callback has not yet run */
	uint16_t port;
	char base[PB_PATH_MAX]; /* public_base_url without a trailing slash */
	uint8_t page_key[32];   /* from the gateway secret: form tokens, derived access keys */
	char css_path[64];      /* /static/site-<hash>.css */
	struct gw_limit *submit_limit, *lookup_limit;
	struct gw_conns *conns;
	atomic_int access_log;  /* [gateway] access_log, changed by a reload */
	/* log_level is debug: lines only debug shows are worth making (the
	 * stored message's id costs a few thousand instructions) */
	atomic_int debug_log;
};

/* A reply's file being gathered from the router's pieces (gw_download.c). */
struct gw_dl {
	char code[PB_TRACK_TEXT_LEN + 1];
	uint8_t hash[PB_AKEY_HASH_LEN];
	uint32_t n;             /* reply_attachments' index, from 0 */
	char *buf;
	size_t len;
	char type[32];
};

/* The phases of a request, see gw_http.c. */
enum { GW_PH_NEW, GW_PH_BODY, GW_PH_WAIT, GW_PH_DONE };

struct gw_req {
	struct gw *g;
	struct MHD_Connection *conn;
	char *uri;              /* request target as sent, query included */
	int route;
	int phase;
	int too_large;
	int busy;               /* the body is in: the connection's deadline is off */
	char *body;
	size_t len, cap, seen;
	struct gw_call call;
	char akey[PB_AKEY_TEXT_LEN + 1];
	char order_no[48];
	char idem_text[129];    /* the submit's Idempotency-Key, given or made here */
	uint32_t seq;
	int log_kind;           /* GW_R_LOG: which question */
	int log_tiled;          /* GW_R_LOG: asked by a tlog-tiles path */
	struct gw_page *page;   /* GW_R_PAGE: the form and its state */
	uint8_t upload_id[16];  /* GW_R_UPLOAD: the chunks sent so far */
	size_t upload_off;
	uint32_t upload_seq;
	const char *upload_type;
	struct gw_dl dl;        /* GW_R_REPLY_FILE and /track's download */
	char method[16];
	struct sockaddr_storage client;   /* behind a trusted proxy, the forwarded one */
	int64_t t0_us;          /* monotonic, for the access log */
	unsigned status;        /* the answer queued, for the access log */
};

struct pj_out;   /* pj.h */

struct gw_hdr {
	const char *name, *value;
};

/* Queue an answer (gw_http.c); each counts it and marks the request done.
 * gw_send_body takes the malloc'd text, gw_send_json the reference.
 * gw_send_out ends a JSON text written into o (pj_out) and sends it; a
 * text that failed is the same 503 as a document that cannot be dumped. */
enum MHD_Result gw_send_body(struct gw_req *r, unsigned status, char *text, size_t len,
                             const char *type, const struct gw_hdr *extra, size_t nextra);
enum MHD_Result gw_send_json(struct gw_req *r, unsigned status, json_t *doc,
                             const struct gw_hdr *extra, size_t nextra);
enum MHD_Result gw_send_out(struct gw_req *r, unsigned status, struct pj_out *o,
                            const struct gw_hdr *extra, size_t nextra);
enum MHD_Result gw_send_error_h(struct gw_req *r, unsigned status, const char *code,
                                const char *message, const struct gw_hdr *extra, size_t nextra);
enum MHD_Result gw_send_error(struct gw_req *r, unsigned status, const char *code,
                              const char *message);
/* Is origin in the comma- or space-separated list? */
int gw_cors_allowed(const char *list, const char *origin);
/* 503 unavailable with Retry-After. */
enum MHD_Result gw_unavailable(struct gw_req *r, const char *message);

/* The work of each route once the body is in (gw_routes.c), and the
 * answer once a suspended request is resumed. */
enum MHD_Result gw_post_message(struct gw_req *r);
enum MHD_Result gw_post_disclosure(struct gw_req *r);
enum MHD_Result gw_get_message(struct gw_req *r, const char *url);
/* POST /v1/messages/{code}/rating with the access key (gw_routes.c). */
enum MHD_Result gw_post_rating(struct gw_req *r, const char *url);
enum MHD_Result gw_post_order(struct gw_req *r, const char *method);
/* The petition system's push (gw_petition.c). */
int gw_petition_load_apps(struct gw_hotline *h, const struct pb_conf *c, struct gw_appset **out,
                          char *err, size_t errlen);
enum MHD_Result gw_post_petition(struct gw_req *r, const char *method);
enum MHD_Result gw_petition_answer(struct gw_req *r, const Mailroom__Response *resp);
enum MHD_Result gw_healthz(struct gw_req *r);
/* POST /v1/uploads (gw_upload.c): the file to the router in chunks, and
 * each chunk's answer; the handle once the last is stored. */
enum MHD_Result gw_post_upload(struct gw_req *r);
enum MHD_Result gw_upload_answer(struct gw_req *r);
/* A reply's file (gw_download.c). gw_dl_start asks for the first piece
 * (nothing sent on an error); gw_dl_step takes each answer: MORE with the
 * next piece asked (*ret to return), DONE with the whole file gathered
 * (gw_dl_send sends it), REFUSED (r->call.resp says why) or AWAY (no
 * usable answer). */
enum { GW_DL_MORE, GW_DL_DONE, GW_DL_REFUSED, GW_DL_AWAY };
int gw_dl_start(struct gw_req *r, const char *code, const uint8_t hash[PB_AKEY_HASH_LEN],
                uint32_t n);
int gw_dl_step(struct gw_req *r, enum MHD_Result *ret);
enum MHD_Result gw_dl_send(struct gw_req *r);
int gw_is_reply_file(const char *url, char *code, size_t clen, uint32_t *n);
enum MHD_Result gw_get_reply_file(struct gw_req *r, const char *url);
enum MHD_Result gw_reply_file_answer(struct gw_req *r);
/* The receipt's c2sp.org/tlog-proof text as mailroom-<code>-receipt.txt. */
enum MHD_Result gw_receipt_send(struct gw_req *r, const char *code, const char *proof);
/* "Bearer <token68>": the token and its length, else NULL (gw_routes.c). */
const char *gw_bearer(const char *h, size_t *len);
enum MHD_Result gw_metrics_page(struct gw_req *r);
enum MHD_Result gw_answer(struct gw_req *r);
/* Suspends the connection and sends req (gw_routes.c); on an error
 * nothing was sent and the connection is not suspended. */
int gw_start_call(struct gw_req *r, Mailroom__Request *req);
/* Counts the request against the limit of its kind (submit or lookup):
 * 0 to go on, else the seconds to put in Retry-After (gw_http.c). */
int gw_limited(struct gw_req *r, int lookup);
/* The web pages (gw_pages.c): the work once the body is in, and the
 * answer once the router has spoken. */
struct gw_page;
enum MHD_Result gw_page(struct gw_req *r, const char *url, const char *method);
enum MHD_Result gw_page_answer(struct gw_req *r);
/* The page layout, for gw_public.c (r->page set by gw_page). */
struct gw_buf;
void gw_page_head(struct gw_buf *b, struct gw_req *r, const char *title, const char *back);
void gw_page_foot(struct gw_buf *b);
enum MHD_Result gw_page_send(struct gw_req *r, unsigned status, struct gw_buf *b);
enum MHD_Result gw_page_simple(struct gw_req *r, unsigned status, const char *title,
                               const char *text);
void gw_page_date(int64_t ms, char *buf, size_t len);   /* "2026年12月7日" */
/* The public pages (gw_public.c): /answers, /answers/{id} and /stats ask
 * the router; the answer comes back to gw_public_answer. */
enum MHD_Result gw_public_page(struct gw_req *r, const char *url);
enum MHD_Result gw_public_answer(struct gw_req *r);
void gw_page_free(struct gw_page *p);
/* Derives the page key and the stylesheet's path from the gateway secret. */
void gw_pages_init(struct gw *g, const uint8_t *secret, size_t len);
/* An access key (pb_akey_new's form) derived from the page key, so a
 * repeated idempotent request shows the same key. */
void gw_akey_derive(const struct gw *g, const char *domain, const char *a, const char *b,
                    char *akey);
/* The transparency log (gw_log.c). */
enum MHD_Result gw_get_log(struct gw_req *r, const char *url);
enum MHD_Result gw_log_answer(struct gw_req *r, const Mailroom__Response *resp);

/* gw_service.c: systemd readiness, SIGHUP, the access log. */
int64_t gw_mono_us(void);
void gw_notify_ready(struct gw *g);
void gw_reload(struct gw *g, const char *path);
/* Reads the 12345 and petition apps of c and, only when both load, makes
 * them the running ones (logging what changed); else err says why and
 * the running apps stay. */
int gw_load_apps(struct gw *g, const struct pb_conf *c, char *err, size_t errlen);
void gw_access_log(const struct gw_req *r);
/* A route's name for logs and metrics (gw_metrics.c). */
const char *gw_route_name(int route);

#endif
