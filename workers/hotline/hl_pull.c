/* The puller: GET {platform}/api/v1/orders?cursor=&limit= and hand each
 * page to the router in one request, which stores the page's orders and
 * the next cursor in one transaction. The cursor it asks with is always
 * the one the router holds, so a crash between fetching and committing
 * fetches the same page again (its orders are idempotent), and a page is
 * never applied twice or skipped.
 *
 * Orders that do not parse are not dropped here: they go to the router
 * as refusals, which it logs and records. A page too big for one request
 * is sent in chunks; only the last moves the cursor. */
#include "hl.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"
#include "pj.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CURSOR_MAX 1024

/* One order of a page, parsed or refused, with what its strings point into. */
struct item {
	Mailroom__IngestItem it;
	Mailroom__SubmitReq sub;
	Mailroom__HotlineOrder order;
	Mailroom__Contact contact;
	json_t *root;
	char *text;
	char no[48];
	struct pj_error err;
	char **handles;            /* its files, stored through the router (hl_fetch.c) */
	size_t nhandles;
};

struct page {
	struct item *items;
	size_t n;
	char next[CURSOR_MAX + 1];
	int has_more;
};

static void page_free(struct page *p)
{
	for (size_t i = 0; i < p->n; i++) {
		pj_order_clear(&p->items[i].order);
		hl_fetch_free(p->items[i].handles, p->items[i].nhandles);
		json_decref(p->items[i].root);
		free(p->items[i].text);
	}
	free(p->items);
	memset(p, 0, sizeof(*p));
}

/* Parses one order as the gateway would; a refusal keeps the order
 * number and dispatch_seq when they can be read, for the record. */
static void parse_item(json_t *o, struct item *x)
{
	mailroom__ingest_item__init(&x->it);
	x->text = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
	if (x->text && pj_parse_order(x->text, strlen(x->text), &x->root, &x->sub, &x->order,
	                              &x->contact, &x->err) == 0) {
		x->it.submit = &x->sub;
		return;
	}
	if (!x->text)
		snprintf(x->err.code, sizeof(x->err.code), "no_memory");
	x->it.refused_code = x->err.code;
	x->it.refused_detail = x->err.message;
	const char *no = json_string_value(json_object_get(o, "order_no"));
	json_int_t seq = json_integer_value(json_object_get(o, "dispatch_seq"));
	if (no && strlen(no) < sizeof(x->no)) {
		snprintf(x->no, sizeof(x->no), "%s", no);
		x->it.order_no = x->no;
	}
	if (seq > 0 && seq <= (json_int_t)UINT32_MAX)
		x->it.dispatch_seq = (uint32_t)seq;
}

/* 0, or -1 when the body is not a page (a cut or garbled answer). */
static int parse_page(const char *body, size_t len, struct page *p)
{
	json_t *doc = json_loadb(body, len, 0, NULL), *orders;
	const char *next;
	size_t i;

	memset(p, 0, sizeof(*p));
	orders = json_object_get(doc, "orders");
	next = json_string_value(json_object_get(doc, "next_cursor"));
	if (!doc || !json_is_array(orders) || !next || strlen(next) > CURSOR_MAX ||
	    json_array_size(orders) > 1000) {
		json_decref(doc);
		return -1;
	}
	snprintf(p->next, sizeof(p->next), "%s", next);
	p->has_more = json_is_true(json_object_get(doc, "has_more"));
	p->n = json_array_size(orders);
	if (p->n && !(p->items = calloc(p->n, sizeof(*p->items)))) {
		json_decref(doc);
		p->n = 0;
		return -1;
	}
	for (i = 0; i < p->n; i++)
		parse_item(json_array_get(orders, i), &p->items[i]);
	json_decref(doc);
	return 0;
}

/* Sends items [from, to) with the cursor; the last chunk moves it.
 * PB_ESTATE means the router holds another cursor: read it again. */
static int send_chunk(struct cn_router *r, const char *cursor, struct page *p, size_t from,
                      size_t to, int last, unsigned *stored, unsigned *dups, unsigned *refused)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__IngestPageReq ip = MAILROOM__INGEST_PAGE_REQ__INIT;
	Mailroom__IngestItem **list = calloc(to - from + 1, sizeof(*list));
	Mailroom__Response *resp;
	int rc;

	if (!list)
		return PB_ENOMEM;
	for (size_t i = from; i < to; i++)
		list[i - from] = &p->items[i].it;
	ip.cursor = (char *)cursor;
	ip.next_cursor = p->next;
	ip.advance = last;
	ip.items = list;
	ip.n_items = to - from;
	req.op_case = MAILROOM__REQUEST__OP_INGEST;
	req.ingest = &ip;
	rc = cn_router_call(r, &req, HL_ROUTER_TIMEOUT_MS, &resp);
	free(list);
	if (rc) {
		pb_warn("puller: %s", r->err);
		return rc;
	}
	rc = resp->code;
	if (rc) {
		pb_warn("puller: router refused the page: %s: %s", resp->error ? resp->error : "",
		        resp->message ? resp->message : "");
	} else if (resp->result_case != MAILROOM__RESPONSE__RESULT_INGEST || !resp->ingest) {
		rc = PB_ECORRUPT;
	} else {
		*stored += resp->ingest->stored;
		*dups += resp->ingest->duplicates;
		*refused += resp->ingest->refused;
		/* Counted per chunk: a later chunk's failure does not undo these. */
		atomic_fetch_add(&hl_stats.orders_stored, resp->ingest->stored);
		atomic_fetch_add(&hl_stats.orders_repeated, resp->ingest->duplicates);
		atomic_fetch_add(&hl_stats.orders_refused, resp->ingest->refused);
	}
	mailroom__response__free_unpacked(resp, NULL);
	return rc;
}

/* Splits the page so no request outgrows what the router accepts. */
static int ingest(struct cn_router *r, const char *cursor, struct page *p)
{
	unsigned stored = 0, dups = 0, refused = 0;
	size_t from = 0, size = 0;
	int rc;

	for (size_t i = 0; i <= p->n; i++) {
		size_t add = i < p->n ? mailroom__ingest_item__get_packed_size(&p->items[i].it) + 8 : 0;
		if (i < p->n && (size + add <= HL_CHUNK_MAX || i == from)) {
			size += add;
			continue;
		}
		if ((rc = send_chunk(r, cursor, p, from, i, i == p->n, &stored, &dups, &refused)))
			return rc;
		from = i;
		size = add;
	}
	if (p->n)
		pb_info("puller: page of %zu: %u stored, %u repeated, %u refused", p->n, stored, dups,
		        refused);
	return PB_OK;
}

/* One page: 1 when the platform has more, 0 when not, -1 to back off
 * (*wait_ms says how long at least), -2 when the cursor must be read
 * again from the router. */
static int one_page(const struct pb_conf *c, struct hl_http *h, struct cn_router *r,
                    char *cursor, int64_t *wait_ms)
{
	char path[CURSOR_MAX * 3 + 64];
	struct hl_resp resp;
	struct page p;
	char *esc;
	int rc;

	*wait_ms = 0;
	if (!(esc = curl_easy_escape(h->h, cursor, 0)))
		return -1;
	snprintf(path, sizeof(path), "/api/v1/orders?cursor=%s&limit=%d", esc, c->hotline_page_limit);
	curl_free(esc);
	if (hl_http_call(h, "GET", path, NULL, 0, &resp))
		return -1;
	if (resp.cc != CURLE_OK || resp.status != 200) {
		if (resp.cc != CURLE_OK)
			pb_warn("puller: platform unreachable: %s", resp.err);
		else if (resp.status == 401 || resp.status == 403)
			pb_error("puller: platform refused our signature (HTTP %ld): %.200s; check "
			         "[hotline] app_id, app_secret_file and the clock", resp.status,
			         resp.body ? resp.body : "");
		else
			pb_warn("puller: platform answered HTTP %ld: %.200s", resp.status,
			        resp.body ? resp.body : "");
		if (resp.status == 429 || resp.status == 503)
			*wait_ms = resp.retry_after_ms;
		hl_resp_free(&resp);
		return -1;
	}
	rc = parse_page(resp.body ? resp.body : "", resp.len, &p);
	hl_resp_free(&resp);
	if (rc) {
		pb_warn("puller: the platform's answer is not a page; fetching it again");
		return -1;
	}
	/* Nothing new: no need to bother the router. */
	if (p.n == 0 && strcmp(p.next, cursor) == 0) {
		page_free(&p);
		return 0;
	}
	/* The orders' files first: a message never names a file not stored. */
	for (size_t i = 0; i < p.n; i++) {
		struct item *x = &p.items[i];
		if (!x->it.submit || json_array_size(json_object_get(x->root, "attachments")) == 0)
			continue;
		if (hl_fetch_order(h, r, c, x->root, &x->handles, &x->nhandles)) {
			page_free(&p);
			return -1;
		}
		x->sub.attachments = x->handles;
		x->sub.n_attachments = x->nhandles;
	}
	rc = ingest(r, cursor, &p);
	if (rc == PB_OK && strcmp(cursor, p.next) != 0) {
		atomic_fetch_add(&hl_stats.cursor_moves, 1);
		snprintf(cursor, CURSOR_MAX + 1, "%s", p.next);
	}
	int more = p.has_more;
	page_free(&p);
	if (rc == PB_OK)
		return more;
	/* Unanswered or refused: what the router holds now decides. */
	return -2;
}

void *hl_pull_main(void *arg)
{
	const struct hl_ctx *x = arg;
	const struct pb_conf *c = x->conf;
	char cursor[CURSOR_MAX + 1], err[PB_PATH_MAX + 256];
	struct hl_backoff b;
	struct cn_router r;
	struct hl_http h;
	int have = 0, rc;

	if ((rc = hl_http_init(&h, c, err, sizeof(err)))) {
		pb_error("puller: %s", err);
		atomic_store(&cn_stop, 1);
		return NULL;
	}
	if ((rc = hl_router_open(&r, c))) {
		pb_error("puller: %s", r.err);
		hl_http_fini(&h);
		atomic_store(&cn_stop, 1);
		return NULL;
	}
	hl_backoff_init(&b, 200, c->hotline_backoff_max_ms);
	while (!atomic_load(&cn_stop)) {
		int64_t wait = 0;
		if (!have) {
			if (hl_router_status(&r, cursor, sizeof(cursor), NULL, NULL)) {
				pb_warn("puller: cannot read the stored cursor: %s", r.err);
				cn_sleep(hl_backoff_next(&b));
				continue;
			}
			have = 1;
		}
		rc = one_page(c, &h, &r, cursor, &wait);
		if (rc >= 0)
			atomic_store(&hl_stats.last_pull_ms, pb_now_ms());
		if (rc == 0)
			atomic_store(&hl_stats.caught_up_ms, pb_now_ms());
		if (rc == 1) {
			hl_backoff_reset(&b);
			continue;
		}
		if (rc == 0) {
			hl_backoff_reset(&b);
			cn_sleep(c->hotline_poll_interval_ms);
			continue;
		}
		if (rc == -2)
			have = 0;
		int64_t d = hl_backoff_next(&b);
		cn_sleep(wait > d ? wait : d);
	}
	cn_router_close(&r);
	hl_http_fini(&h);
	return NULL;
}
