/* trail: every audit record about one message, from a verified log, and
 * how au_judge.c judges its clocks as of --now (the same verdict overdue
 * and the reports give). With the data key, each free text sealed in the
 * store beside its commitment, and whether the two match; and the stored
 * message against what its records commit to. */
#include "au_judge.h"
#include "au_store.h"
#include "pb_conf.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct trail {
	uint8_t id[PB_ID_LEN];
	char idt[PB_ID_TEXT_LEN + 1];
	char track[PB_TRACK_TEXT_LEN + 1];
	int by_track;
	Mailroom__StoredMessage *msg;   /* NULL when the store has no such message */
	json_t *records;                /* --json */
	uint64_t found;
	int keyed;                      /* --data-key given: show and check the texts */
	uint64_t mismatches;
	struct au_judge judge;          /* this message only */
};

static void print_kv(const char *k, const char *v)
{
	if (!v || !*v)
		return;
	printf(" %s=", k);
	au_put_clean(v);
}

int au_texts_match(const Mailroom__AuditRecord *r, const Mailroom__RecordTexts *x,
                   struct au_text out[AU_TEXT_FIELDS], int *n)
{
	static const ProtobufCBinaryData none = {0, NULL};
	const struct {
		const char *field;
		const ProtobufCBinaryData *c;
		const char *t;
	} f[AU_TEXT_FIELDS] = {
		{"detail", &r->detail_commit, x ? x->detail : NULL},
		{"approver", &r->approver_commit, x ? x->approver : NULL},
		{"legal_basis", &r->legal_basis_commit, x ? x->legal_basis : NULL},
		{"case_no", r->review ? &r->review->case_no_commit : &none, x ? x->case_no : NULL},
	};
	uint8_t h[ST_HASH_LEN];
	int bad = 0;

	*n = 0;
	for (int i = 0; i < AU_TEXT_FIELDS; i++) {
		int has_t = f[i].t && *f[i].t;
		struct au_text *o;
		if (f[i].c->len == 0 && !has_t)
			continue;
		o = &out[(*n)++];
		o->field = f[i].field;
		o->commit = f[i].c;
		o->text = has_t ? f[i].t : NULL;
		o->match = 0;
		/* A commitment without its text, or a text without its
		 * commitment, is as wrong as a text that differs. */
		if (has_t && f[i].c->len == ST_HASH_LEN && x->salt.len == ST_SALT_LEN) {
			st_text_commit(x->salt.data, f[i].field, f[i].t, strlen(f[i].t), h);
			o->match = memcmp(h, f[i].c->data, ST_HASH_LEN) == 0;
		}
		bad += !o->match;
	}
	return bad;
}

/* The sealed texts of record index; NULL when it has none or they do not
 * open (then every commitment of it is a mismatch). */
static Mailroom__RecordTexts *texts_load(st_env *env, st_txn *t, uint64_t index)
{
	Mailroom__RecordTexts *x = NULL;
	const uint8_t *data;
	uint8_t *plain;
	size_t len, plen;

	if (st_texts_get(t, index, &data, &len) || st_unseal(env, data, len, &plain, &plen))
		return NULL;
	x = mailroom__record_texts__unpack(NULL, plen, plain);
	sodium_memzero(plain, plen);
	free(plain);
	return x;
}

static int has_commit(const Mailroom__AuditRecord *r)
{
	return r->detail_commit.len || r->approver_commit.len || r->legal_basis_commit.len ||
	       (r->review && r->review->case_no_commit.len);
}

static void hex_of(const ProtobufCBinaryData *b, char out[2 * ST_HASH_LEN + 1])
{
	if (b->len == ST_HASH_LEN)
		pb_hex(b->data, ST_HASH_LEN, out);
	else
		snprintf(out, 2 * ST_HASH_LEN + 1, "(%zu bytes)", b->len);
}

static void print_texts(const struct au_text *a, int n, int keyed)
{
	char h[2 * ST_HASH_LEN + 1];

	for (int i = 0; i < n; i++) {
		if (a[i].commit->len) {
			hex_of(a[i].commit, h);
			printf(" %s_commit=%s", a[i].field, h);
		}
		if (!keyed)
			continue;
		if (a[i].text)
			print_kv(a[i].field, a[i].text);
		else
			printf(" %s=(none stored)", a[i].field);
		printf(a[i].match ? " (matches)" : " MISMATCH");
	}
}

static json_t *texts_json(const struct au_text *a, int n, int keyed)
{
	char h[2 * ST_HASH_LEN + 1];
	json_t *o = json_object();

	for (int i = 0; o && i < n; i++) {
		json_t *f;
		hex_of(a[i].commit, h);
		f = json_pack("{s:s?}", "commit", a[i].commit->len ? h : NULL);
		if (f && keyed &&
		    (json_object_set_new(f, "text", a[i].text ? json_string(a[i].text) : json_null()) ||
		     json_object_set_new(f, "match", json_boolean(a[i].match))))
			json_decref(f), f = NULL;
		if (!f || json_object_set_new(o, a[i].field, f)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static void print_record(const Mailroom__AuditRecord *r, const struct au_text *tx, int ntx,
                         int keyed)
{
	char ev[48], t[40], due[40], hash[2 * 64 + 1];

	au_enum_name(&mailroom__audit_event__descriptor, r->event, "AUDIT_", 0, ev, sizeof(ev));
	au_fmt_time(r->time_ms, t, sizeof(t), 1);
	printf("%llu %s %s", (unsigned long long)r->index, t, ev);
	/* An imported step happened at its effective time; it was signed at
	 * the first. */
	if (r->effective_ms) {
		au_fmt_time(r->effective_ms, t, sizeof(t), 1);
		printf(" effective=%s", t);
	}
	if (r->imported)
		printf(" imported");
	print_kv("actor", r->actor);
	print_kv("queue", r->queue);
	print_kv("from_queue", r->from_queue);
	if (r->due_ms) {
		au_fmt_time(r->due_ms, due, sizeof(due), 0);
		printf(" due=%s%s", due, r->due_provisional ? " (provisional)" : "");
	}
	if (r->ack_due_ms) {
		au_fmt_time(r->ack_due_ms, due, sizeof(due), 0);
		printf(" ack_due=%s", due);
	}
	if (r->old_due_ms) {
		au_fmt_time(r->old_due_ms, due, sizeof(due), 0);
		printf(" old_due=%s", due);
	}
	if (r->content_hash.len > 0 && r->content_hash.len <= 64) {
		pb_hex(r->content_hash.data, r->content_hash.len, hash);
		printf(" content_hash=%s", hash);
	}
	/* 并单 and 协办: the other message, the assisting queue, its due; a
	 * repeat's earlier message, a referral's new case. */
	if (r->related_id.len == PB_ID_LEN) {
		char rel[PB_ID_TEXT_LEN + 1];
		pb_id_to_text(r->related_id.data, rel);
		printf(" related=%s", rel);
	}
	print_kv("assist_queue", r->assist_queue);
	if (r->assist_days)
		printf(" assist_days=%d", r->assist_days);
	if (r->party_due_ms) {
		au_fmt_time(r->party_due_ms, due, sizeof(due), 0);
		printf(" party_due=%s", due);
	}
	if (r->deadline_kept)
		printf(" deadline_kept");
	print_kv("approver", r->approver);
	print_kv("ref", r->external_ref);
	print_kv("detail", r->detail);
	if (r->review)
		print_kv("case_no", r->review->case_no);
	print_texts(tx, ntx, keyed);
	putchar('\n');
}

static json_t *record_json(const Mailroom__AuditRecord *r, const struct au_text *tx, int ntx,
                           int keyed)
{
	char ev[48], hash[2 * 64 + 1];
	json_t *h = json_null(), *j;

	au_enum_name(&mailroom__audit_event__descriptor, r->event, "AUDIT_", 0, ev, sizeof(ev));
	if (r->content_hash.len > 0 && r->content_hash.len <= 64) {
		pb_hex(r->content_hash.data, r->content_hash.len, hash);
		h = json_string(hash);
	}
	j = json_pack("{s:I, s:o, s:o, s:b, s:s, s:s, s:s, s:s, s:o, s:b, s:o, s:o, s:s, s:s, s:o, "
	                 "s:s}",
	                 "index", (json_int_t)r->index, "time", au_time_json(r->time_ms, 1),
	                 "effective", au_time_json(r->effective_ms, 1), "imported", r->imported,
	                 "event", ev, "actor", r->actor, "queue", r->queue, "from_queue",
	                 r->from_queue, "due", au_time_json(r->due_ms, 1), "due_provisional",
	                 r->due_provisional, "ack_due", au_time_json(r->ack_due_ms, 1), "old_due",
	                 au_time_json(r->old_due_ms, 1), "approver", r->approver, "detail",
	                 r->detail, "content_hash", h, "external_ref", r->external_ref);
	if (j && r->related_id.len == PB_ID_LEN) {
		char rel[PB_ID_TEXT_LEN + 1];
		pb_id_to_text(r->related_id.data, rel);
		if (json_object_set_new(j, "related", json_string(rel)))
			json_decref(j), j = NULL;
	}
	if (j && r->assist_queue && *r->assist_queue &&
	    (json_object_set_new(j, "assist_queue", json_string(r->assist_queue)) ||
	     json_object_set_new(j, "party_due", au_time_json(r->party_due_ms, 1))))
		json_decref(j), j = NULL;
	if (j && ntx && json_object_set_new(j, "texts", texts_json(tx, ntx, keyed))) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* One pass over the verified prefix of the log. Records past it (the
 * router may have appended since) are not shown: they were not checked. */
static int scan(st_env *env, st_txn *t, uint64_t n, struct trail *tr)
{
	for (uint64_t i = 0; i < n; i++) {
		Mailroom__AuditRecord *r;
		const uint8_t *data;
		size_t len;
		int rc;

		if ((rc = st_log_get(t, i, &data, &len)))
			return rc;
		if (len == 0)
			return PB_ECORRUPT;
		if (!(r = mailroom__audit_record__unpack(NULL, len, data)))
			return PB_ECORRUPT;
		if (r->message_id.len == PB_ID_LEN &&
		    memcmp(r->message_id.data, tr->id, PB_ID_LEN) == 0) {
			Mailroom__RecordTexts *x = NULL;
			struct au_text tx[AU_TEXT_FIELDS];
			int ntx = 0;
			tr->found++;
			if (tr->keyed && has_commit(r))
				x = texts_load(env, t, i);
			tr->mismatches += (uint64_t)au_texts_match(r, x, tx, &ntx) * (uint64_t)tr->keyed;
			rc = au_judge_record(&tr->judge, r);
			if (rc)
				;
			else if (!tr->records)
				print_record(r, tx, ntx, tr->keyed);
			else if (json_array_append_new(tr->records, record_json(r, tx, ntx, tr->keyed)))
				rc = PB_ENOMEM;
			if (x)
				mailroom__record_texts__free_unpacked(x, NULL);
		}
		mailroom__audit_record__free_unpacked(r, NULL);
		if (rc)
			return rc;
	}
	return PB_OK;
}

/* A 26-character id, or a tracking code in any accepted spelling. */
static int parse_target(const char *s, struct trail *tr)
{
	if (pb_id_from_text(s, tr->id) == PB_OK)
		return PB_OK;
	if (pb_track_normalize(s, tr->track, sizeof(tr->track)) == PB_OK) {
		tr->by_track = 1;
		return PB_OK;
	}
	return PB_EINVAL;
}

static json_t *message_json(const struct trail *tr)
{
	char st[32];
	json_t *m;

	m = json_pack("{s:s, s:s?}", "id", tr->idt, "tracking_code",
	              tr->msg && *tr->msg->tracking_code ? tr->msg->tracking_code : NULL);
	if (m && tr->msg) {
		au_enum_name(&mailroom__status__descriptor, tr->msg->status, "STATUS_", 1, st,
		             sizeof(st));
		if (json_object_set_new(m, "status", json_string(st)) ||
		    json_object_set_new(m, "queue", json_string(tr->msg->queue))) {
			json_decref(m);
			m = NULL;
		}
	}
	return m;
}

static void print_message(const struct trail *tr)
{
	printf("message %s", tr->idt);
	if (tr->msg) {
		char st[32];
		if (*tr->msg->tracking_code)
			printf(" tracking %s", tr->msg->tracking_code);
		printf(" status %s", au_enum_name(&mailroom__status__descriptor, tr->msg->status,
		                                  "STATUS_", 1, st, sizeof(st)));
		if (*tr->msg->queue) {
			printf(" queue ");
			au_put_clean(tr->msg->queue);
		}
	}
	putchar('\n');
}

/* The verdict on one clock: {"state", "due", "at"} or a line. */
static json_t *clock_json(const struct au_judge *j, const struct au_jmsg *m,
                          const struct au_jclock *c)
{
	int64_t end;
	enum au_jstate s = au_judge_clock(j, m, c, &end);

	return json_pack("{s:s, s:o, s:b, s:o}", "state", au_judge_name(s), "due",
	                 au_time_json(c->due, 0), "due_provisional", c->provisional, "at",
	                 au_time_json(s == AU_J_OPEN || s == AU_J_OPEN_OVERDUE ? 0 : end, 1));
}

static json_t *judgment_json(const struct trail *tr)
{
	const struct au_jmsg *m = au_judge_find(&tr->judge, tr->id);

	if (!m || !m->received)
		return json_null();
	return json_pack("{s:o, s:o, s:o, s:o}", "as_of", au_time_json(tr->judge.as_of, 0),
	                 "received", au_time_json(m->receipt, 1), "reply",
	                 clock_json(&tr->judge, m, &m->reply), "ack",
	                 clock_json(&tr->judge, m, &m->ack));
}

static void print_clock(const char *name, const struct au_judge *j, const struct au_jmsg *m,
                        const struct au_jclock *c)
{
	char due[40], at[40];
	int64_t end;
	enum au_jstate s = au_judge_clock(j, m, c, &end);

	au_fmt_time(c->due, due, sizeof(due), 0);
	printf(" %s=%s due=%s", name, au_judge_name(s), due);
	if (s != AU_J_OPEN && s != AU_J_OPEN_OVERDUE) {
		au_fmt_time(end, at, sizeof(at), 1);
		printf(" at=%s", at);
	}
}

static void print_judgment(const struct trail *tr)
{
	const struct au_jmsg *m = au_judge_find(&tr->judge, tr->id);
	char at[40];

	au_fmt_time(tr->judge.as_of, at, sizeof(at), 0);
	printf("judged as of %s:", at);
	if (!m || !m->received) {
		printf(" not received yet\n");
		return;
	}
	print_clock("reply", &tr->judge, m, &m->reply);
	print_clock("ack", &tr->judge, m, &m->ack);
	putchar('\n');
}

static int run(const struct au_opts *o, struct au_log *l, struct trail *tr)
{
	struct au_store_verdict sv;
	st_txn *t;
	int rc;

	if ((rc = st_txn_begin(l->env, NULL, 1, &t)))
		return au_fail(o->json, AU_EXIT_OPEN, "cannot_read", "cannot read %s: %s", o->store,
		               pb_err_str(rc));
	if (tr->by_track && (rc = st_track_get(t, tr->track, tr->id))) {
		st_txn_abort(t);
		if (rc == PB_ENOTFOUND)
			return au_fail(o->json, AU_EXIT_NOTFOUND, "not_found",
			               "no message with tracking code %s", tr->track);
		return au_fail(o->json, AU_EXIT_OTHER, pb_err_name(rc), "cannot look up %s: %s",
		               tr->track, pb_err_str(rc));
	}
	pb_id_to_text(tr->id, tr->idt);
	rc = st_msg_get(t, tr->id, &tr->msg);
	if (rc && rc != PB_ENOTFOUND) {
		st_txn_abort(t);
		return au_fail(o->json, AU_EXIT_OTHER, pb_err_name(rc),
		               "cannot read message %s: %s", tr->idt, pb_err_str(rc));
	}
	if (o->json) {
		if (!(tr->records = json_array())) {
			st_txn_abort(t);
			return au_fail(1, AU_EXIT_OTHER, "no_memory", "out of memory");
		}
	} else {
		au_log_print(l, o->pubkey);
		print_message(tr);
	}
	rc = scan(l->env, t, l->rep.records, tr);
	/* The stored message against what its records commit to, all of them
	 * in this snapshot: the router may have written since the log was
	 * verified, and the message read here is as those records left it.
	 * Records past the verified ones are the router's own, written after
	 * au_log_open looked. */
	uint64_t n;
	if (!rc && !(rc = st_log_size(t, &n)))
		rc = au_store_check(t, n, tr->id, o->store, &sv);
	st_txn_abort(t);
	if (rc)
		return au_fail(o->json, AU_EXIT_OTHER, pb_err_name(rc), "cannot read the log: %s",
		               pb_err_str(rc));
	if (!tr->msg && tr->found == 0)
		return au_fail(o->json, AU_EXIT_NOTFOUND, "not_found", "no message %s in %s",
		               tr->idt, o->store);
	if (!o->json) {
		print_judgment(tr);
		if (fflush(stdout) != 0)
			return AU_EXIT_OTHER;
		if (sv.fail)
			return au_store_print_fail(&sv, 0);
	} else {
		json_t *j = json_pack("{s:o, s:o, s:O, s:o, s:o}", "message", message_json(tr), "log",
		                      au_log_json(l), "records", tr->records, "judgment",
		                      judgment_json(tr), "store",
		                      sv.fail ? au_store_fail_json(&sv) : json_pack("{s:b}", "ok", 1));
		if (j && tr->keyed && json_object_set_new(j, "text_mismatches",
		                                          json_integer((json_int_t)tr->mismatches))) {
			json_decref(j);
			j = NULL;
		}
		if ((rc = au_emit(j)))
			return rc;
		if (sv.fail)
			return sv.fail;
	}
	if (tr->mismatches) {
		fprintf(stderr, AU_PROG ": %llu stored text(s) do not match their commitments in the log\n",
		        (unsigned long long)tr->mismatches);
		return AU_EXIT_TEXTS;
	}
	return AU_EXIT_OK;
}

int au_cmd_trail(int argc, char **argv)
{
	struct trail tr;
	struct au_opts o;
	struct au_log l;
	int64_t now = pb_now_ms();
	int rc;

	if ((rc = au_parse(argc, argv, &o)) >= 0)
		return rc;
	if (o.nargs != 1)
		return au_usage(argv[0], "trail needs one tracking code or message id");
	if (o.now && pb_time_parse(o.now, &now))
		return au_fail(o.json, AU_EXIT_INVALID, "invalid_time",
		               "--now takes an RFC 3339 time such as 2025-11-05T12:00:00+08:00, "
		               "not '%s'",
		               o.now);
	memset(&tr, 0, sizeof(tr));
	au_judge_init(&tr.judge, now);
	if (parse_target(o.args[0], &tr))
		return au_fail(o.json, AU_EXIT_INVALID, "invalid",
		               "'%s' is neither a tracking code nor a message id", o.args[0]);
	/* A trail out of a log that fails verification would be evidence of
	 * nothing: refuse with the verify verdict instead. */
	if ((rc = au_log_open(o.store, o.pubkey, o.json, &l)))
		return rc;
	if (o.data_key) {
		uint8_t key[32];
		if (pb_secret_load(o.data_key, key, sizeof(key))) {
			au_log_close(&l);
			return au_fail(o.json, AU_EXIT_OPEN, "cannot_read", "cannot read the data key %s",
			               o.data_key);
		}
		st_data_key_set(l.env, key);
		sodium_memzero(key, sizeof(key));
		tr.keyed = 1;
	}
	rc = run(&o, &l, &tr);
	st_msg_free(tr.msg);
	json_decref(tr.records);
	au_judge_free(&tr.judge);
	au_log_close(&l);
	return rc;
}
