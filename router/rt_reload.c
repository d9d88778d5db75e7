/* SIGHUP: re-read mailroom.ini and the calendars without a restart.
 *
 * rt_main parses and checks the new file on its own thread; a file that
 * does not load, or calendars that do not, are refused and the running
 * configuration stays. An accepted one is handed to the writer thread,
 * which swaps it in between two batches (no transaction open), so every
 * batch sees one configuration and one calendar, the calendar version it
 * records matches the calendar it used, and provisional deadlines are
 * recomputed by the only writer. Requests in flight are not dropped.
 *
 * What a reload takes: routes, default queues, [policy], [disclosure],
 * handlers, the calendars, the log level. Everything else (paths, keys,
 * listen addresses, sizes) is kept as started; a change there is logged
 * as waiting for a restart. Replaced configurations and calendars are
 * kept until exit, since readers on other threads may still hold them. */
#include "rt.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct rt_reload {
	struct rt_reload *older;      /* applied ones, newest first */
	struct pb_conf conf;
	cal_set *cal;
	cal_set *replaced_cal;        /* the calendar this one retired */
	uint8_t cal_version[32];
};

static struct rt_reload *_Atomic pending;
static struct rt_reload *applied;     /* writer thread only, until rt_reload_free */

/* The settings a reload may change; the rest stay as started. */
static void take_reloadable(struct pb_conf *run, const struct pb_conf *f)
{
	memcpy(run->log_level, f->log_level, sizeof(run->log_level));
	memcpy(run->calendars_dir, f->calendars_dir, sizeof(run->calendars_dir));
	memcpy(run->local_calendars_dir, f->local_calendars_dir, sizeof(run->local_calendars_dir));
	memcpy(run->default_queue, f->default_queue, sizeof(run->default_queue));
	run->nroutes = f->nroutes;
	memcpy(run->routes, f->routes, sizeof(run->routes));
	run->policy = f->policy;
	run->disc_correction_notice_days = f->disc_correction_notice_days;
	run->disc_correction_days = f->disc_correction_days;
	run->disc_consult_days = f->disc_consult_days;
	run->disc_fee_days = f->disc_fee_days;
	run->disc_repeat_window_days = f->disc_repeat_window_days;
	run->disc_repeat_permille = f->disc_repeat_permille;
	run->nhandlers = f->nhandlers;
	memcpy(run->handlers, f->handlers, sizeof(run->handlers));
}

static const struct pb_handler *handler_named(const struct pb_conf *c, const char *name)
{
	for (int i = 0; i < c->nhandlers; i++)
		if (strcmp(c->handlers[i].name, name) == 0)
			return &c->handlers[i];
	return NULL;
}

/* One line per kind of change, so the log says what a reload did. */
static void log_changes(const struct pb_conf *o, const struct pb_conf *n, const cal_set *oc,
                        const cal_set *nc)
{
	int same_routes = o->nroutes == n->nroutes &&
	                  memcmp(o->routes, n->routes, sizeof(o->routes[0]) * (size_t)o->nroutes) == 0;

	if (!same_routes)
		pb_info("reload: routes %d -> %d", o->nroutes, n->nroutes);
	if (memcmp(o->default_queue, n->default_queue, sizeof(o->default_queue)) != 0)
		pb_info("reload: default queues changed");
	if (memcmp(&o->policy, &n->policy, sizeof(o->policy)) != 0)
		pb_info("reload: [policy] changed (new clocks only; running clocks keep their due)");
	for (int i = 0; i < n->nhandlers; i++) {
		const struct pb_handler *h = handler_named(o, n->handlers[i].name);

		if (!h)
			pb_info("reload: handler %s added", n->handlers[i].name);
		else if (memcmp(h, &n->handlers[i], sizeof(*h)) != 0)
			pb_info("reload: handler %s changed", n->handlers[i].name);
	}
	for (int i = 0; i < o->nhandlers; i++)
		if (!handler_named(n, o->handlers[i].name))
			pb_info("reload: handler %s removed", o->handlers[i].name);
	if (cal_first_year(oc) != cal_first_year(nc) || cal_last_year(oc) != cal_last_year(nc))
		pb_info("reload: calendars %d-%d -> %d-%d", cal_first_year(oc), cal_last_year(oc),
		        cal_first_year(nc), cal_last_year(nc));
	if (strcmp(o->log_level, n->log_level) != 0)
		pb_info("reload: log_level %s -> %s", o->log_level, n->log_level);
}

int rt_reload_prepare(struct rt_core *core, const char *path)
{
	struct rt_reload *r = calloc(1, sizeof(*r));
	struct pb_conf *fresh = malloc(sizeof(*fresh));
	const struct pb_conf *run = atomic_load(&core->conf);
	char err[2 * PB_PATH_MAX + 128];
	int rc = PB_ENOMEM;

	if (!r || !fresh)
		goto fail;
	if ((rc = pb_conf_load(path, fresh, err, sizeof(err)))) {
		pb_error("reload refused, the running configuration stays: %s", err);
		goto fail;
	}
	if (pb_log_level_parse(fresh->log_level) < 0) {
		pb_error("reload refused, the running configuration stays: log_level %s",
		         fresh->log_level);
		rc = PB_EINVAL;
		goto fail;
	}
	if ((rc = rt_calendars_load(fresh, "reload: ", &r->cal, err, sizeof(err)))) {
		pb_error("reload refused, the running configuration stays: calendars: %s", err);
		goto fail;
	}
	cal_version(r->cal, r->cal_version);
	r->conf = *run;
	take_reloadable(&r->conf, fresh);
	if (memcmp(&r->conf, fresh, sizeof(*fresh)) != 0)
		pb_warn("reload: settings other than routes, queues, policy, disclosure, handlers, "
		        "calendars and log_level changed; they take effect at the next restart");
	log_changes(run, &r->conf, core->cal, r->cal);
	free(fresh);
	/* A second SIGHUP before the writer took the first replaces it. */
	r = atomic_exchange(&pending, r);
	if (r) {
		cal_free(r->cal);
		free(r);
	}
	return PB_OK;
fail:
	if (r)
		cal_free(r->cal);
	free(r);
	free(fresh);
	return rc;
}

int rt_reload_apply(struct rt_core *core)
{
	struct rt_reload *r = atomic_exchange(&pending, NULL);
	int moved = 0, rc;

	if (!r)
		return 0;
	r->replaced_cal = core->cal;
	r->older = applied;
	applied = r;
	atomic_store(&core->conf, &r->conf);
	core->cal = r->cal;
	memcpy(core->cal_version, r->cal_version, sizeof(core->cal_version));
	pb_log_init("router", pb_log_level_parse(r->conf.log_level));
	rt_calendar_check(core, pb_now_ms(), NULL);
	if ((rc = rt_recompute_provisional(core, &moved, NULL)))
		pb_error("reload: cannot recompute provisional deadlines: %s", pb_err_str(rc));
	else if (moved)
		pb_info("reload: the calendars moved or confirmed %d provisional deadline(s)", moved);
	if ((rc = rt_handlers_reload(core)))
		pb_error("reload: handlers not rebuilt: %s", pb_err_str(rc));
	pb_info("configuration reloaded");
	return 1;
}

void rt_reload_free(struct rt_core *core)
{
	struct rt_reload *r = atomic_exchange(&pending, NULL);

	(void)core;
	if (r) {
		cal_free(r->cal);
		free(r);
	}
	while ((r = applied)) {
		applied = r->older;
		cal_free(r->replaced_cal);   /* the current one is core->cal, freed by its owner */
		free(r);
	}
}
