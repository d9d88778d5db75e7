/* pj: POST /v1/messages/{code}/rating bodies, the five levels' names, and
 * the rating in the citizen's view. */
#include "pj.h"

#include <criterion/criterion.h>
#include <string.h>

static struct pj_error last;

/* "ok" with *level set, or the refusal code (root NULL then). */
static const char *rate(const char *body, uint32_t *level, char *comment, size_t len)
{
	const char *c = NULL;
	json_t *root = (json_t *)1;

	memset(&last, 0, sizeof(last));
	if (pj_parse_rating(body, strlen(body), &root, level, &c, &last) == 0) {
		cr_assert_not_null(root);
		snprintf(comment, len, "%s", c ? c : "");
		json_decref(root);
		return "ok";
	}
	cr_assert_null(root, "root must be NULL after a refusal");
	return last.code;
}

Test(rating, five_levels_and_an_optional_comment)
{
	static const char *const names[] = {"very_satisfied", "satisfied", "basically_satisfied",
	                                    "dissatisfied", "very_dissatisfied"};
	char body[128], comment[600];
	uint32_t level;

	for (uint32_t i = 0; i < 5; i++) {
		snprintf(body, sizeof(body), "{\"level\":\"%s\"}", names[i]);
		cr_assert_str_eq(rate(body, &level, comment, sizeof(comment)), "ok", "%s", body);
		cr_expect_eq(level, i + 1);
		cr_expect_str_eq(pj_rating_name(i + 1), names[i]);
		cr_expect_eq(pj_rating_parse(names[i]), i + 1);
	}
	cr_assert_str_eq(rate("{\"level\":\"satisfied\",\"comment\":\"很好\"}", &level, comment,
	                      sizeof(comment)), "ok");
	cr_expect_str_eq(comment, "很好");
	cr_expect_null(pj_rating_name(0));
	cr_expect_null(pj_rating_name(6));
	cr_expect_eq(pj_rating_parse("Satisfied"), 0);
	cr_expect_eq(pj_rating_parse(NULL), 0);
}

Test(rating, refusals)
{
	char comment[8], long_comment[2200] = "{\"level\":\"satisfied\",\"comment\":\"";
	uint32_t level;

	cr_expect_str_eq(rate("{\"level\":\"great\"}", &level, comment, sizeof(comment)),
	                 "invalid_level");
	cr_expect_str_eq(rate("{\"level\":3}", &level, comment, sizeof(comment)), "invalid_level");
	cr_expect_str_eq(rate("{}", &level, comment, sizeof(comment)), "missing_field");
	cr_expect_str_eq(rate("{\"level\":\"satisfied\",\"stars\":5}", &level, comment,
	                      sizeof(comment)), "unknown_field");
	cr_expect_str_neq(rate("[1]", &level, comment, sizeof(comment)), "ok", "not an object");
	for (int i = 0; i < 501; i++)
		strcat(long_comment, "字");
	strcat(long_comment, "\"}");
	cr_expect_str_neq(rate(long_comment, &level, comment, sizeof(comment)), "ok",
	                  "a comment over 500 characters");
}

Test(rating, the_view_shows_the_rating)
{
	Mailroom__MessageView v = MAILROOM__MESSAGE_VIEW__INIT;
	json_t *j;

	v.status = MAILROOM__STATUS__STATUS_REPLIED;
	j = pj_view(&v, PJ_CITIZEN);
	cr_assert_not_null(j);
	cr_expect_null(json_object_get(j, "rating"), "no rating before one is given");
	json_decref(j);
	v.rating = 4;
	v.rated_ms = 1765000000000;
	j = pj_view(&v, PJ_CITIZEN);
	cr_assert_not_null(j);
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "rating"), "level")),
	                 "dissatisfied");
	cr_expect_not_null(json_string_value(json_object_get(json_object_get(j, "rating"), "rated_at")));
	json_decref(j);
}
