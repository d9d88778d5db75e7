/* mailroom-admin backup and restore: the store, copied hot and checked,
 * and put back only where that loses nothing (workers/admin/README.md).
 * Works on the store's files, not through the router. */
#include "ad.h"
#include "au_store.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"
#include "st.h"
#include "st_attach.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST_FORMAT "mailroom-backup/1"

static int fail(int exit, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int exit, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, AD_PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return exit;
}

static int join(char *buf, size_t n, const char *dir, const char *name)
{
	return (size_t)snprintf(buf, n, "%s/%s", dir, name) < n ? PB_OK : PB_EINVAL;
}

static int sha256_file(const char *path, char hex[65], uint64_t *bytes)
{
	crypto_hash_sha256_state st;
	uint8_t buf[1 << 16], h[32];
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? PB_ENOTFOUND : PB_EIO;
	crypto_hash_sha256_init(&st);
	*bytes = 0;
	while ((got = read(fd, buf, sizeof(buf))) > 0) {
		crypto_hash_sha256_update(&st, buf, (unsigned long long)got);
		*bytes += (uint64_t)got;
	}
	close(fd);
	if (got < 0)
		return PB_EIO;
	crypto_hash_sha256_final(&st, h);
	pb_hex(h, sizeof(h), hex);
	return PB_OK;
}

/* The log of a store, as a backup or a restore compares it. */
struct log_state {
	uint64_t size;
	uint64_t cp_size;
	char *cp_note;
	struct st_verify_report rep;
};

static int log_state(st_env *env, struct log_state *s)
{
	st_txn *t;
	size_t len;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = st_verify(env, NULL, &s->rep)))
		return rc;
	if ((rc = st_txn_begin(env, NULL, 1, &t)))
		return rc;
	rc = st_log_size(t, &s->size);
	if (rc == PB_OK && st_checkpoint_get(t, 0, &s->cp_note, &len, &s->cp_size) != PB_OK) {
		s->cp_note = NULL;
		s->cp_size = 0;
	}
	st_txn_abort(t);
	return rc;
}

static int write_manifest(const char *dir, const char *store, const struct log_state *s,
                          const char *sha, uint64_t bytes, json_t *files, json_t **out)
{
	char path[PB_PATH_MAX + 32], tmp[PB_PATH_MAX + 32], now[40], head[65];
	json_t *m;
	FILE *f;
	int ok;

	pb_time_fmt(pb_now_ms(), now, sizeof(now), 0);
	pb_hex(s->rep.head_hash, sizeof(s->rep.head_hash), head);
	m = json_pack("{s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:{s:I, s:s?}, s:s, s:I, s:O}",
	              "format", MANIFEST_FORMAT, "created_at", now, "store", store,
	              "schema_version", ST_SCHEMA_VERSION, "log_size", (json_int_t)s->size,
	              "head_hash", head, "log_key", s->rep.key_name, "checkpoint", "size",
	              (json_int_t)s->cp_size, "note", s->cp_note, "data_mdb_sha256", sha,
	              "data_mdb_bytes", (json_int_t)bytes, "attachments", files);
	if (!m || join(path, sizeof(path), dir, "MANIFEST") || join(tmp, sizeof(tmp), dir, "MANIFEST.tmp"))
		return json_decref(m), PB_EINVAL;
	if (!(f = fopen(tmp, "we")))
		return json_decref(m), PB_EIO;
	ok = json_dumpf(m, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF && fflush(f) == 0 &&
	     fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) != 0)
		return json_decref(m), PB_EIO;
	*out = m;
	return PB_OK;
}

/* durable: fsync'd before it returns; else the caller syncs (sync_dir). */
static int copy_file(const char *src, const char *dst, int durable)
{
	uint8_t buf[1 << 16];
	ssize_t got = 0;
	int in = open(src, O_RDONLY | O_CLOEXEC), out, ok = 1;

	if (in < 0)
		return PB_EIO;
	if ((out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		close(in);
		return PB_EIO;
	}
	while (ok && (got = read(in, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0, w; ok && off < got; off += w)
			ok = (w = write(out, buf + off, (size_t)(got - off))) > 0;
	ok = ok && got == 0 && (!durable || fsync(out) == 0);
	close(in);
	ok = close(out) == 0 && ok;
	return ok ? PB_OK : PB_EIO;
}

/* ---- attachment files ----
 * Content-addressed and immutable, each fsync'd before the message that
 * names it commits (store/st_attach.h). So files copied after the LMDB
 * copy include every one the copied store names; a file written since is
 * copied too, harmlessly. */

static int attach_name(const char *n)
{
	size_t i;

	for (i = 0; n[i]; i++)
		if (!isxdigit((unsigned char)n[i]) || isupper((unsigned char)n[i]))
			return 0;
	return i == 2 * ST_ATTACH_NAME_LEN;
}

static int attach_dir(char *buf, size_t n, const char *store)
{
	return join(buf, n, store, ST_ATTACH_SUBDIR);
}

/* Every file copied into dir and its entries on disk, in one syncfs(2)
 * rather than an fsync per file: with 300 files each waiting for its own
 * journal commit, a backup took three times as long (tests/bench/backup.sh). */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ok;

	if (fd < 0)
		return PB_EIO;
	ok = syncfs(fd) == 0 && fsync(fd) == 0;
	close(fd);
	return ok ? PB_OK : PB_EIO;
}

/* One file, copied beside its place and renamed into it, so a name in
 * dst is always a whole file. */
static int copy_attach(const char *src_dir, const char *dst_dir, const char *name)
{
	char src[PB_PATH_MAX + 80], dst[PB_PATH_MAX + 80], tmp[PB_PATH_MAX + 96];
	int rc;

	if (join(src, sizeof(src), src_dir, name) || join(dst, sizeof(dst), dst_dir, name) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.copy-%s", dst_dir, name) >= sizeof(tmp))
		return PB_EINVAL;
	if ((rc = copy_file(src, tmp, 0)) == PB_OK && rename(tmp, dst) != 0)
		rc = PB_EIO;
	if (rc)
		unlink(tmp);
	return rc;
}

/* Copies every file of store/attachments into out/attachments and lists
 * them as [{"name", "bytes"}] in name order. */
static int backup_attachments(const char *store, const char *out, json_t **files)
{
	char sdir[PB_PATH_MAX + 32], ddir[PB_PATH_MAX + 32], path[PB_PATH_MAX + 80];
	struct dirent **ents = NULL;
	struct stat sb;
	int n, rc = PB_OK;

	if (!(*files = json_array()))
		return PB_ENOMEM;
	if (attach_dir(sdir, sizeof(sdir), store) || attach_dir(ddir, sizeof(ddir), out))
		return PB_EINVAL;
	if ((n = scandir(sdir, &ents, NULL, alphasort)) < 0)
		return errno == ENOENT ? PB_OK : PB_EIO;   /* a store without files */
	if (mkdir(ddir, 0700) != 0 && errno != EEXIST)
		rc = PB_EIO;
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		if (rc == PB_OK && attach_name(name)) {
			if (!(rc = copy_attach(sdir, ddir, name)) &&
			    !(rc = join(path, sizeof(path), ddir, name)))
				rc = stat(path, &sb) != 0 ? PB_EIO
				     : json_array_append_new(*files, json_pack("{s:s, s:I}", "name", name,
				                                               "bytes", (json_int_t)sb.st_size))
				         ? PB_ENOMEM
				         : PB_OK;
			if (rc)
				fail(0, "cannot copy %s/%s: %s", sdir, name, pb_err_str(rc));
		}
		free(ents[i]);
	}
	free(ents);
	return rc ? rc : n > 0 ? sync_dir(ddir) : PB_OK;
}

/* Puts the listed files into store/attachments, before the store that
 * names them; a file already there with its size is the same file. */
static int restore_attachments(const char *from, const char *store, json_t *files)
{
	char sdir[PB_PATH_MAX + 32], ddir[PB_PATH_MAX + 32], path[PB_PATH_MAX + 80];
	struct stat sb;
	json_t *f;
	size_t i;
	int rc;

	if (json_array_size(files) == 0)
		return PB_OK;
	if (attach_dir(sdir, sizeof(sdir), from) || attach_dir(ddir, sizeof(ddir), store))
		return PB_EINVAL;
	if (mkdir(ddir, 0700) != 0 && errno != EEXIST)
		return PB_EIO;
	json_array_foreach(files, i, f)
	{
		const char *name = json_string_value(json_object_get(f, "name"));
		json_int_t bytes = json_integer_value(json_object_get(f, "bytes"));
		if (join(path, sizeof(path), ddir, name))
			return PB_EINVAL;
		if (stat(path, &sb) == 0 && sb.st_size == bytes)
			continue;
		if ((rc = copy_attach(sdir, ddir, name))) {
			fail(0, "cannot copy %s/%s: %s", sdir, name, pb_err_str(rc));
			return rc;
		}
	}
	return sync_dir(ddir);
}

/* The stored messages against the log, with their files in dir (the
 * check of mailroom-audit verify --store): *why is empty when it holds. */
static int files_check(st_env *env, const char *dir, uint64_t n, char *why, size_t wlen)
{
	struct au_store_verdict v;
	st_txn *t;
	int rc;

	*why = '\0';
	if ((rc = st_txn_begin(env, NULL, 1, &t)))
		return rc;
	rc = au_store_check(t, n, NULL, dir, &v);
	st_txn_abort(t);
	if (rc == PB_OK && v.fail)
		snprintf(why, wlen, "message %s: %s: %s", *v.track ? v.track : "?",
		         v.field ? v.field : "", v.text);
	return rc;
}

int ad_backup(const struct pb_conf *c, const char *store, const char *out)
{
	char data[PB_PATH_MAX + 32], sha[65], why[512];
	struct log_state s = {0};
	st_env *env = NULL, *copy = NULL;
	json_t *m = NULL, *files = NULL;
	uint64_t bytes;
	int rc, exit = AD_EXIT_OTHER;

	if (!store)
		store = c->store_path;
	if (join(data, sizeof(data), out, "data.mdb"))
		return fail(AD_EXIT_USAGE, "--out path too long");
	if (access(data, F_OK) == 0)
		return fail(AD_EXIT_REFUSED, "%s already holds a backup; give a new directory", out);
	if ((rc = pb_mkdirs(out)) || (mkdir(out, 0700) != 0 && errno != EEXIST))
		return fail(AD_EXIT_OTHER, "cannot make %s: %s", out, pb_err_str(rc ? rc : PB_EIO));
	if ((rc = st_open(store, c->map_size_mb, 1, NULL, &env)))
		return fail(AD_EXIT_INVALID, "cannot open the store %s: %s", store, pb_err_str(rc));
	rc = st_backup(env, out);
	st_close(env);
	if (rc)
		return fail(AD_EXIT_OTHER, "copy of %s to %s failed: %s", store, out, pb_err_str(rc));
	/* After the LMDB copy: every file it names exists by now. */
	if ((rc = backup_attachments(store, out, &files))) {
		exit = fail(AD_EXIT_OTHER, "copy of %s/" ST_ATTACH_SUBDIR " failed: %s", store,
		            pb_err_str(rc));
		goto done;
	}
	/* The copy, not the live store, is what gets checked and described. */
	if ((rc = st_open(out, 0, 1, NULL, &copy)) || (rc = log_state(copy, &s))) {
		exit = fail(AD_EXIT_OTHER, "cannot read the copy in %s: %s", out, pb_err_str(rc));
		goto done;
	}
	if (s.rep.fail != ST_VERIFY_OK) {
		exit = fail(AD_EXIT_OTHER, "the copy does not verify: record %llu: %s",
		            (unsigned long long)s.rep.bad_index, s.rep.detail);
		goto done;
	}
	if ((rc = files_check(copy, out, s.size, why, sizeof(why))) || *why) {
		exit = fail(AD_EXIT_OTHER, "the copy's messages do not verify: %s",
		            rc ? pb_err_str(rc) : why);
		goto done;
	}
	if ((rc = sha256_file(data, sha, &bytes)) ||
	    (rc = write_manifest(out, store, &s, sha, bytes, files, &m))) {
		exit = fail(AD_EXIT_OTHER, "cannot write %s/MANIFEST: %s", out, pb_err_str(rc));
		goto done;
	}
	json_dumpf(m, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	exit = AD_EXIT_OK;
done:
	json_decref(m);
	json_decref(files);
	free(s.cp_note);
	if (copy)
		st_close(copy);
	return exit;
}

/* Each file the MANIFEST lists is in from/attachments with its size;
 * their content is checked against the messages after the restore. */
static int check_files(const char *from, json_t *files, char *why, size_t wlen)
{
	char dir[PB_PATH_MAX + 32], path[PB_PATH_MAX + 80];
	struct stat sb;
	json_t *f;
	size_t i;

	if (!json_is_array(files))
		return snprintf(why, wlen, "no list of attachments"), PB_EINVAL;
	if (attach_dir(dir, sizeof(dir), from))
		return snprintf(why, wlen, "path too long"), PB_EINVAL;
	json_array_foreach(files, i, f)
	{
		const char *name = json_string_value(json_object_get(f, "name"));
		json_t *bytes = json_object_get(f, "bytes");
		if (!name || !attach_name(name) || !json_is_integer(bytes) ||
		    join(path, sizeof(path), dir, name))
			return snprintf(why, wlen, "attachment %zu is malformed", i), PB_EINVAL;
		if (stat(path, &sb) != 0)
			return snprintf(why, wlen, "%s is missing", path), PB_ENOTFOUND;
		if (sb.st_size != json_integer_value(bytes))
			return snprintf(why, wlen, "%s has %lld bytes, not %lld", path,
			                (long long)sb.st_size, (long long)json_integer_value(bytes)),
			       PB_ECORRUPT;
	}
	return PB_OK;
}

/* The backup as its MANIFEST describes it, with data.mdb's hash and the
 * attachment files' sizes checked; *files: the MANIFEST's list. A backup
 * made before files were copied lists none. */
static int check_backup(const char *from, uint64_t *log_size, json_t **files)
{
	char path[PB_PATH_MAX + 32], sha[65], why[PB_PATH_MAX + 160];
	json_error_t jerr;
	json_t *m, *list = NULL;
	const char *want = NULL, *format = NULL;
	json_int_t size = -1;
	uint64_t bytes;
	int rc;

	if (join(path, sizeof(path), from, "MANIFEST"))
		return fail(AD_EXIT_USAGE, "--from path too long");
	if (!(m = json_load_file(path, 0, &jerr)))
		return fail(AD_EXIT_INVALID, "%s: %s", path, jerr.text);
	if (json_unpack(m, "{s:s, s:s, s:I, s?o}", "format", &format, "data_mdb_sha256", &want,
	                "log_size", &size, "attachments", &list) != 0 ||
	    strcmp(format, MANIFEST_FORMAT) != 0 || size < 0) {
		json_decref(m);
		return fail(AD_EXIT_INVALID, "%s is not a " MANIFEST_FORMAT " manifest", path);
	}
	*log_size = (uint64_t)size;
	join(path, sizeof(path), from, "data.mdb");
	if ((rc = sha256_file(path, sha, &bytes)) || sodium_memcmp(sha, want, 64) != 0 ||
	    strlen(want) != 64) {
		json_decref(m);
		return fail(AD_EXIT_INVALID, "%s does not match its MANIFEST (%s): not restored", path,
		            rc ? pb_err_str(rc) : "sha256 differs");
	}
	*files = list ? json_incref(list) : json_array();
	json_decref(m);
	if (!*files)
		return fail(AD_EXIT_OTHER, "out of memory");
	if (check_files(from, *files, why, sizeof(why))) {
		json_decref(*files);
		*files = NULL;
		return fail(AD_EXIT_INVALID, "%s does not match its MANIFEST (%s): not restored", from,
		            why);
	}
	return AD_EXIT_OK;
}

/* Refuses to put an older log over a newer one, or a log over another
 * office's: the target's log must be a prefix of the backup's. */
static int compare(const char *from, const char *store, int force, uint64_t *lost)
{
	struct log_state a = {0}, b = {0};
	st_env *bk = NULL, *cur = NULL;
	st_txn *ta = NULL, *tb = NULL;
	int rc, same = 0, exit = AD_EXIT_OTHER;

	*lost = 0;
	if ((rc = st_open(from, 0, 1, NULL, &bk)) || (rc = st_open(store, 0, 1, NULL, &cur)) ||
	    (rc = log_state(bk, &a)) || (rc = log_state(cur, &b)) ||
	    (rc = st_txn_begin(bk, NULL, 1, &ta)) || (rc = st_txn_begin(cur, NULL, 1, &tb))) {
		exit = fail(AD_EXIT_OTHER, "cannot compare %s with %s: %s", from, store,
		            pb_err_str(rc));
		goto done;
	}
	if ((rc = st_log_prefix(ta, tb, b.size < a.size ? b.size : a.size, &same))) {
		exit = fail(AD_EXIT_OTHER, "cannot compare the logs: %s", pb_err_str(rc));
		goto done;
	}
	if (b.size > a.size)
		*lost = b.size - a.size;
	exit = AD_EXIT_OK;
	if (!same)
		exit = fail(force ? AD_EXIT_OK : AD_EXIT_REFUSED,
		            "%s: the log in %s is not an ancestor of the backup's (they differ within "
		            "the first %llu records)%s", force ? "warning" : "refused", store,
		            (unsigned long long)(b.size < a.size ? b.size : a.size),
		            force ? "" : "; --force replaces it anyway");
	else if (*lost)
		exit = fail(force ? AD_EXIT_OK : AD_EXIT_REFUSED,
		            "%s: %s is newer than the backup (%llu log records against %llu): "
		            "restoring loses %llu records%s", force ? "warning" : "refused", store,
		            (unsigned long long)b.size, (unsigned long long)a.size,
		            (unsigned long long)*lost, force ? "" : "; --force restores anyway");
done:
	if (ta)
		st_txn_abort(ta);
	if (tb)
		st_txn_abort(tb);
	free(a.cp_note);
	free(b.cp_note);
	if (bk)
		st_close(bk);
	if (cur)
		st_close(cur);
	return exit;
}

int ad_restore(const struct pb_conf *c, const char *from, const char *store, int force)
{
	char src[PB_PATH_MAX + 32], dst[PB_PATH_MAX + 32], tmp[PB_PATH_MAX + 32],
	    lock[PB_PATH_MAX + 32], why[512];
	struct log_state s = {0};
	st_env *env = NULL;
	json_t *files = NULL;
	uint64_t backup_size = 0, lost = 0;
	int rc, busy, exit, dfd;

	if (!store)
		store = c->store_path;
	if (join(src, sizeof(src), from, "data.mdb") || join(dst, sizeof(dst), store, "data.mdb") ||
	    join(tmp, sizeof(tmp), store, "data.mdb.restore") ||
	    join(lock, sizeof(lock), store, "lock.mdb"))
		return fail(AD_EXIT_USAGE, "path too long");
	if ((exit = check_backup(from, &backup_size, &files)))
		return exit;
	exit = AD_EXIT_OTHER;
	if ((rc = st_in_use(store, &busy))) {
		exit = fail(AD_EXIT_OTHER, "cannot check %s: %s", store, pb_err_str(rc));
		goto done;
	}
	if (busy) {
		exit = fail(AD_EXIT_REFUSED, "refused: the store %s is open (is the router running?); "
		            "stop it first", store);
		goto done;
	}
	if (access(dst, F_OK) == 0 && (exit = compare(from, store, force, &lost)))
		goto done;
	exit = AD_EXIT_OTHER;
	if ((rc = pb_mkdirs(store)) || (mkdir(store, 0700) != 0 && errno != EEXIST)) {
		exit = fail(AD_EXIT_OTHER, "cannot make %s", store);
		goto done;
	}
	/* The files first, so the store is never there without a file it
	 * names; files of a newer store stay (they are only ever added). */
	if ((rc = restore_attachments(from, store, files))) {
		exit = fail(AD_EXIT_OTHER, "cannot put the attachments back in %s/" ST_ATTACH_SUBDIR
		            ": %s", store, pb_err_str(rc));
		goto done;
	}
	/* Copy beside, then rename: a crash leaves the old store or the new. */
	if ((rc = copy_file(src, tmp, 1)) || rename(tmp, dst) != 0) {
		unlink(tmp);
		exit = fail(AD_EXIT_OTHER, "cannot copy %s to %s", src, dst);
		goto done;
	}
	if (unlink(lock) != 0 && errno != ENOENT) {
		exit = fail(AD_EXIT_OTHER, "cannot remove the old %s", lock);
		goto done;
	}
	/* The search index followed the store that was there: the router
	 * builds it anew from the restored one (its mark would mostly tell,
	 * but not for a backup taken in the middle of one of its rounds). */
	static const char *const search_files[] = {"search.db", "search.db-wal", "search.db-shm",
	                                           "search.db.new", "search.db.new-wal"};
	for (size_t i = 0; i < sizeof(search_files) / sizeof(search_files[0]); i++) {
		char f[PB_PATH_MAX + 32];
		if ((size_t)snprintf(f, sizeof(f), "%s/%s", store, search_files[i]) < sizeof(f) &&
		    unlink(f) != 0 && errno != ENOENT) {
			exit = fail(AD_EXIT_OTHER, "cannot remove the old search index %s", f);
			goto done;
		}
	}
	if ((dfd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		rc = fsync(dfd);
		close(dfd);
	}
	*why = '\0';
	if ((rc = st_open(store, 0, 1, NULL, &env)) || (rc = log_state(env, &s)) ||
	    s.rep.fail != ST_VERIFY_OK || (rc = files_check(env, store, s.size, why, sizeof(why))) ||
	    *why) {
		exit = fail(AD_EXIT_OTHER, "the restored store does not verify: %s",
		            rc ? pb_err_str(rc) : *why ? why : s.rep.detail);
	} else {
		json_t *r = json_pack("{s:s, s:s, s:I, s:I, s:I}", "restored", store, "from", from,
		                      "log_size", (json_int_t)s.size, "records_lost", (json_int_t)lost,
		                      "attachments", (json_int_t)json_array_size(files));
		exit = r && json_dumpf(r, stdout, JSON_INDENT(2)) == 0 && fputc('\n', stdout) != EOF
		           ? AD_EXIT_OK : AD_EXIT_OTHER;
		json_decref(r);
	}
done:
	json_decref(files);
	free(s.cp_note);
	if (env)
		st_close(env);
	return exit;
}
