/* bench-search [--messages N] [--rounds R] [--max-p99-ms MS]
 *              [--follow F] [--round K] [--file PATH]: fills the
 * handlers' search index (router/search/sx.h) with N generated messages (default
 * 1,000,000: subjects, bodies and some replies made of common Chinese
 * words) in 12 queues over a year, then runs each query of a fixed set R
 * times as a handler of 3 queues would, and prints the fill time, the
 * peak memory, and the latency median and p99 per query and overall.
 * Before the searches it puts F more messages (default 20,000) as the
 * router's follower does, K to a transaction (default 100), and prints
 * the CPU per message that took.
 * With --file the index is a sealed file at PATH (made anew, removed at
 * the end), as the router keeps it, instead of memory; the file's size
 * is printed.
 * With --max-p99-ms it exits 1 when the overall p99 is above that, and
 * always when a query that must find something finds nothing. */
#include "sx.h"
#include "pb_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *const words[] = {
	"小区", "路灯", "不亮", "噪音", "扰民", "施工", "夜间", "停车", "收费", "标准", "物业",
	"垃圾", "清运", "道路", "积水", "井盖", "破损", "绿化", "树木", "倒伏", "供水", "停水",
	"供暖", "温度", "不达标", "电梯", "故障", "维修", "学校", "入学", "户籍", "办理", "社保",
	"医保", "报销", "公交", "线路", "调整", "站点", "设置", "占道", "经营", "油烟", "污染",
	"违章", "搭建", "拆除", "房屋", "漏水", "租赁", "纠纷", "工资", "拖欠", "投诉", "举报",
	"建议", "咨询", "政策", "补贴", "申请", "审批", "进度", "窗口", "服务", "态度", "排队",
	"时间", "太长", "网上", "系统", "无法", "登录", "证明", "开具", "材料", "提交", "东门",
	"西门", "南路", "北街", "三号楼", "五单元", "每天", "晚上", "十一点", "以后", "已经",
	"一周", "多次", "反映", "没有", "解决", "希望", "尽快", "处理", "谢谢", "请问", "如何",
	"是否", "可以", "需要", "哪些", "部门", "负责", "居民", "老人", "孩子", "安全", "隐患",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static const char *const replies[] = {
	"已转交相关部门处理，三个工作日内答复。", "经核实，已安排维修人员现场处理。",
	"根据相关政策规定，您可以携带材料到窗口办理。", "感谢您的建议，我们将认真研究。",
};

static const char *const queues[] = {"general", "roads", "noise", "housing", "water", "traffic",
                                     "education", "health", "social", "market", "env", "city"};

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static void text(char *buf, size_t len, int nwords, int punct)
{
	size_t n = 0;

	buf[0] = 0;
	for (int i = 0; i < nwords; i++) {
		const char *w = words[next() % NWORDS];
		const char *p = punct && i % 6 == 5 ? "，" : "";
		int k = snprintf(buf + n, len - n, "%s%s", w, p);
		if (k < 0 || (size_t)k >= len - n)
			break;
		n += (size_t)k;
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static long hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* One generated message, received at recv. */
struct gen {
	char subject[256], body[2048];
	uint8_t id[SX_ID_LEN];
	struct sx_doc d;
};

static const struct sx_doc *gen_doc(struct gen *g, int64_t recv)
{
	for (int k = 0; k < SX_ID_LEN; k++)
		g->id[k] = (uint8_t)next();
	text(g->subject, sizeof(g->subject), 2 + next() % 4, 0);
	text(g->body, sizeof(g->body), 15 + next() % 40, 1);
	int answered = next() % 3 == 0;
	g->d = (struct sx_doc){.id = g->id, .channel = 1 + next() % 6,
	                       .status = answered ? 3 : 1 + next() % 2, .queue = queues[next() % 12],
	                       .received_ms = recv, .due_ms = answered ? 0 : recv + 20LL * 86400 * 1000,
	                       .open = !answered, .subject = g->subject, .body = g->body,
	                       .replies = answered ? replies[next() % 4] : NULL};
	return &g->d;
}

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The follower's work: n new messages, k to a transaction, received
 * after everything filled so far, four in a millisecond, each round put
 * with sx_put_all as the router does. Prints the CPU per message. */
static long per_commit = 1;   /* rounds a transaction holds */

static int follow(sx *x, long n, long k, int64_t from)
{
	long r = 0;
	struct gen *g = malloc(sizeof(*g) * (size_t)k);
	struct sx_doc *d = malloc(sizeof(*d) * (size_t)k);
	double c0 = cpu_ms(), w0 = now_ms();
	int rc = g && d ? PB_OK : PB_ENOMEM;

	for (long i = 0; i < n && !rc; i += k) {
		long m = n - i < k ? n - i : k;
		for (long j = 0; j < m; j++)
			d[j] = *gen_doc(&g[j], from + (i + j) / 4);
		if (r % per_commit == 0 && (rc = sx_begin(x)))
			break;
		rc = sx_put_all(x, d, (size_t)m);
		if (++r % per_commit == 0 || i + k >= n) {
			int crc = sx_commit(x);
			rc = rc ? rc : crc;
		}
	}
	free(g);
	free(d);
	if (rc) {
		fprintf(stderr, "bench-search: follow failed: %s\n", pb_err_str(rc));
		return 1;
	}
	if (n)
		printf("followed %ld messages, %ld to a transaction: %.1f us of CPU per message (%.1f s wall)\n",
		       n, k, (cpu_ms() - c0) * 1e3 / n, (now_ms() - w0) / 1e3);
	return 0;
}

struct q {
	const char *label;
	struct sx_query q;
	int must_find;
};

int main(int argc, char **argv)
{
	long nmsg = 1000000, rounds = 50, nfollow = 20000, round = 100;
	double max_p99 = 0;
	const char *file = NULL;
	const int64_t t0 = 1735660800000LL;   /* 2025-01-01 */
	const int64_t year = 365LL * 86400 * 1000;
	sx *x;
	int rc, bad = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc)
			nmsg = atol(argv[++i]);
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			rounds = atol(argv[++i]);
		else if (strcmp(argv[i], "--follow") == 0 && i + 1 < argc)
			nfollow = atol(argv[++i]);
		else if (strcmp(argv[i], "--round") == 0 && i + 1 < argc)
			round = atol(argv[++i]);
		else if (strcmp(argv[i], "--max-p99-ms") == 0 && i + 1 < argc)
			max_p99 = atof(argv[++i]);
		else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (strcmp(argv[i], "--rounds-per-commit") == 0 && i + 1 < argc)
			per_commit = atol(argv[++i]);
		else {
			fprintf(stderr, "usage: bench-search [--messages N] [--rounds R] [--max-p99-ms MS]"
			                " [--follow F] [--round K] [--file PATH]\n");
			return 2;
		}
	}
	if (nmsg < 1 || rounds < 1 || nfollow < 0 || round < 1) {
		fprintf(stderr, "bench-search: --messages, --rounds and --round must be positive\n");
		return 2;
	}
	static const uint8_t key[SX_KEY_LEN] = {0x6d, 0x72};   /* any key: the file is the bench's */
	if (file && (rc = sx_remove_file(file))) {
		fprintf(stderr, "bench-search: cannot remove %s: %s\n", file, pb_err_str(rc));
		return 1;
	}
	if ((rc = file ? sx_open_file(&x, file, key) : sx_open(&x))) {
		fprintf(stderr, "bench-search: cannot open the index: %s\n", pb_err_str(rc));
		return 1;
	}

	double start = now_ms();
	struct gen g;
	rc = sx_begin(x);
	for (long i = 0; i < nmsg && !rc; i++) {
		rc = sx_put(x, gen_doc(&g, t0 + (int64_t)((double)i / nmsg * year)));
		/* commit in slices, as a rebuild of a real store would not need */
		if (!rc && i % 100000 == 99999 && !(rc = sx_commit(x)))
			rc = sx_begin(x);
	}
	if (!rc)
		rc = sx_commit(x);
	if (rc) {
		fprintf(stderr, "bench-search: fill failed: %s\n", pb_err_str(rc));
		return 1;
	}
	double fill = now_ms() - start;
	printf("filled %ld messages in %.1f s (%.0f per second); peak resident %ld MiB\n", nmsg,
	       fill / 1e3, nmsg / (fill / 1e3), hwm_kb() / 1024);

	/* Before the searches: they meet the segments a running router's
	 * index has, not only those of one big fill. */
	if (follow(x, nfollow, round, t0 + year))
		return 1;

	const char *mine[] = {"general", "roads", "noise"};
	const int64_t mid = t0 + year / 2, now = t0 + year;
#define Q(l, must, ...) {l, {.queues = mine, .nqueues = 3, .now_ms = now, __VA_ARGS__}, must}
	const struct q qs[] = {
		Q("two characters: 路灯", 1, .words = "路灯"),
		Q("three characters across words: 积水井", 1, .words = "积水井"),
		Q("four characters: 噪音扰民", 1, .words = "噪音扰民"),
		Q("a phrase across words: 停车收费", 1, .words = "停车收费"),
		Q("two words: 小区 电梯", 1, .words = "小区 电梯"),
		Q("three words: 供水 停水 尽快", 1, .words = "供水 停水 尽快"),
		Q("one character: 漏", 1, .words = "漏"),
		Q("one common character: 门", 1, .words = "门"),
		Q("in a reply: 维修人员", 1, .words = "维修人员"),
		Q("absent: 核电站", 0, .words = "核电站"),
		Q("words and a channel: 投诉 物业", 1, .words = "投诉 物业", .channel = 3),
		Q("words and a month: 油烟", 1, .words = "油烟", .from_ms = mid, .to_ms = mid + year / 12),
		Q("words and a state: 户籍 办理 (replied)", 1, .words = "户籍 办理", .status = 3),
		Q("one queue: 绿化", 1, .words = "绿化", .queue = "roads"),
		Q("overdue, no words", 1, .overdue = 1),
		Q("overdue and words: 违章搭建", 1, .words = "违章搭建", .overdue = 1),
		Q("no words, one day", 1, .from_ms = mid, .to_ms = mid + 86400 * 1000),
	};
	const size_t nq = sizeof(qs) / sizeof(qs[0]);
	double *all = malloc(sizeof(double) * nq * (size_t)rounds);
	double *lat = malloc(sizeof(double) * (size_t)rounds);
	static uint8_t ids[SX_LIMIT_MAX][SX_ID_LEN];
	size_t nall = 0;

	if (!all || !lat)
		return 1;
	printf("%-44s %8s %8s %6s\n", "query (50 newest, 3 of 12 queues)", "median", "p99", "found");
	for (size_t k = 0; k < nq; k++) {
		size_t n = 0;
		int more = 0;
		for (long r = 0; r < rounds; r++) {
			double a = now_ms();
			if ((rc = sx_search(x, &qs[k].q, ids, 50, &n, &more))) {
				fprintf(stderr, "bench-search: %s: %s\n", qs[k].label, pb_err_str(rc));
				return 1;
			}
			lat[r] = all[nall++] = now_ms() - a;
		}
		qsort(lat, (size_t)rounds, sizeof(double), cmp_double);
		printf("%-44s %6.2fms %6.2fms %5zu%s\n", qs[k].label, lat[rounds / 2],
		       lat[(size_t)((rounds - 1) * 0.99)], n, more ? "+" : "");
		if (qs[k].must_find && n == 0) {
			fprintf(stderr, "bench-search: %s found nothing\n", qs[k].label);
			bad = 1;
		}
	}
	qsort(all, nall, sizeof(double), cmp_double);
	double p99 = all[(size_t)((nall - 1) * 0.99)];
	printf("all %zu searches: median %.2f ms, p99 %.2f ms\n", nall, all[nall / 2], p99);
	if (file) {
		struct stat st;
		sx_close(x);
		x = NULL;
		if (stat(file, &st) == 0)
			printf("index file: %.1f MiB, %.0f bytes per message\n", st.st_size / 1048576.0,
			       (double)st.st_size / (double)(nmsg + nfollow));
		sx_remove_file(file);
	}
	if (max_p99 > 0 && p99 > max_p99) {
		fprintf(stderr, "bench-search: p99 %.2f ms is above %.2f ms\n", p99, max_p99);
		bad = 1;
	}
	free(all);
	free(lat);
	sx_close(x);
	return bad;
}
