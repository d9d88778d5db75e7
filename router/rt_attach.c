/* Attachments in the router (store/README.md, "Attachments"): uploads
 * arriving in chunks under the wire limit, the files bound to a new
 * message or a reply, each verdict the scanner (rt_scan.c) sends, a
 * handler's reads of clean files and a citizen's of the reply's. */
#include "rt_ops.h"
#include "pb_err.h"
#include "pb_ftype.h"
#include "pb_id.h"
#include "pb_log.h"
#include "pb_time.h"
#include "st_attach.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UPLOADS_MAX 16           /* uploads assembling at once */
#define UPLOAD_IDLE_MS 60000     /* an upload untouched this long is dropped */
#define READ_PIECE (512u << 10)  /* one read, under the wire limit */
#define PENDING RT_ATTACH_PENDING

/* ------------------------------------------------------------ uploads -- */

struct upload {
	uint8_t id[16];
	int used;
	uint32_t next_seq;
	uint8_t *buf;
	size_t len;
	int64_t touched_ms;
};

static pthread_mutex_t up_mu = PTHREAD_MUTEX_INITIALIZER;
static struct upload ups[UPLOADS_MAX];

static void up_drop(struct upload *u)
{
	free(u->buf);
	memset(u, 0, sizeof(*u));
}

/* The slot of id, or a free one for seq 0; NULL when none. */
static struct upload *up_find(const uint8_t id[16], uint32_t seq, int64_t now_ms)
{
	struct upload *free_slot = NULL;

	for (int i = 0; i < UPLOADS_MAX; i++) {
		struct upload *u = &ups[i];
		if (u->used && now_ms - u->touched_ms > UPLOAD_IDLE_MS)
			up_drop(u);
		if (u->used && memcmp(u->id, id, 16) == 0)
			return u;
		if (!u->used && !free_slot)
			free_slot = u;
	}
	if (seq != 0 || !free_slot)
		return NULL;
	free_slot->used = 1;
	memcpy(free_slot->id, id, 16);
	return free_slot;
}

static int upload_done(struct rt_core *core, uint8_t *buf, size_t len, struct rt_result *res)
{
	const struct pb_conf *conf = core->conf;
	struct st_attach_info info;
	uint8_t name[ST_ATTACH_NAME_LEN];
	const char *type = pb_ftype_sniff(buf, len);
	Mailroom__UploadResp *u;
	char *handle;
	int rc;

	if (!type)
		return rt_fail(res, PB_EINVAL, "unsupported_type",
		               "the file is not a JPEG, PNG or PDF (judged by its content)");
	if ((rc = st_attach_put(conf->store_path, core->keys.data_key, buf, len, type, name,
	                        &info)) != PB_OK)
		return rt_fail(res, PB_EIO, "unavailable", "cannot store the file");
	u = rt_own(res, malloc(sizeof(*u)), RT_OWN_FREE);
	handle = rt_own(res, malloc(2 * ST_ATTACH_NAME_LEN + 1), RT_OWN_FREE);
	if (!u || !handle)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__upload_resp__init(u);
	pb_hex(name, sizeof(name), handle);
	u->handle = handle;
	u->size = len;
	u->type = (char *)type;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_UPLOAD;
	res->resp.upload = u;
	return PB_OK;
}

int rt_op_upload(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__UploadReq *q = req->upload;
	size_t max = core->conf->attach_max_bytes;
	struct upload *u;
	uint8_t *buf = NULL, *grown;
	size_t len = 0;
	int rc;

	(void)t;
	(void)who;
	if (!q || q->upload_id.len != 16)
		return rt_fail(res, PB_EINVAL, "invalid_request", "upload id malformed");
	pthread_mutex_lock(&up_mu);
	if (!(u = up_find(q->upload_id.data, q->seq, now_ms))) {
		pthread_mutex_unlock(&up_mu);
		return rt_fail(res, q->seq ? PB_ESTATE : PB_ELIMIT, q->seq ? "upload_lost" : "busy",
		               q->seq ? "the upload is unknown here; start it again"
		                      : "too many uploads at once; try again");
	}
	if (q->seq != u->next_seq || q->data.len > max - u->len) {
		int big = q->seq == u->next_seq;
		up_drop(u);
		pthread_mutex_unlock(&up_mu);
		return big ? rt_fail(res, PB_ETOOBIG, "too_large", "the file is over the size limit")
		           : rt_fail(res, PB_ESTATE, "upload_lost", "chunks out of order; start again");
	}
	if (q->data.len) {
		if (!(grown = realloc(u->buf, u->len + q->data.len))) {
			up_drop(u);
			pthread_mutex_unlock(&up_mu);
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		}
		u->buf = grown;
		memcpy(u->buf + u->len, q->data.data, q->data.len);
		u->len += q->data.len;
	}
	u->next_seq++;
	u->touched_ms = now_ms;
	if (q->final) {
		buf = u->buf;
		len = u->len;
		u->buf = NULL;
		up_drop(u);
	}
	pthread_mutex_unlock(&up_mu);
	if (!q->final) {
		Mailroom__UploadResp *r = rt_own(res, malloc(sizeof(*r)), RT_OWN_FREE);
		if (!r)
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		mailroom__upload_resp__init(r);
		res->resp.result_case = MAILROOM__RESPONSE__RESULT_UPLOAD;
		res->resp.upload = r;
		return PB_OK;
	}
	if (len == 0)
		rc = rt_fail(res, PB_EINVAL, "unsupported_type", "the file is empty");
	else
		rc = upload_done(core, buf, len, res);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------ binding -- */

static void commit_of(const uint8_t salt[ST_SALT_LEN], const uint8_t sha[32],
                      uint8_t out[ST_HASH_LEN])
{
	char hex[65];

	pb_hex(sha, 32, hex);
	st_text_commit(salt, "attachment", hex, 64, out);
}

/* The files named by handles, as pending attachments (owned by res) and
 * their commitments under salt; counts them pending. */
static int bind_list(struct rt_core *core, st_txn *t, char **hs, size_t k, const uint8_t *salt,
                     struct rt_result *res, Mailroom__Attachment ***out,
                     ProtobufCBinaryData **commits)
{
	const struct pb_conf *conf = core->conf;
	Mailroom__Attachment **v;
	Mailroom__Attachment *a;
	ProtobufCBinaryData *c;
	uint8_t *space;
	int rc;

	if (k > (size_t)conf->attach_max_files)
		return rt_fail(res, PB_ELIMIT, "too_many_files", "too many attachments");
	v = rt_own(res, calloc(k, sizeof(*v)), RT_OWN_FREE);
	a = rt_own(res, calloc(k, sizeof(*a)), RT_OWN_FREE);
	c = rt_own(res, calloc(k, sizeof(*c)), RT_OWN_FREE);
	space = rt_own(res, calloc(k, ST_ATTACH_NAME_LEN + 32 + ST_HASH_LEN + 32), RT_OWN_FREE);
	if (!v || !a || !c || !space)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	for (size_t i = 0; i < k; i++) {
		uint8_t *name = space + i * (ST_ATTACH_NAME_LEN + 32 + ST_HASH_LEN + 32);
		uint8_t *sha = name + ST_ATTACH_NAME_LEN, *commit = sha + 32, *fsha = commit + ST_HASH_LEN;
		const char *h = hs[i];
		struct st_attach_info info;
		char *type;

		if (!h || strlen(h) != 2 * ST_ATTACH_NAME_LEN ||
		    sodium_hex2bin(name, ST_ATTACH_NAME_LEN, h, strlen(h), NULL, NULL, NULL) != 0)
			return rt_fail(res, PB_EINVAL, "invalid_attachment", "an attachment handle is malformed");
		for (size_t j = 0; j < i; j++)
			if (memcmp(v[j]->name_hash.data, name, ST_ATTACH_NAME_LEN) == 0)
				return rt_fail(res, PB_EINVAL, "invalid_attachment",
				               "the same attachment is named twice");
		rc = st_attach_info(conf->store_path, core->keys.data_key, name, &info);
		if (rc == PB_ENOTFOUND)
			return rt_fail(res, PB_EINVAL, "invalid_attachment", "no such uploaded file");
		/* The auditor's check without the data key: the bytes on disk. */
		if (rc == PB_OK)
			rc = st_attach_file_hash(conf->store_path, name, fsha);
		if (rc != PB_OK)
			return rt_fail(res, PB_EIO, "unavailable", "cannot read an uploaded file");
		if (!(type = rt_own(res, strdup(info.type), RT_OWN_FREE)))
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		memcpy(sha, info.sha, 32);
		commit_of(salt, sha, commit);
		mailroom__attachment__init(&a[i]);
		a[i].name_hash.data = name;
		a[i].name_hash.len = ST_ATTACH_NAME_LEN;
		a[i].sha256.data = sha;
		a[i].sha256.len = 32;
		a[i].file_sha256.data = fsha;
		a[i].file_sha256.len = 32;
		a[i].size = info.size;
		a[i].type = type;
		a[i].scan = MAILROOM__SCAN_STATE__SCAN_PENDING;
		v[i] = &a[i];
		c[i].data = commit;
		c[i].len = ST_HASH_LEN;
	}
	if ((rc = st_counter_add(t, PENDING, (int64_t)k)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot count pending files");
	*out = v;
	*commits = c;
	return PB_OK;
}

int rt_attach_bind(struct rt_core *core, st_txn *t, const Mailroom__SubmitReq *s,
                   Mailroom__StoredMessage *m, struct rt_result *res,
                   ProtobufCBinaryData **commits, size_t *n)
{
	Mailroom__Attachment **v;
	int rc;

	*commits = NULL;
	*n = 0;
	if (s->n_attachments == 0)
		return PB_OK;
	if ((rc = bind_list(core, t, s->attachments, s->n_attachments, m->text_salt.data, res, &v,
	                    commits)))
		return rc;
	m->attachments = v;
	m->n_attachments = s->n_attachments;
	*n = s->n_attachments;
	return PB_OK;
}

int rt_attach_bind_reply(struct rt_core *core, st_txn *t, char **handles, size_t k,
                         Mailroom__StoredMessage *m, struct rt_result *res,
                         ProtobufCBinaryData **commits)
{
	Mailroom__Attachment **v;
	int rc;

	*commits = NULL;
	if (k == 0)
		return PB_OK;
	if (m->text_salt.len != ST_SALT_LEN)
		return rt_fail(res, PB_ECORRUPT, "corrupt", "the message has no salt");
	if ((rc = bind_list(core, t, handles, k, m->text_salt.data, res, &v, commits)))
		return rc;
	/* m is rt_msg_load's shallow copy: what is put in it is res's. */
	m->reply_attachments = v;
	m->n_reply_attachments = k;
	return PB_OK;
}

/* ------------------------------------------------------------ verdict -- */

int rt_op_scan(struct rt_core *core, st_txn *t, const struct rt_principal *who,
               const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__ScanReq *q = req->scan;
	Mailroom__StoredMessage *m;
	Mailroom__AuditRecord rec;
	Mailroom__Attachment *a;
	Mailroom__MessageView *view;
	ProtobufCBinaryData commit;
	uint8_t cbuf[ST_HASH_LEN];
	int infected, rc;

	(void)who;
	if (!q || (rc = rt_msg_load(t, q->message_id.data, q->message_id.len, res, &m)))
		return q ? rc : rt_fail(res, PB_EINVAL, "invalid_request", "no scan");
	Mailroom__Attachment **list = q->reply ? m->reply_attachments : m->attachments;
	size_t n = q->reply ? m->n_reply_attachments : m->n_attachments;
	if (q->n >= n)
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no such attachment");
	a = list[q->n];
	infected = q->scan == MAILROOM__SCAN_STATE__SCAN_INFECTED;
	if (a->scan == MAILROOM__SCAN_STATE__SCAN_PENDING &&
	    (infected || q->scan == MAILROOM__SCAN_STATE__SCAN_CLEAN)) {
		/* m is rt_msg_load's shallow copy, whose arrays and elements are
		 * the unpacked message's: the changed file goes in a copy of the
		 * list that res owns, never into what unpack made. */
		Mailroom__Attachment **nl = rt_own(res, malloc(n * sizeof(*nl)), RT_OWN_FREE);
		Mailroom__Attachment *na = rt_own(res, malloc(sizeof(*na)), RT_OWN_FREE);
		char *sig = rt_own(res, strdup(infected && q->signature ? q->signature : ""),
		                   RT_OWN_FREE);
		if (!nl || !na || !sig)
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		memcpy(nl, list, n * sizeof(*nl));
		*na = *a;
		nl[q->n] = a = na;
		if (q->reply)
			m->reply_attachments = nl;
		else
			m->attachments = nl;
		a->scan = q->scan;
		a->signature = sig;
		a->scanned_ms = now_ms;
		commit_of(m->text_salt.data, a->sha256.data, cbuf);
		commit.data = cbuf;
		commit.len = sizeof(cbuf);
		mailroom__audit_record__init(&rec);
		rec.event = MAILROOM__AUDIT_EVENT__AUDIT_ATTACHMENT_SCANNED;
		rec.detail = (char *)(infected ? "infected" : "clean");
		rec.attachment_commits = &commit;
		rec.n_attachment_commits = 1;
		if ((rc = rt_audit(core, t, res, &rec, m, "router", now_ms, NULL)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot append to the log");
		if ((rc = st_counter_add(t, PENDING, -1)) || (rc = st_msg_put(t, m)))
			return rt_fail(res, rc, pb_err_name(rc), "cannot store the verdict");
		if (infected)
			pb_warn("attachment %u of a message quarantined: %s", q->n, q->signature);
	}
	if ((rc = rt_view(core, res, m, 1, &view)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot answer");
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_SCAN;
	res->resp.scan = view;
	return PB_OK;
}

/* -------------------------------------------------------------- reads -- */

/* One piece of a clean file a, from offset, as the answer. */
static int read_piece(struct rt_core *core, Mailroom__Attachment *a, uint64_t offset,
                      struct rt_result *res)
{
	Mailroom__AttachmentResp *r;
	uint8_t *plain = NULL, *piece;
	size_t len = 0, n;
	int rc;

	if (a->scan == MAILROOM__SCAN_STATE__SCAN_PENDING)
		return rt_fail(res, PB_ESTATE, "attachment_pending",
		               "the file has not been scanned yet; try again later");
	if (a->scan != MAILROOM__SCAN_STATE__SCAN_CLEAN)
		return rt_fail(res, PB_ESTATE, "attachment_infected",
		               "the file was refused by the virus scanner and is quarantined");
	rc = st_attach_get(core->conf->store_path, core->keys.data_key, a->name_hash.data, &plain,
	                   &len, NULL);
	if (rc != PB_OK)
		return rt_fail(res, rc == PB_ENOTFOUND ? PB_ECORRUPT : rc, "attachment_damaged",
		               "the stored file is missing or damaged");
	if (offset > len) {
		sodium_memzero(plain, len);
		free(plain);
		return rt_fail(res, PB_EINVAL, "invalid_request", "offset past the end");
	}
	n = len - offset > READ_PIECE ? READ_PIECE : len - offset;
	r = rt_own(res, malloc(sizeof(*r)), RT_OWN_FREE);
	piece = rt_own(res, malloc(n ? n : 1), RT_OWN_FREE);
	if (r && piece)
		memcpy(piece, plain + offset, n);
	sodium_memzero(plain, len);
	free(plain);
	if (!r || !piece)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__attachment_resp__init(r);
	r->info = a;
	r->offset = offset;
	r->data.data = piece;
	r->data.len = n;
	r->last = offset + n == len;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_ATTACHMENT;
	res->resp.attachment = r;
	return PB_OK;
}

int rt_op_attachment(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                     const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__AttachmentReq *q = req->attachment;
	Mailroom__StoredMessage *m;
	int rc;

	(void)now_ms;
	if (!q || (rc = rt_msg_load(t, q->message_id.data, q->message_id.len, res, &m)))
		return q ? rc : rt_fail(res, PB_EINVAL, "invalid_request", "no attachment");
	if (!pb_handler_may(who->handler, m->queue))
		return rt_fail(res, PB_EFORBIDDEN, "forbidden", "not a message of your queues");
	if (q->n >= m->n_attachments)
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no such attachment");
	return read_piece(core, m->attachments[q->n], q->offset, res);
}

/* The citizen's side: the gateway proves the access key as for a status
 * read, and a wrong key is the same not_found as a wrong file number. */
int rt_op_reply_file(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                     const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__ReplyFileReq *q = req->reply_file;
	Mailroom__StoredMessage *m;
	int rc;

	(void)who;
	(void)now_ms;
	if (!q)
		return rt_fail(res, PB_EINVAL, "invalid_request", "no file");
	if ((rc = rt_msg_by_key(t, q->tracking_code, &q->access_key_hash, res, &m)))
		return rc;
	if (q->n >= m->n_reply_attachments)
		return rt_fail(res, PB_ENOTFOUND, "not_found", "no such file");
	return read_piece(core, m->reply_attachments[q->n], q->offset, res);
}
