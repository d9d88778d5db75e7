/* The one definition of answered, on time, overdue and open, as of an
 * instant, from the verified audit records alone. overdue, report and
 * trail all judge through it (workers/README.md, "Judging a message").
 *
 * Every time is the event's effective time (au_when): an imported step
 * happened when the old system says, not when it was imported. A record
 * whose effective time is after the instant judged is not seen. */
#ifndef AU_JUDGE_H
#define AU_JUDGE_H

#include "au.h"
#include "au_idtab.h"

#include <stdint.h>

/* One clock (reply or acknowledgement) as of the instant judged. */
struct au_jclock {
	int64_t due;               /* in force (at the answer when met); 0 = no such clock */
	int provisional;
	int64_t met;               /* answered (acknowledged); 0 = not by the instant */
	int paused;                /* stood paused at met, or at the instant when open */
	int64_t paused_since;
};

struct au_jmsg {
	uint8_t id[PB_ID_LEN];
	int channel;               /* MAILROOM__CHANNEL__* */
	char queue[PB_NAME_MAX];
	int received;              /* RECEIVED by the instant */
	int64_t receipt;           /* legal receipt: the application's receipt_ms, else RECEIVED */
	int64_t closed;            /* withdrawn unanswered (12345 REVOKED); 0 = not */
	struct au_jclock reply, ack;
	/* 并单: the primary this message is merged into, and a primary's
	 * members, as a list (element index + 1; 0 ends it). */
	uint32_t primary, members, next_member;
};

enum au_jstate {
	AU_J_UNKNOWN,              /* not received by the instant */
	AU_J_OPEN,                 /* open, not past due */
	AU_J_OPEN_OVERDUE,         /* open and past due */
	AU_J_ON_TIME,              /* answered by the due in force then (or while paused) */
	AU_J_LATE,                 /* answered after it */
	AU_J_CLOSED,               /* withdrawn unanswered: no clock to judge */
};

/* The instant an event counts from: effective_ms when set (imports,
 * back-dated receipts), else time_ms (au_rules.c). */
int64_t au_when(const Mailroom__AuditRecord *r);

struct au_judge {
	int64_t as_of;
	struct au_idtab msgs;      /* struct au_jmsg, in the order the log names them */
};

void au_judge_init(struct au_judge *j, int64_t as_of);
void au_judge_free(struct au_judge *j);
/* Applies one verified record, in log order. PB_OK or PB_ENOMEM. */
int au_judge_record(struct au_judge *j, const Mailroom__AuditRecord *r);
static inline size_t au_judge_count(const struct au_judge *j) { return j->msgs.n; }
static inline struct au_jmsg *au_judge_at(const struct au_judge *j, size_t i)
{
	return au_idtab_at(&j->msgs, i);
}
/* The message for id, NULL when the log never named it. */
const struct au_jmsg *au_judge_find(const struct au_judge *j, const uint8_t id[PB_ID_LEN]);

/* The verdict on one of m's clocks as of j's instant; *end (may be NULL)
 * is the instant the clock was judged at: the answer, the start of a
 * pause still running, or the instant. */
enum au_jstate au_judge_clock(const struct au_judge *j, const struct au_jmsg *m,
                              const struct au_jclock *c, int64_t *end);
static inline int au_judge_overdue(enum au_jstate s)
{
	return s == AU_J_LATE || s == AU_J_OPEN_OVERDUE;
}
/* "open", "overdue", "on_time", "late", "closed" or "unknown". */
const char *au_judge_name(enum au_jstate s);

#endif
