/* The transparency-log side of mailroom-audit: bundles (au_bundle.c), a
 * log source that is either a store snapshot or a bundle (au_src.c), the
 * full verification walk (au_walk.c, signatures on every core in
 * au_sigs.c) with its event and deadline rules (au_rules.c, au_clock.c,
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
	char name[AU_KEYNAME_MAX];
	uint8_t pk[32];
};

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

/* ---- bundles (au_bundle.c) ---- */
#define AU_BUNDLE_MAGIC "mailroom-bundle v1\n"
struct au_bundle_stats {
	uint64_t records, checkpoints, keys, gaps;
};
/* Writes the log, its keys and checkpoints as read in t (one snapshot)
 * to path, atomically. Returns PB_ codes. */
int au_bundle_write(st_txn *t, const char *path, struct au_bundle_stats *st);
struct au_src;
/* Parses the sections after the magic line of a mapped bundle into s
 * (values point into map). PB_ECORRUPT with why filled when the file
 * breaks the format; PB_ENOMEM. */
int au_bundle_parse(const uint8_t *map, size_t len, struct au_src *s, char *why, size_t wlen);

/* ---- a log to verify: a store snapshot or a bundle (au_src.c) ---- */
struct au_val {
	const uint8_t *p;
	size_t n;                      /* 0: absent (a gap in the exported store) */
};
struct au_src {
	const char *path;
	int bundle;
	st_env *env;                   /* store */
	st_txn *txn;
	uint8_t *map;                  /* bundle: the mapped file */
	size_t maplen;
	struct au_val *vals;
	uint64_t size;                 /* positions 0 .. size-1 */
	struct au_cp *cps;             /* in stored order */
	size_t ncps;
	struct au_key *keys;           /* bundle: its key section; store: none */
	size_t nkeys;
};
/* Open a source; on failure print it and return the exit code. A bundle
 * that breaks its own format gives AU_EXIT_MALFORMED with *why filled. */
int au_src_store(struct au_src *s, const char *dir, int json);
int au_src_bundle(struct au_src *s, const char *path, int json, char *why, size_t len);
/* Stored value at position i: PB_OK, PB_ENOTFOUND for a gap, or an
 * error reading it. */
int au_src_get(const struct au_src *s, uint64_t i, const uint8_t **p, size_t *n);
void au_src_close(struct au_src *s);

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
	uint8_t pk[32];
	uint8_t key_id[ST_KEYID_LEN];
	uint64_t nkeys;                /* AUDIT_LOG_KEY records */
	/* deadline checks */
	int deadlines;                 /* 1 when a calendar was given */
	uint64_t other_cal, other_cal_first;
};
/* Checks everything in s. trusted (name and key) pins the log key (NULL:
 * record 0's); cal NULL skips the deadline checks. Returns PB_OK when the
 * walk ran (see v->fail), another code when it could not. */
int au_walk(const struct au_src *s, const char *trusted_name, const uint8_t *trusted_pk,
            const cal_set *cal, struct au_verdict *v);

/* ---- signatures on every core (au_sigs.c) ---- */
struct au_sigjob {
	const uint8_t *p;              /* a stored value: record || signature */
	size_t n;                      /* 0: nothing to check (absent) */
	int err;                       /* reading it failed (PB_ code), or 0 */
	int ok;                        /* out: the signature holds */
};
int au_sigs_threads(void);
/* Sets jobs[i].ok with sn_verify_strict under pk, on up to threads
 * threads (this one included). */
void au_sigs_check(struct au_sigjob *jobs, size_t n, const uint8_t pk[32], int threads);

/* ---- per-message rules (au_rules.c) and deadlines (au_clock.c) ---- */
struct au_rules;
int au_rules_new(const cal_set *cal, struct au_rules **out);
void au_rules_free(struct au_rules *r);
/* One record whose signature, position and chain are good. AU_EXIT_OK,
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
/* A checkpoint note file opened under (name, pk), with its origin
 * checked. note stays owned by the caller (free). */
struct au_note {
	char *text;                    /* the whole note, malloc'd */
	size_t len;
	size_t blen;                   /* its body: text[0 .. blen) */
	uint64_t size;
	uint8_t root[MT_HASH_LEN];
};
int au_note_load(const char *path, int json, const char *name, const uint8_t pk[32],
                 struct au_note *n);
/* Opens note text under (name, pk), n->text and n->len set: AU_EXIT_OK
 * or AU_EXIT_CHECKPOINT with why filled. */
int au_note_open(struct au_note *n, const char *name, const uint8_t pk[32], char *why,
                 size_t wlen);
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
