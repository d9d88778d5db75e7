/* SMS providers behind one small interface: a provider is a row here and
 * a file with its send function ([notify.sms] provider names the row). */
#include "nt.h"

#include <string.h>

static const struct nt_sms_provider providers[] = {
	{"tencent", nt_sms_tencent_send},   /* Tencent Cloud SMS, SendSms 2021-01-11 */
};

const struct nt_sms_provider *nt_sms_provider(const char *name)
{
	for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
		if (strcmp(providers[i].name, name) == 0)
			return &providers[i];
	return NULL;
}
