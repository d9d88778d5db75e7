#include "pb_disc.h"

#include <string.h>

const char *const pb_disc_kinds[] = {
	"natural_person",     "commercial_enterprise", "research_institution",
	"social_welfare_org", "legal_service_org",     "other_org",
	NULL,
};

const char *const pb_disc_outcomes[] = {
	"disclosed",
	"partly_disclosed",
	"withheld.state_secret",
	"withheld.prohibited_by_law",
	"withheld.three_safeties_one_stability",
	"withheld.third_party_rights",
	"withheld.internal_affairs",
	"withheld.process_information",
	"withheld.enforcement_file",
	"withheld.inquiry_matter",
	"unavailable.not_held",
	"unavailable.needs_creation",
	"unavailable.unclear_after_correction",
	"not_processed.petition_complaint",
	"not_processed.repeated",
	"not_processed.publication",
	"not_processed.excessive",
	"not_processed.confirm_or_reissue",
	"other.no_correction",
	"other.fee_unpaid",
	"other.other",
	NULL,
};

const char *const pb_disc_modes[] = {
	"online", "in_person", "registered_mail", "ordinary_mail", "fax", NULL,
};
const char *const pb_disc_forms[] = {"paper", "electronic", NULL};
const char *const pb_disc_deliveries[] = {"post", "pickup", "email", "online", NULL};
const char *const pb_disc_id_types[] = {"resident_id", "passport", "uscc", "other", NULL};
const char *const pb_disc_review_kinds[] = {
	"review", "litigation_direct", "litigation_after_review", NULL,
};
const char *const pb_disc_results[] = {"upheld", "corrected", "other", "pending", NULL};

int pb_disc_index(const char *const *list, const char *s)
{
	for (int i = 0; s && list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return i;
	return -1;
}
