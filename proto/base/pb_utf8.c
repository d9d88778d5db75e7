#include "pb_utf8.h"

#include <stdint.h>
#include <string.h>

long pb_utf8_chars(const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	long n = 0;
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t need;

		if (c == 0)
			return -1;
		if (c < 0x80) {
			i++;
			n++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return -1;
		}
		if (len - i <= need)
			return -1;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* Reject overlongs, surrogates and values past the last plane. */
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		i += need + 1;
		n++;
	}
	return n;
}

size_t pb_utf8_prefix(const char *s, size_t chars, char *out, size_t cap)
{
	size_t end = 0;

	if (cap == 0)
		return 0;
	for (size_t n = 0; n < chars && s[end]; n++) {
		size_t j = end + 1;
		while (s[j] && ((uint8_t)s[j] & 0xc0) == 0x80)
			j++;
		if (j > cap - 1)
			break;
		end = j;
	}
	memcpy(out, s, end);
	out[end] = '\0';
	return end;
}
