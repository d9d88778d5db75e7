/* A connector's own health and metrics: a small HTTP listener on
 * [hotline] or [notify] metrics_addr:metrics_port (off when the address is
 * empty), answering GET /healthz (JSON, 503 with the reason when the
 * router or the upstream is failing) and GET /metrics (Prometheus text:
 * the common lines here, then the connector's own). It reads only
 * counters, never the router, so a scrape cannot slow the work. */
#include "cn.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_version.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct cn_metrics {
	struct cn_metrics_spec s;
	struct MHD_Daemon *mhd;
};

void cn_metric(FILE *f, const char *prog, const char *name, const char *type, const char *help,
               double value)
{
	fprintf(f, "# HELP mailroom_%s_%s %s\n# TYPE mailroom_%s_%s %s\nmailroom_%s_%s %.15g\n", prog,
	        name, help, prog, name, type, prog, name, value);
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

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *type,
                              void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result healthz(struct cn_metrics *m, struct MHD_Connection *conn)
{
	struct cn_health h;
	char why[256];
	json_t *j;
	char *body;

	cn_health_get(&h);
	judge(&m->s, &h, why, sizeof(why));
	j = why[0] ? json_pack("{s:s, s:s}", "status", "unhealthy", "reason", why)
	           : json_pack("{s:s}", "status", "ok");
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!body)
		return answer(conn, 500, "text/plain", "out of memory\n", 14, MHD_RESPMEM_PERSISTENT);
	return answer(conn, why[0] ? 503 : 200, "application/json", body, strlen(body),
	              MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
	struct cn_metrics *m = cls;
	char *body = NULL;
	size_t len = 0;

	(void)version;
	(void)upload_data;
	(void)req_cls;
	if (*upload_data_size)
		return MHD_NO;   /* no bodies here */
	if (strcmp(method, "GET") != 0)
		return answer(conn, 405, "text/plain", "GET only\n", 9, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/healthz") == 0)
		return healthz(m, conn);
	if (strcmp(url, "/metrics") != 0)
		return answer(conn, 404, "text/plain", "not found\n", 10, MHD_RESPMEM_PERSISTENT);
	if (render(&m->s, &body, &len) != PB_OK) {
		free(body);
		return answer(conn, 500, "text/plain", "out of memory\n", 14, MHD_RESPMEM_PERSISTENT);
	}
	return answer(conn, 200, "text/plain; version=0.0.4", body, len, MHD_RESPMEM_MUST_FREE);
}

int cn_metrics_start(const struct cn_metrics_spec *s, struct cn_metrics **out)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	struct cn_metrics *m;

	*out = NULL;
	if (!s->addr[0])
		return PB_OK;
	if (inet_pton(AF_INET, s->addr, &addr.sin_addr) != 1) {
		pb_error("%s metrics_addr '%s' is not a numeric IPv4 address", s->section, s->addr);
		return PB_EINVAL;
	}
	addr.sin_port = htons((uint16_t)s->port);
	if (!(m = calloc(1, sizeof(*m))))
		return PB_ENOMEM;
	m->s = *s;
	m->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
	                          NULL, on_request, m, MHD_OPTION_SOCK_ADDR, &addr,
	                          MHD_OPTION_CONNECTION_LIMIT, 16u,
	                          MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!m->mhd) {
		pb_error("cannot listen for metrics on %s port %d", s->addr, s->port);
		free(m);
		return PB_EIO;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_BIND_PORT);
	pb_info("metrics on http://%s:%u/metrics", s->addr,
	        info ? (unsigned)info->port : (unsigned)s->port);
	*out = m;
	return PB_OK;
}

void cn_metrics_stop(struct cn_metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->mhd);
	free(m);
}
