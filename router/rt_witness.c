/* Pushing checkpoints to witnesses (c2sp.org/tlog-witness). A thread of
 * its own, never the writer's: once per [witness] push_interval_ms it
 * reads the newest checkpoint in a read-only snapshot and, for each
 * witness that has not cosigned that size, POSTs <url>/add-checkpoint
 * with the consistency proof from the size the witness last acknowledged
 * (0 at start; a 409 names the witness's size, and the push is retried
 * once from there). A 200's lines are checked against the configured
 * key; the first that verifies is queued for the writer, which stores it
 * in its next batch (rt_witness_store). Pushes coalesce: between two
 * intervals only the newest checkpoint goes out, and no 201 waits on any
 * of it. */
#include "rt_witness.h"
#include "pb_err.h"
#include "pb_log.h"
#include "sn.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ANSWER_MAX 8192
#define PENDING_MAX 16
#define HTTP_TIMEOUT_MS 5000L

struct wit_peer {
	const struct pb_witness *conf;
	char name[SN_VKEY_MAX];
	uint8_t pk[SN_PK_LEN];
	uint8_t id[SN_KEYID_LEN];
	uint64_t acked;                /* the size it holds, as far as we know */
	uint64_t cosigned;             /* the newest size it cosigned for us */
};

struct cosig {
	uint64_t size;
	uint8_t id[SN_KEYID_LEN];
	size_t len;
	char line[SN_LINE_MAX(SN_VKEY_MAX)];
};

struct rt_witness {
	struct rt_core *core;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	_Atomic int stop;            /* set under mu; read by a push in flight too */
	int interval_ms;
	struct wit_peer peers[PB_MAX_WITNESSES];
	int npeers;
	struct cosig pending[PENDING_MAX];   /* under mu, for the writer */
	int npending;
};

struct answer {
	char *body;
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t len = size * n;
	char *grown;

	if (len > ANSWER_MAX - a->len || !(grown = realloc(a->body, a->len + len + 1)))
		return 0;
	a->body = grown;
	memcpy(a->body + a->len, p, len);
	a->len += len;
	a->body[a->len] = '\0';
	return len;
}

/* A push in flight ends when the router stops, rather than holding the
 * stop for HTTP_TIMEOUT_MS per try and witness. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	const _Atomic int *stop = arg;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return *stop ? 1 : 0;
}

/* POST body to <url>/add-checkpoint; *status 0 when no answer came. */
static void post(CURL *h, const _Atomic int *stop, const char *url, const char *body, size_t len,
                 long *status, struct answer *a, char *ctype, size_t clen)
{
	char target[PB_PATH_MAX + 32];
	size_t n = strlen(url);
	const char *ct = NULL;
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: text/plain; charset=utf-8");

	while (n > 0 && url[n - 1] == '/')
		n--;
	snprintf(target, sizeof(target), "%.*s/add-checkpoint", (int)n, url);
	*status = 0;
	ctype[0] = '\0';
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, target);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, HTTP_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "mailroom-router");
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)stop);
	if (curl_easy_perform(h) == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
		if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
			snprintf(ctype, clen, "%s", ct);
	}
	curl_slist_free_all(hdr);
}

/* The first line of a 200's body that verifies as p's cosignature over
 * note; 0 when none does. */
static int pick_line(const struct wit_peer *p, const char *note, size_t nlen, const char *body,
                     size_t blen, struct cosig *out)
{
	const char *line = body, *nl, *b;
	size_t bl;
	uint64_t ts;
	char *cat;

	if (!(cat = malloc(nlen + blen + 1)))
		return 0;
	memcpy(cat, note, nlen);
	while (line < body + blen && (nl = memchr(line, '\n', (size_t)(body + blen - line)))) {
		size_t len = (size_t)(nl - line) + 1;
		memcpy(cat + nlen, line, len);
		if (len < sizeof(out->line) &&
		    sn_open_cosigned(cat, nlen + len, p->name, p->pk, &b, &bl, &ts) == PB_OK) {
			memcpy(out->line, line, len);
			out->line[len] = '\0';
			out->len = len;
			memcpy(out->id, p->id, SN_KEYID_LEN);
			free(cat);
			return 1;
		}
		line = nl + 1;
	}
	free(cat);
	return 0;
}

static void queue_cosig(struct rt_witness *w, const struct cosig *c)
{
	pthread_mutex_lock(&w->mu);
	/* Full: the oldest goes; the newer checkpoint is what counts. */
	if (w->npending == PENDING_MAX) {
		memmove(&w->pending[0], &w->pending[1], sizeof(w->pending[0]) * (PENDING_MAX - 1));
		w->npending--;
	}
	w->pending[w->npending++] = *c;
	pthread_mutex_unlock(&w->mu);
}

/* The consistency proof old -> size from a snapshot held only for it:
 * no read transaction stays open across a network round trip, which
 * would keep LMDB from reusing pages the writer frees meanwhile. */
static int proof_of(struct rt_witness *w, uint64_t old, uint64_t size,
                    uint8_t (*proof)[SN_HASH_LEN], size_t *n)
{
	st_txn *t;
	int rc;

	*n = 0;
	if (old == 0 || old == size)
		return PB_OK;
	if ((rc = st_txn_begin(w->core->store, NULL, 1, &t)))
		return rc;
	rc = st_tree_consistency(t, old, size, proof, SN_ADDCP_PROOF_MAX, n);
	st_txn_abort(t);
	return rc;
}

/* One push of (size, note) to p, from p->acked; a 409 moves p->acked and
 * the caller tries again. Returns 1 to try again. */
static int push_one(struct rt_witness *w, CURL *h, struct wit_peer *p, uint64_t size,
                    const char *note, size_t nlen)
{
	uint8_t proof[SN_ADDCP_PROOF_MAX][SN_HASH_LEN];
	struct answer a = {0};
	struct cosig c = {.size = size};
	char *body, ctype[64];
	size_t n = 0, cap, blen;
	uint64_t theirs;
	long status;
	int rc, again = 0;

	if (p->acked > size) {
		pb_warn("witness %s holds size %llu, beyond our %llu: not pushed", p->conf->name,
		        (unsigned long long)p->acked, (unsigned long long)size);
		return 0;
	}
	if ((rc = proof_of(w, p->acked, size, proof, &n))) {
		pb_warn("witness %s: no consistency proof %llu -> %llu: %s", p->conf->name,
		        (unsigned long long)p->acked, (unsigned long long)size, pb_err_str(rc));
		return 0;
	}
	cap = 32 + n * 46 + nlen + 2;
	if (!(body = malloc(cap)))
		return 0;
	rc = sn_addcp_format(p->acked, (const uint8_t(*)[SN_HASH_LEN])proof, n, note, nlen, body,
	                     cap, &blen);
	if (rc == PB_OK)
		post(h, &w->stop, p->conf->url, body, blen, &status, &a, ctype, sizeof(ctype));
	free(body);
	if (rc)
		return 0;
	if (status == 200 && pick_line(p, note, nlen, a.body ? a.body : "", a.len, &c)) {
		p->acked = p->cosigned = size;
		queue_cosig(w, &c);
	} else if (status == 200) {
		pb_warn("witness %s answered no cosignature that verifies under its key",
		        p->conf->name);
	} else if (status == 409 && strncmp(ctype, SN_TLOG_SIZE_TYPE, strlen(SN_TLOG_SIZE_TYPE)) == 0 &&
	           a.body && sn_tlog_size_parse(a.body, a.len, &theirs) == PB_OK &&
	           theirs != p->acked) {
		p->acked = theirs;
		again = 1;
	} else if (!w->stop) {   /* a push cut short by a stop is no news */
		pb_warn("witness %s: add-checkpoint of size %llu answered %ld", p->conf->name,
		        (unsigned long long)size, status);
	}
	free(a.body);
	return again;
}

static void push_all(struct rt_witness *w, CURL *h)
{
	st_txn *t;
	char *note;
	size_t nlen;
	uint64_t size;
	int rc;

	if (st_txn_begin(w->core->store, NULL, 1, &t))
		return;
	rc = st_checkpoint_get(t, 0, &note, &nlen, &size);
	st_txn_abort(t);
	if (rc)
		return;
	for (int i = 0; i < w->npeers && !w->stop; i++) {
		struct wit_peer *p = &w->peers[i];
		/* The first 409 tells us its size; the second try is final. */
		for (int tries = 0; p->cosigned != size && tries < 2 && !w->stop; tries++)
			if (!push_one(w, h, p, size, note, nlen))
				break;
	}
	free(note);
}

static void *pusher_main(void *arg)
{
	struct rt_witness *w = arg;
	CURL *h = curl_easy_init();

	pthread_setname_np(pthread_self(), "rt-witness");
	pthread_mutex_lock(&w->mu);
	while (!w->stop && h) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += w->interval_ms / 1000;
		ts.tv_nsec += (long)(w->interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		if (w->stop)
			break;
		pthread_mutex_unlock(&w->mu);
		push_all(w, h);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	if (h)
		curl_easy_cleanup(h);
	return NULL;
}

int rt_witness_start(struct rt_core *core)
{
	const struct pb_conf *c = core->conf;
	struct rt_witness *w;

	core->witness = NULL;
	if (c->nwitnesses == 0)
		return PB_OK;
	if (!(w = calloc(1, sizeof(*w))))
		return PB_ENOMEM;
	w->core = core;
	w->interval_ms = c->witness_push_interval_ms;
	for (int i = 0; i < c->nwitnesses; i++) {
		struct wit_peer *p = &w->peers[w->npeers++];
		p->conf = &c->witnesses[i];
		if (sn_vkey_parse(p->conf->key, strlen(p->conf->key), SN_TYPE_COSIG_V1, p->name,
		                  sizeof(p->name), p->pk)) {
			pb_error("[witness.%s] key is not a cosignature verifier key "
			         "(<name>+<hex id>+<base64>, type 0x04)",
			         p->conf->name);
			free(w);
			return PB_EINVAL;
		}
		sn_key_id(p->name, SN_TYPE_COSIG_V1, p->pk, p->id);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, pusher_main, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return PB_ENOMEM;
	}
	core->witness = w;
	pb_info("pushing checkpoints to %d witness(es) every %d ms", w->npeers, w->interval_ms);
	return PB_OK;
}

void rt_witness_stop(struct rt_core *core)
{
	struct rt_witness *w = core->witness;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	core->witness = NULL;
	free(w);
	curl_global_cleanup();
}

void rt_witness_store(struct rt_core *core, st_txn *t)
{
	struct rt_witness *w = core->witness;
	struct cosig got[PENDING_MAX];
	int n;

	if (!w || !t)
		return;
	pthread_mutex_lock(&w->mu);
	n = w->npending;
	memcpy(got, w->pending, sizeof(got[0]) * (size_t)n);
	w->npending = 0;
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < n; i++) {
		st_txn *child;
		int rc = st_txn_begin(core->store, t, 0, &child);
		if (rc == PB_OK) {
			if ((rc = st_cosig_put(child, got[i].size, got[i].id, got[i].line, got[i].len)))
				st_txn_abort(child);
			else
				rc = st_txn_commit(child);
		}
		if (rc)
			pb_warn("cannot store a witness cosignature for size %llu: %s",
			        (unsigned long long)got[i].size, pb_err_str(rc));
	}
}

int rt_witness_note(st_txn *t, uint64_t size, char **note, size_t *len, uint64_t *got)
{
	char *lines, *all;
	size_t llen;
	int rc;

	if ((rc = st_checkpoint_get(t, size, note, len, got)))
		return rc;
	rc = st_cosig_get(t, *got, &lines, &llen);
	if (rc == PB_OK && llen == 0)
		return PB_OK;
	if (rc || !(all = realloc(*note, *len + llen + 1))) {
		free(lines);
		free(*note);
		*note = NULL;
		return rc ? rc : PB_ENOMEM;
	}
	memcpy(all + *len, lines, llen + 1);
	free(lines);
	*note = all;
	*len += llen;
	return PB_OK;
}

int rt_witness_receipt_note(st_txn *t, uint64_t index, char **note, size_t *len,
                            uint64_t *size)
{
	uint64_t cosigned;

	if (st_cosig_latest(t, &cosigned) == PB_OK && cosigned > index &&
	    rt_witness_note(t, cosigned, note, len, size) == PB_OK)
		return PB_OK;
	return rt_witness_note(t, 0, note, len, size);
}
