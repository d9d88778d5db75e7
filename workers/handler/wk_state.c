#include "wk.h"
#include "pb_err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUFFIX ".leases"

int wk_state_init(struct wk_state *s, const char *keyfile, const char *override)
{
	int n;

	if (override && *override)
		n = snprintf(s->dir, sizeof(s->dir), "%s", override);
	else if (keyfile && *keyfile)
		n = snprintf(s->dir, sizeof(s->dir), "%s" SUFFIX, keyfile);
	else
		return PB_EINVAL;
	if (n < 0 || (size_t)n >= sizeof(s->dir))
		return PB_EINVAL;
	return PB_OK;
}

/* dir/<id text>, or dir/.<id text>.tmp while it is being written. */
static int token_path(const struct wk_state *s, const uint8_t id[PB_ID_LEN], int tmp,
                      char *buf, size_t len)
{
	char idt[PB_ID_TEXT_LEN + 1];
	int n;

	pb_id_to_text(id, idt);
	n = snprintf(buf, len, tmp ? "%s/.%s.tmp" : "%s/%s", s->dir, idt);
	if (n < 0 || (size_t)n >= len)
		return PB_EINVAL;
	return PB_OK;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return PB_EIO;
		p += w;
		n -= (size_t)w;
	}
	return PB_OK;
}

int wk_lease_save(const struct wk_state *s, const uint8_t id[PB_ID_LEN], const uint8_t *tok,
                  size_t len)
{
	char path[PB_PATH_MAX + 40], tmp[PB_PATH_MAX + 40];
	char hex[2 * WK_TOKEN_MAX + 2];
	int fd, rc;

	if (len == 0 || len > WK_TOKEN_MAX)
		return PB_EINVAL;
	if ((rc = pb_mkdirs(s->dir)))
		return rc;
	if ((rc = token_path(s, id, 0, path, sizeof(path))) ||
	    (rc = token_path(s, id, 1, tmp, sizeof(tmp))))
		return rc;
	pb_hex(tok, len, hex);
	hex[2 * len] = '\n';
	/* Write aside and rename, so a crash never leaves half a token. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return PB_EIO;
	rc = write_all(fd, hex, 2 * len + 1);
	if (close(fd) != 0 && !rc)
		rc = PB_EIO;
	if (!rc && rename(tmp, path) != 0)
		rc = PB_EIO;
	if (rc)
		unlink(tmp);
	return rc;
}

int wk_lease_load(const struct wk_state *s, const uint8_t id[PB_ID_LEN], uint8_t *tok,
                  size_t max, size_t *len)
{
	char path[PB_PATH_MAX + 40];
	char hex[2 * WK_TOKEN_MAX + 4];
	size_t n = 0;
	int rc;

	if ((rc = token_path(s, id, 0, path, sizeof(path))))
		return rc;
	rc = pb_read_file(path, (uint8_t *)hex, sizeof(hex) - 1, &n);
	if (rc == PB_ETOOBIG)
		return PB_ECORRUPT;
	if (rc)
		return rc;
	while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
		n--;
	hex[n] = '\0';
	if (n == 0 || n % 2 || n / 2 > max || n / 2 > WK_TOKEN_MAX)
		return PB_ECORRUPT;
	if (pb_unhex(hex, tok, n / 2))
		return PB_ECORRUPT;
	*len = n / 2;
	return PB_OK;
}

int wk_lease_forget(const struct wk_state *s, const uint8_t id[PB_ID_LEN])
{
	char path[PB_PATH_MAX + 40];
	int rc;

	if ((rc = token_path(s, id, 0, path, sizeof(path))))
		return rc;
	if (unlink(path) != 0 && errno != ENOENT)
		return PB_EIO;
	return PB_OK;
}
