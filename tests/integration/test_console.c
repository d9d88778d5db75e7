/* The handler console's API through the real processes: requests signed
 * here as a browser would (RFC 9421, Ed25519, Content-Digest), built by
 * hand with libsodium rather than with the code under test, sent with
 * libcurl to the gateway's console listener and verified by the router. */
#include "it.h"
#include "clamd_fx.h"
#include "ps.h"
#include "samples.h"
#include "pb_id.h"

#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <strings.h>
#include <time.h>

static const struct mr_handler_spec handlers[] = {
	{"alice", "general, disclosure"},
	{"ops", "general"},
};

static const char console_ini[] = "[console]\nlisten_addr = 127.0.0.1\nport = 0\n"
                                  "[handler.ops]\nadmin = yes\n";

static const char letter[] =
	"{\"channel\":\"mailbox\",\"subject\":\"垃圾清运\",\"body\":\"小区的垃圾每天只清运一次。\","
	"\"contact\":{\"name\":\"王五\",\"phone\":\"13900139000\"}}";

static const char application[] =
	"{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"张三\",\"id_type\":\"resident_id\","
	"\"id_number\":\"11010519491231002X\",\"phone\":\"13800000000\"},"
	"\"description\":\"申请公开本机关2024年度道路维修经费预算及执行情况。\","
	"\"form\":\"electronic\",\"delivery\":\"email\",\"submission_mode\":\"online\"}";

static char console_base[64];

/* The console's port, from the gateway's log line. */
static void find_console(void)
{
	int port = mr_gateway_log_port(&env, "console listening on http://127.0.0.1:");

	cr_assert(port > 0, "the gateway did not open its console listener");
	snprintf(console_base, sizeof(console_base), "http://127.0.0.1:%d", port);
}

struct key {
	uint8_t sk[64], pk[32];
};

static struct key key_of(const struct mr_handler *h)
{
	struct key k;

	memcpy(k.sk, h->sk, 64);
	memcpy(k.pk, h->pk, 32);
	return k;
}

/* How to spoil a request. */
struct spoil {
	long created;           /* 0: now */
	const char *nonce;      /* NULL: fresh */
	const char *sent_body;  /* a body other than the signed one */
};

/* Signs and sends one console request. */
static void signed_call(const struct key *k, const char *method, const char *path,
                        const char *body, const struct spoil *sp, struct mr_http *r)
{
	char digest[128], params[512], base[2048], input[600], sighdr[200], hdr[700], keyid[65];
	char nonce[33], b64[100];
	uint8_t h[32], sig[64], rnd[16];
	struct curl_slist *hl = NULL;
	size_t blen = body ? strlen(body) : 0;
	long created = sp && sp->created ? sp->created : (long)time(NULL);
	const char *send = sp && sp->sent_body ? sp->sent_body : body;

	sodium_bin2hex(keyid, sizeof(keyid), k->pk, 32);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(nonce, sizeof(nonce), rnd, sizeof(rnd));
	if (sp && sp->nonce)
		snprintf(nonce, sizeof(nonce), "%s", sp->nonce);
	if (body) {
		crypto_hash_sha256(h, (const uint8_t *)body, blen);
		sodium_bin2base64(b64, sizeof(b64), h, 32, sodium_base64_VARIANT_ORIGINAL);
		snprintf(digest, sizeof(digest), "sha-256=:%s:", b64);
		snprintf(params, sizeof(params),
		         "(\"@method\" \"@path\" \"content-digest\");created=%ld;keyid=\"%s\";"
		         "nonce=\"%s\";alg=\"ed25519\"",
		         created, keyid, nonce);
		snprintf(base, sizeof(base),
		         "\"@method\": %s\n\"@path\": %s\n\"content-digest\": %s\n"
		         "\"@signature-params\": %s",
		         method, path, digest, params);
	} else {
		snprintf(params, sizeof(params),
		         "(\"@method\" \"@path\");created=%ld;keyid=\"%s\";nonce=\"%s\";alg=\"ed25519\"",
		         created, keyid, nonce);
		snprintf(base, sizeof(base), "\"@method\": %s\n\"@path\": %s\n\"@signature-params\": %s",
		         method, path, params);
	}
	crypto_sign_detached(sig, NULL, (const uint8_t *)base, strlen(base), k->sk);
	sodium_bin2base64(b64, sizeof(b64), sig, 64, sodium_base64_VARIANT_ORIGINAL);
	snprintf(input, sizeof(input), "Signature-Input: sig1=%s", params);
	snprintf(sighdr, sizeof(sighdr), "Signature: sig1=:%s:", b64);
	hl = curl_slist_append(hl, input);
	hl = curl_slist_append(hl, sighdr);
	if (body) {
		snprintf(hdr, sizeof(hdr), "Content-Digest: %s", digest);
		hl = curl_slist_append(hl, hdr);
		hl = curl_slist_append(hl, "Content-Type: application/json");
	}
	cr_assert_eq(mr_http(NULL, console_base, method, path, hl, send, send ? strlen(send) : 0, 20000,
	                     r),
	             0, "%s %s: transport failure", method, path);
	curl_slist_free_all(hl);
}

static json_t *ok(const struct key *k, const char *method, const char *path, const char *body)
{
	struct mr_http r;

	signed_call(k, method, path, body, NULL, &r);
	cr_assert_eq(r.status, 200, "%s %s: HTTP %ld: %s", method, path, r.status, r.body);
	json_t *j = it_json(&r);
	mr_http_free(&r);
	return j;
}

static void refused(const struct key *k, const char *method, const char *path, const char *body,
                    const struct spoil *sp, long status, const char *code)
{
	struct mr_http r;

	signed_call(k, method, path, body, sp, &r);
	cr_expect_eq(r.status, status, "%s %s: HTTP %ld, not %ld: %s", method, path, r.status, status,
	             r.body);
	if (status >= 400)
		it_expect_error(&r, code);
	mr_http_free(&r);
}

/* Pulls one message of queue and returns it; *lease gets the token. */
static json_t *pull(const struct key *k, const char *queue, char *id, char *lease)
{
	char body[128];

	snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"wait\":5}", queue);
	json_t *j = ok(k, "POST", "/api/v1/pull", body);
	cr_assert(it_str(j, "message.id") && it_str(j, "lease.token"), "pull found nothing: %s",
	          json_dumps(j, 0));
	snprintf(id, 32, "%s", it_str(j, "message.id"));
	snprintf(lease, 200, "%s", it_str(j, "lease.token"));
	return j;
}

static void up(void)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 2, .extra_ini = console_ini};

	IT_UP(&o);
	find_console();
}

static size_t keep_csp(char *buf, size_t size, size_t n, void *arg)
{
	char *csp = arg;

	if (size * n > 24 && strncasecmp(buf, "Content-Security-Policy:", 24) == 0)
		snprintf(csp, 512, "%.*s", (int)(size * n - 24), buf + 24);
	return size * n;
}

/* A console page: 200, its type, the strict policy, nothing from elsewhere. */
static void page(const char *path, const char *type, const char *needle)
{
	char url[128], csp[512] = "", *ct = NULL;
	CURL *h = curl_easy_init();
	long status = 0;
	FILE *body;
	char *text = NULL;
	size_t len = 0;

	cr_assert(h && (body = open_memstream(&text, &len)));
	snprintf(url, sizeof(url), "%s%s", console_base, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, keep_csp);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, csp);
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	fclose(body);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	cr_expect_eq(status, 200, "%s: %ld", path, status);
	cr_expect(ct && strncmp(ct, type, strlen(type)) == 0, "%s: %s", path, ct ? ct : "-");
	cr_expect(strstr(csp, "default-src 'none'") && strstr(csp, "script-src 'self'") &&
	              !strstr(csp, "unsafe"),
	          "%s: policy %s", path, csp);
	cr_expect(text && strstr(text, needle), "%s lacks %s", path, needle);
	cr_expect(text && !strstr(text, "http://") && !strstr(text, "https://"),
	          "%s loads something from elsewhere", path);
	free(text);
	curl_easy_cleanup(h);
}

Test(console, listeners_keep_their_routes, .init = it_init, .fini = it_fini, .timeout = 120)
{
	struct mr_http r;
	struct key alice;

	up();
	alice = key_of(&env.handlers[0]);
	/* The public port knows no console route, signed or not. */
	cr_assert_eq(mr_http(NULL, env.base, "GET", "/api/v1/queues", NULL, NULL, 0, 5000, &r), 0);
	cr_expect_eq(r.status, 404, "public port served /api/v1/queues: %ld", r.status);
	mr_http_free(&r);
	/* The console port knows no citizen route. */
	cr_assert_eq(mr_http(NULL, console_base, "POST", "/v1/messages", NULL, letter, strlen(letter),
	                     5000, &r),
	             0);
	cr_expect_eq(r.status, 404, "console port served POST /v1/messages: %ld", r.status);
	mr_http_free(&r);
	cr_assert_eq(mr_http(NULL, console_base, "GET", "/healthz", NULL, NULL, 0, 5000, &r), 0);
	cr_expect_eq(r.status, 404);
	mr_http_free(&r);
	/* Unsigned: refused before the router. */
	cr_assert_eq(mr_http(NULL, console_base, "GET", "/api/v1/queues", NULL, NULL, 0, 5000, &r), 0);
	cr_expect_eq(r.status, 401);
	it_expect_error(&r, "unauthenticated");
	mr_http_free(&r);
	/* Signed: the router answers. */
	json_t *j = ok(&alice, "GET", "/api/v1/queues", NULL);
	cr_expect_eq(json_array_size(it_get(j, "queues")), 2, "%s", json_dumps(j, 0));
	json_t *q0 = json_array_get(it_get(j, "queues"), 0);
	cr_expect(json_is_integer(it_get(q0, "due_soon")) && json_is_integer(it_get(q0, "overdue")) &&
	              json_is_integer(it_get(q0, "seriously_overdue")),
	          "%s", json_dumps(j, 0));
	json_decref(j);
	refused(&alice, "GET", "/api/v1/nowhere", NULL, NULL, 404, "not_found");
	/* The console's pages: on the console port only. */
	page("/", "text/html", "<script src=\"/console.js\"");
	page("/console.js", "text/javascript", "crypto.subtle.sign");
	page("/console.css", "text/css", "body");
	cr_assert_eq(mr_http(NULL, env.base, "GET", "/console.js", NULL, NULL, 0, 5000, &r), 0);
	cr_expect_eq(r.status, 404);
	mr_http_free(&r);
	IT_DOWN();
}

Test(console, refusals, .init = it_init, .fini = it_fini, .timeout = 120)
{
	struct spoil sp = {0};
	struct key alice, stranger;

	up();
	alice = key_of(&env.handlers[0]);
	crypto_sign_keypair(stranger.pk, stranger.sk);
	/* A replayed nonce, on a read as well as on a write. */
	sp.nonce = "0123456789abcdef0123456789abcdef";
	refused(&alice, "GET", "/api/v1/queues", NULL, &sp, 200, NULL);
	refused(&alice, "GET", "/api/v1/queues", NULL, &sp, 401, "replay");
	sp.nonce = "fedcba9876543210fedcba9876543210";
	refused(&alice, "POST", "/api/v1/pull", "{\"queue\":\"general\"}", &sp, 200, NULL);
	refused(&alice, "POST", "/api/v1/pull", "{\"queue\":\"general\"}", &sp, 401, "replay");
	/* A stale created, and one from the future. */
	sp = (struct spoil){.created = (long)time(NULL) - 3600};
	refused(&alice, "GET", "/api/v1/queues", NULL, &sp, 401, "stale");
	sp.created = (long)time(NULL) + 3600;
	refused(&alice, "GET", "/api/v1/queues", NULL, &sp, 401, "stale");
	/* The body changed after signing: its digest no longer matches. */
	sp = (struct spoil){.sent_body = "{\"queue\":\"disclosure\"}"};
	refused(&alice, "POST", "/api/v1/pull", "{\"queue\":\"general\"}", &sp, 401, "digest_mismatch");
	/* An unknown key. */
	refused(&stranger, "GET", "/api/v1/queues", NULL, NULL, 401, "unauthenticated");
	/* The router reads the body: unknown fields and bad JSON are 400. */
	refused(&alice, "POST", "/api/v1/pull", "{\"queue\":\"general\",\"x\":1}", NULL, 400,
	        "unknown_field");
	refused(&alice, "POST", "/api/v1/pull", "{\"queue\":", NULL, 400, "invalid_json");
	/* The supervision view needs supervise = yes. */
	refused(&alice, "GET", "/api/v1/supervise", NULL, NULL, 403, "forbidden");
	/* Another department's queue. */
	refused(&alice, "POST", "/api/v1/pull", "{\"queue\":\"roads\"}", NULL, 403, NULL);
	/* Handler changes are mailroom-admin's, never the console's. */
	IT_DOWN();
}

static int trail_names(const char *code, const char *who, const char *const *events, size_t n)
{
	char *out = NULL;
	int found = 1;

	cr_assert_eq(mr_audit_cmd(&env, &out, "trail", code, NULL), 0, "trail: %s", out);
	for (size_t i = 0; i < n; i++) {
		/* the event's line names the handler by key id */
		const char *at = strstr(out, events[i]);
		const char *eol = at ? strchr(at, '\n') : NULL;
		const char *bol = at;
		while (bol && bol > out && bol[-1] != '\n')
			bol--;
		char line[1024] = "";
		if (at)
			snprintf(line, sizeof(line), "%.*s", (int)((eol ? eol : at + strlen(at)) - bol), bol);
		if (!at || !strstr(line, who)) {
			fprintf(stderr, "trail of %s: %s not by %s:\n%s\n", code, events[i], who, out);
			found = 0;
		}
	}
	free(out);
	return found;
}

Test(console, pull_reply_and_decide_in_the_trail, .init = it_init, .fini = it_fini,
     .timeout = 180)
{
	struct mr_http r;
	struct key alice;
	char id[32], lease[200], path[128], body[512], who[80], code[32], dcode[32];
	json_t *j;
	char *out = NULL;

	up();
	alice = key_of(&env.handlers[0]);
	/* The log names the handler by its key's id (pb_actor_id), never by name. */
	char aid[PB_ACTOR_ID_TEXT];
	pb_actor_id(alice.pk, aid);
	snprintf(who, sizeof(who), "handler:%s", aid);

	cr_assert_eq(mr_post_message(NULL, &env, letter, &r), 0);
	cr_assert_eq(r.status, 201, "%s", r.body);
	j = it_json(&r);
	snprintf(code, sizeof(code), "%s", it_str(j, "tracking_code"));
	json_decref(j);
	mr_http_free(&r);

	/* pull, read with the contact, reply */
	json_decref(pull(&alice, "general", id, lease));
	snprintf(path, sizeof(path), "/api/v1/messages/%s", id);
	j = ok(&alice, "GET", path, NULL);
	cr_expect_str_eq(it_str(j, "message.contact.name"), "王五", "%s", json_dumps(j, 0));
	cr_expect_str_eq(it_str(j, "message.status"), "leased");
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/messages/%s/reply", id);
	snprintf(body, sizeof(body), "{\"lease\":\"%s\",\"text\":\"已安排维修，三日内修复。\"}", lease);
	j = ok(&alice, "POST", path, body);
	cr_expect_str_eq(it_str(j, "message.status"), "replied", "%s", json_dumps(j, 0));
	json_decref(j);
	/* the detail now tells the steps, each with its deadline, by key id */
	snprintf(path, sizeof(path), "/api/v1/messages/%s", id);
	j = ok(&alice, "GET", path, NULL);
	json_t *steps = it_get(j, "message.timeline");
	size_t nsteps = json_array_size(steps);
	cr_assert_geq(nsteps, 4, "%s", json_dumps(j, 0));
	cr_expect_str_eq(it_str(json_array_get(steps, 0), "event"), "received");
	cr_expect_str_eq(it_str(json_array_get(steps, nsteps - 1), "event"), "replied");
	cr_expect_str_eq(it_str(json_array_get(steps, nsteps - 1), "actor"), who);
	cr_expect(it_str(json_array_get(steps, 0), "reply_due_at"), "%s", json_dumps(j, 0));
	cr_expect(json_is_false(it_get(j, "message.timeline_partial")));
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/messages/%s/reply", id);
	/* the same reply again: the lease is gone */
	refused(&alice, "POST", path, body, NULL, 409, NULL);

	/* a disclosure application: pull and decide */
	cr_assert_eq(mr_post_disclosure(NULL, &env, application, &r), 0);
	cr_assert_eq(r.status, 201, "%s", r.body);
	j = it_json(&r);
	snprintf(dcode, sizeof(dcode), "%s", it_str(j, "tracking_code"));
	json_decref(j);
	mr_http_free(&r);
	j = pull(&alice, "disclosure", id, lease);
	cr_expect_str_eq(it_str(j, "message.disclosure.applicant.name"), "张三");
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/messages/%s/disclosure/decide", id);
	snprintf(body, sizeof(body),
	         "{\"lease\":\"%s\",\"outcome\":\"disclosed\",\"text\":\"予以公开，见附件。\"}", lease);
	j = ok(&alice, "POST", path, body);
	cr_expect_str_eq(it_str(j, "message.disclosure.phase"), "decided", "%s", json_dumps(j, 0));
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/messages/%s/disclosure/nonsense", id);
	refused(&alice, "POST", path, "{}", NULL, 400, "unknown_step");

	/* The log verifies, and names the key id for every console action. */
	cr_expect_eq(mr_audit_cmd(&env, &out, "verify", NULL), 0, "verify: %s", out);
	free(out);
	static const char *const letter_events[] = {" LEASED", " REPLIED"};
	static const char *const disc_events[] = {" LEASED", " DECIDED"};
	cr_expect(trail_names(code, who, letter_events, 2));
	cr_expect(trail_names(dcode, who, disc_events, 2));
	IT_DOWN();
}

Test(console, handler_added_and_removed_without_restart, .init = it_init, .fini = it_fini,
     .timeout = 180)
{
	struct key carol;
	struct mr_http r;
	char hex[65], *out = NULL, *err = NULL;
	int rc;

	up();
	crypto_sign_keypair(carol.pk, carol.sk);
	sodium_bin2hex(hex, sizeof(hex), carol.pk, 32);
	refused(&carol, "GET", "/api/v1/queues", NULL, NULL, 401, "unauthenticated");

	/* Only a key with admin = yes may change the list. */
	rc = mr_admin_cmd(&env, env.handlers[0].key_path, &out, &err, "handler", "add", "carol",
	                  "--key", hex, "--queues", "general", NULL);
	cr_expect_eq(rc, 5, "alice added a handler: exit %d: %s", rc, err);
	free(out);
	free(err);
	rc = mr_admin_cmd(&env, env.handlers[1].key_path, &out, &err, "handler", "add", "carol",
	                  "--key", hex, "--queues", "general", "--supervise", NULL);
	cr_assert_eq(rc, 0, "handler add: exit %d: %s", rc, err);
	json_t *j = it_json_text(out);
	cr_expect_str_eq(it_str(j, "action"), "added");
	cr_expect_gt(json_integer_value(it_get(j, "log_index")), 0);
	json_decref(j);
	free(out);
	free(err);

	/* No restart: carol acts at once. */
	j = ok(&carol, "GET", "/api/v1/queues", NULL);
	cr_expect_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(j, "queues"), 0), "name")),
	                 "general");
	json_decref(j);
	cr_expect_eq(env.router.starts, 1);
	/* and has the supervision view: one row per department and channel */
	cr_assert_eq(mr_post_message(NULL, &env, letter, &r), 0);
	cr_assert_eq(r.status, 201, "%s", r.body);
	mr_http_free(&r);
	j = ok(&carol, "GET", "/api/v1/supervise", NULL);
	json_t *row = json_array_get(it_get(j, "departments"), 0);
	cr_expect_str_eq(it_str(row, "department"), "general", "%s", json_dumps(j, 0));
	cr_expect_str_eq(it_str(row, "channel"), "mailbox");
	cr_expect_eq(json_integer_value(it_get(row, "open")), 1);
	json_decref(j);

	rc = mr_admin_cmd(&env, env.handlers[1].key_path, &out, &err, "handler", "remove", "carol",
	                  NULL);
	cr_assert_eq(rc, 0, "handler remove: exit %d: %s", rc, err);
	free(out);
	free(err);
	/* Removed: the next request signed by carol is refused. */
	refused(&carol, "GET", "/api/v1/queues", NULL, NULL, 401, "unauthenticated");
	rc = mr_admin_cmd(&env, env.handlers[1].key_path, &out, &err, "handler", "remove", "carol",
	                  NULL);
	cr_expect_eq(rc, 11, "removing twice: exit %d: %s", rc, err);
	free(out);
	free(err);

	/* An ini handler can be removed too, and the removal outlives a restart. */
	rc = mr_admin_cmd(&env, env.handlers[1].key_path, &out, &err, "handler", "remove", "alice",
	                  NULL);
	cr_assert_eq(rc, 0, "remove alice: exit %d: %s", rc, err);
	free(out);
	free(err);
	struct key alice = key_of(&env.handlers[0]);
	refused(&alice, "GET", "/api/v1/queues", NULL, NULL, 401, "unauthenticated");
	cr_assert_eq(mr_proc_stop(&env, &env.router, SIGTERM) >= 0, 1);
	cr_assert_eq(mr_router_start(&env), 0);
	refused(&alice, "GET", "/api/v1/queues", NULL, NULL, 401, "unauthenticated");

	/* The changes are signed records naming keys, never names; the log verifies. */
	cr_expect_eq(mr_audit_cmd(&env, &out, "verify", NULL), 0, "verify: %s", out);
	free(out);
	IT_DOWN();
}

Test(console, router_away_is_503, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 2, .extra_ini = console_ini,
	                          .router_timeout_ms = 1500};
	struct key alice;
	struct mr_http r;

	IT_UP(&o);
	find_console();
	alice = key_of(&env.handlers[0]);
	json_decref(ok(&alice, "GET", "/api/v1/queues", NULL));
	cr_assert_eq(mr_proc_stop(&env, &env.router, SIGTERM) >= 0, 1);
	signed_call(&alice, "POST", "/api/v1/pull", "{\"queue\":\"general\"}", NULL, &r);
	cr_expect_eq(r.status, 503, "HTTP %ld: %s", r.status, r.body);
	cr_expect_str_eq(r.retry_after, "1");
	it_expect_error(&r, "unavailable");
	mr_http_free(&r);
	/* back: served again, no restart of the gateway */
	cr_assert_eq(mr_router_start(&env), 0);
	json_decref(ok(&alice, "GET", "/api/v1/queues", NULL));
	IT_DOWN();
}

/* A supervisor sees every department's open messages, most urgent first,
 * and opens any one's trail; outside the supervisor's own queues the
 * message shows as the citizen sees it, without its body or contact. */
Test(console, supervisor_lists_items_and_opens_any_trail, .init = it_init, .fini = it_fini,
     .timeout = 180)
{
	struct key sup;
	struct mr_http r;
	char hex[65], path[128], *out = NULL, *err = NULL;
	int rc;

	up();
	crypto_sign_keypair(sup.pk, sup.sk);
	sodium_bin2hex(hex, sizeof(hex), sup.pk, 32);
	rc = mr_admin_cmd(&env, env.handlers[1].key_path, &out, &err, "handler", "add", "dong",
	                  "--key", hex, "--queues", "disclosure", "--supervise", NULL);
	cr_assert_eq(rc, 0, "handler add: exit %d: %s", rc, err);
	free(out);
	free(err);
	cr_assert_eq(mr_post_message(NULL, &env, letter, &r), 0);
	cr_assert_eq(r.status, 201, "%s", r.body);
	json_t *sub = it_json_text(r.body);
	mr_http_free(&r);

	json_t *j = ok(&sup, "GET", "/api/v1/supervise", NULL);
	json_t *items = it_get(j, "items");
	cr_assert_eq(json_array_size(items), 1, "%s", json_dumps(j, 0));
	json_t *it = json_array_get(items, 0);
	cr_expect_str_eq(it_str(it, "id"), it_str(sub, "id"));
	cr_expect_str_eq(it_str(it, "tracking_code"), it_str(sub, "tracking_code"));
	cr_expect_str_eq(it_str(it, "department"), "general");
	cr_expect_str_eq(it_str(it, "status"), "queued");
	cr_expect_str_eq(it_str(it, "step"), "none");
	cr_expect(json_is_string(it_get(it, "reply_due_at")));
	cr_expect(json_is_false(it_get(j, "items_partial")));

	snprintf(path, sizeof(path), "/api/v1/messages/%s", it_str(sub, "id"));
	json_t *d = ok(&sup, "GET", path, NULL);
	json_t *m = it_get(d, "message");
	cr_expect_str_eq(it_str(m, "tracking_code"), it_str(sub, "tracking_code"));
	cr_expect(json_array_size(it_get(m, "timeline")) >= 2, "%s", json_dumps(d, 0));
	const char *body = json_string_value(json_object_get(m, "body"));
	cr_expect(!body || !*body, "a supervisor outside the queue sees no body: %s", body);
	cr_expect_null(json_object_get(m, "contact"), "nor the contact");
	json_decref(d);
	json_decref(j);
	json_decref(sub);
	IT_DOWN();
}

/* The message list's search box: the signed POST search, in the
 * handler's queues only, with precise refusals. */
Test(console, search_box, .init = it_init, .fini = it_fini, .timeout = 120)
{
	struct key alice, other;
	struct mr_http r;
	char hex[65], *out = NULL, *err = NULL;
	int rc;

	up();
	alice = key_of(&env.handlers[0]);
	crypto_sign_keypair(other.pk, other.sk);
	sodium_bin2hex(hex, sizeof(hex), other.pk, 32);
	rc = mr_admin_cmd(&env, env.handlers[1].key_path, &out, &err, "handler", "add", "zhao",
	                  "--key", hex, "--queues", "roads", NULL);
	cr_assert_eq(rc, 0, "handler add: exit %d: %s", rc, err);
	free(out);
	free(err);
	cr_assert_eq(mr_post_message(NULL, &env, letter, &r), 0);
	cr_assert_eq(r.status, 201, "%s", r.body);
	json_t *sub = it_json_text(r.body);
	mr_http_free(&r);

	json_t *j = ok(&alice, "POST", "/api/v1/search", "{\"words\":\"垃圾 清运\",\"state\":\"queued\"}");
	json_t *list = it_get(j, "messages");
	cr_assert_eq(json_array_size(list), 1, "%s", json_dumps(j, 0));
	cr_expect_str_eq(it_str(json_array_get(list, 0), "id"), it_str(sub, "id"));
	cr_expect_str_eq(it_str(json_array_get(list, 0), "subject"), "垃圾清运");
	json_decref(j);
	/* the roads handler does not see general's letter */
	j = ok(&other, "POST", "/api/v1/search", "{\"words\":\"垃圾\"}");
	cr_expect_eq(json_array_size(it_get(j, "messages")), 0, "%s", json_dumps(j, 0));
	json_decref(j);
	refused(&alice, "POST", "/api/v1/search", "{\"words\":\"垃圾\",\"state\":\"lost\"}", NULL, 400,
	        "invalid_field");
	refused(&alice, "POST", "/api/v1/search", "{\"queue\":\"roads\"}", NULL, 403, "queue_forbidden");
	json_decref(sub);
	IT_DOWN();
}

/* Referral and a plain channel's repeat through the console's signed
 * routes: the detail shows the earlier case and the referral both ways. */
Test(console, refer_and_decide_a_repeat, .init = it_init, .fini = it_fini, .timeout = 120)
{
	struct mr_http r;
	struct key alice;
	char id[32], first[32], lease[200], path[128], body[512], newcode[32];
	json_t *j;

	up();
	alice = key_of(&env.handlers[0]);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(mr_post_message(NULL, &env, letter, &r), 0);
		cr_assert_eq(r.status, 201, "%s", r.body);
		mr_http_free(&r);
	}
	/* the first letter, then the same again from the same phone */
	j = pull(&alice, "general", first, lease);
	cr_expect_null(it_get(j, "message.repeat"), "the first is no repeat");
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/messages/%s/release", first);
	snprintf(body, sizeof(body), "{\"lease\":\"%s\"}", lease);
	json_decref(ok(&alice, "POST", path, body));
	j = pull(&alice, "general", id, lease);
	if (strcmp(id, first) == 0) {   /* released ahead: take the other */
		json_decref(j);
		snprintf(path, sizeof(path), "/api/v1/messages/%s/release", first);
		snprintf(body, sizeof(body), "{\"lease\":\"%s\"}", lease);
		json_decref(ok(&alice, "POST", path, body));
		json_decref(pull(&alice, "general", first, lease));
		j = pull(&alice, "general", id, lease);
	}
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/messages/%s", id);
	j = ok(&alice, "GET", path, NULL);
	cr_expect(it_str(j, "message.repeat.of_tracking_code") != NULL, "%s", json_dumps(j, 0));
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/messages/%s/repeat", id);
	refused(&alice, "POST", path, "{\"decision\":\"maybe\"}", NULL, 400, "invalid_field");
	j = ok(&alice, "POST", path, "{\"decision\":\"dismissed\"}");
	cr_expect_str_eq(it_str(j, "message.repeat.decision"), "dismissed");
	json_decref(j);

	/* refer it to complaints */
	snprintf(path, sizeof(path), "/api/v1/messages/%s/refer", id);
	snprintf(body, sizeof(body), "{\"lease\":\"%s\",\"to\":\"nowhere\",\"reason\":\"x\"}", lease);
	refused(&alice, "POST", path, body, NULL, 400, "invalid_channel");
	snprintf(body, sizeof(body), "{\"lease\":\"%s\",\"to\":\"complaint\",\"reason\":\"转投诉件办理。\"}",
	         lease);
	j = ok(&alice, "POST", path, body);
	cr_expect_str_eq(it_str(j, "message.status"), "replied");
	cr_assert(mr_is_track(it_str(j, "message.referred_to.tracking_code")), "%s", json_dumps(j, 0));
	snprintf(newcode, sizeof(newcode), "%s", it_str(j, "message.referred_to.tracking_code"));
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/messages/%s", id);
	j = ok(&alice, "GET", path, NULL);
	cr_expect_str_eq(it_str(j, "message.referred_to.tracking_code"), newcode);
	json_decref(j);
	IT_DOWN();
}

/* A petition's steps through the console, as mailroom-handler petition
 * takes them: accept, extend, answer on the lease, review. */
Test(console, petition_steps, .init = it_init, .fini = it_fini, .timeout = 120)
{
	struct ps p = {.attempts = 5, .backoff_ms = 300};
	struct ps_answer a;
	struct key alice;
	char id[32], lease[200], path[160], body[512];
	json_t *j;

	up();
	mr_wait_past_gateway_start(&env);
	alice = key_of(&env.handlers[0]);
	snprintf(p.base, sizeof(p.base), "%s", env.base);
	snprintf(p.app_id, sizeof(p.app_id), "%s", MR_PETITION_APP);
	snprintf(p.secret, sizeof(p.secret), "%s", env.petition_secret);
	char *t = ps_transfer("XF-CONSOLE-1", "违建", "小区违建长期未拆除。", (long)time(NULL) - 60);
	cr_assert_eq(ps_deliver(&p, t, &a), 0);
	free(t);
	cr_assert_eq(a.status, 201, "%s", a.body);
	j = it_json_text(a.body);
	snprintf(id, sizeof(id), "%s", it_str(j, "id"));
	json_decref(j);

	snprintf(path, sizeof(path), "/api/v1/messages/%s/petition/accept", id);
	j = ok(&alice, "POST", path, "{}");
	cr_expect_str_eq(it_str(j, "message.petition.stage"), "accepted");
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/messages/%s/petition/extend", id);
	j = ok(&alice, "POST", path, "{\"days\":30,\"approver\":\"王局长\",\"reason\":\"需现场勘验\"}");
	cr_expect_eq(json_integer_value(it_get(j, "message.petition.extensions")), 1);
	json_decref(j);
	refused(&alice, "POST", path, "{\"days\":1,\"approver\":\"王局长\",\"reason\":\"再延\"}", NULL,
	        422, "extension_cap");
	snprintf(path, sizeof(path), "/api/v1/messages/%s/petition/nonsense", id);
	refused(&alice, "POST", path, "{}", NULL, 400, "unknown_step");

	json_decref(pull(&alice, "general", id, lease));
	snprintf(path, sizeof(path), "/api/v1/messages/%s/petition/answer", id);
	snprintf(body, sizeof(body), "{\"lease\":\"%s\",\"text\":\"已责令限期拆除。\"}", lease);
	j = ok(&alice, "POST", path, body);
	cr_expect_str_eq(it_str(j, "message.petition.stage"), "answered");
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/messages/%s/petition/review", id);
	j = ok(&alice, "POST", path, "{}");
	cr_expect_str_eq(it_str(j, "message.petition.stage"), "review");
	cr_expect_str_eq(it_str(j, "message.status"), "queued");
	json_decref(j);
	IT_DOWN();
}

/* Merge, unmerge, an assisting queue's opinion and the list of opinions
 * owed, through the console: each answered 200 with the message view
 * (the write was committed, so anything else would tell the browser it
 * was not). */
Test(console, merge_assist_and_opinion, .init = it_init, .fini = it_fini, .timeout = 120)
{
	struct mr_http r;
	struct key alice;
	char ids[2][32], path[128], body[256];
	json_t *j;

	up();
	alice = key_of(&env.handlers[0]);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(mr_post_message(NULL, &env, letter, &r), 0);
		cr_assert_eq(r.status, 201, "%s", r.body);
		j = it_json(&r);
		snprintf(ids[i], sizeof(ids[i]), "%s", it_str(j, "id"));
		json_decref(j);
		mr_http_free(&r);
	}
	snprintf(path, sizeof(path), "/api/v1/messages/%s/merge", ids[0]);
	snprintf(body, sizeof(body), "{\"refs\":[\"%s\"],\"reason\":\"同一事项\"}", ids[1]);
	j = ok(&alice, "POST", path, body);
	cr_expect_eq(json_array_size(it_get(j, "message.merged")), 1, "%s", json_dumps(j, 0));
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/messages/%s/unmerge", ids[1]);
	j = ok(&alice, "POST", path, "{\"reason\":\"并错了\"}");
	cr_expect_str_eq(it_str(j, "message.status"), "queued");
	json_decref(j);

	snprintf(path, sizeof(path), "/api/v1/messages/%s/assist", ids[0]);
	j = ok(&alice, "POST", path, "{\"queue\":\"disclosure\",\"reason\":\"请提供意见\"}");
	cr_expect_eq(json_array_size(it_get(j, "message.assists")), 1, "%s", json_dumps(j, 0));
	json_decref(j);
	j = ok(&alice, "GET", "/api/v1/assists", NULL);
	cr_assert_eq(json_array_size(it_get(j, "cases")), 1, "%s", json_dumps(j, 0));
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(it_get(j, "cases"), 0), "id")),
	                 ids[0]);
	cr_expect(json_is_false(it_get(j, "partial")));
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/messages/%s/opinion", ids[0]);
	j = ok(&alice, "POST", path, "{\"text\":\"无不同意见。\",\"queue\":\"disclosure\"}");
	cr_expect(json_is_string(json_object_get(json_array_get(it_get(j, "message.assists"), 0),
	                                         "delivered_at")),
	          "%s", json_dumps(j, 0));
	json_decref(j);
	j = ok(&alice, "GET", "/api/v1/assists", NULL);
	cr_expect_eq(json_array_size(it_get(j, "cases")), 0, "%s", json_dumps(j, 0));
	json_decref(j);
	IT_DOWN();
}

/* A message's files in the console: listed with type, size and scan
 * state, and a clean one read in pieces, as the console downloads it. */
Test(console, message_files, .init = it_init, .fini = it_fini, .timeout = 120)
{
	static struct clamd_fx clam;
	char dir[64], clam_dir[96], ini[1024], body[256], path[160], id[32];
	uint8_t png[4096], got[4096];
	size_t npng = sample_png(png, "the lamp"), ngot = 0;
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: image/png");
	struct mr_http r;
	struct key alice;
	json_t *j, *a = NULL, *f = NULL;

	snprintf(dir, sizeof(dir), "/tmp/mr-itcons-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(clam_dir, sizeof(clam_dir), "%s/clamd", dir);
	cr_assert_eq(clamd_fx_start(&clam, clam_dir), 0, "clamd must start");
	snprintf(ini, sizeof(ini), "%s[attachments]\nclamd = %s\nscan_interval_ms = 100\n",
	         console_ini, clam.addr);
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 2, .extra_ini = ini};
	IT_UP(&o);
	find_console();
	alice = key_of(&env.handlers[0]);
	cr_assert_eq(mr_http(NULL, env.base, "POST", "/v1/uploads", h, png, npng, 20000, &r), 0);
	curl_slist_free_all(h);
	cr_assert_eq(r.status, 201, "%s", r.body);
	j = it_json(&r);
	snprintf(body, sizeof(body),
	         "{\"channel\":\"mailbox\",\"subject\":\"附件\",\"body\":\"请看附件。\","
	         "\"attachments\":[\"%s\"]}",
	         it_str(j, "handle"));
	json_decref(j);
	mr_http_free(&r);
	cr_assert_eq(mr_post_message(NULL, &env, body, &r), 0);
	cr_assert_eq(r.status, 201, "%s", r.body);
	j = it_json(&r);
	snprintf(id, sizeof(id), "%s", it_str(j, "id"));
	json_decref(j);
	mr_http_free(&r);

	snprintf(path, sizeof(path), "/api/v1/messages/%s", id);
	for (int i = 0; i < 150; i++, mr_sleep_ms(100)) {
		json_decref(a);
		a = ok(&alice, "GET", path, NULL);
		f = json_array_get(it_get(a, "message.attachments"), 0);
		if (f && strcmp(it_str(f, "scan"), "clean") == 0)
			break;
	}
	cr_assert_not_null(f, "the message lists no file");
	cr_expect_str_eq(it_str(f, "type"), "image/png");
	cr_expect_eq(json_integer_value(it_get(f, "size")), (json_int_t)npng);
	cr_assert_str_eq(it_str(f, "scan"), "clean");
	json_decref(a);

	snprintf(path, sizeof(path), "/api/v1/messages/%s/files/0", id);
	j = ok(&alice, "POST", path, "{\"offset\":0}");
	cr_expect_str_eq(it_str(j, "type"), "image/png");
	cr_expect(json_is_true(it_get(j, "last")));
	cr_assert_eq(sodium_base642bin(got, sizeof(got), it_str(j, "data"), strlen(it_str(j, "data")),
	                               NULL, &ngot, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	cr_expect(ngot == npng && memcmp(got, png, npng) == 0, "not the citizen's file");
	json_decref(j);
	snprintf(path, sizeof(path), "/api/v1/messages/%s/files/1", id);
	refused(&alice, "POST", path, "{}", NULL, 404, "not_found");
	snprintf(path, sizeof(path), "/api/v1/messages/%s/files/01", id);
	refused(&alice, "POST", path, "{}", NULL, 400, "invalid_field");
	IT_DOWN();
	clamd_fx_stop(&clam);
	snprintf(body, sizeof(body), "rm -rf %s", dir);
	cr_expect_eq(system(body), 0);
}
