/* File types by content: each kind passes, a disguised or cut file fails. */
#include "pb_ftype.h"
#include "samples.h"

#include <criterion/criterion.h>
#include <string.h>

static uint8_t buf[4096];

Test(ftype, each_kind_by_content)
{
	cr_assert_str_eq(pb_ftype_sniff(buf, sample_png(buf, NULL)), "image/png");
	cr_assert_str_eq(pb_ftype_sniff(buf, sample_jpeg(buf, "hello")), "image/jpeg");
	cr_assert_str_eq(pb_ftype_sniff(buf, sample_pdf(buf, NULL)), "application/pdf");
}

Test(ftype, text_is_refused)
{
	static const char text[] = "just some text, named photo.jpg by its sender\n";
	cr_assert_null(pb_ftype_sniff((const uint8_t *)text, sizeof(text) - 1));
	cr_assert_null(pb_ftype_sniff((const uint8_t *)"", 0));
}

Test(ftype, cut_short_is_refused)
{
	size_t n = sample_png(buf, NULL);
	cr_assert_null(pb_ftype_sniff(buf, n - 12), "a PNG without IEND");
	cr_assert_null(pb_ftype_sniff(buf, 20), "a PNG cut inside IHDR");
	n = sample_jpeg(buf, NULL);
	cr_assert_null(pb_ftype_sniff(buf, n - 2), "a JPEG without EOI");
	n = sample_pdf(buf, NULL);
	cr_assert_null(pb_ftype_sniff(buf, n - 7), "a PDF without %%%%EOF");
}

Test(ftype, magic_alone_is_not_enough)
{
	/* A PNG signature in front of text: the chunk walk fails. */
	memcpy(buf, "\x89PNG\r\n\x1a\nhello world, this is not a chunk", 40);
	cr_assert_null(pb_ftype_sniff(buf, 40));
	/* A PDF header with nothing after it. */
	cr_assert_null(pb_ftype_sniff((const uint8_t *)"%PDF-1.7\nhello", 14));
}
