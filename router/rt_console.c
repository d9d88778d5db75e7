/* Console requests: HTTP requests a handler signed in the browser (RFC
 * 9421, docs/handler-api.md), forwarded verbatim by the gateway's console
 * listener. The router, not the gateway, decides what they mean: it
 * rebuilds the signature base from the forwarded values, verifies the
 * handler's signature, checks freshness and the nonce, and only then
 * turns the signed route and JSON body into the same Request that
 * mailroom-handler would send. A compromised web listener therefore
 * cannot act for a handler. */
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_httpsig.h"
#include "pb_id.h"
#include "pb_log.h"
#include "pb_time.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_PREFIX "/api/v1/"
#define NONCE_MIN 16
#define NONCE_MAX 64
#define TOKEN_MAX 64

/* ------------------------------------------- the signed components -- */

struct sigreq {
	const Mailroom__HttpSigReq *h;
	char query[PB_HS_VALUE_MAX * 4];   /* "@query": "?" and the query */
};

static const char *component(void *arg, const char *name)
{
	struct sigreq *s = arg;

	if (strcmp(name, "@method") == 0)
		return s->h->method;
	if (strcmp(name, "@path") == 0)
		return s->h->path;
	if (strcmp(name, "@query") == 0)
		return s->query;
	if (strcmp(name, "@authority") == 0)
		return s->h->authority && *s->h->authority ? s->h->authority : NULL;
	if (name[0] == '@')
		return NULL;   /* other derived components are not in the profile */
	for (size_t i = 0; i < s->h->n_headers; i++)
		if (strcmp(s->h->headers[i]->name, name) == 0)
			return s->h->headers[i]->value;
	return NULL;
}

/* ------------------------------------------------- body to request -- */

struct bctx {
	json_t *body;
	const char *arg;            /* the second path wildcard (a step) */
	uint8_t id[PB_ID_LEN];
	Mailroom__Request *req;
	const char *error;
	char message[160];
	/* storage the request points into while it is packed */
	uint8_t token[TOKEN_MAX];
	union {
		Mailroom__PullReq pull;
		Mailroom__LeaseRef lease;
		Mailroom__ReplyReq reply;
		Mailroom__TransferReq transfer;
		Mailroom__ClockReq clock;
		Mailroom__HotlineReq hotline;
		Mailroom__DisclosureReq disclosure;
		Mailroom__PetitionReq petition;
		Mailroom__QueuesReq queues;
		Mailroom__MessageReq detail;
		Mailroom__SuperviseReq supervise;
		Mailroom__SearchReq search;
		Mailroom__MergeReq merge;
		Mailroom__UnmergeReq unmerge;
		Mailroom__AssistReq assist;
		Mailroom__OpinionReq opinion;
		Mailroom__AssistListReq assist_list;
		Mailroom__ReferReq refer;
		Mailroom__RepeatDecideReq repeat_decide;
		Mailroom__CallbackReq callback;
		Mailroom__PublishReq publish;
		Mailroom__AttachmentReq attachment;
	} u;
	char idtext[PB_ID_TEXT_LEN + 1];   /* the path's id, for requests naming a message by ref */
	char *refs[16];
	Mailroom__LeaseRef ref;
	Mailroom__ReviewCase review;
};

static int bad(struct bctx *b, const char *code, const char *fmt, const char *what)
{
	b->error = code;
	snprintf(b->message, sizeof(b->message), fmt, what);
	return PB_EINVAL;
}

/* A string field; NULL when absent and not required. */
static int str(struct bctx *b, json_t *o, const char *k, int required, const char **out)
{
	json_t *v = json_object_get(o, k);

	*out = NULL;
	if (!v)
		return required ? bad(b, "missing_field", "%s is required", k) : PB_OK;
	if (!json_is_string(v) || json_string_length(v) == 0 || strlen(json_string_value(v)) !=
	                                                               json_string_length(v))
		return bad(b, "invalid_field", "%s must be a non-empty string", k);
	*out = json_string_value(v);
	return PB_OK;
}

static int integer(struct bctx *b, const char *k, long lo, long hi, int required, long *out)
{
	json_t *v = json_object_get(b->body, k);

	*out = 0;
	if (!v)
		return required ? bad(b, "missing_field", "%s is required", k) : PB_OK;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return bad(b, "invalid_field", "%s must be a whole number in range", k);
	*out = (long)json_integer_value(v);
	return PB_OK;
}

/* RFC 3339, or YYYY-MM-DD for the start of that day (Asia/Shanghai). */
static int when(struct bctx *b, json_t *o, const char *k, int64_t *ms)
{
	const char *s;
	int32_t day;
	int rc;

	*ms = 0;
	if ((rc = str(b, o, k, 0, &s)) || !s)
		return rc;
	if (pb_date_parse(s, &day) == PB_OK) {
		*ms = pb_day_start_ms(day);
		return PB_OK;
	}
	if (pb_time_parse(s, ms) != PB_OK)
		return bad(b, "invalid_time", "%s: RFC 3339 time or YYYY-MM-DD", k);
	return PB_OK;
}

static int lease(struct bctx *b, int required)
{
	const char *hex;
	size_t n;
	int rc;

	mailroom__lease_ref__init(&b->ref);
	b->ref.id.data = b->id;
	b->ref.id.len = PB_ID_LEN;
	if ((rc = str(b, b->body, "lease", required, &hex)) || !hex)
		return rc;
	n = strlen(hex);
	if (n % 2 || n / 2 > TOKEN_MAX || pb_unhex(hex, b->token, n / 2))
		return bad(b, "invalid_lease", "%s: the lease token in hex", "lease");
	b->ref.lease_token.data = b->token;
	b->ref.lease_token.len = n / 2;
	return PB_OK;
}

#define OP(name, NAME) (b->req->op_case = MAILROOM__REQUEST__OP_##NAME, b->req->name = &b->u.name)

static int b_queues(struct bctx *b)
{
	mailroom__queues_req__init(&b->u.queues);
	OP(queues, QUEUES);
	return PB_OK;
}

static int b_supervise(struct bctx *b)
{
	mailroom__supervise_req__init(&b->u.supervise);
	OP(supervise, SUPERVISE);
	return PB_OK;
}

/* The cases the handler's queues owe an opinion on (mailroom-handler assists). */
static int b_assists(struct bctx *b)
{
	mailroom__assist_list_req__init(&b->u.assist_list);
	OP(assist_list, ASSIST_LIST);
	return PB_OK;
}

/* The message list's search box: the same SearchReq as mailroom-handler
 * search. "to" is a date included whole, or an instant. */
static int b_search(struct bctx *b)
{
	static const char *const states[] = {"queued", "leased", "replied", "closed", NULL};
	const char *words, *channel, *queue, *state, *to;
	json_t *overdue = json_object_get(b->body, "overdue");
	int32_t day;
	long limit;
	int rc;

	mailroom__search_req__init(&b->u.search);
	if ((rc = str(b, b->body, "words", 0, &words)) || (rc = str(b, b->body, "channel", 0, &channel)) ||
	    (rc = str(b, b->body, "queue", 0, &queue)) || (rc = str(b, b->body, "state", 0, &state)) ||
	    (rc = str(b, b->body, "to", 0, &to)) || (rc = when(b, b->body, "from", &b->u.search.from_ms)) ||
	    (rc = integer(b, "limit", 1, 200, 0, &limit)))
		return rc;
	if (overdue && !json_is_boolean(overdue))
		return bad(b, "invalid_field", "%s must be true or false", "overdue");
	if (channel && (b->u.search.channel = pb_channel_parse(channel)) <= 0)
		return bad(b, "invalid_field", "%s: an unknown channel", "channel");
	for (int i = 0; state && states[i]; i++)
		if (strcmp(state, states[i]) == 0)
			b->u.search.status = i + 1;
	if (state && !b->u.search.status)
		return bad(b, "invalid_field", "%s: queued, leased, replied or closed", "state");
	if (to && pb_date_parse(to, &day) == PB_OK)
		b->u.search.to_ms = pb_day_start_ms(day + 1);
	else if (to && (rc = when(b, b->body, "to", &b->u.search.to_ms)))
		return rc;
	b->u.search.words = (char *)words;
	b->u.search.queue = (char *)queue;
	b->u.search.overdue = json_is_true(overdue);
	b->u.search.limit = (uint32_t)limit;
	OP(search, SEARCH);
	return PB_OK;
}

static int b_detail(struct bctx *b)
{
	mailroom__message_req__init(&b->u.detail);
	b->u.detail.id.data = b->id;
	b->u.detail.id.len = PB_ID_LEN;
	OP(detail, DETAIL);
	return PB_OK;
}

static int b_pull(struct bctx *b)
{
	const char *q;
	long wait;
	int rc;

	mailroom__pull_req__init(&b->u.pull);
	if ((rc = str(b, b->body, "queue", 1, &q)) || (rc = integer(b, "wait", 0, 3600, 0, &wait)))
		return rc;
	b->u.pull.queue = (char *)q;
	b->u.pull.wait_ms = (uint32_t)wait * 1000;
	OP(pull, PULL);
	return PB_OK;
}

static int b_lease_op(struct bctx *b)
{
	int rc = lease(b, 1);

	if (rc)
		return rc;
	b->u.lease = b->ref;
	if (strcmp(b->arg, "release") == 0) {
		b->req->op_case = MAILROOM__REQUEST__OP_RELEASE;
		b->req->release = &b->u.lease;
	} else {
		b->req->op_case = MAILROOM__REQUEST__OP_RENEW;
		b->req->renew = &b->u.lease;
	}
	return PB_OK;
}

static int b_reply(struct bctx *b)
{
	const char *text, *despite;
	int rc;

	if ((rc = lease(b, 1)) || (rc = str(b, b->body, "text", 1, &text)) ||
	    (rc = str(b, b->body, "despite_pending", 0, &despite)))
		return rc;
	mailroom__reply_req__init(&b->u.reply);
	b->u.reply.lease = &b->ref;
	b->u.reply.text = (char *)text;
	b->u.reply.despite_pending = (char *)despite;
	OP(reply, REPLY);
	return PB_OK;
}

static int b_transfer(struct bctx *b)
{
	const char *to, *reason;
	int rc;

	if ((rc = lease(b, 1)) || (rc = str(b, b->body, "to", 1, &to)) ||
	    (rc = str(b, b->body, "reason", 1, &reason)))
		return rc;
	mailroom__transfer_req__init(&b->u.transfer);
	b->u.transfer.lease = &b->ref;
	b->u.transfer.to_queue = (char *)to;
	b->u.transfer.reason = (char *)reason;
	OP(transfer, TRANSFER);
	return PB_OK;
}

/* 并单: the path names the primary, "refs" the messages merged into it
 * (ids or tracking codes). */
static int b_merge(struct bctx *b)
{
	Mailroom__MergeReq *m = &b->u.merge;
	json_t *refs = json_object_get(b->body, "refs"), *keep = json_object_get(b->body, "keep_deadline");
	const char *reason;
	size_t i;
	json_t *v;
	int rc;

	mailroom__merge_req__init(m);
	if ((rc = str(b, b->body, "reason", 1, &reason)))
		return rc;
	if (!json_is_array(refs) || json_array_size(refs) < 1 ||
	    json_array_size(refs) > sizeof(b->refs) / sizeof(b->refs[0]))
		return bad(b, "invalid_field", "%s: 1-16 message ids or tracking codes", "refs");
	json_array_foreach(refs, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return bad(b, "invalid_field", "%s: 1-16 message ids or tracking codes", "refs");
		b->refs[i] = (char *)json_string_value(v);
	}
	if (keep && !json_is_boolean(keep))
		return bad(b, "invalid_field", "%s must be true or false", "keep_deadline");
	pb_id_to_text(b->id, b->idtext);
	m->primary = b->idtext;
	m->refs = b->refs;
	m->n_refs = json_array_size(refs);
	m->reason = (char *)reason;
	m->keep_deadline = json_is_true(keep);
	OP(merge, MERGE);
	return PB_OK;
}

static int b_unmerge(struct bctx *b)
{
	const char *reason;
	int rc;

	mailroom__unmerge_req__init(&b->u.unmerge);
	if ((rc = str(b, b->body, "reason", 0, &reason)))
		return rc;
	pb_id_to_text(b->id, b->idtext);
	b->u.unmerge.ref = b->idtext;
	b->u.unmerge.reason = (char *)reason;
	OP(unmerge, UNMERGE);
	return PB_OK;
}

/* 协办: ask a queue for its opinion, due in working days. */
static int b_assist(struct bctx *b)
{
	const char *queue, *reason;
	long days;
	int rc;

	mailroom__assist_req__init(&b->u.assist);
	if ((rc = str(b, b->body, "queue", 1, &queue)) || (rc = str(b, b->body, "reason", 1, &reason)) ||
	    (rc = integer(b, "working_days", 1, 60, 0, &days)))
		return rc;
	pb_id_to_text(b->id, b->idtext);
	b->u.assist.ref = b->idtext;
	b->u.assist.queue = (char *)queue;
	b->u.assist.reason = (char *)reason;
	b->u.assist.working_days = (int32_t)days;
	OP(assist, ASSIST);
	return PB_OK;
}

static int b_opinion(struct bctx *b)
{
	const char *queue, *text;
	int rc;

	mailroom__opinion_req__init(&b->u.opinion);
	if ((rc = str(b, b->body, "text", 1, &text)) || (rc = str(b, b->body, "queue", 0, &queue)))
		return rc;
	pb_id_to_text(b->id, b->idtext);
	b->u.opinion.ref = b->idtext;
	b->u.opinion.queue = (char *)queue;
	b->u.opinion.text = (char *)text;
	OP(opinion, OPINION);
	return PB_OK;
}

/* 转办 to another channel (rt_refer.c). */
static int b_refer(struct bctx *b)
{
	const char *to, *reason, *outcome = NULL, *basis = NULL;
	int rc, ch;

	if ((rc = lease(b, 1)) || (rc = str(b, b->body, "to", 1, &to)) ||
	    (rc = str(b, b->body, "reason", 1, &reason)) ||
	    (rc = str(b, b->body, "outcome", 0, &outcome)) ||
	    (rc = str(b, b->body, "legal_basis", 0, &basis)))
		return rc;
	if ((ch = pb_channel_parse(to)) <= 0)
		return bad(b, "invalid_channel", "%s is not a channel", "to");
	mailroom__refer_req__init(&b->u.refer);
	b->u.refer.lease = &b->ref;
	b->u.refer.to = (Mailroom__Channel)ch;
	b->u.refer.reason = (char *)reason;
	b->u.refer.outcome = (char *)(outcome ? outcome : "");
	b->u.refer.legal_basis = (char *)(basis ? basis : "");
	OP(refer, REFER);
	return PB_OK;
}

/* A plain channel's repeat flag: confirmed or dismissed. */
static int b_repeat(struct bctx *b)
{
	const char *decision;
	int rc;

	if ((rc = str(b, b->body, "decision", 1, &decision)))
		return rc;
	mailroom__repeat_decide_req__init(&b->u.repeat_decide);
	b->u.repeat_decide.id.data = b->id;
	b->u.repeat_decide.id.len = PB_ID_LEN;
	b->u.repeat_decide.decision = (char *)decision;
	OP(repeat_decide, REPEAT_DECIDE);
	return PB_OK;
}

static const struct {
	const char *name;
	Mailroom__ClockAction action;
} clock_steps[] = {
	{"pause", MAILROOM__CLOCK_ACTION__CLOCK_PAUSE},
	{"resume", MAILROOM__CLOCK_ACTION__CLOCK_RESUME},
	{"extend", MAILROOM__CLOCK_ACTION__CLOCK_EXTEND},
	{"restart", MAILROOM__CLOCK_ACTION__CLOCK_RESTART},
};

static int b_clock(struct bctx *b)
{
	Mailroom__ClockReq *c = &b->u.clock;
	const char *reason, *approver;
	long days;
	int rc;

	mailroom__clock_req__init(c);
	for (size_t i = 0; i < sizeof(clock_steps) / sizeof(clock_steps[0]); i++)
		if (strcmp(b->arg, clock_steps[i].name) == 0)
			c->action = clock_steps[i].action;
	if ((rc = str(b, b->body, "reason", 1, &reason)) ||
	    (rc = str(b, b->body, "approver", 0, &approver)) ||
	    (rc = integer(b, "working_days", 1, 366, 0, &days)) ||
	    (rc = when(b, b->body, "received_at", &c->received_ms)))
		return rc;
	c->id.data = b->id;
	c->id.len = PB_ID_LEN;
	c->reason = (char *)reason;
	c->approver = (char *)approver;
	c->working_days = (int32_t)days;
	OP(clock, CLOCK);
	return PB_OK;
}

static const struct {
	const char *name;
	Mailroom__HotlineAction action;
} hotline_steps[] = {
	{"sign", MAILROOM__HOTLINE_ACTION__HOTLINE_SIGN},
	{"finish", MAILROOM__HOTLINE_ACTION__HOTLINE_FINISH},
	{"return", MAILROOM__HOTLINE_ACTION__HOTLINE_RETURN},
	{"extension-request", MAILROOM__HOTLINE_ACTION__HOTLINE_EXTENSION_REQUEST},
};

static int b_hotline(struct bctx *b)
{
	Mailroom__HotlineReq *h = &b->u.hotline;
	const char *text, *code;
	int rc;

	mailroom__hotline_req__init(h);
	for (size_t i = 0; i < sizeof(hotline_steps) / sizeof(hotline_steps[0]); i++)
		if (strcmp(b->arg, hotline_steps[i].name) == 0)
			h->action = hotline_steps[i].action;
	if ((rc = lease(b, 0)) || (rc = str(b, b->body, "text", 0, &text)) ||
	    (rc = str(b, b->body, "reason_code", 0, &code)) ||
	    (rc = when(b, b->body, "until", &h->requested_due_ms)))
		return rc;
	h->id.data = b->id;
	h->id.len = PB_ID_LEN;
	h->lease_token = b->ref.lease_token;
	h->text = (char *)text;
	h->reason_code = (char *)code;
	OP(hotline, HOTLINE);
	return PB_OK;
}

#define DA(x) MAILROOM__DISCLOSURE_ACTION__DISCLOSURE_##x
static const struct {
	const char *name;
	Mailroom__DisclosureAction action;
} disclosure_steps[] = {
	{"confirm-receipt", DA(CONFIRM_RECEIPT)}, {"request-correction", DA(REQUEST_CORRECTION)},
	{"correction-received", DA(CORRECTION_RECEIVED)}, {"consult", DA(CONSULT)},
	{"consult-done", DA(CONSULT_DONE)}, {"extend", DA(EXTEND)},
	{"fee-notice", DA(FEE_NOTICE)}, {"fee-paid", DA(FEE_PAID)},
	{"decide", DA(DECIDE)}, {"deliver", DA(DELIVER)},
	{"review", DA(REVIEW)}, {"repeat", DA(REPEAT_DECISION)},
};

static int b_review(struct bctx *b, json_t *o)
{
	static const char *const keys[] = {"kind", "case_no", "filed", "result", "decided"};
	const char *kind, *case_no, *result;
	int rc;

	if (!json_is_object(o))
		return bad(b, "invalid_field", "%s must be an object", "review");
	for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
		size_t i = 0;
		while (i < 5 && strcmp(keys[i], json_object_iter_key(it)) != 0)
			i++;
		if (i == 5)
			return bad(b, "unknown_field", "review.%s is not a field", json_object_iter_key(it));
	}
	mailroom__review_case__init(&b->review);
	if ((rc = str(b, o, "kind", 1, &kind)) || (rc = str(b, o, "case_no", 1, &case_no)) ||
	    (rc = str(b, o, "result", 1, &result)) || (rc = when(b, o, "filed", &b->review.filed_ms)) ||
	    (rc = when(b, o, "decided", &b->review.decided_ms)))
		return rc;
	b->review.kind = (char *)kind;
	b->review.case_no = (char *)case_no;
	b->review.result = (char *)result;
	b->u.disclosure.review = &b->review;
	return PB_OK;
}

static int b_disclosure(struct bctx *b)
{
	Mailroom__DisclosureReq *d = &b->u.disclosure;
	const char *text, *party, *outcome, *basis, *approver, *evidence, *reason, *decision;
	json_t *review = json_object_get(b->body, "review");
	long days;
	int rc;

	mailroom__disclosure_req__init(d);
	for (size_t i = 0; i < sizeof(disclosure_steps) / sizeof(disclosure_steps[0]); i++)
		if (strcmp(b->arg, disclosure_steps[i].name) == 0)
			d->action = disclosure_steps[i].action;
	if (!d->action)
		return bad(b, "unknown_step", "no disclosure step '%s'", b->arg);
	if ((rc = lease(b, 0)) || (rc = str(b, b->body, "text", 0, &text)) ||
	    (rc = str(b, b->body, "party", 0, &party)) ||
	    (rc = str(b, b->body, "outcome", 0, &outcome)) ||
	    (rc = str(b, b->body, "legal_basis", 0, &basis)) ||
	    (rc = str(b, b->body, "approver", 0, &approver)) ||
	    (rc = str(b, b->body, "evidence", 0, &evidence)) ||
	    (rc = str(b, b->body, "reason", 0, &reason)) ||
	    (rc = str(b, b->body, "decision", 0, &decision)) ||
	    (rc = integer(b, "days", 1, 366, 0, &days)) || (rc = when(b, b->body, "date", &d->at_ms)))
		return rc;
	if (review && (rc = b_review(b, review)))
		return rc;
	/* The same fields mailroom-handler fills for each step. */
	if (d->at_ms && pb_day_of_ms(d->at_ms) == pb_day_of_ms(pb_now_ms()))
		d->at_ms = 0;   /* today: the router takes now */
	d->id.data = b->id;
	d->id.len = PB_ID_LEN;
	d->lease_token = b->ref.lease_token;
	d->text = (char *)(party ? party : reason ? reason : text);
	if (d->action == DA(REPEAT_DECISION))
		d->text = (char *)decision;
	d->outcome = (char *)outcome;
	d->legal_basis = (char *)basis;
	d->approver = (char *)approver;
	d->evidence = (char *)evidence;
	d->days = (int32_t)days;
	OP(disclosure, DISCLOSURE);
	return PB_OK;
}

#define PA(x) MAILROOM__PETITION_ACTION__PETITION_##x
static const struct {
	const char *name;
	Mailroom__PetitionAction action;
} petition_steps[] = {
	{"accept", PA(ACCEPT)}, {"not-accept", PA(NOT_ACCEPT)}, {"extend", PA(EXTEND)},
	{"answer", PA(ANSWER)}, {"review", PA(REVIEW)},         {"rereview", PA(REREVIEW)},
};

/* The same fields mailroom-handler petition fills for each step. */
static int b_petition(struct bctx *b)
{
	Mailroom__PetitionReq *p = &b->u.petition;
	const char *text, *approver, *reason;
	long days;
	int rc;

	mailroom__petition_req__init(p);
	for (size_t i = 0; i < sizeof(petition_steps) / sizeof(petition_steps[0]); i++)
		if (strcmp(b->arg, petition_steps[i].name) == 0)
			p->action = petition_steps[i].action;
	if (!p->action)
		return bad(b, "unknown_step", "no petition step '%s'", b->arg);
	if ((rc = lease(b, 0)) || (rc = str(b, b->body, "text", 0, &text)) ||
	    (rc = str(b, b->body, "approver", 0, &approver)) ||
	    (rc = str(b, b->body, "reason", 0, &reason)) ||
	    (rc = integer(b, "days", 1, 366, 0, &days)) || (rc = when(b, b->body, "date", &p->at_ms)))
		return rc;
	if (p->at_ms && pb_day_of_ms(p->at_ms) == pb_day_of_ms(pb_now_ms()))
		p->at_ms = 0;   /* today: the router takes now */
	p->id.data = b->id;
	p->id.len = PB_ID_LEN;
	p->lease_token = b->ref.lease_token;
	p->text = (char *)(reason ? reason : text);
	p->approver = (char *)approver;
	p->days = (int32_t)days;
	OP(petition, PETITION);
	return PB_OK;
}

static int boolean(struct bctx *b, const char *k, protobuf_c_boolean *out)
{
	json_t *v = json_object_get(b->body, k);

	if (!v)
		return bad(b, "missing_field", "%s is required", k);
	if (!json_is_boolean(v))
		return bad(b, "invalid_field", "%s must be true or false", k);
	*out = json_is_true(v);
	return PB_OK;
}

/* The call-back's outcome (回访), as mailroom-handler callback. */
static int b_callback(struct bctx *b)
{
	Mailroom__CallbackReq *c = &b->u.callback;
	const char *note;
	int rc;

	mailroom__callback_req__init(c);
	if ((rc = boolean(b, "reached", &c->reached)) || (rc = boolean(b, "resolved", &c->resolved)) ||
	    (rc = boolean(b, "reopen", &c->reopen)) || (rc = str(b, b->body, "note", 0, &note)))
		return rc;
	c->id.data = b->id;
	c->id.len = PB_ID_LEN;
	c->note = (char *)note;
	OP(callback, CALLBACK);
	return PB_OK;
}

/* A piece of a citizen's file, as mailroom-handler attachment: the
 * path's file number is the file's "n" in the message (from 0). */
static int b_file(struct bctx *b)
{
	Mailroom__AttachmentReq *a = &b->u.attachment;
	char *end = NULL;
	unsigned long n = strtoul(b->arg, &end, 10);
	long offset;
	int rc;

	mailroom__attachment_req__init(a);
	if (b->arg[0] < '0' || b->arg[0] > '9' || *end || (b->arg[0] == '0' && b->arg[1]) ||
	    n > 999)
		return bad(b, "invalid_field", "%s: a file number from 0", "the path");
	if ((rc = integer(b, "offset", 0, 1L << 40, 0, &offset)))
		return rc;
	a->message_id.data = b->id;
	a->message_id.len = PB_ID_LEN;
	a->n = (uint32_t)n;
	a->offset = (uint64_t)offset;
	OP(attachment, ATTACHMENT);
	return PB_OK;
}

/* Publishing (公开答复) and withdrawing, as mailroom-handler publish and
 * unpublish. */
static int b_publish(struct bctx *b)
{
	Mailroom__PublishReq *p = &b->u.publish;
	const char *subject, *text, *reason;
	int rc;

	mailroom__publish_req__init(p);
	p->unpublish = strcmp(b->arg, "unpublish") == 0;
	if ((rc = str(b, b->body, "subject", !p->unpublish, &subject)) ||
	    (rc = str(b, b->body, "body", !p->unpublish, &text)) ||
	    (rc = str(b, b->body, "reason", p->unpublish, &reason)))
		return rc;
	p->id.data = b->id;
	p->id.len = PB_ID_LEN;
	p->subject = (char *)subject;
	p->body = (char *)text;
	p->reason = (char *)reason;
	OP(publish, PUBLISH);
	return PB_OK;
}

static const char *const f_none[] = {NULL};
static const char *const f_callback[] = {"reached", "resolved", "reopen", "note", NULL};
static const char *const f_publish[] = {"subject", "body", NULL};
static const char *const f_unpublish[] = {"reason", NULL};
static const char *const f_file[] = {"offset", NULL};
static const char *const f_pull[] = {"queue", "wait", NULL};
static const char *const f_search[] = {"words", "channel", "queue", "state", "from", "to",
                                       "overdue", "limit", NULL};
static const char *const f_lease[] = {"lease", NULL};
static const char *const f_reply[] = {"lease", "text", "despite_pending", NULL};
static const char *const f_merge[] = {"refs", "reason", "keep_deadline", NULL};
static const char *const f_unmerge[] = {"reason", NULL};
static const char *const f_assist[] = {"queue", "working_days", "reason", NULL};
static const char *const f_opinion[] = {"queue", "text", NULL};
static const char *const f_transfer[] = {"lease", "to", "reason", NULL};
static const char *const f_clock[] = {"reason", "working_days", "approver", "received_at", NULL};
static const char *const f_refer[] = {"lease", "to", "reason", "outcome", "legal_basis", NULL};
static const char *const f_repeat[] = {"decision", NULL};
static const char *const f_hotline[] = {"lease", "text", "reason_code", "until", NULL};
static const char *const f_disclosure[] = {"lease", "text", "party", "outcome", "legal_basis",
                                           "approver", "evidence", "reason", "decision",
                                           "days", "date", "review", NULL};
static const char *const f_petition[] = {"lease", "text", "approver", "reason", "days", "date",
                                         NULL};

/* Path patterns below API_PREFIX: "*" is a message id, "+" a step name
 * taken from the listed ones by the builder. */
static const struct route {
	const char *method, *pattern;
	int (*build)(struct bctx *b);
	const char *const *fields;
} routes[] = {
	{"GET", "queues", b_queues, f_none},
	{"GET", "supervise", b_supervise, f_none},
	{"GET", "assists", b_assists, f_none},
	{"POST", "pull", b_pull, f_pull},
	{"POST", "search", b_search, f_search},
	{"GET", "messages/*", b_detail, f_none},
	{"POST", "messages/*/reply", b_reply, f_reply},
	{"POST", "messages/*/release", b_lease_op, f_lease},
	{"POST", "messages/*/renew", b_lease_op, f_lease},
	{"POST", "messages/*/transfer", b_transfer, f_transfer},
	{"POST", "messages/*/refer", b_refer, f_refer},
	{"POST", "messages/*/repeat", b_repeat, f_repeat},
	{"POST", "messages/*/pause", b_clock, f_clock},
	{"POST", "messages/*/resume", b_clock, f_clock},
	{"POST", "messages/*/extend", b_clock, f_clock},
	{"POST", "messages/*/restart", b_clock, f_clock},
	{"POST", "messages/*/sign", b_hotline, f_hotline},
	{"POST", "messages/*/finish", b_hotline, f_hotline},
	{"POST", "messages/*/return", b_hotline, f_hotline},
	{"POST", "messages/*/extension-request", b_hotline, f_hotline},
	{"POST", "messages/*/disclosure/+", b_disclosure, f_disclosure},
	{"POST", "messages/*/merge", b_merge, f_merge},
	{"POST", "messages/*/unmerge", b_unmerge, f_unmerge},
	{"POST", "messages/*/assist", b_assist, f_assist},
	{"POST", "messages/*/opinion", b_opinion, f_opinion},
	{"POST", "messages/*/petition/+", b_petition, f_petition},
	{"POST", "messages/*/callback", b_callback, f_callback},
	{"POST", "messages/*/publish", b_publish, f_publish},
	{"POST", "messages/*/unpublish", b_publish, f_unpublish},
	{"POST", "messages/*/files/+", b_file, f_file},
};

/* Matches path against pattern; the id and the step land in b. 0 = no. */
static int match(const char *pattern, const char *path, struct bctx *b, char *step, size_t steplen)
{
	char seg[128];

	for (;;) {
		const char *pe = strchr(pattern, '/'), *se = strchr(path, '/');
		size_t pl = pe ? (size_t)(pe - pattern) : strlen(pattern);
		size_t sl = se ? (size_t)(se - path) : strlen(path);
		if (sl == 0 || sl >= sizeof(seg))
			return 0;
		memcpy(seg, path, sl);
		seg[sl] = '\0';
		if (pl == 1 && *pattern == '*') {
			if (pb_id_from_text(seg, b->id))
				return -1;
		} else if (pl == 1 && *pattern == '+') {
			if (sl >= steplen)
				return 0;
			memcpy(step, seg, sl + 1);
		} else if (pl != sl || memcmp(pattern, seg, sl) != 0) {
			return 0;
		}
		if (!pe != !se)
			return 0;
		if (!pe)
			return 1;
		pattern = pe + 1;
		path = se + 1;
	}
}

static int check_fields(struct bctx *b, const char *const *allowed)
{
	for (void *it = json_object_iter(b->body); it; it = json_object_iter_next(b->body, it)) {
		const char *k = json_object_iter_key(it);
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], k) != 0)
			i++;
		if (!allowed[i])
			return bad(b, "unknown_field", "%s is not a field of this request", k);
	}
	return PB_OK;
}

/* The Request the signed route and body mean, packed then unpacked so
 * that it is owned like any request off the wire. */
static int to_request(const Mailroom__HttpSigReq *h, uint64_t ts_ms, uint8_t nonce[16],
                      Mailroom__Request **out, const char **error, char *message, size_t msglen)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	struct bctx *b = calloc(1, sizeof(*b));
	const struct route *r = NULL;
	char step[40] = "";
	int rc = PB_OK, hit = 0;

	if (!b)
		return PB_ENOMEM;
	b->req = &req;
	b->arg = step;
	if (strncmp(h->path, API_PREFIX, strlen(API_PREFIX)) == 0) {
		const char *rest = h->path + strlen(API_PREFIX);
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && !r; i++) {
			int m = match(routes[i].pattern, rest, b, step, sizeof(step));
			if (m < 0) {
				rc = bad(b, "invalid_id", "%s is not a message id", "the path");
				break;
			}
			if (m == 0)
				continue;
			hit = 1;
			if (strcmp(routes[i].method, h->method) == 0)
				r = &routes[i];
		}
		if (!step[0]) {
			/* the step of lease, clock and hotline routes is their last segment */
			const char *last = strrchr(h->path, '/');
			snprintf(step, sizeof(step), "%s", last ? last + 1 : "");
		}
	}
	if (!rc && !r)
		rc = hit ? (b->error = "method_not_allowed", PB_EFORBIDDEN)
		         : (b->error = "not_found", PB_ENOTFOUND);
	if (!rc && h->body.len) {
		json_error_t jerr;
		b->body = json_loadb((const char *)h->body.data, h->body.len, JSON_REJECT_DUPLICATES,
		                     &jerr);
		if (!b->body || !json_is_object(b->body))
			rc = bad(b, "invalid_json", "%s: the body must be one JSON object", "body");
	}
	if (!rc && !b->body && !(b->body = json_object()))
		rc = PB_ENOMEM;
	if (!rc)
		rc = check_fields(b, r->fields);
	if (!rc)
		rc = r->build(b);
	if (!rc) {
		req.ts_ms = ts_ms;
		req.nonce.data = nonce;
		req.nonce.len = 16;
		size_t len = mailroom__request__get_packed_size(&req);
		uint8_t *buf = malloc(len ? len : 1);
		if (!buf) {
			rc = PB_ENOMEM;
		} else {
			mailroom__request__pack(&req, buf);
			if (!(*out = mailroom__request__unpack(NULL, len, buf)))
				rc = PB_ENOMEM;
			free(buf);
		}
	}
	if (rc) {
		*error = b->error ? b->error : pb_err_name(rc);
		snprintf(message, msglen, "%s", b->message[0] ? b->message
		                                 : rc == PB_ENOTFOUND ? "no such console route"
		                                 : rc == PB_EFORBIDDEN ? "method not allowed on this route"
		                                                       : pb_err_str(rc));
	}
	json_decref(b->body);
	free(b);
	return rc;
}

/* ------------------------------------------------------------ open -- */

static _Thread_local char refusal[160];

#define REFUSE(code, err, msg) (*error = (err), *message = (msg), (code))

int rt_console_open(struct rt_core *core, struct rt_replay *replay, int64_t start_ms,
                    const Mailroom__Envelope *env, int64_t now_ms, Mailroom__Request **reqp,
                    struct rt_principal *who, const char **error, const char **message)
{
	Mailroom__HttpSigReq *h;
	struct sigreq s;
	struct pb_hs_input in;
	const struct pb_hs_param *created, *keyid, *nonce, *alg, *expires;
	const struct pb_handler *hd;
	uint8_t pk[32], sig[64], nh[16];
	int64_t skew = (int64_t)core->conf->request_skew_seconds * 1000;
	int rc;

	*reqp = NULL;
	h = mailroom__http_sig_req__unpack(NULL, env->request.len, env->request.data);
	if (!h || !h->method || !h->path || !h->signature_input || !h->signature) {
		if (h)
			mailroom__http_sig_req__free_unpacked(h, NULL);
		return REFUSE(PB_EINVAL, "malformed", "request refused");
	}
	s.h = h;
	if ((size_t)snprintf(s.query, sizeof(s.query), "?%s", h->query ? h->query : "") >=
	    sizeof(s.query)) {
		rc = REFUSE(PB_EINVAL, "invalid_signature", "query too long");
		goto out;
	}
	/* The profile (docs/handler-api.md): what must be signed, and how. */
	if (pb_hs_parse_input(h->signature_input, &in)) {
		rc = REFUSE(PB_EAUTH, "invalid_signature", "Signature-Input is not one RFC 9421 signature");
		goto out;
	}
	created = pb_hs_param_get(&in, "created");
	keyid = pb_hs_param_get(&in, "keyid");
	nonce = pb_hs_param_get(&in, "nonce");
	alg = pb_hs_param_get(&in, "alg");
	expires = pb_hs_param_get(&in, "expires");
	if (!created || !created->is_int || !keyid || keyid->is_int || !nonce || nonce->is_int ||
	    (alg && (alg->is_int || strcmp(alg->sval, "ed25519") != 0)) ||
	    (expires && !expires->is_int)) {
		rc = REFUSE(PB_EAUTH, "invalid_signature",
		            "Signature-Input needs created, keyid and nonce (and alg ed25519 if any)");
		goto out;
	}
	if (!pb_hs_covers(&in, "@method") || !pb_hs_covers(&in, "@path") ||
	    (h->query && *h->query && !pb_hs_covers(&in, "@query")) ||
	    (h->body.len && !pb_hs_covers(&in, "content-digest"))) {
		rc = REFUSE(PB_EAUTH, "invalid_signature",
		            "the signature must cover @method, @path, @query when there is one, "
		            "and content-digest when there is a body");
		goto out;
	}
	if (strlen(nonce->sval) < NONCE_MIN || strlen(nonce->sval) > NONCE_MAX) {
		rc = REFUSE(PB_EAUTH, "invalid_signature", "nonce: 16 to 64 characters");
		goto out;
	}
	if (strlen(keyid->sval) != 64 || pb_unhex(keyid->sval, pk, 32) ||
	    !(hd = rt_handler_by_key(core, pk)) || pb_hs_parse_signature(h->signature, in.label, sig) ||
	    pb_hs_verify(&in, component, &s, sig, pk) != PB_OK) {
		/* One answer for an unknown key and a bad signature: no oracle. */
		rc = REFUSE(PB_EAUTH, "unauthenticated", "request refused");
		goto out;
	}
	if (pb_hs_covers(&in, "content-digest") &&
	    !pb_hs_digest_ok(component(&s, "content-digest"), h->body.data, h->body.len)) {
		rc = REFUSE(PB_EAUTH, "digest_mismatch", "Content-Digest does not match the body");
		goto out;
	}
	/* created is in seconds: a request signed in the second this router
	 * started is taken, one signed before is not (the nonce cache is new). */
	if (created->ival * 1000 > now_ms + skew || created->ival * 1000 < now_ms - skew ||
	    created->ival < start_ms / 1000 || (expires && expires->ival * 1000 < now_ms)) {
		rc = REFUSE(PB_ESTALE, "stale", "created outside the allowed window");
		goto out;
	}
	/* A nonce is the signer's: the cache keys it by key and nonce. */
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(nh));
	crypto_generichash_update(&st, pk, 32);
	crypto_generichash_update(&st, (const uint8_t *)nonce->sval, strlen(nonce->sval));
	crypto_generichash_final(&st, nh, sizeof(nh));
	/* ts_ms is now: created was checked above, in its own seconds. */
	if ((rc = to_request(h, (uint64_t)now_ms, nh, reqp, error, refusal, sizeof(refusal)))) {
		*message = refusal;
		goto out;
	}
	/* Writes have their nonce checked in admit, reads here: a replayed
	 * read is refused as well. */
	if (!rt_is_write(*reqp) && (rc = rt_replay_check(replay, nh, now_ms))) {
		mailroom__request__free_unpacked(*reqp, NULL);
		*reqp = NULL;
		rc = REFUSE(rc, pb_err_name(rc), "request replayed");
		goto out;
	}
	memset(who, 0, sizeof(*who));
	who->kind = MAILROOM__AUTH_KIND__AUTH_HANDLER;
	who->handler = hd;
	who->console = 1;
	rc = PB_OK;
out:
	mailroom__http_sig_req__free_unpacked(h, NULL);
	return rc;
}
