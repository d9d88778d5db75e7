/* pj: the JSON edge. Turns citizen and 12345 JSON into protobuf requests
 * with every rule checked, and turns protobuf views back into JSON.
 * Only the gateway and the command-line tools use it; the router never
 * sees JSON. */
#ifndef PJ_H
#define PJ_H

#include "mailroom.pb-c.h"

#include <jansson.h>
#include <stddef.h>

/* A precise refusal: code is stable ("unknown_field", "invalid_field",
 * "missing_field", "invalid_json", "invalid_utf8", ...); message names the
 * field, e.g. "subject: 1-200 characters". */
struct pj_error {
	char code[32];
	char message[200];
};

/* Characters (code points) in valid UTF-8, or -1 when not valid UTF-8
 * (overlongs, surrogates and > U+10FFFF are invalid). */
long pj_utf8_chars(const char *s, size_t len);
int pj_valid_phone(const char *s);   /* Chinese mobile or landline */
int pj_valid_email(const char *s);

/* POST /v1/messages body -> SubmitReq (channel mailbox, consultation or
 * complaint). Strings in *out point into *root, which the caller keeps
 * alive and frees with json_decref after use. Returns 0 or -1 with *err;
 * on -1 *root is NULL. A JSON null counts as an absent field. */
int pj_parse_message(const char *body, size_t len, json_t **root, Mailroom__SubmitReq *out,
                     Mailroom__Contact *contact, struct pj_error *err);

/* The optional "attachments" of a message: up to cap upload handles (64
 * lowercase hex digits each), pointing into root. too_many_files past cap. */
int pj_parse_attachments(json_t *root, const char **handles, size_t cap, size_t *n,
                         struct pj_error *err);

/* POST /v1/hotline/orders body -> HotlineOrder and the SubmitReq that
 * carries it (channel hotline). Same ownership rule as above. co_units is
 * malloc'd: free it with pj_order_clear. */
int pj_parse_order(const char *body, size_t len, json_t **root, Mailroom__SubmitReq *out,
                   Mailroom__HotlineOrder *order, Mailroom__Contact *contact,
                   struct pj_error *err);
void pj_order_clear(Mailroom__HotlineOrder *order);

/* POST /v1/petition/transfers body -> PetitionTransfer and the SubmitReq
 * that carries it (channel petition). Same ownership rule as above. */
int pj_parse_petition(const char *body, size_t len, json_t **root, Mailroom__SubmitReq *out,
                      Mailroom__PetitionTransfer *p, Mailroom__Contact *contact,
                      struct pj_error *err);

/* Identity documents. 18 characters each, check character verified:
 * resident_id (GB 11643: 17 digits then a digit or X, ISO 7064 MOD 11-2,
 * and a real birth date) and uscc (统一社会信用代码, GB 32100: the
 * 31-character alphabet without I, O, S, V, Z, MOD 31). Upper case only. */
int pj_valid_resident_id(const char *s);
int pj_valid_uscc(const char *s);

/* What a disclosure application's SubmitReq points into: keep it (and
 * *root) alive until the request is packed. */
#define PJ_SUBJECT_CHARS 40
struct pj_disclosure {
	Mailroom__DisclosureApp app;
	Mailroom__Applicant applicant;
	Mailroom__Contact contact;
	char subject[PJ_SUBJECT_CHARS * 4 + 1];   /* the description's first 40 characters */
};

/* POST /v1/disclosure-applications body -> SubmitReq (channel disclosure,
 * subject and body from the description, disclosure set). Same ownership
 * rule as pj_parse_message; nothing to free but *root. */
int pj_parse_disclosure(const char *body, size_t len, json_t **root, Mailroom__SubmitReq *out,
                        struct pj_disclosure *d, struct pj_error *err);

/* One line of a mailroom-admin import file -> ImportReq (README.md,
 * "Import"). Strings point into *root; the event arrays are malloc'd:
 * pj_import_clear frees them (also after a refusal, and twice is fine). */
#define PJ_IMPORT_EVENTS_MAX 256
struct pj_import {
	Mailroom__ImportReq req;
	Mailroom__SubmitReq submit;
	Mailroom__Contact contact;
	struct pj_disclosure d;
	Mailroom__ImportEvent *ev;          /* n_events of each */
	Mailroom__ImportEvent **evp;
	Mailroom__DisclosureReq *steps;
	Mailroom__ReviewCase *reviews;
};
int pj_parse_import(const char *line, size_t len, json_t **root, struct pj_import *im,
                    struct pj_error *err);
void pj_import_clear(struct pj_import *im);

/* Ratings (pj_rating.c): the five levels' names, 1 very_satisfied ..
 * 5 very_dissatisfied (NULL / 0 when none), and the body of POST
 * /v1/messages/{code}/rating: {"level": NAME, "comment": optional, 0-500
 * characters}. A level that is no level: invalid_level. comment points
 * into *root. */
const char *pj_rating_name(uint32_t level);
uint32_t pj_rating_parse(const char *s);
int pj_parse_rating(const char *body, size_t len, json_t **root, uint32_t *level,
                    const char **comment, struct pj_error *err);

/* One of the 21 statutory outcome codes (pb_disc_outcomes)? */
int pj_outcome_valid(const char *s);

enum pj_audience {
	PJ_CITIZEN,   /* status, department, times, reply; no contact, no handler */
	PJ_HANDLER,   /* everything but a confidential 12345 citizen */
};
/* Compact JSON written straight into one growing buffer, byte for byte as
 * json_dumps(JSON_COMPACT) would write the same document (pj_dump.c).
 * Start from {0}; any failure (allocation, text that must be UTF-8 and
 * is not) sticks in failed, checked once by pj_out_end. */
struct pj_out {
	char *p;
	size_t len, cap;
	int failed;
};
void pj_out_raw(struct pj_out *o, const char *s, size_t n);   /* as it is */
void pj_out_str(struct pj_out *o, const char *s, size_t n);   /* a string; not UTF-8 fails */
/* A string; -1, with nothing written and o not failed, when not UTF-8. */
int pj_out_text(struct pj_out *o, const char *s, size_t n);
void pj_out_int(struct pj_out *o, long long v);
void pj_out_bool(struct pj_out *o, int b);   /* true or false */
/* '"key":', after a ',' unless the object was just opened; key is plain
 * ASCII. */
void pj_out_key(struct pj_out *o, const char *key);
/* The text, NUL-terminated, its length in *len (may be NULL); malloc'd.
 * NULL (o's buffer freed) when anything failed. */
char *pj_out_end(struct pj_out *o, size_t *len);

/* The views (pj_view.c). Times are RFC 3339 +08:00 strings, an unset
 * time null; ids are text. Stored text that is not UTF-8 shows as null.
 *
 * pj_view_write writes the view as an object left open ("{..." without
 * its "}"), so that an answer adds its own members after the view's and
 * closes it: the gateway's answers, one buffer and no tree. With
 * PJ_VIEW_INTAKE a disclosure shows as pj_disclosure_intake's short form,
 * in the same place. */
#define PJ_VIEW_INTAKE 0x1
void pj_view_write(struct pj_out *o, const Mailroom__MessageView *v, enum pj_audience who,
                   unsigned flags);
void pj_receipt_write(struct pj_out *o, const Mailroom__Receipt *r);   /* null when r is */

/* The same as jansson trees, read back from that text: new references,
 * NULL only on allocation failure (or, for a receipt, a proof that is
 * not UTF-8). */
json_t *pj_view(const Mailroom__MessageView *v, enum pj_audience who);
/* What the 201 of an application shows of it:
 * {"phase","legal_receipt_date","receipt_confirmed"}; null when v has no
 * disclosure state. */
json_t *pj_disclosure_intake(const Mailroom__MessageView *v);
json_t *pj_receipt(const Mailroom__Receipt *r);
json_t *pj_lease(const Mailroom__Lease *l);
/* {"error":{"code":..,"message":..}} */
json_t *pj_error_json(const char *code, const char *message);
/* doc as json_dumps(doc, JSON_COMPACT) writes it, byte for byte, with its
 * length in *len (may be NULL); malloc'd, NULL on allocation failure or a
 * string that is not UTF-8 (pj_dump.c). */
char *pj_dumps(const json_t *doc, size_t *len);
/* A growing text's room: *p (malloc'd or NULL) holds at least need bytes
 * after it, doubling from 2 KiB; -1, *p untouched, when it cannot. */
int pj_grow(char **p, size_t *cap, size_t need);

const char *pj_status_name(int status);   /* "queued", "leased", "replied", "closed" */

#endif
