#include "pb_log.h"
#include "pb_time.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *log_ident = "mailroom";
static int log_level = PB_LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *names[] = {"debug", "info", "warn", "error"};

void pb_log_init(const char *ident, int level)
{
	log_ident = ident;
	log_level = level;
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
	pb_time_fmt(pb_now_ms(), ts, sizeof(ts), 1);
	n = snprintf(line, sizeof(line), "%s %s %s: ", ts, names[level], log_ident);
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
