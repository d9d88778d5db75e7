#include "pb_conf.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"
#include "pb_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *channel_names[PB_CH_COUNT] = {
	"", "mailbox", "consultation", "complaint", "hotline", "disclosure", "petition",
};

int pb_channel_parse(const char *s)
{
	for (int i = 1; i < PB_CH_COUNT; i++)
		if (strcmp(s, channel_names[i]) == 0)
			return i;
	return 0;
}

const char *pb_channel_name(int channel)
{
	if (channel <= 0 || channel >= PB_CH_COUNT)
		return "unknown";
	return channel_names[channel];
}

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src);
}

void pb_conf_defaults(struct pb_conf *c)
{
	memset(c, 0, sizeof(*c));
	copy(c->log_level, sizeof(c->log_level), "info");
	copy(c->store_path, sizeof(c->store_path), "./var/store");
	c->map_size_mb = 4096;
	copy(c->keys_dir, sizeof(c->keys_dir), "./var/keys");
	copy(c->signing_key, sizeof(c->signing_key), "./var/keys/store.key");
	copy(c->data_key, sizeof(c->data_key), "./var/keys/data.key");
	copy(c->log_origin, sizeof(c->log_origin), "mailroom.local/log");
	copy(c->router_url, sizeof(c->router_url), "ipc://./var/router.ipc");
	copy(c->events_url, sizeof(c->events_url), "ipc://./var/events.ipc");
	c->commit_window_us = 2000;
	c->witness_push_interval_ms = 1000;
	c->commit_max_batch = 512;
	c->router_contexts = 256;
	c->lease_seconds = 300;
	c->request_skew_seconds = 60;
	c->max_wait_ms = 60000;
	c->handler_max_requests = 16;
	c->router_metrics_port = 9101;
	copy(c->gateway_secret, sizeof(c->gateway_secret), "./var/keys/gateway.secret");
	copy(c->calendars_dir, sizeof(c->calendars_dir), "./deploy/calendars");
	copy(c->local_calendars_dir, sizeof(c->local_calendars_dir), "./var/calendars");
	copy(c->http_addr, sizeof(c->http_addr), "127.0.0.1");
	c->http_port = 8080;
	c->console_port = 8081;
	c->attach_max_files = 5;
	c->attach_max_bytes = 10u << 20;
	copy(c->clamd_addr, sizeof(c->clamd_addr), "unix:/run/clamav/clamd.ctl");
	c->scan_interval_ms = 5000;
	c->scan_timeout_ms = 30000;
	c->http_threads = 2;
	c->http_max_conns = 1024;
	c->http_max_per_ip = 128;
	c->http_timeout_s = 10;
	c->http_body_max = 64 * 1024;
	c->router_timeout_ms = 10000;
	c->router_lanes = 2;   /* one envelope at the router, the next gathering */
	c->router_resolve_ms = 30000;
	c->router_batch = 64;
	c->submit_per_minute = 0;
	c->lookup_per_minute = 0;
	c->header_timeout_s = 5;
	c->body_min_rate = 1024;
	c->body_grace_s = 5;
	c->reserve_connections = 64;
	c->health_stall_ms = 5000;
	c->access_log = 1;
	copy(c->office_name, sizeof(c->office_name), "本机关政务信箱");
	c->hotline_skew_seconds = 300;
	copy(c->hotline_app_secret_file, sizeof(c->hotline_app_secret_file),
	     "./var/keys/hotline-platform.secret");
	copy(c->hotline_unit, sizeof(c->hotline_unit), "");
	c->hotline_pull = 1;
	c->hotline_poll_interval_ms = 5000;
	c->hotline_page_limit = 50;
	c->hotline_connect_timeout_ms = 3000;
	c->hotline_timeout_ms = 10000;
	c->hotline_backoff_max_ms = 60000;
	c->hotline_deliver_batch = 64;
	c->hotline_metrics_port = 9102;
	c->hotline_unhealthy_after_s = 120;
	c->hotline_unhealthy_failures = 5;
	copy(c->notify_mode, sizeof(c->notify_mode), "folder");
	copy(c->notify_folder, sizeof(c->notify_folder), "./var/notices");
	copy(c->notify_templates, sizeof(c->notify_templates), "./deploy/notices");
	copy(c->notify_key_file, sizeof(c->notify_key_file), "./var/keys/notify.key");
	copy(c->notify_state_dir, sizeof(c->notify_state_dir), "./var/notify");
	c->notify_poll_interval_ms = 2000;
	c->notify_max_attempts = 8;
	c->notify_backoff_max_ms = 300000;
	c->notify_timeout_ms = 15000;
	c->notify_metrics_port = 9103;
	c->notify_unhealthy_after_s = 300;
	c->notify_unhealthy_failures = 5;
	c->smtp_require_tls = 1;
	copy(c->sms_url, sizeof(c->sms_url), "https://sms.tencentcloudapi.com/");
	copy(c->sms_region, sizeof(c->sms_region), "ap-guangzhou");
	/* deadlines.md section 3; the applicant's and the fee's spans are the
	 * office's choice (信息处理费管理办法: 20 working days to pay). */
	c->disc_correction_notice_days = 7;
	c->disc_correction_days = 15;
	c->disc_consult_days = 15;
	c->disc_fee_days = 20;
	c->disc_repeat_window_days = 365;
	c->disc_repeat_permille = 500;
	c->assist_days = 5;
	c->repeat_window_days[PB_CH_MAILBOX] = 30;
	c->repeat_window_days[PB_CH_CONSULTATION] = 30;
	c->repeat_window_days[PB_CH_COMPLAINT] = 30;
	c->repeat_permille = 500;
	copy(c->callback_queue, PB_NAME_MAX, "callback");
	c->callback_days = 15;
	c->rating_invite_days = 3;
	c->veto_days = 60;
	c->veto_days_2 = 80;
	for (int i = 1; i < PB_CH_COUNT; i++)
		copy(c->default_queue[i], PB_NAME_MAX, "general");
	copy(c->default_queue[PB_CH_HOTLINE], PB_NAME_MAX, "hotline");
	copy(c->default_queue[PB_CH_DISCLOSURE], PB_NAME_MAX, "disclosure");

	/* deadlines.md section 6 */
	struct pb_policy *p = &c->policy;
	for (int i = 1; i < PB_CH_COUNT; i++)
		p->ack[i].working_days = 1;
	p->reply[PB_CH_MAILBOX].working_days = 15;
	p->reply[PB_CH_CONSULTATION].working_days = 5;
	p->reply[PB_CH_COMPLAINT].working_days = 15;
	p->reply[PB_CH_HOTLINE].working_days = 5;
	p->reply[PB_CH_DISCLOSURE].working_days = 20;
	p->ack[PB_CH_DISCLOSURE].working_days = 0;
	/* 信访工作条例 counts calendar days: 15 to notify, 60 to handle. */
	p->ack[PB_CH_PETITION].working_days = 0;
	p->ack[PB_CH_PETITION].days = 15;
	p->reply[PB_CH_PETITION].days = 60;
	p->petition_review.days = 30;
	p->hotline_consult_reply.working_days = 3;
	p->hotline_urgent_ack.hours = 2;
	p->hotline_urgent_reply.hours = 24;
	/* Art. 33's rule for disclosure, used as the default everywhere. */
	for (int i = 1; i < PB_CH_COUNT; i++) {
		p->extend_max[i] = 20;
		p->extend_times[i] = 1;
	}
	p->extend_max[PB_CH_PETITION] = 30;   /* calendar days */
}

struct parse_ctx {
	struct pb_conf *c;
	FILE *f;
	int line;          /* lines read so far: inih here has no line numbers */
	const char *path;
	char *err;
	size_t errlen;
	int failed;
};

static int fail(struct parse_ctx *x, int line, const char *fmt, const char *a)
{
	char msg[256];

	if (!x->failed) {
		snprintf(msg, sizeof(msg), fmt, a);
		snprintf(x->err, x->errlen, "%s:%d: %s", x->path, line, msg);
	}
	x->failed = 1;
	return 0;
}

static int parse_int(const char *v, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);

	if (errno || end == v || *end != '\0' || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

/* Splits a comma list into fixed slots, trimming spaces. */
static int split_list(const char *v, char (*slots)[PB_NAME_MAX], int max)
{
	int n = 0;
	const char *p = v;

	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *e = p;
		while (*e && *e != ',')
			e++;
		const char *t = e;
		while (t > p && t[-1] == ' ')
			t--;
		if (n == max || (size_t)(t - p) >= PB_NAME_MAX)
			return -1;
		memcpy(slots[n], p, (size_t)(t - p));
		slots[n][t - p] = '\0';
		n++;
		p = e;
	}
	return n;
}

static int valid_name(const char *s)
{
	if (!*s || strlen(s) >= PB_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return 0;
	return 1;
}

/* A clock: "15" or "15wd" = working days; "24h" = calendar hours; "60d" =
 * calendar days. */
static int parse_clock(const char *v, struct pb_clock *k)
{
	long n;
	size_t len = strlen(v);
	char num[32];

	if (len == 0 || len >= sizeof(num))
		return -1;
	memset(k, 0, sizeof(*k));
	if (v[len - 1] == 'h') {
		memcpy(num, v, len - 1);
		num[len - 1] = '\0';
		if (parse_int(num, 1, 24 * 366, &n))
			return -1;
		k->hours = (int)n;
		return 0;
	}
	if (v[len - 1] == 'd' && (len < 2 || v[len - 2] != 'w')) {
		memcpy(num, v, len - 1);
		num[len - 1] = '\0';
		if (parse_int(num, 1, 366, &n))
			return -1;
		k->days = (int)n;
		return 0;
	}
	if (len > 2 && strcmp(v + len - 2, "wd") == 0)
		len -= 2;
	memcpy(num, v, len);
	num[len] = '\0';
	if (parse_int(num, 0, 366, &n))
		return -1;
	k->working_days = (int)n;
	return 0;
}

static int on_policy(struct parse_ctx *x, int line, const char *name, const char *value)
{
	struct pb_policy *p = &x->c->policy;
	struct pb_clock *k = NULL;
	char ch[PB_NAME_MAX];
	const char *dot = strrchr(name, '.');

	if (dot && (strcmp(dot, ".extend_max") == 0 || strcmp(dot, ".extend_times") == 0) &&
	    (size_t)(dot - name) < sizeof(ch)) {
		long n;
		memcpy(ch, name, (size_t)(dot - name));
		ch[dot - name] = '\0';
		int c = pb_channel_parse(ch);
		if (!c)
			return fail(x, line, "unknown channel in '%s'", name);
		if (parse_int(value, 0, 366, &n))
			return fail(x, line, "bad number '%s'", value);
		if (dot[8] == 'm')
			p->extend_max[c] = (int)n;
		else
			p->extend_times[c] = (int)n;
		return 1;
	}
	if (strcmp(name, "hotline.consultation.reply") == 0)
		k = &p->hotline_consult_reply;
	else if (strcmp(name, "hotline.urgent.ack") == 0)
		k = &p->hotline_urgent_ack;
	else if (strcmp(name, "hotline.urgent.reply") == 0)
		k = &p->hotline_urgent_reply;
	else if (strcmp(name, "petition.review") == 0)
		k = &p->petition_review;
	else if (dot && (size_t)(dot - name) < sizeof(ch)) {
		memcpy(ch, name, (size_t)(dot - name));
		ch[dot - name] = '\0';
		int c = pb_channel_parse(ch);
		if (c && strcmp(dot, ".ack") == 0)
			k = &p->ack[c];
		else if (c && strcmp(dot, ".reply") == 0)
			k = &p->reply[c];
	}
	if (!k)
		return fail(x, line, "unknown policy key '%s'", name);
	if (parse_clock(value, k))
		return fail(x, line, "bad clock '%s' (use N, Nwd, Nd or Nh)", value);
	return 1;
}

static int on_handler(struct parse_ctx *x, int line, const char *hname, const char *name,
                      const char *value)
{
	struct pb_conf *c = x->c;
	struct pb_handler *h = NULL;

	if (!valid_name(hname))
		return fail(x, line, "bad handler name '%s'", hname);
	for (int i = 0; i < c->nhandlers; i++)
		if (strcmp(c->handlers[i].name, hname) == 0)
			h = &c->handlers[i];
	if (!h) {
		if (c->nhandlers == PB_MAX_HANDLERS)
			return fail(x, line, "too many handlers at '%s'", hname);
		h = &c->handlers[c->nhandlers++];
		copy(h->name, sizeof(h->name), hname);
	}
	if (strcmp(name, "key") == 0) {
		if (pb_unhex(value, h->pubkey, 32))
			return fail(x, line, "handler key must be 64 hex digits: '%s'", value);
	} else if (strcmp(name, "queues") == 0) {
		int n = split_list(value, h->queues, PB_MAX_QUEUES);
		if (n < 0)
			return fail(x, line, "bad queue list '%s'", value);
		for (int i = 0; i < n; i++)
			if (!valid_name(h->queues[i]))
				return fail(x, line, "bad queue name in '%s'", value);
		h->nqueues = n;
	} else if (strcmp(name, "import") == 0) {
		if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
			return fail(x, line, "import must be yes or no: '%s'", value);
		h->may_import = strcmp(value, "yes") == 0;
	} else if (strcmp(name, "admin") == 0 || strcmp(name, "supervise") == 0) {
		if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
			return fail(x, line, "admin and supervise must be yes or no: '%s'", value);
		*(name[0] == 'a' ? &h->may_admin : &h->may_supervise) = strcmp(value, "yes") == 0;
	} else {
		return fail(x, line, "unknown handler key '%s'", name);
	}
	return 1;
}

static int on_connector(struct parse_ctx *x, int line, const char *cname, const char *name,
                        const char *value)
{
	struct pb_conf *c = x->c;
	struct pb_connector *k = NULL;

	if (!valid_name(cname))
		return fail(x, line, "bad connector name '%s'", cname);
	if (strcmp(name, "key") != 0 && strcmp(name, "role") != 0)
		return fail(x, line, "unknown connector key '%s'", name);
	for (int i = 0; i < c->nconnectors; i++)
		if (strcmp(c->connectors[i].name, cname) == 0)
			k = &c->connectors[i];
	if (!k) {
		if (c->nconnectors == PB_MAX_CONNECTORS)
			return fail(x, line, "too many connectors at '%s'", cname);
		k = &c->connectors[c->nconnectors++];
		copy(k->name, sizeof(k->name), cname);
	}
	/* role = notify: mailroom-notify's key, which may read notices and
	 * nothing of the 12345 connector's; hotline (the default) the reverse. */
	if (strcmp(name, "role") == 0) {
		if (strcmp(value, "notify") != 0 && strcmp(value, "hotline") != 0)
			return fail(x, line, "connector role must be hotline or notify: '%s'", value);
		k->notify = strcmp(value, "notify") == 0;
		return 1;
	}
	if (pb_unhex(value, k->pubkey, 32))
		return fail(x, line, "connector key must be 64 hex digits: '%s'", value);
	return 1;
}

static int on_witness(struct parse_ctx *x, int line, const char *wname, const char *name,
                      const char *value)
{
	struct pb_conf *c = x->c;
	struct pb_witness *w = NULL;
	char *field;
	size_t cap;

	if (!valid_name(wname))
		return fail(x, line, "bad witness name '%s'", wname);
	if (strcmp(name, "url") == 0) {
		if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0)
			return fail(x, line, "witness url must be http:// or https://: '%s'", value);
	} else if (strcmp(name, "key") != 0) {
		return fail(x, line, "unknown witness key '%s'", name);
	}
	for (int i = 0; i < c->nwitnesses; i++)
		if (strcmp(c->witnesses[i].name, wname) == 0)
			w = &c->witnesses[i];
	if (!w) {
		if (c->nwitnesses == PB_MAX_WITNESSES)
			return fail(x, line, "too many witnesses at '%s'", wname);
		w = &c->witnesses[c->nwitnesses++];
		copy(w->name, sizeof(w->name), wname);
	}
	field = name[0] == 'u' ? w->url : w->key;
	cap = name[0] == 'u' ? sizeof(w->url) : sizeof(w->key);
	if (strlen(value) >= cap)
		return fail(x, line, "witness %s too long", name);
	copy(field, cap, value);
	return 1;
}

static int on_route(struct parse_ctx *x, int line, const char *rname, const char *name,
                    const char *value)
{
	struct pb_conf *c = x->c;
	struct pb_route *r = NULL;

	for (int i = 0; i < c->nroutes; i++)
		if (strcmp(c->routes[i].name, rname) == 0)
			r = &c->routes[i];
	if (!r) {
		if (c->nroutes == PB_MAX_ROUTES)
			return fail(x, line, "too many routes at '%s'", rname);
		r = &c->routes[c->nroutes++];
		copy(r->name, sizeof(r->name), rname);
	}
	if (strcmp(name, "channel") == 0) {
		if (!(r->channel = pb_channel_parse(value)))
			return fail(x, line, "unknown channel '%s'", value);
	} else if (strcmp(name, "category") == 0) {
		copy(r->category, sizeof(r->category), value);
	} else if (strcmp(name, "keywords") == 0) {
		int n = split_list(value, r->keywords, PB_MAX_KEYWORDS);
		if (n < 0)
			return fail(x, line, "bad keyword list '%s'", value);
		r->nkeywords = n;
	} else if (strcmp(name, "queue") == 0) {
		if (!valid_name(value))
			return fail(x, line, "bad queue name '%s'", value);
		copy(r->queue, sizeof(r->queue), value);
	} else {
		return fail(x, line, "unknown route key '%s'", name);
	}
	return 1;
}

struct kv_str {
	const char *section, *name;
	size_t off, size;
};

#define S(sec, key, field) {sec, key, offsetof(struct pb_conf, field), sizeof(((struct pb_conf *)0)->field)}
static const struct kv_str str_keys[] = {
	S("general", "log_level", log_level),
	S("store", "path", store_path),
	S("store", "keys_dir", keys_dir),
	S("store", "signing_key", signing_key),
	S("store", "previous_signing_key", previous_signing_key),
	S("store", "data_key", data_key),
	S("store", "log_origin", log_origin),
	S("router", "listen", router_url),
	S("router", "events", events_url),
	S("router", "gateway_secret", gateway_secret),
	S("router", "calendars", calendars_dir),
	S("router", "local_calendars", local_calendars_dir),
	S("router", "search_index", search_index),
	S("router", "metrics_addr", router_metrics_addr),
	S("gateway", "listen_addr", http_addr),
	S("gateway", "public_base_url", public_base_url),
	S("gateway", "cors_origins", cors_origins),
	S("gateway", "trusted_proxies", trusted_proxies),
	S("gateway", "tls_cert_file", https_cert_file),
	S("gateway", "tls_key_file", https_key_file),
	S("tls", "cert_file", tls_cert_file),
	S("tls", "key_file", tls_key_file),
	S("tls", "ca_file", tls_ca_file),
	S("tls", "server_name", tls_server_name),
	S("office", "name", office_name),
	S("console", "listen_addr", console_addr),
	S("attachments", "clamd", clamd_addr),
	S("hotline", "platform_url", hotline_platform_url),
	S("hotline", "app_id", hotline_app_id),
	S("hotline", "app_secret_file", hotline_app_secret_file),
	S("hotline", "key_file", hotline_key_file),
	S("route", "dispatcher", dispatcher_queue),
	S("rating", "callback_queue", callback_queue),
	S("hotline", "unit", hotline_unit),
	S("hotline", "metrics_addr", hotline_metrics_addr),
	S("notify", "mode", notify_mode),
	S("notify", "folder", notify_folder),
	S("notify", "templates", notify_templates),
	S("notify", "key_file", notify_key_file),
	S("notify", "state_dir", notify_state_dir),
	S("notify", "metrics_addr", notify_metrics_addr),
	S("notify.smtp", "url", smtp_url),
	S("notify.smtp", "from", smtp_from),
	S("notify.smtp", "user", smtp_user),
	S("notify.smtp", "password_file", smtp_password_file),
	S("notify.smtp", "ca_file", smtp_ca_file),
	S("notify.sms", "provider", sms_provider),
	S("notify.sms", "url", sms_url),
	S("notify.sms", "secret_id", sms_secret_id),
	S("notify.sms", "secret_key_file", sms_secret_key_file),
	S("notify.sms", "app_id", sms_app_id),
	S("notify.sms", "sign_name", sms_sign_name),
	S("notify.sms", "region", sms_region),
};
#undef S

struct kv_int {
	const char *section, *name;
	long lo, hi;
	size_t off;
	int is_size;
};

#define I(sec, key, lo, hi, field) {sec, key, lo, hi, offsetof(struct pb_conf, field), 0}
#define Z(sec, key, lo, hi, field) {sec, key, lo, hi, offsetof(struct pb_conf, field), 1}
static const struct kv_int int_keys[] = {
	Z("store", "map_size_mb", 1, 1L << 22, map_size_mb),
	I("router", "commit_window_us", 0, 100000, commit_window_us),
	I("witness", "push_interval_ms", 100, 3600000, witness_push_interval_ms),
	I("router", "commit_max_batch", 1, 65536, commit_max_batch),
	I("router", "contexts", 4, 16384, router_contexts),
	I("router", "lease_seconds", 5, 86400, lease_seconds),
	I("router", "request_skew_seconds", 5, 3600, request_skew_seconds),
	I("router", "max_wait_ms", 0, 3600000, max_wait_ms),
	I("router", "handler_max_requests", 1, 4096, handler_max_requests),
	I("router", "metrics_port", 0, 65535, router_metrics_port),
	I("gateway", "port", 0, 65535, http_port),
	I("gateway", "threads", 1, 256, http_threads),
	I("console", "port", 0, 65535, console_port),
	I("attachments", "max_files", 0, 64, attach_max_files),
	Z("attachments", "max_bytes", 1024, 64 << 20, attach_max_bytes),
	I("attachments", "scan_interval_ms", 10, 3600000, scan_interval_ms),
	I("attachments", "scan_timeout_ms", 100, 600000, scan_timeout_ms),
	I("gateway", "max_connections", 1, 1000000, http_max_conns),
	I("gateway", "max_per_ip", 1, 1000000, http_max_per_ip),
	I("gateway", "connection_timeout_s", 1, 3600, http_timeout_s),
	Z("gateway", "body_max", 1024, 16 << 20, http_body_max),
	I("gateway", "router_timeout_ms", 100, 600000, router_timeout_ms),
	I("gateway", "router_lanes", 1, 64, router_lanes),
	I("gateway", "router_resolve_ms", 0, 3600000, router_resolve_ms),
	I("gateway", "router_batch", 1, 1024, router_batch),
	I("gateway", "submit_per_minute", 0, 1000000, submit_per_minute),
	I("gateway", "lookup_per_minute", 0, 1000000, lookup_per_minute),
	I("gateway", "header_timeout_s", 1, 3600, header_timeout_s),
	I("gateway", "body_min_rate", 1, 1 << 30, body_min_rate),
	I("gateway", "body_grace_s", 1, 3600, body_grace_s),
	I("gateway", "reserve_connections", 0, 1000000, reserve_connections),
	I("gateway", "health_stall_ms", 100, 3600000, health_stall_ms),
	I("hotline", "skew_seconds", 5, 3600, hotline_skew_seconds),
	I("hotline", "pull", 0, 1, hotline_pull),
	I("hotline", "poll_interval_ms", 10, 3600000, hotline_poll_interval_ms),
	I("hotline", "page_limit", 1, 100, hotline_page_limit),
	I("hotline", "connect_timeout_ms", 100, 600000, hotline_connect_timeout_ms),
	I("hotline", "timeout_ms", 100, 600000, hotline_timeout_ms),
	I("hotline", "backoff_max_ms", 100, 3600000, hotline_backoff_max_ms),
	I("hotline", "deliver_batch", 1, 1000, hotline_deliver_batch),
	I("hotline", "metrics_port", 0, 65535, hotline_metrics_port),
	I("hotline", "unhealthy_after_s", 1, 86400, hotline_unhealthy_after_s),
	I("hotline", "unhealthy_failures", 1, 1000000, hotline_unhealthy_failures),
	I("disclosure", "correction_notice_days", 1, 7, disc_correction_notice_days),
	I("disclosure", "correction_days", 1, 120, disc_correction_days),
	I("disclosure", "consult_days", 1, 120, disc_consult_days),
	I("disclosure", "fee_days", 1, 120, disc_fee_days),
	I("disclosure", "repeat_window_days", 0, 3660, disc_repeat_window_days),
	I("disclosure", "repeat_permille", 1, 1000, disc_repeat_permille),
	I("assist", "days", 1, 60, assist_days),
	I("repeats", "mailbox_window_days", 0, 3660, repeat_window_days[PB_CH_MAILBOX]),
	I("repeats", "consultation_window_days", 0, 3660, repeat_window_days[PB_CH_CONSULTATION]),
	I("repeats", "complaint_window_days", 0, 3660, repeat_window_days[PB_CH_COMPLAINT]),
	I("repeats", "permille", 1, 1000, repeat_permille),
	I("notify", "poll_interval_ms", 10, 3600000, notify_poll_interval_ms),
	I("notify", "max_attempts", 1, 1000, notify_max_attempts),
	I("notify", "backoff_max_ms", 10, 86400000, notify_backoff_max_ms),
	I("notify", "timeout_ms", 100, 600000, notify_timeout_ms),
	I("notify", "metrics_port", 0, 65535, notify_metrics_port),
	I("notify", "unhealthy_after_s", 1, 86400, notify_unhealthy_after_s),
	I("notify", "unhealthy_failures", 1, 1000000, notify_unhealthy_failures),
	I("rating", "callback_days", 1, 60, callback_days),
	I("rating", "invite_after_days", 1, 60, rating_invite_days),
	I("rating", "veto_days", 1, 3650, veto_days),
	I("rating", "veto_days_2", 1, 3650, veto_days_2),
};
#undef I
#undef Z

/* yes | no */
struct kv_bool {
	const char *section, *name;
	size_t off;
};
static const struct kv_bool bool_keys[] = {
	{"gateway", "access_log", offsetof(struct pb_conf, access_log)},
	{"notify.smtp", "require_tls", offsetof(struct pb_conf, smtp_require_tls)},
};

static char *read_line(char *buf, int size, void *stream)
{
	struct parse_ctx *x = stream;
	char *r = fgets(buf, size, x->f);

	if (r)
		x->line++;
	return r;
}

static int on_kv(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *x = user;
	struct pb_conf *c = x->c;
	int line = x->line;

	if (x->failed)
		return 0;
	for (size_t i = 0; i < sizeof(str_keys) / sizeof(str_keys[0]); i++) {
		const struct kv_str *k = &str_keys[i];
		if (strcmp(section, k->section) == 0 && strcmp(name, k->name) == 0) {
			if (strlen(value) >= k->size)
				return fail(x, line, "value too long for '%s'", name);
			copy((char *)c + k->off, k->size, value);
			return 1;
		}
	}
	for (size_t i = 0; i < sizeof(bool_keys) / sizeof(bool_keys[0]); i++) {
		const struct kv_bool *k = &bool_keys[i];
		if (strcmp(section, k->section) == 0 && strcmp(name, k->name) == 0) {
			if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
				return fail(x, line, "'%s' must be yes or no", name);
			*(int *)((char *)c + k->off) = strcmp(value, "yes") == 0;
			return 1;
		}
	}
	for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++) {
		const struct kv_int *k = &int_keys[i];
		long n;
		if (strcmp(section, k->section) == 0 && strcmp(name, k->name) == 0) {
			if (parse_int(value, k->lo, k->hi, &n))
				return fail(x, line, "out-of-range number for '%s'", name);
			if (k->is_size)
				*(size_t *)((char *)c + k->off) = (size_t)n;
			else
				*(int *)((char *)c + k->off) = (int)n;
			return 1;
		}
	}
	if (strcmp(section, "queues") == 0) {
		int ch = pb_channel_parse(name);
		if (!ch)
			return fail(x, line, "unknown channel '%s' in [queues]", name);
		if (!valid_name(value))
			return fail(x, line, "bad queue name '%s'", value);
		copy(c->default_queue[ch], PB_NAME_MAX, value);
		return 1;
	}
	if (strcmp(section, "policy") == 0)
		return on_policy(x, line, name, value);
	if (strcmp(section, "office") == 0 && strncmp(name, "department.", 11) == 0) {
		struct pb_department *d;
		if (!valid_name(name + 11) || c->ndepartments == PB_MAX_QUEUES)
			return fail(x, line, "bad queue name or too many departments at '%s'", name);
		if (strlen(value) >= sizeof(d->name) || !*value)
			return fail(x, line, "department name empty or too long at '%s'", name);
		d = &c->departments[c->ndepartments++];
		copy(d->queue, sizeof(d->queue), name + 11);
		copy(d->name, sizeof(d->name), value);
		return 1;
	}
	if (strncmp(section, "handler.", 8) == 0)
		return on_handler(x, line, section + 8, name, value);
	if (strncmp(section, "route.", 6) == 0)
		return on_route(x, line, section + 6, name, value);
	if (strncmp(section, "connector.", 10) == 0)
		return on_connector(x, line, section + 10, name, value);
	if (strncmp(section, "witness.", 8) == 0)
		return on_witness(x, line, section + 8, name, value);
	if ((strncmp(section, "hotline.app.", 12) == 0 || strncmp(section, "petition.app.", 13) == 0) &&
	    strcmp(name, "secret_file") == 0) {
		/* The 12345 platform's apps and the petition system's: same shape. */
		int pet = section[0] == 'p';
		const char *id = section + (pet ? 13 : 12);
		struct pb_hotline_app *apps = pet ? c->petition_apps : c->hotline_apps, *a = NULL;
		int *napps = pet ? &c->npetition_apps : &c->nhotline_apps;
		for (int i = 0; i < *napps; i++)
			if (strcmp(apps[i].app_id, id) == 0)
				a = &apps[i];
		if (!a) {
			if (*napps == PB_MAX_HOTLINE_APPS || strlen(id) >= PB_NAME_MAX || !*id)
				return fail(x, line, pet ? "bad or too many petition apps at '%s'"
				                         : "bad or too many hotline apps at '%s'", id);
			a = &apps[(*napps)++];
			copy(a->app_id, sizeof(a->app_id), id);
		}
		if (strlen(value) >= sizeof(a->secret_file))
			return fail(x, line, "path too long: '%s'", value);
		copy(a->secret_file, sizeof(a->secret_file), value);
		return 1;
	}
	return fail(x, line, "unknown setting '%s'", name);
}

int pb_conf_load(const char *path, struct pb_conf *c, char *err, size_t errlen)
{
	struct parse_ctx x = {c, NULL, 0, path, err, errlen, 0};

	pb_conf_defaults(c);
	if (!path)
		return PB_OK;
	x.f = fopen(path, "re");
	if (!x.f) {
		snprintf(err, errlen, "%s: cannot open", path);
		return PB_EIO;
	}
	int rc = ini_parse_stream(read_line, &x, on_kv, &x);
	fclose(x.f);
	if (x.failed)
		return PB_EINVAL;
	if (rc != 0) {
		snprintf(err, errlen, "%s:%d: syntax error", path, rc);
		return PB_EINVAL;
	}
	if (pb_log_level_parse(c->log_level) < 0) {
		snprintf(err, errlen, "%s: unknown log_level '%s'", path, c->log_level);
		return PB_EINVAL;
	}
	for (int i = 0; i < c->nroutes; i++)
		if (!c->routes[i].queue[0]) {
			snprintf(err, errlen, "%s: route '%s' has no queue", path, c->routes[i].name);
			return PB_EINVAL;
		}
	for (int i = 0; i < c->nhandlers; i++) {
		static const uint8_t zero[32];
		if (memcmp(c->handlers[i].pubkey, zero, 32) == 0) {
			snprintf(err, errlen, "%s: handler '%s' has no key", path, c->handlers[i].name);
			return PB_EINVAL;
		}
	}
	for (int i = 0; i < c->nwitnesses; i++)
		if (!c->witnesses[i].url[0] || !c->witnesses[i].key[0]) {
			snprintf(err, errlen, "%s: witness '%s' needs both url and key", path,
			         c->witnesses[i].name);
			return PB_EINVAL;
		}
	if (!c->https_cert_file[0] != !c->https_key_file[0]) {
		snprintf(err, errlen, "%s: [gateway] tls_cert_file and tls_key_file go together", path);
		return PB_EINVAL;
	}
	pb_tls_configure(c);
	return PB_OK;
}

const char *pb_conf_department(const struct pb_conf *c, const char *q)
{
	for (int i = c->ndepartments - 1; i >= 0; i--)   /* the last setting wins */
		if (strcmp(c->departments[i].queue, q) == 0)
			return c->departments[i].name;
	return q;
}

int pb_conf_queue_known(const struct pb_conf *c, const char *q)
{
	for (int i = 1; i < PB_CH_COUNT; i++)
		if (strcmp(c->default_queue[i], q) == 0)
			return 1;
	for (int i = 0; i < c->nroutes; i++)
		if (strcmp(c->routes[i].queue, q) == 0)
			return 1;
	for (int i = 0; i < c->nhandlers; i++)
		if (pb_handler_may(&c->handlers[i], q))
			return 1;
	return 0;
}

const struct pb_handler *pb_conf_handler_by_key(const struct pb_conf *c, const uint8_t pubkey[32])
{
	for (int i = 0; i < c->nhandlers; i++)
		if (memcmp(c->handlers[i].pubkey, pubkey, 32) == 0)
			return &c->handlers[i];
	return NULL;
}

const struct pb_connector *pb_conf_connector_by_key(const struct pb_conf *c,
                                                    const uint8_t pubkey[32])
{
	for (int i = 0; i < c->nconnectors; i++)
		if (memcmp(c->connectors[i].pubkey, pubkey, 32) == 0)
			return &c->connectors[i];
	return NULL;
}

int pb_handler_may(const struct pb_handler *h, const char *queue)
{
	for (int i = 0; i < h->nqueues; i++)
		if (strcmp(h->queues[i], queue) == 0)
			return 1;
	return 0;
}

/* Reads all of fd (at most max bytes) and closes it. */
static int read_all(int fd, uint8_t *buf, size_t max, size_t *len)
{
	size_t got = 0;

	for (;;) {
		if (got == max) {
			char extra;
			ssize_t r = read(fd, &extra, 1);
			close(fd);
			return r == 0 ? (*len = got, PB_OK) : PB_ETOOBIG;
		}
		ssize_t r = read(fd, buf + got, max - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return PB_EIO;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return PB_OK;
}

int pb_read_file(const char *path, uint8_t *buf, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? PB_ENOTFOUND : PB_EIO;
	return read_all(fd, buf, max, len);
}

/* A secret that group or others may read is as good as published: refuse
 * it loudly rather than run with it. The mode is checked on the open file
 * so it is the file read, not one swapped in after a stat. */
int pb_read_secret_file(const char *path, uint8_t *buf, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return errno == ENOENT ? PB_ENOTFOUND : PB_EIO;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return PB_EIO;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		pb_error("secret file %s is open to group or others (mode %04o); run: chmod 600 %s",
		         path, (unsigned)(st.st_mode & 07777), path);
		return PB_EFORBIDDEN;
	}
	return read_all(fd, buf, max, len);
}

int pb_mkdirs(const char *path)
{
	char tmp[PB_PATH_MAX];

	if (strlen(path) >= sizeof(tmp))
		return PB_EINVAL;
	copy(tmp, sizeof(tmp), path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return PB_EIO;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return PB_EIO;
	return PB_OK;
}

int pb_secret_load(const char *path, uint8_t *out, size_t n)
{
	char hex[2 * 256 + 2];
	size_t len = 0;
	int rc;

	if (n > 256)
		return PB_EINVAL;
	if ((rc = pb_read_secret_file(path, (uint8_t *)hex, sizeof(hex) - 1, &len)))
		return rc;
	while (len > 0 && (hex[len - 1] == '\n' || hex[len - 1] == '\r' || hex[len - 1] == ' '))
		len--;
	hex[len] = '\0';
	rc = pb_unhex(hex, out, n);
	sodium_memzero(hex, sizeof(hex));
	return rc ? PB_ECORRUPT : PB_OK;
}

int pb_secret_load_or_create(const char *path, uint8_t *out, size_t n, int *created)
{
	char hex[2 * 256 + 2];
	int rc;

	if (n > 256)
		return PB_EINVAL;
	*created = 0;
	rc = pb_secret_load(path, out, n);
	if (rc == PB_ENOTFOUND) {
		char dir[PB_PATH_MAX];
		copy(dir, sizeof(dir), path);
		char *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			if ((rc = pb_mkdirs(dir)))
				return rc;
		}
		randombytes_buf(out, n);
		pb_hex(out, n, hex);
		hex[2 * n] = '\n';
		/* O_EXCL: two processes racing on first start must not both win. */
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST)
			return pb_secret_load_or_create(path, out, n, created);
		if (fd < 0)
			return PB_EIO;
		ssize_t w = write(fd, hex, 2 * n + 1);
		int ok = w == (ssize_t)(2 * n + 1) && fsync(fd) == 0;
		close(fd);
		sodium_memzero(hex, sizeof(hex));
		if (!ok)
			return PB_EIO;
		*created = 1;
		return PB_OK;
	}
	return rc;
}
