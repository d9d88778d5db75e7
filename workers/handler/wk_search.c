/* mailroom-handler search WORDS... [--channel C] [--queue Q] [--state S]
 * [--from DATE] [--to DATE] [--overdue] [--limit N]: the router's search
 * over this handler's queues (router/README.md, "Search"). */
#include "wk_cli.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"
#include "pj.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const statuses[] = {"queued", "leased", "replied", "closed", NULL};

/* A date (the day's start, Asia/Shanghai) or an RFC 3339 instant; with
 * end set, a date means the end of that day, so --to is inclusive. */
static int parse_when(const char *opt, const char *s, int end, int64_t *ms)
{
	int32_t day;

	if (pb_date_parse(s, &day) == 0) {
		*ms = pb_day_start_ms(day + (end ? 1 : 0));
		return WK_EXIT_OK;
	}
	if (pb_time_parse(s, ms) == 0) {
		*ms += end ? 1 : 0;
		return WK_EXIT_OK;
	}
	return wk_fail(WK_EXIT_INVALID, "invalid_date",
	               "%s takes YYYY-MM-DD (Asia/Shanghai) or RFC 3339, not '%s'", opt, s);
}

/* The words, joined by spaces, into buf. */
static int join_words(struct wk_ctx *x, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (int i = 0; i < x->o.nargs; i++) {
		size_t k = strlen(x->o.args[i]);
		if (n + k + 2 > len)
			return wk_fail(WK_EXIT_INVALID, "invalid_words", "words: at most %zu bytes",
			               len - 2);
		if (n)
			buf[n++] = ' ';
		memcpy(buf + n, x->o.args[i], k + 1);
		n += k;
	}
	return WK_EXIT_OK;
}

static json_t *item_json(const Mailroom__SearchItem *it)
{
	char idt[PB_ID_TEXT_LEN + 1] = "", recv[40] = "", due[40] = "";

	if (it->id.len == PB_ID_LEN)
		pb_id_to_text(it->id.data, idt);
	pb_time_fmt(it->received_ms, recv, sizeof(recv), 0);
	if (it->reply_due_ms)
		pb_time_fmt(it->reply_due_ms, due, sizeof(due), 0);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b}", "id", idt, "tracking_code",
	                 it->tracking_code ? it->tracking_code : "", "channel",
	                 pb_channel_name(it->channel), "status", pj_status_name(it->status), "queue",
	                 it->queue ? it->queue : "", "subject", it->subject ? it->subject : "",
	                 "received_at", recv, "reply_due_at",
	                 it->reply_due_ms ? json_string(due) : json_null(), "overdue", it->overdue);
}

int wk_cmd_search(struct wk_ctx *x)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__SearchReq s = MAILROOM__SEARCH_REQ__INIT;
	Mailroom__Response *r;
	char words[1001];
	int rc;

	if ((rc = join_words(x, words, sizeof(words))))
		return rc;
	s.words = words;
	if (x->o.channel && (s.channel = pb_channel_parse(x->o.channel)) <= 0)
		return wk_fail(WK_EXIT_INVALID, "invalid_channel", "unknown channel '%s'", x->o.channel);
	if (x->o.queue)
		s.queue = (char *)x->o.queue;
	if (x->o.state) {   /* the message's state here, not a directory */
		for (int i = 0; statuses[i]; i++)
			if (strcmp(statuses[i], x->o.state) == 0)
				s.status = i + 1;
		if (!s.status)
			return wk_fail(WK_EXIT_INVALID, "invalid_state",
			               "--state is queued, leased, replied or closed, not '%s'", x->o.state);
	}
	if (x->o.from && (rc = parse_when("--from", x->o.from, 0, &s.from_ms)))
		return rc;
	if (x->o.to && (rc = parse_when("--to", x->o.to, 1, &s.to_ms)))
		return rc;
	s.overdue = (x->o.seen & WK_O_OVERDUE) != 0;
	if (x->o.limit) {
		char *end;
		errno = 0;
		long n = strtol(x->o.limit, &end, 10);
		if (errno || end == x->o.limit || *end || n < 1 || n > 200)
			return wk_fail(WK_EXIT_INVALID, "invalid_limit", "--limit takes 1-200, not '%s'",
			               x->o.limit);
		s.limit = (uint32_t)n;
	}
	req.op_case = MAILROOM__REQUEST__OP_SEARCH;
	req.search = &s;
	if ((rc = wk_call(x, &req, 0, MAILROOM__RESPONSE__RESULT_SEARCH, &r)))
		return rc;
	json_t *arr = json_array();
	for (size_t i = 0; arr && r->search && i < r->search->n_items; i++)
		if (json_array_append_new(arr, item_json(r->search->items[i]))) {
			json_decref(arr);
			arr = NULL;
		}
	json_t *j = arr ? json_pack("{s:o, s:b}", "messages", arr, "more",
	                            r->search && r->search->more)
	                : NULL;
	mailroom__response__free_unpacked(r, NULL);
	return wk_emit(j);
}
