/* One flipped byte inside a stored audit record is found by the auditor,
 * who names the record. The store is edited with plain LMDB, as anyone
 * with file access could. */
#include "it.h"

#include <lmdb.h>
#include <signal.h>
#include <stdlib.h>

#define VICTIM 3

static void flip_record(const char *dir, uint64_t index)
{
	MDB_env *e;
	MDB_txn *t;
	MDB_dbi dbi;
	MDB_val k, v;
	uint8_t key[8];

	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)(index >> (56 - 8 * i));
	cr_assert_eq(mdb_env_create(&e), 0);
	cr_assert_eq(mdb_env_set_maxdbs(e, 32), 0);
	cr_assert_eq(mdb_env_set_mapsize(e, (size_t)1024 << 20), 0);
	cr_assert_eq(mdb_env_open(e, dir, 0, 0600), 0, "cannot open %s", dir);
	cr_assert_eq(mdb_txn_begin(e, NULL, 0, &t), 0);
	cr_assert_eq(mdb_dbi_open(t, "log", 0, &dbi), 0, "no 'log' database");
	k.mv_size = sizeof(key);
	k.mv_data = key;
	cr_assert_eq(mdb_get(t, dbi, &k, &v), 0, "no record %llu", (unsigned long long)index);
	uint8_t *copy = malloc(v.mv_size);
	cr_assert(copy);
	memcpy(copy, v.mv_data, v.mv_size);
	/* The middle of the value is inside the signed record, not its
	 * 64-byte signature, for any record longer than the signature. */
	cr_assert_gt(v.mv_size, 2 * 64, "record %llu is unexpectedly short", (unsigned long long)index);
	copy[v.mv_size / 2 - 32] ^= 0x01;
	v.mv_data = copy;
	cr_assert_eq(mdb_put(t, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(t), 0);
	mdb_env_close(e);
	free(copy);
}

Test(tamper, flipped_byte_named, .init = it_init, .fini = it_fini, .timeout = 120)
{
	const struct mr_opts o = {0};
	struct mr_http r;
	char *out = NULL;

	IT_UP(&o);
	for (int i = 0; i < 4; i++) {
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "{\"channel\":\"mailbox\",\"subject\":\"第%d封信\",\"body\":\"审计日志篡改测试用的来信内容。\"}",
		         i + 1);
		cr_assert_eq(mr_post_message(NULL, &env, msg, &r), 0);
		cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
		mr_http_free(&r);
	}
	mr_proc_stop(&env, &env.gateway, SIGTERM);
	mr_proc_stop(&env, &env.router, SIGTERM);

	int rc = mr_audit_cmd(&env, &out, "verify", NULL);
	cr_assert_eq(rc, 0, "the untouched log does not verify: exit %d: %s", rc, out);
	free(out);

	flip_record(env.store, VICTIM);

	rc = mr_audit_cmd(&env, &out, "verify", NULL);
	cr_expect_neq(rc, 0, "a tampered log verified: %s", out);
	cr_expect(out && strstr(out, "record 3") != NULL, "the verdict does not name record 3: %s", out);
	free(out);

	rc = mr_audit_cmd(&env, &out, "verify", "--json", NULL);
	cr_expect_neq(rc, 0);
	json_t *j = json_loads(out ? out : "", 0, NULL);
	cr_expect(j && json_integer_value(json_object_get(j, "bad_index")) == VICTIM &&
	                  json_is_false(json_object_get(j, "ok")),
	          "--json verdict does not name record 3: %s", out);
	json_decref(j);
	free(out);

	/* A trail out of a tampered log is refused, not printed. */
	rc = mr_audit_cmd(&env, &out, "trail", "0000-0000-0000", NULL);
	cr_expect_neq(rc, 0);
	free(out);

	IT_DOWN();
}
