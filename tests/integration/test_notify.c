/* Notices to citizens, end to end: the real router, gateway, handler tool
 * and mailroom-notify, with a loopback SMTP relay that requires STARTTLS
 * and a stand-in for Tencent Cloud SMS that checks the TC3-HMAC-SHA256
 * signature (tests/notify/standin.py). What arrives there is checked:
 * headers, the UTF-8 body, the tracking code, one notice per event, and
 * the faults (5xx, a timeout, a final refusal, a bounce) that end in a
 * retry or a dead letter. */
#include "it.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct mr_handler_spec handlers[] = {{"alice", "general, roads"}};

static pid_t standin_pid, notify_pid;
static int metrics_port, notify_port;
static char standin_dir[MR_PATH + 16];

static pid_t start(const char *log, char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void stop(pid_t *pid)
{
	int st;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	for (int i = 0; i < 100 && waitpid(*pid, &st, WNOHANG) == 0; i++)
		mr_sleep_ms(50);
	if (waitpid(*pid, &st, WNOHANG) == 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, &st, 0);
	}
	*pid = 0;
}

static void fini(void)
{
	stop(&notify_pid);
	stop(&standin_pid);
	it_fini();
}

/* mailroom-notify stops cleanly (exit 0) and its log holds no sanitizer
 * report: the harness checks the router's and the gateway's. */
static void notify_down(void)
{
	char path[MR_PATH + 16];
	char *log;
	int st = 0;

	cr_assert(notify_pid > 0);
	kill(notify_pid, SIGTERM);
	cr_expect_eq(waitpid(notify_pid, &st, 0), notify_pid);
	notify_pid = 0;
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "mailroom-notify: wait status %d", st);
	snprintf(path, sizeof(path), "%s/notify.log", env.dir);
	log = mr_read_text(path, NULL);
	cr_expect(log && !strstr(log, "Sanitizer") && !strstr(log, "runtime error"),
	          "mailroom-notify's log: %s", log ? log : "(none)");
	free(log);
}

static void start_notify(void)
{
	char log[MR_PATH + 16];
	char *argv[] = {MR_BIN_DIR "/bin/mailroom-notify", "-c", env.ini, "run", NULL};

	snprintf(log, sizeof(log), "%s/notify.log", env.dir);
	notify_pid = start(log, argv);
	cr_assert(notify_pid > 0);
}

/* The environment, the stand-ins, and mailroom-notify sending through them. */
static void up_with(int plain_relay)
{
	char path[MR_PATH + 32], hex[65], log[MR_PATH + 16];
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1};
	struct mr_handler k;
	int smtp = 0, sms = 0, plain = 0;
	FILE *f;

	cr_assert_eq(mr_env_init(&env, &o), 0);
	snprintf(standin_dir, sizeof(standin_dir), "%s/standin", env.dir);
	cr_assert_eq(mkdir(standin_dir, 0700), 0);
	char *argv[] = {"/usr/bin/python3", MR_SOURCE_DIR "/tests/notify/standin.py", standin_dir,
	                "AKIDmailroomtest", "tc3-test-secret-key", NULL};
	snprintf(log, sizeof(log), "%s/standin.log", env.dir);
	standin_pid = start(log, argv);
	snprintf(path, sizeof(path), "%s/ports", standin_dir);
	for (int i = 0; i < 200 && !(f = fopen(path, "r")); i++)
		mr_sleep_ms(50);
	cr_assert(f, "the stand-ins did not start (is python3-aiosmtpd installed?)");
	cr_assert_eq(fscanf(f, "%d %d %d", &smtp, &sms, &plain), 3);
	fclose(f);

	snprintf(k.key_path, sizeof(k.key_path), "%s/keys/notify.key", env.dir);
	cr_assert_eq(mr_key_write(k.key_path, k.sk, k.pk), 0);
	snprintf(path, sizeof(path), "%s/keys/sms.secret", env.dir);
	cr_assert(f = fopen(path, "w"));
	fputs("tc3-test-secret-key\n", f);
	fclose(f);
	chmod(path, 0600);
	sodium_bin2hex(hex, sizeof(hex), k.pk, 32);
	cr_assert(f = fopen(env.ini, "a"));
	metrics_port = mr_free_port();
	notify_port = mr_free_port();
	fprintf(f, "[router]\nmetrics_addr = 127.0.0.1\nmetrics_port = %d\n\n", metrics_port);
	fprintf(f, "[office]\nname = 测试市人民政府\n\n"
	           "[connector.notify]\nkey = %s\nrole = notify\n\n"
	           "[notify]\nmode = send\ntemplates = %s/deploy/notices\nkey_file = %s\n"
	           "state_dir = %s/notify\npoll_interval_ms = 100\nbackoff_max_ms = 1000\n"
	           "timeout_ms = 1500\nmax_attempts = 6\nmetrics_addr = 127.0.0.1\nmetrics_port = %d\n"
	           "unhealthy_after_s = 2\nunhealthy_failures = 3\n\n"
	           "[notify.smtp]\nurl = smtp://127.0.0.1:%d\nfrom = 测试市政府信箱 <noreply@mailroom.test>\n"
	           "require_tls = yes\nca_file = %s/relay.crt\n\n"
	           "[notify.sms]\nprovider = tencent\nurl = http://127.0.0.1:%d/\n"
	           "secret_id = AKIDmailroomtest\nsecret_key_file = %s\napp_id = 1400000001\n"
	           "sign_name = 测试市政府\n",
	        hex, MR_SOURCE_DIR, k.key_path, env.dir, notify_port, plain_relay ? plain : smtp, standin_dir, sms,
	        path);
	fclose(f);
	cr_assert_eq(mr_env_up(&env), 0, "router or gateway did not start");
	start_notify();
}

static void up(void)
{
	up_with(0);
}

/* Lines of DIR/name holding every one of the needles. */
static int count(const char *name, const char *a, const char *b)
{
	char path[MR_PATH + 64];
	char *text, *line, *save = NULL;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", standin_dir, name);
	if (!(text = mr_read_text(path, NULL)))
		return 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if ((!a || strstr(line, a)) && (!b || strstr(line, b)))
			n++;
	free(text);
	return n;
}

static int wait_count(const char *name, const char *a, const char *b, int want, int secs)
{
	int n = 0;

	for (int i = 0; i < secs * 20 && (n = count(name, a, b)) < want; i++)
		mr_sleep_ms(50);
	return n;
}

/* The one line of mail.jsonl for this code and subject word, parsed. */
static json_t *mail_for(const char *code, const char *word)
{
	char path[MR_PATH + 64];
	char *text, *line, *save = NULL;
	json_t *found = NULL;

	snprintf(path, sizeof(path), "%s/mail.jsonl", standin_dir);
	cr_assert(text = mr_read_text(path, NULL));
	for (line = strtok_r(text, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *s = it_str(j, "subject");
		if (s && strstr(s, code) && strstr(s, word))
			found = j;
		else
			json_decref(j);
	}
	free(text);
	cr_assert(found, "no mail for %s with %s", code, word);
	return found;
}

static void submit(const char *contact, int notices, char *code, char *key)
{
	char body[600];
	struct mr_http r;
	json_t *j;

	snprintf(body, sizeof(body),
	         "{\"channel\":\"mailbox\",\"subject\":\"小区路灯不亮\",\"body\":\"东门路灯坏了三天。\","
	         "\"contact\":%s%s}",
	         contact, notices ? "" : ",\"notices\":false");
	cr_assert_eq(mr_post_message(NULL, &env, body, &r), 0);
	cr_assert_eq(r.status, 201, "HTTP %ld: %s", r.status, r.body);
	j = it_json(&r);
	snprintf(code, 32, "%s", it_str(j, "tracking_code"));
	snprintf(key, 128, "%s", it_str(j, "access_key"));
	json_decref(j);
	mr_http_free(&r);
}

struct page {
	char cookie[256];
	char *body;
	size_t len;
};

static size_t page_header(char *line, size_t size, size_t n, void *arg)
{
	struct page *p = arg;
	size_t len = size * n;

	if (len > 12 && strncasecmp(line, "Set-Cookie: ", 12) == 0 && strstr(line, "mr_csrf=")) {
		size_t v = strcspn(line + 12, ";\r\n");
		snprintf(p->cookie, sizeof(p->cookie), "%.*s", (int)v, line + 12);
	}
	return len;
}

static size_t page_body(char *data, size_t size, size_t n, void *arg)
{
	struct page *p = arg;
	char *more = realloc(p->body, p->len + size * n + 1);

	if (!more)
		return 0;
	memcpy(more + p->len, data, size * n);
	p->len += size * n;
	more[p->len] = '\0';
	p->body = more;
	return size * n;
}

/* The status page's opt-out, as a browser posts it: the form's cookie
 * and one-time token, the code, the key and notices=off. */
static void opt_out_on_the_status_page(const char *code, const char *key)
{
	struct page pg = {0};
	char url[128], hdr[300], token[200], body[600];
	struct curl_slist *h = NULL;
	struct mr_http r;
	CURL *c = curl_easy_init();

	cr_assert(c);
	snprintf(url, sizeof(url), "%s/track", env.base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, page_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &pg);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, page_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &pg);
	cr_assert_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	const char *t = pg.body ? strstr(pg.body, "name=\"token\" value=\"") : NULL;
	cr_assert(t && pg.cookie[0], "no form token or cookie");
	t += strlen("name=\"token\" value=\"");
	snprintf(token, sizeof(token), "%.*s", (int)strcspn(t, "\""), t);
	free(pg.body);
	snprintf(hdr, sizeof(hdr), "Cookie: %s", pg.cookie);
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded");
	snprintf(body, sizeof(body), "token=%s&code=%s&key=%s&notices=off", token, code, key);
	cr_assert_eq(mr_http(NULL, env.base, "POST", "/track", h, body, strlen(body), 10000, &r), 0);
	curl_slist_free_all(h);
	cr_assert_eq(r.status, 200, "HTTP %ld: %.400s", r.status, r.body);
	cr_expect(strstr(r.body, "已停止，今后不再发送"), "%.2000s", r.body);
	mr_http_free(&r);
}

/* The auditor's whole-log check passes over the notices' records. */
static void audit_verify(void)
{
	char *out = NULL;
	int rc = mr_audit_cmd(&env, &out, "verify", "--calendars", MR_SOURCE_DIR "/deploy/calendars",
	                      NULL);
	cr_expect_eq(rc, 0, "mailroom-audit verify: exit %d: %s", rc, out ? out : "");
	free(out);
	out = NULL;
	rc = mr_audit_cmd(&env, &out, "overdue", "--calendars", MR_SOURCE_DIR "/deploy/calendars",
	                  NULL);
	cr_expect_eq(rc, 0, "mailroom-audit overdue: exit %d: %s", rc, out ? out : "");
	free(out);
}

static json_t *notify_cmd(const char *cmd, int want_exit)
{
	char *out = NULL, *err = NULL;
	char *argv[] = {MR_BIN_DIR "/bin/mailroom-notify", "-c", env.ini, (char *)cmd, NULL};
	int rc = mr_run(&env, argv, &out, &err, 20);
	cr_assert_eq(rc, want_exit, "mailroom-notify %s: exit %d: %s %s", cmd, rc, out, err);
	json_t *j = it_json_text(out);
	free(out);
	free(err);
	return j;
}

Test(notify, every_step_by_email_and_sms_once, .init = it_init, .fini = fini, .timeout = 60)
{
	char code[32], key[128], id[40], *out = NULL;
	json_t *j, *m;
	int rc;

	up();
	submit("{\"name\":\"张三\",\"phone\":\"13800000000\",\"email\":\"zhangsan@example.cn\"}", 1,
	       code, key);

	/* The receipt: over STARTTLS, UTF-8, the tracking code, never the key. */
	cr_assert_eq(wait_count("mail.jsonl", code, NULL, 1, 15), 1);
	m = mail_for(code, "已受理");
	cr_expect(json_is_true(json_object_get(m, "tls")), "mail sent without STARTTLS");
	cr_expect_str_eq(it_str(m, "charset"), "utf-8");
	cr_expect_str_eq(it_str(m, "content_type"), "text/plain");
	cr_expect_str_eq(it_str(m, "to"), "zhangsan@example.cn");
	cr_expect(strstr(it_str(m, "from"), "测试市政府信箱"), "From: %s", it_str(m, "from"));
	cr_expect(strstr(it_str(m, "subject"), "测试市人民政府"), "Subject: %s", it_str(m, "subject"));
	cr_expect(strstr(it_str(m, "body"), code), "body without the code");
	cr_expect(strstr(it_str(m, "body"), "您提交的来信已于今日受理"), "body: %s", it_str(m, "body"));
	cr_expect(!strstr(it_str(m, "body"), key), "the access key went out by e-mail");
	cr_expect(strstr(it_str(m, "message_id"), "-receipt-email@mailroom.test>"), "Message-ID %s",
	          it_str(m, "message_id"));
	json_decref(m);
	/* The SMS: the template's id and parameters, signed as the provider checks. */
	cr_assert_eq(wait_count("sms.jsonl", code, NULL, 1, 15), 1);
	cr_expect_eq(count("sms.jsonl", code, "\"signature_ok\": true"), 1);
	cr_expect_eq(count("sms.jsonl", "\"TemplateId\": \"0000001\"", "+8613800000000"), 1);
	cr_expect_eq(count("sms.jsonl", key, NULL), 0, "the access key went out by SMS");

	/* Transfer, reply: each told once; the reply also invites a rating. */
	/* 路灯 routes it to roads; it goes on to general. */
	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue", "roads",
	                    "--wait", "5", NULL);
	cr_assert_eq(rc, 0, "pull: %s", out);
	j = it_json_text(out);
	free(out);
	snprintf(id, sizeof(id), "%s", it_str(j, "message.id"));
	json_decref(j);
	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "transfer", id, "--to", "general",
	                    "--reason", "属道路照明", NULL);
	cr_assert_eq(rc, 0, "transfer: %s", out);
	free(out);
	cr_assert_eq(wait_count("mail.jsonl", code, "）已转交", 1, 15), 1);
	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue", "general",
	                    "--wait", "5", NULL);
	cr_assert_eq(rc, 0, "pull: %s", out);
	free(out);
	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "reply", id, "--text",
	                    "已修复，谢谢反映。", NULL);
	cr_assert_eq(rc, 0, "reply: %s", out);
	free(out);
	cr_assert_eq(wait_count("mail.jsonl", code, "请您评价", 1, 15), 1);
	cr_assert_eq(wait_count("mail.jsonl", code, "）已答复", 1, 15), 1);
	cr_assert_eq(wait_count("sms.jsonl", code, NULL, 4, 15), 4);
	m = mail_for(code, "）已答复");
	cr_expect(!strstr(it_str(m, "body"), "已修复"), "the reply's text went out by e-mail");
	json_decref(m);

	/* A restart of the sender sends nothing again. */
	notify_down();
	start_notify();
	mr_sleep_ms(1500);
	cr_expect_eq(count("mail.jsonl", code, NULL), 4);
	cr_expect_eq(count("sms.jsonl", code, NULL), 4);
	j = notify_cmd("status", 0);
	cr_expect_eq(json_integer_value(json_object_get(j, "sent")), 8);
	cr_expect_eq(json_integer_value(json_object_get(j, "pending")), 0);
	cr_expect_eq(json_integer_value(json_object_get(j, "dead_letters")), 0);
	json_decref(j);

	/* Opted out at submission: nothing, while the next citizen is told. */
	char code2[32], key2[128], code3[32], key3[128];
	submit("{\"phone\":\"13800000001\",\"email\":\"lisi@example.cn\"}", 0, code2, key2);
	submit("{\"email\":\"wangwu@example.cn\"}", 1, code3, key3);
	cr_assert_eq(wait_count("mail.jsonl", code3, NULL, 1, 15), 1);
	cr_expect_eq(count("mail.jsonl", code2, NULL), 0);
	cr_expect_eq(count("sms.jsonl", code2, NULL), 0);

	/* Opted out on the status page: the reply tells no one. */
	opt_out_on_the_status_page(code3, key3);
	id[0] = '\0';
	for (int i = 0; i < 3 && !id[0]; i++) {   /* 路灯: in roads, after code2's */
		rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue", "roads",
		                    "--wait", "5", NULL);
		cr_assert_eq(rc, 0, "pull: %s", out);
		j = it_json_text(out);
		free(out);
		if (strcmp(it_str(j, "message.tracking_code") ? it_str(j, "message.tracking_code") : "",
		           code3) == 0)
			snprintf(id, sizeof(id), "%s", it_str(j, "message.id"));
		json_decref(j);
	}
	cr_assert(id[0], "%s never pulled", code3);
	rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "reply", id, "--text", "已办。", NULL);
	cr_assert_eq(rc, 0, "reply: %s", out);
	free(out);
	char code4[32], key4[128];
	submit("{\"email\":\"sunqi@example.cn\"}", 1, code4, key4);   /* a barrier */
	cr_assert_eq(wait_count("mail.jsonl", code4, NULL, 1, 15), 1);
	cr_expect_eq(count("mail.jsonl", code3, NULL), 1, "only the receipt, before the opt-out");
	audit_verify();
	notify_down();
	IT_DOWN();
}

Test(notify, faults_retry_or_dead_letter, .init = it_init, .fini = fini, .timeout = 60)
{
	char code[4][32], key[128];
	json_t *j, *list;

	up();
	submit("{\"phone\":\"13900000500\"}", 1, code[0], key);   /* 500, 500, then sent */
	submit("{\"phone\":\"13900000408\"}", 1, code[1], key);   /* a timeout, then sent */
	submit("{\"phone\":\"13900000404\"}", 1, code[2], key);   /* refused for good */
	submit("{\"email\":\"bounce@example.cn\"}", 1, code[3], key);   /* 550 */

	cr_assert_eq(wait_count("sms.jsonl", code[0], "\"outcome\": \"sent\"", 1, 20), 1);
	cr_expect_eq(count("sms.jsonl", code[0], "\"outcome\": \"http_500\""), 2);
	cr_assert_eq(wait_count("sms.jsonl", code[1], "\"outcome\": \"sent\"", 1, 20), 1);
	cr_expect_eq(count("sms.jsonl", code[1], "\"outcome\": \"timeout\""), 1);
	/* A final refusal is tried once. */
	cr_expect_eq(count("sms.jsonl", code[2], NULL), 1);
	cr_expect_eq(count("sms.jsonl", "\"signature_ok\": false", NULL), 0);

	for (int i = 0; i < 100; i++) {
		j = notify_cmd("status", 0);
		int dead = (int)json_integer_value(json_object_get(j, "dead_letters"));
		json_decref(j);
		if (dead == 2)
			break;
		mr_sleep_ms(100);
	}
	j = notify_cmd("deadletters", 0);
	list = json_object_get(j, "dead_letters");
	cr_assert_eq(json_array_size(list), 2, "%zu dead letters", json_array_size(list));
	for (size_t i = 0; i < 2; i++) {
		json_t *d = json_array_get(list, i);
		const char *to = it_str(d, "to"), *medium = it_str(d, "medium");
		if (strcmp(medium, "sms") == 0) {
			cr_expect_str_eq(it_str(d, "tracking_code"), code[2]);
			cr_expect_str_eq(to, "139****0404");
			cr_expect(strstr(it_str(d, "error"), "IncorrectPhoneNumber"), "%s", it_str(d, "error"));
		} else {
			cr_expect_str_eq(it_str(d, "tracking_code"), code[3]);
			cr_expect_str_eq(to, "b***@example.cn");
			cr_expect(strstr(it_str(d, "error"), "550"), "%s", it_str(d, "error"));
		}
		cr_expect_eq(json_integer_value(json_object_get(d, "attempts")), 1);
	}
	json_decref(j);

	/* Handlers see them, contacts masked; the router counts them. */
	char *out = NULL, url[64];
	int rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "notices", NULL);
	cr_assert_eq(rc, 0, "notices: %s", out);
	j = it_json_text(out);
	free(out);
	cr_expect_eq(json_integer_value(json_object_get(j, "dead_letters")), 2);
	cr_expect_eq(json_array_size(json_object_get(j, "undelivered")), 2);
	char *dump = json_dumps(j, 0);
	cr_expect(dump && !strstr(dump, "13900000404"), "a handler sees the number masked");
	free(dump);
	json_decref(j);
	struct mr_http r;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", metrics_port);
	cr_assert_eq(mr_http(NULL, url, "GET", "/metrics", NULL, NULL, 0, 5000, &r), 0);
	cr_expect(strstr(r.body, "\nmailroom_notices_dead_letters 2\n"), "%s", r.body);
	cr_expect(strstr(r.body, "\nmailroom_notices_sent_total 2\n"), "%s", r.body);
	mr_http_free(&r);
	/* Each sent notice once, whatever the retries. */
	cr_expect_eq(count("sms.jsonl", code[0], "\"outcome\": \"sent\""), 1);
	cr_expect_eq(count("sms.jsonl", code[1], "\"outcome\": \"sent\""), 1);
	audit_verify();
	notify_down();
	IT_DOWN();
}

Test(notify, require_tls_never_sends_in_clear, .init = it_init, .fini = fini, .timeout = 60)
{
	char code[32], key[128], path[MR_PATH + 16], *log = NULL;
	json_t *j;

	up_with(1);   /* a relay that offers no STARTTLS */
	submit("{\"email\":\"zhaoliu@example.cn\"}", 1, code, key);
	for (int i = 0; i < 100; i++) {
		free(log);
		snprintf(path, sizeof(path), "%s/notify.log", env.dir);
		log = mr_read_text(path, NULL);
		if (log && strstr(log, "attempt 2 failed"))
			break;
		mr_sleep_ms(100);
	}
	cr_expect(log && strstr(log, "attempt 2 failed"), "%s", log ? log : "(no log)");
	free(log);
	cr_expect_eq(count("mail.jsonl", code, NULL), 0, "a mail went out without TLS");
	j = notify_cmd("status", 0);
	cr_expect_eq(json_integer_value(json_object_get(j, "pending")), 1, "kept to try again");
	cr_expect_eq(json_integer_value(json_object_get(j, "sent")), 0);
	json_decref(j);
	notify_down();
	IT_DOWN();
}

static int wait_metric(const char *name, double want, int secs)
{
	for (int i = 0; i < secs * 20; i++) {
		if (mr_scrape_metric(notify_port, name) == want)
			return 0;
		mr_sleep_ms(50);
	}
	return -1;
}

/* The health status, and the body in *body (malloc'd). */
static long notify_health(char **body)
{
	long status;

	*body = mr_scrape(notify_port, "/healthz", &status);
	return status;
}

Test(notify, health_and_metrics_follow_the_work, .init = it_init, .fini = fini, .timeout = 90)
{
	char code[3][32], key[128], *body = NULL, *text;
	long status;

	up();
	for (int i = 0; i < 100 && mr_scrape_metric(notify_port, "mailroom_notify_uptime_seconds") < 0;
	     i++)
		mr_sleep_ms(50);
	text = mr_scrape(notify_port, "/metrics", &status);
	cr_assert(text && status == 200, "GET /metrics: %ld", status);
	cr_expect(strstr(text, "mailroom_notify_build_info{version=\""), "%s", text);
	free(text);
	cr_expect_eq(mr_scrape_metric(notify_port, "mailroom_notify_sent_total"), 0);
	cr_expect_eq(notify_health(&body), 200, "%s", body ? body : "");
	cr_expect(body && strstr(body, "\"ok\""), "%s", body ? body : "");
	free(body);

	/* An e-mail and an SMS sent; an SMS after two 500s; an SMS refused. */
	submit("{\"email\":\"zhou@example.cn\",\"phone\":\"13800000002\"}", 1, code[0], key);
	submit("{\"phone\":\"13900000500\"}", 1, code[1], key);
	submit("{\"phone\":\"13900000404\"}", 1, code[2], key);
	cr_assert_eq(wait_metric("mailroom_notify_sent_total", 3, 20), 0, "sent: %g",
	             mr_scrape_metric(notify_port, "mailroom_notify_sent_total"));
	cr_assert_eq(wait_metric("mailroom_notify_dead_letters_total", 1, 20), 0);
	cr_expect_eq(count("sms.jsonl", code[1], "\"outcome\": \"sent\""), 1);
	cr_expect_geq(mr_scrape_metric(notify_port, "mailroom_notify_failed_total"), 3,
	              "two 500s and a refusal");
	cr_expect_geq(mr_scrape_metric(notify_port, "mailroom_notify_upstream_failures_total"), 2);
	double age = mr_scrape_metric(notify_port, "mailroom_notify_last_send_age_seconds");
	cr_expect(age >= 0 && age < 30, "last send %g s ago", age);
	cr_expect_geq(mr_scrape_metric(notify_port, "mailroom_notify_outbox_depth"), 0);
	cr_expect_eq(mr_scrape_metric(notify_port, "mailroom_notify_router_up"), 1);
	cr_expect_eq(mr_scrape_metric(notify_port, "mailroom_notify_healthy"), 1);
	text = mr_scrape(notify_port, "/nothing", &status);
	cr_expect_eq(status, 404);
	free(text);

	/* The router gone: unhealthy after unhealthy_after_s (2 s), with why. */
	cr_assert_eq(mr_proc_stop(&env, &env.router, SIGTERM) >= 0, 1);
	status = 0;
	for (int i = 0; i < 200 && (status = notify_health(&body)) != 503; i++) {
		free(body);
		body = NULL;
		mr_sleep_ms(50);
	}
	cr_expect_eq(status, 503, "healthz while the router is down");
	cr_expect(body && strstr(body, "\"unhealthy\"") && strstr(body, "router"), "%s",
	          body ? body : "");
	free(body);
	cr_expect_eq(mr_scrape_metric(notify_port, "mailroom_notify_router_up"), 0);
	cr_expect_eq(mr_scrape_metric(notify_port, "mailroom_notify_healthy"), 0);
	/* Back: healthy again once it answers. */
	cr_assert_eq(mr_router_start(&env), 0);
	for (int i = 0; i < 300 && (status = notify_health(&body)) != 200; i++) {
		free(body);
		body = NULL;
		mr_sleep_ms(50);
	}
	cr_expect_eq(status, 200, "healthz after the router came back: %s", body ? body : "");
	free(body);
	notify_down();
	IT_DOWN();
}
