/* bench-refs: what the search follower pays per log record to learn the
 * messages it names: protobuf-c's unpack and free of the whole record
 * (as before) against rt_search_refs reading the two fields from the
 * wire. Records like a submission's RECEIVED and a reply's: hashes,
 * actor, queue, clock, detail commitment. Prints nanoseconds per record
 * for both (median of 7 runs) and their ratio.
 *
 *   bench-refs [--records N] */
#include "pb_err.h"
#include "rt_search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long n = 1000000;
	uint8_t mid[16], hash[32], cal[32], commit[32], buf[2][512];
	size_t len[2];
	Mailroom__AuditRecord r = MAILROOM__AUDIT_RECORD__INIT;
	Mailroom__Clock clock = MAILROOM__CLOCK__INIT;
	double t[2][7];
	volatile size_t sink = 0;

	if (argc == 3 && strcmp(argv[1], "--records") == 0)
		n = atol(argv[2]);
	if (n < 1) {
		fprintf(stderr, "usage: bench-refs [--records N]\n");
		return 2;
	}
	memset(mid, 1, sizeof(mid));
	memset(hash, 2, sizeof(hash));
	memset(cal, 3, sizeof(cal));
	memset(commit, 4, sizeof(commit));
	r.index = 123456;
	r.prev_hash = (ProtobufCBinaryData){sizeof(hash), hash};
	r.time_ms = 1765000000000;
	r.actor = "gateway";
	r.event = 1;
	r.message_id = (ProtobufCBinaryData){sizeof(mid), mid};
	r.channel = 1;
	r.queue = "roads-and-lighting";
	r.due_ms = 1766000000000;
	r.cal_version = (ProtobufCBinaryData){sizeof(cal), cal};
	r.content_hash = (ProtobufCBinaryData){sizeof(hash), hash};
	r.ack_due_ms = 1765100000000;
	len[0] = mailroom__audit_record__pack(&r, buf[0]);
	r.actor = "handler:0123456789abcdef";
	r.event = 6;
	r.detail_commit = (ProtobufCBinaryData){sizeof(commit), commit};
	clock.kind = 2;
	clock.started_ms = 1765000000000;
	clock.working_days = 15;
	clock.due_ms = 1766000000000;
	r.clock = &clock;
	len[1] = mailroom__audit_record__pack(&r, buf[1]);

	for (int run = 0; run < 7; run++) {
		double t0 = mono();
		for (long i = 0; i < n; i++) {
			Mailroom__AuditRecord *u = mailroom__audit_record__unpack(NULL, len[i & 1], buf[i & 1]);
			if (!u)
				return 1;
			sink += u->message_id.len + u->related_id.len;
			mailroom__audit_record__free_unpacked(u, NULL);
		}
		double t1 = mono();
		for (long i = 0; i < n; i++) {
			struct rt_refs refs;
			if (rt_search_refs(buf[i & 1], len[i & 1], &refs))
				return 1;
			sink += refs.len[0] + refs.len[1];
		}
		double t2 = mono();
		t[0][run] = (t1 - t0) / (double)n * 1e9;
		t[1][run] = (t2 - t1) / (double)n * 1e9;
	}
	qsort(t[0], 7, sizeof(double), cmp);
	qsort(t[1], 7, sizeof(double), cmp);
	printf("records of %zu and %zu bytes, %ld per run, median of 7 runs\n", len[0], len[1], n);
	printf("unpack + free      %7.1f ns/record\n", t[0][3]);
	printf("rt_search_refs     %7.1f ns/record   (%.1fx less)\n", t[1][3], t[0][3] / t[1][3]);
	return sink == 0;
}
