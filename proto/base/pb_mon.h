/* pb_mon: a process's own health and metrics listener. A small HTTP
 * server (libmicrohttpd, one internal thread) on ADDR:PORT that answers
 * GET only; the owner's function writes each answer. The router
 * (rt_metrics.c) and the connectors (workers/conn/cn_metrics.c) use it. */
#ifndef PB_MON_H
#define PB_MON_H

#include <stddef.h>

/* Writes the answer to GET path: *status, *type and *body (malloc'd; the
 * listener frees it), *len its length. Not PB_OK: no answer (the
 * connection is closed). Called on the listener's thread. */
typedef int (*pb_mon_fn)(void *arg, const char *path, unsigned *status, const char **type,
                         char **body, size_t *len);

struct pb_mon;
/* Listens on addr (numeric IPv4) and port (0: any free port). Logs
 * "metrics on http://ADDR:PORT/metrics"; errors name section
 * ("[router]"). *out is NULL, and PB_OK returned, when addr is empty. */
int pb_mon_start(const char *section, const char *addr, int port, pb_mon_fn fn, void *arg,
                 struct pb_mon **out);
void pb_mon_stop(struct pb_mon *m);
/* The port it listens on (the one picked when started with 0). */
int pb_mon_port(const struct pb_mon *m);
/* A copy of a constant text as an answer's body: PB_OK or PB_ENOMEM. */
int pb_mon_text(const char *text, char **body, size_t *len);

#endif
