/* The router's own health and metrics on [router] metrics_addr:metrics_port
 * (the listener is pb_mon; off when the address is empty), answering
 * GET /healthz and GET /metrics (Prometheus text). Everything
 * is read in one read-only snapshot, so it never waits for the writer. */
#include "rt.h"
#include "pb_err.h"
#include "pb_mon.h"
#include "pb_time.h"
#include "pb_version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXQ (PB_MAX_QUEUES * 2)

enum { S_OPEN, S_DUE_SOON, S_OVERDUE, S_SERIOUSLY, S_COUNT };
static const char *const state_names[S_COUNT] = {"open", "due_soon", "overdue",
                                                 "seriously_overdue"};
static const char *const clock_names[3] = {"", "ack", "reply"};

struct rt_metrics {
	struct rt_core *core;
	struct pb_mon *mon;
	int64_t start_ms;
	_Atomic int stop;            /* a scrape's walk ends early: the listener waits for it */
};

struct qcount {
	int n;
	char name[MAXQ][PB_NAME_MAX];
	uint64_t c[MAXQ][3][S_COUNT];
	uint64_t veto[MAXQ][2];      /* unanswered past [rating] veto_days, veto_days_2 */
	int64_t veto_before[2];
	int64_t now;
	const _Atomic int *stop;
};

/* A clock's state is the router's own escalation (rt_clock.c: due soon one
 * working day ahead, overdue at the deadline, seriously overdue five
 * working days after), or the step whose time has come but the writer has
 * not written yet. Seriously overdue clocks leave the deadline index, so
 * the count walks the messages: one read of each open message. */
static int count_message(const Mailroom__StoredMessage *m, void *arg)
{
	struct qcount *q = arg;
	int i;

	if (*q->stop)
		return -1;
	if (m->status != MAILROOM__STATUS__STATUS_QUEUED && m->status != MAILROOM__STATUS__STATUS_LEASED)
		return 0;
	for (i = 0; i < q->n && strcmp(q->name[i], m->queue) != 0; i++)
		;
	if (i == q->n) {
		if (q->n == MAXQ)
			return 0;
		snprintf(q->name[q->n++], PB_NAME_MAX, "%s", m->queue);
	}
	/* The veto line (单项否决): never answered, received that long ago. */
	for (int v = 0; v < 2 && !m->first_replied_ms; v++)
		q->veto[i][v] += m->received_ms < q->veto_before[v];
	for (size_t k = 0; k < m->n_clocks; k++) {
		const Mailroom__Clock *c = m->clocks[k];
		uint32_t level = c->escalation;
		if (c->stopped || c->kind < 1 || c->kind > 2)
			continue;
		if (c->next_fire_ms && c->next_fire_ms <= q->now && level < 3)
			level++;
		uint64_t *n = q->c[i][c->kind];
		n[S_OPEN]++;
		if (level == 1)
			n[S_DUE_SOON]++;
		else if (level == 2)
			n[S_OVERDUE]++;
		else if (level >= 3)
			n[S_SERIOUSLY]++;
	}
	return 0;
}

/* The time of the last checkpointed record: how old the newest signed
 * checkpoint is. -1 when there is none. */
static int64_t checkpoint_time(st_txn *t, uint64_t *cp_size)
{
	char *note = NULL;
	size_t len;
	const uint8_t *data;
	int64_t when = -1;

	*cp_size = 0;
	if (st_checkpoint_get(t, 0, &note, &len, cp_size) != PB_OK || *cp_size == 0) {
		free(note);
		return -1;
	}
	free(note);
	if (st_log_get(t, *cp_size - 1, &data, &len) == PB_OK && len > 0) {
		Mailroom__AuditRecord *r =
			mailroom__audit_record__unpack(NULL, len, data);
		if (r) {
			when = r->time_ms;
			mailroom__audit_record__free_unpacked(r, NULL);
		}
	}
	return when;
}

static int render(struct rt_metrics *x, char **out, size_t *outlen)
{
	struct qcount *q = calloc(1, sizeof(*q));
	uint64_t used = 0, size = 0, log = 0, cp = 0, outbox = 0, dead = 0, npend = 0, ndead = 0;
	int64_t nsent = 0, ndead_total = 0;
	int64_t now = pb_now_ms(), cp_ms;
	FILE *f;
	st_txn *t;
	int rc;

	if (!q)
		return PB_ENOMEM;
	if ((rc = st_txn_begin(x->core->store, NULL, 1, &t))) {
		free(q);
		return rc;
	}
	q->now = now;
	q->stop = &x->stop;
	q->veto_before[0] = now - (int64_t)x->core->conf->veto_days * 86400 * 1000;
	q->veto_before[1] = now - (int64_t)x->core->conf->veto_days_2 * 86400 * 1000;
	rc = st_msg_each(t, count_message, q);
	if (rc == PB_OK && x->stop)
		rc = PB_EUNAVAIL;   /* stopping: a partial count is no answer */
	if (rc == PB_OK)
		rc = st_log_size(t, &log);
	cp_ms = checkpoint_time(t, &cp);
	/* An older store may lack the outbox: it is then empty. */
	if (st_outbox_count(t, 0, &outbox) != PB_OK)
		outbox = 0;
	if (st_outbox_count(t, 1, &dead) != PB_OK)
		dead = 0;
	if (st_notice_count(t, 0, &npend) != PB_OK || st_notice_count(t, 1, &ndead) != PB_OK ||
	    st_counter_get(t, "notice.sent", &nsent) != PB_OK ||
	    st_counter_get(t, "notice.dead_total", &ndead_total) != PB_OK)
		npend = ndead = 0, nsent = ndead_total = 0;
	int64_t pending = 0;
	if (st_counter_get(t, RT_ATTACH_PENDING, &pending) != PB_OK || pending < 0)
		pending = 0;
	st_txn_abort(t);
	if (rc == PB_OK)
		rc = st_map_use(x->core->store, &used, &size);
	if (rc != PB_OK || !(f = open_memstream(out, outlen))) {
		free(q);
		return rc ? rc : PB_ENOMEM;
	}
	fprintf(f, "# HELP mailroom_router_build_info The router's version.\n"
	           "# TYPE mailroom_router_build_info gauge\n"
	           "mailroom_router_build_info{version=\"%s\"} 1\n", PB_VERSION);
	fprintf(f, "# HELP mailroom_router_uptime_seconds Seconds since the router started.\n"
	           "# TYPE mailroom_router_uptime_seconds gauge\n"
	           "mailroom_router_uptime_seconds %.3f\n", (double)(now - x->start_ms) / 1000.0);
	fprintf(f, "# HELP mailroom_store_map_used_ratio Share of the LMDB map in use "
	           "([store] map_size_mb); writes fail with 503 at 1.\n"
	           "# TYPE mailroom_store_map_used_ratio gauge\n"
	           "mailroom_store_map_used_ratio %.6f\n"
	           "# TYPE mailroom_store_map_used_bytes gauge\nmailroom_store_map_used_bytes %llu\n"
	           "# TYPE mailroom_store_map_size_bytes gauge\nmailroom_store_map_size_bytes %llu\n",
	        size ? (double)used / (double)size : 0.0, (unsigned long long)used,
	        (unsigned long long)size);
	fprintf(f, "# HELP mailroom_log_records Records in the audit log.\n"
	           "# TYPE mailroom_log_records gauge\nmailroom_log_records %llu\n"
	           "# HELP mailroom_checkpoint_size Records under the newest signed checkpoint.\n"
	           "# TYPE mailroom_checkpoint_size gauge\nmailroom_checkpoint_size %llu\n",
	        (unsigned long long)log, (unsigned long long)cp);
	fprintf(f, "# HELP mailroom_checkpoint_age_seconds Age of the newest checkpoint's last "
	           "record (-1: none yet).\n# TYPE mailroom_checkpoint_age_seconds gauge\n"
	           "mailroom_checkpoint_age_seconds %.3f\n",
	        cp_ms < 0 ? -1.0 : (double)(now - cp_ms) / 1000.0);
	fprintf(f, "# HELP mailroom_outbox_depth 12345 result events waiting for delivery.\n"
	           "# TYPE mailroom_outbox_depth gauge\nmailroom_outbox_depth %llu\n"
	           "# HELP mailroom_outbox_dead_letters 12345 result events the platform refused "
	           "for good.\n# TYPE mailroom_outbox_dead_letters gauge\n"
	           "mailroom_outbox_dead_letters %llu\n",
	        (unsigned long long)outbox, (unsigned long long)dead);
	fprintf(f, "# HELP mailroom_notices_pending Notices to citizens waiting for mailroom-notify.\n"
	           "# TYPE mailroom_notices_pending gauge\nmailroom_notices_pending %llu\n"
	           "# HELP mailroom_notices_dead_letters Notices refused for good (bounced, a refused "
	           "number), for a handler to follow up.\n# TYPE mailroom_notices_dead_letters gauge\n"
	           "mailroom_notices_dead_letters %llu\n"
	           "# HELP mailroom_notices_sent_total Notices the relay or provider accepted.\n"
	           "# TYPE mailroom_notices_sent_total counter\nmailroom_notices_sent_total %lld\n"
	           "# HELP mailroom_notices_dead_total Notices that became dead letters.\n"
	           "# TYPE mailroom_notices_dead_total counter\nmailroom_notices_dead_total %lld\n",
	        (unsigned long long)npend, (unsigned long long)ndead, (long long)nsent,
	        (long long)ndead_total);
	fprintf(f, "# HELP mailroom_attachments_pending Citizens' files waiting for a virus "
	           "scan (never shown to handlers until scanned).\n"
	           "# TYPE mailroom_attachments_pending gauge\nmailroom_attachments_pending %lld\n"
	           "# HELP mailroom_scanner_up 1 when the last scan attempt reached clamd.\n"
	           "# TYPE mailroom_scanner_up gauge\nmailroom_scanner_up %d\n",
	        (long long)pending, rt_scanner_up());
	fprintf(f, "# HELP mailroom_deadlines Clocks of open messages per queue: all open, and "
	           "those due soon, overdue, seriously overdue (escalation steps).\n# TYPE mailroom_deadlines gauge\n");
	for (int i = 0; i < q->n; i++)
		for (int c = 1; c <= 2; c++)
			for (int s = 0; s < S_COUNT; s++)
				fprintf(f, "mailroom_deadlines{queue=\"%s\",clock=\"%s\",state=\"%s\"} %llu\n",
				        q->name[i], clock_names[c], state_names[s],
				        (unsigned long long)q->c[i][c][s]);
	fprintf(f, "# HELP mailroom_veto_cases Open messages never answered, received [rating] "
	           "veto_days (level 1) or veto_days_2 (level 2) days ago or more.\n"
	           "# TYPE mailroom_veto_cases gauge\n");
	for (int i = 0; i < q->n; i++)
		for (int v = 0; v < 2; v++)
			fprintf(f, "mailroom_veto_cases{queue=\"%s\",level=\"%d\",days=\"%d\"} %llu\n",
			        q->name[i], v + 1,
			        v ? x->core->conf->veto_days_2 : x->core->conf->veto_days,
			        (unsigned long long)q->veto[i][v]);
	free(q);
	return fclose(f) == 0 ? PB_OK : PB_ENOMEM;
}

/* GET path (pb_mon_fn). */
static int route(void *arg, const char *path, unsigned *status, const char **type, char **body,
                 size_t *len)
{
	struct rt_metrics *x = arg;

	if (strcmp(path, "/healthz") == 0) {
		*status = 200;
		return pb_mon_text("ok\n", body, len);
	}
	if (strcmp(path, "/metrics") != 0) {
		*status = 404;
		return pb_mon_text("not found\n", body, len);
	}
	if (render(x, body, len) != PB_OK) {
		free(*body);
		*body = NULL;
		*status = 503;
		return pb_mon_text("store unreadable\n", body, len);
	}
	*status = 200;
	*type = "text/plain; version=0.0.4";
	return PB_OK;
}

int rt_metrics_start(struct rt_core *core, struct rt_metrics **out)
{
	const struct pb_conf *c = core->conf;
	struct rt_metrics *x;
	int rc;

	*out = NULL;
	if (!c->router_metrics_addr[0])
		return PB_OK;
	if (!(x = calloc(1, sizeof(*x))))
		return PB_ENOMEM;
	x->core = core;
	x->start_ms = pb_now_ms();
	if ((rc = pb_mon_start("[router]", c->router_metrics_addr, c->router_metrics_port, route, x,
	                       &x->mon))) {
		free(x);
		return rc;
	}
	*out = x;
	return PB_OK;
}

void rt_metrics_stop(struct rt_metrics *x)
{
	if (!x)
		return;
	x->stop = 1;
	pb_mon_stop(x->mon);
	free(x);
}
