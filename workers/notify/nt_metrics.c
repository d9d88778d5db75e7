/* mailroom-notify's own lines of /metrics, after the common ones
 * (workers/conn/cn_metrics.c). docs/operations.md, "Monitoring", says
 * what each means and when to worry. */
#include "nt.h"
#include "pb_time.h"

struct nt_stats nt_stats;

void nt_metrics_render(FILE *f, void *arg)
{
	int64_t last = atomic_load(&nt_stats.last_send_ms);

	(void)arg;
	cn_metric(f, "notify", "sent_total", "counter",
	          "Notices the relay or provider accepted (or the folder took) since the start.",
	          (double)atomic_load(&nt_stats.sent));
	cn_metric(f, "notify", "failed_total", "counter",
	          "Attempts that failed, to be tried again or refused for good.",
	          (double)atomic_load(&nt_stats.failed));
	cn_metric(f, "notify", "dead_letters_total", "counter",
	          "Notices this process gave up on: dead letters for handlers to follow up.",
	          (double)atomic_load(&nt_stats.dead));
	cn_metric(f, "notify", "outbox_depth", "gauge",
	          "Notices waiting at the router when the last round began.",
	          (double)atomic_load(&nt_stats.outbox_seen));
	cn_metric(f, "notify", "last_send_age_seconds", "gauge",
	          "Seconds since a notice was last sent (-1: none yet).",
	          last > 0 ? (double)(pb_now_ms() - last) / 1000.0 : -1.0);
}
