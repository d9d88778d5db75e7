/* verify-receipt: a citizen's receipt, checked with nothing but the log's
 * public key. The receipt carries a C2SP tlog-proof (its "proof", or the
 * --receipt or --proof file is one): the record's index, the record
 * itself as the proof's extra data, its inclusion proof and the signed
 * checkpoint. Older style: --proof (the gateway's inclusion JSON) and
 * --checkpoint files, with --entry for the record.
 *
 *   each --rotation file is the next key rotation, proven in its handover
 *   checkpoint signed by the key before it and the one it names (key,
 *   inclusion): the keys after --pubkey are proven, never taken;
 *   the checkpoint note is signed by the key in force for its size
 *   (checkpoint);
 *   the receipt names the key in force at its record (key);
 *   with the record: record_hash = SHA-256(record), the record is the
 *   one at log_index (receipt);
 *   the record's index is below the checkpoint's size, and the inclusion
 *   proof puts its leaf at log_index in the tree the checkpoint signs
 *   (inclusion);
 *   with --witness-key (a cosignature verifier key, or a file holding
 *   one; repeatable), at least --min-witnesses of those keys (default:
 *   all of them) have a valid c2sp.org/tlog-cosignature line on the
 *   checkpoint (witness). Without it cosignature lines are not judged:
 *   the log's own signature is the receipt's proof. */
#include "au_tlog.h"
#include "pb_err.h"
#include "pb_id.h"
#include "sn.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_FILE_MAX (64u << 20)

struct receipt {
	int given;                 /* a receipt object was read (not a bare proof) */
	uint64_t index;
	uint8_t hash[ST_HASH_LEN];
	uint8_t key_id[ST_KEYID_LEN];
};

#define TLOG_PROOF_HEADER "c2sp.org/tlog-proof@v1\n"

struct ctx {
	const struct au_opts *o;
	char name[AU_KEYNAME_MAX];
	uint8_t pk[32];
	struct au_keyring keys;    /* --pubkey, then each --rotation's */
	const struct au_key *rkey; /* in force at the receipt's record */
	const struct au_key *ckey; /* in force at the checkpoint's size */
	struct au_note note;
	struct receipt rc;
	struct au_inclusion pf;
	uint8_t *entry;            /* the stored record, when known */
	size_t elen;
	uint8_t leaf[MT_HASH_LEN];
	char *tlog;                /* the tlog-proof text, malloc'd; NULL: older style */
	size_t tlen;
	int cosigned;              /* valid cosignatures from --witness-key keys */
};

static int hex_field(json_t *o, const char *key, uint8_t *out, size_t n)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && strlen(s) == 2 * n && pb_unhex(s, out, n) == PB_OK ? PB_OK : PB_EINVAL;
}

static int is_tlog(const char *text, size_t len)
{
	return len >= sizeof(TLOG_PROOF_HEADER) - 1 &&
	       memcmp(text, TLOG_PROOF_HEADER, sizeof(TLOG_PROOF_HEADER) - 1) == 0;
}

/* The POST /v1/messages answer, or just its "receipt" object, or a bare
 * tlog-proof file. */
static int load_receipt(struct ctx *x)
{
	const char *path = x->o->receipt, *proof;
	json_t *doc, *r;
	char *text;
	size_t len;
	int rc;

	if ((rc = au_read_all(path, ENTRY_FILE_MAX, &text, &len)))
		return au_file_fail(x->o->json, rc, path);
	if (is_tlog(text, len)) {
		x->tlog = text;
		x->tlen = len;
		return AU_EXIT_OK;
	}
	doc = json_loadb(text, len, 0, NULL);
	free(text);
	r = json_object_get(doc, "receipt") ? json_object_get(doc, "receipt") : doc;
	if (!doc || au_json_u64(r, "log_index", &x->rc.index) ||
	    hex_field(r, "record_hash", x->rc.hash, sizeof(x->rc.hash)) ||
	    hex_field(r, "key_id", x->rc.key_id, sizeof(x->rc.key_id))) {
		json_decref(doc);
		return au_fail(x->o->json, AU_EXIT_INVALID, "invalid_receipt",
		               "%s: not a receipt {log_index, record_hash, key_id, proof}", path);
	}
	x->rc.given = 1;
	if ((proof = json_string_value(json_object_get(r, "proof")))) {
		x->tlen = strlen(proof);
		if (!is_tlog(proof, x->tlen) || !(x->tlog = strdup(proof))) {
			json_decref(doc);
			return au_fail(x->o->json, AU_EXIT_INVALID, "invalid_receipt",
			               "%s: the receipt's proof is not a c2sp.org/tlog-proof@v1", path);
		}
	}
	json_decref(doc);
	return AU_EXIT_OK;
}

/* The tlog-proof: index, the record (extra), the hashes and the note. */
static int load_tlog(struct ctx *x)
{
	struct sn_proof *p = calloc(1, sizeof(*p));
	size_t cap;
	int rc = AU_EXIT_OK;

	if (!p)
		return au_fail(x->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	if (sn_proof_parse(x->tlog, x->tlen, p) != PB_OK || !p->extra ||
	    p->note_len > AU_NOTE_MAX) {
		rc = au_fail(x->o->json, AU_EXIT_INVALID, "invalid_proof",
		             "not a c2sp.org/tlog-proof@v1 carrying its record as extra data");
		goto out;
	}
	if (x->rc.given && p->index != x->rc.index) {
		rc = au_report_fail(x->o->json, AU_EXIT_INCLUSION, "record", x->rc.index,
		                    "the proof is for record %llu", (unsigned long long)p->index);
		goto out;
	}
	x->rc.index = p->index;
	x->pf.index = p->index;
	x->pf.len = p->n;
	memcpy(x->pf.path, p->hashes, p->n * MT_HASH_LEN);
	cap = p->extra_len / 4 * 3 + 3;
	if (!(x->entry = malloc(cap)) || !(x->note.text = malloc(p->note_len + 1))) {
		rc = au_fail(x->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
		goto out;
	}
	if (au_b64_decode(p->extra, p->extra_len, x->entry, cap, &x->elen) || x->elen == 0) {
		rc = au_fail(x->o->json, AU_EXIT_INVALID, "invalid_proof", "the proof's extra data "
		                                                           "is not base64");
		goto out;
	}
	memcpy(x->note.text, p->note, p->note_len);
	x->note.text[p->note_len] = '\0';
	x->note.len = p->note_len;
	if (!x->rc.given)
		crypto_hash_sha256(x->rc.hash, x->entry, x->elen);
out:
	free(p);
	return rc;
}

/* GET /v1/log/proof/inclusion: {"index","size","leaf_hash","proof"}. */
static int load_proof(struct ctx *x)
{
	json_t *doc;
	int rc;

	if ((rc = au_json_file(x->o->proof, x->o->json, &doc)))
		return rc;
	if ((rc = au_inclusion_json(doc, &x->pf)) == PB_ENOMEM)
		rc = au_fail(x->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	else if (rc)
		rc = au_fail(x->o->json, AU_EXIT_INVALID, "invalid_proof",
		             "%s: not an inclusion proof {index, size, leaf_hash, proof}",
		             x->o->proof);
	json_decref(doc);
	return rc;
}

/* The stored value as base64 text, or a page of GET /v1/log/entries. */
static int load_entry(struct ctx *x)
{
	const char *path = x->o->entry, *b64;
	json_t *doc = NULL;
	size_t len, n;
	char *text;
	int rc;

	if ((rc = au_read_all(path, ENTRY_FILE_MAX, &text, &len)))
		return au_file_fail(x->o->json, rc, path);
	b64 = text;
	if (len && text[0] == '{') {
		uint64_t start;
		json_t *all;
		doc = json_loadb(text, len, 0, NULL);
		all = json_object_get(doc, "entries");
		if (!doc || au_json_u64(doc, "start", &start) || !json_is_array(all) ||
		    x->rc.index < start || x->rc.index - start >= json_array_size(all)) {
			rc = au_fail(x->o->json, AU_EXIT_INVALID, "invalid_entry",
			             "%s: not an entries page holding record %llu", path,
			             (unsigned long long)x->rc.index);
			goto out;
		}
		b64 = json_string_value(json_array_get(all, (size_t)(x->rc.index - start)));
	}
	while (b64 && isspace((unsigned char)*b64))
		b64++;
	n = b64 ? strlen(b64) : 0;
	while (n && isspace((unsigned char)b64[n - 1]))
		n--;
	if (!(x->entry = malloc(n / 4 * 3 + 3))) {
		rc = au_fail(x->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
		goto out;
	}
	if (!b64 || au_b64_decode(b64, n, x->entry, n / 4 * 3 + 3, &x->elen) || x->elen == 0)
		rc = au_fail(x->o->json, AU_EXIT_INVALID, "invalid_entry",
		             "%s: not a stored record in base64", path);
out:
	json_decref(doc);
	free(text);
	return rc;
}

static int fail(struct ctx *x, int cls, const char *msg)
{
	return au_report_fail(x->o->json, cls, "record", x->rc.index, "%s", msg);
}

/* The record against the receipt. */
static int check_entry(struct ctx *x)
{
	Mailroom__AuditRecord *r;
	uint8_t h[ST_HASH_LEN];
	uint64_t idx;

	crypto_hash_sha256(h, x->entry, x->elen);
	if (sodium_memcmp(h, x->rc.hash, sizeof(h)) != 0)
		return fail(x, AU_EXIT_RECEIPT, "record_hash is not SHA-256 of the record");
	if (!(r = mailroom__audit_record__unpack(NULL, x->elen, x->entry)))
		return fail(x, AU_EXIT_RECEIPT, "the entry does not parse as an AuditRecord");
	idx = r->index;
	mailroom__audit_record__free_unpacked(r, NULL);
	if (idx != x->rc.index)
		return fail(x, AU_EXIT_RECEIPT, "the entry is another record (its index differs)");
	mt_leaf_hash(x->entry, x->elen, x->leaf);
	if (x->pf.has_leaf && sodium_memcmp(x->leaf, x->pf.leaf, MT_HASH_LEN) != 0)
		return fail(x, AU_EXIT_INCLUSION, "the proof is for another leaf than the entry");
	return AU_EXIT_OK;
}

static int report(struct ctx *x)
{
	char hash[2 * ST_HASH_LEN + 1], root[64], leaf[64], rk[AU_LABEL_MAX], ck[AU_LABEL_MAX];

	pb_hex(x->rc.hash, sizeof(x->rc.hash), hash);
	sodium_bin2base64(root, sizeof(root), x->note.root, MT_HASH_LEN,
	                  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(leaf, sizeof(leaf), x->leaf, MT_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
	st_key_label(x->rkey->name, x->rkey->pk, rk, sizeof(rk));
	st_key_label(x->ckey->name, x->ckey->pk, ck, sizeof(ck));
	if (x->o->json)
		return au_emit(json_pack("{s:b, s:I, s:I, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:I, s:I}",
		                         "ok", 1, "index", (json_int_t)x->rc.index, "size",
		                         (json_int_t)x->note.size, "root", root, "record_hash", hash,
		                         "leaf_hash", leaf, "key", x->name, "entry_checked",
		                         x->entry != NULL, "receipt_key", rk, "checkpoint_key", ck,
		                         "rotations", (json_int_t)(x->keys.n - 1), "witnesses",
		                         (json_int_t)x->cosigned));
	printf("ok: record %llu is in the log of size %llu (root %s) signed by %s\n",
	       (unsigned long long)x->rc.index, (unsigned long long)x->note.size, root, x->name);
	if (x->keys.n > 1)
		printf("keys: the record is under %s, the checkpoint signed by %s; %llu rotation%s "
		       "proven from %s on\n",
		       rk, ck, (unsigned long long)(x->keys.n - 1), x->keys.n == 2 ? "" : "s",
		       x->o->pubkey);
	if (x->o->nwkeys)
		printf("witnesses: %d of %d named keys cosigned the checkpoint\n", x->cosigned,
		       x->o->nwkeys);
	if (x->entry && x->rc.given)
		printf("receipt: record_hash %s matches the record\n", hash);
	else if (!x->entry)
		printf("note: without the record only the proof's leaf is shown to be in the log; "
		       "the receipt's hash was not checked against a record\n");
	return fflush(stdout) == 0 ? AU_EXIT_OK : AU_EXIT_OTHER;
}

/* The receipt's key_id must be the key in force at its record. */
static int check_key(struct ctx *x)
{
	uint8_t kid[ST_KEYID_LEN];
	char want[AU_LABEL_MAX], other[AU_LABEL_MAX], msg[400];

	x->rkey = au_keyring_at(&x->keys, x->rc.index);
	st_key_id(x->rkey->name, x->rkey->pk, kid);
	if (memcmp(kid, x->rc.key_id, sizeof(kid)) == 0)
		return AU_EXIT_OK;
	st_key_label(x->rkey->name, x->rkey->pk, want, sizeof(want));
	for (size_t i = 0; i < x->keys.n; i++) {
		st_key_id(x->keys.k[i].name, x->keys.k[i].pk, kid);
		if (memcmp(kid, x->rc.key_id, sizeof(kid)) == 0) {
			st_key_label(x->keys.k[i].name, x->keys.k[i].pk, other, sizeof(other));
			snprintf(msg, sizeof(msg),
			         "the receipt names %s, but record %llu is under %s, the key in "
			         "force there",
			         other, (unsigned long long)x->rc.index, want);
			return fail(x, AU_EXIT_KEY, msg);
		}
	}
	if (x->keys.n > 1)
		snprintf(msg, sizeof(msg), "the receipt's key_id is none of the log's keys (%s at "
		                           "record %llu)",
		         want, (unsigned long long)x->rc.index);
	else
		snprintf(msg, sizeof(msg), "the receipt's key_id is not the log key's (a receipt "
		                           "after a key rotation needs --rotation)");
	return fail(x, AU_EXIT_KEY, msg);
}

/* One --witness-key: a key line, else a file holding one. */
static int witness_key(struct ctx *x, const char *arg, char name[AU_KEYNAME_MAX], uint8_t pk[32])
{
	char *text;
	size_t len;
	int rc;

	if (au_vkey_parse(arg, strlen(arg), SN_TYPE_COSIG_V1, name, pk) == PB_OK)
		return AU_EXIT_OK;
	if ((rc = au_read_all(arg, 4096, &text, &len)))
		return au_fail(x->o->json, AU_EXIT_INVALID, "bad_witness_key",
		               "--witness-key %s is neither a cosignature verifier key "
		               "(<name>+<hex id>+<base64>) nor a file holding one",
		               arg);
	rc = au_vkey_parse(text, len, SN_TYPE_COSIG_V1, name, pk);
	free(text);
	if (rc)
		return au_fail(x->o->json, AU_EXIT_INVALID, "bad_witness_key",
		               "%s does not hold a cosignature verifier key", arg);
	return AU_EXIT_OK;
}

/* The witness policy: at least N of the named keys cosigned the
 * checkpoint the proof leads to. */
static int check_witnesses(struct ctx *x)
{
	long need = x->o->nwkeys;
	char *end;
	int rc;

	if (x->o->min_witnesses) {
		need = strtol(x->o->min_witnesses, &end, 10);
		if (*end || end == x->o->min_witnesses || need < 1 || need > x->o->nwkeys)
			return au_usage("verify-receipt", "--min-witnesses takes 1 .. the number of "
			                                  "--witness-key options");
	}
	for (int i = 0; i < x->o->nwkeys; i++) {
		char name[AU_KEYNAME_MAX];
		uint8_t pk[32];
		const char *body;
		size_t blen;
		uint64_t ts;
		if ((rc = witness_key(x, x->o->wkeys[i], name, pk)))
			return rc;
		if (sn_open_cosigned(x->note.text, x->note.len, name, pk, &body, &blen, &ts) == PB_OK)
			x->cosigned++;
		else if (!x->o->json)
			fprintf(stderr, AU_PROG ": verify-receipt: no valid cosignature by %s\n", name);
	}
	if (x->cosigned < need) {
		char msg[200];
		snprintf(msg, sizeof(msg),
		         "%d of the %d witness keys cosigned the checkpoint; the policy asks %ld",
		         x->cosigned, x->o->nwkeys, need);
		return au_report_fail(x->o->json, AU_EXIT_WITNESS, "checkpoint", x->note.size, "%s",
		                      msg);
	}
	return AU_EXIT_OK;
}

static int run(struct ctx *x)
{
	struct au_key anchor = {0};
	char why[400];
	int rc;

	if ((rc = au_pubkey(x->o->pubkey, x->o->json, x->name, x->pk)) || (rc = load_receipt(x)))
		return rc;
	/* --proof, when given, is the proof to check: a tlog-proof or the
	 * gateway's inclusion JSON (with --checkpoint); else the receipt's own. */
	if (x->o->proof) {
		char *text;
		size_t len;
		free(x->tlog);
		x->tlog = NULL;
		if ((rc = au_read_all(x->o->proof, ENTRY_FILE_MAX, &text, &len)))
			return au_file_fail(x->o->json, rc, x->o->proof);
		if (is_tlog(text, len)) {
			x->tlog = text;
			x->tlen = len;
		} else {
			free(text);
		}
	}
	if (x->tlog) {
		if ((rc = load_tlog(x)))
			return rc;
		if (au_note_peek(&x->note, x->name, why, sizeof(why)))
			return au_report_fail(x->o->json, AU_EXIT_CHECKPOINT, "checkpoint", 0,
			                      "the proof's checkpoint: %s", why);
		x->pf.size = x->note.size;
	} else {
		if (!x->o->proof || !x->o->checkpoint)
			return au_fail(x->o->json, AU_EXIT_INVALID, "invalid_receipt",
			               "the receipt carries no proof: give --proof (and --checkpoint "
			               "for an inclusion proof in JSON)");
		if ((rc = au_note_read(x->o->checkpoint, x->o->json, x->name, &x->note)) ||
		    (rc = load_proof(x)) || (x->o->entry && (rc = load_entry(x))))
			return rc;
	}
	snprintf(anchor.name, sizeof(anchor.name), "%s", x->name);
	memcpy(anchor.pk, x->pk, 32);
	if (au_keyring_add(&x->keys, &anchor))
		return au_fail(x->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	if ((rc = au_rotations_load(x->o, x->note.size, x->note.root, &x->keys)))
		return rc;
	x->ckey = au_keyring_at(&x->keys, x->note.size);
	if ((rc = au_note_open_keys(&x->note, &x->keys, why, sizeof(why))))
		return au_report_fail(x->o->json, rc, "checkpoint", 0, "%s%s", why,
		                      x->keys.n == 1 ? " (a checkpoint after a key rotation needs "
		                                       "--rotation)"
		                                     : "");
	x->rkey = au_keyring_at(&x->keys, x->rc.index);
	if (x->rc.given && (rc = check_key(x)))
		return rc;
	if (x->pf.index != x->rc.index)
		return fail(x, AU_EXIT_INCLUSION, "the proof is for another index");
	if (x->pf.size != x->note.size)
		return fail(x, AU_EXIT_INCLUSION, "the proof is for another size than the checkpoint");
	if (x->rc.index >= x->note.size)
		return fail(x, AU_EXIT_INCLUSION, "the record is beyond the checkpoint's size: it does "
		                                  "not cover the record");
	/* Held to a receipt, the record must be the receipt's first; a bare
	 * proof's record is first of all a leaf of the tree. */
	if (x->entry && x->rc.given && (rc = check_entry(x)))
		return rc;
	if (x->entry) {
		mt_leaf_hash(x->entry, x->elen, x->leaf);
	} else {
		if (!x->pf.has_leaf)
			return au_fail(x->o->json, AU_EXIT_INVALID, "invalid_proof",
			               "%s has no leaf_hash; pass --entry FILE", x->o->proof);
		memcpy(x->leaf, x->pf.leaf, MT_HASH_LEN);
	}
	if (mt_verify_inclusion(x->leaf, x->rc.index, x->note.size,
	                        (const uint8_t(*)[MT_HASH_LEN])x->pf.path, x->pf.len,
	                        x->note.root) != PB_OK)
		return fail(x, AU_EXIT_INCLUSION, "the proof does not lead to the checkpoint's root");
	if (x->entry && !x->rc.given && (rc = check_entry(x)))
		return rc;
	if (x->o->nwkeys && (rc = check_witnesses(x)))
		return rc;
	return report(x);
}

int au_cmd_verify_receipt(int argc, char **argv)
{
	struct au_opts o;
	struct ctx *x;
	int rc;

	if ((rc = au_parse(argc, argv, &o)) >= 0)
		return rc;
	if (o.nargs)
		return au_usage(argv[0], "verify-receipt takes no arguments");
	if (!(x = calloc(1, sizeof(*x))))
		return au_fail(o.json, AU_EXIT_OTHER, "no_memory", "out of memory");
	x->o = &o;
	rc = run(x);
	free(x->note.text);
	free(x->entry);
	free(x->tlog);
	au_inclusion_free(&x->pf);
	au_keyring_free(&x->keys);
	free(x);
	return rc;
}
