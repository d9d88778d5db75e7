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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEASE_OPTS (WK_O_LEASE | WK_O_STATE)

static const struct wk_cmd cmds[] = {
	{"keygen", wk_cmd_keygen, WK_O_NAME, 0, "--key FILE keygen [--name NAME]"},
	{"pubkey", wk_cmd_pubkey, 0, 0, "--key FILE pubkey"},
	{"queues", wk_cmd_queues, 0, 0, "--key FILE queues"},
	{"pull", wk_cmd_pull, WK_O_QUEUE | WK_O_WAIT | WK_O_STATE, 0,
	 "--key FILE pull --queue Q [--wait SECONDS]"},
	{"reply", wk_cmd_reply, WK_O_TEXT | WK_O_ATTACH | LEASE_OPTS, 1,
	 "--key FILE reply ID --text TEXT [--attach FILE]..."},
	{"release", wk_cmd_release, LEASE_OPTS, 1, "--key FILE release ID"},
	{"renew", wk_cmd_renew, LEASE_OPTS, 1, "--key FILE renew ID"},
	{"transfer", wk_cmd_transfer, WK_O_TO | WK_O_REASON | LEASE_OPTS, 1,
	 "--key FILE transfer ID --to QUEUE --reason TEXT"},
	{"return-to-dispatch", wk_cmd_return_to_dispatch, WK_O_REASON | LEASE_OPTS, 1,
	 "--key FILE return-to-dispatch ID --reason TEXT"},
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
	{"attachment", wk_cmd_attachment, WK_O_OUT, 2, "--key FILE attachment ID N --out FILE"},
	/* The step decides which of these it takes (wk_disclosure.c). */
	{"disclosure", wk_cmd_disclosure, WK_O_DISCLOSURE, 2,
	 "--key FILE disclosure STEP ID [OPTIONS]   (steps: workers/README.md)"},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static const struct option longopts[] = {
	{"config", required_argument, NULL, 'c'},
	{"router", required_argument, NULL, 'r'},
	{"key", required_argument, NULL, 'k'},
	{"state", required_argument, NULL, 'S'},
	{"lease", required_argument, NULL, 'L'},
	{"queue", required_argument, NULL, 'q'},
	{"wait", required_argument, NULL, 'w'},
	{"text", required_argument, NULL, 't'},
	{"to", required_argument, NULL, 'T'},
	{"reason", required_argument, NULL, 'R'},
	{"name", required_argument, NULL, 'N'},
	{"working-days", required_argument, NULL, 'D'},
	{"approver", required_argument, NULL, 'A'},
	{"received-at", required_argument, NULL, 'V'},
	{"reason-code", required_argument, NULL, 'C'},
	{"until", required_argument, NULL, 'U'},
	{"date", required_argument, NULL, 256},
	{"evidence", required_argument, NULL, 257},
	{"party", required_argument, NULL, 258},
	{"days", required_argument, NULL, 259},
	{"outcome", required_argument, NULL, 260},
	{"legal-basis", required_argument, NULL, 261},
	{"kind", required_argument, NULL, 262},
	{"case-no", required_argument, NULL, 263},
	{"filed", required_argument, NULL, 264},
	{"result", required_argument, NULL, 265},
	{"decided", required_argument, NULL, 266},
	{"confirm", no_argument, NULL, 267},
	{"dismiss", no_argument, NULL, 268},
	{"out", required_argument, NULL, 269},
	{"attach", required_argument, NULL, 270},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

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

/* Options and positional arguments may come in any order. */
static int parse(int argc, char **argv, struct wk_opts *o, const struct wk_cmd **cmd)
{
	/* In WK_O_* bit order. */
	static const char *names[] = {"--queue", "--wait", "--text", "--to", "--reason",
	                              "--lease", "--state", "--name", "--working-days",
	                              "--approver", "--received-at", "--reason-code", "--until",
	                              "--date", "--evidence", "--party", "--days", "--outcome",
	                              "--legal-basis", "--kind", "--case-no", "--filed", "--result",
	                              "--decided", "--confirm", "--dismiss"};
	/* The disclosure options, from 256 on, in the same order. */
	const char **disc[] = {&o->date, &o->evidence, &o->party, &o->ndays, &o->outcome,
	                       &o->legal_basis, &o->kind, &o->case_no, &o->filed, &o->result,
	                       &o->decided, NULL, NULL};
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:r:k:q:w:t:h", longopts, NULL)) != -1) {
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
		case 'S':
			o->state = optarg;
			o->seen |= WK_O_STATE;
			break;
		case 'L':
			o->lease = optarg;
			o->seen |= WK_O_LEASE;
			break;
		case 'q':
			o->queue = optarg;
			o->seen |= WK_O_QUEUE;
			break;
		case 't':
			o->text = optarg;
			o->seen |= WK_O_TEXT;
			break;
		case 'T':
			o->to = optarg;
			o->seen |= WK_O_TO;
			break;
		case 'R':
			o->reason = optarg;
			o->seen |= WK_O_REASON;
			break;
		case 'N':
			o->name = optarg;
			o->seen |= WK_O_NAME;
			break;
		case 'D':
			o->days = optarg;
			o->seen |= WK_O_DAYS;
			break;
		case 'A':
			o->approver = optarg;
			o->seen |= WK_O_APPROVER;
			break;
		case 'V':
			o->received = optarg;
			o->seen |= WK_O_RECEIVED;
			break;
		case 'C':
			o->reason_code = optarg;
			o->seen |= WK_O_REASON_CODE;
			break;
		case 'U':
			o->until = optarg;
			o->seen |= WK_O_UNTIL;
			break;
		case 269:
			o->out = optarg;
			o->seen |= WK_O_OUT;
			break;
		case 270:
			if (o->nattach == WK_ATTACH_MAX)
				return usage_fail("at most %d --attach", WK_ATTACH_MAX);
			o->attach[o->nattach++] = optarg;
			o->seen |= WK_O_ATTACH;
			break;
		case 'w':
			if (parse_wait(optarg, &o->wait_s))
				return usage_fail("--wait takes whole seconds, 0-%d, not '%s'",
				                  WK_WAIT_MAX_S, optarg);
			o->seen |= WK_O_WAIT;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case ':':
			return usage_fail("option %s needs a value", argv[optind - 1]);
		default:
			if (ch >= 256 && ch < 256 + (int)(sizeof(disc) / sizeof(disc[0]))) {
				/* --confirm and --dismiss are flags: seen is all they set. */
				if (disc[ch - 256])
					*disc[ch - 256] = optarg;
				o->seen |= (unsigned)WK_O_DATE << (ch - 256);
				break;
			}
			return usage_fail("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_fail("no command given");
	if (!(*cmd = find_cmd(argv[optind])))
		return usage_fail("unknown command '%s'", argv[optind]);
	o->args = argv + optind + 1;
	o->nargs = argc - optind - 1;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((o->seen & (1u << i)) && !((*cmd)->allowed & (1u << i)))
			return usage_fail("option %s does not apply here", names[i]);
	if (o->nargs != (*cmd)->nargs && (*cmd)->nargs == 2)
		return usage_fail("%s needs a step and a message id", (*cmd)->name);
	if (o->nargs != (*cmd)->nargs)
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
