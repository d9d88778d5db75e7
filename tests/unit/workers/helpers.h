/* Fixtures for the workers tests: a scratch directory, running the built
 * tools as child processes, a store with one message's history, raw LMDB
 * tampering, and a stand-in router on an ipc socket. */
#ifndef WK_TEST_HELPERS_H
#define WK_TEST_HELPERS_H

#include "st.h"

#include <jansson.h>

#include <stddef.h>
#include <stdint.h>

#define HANDLER_BIN MR_BIN_DIR "/workers/handler/mailroom-handler"
#define AUDIT_BIN MR_BIN_DIR "/workers/audit/mailroom-audit"

extern char tdir[256];

/* Criterion .init/.fini: a fresh tdir, removed afterwards. */
void tdir_setup(void);
void tdir_teardown(void);
/* tdir + "/" + name into a static rotating buffer. */
const char *tpath(const char *name);

/* The outcome of one child process. */
struct run {
	int exit;        /* exit status, or 128 + signal */
	char out[65536];
	char err[16384];
};
/* Runs prog with argv (NULL-terminated, argv[0] included) in tdir. */
void run_prog(struct run *r, const char *prog, const char *const argv[]);
/* mailroom-handler with these arguments, into *rp. */
#define RUN_HANDLER(rp, ...)                                                \
	do {                                                                \
		const char *const av_[] = {"mailroom-handler", __VA_ARGS__, NULL}; \
		run_prog((rp), HANDLER_BIN, av_);                           \
	} while (0)
/* stdout parsed as JSON; the test fails when it is not. */
json_t *run_json(const struct run *r);
/* A refusal: this exit code, {"error":{"code":code}} on stdout and a line
 * on stderr. */
void run_expect_error(const struct run *r, int exit, const char *code);

/* ---- a store: record 0 (the key), then one message's history ---- */
struct fixture_store {
	char dir[300];
	char pubkey[300];      /* the store.pub written beside the signing key */
	uint8_t id[16];
	char idt[27];
	char track[15];
	uint64_t records;      /* total records in the log */
	uint64_t first_msg;    /* index of the message's first record */
	int nmsg;              /* records about the message */
	uint64_t msg_at[8];    /* their indexes */
};
/* Creates an empty store (record 0 only) at <base>/store with keys in
 * <base>/keys, base being tdir or tdir/sub; fills s->dir and s->pubkey.
 * The caller writes and closes it. */
st_env *store_create(struct fixture_store *s, const char *sub);
/* store_create, then one message's history (received, routed, leased and
 * transferred by alice, leased and answered by bob) and the two records
 * of another message, which a trail must leave out. No checkpoints. */
void store_build(struct fixture_store *s, const char *sub);
/* Flips one bit of log record index at byte offset off (negative: from
 * the end). The store must not be open in this process. */
void store_flip(const char *dir, uint64_t index, long off);

/* ---- a stand-in router: answers whatever mailroom-handler sends ---- */
struct fake_seen {
	int op;                 /* Mailroom__Request__OpCase of the last request */
	int nreq;
	int auth_ok;            /* the envelope verified under the sender's key */
	uint8_t pk[32];
	char queue[64];
	uint32_t wait_ms;
	uint8_t id[16];
	uint8_t token[64];
	size_t token_len;
	char text[256];
	char to[64];
	char reason[256];
	uint64_t ts_ms;
	uint8_t nonce[16];
	int action;             /* ClockReq */
	int32_t working_days;
	char approver[128];
	int64_t received_ms;
	/* DisclosureReq (action in disc_action, text in text) */
	int disc_action;
	char outcome[64];
	char legal_basis[256];
	char evidence[256];
	int64_t at_ms;
	int32_t days;
	int has_review;
	char review_kind[32];
	char case_no[64];
	char review_result[16];
	int64_t filed_ms, decided_ms;
};
struct fake_cfg {
	int code;               /* answer every request with this pb_err when set */
	int empty;              /* pull finds nothing (2: answer without a result) */
	uint8_t id[16];         /* the message a pull hands out */
	uint8_t token[16];      /* its lease token; other tokens get PB_ELEASE */
	uint8_t renewed[16];    /* token handed out by renew */
	const char *error;      /* Response.error with code; NULL: pb_err_name(code) */
};
/* Listens on ipc://tdir/router.ipc; returns that url. */
const char *fake_start(const struct fake_cfg *cfg);
void fake_stop(void);
void fake_seen(struct fake_seen *out);

/* j[a][b] as a string (b may be NULL); NULL when absent. */
const char *jstr(json_t *j, const char *a, const char *b);

#endif
