/* What the 12345 connector's integration tests share: the stand-in
 * platform in this process, the [hotline] settings that point
 * mailroom-hotline at it, and the connector as a child process. */
#ifndef MR_HL_IT_H
#define MR_HL_IT_H

#include "harness.h"
#include "hp.h"

#define HL_APP "mr-dept-app"

struct hl_it {
	struct hp *platform;
	char secret_hex[65];
	struct mr_proc hotline;
};

/* Starts the platform and appends the [hotline] section to e's config
 * (call between mr_env_init and mr_env_up). extra: more [hotline] lines. */
int hl_it_init(struct mr_env *e, struct hl_it *h, unsigned seed, const char *extra);
int hl_it_start(struct mr_env *e, struct hl_it *h);
/* SIGTERM (clean stop expected) or SIGKILL. */
int hl_it_stop(struct mr_env *e, struct hl_it *h, int sig);
void hl_it_fini(struct mr_env *e, struct hl_it *h);

/* mailroom-hotline -c INI args... (NULL-terminated); stdout into *out. */
int hl_it_cmd(struct mr_env *e, char **out, ...);
/* The store's log, read-only beside the running router: every record in
 * place, chained and signed. */
int hl_it_verify(struct mr_env *e, uint64_t *records);
/* Waits until pred(arg) or timeout_ms; 0 when it held. */
int hl_it_wait(int (*pred)(void *arg), void *arg, int timeout_ms);

#endif
