/* Small files of each kind, made in memory, for the attachment tests. */
#ifndef ATTACH_SAMPLES_H
#define ATTACH_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

/* The marker the tests' own clamd signature (Mailroom.Test.Marker) finds. */
#define SAMPLE_MARKER "MAILROOM-TEST-VIRUS-7f3a"

/* Each writes into buf (at least 4096 bytes) and returns the length;
 * extra, if not NULL, is carried inside the file. */
size_t sample_png(uint8_t *buf, const char *extra);
size_t sample_jpeg(uint8_t *buf, const char *extra);
size_t sample_pdf(uint8_t *buf, const char *extra);

#endif
