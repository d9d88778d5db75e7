/* Every audit record goes through rt_audit: the fields a record shares
 * are filled from its message, and its free texts are replaced by salted
 * commitments and sealed into the store's texts (README, "What it owns"). */
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"
#include "pb_utf8.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Events whose detail is a fixed vocabulary and stays clear in the log
 * (README.md, "What the public log reveals"). Every other detail is a free
 * text: the log gets its commitment only. */
static const uint8_t detail_is_code[] = {
	[MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED] = 1,            /* the platform-due note */
	[MAILROOM__AUDIT_EVENT__AUDIT_ROUTED] = 1,              /* route rule name (config) */
	[MAILROOM__AUDIT_EVENT__AUDIT_REDISPATCHED] = 1,        /* dispatch_seq, old state */
	[MAILROOM__AUDIT_EVENT__AUDIT_SIGNED] = 1,              /* "sign" */
	[MAILROOM__AUDIT_EVENT__AUDIT_RETURNED] = 1,            /* reason code [A-Za-z0-9_.-] */
	[MAILROOM__AUDIT_EVENT__AUDIT_EXTENSION_REQUESTED] = 1, /* "extension_request" */
	[MAILROOM__AUDIT_EVENT__AUDIT_CITIZEN_REPLIED] = 1,     /* "reply" */
	[MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_REQUEUED] = 1,     /* fixed sentence */
	[MAILROOM__AUDIT_EVENT__AUDIT_CORRECTION_RECEIVED] = 1, /* fixed sentence */
	[MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_FLAGGED] = 1,      /* resemblance, a number */
	[MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_DECIDED] = 1,      /* confirmed | dismissed */
	[MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RECOMPUTED] = 1,    /* fixed sentence */
	[MAILROOM__AUDIT_EVENT__AUDIT_DUE_SOON] = 1,            /* the clock: acknowledge | reply */
	[MAILROOM__AUDIT_EVENT__AUDIT_OVERDUE] = 1,
	[MAILROOM__AUDIT_EVENT__AUDIT_SERIOUSLY_OVERDUE] = 1,
	[MAILROOM__AUDIT_EVENT__AUDIT_HANDLER_ADDED] = 1,       /* queue names (config), "supervise" */
	[MAILROOM__AUDIT_EVENT__AUDIT_HANDLER_REMOVED] = 1,
	[MAILROOM__AUDIT_EVENT__AUDIT_PETITION_ANSWERED] = 1,   /* answer | review | rereview */
	[MAILROOM__AUDIT_EVENT__AUDIT_PETITION_REVIEW] = 1,     /* review | rereview */
	[MAILROOM__AUDIT_EVENT__AUDIT_VETO_ALERT] = 1,          /* the days: [rating] veto_days */
	[MAILROOM__AUDIT_EVENT__AUDIT_ATTACHMENT_SCANNED] = 1,  /* clean | infected */
};

/* A record's free texts, moved out of it for the time of the append. */
struct private_texts {
	Mailroom__RecordTexts texts;
	Mailroom__ReviewCase review;
	uint8_t salt[ST_SALT_LEN];
	uint8_t commit[4][ST_HASH_LEN];
	char *detail, *approver, *legal_basis;
	Mailroom__ReviewCase *old_review;
	int any;
};

static int is_text(const char *s)
{
	return s && *s;
}

/* Replaces each free text of rec by its commitment, keyed by the
 * message's salt, or a fresh one for records about no message. */
static void texts_take(Mailroom__AuditRecord *rec, const Mailroom__StoredMessage *m,
                       struct private_texts *p)
{
	Mailroom__RecordTexts *x = &p->texts;
	int code = rec->event >= 0 && (size_t)rec->event < sizeof(detail_is_code) &&
	           detail_is_code[rec->event];

	mailroom__record_texts__init(x);
	p->detail = rec->detail;
	p->approver = rec->approver;
	p->legal_basis = rec->legal_basis;
	p->old_review = rec->review;
	if (!code && is_text(rec->detail))
		x->detail = rec->detail;
	if (is_text(rec->approver))
		x->approver = rec->approver;
	if (is_text(rec->legal_basis))
		x->legal_basis = rec->legal_basis;
	if (rec->review && is_text(rec->review->case_no))
		x->case_no = rec->review->case_no;
	p->any = is_text(x->detail) || is_text(x->approver) || is_text(x->legal_basis) ||
	         is_text(x->case_no);
	if (!p->any)
		return;
	if (m && m->text_salt.len == ST_SALT_LEN)
		memcpy(p->salt, m->text_salt.data, ST_SALT_LEN);
	else
		randombytes_buf(p->salt, sizeof(p->salt));
	x->salt.data = p->salt;
	x->salt.len = sizeof(p->salt);
#define COMMIT(text, field, n, dst)                                             \
	if (is_text(text)) {                                                    \
		st_text_commit(p->salt, field, text, strlen(text), p->commit[n]); \
		dst.data = p->commit[n];                                        \
		dst.len = ST_HASH_LEN;                                          \
	}
	COMMIT(x->detail, "detail", 0, rec->detail_commit)
	COMMIT(x->approver, "approver", 1, rec->approver_commit)
	COMMIT(x->legal_basis, "legal_basis", 2, rec->legal_basis_commit)
	if (is_text(x->case_no)) {
		p->review = *rec->review;
		p->review.case_no = (char *)"";
		COMMIT(x->case_no, "case_no", 3, p->review.case_no_commit)
		rec->review = &p->review;
	}
#undef COMMIT
	if (is_text(x->detail))
		rec->detail = (char *)"";
	rec->approver = (char *)"";
	rec->legal_basis = (char *)"";
}

/* Puts rec back as the caller built it: callers reuse records. */
static void texts_give_back(Mailroom__AuditRecord *rec, const struct private_texts *p)
{
	if (!p->any)
		return;
	rec->detail = p->detail;
	rec->approver = p->approver;
	rec->legal_basis = p->legal_basis;
	rec->review = p->old_review;
	rec->detail_commit.data = rec->approver_commit.data = rec->legal_basis_commit.data = NULL;
	rec->detail_commit.len = rec->approver_commit.len = rec->legal_basis_commit.len = 0;
}

/* The clear texts, sealed, under the record's index, in its transaction. */
static int texts_store(struct rt_core *core, st_txn *t, uint64_t index, const struct private_texts *p)
{
	size_t len = mailroom__record_texts__get_packed_size(&p->texts), slen;
	uint8_t *plain, *sealed;
	int rc;

	if (!(plain = malloc(len ? len : 1)))
		return PB_ENOMEM;
	mailroom__record_texts__pack(&p->texts, plain);
	rc = st_seal(core->store, plain, len, &sealed, &slen);
	sodium_memzero(plain, len);
	free(plain);
	if (rc)
		return rc;
	rc = st_texts_put(t, index, sealed, slen);
	free(sealed);
	return rc;
}

int rt_audit(struct rt_core *core, st_txn *t, struct rt_result *res, Mailroom__AuditRecord *rec,
             const Mailroom__StoredMessage *m, const char *actor, int64_t now_ms,
             struct st_receipt *receipt)
{
	struct st_receipt local, *got = receipt ? receipt : &local;
	struct private_texts priv;
	int rc;

	rec->time_ms = now_ms;
	rec->actor = (char *)actor;
	if (res->import_actor) {
		/* An imported step: signed now, as the operator's, with the time
		 * it happened in the old system beside it. */
		rec->imported = 1;
		rec->effective_ms = now_ms;
		rec->time_ms = res->import_now_ms;
		if (strcmp(actor, "router") != 0)
			rec->actor = (char *)res->import_actor;
	}
	if (m) {
		rec->message_id = m->id;
		rec->channel = m->channel;
		if (!rec->queue || !*rec->queue)
			rec->queue = m->queue;
		rec->due_ms = m->reply_due_ms;
		rec->ack_due_ms = m->ack_due_ms;
		rec->due_provisional = m->due_provisional;
		rec->cal_version = m->cal_version;
	}
	texts_take(rec, m, &priv);
	rc = st_log_append(t, rec, got);
	texts_give_back(rec, &priv);
	if (rc)
		return rc;
	if (priv.any && (rc = texts_store(core, t, got->index, &priv)))
		return rc;
	if (m && (rc = rt_notice_record(core, t, res, rec, m, got->index, now_ms)))
		return rc;
	return rt_note_record(res, got->index);
}

