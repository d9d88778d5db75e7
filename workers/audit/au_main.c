/* mailroom-audit: dispatch on the first word through a table, so a new
 * report is one function and one row. main is au_prog.c, so the fuzz
 * harness can link everything else (library mr_audit). */
#include "au.h"
#include "pb_log.h"
#include "pb_version.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define LOG_OPTS (AU_O_STORE | AU_O_PUBKEY | AU_O_JSON)
#define REPORT_OPTS (AU_O_STORE | AU_O_PUBKEY | AU_O_CALENDARS | AU_O_FORMAT | AU_O_NOW)
#define WITNESS_OPTS                                                                    \
	(AU_O_STATE | AU_O_URL | AU_O_PUBKEY | AU_O_WKEY | AU_O_WNAME | AU_O_KEYGEN | AU_O_JSON | \
	 AU_O_SERVE)

static const struct au_cmd cmds[] = {
	{"verify", au_cmd_verify, LOG_OPTS | AU_O_CALENDARS | AU_O_NODEADLINES, 0,
	 "verify BUNDLE|--store DIR [--pubkey FILE] "
	 "[--calendars DIR [--local-calendars DIR] | --no-deadlines] [--json]",
	 "check records, chain, checkpoints and their signatures, Merkle roots, event order, deadlines; "
	 "with --store, the stored messages against the log"},
	{"export", au_cmd_export, AU_O_STORE | AU_O_OUT | AU_O_CALENDARS | AU_O_JSON,
	 AU_O_STORE | AU_O_OUT,
	 "export --store DIR --out FILE [--calendars DIR [--local-calendars DIR]] [--json]",
	 "write keys, records, checkpoints and calendars of one snapshot to a bundle file"},
	{"verify-receipt", au_cmd_verify_receipt,
	 AU_O_RECEIPT | AU_O_PROOF | AU_O_CHECKPOINT | AU_O_PUBKEY | AU_O_ENTRY | AU_O_ROTATION |
	     AU_O_WKEY | AU_O_MINWIT | AU_O_JSON,
	 AU_O_RECEIPT | AU_O_PUBKEY,
	 "verify-receipt --receipt FILE --pubkey FILE [--proof FILE [--checkpoint FILE] "
	 "[--entry FILE]] [--rotation FILE]... [--witness-key VKEY|FILE]... "
	 "[--min-witnesses N] [--json]",
	 "check a citizen's receipt: its C2SP tlog-proof (or an inclusion proof and a "
	 "checkpoint) against the log's key, and its witness cosignatures against a policy"},
	{"consistency", au_cmd_consistency, AU_O_PROOF | AU_O_PUBKEY | AU_O_ROTATION | AU_O_JSON,
	 AU_O_PROOF | AU_O_PUBKEY,
	 "consistency OLD NEW --proof FILE --pubkey FILE [--rotation FILE]... [--json]",
	 "check that checkpoint OLD is a prefix of checkpoint NEW"},
	{"witness", au_cmd_witness, WITNESS_OPTS, AU_O_STATE,
	 "witness --state DIR (--url BASE --pubkey FILE [--serve ADDR:PORT] | --keygen) "
	 "[--witness-key FILE] [--witness-name NAME] [--json]",
	 "fetch, check and cosign the log's checkpoint, or take it by C2SP tlog-witness "
	 "add-checkpoint (--serve); refuse rollbacks and forks"},
	{"trail", au_cmd_trail, LOG_OPTS | AU_O_DATAKEY | AU_O_NOW, AU_O_STORE,
	 "trail TRACKING_CODE|ID --store DIR [--pubkey FILE] [--data-key FILE] [--now RFC3339] [--json]",
	 "verify the log, list the records of one message (with the key: their texts), "
	 "check the stored message against them"},
	{"deadline", au_cmd_deadline, AU_O_FROM | AU_O_DAYS | AU_O_CALENDARS | AU_O_JSON, 0,
	 "deadline --from YYYY-MM-DD --working-days N [--calendars DIR [--local-calendars DIR]] [--json]",
	 "the due date N working days after a receipt date"},
	{"overdue", au_cmd_overdue, LOG_OPTS | AU_O_CALENDARS | AU_O_NOW, AU_O_STORE,
	 "overdue --store DIR [--pubkey FILE] [--calendars DIR [--local-calendars DIR]] "
	 "[--now RFC3339] [--json]",
	 "verify the log, then list every missed deadline from its records"},
	{"report annual", au_cmd_report_annual, REPORT_OPTS | AU_O_YEAR, AU_O_YEAR,
	 "report annual --year YYYY (BUNDLE|--store DIR) [--format md|html|csv|json] "
	 "[--pubkey FILE] [--calendars DIR [--local-calendars DIR]] [--now RFC3339]",
	 "verify the log, then the annual report's tables 三 and 四, channels and checks"},
	{"report channels", au_cmd_report_channels, REPORT_OPTS | AU_O_FROM | AU_O_TO,
	 AU_O_FROM | AU_O_TO,
	 "report channels --from YYYY-MM-DD --to YYYY-MM-DD (BUNDLE|--store DIR) "
	 "[--format md|html|csv|json] [--pubkey FILE] [--calendars DIR [--local-calendars DIR]] "
	 "[--now RFC3339]",
	 "verify the log, then the channel counts of a date range"},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static const struct au_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: " AU_PROG " COMMAND [options]\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-14s %s\n                 " AU_PROG " %s\n", cmds[i].name,
		        cmds[i].summary, cmds[i].usage);
	fprintf(f, "--calendars defaults to " AU_DEFAULT_CALENDARS "; wherever it is taken,\n"
	           "--local-calendars DIR adds the office's own year files, which win as in "
	           "the router.\n");
	fprintf(f, "Exit codes are listed in workers/README.md.\n");
}

int au_usage(const char *cmd, const char *why)
{
	const struct au_cmd *c = cmd ? find_cmd(cmd) : NULL;

	if (why)
		fprintf(stderr, AU_PROG ": %s\n", why);
	if (c) {
		fprintf(stderr, "usage: " AU_PROG " %s\n", c->usage);
		return AU_EXIT_USAGE;
	}
	usage(stderr);
	return AU_EXIT_USAGE;
}

int au_parse(int argc, char **argv, struct au_opts *o)
{
	static const struct option longopts[] = {
		{"store", required_argument, NULL, 's'},
		{"pubkey", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},
		{"from", required_argument, NULL, 'f'},
		{"working-days", required_argument, NULL, 'd'},
		{"calendars", required_argument, NULL, 'C'},
		{"now", required_argument, NULL, 'n'},
		{"out", required_argument, NULL, 'o'},
		{"receipt", required_argument, NULL, 'r'},
		{"proof", required_argument, NULL, 'P'},
		{"checkpoint", required_argument, NULL, 'c'},
		{"entry", required_argument, NULL, 'e'},
		{"state", required_argument, NULL, 'S'},
		{"url", required_argument, NULL, 'u'},
		{"witness-key", required_argument, NULL, 'k'},
		{"witness-name", required_argument, NULL, 'N'},
		{"keygen", no_argument, NULL, 'K'},
		{"year", required_argument, NULL, 'y'},
		{"to", required_argument, NULL, 'T'},
		{"format", required_argument, NULL, 'F'},
		{"rotation", required_argument, NULL, 'R'},
		{"data-key", required_argument, NULL, 'D'},
		{"no-deadlines", no_argument, NULL, 'X'},
		{"serve", required_argument, NULL, 'L'},
		{"min-witnesses", required_argument, NULL, 'M'},
		{"local-calendars", required_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	/* In AU_O_* bit order. */
	static const char *names[] = {"--store", "--pubkey", "--json", "--from", "--working-days",
	                              "--calendars", "--now", "--out", "--receipt", "--proof",
	                              "--checkpoint", "--entry", "--state", "--url",
	                              "--witness-key", "--witness-name", "--keygen", "--year",
	                              "--to", "--format", "--rotation", "--data-key",
	                              "--no-deadlines", "--serve", "--min-witnesses",
	                              "--local-calendars"};
	const struct au_cmd *cmd = find_cmd(argv[0]);
	struct stat sb;
	char why[256];
	int ch;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	optind = 0;   /* GNU getopt: a full restart */
	while ((ch = getopt_long(argc, argv, ":s:p:jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->store = optarg; o->seen |= AU_O_STORE; break;
		case 'p': o->pubkey = optarg; o->seen |= AU_O_PUBKEY; break;
		case 'j': o->json = 1; o->seen |= AU_O_JSON; break;
		case 'f': o->from = optarg; o->seen |= AU_O_FROM; break;
		case 'd': o->days = optarg; o->seen |= AU_O_DAYS; break;
		case 'C': o->calendars = optarg; o->seen |= AU_O_CALENDARS; break;
		case 'n': o->now = optarg; o->seen |= AU_O_NOW; break;
		case 'o': o->out = optarg; o->seen |= AU_O_OUT; break;
		case 'r': o->receipt = optarg; o->seen |= AU_O_RECEIPT; break;
		case 'P': o->proof = optarg; o->seen |= AU_O_PROOF; break;
		case 'c': o->checkpoint = optarg; o->seen |= AU_O_CHECKPOINT; break;
		case 'e': o->entry = optarg; o->seen |= AU_O_ENTRY; break;
		case 'S': o->state = optarg; o->seen |= AU_O_STATE; break;
		case 'u': o->url = optarg; o->seen |= AU_O_URL; break;
		case 'k':
			if (o->nwkeys == AU_MAX_WKEYS)
				return au_usage(argv[0], "too many --witness-key options");
			if (!o->wkey)
				o->wkey = optarg;
			o->wkeys[o->nwkeys++] = optarg;
			o->seen |= AU_O_WKEY;
			break;
		case 'L': o->serve = optarg; o->seen |= AU_O_SERVE; break;
		case 'M': o->min_witnesses = optarg; o->seen |= AU_O_MINWIT; break;
		case 'N': o->wname = optarg; o->seen |= AU_O_WNAME; break;
		case 'K': o->keygen = 1; o->seen |= AU_O_KEYGEN; break;
		case 'y': o->year = optarg; o->seen |= AU_O_YEAR; break;
		case 'T': o->to = optarg; o->seen |= AU_O_TO; break;
		case 'F': o->format = optarg; o->seen |= AU_O_FORMAT; break;
		case 'D': o->data_key = optarg; o->seen |= AU_O_DATAKEY; break;
		case 'X': o->no_deadlines = 1; o->seen |= AU_O_NODEADLINES; break;
		case 'A': o->local_calendars = optarg; o->seen |= AU_O_LOCALCALS; break;
		case 'R':
			if (o->nrotation == AU_MAX_ROTATIONS)
				return au_usage(argv[0], "too many --rotation files");
			o->rotation[o->nrotation++] = optarg;
			o->seen |= AU_O_ROTATION;
			break;
		case 'h':
			if (cmd)
				printf("usage: " AU_PROG " %s\n", cmd->usage);
			return AU_EXIT_OK;
		case ':':
			snprintf(why, sizeof(why), "option %s needs a value", argv[optind - 1]);
			return au_usage(argv[0], why);
		default:
			snprintf(why, sizeof(why), "unknown option %s", argv[optind - 1]);
			return au_usage(argv[0], why);
		}
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	for (unsigned i = 0; cmd && i < sizeof(names) / sizeof(names[0]); i++)
		if ((o->seen & (1u << i)) &&
		    !((cmd->opts | (cmd->opts & AU_O_CALENDARS ? AU_O_LOCALCALS : 0u)) & (1u << i))) {
			snprintf(why, sizeof(why), "option %s does not apply to %s", names[i], cmd->name);
			return au_usage(argv[0], why);
		}
	for (unsigned i = 0; cmd && i < sizeof(names) / sizeof(names[0]); i++)
		if ((cmd->need & (1u << i)) && !(o->seen & (1u << i))) {
			snprintf(why, sizeof(why), "%s is required", names[i]);
			return au_usage(argv[0], why);
		}
	/* The router takes a missing office directory as empty; an auditor who
	 * names one means it, and a typo would judge on other calendars. */
	if (o->local_calendars && stat(o->local_calendars, &sb) != 0)
		return au_fail(o->json, AU_EXIT_INVALID, "bad_calendar", "--local-calendars %s: %s",
		               o->local_calendars, strerror(errno));
	if (o->local_calendars && !S_ISDIR(sb.st_mode))
		return au_fail(o->json, AU_EXIT_INVALID, "bad_calendar",
		               "--local-calendars %s: not a directory", o->local_calendars);
	return -1;
}

int au_emit(json_t *j)
{
	int rc;

	if (!j) {
		fprintf(stderr, AU_PROG ": out of memory\n");
		return AU_EXIT_OTHER;
	}
	/* Not JSON_ENSURE_ASCII: Chinese text stays readable UTF-8. */
	rc = json_dumpf(j, stdout, JSON_INDENT(2));
	json_decref(j);
	fputc('\n', stdout);
	if (rc != 0 || fflush(stdout) != 0) {
		fprintf(stderr, AU_PROG ": cannot write output\n");
		return AU_EXIT_OTHER;
	}
	return AU_EXIT_OK;
}

int au_fail(int json, int exit, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, AU_PROG ": %s\n", msg);
	if (json)
		au_emit(json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
	return exit;
}

int au_main(int argc, char **argv)
{
	int vrc = pb_std_args(argc, argv, AU_PROG, NULL);

	if (vrc >= 0)   /* --version; --help is the usage below */
		return vrc;
	/* The store reports its own trouble through pb_log on stderr. */
	pb_log_init(AU_PROG, PB_LOG_WARN);
	if (argc < 2)
		return au_usage(NULL, "no command given");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return AU_EXIT_OK;
	}
	/* Two-word commands ("report annual") run with their full name as
	 * argv[0]. */
	if (strcmp(argv[1], "report") == 0) {
		char name[64];
		const struct au_cmd *rc;
		if (argc < 3)
			return au_usage(NULL, "report needs a kind: annual or channels");
		snprintf(name, sizeof(name), "report %.40s", argv[2]);
		if (!(rc = find_cmd(name))) {
			fprintf(stderr, AU_PROG ": unknown report '%s'\n", argv[2]);
			return au_usage(NULL, NULL);
		}
		argv[2] = (char *)rc->name;
		return rc->run(argc - 2, argv + 2);
	}
	const struct au_cmd *cmd = find_cmd(argv[1]);
	if (cmd)
		return cmd->run(argc - 1, argv + 1);
	fprintf(stderr, AU_PROG ": unknown command '%s'\n", argv[1]);
	return au_usage(NULL, NULL);
}
