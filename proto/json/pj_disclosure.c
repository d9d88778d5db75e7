/* POST /v1/disclosure-applications: an application for government
 * information (依申请公开), and the identity-document rules it needs. */
#include "pj.h"
#include "pj_int.h"
#include "pb_disc.h"
#include "pb_time.h"

#include <stdio.h>
#include <string.h>

int pj_outcome_valid(const char *s)
{
	return pb_disc_index(pb_disc_outcomes, s) >= 0;
}

static const char *const app_keys[] = {
	"applicant", "description", "form", "delivery", "submission_mode", "purpose", "notices", NULL,
};
static const char *const applicant_keys[] = {
	"kind", "name", "id_type", "id_number", "phone", "email", "address", NULL,
};
/* GB 11643: weights 2^(17-i) mod 11; the check maps sum mod 11 to
 * "10X98765432". The birth date (characters 7-14) must exist. */
int pj_valid_resident_id(const char *s)
{
	static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	static const char check[] = "10X98765432";
	int sum = 0, y, m, d, yy, mm, dd;

	if (!s || strlen(s) != 18 || strspn(s, "0123456789") < 17)
		return 0;
	for (int i = 0; i < 17; i++)
		sum += (s[i] - '0') * w[i];
	if (s[17] != check[sum % 11])
		return 0;
	y = (s[6] - '0') * 1000 + (s[7] - '0') * 100 + (s[8] - '0') * 10 + (s[9] - '0');
	m = (s[10] - '0') * 10 + (s[11] - '0');
	d = (s[12] - '0') * 10 + (s[13] - '0');
	if (y < 1900 || m < 1 || m > 12 || d < 1 || d > 31)
		return 0;
	/* 2023-02-30 comes back as March: not a date. */
	pb_civil_from_days(pb_days_from_civil(y, m, d), &yy, &mm, &dd);
	return yy == y && mm == m && dd == d;
}

/* GB 32100: 18 characters of a 31-character alphabet; weights 3^i mod 31;
 * the check character is alphabet[(31 - sum mod 31) mod 31]. */
int pj_valid_uscc(const char *s)
{
	static const char alpha[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
	static const int w[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
	int sum = 0;

	if (!s || strlen(s) != 18)
		return 0;
	for (int i = 0; i < 18; i++) {
		const char *p = s[i] ? strchr(alpha, s[i]) : NULL;
		if (!p)
			return 0;
		if (i < 17)
			sum += (int)(p - alpha) * w[i];
	}
	return s[17] == alpha[(31 - sum % 31) % 31];
}

/* Passport numbers: letters and digits, 5-20 of them. */
static int valid_passport(const char *s)
{
	size_t n = strlen(s);

	if (n < 5 || n > 20)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z')))
			return 0;
	return 1;
}

static int parse_identity(json_t *a, const char *path, Mailroom__Applicant *ap,
                          struct pj_error *err)
{
	const char *type = NULL, *num = NULL;

	if (pj_enum(a, path, "id_type", 1, pb_disc_id_types, &type, err) ||
	    pj_text(a, path, "id_number", 1, 1, 40, PJ_NOBLANK, &num, err))
		return -1;
	if (strcmp(type, "resident_id") == 0 && !pj_valid_resident_id(num))
		return pj_fail(err, "invalid_field",
		               "%sid_number: a resident id is 17 digits then a digit or X, with a "
		               "valid birth date and check digit",
		               path);
	if (strcmp(type, "uscc") == 0 && !pj_valid_uscc(num))
		return pj_fail(err, "invalid_field",
		               "%sid_number: a unified social credit code is 18 characters of "
		               "0-9 and A-Y without I, O, S, V, Z, with a valid check character",
		               path);
	if (strcmp(type, "passport") == 0 && !valid_passport(num))
		return pj_fail(err, "invalid_field", "%sid_number: a passport number is 5-20 letters "
		               "or digits", path);
	ap->id_type = (char *)type;
	ap->id_number = (char *)num;
	return 0;
}

static int parse_applicant(json_t *obj, const char *path, struct pj_disclosure *d,
                           struct pj_error *err)
{
	char sub[64];
	json_t *a;
	const char *kind = NULL, *name = NULL, *phone = NULL, *email = NULL, *addr = NULL;

	if (pj_member(obj, path, "applicant", 1, &a, err))
		return -1;
	snprintf(sub, sizeof(sub), "%sapplicant.", path);
	if (!json_is_object(a))
		return pj_fail(err, "invalid_field", "%sapplicant: must be an object", path);
	if (pj_known_keys(a, sub, applicant_keys, err) ||
	    pj_enum(a, sub, "kind", 1, pb_disc_kinds, &kind, err) ||
	    pj_text(a, sub, "name", 1, 1, 100, PJ_NOBLANK, &name, err) ||
	    parse_identity(a, sub, &d->applicant, err) ||
	    pj_text(a, sub, "phone", 0, 1, 24, 0, &phone, err) ||
	    pj_text(a, sub, "email", 0, 1, 254, 0, &email, err) ||
	    pj_text(a, sub, "address", 0, 1, 200, PJ_NOBLANK, &addr, err))
		return -1;
	if (phone && !pj_valid_phone(phone))
		return pj_fail(err, "invalid_field",
		               "%sphone: mobile 1xxxxxxxxxx or landline 0xx-xxxxxxxx", sub);
	if (email && !pj_valid_email(email))
		return pj_fail(err, "invalid_field", "%semail: not a valid address", sub);
	/* The office must be able to reach the applicant (Art. 29). */
	if (!phone && !email && !addr)
		return pj_fail(err, "missing_field", "%sapplicant: one of phone, email or address is "
		               "required", path);
	d->applicant.kind = (char *)kind;
	d->applicant.name = (char *)name;
	if (phone)
		d->contact.phone = (char *)phone;
	if (email)
		d->contact.email = (char *)email;
	if (phone || email)
		d->applicant.contact = &d->contact;
	if (addr)
		d->applicant.address = (char *)addr;
	return 0;
}

/* The first PJ_SUBJECT_CHARS characters of s (valid UTF-8, not blank),
 * after any leading white space: a subject must not be blank. */
static void first_chars(const char *s, char *out, size_t outlen)
{
	size_t i = 0;
	long n = 0;

	s += strspn(s, " \t\r\n");
	while (s[i] && n < PJ_SUBJECT_CHARS) {
		size_t w = 1;
		while ((((unsigned char)s[i + w]) & 0xc0) == 0x80)
			w++;
		if (i + w >= outlen)
			break;
		i += w;
		n++;
	}
	memcpy(out, s, i);
	out[i] = '\0';
}

int pj_disclosure_fields(json_t *obj, const char *path, Mailroom__SubmitReq *out,
                         struct pj_disclosure *d, struct pj_error *err)
{
	const char *desc = NULL, *form = NULL, *delivery = NULL, *mode = NULL, *purpose = NULL;

	mailroom__disclosure_app__init(&d->app);
	mailroom__applicant__init(&d->applicant);
	mailroom__contact__init(&d->contact);
	d->subject[0] = '\0';
	if (parse_applicant(obj, path, d, err) ||
	    pj_text(obj, path, "description", 1, 1, 5000, PJ_LINES | PJ_NOBLANK, &desc, err) ||
	    pj_enum(obj, path, "form", 1, pb_disc_forms, &form, err) ||
	    pj_enum(obj, path, "delivery", 1, pb_disc_deliveries, &delivery, err) ||
	    pj_enum(obj, path, "submission_mode", 1, pb_disc_modes, &mode, err) ||
	    pj_text(obj, path, "purpose", 0, 1, 500, PJ_LINES | PJ_NOBLANK, &purpose, err))
		return -1;
	first_chars(desc, d->subject, sizeof(d->subject));
	d->app.applicant = &d->applicant;
	d->app.description = (char *)desc;
	d->app.form = (char *)form;
	d->app.delivery = (char *)delivery;
	d->app.submission_mode = (char *)mode;
	if (purpose)
		d->app.purpose = (char *)purpose;
	out->channel = MAILROOM__CHANNEL__CHANNEL_DISCLOSURE;
	out->subject = d->subject;
	out->body = (char *)desc;
	out->disclosure = &d->app;
	return 0;
}

int pj_parse_disclosure(const char *body, size_t len, json_t **root, Mailroom__SubmitReq *out,
                        struct pj_disclosure *d, struct pj_error *err)
{
	int notices = 1;

	mailroom__submit_req__init(out);
	if (pj_load(body, len, root, err))
		return -1;
	/* Notices by SMS and e-mail unless declined (not in imports: their
	 * history is never told). */
	if (pj_known_keys(*root, "", app_keys, err) ||
	    pj_disclosure_fields(*root, "", out, d, err) ||
	    pj_bool(*root, "", "notices", 0, &notices, err)) {
		json_decref(*root);
		*root = NULL;
		mailroom__submit_req__init(out);
		return -1;
	}
	out->notices_off = !notices;
	return 0;
}
