/* The vocabulary of disclosure applications (依申请公开), shared by the
 * JSON edge, the router and the auditor: applicant kinds, submission
 * modes, the 21 statutory outcomes (annual-report rows in order), review
 * kinds and results. Each list ends with NULL. */
#ifndef PB_DISC_H
#define PB_DISC_H

#define PB_DISC_NKINDS 6
#define PB_DISC_NOUTCOMES 21
#define PB_DISC_NMODES 5
#define PB_DISC_NREVIEW_KINDS 3
#define PB_DISC_NRESULTS 4

extern const char *const pb_disc_kinds[PB_DISC_NKINDS + 1];
extern const char *const pb_disc_outcomes[PB_DISC_NOUTCOMES + 1];
extern const char *const pb_disc_modes[PB_DISC_NMODES + 1];
extern const char *const pb_disc_forms[];
extern const char *const pb_disc_deliveries[];
extern const char *const pb_disc_id_types[];
extern const char *const pb_disc_review_kinds[PB_DISC_NREVIEW_KINDS + 1];
extern const char *const pb_disc_results[PB_DISC_NRESULTS + 1];   /* pending last */

/* Position of s in list, or -1 (also for s NULL). */
int pb_disc_index(const char *const *list, const char *s);

#endif
