/* C2SP signed notes (c2sp.org/signed-note), transparency log checkpoints
 * (c2sp.org/tlog-checkpoint) and Ed25519 cosignatures
 * (c2sp.org/tlog-cosignature), with strict Ed25519 verification.
 *
 * A signed note is a body (text ending in a newline), a blank line, and
 * signature lines "— <name> base64(key id || signature)\n" (U+2014 EM
 * DASH, space). Keys are libsodium Ed25519 pairs: 64-byte secret keys,
 * 32-byte public keys.
 *
 * Functions return PB_OK or a PB_ code: PB_EINVAL for malformed input,
 * PB_EAUTH when no valid signature from the given key is there (or one
 * from it fails), PB_ETOOBIG when an output buffer is short, PB_ENOMEM.
 * Outputs go to caller buffers: len bytes plus a terminating NUL. */
#ifndef SN_H
#define SN_H

#include <stddef.h>
#include <stdint.h>

#define SN_KEYID_LEN 4
#define SN_PK_LEN 32
#define SN_SK_LEN 64
#define SN_SIG_LEN 64
#define SN_HASH_LEN 32
/* Signature type bytes hashed into key ids (signed-note registry). */
#define SN_TYPE_ED25519 0x01
#define SN_TYPE_COSIG_V1 0x04
/* Signature lines accepted in one note (the spec asks for at least 16). */
#define SN_MAX_SIGS 100
/* Longest line sn_sign_line / sn_cosign_line can need for a name of n
 * bytes (dash, spaces, base64 of 76 bytes, newline, NUL). */
#define SN_LINE_MAX(n) ((n) + 112)

/* SHA-256(name || "\n" || type || pk)[:4]. */
void sn_key_id(const char *name, uint8_t type, const uint8_t pk[SN_PK_LEN],
               uint8_t id[SN_KEYID_LEN]);
/* 1 if name may be a key name: non-empty UTF-8 with no spaces (Unicode
 * included), no '+' and no control characters. */
int sn_name_valid(const char *name);

/* Ed25519 verification that also refuses what RFC 8032 leaves open: a
 * public key or R that is non-canonical, of small order or outside the
 * prime-order subgroup, and S >= L. PB_OK or PB_EAUTH. */
int sn_verify_strict(const uint8_t sig[SN_SIG_LEN], const uint8_t *msg, size_t len,
                     const uint8_t pk[SN_PK_LEN]);
/* The same for a key that already passed crypto_core_ed25519_is_valid_point:
 * checking the key is a scalar multiplication, worth doing once per key
 * rather than once per signature when a log is walked. */
int sn_verify_strict_checked_key(const uint8_t sig[SN_SIG_LEN], const uint8_t *msg, size_t len,
                                 const uint8_t pk[SN_PK_LEN]);

/* ---- checkpoints ---- */

/* "<origin>\n<size>\n<base64 root>\n" followed by ext, which is NULL or
 * extension lines, each non-empty and ending in "\n". */
int sn_checkpoint_format(const char *origin, uint64_t size, const uint8_t root[SN_HASH_LEN],
                         const char *ext, char *out, size_t cap, size_t *len);

/* A parsed checkpoint body; the pointers point into the parsed text. */
struct sn_checkpoint {
	const char *origin;
	size_t origin_len;
	uint64_t size;
	uint8_t root[SN_HASH_LEN];
	const char *ext;  /* extension lines with their newlines */
	size_t ext_len;   /* 0 when there are none */
};

/* Strict: three or more non-empty lines, a size in canonical decimal
 * (no sign, no leading zeros), a root in canonical base64 of 32 bytes. */
int sn_checkpoint_parse(const char *body, size_t len, struct sn_checkpoint *cp);

/* ---- signed notes ---- */

/* The note: body, blank line, one signature line by (name, sk). */
int sn_sign(const char *body, size_t blen, const char *name, const uint8_t sk[SN_SK_LEN],
            char *out, size_t cap, size_t *len);
/* Just the signature line, to append to a note that has signatures. */
int sn_sign_line(const char *body, size_t blen, const char *name,
                 const uint8_t sk[SN_SK_LEN], char *out, size_t cap, size_t *len);

/* Parses a signed note and verifies it against (name, pk): lines of other
 * keys are ignored (a name or key id alone does not make a match), the
 * key's line must be present once and verify. *body / *blen give the body
 * inside note (its final newline included). */
int sn_open(const char *note, size_t len, const char *name, const uint8_t pk[SN_PK_LEN],
            const char **body, size_t *blen);
/* sn_open for a key that already passed crypto_core_ed25519_is_valid_point
 * (sn_verify_strict_checked_key): a walk over a log opens every
 * checkpoint with the same key. */
int sn_open_checked_key(const char *note, size_t len, const char *name,
                        const uint8_t pk[SN_PK_LEN], const char **body, size_t *blen);
/* sn_open, then sn_checkpoint_parse of the body. The origin is returned,
 * not checked: callers compare it with the log they expect. */
int sn_open_checkpoint(const char *note, size_t len, const char *name,
                       const uint8_t pk[SN_PK_LEN], struct sn_checkpoint *cp);

/* ---- cosignatures (tlog-cosignature, Ed25519, key id type 0x04) ---- */

/* The cosignature line over a checkpoint body: Ed25519 over
 * "cosignature/v1\ntime <timestamp>\n" || body, payload key id ||
 * timestamp (8 bytes, big-endian) || signature. timestamp <= 2^63 - 1.
 * Appending it to the signed checkpoint gives the cosigned note. */
int sn_cosign_line(const char *body, size_t blen, const char *name,
                   const uint8_t sk[SN_SK_LEN], uint64_t timestamp, char *out, size_t cap,
                   size_t *len);
/* Like sn_open, for the cosigner (name, pk); *timestamp is the signed
 * time (not compared with the clock here). */
int sn_open_cosigned(const char *note, size_t len, const char *name,
                     const uint8_t pk[SN_PK_LEN], const char **body, size_t *blen,
                     uint64_t *timestamp);
/* Timestamp of a cosignature line's base64 payload, without verifying. */
int sn_cosig_timestamp(const char *b64, size_t len, uint64_t *timestamp);

/* ---- proofs (c2sp.org/tlog-proof@v1) ---- */

/* Longest inclusion proof of a tree below 2^64 entries. */
#define SN_PROOF_MAX 64
/* "c2sp.org/tlog-proof@v1\n", "extra <base64>\n" when elen > 0,
 * "index <index>\n", the hashes in base64 one a line, a blank line, then
 * the signed checkpoint note as given. */
int sn_proof_format(uint64_t index, const uint8_t *extra, size_t elen,
                    const uint8_t (*proof)[SN_HASH_LEN], size_t n, const char *note, size_t nlen,
                    char *out, size_t cap, size_t *len);
/* A parsed proof; note and extra point into the parsed text. The note is
 * not opened here: sn_open_checkpoint it with the log's key. */
struct sn_proof {
	uint64_t index;
	const char *extra;             /* base64, NULL when absent */
	size_t extra_len;
	uint8_t hashes[SN_PROOF_MAX][SN_HASH_LEN];
	size_t n;
	const char *note;
	size_t note_len;
};
/* Strict: the header line, an optional canonical base64 "extra" line, an
 * "index" in canonical decimal, canonical base64 hashes of 32 bytes, a
 * blank line and a non-empty note. PB_EINVAL otherwise. */
int sn_proof_parse(const char *text, size_t len, struct sn_proof *p);

/* ---- witnesses (c2sp.org/tlog-witness) ---- */

/* The most consistency proof lines an add-checkpoint body may carry. */
#define SN_ADDCP_PROOF_MAX 63
/* The add-checkpoint request body: "old <size>\n", the consistency proof
 * from old to the checkpoint's size in base64 one a line (none when old
 * is 0), a blank line, the signed checkpoint note as given. */
int sn_addcp_format(uint64_t old, const uint8_t (*proof)[SN_HASH_LEN], size_t n,
                    const char *note, size_t nlen, char *out, size_t cap, size_t *len);
/* A parsed body; note points into the parsed text and is not opened. */
struct sn_addcp {
	uint64_t old;
	uint8_t proof[SN_ADDCP_PROOF_MAX][SN_HASH_LEN];
	size_t n;
	const char *note;
	size_t note_len;
};
/* Strict: canonical decimal, canonical base64 hashes of 32 bytes, at most
 * 63 of them and none after "old 0", a blank line, a non-empty note, the
 * whole text valid UTF-8 without control characters but newline. */
int sn_addcp_parse(const char *text, size_t len, struct sn_addcp *a);
/* A 409 answer's body (Content-Type text/x.tlog.size): "<size>\n". */
#define SN_TLOG_SIZE_TYPE "text/x.tlog.size"
int sn_tlog_size_parse(const char *text, size_t len, uint64_t *size);

/* ---- verifier keys: "<name>+<hex key id>+<base64(type || pk)>" ---- */
#define SN_VKEY_MAX 208
void sn_vkey_format(const char *name, uint8_t type, const uint8_t pk[SN_PK_LEN], char *buf,
                    size_t len);
/* One key line of len bytes (a trailing newline allowed) of the given
 * type, its id checked, its key a valid point; name gets at most namecap
 * bytes with the NUL. PB_EINVAL otherwise. */
int sn_vkey_parse(const char *s, size_t len, uint8_t type, char *name, size_t namecap,
                  uint8_t pk[SN_PK_LEN]);

#endif
