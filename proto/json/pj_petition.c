/* POST /v1/petition/transfers: one petition transferred from the petition
 * system (docs/petition-transfer.md, "The transfer"). The router checks
 * the number's syntax and the vocabularies again; here the shape, the
 * lengths and the times. */
#include "pj.h"
#include "pj_int.h"
#include "pb_conf.h"

#include <string.h>

static const char *const keys[] = {
	"petition_no", "forwarded_by", "forwarded_at", "kind", "title", "content",
	"contact", "region", NULL,
};
static const char *const kinds[] = {"complaint", "request", "suggestion", "report", "other", NULL};

static int number_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

static int fields(json_t *root, Mailroom__SubmitReq *out, Mailroom__PetitionTransfer *p,
                  Mailroom__Contact *contact, struct pj_error *err)
{
	const char *no = NULL, *by = NULL, *kind = NULL, *title = NULL, *content = NULL,
	           *region = NULL;
	int64_t fwd = 0;
	int present = 0;

	if (pj_known_keys(root, "", keys, err) ||
	    pj_text(root, "", "petition_no", 1, 1, 64, PJ_NOBLANK, &no, err) ||
	    pj_text(root, "", "forwarded_by", 1, 1, 100, PJ_NOBLANK, &by, err) ||
	    pj_time(root, "", "forwarded_at", 1, &fwd, err) ||
	    pj_enum(root, "", "kind", 1, kinds, &kind, err) ||
	    pj_text(root, "", "title", 1, 1, 200, PJ_NOBLANK, &title, err) ||
	    pj_text(root, "", "content", 1, 1, 10000, PJ_LINES | PJ_NOBLANK, &content, err) ||
	    pj_text(root, "", "region", 0, 1, 100, PJ_NOBLANK, &region, err) ||
	    pj_parse_contact(root, contact, &present, err))
		return -1;
	if (!number_ok(no))
		return pj_fail(err, "invalid_field", "petition_no: 1-64 of [A-Za-z0-9_.-]");
	p->petition_no = (char *)no;
	p->forwarded_by = (char *)by;
	p->forwarded_ms = fwd;
	p->kind = (char *)kind;
	if (region)
		p->region = (char *)region;
	out->channel = MAILROOM__CHANNEL__CHANNEL_PETITION;
	out->subject = (char *)title;
	out->body = (char *)content;
	out->category = (char *)kind;
	out->petition = p;
	if (present)
		out->contact = contact;
	return 0;
}

int pj_parse_petition(const char *body, size_t len, json_t **root, Mailroom__SubmitReq *out,
                      Mailroom__PetitionTransfer *p, Mailroom__Contact *contact,
                      struct pj_error *err)
{
	mailroom__submit_req__init(out);
	mailroom__petition_transfer__init(p);
	mailroom__contact__init(contact);
	if (pj_load(body, len, root, err))
		return -1;
	if (fields(*root, out, p, contact, err)) {
		json_decref(*root);
		*root = NULL;
		return -1;
	}
	return 0;
}
