/* The one logging facility: level-filtered lines on stderr,
 * "2026-11-24T10:00:00.123+08:00 info router: text". Thread-safe.
 * Under systemd (JOURNAL_STREAM or INVOCATION_ID set when pb_log_init
 * runs) a line is "<4>warn router: text" instead: a journald priority,
 * no time stamp. */
#ifndef PB_LOG_H
#define PB_LOG_H

enum pb_log_level { PB_LOG_DEBUG, PB_LOG_INFO, PB_LOG_WARN, PB_LOG_ERROR };

void pb_log_init(const char *ident, int level);
/* Parses "debug", "info", "warn", "error"; -1 when unknown. */
int pb_log_level_parse(const char *s);
void pb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pb_debug(...) pb_log(PB_LOG_DEBUG, __VA_ARGS__)
#define pb_info(...) pb_log(PB_LOG_INFO, __VA_ARGS__)
#define pb_warn(...) pb_log(PB_LOG_WARN, __VA_ARGS__)
#define pb_error(...) pb_log(PB_LOG_ERROR, __VA_ARGS__)

#endif
