/* Reading the public test vectors beside the repo (never copied in). */
#ifndef TV_H
#define TV_H

#include <stddef.h>
#include <stdint.h>

#define TV_DIR MR_SOURCE_DIR "/../shared/testvectors"

/* 1 if TV_DIR/rel exists. */
int tv_present(const char *rel);
/* Whole file, NUL-terminated, malloc'd; NULL on error. */
char *tv_read(const char *path, size_t *len);
/* Calls fn for every *.json under dir, recursing, in name order.
 * Returns the number of files, or -1 if dir cannot be read. */
typedef void (*tv_file_fn)(const char *path, const char *text, void *arg);
long tv_walk(const char *dir, tv_file_fn fn, void *arg);
/* Standard base64 with padding; -1 on bad input or if over cap. */
int tv_b64(const char *s, uint8_t *out, size_t cap, size_t *len);
/* The unsigned integer after "key": in JSON text (the vectors use
 * 2^64 - 1, which a JSON library reading int64 cannot hold). -1 if absent. */
int tv_u64(const char *text, const char *key, uint64_t *v);

#endif
