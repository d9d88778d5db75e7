/* The public log names no one and holds no prose. Every channel's life
 * cycle runs through the real processes with texts and names made
 * distinctive; then every entry of /v1/log/entries and the exported bundle
 * are searched for any of them, raw bytes and decoded fields alike. */
#include "it.h"
#include "mailroom.pb-c.h"

#include <sodium.h>
#include <stdarg.h>
#include <time.h>

/* Handler names are names too: the log must not carry them. */
static const struct mr_handler_spec handlers[] = {
	{"zhouqi", "general, roads, supervision, hotline, disclosure"},
	{"qianbaops", "disclosure, general"},
};
#define OPTS                                                                       \
	{.handlers = handlers, .nhandlers = 2,                                         \
	 .extra_ini = "[handler.qianbaops]\nimport = yes\n"}

/* Every text and name given below; import files add theirs. */
static const char *secrets[256] = {
	"zhouqi", "qianbaops",
	/* mailbox */
	"隐私测试路灯甲一", "东门隐私路灯坏了甲二", "陈隐私甲三", "13700001111", "chenyinsi@example.cn",
	"属地管理隐私乙一", "征求第三方意见乙二", "第三方已答复乙三", "孔隐私主任乙四", "需调取档案乙五",
	"补正材料已收到乙六", "已修复路灯隐私乙七",
	/* consultation, complaint */
	"隐私咨询丙一", "请问隐私办事流程丙二", "蒋隐私丙三", "已答复咨询丙四",
	"隐私投诉丁一", "窗口人员态度隐私丁二", "沈隐私丁三", "已核实整改丁四",
	/* 12345 */
	"隐私工单标题戊一", "市民隐私反映内容戊二", "韩隐私戊三", "隐私街道戊四号", "13600002222",
	"申请延期隐私戊五", "市民再次来电隐私戊六", "非本单位职责隐私戊七", "隐私办结答复戊八",
	"平台撤单隐私戊九", "隐私工单标题戊十",
	/* disclosure */
	"杨隐私己一", "13512345678", "yangyinsi@example.cn", "某市隐私路己二号",
	"申请公开隐私经费己三", "了解隐私用途己四", "挂号信签收单隐私己五", "请写明年度隐私己六",
	"某建设隐私公司己七", "朱隐私主任己八", "需调取隐私档案己九", "隐私检索费己十",
	"部分公开隐私答复己十一", "隐私条例第十五条己十二", "电子邮件隐私送达己十三", "复隐私〔2026〕7号",
	NULL,
};
static size_t nsecrets;

static void secrets_count(void)
{
	for (nsecrets = 0; secrets[nsecrets]; nsecrets++)
		;
}

static void secret_add(const char *s)
{
	for (size_t i = 0; i < nsecrets; i++)
		if (strcmp(secrets[i], s) == 0)
			return;
	cr_assert_lt(nsecrets, sizeof(secrets) / sizeof(secrets[0]) - 1);
	secrets[nsecrets++] = strdup(s);
}

/* The values an import line gives that are not codes, times or the old
 * system's reference. */
static void secrets_from_json(const char *key, json_t *v)
{
	static const char *const codes[] = {"type", "at", "channel", "received_at", "kind",
	                                    "form", "delivery", "submission_mode", "outcome",
	                                    "result", "filed", "decided", "ref", "id_type", NULL};
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, x)
			secrets_from_json(k, x);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			secrets_from_json(key, x);
	} else if (json_is_string(v) && key) {
		for (i = 0; codes[i]; i++)
			if (strcmp(codes[i], key) == 0)
				return;
		if (strlen(json_string_value(v)) >= 4)
			secret_add(json_string_value(v));
	}
}

static void secrets_from_file(const char *path)
{
	size_t len;
	char *text = mr_read_text(path, &len), *line, *save = NULL;

	cr_assert_not_null(text, "cannot read %s", path);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		cr_assert_not_null(j, "not JSON: %s", line);
		secrets_from_json(NULL, j);
		json_decref(j);
	}
	free(text);
}

/* ---- driving the service ---- */

/* mailroom-handler with handler h; exit 0 expected; the printed JSON. */
static json_t *hrun(int h, const char *what, ...)
{
	char *argv[16], *out = NULL;
	const char *a;
	int n = 0, rc;
	va_list ap;

	va_start(ap, what);
	while ((a = va_arg(ap, const char *)) != NULL && n < 12)
		argv[n++] = (char *)a;
	va_end(ap);
	while (n < 12)
		argv[n++] = NULL;
	rc = mr_handler_cmd(&env, env.handlers[h].key_path, &out, what, argv[0], argv[1], argv[2],
	                    argv[3], argv[4], argv[5], argv[6], argv[7], argv[8], argv[9], argv[10],
	                    argv[11], NULL);
	cr_assert_eq(rc, 0, "mailroom-handler %s %s: exit %d: %s", what, argv[0] ? argv[0] : "", rc,
	             out ? out : "");
	json_t *j = it_json_text(out);
	free(out);
	return j;
}

/* Pulls the message at the head of queue and returns its id. */
static void pull(const char *queue, char id[32])
{
	json_t *j = hrun(0, "pull", "--queue", queue, "--wait", "5", NULL);

	cr_assert(it_str(j, "message.id"), "pull %s found nothing", queue);
	snprintf(id, 32, "%s", it_str(j, "message.id"));
	json_decref(j);
}

static void post_message(const char *channel, const char *subject, const char *body,
                         const char *name, const char *phone, const char *email)
{
	struct mr_http r;
	json_t *j = json_pack("{s:s, s:s, s:s, s:{s:s, s:s?, s:s?}}", "channel", channel, "subject",
	                      subject, "body", body, "contact", "name", name, "phone", phone, "email",
	                      email);
	char *doc = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	cr_assert_not_null(doc);
	cr_assert_eq(mr_post_message(NULL, &env, doc, &r), 0);
	cr_assert_eq(r.status, 201, "POST %s: HTTP %ld: %s", channel, r.status, r.body);
	mr_http_free(&r);
	free(doc);
}

static void rfc3339(time_t t, char *buf, size_t n)
{
	struct tm tm;

	t += 8 * 3600;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

static void push(json_t *order, long want)
{
	struct mr_hl_sign s = {0};
	struct mr_http r;
	char *doc = json_dumps(order, JSON_COMPACT);

	json_decref(order);
	cr_assert_not_null(doc);
	cr_assert_eq(mr_post_order(NULL, &env, doc, &s, &r), 0);
	cr_assert_eq(r.status, want, "12345 push: HTTP %ld: %s\n%s", r.status, r.body, doc);
	mr_http_free(&r);
	free(doc);
}

static void dispatch(const char *order_no, const char *title)
{
	char *base = mr_order_json(order_no, 1, title);
	json_t *o = json_loads(base, 0, NULL);

	free(base);
	cr_assert_not_null(o);
	json_object_set_new(o, "content", json_string("市民隐私反映内容戊二"));
	json_object_set_new(o, "address", json_string("隐私街道戊四号"));
	json_object_set_new(json_object_get(o, "citizen"), "name", json_string("韩隐私戊三"));
	json_object_set_new(json_object_get(o, "citizen"), "phone", json_string("13600002222"));
	push(o, 201);
}

static void urge_or_revoke(const char *order_no, const char *kind, const char *reason)
{
	char now[40];

	rfc3339(time(NULL), now, sizeof(now));
	push(json_pack("{s:s, s:i, s:s, s:s, s:s}", "order_no", order_no, "dispatch_seq", 1, "kind",
	               kind, "dispatched_at", now, "reason", reason),
	     201);
}

static void today(char *buf, size_t n)
{
	time_t t = time(NULL) + 8 * 3600;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d", &tm);
}

/* ---- the channels ---- */

static char mailbox_id[32];

static void mailbox(void)
{
	char id[32];

	post_message("mailbox", "隐私测试路灯甲一", "东门隐私路灯坏了甲二", "陈隐私甲三", "13700001111",
	             "chenyinsi@example.cn");
	pull("roads", id);
	json_decref(hrun(0, "transfer", id, "--to", "general", "--reason", "属地管理隐私乙一", NULL));
	json_decref(hrun(0, "pause", id, "--reason", "征求第三方意见乙二", NULL));
	json_decref(hrun(0, "resume", id, "--reason", "第三方已答复乙三", NULL));
	json_decref(hrun(0, "extend", id, "--working-days", "5", "--approver", "孔隐私主任乙四",
	                 "--reason", "需调取档案乙五", NULL));
	json_decref(hrun(0, "restart", id, "--reason", "补正材料已收到乙六", NULL));
	pull("general", id);
	json_decref(hrun(0, "reply", id, "--text", "已修复路灯隐私乙七", NULL));
	memcpy(mailbox_id, id, sizeof(mailbox_id));
}

static void consultation_and_complaint(void)
{
	char id[32];

	post_message("consultation", "隐私咨询丙一", "请问隐私办事流程丙二", "蒋隐私丙三", NULL, NULL);
	pull("general", id);
	json_decref(hrun(0, "reply", id, "--text", "已答复咨询丙四", NULL));
	post_message("complaint", "隐私投诉丁一", "窗口人员态度隐私丁二", "沈隐私丁三", NULL, NULL);
	pull("supervision", id);
	json_decref(hrun(0, "release", id, NULL));
	pull("supervision", id);
	json_decref(hrun(0, "reply", id, "--text", "已核实整改丁四", NULL));
}

static void hotline(void)
{
	char id[32], until[40];

	mr_wait_past_gateway_start(&env);
	/* Signed, an extension asked, urged, returned. */
	dispatch("GD-PRIV-A", "隐私工单标题戊一");
	pull("hotline", id);
	json_decref(hrun(0, "sign", id, NULL));
	rfc3339(time(NULL) + 20 * 86400, until, sizeof(until));
	json_decref(hrun(0, "extend-request", id, "--until", until, "--text", "申请延期隐私戊五", NULL));
	urge_or_revoke("GD-PRIV-A", "urge", "市民再次来电隐私戊六");
	json_decref(hrun(0, "return", id, "--reason-code", "NOT_OURS", "--text", "非本单位职责隐私戊七",
	                 NULL));
	/* Signed and finished. */
	dispatch("GD-PRIV-B", "隐私工单标题戊十");
	pull("hotline", id);
	json_decref(hrun(0, "sign", id, NULL));
	json_decref(hrun(0, "finish", id, "--text", "隐私办结答复戊八", NULL));
	/* Revoked while queued. */
	dispatch("GD-PRIV-C", "隐私工单标题戊十");
	urge_or_revoke("GD-PRIV-C", "revoke", "平台撤单隐私戊九");
}

static void disclosure(void)
{
	static const char application[] =
		"{\"applicant\":{\"kind\":\"natural_person\",\"name\":\"杨隐私己一\",\"id_type\":\"resident_id\","
		"\"id_number\":\"11010519491231002X\",\"phone\":\"13512345678\",\"email\":\"yangyinsi@example.cn\","
		"\"address\":\"某市隐私路己二号\"},\"description\":\"申请公开隐私经费己三\","
		"\"form\":\"electronic\",\"delivery\":\"email\",\"submission_mode\":\"registered_mail\","
		"\"purpose\":\"了解隐私用途己四\"}";
	struct mr_http r;
	char id[32], date[16];

	today(date, sizeof(date));
	cr_assert_eq(mr_post_disclosure(NULL, &env, application, &r), 0);
	cr_assert_eq(r.status, 201, "POST: HTTP %ld: %s", r.status, r.body);
	mr_http_free(&r);
	pull("disclosure", id);
#define STEP(...) json_decref(hrun(0, "disclosure", __VA_ARGS__, NULL))
	STEP("confirm-receipt", id, "--date", date, "--evidence", "挂号信签收单隐私己五");
	STEP("request-correction", id, "--text", "请写明年度隐私己六");
	STEP("correction-received", id);
	STEP("consult", id, "--party", "某建设隐私公司己七");
	STEP("consult-done", id);
	STEP("extend", id, "--days", "10", "--approver", "朱隐私主任己八", "--reason", "需调取隐私档案己九");
	STEP("fee-notice", id, "--text", "隐私检索费己十");
	STEP("fee-paid", id);
	STEP("decide", id, "--outcome", "partly_disclosed", "--text", "部分公开隐私答复己十一",
	     "--legal-basis", "隐私条例第十五条己十二");
	STEP("deliver", id, "--evidence", "电子邮件隐私送达己十三");
	STEP("review", id, "--kind", "review", "--case-no", "复隐私〔2026〕7号", "--filed", date,
	     "--result", "pending");
	STEP("review", id, "--kind", "review", "--case-no", "复隐私〔2026〕7号", "--filed", date,
	     "--result", "upheld", "--decided", date);
#undef STEP
}

/* Every import event type, each text its own. */
static const char *const import_lines[] = {
	"{\"ref\":\"PRIV-D-1\",\"channel\":\"disclosure\",\"received_at\":\"2025-03-03T10:00:00+08:00\","
	"\"applicant\":{\"kind\":\"natural_person\",\"name\":\"秦隐私庚一\",\"id_type\":\"resident_id\","
	"\"id_number\":\"11010519491231002X\",\"phone\":\"13311112222\",\"email\":\"qinyinsi@example.cn\"},"
	"\"description\":\"申请公开隐私预算庚二\",\"form\":\"electronic\",\"delivery\":\"email\","
	"\"submission_mode\":\"registered_mail\",\"events\":["
	"{\"type\":\"receipt_confirmed\",\"at\":\"2025-03-03T10:30:00+08:00\",\"evidence\":\"签收单隐私庚三\",\"by\":\"许隐私庚四\"},"
	"{\"type\":\"correction_requested\",\"at\":\"2025-03-05T10:00:00+08:00\",\"text\":\"请补正隐私庚五\"},"
	"{\"type\":\"correction_received\",\"at\":\"2025-03-10T14:00:00+08:00\"},"
	"{\"type\":\"consultation_started\",\"at\":\"2025-03-12T10:00:00+08:00\",\"text\":\"第三方隐私公司庚六\"},"
	"{\"type\":\"consultation_ended\",\"at\":\"2025-03-26T16:00:00+08:00\"},"
	"{\"type\":\"extended\",\"at\":\"2025-04-01T10:00:00+08:00\",\"days\":10,\"approver\":\"何隐私主任庚七\",\"reason\":\"隐私档案庚八\"},"
	"{\"type\":\"fee_notice\",\"at\":\"2025-04-02T10:00:00+08:00\",\"text\":\"隐私收费庚九\"},"
	"{\"type\":\"fee_paid\",\"at\":\"2025-04-03T10:00:00+08:00\"},"
	"{\"type\":\"decided\",\"at\":\"2025-04-20T10:00:00+08:00\",\"outcome\":\"partly_disclosed\","
	"\"text\":\"隐私部分公开庚十\",\"legal_basis\":\"隐私法条庚十一\",\"by\":\"吕隐私庚十二\"},"
	"{\"type\":\"delivered\",\"at\":\"2025-04-21T09:00:00+08:00\",\"evidence\":\"隐私邮寄庚十三\"},"
	"{\"type\":\"review\",\"kind\":\"review\",\"case_no\":\"复隐私庚〔2025〕14号\",\"filed\":\"2025-06-01\","
	"\"result\":\"upheld\",\"decided\":\"2025-08-01\"}]}",
	"{\"ref\":\"PRIV-M-1\",\"channel\":\"mailbox\",\"received_at\":\"2025-06-03T08:40:00+08:00\","
	"\"subject\":\"隐私旧信辛一\",\"body\":\"隐私旧信内容辛二\",\"contact\":{\"name\":\"施隐私辛三\","
	"\"phone\":\"13922223333\"},\"events\":[{\"type\":\"replied\",\"at\":\"2025-06-05T16:00:00+08:00\","
	"\"text\":\"隐私旧答复辛四\",\"by\":\"张隐私辛五\"}]}",
};

static void import(void)
{
	char path[MR_PATH], *out = NULL, *err = NULL;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/privacy.jsonl", env.dir);
	cr_assert_not_null(f = fopen(path, "w"));
	for (size_t i = 0; i < sizeof(import_lines) / sizeof(import_lines[0]); i++)
		fprintf(f, "%s\n", import_lines[i]);
	cr_assert_eq(fclose(f), 0);
	secrets_from_file(path);
	rc = mr_admin_cmd(&env, env.handlers[1].key_path, &out, &err, "import", "--file", path, NULL);
	cr_assert_eq(rc, 0, "import: exit %d: %s %s", rc, out ? out : "", err ? err : "");
	free(out);
	free(err);
	/* The README's example file, as shipped. */
	secrets_from_file(MR_SOURCE_DIR "/deploy/import-example.jsonl");
	rc = mr_admin_cmd(&env, env.handlers[1].key_path, &out, &err, "import", "--file",
	                  MR_SOURCE_DIR "/deploy/import-example.jsonl", NULL);
	cr_assert_eq(rc, 0, "import of the example: exit %d: %s %s", rc, out ? out : "", err ? err : "");
	free(out);
	free(err);
}

/* ---- the search ---- */

static const char *leak_in(const void *data, size_t len)
{
	for (size_t i = 0; i < nsecrets; i++)
		if (memmem(data, len, secrets[i], strlen(secrets[i])))
			return secrets[i];
	return NULL;
}

/* A record's clear fields: actors are pseudonyms; approver, legal basis
 * and case number only as commitments; a detail only from a fixed
 * vocabulary. */
static void check_fields(const Mailroom__AuditRecord *r)
{
	static const int detail_clear[] = {
		MAILROOM__AUDIT_EVENT__AUDIT_RECEIVED, MAILROOM__AUDIT_EVENT__AUDIT_ROUTED,
		MAILROOM__AUDIT_EVENT__AUDIT_REDISPATCHED, MAILROOM__AUDIT_EVENT__AUDIT_SIGNED,
		MAILROOM__AUDIT_EVENT__AUDIT_RETURNED, MAILROOM__AUDIT_EVENT__AUDIT_EXTENSION_REQUESTED,
		MAILROOM__AUDIT_EVENT__AUDIT_CITIZEN_REPLIED, MAILROOM__AUDIT_EVENT__AUDIT_OUTBOX_REQUEUED,
		MAILROOM__AUDIT_EVENT__AUDIT_CORRECTION_RECEIVED, MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_FLAGGED,
		MAILROOM__AUDIT_EVENT__AUDIT_REPEAT_DECIDED, MAILROOM__AUDIT_EVENT__AUDIT_CLOCK_RECOMPUTED,
		MAILROOM__AUDIT_EVENT__AUDIT_DUE_SOON, MAILROOM__AUDIT_EVENT__AUDIT_OVERDUE,
		MAILROOM__AUDIT_EVENT__AUDIT_SERIOUSLY_OVERDUE, MAILROOM__AUDIT_EVENT__AUDIT_VETO_ALERT,
	};
	const char *a = r->actor ? r->actor : "";
	const char *hex = strncmp(a, "handler:", 8) == 0 ? a + 8 : strncmp(a, "operator:", 9) == 0 ? a + 9 : NULL;
	int ok = strcmp(a, "router") == 0 || strcmp(a, "gateway") == 0 || strcmp(a, "hotline") == 0;
	int clear = 0;

	if (hex && strlen(hex) == 16 && strspn(hex, "0123456789abcdef") == 16)
		ok = 1;
	cr_expect(ok, "record %llu: actor '%s' is not a pseudonym", (unsigned long long)r->index, a);
	cr_expect_str_empty(r->approver ? r->approver : "", "record %llu: approver in clear",
	                    (unsigned long long)r->index);
	cr_expect_str_empty(r->legal_basis ? r->legal_basis : "", "record %llu: legal basis in clear",
	                    (unsigned long long)r->index);
	if (r->review)
		cr_expect_str_empty(r->review->case_no ? r->review->case_no : "",
		                    "record %llu: case number in clear", (unsigned long long)r->index);
	for (size_t i = 0; i < sizeof(detail_clear) / sizeof(detail_clear[0]); i++)
		clear |= (int)r->event == detail_clear[i];
	if (!clear)
		cr_expect_str_empty(r->detail ? r->detail : "", "record %llu (event %d): detail '%s' in clear",
		                    (unsigned long long)r->index, r->event, r->detail);
}

static uint64_t log_size(void)
{
	struct mr_http r;
	const char *nl;

	cr_assert_eq(mr_http(NULL, env.base, "GET", "/v1/log/checkpoint", NULL, NULL, 0, 10000, &r), 0);
	cr_assert_eq(r.status, 200);
	nl = r.body ? strchr(r.body, '\n') : NULL;
	cr_assert_not_null(nl, "%s", r.body);
	uint64_t n = strtoull(nl + 1, NULL, 10);
	mr_http_free(&r);
	return n;
}

/* Every entry, page by page; returns how many were searched. */
static uint64_t search_entries(uint64_t size)
{
	uint64_t seen = 0;

	for (uint64_t start = 0; start < size;) {
		struct mr_http r;
		char q[96];
		json_t *j, *e;
		size_t i;

		snprintf(q, sizeof(q), "/v1/log/entries?start=%llu&end=%llu", (unsigned long long)start,
		         (unsigned long long)size);
		cr_assert_eq(mr_http(NULL, env.base, "GET", q, NULL, NULL, 0, 10000, &r), 0);
		cr_assert_eq(r.status, 200, "%s: HTTP %ld %s", q, r.status, r.body);
		const char *leak = leak_in(r.body, r.len);
		cr_expect_null(leak, "%s names '%s'", q, leak);
		j = it_json(&r);
		mr_http_free(&r);
		cr_assert_gt(json_array_size(json_object_get(j, "entries")), 0, "%s: no entries", q);
		json_array_foreach(json_object_get(j, "entries"), i, e) {
			const char *b64 = json_string_value(e);
			size_t blen = strlen(b64), len;
			uint8_t *raw = malloc(blen);
			cr_assert(raw && b64);
			cr_assert_eq(sodium_base642bin(raw, blen, b64, blen, NULL, &len, NULL,
			                               sodium_base64_VARIANT_ORIGINAL),
			             0);
			cr_assert_gt(len, 0);
			leak = leak_in(raw, len);
			cr_expect_null(leak, "entry %llu names '%s'", (unsigned long long)(start + i), leak);
			Mailroom__AuditRecord *rec = mailroom__audit_record__unpack(NULL, len, raw);
			cr_assert_not_null(rec, "entry %llu does not decode", (unsigned long long)(start + i));
			cr_assert_eq(rec->index, start + i);
			check_fields(rec);
			mailroom__audit_record__free_unpacked(rec, NULL);
			free(raw);
			seen++;
		}
		start += json_array_size(json_object_get(j, "entries"));
		json_decref(j);
	}
	return seen;
}

Test(privacy, the_public_log_names_no_one_and_holds_no_prose, .init = it_init, .fini = it_fini,
     .timeout = 280)
{
	const struct mr_opts o = OPTS;
	char path[MR_PATH], *out = NULL;
	size_t len;

	secrets_count();
	IT_UP(&o);
	mailbox();
	consultation_and_complaint();
	hotline();
	disclosure();
	import();

	uint64_t size = log_size();
	cr_assert_gt(size, 60, "the log holds the life cycles: %llu", (unsigned long long)size);
	cr_expect_eq(search_entries(size), size);

	/* The exported bundle: what mirrors and witnesses hold. */
	snprintf(path, sizeof(path), "%s/privacy.bundle", env.dir);
	cr_assert_eq(mr_audit_cmd(&env, &out, "export", "--out", path, NULL), 0, "export: %s", out);
	free(out);
	char *bundle = mr_read_text(path, &len);
	cr_assert_not_null(bundle);
	const char *leak = leak_in(bundle, len);
	cr_expect_null(leak, "the bundle names '%s'", leak);
	free(bundle);

	/* The search index's file and its log, at rest: sealed pages only. */
	size_t total = 0;
	for (int i = 0; i < 2; i++) {
		char ipath[MR_PATH + 32];
		snprintf(ipath, sizeof(ipath), "%s/search.db%s", env.store, i ? "-wal" : "");
		char *idx = mr_read_text(ipath, &len);
		cr_expect(idx || i == 1, "no index file at %s", ipath);
		if (!idx)
			continue;
		total += len;
		leak = leak_in(idx, len);
		cr_expect_null(leak, "%s holds '%s' in clear", ipath, leak);
		free(idx);
	}
	cr_expect_gt(total, 16384, "the index holds more than its schema");

	/* The auditor still accepts every record, and the office's auditor,
	 * who holds the data key, sees each text match its commitment. */
	int rc = mr_audit_cmd(&env, &out, "verify", "--calendars", MR_SOURCE_DIR "/deploy/calendars",
	                      NULL);
	cr_expect_eq(rc, 0, "verify --store: exit %d: %s", rc, out ? out : "");
	free(out);
	snprintf(path, sizeof(path), "%s/keys/data.key", env.dir);
	rc = mr_audit_cmd(&env, &out, "trail", mailbox_id, "--data-key", path, NULL);
	cr_expect_eq(rc, 0, "trail --data-key: exit %d: %s", rc, out ? out : "");
	cr_expect(out && strstr(out, " approver=孔隐私主任乙四 (matches)"), "%s", out ? out : "");
	cr_expect(out && strstr(out, " detail=属地管理隐私乙一 (matches)"), "%s", out ? out : "");
	cr_expect(out && !strstr(out, "MISMATCH"), "%s", out ? out : "");
	free(out);
	IT_DOWN();
}
