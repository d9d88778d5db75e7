/* POST /v1/messages: a citizen's message for the mailbox, consultation or
 * complaint channel. */
#include "pj.h"
#include "pj_int.h"
#include "pb_conf.h"

#include <string.h>

static const char *const message_keys[] = {
	"channel", "subject", "body", "category", "contact", "notices", "attachments", NULL,
};
static const char *const contact_keys[] = {"name", "phone", "email", NULL};
static const char *const web_channels[] = {"mailbox", "consultation", "complaint", NULL};

int pj_parse_contact(json_t *root, Mailroom__Contact *contact, int *present,
                     struct pj_error *err)
{
	json_t *c;
	const char *name = NULL, *phone = NULL, *email = NULL;

	*present = 0;
	if (pj_member(root, "", "contact", 0, &c, err))
		return -1;
	if (!c)
		return 0;
	if (!json_is_object(c))
		return pj_fail(err, "invalid_field", "contact: must be an object");
	if (pj_known_keys(c, "contact.", contact_keys, err))
		return -1;
	if (pj_text(c, "contact.", "name", 0, 1, 50, PJ_NOBLANK, &name, err) ||
	    pj_text(c, "contact.", "phone", 0, 1, 24, 0, &phone, err) ||
	    pj_text(c, "contact.", "email", 0, 1, 254, 0, &email, err))
		return -1;
	if (phone && !pj_valid_phone(phone))
		return pj_fail(err, "invalid_field",
		               "contact.phone: mobile 1xxxxxxxxxx or landline 0xx-xxxxxxxx");
	if (email && !pj_valid_email(email))
		return pj_fail(err, "invalid_field", "contact.email: not a valid address");
	if (name)
		contact->name = (char *)name;
	if (phone)
		contact->phone = (char *)phone;
	if (email)
		contact->email = (char *)email;
	*present = 1;
	return 0;
}

static int parse_fields(json_t *root, Mailroom__SubmitReq *out, Mailroom__Contact *contact,
                        struct pj_error *err)
{
	const char *channel = NULL, *subject = NULL, *body = NULL, *category = NULL;
	int has_contact, notices = 1;

	if (pj_known_keys(root, "", message_keys, err))
		return -1;
	if (pj_enum(root, "", "channel", 1, web_channels, &channel, err) ||
	    pj_text(root, "", "subject", 1, 1, 200, PJ_LINES | PJ_NOBLANK, &subject, err) ||
	    pj_text(root, "", "body", 1, 1, 10000, PJ_LINES | PJ_NOBLANK, &body, err) ||
	    pj_text(root, "", "category", 0, 1, 64, 0, &category, err) ||
	    pj_parse_contact(root, contact, &has_contact, err) ||
	    pj_bool(root, "", "notices", 0, &notices, err))
		return -1;
	out->notices_off = !notices;   /* e-mail and SMS notices unless false */
	out->channel = (Mailroom__Channel)pb_channel_parse(channel);
	out->subject = (char *)subject;
	out->body = (char *)body;
	if (category)
		out->category = (char *)category;
	if (has_contact)
		out->contact = contact;
	return 0;
}

int pj_parse_attachments(json_t *root, const char **handles, size_t cap, size_t *n,
                         struct pj_error *err)
{
	json_t *a, *h;
	size_t i;

	*n = 0;
	if (pj_member(root, "", "attachments", 0, &a, err))
		return -1;
	if (!a)
		return 0;
	if (!json_is_array(a))
		return pj_fail(err, "invalid_field", "attachments: must be an array of upload handles");
	if (json_array_size(a) > cap)
		return pj_fail(err, "too_many_files", "attachments: too many files for one message");
	json_array_foreach(a, i, h) {
		const char *s = json_string_value(h);
		if (!s || strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64)
			return pj_fail(err, "invalid_field",
			               "attachments: each is a handle from POST /v1/uploads");
		handles[(*n)++] = s;
	}
	return 0;
}

int pj_parse_message(const char *body, size_t len, json_t **root, Mailroom__SubmitReq *out,
                     Mailroom__Contact *contact, struct pj_error *err)
{
	mailroom__submit_req__init(out);
	mailroom__contact__init(contact);
	if (pj_load(body, len, root, err))
		return -1;
	if (parse_fields(*root, out, contact, err)) {
		json_decref(*root);
		*root = NULL;
		return -1;
	}
	return 0;
}
