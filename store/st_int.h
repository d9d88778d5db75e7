/* Internals shared by the store's own files; no other module includes
 * this. See README.md for the LMDB schema. */
#ifndef ST_INT_H
#define ST_INT_H

#include "st.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

/* Our key buffers' size; LMDB's own limit (511 unless rebuilt) may only
 * lower it. */
#define STI_KEY_MAX 511

/* A record appended in a transaction but not yet sealed: its body is
 * final (the chain runs through it), so the signing pool signs it at once,
 * side by side with the writer's further work; the seal only waits for
 * what is left. One allocation, the value inline. */
struct sti_rec {
	uint64_t index;
	const uint8_t *sk;           /* the key that signs it (one of env->keys') */
	size_t len;                  /* whole value: body || signature */
	_Atomic int state;           /* STI_REC_* */
	uint8_t leaf[ST_HASH_LEN];   /* Merkle leaf hash of the signed value */
	uint8_t value[];             /* body || signature, ST_SIG_LEN at the end */
};

enum { STI_REC_QUEUED, STI_REC_BUSY, STI_REC_SIGNED, STI_REC_DROPPED };

/* The signing pool (st_sign.c): helper threads that sign the records of
 * the open write transaction as they are appended. It owns every record
 * appended since the last seal or top-level abort, committed by a child
 * or not; transactions' lists only borrow them. */
struct sti_pool;
int sti_pool_start(struct sti_pool **out, int nthreads);
void sti_pool_stop(struct sti_pool *p);
/* Takes rec and starts signing it. */
int sti_pool_add(struct sti_pool *p, struct sti_rec *rec);
/* Signs whatever is left with the caller's help and waits for the
 * helpers: afterwards every record not dropped is signed. */
void sti_pool_finish(struct sti_pool *p);
/* Waits for the helpers, then frees every record the pool holds. */
void sti_pool_reset(struct sti_pool *p);

struct st_env {
	MDB_env *env;
	MDB_dbi meta, msg, track, extref, queue, counters, lease, deadline, log, tree, checkpoint;
	MDB_dbi applicant;
	MDB_dbi outbox, outbox_dead;   /* st_outbox.c */
	MDB_dbi notice, notice_dead;   /* st_notice.c: sealed notices to citizens */
	int has_notice;                /* a read-only open of an older store may lack them */
	MDB_dbi texts;                 /* st_texts.c: sealed RecordTexts by log index */
	int has_texts;                 /* a read-only open of an older store may lack it */
	int has_data_key;              /* read-only, given the data key: st_unseal works */
	int has_outbox;                /* a read-only open of an older store may lack them */
	int tree_v1;                   /* a read-only open of an older store: level-first keys */
	/* Tracking codes issued from a sequence (st_data.c): be64 seq -> the
	 * track value, and the permutation's key from meta. A read-only open
	 * of a store no writer of this version has opened has neither. */
	MDB_dbi trackseq;
	int has_trackseq;
	uint8_t track_key[32];
	int readonly;
	int has_keys;
	size_t maxkey;            /* min(LMDB's key limit, STI_KEY_MAX) */
	struct st_keys keys;      /* zero for read-only opens */
	/* The log is still signed with keys.prev_*: a rotation to keys.sign_*
	 * waits for st_log_rotate to commit. Writer's thread only. */
	int rotating;
	struct sti_pool *pool;    /* writable opens only */
};

struct st_txn {
	st_env *env;
	MDB_txn *txn;
	st_txn *parent;
	int readonly;
	int full;                         /* an operation met MDB_MAP_FULL */
	int broken;                       /* a rotation failed half-way: never commit */
	/* The log head, owned by write transactions: a child starts from its
	 * parent's and hands it back only when it commits. */
	uint64_t next;                    /* index the next record gets */
	uint8_t last_hash[ST_HASH_LEN];   /* hash of record next - 1; zeros if none */
	/* Appended but not sealed, in index order (borrowed from the pool); a
	 * child hands its list to its parent on commit, and the top level
	 * seals before it commits. */
	struct sti_rec **pend;
	size_t npend, cappend;
	/* Top level only: st_log_rotate ran here; records from this index on
	 * are signed by the incoming key. 0: no rotation in this transaction. */
	uint64_t rot_from;
};

/* Forgets t's pending records; an aborted transaction's are dropped
 * (aborted = 1), and a top-level write transaction's end releases the
 * pool's. */
void sti_pending_free(st_txn *t, int aborted);
/* Moves child's pending records to the end of its parent's list. */
int sti_pending_merge(st_txn *child);

/* LMDB return code -> pb_err; remembers MDB_MAP_FULL in t (may be NULL). */
int sti_err(st_txn *t, int rc);
/* PB_EINVAL unless t is a live write transaction. */
int sti_need_write(const st_txn *t);

void sti_put_be32(uint8_t *p, uint32_t v);
void sti_put_be64(uint8_t *p, uint64_t v);
uint32_t sti_get_be32(const uint8_t *p);
uint64_t sti_get_be64(const uint8_t *p);
/* Signed times stored offset-binary, so that byte order is numeric order
 * even for negative values. */
void sti_put_time(uint8_t *p, int64_t ms);
int64_t sti_get_time(const uint8_t *p);

/* Adds record index, whose leaf hash is given, to the Merkle tree. */
int sti_tree_append(st_txn *t, uint64_t index, const uint8_t leaf[ST_HASH_LEN]);

/* Opens the outbox DBIs (st_outbox.c); read-only opens tolerate their
 * absence. */
int sti_outbox_open(st_env *e, MDB_txn *txn, unsigned flags);
int sti_texts_open(st_env *e, MDB_txn *txn, unsigned flags);
int sti_notice_open(st_env *e, MDB_txn *txn, unsigned flags);
/* Opens the Merkle tree's DBI (st_tree.c), moving an older layout first
 * when the open is writable. */
int sti_tree_open(st_env *e, MDB_txn *txn, unsigned flags);

/* SHA-256 of one record body. */
void sti_record_hash(const uint8_t *body, size_t len, uint8_t out[ST_HASH_LEN]);

#endif
