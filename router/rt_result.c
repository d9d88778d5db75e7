/* What applying one request produced: the storage its answer points
 * into, the records it appended, the queues it touched, its failure. */
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"
#include "pb_utf8.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rt_result_init(struct rt_result *res)
{
	memset(res, 0, sizeof(*res));
	mailroom__response__init(&res->resp);
}

static void free_owned(void *p, int kind)
{
	if (kind == RT_OWN_MSG) {
		st_msg_free(p);
	} else if (kind == RT_OWN_CONTACT) {
		mailroom__contact__free_unpacked(p, NULL);
	} else if (kind == RT_OWN_APPLICANT) {
		mailroom__applicant__free_unpacked(p, NULL);
	} else if (kind == RT_OWN_NOTICE) {
		mailroom__notice_entry__free_unpacked(p, NULL);
	} else if (kind == RT_OWN_HANDLERS) {
		mailroom__handler_list__free_unpacked(p, NULL);
	} else if (kind == RT_OWN_OUTBOX) {
		struct rt_outbox_list *l = p;
		for (size_t i = 0; i < l->n; i++)
			st_outbox_free_entry(l->v[i]);
		free(l->v);
		free(l);
	} else {
		free(p);
	}
}

void *rt_own(struct rt_result *res, void *p, int kind)
{
	if (!p)
		return NULL;
	if (res->nowned < RT_OWNED_INLINE) {
		res->owned[res->nowned].p = p;
		res->owned[res->nowned].kind = kind;
		res->nowned++;
		return p;
	}
	if (res->nowned_more == res->capowned_more) {
		size_t cap = res->capowned_more ? res->capowned_more * 2 : 64;
		struct rt_owned *more = realloc(res->owned_more, cap * sizeof(*more));
		if (!more) {
			free_owned(p, kind);
			return NULL;
		}
		res->owned_more = more;
		res->capowned_more = cap;
	}
	res->owned_more[res->nowned_more].p = p;
	res->owned_more[res->nowned_more].kind = kind;
	res->nowned_more++;
	return p;
}

int rt_note_record(struct rt_result *res, uint64_t index)
{
	if (res->nrecords < RT_MAX_RECORDS_PER_OP) {
		res->records[res->nrecords++] = index;
		return PB_OK;
	}
	if (res->nmore == res->capmore) {
		size_t cap = res->capmore ? res->capmore * 2 : 64;
		uint64_t *p = realloc(res->more, cap * sizeof(*p));
		if (!p)
			return PB_ENOMEM;
		res->more = p;
		res->capmore = cap;
	}
	res->more[res->nmore++] = index;
	return PB_OK;
}

void rt_touch(struct rt_result *res, const char *queue)
{
	if (!queue || !*queue || strcmp(res->touched_queue, queue) == 0)
		return;
	if (!res->touched_queue[0]) {
		snprintf(res->touched_queue, sizeof(res->touched_queue), "%s", queue);
		return;
	}
	for (int i = 0; i < res->nextra; i++)
		if (strcmp(res->extra_queues[i], queue) == 0)
			return;
	if (res->nextra < (int)(sizeof(res->extra_queues) / sizeof(res->extra_queues[0])))
		snprintf(res->extra_queues[res->nextra++], PB_NAME_MAX, "%s", queue);
}

size_t rt_nrecords(const struct rt_result *res)
{
	return (size_t)res->nrecords + res->nmore;
}

uint64_t rt_record_at(const struct rt_result *res, size_t i)
{
	return i < (size_t)res->nrecords ? res->records[i] : res->more[i - (size_t)res->nrecords];
}

void rt_result_clear(struct rt_result *res)
{
	free(res->more);
	for (size_t i = res->nowned_more; i-- > 0;)
		free_owned(res->owned_more[i].p, res->owned_more[i].kind);
	free(res->owned_more);
	for (int i = res->nowned - 1; i >= 0; i--)
		free_owned(res->owned[i].p, res->owned[i].kind);
	rt_result_init(res);
}

int rt_fail(struct rt_result *res, int code, const char *error, const char *message)
{
	res->resp.code = code;
	res->resp.error = (char *)error;
	res->resp.message = (char *)message;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT__NOT_SET;
	return code;
}

