/* A 12345 order's files: the stand-in platform serves them (signed GETs,
 * faults included), mailroom-hotline fetches each once, checks its size
 * and SHA-256 and stores it through the router before the order names it;
 * a file of another type is left out; the platform delivering the order
 * again fetches nothing and adds nothing; a real clamd scans the file and
 * the handler opens it; the log verifies. */
#include "clamd_fx.h"
#include "hl_it.h"
#include "it.h"
#include "samples.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct hl_it hl;
static struct clamd_fx clam;
static char clam_base[64], ini[512];

static const struct mr_handler_spec handlers[] = {{"liu", "hotline"}};

static void fini(void)
{
	hl_it_fini(&env, &hl);
	clamd_fx_stop(&clam);
	it_fini();
}

static json_t *pull(void)
{
	char *out = NULL;
	json_t *j;

	cr_assert_eq(mr_handler_cmd(&env, env.handlers[0].key_path, &out, "pull", "--queue",
	                            "hotline", "--wait", "10", NULL), 0, "pull: %s", out);
	j = it_json_text(out);
	free(out);
	return j;
}

static int scanned(void *arg)
{
	const char *id = arg;
	char *out = NULL;
	int rc = mr_handler_cmd(&env, env.handlers[0].key_path, &out, "attachment", id, "0", "--out",
	                        it_path("got.png"), NULL);
	free(out);
	return rc == 0;
}

Test(hotline_attach, fetched_once, .init = it_init, .fini = fini, .timeout = 90)
{
	uint8_t png[4096];
	size_t npng = sample_png(png, "the platform's photo");
	static const char text[] = "a note, not a picture\n";
	char *apng = NULL, *atxt = NULL, *order = NULL, dir[128], *out = NULL;

	snprintf(clam_base, sizeof(clam_base), "/tmp/mr-hlclam-XXXXXX");
	cr_assert_not_null(mkdtemp(clam_base));
	snprintf(dir, sizeof(dir), "%s/clamd", clam_base);
	cr_assert_eq(clamd_fx_start(&clam, dir), 0, "clamd must start (clamav-daemon installed?)");
	snprintf(ini, sizeof(ini), "[attachments]\nclamd = %s\nscan_interval_ms = 100\n", clam.addr);
	const struct mr_opts o = {.handlers = handlers, .nhandlers = 1, .extra_ini = ini};
	cr_assert_eq(mr_env_init(&env, &o), 0);
	cr_assert_eq(hl_it_init(&env, &hl, 7, NULL), 0);
	cr_assert_eq(mr_env_up(&env), 0);

	/* An order naming a PNG and a text file, served by the platform. */
	cr_assert_eq(hp_file_put(hl.platform, "lamp.png", png, npng, &apng), 0);
	cr_assert_eq(hp_file_put(hl.platform, "notes.txt", text, sizeof(text) - 1, &atxt), 0);
	cr_assert_eq(hp_dispatch(hl.platform, NULL, HP_NOT_IN_FEED, &order, NULL, 0), 0);
	json_t *oj = json_loads(order, 0, NULL), *arr = json_array();
	cr_assert_not_null(oj);
	json_array_append_new(arr, json_loads(apng, 0, NULL));
	json_array_append_new(arr, json_loads(atxt, 0, NULL));
	json_object_set_new(oj, "attachments", arr);
	char *with = json_dumps(oj, JSON_COMPACT);
	json_decref(oj);
	/* The platform fails a page request, then the file twice. */
	hp_fault_burst(hl.platform, HP_F_5XX, 1);
	hp_file_fail(hl.platform, "lamp.png", 2);
	cr_assert_eq(hp_raw(hl.platform, with), 0);
	cr_assert_eq(hl_it_start(&env, &hl), 0);

	json_t *p = pull();
	const char *id = it_str(p, "message.id");
	json_t *files = it_get(p, "message.attachments");
	cr_expect_eq(json_array_size(files), 1, "the PNG only: %s", json_dumps(files, 0));
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(files, 0), "type")),
	                 "image/png");
	char idc[40];
	snprintf(idc, sizeof(idc), "%s", id);
	json_decref(p);
	cr_expect_eq(hp_file_gets(hl.platform, "lamp.png"), 1, "the file was served more than once");

	/* The platform delivers the order again: nothing fetched, nothing new. */
	cr_assert_eq(hp_raw(hl.platform, with), 0);
	long at = (long)hp_feed_len(hl.platform);
	for (int i = 0; i < 100; i++) {
		char *s = NULL;
		if (hl_it_cmd(&env, &s, "status", NULL) == 0 && s) {
			char want[24];
			snprintf(want, sizeof(want), ".%lx\"", at);
			int done = strstr(s, want) != NULL;
			free(s);
			if (done)
				break;
		} else {
			free(s);
		}
		mr_sleep_ms(100);
	}
	cr_expect_eq(hp_file_gets(hl.platform, "lamp.png"), 1, "a repeated order fetched again");

	/* Scanned clean, the handler opens it byte for byte. */
	cr_expect_eq(hl_it_wait(scanned, idc, 20000), 0, "the file never opened");
	size_t glen = 0;
	char *got = mr_read_text(it_path("got.png"), &glen);
	cr_expect(got && glen == npng && memcmp(got, png, npng) == 0, "not the platform's file");
	free(got);

	cr_expect_eq(mr_audit_cmd(&env, &out, "verify", "--calendars",
	                          MR_SOURCE_DIR "/deploy/calendars", NULL),
	             0, "verify: %s", out ? out : "");
	free(out);
	free(apng), free(atxt), free(order), free(with);
	cr_expect_eq(hl_it_stop(&env, &hl, SIGTERM), 0);
	hl_it_fini(&env, &hl);
	IT_DOWN();
	clamd_fx_stop(&clam);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", clam_base);
	cr_expect_eq(system(cmd), 0);
}
