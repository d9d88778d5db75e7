/* verify-receipt: a citizen's receipt, checked with nothing but files the
 * gateway serves and the log's public key:
 *
 *   each --rotation file is the next key rotation, signed by the key
 *   before it and included in the checkpoint's tree (key, signature,
 *   inclusion): the keys after --pubkey are proven, never taken;
 *   the checkpoint note is signed by the key in force for its size
 *   (checkpoint);
 *   the receipt names the key in force at its record (key);
 *   with --entry (the stored value): record_hash = SHA-256(record),
 *   the record is the one at log_index and carries the receipt's
 *   signature (receipt), which verifies over the record (signature);
 *   the inclusion proof puts that leaf at log_index in the tree the
 *   checkpoint signs (inclusion). */
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
	uint64_t index;
	uint8_t hash[ST_HASH_LEN];
	uint8_t sig[ST_SIG_LEN];
	uint8_t key_id[ST_KEYID_LEN];
};

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
	uint8_t *entry;            /* the stored value, when --entry */
	size_t elen;
	uint8_t leaf[MT_HASH_LEN];
};

static int hex_field(json_t *o, const char *key, uint8_t *out, size_t n)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && strlen(s) == 2 * n && pb_unhex(s, out, n) == PB_OK ? PB_OK : PB_EINVAL;
}

static int b64_field(json_t *o, const char *key, uint8_t *out, size_t n)
{
	const char *s = json_string_value(json_object_get(o, key));
	size_t got;

	return s && au_b64_decode(s, strlen(s), out, n, &got) == PB_OK && got == n ? PB_OK
	                                                                            : PB_EINVAL;
}

/* The POST /v1/messages answer, or just its "receipt" object. */
static int load_receipt(struct ctx *x)
{
	json_t *doc, *r;
	int rc;

	if ((rc = au_json_file(x->o->receipt, x->o->json, &doc)))
		return rc;
	r = json_object_get(doc, "receipt") ? json_object_get(doc, "receipt") : doc;
	if (au_json_u64(r, "log_index", &x->rc.index) ||
	    hex_field(r, "record_hash", x->rc.hash, sizeof(x->rc.hash)) ||
	    b64_field(r, "signature", x->rc.sig, sizeof(x->rc.sig)) ||
	    hex_field(r, "key_id", x->rc.key_id, sizeof(x->rc.key_id)))
		rc = au_fail(x->o->json, AU_EXIT_INVALID, "invalid_receipt",
		             "%s: not a receipt {log_index, record_hash, signature, key_id}",
		             x->o->receipt);
	json_decref(doc);
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
	if (!b64 || au_b64_decode(b64, n, x->entry, n / 4 * 3 + 3, &x->elen) ||
	    x->elen <= ST_SIG_LEN)
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
	const uint8_t *body = x->entry, *sig = x->entry + x->elen - ST_SIG_LEN;
	size_t blen = x->elen - ST_SIG_LEN;
	Mailroom__AuditRecord *r;
	uint8_t h[ST_HASH_LEN];
	uint64_t idx;

	crypto_hash_sha256(h, body, blen);
	if (sodium_memcmp(h, x->rc.hash, sizeof(h)) != 0)
		return fail(x, AU_EXIT_RECEIPT, "record_hash is not SHA-256 of the record");
	if (sn_verify_strict(x->rc.sig, body, blen, x->rkey->pk) != PB_OK)
		return fail(x, AU_EXIT_SIGNATURE,
		            "the receipt's signature does not verify over the record under the log key");
	if (sodium_memcmp(sig, x->rc.sig, ST_SIG_LEN) != 0)
		return fail(x, AU_EXIT_RECEIPT, "the stored record carries another signature");
	if (!(r = mailroom__audit_record__unpack(NULL, blen, body)))
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
		return au_emit(json_pack("{s:b, s:I, s:I, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:I}",
		                         "ok", 1, "index", (json_int_t)x->rc.index, "size",
		                         (json_int_t)x->note.size, "root", root, "record_hash", hash,
		                         "leaf_hash", leaf, "key", x->name, "entry_checked",
		                         x->entry != NULL, "receipt_key", rk, "checkpoint_key", ck,
		                         "rotations", (json_int_t)(x->keys.n - 1)));
	printf("ok: record %llu is in the log of size %llu (root %s) signed by %s\n",
	       (unsigned long long)x->rc.index, (unsigned long long)x->note.size, root, x->name);
	if (x->keys.n > 1)
		printf("keys: the record is signed by %s, the checkpoint by %s; %llu rotation%s "
		       "proven from %s on\n",
		       rk, ck, (unsigned long long)(x->keys.n - 1), x->keys.n == 2 ? "" : "s",
		       x->o->pubkey);
	if (x->entry)
		printf("receipt: record_hash %s and its signature match the record\n", hash);
	else
		printf("note: without --entry only the proof's leaf is shown to be in the log; the "
		       "receipt's hash and signature were not checked against a record\n");
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
			         "the receipt names %s, but record %llu is signed by %s, the key in "
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

static int run(struct ctx *x)
{
	struct au_key anchor = {0};
	char why[400];
	int rc;

	if ((rc = au_pubkey(x->o->pubkey, x->o->json, x->name, x->pk)) ||
	    (rc = au_note_read(x->o->checkpoint, x->o->json, x->name, &x->note)))
		return rc;
	snprintf(anchor.name, sizeof(anchor.name), "%s", x->name);
	memcpy(anchor.pk, x->pk, 32);
	if (au_keyring_add(&x->keys, &anchor))
		return au_fail(x->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	if ((rc = au_rotations_load(x->o, x->note.size, x->note.root, &x->keys)))
		return rc;
	x->ckey = au_keyring_at(&x->keys, x->note.size);
	if ((rc = au_note_open_keys(&x->note, &x->keys, why, sizeof(why))))
		return au_report_fail(x->o->json, rc, "checkpoint", 0, "%s: %s%s", x->o->checkpoint, why,
		                      x->keys.n == 1 ? " (a checkpoint after a key rotation needs "
		                                       "--rotation)"
		                                     : "");
	if ((rc = load_receipt(x)) || (rc = load_proof(x)) || (x->o->entry && (rc = load_entry(x))) ||
	    (rc = check_key(x)))
		return rc;
	if (x->pf.index != x->rc.index)
		return fail(x, AU_EXIT_INCLUSION, "the proof is for another index");
	if (x->pf.size != x->note.size)
		return fail(x, AU_EXIT_INCLUSION, "the proof is for another size than the checkpoint");
	if (x->rc.index >= x->note.size)
		return fail(x, AU_EXIT_INCLUSION, "the checkpoint does not cover the record yet");
	if (x->entry && (rc = check_entry(x)))
		return rc;
	if (!x->entry) {
		if (!x->pf.has_leaf)
			return au_fail(x->o->json, AU_EXIT_INVALID, "invalid_proof",
			               "%s has no leaf_hash; pass --entry FILE", x->o->proof);
		memcpy(x->leaf, x->pf.leaf, MT_HASH_LEN);
	}
	if (mt_verify_inclusion(x->leaf, x->rc.index, x->note.size,
	                        (const uint8_t(*)[MT_HASH_LEN])x->pf.path, x->pf.len,
	                        x->note.root) != PB_OK)
		return fail(x, AU_EXIT_INCLUSION, "the proof does not lead to the checkpoint's root");
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
	au_inclusion_free(&x->pf);
	au_keyring_free(&x->keys);
	free(x);
	return rc;
}
