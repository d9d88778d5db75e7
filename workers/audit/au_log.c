/* Opening a store for audit: read-only, then the whole log verified before
 * anything in it is believed. */
#include "au.h"
#include "pb_err.h"
#include "pb_id.h"

#include <stdio.h>
#include <string.h>

static const struct {
	int exit;
	const char *name;
} classes[] = {
	[ST_VERIFY_OK] = {AU_EXIT_OK, "ok"},
	[ST_VERIFY_MALFORMED] = {AU_EXIT_MALFORMED, "malformed"},
	[ST_VERIFY_INDEX] = {AU_EXIT_INDEX, "index"},
	[ST_VERIFY_CHAIN] = {AU_EXIT_CHAIN, "chain"},
	[ST_VERIFY_SIGNATURE] = {AU_EXIT_SIGNATURE, "signature"},
	[ST_VERIFY_KEY] = {AU_EXIT_KEY, "key"},
	[ST_VERIFY_EMPTY] = {AU_EXIT_EMPTY, "empty"},
};
#define NCLASSES ((int)(sizeof(classes) / sizeof(classes[0])))

int au_verify_exit(int fail)
{
	return fail >= 0 && fail < NCLASSES ? classes[fail].exit : AU_EXIT_VERIFY_OTHER;
}

const char *au_verify_name(int fail)
{
	return fail >= 0 && fail < NCLASSES ? classes[fail].name : "unknown";
}

const char *au_class_name(int exit)
{
	static const char *const names[] = {
		[AU_EXIT_MALFORMED] = "malformed",
		[AU_EXIT_INDEX] = "index",
		[AU_EXIT_CHAIN] = "chain",
		[AU_EXIT_SIGNATURE] = "signature",
		[AU_EXIT_KEY] = "key",
		[AU_EXIT_EMPTY] = "empty",
		[AU_EXIT_MISSING] = "missing",
		[AU_EXIT_TRUNCATED] = "truncated",
		[AU_EXIT_ROOT] = "root",
		[AU_EXIT_VERIFY_OTHER] = "unknown",
		[AU_EXIT_CHECKPOINT] = "checkpoint",
		[AU_EXIT_STATE] = "state",
		[AU_EXIT_DEADLINE] = "deadline",
		[AU_EXIT_RECEIPT] = "receipt",
		[AU_EXIT_INCLUSION] = "inclusion",
		[AU_EXIT_INCONSISTENT] = "inconsistent",
		[AU_EXIT_ROLLBACK] = "rollback",
		[AU_EXIT_FORK] = "fork",
		[AU_EXIT_STORE] = "store",
		[AU_EXIT_NO_DEADLINES] = "no_deadlines",
		[AU_EXIT_TEXTS] = "texts",
		[AU_EXIT_WITNESS] = "witness",
	};

	if (exit < 0 || exit >= (int)(sizeof(names) / sizeof(names[0])) || !names[exit])
		return "unknown";
	return names[exit];
}

static int print_fail(const struct au_log *l, int json)
{
	const struct st_verify_report *r = &l->rep;
	const char *what = *r->detail ? r->detail : st_verify_fail_str(r->fail);

	if (json) {
		int rc = au_emit(json_pack("{s:b, s:s, s:s, s:I, s:I}", "ok", 0, "fail",
		                           au_verify_name(r->fail), "message", what, "bad_index",
		                           (json_int_t)r->bad_index, "records",
		                           (json_int_t)r->records));
		return rc ? rc : au_verify_exit(r->fail);
	}
	printf("FAIL %s: record %llu: ", au_verify_name(r->fail), (unsigned long long)r->bad_index);
	au_put_clean(what);
	putchar('\n');
	fflush(stdout);
	return au_verify_exit(r->fail);
}

int au_log_open(const char *dir, const char *pubkey_file, int json, struct au_log *l)
{
	char name[sizeof(l->rep.key_name)];
	uint8_t pk[32];
	int rc;

	memset(l, 0, sizeof(*l));
	if (pubkey_file) {
		rc = st_pubkey_load(pubkey_file, name, sizeof(name), pk);
		if (rc == PB_ENOTFOUND || rc == PB_EIO)
			return au_fail(json, AU_EXIT_OPEN, "cannot_open", "cannot read %s",
			               pubkey_file);
		if (rc)
			return au_fail(json, AU_EXIT_INVALID, "bad_pubkey",
			               "%s: not a public key file (%s)", pubkey_file,
			               pb_err_str(rc));
		l->pinned = 1;
		memcpy(l->pinned_pk, pk, 32);
	}
	/* Map size 0: a reader maps what the writer has committed. */
	if ((rc = st_open(dir, 0, 1, NULL, &l->env)))
		return au_fail(json, AU_EXIT_OPEN, "cannot_open", "cannot open store %s: %s", dir,
		               pb_err_str(rc));
	if ((rc = st_verify(l->env, l->pinned ? pk : NULL, &l->rep))) {
		au_log_close(l);
		return au_fail(json, AU_EXIT_OPEN, "cannot_read", "cannot read the log in %s: %s",
		               dir, pb_err_str(rc));
	}
	if (l->rep.fail) {
		rc = print_fail(l, json);
		au_log_close(l);
		return rc;
	}
	st_key_id(l->rep.key_name, l->rep.pubkey, l->key_id);
	if (l->pinned && strcmp(name, l->rep.key_name) != 0)
		fprintf(stderr, AU_PROG ": warning: %s names the key '%s', the log '%s'\n",
		        pubkey_file, name, l->rep.key_name);
	return AU_EXIT_OK;
}

void au_log_close(struct au_log *l)
{
	st_close(l->env);
	l->env = NULL;
}

json_t *au_log_json(const struct au_log *l)
{
	char head[2 * ST_HASH_LEN + 1], pk[65], kid[2 * ST_KEYID_LEN + 1];

	pb_hex(l->rep.head_hash, ST_HASH_LEN, head);
	pb_hex(l->rep.pubkey, 32, pk);
	pb_hex(l->key_id, ST_KEYID_LEN, kid);
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "records",
	                 (json_int_t)l->rep.records, "head", head, "key", l->rep.key_name, "key_id",
	                 kid, "public_key", pk, "trusted", l->pinned ? "pubkey" : "record0",
	                 "rotations", (json_int_t)l->rep.rotations, "key_from",
	                 (json_int_t)l->rep.key_from);
}

void au_log_print(const struct au_log *l, const char *pubkey_file)
{
	char head[2 * ST_HASH_LEN + 1], pk[65], label[ST_KEYLABEL_MAX];

	pb_hex(l->rep.head_hash, ST_HASH_LEN, head);
	printf("ok: %llu records, head %s, key %s\n", (unsigned long long)l->rep.records, head,
	       l->rep.key_name);
	/* Without a known key, anyone able to rewrite the whole store could
	 * have re-signed it: say plainly what was trusted. */
	if (l->pinned) {
		st_key_label(l->rep.key_name, l->pinned_pk, label, sizeof(label));
		printf("key: %s matches %s\n", label, pubkey_file);
	} else {
		st_key_label(l->rep.key_name, l->rep.genesis_pk, label, sizeof(label));
		pb_hex(l->rep.genesis_pk, 32, pk);
		printf("trust: key %s (public key %s) taken from record 0; "
		       "pass --pubkey FILE to check it against a known key\n",
		       label, pk);
	}
	if (l->rep.rotations) {
		st_key_label(l->rep.key_name, l->rep.pubkey, label, sizeof(label));
		printf("rotation: %llu key rotation%s; %s signs from record %llu on\n",
		       (unsigned long long)l->rep.rotations, l->rep.rotations == 1 ? "" : "s", label,
		       (unsigned long long)l->rep.key_from);
	}
}
