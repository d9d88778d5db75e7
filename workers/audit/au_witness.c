/* witness: an auditor's memory of the log. DIR keeps the last checkpoint
 * this witness accepted (DIR/checkpoint, replaced atomically, with the
 * witness's cosignature when it has a key) and the log keys it has
 * followed (DIR/keys). Each run fetches the log's current checkpoint,
 * checks its signature, and accepts it only as an extension of the one
 * kept: a smaller size is a rollback, the same size with another root a
 * fork, a bigger size needs a consistency proof from the log server that
 * holds. On acceptance the checkpoint is cosigned
 * (c2sp.org/tlog-cosignature) and kept; a refusal changes nothing.
 *
 * Key rotation (store/README.md): the new checkpoint must be signed by the
 * key the witness follows, and so must the last record it covers (fetched
 * with its inclusion proof), which must not be a rotation. Otherwise the
 * witness reads every record since its kept checkpoint from the log
 * server (GET /v1/log/entries): each signed by the key in force, chained
 * by prev_hash, the last one included in the new tree, so the records
 * between are the log's own; a rotation among them must be signed by the
 * key before it. Only then does it take the new key and check the
 * checkpoint's signature under it.
 *
 * --keygen makes the witness key: DIR/witness.key (the Ed25519 seed in
 * hex, mode 0600, never overwritten) and witness.pub beside it, the
 * cosignature verifier key "<name>+<hex id>+<base64(0x04 || pk)>". */
#include "au_tlog.h"
#include "pb_err.h"
#include "pb_id.h"
#include "sn.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_FILE "checkpoint"
#define KEYS_FILE "keys"
#define LOCK_FILE ".lock"
#define KEY_FILE "witness.key"

struct wit {
	const struct au_opts *o;
	char name[AU_KEYNAME_MAX];         /* the log key given with --pubkey */
	uint8_t pk[32];
	char keys_path[PB_PATH_MAX];
	struct au_keyring keys;            /* followed: DIR/keys (or --pubkey), then rotations */
	size_t kept_keys;                  /* how many of them DIR/keys held */
	size_t known_keys;                 /* ... before this run's rotations */
	char key_path[PB_PATH_MAX];
	char wname[AU_KEYNAME_MAX];        /* the witness key, when cosigning */
	uint8_t wsk[64];
	int cosign;
	char state[PB_PATH_MAX];
	struct au_note old, cur;
	int have_old;
	char *out;                         /* the note to keep and print */
	size_t outlen;
	const struct sn_addcp *push;       /* --serve: the request, with its proof */
};

static int path_in(char *buf, size_t len, const char *dir, const char *file)
{
	return snprintf(buf, len, "%s/%s", dir, file) < (int)len ? PB_OK : PB_EINVAL;
}

/* witness.key -> witness.pub; other names get .pub added. */
static int pub_path(const char *key, char *buf, size_t len)
{
	size_t n = strlen(key);

	if (n > 4 && strcmp(key + n - 4, ".key") == 0)
		n -= 4;
	return snprintf(buf, len, "%.*s.pub", (int)n, key) < (int)len ? PB_OK : PB_EINVAL;
}

/* The key file's base name without .key: "witness" for witness.key. */
static void default_name(const char *key, char *buf, size_t len)
{
	char copy[PB_PATH_MAX];
	const char *b;
	size_t n;

	snprintf(copy, sizeof(copy), "%s", key);
	b = basename(copy);
	n = strlen(b);
	if (n > 4 && strcmp(b + n - 4, ".key") == 0)
		n -= 4;
	snprintf(buf, len, "%.*s", (int)n, b);
}

/* ---- the witness key ---- */

static int keygen(struct wit *w)
{
	const struct au_opts *o = w->o;
	uint8_t seed[32], pk[32], sk[64];
	char hex[66], pub[PB_PATH_MAX], line[AU_KEYNAME_MAX + 80];
	int fd, rc;

	if (o->url || o->pubkey)
		return au_usage("witness", "--keygen takes no --url or --pubkey");
	if (mkdir(o->state, 0700) != 0 && errno != EEXIST)
		return au_fail(o->json, AU_EXIT_OPEN, "cannot_write", "cannot create %s", o->state);
	if (pub_path(w->key_path, pub, sizeof(pub)))
		return au_fail(o->json, AU_EXIT_INVALID, "invalid", "path too long");
	if (o->wname)
		snprintf(w->wname, sizeof(w->wname), "%s", o->wname);
	else
		default_name(w->key_path, w->wname, sizeof(w->wname));
	if (!sn_name_valid(w->wname) || strlen(w->wname) >= AU_KEYNAME_MAX - 1)
		return au_fail(o->json, AU_EXIT_INVALID, "invalid_name",
		               "'%s' cannot name a key (no spaces, '+' or control characters)",
		               w->wname);
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_bin2hex(hex, sizeof(hex), seed, sizeof(seed));
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	fd = open(w->key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		sodium_memzero(hex, sizeof(hex));
		return au_fail(o->json, AU_EXIT_EXISTS, "exists", "%s exists; it is never replaced",
		               w->key_path);
	}
	hex[64] = '\n';
	rc = fd >= 0 && write(fd, hex, 65) == 65 && fsync(fd) == 0 ? PB_OK : PB_EIO;
	sodium_memzero(hex, sizeof(hex));
	if (fd >= 0 && close(fd) != 0)
		rc = PB_EIO;
	if (rc) {
		unlink(w->key_path);
		return au_fail(o->json, AU_EXIT_OPEN, "cannot_write", "cannot write %s", w->key_path);
	}
	au_vkey_format(w->wname, SN_TYPE_COSIG_V1, pk, line, sizeof(line) - 1);
	strcat(line, "\n");
	if (au_write_atomic(pub, line, strlen(line), 0644))
		return au_fail(o->json, AU_EXIT_OPEN, "cannot_write", "cannot write %s", pub);
	line[strlen(line) - 1] = '\0';
	if (o->json)
		return au_emit(json_pack("{s:s, s:s, s:s, s:s}", "key_file", w->key_path,
		                         "public_key_file", pub, "name", w->wname, "vkey", line));
	printf("%s\n", line);
	return fflush(stdout) == 0 ? AU_EXIT_OK : AU_EXIT_OTHER;
}

static int load_witness_key(struct wit *w)
{
	const struct au_opts *o = w->o;
	char text[160], pub[PB_PATH_MAX], pname[AU_KEYNAME_MAX];
	uint8_t seed[32], pk[32], ppk[32];
	char *line;
	size_t len;
	int rc = pb_read_file(w->key_path, (uint8_t *)text, sizeof(text) - 1, &len);

	if (rc == PB_ENOTFOUND && !o->wkey)
		return AU_EXIT_OK;   /* no key: check and keep, do not cosign */
	if (rc)
		return au_fail(o->json, AU_EXIT_OPEN, "cannot_open", "cannot read %s", w->key_path);
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	text[len] = '\0';
	rc = len == 64 && pb_unhex(text, seed, sizeof(seed)) == PB_OK;
	sodium_memzero(text, sizeof(text));
	if (!rc)
		return au_fail(o->json, AU_EXIT_INVALID, "bad_key", "%s: not a witness key file",
		               w->key_path);
	crypto_sign_seed_keypair(pk, w->wsk, seed);
	sodium_memzero(seed, sizeof(seed));
	if (pub_path(w->key_path, pub, sizeof(pub)) == PB_OK &&
	    au_read_all(pub, 4096, &line, &len) == PB_OK) {
		rc = au_vkey_parse(line, len, SN_TYPE_COSIG_V1, pname, ppk);
		free(line);
		if (rc || memcmp(ppk, pk, 32) != 0)
			return au_fail(o->json, AU_EXIT_INVALID, "bad_key",
			               "%s does not hold the public key of %s", pub, w->key_path);
		if (o->wname && strcmp(o->wname, pname) != 0)
			return au_fail(o->json, AU_EXIT_INVALID, "bad_key", "%s names the witness '%s'",
			               pub, pname);
		snprintf(w->wname, sizeof(w->wname), "%s", pname);
	} else if (o->wname) {
		snprintf(w->wname, sizeof(w->wname), "%s", o->wname);
	} else {
		default_name(w->key_path, w->wname, sizeof(w->wname));
	}
	if (!sn_name_valid(w->wname))
		return au_fail(o->json, AU_EXIT_INVALID, "invalid_name", "'%s' cannot name a key",
		               w->wname);
	w->cosign = 1;
	return AU_EXIT_OK;
}

/* ---- the checkpoints ---- */

static int fetch(struct wit *w, const char *path, size_t max, struct au_http *r)
{
	if (au_http_get(w->o->url, path, max, r) == PB_ENOMEM)
		return au_fail(w->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	if (r->status != 200) {
		int rc = r->status
		             ? au_fail(w->o->json, AU_EXIT_UNAVAILABLE, "unavailable",
		                       "%s%s answered HTTP %ld", w->o->url, path, r->status)
		             : au_fail(w->o->json, AU_EXIT_UNAVAILABLE, "unavailable", "%s", r->error);
		au_http_free(r);
		return rc;
	}
	if (!r->body && !(r->body = calloc(1, 1)))
		return au_fail(w->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	return AU_EXIT_OK;
}

/* DIR/keys: one line per log key followed, "<from size> <key line>", in
 * order. Without it the witness follows --pubkey. */
static int load_keys(struct wit *w)
{
	char *text, *line, *nl;
	size_t len;
	int rc = au_read_all(w->keys_path, 1u << 20, &text, &len);

	if (rc == PB_ENOTFOUND) {
		struct au_key k = {0};
		snprintf(k.name, sizeof(k.name), "%s", w->name);
		memcpy(k.pk, w->pk, 32);
		return au_keyring_add(&w->keys, &k) ? au_fail(w->o->json, AU_EXIT_OTHER, "no_memory",
		                                              "out of memory")
		                                    : AU_EXIT_OK;
	}
	if (rc)
		return au_file_fail(w->o->json, rc, w->keys_path);
	for (line = text; *line; line = nl + 1) {
		struct au_key k = {0};
		char *sp, *end;
		if (!(nl = strchr(line, '\n')) || !(sp = strchr(line, ' ')) || sp > nl)
			goto bad;
		k.from = strtoull(line, &end, 10);
		if (end != sp || (w->keys.n == 0 && k.from != 0) ||
		    (w->keys.n > 0 && k.from <= w->keys.k[w->keys.n - 1].from) ||
		    au_vkey_parse(sp + 1, (size_t)(nl - sp - 1), SN_TYPE_ED25519, k.name, k.pk) ||
		    strcmp(k.name, w->name) != 0)
			goto bad;
		k.index = k.from ? k.from - 1 : 0;
		if (au_keyring_add(&w->keys, &k)) {
			free(text);
			return au_fail(w->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
		}
	}
	free(text);
	if (w->keys.n == 0)
		goto bad_free;
	w->kept_keys = w->keys.n;
	return AU_EXIT_OK;
bad:
	free(text);
bad_free:
	return au_fail(w->o->json, AU_EXIT_INVALID, "bad_state",
	               "%s: not a list of \"<size> <key line>\" for %s", w->keys_path, w->name);
}

static int save_keys(struct wit *w)
{
	char *text = malloc(w->keys.n * (AU_KEYNAME_MAX + 100) + 1), line[AU_KEYNAME_MAX + 80];
	size_t len = 0;
	int rc;

	if (!text)
		return au_fail(w->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	for (size_t i = 0; i < w->keys.n; i++) {
		au_vkey_format(w->keys.k[i].name, SN_TYPE_ED25519, w->keys.k[i].pk, line, sizeof(line));
		len += (size_t)sprintf(text + len, "%llu %s\n", (unsigned long long)w->keys.k[i].from,
		                       line);
	}
	rc = au_write_atomic(w->keys_path, text, len, 0644);
	free(text);
	if (rc)
		return au_fail(w->o->json, AU_EXIT_OPEN, "cannot_write", "cannot write %s",
		               w->keys_path);
	return AU_EXIT_OK;
}

static int load_state(struct wit *w)
{
	char why[256];
	int rc = au_read_all(w->state, AU_NOTE_MAX, &w->old.text, &w->old.len);

	if (rc == PB_ENOTFOUND) {
		w->keys.n = w->known_keys = 1;   /* nothing accepted yet: the key trusted first */
		return AU_EXIT_OK;
	}
	if (rc)
		return au_file_fail(w->o->json, rc, w->state);
	if (au_note_peek(&w->old, w->name, why, sizeof(why)) ||
	    au_note_open_keys(&w->old, &w->keys, why, sizeof(why)))
		return au_fail(w->o->json, AU_EXIT_KEY, "other_log",
		               "%s was not signed by the key %s follows (%s): is this state for "
		               "another log?",
		               w->state, w->kept_keys ? w->keys_path : "--pubkey", why);
	/* Keys written ahead of a checkpoint that was not: found again below. */
	while (w->keys.n > 1 && w->keys.k[w->keys.n - 1].from > w->old.size)
		w->keys.n--;
	w->known_keys = w->keys.n;
	w->have_old = 1;
	return AU_EXIT_OK;
}

static int fetch_current(struct wit *w)
{
	struct au_http r;
	char why[256];
	int rc;

	if ((rc = fetch(w, "/v1/log/checkpoint", AU_NOTE_MAX, &r)))
		return rc;
	w->cur.text = r.body;
	w->cur.len = r.len;
	/* Its signature is judged once the key in force for its size is known. */
	if ((rc = au_note_peek(&w->cur, w->name, why, sizeof(why))))
		return au_report_fail(w->o->json, rc, "checkpoint", 0, "%s/v1/log/checkpoint: %s",
		                      w->o->url, why);
	return AU_EXIT_OK;
}

/* GET /v1/log/proof/inclusion for the last record of the new tree, with
 * the record ("entry"): its value (malloc'd) and leaf, the proof checked
 * against the new checkpoint's root. AU_EXIT_OK, AU_EXIT_INCLUSION, or the
 * answer is unusable (AU_EXIT_UNAVAILABLE, printed). */
static int last_record(struct wit *w, uint8_t **value, size_t *n, uint8_t leaf[MT_HASH_LEN])
{
	uint64_t last = w->cur.size - 1;
	struct au_inclusion p;
	struct au_http r;
	char path[96];
	json_t *doc;
	int rc;

	*value = NULL;
	snprintf(path, sizeof(path), "/v1/log/proof/inclusion?index=%llu&size=%llu",
	         (unsigned long long)last, (unsigned long long)w->cur.size);
	if ((rc = fetch(w, path, 1u << 22, &r)))
		return rc;
	doc = json_loadb(r.body, r.len, 0, NULL);
	au_http_free(&r);
	rc = doc ? au_inclusion_json(doc, &p) : PB_EINVAL;
	json_decref(doc);
	if (rc == PB_ENOMEM)
		return au_fail(w->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	if (rc == PB_OK && p.entry)
		mt_leaf_hash(p.entry, p.elen, leaf);
	if (rc || !p.entry || p.index != last || p.size != w->cur.size ||
	    (p.has_leaf && sodium_memcmp(leaf, p.leaf, MT_HASH_LEN) != 0)) {
		if (rc == PB_OK)
			au_inclusion_free(&p);
		return au_fail(w->o->json, AU_EXIT_UNAVAILABLE, "bad_answer",
		               "%s%s did not answer with that inclusion proof and its record",
		               w->o->url, path);
	}
	if (mt_verify_inclusion(leaf, last, w->cur.size, (const uint8_t(*)[MT_HASH_LEN])p.path,
	                        p.len, w->cur.root)) {
		au_inclusion_free(&p);
		return au_report_fail(w->o->json, AU_EXIT_INCLUSION, "record", last,
		                      "the log's last record is not in the tree its checkpoint signs");
	}
	/* The caller owns the record now. */
	*value = p.entry;
	*n = p.elen;
	free(p.note);
	return AU_EXIT_OK;
}

/* A first run (no checkpoint kept): the checkpoint is signed by the key
 * given, and the last record it covers hands the log to no other key;
 * or that record is the rotation to the key given,
 * taking effect at the new size (a first run with the new key, right
 * after a rotation). *same says so (0: the records must be read); returns
 * an exit code. */
static int no_rotation(struct wit *w, int *same)
{
	const struct au_key *k = &w->keys.k[w->keys.n - 1];
	Mailroom__AuditRecord *rec;
	uint8_t *value, leaf[MT_HASH_LEN];
	char why[256];
	size_t n;
	int rc;

	*same = 0;
	/* With a checkpoint kept, the records since are read: a rotation in
	 * between shows only there, no record being signed. */
	if (w->have_old || au_note_open(&w->cur, k->name, k->pk, why, sizeof(why)) != AU_EXIT_OK)
		return AU_EXIT_OK;
	if ((rc = last_record(w, &value, &n, leaf)))
		return rc;
	rec = mailroom__audit_record__unpack(NULL, n, value);
	if (rec && rec->index == w->cur.size - 1) {
		int rotation = rec->index > 0 && rec->event == MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY;
		if (!rotation)
			*same = 1;
		else
			*same = rec->key.len == 32 && memcmp(rec->key.data, k->pk, 32) == 0 &&
			        rec->key_from_size == w->cur.size;
	}
	if (rec)
		mailroom__audit_record__free_unpacked(rec, NULL);
	free(value);
	return AU_EXIT_OK;
}

/* The state of a read through the records since the kept checkpoint. */
struct scan {
	size_t ki;                         /* keys.k[ki] is in force */
	uint64_t pos;                      /* the next record */
	uint8_t prev[ST_HASH_LEN];         /* hash of record pos - 1 */
	uint8_t leaf[MT_HASH_LEN];         /* leaf of record pos - 1 */
	char why[400];
};

/* The rotation record at p, after k: its handover checkpoint, fetched
 * with the record's inclusion proof, must be signed by k and by the key
 * it names. */
static int handover(struct wit *w, const struct au_key *k, uint64_t p, struct au_key *next,
                    char *why, size_t wlen)
{
	struct au_inclusion pf;
	struct au_http r;
	char path[96];
	json_t *doc;
	int rc;

	snprintf(path, sizeof(path), "/v1/log/proof/inclusion?index=%llu&size=%llu",
	         (unsigned long long)p, (unsigned long long)(p + 1));
	if ((rc = fetch(w, path, 1u << 22, &r)))
		return -rc;
	doc = json_loadb(r.body, r.len, 0, NULL);
	au_http_free(&r);
	rc = doc ? au_inclusion_json(doc, &pf) : PB_EINVAL;
	json_decref(doc);
	if (rc) {
		snprintf(why, wlen, "%s%s did not answer with the rotation's handover proof",
		         w->o->url, path);
		return AU_EXIT_UNAVAILABLE;
	}
	rc = au_rotation_proof(k, &pf, next, why, wlen);
	au_inclusion_free(&pf);
	return rc;
}

/* Record p (value, n bytes) read from the log server. */
static int scan_one(struct wit *w, struct scan *sc, uint64_t start, const uint8_t *value, size_t n)
{
	const struct au_key *k = &w->keys.k[sc->ki];
	Mailroom__AuditRecord *r;
	uint64_t p = sc->pos;
	char a[AU_LABEL_MAX];
	int cls = AU_EXIT_OK;

	if (n == 0 || !(r = mailroom__audit_record__unpack(NULL, n, value)))
		return au_report_fail(w->o->json, AU_EXIT_MALFORMED, "record", p,
		                      "does not parse as an AuditRecord");
	st_key_label(k->name, k->pk, a, sizeof(a));
	if (r->index != p) {
		snprintf(sc->why, sizeof(sc->why), "the log server gave record %llu here",
		         (unsigned long long)r->index);
		cls = AU_EXIT_INDEX;
	} else if (p > start && (r->prev_hash.len != ST_HASH_LEN ||
	                         sodium_memcmp(r->prev_hash.data, sc->prev, ST_HASH_LEN) != 0)) {
		snprintf(sc->why, sizeof(sc->why), "prev_hash is not the hash of record %llu",
		         (unsigned long long)(p - 1));
		cls = AU_EXIT_CHAIN;
	} else if (p == 0 && (r->event != MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY || r->key.len != 32 ||
	                      memcmp(r->key.data, k->pk, 32) != 0)) {
		snprintf(sc->why, sizeof(sc->why), "record 0 does not name %s, the --pubkey key", a);
		cls = AU_EXIT_KEY;
	} else if (p > 0 && r->event == MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY) {
		struct au_key next;
		if ((cls = au_rotation_fields(k, r, p, &next, sc->why, sizeof(sc->why))) == AU_EXIT_OK &&
		    (cls = handover(w, k, p, &next, sc->why, sizeof(sc->why))) == AU_EXIT_OK) {
			if (sc->ki + 1 < w->keys.n) {
				/* Followed already (DIR/keys written, the checkpoint not). */
				if (w->keys.k[sc->ki + 1].from != next.from ||
				    memcmp(w->keys.k[sc->ki + 1].pk, next.pk, 32) != 0) {
					snprintf(sc->why, sizeof(sc->why),
					         "names another key than the one %.200s lists", w->keys_path);
					cls = AU_EXIT_KEY;
				}
			} else if (au_keyring_add(&w->keys, &next)) {
				cls = -1;
			}
			if (cls == AU_EXIT_OK)
				sc->ki++;
		}
	}
	mailroom__audit_record__free_unpacked(r, NULL);
	if (cls == -1)
		return au_fail(w->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	if (cls < 0)
		return -cls;   /* the fetch failed and said so */
	if (cls == AU_EXIT_UNAVAILABLE)
		return au_fail(w->o->json, cls, "bad_answer", "%s", sc->why);
	if (cls)
		return au_report_fail(w->o->json, cls, "record", p, "%s", sc->why);
	crypto_hash_sha256(sc->prev, value, n);
	mt_leaf_hash(value, n, sc->leaf);
	sc->pos++;
	return AU_EXIT_OK;
}

/* Every record from start to the new checkpoint's size, in pages. */
static int scan(struct wit *w, uint64_t start)
{
	struct scan sc = {.pos = start};
	uint8_t *value = NULL, leaf[MT_HASH_LEN];
	size_t n;
	int rc;

	sc.ki = (size_t)(au_keyring_at(&w->keys, start) - w->keys.k);
	while (sc.pos < w->cur.size) {
		struct au_http r;
		char path[96];
		uint64_t got;
		json_t *doc, *all, *e;
		size_t i;
		snprintf(path, sizeof(path), "/v1/log/entries?start=%llu&end=%llu",
		         (unsigned long long)sc.pos, (unsigned long long)w->cur.size);
		if ((rc = fetch(w, path, 1u << 26, &r)))
			return rc;
		doc = json_loadb(r.body, r.len, 0, NULL);
		au_http_free(&r);
		all = json_object_get(doc, "entries");
		if (!doc || au_json_u64(doc, "start", &got) || got != sc.pos || !json_is_array(all) ||
		    json_array_size(all) == 0 || json_array_size(all) > w->cur.size - sc.pos) {
			json_decref(doc);
			return au_fail(w->o->json, AU_EXIT_UNAVAILABLE, "bad_answer",
			               "%s%s did not answer with those entries", w->o->url, path);
		}
		rc = AU_EXIT_OK;
		json_array_foreach(all, i, e)
		{
			const char *b64 = json_string_value(e);
			size_t len = b64 ? strlen(b64) : 0, cap = len / 4 * 3 + 3;
			uint8_t *v = malloc(cap);
			if (!v) {
				rc = au_fail(w->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
			} else if (!b64 || au_b64_decode(b64, len, v, cap, &n)) {
				rc = au_fail(w->o->json, AU_EXIT_UNAVAILABLE, "bad_answer",
				             "%s%s: an entry is not base64", w->o->url, path);
			} else {
				rc = scan_one(w, &sc, start, v, n);
			}
			free(v);
			if (rc)
				break;
		}
		json_decref(doc);
		if (rc)
			return rc;
	}
	/* The last record read is the one the new tree ends with: its
	 * prev_hash chain then makes every record read the log's own. */
	if ((rc = last_record(w, &value, &n, leaf)))
		return rc;
	free(value);
	if (sodium_memcmp(leaf, sc.leaf, MT_HASH_LEN) != 0)
		return au_report_fail(w->o->json, AU_EXIT_INCLUSION, "record", w->cur.size - 1,
		                      "the records the log server gave do not end in the tree its "
		                      "checkpoint signs");
	return AU_EXIT_OK;
}

/* The key in force for the new checkpoint, following rotations, and its
 * signature under that key. */
static int follow(struct wit *w)
{
	uint64_t n0 = w->have_old ? w->old.size : 0;
	char why[400];
	int rc, same;

	if (w->have_old && w->cur.size <= n0) {
		/* Rollback or the same size: judged by size and root (judge). */
		if ((rc = au_note_open_keys(&w->cur, &w->keys, why, sizeof(why))))
			return au_report_fail(w->o->json, rc, "checkpoint", w->cur.size,
			                      "%s%s: %s", w->push ? "the pushed checkpoint" : w->o->url,
			                      w->push ? "" : "/v1/log/checkpoint", why);
		return AU_EXIT_OK;
	}
	if ((rc = no_rotation(w, &same)) || same)
		return rc;
	if ((rc = scan(w, n0 ? n0 - 1 : 0)))
		return rc;
	if ((rc = au_note_open_keys(&w->cur, &w->keys, why, sizeof(why))))
		return au_report_fail(w->o->json, rc, "checkpoint", w->cur.size,
		                      "%s%s: %s", w->push ? "the pushed checkpoint" : w->o->url,
		                      w->push ? "" : "/v1/log/checkpoint", why);
	return AU_EXIT_OK;
}

/* The current checkpoint must extend the kept one. */
static int judge(struct wit *w)
{
	uint8_t proof[MT_PROOF_MAX][MT_HASH_LEN];
	uint64_t pold, pnew;
	struct au_http r;
	char path[96], why[256];
	json_t *doc;
	size_t len = 0;
	int rc;

	if (w->push) {
		/* add-checkpoint brought its own proof, from the size we hold. */
		len = w->push->n;
		memcpy(proof, w->push->proof, len * MT_HASH_LEN);
	} else if (w->cur.size > w->old.size) {
		snprintf(path, sizeof(path), "/v1/log/proof/consistency?old=%llu&new=%llu",
		         (unsigned long long)w->old.size, (unsigned long long)w->cur.size);
		if ((rc = fetch(w, path, 1u << 20, &r)))
			return rc;
		doc = json_loadb(r.body, r.len, 0, NULL);
		au_http_free(&r);
		rc = !doc || au_consistency_json(doc, &pold, &pnew, proof, &len) ||
		     pold != w->old.size || pnew != w->cur.size;
		json_decref(doc);
		if (rc)
			return au_fail(w->o->json, AU_EXIT_UNAVAILABLE, "bad_answer",
			               "%s%s did not answer with that consistency proof", w->o->url,
			               path);
	}
	if ((rc = au_consistent(&w->old, &w->cur, (const uint8_t(*)[MT_HASH_LEN])proof, len, why,
	                        sizeof(why))))
		return au_report_fail(w->o->json, rc, "checkpoint", w->cur.size, "%s", why);
	return AU_EXIT_OK;
}

/* --pubkey must be one of the keys followed: the one trusted first or
 * one proven since. */
static int trusted(struct wit *w)
{
	char a[AU_LABEL_MAX];

	if (au_keyring_find(&w->keys, w->pk))
		return AU_EXIT_OK;
	st_key_label(w->name, w->pk, a, sizeof(a));
	return au_fail(w->o->json, AU_EXIT_KEY, "other_log",
	               "--pubkey %s is not a key of the log this witness follows (%s)", a,
	               w->keys_path);
}

/* The fetched note plus our cosignature line. */
static int cosign(struct wit *w)
{
	char line[SN_LINE_MAX(AU_KEYNAME_MAX)];
	size_t llen = 0;
	int rc;

	if (w->cosign &&
	    (rc = sn_cosign_line(w->cur.text, w->cur.blen, w->wname, w->wsk, (uint64_t)time(NULL),
	                         line, sizeof(line), &llen)))
		return au_fail(w->o->json, AU_EXIT_OTHER, pb_err_name(rc), "cannot cosign: %s",
		               pb_err_str(rc));
	if (!(w->out = malloc(w->cur.len + llen + 1)))
		return au_fail(w->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	memcpy(w->out, w->cur.text, w->cur.len);
	memcpy(w->out + w->cur.len, line, llen);
	w->outlen = w->cur.len + llen;
	w->out[w->outlen] = '\0';
	return AU_EXIT_OK;
}

static int report(struct wit *w)
{
	const struct au_opts *o = w->o;
	const struct au_key *k = au_keyring_at(&w->keys, w->cur.size);
	size_t rotated = w->keys.n - w->known_keys;
	char root[64], key[AU_LABEL_MAX];

	sodium_bin2base64(root, sizeof(root), w->cur.root, MT_HASH_LEN,
	                  sodium_base64_VARIANT_ORIGINAL);
	st_key_label(k->name, k->pk, key, sizeof(key));
	if (o->json)
		return au_emit(json_pack("{s:b, s:o, s:I, s:s, s:b, s:s?, s:s, s:s, s:I}", "ok", 1,
		                         "old_size",
		                         w->have_old ? json_integer((json_int_t)w->old.size)
		                                     : json_null(),
		                         "size", (json_int_t)w->cur.size, "root", root, "cosigned",
		                         w->cosign, "witness", w->cosign ? w->wname : NULL, "note",
		                         w->out, "key", key, "rotations", (json_int_t)rotated));
	if (rotated)
		fprintf(stderr,
		        AU_PROG ": witness: followed %zu key rotation%s, each signed by the key before "
		        "it and in the tree; the log key is now %s\n",
		        rotated, rotated == 1 ? "" : "s", key);
	if (w->have_old)
		fprintf(stderr, AU_PROG ": witness: size %llu -> %llu, consistent%s%s\n",
		        (unsigned long long)w->old.size, (unsigned long long)w->cur.size,
		        w->cosign ? "; cosigned as " : " (no witness key: not cosigned)",
		        w->cosign ? w->wname : "");
	else
		fprintf(stderr, AU_PROG ": witness: first checkpoint kept, size %llu%s%s\n",
		        (unsigned long long)w->cur.size,
		        w->cosign ? "; cosigned as " : " (no witness key: not cosigned)",
		        w->cosign ? w->wname : "");
	fwrite(w->out, 1, w->outlen, stdout);
	return fflush(stdout) == 0 ? AU_EXIT_OK : AU_EXIT_OTHER;
}

static int watch(struct wit *w)
{
	const struct au_opts *o = w->o;
	char lock[PB_PATH_MAX];
	int fd, rc;

	if (!o->url || !o->pubkey)
		return au_usage("witness", "witness needs --url BASE and --pubkey FILE");
	if (path_in(w->state, sizeof(w->state), o->state, STATE_FILE) ||
	    path_in(w->keys_path, sizeof(w->keys_path), o->state, KEYS_FILE) ||
	    path_in(lock, sizeof(lock), o->state, LOCK_FILE))
		return au_fail(o->json, AU_EXIT_INVALID, "invalid", "--state path too long");
	if ((rc = au_pubkey(o->pubkey, o->json, w->name, w->pk)) || (rc = load_witness_key(w)))
		return rc;
	if (mkdir(o->state, 0700) != 0 && errno != EEXIST)
		return au_fail(o->json, AU_EXIT_OPEN, "cannot_write", "cannot create %s", o->state);
	/* One run at a time per state directory. */
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 || flock(fd, LOCK_EX) != 0) {
		if (fd >= 0)
			close(fd);
		return au_fail(o->json, AU_EXIT_OPEN, "cannot_lock", "cannot lock %s", lock);
	}
	if (!(rc = load_keys(w)) && !(rc = load_state(w)) && !(rc = fetch_current(w)) &&
	    !(rc = follow(w)) && (!w->have_old || !(rc = judge(w))) && !(rc = trusted(w)) &&
	    !(rc = cosign(w))) {
		/* The keys first: a crash between the two leaves keys ahead of
		 * the checkpoint, which load_state drops and the next run finds
		 * again. */
		if (!(rc = save_keys(w)) && au_write_atomic(w->state, w->out, w->outlen, 0644))
			rc = au_fail(o->json, AU_EXIT_OPEN, "cannot_write", "cannot write %s", w->state);
		else if (!rc)
			rc = report(w);
	}
	close(fd);
	return rc;
}

/* ---- add-checkpoint (c2sp.org/tlog-witness), one request ---- */

static void wit_free(struct wit *w)
{
	if (!w)
		return;
	sodium_memzero(w->wsk, sizeof(w->wsk));
	free(w->old.text);
	free(w->cur.text);
	free(w->out);
	au_keyring_free(&w->keys);
	free(w);
}

static int key_path_of(struct wit *w)
{
	if (w->o->wkey) {
		snprintf(w->key_path, sizeof(w->key_path), "%s", w->o->wkey);
		return PB_OK;
	}
	return path_in(w->key_path, sizeof(w->key_path), w->o->state, KEY_FILE);
}

static int reply(struct au_wreply *r, int status, const char *ctype, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int reply(struct au_wreply *r, int status, const char *ctype, const char *fmt, ...)
{
	va_list ap;
	int n;

	r->status = status;
	r->ctype = ctype;
	free(r->body);
	r->body = malloc(512);
	r->len = 0;
	if (!r->body)
		return PB_ENOMEM;
	va_start(ap, fmt);
	n = vsnprintf(r->body, 512, fmt, ap);
	va_end(ap);
	r->len = n < 0 ? 0 : (size_t)n < 512 ? (size_t)n : 511;
	return PB_OK;
}

/* The size this witness holds for the log, as the spec's 409 body. */
static int conflict(struct au_wreply *r, const struct wit *w)
{
	return reply(r, 409, SN_TLOG_SIZE_TYPE, "%llu\n",
	      (unsigned long long)(w->have_old ? w->old.size : 0));
}

/* An exit code of the pull pipeline as the spec's status: a signature
 * that is not the log's 403, a log server we cannot ask 503, our own
 * trouble 500, any other evidence that does not hold 422. */
static int status_of(int rc)
{
	switch (rc) {
	case AU_EXIT_CHECKPOINT:
	case AU_EXIT_SIGNATURE:
		return 403;
	case AU_EXIT_UNAVAILABLE:
		return 503;
	case AU_EXIT_OPEN:
	case AU_EXIT_OTHER:
	case AU_EXIT_INVALID:
		return 500;
	default:
		return 422;
	}
}

static int add_checkpoint(struct wit *w, const struct sn_addcp *a, struct au_wreply *r)
{
	size_t n = strlen(w->name);
	char why[256];
	int rc;

	w->push = a;
	/* One log per witness: another origin is unknown here. */
	if (a->note_len <= n || memcmp(a->note, w->name, n) != 0 || a->note[n] != '\n')
		return reply(r, 404, "text/plain; charset=utf-8", "unknown log origin\n");
	if ((rc = load_keys(w)) || (rc = load_state(w)) || (rc = trusted(w)))
		return reply(r, 500, "text/plain; charset=utf-8", "witness state unusable\n");
	if (!(w->cur.text = malloc(a->note_len + 1)))
		return reply(r, 500, "text/plain; charset=utf-8", "out of memory\n");
	memcpy(w->cur.text, a->note, a->note_len);
	w->cur.text[a->note_len] = '\0';
	w->cur.len = a->note_len;
	if (au_note_peek(&w->cur, w->name, why, sizeof(why)))
		return reply(r, 400, "text/plain; charset=utf-8", "not a checkpoint: %s\n", why);
	/* The spec's order: the signature, old <= size, old = the size held,
	 * the proof, and a fork at the same size. */
	if ((rc = follow(w)))
		return reply(r, status_of(rc), "text/plain; charset=utf-8",
		             "the checkpoint does not verify under the log's key\n");
	if (a->old > w->cur.size)
		return reply(r, 400, "text/plain; charset=utf-8", "old size above the checkpoint's\n");
	if (a->old != (w->have_old ? w->old.size : 0))
		return conflict(r, w);
	if (w->have_old && (rc = judge(w)))
		return rc == AU_EXIT_FORK ? conflict(r, w)
		                          : reply(r, status_of(rc), "text/plain; charset=utf-8",
		                                  "the consistency proof does not hold\n");
	if ((rc = cosign(w)) || (rc = save_keys(w)))
		return reply(r, 500, "text/plain; charset=utf-8", "cannot cosign\n");
	/* Persisted before the answer: a crash after it loses nothing. */
	if (au_write_atomic(w->state, w->out, w->outlen, 0644))
		return reply(r, 500, "text/plain; charset=utf-8", "cannot keep the checkpoint\n");
	fprintf(stderr, AU_PROG ": witness: add-checkpoint size %llu -> %llu, cosigned as %s\n",
	        (unsigned long long)a->old, (unsigned long long)w->cur.size, w->wname);
	return reply(r, 200, "text/plain; charset=utf-8", "%s", w->out + w->cur.len);
}

int au_witness_add(const struct au_opts *o, const char *body, size_t len, struct au_wreply *r)
{
	struct sn_addcp *a = malloc(sizeof(*a));
	char lock[PB_PATH_MAX];
	struct wit *w = calloc(1, sizeof(*w));
	int fd = -1;

	memset(r, 0, sizeof(*r));
	if (!a || !w) {
		reply(r, 500, "text/plain; charset=utf-8", "out of memory\n");
	} else if (sn_addcp_parse(body, len, a)) {
		reply(r, 400, "text/plain; charset=utf-8",
		      "not an add-checkpoint body (c2sp.org/tlog-witness)\n");
	} else if ((w->o = o, key_path_of(w)) ||
	           path_in(w->state, sizeof(w->state), o->state, STATE_FILE) ||
	           path_in(w->keys_path, sizeof(w->keys_path), o->state, KEYS_FILE) ||
	           path_in(lock, sizeof(lock), o->state, LOCK_FILE) ||
	           au_pubkey(o->pubkey, 0, w->name, w->pk) || load_witness_key(w) || !w->cosign) {
		reply(r, 500, "text/plain; charset=utf-8", "witness keys unusable\n");
	} else if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	           flock(fd, LOCK_EX) != 0) {
		/* The check and the write below are one step (the spec's race). */
		reply(r, 500, "text/plain; charset=utf-8", "cannot lock the state\n");
	} else {
		add_checkpoint(w, a, r);
	}
	if (fd >= 0)
		close(fd);
	wit_free(w);
	free(a);
	return r->body ? PB_OK : PB_ENOMEM;
}

int au_cmd_witness(int argc, char **argv)
{
	struct au_opts o;
	struct wit *w;
	int rc;

	if ((rc = au_parse(argc, argv, &o)) >= 0)
		return rc;
	if (o.nargs)
		return au_usage(argv[0], "witness takes no arguments");
	if (o.nwkeys > 1)
		return au_usage(argv[0], "witness takes one --witness-key (its own key file)");
	if (!(w = calloc(1, sizeof(*w))))
		return au_fail(o.json, AU_EXIT_OTHER, "no_memory", "out of memory");
	w->o = &o;
	if (key_path_of(w)) {
		free(w);
		return au_fail(o.json, AU_EXIT_INVALID, "invalid", "--state path too long");
	}
	if (o.keygen) {
		rc = keygen(w);
	} else if (o.serve) {
		free(w);
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = au_witness_serve(&o);
		curl_global_cleanup();
		return rc;
	} else {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = watch(w);
		curl_global_cleanup();
	}
	wit_free(w);
	return rc;
}
