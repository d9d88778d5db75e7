/* The platform's side of orders: the ones it knows, with their current
 * dispatch_seq and state, and the feed the pull API pages through. */
#include "hp_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const categories[] = {"consultation", "help", "complaint", "report", "suggestion"};
static const char *const sources[] = {"phone", "web", "wechat", "app", "sms", "email"};
static const char *const titles[] = {"小区门口路面塌陷", "夜间施工噪音扰民", "道路积水严重",
                                     "咨询社保卡补办流程", "共享单车乱停放", "楼道堆放杂物"};

static void rfc3339(time_t t, char *buf, size_t len)
{
	/* Asia/Shanghai has no DST: a fixed +08:00 offset is exact. */
	time_t local = t + 8 * 3600;
	struct tm tm;

	gmtime_r(&local, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

double hp_rand(struct hp *p)
{
	return (double)rand_r(&p->rnd) / ((double)RAND_MAX + 1.0);
}

static unsigned pick(struct hp *p, unsigned n)
{
	return (unsigned)(hp_rand(p) * n) % n;
}

struct hp_order *hp_order_find(struct hp *p, const char *no)
{
	size_t i;

	return hp_map_get(&p->order_ix, no, &i) == 0 ? &p->orders[i] : NULL;
}

static struct hp_order *order_add(struct hp *p, const char *no)
{
	if (p->norders == p->caporders) {
		size_t cap = p->caporders ? p->caporders * 2 : 256;
		struct hp_order *v = realloc(p->orders, cap * sizeof(*v));
		if (!v)
			return NULL;
		p->orders = v;
		p->caporders = cap;
	}
	struct hp_order *o = &p->orders[p->norders];
	memset(o, 0, sizeof(*o));
	snprintf(o->no, sizeof(o->no), "%s", no);
	if (hp_map_put(&p->order_ix, o->no, p->norders))
		return NULL;
	p->norders++;
	return o;
}

int hp_feed_append(struct hp *p, char *json)
{
	if (!json)
		return -1;
	if (p->nfeed == p->capfeed) {
		size_t cap = p->capfeed ? p->capfeed * 2 : 256;
		struct hp_item *v = realloc(p->feed, cap * sizeof(*v));
		if (!v) {
			free(json);
			return -1;
		}
		p->feed = v;
		p->capfeed = cap;
	}
	p->feed[p->nfeed++].json = json;
	return 0;
}

static char *dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	json_decref(j);
	return s;
}

static char *dispatch_json(struct hp *p, const struct hp_order *o)
{
	time_t now = time(NULL);
	char acc[40], disp[40], sign[40], fin[40], phone[16];
	unsigned c = pick(p, 5), urgent = pick(p, 10) == 0;

	rfc3339(now - 600, acc, sizeof(acc));
	rfc3339(now - 1, disp, sizeof(disp));
	rfc3339(now + (urgent ? 2 * 3600 : 86400), sign, sizeof(sign));
	rfc3339(now + (urgent ? 86400 : 5 * 86400), fin, sizeof(fin));
	snprintf(phone, sizeof(phone), "139%08u", pick(p, 100000000));
	return dump(json_pack(
		"{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:b}, s:s,"
		" s:s, s:[s], s:s, s:s, s:b}",
		"order_no", o->no, "dispatch_seq", (int)o->seq, "kind", "dispatch", "accepted_at", acc,
		"dispatched_at", disp, "source", sources[pick(p, 6)], "category", categories[c],
		"category_code", "0301", "urgency", urgent ? "urgent" : "normal", "title",
		titles[pick(p, 6)], "content", "市民来电反映情况，请按职责办理并答复。", "citizen",
		"name", "王五", "phone", phone, "confidential", pick(p, 8) == 0, "region", "110105",
		"lead_unit", "市城管委", "co_units", "区住建委", "sign_due_at", sign, "finish_due_at",
		fin, "reply_required", pick(p, 2) == 0));
}

static int record_dispatch(struct hp *p, const struct hp_order *o)
{
	if (p->ndisp == p->capdisp) {
		size_t cap = p->capdisp ? p->capdisp * 2 : 256;
		struct hp_dispatch *v = realloc(p->disp, cap * sizeof(*v));
		if (!v)
			return -1;
		p->disp = v;
		p->capdisp = cap;
	}
	snprintf(p->disp[p->ndisp].no, sizeof(p->disp[p->ndisp].no), "%s", o->no);
	p->disp[p->ndisp++].seq = o->seq;
	p->st.dispatches++;
	return 0;
}

static int dispatch_locked(struct hp *p, const char *no, int where, char **json, char *no_out,
                           size_t no_len)
{
	char fresh[48];
	struct hp_order *o;
	char *s;

	if (!no) {
		snprintf(fresh, sizeof(fresh), "HP%s-%06lu", p->cursor_salt, ++p->next_no);
		no = fresh;
	}
	if (!(o = hp_order_find(p, no)) && !(o = order_add(p, no)))
		return -1;
	o->seq++;
	o->state = HP_ST_DISPATCHED;
	if (!(s = dispatch_json(p, o)) || record_dispatch(p, o)) {
		free(s);
		return -1;
	}
	if (json && !(*json = strdup(s))) {
		free(s);
		return -1;
	}
	if (no_out)
		snprintf(no_out, no_len, "%s", o->no);
	if (where == HP_FEED)
		return hp_feed_append(p, s);
	free(s);
	return 0;
}

int hp_dispatch(struct hp *p, const char *order_no, int where, char **json, char *no_out,
                size_t no_len)
{
	pthread_mutex_lock(&p->mu);
	int rc = dispatch_locked(p, order_no, where, json, no_out, no_len);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static char *short_json(const struct hp_order *o, const char *kind, const char *reason)
{
	char base[40], disp[64];
	struct timespec ts;

	/* Distinct dispatched_at per urge: the department dedups on it. */
	clock_gettime(CLOCK_REALTIME, &ts);
	rfc3339(ts.tv_sec, base, sizeof(base));
	base[19] = '\0';
	snprintf(disp, sizeof(disp), "%s.%03d+08:00", base, (int)(ts.tv_nsec / 1000000));
	return dump(json_pack("{s:s, s:i, s:s, s:s, s:s}", "order_no", o->no, "dispatch_seq",
	                      (int)o->seq, "kind", kind, "dispatched_at", disp, "reason", reason));
}

int hp_issue_revoke(struct hp *p, struct hp_order *o, const char *reason)
{
	o->state = HP_ST_REVOKED;
	p->st.revokes++;
	return hp_feed_append(p, short_json(o, "revoke", reason));
}

int hp_issue_redispatch(struct hp *p, struct hp_order *o)
{
	char no[48];

	snprintf(no, sizeof(no), "%s", o->no);
	return dispatch_locked(p, no, HP_FEED, NULL, NULL, 0);
}

int hp_revoke(struct hp *p, const char *order_no, const char *reason)
{
	pthread_mutex_lock(&p->mu);
	struct hp_order *o = hp_order_find(p, order_no);
	int rc = o ? hp_issue_revoke(p, o, reason) : -1;
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int hp_urge(struct hp *p, const char *order_no, const char *reason)
{
	pthread_mutex_lock(&p->mu);
	struct hp_order *o = hp_order_find(p, order_no);
	int rc = -1;
	if (o) {
		p->st.urges++;
		rc = hp_feed_append(p, short_json(o, "urge", reason));
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static int invalid_locked(struct hp *p, int variant)
{
	char no[48];
	json_t *j;

	snprintf(no, sizeof(no), "HPX%s-%06lu", p->cursor_salt, ++p->next_no);
	switch (variant % 5) {
	case 0:   /* no title */
		j = json_pack("{s:s, s:i, s:s, s:s, s:s}", "order_no", no, "dispatch_seq", 1, "kind",
		              "dispatch", "accepted_at", "2025-11-03T09:00:00+08:00", "dispatched_at",
		              "2025-11-03T09:01:00+08:00");
		break;
	case 1:   /* a bad order number */
		j = json_pack("{s:s, s:i, s:s, s:s, s:s}", "order_no", "GD 2025/001", "dispatch_seq", 1,
		              "kind", "revoke", "dispatched_at", "2025-11-03T09:01:00+08:00", "reason", "x");
		break;
	case 2:   /* dispatch_seq 0 */
		j = json_pack("{s:s, s:i, s:s, s:s, s:s}", "order_no", no, "dispatch_seq", 0, "kind",
		              "urge", "dispatched_at", "2025-11-03T09:01:00+08:00", "reason", "催办");
		break;
	case 3:   /* an unknown kind */
		j = json_pack("{s:s, s:i, s:s, s:s, s:s}", "order_no", no, "dispatch_seq", 1, "kind",
		              "transfer", "dispatched_at", "2025-11-03T09:01:00+08:00", "reason", "x");
		break;
	default:  /* not even an object */
		j = json_string("garbage");
		break;
	}
	p->st.invalid++;
	return hp_feed_append(p, dump(j));
}

int hp_invalid(struct hp *p, int variant)
{
	pthread_mutex_lock(&p->mu);
	int rc = invalid_locked(p, variant);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int hp_raw(struct hp *p, const char *json)
{
	char *s = strdup(json);

	pthread_mutex_lock(&p->mu);
	int rc = hp_feed_append(p, s);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int hp_feed_random(struct hp *p, int n, double invalid_rate)
{
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < n && !rc; i++)
		rc = hp_rand(p) < invalid_rate ? invalid_locked(p, (int)pick(p, 5)) :
		                                 dispatch_locked(p, NULL, HP_FEED, NULL, NULL, 0);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

char *hp_feed_json(struct hp *p, size_t i)
{
	char *s = NULL;

	pthread_mutex_lock(&p->mu);
	if (i < p->nfeed)
		s = strdup(p->feed[i].json);
	pthread_mutex_unlock(&p->mu);
	return s;
}

size_t hp_feed_len(struct hp *p)
{
	pthread_mutex_lock(&p->mu);
	size_t n = p->nfeed;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void hp_each_dispatch(struct hp *p, int (*fn)(const char *order_no, unsigned seq, void *arg),
                      void *arg)
{
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->ndisp; i++)
		if (fn(p->disp[i].no, p->disp[i].seq, arg))
			break;
	pthread_mutex_unlock(&p->mu);
}

const char *hp_order_state(struct hp *p, const char *order_no, unsigned *seq)
{
	static const char *const names[] = {NULL, "dispatched", "signed", "finished", "returned",
	                                    "revoked"};
	const char *s = NULL;

	pthread_mutex_lock(&p->mu);
	struct hp_order *o = hp_order_find(p, order_no);
	if (o) {
		s = names[o->state];
		if (seq)
			*seq = o->seq;
	}
	pthread_mutex_unlock(&p->mu);
	return s;
}
