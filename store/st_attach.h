/* st_attach: citizens' files beside the store (store/README.md,
 * "Attachments"). Content-addressed, encrypted with secretstream under a
 * key derived from the data key, and durable (file and directory fsync'd)
 * before st_attach_put returns, so a message committed after it never
 * names a missing file. Works on files only: no transaction. */
#ifndef ST_ATTACH_H
#define ST_ATTACH_H

#include <stddef.h>
#include <stdint.h>

#define ST_ATTACH_NAME_LEN 32
#define ST_ATTACH_SUBDIR "attachments"

/* What a file says of itself, sealed in its first chunk. */
struct st_attach_info {
	uint8_t sha[32];     /* SHA-256 of the plaintext */
	uint64_t size;
	char type[32];       /* the MIME type it was stored as */
};

/* Writes plain as <store_dir>/attachments/<hex name>, where name is the
 * keyed BLAKE2b-256 of plain (so names reveal nothing of well-known
 * files); info gets its SHA-256 and size. A file already there is kept:
 * the same content is stored once. */
int st_attach_put(const char *store_dir, const uint8_t data_key[32], const uint8_t *plain,
                  size_t len, const char *type, uint8_t name[ST_ATTACH_NAME_LEN],
                  struct st_attach_info *info);
/* Reads only the sealed first chunk: PB_ENOTFOUND when the file is
 * missing, PB_ECORRUPT when that chunk fails authentication. */
int st_attach_info(const char *store_dir, const uint8_t data_key[32],
                   const uint8_t name[ST_ATTACH_NAME_LEN], struct st_attach_info *info);
/* Reads, decrypts and checks a whole file; PB_ENOTFOUND when it is
 * missing, PB_ECORRUPT when any chunk fails authentication, one is
 * missing, or the content does not hash to its name and its SHA-256.
 * *plain is freed with free(); info may be NULL. */
int st_attach_get(const char *store_dir, const uint8_t data_key[32],
                  const uint8_t name[ST_ATTACH_NAME_LEN], uint8_t **plain, size_t *len,
                  struct st_attach_info *info);
/* SHA-256 of the stored (encrypted) file's bytes: what an auditor without
 * the data key can check. PB_ENOTFOUND when it is missing. */
int st_attach_file_hash(const char *store_dir, const uint8_t name[ST_ATTACH_NAME_LEN],
                        uint8_t out[32]);
/* PB_OK when the file is there (no decryption), PB_ENOTFOUND otherwise. */
int st_attach_exists(const char *store_dir, const uint8_t name[ST_ATTACH_NAME_LEN]);

#endif
