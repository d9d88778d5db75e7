/* What au_rules.c (the message state machine) and au_clock.c (the
 * deadline checks) share: the state kept per message while the walk goes
 * through the log. */
#ifndef AU_RULES_H
#define AU_RULES_H

#include "au_tlog.h"
#include "pb_id.h"

#include <sodium.h>

enum { PH_NEW, PH_RECEIVED, PH_QUEUED, PH_LEASED, PH_REPLIED };
enum { K_ACK, K_REPLY };

struct kclock {
	int64_t due;               /* in force */
	uint32_t depth;            /* pause depth */
	uint8_t steps;             /* escalation steps written for this due */
	uint8_t seen;              /* a record carried this clock */
};

struct mstate {
	uint8_t id[PB_ID_LEN];
	uint8_t phase;
	uint8_t acked;             /* the acknowledgement clock stopped */
	uint8_t recal;             /* clocks moved to a newer calendar */
	uint8_t cal_ok;            /* RECEIVED names the loaded calendar */
	uint8_t hotline;           /* a 12345 order: SIGNED, not LEASED, acknowledges */
	uint64_t received_at, leased_at, closed_at;
	int64_t received_ms, received_due, received_ack_due;
	uint64_t queue_h, holder_h, token_h;
	struct kclock clk[2];
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
	const Mailroom__AuditRecord *r;   /* the record being checked */
	struct mstate *m;
	char *why;
	size_t wlen;
	uint64_t *at;
};

/* A finding about the current message, prefixed with its id; returns
 * cls. */
int au_finding(struct au_rules *R, int cls, uint64_t at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Deadline checks of the current record, after its state is applied;
 * first: it is the first record carrying its kind of clock. */
int au_deadlines(struct au_rules *R, int first);

#endif
