/* mailroom-audit verify-receipt, consistency and witness as processes,
 * with files made the way the gateway serves them and a stand-in log
 * server over store directories that are extended, rolled back to an
 * older copy and forked with the log's own key. */
#include "helpers.h"
#include "tlog.h"
#include "pb_err.h"
#include "sn.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void fini(void)
{
	tl_srv_stop();
	tdir_teardown();
}

TestSuite(tlog_proofs, .init = tdir_setup, .fini = fini, .timeout = 120);

static struct run r;
static struct tl_store s;

#define RUN(...)                                                         \
	do {                                                                 \
		const char *const av_[] = {"mailroom-audit", __VA_ARGS__, NULL}; \
		run_prog(&r, AUDIT_BIN, av_);                                    \
	} while (0)

static int starts(const char *str, const char *prefix)
{
	return strncmp(str, prefix, strlen(prefix)) == 0;
}

static char *slurp(const char *name)
{
	FILE *f = fopen(tpath(name), "rb");
	char *buf = calloc(1, 1 << 16);
	size_t n;

	cr_assert(f && buf, "%s", name);
	n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Rewrites key in a JSON file (at "receipt" when inner). */
static void json_set(const char *name, int inner, const char *key, json_t *v)
{
	json_t *j = json_load_file(tpath(name), 0, NULL), *o;

	cr_assert_not_null(j);
	o = inner ? json_object_get(j, "receipt") : j;
	cr_assert_eq(json_object_set_new(o, key, v), 0);
	cr_assert_eq(json_dump_file(j, tpath(name), 0), 0);
	json_decref(j);
}

/* ---- verify-receipt ---- */

/* The files a citizen would hold for record 3 (a RECEIVED). */
static uint64_t receipt_files(void)
{
	uint64_t size;

	tl_create(&s, NULL);
	tl_history(&s, 4);
	tl_close_env(&s);
	size = tl_save_checkpoint(s.dir, 0, tpath("cp.txt"));
	tl_save_receipt(s.dir, &s.keys, 3, tpath("post.json"));
	tl_save_inclusion(s.dir, 3, size, tpath("proof.json"));
	tl_save_entry(s.dir, 3, tpath("entry.b64"));
	return size;
}

#define RECEIPT_ARGS                                                                    \
	"verify-receipt", "--receipt", "post.json", "--proof", "proof.json", "--checkpoint", \
	    "cp.txt", "--pubkey", s.pubkey

Test(tlog_proofs, receipt_verifies)
{
	json_t *j;

	receipt_files();
	RUN(RECEIPT_ARGS, "--entry", "entry.b64");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "ok: record 3 is in the log of size "), "%s", r.out);
	cr_assert(strstr(r.out, "receipt: record_hash "), "%s", r.out);

	/* Without the entry only the leaf is shown in the log, and it says so. */
	RUN(RECEIPT_ARGS);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "note: without the record"), "%s", r.out);

	/* The bare receipt object does as well as the whole POST answer. */
	j = json_load_file(tpath("post.json"), 0, NULL);
	cr_assert_eq(json_dump_file(json_object_get(j, "receipt"), tpath("bare.json"), 0), 0);
	json_decref(j);
	RUN("verify-receipt", "--receipt", "bare.json", "--proof", "proof.json", "--checkpoint",
	    "cp.txt", "--pubkey", s.pubkey, "--entry", "entry.b64", "--json");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	j = json_loads(r.out, 0, NULL);
	cr_assert(json_is_true(json_object_get(j, "ok")), "%s", r.out);
	cr_assert(json_is_true(json_object_get(j, "entry_checked")), "%s", r.out);
	json_decref(j);
}

Test(tlog_proofs, receipt_failures_have_their_own_codes)
{
	char *cp;

	receipt_files();
	/* The checkpoint altered: its signature no longer holds. */
	cp = slurp("cp.txt");
	char *nl = strchr(cp, '\n');
	cr_assert_not_null(nl);
	nl[2] = nl[2] == '1' ? '2' : '1';   /* the size line */
	tl_write_text(tpath("bad-cp.txt"), cp);
	free(cp);
	RUN("verify-receipt", "--receipt", "post.json", "--proof", "proof.json", "--checkpoint",
	    "bad-cp.txt", "--pubkey", s.pubkey, "--entry", "entry.b64");
	cr_assert_eq(r.exit, 20, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "FAIL checkpoint: "), "%s", r.out);

	/* Another record's entry: its hash is not the receipt's. */
	tl_save_entry(s.dir, 4, tpath("other.b64"));
	RUN(RECEIPT_ARGS, "--entry", "other.b64");
	cr_assert_eq(r.exit, 23, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "FAIL receipt: record 3: record_hash"), "%s", r.out);

	/* A proof that does not lead to the root. */
	json_t *j = json_load_file(tpath("proof.json"), 0, NULL);
	json_t *p = json_array_get(json_object_get(j, "proof"), 0);
	char h[45];
	snprintf(h, sizeof(h), "%s", json_string_value(p));
	h[0] = h[0] == 'A' ? 'B' : 'A';
	json_string_set(p, h);
	cr_assert_eq(json_dump_file(j, tpath("proof.json"), 0), 0);
	json_decref(j);
	RUN(RECEIPT_ARGS, "--entry", "entry.b64");
	cr_assert_eq(r.exit, 24, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "FAIL inclusion: record 3: "), "%s", r.out);
	tl_save_inclusion(s.dir, 3, tl_save_checkpoint(s.dir, 0, tpath("cp.txt")),
	                  tpath("proof.json"));

	/* A receipt naming another key. */
	tl_save_receipt(s.dir, &s.keys, 3, tpath("post.json"));
	json_set("post.json", 1, "key_id", json_string("00000000"));
	RUN(RECEIPT_ARGS, "--entry", "entry.b64");
	cr_assert_eq(r.exit, 14, "%s%s", r.out, r.err);

	/* Malformed inputs are invalid input, missing ones unreadable. */
	tl_write_text(tpath("post.json"), "{\"receipt\":{\"log_index\":\"three\"}}");
	RUN(RECEIPT_ARGS);
	cr_assert_eq(r.exit, 8, "%s%s", r.out, r.err);
	RUN("verify-receipt", "--receipt", "none.json", "--proof", "proof.json", "--checkpoint",
	    "cp.txt", "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 2, "%s%s", r.out, r.err);
	RUN("verify-receipt", "--receipt", "post.json");
	cr_assert_eq(r.exit, 1);
}

/* ---- receipts that carry their C2SP tlog-proof ---- */

/* The receipt's proof, edited by fn, written back. */
static void edit_proof(const char *file, void (*fn)(char *text, size_t cap))
{
	json_t *j = json_load_file(tpath(file), 0, NULL);
	json_t *rc = json_object_get(j, "receipt");
	char *text = calloc(1, 1 << 16);

	cr_assert(j && rc && text);
	snprintf(text, 1 << 16, "%s", json_string_value(json_object_get(rc, "proof")));
	fn(text, 1 << 16);
	cr_assert_eq(json_object_set_new(rc, "proof", json_string(text)), 0);
	cr_assert_eq(json_dump_file(j, tpath(file), 0), 0);
	json_decref(j);
	free(text);
}

/* The record in the proof's extra line rewritten: one base64 character
 * in its middle changed. */
static void rewrite_record(char *text, size_t cap)
{
	char *extra = strstr(text, "\nextra "), *end;

	(void)cap;
	cr_assert_not_null(extra);
	end = strchr(extra + 1, '\n');
	extra += 7 + (size_t)(end - extra - 7) / 2;
	*extra = *extra == 'A' ? 'B' : 'A';
}

/* The proof's index moved to the checkpoint's size: past what it covers. */
static uint64_t beyond_size;
static void index_beyond(char *text, size_t cap)
{
	char *idx = strstr(text, "\nindex "), *end, rest[1 << 16];

	cr_assert_not_null(idx);
	end = strchr(idx + 1, '\n');
	snprintf(rest, sizeof(rest), "%s", end);
	snprintf(idx, cap - (size_t)(idx - text), "\nindex %llu%s", (unsigned long long)beyond_size,
	         rest);
}

Test(tlog_proofs, receipt_with_its_tlog_proof)
{
	uint64_t size = receipt_files();
	json_t *j;

	/* The receipt alone, with the log's key: nothing else. */
	RUN("verify-receipt", "--receipt", "post.json", "--pubkey", s.pubkey, "--json");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	j = json_loads(r.out, 0, NULL);
	cr_assert(json_is_true(json_object_get(j, "entry_checked")), "%s", r.out);
	cr_assert_eq(json_integer_value(json_object_get(j, "size")), (json_int_t)size);
	json_decref(j);

	/* The proof alone, as a .tlog-proof file. */
	j = json_load_file(tpath("post.json"), 0, NULL);
	tl_write_text(tpath("r3.tlog-proof"),
	              json_string_value(json_object_get(json_object_get(j, "receipt"), "proof")));
	json_decref(j);
	RUN("verify-receipt", "--receipt", "r3.tlog-proof", "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "ok: record 3 is in the log of size "), "%s", r.out);

	/* Another log's key. */
	RUN("verify-receipt", "--receipt", "post.json", "--pubkey", "other.pub");
	cr_assert_eq(r.exit, 2, "%s%s", r.out, r.err);
}

Test(tlog_proofs, tlog_proof_of_a_rewritten_record_is_refused)
{
	receipt_files();
	edit_proof("post.json", rewrite_record);
	RUN("verify-receipt", "--receipt", "post.json", "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 23, "its hash is not the receipt's: %s%s", r.out, r.err);
	cr_assert(starts(r.out, "FAIL receipt: record 3: "), "%s", r.out);

	/* Without the receipt's hash to hold it to, the leaf is not in the tree. */
	json_t *j = json_load_file(tpath("post.json"), 0, NULL);
	tl_write_text(tpath("bad.tlog-proof"),
	              json_string_value(json_object_get(json_object_get(j, "receipt"), "proof")));
	json_decref(j);
	RUN("verify-receipt", "--receipt", "bad.tlog-proof", "--pubkey", s.pubkey);
	cr_assert(r.exit == 24 || r.exit == 23, "%s%s", r.out, r.err);
	cr_assert_eq(r.exit, 24, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "FAIL inclusion: record 3: "), "%s", r.out);
}

Test(tlog_proofs, tlog_proof_beyond_the_checkpoint_is_refused)
{
	json_t *j;

	beyond_size = receipt_files();
	edit_proof("post.json", index_beyond);
	j = json_load_file(tpath("post.json"), 0, NULL);
	tl_write_text(tpath("far.tlog-proof"),
	              json_string_value(json_object_get(json_object_get(j, "receipt"), "proof")));
	json_decref(j);
	RUN("verify-receipt", "--receipt", "far.tlog-proof", "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 24, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "beyond the checkpoint's size"), "%s", r.out);
	/* With the receipt: its index is not the proof's. */
	RUN("verify-receipt", "--receipt", "post.json", "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 24, "%s%s", r.out, r.err);
}

/* ---- consistency ---- */

Test(tlog_proofs, consistency_of_two_checkpoints)
{
	uint64_t a, b;
	char text[128];

	tl_create(&s, NULL);
	tl_history(&s, 4);
	tl_close_env(&s);
	b = tl_save_checkpoint(s.dir, 0, tpath("new.txt"));
	a = tl_save_checkpoint(s.dir, 13, tpath("old.txt"));
	cr_assert_eq(a, 13);
	tl_save_consistency(s.dir, a, b, tpath("proof.json"));
	RUN("consistency", "old.txt", "new.txt", "--proof", "proof.json", "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "ok: size 13 "), "%s", r.out);

	/* NEW older than OLD: a rollback. */
	snprintf(text, sizeof(text), "{\"old\":%llu,\"new\":%llu,\"proof\":[]}",
	         (unsigned long long)b, (unsigned long long)a);
	tl_write_text(tpath("back.json"), text);
	RUN("consistency", "new.txt", "old.txt", "--proof", "back.json", "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 26, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "FAIL rollback: "), "%s", r.out);

	/* A proof that does not hold. */
	json_t *j = json_load_file(tpath("proof.json"), 0, NULL);
	json_t *p = json_array_get(json_object_get(j, "proof"), 0);
	char h[45];
	snprintf(h, sizeof(h), "%s", json_string_value(p));
	h[1] = h[1] == 'A' ? 'B' : 'A';
	json_string_set(p, h);
	cr_assert_eq(json_dump_file(j, tpath("proof.json"), 0), 0);
	json_decref(j);
	RUN("consistency", "old.txt", "new.txt", "--proof", "proof.json", "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 25, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "FAIL inconsistent: "), "%s", r.out);

	/* A checkpoint signed by another key. */
	struct tl_store other;
	tl_create(&other, "other");
	tl_close(&other);
	RUN("consistency", "old.txt", "new.txt", "--proof", "proof.json", "--pubkey", other.pubkey);
	cr_assert_eq(r.exit, 20, "%s%s", r.out, r.err);
	RUN("consistency", "old.txt", "--proof", "proof.json", "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 1);
}

/* ---- the witness ---- */

/* A store in three states: 7 records (copied to older/), 11, and a fork
 * of the 11 with other records at 7..10 under the same key (fork/), then
 * the fork grown to 13 (longfork/). */
struct scene {
	char older[400], fork[400], longfork[400];
	const char *url;
};

static void receive_n(int n)
{
	struct tl_msg m;

	tl_begin(&s);
	for (int i = 0; i < n; i++)
		tl_receive(&s, &m, "general", 1, 15);
	tl_commit(&s);
}

static void scene(struct scene *x)
{
	snprintf(x->older, sizeof(x->older), "%s/older", tdir);
	snprintf(x->fork, sizeof(x->fork), "%s/fork", tdir);
	snprintf(x->longfork, sizeof(x->longfork), "%s/longfork", tdir);
	tl_create(&s, NULL);
	receive_n(3);
	cr_assert_eq(tl_size(&s), 7);
	tl_close_env(&s);
	tl_copy_store(s.dir, x->older);
	x->url = tl_srv_start(s.dir);
}

static void grow_and_fork(struct scene *x)
{
	char main_dir[320];

	snprintf(main_dir, sizeof(main_dir), "%s", s.dir);
	tl_reopen(&s, main_dir);
	receive_n(2);
	cr_assert_eq(tl_size(&s), 11);
	tl_close_env(&s);
	/* The log key rewrites records 7.. and signs new checkpoints. */
	tl_copy_store(main_dir, x->fork);
	tl_raw_cut(x->fork, 7);
	tl_reopen(&s, x->fork);
	receive_n(2);
	cr_assert_eq(tl_size(&s), 11);
	tl_close_env(&s);
	tl_copy_store(x->fork, x->longfork);
	tl_reopen(&s, x->longfork);
	receive_n(1);
	tl_close_env(&s);
	tl_reopen(&s, main_dir);
	tl_close_env(&s);
}

static void keygen(void)
{
	RUN("witness", "--state", "w", "--keygen", "--witness-name", "witness.test");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "witness.test+"), "%s", r.out);
}

/* The cosignature on the witness's output holds under witness.pub. */
static void check_cosigned(const char *note)
{
	char *pub = slurp("w/witness.pub"), *p1 = strchr(pub, '+');
	char *p2 = p1 ? strchr(p1 + 1, '+') : NULL;
	uint8_t raw[33];
	size_t n;
	const char *body;
	size_t blen;
	uint64_t ts;

	cr_assert_not_null(p2, "%s", pub);
	*p1 = '\0';
	p2[strcspn(p2, "\n")] = '\0';
	cr_assert_eq(sodium_base642bin(raw, sizeof(raw), p2 + 1, strlen(p2 + 1), NULL, &n, NULL,
	                               sodium_base64_VARIANT_ORIGINAL),
	             0);
	cr_assert_eq(n, 33);
	cr_assert_eq(raw[0], SN_TYPE_COSIG_V1);
	cr_assert_eq(sn_open_cosigned(note, strlen(note), pub, raw + 1, &body, &blen, &ts), PB_OK,
	             "%s", note);
	free(pub);
}

Test(tlog_proofs, witness_follows_and_cosigns)
{
	struct scene x;
	struct stat sb;
	char *state;

	scene(&x);
	keygen();
	cr_assert_eq(stat(tpath("w/witness.key"), &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600);
	RUN("witness", "--state", "w", "--keygen");
	cr_assert_eq(r.exit, 7, "never replaced: %s", r.err);

	RUN("witness", "--state", "w", "--url", x.url, "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, TL_ORIGIN "\n7\n"), "%s", r.out);
	check_cosigned(r.out);
	state = slurp("w/checkpoint");
	cr_assert_str_eq(state, r.out, "the state holds what was printed");
	free(state);

	grow_and_fork(&x);
	RUN("witness", "--state", "w", "--url", x.url, "--pubkey", s.pubkey, "--json");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	json_t *j = json_loads(r.out, 0, NULL);
	cr_assert_eq(json_integer_value(json_object_get(j, "old_size")), 7, "%s", r.out);
	cr_assert_eq(json_integer_value(json_object_get(j, "size")), 11, "%s", r.out);
	cr_assert(json_is_true(json_object_get(j, "cosigned")));
	check_cosigned(json_string_value(json_object_get(j, "note")));
	json_decref(j);

	/* Nothing new: the same checkpoint is fine. */
	RUN("witness", "--state", "w", "--url", x.url, "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
}

Test(tlog_proofs, witness_refuses_rollback_and_forks)
{
	struct scene x;
	char *before, *after;

	scene(&x);
	keygen();
	grow_and_fork(&x);
	RUN("witness", "--state", "w", "--url", x.url, "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	before = slurp("w/checkpoint");

	/* The store replaced by the older copy. */
	tl_srv_set(x.older);
	RUN("witness", "--state", "w", "--url", x.url, "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 26, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "FAIL rollback: checkpoint 7: "), "%s", r.out);

	/* The same size, re-signed with other records. */
	tl_srv_set(x.fork);
	RUN("witness", "--state", "w", "--url", x.url, "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 27, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "FAIL fork: checkpoint 11: "), "%s", r.out);
	/* On its own the fork is a perfectly good log: only a witness sees it. */
	RUN("verify", "--store", x.fork, "--pubkey", s.pubkey, "--calendars", TL_CALENDARS);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);

	/* The fork grown: no consistency proof can hold. */
	tl_srv_set(x.longfork);
	RUN("witness", "--state", "w", "--url", x.url, "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 25, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "FAIL inconsistent: checkpoint 13: "), "%s", r.out);

	after = slurp("w/checkpoint");
	cr_assert_str_eq(before, after, "refusals leave the state as it was");
	free(before);
	free(after);

	/* Back on the real log, all is well again. */
	tl_srv_set(s.dir);
	RUN("witness", "--state", "w", "--url", x.url, "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
}

Test(tlog_proofs, witness_refuses_other_keys_and_dead_servers)
{
	struct scene x;
	struct tl_store other;

	scene(&x);
	tl_create(&other, "other");
	tl_close(&other);
	/* A log signed by another key: its checkpoint is not signed by the
	 * --pubkey key, and reading the log from record 0 shows it never was. */
	RUN("witness", "--state", "w", "--url", x.url, "--pubkey", other.pubkey);
	cr_assert_eq(r.exit, 14, "%s%s", r.out, r.err);
	cr_assert(starts(r.out, "FAIL key: record 0: "), "%s", r.out);
	/* No witness key: checked and kept, not cosigned. */
	RUN("witness", "--state", "w", "--url", x.url, "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, "not cosigned"), "%s", r.err);
	/* The state belongs to this log. */
	RUN("witness", "--state", "w", "--url", x.url, "--pubkey", other.pubkey);
	cr_assert_eq(r.exit, 14, "%s%s", r.out, r.err);
	tl_srv_stop();
	RUN("witness", "--state", "w", "--url", x.url, "--pubkey", s.pubkey);
	cr_assert_eq(r.exit, 3, "%s%s", r.out, r.err);
	RUN("witness", "--state", "w", "--url", x.url);
	cr_assert_eq(r.exit, 1);
}
