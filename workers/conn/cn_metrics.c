/* A connector's own health and metrics on [hotline] or [notify]
 * metrics_addr:metrics_port (the listener is pb_mon; off when the address
 * is empty), answering GET /healthz (JSON, 503 with the reason when the
 * router or the upstream is failing) and GET /metrics (Prometheus text:
 * the common lines here, then the connector's own). It reads only
 * counters, never the router, so a scrape cannot slow the work. */
#include "cn.h"
#include "pb_err.h"
#include "pb_mon.h"
#include "pb_version.h"

#include <stdlib.h>
#include <string.h>

struct cn_metrics {
	struct cn_metrics_spec s;
	struct pb_mon *mon;
};

void cn_metric(FILE *f, const char *prog, const char *name, const char *type, const char *help,
               double value)
{
	fprintf(f, "# HELP mailroom_%s_%s %s\n# TYPE mailroom_%s_%s %s\nmailroom_%s_%s %.15g\n", prog,
	        name, help, prog, name, type, prog, name, value);
}

void cn_metric_table(FILE *f, const char *prog, const struct cn_stat *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cn_metric(f, prog, t[i].name, t[i].type, t[i].help, (double)atomic_load(t[i].value));
}

/* Empty reason: healthy. */
static void judge(const struct cn_metrics_spec *s, const struct cn_health *h, char *why,
                  size_t len)
{
	int64_t max_ms = (int64_t)s->unhealthy_after_s * 1000;

	why[0] = '\0';
	if (h->router_age_ms > max_ms)
		snprintf(why, len, "the router has not answered for %lld s (threshold %d s)",
		         (long long)(h->router_age_ms / 1000), s->unhealthy_after_s);
	else if (h->upstream_fails >= (uint64_t)s->unhealthy_failures && h->upstream_age_ms > max_ms)
		snprintf(why, len, "the upstream failed %llu times in a row, no success for %lld s "
		         "(threshold %d s)", (unsigned long long)h->upstream_fails,
		         (long long)(h->upstream_age_ms / 1000), s->unhealthy_after_s);
}

static int render(const struct cn_metrics_spec *s, char **out, size_t *outlen)
{
	struct cn_health h;
	char why[256];
	FILE *f;

	cn_health_get(&h);
	judge(s, &h, why, sizeof(why));
	if (!(f = open_memstream(out, outlen)))
		return PB_ENOMEM;
	fprintf(f, "# HELP mailroom_%s_build_info The connector's version.\n"
	           "# TYPE mailroom_%s_build_info gauge\nmailroom_%s_build_info{version=\"%s\"} 1\n",
	        s->prog, s->prog, s->prog, PB_VERSION);
	cn_metric(f, s->prog, "uptime_seconds", "gauge", "Seconds since the connector started.",
	          (double)h.uptime_ms / 1000.0);
	cn_metric(f, s->prog, "healthy", "gauge", "1 when /healthz answers 200.", !why[0]);
	cn_metric(f, s->prog, "router_up", "gauge",
	          "1 when the router answered the last request within the threshold.",
	          h.router_fails == 0 && h.router_age_ms <= (int64_t)s->unhealthy_after_s * 1000);
	cn_metric(f, s->prog, "router_answer_age_seconds", "gauge",
	          "Seconds since the router last answered (since the start before the first).",
	          (double)h.router_age_ms / 1000.0);
	cn_metric(f, s->prog, "upstream_failures_total", "counter",
	          "Failed attempts at the upstream (transport errors, 5xx, 429, refusals of our "
	          "signature).", (double)h.upstream_fails_total);
	cn_metric(f, s->prog, "upstream_consecutive_failures", "gauge",
	          "Upstream failures since its last success.", (double)h.upstream_fails);
	cn_metric(f, s->prog, "upstream_success_age_seconds", "gauge",
	          "Seconds since the upstream last succeeded (since the start before the first).",
	          (double)h.upstream_age_ms / 1000.0);
	if (s->render)
		s->render(f, s->arg);
	return fclose(f) == 0 ? PB_OK : PB_ENOMEM;
}

static int healthz(const struct cn_metrics_spec *s, unsigned *status, const char **type,
                   char **body, size_t *len)
{
	struct cn_health h;
	char why[256];
	json_t *j;

	cn_health_get(&h);
	judge(s, &h, why, sizeof(why));
	j = why[0] ? json_pack("{s:s, s:s}", "status", "unhealthy", "reason", why)
	           : json_pack("{s:s}", "status", "ok");
	*body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!*body)
		return PB_ENOMEM;
	*len = strlen(*body);
	*status = why[0] ? 503 : 200;
	*type = "application/json";
	return PB_OK;
}

/* GET path (pb_mon_fn). */
static int route(void *arg, const char *path, unsigned *status, const char **type, char **body,
                 size_t *len)
{
	const struct cn_metrics_spec *s = arg;

	if (strcmp(path, "/healthz") == 0)
		return healthz(s, status, type, body, len);
	if (strcmp(path, "/metrics") != 0) {
		*status = 404;
		return pb_mon_text("not found\n", body, len);
	}
	*status = 200;
	*type = "text/plain; version=0.0.4";
	return render(s, body, len);
}

int cn_metrics_start(const struct cn_metrics_spec *s, struct cn_metrics **out)
{
	struct cn_metrics *m;
	int rc;

	*out = NULL;
	if (!s->addr[0])
		return PB_OK;
	if (!(m = calloc(1, sizeof(*m))))
		return PB_ENOMEM;
	m->s = *s;
	if ((rc = pb_mon_start(s->section, s->addr, s->port, route, &m->s, &m->mon))) {
		free(m);
		return rc;
	}
	*out = m;
	return PB_OK;
}

int cn_metrics_port(const struct cn_metrics *m)
{
	return pb_mon_port(m->mon);
}

void cn_metrics_stop(struct cn_metrics *m)
{
	if (!m)
		return;
	pb_mon_stop(m->mon);
	free(m);
}
