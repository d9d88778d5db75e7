/* Read operations of the gateway and handlers: a citizen's status,
 * a handler's queues, the office's statistics. */
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"
#include "pb_utf8.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rt_op_status(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	static const uint8_t decoy[PB_AKEY_HASH_LEN];
	const Mailroom__StatusReq *s = req->status;
	uint8_t id[PB_ID_LEN], stored_hash[PB_AKEY_HASH_LEN];
	Mailroom__StoredMessage *m;
	int found, match;

	(void)who;
	(void)now_ms;

	if (!s->tracking_code || s->access_key_hash.len != PB_AKEY_HASH_LEN)
		return rt_fail(res, PB_EINVAL, "invalid_request", "tracking code and key hash required");
	/* One index read and one constant-time compare whether or not the
	 * code exists, so timing does not tell a wrong key from a wrong code. */
	found = st_track_lookup(t, s->tracking_code, id, stored_hash) == PB_OK;
	match = sodium_memcmp(found ? stored_hash : decoy, s->access_key_hash.data,
	                      PB_AKEY_HASH_LEN) == 0;
	if (!found || !match || sodium_is_zero(stored_hash, sizeof(stored_hash)))
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no message with that code and key");
	if (rt_msg_load(t, id, sizeof(id), res, &m))
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no message with that code and key");
	if (rt_view(core, res, m, 0, &res->resp.status))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	if (rt_merge_status(t, res, m, res->resp.status))
		return res->resp.code;
	rt_view_receipt(core, t, res, m, res->resp.status);
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_STATUS;
	return PB_OK;
}

/* Adds name to list (once), with its depth and leased counters. infos is
 * the backing array, as long as list. */
static int add_queue_info(st_txn *t, const char *name, Mailroom__QueueInfo *infos,
                          Mailroom__QueueInfo **list, size_t *n)
{
	char cname[PB_NAME_MAX + 16];
	int64_t leased = 0;
	int rc;

	for (size_t i = 0; i < *n; i++)
		if (strcmp(list[i]->name, name) == 0)
			return PB_OK;
	Mailroom__QueueInfo *q = &infos[*n];
	mailroom__queue_info__init(q);
	q->name = (char *)name;
	if ((rc = st_queue_depth(t, name, &q->depth)))
		return rc;
	snprintf(cname, sizeof(cname), "q.%s.leased", name);
	if ((rc = st_counter_get(t, cname, &leased)) && rc != PB_ENOTFOUND)
		return rc;
	q->leased = leased > 0 ? (uint64_t)leased : 0;
	list[(*n)++] = q;
	return PB_OK;
}

int rt_op_queues(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const struct pb_handler *h = who->handler;
	Mailroom__QueuesResp *qr = rt_own(res, malloc(sizeof(*qr)), RT_OWN_FREE);
	Mailroom__QueueInfo **list = rt_own(res, calloc(PB_MAX_QUEUES, sizeof(*list)), RT_OWN_FREE);
	Mailroom__QueueInfo *infos = rt_own(res, calloc(PB_MAX_QUEUES, sizeof(*infos)), RT_OWN_FREE);
	size_t n = 0;
	int rc;

	(void)core;
	(void)req;
	(void)now_ms;

	if (!qr || !list || !infos)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__queues_resp__init(qr);
	for (int i = 0; i < h->nqueues; i++)
		if ((rc = add_queue_info(t, h->queues[i], infos, list, &n)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot read queues");
	qr->queues = list;
	qr->n_queues = n;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_QUEUES;
	res->resp.queues = qr;
	/* The console's listing also counts what is due soon or overdue. */
	if (who->console && (rc = rt_console_queue_counts(t, qr)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot read the messages");
	return PB_OK;
}

int rt_op_stats(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const struct pb_conf *c = core->conf;
	size_t max = PB_CH_COUNT + (size_t)c->nroutes + (size_t)c->nhandlers * PB_MAX_QUEUES, n = 0;
	Mailroom__StatsResp *sr = rt_own(res, malloc(sizeof(*sr)), RT_OWN_FREE);
	Mailroom__QueueInfo **list = rt_own(res, calloc(max, sizeof(*list)), RT_OWN_FREE);
	Mailroom__QueueInfo *infos = rt_own(res, calloc(max, sizeof(*infos)), RT_OWN_FREE);
	uint64_t *buckets = rt_own(res, calloc(9, sizeof(uint64_t)), RT_OWN_FREE);
	int rc = PB_OK;

	(void)who;
	(void)req;

	if (!sr || !list || !infos || !buckets)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__stats_resp__init(sr);
	for (int i = 1; i < PB_CH_COUNT && !rc; i++)
		rc = add_queue_info(t, c->default_queue[i], infos, list, &n);
	for (int i = 0; i < c->nroutes && !rc; i++)
		rc = add_queue_info(t, c->routes[i].queue, infos, list, &n);
	for (int i = 0; i < c->nhandlers && !rc; i++)
		for (int k = 0; k < c->handlers[i].nqueues && !rc; k++)
			rc = add_queue_info(t, c->handlers[i].queues[k], infos, list, &n);
	if (rc || (rc = st_log_size(t, &sr->log_size)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot read stats");
	sr->queues = list;
	sr->n_queues = n;
	sr->commits = atomic_load(&core->commits);
	sr->commit_us_sum = atomic_load(&core->commit_us_sum);
	for (int i = 0; i < 9; i++)
		buckets[i] = atomic_load(&core->commit_us_bucket[i]);
	sr->commit_us_bucket = buckets;
	sr->n_commit_us_bucket = 9;
	sr->calendar_next_year_missing = cal_next_year_missing(core->cal, now_ms);
	sr->calendar_last_year = cal_last_year(core->cal);
	rt_health_stats(core, now_ms, sr);
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_STATS;
	res->resp.stats = sr;
	return PB_OK;
}

