/* The sending loop: read the pending notices, send each through its
 * medium, and tell the router what became of them. A notice the relay or
 * provider took is written to the journal ([notify] state_dir/sent,
 * fsync'd) before the router hears of it, so a restart between the two
 * acknowledges it without sending it again. Failures wait with
 * exponential backoff and jitter; a final refusal, or max_attempts
 * failures, make it a dead letter. */
#include "nt.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"

#include <errno.h>
#include <sodium.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 100
#define TRACK_MAX 4096

/* Failures so far of the notices in backoff (this process's memory: a
 * restart gives each a fresh count, never a lost notice). */
struct track {
	uint64_t seq;
	unsigned attempts;
	int64_t next_ms;
};

struct loop {
	const struct pb_conf *c;
	struct cn_router r;
	char *password, *sms_secret;
	const struct nt_sms_provider *sms;
	char journal[PB_PATH_MAX + 16];
	char **sent;                   /* event ids in the journal */
	size_t nsent;
	struct track tr[TRACK_MAX];
	size_t ntr;
	Mailroom__NoticeAck acks[PAGE], *packs[PAGE];
	char why[PAGE][256];
	size_t nacks;
	unsigned seed;
};

size_t nt_vars(const struct pb_conf *c, const Mailroom__NoticeEntry *e, struct nt_var *v,
               char scratch[4][PB_PATH_MAX + 16])
{
	size_t n = 0;

	if (e->due_ms > 0)
		pb_date_fmt(pb_day_of_ms(e->due_ms), scratch[0], sizeof(scratch[0]));
	else
		scratch[0][0] = '\0';
	snprintf(scratch[1], sizeof(scratch[1]), "%d", (int)e->extended_days);
	if (*c->public_base_url)
		snprintf(scratch[2], sizeof(scratch[2]), "%s/track", c->public_base_url);
	else
		snprintf(scratch[2], sizeof(scratch[2]), "http://%s:%d/track", c->http_addr, c->http_port);
	v[n++] = (struct nt_var){"tracking_code", e->tracking_code};
	v[n++] = (struct nt_var){"office", c->office_name};
	v[n++] = (struct nt_var){"department", e->department};
	v[n++] = (struct nt_var){"due_date", scratch[0]};
	v[n++] = (struct nt_var){"days", scratch[1]};
	v[n++] = (struct nt_var){"link", scratch[2]};
	return n;
}

static int secret_text(const char *path, char **out)
{
	uint8_t buf[1024];
	size_t len;
	int rc;

	*out = NULL;
	if (!*path)
		return PB_OK;
	if ((rc = pb_read_secret_file(path, buf, sizeof(buf) - 1, &len)))
		return rc;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	*out = strdup((char *)buf);
	sodium_memzero(buf, sizeof(buf));
	return *out ? PB_OK : PB_ENOMEM;
}

static int journal_has(const struct loop *l, const char *id)
{
	for (size_t i = 0; i < l->nsent; i++)
		if (strcmp(l->sent[i], id) == 0)
			return 1;
	return 0;
}

static int journal_add(struct loop *l, const char *id)
{
	char **more = realloc(l->sent, (l->nsent + 1) * sizeof(*more));
	int fd, ok;

	if (!more)
		return PB_ENOMEM;
	l->sent = more;
	if (!(l->sent[l->nsent] = strdup(id)))
		return PB_ENOMEM;
	l->nsent++;
	if ((fd = open(l->journal, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return PB_EIO;
	ok = dprintf(fd, "%s\n", id) > 0 && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	return ok ? PB_OK : PB_EIO;
}

static int journal_load(struct loop *l)
{
	char line[256];
	FILE *f;

	if (mkdir(l->c->notify_state_dir, 0700) != 0 && errno != EEXIST)
		return PB_EIO;
	snprintf(l->journal, sizeof(l->journal), "%s/sent", l->c->notify_state_dir);
	if (!(f = fopen(l->journal, "r")))
		return errno == ENOENT ? PB_OK : PB_EIO;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		char **more = realloc(l->sent, (l->nsent + 1) * sizeof(*more));
		if (!more || !(more[l->nsent] = strdup(line))) {
			free(more ? more : l->sent);
			l->sent = NULL;
			l->nsent = 0;
			fclose(f);
			return PB_ENOMEM;
		}
		l->sent = more;
		l->nsent++;
	}
	fclose(f);
	return PB_OK;
}

/* Everything in the journal has been acknowledged: start it afresh. */
static void journal_clear(struct loop *l)
{
	for (size_t i = 0; i < l->nsent; i++)
		free(l->sent[i]);
	free(l->sent);
	l->sent = NULL;
	l->nsent = 0;
	if (truncate(l->journal, 0) != 0 && errno != ENOENT)
		pb_warn("cannot empty the journal %s: %s", l->journal, strerror(errno));
}

static struct track *track_of(struct loop *l, uint64_t seq, int make)
{
	for (size_t i = 0; i < l->ntr; i++)
		if (l->tr[i].seq == seq)
			return &l->tr[i];
	if (!make || l->ntr == TRACK_MAX)
		return NULL;
	l->tr[l->ntr] = (struct track){seq, 0, 0};
	return &l->tr[l->ntr++];
}

static void track_drop(struct loop *l, uint64_t seq)
{
	for (size_t i = 0; i < l->ntr; i++)
		if (l->tr[i].seq == seq) {
			l->tr[i] = l->tr[--l->ntr];
			return;
		}
}

static void ack(struct loop *l, uint64_t seq, int verdict, unsigned attempts, const char *why)
{
	Mailroom__NoticeAck *a = &l->acks[l->nacks];

	mailroom__notice_ack__init(a);
	a->seq = seq;
	a->verdict = verdict;
	a->attempts = attempts;
	snprintf(l->why[l->nacks], sizeof(l->why[0]), "%s", why ? why : "");
	a->error = l->why[l->nacks];
	l->packs[l->nacks] = a;
	l->nacks++;
}

/* 1 when a sender (or the folder) was tried, 0 when nothing was. */
static int send_one(struct loop *l, const Mailroom__NoticeEntry *e, struct nt_result *res)
{
	const struct pb_conf *c = l->c;
	struct nt_var vars[8];
	char scratch[4][PB_PATH_MAX + 16], err[PB_PATH_MAX + 200];
	struct nt_msg m;
	size_t n = nt_vars(c, e, vars, scratch);
	int rc = nt_tpl_render(c->notify_templates, e->kind, e->medium, vars, n, &m, err, sizeof(err));

	res->why[0] = '\0';
	if (rc == PB_ENOTFOUND) {
		/* The office removed this template: it does not want this notice sent. */
		pb_info("notice %s: %s: not sent", e->event_id, err);
		res->outcome = NT_SENT;
		return 0;
	}
	if (rc) {
		res->outcome = NT_RETRY;
		snprintf(res->why, sizeof(res->why), "%.200s", err);
		return 0;
	}
	if (strcmp(c->notify_mode, "folder") == 0)
		nt_folder_write(c, e, &m, res);
	else if (strcmp(e->medium, "email") == 0 && *c->smtp_url)
		nt_smtp_send(c, l->password, e, &m, res);
	else if (strcmp(e->medium, "sms") == 0 && l->sms)
		l->sms->send(c, l->sms_secret, e, &m, vars, n, res);
	else {
		res->outcome = NT_RETRY;
		snprintf(res->why, sizeof(res->why), "no %s sender configured", e->medium);
		nt_msg_free(&m);
		return 0;
	}
	nt_msg_free(&m);
	return 1;
}

static void handle(struct loop *l, const Mailroom__NoticeEntry *e, int64_t now)
{
	struct track *t = track_of(l, e->seq, 0);
	struct nt_result res;

	if (journal_has(l, e->event_id)) {
		ack(l, e->seq, MAILROOM__NOTICE_VERDICT__NOTICE_SENT, 0, NULL);
		return;
	}
	if (t && t->next_ms > now)
		return;
	int tried = send_one(l, e, &res);
	/* For /healthz and /metrics: a refusal for good is about this notice,
	 * and shows the relay or provider answering; a retry is a failure. */
	if (tried)
		cn_health_upstream(res.outcome != NT_RETRY);
	if (res.outcome != NT_SENT) {
		atomic_fetch_add(&nt_stats.failed, 1);
	} else if (tried) {
		atomic_fetch_add(&nt_stats.sent, 1);
		atomic_store(&nt_stats.last_send_ms, pb_now_ms());
	}
	if (res.outcome == NT_SENT) {
		int rc = journal_add(l, e->event_id);
		if (rc)
			pb_error("notice %s sent, but the journal cannot be written: %s", e->event_id,
			         pb_err_str(rc));
		ack(l, e->seq, MAILROOM__NOTICE_VERDICT__NOTICE_SENT, 0, NULL);
		return;
	}
	unsigned attempts = (t ? t->attempts : 0) + 1;
	if (res.outcome == NT_FINAL || attempts >= (unsigned)l->c->notify_max_attempts) {
		pb_warn("notice %s (%s %s): refused after %u attempts: %s", e->event_id, e->kind,
		        e->medium, attempts, res.why);
		ack(l, e->seq, MAILROOM__NOTICE_VERDICT__NOTICE_DEAD, attempts, res.why);
		atomic_fetch_add(&nt_stats.dead, 1);
		return;
	}
	if (!t && !(t = track_of(l, e->seq, 1)))
		return;   /* too many in backoff: tried again next round */
	t->attempts = attempts;
	int64_t cap = 1000;
	for (unsigned i = 1; i < attempts && cap < l->c->notify_backoff_max_ms; i++)
		cap *= 2;
	if (cap > l->c->notify_backoff_max_ms)
		cap = l->c->notify_backoff_max_ms;
	t->next_ms = now + cap / 2 + (int64_t)(rand_r(&l->seed) % (unsigned)(cap / 2 + 1));
	pb_info("notice %s (%s %s): attempt %u failed, again in %lld ms: %s", e->event_id, e->kind,
	        e->medium, attempts, (long long)(t->next_ms - now), res.why);
}

/* Sends the verdicts gathered; the journal empties once they are in. */
static int flush_acks(struct loop *l)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__NoticeAckReq q = MAILROOM__NOTICE_ACK_REQ__INIT;
	Mailroom__Response *resp;
	int rc;

	if (!l->nacks)
		return PB_OK;
	q.acks = l->packs;
	q.n_acks = l->nacks;
	req.op_case = MAILROOM__REQUEST__OP_NOTICE_ACK;
	req.notice_ack = &q;
	if ((rc = cn_router_call(&l->r, &req, NT_ROUTER_TIMEOUT_MS, &resp))) {
		pb_warn("cannot report to the router: %s", l->r.err);
		return rc;
	}
	rc = resp->code;
	if (rc)
		pb_warn("the router refused the verdicts: %s", resp->message ? resp->message : "");
	mailroom__response__free_unpacked(resp, NULL);
	if (rc)
		return rc;
	for (size_t i = 0; i < l->nacks; i++)
		track_drop(l, l->acks[i].seq);
	l->nacks = 0;
	journal_clear(l);
	return PB_OK;
}

/* One pass over the pending notices, page by page. */
static int round_(struct loop *l)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__NoticesReq q = MAILROOM__NOTICES_REQ__INIT;
	Mailroom__Response *resp;
	int rc;

	q.limit = PAGE;
	req.op_case = MAILROOM__REQUEST__OP_NOTICES;
	req.notices = &q;
	for (;;) {
		if ((rc = cn_router_call(&l->r, &req, NT_ROUTER_TIMEOUT_MS, &resp)))
			return rc;
		if (resp->code || !resp->notices) {
			pb_warn("the router refused to list notices: %s", resp->message ? resp->message : "");
			mailroom__response__free_unpacked(resp, NULL);
			return PB_EFORBIDDEN;
		}
		size_t n = resp->notices->n_entries;
		int64_t now = pb_now_ms();
		if (q.after_seq == 0)
			atomic_store(&nt_stats.outbox_seen, resp->notices->pending);
		for (size_t i = 0; i < n && !atomic_load(&cn_stop); i++) {
			handle(l, resp->notices->entries[i], now);
			q.after_seq = resp->notices->entries[i]->seq;
			if (l->nacks == PAGE && (rc = flush_acks(l)))
				break;
		}
		mailroom__response__free_unpacked(resp, NULL);
		if (rc || (rc = flush_acks(l)))
			return rc;
		if (n < PAGE || atomic_load(&cn_stop))
			return PB_OK;
	}
}

int nt_run(const struct pb_conf *c)
{
	static struct loop l;
	int rc;

	memset(&l, 0, sizeof(l));
	l.c = c;
	l.seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	if (strcmp(c->notify_mode, "folder") != 0 && strcmp(c->notify_mode, "send") != 0) {
		pb_error("[notify] mode must be folder or send, not '%s'", c->notify_mode);
		return PB_EINVAL;
	}
	if (*c->sms_provider && !(l.sms = nt_sms_provider(c->sms_provider))) {
		pb_error("[notify.sms] provider '%s' is not known (tencent)", c->sms_provider);
		return PB_EINVAL;
	}
	if ((rc = secret_text(c->smtp_password_file, &l.password)) ||
	    (rc = secret_text(c->sms_secret_key_file, &l.sms_secret))) {
		pb_error("cannot read a [notify] secret file: %s", pb_err_str(rc));
		return rc;
	}
	if ((rc = journal_load(&l))) {
		pb_error("cannot read the journal under %s: %s", c->notify_state_dir, pb_err_str(rc));
		return rc;
	}
	if ((rc = cn_router_open(&l.r, "notify", c->notify_key_file, c->router_url))) {
		pb_error("%s", l.r.err);
		return rc;
	}
	if (strcmp(c->notify_mode, "folder") == 0)
		pb_info("notices are written to %s, not sent ([notify] mode = folder)", c->notify_folder);
	else
		pb_info("sending notices: e-mail %s, SMS %s", *c->smtp_url ? "through the relay" : "off",
		        l.sms ? l.sms->name : "off");
	while (!atomic_load(&cn_stop)) {
		int64_t wait = c->notify_poll_interval_ms;
		if ((rc = round_(&l)) == PB_EUNAVAIL)
			pb_warn("%s", l.r.err);
		/* A notice in backoff comes due before the next poll: wake for it. */
		for (size_t i = 0; i < l.ntr; i++) {
			int64_t d = l.tr[i].next_ms - pb_now_ms();
			if (d < wait)
				wait = d > 10 ? d : 10;
		}
		cn_sleep(wait);
	}
	cn_router_close(&l.r);
	if (l.password) {
		sodium_memzero(l.password, strlen(l.password));
		free(l.password);
	}
	if (l.sms_secret) {
		sodium_memzero(l.sms_secret, strlen(l.sms_secret));
		free(l.sms_secret);
	}
	for (size_t i = 0; i < l.nsent; i++)
		free(l.sent[i]);
	free(l.sent);
	return PB_OK;
}
