/* --version and --help, alike in every program. Kept out of mr_proto
 * (its own library, mr_version) because it names every library linked. */
#include "pb_version.h"

#include <curl/curl.h>
#include <jansson.h>
#include <lmdb.h>
#include <microhttpd.h>
#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>
#include <sodium.h>
#include <string.h>

static const char *curl_ver(void)
{
	const curl_version_info_data *d = curl_version_info(CURLVERSION_NOW);

	return d && d->version ? d->version : "unknown";
}

static const char *lmdb_ver(void)
{
	return mdb_version(NULL, NULL, NULL);
}

/* One row per library: what it reports at run time, not at build time. */
static const struct {
	const char *name;
	const char *(*version)(void);
} libs[] = {
	{"nng", nng_version},
	{"libsodium", sodium_version_string},
	{"LMDB", lmdb_ver},
	{"libcurl", curl_ver},
	{"libmicrohttpd", MHD_get_version},
	{"jansson", jansson_version_str},
	{"protobuf-c", protobuf_c_version},
};

void pb_version_print(FILE *f, const char *prog)
{
	fprintf(f, "%s %s\n", prog, PB_VERSION);
	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++)
		fprintf(f, "  %-14s %s\n", libs[i].name, libs[i].version());
}

int pb_std_args(int argc, char **argv, const char *prog, const char *help)
{
	if (argc < 2)
		return -1;
	if (strcmp(argv[1], "--version") == 0) {
		pb_version_print(stdout, prog);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (help && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(help, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	return -1;
}
