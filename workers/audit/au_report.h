/* report annual / report channels: the statutory annual report's tables
 * 三 and 四 and the channel counts, computed from verified audit records
 * only (au_report.c), printed in md, html, csv or json (au_report_fmt.c).
 * The definitions are in workers/README.md, "report". */
#ifndef AU_REPORT_H
#define AU_REPORT_H

#include "au_disc.h"
#include "au_tlog.h"

#include <stdint.h>

/* Section 三's rows; the outcome rows are in pb_disc_outcomes order. */
enum {
	AU_S3_NEW,
	AU_S3_CARRIED_IN,
	AU_S3_OUTCOME0,
	AU_S3_TOTAL = AU_S3_OUTCOME0 + AU_NOUTCOMES,
	AU_S3_CARRIED_OUT,
	AU_S3_ROWS
};
#define AU_S3_COLS (AU_NKINDS + 1)   /* the six kinds, then the total */

/* Channels in report order, and their counts. */
#define AU_NCHANNELS 6
enum { AU_CH_RECEIVED, AU_CH_ANSWERED, AU_CH_ON_TIME, AU_CH_OVERDUE, AU_CH_OPEN, AU_CH_COUNTS };
/* 协办: assisting opinions asked in the range, apart from the channel
 * counts (a co-handled case counts once, for its lead queue). */
enum { AU_AS_ASKED, AU_AS_ON_TIME, AU_AS_LATE, AU_AS_OVERDUE, AU_AS_OPEN, AU_AS_COUNTS };
extern const char *const au_assist_counts[AU_AS_COUNTS];
extern const char *const au_channels[AU_NCHANNELS];
extern const char *const au_channel_counts[AU_CH_COUNTS];

/* The four checks of annual-report.md, in order. */
#define AU_NCHECKS 4
extern const char *const au_check_names[AU_NCHECKS];

enum { AU_FMT_MD, AU_FMT_HTML, AU_FMT_CSV, AU_FMT_JSON };

/* Satisfaction per department (queue) and channel (au_report_sat.c). */
struct au_sat {
	char queue[PB_NAME_MAX];
	int channel;               /* Channel */
	uint64_t rated, satisfied; /* ratings in the range; levels 1-3 */
	uint64_t owed;             /* bad ratings (4, 5) under a name */
	uint64_t done, on_time;    /* of those, called back; by the due instant */
	uint64_t reopened;         /* re-openings in the range */
};

struct au_report {
	int annual;                /* tables 三 and 四 too, for year */
	int year;
	int32_t from, to;          /* the range, days (Asia/Shanghai), both included */
	int64_t now;               /* --now, or the clock; 0: judge at the range's end */
	int64_t as_of;             /* set: the instant judged, the range's end or now */
	uint64_t s3[AU_S3_ROWS][AU_S3_COLS];
	uint64_t groups[AU_NGROUPS][AU_S3_COLS];
	uint64_t s4[AU_NREVIEW_KINDS][AU_NRESULTS + 1];   /* the fifth: total */
	uint64_t ch[AU_NCHANNELS][AU_CH_COUNTS];
	uint64_t assist[AU_AS_COUNTS];
	int ok[AU_NCHECKS];
	struct au_sat *sat;        /* report channels: sorted by queue, channel */
	size_t nsat, capsat;
};

/* Reads every record of s (verified before) and fills rep, whose annual,
 * year, from and to are set. PB_OK, PB_ENOMEM, or an error reading s. */
int au_report_compute(const struct au_src *s, struct au_report *rep);
/* The satisfaction rows, record by record, then sorted; msgs holds
 * struct-private per-message state (au_report_sat.c). */
struct au_idtab;
int au_sat_record(struct au_report *rep, struct au_idtab *msgs, const Mailroom__AuditRecord *r);
void au_sat_finish(struct au_report *rep);
size_t au_sat_msg_size(void);
/* Frees what au_report_compute allocated in rep. */
void au_report_free(struct au_report *rep);
/* Prints rep on stdout. AU_EXIT_OK or AU_EXIT_OTHER (cannot write). */
int au_report_print(const struct au_report *rep, int format);

#endif
