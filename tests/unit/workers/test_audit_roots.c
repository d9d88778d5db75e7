/* The walk's hashing thread (workers/audit/au_roots.c) against libsodium
 * and the tree's reference recursion (mt_root_naive): each record's
 * SHA-256 and the root at every checkpoint size, over more records than
 * its ring holds, with a gap, and stopped while it waits for room; and
 * the checkpoints it opens ahead of the walk. */
#include "au_tlog.h"
#include "mt.h"
#include "pb_err.h"
#include "sn.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define N 20000                    /* more than the ring's 8192 */

typedef uint8_t hash_t[MT_HASH_LEN];

static uint8_t *bytes;
static struct au_val vals[N];
static struct au_cp cps[64];
static hash_t leaves[N];

/* Records of 1 to 700 bytes, checkpoints at small sizes, at powers of
 * two and either side of them, and at the end. */
static void fill(struct au_src *s)
{
	static const uint64_t sizes[] = {1, 2, 3, 5, 8, 63, 64, 65, 255, 256, 257, 1000, 4095, 4096,
	                                 8191, 8192, 8193, 12345, 16384, 19999, N};
	size_t off = 0;

	cr_assert_eq(sodium_init() >= 0, 1);
	bytes = malloc((size_t)N * 700);
	cr_assert_not_null(bytes);
	randombytes_buf_deterministic(bytes, (size_t)N * 700, (const uint8_t *)"mailroom roots test vector key!!");
	memset(s, 0, sizeof(*s));
	s->bundle = 1;
	s->size = N;
	s->vals = vals;
	for (size_t i = 0; i < N; i++) {
		vals[i].p = bytes + off;
		vals[i].n = 1 + (bytes[off] * 7 + i) % 700;
		off += vals[i].n;
		mt_leaf_hash(vals[i].p, vals[i].n, leaves[i]);
	}
	for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++)
		cps[j].size = sizes[j];
	s->cps = cps;
	s->ncps = sizeof(sizes) / sizeof(sizes[0]);
}

Test(audit_roots, hashes_and_roots_match_the_references)
{
	struct au_src s;
	struct au_roots *r;
	hash_t got, want;
	size_t cp = 0;

	fill(&s);
	cr_assert_eq(au_roots_start(&s, &r), PB_OK);
	for (uint64_t i = 0; i < N; i++) {
		cr_assert_eq(au_roots_hash(r, i, got), PB_OK);
		crypto_hash_sha256(want, vals[i].p, vals[i].n);
		cr_assert_eq(memcmp(got, want, MT_HASH_LEN), 0, "record %llu", (unsigned long long)i);
		for (; cp < s.ncps && cps[cp].size == i + 1; cp++) {
			cr_assert_eq(au_roots_root(r, cp, got), PB_OK);
			mt_root_naive((const hash_t *)leaves, cps[cp].size, want);
			cr_assert_eq(memcmp(got, want, MT_HASH_LEN), 0, "root at %llu",
			             (unsigned long long)cps[cp].size);
		}
	}
	cr_assert_eq(cp, s.ncps);
	cr_assert_eq(au_roots_hash(r, N, got), PB_ENOTFOUND);
	au_roots_stop(r);
	free(bytes);
}

Test(audit_roots, a_gap_stops_it)
{
	struct au_src s;
	struct au_roots *r;
	hash_t got;

	fill(&s);
	vals[9000].n = 0;
	cr_assert_eq(au_roots_start(&s, &r), PB_OK);
	for (uint64_t i = 0; i < 9000; i++)
		cr_assert_eq(au_roots_hash(r, i, got), PB_OK);
	cr_assert_eq(au_roots_hash(r, 9000, got), PB_ENOTFOUND);
	au_roots_stop(r);
	free(bytes);
}

Test(audit_roots, stops_while_waiting_for_room, .timeout = 20)
{
	struct au_src s;
	struct au_roots *r;
	hash_t got, want;

	/* The walk fails at record 0 and leaves the thread a full ring. */
	fill(&s);
	cr_assert_eq(au_roots_start(&s, &r), PB_OK);
	cr_assert_eq(au_roots_hash(r, 0, got), PB_OK);
	crypto_hash_sha256(want, vals[0].p, vals[0].n);
	cr_assert_eq(memcmp(got, want, MT_HASH_LEN), 0);
	au_roots_stop(r);
	free(bytes);
}

/* Checkpoints opened ahead under the walk's key: the same size and root
 * as the walk would read, for that key's number only; a note the key did
 * not sign, or a key not given yet, is left to the walk. */
Test(audit_roots, opens_checkpoints_ahead_under_the_walks_key)
{
	static char notes[3][1024];
	/* Past the ring: the thread waits there until the key is given. */
	const uint64_t sizes[3] = {9000, 12000, 15000};
	struct au_key k = {0}, other = {0};
	uint8_t sk[64], osk[64];
	struct au_src s;
	struct au_roots *r;
	struct au_note n;
	hash_t root, got;
	uint32_t gen;

	fill(&s);
	snprintf(k.name, sizeof(k.name), "roots.test/log");
	snprintf(other.name, sizeof(other.name), "roots.test/log");
	cr_assert_eq(crypto_sign_keypair(k.pk, sk), 0);
	cr_assert_eq(crypto_sign_keypair(other.pk, osk), 0);
	for (int j = 0; j < 3; j++) {
		char body[512];
		size_t blen, len;
		mt_root_naive((const hash_t *)leaves, sizes[j], root);
		cr_assert_eq(sn_checkpoint_format(k.name, sizes[j], root, NULL, body, sizeof(body), &blen),
		             PB_OK);
		cr_assert_eq(sn_sign(body, blen, k.name, j == 2 ? osk : sk, notes[j], sizeof(notes[j]),
		                     &len),
		             PB_OK);
		cps[j] = (struct au_cp){.size = sizes[j], .note = notes[j], .len = len};
	}
	s.ncps = 3;
	cr_assert_eq(au_roots_start(&s, &r), PB_OK);
	gen = au_roots_key(r, &k);
	for (int j = 0; j < 3; j++) {
		/* As the walk asks: every record below the checkpoint's size first. */
		for (uint64_t i = j ? sizes[j - 1] : 0; i < sizes[j]; i++)
			cr_assert_eq(au_roots_hash(r, i, got), PB_OK);
		memset(&n, 0, sizeof(n));
		int ahead = au_roots_note(r, (size_t)j, gen, &n);
		/* The third is signed by another key. */
		cr_assert_eq(ahead, j < 2, "checkpoint %d", j);
		if (!ahead)
			continue;
		mt_root_naive((const hash_t *)leaves, sizes[j], root);
		cr_assert_eq(n.size, sizes[j]);
		cr_assert_eq(memcmp(n.root, root, MT_HASH_LEN), 0);
		cr_assert(n.blen > 0 && n.blen < cps[j].len);
		cr_assert_eq(au_roots_note(r, (size_t)j, gen + 1, &n), 0);
	}
	au_roots_stop(r);
	free(bytes);
}
