/* bench-verify: how fast an auditor checks the log, and what a proof
 * costs. A program that prints figures, not a test.
 *
 *   bench-verify [-n RECORDS] [--keep] [--bin MAILROOM-AUDIT] [--no-verify]
 *
 * Builds a store of RECORDS records (default 200000) with the store API
 * in a temporary directory: messages received, routed, leased and
 * answered, every eighth with a deadline extension, in batches of 256
 * records, each commit signing its checkpoint as the router's do;
 * each message is stored beside its records as the router leaves it, so
 * the check of the stored messages against the log is timed too.
 * Then times `mailroom-audit verify --store` over the whole store
 * (records per second), and inclusion proofs at the full size: generation
 * (st_tree_inclusion) and verification (mt_verify_inclusion), each the
 * median and p99 over 10000 random indexes, in microseconds.
 * --no-verify skips the tool's run: the proofs need only the tree, and
 * on a busy machine the run adds minutes at ten million records. */
#include "cal.h"
#include "mt.h"
#include "pb_conf.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"
#include "sn.h"
#include "st.h"

#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define PROOFS 10000
#define HOUR_MS (3600LL * 1000)

static const char *audit_bin = MR_BIN_DIR "/workers/audit/mailroom-audit";
static const char *calendars = MR_SOURCE_DIR "/deploy/calendars";

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench-verify: %s: %s\n", what, pb_err_str(rc));
	exit(1);
}

/* ---- building the store ---- */

struct gen {
	st_env *env;
	st_txn *t;
	struct st_keys keys;
	cal_set *cal;
	uint8_t calv[CAL_VERSION_LEN];
	int64_t now;
	uint64_t size, target;
};

static void checkpoint_and_commit(struct gen *g)
{
	int rc;

	/* As the router's batches: the commit signs one checkpoint. */
	if ((rc = st_txn_commit(g->t)))
		die("commit", rc);
	g->t = NULL;
}

static void append(struct gen *g, Mailroom__AuditRecord *r)
{
	int rc;

	if (!g->t && (rc = st_txn_begin(g->env, NULL, 0, &g->t)))
		die("begin", rc);
	if ((rc = st_log_append(g->t, r, NULL)))
		die("append", rc);
	if (++g->size % BATCH == 0 || g->size == g->target)
		checkpoint_and_commit(g);
}

/* The message as it stands after the record about to be appended, in
 * the same transaction (as the router does). */
static void put(struct gen *g, const Mailroom__StoredMessage *m)
{
	int rc;

	if (!g->t && (rc = st_txn_begin(g->env, NULL, 0, &g->t)))
		die("begin", rc);
	if ((rc = st_msg_put(g->t, m)))
		die("message", rc);
}

static void compute(const struct gen *g, Mailroom__Clock *c)
{
	int prov = 0;
	int n = c->working_days + c->extended_days + c->paused_days;

	int32_t d0 = pb_day_of_ms(c->started_ms);

	c->computed_due_ms = cal_end_of_day_ms(cal_add_working_days(g->cal, d0, n, &prov));
	c->provisional = prov;
	c->due_ms = c->computed_due_ms;
}

/* One message's records: received and routed, leased, an extension for
 * every eighth, answered. Near the end it stops early, never leaving a
 * single record to fill (a message needs two: RECEIVED and ROUTED). */
static void message(struct gen *g, uint64_t n)
{
	static const char *const handlers[] = {"handler:wang", "handler:li", "handler:zhang"};
	Mailroom__Clock ack = MAILROOM__CLOCK__INIT, reply = MAILROOM__CLOCK__INIT;
	static const char subject[] = "路灯不亮", body[] = "幸福路的路灯坏了三天。",
	                  answer[] = "已安排维修，三日内修复。";
	Mailroom__StoredMessage m = MAILROOM__STORED_MESSAGE__INIT;
	Mailroom__AuditRecord r;
	uint8_t id[16], salt[ST_SALT_LEN], texts[32], answered[32], token[32];
	const char *holder = handlers[n % 3];
	int events[] = {
		MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED,
		MAILROOM__AUDIT_EVENT__AUDIT_ROUTED,
		MAILROOM__AUDIT_EVENT__AUDIT_LEASED,
		MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_EXTENDED,
		MAILROOM__AUDIT_EVENT__AUDIT_REPLIED,
	};

	pb_id_new(g->now, id);
	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(token, sizeof(token));
	st_submit_hash(salt, subject, body, texts);
	st_content_hash(salt, answer, strlen(answer), answered);
	m.id.data = id;
	m.id.len = sizeof(id);
	m.channel = MAILROOM__CHANNEL__CHANNEL_MAILBOX;
	m.queue = "general";
	m.subject = (char *)subject;
	m.body = (char *)body;
	m.text_salt.data = salt;
	m.text_salt.len = sizeof(salt);
	m.received_ms = g->now;
	uint64_t len = n % 8 == 0 ? 5 : 4, left = g->target - g->size;

	if (left - len == 1 || left < len)
		len = left < len ? left : len - 1;
	len += g->size;
	ack.kind = ST_CLOCK_ACK;
	reply.kind = ST_CLOCK_REPLY;
	ack.started_ms = reply.started_ms = g->now;
	ack.working_days = 2;
	reply.working_days = 15;
	compute(g, &ack);
	compute(g, &reply);
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]) && g->size < len; i++) {
		int ev = events[i];
		if (ev == MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_EXTENDED && n % 8 != 0)
			continue;
		mailroom__audit_record__init(&r);
		r.time_ms = g->now;
		r.event = ev;
		r.actor = i == 0 ? "gateway" : i == 1 ? "router" : (char *)holder;
		r.message_id.data = id;
		r.message_id.len = sizeof(id);
		r.channel = MAILROOM__CHANNEL__CHANNEL_MAILBOX;
		r.queue = "general";
		r.cal_version.data = g->calv;
		r.cal_version.len = sizeof(g->calv);
		if (ev == MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_EXTENDED) {
			r.old_due_ms = reply.due_ms;
			reply.extended_days = 5;
			reply.extensions = 1;
			compute(g, &reply);
			r.clock = &reply;
			r.approver = "王主任";
			r.detail = "需要现场核实";
		}
		r.due_ms = reply.due_ms;
		r.ack_due_ms = ack.due_ms;
		if (ev == MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED) {
			r.content_hash.data = texts;
			r.content_hash.len = sizeof(texts);
			m.status = MAILROOM__STATUS__STATUS_QUEUED;
		}
		if (ev == MAILROOM__AUDIT_EVENT__AUDIT_REPLIED) {
			r.content_hash.data = answered;
			r.content_hash.len = sizeof(answered);
			m.status = MAILROOM__STATUS__STATUS_REPLIED;
			m.reply_text = (char *)answer;
			m.replied_ms = g->now;
		}
		if (ev == MAILROOM__AUDIT_EVENT__AUDIT_LEASED) {
			r.lease_token_hash.data = token;
			r.lease_token_hash.len = sizeof(token);
			m.status = MAILROOM__STATUS__STATUS_LEASED;
		}
		m.reply_due_ms = r.due_ms;
		m.ack_due_ms = r.ack_due_ms;
		put(g, &m);
		append(g, &r);
		g->now += 250;
	}
}

static void build(const char *dir, uint64_t target)
{
	struct pb_conf *c = calloc(1, sizeof(*c));
	struct gen g = {.target = target};
	char err[512] = "";
	double t0 = mono();
	int created, rc;

	if (!c)
		die("config", PB_ENOMEM);
	pb_conf_defaults(c);
	snprintf(c->signing_key, sizeof(c->signing_key), "%.400s/keys/store.key", dir);
	snprintf(c->data_key, sizeof(c->data_key), "%.400s/keys/data.key", dir);
	snprintf(c->keys_dir, sizeof(c->keys_dir), "%.400s/keys", dir);
	snprintf(c->log_origin, sizeof(c->log_origin), "bench.mailroom/log");
	if ((rc = pb_mkdirs(c->keys_dir)) || (rc = st_keys_load_or_create(c, &g.keys, &created)))
		die("keys", rc);
	if ((rc = cal_load_dir(calendars, &g.cal, err, sizeof(err))))
		die(err, rc);
	cal_version(g.cal, g.calv);
	snprintf(err, sizeof(err), "%.400s/store", dir);
	/* About 4 KiB of map per record, at least 8 GiB: sparse, and room
	 * for ten million records. */
	if ((rc = st_open(err, target / 256 > 8192 ? (size_t)(target / 256) : 8192, 0, &g.keys,
	                  &g.env)))
		die("open", rc);
	g.size = 1;   /* record 0, the log key */
	g.now = pb_day_start_ms(pb_days_from_civil(2025, 3, 3)) + 9 * HOUR_MS;
	for (uint64_t n = 0; g.size < target; n++)
		message(&g, n);
	if (g.t)
		checkpoint_and_commit(&g);
	st_close(g.env);
	cal_free(g.cal);
	free(c);
	printf("store: %llu records, a checkpoint every %d, built in %.1f s\n",
	       (unsigned long long)g.size, BATCH, mono() - t0);
}

/* ---- verify through the tool ---- */

static void verify(const char *dir, uint64_t n)
{
	char store[600];
	double t0 = mono(), dt;
	int status;
	pid_t pid;

	snprintf(store, sizeof(store), "%s/store", dir);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 1);
		execl(audit_bin, "mailroom-audit", "verify", "--store", store, "--calendars", calendars,
		      (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		die("fork", PB_EIO);
	dt = mono() - t0;
	fflush(stdout);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench-verify: %s verify exited %d\n", audit_bin,
		        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		exit(1);
	}
	printf("verify --store (checkpoint signatures, Merkle roots at every checkpoint, chain, event order, "
	       "deadlines, stored messages): %.2f s, %.0f records/s\n",
	       dt, (double)n / dt);
}

/* ---- proofs ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void proofs(const char *dir)
{
	static double gen_us[PROOFS], ver_us[PROOFS];
	uint8_t (*proof)[MT_HASH_LEN] = malloc(MT_PROOF_MAX * MT_HASH_LEN);
	uint8_t root[MT_HASH_LEN], leaf[MT_HASH_LEN];
	uint64_t x = 88172645463325252ULL, size;
	char store[600];
	st_env *env;
	st_txn *t;
	int rc;

	snprintf(store, sizeof(store), "%s/store", dir);
	if (!proof)
		die("proofs", PB_ENOMEM);
	if ((rc = st_open(store, 0, 1, NULL, &env)) || (rc = st_txn_begin(env, NULL, 1, &t)) ||
	    (rc = st_log_size(t, &size)) || (rc = st_tree_root(t, size, root)))
		die("open for proofs", rc);
	for (int i = 0; i < PROOFS; i++) {
		const uint8_t *d;
		size_t len, plen;
		double t0, t1, t2;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t idx = x % size;
		if ((rc = st_log_get(t, idx, &d, &len)))
			die("read", rc);
		mt_leaf_hash(d, len, leaf);
		t0 = mono();
		rc = st_tree_inclusion(t, idx, size, proof, MT_PROOF_MAX, &plen);
		t1 = mono();
		if (rc || (rc = mt_verify_inclusion(leaf, idx, size,
		                                    (const uint8_t(*)[MT_HASH_LEN])proof, plen, root)))
			die("inclusion proof", rc);
		t2 = mono();
		gen_us[i] = (t1 - t0) * 1e6;
		ver_us[i] = (t2 - t1) * 1e6;
	}
	st_txn_abort(t);
	st_close(env);
	free(proof);
	qsort(gen_us, PROOFS, sizeof(double), cmp_double);
	qsort(ver_us, PROOFS, sizeof(double), cmp_double);
	printf("inclusion proofs at size %llu, %d random indexes: generation median %.1f us "
	       "(p99 %.1f), verification median %.1f us (p99 %.1f)\n",
	       (unsigned long long)size, PROOFS, gen_us[PROOFS / 2], gen_us[PROOFS * 99 / 100],
	       ver_us[PROOFS / 2], ver_us[PROOFS * 99 / 100]);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"keep", no_argument, NULL, 'k'},
		{"bin", required_argument, NULL, 'b'},
		{"no-verify", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	unsigned long long n = 200000;
	const char *tmp = getenv("TMPDIR");
	char dir[512];
	int keep = 0, run_verify = 1, ch;

	while ((ch = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		if (ch == 'n' && (n = strtoull(optarg, NULL, 10)) >= 3)
			continue;
		if (ch == 'k')
			keep = 1;
		else if (ch == 'b')
			audit_bin = optarg;
		else if (ch == 'V')
			run_verify = 0;
		else {
			fprintf(stderr, "usage: bench-verify [-n RECORDS (>= 3)] [--keep] [--bin PATH] "
			                "[--no-verify]\n");
			return 1;
		}
	}
	snprintf(dir, sizeof(dir), "%s/mr-bench-verify-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
	if (!mkdtemp(dir)) {
		perror("bench-verify: mkdtemp");
		return 1;
	}
	if (sodium_init() < 0)
		die("libsodium", PB_EIO);
	printf("bench-verify: %s\n", dir);
	build(dir, n);
	if (run_verify)
		verify(dir, n);
	proofs(dir);
	if (!keep)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
