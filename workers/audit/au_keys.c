/* The log's keys as its records name them: record 0's, then one per
 * rotation record (store/README.md, "Key rotation"). A rotation record at
 * index i names a new key under the log's own name and sets
 * key_from_size = i + 1, the first checkpoint size the new key signs; the
 * handover checkpoint of that size, signed by the key in force before and
 * the new one, is what authorises it. Shared by the walk,
 * the witness and the receipt and consistency checks, so that every one
 * of them judges a rotation the same way. */
#include "au_tlog.h"
#include "pb_err.h"
#include "sn.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int au_rotation_fields(const struct au_key *cur, const Mailroom__AuditRecord *r, uint64_t pos,
                       struct au_key *next, char *why, size_t wlen)
{
	if (r->key.len != 32 || !crypto_core_ed25519_is_valid_point(r->key.data)) {
		snprintf(why, wlen, "rotation record names no usable public key (a weak key would "
		                    "let anyone sign)");
		return AU_EXIT_KEY;
	}
	if (!r->key_name || strcmp(r->key_name, cur->name) != 0) {
		snprintf(why, wlen, "rotation record names the key '%.100s'; the log's keys are "
		                    "named '%s'",
		         r->key_name ? r->key_name : "", cur->name);
		return AU_EXIT_KEY;
	}
	if (!r->actor || strcmp(r->actor, "router") != 0) {
		snprintf(why, wlen, "rotation record not written by the router");
		return AU_EXIT_KEY;
	}
	if (memcmp(r->key.data, cur->pk, 32) == 0) {
		snprintf(why, wlen, "rotation record names the key already in force");
		return AU_EXIT_KEY;
	}
	if (r->key_from_size != pos + 1) {
		snprintf(why, wlen,
		         "rotation record has key_from_size %llu; a rotation at record %llu takes "
		         "effect at %llu",
		         (unsigned long long)r->key_from_size, (unsigned long long)pos,
		         (unsigned long long)(pos + 1));
		return AU_EXIT_KEY;
	}
	next->index = pos;
	next->from = pos + 1;
	snprintf(next->name, sizeof(next->name), "%s", cur->name);
	memcpy(next->pk, r->key.data, 32);
	return AU_EXIT_OK;
}

int au_rotation_value(const struct au_key *cur, const uint8_t *value, size_t n, uint64_t pos,
                      struct au_key *next, char *why, size_t wlen)
{
	Mailroom__AuditRecord *r;
	int cls = AU_EXIT_OK;

	if (n == 0 || !(r = mailroom__audit_record__unpack(NULL, n, value))) {
		snprintf(why, wlen, "the rotation record does not parse");
		return AU_EXIT_MALFORMED;
	}
	if (r->index != pos) {
		snprintf(why, wlen, "the entry is record %llu, not %llu", (unsigned long long)r->index,
		         (unsigned long long)pos);
		cls = AU_EXIT_INDEX;
	} else if (pos == 0 || r->event != MAILROOM__AUDIT_EVENT__AUDIT_LOG_KEY) {
		snprintf(why, wlen, "record %llu is not a key rotation", (unsigned long long)pos);
		cls = AU_EXIT_KEY;
	} else {
		cls = au_rotation_fields(cur, r, pos, next, why, wlen);
	}
	mailroom__audit_record__free_unpacked(r, NULL);
	return cls;
}

int au_keyring_add(struct au_keyring *kr, const struct au_key *k)
{
	if (kr->n == kr->cap) {
		size_t cap = kr->cap ? kr->cap * 2 : 4;
		void *p = realloc(kr->k, cap * sizeof(*kr->k));
		if (!p)
			return PB_ENOMEM;
		kr->k = p;
		kr->cap = cap;
	}
	kr->k[kr->n++] = *k;
	return PB_OK;
}

const struct au_key *au_keyring_at(const struct au_keyring *kr, uint64_t x)
{
	const struct au_key *best = NULL;

	for (size_t i = 0; i < kr->n; i++)
		if (kr->k[i].from <= x)
			best = &kr->k[i];
	return best;
}

const struct au_key *au_keyring_find(const struct au_keyring *kr, const uint8_t pk[32])
{
	for (size_t i = 0; i < kr->n; i++)
		if (memcmp(kr->k[i].pk, pk, 32) == 0)
			return &kr->k[i];
	return NULL;
}

int au_rotation_proof(const struct au_key *cur, const struct au_inclusion *p,
                      struct au_key *next, char *why, size_t wlen)
{
	struct au_note hand = {0};
	uint8_t leaf[MT_HASH_LEN];
	int cls;

	if (!p->entry || !p->note || p->size != p->index + 1) {
		snprintf(why, wlen, "not the rotation record's inclusion proof in its handover "
		                    "checkpoint (size index + 1, with its \"checkpoint\" and \"entry\")");
		return AU_EXIT_INVALID;
	}
	if ((cls = au_rotation_value(cur, p->entry, p->elen, p->index, next, why, wlen)))
		return cls;
	/* The key in force signs the tree holding the record that hands the
	 * log on, and so does the key named: a key cannot authorise itself. */
	hand.text = p->note;
	hand.len = p->nlen;
	if (au_note_open(&hand, cur->name, cur->pk, why, wlen) ||
	    au_note_open(&hand, next->name, next->pk, why, wlen) || hand.size != p->size) {
		char a[AU_LABEL_MAX];
		st_key_label(cur->name, cur->pk, a, sizeof(a));
		snprintf(why, wlen, "the handover checkpoint of size %llu is not signed by both %s, "
		                    "the key in force, and the key the rotation names: a key cannot "
		                    "authorise itself",
		         (unsigned long long)p->size, a);
		return AU_EXIT_KEY;
	}
	mt_leaf_hash(p->entry, p->elen, leaf);
	if ((p->has_leaf && sodium_memcmp(leaf, p->leaf, MT_HASH_LEN) != 0) ||
	    mt_verify_inclusion(leaf, p->index, p->size, (const uint8_t(*)[MT_HASH_LEN])p->path,
	                        p->len, hand.root)) {
		snprintf(why, wlen, "the rotation record is not in the handover checkpoint's tree");
		return AU_EXIT_INCLUSION;
	}
	return AU_EXIT_OK;
}

/* One --rotation file: the gateway's inclusion answer for a rotation
 * record, {"index","size","leaf_hash","proof","entry"}, for the size of
 * the checkpoint it is used with. */
static int rotation_file(const struct au_opts *o, const char *path, uint64_t size,
                         const uint8_t root[MT_HASH_LEN], struct au_keyring *kr)
{
	const struct au_key *cur = &kr->k[kr->n - 1];
	struct au_inclusion p;
	struct au_key next;
	char why[400];
	json_t *doc;
	int rc, cls;

	if ((rc = au_json_file(path, o->json, &doc)))
		return rc;
	rc = au_inclusion_json(doc, &p);
	json_decref(doc);
	if (rc == PB_ENOMEM)
		return au_fail(o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	if (rc || !p.entry) {
		au_inclusion_free(&p);
		return au_fail(o->json, AU_EXIT_INVALID, "invalid_rotation",
		               "%s: not an inclusion proof with its entry {index, size, proof, entry}",
		               path);
	}
	(void)root;
	/* A rotation the checkpoint does not cover yet changes no key it needs. */
	if (p.index >= size) {
		au_inclusion_free(&p);
		return AU_EXIT_OK;
	}
	if (p.size > size || p.index <= cur->index) {
		au_inclusion_free(&p);
		return au_fail(o->json, AU_EXIT_INVALID, "wrong_rotation",
		               "%s proves record %llu; rotations must come in log order, at or below "
		               "the size %llu",
		               path, (unsigned long long)p.index, (unsigned long long)size);
	}
	cls = au_rotation_proof(cur, &p, &next, why, sizeof(why));
	au_inclusion_free(&p);
	if (cls)
		return au_report_fail(o->json, cls, "record", p.index, "%s: %s", path, why);
	if (au_keyring_add(kr, &next))
		return au_fail(o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	return AU_EXIT_OK;
}

int au_rotations_load(const struct au_opts *o, uint64_t size, const uint8_t root[MT_HASH_LEN],
                      struct au_keyring *kr)
{
	int rc;

	for (int i = 0; i < o->nrotation; i++)
		if ((rc = rotation_file(o, o->rotation[i], size, root, kr)))
			return rc;
	return AU_EXIT_OK;
}

void au_keyring_free(struct au_keyring *kr)
{
	free(kr->k);
	memset(kr, 0, sizeof(*kr));
}
