/* Read-only answers about the transparency log: the signed checkpoint,
 * inclusion and consistency proofs, and pages of stored entries. They
 * read a snapshot, so every answer refers to committed, durable records
 * and checkpoints only. */
#include "rt_ops.h"
#include "rt_witness.h"
#include "mt.h"
#include "pb_err.h"

#include <stdlib.h>
#include <string.h>

#define ENTRIES_PAGE_MAX 256

static int proof_answer(struct rt_result *res, Mailroom__LogResp *lr, uint8_t (*proof)[32], size_t n)
{
	ProtobufCBinaryData *items = rt_own(res, calloc(n ? n : 1, sizeof(*items)), RT_OWN_FREE);

	if (!items)
		return PB_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		items[i].data = proof[i];
		items[i].len = 32;
	}
	lr->proof = items;
	lr->n_proof = n;
	return PB_OK;
}

static int log_size(st_txn *t, uint64_t *n)
{
	char *note;
	size_t len;
	int rc;

	/* Proofs are only for sizes a checkpoint was published at or below:
	 * the latest checkpoint's size, not the raw log length. */
	if ((rc = st_checkpoint_get(t, 0, &note, &len, n)))
		return rc;
	free(note);
	return PB_OK;
}

/* C2SP tlog-tiles: a tile at level l holds the hashes of the perfect
 * subtrees 8·l levels up, n·256 .. n·256 + width - 1; a bundle the records
 * n·256 .. n·256 + width - 1. Only what the latest checkpoint covers. */
#define TILE_WIDTH 256
#define BUNDLE_ENTRY_MAX 65535

static int tile_covered(uint64_t level, uint64_t n, uint64_t width, uint64_t published)
{
	uint64_t end;

	if (width < 1 || width > TILE_WIDTH || level > 7 || n > (UINT64_MAX >> 8) - 1)
		return 0;
	end = n * TILE_WIDTH + width;
	if (level > 0 && end > (UINT64_MAX >> (8 * level)))
		return 0;
	return (end << (8 * level)) <= published;
}

static int tile_answer(st_txn *t, const Mailroom__LogReq *q, uint64_t published,
                       struct rt_result *res, Mailroom__LogResp *lr)
{
	uint8_t *buf;
	int rc;

	if (!tile_covered(q->level, q->index, q->width, published))
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no such tile in the published tree");
	if (!(buf = rt_own(res, malloc((size_t)q->width * ST_HASH_LEN), RT_OWN_FREE)))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	for (uint64_t i = 0; i < q->width; i++)
		if ((rc = st_tree_node(t, 8 * (uint64_t)q->level, q->index * TILE_WIDTH + i,
		                       buf + i * ST_HASH_LEN)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot read the tree");
	lr->tile.data = buf;
	lr->tile.len = (size_t)q->width * ST_HASH_LEN;
	lr->size = published;
	return PB_OK;
}

static int bundle_answer(st_txn *t, const Mailroom__LogReq *q, uint64_t published,
                         struct rt_result *res, Mailroom__LogResp *lr)
{
	uint64_t first = q->index * TILE_WIDTH;
	size_t total = 0, off = 0;
	uint8_t *buf;
	int rc;

	if (!tile_covered(0, q->index, q->width, published))
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no such entry bundle in the published tree");
	for (uint64_t i = 0; i < q->width; i++) {
		const uint8_t *data;
		size_t len;
		if ((rc = st_log_get(t, first + i, &data, &len)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot read the record");
		if (len > BUNDLE_ENTRY_MAX)
			return rt_fail(res, PB_ETOOBIG, "too_big", "a record longer than a bundle entry");
		total += 2 + len;
	}
	if (!(buf = rt_own(res, malloc(total), RT_OWN_FREE)))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	for (uint64_t i = 0; i < q->width; i++) {
		const uint8_t *data;
		size_t len;
		if ((rc = st_log_get(t, first + i, &data, &len)) || off + 2 + len > total)
			return rt_fail(res, rc ? rc : PB_ECORRUPT, "io", "cannot read the record");
		buf[off] = (uint8_t)(len >> 8);
		buf[off + 1] = (uint8_t)len;
		memcpy(buf + off + 2, data, len);
		off += 2 + len;
	}
	lr->tile.data = buf;
	lr->tile.len = total;
	lr->size = published;
	return PB_OK;
}

int rt_op_log(struct rt_core *core, st_txn *t, const struct rt_principal *who,
              const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__LogReq *q = req->log;
	Mailroom__LogResp *lr = rt_own(res, malloc(sizeof(*lr)), RT_OWN_FREE);
	uint8_t (*proof)[32] = rt_own(res, malloc(MT_PROOF_MAX * 32), RT_OWN_FREE);
	uint64_t published = 0;
	size_t n = 0;
	int rc;

	(void)core;
	(void)who;
	(void)now_ms;

	if (!lr || !proof)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__log_resp__init(lr);
	rc = log_size(t, &published);
	if (rc == PB_ENOTFOUND)
		return rt_fail(res, PB_ENOTFOUND, "no_checkpoint", "no checkpoint published yet");
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot read the log");

	switch (q->kind) {
	case MAILROOM__LOG_REQ__KIND__CHECKPOINT: {
		char *note;
		size_t len;
		/* With the witnesses' cosignatures collected for it. */
		rc = rt_witness_note(t, q->size, &note, &len, &lr->size);
		if (rc == PB_ENOTFOUND)
			return rt_fail(res, PB_ENOTFOUND, "no_checkpoint", "no checkpoint at that size");
		if (rc)
			return rt_fail(res, rc, pb_err_name(rc), "cannot read the checkpoint");
		lr->checkpoint = rt_own(res, note, RT_OWN_FREE);
		break;
	}
	case MAILROOM__LOG_REQ__KIND__INCLUSION: {
		const uint8_t *data;
		size_t len;
		uint8_t *leaf = rt_own(res, malloc(32), RT_OWN_FREE), *copy;
		ProtobufCBinaryData *entry = rt_own(res, malloc(sizeof(*entry)), RT_OWN_FREE);
		if (q->size == 0 || q->size > published || q->index >= q->size)
			return rt_fail(res, PB_EINVAL, "invalid_range", "need index < size <= published size");
		if (!leaf || !entry || (rc = st_log_get(t, q->index, &data, &len)))
			return rt_fail(res, rc ? rc : PB_ENOMEM, "io", "cannot read the record");
		mt_leaf_hash(data, len, leaf);
		if ((rc = st_tree_inclusion(t, q->index, q->size, proof, MT_PROOF_MAX, &n)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot build the proof");
		/* The record itself too: with it the proof stands alone (a key
		 * rotation proven to a witness, a receipt checked offline). */
		if (!(copy = rt_own(res, malloc(len), RT_OWN_FREE)))
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		memcpy(copy, data, len);
		entry->data = copy;
		entry->len = len;
		lr->entries = entry;
		lr->n_entries = 1;
		lr->leaf_hash.data = leaf;
		lr->leaf_hash.len = 32;
		lr->size = q->size;
		/* The checkpoint signed at that size, when one was: a rotation's
		 * handover checkpoint is what authorises its record. */
		{
			char *note;
			size_t nlen;
			uint64_t got;
			rc = rt_witness_note(t, q->size, &note, &nlen, &got);
			if (rc == PB_OK)
				lr->checkpoint = rt_own(res, note, RT_OWN_FREE);
			else if (rc != PB_ENOTFOUND)
				return rt_fail(res, rc, pb_err_name(rc), "cannot read the checkpoint");
		}
		break;
	}
	case MAILROOM__LOG_REQ__KIND__CONSISTENCY:
		if (q->old_size == 0 || q->old_size > q->size || q->size > published)
			return rt_fail(res, PB_EINVAL, "invalid_range", "need 0 < old <= size <= published size");
		if ((rc = st_tree_consistency(t, q->old_size, q->size, proof, MT_PROOF_MAX, &n)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot build the proof");
		lr->size = q->size;
		break;
	case MAILROOM__LOG_REQ__KIND__ENTRIES: {
		uint64_t end = q->end;
		if (q->start >= published || end <= q->start)
			return rt_fail(res, PB_EINVAL, "invalid_range", "need start < end, start < published size");
		if (end > published)
			end = published;
		if (end - q->start > ENTRIES_PAGE_MAX)
			end = q->start + ENTRIES_PAGE_MAX;
		size_t count = (size_t)(end - q->start);
		ProtobufCBinaryData *items = rt_own(res, calloc(count, sizeof(*items)), RT_OWN_FREE);
		if (!items)
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		/* One copy of the page: the snapshot ends before the answer is packed. */
		size_t total = 0;
		for (size_t i = 0; i < count; i++) {
			const uint8_t *data;
			if ((rc = st_log_get(t, q->start + i, &data, &items[i].len)))
				return rt_fail(res, rc, pb_err_name(rc), "cannot read the record");
			total += items[i].len;
		}
		uint8_t *buf = rt_own(res, malloc(total ? total : 1), RT_OWN_FREE);
		if (!buf)
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		for (size_t i = 0, off = 0; i < count; i++) {
			const uint8_t *data;
			size_t len;
			if ((rc = st_log_get(t, q->start + i, &data, &len)) || len != items[i].len)
				return rt_fail(res, rc ? rc : PB_ECORRUPT, "io", "cannot read the record");
			memcpy(buf + off, data, len);
			items[i].data = buf + off;
			off += len;
		}
		lr->entries = items;
		lr->n_entries = count;
		lr->start = q->start;
		lr->size = published;
		break;
	}
	case MAILROOM__LOG_REQ__KIND__TILE:
		if ((rc = tile_answer(t, q, published, res, lr)))
			return rc;
		break;
	case MAILROOM__LOG_REQ__KIND__ENTRY_BUNDLE:
		if ((rc = bundle_answer(t, q, published, res, lr)))
			return rc;
		break;
	default:
		return rt_fail(res, PB_EINVAL, "invalid_request", "unknown log question");
	}
	if (n && (rc = proof_answer(res, lr, proof, n)))
		return rt_fail(res, rc, pb_err_name(rc), "out of memory");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_LOG;
	res->resp.log = lr;
	return PB_OK;
}
