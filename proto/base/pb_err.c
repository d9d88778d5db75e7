#include "pb_err.h"

static const struct {
	const char *name;
	const char *text;
} errs[PB_ERR_COUNT] = {
	[PB_OK] = {"ok", "success"},
	[PB_EINVAL] = {"invalid", "invalid argument or input"},
	[PB_ENOMEM] = {"no_memory", "out of memory"},
	[PB_EIO] = {"io", "storage or system error"},
	[PB_ENOTFOUND] = {"not_found", "not found"},
	[PB_EEXIST] = {"exists", "already exists"},
	[PB_EAUTH] = {"unauthenticated", "authentication failed"},
	[PB_ESTALE] = {"stale", "timestamp outside the allowed window"},
	[PB_EREPLAY] = {"replay", "request replayed"},
	[PB_EFORBIDDEN] = {"forbidden", "not allowed"},
	[PB_ELEASE] = {"lease_invalid", "lease token wrong or expired"},
	[PB_ESTATE] = {"bad_state", "not allowed in the current state"},
	[PB_EFULL] = {"full", "storage full"},
	[PB_EUNAVAIL] = {"unavailable", "service unavailable"},
	[PB_ECORRUPT] = {"corrupt", "stored data failed verification"},
	[PB_ETOOBIG] = {"too_big", "too large"},
	[PB_ELIMIT] = {"limit", "over a configured limit"},
};

const char *pb_err_name(int err)
{
	if (err < 0 || err >= PB_ERR_COUNT)
		return "unknown";
	return errs[err].name;
}

const char *pb_err_str(int err)
{
	if (err < 0 || err >= PB_ERR_COUNT)
		return "unknown error";
	return errs[err].text;
}
