/* The integration harness: a private temporary directory with a config,
 * keys and secrets; the real router and gateway as child processes; and
 * small clients for HTTP (libcurl), the command-line tools and the 12345
 * push signature. Shared by the integration tests and bench-ingest.
 *
 * Nothing here asserts: every function returns 0 or -1 (with a line on
 * stderr saying why), so both Criterion tests and the benchmark can use it. */
#ifndef MR_HARNESS_H
#define MR_HARNESS_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MR_PATH 512
#define MR_MAX_HANDLERS 8
#define MR_HOTLINE_APP "mr-test-app"
#define MR_PETITION_APP "mr-petition-app"

struct mr_handler_spec {
	const char *name;
	const char *queues;          /* comma list as the INI takes it */
};

struct mr_opts {
	int lease_seconds;           /* 0: the built-in default */
	int connection_timeout_s;
	int router_timeout_ms;
	int http_threads;
	int commit_window_us;        /* written only when set_commit_window */
	int set_commit_window;
	int max_per_ip;
	const struct mr_handler_spec *handlers;
	int nhandlers;
	const char *extra_ini;       /* appended verbatim */
	const char *log_level;       /* NULL: "info" */
	const char *calendars;       /* the router's calendar directory; NULL: deploy/calendars */
	const char *local_calendars; /* [router] local_calendars; NULL: none */
	int map_size_mb;             /* 0: 1024 */
};

struct mr_handler {
	char name[64];
	char key_path[MR_PATH];
	uint8_t sk[64];              /* libsodium layout: seed || public key */
	uint8_t pk[32];
};

struct mr_proc {
	const char *what;            /* "router" or "gateway" */
	pid_t pid;                   /* 0 when not running */
	int status;                  /* wait status of the last exit */
	int starts;
	char log[MR_PATH];           /* stdout and stderr of the current run */
};

struct mr_env {
	char dir[200];               /* short: ipc paths must fit a sockaddr_un */
	char ini[MR_PATH];
	char store[MR_PATH];
	char router_url[MR_PATH];
	uint8_t gateway_secret[32];
	char hotline_secret[65];     /* the 12345 app's HMAC key, hex as in its file */
	char petition_secret[65];    /* the petition system's, [petition.app.MR_PETITION_APP] */
	int nhandlers;
	struct mr_handler handlers[MR_MAX_HANDLERS];
	struct mr_handler connector; /* mailroom-hotline's own key, [connector.hotline] */
	struct mr_proc router, gateway;
	int port;
	char base[64];               /* http://127.0.0.1:PORT */
	long gateway_start_s;        /* wall clock second the gateway was started */
	int problems;                /* unclean exits or sanitizer reports seen */
	char calendars[MR_PATH];     /* the router's calendar directory */
	char local_calendars[MR_PATH];   /* the office's own, "" when none */
	int audit_timeout_s;         /* mr_audit_cmd's limit; 0: 120 s */
};

/* ---- environment and processes ---- */
int mr_env_init(struct mr_env *e, const struct mr_opts *o);
/* Router, then gateway (waits for /healthz 200). */
int mr_env_up(struct mr_env *e);
/* Stops whatever runs (SIGTERM, then SIGKILL), checks exit statuses and
 * logs, removes the directory unless MR_KEEP_TMP is set. Returns the number
 * of problems seen over the whole run (0 = clean). Idempotent. */
int mr_env_down(struct mr_env *e);

/* The port logged right after tag by the gateway (e.g. "console listening
 * on http://127.0.0.1:"), waiting for the line; -1 when none comes. */
int mr_gateway_log_port(struct mr_env *e, const char *tag);
int mr_router_start(struct mr_env *e);
int mr_gateway_start(struct mr_env *e);
/* sig = SIGTERM: orderly stop, expecting exit 0 (else counted as a
 * problem); SIGKILL: a crash. Returns the wait status. */
int mr_proc_stop(struct mr_env *e, struct mr_proc *p, int sig);
/* 1 while the process has not exited (waitpid WNOHANG). */
int mr_proc_alive(struct mr_proc *p);
/* Peak resident set (VmHWM) in KiB, -1 when unknown. */
long mr_proc_hwm_kb(const struct mr_proc *p);
/* A kB field of /proc/PID/status ("RssAnon:"), -1 when unread. */
long mr_proc_status_kb(const struct mr_proc *p, const char *field);
/* Starts argv[0] with stdout and stderr appended to log, killed when the
 * test process dies. The pid, or -1. */
pid_t mr_spawn(const char *log, char *const argv[]);
/* Prints the last lines of the process's log on stderr. */
void mr_proc_dump(const struct mr_proc *p, int lines);

/* Writes a fresh Ed25519 seed in the handler key-file format. */
int mr_key_write(const char *path, uint8_t sk[64], uint8_t pk[32]);

/* ---- HTTP ---- */
struct mr_http {
	long status;                 /* 0 when the transfer failed */
	char *body;
	size_t len;
	char location[512];
	char retry_after[64];
	char content_type[128];
	double total_s;
};
/* h may be NULL for a one-off handle. headers may be NULL. */
int mr_http(CURL *h, const char *base, const char *method, const char *path,
            struct curl_slist *headers, const void *body, size_t len, long timeout_ms,
            struct mr_http *r);
void mr_http_free(struct mr_http *r);
/* POST /v1/disclosure-applications with application/json. */
int mr_post_disclosure(CURL *h, const struct mr_env *e, const char *json, struct mr_http *r);
/* POST /v1/messages with application/json. */
int mr_post_message(CURL *h, const struct mr_env *e, const char *json, struct mr_http *r);
/* The same with an Idempotency-Key header (a retry's key), waiting up to 60 s. */
int mr_post_message_keyed(CURL *h, const struct mr_env *e, const char *key, const char *json,
                          struct mr_http *r);
/* GET /v1/messages/{code} with Authorization: Bearer key (NULL: none). */
int mr_get_status(CURL *h, const struct mr_env *e, const char *code, const char *key,
                  struct mr_http *r);
/* Parses r->body; NULL when it is not JSON. */
json_t *mr_http_json(const struct mr_http *r);

/* ---- 12345 push ---- */
/* A valid dispatch order; malloc'd. */
char *mr_order_json(const char *order_no, unsigned dispatch_seq, const char *title);
struct mr_hl_sign {
	const char *app_id;          /* NULL: MR_HOTLINE_APP */
	const char *secret;          /* hex key; NULL: the env's secret */
	long timestamp;              /* 0: now */
	const char *nonce;           /* NULL: fresh random */
	int corrupt;                 /* flip a hex digit of the signature */
	char used_nonce[65];         /* out: the nonce that was sent */
};
int mr_post_order(CURL *h, const struct mr_env *e, const char *json, struct mr_hl_sign *s,
                  struct mr_http *r);
void mr_hl_signature(const char *secret, const char *method, const char *path, const char *ts,
                     const char *nonce, const void *body, size_t len, char out[65]);
/* Sleeps until the wall clock second is past the gateway's start second:
 * the gateway refuses 12345 timestamps at or before its start. */
void mr_wait_past_gateway_start(const struct mr_env *e);

/* ---- command-line tools ---- */
/* Runs argv (NULL-terminated) with stdout captured into *out (malloc'd,
 * may be NULL) and stderr into *err. Returns the exit code, or -1 when it
 * could not run or was killed after timeout_s. */
int mr_run(struct mr_env *e, char *const argv[], char **out, char **err, int timeout_s);
/* mailroom-handler -c INI --key KEY args...; NULL-terminated varargs. */
int mr_handler_cmd(struct mr_env *e, const char *key_path, char **out, ...);
/* mailroom-admin -c INI --key KEY args...; stdout into *out, stderr into
 * *err (both malloc'd, may be NULL); NULL-terminated varargs. */
int mr_admin_cmd(struct mr_env *e, const char *key_path, char **out, char **err, ...);
/* mailroom-audit args... --store STORE; NULL-terminated varargs. */
int mr_audit_cmd(struct mr_env *e, char **out, ...);

/* ---- a witness (mailroom-audit witness --serve) ---- */
/* Makes a witness key named name in dir when none is there (its verifier
 * key line into vkey), then starts `mailroom-audit witness --serve
 * 127.0.0.1:0` on dir for e's log, logging to log. Returns its port, or
 * -1; *pid is the process (stop it with SIGTERM). */
int mr_witness_start(struct mr_env *e, const char *dir, const char *name, const char *log,
                     char *vkey, size_t cap, pid_t *pid);
/* Appends [witness.NAME] for it (a push every interval_ms) to e's config
 * and restarts the router, waiting until the gateway reaches it again. */
int mr_witness_attach(struct mr_env *e, const char *name, int port, const char *vkey,
                      int interval_ms);

/* ---- small things ---- */
double mr_now_s(void);
/* A loopback TCP port free a moment ago (for a config); -1 on failure. */
int mr_free_port(void);
/* The value of the sample "name value" (no labels) in Prometheus text;
 * 0 when found, -1 when not. */
int mr_metric(const char *text, const char *name, double *value);
/* GET http://127.0.0.1:port/path: the body (malloc'd, "" when empty; NULL
 * when nothing answered) and its status. */
char *mr_scrape(int port, const char *path, long *status);
/* One sample of GET /metrics on port; -1 when absent or not answered. */
double mr_scrape_metric(int port, const char *name);
void mr_sleep_ms(long ms);
/* Tracking code shape: dddd-dddd-dddd. */
int mr_is_track(const char *s);
char *mr_read_text(const char *path, size_t *len);

#endif
