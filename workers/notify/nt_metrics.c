/* mailroom-notify's own lines of /metrics, after the common ones
 * (workers/conn/cn_metrics.c). docs/operations.md, "Monitor", says what
 * each means and when to worry. */
#include "nt.h"
#include "pb_time.h"

struct nt_stats nt_stats;

static const struct cn_stat counters[] = {
	{"sent_total", "counter",
	 "Notices the relay or provider accepted (or the folder took) since the start.",
	 &nt_stats.sent},
	{"failed_total", "counter", "Attempts that failed, to be tried again or refused for good.",
	 &nt_stats.failed},
	{"dead_letters_total", "counter",
	 "Notices this process gave up on: dead letters for handlers to follow up.", &nt_stats.dead},
	{"outbox_depth", "gauge", "Notices waiting at the router when the last round began.",
	 &nt_stats.outbox_seen},
};

void nt_metrics_render(FILE *f, void *arg)
{
	int64_t last = atomic_load(&nt_stats.last_send_ms);

	(void)arg;
	cn_metric_table(f, "notify", counters, sizeof(counters) / sizeof(counters[0]));
	cn_metric(f, "notify", "last_send_age_seconds", "gauge",
	          "Seconds since a notice was last sent (-1: none yet).",
	          last > 0 ? (double)(pb_now_ms() - last) / 1000.0 : -1.0);
}
