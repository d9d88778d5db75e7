/* mailroom-admin: options, the command, the summary on stdout. */
#include "ad.h"
#include "pb_err.h"
#include "pb_version.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ad_opts {
	const char *conf;     /* NULL: AD_DEFAULT_CONF, which may be missing */
	const char *router;
	const char *key;
	const char *file;
	int handler;          /* the handler command; its arguments in h */
	int rebuild;          /* search-rebuild */
	const char *files;    /* "backup" or "restore": the store's files, no router */
	const char *out, *from, *store;
	int force;
	struct ad_handler_args h;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: " AD_PROG " [-c CONFIG] [--router URL] [--key FILE] import --file F.jsonl\n"
	           "       " AD_PROG " [-c CONFIG] [--router URL] [--key FILE] handler add NAME "
	           "--key PUB --queues a,b [--supervise]\n"
	           "       " AD_PROG " [-c CONFIG] [--router URL] [--key FILE] handler remove NAME\n"
	           "       " AD_PROG " [-c CONFIG] [--router URL] [--key FILE] handler list\n"
	           "       " AD_PROG " [-c CONFIG] [--router URL] [--key FILE] search-rebuild\n"
	           "       " AD_PROG " [-c CONFIG] backup --out DIR [--store DIR]\n"
	           "       " AD_PROG " [-c CONFIG] restore --from DIR [--store DIR] [--force]\n"
	           "CONFIG defaults to " AD_DEFAULT_CONF ", FILE to " AD_DEFAULT_KEY
	           "; --file - reads standard input.\n"
	           "The line format and exit codes are in workers/admin/README.md.\n");
}

static int fail(int exit, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int exit, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, AD_PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return exit;
}

static int parse(int argc, char **argv, struct ad_opts *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"router", required_argument, NULL, 'r'},
		{"key", required_argument, NULL, 'k'},
		{"file", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{"out", required_argument, NULL, 'o'},
		{"from", required_argument, NULL, 'F'},
		{"store", required_argument, NULL, 's'},
		{"force", no_argument, NULL, 'x'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	opterr = 0;
	/* "+": options end at the command, so handler add can take its own --key. */
	while ((ch = getopt_long(argc, argv, "+:c:h", longopts, NULL)) != -1) {
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
		case 'f':
			o->file = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case ':':
			return fail(AD_EXIT_USAGE, "option %s needs a value", argv[optind - 1]);
		default:
			return fail(AD_EXIT_USAGE, "unknown option %s", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return fail(AD_EXIT_USAGE, "no command given (import or handler)");
	if (strcmp(argv[optind], "handler") == 0) {
		o->handler = 1;
		return ad_handler_parse(argc - optind - 1, argv + optind + 1, &o->h);
	}
	if (strcmp(argv[optind], "search-rebuild") == 0) {
		o->rebuild = 1;
		if (optind + 1 != argc)
			return fail(AD_EXIT_USAGE, "search-rebuild takes no arguments");
		return 0;
	}
	if (strcmp(argv[optind], "backup") == 0 || strcmp(argv[optind], "restore") == 0) {
		o->files = argv[optind++];
		while ((ch = getopt_long(argc, argv, ":c:", longopts, NULL)) != -1) {
			if (ch == 'o')
				o->out = optarg;
			else if (ch == 'F')
				o->from = optarg;
			else if (ch == 's')
				o->store = optarg;
			else if (ch == 'x')
				o->force = 1;
			else if (ch == 'c')
				o->conf = optarg;
			else
				return fail(AD_EXIT_USAGE, "unknown option or missing value after %s",
				            o->files);
		}
		if (optind != argc)
			return fail(AD_EXIT_USAGE, "%s takes no arguments, only options", o->files);
		if (strcmp(o->files, "backup") == 0 ? !o->out || o->from || o->force : !o->from || o->out)
			return fail(AD_EXIT_USAGE, "usage: backup --out DIR [--store DIR]; "
			            "restore --from DIR [--store DIR] [--force]");
		return 0;
	}
	if (strcmp(argv[optind], "import") != 0)
		return fail(AD_EXIT_USAGE, "unknown command '%s'", argv[optind]);
	/* import's own options may follow it, as before. */
	int cmd = optind++;
	while ((ch = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		if (ch == 'f')
			o->file = optarg;
		else if (ch == 'c')
			o->conf = optarg;
		else if (ch == 'r')
			o->router = optarg;
		else if (ch == 'k')
			o->key = optarg;
		else
			return fail(AD_EXIT_USAGE, "unknown option or missing value after import");
	}
	if (optind != argc || cmd + 1 > argc)
		return fail(AD_EXIT_USAGE, "import takes no arguments, only --file F.jsonl");
	if (!o->file)
		return fail(AD_EXIT_USAGE, "import needs --file F.jsonl");
	return 0;
}

/* The config (for the router's address), the key and the connection. */
static int connect_router(const struct ad_opts *o, struct wk_client *c, uint8_t sk[64])
{
	const char *path = o->conf ? o->conf : AD_DEFAULT_CONF;
	const char *key = o->key ? o->key : AD_DEFAULT_KEY;
	char err[PB_PATH_MAX + 128];
	uint8_t pk[32];
	int loose = 0, rc;
	struct pb_conf *conf = calloc(1, sizeof(*conf));

	if (!conf)
		return fail(AD_EXIT_OTHER, "out of memory");
	/* Only the default may be missing: a named file must be there. */
	if (!o->conf && access(path, F_OK) != 0 && errno == ENOENT)
		path = NULL;
	if (pb_conf_load(path, conf, err, sizeof(err))) {
		free(conf);
		return fail(AD_EXIT_INVALID, "%s", err);
	}
	if ((rc = wk_key_load(key, sk, pk, &loose))) {
		free(conf);
		return fail(AD_EXIT_INVALID, "cannot load key %s: %s", key,
		            rc == PB_ENOTFOUND ? "no such file" : pb_err_str(rc));
	}
	if (loose)
		fprintf(stderr, AD_PROG ": warning: %s is readable by others; chmod 600 it\n", key);
	rc = wk_client_open(c, o->router ? o->router : conf->router_url);
	free(conf);
	if (rc)
		return fail(rc == PB_EUNAVAIL ? AD_EXIT_UNREACHABLE : AD_EXIT_INVALID, "%s", c->err);
	return 0;
}

int main(int argc, char **argv)
{
	struct ad_opts o = {0};
	struct ad_import_stats st;
	struct wk_client c = {0};
	uint8_t sk[64];
	FILE *in;
	json_t *results, *sum;
	int rc;

	if ((rc = pb_std_args(argc, argv, "mailroom-admin", NULL)) >= 0)   /* --version */
		return rc;
	if ((rc = parse(argc, argv, &o)))
		return rc < 0 ? AD_EXIT_OK : rc;
	if (sodium_init() < 0)
		return fail(AD_EXIT_OTHER, "libsodium failed to initialise");
	if (o.files) {
		const char *path = o.conf ? o.conf : AD_DEFAULT_CONF;
		char err[PB_PATH_MAX + 128];
		struct pb_conf *conf = calloc(1, sizeof(*conf));
		if (!conf)
			return fail(AD_EXIT_OTHER, "out of memory");
		if (!o.conf && access(path, F_OK) != 0 && errno == ENOENT)
			path = NULL;
		if (pb_conf_load(path, conf, err, sizeof(err))) {
			free(conf);
			return fail(AD_EXIT_INVALID, "%s", err);
		}
		rc = strcmp(o.files, "backup") == 0 ? ad_backup(conf, o.store, o.out)
		                                    : ad_restore(conf, o.from, o.store, o.force);
		free(conf);
		return rc;
	}
	if (o.handler || o.rebuild) {
		if ((rc = connect_router(&o, &c, sk)))
			return rc;
		rc = o.handler ? ad_handler_run(&o.h, &c, sk) : ad_search_rebuild(&c, sk);
		wk_client_close(&c);
		sodium_memzero(sk, sizeof(sk));
		return rc;
	}
	in = strcmp(o.file, "-") == 0 ? stdin : fopen(o.file, "re");
	if (!in)
		return fail(AD_EXIT_INVALID, "cannot open %s: %s", o.file, strerror(errno));
	if ((rc = connect_router(&o, &c, sk))) {
		if (in != stdin)
			fclose(in);
		return rc;
	}
	if (!(results = json_array())) {
		rc = fail(AD_EXIT_OTHER, "out of memory");
		goto out;
	}
	rc = ad_import(in, &c, sk, stderr, &st, results);
	fprintf(stderr, AD_PROG ": %lu lines: %lu imported, %lu duplicates, %lu refused%s\n",
	        st.lines, st.imported, st.duplicates, st.refused,
	        rc == AD_EXIT_UNREACHABLE || rc == AD_EXIT_AUTH ? "; stopped, the rest not sent" : "");
	sum = json_pack("{s:s, s:I, s:I, s:I, s:I, s:b, s:o}", "file", o.file, "lines",
	                (json_int_t)st.lines, "imported", (json_int_t)st.imported, "duplicates",
	                (json_int_t)st.duplicates, "refused", (json_int_t)st.refused, "complete",
	                rc != AD_EXIT_UNREACHABLE && rc != AD_EXIT_AUTH, "results", results);
	/* Not JSON_ENSURE_ASCII: references stay readable. */
	if (!sum || json_dumpf(sum, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0)
		rc = fail(AD_EXIT_OTHER, "cannot write the summary");
	json_decref(sum);
out:
	wk_client_close(&c);
	sodium_memzero(sk, sizeof(sk));
	if (in != stdin)
		fclose(in);
	return rc;
}
