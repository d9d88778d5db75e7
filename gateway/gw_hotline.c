/* 12345 push authentication (hotline-12345.md, "Authentication"):
 *   X-Signature = hex(HMAC-SHA256(app_secret, METHOD "\n" PATH_WITH_QUERY
 *                 "\n" TIMESTAMP "\n" NONCE "\n" hex(SHA256(body))))
 * and the memory of nonces that makes a captured request useless.
 *
 * Checks run cheapest first, and a nonce is remembered only once its
 * signature is good, so unauthenticated traffic cannot fill the cache.
 * The cache lives in memory; so that a restart cannot reopen the replay
 * window, timestamps at or before the gateway's start are refused as
 * stale (the platform signs every retry anew, so it only retries). */
#include "gw.h"
#include "pb_err.h"
#include "pb_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_NIL UINT32_MAX

/* ------------------------------------------------------- nonce cache -- */

int gw_nonces_init(struct gw_nonces *n, size_t cap)
{
	memset(n, 0, sizeof(*n));
	if (cap == 0 || cap > GW_NIL / 2)
		return PB_EINVAL;
	n->cap = cap;
	n->nbuckets = 1;
	while (n->nbuckets < cap)
		n->nbuckets <<= 1;
	n->ents = calloc(cap, sizeof(*n->ents));
	n->buckets = malloc(n->nbuckets * sizeof(*n->buckets));
	if (!n->ents || !n->buckets) {
		free(n->ents);
		free(n->buckets);
		return PB_ENOMEM;
	}
	for (size_t i = 0; i < n->nbuckets; i++)
		n->buckets[i] = GW_NIL;
	/* Keyed, so a sender cannot aim many nonces at one bucket. */
	crypto_shorthash_keygen(n->key);
	pthread_mutex_init(&n->mu, NULL);
	return PB_OK;
}

void gw_nonces_fini(struct gw_nonces *n)
{
	if (!n->ents)
		return;
	pthread_mutex_destroy(&n->mu);
	free(n->ents);
	free(n->buckets);
	n->ents = NULL;
	n->buckets = NULL;
}

static uint64_t nonce_hash(const struct gw_nonces *n, int app, const char *nonce, size_t len)
{
	uint8_t in[1 + GW_NONCE_MAX], out[crypto_shorthash_BYTES];
	uint64_t h;

	in[0] = (uint8_t)app;
	memcpy(in + 1, nonce, len);
	crypto_shorthash(out, in, 1 + len, n->key);
	memcpy(&h, out, sizeof(h));
	return h;
}

/* Removes the oldest entry from its bucket chain and the ring. */
static void drop_oldest(struct gw_nonces *n)
{
	uint32_t idx = (uint32_t)n->head;
	uint32_t *link = &n->buckets[n->ents[idx].hash & (n->nbuckets - 1)];

	while (*link != GW_NIL && *link != idx)
		link = &n->ents[*link].next;
	if (*link == idx)
		*link = n->ents[idx].next;
	n->head = (n->head + 1) % n->cap;
	n->count--;
}

int gw_nonces_add(struct gw_nonces *n, int app, const char *nonce, int64_t now_s, int64_t keep_s)
{
	size_t len = strlen(nonce);
	int rc = PB_OK;

	if (len > GW_NONCE_MAX || app < 0 || app > 255)
		return PB_EINVAL;
	uint64_t h = nonce_hash(n, app, nonce, len);
	pthread_mutex_lock(&n->mu);
	/* The ring is in arrival order and every entry is kept for the same
	 * time, so expired entries are all at the head. */
	while (n->count > 0 && n->ents[n->head].expires_s <= now_s)
		drop_oldest(n);
	uint32_t *bucket = &n->buckets[h & (n->nbuckets - 1)];
	for (uint32_t i = *bucket; i != GW_NIL; i = n->ents[i].next) {
		const struct gw_nonce_ent *e = &n->ents[i];
		if (e->hash == h && e->app == app && strcmp(e->nonce, nonce) == 0) {
			rc = PB_EREPLAY;
			goto out;
		}
	}
	/* Full of live nonces: refuse rather than forget one early, which
	 * would reopen its replay window. */
	if (n->count == n->cap) {
		rc = PB_EFULL;
		goto out;
	}
	uint32_t idx = (uint32_t)((n->head + n->count) % n->cap);
	struct gw_nonce_ent *e = &n->ents[idx];
	e->hash = h;
	e->expires_s = now_s + keep_s;
	e->app = (uint8_t)app;
	memcpy(e->nonce, nonce, len + 1);
	e->next = *bucket;
	*bucket = idx;
	n->count++;
out:
	pthread_mutex_unlock(&n->mu);
	return rc;
}

size_t gw_nonces_count(struct gw_nonces *n)
{
	size_t c;

	pthread_mutex_lock(&n->mu);
	c = n->count;
	pthread_mutex_unlock(&n->mu);
	return c;
}

/* ------------------------------------------------------------- apps -- */

int gw_hotline_init(struct gw_hotline *h, int64_t skew_s, int64_t start_s, size_t nonce_cap)
{
	struct gw_appset *s = calloc(1, sizeof(*s));
	int rc;

	memset(h, 0, sizeof(*h));
	if (!s)
		return PB_ENOMEM;
	atomic_init(&h->set, s);
	h->skew_s = skew_s;
	h->start_s = start_s;
	if ((rc = gw_nonces_init(&h->nonces, nonce_cap)) != PB_OK)
		gw_appset_free(s);
	return rc;
}

void gw_appset_free(struct gw_appset *s)
{
	while (s) {
		struct gw_appset *older = s->older;

		sodium_memzero(s, sizeof(*s));
		free(s);
		s = older;
	}
}

void gw_hotline_fini(struct gw_hotline *h)
{
	gw_appset_free(atomic_exchange(&h->set, NULL));
	gw_nonces_fini(&h->nonces);
}

static int find_app(const struct gw_appset *s, const char *id)
{
	if (!id)
		return -1;
	for (int i = 0; i < s->napps; i++)
		if (strcmp(s->apps[i].id, id) == 0)
			return i;
	return -1;
}

/* The app's tag in the running set, so its nonces stay remembered across
 * a reload; a new app takes the lowest tag neither set uses. */
static uint8_t tag_for(const struct gw_appset *run, const struct gw_appset *s, const char *id)
{
	int i = run ? find_app(run, id) : -1;
	uint8_t t = 0;

	if (i >= 0)
		return run->apps[i].tag;
	for (int taken = 1; taken; t++) {
		taken = 0;
		for (int j = 0; run && j < run->napps; j++)
			taken |= run->apps[j].tag == t;
		for (int j = 0; j < s->napps; j++)
			taken |= s->apps[j].tag == t;
		if (!taken)
			return t;
	}
	return t;
}

static int set_add(const struct gw_appset *run, struct gw_appset *s, const char *id,
                   const uint8_t *key, size_t keylen)
{
	if (s->napps == PB_MAX_HOTLINE_APPS || strlen(id) >= PB_NAME_MAX || !*id ||
	    keylen < GW_APP_KEY_MIN || keylen > GW_APP_KEY_MAX || find_app(s, id) >= 0)
		return PB_EINVAL;
	struct gw_app *a = &s->apps[s->napps];
	memcpy(a->id, id, strlen(id) + 1);
	memcpy(a->key, key, keylen);
	a->keylen = keylen;
	a->tag = tag_for(run, s, id);
	s->napps++;
	return PB_OK;
}

/* Before the gateway serves (and in tests): adds to the running set. */
int gw_hotline_add_app(struct gw_hotline *h, const char *id, const uint8_t *key, size_t keylen)
{
	struct gw_appset *s = atomic_load(&h->set);

	return set_add(s, s, id, key, keylen);
}

/* Hex, like every other secret file of Mailroom. A platform that issues
 * its app_secret as text signs with the bytes of that text: the file then
 * holds the hex of those bytes. */
int gw_hotline_secret_parse(const uint8_t *buf, size_t len, uint8_t *key, size_t *keylen)
{
	size_t got = 0;
	const char *end = NULL;

	while (len > 0 && strchr(" \t\r\n", buf[len - 1]))
		len--;
	if (len % 2 || len < 2 * GW_APP_KEY_MIN || len > 2 * GW_APP_KEY_MAX)
		return PB_EINVAL;
	if (sodium_hex2bin(key, GW_APP_KEY_MAX, (const char *)buf, len, NULL, &got, &end) != 0 ||
	    got != len / 2 || end != (const char *)buf + len)
		return PB_EINVAL;
	*keylen = got;
	return PB_OK;
}

int gw_apps_load(struct gw_hotline *h, const struct pb_hotline_app *apps, int n, const char *what,
                 struct gw_appset **out, char *err, size_t errlen)
{
	uint8_t buf[2 * GW_APP_KEY_MAX + 64], key[GW_APP_KEY_MAX];
	struct gw_appset *s = calloc(1, sizeof(*s));
	const struct gw_appset *run = atomic_load(&h->set);
	size_t len, keylen;
	int rc = PB_OK;

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "%s apps: out of memory", what);
		return PB_ENOMEM;
	}
	for (int i = 0; i < n && rc == PB_OK; i++) {
		const struct pb_hotline_app *a = &apps[i];
		rc = pb_read_secret_file(a->secret_file, buf, sizeof(buf), &len);
		if (rc == PB_OK)
			rc = gw_hotline_secret_parse(buf, len, key, &keylen);
		if (rc == PB_OK)
			rc = set_add(run, s, a->app_id, key, keylen);
		sodium_memzero(buf, sizeof(buf));
		sodium_memzero(key, sizeof(key));
		if (rc != PB_OK)
			snprintf(err, errlen, "%s app '%s': secret file %s: %s", what, a->app_id,
			         a->secret_file,
			         rc == PB_EINVAL     ? "must hold 32-128 hex digits" :
			         rc == PB_EFORBIDDEN ? "open to group or others; chmod 600 it" :
			                               pb_err_str(rc));
	}
	if (rc != PB_OK) {
		gw_appset_free(s);
		return rc;
	}
	*out = s;
	return PB_OK;
}

int gw_hotline_load_apps(struct gw_hotline *h, const struct pb_conf *c, struct gw_appset **out,
                         char *err, size_t errlen)
{
	return gw_apps_load(h, c->hotline_apps, c->nhotline_apps, "hotline", out, err, errlen);
}

void gw_hotline_swap(struct gw_hotline *h, struct gw_appset *s, const char *what)
{
	struct gw_appset *run = atomic_load(&h->set);

	for (int i = 0; i < s->napps; i++) {
		int j = find_app(run, s->apps[i].id);
		if (j < 0)
			pb_info("%s app '%s' added", what, s->apps[i].id);
		else if (run->apps[j].keylen != s->apps[i].keylen ||
		         sodium_memcmp(run->apps[j].key, s->apps[i].key, s->apps[i].keylen) != 0)
			pb_info("%s app '%s' has a new secret", what, s->apps[i].id);
	}
	for (int j = 0; j < run->napps; j++)
		if (find_app(s, run->apps[j].id) < 0)
			pb_info("%s app '%s' removed", what, run->apps[j].id);
	/* Requests that loaded the old pointer may still read it. */
	s->older = run;
	atomic_store(&h->set, s);
}

/* ------------------------------------------------------- signatures -- */

void gw_hotline_sign(const uint8_t *key, size_t keylen, const char *method, const char *path,
                     const char *timestamp, const char *nonce, const uint8_t *body,
                     size_t body_len, uint8_t mac[32])
{
	crypto_auth_hmacsha256_state st;
	uint8_t digest[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	static const uint8_t empty[1];

	crypto_hash_sha256(digest, body ? body : empty, body_len);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)method, strlen(method));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)"\n", 1);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)path, strlen(path));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)"\n", 1);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)timestamp, strlen(timestamp));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)"\n", 1);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)nonce, strlen(nonce));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)"\n", 1);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)hex, strlen(hex));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

/* Unix seconds: 1 to 15 digits, nothing else. */
static int parse_ts(const char *s, int64_t *out)
{
	int64_t v = 0;
	size_t n = 0;

	if (!s)
		return -1;
	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n == 15)
			return -1;
		v = v * 10 + (s[n] - '0');
	}
	if (n == 0)
		return -1;
	*out = v;
	return 0;
}

static int stale(const struct gw_hotline *h, const char *timestamp, int64_t now_s)
{
	int64_t ts;

	return parse_ts(timestamp, &ts) || ts > now_s + h->skew_s || ts < now_s - h->skew_s ||
	       ts <= h->start_s;
}

static int nonce_ok(const char *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (n == GW_NONCE_MAX ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return 0;
	}
	return n >= GW_NONCE_MIN;
}

const char *gw_hotline_precheck(struct gw_hotline *h, const char *app_id, const char *timestamp,
                                int64_t now_s)
{
	if (find_app(atomic_load(&h->set), app_id) < 0)
		return "unknown_app";
	if (stale(h, timestamp, now_s))
		return "stale";
	return NULL;
}

const char *gw_hotline_verify(struct gw_hotline *h, const struct gw_hl_auth *a, int64_t now_s)
{
	uint8_t want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
	size_t got_len = 0;
	/* One set for the whole check, whatever a reload does meanwhile. */
	const struct gw_appset *set = atomic_load(&h->set);
	int app = find_app(set, a->app_id);

	if (app < 0)
		return "unknown_app";
	if (stale(h, a->timestamp, now_s))
		return "stale";
	if (!nonce_ok(a->nonce) || !a->signature || strlen(a->signature) != 2 * sizeof(got) ||
	    sodium_hex2bin(got, sizeof(got), a->signature, strlen(a->signature), NULL, &got_len,
	                   NULL) != 0 ||
	    got_len != sizeof(got))
		return "bad_signature";
	gw_hotline_sign(set->apps[app].key, set->apps[app].keylen, a->method, a->path, a->timestamp,
	                a->nonce, a->body, a->body_len, want);
	if (sodium_memcmp(want, got, sizeof(want)) != 0)
		return "bad_signature";
	/* Kept until no timestamp that passes the skew check could carry it. */
	switch (gw_nonces_add(&h->nonces, set->apps[app].tag, a->nonce, now_s, 2 * h->skew_s)) {
	case PB_OK:
		return NULL;
	case PB_EREPLAY:
		return "replay";
	default:
		pb_warn("hotline: nonce cache full, refusing app '%s' for now", a->app_id);
		return "unavailable";
	}
}
