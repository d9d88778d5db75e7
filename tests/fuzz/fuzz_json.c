/* The JSON intake: every input is parsed as a message, a 12345 order, a
 * disclosure application and a petition transfer, as the gateway would on
 * each route. */
#include "pj.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct pj_error err;
	json_t *root;

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
