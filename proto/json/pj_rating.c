/* POST /v1/messages/{code}/rating: the citizen's rating of an answer,
 * and the five levels' names in the API and the views. */
#include "pj.h"
#include "pj_int.h"

#include <string.h>

/* Index = RateReq.level (1 非常满意 .. 5 非常不满意). */
static const char *const levels[] = {
	"very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied", NULL,
};
static const char *const rating_keys[] = {"level", "comment", NULL};

const char *pj_rating_name(uint32_t level)
{
	return level >= 1 && level <= 5 ? levels[level - 1] : NULL;
}

uint32_t pj_rating_parse(const char *s)
{
	for (uint32_t i = 0; s && levels[i]; i++)
		if (strcmp(s, levels[i]) == 0)
			return i + 1;
	return 0;
}

int pj_parse_rating(const char *body, size_t len, json_t **root, uint32_t *level,
                    const char **comment, struct pj_error *err)
{
	json_t *l;

	*level = 0;
	*comment = NULL;
	if (pj_load(body, len, root, err))
		return -1;
	if (pj_known_keys(*root, "", rating_keys, err) ||
	    pj_member(*root, "", "level", 1, &l, err) ||
	    pj_text(*root, "", "comment", 0, 0, 500, PJ_LINES, comment, err))
		goto fail;
	/* A well-formed request with a level out of the five: 422. */
	if (!json_is_string(l) || !(*level = pj_rating_parse(json_string_value(l)))) {
		pj_fail(err, "invalid_level",
		        "level: very_satisfied, satisfied, basically_satisfied, dissatisfied or "
		        "very_dissatisfied");
		goto fail;
	}
	return 0;
fail:
	json_decref(*root);
	*root = NULL;
	return -1;
}
