/* A sealing SQLite VFS for the index on disk (sx_vfs.h).
 *
 * A shim over the default VFS, like SQLite's own cksumvfs: every page is
 * sealed on its way to disk and opened on its way back, so the index's
 * file and its write-ahead log hold no readable text. Each page keeps its
 * last SX_VFS_RESERVE bytes for the seal (SQLite's "reserved bytes"): a
 * 24-byte nonce and a 16-byte tag of XChaCha20-Poly1305 (libsodium's
 * crypto_aead_xchacha20poly1305_ietf). The file's first 100 bytes, the
 * header SQLite reads before it knows the page size, stay clear; they
 * are authenticated with page 1. A page of the main file is bound to its
 * number, so pages cannot be moved about inside the file.
 *
 * Which bytes are a page: in the main file, every SX_VFS_PAGE bytes; in
 * the write-ahead log, the page after each frame's 24-byte header, after
 * the log's 32-byte header (SQLite's file format, "The WAL file format").
 * SQLite writes a page in one call and reads it in one call or as part
 * of a whole frame (recovery); any other read of page bytes is served
 * from the whole page, opened. A write that is not one whole page, and
 * any file other than the main file and its log (a rollback journal, a
 * temporary file), is refused: nothing leaves in clear by another road.
 *
 * Nonces: a random 16-byte prefix per VFS and a 64-bit counter, so no two
 * seals under one key share one (192-bit nonces make a random prefix
 * safe). */
#include "sx_vfs.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR 100                 /* the database header, left clear */
#define WAL_HDR 32
#define FRAME_HDR 24
#define FRAME (FRAME_HDR + SX_VFS_PAGE)
#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(NONCE + TAG == SX_VFS_RESERVE, "the seal fills the reserved bytes");

struct sx_vfs {
	sqlite3_vfs base;
	sqlite3_vfs *under;
	uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	uint8_t prefix[16];
	_Atomic uint64_t counter;
	char name[40];
};

enum { KIND_MAIN, KIND_WAL };

struct sfile {
	sqlite3_file base;
	struct sx_vfs *v;
	int kind;
	uint8_t page[SX_VFS_PAGE];   /* a page being sealed or opened */
	sqlite3_file under[];        /* the default VFS's file, szOsFile bytes */
};

/* --------------------------------------------------------------- pages -- */

/* The offset of the page that holds `off`, or of the next one when off
 * is in a header of the log; stride() is the distance between pages. */
static sqlite3_int64 page_start(int kind, sqlite3_int64 off)
{
	if (kind == KIND_MAIN)
		return off - off % SX_VFS_PAGE;
	sqlite3_int64 k = off < WAL_HDR ? 0 : (off - WAL_HDR) / FRAME;
	return WAL_HDR + k * FRAME + FRAME_HDR;
}

static sqlite3_int64 stride(int kind)
{
	return kind == KIND_MAIN ? SX_VFS_PAGE : FRAME;
}

/* The bytes of a page that are sealed, and what binds it: page 1's clear
 * header and the page number of a main-file page. */
static void seal_span(const struct sfile *f, sqlite3_int64 at, size_t *from, uint8_t ad[8 + HDR],
                      size_t *adlen, const uint8_t *page)
{
	*from = 0;
	*adlen = 0;
	if (f->kind != KIND_MAIN)
		return;
	uint64_t no = (uint64_t)(at / SX_VFS_PAGE) + 1;
	for (int i = 0; i < 8; i++)
		ad[i] = (uint8_t)(no >> (56 - 8 * i));
	*adlen = 8;
	if (at == 0) {
		memcpy(ad + 8, page, HDR);
		*adlen += HDR;
		*from = HDR;
	}
}

static void seal(struct sfile *f, sqlite3_int64 at, uint8_t *page)
{
	uint8_t ad[8 + HDR], *nonce = page + SX_VFS_PAGE - SX_VFS_RESERVE, *tag = nonce + NONCE;
	size_t from, adlen;
	uint64_t n = atomic_fetch_add(&f->v->counter, 1);

	seal_span(f, at, &from, ad, &adlen, page);
	memcpy(nonce, f->v->prefix, sizeof(f->v->prefix));
	for (int i = 0; i < 8; i++)
		nonce[16 + i] = (uint8_t)(n >> (8 * i));
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
		page + from, tag, NULL, page + from, SX_VFS_PAGE - SX_VFS_RESERVE - from, ad, adlen,
		NULL, nonce, f->v->key);
}

/* Opens a page in place; -1 when it was not sealed by this key as this
 * page. A page of zeros is a hole SQLite never wrote: left as it is. */
static int unseal(struct sfile *f, sqlite3_int64 at, uint8_t *page)
{
	uint8_t ad[8 + HDR], *nonce = page + SX_VFS_PAGE - SX_VFS_RESERVE, *tag = nonce + NONCE;
	size_t from, adlen;
	static const uint8_t zero[SX_VFS_PAGE];

	if (memcmp(page, zero, SX_VFS_PAGE) == 0)
		return 0;
	seal_span(f, at, &from, ad, &adlen, page);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
		    page + from, NULL, page + from, SX_VFS_PAGE - SX_VFS_RESERVE - from, tag, ad, adlen,
		    nonce, f->v->key) != 0)
		return -1;
	/* SQLite sees the reserved bytes as zeros, as it wrote them: the log's
	 * frame checksums cover them. */
	memset(nonce, 0, SX_VFS_RESERVE);
	return 0;
}

/* ----------------------------------------------------------- io methods -- */

static int x_close(sqlite3_file *pf)
{
	struct sfile *f = (struct sfile *)pf;
	int rc = f->under->pMethods ? f->under->pMethods->xClose(f->under) : SQLITE_OK;

	sodium_memzero(f->page, sizeof(f->page));
	return rc;
}

/* Reads buf[0, n) at off; every page the range touches is opened. */
static int x_read(sqlite3_file *pf, void *buf, int n, sqlite3_int64 off)
{
	struct sfile *f = (struct sfile *)pf;
	uint8_t *out = buf;
	sqlite3_int64 end = off + n, at = page_start(f->kind, off);
	int rc = f->under->pMethods->xRead(f->under, buf, n, off);

	if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
		return rc;
	if (f->kind == KIND_MAIN && at == 0 && end <= HDR)
		return rc;   /* the clear header alone */
	for (; at < end; at += stride(f->kind)) {
		if (at >= off && at + SX_VFS_PAGE <= end) {   /* whole in buf: open in place */
			if (unseal(f, at, out + (at - off)))
				return SQLITE_IOERR_DATA;
			continue;
		}
		if (at + SX_VFS_PAGE <= off)
			continue;
		/* Part of a page: read it whole, open it, copy the part. */
		int prc = f->under->pMethods->xRead(f->under, f->page, SX_VFS_PAGE, at);
		if (prc == SQLITE_IOERR_SHORT_READ)
			continue;   /* past the end: SQLite gets the zeros it expects */
		if (prc != SQLITE_OK)
			return prc;
		if (unseal(f, at, f->page))
			return SQLITE_IOERR_DATA;
		sqlite3_int64 a = at > off ? at : off, b = at + SX_VFS_PAGE < end ? at + SX_VFS_PAGE : end;
		memcpy(out + (a - off), f->page + (a - at), (size_t)(b - a));
	}
	return rc;
}

static int x_write(sqlite3_file *pf, const void *buf, int n, sqlite3_int64 off)
{
	struct sfile *f = (struct sfile *)pf;
	sqlite3_int64 at = page_start(f->kind, off);

	if (f->kind == KIND_WAL && off + n <= at)   /* the log's or a frame's header */
		return f->under->pMethods->xWrite(f->under, buf, n, off);
	if (at != off || n != SX_VFS_PAGE)
		return SQLITE_IOERR_WRITE;   /* never part of a page, never in clear */
	memcpy(f->page, buf, SX_VFS_PAGE);
	seal(f, at, f->page);
	return f->under->pMethods->xWrite(f->under, f->page, SX_VFS_PAGE, off);
}

#define UNDER(f) (((struct sfile *)(f))->under)

static int x_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return UNDER(f)->pMethods->xTruncate(UNDER(f), size);
}
static int x_sync(sqlite3_file *f, int flags)
{
	return UNDER(f)->pMethods->xSync(UNDER(f), flags);
}
static int x_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return UNDER(f)->pMethods->xFileSize(UNDER(f), size);
}
static int x_lock(sqlite3_file *f, int l)
{
	return UNDER(f)->pMethods->xLock(UNDER(f), l);
}
static int x_unlock(sqlite3_file *f, int l)
{
	return UNDER(f)->pMethods->xUnlock(UNDER(f), l);
}
static int x_check_lock(sqlite3_file *f, int *out)
{
	return UNDER(f)->pMethods->xCheckReservedLock(UNDER(f), out);
}
static int x_control(sqlite3_file *f, int op, void *arg)
{
	/* No memory map: every page must come through x_read. */
	if (op == SQLITE_FCNTL_MMAP_SIZE) {
		*(sqlite3_int64 *)arg = 0;
		return SQLITE_OK;
	}
	return UNDER(f)->pMethods->xFileControl(UNDER(f), op, arg);
}
static int x_sector(sqlite3_file *f)
{
	return UNDER(f)->pMethods->xSectorSize(UNDER(f));
}
static int x_device(sqlite3_file *f)
{
	return UNDER(f)->pMethods->xDeviceCharacteristics(UNDER(f));
}
/* The shared-memory index holds frame numbers and page numbers, no page
 * content: it passes through. */
static int x_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	return UNDER(f)->pMethods->xShmMap(UNDER(f), pg, sz, extend, pp);
}
static int x_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return UNDER(f)->pMethods->xShmLock(UNDER(f), offset, n, flags);
}
static void x_shm_barrier(sqlite3_file *f)
{
	UNDER(f)->pMethods->xShmBarrier(UNDER(f));
}
static int x_shm_unmap(sqlite3_file *f, int del)
{
	return UNDER(f)->pMethods->xShmUnmap(UNDER(f), del);
}

/* Version 2: shared memory (the log needs it), no xFetch (no memory map). */
static const sqlite3_io_methods io = {
	2,          x_close,  x_read,     x_write,      x_truncate,    x_sync,
	x_size,     x_lock,   x_unlock,   x_check_lock, x_control,     x_sector,
	x_device,   x_shm_map, x_shm_lock, x_shm_barrier, x_shm_unmap, NULL,
	NULL,
};

/* ---------------------------------------------------------- vfs methods -- */

static int v_open(sqlite3_vfs *pv, sqlite3_filename name, sqlite3_file *pf, int flags, int *out)
{
	struct sx_vfs *v = (struct sx_vfs *)pv;
	struct sfile *f = (struct sfile *)pf;
	int rc;

	memset(f, 0, sizeof(*f));
	if (flags & SQLITE_OPEN_MAIN_DB)
		f->kind = KIND_MAIN;
	else if (flags & SQLITE_OPEN_WAL)
		f->kind = KIND_WAL;
	else
		return SQLITE_CANTOPEN;   /* a journal or temporary file would hold pages in clear */
	f->v = v;
	if ((rc = v->under->xOpen(v->under, name, f->under, flags, out)) != SQLITE_OK)
		return rc;
	f->base.pMethods = &io;
	return SQLITE_OK;
}

#define VUNDER(v) (((struct sx_vfs *)(v))->under)

static int v_delete(sqlite3_vfs *v, const char *name, int sync)
{
	return VUNDER(v)->xDelete(VUNDER(v), name, sync);
}
static int v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	return VUNDER(v)->xAccess(VUNDER(v), name, flags, out);
}
static int v_full(sqlite3_vfs *v, const char *name, int n, char *out)
{
	return VUNDER(v)->xFullPathname(VUNDER(v), name, n, out);
}
static int v_random(sqlite3_vfs *v, int n, char *out)
{
	return VUNDER(v)->xRandomness(VUNDER(v), n, out);
}
static int v_sleep(sqlite3_vfs *v, int us)
{
	return VUNDER(v)->xSleep(VUNDER(v), us);
}
static int v_time(sqlite3_vfs *v, double *out)
{
	return VUNDER(v)->xCurrentTime(VUNDER(v), out);
}
static int v_error(sqlite3_vfs *v, int n, char *out)
{
	return VUNDER(v)->xGetLastError(VUNDER(v), n, out);
}
static int v_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	return VUNDER(v)->xCurrentTimeInt64(VUNDER(v), out);
}

int sx_vfs_create(const uint8_t key[SX_VFS_KEY_LEN], struct sx_vfs **out)
{
	static _Atomic unsigned serial;
	sqlite3_vfs *under = sqlite3_vfs_find(NULL);
	struct sx_vfs *v;

	*out = NULL;
	if (!under || under->iVersion < 2 || sodium_init() < 0)
		return SQLITE_ERROR;
	if (!(v = calloc(1, sizeof(*v))))
		return SQLITE_NOMEM;
	v->under = under;
	memcpy(v->key, key, sizeof(v->key));
	randombytes_buf(v->prefix, sizeof(v->prefix));
	snprintf(v->name, sizeof(v->name), "mr-sealed-%u", atomic_fetch_add(&serial, 1));
	v->base = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct sfile) + under->szOsFile,
		.mxPathname = under->mxPathname,
		.zName = v->name,
		.xOpen = v_open,
		.xDelete = v_delete,
		.xAccess = v_access,
		.xFullPathname = v_full,
		.xRandomness = v_random,
		.xSleep = v_sleep,
		.xCurrentTime = v_time,
		.xGetLastError = v_error,
		.xCurrentTimeInt64 = v_time64,
	};
	int rc = sqlite3_vfs_register(&v->base, 0);
	if (rc != SQLITE_OK) {
		sodium_memzero(v->key, sizeof(v->key));
		free(v);
		return rc;
	}
	*out = v;
	return SQLITE_OK;
}

const char *sx_vfs_name(const struct sx_vfs *v)
{
	return v->name;
}

void sx_vfs_destroy(struct sx_vfs *v)
{
	if (!v)
		return;
	sqlite3_vfs_unregister(&v->base);
	sodium_memzero(v->key, sizeof(v->key));
	free(v);
}
