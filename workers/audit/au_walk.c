/* The full verification walk over a store snapshot or a bundle, stopping
 * at the first failure. No record is signed: a record is authentic when
 * it is in the tree a checkpoint signed by the key in force signs.
 *
 *   record   as read, in order: present (missing), parses (malformed);
 *            record 0 names the log's first key (key); index = position
 *            (index, or missing when records were taken out); a rotation
 *            record's fields (key);
 *   checkpoint, when the walk reaches its size: signed by the key in
 *            force for that size, origin and size right, sizes increasing
 *            (checkpoint); the handover checkpoint of a rotation signed by
 *            the outgoing key too, which authorises it (key); the Merkle
 *            root of the records so far equals its root (root: the record
 *            named is the one whose hash the next record's prev_hash no
 *            longer holds); then, for the records it covers, in order:
 *            prev_hash (chain) and the message rules (state, deadline);
 *   at the end: a checkpoint past the last record (truncated), records
 *            under no checkpoint (checkpoint), messages left half-made
 *            (state), an empty log (empty), a --pubkey key the log never
 *            brought in (key).
 *
 * The rules run only on records a checkpoint has shown authentic, so a
 * rewritten record is named as such rather than as a broken rule. The
 * hashes (each record's, the roots) come from a thread of their own
 * (au_roots.c); each record is unpacked once, into a pool kept until the
 * checkpoint that covers it is checked. */
#include "au_pool.h"
#include "au_tlog.h"
#include "pb_err.h"
#include "sn.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records kept parsed between two checkpoints; past that many (a long
 * run under no checkpoint) they are parsed again when one covers them. */
#define PENDING_MAX 4096

struct walk {
	const struct au_src *s;
	struct au_verdict *v;
	const char *trusted_name;
	const uint8_t *trusted_pk;
	int trusted_met;               /* trusted_pk is a key of this log */
	uint64_t trusted_from;         /* ... in force from there */
	struct au_key cur;             /* the key in force */
	uint32_t cur_gen;              /* its number for au_roots_note */
	int has_retired;
	struct au_key retired;         /* the key the last rotation retired */
	struct au_rules *rules;
	int (*each)(const Mailroom__AuditRecord *r, void *arg);
	void *arg;
	struct au_roots *roots;
	struct au_pool pool;           /* the pending records */
	struct au_pool scratch;        /* one record at a time */
	Mailroom__AuditRecord *pending[PENDING_MAX];   /* from last_cp_size on */
	size_t npending;
	uint8_t prev[ST_HASH_LEN];     /* hash of the last record read */
	uint64_t chain_break;          /* first record whose prev_hash fails; UINT64_MAX: none */
	size_t next_cp;                /* the next checkpoint to check */
	uint64_t last_cp_size;         /* records below it are shown authentic */
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

/* The key in force becomes k (record 0's, or a rotation's). */
static int take_key(struct walk *w, const struct au_key *k)
{
	struct au_verdict *v = w->v;

	if (au_keyring_add(&v->keys, k))
		return -PB_ENOMEM;
	if (w->v->keys.n > 1) {
		w->retired = w->cur;
		w->has_retired = 1;
	}
	w->cur = *k;
	w->cur_gen = au_roots_key(w->roots, k);
	memcpy(v->pk, k->pk, 32);
	snprintf(v->key_name, sizeof(v->key_name), "%s", k->name);
	st_key_id(v->key_name, v->pk, v->key_id);
	if (w->trusted_pk && !w->trusted_met && memcmp(k->pk, w->trusted_pk, 32) == 0) {
		w->trusted_met = 1;
		w->trusted_from = k->from;
	}
	return AU_EXIT_OK;
}

/* Whether the key trusted by --pubkey is named by any AUDIT_LOG_KEY record
 * (the walk proves the rest): without it the answer is "key", at once. */
static int names_key(const struct au_src *s, const uint8_t pk[32])
{
	for (uint64_t i = 1; i < s->size; i++) {
		Mailroom__AuditRecord *r;
		const uint8_t *d;
		size_t n;
		int found;
		if (au_src_get(s, i, &d, &n) || n == 0 ||
		    !(r = mailroom__audit_record__unpack(NULL, n, d)))
			continue;
		found = r->event == MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY && r->key.len == 32 &&
		        memcmp(r->key.data, pk, 32) == 0;
		mailroom__audit_record__free_unpacked(r, NULL);
		if (found)
			return 1;
	}
	return 0;
}

static int genesis(struct walk *w, const Mailroom__AuditRecord *r)
{
	struct au_key k = {0};

	if (r->event != MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY || r->key.len != 32)
		return fail(w, AU_EXIT_KEY, "record", 0, "record 0 is not AUDIT_LOG_KEY with a key");
	if (!r->key_name || !*r->key_name || strlen(r->key_name) >= sizeof(k.name) ||
	    !sn_name_valid(r->key_name))
		return fail(w, AU_EXIT_KEY, "record", 0, "record 0 names no usable key name");
	/* A small-order key would let anyone forge signatures. */
	if (!crypto_core_ed25519_is_valid_point(r->key.data))
		return fail(w, AU_EXIT_KEY, "record", 0, "record 0 carries a weak public key");
	if (r->key_from_size != 0)
		return fail(w, AU_EXIT_KEY, "record", 0, "record 0 carries key_from_size %llu",
		            (unsigned long long)r->key_from_size);
	if (w->trusted_pk && strcmp(r->key_name, w->trusted_name) != 0)
		return fail(w, AU_EXIT_KEY, "record", 0,
		            "record 0 names the key '%s', the --pubkey file '%s'", r->key_name,
		            w->trusted_name);
	if (w->trusted_pk && memcmp(r->key.data, w->trusted_pk, 32) != 0 &&
	    !names_key(w->s, w->trusted_pk))
		return fail(w, AU_EXIT_KEY, "record", 0,
		            "record 0's key is not the --pubkey key, and no rotation brings it in");
	snprintf(k.name, sizeof(k.name), "%s", r->key_name);
	memcpy(k.pk, r->key.data, 32);
	return take_key(w, &k);
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
			if (au_src_get(w->s, q, &d, &n) || n == 0 ||
			    !(r = mailroom__audit_record__unpack(NULL, n, d)))
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

/* The prev_hash record q holds, if it parses. */
static int prev_hash_of(const struct walk *w, uint64_t q, uint8_t out[ST_HASH_LEN])
{
	Mailroom__AuditRecord *r;
	const uint8_t *d;
	size_t n;
	int ok = 0;

	if (au_src_get(w->s, q, &d, &n) || n == 0 || !(r = mailroom__audit_record__unpack(NULL, n, d)))
		return 0;
	if (r->prev_hash.len == ST_HASH_LEN) {
		memcpy(out, r->prev_hash.data, ST_HASH_LEN);
		ok = 1;
	}
	mailroom__audit_record__free_unpacked(r, NULL);
	return ok;
}

/* The root of the records up to size is not the checkpoint's: name the
 * record rewritten. A changed record no longer hashes to the prev_hash
 * of the one after it; without such a break, blame the last one. */
static int rewritten(struct walk *w, uint64_t size)
{
	uint8_t ph[ST_HASH_LEN];
	uint64_t at = size - 1;

	if (w->chain_break != UINT64_MAX && w->chain_break > w->last_cp_size)
		at = w->chain_break - 1;
	else if (size < w->s->size && prev_hash_of(w, size, ph) &&
	         sodium_memcmp(ph, w->prev, ST_HASH_LEN) != 0)
		at = size - 1;
	return fail(w, AU_EXIT_ROOT, "record", at,
	            "rewritten: records %llu..%llu are not the tree the checkpoint of size %llu "
	            "signs",
	            (unsigned long long)w->last_cp_size, (unsigned long long)(size - 1),
	            (unsigned long long)size);
}

/* Records from..to-1, shown authentic by a checkpoint: the chain and the
 * message rules, in order. */
static int covered(struct walk *w, uint64_t from, uint64_t to)
{
	char why[400];
	int cls = AU_EXIT_OK;

	if (w->chain_break != UINT64_MAX && w->chain_break < to)
		return fail(w, AU_EXIT_CHAIN, "record", w->chain_break,
		            "prev_hash is not the hash of record %llu",
		            (unsigned long long)(w->chain_break - 1));
	for (uint64_t i = from; i < to && !cls; i++) {
		Mailroom__AuditRecord *r;
		const uint8_t *d;
		size_t n;
		uint64_t at = i;
		if (i - from < w->npending) {
			r = w->pending[i - from];
		} else {
			au_pool_reset(&w->scratch);
			if (au_src_get(w->s, i, &d, &n) || n == 0 ||
			    !(r = au_pool_record(&w->scratch, d, n)))
				return fail(w, AU_EXIT_MALFORMED, "record", i, "cannot be read again");
		}
		if ((cls = au_rules_record(w->rules, r, why, sizeof(why), &at)) > 0)
			fail(w, cls, "record", at, "%s", why);
		else if (!cls && w->each && w->each(r, w->arg))
			cls = -1;
	}
	w->npending = 0;
	au_pool_reset(&w->pool);
	return cls < 0 ? -PB_ENOMEM : cls;
}

static int check_checkpoint(struct walk *w, const struct au_cp *c, uint64_t have)
{
	struct au_note n = {.text = c->note, .len = c->len};
	uint8_t root[MT_HASH_LEN];
	char why[256], cur[AU_LABEL_MAX], old[AU_LABEL_MAX];
	int cls;

	if (c->size == 0 || c->size <= w->last_cp_size)
		return fail(w, AU_EXIT_CHECKPOINT, "checkpoint", c->size,
		            "sizes must increase (the one before covers %llu)",
		            (unsigned long long)w->last_cp_size);
	st_key_label(w->cur.name, w->cur.pk, cur, sizeof(cur));
	if (w->has_retired)
		st_key_label(w->retired.name, w->retired.pk, old, sizeof(old));
	/* The thread has mostly opened it under the same key already. */
	if (!au_roots_note(w->roots, (size_t)(c - w->s->cps), w->cur_gen, &n) &&
	    (cls = au_note_open_checked(&n, w->cur.name, w->cur.pk, why, sizeof(why)))) {
		/* After a rotation the old key's signature alone is not enough. */
		if (w->has_retired &&
		    au_note_open_checked(&n, w->retired.name, w->retired.pk, why, sizeof(why)) == 0)
			return fail(w, AU_EXIT_CHECKPOINT, "checkpoint", c->size,
			            "signed only by the retired key %s; checkpoints of size %llu and "
			            "more need %s",
			            old, (unsigned long long)w->cur.from, cur);
		return fail(w, cls, "checkpoint", c->size, "%s", why);
	}
	/* Only the outgoing key's signature over a tree holding the rotation
	 * authorises the key it names: a key cannot authorise itself. */
	if (w->has_retired && w->last_cp_size < w->cur.from) {
		if (c->size != w->cur.from)
			return fail(w, AU_EXIT_KEY, "record", w->cur.from - 1,
			            "no handover checkpoint at size %llu signed by %s: nothing "
			            "authorises the rotation to %s",
			            (unsigned long long)w->cur.from, old, cur);
		if (au_note_open_checked(&n, w->retired.name, w->retired.pk, why, sizeof(why)))
			return fail(w, AU_EXIT_KEY, "record", w->cur.from - 1,
			            "the handover checkpoint of size %llu is not signed by %s, the key "
			            "in force before: a key cannot authorise itself",
			            (unsigned long long)c->size, old);
	}
	if (n.size != c->size)
		return fail(w, AU_EXIT_CHECKPOINT, "checkpoint", c->size,
		            "the note says size %llu", (unsigned long long)n.size);
	if (have < c->size)
		return fail(w, AU_EXIT_TRUNCATED, "checkpoint", c->size,
		            "the log has only %llu records: its tail is gone",
		            (unsigned long long)have);
	if ((cls = au_roots_root(w->roots, (size_t)(c - w->s->cps), root)))
		return -cls;
	if (sodium_memcmp(root, n.root, MT_HASH_LEN) != 0)
		return rewritten(w, c->size);
	if ((cls = covered(w, w->last_cp_size, c->size)))
		return cls;
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

/* Record i as read: its shape, place and key fields. */
static int one_record(struct walk *w, uint64_t i)
{
	Mailroom__AuditRecord *r;
	struct au_pool *pool = w->npending < PENDING_MAX ? &w->pool : &w->scratch;
	const uint8_t *d;
	size_t n;
	char why[400];
	int rc, cls = AU_EXIT_OK;

	rc = au_src_get(w->s, i, &d, &n);
	if (rc == PB_ENOTFOUND || (rc == PB_OK && n == 0))
		return fail(w, AU_EXIT_MISSING, "record", i, "record %llu is missing from the log",
		            (unsigned long long)i);
	if (rc)
		return -rc;
	if (pool == &w->scratch)
		au_pool_reset(pool);
	if (!(r = au_pool_record(pool, d, n)))
		return fail(w, AU_EXIT_MALFORMED, "record", i, "does not parse as an AuditRecord");
	if (i == 0)
		cls = genesis(w, r);
	if (!cls && r->index != i)
		cls = misplaced(w, i, r->index);
	if (!cls && w->chain_break == UINT64_MAX &&
	    (r->prev_hash.len != ST_HASH_LEN ||
	     sodium_memcmp(r->prev_hash.data, w->prev, ST_HASH_LEN) != 0))
		w->chain_break = i;
	if (!cls && i > 0 && r->event == MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY) {
		struct au_key next;
		if ((cls = au_rotation_fields(&w->cur, r, i, &next, why, sizeof(why))))
			fail(w, cls, "record", i, "%s", why);
		else
			cls = take_key(w, &next);
		w->v->nkeys++;
	}
	if (cls)
		return cls < 0 ? -PB_ENOMEM : cls;
	if ((rc = au_roots_hash(w->roots, i, w->prev)))
		return -rc;
	memcpy(w->v->head, w->prev, ST_HASH_LEN);
	if (pool == &w->pool)
		w->pending[w->npending++] = r;
	w->v->records = i + 1;
	return checkpoints_upto(w, i + 1);
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
		if (au_src_get(s, key->index, &d, &n) == PB_OK && n > 0 &&
		    (r = mailroom__audit_record__unpack(NULL, n, d)))
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
	if (w->last_cp_size < w->v->records)
		return fail(w, AU_EXIT_CHECKPOINT, "record", w->last_cp_size,
		            "records %llu..%llu are under no signed checkpoint",
		            (unsigned long long)w->last_cp_size,
		            (unsigned long long)(w->v->records - 1));
	if ((cls = au_rules_finish(w->rules, why, sizeof(why), &at)) > 0)
		return fail(w, cls, "record", at, "%s", why);
	if (cls < 0)
		return -PB_ENOMEM;
	if (w->s->bundle && (cls = bundle_keys(w)))
		return cls;
	/* A pinned later key must have signed a checkpoint since its
	 * rotation (the handover is the first). */
	if (w->trusted_pk && !w->trusted_met)
		return fail(w, AU_EXIT_KEY, "record", 0, "the --pubkey key is not a key of this log");
	if (w->trusted_pk && w->trusted_from > 0 && w->last_cp_size < w->trusted_from)
		return fail(w, AU_EXIT_KEY, "record", w->trusted_from - 1,
		            "the --pubkey key, brought in here, has signed nothing yet");
	return AU_EXIT_OK;
}

void au_verdict_free(struct au_verdict *v)
{
	au_keyring_free(&v->keys);
}

int au_walk(const struct au_src *s, const char *trusted_name, const uint8_t *trusted_pk,
            const cal_set *cal, struct au_verdict *v)
{
	return au_walk_each(s, trusted_name, trusted_pk, cal, NULL, NULL, v);
}

int au_walk_each(const struct au_src *s, const char *trusted_name, const uint8_t *trusted_pk,
                 const cal_set *cal, int (*each)(const Mailroom__AuditRecord *r, void *arg),
                 void *arg, struct au_verdict *v)
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
	w->trusted_name = trusted_name;
	if (au_rules_new(cal, &w->rules)) {
		free(w);
		return PB_ENOMEM;
	}
	if (au_roots_start(s, &w->roots)) {
		au_rules_free(w->rules);
		free(w);
		return PB_ENOMEM;
	}
	w->each = each;
	w->arg = arg;
	au_pool_init(&w->pool);
	au_pool_init(&w->scratch);
	w->chain_break = UINT64_MAX;
	if (s->size == 0)
		fail(w, AU_EXIT_EMPTY, "record", 0, "the log is empty");
	for (uint64_t i = 0; i < s->size && rc == AU_EXIT_OK; i++)
		rc = one_record(w, i);
	if (rc == AU_EXIT_OK && s->size > 0)
		rc = finish(w);
	au_roots_stop(w->roots);
	au_pool_free(&w->pool);
	au_pool_free(&w->scratch);
	au_rules_skipped(w->rules, &v->other_cal, &v->other_cal_first);
	au_rules_free(w->rules);
	free(w);
	return rc < 0 ? -rc : PB_OK;
}
