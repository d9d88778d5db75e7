/* The full verification walk over a store snapshot or a bundle, record by
 * record, stopping at the first failure:
 *
 *   record   parses (malformed); record 0 names the trusted key (key);
 *            strict Ed25519 signature (signature); index = position
 *            (index, or missing when records were taken out); prev_hash
 *            (chain); then the message rules (state, deadline);
 *   checkpoint, when the walk reaches its size: signed by the log key,
 *            origin and size right, sizes increasing (checkpoint); the
 *            Merkle root of the records so far equals its root (root);
 *   at the end: a checkpoint past the last record (truncated), messages
 *            left half-made (state), an empty log (empty).
 *
 * The Merkle root is kept as the compact range of perfect subtrees (at
 * most 64 hashes), so memory does not grow with the log. Records are read
 * in runs of CHUNK whose signatures are checked on every core first
 * (au_sigs.c); everything else happens in order on this thread. */
#include "au_tlog.h"
#include "pb_err.h"
#include "sn.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 4096

struct frontier {
	uint8_t h[MT_LEVELS][MT_HASH_LEN];
	uint8_t level[MT_LEVELS];
	int n;
};

static void frontier_add(struct frontier *f, const uint8_t leaf[MT_HASH_LEN])
{
	memcpy(f->h[f->n], leaf, MT_HASH_LEN);
	f->level[f->n++] = 0;
	while (f->n >= 2 && f->level[f->n - 1] == f->level[f->n - 2]) {
		mt_node_hash(f->h[f->n - 2], f->h[f->n - 1], f->h[f->n - 2]);
		f->level[f->n - 2]++;
		f->n--;
	}
}

/* RFC 6962 root of the leaves so far: the right fold of the pieces. */
static void frontier_root(const struct frontier *f, uint8_t out[MT_HASH_LEN])
{
	if (f->n == 0) {
		crypto_hash_sha256(out, NULL, 0);
		return;
	}
	memcpy(out, f->h[f->n - 1], MT_HASH_LEN);
	for (int i = f->n - 2; i >= 0; i--)
		mt_node_hash(f->h[i], out, out);
}

struct walk {
	const struct au_src *s;
	struct au_verdict *v;
	const uint8_t *trusted_pk;
	struct au_rules *rules;
	struct frontier fr;
	uint8_t prev[ST_HASH_LEN];
	size_t next_cp;            /* the next checkpoint to check */
	uint64_t last_cp_size;
	int threads;
	struct au_sigjob jobs[CHUNK];
};

static int fail(struct walk *w, int cls, const char *where, uint64_t at, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(struct walk *w, int cls, const char *where, uint64_t at, const char *fmt, ...)
{
	va_list ap;

	w->v->fail = cls;
	w->v->where = where;
	w->v->at = at;
	va_start(ap, fmt);
	vsnprintf(w->v->text, sizeof(w->v->text), fmt, ap);
	va_end(ap);
	return cls;
}

static int genesis(struct walk *w, const Mailroom__AuditRecord *r)
{
	struct au_verdict *v = w->v;

	if (r->event != MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY || r->key.len != 32)
		return fail(w, AU_EXIT_KEY, "record", 0, "record 0 is not AUDIT_LOG_KEY with a key");
	if (!r->key_name || !*r->key_name || strlen(r->key_name) >= sizeof(v->key_name) ||
	    !sn_name_valid(r->key_name))
		return fail(w, AU_EXIT_KEY, "record", 0, "record 0 names no usable key name");
	/* A small-order key would let anyone forge signatures. */
	if (!crypto_core_ed25519_is_valid_point(r->key.data))
		return fail(w, AU_EXIT_KEY, "record", 0, "record 0 carries a weak public key");
	if (w->trusted_pk && memcmp(r->key.data, w->trusted_pk, 32) != 0)
		return fail(w, AU_EXIT_KEY, "record", 0, "record 0's key is not the --pubkey key");
	if (w->trusted_pk && strcmp(r->key_name, v->key_name) != 0)
		return fail(w, AU_EXIT_KEY, "record", 0,
		            "record 0 names the key '%s', the --pubkey file '%s'", r->key_name,
		            v->key_name);
	memcpy(v->pk, r->key.data, 32);
	snprintf(v->key_name, sizeof(v->key_name), "%s", r->key_name);
	st_key_id(v->key_name, v->pk, v->key_id);
	return AU_EXIT_OK;
}

/* Position p holds the record numbered x != p. Records taken out leave
 * later ones early (missing); a swap or a repeat leaves p's own record
 * elsewhere (index). */
static int misplaced(struct walk *w, uint64_t p, uint64_t x)
{
	if (x > p) {
		for (uint64_t q = p + 1; q < w->s->size; q++) {
			Mailroom__AuditRecord *r;
			const uint8_t *d;
			size_t n;
			uint64_t idx;
			if (au_src_get(w->s, q, &d, &n) || n <= ST_SIG_LEN ||
			    !(r = mailroom__audit_record__unpack(NULL, n - ST_SIG_LEN, d)))
				continue;
			idx = r->index;
			mailroom__audit_record__free_unpacked(r, NULL);
			if (idx == p)
				return fail(w, AU_EXIT_INDEX, "record", p,
				            "holds record %llu; record %llu is at position %llu "
				            "(records out of order)",
				            (unsigned long long)x, (unsigned long long)p,
				            (unsigned long long)q);
		}
		return fail(w, AU_EXIT_MISSING, "record", p,
		            "record %llu is missing: the next one there is record %llu",
		            (unsigned long long)p, (unsigned long long)x);
	}
	return fail(w, AU_EXIT_INDEX, "record", p,
	            "holds record %llu again (records out of order or repeated)",
	            (unsigned long long)x);
}

static int check_checkpoint(struct walk *w, const struct au_cp *c, uint64_t have)
{
	struct au_note n = {.text = c->note, .len = c->len};
	uint8_t root[MT_HASH_LEN];
	char why[256];
	int cls;

	if (c->size == 0 || c->size <= w->last_cp_size)
		return fail(w, AU_EXIT_CHECKPOINT, "checkpoint", c->size,
		            "sizes must increase (the one before covers %llu)",
		            (unsigned long long)w->last_cp_size);
	if ((cls = au_note_open(&n, w->v->key_name, w->v->pk, why, sizeof(why))))
		return fail(w, cls, "checkpoint", c->size, "%s", why);
	if (n.size != c->size)
		return fail(w, AU_EXIT_CHECKPOINT, "checkpoint", c->size,
		            "the note says size %llu", (unsigned long long)n.size);
	if (have < c->size)
		return fail(w, AU_EXIT_TRUNCATED, "checkpoint", c->size,
		            "the log has only %llu records: its tail is gone",
		            (unsigned long long)have);
	frontier_root(&w->fr, root);
	if (sodium_memcmp(root, n.root, MT_HASH_LEN) != 0)
		return fail(w, AU_EXIT_ROOT, "checkpoint", c->size,
		            "the Merkle root of records 0..%llu is not the checkpoint's root",
		            (unsigned long long)(c->size - 1));
	w->last_cp_size = c->size;
	w->v->checkpoints++;
	w->v->checkpointed = c->size;
	return AU_EXIT_OK;
}

/* Checkpoints whose size the walk has reached (have records). */
static int checkpoints_upto(struct walk *w, uint64_t have)
{
	int cls;

	while (w->next_cp < w->s->ncps && w->s->cps[w->next_cp].size <= have) {
		if ((cls = check_checkpoint(w, &w->s->cps[w->next_cp], have)))
			return cls;
		w->next_cp++;
	}
	return AU_EXIT_OK;
}

/* Record i, read and its signature checked already when j is given. */
static int one_record(struct walk *w, uint64_t i, const struct au_sigjob *j)
{
	Mailroom__AuditRecord *r;
	const uint8_t *d;
	uint8_t leaf[MT_HASH_LEN];
	size_t n, blen;
	char why[400];
	uint64_t at = i;
	int rc, cls = AU_EXIT_OK, sig_ok;

	if (j) {
		rc = j->err ? j->err : j->n ? PB_OK : PB_ENOTFOUND;
		d = j->p;
		n = j->n;
	} else {
		rc = au_src_get(w->s, i, &d, &n);
	}
	if (rc == PB_ENOTFOUND)
		return fail(w, AU_EXIT_MISSING, "record", i, "record %llu is missing from the log",
		            (unsigned long long)i);
	if (rc)
		return -rc;
	if (n <= ST_SIG_LEN)
		return fail(w, AU_EXIT_MALFORMED, "record", i, "too short to hold a signature");
	blen = n - ST_SIG_LEN;
	if (!(r = mailroom__audit_record__unpack(NULL, blen, d)))
		return fail(w, AU_EXIT_MALFORMED, "record", i, "does not parse as an AuditRecord");
	if (i == 0)
		cls = genesis(w, r);
	/* Signature before position: an altered record says so, an authentic
	 * one out of place fails on its index or chain instead. */
	/* genesis() checked the key itself once. */
	sig_ok = j ? j->ok : sn_verify_strict_checked_key(d + blen, d, blen, w->v->pk) == PB_OK;
	if (!cls && !sig_ok)
		cls = fail(w, AU_EXIT_SIGNATURE, "record", i, "bad signature");
	if (!cls && r->index != i)
		cls = misplaced(w, i, r->index);
	if (!cls && (r->prev_hash.len != ST_HASH_LEN ||
	             sodium_memcmp(r->prev_hash.data, w->prev, ST_HASH_LEN) != 0))
		cls = fail(w, AU_EXIT_CHAIN, "record", i,
		           "prev_hash is not the hash of record %llu", (unsigned long long)(i - 1));
	if (!cls && i > 0 && r->event == MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY)
		w->v->nkeys++;
	if (!cls && (cls = au_rules_record(w->rules, r, why, sizeof(why), &at)) > 0)
		fail(w, cls, "record", at, "%s", why);
	mailroom__audit_record__free_unpacked(r, NULL);
	if (cls)
		return cls < 0 ? -PB_ENOMEM : cls;
	crypto_hash_sha256(w->prev, d, blen);
	memcpy(w->v->head, w->prev, ST_HASH_LEN);
	mt_leaf_hash(d, n, leaf);
	frontier_add(&w->fr, leaf);
	w->v->records = i + 1;
	return checkpoints_upto(w, i + 1);
}

/* Records from..from+n: read here, signatures on every core, then each
 * in order. */
static int chunk(struct walk *w, uint64_t from, size_t n)
{
	int rc = AU_EXIT_OK;

	for (size_t k = 0; k < n; k++) {
		struct au_sigjob *j = &w->jobs[k];
		j->err = au_src_get(w->s, from + k, &j->p, &j->n);
		if (j->err == PB_ENOTFOUND)
			j->err = 0;
		if (j->err || j->n == 0) {
			j->p = NULL;
			j->n = 0;
		}
	}
	au_sigs_check(w->jobs, n, w->v->pk, w->threads);
	for (size_t k = 0; k < n && rc == AU_EXIT_OK; k++)
		rc = one_record(w, from + k, &w->jobs[k]);
	return rc;
}

/* The bundle's key section must list the keys its records name. */
static int bundle_keys(struct walk *w)
{
	const struct au_src *s = w->s;
	uint64_t found = 0;

	for (size_t k = 0; k < s->nkeys; k++) {
		const struct au_key *key = &s->keys[k];
		Mailroom__AuditRecord *r = NULL;
		const uint8_t *d;
		size_t n;
		int same = 0;
		if (au_src_get(s, key->index, &d, &n) == PB_OK && n > ST_SIG_LEN &&
		    (r = mailroom__audit_record__unpack(NULL, n - ST_SIG_LEN, d)))
			same = r->event == MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY && r->key.len == 32 &&
			       memcmp(r->key.data, key->pk, 32) == 0 && r->key_name &&
			       strcmp(r->key_name, key->name) == 0;
		if (r)
			mailroom__audit_record__free_unpacked(r, NULL);
		if (!same)
			return fail(w, AU_EXIT_KEY, "bundle", key->index,
			            "the bundle's key list names %s, record %llu does not",
			            key->name, (unsigned long long)key->index);
		found++;
	}
	if (found != w->v->nkeys + 1)
		return fail(w, AU_EXIT_KEY, "bundle", 0,
		            "the bundle lists %llu keys, its records name %llu",
		            (unsigned long long)found, (unsigned long long)(w->v->nkeys + 1));
	return AU_EXIT_OK;
}

static int finish(struct walk *w)
{
	char why[400];
	uint64_t at = 0;
	int cls;

	/* Checkpoints past the end: the log lost its tail (when they are
	 * genuine, which check_checkpoint asks first). */
	if (w->next_cp < w->s->ncps)
		return check_checkpoint(w, &w->s->cps[w->next_cp], w->v->records);
	if ((cls = au_rules_finish(w->rules, why, sizeof(why), &at)) > 0)
		return fail(w, cls, "record", at, "%s", why);
	if (cls < 0)
		return -PB_ENOMEM;
	if (w->s->bundle)
		return bundle_keys(w);
	return AU_EXIT_OK;
}

int au_walk(const struct au_src *s, const char *trusted_name, const uint8_t *trusted_pk,
            const cal_set *cal, struct au_verdict *v)
{
	struct walk *w = calloc(1, sizeof(*w));
	int rc = AU_EXIT_OK;

	memset(v, 0, sizeof(*v));
	v->where = "record";
	v->deadlines = cal != NULL;
	if (!w)
		return PB_ENOMEM;
	if (sodium_init() < 0) {
		free(w);
		return PB_EIO;
	}
	w->s = s;
	w->v = v;
	w->trusted_pk = trusted_pk;
	if (trusted_pk)
		snprintf(v->key_name, sizeof(v->key_name), "%s", trusted_name);
	if (au_rules_new(cal, &w->rules)) {
		free(w);
		return PB_ENOMEM;
	}
	w->threads = au_sigs_threads();
	if (s->size == 0)
		fail(w, AU_EXIT_EMPTY, "record", 0, "the log is empty");
	else
		rc = one_record(w, 0, NULL);   /* it names the key for the rest */
	for (uint64_t i = 1; i < s->size && rc == AU_EXIT_OK; i += CHUNK)
		rc = chunk(w, i, s->size - i < CHUNK ? (size_t)(s->size - i) : CHUNK);
	if (rc == AU_EXIT_OK && s->size > 0)
		rc = finish(w);
	au_rules_skipped(w->rules, &v->other_cal, &v->other_cal_first);
	au_rules_free(w->rules);
	free(w);
	return rc < 0 ? -rc : PB_OK;
}
