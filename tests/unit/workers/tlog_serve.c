/* The files an auditor gets from the gateway, made from a store, and a
 * stand-in for the gateway's GET /v1/log routes. */
#include "tlog.h"
#include "helpers.h"
#include "mt.h"
#include "pb_err.h"
#include "sn.h"
#include "pb_id.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- files as the gateway serves them ---- */

void tl_write_text(const char *file, const char *text)
{
	FILE *f = fopen(file, "w");

	cr_assert_not_null(f, "%s", file);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static st_env *ro_open(const char *dir, st_txn **t)
{
	st_env *env;

	cr_assert_eq(st_open(dir, 0, 1, NULL, &env), PB_OK);
	cr_assert_eq(st_txn_begin(env, NULL, 1, t), PB_OK);
	return env;
}

static json_t *b64(const uint8_t *p, size_t n)
{
	char buf[4096];

	cr_assert_lt(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), sizeof(buf));
	sodium_bin2base64(buf, sizeof(buf), p, n, sodium_base64_VARIANT_ORIGINAL);
	return json_string(buf);
}

static json_t *hashes(uint8_t (*h)[32], size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, b64(h[i], 32));
	return a;
}

static void dump(json_t *j, const char *file)
{
	cr_assert_eq(json_dump_file(j, file, 0), 0, "%s", file);
	json_decref(j);
}

/* The checkpoint signed at size, when there is one, as the gateway adds
 * it to an inclusion answer. */
static json_t *with_checkpoint(st_txn *t, uint64_t size, json_t *j)
{
	char *note;
	size_t len;
	uint64_t got;

	if (st_checkpoint_get(t, size, &note, &len, &got) == PB_OK) {
		json_object_set_new(j, "checkpoint", json_string(note));
		free(note);
	}
	return j;
}

uint64_t tl_save_checkpoint(const char *dir, uint64_t size, const char *file)
{
	st_txn *t;
	st_env *env = ro_open(dir, &t);
	char *note;
	size_t len;
	uint64_t got;

	cr_assert_eq(st_checkpoint_get(t, size, &note, &len, &got), PB_OK);
	tl_write_text(file, note);
	free(note);
	st_txn_abort(t);
	st_close(env);
	return got;
}

void tl_save_inclusion(const char *dir, uint64_t index, uint64_t size, const char *file)
{
	uint8_t proof[MT_PROOF_MAX][32], leaf[32];
	const uint8_t *d;
	st_txn *t;
	st_env *env = ro_open(dir, &t);
	size_t n, len;

	cr_assert_eq(st_tree_inclusion(t, index, size, proof, MT_PROOF_MAX, &n), PB_OK);
	cr_assert_eq(st_log_get(t, index, &d, &len), PB_OK);
	mt_leaf_hash(d, len, leaf);
	dump(with_checkpoint(t, size,
	                     json_pack("{s:I, s:I, s:o, s:o, s:o}", "index", (json_int_t)index, "size",
	                               (json_int_t)size, "leaf_hash", b64(leaf, 32), "proof",
	                               hashes(proof, n), "entry", b64(d, len))),
	     file);
	st_txn_abort(t);
	st_close(env);
}

void tl_save_consistency(const char *dir, uint64_t old, uint64_t new_, const char *file)
{
	uint8_t proof[MT_PROOF_MAX][32];
	st_txn *t;
	st_env *env = ro_open(dir, &t);
	size_t n;

	cr_assert_eq(st_tree_consistency(t, old, new_, proof, MT_PROOF_MAX, &n), PB_OK);
	dump(json_pack("{s:I, s:I, s:o}", "old", (json_int_t)old, "new", (json_int_t)new_, "proof",
	               hashes(proof, n)),
	     file);
	st_txn_abort(t);
	st_close(env);
}

void tl_save_receipt(const char *dir, const struct st_keys *k, uint64_t index, const char *file)
{
	uint8_t proof[MT_PROOF_MAX][32];
	char hash[65], kid[9], *note, *text;
	uint8_t h[32];
	const uint8_t *d;
	st_txn *t;
	st_env *env = ro_open(dir, &t);
	size_t len, nlen, n, tlen, cap;
	uint64_t size;

	cr_assert_eq(st_log_get(t, index, &d, &len), PB_OK);
	crypto_hash_sha256(h, d, len);
	pb_hex(h, 32, hash);
	pb_hex(k->key_id, ST_KEYID_LEN, kid);
	/* The proof as the router adds it: against the latest checkpoint. */
	cr_assert_eq(st_checkpoint_get(t, 0, &note, &nlen, &size), PB_OK);
	cr_assert_eq(st_tree_inclusion(t, index, size, proof, MT_PROOF_MAX, &n), PB_OK);
	cap = 64 + len * 2 + n * 46 + nlen;
	text = malloc(cap);
	cr_assert_not_null(text);
	cr_assert_eq(sn_proof_format(index, d, len, (const uint8_t(*)[32])proof, n, note, nlen, text,
	                             cap, &tlen),
	             PB_OK);
	dump(json_pack("{s:{s:I, s:s, s:s, s:s}}", "receipt", "log_index", (json_int_t)index,
	               "record_hash", hash, "key_id", kid, "proof", text),
	     file);
	free(text);
	free(note);
	st_txn_abort(t);
	st_close(env);
}

void tl_save_entry(const char *dir, uint64_t index, const char *file)
{
	const uint8_t *d;
	st_txn *t;
	st_env *env = ro_open(dir, &t);
	size_t len;
	json_t *s;

	cr_assert_eq(st_log_get(t, index, &d, &len), PB_OK);
	s = b64(d, len);
	tl_write_text(file, json_string_value(s));
	json_decref(s);
	st_txn_abort(t);
	st_close(env);
}

/* ---- the stand-in log server ---- */

static struct {
	struct MHD_Daemon *d;
	pthread_mutex_t mu;
	char dir[600];
	char base[64];
} srv = {.mu = PTHREAD_MUTEX_INITIALIZER};

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned code, const char *type,
                                 const char *body)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ok;

	MHD_add_response_header(r, "Content-Type", type);
	ok = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ok;
}

static uint64_t arg(struct MHD_Connection *c, const char *name)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);

	return v ? strtoull(v, NULL, 10) : 0;
}

/* As router/rt_log.c answers: nothing past the latest checkpoint. */
static char *inclusion(st_txn *t, uint64_t index, uint64_t size, uint64_t published)
{
	uint8_t proof[MT_PROOF_MAX][32], leaf[32];
	const uint8_t *d;
	size_t n, len;
	json_t *j;
	char *out;

	if (size == 0 || size > published || index >= size ||
	    st_tree_inclusion(t, index, size, proof, MT_PROOF_MAX, &n) ||
	    st_log_get(t, index, &d, &len))
		return NULL;
	mt_leaf_hash(d, len, leaf);
	j = with_checkpoint(t, size,
	                    json_pack("{s:I, s:I, s:o, s:o, s:o}", "index", (json_int_t)index, "size",
	                              (json_int_t)size, "leaf_hash", b64(leaf, 32), "proof",
	                              hashes(proof, n), "entry", b64(d, len)));
	out = json_dumps(j, 0);
	json_decref(j);
	return out;
}

static char *entries(st_txn *t, uint64_t start, uint64_t end, uint64_t published)
{
	json_t *a, *j;
	char *out;

	if (end > published)
		end = published;
	if (end > start + 256)
		end = start + 256;
	if (start >= end)
		return NULL;
	a = json_array();
	for (uint64_t i = start; i < end; i++) {
		const uint8_t *d;
		size_t len;
		if (st_log_get(t, i, &d, &len)) {
			json_decref(a);
			return NULL;
		}
		json_array_append_new(a, b64(d, len));
	}
	j = json_pack("{s:I, s:I, s:o}", "start", (json_int_t)start, "size", (json_int_t)published,
	              "entries", a);
	out = json_dumps(j, 0);
	json_decref(j);
	return out;
}

static char *answer(struct MHD_Connection *c, const char *url, unsigned *code, const char **type)
{
	char dir[600], *out = NULL, *note;
	uint64_t published = 0;
	size_t nlen;
	st_env *env;
	st_txn *t;

	pthread_mutex_lock(&srv.mu);
	snprintf(dir, sizeof(dir), "%s", srv.dir);
	pthread_mutex_unlock(&srv.mu);
	*code = 404;
	*type = "text/plain";
	if (st_open(dir, 0, 1, NULL, &env))
		return NULL;
	if (st_txn_begin(env, NULL, 1, &t)) {
		st_close(env);
		return NULL;
	}
	if (st_checkpoint_get(t, 0, &note, &nlen, &published) == PB_OK)
		free(note);
	if (strcmp(url, "/v1/log/checkpoint") == 0) {
		size_t len;
		uint64_t got;
		if (st_checkpoint_get(t, arg(c, "size"), &out, &len, &got) == PB_OK)
			*code = 200;
	} else if (strcmp(url, "/v1/log/proof/inclusion") == 0) {
		*code = 400;
		if ((out = inclusion(t, arg(c, "index"), arg(c, "size"), published))) {
			*code = 200;
			*type = "application/json";
		}
	} else if (strcmp(url, "/v1/log/entries") == 0) {
		*code = 400;
		if ((out = entries(t, arg(c, "start"), arg(c, "end"), published))) {
			*code = 200;
			*type = "application/json";
		}
	} else if (strcmp(url, "/v1/log/proof/consistency") == 0) {
		const char *o = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "old");
		const char *n = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "new");
		uint8_t proof[MT_PROOF_MAX][32];
		size_t len;
		uint64_t a = o ? strtoull(o, NULL, 10) : 0, b = n ? strtoull(n, NULL, 10) : 0;
		*code = 400;
		if (st_tree_consistency(t, a, b, proof, MT_PROOF_MAX, &len) == PB_OK) {
			json_t *j = json_pack("{s:I, s:I, s:o}", "old", (json_int_t)a, "new",
			                      (json_int_t)b, "proof", hashes(proof, len));
			out = json_dumps(j, 0);
			json_decref(j);
			*code = 200;
			*type = "application/json";
		}
	}
	st_txn_abort(t);
	st_close(env);
	return out;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **state)
{
	const char *type;
	unsigned code;
	char *body;
	enum MHD_Result ok;

	(void)cls;
	(void)version;
	(void)data;
	(void)size;
	(void)state;
	if (strcmp(method, "GET") != 0)
		return send_text(c, 405, "text/plain", "GET only\n");
	body = answer(c, url, &code, &type);
	ok = send_text(c, code, type, body ? body : "no\n");
	free(body);
	return ok;
}

const char *tl_srv_start(const char *dir)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	const union MHD_DaemonInfo *info;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	tl_srv_set(dir);
	srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, NULL,
	                         MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
	cr_assert_not_null(srv.d, "cannot start the log server");
	info = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT);
	cr_assert(info && info->port);
	snprintf(srv.base, sizeof(srv.base), "http://127.0.0.1:%u", (unsigned)info->port);
	return srv.base;
}

void tl_srv_set(const char *dir)
{
	pthread_mutex_lock(&srv.mu);
	snprintf(srv.dir, sizeof(srv.dir), "%s", dir);
	pthread_mutex_unlock(&srv.mu);
}

void tl_srv_stop(void)
{
	if (srv.d)
		MHD_stop_daemon(srv.d);
	srv.d = NULL;
}
