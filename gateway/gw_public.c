/* The public pages: published answers (公开答复) at /answers, newest
 * first with a search over their texts, one at /answers/{id}, and the
 * monthly statistics at /stats. Plain HTML in the layout of the other
 * pages (gw_pages.c); every value goes through gw_html. They show only
 * what a handler published and counts: never a contact, never a code. */
#include "gw.h"
#include "gw_web.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_log.h"
#include "pb_utf8.h"

#include <stdio.h>
#include <string.h>

#define ANSWERS_PAGE 50
#define QUERY_MAX 100   /* characters */

static const char *const channel_names[] = {
	"", "局长信箱", "在线咨询", "监督投诉", "12345 转办件", "依申请公开", "信访转办",
};

static const char *channel_name(int ch)
{
	return ch > 0 && (size_t)ch < sizeof(channel_names) / sizeof(channel_names[0])
	               ? channel_names[ch]
	               : "";
}

static const char *query_of(struct gw_req *r)
{
	const char *q = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "q");

	return q && *q ? q : NULL;
}

enum MHD_Result gw_public_page(struct gw_req *r, const char *url)
{
	Mailroom__AnswersReq a = MAILROOM__ANSWERS_REQ__INIT;
	Mailroom__Request req = MAILROOM__REQUEST__INIT;
	uint8_t id[PB_ID_LEN];
	const char *q = query_of(r);
	/* Each of these reads every message: counted as lookups. */
	int wait = gw_limited(r, 1);

	if (wait)
		return gw_page_simple(r, MHD_HTTP_TOO_MANY_REQUESTS, "请稍后再试",
		                      "打开得太频繁了，请稍等一分钟再试。");
	if (strncmp(url, "/answers/", 9) == 0) {
		if (pb_id_from_text(url + 9, id))
			return gw_page_simple(r, MHD_HTTP_NOT_FOUND, "找不到这条公开答复",
			                      "这条答复不存在或已经撤下。");
		a.id.data = id;
		a.id.len = sizeof(id);
	} else if (strcmp(url, "/stats") == 0) {
		a.stats = 1;
	} else {
		if (q && (pb_utf8_chars(q, strlen(q)) < 0 || pb_utf8_chars(q, strlen(q)) > QUERY_MAX))
			return gw_page_simple(r, MHD_HTTP_BAD_REQUEST, "无法搜索",
			                      "搜索的词最多 100 个字。请返回上一页修改后再搜索。");
		a.query = (char *)(q ? q : "");
		a.limit = ANSWERS_PAGE;
	}
	req.op_case = MAILROOM__REQUEST__OP_ANSWERS;
	req.answers = &a;
	if (gw_start_call(r, &req) != PB_OK)
		return gw_page_simple(r, MHD_HTTP_SERVICE_UNAVAILABLE, "暂时无法显示",
		                      "系统暂时无法显示这个页面，请稍等一会儿再试。");
	return MHD_YES;
}

static void dates(struct gw_buf *b, const Mailroom__PublicAnswer *x)
{
	char when[64];

	gw_page_date(x->received_ms, when, sizeof(when));
	gw_buf_str(b, "收到 ");
	gw_html(b, when);
	gw_page_date(x->replied_ms, when, sizeof(when));
	gw_buf_str(b, "，答复 ");
	gw_html(b, when);
}

static enum MHD_Result list(struct gw_req *r, const Mailroom__AnswersResp *ar)
{
	const char *q = query_of(r);
	struct gw_buf b = {0};
	char id[PB_ID_TEXT_LEN + 1];

	gw_page_head(&b, r, "公开答复", NULL);
	gw_buf_str(&b, "<p class=\"lead\">这里是承办部门公开的来信和答复。来信内容已去掉姓名、电话等个人信息。</p>\n"
	               "<form method=\"get\" action=\"/answers\" role=\"search\">\n"
	               "<label for=\"q\">搜索公开答复</label>\n<input type=\"search\" id=\"q\" name=\"q\" "
	               "maxlength=\"100\" value=\"");
	gw_html(&b, q ? q : "");
	gw_buf_str(&b, "\">\n<button type=\"submit\">搜索</button>\n</form>\n");
	if (q) {
		gw_buf_fmt(&b, "<p id=\"found\" role=\"status\">找到 %zu 条包含“", ar->n_answers);
		gw_html(&b, q);
		gw_buf_str(&b, "”的答复。</p>\n");
	}
	if (!ar->n_answers)
		gw_buf_str(&b, "<p id=\"none\">还没有公开的答复。</p>\n");
	gw_buf_str(&b, "<ol class=\"answers\">\n");
	for (size_t i = 0; i < ar->n_answers; i++) {
		const Mailroom__PublicAnswer *x = ar->answers[i];
		if (x->id.len != PB_ID_LEN)
			continue;
		pb_id_to_text(x->id.data, id);
		gw_buf_str(&b, "<li><a href=\"/answers/");
		gw_html(&b, id);
		gw_buf_str(&b, "\">");
		gw_html(&b, x->subject);
		gw_buf_str(&b, "</a><br><span class=\"when\">");
		gw_html(&b, channel_name(x->channel));
		gw_buf_str(&b, " · ");
		gw_html(&b, pb_conf_department(&r->g->conf, x->department ? x->department : ""));
		gw_buf_str(&b, " · ");
		dates(&b, x);
		gw_buf_str(&b, "</span></li>\n");
	}
	gw_buf_str(&b, "</ol>\n");
	gw_page_foot(&b);
	return gw_page_send(r, MHD_HTTP_OK, &b);
}

static void fact(struct gw_buf *b, const char *name, const char *value)
{
	gw_buf_str(b, "<dt>");
	gw_html(b, name);
	gw_buf_str(b, "</dt>\n<dd>");
	gw_html(b, value);
	gw_buf_str(b, "</dd>\n");
}

static enum MHD_Result one(struct gw_req *r, const Mailroom__PublicAnswer *x)
{
	struct gw_buf b = {0};
	char when[64];

	gw_page_head(&b, r, x->subject ? x->subject : "", NULL);
	gw_buf_str(&b, "<dl class=\"facts\">\n");
	fact(&b, "来信渠道", channel_name(x->channel));
	fact(&b, "答复部门", pb_conf_department(&r->g->conf, x->department ? x->department : ""));
	gw_page_date(x->received_ms, when, sizeof(when));
	fact(&b, "收到日期", when);
	gw_page_date(x->replied_ms, when, sizeof(when));
	fact(&b, "答复日期", when);
	gw_page_date(x->published_ms, when, sizeof(when));
	fact(&b, "公开日期", when);
	gw_buf_str(&b, "</dl>\n<h2>来信</h2>\n<div class=\"reply\" id=\"letter\">");
	gw_html(&b, x->body);
	gw_buf_str(&b, "</div>\n<h2>答复</h2>\n<div class=\"reply\" id=\"reply\">");
	gw_html(&b, x->reply);
	gw_buf_str(&b, "</div>\n<p><a href=\"/answers\">全部公开答复</a></p>\n");
	gw_page_foot(&b);
	return gw_page_send(r, MHD_HTTP_OK, &b);
}

/* "87.5%", or "—" when nothing to divide. */
static void percent(char *buf, size_t len, uint64_t part, uint64_t whole)
{
	if (!whole)
		snprintf(buf, len, "—");
	else
		snprintf(buf, len, "%.1f%%", 100.0 * (double)part / (double)whole);
}

static enum MHD_Result stats(struct gw_req *r, const Mailroom__AnswersResp *ar)
{
	struct gw_buf b = {0};
	char c1[32], c2[32], c3[32];

	gw_page_head(&b, r, "办理情况统计", NULL);
	gw_buf_str(&b, "<p class=\"lead\">按收到来信的月份统计。按期答复：在答复期限内答复；满意率：评价为非常满意、满意或基本满意的比例。</p>\n");
	if (!ar->n_months) {
		gw_buf_str(&b, "<p id=\"none\">还没有来信。</p>\n");
	} else {
		gw_buf_str(&b, "<div class=\"table\"><table id=\"stats\">\n<caption>每月来信办理情况</caption>\n<thead><tr>"
		               "<th scope=\"col\">月份</th><th scope=\"col\">渠道</th><th scope=\"col\">收到</th>"
		               "<th scope=\"col\">已答复</th><th scope=\"col\">按期答复</th>"
		               "<th scope=\"col\">平均答复天数</th><th scope=\"col\">满意率</th></tr></thead>\n<tbody>\n");
		for (size_t i = 0; i < ar->n_months; i++) {
			const Mailroom__MonthStats *m = ar->months[i];
			percent(c1, sizeof(c1), m->on_time, m->answered);
			if (m->answered)
				snprintf(c2, sizeof(c2), "%.1f", (double)m->answer_days_sum / (double)m->answered);
			else
				snprintf(c2, sizeof(c2), "—");
			percent(c3, sizeof(c3), m->satisfied, m->rated);
			/* data-label: a narrow screen shows each cell under its name */
			gw_buf_str(&b, "<tr><th scope=\"row\">");
			gw_html(&b, m->month);
			gw_buf_str(&b, "</th><td data-label=\"渠道\">");
			gw_html(&b, channel_name(m->channel));
			gw_buf_fmt(&b, "</td><td data-label=\"收到\">%llu</td><td data-label=\"已答复\">%llu</td>"
			               "<td data-label=\"按期答复\">",
			           (unsigned long long)m->received, (unsigned long long)m->answered);
			gw_html(&b, c1);
			gw_buf_str(&b, "</td><td data-label=\"平均答复天数\">");
			gw_html(&b, c2);
			gw_buf_str(&b, "</td><td data-label=\"满意率\">");
			gw_html(&b, c3);
			gw_buf_str(&b, "</td></tr>\n");
		}
		gw_buf_str(&b, "</tbody>\n</table></div>\n");
	}
	gw_page_foot(&b);
	return gw_page_send(r, MHD_HTTP_OK, &b);
}

enum MHD_Result gw_public_answer(struct gw_req *r)
{
	const struct gw_call *c = &r->call;
	const Mailroom__Response *resp = c->resp;

	if (c->rc != PB_OK || !resp)
		return gw_page_simple(r, MHD_HTTP_SERVICE_UNAVAILABLE, "暂时无法显示",
		                      "系统暂时无法显示这个页面，请稍等一会儿再试。");
	if (resp->code == PB_ENOTFOUND)
		return gw_page_simple(r, MHD_HTTP_NOT_FOUND, "找不到这条公开答复",
		                      "这条答复不存在或已经撤下。");
	if (resp->code != PB_OK || resp->result_case != MAILROOM__RESPONSE__RESULT_ANSWERS ||
	    !resp->answers) {
		pb_warn("router: %s", resp->error ? resp->error : pb_err_name(resp->code));
		return gw_page_simple(r, MHD_HTTP_SERVICE_UNAVAILABLE, "暂时无法显示",
		                      "系统暂时无法显示这个页面，请稍等一会儿再试。");
	}
	if (strncmp(r->uri, "/stats", 6) == 0)
		return stats(r, resp->answers);
	if (strncmp(r->uri, "/answers/", 9) == 0 && resp->answers->n_answers == 1)
		return one(r, resp->answers->answers[0]);
	return list(r, resp->answers);
}
