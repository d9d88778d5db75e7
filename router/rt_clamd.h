/* rt_clamd: one file through ClamAV's daemon (clamd), protocol zINSTREAM,
 * over a unix socket or loopback TCP. */
#ifndef RT_CLAMD_H
#define RT_CLAMD_H

#include <stddef.h>
#include <stdint.h>

enum { RT_SCAN_CLEAN = 0, RT_SCAN_INFECTED = 1 };

/* addr is "unix:PATH" or "tcp:HOST:PORT". RT_SCAN_CLEAN, RT_SCAN_INFECTED
 * (sig gets clamd's name for it), or a pb_err: PB_EUNAVAIL when clamd
 * cannot be reached or answers otherwise (the file stays pending). */
int rt_clamd_scan(const char *addr, int timeout_ms, const uint8_t *p, size_t n, char *sig,
                  size_t siglen);

#endif
