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
	char ts[40];
	va_list ap;

	if (level < log_level || level < 0 || level > PB_LOG_ERROR)
		return;
	pb_time_fmt(pb_now_ms(), ts, sizeof(ts), 1);
	pthread_mutex_lock(&log_mu);
	fprintf(stderr, "%s %s %s: ", ts, names[level], log_ident);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_mu);
}
