/* store: Mailroom's LMDB state and its audit log under signed checkpoints.
 *
 * One process writes (the router); others open read-only while it runs.
 * Every function taking an st_txn works inside the caller's transaction,
 * so a state change and its audit record commit together or not at all.
 * Write transactions may nest (st_txn_begin with a parent): a failed
 * request aborts its child alone, the batch goes on.
 *
 * Log format: the value at big-endian index i is exactly the serialised
 * Mailroom__AuditRecord; no record carries a signature. Its Merkle leaf
 * is H(0x00 || value), and each top-level commit that appended records
 * writes one signed checkpoint (C2SP tlog-checkpoint) over the tree.
 * record hash = SHA-256(serialised record); record.prev_hash chains them;
 * record 0 is AUDIT_LOG_KEY naming the signing key. A later AUDIT_LOG_KEY
 * record at index i rotates the key: the handover checkpoint of size i + 1
 * is signed by the outgoing and the incoming key, later ones by the
 * incoming key (README.md, "Key rotation"). */
#ifndef ST_H
#define ST_H

#include "mailroom.pb-c.h"
#include "pb_conf.h"

#include <stddef.h>
#include <stdint.h>

#define ST_HASH_LEN 32
#define ST_KEYID_LEN 4
#define ST_SALT_LEN 16
#define ST_SCHEMA_VERSION 5

typedef struct st_env st_env;
typedef struct st_txn st_txn;

struct st_keys {
	uint8_t sign_sk[64];          /* libsodium layout: seed || public key */
	uint8_t sign_pk[32];
	uint8_t data_key[32];         /* secretbox key for personal data */
	char key_name[128];           /* signed-note key name (= log origin) */
	uint8_t key_id[ST_KEYID_LEN]; /* SHA-256(name || "\n" || 0x01 || pk)[:4] */
	/* previous_signing_key, when set: the key a log may still be signed
	 * with, which then authorises sign_pk (st_log_rotate). Same name. */
	int has_prev;
	uint8_t prev_sk[64];
	uint8_t prev_pk[32];
	uint8_t prev_key_id[ST_KEYID_LEN];
};

/* Loads the signing and data keys named by the config, creating them (and
 * store.pub beside the signing key) on first start. *created is set when
 * new keys were made, so the caller can log it clearly. The previous
 * signing key is never created: PB_ENOTFOUND when it is named but absent. */
int st_keys_load_or_create(const struct pb_conf *c, struct st_keys *k, int *created);
/* A new signing key for a rotation: the seed at path (mode 0600) and its
 * public key file beside it, under name. Never overwrites: PB_EEXIST when
 * either file exists. */
int st_signing_key_create(const char *path, const char *name, uint8_t pk[32]);
/* Key id as signed-note defines it. */
void st_key_id(const char *name, const uint8_t pk[32], uint8_t id[ST_KEYID_LEN]);
/* "<name>+<key id hex>", how messages name a key. */
#define ST_KEYLABEL_MAX (128 + 1 + 2 * ST_KEYID_LEN + 1)
void st_key_label(const char *name, const uint8_t pk[32], char *buf, size_t len);
/* Parses a public key file as written by st_keys_load_or_create
 * ("<name>+<keyid hex>+<base64(0x01 || pk)>"). */
int st_pubkey_load(const char *path, char *name, size_t namelen, uint8_t pk[32]);

/* Opens (creating when writable) the environment at dir. Writable opens
 * need keys; a new store gets its schema version and AUDIT_LOG_KEY record;
 * an existing one must be signed now with keys->sign_pk, or with
 * keys->prev_pk (a rotation is then pending: see st_log_rotate), and
 * PB_EAUTH otherwise. readonly opens pass keys = NULL. */
int st_open(const char *dir, size_t map_size_mb, int readonly, const struct st_keys *keys,
            st_env **out);
void st_close(st_env *env);

/* parent != NULL starts a nested write transaction. */
int st_txn_begin(st_env *env, st_txn *parent, int readonly, st_txn **out);
/* Top-level write commit is durable (fsync) when it returns 0.
 * PB_EFULL when the map is full (the transaction is gone either way). */
int st_txn_commit(st_txn *txn);
void st_txn_abort(st_txn *txn);

/* ---- messages and indexes ---- */
/* *out is freed with st_msg_free. */
int st_msg_get(st_txn *t, const uint8_t id[16], Mailroom__StoredMessage **out);
void st_msg_free(Mailroom__StoredMessage *m);
/* Also keeps the provisional index: m's id is in it exactly when one of
 * its clocks is provisional and not stopped. */
int st_msg_put(st_txn *t, const Mailroom__StoredMessage *m);
/* Cursor over all messages in id (time) order; fn returns non-zero to stop. */
int st_msg_each(st_txn *t, int (*fn)(const Mailroom__StoredMessage *m, void *arg), void *arg);
/* The ids of the messages with an open provisional clock, in id order,
 * from their own index: a walk as long as they are few, however many
 * messages the store holds. An id is valid only during its call (copy
 * it before changing messages). fn returns non-zero to stop. */
int st_provisional_each(st_txn *t, int (*fn)(const uint8_t id[16], void *arg), void *arg);

/* PB_EEXIST when the code is taken. */
int st_track_put(st_txn *t, const char *code, const uint8_t id[16]);
int st_track_get(st_txn *t, const char *code, uint8_t id[16]);
/* The same index with the citizen's access-key hash kept beside the id,
 * so a status lookup costs one read and one comparison whatever the
 * outcome. key_hash NULL stores zeros (no citizen access). */
int st_track_put_key(st_txn *t, const char *code, const uint8_t id[16], const uint8_t *key_hash);
int st_track_lookup(st_txn *t, const char *code, uint8_t id[16], uint8_t key_hash[32]);
/* Issues the next code of the store's sequence (pb_track_from_seq under
 * the store's own key) and indexes it as st_track_put_key would. Codes
 * only ever append to the index, so a commit rewrites its last page
 * rather than one page per message. code needs PB_TRACK_TEXT_LEN + 1
 * bytes. Lookups and st_track_put_key see both kinds of code. */
int st_track_issue(st_txn *t, const uint8_t id[16], const uint8_t *key_hash, char *code);
/* External references, e.g. "12345:<order_no>#<dispatch_seq>". */
int st_extref_put(st_txn *t, const char *ref, const uint8_t id[16]);
int st_extref_get(st_txn *t, const char *ref, uint8_t id[16]);

/* Like st_extref_put, but replaces an existing id: for references that
 * name the latest of several, e.g. "12345:<order_no>" (st_outbox.c). */
int st_extref_set(st_txn *t, const char *ref, const uint8_t id[16]);

/* Idempotency keys (st_idem.c): the SHA-256 of a request's key names the
 * first message stored with it, together with the hash of that request's
 * body. Put gives PB_EEXIST for a key already there. Get gives the id, and
 * PB_OK when body is the first request's, PB_ESTATE when another request
 * used the key (id is filled either way), PB_ENOTFOUND for a new key. */
int st_idem_put(st_txn *t, const uint8_t key[ST_HASH_LEN], const uint8_t body[ST_HASH_LEN],
                const uint8_t id[16]);
int st_idem_get(st_txn *t, const uint8_t key[ST_HASH_LEN], const uint8_t body[ST_HASH_LEN],
                uint8_t id[16]);

/* Disclosure applicants, and the plain channels' contacts: messages
 * indexed by a keyed hash of the applicant's identity or of a contact
 * (st_applicant_hash; id_type is the domain), in receipt order, so
 * repeats are found without reading personal data. */
void st_applicant_hash(const st_env *env, const char *id_type, const char *id_number,
                       uint8_t out[ST_HASH_LEN]);
int st_applicant_add(st_txn *t, const uint8_t hash[ST_HASH_LEN], int64_t received_ms,
                     const uint8_t id[16]);
/* Calls fn for the applications of hash received from since_ms to
 * until_ms (both included), newest first, until fn returns non-zero
 * (which is then returned) or max were seen. */
int st_applicant_each(st_txn *t, const uint8_t hash[ST_HASH_LEN], int64_t since_ms,
                      int64_t until_ms, size_t max,
                      int (*fn)(const uint8_t id[16], int64_t received_ms, void *arg), void *arg);

/* ---- queues: served in (prio, due_ms, id) order ---- */
struct st_qpos {
	uint32_t prio;     /* 0 = first */
	int64_t due_ms;
	uint8_t id[16];
};
int st_queue_push(st_txn *t, const char *queue, const struct st_qpos *p);
int st_queue_remove(st_txn *t, const char *queue, const struct st_qpos *p);
/* PB_ENOTFOUND when empty. */
int st_queue_first(st_txn *t, const char *queue, struct st_qpos *p);
/* Messages waiting in the queue (kept as a counter, O(1)). */
int st_queue_depth(st_txn *t, const char *queue, uint64_t *n);

/* ---- named counters (metrics that must survive restarts) ---- */
int st_counter_add(st_txn *t, const char *name, int64_t delta);
int st_counter_get(st_txn *t, const char *name, int64_t *v);

/* ---- leases, indexed by expiry ---- */
int st_lease_put(st_txn *t, int64_t expires_ms, const uint8_t id[16]);
int st_lease_del(st_txn *t, int64_t expires_ms, const uint8_t id[16]);
/* Earliest lease expiring at or before now_ms; PB_ENOTFOUND if none. */
int st_lease_first_expired(st_txn *t, int64_t now_ms, int64_t *expires_ms, uint8_t id[16]);

/* ---- deadline index: (due_ms, id, clock) ---- */
enum st_clock { ST_CLOCK_ACK = 1, ST_CLOCK_REPLY = 2 };
int st_deadline_put(st_txn *t, int64_t due_ms, const uint8_t id[16], uint8_t clock);
int st_deadline_del(st_txn *t, int64_t due_ms, const uint8_t id[16], uint8_t clock);
/* Earliest entry due at or before now_ms; PB_ENOTFOUND if none. */
int st_deadline_first_due(st_txn *t, int64_t now_ms, int64_t *due_ms, uint8_t id[16],
                          uint8_t *clock);

/* ---- small named values kept with the schema (e.g. calendar version) ---- */
/* Kept apart from the store's own meta records. get copies at most cap
 * bytes (PB_ETOOBIG if longer, *len says how long). */
int st_meta_get(st_txn *t, const char *name, uint8_t *buf, size_t cap, size_t *len);
int st_meta_put(st_txn *t, const char *name, const uint8_t *data, size_t len);

/* ---- the 12345 outbox (st_outbox.c) ----
 * Result events waiting for the platform, keyed by a sequence number the
 * store hands out (st_outbox_next_seq), so seq order is write order and
 * therefore FIFO per order. Final refusals move to a dead-letter list
 * under the same seq. dead = 0 names the outbox, 1 the dead letters. */
int st_outbox_next_seq(st_txn *t, uint64_t *seq);
/* Writes e under e->seq (replacing what is there). */
int st_outbox_put(st_txn *t, int dead, const Mailroom__OutboxEntry *e);
/* *out is freed with st_outbox_free_entry. PB_ENOTFOUND when absent. */
int st_outbox_get(st_txn *t, int dead, uint64_t seq, Mailroom__OutboxEntry **out);
void st_outbox_free_entry(Mailroom__OutboxEntry *e);
int st_outbox_del(st_txn *t, int dead, uint64_t seq);
/* Entries with seq > after in seq order, at most max; fn returns
 * non-zero to stop. Entries are only valid during the call. */
int st_outbox_each(st_txn *t, int dead, uint64_t after, size_t max,
                   int (*fn)(const Mailroom__OutboxEntry *e, void *arg), void *arg);
int st_outbox_count(st_txn *t, int dead, uint64_t *n);

/* ---- notices to citizens (st_notice.c) ----
 * E-mail and SMS notices waiting for mailroom-notify, keyed by a sequence
 * the store hands out; refused ones move to the dead letters under the
 * same seq. Values are sealed by the caller (st_seal): they hold contacts.
 * dead = 0 names the pending notices, 1 the dead letters. */
int st_notice_next_seq(st_txn *t, uint64_t *seq);
int st_notice_put(st_txn *t, int dead, uint64_t seq, const uint8_t *sealed, size_t len);
/* *data is valid until the transaction ends. PB_ENOTFOUND when absent. */
int st_notice_get(st_txn *t, int dead, uint64_t seq, const uint8_t **data, size_t *len);
int st_notice_del(st_txn *t, int dead, uint64_t seq);
/* Values with seq > after in seq order, at most max; fn returns non-zero
 * to stop. Values are only valid during the call. */
int st_notice_each(st_txn *t, int dead, uint64_t after, size_t max,
                   int (*fn)(uint64_t seq, const uint8_t *v, size_t len, void *arg), void *arg);
int st_notice_count(st_txn *t, int dead, uint64_t *n);

/* ---- the audit log ---- */
struct st_receipt {
	uint64_t index;
	uint8_t hash[ST_HASH_LEN];
	uint8_t key_id[ST_KEYID_LEN];   /* the key whose checkpoints cover it */
};
/* Sets rec->index, serialises the record with prev_hash taken from the
 * chain, writes it (MDB_APPEND) and extends the Merkle tree, in t.
 * rec->prev_hash itself is left as the caller had it, so nothing in rec
 * points into the transaction afterwards; the stored bytes carry the real
 * one. out (may be NULL) gets index, hash and key id. */
int st_log_append(st_txn *t, Mailroom__AuditRecord *rec, struct st_receipt *out);
/* Signs and writes the checkpoint over every record appended in this
 * top-level write transaction so far (nothing when none was): one
 * crypto_sign_detached per call. st_txn_commit runs it itself; call it
 * first to read the checkpoint, or prove records against it, in t. */
int st_log_seal(st_txn *t);
int st_log_size(st_txn *t, uint64_t *n);
/* The stored bytes of record i; valid until the transaction ends. */
int st_log_get(st_txn *t, uint64_t index, const uint8_t **data, size_t *len);
/* Every stored record in index order by one cursor walk (st_verify.c),
 * the bytes valid until t ends; a key that is no index is passed over.
 * fn returns nonzero to stop. */
int st_log_each(st_txn *t, int (*fn)(uint64_t index, const uint8_t *data, size_t len, void *arg),
                void *arg);

/* ---- the log key and its rotation ---- */
struct st_logkey {
	char name[128];
	uint8_t pk[32];               /* the key in force: it signs the next checkpoint */
	uint8_t key_id[ST_KEYID_LEN];
	uint64_t from;                /* first size it signs: 0, or a rotation's index + 1 */
	int has_prev;                 /* a rotation brought it in: */
	uint8_t prev_pk[32];          /* the key it replaced */
};
/* The key in force as this transaction sees it (a committed rotation, or
 * one made in t). */
int st_log_key(st_txn *t, struct st_logkey *k);
/* 1 when the store was opened with keys whose previous key is still the
 * log's: checkpoints are signed with that one until st_log_rotate commits. */
int st_rotation_pending(const st_env *env);
/* Appends the AUDIT_LOG_KEY record that hands the log to keys->sign_pk:
 * actor "router", key and key name, key_from_size = its index + 1. The
 * seal of t writes the handover checkpoint at that size, signed by the
 * outgoing and the new key; later checkpoints by the new one. t must be a top-level write transaction and a
 * rotation pending (PB_ESTATE otherwise). The key in force changes for
 * this process only when t commits, durably. */
int st_log_rotate(st_txn *t, struct st_receipt *out);

/* ---- the Merkle tree over the log (RFC 6962, st_tree.c) ---- */
/* Root of the first size records; PB_EINVAL past the log's end. */
int st_tree_root(st_txn *t, uint64_t size, uint8_t root[ST_HASH_LEN]);
/* Proofs as RFC 9162 orders them; cap entries of room (65 always do). */
int st_tree_inclusion(st_txn *t, uint64_t index, uint64_t size, uint8_t (*proof)[ST_HASH_LEN],
                      size_t cap, size_t *len);
int st_tree_consistency(st_txn *t, uint64_t old_size, uint64_t new_size,
                        uint8_t (*proof)[ST_HASH_LEN], size_t cap, size_t *len);

/* The stored hash of the perfect subtree at (level, index), which covers
 * records [index << level, (index + 1) << level): PB_ENOTFOUND until the
 * log holds all of them (C2SP tlog-tiles serve these). */
int st_tree_node(st_txn *t, uint64_t level, uint64_t index, uint8_t out[ST_HASH_LEN]);

/* ---- checkpoints: the signed note for each size a commit published ---- */
int st_checkpoint_put(st_txn *t, uint64_t size, const char *note, size_t len);
/* size 0 = the latest. *note is malloc'd and NUL-terminated. */
int st_checkpoint_get(st_txn *t, uint64_t size, char **note, size_t *len, uint64_t *got_size);
/* In size order; fn returns non-zero to stop. */
int st_checkpoint_each(st_txn *t, int (*fn)(uint64_t size, const char *note, size_t len, void *arg),
                       void *arg);

/* ---- witness cosignatures (st_cosig.c, README "Witness cosignatures") ---- */
/* The cosignature line (ending in a newline) of the witness with key_id
 * over the checkpoint of size, replacing that witness's earlier one. */
int st_cosig_put(st_txn *t, uint64_t size, const uint8_t key_id[ST_KEYID_LEN], const char *line,
                 size_t len);
/* Every line stored for size, concatenated into a malloc'd NUL-terminated
 * buffer; *lines NULL and *len 0 when there are none. */
int st_cosig_get(st_txn *t, uint64_t size, char **lines, size_t *len);
/* The largest checkpoint size with a cosignature; PB_ENOTFOUND if none. */
int st_cosig_latest(st_txn *t, uint64_t *size);

/* ---- personal data and content hashes ---- */
/* secretbox(nonce || ciphertext); *out is malloc'd. */
int st_seal(const st_env *env, const uint8_t *plain, size_t len, uint8_t **out, size_t *outlen);
int st_unseal(const st_env *env, const uint8_t *sealed, size_t len, uint8_t **out, size_t *outlen);
/* BLAKE2b-256 keyed by the message's salt. */
void st_content_hash(const uint8_t salt[ST_SALT_LEN], const char *text, size_t len,
                     uint8_t out[ST_HASH_LEN]);
/* A read-only open gets the data key, so an auditor holding it can
 * st_unseal (never st_seal: such an open writes nothing). */
void st_data_key_set(st_env *env, const uint8_t key[32]);

/* ---- the texts behind a record's commitments (README, "Record texts") ---- */
/* Commitment to a free text of a record: BLAKE2b-256 keyed by salt over
 * "mailroom/text/v1\n" || field || "\n" || text. The field name separates
 * domains: one text in two fields gives two commitments. */
void st_text_commit(const uint8_t salt[ST_SALT_LEN], const char *field, const char *text,
                    size_t len, uint8_t out[ST_HASH_LEN]);
/* The sealed RecordTexts of log record index, put in the transaction that
 * appends the record. get: PB_ENOTFOUND when the record has none; *data
 * points into the map until the transaction ends. */
int st_texts_put(st_txn *t, uint64_t index, const uint8_t *sealed, size_t len);
int st_texts_get(st_txn *t, uint64_t index, const uint8_t **data, size_t *len);

/* The same over subject "\n" body: what RECEIVED and REDISPATCHED commit,
 * so that an auditor holding the store can check both texts. */
void st_submit_hash(const uint8_t salt[ST_SALT_LEN], const char *subject, const char *body,
                    uint8_t out[ST_HASH_LEN]);

/* ---- for metrics (st_stats.c) ---- */
/* Bytes of the map in use (up to the last page written) and its size. */
int st_map_use(st_env *env, uint64_t *used, uint64_t *size);

/* ---- backups (st_backup.c) ---- */
/* A hot, compacted copy of env (open read-only is enough) into out_dir,
 * which must exist and hold no data.mdb: one consistent snapshot while
 * the router goes on writing. */
int st_backup(st_env *env, const char *out_dir);
/* *busy = 1 when a process has the store at dir open (LMDB's lock); 0
 * when none has, or there is no store. */
int st_in_use(const char *dir, int *busy);
/* *same = 1 when a's and b's logs hold the same first n records. */
int st_log_prefix(st_txn *a, st_txn *b, uint64_t n, int *same);

/* ---- verification (the auditor's side) ---- */
enum st_verify_fail {
	ST_VERIFY_OK = 0,
	ST_VERIFY_MALFORMED,   /* value too short or record does not parse */
	ST_VERIFY_INDEX,       /* record index differs from its position */
	ST_VERIFY_CHAIN,       /* prev_hash is not the previous record's hash */
	ST_VERIFY_SIGNATURE,   /* not under a valid checkpoint signed by the key in force */
	ST_VERIFY_KEY,         /* record 0 missing or untrusted, or a bad rotation record */
	ST_VERIFY_EMPTY,
};
struct st_verify_report {
	uint64_t records;      /* how many were read */
	int fail;              /* enum st_verify_fail */
	uint64_t bad_index;    /* first bad record, when fail != OK */
	uint8_t head_hash[ST_HASH_LEN];
	uint8_t pubkey[32];    /* the key in force at the end of the log */
	char key_name[128];
	uint64_t key_from;     /* first size pubkey signs (0: record 0's key) */
	uint64_t rotations;    /* AUDIT_LOG_KEY records after record 0 */
	uint8_t genesis_pk[32];   /* record 0's key */
	char detail[256];      /* what exactly failed, when fail != OK */
};
/* Checks every record in a read-only snapshot, and each stored checkpoint
 * when the walk reaches its size: signed by the key in force for that size
 * (record 0's, then each rotation's; the handover by the outgoing key
 * too) over the root of the records below it. Records under no checkpoint
 * fail. trusted_pk NULL: trust the key named by record 0 (the report says
 * which). Otherwise trusted_pk must be record 0's key or one a rotation
 * brought in that has signed a checkpoint since. Returns PB_OK when the
 * walk ran (look at report->fail), an error code when it could not. */
int st_verify(st_env *env, const uint8_t *trusted_pk, struct st_verify_report *report);
const char *st_verify_fail_str(int fail);

#endif
