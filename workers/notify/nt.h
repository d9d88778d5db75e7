/* mailroom-notify: sends the router's notices to citizens by e-mail and
 * SMS (README.md). Internals shared by its files; nothing else includes
 * this. */
#ifndef NT_H
#define NT_H

#include "mailroom.pb-c.h"
#include "pb_conf.h"

#include <nng/nng.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define NT_PROG "mailroom-notify"
#define NT_ROUTER_TIMEOUT_MS 10000

extern atomic_int nt_stop;
/* Sleeps ms unless stopped; 0 if it slept, -1 if stopped. */
int nt_sleep(int64_t ms);

/* ---- the router, under the notifier's own key (nt_router.c) ---- */
struct nt_router {
	nng_socket sock;
	int open;
	uint8_t sk[64];
	char err[PB_PATH_MAX + 256];
};
int nt_router_open(struct nt_router *r, const struct pb_conf *c);
/* Transport result; the router's verdict is (*resp)->code. */
int nt_router_call(struct nt_router *r, Mailroom__Request *req, Mailroom__Response **resp);
void nt_router_close(struct nt_router *r);

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
