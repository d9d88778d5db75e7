/* Names, times and clean text, as every report prints them. */
#include "au.h"
#include "pb_time.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const char *au_enum_name(const ProtobufCEnumDescriptor *d, int v, const char *prefix, int lower,
                         char *buf, size_t len)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
	size_t n = strlen(prefix);

	if (!ev)
		snprintf(buf, len, "%d", v);
	else
		snprintf(buf, len, "%s", strncmp(ev->name, prefix, n) == 0 ? ev->name + n : ev->name);
	for (char *p = buf; lower && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return buf;
}

void au_fmt_time(int64_t ms, char *buf, size_t len, int with_ms)
{
	if (ms == 0 || pb_time_fmt(ms, buf, len, with_ms) < 0)
		snprintf(buf, len, "-");
}

json_t *au_time_json(int64_t ms, int with_ms)
{
	char buf[40];

	if (ms == 0 || pb_time_fmt(ms, buf, sizeof(buf), with_ms) < 0)
		return json_null();
	return json_string(buf);
}

void au_put_clean(const char *s)
{
	for (; s && *s; s++)
		putchar(((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s);
}
