/* What a citizen's upload is read by: a web form as multipart/form-data
 * (boundary "b0undary"), then its text through the same validation as a
 * urlencoded form; and the file type by content. */
#include "gw_web.h"
#include "pb_conf.h"
#include "pb_ftype.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const skip[] = {"token", NULL};
	struct gw_form f;
	struct gw_files files;
	struct gw_ferrs errs;
	const char *why;

	(void)pb_ftype_sniff(data, size);
	if (gw_multipart_parse("multipart/form-data; boundary=b0undary", (const char *)data, size,
	                       &f, &files, &why) != 0)
		return 0;
	for (int i = 0; i < files.n; i++) {
		/* Every file lies inside the body. */
		if (files.f[i].data < data || files.f[i].data + files.f[i].len > data + size)
			abort();
		(void)pb_ftype_sniff(files.f[i].data, files.f[i].len);
	}
	json_decref(gw_form_request(PB_CH_MAILBOX, &f, skip, &errs));
	gw_form_free(&f);
	return 0;
}
