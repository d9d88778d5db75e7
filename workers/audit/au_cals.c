/* The calendar files a bundle carries: read from a directory by export,
 * from the bundle's CALS section by verify, and loaded from memory, so an
 * offline verify checks deadlines on the very files the log was judged by. */
#include "au_tlog.h"
#include "cal.h"
#include "pb_err.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALS_MAX 256             /* files: more than two centuries of notices */
#define CAL_FILE_MAX (64 * 1024) /* a year's notice is about 1 KiB */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int au_cals_add(struct au_cals *c, const char *name, const void *data, size_t len)
{
	size_t nlen = strlen(name);

	if (c->n == CALS_MAX || nlen == 0 || nlen > AU_CAL_NAME_MAX || len > CAL_FILE_MAX)
		return PB_ELIMIT;
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 8;
		char **nn = realloc(c->names, (size_t)cap * sizeof(*nn));
		if (nn)
			c->names = nn;
		char **nd = realloc(c->data, (size_t)cap * sizeof(*nd));
		if (nd)
			c->data = nd;
		size_t *nl = realloc(c->lens, (size_t)cap * sizeof(*nl));
		if (nl)
			c->lens = nl;
		if (!nn || !nd || !nl)
			return PB_ENOMEM;
		c->cap = cap;
	}
	if (!(c->names[c->n] = strdup(name)))
		return PB_ENOMEM;
	if (!(c->data[c->n] = malloc(len ? len : 1))) {
		free(c->names[c->n]);
		return PB_ENOMEM;
	}
	if (len)
		memcpy(c->data[c->n], data, len);
	c->lens[c->n++] = len;
	return PB_OK;
}

int au_cals_load(const struct au_cals *c, struct cal_set **out, char *err, size_t errlen)
{
	uint8_t v[CAL_VERSION_LEN];
	int rc;

	rc = cal_load_bufs((const char *const *)c->names, (const char *const *)c->data, c->lens, c->n,
	                   out, err, errlen);
	if (rc)
		return rc;
	cal_version(*out, v);
	if (c->has_version && memcmp(v, c->version, sizeof(v)) != 0) {
		cal_free(*out);
		*out = NULL;
		snprintf(err, errlen, "the calendar files do not hash to the version stated with them");
		return PB_ECORRUPT;
	}
	return PB_OK;
}

/* The shipped files a local one replaced (cal_load_dirs' report). */
struct skip {
	char **paths;
	int n;
	int failed;
};

static void note_skip(void *arg, int year, const char *used, const char *ignored)
{
	struct skip *s = arg;
	char **p = realloc(s->paths, (size_t)(s->n + 1) * sizeof(*p));

	(void)year;
	(void)used;
	if (!p || !(p[s->n] = strdup(ignored))) {
		s->failed = 1;
		if (p)
			s->paths = p;
		return;
	}
	s->paths = p;
	s->n++;
}

static int skipped(const struct skip *s, const char *path)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->paths[i], path) == 0)
			return 1;
	return 0;
}

/* Appends dir's *.cal files (sorted by name) but those in skip. */
static int read_dir(const char *dir, const struct skip *skip, struct au_cals *c, char *err,
                    size_t errlen)
{
	char **names = NULL, path[PB_PATH_MAX];
	struct dirent *de;
	int n = 0, rc = PB_OK;
	DIR *d;

	if (!(d = opendir(dir))) {
		if (errno == ENOENT)
			return PB_OK;   /* cal_load_dirs took it as empty too */
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return PB_EIO;
	}
	while ((de = readdir(d)) && rc == PB_OK) {
		size_t len = strlen(de->d_name);
		char **p;
		if (de->d_name[0] == '.' || len <= 4 || strcmp(de->d_name + len - 4, ".cal") != 0)
			continue;
		if (n == CALS_MAX || !(p = realloc(names, (size_t)(n + 1) * sizeof(*p)))) {
			rc = n == CALS_MAX ? PB_ELIMIT : PB_ENOMEM;
			break;
		}
		names = p;
		if (!(names[n] = strdup(de->d_name)))
			rc = PB_ENOMEM;
		else
			n++;
	}
	closedir(d);
	if (rc)
		snprintf(err, errlen, "%s: %s", dir, pb_err_str(rc));
	if (n)
		qsort(names, (size_t)n, sizeof(*names), cmp_name);
	for (int i = 0; i < n && rc == PB_OK; i++) {
		char *buf = NULL;
		size_t len = 0;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path)) {
			rc = PB_ELIMIT;
			snprintf(err, errlen, "%s/%s: path too long", dir, names[i]);
		} else if (skipped(skip, path)) {
			continue;
		} else if ((rc = au_read_all(path, CAL_FILE_MAX, &buf, &len))) {
			snprintf(err, errlen, "%s: %s", path, pb_err_str(rc));
		} else {
			if ((rc = au_cals_add(c, names[i], buf, len)))
				snprintf(err, errlen, "%s: %s", path, pb_err_str(rc));
			free(buf);
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int au_cals_read_dirs(const char *dir, const char *local, struct au_cals *c, char *err,
                      size_t errlen)
{
	struct skip skip = {0};
	cal_set *cs = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	/* The router's rule decides which files count: load as it does. */
	rc = cal_load_dirs(dir, local, note_skip, &skip, &cs, err, errlen);
	cal_free(cs);
	if (rc == PB_OK && skip.failed)
		rc = PB_ENOMEM;
	if (rc == PB_OK)
		rc = read_dir(dir, &skip, c, err, errlen);
	if (rc == PB_OK && local && *local)
		rc = read_dir(local, &skip, c, err, errlen);
	for (int i = 0; i < skip.n; i++)
		free(skip.paths[i]);
	free(skip.paths);
	/* Refuse what verify would refuse, and state the version it hashes to. */
	if (rc == PB_OK && (rc = au_cals_load(c, &cs, err, errlen)) == PB_OK) {
		cal_version(cs, c->version);
		c->has_version = 1;
		cal_free(cs);
	}
	if (rc)
		au_cals_free(c);
	return rc;
}

void au_cals_free(struct au_cals *c)
{
	for (int i = 0; i < c->n; i++) {
		free(c->names[i]);
		free(c->data[i]);
	}
	free(c->names);
	free(c->data);
	free(c->lens);
	memset(c, 0, sizeof(*c));
}
