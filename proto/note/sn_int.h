/* Helpers shared by the sn_ sources. */
#ifndef SN_INT_H
#define SN_INT_H

#include "sn.h"

#include <stddef.h>
#include <stdint.h>

/* U+2014 EM DASH and a space: how every signature line starts. */
#define SN_DASH "\xe2\x80\x94 "
#define SN_DASH_LEN 4

/* Valid UTF-8 with no control characters other than newline. */
int sn_text_ok(const char *s, size_t n);
/* Key name rules of sn_name_valid on s[0..n). */
int sn_name_ok(const char *s, size_t n);
/* Canonical standard base64: padded, nothing but the alphabet, unused
 * trailing bits zero, so every value has exactly one encoding. */
int sn_b64_ok(const char *s, size_t n);
/* Decodes canonical base64 into out (cap bytes). PB_EINVAL if malformed
 * or longer than cap. */
int sn_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen);
/* Appends base64 of in to out at *pos, keeping room for a NUL. Not
 * constant-time: for public bytes only (sn_text.c). */
int sn_b64_append(const uint8_t *in, size_t n, char *out, size_t cap, size_t *pos);
/* Appends n bytes at *pos, keeping room for a NUL. */
int sn_append(const char *s, size_t n, char *out, size_t cap, size_t *pos);

/* Canonical decimal: no sign, no leading zero unless "0" alone, at most
 * 2^64 - 1. */
int sn_decimal(const char *s, size_t n, uint64_t *v);
/* Proof lines, as tlog-proof and tlog-witness write them: base64 hashes
 * one a line from text[*pos] up to a blank line, which is consumed; at
 * most max of them. *pos ends after the blank line. */
int sn_hash_lines(const char *text, size_t len, size_t *pos, uint8_t (*out)[SN_HASH_LEN],
                  size_t max, size_t *n);
/* The same lines written at *pos, without the blank line. */
int sn_hash_lines_append(const uint8_t (*h)[SN_HASH_LEN], size_t n, char *out, size_t cap,
                         size_t *pos);

/* Checks one known key's signature over the note text. */
typedef int (*sn_check_fn)(void *ctx, const char *text, size_t tlen, const uint8_t *sig,
                           size_t siglen);
/* Signed-note parsing shared by notes and cosignatures: the line of
 * (name, id) is handed to check, others are only checked for form. */
int sn_open_with(const char *note, size_t len, const char *name, const uint8_t id[SN_KEYID_LEN],
                 sn_check_fn check, void *ctx, const char **body, size_t *blen);
/* "— name base64(payload)\n" into out. */
int sn_format_line(const char *name, const uint8_t *payload, size_t plen, char *out, size_t cap,
                   size_t *len);

#endif
