/* The report's four formats. md and html follow the official layout of
 * tables 三 and 四 (国办公开办函〔2021〕30号) with its Chinese labels; html
 * is one self-contained page that prints on A4; csv has one block per
 * table; json has the stable keys of workers/README.md. Every label is a
 * constant here, so nothing needs escaping. */
#include "au_report.h"
#include "pb_conf.h"
#include "pb_time.h"

#include <stdio.h>
#include <string.h>

enum { L_ROW, L_GROUP, L_HEAD };

/* Table 三's printed rows: a section-3 row, a group subtotal, or a
 * heading without numbers. */
static const struct line {
	int type, index;
	const char *label;
	int indent;
} s3_lines[] = {
	{L_ROW, AU_S3_NEW, "一、本年新收政府信息公开申请数量", 0},
	{L_ROW, AU_S3_CARRIED_IN, "二、上年结转政府信息公开申请数量", 0},
	{L_HEAD, 0, "三、本年度办理结果", 0},
	{L_ROW, AU_S3_OUTCOME0 + 0, "（一）予以公开", 1},
	{L_ROW, AU_S3_OUTCOME0 + 1, "（二）部分公开（区分处理的，只计这一情形，不计其他情形）", 1},
	{L_GROUP, 2, "（三）不予公开", 1},
	{L_ROW, AU_S3_OUTCOME0 + 2, "1.属于国家秘密", 2},
	{L_ROW, AU_S3_OUTCOME0 + 3, "2.其他法律行政法规禁止公开", 2},
	{L_ROW, AU_S3_OUTCOME0 + 4, "3.危及“三安全一稳定”", 2},
	{L_ROW, AU_S3_OUTCOME0 + 5, "4.保护第三方合法权益", 2},
	{L_ROW, AU_S3_OUTCOME0 + 6, "5.属于三类内部事务信息", 2},
	{L_ROW, AU_S3_OUTCOME0 + 7, "6.属于四类过程性信息", 2},
	{L_ROW, AU_S3_OUTCOME0 + 8, "7.属于行政执法案卷", 2},
	{L_ROW, AU_S3_OUTCOME0 + 9, "8.属于行政查询事项", 2},
	{L_GROUP, 3, "（四）无法提供", 1},
	{L_ROW, AU_S3_OUTCOME0 + 10, "1.本机关不掌握相关政府信息", 2},
	{L_ROW, AU_S3_OUTCOME0 + 11, "2.没有现成信息需要另行制作", 2},
	{L_ROW, AU_S3_OUTCOME0 + 12, "3.补正后申请内容仍不明确", 2},
	{L_GROUP, 4, "（五）不予处理", 1},
	{L_ROW, AU_S3_OUTCOME0 + 13, "1.信访举报投诉类申请", 2},
	{L_ROW, AU_S3_OUTCOME0 + 14, "2.重复申请", 2},
	{L_ROW, AU_S3_OUTCOME0 + 15, "3.要求提供公开出版物", 2},
	{L_ROW, AU_S3_OUTCOME0 + 16, "4.无正当理由大量反复申请", 2},
	{L_ROW, AU_S3_OUTCOME0 + 17, "5.要求行政机关确认或重新出具已获取信息", 2},
	{L_GROUP, 5, "（六）其他处理", 1},
	{L_ROW, AU_S3_OUTCOME0 + 18,
	 "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", 2},
	{L_ROW, AU_S3_OUTCOME0 + 19,
	 "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", 2},
	{L_ROW, AU_S3_OUTCOME0 + 20, "3.其他", 2},
	{L_ROW, AU_S3_TOTAL, "（七）总计", 1},
	{L_ROW, AU_S3_CARRIED_OUT, "四、结转下年度继续办理", 0},
};
#define NLINES (sizeof(s3_lines) / sizeof(s3_lines[0]))

static const char *const kind_labels[AU_S3_COLS] = {
	"自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计",
};
static const char *const review_labels[AU_NREVIEW_KINDS] = {
	"行政复议", "行政诉讼·未经复议直接起诉", "行政诉讼·复议后起诉",
};
static const char *const result_labels[AU_NRESULTS + 1] = {
	"结果维持", "结果纠正", "其他结果", "尚未审结", "总计",
};
static const char *const channel_labels[AU_NCHANNELS] = {
	"局长信箱", "在线咨询", "监督投诉", "12345转办", "信访转办", "依申请公开",
};
static const char *const count_labels[AU_CH_COUNTS] = {
	"收到", "已办结", "按时办结", "逾期", "未办结",
};
static const char *const assist_labels[AU_AS_COUNTS] = {
	"征求协办意见", "按期反馈", "逾期反馈", "逾期未反馈", "未到期",
};
static const char *const check_labels[AU_NCHECKS] = {
	"勾稽关系：一 + 二 = （七）总计 + 四（每一列）",
	"（七）总计 = 21项办理结果之和",
	"总计列 = 六类申请人之和（每一行）",
	"每件申请只计入一项办理结果",
};

/* The satisfaction section of report channels ("Ratings"). */
static const char *const sat_keys[] = {"rated", "satisfied", "satisfaction_rate", "callbacks_owed",
                                       "callbacks_done", "callbacks_on_time", "callback_rate",
                                       "reopened"};
static const char *const sat_labels[] = {"评价", "满意", "满意率", "实名不满意", "已回访",
                                         "按时回访", "回访率", "重新办理"};
#define NSAT (sizeof(sat_keys) / sizeof(sat_keys[0]))

static const char *sat_channel(int channel)
{
	const char *n = pb_channel_name(channel);
	return n && *n ? n : "unknown";
}

/* One cell as text: a count, or a rate with one decimal ("—" for none). */
static void sat_cell(const struct au_sat *s, size_t k, char *buf, size_t len)
{
	const uint64_t v[] = {s->rated, s->satisfied, 0, s->owed, s->done, s->on_time, 0, s->reopened};
	uint64_t part = k == 2 ? s->satisfied : s->done, whole = k == 2 ? s->rated : s->owed;

	if (k != 2 && k != 6)
		snprintf(buf, len, "%llu", (unsigned long long)v[k]);
	else if (!whole)
		snprintf(buf, len, "—");
	else
		snprintf(buf, len, "%.1f%%", 100.0 * (double)part / (double)whole);
}

static void sat_md(const struct au_report *rep)
{
	char cell[32];

	printf("\n## 满意度与回访（按部门和渠道）\n\n| 部门 | 渠道 |");
	for (size_t k = 0; k < NSAT; k++)
		printf(" %s |", sat_labels[k]);
	printf("\n|---|---|");
	for (size_t k = 0; k < NSAT; k++)
		printf("---:|");
	putchar('\n');
	for (size_t i = 0; i < rep->nsat; i++) {
		printf("| %s | %s |", rep->sat[i].queue, sat_channel(rep->sat[i].channel));
		for (size_t k = 0; k < NSAT; k++) {
			sat_cell(&rep->sat[i], k, cell, sizeof(cell));
			printf(" %s |", cell);
		}
		putchar('\n');
	}
}

static const uint64_t *line_cells(const struct au_report *rep, const struct line *l)
{
	if (l->type == L_ROW)
		return rep->s3[l->index];
	if (l->type == L_GROUP)
		return rep->groups[l->index];
	return NULL;
}

static void dates(const struct au_report *rep, char from[16], char to[16])
{
	pb_date_fmt(rep->from, from, 16);
	pb_date_fmt(rep->to, to, 16);
}

/* A range that ends after the instant judged says so: its open items
 * are judged as of then, not at the range's end. */
static int cut_short(const struct au_report *rep, char at[40])
{
	if (rep->as_of >= cal_end_of_day_ms(rep->to))
		return 0;
	au_fmt_time(rep->as_of, at, 40, 0);
	return 1;
}

/* ---- md ---- */

static void md(const struct au_report *rep)
{
	char from[16], to[16], at[40];

	dates(rep, from, to);
	if (rep->annual) {
		printf("# %d年政府信息公开工作年度报告（依申请公开部分）\n\n", rep->year);
		printf("## 三、收到和处理政府信息公开申请情况\n\n| 本列数据的勾稽关系为：第一项加第二项之和，"
		       "等于第三项加第四项之和 | 自然人 | 法人或其他组织：商业企业 | 科研机构 | 社会公益组织 "
		       "| 法律服务机构 | 其他 | 总计 |\n|---|");
		for (int k = 0; k < AU_S3_COLS; k++)
			printf("---:|");
		putchar('\n');
		for (size_t i = 0; i < NLINES; i++) {
			const uint64_t *c = line_cells(rep, &s3_lines[i]);
			printf("| %s%s |", s3_lines[i].indent == 2 ? "　　" : s3_lines[i].indent ? "　" : "",
			       s3_lines[i].label);
			for (int k = 0; k < AU_S3_COLS; k++)
				c ? printf(" %llu |", (unsigned long long)c[k]) : printf("  |");
			putchar('\n');
		}
		printf("\n## 四、政府信息公开行政复议、行政诉讼情况\n\n|");
		for (int g = 0; g < AU_NREVIEW_KINDS; g++)
			for (int c = 0; c <= AU_NRESULTS; c++)
				printf(" %s·%s |", review_labels[g], result_labels[c]);
		printf("\n|");
		for (int i = 0; i < AU_NREVIEW_KINDS * (AU_NRESULTS + 1); i++)
			printf("---:|");
		printf("\n|");
		for (int g = 0; g < AU_NREVIEW_KINDS; g++)
			for (int c = 0; c <= AU_NRESULTS; c++)
				printf(" %llu |", (unsigned long long)rep->s4[g][c]);
		putchar('\n');
		printf("\n## 校验\n\n");
		for (int i = 0; i < AU_NCHECKS; i++)
			printf("- %s（%s）：%s\n", check_labels[i], au_check_names[i],
			       rep->ok[i] ? "通过 passed" : "未通过 FAILED");
		putchar('\n');
	}
	printf("## 互动渠道办理情况（%s 至 %s）\n\n", from, to);
	if (cut_short(rep, at))
		printf("截至 %s 判定（judged as of %s）\n\n", at, at);
	printf("| 渠道 |");
	for (int c = 0; c < AU_CH_COUNTS; c++)
		printf(" %s |", count_labels[c]);
	printf("\n|---|");
	for (int c = 0; c < AU_CH_COUNTS; c++)
		printf("---:|");
	putchar('\n');
	for (int ch = 0; ch < AU_NCHANNELS; ch++) {
		printf("| %s |", channel_labels[ch]);
		for (int c = 0; c < AU_CH_COUNTS; c++)
			printf(" %llu |", (unsigned long long)rep->ch[ch][c]);
		putchar('\n');
	}
	if (rep->assist[AU_AS_ASKED]) {
		printf("\n## 协办意见（主办件只在主办部门计一次；协办按期情况另计）\n\n|");
		for (int c = 0; c < AU_AS_COUNTS; c++)
			printf(" %s |", assist_labels[c]);
		printf("\n|");
		for (int c = 0; c < AU_AS_COUNTS; c++)
			printf("---:|");
		printf("\n|");
		for (int c = 0; c < AU_AS_COUNTS; c++)
			printf(" %llu |", (unsigned long long)rep->assist[c]);
		putchar('\n');
	}
	if (!rep->annual)
		sat_md(rep);
}

/* ---- html ---- */

static const char css[] =
	"@page { size: A4; margin: 15mm 12mm; }\n"
	"body { font-family: \"Noto Serif CJK SC\", \"Source Han Serif SC\", SimSun, serif;"
	" font-size: 10.5pt; color: #000; margin: 0; }\n"
	"h1 { font-size: 15pt; text-align: center; margin: 0 0 8pt; }\n"
	"h2 { font-size: 12pt; margin: 12pt 0 4pt; }\n"
	"table { border-collapse: collapse; width: 100%; page-break-inside: avoid; }\n"
	"th, td { border: 0.6pt solid #000; padding: 2pt 3pt; }\n"
	"th { font-weight: normal; text-align: center; }\n"
	"td.n { text-align: right; width: 8%; font-variant-numeric: tabular-nums; }\n"
	/* 15 equal columns: table 四 fills the page width without squeezing. */
	"table.s4 { table-layout: fixed; } table.s4 td.n { width: auto; }\n"
	"td.i1 { padding-left: 1.2em; } td.i2 { padding-left: 2.4em; }\n"
	"ul { margin: 4pt 0; padding-left: 1.5em; }\n"
	"section { page-break-inside: avoid; }\n";

static void html_cells(const uint64_t *c, int n)
{
	for (int k = 0; k < n; k++)
		c ? printf("<td class=\"n\">%llu</td>", (unsigned long long)c[k])
		  : printf("<td class=\"n\"></td>");
}

static void html(const struct au_report *rep)
{
	char from[16], to[16], at[40];

	dates(rep, from, to);
	printf("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n");
	if (rep->annual)
		printf("<title>%d年政府信息公开工作年度报告</title>\n", rep->year);
	else
		printf("<title>互动渠道办理情况 %s 至 %s</title>\n", from, to);
	printf("<style>\n%s</style>\n</head>\n<body>\n", css);
	if (rep->annual) {
		printf("<h1>%d年政府信息公开工作年度报告（依申请公开部分）</h1>\n", rep->year);
		printf("<section>\n<h2>三、收到和处理政府信息公开申请情况</h2>\n<table>\n"
		       "<tr><th rowspan=\"3\">本列数据的勾稽关系为：第一项加第二项之和，"
		       "等于第三项加第四项之和</th><th colspan=\"7\">申请人情况</th></tr>\n"
		       "<tr><th rowspan=\"2\">自然人</th><th colspan=\"5\">法人或其他组织</th>"
		       "<th rowspan=\"2\">总计</th></tr>\n<tr>");
		for (int k = 1; k < AU_NKINDS; k++)
			printf("<th>%s</th>", kind_labels[k]);
		printf("</tr>\n");
		for (size_t i = 0; i < NLINES; i++) {
			const struct line *l = &s3_lines[i];
			printf("<tr><td class=\"i%d\">%s</td>", l->indent, l->label);
			html_cells(line_cells(rep, l), AU_S3_COLS);
			printf("</tr>\n");
		}
		printf("</table>\n</section>\n<section>\n<h2>四、政府信息公开行政复议、行政诉讼情况</h2>\n"
		       "<table class=\"s4\">\n<tr>");
		for (int g = 0; g < AU_NREVIEW_KINDS; g++)
			printf("<th colspan=\"5\">%s</th>", review_labels[g]);
		printf("</tr>\n<tr>");
		for (int g = 0; g < AU_NREVIEW_KINDS; g++)
			for (int c = 0; c <= AU_NRESULTS; c++)
				printf("<th>%s</th>", result_labels[c]);
		printf("</tr>\n<tr>");
		for (int g = 0; g < AU_NREVIEW_KINDS; g++)
			html_cells(rep->s4[g], AU_NRESULTS + 1);
		printf("</tr>\n</table>\n</section>\n<section>\n<h2>校验</h2>\n<ul>\n");
		for (int i = 0; i < AU_NCHECKS; i++)
			printf("<li>%s：%s</li>\n", check_labels[i], rep->ok[i] ? "通过" : "<b>未通过</b>");
		printf("</ul>\n</section>\n");
	}
	printf("<section>\n<h2>互动渠道办理情况（%s 至 %s）</h2>\n", from, to);
	if (cut_short(rep, at))
		printf("<p>截至 %s 判定（judged as of %s）</p>\n", at, at);
	printf("<table>\n<tr><th>渠道</th>");
	for (int c = 0; c < AU_CH_COUNTS; c++)
		printf("<th>%s</th>", count_labels[c]);
	printf("</tr>\n");
	for (int ch = 0; ch < AU_NCHANNELS; ch++) {
		printf("<tr><td>%s</td>", channel_labels[ch]);
		html_cells(rep->ch[ch], AU_CH_COUNTS);
		printf("</tr>\n");
	}
	printf("</table>\n</section>\n");
	if (rep->assist[AU_AS_ASKED]) {
		printf("<section>\n<h2>协办意见</h2>\n<table>\n<tr>");
		for (int c = 0; c < AU_AS_COUNTS; c++)
			printf("<th>%s</th>", assist_labels[c]);
		printf("</tr>\n<tr>");
		html_cells(rep->assist, AU_AS_COUNTS);
		printf("</tr>\n</table>\n</section>\n");
	}
	if (!rep->annual) {
		char cell[32];
		/* queue names are [A-Za-z0-9_-] (pb_conf): nothing to escape */
		printf("<section>\n<h2>满意度与回访（按部门和渠道）</h2>\n<table>\n<tr><th>部门</th><th>渠道</th>");
		for (size_t k = 0; k < NSAT; k++)
			printf("<th>%s</th>", sat_labels[k]);
		printf("</tr>\n");
		for (size_t i = 0; i < rep->nsat; i++) {
			printf("<tr><td>%s</td><td>%s</td>", rep->sat[i].queue, sat_channel(rep->sat[i].channel));
			for (size_t k = 0; k < NSAT; k++) {
				sat_cell(&rep->sat[i], k, cell, sizeof(cell));
				printf("<td class=\"n\">%s</td>", cell);
			}
			printf("</tr>\n");
		}
		printf("</table>\n</section>\n");
	}
	printf("</body>\n</html>\n");
}

/* ---- csv ---- */

static void csv(const struct au_report *rep)
{
	char at[40];

	if (cut_short(rep, at))
		printf("judged_as_of,%s\n\n", at);
	if (rep->annual) {
		printf("section3,label");
		for (int k = 0; k < AU_NKINDS; k++)
			printf(",%s", pb_disc_kinds[k]);
		printf(",total\n");
		for (size_t i = 0; i < NLINES; i++) {
			const struct line *l = &s3_lines[i];
			const uint64_t *c = line_cells(rep, l);
			const char *key = l->type == L_GROUP ? au_groups[l->index]
			                  : l->type == L_HEAD ? "outcomes"
			                  : l->index == AU_S3_NEW ? "new"
			                  : l->index == AU_S3_CARRIED_IN ? "carried_in"
			                  : l->index == AU_S3_TOTAL ? "total"
			                  : l->index == AU_S3_CARRIED_OUT ? "carried_out"
			                  : pb_disc_outcomes[l->index - AU_S3_OUTCOME0];
			printf("%s%s,\"%s\"", l->type == L_GROUP ? "group." : "", key, l->label);
			for (int k = 0; k < AU_S3_COLS; k++)
				c ? printf(",%llu", (unsigned long long)c[k]) : printf(",");
			putchar('\n');
		}
		printf("\nsection4,label");
		for (int c = 0; c < AU_NRESULTS; c++)
			printf(",%s", pb_disc_results[c]);
		printf(",total\n");
		for (int g = 0; g < AU_NREVIEW_KINDS; g++) {
			printf("%s,\"%s\"", pb_disc_review_kinds[g], review_labels[g]);
			for (int c = 0; c <= AU_NRESULTS; c++)
				printf(",%llu", (unsigned long long)rep->s4[g][c]);
			putchar('\n');
		}
		printf("\ncheck,label,ok\n");
		for (int i = 0; i < AU_NCHECKS; i++)
			printf("%s,\"%s\",%s\n", au_check_names[i], check_labels[i],
			       rep->ok[i] ? "true" : "false");
		putchar('\n');
	}
	printf("channel,label");
	for (int c = 0; c < AU_CH_COUNTS; c++)
		printf(",%s", au_channel_counts[c]);
	putchar('\n');
	for (int ch = 0; ch < AU_NCHANNELS; ch++) {
		printf("%s,\"%s\"", au_channels[ch], channel_labels[ch]);
		for (int c = 0; c < AU_CH_COUNTS; c++)
			printf(",%llu", (unsigned long long)rep->ch[ch][c]);
		putchar('\n');
	}
	if (rep->assist[AU_AS_ASKED]) {
		printf("\nassisting");
		for (int c = 0; c < AU_AS_COUNTS; c++)
			printf(",%s", au_assist_counts[c]);
		printf("\nassisting");
		for (int c = 0; c < AU_AS_COUNTS; c++)
			printf(",%llu", (unsigned long long)rep->assist[c]);

		putchar('\n');
	}
	if (rep->annual)
		return;
	char cell[32];
	printf("\nqueue,channel");
	for (size_t k = 0; k < NSAT; k++)
		printf(",%s", sat_keys[k]);
	putchar('\n');
	for (size_t i = 0; i < rep->nsat; i++) {
		printf("%s,%s", rep->sat[i].queue, sat_channel(rep->sat[i].channel));
		for (size_t k = 0; k < NSAT; k++) {
			sat_cell(&rep->sat[i], k, cell, sizeof(cell));
			printf(",%s", strcmp(cell, "—") == 0 ? "" : cell);
		}
		putchar('\n');
	}
}

/* ---- json ---- */

static json_t *by_kind(const uint64_t *c)
{
	json_t *o = json_object();

	for (int k = 0; o && k < AU_NKINDS; k++)
		json_object_set_new(o, pb_disc_kinds[k], json_integer((json_int_t)c[k]));
	if (o)
		json_object_set_new(o, "total", json_integer((json_int_t)c[AU_NKINDS]));
	return o;
}

static json_t *counts(const uint64_t *c, const char *const *names, int n)
{
	json_t *o = json_object();

	for (int i = 0; o && i < n; i++)
		json_object_set_new(o, names[i], json_integer((json_int_t)c[i]));
	return o;
}

static json_t *json_doc(const struct au_report *rep)
{
	static const char *const s4_keys[AU_NRESULTS + 1] = {"upheld", "corrected", "other",
	                                                     "pending", "total"};
	char from[16], to[16];
	json_t *doc = json_object(), *rows, *oc, *gr, *s4, *ch, *checks;

	dates(rep, from, to);
	if (!doc)
		return NULL;
	if (rep->annual)
		json_object_set_new(doc, "year", json_integer(rep->year));
	json_object_set_new(doc, "from", json_string(from));
	json_object_set_new(doc, "to", json_string(to));
	json_object_set_new(doc, "judged_as_of", au_time_json(rep->as_of, 0));
	if (rep->annual) {
		rows = json_object();
		oc = json_object();
		gr = json_object();
		s4 = json_object();
		checks = json_array();
		json_object_set_new(rows, "new", by_kind(rep->s3[AU_S3_NEW]));
		json_object_set_new(rows, "carried_in", by_kind(rep->s3[AU_S3_CARRIED_IN]));
		for (int o = 0; o < AU_NOUTCOMES; o++)
			json_object_set_new(oc, pb_disc_outcomes[o], by_kind(rep->s3[AU_S3_OUTCOME0 + o]));
		json_object_set_new(rows, "outcomes", oc);
		for (int g = 0; g < AU_NGROUPS; g++)
			json_object_set_new(gr, au_groups[g], by_kind(rep->groups[g]));
		json_object_set_new(rows, "groups", gr);
		json_object_set_new(rows, "total", by_kind(rep->s3[AU_S3_TOTAL]));
		json_object_set_new(rows, "carried_out", by_kind(rep->s3[AU_S3_CARRIED_OUT]));
		json_object_set_new(doc, "section3", json_pack("{s:o}", "rows", rows));
		for (int g = 0; g < AU_NREVIEW_KINDS; g++)
			json_object_set_new(s4, pb_disc_review_kinds[g],
			                    counts(rep->s4[g], s4_keys, AU_NRESULTS + 1));
		json_object_set_new(doc, "section4", s4);
		for (int i = 0; i < AU_NCHECKS; i++)
			json_array_append_new(checks, json_pack("{s:s, s:b}", "name", au_check_names[i],
			                                         "ok", rep->ok[i]));
		json_object_set_new(doc, "checks", checks);
	}
	ch = json_object();
	for (int c = 0; c < AU_NCHANNELS; c++)
		json_object_set_new(ch, au_channels[c],
		                    counts(rep->ch[c], au_channel_counts, AU_CH_COUNTS));
	json_object_set_new(doc, "channels", ch);
	json_object_set_new(doc, "assisting", counts(rep->assist, au_assist_counts, AU_AS_COUNTS));
	if (!rep->annual) {
		json_t *sat = json_array();
		for (size_t i = 0; sat && i < rep->nsat; i++) {
			const struct au_sat *s = &rep->sat[i];
			json_array_append_new(
				sat, json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "queue", s->queue, "channel",
				               sat_channel(s->channel), "rated", (json_int_t)s->rated,
				               "satisfied", (json_int_t)s->satisfied, "callbacks_owed",
				               (json_int_t)s->owed, "callbacks_done", (json_int_t)s->done,
				               "callbacks_on_time", (json_int_t)s->on_time, "reopened",
				               (json_int_t)s->reopened));
		}
		json_object_set_new(doc, "satisfaction", sat);
	}
	return doc;
}

int au_report_print(const struct au_report *rep, int format)
{
	switch (format) {
	case AU_FMT_JSON:
		return au_emit(json_doc(rep));
	case AU_FMT_HTML:
		html(rep);
		break;
	case AU_FMT_CSV:
		csv(rep);
		break;
	default:
		md(rep);
		break;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, AU_PROG ": cannot write output\n");
		return AU_EXIT_OTHER;
	}
	return AU_EXIT_OK;
}
