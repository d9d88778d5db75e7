/* witness: an auditor's memory of the log. DIR keeps the last checkpoint
 * this witness accepted (DIR/checkpoint, replaced atomically, with the
 * witness's cosignature when it has a key). Each run fetches the log's
 * current checkpoint, checks its signature, and accepts it only as an
 * extension of the one kept: a smaller size is a rollback, the same size
 * with another root a fork, a bigger size needs a consistency proof from
 * the log server that holds. On acceptance the checkpoint is cosigned
 * (c2sp.org/tlog-cosignature) and kept; a refusal changes nothing.
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
#define LOCK_FILE ".lock"
#define KEY_FILE "witness.key"

struct wit {
	const struct au_opts *o;
	char name[AU_KEYNAME_MAX];         /* the log key */
	uint8_t pk[32];
	char key_path[PB_PATH_MAX];
	char wname[AU_KEYNAME_MAX];        /* the witness key, when cosigning */
	uint8_t wsk[64];
	int cosign;
	char state[PB_PATH_MAX];
	struct au_note old, cur;
	int have_old;
	char *out;                         /* the note to keep and print */
	size_t outlen;
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

static int load_state(struct wit *w)
{
	char why[256];
	int rc = au_read_all(w->state, AU_NOTE_MAX, &w->old.text, &w->old.len);

	if (rc == PB_ENOTFOUND)
		return AU_EXIT_OK;
	if (rc)
		return au_file_fail(w->o->json, rc, w->state);
	if (au_note_open(&w->old, w->name, w->pk, why, sizeof(why)))
		return au_fail(w->o->json, AU_EXIT_KEY, "other_log",
		               "%s was not signed by %s (%s): is this state for another log?",
		               w->state, w->name, why);
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
	if ((rc = au_note_open(&w->cur, w->name, w->pk, why, sizeof(why))))
		return au_report_fail(w->o->json, rc, "checkpoint", 0, "%s/v1/log/checkpoint: %s",
		                      w->o->url, why);
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

	if (w->cur.size > w->old.size) {
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
	char root[64];

	sodium_bin2base64(root, sizeof(root), w->cur.root, MT_HASH_LEN,
	                  sodium_base64_VARIANT_ORIGINAL);
	if (o->json)
		return au_emit(json_pack("{s:b, s:o, s:I, s:s, s:b, s:s?, s:s}", "ok", 1, "old_size",
		                         w->have_old ? json_integer((json_int_t)w->old.size)
		                                     : json_null(),
		                         "size", (json_int_t)w->cur.size, "root", root, "cosigned",
		                         w->cosign, "witness", w->cosign ? w->wname : NULL, "note",
		                         w->out));
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
	if (!(rc = load_state(w)) && !(rc = fetch_current(w)) && (!w->have_old || !(rc = judge(w))) &&
	    !(rc = cosign(w))) {
		if (au_write_atomic(w->state, w->out, w->outlen, 0644))
			rc = au_fail(o->json, AU_EXIT_OPEN, "cannot_write", "cannot write %s", w->state);
		else
			rc = report(w);
	}
	close(fd);
	return rc;
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
	if (!(w = calloc(1, sizeof(*w))))
		return au_fail(o.json, AU_EXIT_OTHER, "no_memory", "out of memory");
	w->o = &o;
	if (o.wkey)
		snprintf(w->key_path, sizeof(w->key_path), "%s", o.wkey);
	else if (path_in(w->key_path, sizeof(w->key_path), o.state, KEY_FILE)) {
		free(w);
		return au_fail(o.json, AU_EXIT_INVALID, "invalid", "--state path too long");
	}
	if (o.keygen) {
		rc = keygen(w);
	} else {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = watch(w);
		curl_global_cleanup();
	}
	sodium_memzero(w->wsk, sizeof(w->wsk));
	free(w->old.text);
	free(w->cur.text);
	free(w->out);
	free(w);
	return rc;
}
