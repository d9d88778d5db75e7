/* The router's search index (rt_search.c): started before serving,
 * kicked after each commit, stopped after the server. */
#ifndef RT_SEARCH_H
#define RT_SEARCH_H

#include "rt.h"

/* Starts the follower thread, which first builds the index from the
 * store (the router serves meanwhile) and then follows the log. */
int rt_search_start(struct rt_core *core);
/* Something committed: the follower reads the log. Never blocks long. */
void rt_search_kick(struct rt_core *core);
void rt_search_stop(struct rt_core *core);

/* The two messages a serialised AuditRecord names, message_id (ref[0])
 * and related_id (ref[1]), read from its protobuf wire format without
 * unpacking the rest: pointers into data, NULL and 0 when absent.
 * PB_ECORRUPT when data is not well-formed protobuf. */
struct rt_refs {
	const uint8_t *ref[2];
	size_t len[2];
};
int rt_search_refs(const uint8_t *data, size_t len, struct rt_refs *out);

#endif
