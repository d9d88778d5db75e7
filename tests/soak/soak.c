/* mailroom-soak: the whole service under load and faults for a while
 * (README.md here). Citizens post with Idempotency-Key and retry; the
 * stand-in 12345 platform dispatches orders that mailroom-hotline pulls and
 * that are pushed through the gateway; handlers pull and answer. Meanwhile
 * the router, the gateway and the connector are killed with SIGKILL and
 * restarted, the router is stopped (SIGSTOP) past the gateway's timeout,
 * and the store's file system fills up and is freed again.
 *
 * Then, with the faults over:
 *  - every acknowledged message answers its status with its key;
 *  - every post that got no acknowledgement is sent again with its key: a
 *    200 there means it had been stored, which a post answered only by
 *    503s must never be ("503 for a stored message");
 *  - the store holds exactly one message per key (no duplicate), and every
 *    valid 12345 dispatch once;
 *  - mailroom-audit verify passes.
 * Prints the counts; exits 0 when all hold, 1 otherwise, 2 on a setup
 * failure. */
#include "hl_it.h"
#include "pb_err.h"
#include "st.h"
#include "wk.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CITIZENS 2
#define MAX_POSTS 400000
#define MAX_ORDERS 20000
#define TRIES 4
#define ROUTER_TIMEOUT_MS 1500
#define TMPFS_MB 768

static struct mr_env env;
static struct hl_it hl;

static const struct mr_handler_spec handlers[] = {
	{"h1", "general"},
	{"h2", "hotline"},
};

/* One citizen's post, by its key. */
struct post {
	char key[40];
	char code[24];
	char akey[64];
	int acked;     /* 201 or 200 seen */
	int n503;      /* answers that were 503 */
	int unknown;   /* a try whose outcome we cannot know (no answer) */
};

static struct {
	atomic_int stop;
	atomic_int nposts;
	struct post *posts;
	atomic_long lied_live, n201, n200, n503, nlost, nodd, replied, hot_done, pushed, push_retries;
	atomic_long k_router, k_gateway, k_hotline, stops, fills, fill_503;
	char orders[MAX_ORDERS][48];
	char pushed_no[MAX_ORDERS];  /* 1: pushed; 2: pushed and given up */
	atomic_int norders;
	pthread_mutex_t base_mu;   /* the gateway's port changes on restart */
	unsigned seed;
	char mnt[600];             /* the tmpfs under the store, when mounted */
} S = {.base_mu = PTHREAD_MUTEX_INITIALIZER};

static unsigned rnd(unsigned *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void base_of(char *out, size_t cap)
{
	pthread_mutex_lock(&S.base_mu);
	snprintf(out, cap, "%s", env.base);
	pthread_mutex_unlock(&S.base_mu);
}

/* ---------------------------------------------------------- citizens -- */

static long post_once(CURL *h, struct post *p, int i, struct mr_http *r)
{
	char base[64], hdr[80], body[256];
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");

	snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", p->key);
	hd = curl_slist_append(hd, hdr);
	snprintf(body, sizeof(body),
	         "{\"channel\":\"%s\",\"subject\":\"巡查记录 %d\",\"body\":\"第%d号：楼道堆物，请处理。\"}",
	         i % 2 ? "consultation" : "mailbox", i, i);
	base_of(base, sizeof(base));
	if (mr_http(h, base, "POST", "/v1/messages", hd, body, strlen(body), 8000, r))
		r->status = 0;
	curl_slist_free_all(hd);
	return r->status;
}

/* One answer for post i; 1 when it acknowledged. */
static int take(struct post *p, struct mr_http *r)
{
	json_t *j;

	switch (r->status) {
	case 201:
	case 200:
		atomic_fetch_add(r->status == 201 ? &S.n201 : &S.n200, 1);
		/* stored already, though every earlier try was answered 503 */
		if (r->status == 200 && !p->acked && p->n503 && !p->unknown) {
			fprintf(stderr, "soak: key %s was answered 503 (%d times), then 200: stored\n",
			        p->key, p->n503);
			atomic_fetch_add(&S.lied_live, 1);
		}
		j = mr_http_json(r);
		const char *code = json_string_value(json_object_get(j, "tracking_code"));
		const char *akey = json_string_value(json_object_get(j, "access_key"));
		if (code && akey) {
			if (p->acked && strcmp(p->code, code) != 0) {
				fprintf(stderr, "soak: VIOLATION: key %s answered %s and then %s\n", p->key,
				        p->code, code);
				atomic_fetch_add(&S.nodd, 1);
			}
			snprintf(p->code, sizeof(p->code), "%s", code);
			snprintf(p->akey, sizeof(p->akey), "%s", akey);
			p->acked = 1;
		} else {
			atomic_fetch_add(&S.nodd, 1);
		}
		json_decref(j);
		return 1;
	case 503:
		atomic_fetch_add(&S.n503, 1);
		p->n503++;
		return 0;
	case 0:
		atomic_fetch_add(&S.nlost, 1);
		p->unknown = 1;
		return 0;
	default:
		fprintf(stderr, "soak: unexpected %ld for key %s: %.*s\n", r->status, p->key,
		        (int)(r->len > 200 ? 200 : r->len), r->body ? r->body : "");
		atomic_fetch_add(&S.nodd, 1);
		p->unknown = 1;
		return 0;
	}
}

static void *citizen(void *arg)
{
	unsigned s = S.seed + 101u * (unsigned)(uintptr_t)arg;
	CURL *h = curl_easy_init();

	while (!atomic_load(&S.stop)) {
		int i = atomic_fetch_add(&S.nposts, 1);
		if (i >= MAX_POSTS) {
			atomic_fetch_sub(&S.nposts, 1);
			break;
		}
		struct post *p = &S.posts[i];
		snprintf(p->key, sizeof(p->key), "soak-%08x-%08d", S.seed, i);
		/* A few tries, then give up as a citizen would; sometimes a
		 * citizen retries an acknowledged post (a double click). */
		int tries = 1 + (int)(rnd(&s) % TRIES);
		for (int t = 0; t < tries && !atomic_load(&S.stop); t++) {
			struct mr_http r;
			post_once(h, p, i, &r);
			int ok = take(p, &r);
			mr_http_free(&r);
			if (ok && rnd(&s) % 10)
				break;
			mr_sleep_ms(ok ? 0 : 100 + (long)(rnd(&s) % 400));
		}
		mr_sleep_ms(10 + (long)(rnd(&s) % 20));   /* a steady, not a flooding, load */
	}
	curl_easy_cleanup(h);
	return NULL;
}

/* ---------------------------------------------------- 12345 platform -- */

static void *platform(void *arg)
{
	unsigned s = S.seed ^ 0x5bd1e995u;
	CURL *h = curl_easy_init();

	(void)arg;
	while (!atomic_load(&S.stop)) {
		int n = atomic_load(&S.norders);
		char *json = NULL;
		if (n >= MAX_ORDERS)
			break;
		/* 70% pulled by the connector, 30% pushed to the gateway */
		int push = rnd(&s) % 10 < 3;
		if (hp_dispatch(hl.platform, NULL, push ? HP_NOT_IN_FEED : HP_FEED, push ? &json : NULL,
		                S.orders[n], sizeof(S.orders[0])))
			break;
		atomic_store(&S.norders, n + 1);
		/* A push is retried until it is taken, as the platform does
		 * (up to 90 s longer once the run ends: a loaded machine may
		 * still be restarting what the last fault stopped). */
		double given_up_at = 0;
		S.pushed_no[n] = json ? 1 : 0;
		for (int taken = 0; json && !taken;) {
			struct mr_hl_sign sg = {0};
			struct mr_http r;
			struct mr_env e;
			memcpy(&e, &env, sizeof(e));
			base_of(e.base, sizeof(e.base));
			int rc = mr_post_order(h, &e, json, &sg, &r);
			long st = r.status;
			mr_http_free(&r);
			if (rc == 0 && (st == 200 || st == 201)) {
				atomic_fetch_add(&S.pushed, 1);
				taken = 1;
				break;
			}
			atomic_fetch_add(&S.push_retries, 1);
			if (atomic_load(&S.stop) && given_up_at == 0)
				given_up_at = mr_now_s() + 90;
			if (given_up_at && mr_now_s() > given_up_at) {
				fprintf(stderr, "soak: push of %s given up, last answer %ld\n",
				        S.orders[n], rc ? -1 : st);
				S.pushed_no[n] = 2;
				break;
			}
			mr_sleep_ms(200);
		}
		free(json);
		mr_sleep_ms(40 + (long)(rnd(&s) % 80));
	}
	curl_easy_cleanup(h);
	return NULL;
}

/* ---------------------------------------------------------- handlers -- */

struct worker {
	const struct mr_handler *h;
	struct wk_client c;
	const char *queue;
};

static int call(struct worker *w, Mailroom__Request *req, Mailroom__Response **out)
{
	Mailroom__Response *r = NULL;
	int rc = wk_client_call(&w->c, w->h->sk, req, 5000, &r);

	if (rc != PB_OK || !r) {
		if (r)
			mailroom__response__free_unpacked(r, NULL);
		mr_sleep_ms(200);
		return PB_EUNAVAIL;
	}
	rc = r->code;
	if (rc == PB_OK && out)
		*out = r;
	else
		mailroom__response__free_unpacked(r, NULL);
	return rc;
}

static void answer(struct worker *w, const uint8_t *id, const uint8_t *tok)
{
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	Mailroom__LeaseRef ref = MAILROOM__LEASE_REF__INIT;

	ref.id.data = (uint8_t *)id;
	ref.id.len = PB_ID_LEN;
	ref.lease_token.data = (uint8_t *)tok;
	ref.lease_token.len = 16;
	if (strcmp(w->queue, "general") == 0) {
		Mailroom__ReplyReq rp = MAILROOM__REPLY_REQ__INIT;
		rp.lease = &ref;
		rp.text = "已安排物业清理。";
		req.op_case = MAILROOM__REQUEST__OP_REPLY;
		req.reply = &rp;
		if (call(w, &req, NULL) == PB_OK)
			atomic_fetch_add(&S.replied, 1);
		return;
	}
	Mailroom__HotlineReq hr = MAILROOM__HOTLINE_REQ__INIT;
	hr.id = ref.id;
	hr.lease_token = ref.lease_token;
	req.op_case = MAILROOM__REQUEST__OP_HOTLINE;
	req.hotline = &hr;
	hr.action = MAILROOM__HOTLINE_ACTION__HOTLINE_SIGN;
	if (call(w, &req, NULL) != PB_OK)
		return;
	hr.action = MAILROOM__HOTLINE_ACTION__HOTLINE_FINISH;
	hr.text = "已处理完毕，已告知市民。";
	if (call(w, &req, NULL) == PB_OK)
		atomic_fetch_add(&S.hot_done, 1);
}

static void *handler(void *arg)
{
	struct worker *w = arg;

	if (wk_client_open(&w->c, env.router_url))
		return NULL;
	while (!atomic_load(&S.stop)) {
		Mailroom__Request req = MAILROOM__REQUEST__INIT;
		Mailroom__PullReq p = MAILROOM__PULL_REQ__INIT;
		Mailroom__Response *r = NULL;
		uint8_t id[PB_ID_LEN], tok[16];

		p.queue = (char *)w->queue;
		p.wait_ms = 500;
		req.op_case = MAILROOM__REQUEST__OP_PULL;
		req.pull = &p;
		if (call(w, &req, &r) != PB_OK || !r)
			continue;
		int got = r->pull && r->pull->message && r->pull->message->id.len == PB_ID_LEN &&
		          r->pull->lease && r->pull->lease->token.len == 16;
		if (got) {
			memcpy(id, r->pull->message->id.data, PB_ID_LEN);
			memcpy(tok, r->pull->lease->token.data, 16);
		}
		mailroom__response__free_unpacked(r, NULL);
		if (got)
			answer(w, id, tok);
	}
	wk_client_close(&w->c);
	return NULL;
}

/* ------------------------------------------------------------ faults -- */

/* Fills the store's tmpfs to the last few KiB, holds, frees. */
static void fill(unsigned *s)
{
	char path[700];
	static char block[1 << 16];

	snprintf(path, sizeof(path), "%s/filler", S.mnt);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	while (write(fd, block, sizeof(block)) > 0)
		;
	/* a little room back, so the store is full mid-transaction */
	if (ftruncate(fd, lseek(fd, 0, SEEK_CUR) - (off_t)(rnd(s) % 8) * 4096))
		fprintf(stderr, "soak: ftruncate: %s\n", strerror(errno));
	atomic_fetch_add(&S.fills, 1);
	long before = atomic_load(&S.n503);
	mr_sleep_ms(1500 + (long)(rnd(s) % 2000));
	atomic_fetch_add(&S.fill_503, atomic_load(&S.n503) - before);
	close(fd);
	unlink(path);
}

static int restart_gateway(void)
{
	int rc;

	mr_proc_stop(&env, &env.gateway, SIGKILL);
	mr_sleep_ms(50);
	pthread_mutex_lock(&S.base_mu);
	rc = mr_gateway_start(&env);
	pthread_mutex_unlock(&S.base_mu);
	return rc;
}

/* The faults in play: --faults, a subset of "rgcsf" (router, gateway,
 * connector killed; router stopped; store filled). */
static char faults[8] = "rgcsf";

/* One fault. Run from the main thread: the harness starts children with
 * PR_SET_PDEATHSIG, which fires when the thread that forked them ends. */
static void fault(unsigned *s)
{
	switch (strchr("rgcsf", faults[rnd(s) % strlen(faults)]) - "rgcsf") {
	case 0:
		mr_proc_stop(&env, &env.router, SIGKILL);
		mr_sleep_ms((long)(rnd(s) % 300));
		if (mr_router_start(&env))
			fprintf(stderr, "soak: the router did not come back\n");
		atomic_fetch_add(&S.k_router, 1);
		break;
	case 1:
		if (restart_gateway())
			fprintf(stderr, "soak: the gateway did not come back\n");
		atomic_fetch_add(&S.k_gateway, 1);
		break;
	case 2:
		hl_it_stop(&env, &hl, SIGKILL);
		mr_sleep_ms((long)(rnd(s) % 300));
		if (hl_it_start(&env, &hl))
			fprintf(stderr, "soak: the connector did not come back\n");
		atomic_fetch_add(&S.k_hotline, 1);
		break;
	case 3:
		/* past the gateway's router timeout: the gateway answers 503,
		 * then the router wakes to the requests it holds */
		kill(env.router.pid, SIGSTOP);
		mr_sleep_ms(ROUTER_TIMEOUT_MS + 500 + (long)(rnd(s) % 1500));
		kill(env.router.pid, SIGCONT);
		atomic_fetch_add(&S.stops, 1);
		break;
	default:
		fill(s);
		break;
	}
}

/* A tmpfs of its own under the store, when we may mount one. */
static void mount_store(void)
{
	char opts[32];

	if (getenv("MR_SOAK_NO_TMPFS"))
		return;
	if (mkdir(env.store, 0700) && errno != EEXIST)
		return;
	snprintf(opts, sizeof(opts), "size=%dm,mode=0700", TMPFS_MB);
	if (mount("tmpfs", env.store, "tmpfs", 0, opts) == 0)
		snprintf(S.mnt, sizeof(S.mnt), "%s", env.store);
}

static void unmount_store(void)
{
	if (S.mnt[0] && umount2(S.mnt, MNT_DETACH) == 0)
		S.mnt[0] = '\0';
}

/* -------------------------------------------------------- the checks -- */

struct count {
	long citizen, hotline;
};

static int count_msg(const Mailroom__StoredMessage *m, void *arg)
{
	struct count *c = arg;

	if (m->channel == MAILROOM__CHANNEL__CHANNEL_HOTLINE)
		c->hotline++;
	else
		c->citizen++;
	return 0;
}

struct dispatches {
	st_txn *t;
	long total, missing;
};

static int check_dispatch(const char *no, unsigned seq, void *arg)
{
	struct dispatches *d = arg;
	char ref[96];
	uint8_t id[PB_ID_LEN];

	d->total++;
	snprintf(ref, sizeof(ref), "12345:%s#%u", no, seq);
	if (st_extref_get(d->t, ref, id) != PB_OK && !d->missing++) {
		const char *how = "in the feed";
		for (int i = 0; i < atomic_load(&S.norders); i++)
			if (strcmp(S.orders[i], no) == 0)
				how = S.pushed_no[i] == 2 ? "pushed, given up" :
				      S.pushed_no[i] ? "pushed, taken" : "in the feed";
		fprintf(stderr, "soak: %s not stored (%s)\n", ref, how);
	}
	return 0;
}

static char last_cursor[128];

static int settled(void)
{
	char *out = NULL, want[24];
	int rc = hl_it_cmd(&env, &out, "status", NULL);
	json_t *j = out ? json_loads(out, 0, NULL) : NULL;
	const char *cur = json_string_value(json_object_get(j, "cursor"));
	int ok;

	snprintf(want, sizeof(want), ".%zx", hp_feed_len(hl.platform));
	ok = rc == 0 && j && cur && strrchr(cur, '.') && strcmp(strrchr(cur, '.'), want) == 0;
	snprintf(last_cursor, sizeof(last_cursor), "%s (feed %s, status exit %d)",
	         cur ? cur : "none", want, rc);
	json_decref(j);
	free(out);
	return ok;
}

/* On a failure, the end of the newest log of a process, for CI's output. */
static void tail_log(const char *name)
{
	char path[MR_PATH + 64], last[MR_PATH + 64] = "";
	char *lines[25] = {0};
	size_t cap = 0;
	int n = 0;

	for (int i = 1; i < 1000; i++) {
		snprintf(path, sizeof(path), "%s/%s-%d.log", env.dir, name, i);
		if (access(path, R_OK))
			break;
		memcpy(last, path, sizeof(last));
	}
	FILE *f = last[0] ? fopen(last, "r") : NULL;
	if (!f)
		return;
	char *line = NULL;
	while (getline(&line, &cap, f) > 0) {
		free(lines[n % 25]);
		lines[n % 25] = strdup(line);
		n++;
	}
	free(line);
	fclose(f);
	fprintf(stderr, "soak: the end of %s:\n", last);
	for (int i = n > 25 ? n - 25 : 0; i < n; i++) {
		fprintf(stderr, "  %s", lines[i % 25] ? lines[i % 25] : "\n");
		free(lines[i % 25]);
		lines[i % 25] = NULL;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: mailroom-soak [--seconds N] [--seed S] [--faults rgcsf]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long secs = 600;
	pthread_t ct[CITIZENS], pt, ht[2];
	struct worker w[2];
	int fail = 0;

	S.seed = (unsigned)time(NULL);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			secs = atol(argv[++i]);
		else if (strcmp(argv[i], "--faults") == 0 && i + 1 < argc &&
		         strlen(argv[i + 1]) < sizeof(faults) &&
		         strspn(argv[i + 1], "rgcsf") == strlen(argv[i + 1]))
			snprintf(faults, sizeof(faults), "%s", argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			S.seed = (unsigned)strtoul(argv[++i], NULL, 10);
		else
			usage();
	}
	if (secs < 10)
		usage();
	S.seed |= 1;
	fprintf(stderr, "soak: %ld s, seed %u\n", secs, S.seed);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	S.posts = calloc(MAX_POSTS, sizeof(*S.posts));
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 2, .lease_seconds = 30,
	                          .router_timeout_ms = ROUTER_TIMEOUT_MS};
	if (!S.posts || mr_env_init(&env, &o) || hl_it_init(&env, &hl, S.seed, NULL))
		return 2;
	mount_store();
	if (!S.mnt[0] && strchr(faults, 'f')) {
		/* no tmpfs: no filling */
		char *f = strchr(faults, 'f');
		memmove(f, f + 1, strlen(f));
	}
	fprintf(stderr, "soak: store on %s\n", S.mnt[0] ? "a tmpfs that fills" : "the disk (no tmpfs)");
	if (mr_env_up(&env) || hl_it_start(&env, &hl)) {
		unmount_store();
		mr_env_down(&env);
		return 2;
	}
	mr_wait_past_gateway_start(&env);

	double t0 = mr_now_s();
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){.h = &env.handlers[i], .queue = i ? "hotline" : "general"};
		pthread_create(&ht[i], NULL, handler, &w[i]);
	}
	for (int i = 0; i < CITIZENS; i++)
		pthread_create(&ct[i], NULL, citizen, (void *)(uintptr_t)i);
	pthread_create(&pt, NULL, platform, NULL);
	unsigned fs = S.seed ^ 0x9e3779b9u;
	double next = mr_now_s() + 2;
	for (int tick = 1; mr_now_s() - t0 < (double)secs; tick++) {
		mr_sleep_ms(250);
		if (faults[0] && mr_now_s() >= next) {
			fault(&fs);
			next = mr_now_s() + 1.5 + (double)(rnd(&fs) % 3000) / 1000;
		}
		if (tick % 120 == 0)
			fprintf(stderr, "soak: %.0f s: %d posts, 201 %ld, 200 %ld, 503 %ld, none %ld; "
			        "%d orders; kills %ld/%ld/%ld, stops %ld, fills %ld\n",
			        mr_now_s() - t0, atomic_load(&S.nposts), atomic_load(&S.n201),
			        atomic_load(&S.n200), atomic_load(&S.n503), atomic_load(&S.nlost),
			        atomic_load(&S.norders), atomic_load(&S.k_router), atomic_load(&S.k_gateway),
			        atomic_load(&S.k_hotline), atomic_load(&S.stops), atomic_load(&S.fills));
	}

	/* Faults end; everything back up; the load stops. */
	if (!mr_proc_alive(&env.router) && mr_router_start(&env))
		fail = 1;
	if (!mr_proc_alive(&env.gateway) && restart_gateway())
		fail = 1;
	atomic_store(&S.stop, 1);
	for (int i = 0; i < CITIZENS; i++)
		pthread_join(ct[i], NULL);
	pthread_join(pt, NULL);   /* finishes its last push */
	for (int i = 0; i < 2; i++)
		pthread_join(ht[i], NULL);
	double t_end = mr_now_s();
	/* On a loaded machine the connector may still be restarting, or
	 * backing off from a router that was down: give it time, and say so. */
	int settle_ok = 0;
	while (mr_now_s() - t_end < 150 && !(settle_ok = settled()))
		mr_sleep_ms(200);
	fprintf(stderr, "soak: connector %s after %.0f s: cursor %s\n",
	        settle_ok ? "caught up" : "NOT caught up", mr_now_s() - t_end, last_cursor);

	/* Every acknowledged message answers with its key; every other post
	 * sent once more tells whether it had been stored. */
	CURL *h = curl_easy_init();
	long missing = 0, lied = 0, unresolved = 0, stored_unknown = 0, n = atomic_load(&S.nposts);
	long acked = 0, gave_up_503 = 0;
	for (long i = 0; i < n; i++) {
		struct post *p = &S.posts[i];
		struct mr_http r;
		if (p->acked) {
			long st = 0;
			acked++;
			struct mr_env e;
			memcpy(&e, &env, sizeof(e));
			for (int k = 0; k < 20 && st != 200 && st != 404; k++) {
				mr_get_status(h, &e, p->code, p->akey, &r);
				st = r.status;
				mr_http_free(&r);
				if (st != 200 && st != 404)
					mr_sleep_ms(200);
			}
			if (st != 200 && !missing++)
				fprintf(stderr, "soak: acknowledged %s answers %ld\n", p->code, st);
			continue;
		}
		if (p->n503 && !p->unknown)
			gave_up_503++;
		long st = 0;
		for (int k = 0; k < 20 && st != 200 && st != 201; k++) {
			post_once(h, p, (int)i, &r);
			st = r.status;
			mr_http_free(&r);
			if (st != 200 && st != 201)
				mr_sleep_ms(200);
		}
		if (st == 200 && p->n503 && !p->unknown) {
			if (!lied++)
				fprintf(stderr, "soak: key %s was answered only 503 (%d times), yet stored\n",
				        p->key, p->n503);
		} else if (st == 200) {
			stored_unknown++;
		} else if (st != 201) {
			unresolved++;
		}
	}
	curl_easy_cleanup(h);
	hl_it_stop(&env, &hl, SIGTERM);
	mr_proc_stop(&env, &env.gateway, SIGTERM);
	mr_proc_stop(&env, &env.router, SIGTERM);

	/* The store: one message per key, every dispatch once; the log. */
	st_env *store = NULL;
	st_txn *t = NULL;
	struct count c = {0};
	struct dispatches d = {0};
	if (st_open(env.store, 0, 1, NULL, &store) || st_txn_begin(store, NULL, 1, &t) ||
	    st_msg_each(t, count_msg, &c)) {
		fprintf(stderr, "soak: cannot read the store\n");
		fail = 1;
	} else {
		d.t = t;
		hp_each_dispatch(hl.platform, check_dispatch, &d);
	}
	if (t)
		st_txn_abort(t);
	if (store)
		st_close(store);
	long dups = c.citizen - (n - unresolved);
	char *out = NULL;
	/* An hour's store holds a million records or more, and verify shares
	 * the cores with whatever else runs: allow a second per thousand
	 * messages beyond the harness's usual two minutes. */
	env.audit_timeout_s = 120 + (int)(n / 1000);
	double tv = mr_now_s();
	int vrc = mr_audit_cmd(&env, &out, "verify", NULL);
	tv = mr_now_s() - tv;
	free(out);

	printf("soak: %.0f s, seed %u, store on %s\n", mr_now_s() - t0, S.seed,
	       S.mnt[0] ? "tmpfs" : "disk");
	printf("soak: faults: router killed %ld, gateway killed %ld, connector killed %ld, "
	       "router stopped %ld, store filled %ld (%ld 503s meanwhile)\n",
	       atomic_load(&S.k_router), atomic_load(&S.k_gateway), atomic_load(&S.k_hotline),
	       atomic_load(&S.stops), atomic_load(&S.fills), atomic_load(&S.fill_503));
	printf("soak: citizens: %ld posts, %ld acknowledged; answers 201 %ld, 200 %ld, 503 %ld, "
	       "none %ld, other %ld\n",
	       n, acked, atomic_load(&S.n201), atomic_load(&S.n200), atomic_load(&S.n503),
	       atomic_load(&S.nlost), atomic_load(&S.nodd));
	printf("soak: handlers: %ld replies, %ld 12345 orders finished; 12345: %d dispatched, "
	       "%ld pushed (%ld retries)\n",
	       atomic_load(&S.replied), atomic_load(&S.hot_done), atomic_load(&S.norders),
	       atomic_load(&S.pushed), atomic_load(&S.push_retries));
	printf("soak: acknowledged but missing: %ld\n", missing);
	lied += atomic_load(&S.lied_live);
	printf("soak: 503 for a stored message: %ld (%ld found by a later try, %ld among %ld posts "
	       "given up after 503s alone)\n",
	       lied, atomic_load(&S.lied_live), lied - atomic_load(&S.lied_live), gave_up_503);
	printf("soak: no answer at some try, found stored on resend: %ld; unresolved: %ld\n",
	       stored_unknown, unresolved);
	printf("soak: store: %ld citizen messages for %ld keys (duplicates: %ld); 12345 dispatches "
	       "%ld, not stored %ld; verify exit %d in %.0f s\n",
	       c.citizen, n - unresolved, dups, d.total, d.missing, vrc, tv);
	fail |= missing || lied || unresolved || dups || d.missing || vrc || atomic_load(&S.nodd) ||
	        acked == 0;
	if (fail) {
		tail_log("hotline");
		tail_log("router");
		tail_log("gateway");
	}
	unmount_store();
	hl_it_fini(&env, &hl);
	if (mr_env_down(&env))
		fail = 1;
	free(S.posts);
	curl_global_cleanup();
	printf("soak: %s\n", fail ? "FAILED" : "passed");
	return fail;
}
