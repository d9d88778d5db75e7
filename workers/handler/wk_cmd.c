/* The mailroom-handler commands: build one Request, send it, print the
 * answer, keep the lease-token state in step. */
#include "wk_cli.h"
#include "pb_err.h"
#include "pj.h"

#include <stdio.h>
#include <string.h>

int wk_call(struct wk_ctx *x, Mailroom__Request *req, int timeout_ms, int want,
            Mailroom__Response **out)
{
	Mailroom__Response *r;
	int rc;

	*out = NULL;
	if ((rc = wk_connect(x)))
		return rc;
	if ((rc = wk_client_call(&x->client, x->sk, req, timeout_ms, &r)))
		return wk_fail_err(rc, "%s", x->client.err);
	if (r->code != 0) {
		const char *code = r->error && *r->error ? r->error : pb_err_name(r->code);
		const char *msg = r->message && *r->message ? r->message : pb_err_str(r->code);
		/* busy: this handler has handler_max_requests in progress. */
		rc = wk_fail(strcmp(code, "busy") == 0 ? WK_EXIT_BUSY : wk_exit_code(r->code), code,
		             "%s", msg);
		mailroom__response__free_unpacked(r, NULL);
		return rc;
	}
	/* An empty pull may come back with no result at all. */
	if ((int)r->result_case != want &&
	    !(want == MAILROOM__RESPONSE__RESULT_PULL &&
	      r->result_case == MAILROOM__RESPONSE__RESULT__NOT_SET)) {
		mailroom__response__free_unpacked(r, NULL);
		return wk_fail(WK_EXIT_OTHER, "bad_response",
		               "router answered with result %d, not %d", (int)r->result_case, want);
	}
	*out = r;
	return WK_EXIT_OK;
}

/* Sets obj[k] = v, taking both references; NULL (all released) when any
 * step fails, so calls chain. */
static json_t *put(json_t *obj, const char *k, json_t *v)
{
	if (!obj || !v || json_object_set_new(obj, k, v)) {
		json_decref(obj);
		if (!obj)
			json_decref(v);
		return NULL;
	}
	return obj;
}

/* Queue and handler names as mailroom.ini accepts them. */
static int valid_name(const char *s, size_t n)
{
	if (n == 0 || n >= PB_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

static int valid_queue(const char *q)
{
	return valid_name(q, strlen(q));
}

static int lease_arg(struct wk_ctx *x, struct wk_lease_arg *a)
{
	return wk_lease_arg(x, a, 1);
}

int wk_lease_arg(struct wk_ctx *x, struct wk_lease_arg *a, int required)
{
	const char *s = x->o.args[0];
	size_t n;
	int rc;

	if (pb_id_from_text(s, a->id))
		return wk_fail(WK_EXIT_INVALID, "invalid_id",
		               "'%s' is not a message id (26 characters)", s);
	pb_id_to_text(a->id, a->idt);
	if ((rc = wk_state_init(&a->st, x->o.key, x->o.state)))
		return wk_fail_err(rc, "state directory path too long");
	a->from_file = 0;
	if (x->o.lease) {
		n = strlen(x->o.lease);
		if (n == 0 || n % 2 || n / 2 > WK_TOKEN_MAX || pb_unhex(x->o.lease, a->tok, n / 2))
			return wk_fail(WK_EXIT_INVALID, "invalid_lease",
			               "--lease takes the token in hex (at most %d bytes)",
			               WK_TOKEN_MAX);
		a->toklen = n / 2;
		return WK_EXIT_OK;
	}
	rc = wk_lease_load(&a->st, a->id, a->tok, sizeof(a->tok), &a->toklen);
	if (rc == PB_ENOTFOUND && !required) {
		a->toklen = 0;
		return WK_EXIT_OK;
	}
	if (rc == PB_ENOTFOUND)
		return wk_fail(WK_EXIT_LEASE, "no_lease",
		               "no lease kept for %s in %s; pass --lease HEX", a->idt, a->st.dir);
	if (rc)
		return wk_fail_err(rc, "cannot read lease for %s in %s: %s", a->idt, a->st.dir,
		                   pb_err_str(rc));
	a->from_file = 1;
	return WK_EXIT_OK;
}

void wk_lease_ref(struct wk_lease_arg *a, Mailroom__LeaseRef *ref)
{
	ref->id.data = a->id;
	ref->id.len = PB_ID_LEN;
	ref->lease_token.data = a->tok;
	ref->lease_token.len = a->toklen;
}

/* The lease is over (done, handed back, or refused as dead): drop the
 * token we kept. A failure to delete is only worth a warning. */
void wk_lease_done(struct wk_lease_arg *a)
{
	if (wk_lease_forget(&a->st, a->id))
		fprintf(stderr, WK_PROG ": warning: cannot remove %s/%s\n", a->st.dir, a->idt);
}

/* A refused token is dead, but only the kept one is ours to drop: a wrong
 * --lease says nothing about it. */
int wk_after_lease_call(struct wk_lease_arg *a, int rc)
{
	if (rc == WK_EXIT_LEASE && a->from_file)
		wk_lease_done(a);
	return rc;
}

/* Key file name without directory and extension, when it is a usable
 * handler name; the admin may rename it anyway. */
static void name_from_key(const char *path, char *out, size_t len)
{
	const char *b = strrchr(path, '/');
	size_t n;

	b = b ? b + 1 : path;
	n = strcspn(b, ".");
	if (!valid_name(b, n) || n >= len) {
		snprintf(out, len, "NAME");
		return;
	}
	memcpy(out, b, n);
	out[n] = '\0';
}

int wk_cmd_keygen(struct wk_ctx *x)
{
	char name[PB_NAME_MAX], hex[65], conf[PB_NAME_MAX + 160], id[PB_ACTOR_ID_TEXT];
	char actor[PB_ACTOR_ID_TEXT + 8];
	uint8_t pk[32];
	int rc;

	if (x->o.name) {
		if (!valid_name(x->o.name, strlen(x->o.name)))
			return wk_fail(WK_EXIT_INVALID, "invalid_name", "bad handler name '%s'",
			               x->o.name);
		snprintf(name, sizeof(name), "%s", x->o.name);
	} else {
		name_from_key(x->o.key, name, sizeof(name));
	}
	rc = wk_key_create(x->o.key, pk);
	if (rc == PB_EEXIST)
		return wk_fail(WK_EXIT_CONFLICT, "exists", "%s exists; not overwriting a key",
		               x->o.key);
	if (rc)
		return wk_fail_err(rc, "cannot create %s: %s", x->o.key,
		                   rc == PB_ENOTFOUND ? "no such directory" : pb_err_str(rc));
	pb_hex(pk, sizeof(pk), hex);
	snprintf(conf, sizeof(conf), "[handler.%s]\nkey = %s\nqueues = general", name, hex);
	/* How the public log will name this handler: the office keeps the
	 * mapping, the log never has the name. */
	pb_actor_id(pk, id);
	snprintf(actor, sizeof(actor), "handler:%s", id);
	return wk_emit(json_pack("{s:s, s:s, s:s}", "public_key", hex, "config", conf, "actor", actor));
}

/* The one plain-text output: the bare hex, for scripts that write a
 * [handler.NAME] section themselves. */
int wk_cmd_pubkey(struct wk_ctx *x)
{
	char hex[65];
	int rc;

	if ((rc = wk_key_load(x->o.key, x->sk, x->pk, NULL)))
		return wk_fail_err(rc == PB_ENOTFOUND ? PB_EINVAL : rc, "cannot load key %s: %s",
		                   x->o.key, rc == PB_ENOTFOUND ? "no such file" : pb_err_str(rc));
	pb_hex(x->pk, sizeof(x->pk), hex);
	printf("%s\n", hex);
	return fflush(stdout) == 0 ? WK_EXIT_OK : WK_EXIT_OTHER;
}

int wk_cmd_queues(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__QueuesReq q = MAILROOM__QUEUES_REQ__INIT;
	Mailroom__Response *r;
	json_t *arr, *j;
	int rc;

	req.op_case = MAILROOM__REQUEST__OP_QUEUES;
	req.queues = &q;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_QUEUES, &r)))
		return rc;
	arr = json_array();
	for (size_t i = 0; arr && r->queues && i < r->queues->n_queues; i++) {
		const Mailroom__QueueInfo *qi = r->queues->queues[i];
		json_t *o = json_pack("{s:s, s:I, s:I}", "name", qi->name, "depth",
		                      (json_int_t)qi->depth, "leased", (json_int_t)qi->leased);
		if (json_array_append_new(arr, o)) {
			json_decref(arr);
			arr = NULL;
		}
	}
	mailroom__response__free_unpacked(r, NULL);
	j = put(json_object(), "queues", arr);
	return wk_emit(j);
}

int wk_cmd_pull(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__PullReq p = MAILROOM__PULL_REQ__INIT;
	Mailroom__Response *r;
	const Mailroom__PullResp *pr;
	struct wk_state st;
	char idt[PB_ID_TEXT_LEN + 1];
	json_t *j;
	int rc;

	if (!x->o.queue)
		return wk_fail(WK_EXIT_USAGE, "usage", "pull needs --queue Q");
	if (!valid_queue(x->o.queue))
		return wk_fail(WK_EXIT_INVALID, "invalid_queue", "bad queue name '%s'", x->o.queue);
	if ((rc = wk_state_init(&st, x->o.key, x->o.state)))
		return wk_fail_err(rc, "state directory path too long");
	p.queue = (char *)x->o.queue;
	p.wait_ms = (uint32_t)x->o.wait_s * 1000;
	req.op_case = MAILROOM__REQUEST__OP_PULL;
	req.pull = &p;
	/* The router holds a long-poll for up to wait_ms; answer comes after. */
	if ((rc = wk_call(x, &req, (int)p.wait_ms + WK_PULL_SLACK_MS,
	                  MAILROOM__RESPONSE__RESULT_PULL, &r)))
		return rc;
	pr = r->result_case == MAILROOM__RESPONSE__RESULT_PULL ? r->pull : NULL;
	if (!pr || !pr->message) {
		mailroom__response__free_unpacked(r, NULL);
		rc = wk_emit(json_pack("{s:n}", "message"));
		return rc ? rc : WK_EXIT_EMPTY;
	}
	if (pr->message->id.len != PB_ID_LEN || !pr->lease || pr->lease->token.len == 0 ||
	    pr->lease->token.len > WK_TOKEN_MAX) {
		mailroom__response__free_unpacked(r, NULL);
		return wk_fail(WK_EXIT_OTHER, "bad_response",
		               "router sent a message without a usable id or lease");
	}
	pb_id_to_text(pr->message->id.data, idt);
	/* Failing to keep it is not fatal: the token is in the output too,
	 * usable with --lease. */
	rc = wk_lease_save(&st, pr->message->id.data, pr->lease->token.data, pr->lease->token.len);
	if (rc)
		fprintf(stderr, WK_PROG ": warning: cannot keep lease for %s in %s: %s\n", idt,
		        st.dir, pb_err_str(rc));
	j = put(put(json_object(), "message", wk_view(pr->message)), "lease",
	        pj_lease(pr->lease));
	mailroom__response__free_unpacked(r, NULL);
	return wk_emit(j);
}

/* reply, release, transfer and return-to-dispatch: the answer is a view
 * and the lease is over. */
static int finish_view(struct wk_lease_arg *a, Mailroom__Response *r, Mailroom__MessageView *v)
{
	json_t *j = v ? wk_view(v) : put(json_object(), "id", json_string(a->idt));

	mailroom__response__free_unpacked(r, NULL);
	wk_lease_done(a);
	return wk_emit(j);
}

int wk_cmd_reply(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__ReplyReq rp = MAILROOM__REPLY_REQ__INIT;
	Mailroom__LeaseRef ref = MAILROOM__LEASE_REF__INIT;
	Mailroom__Response *r;
	struct wk_lease_arg a;
	char handles[WK_ATTACH_MAX][65];
	char *hp[WK_ATTACH_MAX];
	int rc;

	if (!x->o.text)
		return wk_fail(WK_EXIT_USAGE, "usage", "reply needs --text TEXT");
	if (!*x->o.text)
		return wk_fail(WK_EXIT_INVALID, "invalid_text", "reply text is empty");
	if ((rc = lease_arg(x, &a)))
		return rc;
	/* The files first: the reply names them once they are stored. */
	if (x->o.nattach && (rc = wk_upload_files(x, handles)))
		return rc;
	for (int i = 0; i < x->o.nattach; i++)
		hp[i] = handles[i];
	wk_lease_ref(&a, &ref);
	rp.lease = &ref;
	rp.text = (char *)x->o.text;
	/* 主办: answer while an assisting opinion is due, saying why. */
	if (x->o.seen & WK_O_DESPITE) {
		if (!x->o.reason || !*x->o.reason)
			return wk_fail(WK_EXIT_USAGE, "usage", "--despite-pending needs --reason TEXT");
		rp.despite_pending = (char *)x->o.reason;
	} else if (x->o.reason) {
		return wk_fail(WK_EXIT_USAGE, "usage", "reply takes --reason only with --despite-pending");
	}
	rp.attachments = hp;
	rp.n_attachments = (size_t)x->o.nattach;
	req.op_case = MAILROOM__REQUEST__OP_REPLY;
	req.reply = &rp;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_REPLY, &r)))
		return wk_after_lease_call(&a, rc);
	/* A 12345 order stays leased after a reply, until finish or return. */
	if (r->reply && r->reply->status == MAILROOM__STATUS__STATUS_LEASED) {
		json_t *j = wk_view(r->reply);
		mailroom__response__free_unpacked(r, NULL);
		return wk_emit(j);
	}
	return finish_view(&a, r, r->reply);
}

int wk_cmd_release(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__LeaseRef ref = MAILROOM__LEASE_REF__INIT;
	Mailroom__Response *r;
	struct wk_lease_arg a;
	int rc;

	if ((rc = lease_arg(x, &a)))
		return rc;
	wk_lease_ref(&a, &ref);
	req.op_case = MAILROOM__REQUEST__OP_RELEASE;
	req.release = &ref;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_RELEASE, &r)))
		return wk_after_lease_call(&a, rc);
	return finish_view(&a, r, r->release);
}

int wk_cmd_transfer(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__TransferReq t = MAILROOM__TRANSFER_REQ__INIT;
	Mailroom__LeaseRef ref = MAILROOM__LEASE_REF__INIT;
	Mailroom__Response *r;
	struct wk_lease_arg a;
	int rc;

	if (!x->o.to || !x->o.reason)
		return wk_fail(WK_EXIT_USAGE, "usage",
		               "transfer needs --to QUEUE and --reason TEXT");
	if (!valid_queue(x->o.to))
		return wk_fail(WK_EXIT_INVALID, "invalid_queue", "bad queue name '%s'", x->o.to);
	if (!*x->o.reason)
		return wk_fail(WK_EXIT_INVALID, "invalid_reason", "transfer reason is empty");
	if ((rc = lease_arg(x, &a)))
		return rc;
	wk_lease_ref(&a, &ref);
	t.lease = &ref;
	t.to_queue = (char *)x->o.to;
	t.reason = (char *)x->o.reason;
	req.op_case = MAILROOM__REQUEST__OP_TRANSFER;
	req.transfer = &t;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_TRANSFER, &r)))
		return wk_after_lease_call(&a, rc);
	return finish_view(&a, r, r->transfer);
}

/* 退回: back to the dispatcher's queue with a reason; routing starts again. */
int wk_cmd_return_to_dispatch(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__DispatchReturnReq d = MAILROOM__DISPATCH_RETURN_REQ__INIT;
	Mailroom__LeaseRef ref = MAILROOM__LEASE_REF__INIT;
	Mailroom__Response *r;
	struct wk_lease_arg a;
	int rc;

	if (!x->o.reason)
		return wk_fail(WK_EXIT_USAGE, "usage", "return-to-dispatch needs --reason TEXT");
	if (!*x->o.reason)
		return wk_fail(WK_EXIT_INVALID, "invalid_reason", "return reason is empty");
	if ((rc = lease_arg(x, &a)))
		return rc;
	wk_lease_ref(&a, &ref);
	d.lease = &ref;
	d.reason = (char *)x->o.reason;
	req.op_case = MAILROOM__REQUEST__OP_RETURN_TO_DISPATCH;
	req.return_to_dispatch = &d;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_RETURN_TO_DISPATCH, &r)))
		return wk_after_lease_call(&a, rc);
	return finish_view(&a, r, r->return_to_dispatch);
}

int wk_cmd_renew(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__LeaseRef ref = MAILROOM__LEASE_REF__INIT;
	Mailroom__Response *r;
	struct wk_lease_arg a;
	json_t *j;
	int rc;

	if ((rc = lease_arg(x, &a)))
		return rc;
	wk_lease_ref(&a, &ref);
	req.op_case = MAILROOM__REQUEST__OP_RENEW;
	req.renew = &ref;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_RENEW, &r)))
		return wk_after_lease_call(&a, rc);
	if (!r->renew) {
		mailroom__response__free_unpacked(r, NULL);
		return wk_fail(WK_EXIT_OTHER, "bad_response", "router sent no lease");
	}
	/* A router may hand out a fresh token on renewal; keep whichever is current. */
	const ProtobufCBinaryData *nt = &r->renew->token;
	if (nt->len > 0 && nt->len <= WK_TOKEN_MAX &&
	    (nt->len != a.toklen || memcmp(nt->data, a.tok, a.toklen) != 0 || !a.from_file) &&
	    (rc = wk_lease_save(&a.st, a.id, nt->data, nt->len)))
		fprintf(stderr, WK_PROG ": warning: cannot keep lease for %s in %s: %s\n", a.idt,
		        a.st.dir, pb_err_str(rc));
	j = put(put(json_object(), "id", json_string(a.idt)), "lease", pj_lease(r->renew));
	mailroom__response__free_unpacked(r, NULL);
	return wk_emit(j);
}
