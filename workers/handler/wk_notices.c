/* notices: the notices to citizens that could not be delivered (dead
 * letters: a bounced e-mail, a refused number), so that a handler can
 * reach the citizen another way. The router masks the contacts for
 * handlers; the counts come with them. */
#include "wk_cli.h"
#include "pb_time.h"

#include <stdio.h>

static json_t *time_or_null(int64_t ms)
{
	char buf[40];

	return ms > 0 && pb_time_fmt(ms, buf, sizeof(buf), 0) > 0 ? json_string(buf) : json_null();
}

int wk_cmd_notices(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__NoticesReq q = MAILROOM__NOTICES_REQ__INIT;
	Mailroom__Response *r;
	json_t *arr = json_array(), *j;
	uint64_t pending = 0, dead = 0, sent = 0;
	int rc;

	q.dead = 1;
	q.limit = 200;
	req.op_case = MAILROOM__REQUEST__OP_NOTICES;
	req.notices = &q;
	for (;;) {
		if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_NOTICES, &r))) {
			json_decref(arr);
			return rc;
		}
		size_t n = r->notices ? r->notices->n_entries : 0;
		for (size_t i = 0; arr && i < n; i++) {
			const Mailroom__NoticeEntry *e = r->notices->entries[i];
			json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:s, s:o, s:o}", "seq",
			                      (json_int_t)e->seq, "tracking_code", e->tracking_code, "kind",
			                      e->kind, "medium", e->medium, "to", e->to, "attempts",
			                      (int)e->attempts, "error", e->error, "at",
			                      time_or_null(e->at_ms), "dead_at", time_or_null(e->dead_ms));
			if (json_array_append_new(arr, o)) {
				json_decref(arr);
				arr = NULL;
			}
			q.after_seq = e->seq;
		}
		pending = r->notices ? r->notices->pending : 0;
		dead = r->notices ? r->notices->dead : 0;
		sent = r->notices ? r->notices->sent : 0;
		mailroom__response__free_unpacked(r, NULL);
		if (n < q.limit)
			break;
	}
	if (!arr)
		return wk_emit(NULL);
	j = json_pack("{s:I, s:I, s:I, s:o}", "pending", (json_int_t)pending, "dead_letters",
	              (json_int_t)dead, "sent", (json_int_t)sent, "undelivered", arr);
	return wk_emit(j);
}
