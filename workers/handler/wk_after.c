/* The commands after the answer: the call-back's outcome (回访) and
 * publishing or withdrawing an answer (公开答复). No lease is needed; the
 * router checks that the handler may use the message's queue (or, for a
 * call-back, the call-back queue). A message is named by its id or its
 * tracking code. */
#include "wk_cli.h"
#include "pb_conf.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"
#include "pj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX (10000 * 4)   /* 10 000 characters of UTF-8 */

/* The positional argument as an id or a tracking code. */
static int target(struct wk_ctx *x, ProtobufCBinaryData *id, uint8_t buf[PB_ID_LEN],
                  char code[PB_TRACK_TEXT_LEN + 1])
{
	const char *a = x->o.args[0];

	code[0] = '\0';
	if (pb_id_from_text(a, buf) == 0) {
		id->data = buf;
		id->len = PB_ID_LEN;
		return 0;
	}
	if (pb_track_normalize(a, code, PB_TRACK_TEXT_LEN + 1) == PB_OK)
		return 0;
	return wk_fail(WK_EXIT_INVALID, "invalid_id",
	               "'%s' is neither a message id (26 characters) nor a tracking code", a);
}

static int yes_no(const char *opt, const char *v, protobuf_c_boolean *out)
{
	if (!v)
		return wk_fail(WK_EXIT_USAGE, "usage", "callback needs --%s yes|no", opt);
	if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
		return wk_fail(WK_EXIT_INVALID, "invalid_field", "--%s takes yes or no, not '%s'", opt, v);
	*out = strcmp(v, "yes") == 0;
	return 0;
}

static int send(struct wk_ctx *x, Mailroom__Request *req, int want)
{
	Mailroom__Response *r;
	Mailroom__MessageView *v;
	json_t *j;
	int rc;

	if ((rc = wk_call(x, req, 0, want, &r)))
		return rc;
	v = want == MAILROOM__RESPONSE__RESULT_CALLBACK ? r->callback : r->publish;
	if (!v) {
		mailroom__response__free_unpacked(r, NULL);
		return wk_fail(WK_EXIT_OTHER, "bad_response", "router sent no message view");
	}
	j = pj_view(v, PJ_HANDLER);
	mailroom__response__free_unpacked(r, NULL);
	return wk_emit(j);
}

int wk_cmd_callback(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__CallbackReq c = MAILROOM__CALLBACK_REQ__INIT;
	uint8_t id[PB_ID_LEN];
	char code[PB_TRACK_TEXT_LEN + 1];
	int rc;

	if ((rc = yes_no("reached", x->o.reached, &c.reached)) ||
	    (rc = yes_no("resolved", x->o.resolved, &c.resolved)) ||
	    (rc = yes_no("reopen", x->o.reopen, &c.reopen)) || (rc = target(x, &c.id, id, code)))
		return rc;
	c.tracking_code = code;
	c.note = (char *)(x->o.note ? x->o.note : "");
	req.op_case = MAILROOM__REQUEST__OP_CALLBACK;
	req.callback = &c;
	return send(x, &req, MAILROOM__RESPONSE__RESULT_CALLBACK);
}

int wk_cmd_publish(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__PublishReq p = MAILROOM__PUBLISH_REQ__INIT;
	uint8_t id[PB_ID_LEN];
	char code[PB_TRACK_TEXT_LEN + 1], *body;
	size_t len;
	int rc;

	if (!x->o.subject || !x->o.body_file)
		return wk_fail(WK_EXIT_USAGE, "usage", "publish needs --subject TEXT and --body-file FILE");
	if ((rc = target(x, &p.id, id, code)))
		return rc;
	if (!(body = malloc(BODY_MAX + 1)))
		return wk_fail(WK_EXIT_OTHER, "no_memory", "out of memory");
	if ((rc = pb_read_file(x->o.body_file, (uint8_t *)body, BODY_MAX, &len))) {
		free(body);
		return wk_fail(rc == PB_ENOTFOUND ? WK_EXIT_NOTFOUND : WK_EXIT_INVALID, "invalid_file",
		               "cannot read %s: %s", x->o.body_file, pb_err_str(rc));
	}
	body[len] = '\0';
	/* a file's last newline is not part of the text */
	while (len && (body[len - 1] == '\n' || body[len - 1] == '\r'))
		body[--len] = '\0';
	p.tracking_code = code;
	p.subject = (char *)x->o.subject;
	p.body = body;
	req.op_case = MAILROOM__REQUEST__OP_PUBLISH;
	req.publish = &p;
	rc = send(x, &req, MAILROOM__RESPONSE__RESULT_PUBLISH);
	free(body);
	return rc;
}

int wk_cmd_unpublish(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__PublishReq p = MAILROOM__PUBLISH_REQ__INIT;
	uint8_t id[PB_ID_LEN];
	char code[PB_TRACK_TEXT_LEN + 1];
	int rc;

	if (!x->o.reason)
		return wk_fail(WK_EXIT_USAGE, "usage", "unpublish needs --reason TEXT");
	if (!*x->o.reason)
		return wk_fail(WK_EXIT_INVALID, "invalid_reason", "unpublish reason is empty");
	if ((rc = target(x, &p.id, id, code)))
		return rc;
	p.tracking_code = code;
	p.unpublish = 1;
	p.reason = (char *)x->o.reason;
	req.op_case = MAILROOM__REQUEST__OP_PUBLISH;
	req.publish = &p;
	return send(x, &req, MAILROOM__RESPONSE__RESULT_PUBLISH);
}

/* The open call-backs this handler may record, the earliest due first. */
int wk_cmd_callbacks(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__CallbacksReq c = MAILROOM__CALLBACKS_REQ__INIT;
	Mailroom__Response *r;
	json_t *list;
	char id[PB_ID_TEXT_LEN + 1], due[40];
	int rc;

	req.op_case = MAILROOM__REQUEST__OP_CALLBACKS;
	req.callbacks = &c;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_CALLBACKS, &r)))
		return rc;
	list = json_array();
	for (size_t i = 0; list && r->callbacks && i < r->callbacks->n_items; i++) {
		const Mailroom__SupervisedItem *it = r->callbacks->items[i];
		if (it->id.len != PB_ID_LEN || pb_time_fmt(it->callback_due_ms, due, sizeof(due), 0) < 0)
			continue;
		pb_id_to_text(it->id.data, id);
		if (json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s}", "id", id,
		                                          "tracking_code", it->tracking_code, "queue",
		                                          it->queue, "channel",
		                                          pb_channel_name(it->channel), "rating",
		                                          pj_rating_name(it->rating), "due_at", due))) {
			json_decref(list);
			list = NULL;
		}
	}
	mailroom__response__free_unpacked(r, NULL);
	return wk_emit(list ? json_pack("{s:o}", "callbacks", list) : NULL);
}
