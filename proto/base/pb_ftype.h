/* pb_ftype: what a citizen's file is, by its content (magic bytes and a
 * basic structural walk), never by its name. The gateway refuses by it
 * and the router checks again before it stores. */
#ifndef PB_FTYPE_H
#define PB_FTYPE_H

#include <stddef.h>
#include <stdint.h>

/* "image/jpeg", "image/png" or "application/pdf"; NULL for anything
 * else, including a file of one of these kinds cut short. */
const char *pb_ftype_sniff(const uint8_t *p, size_t n);

#endif
