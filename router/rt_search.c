/* The handlers' search (router/README.md, "Search"): the index of
 * search/sx.h, kept up by a follower thread that reads the log after
 * each commit, and the two operations that use it: SearchReq (handlers,
 * console) and SearchRebuildReq (mailroom-admin search-rebuild).
 *
 * The index is a file ([router] search_index) whose pages are sealed
 * under a key derived from the data key, so its texts are never on disk
 * in clear; or, with search_index = memory, held in this process alone.
 * A file carries a mark, the log position it has read and that record's
 * hash, written with each round: the next start takes the file as it is
 * and catches up from the mark, instead of reading every message again.
 * It is derived: nothing reads it as a record, and the store can rebuild
 * it at any time. */
#include "rt_ops.h"
#include "rt_search.h"
#include "mt.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"
#include "pb_time.h"
#include "sx.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FOLLOW_MAX 4096        /* log records read per round */
#define POLL_MS 1000           /* a round without a kick, in case one was missed */
/* Kicks within this long of the last round wait and share the next one:
 * FTS5 writes a segment per transaction and merges them again later, so
 * a round of 20 messages costs about twice per message what one of 300
 * does (docs/scaling.md, "Search"). A search never waits for it: it
 * asks for a round at once (catch_up). */
#define ROUND_MS 100
#define CATCH_UP_WAIT_MS 2000  /* a search waits this long for its snapshot */
/* Rounds share one SQLite transaction for this long: searches, on the
 * same connection, see every round at once, while a page the rounds
 * change again and again is sealed and written once per commit, and
 * FTS5 merges fewer, larger segments (a third less CPU per message in a
 * file, a sixth in memory: docs/scaling.md, "Search"). A crash loses the
 * rounds since the last commit, with their mark: the next start reads
 * them again from the log. */
#define COMMIT_MS 2000
#define LIMIT_DEFAULT 50
#define WORDS_MAX_BYTES 1000
#define TIME_MAX_MS 253402300800000LL   /* 10000-01-01: past any date a handler means */

/* Two locks, taken in this order only: mu (the index, held through a
 * search) and wake_mu (the follower's wake-up). The answering thread
 * takes wake_mu alone, so a long search never holds up an answer. */
struct rt_search {
	struct rt_core *core;
	pthread_mutex_t mu;     /* guards idx, next and gen */
	pthread_cond_t moved;   /* searches: next grew */
	sx *idx;
	uint64_t next;          /* log records the index has taken: [0, next) */
	uint64_t committed;     /* next as of the last commit */
	int txn_open;           /* rounds since then are in an open transaction */
	int64_t txn_since_us;
	uint64_t gen;           /* bumped by a rebuild: a round read before it is dropped */
	pthread_mutex_t wake_mu;   /* guards kicked and urgent */
	pthread_cond_t wake;    /* the follower: a commit, a search, or stop */
	int kicked;             /* something committed: a round within ROUND_MS */
	int urgent;             /* a search or a build waits: a round now */
	_Atomic int stop;
	atomic_flag rebuilding;   /* one search-rebuild at a time: it builds beside the file */
	_Atomic int damaged;      /* a page of the file did not open: the follower rebuilds */
	pthread_t thread;
	char path[PB_PATH_MAX + 16];   /* the index file; "" in memory */
	char path_new[PB_PATH_MAX + 32];   /* where a rebuild builds */
	uint8_t key[SX_KEY_LEN];
	uint8_t ids[2 * FOLLOW_MAX][PB_ID_LEN];   /* the follower's: messages of a round */
};

static void kick(struct rt_search *s, int urgent)
{
	pthread_mutex_lock(&s->wake_mu);
	s->kicked = 1;
	s->urgent |= urgent;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->wake_mu);
}

/* The document of one stored message. replies points into buf. */
static void doc_of(const Mailroom__StoredMessage *m, struct sx_doc *d, char **replies)
{
	const char *a = m->reply_text ? m->reply_text : "", *b = m->citizen_reply ? m->citizen_reply : "";

	memset(d, 0, sizeof(*d));
	d->id = m->id.data;
	d->channel = m->channel;
	d->status = m->status;
	d->queue = m->queue;
	d->received_ms = m->received_ms;
	d->open = (m->status == MAILROOM__STATUS__STATUS_QUEUED ||
	           m->status == MAILROOM__STATUS__STATUS_LEASED) && m->closed_ms == 0;
	for (size_t i = 0; i < m->n_clocks; i++) {
		const Mailroom__Clock *c = m->clocks[i];
		if (!c->stopped && c->due_ms > 0 && (d->due_ms == 0 || c->due_ms < d->due_ms))
			d->due_ms = c->due_ms;
	}
	d->subject = m->subject;
	d->body = m->body;
	*replies = NULL;
	if (*b && asprintf(replies, "%s\n%s", a, b) >= 0)
		d->replies = *replies;
	else
		d->replies = a;
}

/* A build's walk over the store, in chunks: sx_put_all writes a chunk
 * in row order, one segment, where puts in id order cost nearly one each
 * (messages of one millisecond come in random order), and each chunk is
 * its own SQLite transaction, so FTS5's pending rows stay small. The
 * store frees each message after the callback, so a chunk keeps copies.
 * The stop flag is looked at every message: a million take a minute,
 * and a stop must not wait for them. */
#define BUILD_CHUNK 2048

struct fill {
	sx *x;
	const _Atomic int *stop;
	int rc;
	size_t n;
	struct sx_doc docs[BUILD_CHUNK];
	char *mem[BUILD_CHUNK];    /* each doc's id and strings, one allocation */
};

static char *dup_into(char **p, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = memcpy(*p, s, n);

	*p += n;
	return d;
}

/* A copy of d that outlives the message it points into: *mem holds it. */
static int doc_copy(const struct sx_doc *d, struct sx_doc *c, char **mem)
{
	const char *queue = d->queue ? d->queue : "", *subject = d->subject ? d->subject : "",
	           *body = d->body ? d->body : "", *replies = d->replies ? d->replies : "";
	size_t len = SX_ID_LEN + strlen(queue) + strlen(subject) + strlen(body) + strlen(replies) + 4;
	char *p = *mem = malloc(len);

	if (!p)
		return PB_ENOMEM;
	*c = *d;
	c->id = memcpy(p, d->id, SX_ID_LEN);
	p += SX_ID_LEN;
	c->queue = dup_into(&p, queue);
	c->subject = dup_into(&p, subject);
	c->body = dup_into(&p, body);
	c->replies = dup_into(&p, replies);
	return PB_OK;
}

static void chunk_free(struct fill *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->mem[i]);
	f->n = 0;
}

static int chunk_put(struct fill *f)
{
	int rc = PB_OK;

	if (f->n && (rc = sx_begin(f->x)) == PB_OK) {
		rc = sx_put_all(f->x, f->docs, f->n);
		int crc = sx_commit(f->x);
		rc = rc ? rc : crc;
	}
	chunk_free(f);
	return rc;
}

static int put_each(const Mailroom__StoredMessage *m, void *arg)
{
	struct fill *f = arg;
	struct sx_doc d;
	char *replies;

	if (*f->stop)
		f->rc = PB_EUNAVAIL;
	else if (m->id.len == SX_ID_LEN) {
		doc_of(m, &d, &replies);
		if ((f->rc = doc_copy(&d, &f->docs[f->n], &f->mem[f->n])) == PB_OK)
			f->n++;
		free(replies);
		if (f->rc == PB_OK && f->n == BUILD_CHUNK)
			f->rc = chunk_put(f);
	}
	return f->rc ? -1 : 0;
}

/* What a mark keeps of record next - 1: its leaf hash, so that a file
 * is taken only by the store it was read from, not by one restored from
 * an older backup or another office's. */
static int head_of(st_txn *t, uint64_t next, uint8_t head[SX_HEAD_LEN])
{
	const uint8_t *data;
	size_t len;
	int rc;

	_Static_assert(SX_HEAD_LEN == MT_HASH_LEN, "a mark holds a leaf hash");
	memset(head, 0, SX_HEAD_LEN);
	if (next == 0)
		return PB_OK;
	if ((rc = st_log_get(t, next - 1, &data, &len)))
		return rc;
	mt_leaf_hash(data, len, head);
	return PB_OK;
}

static int mark(sx *x, st_txn *t, uint64_t next)
{
	uint8_t head[SX_HEAD_LEN];
	int rc;

	if ((rc = head_of(t, next, head)) || (rc = sx_begin(x)))
		return rc;
	rc = sx_mark_set(x, next, head);
	int crc = sx_commit(x);
	return rc ? rc : crc;
}

static int open_index(const struct rt_search *s, const char *path, sx **x)
{
	return path ? sx_open_file(x, path, s->key) : sx_open(x);
}

/* A new index of every message in t's snapshot, in a new file at path
 * (whatever was there is removed first) or in memory (path NULL);
 * PB_EUNAVAIL when s->stop was set meanwhile. The mark is written last:
 * a file whose build did not finish has none, and is built again. */
static int build(struct rt_search *s, st_txn *t, const char *path, sx **out, uint64_t *size,
                 uint64_t *count)
{
	struct fill *f = calloc(1, sizeof(*f));
	sx *x = NULL;
	int rc;

	*out = NULL;
	if (!f)
		return PB_ENOMEM;
	f->stop = &s->stop;
	if ((rc = st_log_size(t, size)) == PB_OK && (!path || (rc = sx_remove_file(path)) == PB_OK) &&
	    (rc = open_index(s, path, &x)) == PB_OK && (rc = sx_bulk(x, 1)) == PB_OK) {
		f->x = x;
		rc = st_msg_each(t, put_each, f);
		rc = rc ? rc : f->rc;
		if (rc == PB_OK)
			rc = chunk_put(f);   /* the last, partial chunk */
		chunk_free(f);
	}
	free(f);
	if (rc == PB_OK)
		rc = sx_bulk(x, 0);
	if (rc == PB_OK && path)
		rc = mark(x, t, *size);
	if (rc == PB_OK)
		rc = sx_count(x, count);
	if (rc) {
		sx_close(x);
		return rc;
	}
	*out = x;
	return PB_OK;
}

/* Moves a closed index file (and its log, if its close left one) to `to`. */
static int move_file(const char *from, const char *to)
{
	char a[PB_PATH_MAX + 40], b[PB_PATH_MAX + 40];
	int rc;

	if ((rc = sx_remove_file(to)) || rename(from, to))
		return rc ? rc : PB_EIO;
	snprintf(a, sizeof(a), "%s-wal", from);
	snprintf(b, sizeof(b), "%s-wal", to);
	return rename(a, b) && errno != ENOENT ? PB_EIO : PB_OK;
}

/* Installs x, read up to log record `size`, in place of the index in
 * force. A rebuild's file (built_at, beside the one in force) takes the
 * old one's place on disk: both are closed, it is moved, and opened
 * again; idx is NULL if that fails (searches are refused until a rebuild
 * succeeds). */
static int install(struct rt_search *s, sx *x, uint64_t size, const char *built_at)
{
	sx *old;
	int rc = PB_OK;

	pthread_mutex_lock(&s->mu);
	old = s->idx;
	s->txn_open = 0;   /* the old index's rounds go with it */
	s->committed = size;
	if (built_at) {
		sx_close(x);
		sx_close(old);
		old = x = NULL;
		if ((rc = move_file(built_at, s->path)) == PB_OK)
			rc = sx_open_file(&x, s->path, s->key);
	}
	s->idx = x;
	s->next = size;
	s->gen++;
	pthread_cond_broadcast(&s->moved);
	pthread_mutex_unlock(&s->mu);
	kick(s, 1);   /* whatever committed since the snapshot */
	sx_close(old);
	return rc;
}

static int id_order(const void *a, const void *b)
{
	return memcmp(a, b, PB_ID_LEN);
}

/* ------------------------------------------------------ record refs -- */

/* AuditRecord's field numbers (proto/mailroom.proto). */
#define FIELD_MESSAGE_ID 6
#define FIELD_RELATED_ID 33

/* A varint of at most max bytes at *p (below end): *v, *p past it. The
 * limits are protobuf-c's, so this reads what its unpack reads. */
static int varint(const uint8_t **p, const uint8_t *end, int max, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < max && *p < end; i++) {
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			return PB_OK;
	}
	return PB_ECORRUPT;
}

/* Reading two fields by hand costs a fraction of unpacking the whole
 * record (its strings and hashes copied, then freed): the follower read
 * every record that way, about 4% of its thread. The last occurrence of
 * a field wins, as in protobuf-c. */
int rt_search_refs(const uint8_t *data, size_t len, struct rt_refs *out)
{
	const uint8_t *p = data, *end = data + len;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		uint64_t tag, v;
		if (varint(&p, end, 5, &tag))
			return PB_ECORRUPT;
		uint32_t field = (uint32_t)tag >> 3;   /* protobuf-c keeps 32 bits of a tag */
		switch (tag & 7) {
		case 0:   /* varint */
			if (varint(&p, end, 10, &v))
				return PB_ECORRUPT;
			break;
		case 1:   /* 64-bit */
		case 5:   /* 32-bit */
			if ((size_t)(end - p) < ((tag & 7) == 1 ? 8u : 4u))
				return PB_ECORRUPT;
			p += (tag & 7) == 1 ? 8 : 4;
			break;
		case 2:   /* length-delimited */
			if (varint(&p, end, 5, &v) || v > INT32_MAX || v > (uint64_t)(end - p))
				return PB_ECORRUPT;
			if (field == FIELD_MESSAGE_ID || field == FIELD_RELATED_ID) {
				int j = field == FIELD_RELATED_ID;
				out->ref[j] = v ? p : NULL;
				out->len[j] = (size_t)v;
			}
			p += v;
			break;
		default:  /* groups (3, 4) and 6, 7: protobuf-c refuses them too */
			return PB_ECORRUPT;
		}
	}
	return PB_OK;
}

/* Ids of the messages the records [from, *to) name, each once, at most
 * FOLLOW_MAX records; *to is lowered to where it stopped. */
static int changed_ids(st_txn *t, uint64_t from, uint64_t *to, uint8_t (*ids)[PB_ID_LEN], size_t *n)
{
	*n = 0;
	if (*to - from > FOLLOW_MAX)
		*to = from + FOLLOW_MAX;
	for (uint64_t i = from; i < *to; i++) {
		const uint8_t *data;
		size_t len;
		struct rt_refs r;
		int rc;
		/* A log value is the serialised record alone (store/README.md). */
		if ((rc = st_log_get(t, i, &data, &len)) || (rc = rt_search_refs(data, len, &r)))
			return rc;
		for (int j = 0; j < 2; j++)
			if (r.len[j] == PB_ID_LEN)
				memcpy(ids[(*n)++], r.ref[j], PB_ID_LEN);
	}
	qsort(ids, *n, PB_ID_LEN, id_order);
	size_t u = 0;
	for (size_t i = 0; i < *n; i++)
		if (u == 0 || memcmp(ids[u - 1], ids[i], PB_ID_LEN))
			memmove(ids[u++], ids[i], PB_ID_LEN);
	*n = u;
	return PB_OK;
}

/* The messages of a round as they stand in its snapshot: docs[0, nput)
 * to put, gone[0, ngone) to remove. */
struct round {
	Mailroom__StoredMessage **msgs;
	struct sx_doc *docs;
	char **replies;
	size_t nput, ngone;
	uint8_t (*gone)[PB_ID_LEN];
};

static void round_free(struct round *r)
{
	for (size_t i = 0; r->msgs && i < r->nput; i++) {
		st_msg_free(r->msgs[i]);
		free(r->replies[i]);
	}
	free(r->msgs);
	free(r->docs);
	free(r->replies);
}

/* Reads the messages ids names (in place: the gone ones end up first). */
static int round_read(st_txn *t, uint8_t (*ids)[PB_ID_LEN], size_t n, struct round *r)
{
	memset(r, 0, sizeof(*r));
	r->gone = ids;
	r->msgs = calloc(n ? n : 1, sizeof(*r->msgs));
	r->docs = calloc(n ? n : 1, sizeof(*r->docs));
	r->replies = calloc(n ? n : 1, sizeof(*r->replies));
	if (!r->msgs || !r->docs || !r->replies)
		return PB_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		Mailroom__StoredMessage *m;
		int rc = st_msg_get(t, ids[i], &m);
		if (rc == PB_ENOTFOUND) {
			memmove(ids[r->ngone++], ids[i], PB_ID_LEN);
			continue;
		}
		if (rc)
			return rc;
		if (m->id.len != SX_ID_LEN) {
			st_msg_free(m);
			continue;
		}
		r->msgs[r->nput] = m;
		doc_of(m, &r->docs[r->nput], &r->replies[r->nput]);
		r->nput++;
	}
	return PB_OK;
}

/* The transaction a round goes into (s->mu held): the open one, or a
 * new one. */
static int txn_begin(struct rt_search *s)
{
	int rc;

	if (s->txn_open)
		return PB_OK;
	if ((rc = sx_begin(s->idx)) == PB_OK) {
		s->txn_open = 1;
		s->txn_since_us = pb_mono_us();
	}
	return rc;
}

/* A round failed (s->mu held): every round since the last commit is
 * dropped and read again from the log. */
static void txn_drop(struct rt_search *s)
{
	sx_rollback(s->idx);
	s->txn_open = 0;
	s->next = s->committed;
}

/* One round: the records committed since the index's position, and the
 * messages they name as they now stand in the same snapshot. The store
 * is read before the index is locked, so a search waits only for the
 * index's own work. */
static int follow(struct rt_search *s, int *behind)
{
	uint8_t (*ids)[PB_ID_LEN] = s->ids;
	uint64_t from, to, size, gen;
	struct round r;
	st_txn *t;
	size_t n;
	int rc;

	*behind = 0;
	pthread_mutex_lock(&s->mu);
	from = s->next;
	gen = s->gen;
	int none = s->idx == NULL;
	pthread_mutex_unlock(&s->mu);
	if (none)   /* nothing to keep up until a build succeeds */
		return PB_OK;
	if ((rc = st_txn_begin(s->core->store, NULL, 1, &t)))
		return rc;
	if ((rc = st_log_size(t, &size)) || (to = size) <= from ||
	    (rc = changed_ids(t, from, &to, ids, &n))) {
		st_txn_abort(t);
		return rc;
	}
	*behind = to < size;
	uint8_t head[SX_HEAD_LEN];
	rc = s->path[0] ? head_of(t, to, head) : PB_OK;
	if (rc == PB_OK)
		rc = round_read(t, ids, n, &r);
	else
		memset(&r, 0, sizeof(r));
	st_txn_abort(t);
	if (rc) {
		round_free(&r);
		return rc;
	}
	pthread_mutex_lock(&s->mu);
	if (gen == s->gen && (rc = txn_begin(s)) == PB_OK) {
		for (size_t i = 0; i < r.ngone && !rc; i++) {
			int drc = sx_remove(s->idx, r.gone[i]);
			rc = drc == PB_ENOTFOUND ? PB_OK : drc;
		}
		if (!rc)
			rc = sx_put_all(s->idx, r.docs, r.nput);
		if (!rc && s->path[0])   /* with the puts: a crash keeps both or neither */
			rc = sx_mark_set(s->idx, to, head);
		if (rc == PB_OK) {
			s->next = to;
			pthread_cond_broadcast(&s->moved);
		} else {
			txn_drop(s);
		}
	}
	pthread_mutex_unlock(&s->mu);
	round_free(&r);
	return rc;
}

/* Commits the open rounds once COMMIT_MS have passed, or now (force). */
static int txn_commit(struct rt_search *s, int force)
{
	int rc = PB_OK;

	pthread_mutex_lock(&s->mu);
	if (s->txn_open && (force || pb_mono_us() - s->txn_since_us >= COMMIT_MS * 1000LL)) {
		s->txn_open = 0;
		if ((rc = sx_commit(s->idx)) == PB_OK)
			s->committed = s->next;
		else
			s->next = s->committed;   /* rolled back: read them again */
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* A new index built beside the one in force, from a snapshot of the
 * store, and put in its place (search-rebuild, and a damaged file).
 * PB_ESTATE when another rebuild is running. */
static int rebuild(struct rt_search *s, st_txn *t, uint64_t *size, uint64_t *count)
{
	const char *at = s->path[0] ? s->path_new : NULL;
	sx *x;
	int rc;

	if (atomic_flag_test_and_set(&s->rebuilding))
		return PB_ESTATE;
	if ((rc = build(s, t, at, &x, size, count)) == PB_OK)
		rc = install(s, x, *size, at);
	else if (at)
		sx_remove_file(at);
	atomic_flag_clear(&s->rebuilding);
	return rc;
}

/* A page of the file that did not open, met by a search or a round:
 * the follower builds the index anew (searches are answered meanwhile
 * from what can still be read, or told to come back). */
static void damaged(struct rt_search *s)
{
	if (!s->damaged++)
		kick(s, 1);
}

static void repair(struct rt_search *s)
{
	int64_t t0 = pb_now_ms();
	uint64_t size, count;
	st_txn *t;
	int rc;

	pb_warn("search index: a page of %s does not open (changed on disk?); building it anew",
	        s->path);
	if ((rc = st_txn_begin(s->core->store, NULL, 1, &t)) == PB_OK) {
		rc = rebuild(s, t, &size, &count);
		st_txn_abort(t);
	}
	if (rc == PB_ESTATE)
		return;   /* a search-rebuild is at it; the flag stays for after it */
	s->damaged = 0;
	if (rc)
		pb_error("search index: cannot build it anew: %s; searches are refused until "
		         "mailroom-admin search-rebuild succeeds",
		         pb_err_str(rc));
	else
		pb_info("search index: %llu messages from the store in %lld ms, into %s",
		        (unsigned long long)count, (long long)(pb_now_ms() - t0), s->path);
}

/* The file the last run left, when it has a mark and the mark names
 * this store's record: installed as it is, and the follower reads the
 * log from its mark. Anything else is said and left to a build. */
static int resume(struct rt_search *s)
{
	uint8_t want[SX_HEAD_LEN];
	uint64_t size = 0, count;
	struct sx_mark m;
	char boot[40];
	int set, rc;
	st_txn *t;
	sx *x;

	if (access(s->path, F_OK))
		return PB_ENOTFOUND;   /* the first start: nothing to say */
	if ((rc = sx_open_file(&x, s->path, s->key))) {
		pb_warn("search index: %s cannot be read (%s: another data key, a changed page or "
		        "another format); building it anew",
		        s->path, pb_err_str(rc));
		return rc;
	}
	sx_boot_id(boot);
	if ((rc = sx_mark_get(x, &m, &set)) == PB_OK && !set)
		rc = PB_ESTATE;
	if (rc == PB_OK && !sx_mark_intact(&m, boot)) {
		sx_close(x);
		pb_warn("search index: the machine stopped while the router was writing %s, which "
		        "may have lost writes; building it anew",
		        s->path);
		return PB_ESTATE;
	}
	if (rc == PB_OK && (rc = st_txn_begin(s->core->store, NULL, 1, &t)) == PB_OK) {
		if ((rc = st_log_size(t, &size)) == PB_OK)
			rc = m.next > size ? PB_ESTATE : head_of(t, m.next, want);
		st_txn_abort(t);
		if (rc == PB_OK && memcmp(m.head, want, SX_HEAD_LEN) != 0)
			rc = PB_ESTATE;
	}
	if (rc == PB_OK)
		rc = sx_count(x, &count);
	if (rc) {
		sx_close(x);
		if (rc == PB_ESTATE)
			pb_warn("search index: %s does not follow this store (a build that did not "
			        "finish, or a store restored or replaced since); building it anew",
			        s->path);
		else
			pb_warn("search index: %s cannot be read (%s); building it anew", s->path,
			        pb_err_str(rc));
		return rc;
	}
	install(s, x, m.next, NULL);
	pb_info("search index: %llu messages from %s, read up to log record %llu of %llu; "
	        "following the log from there",
	        (unsigned long long)count, s->path, (unsigned long long)m.next,
	        (unsigned long long)size);
	return PB_OK;
}

/* The first index, taken from the file or built on the follower's
 * thread so that the router serves meanwhile: a search waits for it
 * (catch_up), then is told to come back. */
static void first_build(struct rt_search *s)
{
	int64_t t0 = pb_now_ms();
	uint64_t size, count;
	st_txn *t;
	sx *x = NULL;
	int rc;

	if (s->path[0] && resume(s) == PB_OK)
		return;
	if ((rc = st_txn_begin(s->core->store, NULL, 1, &t)) == PB_OK) {
		rc = build(s, t, s->path[0] ? s->path : NULL, &x, &size, &count);
		st_txn_abort(t);
	}
	if (rc && s->stop) {
		pb_info("search index: build stopped after %lld ms, the router is stopping",
		        (long long)(pb_now_ms() - t0));
		return;
	}
	if (rc) {
		pb_error("search index: cannot build it from the store: %s; searches are refused "
		         "until mailroom-admin search-rebuild succeeds",
		         pb_err_str(rc));
		return;
	}
	install(s, x, size, NULL);
	pb_info("search index: %llu messages from the store in %lld ms, %s%s",
	        (unsigned long long)count, (long long)(pb_now_ms() - t0),
	        s->path[0] ? "into " : "held in memory", s->path);
}

/* Waits (wake_mu held) on wake for ms at most; ETIMEDOUT when it passed. */
static int wait_ms(struct rt_search *s, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_cond_timedwait(&s->wake, &s->wake_mu, &ts);
}

/* Until the next round is due: at once when urgent, ROUND_MS after the
 * last one when kicked, every POLL_MS anyway. */
static void await_round(struct rt_search *s, int64_t last_us)
{
	pthread_mutex_lock(&s->wake_mu);
	while (!s->stop && !s->urgent) {
		if (s->kicked) {
			int64_t left = last_us + ROUND_MS * 1000 - pb_mono_us();
			if (left <= 0)
				break;
			wait_ms(s, left / 1000 + 1);
		} else if (wait_ms(s, POLL_MS) == ETIMEDOUT) {
			break;
		}
	}
	s->kicked = 0;
	s->urgent = 0;
	pthread_mutex_unlock(&s->wake_mu);
}

static void *follower_main(void *arg)
{
	struct rt_search *s = arg;
	int failing = 0;
	int64_t last_us = 0;

	pthread_setname_np(pthread_self(), "rt-search");
	first_build(s);
	while (!s->stop) {
		await_round(s, last_us);
		if (s->stop)
			break;
		last_us = pb_mono_us();
		if (s->damaged) {
			repair(s);
			continue;
		}
		int behind, rc = follow(s, &behind);
		if (rc == PB_OK)
			rc = txn_commit(s, 0);
		if (rc == PB_ECORRUPT && s->path[0])
			damaged(s);
		if (rc && !failing)
			pb_error("search index: cannot follow the log: %s; searches may miss the newest "
			         "changes until it can (mailroom-admin search-rebuild)",
			         pb_err_str(rc));
		failing = rc != PB_OK;
		if (behind)   /* a full round: go on at once */
			kick(s, 1);
	}
	return NULL;
}

/* The index file: [router] search_index, search.db in the store's
 * directory when that is empty, none for "memory". Its key is derived
 * from the data key, so it goes with the data it protects. */
static int index_place(struct rt_search *s)
{
	const struct pb_conf *c = s->core->conf;
	size_t n;

	if (strcmp(c->search_index, "memory") == 0)
		return PB_OK;
	n = c->search_index[0]
	            ? (size_t)snprintf(s->path, sizeof(s->path), "%s", c->search_index)
	            : (size_t)snprintf(s->path, sizeof(s->path), "%s/search.db", c->store_path);
	if (n >= sizeof(s->path) ||
	    (size_t)snprintf(s->path_new, sizeof(s->path_new), "%s.new", s->path) >=
	            sizeof(s->path_new))
		return PB_EINVAL;
	return crypto_kdf_derive_from_key(s->key, sizeof(s->key), 1, "mrsearch",
	                                  s->core->keys.data_key) == 0
	               ? PB_OK
	               : PB_EIO;
}

int rt_search_start(struct rt_core *core)
{
	struct rt_search *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return PB_ENOMEM;
	s->core = core;
	atomic_flag_clear(&s->rebuilding);
	if ((rc = index_place(s))) {
		pb_error("search index: [router] search_index is too long");
		free(s);
		return rc;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->wake_mu, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->moved, NULL);
	if (pthread_create(&s->thread, NULL, follower_main, s) != 0) {
		pthread_mutex_destroy(&s->mu);
		pthread_mutex_destroy(&s->wake_mu);
		pthread_cond_destroy(&s->wake);
		pthread_cond_destroy(&s->moved);
		free(s);
		return PB_EIO;
	}
	core->search = s;
	return PB_OK;
}

void rt_search_kick(struct rt_core *core)
{
	struct rt_search *s = core->search;

	if (s)
		kick(s, 0);
}

void rt_search_stop(struct rt_core *core)
{
	struct rt_search *s = core->search;

	if (!s)
		return;
	s->stop = 1;
	kick(s, 1);
	pthread_join(s->thread, NULL);
	if (txn_commit(s, 1) || (s->idx && s->path[0] && sx_stop(s->idx)))
		pb_warn("search index: cannot write its last rounds; the next start reads them again "
		        "or builds it anew");
	core->search = NULL;
	sx_close(s->idx);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->wake_mu);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->moved);
	sodium_memzero(s->key, sizeof(s->key));
	free(s);
}

/* ------------------------------------------------------------- operations -- */

/* Waits (s->mu held) until the index has taken every record of a
 * snapshot of `size`, so a handler finds what it just changed. */
static void catch_up(struct rt_search *s, uint64_t size)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += CATCH_UP_WAIT_MS / 1000;
	if (s->next < size)
		kick(s, 1);   /* the round now, not ROUND_MS later */
	while (s->next < size && !s->stop)
		if (pthread_cond_timedwait(&s->moved, &s->mu, &ts) == ETIMEDOUT)
			break;
}

static int item_of(struct rt_result *res, const Mailroom__StoredMessage *m, int64_t now_ms,
                   Mailroom__SearchItem **out)
{
	Mailroom__SearchItem *it = rt_own(res, malloc(sizeof(*it)), RT_OWN_FREE);
	struct sx_doc d;
	char *replies;

	if (!it)
		return PB_ENOMEM;
	mailroom__search_item__init(it);
	it->id = m->id;
	it->tracking_code = m->tracking_code;
	it->channel = m->channel;
	it->status = m->status;
	it->queue = m->queue;
	it->subject = m->subject;
	it->received_ms = m->received_ms;
	it->reply_due_ms = m->reply_due_ms;
	doc_of(m, &d, &replies);
	free(replies);
	it->overdue = d.open && d.due_ms > 0 && d.due_ms < now_ms;
	*out = it;
	return PB_OK;
}

int rt_op_search(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                 const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	const Mailroom__SearchReq *r = req->search;
	struct rt_search *s = core->search;
	const struct pb_handler *h = who->handler;
	const char *queues[PB_MAX_QUEUES];
	uint8_t (*ids)[SX_ID_LEN];
	uint64_t size;
	size_t n = 0, max = r->limit ? r->limit : LIMIT_DEFAULT, nq = 0;
	int more, rc;

	if (!s)
		return rt_fail(res, PB_EUNAVAIL, "search_unavailable", "the search index is not running");
	if (max > SX_LIMIT_MAX)
		return rt_fail(res, PB_EINVAL, "invalid_limit", "limit: 1-200");
	if (r->words && strlen(r->words) > WORDS_MAX_BYTES)
		return rt_fail(res, PB_EINVAL, "invalid_words", "words: at most 1000 bytes");
	if (r->from_ms < 0 || r->to_ms < 0 || r->from_ms > TIME_MAX_MS || r->to_ms > TIME_MAX_MS ||
	    (r->to_ms && r->from_ms >= r->to_ms))
		return rt_fail(res, PB_EINVAL, "invalid_range", "from must come before to");
	if (r->queue && *r->queue && !pb_handler_may(h, r->queue))
		return rt_fail(res, PB_EFORBIDDEN, "queue_forbidden", "this handler may not use that queue");
	/* The handler's queues and nothing else, supervisors too: a match
	 * would tell what another department's messages say. */
	for (int i = 0; i < h->nqueues && nq < PB_MAX_QUEUES; i++)
		queues[nq++] = h->queues[i];
	struct sx_query q = {.words = r->words, .channel = r->channel, .status = r->status,
	                     .queue = r->queue && *r->queue ? r->queue : NULL,
	                     .from_ms = r->from_ms, .to_ms = r->to_ms, .overdue = r->overdue,
	                     .now_ms = now_ms, .queues = queues, .nqueues = nq};
	if ((rc = st_log_size(t, &size)))
		return rt_fail(res, rc, pb_err_name(rc), "cannot read the store");
	if (!(ids = rt_own(res, calloc(max ? max : 1, SX_ID_LEN), RT_OWN_FREE)))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	pthread_mutex_lock(&s->mu);
	catch_up(s, size);
	rc = s->idx ? sx_search(s->idx, &q, ids, max, &n, &more) : PB_EUNAVAIL;
	pthread_mutex_unlock(&s->mu);
	if (rc == PB_ECORRUPT) {
		damaged(s);
		rc = PB_EUNAVAIL;
	}
	if (rc == PB_EUNAVAIL)
		return rt_fail(res, rc, "search_building",
		               "the search index is being built from the store; try again shortly");
	if (rc == PB_EINVAL)
		return rt_fail(res, rc, "invalid_words", "words: at most 16");
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "search failed");

	Mailroom__SearchResp *out = rt_own(res, malloc(sizeof(*out)), RT_OWN_FREE);
	Mailroom__SearchItem **items = rt_own(res, calloc(n ? n : 1, sizeof(*items)), RT_OWN_FREE);
	if (!out || !items)
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__search_resp__init(out);
	out->items = items;
	out->more = more;
	/* Each hit as the request's snapshot has it, checked again: the
	 * index may be a step ahead of the snapshot. */
	for (size_t i = 0; i < n; i++) {
		Mailroom__StoredMessage *m;
		if ((rc = st_msg_get(t, ids[i], &m)) == PB_ENOTFOUND)
			continue;   /* not in this snapshot yet */
		if (rc)
			return rt_fail(res, rc, pb_err_name(rc), "cannot read message");
		if (!rt_own(res, m, RT_OWN_MSG))
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		if (!pb_handler_may(h, m->queue))
			continue;
		if (item_of(res, m, now_ms, &items[out->n_items]))
			return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
		out->n_items++;
	}
	res->resp.search = out;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_SEARCH;
	return PB_OK;
}

int rt_op_search_rebuild(struct rt_core *core, st_txn *t, const struct rt_principal *who,
                         const Mailroom__Request *req, int64_t now_ms, struct rt_result *res)
{
	struct rt_search *s = core->search;
	Mailroom__SearchRebuildResp *out;
	uint64_t size, count;
	int64_t t0 = pb_now_ms();
	int rc;

	(void)req;
	(void)now_ms;
	if (!s)
		return rt_fail(res, PB_EUNAVAIL, "search_unavailable", "the search index is not running");
	if ((rc = rebuild(s, t, &size, &count)) == PB_ESTATE)
		return rt_fail(res, PB_ESTATE, "search_rebuilding", "a rebuild is already running");
	if (rc)
		return rt_fail(res, rc, pb_err_name(rc), "cannot rebuild the search index");
	if (!(out = rt_own(res, malloc(sizeof(*out)), RT_OWN_FREE)))
		return rt_fail(res, PB_ENOMEM, "no_memory", "out of memory");
	mailroom__search_rebuild_resp__init(out);
	out->messages = count;
	out->log_size = size;
	out->took_ms = (uint64_t)(pb_now_ms() - t0);
	pb_info("search index rebuilt by handler %s: %llu messages at log size %llu in %llu ms",
	        who->handler->name, (unsigned long long)count, (unsigned long long)size,
	        (unsigned long long)out->took_ms);
	res->resp.search_rebuild = out;
	res->resp.result_case = MAILROOM__RESPONSE__RESULT_SEARCH_REBUILD;
	return PB_OK;
}
