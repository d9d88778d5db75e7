/* The bundle: one snapshot of the log in one file (workers/README.md).
 *
 *   "mailroom-bundle v1\n"
 *   section*   tag (4 ASCII bytes) || be64 payload length || payload
 *     "KEYS"   per AUDIT_LOG_KEY record: be64 index || be32 n || key line
 *     "LOGV"   per record, in index order: be32 n || stored value (n = 0: gap)
 *     "CKPT"   per checkpoint, by size: be64 size || be32 n || signed note
 *     "CALS"   optional: the calendar version (32 bytes), then per file
 *              be32 n || name || be32 n || the file's bytes
 *     "END."   empty; marks a complete file
 *
 * Sections come in this order, once each; bundles written before CALS
 * existed lack it, and their deadlines can only be checked with
 * --calendars. Key lines are signed-note
 * verifier keys, "<name>+<hex key id>+<base64(0x01 || public key)>". */
#include "au_tlog.h"
#include "pb_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const tags[] = {"KEYS", "LOGV", "CKPT", "END.", "CALS"};
#define TAG_END 3
#define TAG_CALS 4

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- writing ---- */

struct wctx {
	st_txn *t;
	uint64_t size;
	struct au_key *keys;
	size_t nkeys, capkeys;
	struct au_cp *cps;
	size_t ncps, capcps;
	uint64_t logv_len;
	uint64_t gaps;
	int failed;                    /* collect_cp ran out of memory */
};

static int add_key(struct wctx *w, uint64_t index, const Mailroom__AuditRecord *r)
{
	struct au_key *k;

	if (r->key.len != 32 || !r->key_name || strlen(r->key_name) >= AU_KEYNAME_MAX)
		return PB_OK;   /* not a usable key; verify says so */
	if (w->nkeys == w->capkeys) {
		size_t cap = w->capkeys ? w->capkeys * 2 : 4;
		void *p = realloc(w->keys, cap * sizeof(*w->keys));
		if (!p)
			return PB_ENOMEM;
		w->keys = p;
		w->capkeys = cap;
	}
	k = &w->keys[w->nkeys++];
	k->index = index;
	snprintf(k->name, sizeof(k->name), "%s", r->key_name);
	memcpy(k->pk, r->key.data, 32);
	return PB_OK;
}

/* First pass: the section lengths and the keys. */
static int scan(struct wctx *w)
{
	for (uint64_t i = 0; i < w->size; i++) {
		Mailroom__AuditRecord *r;
		const uint8_t *p;
		size_t n;
		int rc = st_log_get(w->t, i, &p, &n);

		if (rc == PB_ENOTFOUND) {
			w->gaps++;
			w->logv_len += 4;
			continue;
		}
		if (rc)
			return rc;
		if (n > AU_VALUE_MAX)
			return PB_ECORRUPT;
		w->logv_len += 4 + n;
		if (n == 0 || !(r = mailroom__audit_record__unpack(NULL, n, p)))
			continue;   /* kept as it is; verify names it */
		if (r->event == MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY)
			rc = add_key(w, i, r);
		mailroom__audit_record__free_unpacked(r, NULL);
		if (rc)
			return rc;
	}
	return PB_OK;
}

static int collect_cp(uint64_t size, const char *note, size_t len, void *arg)
{
	struct wctx *w = arg;
	char *copy;

	if (len > AU_NOTE_MAX) {
		w->failed = PB_ECORRUPT;
		return 1;
	}
	if (w->ncps == w->capcps) {
		size_t cap = w->capcps ? w->capcps * 2 : 64;
		void *p = realloc(w->cps, cap * sizeof(*w->cps));
		if (!p) {
			w->failed = PB_ENOMEM;
			return 1;
		}
		w->cps = p;
		w->capcps = cap;
	}
	if (!(copy = malloc(len + 1))) {
		w->failed = PB_ENOMEM;
		return 1;
	}
	memcpy(copy, note, len);
	copy[len] = '\0';
	w->cps[w->ncps].size = size;
	w->cps[w->ncps].note = copy;
	w->cps[w->ncps].len = len;
	w->ncps++;
	return 0;
}

static int section(struct au_out *o, int tag, uint64_t len)
{
	uint8_t h[12];

	memcpy(h, tags[tag], 4);
	put_be(h + 4, len, 8);
	return au_out_write(o, h, sizeof(h));
}

static int write_cals(struct au_out *o, const struct au_cals *c)
{
	uint64_t len = 32;
	uint8_t h[4];
	int rc;

	for (int i = 0; i < c->n; i++)
		len += 8 + strlen(c->names[i]) + c->lens[i];
	if ((rc = section(o, TAG_CALS, len)) || (rc = au_out_write(o, c->version, 32)))
		return rc;
	for (int i = 0; i < c->n && !rc; i++) {
		put_be(h, strlen(c->names[i]), 4);
		if ((rc = au_out_write(o, h, 4)) ||
		    (rc = au_out_write(o, c->names[i], strlen(c->names[i]))))
			break;
		put_be(h, c->lens[i], 4);
		if ((rc = au_out_write(o, h, 4)) || (c->lens[i] && (rc = au_out_write(o, c->data[i], c->lens[i]))))
			break;
	}
	return rc;
}

static int write_all(struct wctx *w, const struct au_cals *cals, struct au_out *o,
                     char (*lines)[AU_KEYNAME_MAX + 80])
{
	uint64_t klen = 0, clen = 0;
	uint8_t h[12];
	int rc;

	for (size_t i = 0; i < w->nkeys; i++) {
		au_vkey_format(w->keys[i].name, 0x01, w->keys[i].pk, lines[i], sizeof(lines[i]));
		klen += 12 + strlen(lines[i]);
	}
	for (size_t i = 0; i < w->ncps; i++)
		clen += 12 + w->cps[i].len;
	if ((rc = au_out_write(o, AU_BUNDLE_MAGIC, strlen(AU_BUNDLE_MAGIC))) ||
	    (rc = section(o, 0, klen)))
		return rc;
	for (size_t i = 0; i < w->nkeys; i++) {
		put_be(h, w->keys[i].index, 8);
		put_be(h + 8, strlen(lines[i]), 4);
		if ((rc = au_out_write(o, h, 12)) || (rc = au_out_write(o, lines[i], strlen(lines[i]))))
			return rc;
	}
	if ((rc = section(o, 1, w->logv_len)))
		return rc;
	for (uint64_t i = 0; i < w->size; i++) {
		const uint8_t *p = NULL;
		size_t n = 0;
		rc = st_log_get(w->t, i, &p, &n);
		if (rc && rc != PB_ENOTFOUND)
			return rc;
		put_be(h, rc ? 0 : n, 4);
		if ((rc = au_out_write(o, h, 4)) || (n && (rc = au_out_write(o, p, n))))
			return rc;
	}
	if ((rc = section(o, 2, clen)))
		return rc;
	for (size_t i = 0; i < w->ncps; i++) {
		put_be(h, w->cps[i].size, 8);
		put_be(h + 8, w->cps[i].len, 4);
		if ((rc = au_out_write(o, h, 12)) || (rc = au_out_write(o, w->cps[i].note, w->cps[i].len)))
			return rc;
	}
	if (cals && cals->n && (rc = write_cals(o, cals)))
		return rc;
	return section(o, TAG_END, 0);
}

int au_bundle_write(st_txn *t, const struct au_cals *cals, const char *path,
                    struct au_bundle_stats *st)
{
	struct wctx w = {.t = t};
	struct au_out *o = NULL;
	char (*lines)[AU_KEYNAME_MAX + 80] = NULL;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = st_log_size(t, &w.size)) || (rc = scan(&w)))
		goto out;
	if ((rc = st_checkpoint_each(t, collect_cp, &w)) == PB_OK)
		rc = w.failed;
	if (rc)
		goto out;
	o = malloc(sizeof(*o));
	lines = calloc(w.nkeys ? w.nkeys : 1, sizeof(*lines));
	if (!o || !lines) {
		rc = PB_ENOMEM;
		goto out;
	}
	if ((rc = au_out_open(o, path, 0644)))
		goto out;
	if ((rc = write_all(&w, cals, o, lines))) {
		au_out_abort(o);
		goto out;
	}
	rc = au_out_commit(o);
	st->records = w.size;
	st->checkpoints = w.ncps;
	st->keys = w.nkeys;
	st->gaps = w.gaps;
out:
	for (size_t i = 0; i < w.ncps; i++)
		free(w.cps[i].note);
	free(w.cps);
	free(w.keys);
	free(lines);
	free(o);
	return rc;
}

/* ---- reading ---- */

struct rctx {
	const uint8_t *p, *end;
	char *why;
	size_t wlen;
};

static int bad(struct rctx *r, const char *what)
{
	snprintf(r->why, r->wlen, "%s", what);
	return PB_ECORRUPT;
}

/* The payload of the next section, which must be tag. */
static int next_section(struct rctx *r, int tag, const uint8_t **p, const uint8_t **end)
{
	uint64_t len;

	if ((size_t)(r->end - r->p) < 12)
		return bad(r, "the file ends inside a section header (truncated)");
	if (memcmp(r->p, tags[tag], 4) != 0) {
		snprintf(r->why, r->wlen, "expected section %s", tags[tag]);
		return PB_ECORRUPT;
	}
	len = get_be(r->p + 4, 8);
	r->p += 12;
	if (len > (uint64_t)(r->end - r->p))
		return bad(r, "a section runs past the end of the file (truncated)");
	*p = r->p;
	*end = r->p + len;
	r->p += len;
	return PB_OK;
}

/* Counts the items of a section laid out as [prefix][be32 n][n bytes]. */
static int count_items(struct rctx *r, const uint8_t *p, const uint8_t *end, int prefix,
                       size_t *count)
{
	size_t n = 0;

	while (p < end) {
		uint64_t len;
		if ((size_t)(end - p) < (size_t)prefix + 4)
			return bad(r, "an item header runs past its section");
		len = get_be(p + prefix, 4);
		p += prefix + 4;
		if (len > (uint64_t)(end - p))
			return bad(r, "an item runs past its section");
		p += len;
		n++;
	}
	*count = n;
	return PB_OK;
}

static int read_keys(struct rctx *r, const uint8_t *p, const uint8_t *end, struct au_src *s)
{
	size_t n;
	int rc;

	if ((rc = count_items(r, p, end, 8, &n)))
		return rc;
	if (n && !(s->keys = calloc(n, sizeof(*s->keys))))
		return PB_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct au_key *k = &s->keys[i];
		size_t len = (size_t)get_be(p + 8, 4);
		k->index = get_be(p, 8);
		if (au_vkey_parse((const char *)p + 12, len, 0x01, k->name, k->pk))
			return bad(r, "a key line in KEYS does not parse");
		p += 12 + len;
	}
	s->nkeys = n;
	return PB_OK;
}

static int read_values(struct rctx *r, const uint8_t *p, const uint8_t *end, struct au_src *s)
{
	size_t n;
	int rc;

	if ((rc = count_items(r, p, end, 0, &n)))
		return rc;
	if (n && !(s->vals = calloc(n, sizeof(*s->vals))))
		return PB_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		s->vals[i].n = (size_t)get_be(p, 4);
		s->vals[i].p = p + 4;
		p += 4 + s->vals[i].n;
	}
	s->size = n;
	return PB_OK;
}

static int read_checkpoints(struct rctx *r, const uint8_t *p, const uint8_t *end, struct au_src *s)
{
	size_t n;
	int rc;

	if ((rc = count_items(r, p, end, 8, &n)))
		return rc;
	if (n && !(s->cps = calloc(n, sizeof(*s->cps))))
		return PB_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct au_cp *c = &s->cps[i];
		size_t len = (size_t)get_be(p + 8, 4);
		if (len > AU_NOTE_MAX)
			return bad(r, "a checkpoint note is too long");
		c->size = get_be(p, 8);
		if (!(c->note = malloc(len + 1)))
			return PB_ENOMEM;
		memcpy(c->note, p + 12, len);
		c->note[len] = '\0';
		c->len = len;
		s->ncps = i + 1;
		p += 12 + len;
	}
	return PB_OK;
}

/* name and bytes of one file: be32 n || n bytes */
static int take(struct rctx *r, const uint8_t **p, const uint8_t *end, const uint8_t **item,
                size_t *n)
{
	if ((size_t)(end - *p) < 4)
		return bad(r, "a calendar file header runs past CALS");
	*n = (size_t)get_be(*p, 4);
	*p += 4;
	if (*n > (size_t)(end - *p))
		return bad(r, "a calendar file runs past CALS");
	*item = *p;
	*p += *n;
	return PB_OK;
}

static int read_cals(struct rctx *r, const uint8_t *p, const uint8_t *end, struct au_src *s)
{
	char name[AU_CAL_NAME_MAX + 1];
	int rc;

	if ((size_t)(end - p) < 32)
		return bad(r, "the CALS section has no calendar version");
	memcpy(s->cals.version, p, 32);
	s->cals.has_version = 1;
	p += 32;
	while (p < end) {
		const uint8_t *nm, *data;
		size_t nlen, len;
		if ((rc = take(r, &p, end, &nm, &nlen)) || (rc = take(r, &p, end, &data, &len)))
			return rc;
		if (nlen == 0 || nlen > AU_CAL_NAME_MAX || memchr(nm, '\0', nlen) || memchr(nm, '/', nlen))
			return bad(r, "a calendar file in CALS has a bad name");
		memcpy(name, nm, nlen);
		name[nlen] = '\0';
		if ((rc = au_cals_add(&s->cals, name, data, len)) == PB_ENOMEM)
			return rc;
		if (rc)
			return bad(r, "too many or too large calendar files in CALS");
	}
	if (s->cals.n == 0)
		return bad(r, "the CALS section holds no calendar file");
	return PB_OK;
}

int au_bundle_parse(const uint8_t *map, size_t len, struct au_src *s, char *why, size_t wlen)
{
	struct rctx r = {map + strlen(AU_BUNDLE_MAGIC), map + len, why, wlen};
	const uint8_t *p, *end;
	int rc;

	if ((rc = next_section(&r, 0, &p, &end)) || (rc = read_keys(&r, p, end, s)) ||
	    (rc = next_section(&r, 1, &p, &end)) || (rc = read_values(&r, p, end, s)) ||
	    (rc = next_section(&r, 2, &p, &end)) || (rc = read_checkpoints(&r, p, end, s)))
		return rc;
	if ((size_t)(r.end - r.p) >= 4 && memcmp(r.p, tags[TAG_CALS], 4) == 0 &&
	    ((rc = next_section(&r, TAG_CALS, &p, &end)) || (rc = read_cals(&r, p, end, s))))
		return rc;
	if ((rc = next_section(&r, TAG_END, &p, &end)))
		return rc;
	if (p != end || r.p != r.end)
		return bad(&r, "bytes after the END. section");
	return PB_OK;
}
