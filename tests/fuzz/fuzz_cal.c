/* Calendar files (cal_load_bufs, as a bundle's embedded calendars): the
 * input split at lines "--" into up to four files. What loads must then
 * answer day and deadline questions without failing. */
#include "cal.h"
#include "pb_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FZ_FILES 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[FZ_FILES] = {"a.cal", "b.cal", "c.cal", "d.cal"};
	const char *part[FZ_FILES];
	size_t len[FZ_FILES];
	const char *s = (const char *)data, *end = s + size;
	int n = 0;
	char err[256];
	cal_set *c;

	/* files end at a line "--" */
	while (n < FZ_FILES) {
		const char *sep = memmem(s, (size_t)(end - s), "\n--\n", 4);
		part[n] = s;
		len[n] = (size_t)((sep ? sep + 1 : end) - s);
		n++;
		if (!sep)
			break;
		s = sep + 4;
	}
	if (cal_load_bufs(names, part, len, n, &c, err, sizeof(err)) != PB_OK)
		return 0;
	uint8_t v[CAL_VERSION_LEN];
	cal_version(c, v);
	int first = cal_first_year(c), prov;
	(void)cal_last_year(c);
	/* about 1 January of the first year, in days since 1970 */
	int32_t day = (int32_t)((first > 1970 ? first - 1970 : 0) * 36525L / 100);
	for (int i = 0; i < 3; i++) {
		(void)cal_is_working_day(c, day + i * 40, &prov);
		int32_t due = cal_add_working_days(c, day + i * 40, 15 + i * 45, &prov);
		if (cal_working_days_between(c, day + i * 40, due, &prov) < 0)
			abort();
	}
	(void)cal_due_ms(c, cal_end_of_day_ms(day), 60, 0, &prov);
	(void)cal_next_year_missing(c, cal_end_of_day_ms(day + 300));
	cal_free(c);
	return 0;
}
