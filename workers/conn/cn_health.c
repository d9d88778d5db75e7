/* What /healthz judges by: when the router last answered and how the
 * upstream went, noted by any thread without a lock (atomics; a reader may
 * see one note late, never a torn value). The clocks start at
 * cn_health_start, so a connector just started is not judged by a router
 * it has not asked yet. */
#include "cn.h"
#include "pb_time.h"

static atomic_llong started_ms, router_ok_ms, upstream_ok_ms;
static atomic_ullong router_fails, upstream_fails, upstream_fails_total;

void cn_health_start(void)
{
	int64_t now = pb_now_ms();

	atomic_store(&started_ms, now);
	atomic_store(&router_ok_ms, now);
	atomic_store(&upstream_ok_ms, now);
}

void cn_health_router(int answered)
{
	if (answered) {
		atomic_store(&router_ok_ms, pb_now_ms());
		atomic_store(&router_fails, 0);
	} else {
		atomic_fetch_add(&router_fails, 1);
	}
}

void cn_health_upstream(int ok)
{
	if (ok) {
		atomic_store(&upstream_ok_ms, pb_now_ms());
		atomic_store(&upstream_fails, 0);
	} else {
		atomic_fetch_add(&upstream_fails, 1);
		atomic_fetch_add(&upstream_fails_total, 1);
	}
}

void cn_health_get(struct cn_health *h)
{
	int64_t now = pb_now_ms();

	h->uptime_ms = now - atomic_load(&started_ms);
	h->router_age_ms = now - atomic_load(&router_ok_ms);
	h->upstream_age_ms = now - atomic_load(&upstream_ok_ms);
	h->router_fails = atomic_load(&router_fails);
	h->upstream_fails = atomic_load(&upstream_fails);
	h->upstream_fails_total = atomic_load(&upstream_fails_total);
}
