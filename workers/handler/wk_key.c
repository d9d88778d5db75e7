#include "wk.h"
#include "pb_err.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int wk_key_create(const char *path, uint8_t pk[32])
{
	uint8_t seed[WK_SEED_LEN], sk[64];
	char line[2 * WK_SEED_LEN + 2];
	ssize_t w;
	int fd, ok;

	if (sodium_init() < 0)
		return PB_EIO;
	/* O_EXCL: an existing key is somebody's identity; never replace it. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? PB_EEXIST : errno == ENOENT ? PB_ENOTFOUND : PB_EIO;
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	pb_hex(seed, sizeof(seed), line);
	line[2 * WK_SEED_LEN] = '\n';
	do
		w = write(fd, line, sizeof(line) - 1);
	while (w < 0 && errno == EINTR);
	ok = w == (ssize_t)(sizeof(line) - 1) && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(line, sizeof(line));
	if (!ok) {
		unlink(path);
		return PB_EIO;
	}
	return PB_OK;
}

int wk_key_load(const char *path, uint8_t sk[64], uint8_t pk[32], int *loose)
{
	uint8_t seed[WK_SEED_LEN];
	char hex[2 * WK_SEED_LEN + 8];
	size_t len = 0;
	struct stat st;
	int rc;

	if (sodium_init() < 0)
		return PB_EIO;
	if (loose)
		*loose = stat(path, &st) == 0 && (st.st_mode & 077) != 0;
	rc = pb_read_file(path, (uint8_t *)hex, sizeof(hex) - 1, &len);
	if (rc == PB_ETOOBIG)
		return PB_EINVAL;
	if (rc)
		return rc;
	while (len > 0 && (hex[len - 1] == '\n' || hex[len - 1] == '\r'))
		len--;
	hex[len] = '\0';
	rc = pb_unhex(hex, seed, sizeof(seed));
	sodium_memzero(hex, sizeof(hex));
	if (rc)
		return PB_EINVAL;
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof(seed));
	return PB_OK;
}
