/* Loading a JSON body and reading typed fields with precise refusals. */
#include "pj.h"
#include "pj_int.h"
#include "pb_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int pj_fail(struct pj_error *err, const char *code, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->code, sizeof(err->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	/* A cut may split a character; the message goes into JSON. */
	size_t n = strlen(err->message);
	while (n > 0 && pj_utf8_chars(err->message, n) < 0)
		err->message[--n] = '\0';
	return -1;
}

int pj_load(const char *body, size_t len, json_t **root, struct pj_error *err)
{
	json_error_t jerr;

	*root = NULL;
	/* jansson would refuse bad UTF-8 too, but as a generic parse error;
	 * checking first gives the client the precise reason. */
	if (pj_utf8_chars(body, len) < 0)
		return pj_fail(err, "invalid_utf8", "body is not valid UTF-8");
	/* No JSON_ALLOW_NUL: a \u0000 escape is refused as a parse error. */
	*root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*root) {
		/* jansson quotes the offending token ("... near '13800138000x'"),
		 * which may be someone's data: the answer and any log line that
		 * repeats it give the position and the rule only. */
		size_t n = strcspn(jerr.text, "'");
		char *near = strstr(jerr.text, " near ");
		if (near && (size_t)(near - jerr.text) < n)
			n = (size_t)(near - jerr.text);
		while (n > 0 && jerr.text[n - 1] == ' ')
			n--;
		return pj_fail(err, "invalid_json", "line %d column %d: %.*s", jerr.line, jerr.column,
		               (int)n, jerr.text);
	}
	if (!json_is_object(*root)) {
		json_decref(*root);
		*root = NULL;
		return pj_fail(err, "invalid_json", "body must be a JSON object");
	}
	return 0;
}

int pj_known_keys(json_t *obj, const char *path, const char *const *allowed,
                  struct pj_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		size_t i;
		for (i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (!allowed[i]) {
			/* Cut a long name, at a character boundary. */
			int n = (int)strlen(key);
			if (n > 64) {
				n = 64;
				while (n > 0 && ((unsigned char)key[n] & 0xc0) == 0x80)
					n--;
			}
			return pj_fail(err, "unknown_field", "%s%.*s: unknown field", path, n, key);
		}
	}
	return 0;
}

int pj_member(json_t *obj, const char *path, const char *key, int required, json_t **out,
              struct pj_error *err)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return pj_fail(err, "missing_field", "%s%s: required", path, key);
		return 0;
	}
	*out = v;
	return 0;
}

static int blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", s[i]))
			return 0;
	return 1;
}

int pj_text(json_t *obj, const char *path, const char *key, int required, long min, long max,
            int flags, const char **out, struct pj_error *err)
{
	json_t *v;

	if (pj_member(obj, path, key, required, &v, err))
		return -1;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return pj_fail(err, "invalid_field", "%s%s: must be a string", path, key);
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	long n = pj_utf8_chars(s, len);
	if (n < min || n > max) {
		if (min == max)
			return pj_fail(err, "invalid_field", "%s%s: %ld characters", path, key, min);
		return pj_fail(err, "invalid_field", "%s%s: %ld-%ld characters", path, key, min,
		               max);
	}
	if (pj_text_clean(s, len, flags))
		return pj_fail(err, "invalid_field", "%s%s: control characters not allowed", path,
		               key);
	if ((flags & PJ_NOBLANK) && blank(s, len))
		return pj_fail(err, "invalid_field", "%s%s: must not be blank", path, key);
	*out = s;
	return 0;
}

int pj_enum(json_t *obj, const char *path, const char *key, int required,
            const char *const *values, const char **out, struct pj_error *err)
{
	const char *s = NULL;
	char list[120] = "";
	size_t used = 0;

	if (pj_text(obj, path, key, required, 1, 64, 0, &s, err))
		return -1;
	if (!s)
		return 0;
	for (size_t i = 0; values[i]; i++) {
		if (strcmp(s, values[i]) == 0) {
			*out = values[i];
			return 0;
		}
		int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? "|" : "", values[i]);
		if (w > 0 && (size_t)w < sizeof(list) - used)
			used += (size_t)w;
	}
	return pj_fail(err, "invalid_field", "%s%s: one of %s", path, key, list);
}

int pj_time(json_t *obj, const char *path, const char *key, int required, int64_t *ms,
            struct pj_error *err)
{
	const char *s = NULL;

	if (pj_text(obj, path, key, required, 20, 40, 0, &s, err)) {
		/* A length refusal for a time reads better as a format one. */
		if (strcmp(err->code, "invalid_field") == 0)
			pj_fail(err, "invalid_field", "%s%s: RFC 3339 time with offset", path, key);
		return -1;
	}
	if (!s)
		return 0;
	if (pb_time_parse(s, ms))
		return pj_fail(err, "invalid_field", "%s%s: RFC 3339 time with offset", path, key);
	return 0;
}

int pj_bool(json_t *obj, const char *path, const char *key, int required, int *out,
            struct pj_error *err)
{
	json_t *v;

	if (pj_member(obj, path, key, required, &v, err))
		return -1;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return pj_fail(err, "invalid_field", "%s%s: must be true or false", path, key);
	*out = json_is_true(v);
	return 0;
}

int pj_int(json_t *obj, const char *path, const char *key, int required, long long lo,
           long long hi, long long *out, struct pj_error *err)
{
	json_t *v;

	if (pj_member(obj, path, key, required, &v, err))
		return -1;
	if (!v)
		return 0;
	/* 1.0 is a real to jansson and refused here: counts are integers. */
	if (!json_is_integer(v))
		return pj_fail(err, "invalid_field", "%s%s: must be an integer", path, key);
	json_int_t n = json_integer_value(v);
	if (n < lo || n > hi)
		return pj_fail(err, "invalid_field", "%s%s: %lld-%lld", path, key, lo, hi);
	*out = n;
	return 0;
}
