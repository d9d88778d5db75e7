/* The citizen's web pages: HTML building with one escape for every value
 * (gw_html.c), urlencoded forms and their mapping to the JSON requests of
 * the API (gw_form.c), and the pages themselves (gw_pages.c). Shared by
 * those files, gw_http.c, gw_routes.c and the tests. */
#ifndef GW_WEB_H
#define GW_WEB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ buffer -- */

/* A growing text; after an allocation failure it stays failed and every
 * append is a no-op, so callers check once at the end. */
struct gw_buf {
	char *p;
	size_t len, cap;
	int failed;
};

void gw_buf_add(struct gw_buf *b, const char *s, size_t n);
/* Markup written by us, never a value. */
void gw_buf_str(struct gw_buf *b, const char *s);
void gw_buf_fmt(struct gw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The one escape: every value that reaches HTML (text or attribute) goes
 * through here. & < > " ' become entities. */
void gw_html(struct gw_buf *b, const char *s);
void gw_buf_free(struct gw_buf *b);

/* ------------------------------------------- x-www-form-urlencoded -- */

#define GW_FORM_FIELDS 24
#define GW_FORM_NAME_MAX 32

struct gw_form {
	int n;
	const char *name[GW_FORM_FIELDS];
	const char *value[GW_FORM_FIELDS];
	char *mem;   /* the decoded names and values */
};

/* Parses body: '&'-separated name=value pairs, '+' and %XX decoded. Names
 * are 1..GW_FORM_NAME_MAX of [a-z0-9_]; values valid UTF-8 without NUL or
 * control characters but tab and newline (CR LF and lone CR become LF).
 * A repeated name, a bad escape, more than GW_FORM_FIELDS fields: refused.
 * 0, or -1 with *why a short English reason (nothing to free then). */
int gw_form_parse(const char *body, size_t len, struct gw_form *f, const char **why);
/* The value, NULL when absent. */
const char *gw_form_get(const struct gw_form *f, const char *name);

/* ------------------------------------------------ multipart/form-data -- */

#define GW_FILES_MAX 16

/* The files a form carried: pointers into the body. */
struct gw_files {
	int n;
	struct {
		const uint8_t *data;
		size_t len;
	} f[GW_FILES_MAX];
};

/* Is ct multipart/form-data with a usable boundary? */
int gw_is_multipart(const char *ct);
/* multipart/form-data (RFC 7578), the boundary from ct: text parts into f
 * under the rules of gw_form_parse (CR LF becomes LF), and the parts named
 * "files" that carry a filename into files (one with an empty name and no
 * content, no file chosen, is skipped). More than GW_FILES_MAX files, a
 * file under another name, a part without a name or malformed framing:
 * refused. 0, or -1 with *why (nothing to free then). */
int gw_multipart_parse(const char *ct, const char *body, size_t len, struct gw_form *f,
                       struct gw_files *files, const char **why);
void gw_form_free(struct gw_form *f);

/* A field's error, in Chinese, shown next to it. */
struct gw_ferr {
	const char *field;
	const char *msg;
};
#define GW_FERR_MAX 16
struct gw_ferrs {
	int n;
	struct gw_ferr e[GW_FERR_MAX];
};

/* The JSON body POST /v1/messages (mailbox, consultation, complaint) or
 * POST /v1/disclosure-applications (disclosure) takes, from a form of
 * that channel (PB_CH_*). Fields named in skip (NULL-terminated, e.g. the
 * one-time token) are not the request's. NULL with errs filled when a
 * field is wrong; errs->n == 0 then means out of memory. */
json_t *gw_form_request(int channel, const struct gw_form *f, const char *const *skip,
                        struct gw_ferrs *errs);

#endif
