/* sx_vfs: the SQLite VFS that seals the index's pages at rest (sx_vfs.c).
 * Internal to the search library: sx.c opens a file index through it. */
#ifndef SX_VFS_H
#define SX_VFS_H

#include <sqlite3.h>
#include <stdint.h>

#define SX_VFS_KEY_LEN 32
#define SX_VFS_PAGE 4096      /* the index's page size, fixed when it is created */
#define SX_VFS_RESERVE 40     /* bytes at each page's end: nonce and tag */

struct sx_vfs;

/* A VFS of its own name, registered with SQLite (not as the default),
 * sealing under key. */
int sx_vfs_create(const uint8_t key[SX_VFS_KEY_LEN], struct sx_vfs **out);
const char *sx_vfs_name(const struct sx_vfs *v);
/* After every connection through it is closed. */
void sx_vfs_destroy(struct sx_vfs *v);

#endif
