/* The vocabulary of disclosure applications (依申请公开) as the records
 * spell it: applicant kinds, submission modes, the 21 statutory outcome
 * codes in the annual report's row order, and reviews. Defined in
 * au_disc.c; the rules and the report share it. */
#ifndef AU_DISC_H
#define AU_DISC_H

#define AU_NKINDS 6
#define AU_NMODES 5
#define AU_NOUTCOMES 21
#define AU_NGROUPS 6
#define AU_NREVIEW_KINDS 3
#define AU_NRESULTS 4

/* natural_person, commercial_enterprise, ..., other_org (the columns). */
extern const char *const au_kinds[AU_NKINDS];
extern const char *const au_modes[AU_NMODES];
/* disclosed, partly_disclosed, withheld.state_secret, ... (the rows). */
extern const char *const au_outcomes[AU_NOUTCOMES];
/* The group (（一）..（六）) of each outcome, and each group's name:
 * disclosed, partly_disclosed, withheld, unavailable, not_processed,
 * other. */
extern const unsigned char au_outcome_group[AU_NOUTCOMES];
extern const char *const au_groups[AU_NGROUPS];
/* review, litigation_direct, litigation_after_review. */
extern const char *const au_review_kinds[AU_NREVIEW_KINDS];
/* upheld, corrected, other, pending. */
extern const char *const au_results[AU_NRESULTS];
#define AU_RESULT_PENDING 3

/* Index of s in a table of n names, or -1 (NULL never matches). */
int au_code_index(const char *const *table, int n, const char *s);

#endif
