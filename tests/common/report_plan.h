/* What the tests of `mailroom-audit report` share: the plan a data-set
 * generator records as it goes (each message's channel, applicant kind,
 * receipt, decision and the deadline in force after each step; each
 * review or lawsuit as its last record has it), the tables that plan
 * implies by the definitions of workers/README.md ("report"), counted
 * here without the auditor's code, and the cell-by-cell comparison with
 * the report's JSON.
 *
 * The unit test (tests/unit/workers/test_report.c) fills a plan while it
 * writes records with the store API; the integration test
 * (tests/integration/test_report.c) while it writes an import file for
 * the real router. */
#ifndef MR_TEST_REPORT_PLAN_H
#define MR_TEST_REPORT_PLAN_H

#include <jansson.h>
#include <stdint.h>

#define RP_NKINDS 6
#define RP_NCODES 21
#define RP_NCHANNELS 6
#define RP_NRKINDS 3
#define RP_NRESULTS 4
#define RP_RESULT_PENDING 3
#define RP_CH_DISCLOSURE 5
#define RP_STATES 24

/* Section 三's rows in this order: new, carried_in, the 21 outcomes,
 * total, carried_out. */
#define RP_ROW_NEW 0
#define RP_ROW_CARRIED_IN 1
#define RP_ROW_OUTCOME0 2
#define RP_ROW_TOTAL 23
#define RP_ROW_CARRIED_OUT 24
#define RP_ROWS 25

extern const char *const rp_kinds[RP_NKINDS];
extern const char *const rp_codes[RP_NCODES];
extern const char *const rp_channels[RP_NCHANNELS];   /* disclosure last */
extern const char *const rp_rkinds[RP_NRKINDS];
extern const char *const rp_results[RP_NRESULTS];     /* pending last */

/* One message: what was done to it, and when. */
struct rp_msg {
	uint8_t id[16];            /* the message id, where the generator knows it */
	int ch;                    /* index into rp_channels */
	int kind;                  /* disclosure: index into rp_kinds, else -1 */
	int outcome;               /* index into rp_codes; -1: never decided */
	int64_t receipt;           /* the instant that counts as received */
	int64_t answered;          /* the first answer (reply, decision, return); 0: none */
	int64_t answer_due;        /* the due instant in force when answered */
	int answer_paused;         /* answered while the clock stood paused: on time */
	int64_t revoked;           /* 12345 orders withdrawn; 0: never */
	int nst;
	/* After each step, from the receipt on: its time, the reply clock's
	 * due instant and whether the clock stood paused. */
	struct { int64_t t, due; int paused; } st[RP_STATES];
};

/* One review or lawsuit, as its last record gives it. */
struct rp_case {
	int kind, result;          /* rp_rkinds, rp_results */
	int64_t filed, decided;    /* decided 0 while pending */
};

struct rp_plan {
	struct rp_msg *msgs;
	int nmsgs, capmsgs;
	struct rp_case *cases;
	int ncases, capcases;
};

struct rp_expect {
	long s3[RP_ROWS][RP_NKINDS + 1];   /* the six kinds, then total */
	long s4[RP_NRKINDS][RP_NRESULTS + 1];
	long ch[RP_NCHANNELS][5];          /* received, answered, on_time, overdue, open */
};

/* A new zeroed message or case at the end of the plan (asserts room). */
struct rp_msg *rp_msg_new(struct rp_plan *p);
struct rp_case *rp_case_new(struct rp_plan *p);
/* One more state of m's reply clock. */
void rp_push(struct rp_msg *m, int64_t t, int64_t due, int paused);

/* How the auditor judges m as of the instant at (workers/README.md,
 * "Judging a message"), counted from the plan. */
enum { RP_J_UNKNOWN, RP_J_OPEN, RP_J_OVERDUE, RP_J_ON_TIME, RP_J_LATE, RP_J_CLOSED };
int rp_judge(const struct rp_msg *m, int64_t at);

/* The numbers the plan implies for year's tables, and its channel
 * counts for the days from..to (both included). */
void rp_expect(const struct rp_plan *p, int year, int32_t from, int32_t to, struct rp_expect *e);

/* Every cell of `report annual --format json` for year against the plan:
 * both tables, every channel count, and the four checks passed. Adds to
 * *nonzero the number of expected cells that are not zero (to show the
 * data set is not trivial). */
void rp_check_annual(const struct rp_plan *p, int year, json_t *doc, int *nonzero);
/* The "channels" object of a report against e. */
void rp_check_channels(json_t *channels, const struct rp_expect *e, const char *what);

#endif
