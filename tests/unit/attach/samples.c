#include "samples.h"

#include <stdio.h>
#include <string.h>

static size_t chunk(uint8_t *p, const char *type, const uint8_t *data, uint32_t len)
{
	p[0] = (uint8_t)(len >> 24);
	p[1] = (uint8_t)(len >> 16);
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	memcpy(p + 4, type, 4);
	if (len)
		memcpy(p + 8, data, len);
	memset(p + 8 + len, 0, 4);   /* CRC: not checked by the sniffer */
	return 12 + len;
}

size_t sample_png(uint8_t *buf, const char *extra)
{
	static const uint8_t ihdr[13] = {0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0};
	size_t n = 8;

	memcpy(buf, "\x89PNG\r\n\x1a\n", 8);
	n += chunk(buf + n, "IHDR", ihdr, sizeof(ihdr));
	if (extra)
		n += chunk(buf + n, "tEXt", (const uint8_t *)extra, (uint32_t)strlen(extra));
	n += chunk(buf + n, "IDAT", (const uint8_t *)"\x78\x9c\x63\x00\x00\x00\x01\x00\x01", 9);
	n += chunk(buf + n, "IEND", NULL, 0);
	return n;
}

size_t sample_jpeg(uint8_t *buf, const char *extra)
{
	size_t n = 0, e = extra ? strlen(extra) : 0;

	memcpy(buf, "\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", 20);
	n = 20;
	if (e) {
		buf[n++] = 0xff;
		buf[n++] = 0xfe;   /* COM */
		buf[n++] = (uint8_t)((e + 2) >> 8);
		buf[n++] = (uint8_t)(e + 2);
		memcpy(buf + n, extra, e);
		n += e;
	}
	buf[n++] = 0xff;
	buf[n++] = 0xd9;
	return n;
}

size_t sample_pdf(uint8_t *buf, const char *extra)
{
	int n = snprintf((char *)buf, 4096,
	                 "%%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%% %s\ntrailer << /Root 1 0 R >>\n%%%%EOF\n",
	                 extra ? extra : "");
	return n > 0 ? (size_t)n : 0;
}
