#include "hl_it.h"
#include "st.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOTLINE_BIN MR_BIN_DIR "/workers/hotline/mailroom-hotline"

int hl_it_init(struct mr_env *e, struct hl_it *h, unsigned seed, const char *extra)
{
	struct hp_opts o = {.app_id = HL_APP, .seed = seed, .slow_ms = 2500, .quiet = 1};
	uint8_t raw[32];
	char path[MR_PATH];
	FILE *f;

	memset(h, 0, sizeof(*h));
	h->hotline.what = "hotline";
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(h->secret_hex, sizeof(h->secret_hex), raw, sizeof(raw));
	o.secret_hex = h->secret_hex;
	if (hp_start(&o, &h->platform)) {
		fprintf(stderr, "hl_it: cannot start the stand-in platform\n");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/keys/platform.secret", e->dir);
	if (!(f = fopen(path, "we")))
		return -1;
	fprintf(f, "%s\n", h->secret_hex);
	fclose(f);
	chmod(path, 0600);
	if (!(f = fopen(e->ini, "ae")))
		return -1;
	fprintf(f, "\n[hotline]\nplatform_url = %s\napp_id = %s\napp_secret_file = %s\n"
	           "unit = 市城管委\npoll_interval_ms = 100\npage_limit = 20\nconnect_timeout_ms = 500\n"
	           "timeout_ms = 1000\nbackoff_max_ms = 800\n%s\n",
	        hp_url(h->platform), HL_APP, path, extra ? extra : "");
	return fclose(f) == 0 ? 0 : -1;
}

int hl_it_start(struct mr_env *e, struct hl_it *h)
{
	struct mr_proc *p = &h->hotline;
	char *argv[] = {HOTLINE_BIN, "-c", e->ini, "run", NULL};
	int fd, devnull;
	pid_t parent = getpid();

	p->starts++;
	snprintf(p->log, sizeof(p->log), "%s/hotline-%d.log", e->dir, p->starts);
	fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || devnull < 0)
		return -1;
	p->pid = fork();
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(devnull, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	close(devnull);
	return p->pid > 0 ? 0 : -1;
}

int hl_it_stop(struct mr_env *e, struct hl_it *h, int sig)
{
	return mr_proc_stop(e, &h->hotline, sig);
}

void hl_it_fini(struct mr_env *e, struct hl_it *h)
{
	if (h->hotline.pid > 0)
		mr_proc_stop(e, &h->hotline, SIGTERM);
	hp_stop(h->platform);
	h->platform = NULL;
}

int hl_it_cmd(struct mr_env *e, char **out, ...)
{
	char *argv[16] = {HOTLINE_BIN, "-c", e->ini};
	const char *a;
	char *err = NULL;
	va_list ap;
	int n = 3, rc;

	va_start(ap, out);
	while ((a = va_arg(ap, const char *)) != NULL && n < 15)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	rc = mr_run(e, argv, out, &err, 60);
	if (rc != 0 && err && *err)
		fprintf(stderr, "hl_it: mailroom-hotline: exit %d: %s", rc, err);
	free(err);
	return rc;
}

int hl_it_wait(int (*pred)(void *arg), void *arg, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		if (pred(arg))
			return 0;
		mr_sleep_ms(50);
	}
	return pred(arg) ? 0 : -1;
}

int hl_it_verify(struct mr_env *e, uint64_t *records)
{
	struct st_verify_report rep;
	st_env *st;
	int rc;

	if (st_open(e->store, 0, 1, NULL, &st))
		return -1;
	rc = st_verify(st, NULL, &rep);
	st_close(st);
	if (rc || rep.fail != ST_VERIFY_OK) {
		fprintf(stderr, "hl_it: log check failed at record %llu: %s\n",
		        (unsigned long long)rep.bad_index, st_verify_fail_str(rep.fail));
		return -1;
	}
	if (records)
		*records = rep.records;
	return 0;
}
