/* mailroom-hotline's own lines of /metrics, after the common ones
 * (workers/conn/cn_metrics.c). docs/operations.md, "Monitoring", says
 * what each means and when to worry. */
#include "hl.h"
#include "pb_time.h"

struct hl_stats hl_stats;

/* Seconds since ms, -1 when it never happened. */
static double age_s(int64_t ms)
{
	return ms > 0 ? (double)(pb_now_ms() - ms) / 1000.0 : -1.0;
}

void hl_metrics_render(FILE *f, void *arg)
{
	(void)arg;
	cn_metric(f, "hotline", "orders_pulled_total", "counter",
	          "Orders pulled from the platform and stored by the router.",
	          (double)atomic_load(&hl_stats.orders_stored));
	cn_metric(f, "hotline", "orders_repeated_total", "counter",
	          "Orders pulled again that the router already held (no second message).",
	          (double)atomic_load(&hl_stats.orders_repeated));
	cn_metric(f, "hotline", "orders_refused_total", "counter",
	          "Orders pulled that the router refused (invalid).",
	          (double)atomic_load(&hl_stats.orders_refused));
	cn_metric(f, "hotline", "cursor_advances_total", "counter",
	          "Times the feed's cursor moved on, committed with the orders before it.",
	          (double)atomic_load(&hl_stats.cursor_moves));
	cn_metric(f, "hotline", "feed_lag_seconds", "gauge",
	          "Seconds since the puller last reached the end of the feed (-1: not yet).",
	          age_s(atomic_load(&hl_stats.caught_up_ms)));
	cn_metric(f, "hotline", "last_pull_age_seconds", "gauge",
	          "Seconds since the last successful pull of a page (-1: none yet).",
	          age_s(atomic_load(&hl_stats.last_pull_ms)));
	cn_metric(f, "hotline", "deliveries_ok_total", "counter",
	          "Result events the platform accepted (repeats of accepted ones included).",
	          (double)atomic_load(&hl_stats.delivered));
	cn_metric(f, "hotline", "deliveries_failed_total", "counter",
	          "Result events the platform refused for good: dead letters.",
	          (double)atomic_load(&hl_stats.dead));
	cn_metric(f, "hotline", "delivery_retries_total", "counter",
	          "Deliveries that failed for now and wait for another try.",
	          (double)atomic_load(&hl_stats.retries));
}
