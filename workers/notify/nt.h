/* mailroom-notify: sends the router's notices to citizens by e-mail and
 * SMS (README.md). Internals shared by its files; nothing else includes
 * this. */
#ifndef NT_H
#define NT_H

#include "cn.h"
#include "mailroom.pb-c.h"
#include "pb_conf.h"

#include <nng/nng.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NT_PROG "mailroom-notify"
#define NT_ROUTER_TIMEOUT_MS 10000

/* The router link is cn_router (workers/conn) under [notify] key_file;
 * loops stop on cn_stop and wait with cn_sleep. */

/* ---- what /metrics shows (nt_metrics.c) ----
 * Counted by the loop since the start; read by the listener's thread. */
struct nt_stats {
	atomic_ullong sent, failed, dead;
	atomic_ullong outbox_seen;     /* pending notices the last round found */
	atomic_llong last_send_ms;     /* 0: none yet */
};
extern struct nt_stats nt_stats;
/* The connector's lines of /metrics (cn_metrics_spec.render). */
void nt_metrics_render(FILE *f, void *arg);

/* ---- templates (nt_tpl.c) ----
 * <dir>/<kind>.<medium>.txt: header lines "Name: value" up to the first
 * empty line, then the text. Placeholders {name} are filled from vars. */
struct nt_var {
	const char *name, *value;
};
struct nt_msg {
	char subject[512];       /* e-mail: the Subject header */
	char template_id[64];    /* SMS: the provider's approved template */
	char params[256];        /* SMS: the variables it takes, in order, comma-separated */
	char *text;              /* malloc'd, filled in */
};
/* PB_ENOTFOUND when there is no template for kind and medium. */
int nt_tpl_render(const char *dir, const char *kind, const char *medium,
                  const struct nt_var *vars, size_t nvars, struct nt_msg *out, char *err,
                  size_t errlen);
void nt_msg_free(struct nt_msg *m);
/* The value of var name, "" when absent. */
const char *nt_var_get(const struct nt_var *vars, size_t n, const char *name);

/* ---- senders ----
 * A send's outcome: sent, worth another try later, or refused for good
 * (a dead letter). why is for the dead letter and the log: never the
 * contact itself. */
enum nt_outcome { NT_SENT, NT_RETRY, NT_FINAL };
struct nt_result {
	enum nt_outcome outcome;
	char why[256];
};

/* E-mail through the [notify.smtp] relay (nt_smtp.c). */
void nt_smtp_send(const struct pb_conf *c, const char *password, const Mailroom__NoticeEntry *e,
                  const struct nt_msg *m, struct nt_result *r);
/* The message as sent, headers and base64 body (malloc'd); for tests. */
char *nt_smtp_payload(const struct pb_conf *c, const Mailroom__NoticeEntry *e,
                      const struct nt_msg *m, int64_t now_ms);

/* SMS providers (nt_sms.c): one row per provider, each in its own file. */
struct nt_sms_provider {
	const char *name;
	void (*send)(const struct pb_conf *c, const char *secret, const Mailroom__NoticeEntry *e,
	             const struct nt_msg *m, const struct nt_var *vars, size_t nvars,
	             struct nt_result *r);
};
const struct nt_sms_provider *nt_sms_provider(const char *name);

/* Tencent Cloud SMS (nt_sms_tencent.c). The TC3-HMAC-SHA256 Authorization
 * header for one request: exposed for its test. */
int nt_tc3_authorization(const char *secret_id, const char *secret_key, const char *host,
                         const char *action, int64_t timestamp, const char *body, char *out,
                         size_t outlen);
void nt_sms_tencent_send(const struct pb_conf *c, const char *secret,
                         const Mailroom__NoticeEntry *e, const struct nt_msg *m,
                         const struct nt_var *vars, size_t nvars, struct nt_result *r);

/* The demo: one file per notice under [notify] folder (nt_folder.c). */
void nt_folder_write(const struct pb_conf *c, const Mailroom__NoticeEntry *e,
                     const struct nt_msg *m, struct nt_result *r);

/* ---- the loop (nt_run.c) ---- */
int nt_run(const struct pb_conf *c);
/* Fills vars (at most 8) for e; buffers live in the caller's scratch. */
size_t nt_vars(const struct pb_conf *c, const Mailroom__NoticeEntry *e, struct nt_var *vars,
               char scratch[4][PB_PATH_MAX + 16]);

#endif
