/* Disclosure applications written record by record as router/README.md
 * ("Disclosure applications") says the router writes them, on top of the
 * tlog.h stores: each step at the fixture's clock (s->now), its reply
 * clock moved as the router moves it. An imported application's records
 * are by operator:migrate at their original time (effective_ms), written
 * at DC_IMPORT_MS. */
#ifndef WK_TEST_DISC_H
#define WK_TEST_DISC_H

#include "tlog.h"

struct dc_app {
	struct tl_msg m;
	int imported;
	int consults;
	int64_t receipt_ms;
};

/* 2026-06-01 10:00 Beijing: when the fixture's imports run. */
#define DC_IMPORT_MS 1780279200000LL

/* RECEIVED and ROUTED for a new application at s->now (its receipt). */
void dc_receive(struct tl_store *s, struct dc_app *a, const char *kind, const char *mode,
                int imported);
/* A record about a as the router (or the import) fills it. */
void dc_rec(struct tl_store *s, struct dc_app *a, Mailroom__AuditRecord *r, int event,
            const char *actor);
/* The steps; each writes one record. at: the receipt or arrival instant. */
void dc_confirm(struct tl_store *s, struct dc_app *a, int64_t at);
void dc_correction_request(struct tl_store *s, struct dc_app *a, int wd);
void dc_correction_received(struct tl_store *s, struct dc_app *a, int64_t at);
void dc_consult(struct tl_store *s, struct dc_app *a);
void dc_consult_done(struct tl_store *s, struct dc_app *a);
void dc_fee(struct tl_store *s, struct dc_app *a, int wd);
void dc_fee_paid(struct tl_store *s, struct dc_app *a);
void dc_extend(struct tl_store *s, struct dc_app *a, int days);
/* The decision by the lease holder (leased first when live and not
 * leased), or by the import. basis NULL: none. */
void dc_decide(struct tl_store *s, struct dc_app *a, const char *outcome, const char *basis);
void dc_deliver(struct tl_store *s, struct dc_app *a);
void dc_review(struct tl_store *s, struct dc_app *a, const char *kind, const char *case_no,
               int64_t filed, const char *result, int64_t decided);
void dc_flag(struct tl_store *s, struct dc_app *a, const struct dc_app *earlier);
void dc_repeat_decide(struct tl_store *s, struct dc_app *a, const char *verdict);

/* The working day n working days after the date of ms, at 10:00. */
int64_t dc_wd_after(const struct tl_store *s, int64_t ms, int n);

#endif
