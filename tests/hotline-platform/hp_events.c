/* POST /api/v1/orders/{order_no}/events: the rules of hotline-12345.md
 * ("Results"), with the platform's per-order state behind the 409s. An
 * event_id seen before is a duplicate whatever else it says. */
#include "hp_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int answer(char **out, int status, const char *code, const char *message)
{
	json_t *j = code ? json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message) :
	                   json_pack("{s:b}", "accepted", 1);

	*out = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return status;
}

static const char *text_of(json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	return s && *s ? s : NULL;
}

/* 0, or the 422 answer for what this type needs and lacks. */
static int check_fields(json_t *j, const char *type, char **out, const char **why)
{
	static const char *const types[] = {"sign", "progress", "reply", "finish", "return",
	                                    "extension_request", NULL};
	int known = 0;

	for (int i = 0; types[i]; i++)
		known |= strcmp(type, types[i]) == 0;
	if (!known)
		*why = "type: sign|progress|reply|finish|return|extension_request";
	else if (!json_is_integer(json_object_get(j, "dispatch_seq")) ||
	         json_integer_value(json_object_get(j, "dispatch_seq")) < 1)
		*why = "dispatch_seq: integer >= 1";
	else if (!text_of(j, "at"))
		*why = "at: required";
	else if (!json_is_object(json_object_get(j, "handler")))
		*why = "handler: object required";
	else if (strcmp(type, "return") == 0 && (!text_of(j, "reason_code") || !text_of(j, "text")))
		*why = "return needs reason_code and text";
	else if (strcmp(type, "extension_request") == 0 &&
	         (!text_of(j, "requested_due_at") || !text_of(j, "text")))
		*why = "extension_request needs requested_due_at and text";
	else if ((strcmp(type, "finish") == 0 || strcmp(type, "reply") == 0) && !text_of(j, "text"))
		*why = "finish needs text";
	else
		return 0;
	return answer(out, 422, "invalid_event", *why);
}

/* 0 when the event fits the order's state, else the 409. */
static int check_state(const struct hp_order *o, unsigned seq, const char *type, char **out)
{
	if (seq != o->seq)
		return answer(out, 409, "stale_dispatch_seq", "dispatch_seq is not the current one");
	switch (o->state) {
	case HP_ST_REVOKED:
		return answer(out, 409, "order_revoked", "the order was revoked");
	case HP_ST_RETURNED:
		return answer(out, 409, "order_returned", "the order was returned");
	case HP_ST_FINISHED:
		return answer(out, 409, "order_finished", "the order is finished");
	default:
		break;
	}
	if (strcmp(type, "sign") == 0 && o->state == HP_ST_SIGNED)
		return answer(out, 409, "already_signed", "the order is already signed");
	if ((strcmp(type, "finish") == 0 || strcmp(type, "extension_request") == 0) &&
	    o->state != HP_ST_SIGNED)
		return answer(out, 409, "not_signed", "sign the order first");
	return 0;
}

static int remember(struct hp *p, const char *id, const char *no, const char *type)
{
	if (p->nevents == p->capevents) {
		size_t cap = p->capevents ? p->capevents * 2 : 1024;
		struct hp_event *v = realloc(p->events, cap * sizeof(*v));
		if (!v)
			return -1;
		p->events = v;
		p->capevents = cap;
	}
	struct hp_event *e = &p->events[p->nevents];
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	snprintf(e->no, sizeof(e->no), "%s", no);
	snprintf(e->type, sizeof(e->type), "%s", type);
	if (hp_map_put(&p->event_ix, e->id, p->nevents))
		return -1;
	p->nevents++;
	return 0;
}

int hp_event_apply(struct hp *p, const char *order_no, const char *body, size_t len, char **out)
{
	json_error_t jerr;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *id, *type, *why = NULL;
	struct hp_order *o;
	size_t ix;
	int rc;

	if (!j || !json_is_object(j)) {
		json_decref(j);
		p->st.malformed++;
		return answer(out, 400, "invalid_json", "the body is not a JSON object");
	}
	id = text_of(j, "event_id");
	type = text_of(j, "type");
	if (!id || strlen(id) > 128 || !type) {
		json_decref(j);
		p->st.malformed++;
		return answer(out, 422, "invalid_event", "event_id and type required");
	}
	if (hp_map_get(&p->event_ix, id, &ix) == 0) {
		p->events[ix].dups++;
		p->st.duplicates++;
		json_decref(j);
		*out = strdup("{\"accepted\":true,\"duplicate\":true}");
		return 200;
	}
	if ((rc = check_fields(j, type, out, &why))) {
		p->st.malformed++;
		json_decref(j);
		return rc;
	}
	if (!(o = hp_order_find(p, order_no))) {
		p->st.conflicts++;
		json_decref(j);
		return answer(out, 409, "unknown_order", "no such order");
	}
	if ((rc = check_state(o, (unsigned)json_integer_value(json_object_get(j, "dispatch_seq")), type,
	                      out))) {
		p->st.conflicts++;
		json_decref(j);
		return rc;
	}
	if (remember(p, id, order_no, type)) {
		json_decref(j);
		return answer(out, 500, "internal", "out of memory");
	}
	p->st.accepted++;
	if (strcmp(type, "sign") == 0) {
		o->state = HP_ST_SIGNED;
		if (hp_fault_take(p, HP_F_REVOKE))
			hp_issue_revoke(p, o, "市民已自行解决，撤回工单");
	} else if (strcmp(type, "finish") == 0) {
		o->state = HP_ST_FINISHED;
	} else if (strcmp(type, "return") == 0) {
		o->state = HP_ST_RETURNED;
		if (hp_fault_take(p, HP_F_REDISPATCH))
			hp_issue_redispatch(p, o);
	}
	json_decref(j);
	return answer(out, 200, NULL, NULL);
}

void hp_event_seen(struct hp *p, const char *event_id, int *applied, int *dups)
{
	size_t ix;

	pthread_mutex_lock(&p->mu);
	if (hp_map_get(&p->event_ix, event_id, &ix) == 0) {
		*applied = 1;
		*dups = p->events[ix].dups;
	} else {
		*applied = 0;
		*dups = 0;
	}
	pthread_mutex_unlock(&p->mu);
}

void hp_each_event(struct hp *p, int (*fn)(const char *event_id, const char *order_no,
                                           const char *type, int dups, void *arg), void *arg)
{
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->nevents; i++)
		if (fn(p->events[i].id, p->events[i].no, p->events[i].type, p->events[i].dups, arg))
			break;
	pthread_mutex_unlock(&p->mu);
}
