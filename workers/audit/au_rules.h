/* What au_rules.c (the message state machine) and au_clock.c (the
 * deadline checks) share: the state kept per message while the walk goes
 * through the log. */
#ifndef AU_RULES_H
#define AU_RULES_H

#include "au_judge.h"
#include "au_tlog.h"
#include "pb_id.h"

#include <sodium.h>

/* PH_MERGED: closed into a primary (并单) until an UNMERGED. */
enum { PH_NEW, PH_RECEIVED, PH_QUEUED, PH_LEASED, PH_REPLIED, PH_MERGED };
enum { K_ACK, K_REPLY };

struct kclock {
	int64_t due;               /* in force */
	uint32_t depth;            /* pause depth */
	uint8_t steps;             /* escalation steps written for this due */
	uint8_t seen;              /* a record carried this clock */
	/* Its inputs as the last record carried them: the next record's
	 * change to them is checked against the event (au_clock.c). */
	int64_t started, since;
	int32_t span, extended, paused;
	int64_t group;             /* group_due_ms: only a MERGE_SETTLED moves it */
};

/* 协办: one assisting queue asked (au_case.c). */
#define AU_ASSIST_MAX 8
struct assist {
	uint64_t queue_h;
	int64_t due;
	uint8_t done;
};

/* A disclosure application's phase (DisclosurePhase). */
enum { DP_OPEN = 1, DP_AWAIT_CORRECTION, DP_AWAIT_FEE, DP_DECIDED, DP_DELIVERED };

/* What the rules keep of a disclosure application (au_disc.c). */
struct dstate {
	uint8_t phase;             /* DP_*, 0 for other channels */
	uint8_t confirmed;         /* the legal receipt is fixed (Art. 31) */
	uint8_t corrections;       /* asked; at most one */
	uint8_t corrected;         /* the correction arrived */
	uint8_t consults;          /* consultations open now */
	uint8_t extensions;
	uint8_t flagged, repeat_decided;
	int64_t party_due;         /* the correction's or the fee's deadline, while awaited */
	uint64_t decided_at;
};

struct mstate {
	uint8_t id[PB_ID_LEN];
	uint8_t phase;
	uint8_t acked;             /* the acknowledgement clock stopped */
	uint8_t recal;             /* clocks moved to a newer calendar */
	uint8_t cal_ok;            /* RECEIVED names the loaded calendar */
	uint8_t hotline;           /* a 12345 order: SIGNED, not LEASED, acknowledges */
	uint8_t files, verdicts;   /* attachments RECEIVED named, ATTACHMENT_SCANNED records */
	uint8_t imported;          /* RECEIVED was written by mailroom-admin import */
	uint8_t channel;           /* of RECEIVED */
	uint8_t referred;          /* REFERRED away: closed */
	uint8_t referral_new;      /* opened by a referral another message's REFERRED names */
	uint8_t pet_ch;            /* a petition: LEASED does not acknowledge it */
	uint8_t pet;               /* a transferred petition's stage (au_pet.c), 0 otherwise */
	uint8_t pet_ext;           /* its extension was given */
	int64_t pet_answered;      /* its latest answer */
	uint8_t rated, callback_open, published, veto, invited;   /* au_after.c */
	uint64_t received_at, leased_at, closed_at;
	int64_t received_ms, received_due, received_ack_due;
	uint64_t queue_h, holder_h, token_h;
	struct kclock clk[2];
	struct dstate d;
	/* 并单 (au_case.c): a merged-away message's primary (index + 1 into
	 * msgs); a primary's members now merged, and the MERGED records not
	 * yet settled with the earliest reply due among them. */
	uint32_t primary;
	uint16_t nmerged;
	uint8_t merging, overridden, nassist;
	int64_t group_min;
	struct assist as[AU_ASSIST_MAX];
};

/* A review or lawsuit on record (REVIEW_RECORDED), by message. */
struct rcase {
	uint32_t msg;              /* index into msgs */
	uint8_t kind;              /* index into pb_disc_review_kinds */
	uint8_t pending;
	uint64_t case_h;           /* keyed hash of case_no */
	int64_t filed_ms;
};

struct au_rules {
	const cal_set *cal;
	uint8_t cal_version[CAL_VERSION_LEN];
	uint8_t hkey[crypto_shorthash_KEYBYTES];
	struct mstate *msgs;
	size_t n, cap;
	uint32_t *slots;
	size_t nslots;             /* a power of two, kept at most half full */
	uint64_t skipped, skipped_first;
	struct rcase *cases;
	size_t ncases, capcases;
	const Mailroom__AuditRecord *r;   /* the record being checked */
	struct mstate *m;
	char *why;
	size_t wlen;
	uint64_t *at;
};

/* Shared by au_rules.c and au_disc.c. */
uint64_t au_hash_str(const struct au_rules *R, const char *s);
uint64_t au_hash_bytes(const struct au_rules *R, const void *p, size_t n);
/* The message already followed, or NULL. */
struct mstate *au_rules_find(struct au_rules *R, const uint8_t id[PB_ID_LEN]);
/* A state finding about the current record; returns AU_EXIT_STATE. */
int au_state(struct au_rules *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The record is by the lease holder while the message is leased; what
 * names the event in the finding. */
int au_by_holder(struct au_rules *R, const char *what);
/* The actor is the router / may act as a handler (an operator's
 * imported record stands for one). */
int au_as_router(const struct au_rules *R);
int au_as_handler(const struct au_rules *R);

/* Disclosure applications (au_disc.c): the checks of RECEIVED, and of any
 * other record about a disclosure application or naming a disclosure
 * event. *handled is 0 when the generic rules go on with the record. */
int au_disc_received(struct au_rules *R);
int au_disc_record(struct au_rules *R, int ev, int *handled);
/* Repeats (REPEAT_FLAGGED by the router naming an earlier message of the
 * same kind, REPEAT_DECIDED once) and referral (REFERRED), for every
 * channel that has them (au_disc.c). */
int au_repeat_flagged(struct au_rules *R);
int au_repeat_decided(struct au_rules *R);
int au_referred(struct au_rules *R);

/* 并单 and 主办/协办 (au_case.c): the rules of their events, and the
 * check that the lead's answer waits for the opinions. *handled is 0
 * when the record is none of theirs. */
int au_case_record(struct au_rules *R, int ev, int *handled);
int au_case_answer(struct au_rules *R);

/* Transferred petitions (au_pet.c): RECEIVED, then their steps, as
 * au_disc_record. au_pet_event: ev is one of the petition events. */
void au_pet_received(struct au_rules *R);
int au_pet_record(struct au_rules *R, int ev, int *handled);
int au_pet_event(int ev);

/* A finding about the current message, prefixed with its id; returns
 * cls. */
int au_finding(struct au_rules *R, int cls, uint64_t at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Deadline checks of the current record, after its state is applied;
 * first: it is the first record carrying its kind of clock. */
int au_deadlines(struct au_rules *R, int first);
/* Ratings, call-backs, published answers and the veto line (au_after.c):
 * 1 for their events, which an answered message (also a decided
 * application) still takes, but for REOPENED and VETO_ALERT. */
int au_after_event(int ev);
int au_after_answered_ok(int ev);
int au_after_record(struct au_rules *R, int ev);

#endif
