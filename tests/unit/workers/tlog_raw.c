/* Tampering: raw LMDB edits of a closed store, copies, and bundle files
 * taken apart and put back together. */
#include "tlog.h"
#include "helpers.h"
#include "pb_err.h"
#include "sn.h"

#include <criterion/criterion.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- raw LMDB ---- */

struct raw {
	MDB_env *env;
	MDB_txn *txn;
};

static MDB_dbi raw_open(struct raw *r, const char *dir, const char *db)
{
	MDB_dbi dbi;

	cr_assert_eq(mdb_env_create(&r->env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(r->env, 32), 0);
	cr_assert_eq(mdb_env_set_mapsize(r->env, 64u << 20), 0);
	cr_assert_eq(mdb_env_open(r->env, dir, 0, 0600), 0);
	cr_assert_eq(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
	cr_assert_eq(mdb_dbi_open(r->txn, db, 0, &dbi), 0);
	return dbi;
}

static MDB_dbi raw_dbi(struct raw *r, const char *db)
{
	MDB_dbi dbi;

	cr_assert_eq(mdb_dbi_open(r->txn, db, 0, &dbi), 0);
	return dbi;
}

static void raw_close(struct raw *r)
{
	cr_assert_eq(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
}

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void tl_raw_delete(const char *dir, uint64_t index)
{
	struct raw r;
	MDB_dbi dbi = raw_open(&r, dir, "log");
	uint8_t kb[8];
	MDB_val k = {8, kb};

	be64(kb, index);
	cr_assert_eq(mdb_del(r.txn, dbi, &k, NULL), 0);
	raw_close(&r);
}

void tl_raw_swap(const char *dir, uint64_t a, uint64_t b)
{
	struct raw r;
	MDB_dbi dbi = raw_open(&r, dir, "log");
	uint8_t ka[8], kb[8], *ca, *cb;
	MDB_val k1 = {8, ka}, k2 = {8, kb}, v1, v2;
	size_t n1, n2;

	be64(ka, a);
	be64(kb, b);
	cr_assert_eq(mdb_get(r.txn, dbi, &k1, &v1), 0);
	cr_assert_eq(mdb_get(r.txn, dbi, &k2, &v2), 0);
	n1 = v1.mv_size;
	n2 = v2.mv_size;
	ca = malloc(n1);
	cb = malloc(n2);
	cr_assert(ca && cb);
	memcpy(ca, v1.mv_data, n1);
	memcpy(cb, v2.mv_data, n2);
	v1.mv_data = cb;
	v1.mv_size = n2;
	v2.mv_data = ca;
	v2.mv_size = n1;
	cr_assert_eq(mdb_put(r.txn, dbi, &k1, &v1, 0), 0);
	cr_assert_eq(mdb_put(r.txn, dbi, &k2, &v2, 0), 0);
	raw_close(&r);
	free(ca);
	free(cb);
}

/* Deletes every key of dbi for which drop(key) holds. */
static void raw_del_where(struct raw *r, MDB_dbi dbi, int (*drop)(const MDB_val *k, uint64_t arg),
                          uint64_t arg)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	cr_assert_eq(mdb_cursor_open(r->txn, dbi, &c), 0);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if (drop(&k, arg))
			cr_assert_eq(mdb_cursor_del(c, 0), 0);
	cr_assert_eq(rc, MDB_NOTFOUND);
	mdb_cursor_close(c);
}

static int log_from(const MDB_val *k, uint64_t from)
{
	return k->mv_size == 8 && get64(k->mv_data) >= from;
}

static int cp_past(const MDB_val *k, uint64_t from)
{
	return k->mv_size == 8 && get64(k->mv_data) > from;
}

/* Tree key: be64 last record covered || level byte. */
static int node_past(const MDB_val *k, uint64_t from)
{
	return k->mv_size == 9 && get64(k->mv_data) >= from;
}

void tl_raw_truncate(const char *dir, uint64_t from)
{
	struct raw r;
	MDB_dbi dbi = raw_open(&r, dir, "log");

	raw_del_where(&r, dbi, log_from, from);
	raw_close(&r);
}

/* The messages whose RECEIVED is at or past from leave the store with it,
 * so the store still matches its log (verify --store). */
static void drop_messages_from(struct raw *r, MDB_dbi log, uint64_t from)
{
	MDB_dbi msg = raw_dbi(r, "msg");
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t kb[8];
	int rc;

	be64(kb, from);
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	cr_assert_eq(mdb_cursor_open(r->txn, log, &c), 0);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		Mailroom__AuditRecord *rec;
		cr_assert_gt(v.mv_size, 0);
		rec = mailroom__audit_record__unpack(NULL, v.mv_size, v.mv_data);
		cr_assert_not_null(rec);
		if (rec->event == MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED && rec->message_id.len == 16) {
			MDB_val mk = {16, rec->message_id.data};
			int drc = mdb_del(r->txn, msg, &mk, NULL);
			cr_assert(drc == 0 || drc == MDB_NOTFOUND);
		}
		mailroom__audit_record__free_unpacked(rec, NULL);
	}
	cr_assert_eq(rc, MDB_NOTFOUND);
	mdb_cursor_close(c);
}

static void cut(const char *dir, uint64_t from, int checkpoints_too)
{
	struct raw r;
	MDB_dbi dbi = raw_open(&r, dir, "log");

	drop_messages_from(&r, dbi, from);
	raw_del_where(&r, dbi, log_from, from);
	raw_del_where(&r, raw_dbi(&r, "nodes"), node_past, from);
	if (checkpoints_too)
		raw_del_where(&r, raw_dbi(&r, "checkpoint"), cp_past, from);
	raw_close(&r);
}

void tl_raw_cut(const char *dir, uint64_t from)
{
	cut(dir, from, 1);
}

void tl_raw_rewind(const char *dir, uint64_t from)
{
	cut(dir, from, 0);
}

void tl_raw_edit_msg(const char *dir, const uint8_t id[16], void (*edit)(Mailroom__StoredMessage *m))
{
	struct raw r;
	MDB_dbi dbi = raw_open(&r, dir, "msg");
	MDB_val k = {16, (void *)id}, v;
	Mailroom__StoredMessage *m, copy;
	uint8_t *buf;
	size_t len;

	cr_assert_eq(mdb_get(r.txn, dbi, &k, &v), 0, "no such stored message");
	m = mailroom__stored_message__unpack(NULL, v.mv_size, v.mv_data);
	cr_assert_not_null(m);
	copy = *m;
	edit(&copy);
	len = mailroom__stored_message__get_packed_size(&copy);
	buf = malloc(len ? len : 1);
	cr_assert_not_null(buf);
	mailroom__stored_message__pack(&copy, buf);
	v.mv_size = len;
	v.mv_data = buf;
	cr_assert_eq(mdb_put(r.txn, dbi, &k, &v, 0), 0);
	raw_close(&r);
	free(buf);
	mailroom__stored_message__free_unpacked(m, NULL);
}

void tl_raw_flip_checkpoint(const char *dir, uint64_t size, size_t off)
{
	struct raw r;
	MDB_dbi dbi = raw_open(&r, dir, "checkpoint");
	uint8_t kb[8], *copy;
	MDB_val k = {8, kb}, v;

	be64(kb, size);
	cr_assert_eq(mdb_get(r.txn, dbi, &k, &v), 0);
	cr_assert_lt(off, v.mv_size);
	copy = malloc(v.mv_size);
	cr_assert_not_null(copy);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[off] ^= 0x01;
	v.mv_data = copy;
	cr_assert_eq(mdb_put(r.txn, dbi, &k, &v, 0), 0);
	raw_close(&r);
	free(copy);
}

void tl_raw_delete_checkpoint(const char *dir, uint64_t size)
{
	struct raw r;
	MDB_dbi dbi = raw_open(&r, dir, "checkpoint");
	uint8_t kb[8];
	MDB_val k = {8, kb};

	be64(kb, size);
	cr_assert_eq(mdb_del(r.txn, dbi, &k, NULL), 0);
	raw_close(&r);
}

void tl_raw_rewrite(const char *dir, uint64_t index, void (*edit)(Mailroom__AuditRecord *r))
{
	struct raw r;
	MDB_dbi dbi = raw_open(&r, dir, "log");
	uint8_t kb[8], out[4096];
	MDB_val k = {8, kb}, v;
	Mailroom__AuditRecord *rec, copy;
	size_t blen;

	be64(kb, index);
	cr_assert_eq(mdb_get(r.txn, dbi, &k, &v), 0);
	rec = mailroom__audit_record__unpack(NULL, v.mv_size, v.mv_data);
	cr_assert_not_null(rec);
	copy = *rec;   /* edits may point at static data; rec is freed as unpacked */
	if (edit)
		edit(&copy);
	blen = mailroom__audit_record__get_packed_size(&copy);
	cr_assert_leq(blen, sizeof(out));
	mailroom__audit_record__pack(&copy, out);
	mailroom__audit_record__free_unpacked(rec, NULL);
	v.mv_data = out;
	v.mv_size = blen;
	cr_assert_eq(mdb_put(r.txn, dbi, &k, &v, 0), 0);
	raw_close(&r);
}

void tl_raw_resign_checkpoint(const char *dir, uint64_t size, const char *name,
                              const uint8_t *sk)
{
	struct raw r;
	MDB_dbi dbi = raw_open(&r, dir, "checkpoint");
	uint8_t kb[8];
	char note[1024];
	MDB_val k = {8, kb}, v;
	const char *text;
	size_t blen, nlen;

	be64(kb, size);
	cr_assert_eq(mdb_get(r.txn, dbi, &k, &v), 0);
	text = v.mv_data;
	/* The body ends at the last blank line. */
	for (blen = v.mv_size - 1; blen > 0; blen--)
		if (text[blen] == '\n' && text[blen - 1] == '\n')
			break;
	cr_assert_gt(blen, 0);
	cr_assert_eq(sn_sign(text, blen, name, sk, note, sizeof(note), &nlen), PB_OK);
	v.mv_data = note;
	v.mv_size = nlen;
	cr_assert_eq(mdb_put(r.txn, dbi, &k, &v, 0), 0);
	raw_close(&r);
}

long tl_raw_offset(const char *dir, uint64_t index, const char *needle)
{
	struct raw r;
	MDB_dbi dbi = raw_open(&r, dir, "log");
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	const uint8_t *hit;

	be64(kb, index);
	cr_assert_eq(mdb_get(r.txn, dbi, &k, &v), 0);
	hit = memmem(v.mv_data, v.mv_size, needle, strlen(needle));
	cr_assert_not_null(hit, "no '%s' in record %llu", needle, (unsigned long long)index);
	long off = (long)(hit - (const uint8_t *)v.mv_data);
	mdb_txn_abort(r.txn);
	mdb_env_close(r.env);
	return off;
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;

	cr_assert(in && out, "copy %s -> %s", from, to);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		cr_assert_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	cr_assert_eq(fclose(out), 0);
}

void tl_copy_store(const char *from, const char *to)
{
	char a[600], b[600];

	cr_assert_eq(mkdir(to, 0700), 0, "mkdir %s", to);
	snprintf(a, sizeof(a), "%s/data.mdb", from);
	snprintf(b, sizeof(b), "%s/data.mdb", to);
	copy_file(a, b);
}

/* ---- bundles ---- */

static uint8_t *slurp_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

void tl_bundle_edit(const char *path, int op, uint64_t a, uint64_t b)
{
	size_t len, off = strlen("mailroom-bundle v1\n"), nitems = 0, logv = 0, logv_end = 0;
	uint8_t *f = slurp_file(path, &len);
	size_t item[4096][2];

	/* Find LOGV and its items. */
	while (off + 12 <= len) {
		uint64_t slen = get64(f + off + 4);
		if (memcmp(f + off, "LOGV", 4) == 0) {
			logv = off;
			logv_end = off + 12 + slen;
			for (size_t p = off + 12; p < logv_end; nitems++) {
				size_t n = (size_t)f[p] << 24 | (size_t)f[p + 1] << 16 |
				           (size_t)f[p + 2] << 8 | f[p + 3];
				cr_assert_lt(nitems, 4096);
				item[nitems][0] = p;
				item[nitems][1] = 4 + n;
				p += 4 + n;
			}
		}
		off += 12 + slen;
	}
	cr_assert(logv && a < nitems, "no record %llu in %s", (unsigned long long)a, path);
	FILE *out = fopen(path, "wb");
	cr_assert_not_null(out);
	if (op == TL_B_FLIP) {
		cr_assert_lt(4 + b, item[a][1]);
		f[item[a][0] + 4 + b] ^= 0x01;
		cr_assert_eq(fwrite(f, 1, len, out), len);
	} else {
		uint8_t h[12];
		uint64_t slen = 0;
		cr_assert(op != TL_B_SWAP || b < nitems);
		for (size_t i = 0; i < nitems; i++)
			if (!((op == TL_B_DELETE && i == a) || (op == TL_B_TRUNCATE && i >= a)))
				slen += item[i][1];
		memcpy(h, "LOGV", 4);
		be64(h + 4, slen);
		cr_assert_eq(fwrite(f, 1, logv, out), logv);
		cr_assert_eq(fwrite(h, 1, 12, out), 12);
		for (size_t i = 0; i < nitems; i++) {
			size_t j = i;
			if ((op == TL_B_DELETE && i == a) || (op == TL_B_TRUNCATE && i >= a))
				continue;
			if (op == TL_B_SWAP && i == a)
				j = b;
			else if (op == TL_B_SWAP && i == b)
				j = a;
			cr_assert_eq(fwrite(f + item[j][0], 1, item[j][1], out), item[j][1]);
		}
		cr_assert_eq(fwrite(f + logv_end, 1, len - logv_end, out), len - logv_end);
	}
	cr_assert_eq(fclose(out), 0);
	free(f);
}
