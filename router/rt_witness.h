/* Witnesses (rt_witness.c): the router pushes its newest checkpoint to
 * each [witness.NAME] by C2SP tlog-witness add-checkpoint, on a thread
 * of its own, and the writer stores the cosignatures that verify. */
#ifndef RT_WITNESS_H
#define RT_WITNESS_H

#include "rt.h"

/* Starts the pusher when witnesses are configured (nothing otherwise);
 * their keys are checked here: PB_EINVAL with an error logged. */
int rt_witness_start(struct rt_core *core);
void rt_witness_stop(struct rt_core *core);
/* Writer thread, in the batch's transaction before it commits: stores the
 * cosignatures verified since the last batch, each in its own nested
 * transaction (one that fails is dropped and pushed again later). */
void rt_witness_store(struct rt_core *core, st_txn *t);
/* The checkpoint note of size (0: the latest) with the cosignature lines
 * stored for it appended; *note malloc'd. */
int rt_witness_note(st_txn *t, uint64_t size, char **note, size_t *len, uint64_t *got);
/* The checkpoint a citizen's receipt for record index should prove
 * against: the latest cosigned one covering it, else the latest. */
int rt_witness_receipt_note(st_txn *t, uint64_t index, char **note, size_t *len,
                            uint64_t *size);

#endif
