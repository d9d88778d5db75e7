/* Witnesses by C2SP tlog-witness add-checkpoint, against the real router,
 * gateway and `mailroom-audit witness --serve`:
 *   push: the router pushes its checkpoints to the configured witness,
 *   /checkpoint then carries a cosignature that verifies under the
 *   witness key, and the citizen's status receipt carries it too and
 *   passes verify-receipt --witness-key (an altered one fails);
 *   protocol: a second witness the router does not know, driven by hand
 *   with the spec's requests: 200, 409 (text/x.tlog.size), 422, 400, 404,
 *   403, and a fork at the size it holds refused with 409. */
#include "it.h"
#include "pb_err.h"
#include "sn.h"

#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define WNAME "witness.example/w1"

static char pubkey[MR_PATH];
static pid_t witness_pid[2];

static void fini(void)
{
	for (int i = 0; i < 2; i++)
		if (witness_pid[i] > 0) {
			kill(witness_pid[i], SIGTERM);
			waitpid(witness_pid[i], NULL, 0);
		}
	it_fini();
}

static void post(int i, char *code, size_t ccap, char *akey, size_t acap)
{
	struct mr_http r;
	char msg[256];
	json_t *j;

	snprintf(msg, sizeof(msg),
	         "{\"channel\":\"mailbox\",\"subject\":\"第%d封信\",\"body\":\"见证测试的来信。\"}", i);
	cr_assert_eq(mr_post_message(NULL, &env, msg, &r), 0);
	cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	if (code) {
		snprintf(code, ccap, "%s", it_str(j, "tracking_code"));
		snprintf(akey, acap, "%s", it_str(j, "access_key"));
	}
	json_decref(j);
	mr_http_free(&r);
}

/* A letter, posted until the gateway reaches a router just restarted. */
static void post_after_restart(void)
{
	double until = mr_now_s() + 20;
	struct mr_http r;

	for (;; mr_sleep_ms(50)) {
		int rc = mr_post_message(NULL, &env,
		                         "{\"channel\":\"mailbox\",\"subject\":\"来信\","
		                         "\"body\":\"见证测试的来信。\"}",
		                         &r);
		long st = r.status;
		mr_http_free(&r);
		if (rc == 0 && st == 201)
			return;
		cr_assert_lt(mr_now_s(), until, "the gateway does not reach the router again");
	}
}

/* GET from the gateway; 200 asserted; the body (malloc'd). */
static char *get(const char *path, size_t *len)
{
	struct mr_http r;
	char *body;

	cr_assert_eq(mr_http(NULL, env.base, "GET", path, NULL, NULL, 0, 5000, &r), 0);
	cr_assert_eq(r.status, 200, "GET %s: HTTP %ld: %s", path, r.status, r.body);
	body = r.body;
	if (len)
		*len = r.len;
	r.body = NULL;
	mr_http_free(&r);
	return body;
}

/* POST an add-checkpoint body to the witness at port. */
static void add(int port, const char *body, size_t len, struct mr_http *r)
{
	char base[64];

	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	cr_assert_eq(mr_http(NULL, base, "POST", "/add-checkpoint", NULL, body, len, 30000, r), 0);
}

/* The add-checkpoint body for old and the note, with the proof the log
 * serves from old (none when old is 0 or the sizes are equal). */
static char *body_for(uint64_t old, uint64_t size, const char *note, size_t *len, int spoil)
{
	uint8_t proof[SN_ADDCP_PROOF_MAX][SN_HASH_LEN];
	size_t n = 0, cap = strlen(note) + 4096;
	char *out = malloc(cap);

	if (old > 0 && old < size) {
		char path[96], *text;
		json_t *j, *a, *h;
		size_t i;
		snprintf(path, sizeof(path), "/v1/log/proof/consistency?old=%llu&new=%llu",
		         (unsigned long long)old, (unsigned long long)size);
		text = get(path, NULL);
		j = it_json_text(text);
		free(text);
		a = json_object_get(j, "proof");
		json_array_foreach(a, i, h)
		{
			size_t got;
			cr_assert_eq(sodium_base642bin(proof[n], SN_HASH_LEN, json_string_value(h),
			                               strlen(json_string_value(h)), NULL, &got, NULL,
			                               sodium_base64_VARIANT_ORIGINAL),
			             0);
			n++;
		}
		json_decref(j);
		cr_assert_gt(n, 0);
		if (spoil)
			proof[0][0] ^= 1;
	}
	cr_assert_eq(sn_addcp_format(old, (const uint8_t(*)[SN_HASH_LEN])proof, n, note,
	                             strlen(note), out, cap, len),
	             PB_OK);
	return out;
}

/* The log's signing key, as the test environment keeps it. */
static void log_key(uint8_t sk[64])
{
	char p[MR_PATH], *hex;
	uint8_t seed[32], pk[32];
	size_t got;

	snprintf(p, sizeof(p), "%s/keys/store.key", env.dir);
	cr_assert_not_null(hex = mr_read_text(p, NULL));
	cr_assert_eq(sodium_hex2bin(seed, sizeof(seed), hex, 64, NULL, &got, NULL), 0);
	free(hex);
	crypto_sign_seed_keypair(pk, sk, seed);
}

/* A checkpoint of size with a made-up root, signed by (name, sk). */
static char *forged(const char *origin, uint64_t size, const char *name, const uint8_t sk[64])
{
	uint8_t root[32];
	char body[512], *note = malloc(1024);
	size_t blen, nlen;

	randombytes_buf(root, sizeof(root));
	cr_assert_eq(sn_checkpoint_format(origin, size, root, NULL, body, sizeof(body), &blen),
	             PB_OK);
	cr_assert_eq(sn_sign(body, blen, name, sk, note, 1024, &nlen), PB_OK);
	return note;
}

static int has_cosig(const char *note)
{
	return strstr(note, "\n\xe2\x80\x94 " WNAME " ") != NULL;
}

/* The cosignature by vkey over the note verifies. */
static void assert_cosigned(const char *note, const char *vkey)
{
	char name[SN_VKEY_MAX];
	uint8_t pk[32];
	const char *body;
	size_t blen;
	uint64_t ts;

	cr_assert_eq(sn_vkey_parse(vkey, strlen(vkey), SN_TYPE_COSIG_V1, name, sizeof(name), pk),
	             PB_OK);
	cr_assert_eq(sn_open_cosigned(note, strlen(note), name, pk, &body, &blen, &ts), PB_OK,
	             "the cosignature does not verify: %s", note);
	cr_assert_gt(ts, 0);
}

TestSuite(witness, .init = it_init, .fini = fini, .timeout = 300);

Test(witness, push_serve_receipt)
{
	static const struct mr_opts opts = {.log_level = "info"};
	char vkey[SN_VKEY_MAX], code[64], akey[128], *note = NULL, *out = NULL;
	struct mr_http r;
	double until;
	int port;

	IT_UP(&opts);
	snprintf(pubkey, sizeof(pubkey), "%s/keys/store.pub", env.dir);
	port = mr_witness_start(&env, it_path("w1"), WNAME, it_path("w1.log"), vkey, sizeof(vkey),
	                        &witness_pid[0]);
	cr_assert_gt(port, 0);
	/* The router learns of the witness on its next start. */
	cr_assert_eq(mr_witness_attach(&env, "w1", port, vkey, 200), 0);

	for (int i = 0; i < 3; i++)
		post_after_restart();
	post(9, code, sizeof(code), akey, sizeof(akey));

	/* The newest checkpoint cosigned: the pusher coalesces, so wait. */
	for (until = mr_now_s() + 30;; mr_sleep_ms(100)) {
		free(note);
		note = get("/checkpoint", NULL);
		if (has_cosig(note))
			break;
		cr_assert_lt(mr_now_s(), until, "no cosignature served: %s", note);
	}
	assert_cosigned(note, vkey);
	free(note);

	/* The citizen's status receipt proves against a cosigned checkpoint. */
	{
		char path[128], auth[200];
		struct curl_slist *h;
		json_t *j;
		const char *proof;
		snprintf(path, sizeof(path), "/v1/messages/%s", code);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", akey);
		h = curl_slist_append(NULL, auth);
		cr_assert_eq(mr_http(NULL, env.base, "GET", path, h, NULL, 0, 5000, &r), 0);
		curl_slist_free_all(h);
		cr_assert_eq(r.status, 200, "%s", r.body);
		j = it_json(&r);
		proof = it_str(j, "receipt.proof");
		cr_assert_not_null(proof, "%s", r.body);
		cr_assert(has_cosig(proof), "the receipt carries no cosignature: %s", proof);
		it_save("receipt.json", r.body, r.len);
		it_save("receipt.tlog", proof, strlen(proof));
		{
			/* One base64 letter of the cosignature, mid-signature, changed. */
			char *bad = strdup(proof), *line = strstr(bad, "\xe2\x80\x94 " WNAME " ");
			char *c = line + strlen("\xe2\x80\x94 " WNAME " ") + 40;
			*c = *c == 'A' ? 'B' : 'A';
			it_save("altered.tlog", bad, strlen(bad));
			free(bad);
		}
		json_decref(j);
		mr_http_free(&r);
	}
	cr_assert_eq(it_audit(&out, "verify-receipt", "--receipt", it_path("receipt.json"), "--pubkey",
	                   pubkey, "--witness-key", vkey, NULL),
	             0, "%s", out ? out : "");
	cr_assert(out && strstr(out, "witnesses: 1 of 1"), "%s", out ? out : "");
	free(out);
	out = NULL;
	cr_assert_eq(it_audit(NULL, "verify-receipt", "--receipt", it_path("receipt.tlog"), "--pubkey",
	                   pubkey, "--witness-key", it_path("w1/witness.pub"), "--min-witnesses", "1",
	                   NULL),
	             0);
	/* Altered: fails the witness policy, and only it. */
	cr_assert_eq(it_audit(NULL, "verify-receipt", "--receipt", it_path("altered.tlog"), "--pubkey",
	                   pubkey, "--witness-key", vkey, NULL),
	             33, "an altered cosignature must fail the policy (exit 33, witness)");
	cr_assert_eq(it_audit(NULL, "verify-receipt", "--receipt", it_path("altered.tlog"), "--pubkey",
	                   pubkey, NULL),
	             0, "without a policy, cosignatures are not judged");

	/* A restarted router does not know what the witness holds: its first
	 * push (old 0) meets a 409 naming the size, and the retry from there
	 * with a consistency proof is cosigned. */
	cr_assert_eq(mr_proc_stop(&env, &env.router, SIGTERM), 0);
	cr_assert_eq(mr_router_start(&env), 0);
	post_after_restart();
	{
		char *latest = get("/v1/log/checkpoint", NULL), *nl = strchr(latest, '\n');
		size_t wl;
		cr_assert_not_null(nl);
		nl = strchr(nl + 1, '\n');
		/* origin, size and root: the body the cosignature must cover. */
		nl = strchr(nl + 1, '\n');
		wl = (size_t)(nl + 1 - latest);
		for (until = mr_now_s() + 30;; mr_sleep_ms(100)) {
			note = get("/checkpoint", NULL);
			if (strncmp(note, latest, wl) == 0 && has_cosig(note))
				break;
			free(note);
			cr_assert_lt(mr_now_s(), until, "the restarted router's checkpoint is not cosigned");
		}
		assert_cosigned(note, vkey);
		free(note);
		free(latest);
	}
	IT_DOWN();
}

Test(witness, add_checkpoint_protocol)
{
	static const struct mr_opts opts = {.log_level = "info"};
	char vkey[SN_VKEY_MAX], *a_note, *b_note, *body, *bad;
	uint8_t sk[64], other_pk[32], other_sk[64];
	uint64_t a_size, b_size;
	struct mr_http r;
	size_t len;
	int port;

	IT_UP(&opts);
	snprintf(pubkey, sizeof(pubkey), "%s/keys/store.pub", env.dir);
	post(1, NULL, 0, NULL, 0);
	a_note = get("/v1/log/checkpoint", NULL);
	a_size = strtoull(strchr(a_note, '\n') + 1, NULL, 10);
	post(2, NULL, 0, NULL, 0);
	post(3, NULL, 0, NULL, 0);
	b_note = get("/v1/log/checkpoint", NULL);
	b_size = strtoull(strchr(b_note, '\n') + 1, NULL, 10);
	cr_assert_lt(a_size, b_size);

	port = mr_witness_start(&env, it_path("w2"), "witness.example/w2", it_path("w2.log"), vkey,
	                        sizeof(vkey), &witness_pid[1]);
	cr_assert_gt(port, 0);

	/* First contact: old 0, no proof. */
	body = body_for(0, a_size, a_note, &len, 0);
	add(port, body, len, &r);
	free(body);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_eq(strncmp(r.body, "\xe2\x80\x94 witness.example/w2 ", 23), 0, "%s", r.body);
	{
		char *cat = malloc(strlen(a_note) + r.len + 1);
		strcpy(cat, a_note);
		strcat(cat, r.body);
		assert_cosigned(cat, vkey);
		free(cat);
	}
	mr_http_free(&r);

	/* A client that does not know the size held: 409 names it. */
	body = body_for(0, b_size, b_note, &len, 0);
	add(port, body, len, &r);
	free(body);
	cr_assert_eq(r.status, 409);
	cr_assert_str_eq(r.content_type, "text/x.tlog.size");
	cr_assert_eq(strtoull(r.body, NULL, 10), a_size);
	cr_assert_eq(r.body[r.len - 1], '\n');
	mr_http_free(&r);

	/* A proof that does not hold: 422, nothing kept. */
	body = body_for(a_size, b_size, b_note, &len, 1);
	add(port, body, len, &r);
	free(body);
	cr_assert_eq(r.status, 422, "%s", r.body);
	mr_http_free(&r);

	/* The right proof: cosigned. */
	body = body_for(a_size, b_size, b_note, &len, 0);
	add(port, body, len, &r);
	free(body);
	cr_assert_eq(r.status, 200, "%s", r.body);
	mr_http_free(&r);

	/* Rollback: old above the checkpoint (400), or not the size held (409). */
	body = body_for(b_size, a_size, a_note, &len, 0);
	add(port, body, len, &r);
	free(body);
	cr_assert_eq(r.status, 400);
	mr_http_free(&r);
	body = body_for(a_size, a_size, a_note, &len, 0);
	add(port, body, len, &r);
	free(body);
	cr_assert_eq(r.status, 409);
	cr_assert_eq(strtoull(r.body, NULL, 10), b_size);
	mr_http_free(&r);

	/* A fork: the size held, another root, signed by the log's key. */
	log_key(sk);
	{
		char origin[256];
		size_t n = (size_t)(strchr(b_note, '\n') - b_note);
		memcpy(origin, b_note, n);
		origin[n] = '\0';
		bad = forged(origin, b_size, origin, sk);
		body = body_for(b_size, b_size, bad, &len, 0);
		add(port, body, len, &r);
		free(body);
		cr_assert_eq(r.status, 409, "a fork must be refused: HTTP %ld", r.status);
		mr_http_free(&r);
		free(bad);

		/* Not signed by the log's key: 403. */
		crypto_sign_keypair(other_pk, other_sk);
		bad = forged(origin, b_size, origin, other_sk);
		body = body_for(b_size, b_size, bad, &len, 0);
		add(port, body, len, &r);
		free(body);
		cr_assert_eq(r.status, 403, "HTTP %ld", r.status);
		mr_http_free(&r);
		free(bad);
	}
	/* Another log's origin: 404. A body that is no add-checkpoint: 400. */
	bad = forged("example.org/other-log", 5, "example.org/other-log", sk);
	body = body_for(0, 5, bad, &len, 0);
	add(port, body, len, &r);
	free(body);
	free(bad);
	cr_assert_eq(r.status, 404);
	mr_http_free(&r);
	add(port, "old 01\n\nx\n", 10, &r);
	cr_assert_eq(r.status, 400);
	mr_http_free(&r);

	/* The kept state is still b: a pull run agrees and needs no proof. */
	cr_assert_eq(it_audit(NULL, "witness", "--state", it_path("w2"), "--url", env.base, "--pubkey",
	                   pubkey, NULL),
	             0);
	free(a_note);
	free(b_note);
	IT_DOWN();
}
