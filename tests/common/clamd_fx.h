/* A real clamd for the tests: started on a unix socket in a directory of
 * the test's own, with a one-line signature database of our own (never
 * the official one), and stopped again. Nothing here asserts: 0 or -1
 * with a line on stderr. */
#ifndef CLAMD_FX_H
#define CLAMD_FX_H

#include <sys/types.h>

/* The content the signature Mailroom.Test.Marker finds. */
#define CLAMD_FX_MARKER "MAILROOM-TEST-VIRUS-7f3a"
#define CLAMD_FX_SIGNATURE "Mailroom.Test.Marker.UNOFFICIAL"

struct clamd_fx {
	char dir[256];
	char sock[300];     /* the socket's path */
	char addr[310];     /* "unix:<sock>", as [attachments] clamd takes it */
	pid_t pid;
};

/* Makes dir (which must not exist), writes clamd.conf and the database,
 * starts clamd and waits (up to 30 s) until it answers PING. */
int clamd_fx_start(struct clamd_fx *c, const char *dir);
/* Stops it (the directory stays, for starting it again). */
int clamd_fx_stop(struct clamd_fx *c);
/* Starts it again in the same directory. */
int clamd_fx_restart(struct clamd_fx *c);

#endif
