/* The web pages' urlencoded bodies and their mapping to the API's JSON,
 * which then goes through the same pj_ validation as in gw_pages.c. */
#include "gw_web.h"
#include "pb_conf.h"
#include "pj.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(int channel, const struct gw_form *f)
{
	static const char *const skip[] = {"token", NULL};
	struct gw_ferrs errs;
	json_t *doc = gw_form_request(channel, f, skip, &errs);
	char *body;
	json_t *root;
	struct pj_error err;

	if (!doc)
		return;
	body = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!body)
		return;
	if (channel == PB_CH_DISCLOSURE) {
		Mailroom__SubmitReq req = MAILROOM__SUBMIT_REQ__INIT;
		struct pj_disclosure d;
		if (pj_parse_disclosure(body, strlen(body), &root, &req, &d, &err) == 0)
			json_decref(root);
	} else {
		Mailroom__SubmitReq req = MAILROOM__SUBMIT_REQ__INIT;
		Mailroom__Contact c = MAILROOM__CONTACT__INIT;
		if (pj_parse_message(body, strlen(body), &root, &req, &c, &err) == 0)
			json_decref(root);
	}
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int channels[] = {PB_CH_MAILBOX, PB_CH_CONSULTATION, PB_CH_COMPLAINT,
		PB_CH_DISCLOSURE, 0};
	struct gw_form f;
	const char *why;

	if (gw_form_parse((const char *)data, size, &f, &why) != 0)
		return 0;
	for (int i = 0; i < f.n; i++)
		(void)gw_form_get(&f, f.name[i]);
	for (size_t i = 0; i < sizeof(channels) / sizeof(channels[0]); i++)
		check(channels[i], &f);
	gw_form_free(&f);
	return 0;
}
