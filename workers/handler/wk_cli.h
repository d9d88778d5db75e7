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

/* Options a command may take besides -c, --router and --key: one bit
 * each, 64 at most (the option table in wk_main.c names them). */
typedef uint64_t wk_optset;
#define WK_O(n) ((wk_optset)1 << (n))
#define WK_O_QUEUE WK_O(0)
#define WK_O_WAIT WK_O(1)
#define WK_O_TEXT WK_O(2)
#define WK_O_TO WK_O(3)
#define WK_O_REASON WK_O(4)
#define WK_O_LEASE WK_O(5)
#define WK_O_STATE WK_O(6)
#define WK_O_NAME WK_O(7)
#define WK_O_DAYS WK_O(8)
#define WK_O_APPROVER WK_O(9)
#define WK_O_RECEIVED WK_O(10)
#define WK_O_REASON_CODE WK_O(11)
#define WK_O_UNTIL WK_O(12)
/* disclosure steps (wk_disclosure.c) */
#define WK_O_DATE WK_O(13)
#define WK_O_EVIDENCE WK_O(14)
#define WK_O_PARTY WK_O(15)
#define WK_O_NDAYS WK_O(16)   /* --days */
#define WK_O_OUTCOME WK_O(17)
#define WK_O_LEGAL WK_O(18)
#define WK_O_KIND WK_O(19)
#define WK_O_CASE WK_O(20)
#define WK_O_FILED WK_O(21)
#define WK_O_RESULT WK_O(22)
#define WK_O_DECIDED WK_O(23)
#define WK_O_CONFIRM WK_O(24)
#define WK_O_DISMISS WK_O(25)
/* search (wk_search.c); it also takes --queue, --state (the message's)
 * and --to (a date) */
#define WK_O_CHANNEL WK_O(26)
#define WK_O_FROM WK_O(27)
#define WK_O_OVERDUE WK_O(28)
#define WK_O_LIMIT WK_O(29)
/* 并单 and 主办/协办 (wk_case.c) */
#define WK_O_KEEP WK_O(30)   /* --keep-deadline */
#define WK_O_DESPITE WK_O(31)   /* --despite-pending */
#define WK_O_DUE_DAYS WK_O(32)   /* --due-days */
/* after the answer (wk_after.c) */
#define WK_O_REACHED WK_O(33)
#define WK_O_RESOLVED WK_O(34)
#define WK_O_REOPEN WK_O(35)
#define WK_O_NOTE WK_O(36)
#define WK_O_SUBJECT WK_O(37)
#define WK_O_BODY_FILE WK_O(38)
/* attachments (wk_attach.c) */
#define WK_O_OUT WK_O(39)      /* --out FILE (attachment) */
#define WK_O_ATTACH WK_O(40)   /* --attach FILE, repeated (reply) */
#define WK_O_DISCLOSURE                                                                 \
	(WK_O_DATE | WK_O_EVIDENCE | WK_O_PARTY | WK_O_NDAYS | WK_O_OUTCOME | WK_O_LEGAL |  \
	 WK_O_KIND | WK_O_CASE | WK_O_FILED | WK_O_RESULT | WK_O_DECIDED | WK_O_CONFIRM |   \
	 WK_O_DISMISS | WK_O_TEXT | WK_O_APPROVER | WK_O_REASON | WK_O_LEASE | WK_O_STATE)

/* The long name of one option bit, without its dashes (wk_main.c). */
const char *wk_opt_name(wk_optset bit);
#define WK_O_PETITION                                                                   \
	(WK_O_TEXT | WK_O_NDAYS | WK_O_APPROVER | WK_O_REASON | WK_O_DATE | WK_O_LEASE |     \
	 WK_O_STATE)

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
	const char *channel;       /* search: --channel, --from, --limit */
	const char *from;
	const char *limit;
	const char *due_days;      /* --due-days, checked by the command */
	const char *wait;          /* --wait, parsed into wait_s */
	const char *reached, *resolved, *reopen;   /* yes | no */
	const char *note;
	const char *subject;
	const char *body_file;
	const char *out;
	const char *attach[WK_ATTACH_MAX];
	int nattach;
	long wait_s;
	wk_optset seen;            /* WK_O_* given on the command line */
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
	wk_optset allowed;         /* WK_O_* */
	int nargs;                 /* positional arguments it needs; -1: any number */
	const char *usage;
};

/* Commands (wk_cmd.c). Each returns an exit code (enum wk_exit). */
int wk_cmd_keygen(struct wk_ctx *x);
int wk_cmd_pubkey(struct wk_ctx *x);
int wk_cmd_queues(struct wk_ctx *x);
/* wk_notices.c: notices to citizens that could not be delivered */
int wk_cmd_notices(struct wk_ctx *x);
int wk_cmd_pull(struct wk_ctx *x);
int wk_cmd_reply(struct wk_ctx *x);
int wk_cmd_release(struct wk_ctx *x);
int wk_cmd_renew(struct wk_ctx *x);
int wk_cmd_transfer(struct wk_ctx *x);
int wk_cmd_return_to_dispatch(struct wk_ctx *x);
/* Referral, plain-channel repeats, one message's detail (wk_refer.c). */
int wk_cmd_refer(struct wk_ctx *x);
int wk_cmd_repeat_decide(struct wk_ctx *x);
int wk_cmd_show(struct wk_ctx *x);
/* Deadline clocks (wk_clock.c): no lease needed. */
int wk_cmd_extend(struct wk_ctx *x);
int wk_cmd_pause(struct wk_ctx *x);
int wk_cmd_resume(struct wk_ctx *x);
int wk_cmd_restart(struct wk_ctx *x);

/* Whole working days, 1-366, digits only (wk_clock.c). */
int wk_parse_days(const char *s, int32_t *out);

/* search WORDS... (wk_search.c). */
int wk_cmd_search(struct wk_ctx *x);
/* 并单 and 主办/协办 (wk_case.c). */
int wk_cmd_merge(struct wk_ctx *x);
int wk_cmd_unmerge(struct wk_ctx *x);
int wk_cmd_assist(struct wk_ctx *x);
int wk_cmd_opinion(struct wk_ctx *x);
int wk_cmd_assists(struct wk_ctx *x);
/* After the answer (wk_after.c): callback CODE|ID, publish CODE|ID,
 * unpublish CODE|ID. */
int wk_cmd_callback(struct wk_ctx *x);
int wk_cmd_callbacks(struct wk_ctx *x);
int wk_cmd_publish(struct wk_ctx *x);
int wk_cmd_unpublish(struct wk_ctx *x);
/* A message's clean file into --out (wk_attach.c). */
int wk_cmd_attachment(struct wk_ctx *x);
/* Each --attach FILE stored through the router; handles[i] (65 bytes
 * each) for the reply. An exit code. */
int wk_upload_files(struct wk_ctx *x, char (*handles)[65]);

/* Disclosure applications (wk_disclosure.c): disclosure STEP ID. */
int wk_cmd_disclosure(struct wk_ctx *x);

/* Transferred petitions (wk_petition.c): petition STEP ID. */
int wk_cmd_petition(struct wk_ctx *x);

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
