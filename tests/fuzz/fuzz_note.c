/* Signed notes, checkpoints, cosignatures, tlog-proofs and Merkle proofs, as the
 * auditor and the witness read them: the input as a signed note (under a
 * fixed key, and as cosigned), as a checkpoint body, as a cosignature
 * payload, and as "index, size, proof hashes" for inclusion and
 * consistency checks. What we sign ourselves must open, and proofs from a
 * real tree of the input's size must verify. */
#include "mt.h"
#include "pb_err.h"
#include "sn.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char name[] = "mailroom.example/log";
static uint8_t pk[SN_PK_LEN], sk[SN_SK_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[32];

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	memset(seed, 3, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	return 0;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void notes(const char *s, size_t size)
{
	static char out[70000];
	const char *body;
	size_t blen, len;
	uint64_t ts;
	struct sn_checkpoint cp;

	(void)sn_open(s, size, name, pk, &body, &blen);
	(void)sn_open_checkpoint(s, size, name, pk, &cp);
	(void)sn_open_cosigned(s, size, name, pk, &body, &blen, &ts);
	(void)sn_checkpoint_parse(s, size, &cp);
	(void)sn_cosig_timestamp(s, size, &ts);
	if (size < 65536 && sn_sign(s, size, name, sk, out, sizeof(out), &len) == PB_OK) {
		if (sn_open(out, len, name, pk, &body, &blen) != PB_OK || blen != size ||
		    memcmp(body, s, size) != 0)
			abort();
	}
}

/* index (8) size (8) then proof hashes; proofs of a real tree of
 * size % 64 leaves for the same positions must verify. */
static void proofs(const uint8_t *d, size_t size)
{
	uint8_t proof[MT_PROOF_MAX][MT_HASH_LEN], root[MT_HASH_LEN], old[MT_HASH_LEN];
	uint8_t leaf[MT_HASH_LEN];
	size_t n, len;
	uint64_t index, tsize;
	mt_mem *m;

	if (size < 16 + MT_HASH_LEN)
		return;
	index = be64(d);
	tsize = be64(d + 8);
	n = (size - 16) / MT_HASH_LEN;
	if (n > MT_PROOF_MAX)
		n = MT_PROOF_MAX;
	memcpy(proof, d + 16, n * MT_HASH_LEN);
	memcpy(root, proof[0], MT_HASH_LEN);
	memcpy(leaf, proof[n - 1], MT_HASH_LEN);
	(void)mt_verify_inclusion(leaf, index, tsize, (const uint8_t(*)[MT_HASH_LEN])proof + 1, n - 1,
	                          root);
	(void)mt_verify_consistency(index, tsize, leaf, root, (const uint8_t(*)[MT_HASH_LEN])proof + 1,
	                            n - 1);

	uint64_t leaves = tsize % 64 + 1, i = index % leaves, o = index % (leaves + 1);
	if (mt_mem_new(&m) != PB_OK)
		abort();
	for (uint64_t k = 0; k < leaves; k++) {
		uint8_t h[MT_HASH_LEN];
		mt_leaf_hash((const uint8_t *)&k, sizeof(k), h);
		if (mt_mem_append(m, h) != PB_OK)
			abort();
		if (k + 1 == o && mt_root(mt_mem_get, m, o, old) != PB_OK)
			abort();
		if (k == i)
			memcpy(leaf, h, MT_HASH_LEN);
	}
	if (mt_root(mt_mem_get, m, leaves, root) != PB_OK ||
	    mt_inclusion_proof(mt_mem_get, m, i, leaves, proof, MT_PROOF_MAX, &len) != PB_OK ||
	    mt_verify_inclusion(leaf, i, leaves, (const uint8_t(*)[MT_HASH_LEN])proof, len, root) != PB_OK)
		abort();
	if (o > 0 &&
	    (mt_consistency_proof(mt_mem_get, m, o, leaves, proof, MT_PROOF_MAX, &len) != PB_OK ||
	     mt_verify_consistency(o, leaves, old, root, (const uint8_t(*)[MT_HASH_LEN])proof, len) !=
	         PB_OK))
		abort();
	mt_mem_free(m);
}

/* The input as a C2SP tlog-proof: parsed, and when it parses, its path
 * checked against its own note's root (the note's signature is not). */
static void tlog_proof(const char *text, size_t len)
{
	static struct sn_proof p;
	struct sn_checkpoint cp;
	const char *end;
	uint8_t leaf[MT_HASH_LEN] = {0};

	if (sn_proof_parse(text, len, &p) != PB_OK)
		return;
	end = p.note + p.note_len;
	for (const char *q = p.note; q + 1 < end; q++)
		if (q[0] == '\n' && q[1] == '\n') {
			if (sn_checkpoint_parse(p.note, (size_t)(q + 1 - p.note), &cp) == PB_OK)
				(void)mt_verify_inclusion(leaf, p.index, cp.size,
				                          (const uint8_t(*)[MT_HASH_LEN])p.hashes, p.n, cp.root);
			break;
		}
}

/* The input as a C2SP tlog-witness add-checkpoint body: one that parses
 * formats back to the same bytes (the form is canonical); as a 409
 * answer's size; and as a verifier key line, whose formatted form must
 * parse back to the same name and key. */
static void add_checkpoint(const char *text, size_t len)
{
	static struct sn_addcp a;
	static char out[70000];
	char name[SN_VKEY_MAX], name2[SN_VKEY_MAX], line[SN_VKEY_MAX + 8];
	uint8_t key[SN_PK_LEN], key2[SN_PK_LEN];
	uint64_t v;
	size_t n;

	(void)sn_tlog_size_parse(text, len, &v);
	if (sn_vkey_parse(text, len, SN_TYPE_COSIG_V1, name, sizeof(name), key) == PB_OK) {
		sn_vkey_format(name, SN_TYPE_COSIG_V1, key, line, sizeof(line));
		if (sn_vkey_parse(line, strlen(line), SN_TYPE_COSIG_V1, name2, sizeof(name2), key2) !=
		        PB_OK ||
		    strcmp(name, name2) != 0 || memcmp(key, key2, SN_PK_LEN) != 0)
			abort();
		return;
	}
	if (sn_addcp_parse(text, len, &a) != PB_OK)
		return;
	if (sn_addcp_format(a.old, (const uint8_t(*)[SN_HASH_LEN])a.proof, a.n, a.note, a.note_len,
	                    out, sizeof(out), &n) != PB_OK ||
	    n != len || memcmp(out, text, len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	notes((const char *)data, size);
	proofs(data, size);
	tlog_proof((const char *)data, size);
	add_checkpoint((const char *)data, size);
	return 0;
}
