/* The operation table: one row per Request oneof case, saying what the
 * request is called, whether it writes, who may send it and the function
 * that carries it out. The server checks a request against its row once,
 * before dispatch (as Redis's command table and nng's protocol tables
 * do); the functions under it never ask who is calling again. */
#ifndef RT_OPTAB_H
#define RT_OPTAB_H

#include "rt.h"

/* Who a principal is, as one bit. */
enum {
	RT_BY_GATEWAY = 1 << 0,   /* MAC under gateway_secret */
	RT_BY_HANDLER = 1 << 1,   /* a handler's Ed25519 envelope (mailroom-handler, -admin) */
	RT_BY_CONSOLE = 1 << 2,   /* a handler's RFC 9421 signature through the console */
	RT_BY_CONNECTOR = 1 << 3, /* mailroom-hotline's own key ([connector.NAME]) */
	RT_BY_NOTIFY = 1 << 4,    /* mailroom-notify's own key ([connector.NAME] role = notify) */
	RT_BY_ROUTER = 1 << 5,    /* the router's own threads (the scanner), never the network */
};

/* A right a handler must hold as well ([handler.NAME] import/admin/supervise). */
enum { RT_RIGHT_NONE, RT_RIGHT_IMPORT, RT_RIGHT_ADMIN, RT_RIGHT_SUPERVISE };

/* Every operation, read or write, has this shape. */
typedef int (*rt_op_fn)(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                        const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);

struct rt_optab_row {
	const char *name;  /* the oneof field's name in mailroom.proto */
	int writes;        /* 1: the writer applies it in a write transaction */
	unsigned by;       /* RT_BY_* that may send it; 0: never dispatched */
	int right;         /* RT_RIGHT_* a handler needs too */
	rt_op_fn fn;       /* NULL only where by is 0 (a batch is taken apart first) */
};

/* The row of op_case, or NULL when there is none. */
const struct rt_optab_row *rt_optab_row(int op_case);
/* The table's extent, for its consistency test: rows 0..n-1 by op_case. */
size_t rt_optab_size(void);
/* The RT_BY_* bit of who (0 for an unknown kind). */
unsigned rt_principal_by(const struct rt_principal *who);

#endif
