/* Request counters kept here, and the Prometheus text page that joins them
 * with the router's StatsResp. */
#include "gw.h"

#include <stdio.h>
#include <stdlib.h>

/* By the enum's names, so a route added in the middle cannot shift them. */
static const char *const route_names[GW_R_COUNT] = {
	[GW_R_MESSAGES] = "/v1/messages",
	[GW_R_MESSAGE] = "/v1/messages/{tracking_code}",
	[GW_R_HOTLINE] = "/v1/hotline/orders",
	[GW_R_HEALTHZ] = "/healthz",
	[GW_R_METRICS] = "/metrics",
	[GW_R_LOG] = "/v1/log",
	[GW_R_DISCLOSURE] = "/v1/disclosure-applications",
	[GW_R_PAGE] = "pages",
	[GW_R_PETITION] = "/v1/petition/transfers",
	[GW_R_UPLOAD] = "/v1/uploads",
	[GW_R_OTHER] = "other",
	[GW_R_RATING] = "/v1/messages/{tracking_code}/rating",
	[GW_R_REPLY_FILE] = "/v1/messages/{tracking_code}/reply-files/{n}",
};

/* Statuses the gateway answers with; the last slot takes any other. */
static const unsigned statuses[GW_NSTATUS] = {
	200, 201, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 503, 0,
};

/* Upper bounds of StatsResp.commit_us_bucket, in seconds. */
static const char *const bucket_le[] = {
	"0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.25", "+Inf",
};
#define NBUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

void gw_metrics_count(struct gw_metrics *m, int route, unsigned status)
{
	int i;

	if (route < 0 || route >= GW_R_COUNT)
		route = GW_R_OTHER;
	for (i = 0; i < GW_NSTATUS - 1; i++)
		if (statuses[i] == status)
			break;
	atomic_fetch_add_explicit(&m->n[route][i], 1, memory_order_relaxed);
}

/* Label values: backslash, quote and newline escaped. */
static void label(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void histogram(FILE *f, const Mailroom__StatsResp *s)
{
	uint64_t cum[NBUCKETS] = {0};
	int cumulative = 1;

	fputs("# HELP mailroom_commit_latency_seconds Time from a batch's first request to its "
	      "durable commit.\n# TYPE mailroom_commit_latency_seconds histogram\n",
	      f);
	if (s->n_commit_us_bucket == NBUCKETS) {
		/* "le" reads as cumulative, but a per-bucket count is accepted
		 * too: only a cumulative series ends at the commit count while
		 * never decreasing. */
		for (size_t i = 1; i < NBUCKETS; i++)
			if (s->commit_us_bucket[i] < s->commit_us_bucket[i - 1])
				cumulative = 0;
		if (s->commit_us_bucket[NBUCKETS - 1] != s->commits)
			cumulative = 0;
		uint64_t run = 0;
		for (size_t i = 0; i < NBUCKETS; i++) {
			run += s->commit_us_bucket[i];
			cum[i] = cumulative ? s->commit_us_bucket[i] : run;
		}
	}
	/* Without buckets from the router only +Inf is known. */
	cum[NBUCKETS - 1] = s->commits;
	for (size_t i = 0; i < NBUCKETS; i++) {
		if (s->n_commit_us_bucket != NBUCKETS && i + 1 < NBUCKETS)
			continue;
		fprintf(f, "mailroom_commit_latency_seconds_bucket{le=\"%s\"} %llu\n", bucket_le[i],
		        (unsigned long long)cum[i]);
	}
	fprintf(f, "mailroom_commit_latency_seconds_sum %.6f\n", (double)s->commit_us_sum / 1e6);
	fprintf(f, "mailroom_commit_latency_seconds_count %llu\n", (unsigned long long)s->commits);
}

static void router_stats(FILE *f, const Mailroom__StatsResp *s)
{
	histogram(f, s);
	fputs("# HELP mailroom_queue_depth Messages waiting in a queue.\n"
	      "# TYPE mailroom_queue_depth gauge\n",
	      f);
	for (size_t i = 0; i < s->n_queues; i++) {
		fputs("mailroom_queue_depth{queue=\"", f);
		label(f, s->queues[i]->name);
		fprintf(f, "\"} %llu\n", (unsigned long long)s->queues[i]->depth);
	}
	fputs("# HELP mailroom_queue_leased Messages of a queue leased to a handler.\n"
	      "# TYPE mailroom_queue_leased gauge\n",
	      f);
	for (size_t i = 0; i < s->n_queues; i++) {
		fputs("mailroom_queue_leased{queue=\"", f);
		label(f, s->queues[i]->name);
		fprintf(f, "\"} %llu\n", (unsigned long long)s->queues[i]->leased);
	}
	fprintf(f,
	        "# HELP mailroom_log_records Records in the signed audit log.\n"
	        "# TYPE mailroom_log_records gauge\nmailroom_log_records %llu\n",
	        (unsigned long long)s->log_size);
	/* The router's own answer: it is the one whose deadlines would be
	 * provisional. */
	fprintf(f,
	        "# HELP mailroom_calendar_next_year_missing 1 from 1 November while next year's "
	        "holiday notice is not loaded.\n"
	        "# TYPE mailroom_calendar_next_year_missing gauge\n"
	        "mailroom_calendar_next_year_missing %d\n"
	        "# HELP mailroom_calendar_last_year Last year with a loaded holiday notice.\n"
	        "# TYPE mailroom_calendar_last_year gauge\nmailroom_calendar_last_year %d\n",
	        s->calendar_next_year_missing ? 1 : 0, (int)s->calendar_last_year);
	/* What /healthz judges, so a 503 there can be explained here. */
	fprintf(f,
	        "# HELP mailroom_store_full 1 while the store's map is full: writes answer 503.\n"
	        "# TYPE mailroom_store_full gauge\nmailroom_store_full %d\n"
	        "# HELP mailroom_writer_queued Requests waiting for the router's writer.\n"
	        "# TYPE mailroom_writer_queued gauge\nmailroom_writer_queued %llu\n"
	        "# HELP mailroom_writer_idle_seconds Time since the writer's last commit.\n"
	        "# TYPE mailroom_writer_idle_seconds gauge\nmailroom_writer_idle_seconds %.3f\n",
	        s->store_full ? 1 : 0, (unsigned long long)s->writer_queued,
	        (double)s->writer_idle_ms / 1000.0);
}

static const char *const close_names[GW_CLOSE_COUNT] = {
	"headers", "body", "idle", "budget", "per_address", "version",
};

static void connections(FILE *f, struct gw_metrics *m)
{
	fprintf(f,
	        "# HELP mailroom_http_connections Connections open.\n"
	        "# TYPE mailroom_http_connections gauge\nmailroom_http_connections %ld\n"
	        "# HELP mailroom_http_closed_total Connections the gateway closed itself, by "
	        "reason.\n# TYPE mailroom_http_closed_total counter\n",
	        atomic_load_explicit(&m->conns, memory_order_relaxed));
	for (int i = 0; i < GW_CLOSE_COUNT; i++)
		fprintf(f, "mailroom_http_closed_total{reason=\"%s\"} %lu\n", close_names[i],
		        atomic_load_explicit(&m->closed[i], memory_order_relaxed));
}

char *gw_metrics_render(struct gw_metrics *m, const Mailroom__StatsResp *stats, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	fputs("# HELP mailroom_http_requests_total HTTP requests answered by the gateway.\n"
	      "# TYPE mailroom_http_requests_total counter\n",
	      f);
	for (int r = 0; r < GW_R_COUNT; r++) {
		for (int i = 0; i < GW_NSTATUS; i++) {
			unsigned long n = atomic_load_explicit(&m->n[r][i], memory_order_relaxed);
			if (n == 0)
				continue;
			fprintf(f, "mailroom_http_requests_total{route=\"%s\",status=\"", route_names[r]);
			if (statuses[i])
				fprintf(f, "%u", statuses[i]);
			else
				fputs("other", f);
			fprintf(f, "\"} %lu\n", n);
		}
	}
	connections(f, m);
	fprintf(f,
	        "# HELP mailroom_router_up Whether the router answered the stats request.\n"
	        "# TYPE mailroom_router_up gauge\nmailroom_router_up %d\n",
	        stats ? 1 : 0);
	if (stats)
		router_stats(f, stats);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

const char *gw_route_name(int route)
{
	return route >= 0 && route < GW_R_COUNT ? route_names[route] : route_names[GW_R_OTHER];
}
