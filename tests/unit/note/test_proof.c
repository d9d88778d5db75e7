/* C2SP tlog-proof (c2sp.org/tlog-proof@v1): the spec's own example parsed
 * and written back byte for byte, the public RFC 6962 inclusion vectors
 * carried through the text form and still verifying, and malformed
 * proofs refused. */
#include "mt.h"
#include "pb_err.h"
#include "sn.h"
#include "tv.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The example of c2sp.org/tlog-proof, as the spec prints it (the
 * signatures are abbreviated there: the note is not opened here). */
static const char spec_example[] =
    "c2sp.org/tlog-proof@v1\n"
    "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
    "index 73894\n"
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
    "\n"
    "example.com/fancylog\n"
    "109482\n"
    "sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
    "\n"
    "\xe2\x80\x94 example.com/fancylog hI2DJw[...]1roloI=\n"
    "\xe2\x80\x94 witness1.example mJirIklj[...]qY9v2B/5bg==\n"
    "\xe2\x80\x94 witness2.example TnKKVHLX[...]xwYwrSjgow==\n"
    "\xe2\x80\x94 witness3.example S4X82uH5[...]3oEcROGLFQ==\n";

Test(proof, spec_example_round_trip)
{
	struct sn_proof *p = calloc(1, sizeof(*p));
	uint8_t extra[128];
	char out[2048];
	size_t elen, len;

	cr_assert_not_null(p);
	cr_assert_eq(sn_proof_parse(spec_example, strlen(spec_example), p), PB_OK);
	cr_assert_eq(p->index, 73894);
	cr_assert_eq(p->n, 5);
	cr_assert_not_null(p->extra);
	cr_assert_eq(strncmp(p->note, "example.com/fancylog\n109482\n", 28), 0);
	cr_assert_eq(sodium_base642bin(extra, sizeof(extra), p->extra, p->extra_len, NULL, &elen,
	                               NULL, sodium_base64_VARIANT_ORIGINAL),
	             0);
	cr_assert_eq(sn_proof_format(p->index, extra, elen, (const uint8_t(*)[SN_HASH_LEN])p->hashes,
	                             p->n, p->note, p->note_len, out, sizeof(out), &len),
	             PB_OK);
	cr_assert_eq(len, strlen(spec_example));
	cr_assert_arr_eq(out, spec_example, len, "not the spec's bytes:\n%s", out);
	/* Without extra data the line is left out, as the spec allows. */
	cr_assert_eq(sn_proof_format(p->index, NULL, 0, (const uint8_t(*)[SN_HASH_LEN])p->hashes, p->n,
	                             p->note, p->note_len, out, sizeof(out), &len),
	             PB_OK);
	cr_assert_eq(strncmp(out, "c2sp.org/tlog-proof@v1\nindex 73894\n", 35), 0, "%s", out);
	cr_assert_eq(sn_proof_format(p->index, NULL, 0, (const uint8_t(*)[SN_HASH_LEN])p->hashes, p->n,
	                             p->note, p->note_len, out, 40, &len),
	             PB_ETOOBIG);
	free(p);
}

/* Each happy-path inclusion vector, written as a tlog-proof and read back:
 * the proof still leads from the leaf to the root. */
Test(proof, inclusion_vectors_through_the_text_form)
{
	static const char note[] = "vectors.example/log\n1\nAAAA\n\n\xe2\x80\x94 x y\n";
	int found = 0;

	if (!tv_present("merkle/testdata/inclusion"))
		cr_skip_test("test vectors not found at " TV_DIR " (../shared/testvectors beside the "
		             "repo); skipped");
	for (int d = 0; d < 10; d++) {
		char path[512], *text, out[8192];
		uint8_t leaf[32], root[32], hashes[SN_PROOF_MAX][32];
		struct sn_proof *p;
		uint64_t idx, size;
		size_t n = 0, got, len;
		const char *a;

		snprintf(path, sizeof(path), TV_DIR "/merkle/testdata/inclusion/%d/happy-path.json", d);
		if (!(text = tv_read(path, NULL)))
			continue;
		json_t *doc = json_loads(text, 0, NULL), *v;
		size_t k;
		cr_assert_not_null(doc, "%s", path);
		cr_assert_eq(tv_u64(text, "leafIdx", &idx), 0);
		cr_assert_eq(tv_u64(text, "treeSize", &size), 0);
		a = json_string_value(json_object_get(doc, "root"));
		cr_assert(a && tv_b64(a, root, 32, &got) == 0 && got == 32);
		a = json_string_value(json_object_get(doc, "leafHash"));
		cr_assert(a && tv_b64(a, leaf, 32, &got) == 0 && got == 32);
		json_array_foreach(json_object_get(doc, "proof"), k, v)
		{
			cr_assert_lt(n, SN_PROOF_MAX);
			cr_assert(tv_b64(json_string_value(v), hashes[n++], 32, &got) == 0 && got == 32);
		}
		json_decref(doc);
		cr_assert_eq(sn_proof_format(idx, NULL, 0, (const uint8_t(*)[32])hashes, n, note,
		                             sizeof(note) - 1, out, sizeof(out), &len),
		             PB_OK);
		p = calloc(1, sizeof(*p));
		cr_assert_eq(sn_proof_parse(out, len, p), PB_OK, "%s", out);
		cr_assert_eq(p->index, idx);
		cr_assert_eq(p->n, n);
		cr_assert_eq(mt_verify_inclusion(leaf, p->index, size, (const uint8_t(*)[32])p->hashes,
		                                 p->n, root),
		             PB_OK, "%s", path);
		if (p->n) {
			p->hashes[0][0] ^= 1;
			cr_assert_neq(mt_verify_inclusion(leaf, p->index, size,
			                                  (const uint8_t(*)[32])p->hashes, p->n, root),
			              PB_OK);
		}
		free(p);
		free(text);
		found++;
	}
	cr_assert_gt(found, 0, "no happy-path inclusion vector read");
}

Test(proof, malformed_proofs_refused)
{
	static const char *const bad[] = {
	    "",
	    "c2sp.org/tlog-proof@v2\nindex 1\n\nnote\n",
	    "c2sp.org/tlog-proof@v1\nindex 01\n\nnote\n",        /* not canonical */
	    "c2sp.org/tlog-proof@v1\nindex -1\n\nnote\n",
	    "c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\nnote\n",
	    "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\nnote\n",   /* not 32 bytes */
	    "c2sp.org/tlog-proof@v1\nindex 1\n",                /* no blank line */
	    "c2sp.org/tlog-proof@v1\nindex 1\n\n",              /* no note */
	    "c2sp.org/tlog-proof@v1\nextra ***\nindex 1\n\nnote\n",
	    "c2sp.org/tlog-proof@v1\nextra AAAA\n\nnote\n",     /* no index */
	    "c2sp.org/tlog-proof@v1\nindex 1\ngSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlR=\n\nn\n",
	};
	struct sn_proof *p = calloc(1, sizeof(*p));

	cr_assert_not_null(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(sn_proof_parse(bad[i], strlen(bad[i]), p), PB_EINVAL, "accepted: %s", bad[i]);
	/* 65 hashes: more than any tree below 2^64 needs. */
	{
		char *big = malloc(65 * 46 + 64);
		size_t at = (size_t)sprintf(big, "c2sp.org/tlog-proof@v1\nindex 1\n");
		for (int i = 0; i < 65; i++)
			at += (size_t)sprintf(big + at, "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n");
		at += (size_t)sprintf(big + at, "\nnote\n");
		cr_expect_eq(sn_proof_parse(big, at, p), PB_EINVAL);
		free(big);
	}
	free(p);
}

/* The extra line and the hash lines are the bytes libsodium's encoder
 * writes, for every length of extra data up to a few hundred bytes (all
 * three tails, and bytes of every value), and a buffer one byte short is
 * refused rather than overrun. */
Test(proof, base64_lines_are_libsodiums_bytes)
{
	static const char note[] = "example.com/log\n1000\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
	uint8_t extra[400], hashes[3][SN_HASH_LEN];
	char out[1024], want[1024], b64[600];
	size_t len;

	for (size_t i = 0; i < sizeof(extra); i++)
		extra[i] = (uint8_t)(i * 37 + (i >> 3));
	for (size_t i = 0; i < sizeof(hashes); i++)
		hashes[i / SN_HASH_LEN][i % SN_HASH_LEN] = (uint8_t)(255 - i * 11);
	for (size_t n = 0; n <= sizeof(extra); n++) {
		size_t w = (size_t)snprintf(want, sizeof(want), "c2sp.org/tlog-proof@v1\n");
		if (n) {
			sodium_bin2base64(b64, sizeof(b64), extra + sizeof(extra) - n, n,
			                  sodium_base64_VARIANT_ORIGINAL);
			w += (size_t)snprintf(want + w, sizeof(want) - w, "extra %s\n", b64);
		}
		w += (size_t)snprintf(want + w, sizeof(want) - w, "index 7\n");
		for (int h = 0; h < 3; h++) {
			sodium_bin2base64(b64, sizeof(b64), hashes[h], SN_HASH_LEN,
			                  sodium_base64_VARIANT_ORIGINAL);
			w += (size_t)snprintf(want + w, sizeof(want) - w, "%s\n", b64);
		}
		w += (size_t)snprintf(want + w, sizeof(want) - w, "\n%s", note);
		cr_assert_eq(sn_proof_format(7, extra + sizeof(extra) - n, n,
		                             (const uint8_t(*)[SN_HASH_LEN])hashes, 3, note,
		                             sizeof(note) - 1, out, sizeof(out), &len),
		             PB_OK);
		cr_assert_eq(len, w, "length for %zu bytes", n);
		cr_assert_arr_eq(out, want, w + 1, "for %zu bytes:\n%s", n, out);
		cr_assert_eq(sn_proof_format(7, extra + sizeof(extra) - n, n,
		                             (const uint8_t(*)[SN_HASH_LEN])hashes, 3, note,
		                             sizeof(note) - 1, out, w, &len),
		             PB_ETOOBIG, "a buffer without room for the NUL, %zu bytes", n);
		if (n == 0)
			continue;
		/* Room for the extra line's base64 but not its NUL. */
		size_t cap = 23 + 6 + (n + 2) / 3 * 4;
		memset(out, '#', sizeof(out));
		cr_assert_eq(sn_proof_format(7, extra + sizeof(extra) - n, n,
		                             (const uint8_t(*)[SN_HASH_LEN])hashes, 3, note,
		                             sizeof(note) - 1, out, cap, &len),
		             PB_ETOOBIG, "base64 of %zu bytes in %zu", n, cap);
		cr_assert_eq(out[cap], '#', "written past the buffer for %zu bytes", n);
	}
}
