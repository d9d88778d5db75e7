/* One line of a mailroom-admin import file (pj_import.c). */
#include "pj.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pj_import im;
	struct pj_error err;
	json_t *root;

	memset(&im, 0, sizeof(im));
	if (pj_parse_import((const char *)data, size, &root, &im, &err) == 0)
		json_decref(root);
	pj_import_clear(&im);
	pj_import_clear(&im);
	return 0;
}
