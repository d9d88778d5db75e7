/* The plain channels (局长信箱, 在线咨询, 监督投诉) and the
 * lookup of every channel's row of hooks (rt_chan.h). Their intake is the
 * generic one; the rest is the generic behaviour, so their hooks are
 * empty. */
#include "rt_chan.h"
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_id.h"

static int plain_submit(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                        const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__SubmitReq *s = req->submit;
	Mailroom__StoredMessage *stored;
	char actor[PB_NAME_MAX + 16];
	int rc;

	if (s->access_key_hash.len != PB_AKEY_HASH_LEN || s->order)
		return rt_fail(res, PB_EINVAL, "invalid_request", "access key hash required");
	if ((rc = rt_check_texts(s, res)))
		return rc;
	if ((rc = rt_idem_find(t, s, res, &stored)) != PB_ENOTFOUND)
		return rc ? rc : rt_submit_answer(core, t, res, stored, 1);
	if ((rc = rt_repeat_scan(core, t, res, s, now_ms)) ||
	    (rc = rt_msg_create(core, t, rt_actor(who, actor, sizeof(actor)), s, NULL, now_ms, res,
	                        &stored)) ||
	    (rc = rt_repeat_check(core, t, res, stored, s->contact, now_ms)) ||
	    (rc = rt_idem_put(t, s, stored->id.data, res)))
		return rc;
	return rt_submit_answer(core, t, res, stored, 0);
}

const struct rt_chan rt_chan_plain_row = {
	.name = "plain", .submit = plain_submit, .pulled = rt_repeat_view};

static const struct rt_chan unknown_row = {.name = "unknown"};

static const struct rt_chan *const rows[] = {
	[MAILROOM__CHANNEL__CHANNEL_MAILBOX] = &rt_chan_plain_row,
	[MAILROOM__CHANNEL__CHANNEL_CONSULTATION] = &rt_chan_plain_row,
	[MAILROOM__CHANNEL__CHANNEL_COMPLAINT] = &rt_chan_plain_row,
	[MAILROOM__CHANNEL__CHANNEL_HOTLINE] = &rt_chan_hotline_row,
	[MAILROOM__CHANNEL__CHANNEL_DISCLOSURE] = &rt_chan_disclosure_row,
	[MAILROOM__CHANNEL__CHANNEL_PETITION] = &rt_chan_petition_row,
};

const struct rt_chan *rt_chan_of(int channel)
{
	if (channel <= 0 || (size_t)channel >= sizeof(rows) / sizeof(rows[0]) || !rows[channel])
		return &unknown_row;
	return rows[channel];
}

/* A SubmitReq goes to its channel's intake. */
int rt_op_submit(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const struct rt_chan *ch = rt_chan_of(req->submit->channel);

	if (!ch->submit)
		return rt_fail(res, PB_EINVAL, "invalid_channel", "channel not accepted");
	return ch->submit(core, t, who, req, now_ms, res);
}
