/* mailroom-admin import against the real router: good and bad lines in
 * one file, line numbers reported, the rest imported, a second run all
 * duplicates; the README's example file; a key without the import right. */
#include "it.h"

#include <stdio.h>
#include <stdlib.h>

static const struct mr_handler_spec handlers[] = {
	{"ops", "disclosure, general"},
	{"liu", "disclosure, general"},
};
/* A section named again adds to it: ops may import. */
#define OPTS {.handlers = handlers, .nhandlers = 2, .extra_ini = "[handler.ops]\nimport = yes\n"}

#define APPLICANT                                                                          \
	"\"applicant\":{\"kind\":\"social_welfare_org\",\"name\":\"某公益基金会\","              \
	"\"id_type\":\"uscc\",\"id_number\":\"91110000802100433B\",\"email\":\"f@example.org\"}"

/* Line numbers count from 1, blank lines included. */
static const char *const lines[] = {
	/* 1: a decided and delivered application, reviewed */
	"{\"ref\":\"OLD-1\",\"channel\":\"disclosure\",\"received_at\":\"2025-09-01T10:00:00+08:00\","
	APPLICANT ",\"description\":\"申请公开2025年度某专项资金分配结果。\",\"form\":\"electronic\","
	"\"delivery\":\"email\",\"submission_mode\":\"online\",\"events\":["
	"{\"type\":\"decided\",\"at\":\"2025-09-10T10:00:00+08:00\",\"outcome\":\"disclosed\","
	"\"text\":\"予以公开。\",\"by\":\"李四\"},"
	"{\"type\":\"delivered\",\"at\":\"2025-09-11T10:00:00+08:00\",\"evidence\":\"电子邮件\"},"
	"{\"type\":\"review\",\"kind\":\"review\",\"case_no\":\"复2025-9\",\"filed\":\"2025-10-01\","
	"\"result\":\"upheld\",\"decided\":\"2025-11-20\"}]}",
	/* 2: not JSON */
	"{\"ref\":\"OLD-2\",\"channel\":",
	/* 3: a mailbox letter, answered */
	"{\"ref\":\"OLD-3\",\"channel\":\"mailbox\",\"received_at\":\"2025-10-08T09:00:00+08:00\","
	"\"subject\":\"噪声扰民\",\"body\":\"夜间施工噪声大。\",\"events\":[{\"type\":\"replied\","
	"\"at\":\"2025-10-09T16:00:00+08:00\",\"text\":\"已责令整改。\",\"by\":\"赵六\"}]}",
	/* 4: an unknown field */
	"{\"ref\":\"OLD-4\",\"channel\":\"mailbox\",\"received_at\":\"2025-10-08T09:00:00+08:00\","
	"\"subject\":\"s\",\"body\":\"b\",\"priority\":1}",
	/* 5: blank */
	"",
	/* 6: an invalid value: the resident id's check digit */
	"{\"ref\":\"OLD-6\",\"channel\":\"disclosure\",\"received_at\":\"2025-09-01T10:00:00+08:00\","
	"\"applicant\":{\"kind\":\"natural_person\",\"name\":\"王五\",\"id_type\":\"resident_id\","
	"\"id_number\":\"110105194912310021\",\"phone\":\"13900139000\"},\"description\":\"请公开\","
	"\"form\":\"paper\",\"delivery\":\"post\",\"submission_mode\":\"online\"}",
	/* 7: refused by the router: a consultation ended that never began */
	"{\"ref\":\"OLD-7\",\"channel\":\"disclosure\",\"received_at\":\"2025-09-01T10:00:00+08:00\","
	APPLICANT ",\"description\":\"申请公开某会议纪要。\",\"form\":\"paper\",\"delivery\":\"pickup\","
	"\"submission_mode\":\"in_person\",\"events\":[{\"type\":\"consultation_ended\","
	"\"at\":\"2025-09-03T10:00:00+08:00\"}]}",
	/* 8: an open application, still to be handled */
	"{\"ref\":\"OLD-8\",\"channel\":\"disclosure\",\"received_at\":\"2025-12-29T10:00:00+08:00\","
	APPLICANT ",\"description\":\"申请公开2025年政府采购目录。\",\"form\":\"electronic\","
	"\"delivery\":\"online\",\"submission_mode\":\"online\"}",
};
#define NLINES (sizeof(lines) / sizeof(lines[0]))

static void write_file(const char *path, const char *const *ls, size_t n)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "cannot create %s", path);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", ls[i]);
	cr_assert_eq(fclose(f), 0);
}

static long num(json_t *j, const char *k)
{
	return (long)json_integer_value(it_get(j, k));
}

static int run_import(const char *key, const char *file, json_t **sum, char **err)
{
	char *out = NULL;
	int rc = mr_admin_cmd(&env, key, &out, err, "import", "--file", file, NULL);

	*sum = out && *out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	return rc;
}

Test(import, good_and_bad_lines, .init = it_init, .fini = it_fini, .timeout = 200)
{
	const struct mr_opts o = OPTS;
	char path[600], good[600], *err = NULL, *out = NULL;
	json_t *sum;
	int rc;

	IT_UP(&o);
	snprintf(path, sizeof(path), "%s/old.jsonl", env.dir);
	write_file(path, lines, NLINES);

	rc = run_import(env.handlers[0].key_path, path, &sum, &err);
	cr_expect_eq(rc, 10, "some lines refused: exit 10, got %d: %s", rc, err);
	cr_assert_not_null(sum, "a JSON summary on stdout");
	cr_expect_eq(num(sum, "lines"), 7, "the blank line is not counted");
	cr_expect_eq(num(sum, "imported"), 3, "%s", err);
	cr_expect_eq(num(sum, "duplicates"), 0);
	cr_expect_eq(num(sum, "refused"), 4, "%s", err);
	cr_expect(json_is_true(it_get(sum, "complete")));
	cr_assert_not_null(err);
	cr_expect(strstr(err, "LINE 2: invalid_json: ") != NULL, "%s", err);
	cr_expect(strstr(err, "LINE 4: unknown_field: priority") != NULL, "%s", err);
	cr_expect(strstr(err, "LINE 6: invalid_field: applicant.id_number") != NULL, "%s", err);
	cr_expect(strstr(err, "LINE 7: ") != NULL, "the router's refusal: %s", err);
	cr_expect_null(strstr(err, "LINE 1:"), "%s", err);
	cr_expect_null(strstr(err, "LINE 3:"), "%s", err);
	cr_expect_null(strstr(err, "LINE 8:"), "%s", err);
	cr_expect_null(strstr(err, "110105194912310021"), "no personal data in the report");
	/* The results map old references to new messages. */
	json_t *res = it_get(sum, "results");
	cr_assert_eq(json_array_size(res), 3);
	static const struct {
		long line;
		const char *ref;
	} want[] = {{1, "OLD-1"}, {3, "OLD-3"}, {8, "OLD-8"}};
	for (size_t i = 0; i < 3; i++) {
		json_t *x = json_array_get(res, i);
		cr_expect_eq(num(x, "line"), want[i].line);
		cr_expect_str_eq(it_str(x, "ref"), want[i].ref);
		cr_expect(mr_is_track(it_str(x, "tracking_code")), "line %ld", want[i].line);
		cr_expect(json_is_false(it_get(x, "duplicate")));
	}
	cr_expect_eq(num(json_array_get(res, 0), "events"), 3);
	json_decref(sum);
	free(err);

	/* Again: the good lines are duplicates, nothing new is written. */
	rc = run_import(env.handlers[0].key_path, path, &sum, &err);
	cr_expect_eq(rc, 10, "%s", err);
	cr_assert_not_null(sum);
	cr_expect_eq(num(sum, "imported"), 0, "%s", err);
	cr_expect_eq(num(sum, "duplicates"), 3, "%s", err);
	cr_expect_eq(num(sum, "refused"), 4);
	json_decref(sum);
	free(err);
	const char *const good_lines[] = {lines[0], lines[2], lines[7]};
	snprintf(good, sizeof(good), "%s/good.jsonl", env.dir);
	write_file(good, good_lines, 3);
	rc = run_import(env.handlers[0].key_path, good, &sum, &err);
	cr_expect_eq(rc, 0, "only duplicates: exit 0: %s", err);
	cr_expect_eq(num(sum, "duplicates"), 3);
	cr_expect_eq(num(sum, "imported"), 0);
	json_decref(sum);
	free(err);

	/* The open application waits in its queue, marked imported; the
	 * decided one does not. */
	cr_assert_eq(mr_handler_cmd(&env, env.handlers[1].key_path, &out, "pull", "--queue",
	                            "disclosure", "--wait", "2", NULL),
	             0, "%s", out);
	json_t *j = it_json_text(out);
	free(out);
	cr_expect(json_is_true(it_get(j, "message.imported")), "imported shows");
	cr_expect_str_eq(it_str(j, "message.disclosure.applicant.kind"), "social_welfare_org");
	cr_expect_str_eq(it_str(j, "message.disclosure.phase"), "open");
	json_decref(j);
	cr_expect_eq(mr_handler_cmd(&env, env.handlers[1].key_path, &out, "pull", "--queue",
	                            "disclosure", NULL),
	             3, "one open application only: %s", out);
	free(out);

	/* A key without the import right: the run stops at once. */
	rc = run_import(env.handlers[1].key_path, good, &sum, &err);
	cr_expect_eq(rc, 5, "%s", err);
	cr_expect(err && strstr(err, "LINE 1: ") != NULL, "%s", err);
	cr_expect(json_is_false(it_get(sum, "complete")));
	json_decref(sum);
	free(err);
	IT_DOWN();
}

/* The file the README points to imports whole. */
Test(import, readme_example, .init = it_init, .fini = it_fini, .timeout = 200)
{
	const struct mr_opts o = OPTS;
	char *err = NULL;
	json_t *sum;
	int rc;

	IT_UP(&o);
	rc = run_import(env.handlers[0].key_path, MR_SOURCE_DIR "/deploy/import-example.jsonl", &sum,
	                &err);
	cr_expect_eq(rc, 0, "%s", err);
	cr_assert_not_null(sum);
	cr_expect_eq(num(sum, "imported"), 8, "%s", err);
	cr_expect_eq(num(sum, "refused"), 0, "%s", err);
	json_decref(sum);
	free(err);
	IT_DOWN();
}
