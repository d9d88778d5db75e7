/* router: the single writer. Authenticates requests arriving over nng,
 * applies them to the store in group-committed LMDB transactions, answers
 * only after the commit is durable, and publishes committed audit records.
 *
 * Layers, each usable without the ones above it:
 *   rt_optab.c   the operation table: one request against one store
 *                transaction (business rules in the rt_op_* functions)
 *   rt_writer.c  the writer thread: batches, nested txns, group commit,
 *                long-poll waiters, lease expiry
 *   rt_server.c  nng REP contexts, authentication, replay protection, PUB
 *   rt_replay.c  the nonce cache
 *   rt_keys.c    checkpoints and the log key's rotation on start */
#ifndef RT_H
#define RT_H

#include "cal.h"
#include "mailroom.pb-c.h"
#include "pb_conf.h"
#include "st.h"

#include <stdatomic.h>
#include <stdint.h>

/* Who sent a request, after authentication. */
struct rt_principal {
	int kind;                          /* MAILROOM__AUTH_KIND__AUTH_* */
	const struct pb_handler *handler;  /* for handlers */
	int console;                       /* signed over HTTP (RFC 9421): actor by key id */
	const struct pb_connector *connector;   /* for AUTH_CONNECTOR: mailroom-hotline */
	int internal;                      /* the router's own thread (rt_scan.c); never from nng */
};

struct rt_hset;

/* State every layer shares; read-only after start except the counters. */
struct rt_core {
	/* conf and cal are swapped by a reload (rt_reload.c) on the writer
	 * thread, between batches; a replaced one stays valid until exit.
	 * cal_version is the writer's alone. */
	const struct pb_conf *_Atomic conf;
	st_env *store;
	struct st_keys keys;
	cal_set *cal;
	uint8_t cal_version[32];
	/* commit metrics, buckets as in StatsResp */
	_Atomic uint64_t commits;
	_Atomic uint64_t commit_us_sum;
	_Atomic uint64_t commit_us_bucket[9];
	/* health, for StatsResp: see rt_writer.c */
	_Atomic int store_full;
	_Atomic int64_t last_commit_ms;
	_Atomic int64_t writer_queued;
	/* batches of plain submits redone nested after one failed (rt_writer.c) */
	_Atomic uint64_t writer_redos;
	/* the handlers in force: the ini's merged with the store's (rt_handlers.c) */
	struct rt_hset *_Atomic handlers;
	/* the handlers' search index (rt_search.c); NULL when not started */
	struct rt_search *search;
	/* the checkpoint pusher (rt_witness.c); NULL without [witness.NAME] */
	struct rt_witness *witness;
	/* the repeat check's bigram sets (rt_bgcache.c), made on first use;
	 * writer thread only. Whoever made the core frees it. */
	struct rt_bgcache *bigrams;
};

#define RT_MAX_RECORDS_PER_OP 4
#define RT_OWNED_INLINE 32

/* What applying one request produced. */
struct rt_result {
	Mailroom__Response resp;     /* code, error, message and result */
	int park;                    /* pull found nothing: wait for a push */
	char touched_queue[PB_NAME_MAX];   /* a queue that gained a message */
	char extra_queues[4][PB_NAME_MAX]; /* more of them (a page of 12345 orders) */
	int nextra;
	Mailroom__Receipt *receipt;  /* to fill once the batch is sealed */
	uint64_t receipt_index;
	/* The hash of a record this request appended (its RECEIVED), so
	 * the receipt need not hash the record again. */
	int appended_known;
	uint64_t appended_index;
	uint8_t appended_hash[ST_HASH_LEN];
	int nrecords;                /* records appended, for publishing */
	uint64_t records[RT_MAX_RECORDS_PER_OP];
	uint64_t *more;              /* beyond those (a page of 12345 orders) */
	size_t nmore, capmore;
	/* set while an import applies a message's history (rt_import.c) */
	struct rt_prep *prep;        /* the request's work done before the writer, or NULL */
	const char *import_actor;    /* "operator:<key id>" */
	int64_t import_now_ms;       /* when the records are signed */
	/* storage the response points into, freed by rt_result_clear: the
	 * first RT_OWNED_INLINE in place, the rest (imports, long histories)
	 * in a growing array */
	struct rt_owned {
		void *p;
		int kind;
	} owned[RT_OWNED_INLINE], *owned_more;
	int nowned;
	size_t nowned_more, capowned_more;
};

/* Applies a write request inside txn (a nested transaction the caller
 * commits when resp.code is 0 and aborts otherwise). */
int rt_apply(struct rt_core *core, st_txn *txn, const struct rt_principal *who,
             const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* After st_log_seal of the batch: fills the receipt a result carries
 * (its proof needs the batch's checkpoint). */
int rt_result_receipts(struct rt_core *core, st_txn *txn, struct rt_result *res);
/* The same against a checkpoint read once for a whole batch
 * (rt_witness_note: the note with its cosignatures, and its size). */
struct rt_note {
	char *text;
	size_t len;
	uint64_t size;
};
int rt_result_receipts_at(struct rt_core *core, st_txn *txn, struct rt_result *res,
                          const struct rt_note *n);
/* A citizen's status receipt for record index (rt_witness_receipt_note's
 * checkpoint, with its cosignatures), owned by res. */
int rt_status_receipt(struct rt_core *core, st_txn *t, struct rt_result *res, uint64_t index,
                      Mailroom__Receipt **out);
/* The citizen's view of m gets the receipt of m's RECEIVED record, proved
 * against the newest cosigned checkpoint covering it (a status read, a
 * rating's answer). A failure is logged and leaves the view without one. */
void rt_view_receipt(struct rt_core *core, st_txn *t, struct rt_result *res,
                     const Mailroom__StoredMessage *m, Mailroom__MessageView *v);
/* Read-only requests (status, queues, stats) against a read txn. */
int rt_read(struct rt_core *core, st_txn *txn, const struct rt_principal *who,
            const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* Puts back one expired lease, if any is due; PB_ENOTFOUND when none. */
int rt_expire_one(struct rt_core *core, st_txn *txn, int64_t now_ms, struct rt_result *res);
/* Writes the next escalation step that is due, if any; PB_ENOTFOUND when
 * none. */
int rt_escalate_one(struct rt_core *core, st_txn *txn, int64_t now_ms, struct rt_result *res);
/* From 1 November, while next year's notice is not loaded, warns once per
 * day (*last_day, the day warned; NULL: warn now). */
void rt_calendar_check(struct rt_core *core, int64_t now_ms, int32_t *last_day);
/* The calendars of c: [router] calendars, then local_calendars, whose year
 * files win (each such year logged, prefixed by what: "" or "reload: ").
 * PB_OK with *out NULL when neither holds a file and the first is missing
 * (warned: the law alone applies); else an error with "FILE:LINE: reason"
 * in err. */
int rt_calendars_load(const struct pb_conf *c, const char *what, cal_set **out, char *err,
                      size_t errlen);
/* Once per calendar version: recomputes provisional deadlines in one
 * transaction, with a record for each that moved. visited (may be NULL)
 * gets how many messages it read: those the store's provisional index
 * names, 0 when the version had not changed. */
int rt_recompute_provisional(struct rt_core *core, int *moved, size_t *visited);
/* On start, before serving: the key rotation when the store is still
 * signed by [store] previous_signing_key (rt_keys.c). */
int rt_keys_start(struct rt_core *core);
/* Is this op one that writes (and so goes to the writer)? */
int rt_is_write(const Mailroom__Request *req);
/* Which principal kinds may send this op. */
int rt_allowed(const struct rt_principal *who, const Mailroom__Request *req);

void rt_result_init(struct rt_result *res);
void rt_result_clear(struct rt_result *res);
/* Notes that queue gained a message (wakes parked pulls after commit). */
void rt_touch(struct rt_result *res, const char *queue);
/* Remembers a record appended for this result, to publish after commit. */
int rt_note_record(struct rt_result *res, uint64_t index);
/* Count and i-th of all the records noted. */
size_t rt_nrecords(const struct rt_result *res);
uint64_t rt_record_at(const struct rt_result *res, size_t i);
/* Sets resp.code/error/message; returns code. */
int rt_fail(struct rt_result *res, int code, const char *error, const char *message);

/* The route a message takes: queue name and the rule that chose it. */
const char *rt_route(const struct pb_conf *c, int channel, const char *category,
                     const char *subject, const char *body, const char **rule);

/* Resemblance of two texts, 0-1000: Jaccard similarity of their
 * character bigrams after normalisation (rt_similar.c). */
int rt_similarity_permille(const char *a, const char *b, int *permille);
/* One text's sorted, distinct bigrams, to compare with many others
 * without recomputing them for each (the repeat checks). */
struct rt_bigrams {
	uint64_t *v;
	size_t n;
};
int rt_bigrams_of(const char *s, struct rt_bigrams *out);
/* A plain-channel submit's work that does not depend on the store
 * (rt_prep.c), done on the receiving thread before the request reaches
 * the writer, the one serial stage. sub names the request it was made
 * for: the writer uses a piece only for that very SubmitReq, and does
 * the work itself when a piece is missing. */
struct rt_prep {
	const Mailroom__SubmitReq *sub;
	struct rt_bigrams text;                  /* subject "\n" body's set (text.v NULL: none) */
	int hashed[2];                           /* contact_hash[k] holds phone (0), e-mail (1) */
	uint8_t contact_hash[2][ST_HASH_LEN];
	uint8_t salt[ST_SALT_LEN];               /* the texts' salt and commitment */
	uint8_t content_hash[ST_HASH_LEN];
	uint8_t *sealed;                         /* the contact sealed with the data key */
	size_t sealed_len;
	int have_commit, have_sealed;
	/* Set by the writer (rt_repeat_scan) before the message is created,
	 * so it is stored once, flag and all. */
	int scanned, repeat_pm;
	uint8_t repeat_of[16];
};
void rt_prepare(struct rt_core *core, const Mailroom__Request *req, struct rt_prep *p);
/* The prepared piece for s, or NULL: the repeat check's and intake's. */
struct rt_prep *rt_prep_for(struct rt_result *res, const Mailroom__SubmitReq *s);
void rt_prep_free(struct rt_prep *p);
/* Forgets the writer's repeat scan (scanned, repeat_of): it may name a
 * message of an aborted transaction. The rest stays usable. */
void rt_prep_rewind(struct rt_prep *p);
void rt_bigrams_free(struct rt_bigrams *b);
int rt_similarity_with(const struct rt_bigrams *a, const char *b, int *permille);
/* The same between two sets made by rt_bigrams_of. */
int rt_similarity_sets(const struct rt_bigrams *a, const struct rt_bigrams *b);
/* Stored messages' bigram sets by id, least recently used dropped past
 * max_bytes (rt_bgcache.c). get: the set, or NULL. put takes b (leaving
 * it empty) and returns the kept set; NULL when it did not take it (no
 * cache, already there, no memory), b staying the caller's. A NULL
 * cache keeps nothing. */
struct rt_bgcache;
int rt_bgcache_new(size_t max_bytes, struct rt_bgcache **out);
const struct rt_bigrams *rt_bgcache_get(struct rt_bgcache *c, const uint8_t id[16]);
const struct rt_bigrams *rt_bgcache_put(struct rt_bgcache *c, const uint8_t id[16],
                                        struct rt_bigrams *b);
void rt_bgcache_free(struct rt_bgcache *c);
/* A contact normalised for the repeat index (rt_repeat.c): kind "phone"
 * keeps the digits (a +86 mobile without its country code, at least 5
 * digits), "email" is trimmed and lower-cased and needs an '@'. 0 or -1
 * when it is no usable contact. */
int rt_contact_norm(const char *kind, const char *in, char *out, size_t len);
/* Referral (rt_refer.c): 1 when a message of channel from may be referred
 * to channel to; 1 when an application referred away may close with
 * this outcome. */
int rt_refer_target_ok(int from, int to);
int rt_refer_outcome_ok(const char *outcome);

/* Nonce cache: refuses a nonce seen within the last window. */
struct rt_replay;
int rt_replay_new(int window_s, struct rt_replay **out);
void rt_replay_free(struct rt_replay *r);
/* PB_OK if fresh (and remembers it), PB_EREPLAY if seen. */
int rt_replay_check(struct rt_replay *r, const uint8_t nonce[16], int64_t now_ms);

/* Honest answers (rt_fence.c, writer thread only): 1 when req must not
 * be applied, with res saying why (its deadline passed, its key fenced)
 * or, for a resolve, whether its key was stored; 0 to apply it. */
struct rt_fence;
int rt_fence_new(int64_t keep_ms, struct rt_fence **out);
void rt_fence_free(struct rt_fence *f);
int rt_fence_gate(struct rt_fence *f, struct rt_core *core, st_txn *t,
                  const Mailroom__Request *req, int64_t now, struct rt_result *res);

/* The writer thread. */
struct rt_writer;
struct rt_op;
typedef void (*rt_done_fn)(struct rt_op *op, void *arg);
struct rt_op {
	struct rt_principal who;
	Mailroom__Request *req;
	int64_t enqueued_us;
	int64_t wait_until_ms;        /* long-poll deadline for pulls */
	struct rt_result res;
	struct rt_prep prep;          /* set by the receiving thread (rt_prepare) */
	uint8_t *out;                 /* packed Response, set before done() */
	size_t outlen;
	rt_done_fn done;
	void *arg;
	struct rt_op *next;
};
/* publish(records, n, arg) runs after each durable commit. */
typedef void (*rt_publish_fn)(st_txn *rtxn, const uint64_t *indexes, int n, void *arg);
int rt_writer_start(struct rt_core *core, rt_publish_fn publish, void *arg, struct rt_writer **out);
void rt_writer_submit(struct rt_writer *w, struct rt_op *op);
/* The same for a list linked by next, queued in order under one lock. */
void rt_writer_submit_list(struct rt_writer *w, struct rt_op *ops);
/* Stops the thread after it has answered everything it holds; requests
 * submitted later are answered "unavailable" at once. */
void rt_writer_stop(struct rt_writer *w);
/* The writer's health fields of StatsResp: store full, work waiting, time
 * since the last commit. */
void rt_health_stats(struct rt_core *core, int64_t now_ms, Mailroom__StatsResp *sr);
/* Only once no caller can submit any more (the socket is closed). */
void rt_writer_free(struct rt_writer *w);

/* Packs res->resp into op->out (or a minimal error if packing fails). */
void rt_pack(struct rt_op *op);

/* Handlers: mailroom.ini's [handler.NAME] merged with the list the store
 * keeps (mailroom-admin handler add/remove). A set once published is never
 * changed nor freed before rt_handlers_free, so a principal may keep its
 * handler pointer for as long as its request lives. */
int rt_handlers_reload(struct rt_core *core);
const struct pb_handler *rt_handler_by_key(struct rt_core *core, const uint8_t pubkey[32]);
void rt_handlers_free(struct rt_core *core);
/* HandlerAdminReq, a write (rt_handlers.c). */
int rt_op_handler_admin(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                        const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);

/* Console requests (rt_console.c): opens an AUTH_HTTPSIG envelope. On
 * success *req is the request the signed route and body mean and who its
 * handler; reads have had their nonce checked here (writes in admit). On
 * refusal, *error and *message say why. */
struct rt_replay;
int rt_console_open(struct rt_core *core, struct rt_replay *replay, int64_t start_ms,
                    const Mailroom__Envelope *env, int64_t now_ms, Mailroom__Request **req,
                    struct rt_principal *who, const char **error, const char **message);
/* Handler reads only the console offers: a message's detail, supervision. */
int rt_console_read(struct rt_core *core, st_txn *txn, const struct rt_principal *who,
                    const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* Adds the due-soon, overdue and seriously-overdue counts to a queue
 * listing (console reads: one pass over the messages). */
int rt_console_queue_counts(st_txn *txn, Mailroom__QueuesResp *qr);

/* The nng face. */
struct rt_server;
int rt_server_start(struct rt_core *core, struct rt_server **out);

/* SIGHUP (rt_reload.c): prepare checks the file and the calendars and
 * refuses (non-zero, the running ones stay) what does not load; the
 * writer thread applies an accepted one between batches (apply returns 1
 * when it did). free at exit. */
int rt_reload_prepare(struct rt_core *core, const char *path);
int rt_reload_apply(struct rt_core *core);
void rt_reload_free(struct rt_core *core);
void rt_server_stop(struct rt_server *s);

/* The attachment scanner (rt_scan.c): a thread that sends pending files
 * to clamd and each verdict through the writer. The store's counter of
 * files waiting for a verdict (rt_attach.c keeps it). */
#define RT_ATTACH_PENDING "attach.pending"
struct rt_scanner;
int rt_scanner_start(struct rt_core *core, struct rt_writer *w, struct rt_scanner **out);
void rt_scanner_stop(struct rt_scanner *s);
/* 1 while the last attempt reached clamd, for /metrics. */
int rt_scanner_up(void);

/* The router's /metrics and /healthz on [router] metrics_addr (rt_metrics.c);
 * *out stays NULL when it is off. */
struct rt_metrics;
int rt_metrics_start(struct rt_core *core, struct rt_metrics **out);
void rt_metrics_stop(struct rt_metrics *x);

#endif
