/* The clamd client against a real clamd (our own one-line database). */
#include "clamd_fx.h"
#include "pb_err.h"
#include "rt_clamd.h"
#include "samples.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct clamd_fx fx;
static char base[64];

static void setup(void)
{
	char dir[128];
	snprintf(base, sizeof(base), "/tmp/mr-clamd-XXXXXX");
	cr_assert_not_null(mkdtemp(base));
	snprintf(dir, sizeof(dir), "%s/clamd", base);
	cr_assert_eq(clamd_fx_start(&fx, dir), 0, "clamd must start (clamav-daemon installed?)");
}

static void teardown(void)
{
	char cmd[128];
	clamd_fx_stop(&fx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(clamd, .init = setup, .fini = teardown, .timeout = 60);

Test(clamd, clean_and_infected)
{
	uint8_t buf[4096];
	char sig[128] = "";
	size_t n = sample_png(buf, NULL);

	cr_assert_eq(rt_clamd_scan(fx.addr, 5000, buf, n, sig, sizeof(sig)), RT_SCAN_CLEAN);
	n = sample_png(buf, CLAMD_FX_MARKER);
	cr_assert_eq(rt_clamd_scan(fx.addr, 5000, buf, n, sig, sizeof(sig)), RT_SCAN_INFECTED);
	cr_assert_str_eq(sig, CLAMD_FX_SIGNATURE);
}

Test(clamd, large_file_in_chunks)
{
	size_t n = 3u << 20;
	uint8_t *big = calloc(1, n);
	char sig[128] = "";

	cr_assert_not_null(big);
	memcpy(big + n - 100, CLAMD_FX_MARKER, strlen(CLAMD_FX_MARKER));
	cr_assert_eq(rt_clamd_scan(fx.addr, 10000, big, n, sig, sizeof(sig)), RT_SCAN_INFECTED);
	free(big);
}

Test(clamd, down_is_no_verdict)
{
	uint8_t buf[4096];
	char sig[128] = "";
	size_t n = sample_pdf(buf, NULL);

	clamd_fx_stop(&fx);
	cr_assert_eq(rt_clamd_scan(fx.addr, 2000, buf, n, sig, sizeof(sig)), PB_EUNAVAIL);
	cr_assert_eq(rt_clamd_scan("tcp:127.0.0.1:1", 2000, buf, n, sig, sizeof(sig)), PB_EUNAVAIL);
	cr_assert_eq(clamd_fx_restart(&fx), 0);
	cr_assert_eq(rt_clamd_scan(fx.addr, 5000, buf, n, sig, sizeof(sig)), RT_SCAN_CLEAN);
}
