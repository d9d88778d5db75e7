/* cn: what the long-running connectors (mailroom-hotline, mailroom-notify)
 * share: the signed link to the router, the program's scaffolding (options,
 * config, signals, JSON output) and their own health and metrics listener.
 * Each connector keeps its protocol; this is only the plumbing around it. */
#ifndef CN_H
#define CN_H

#include "mailroom.pb-c.h"
#include "pb_conf.h"
#include "pb_link.h"

#include <jansson.h>
#include <nng/nng.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes both connectors document (workers/README.md). */
enum cn_exit {
	CN_EXIT_USAGE = 1,
	CN_EXIT_UNREACHABLE = 2,
	CN_EXIT_NOTFOUND = 4,
	CN_EXIT_INVALID = 8,
	CN_EXIT_OTHER = 9,
};

/* Set by SIGINT/SIGTERM (cn_run); every loop and sleep looks at it. */
extern atomic_int cn_stop;
/* Sleeps ms unless stopped; 0 if it slept, -1 if stopped. */
int cn_sleep(int64_t ms);

/* ---- the router, under the connector's own key (cn_router.c) ---- */
struct cn_router {
	nng_socket sock;
	int open;
	struct pb_link link;   /* counts the pipes, redials a stuck dialer */
	uint8_t sk[64];   /* the connector's own key, libsodium layout */
	char err[PB_PATH_MAX + 256];
};
/* Loads the seed in key_file (named "[section] key_file" in errors) and
 * dials url without blocking: the socket redials by itself. */
int cn_router_open(struct cn_router *r, const char *section, const char *key_file,
                   const char *url);
/* Seals req with pb_wire_seal_connector and waits up to timeout_ms.
 * Transport result; the router's verdict is (*resp)->code. Every call
 * feeds the health below: an answer, or not. */
int cn_router_call(struct cn_router *r, Mailroom__Request *req, int timeout_ms,
                   Mailroom__Response **resp);
void cn_router_close(struct cn_router *r);

/* ---- health: the router and the upstream (cn_health.c) ----
 * The router is healthy while it has answered within the threshold; the
 * upstream (the 12345 platform, the mail relay or SMS provider) while it
 * has not failed `failures` times in a row with no success for the
 * threshold. Lock-free: any thread notes, the listener reads. */
void cn_health_start(void);                /* the clocks start now */
void cn_health_router(int answered);
void cn_health_upstream(int ok);
struct cn_health {
	int64_t uptime_ms;
	int64_t router_age_ms;                 /* since the last answer (or start) */
	int64_t upstream_age_ms;               /* since the last success (or start) */
	uint64_t router_fails, upstream_fails; /* in a row */
	uint64_t upstream_fails_total;
};
void cn_health_get(struct cn_health *h);

/* ---- GET /healthz and GET /metrics on pb_mon's listener (cn_metrics.c) ---- */
struct cn_metrics_spec {
	const char *prog;        /* "hotline": metric names mailroom_hotline_... */
	const char *section;     /* "[hotline]", for errors */
	const char *addr;        /* "" = off */
	int port;                /* 0 = any free port (logged) */
	int unhealthy_after_s;   /* the threshold of /healthz */
	int unhealthy_failures;  /* upstream failures in a row that count */
	/* The connector's own lines, after the common ones. */
	void (*render)(FILE *f, void *arg);
	void *arg;
};
struct cn_metrics;
/* NULL in *out (and PB_OK) when the address is empty. */
int cn_metrics_start(const struct cn_metrics_spec *s, struct cn_metrics **out);
void cn_metrics_stop(struct cn_metrics *m);
/* The port it listens on (the one picked for metrics_port = 0). */
int cn_metrics_port(const struct cn_metrics *m);
/* One Prometheus sample with its HELP and TYPE lines. */
void cn_metric(FILE *f, const char *prog, const char *name, const char *type, const char *help,
               double value);
/* A connector's counters as a table: one sample per row. */
struct cn_stat {
	const char *name, *type, *help;
	atomic_ullong *value;
};
void cn_metric_table(FILE *f, const char *prog, const struct cn_stat *t, size_t n);

/* ---- the program (cn_main.c) ---- */
struct cn_cmd {
	const char *name;
	int (*fn)(const struct pb_conf *c, const char *requeue);
};
struct cn_prog {
	const char *name;           /* "mailroom-hotline" */
	const char *log_ident;      /* "hotline" */
	const char *usage;          /* printed by --help and on a usage error */
	const struct cn_cmd *cmds;  /* the first is the default; ends with {NULL} */
	const char *requeue_cmd;    /* the command that takes --requeue ID */
};
/* Options, libsodium and libcurl, the config (-c, else deploy/mailroom.ini
 * when present), logging, then the command. Returns the exit code. */
int cn_main(int argc, char **argv, const struct cn_prog *p);
/* Runs body with SIGINT and SIGTERM turned into cn_stop (and SIGPIPE
 * ignored); its result is returned. -1 when the signal thread fails. */
int cn_run(int (*body)(const struct pb_conf *c), const struct pb_conf *c);

/* JSON on stdout, indented; takes j. 0, or CN_EXIT_OTHER. */
int cn_emit(json_t *j);
/* A line on stderr and {"error":{"code","message"}} on stdout; returns code. */
int cn_fail(int code, const char *error, const char *msg);
/* RFC 3339, or null when ms is 0. */
json_t *cn_time_or_null(int64_t ms);

#endif
