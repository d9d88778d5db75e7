/* The search index in a file (sx_open_file): it keeps what was put and its
 * mark across a close and a crash, holds no text in clear, and refuses
 * another key or a changed page. */
#include "sx.h"
#include "pb_err.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64], path[128];
static const uint8_t key[SX_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const char *queues[] = {"general"};
/* Written in every body: neither may appear in the files. */
#define MARK_ASCII "zebraquartz"
#define MARK_CJK "东门路灯坏了三天"

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mr-sxfile-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/search.db", dir);
}

static void teardown(void)
{
	sx_remove_file(path);
	rmdir(dir);
}

static void put_n(sx *x, int from, int to)
{
	char body[600];

	for (int n = from; n < to; n++) {
		uint8_t id[SX_ID_LEN] = {0x42};
		id[13] = (uint8_t)(n >> 16);
		id[14] = (uint8_t)(n >> 8);
		id[15] = (uint8_t)n;
		snprintf(body, sizeof(body), "第%d号 " MARK_CJK " " MARK_ASCII "%d 请尽快修理，谢谢。"
		         "小区居民反映夜间照明不足，老人出行不便。", n, n);
		struct sx_doc d = {.id = id, .channel = 1, .status = 1, .queue = "general",
		                   .received_ms = 1000 + n, .open = 1, .subject = "路灯",
		                   .body = body};
		cr_assert_eq(sx_put(x, &d), PB_OK);
	}
}

static size_t hits(sx *x, const char *words)
{
	uint8_t ids[SX_LIMIT_MAX][SX_ID_LEN];
	size_t n;
	int more;
	struct sx_query q = {.words = words, .queues = queues, .nqueues = 1};

	cr_assert_eq(sx_search(x, &q, ids, SX_LIMIT_MAX, &n, &more), PB_OK);
	return n;
}

/* Whether the file at p holds needle anywhere. */
static int file_has(const char *p, const char *needle)
{
	FILE *f = fopen(p, "rb");
	size_t nl = strlen(needle), len;
	char *buf;
	int found = 0;

	if (!f)
		return 0;
	fseek(f, 0, SEEK_END);
	len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(len + 1);
	cr_assert(buf);
	cr_assert_eq(fread(buf, 1, len, f), len);
	fclose(f);
	for (size_t i = 0; i + nl <= len && !found; i++)
		found = memcmp(buf + i, needle, nl) == 0;
	free(buf);
	return found;
}

static off_t file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) ? -1 : st.st_size;
}

static void fill_and_mark(sx *x, int from, int to, uint64_t next)
{
	uint8_t head[SX_HEAD_LEN];

	memset(head, (int)next, sizeof(head));
	cr_assert_eq(sx_begin(x), PB_OK);
	put_n(x, from, to);
	cr_assert_eq(sx_mark_set(x, next, head), PB_OK);
	cr_assert_eq(sx_commit(x), PB_OK);
}

TestSuite(sx_file, .init = setup, .fini = teardown, .timeout = 60);

Test(sx_file, keeps_its_texts_and_mark_across_a_close)
{
	struct sx_mark m;
	int set;
	sx *x;

	cr_assert_eq(sx_open_file(&x, path, key), PB_OK);
	cr_assert_eq(sx_mark_get(x, &m, &set), PB_OK);
	cr_expect_eq(set, 0, "a new file has no mark");
	/* Enough pages for the log to be checkpointed into the file. */
	fill_and_mark(x, 0, 3000, 77);
	cr_expect_eq(hits(x, "灯坏"), SX_LIMIT_MAX);
	sx_close(x);
	cr_assert_gt(file_size(path), 1024 * 1024);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600, "the file is the owner's alone");

	cr_assert_eq(sx_open_file(&x, path, key), PB_OK);
	cr_assert_eq(sx_mark_get(x, &m, &set), PB_OK);
	cr_expect_eq(set, 1);
	cr_expect_eq(m.next, 77);
	cr_expect_eq(m.head[31], 77);
	char boot[40];
	sx_boot_id(boot);
	cr_assert(boot[0], "no boot id on this machine");
	cr_expect_str_eq(m.boot, boot);
	cr_expect_eq(m.clean, 0, "closed without sx_stop");
	cr_expect(sx_mark_intact(&m, boot), "written under this boot");
	cr_expect_not(sx_mark_intact(&m, "another-boot"), "a machine crash may have lost writes");
	cr_assert_eq(sx_stop(x), PB_OK);
	sx_close(x);
	cr_assert_eq(sx_open_file(&x, path, key), PB_OK);
	cr_assert_eq(sx_mark_get(x, &m, &set), PB_OK);
	cr_expect(set && m.clean && m.next == 77);
	cr_expect(sx_mark_intact(&m, "another-boot"), "a clean stop survives a restart");
	uint64_t count;
	cr_assert_eq(sx_count(x, &count), PB_OK);
	cr_expect_eq(count, 3000);
	cr_expect_eq(hits(x, MARK_ASCII "2999"), 1);
	cr_expect_eq(hits(x, "第17号"), 1);
	sx_close(x);
}

/* The router's follower keeps rounds in one transaction for a while:
 * searches on the connection see them before the commit. */
Test(sx_file, a_search_sees_an_open_transaction)
{
	sx *x;

	cr_assert_eq(sx_open_file(&x, path, key), PB_OK);
	fill_and_mark(x, 0, 100, 1);
	cr_assert_eq(sx_begin(x), PB_OK);
	put_n(x, 100, 110);
	cr_expect_eq(hits(x, MARK_ASCII "105"), 1);
	put_n(x, 110, 120);
	cr_expect_eq(hits(x, MARK_ASCII "115"), 1);
	cr_expect_eq(hits(x, "第5号"), 1, "an earlier commit's");
	sx_rollback(x);
	cr_expect_eq(hits(x, MARK_ASCII "105"), 0, "rolled back");
	cr_expect_eq(hits(x, "第5号"), 1);
	sx_close(x);
}

Test(sx_file, holds_no_text_in_clear)
{
	char wal[160];
	sx *x;

	snprintf(wal, sizeof(wal), "%s-wal", path);
	cr_assert_eq(sx_open_file(&x, path, key), PB_OK);
	fill_and_mark(x, 0, 3000, 1);
	fill_and_mark(x, 3000, 3100, 2);   /* the last round stays in the log */
	cr_assert_gt(file_size(wal), 0, "the log holds the last round");
	cr_expect_not(file_has(wal, MARK_ASCII), "text in clear in the log");
	cr_expect_not(file_has(wal, MARK_CJK), "text in clear in the log");
	cr_expect_not(file_has(wal, "路灯"), "a bigram in clear in the log");
	cr_expect_not(file_has(path, MARK_ASCII), "text in clear in the file");
	cr_expect_not(file_has(path, "路灯"), "a bigram in clear in the file");
	sx_close(x);
	cr_expect_not(file_has(path, MARK_ASCII), "text in clear in the file");
	cr_expect_not(file_has(path, MARK_CJK), "text in clear in the file");
	cr_expect(file_has(path, "SQLite format 3"), "the header stays clear");
}

Test(sx_file, refuses_another_key_and_a_changed_page)
{
	uint8_t other[SX_KEY_LEN] = {9};
	uint64_t count;
	sx *x;

	cr_assert_eq(sx_open_file(&x, path, key), PB_OK);
	fill_and_mark(x, 0, 500, 1);
	sx_close(x);
	cr_expect_eq(sx_open_file(&x, path, other), PB_ECORRUPT);
	cr_assert_null(x);

	/* One bit of every page but the first (which must open for any read
	 * to start): whichever page a read meets is a changed one. */
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	for (off_t at = 4096 + 1000; at < file_size(path); at += 4096) {
		uint8_t b;
		cr_assert_eq(pread(fd, &b, 1, at), 1);
		b ^= 1;
		cr_assert_eq(pwrite(fd, &b, 1, at), 1);
	}
	close(fd);
	int rc = sx_open_file(&x, path, key);
	if (rc == PB_OK) {
		/* Page 1 opened: the changed one is met when it is read. */
		rc = sx_count(x, &count);
		if (rc == PB_OK)
			rc = hits(x, "路灯") ? PB_OK : PB_ECORRUPT;
		sx_close(x);
	}
	cr_expect_neq(rc, PB_OK, "a changed page must not be read as it is");

	cr_assert_eq(sx_remove_file(path), PB_OK);
	cr_expect_eq(file_size(path), -1);
	cr_assert_eq(sx_open_file(&x, path, key), PB_OK, "a new file after the removal");
	sx_close(x);
}

/* A process that dies after a commit and in the middle of the next
 * round: the next open recovers the log (reading whole frames, which
 * the VFS must open) with the first round and its mark, not the second. */
Test(sx_file, recovers_after_a_crash_with_the_last_commit)
{
	struct sx_mark m;
	uint64_t count;
	int set, status;
	sx *x;

	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (sx_open_file(&x, path, key) || sx_begin(x))
			_exit(2);
		put_n(x, 0, 300);
		if (sx_mark_set(x, 5, (uint8_t[SX_HEAD_LEN]){5}) || sx_commit(x) || sx_begin(x))
			_exit(3);
		put_n(x, 300, 3300);   /* spills pages to the log, never committed */
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	cr_assert_eq(sx_open_file(&x, path, key), PB_OK);
	cr_assert_eq(sx_mark_get(x, &m, &set), PB_OK);
	cr_expect(set && m.next == 5 && m.head[0] == 5);
	char boot[40];
	sx_boot_id(boot);
	cr_expect(sx_mark_intact(&m, boot), "a process crash loses nothing the kernel took");
	cr_assert_eq(sx_count(x, &count), PB_OK);
	cr_expect_eq(count, 300);
	cr_expect_eq(hits(x, MARK_ASCII "299"), 1);
	cr_expect_eq(hits(x, MARK_ASCII "300"), 0);
	sx_close(x);
}
