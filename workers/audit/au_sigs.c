/* Record signatures are independent of each other, so a run of them is
 * checked on every core while the walk itself stays in log order. The
 * values are pointers into the LMDB map or the mapped bundle, read by
 * the workers only; the walk fetched them itself on its own thread. */
#include "au_tlog.h"
#include "pb_err.h"
#include "sn.h"

#include <pthread.h>
#include <unistd.h>

#define MAX_THREADS 8

struct slice {
	struct au_sigjob *jobs;
	size_t from, to;
	const uint8_t *pk;
};

static void *check(void *arg)
{
	struct slice *s = arg;

	for (size_t i = s->from; i < s->to; i++) {
		struct au_sigjob *j = &s->jobs[i];
		size_t blen = j->n - ST_SIG_LEN;
		/* The walk checked the log key once, at record 0. */
		j->ok = j->n > ST_SIG_LEN &&
		        sn_verify_strict_checked_key(j->p + blen, j->p, blen, s->pk) == PB_OK;
	}
	return NULL;
}

int au_sigs_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

void au_sigs_check(struct au_sigjob *jobs, size_t n, const uint8_t pk[32], int threads)
{
	struct slice s[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	int started[MAX_THREADS] = {0};

	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (threads < 1 || n < (size_t)threads * 16)
		threads = 1;
	for (int t = 0; t < threads; t++) {
		s[t].jobs = jobs;
		s[t].from = n * (size_t)t / (size_t)threads;
		s[t].to = n * (size_t)(t + 1) / (size_t)threads;
		s[t].pk = pk;
	}
	/* Slice 0 is this thread's; a worker that cannot start leaves its
	 * slice to this thread too. */
	for (int t = 1; t < threads; t++)
		started[t] = pthread_create(&th[t], NULL, check, &s[t]) == 0;
	check(&s[0]);
	for (int t = 1; t < threads; t++) {
		if (started[t])
			pthread_join(th[t], NULL);
		else
			check(&s[t]);
	}
}
