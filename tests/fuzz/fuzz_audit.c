/* What an auditor is handed, as mailroom-audit reads it. The first byte
 * picks the reader, the rest is the input:
 *   0 a verifier key line (au_vkey_parse): one that parses formats back to
 *     itself;
 *   1 a checkpoint note, opened under a fixed key and peeked
 *     (au_note_open, au_note_peek); a body that parses as our checkpoint
 *     opens once we sign it;
 *   2 base64 (au_b64_decode): what decodes encodes and decodes the same;
 *   3 a JSON document as an inclusion proof, a consistency proof and a
 *     hash array (au_inclusion_json, au_consistency_json, au_json_hashes);
 *   4 a bundle after its magic line (au_bundle_parse), then walked when it
 *     parses (au_walk, no calendars);
 *   5 files for verify-receipt, split at lines "--": receipt, then proof,
 *     checkpoint, entry, public key (a fixed one when none) and a
 *     --rotation, run as the command runs (au_main);
 *   6 the same for consistency: old and new checkpoint, proof, public key,
 *     a --rotation.
 * The commands read paths, so their files go to $TMPDIR. */
#include "au_tlog.h"
#include "pb_err.h"
#include "sn.h"

#include <fcntl.h>
#include <sanitizer/common_interface_defs.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char name[] = "mailroom.example/log";
static uint8_t pk[SN_PK_LEN], sk[SN_SK_LEN];
static char dir[256], pkfile[300], files[6][300];
static int devnull, real_out, real_err;

/* libFuzzer ends with exit(): leave no directory behind. */
static void cleanup(void)
{
	for (int i = 0; i < 6; i++)
		unlink(files[i]);
	unlink(pkfile);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char line[AU_KEYNAME_MAX + 64];
	uint8_t seed[32];
	FILE *f;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	memset(seed, 5, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	snprintf(dir, sizeof(dir), "%s/fuzz_audit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(pkfile, sizeof(pkfile), "%s/log.pub", dir);
	for (int i = 0; i < 6; i++)
		snprintf(files[i], sizeof(files[i]), "%s/in%d", dir, i);
	au_vkey_format(name, SN_TYPE_ED25519, pk, line, sizeof(line));
	atexit(cleanup);
	if (!(f = fopen(pkfile, "w")) || fprintf(f, "%s\n", line) < 0 || fclose(f) != 0)
		abort();
	/* The command prints on stdout and stderr; sanitizer reports keep
	 * the real stderr. */
	if ((devnull = open("/dev/null", O_WRONLY)) < 0 || (real_out = dup(1)) < 0 ||
	    (real_err = dup(2)) < 0)
		abort();
	__sanitizer_set_report_fd((void *)(intptr_t)real_err);
	return 0;
}

static void vkey(const uint8_t *d, size_t size)
{
	const char *s = (const char *)d;

	char nm[AU_KEYNAME_MAX], nm2[AU_KEYNAME_MAX], line[AU_KEYNAME_MAX + 64];
	uint8_t k[32], k2[32];
	static const uint8_t types[] = {SN_TYPE_ED25519, SN_TYPE_COSIG_V1};

	for (size_t i = 0; i < sizeof(types); i++) {
		if (au_vkey_parse(s, size, types[i], nm, k) != PB_OK)
			continue;
		au_vkey_format(nm, types[i], k, line, sizeof(line));
		if (au_vkey_parse(line, strlen(line), types[i], nm2, k2) != PB_OK ||
		    strcmp(nm, nm2) != 0 || memcmp(k, k2, 32) != 0)
			abort();
	}
}

static void note(const uint8_t *d, size_t size)
{
	const char *s = (const char *)d;

	static char signed_[AU_NOTE_MAX + 512];
	struct au_note n = {0};
	struct sn_checkpoint cp;
	char why[256];
	size_t len;

	if (size > AU_NOTE_MAX || !(n.text = malloc(size + 1)))
		return;
	memcpy(n.text, s, size);
	n.text[size] = '\0';
	n.len = size;
	(void)au_note_open(&n, name, pk, why, sizeof(why));
	(void)au_note_peek(&n, name, why, sizeof(why));
	/* A body we sign as our checkpoint must open with the same size and root. */
	if (sn_checkpoint_parse(s, size, &cp) == PB_OK && cp.origin_len == strlen(name) &&
	    memcmp(cp.origin, name, cp.origin_len) == 0 &&
	    sn_sign(s, size, name, sk, signed_, sizeof(signed_), &len) == PB_OK) {
		struct au_note m = {.text = signed_, .len = len};
		if (au_note_open(&m, name, pk, why, sizeof(why)) != AU_EXIT_OK || m.size != cp.size ||
		    memcmp(m.root, cp.root, MT_HASH_LEN) != 0)
			abort();
	}
	free(n.text);
}

static void b64(const uint8_t *d, size_t size)
{
	const char *s = (const char *)d;

	static uint8_t out[4096], again[4096];
	static char enc[8192];
	size_t n, n2;

	if (au_b64_decode(s, size, out, sizeof(out), &n) != PB_OK || n > 3000)
		return;
	sodium_bin2base64(enc, sizeof(enc), out, n, sodium_base64_VARIANT_ORIGINAL);
	if (au_b64_decode(enc, strlen(enc), again, sizeof(again), &n2) != PB_OK || n2 != n ||
	    memcmp(out, again, n) != 0)
		abort();
}

static void proofs(const uint8_t *d, size_t size)
{
	const char *s = (const char *)d;

	static uint8_t hashes[MT_PROOF_MAX][MT_HASH_LEN];
	struct au_inclusion p;
	uint64_t old, new_;
	size_t n;
	json_t *doc = json_loadb(s, size, JSON_REJECT_DUPLICATES, NULL);

	if (!doc)
		return;
	if (au_inclusion_json(doc, &p) == PB_OK) {
		if (p.len > MT_PROOF_MAX || (p.entry && !p.elen) || (p.note && p.nlen != strlen(p.note)))
			abort();
		au_inclusion_free(&p);
	}
	(void)au_consistency_json(doc, &old, &new_, hashes, &n);
	(void)au_json_hashes(doc, hashes, MT_PROOF_MAX, &n);
	json_decref(doc);
}

static void bundle(const uint8_t *d, size_t size)
{
	size_t mlen = strlen(AU_BUNDLE_MAGIC);
	uint8_t *map = malloc(mlen + size);
	struct au_src s = {0};
	struct au_verdict v;
	char why[256];

	if (!map)
		return;
	memcpy(map, AU_BUNDLE_MAGIC, mlen);
	memcpy(map + mlen, d, size);
	s.bundle = 1;
	s.path = "fuzz.bundle";
	if (au_bundle_parse(map, mlen + size, &s, why, sizeof(why)) == PB_OK &&
	    au_walk(&s, NULL, NULL, NULL, &v) == PB_OK)
		au_verdict_free(&v);
	au_src_close(&s);   /* s.map stays NULL: the buffer is ours */
	free(map);
}

static int put(const char *path, const uint8_t *d, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ok = fd >= 0 && (n == 0 || write(fd, d, n) == (ssize_t)n);

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* A command over files: its options in the order the input's parts come
 * ("" a positional argument), the parts it must be given. */
struct files_cmd {
	const char *name;
	const char *opts[6];
	unsigned need;
};
static const struct files_cmd receipt_cmd = {
	"verify-receipt",
	{"--receipt", "--proof", "--checkpoint", "--entry", "--pubkey", "--rotation"},
	1u << 0};
static const struct files_cmd consistency_cmd = {
	"consistency", {"", "", "--proof", "--pubkey", "--rotation"}, 7u};

/* Splits d at lines "--" into the command's files and runs it; an absent
 * --pubkey is the fixed key. */
static void run_files(const struct files_cmd *c, const uint8_t *d, size_t size)
{
	char *argv[24];
	int argc = 0, pub = 0;
	const uint8_t *p = d, *end = d + size;

	argv[argc++] = "mailroom-audit";
	argv[argc++] = (char *)c->name;
	argv[argc++] = "--json";
	for (int part = 0; part < 6 && c->opts[part]; part++) {
		const uint8_t *cut = NULL, *stop;
		for (const uint8_t *q = p; q + 3 <= end; q++)
			if ((q == p || q[-1] == '\n') && memcmp(q, "--\n", 3) == 0) {
				cut = q;
				break;
			}
		stop = cut ? cut : end;
		if (put(files[part], p, (size_t)(stop - p)))
			return;
		if ((c->need & (1u << part)) || stop > p) {
			if (*c->opts[part])
				argv[argc++] = (char *)c->opts[part];
			argv[argc++] = files[part];
			pub |= strcmp(c->opts[part], "--pubkey") == 0;
		}
		if (!cut)
			break;
		p = cut + 3;
	}
	if (!pub) {
		argv[argc++] = "--pubkey";
		argv[argc++] = pkfile;
	}
	argv[argc] = NULL;
	fflush(stdout);
	dup2(devnull, 1);
	dup2(devnull, 2);
	(void)au_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(real_out, 1);
	dup2(real_err, 2);
}

static void receipt(const uint8_t *d, size_t size)
{
	run_files(&receipt_cmd, d, size);
}

static void consistency(const uint8_t *d, size_t size)
{
	run_files(&consistency_cmd, d, size);
}

/* By the first byte. */
static void (*const readers[])(const uint8_t *, size_t) = {vkey, note, b64, proofs, bundle, receipt,
                                                      consistency};
#define NREADERS (sizeof(readers) / sizeof(readers[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 1)
		readers[data[0] % NREADERS](data + 1, size - 1);
	return 0;
}
