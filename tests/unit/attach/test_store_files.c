/* The encrypted, content-addressed file store beside the LMDB store. */
#include "pb_err.h"
#include "st_attach.h"
#include "samples.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static uint8_t key[32];

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	snprintf(dir, sizeof(dir), "/tmp/mr-attach-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	randombytes_buf(key, sizeof(key));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void path_of(const uint8_t name[ST_ATTACH_NAME_LEN], char *buf, size_t len)
{
	char hex[2 * ST_ATTACH_NAME_LEN + 1];
	sodium_bin2hex(hex, sizeof(hex), name, ST_ATTACH_NAME_LEN);
	snprintf(buf, len, "%s/" ST_ATTACH_SUBDIR "/%s", dir, hex);
}

TestSuite(attach_files, .init = setup, .fini = teardown);

Test(attach_files, round_trip_encrypted)
{
	size_t n = 300000, len = 0;
	uint8_t *big = malloc(n), *back = NULL, name[ST_ATTACH_NAME_LEN], sha[32];
	struct st_attach_info info, info2;
	char path[512];
	FILE *f;

	cr_assert_not_null(big);
	randombytes_buf(big, n);
	memcpy(big, "SECRET-PLAINTEXT-MARK", 21);
	cr_assert_eq(st_attach_put(dir, key, big, n, "application/pdf", name, &info), PB_OK);
	crypto_hash_sha256(sha, big, n);
	cr_assert_eq(memcmp(info.sha, sha, 32), 0);
	cr_assert_eq(info.size, n);
	cr_assert_eq(st_attach_exists(dir, name), PB_OK);
	cr_assert_eq(st_attach_info(dir, key, name, &info2), PB_OK);
	cr_assert_str_eq(info2.type, "application/pdf");
	cr_assert_eq(info2.size, n);
	cr_assert_eq(st_attach_get(dir, key, name, &back, &len, NULL), PB_OK);
	cr_assert_eq(len, n);
	cr_assert_eq(memcmp(back, big, n), 0);
	free(back);

	/* At rest the plaintext is nowhere in the file. */
	path_of(name, path, sizeof(path));
	f = fopen(path, "rb");
	cr_assert_not_null(f);
	uint8_t *raw = malloc(n + 4096);
	size_t got = fread(raw, 1, n + 4096, f);
	fclose(f);
	cr_assert_gt(got, n);
	cr_assert_null(memmem(raw, got, "SECRET-PLAINTEXT-MARK", 21));
	struct stat sb;
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_mode & 077, 0, "files are the owner's only");
	free(raw);
	free(big);
}

Test(attach_files, same_content_same_name_once)
{
	uint8_t buf[4096], a[ST_ATTACH_NAME_LEN], b[ST_ATTACH_NAME_LEN];
	struct st_attach_info info;
	size_t n = sample_png(buf, NULL);
	char sub[128];
	int files = 0;
	struct dirent *e;
	DIR *d;

	cr_assert_eq(st_attach_put(dir, key, buf, n, "image/png", a, &info), PB_OK);
	cr_assert_eq(st_attach_put(dir, key, buf, n, "image/png", b, &info), PB_OK);
	cr_assert_eq(memcmp(a, b, sizeof(a)), 0);
	snprintf(sub, sizeof(sub), "%s/" ST_ATTACH_SUBDIR, dir);
	cr_assert_not_null(d = opendir(sub));
	while ((e = readdir(d)))
		files += e->d_name[0] != '.';
	closedir(d);
	cr_assert_eq(files, 1, "no temporary file left, one file for one content");
}

Test(attach_files, changed_or_missing_is_caught)
{
	uint8_t buf[4096], name[ST_ATTACH_NAME_LEN], *back = NULL;
	struct st_attach_info info;
	size_t n = sample_pdf(buf, "a letter"), len;
	char path[512];
	int fd;
	uint8_t byte;

	cr_assert_eq(st_attach_put(dir, key, buf, n, "application/pdf", name, &info), PB_OK);
	path_of(name, path, sizeof(path));
	/* One byte flipped in the last chunk. */
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	off_t end = lseek(fd, 0, SEEK_END);
	cr_assert_eq(pread(fd, &byte, 1, end - 5), 1);
	byte ^= 1;
	cr_assert_eq(pwrite(fd, &byte, 1, end - 5), 1);
	close(fd);
	cr_assert_eq(st_attach_get(dir, key, name, &back, &len, NULL), PB_ECORRUPT);
	cr_assert_null(back);
	/* Cut short: the FINAL chunk is gone. */
	cr_assert_eq(truncate(path, end - 40), 0);
	cr_assert_eq(st_attach_get(dir, key, name, &back, &len, NULL), PB_ECORRUPT);
	/* Another key cannot read it. */
	uint8_t other[32];
	randombytes_buf(other, sizeof(other));
	cr_assert_eq(st_attach_info(dir, other, name, &info), PB_ECORRUPT);
	unlink(path);
	cr_assert_eq(st_attach_get(dir, key, name, &back, &len, NULL), PB_ENOTFOUND);
	cr_assert_eq(st_attach_exists(dir, name), PB_ENOTFOUND);
}

Test(attach_files, file_under_another_name_is_caught)
{
	uint8_t a[4096], b[4096], na[ST_ATTACH_NAME_LEN], nb[ST_ATTACH_NAME_LEN], *back = NULL;
	struct st_attach_info info;
	size_t la = sample_png(a, NULL), lb = sample_jpeg(b, NULL), len;
	char pa[512], pb[512];

	cr_assert_eq(st_attach_put(dir, key, a, la, "image/png", na, &info), PB_OK);
	cr_assert_eq(st_attach_put(dir, key, b, lb, "image/jpeg", nb, &info), PB_OK);
	path_of(na, pa, sizeof(pa));
	path_of(nb, pb, sizeof(pb));
	cr_assert_eq(rename(pa, pb), 0);
	cr_assert_eq(st_attach_get(dir, key, nb, &back, &len, NULL), PB_ECORRUPT);
}
