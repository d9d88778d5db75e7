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

/* POST /v1/hotline/orders body -> HotlineOrder and the SubmitReq that
 * carries it (channel hotline). Same ownership rule as above. co_units is
 * malloc'd: free it with pj_order_clear. */
int pj_parse_order(const char *body, size_t len, json_t **root, Mailroom__SubmitReq *out,
                   Mailroom__HotlineOrder *order, Mailroom__Contact *contact,
                   struct pj_error *err);
void pj_order_clear(Mailroom__HotlineOrder *order);

enum pj_audience {
	PJ_CITIZEN,   /* status, department, times, reply; no contact, no handler */
	PJ_HANDLER,   /* everything but a confidential 12345 citizen */
};
/* New reference; NULL only on allocation failure. Times are RFC 3339
 * +08:00 strings; ids are text. */
json_t *pj_view(const Mailroom__MessageView *v, enum pj_audience who);
json_t *pj_receipt(const Mailroom__Receipt *r);
json_t *pj_lease(const Mailroom__Lease *l);
/* {"error":{"code":..,"message":..}} */
json_t *pj_error_json(const char *code, const char *message);

const char *pj_status_name(int status);   /* "queued", "leased", "replied", "closed" */

#endif
