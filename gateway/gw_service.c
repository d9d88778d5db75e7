/* The gateway as a service: readiness for systemd, SIGHUP, and the
 * access log.
 *
 * Ready means listening and connected to the router; a router that does
 * not answer within router_timeout_ms still gets READY (the gateway then
 * answers 503 honestly, and systemd must not kill it for that).
 *
 * A reload re-reads the file and refuses one that does not load, or whose
 * 12345 or petition app secrets do not (the running settings stay). It
 * takes access_log, log_level and the apps (swapped as one pointer each,
 * gw_hotline.c); every other setting is read by request threads without
 * a lock and waits for a restart, which the log says.
 *
 * The access log: one info line per request with the method, the route's
 * name (never the path: it may hold a tracking code), the status and the
 * time taken. No address, no header, no body. */
#include "gw.h"
#include "pb_err.h"
#include "pb_log.h"

#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

int64_t gw_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void gw_notify_ready(struct gw *g)
{
	int waited = 0;

	while (!gw_router_connected(&g->router) && waited < g->conf.router_timeout_ms) {
		struct timespec ts = {0, 50 * 1000 * 1000};

		nanosleep(&ts, NULL);
		waited += 50;
	}
	if (!gw_router_connected(&g->router))
		pb_warn("router %s not reached yet: answering 503 until it is", g->conf.router_url);
	sd_notify(0, "READY=1\nSTATUS=listening");
}

void gw_reload(struct gw *g, const char *path)
{
	struct pb_conf *fresh = malloc(sizeof(*fresh)), *kept;
	char err[PB_PATH_MAX + 128];

	pb_info("SIGHUP: re-reading %s", path ? path : "(defaults)");
	if (!fresh || !(kept = malloc(sizeof(*kept)))) {
		free(fresh);
		pb_error("reload refused: out of memory");
		return;
	}
	if (pb_conf_load(path, fresh, err, sizeof(err)) != PB_OK ||
	    pb_log_level_parse(fresh->log_level) < 0) {
		pb_error("reload refused, the running configuration stays: %s",
		         pb_log_level_parse(fresh->log_level) < 0 ? "bad log_level" : err);
		goto out;
	}
	/* The apps first: a file whose secrets do not load changes nothing. */
	if (gw_load_apps(g, fresh, err, sizeof(err)) != PB_OK) {
		pb_error("reload refused, the running configuration stays: %s", err);
		goto out;
	}
	if (fresh->access_log != atomic_load(&g->access_log))
		pb_info("reload: access_log %s", fresh->access_log ? "on" : "off");
	if (strcmp(fresh->log_level, g->conf.log_level) != 0)
		pb_info("reload: log_level %s -> %s", g->conf.log_level, fresh->log_level);
	atomic_store(&g->access_log, fresh->access_log);
	atomic_store(&g->debug_log, pb_log_level_parse(fresh->log_level) == PB_LOG_DEBUG);
	pb_log_init("gateway", pb_log_level_parse(fresh->log_level));
	/* What is left unequal is what only a restart applies. */
	*kept = g->conf;
	kept->access_log = fresh->access_log;
	memcpy(kept->log_level, fresh->log_level, sizeof(kept->log_level));
	kept->nhotline_apps = fresh->nhotline_apps;
	memcpy(kept->hotline_apps, fresh->hotline_apps, sizeof(kept->hotline_apps));
	kept->npetition_apps = fresh->npetition_apps;
	memcpy(kept->petition_apps, fresh->petition_apps, sizeof(kept->petition_apps));
	if (memcmp(kept, fresh, sizeof(*kept)) != 0)
		pb_warn("reload: settings other than access_log, log_level and the 12345 and "
		        "petition apps changed; they take effect at the next restart");
	pb_info("configuration reloaded");
out:
	free(kept);
	free(fresh);
}

int gw_load_apps(struct gw *g, const struct pb_conf *c, char *err, size_t errlen)
{
	struct gw_appset *hotline = NULL, *petition = NULL;
	int rc = gw_hotline_load_apps(&g->hotline, c, &hotline, err, errlen);

	if (rc == PB_OK)
		rc = gw_petition_load_apps(&g->petition, c, &petition, err, errlen);
	if (rc != PB_OK) {
		gw_appset_free(hotline);
		return rc;
	}
	gw_hotline_swap(&g->hotline, hotline, "hotline");
	gw_hotline_swap(&g->petition, petition, "petition");
	return PB_OK;
}

void gw_access_log(const struct gw_req *r)
{
	if (!atomic_load(&r->g->access_log))
		return;
	/* Tenths of a millisecond in integers: a double's printf costs more
	 * than the rest of the line. */
	long long tenths = (gw_mono_us() - r->t0_us + 50) / 100;

	pb_info("access %s %s %u %lld.%lldms", r->method[0] ? r->method : "-",
	        gw_route_name(r->route), r->status, tenths / 10, tenths % 10);
}
