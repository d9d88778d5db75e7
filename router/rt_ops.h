/* Helpers shared by rt_ops.c (intake and reads) and rt_lease.c (the
 * handler's lease operations). Not for use outside the router. */
#ifndef RT_OPS_H
#define RT_OPS_H

#include "rt.h"

enum { RT_OWN_FREE, RT_OWN_MSG, RT_OWN_CONTACT };

/* Keeps p until rt_result_clear; returns p (NULL if p was NULL or the
 * table is full, in which case p is freed). */
void *rt_own(struct rt_result *res, void *p, int kind);
/* Loads a message, owned by res, as a copy the caller may edit freely. */
int rt_msg_load(st_txn *t, const uint8_t *id, size_t idlen, struct rt_result *res,
                Mailroom__StoredMessage **m);
/* Builds the view of m a handler (handler = 1) or a citizen sees. */
int rt_view(struct rt_core *core, struct rt_result *res, Mailroom__StoredMessage *m, int handler,
            Mailroom__MessageView **out);
/* Appends one audit record with the fields every record shares filled in
 * from m. */
int rt_audit(struct rt_core *core, st_txn *t, struct rt_result *res, Mailroom__AuditRecord *rec,
             const Mailroom__StoredMessage *m, const char *actor, int64_t now_ms,
             struct st_receipt *receipt);
/* "handler:<name>" into buf. */
const char *rt_actor(const struct rt_principal *who, char *buf, size_t len);
int rt_counter_queue(st_txn *t, const char *queue, const char *what, int64_t delta);
int rt_text_ok(const char *s, long min_chars, long max_chars);

/* The transparency log's read side (rt_log.c). */
int rt_op_log(st_txn *t, const Mailroom__Request *req, struct rt_result *res);

/* Clocks (rt_clock.c). */
int rt_clocks_start(struct rt_core *core, st_txn *t, struct rt_result *res,
                    Mailroom__StoredMessage *m, int64_t now_ms);
int rt_clock_stop(st_txn *t, Mailroom__StoredMessage *m, uint32_t kind, int64_t now_ms);
Mailroom__Clock *rt_clock_find(Mailroom__StoredMessage *m, uint32_t kind);
void rt_clock_mirror(Mailroom__StoredMessage *m);
void rt_clock_compute(struct rt_core *core, Mailroom__Clock *c);
int rt_op_clock(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);

#endif
