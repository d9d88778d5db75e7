/* Helpers shared by pj_message.c and pj_order.c: loading a body and
 * reading one typed, length-checked field at a time. Each reader returns
 * 0 or -1 with *err filled; a JSON null counts as absent. */
#ifndef PJ_INT_H
#define PJ_INT_H

#include "pj.h"

#include <stdint.h>
#include <string.h>

/* Text flags. */
#define PJ_LINES 0x1      /* \n, \r and \t allowed (free text) */
#define PJ_NOBLANK 0x2    /* refuse text made only of white space */

int pj_fail(struct pj_error *err, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* UTF-8 check on the raw bytes, then jansson with duplicate keys and
 * \u0000 refused; the top level must be an object. */
int pj_load(const char *body, size_t len, json_t **root, struct pj_error *err);

/* Every key of obj must be in allowed (NULL-terminated). */
int pj_known_keys(json_t *obj, const char *path, const char *const *allowed,
                  struct pj_error *err);

/* The value of key, or NULL when absent or null; missing_field when
 * required and absent. */
int pj_member(json_t *obj, const char *path, const char *key, int required, json_t **out,
              struct pj_error *err);

/* A string of min..max characters. *out stays untouched when absent. */
int pj_text(json_t *obj, const char *path, const char *key, int required, long min, long max,
            int flags, const char **out, struct pj_error *err);
/* One of values (NULL-terminated). */
int pj_enum(json_t *obj, const char *path, const char *key, int required,
            const char *const *values, const char **out, struct pj_error *err);
/* RFC 3339 with an offset. */
int pj_time(json_t *obj, const char *path, const char *key, int required, int64_t *ms,
            struct pj_error *err);
int pj_bool(json_t *obj, const char *path, const char *key, int required, int *out,
            struct pj_error *err);
/* Integer in lo..hi. */
int pj_int(json_t *obj, const char *path, const char *key, int required, long long lo,
           long long hi, long long *out, struct pj_error *err);

/* The optional top-level "contact" of obj ({name, phone, email}, checked
 * as for messages); *present says whether it was there. */
int pj_parse_contact(json_t *obj, Mailroom__Contact *contact, int *present,
                     struct pj_error *err);

/* The fields of a disclosure application in obj (applicant, description,
 * form, delivery, submission_mode, purpose) into out and d; the caller
 * checks obj's keys. Shared by the HTTP body and the import line. */
int pj_disclosure_fields(json_t *obj, const char *path, Mailroom__SubmitReq *out,
                         struct pj_disclosure *d, struct pj_error *err);

/* Text a word (8 bytes) at a time, pj_text.c and pj_dump.c: flags in the
 * high bit of each byte that is c, or below c (the usual "has a zero
 * byte" tricks; the lowest flag is always exact, those above it may not
 * be), and how many bytes come before the first flag (8 when none; 0 on a
 * big-endian machine, which then goes byte by byte). */
#define PJ_ONES 0x0101010101010101ULL
#define PJ_HIGHS 0x8080808080808080ULL
static inline uint64_t pj_word(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}
static inline uint64_t pj_word_is(uint64_t w, unsigned char c)
{
	uint64_t x = w ^ (PJ_ONES * c);

	return (x - PJ_ONES) & ~x & PJ_HIGHS;
}
static inline uint64_t pj_word_below(uint64_t w, unsigned char c)
{
	return (w - PJ_ONES * c) & ~w & PJ_HIGHS;
}
static inline unsigned pj_word_before(uint64_t flags)
{
	if (!flags)
		return 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (unsigned)__builtin_ctzll(flags) / 8;
#else
	return 0;
#endif
}

/* 0 when s holds no control character (C0, DEL, C1) beyond those flags
 * allow, -1 otherwise. s is valid UTF-8. */
int pj_text_clean(const char *s, size_t len, int flags);

#endif
