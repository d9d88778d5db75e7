/* trail: every audit record about one message, from a verified log. */
#include "au.h"
#include "au_store.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"

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
};

static void print_kv(const char *k, const char *v)
{
	if (!v || !*v)
		return;
	printf(" %s=", k);
	au_put_clean(v);
}

static void print_record(const Mailroom__AuditRecord *r)
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
	print_kv("approver", r->approver);
	print_kv("ref", r->external_ref);
	print_kv("detail", r->detail);
	putchar('\n');
}

static json_t *record_json(const Mailroom__AuditRecord *r)
{
	char ev[48], hash[2 * 64 + 1];
	json_t *h = json_null();

	au_enum_name(&mailroom__audit_event__descriptor, r->event, "AUDIT_", 0, ev, sizeof(ev));
	if (r->content_hash.len > 0 && r->content_hash.len <= 64) {
		pb_hex(r->content_hash.data, r->content_hash.len, hash);
		h = json_string(hash);
	}
	return json_pack("{s:I, s:o, s:o, s:b, s:s, s:s, s:s, s:s, s:o, s:b, s:o, s:o, s:s, s:s, s:o, "
	                 "s:s}",
	                 "index", (json_int_t)r->index, "time", au_time_json(r->time_ms, 1),
	                 "effective", au_time_json(r->effective_ms, 1), "imported", r->imported,
	                 "event", ev, "actor", r->actor, "queue", r->queue, "from_queue",
	                 r->from_queue, "due", au_time_json(r->due_ms, 1), "due_provisional",
	                 r->due_provisional, "ack_due", au_time_json(r->ack_due_ms, 1), "old_due",
	                 au_time_json(r->old_due_ms, 1), "approver", r->approver, "detail",
	                 r->detail, "content_hash", h, "external_ref", r->external_ref);
}

/* One pass over the verified prefix of the log. Records past it (the
 * router may have appended since) are not shown: they were not checked. */
static int scan(st_txn *t, uint64_t n, struct trail *tr)
{
	for (uint64_t i = 0; i < n; i++) {
		Mailroom__AuditRecord *r;
		const uint8_t *data;
		size_t len;
		int rc;

		if ((rc = st_log_get(t, i, &data, &len)))
			return rc;
		if (len <= ST_SIG_LEN)
			return PB_ECORRUPT;
		if (!(r = mailroom__audit_record__unpack(NULL, len - ST_SIG_LEN, data)))
			return PB_ECORRUPT;
		if (r->message_id.len == PB_ID_LEN &&
		    memcmp(r->message_id.data, tr->id, PB_ID_LEN) == 0) {
			tr->found++;
			if (!tr->records)
				print_record(r);
			else if (json_array_append_new(tr->records, record_json(r)))
				rc = PB_ENOMEM;
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
	rc = scan(t, l->rep.records, tr);
	/* The stored message against what its records commit to, all of them
	 * in this snapshot: the router may have written since the log was
	 * verified, and the message read here is as those records left it.
	 * Records past the verified ones are the router's own, written after
	 * au_log_open looked. */
	uint64_t n;
	if (!rc && !(rc = st_log_size(t, &n)))
		rc = au_store_check(t, n, tr->id, &sv);
	st_txn_abort(t);
	if (rc)
		return au_fail(o->json, AU_EXIT_OTHER, pb_err_name(rc), "cannot read the log: %s",
		               pb_err_str(rc));
	if (!tr->msg && tr->found == 0)
		return au_fail(o->json, AU_EXIT_NOTFOUND, "not_found", "no message %s in %s",
		               tr->idt, o->store);
	if (!o->json) {
		if (sv.fail)
			return au_store_print_fail(&sv, 0);
		return fflush(stdout) == 0 ? AU_EXIT_OK : AU_EXIT_OTHER;
	}
	json_t *j = json_pack("{s:o, s:o, s:O, s:o}", "message", message_json(tr), "log",
	                      au_log_json(l), "records", tr->records, "store",
	                      sv.fail ? au_store_fail_json(&sv) : json_pack("{s:b}", "ok", 1));
	rc = au_emit(j);
	return rc ? rc : sv.fail;
}

int au_cmd_trail(int argc, char **argv)
{
	struct trail tr;
	struct au_opts o;
	struct au_log l;
	int rc;

	if ((rc = au_parse(argc, argv, &o)) >= 0)
		return rc;
	if (o.nargs != 1)
		return au_usage(argv[0], "trail needs one tracking code or message id");
	memset(&tr, 0, sizeof(tr));
	if (parse_target(o.args[0], &tr))
		return au_fail(o.json, AU_EXIT_INVALID, "invalid",
		               "'%s' is neither a tracking code nor a message id", o.args[0]);
	/* A trail out of a log that fails verification would be evidence of
	 * nothing: refuse with the verify verdict instead. */
	if ((rc = au_log_open(o.store, o.pubkey, o.json, &l)))
		return rc;
	rc = run(&o, &l, &tr);
	st_msg_free(tr.msg);
	json_decref(tr.records);
	au_log_close(&l);
	return rc;
}
