/* consistency: two signed checkpoints and a proof that the older tree is a
 * prefix of the newer one (RFC 9162 2.1.4.2). The same judgement serves
 * the witness: a smaller new size is a rollback, the same size with
 * another root a fork (two signed roots prove it alone), and a proof that
 * does not hold shows the two cannot both be true. */
#include "au_tlog.h"
#include "pb_err.h"
#include "sn.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int au_consistent(const struct au_note *old, const struct au_note *new_,
                  const uint8_t (*proof)[MT_HASH_LEN], size_t len, char *why, size_t wlen)
{
	unsigned long long a = old->size, b = new_->size;

	if (b < a) {
		/* The count is what an office must account for: records once
		 * signed and acknowledged that the log no longer holds. */
		snprintf(why, wlen, "the log went back from size %llu to %llu: %llu signed record%s %s missing",
		         a, b, a - b, a - b == 1 ? "" : "s", a - b == 1 ? "is" : "are");
		return AU_EXIT_ROLLBACK;
	}
	if (a == b && sodium_memcmp(old->root, new_->root, MT_HASH_LEN) != 0) {
		snprintf(why, wlen, "two signed checkpoints of size %llu with different roots", a);
		return AU_EXIT_FORK;
	}
	/* Every tree extends the empty one. */
	if (a == 0 && len == 0)
		return AU_EXIT_OK;
	if (mt_verify_consistency(old->size, new_->size, old->root, new_->root, proof, len)) {
		snprintf(why, wlen, "the proof does not show size %llu as a prefix of size %llu", a, b);
		return AU_EXIT_INCONSISTENT;
	}
	return AU_EXIT_OK;
}

int au_consistency_json(json_t *doc, uint64_t *old, uint64_t *new_,
                        uint8_t (*proof)[MT_HASH_LEN], size_t *len)
{
	if (au_json_u64(doc, "old", old) || au_json_u64(doc, "new", new_) ||
	    au_json_hashes(json_object_get(doc, "proof"), proof, MT_PROOF_MAX, len))
		return PB_EINVAL;
	return PB_OK;
}

struct ctx {
	struct au_note a, b;
	struct au_keyring keys;            /* --pubkey, then each --rotation's */
	uint8_t proof[MT_PROOF_MAX][MT_HASH_LEN];
	size_t len;
	uint64_t pold, pnew;
};

/* Each note under the key in force for its size; rotations are proven in
 * NEW's tree, the later of the two. */
static int open_notes(const struct au_opts *o, struct ctx *x, const char *name,
                      const uint8_t pk[32])
{
	struct au_key anchor = {0};
	char why[400];
	int rc;

	snprintf(anchor.name, sizeof(anchor.name), "%s", name);
	memcpy(anchor.pk, pk, 32);
	if (au_keyring_add(&x->keys, &anchor))
		return au_fail(o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	if ((rc = au_rotations_load(o, x->b.size, x->b.root, &x->keys)))
		return rc;
	if ((rc = au_note_open_keys(&x->a, &x->keys, why, sizeof(why))))
		return au_report_fail(o->json, rc, "checkpoint", 0, "%s: %s", o->args[0], why);
	if ((rc = au_note_open_keys(&x->b, &x->keys, why, sizeof(why))))
		return au_report_fail(o->json, rc, "checkpoint", 0, "%s: %s%s", o->args[1], why,
		                      x->keys.n == 1 ? " (a checkpoint after a key rotation needs "
		                                       "--rotation)"
		                                     : "");
	return AU_EXIT_OK;
}

static int run(const struct au_opts *o, struct ctx *x)
{
	char name[AU_KEYNAME_MAX], why[256], ra[64], rb[64], kb[AU_LABEL_MAX];
	const struct au_key *k;
	uint8_t pk[32];
	json_t *doc;
	int rc;

	if ((rc = au_pubkey(o->pubkey, o->json, name, pk)) ||
	    (rc = au_note_read(o->args[0], o->json, name, &x->a)) ||
	    (rc = au_note_read(o->args[1], o->json, name, &x->b)) ||
	    (rc = open_notes(o, x, name, pk)) ||
	    (rc = au_json_file(o->proof, o->json, &doc)))
		return rc;
	rc = au_consistency_json(doc, &x->pold, &x->pnew, x->proof, &x->len);
	json_decref(doc);
	if (rc)
		return au_fail(o->json, AU_EXIT_INVALID, "invalid_proof",
		               "%s: not a consistency proof {old, new, proof}", o->proof);
	if (x->pold != x->a.size || x->pnew != x->b.size)
		return au_fail(o->json, AU_EXIT_INVALID, "wrong_proof",
		               "%s proves %llu -> %llu, the checkpoints are %llu -> %llu", o->proof,
		               (unsigned long long)x->pold, (unsigned long long)x->pnew,
		               (unsigned long long)x->a.size, (unsigned long long)x->b.size);
	if ((rc = au_consistent(&x->a, &x->b, (const uint8_t(*)[MT_HASH_LEN])x->proof, x->len, why,
	                        sizeof(why))))
		return au_report_fail(o->json, rc, "checkpoint", x->b.size, "%s", why);
	sodium_bin2base64(ra, sizeof(ra), x->a.root, MT_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(rb, sizeof(rb), x->b.root, MT_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
	k = au_keyring_at(&x->keys, x->b.size);
	st_key_label(k->name, k->pk, kb, sizeof(kb));
	if (o->json)
		return au_emit(json_pack("{s:b, s:I, s:s, s:I, s:s, s:s, s:s, s:I}", "ok", 1, "old",
		                         (json_int_t)x->a.size, "old_root", ra, "new",
		                         (json_int_t)x->b.size, "new_root", rb, "key", name, "new_key",
		                         kb, "rotations", (json_int_t)(x->keys.n - 1)));
	if (x->keys.n > 1)
		printf("ok: size %llu (root %s) is a prefix of size %llu (root %s), each signed by "
		       "the key in force for it; %llu rotation%s proven, %s signs the new one\n",
		       (unsigned long long)x->a.size, ra, (unsigned long long)x->b.size, rb,
		       (unsigned long long)(x->keys.n - 1), x->keys.n == 2 ? "" : "s", kb);
	else
		printf("ok: size %llu (root %s) is a prefix of size %llu (root %s), both signed by "
		       "%s\n",
		       (unsigned long long)x->a.size, ra, (unsigned long long)x->b.size, rb, name);
	return fflush(stdout) == 0 ? AU_EXIT_OK : AU_EXIT_OTHER;
}

int au_cmd_consistency(int argc, char **argv)
{
	struct au_opts o;
	struct ctx *x;
	int rc;

	if ((rc = au_parse(argc, argv, &o)) >= 0)
		return rc;
	if (o.nargs != 2)
		return au_usage(argv[0], "consistency needs two checkpoint files, OLD and NEW");
	if (!(x = calloc(1, sizeof(*x))))
		return au_fail(o.json, AU_EXIT_OTHER, "no_memory", "out of memory");
	rc = run(&o, x);
	free(x->a.text);
	free(x->b.text);
	au_keyring_free(&x->keys);
	free(x);
	return rc;
}
