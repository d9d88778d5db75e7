/* A stand-in for the petition system (阳光信访) as docs/petition-transfer.md
 * defines it: it pushes transfers to Mailroom, signed with its app secret,
 * and behaves as the real one may: it retries after a timeout or a 503
 * (each retry signed anew), sends the same transfer twice, changes a
 * transfer under a number already sent, and signs badly. The integration
 * tests drive it in-process against the real gateway. */
#ifndef PS_H
#define PS_H

#include <stddef.h>
#include <stdint.h>

struct ps {
	char base[128];          /* http://127.0.0.1:PORT of the gateway */
	char app_id[64];
	char secret[129];        /* the HMAC key, hex, as in Mailroom's secret file */
	long timeout_ms;         /* per attempt; 0: 10 s */
	int attempts;            /* per delivery; 0: 5 */
	long backoff_ms;         /* between attempts; 0: 200 ms */
};

/* Faults of one attempt. */
enum { PS_BAD_SIGNATURE = 1, PS_STALE = 2, PS_UNKNOWN_APP = 4 };

struct ps_answer {
	long status;             /* 0: no answer (timeout, connection refused) */
	int tries;               /* attempts made */
	char body[4096];         /* the last answer's body, cut to fit */
};

/* A transfer as the interface defines it; malloc'd. title and content are
 * UTF-8; forwarded_s is Unix seconds. */
char *ps_transfer(const char *petition_no, const char *title, const char *content,
                  long forwarded_s);
/* One signed attempt, with faults. 0 when an HTTP answer came back. */
int ps_push_once(const struct ps *p, const char *json, int faults, struct ps_answer *a);
/* A delivery: attempts until an answer that is neither 503 nor missing,
 * signing each one anew. 0 when such an answer came. */
int ps_deliver(const struct ps *p, const char *json, struct ps_answer *a);

#endif
