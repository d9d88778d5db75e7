/* The JSON intake: every input is parsed as a message, a 12345 order, a
 * disclosure application and a petition transfer, as the gateway would on
 * each route. Whatever jansson reads is also dumped by pj_dumps, which
 * must give json_dumps' bytes exactly (the gateway's answers). */
#include "pj.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void same_dump(const char *s, size_t size)
{
	json_t *doc = json_loadb(s, size, JSON_DECODE_ANY, NULL);
	char *want, *got;

	if (!doc)
		return;
	want = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
	got = pj_dumps(doc, NULL);
	if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0))
		abort();
	free(want);
	free(got);
	json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct pj_error err;
	json_t *root;

	same_dump(s, size);
	{
		Mailroom__SubmitReq req = MAILROOM__SUBMIT_REQ__INIT;
		Mailroom__Contact c = MAILROOM__CONTACT__INIT;
		if (pj_parse_message(s, size, &root, &req, &c, &err) == 0)
			json_decref(root);
	}
	{
		Mailroom__SubmitReq req = MAILROOM__SUBMIT_REQ__INIT;
		Mailroom__HotlineOrder o = MAILROOM__HOTLINE_ORDER__INIT;
		Mailroom__Contact c = MAILROOM__CONTACT__INIT;
		if (pj_parse_order(s, size, &root, &req, &o, &c, &err) == 0)
			json_decref(root);
		pj_order_clear(&o);
	}
	{
		Mailroom__SubmitReq req = MAILROOM__SUBMIT_REQ__INIT;
		struct pj_disclosure d;
		if (pj_parse_disclosure(s, size, &root, &req, &d, &err) == 0)
			json_decref(root);
	}
	{
		Mailroom__SubmitReq req = MAILROOM__SUBMIT_REQ__INIT;
		Mailroom__PetitionTransfer p = MAILROOM__PETITION_TRANSFER__INIT;
		Mailroom__Contact c = MAILROOM__CONTACT__INIT;
		if (pj_parse_petition(s, size, &root, &req, &p, &c, &err) == 0)
			json_decref(root);
	}
	return 0;
}
