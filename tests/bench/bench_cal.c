/* bench-cal [calendars-dir]: calls per second of cal_add_working_days(., 20)
 * on one core, over receipt dates spread across 2023..2028 (so some spans
 * run past the loaded years). Prints the median of several rounds. */
#include "cal.h"
#include "pb_err.h"
#include "pb_time.h"

#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 7
#define ROUND_US 500000
#define NDAYS 4096 /* power of two: index with a mask */
#define BATCH 65536

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : MR_SOURCE_DIR "/deploy/calendars";
	static int32_t days[NDAYS];
	double rate[ROUNDS];
	char err[512] = "";
	cal_set *c = NULL;
	uint64_t x = 88172645463325252ULL;
	volatile int64_t sink = 0;
	int rc;

	if ((rc = cal_load_dir(dir, &c, err, sizeof(err))) != PB_OK) {
		fprintf(stderr, "bench-cal: %s (%s)\n", err, pb_err_name(rc));
		return 1;
	}
	int32_t lo = pb_days_from_civil(2023, 1, 1), hi = pb_days_from_civil(2029, 1, 1);
	for (int i = 0; i < NDAYS; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		days[i] = lo + (int32_t)(x % (uint64_t)(hi - lo));
	}

	for (int r = 0; r < ROUNDS; r++) {
		int64_t calls = 0, t0 = pb_mono_us(), t;
		int64_t acc = 0;
		do {
			for (int i = 0; i < BATCH; i++) {
				int prov;
				acc += cal_add_working_days(c, days[(calls + i) & (NDAYS - 1)], 20, &prov);
				acc += prov;
			}
			calls += BATCH;
			t = pb_mono_us();
		} while (t - t0 < ROUND_US);
		sink += acc;
		rate[r] = (double)calls * 1e6 / (double)(t - t0);
	}
	qsort(rate, ROUNDS, sizeof(rate[0]), cmp_double);
	printf("bench-cal: cal_add_working_days(n=20), years %d..%d loaded, dates 2023..2028\n",
	    cal_first_year(c), cal_last_year(c));
	printf("  rounds: %d x %.1f s, min %.0f, max %.0f calls/s\n", ROUNDS, ROUND_US / 1e6, rate[0],
	    rate[ROUNDS - 1]);
	printf("  median: %.0f calls/s (requirement: >= 1000000)\n", rate[ROUNDS / 2]);
	cal_free(c);
	(void)sink;
	return 0;
}
