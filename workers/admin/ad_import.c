/* mailroom-admin import: one ImportReq per line of a JSON Lines file.
 * A line that does not parse, or that the router refuses, is reported and
 * skipped; only a router that cannot be reached, or that refuses the key,
 * stops the run (every later line would fail the same way). */
#include "ad.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pj.h"

#include <stdlib.h>
#include <string.h>

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\r\n", s[i]))
			return 0;
	return 1;
}

/* Refusals never echo the line: it holds personal data. */
static void report(FILE *err, unsigned long line, const char *code, const char *msg)
{
	fprintf(err, "LINE %lu: %s: %s\n", line, code, msg);
}

static int add_result(json_t *results, unsigned long line, const char *ref,
                      const Mailroom__ImportResp *ir)
{
	char id[PB_ID_TEXT_LEN + 1] = "";
	json_t *o;

	if (ir->id.len == PB_ID_LEN)
		pb_id_to_text(ir->id.data, id);
	o = json_pack("{s:I, s:s, s:s?, s:s?, s:b, s:I}", "line", (json_int_t)line, "ref", ref,
	              "id", *id ? id : NULL, "tracking_code",
	              ir->tracking_code && *ir->tracking_code ? ir->tracking_code : NULL,
	              "duplicate", (int)ir->duplicate, "events", (json_int_t)ir->events);
	return o && json_array_append_new(results, o) == 0 ? 0 : -1;
}

/* One line: parsed, sent, answered. An ad_exit that stops the run, or 0. */
static int one_line(const char *text, size_t len, unsigned long n, struct wk_client *c,
                    const uint8_t sk[64], FILE *err, struct ad_import_stats *st,
                    json_t *results)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__Response *resp = NULL;
	struct pj_import im;
	struct pj_error perr;
	json_t *root;
	int rc, stop = 0;

	if (pj_parse_import(text, len, &root, &im, &perr)) {
		report(err, n, perr.code, perr.message);
		st->refused++;
		return 0;
	}
	req.op_case = MAILROOM__REQUEST__OP_IMPORT_MSG;
	req.import_msg = &im.req;
	rc = wk_client_call(c, sk, &req, AD_IMPORT_TIMEOUT_MS, &resp);
	if (rc != PB_OK) {
		report(err, n, pb_err_name(rc), c->err);
		pj_import_clear(&im);
		json_decref(root);
		return rc == PB_EUNAVAIL ? AD_EXIT_UNREACHABLE : AD_EXIT_OTHER;
	}
	if (resp->code != 0) {
		const char *code = resp->error && *resp->error ? resp->error : pb_err_name(resp->code);
		const char *msg = resp->message && *resp->message ? resp->message
		                                                  : pb_err_str(resp->code);
		report(err, n, code, msg);
		st->refused++;
		rc = resp->code;
	} else if (resp->result_case != MAILROOM__RESPONSE__RESULT_IMPORT_MSG || !resp->import_msg) {
		report(err, n, "bad_response", "the router answered with another result");
		st->refused++;
	} else {
		if (resp->import_msg->duplicate)
			st->duplicates++;
		else
			st->imported++;
		if (add_result(results, n, im.req.ref, resp->import_msg)) {
			fprintf(err, AD_PROG ": out of memory\n");
			stop = AD_EXIT_OTHER;
		}
	}
	mailroom__response__free_unpacked(resp, NULL);
	pj_import_clear(&im);
	json_decref(root);
	switch (rc) {
	case PB_EAUTH:
	case PB_ESTALE:
	case PB_EREPLAY:
	case PB_EFORBIDDEN:
		/* The key, its import right or the clocks: true of every line. */
		return AD_EXIT_AUTH;
	default:
		return stop;
	}
}

int ad_import(FILE *in, struct wk_client *c, const uint8_t sk[64], FILE *err,
              struct ad_import_stats *st, json_t *results)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned long n = 0;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	while (rc == 0 && (got = getline(&line, &cap, in)) >= 0) {
		char *text = line;
		size_t len = (size_t)got;
		n++;
		/* A byte-order mark from a spreadsheet export is not content. */
		if (n == 1 && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
			text += 3, len -= 3;
		if (blank(text, len))
			continue;
		st->lines++;
		if (len > AD_LINE_MAX) {
			report(err, n, "too_big", "line over 1 MiB");
			st->refused++;
			continue;
		}
		rc = one_line(text, len, n, c, sk, err, st, results);
	}
	if (rc == 0 && ferror(in)) {
		fprintf(err, AD_PROG ": cannot read the import file after line %lu\n", n);
		rc = AD_EXIT_INVALID;
	}
	free(line);
	if (rc)
		return rc;
	return st->refused ? AD_EXIT_LINES : AD_EXIT_OK;
}
