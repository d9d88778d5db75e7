/* mailroom-audit: dispatch on the first word through a table, so a new
 * report is one function and one row. */
#include "au.h"
#include "pb_log.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct au_cmd cmds[] = {
	{"verify", au_cmd_verify, "verify --store DIR [--pubkey FILE] [--json]",
	 "check every record's shape, position, chain and signature"},
	{"trail", au_cmd_trail, "trail TRACKING_CODE|ID --store DIR [--pubkey FILE] [--json]",
	 "verify the log, then list the records of one message"},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: " AU_PROG " COMMAND [options]\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-9s %s\n            " AU_PROG " %s\n", cmds[i].name, cmds[i].summary,
		        cmds[i].usage);
	fprintf(f, "Exit codes are listed in workers/README.md.\n");
}

int au_usage(const char *cmd, const char *why)
{
	if (why)
		fprintf(stderr, AU_PROG ": %s\n", why);
	for (size_t i = 0; cmd && i < NCMDS; i++)
		if (strcmp(cmds[i].name, cmd) == 0) {
			fprintf(stderr, "usage: " AU_PROG " %s\n", cmds[i].usage);
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
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char why[256];
	int ch;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	optind = 0;   /* GNU getopt: a full restart */
	while ((ch = getopt_long(argc, argv, ":s:p:jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->store = optarg; break;
		case 'p': o->pubkey = optarg; break;
		case 'j': o->json = 1; break;
		case 'h':
			for (size_t i = 0; i < NCMDS; i++)
				if (strcmp(cmds[i].name, argv[0]) == 0)
					printf("usage: " AU_PROG " %s\n", cmds[i].usage);
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
	if (!o->store)
		return au_usage(argv[0], "--store DIR is required");
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

int main(int argc, char **argv)
{
	/* The store reports its own trouble through pb_log on stderr. */
	pb_log_init(AU_PROG, PB_LOG_WARN);
	if (argc < 2)
		return au_usage(NULL, "no command given");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return AU_EXIT_OK;
	}
	for (size_t i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, argv[1]) == 0)
			return cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, AU_PROG ": unknown command '%s'\n", argv[1]);
	return au_usage(NULL, NULL);
}
