/* Notice templates: one file per event kind and medium, in Chinese,
 * under [notify] templates, which the office edits (the defaults ship in
 * deploy/notices). A file is header lines up to the first empty line,
 * then the text:
 *
 *   Subject: 您的来信已受理（查询码 {tracking_code}）     e-mail
 *   TemplateId: 1234567                                  SMS
 *   Params: tracking_code, link                          SMS
 *
 * {name} in the subject and text is replaced by the notice's variable;
 * an unknown name is an error, so a typo never reaches a citizen. */
#include "nt.h"
#include "pb_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TPL_MAX (16 * 1024)

const char *nt_var_get(const struct nt_var *vars, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(vars[i].name, name) == 0)
			return vars[i].value;
	return NULL;
}

/* Fills src into a malloc'd string. */
static char *fill(const char *src, size_t len, const struct nt_var *vars, size_t n, char *err,
                  size_t errlen)
{
	size_t cap = len * 2 + 256, o = 0;
	char *out = malloc(cap);

	if (!out) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < len;) {
		const char *close = src[i] == '{' ? memchr(src + i, '}', len - i) : NULL;
		const char *v = NULL, *piece = src + i;
		size_t plen = 1;
		if (close && close - (src + i) - 1 > 0 && close - (src + i) - 1 < 32) {
			char name[32];
			size_t nl = (size_t)(close - (src + i) - 1);
			memcpy(name, src + i + 1, nl);
			name[nl] = '\0';
			if (!(v = nt_var_get(vars, n, name))) {
				snprintf(err, errlen, "unknown placeholder {%s}", name);
				free(out);
				return NULL;
			}
			piece = v;
			plen = strlen(v);
			i += nl + 2;
		} else {
			i++;
		}
		if (o + plen + 1 > cap) {
			char *more;
			cap = (o + plen + 1) * 2;
			if (!(more = realloc(out, cap))) {
				free(out);
				snprintf(err, errlen, "out of memory");
				return NULL;
			}
			out = more;
		}
		memcpy(out + o, piece, plen);
		o += plen;
	}
	out[o] = '\0';
	return out;
}

static int header(const char *line, size_t len, const char *name, char *dst, size_t cap)
{
	size_t nl = strlen(name);

	if (len <= nl + 1 || strncmp(line, name, nl) != 0 || line[nl] != ':')
		return 0;
	line += nl + 1;
	len -= nl + 1;
	while (len && (*line == ' ' || *line == '\t'))
		line++, len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, line, len);
	dst[len] = '\0';
	return 1;
}

int nt_tpl_render(const char *dir, const char *kind, const char *medium,
                  const struct nt_var *vars, size_t nvars, struct nt_msg *out, char *err,
                  size_t errlen)
{
	char path[PB_PATH_MAX + 64], subject[sizeof(out->subject)] = "";
	char buf[TPL_MAX + 1];
	size_t len, i = 0;
	FILE *f;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/%s.%s.txt", dir, kind, medium);
	if (!(f = fopen(path, "rb"))) {
		snprintf(err, errlen, "no template %s", path);
		return PB_ENOTFOUND;
	}
	len = fread(buf, 1, TPL_MAX + 1, f);
	fclose(f);
	if (len > TPL_MAX) {
		snprintf(err, errlen, "template %s: over %d bytes", path, TPL_MAX);
		return PB_EINVAL;
	}
	buf[len] = '\0';
	/* Headers, up to the first empty line. */
	while (i < len) {
		char *nl = memchr(buf + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - buf) : len, ll = end - i;
		if (ll && buf[i + ll - 1] == '\r')
			ll--;
		if (ll == 0) {
			i = end + 1;
			break;
		}
		if (!header(buf + i, ll, "Subject", subject, sizeof(subject)) &&
		    !header(buf + i, ll, "TemplateId", out->template_id, sizeof(out->template_id)) &&
		    !header(buf + i, ll, "Params", out->params, sizeof(out->params))) {
			snprintf(err, errlen, "template %s: unknown header line (an empty line ends them)",
			         path);
			return PB_EINVAL;
		}
		i = end + 1;
	}
	if (i > len)
		i = len;
	/* Trailing new lines are the editor's, not the message's. */
	while (len > i && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (!(out->text = fill(buf + i, len - i, vars, nvars, err, errlen)))
		return PB_EINVAL;
	if (*subject) {
		char *s = fill(subject, strlen(subject), vars, nvars, err, errlen);
		if (!s) {
			nt_msg_free(out);
			return PB_EINVAL;
		}
		snprintf(out->subject, sizeof(out->subject), "%s", s);
		free(s);
	}
	if (strcmp(medium, "email") == 0 && !*out->subject) {
		snprintf(err, errlen, "template %s: an e-mail needs a Subject: line", path);
		nt_msg_free(out);
		return PB_EINVAL;
	}
	return PB_OK;
}

void nt_msg_free(struct nt_msg *m)
{
	free(m->text);
	m->text = NULL;
}
