/* The handlers' search index (sx.h): SQLite FTS5, in memory or in a
 * file sealed by sx_vfs.c, with a character-bigram tokenizer.
 *
 * Why bigrams: most Chinese words are two characters (路灯, 噪音), which
 * FTS5's trigram tokenizer cannot find through its index. A text is
 * indexed as the bigrams of its normalised characters; a word of n >= 2
 * characters is the phrase of its n-1 bigrams, which matches exactly
 * where the word occurs. Each character is also indexed alone, at the
 * same position as its bigram, so a one-character word is one token.
 *
 * Rows are keyed received_ms * 4096 + slot, so rowid order is newest
 * first and a LIMIT stops FTS5 early instead of sorting every match. */
#include "sx.h"
#include "sx_vfs.h"
#include "pb_err.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 4096   /* messages received in the same millisecond */

/* The format of an index file (PRAGMA user_version): another is refused,
 * and its owner builds the index anew. */
#define FILE_FORMAT 1

struct sx {
	sqlite3 *db;
	struct sx_vfs *vfs;        /* a file index's sealing VFS; NULL in memory */
	char boot[40];             /* the boot id marks are written under */
	sqlite3_stmt *find, *ins_doc, *upd_doc, *ins_ft, *upd_ft, *get_ft, *del_doc, *del_ft,
		*rid_used, *mark_get, *mark_put;
};

/* ------------------------------------------------------------ characters -- */

/* Decodes one UTF-8 character at s[*pos] (n bytes in all); returns its
 * length, 0 at the end. An invalid byte decodes as U+FFFD, length 1. */
static int utf8_next(const unsigned char *s, int n, int pos, uint32_t *cp)
{
	int len;
	uint32_t c;

	if (pos >= n)
		return 0;
	c = s[pos];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xE0) == 0xC0) {
		len = 2;
		c &= 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3;
		c &= 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4;
		c &= 0x07;
	} else {
		*cp = 0xFFFD;
		return 1;
	}
	if (pos + len > n) {
		*cp = 0xFFFD;
		return 1;
	}
	for (int i = 1; i < len; i++) {
		if ((s[pos + i] & 0xC0) != 0x80) {
			*cp = 0xFFFD;
			return 1;
		}
		c = (c << 6) | (s[pos + i] & 0x3F);
	}
	*cp = c;
	return len;
}

/* The character as indexed, or 0 when it is not indexed (spaces,
 * punctuation, symbols, broken bytes). */
static uint32_t fold(uint32_t c)
{
	if (c >= 0xFF01 && c <= 0xFF5E)   /* full-width ASCII */
		c -= 0xFEE0;
	if (c < 0x80) {
		if (c >= 'A' && c <= 'Z')
			return c + 32;
		return ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? c : 0;
	}
	if (c < 0xC0 || (c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F) ||
	    (c >= 0xFE10 && c <= 0xFE1F) || (c >= 0xFE30 && c <= 0xFE6F) ||
	    (c >= 0xFF00 && c <= 0xFF65) || c == 0xFFFD || c > 0x10FFFF)
		return 0;
	return c;
}

static int utf8_put(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

size_t sx_chars(const char *text)
{
	size_t count = 0;
	int n = text ? (int)strlen(text) : 0, pos = 0, len;
	uint32_t c;

	while ((len = utf8_next((const unsigned char *)text, n, pos, &c)) > 0) {
		count += fold(c) != 0;
		pos += len;
	}
	return count;
}

/* ------------------------------------------------------------- tokenizer -- */

typedef int (*token_fn)(void *ctx, int tflags, const char *tok, int ntok, int start, int end);

static int tok_create(void *ctx, const char **argv, int argc, Fts5Tokenizer **out)
{
	(void)argv;
	(void)argc;
	*out = (Fts5Tokenizer *)ctx;   /* stateless: any non-NULL handle */
	return SQLITE_OK;
}

static void tok_delete(Fts5Tokenizer *t)
{
	(void)t;
}

static int tok_tokenize(Fts5Tokenizer *t, void *ctx, int flags, const char *text, int ntext,
                        token_fn emit)
{
	const unsigned char *s = (const unsigned char *)text;
	int query = (flags & FTS5_TOKENIZE_QUERY) != 0;
	uint32_t c;
	int prev_start = 0, prev_end = 0, pos = 0, len, seen = 0, rc, k = 0;
	char buf[8];   /* the previous character, then the current one */

	(void)t;
	while ((len = utf8_next(s, ntext, pos, &c)) > 0) {
		uint32_t f = fold(c);
		if (f) {
			/* Each character is encoded once, after the previous one:
			 * buf[0, k) is then the bigram's first half, alone. */
			int m = utf8_put(f, buf + k);
			if (seen++) {
				if ((rc = emit(ctx, 0, buf, k + m, prev_start, pos + len)) != SQLITE_OK)
					return rc;
				/* A document also has each character alone, at the
				 * same position, for one-character words. */
				if (!query && (rc = emit(ctx, FTS5_TOKEN_COLOCATED, buf, k, prev_start,
				                         prev_end)) != SQLITE_OK)
					return rc;
				memmove(buf, buf + k, (size_t)m);
			}
			k = m;
			prev_start = pos;
			prev_end = pos + len;
		}
		pos += len;
	}
	/* The last character: its own position in a document; in a query
	 * only when it is the whole word. */
	if (seen && (seen == 1 || !query))
		return emit(ctx, 0, buf, k, prev_start, prev_end);
	return SQLITE_OK;
}

static fts5_tokenizer bigram = {tok_create, tok_delete, tok_tokenize};

static fts5_api *fts5_of(sqlite3 *db)
{
	fts5_api *api = NULL;
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return api;
}

/* ------------------------------------------------------------------ index -- */

static const char schema[] =
	"CREATE TABLE doc(rid INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, channel INT, status INT,"
	" queue TEXT, received_ms INT, due_ms INT, open INT);"
	/* columnsize=0: no row of token counts per message; only bm25 reads
	 * them, and matches come in rowid order, never ranked. */
	"CREATE VIRTUAL TABLE ft USING fts5(subject, body, replies, tokenize = 'mr_bigram',"
	" columnsize = 0);"
	/* Every commit (a follower's round) writes a segment; FTS5 merges
	 * them once a level holds this many. 8, not the default 4: a token is
	 * rewritten at fewer levels (a fifth less work per message), for a few
	 * per cent more work per search (README.md, "Cost per message"). */
	"INSERT INTO ft(ft, rank) VALUES ('automerge', 8);"
	/* Where the owner stopped reading its source, for an index on disk. */
	"CREATE TABLE mark(one INTEGER PRIMARY KEY CHECK (one = 1), next INT NOT NULL,"
	" head BLOB NOT NULL, boot TEXT NOT NULL, clean INT NOT NULL);";

/* Sorts and temporary tables stay in memory: no temporary file, which
 * the sealing VFS would refuse anyway. */
static const char memory_setup[] = "PRAGMA temp_store = MEMORY;";

/* A file index: pages sealed by sx_vfs.c, in a write-ahead log (a
 * process crash loses at most the last rounds, never the file), never
 * synced while it runs: an fsync at each checkpoint stalled the store's
 * own commits behind it (p99 of bench-ingest 22 -> 45 ms). The index is
 * derived; its mark says how far it got and whether a machine crash may
 * have lost writes since (sx_mark_intact).
 * EXCLUSIVE locking keeps the log's index in this process's memory (no
 * -shm file) and any second process out. The rollback journal is kept in
 * memory until the log takes over, so no page ever goes to a journal. */
static const char file_setup[] =
	"PRAGMA locking_mode = EXCLUSIVE;"
	"PRAGMA temp_store = MEMORY;"
	"PRAGMA cache_size = -65536;"
	"PRAGMA page_size = 4096;";

static int prep(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK
	               ? PB_OK
	               : PB_EIO;
}

/* SQLite's verdict on a file it cannot read: a page that does not open
 * under this key (SQLITE_IOERR_DATA), or a file that is not an index. */
static int db_err(int rc)
{
	return rc == SQLITE_IOERR_DATA || (rc & 0xff) == SQLITE_CORRUPT || rc == SQLITE_NOTADB
	               ? PB_ECORRUPT
	               : PB_EIO;
}

/* A step's rc as ours: PB_OK for a row or the end. Before its reset. */
static int step_rc(sqlite3_stmt *st, int rc)
{
	return rc == SQLITE_ROW || rc == SQLITE_DONE
	               ? PB_OK
	               : db_err(sqlite3_extended_errcode(sqlite3_db_handle(st)));
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK
	               ? PB_OK
	               : db_err(sqlite3_extended_errcode(db));
}

/* The one integer a statement gives, *v. */
static int one_int(sqlite3 *db, const char *sql, sqlite3_int64 *v)
{
	sqlite3_stmt *st;
	int rc;

	*v = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(sqlite3_extended_errcode(db));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	rc = step_rc(st, rc);
	sqlite3_finalize(st);
	return rc;
}

/* A file index's settings, and its schema when the file is new. */
static int file_prepare(sx *x)
{
	sqlite3_int64 tables, format;
	int reserve = SX_VFS_RESERVE, rc;
	char mode[16] = "";
	sqlite3_stmt *st;

	if (sqlite3_file_control(x->db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve) != SQLITE_OK)
		return PB_EIO;
	if ((rc = exec(x->db, file_setup)))
		return rc;
	if ((rc = one_int(x->db, "SELECT count(*) FROM sqlite_schema", &tables)) ||
	    (rc = one_int(x->db, "PRAGMA user_version", &format)))
		return rc;
	if (tables && format != FILE_FORMAT)
		return PB_ECORRUPT;
	if (sqlite3_prepare_v2(x->db, "PRAGMA journal_mode", -1, &st, NULL) != SQLITE_OK)
		return PB_EIO;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (strcmp(mode, "wal") &&
	    ((rc = exec(x->db, "PRAGMA journal_mode = MEMORY")) ||
	     (rc = exec(x->db, "PRAGMA journal_mode = WAL"))))
		return rc;
	if ((rc = exec(x->db, "PRAGMA synchronous = OFF")))
		return rc;
	if (tables)
		return PB_OK;
	if ((rc = exec(x->db, "BEGIN")))
		return rc;
	if ((rc = exec(x->db, schema)) || (rc = exec(x->db, "PRAGMA user_version = 1"))) {
		exec(x->db, "ROLLBACK");
		return rc;
	}
	return exec(x->db, "COMMIT");
}
_Static_assert(FILE_FORMAT == 1, "file_prepare writes the format");

static int open_db(sx *x, const char *path, const uint8_t *key)
{
	fts5_api *api;
	int rc;

	if (path) {
		/* Made here, not by SQLite (0644): the file and its log, which
		 * SQLite makes with the file's mode, are the router's alone. */
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || close(fd) || sx_vfs_create(key, &x->vfs) != SQLITE_OK)
			return PB_EIO;
	}
	/* ":memory:" is private to this connection and never written out.
	 * NOMUTEX: one caller at a time (sx.h), so SQLite's own lock is pure cost. */
	if (sqlite3_open_v2(path ? path : ":memory:", &x->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    x->vfs ? sx_vfs_name(x->vfs) : NULL) != SQLITE_OK ||
	    !(api = fts5_of(x->db)) ||
	    api->xCreateTokenizer(api, "mr_bigram", x, &bigram, NULL) != SQLITE_OK)
		return PB_EIO;
	if (path)
		return file_prepare(x);
	if ((rc = exec(x->db, memory_setup)) || (rc = exec(x->db, schema)))
		return rc;
	return PB_OK;
}

static int sx_open_at(sx **out, const char *path, const uint8_t *key)
{
	sx *x = calloc(1, sizeof(*x));
	int rc;

	*out = NULL;
	if (!x)
		return PB_ENOMEM;
	if ((rc = open_db(x, path, key))) {
		sx_close(x);
		return rc;
	}
	if (prep(x->db, "SELECT next, head, boot, clean FROM mark WHERE one = 1", &x->mark_get) ||
	    prep(x->db,
	         "INSERT OR REPLACE INTO mark(one, next, head, boot, clean) VALUES (1, ?1, ?2, ?3, 0)",
	         &x->mark_put) ||
	    prep(x->db, "SELECT rid FROM doc WHERE id = ?1", &x->find) ||
	    prep(x->db, "SELECT 1 FROM doc WHERE rid = ?1", &x->rid_used) ||
	    prep(x->db,
	         "INSERT INTO doc(rid, id, channel, status, queue, received_ms, due_ms, open)"
	         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	         &x->ins_doc) ||
	    prep(x->db,
	         "UPDATE doc SET channel = ?3, status = ?4, queue = ?5, received_ms = ?6,"
	         " due_ms = ?7, open = ?8 WHERE rid = ?1 AND id = ?2",
	         &x->upd_doc) ||
	    prep(x->db, "INSERT INTO ft(rowid, subject, body, replies) VALUES (?1, ?2, ?3, ?4)",
	         &x->ins_ft) ||
	    prep(x->db, "UPDATE ft SET subject = ?2, body = ?3, replies = ?4 WHERE rowid = ?1",
	         &x->upd_ft) ||
	    prep(x->db, "SELECT subject, body, replies FROM ft WHERE rowid = ?1", &x->get_ft) ||
	    prep(x->db, "DELETE FROM doc WHERE rid = ?1", &x->del_doc) ||
	    prep(x->db, "DELETE FROM ft WHERE rowid = ?1", &x->del_ft)) {
		sx_close(x);
		return PB_EIO;
	}
	*out = x;
	return PB_OK;
}

int sx_open(sx **out)
{
	return sx_open_at(out, NULL, NULL);
}

int sx_open_file(sx **out, const char *path, const uint8_t key[SX_KEY_LEN])
{
	return sx_open_at(out, path, key);
}

int sx_bulk(sx *x, int on)
{
	const char *file;
	int fd, rc;

	if (!x->vfs)
		return PB_OK;
	if (on)
		return exec(x->db, "PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY;");
	if ((rc = exec(x->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")))
		return rc;
	/* What the build wrote reaches the disk before a mark can. */
	if (!(file = sqlite3_db_filename(x->db, "main")) ||
	    (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return PB_EIO;
	rc = fsync(fd) ? PB_EIO : PB_OK;
	close(fd);
	return rc;
}

int sx_remove_file(const char *path)
{
	static const char *const ext[] = {"", "-wal", "-shm", "-journal"};
	char name[4096];

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		if ((size_t)snprintf(name, sizeof(name), "%s%s", path, ext[i]) >= sizeof(name))
			return PB_EINVAL;
		if (unlink(name) && errno != ENOENT)
			return PB_EIO;
	}
	return PB_OK;
}

void sx_close(sx *x)
{
	if (!x)
		return;
	sqlite3_stmt *all[] = {x->find,   x->ins_doc, x->upd_doc,  x->ins_ft,   x->upd_ft,
	                       x->get_ft, x->del_doc, x->del_ft,   x->rid_used, x->mark_get,
	                       x->mark_put};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		sqlite3_finalize(all[i]);
	/* The last connection's close checkpoints the log into the file. */
	sqlite3_close(x->db);
	sx_vfs_destroy(x->vfs);
	free(x);
}

int sx_begin(sx *x)
{
	return exec(x->db, "BEGIN");
}

void sx_rollback(sx *x)
{
	sqlite3_exec(x->db, "ROLLBACK", NULL, NULL, NULL);
}

int sx_commit(sx *x)
{
	int rc = exec(x->db, "COMMIT");

	if (rc)   /* a failed COMMIT may leave the transaction open */
		sqlite3_exec(x->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Runs a statement to its end (or its first row, *row set) and resets it. */
static int run(sqlite3_stmt *st, int *row)
{
	int rc = sqlite3_step(st);

	if (row)
		*row = rc == SQLITE_ROW;
	rc = step_rc(st, rc);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

int sx_mark_get(sx *x, struct sx_mark *m, int *set)
{
	int rc = sqlite3_step(x->mark_get);
	const unsigned char *boot;

	*set = 0;
	memset(m, 0, sizeof(*m));
	if (rc == SQLITE_ROW && sqlite3_column_bytes(x->mark_get, 1) == SX_HEAD_LEN &&
	    sqlite3_column_int64(x->mark_get, 0) >= 0) {
		*set = 1;
		m->next = (uint64_t)sqlite3_column_int64(x->mark_get, 0);
		memcpy(m->head, sqlite3_column_blob(x->mark_get, 1), SX_HEAD_LEN);
		if ((boot = sqlite3_column_text(x->mark_get, 2)))
			snprintf(m->boot, sizeof(m->boot), "%s", (const char *)boot);
		m->clean = sqlite3_column_int(x->mark_get, 3) != 0;
	}
	rc = step_rc(x->mark_get, rc);
	sqlite3_reset(x->mark_get);
	return rc;
}

void sx_boot_id(char out[40])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	out[0] = '\0';
	if (f) {
		if (!fgets(out, 40, f))
			out[0] = '\0';
		fclose(f);
	}
	out[strcspn(out, "\n")] = '\0';
}

int sx_mark_intact(const struct sx_mark *m, const char *boot_now)
{
	return m->clean || (m->boot[0] && boot_now[0] && strcmp(m->boot, boot_now) == 0);
}

int sx_mark_set(sx *x, uint64_t next, const uint8_t head[SX_HEAD_LEN])
{
	if (next > INT64_MAX)
		return PB_EINVAL;
	if (!x->boot[0])
		sx_boot_id(x->boot);
	sqlite3_bind_int64(x->mark_put, 1, (sqlite3_int64)next);
	sqlite3_bind_blob(x->mark_put, 2, head, SX_HEAD_LEN, SQLITE_STATIC);
	sqlite3_bind_text(x->mark_put, 3, x->boot, -1, SQLITE_STATIC);
	return run(x->mark_put, NULL);
}

int sx_stop(sx *x)
{
	int rc;

	if (!x->vfs)
		return PB_OK;
	/* FULL: the checkpoint syncs the log, then the file, before it
	 * empties the log, so the clean mark is on disk with what it covers. */
	if ((rc = exec(x->db, "UPDATE mark SET clean = 1")) ||
	    (rc = exec(x->db, "PRAGMA synchronous = FULL")) ||
	    (rc = exec(x->db, "PRAGMA wal_checkpoint(TRUNCATE)")))
		return rc;
	return PB_OK;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* The existing row of id: *rid, or 0 when none. */
static int find(sx *x, const uint8_t *id, sqlite3_int64 *rid)
{
	int rc;

	*rid = 0;
	sqlite3_bind_blob(x->find, 1, id, SX_ID_LEN, SQLITE_STATIC);
	rc = sqlite3_step(x->find);
	if (rc == SQLITE_ROW)
		*rid = sqlite3_column_int64(x->find, 0);
	rc = step_rc(x->find, rc);
	sqlite3_reset(x->find);
	sqlite3_clear_bindings(x->find);
	return rc;
}

/* The row id a new message would like: its millisecond, a slot its id
 * picks. 0 when received_ms is out of range. */
static sqlite3_int64 first_rid(const struct sx_doc *d, uint32_t *slot)
{
	int64_t ms = d->received_ms < 0 ? 0 : d->received_ms;

	*slot = ((uint32_t)d->id[14] << 8 | d->id[15]) % SLOTS;
	if (ms > (INT64_MAX / SLOTS) - 1)
		return 0;
	return (sqlite3_int64)ms * SLOTS + *slot + 1;
}

/* A free row id in the message's millisecond, from a slot its id picks. */
static int new_rid(sx *x, const struct sx_doc *d, sqlite3_int64 *rid)
{
	uint32_t slot;
	sqlite3_int64 base = first_rid(d, &slot);
	int used, rc;

	if (!base)
		return PB_EINVAL;
	base -= slot + 1;
	for (int i = 0; i < SLOTS; i++) {
		*rid = base + (slot + i) % SLOTS + 1;
		sqlite3_bind_int64(x->rid_used, 1, *rid);
		if ((rc = run(x->rid_used, &used)))
			return rc;
		if (!used)
			return PB_OK;
	}
	return PB_EFULL;
}

static void bind_doc(sqlite3_stmt *st, sqlite3_int64 rid, const struct sx_doc *d)
{
	sqlite3_bind_int64(st, 1, rid);
	sqlite3_bind_blob(st, 2, d->id, SX_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, d->channel);
	sqlite3_bind_int(st, 4, d->status);
	sqlite3_bind_text(st, 5, nz(d->queue), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, d->received_ms);
	sqlite3_bind_int64(st, 7, d->due_ms);
	sqlite3_bind_int(st, 8, d->open != 0);
}

static void bind_texts(sqlite3_stmt *st, sqlite3_int64 rid, const struct sx_doc *d)
{
	sqlite3_bind_int64(st, 1, rid);
	sqlite3_bind_text(st, 2, nz(d->subject), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, nz(d->body), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, nz(d->replies), -1, SQLITE_STATIC);
}

static int same_col(sqlite3_stmt *st, int col, const char *s)
{
	const unsigned char *v = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	return v && n == strlen(s) && memcmp(v, s, n) == 0;
}

/* Most changes (a lease, a clock) leave the texts alone: then the
 * full-text row is kept as it is. */
static int texts_same(sx *x, sqlite3_int64 rid, const struct sx_doc *d, int *same)
{
	int rc;

	*same = 0;
	sqlite3_bind_int64(x->get_ft, 1, rid);
	rc = sqlite3_step(x->get_ft);
	if (rc == SQLITE_ROW)
		*same = same_col(x->get_ft, 0, nz(d->subject)) && same_col(x->get_ft, 1, nz(d->body)) &&
		        same_col(x->get_ft, 2, nz(d->replies));
	rc = step_rc(x->get_ft, rc);
	sqlite3_reset(x->get_ft);
	sqlite3_clear_bindings(x->get_ft);
	return rc;
}

/* d at its row rid, or at a new row when rid is 0. */
static int put_at(sx *x, const struct sx_doc *d, sqlite3_int64 rid)
{
	int rc, same;

	if (rid) {
		bind_doc(x->upd_doc, rid, d);
		if ((rc = run(x->upd_doc, NULL)) || (rc = texts_same(x, rid, d, &same)) || same)
			return rc;
		bind_texts(x->upd_ft, rid, d);
		return run(x->upd_ft, NULL);
	}
	if ((rc = new_rid(x, d, &rid)))
		return rc;
	bind_doc(x->ins_doc, rid, d);
	if ((rc = run(x->ins_doc, NULL)))
		return rc;
	bind_texts(x->ins_ft, rid, d);
	return run(x->ins_ft, NULL);
}

int sx_put(sx *x, const struct sx_doc *d)
{
	sqlite3_int64 rid;
	int rc;

	if (!d->id)
		return PB_EINVAL;
	if ((rc = find(x, d->id, &rid)))
		return rc;
	return put_at(x, d, rid);
}

struct keyed {
	sqlite3_int64 key, rid;   /* the row it has or would like; the row it has, 0 none */
	const struct sx_doc *d;
};

static int key_order(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

/* FTS5 writes its pending rows out as a segment whenever a row comes
 * that is not above the last one written in the transaction, and merges
 * those segments again later. In row order a batch is one segment; in
 * the order of the message ids (time, then random bits, while the slot
 * is picked from the last ones) it was nearly one per message. */
int sx_put_all(sx *x, const struct sx_doc *docs, size_t n)
{
	struct keyed *k = n ? malloc(n * sizeof(*k)) : NULL;
	uint32_t slot;
	int rc = PB_OK;

	if (n && !k)
		return PB_ENOMEM;
	for (size_t i = 0; i < n && !rc; i++) {
		k[i].d = &docs[i];
		if (!docs[i].id)
			rc = PB_EINVAL;
		else if ((rc = find(x, docs[i].id, &k[i].rid)) == PB_OK)
			k[i].key = k[i].rid ? k[i].rid : first_rid(&docs[i], &slot);
	}
	if (rc == PB_OK && n > 1)   /* qsort takes no NULL, even for nothing */
		qsort(k, n, sizeof(*k), key_order);
	for (size_t i = 0; i < n && !rc; i++)
		rc = put_at(x, k[i].d, k[i].rid);
	free(k);
	return rc;
}

int sx_remove(sx *x, const uint8_t id[SX_ID_LEN])
{
	sqlite3_int64 rid;
	int rc;

	if ((rc = find(x, id, &rid)) || !rid)
		return rc ? rc : PB_ENOTFOUND;
	sqlite3_bind_int64(x->del_doc, 1, rid);
	if ((rc = run(x->del_doc, NULL)))
		return rc;
	sqlite3_bind_int64(x->del_ft, 1, rid);
	return run(x->del_ft, NULL);
}

int sx_count(sx *x, uint64_t *n)
{
	sqlite3_int64 v;
	int rc = one_int(x->db, "SELECT count(*) FROM doc", &v);

	*n = (uint64_t)v;
	return rc;
}

/* ----------------------------------------------------------------- search -- */

struct buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Is s[pos] a word separator: ASCII white space or U+3000? *len its length. */
static int is_space(const char *s, size_t pos, size_t *len)
{
	unsigned char c = (unsigned char)s[pos];

	*len = 1;
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
		return 1;
	if (c == 0xE3 && (unsigned char)s[pos + 1] == 0x80 && (unsigned char)s[pos + 2] == 0x80) {
		*len = 3;
		return 1;
	}
	return 0;
}

/* The FTS5 expression for words: each a quoted phrase, all required. *nwords 0 when no word has a character
 * the index sees. */
static int match_expr(const char *words, struct buf *b, int *nwords)
{
	size_t i = 0, n = words ? strlen(words) : 0, sl;

	*nwords = 0;
	while (i < n) {
		while (i < n && is_space(words, i, &sl))
			i += sl;
		size_t start = i;
		while (i < n && !is_space(words, i, &sl))
			i++;
		if (i == start)
			break;
		char *w = strndup(words + start, i - start);
		if (!w)
			return PB_ENOMEM;
		size_t chars = sx_chars(w);
		if (chars) {
			if (++*nwords > SX_WORDS_MAX) {
				free(w);
				return PB_EINVAL;
			}
			if (*nwords > 1)
				puts_(b, " AND ");
			puts_(b, "\"");
			for (const char *c = w; *c; c++) {
				put(b, c, 1);
				if (*c == '"')
					put(b, "\"", 1);   /* a quote inside a phrase is doubled */
			}
			puts_(b, "\"");
		}
		free(w);
	}
	return b->failed ? PB_ENOMEM : PB_OK;
}

int sx_search(sx *x, const struct sx_query *q, uint8_t (*ids)[SX_ID_LEN], size_t max, size_t *n,
              int *more)
{
	struct buf sql = {0}, expr = {0};
	sqlite3_stmt *st = NULL;
	int nwords, rc, arg = 1;

	*n = 0;
	*more = 0;
	if (max > SX_LIMIT_MAX || q->from_ms < 0 || q->to_ms < 0 ||
	    q->from_ms > INT64_MAX / SLOTS - 1 || q->to_ms > INT64_MAX / SLOTS - 1)
		return PB_EINVAL;
	if ((rc = match_expr(q->words, &expr, &nwords)))
		goto out;
	if (q->nqueues == 0 || max == 0)
		goto out;
	/* FTS5 walks its matches in rowid order, newest first, and the row's
	 * other conditions are checked on the way: no sort of all matches. */
	if (nwords)
		puts_(&sql, "SELECT d.id FROM ft JOIN doc d ON d.rid = ft.rowid WHERE ft MATCH ?");
	else
		puts_(&sql, "SELECT d.id FROM doc d WHERE 1");
	if (q->from_ms > 0)
		puts_(&sql, nwords ? " AND ft.rowid >= ?" : " AND d.rid >= ?");
	if (q->to_ms > 0)
		puts_(&sql, nwords ? " AND ft.rowid < ?" : " AND d.rid < ?");
	if (q->channel)
		puts_(&sql, " AND d.channel = ?");
	if (q->status)
		puts_(&sql, " AND d.status = ?");
	if (q->queue)
		puts_(&sql, " AND d.queue = ?");
	if (q->overdue)
		puts_(&sql, " AND d.open = 1 AND d.due_ms > 0 AND d.due_ms < ?");
	puts_(&sql, " AND d.queue IN (?");
	for (size_t i = 1; i < q->nqueues; i++)
		puts_(&sql, ", ?");
	puts_(&sql, nwords ? ") ORDER BY ft.rowid DESC LIMIT ?" : ") ORDER BY d.rid DESC LIMIT ?");
	if (sql.failed) {
		rc = PB_ENOMEM;
		goto out;
	}
	if (sqlite3_prepare_v2(x->db, sql.p, -1, &st, NULL) != SQLITE_OK) {
		rc = db_err(sqlite3_extended_errcode(x->db));
		goto out;
	}
	if (nwords)
		sqlite3_bind_text(st, arg++, expr.p, -1, SQLITE_STATIC);
	if (q->from_ms > 0)
		sqlite3_bind_int64(st, arg++, (sqlite3_int64)q->from_ms * SLOTS + 1);
	if (q->to_ms > 0)
		sqlite3_bind_int64(st, arg++, (sqlite3_int64)q->to_ms * SLOTS + 1);
	if (q->channel)
		sqlite3_bind_int(st, arg++, q->channel);
	if (q->status)
		sqlite3_bind_int(st, arg++, q->status);
	if (q->queue)
		sqlite3_bind_text(st, arg++, q->queue, -1, SQLITE_STATIC);
	if (q->overdue)
		sqlite3_bind_int64(st, arg++, q->now_ms);
	for (size_t i = 0; i < q->nqueues; i++)
		sqlite3_bind_text(st, arg++, q->queues[i], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, arg++, (sqlite3_int64)max + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == max) {
			*more = 1;
			break;
		}
		if (sqlite3_column_bytes(st, 0) == SX_ID_LEN)
			memcpy(ids[(*n)++], sqlite3_column_blob(st, 0), SX_ID_LEN);
	}
	rc = step_rc(st, rc);
out:
	sqlite3_finalize(st);
	free(sql.p);
	free(expr.p);
	return rc;
}
