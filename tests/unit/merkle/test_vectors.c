/* The public RFC 6962 vectors: fixed roots, and every inclusion and
 * consistency probe (happy paths verify, each corrupted variant is
 * rejected as its wantErr says). */
#include "mt.h"
#include "pb_err.h"
#include "tv.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <string.h>

#define MAX_LEAVES 8

#define SKIP_IF_NO_VECTORS()                                                            \
	do {                                                                            \
		if (!tv_present("merkle"))                                              \
			cr_skip_test("test vectors not found at " TV_DIR "/merkle "     \
			             "(../shared/testvectors beside the repo); skipped"); \
	} while (0)

/* The tree the probes were made from: the fixed leaf inputs. */
struct ref_tree {
	uint8_t leaves[MAX_LEAVES][MT_HASH_LEN];
	uint8_t roots[MAX_LEAVES + 1][MT_HASH_LEN];
	size_t n;
	mt_mem *mem;
};

/* A hash as the vector gives it: not always 32 bytes. */
struct vhash {
	uint8_t h[MT_HASH_LEN];
	int ok;
};

struct vproof {
	uint8_t h[MT_PROOF_MAX][MT_HASH_LEN];
	size_t n;
	int ok;  /* representable: at most MT_PROOF_MAX hashes of 32 bytes */
};

struct stats {
	long files, happy, padded, einval, ecorrupt, len_only, regenerated;
};

static struct ref_tree ref;

static void hex_in(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
	cr_assert_eq(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, len, NULL), 0, "bad hex %s", hex);
}

static void load_ref(void)
{
	char *text = tv_read(TV_DIR "/merkle/rfc6962_roots.json", NULL);
	json_error_t err;
	json_t *doc, *inputs, *roots;

	if (!tv_present("merkle")) {
		free(text);
		return;  /* the test itself skips */
	}
	cr_assert(text, "cannot read rfc6962_roots.json");
	doc = json_loads(text, 0, &err);
	free(text);
	cr_assert(doc, "rfc6962_roots.json: %s", err.text);
	inputs = json_object_get(doc, "leaf_inputs_hex");
	roots = json_object_get(doc, "roots_hex_by_size");
	cr_assert(json_is_array(inputs) && json_is_array(roots));
	ref.n = json_array_size(inputs);
	cr_assert(ref.n <= MAX_LEAVES && json_array_size(roots) == ref.n + 1);
	for (size_t i = 0; i <= ref.n; i++) {
		size_t len;
		hex_in(json_string_value(json_array_get(roots, i)), ref.roots[i], MT_HASH_LEN, &len);
		cr_assert_eq(len, MT_HASH_LEN);
	}
	for (size_t i = 0; i < ref.n; i++) {
		uint8_t data[256];
		size_t len;
		hex_in(json_string_value(json_array_get(inputs, i)), data, sizeof(data), &len);
		mt_leaf_hash(data, len, ref.leaves[i]);
	}
	json_decref(doc);
	cr_assert_eq(mt_mem_new(&ref.mem), PB_OK);
	for (size_t i = 0; i < ref.n; i++)
		cr_assert_eq(mt_mem_append(ref.mem, ref.leaves[i]), PB_OK);
}

static void free_ref(void)
{
	mt_mem_free(ref.mem);
	ref.mem = NULL;
}

static void get_hash(json_t *o, const char *key, struct vhash *v)
{
	const char *s = json_string_value(json_object_get(o, key));
	uint8_t buf[256];
	size_t len = 0;

	memset(v, 0, sizeof(*v));
	cr_assert(s, "missing %s", key);
	cr_assert_eq(tv_b64(s, buf, sizeof(buf), &len), 0, "bad base64 in %s", key);
	/* Short or long values are kept zero-padded or cut, and flagged: the
	 * API takes exactly 32 bytes, so a caller rejects them at decoding.
	 * A few probes use 12-byte placeholders ("don't care 1"); the one that
	 * expects success (equal sizes, equal placeholders) is checked on the
	 * padded values, which are equal too. */
	memcpy(v->h, buf, len < MT_HASH_LEN ? len : MT_HASH_LEN);
	v->ok = len == MT_HASH_LEN;
}

static void get_proof(json_t *o, struct vproof *p)
{
	json_t *arr = json_object_get(o, "proof");
	size_t i;
	json_t *el;

	memset(p, 0, sizeof(*p));
	p->ok = 1;
	if (arr == NULL || json_is_null(arr))
		return;
	cr_assert(json_is_array(arr));
	json_array_foreach(arr, i, el) {
		uint8_t buf[256];
		size_t len = 0;

		cr_assert_eq(tv_b64(json_string_value(el), buf, sizeof(buf), &len), 0);
		if (p->n == MT_PROOF_MAX) {
			p->ok = 0;
			continue;
		}
		memcpy(p->h[p->n], buf, len < MT_HASH_LEN ? len : MT_HASH_LEN);
		p->ok &= len == MT_HASH_LEN;
		p->n++;
	}
}

/* Common bookkeeping: rc is what the verifier said about the (padded)
 * inputs, ok whether every input was representable at all. */
static void judge(struct stats *s, const char *path, const char *desc, int want_err, int rc, int ok)
{
	s->files++;
	if (!want_err) {
		cr_expect_eq(rc, PB_OK, "%s (%s): want success, got %s", path, desc, pb_err_name(rc));
		s->happy++;
		s->padded += !ok;
		return;
	}
	cr_expect(rc == PB_OK || rc == PB_EINVAL || rc == PB_ECORRUPT,
	          "%s (%s): unexpected %s", path, desc, pb_err_name(rc));
	if (rc == PB_OK) {
		cr_expect(!ok, "%s (%s): corrupted probe accepted", path, desc);
		s->len_only++;
	} else if (rc == PB_EINVAL) {
		s->einval++;
	} else {
		s->ecorrupt++;
	}
}

static int same(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, MT_HASH_LEN) == 0;
}

static void inclusion_file(const char *path, const char *text, void *arg)
{
	struct stats *s = arg;
	json_error_t err;
	json_t *o = json_loads(text, JSON_DECODE_INT_AS_REAL, &err);
	struct vhash leaf, root;
	struct vproof *p = malloc(sizeof(*p));
	uint64_t idx, size;
	int want, rc;
	const char *desc;

	cr_assert(o && p, "%s: %s", path, err.text);
	cr_assert_eq(tv_u64(text, "leafIdx", &idx), 0, "%s: leafIdx", path);
	cr_assert_eq(tv_u64(text, "treeSize", &size), 0, "%s: treeSize", path);
	want = json_is_true(json_object_get(o, "wantErr"));
	desc = json_string_value(json_object_get(o, "desc"));
	get_hash(o, "leafHash", &leaf);
	get_hash(o, "root", &root);
	get_proof(o, p);
	rc = mt_verify_inclusion(leaf.h, idx, size, (const uint8_t(*)[MT_HASH_LEN])p->h, p->n, root.h);
	judge(s, path, desc, want, rc, leaf.ok && root.ok && p->ok);

	/* A happy path over the reference tree must be exactly our proof. */
	if (!want && size <= ref.n && idx < size && same(root.h, ref.roots[size]) &&
	    same(leaf.h, ref.leaves[idx])) {
		uint8_t got[MT_PROOF_MAX][MT_HASH_LEN];
		size_t n;

		cr_assert_eq(mt_inclusion_proof(mt_mem_get, ref.mem, idx, size, got, MT_PROOF_MAX, &n), PB_OK);
		cr_expect(n == p->n && memcmp(got, p->h, n * MT_HASH_LEN) == 0,
		          "%s: generated proof differs", path);
		s->regenerated++;
	}
	free(p);
	json_decref(o);
}

static void consistency_file(const char *path, const char *text, void *arg)
{
	struct stats *s = arg;
	json_error_t err;
	json_t *o = json_loads(text, JSON_DECODE_INT_AS_REAL, &err);
	struct vhash r1, r2;
	struct vproof *p = malloc(sizeof(*p));
	uint64_t s1, s2;
	int want, rc;
	const char *desc;

	cr_assert(o && p, "%s: %s", path, err.text);
	cr_assert_eq(tv_u64(text, "size1", &s1), 0, "%s: size1", path);
	cr_assert_eq(tv_u64(text, "size2", &s2), 0, "%s: size2", path);
	want = json_is_true(json_object_get(o, "wantErr"));
	desc = json_string_value(json_object_get(o, "desc"));
	get_hash(o, "root1", &r1);
	get_hash(o, "root2", &r2);
	get_proof(o, p);
	rc = mt_verify_consistency(s1, s2, r1.h, r2.h, (const uint8_t(*)[MT_HASH_LEN])p->h, p->n);
	judge(s, path, desc, want, rc, r1.ok && r2.ok && p->ok);

	if (!want && s1 > 0 && s1 <= s2 && s2 <= ref.n && same(r1.h, ref.roots[s1]) &&
	    same(r2.h, ref.roots[s2])) {
		uint8_t got[MT_PROOF_MAX][MT_HASH_LEN];
		size_t n;

		cr_assert_eq(mt_consistency_proof(mt_mem_get, ref.mem, s1, s2, got, MT_PROOF_MAX, &n), PB_OK);
		cr_expect(n == p->n && memcmp(got, p->h, n * MT_HASH_LEN) == 0,
		          "%s: generated proof differs", path);
		s->regenerated++;
	}
	free(p);
	json_decref(o);
}

static void report(const char *what, const struct stats *s)
{
	cr_log_info("%s: %ld files: %ld happy paths verified (%ld regenerated byte for byte, "
	            "%ld with equal non-32-byte placeholder roots, compared padded); "
	            "rejected: %ld malformed (einval), %ld mismatch (ecorrupt), "
	            "%ld only because a hash is not 32 bytes",
	            what, s->files, s->happy, s->regenerated, s->padded, s->einval, s->ecorrupt,
	            s->len_only);
}

Test(merkle_vectors, rfc6962_roots, .init = load_ref, .fini = free_ref)
{
	uint8_t got[MT_HASH_LEN];

	SKIP_IF_NO_VECTORS();
	cr_assert_eq(ref.n, 8);
	for (size_t n = 0; n <= ref.n; n++) {
		mt_mem *m;

		mt_root_naive((const uint8_t(*)[MT_HASH_LEN])ref.leaves, n, got);
		cr_expect(same(got, ref.roots[n]), "naive root of %zu leaves", n);
		/* Built incrementally, queried at every earlier size. */
		cr_assert_eq(mt_root(mt_mem_get, ref.mem, n, got), PB_OK);
		cr_expect(same(got, ref.roots[n]), "mt_root of %zu leaves", n);
		cr_assert_eq(mt_mem_new(&m), PB_OK);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(mt_mem_append(m, ref.leaves[i]), PB_OK);
		cr_assert_eq(mt_root(mt_mem_get, m, mt_mem_size(m), got), PB_OK);
		cr_expect(same(got, ref.roots[n]), "fresh tree of %zu leaves", n);
		mt_mem_free(m);
	}
}

Test(merkle_vectors, inclusion, .init = load_ref, .fini = free_ref)
{
	struct stats s = {0};
	long n;

	SKIP_IF_NO_VECTORS();
	n = tv_walk(TV_DIR "/merkle/testdata/inclusion", inclusion_file, &s);
	cr_assert(n > 0, "no inclusion vectors found");
	cr_expect(s.regenerated > 0);
	report("inclusion", &s);
}

Test(merkle_vectors, consistency, .init = load_ref, .fini = free_ref)
{
	struct stats s = {0};
	long n;

	SKIP_IF_NO_VECTORS();
	n = tv_walk(TV_DIR "/merkle/testdata/consistency", consistency_file, &s);
	cr_assert(n > 0, "no consistency vectors found");
	cr_expect(s.regenerated > 0);
	report("consistency", &s);
}
