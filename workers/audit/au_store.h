/* The store check (au_store.c): the stored messages (msg) against what
 * the log commits to. Only a store holds the texts; a bundle never does. */
#ifndef AU_STORE_H
#define AU_STORE_H

#include "au.h"
#include "pb_id.h"

struct au_store_verdict {
	int fail;                      /* AU_EXIT_OK or AU_EXIT_STORE */
	int has_id;                    /* 0: a value in msg that does not parse */
	uint8_t id[PB_ID_LEN];         /* the message found wrong */
	char track[PB_TRACK_TEXT_LEN + 1];   /* its tracking code, "" when not stored */
	const char *field;             /* "subject or body", "reply_text", "status", ... */
	int has_at;
	uint64_t at;                   /* the record the expectation comes from */
	char text[384];
	uint64_t messages;             /* stored messages checked */
};

/* Checks the stored messages against records [0, n) of the log read in t
 * (one snapshot, so both sides are of the same instant). only: one
 * message (trail), NULL for all. store_dir: where the attachment files
 * are (NULL: not checked). PB_OK when the check ran (see v->fail),
 * another code when it could not read. */
int au_store_check(st_txn *t, uint64_t n, const uint8_t *only, const char *store_dir,
                   struct au_store_verdict *v);
/* The same check in two steps, for a walk that reads the log anyway
 * (verify): each record of [0, n) in order into the fold, then the
 * stored messages against it. */
struct au_store_fold;
int au_store_fold_new(const uint8_t *only, struct au_store_fold **out);
/* PB_OK or PB_ENOMEM. */
int au_store_fold_record(struct au_store_fold *f, const Mailroom__AuditRecord *r);
int au_store_fold_check(struct au_store_fold *f, st_txn *t, const char *store_dir,
                        struct au_store_verdict *v);
void au_store_fold_free(struct au_store_fold *f);
/* "FAIL store: message <id> (tracking <code>): <field>: ..." or the JSON
 * failure; returns AU_EXIT_STORE. */
int au_store_print_fail(const struct au_store_verdict *v, int json);
/* The JSON failure's fields (ok, fail, id, tracking_code, field, at,
 * message) as an object. */
json_t *au_store_fail_json(const struct au_store_verdict *v);

#endif
