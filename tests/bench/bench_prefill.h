/* bench_prefill: fills a new store with n citizen messages through the
 * router's own operation table (rt_apply of the gateway's SubmitReq),
 * so the records, tree nodes, checkpoints and indexes are the ones a
 * running router writes, without HTTP, nng or an fsync per batch. */
#ifndef BENCH_PREFILL_H
#define BENCH_PREFILL_H

#include <stdint.h>

/* Fills the store the config at ini names (creating keys as the router
 * would on first start) with n messages, signing one checkpoint every
 * per_checkpoint messages as the router's group commits do, in LMDB
 * transactions of many checkpoints each. Message i comes from citizen
 * i mod citizens, or from one citizen when citizens is 0 (bench-ingest's
 * --citizens). Prints progress on stderr.
 * 0 on success, -1 with a line on stderr. */
int bench_prefill(const char *ini, uint64_t n, unsigned per_checkpoint, uint64_t citizens);

/* The store's data file: its size, the disk blocks it holds, and the
 * LMDB pages in use (mdb_env_info's last page + 1, times the page size). */
struct bench_disk {
	uint64_t file_bytes, alloc_bytes, pages_bytes, messages, records;
};
int bench_disk_use(const char *ini, struct bench_disk *d);

#endif
