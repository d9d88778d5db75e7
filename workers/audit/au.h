/* au: mailroom-audit, the auditor's offline tool. Reads a store read-only
 * (safe while the router runs), checks the signed hash chain, reads
 * message trails and missed deadlines out of it, and computes due dates.
 * The transparency-log side (bundles, full verification, receipts,
 * proofs, the witness) is declared in au_tlog.h. Commands live in a table
 * in au_main.c. */
#ifndef AU_H
#define AU_H

#include "st.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define AU_PROG "mailroom-audit"

/* Exit codes (workers/README.md). From 10 on, each is a failure class
 * with a short stable name (au_class_name). */
enum au_exit {
	AU_EXIT_OK = 0,
	AU_EXIT_USAGE = 1,
	AU_EXIT_OPEN = 2,          /* store, bundle, key or input file cannot be opened or read */
	AU_EXIT_UNAVAILABLE = 3,   /* witness: the log server cannot be reached or refused */
	AU_EXIT_NOTFOUND = 4,
	AU_EXIT_EXISTS = 7,        /* witness --keygen: the key file exists */
	AU_EXIT_INVALID = 8,       /* bad tracking code, id, key file, value, calendar or input file */
	AU_EXIT_OTHER = 9,
	AU_EXIT_MALFORMED = 10,    /* ST_VERIFY_MALFORMED ... */
	AU_EXIT_INDEX = 11,
	AU_EXIT_CHAIN = 12,
	AU_EXIT_SIGNATURE = 13,
	AU_EXIT_KEY = 14,
	AU_EXIT_EMPTY = 15,        /* ... ST_VERIFY_EMPTY */
	AU_EXIT_MISSING = 16,      /* a record absent: the log has a gap */
	AU_EXIT_TRUNCATED = 17,    /* the log is shorter than a checkpoint */
	AU_EXIT_ROOT = 18,         /* Merkle root at a checkpoint's size differs */
	AU_EXIT_VERIFY_OTHER = 19, /* a failure class newer than this tool */
	AU_EXIT_CHECKPOINT = 20,   /* a checkpoint does not verify or is out of order */
	AU_EXIT_STATE = 21,        /* a message's events break the state machine */
	AU_EXIT_DEADLINE = 22,     /* a recorded deadline differs from the calendars */
	AU_EXIT_RECEIPT = 23,      /* a receipt does not match its record */
	AU_EXIT_INCLUSION = 24,    /* an inclusion proof does not hold */
	AU_EXIT_INCONSISTENT = 25, /* a consistency proof does not hold */
	AU_EXIT_ROLLBACK = 26,     /* a checkpoint smaller than one already seen */
	AU_EXIT_FORK = 27,         /* two signed checkpoints of one size, different roots */
	AU_EXIT_UNVERIFIED = 28,   /* report: the log does not verify, so no report */
	AU_EXIT_CHECKS = 29,       /* report: printed, but a cross-check of the tables failed */
	AU_EXIT_STORE = 30,        /* a stored message differs from what the log commits to */
	AU_EXIT_NO_DEADLINES = 31, /* verify: the log holds, but no calendars to check deadlines on */
	AU_EXIT_TEXTS = 32,        /* trail --data-key: a stored text does not match its commitment */
	AU_EXIT_WITNESS = 33,      /* verify-receipt: fewer valid cosignatures than the policy asks */
};

/* Options a command may take. */
enum {
	AU_O_STORE = 1 << 0,
	AU_O_PUBKEY = 1 << 1,
	AU_O_JSON = 1 << 2,
	AU_O_FROM = 1 << 3,
	AU_O_DAYS = 1 << 4,
	AU_O_CALENDARS = 1 << 5,
	AU_O_NOW = 1 << 6,
	AU_O_OUT = 1 << 7,
	AU_O_RECEIPT = 1 << 8,
	AU_O_PROOF = 1 << 9,
	AU_O_CHECKPOINT = 1 << 10,
	AU_O_ENTRY = 1 << 11,
	AU_O_STATE = 1 << 12,
	AU_O_URL = 1 << 13,
	AU_O_WKEY = 1 << 14,
	AU_O_WNAME = 1 << 15,
	AU_O_KEYGEN = 1 << 16,
	AU_O_YEAR = 1 << 17,
	AU_O_TO = 1 << 18,
	AU_O_FORMAT = 1 << 19,
	AU_O_ROTATION = 1 << 20,
	AU_O_DATAKEY = 1 << 21,
	AU_O_NODEADLINES = 1 << 22,
	AU_O_SERVE = 1 << 23,
	AU_O_MINWIT = 1 << 24,
	AU_O_LOCALCALS = 1 << 25,   /* taken wherever --calendars is */
};

#define AU_MAX_ROTATIONS 16
#define AU_MAX_WKEYS 16

struct au_cmd {
	const char *name;
	int (*run)(int argc, char **argv);   /* argv[0] is the command name */
	unsigned opts;                       /* AU_O_* it takes */
	unsigned need;                       /* AU_O_* it requires */
	const char *usage;
	const char *summary;
};

/* A store opened read-only whose log has been verified. */
struct au_log {
	st_env *env;
	int pinned;                /* checked against --pubkey, not record 0 */
	uint8_t pinned_pk[32];
	struct st_verify_report rep;
	uint8_t key_id[ST_KEYID_LEN];
};

/* Opens dir, verifies the log (against the key in pubkey_file when not
 * NULL) and, on a failure, prints it. Returns an exit code; on AU_EXIT_OK
 * l->env is open and closed by au_log_close. */
int au_log_open(const char *dir, const char *pubkey_file, int json, struct au_log *l);
void au_log_close(struct au_log *l);
/* st_verify failure class -> exit code, and its short stable name. */
int au_verify_exit(int fail);
const char *au_verify_name(int fail);
/* Exit code from 10 on -> its class name ("signature", "fork", ...). */
const char *au_class_name(int exit);
/* {"records", "head", "key", "key_id", "public_key", "trusted"} */
json_t *au_log_json(const struct au_log *l);
/* "ok: N records, head <hex>, key <name>" and the trust line. */
void au_log_print(const struct au_log *l, const char *pubkey_file);

/* Output: au_emit prints and releases j; au_fail prints the error (on
 * stdout as {"error":...} too when json) and returns exit. */
int au_emit(json_t *j);
int au_fail(int json, int exit, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* ---- trail: a record's texts beside its commitments (au_trail.c) ---- */
#define AU_TEXT_FIELDS 4
struct au_text {
	const char *field;                   /* detail | approver | legal_basis | case_no */
	const ProtobufCBinaryData *commit;   /* in the record; len 0: none */
	const char *text;                    /* stored clear text; NULL: none */
	int match;
};
/* Pairs each commitment of r with its clear text in x (NULL: none were
 * stored) into out[*n]; returns how many do not match. A commitment
 * without a text, or a text without a commitment, does not match. */
int au_texts_match(const Mailroom__AuditRecord *r, const Mailroom__RecordTexts *x,
                   struct au_text out[AU_TEXT_FIELDS], int *n);

/* Prints usage for cmd on stderr and returns AU_EXIT_USAGE. */
int au_usage(const char *cmd, const char *why);

/* The options most commands share. Positional arguments may come
 * anywhere; they end up in args. */
struct au_opts {
	const char *store;
	const char *pubkey;
	const char *from;          /* --from YYYY-MM-DD */
	const char *to;            /* --to YYYY-MM-DD */
	const char *year;          /* --year YYYY, checked by the command */
	const char *format;        /* --format md|html|csv|json */
	const char *days;          /* --working-days N, checked by the command */
	const char *calendars;     /* NULL: AU_DEFAULT_CALENDARS */
	const char *local_calendars;   /* --local-calendars DIR: the office's own years, or NULL */
	const char *now;           /* --now RFC 3339 */
	const char *out;           /* --out FILE */
	const char *receipt, *proof, *checkpoint, *entry;
	const char *state;         /* --state DIR */
	const char *url;
	const char *wkey, *wname;  /* --witness-key FILE, --witness-name NAME */
	/* verify-receipt: every --witness-key given (a key line or a file
	 * holding one) and --min-witnesses N */
	const char *wkeys[AU_MAX_WKEYS];
	int nwkeys;
	const char *min_witnesses;
	const char *serve;         /* witness --serve ADDR:PORT */
	const char *rotation[AU_MAX_ROTATIONS];   /* --rotation FILE, in the order given */
	int nrotation;
	const char *data_key;      /* --data-key FILE: trail shows the sealed texts */
	int keygen;
	int no_deadlines;          /* verify: leave deadlines unchecked, knowingly */
	int json;
	unsigned seen;             /* AU_O_* given */
	int nargs;
	char **args;
};
/* -1 to go on; otherwise the exit code to return now (usage printed;
 * -h prints it on stdout and gives AU_EXIT_OK). Refuses options the
 * command does not take. */
int au_parse(int argc, char **argv, struct au_opts *o);

/* ---- text and JSON pieces shared by the reports (au_fmt.c) ---- */
/* "AUDIT_RECEIVED" -> "RECEIVED": names come from the schema, so new
 * values print without a change here. lower = 1 gives "received". */
const char *au_enum_name(const ProtobufCEnumDescriptor *d, int v, const char *prefix, int lower,
                         char *buf, size_t len);
/* RFC 3339 +08:00, or "-" for 0. */
void au_fmt_time(int64_t ms, char *buf, size_t len, int with_ms);
/* The same as a JSON string, or null for 0. */
json_t *au_time_json(int64_t ms, int with_ms);
/* Prints s with control bytes replaced by '?': text output goes to
 * terminals. UTF-8 passes unchanged. */
void au_put_clean(const char *s);

/* ---- calendars (au_deadline.c) ---- */
#define AU_DEFAULT_CALENDARS "deploy/calendars"
struct cal_set;
/* Loads --calendars (NULL: the default), then --local-calendars whose
 * year files win, as the router loads [router] calendars and
 * local_calendars. On failure prints the loader's "file:line: reason"
 * and returns its exit code; *out is NULL then. */
int au_cal_load(const struct au_opts *o, int json, struct cal_set **out);

/* The whole tool: main's body (au_main.c), so mr_audit holds it. */
int au_main(int argc, char **argv);

/* Commands. */
int au_cmd_verify(int argc, char **argv);
int au_cmd_trail(int argc, char **argv);
int au_cmd_deadline(int argc, char **argv);
int au_cmd_overdue(int argc, char **argv);
int au_cmd_export(int argc, char **argv);
int au_cmd_verify_receipt(int argc, char **argv);
int au_cmd_consistency(int argc, char **argv);
int au_cmd_witness(int argc, char **argv);
int au_cmd_report_annual(int argc, char **argv);
int au_cmd_report_channels(int argc, char **argv);

#endif
