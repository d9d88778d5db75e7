/* mailroom-hotline's own lines of /metrics, after the common ones
 * (workers/conn/cn_metrics.c). docs/operations.md, "Monitor", says what
 * each means and when to worry. */
#include "hl.h"
#include "pb_time.h"

struct hl_stats hl_stats;

static const struct cn_stat counters[] = {
	{"orders_pulled_total", "counter", "Orders pulled from the platform and stored by the router.",
	 &hl_stats.orders_stored},
	{"orders_repeated_total", "counter",
	 "Orders pulled again that the router already held (no second message).",
	 &hl_stats.orders_repeated},
	{"orders_refused_total", "counter", "Orders pulled that the router refused (invalid).",
	 &hl_stats.orders_refused},
	{"cursor_advances_total", "counter",
	 "Times the feed's cursor moved on, committed with the orders before it.",
	 &hl_stats.cursor_moves},
	{"deliveries_ok_total", "counter",
	 "Result events the platform accepted (repeats of accepted ones included).",
	 &hl_stats.delivered},
	{"deliveries_failed_total", "counter",
	 "Result events the platform refused for good: dead letters.", &hl_stats.dead},
	{"delivery_retries_total", "counter",
	 "Deliveries that failed for now and wait for another try.", &hl_stats.retries},
};

/* Seconds since ms, -1 when it never happened. */
static double age_s(int64_t ms)
{
	return ms > 0 ? (double)(pb_now_ms() - ms) / 1000.0 : -1.0;
}

void hl_metrics_render(FILE *f, void *arg)
{
	(void)arg;
	cn_metric_table(f, "hotline", counters, sizeof(counters) / sizeof(counters[0]));
	cn_metric(f, "hotline", "feed_lag_seconds", "gauge",
	          "Seconds since the puller last reached the end of the feed (-1: not yet).",
	          age_s(atomic_load(&hl_stats.caught_up_ms)));
	cn_metric(f, "hotline", "last_pull_age_seconds", "gauge",
	          "Seconds since the last successful pull of a page (-1: none yet).",
	          age_s(atomic_load(&hl_stats.last_pull_ms)));
}
