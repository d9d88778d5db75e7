/* The transparency-log side of mailroom-audit: bundles (au_bundle.c), a
 * log source that is either a store snapshot or a bundle (au_src.c), the
 * full verification walk (au_walk.c) with its event and deadline rules (au_rules.c, au_clock.c,
 * sharing au_rules.h), proof and checkpoint files (au_input.c), files
 * written atomically (au_file.c) and HTTP fetches (au_http.c). */
#ifndef AU_TLOG_H
#define AU_TLOG_H

#include "au.h"
#include "cal.h"
#include "mt.h"

#include <stddef.h>
#include <stdint.h>

#define AU_KEYNAME_MAX 128
#define AU_VALUE_MAX (16u << 20)   /* one stored record, as a sanity bound */
#define AU_NOTE_MAX 65536          /* one checkpoint note */

/* A checkpoint as published: the size it was stored under and its note. */
struct au_cp {
	uint64_t size;
	char *note;                    /* malloc'd, NUL-terminated */
	size_t len;
};

/* A log key named by an AUDIT_LOG_KEY record. */
struct au_key {
	uint64_t index;                /* the record naming it */
	uint64_t from;                 /* first index and checkpoint size it signs: 0 or index + 1 */
	char name[AU_KEYNAME_MAX];
	uint8_t pk[32];
};

/* ---- the log's keys and their rotations (au_keys.c) ---- */
#define AU_LABEL_MAX ST_KEYLABEL_MAX
/* A rotation record at pos, under a checkpoint cur signed: a usable
 * key under cur's name, by the router, not cur, key_from_size = pos + 1.
 * Fills next; AU_EXIT_OK or AU_EXIT_KEY with why. */
int au_rotation_fields(const struct au_key *cur, const Mailroom__AuditRecord *r, uint64_t pos,
                       struct au_key *next, char *why, size_t wlen);
/* A stored value that should be the rotation record at pos following
 * cur: parsed (malformed), at pos (index), a rotation (key), then
 * au_rotation_fields. Whoever calls it shows the record is under a
 * checkpoint cur signed. */
int au_rotation_value(const struct au_key *cur, const uint8_t *value, size_t n, uint64_t pos,
                      struct au_key *next, char *why, size_t wlen);
struct au_inclusion;
/* The gateway's inclusion answer for the rotation record after cur, in
 * the handover checkpoint (size index + 1) it carries: the record judged
 * by au_rotation_value, the checkpoint signed by cur and by the key the
 * record names, the record in its tree. Fills next; AU_EXIT_OK or a
 * class (invalid, malformed, index, key, inclusion) with why. */
int au_rotation_proof(const struct au_key *cur, const struct au_inclusion *p,
                      struct au_key *next, char *why, size_t wlen);
/* Keys in the order the log brought them in. */
struct au_keyring {
	struct au_key *k;
	size_t n, cap;
};
int au_keyring_add(struct au_keyring *kr, const struct au_key *k);
/* The key in force at record index or checkpoint size x (the last with
 * from <= x); NULL when none. */
const struct au_key *au_keyring_at(const struct au_keyring *kr, uint64_t x);
const struct au_key *au_keyring_find(const struct au_keyring *kr, const uint8_t pk[32]);
void au_keyring_free(struct au_keyring *kr);
/* The --rotation files of o, in order: each the gateway's inclusion proof
 * of the rotation record after the last key of kr (which must hold at
 * least the trusted one) in its handover checkpoint, which both the key
 * in force and the one named must sign. Extends kr; prints and returns
 * the exit code on failure. size and root are the checkpoint the keys
 * are wanted for: a rotation it does not cover is left out. */
int au_rotations_load(const struct au_opts *o, uint64_t size, const uint8_t root[MT_HASH_LEN],
                      struct au_keyring *kr);

/* ---- files (au_file.c) ---- */
/* A file written as FILE.tmp, fsync'd and renamed over FILE on commit,
 * so readers see the old file or the whole new one. */
struct au_out {
	int fd;
	int failed;                    /* a write failed; commit refuses */
	char path[PB_PATH_MAX];
	char tmp[PB_PATH_MAX + 8];
	size_t n;
	uint8_t buf[65536];
};
int au_out_open(struct au_out *o, const char *path, int mode);
int au_out_write(struct au_out *o, const void *p, size_t n);
/* Flushes, fsyncs, renames and fsyncs the directory. PB_OK or PB_EIO. */
int au_out_commit(struct au_out *o);
/* Removes the temporary file. */
void au_out_abort(struct au_out *o);
/* The whole file in one go (au_out_*). */
int au_write_atomic(const char *path, const void *p, size_t n, int mode);
/* Reads a whole file of at most max bytes into a malloc'd, NUL-terminated
 * buffer. PB_ENOTFOUND / PB_EIO / PB_ETOOBIG / PB_ENOMEM. */
int au_read_all(const char *path, size_t max, char **out, size_t *len);
/* Maps an error from au_read_all/au_out_* to an exit code and prints it. */
int au_file_fail(int json, int rc, const char *path);

/* ---- signed-note verifier keys ("<name>+<hex id>+<base64(type || pk)>") ---- */
/* Formats a key line (no newline) for type SN_TYPE_ED25519 or
 * SN_TYPE_COSIG_V1 into buf (at least AU_KEYNAME_MAX + 64 bytes). */
void au_vkey_format(const char *name, uint8_t type, const uint8_t pk[32], char *buf, size_t len);
/* Parses one key line of len bytes; PB_EINVAL when it is not one, or the
 * id does not match. */
int au_vkey_parse(const char *s, size_t len, uint8_t type, char name[AU_KEYNAME_MAX],
                  uint8_t pk[32]);

/* ---- calendar files a bundle carries (au_cals.c) ---- */
#define AU_CAL_NAME_MAX 255
struct cal_set;
struct au_cals {
	int n, cap;
	char **names;                  /* file names, "cn-2026.cal" */
	char **data;                   /* their bytes, lens[i] each */
	size_t *lens;
	uint8_t version[32];           /* the calendar version they hash to */
	int has_version;
};
/* Reads the *.cal files of dir, then of local (NULL: none), as the router
 * loads them (cal_load_dirs: a year in both taken from local), and checks
 * they load; on error err says "file:line: reason" or why a directory
 * failed (PB_ENOTFOUND: neither holds a file). */
int au_cals_read_dirs(const char *dir, const char *local, struct au_cals *c, char *err,
                      size_t errlen);
/* Appends one file (copied). PB_ELIMIT past the format's limits. */
int au_cals_add(struct au_cals *c, const char *name, const void *data, size_t len);
/* Loads them; PB_ECORRUPT when they do not hash to the stated version. */
int au_cals_load(const struct au_cals *c, struct cal_set **out, char *err, size_t errlen);
void au_cals_free(struct au_cals *c);

/* ---- bundles (au_bundle.c) ---- */
#define AU_BUNDLE_MAGIC "mailroom-bundle v1\n"
struct au_bundle_stats {
	uint64_t records, checkpoints, keys, gaps;
};
/* Writes the log, its keys and checkpoints as read in t (one snapshot)
 * and the calendar files (none when cals is NULL) to path, atomically.
 * Returns PB_ codes. */
int au_bundle_write(st_txn *t, const struct au_cals *cals, const char *path,
                    struct au_bundle_stats *st);
struct au_src;
/* Parses the sections after the magic line of a mapped bundle into s
 * (values point into map). PB_ECORRUPT with why filled when the file
 * breaks the format; PB_ENOMEM. */
int au_bundle_parse(const uint8_t *map, size_t len, struct au_src *s, char *why, size_t wlen);

/* ---- a log to verify: a store snapshot or a bundle (au_src.c) ---- */
struct au_val {
	const uint8_t *p;              /* NULL: absent from the store */
	size_t n;                      /* 0: absent (a gap in the exported store), or empty */
};
struct au_src {
	const char *path;
	int bundle;
	st_env *env;                   /* store */
	st_txn *txn;
	uint8_t *map;                  /* bundle: the mapped file */
	size_t maplen;
	struct au_val *vals;           /* by position: into the map, or the snapshot */
	uint64_t size;                 /* positions 0 .. size-1 */
	struct au_cp *cps;             /* in stored order */
	size_t ncps;
	struct au_key *keys;           /* bundle: its key section; store: none */
	size_t nkeys;
	struct au_cals cals;           /* bundle: its calendar files; n == 0: none */
};
/* Open a source; on failure print it and return the exit code. A bundle
 * that breaks its own format gives AU_EXIT_MALFORMED with *why filled. */
int au_src_store(struct au_src *s, const char *dir, int json);
int au_src_bundle(struct au_src *s, const char *path, int json, char *why, size_t len);
/* Stored value at position i: PB_OK, PB_ENOTFOUND for a gap, or an
 * error reading it. */
int au_src_get(const struct au_src *s, uint64_t i, const uint8_t **p, size_t *n);
void au_src_close(struct au_src *s);

/* ---- the records' hashes and the checkpoints' roots (au_roots.c) ---- */
/* A thread hashes s's records in order (on the caller's when none can be
 * started): each record's SHA-256 and the Merkle root at each size in
 * s->cps. It stops at the first gap. */
struct au_roots;
int au_roots_start(const struct au_src *s, struct au_roots **out);
/* The SHA-256 of record i, asked for in order: every hash below i may be
 * let go. PB_ENOTFOUND when a gap comes before it. */
int au_roots_hash(struct au_roots *r, uint64_t i, uint8_t out[ST_HASH_LEN]);
/* The root of the records below s->cps[cp].size, for checkpoints asked
 * for in order of increasing size, none past a record not yet asked for. */
int au_roots_root(struct au_roots *r, size_t cp, uint8_t out[MT_HASH_LEN]);
/* The key in force changed to k (checked as a point, as au_note_open_checked
 * wants): the thread opens the checkpoints it reaches from now on under
 * it. Returns the key's number for au_roots_note. */
uint32_t au_roots_key(struct au_roots *r, const struct au_key *k);
struct au_note;
/* 1 when the thread opened checkpoint cp under key number gen (n's blen,
 * size and root filled as au_note_open_checked fills them); 0 when the
 * caller must open it: another key, none yet, or it did not open. */
int au_roots_note(struct au_roots *r, size_t cp, uint32_t gen, struct au_note *n);
void au_roots_stop(struct au_roots *r);

/* ---- the verification walk (au_walk.c) ---- */
struct au_verdict {
	int fail;                      /* AU_EXIT_OK or a class (exit code) */
	const char *where;             /* "record", "checkpoint", "bundle" */
	uint64_t at;                   /* record index or checkpoint size */
	char text[512];
	uint64_t records;              /* records read */
	uint64_t checkpoints;
	uint64_t checkpointed;         /* size of the last checkpoint, 0 if none */
	uint8_t head[ST_HASH_LEN];
	char key_name[AU_KEYNAME_MAX];
	uint8_t pk[32];                /* the key in force at the end of the log */
	uint8_t key_id[ST_KEYID_LEN];
	uint64_t nkeys;                /* AUDIT_LOG_KEY records after record 0 */
	struct au_keyring keys;        /* record 0's, then each rotation's (au_verdict_free) */
	/* deadline checks */
	int deadlines;                 /* 1 when a calendar was given */
	uint64_t other_cal, other_cal_first;
};
/* Checks everything in s, each record and checkpoint under the key in
 * force for it. trusted (name and key) pins a key of the log: record 0's,
 * or one a rotation brought in that has signed since (NULL: record 0's is
 * taken); cal NULL skips the deadline checks. Returns PB_OK when the walk
 * ran (see v->fail), another code when it could not. */
int au_walk(const struct au_src *s, const char *trusted_name, const uint8_t *trusted_pk,
            const cal_set *cal, struct au_verdict *v);
/* The same walk, handing each record a checkpoint has shown authentic to
 * each (in log order, every record once when the walk passes); each
 * returns PB_OK or PB_ENOMEM. */
int au_walk_each(const struct au_src *s, const char *trusted_name, const uint8_t *trusted_pk,
                 const cal_set *cal, int (*each)(const Mailroom__AuditRecord *r, void *arg),
                 void *arg, struct au_verdict *v);
void au_verdict_free(struct au_verdict *v);

/* ---- per-message rules (au_rules.c) and deadlines (au_clock.c) ---- */
struct au_rules;
int au_rules_new(const cal_set *cal, struct au_rules **out);
void au_rules_free(struct au_rules *r);
/* One record under a good checkpoint, its position and chain good. AU_EXIT_OK,
 * or AU_EXIT_STATE / AU_EXIT_DEADLINE with why and *at (the record the
 * finding is about) filled; PB_ENOMEM as -1. */
int au_rules_record(struct au_rules *r, const Mailroom__AuditRecord *rec, char *why, size_t len,
                    uint64_t *at);
/* After the last record: messages left half-made. */
int au_rules_finish(struct au_rules *r, char *why, size_t len, uint64_t *at);
/* Records whose deadlines were not checked (another calendar version). */
void au_rules_skipped(const struct au_rules *r, uint64_t *n, uint64_t *first);

/* Deadline arithmetic as the router does it: fills computed_due_ms, due_ms
 * and provisional of a copy of c. */
void au_clock_compute(const cal_set *cal, const Mailroom__Clock *c, int64_t *computed,
                      int64_t *due, int *provisional);
/* When escalation step (1 due soon, 2 overdue, 3 seriously overdue) of
 * clock c may be written at the earliest. */
int64_t au_clock_step_at(const cal_set *cal, const Mailroom__Clock *c, uint32_t step);

/* ---- inputs: checkpoints, proofs, receipts (au_input.c) ---- */
/* Loads --pubkey; prints and returns an exit code on failure. */
int au_pubkey(const char *path, int json, char name[AU_KEYNAME_MAX], uint8_t pk[32]);
/* A checkpoint note, read and peeked (au_note_read), then opened under
 * the key in force for its size. text stays owned by the caller (free). */
struct au_note {
	char *text;                    /* the whole note, malloc'd */
	size_t len;
	size_t blen;                   /* its body: text[0 .. blen) */
	uint64_t size;
	uint8_t root[MT_HASH_LEN];
};
/* Opens note text under (name, pk), n->text and n->len set: AU_EXIT_OK
 * or AU_EXIT_CHECKPOINT with why filled. */
int au_note_open(struct au_note *n, const char *name, const uint8_t pk[32], char *why,
                 size_t wlen);
/* The same for a key that passed crypto_core_ed25519_is_valid_point (record
 * 0's or a rotation's, in the walk): that scalar multiplication is not
 * redone for every checkpoint. */
int au_note_open_checked(struct au_note *n, const char *name, const uint8_t pk[32], char *why,
                         size_t wlen);
/* Size and root of note text (n->text, n->len) without its signatures,
 * its origin checked: for a note whose key depends on its size. */
int au_note_peek(struct au_note *n, const char *origin, char *why, size_t wlen);
/* Opens a peeked note under the key in force for its size in kr; a note
 * signed only by an earlier key says so. AU_EXIT_OK or AU_EXIT_CHECKPOINT. */
int au_note_open_keys(struct au_note *n, const struct au_keyring *kr, char *why, size_t wlen);
/* Reads and peeks a note file; prints and returns an exit code. */
int au_note_read(const char *path, int json, const char *origin, struct au_note *n);
/* GET /v1/log/proof/inclusion as the gateway serves it:
 * {"index","size","leaf_hash","proof","entry"}, the leaf and the entry
 * (the stored record) optional. */
struct au_inclusion {
	uint64_t index, size;
	int has_leaf;
	uint8_t leaf[MT_HASH_LEN];
	uint8_t path[MT_PROOF_MAX][MT_HASH_LEN];
	size_t len;
	uint8_t *entry;                /* malloc'd; NULL without "entry" */
	size_t elen;
	char *note;                    /* malloc'd "checkpoint" at size; NULL without */
	size_t nlen;
};
/* PB_OK, PB_EINVAL when doc is not one, PB_ENOMEM. */
int au_inclusion_json(json_t *doc, struct au_inclusion *p);
void au_inclusion_free(struct au_inclusion *p);
/* Decodes a JSON array of base64 hashes ("proof"). */
int au_json_hashes(json_t *a, uint8_t (*out)[MT_HASH_LEN], size_t cap, size_t *n);
/* JSON number as uint64 (non-negative integers only). */
int au_json_u64(json_t *j, const char *key, uint64_t *v);
/* Standard padded base64 into out (cap bytes). */
int au_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n);
/* A JSON document from a file; prints and returns an exit code. */
int au_json_file(const char *path, int json, json_t **out);
/* "FAIL <class>: <where> <n>: <text>" or the JSON failure, returns the
 * class. */
int au_report_fail(int json, int cls, const char *where, uint64_t at, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* ---- consistency of two checkpoints (au_consist.c) ---- */
/* old before new, with a consistency proof: AU_EXIT_OK, or
 * AU_EXIT_ROLLBACK (new is smaller), AU_EXIT_FORK (same size, other
 * root) or AU_EXIT_INCONSISTENT (the proof does not hold), why filled. */
int au_consistent(const struct au_note *old, const struct au_note *new_,
                  const uint8_t (*proof)[MT_HASH_LEN], size_t len, char *why, size_t wlen);
/* {"old","new","proof"} as the gateway serves it; PB_EINVAL if not. */
int au_consistency_json(json_t *doc, uint64_t *old, uint64_t *new_,
                        uint8_t (*proof)[MT_HASH_LEN], size_t *len);

/* ---- the witness's add-checkpoint (au_witness.c), served by au_wserve.c ---- */
struct au_wreply {
	int status;                    /* HTTP status as c2sp.org/tlog-witness says */
	const char *ctype;
	char *body;                    /* malloc'd */
	size_t len;
};
/* One add-checkpoint request body for the witness of o (--state,
 * --pubkey, --url, the witness key): checked, cosigned and kept under the
 * state's lock exactly as a pull run would, r filled either way. PB_OK,
 * or PB_ENOMEM when not even the reply could be made. */
int au_witness_add(const struct au_opts *o, const char *body, size_t len, struct au_wreply *r);
/* witness --serve ADDR:PORT: POST /add-checkpoint until SIGINT or SIGTERM.
 * Returns an exit code. */
int au_witness_serve(const struct au_opts *o);

/* ---- HTTP (au_http.c) ---- */
struct au_http {
	long status;                   /* 0 when the transfer failed */
	char *body;                    /* malloc'd, NUL-terminated */
	size_t len;
	char error[256];
};
/* GET base + path; bodies over max bytes are refused. */
int au_http_get(const char *base, const char *path, size_t max, struct au_http *r);
void au_http_free(struct au_http *r);

#endif
