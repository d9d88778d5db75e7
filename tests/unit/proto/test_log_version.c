/* pb_log's journald priorities, and --version/--help on every program. */
#include "pb_log.h"
#include "pb_version.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(log, journal_lines_carry_priorities, .init = cr_redirect_stderr)
{
	setenv("JOURNAL_STREAM", "8:1234", 1);
	pb_log_init("t", PB_LOG_DEBUG);
	pb_debug("d");
	pb_info("i");
	pb_warn("w %d", 1);
	pb_error("e");
	fflush(stderr);
	cr_assert_stderr_eq_str("<7>debug t: d\n<6>info t: i\n<4>warn t: w 1\n<3>error t: e\n");
}

Test(log, invocation_id_alone_means_systemd, .init = cr_redirect_stderr)
{
	unsetenv("JOURNAL_STREAM");
	setenv("INVOCATION_ID", "0123456789abcdef0123456789abcdef", 1);
	pb_log_init("t", PB_LOG_WARN);
	pb_info("hidden");
	pb_warn("w");
	fflush(stderr);
	cr_assert_stderr_eq_str("<4>warn t: w\n");
}

Test(log, terminal_lines_keep_their_time, .init = cr_redirect_stderr)
{
	char buf[256] = "";
	FILE *f;

	unsetenv("JOURNAL_STREAM");
	unsetenv("INVOCATION_ID");
	pb_log_init("t", PB_LOG_INFO);
	pb_warn("w");
	fflush(stderr);
	f = cr_get_redirected_stderr();
	cr_assert(fgets(buf, sizeof(buf), f));
	/* 2026-11-24T10:00:00.123+08:00 warn t: w */
	cr_assert(buf[0] >= '2' && buf[4] == '-' && buf[10] == 'T', "%s", buf);
	cr_assert(strstr(buf, "+08:00 warn t: w\n"), "%s", buf);
}

static const char *progs[] = {"mailroom-router", "mailroom-gateway", "mailroom-handler",
                              "mailroom-audit", "mailroom-admin", "mailroom-hotline"};
static const char *libs[] = {"nng", "libsodium", "LMDB", "libcurl", "libmicrohttpd",
                             "jansson", "protobuf-c"};

static int run(const char *prog, const char *arg, char *out, size_t len)
{
	char cmd[1024];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s/bin/%s %s 2>&1", MR_BIN_DIR, prog, arg);
	p = popen(cmd, "r");
	cr_assert(p, "popen %s", cmd);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return pclose(p);
}

Test(version, every_program_prints_its_version_and_libraries)
{
	char out[4096], first[128];

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		cr_assert_eq(run(progs[i], "--version", out, sizeof(out)), 0, "%s", progs[i]);
		snprintf(first, sizeof(first), "%s %s\n", progs[i], MR_PROJECT_VERSION);
		cr_assert_eq(strncmp(out, first, strlen(first)), 0, "%s: %s", progs[i], out);
		for (size_t j = 0; j < sizeof(libs) / sizeof(libs[0]); j++) {
			char *l = strstr(out, libs[j]);

			cr_assert(l, "%s --version names no %s: %s", progs[i], libs[j], out);
			l += strlen(libs[j]);
			while (*l == ' ')
				l++;
			cr_assert((*l >= '0' && *l <= '9') || strncmp(l, "LMDB ", 5) == 0,
			          "%s: %s has no version", progs[i], libs[j]);
		}
	}
}

Test(version, every_program_answers_help)
{
	char out[8192];

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		cr_assert_eq(run(progs[i], "--help", out, sizeof(out)), 0, "%s: %s", progs[i], out);
		cr_assert(strncmp(out, "usage: ", 7) == 0, "%s --help: %s", progs[i], out);
	}
}
