/* C2SP tlog-witness add-checkpoint bodies: the spec's example request
 * parsed and written back byte for byte, its example answer's lines taken
 * as signature lines, 409 size bodies, the format's refusals, and
 * verifier key lines. */
#include "pb_err.h"
#include "sn.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* The example request of c2sp.org/tlog-witness, as the spec prints it. */
static const char spec_request[] =
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\xe2\x80\x94 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\xe2\x80\x94 example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n";

Test(witness, spec_request_round_trip)
{
	struct sn_addcp *a = calloc(1, sizeof(*a));
	struct sn_checkpoint cp;
	char out[2048];
	size_t len;

	cr_assert_not_null(a);
	cr_assert_eq(sn_addcp_parse(spec_request, strlen(spec_request), a), PB_OK);
	cr_assert_eq(a->old, 20852014);
	cr_assert_eq(a->n, 4);
	cr_assert_eq(a->proof[0][0], 0x3e);   /* "PlRN" */
	cr_assert_eq(strncmp(a->note, "example.com/behind-the-sofa\n20852163\n", 37), 0);
	/* The note is a checkpoint note: its body parses. */
	cr_assert_eq(sn_checkpoint_parse(a->note, 37 + 45, &cp), PB_OK);
	cr_assert_eq(cp.size, 20852163);
	cr_assert_eq(sn_addcp_format(a->old, (const uint8_t(*)[SN_HASH_LEN])a->proof, a->n, a->note,
	                             a->note_len, out, sizeof(out), &len),
	             PB_OK);
	cr_assert_eq(len, strlen(spec_request));
	cr_assert_arr_eq(out, spec_request, len, "not the spec's bytes:\n%s", out);
	/* Too small a buffer is said so, not cut. */
	cr_assert_eq(sn_addcp_format(a->old, (const uint8_t(*)[SN_HASH_LEN])a->proof, a->n, a->note,
	                             a->note_len, out, 100, &len),
	             PB_ETOOBIG);
	free(a);
}

Test(witness, first_contact_has_no_proof)
{
	struct sn_addcp a;
	const char *note = "example.com/log\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	uint8_t h[1][SN_HASH_LEN] = {{0}};
	char out[512];
	size_t len;

	cr_assert_eq(sn_addcp_format(0, NULL, 0, note, strlen(note), out, sizeof(out), &len), PB_OK);
	cr_assert_eq(strncmp(out, "old 0\n\nexample.com/log\n", 23), 0);
	cr_assert_eq(sn_addcp_parse(out, len, &a), PB_OK);
	cr_assert_eq(a.old, 0);
	cr_assert_eq(a.n, 0);
	cr_assert_eq(a.note_len, strlen(note));
	/* "The proof MUST be empty if the old size is zero." */
	cr_assert_eq(sn_addcp_format(0, (const uint8_t(*)[SN_HASH_LEN])h, 1, note, strlen(note), out,
	                             sizeof(out), &len),
	             PB_EINVAL);
	cr_assert_eq(sn_addcp_parse("old 0\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\nx\n", 52,
	                            &a),
	             PB_EINVAL);
}

Test(witness, malformed_bodies_refused)
{
	static const char *bad[] = {
		"",
		"old 1\n",                                  /* no blank line, no note */
		"old 1\n\n",                                /* no note */
		"old 01\n\nx\n",                            /* leading zero */
		"old -1\n\nx\n",
		"old +1\n\nx\n",
		"old 1 \n\nx\n",
		"Old 1\n\nx\n",
		"old  1\n\nx\n",
		"old 18446744073709551616\n\nx\n",          /* 2^64 */
		"old 5\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw\n\nx\n",   /* unpadded */
		"old 5\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw==\n\nx\n", /* not 32 bytes */
		"old 5\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkax=\n\nx\n",  /* non-canonical */
		"old 5\r\n\nx\n",
		"old 5\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=",        /* no newline */
	};
	struct sn_addcp a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(sn_addcp_parse(bad[i], strlen(bad[i]), &a), PB_EINVAL, "accepted: %s",
		             bad[i]);
	/* 2^64 - 1 is still a size. */
	{
		const char *max = "old 18446744073709551615\n\nx\n";
		cr_assert_eq(sn_addcp_parse(max, strlen(max), &a), PB_OK);
	}
	cr_assert_eq(a.old, UINT64_MAX);
}

Test(witness, at_most_63_proof_lines)
{
	const char *h = "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n";
	char *body = malloc(64 * 45 + 64);
	struct sn_addcp *a = malloc(sizeof(*a));
	size_t pos = 0;

	pos += (size_t)sprintf(body, "old 7\n");
	for (int i = 0; i < 63; i++)
		pos += (size_t)sprintf(body + pos, "%s", h);
	strcpy(body + pos, "\nx\n");
	cr_assert_eq(sn_addcp_parse(body, strlen(body), a), PB_OK);
	cr_assert_eq(a->n, 63);
	pos += (size_t)sprintf(body + pos, "%s", h);
	strcpy(body + pos, "\nx\n");
	cr_assert_eq(sn_addcp_parse(body, strlen(body), a), PB_EINVAL, "64 proof lines accepted");
	free(body);
	free(a);
}

Test(witness, size_answer)
{
	uint64_t v;

	cr_assert_eq(sn_tlog_size_parse("20852014\n", 9, &v), PB_OK);
	cr_assert_eq(v, 20852014);
	cr_assert_eq(sn_tlog_size_parse("0\n", 2, &v), PB_OK);
	cr_assert_eq(v, 0);
	cr_assert_eq(sn_tlog_size_parse("12", 2, &v), PB_EINVAL);
	cr_assert_eq(sn_tlog_size_parse("012\n", 4, &v), PB_EINVAL);
	cr_assert_eq(sn_tlog_size_parse("\n", 1, &v), PB_EINVAL);
	cr_assert_eq(sn_tlog_size_parse("1 \n", 3, &v), PB_EINVAL);
}

/* A witness answer appended to the note opens under the witness's key
 * and not under another; the formatted verifier key parses back. */
Test(witness, answer_lines_and_keys)
{
	uint8_t lpk[32], lsk[64], wpk[32], wsk[64], pk[32];
	const char *cp = "example.com/log\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", *body;
	char note[1024], line[300], vkey[SN_VKEY_MAX], name[SN_VKEY_MAX];
	size_t nlen, llen, blen;
	uint64_t ts;

	cr_assert_eq(sodium_init() >= 0, 1);
	crypto_sign_keypair(lpk, lsk);
	crypto_sign_keypair(wpk, wsk);
	cr_assert_eq(sn_sign(cp, strlen(cp), "example.com/log", lsk, note, sizeof(note), &nlen),
	             PB_OK);
	cr_assert_eq(sn_cosign_line(cp, strlen(cp), "witness.example/w1", wsk, 1700000000, line,
	                            sizeof(line), &llen),
	             PB_OK);
	memcpy(note + nlen, line, llen + 1);
	cr_assert_eq(sn_open_cosigned(note, nlen + llen, "witness.example/w1", wpk, &body, &blen, &ts),
	             PB_OK);
	cr_assert_eq(ts, 1700000000);
	cr_assert_eq(sn_open_cosigned(note, nlen + llen, "witness.example/w1", lpk, &body, &blen, &ts),
	             PB_EAUTH);
	sn_vkey_format("witness.example/w1", SN_TYPE_COSIG_V1, wpk, vkey, sizeof(vkey));
	cr_assert_eq(sn_vkey_parse(vkey, strlen(vkey), SN_TYPE_COSIG_V1, name, sizeof(name), pk),
	             PB_OK);
	cr_assert_str_eq(name, "witness.example/w1");
	cr_assert_arr_eq(pk, wpk, 32);
	/* Another type, a wrong id, a short name buffer: refused. */
	cr_assert_eq(sn_vkey_parse(vkey, strlen(vkey), SN_TYPE_ED25519, name, sizeof(name), pk),
	             PB_EINVAL);
	vkey[strlen("witness.example/w1+")] ^= 1;
	cr_assert_eq(sn_vkey_parse(vkey, strlen(vkey), SN_TYPE_COSIG_V1, name, sizeof(name), pk),
	             PB_EINVAL);
	vkey[strlen("witness.example/w1+")] ^= 1;
	cr_assert_eq(sn_vkey_parse(vkey, strlen(vkey), SN_TYPE_COSIG_V1, name, 5, pk), PB_EINVAL);
}
