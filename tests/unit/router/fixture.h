/* The router tests' fixture (fixture.c). */
#ifndef RT_TEST_FIXTURE_H
#define RT_TEST_FIXTURE_H

#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"
#include "rt.h"

extern struct pb_conf conf;
extern struct rt_core core;
extern char dir[256];
/* connector: mailroom-hotline under its own key ([connector.hotline]) */
extern struct rt_principal gw, alice, bob, connector;

void fx_setup(void);
void fx_teardown(void);

struct posted {
	uint8_t id[PB_ID_LEN];
	char code[PB_TRACK_TEXT_LEN + 1];
	uint8_t key_hash[PB_AKEY_HASH_LEN];
	char queue[PB_NAME_MAX];
	int64_t reply_due, ack_due;
	uint64_t log_index;
};

/* A citizen's letter as a test builds it: the request and its parts. */
struct fx_submit {
	Mailroom__Request req;
	Mailroom__SubmitReq s;
	Mailroom__Contact c;
	uint8_t key_hash[PB_AKEY_HASH_LEN];
};
/* A submit on channel from 张三 at phone, with a fresh access key's hash. */
void fx_submit_init(struct fx_submit *x, int channel, const char *subject, const char *body,
                    const char *phone);

/* What the receiving thread prepared for the next apply (rt_prepare), or
 * NULL: apply() hands it to the writer's result as rt_writer.c does. */
extern struct rt_prep *fx_prep;
/* One request in its own committed batch, as the writer runs it. */
int apply(const struct rt_principal *who, Mailroom__Request *req, int64_t now, struct rt_result *res);
int read_op(const struct rt_principal *who, Mailroom__Request *req, struct rt_result *res);
void post(int channel, const char *subject, int64_t now, struct posted *p);
int64_t at(const char *rfc3339);
Mailroom__PullResp *pull(const struct rt_principal *who, const char *queue, int64_t now,
                         struct rt_result *res, int expect);
int lease_op(const struct rt_principal *who, int op, const uint8_t *id, const uint8_t *token,
             const char *arg, int64_t now, struct rt_result *res);
/* The clear texts sealed for log record index; NULL when it has none.
 * Free with mailroom__record_texts__free_unpacked. */
Mailroom__RecordTexts *fx_texts(uint64_t index);
/* "<prefix>:<key id>", how the log names who. */
const char *fx_actor(const char *prefix, const struct rt_principal *who, char *buf, size_t len);
/* Is commit the commitment to text in field under salt? */
int fx_commits(const ProtobufCBinaryData *commit, const ProtobufCBinaryData *salt,
               const char *field, const char *text);

#endif
