/* Fixtures for the transparency-log tests of mailroom-audit: stores with
 * legal message histories and signed checkpoints written the way the
 * router writes them, crafted records, raw LMDB and bundle tampering, and
 * a stand-in log server (the gateway's GET /v1/log routes) over a store
 * directory that can be switched while it runs. */
#ifndef WK_TEST_TLOG_H
#define WK_TEST_TLOG_H

#include "cal.h"
#include "st.h"

#include <stddef.h>
#include <stdint.h>

#define TL_ORIGIN "mailroom.test/log"
#define TL_CALENDARS MR_SOURCE_DIR "/deploy/calendars"

struct tl_store {
	char base[300];
	char dir[320];           /* the LMDB directory */
	char pubkey[320];        /* store.pub: record 0's key */
	char keyfile[320];       /* the signing key in force */
	char newpub[320];        /* after tl_rotate: the new key's .pub */
	struct st_keys keys;     /* after tl_rotate: the new key, prev_* the old */
	struct st_keys old;      /* after tl_rotate: the keys before it */
	st_env *env;
	st_txn *t;               /* the open batch, if any */
	cal_set *cal;
	uint8_t calv[CAL_VERSION_LEN];
	int64_t now;             /* the next record's time */
	int nmsg;
};

/* One message as the fixture's router sees it. */
struct tl_msg {
	uint8_t id[16];
	char queue[32];
	char holder[64];         /* "handler:NAME" while leased */
	uint8_t token_hash[32];
	int64_t received_ms;
	Mailroom__Clock ack, reply;
	uint64_t received_at;    /* index of its RECEIVED record */
	int channel;             /* 0: mailbox */
};

/* A fresh store with keys under tdir/<sub> (sub may be NULL), the
 * repository's calendars loaded. */
void tl_create(struct tl_store *s, const char *sub);
/* Reopens s's keys on another store directory (a copy). */
void tl_reopen(struct tl_store *s, const char *dir);
void tl_close(struct tl_store *s);
/* Closes the LMDB environment only; keys and calendars stay for a
 * tl_reopen. */
void tl_close_env(struct tl_store *s);
/* A batch: one write transaction; its commit writes the signed
 * checkpoint when it added records (the store does, as for the router). */
void tl_begin(struct tl_store *s);
void tl_commit(struct tl_store *s);
uint64_t tl_size(struct tl_store *s);
/* Rotates the log key as the router does on start (router/rt_keys.c): a
 * new key file and .pub beside the old, the rotation record committed
 * alone with its handover checkpoint, signed by both keys when dual (by
 * the new one alone otherwise). Returns the rotation record's index. No
 * batch may be open. */
uint64_t tl_rotate(struct tl_store *s, int dual);

/* Message steps; each appends the records the router would. */
void tl_receive(struct tl_store *s, struct tl_msg *m, const char *queue, int ack_wd, int reply_wd);
/* The same on another channel (a Mailroom__Channel). */
void tl_receive_on(struct tl_store *s, struct tl_msg *m, int channel, const char *queue, int ack_wd,
                   int reply_wd);
void tl_lease(struct tl_store *s, struct tl_msg *m, const char *handler);
void tl_renew(struct tl_store *s, struct tl_msg *m);
void tl_reply(struct tl_store *s, struct tl_msg *m);
void tl_release(struct tl_store *s, struct tl_msg *m);
void tl_transfer(struct tl_store *s, struct tl_msg *m, const char *to);
void tl_expire(struct tl_store *s, struct tl_msg *m);
void tl_extend(struct tl_store *s, struct tl_msg *m, int days);
void tl_pause(struct tl_store *s, struct tl_msg *m);
void tl_resume(struct tl_store *s, struct tl_msg *m);
/* Escalation step 1..3 of the reply (kind 2) or ack (kind 1) clock, at
 * the step's time (the fixture clock jumps forward when needed). */
void tl_escalate(struct tl_store *s, struct tl_msg *m, int kind, int step);
/* A record of event carrying m's reply clock as it stands. */
void tl_clock(struct tl_store *s, struct tl_msg *m, int event, int64_t old_due);
/* Recomputes c's due instants as the router does. */
void tl_compute(const struct tl_store *s, Mailroom__Clock *c);

/* A record about m as the router fills it (time, ids, deadlines in force);
 * the caller sets what it wants and appends it. */
void tl_rec(struct tl_store *s, const struct tl_msg *m, Mailroom__AuditRecord *r, int event,
            const char *actor);
/* Appends r and stores its message as the router leaves it after r; a
 * content_hash given is replaced by the commitment to the fixture's text
 * (tlog.c, "the stored messages"). */
void tl_append(struct tl_store *s, Mailroom__AuditRecord *r);

/* A legal history of n messages in several batches, each checkpointed,
 * with leases, transfers, an extension, a pause and escalations. */
void tl_history(struct tl_store *s, int n);

/* ---- tampering, with the store closed ---- */
void tl_raw_delete(const char *dir, uint64_t index);
void tl_raw_swap(const char *dir, uint64_t a, uint64_t b);
/* Removes records from..end (the checkpoints stay: a cut tail). */
void tl_raw_truncate(const char *dir, uint64_t from);
/* Removes records from..end, their tree nodes and the checkpoints past
 * from, so the store API can write another tail. The messages received
 * in that tail are removed from msg too. */
void tl_raw_cut(const char *dir, uint64_t from);
/* The same, but the checkpoints stay: another tail can be written under
 * the ones already published. */
void tl_raw_rewind(const char *dir, uint64_t from);
/* Removes the checkpoint stored for size. */
void tl_raw_delete_checkpoint(const char *dir, uint64_t size);
/* Flips one bit of the checkpoint note stored for size. */
void tl_raw_flip_checkpoint(const char *dir, uint64_t size, size_t off);
/* Rewrites record index after edit (may be NULL) changed it; the
 * checkpoints over it are left as they were. */
void tl_raw_rewrite(const char *dir, uint64_t index, void (*edit)(Mailroom__AuditRecord *r));
/* Replaces the checkpoint stored for size by its body signed by sk alone. */
void tl_raw_resign_checkpoint(const char *dir, uint64_t size, const char *name,
                              const uint8_t *sk);
/* Offset of needle inside the stored value of record index. */
long tl_raw_offset(const char *dir, uint64_t index, const char *needle);
/* Applies edit to a shallow copy of the stored message id and writes
 * that back: the log stays as it was. */
void tl_raw_edit_msg(const char *dir, const uint8_t id[16], void (*edit)(Mailroom__StoredMessage *m));
/* Copies an LMDB directory (data file only). */
void tl_copy_store(const char *from, const char *to);

/* ---- bundles ---- */
enum tl_bundle_op { TL_B_FLIP, TL_B_DELETE, TL_B_SWAP, TL_B_TRUNCATE };
/* FLIP a: bit 0 of byte b of record a; DELETE a; SWAP a b; TRUNCATE from a. */
void tl_bundle_edit(const char *path, int op, uint64_t a, uint64_t b);

/* ---- files as the gateway serves them ---- */
/* The latest checkpoint (size 0) or the one at size, into file. Returns
 * its size. */
uint64_t tl_save_checkpoint(const char *dir, uint64_t size, const char *file);
/* {"index","size","leaf_hash","proof","entry"} for record index in tree
 * size, as the gateway answers. */
void tl_save_inclusion(const char *dir, uint64_t index, uint64_t size, const char *file);
void tl_save_consistency(const char *dir, uint64_t old, uint64_t new_, const char *file);
/* The POST answer's {"receipt":{...}} for record index. */
void tl_save_receipt(const char *dir, const struct st_keys *k, uint64_t index, const char *file);
/* Base64 of the stored value. */
void tl_save_entry(const char *dir, uint64_t index, const char *file);
void tl_write_text(const char *file, const char *text);

/* ---- a stand-in log server ---- */
/* Serves GET /v1/log/checkpoint[?size=], /v1/log/proof/consistency,
 * /v1/log/proof/inclusion (with the record, "entry") and /v1/log/entries
 * from the store at dir, as the gateway does; returns its base URL. */
const char *tl_srv_start(const char *dir);
void tl_srv_set(const char *dir);
void tl_srv_stop(void);

#endif
