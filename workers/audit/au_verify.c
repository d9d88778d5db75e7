/* verify: everything a log can be checked for, from a store snapshot or a
 * bundle (au_walk.c), and a one-line verdict with its warnings. */
#include "au_store.h"
#include "au_tlog.h"
#include "pb_err.h"
#include "pb_id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct run {
	const struct au_opts *o;
	char name[AU_KEYNAME_MAX];        /* --pubkey */
	uint8_t pk[32];
	const char *source;        /* "store" or "bundle" */
	cal_set *cal;
	char cal_note[PB_PATH_MAX + 256];   /* why deadlines were not checked */
	struct au_verdict v;
	struct au_store_verdict sv;   /* a store: its messages against the log */
};

/* Calendars: a --calendars directory (with --local-calendars, the
 * office's own) must load; else a bundle's own
 * files, which must load and hash to the version stated with them; else,
 * for a store, the default directory. Without any, deadlines go unchecked
 * and the verdict says so (AU_EXIT_NO_DEADLINES unless --no-deadlines). */
static int load_calendars(struct run *x, const struct au_src *s)
{
	char err[PB_PATH_MAX + 200] = "";
	int rc;

	if (x->o->calendars || x->o->local_calendars)
		return au_cal_load(x->o, x->o->json, &x->cal);
	if (x->o->no_deadlines) {
		snprintf(x->cal_note, sizeof(x->cal_note), "deadlines not checked (--no-deadlines)");
		return AU_EXIT_OK;
	}
	if (s->bundle && s->cals.n) {
		if ((rc = au_cals_load(&s->cals, &x->cal, err, sizeof(err))) == PB_ENOMEM)
			return au_fail(x->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
		if (rc)
			return au_report_fail(x->o->json, AU_EXIT_MALFORMED, "bundle", 0,
			                      "%s: its calendars: %s", s->path, err);
		return AU_EXIT_OK;
	}
	if (s->bundle) {
		snprintf(x->cal_note, sizeof(x->cal_note),
		         "deadlines not checked: the bundle carries no calendars; pass --calendars DIR");
		return AU_EXIT_OK;
	}
	if ((rc = cal_load_dir(AU_DEFAULT_CALENDARS, &x->cal, err, sizeof(err)))) {
		x->cal = NULL;
		if (rc == PB_ENOMEM)
			return au_fail(x->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
		/* The loader's message is cut to fit; the note is advice only. */
		snprintf(x->cal_note, sizeof(x->cal_note),
		         "deadlines not checked: no calendars in " AU_DEFAULT_CALENDARS " (%.200s); "
		         "pass --calendars DIR",
		         *err ? err : pb_err_str(rc));
	}
	return AU_EXIT_OK;
}

static json_t *warnings_json(const struct run *x)
{
	const struct au_verdict *v = &x->v;
	json_t *w = json_array();
	char buf[300];

	if (!w)
		return NULL;
	/* Records past the last checkpoint are a failure now (every commit
	 * signs one), never a warning. */
	if (v->other_cal) {
		snprintf(buf, sizeof(buf),
		         "%llu records computed with another calendar version, deadlines not "
		         "checked (first: record %llu)",
		         (unsigned long long)v->other_cal, (unsigned long long)v->other_cal_first);
		json_array_append_new(w, json_string(buf));
	}
	if (*x->cal_note)
		json_array_append_new(w, json_string(x->cal_note));
	return w;
}

/* Each key after record 0's, with the record that brought it in. */
static json_t *rotations_json(const struct au_verdict *v)
{
	json_t *a = json_array();
	char pk[65], kid[2 * ST_KEYID_LEN + 1];
	uint8_t id[ST_KEYID_LEN];

	for (size_t i = 1; a && i < v->keys.n; i++) {
		const struct au_key *k = &v->keys.k[i];
		st_key_id(k->name, k->pk, id);
		pb_hex(id, sizeof(id), kid);
		pb_hex(k->pk, 32, pk);
		json_array_append_new(a, json_pack("{s:I, s:I, s:s, s:s}", "index", (json_int_t)k->index,
		                                   "from", (json_int_t)k->from, "key_id", kid,
		                                   "public_key", pk));
	}
	return a;
}

static int print_ok(const struct run *x)
{
	const struct au_verdict *v = &x->v;
	const struct au_key *first = v->keys.n ? &v->keys.k[0] : NULL;
	char head[2 * ST_HASH_LEN + 1], pk[65], kid[2 * ST_KEYID_LEN + 1], a[AU_LABEL_MAX],
	    b[AU_LABEL_MAX];
	json_t *w = warnings_json(x), *e;
	size_t i;

	/* A log whose deadlines went unchecked is not a clean pass. */
	int code = !x->cal && !x->o->no_deadlines ? AU_EXIT_NO_DEADLINES : AU_EXIT_OK;

	pb_hex(v->head, ST_HASH_LEN, head);
	pb_hex(v->pk, 32, pk);
	pb_hex(v->key_id, ST_KEYID_LEN, kid);
	if (x->o->json) {
		int rc = au_emit(json_pack(
		    "{s:b, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "ok", 1,
		    "source", x->source, "records", (json_int_t)v->records, "checkpoints",
		    (json_int_t)v->checkpoints, "checkpointed", (json_int_t)v->checkpointed, "head",
		    head, "key", v->key_name, "key_id", kid, "public_key", pk, "trusted",
		    x->o->pubkey ? "pubkey" : "record0", "deadlines",
		    x->cal ? "checked" : "not_checked", "rotations", rotations_json(v), "warnings",
		    w ? w : json_array(), "messages",
		    x->o->store ? json_integer((json_int_t)x->sv.messages) : json_null()));
		return rc ? rc : code;
	}
	printf("%s: %llu records, %llu checkpoints, head %s, key %s\n",
	       code ? "ok, deadlines not checked" : "ok", (unsigned long long)v->records,
	       (unsigned long long)v->checkpoints, head, v->key_name);
	if (x->o->store)
		printf("store: %llu message%s match%s the log\n", (unsigned long long)x->sv.messages,
		       x->sv.messages == 1 ? "" : "s", x->sv.messages == 1 ? "es" : "");
	/* Without a known key, anyone able to rewrite the whole log could
	 * have re-signed it: say plainly what was trusted. */
	if (x->o->pubkey) {
		st_key_label(x->name, x->pk, a, sizeof(a));
		printf("key: %s matches %s\n", a, x->o->pubkey);
	} else if (first) {
		st_key_label(first->name, first->pk, a, sizeof(a));
		pb_hex(first->pk, 32, pk);
		printf("trust: key %s (public key %s) taken from record 0; "
		       "pass --pubkey FILE to check it against a known key\n",
		       a, pk);
	}
	for (i = 1; i < v->keys.n; i++) {
		st_key_label(v->keys.k[i - 1].name, v->keys.k[i - 1].pk, a, sizeof(a));
		st_key_label(v->keys.k[i].name, v->keys.k[i].pk, b, sizeof(b));
		printf("rotation: record %llu hands the log from %s to %s, which signs from %llu on\n",
		       (unsigned long long)v->keys.k[i].index, a, b,
		       (unsigned long long)v->keys.k[i].from);
	}
	json_array_foreach(w, i, e)
		printf("warning: %s\n", json_string_value(e));
	json_decref(w);
	return fflush(stdout) == 0 ? code : AU_EXIT_OTHER;
}

static int print_fail(const struct run *x)
{
	const struct au_verdict *v = &x->v;

	if (x->o->json) {
		int rc = au_emit(json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "ok", 0,
		                           "source", x->source, "fail", au_class_name(v->fail),
		                           "message", v->text, "where", v->where, "at",
		                           (json_int_t)v->at, "bad_index", (json_int_t)v->at,
		                           "records", (json_int_t)v->records));
		return rc ? rc : v->fail;
	}
	printf("FAIL %s: %s %llu: ", au_class_name(v->fail), v->where, (unsigned long long)v->at);
	au_put_clean(v->text);
	putchar('\n');
	if (*x->cal_note)
		fprintf(stderr, AU_PROG ": %s\n", x->cal_note);
	fflush(stdout);
	return v->fail;
}

static int fold(const Mailroom__AuditRecord *r, void *arg)
{
	return au_store_fold_record(arg, r);
}

static int run(struct run *x, struct au_src *s)
{
	struct au_store_fold *f = NULL;
	int rc;

	if (x->o->pubkey && (rc = au_pubkey(x->o->pubkey, x->o->json, x->name, x->pk)))
		return rc;
	/* A store's messages are checked against the records the walk reads
	 * anyway, as it reads them. */
	if (!s->bundle && au_store_fold_new(NULL, &f))
		return au_fail(x->o->json, AU_EXIT_OTHER, "no_memory", "out of memory");
	rc = au_walk_each(s, x->name, x->o->pubkey ? x->pk : NULL, x->cal, f ? fold : NULL, f,
	                  &x->v);
	if (rc)
		rc = au_fail(x->o->json, rc == PB_ENOMEM ? AU_EXIT_OTHER : AU_EXIT_OPEN,
		             pb_err_name(rc), "cannot read the log in %s: %s", s->path, pb_err_str(rc));
	else if (x->v.fail)
		rc = print_fail(x);
	/* The log holds up; a store's messages must hold up against it. */
	else if (f && (rc = au_store_fold_check(f, s->txn, s->path, &x->sv)))
		rc = au_fail(x->o->json, rc == PB_ENOMEM ? AU_EXIT_OTHER : AU_EXIT_OPEN,
		             pb_err_name(rc), "cannot read the messages in %s: %s", s->path,
		             pb_err_str(rc));
	else
		rc = x->sv.fail ? au_store_print_fail(&x->sv, x->o->json) : print_ok(x);
	au_store_fold_free(f);
	au_verdict_free(&x->v);
	return rc;
}

int au_cmd_verify(int argc, char **argv)
{
	struct au_opts o;
	struct run *x;
	struct au_src s;
	char why[256];
	int rc;

	if ((rc = au_parse(argc, argv, &o)) >= 0)
		return rc;
	if ((o.store != NULL) == (o.nargs == 1) || o.nargs > 1)
		return au_usage(argv[0], "verify takes one bundle file or --store DIR");
	if (!(x = calloc(1, sizeof(*x))))
		return au_fail(o.json, AU_EXIT_OTHER, "no_memory", "out of memory");
	x->o = &o;
	x->source = o.store ? "store" : "bundle";
	if ((o.calendars || o.local_calendars) && o.no_deadlines) {
		free(x);
		return au_usage(argv[0], "--calendars and --no-deadlines exclude each other");
	}
	if (o.store)
		rc = au_src_store(&s, o.store, o.json);
	else if ((rc = au_src_bundle(&s, o.args[0], o.json, why, sizeof(why))) == AU_EXIT_MALFORMED)
		rc = au_report_fail(o.json, rc, "bundle", 0, "%s: %s", o.args[0], why);
	if (rc == AU_EXIT_OK) {
		if ((rc = load_calendars(x, &s)) == AU_EXIT_OK)
			rc = run(x, &s);
		au_src_close(&s);
	}
	cal_free(x->cal);
	free(x);
	return rc;
}
