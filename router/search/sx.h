/* search: the handlers' full-text index over messages (README.md here).
 *
 * An SQLite FTS5 table, in memory or in a file whose every page is
 * sealed (sx_vfs.c): subject, body and replies are personal data, never
 * on disk in clear. Words
 * match as substrings, Chinese included, through a character-bigram
 * tokenizer. The index is derived: whoever owns it fills it from the
 * store and may throw it away at any time.
 *
 * Not thread-safe: one caller at a time per index. */
#ifndef SX_H
#define SX_H

#include <stddef.h>
#include <stdint.h>

#define SX_ID_LEN 16
#define SX_LIMIT_MAX 200
#define SX_WORDS_MAX 16   /* words in one query */
#define SX_KEY_LEN 32     /* a file index's sealing key */
#define SX_HEAD_LEN 32    /* what a mark remembers of its source's position */

typedef struct sx sx;

/* One message as indexed. Strings may be NULL (empty). */
struct sx_doc {
	const uint8_t *id;         /* SX_ID_LEN bytes */
	int channel, status;
	const char *queue;
	int64_t received_ms;
	int64_t due_ms;            /* earliest running deadline, 0 none */
	int open;                  /* still to be answered: queued or leased, not closed */
	const char *subject, *body;
	const char *replies;       /* every answer, one after another */
};

struct sx_query {
	const char *words;         /* separated by spaces; each must occur; may be empty */
	int channel, status;       /* 0: any */
	const char *queue;         /* NULL: any */
	int64_t from_ms, to_ms;    /* received in [from_ms, to_ms); 0: unbounded */
	int overdue;               /* only open messages whose due_ms has passed now_ms */
	int64_t now_ms;
	/* Visibility: only messages in these queues. nqueues 0 finds nothing. */
	const char *const *queues;
	size_t nqueues;
};

/* An index in this process's memory only. */
int sx_open(sx **out);
/* An index in the file at path (created when absent), its pages sealed
 * under key. PB_ECORRUPT when the file cannot be read as an index under
 * this key (another key, a changed page, another format): the owner
 * removes it (sx_remove_file) and builds anew. */
int sx_open_file(sx **out, const char *path, const uint8_t key[SX_KEY_LEN]);
/* A file's build (on) writes pages straight into the file, with no
 * write-ahead log and no sync: a crash in it leaves a file without a
 * mark, which its owner builds again. Off syncs the file and returns to
 * the write-ahead log; set the mark after. No-op in memory. */
int sx_bulk(sx *x, int on);
/* Removes an index file and what SQLite keeps beside it. */
int sx_remove_file(const char *path);
void sx_close(sx *x);
/* How far the owner had put its source into the index, as it last said
 * with sx_mark_set in the same transaction as those puts, and whether
 * the file can be trusted to hold what that commit wrote (sx_mark_intact). */
struct sx_mark {
	uint64_t next;
	uint8_t head[SX_HEAD_LEN];
	char boot[40];   /* the kernel's boot id when it was written */
	int clean;       /* written by sx_stop */
};
/* *set 0 when there is none (a new file, or a build that did not finish). */
int sx_mark_get(sx *x, struct sx_mark *m, int *set);
int sx_mark_set(sx *x, uint64_t next, const uint8_t head[SX_HEAD_LEN]);
/* A file is written without syncs (only its build and sx_stop sync), so
 * it holds all it was told only while the kernel that took the writes
 * runs, or after a clean stop: a mark is intact when clean, or written
 * under the boot id the machine has now (a process crash loses nothing
 * the kernel took). */
int sx_mark_intact(const struct sx_mark *m, const char *boot_now);
void sx_boot_id(char out[40]);
/* The owner's clean stop, after its last commit: the mark is made clean
 * and the file synced in full. */
int sx_stop(sx *x);
/* Groups many puts in one SQLite transaction (rebuilds): much faster. */
int sx_begin(sx *x);
int sx_commit(sx *x);   /* a commit that fails is rolled back */
void sx_rollback(sx *x);
/* Adds or replaces the message d->id. */
int sx_put(sx *x, const struct sx_doc *d);
/* Adds or replaces n messages, each id once, in the order the index
 * writes fastest (a round of the follower; sx.c says why). */
int sx_put_all(sx *x, const struct sx_doc *docs, size_t n);
int sx_remove(sx *x, const uint8_t id[SX_ID_LEN]);
/* Messages indexed. */
int sx_count(sx *x, uint64_t *n);
/* Newest first (by received_ms): up to max ids (max <= SX_LIMIT_MAX) into
 * ids; *more is set when there were more. PB_EINVAL for a query with too
 * many words. */
int sx_search(sx *x, const struct sx_query *q, uint8_t (*ids)[SX_ID_LEN], size_t max, size_t *n,
              int *more);

/* The normalised characters of text (letters and digits, full-width
 * folded, ASCII lower-cased), as the index sees them: their count. */
size_t sx_chars(const char *text);

#endif
