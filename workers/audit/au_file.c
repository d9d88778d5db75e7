/* Files the tool writes are replaced whole: written to FILE.tmp, fsync'd,
 * renamed over FILE, and the directory fsync'd, so a crash leaves the old
 * file or the complete new one. */
#include "au_tlog.h"
#include "pb_err.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int au_out_open(struct au_out *o, const char *path, int mode)
{
	o->fd = -1;
	o->failed = 0;
	o->n = 0;
	if (strlen(path) >= sizeof(o->path))
		return PB_EINVAL;
	snprintf(o->path, sizeof(o->path), "%s", path);
	snprintf(o->tmp, sizeof(o->tmp), "%s.tmp", path);
	/* A .tmp left by a crash is ours to replace. */
	o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	return o->fd < 0 ? PB_EIO : PB_OK;
}

static int flush(struct au_out *o)
{
	size_t off = 0;

	while (off < o->n) {
		ssize_t w = write(o->fd, o->buf + off, o->n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			o->failed = 1;
			return PB_EIO;
		}
		off += (size_t)w;
	}
	o->n = 0;
	return PB_OK;
}

int au_out_write(struct au_out *o, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (o->failed)
		return PB_EIO;
	while (n > 0) {
		size_t room = sizeof(o->buf) - o->n, k = n < room ? n : room;
		memcpy(o->buf + o->n, b, k);
		o->n += k;
		b += k;
		n -= k;
		if (o->n == sizeof(o->buf) && flush(o))
			return PB_EIO;
	}
	return PB_OK;
}

static int sync_dir(const char *path)
{
	char copy[PB_PATH_MAX];
	int fd, rc;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return PB_EIO;
	rc = fsync(fd);
	close(fd);
	return rc == 0 ? PB_OK : PB_EIO;
}

int au_out_commit(struct au_out *o)
{
	int rc = PB_OK;

	if (o->failed || flush(o) || fsync(o->fd) != 0)
		rc = PB_EIO;
	if (close(o->fd) != 0)
		rc = PB_EIO;
	o->fd = -1;
	if (rc == PB_OK && rename(o->tmp, o->path) != 0)
		rc = PB_EIO;
	if (rc) {
		unlink(o->tmp);
		return rc;
	}
	return sync_dir(o->path);
}

void au_out_abort(struct au_out *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	unlink(o->tmp);
}

int au_write_atomic(const char *path, const void *p, size_t n, int mode)
{
	struct au_out *o = malloc(sizeof(*o));
	int rc;

	if (!o)
		return PB_ENOMEM;
	if ((rc = au_out_open(o, path, mode)) == PB_OK) {
		if ((rc = au_out_write(o, p, n)) == PB_OK)
			rc = au_out_commit(o);
		else
			au_out_abort(o);
	}
	free(o);
	return rc;
}

int au_read_all(const char *path, size_t max, char **out, size_t *len)
{
	struct stat sb;
	size_t got = 0;
	char *buf;
	int fd;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? PB_ENOTFOUND : PB_EIO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return PB_EIO;
	}
	if ((uint64_t)sb.st_size > max) {
		close(fd);
		return PB_ETOOBIG;
	}
	if (!(buf = malloc((size_t)sb.st_size + 1))) {
		close(fd);
		return PB_ENOMEM;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != (size_t)sb.st_size) {
		free(buf);
		return PB_EIO;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return PB_OK;
}

int au_file_fail(int json, int rc, const char *path)
{
	switch (rc) {
	case PB_ENOMEM:
		return au_fail(json, AU_EXIT_OTHER, "no_memory", "out of memory");
	case PB_ETOOBIG:
		return au_fail(json, AU_EXIT_INVALID, "too_big", "%s: too big for what it should hold",
		               path);
	case PB_EINVAL:
		return au_fail(json, AU_EXIT_INVALID, "invalid", "%s: path too long", path);
	default:
		return au_fail(json, AU_EXIT_OPEN, "cannot_open", "cannot read or write %s: %s", path,
		               rc == PB_ENOTFOUND ? "no such file" : pb_err_str(rc));
	}
}
