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

#endif
