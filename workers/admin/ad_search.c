/* mailroom-admin search-rebuild: the router rebuilds its search index
 * from the store and says how many messages it holds. The index is
 * derived (router/README.md, "Search"): this changes no record. */
#include "ad.h"
#include "pb_err.h"

#include <string.h>

#define AD_REBUILD_TIMEOUT_MS 600000   /* a million messages take about a minute */

int ad_search_rebuild(struct wk_client *c, const uint8_t sk[64])
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SearchRebuildReq sr = MAILROOM__SEARCH_REBUILD_REQ__INIT;
	Mailroom__Response *resp;
	json_t *out;
	int rc;

	req.op_case = MAILROOM__REQUEST__OP_SEARCH_REBUILD;
	req.search_rebuild = &sr;
	if (wk_client_call(c, sk, &req, AD_REBUILD_TIMEOUT_MS, &resp)) {
		fprintf(stderr, AD_PROG ": %s\n", c->err);
		return AD_EXIT_UNREACHABLE;
	}
	if (resp->code) {
		fprintf(stderr, AD_PROG ": %s: %s\n",
		        resp->error && *resp->error ? resp->error : pb_err_name(resp->code),
		        resp->message && *resp->message ? resp->message : pb_err_str(resp->code));
		rc = resp->code == PB_EAUTH || resp->code == PB_EFORBIDDEN ? AD_EXIT_AUTH
		                                                           : AD_EXIT_REFUSED;
		mailroom__response__free_unpacked(resp, NULL);
		return rc;
	}
	if (resp->result_case != MAILROOM__RESPONSE__RESULT_SEARCH_REBUILD) {
		mailroom__response__free_unpacked(resp, NULL);
		fprintf(stderr, AD_PROG ": the router answered something else\n");
		return AD_EXIT_OTHER;
	}
	out = json_pack("{s:I, s:I, s:I}", "messages", (json_int_t)resp->search_rebuild->messages,
	                "log_size", (json_int_t)resp->search_rebuild->log_size, "took_ms",
	                (json_int_t)resp->search_rebuild->took_ms);
	mailroom__response__free_unpacked(resp, NULL);
	rc = AD_EXIT_OK;
	if (!out || json_dumpf(out, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0)
		rc = AD_EXIT_OTHER;
	json_decref(out);
	return rc;
}
