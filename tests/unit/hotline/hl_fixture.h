/* Helpers for the 12345 router tests: orders as the gateway or the
 * puller hands them over, handler steps, and looks into the store. */
#ifndef HL_FIXTURE_H
#define HL_FIXTURE_H

#include "fixture.h"

/* fx_setup, and alice and bob may use the "hotline" queue. */
void hl_setup(void);

/* One order as a SubmitReq; the strings live until the next call. */
Mailroom__SubmitReq *hl_order(const char *order_no, uint32_t seq, const char *kind, int64_t now);
/* Submits it as the gateway does (push). */
int hl_push(const char *order_no, uint32_t seq, const char *kind, int64_t now, struct rt_result *res);
/* Pushes a dispatch and returns its message id. */
void hl_dispatch(const char *order_no, uint32_t seq, int64_t now, uint8_t id[PB_ID_LEN]);
/* Pulls the next hotline message as who; copies id and token. */
void hl_pull(const struct rt_principal *who, int64_t now, uint8_t id[PB_ID_LEN], uint8_t token[16]);
/* A HotlineReq step; token may be NULL. */
int hl_act(const struct rt_principal *who, int action, const uint8_t *id, const uint8_t *token,
           const char *text, const char *code, int64_t due, int64_t now, struct rt_result *res);
/* The stored message (free with st_msg_free). */
Mailroom__StoredMessage *hl_msg(const uint8_t *id);
/* Records of this event in the log. */
int hl_count_records(int event);
/* The newest record (free with mailroom__audit_record__free_unpacked). */
Mailroom__AuditRecord *hl_last_record(void);
uint64_t hl_depth(const char *queue);
uint64_t hl_outbox_count(int dead);

#endif
