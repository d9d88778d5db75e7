/* The store check: every stored message against the log. The log holds
 * salted commitments to a message's texts (content_hash) and, in each
 * record the router wrote with the message in hand, its queue and
 * deadlines as they stood after the change. A message edited, added or
 * deleted behind the router's back no longer matches them. */
#include "au_idtab.h"
#include "au_store.h"
#include "pb_err.h"
#include "st_attach.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The stored texts a content_hash can commit to. Other committed texts
 * (a return's legal basis, an extension request, a consulted party) are
 * not kept in the message. */
enum { T_NONE, T_TEXTS, T_REPLY, T_CITIZEN, T_NOTICE, T_N };

static const char *const text_field[T_N] = {
	[T_TEXTS] = "subject or body",   /* one commitment covers both */
	[T_REPLY] = "reply_text",
	[T_CITIZEN] = "citizen_reply",
	[T_NOTICE] = "disclosure.notice",
};

#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x
#define ST(x) MAILROOM__STATUS__STATUS_##x
#define B(x) (1u << (x))

/* What an event does to the stored message (router/rt_*.c). */
static const struct evrule {
	uint8_t status;            /* Status after it; 0: unchanged */
	uint8_t commits;           /* the text its content_hash commits to */
	uint8_t clears;            /* B(T_*) of texts it empties */
	uint8_t no_state;          /* about an event, not the message: written without it */
} rules[] = {
	[EV(RECEIVED)] = {ST(QUEUED), T_TEXTS, 0},
	/* A returned order back: new texts, the old answers gone. */
	[EV(REDISPATCHED)] = {ST(QUEUED), T_TEXTS, B(T_REPLY) | B(T_CITIZEN)},
	[EV(ROUTED)] = {ST(QUEUED), 0, 0},
	[EV(LEASED)] = {ST(LEASED), 0, 0},
	[EV(LEASE_EXPIRED)] = {ST(QUEUED), 0, 0},
	[EV(RELEASED)] = {ST(QUEUED), 0, 0},
	[EV(TRANSFERRED)] = {ST(QUEUED), 0, 0},
	/* 并单: closed into its primary; an unmerge queues it again. */
	[EV(MERGED)] = {ST(CLOSED), 0, 0},
	[EV(UNMERGED)] = {ST(QUEUED), 0, 0},
	[EV(REPLIED)] = {ST(REPLIED), T_REPLY, 0},
	[EV(DECIDED)] = {ST(REPLIED), T_REPLY, B(T_NOTICE)},
	[EV(CITIZEN_REPLIED)] = {0, T_CITIZEN, 0},
	[EV(RETURNED)] = {ST(CLOSED), 0, 0},
	/* answered by referral: the notice to the citizen is the reply */
	[EV(REFERRED)] = {ST(REPLIED), T_REPLY, 0},
	[EV(REVOKED)] = {ST(CLOSED), 0, 0},
	[EV(CORRECTION_REQUESTED)] = {0, T_NOTICE, 0},
	[EV(FEE_NOTICE)] = {0, T_NOTICE, 0},
	[EV(CORRECTION_RECEIVED)] = {0, 0, B(T_NOTICE)},
	[EV(FEE_PAID)] = {0, 0, B(T_NOTICE)},
	/* A petition's notice of not accepting it and its answers are its
	 * reply; a review reopens it with the last answer kept. */
	[EV(PETITION_NOT_ACCEPTED)] = {ST(REPLIED), T_REPLY, 0},
	[EV(PETITION_ANSWERED)] = {ST(REPLIED), T_REPLY, 0},
	[EV(PETITION_REVIEW)] = {ST(QUEUED), 0, 0},
	/* The connector's notes (router/rt_outbox.c) carry no queue or due. */
	[EV(OUTBOX_DEAD)] = {0, 0, 0, 1},
	[EV(OUTBOX_REQUEUED)] = {0, 0, 0, 1},
	/* Notices (router/rt_notice.c): a dead letter is written without the
	 * message; an opt-out changes nothing this check follows. */
	[EV(NOTICES_OFF)] = {0, 0, 0, 1},
	[EV(NOTICE_DEAD)] = {0, 0, 0, 1},
};
#define NRULES ((int)(sizeof(rules) / sizeof(rules[0])))

struct commit {
	uint8_t h[ST_HASH_LEN];
	uint8_t set;               /* 0: the text must be empty */
	uint64_t at;               /* the record that set or emptied it; 0 with seen = 0 */
	uint8_t seen;
};

/* What the log says of one message (first its id, as au_idtab wants). */
struct exp {
	uint8_t id[PB_ID_LEN];
	uint8_t named, received, stored;
	uint8_t status, has_state, provisional;
	int channel;
	uint64_t first, received_at, status_at, state_at;
	struct commit c[T_N];
	int64_t due, ack_due;
	char *queue;
	uint8_t (*files)[ST_HASH_LEN];   /* RECEIVED's attachment commitments */
	size_t nfiles;
	uint8_t (*rfiles)[ST_HASH_LEN];  /* the last REPLIED's: the handler's files */
	size_t nrfiles;
	uint64_t replied_at;
};

struct au_store_fold {
	struct au_idtab ids;       /* struct exp by message id, in log order */
	const uint8_t *only;
	const char *store_dir;
	struct au_store_verdict *v;
	int err;                   /* out of memory during the msg walk */
};

/* A record's attachment commitments, copied; -1 out of memory. */
static int keep_commits(const Mailroom__AuditRecord *r, uint8_t (**out)[ST_HASH_LEN], size_t *n)
{
	if (!r->n_attachment_commits)
		return 0;
	if (!(*out = calloc(r->n_attachment_commits, ST_HASH_LEN)))
		return -1;
	for (size_t i = 0; i < r->n_attachment_commits; i++)
		if (r->attachment_commits[i].len == ST_HASH_LEN)
			memcpy((*out)[i], r->attachment_commits[i].data, ST_HASH_LEN);
	*n = r->n_attachment_commits;
	return 0;
}

int au_store_fold_record(struct au_store_fold *T, const Mailroom__AuditRecord *r)
{
	const struct evrule *rule;
	struct exp *e;
	int added;

	if (r->message_id.len != PB_ID_LEN ||
	    (T->only && memcmp(r->message_id.data, T->only, PB_ID_LEN) != 0))
		return PB_OK;
	if (!(e = au_idtab_get(&T->ids, r->message_id.data, &added)))
		return PB_ENOMEM;
	if (!e->named) {
		e->named = 1;
		e->first = r->index;
	}
	if (r->event == EV(RECEIVED) && !e->received) {
		e->received = 1;
		e->received_at = r->index;
		e->channel = r->channel;
		if (keep_commits(r, &e->files, &e->nfiles))
			return PB_ENOMEM;
	}
	if (r->event == EV(REPLIED)) {
		free(e->rfiles);
		e->rfiles = NULL;
		e->nrfiles = 0;
		e->replied_at = r->index;
		if (keep_commits(r, &e->rfiles, &e->nrfiles))
			return PB_ENOMEM;
	}
	rule = (int)r->event >= 0 && (int)r->event < NRULES ? &rules[r->event] : NULL;
	if (rule) {
		for (int k = T_TEXTS; k < T_N; k++)
			if (rule->clears & B(k))
				e->c[k] = (struct commit){.set = 0, .at = r->index, .seen = 1};
		if (rule->commits) {
			struct commit *c = &e->c[rule->commits];
			c->set = r->content_hash.len == ST_HASH_LEN;
			if (c->set)
				memcpy(c->h, r->content_hash.data, ST_HASH_LEN);
			c->at = r->index;
			c->seen = 1;
		}
		if (rule->status) {
			e->status = rule->status;
			e->status_at = r->index;
		}
	}
	/* Written with the message in hand (rt_audit fills the channel): its
	 * queue and deadlines as they stood after the change. */
	if (r->channel != MAILROOM__CHANNEL__CHANNEL_UNSPECIFIED && !(rule && rule->no_state)) {
		const char *nq = r->queue ? r->queue : "";
		/* Most records leave the queue as it was: no copy for those. */
		if (!e->queue || strcmp(e->queue, nq) != 0) {
			char *q = strdup(nq);
			if (!q)
				return PB_ENOMEM;
			free(e->queue);
			e->queue = q;
		}
		e->due = r->due_ms;
		e->ack_due = r->ack_due_ms;
		e->provisional = r->due_provisional;
		e->state_at = r->index;
		e->has_state = 1;
	}
	return PB_OK;
}

static int read_log(struct au_store_fold *T, st_txn *t, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		Mailroom__AuditRecord *r;
		const uint8_t *data;
		size_t len;
		int rc;

		if ((rc = st_log_get(t, i, &data, &len)))
			return rc;
		if (len == 0 ||
		    !(r = mailroom__audit_record__unpack(NULL, len, data)))
			return PB_ECORRUPT;
		rc = au_store_fold_record(T, r);
		mailroom__audit_record__free_unpacked(r, NULL);
		if (rc)
			return rc;
	}
	return PB_OK;
}

/* The first finding wins; the rest of the walk only looks. */
static int finding(struct au_store_fold *T, const uint8_t *id, const char *track, const char *field,
                   int has_at, uint64_t at, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
static int finding(struct au_store_fold *T, const uint8_t *id, const char *track, const char *field,
                   int has_at, uint64_t at, const char *fmt, ...)
{
	struct au_store_verdict *v = T->v;
	va_list ap;

	if (v->fail)
		return 1;
	v->fail = AU_EXIT_STORE;
	if ((v->has_id = id != NULL))
		memcpy(v->id, id, PB_ID_LEN);
	snprintf(v->track, sizeof(v->track), "%s", track ? track : "");
	v->field = field;
	v->has_at = has_at;
	v->at = at;
	va_start(ap, fmt);
	vsnprintf(v->text, sizeof(v->text), fmt, ap);
	va_end(ap);
	return 1;
}

static const char *status_name(int s, char *buf, size_t len)
{
	return au_enum_name(&mailroom__status__descriptor, s, "STATUS_", 1, buf, len);
}

/* A stored text against its commitment: 0 when it matches. */
static int text_differs(const Mailroom__StoredMessage *m, int k, const struct commit *c)
{
	uint8_t h[ST_HASH_LEN];
	const char *s;

	if (k == T_TEXTS) {
		st_submit_hash(m->text_salt.data, m->subject, m->body, h);
		return !c->set || sodium_memcmp(h, c->h, ST_HASH_LEN) != 0;
	}
	s = k == T_REPLY ? m->reply_text
	    : k == T_CITIZEN ? m->citizen_reply
	    : m->disclosure ? m->disclosure->notice : "";
	if (!c->set)
		return s && *s;
	st_content_hash(m->text_salt.data, s ? s : "", s ? strlen(s) : 0, h);
	return sodium_memcmp(h, c->h, ST_HASH_LEN) != 0;
}

static int check_texts(struct au_store_fold *T, const Mailroom__StoredMessage *m, const struct exp *e)
{
	const char *tc = m->tracking_code;

	if (m->text_salt.len != ST_SALT_LEN)
		return finding(T, e->id, tc, "text_salt", 0, 0,
		               "text_salt is %zu bytes, not %d: the texts cannot be checked",
		               m->text_salt.len, ST_SALT_LEN);
	for (int k = T_TEXTS; k < T_N; k++) {
		const struct commit *c = &e->c[k];
		if (!text_differs(m, k, c))
			continue;
		if (c->set)
			return finding(T, e->id, tc, text_field[k], 1, c->at,
			               "%s differs from the commitment in record %llu", text_field[k],
			               (unsigned long long)c->at);
		if (c->seen)
			return finding(T, e->id, tc, text_field[k], 1, c->at,
			               "%s is set, but record %llu leaves it empty", text_field[k],
			               (unsigned long long)c->at);
		return finding(T, e->id, tc, text_field[k], 0, 0,
		               "%s is set, but no record commits to one", text_field[k]);
	}
	return 0;
}

static int check_state(struct au_store_fold *T, const Mailroom__StoredMessage *m, const struct exp *e)
{
	const char *tc = m->tracking_code;
	char a[40], b[40];

	if ((int)m->channel != e->channel)
		return finding(T, e->id, tc, "channel", 1, e->received_at,
		               "channel is %d, RECEIVED (record %llu) says %d", (int)m->channel,
		               (unsigned long long)e->received_at, e->channel);
	if ((int)m->status != e->status)
		return finding(T, e->id, tc, "status", 1, e->status_at,
		               "status is %s, the log says %s (record %llu)",
		               status_name(m->status, a, sizeof(a)), status_name(e->status, b, sizeof(b)),
		               (unsigned long long)e->status_at);
	/* Answered and closed follow the status and the reply. */
	if ((m->replied_ms != 0) != e->c[T_REPLY].set)
		return finding(T, e->id, tc, "replied_ms", e->c[T_REPLY].seen, e->c[T_REPLY].at,
		               "replied_ms is %s, but the log %s an answer", m->replied_ms ? "set" : "0",
		               e->c[T_REPLY].set ? "records" : "records no");
	if ((m->closed_ms != 0) != (e->status == ST(CLOSED)))
		return finding(T, e->id, tc, "closed_ms", 1, e->status_at,
		               "closed_ms is %s, but the log has it %s (record %llu)",
		               m->closed_ms ? "set" : "0", e->status == ST(CLOSED) ? "closed" : "open",
		               (unsigned long long)e->status_at);
	if (!e->has_state)
		return 0;
	if (strcmp(m->queue ? m->queue : "", e->queue) != 0)
		return finding(T, e->id, tc, "queue", 1, e->state_at,
		               "queue is '%s', the log says '%s' (record %llu)", m->queue, e->queue,
		               (unsigned long long)e->state_at);
	if (m->reply_due_ms != e->due) {
		au_fmt_time(m->reply_due_ms, a, sizeof(a), 1);
		au_fmt_time(e->due, b, sizeof(b), 1);
		return finding(T, e->id, tc, "reply_due_ms", 1, e->state_at,
		               "reply_due_ms is %s, the log says %s (record %llu)", a, b,
		               (unsigned long long)e->state_at);
	}
	if (m->ack_due_ms != e->ack_due) {
		au_fmt_time(m->ack_due_ms, a, sizeof(a), 1);
		au_fmt_time(e->ack_due, b, sizeof(b), 1);
		return finding(T, e->id, tc, "ack_due_ms", 1, e->state_at,
		               "ack_due_ms is %s, the log says %s (record %llu)", a, b,
		               (unsigned long long)e->state_at);
	}
	if (m->due_provisional != e->provisional)
		return finding(T, e->id, tc, "due_provisional", 1, e->state_at,
		               "due_provisional is %s, the log says %s (record %llu)",
		               m->due_provisional ? "true" : "false", e->provisional ? "true" : "false",
		               (unsigned long long)e->state_at);
	return 0;
}

/* Each file against its record's commitment to its SHA-256, and the
 * file on disk against the hash of its bytes kept with the message.
 * field: "attachments" (RECEIVED's) or "reply_attachments" (REPLIED's). */
static int check_list(struct au_store_fold *T, const Mailroom__StoredMessage *m, const struct exp *e,
                      const char *field, Mailroom__Attachment *const *list, size_t n,
                      uint8_t (*commits)[ST_HASH_LEN], size_t ncommits, uint64_t at)
{
	const char *tc = m->tracking_code;
	const char *what = field[0] == 'r' ? "reply attachment" : "attachment";
	uint8_t h[ST_HASH_LEN];
	char hex[65];

	if (n != ncommits)
		return finding(T, e->id, tc, field, at != 0, at,
		               "%zu %s(s) stored, the log (record %llu) names %zu", n, what,
		               (unsigned long long)at, ncommits);
	for (size_t i = 0; i < n; i++) {
		const Mailroom__Attachment *a = list[i];
		int rc;

		if (a->sha256.len != 32 || a->name_hash.len != ST_ATTACH_NAME_LEN)
			return finding(T, e->id, tc, field, 0, 0, "%s %zu is malformed", what, i);
		pb_hex(a->sha256.data, 32, hex);
		st_text_commit(m->text_salt.data, "attachment", hex, 64, h);
		if (sodium_memcmp(h, commits[i], ST_HASH_LEN) != 0)
			return finding(T, e->id, tc, field, 1, at,
			               "%s %zu differs from the commitment in record %llu", what, i,
			               (unsigned long long)at);
		if (!T->store_dir)
			continue;
		rc = st_attach_file_hash(T->store_dir, a->name_hash.data, h);
		if (rc == PB_ENOTFOUND)
			return finding(T, e->id, tc, field, 1, at, "%s %zu: its file is missing", what, i);
		if (rc != PB_OK)
			return finding(T, e->id, tc, field, 0, 0, "%s %zu: its file cannot be read", what,
			               i);
		if (a->file_sha256.len != 32 || sodium_memcmp(h, a->file_sha256.data, 32) != 0)
			return finding(T, e->id, tc, field, 1, at, "%s %zu: its file was changed", what, i);
	}
	return 0;
}

static int check_files(struct au_store_fold *T, const Mailroom__StoredMessage *m, const struct exp *e)
{
	return check_list(T, m, e, "attachments", m->attachments, m->n_attachments, e->files,
	                  e->nfiles, e->received_at) ||
	       check_list(T, m, e, "reply_attachments", m->reply_attachments,
	                  m->n_reply_attachments, e->rfiles, e->nrfiles, e->replied_at);
}

static int check_one(const Mailroom__StoredMessage *m, void *arg)
{
	struct au_store_fold *T = arg;
	struct exp *e;
	int added;

	if (m->id.len != PB_ID_LEN)
		return finding(T, NULL, m->tracking_code, "id", 0, 0,
		               "a stored message has a %zu-byte id", m->id.len);
	if (T->only && memcmp(m->id.data, T->only, PB_ID_LEN) != 0)
		return 0;
	T->v->messages++;
	if (!(e = au_idtab_get(&T->ids, m->id.data, &added))) {
		T->err = PB_ENOMEM;
		return 1;
	}
	if (!e->received)
		return finding(T, m->id.data, m->tracking_code, "message", e->named, e->first,
		               "stored, but no RECEIVED record in the log names it");
	if (e->stored)
		return finding(T, m->id.data, m->tracking_code, "message", 1, e->received_at,
		               "stored twice");
	e->stored = 1;
	return check_texts(T, m, e) || check_state(T, m, e) || check_files(T, m, e);
}

int au_store_fold_new(const uint8_t *only, struct au_store_fold **out)
{
	struct au_store_fold *T = calloc(1, sizeof(*T));

	if (!T)
		return PB_ENOMEM;
	T->ids = (struct au_idtab)AU_IDTAB_INIT(struct exp);
	T->only = only;
	*out = T;
	return PB_OK;
}

void au_store_fold_free(struct au_store_fold *T)
{
	if (!T)
		return;
	for (size_t i = 0; i < T->ids.n; i++) {
		free(((struct exp *)au_idtab_at(&T->ids, i))->queue);
		free(((struct exp *)au_idtab_at(&T->ids, i))->files);
		free(((struct exp *)au_idtab_at(&T->ids, i))->rfiles);
	}
	au_idtab_free(&T->ids);
	free(T);
}

int au_store_fold_check(struct au_store_fold *T, st_txn *t, const char *store_dir,
                        struct au_store_verdict *v)
{
	int rc;

	memset(v, 0, sizeof(*v));
	T->v = v;
	T->store_dir = store_dir;
	if ((rc = st_msg_each(t, check_one, T)) == PB_ECORRUPT) {
		/* A value in msg that is no message: edited by hand. */
		finding(T, NULL, NULL, "message", 0, 0, "a stored message does not parse");
		rc = PB_OK;
	}
	if (!rc)
		rc = T->err;
	/* Deleted: named by the log, absent from the store. */
	for (size_t i = 0; !rc && !v->fail && i < T->ids.n; i++) {
		const struct exp *e = au_idtab_at(&T->ids, i);
		if (!e->stored)
			finding(T, e->id, NULL, "message", 1, e->first,
			        "not in the store, but the log names it from record %llu on",
			        (unsigned long long)e->first);
	}
	return rc;
}

int au_store_check(st_txn *t, uint64_t n, const uint8_t *only, const char *store_dir,
                   struct au_store_verdict *v)
{
	struct au_store_fold *T;
	int rc;

	memset(v, 0, sizeof(*v));
	if ((rc = au_store_fold_new(only, &T)))
		return rc;
	if (!(rc = read_log(T, t, n)))
		rc = au_store_fold_check(T, t, store_dir, v);
	au_store_fold_free(T);
	return rc;
}

json_t *au_store_fail_json(const struct au_store_verdict *v)
{
	char id[PB_ID_TEXT_LEN + 1];

	pb_id_to_text(v->id, id);
	return json_pack("{s:b, s:s, s:s?, s:s?, s:s, s:o, s:s}", "ok", 0, "fail",
	                 au_class_name(AU_EXIT_STORE), "id", v->has_id ? id : NULL, "tracking_code",
	                 *v->track ? v->track : NULL, "field", v->field ? v->field : "", "at",
	                 v->has_at ? json_integer((json_int_t)v->at) : json_null(), "message",
	                 v->text);
}

int au_store_print_fail(const struct au_store_verdict *v, int json)
{
	char id[PB_ID_TEXT_LEN + 1];

	if (json) {
		int rc = au_emit(au_store_fail_json(v));
		return rc ? rc : AU_EXIT_STORE;
	}
	pb_id_to_text(v->id, id);
	printf("FAIL %s: message %s", au_class_name(AU_EXIT_STORE), v->has_id ? id : "?");
	if (*v->track) {
		printf(" (tracking ");
		au_put_clean(v->track);
		putchar(')');
	}
	printf(": ");
	au_put_clean(v->text);
	putchar('\n');
	fflush(stdout);
	return AU_EXIT_STORE;
}
