/* What the auditor adds to the shared vocabulary of disclosure
 * applications (pb_disc.h: the kinds are the report's columns, the 21
 * outcomes its rows, in order): the outcome groups. The rules
 * (au_disc.c) and the report share it. */
#ifndef AU_DISC_H
#define AU_DISC_H

#include "mailroom.pb-c.h"
#include "pb_disc.h"
#include "st.h"

#define AU_NKINDS PB_DISC_NKINDS
#define AU_NMODES PB_DISC_NMODES
#define AU_NOUTCOMES PB_DISC_NOUTCOMES
#define AU_NGROUPS 6
#define AU_NREVIEW_KINDS PB_DISC_NREVIEW_KINDS
#define AU_NRESULTS PB_DISC_NRESULTS

/* The group (（一）..（六）) of each outcome, and each group's name:
 * disclosed, partly_disclosed, withheld, unavailable, not_processed,
 * other. */
extern const unsigned char au_outcome_group[AU_NOUTCOMES];
extern const char *const au_groups[AU_NGROUPS];
#define AU_RESULT_PENDING 3

/* Index of s in a table of n names, or -1 (NULL never matches). */
int au_code_index(const char *const *table, int n, const char *s);
/* The outcomes a disclosure application referred away is DECIDED with
 * (router/rt_refer.c). */
extern const char *const au_referral_outcomes[2];
/* How a review names its case: the number (records before commitments) or
 * its commitment in hex, equal for equal numbers of one message; NULL when
 * it names none. buf holds the hex. */
const char *au_case_key(const Mailroom__ReviewCase *c, char buf[2 * ST_HASH_LEN + 1]);

#endif
