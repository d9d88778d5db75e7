/* Signed notes, checkpoints and cosignatures: known answers from the
 * C2SP specs and golang.org/x/mod/sumdb/note, round trips, tampering,
 * unknown signers, and strict parsing. */
#include "pb_err.h"
#include "sn.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DASH "\xe2\x80\x94 "  /* U+2014 EM DASH, space */
#define BUF 4096

/* ---- known answers ---- */

/* golang.org/x/mod/sumdb/note: "PRIVATE+KEY+PeterNeumann+c74f20a3+<this>"
 * (0x01 || Ed25519 seed), its verifier key, text and signed note. */
#define PETER_SKEY "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define PETER_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define PETER_TEXT                                                     \
	"If you think cryptography is the answer to your problem,\n" \
	"then you don't know what your problem is.\n"
#define PETER_SIG                                                                                   \
	DASH "PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqd" \
	     "ngotpRZb6KE6RyyBwJnAM=\n"
#define ENOCH_VKEY "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
#define ENOCH_SIG                                                                                \
	DASH "EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTG" \
	     "wnWLox33WWd1RvMc+QQ=\n"
/* c2sp.org/signed-note example. */
#define FOO_VKEY "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
#define FOO_NOTE                                                                              \
	"This is an example message.\n\n" DASH                                                \
	"example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3m" \
	"FXmRKuwHjG1Yu72IneyaQM=\n"
/* c2sp.org/tlog-checkpoint and tlog-cosignature example body and the
 * witness line, whose signed message carries "time 1679315147". */
#define SOFA_BODY                    \
	"example.com/behind-the-sofa\n" \
	"20852163\n"                    \
	"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
#define SOFA_WITNESS                                                                          \
	"jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0x" \
	"Ue+mbIUBkBIfZ+qnA=="
/* transparency-dev/formats note tests: a cosignature/v1 payload and an
 * ordinary Ed25519 one. */
#define FORMATS_COSIG                                                                         \
	"ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworD" \
	"cFiEBYJXORmnFBOBA=="
#define FORMATS_ED25519                                                                       \
	"eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4" \
	"xkNQY="

struct key {
	char name[64];
	uint8_t pk[SN_PK_LEN], sk[SN_SK_LEN];
};

static void init(void)
{
	cr_assert(sodium_init() >= 0);
}

static void b64(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	const char *end;

	cr_assert_eq(sodium_base642bin(out, cap, s, strlen(s), NULL, len, &end,
	                               sodium_base64_VARIANT_ORIGINAL), 0, "bad base64 %s", s);
	cr_assert_eq(*end, '\0');
}

/* "<name>+<hex id>+<base64(0x01 || pk)>": checks the id and returns pk. */
static void vkey(const char *text, char *name, size_t ncap, uint8_t pk[SN_PK_LEN])
{
	const char *p1 = strchr(text, '+'), *p2 = p1 ? strchr(p1 + 1, '+') : NULL;
	uint8_t raw[64], id[SN_KEYID_LEN], want[SN_KEYID_LEN];
	size_t n;

	cr_assert(p1 && p2 && (size_t)(p1 - text) < ncap);
	memcpy(name, text, (size_t)(p1 - text));
	name[p1 - text] = '\0';
	cr_assert_eq(sodium_hex2bin(want, sizeof(want), p1 + 1, (size_t)(p2 - p1 - 1), NULL, &n, NULL), 0);
	b64(p2 + 1, raw, sizeof(raw), &n);
	cr_assert(n == 33 && raw[0] == SN_TYPE_ED25519);
	memcpy(pk, raw + 1, SN_PK_LEN);
	sn_key_id(name, SN_TYPE_ED25519, pk, id);
	cr_assert(memcmp(id, want, SN_KEYID_LEN) == 0, "key id of %s", name);
}

static void new_key(struct key *k, const char *name)
{
	snprintf(k->name, sizeof(k->name), "%s", name);
	cr_assert_eq(crypto_sign_keypair(k->pk, k->sk), 0);
}

static int open_note(const char *note, size_t len, const struct key *k)
{
	const char *body;
	size_t blen;

	return sn_open(note, len, k->name, k->pk, &body, &blen);
}

Test(note, known_answer_sign, .init = init)
{
	uint8_t raw[33];
	struct key k;
	char out[BUF];
	size_t n;
	const char *want = PETER_TEXT "\n" PETER_SIG;
	char name[64];
	uint8_t vpk[SN_PK_LEN];

	b64(PETER_SKEY, raw, sizeof(raw), &n);
	cr_assert(n == 33 && raw[0] == SN_TYPE_ED25519);
	snprintf(k.name, sizeof(k.name), "PeterNeumann");
	cr_assert_eq(crypto_sign_seed_keypair(k.pk, k.sk, raw + 1), 0);
	vkey(PETER_VKEY, name, sizeof(name), vpk);
	cr_assert(memcmp(vpk, k.pk, SN_PK_LEN) == 0);
	/* Ed25519 is deterministic: the note must come out byte for byte. */
	cr_assert_eq(sn_sign(PETER_TEXT, strlen(PETER_TEXT), k.name, k.sk, out, sizeof(out), &n), PB_OK);
	cr_assert_eq(n, strlen(want));
	cr_assert_str_eq(out, want);
	cr_assert_eq(open_note(out, n, &k), PB_OK);
}

Test(note, known_answer_open, .init = init)
{
	struct key foo, peter, enoch;
	const char *two = PETER_TEXT "\n" PETER_SIG ENOCH_SIG;
	const char *body;
	size_t blen;

	vkey(FOO_VKEY, foo.name, sizeof(foo.name), foo.pk);
	cr_assert_eq(sn_open(FOO_NOTE, strlen(FOO_NOTE), foo.name, foo.pk, &body, &blen), PB_OK);
	cr_assert_eq(blen, strlen("This is an example message.\n"));
	cr_assert(memcmp(body, "This is an example message.\n", blen) == 0);

	/* Two signers: each opens it alone, the other line being unknown. */
	vkey(PETER_VKEY, peter.name, sizeof(peter.name), peter.pk);
	vkey(ENOCH_VKEY, enoch.name, sizeof(enoch.name), enoch.pk);
	cr_assert_eq(open_note(two, strlen(two), &peter), PB_OK);
	cr_assert_eq(open_note(two, strlen(two), &enoch), PB_OK);
	cr_assert_eq(open_note(two, strlen(two), &foo), PB_EAUTH);
}

Test(note, known_answer_cosignature_times, .init = init)
{
	uint64_t ts = 0;

	cr_assert_eq(sn_cosig_timestamp(FORMATS_COSIG, strlen(FORMATS_COSIG), &ts), PB_OK);
	cr_assert_eq(ts, 1727964367);
	cr_assert_eq(sn_cosig_timestamp(SOFA_WITNESS, strlen(SOFA_WITNESS), &ts), PB_OK);
	cr_assert_eq(ts, 1679315147);
	cr_assert_eq(sn_cosig_timestamp(FORMATS_ED25519, strlen(FORMATS_ED25519), &ts), PB_EINVAL);
	cr_assert_eq(sn_cosig_timestamp("5%/$!\n 2", 8, &ts), PB_EINVAL);
	cr_assert_eq(sn_cosig_timestamp("", 0, &ts), PB_EINVAL);
}

Test(note, key_ids, .init = init)
{
	uint8_t pk[SN_PK_LEN], a[SN_KEYID_LEN], b[SN_KEYID_LEN], h[32];
	uint8_t pre[64 + 2 + SN_PK_LEN];
	const char *name = "witness.example/w1";
	size_t nl = strlen(name);

	randombytes_buf(pk, sizeof(pk));
	sn_key_id(name, SN_TYPE_ED25519, pk, a);
	sn_key_id(name, SN_TYPE_COSIG_V1, pk, b);
	cr_assert(memcmp(a, b, SN_KEYID_LEN) != 0);
	/* SHA-256(name || "\n" || 0x04 || pk)[:4], spelled out. */
	memcpy(pre, name, nl);
	pre[nl] = '\n';
	pre[nl + 1] = 0x04;
	memcpy(pre + nl + 2, pk, SN_PK_LEN);
	crypto_hash_sha256(h, pre, nl + 2 + SN_PK_LEN);
	cr_assert(memcmp(h, b, SN_KEYID_LEN) == 0);
}

Test(note, names)
{
	const char *good[] = {"a", "example.com/log", "mailroom.gov.example/audit-1",
	                      "\xe6\x97\xa5\xe6\x9c\xac", "a=b", "a/b~c"};
	const char *bad[] = {"", "a b", "a+b", "a\tb", "a\nb", "a\x01", "a\x7f",
	                     "a\xc2\xa0" "b", "a\xe3\x80\x80" "b", "a\xe2\x80\xa8" "b",
	                     "a\xc2\x85" "b", "\xff", "a\xc0\xaf"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_expect(sn_name_valid(good[i]), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect(!sn_name_valid(bad[i]), "bad name %zu accepted", i);
	cr_expect(!sn_name_valid(NULL));
}

/* ---- checkpoints ---- */

Test(note, checkpoint_round_trip, .init = init)
{
	struct sn_checkpoint cp;
	uint8_t root[32];
	char out[BUF];
	size_t n;

	cr_assert_eq(sn_checkpoint_parse(SOFA_BODY, strlen(SOFA_BODY), &cp), PB_OK);
	cr_assert_eq(cp.size, 20852163);
	cr_assert(cp.origin_len == 27 && memcmp(cp.origin, "example.com/behind-the-sofa", 27) == 0);
	cr_assert_eq(cp.ext_len, 0);
	cr_assert_eq(sn_checkpoint_format("example.com/behind-the-sofa", cp.size, cp.root, NULL, out,
	                                  sizeof(out), &n), PB_OK);
	cr_assert_str_eq(out, SOFA_BODY);

	randombytes_buf(root, sizeof(root));
	const uint64_t sizes[] = {0, 1, 10, UINT64_MAX};
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(sn_checkpoint_format("log.example/x", sizes[i], root, "ext one\nx\n", out,
		                                  sizeof(out), &n), PB_OK);
		cr_assert_eq(n, strlen(out));
		cr_assert_eq(sn_checkpoint_parse(out, n, &cp), PB_OK);
		cr_assert_eq(cp.size, sizes[i]);
		cr_assert(memcmp(cp.root, root, 32) == 0);
		cr_assert(cp.ext_len == 10 && memcmp(cp.ext, "ext one\nx\n", 10) == 0);
	}
	/* Exactly the room needed, and one byte less. */
	cr_assert_eq(sn_checkpoint_format("o", 7, root, NULL, out, 2 + 2 + 45 + 1, &n), PB_OK);
	cr_assert_eq(sn_checkpoint_format("o", 7, root, NULL, out, 2 + 2 + 45, &n), PB_ETOOBIG);
	cr_assert_eq(sn_checkpoint_format("", 7, root, NULL, out, sizeof(out), &n), PB_EINVAL);
	cr_assert_eq(sn_checkpoint_format("a\nb", 7, root, NULL, out, sizeof(out), &n), PB_EINVAL);
	cr_assert_eq(sn_checkpoint_format("o", 7, root, "x", out, sizeof(out), &n), PB_EINVAL);
	cr_assert_eq(sn_checkpoint_format("o", 7, root, "x\n\n", out, sizeof(out), &n), PB_EINVAL);
	cr_assert_eq(sn_checkpoint_format("o", 7, root, "\n", out, sizeof(out), &n), PB_EINVAL);
	cr_assert_eq(sn_checkpoint_format("o\x01", 7, root, NULL, out, sizeof(out), &n), PB_EINVAL);
}

#define ROOT0 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

Test(note, checkpoint_malformed)
{
	const char *bad[] = {
		"",
		"o\n7\n",                               /* too few lines */
		"o\n7\n" ROOT0,                         /* no final newline */
		"\n7\n" ROOT0 "\n",                     /* empty origin */
		"o\n07\n" ROOT0 "\n",                   /* leading zero */
		"o\n00\n" ROOT0 "\n",
		"o\n+7\n" ROOT0 "\n",
		"o\n-1\n" ROOT0 "\n",
		"o\n 7\n" ROOT0 "\n",
		"o\n7 \n" ROOT0 "\n",
		"o\n\n" ROOT0 "\n",                     /* empty size */
		"o\n0x10\n" ROOT0 "\n",
		"o\n18446744073709551616\n" ROOT0 "\n", /* 2^64 */
		"o\n99999999999999999999\n" ROOT0 "\n",
		"o\n7\nAAAA\n",                         /* root too short */
		"o\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", /* 36 bytes */
		"o\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n", /* trailing bits */
		"o\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",  /* no padding */
		"o\n7\n" ROOT0 " \n",
		"o\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-A=\n", /* url alphabet */
		"o\n7\n" ROOT0 "\n\n",                  /* empty extension line */
		"o\n7\n" ROOT0 "\next\n\n",
		"o\n7\n" ROOT0 "\next",
		"o\r\n7\n" ROOT0 "\n",                  /* control character */
		"o\xff\n7\n" ROOT0 "\n",                /* not UTF-8 */
	};
	struct sn_checkpoint cp;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(sn_checkpoint_parse(bad[i], strlen(bad[i]), &cp), PB_EINVAL,
		             "malformed checkpoint %zu accepted: %s", i, bad[i]);
	cr_assert_eq(sn_checkpoint_parse("o\n0\n" ROOT0 "\n", 4 + 45, &cp), PB_OK);
	cr_assert_eq(cp.size, 0);
	cr_assert_eq(sn_checkpoint_parse("o\n18446744073709551615\n" ROOT0 "\n", 23 + 45, &cp), PB_OK);
	cr_assert_eq(cp.size, UINT64_MAX);
	/* An embedded NUL is not text. */
	cr_assert_eq(sn_checkpoint_parse("o\0\n7\n" ROOT0 "\n", 5 + 45, &cp), PB_EINVAL);
}

/* ---- signing and opening ---- */

static size_t signed_checkpoint(const struct key *log, uint64_t size, char *out, size_t cap)
{
	uint8_t root[32];
	char body[BUF];
	size_t blen, n;

	randombytes_buf(root, sizeof(root));
	cr_assert_eq(sn_checkpoint_format(log->name, size, root, NULL, body, sizeof(body), &blen), PB_OK);
	cr_assert_eq(sn_sign(body, blen, log->name, log->sk, out, cap, &n), PB_OK);
	return n;
}

Test(note, sign_open_round_trip, .init = init)
{
	struct key log;
	struct sn_checkpoint cp;
	char note[BUF], body[BUF];
	uint8_t root[32];
	size_t n, blen;

	new_key(&log, "mailroom.example/log");
	randombytes_buf(root, sizeof(root));
	cr_assert_eq(sn_checkpoint_format(log.name, 12345, root, NULL, body, sizeof(body), &blen), PB_OK);
	cr_assert_eq(sn_sign(body, blen, log.name, log.sk, note, sizeof(note), &n), PB_OK);
	cr_assert_eq(n, strlen(note));
	cr_assert_eq(sn_open_checkpoint(note, n, log.name, log.pk, &cp), PB_OK);
	cr_assert_eq(cp.size, 12345);
	cr_assert(memcmp(cp.root, root, 32) == 0);
	cr_assert(cp.origin_len == strlen(log.name) && memcmp(cp.origin, log.name, cp.origin_len) == 0);
	/* Format: body, blank line, "— name base64(68 bytes)\n". */
	cr_assert(memcmp(note, body, blen) == 0);
	cr_assert(memcmp(note + blen, "\n" DASH, 5) == 0);
	cr_assert_eq(n, blen + 1 + 4 + strlen(log.name) + 1 + 92 + 1);
	/* Exact buffer and one byte short. */
	cr_assert_eq(sn_sign(body, blen, log.name, log.sk, note, n + 1, &n), PB_OK);
	cr_assert_eq(sn_sign(body, blen, log.name, log.sk, note, n, &n), PB_ETOOBIG);
	/* A body with blank lines of its own still splits at the last one. */
	const char *text = "a\n\nb\n\n";
	cr_assert_eq(sn_sign(text, strlen(text), log.name, log.sk, note, sizeof(note), &n), PB_OK);
	const char *got;
	size_t glen;
	cr_assert_eq(sn_open(note, n, log.name, log.pk, &got, &glen), PB_OK);
	cr_assert(glen == strlen(text) && memcmp(got, text, glen) == 0);
}

/* The walk's opening with a key checked once gives what sn_open gives:
 * the body, or PB_EAUTH for another key, a changed body or signature. */
Test(note, open_checked_key_as_sn_open, .init = init)
{
	struct key log, other;
	char note[BUF];
	const char *got;
	size_t n, glen;

	new_key(&log, "mailroom.example/log");
	new_key(&other, "mailroom.example/log");
	n = signed_checkpoint(&log, 77, note, sizeof(note));
	cr_assert_eq(sn_open_checked_key(note, n, log.name, log.pk, &got, &glen), PB_OK);
	cr_assert(got == note && glen > 0 && glen < n);
	cr_assert_eq(sn_open_checked_key(note, n, other.name, other.pk, &got, &glen), PB_EAUTH);
	cr_assert_eq(sn_open_checked_key(note, n, "bad name", log.pk, &got, &glen), PB_EINVAL);
	note[0] ^= 1;
	cr_assert_eq(sn_open(note, n, log.name, log.pk, &got, &glen), PB_EAUTH);
	cr_assert_eq(sn_open_checked_key(note, n, log.name, log.pk, &got, &glen), PB_EAUTH);
	note[0] ^= 1;
	note[n - 10] = note[n - 10] == 'A' ? 'B' : 'A';
	cr_assert_eq(sn_open_checked_key(note, n, log.name, log.pk, &got, &glen), PB_EAUTH);
}

Test(note, sign_refuses_bad_input, .init = init)
{
	struct key k;
	char out[BUF];
	size_t n;

	new_key(&k, "k");
	cr_assert_eq(sn_sign("", 0, k.name, k.sk, out, sizeof(out), &n), PB_EINVAL);
	cr_assert_eq(sn_sign("no newline", 10, k.name, k.sk, out, sizeof(out), &n), PB_EINVAL);
	cr_assert_eq(sn_sign("tab\there\n", 9, k.name, k.sk, out, sizeof(out), &n), PB_EINVAL);
	cr_assert_eq(sn_sign("nul\0\n", 5, k.name, k.sk, out, sizeof(out), &n), PB_EINVAL);
	cr_assert_eq(sn_sign("bad \xc3\n", 6, k.name, k.sk, out, sizeof(out), &n), PB_EINVAL);
	cr_assert_eq(sn_sign("ok\n", 3, "two words", k.sk, out, sizeof(out), &n), PB_EINVAL);
	cr_assert_eq(sn_sign("ok\n", 3, "a+b", k.sk, out, sizeof(out), &n), PB_EINVAL);
	cr_assert_eq(sn_sign("ok\n", 3, "", k.sk, out, sizeof(out), &n), PB_EINVAL);
	cr_assert_eq(sn_sign("ok\n", 3, k.name, k.sk, out, 3, &n), PB_ETOOBIG);
}

Test(note, every_flipped_byte_rejected, .init = init)
{
	struct key log;
	char note[BUF];
	size_t n = 0;

	new_key(&log, "mailroom.example/log");
	n = signed_checkpoint(&log, 99, note, sizeof(note));
	for (size_t i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit++) {
			note[i] ^= (char)(1 << bit);
			int rc = open_note(note, n, &log);
			cr_assert(rc == PB_EINVAL || rc == PB_EAUTH, "flip of bit %d at byte %zu: %s",
			          bit, i, pb_err_name(rc));
			note[i] ^= (char)(1 << bit);
		}
	cr_assert_eq(open_note(note, n, &log), PB_OK);
	/* Cut anywhere, or extended. */
	for (size_t i = 0; i < n; i++)
		cr_assert_neq(open_note(note, i, &log), PB_OK, "truncated to %zu", i);
	note[n] = 'x';
	note[n + 1] = '\n';
	cr_assert_neq(open_note(note, n + 2, &log), PB_OK);
}

Test(note, wrong_key_rejected, .init = init)
{
	struct key log, other, renamed;
	char note[BUF];
	size_t n;

	new_key(&log, "mailroom.example/log");
	new_key(&other, "mailroom.example/log");  /* same name, other key */
	renamed = log;
	snprintf(renamed.name, sizeof(renamed.name), "mailroom.example/log2");
	n = signed_checkpoint(&log, 5, note, sizeof(note));
	cr_assert_eq(open_note(note, n, &other), PB_EAUTH);
	cr_assert_eq(open_note(note, n, &renamed), PB_EAUTH);
	cr_assert_eq(open_note(note, n, &log), PB_OK);
}

Test(note, unknown_signers_ignored, .init = init)
{
	struct key log, extra, witness;
	char note[2 * BUF], line[BUF];
	const char *body;
	size_t n, ln, blen;

	new_key(&log, "mailroom.example/log");
	new_key(&extra, "mirror.example/log");
	new_key(&witness, "witness.example/w1");
	n = signed_checkpoint(&log, 7, note, sizeof(note));
	cr_assert_eq(sn_open(note, n, log.name, log.pk, &body, &blen), PB_OK);
	/* Lines before and after, of other keys, other sizes and types. */
	cr_assert_eq(sn_sign_line(body, blen, extra.name, extra.sk, line, sizeof(line), &ln), PB_OK);
	memmove(note + blen + 1 + ln, note + blen + 1, n - blen - 1);
	memcpy(note + blen + 1, line, ln);
	n += ln;
	/* A post-quantum sized signature of some other key. */
	uint8_t big[2424];
	randombytes_buf(big, sizeof(big));
	n += (size_t)snprintf(note + n, sizeof(note) - n, DASH "pq.example/k ");
	sodium_bin2base64(note + n, sizeof(note) - n, big, sizeof(big), sodium_base64_VARIANT_ORIGINAL);
	n += strlen(note + n);
	note[n++] = '\n';
	cr_assert_eq(sn_cosign_line(body, blen, witness.name, witness.sk, 1700000000, line,
	                            sizeof(line), &ln), PB_OK);
	memcpy(note + n, line, ln);
	n += ln;
	note[n] = '\0';
	cr_assert_eq(open_note(note, n, &log), PB_OK);
	cr_assert_eq(open_note(note, n, &extra), PB_OK);
	/* The witness key signs type 0x04: as a note key it is unknown. */
	cr_assert_eq(open_note(note, n, &witness), PB_EAUTH);
}

/* A line of the known key (name and id match) that fails sinks the note,
 * as does the same key signing twice. */
Test(note, known_key_must_verify, .init = init)
{
	struct key log;
	char note[BUF], bad[2 * BUF];
	size_t n, line_at;

	new_key(&log, "log.example");
	n = signed_checkpoint(&log, 3, note, sizeof(note));
	cr_assert_eq(open_note(note, n, &log), PB_OK);
	line_at = (size_t)(strstr(note, "\n\n" DASH) - note) + 2;
	/* Same key id, zero signature (base64 re-encoded). */
	uint8_t payload[68] = {0};
	char b64[128];
	size_t pl;
	const char *sp = strchr(note + line_at + 4, ' ') + 1;
	cr_assert_eq(sodium_base642bin(payload, sizeof(payload), sp, strlen(sp) - 1, NULL, &pl, NULL,
	                               sodium_base64_VARIANT_ORIGINAL), 0);
	memset(payload + 4, 0, 64);
	sodium_bin2base64(b64, sizeof(b64), payload, 68, sodium_base64_VARIANT_ORIGINAL);
	snprintf(bad, sizeof(bad), "%.*s" DASH "%s %s\n", (int)line_at, note, log.name, b64);
	cr_assert_eq(open_note(bad, strlen(bad), &log), PB_EAUTH);
	/* Valid line plus the failing one, in either order. */
	snprintf(bad, sizeof(bad), "%s" DASH "%s %s\n", note, log.name, b64);
	cr_assert_neq(open_note(bad, strlen(bad), &log), PB_OK);
	/* Same signature twice. */
	snprintf(bad, sizeof(bad), "%s%s", note, note + line_at);
	cr_assert_eq(open_note(bad, strlen(bad), &log), PB_EINVAL);
	/* Our key id on a line too long to be ours. */
	char longb64[200];
	uint8_t big[120] = {0};
	memcpy(big, payload, 4);
	sodium_bin2base64(longb64, sizeof(longb64), big, sizeof(big), sodium_base64_VARIANT_ORIGINAL);
	snprintf(bad, sizeof(bad), "%.*s" DASH "%s %s\n", (int)line_at, note, log.name, longb64);
	cr_assert_eq(open_note(bad, strlen(bad), &log), PB_EAUTH);
	snprintf(bad, sizeof(bad), "%s" DASH "%s %s\n", note, log.name, longb64);
	cr_assert_neq(open_note(bad, strlen(bad), &log), PB_OK);
	/* A short signature of our key id. */
	sodium_bin2base64(longb64, sizeof(longb64), payload, 5, sodium_base64_VARIANT_ORIGINAL);
	snprintf(bad, sizeof(bad), "%.*s" DASH "%s %s\n", (int)line_at, note, log.name, longb64);
	cr_assert_eq(open_note(bad, strlen(bad), &log), PB_EAUTH);
}

/* Note built from the body of a good note and a replacement tail. */
static int open_with_tail(const char *body, size_t blen, const char *tail, const struct key *k)
{
	char buf[2 * BUF];
	int n = snprintf(buf, sizeof(buf), "%.*s%s", (int)blen, body, tail);

	cr_assert(n > 0 && (size_t)n < sizeof(buf));
	return open_note(buf, (size_t)n, k);
}

Test(note, malformed_notes_rejected, .init = init)
{
	struct key log;
	char note[BUF], bad[2 * BUF], sig[128], t[BUF];
	size_t n, blen, slen;

	new_key(&log, "log.example");
	n = signed_checkpoint(&log, 3, note, sizeof(note));
	blen = (size_t)(strstr(note, "\n\n" DASH) - note) + 1;
	/* The signature's base64 (92 characters) on its own. */
	slen = strlen(strchr(note + blen + 5, ' ') + 1) - 1;
	cr_assert_eq(slen, 92);
	memcpy(sig, strchr(note + blen + 5, ' ') + 1, slen);
	sig[slen] = '\0';
	cr_assert_eq(open_with_tail(note, blen, note + blen, &log), PB_OK);

#define BAD(what, ...)                                                                        \
	do {                                                                                  \
		snprintf(t, sizeof(t), __VA_ARGS__);                                          \
		cr_expect_neq(open_with_tail(note, blen, t, &log), PB_OK, "%s accepted", what); \
	} while (0)
	BAD("no blank line", DASH "log.example %s\n", sig);
	BAD("no signature lines", "\n");
	BAD("signature line then blank line", "\n" DASH "log.example %s\n\n", sig);
	BAD("hyphen for em dash", "\n- log.example %s\n", sig);
	BAD("en dash", "\n\xe2\x80\x93 log.example %s\n", sig);
	BAD("no space after dash", "\n\xe2\x80\x94log.example %s\n", sig);
	BAD("two spaces after dash", "\n" DASH " log.example %s\n", sig);
	BAD("two spaces before signature", "\n" DASH "log.example  %s\n", sig);
	BAD("no name", "\n" DASH "%s\n", sig);
	BAD("empty name", "\n" DASH " %s\n", sig);
	BAD("name with plus", "\n" DASH "log+example %s\n", sig);
	BAD("CR LF", "\n" DASH "log.example %s\r\n", sig);
	BAD("trailing space", "\n" DASH "log.example %s \n", sig);
	BAD("no final newline", "\n" DASH "log.example %s", sig);
	BAD("missing padding", "\n" DASH "log.example %.91s\n", sig);
	BAD("extra padding", "\n" DASH "log.example %s=\n", sig);
	BAD("line break in base64", "\n" DASH "log.example %.40s\n%s\n", sig, sig + 40);
	BAD("base64url alphabet", "\n" DASH "log.example %s\n", "_-" "AAAAAA");
	BAD("tab after name", "\n" DASH "log.example\t%s\n", sig);
#undef BAD

	/* Non-canonical base64: the character before "=" has two unused
	 * bits; setting one keeps the bytes but changes the text. */
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char alt[128];
	memcpy(alt, sig, slen + 1);
	cr_assert_eq(alt[slen - 1], '=');
	alt[slen - 2] = alphabet[(strchr(alphabet, alt[slen - 2]) - alphabet) | 1];
	snprintf(t, sizeof(t), "\n" DASH "log.example %s\n", alt);
	cr_assert_eq(open_with_tail(note, blen, t, &log), PB_EINVAL);

	/* Control characters, bad UTF-8 or NUL in the text. */
	const char *texts[] = {"log.example\r\n", "log.example\t\n", "log.\xc3(example\n"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(bad, sizeof(bad), "%s%s", texts[i], note + strlen("log.example\n"));
		cr_expect_eq(open_note(bad, strlen(bad), &log), PB_EINVAL, "text %zu", i);
	}
	memcpy(bad, note, n);
	bad[3] = '\0';
	cr_assert_eq(open_note(bad, n, &log), PB_EINVAL);
	cr_assert_eq(open_note("", 0, &log), PB_EINVAL);
	cr_assert_eq(open_note("\n", 1, &log), PB_EINVAL);
	cr_assert_eq(open_note("\n\n", 2, &log), PB_EINVAL);

	/* More than SN_MAX_SIGS lines, even if ours is first; exactly
	 * SN_MAX_SIGS is fine. */
	size_t pos = (size_t)snprintf(bad, sizeof(bad), "%s", note);
	for (int i = 0; i < SN_MAX_SIGS - 1; i++)
		pos += (size_t)snprintf(bad + pos, sizeof(bad) - pos, DASH "x AAAAAAAA\n");
	cr_assert_lt(pos, sizeof(bad) - 20);
	cr_assert_eq(open_note(bad, pos, &log), PB_OK);
	pos += (size_t)snprintf(bad + pos, sizeof(bad) - pos, DASH "x AAAAAAAA\n");
	cr_assert_eq(open_note(bad, pos, &log), PB_EINVAL);
	/* A payload under 5 bytes is malformed, whoever's it is. */
	snprintf(bad, sizeof(bad), "%s" DASH "x AAAAAA==\n", note);
	cr_assert_eq(open_note(bad, strlen(bad), &log), PB_EINVAL);
	snprintf(bad, sizeof(bad), "%s" DASH "x AAAAAAA=\n", note);
	cr_assert_eq(open_note(bad, strlen(bad), &log), PB_OK);
}

/* ---- cosignatures ---- */

Test(note, cosignature_round_trip, .init = init)
{
	struct key log, w;
	char note[BUF], line[BUF], msg[BUF];
	const char *body;
	size_t n, ln, blen, ml;
	uint64_t ts = 0;

	new_key(&log, "mailroom.example/log");
	new_key(&w, "auditor.example/w1");
	n = signed_checkpoint(&log, 4242, note, sizeof(note));
	cr_assert_eq(sn_open(note, n, log.name, log.pk, &body, &blen), PB_OK);
	cr_assert_eq(sn_cosign_line(body, blen, w.name, w.sk, 1679315147, line, sizeof(line), &ln), PB_OK);
	cr_assert_lt(ln, SN_LINE_MAX(strlen(w.name)));
	memcpy(note + n, line, ln + 1);
	n += ln;
	cr_assert_eq(open_note(note, n, &log), PB_OK);
	const char *b2;
	size_t bl2;
	cr_assert_eq(sn_open_cosigned(note, n, w.name, w.pk, &b2, &bl2, &ts), PB_OK);
	cr_assert_eq(ts, 1679315147);
	cr_assert(b2 == note && bl2 == blen);

	/* The payload by hand: id(0x04) || time (big-endian) || Ed25519 over
	 * "cosignature/v1\ntime 1679315147\n" || body. */
	uint8_t payload[76], id[4];
	size_t pl;
	const char *b64 = strchr(line + 4, ' ') + 1;
	cr_assert_eq(sodium_base642bin(payload, sizeof(payload), b64, strlen(b64) - 1, NULL, &pl, NULL,
	                               sodium_base64_VARIANT_ORIGINAL), 0);
	cr_assert_eq(pl, 76);
	sn_key_id(w.name, SN_TYPE_COSIG_V1, w.pk, id);
	cr_assert(memcmp(payload, id, 4) == 0);
	const uint8_t be[8] = {0, 0, 0, 0, 0x64, 0x18, 0x50, 0xcb};
	cr_assert(memcmp(payload + 4, be, 8) == 0);
	ml = (size_t)snprintf(msg, sizeof(msg), "cosignature/v1\ntime 1679315147\n%.*s", (int)blen, body);
	cr_assert_eq(crypto_sign_verify_detached(payload + 12, (const uint8_t *)msg, ml, w.pk), 0);
	cr_assert_eq(sn_cosig_timestamp(b64, strlen(b64) - 1, &ts), PB_OK);
	cr_assert_eq(ts, 1679315147);

	/* Any change to the body or the cosignature line sinks it; the log's
	 * line is not part of what the cosigner signed. */
	size_t cos_at = n - ln;
	for (size_t i = 0; i < n; i++) {
		if (i >= blen && i < cos_at)
			continue;
		note[i] ^= 0x04;
		int rc = sn_open_cosigned(note, n, w.name, w.pk, &b2, &bl2, &ts);
		cr_assert(rc == PB_EINVAL || rc == PB_EAUTH, "flip at %zu: %s", i, pb_err_name(rc));
		note[i] ^= 0x04;
	}
	/* The log key cannot open it as a cosignature, nor the witness as a
	 * note signature. */
	cr_assert_eq(sn_open_cosigned(note, n, log.name, log.pk, &b2, &bl2, &ts), PB_EAUTH);
	cr_assert_eq(open_note(note, n, &w), PB_EAUTH);
}

Test(note, cosignature_limits, .init = init)
{
	struct key w;
	char line[BUF];
	size_t ln;
	const char *body = "o\n1\n" ROOT0 "\next\n";

	new_key(&w, "w");
	cr_assert_eq(sn_cosign_line(body, strlen(body), w.name, w.sk, (uint64_t)INT64_MAX, line,
	                            sizeof(line), &ln), PB_OK);
	cr_assert_eq(sn_cosign_line(body, strlen(body), w.name, w.sk, (uint64_t)INT64_MAX + 1, line,
	                            sizeof(line), &ln), PB_EINVAL);
	cr_assert_eq(sn_cosign_line(body, strlen(body), w.name, w.sk, 0, line, sizeof(line), &ln), PB_OK);
	cr_assert_eq(sn_cosign_line(body, strlen(body), w.name, w.sk, 0, line, ln, &ln), PB_ETOOBIG);
	cr_assert_eq(sn_cosign_line("x", 1, w.name, w.sk, 0, line, sizeof(line), &ln), PB_EINVAL);
	cr_assert_eq(sn_cosign_line(body, strlen(body), "a b", w.sk, 0, line, sizeof(line), &ln),
	             PB_EINVAL);
	/* A time past 2^63 - 1 in a line is refused even if the rest is ours. */
	uint8_t payload[76] = {0};
	char b64[128];
	sn_key_id(w.name, SN_TYPE_COSIG_V1, w.pk, payload);
	payload[4] = 0x80;
	sodium_bin2base64(b64, sizeof(b64), payload, 76, sodium_base64_VARIANT_ORIGINAL);
	cr_assert_eq(sn_cosig_timestamp(b64, strlen(b64), &(uint64_t){0}), PB_EINVAL);
	char note[BUF];
	snprintf(note, sizeof(note), "%s\n" DASH "w %s\n", body, b64);
	const char *b2;
	size_t bl2;
	uint64_t ts;
	cr_assert_eq(sn_open_cosigned(note, strlen(note), w.name, w.pk, &b2, &bl2, &ts), PB_EAUTH);
}

Test(note, strict_verify_basics, .init = init)
{
	struct key k;
	uint8_t sig[64], small[32] = {1};  /* 01 00..00 is the identity point */
	const uint8_t msg[] = "message";

	new_key(&k, "k");
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), k.sk);
	cr_assert_eq(sn_verify_strict(sig, msg, sizeof(msg), k.pk), PB_OK);
	sig[10] ^= 1;
	cr_assert_eq(sn_verify_strict(sig, msg, sizeof(msg), k.pk), PB_EAUTH);
	sig[10] ^= 1;
	cr_assert_eq(sn_verify_strict(sig, msg, sizeof(msg) - 1, k.pk), PB_EAUTH);
	cr_assert_eq(sn_verify_strict(sig, msg, sizeof(msg), small), PB_EAUTH);
	/* S + L: same point equation, non-canonical scalar. */
	static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
	                              0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0,
	                              0, 0, 0, 0, 0, 0, 0, 0x10};
	unsigned carry = 0;
	for (int i = 0; i < 32; i++) {
		carry += sig[32 + i] + L[i];
		sig[32 + i] = (uint8_t)carry;
		carry >>= 8;
	}
	cr_assert_eq(sn_verify_strict(sig, msg, sizeof(msg), k.pk), PB_EAUTH);
}
