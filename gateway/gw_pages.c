/* The citizen's web pages: the home page, a form per channel, the
 * confirmation, /track, the display-mode switch and the stylesheet.
 * Plain HTML forms and server-rendered answers: nothing needs JavaScript.
 *
 * A form submission becomes the very JSON request the API takes and goes
 * through the same pj_ parser and the same router call, so it is checked
 * and committed exactly as POST /v1/messages is. Each form carries a
 * one-time token "N.MAC": N is random, MAC binds it to the mr_csrf cookie
 * (so it is also the CSRF check), and the router indexes hash(N) with the
 * message in the same transaction, so a double click, a reload or a retry
 * gives the first message back. The access key is derived from the page
 * key and N, so a repeat shows the same key; only the browser that holds
 * both the token and its cookie can repeat. */
#include "gw.h"
#include "gw_web.h"
#include "pb_err.h"
#include "pb_ftype.h"
#include "pb_log.h"
#include "pb_time.h"
#include "pb_utf8.h"
#include "pj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSRF_COOKIE "mr_csrf"
#define VIEW_COOKIE "mr_view"
#define NONCE_HEX 32            /* N: 16 random bytes */
#define MAC_HEX 32
#define TOKEN_LEN (NONCE_HEX + 1 + MAC_HEX)
#define COOKIE_LEN 22           /* 16 bytes, base64url */

extern const unsigned char gw_css[];
extern const unsigned long gw_css_len;

enum { PG_HOME, PG_FORM, PG_TRACK, PG_DISPLAY, PG_STATIC, PG_PUBLIC };

/* The rating form carries the access key's hash sealed under a key bound
 * to this browser's cookie and the code: never the key, never in clear. */
#define SEAL_RAW (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + PB_AKEY_HASH_LEN)
#define SEAL_TEXT 128

static const struct channel_page {
	const char *path;
	int channel;
	const char *title;
	const char *purpose;
} channels[] = {
	{"/mailbox", PB_CH_MAILBOX, "局长信箱",
	 "给局长写信：反映问题，提出意见和建议。"},
	{"/consultation", PB_CH_CONSULTATION, "在线咨询",
	 "咨询政策规定、办事条件、流程和所需材料。"},
	{"/complaint", PB_CH_COMPLAINT, "监督投诉",
	 "投诉工作人员的服务态度、办事效率或违法违规行为。"},
	{"/disclosure", PB_CH_DISCLOSURE, "依申请公开",
	 "依照《政府信息公开条例》，申请公开本机关的政府信息。"},
};
#define NCHANNELS (sizeof(channels) / sizeof(channels[0]))

/* ------------------------------------------------------------ fields -- */

enum { F_TEXT, F_AREA, F_SELECT, F_RADIO, F_FILE };

struct opt {
	const char *value, *label;
};

struct field {
	const char *name, *label, *hint;
	int kind;
	const char *type;           /* input type */
	const char *autocomplete;
	int required, maxlen;
	const struct opt *opts;     /* select and radio; the first is the default */
};

static const struct opt notice_opts[] = {
	{"on", "受理、转办、延期和答复时发短信或邮件告诉我"}, {"off", "不用通知我"}, {NULL, NULL}};
static const struct opt track_notice_opts[] = {
	{"keep", "照常接收"}, {"off", "今后不再接收"}, {NULL, NULL}};

static const struct field message_fields[] = {
	{"subject", "标题", "用一句话说明事情，例如：小区东门路灯不亮。", F_TEXT, "text", "off", 1, 200, NULL},
	{"body", "内容", "写清楚时间、地点、经过和您的要求。", F_AREA, NULL, NULL, 1, 10000, NULL},
	{"name", "姓名", NULL, F_TEXT, "text", "name", 0, 50, NULL},
	{"phone", "联系电话", "手机号码，或带区号的固定电话。只用于联系您，不会公开。", F_TEXT, "tel", "tel", 0, 32, NULL},
	{"email", "电子邮箱", NULL, F_TEXT, "email", "email", 0, 254, NULL},
	{"notices", "办理进展通知", "发到上面填写的手机或邮箱；通知里只有查询码，没有查询密钥。", F_RADIO, NULL, NULL, 0, 0, notice_opts},
	/* The hint is written with the configured limits (render_field). */
	{"files", "附件", NULL, F_FILE, "file", NULL, 0, 0, NULL},
};

static const struct opt kind_opts[] = {
	{"natural_person", "公民"}, {"commercial_enterprise", "企业"},
	{"research_institution", "科研机构"}, {"social_welfare_org", "社会公益组织"},
	{"legal_service_org", "法律服务机构"}, {"other_org", "其他组织"}, {NULL, NULL}};
static const struct opt id_opts[] = {
	{"resident_id", "居民身份证"}, {"passport", "护照"},
	{"uscc", "统一社会信用代码"}, {"other", "其他证件"}, {NULL, NULL}};
static const struct opt form_opts[] = {
	{"electronic", "电子文件"}, {"paper", "纸质文件"}, {NULL, NULL}};
static const struct opt delivery_opts[] = {
	{"email", "电子邮件"}, {"online", "网上查看"}, {"post", "邮寄"},
	{"pickup", "到本机关领取"}, {NULL, NULL}};

static const struct field disclosure_fields[] = {
	{"kind", "申请人类型", NULL, F_SELECT, NULL, NULL, 1, 0, kind_opts},
	{"name", "姓名或单位名称", NULL, F_TEXT, "text", "name", 1, 100, NULL},
	{"id_type", "证件类型", NULL, F_SELECT, NULL, NULL, 1, 0, id_opts},
	{"id_number", "证件号码", "身份证为 18 位，最后一位可能是 X。", F_TEXT, "text", "off", 1, 64, NULL},
	{"phone", "联系电话", "电话、电子邮箱、通信地址至少填一项。", F_TEXT, "tel", "tel", 0, 32, NULL},
	{"email", "电子邮箱", NULL, F_TEXT, "email", "email", 0, 254, NULL},
	{"address", "通信地址", NULL, F_TEXT, "text", "street-address", 0, 200, NULL},
	{"description", "所需信息的内容描述", "写明信息的名称、文号，或便于查找的特征。", F_AREA, NULL, NULL, 1, 5000, NULL},
	{"purpose", "用途", NULL, F_AREA, NULL, NULL, 0, 500, NULL},
	{"form", "获取信息的形式", NULL, F_RADIO, NULL, NULL, 1, 0, form_opts},
	{"delivery", "获取信息的方式", NULL, F_SELECT, NULL, NULL, 1, 0, delivery_opts},
	{"notices", "办理进展通知", "发到上面填写的手机或邮箱；通知里只有查询码，没有查询密钥。", F_RADIO, NULL, NULL, 0, 0, notice_opts},
};

static const struct field track_fields[] = {
	{"code", "查询码", "12 位数字，例如 3141-5926-5358。", F_TEXT, "text", "off", 1, 20, NULL},
	{"key", "查询密钥", "提交时页面上显示的 32 位字母和数字（中间的空格可以不输入）。", F_TEXT, "password", "off", 1, 64, NULL},
	{"notices", "短信和邮件通知", NULL, F_RADIO, NULL, NULL, 0, 0, track_notice_opts},
};

#define NFIELDS(a) (sizeof(a) / sizeof(a[0]))

/* ------------------------------------------------------- page state -- */

struct gw_page {
	int kind;
	const struct channel_page *ch;
	struct gw_form form;
	int has_form;
	char cookie[COOKIE_LEN + 1];
	int new_cookie;             /* Set-Cookie on the answer */
	int large;
	char nonce[NONCE_HEX + 1];
	char akey[PB_AKEY_TEXT_LEN + 1];
	char code[PB_TRACK_TEXT_LEN + 1];
	int retry_after;            /* seconds, for a 429 */
	uint8_t akey_hash[PB_AKEY_HASH_LEN];   /* /track: for the rating form's seal */
	int rating;                 /* /track: this post is a rating */
	int download;               /* /track: this post asks for a reply's file */
	int receipt;                /* /track: this post asks for the receipt */
	/* a form's files, sent to the router one by one before the message
	 * that names them (gw_upload.c's chunks, here on the page's call) */
	struct gw_files files;
	int uploading, nfile;
	size_t up_off;
	uint32_t up_seq;
	uint8_t up_id[16];
	char handles[GW_FILES_MAX][65];
};

void gw_page_free(struct gw_page *p)
{
	if (!p)
		return;
	gw_form_free(&p->form);
	sodium_memzero(p, sizeof(*p));
	free(p);
}

/* ------------------------------------------------------------ tokens -- */

void gw_pages_init(struct gw *g, const uint8_t *secret, size_t len)
{
	static const uint8_t domain[] = "mailroom/gateway/pages/v1";
	uint8_t h[16];
	char hex[33];

	crypto_generichash(g->page_key, sizeof(g->page_key), domain, sizeof(domain) - 1, secret, len);
	crypto_generichash(h, sizeof(h), gw_css, gw_css_len, NULL, 0);
	pb_hex(h, 6, hex);
	snprintf(g->css_path, sizeof(g->css_path), "/static/site-%s.css", hex);
}

static void keyed(const struct gw *g, const char *domain, const char *a, const char *b,
                  uint8_t *out, size_t outlen)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, g->page_key, sizeof(g->page_key), outlen);
	crypto_generichash_update(&st, (const uint8_t *)domain, strlen(domain) + 1);
	crypto_generichash_update(&st, (const uint8_t *)a, strlen(a) + 1);
	crypto_generichash_update(&st, (const uint8_t *)b, strlen(b));
	crypto_generichash_final(&st, out, outlen);
}

static void token_of(const struct gw *g, const char *cookie, const char *nonce, char *out)
{
	uint8_t mac[MAC_HEX / 2];

	keyed(g, "csrf", cookie, nonce, mac, sizeof(mac));
	memcpy(out, nonce, NONCE_HEX);
	out[NONCE_HEX] = '.';
	pb_hex(mac, sizeof(mac), out + NONCE_HEX + 1);
}

static void new_nonce(char *nonce)
{
	uint8_t raw[NONCE_HEX / 2];

	randombytes_buf(raw, sizeof(raw));
	pb_hex(raw, sizeof(raw), nonce);
}

/* The token is ours and bound to this browser's cookie: N into p->nonce. */
static int token_ok(const struct gw *g, struct gw_page *p, const char *token)
{
	char want[TOKEN_LEN + 1];

	if (p->new_cookie || !token || strlen(token) != TOKEN_LEN || token[NONCE_HEX] != '.')
		return 0;
	for (int i = 0; i < NONCE_HEX; i++)
		if (!((token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f')))
			return 0;
	memcpy(p->nonce, token, NONCE_HEX);
	p->nonce[NONCE_HEX] = '\0';
	token_of(g, p->cookie, p->nonce, want);
	return sodium_memcmp(want, token, TOKEN_LEN) == 0;
}

/* The same text form as pb_akey_new, from 24 derived bytes. */
void gw_akey_derive(const struct gw *g, const char *domain, const char *a, const char *b,
                    char *akey)
{
	uint8_t raw[24];

	keyed(g, domain, a, b, raw, sizeof(raw));
	sodium_bin2base64(akey, PB_AKEY_TEXT_LEN + 1, raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

static void seal_key(const struct gw *g, const struct gw_page *p, uint8_t k[crypto_secretbox_KEYBYTES])
{
	keyed(g, "rate-seal", p->cookie, p->code, k, crypto_secretbox_KEYBYTES);
}

static void seal_of(const struct gw *g, const struct gw_page *p, char out[SEAL_TEXT])
{
	uint8_t raw[SEAL_RAW], k[crypto_secretbox_KEYBYTES];

	seal_key(g, p, k);
	randombytes_buf(raw, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(raw + crypto_secretbox_NONCEBYTES, p->akey_hash, PB_AKEY_HASH_LEN, raw, k);
	sodium_bin2base64(out, SEAL_TEXT, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(k, sizeof(k));
}

/* 0 with p->akey_hash set when the seal is ours, for this cookie and code. */
static int seal_open(const struct gw *g, struct gw_page *p, const char *text)
{
	uint8_t raw[SEAL_RAW], k[crypto_secretbox_KEYBYTES];
	size_t n = 0;
	int rc;

	if (!text || sodium_base642bin(raw, sizeof(raw), text, strlen(text), NULL, &n, NULL,
	                               sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
	    n != sizeof(raw))
		return -1;
	seal_key(g, p, k);
	rc = crypto_secretbox_open_easy(p->akey_hash, raw + crypto_secretbox_NONCEBYTES,
	                                sizeof(raw) - crypto_secretbox_NONCEBYTES, raw, k);
	sodium_memzero(k, sizeof(k));
	return rc;
}

/* The hidden fields of a form on a page that proved the key: a fresh
 * token, the code and the key's hash sealed (never the key). One per
 * form, so each button works on its own. */
static void sealed_fields(struct gw_buf *b, struct gw_req *r, struct gw_page *p)
{
	char token[TOKEN_LEN + 1], seal[SEAL_TEXT];

	new_nonce(p->nonce);
	token_of(r->g, p->cookie, p->nonce, token);
	seal_of(r->g, p, seal);
	gw_buf_str(b, "<input type=\"hidden\" name=\"token\" value=\"");
	gw_html(b, token);
	gw_buf_str(b, "\">\n<input type=\"hidden\" name=\"code\" value=\"");
	gw_html(b, p->code);
	gw_buf_str(b, "\">\n<input type=\"hidden\" name=\"seal\" value=\"");
	gw_html(b, seal);
	gw_buf_str(b, "\">\n");
}

/* The receipt's line and button, on the confirmation and the status page:
 * the button posts to /track like the reply's files (see sealed_fields). */
static void receipt_form(struct gw_buf *b, struct gw_req *r, struct gw_page *p)
{
	gw_buf_str(b, "<h2 id=\"receipt-title\">收件凭证</h2>\n"
	              "<p>收到这封信的记录已经登记，并有电子签名。本机关不能暗中修改或删除这条记录。</p>\n"
	              "<form method=\"post\" action=\"/track\" accept-charset=\"utf-8\" id=\"receipt\">\n");
	sealed_fields(b, r, p);
	gw_buf_str(b, "<input type=\"hidden\" name=\"receipt\" value=\"1\">\n"
	              "<button type=\"submit\" class=\"button secondary\">下载收件凭证</button>\n</form>\n"
	              "<p class=\"hint\">凭证是一个文本文件，律师或审计人员可以用它核对这条记录；一般不需要下载。</p>\n");
}

static void cookie_of(struct gw_req *r, struct gw_page *p)
{
	const char *c = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, CSRF_COOKIE);
	static const char b64[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

	if (c && strlen(c) == COOKIE_LEN && strspn(c, b64) == COOKIE_LEN) {
		memcpy(p->cookie, c, COOKIE_LEN + 1);
	} else {
		uint8_t raw[16];
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2base64(p->cookie, sizeof(p->cookie), raw, sizeof(raw),
		                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		p->new_cookie = 1;
	}
	c = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, VIEW_COOKIE);
	p->large = c && strcmp(c, "large") == 0;
}

/* ------------------------------------------------------------ layout -- */

static void fmt_time(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000 + 8 * 3600;   /* Asia/Shanghai, no summer time */
	int32_t day = (int32_t)(s / 86400 - (s % 86400 < 0));
	int64_t sec = s - (int64_t)day * 86400;
	int y, m, d;

	pb_civil_from_days(day, &y, &m, &d);
	snprintf(buf, len, "%d年%d月%d日 %02d:%02d", y, m, d, (int)(sec / 3600),
	         (int)(sec / 60 % 60));
}

static void fmt_date(int64_t ms, char *buf, size_t len)
{
	fmt_time(ms, buf, len);
	char *sp = strchr(buf, ' ');
	if (sp)
		*sp = '\0';
}

/* "15 个工作日" or "24 小时"; "" when the policy sets none. */
static void clock_text(const struct pb_clock *k, char *buf, size_t len)
{
	if (k->hours > 0)
		snprintf(buf, len, "%d 小时", k->hours);
	else if (k->working_days > 0)
		snprintf(buf, len, "%d 个工作日", k->working_days);
	else
		buf[0] = '\0';
}

static void head(struct gw_buf *b, struct gw_req *r, struct gw_page *p, const char *title,
                 const char *back)
{
	gw_buf_str(b, "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
	              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
	gw_html(b, title);
	gw_buf_str(b, " - ");
	gw_html(b, r->g->conf.office_name);
	gw_buf_str(b, "</title>\n<link rel=\"stylesheet\" href=\"");
	gw_html(b, r->g->css_path);
	gw_buf_str(b, "\">\n</head>\n<body");
	if (p->large)
		gw_buf_str(b, " class=\"large\"");
	gw_buf_str(b, ">\n<a class=\"skip\" href=\"#main\">跳到正文</a>\n<header>\n<p class=\"office\"><a href=\"/\">");
	gw_html(b, r->g->conf.office_name);
	gw_buf_str(b, "</a></p>\n");
	if (back) {
		gw_buf_str(b, "<p class=\"mode\"><a href=\"/display?mode=");
		gw_buf_str(b, p->large ? "normal" : "large");
		gw_buf_str(b, "&amp;back=");
		gw_html(b, back);
		gw_buf_str(b, p->large ? "\">改用标准字号</a></p>\n" : "\">改用大字号、高对比</a></p>\n");
	}
	gw_buf_str(b, "</header>\n<main id=\"main\">\n<h1>");
	gw_html(b, title);
	gw_buf_str(b, "</h1>\n");
}

static void foot(struct gw_buf *b)
{
	gw_buf_str(b, "</main>\n<footer>\n<p><a href=\"/\">返回首页</a>　<a href=\"/track\">查询办理进度</a>　"
	              "<a href=\"/answers\">公开答复</a>　<a href=\"/stats\">办理情况统计</a></p>\n"
	              "</footer>\n</body>\n</html>\n");
}

static enum MHD_Result send_page(struct gw_req *r, struct gw_page *p, unsigned status,
                                 struct gw_buf *b, int retry)
{
	char cookie[128], secs[16];
	struct gw_hdr h[8] = {
		{"Content-Security-Policy",
		 "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
		 "base-uri 'none'; frame-ancestors 'none'"},
		{"X-Content-Type-Options", "nosniff"},
		{"Referrer-Policy", "no-referrer"},
		{"X-Frame-Options", "DENY"},
	};
	size_t n = 4;

	if (b->failed) {
		gw_buf_free(b);
		return MHD_NO;
	}
	if (p && p->new_cookie) {
		snprintf(cookie, sizeof(cookie), CSRF_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict",
		         p->cookie);
		h[n++] = (struct gw_hdr){MHD_HTTP_HEADER_SET_COOKIE, cookie};
	}
	if (retry || (p && p->retry_after)) {
		snprintf(secs, sizeof(secs), "%d", p && p->retry_after ? p->retry_after : 1);
		h[n++] = (struct gw_hdr){MHD_HTTP_HEADER_RETRY_AFTER, secs};
	}
	return gw_send_body(r, status, b->p, b->len, "text/html; charset=utf-8", h, n);
}

/* A page with one paragraph, for refusals that have no form to show. */
static enum MHD_Result simple_page(struct gw_req *r, struct gw_page *p, unsigned status,
                                   const char *title, const char *text)
{
	struct gw_buf b = {0};

	head(&b, r, p, title, NULL);
	gw_buf_str(&b, "<p class=\"lead\">");
	gw_html(&b, text);
	gw_buf_str(&b, "</p>\n");
	foot(&b);
	return send_page(r, p, status, &b, status == MHD_HTTP_SERVICE_UNAVAILABLE);
}

/* -------------------------------------------------------------- home -- */

static void channel_times(const struct gw *g, int ch, char *buf, size_t len)
{
	char ack[32], reply[32];

	clock_text(&g->conf.policy.ack[ch], ack, sizeof(ack));
	clock_text(&g->conf.policy.reply[ch], reply, sizeof(reply));
	if (ch == PB_CH_DISCLOSURE && g->conf.policy.extend_times[ch] > 0)
		snprintf(buf, len, "收到申请后 %s内答复；需要延长的，经批准最多再延长 %d 个工作日，并告知您。",
		         reply, g->conf.policy.extend_max[ch]);
	else if (*ack)
		snprintf(buf, len, "%s内签收，%s内答复（节假日不计，调休上班日计入）。", ack, reply);
	else
		snprintf(buf, len, "%s内答复（节假日不计，调休上班日计入）。", reply);
}

static enum MHD_Result home(struct gw_req *r, struct gw_page *p)
{
	struct gw_buf b = {0};
	char times[256];

	head(&b, r, p, "网上办事", "/");
	gw_buf_str(&b, "<p class=\"lead\">请选择您要办理的事项。每一项都可以只用键盘填写，不需要注册。</p>\n<ul class=\"ways\">\n");
	for (size_t i = 0; i < NCHANNELS; i++) {
		channel_times(r->g, channels[i].channel, times, sizeof(times));
		gw_buf_str(&b, "<li>\n<h2><a href=\"");
		gw_html(&b, channels[i].path);
		gw_buf_str(&b, "\">");
		gw_html(&b, channels[i].title);
		gw_buf_str(&b, "</a></h2>\n<p>");
		gw_html(&b, channels[i].purpose);
		gw_buf_str(&b, "</p>\n<p class=\"time\"><strong>办理时限：</strong>");
		gw_html(&b, times);
		gw_buf_str(&b, "</p>\n</li>\n");
	}
	gw_buf_str(&b, "</ul>\n<h2>已经提交过？</h2>\n<p><a class=\"button secondary\" href=\"/track\">查询办理进度和答复</a></p>\n");
	foot(&b);
	return send_page(r, p, MHD_HTTP_OK, &b, 0);
}

/* ------------------------------------------------------------- forms -- */

static const char *field_error(const struct gw_ferrs *e, const char *name)
{
	for (int i = 0; e && i < e->n; i++)
		if (strcmp(e->e[i].field, name) == 0)
			return e->e[i].msg;
	return NULL;
}

static void render_field(struct gw_buf *b, const struct field *f, const char *value,
                         const char *err)
{
	int group = f->kind == F_RADIO;

	gw_buf_str(b, err ? "<div class=\"field has-error\">\n" : "<div class=\"field\">\n");
	gw_buf_str(b, group ? "<fieldset>\n<legend>" : "<label for=\"f-");
	if (!group) {
		gw_html(b, f->name);
		gw_buf_str(b, "\">");
	}
	gw_html(b, f->label);
	gw_buf_str(b, f->required ? "<span class=\"req\">（必填）</span>" : "<span class=\"opt\">（选填）</span>");
	gw_buf_str(b, group ? "</legend>\n" : "</label>\n");
	if (f->hint) {
		gw_buf_fmt(b, "<p class=\"hint\" id=\"h-%s\">", f->name);
		gw_html(b, f->hint);
		gw_buf_str(b, "</p>\n");
	}
	if (err) {
		gw_buf_fmt(b, "<p class=\"error\" id=\"e-%s\"><strong>请修改：</strong>", f->name);
		gw_html(b, err);
		gw_buf_str(b, "</p>\n");
	}
	/* Describes the control: its hint and its error. */
	char desc[96] = "";
	if (f->hint || err)
		snprintf(desc, sizeof(desc), " aria-describedby=\"%s%s%s%s\"", f->hint ? "h-" : "",
		         f->hint ? f->name : "", err ? (f->hint ? " e-" : "e-") : "", err ? f->name : "");
	const char *inv = err ? " aria-invalid=\"true\"" : "";
	const char *req = f->required ? " aria-required=\"true\"" : "";
	switch (f->kind) {
	case F_TEXT:
		gw_buf_fmt(b, "<input id=\"f-%s\" name=\"%s\" type=\"%s\" maxlength=\"%d\" autocomplete=\"%s\"%s%s%s value=\"",
		           f->name, f->name, f->type, f->maxlen, f->autocomplete, desc, inv, req);
		gw_html(b, value);
		gw_buf_str(b, "\">\n");
		break;
	case F_AREA:
		gw_buf_fmt(b, "<textarea id=\"f-%s\" name=\"%s\" rows=\"8\" maxlength=\"%d\"%s%s%s>", f->name,
		           f->name, f->maxlen, desc, inv, req);
		/* A leading newline would be eaten by the parser. */
		if (value && value[0] == '\n')
			gw_buf_str(b, "\n");
		gw_html(b, value);
		gw_buf_str(b, "</textarea>\n");
		break;
	case F_FILE:
		/* Never prefilled: a browser keeps no file across pages. */
		gw_buf_fmt(b, "<input id=\"f-%s\" name=\"%s\" type=\"file\" multiple "
		              "accept=\"image/jpeg,image/png,application/pdf\"%s%s>\n",
		           f->name, f->name, desc, inv);
		break;
	case F_SELECT:
		gw_buf_fmt(b, "<select id=\"f-%s\" name=\"%s\"%s%s%s>\n", f->name, f->name, desc, inv, req);
		for (const struct opt *o = f->opts; o->value; o++) {
			int sel = value ? strcmp(value, o->value) == 0 : o == f->opts;
			gw_buf_fmt(b, "<option value=\"%s\"%s>", o->value, sel ? " selected" : "");
			gw_html(b, o->label);
			gw_buf_str(b, "</option>\n");
		}
		gw_buf_str(b, "</select>\n");
		break;
	default:
		for (const struct opt *o = f->opts; o->value; o++) {
			int sel = value ? strcmp(value, o->value) == 0 : o == f->opts;
			gw_buf_str(b, "<label class=\"choice\"><input type=\"radio\" name=\"");
			gw_html(b, f->name);
			if (o == f->opts)
				gw_buf_fmt(b, "\" id=\"f-%s", f->name);
			gw_buf_fmt(b, "\" value=\"%s\"%s%s> ", o->value, sel ? " checked" : "", desc);
			gw_html(b, o->label);
			gw_buf_str(b, "</label>\n");
		}
		break;
	}
	gw_buf_str(b, group ? "</fieldset>\n</div>\n" : "</div>\n");
}

/* The summary at the top: each error links to its field. */
static void render_errors(struct gw_buf *b, const char *general, const struct gw_ferrs *e,
                          const struct field *fields, size_t nfields)
{
	if (!general && (!e || e->n == 0))
		return;
	gw_buf_str(b, "<div class=\"alert\" role=\"alert\" tabindex=\"-1\" id=\"alert\">\n<h2>");
	gw_buf_str(b, e && e->n ? "请修改以下内容后再提交" : "没有提交成功");
	gw_buf_str(b, "</h2>\n");
	if (general) {
		gw_buf_str(b, "<p>");
		gw_html(b, general);
		gw_buf_str(b, "</p>\n");
	}
	if (e && e->n) {
		gw_buf_str(b, "<ul>\n");
		for (int i = 0; i < e->n; i++) {
			const char *label = NULL;
			for (size_t k = 0; k < nfields; k++)
				if (strcmp(fields[k].name, e->e[i].field) == 0)
					label = fields[k].label;
			gw_buf_str(b, "<li>");
			if (label) {
				gw_buf_str(b, "<a href=\"#f-");
				gw_html(b, e->e[i].field);
				gw_buf_str(b, "\">");
				gw_html(b, label);
				gw_buf_str(b, "：");
			}
			gw_html(b, e->e[i].msg);
			gw_buf_str(b, label ? "</a></li>\n" : "</li>\n");
		}
		gw_buf_str(b, "</ul>\n");
	}
	gw_buf_str(b, "</div>\n");
}

static void fields_of(const struct gw_page *p, const struct field **f, size_t *n)
{
	if (p->kind == PG_TRACK) {
		*f = track_fields;
		*n = NFIELDS(track_fields);
	} else if (p->ch->channel == PB_CH_DISCLOSURE) {
		*f = disclosure_fields;
		*n = NFIELDS(disclosure_fields);
	} else {
		*f = message_fields;
		*n = NFIELDS(message_fields);
	}
}

/* The form, with what the citizen typed (form may be NULL), the errors
 * and a token bound to the cookie: the one posted, or a new one. */
static enum MHD_Result form_page(struct gw_req *r, struct gw_page *p, unsigned status,
                                 const char *general, const struct gw_ferrs *errs,
                                 const struct gw_form *form)
{
	const struct field *fields;
	size_t nfields;
	struct gw_buf b = {0};
	char token[TOKEN_LEN + 1], times[256];
	const char *path = p->kind == PG_TRACK ? "/track" : p->ch->path;

	fields_of(p, &fields, &nfields);
	if (!p->nonce[0])
		new_nonce(p->nonce);
	token_of(r->g, p->cookie, p->nonce, token);
	head(&b, r, p, p->kind == PG_TRACK ? "查询办理进度" : p->ch->title, path);
	render_errors(&b, general, errs, fields, nfields);
	if (p->kind == PG_TRACK) {
		gw_buf_str(&b, "<p class=\"lead\">请输入提交时得到的查询码和查询密钥。</p>\n");
	} else {
		channel_times(r->g, p->ch->channel, times, sizeof(times));
		gw_buf_str(&b, "<p class=\"lead\">");
		gw_html(&b, p->ch->purpose);
		gw_buf_str(&b, "</p>\n<p><strong>办理时限：</strong>");
		gw_html(&b, times);
		gw_buf_str(&b, p->ch->channel == PB_CH_DISCLOSURE
		                   ? "</p>\n<p>标有“必填”的必须填写。您的姓名、证件和联系方式加密保存，只有承办人员能看到。</p>\n"
		                   : "</p>\n<p>标有“必填”的必须填写。您的姓名和联系方式加密保存，只有承办人员能看到。</p>\n");
	}
	int files = p->kind == PG_FORM && p->ch->channel != PB_CH_DISCLOSURE;
	gw_buf_str(&b, "<form method=\"post\" action=\"");
	gw_html(&b, path);
	gw_buf_str(&b, files ? "\" enctype=\"multipart/form-data\" accept-charset=\"utf-8\">\n"
	                     : "\" accept-charset=\"utf-8\">\n");
	gw_buf_str(&b, "<input type=\"hidden\" name=\"token\" value=\"");
	gw_html(&b, token);
	gw_buf_str(&b, "\">\n");
	for (size_t i = 0; i < nfields; i++) {
		/* The key is never sent back into a page. */
		int secret = p->kind == PG_TRACK && strcmp(fields[i].name, "key") == 0;
		const char *v = form && !secret ? gw_form_get(form, fields[i].name) : NULL;
		if (!v && (fields[i].kind == F_TEXT || fields[i].kind == F_AREA))
			v = "";
		if (fields[i].kind == F_FILE) {
			struct field ff = fields[i];
			char hint[256];
			const struct pb_conf *c = &r->g->conf;
			if (c->attach_max_files == 0)
				continue;
			snprintf(hint, sizeof(hint),
			         "最多 %d 个文件，每个不超过 %zu KB，只能是 JPEG、PNG 图片或 PDF 文件。"
			         "页面退回修改时，请重新选择附件。",
			         c->attach_max_files, c->attach_max_bytes / 1024);
			ff.hint = hint;
			render_field(&b, &ff, NULL, field_error(errs, ff.name));
			continue;
		}
		render_field(&b, &fields[i], v, field_error(errs, fields[i].name));
	}
	gw_buf_str(&b, p->kind == PG_TRACK ? "<button type=\"submit\">查询</button>\n</form>\n"
	                                   : "<button type=\"submit\">提交</button>\n</form>\n");
	foot(&b);
	return send_page(r, p, status, &b, status == MHD_HTTP_SERVICE_UNAVAILABLE);
}

/* ------------------------------------------------------ submissions -- */

#define PENDING_TEXT "系统还没有确认您的信件是否已经登记。请稍等一会儿再点“提交”：已经登记的会显示查询码，不会重复登记。"
#define UNAVAILABLE_TEXT "系统暂时无法受理，您的信件没有提交。您填写的内容都还在下面，请稍等一会儿再点“提交”。"

static const char *const form_skip[] = {"token", NULL};

/* The message itself, once its files (if any) are stored: the form as
 * the API's JSON, with the files' handles, through the API's parser. */
static enum MHD_Result send_submit(struct gw_req *r, struct gw_page *p)
{
	Mailroom__SubmitReq sub;
	Mailroom__Contact contact;
	struct pj_disclosure d;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	struct pj_error perr;
	struct gw_ferrs errs = {0};
	uint8_t akey_hash[PB_AKEY_HASH_LEN], idem[32], body_hash[32];
	const char *handles[GW_FILES_MAX];
	size_t nhandles = 0;
	json_t *doc, *root = NULL, *arr;
	char *text;
	int rc;

	doc = gw_form_request(p->ch->channel, &p->form, form_skip, &errs);
	if (!doc) {
		if (errs.n == 0)
			return MHD_NO;
		return form_page(r, p, MHD_HTTP_BAD_REQUEST, NULL, &errs, &p->form);
	}
	if (p->files.n) {
		if (!(arr = json_array()) || json_object_set_new(doc, "attachments", arr)) {
			json_decref(doc);
			return MHD_NO;
		}
		for (int i = 0; i < p->files.n; i++)
			if (json_array_append_new(arr, json_string(p->handles[i]))) {
				json_decref(doc);
				return MHD_NO;
			}
	}
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!text)
		return MHD_NO;
	/* The API's own parser: the form is held to the same rules. */
	if (p->ch->channel == PB_CH_DISCLOSURE)
		rc = pj_parse_disclosure(text, strlen(text), &root, &sub, &d, &perr);
	else
		rc = pj_parse_message(text, strlen(text), &root, &sub, &contact, &perr) ||
		     pj_parse_attachments(root, handles, GW_FILES_MAX, &nhandles, &perr);
	if (rc) {
		sodium_memzero(text, strlen(text));
		free(text);
		json_decref(root);
		pb_info("pages: form refused by the JSON rules: %s", perr.code);
		return form_page(r, p, MHD_HTTP_BAD_REQUEST, "提交的内容不符合要求，请核对后再提交。", NULL,
		                 &p->form);
	}
	if (nhandles) {
		sub.attachments = (char **)handles;
		sub.n_attachments = nhandles;
	}
	crypto_generichash(body_hash, sizeof(body_hash), (const uint8_t *)text, strlen(text), NULL, 0);
	sodium_memzero(text, strlen(text));
	free(text);
	crypto_generichash(idem, sizeof(idem), (const uint8_t *)p->nonce, NONCE_HEX,
	                   (const uint8_t *)"mailroom/idem/form", 18);
	gw_akey_derive(r->g, "akey/form", p->nonce, "", p->akey);
	pb_akey_hash(p->akey, strlen(p->akey), akey_hash);
	sub.access_key_hash.data = akey_hash;
	sub.access_key_hash.len = sizeof(akey_hash);
	sub.idem_key.data = idem;
	sub.idem_key.len = sizeof(idem);
	sub.idem_body.data = body_hash;
	sub.idem_body.len = sizeof(body_hash);
	req.op_case = MAILROOM__REQUEST__OP_SUBMIT;
	req.submit = &sub;
	rc = gw_start_call(r, &req);
	json_decref(root);
	sodium_memzero(&d, sizeof(d));
	if (rc != PB_OK)
		return form_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, UNAVAILABLE_TEXT, NULL, &p->form);
	return MHD_YES;
}

#define UPLOAD_CHUNK (512u << 10)   /* as gw_upload.c: well under the wire limit */
#define FILES_AGAIN "请重新选择附件。"

/* The next piece of the file being sent. */
static enum MHD_Result next_chunk(struct gw_req *r, struct gw_page *p)
{
	Mailroom__UploadReq up = MAILROOM__UPLOAD_REQ__INIT;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	size_t len = p->files.f[p->nfile].len;
	size_t n = len - p->up_off > UPLOAD_CHUNK ? UPLOAD_CHUNK : len - p->up_off;

	up.upload_id.data = p->up_id;
	up.upload_id.len = sizeof(p->up_id);
	up.seq = p->up_seq++;
	up.data.data = (uint8_t *)p->files.f[p->nfile].data + p->up_off;
	up.data.len = n;
	up.final = p->up_off + n == len;
	p->up_off += n;
	req.op_case = MAILROOM__REQUEST__OP_UPLOAD;
	req.upload = &up;
	if (gw_start_call(r, &req) != PB_OK) {
		p->uploading = 0;
		return form_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, UNAVAILABLE_TEXT " " FILES_AGAIN,
		                 NULL, &p->form);
	}
	return MHD_YES;
}

static enum MHD_Result start_file(struct gw_req *r, struct gw_page *p)
{
	randombytes_buf(p->up_id, sizeof(p->up_id));
	p->up_off = 0;
	p->up_seq = 0;
	return next_chunk(r, p);
}

/* The files against [attachments], by content: a status and the error
 * next to the field, or 0 when they may go. */
static unsigned check_files(const struct gw *g, const struct gw_page *p, struct gw_ferrs *e)
{
	const struct pb_conf *c = &g->conf;
	static const char *const msg[] = {
		"附件太多了。" FILES_AGAIN,
		"有附件超过了大小限制。" FILES_AGAIN,
		"附件只能是 JPEG、PNG 图片或 PDF 文件（按文件内容判断，不看文件名）。" FILES_AGAIN,
	};
	int which = -1;
	unsigned status = 0;

	if (p->files.n > c->attach_max_files) {
		which = 0;
		status = MHD_HTTP_UNPROCESSABLE_CONTENT;
	}
	for (int i = 0; which < 0 && i < p->files.n; i++) {
		if (p->files.f[i].len > c->attach_max_bytes) {
			which = 1;
			status = MHD_HTTP_CONTENT_TOO_LARGE;
		} else if (!pb_ftype_sniff(p->files.f[i].data, p->files.f[i].len)) {
			which = 2;
			status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
		}
	}
	if (which >= 0 && e->n < GW_FERR_MAX) {
		e->e[e->n].field = "files";
		e->e[e->n].msg = msg[which];
		e->n++;
	}
	return status;
}

static enum MHD_Result submit_form(struct gw_req *r, struct gw_page *p)
{
	struct gw_ferrs errs = {0};
	unsigned status;
	json_t *doc;

	if (!token_ok(r->g, p, gw_form_get(&p->form, "token"))) {
		p->nonce[0] = '\0';
		return form_page(r, p, MHD_HTTP_FORBIDDEN,
		                 "这个页面已经过期，或者不是从本网站打开的。您填写的内容还在，请核对后再点一次“提交”。",
		                 NULL, &p->form);
	}
	/* Every field's error at once, the files' among them. */
	doc = gw_form_request(p->ch->channel, &p->form, form_skip, &errs);
	json_decref(doc);
	status = check_files(r->g, p, &errs);
	if (errs.n)
		return form_page(r, p, status ? status : MHD_HTTP_BAD_REQUEST, NULL, &errs, &p->form);
	if (!doc)
		return MHD_NO;
	if (p->files.n == 0)
		return send_submit(r, p);
	/* Each file stored first; the message then names them. */
	p->uploading = 1;
	p->nfile = 0;
	return start_file(r, p);
}

/* A piece of a file answered: the next piece, the next file, or the
 * message once every file is stored. */
static enum MHD_Result upload_answer(struct gw_req *r, struct gw_page *p)
{
	const struct gw_call *c = &r->call;
	const Mailroom__Response *resp = c->resp;
	struct gw_ferrs errs = {0};

	if (c->rc != PB_OK || !resp || (resp->code == PB_OK &&
	                                (resp->result_case != MAILROOM__RESPONSE__RESULT_UPLOAD ||
	                                 !resp->upload))) {
		p->uploading = 0;
		return form_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, UNAVAILABLE_TEXT " " FILES_AGAIN,
		                 NULL, &p->form);
	}
	if (resp->code != PB_OK) {
		p->uploading = 0;
		if (resp->code != PB_EINVAL && resp->code != PB_ETOOBIG) {
			pb_warn("router: upload: %s", pb_err_name(resp->code));
			return form_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE,
			                 UNAVAILABLE_TEXT " " FILES_AGAIN, NULL, &p->form);
		}
		errs.e[0].field = "files";
		errs.e[0].msg = resp->code == PB_ETOOBIG ? "有附件超过了大小限制。" FILES_AGAIN
		                                         : "附件只能是 JPEG、PNG 图片或 PDF 文件。" FILES_AGAIN;
		errs.n = 1;
		return form_page(r, p,
		                 resp->code == PB_ETOOBIG ? MHD_HTTP_CONTENT_TOO_LARGE
		                                          : MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		                 NULL, &errs, &p->form);
	}
	if (p->up_off < p->files.f[p->nfile].len) {
		gw_call_fini(&r->call);
		return next_chunk(r, p);
	}
	if (!resp->upload->handle || strlen(resp->upload->handle) != 64) {
		p->uploading = 0;
		return form_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, UNAVAILABLE_TEXT " " FILES_AGAIN,
		                 NULL, &p->form);
	}
	memcpy(p->handles[p->nfile], resp->upload->handle, 65);
	gw_call_fini(&r->call);
	if (++p->nfile < p->files.n)
		return start_file(r, p);
	p->uploading = 0;
	return send_submit(r, p);
}

static enum MHD_Result confirmation(struct gw_req *r, struct gw_page *p,
                                    const Mailroom__SubmitResp *s)
{
	const Mailroom__MessageView *m = s->message;
	struct gw_buf b = {0};
	char code[PB_TRACK_TEXT_LEN + 1], when[64];

	if (pb_track_normalize(m->tracking_code, code, sizeof(code)) != PB_OK)
		return simple_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, "暂时无法受理", UNAVAILABLE_TEXT);
	head(&b, r, p, "已经收到", NULL);
	gw_buf_str(&b, "<p class=\"lead\">您的");
	gw_html(&b, p->ch->title);
	gw_buf_str(&b, "已经登记。</p>\n");
	if (s->duplicate)
		gw_buf_str(&b, "<p class=\"note\">这份表单之前已经提交过，没有重复登记。下面是同一份登记的查询码和查询密钥。</p>\n");
	gw_buf_str(&b, "<div class=\"receipt\">\n<p>请记下下面两项。<strong>查询码和查询密钥两样都要有</strong>，才能查看办理进度和答复。请不要告诉别人。</p>\n"
	               "<dl>\n<dt>查询码</dt>\n<dd class=\"code\" id=\"tracking-code\">");
	gw_html(&b, code);
	gw_buf_str(&b, "</dd>\n<dt>查询密钥</dt>\n<dd class=\"code\" id=\"access-key\">");
	/* In groups of four, easier to copy by hand; /track drops the spaces. */
	for (size_t i = 0; p->akey[i]; i += 4) {
		char group[5];
		snprintf(group, sizeof(group), "%.4s", p->akey + i);
		gw_buf_str(&b, i ? " <span>" : "<span>");
		gw_html(&b, group);
		gw_buf_str(&b, "</span>");
	}
	gw_buf_str(&b, "</dd>\n");
	if (m->reply_due_ms) {
		fmt_date(m->reply_due_ms, when, sizeof(when));
		gw_buf_str(&b, "<dt>答复期限</dt>\n<dd>");
		gw_html(&b, when);
		gw_buf_str(&b, m->due_provisional ? "前（暂按周末计算，节假日安排公布后会重新核定）</dd>\n" : "前</dd>\n");
	}
	gw_buf_str(&b, "</dl>\n</div>\n<h2>怎样保存</h2>\n<ul class=\"plain\">\n"
	               "<li>打印本页：同时按键盘上的 Ctrl 键和 P 键（苹果电脑按 ⌘ 键和 P 键），或者在浏览器菜单里选“打印”。</li>\n"
	               "<li>也可以抄在纸上，或者用手机拍下本页。</li>\n</ul>\n"
	               "<p><a class=\"button\" href=\"/track\">查询办理进度</a></p>\n");
	/* The receipt button proves the key as /track's buttons do: its hash,
	 * sealed to this browser and code. */
	memcpy(p->code, code, sizeof(p->code));
	if (pb_akey_hash(p->akey, strlen(p->akey), p->akey_hash) == PB_OK)
		receipt_form(&b, r, p);
	foot(&b);
	return send_page(r, p, s->duplicate ? MHD_HTTP_OK : MHD_HTTP_CREATED, &b, 0);
}

/* ------------------------------------------------------------ /track -- */

static const struct opt level_opts[] = {
	{"very_satisfied", "非常满意"}, {"satisfied", "满意"}, {"basically_satisfied", "基本满意"},
	{"dissatisfied", "不满意"}, {"very_dissatisfied", "非常不满意"}, {NULL, NULL},
};

/* The rating form on the status page posts here (see seal_of). */
static enum MHD_Result rate(struct gw_req *r, struct gw_page *p)
{
	Mailroom__RateReq rr = MAILROOM__RATE_REQ__INIT;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	const char *code = gw_form_get(&p->form, "code");
	const char *comment = gw_form_get(&p->form, "comment");

	if (!code || pb_track_normalize(code, p->code, sizeof(p->code)) != PB_OK ||
	    seal_open(r->g, p, gw_form_get(&p->form, "seal")))
		return simple_page(r, p, MHD_HTTP_FORBIDDEN, "无法提交评价",
		                   "这个页面已经过期，或者不是从本网站打开的。请重新查询后再评价。");
	rr.level = pj_rating_parse(gw_form_get(&p->form, "level"));
	if (!rr.level)
		return simple_page(r, p, MHD_HTTP_UNPROCESSABLE_CONTENT, "请选择满意程度",
		                   "没有选择满意程度，评价没有提交。请返回上一页，选择一项后再提交。");
	if (comment && pb_utf8_chars(comment, strlen(comment)) > 500)
		return simple_page(r, p, MHD_HTTP_UNPROCESSABLE_CONTENT, "意见太长",
		                   "意见最多 500 个字，评价没有提交。请返回上一页删减后再提交。");
	rr.tracking_code = p->code;
	rr.access_key_hash.data = p->akey_hash;
	rr.access_key_hash.len = sizeof(p->akey_hash);
	rr.comment = (char *)(comment ? comment : "");
	req.op_case = MAILROOM__REQUEST__OP_RATE;
	req.rate = &rr;
	p->rating = 1;
	if (gw_start_call(r, &req) != PB_OK)
		return simple_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, "暂时无法提交评价",
		                   "系统暂时无法提交评价，请稍等一会儿再试。");
	return MHD_YES;
}

static const char *level_text(uint32_t level)
{
	return level >= 1 && level <= 5 ? level_opts[level - 1].label : "";
}

/* Once answered, and not rated yet: five choices and a comment. */
static void rating_form(struct gw_buf *b, struct gw_req *r, struct gw_page *p)
{
	gw_buf_str(b, "<h2 id=\"rate\">评价这次答复</h2>\n<p>每件来信只能评价一次。如果不满意，我们会在规定时间内回访。</p>\n"
	              "<form method=\"post\" action=\"/track\" accept-charset=\"utf-8\">\n");
	sealed_fields(b, r, p);
	gw_buf_str(b, "<div class=\"field\"><fieldset>\n<legend>您对这次答复满意吗？<span class=\"req\">（必填）</span></legend>\n");
	for (size_t i = 0; level_opts[i].value; i++) {
		gw_buf_fmt(b, "<label class=\"choice\"><input type=\"radio\" name=\"level\" id=\"level-%zu\" value=\"", i);
		gw_html(b, level_opts[i].value);
		gw_buf_str(b, "\" required> ");
		gw_html(b, level_opts[i].label);
		gw_buf_str(b, "</label>\n");
	}
	gw_buf_str(b, "</fieldset></div>\n<div class=\"field\"><label for=\"comment\">意见<span class=\"opt\">（选填，最多 500 字）</span></label>\n"
	              "<textarea id=\"comment\" name=\"comment\" rows=\"4\" maxlength=\"500\"></textarea></div>\n"
	              "<button type=\"submit\">提交评价</button>\n</form>\n");
}

static enum MHD_Result download(struct gw_req *r, struct gw_page *p);
static enum MHD_Result receipt(struct gw_req *r, struct gw_page *p);

static enum MHD_Result lookup(struct gw_req *r, struct gw_page *p)
{
	Mailroom__StatusReq st = MAILROOM__STATUS_REQ__INIT;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	uint8_t hash[PB_AKEY_HASH_LEN];
	const char *typed = gw_form_get(&p->form, "key");
	const char *code = gw_form_get(&p->form, "code");
	struct gw_ferrs errs = {0};
	char key[257];
	size_t klen = 0;

	/* The confirmation shows the key in groups: spaces are not part of it. */
	for (const char *s = typed ? typed : ""; *s && klen < sizeof(key) - 1; s++)
		if (*s != ' ' && *s != '\t')
			key[klen++] = *s;
	key[klen] = '\0';

	if (!token_ok(r->g, p, gw_form_get(&p->form, "token"))) {
		p->nonce[0] = '\0';
		return form_page(r, p, MHD_HTTP_FORBIDDEN,
		                 "这个页面已经过期，或者不是从本网站打开的。请再输入一次查询密钥后查询。", NULL,
		                 &p->form);
	}
	if (gw_form_get(&p->form, "file"))
		return download(r, p);
	if (gw_form_get(&p->form, "receipt"))
		return receipt(r, p);
	if (gw_form_get(&p->form, "seal"))
		return rate(r, p);
	if (!code || !*code)
		errs.e[errs.n++] = (struct gw_ferr){"code", "请填写查询码。"};
	if (!klen)
		errs.e[errs.n++] = (struct gw_ferr){"key", "请填写查询密钥。"};
	if (errs.n)
		return form_page(r, p, MHD_HTTP_BAD_REQUEST, NULL, &errs, &p->form);
	/* Hashed even when the code is malformed: the same work either way. */
	pb_akey_hash(key, klen, hash);
	memcpy(p->akey_hash, hash, sizeof(hash));
	sodium_memzero(key, sizeof(key));
	if (pb_track_normalize(code, p->code, sizeof(p->code)) != PB_OK)
		return form_page(r, p, MHD_HTTP_NOT_FOUND,
		                 "查询码或查询密钥不正确。请核对后重新输入；查询码是 12 位数字。", NULL, &p->form);
	st.tracking_code = p->code;
	st.access_key_hash.data = hash;
	st.access_key_hash.len = sizeof(hash);
	req.op_case = MAILROOM__REQUEST__OP_STATUS;
	req.status = &st;
	/* The same proof stops the notices, and answers the same view. */
	Mailroom__NoticesOffReq off = MAILROOM__NOTICES_OFF_REQ__INIT;
	const char *notices = gw_form_get(&p->form, "notices");
	if (notices && strcmp(notices, "off") == 0) {
		off.tracking_code = p->code;
		off.access_key_hash = st.access_key_hash;
		req.op_case = MAILROOM__REQUEST__OP_NOTICES_OFF;
		req.notices_off = &off;
	}
	if (gw_start_call(r, &req) != PB_OK)
		return form_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE,
		                 "系统暂时无法查询，请稍等一会儿再试。", NULL, &p->form);
	return MHD_YES;
}

static const char *status_text(int s)
{
	switch (s) {
	case MAILROOM__STATUS__STATUS_QUEUED: return "已受理，等待承办人员处理";
	case MAILROOM__STATUS__STATUS_LEASED: return "正在办理";
	case MAILROOM__STATUS__STATUS_REPLIED: return "已答复";
	case MAILROOM__STATUS__STATUS_CLOSED: return "已办结";
	default: return "已受理";
	}
}

/* Why the clock stands, in general words: a handler's own reason is
 * never shown. */
static const char *pause_reason(const Mailroom__MessageView *m)
{
	if (m->disclosure && m->disclosure->phase == MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_AWAITING_CORRECTION)
		return "暂停计时：等待您补正申请内容";
	if (m->disclosure && m->disclosure->phase == MAILROOM__DISCLOSURE_PHASE__DISCLOSURE_AWAITING_FEE)
		return "暂停计时：等待缴纳信息处理费";
	if (m->disclosure && m->disclosure->consultations)
		return "暂停计时：正在征求第三方意见";
	return "暂停计时：等待其他单位或有关方面的意见";
}

static void fact(struct gw_buf *b, const char *name, const char *value)
{
	gw_buf_str(b, "<dt>");
	gw_html(b, name);
	gw_buf_str(b, "</dt>\n<dd>");
	gw_html(b, value);
	gw_buf_str(b, "</dd>\n");
}

static void step(struct gw_buf *b, int64_t ms, const char *what)
{
	char when[64];

	fmt_time(ms, when, sizeof(when));
	gw_buf_str(b, "<li><span class=\"when\">");
	gw_html(b, when);
	gw_buf_str(b, "</span> ");
	gw_html(b, what);
	gw_buf_str(b, "</li>\n");
}

static const char *channel_title(int channel)
{
	for (size_t i = 0; i < NCHANNELS; i++)
		if (channels[i].channel == channel)
			return channels[i].title;
	return "其他渠道";
}

/* A referral names the other case; the same access key opens it. */
static void referral_fact(struct gw_buf *b, const char *name, const char *code, int channel)
{
	char v[96];

	if (!code || !*code)
		return;
	snprintf(v, sizeof(v), "%s（%s，用同一查询密码查询）", code, channel_title(channel));
	fact(b, name, v);
}

/* A message's files with the scanner's verdict in general words; never
 * what it found. With dl (the reply's files), a clean one gets a button
 * posting to /track with the key's hash sealed, as the rating form does:
 * the key itself never goes into the page or a URL. */
static void files_list(struct gw_buf *b, Mailroom__Attachment *const *list, size_t n,
                       const char *id, const char *label, struct gw_req *r, struct gw_page *p)
{
	char line[192];

	gw_buf_fmt(b, "<ul class=\"files\" id=\"%s\">\n", id);
	for (size_t i = 0; i < n; i++) {
		const Mailroom__Attachment *a = list[i];
		const char *kind = a->type && strcmp(a->type, "application/pdf") == 0 ? "PDF 文件"
		                   : a->type && strcmp(a->type, "image/png") == 0   ? "PNG 图片"
		                                                                   : "JPEG 图片";
		const char *state = a->scan == MAILROOM__SCAN_STATE__SCAN_CLEAN ? "已通过病毒检查"
		                    : a->scan == MAILROOM__SCAN_STATE__SCAN_INFECTED
		                        ? "检出病毒，已被拦截，承办人员看不到这个文件"
		                        : "正在进行病毒检查";
		snprintf(line, sizeof(line), "%s %zu：%s，%llu KB，%s", label, i + 1, kind,
		         (unsigned long long)((a->size + 1023) / 1024), state);
		gw_buf_str(b, "<li>");
		gw_html(b, line);
		if (r && a->scan == MAILROOM__SCAN_STATE__SCAN_CLEAN) {
			gw_buf_str(b, "\n<form method=\"post\" action=\"/track\" accept-charset=\"utf-8\" class=\"download\">\n");
			sealed_fields(b, r, p);
			gw_buf_fmt(b, "<input type=\"hidden\" name=\"file\" value=\"%zu\">\n"
			              "<button type=\"submit\" class=\"button secondary\">下载%s %zu</button>\n</form>\n",
			           i, label, i + 1);
		}
		gw_buf_str(b, "</li>\n");
	}
	gw_buf_str(b, "</ul>\n");
}

/* The download button on the status page posts here (see files_list). */
static enum MHD_Result download(struct gw_req *r, struct gw_page *p)
{
	const char *code = gw_form_get(&p->form, "code");
	const char *file = gw_form_get(&p->form, "file");
	char *end = NULL;
	unsigned long n = file ? strtoul(file, &end, 10) : 0;

	if (!code || pb_track_normalize(code, p->code, sizeof(p->code)) != PB_OK ||
	    seal_open(r->g, p, gw_form_get(&p->form, "seal")))
		return simple_page(r, p, MHD_HTTP_FORBIDDEN, "无法下载",
		                   "这个页面已经过期，或者不是从本网站打开的。请重新查询后再下载。");
	if (!end || end == file || *end || n > 999)
		return simple_page(r, p, MHD_HTTP_NOT_FOUND, "没有这个文件", "请返回上一页，重新查询后再下载。");
	p->download = 1;
	if (gw_dl_start(r, p->code, p->akey_hash, (uint32_t)n) != PB_OK)
		return simple_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, "暂时无法下载",
		                   "系统暂时无法下载，请稍等一会儿再试。");
	return MHD_YES;
}

static enum MHD_Result download_answer(struct gw_req *r, struct gw_page *p)
{
	const Mailroom__Response *resp = r->call.resp;
	enum MHD_Result ret = MHD_NO;
	int step = gw_dl_step(r, &ret);

	if (step == GW_DL_MORE)
		return ret;
	if (step == GW_DL_DONE)
		return gw_dl_send(r);
	if (step == GW_DL_REFUSED && resp->code == PB_ESTATE && resp->error &&
	    strcmp(resp->error, "attachment_pending") == 0)
		return simple_page(r, p, MHD_HTTP_CONFLICT, "文件正在检查",
		                   "这个文件还在进行病毒检查，检查通过后才能下载。请稍后再查询。");
	if (step == GW_DL_REFUSED && resp->code == PB_ESTATE)
		return simple_page(r, p, MHD_HTTP_CONFLICT, "文件已被拦截",
		                   "这个文件没有通过病毒检查，已被拦截，不能下载。");
	if (step == GW_DL_REFUSED && (resp->code == PB_ENOTFOUND || resp->code == PB_EINVAL))
		return simple_page(r, p, MHD_HTTP_NOT_FOUND, "没有这个文件", "请返回上一页，重新查询后再下载。");
	return simple_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, "暂时无法下载",
	                   "系统暂时无法下载，请稍等一会儿再试。");
}

/* The receipt button (receipt_form) posts here: a status read under the
 * sealed hash, whose view carries the receipt. */
static enum MHD_Result receipt(struct gw_req *r, struct gw_page *p)
{
	Mailroom__StatusReq st = MAILROOM__STATUS_REQ__INIT;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	const char *code = gw_form_get(&p->form, "code");

	if (!code || pb_track_normalize(code, p->code, sizeof(p->code)) != PB_OK ||
	    seal_open(r->g, p, gw_form_get(&p->form, "seal")))
		return simple_page(r, p, MHD_HTTP_FORBIDDEN, "无法下载",
		                   "这个页面已经过期，或者不是从本网站打开的。请重新查询后再下载。");
	st.tracking_code = p->code;
	st.access_key_hash.data = p->akey_hash;
	st.access_key_hash.len = sizeof(p->akey_hash);
	req.op_case = MAILROOM__REQUEST__OP_STATUS;
	req.status = &st;
	p->receipt = 1;
	if (gw_start_call(r, &req) != PB_OK)
		return simple_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, "暂时无法下载",
		                   "系统暂时无法下载，请稍等一会儿再试。");
	return MHD_YES;
}

static enum MHD_Result receipt_answer(struct gw_req *r, struct gw_page *p)
{
	const Mailroom__Response *resp = r->call.resp;
	const Mailroom__MessageView *v;

	if (r->call.rc == PB_OK && resp && (resp->code == PB_ENOTFOUND || resp->code == PB_EINVAL))
		return simple_page(r, p, MHD_HTTP_NOT_FOUND, "没有找到这封信",
		                   "请返回上一页，重新查询后再下载。");
	if (r->call.rc != PB_OK || !resp || resp->code != PB_OK ||
	    resp->result_case != MAILROOM__RESPONSE__RESULT_STATUS || !(v = resp->status) ||
	    !v->receipt || !v->receipt->proof || !*v->receipt->proof)
		return simple_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, "暂时无法下载",
		                   "系统暂时无法下载，请稍等一会儿再试。");
	return gw_receipt_send(r, p->code, v->receipt->proof);
}

static enum MHD_Result status_page(struct gw_req *r, struct gw_page *p,
                                   const Mailroom__MessageView *m)
{
	struct gw_buf b = {0};
	char when[192];

	head(&b, r, p, "办理进度", NULL);
	gw_buf_str(&b, "<dl class=\"facts\">\n");
	fact(&b, "查询码", p->code);
	fact(&b, "状态", !m->merged_into || !*m->merged_into ? status_text(m->status)
	                 : m->replied_ms ? "已答复（合并办理）" : "已合并办理");
	/* 并单: answered together with another message, under its code. */
	if (m->merged_into && *m->merged_into)
		fact(&b, "并入", m->merged_into);
	if (m->queue && *m->queue)
		fact(&b, "承办部门", pb_conf_department(&r->g->conf, m->queue));
	referral_fact(&b, "已转为", m->referred_to_tracking, m->referred_to_channel);
	referral_fact(&b, "转自", m->referred_from_tracking, m->referred_from_channel);
	fmt_time(m->received_ms, when, sizeof(when));
	fact(&b, "收到时间", when);
	if (m->ack_due_ms && m->status == MAILROOM__STATUS__STATUS_QUEUED) {
		fmt_date(m->ack_due_ms, when, sizeof(when));
		fact(&b, "签收期限", when);
	}
	if (m->reply_due_ms && !m->replied_ms) {
		fmt_date(m->reply_due_ms, when, sizeof(when));
		if (m->paused_since_ms)   /* the days paused are added on resuming */
			strcat(when, "（现暂停计时，恢复后顺延）");
		fact(&b, "答复期限", when);
	}
	fact(&b, "短信和邮件通知",
	     m->notices_off ? "已停止，今后不再发送" : "开启：留了手机号码或电子邮箱的，办理进展会通知您");
	gw_buf_str(&b, "</dl>\n");
	if (m->n_attachments) {
		gw_buf_str(&b, "<h2>附件</h2>\n");
		files_list(&b, m->attachments, m->n_attachments, "files", "附件", NULL, p);
	}
	gw_buf_str(&b, "<h2>答复</h2>\n");
	if (m->reply_text && *m->reply_text) {
		gw_buf_str(&b, "<div class=\"reply\" id=\"reply\">");
		gw_html(&b, m->reply_text);
		gw_buf_str(&b, "</div>\n");
	} else {
		gw_buf_str(&b, "<p id=\"reply\">还没有答复。答复后会显示在这里。</p>\n");
	}
	if (m->n_reply_attachments)
		files_list(&b, m->reply_attachments, m->n_reply_attachments, "reply-files", "答复附件",
		           r, p);
	/* General words only: what happened, never a handler's own text. */
	gw_buf_str(&b, "<h2>办理经过</h2>\n<ol class=\"timeline\">\n");
	step(&b, m->received_ms, "收到您的来信");
	step(&b, m->received_ms, "转交承办部门");
	if (m->signed_ms)
		step(&b, m->signed_ms, "承办部门已签收");
	if (m->paused_days > 0) {
		snprintf(when, sizeof(when), "办理期间曾暂停计时，共 %d 个工作日（不计入办理时限）", m->paused_days);
		gw_buf_str(&b, "<li>");
		gw_html(&b, when);
		gw_buf_str(&b, "</li>\n");
	}
	if (m->paused_since_ms)
		step(&b, m->paused_since_ms, pause_reason(m));
	if (m->extended_days > 0) {
		snprintf(when, sizeof(when), "经批准，答复期限延长 %d 个工作日", m->extended_days);
		gw_buf_str(&b, "<li>");
		gw_html(&b, when);
		gw_buf_str(&b, "</li>\n");
	}
	if (m->disclosure && m->disclosure->decided_ms)
		step(&b, m->disclosure->decided_ms, "已作出答复决定");
	if (m->merged_ms) {
		snprintf(when, sizeof(when), "与同一事项的来信合并办理，并入查询码 %s，一并答复",
		         m->merged_into);
		step(&b, m->merged_ms, when);
	}
	if (m->referred_to_tracking && *m->referred_to_tracking)
		step(&b, m->referred_ms, "不属于本渠道办理范围，已转入其他渠道办理");
	if (m->replied_ms)
		step(&b, m->replied_ms, "已答复");
	if (m->rated_ms)
		step(&b, m->rated_ms, "您评价了这次答复");
	gw_buf_str(&b, "</ol>\n");
	if (m->rating) {
		gw_buf_str(&b, p->rating ? "<p class=\"lead\" id=\"rated\" role=\"status\">谢谢您的评价。</p>\n"
		                         : "<p id=\"rated\">");
		if (!p->rating) {
			gw_buf_str(&b, "您的评价：");
			gw_html(&b, level_text(m->rating));
			gw_buf_str(&b, "</p>\n");
		}
	} else if (m->status == MAILROOM__STATUS__STATUS_REPLIED &&
	           m->channel != MAILROOM__CHANNEL__CHANNEL_HOTLINE) {
		rating_form(&b, r, p);
	}
	if (m->receipt && m->receipt->proof && *m->receipt->proof)
		receipt_form(&b, r, p);
	foot(&b);
	return send_page(r, p, MHD_HTTP_OK, &b, 0);
}

/* --------------------------------------------------- display, static -- */

static enum MHD_Result display(struct gw_req *r)
{
	const char *mode = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "mode");
	const char *back = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "back");
	int large = mode && strcmp(mode, "large") == 0;
	const char *to = "/";
	char *empty = strdup("");

	/* Only back to a page of ours: no open redirect. */
	for (size_t i = 0; back && i < NCHANNELS; i++)
		if (strcmp(back, channels[i].path) == 0)
			to = channels[i].path;
	if (back && strcmp(back, "/track") == 0)
		to = "/track";
	if (!empty)
		return MHD_NO;
	struct gw_hdr h[] = {
		{MHD_HTTP_HEADER_LOCATION, to},
		{MHD_HTTP_HEADER_SET_COOKIE,
		 large ? VIEW_COOKIE "=large; Path=/; Max-Age=31536000; SameSite=Lax"
		       : VIEW_COOKIE "=normal; Path=/; Max-Age=31536000; SameSite=Lax"},
	};
	return gw_send_body(r, MHD_HTTP_SEE_OTHER, empty, 0, "text/plain; charset=utf-8", h, 2);
}

static enum MHD_Result stylesheet(struct gw_req *r, struct gw_page *p, const char *url)
{
	static const struct gw_hdr h[] = {
		{MHD_HTTP_HEADER_CACHE_CONTROL, "public, max-age=31536000, immutable"},
		{"X-Content-Type-Options", "nosniff"},
	};
	char *css;

	if (strcmp(url, r->g->css_path) != 0)
		return simple_page(r, p, MHD_HTTP_NOT_FOUND, "找不到这个页面", "请从首页重新进入。");
	if (!(css = malloc(gw_css_len)))
		return MHD_NO;
	memcpy(css, gw_css, gw_css_len);
	return gw_send_body(r, MHD_HTTP_OK, css, gw_css_len, "text/css; charset=utf-8", h, 2);
}

/* ------------------------------------------------------------ entry -- */

static int is_form_type(const char *ct)
{
	static const char t[] = "application/x-www-form-urlencoded";

	if (!ct || strncasecmp(ct, t, sizeof(t) - 1) != 0)
		return 0;
	ct += sizeof(t) - 1;
	return *ct == '\0' || *ct == ';' || *ct == ' ';
}

enum MHD_Result gw_page(struct gw_req *r, const char *url, const char *method)
{
	struct gw_page *p = calloc(1, sizeof(*p));
	int post = strcmp(method, "POST") == 0;
	const char *why;

	if (!p)
		return MHD_NO;
	r->page = p;
	cookie_of(r, p);
	if (strncmp(url, "/static/", 8) == 0)
		return stylesheet(r, p, url);
	if (strcmp(url, "/") == 0)
		return home(r, p);
	if (strcmp(url, "/display") == 0)
		return display(r);
	if (strncmp(url, "/answers", 8) == 0 || strcmp(url, "/stats") == 0) {
		p->kind = PG_PUBLIC;
		return gw_public_page(r, url);
	}
	p->kind = PG_TRACK;
	for (size_t i = 0; i < NCHANNELS; i++)
		if (strcmp(url, channels[i].path) == 0) {
			p->kind = PG_FORM;
			p->ch = &channels[i];
		}
	if (!post)
		return form_page(r, p, MHD_HTTP_OK, NULL, NULL, NULL);
	const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_CONTENT_TYPE);
	int multipart = gw_is_multipart(ct);
	if (!is_form_type(ct) && !multipart)
		return simple_page(r, p, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "无法读取表单",
		                   "请从本网站的页面上填写并提交。");
	if (multipart ? gw_multipart_parse(ct, r->body ? r->body : "", r->len, &p->form, &p->files,
	                                   &why)
	              : gw_form_parse(r->body ? r->body : "", r->len, &p->form, &why)) {
		pb_info("pages: unreadable form: %s", why);
		return simple_page(r, p, MHD_HTTP_BAD_REQUEST, "无法读取表单",
		                   "表单内容无法识别。请回到上一页，重新打开表单填写。");
	}
	/* Counted once the form is read, so a refusal can keep the input. */
	int wait = gw_limited(r, p->kind == PG_TRACK);
	if (wait) {
		p->retry_after = wait;
		return form_page(r, p, MHD_HTTP_TOO_MANY_REQUESTS,
		                 p->kind == PG_TRACK ? "查询太频繁，请稍等一分钟再查询。"
		                                     : "提交太频繁，请稍等一分钟再提交。您填写的内容都还在。",
		                 NULL, &p->form);
	}
	/* Files only where the form offers them. */
	if (p->files.n && (p->kind != PG_FORM || p->ch->channel == PB_CH_DISCLOSURE))
		return simple_page(r, p, MHD_HTTP_BAD_REQUEST, "无法读取表单",
		                   "这个表单不能上传附件。请回到上一页，重新打开表单填写。");
	return p->kind == PG_TRACK ? lookup(r, p) : submit_form(r, p);
}

/* The router's answer (or none) to a form or a lookup. */
enum MHD_Result gw_page_answer(struct gw_req *r)
{
	struct gw_page *p = r->page;
	const struct gw_call *c = &r->call;
	const Mailroom__Response *resp = c->resp;
	const char *busy = p->kind == PG_TRACK ? "系统暂时无法查询，请稍等一会儿再试。" : UNAVAILABLE_TEXT;

	if (p->kind == PG_PUBLIC)
		return gw_public_answer(r);
	if (p->uploading)
		return upload_answer(r, p);
	if (p->download)
		return download_answer(r, p);
	if (p->receipt)
		return receipt_answer(r, p);

	p->nonce[0] = p->kind == PG_TRACK ? '\0' : p->nonce[0];
	if (c->rc != PB_OK || !resp) {
		pb_warn("router: %s%s%s", pb_err_str(c->rc), c->nng_err ? ": " : "",
		        c->nng_err ? nng_strerror(c->nng_err) : "");
		/* Maybe stored: the same token, posted again, tells (never twice). */
		if (c->unknown)
			return form_page(r, p, MHD_HTTP_ACCEPTED, PENDING_TEXT, NULL, &p->form);
		return form_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, busy, NULL, &p->form);
	}
	if (resp->code != PB_OK) {
		const char *ecode = resp->error ? resp->error : "";
		if (p->rating && resp->code == PB_ESTATE)
			return simple_page(r, p, MHD_HTTP_CONFLICT, "无法评价",
			                   strcmp(ecode, "already_rated") == 0
			                       ? "这份答复已经评价过了，每件来信只能评价一次。"
			                       : "这件来信现在还不能评价：答复以后才能评价。");
		if (p->kind == PG_TRACK && (resp->code == PB_ENOTFOUND || resp->code == PB_EINVAL))
			return form_page(r, p, MHD_HTTP_NOT_FOUND,
			                 "查询码或查询密钥不正确。请核对后重新输入。", NULL, &p->form);
		if (strcmp(ecode, "idempotency_mismatch") == 0) {
			p->nonce[0] = '\0';
			return form_page(r, p, MHD_HTTP_UNPROCESSABLE_CONTENT,
			                 "这份表单已经提交过，内容和这次不同，所以没有再次登记。如果还有新的情况要反映，请核对下面的内容后再点“提交”，会作为一封新信登记。",
			                 NULL, &p->form);
		}
		if (resp->code == PB_EINVAL)
			return form_page(r, p, MHD_HTTP_BAD_REQUEST, "提交的内容不符合要求，请核对后再提交。",
			                 NULL, &p->form);
		pb_warn("router: %s: %s", pb_err_name(resp->code), ecode);
		return form_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, busy, NULL, &p->form);
	}
	if (p->rating) {
		if (resp->result_case != MAILROOM__RESPONSE__RESULT_RATE || !resp->rate)
			return form_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, busy, NULL, &p->form);
		return status_page(r, p, resp->rate);
	}
	if (p->kind == PG_TRACK) {
		const Mailroom__MessageView *v =
		    resp->result_case == MAILROOM__RESPONSE__RESULT_STATUS        ? resp->status :
		    resp->result_case == MAILROOM__RESPONSE__RESULT_NOTICES_OFF ? resp->notices_off : NULL;
		if (!v)
			return form_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, busy, NULL, &p->form);
		return status_page(r, p, v);
	}
	if (resp->result_case != MAILROOM__RESPONSE__RESULT_SUBMIT || !resp->submit ||
	    !resp->submit->message)
		return form_page(r, p, MHD_HTTP_SERVICE_UNAVAILABLE, busy, NULL, &p->form);
	return confirmation(r, p, resp->submit);
}

/* ------------------------------------------- for the public pages -- */

void gw_page_head(struct gw_buf *b, struct gw_req *r, const char *title, const char *back)
{
	head(b, r, r->page, title, back);
}

void gw_page_foot(struct gw_buf *b)
{
	foot(b);
}

enum MHD_Result gw_page_send(struct gw_req *r, unsigned status, struct gw_buf *b)
{
	return send_page(r, r->page, status, b, status == MHD_HTTP_SERVICE_UNAVAILABLE);
}

enum MHD_Result gw_page_simple(struct gw_req *r, unsigned status, const char *title,
                               const char *text)
{
	return simple_page(r, r->page, status, title, text);
}

void gw_page_date(int64_t ms, char *buf, size_t len)
{
	fmt_date(ms, buf, len);
}
