/* A 12345 order's files (hl.h, hl_fetch_order). Only URLs under
 * [hotline] platform_url are fetched, with the same signed GET as the
 * pages, so an order cannot send the connector elsewhere. A file is stored
 * once however often it is fetched (the router names files by content);
 * a file fetched lately is not fetched again when the platform delivers
 * the order again. */
#include "hl.h"
#include "pb_err.h"
#include "pb_ftype.h"
#include "pb_log.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define PIECE (512u << 10)   /* one UploadReq, under the wire limit */
#define SEEN_MAX 256

/* Files stored lately: SHA-256 -> handle, a ring. */
static struct {
	uint8_t sha[32];
	char handle[65];
} seen[SEEN_MAX];
static size_t seen_next, seen_n;
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;

static int seen_get(const uint8_t sha[32], char handle[65])
{
	int found = 0;

	pthread_mutex_lock(&seen_mu);
	for (size_t i = 0; i < seen_n && !found; i++)
		if (memcmp(seen[i].sha, sha, 32) == 0) {
			memcpy(handle, seen[i].handle, 65);
			found = 1;
		}
	pthread_mutex_unlock(&seen_mu);
	return found;
}

static void seen_put(const uint8_t sha[32], const char handle[65])
{
	pthread_mutex_lock(&seen_mu);
	memcpy(seen[seen_next].sha, sha, 32);
	memcpy(seen[seen_next].handle, handle, 65);
	seen_next = (seen_next + 1) % SEEN_MAX;
	if (seen_n < SEEN_MAX)
		seen_n++;
	pthread_mutex_unlock(&seen_mu);
}

/* Through the router in pieces; 0 with the handle, -1 when not now. */
static int store(struct cn_router *r, const uint8_t *data, size_t len, char handle[65])
{
	uint8_t id[16];
	size_t off = 0;
	uint32_t seq = 0;

	randombytes_buf(id, sizeof(id));
	do {
		Mailroom__UploadReq up = MAILROOM__UPLOAD_REQ__INIT;
		Mailroom__Request req = MAILROOM__REQUEST__INIT;
		Mailroom__Response *resp = NULL;
		size_t n = len - off > PIECE ? PIECE : len - off;
		int ok;

		up.upload_id.data = id;
		up.upload_id.len = sizeof(id);
		up.seq = seq++;
		up.data.data = (uint8_t *)data + off;
		up.data.len = n;
		up.final = off + n == len;
		req.op_case = MAILROOM__REQUEST__OP_UPLOAD;
		req.upload = &up;
		if (cn_router_call(r, &req, HL_ROUTER_TIMEOUT_MS, &resp) != PB_OK) {
			pb_warn("puller: cannot store a file: %s", r->err);
			return -1;
		}
		ok = resp->code == 0 && resp->result_case == MAILROOM__RESPONSE__RESULT_UPLOAD &&
		     resp->upload;
		if (!ok)
			pb_warn("puller: the router did not store a file: %s",
			        resp->error && *resp->error ? resp->error : pb_err_name(resp->code));
		else if (up.final && (!resp->upload->handle || strlen(resp->upload->handle) != 64))
			ok = 0;
		else if (up.final)
			memcpy(handle, resp->upload->handle, 65);
		mailroom__response__free_unpacked(resp, NULL);
		if (!ok)
			return -1;
		off += n;
	} while (off < len);
	return 0;
}

/* One file: 1 stored (handle set), 0 left out for good, -1 not now.
 * The logs name a file by its place in the order, never by its name,
 * which may name the citizen. */
static int fetch_one(struct hl_http *h, struct cn_router *r, const struct pb_conf *c,
                     json_t *a, const char *order_no, size_t place, char handle[65])
{
	const char *url = json_string_value(json_object_get(a, "url"));
	const char *hex = json_string_value(json_object_get(a, "sha256"));
	json_int_t size = json_integer_value(json_object_get(a, "size"));
	size_t blen = strlen(h->base);
	uint8_t want[32], got[32];
	struct hl_resp resp;
	int rc;

	if (!url || !hex || sodium_hex2bin(want, sizeof(want), hex, strlen(hex), NULL, NULL, NULL) != 0) {
		pb_warn("puller: order %s: file %zu named without a url or sha256; left out", order_no, place);
		return 0;
	}
	if (seen_get(want, handle))
		return 1;
	if (strncmp(url, h->base, blen) != 0 || url[blen] != '/') {
		pb_warn("puller: order %s: file %zu is not on the platform (%s); left out", order_no,
		        place, h->base);
		return 0;
	}
	if (size <= 0 || (uint64_t)size > c->attach_max_bytes) {
		pb_warn("puller: order %s: file %zu of %lld bytes is over [attachments] max_bytes or "
		        "empty; left out", order_no, place, (long long)size);
		return 0;
	}
	h->body_max = (size_t)size;
	rc = hl_http_call(h, "GET", url + blen, NULL, 0, &resp);
	h->body_max = 0;
	if (rc != PB_OK || resp.cc != CURLE_OK || resp.status >= 500 || resp.status == 429) {
		pb_warn("puller: order %s: file %zu not fetched now (%s%ld); the page is tried again",
		        order_no, place, resp.cc != CURLE_OK ? "transfer failed, " : "HTTP ",
		        resp.status);
		hl_resp_free(&resp);
		return -1;
	}
	if (resp.status != 200) {
		pb_warn("puller: order %s: file %zu refused by the platform (HTTP %ld); left out",
		        order_no, place, resp.status);
		hl_resp_free(&resp);
		return 0;
	}
	crypto_hash_sha256(got, (const uint8_t *)resp.body, resp.len);
	if (resp.len != (size_t)size || sodium_memcmp(got, want, 32) != 0) {
		/* A cut transfer looks like this too: try once more later. */
		pb_warn("puller: order %s: file %zu does not match its size and sha256; the page is "
		        "tried again", order_no, place);
		hl_resp_free(&resp);
		return -1;
	}
	if (!pb_ftype_sniff((const uint8_t *)resp.body, resp.len)) {
		pb_warn("puller: order %s: file %zu is not a JPEG, PNG or PDF; left out", order_no,
		        place);
		hl_resp_free(&resp);
		return 0;
	}
	rc = store(r, (const uint8_t *)resp.body, resp.len, handle);
	hl_resp_free(&resp);
	if (rc)
		return -1;
	seen_put(want, handle);
	return 1;
}

int hl_fetch_order(struct hl_http *h, struct cn_router *r, const struct pb_conf *c,
                   json_t *order, char ***handles, size_t *n)
{
	json_t *arr = json_object_get(order, "attachments"), *a;
	const char *no = json_string_value(json_object_get(order, "order_no"));
	size_t i, cap = json_array_size(arr);
	char handle[65];

	*handles = NULL;
	*n = 0;
	if (cap == 0)
		return 0;
	if (!(*handles = calloc(cap, sizeof(char *))))
		return -1;
	json_array_foreach(arr, i, a) {
		int rc;
		if (*n == (size_t)c->attach_max_files) {
			pb_warn("puller: order %s names more than %d files; the rest are left out",
			        no ? no : "?", c->attach_max_files);
			break;
		}
		rc = fetch_one(h, r, c, a, no ? no : "?", i + 1, handle);
		if (rc < 0) {
			hl_fetch_free(*handles, *n);
			*handles = NULL;
			*n = 0;
			return -1;
		}
		if (rc == 0)
			continue;
		/* The same file twice in one order is named once. */
		int dup = 0;
		for (size_t k = 0; k < *n; k++)
			dup |= strcmp((*handles)[k], handle) == 0;
		if (!dup && !((*handles)[(*n)++] = strdup(handle))) {
			hl_fetch_free(*handles, *n - 1);
			*handles = NULL;
			*n = 0;
			return -1;
		}
	}
	return 0;
}

void hl_fetch_free(char **handles, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(handles[i]);
	free(handles);
}
