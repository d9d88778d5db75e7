/* Private to the mailroom-handler program: parsed options, the command
 * table and the output helpers shared by the commands. */
#ifndef WK_CLI_H
#define WK_CLI_H

#include "wk.h"

#include <jansson.h>

#define WK_PROG "mailroom-handler"
#define WK_DEFAULT_CONF "deploy/mailroom.ini"
#define WK_WAIT_MAX_S 3600
#define WK_ATTACH_MAX 16         /* --attach given; the router holds to [attachments] max_files */

/* Options a command may take besides -c, --router and --key. */
enum {
	WK_O_QUEUE = 1 << 0,
	WK_O_WAIT = 1 << 1,
	WK_O_TEXT = 1 << 2,
	WK_O_TO = 1 << 3,
	WK_O_REASON = 1 << 4,
	WK_O_LEASE = 1 << 5,
	WK_O_STATE = 1 << 6,
	WK_O_NAME = 1 << 7,
	WK_O_DAYS = 1 << 8,
	WK_O_APPROVER = 1 << 9,
	WK_O_RECEIVED = 1 << 10,
	WK_O_REASON_CODE = 1 << 11,
	WK_O_UNTIL = 1 << 12,
	/* disclosure steps (wk_disclosure.c) */
	WK_O_DATE = 1 << 13,
	WK_O_EVIDENCE = 1 << 14,
	WK_O_PARTY = 1 << 15,
	WK_O_NDAYS = 1 << 16,       /* --days */
	WK_O_OUTCOME = 1 << 17,
	WK_O_LEGAL = 1 << 18,
	WK_O_KIND = 1 << 19,
	WK_O_CASE = 1 << 20,
	WK_O_FILED = 1 << 21,
	WK_O_RESULT = 1 << 22,
	WK_O_DECIDED = 1 << 23,
	WK_O_CONFIRM = 1 << 24,
	WK_O_DISMISS = 1 << 25,
	WK_O_OUT = 1 << 26,         /* --out FILE (attachment) */
	WK_O_ATTACH = 1 << 27,      /* --attach FILE, repeated (reply) */
};
#define WK_O_DISCLOSURE                                                                 \
	(WK_O_DATE | WK_O_EVIDENCE | WK_O_PARTY | WK_O_NDAYS | WK_O_OUTCOME | WK_O_LEGAL |  \
	 WK_O_KIND | WK_O_CASE | WK_O_FILED | WK_O_RESULT | WK_O_DECIDED | WK_O_CONFIRM |   \
	 WK_O_DISMISS | WK_O_TEXT | WK_O_APPROVER | WK_O_REASON | WK_O_LEASE | WK_O_STATE)

struct wk_opts {
	const char *conf;          /* NULL: WK_DEFAULT_CONF, missing file allowed */
	const char *router;
	const char *key;
	const char *state;
	const char *lease;
	const char *queue;
	const char *to;
	const char *reason;
	const char *text;
	const char *name;
	const char *days;          /* --working-days, checked by the command */
	const char *approver;
	const char *received;      /* --received-at, RFC 3339 */
	const char *reason_code;   /* --reason-code (12345 return) */
	const char *until;         /* --until, RFC 3339 (12345 extension request) */
	const char *date;          /* disclosure: --date YYYY-MM-DD (Asia/Shanghai) */
	const char *evidence;
	const char *party;
	const char *ndays;         /* --days */
	const char *outcome;
	const char *legal_basis;
	const char *kind;
	const char *case_no;
	const char *filed;
	const char *result;
	const char *decided;
	const char *out;
	const char *attach[WK_ATTACH_MAX];
	int nattach;
	long wait_s;
	unsigned seen;             /* WK_O_* given on the command line */
	int nargs;
	char **args;               /* positional arguments after the command */
};

struct wk_ctx {
	struct wk_opts o;
	struct pb_conf *conf;      /* loaded by wk_connect */
	uint8_t sk[64];
	uint8_t pk[32];
	struct wk_client client;
};

struct wk_cmd {
	const char *name;
	int (*run)(struct wk_ctx *);
	unsigned allowed;          /* WK_O_* */
	int nargs;                 /* positional arguments it needs */
	const char *usage;
};

/* Commands (wk_cmd.c). Each returns an exit code (enum wk_exit). */
int wk_cmd_keygen(struct wk_ctx *x);
int wk_cmd_pubkey(struct wk_ctx *x);
int wk_cmd_queues(struct wk_ctx *x);
int wk_cmd_pull(struct wk_ctx *x);
int wk_cmd_reply(struct wk_ctx *x);
int wk_cmd_release(struct wk_ctx *x);
int wk_cmd_renew(struct wk_ctx *x);
int wk_cmd_transfer(struct wk_ctx *x);
int wk_cmd_return_to_dispatch(struct wk_ctx *x);
/* Deadline clocks (wk_clock.c): no lease needed. */
int wk_cmd_extend(struct wk_ctx *x);
int wk_cmd_pause(struct wk_ctx *x);
int wk_cmd_resume(struct wk_ctx *x);
int wk_cmd_restart(struct wk_ctx *x);

/* Whole working days, 1-366, digits only (wk_clock.c). */
int wk_parse_days(const char *s, int32_t *out);

/* A message's clean file into --out (wk_attach.c). */
int wk_cmd_attachment(struct wk_ctx *x);
/* Each --attach FILE stored through the router; handles[i] (65 bytes
 * each) for the reply. An exit code. */
int wk_upload_files(struct wk_ctx *x, char (*handles)[65]);

/* Disclosure applications (wk_disclosure.c): disclosure STEP ID. */
int wk_cmd_disclosure(struct wk_ctx *x);

/* 12345 orders (wk_hotline.c). */
int wk_cmd_sign(struct wk_ctx *x);
int wk_cmd_finish(struct wk_ctx *x);
int wk_cmd_return(struct wk_ctx *x);
int wk_cmd_extend_request(struct wk_ctx *x);
/* pj_view(PJ_HANDLER) plus what a handler needs of a 12345 order's state. */
json_t *wk_view(const Mailroom__MessageView *v);

/* What a lease command needs before it may talk to the router (wk_cmd.c). */
struct wk_lease_arg {
	uint8_t id[PB_ID_LEN];
	char idt[PB_ID_TEXT_LEN + 1];
	uint8_t tok[WK_TOKEN_MAX];
	size_t toklen;             /* 0: none kept and none required */
	int from_file;             /* token came from the state directory */
	struct wk_state st;
};
/* The id argument and the token (--lease, else the kept one). With
 * required 0 a missing kept token is not an error. */
int wk_lease_arg(struct wk_ctx *x, struct wk_lease_arg *a, int required);
void wk_lease_ref(struct wk_lease_arg *a, Mailroom__LeaseRef *ref);
/* Drops the kept token: the lease is over. */
void wk_lease_done(struct wk_lease_arg *a);
/* After a refused call: a dead kept token is dropped. Returns rc. */
int wk_after_lease_call(struct wk_lease_arg *a, int rc);

/* Output (wk_main.c). wk_emit takes the reference; NULL means out of
 * memory. wk_fail prints {"error":...} on stdout and one line on stderr,
 * and returns exit. */
int wk_emit(json_t *j);
int wk_fail(int exit, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* wk_fail for a pb_err raised here rather than by the router. */
int wk_fail_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Loads config and key, dials the router (wk_main.c). 0 or an exit code,
 * with the error already printed. */
int wk_connect(struct wk_ctx *x);

/* Sends req and checks the verdict (wk_cmd.c). On success *out holds a
 * response with result want; otherwise the error is printed and its exit
 * code returned. timeout_ms 0 means the default. */
int wk_call(struct wk_ctx *x, Mailroom__Request *req, int timeout_ms, int want,
            Mailroom__Response **out);

#endif
