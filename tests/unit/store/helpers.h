/* Shared fixtures for the store tests: a fresh directory with keys and a
 * writable store in it, plus direct LMDB access for tampering. */
#ifndef ST_TEST_HELPERS_H
#define ST_TEST_HELPERS_H

#include "st.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

struct fx {
	char dir[256];
	char store[300];
	struct pb_conf conf;
	struct st_keys keys;
	st_env *env;
};

extern struct fx fx;

/* Criterion .init/.fini: fx.dir, fx.conf, fx.keys, and fx.env open. */
void fx_setup(void);
void fx_teardown(void);
/* Just the directory and config; no keys or store. */
void fx_setup_dir(void);

/* Reopens fx.store after fx_close(). */
int fx_reopen(size_t map_mb, int readonly);
void fx_close(void);

/* Appends n records with actor "test" in one top-level transaction. */
int fx_append(int n, struct st_receipt *last);

/* Raw LMDB on fx.store (the store must be closed): each runs in one write
 * transaction and returns an LMDB code. */
int raw_log_get(uint64_t index, uint8_t *buf, size_t max, size_t *len);
int raw_log_put(uint64_t index, const uint8_t *buf, size_t len);
int raw_log_del(uint64_t index);
/* The checkpoint DBI: a note put as given, or one over the first size
 * records as they are stored, signed with sk under fx.keys.key_name. */
int raw_checkpoint_put(uint64_t size, const char *note, size_t len);
int raw_checkpoint_sign(uint64_t size, const uint8_t sk[64]);
int raw_checkpoint_del(uint64_t size);
int raw_meta_put(const char *name, const void *data, size_t len);
int raw_meta_get(const char *name, uint8_t *buf, size_t max, size_t *len);
/* Makes the store one of the random-code era: no sequence, no key. */
int raw_forget_sequence(void);
/* The value under key in the named DBI, copied into buf. */
int raw_get(const char *name, const void *key, size_t klen, uint8_t *buf, size_t max, size_t *len);
/* 1 if the named DBI exists. */
int raw_dbi_exists(const char *name);
/* The named DBI's branch, leaf and overflow pages and its entries. */
int raw_dbi_pages(const char *name, uint64_t *pages, uint64_t *entries);

#endif
