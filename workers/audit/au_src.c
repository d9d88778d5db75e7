/* A log to verify, from a store (one read-only LMDB snapshot, kept open
 * for the whole walk, so the router may go on writing) or from a bundle
 * (mapped read-only). */
#include "au_tlog.h"
#include "pb_err.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct cpctx {
	struct au_src *s;
	size_t cap;
	int failed;
};

static int collect(uint64_t size, const char *note, size_t len, void *arg)
{
	struct cpctx *c = arg;
	struct au_src *s = c->s;
	char *copy;

	if (s->ncps == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		void *p = realloc(s->cps, cap * sizeof(*s->cps));
		if (!p) {
			c->failed = 1;
			return 1;
		}
		s->cps = p;
		c->cap = cap;
	}
	if (!(copy = malloc(len + 1))) {
		c->failed = 1;
		return 1;
	}
	memcpy(copy, note, len);
	copy[len] = '\0';
	s->cps[s->ncps].size = size;
	s->cps[s->ncps].note = copy;
	s->cps[s->ncps].len = len;
	s->ncps++;
	return 0;
}

/* A stored value that is empty: present, unlike a gap, and refused as
 * st_log_get refuses it. */
static const uint8_t empty_value[1];

static int take_value(uint64_t i, const uint8_t *d, size_t n, void *arg)
{
	struct au_src *s = arg;

	if (i < s->size) {
		s->vals[i].p = n ? d : empty_value;
		s->vals[i].n = n;
	}
	return 0;
}

/* Where every record is, by one cursor walk rather than a lookup per
 * record and pass (16 bytes a record). */
static int index_values(struct au_src *s)
{
	if (s->size == 0)
		return PB_OK;
	if (s->size > SIZE_MAX / sizeof(*s->vals) || !(s->vals = calloc(s->size, sizeof(*s->vals))))
		return PB_ENOMEM;
	return st_log_each(s->txn, take_value, s);
}

int au_src_store(struct au_src *s, const char *dir, int json)
{
	struct cpctx c = {.s = s};
	int rc;

	memset(s, 0, sizeof(*s));
	s->path = dir;
	/* Map size 0: a reader maps what the writer has committed. */
	if ((rc = st_open(dir, 0, 1, NULL, &s->env)))
		return au_fail(json, AU_EXIT_OPEN, "cannot_open", "cannot open store %s: %s", dir,
		               pb_err_str(rc));
	if ((rc = st_txn_begin(s->env, NULL, 1, &s->txn)) || (rc = st_log_size(s->txn, &s->size)) ||
	    (rc = st_checkpoint_each(s->txn, collect, &c)) || (rc = index_values(s))) {
		au_src_close(s);
		return au_fail(json, AU_EXIT_OPEN, "cannot_read", "cannot read the log in %s: %s",
		               dir, pb_err_str(rc));
	}
	if (c.failed) {
		au_src_close(s);
		return au_fail(json, AU_EXIT_OTHER, "no_memory", "out of memory");
	}
	return AU_EXIT_OK;
}

int au_src_bundle(struct au_src *s, const char *path, int json, char *why, size_t len)
{
	size_t mlen = strlen(AU_BUNDLE_MAGIC);
	struct stat sb;
	void *map;
	int fd, rc;

	memset(s, 0, sizeof(*s));
	s->path = path;
	s->bundle = 1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0 ||
	    !S_ISREG(sb.st_mode)) {
		if (fd >= 0)
			close(fd);
		return au_fail(json, AU_EXIT_OPEN, "cannot_open", "cannot read %s", path);
	}
	if ((size_t)sb.st_size < mlen) {
		close(fd);
		return au_fail(json, AU_EXIT_INVALID, "not_a_bundle", "%s is not a bundle", path);
	}
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return au_fail(json, AU_EXIT_OPEN, "cannot_open", "cannot map %s", path);
	s->map = map;
	s->maplen = (size_t)sb.st_size;
	if (memcmp(map, AU_BUNDLE_MAGIC, mlen) != 0) {
		au_src_close(s);
		return au_fail(json, AU_EXIT_INVALID, "not_a_bundle",
		               "%s is not a bundle (no \"mailroom-bundle v1\" line)", path);
	}
	if ((rc = au_bundle_parse(s->map, s->maplen, s, why, len))) {
		au_src_close(s);
		if (rc == PB_ENOMEM)
			return au_fail(json, AU_EXIT_OTHER, "no_memory", "out of memory");
		return AU_EXIT_MALFORMED;
	}
	return AU_EXIT_OK;
}

int au_src_get(const struct au_src *s, uint64_t i, const uint8_t **p, size_t *n)
{
	if (i >= s->size || !s->vals[i].p)
		return PB_ENOTFOUND;
	if (s->vals[i].n == 0)
		return s->bundle ? PB_ENOTFOUND : PB_ECORRUPT;
	*p = s->vals[i].p;
	*n = s->vals[i].n;
	return PB_OK;
}

void au_src_close(struct au_src *s)
{
	for (size_t i = 0; i < s->ncps; i++)
		free(s->cps[i].note);
	free(s->cps);
	free(s->keys);
	free(s->vals);
	au_cals_free(&s->cals);
	if (s->txn)
		st_txn_abort(s->txn);
	if (s->env)
		st_close(s->env);
	if (s->map)
		munmap(s->map, s->maplen);
	memset(s, 0, sizeof(*s));
}
