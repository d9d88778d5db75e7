/* mailroom-notify's pieces: templates, the Tencent Cloud TC3 signature
 * (a known answer computed independently, with Python's hmac and
 * hashlib, from the provider's published algorithm), and the e-mail as
 * it goes to the relay. */
#include "nt.h"
#include "pb_err.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/nt-test-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

static void write_tpl(const char *name, const char *text)
{
	char path[320];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static const struct nt_var vars[] = {
	{"tracking_code", "1234-5678-9012"}, {"office", "测试市人民政府"}, {"link", "https://x.cn/track"},
};

TestSuite(tpl, .init = setup, .fini = teardown);

Test(tpl, headers_and_placeholders)
{
	struct nt_msg m;
	char err[256];

	write_tpl("receipt.email.txt", "Subject: 【{office}】已受理 {tracking_code}\n\n您好：\n查询码：{tracking_code}\n查询：{link}\n\n\n");
	cr_assert_eq(nt_tpl_render(dir, "receipt", "email", vars, 3, &m, err, sizeof(err)), PB_OK, "%s", err);
	cr_expect_str_eq(m.subject, "【测试市人民政府】已受理 1234-5678-9012");
	cr_expect_str_eq(m.text, "您好：\n查询码：1234-5678-9012\n查询：https://x.cn/track");
	nt_msg_free(&m);

	write_tpl("receipt.sms.txt", "TemplateId: 1234567\nParams: tracking_code, link\n\n【{office}】{tracking_code}\n");
	cr_assert_eq(nt_tpl_render(dir, "receipt", "sms", vars, 3, &m, err, sizeof(err)), PB_OK, "%s", err);
	cr_expect_str_eq(m.template_id, "1234567");
	cr_expect_str_eq(m.params, "tracking_code, link");
	cr_expect_str_eq(m.text, "【测试市人民政府】1234-5678-9012");
	nt_msg_free(&m);
}

Test(tpl, mistakes_never_reach_a_citizen)
{
	struct nt_msg m;
	char err[256];

	cr_expect_eq(nt_tpl_render(dir, "rate", "email", vars, 3, &m, err, sizeof(err)), PB_ENOTFOUND);
	write_tpl("rate.email.txt", "Subject: x\n\n{trackingcode}\n");
	cr_expect_eq(nt_tpl_render(dir, "rate", "email", vars, 3, &m, err, sizeof(err)), PB_EINVAL);
	cr_expect(strstr(err, "{trackingcode}"), "%s", err);
	write_tpl("rate.email.txt", "您好\n");
	cr_expect_eq(nt_tpl_render(dir, "rate", "email", vars, 3, &m, err, sizeof(err)), PB_EINVAL,
	             "a first line that is no header");
	write_tpl("rate.email.txt", "\n您好\n");
	cr_expect_eq(nt_tpl_render(dir, "rate", "email", vars, 3, &m, err, sizeof(err)), PB_EINVAL,
	             "an e-mail without a subject");
}

Test(tpl, the_shipped_templates_all_render)
{
	static const char *const kinds[] = {"receipt", "transferred", "extended", "replied", "rate"};
	static const char *const media[] = {"email", "sms"};
	const struct nt_var all[] = {{"tracking_code", "1234-5678-9012"}, {"office", "某市"},
	                             {"department", "城管局"}, {"due_date", "2026-12-31"},
	                             {"days", "10"}, {"link", "https://x.cn/track"}};
	struct nt_msg m;
	char err[256];

	for (size_t k = 0; k < 5; k++)
		for (size_t i = 0; i < 2; i++) {
			cr_assert_eq(nt_tpl_render(MR_SOURCE_DIR "/deploy/notices", kinds[k], media[i], all, 6,
			                           &m, err, sizeof(err)),
			             PB_OK, "%s.%s: %s", kinds[k], media[i], err);
			cr_expect(strstr(m.text, "1234-5678-9012"), "%s.%s lacks the code", kinds[k], media[i]);
			if (i == 1) {
				cr_expect(*m.template_id, "%s.sms lacks TemplateId", kinds[k]);
				cr_expect(strstr(m.params, "tracking_code"), "%s.sms", kinds[k]);
			}
			nt_msg_free(&m);
		}
}

Test(tc3, known_answer)
{
	const char *body = "{\"PhoneNumberSet\":[\"+8613800000000\"],\"SmsSdkAppId\":\"1400000001\","
	                   "\"SignName\":\"测试\",\"TemplateId\":\"0000001\",\"TemplateParamSet\":"
	                   "[\"1234-5678-9012\"],\"SessionContext\":\"x\"}";
	char auth[512];

	cr_assert(sodium_init() >= 0);
	cr_assert_eq(nt_tc3_authorization("AKIDmailroomexample", "mailroom-example-secret",
	                                  "sms.tencentcloudapi.com", "SendSms", 1764900000, body,
	                                  auth, sizeof(auth)),
	             0);
	cr_expect_str_eq(auth, "TC3-HMAC-SHA256 Credential=AKIDmailroomexample/2025-12-05/sms/"
	                       "tc3_request, SignedHeaders=content-type;host;x-tc-action, "
	                       "Signature=5e952b6ec521deb1a840f8ac8c3b8a2cb25f160809f61eae9f33a887bff24308");
	/* One byte of the body more, and the signature is another. */
	char body2[400];
	snprintf(body2, sizeof(body2), "%s ", body);
	cr_assert_eq(nt_tc3_authorization("AKIDmailroomexample", "mailroom-example-secret",
	                                  "sms.tencentcloudapi.com", "SendSms", 1764900000, body2,
	                                  auth, sizeof(auth)),
	             0);
	cr_expect_not(strstr(auth, "5e952b6ec521deb1"));
}

Test(smtp, the_mail_as_sent)
{
	static struct pb_conf c;
	Mailroom__NoticeEntry e = MAILROOM__NOTICE_ENTRY__INIT;
	struct nt_msg m = {.subject = "【测试市人民政府】您的来信已受理，查询码 1234-5678-9012"};
	char *p;

	cr_assert(sodium_init() >= 0);
	pb_conf_defaults(&c);
	snprintf(c.smtp_from, sizeof(c.smtp_from), "测试市政府信箱 <noreply@gov.example.cn>");
	e.to = "zhangsan@example.cn";
	e.event_id = "0123-7-receipt-email";
	m.text = "您好：\n查询码：1234-5678-9012";
	cr_assert_not_null(p = nt_smtp_payload(&c, &e, &m, 1764900000000LL));
	cr_expect(strstr(p, "Date: Fri, 05 Dec 2025 02:00:00 +0000\r\n"), "%s", p);
	cr_expect(strstr(p, "\r\nTo: <zhangsan@example.cn>\r\n"), "%s", p);
	cr_expect(strstr(p, "\r\nFrom: =?UTF-8?B?"), "%s", p);
	cr_expect(strstr(p, "?= <noreply@gov.example.cn>\r\n"), "%s", p);
	cr_expect(strstr(p, "\r\nMessage-ID: <0123-7-receipt-email@gov.example.cn>\r\n"), "%s", p);
	cr_expect(strstr(p, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n"));
	/* Every header line is ASCII and short, whatever the subject's length. */
	char *end = strstr(p, "\r\n\r\n");
	cr_assert_not_null(end);
	for (char *s = p; s < end; s++)
		cr_assert_lt((unsigned char)*s, 0x80, "non-ASCII header byte at %ld", (long)(s - p));
	for (char *s = p, *nl; s < end; s = nl + 2) {
		nl = strstr(s, "\r\n");
		cr_expect_leq(nl - s, 78, "header line over 78: %.*s", (int)(nl - s), s);
	}
	/* The body decodes to the UTF-8 text. */
	uint8_t dec[256];
	size_t declen;
	char b64[256] = "";
	for (char *s = end + 4, *nl; (nl = strstr(s, "\r\n")); s = nl + 2)
		strncat(b64, s, (size_t)(nl - s));
	cr_assert_eq(sodium_base642bin(dec, sizeof(dec), b64, strlen(b64), NULL, &declen, NULL,
	                               sodium_base64_VARIANT_ORIGINAL),
	             0);
	cr_expect(declen == strlen(m.text) && memcmp(dec, m.text, declen) == 0);
	free(p);
}
