/* The router's internal library: the helpers under the operations
 * (rt_result.c, rt_audit.c, rt_msg.c) and the operations the table in
 * rt_optab.c dispatches to. Not for use outside the router. */
#ifndef RT_OPS_H
#define RT_OPS_H

#include "rt.h"
#include "rt_optab.h"

enum { RT_OWN_FREE, RT_OWN_MSG, RT_OWN_CONTACT, RT_OWN_OUTBOX, RT_OWN_APPLICANT, RT_OWN_HANDLERS,
       RT_OWN_NOTICE };

/* RT_OWN_OUTBOX: a list of unpacked outbox entries, freed entry by entry. */
struct rt_outbox_list {
	size_t n, cap, bytes;
	int failed;
	Mailroom__OutboxEntry **v;
};

/* Keeps p until rt_result_clear; returns p (NULL if p was NULL or the
 * table is full, in which case p is freed). */
void *rt_own(struct rt_result *res, void *p, int kind);
/* Loads a message, owned by res, as a copy the caller may edit freely. */
int rt_msg_load(st_txn *t, const uint8_t *id, size_t idlen, struct rt_result *res,
                Mailroom__StoredMessage **m);
/* Builds the view of m a handler (handler = 1) or a citizen sees. */
int rt_view(struct rt_core *core, struct rt_result *res, Mailroom__StoredMessage *m, int handler,
            Mailroom__MessageView **out);
/* Appends one audit record with the fields every record shares filled in
 * from m. */
int rt_audit(struct rt_core *core, st_txn *t, struct rt_result *res, Mailroom__AuditRecord *rec,
             const Mailroom__StoredMessage *m, const char *actor, int64_t now_ms,
             struct st_receipt *receipt);
/* "handler:<name>" into buf. */
const char *rt_actor(const struct rt_principal *who, char *buf, size_t len);
int rt_counter_queue(st_txn *t, const char *queue, const char *what, int64_t delta);
int rt_text_ok(const char *s, long min_chars, long max_chars);

/* Attachments (rt_attach.c). */
int rt_op_upload(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_scan(struct rt_core *core, st_txn *t, const struct rt_principal *who,
               const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_attachment(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                     const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_reply_file(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                     const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* Names the submission's uploaded files in m (scan pending) and fills
 * commits[] (*n of them, owned by res) for its RECEIVED record. */
int rt_attach_bind(struct rt_core *core, st_txn *t, const Mailroom__SubmitReq *s,
                   Mailroom__StoredMessage *m, struct rt_result *res,
                   ProtobufCBinaryData **commits, size_t *n);

/* A handler's files with a reply: pending, as reply_attachments of m
 * (an unpacked message), commits[] (k, owned by res) for its REPLIED. */
int rt_attach_bind_reply(struct rt_core *core, st_txn *t, char **handles, size_t k,
                         Mailroom__StoredMessage *m, struct rt_result *res,
                         ProtobufCBinaryData **commits);

/* Intake pieces shared by ordinary submissions and 12345 orders. */
int rt_check_texts(const Mailroom__SubmitReq *s, struct rt_result *res);
int rt_submit_answer(struct rt_core *core, st_txn *t, struct rt_result *res,
                     Mailroom__StoredMessage *m, int duplicate);
/* The same, with the receipt of the record at log_index (an urge's own). */
int rt_submit_answer_at(struct rt_core *core, st_txn *t, struct rt_result *res,
                        Mailroom__StoredMessage *m, int duplicate, uint64_t log_index);
void rt_submit_hash(const uint8_t salt[ST_SALT_LEN], const char *subject, const char *body,
                    uint8_t out[ST_HASH_LEN]);
int rt_seal_contact(struct rt_core *core, struct rt_result *res, const Mailroom__Contact *c,
                    Mailroom__StoredMessage *m);
/* c packed and sealed with the data key into *out (the caller frees). */
int rt_contact_seal(struct rt_core *core, const Mailroom__Contact *c, uint8_t **out, size_t *outlen);
/* What differs between the platform's due times and ours, for the record. */
void rt_platform_note(const Mailroom__StoredMessage *m, char *note, size_t len);
/* Creates, routes and queues a new message with its RECEIVED and ROUTED
 * records; ref (may be NULL) is indexed to it. *stored is the stored form,
 * owned by res. Fails through rt_fail. */
int rt_msg_create(struct rt_core *core, st_txn *t, const char *actor,
                  const Mailroom__SubmitReq *s, const char *ref, int64_t now_ms,
                  struct rt_result *res, Mailroom__StoredMessage **stored);

/* Idempotent submissions (SubmitReq.idem_key): PB_ENOTFOUND when the key
 * is absent or new (nothing set in res), PB_OK with *m the first message
 * for a repeat, else a failure through rt_fail (idempotency_mismatch when
 * the key came with another request). */
int rt_idem_find(st_txn *t, const Mailroom__SubmitReq *s, struct rt_result *res,
                 Mailroom__StoredMessage **m);
/* Indexes a new message under its key, in the transaction that stores it. */
int rt_idem_put(st_txn *t, const Mailroom__SubmitReq *s, const uint8_t *id,
                struct rt_result *res);

/* The same, for a disclosure application: disc (owned by the caller's
 * res) is stored with the message and its RECEIVED record names the
 * applicant kind, submission mode and legal receipt. */
int rt_msg_create_ex(struct rt_core *core, st_txn *t, const char *actor,
                     const Mailroom__SubmitReq *s, const char *ref, int64_t now_ms,
                     Mailroom__DisclosureState *disc, struct rt_result *res,
                     Mailroom__StoredMessage **stored);

/* Disclosure applications (rt_disclosure.c). */
int rt_disclosure_submit(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                         const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* Intake shared with imports: checks s, creates the application at now_ms
 * (ref indexed when given) and flags a probable repeat. */
int rt_disclosure_create(struct rt_core *core, st_txn *t, const char *actor,
                         const Mailroom__SubmitReq *s, const char *ref, int64_t now_ms,
                         struct rt_result *res, Mailroom__StoredMessage **stored);
int rt_op_disclosure(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                     const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* One step on application r->id at now_ms; answers its view. */
int rt_disclosure_step(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                       const Mailroom__DisclosureReq *r, int64_t now_ms, struct rt_result *res);
int rt_disclosure_view(struct rt_core *core, struct rt_result *res,
                       const Mailroom__StoredMessage *m, int handler,
                       Mailroom__DisclosureView **out);
/* Handlers' extra: the earlier application a repeat flag names. */
int rt_disclosure_view_repeat(st_txn *t, struct rt_result *res, Mailroom__DisclosureView *v);
/* Ends a message as answered by text at now_ms: lease or queue place
 * dropped, clocks stopped. The caller stores m and writes the record. */
int rt_answer(st_txn *t, Mailroom__StoredMessage *m, const char *text, const char *by,
              int64_t now_ms);

/* Intake by channel (rt_chan.c) and the reads (rt_read.c). */
int rt_op_submit(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_status(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_queues(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_stats(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);

/* Imports (rt_import.c). */
int rt_op_import(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);

/* Leases (rt_lease.c). */
int rt_op_pull(struct rt_core *core, st_txn *t, const struct rt_principal *who,
               const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_renew(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_reply(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_release(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                  const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_transfer(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                   const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* Finds the message ref names and checks that this handler may use its
 * queue and holds a live lease on it with this token. */
int rt_lease_check(st_txn *t, const struct rt_principal *who, const Mailroom__LeaseRef *ref,
                   int64_t now_ms, struct rt_result *res, Mailroom__StoredMessage **mp);
/* Puts m back in queue (prio 0 ahead of everything not yet tried). */
int rt_requeue(st_txn *t, Mailroom__StoredMessage *m, const char *queue, uint32_t prio,
               struct rt_result *res);
/* Return to dispatch (rt_dispatch.c). */
int rt_op_return_to_dispatch(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                             const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* The handlers' search and its rebuild (rt_search.c). */
int rt_op_search(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_search_rebuild(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                         const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* Referral across channels (rt_refer.c). */
int rt_op_refer(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* Repeats on the plain channels (rt_repeat.c): the check at intake
 * (indexes m under its contact's hashes; flags the closest earlier
 * message), the earlier case in a handler's view, the decision. */
int rt_repeat_check(struct rt_core *core, st_txn *t, struct rt_result *res,
                    Mailroom__StoredMessage *m, const Mailroom__Contact *c, int64_t received_ms);
int rt_repeat_view(st_txn *t, struct rt_result *res, Mailroom__MessageView *v);
void rt_repeat_prepare(struct rt_core *core, const Mailroom__SubmitReq *s, struct rt_prep *p);
int rt_repeat_scan(struct rt_core *core, st_txn *t, struct rt_result *res,
                   const Mailroom__SubmitReq *s, int64_t received_ms);
int rt_op_repeat_decide(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                        const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* The generic answer on a held lease: the message replied, its record. */
int rt_reply_plain(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                   Mailroom__StoredMessage *m, const char *text, int64_t now_ms,
                   struct rt_result *res);
void rt_token_hash(const uint8_t *token, uint8_t out[ST_HASH_LEN]);
/* Ends the current lease in the indexes (the caller rewrites m). */
int rt_drop_lease(st_txn *t, Mailroom__StoredMessage *m);
/* Does this handler hold a live lease on m with this token? Fails through
 * rt_fail (revoked, returned, answered, lease_invalid, lease_expired). */
int rt_lease_holds(const struct rt_principal *who, const Mailroom__StoredMessage *m,
                   const ProtobufCBinaryData *token, int64_t now_ms, struct rt_result *res);
/* 12345 orders (rt_hotline.c, rt_hotline_act.c). */
/* Refuses with a clear code when a 12345 order is withdrawn or returned. */
int rt_hotline_closed(const Mailroom__StoredMessage *m, struct rt_result *res);
int rt_hotline_submit(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                      const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_hotline(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                  const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* reply on a 12345 order: the direct answer to the citizen, passed on as a
 * "reply" event; the order stays leased until finish or return. */
int rt_hotline_reply(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                     Mailroom__StoredMessage *m, const char *text, int64_t now_ms,
                     struct rt_result *res);
int rt_op_ingest(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_outbox_ack(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                     const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_outbox(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_hotline_status(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                         const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);

/* Merge (并单, rt_merge.c) and lead/assisting queues (主办/协办, rt_assist.c). */
/* The message a handler names by id or tracking code. */
int rt_ref_load(st_txn *t, const char *ref, struct rt_result *res, Mailroom__StoredMessage **m);
int rt_op_merge(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_unmerge(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                  const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* The citizen's view of a merged-away message carries its primary's
 * answer once there is one. */
int rt_merge_status(st_txn *t, struct rt_result *res, const Mailroom__StoredMessage *m,
                    Mailroom__MessageView *v);
int rt_op_assist(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_opinion(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                  const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* The cases whose opinion this handler's queues owe (a read). */
int rt_op_assist_list(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                      const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* Before the lead's answer closes m: refused (assist_pending) while an
 * opinion is due, unless despite (may be NULL) says why; then the
 * ASSIST_OVERRIDDEN record. */
int rt_assist_gate(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                   Mailroom__StoredMessage *m, const char *despite, int64_t now_ms,
                   struct rt_result *res);
/* Pending opinions on m. */
size_t rt_assist_pending(const Mailroom__StoredMessage *m);
/* An assisting queue asked about m that this handler may use. */
int rt_assist_may(const struct pb_handler *h, const Mailroom__StoredMessage *m);
/* Notices to citizens (rt_notice.c). rt_audit calls rt_notice_record for
 * every record of a message: the events a citizen hears of get one
 * sealed notice per contact medium, in the same transaction. */
int rt_notice_record(struct rt_core *core, st_txn *t, struct rt_result *res,
                     const Mailroom__AuditRecord *rec, const Mailroom__StoredMessage *m,
                     uint64_t index, int64_t now_ms);
int rt_op_notices(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                  const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_notice_ack(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                     const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_notices_off(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                      const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);

/* The transparency log's read side (rt_log.c). */
int rt_op_log(struct rt_core *core, st_txn *t, const struct rt_principal *who,
              const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);

/* Petitions (rt_petition.c): a handler's step on a transferred petition. */
int rt_op_petition(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                   const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);

/* Clocks (rt_clock.c). */
int rt_clocks_start(struct rt_core *core, st_txn *t, struct rt_result *res,
                    Mailroom__StoredMessage *m, int64_t now_ms);
int rt_clock_stop(st_txn *t, Mailroom__StoredMessage *m, uint32_t kind, int64_t now_ms);
/* Runs a stopped clock again, as it stood, its ladder rescheduled (an
 * unmerge). */
int rt_clock_unstop(struct rt_core *core, st_txn *t, Mailroom__StoredMessage *m, uint32_t kind);
Mailroom__Clock *rt_clock_find(Mailroom__StoredMessage *m, uint32_t kind);
void rt_clock_mirror(Mailroom__StoredMessage *m);
void rt_clock_compute(struct rt_core *core, Mailroom__Clock *c);
int rt_op_clock(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* One move of clock c (a CLOCK_* action) at at_ms: pause, resume, extend
 * by days, or restart from at_ms. PB_ESTATE with *why "overdue" (a pause
 * after the deadline) or "not_paused". The caller then settles it. */
int rt_clock_move(struct rt_core *core, st_txn *t, Mailroom__StoredMessage *m, Mailroom__Clock *c,
                  int action, int64_t at_ms, int days, const char **why);
/* After a move: reschedules c's ladder, mirrors the clocks into m, notes
 * the calendar and moves m in its queue if its reply due changed (from
 * old_reply_due). The caller stores m. */
int rt_clock_settle(struct rt_core *core, st_txn *t, Mailroom__StoredMessage *m,
                    Mailroom__Clock *c, int64_t old_reply_due);
/* Appends rec (event and detail set by the caller) with clock c and the
 * due instant before the change. */
int rt_clock_record(struct rt_core *core, st_txn *t, struct rt_result *res,
                    Mailroom__StoredMessage *m, Mailroom__AuditRecord *rec, Mailroom__Clock *c,
                    int64_t old_due, const char *actor, int64_t now_ms);

/* Ratings, call-backs and the timers after the answer (rt_rating.c). */
#define RT_TIMER_VETO 5      /* deadline-index kinds beside the clocks' 1 and 2 */
#define RT_TIMER_INVITE 6
int rt_op_rate(struct rt_core *core, st_txn *t, const struct rt_principal *who,
               const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_callback(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                   const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_callbacks(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                    const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
/* 4 不满意 and 5 非常不满意 open a call-back. */
int rt_rating_bad(uint32_t level);
/* A citizen's message by tracking code and access key hash (rt_rating.c);
 * not_found for a wrong code or key alike. */
int rt_msg_by_key(st_txn *t, const char *code, const ProtobufCBinaryData *hash,
                  struct rt_result *res, Mailroom__StoredMessage **m);
/* A handler's message by id, else by tracking code. */
int rt_msg_by_ref(st_txn *t, const ProtobufCBinaryData *id, const char *code,
                  struct rt_result *res, Mailroom__StoredMessage **m);
/* The deadline-index key byte of a clock kind or timer and its step. */
uint8_t rt_deadline_byte(uint32_t kind, uint32_t step);
int rt_timer_put(st_txn *t, const uint8_t *id, int64_t at_ms, uint32_t kind, uint32_t step);
/* At intake: the veto line's first alert. */
int rt_timers_start(struct rt_core *core, st_txn *t, const Mailroom__StoredMessage *m);
/* At an answer: the one invitation to rate, [rating] invite_after_days on. */
int rt_invite_schedule(struct rt_core *core, st_txn *t, const Mailroom__StoredMessage *m,
                       int64_t now_ms);
/* A due timer entry (already taken from the index): its record, or nothing
 * when it is stale. */
int rt_timer_fire(struct rt_core *core, st_txn *t, const uint8_t *id, uint32_t kind,
                  uint32_t step, int64_t now_ms, struct rt_result *res);
/* Adds m's rating and call-back to a supervision row. */
void rt_rating_count(const Mailroom__StoredMessage *m, Mailroom__QueueSupervision *q);
/* A new reply clock from now_ms (re-opening after a call-back). */
int rt_clock_reopen(struct rt_core *core, st_txn *t, Mailroom__StoredMessage *m, int64_t now_ms,
                    Mailroom__Clock **out);

/* Published answers and the public statistics (rt_publish.c). */
int rt_op_publish(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                  const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);
int rt_op_answers(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                  const Mailroom__Request *req, int64_t now_ms, struct rt_result *res);

#endif
