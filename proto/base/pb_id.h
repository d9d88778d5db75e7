/* Identifiers handed out by Mailroom.
 *  - Message ids: 16 bytes, 48-bit big-endian milliseconds then 80 random
 *    bits, so byte order is time order. Text form: 26 Crockford base32
 *    characters (as ULID).
 *  - Tracking codes: 12 digits shown as "1234-5678-9012", the last a Damm
 *    check digit, so a citizen can read one over the phone and a typo or a
 *    swap of neighbours is caught before any lookup. The store issues them
 *    from a sequence through a keyed permutation of the 11-digit numbers:
 *    unique by construction, they look random and say nothing of how many
 *    came before, yet the store can keep them in issue order.
 *  - Access keys: 24 random bytes (192 bits) as 32 base64url characters.
 *    Only their keyed BLAKE2b hash is stored. */
#ifndef PB_ID_H
#define PB_ID_H

#include <stddef.h>
#include <stdint.h>

#define PB_ID_LEN 16
#define PB_ID_TEXT_LEN 26
#define PB_TRACK_DIGITS 12
#define PB_TRACK_TEXT_LEN 14      /* with two dashes */
#define PB_AKEY_TEXT_LEN 32
#define PB_AKEY_HASH_LEN 32

void pb_id_new(int64_t now_ms, uint8_t id[PB_ID_LEN]);
int64_t pb_id_time_ms(const uint8_t id[PB_ID_LEN]);
/* buf needs PB_ID_TEXT_LEN + 1 bytes. */
void pb_id_to_text(const uint8_t id[PB_ID_LEN], char *buf);
int pb_id_from_text(const char *s, uint8_t id[PB_ID_LEN]);

/* buf needs PB_TRACK_TEXT_LEN + 1 bytes; canonical form with dashes. */
void pb_track_new(char *buf);
#define PB_TRACK_KEY_LEN 32
#define PB_TRACK_SEQ_MAX 90000000000ULL   /* the 11-digit numbers with no leading zero */
/* The code for seq under key; PB_EINVAL past PB_TRACK_SEQ_MAX. */
int pb_track_from_seq(const uint8_t key[PB_TRACK_KEY_LEN], uint64_t seq, char *buf);
/* Its inverse for any well-formed code (dashes or spaces optional):
 * PB_EINVAL if malformed, PB_ENOTFOUND for a leading zero (no seq gives
 * one). */
int pb_track_to_seq(const uint8_t key[PB_TRACK_KEY_LEN], const char *code, uint64_t *seq);
/* Accepts digits with optional dashes or spaces; writes the canonical form.
 * PB_EINVAL on wrong length, characters or check digit. */
int pb_track_normalize(const char *in, char *out, size_t outlen);

/* buf needs PB_AKEY_TEXT_LEN + 1 bytes. */
void pb_akey_new(char *buf);
/* Hash of an access key as presented (any length up to 256 bytes). */
int pb_akey_hash(const char *key, size_t len, uint8_t out[PB_AKEY_HASH_LEN]);

/* How the audit log names a handler: hex of the first 8 bytes of
 * SHA-256("mailroom/actor/v1\n" || Ed25519 public key). A stable
 * pseudonym; the office maps it to a person through its configuration. */
#define PB_ACTOR_ID_LEN 8
#define PB_ACTOR_ID_TEXT (2 * PB_ACTOR_ID_LEN + 1)
void pb_actor_id(const uint8_t pk[32], char out[PB_ACTOR_ID_TEXT]);

/* Lower-case hex of n bytes into buf (2n+1 bytes). */
void pb_hex(const uint8_t *in, size_t n, char *buf);
/* Exactly 2n hex digits into n bytes. */
int pb_unhex(const char *s, uint8_t *out, size_t n);

#endif
