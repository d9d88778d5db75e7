/* application/x-www-form-urlencoded bodies, and a form's mapping to the
 * JSON request the API takes, so a form is checked by the same pj_
 * validation as POST /v1/messages (gw_pages.c runs it). The checks here
 * only find which field to point at, in Chinese. */
#include "gw_web.h"
#include "pb_conf.h"
#include "pj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes [s, s + n) into out (never longer); CR LF and lone CR become
 * LF. Returns the decoded length, or -1 on a bad escape. */
static long decode(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;
			if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\n' && o > 0 && out[o - 1] == '\r') {
			out[o - 1] = '\n';
			continue;
		}
		out[o++] = c;
	}
	for (size_t i = 0; i < o; i++)
		if (out[i] == '\r')
			out[i] = '\n';
	out[o] = '\0';
	return (long)o;
}

static int name_ok(const char *s, size_t n)
{
	if (n < 1 || n > GW_FORM_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int value_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			return 0;
	}
	return pj_utf8_chars(s, n) >= 0;
}

int gw_form_parse(const char *body, size_t len, struct gw_form *f, const char **why)
{
	size_t i = 0;
	char *out;

	memset(f, 0, sizeof(*f));
	/* Every decoded name and value, each NUL-ended, fits in len + fields. */
	if (!(f->mem = malloc(len + 2 * GW_FORM_FIELDS + 1))) {
		*why = "out of memory";
		return -1;
	}
	out = f->mem;
	while (i < len) {
		size_t end = i, eq;
		while (end < len && body[end] != '&')
			end++;
		if (end == i) {   /* "a=1&&b=2": an empty pair, skipped */
			i++;
			continue;
		}
		if (f->n == GW_FORM_FIELDS) {
			*why = "too many fields";
			goto fail;
		}
		for (eq = i; eq < end && body[eq] != '='; eq++)
			;
		long nl = decode(body + i, eq - i, out);
		if (nl < 0 || !name_ok(out, (size_t)nl)) {
			*why = "bad field name";
			goto fail;
		}
		if (gw_form_get(f, out)) {
			*why = "repeated field";
			goto fail;
		}
		f->name[f->n] = out;
		out += nl + 1;
		long vl = eq < end ? decode(body + eq + 1, end - eq - 1, out) : (*out = '\0', 0);
		if (vl < 0 || !value_ok(out, (size_t)vl)) {
			*why = vl < 0 ? "bad percent escape" : "value not UTF-8 text";
			goto fail;
		}
		f->value[f->n++] = out;
		out += vl + 1;
		i = end + 1;
	}
	return 0;
fail:
	gw_form_free(f);
	return -1;
}

const char *gw_form_get(const struct gw_form *f, const char *name)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->name[i], name) == 0)
			return f->value[i];
	return NULL;
}

void gw_form_free(struct gw_form *f)
{
	free(f->mem);
	memset(f, 0, sizeof(*f));
}

/* ------------------------------------------------ multipart/form-data -- */

#define BOUNDARY_MAX 70

/* The boundary parameter of ct into out; 0, or -1 when there is none. */
static int boundary_of(const char *ct, char *out)
{
	static const char t[] = "multipart/form-data";
	const char *p;
	size_t n;

	if (!ct || strncasecmp(ct, t, sizeof(t) - 1) != 0)
		return -1;
	for (p = ct + sizeof(t) - 1; (p = strchr(p, ';')) != NULL;) {
		p++;
		while (*p == ' ')
			p++;
		if (strncasecmp(p, "boundary=", 9) != 0)
			continue;
		p += 9;
		if (*p == '"') {
			const char *q = strchr(++p, '"');
			if (!q)
				return -1;
			n = (size_t)(q - p);
		} else {
			n = strcspn(p, "; ");
		}
		if (n < 1 || n > BOUNDARY_MAX)
			return -1;
		memcpy(out, p, n);
		out[n] = '\0';
		return 0;
	}
	return -1;
}

int gw_is_multipart(const char *ct)
{
	char b[BOUNDARY_MAX + 1];

	return boundary_of(ct, b) == 0;
}

static const char *find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	return memmem(hay, hlen, needle, nlen);
}

/* The value of param (name or filename) in a Content-Disposition line
 * [p, end), copied to out (cap bytes); -1 when absent, 1 when too long. */
static int disp_param(const char *p, const char *end, const char *param, char *out, size_t cap)
{
	size_t pl = strlen(param);

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *stop = semi ? semi : end;
		while (p < stop && *p == ' ')
			p++;
		if ((size_t)(stop - p) > pl + 2 && strncasecmp(p, param, pl) == 0 && p[pl] == '=' &&
		    p[pl + 1] == '"') {
			const char *v = p + pl + 2, *q = memchr(v, '"', (size_t)(stop - v));
			if (!q)
				return 1;
			if ((size_t)(q - v) >= cap)
				return 1;
			memcpy(out, v, (size_t)(q - v));
			out[q - v] = '\0';
			return 0;
		}
		p = semi ? semi + 1 : end;
	}
	return -1;
}

int gw_multipart_parse(const char *ct, const char *body, size_t len, struct gw_form *f,
                       struct gw_files *files, const char **why)
{
	char bnd[BOUNDARY_MAX + 1], delim[BOUNDARY_MAX + 5];
	size_t dl, off;
	char *out;

	memset(f, 0, sizeof(*f));
	memset(files, 0, sizeof(*files));
	if (boundary_of(ct, bnd) != 0) {
		*why = "no boundary";
		return -1;
	}
	/* "\r\n--boundary": every part after the first is led by it. */
	dl = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", bnd);
	if (len < dl - 2 || memcmp(body, delim + 2, dl - 2) != 0) {
		*why = "no opening boundary";
		return -1;
	}
	if (!(f->mem = malloc(len + 2 * GW_FORM_FIELDS + 1))) {
		*why = "out of memory";
		return -1;
	}
	out = f->mem;
	off = dl - 2;
	for (;;) {
		const char *hdr, *hend, *data, *next;
		char name[GW_FORM_NAME_MAX + 1], fname[256];
		int has_name = 0, has_file = 0;

		/* After a boundary: "--" ends the body, CR LF starts a part. */
		if (len - off >= 2 && memcmp(body + off, "--", 2) == 0)
			return 0;
		if (len - off < 2 || memcmp(body + off, "\r\n", 2) != 0) {
			*why = "bad boundary line";
			goto fail;
		}
		hdr = body + off + 2;
		if (!(hend = find(hdr, len - (size_t)(hdr - body), "\r\n\r\n", 4))) {
			*why = "part headers not ended";
			goto fail;
		}
		for (const char *l = hdr; l < hend;) {
			const char *le = find(l, (size_t)(hend - l), "\r\n", 2);
			if (!le)
				le = hend;
			if ((size_t)(le - l) > 20 && strncasecmp(l, "Content-Disposition:", 20) == 0) {
				const char *v = l + 20;
				while (v < le && *v == ' ')
					v++;
				if ((size_t)(le - v) < 9 || strncasecmp(v, "form-data", 9) != 0) {
					*why = "not form-data";
					goto fail;
				}
				has_name = disp_param(v + 9, le, "name", name, sizeof(name)) == 0;
				has_file = disp_param(v + 9, le, "filename", fname, sizeof(fname)) >= 0;
			}
			l = le + 2;
		}
		data = hend + 4;
		if (!(next = find(data, len - (size_t)(data - body), delim, dl))) {
			*why = "part not ended";
			goto fail;
		}
		if (!has_name || !name_ok(name, strlen(name))) {
			*why = "bad field name";
			goto fail;
		}
		if (has_file) {
			if (strcmp(name, "files") != 0) {
				*why = "a file in another field";
				goto fail;
			}
			/* No file chosen: an empty part with an empty filename. */
			if (next > data || fname[0]) {
				if (files->n == GW_FILES_MAX) {
					*why = "too many files";
					goto fail;
				}
				files->f[files->n].data = (const uint8_t *)data;
				files->f[files->n].len = (size_t)(next - data);
				files->n++;
			}
		} else {
			size_t vl = 0, n = (size_t)(next - data);
			if (f->n == GW_FORM_FIELDS) {
				*why = "too many fields";
				goto fail;
			}
			if (gw_form_get(f, name)) {
				*why = "repeated field";
				goto fail;
			}
			f->name[f->n] = out;
			memcpy(out, name, strlen(name) + 1);
			out += strlen(name) + 1;
			for (size_t i = 0; i < n; i++) {
				char c = data[i];
				if (c == '\r' && i + 1 < n && data[i + 1] == '\n')
					continue;
				out[vl++] = c == '\r' ? '\n' : c;
			}
			out[vl] = '\0';
			if (!value_ok(out, vl)) {
				*why = "value not UTF-8 text";
				goto fail;
			}
			f->value[f->n++] = out;
			out += vl + 1;
		}
		off = (size_t)(next - body) + dl;
	}
fail:
	gw_form_free(f);
	memset(files, 0, sizeof(*files));
	return -1;
}

/* ------------------------------------------------- form -> request -- */

static void ferr(struct gw_ferrs *e, const char *field, const char *msg)
{
	if (e->n < GW_FERR_MAX)
		e->e[e->n++] = (struct gw_ferr){field, msg};
}

/* The value with surrounding blanks dropped, "" when absent. Single-line
 * fields only: a text keeps its own spacing. */
static const char *trimmed(const struct gw_form *f, const char *name, char *buf, size_t cap)
{
	const char *v = gw_form_get(f, name);
	size_t n;

	buf[0] = '\0';
	if (!v)
		return buf;
	while (*v == ' ' || *v == '\t' || *v == '\n')
		v++;
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\n'))
		n--;
	if (n >= cap)
		n = cap - 1;   /* longer than any field allows: caught by its length check */
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}

static long chars(const char *s)
{
	return pj_utf8_chars(s, strlen(s));
}

static int one_of(const char *v, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(v, *list) == 0)
			return 1;
	return 0;
}

static int set_str(json_t *o, const char *key, const char *v)
{
	return *v ? json_object_set_new(o, key, json_string(v)) : 0;
}

/* A text field: required or not, at most max characters. */
static const char *text(const struct gw_form *f, const char *name, int required, long max,
                        const char *empty_msg, const char *long_msg, struct gw_ferrs *e)
{
	const char *v = gw_form_get(f, name);
	const char *p = v ? v : "";

	while (*p == ' ' || *p == '\n' || *p == '\t')
		p++;
	if (!*p) {
		if (required)
			ferr(e, name, empty_msg);
		return "";
	}
	if (chars(v) > max)
		ferr(e, name, long_msg);
	return v;
}

#define SHORT 512

static int unknown_fields(const struct gw_form *f, const char *const *known, const char *const *skip)
{
	for (int i = 0; i < f->n; i++)
		if (!one_of(f->name[i], known) && !(skip && one_of(f->name[i], skip)))
			return 1;
	return 0;
}

/* Notices by SMS and e-mail unless the citizen declined them. */
static json_t *with_notices(const struct gw_form *f, json_t *doc)
{
	const char *notices = gw_form_get(f, "notices");

	if (notices && strcmp(notices, "off") == 0 &&
	    json_object_set_new(doc, "notices", json_false())) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static json_t *message_request(int channel, const struct gw_form *f, struct gw_ferrs *e)
{
	char name[SHORT], phone[SHORT], email[SHORT];
	const char *subject = text(f, "subject", 1, 200, "请填写标题。", "标题最多 200 个字。", e);
	const char *body = text(f, "body", 1, 10000, "请填写内容。", "内容最多 10000 个字。", e);

	trimmed(f, "name", name, sizeof(name));
	trimmed(f, "phone", phone, sizeof(phone));
	trimmed(f, "email", email, sizeof(email));
	if (chars(name) > 50)
		ferr(e, "name", "姓名最多 50 个字。");
	if (*phone && !pj_valid_phone(phone))
		ferr(e, "phone", "电话号码不正确：请填写 11 位手机号码，或带区号的固定电话。");
	if (*email && !pj_valid_email(email))
		ferr(e, "email", "电子邮箱地址不正确，例如：zhangsan@example.cn。");
	if (e->n)
		return NULL;
	json_t *doc = json_object(), *contact = json_object();
	if (!doc || !contact || json_object_set_new(doc, "channel", json_string(pb_channel_name(channel))) ||
	    set_str(doc, "subject", subject) || set_str(doc, "body", body) ||
	    set_str(contact, "name", name) || set_str(contact, "phone", phone) ||
	    set_str(contact, "email", email) ||
	    (json_object_size(contact) && json_object_set(doc, "contact", contact))) {
		json_decref(doc);
		json_decref(contact);
		return NULL;
	}
	json_decref(contact);
	return with_notices(f, doc);
}

static const char *const kinds[] = {"natural_person", "commercial_enterprise",
	"research_institution", "social_welfare_org", "legal_service_org", "other_org", NULL};
static const char *const id_types[] = {"resident_id", "passport", "uscc", "other", NULL};
static const char *const forms[] = {"electronic", "paper", NULL};
static const char *const deliveries[] = {"email", "online", "post", "pickup", NULL};

static json_t *disclosure_request(const struct gw_form *f, struct gw_ferrs *e)
{
	char kind[SHORT], name[SHORT], id_type[SHORT], id_number[SHORT], phone[SHORT],
	     email[SHORT], address[SHORT], form[SHORT], delivery[SHORT];

	trimmed(f, "kind", kind, sizeof(kind));
	trimmed(f, "name", name, sizeof(name));
	trimmed(f, "id_type", id_type, sizeof(id_type));
	trimmed(f, "id_number", id_number, sizeof(id_number));
	trimmed(f, "phone", phone, sizeof(phone));
	trimmed(f, "email", email, sizeof(email));
	trimmed(f, "address", address, sizeof(address));
	trimmed(f, "form", form, sizeof(form));
	trimmed(f, "delivery", delivery, sizeof(delivery));
	for (char *p = id_number; *p; p++)   /* the check character X, however typed */
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');

	if (!one_of(kind, kinds))
		ferr(e, "kind", "请选择申请人类型。");
	if (!*name)
		ferr(e, "name", "请填写姓名或单位名称。");
	else if (chars(name) > 100)
		ferr(e, "name", "姓名或名称最多 100 个字。");
	if (!one_of(id_type, id_types))
		ferr(e, "id_type", "请选择证件类型。");
	if (!*id_number)
		ferr(e, "id_number", "请填写证件号码。");
	else if (strcmp(id_type, "resident_id") == 0 && !pj_valid_resident_id(id_number))
		ferr(e, "id_number", "身份证号码不正确：应为 18 位，请核对每一位和最后的校验码。");
	else if (strcmp(id_type, "uscc") == 0 && !pj_valid_uscc(id_number))
		ferr(e, "id_number", "统一社会信用代码不正确：应为 18 位，请逐位核对。");
	else if (chars(id_number) > 64)
		ferr(e, "id_number", "证件号码太长。");
	if (!*phone && !*email && !*address)
		ferr(e, "phone", "请至少填写一种联系方式：电话、电子邮箱或通信地址。");
	if (*phone && !pj_valid_phone(phone))
		ferr(e, "phone", "电话号码不正确：请填写 11 位手机号码，或带区号的固定电话。");
	if (*email && !pj_valid_email(email))
		ferr(e, "email", "电子邮箱地址不正确，例如：zhangsan@example.cn。");
	if (chars(address) > 200)
		ferr(e, "address", "通信地址最多 200 个字。");
	const char *desc = text(f, "description", 1, 5000, "请写明您要申请公开的信息。",
	                        "内容描述最多 5000 个字。", e);
	const char *purpose = text(f, "purpose", 0, 500, "", "用途最多 500 个字。", e);
	if (!one_of(form, forms))
		ferr(e, "form", "请选择获取信息的形式。");
	if (!one_of(delivery, deliveries))
		ferr(e, "delivery", "请选择获取信息的方式。");
	if (e->n)
		return NULL;

	json_t *doc = json_object(), *ap = json_object();
	if (!doc || !ap || set_str(ap, "kind", kind) || set_str(ap, "name", name) ||
	    set_str(ap, "id_type", id_type) || set_str(ap, "id_number", id_number) ||
	    set_str(ap, "phone", phone) || set_str(ap, "email", email) ||
	    set_str(ap, "address", address) || json_object_set(doc, "applicant", ap) ||
	    set_str(doc, "description", desc) || set_str(doc, "purpose", purpose) ||
	    set_str(doc, "form", form) || set_str(doc, "delivery", delivery) ||
	    set_str(doc, "submission_mode", "online")) {
		json_decref(doc);
		json_decref(ap);
		return NULL;
	}
	json_decref(ap);
	return with_notices(f, doc);
}

json_t *gw_form_request(int channel, const struct gw_form *f, const char *const *skip,
                        struct gw_ferrs *errs)
{
	static const char *const msg_fields[] = {"subject", "body", "name", "phone", "email",
	                                         "notices", NULL};
	static const char *const disc_fields[] = {"kind", "name", "id_type", "id_number", "phone",
		"email", "address", "description", "purpose", "form", "delivery", "notices", NULL};
	int disc = channel == PB_CH_DISCLOSURE;

	errs->n = 0;
	if (channel != PB_CH_MAILBOX && channel != PB_CH_CONSULTATION &&
	    channel != PB_CH_COMPLAINT && !disc) {
		ferr(errs, "", "不受理这种信件。");
		return NULL;
	}
	if (unknown_fields(f, disc ? disc_fields : msg_fields, skip)) {
		ferr(errs, "", "表单中有无法识别的内容，请重新打开本页填写。");
		return NULL;
	}
	return disc ? disclosure_request(f, errs) : message_request(channel, f, errs);
}
