/* mailroom-admin handler add|remove|list: changes the handler list the
 * router keeps in its store, without a restart. The request is signed
 * with the operator's key (a handler with admin = yes); the router
 * answers only once the change and its audit record are durable and the
 * new list is in force, so the answer confirms it. */
#include "ad.h"
#include "pb_err.h"

#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define AD_HANDLER_TIMEOUT_MS 10000

static int usage_fail(const char *msg)
{
	fprintf(stderr, AD_PROG ": %s\n"
	                "usage: " AD_PROG " [-c CONFIG] [--key FILE] handler add NAME --key PUB "
	                "--queues a,b [--supervise]\n"
	                "       " AD_PROG " [-c CONFIG] [--key FILE] handler remove NAME\n"
	                "       " AD_PROG " [-c CONFIG] [--key FILE] handler list\n",
	        msg);
	return AD_EXIT_USAGE;
}

/* Splits "a,b" into entry->queues (pointers into buf, which it edits). */
static int split_queues(char *buf, char **v, size_t max, size_t *n)
{
	*n = 0;
	for (char *save = NULL, *q = strtok_r(buf, ", ", &save); q; q = strtok_r(NULL, ", ", &save)) {
		if (*n == max)
			return -1;
		v[(*n)++] = q;
	}
	return *n ? 0 : -1;
}

int ad_handler_parse(int argc, char **argv, struct ad_handler_args *a)
{
	static const struct option longopts[] = {
		{"key", required_argument, NULL, 'k'},
		{"queues", required_argument, NULL, 'q'},
		{"supervise", no_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	memset(a, 0, sizeof(*a));
	if (argc < 1)
		return usage_fail("handler needs add, remove or list");
	a->action = argv[0];
	optind = 0;   /* a fresh scan of this argv, permuting (GNU getopt) */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (ch == 'k')
			a->pub = optarg;
		else if (ch == 'q')
			a->queues = optarg;
		else if (ch == 's')
			a->supervise = 1;
		else
			return usage_fail("unknown option or missing value");
	}
	if (strcmp(a->action, "list") == 0)
		return optind == argc && !a->pub && !a->queues && !a->supervise
		               ? 0
		               : usage_fail("handler list takes nothing more");
	if (optind + 1 != argc)
		return usage_fail("give one handler NAME");
	a->name = argv[optind];
	if (strcmp(a->action, "remove") == 0)
		return !a->pub && !a->queues && !a->supervise
		               ? 0
		               : usage_fail("handler remove takes only the NAME");
	if (strcmp(a->action, "add") != 0)
		return usage_fail("handler needs add, remove or list");
	if (!a->pub || !a->queues)
		return usage_fail("handler add needs --key PUB and --queues a,b");
	if (strlen(a->pub) != 64 || sodium_hex2bin(a->key, 32, a->pub, 64, NULL, NULL, NULL) != 0) {
		fprintf(stderr, AD_PROG ": --key takes the handler's Ed25519 public key, 64 hex digits\n");
		return AD_EXIT_INVALID;
	}
	return 0;
}

static json_t *list_json(const Mailroom__HandlerList *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n_entries; i++) {
		const Mailroom__HandlerEntry *e = l->entries[i];
		char hex[65] = "";
		json_t *q = json_array();
		for (size_t k = 0; q && k < e->n_queues; k++)
			json_array_append_new(q, json_string(e->queues[k]));
		if (e->key.len == 32)
			sodium_bin2hex(hex, sizeof(hex), e->key.data, 32);
		json_array_append_new(a, json_pack("{s:s,s:s,s:o*,s:b,s:b}", "name", e->name, "key", hex,
		                                   "queues", q, "supervise", e->supervise, "removed",
		                                   e->removed));
	}
	return a;
}

int ad_handler_run(const struct ad_handler_args *a, struct wk_client *c, const uint8_t sk[64])
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__HandlerAdminReq ar = MAILROOM__HANDLER_ADMIN_REQ__INIT;
	Mailroom__HandlerEntry e = MAILROOM__HANDLER_ENTRY__INIT;
	Mailroom__Response *resp = NULL;
	char *queues = NULL, *qv[PB_MAX_QUEUES];
	size_t nq = 0;
	json_t *out;
	int rc;

	if (strcmp(a->action, "add") == 0) {
		if (!(queues = strdup(a->queues)))
			return AD_EXIT_OTHER;
		if (split_queues(queues, qv, PB_MAX_QUEUES, &nq)) {
			free(queues);
			return usage_fail("--queues takes 1 to 64 queue names, comma separated");
		}
		ar.action = MAILROOM__HANDLER_ACTION__HANDLER_ADD;
		e.key.data = (uint8_t *)a->key;
		e.key.len = 32;
		e.queues = qv;
		e.n_queues = nq;
		e.supervise = a->supervise;
	} else {
		ar.action = strcmp(a->action, "remove") == 0 ? MAILROOM__HANDLER_ACTION__HANDLER_REMOVE
		                                             : MAILROOM__HANDLER_ACTION__HANDLER_LIST;
	}
	e.name = (char *)(a->name ? a->name : "");
	ar.entry = &e;
	req.op_case = MAILROOM__REQUEST__OP_HANDLER_ADMIN;
	req.handler_admin = &ar;
	rc = wk_client_call(c, sk, &req, AD_HANDLER_TIMEOUT_MS, &resp);
	free(queues);
	if (rc) {
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
	if (resp->result_case != MAILROOM__RESPONSE__RESULT_HANDLER_ADMIN) {
		mailroom__response__free_unpacked(resp, NULL);
		fprintf(stderr, AD_PROG ": the router answered something else\n");
		return AD_EXIT_OTHER;
	}
	if (ar.action == MAILROOM__HANDLER_ACTION__HANDLER_LIST)
		out = json_pack("{s:o*}", "handlers", list_json(resp->handler_admin));
	else
		out = json_pack("{s:s,s:s,s:s,s:I}", "handler", a->name, "action",
		                ar.action == MAILROOM__HANDLER_ACTION__HANDLER_ADD ? "added" : "removed",
		                "in_force", ar.action == MAILROOM__HANDLER_ACTION__HANDLER_ADD ? "yes" : "no",
		                "log_index", (json_int_t)resp->handler_admin->log_index);
	mailroom__response__free_unpacked(resp, NULL);
	if (!out || json_dumpf(out, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0)
		rc = AD_EXIT_OTHER;
	json_decref(out);
	return rc;
}
