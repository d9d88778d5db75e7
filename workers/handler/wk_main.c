/* mailroom-handler: a department handler's command line. Parses options,
 * picks the command from a table, prints JSON on stdout. */
#include "wk_cli.h"
#include "pb_err.h"
#include "pj.h"
#include "pb_version.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEASE_OPTS (WK_O_LEASE | WK_O_STATE)

static const struct wk_cmd cmds[] = {
	{"keygen", wk_cmd_keygen, WK_O_NAME, 0, "--key FILE keygen [--name NAME]"},
	{"pubkey", wk_cmd_pubkey, 0, 0, "--key FILE pubkey"},
	{"queues", wk_cmd_queues, 0, 0, "--key FILE queues"},
	{"search", wk_cmd_search,
	 WK_O_CHANNEL | WK_O_QUEUE | WK_O_STATE | WK_O_FROM | WK_O_TO | WK_O_OVERDUE | WK_O_LIMIT, -1,
	 "--key FILE search [WORDS...] [--channel C] [--queue Q] [--state S] [--from DATE] "
	 "[--to DATE] [--overdue] [--limit N]"},
	{"notices", wk_cmd_notices, 0, 0, "--key FILE notices"},
	{"pull", wk_cmd_pull, WK_O_QUEUE | WK_O_WAIT | WK_O_STATE, 0,
	 "--key FILE pull --queue Q [--wait SECONDS]"},
	{"reply", wk_cmd_reply, WK_O_TEXT | WK_O_DESPITE | WK_O_REASON | WK_O_ATTACH | LEASE_OPTS, 1,
	 "--key FILE reply ID --text TEXT [--despite-pending --reason TEXT] [--attach FILE]..."},
	{"release", wk_cmd_release, LEASE_OPTS, 1, "--key FILE release ID"},
	{"renew", wk_cmd_renew, LEASE_OPTS, 1, "--key FILE renew ID"},
	{"transfer", wk_cmd_transfer, WK_O_TO | WK_O_REASON | LEASE_OPTS, 1,
	 "--key FILE transfer ID --to QUEUE --reason TEXT"},
	{"return-to-dispatch", wk_cmd_return_to_dispatch, WK_O_REASON | LEASE_OPTS, 1,
	 "--key FILE return-to-dispatch ID --reason TEXT"},
	{"refer", wk_cmd_refer, WK_O_TO | WK_O_REASON | WK_O_OUTCOME | WK_O_LEGAL | LEASE_OPTS, 1,
	 "--key FILE refer ID --to CHANNEL --reason TEXT [--outcome CODE --legal-basis TEXT]"},
	{"repeat-decide", wk_cmd_repeat_decide, 0, 2, "--key FILE repeat-decide ID confirmed|dismissed"},
	{"show", wk_cmd_show, 0, 1, "--key FILE show ID"},
	{"extend", wk_cmd_extend, WK_O_DAYS | WK_O_APPROVER | WK_O_REASON, 1,
	 "--key FILE extend ID --working-days N --approver NAME --reason TEXT"},
	{"pause", wk_cmd_pause, WK_O_REASON, 1, "--key FILE pause ID --reason TEXT"},
	{"resume", wk_cmd_resume, WK_O_REASON, 1, "--key FILE resume ID --reason TEXT"},
	{"restart", wk_cmd_restart, WK_O_REASON | WK_O_RECEIVED, 1,
	 "--key FILE restart ID --reason TEXT [--received-at RFC3339]"},
	{"sign", wk_cmd_sign, LEASE_OPTS, 1, "--key FILE sign ID"},
	{"finish", wk_cmd_finish, WK_O_TEXT | LEASE_OPTS, 1, "--key FILE finish ID --text TEXT"},
	{"return", wk_cmd_return, WK_O_TEXT | WK_O_REASON_CODE | LEASE_OPTS, 1,
	 "--key FILE return ID --reason-code CODE --text TEXT"},
	{"extend-request", wk_cmd_extend_request, WK_O_TEXT | WK_O_UNTIL, 1,
	 "--key FILE extend-request ID --until RFC3339 --text TEXT"},
	/* 并单 and 主办/协办 (wk_case.c): a message by id or tracking code. */
	{"merge", wk_cmd_merge, WK_O_REASON | WK_O_KEEP, -2,
	 "--key FILE merge PRIMARY CODE... --reason TEXT [--keep-deadline]"},
	{"unmerge", wk_cmd_unmerge, WK_O_REASON, 1, "--key FILE unmerge CODE [--reason TEXT]"},
	{"assist", wk_cmd_assist, WK_O_QUEUE | WK_O_DUE_DAYS | WK_O_REASON, 1,
	 "--key FILE assist CODE --queue Q [--due-days N] --reason TEXT"},
	{"opinion", wk_cmd_opinion, WK_O_TEXT | WK_O_QUEUE, 1,
	 "--key FILE opinion CODE --text TEXT [--queue Q]"},
	{"assists", wk_cmd_assists, 0, 0, "--key FILE assists"},
	{"callbacks", wk_cmd_callbacks, 0, 0, "--key FILE callbacks"},
	{"callback", wk_cmd_callback, WK_O_REACHED | WK_O_RESOLVED | WK_O_REOPEN | WK_O_NOTE, 1,
	 "--key FILE callback CODE|ID --reached yes|no --resolved yes|no --reopen yes|no [--note TEXT]"},
	{"publish", wk_cmd_publish, WK_O_SUBJECT | WK_O_BODY_FILE, 1,
	 "--key FILE publish CODE|ID --subject TEXT --body-file FILE"},
	{"unpublish", wk_cmd_unpublish, WK_O_REASON, 1, "--key FILE unpublish CODE|ID --reason TEXT"},
	{"attachment", wk_cmd_attachment, WK_O_OUT, 2, "--key FILE attachment ID N --out FILE"},
	/* The step decides which of these it takes (wk_disclosure.c). */
	{"disclosure", wk_cmd_disclosure, WK_O_DISCLOSURE, 2,
	 "--key FILE disclosure STEP ID [OPTIONS]   (steps: workers/README.md)"},
	{"petition", wk_cmd_petition, WK_O_PETITION, 2,
	 "--key FILE petition STEP ID [OPTIONS]   (steps: workers/README.md)"},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* Every option a command may take, one row each: its name, whether it
 * takes a value, the bit that says it was given, and where the value goes
 * (NO_VALUE for flags: the bit is all they set). getopt's table is built
 * from this one. */
#define NO_VALUE SIZE_MAX
#define OPT(n, b, f) {n, required_argument, b, offsetof(struct wk_opts, f)}
#define FLAG(n, b) {n, no_argument, b, NO_VALUE}
static const struct wk_optdef {
	const char *name;
	int has_arg;
	wk_optset bit;
	size_t off;
} optdefs[] = {
	OPT("queue", WK_O_QUEUE, queue),
	OPT("wait", WK_O_WAIT, wait),
	OPT("text", WK_O_TEXT, text),
	OPT("to", WK_O_TO, to),
	OPT("reason", WK_O_REASON, reason),
	OPT("lease", WK_O_LEASE, lease),
	OPT("state", WK_O_STATE, state),
	OPT("name", WK_O_NAME, name),
	OPT("working-days", WK_O_DAYS, days),
	OPT("approver", WK_O_APPROVER, approver),
	OPT("received-at", WK_O_RECEIVED, received),
	OPT("reason-code", WK_O_REASON_CODE, reason_code),
	OPT("until", WK_O_UNTIL, until),
	OPT("date", WK_O_DATE, date),
	OPT("evidence", WK_O_EVIDENCE, evidence),
	OPT("party", WK_O_PARTY, party),
	OPT("days", WK_O_NDAYS, ndays),
	OPT("outcome", WK_O_OUTCOME, outcome),
	OPT("legal-basis", WK_O_LEGAL, legal_basis),
	OPT("kind", WK_O_KIND, kind),
	OPT("case-no", WK_O_CASE, case_no),
	OPT("filed", WK_O_FILED, filed),
	OPT("result", WK_O_RESULT, result),
	OPT("decided", WK_O_DECIDED, decided),
	FLAG("confirm", WK_O_CONFIRM),
	FLAG("dismiss", WK_O_DISMISS),
	OPT("channel", WK_O_CHANNEL, channel),
	OPT("from", WK_O_FROM, from),
	FLAG("overdue", WK_O_OVERDUE),
	OPT("limit", WK_O_LIMIT, limit),
	FLAG("keep-deadline", WK_O_KEEP),
	FLAG("despite-pending", WK_O_DESPITE),
	OPT("due-days", WK_O_DUE_DAYS, due_days),
	OPT("reached", WK_O_REACHED, reached),
	OPT("resolved", WK_O_RESOLVED, resolved),
	OPT("reopen", WK_O_REOPEN, reopen),
	OPT("note", WK_O_NOTE, note),
	OPT("subject", WK_O_SUBJECT, subject),
	OPT("body-file", WK_O_BODY_FILE, body_file),
	OPT("out", WK_O_OUT, out),
	{"attach", required_argument, WK_O_ATTACH, NO_VALUE},   /* repeated: o->attach[] */
};
#define NOPTDEFS (sizeof(optdefs) / sizeof(optdefs[0]))
#define OPT_BASE 256   /* getopt's value for optdefs[i] is OPT_BASE + i */

const char *wk_opt_name(wk_optset bit)
{
	for (size_t i = 0; i < NOPTDEFS; i++)
		if (optdefs[i].bit == bit)
			return optdefs[i].name;
	return "(an option)";
}

static void usage(FILE *f)
{
	fprintf(f, "usage: " WK_PROG " [-c CONFIG] [--router URL] [--state DIR] [--lease HEX] "
	           "COMMAND\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "       " WK_PROG " %s\n", cmds[i].usage);
	fprintf(f, "CONFIG defaults to " WK_DEFAULT_CONF "; exit codes are listed in "
	           "workers/README.md.\n");
}

int wk_emit(json_t *j)
{
	if (!j)
		return wk_fail(WK_EXIT_OTHER, "no_memory", "out of memory");
	/* Not JSON_ENSURE_ASCII: Chinese text stays readable UTF-8. */
	int rc = json_dumpf(j, stdout, JSON_INDENT(2));
	json_decref(j);
	fputc('\n', stdout);
	if (rc != 0 || fflush(stdout) != 0) {
		fprintf(stderr, WK_PROG ": cannot write output\n");
		return WK_EXIT_OTHER;
	}
	return WK_EXIT_OK;
}

static int vfail(int exit, const char *code, const char *fmt, va_list ap)
{
	char msg[512];
	json_t *j;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, WK_PROG ": %s\n", msg);
	j = pj_error_json(code, msg);
	if (j) {
		json_dumpf(j, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(j);
	}
	fflush(stdout);
	return exit;
}

int wk_fail(int exit, const char *code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(exit, code, fmt, ap);
	va_end(ap);
	return rc;
}

int wk_fail_err(int err, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(wk_exit_code(err), pb_err_name(err), fmt, ap);
	va_end(ap);
	return rc;
}

static int usage_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_fail(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wk_fail(WK_EXIT_USAGE, "usage", "%s", msg);
	fprintf(stderr, "try '" WK_PROG " --help'\n");
	return WK_EXIT_USAGE;
}

int wk_connect(struct wk_ctx *x)
{
	const char *path = x->o.conf ? x->o.conf : WK_DEFAULT_CONF;
	char err[PB_PATH_MAX + 128];
	int loose = 0, rc;

	/* A command that sends several requests connects once. */
	if (x->conf)
		return WK_EXIT_OK;
	x->conf = calloc(1, sizeof(*x->conf));
	if (!x->conf)
		return wk_fail_err(PB_ENOMEM, "out of memory");
	/* Only the default may be missing: a named file must be there. */
	if (!x->o.conf && access(path, F_OK) != 0 && errno == ENOENT)
		path = NULL;
	if ((rc = pb_conf_load(path, x->conf, err, sizeof(err))))
		return wk_fail(WK_EXIT_INVALID, "bad_config", "%s", err);
	if ((rc = wk_key_load(x->o.key, x->sk, x->pk, &loose)))
		return wk_fail_err(rc == PB_ENOTFOUND ? PB_EINVAL : rc, "cannot load key %s: %s",
		                   x->o.key, rc == PB_ENOTFOUND ? "no such file" : pb_err_str(rc));
	if (loose)
		fprintf(stderr, WK_PROG ": warning: %s is readable by others; chmod 600 it\n",
		        x->o.key);
	const char *url = x->o.router ? x->o.router : x->conf->router_url;
	if ((rc = wk_client_open(&x->client, url)))
		return wk_fail_err(rc, "%s", x->client.err);
	return WK_EXIT_OK;
}

static int parse_wait(const char *s, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < 0 || n > WK_WAIT_MAX_S)
		return -1;
	*out = n;
	return 0;
}

static const struct wk_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

/* getopt_long's table from optdefs, plus the options every command takes. */
static void build_longopts(struct option *lo)
{
	static const struct option common[] = {
		{"config", required_argument, NULL, 'c'},
		{"router", required_argument, NULL, 'r'},
		{"key", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		lo[n++] = common[i];
	for (size_t i = 0; i < NOPTDEFS; i++)
		lo[n++] = (struct option){optdefs[i].name, optdefs[i].has_arg, NULL,
		                          OPT_BASE + (int)i};
	lo[n] = (struct option){NULL, 0, NULL, 0};
}

/* The row for a short option: -q, -w, -t. */
static int short_row(int ch)
{
	const char *name = ch == 'q' ? "queue" : ch == 'w' ? "wait" : ch == 't' ? "text" : NULL;

	for (size_t i = 0; name && i < NOPTDEFS; i++)
		if (strcmp(optdefs[i].name, name) == 0)
			return OPT_BASE + (int)i;
	return ch;
}

/* Options and positional arguments may come in any order. */
static int parse(int argc, char **argv, struct wk_opts *o, const struct wk_cmd **cmd)
{
	struct option longopts[4 + NOPTDEFS + 1];
	int ch;

	build_longopts(longopts);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:r:k:q:w:t:h", longopts, NULL)) != -1) {
		ch = short_row(ch);
		if (ch >= OPT_BASE && ch < OPT_BASE + (int)NOPTDEFS) {
			const struct wk_optdef *d = &optdefs[ch - OPT_BASE];
			if (d->off != NO_VALUE) {
				*(const char **)((char *)o + d->off) = optarg;
			} else if (d->bit == WK_O_ATTACH) {
				if (o->nattach == WK_ATTACH_MAX)
					return usage_fail("at most %d --attach", WK_ATTACH_MAX);
				o->attach[o->nattach++] = optarg;
			}
			o->seen |= d->bit;
			continue;
		}
		switch (ch) {
		case 'c':
			o->conf = optarg;
			break;
		case 'r':
			o->router = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case ':':
			return usage_fail("option %s needs a value", argv[optind - 1]);
		default:
			return usage_fail("unknown option %s", argv[optind - 1]);
		}
	}
	if ((o->seen & WK_O_WAIT) && parse_wait(o->wait, &o->wait_s))
		return usage_fail("--wait takes whole seconds, 0-%d, not '%s'", WK_WAIT_MAX_S,
		                  o->wait);
	if (optind >= argc)
		return usage_fail("no command given");
	if (!(*cmd = find_cmd(argv[optind])))
		return usage_fail("unknown command '%s'", argv[optind]);
	o->args = argv + optind + 1;
	o->nargs = argc - optind - 1;
	for (size_t i = 0; i < NOPTDEFS; i++)
		if ((o->seen & optdefs[i].bit) && !((*cmd)->allowed & optdefs[i].bit))
			return usage_fail("option --%s does not apply here", optdefs[i].name);
	/* nargs -1: any number (search's words); below -1: at least that many */
	if ((*cmd)->nargs < -1) {
		if (o->nargs < -(*cmd)->nargs)
			return usage_fail("%s needs a primary and at least one more message",
			                  (*cmd)->name);
	} else if ((*cmd)->nargs == 2 && o->nargs != 2)
		return usage_fail("%s needs a step and a message id", (*cmd)->name);
	else if ((*cmd)->nargs >= 0 && o->nargs != (*cmd)->nargs)
		return usage_fail((*cmd)->nargs ? "%s needs a message id" : "%s takes no arguments",
		                  (*cmd)->name);
	if (!o->key)
		return usage_fail("--key FILE is required");
	return 0;
}

int main(int argc, char **argv)
{
	static struct wk_ctx x;
	const struct wk_cmd *cmd = NULL;
	int rc;

	if ((rc = pb_std_args(argc, argv, "mailroom-handler", NULL)) >= 0)   /* --version */
		return rc;
	if ((rc = parse(argc, argv, &x.o, &cmd)))
		return rc < 0 ? WK_EXIT_OK : rc;
	rc = cmd->run(&x);
	wk_client_close(&x.client);
	sodium_memzero(x.sk, sizeof(x.sk));
	free(x.conf);
	return rc;
}
