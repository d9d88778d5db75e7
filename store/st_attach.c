/* Attachment files (st_attach.h). Layout of one file:
 *   "MRA1" ‖ secretstream header ‖ chunks of up to 64 KiB, each sealed
 *   with the name as additional data, the last tagged FINAL.
 * The name is bound into every chunk, so a file moved under another name
 * fails, and a file cut short lacks its FINAL chunk. */
#include "st_attach.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "MRA1"
#define CHUNK (64u << 10)
#define HDR crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define FILE_MAX ((size_t)1 << 30)
#define INFO_LEN (32 + 8 + 32)

static void info_pack(const struct st_attach_info *i, uint8_t out[INFO_LEN])
{
	memcpy(out, i->sha, 32);
	for (int k = 0; k < 8; k++)
		out[32 + k] = (uint8_t)(i->size >> (56 - 8 * k));
	memset(out + 40, 0, 32);
	memcpy(out + 40, i->type, strnlen(i->type, 31));
}

static int info_unpack(const uint8_t in[INFO_LEN], struct st_attach_info *i)
{
	memcpy(i->sha, in, 32);
	i->size = 0;
	for (int k = 0; k < 8; k++)
		i->size = i->size << 8 | in[32 + k];
	memcpy(i->type, in + 40, 32);
	return i->type[31] == '\0' ? PB_OK : PB_ECORRUPT;
}

/* One key per use, both from the data key, so neither is the key
 * st_seal uses for personal data. */
static void derive(const uint8_t data_key[32], const char *what, uint8_t out[32])
{
	crypto_generichash(out, 32, (const uint8_t *)what, strlen(what), data_key, 32);
}

static int path_of(const char *dir, const uint8_t name[ST_ATTACH_NAME_LEN], char *buf,
                   size_t len)
{
	char hex[2 * ST_ATTACH_NAME_LEN + 1];
	int n;

	if (!name) {
		n = snprintf(buf, len, "%s/" ST_ATTACH_SUBDIR, dir);
	} else {
		pb_hex(name, ST_ATTACH_NAME_LEN, hex);
		n = snprintf(buf, len, "%s/" ST_ATTACH_SUBDIR "/%s", dir, hex);
	}
	return n < 0 || (size_t)n >= len ? PB_EINVAL : PB_OK;
}

static int write_all(int fd, const uint8_t *p, size_t n)
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

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ok;

	if (fd < 0)
		return PB_EIO;
	ok = fsync(fd) == 0;
	close(fd);
	return ok ? PB_OK : PB_EIO;
}

static int seal_to(int fd, const uint8_t key[32], const uint8_t name[ST_ATTACH_NAME_LEN],
                   const struct st_attach_info *info, const uint8_t *plain, size_t len)
{
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t hdr[HDR], ibuf[INFO_LEN], ic[INFO_LEN + ABYTES];
	uint8_t *out = malloc(CHUNK + ABYTES);
	size_t off = 0;
	int rc;

	if (!out)
		return PB_ENOMEM;
	crypto_secretstream_xchacha20poly1305_init_push(&st, hdr, key);
	rc = write_all(fd, (const uint8_t *)MAGIC, 4);
	if (rc == PB_OK)
		rc = write_all(fd, hdr, sizeof(hdr));
	info_pack(info, ibuf);
	crypto_secretstream_xchacha20poly1305_push(&st, ic, NULL, ibuf, sizeof(ibuf), name,
	                                           ST_ATTACH_NAME_LEN, 0);
	if (rc == PB_OK)
		rc = write_all(fd, ic, sizeof(ic));
	do {
		size_t n = len - off > CHUNK ? CHUNK : len - off;
		uint8_t tag = off + n == len ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0;
		unsigned long long clen = 0;

		if (rc != PB_OK)
			break;
		crypto_secretstream_xchacha20poly1305_push(&st, out, &clen, plain + off, n, name,
		                                           ST_ATTACH_NAME_LEN, tag);
		rc = write_all(fd, out, (size_t)clen);
		off += n;
	} while (off < len);
	sodium_memzero(&st, sizeof(st));
	free(out);
	return rc;
}

int st_attach_put(const char *store_dir, const uint8_t data_key[32], const uint8_t *plain,
                  size_t len, const char *type, uint8_t name[ST_ATTACH_NAME_LEN],
                  struct st_attach_info *info)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 32];
	uint8_t nkey[32], skey[32], rnd[8];
	char rhex[17];
	int fd, rc;

	if (!plain || len == 0 || len > FILE_MAX || !type || strlen(type) >= sizeof(info->type))
		return PB_EINVAL;
	derive(data_key, "mailroom/attach/name/v1", nkey);
	crypto_generichash(name, ST_ATTACH_NAME_LEN, plain, len, nkey, sizeof(nkey));
	memset(info, 0, sizeof(*info));
	crypto_hash_sha256(info->sha, plain, len);
	info->size = len;
	memcpy(info->type, type, strlen(type));
	if ((rc = path_of(store_dir, NULL, dir, sizeof(dir))) != PB_OK ||
	    (rc = path_of(store_dir, name, path, sizeof(path))) != PB_OK)
		return rc;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		pb_error("attachments: cannot create %s: %s", dir, strerror(errno));
		return PB_EIO;
	}
	if (access(path, F_OK) == 0)
		return PB_OK;
	randombytes_buf(rnd, sizeof(rnd));
	pb_hex(rnd, sizeof(rnd), rhex);
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", dir, rhex);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		pb_error("attachments: cannot create %s: %s", tmp, strerror(errno));
		return PB_EIO;
	}
	derive(data_key, "mailroom/attach/key/v1", skey);
	rc = seal_to(fd, skey, name, info, plain, len);
	sodium_memzero(skey, sizeof(skey));
	if (rc == PB_OK && fsync(fd) != 0)
		rc = PB_EIO;
	if (close(fd) != 0 && rc == PB_OK)
		rc = PB_EIO;
	/* The rename and its directory entry reach the disk before the caller
	 * may commit a message naming the file. */
	if (rc == PB_OK && rename(tmp, path) != 0)
		rc = PB_EIO;
	if (rc == PB_OK)
		rc = fsync_dir(dir);
	if (rc != PB_OK) {
		pb_error("attachments: cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

int st_attach_exists(const char *store_dir, const uint8_t name[ST_ATTACH_NAME_LEN])
{
	char path[PATH_MAX];

	if (path_of(store_dir, name, path, sizeof(path)) != PB_OK)
		return PB_EINVAL;
	return access(path, F_OK) == 0 ? PB_OK : PB_ENOTFOUND;
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat sb;
	FILE *f = fopen(path, "rb");
	int rc = PB_OK;

	if (!f)
		return errno == ENOENT ? PB_ENOTFOUND : PB_EIO;
	if (fstat(fileno(f), &sb) != 0 || sb.st_size < 0 ||
	    (uint64_t)sb.st_size > FILE_MAX + FILE_MAX / 8) {
		fclose(f);
		return PB_ECORRUPT;
	}
	*len = (size_t)sb.st_size;
	if (!(*buf = malloc(*len ? *len : 1)))
		rc = PB_ENOMEM;
	else if (fread(*buf, 1, *len, f) != *len)
		rc = PB_EIO;
	fclose(f);
	if (rc != PB_OK) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}

/* plain NULL: the info chunk only. */
static int open_stream(const uint8_t key[32], const uint8_t name[ST_ATTACH_NAME_LEN],
                       const uint8_t *c, size_t clen, struct st_attach_info *info,
                       uint8_t *plain, size_t *len)
{
	crypto_secretstream_xchacha20poly1305_state st;
	size_t off = 4 + HDR + INFO_LEN + ABYTES, out = 0;
	uint8_t tag = 0, ibuf[INFO_LEN];
	int ok;

	if (clen < off || memcmp(c, MAGIC, 4) != 0 ||
	    crypto_secretstream_xchacha20poly1305_init_pull(&st, c + 4, key) != 0)
		return PB_ECORRUPT;
	ok = crypto_secretstream_xchacha20poly1305_pull(&st, ibuf, NULL, &tag, c + 4 + HDR,
	                                                INFO_LEN + ABYTES, name,
	                                                ST_ATTACH_NAME_LEN) == 0 &&
	     tag == 0 && info_unpack(ibuf, info) == PB_OK;
	if (!ok || !plain) {
		sodium_memzero(&st, sizeof(st));
		return ok ? PB_OK : PB_ECORRUPT;
	}
	while (off < clen && tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
		size_t n = clen - off > CHUNK + ABYTES ? CHUNK + ABYTES : clen - off;
		unsigned long long m = 0;

		if (n < ABYTES ||
		    crypto_secretstream_xchacha20poly1305_pull(&st, plain + out, &m, &tag, c + off, n,
		                                               name, ST_ATTACH_NAME_LEN) != 0)
			break;
		off += n;
		out += (size_t)m;
	}
	sodium_memzero(&st, sizeof(st));
	if (off != clen || tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL)
		return PB_ECORRUPT;
	*len = out;
	return PB_OK;
}

int st_attach_get(const char *store_dir, const uint8_t data_key[32],
                  const uint8_t name[ST_ATTACH_NAME_LEN], uint8_t **plain, size_t *len,
                  struct st_attach_info *info)
{
	char path[PATH_MAX];
	uint8_t key[32], check[ST_ATTACH_NAME_LEN], sha[32];
	struct st_attach_info own;
	uint8_t *c = NULL;
	size_t clen = 0;
	int rc;

	*plain = NULL;
	*len = 0;
	if ((rc = path_of(store_dir, name, path, sizeof(path))) != PB_OK ||
	    (rc = read_file(path, &c, &clen)) != PB_OK)
		return rc;
	if (!(*plain = malloc(clen ? clen : 1))) {
		free(c);
		return PB_ENOMEM;
	}
	if (!info)
		info = &own;
	derive(data_key, "mailroom/attach/key/v1", key);
	rc = open_stream(key, name, c, clen, info, *plain, len);
	free(c);
	if (rc == PB_OK) {
		derive(data_key, "mailroom/attach/name/v1", key);
		crypto_generichash(check, sizeof(check), *plain, *len, key, sizeof(key));
		crypto_hash_sha256(sha, *plain, *len);
		if (sodium_memcmp(check, name, sizeof(check)) != 0 || info->size != *len ||
		    sodium_memcmp(sha, info->sha, sizeof(sha)) != 0)
			rc = PB_ECORRUPT;
	}
	sodium_memzero(key, sizeof(key));
	if (rc != PB_OK) {
		free(*plain);
		*plain = NULL;
		*len = 0;
	}
	return rc;
}

int st_attach_info(const char *store_dir, const uint8_t data_key[32],
                   const uint8_t name[ST_ATTACH_NAME_LEN], struct st_attach_info *info)
{
	char path[PATH_MAX];
	uint8_t key[32], head[4 + HDR + INFO_LEN + ABYTES];
	size_t len = 0;
	FILE *f;
	int rc;

	if ((rc = path_of(store_dir, name, path, sizeof(path))) != PB_OK)
		return rc;
	if (!(f = fopen(path, "rb")))
		return errno == ENOENT ? PB_ENOTFOUND : PB_EIO;
	len = fread(head, 1, sizeof(head), f);
	fclose(f);
	derive(data_key, "mailroom/attach/key/v1", key);
	rc = open_stream(key, name, head, len, info, NULL, NULL);
	sodium_memzero(key, sizeof(key));
	return rc;
}

int st_attach_file_hash(const char *store_dir, const uint8_t name[ST_ATTACH_NAME_LEN],
                        uint8_t out[32])
{
	char path[PATH_MAX];
	crypto_hash_sha256_state st;
	uint8_t buf[CHUNK];
	size_t n;
	FILE *f;
	int rc;

	if ((rc = path_of(store_dir, name, path, sizeof(path))) != PB_OK)
		return rc;
	if (!(f = fopen(path, "rb")))
		return errno == ENOENT ? PB_ENOTFOUND : PB_EIO;
	crypto_hash_sha256_init(&st);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		crypto_hash_sha256_update(&st, buf, n);
	rc = ferror(f) ? PB_EIO : PB_OK;
	fclose(f);
	crypto_hash_sha256_final(&st, out);
	return rc;
}
