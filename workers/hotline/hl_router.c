/* mailroom-hotline's side of the router link (the link itself is
 * workers/conn/cn_router.c): its key, [hotline] key_file, and the status
 * request both the puller and the `status` command make. */
#include "hl.h"
#include "pb_err.h"

#include <stdio.h>
#include <string.h>

int hl_router_open(struct cn_router *r, const struct pb_conf *c)
{
	return cn_router_open(r, "hotline", c->hotline_key_file, c->router_url);
}

int hl_router_status(struct cn_router *r, char *cursor, size_t len, uint64_t *pending,
                     uint64_t *dead)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__HotlineStatusReq q = MAILROOM__HOTLINE_STATUS_REQ__INIT;
	Mailroom__Response *resp;
	int rc;

	req.op_case = MAILROOM__REQUEST__OP_HOTLINE_STATUS;
	req.hotline_status = &q;
	if ((rc = cn_router_call(r, &req, HL_ROUTER_TIMEOUT_MS, &resp)))
		return rc;
	rc = resp->code;
	if (rc == PB_OK && (resp->result_case != MAILROOM__RESPONSE__RESULT_HOTLINE_STATUS ||
	                    !resp->hotline_status))
		rc = PB_ECORRUPT;
	if (rc) {
		snprintf(r->err, sizeof(r->err), "router: %s", resp->message ? resp->message : pb_err_str(rc));
	} else {
		const Mailroom__HotlineStatusResp *s = resp->hotline_status;
		if (strlen(s->cursor) >= len)
			rc = PB_ETOOBIG;
		else
			snprintf(cursor, len, "%s", s->cursor);
		if (pending)
			*pending = s->outbox_pending;
		if (dead)
			*dead = s->outbox_dead;
	}
	mailroom__response__free_unpacked(resp, NULL);
	return rc;
}
