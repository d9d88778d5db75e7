/* Backups: a hot, compacted copy of the environment, and the two checks
 * a restore needs (is the store in use, is one log a prefix of another). */
#include "st.h"
#include "st_int.h"
#include "pb_err.h"
#include "pb_log.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* mdb_env_copy2 reads one snapshot (a read transaction), so the router
 * keeps writing meanwhile; COMPACT leaves out free pages. */
int st_backup(st_env *env, const char *out_dir)
{
	int rc;

	if ((rc = mdb_env_copy2(env->env, out_dir, MDB_CP_COMPACT))) {
		pb_error("store: copy to %s: %s", out_dir, mdb_strerror(rc));
		return rc == ENOSPC ? PB_EFULL : PB_EIO;
	}
	return PB_OK;
}

/* Every process with the environment open holds a shared fcntl lock on
 * lock.mdb's first byte (LMDB's reader-table lock); an exclusive one fails
 * while any does. The probe lock goes with the descriptor. */
int st_in_use(const char *dir, int *busy)
{
	char path[PB_PATH_MAX + 16];
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
	int fd;

	*busy = 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/lock.mdb", dir) >= sizeof(path))
		return PB_EINVAL;
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return errno == ENOENT ? PB_OK : PB_EIO;
	*busy = fcntl(fd, F_SETLK, &fl) != 0;
	close(fd);
	return PB_OK;
}

/* Is the first n records of a's log the same as b's? Records chain by
 * hash, so comparing record n-1 compares them all. */
int st_log_prefix(st_txn *a, st_txn *b, uint64_t n, int *same)
{
	const uint8_t *da, *db;
	size_t la, lb;
	int rc;

	*same = 1;
	if (n == 0)
		return PB_OK;
	if ((rc = st_log_get(a, n - 1, &da, &la)) || (rc = st_log_get(b, n - 1, &db, &lb)))
		return rc == PB_ENOTFOUND ? (*same = 0, PB_OK) : rc;
	*same = la == lb && memcmp(da, db, la) == 0;
	return PB_OK;
}
