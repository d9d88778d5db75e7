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

/* An idempotency entry keeps the first half of each hash: 128 bits
 * against collisions, half the bytes (st_idem.c). */
#define ST_IDEM_HALF 16

/* A numbered queue and its dead letters (st_queue.c): two DBIs keyed by
 * be64 seq, values opaque, seqs from a counter. The 12345 outbox and the
 * notices to citizens are one each. */
struct sti_queue {
	MDB_dbi live, dead;
	const char *counter;           /* its next-seq counter in counters */
	int open;                      /* a read-only open of an older store may lack them */
};

struct st_env {
	MDB_env *env;
	MDB_dbi meta, msg, track, extref, queue, counters, lease, deadline, log, tree, checkpoint;
	MDB_dbi applicant;
	MDB_dbi provisional;           /* st_data.c: ids of messages with an open provisional clock */
	MDB_dbi idem;                  /* st_idem.c: idempotency keys */
	int has_idem;                  /* a read-only open of another version may lack it */
	struct sti_queue outbox;       /* st_outbox.c: 12345 result events */
	struct sti_queue notice;       /* st_notice.c: sealed notices to citizens */
	MDB_dbi texts;                 /* st_texts.c: sealed RecordTexts by log index */
	int has_texts;                 /* a read-only open of an older store may lack it */
	MDB_dbi cosig;                 /* st_cosig.c: witness cosignatures by checkpoint size */
	int has_cosig;                 /* a read-only open of an older store may lack it */
	int has_data_key;              /* read-only, given the data key: st_unseal works */
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
	/* Tree nodes the writer hashed or read in its current transaction
	 * (st_tree.c); NULL for read-only opens. Only write transactions,
	 * one at a time under LMDB's writer lock, use it. */
	struct sti_memo *memo;
};

/* The lowest level of the Merkle tree kept in the nodes DBI (st_tree.c). */
#define STI_NODE_LEVEL_MIN 3

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
	/* Top level only: the log size when it began, and the size of the
	 * checkpoint it wrote last (0: none); records appended past it get
	 * one more at commit. */
	uint64_t start, cp_size;
	/* Top level only: st_log_rotate ran here; records from this index on
	 * are the incoming key's. 0: no rotation in this transaction. */
	uint64_t rot_from;
};

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
/* The tree's node memo (st_tree.c): each top-level write transaction
 * begins with it empty; the env frees it. */
void sti_memo_begin(st_txn *t);
void sti_memo_free(st_env *e);

/* The queue's DBIs live and dead; read-only opens tolerate their absence
 * (q->open stays 0: the queue reads empty). */
int sti_queue_open(struct sti_queue *q, MDB_txn *txn, unsigned flags, const char *live,
                   const char *dead, const char *counter);
int sti_queue_next_seq(st_txn *t, const struct sti_queue *q, uint64_t *seq);
/* Makes room for len bytes under seq in the live (dead = 0) or dead DBI;
 * *out is valid until the next write in t. PB_EINVAL for seq 0 or len 0. */
int sti_queue_reserve(st_txn *t, const struct sti_queue *q, int dead, uint64_t seq, size_t len,
                      void **out);
int sti_queue_put(st_txn *t, const struct sti_queue *q, int dead, uint64_t seq, const void *data,
                  size_t len);
/* PB_ENOTFOUND when absent; *data points into the map, valid while t is. */
int sti_queue_get(st_txn *t, const struct sti_queue *q, int dead, uint64_t seq,
                  const uint8_t **data, size_t *len);
int sti_queue_del(st_txn *t, const struct sti_queue *q, int dead, uint64_t seq);
/* Up to max entries with seq > after, in order, until fn returns nonzero. */
int sti_queue_each(st_txn *t, const struct sti_queue *q, int dead, uint64_t after, size_t max,
                   int (*fn)(uint64_t seq, const uint8_t *v, size_t len, void *arg), void *arg);
int sti_queue_count(st_txn *t, const struct sti_queue *q, int dead, uint64_t *n);

/* Open the outbox's and the notices' queues (st_outbox.c, st_notice.c). */
int sti_outbox_open(st_env *e, MDB_txn *txn, unsigned flags);
int sti_texts_open(st_env *e, MDB_txn *txn, unsigned flags);
int sti_notice_open(st_env *e, MDB_txn *txn, unsigned flags);
int sti_cosig_open(st_env *e, MDB_txn *txn, unsigned flags);
int sti_idem_open(st_env *e, MDB_txn *txn, unsigned flags);

/* mdb_put for keys that mostly rise (time-prefixed ids, due times, seqs):
 * tried as MDB_APPEND first, an ordinary put when the key is not past the
 * last (st_data.c). */
int sti_put_rising(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v, unsigned flags);

/* Every entry of dbi in key order by one cursor (st_data.c). fn returns
 * 0 to go on, STI_STOP to end the walk with PB_OK, or a PB_ code, which
 * ends it and is returned. */
#define STI_STOP (-1)
int sti_each(st_txn *t, MDB_dbi dbi, int (*fn)(const MDB_val *k, const MDB_val *v, void *arg),
             void *arg);
/* Opens the Merkle tree's DBI (st_tree.c), moving an older layout first
 * when the open is writable. */
int sti_tree_open(st_env *e, MDB_txn *txn, unsigned flags);

/* Writes the checkpoint for the log as t sees it (st_tree.c). */
int sti_checkpoint_write(st_txn *t);

/* SHA-256 of one record. */
void sti_record_hash(const uint8_t *body, size_t len, uint8_t out[ST_HASH_LEN]);

#endif
