/* The work on a request that does not depend on the store, done on the
 * thread that received it (nng's task threads, several at once) before
 * it reaches the writer: the writer is the one serial stage, so what it
 * need not do caps the rate no more. Today a plain-channel submit's
 * bigram set and contact hashes (the repeat check), its texts' salt and
 * commitment, and its sealed contact. The writer checks that a piece was
 * made for the very request it applies, and does the work itself when a
 * piece is missing (an import, bench code, no memory). */
#include "rt_chan.h"
#include "rt_ops.h"
#include "pb_err.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void rt_prepare(struct rt_core *core, const Mailroom__Request *req, struct rt_prep *p)
{
	const Mailroom__SubmitReq *s;

	memset(p, 0, sizeof(*p));
	if (req->op_case != MAILROOM__REQUEST__OP_SUBMIT || !(s = req->submit) ||
	    rt_chan_of((int)s->channel) != &rt_chan_plain_row || s->order || !s->subject || !s->body)
		return;
	p->sub = s;
	rt_repeat_prepare(core, s, p);
	/* The same salt and hash the writer would make: random, then keyed. */
	randombytes_buf(p->salt, sizeof(p->salt));
	rt_submit_hash(p->salt, s->subject, s->body, p->content_hash);
	p->have_commit = 1;
	if (s->contact)
		p->have_sealed = rt_contact_seal(core, s->contact, &p->sealed, &p->sealed_len) == PB_OK;
}

struct rt_prep *rt_prep_for(struct rt_result *res, const Mailroom__SubmitReq *s)
{
	return res->prep && res->prep->sub == s ? res->prep : NULL;
}

void rt_prep_free(struct rt_prep *p)
{
	rt_bigrams_free(&p->text);
	free(p->sealed);
	sodium_memzero(p, sizeof(*p));
}

void rt_prep_rewind(struct rt_prep *p)
{
	p->scanned = 0;
	p->repeat_pm = 0;
	memset(p->repeat_of, 0, sizeof(p->repeat_of));
}
