/* UTF-8 checks shared by the JSON edge and the router (which re-checks
 * what reaches it: a compromised gateway must not plant bad text). */
#ifndef PB_UTF8_H
#define PB_UTF8_H

#include <stddef.h>

/* Code points in s[0..len), or -1 if not valid UTF-8 (overlong forms,
 * surrogates, values past U+10FFFF and NUL are invalid). */
long pb_utf8_chars(const char *s, size_t len);
/* Copies the first chars code points of s (whole ones, at most cap - 1
 * bytes) into out, NUL-terminated; returns the bytes copied. */
size_t pb_utf8_prefix(const char *s, size_t chars, char *out, size_t cap);

#endif
