/* Waiting between attempts: exponential backoff with full jitter (a
 * random delay up to the current cap), so many retries do not arrive
 * together (the sleeps themselves are cn_sleep, workers/conn). */
#include "hl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void hl_backoff_init(struct hl_backoff *b, int64_t base_ms, int64_t max_ms)
{
	b->base_ms = base_ms > 0 ? base_ms : 1;
	b->max_ms = max_ms > b->base_ms ? max_ms : b->base_ms;
	b->cur_ms = 0;
	b->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)b;
}

static int64_t jitter(unsigned *seed, int64_t cap)
{
	/* Half fixed, half random: never a zero wait, still spread out. */
	return cap / 2 + (int64_t)((double)rand_r(seed) / ((double)RAND_MAX + 1.0) * (double)(cap / 2 + 1));
}

int64_t hl_backoff_next(struct hl_backoff *b)
{
	b->cur_ms = b->cur_ms ? b->cur_ms * 2 : b->base_ms;
	if (b->cur_ms > b->max_ms)
		b->cur_ms = b->max_ms;
	return jitter(&b->seed, b->cur_ms);
}

void hl_backoff_reset(struct hl_backoff *b)
{
	b->cur_ms = 0;
}

int64_t hl_backoff_for(unsigned *seed, unsigned attempts, int64_t base_ms, int64_t max_ms)
{
	int64_t cap = base_ms;

	for (unsigned i = 1; i < attempts && cap < max_ms; i++)
		cap *= 2;
	if (cap > max_ms)
		cap = max_ms;
	return jitter(seed, cap);
}

int64_t hl_retry_after_ms(const char *v)
{
	char *end;
	long long s;
	time_t when;

	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		s = strtoll(v, &end, 10);
		while (*end == ' ' || *end == '\r' || *end == '\n')
			end++;
		if (*end || s < 0 || s > 86400)
			return -1;
		return (int64_t)s * 1000;
	}
	/* An HTTP date (RFC 9110): curl parses those. */
	when = curl_getdate(v, NULL);
	if (when < 0)
		return -1;
	s = (long long)(when - time(NULL));
	return s > 0 ? (int64_t)s * 1000 : 0;
}
