/* The operation table and the dispatch through it (rt_optab.h). To add a
 * request type: a row here and its function. */
#include "rt_optab.h"
#include "rt_ops.h"
#include "pb_err.h"

#include <stddef.h>

#define H (RT_BY_HANDLER | RT_BY_CONSOLE)   /* a handler, either way it signs */

#define ROW(field, w, who, r, f) \
	[MAILROOM__REQUEST__OP_##field] = {.name = #field, .writes = w, .by = who, .right = r, .fn = f}

static const struct rt_optab_row optab[] = {
	/* the citizen's side, through the gateway */
	ROW(SUBMIT, 1, RT_BY_GATEWAY, RT_RIGHT_NONE, rt_op_submit),
	ROW(STATUS, 0, RT_BY_GATEWAY, RT_RIGHT_NONE, rt_op_status),
	ROW(STATS, 0, RT_BY_GATEWAY, RT_RIGHT_NONE, rt_op_stats),
	/* The log is public: whoever can reach the router may read it. */
	ROW(LOG, 0, RT_BY_GATEWAY | H, RT_RIGHT_NONE, rt_op_log),
	/* the handler's work */
	ROW(PULL, 1, H, RT_RIGHT_NONE, rt_op_pull),
	ROW(RENEW, 1, H, RT_RIGHT_NONE, rt_op_renew),
	ROW(REPLY, 1, H, RT_RIGHT_NONE, rt_op_reply),
	ROW(RELEASE, 1, H, RT_RIGHT_NONE, rt_op_release),
	ROW(TRANSFER, 1, H, RT_RIGHT_NONE, rt_op_transfer),
	ROW(RETURN_TO_DISPATCH, 1, H, RT_RIGHT_NONE, rt_op_return_to_dispatch),
	ROW(MERGE, 1, H, RT_RIGHT_NONE, rt_op_merge),
	ROW(UNMERGE, 1, H, RT_RIGHT_NONE, rt_op_unmerge),
	ROW(ASSIST, 1, H, RT_RIGHT_NONE, rt_op_assist),
	ROW(OPINION, 1, H, RT_RIGHT_NONE, rt_op_opinion),
	ROW(ASSIST_LIST, 0, H, RT_RIGHT_NONE, rt_op_assist_list),
	ROW(REFER, 1, H, RT_RIGHT_NONE, rt_op_refer),
	ROW(REPEAT_DECIDE, 1, H, RT_RIGHT_NONE, rt_op_repeat_decide),
	ROW(QUEUES, 0, H, RT_RIGHT_NONE, rt_op_queues),
	ROW(CLOCK, 1, H, RT_RIGHT_NONE, rt_op_clock),
	ROW(HOTLINE, 1, H, RT_RIGHT_NONE, rt_op_hotline),
	ROW(DISCLOSURE, 1, H, RT_RIGHT_NONE, rt_op_disclosure),
	ROW(PETITION, 1, H, RT_RIGHT_NONE, rt_op_petition),
	ROW(DETAIL, 0, H, RT_RIGHT_NONE, rt_console_read),
	ROW(SUPERVISE, 0, H, RT_RIGHT_SUPERVISE, rt_console_read),
	ROW(SEARCH, 0, H, RT_RIGHT_NONE, rt_op_search),
	/* Only from mailroom-admin's own key file, never through the console. */
	ROW(IMPORT_MSG, 1, RT_BY_HANDLER, RT_RIGHT_IMPORT, rt_op_import),
	ROW(HANDLER_ADMIN, 1, RT_BY_HANDLER, RT_RIGHT_ADMIN, rt_op_handler_admin),
	/* The search index is derived: rebuilding it changes no record. */
	ROW(SEARCH_REBUILD, 0, RT_BY_HANDLER, RT_RIGHT_ADMIN, rt_op_search_rebuild),
	/* mailroom-hotline under its own key: pulled pages in, the outbox
	 * out. The gateway keeps the 12345 push (a submit). */
	ROW(INGEST, 1, RT_BY_CONNECTOR, RT_RIGHT_NONE, rt_op_ingest),
	ROW(OUTBOX, 0, RT_BY_CONNECTOR, RT_RIGHT_NONE, rt_op_outbox),
	ROW(OUTBOX_ACK, 1, RT_BY_CONNECTOR, RT_RIGHT_NONE, rt_op_outbox_ack),
	ROW(HOTLINE_STATUS, 0, RT_BY_CONNECTOR, RT_RIGHT_NONE, rt_op_hotline_status),
	/* mailroom-notify under its own key ([connector.NAME] role = notify);
	 * handlers read the notices too, their contacts masked. */
	ROW(NOTICES, 0, RT_BY_NOTIFY | H, RT_RIGHT_NONE, rt_op_notices),
	ROW(NOTICE_ACK, 1, RT_BY_NOTIFY, RT_RIGHT_NONE, rt_op_notice_ack),
	ROW(NOTICES_OFF, 1, RT_BY_GATEWAY, RT_RIGHT_NONE, rt_op_notices_off),
	/* rt_server.c takes a gateway's batch apart before dispatch; a batch
	 * inside a batch matches no one. */
	ROW(BATCH, 0, 0, RT_RIGHT_NONE, NULL),
	/* after the answer (rt_rating.c, rt_publish.c) */
	ROW(RATE, 1, RT_BY_GATEWAY, RT_RIGHT_NONE, rt_op_rate),
	ROW(ANSWERS, 0, RT_BY_GATEWAY, RT_RIGHT_NONE, rt_op_answers),
	ROW(CALLBACK, 1, H, RT_RIGHT_NONE, rt_op_callback),
	ROW(PUBLISH, 1, H, RT_RIGHT_NONE, rt_op_publish),
	ROW(CALLBACKS, 0, H, RT_RIGHT_NONE, rt_op_callbacks),
	/* attachments (rt_attach.c): a citizen's file in chunks, the
	 * scanner's verdicts, a handler's reads of clean files, a citizen's
	 * of the reply's (by code and key) */
	ROW(UPLOAD, 0, RT_BY_GATEWAY | RT_BY_CONNECTOR | H, RT_RIGHT_NONE, rt_op_upload),
	ROW(SCAN, 1, RT_BY_ROUTER, RT_RIGHT_NONE, rt_op_scan),
	ROW(ATTACHMENT, 0, H, RT_RIGHT_NONE, rt_op_attachment),
	ROW(REPLY_FILE, 0, RT_BY_GATEWAY, RT_RIGHT_NONE, rt_op_reply_file),
};

#undef ROW
#undef H

size_t rt_optab_size(void)
{
	return sizeof(optab) / sizeof(optab[0]);
}

const struct rt_optab_row *rt_optab_row(int op_case)
{
	if (op_case <= 0 || (size_t)op_case >= rt_optab_size() || !optab[op_case].name)
		return NULL;
	return &optab[op_case];
}

unsigned rt_principal_by(const struct rt_principal *who)
{
	if (who->internal)
		return RT_BY_ROUTER;
	switch (who->kind) {
	case MAILROOM__AUTH_KIND__AUTH_GATEWAY:
		return RT_BY_GATEWAY;
	case MAILROOM__AUTH_KIND__AUTH_HANDLER:
		if (!who->handler)
			return 0;
		return who->console ? RT_BY_CONSOLE : RT_BY_HANDLER;
	case MAILROOM__AUTH_KIND__AUTH_CONNECTOR:
		if (!who->connector)
			return 0;
		return who->connector->notify ? RT_BY_NOTIFY : RT_BY_CONNECTOR;
	default:
		return 0;
	}
}

static int has_right(const struct rt_principal *who, int right)
{
	const struct pb_handler *h = who->handler;

	switch (right) {
	case RT_RIGHT_NONE:
		return 1;
	case RT_RIGHT_IMPORT:
		return h && h->may_import;
	case RT_RIGHT_ADMIN:
		return h && h->may_admin;
	case RT_RIGHT_SUPERVISE:
		return h && h->may_supervise;
	default:
		return 0;
	}
}

int rt_allowed(const struct rt_principal *who, const Mailroom__Request *req)
{
	const struct rt_optab_row *row = rt_optab_row(req->op_case);

	return row && row->fn && (row->by & rt_principal_by(who)) && has_right(who, row->right);
}

int rt_is_write(const Mailroom__Request *req)
{
	const struct rt_optab_row *row = rt_optab_row(req->op_case);

	return row && row->writes;
}

/* One gate for both sides: the row must match the side it was sent to and
 * the caller must be one the row names. */
static int run(struct rt_core *core, st_txn *txn, const struct rt_principal *who,
               const Mailroom__Request *req, int64_t now_ms, struct rt_result *res, int writes)
{
	const struct rt_optab_row *row = rt_optab_row(req->op_case);

	if (!rt_allowed(who, req))
		return rt_fail(res, PB_EFORBIDDEN, "forbidden", "operation not allowed for this caller");
	if (row->writes != writes)
		return rt_fail(res, PB_EINVAL, "invalid_request",
		               writes ? "not a write operation" : "not a read operation");
	return row->fn(core, txn, who, req, now_ms, res);
}

int rt_apply(struct rt_core *core, st_txn *txn, const struct rt_principal *who,
             const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	return run(core, txn, who, req, now_ms, res, 1);
}

int rt_read(struct rt_core *core, st_txn *txn, const struct rt_principal *who,
            const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	return run(core, txn, who, req, now_ms, res, 0);
}
