/* Internals of the stand-in platform, shared by its files. */
#ifndef HP_INT_H
#define HP_INT_H

#include "hp.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* A string -> index map (open addressing, grows). */
struct hp_map {
	char **keys;
	size_t *vals;
	size_t cap, n;
};
int hp_map_get(const struct hp_map *m, const char *key, size_t *val);
int hp_map_put(struct hp_map *m, const char *key, size_t val);
void hp_map_free(struct hp_map *m);

enum { HP_ST_DISPATCHED = 1, HP_ST_SIGNED, HP_ST_FINISHED, HP_ST_RETURNED, HP_ST_REVOKED };

struct hp_order {
	char no[48];
	unsigned seq;
	int state;
};

struct hp_event {
	char id[96];
	char no[48];
	char type[24];
	int dups;
};

struct hp_item {          /* one order of the feed */
	char *json;
};

struct hp_dispatch {      /* each valid dispatch issued */
	char no[48];
	unsigned seq;
};

struct hp_fault_cfg {
	int burst;
	double rate;
};

struct hp {
	struct MHD_Daemon *mhd;
	pthread_mutex_t mu;
	char url[64];
	int port;
	uint8_t key[128];
	size_t keylen;
	char app_id[64];
	int skew_s, slow_ms, quiet;
	unsigned rnd;
	volatile int stopping;
	char cursor_salt[9];
	/* feed and registry */
	struct hp_item *feed;
	size_t nfeed, capfeed;
	struct hp_order *orders;
	size_t norders, caporders;
	struct hp_map order_ix;
	struct hp_dispatch *disp;
	size_t ndisp, capdisp;
	unsigned long next_no;
	/* events */
	struct hp_event *events;
	size_t nevents, capevents;
	struct hp_map event_ix;
	/* nonces seen (value: unix seconds) */
	struct hp_map nonces;
	struct hp_fault_cfg faults[HP_F_COUNT];
	int status_turn;
	struct hp_stats st;
	/* files orders name ("attachments"), served at /files/NAME */
	struct hp_file {
		char name[64];
		uint8_t *data;
		size_t len;
		unsigned long gets;
		int fail;           /* the next GETs answered 503 */
	} files[HP_FILES_MAX];
	size_t nfiles;
};

/* Under p->mu. */
int hp_fault_take(struct hp *p, int fault);
double hp_rand(struct hp *p);
struct hp_order *hp_order_find(struct hp *p, const char *no);
int hp_feed_append(struct hp *p, char *json);   /* takes json */
/* A revoke or a re-dispatch the platform itself issues (under p->mu). */
int hp_issue_revoke(struct hp *p, struct hp_order *o, const char *reason);
int hp_issue_redispatch(struct hp *p, struct hp_order *o);

/* POST .../events under p->mu: the HTTP status and a JSON body (malloc'd). */
int hp_event_apply(struct hp *p, const char *order_no, const char *body, size_t len, char **out);

void hp_log(const struct hp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
