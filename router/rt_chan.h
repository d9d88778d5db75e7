/* Channels as rows of hooks. The generic intake, view, lease and clock
 * code asks a message's channel through these and never names one; the
 * channel files fill their row in (rt_chan.c for the plain channels,
 * rt_hotline*.c for 12345 orders, rt_disclosure.c for 依申请公开). A NULL
 * hook means the generic behaviour. */
#ifndef RT_CHAN_H
#define RT_CHAN_H

#include "rt_optab.h"

struct rt_chan {
	const char *name;
	/* Intake of a SubmitReq on this channel; NULL: no submissions. */
	rt_op_fn submit;
	/* Adds the channel's own part to a view (handler: a handler's). */
	int (*view)(struct rt_core *core, struct rt_result *res, const Mailroom__StoredMessage *m,
	            int handler, Mailroom__MessageView *v);
	/* 1 when the contact is withheld even from handlers. */
	int (*contact_hidden)(const Mailroom__StoredMessage *m);
	/* After a pull: what only the handler who took it sees. */
	int (*pulled)(st_txn *t, struct rt_result *res, Mailroom__MessageView *v);
	/* Taking the message is not its acknowledgement (签收 is explicit). */
	int pull_keeps_ack;
	/* Refuses every handler act on a message the channel closed. */
	int (*closed)(const Mailroom__StoredMessage *m, struct rt_result *res);
	/* The answer on a held lease; the lease is checked, the text too. */
	int (*reply)(struct rt_core *core, st_txn *t, const struct rt_principal *who,
	             Mailroom__StoredMessage *m, const char *text, int64_t now_ms,
	             struct rt_result *res);
	/* Refuses a handler's manual clock move where the channel moves its
	 * clocks itself. */
	int (*clock)(const Mailroom__StoredMessage *m, struct rt_result *res);
	/* Adjusts the acknowledge and reply spans from policy, and gives the
	 * platform's own due times (0: none). */
	void (*spans)(const struct pb_policy *p, const Mailroom__StoredMessage *m,
	              struct pb_clock span[2], int64_t platform[2]);
};

/* The row of a channel; a row with no hooks (and no intake) for an
 * unknown one, so callers never test for NULL. */
const struct rt_chan *rt_chan_of(int channel);

/* The rows the channel files define. */
extern const struct rt_chan rt_chan_plain_row, rt_chan_petition_row, rt_chan_hotline_row,
	rt_chan_disclosure_row;

#endif
