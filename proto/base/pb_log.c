#include "pb_log.h"
#include "pb_time.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_ident = "mailroom";
static int log_level = PB_LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *names[] = {"debug", "info", "warn", "error"};
/* Under systemd, stderr goes to journald: each line starts with its
 * syslog priority ("<4>"), so journalctl -p works, and carries no time
 * of its own (the journal stamps it). */
static const char *journal_prio[] = {"<7>", "<6>", "<4>", "<3>"};
static int log_journal;

void pb_log_init(const char *ident, int level)
{
	log_ident = ident;
	log_level = level;
	log_journal = getenv("JOURNAL_STREAM") != NULL || getenv("INVOCATION_ID") != NULL;
}

int pb_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

void pb_log(int level, const char *fmt, ...)
{
	char line[1024], ts[40];
	va_list ap;
	int n, m;

	if (level < log_level || level < 0 || level > PB_LOG_ERROR)
		return;
	if (log_journal) {
		n = snprintf(line, sizeof(line), "%s%s %s: ", journal_prio[level], names[level],
		             log_ident);
	} else {
		pb_time_fmt(pb_now_ms(), ts, sizeof(ts), 1);
		n = snprintf(line, sizeof(line), "%s %s %s: ", ts, names[level], log_ident);
	}
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;   /* a cut line still ends with its newline */
	line[n++] = '\n';
	/* One write per line: stderr is unbuffered, and lines from several
	 * threads must not interleave. */
	pthread_mutex_lock(&log_mu);
	fwrite(line, 1, (size_t)n, stderr);
	pthread_mutex_unlock(&log_mu);
}
