#include "clamd_fx.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CLAMD_BIN "/usr/sbin/clamd"

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok = f && fputs(text, f) >= 0;

	if (f && fclose(f) != 0)
		ok = 0;
	if (!ok)
		fprintf(stderr, "clamd_fx: cannot write %s: %s\n", path, strerror(errno));
	return ok ? 0 : -1;
}

/* One zPING: 0 when clamd answers PONG. */
static int ping(const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[16] = "";
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), ok = 0;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    write(fd, "zPING", 6) == 6 && read(fd, buf, sizeof(buf) - 1) > 0)
		ok = strncmp(buf, "PONG", 4) == 0;
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

int clamd_fx_restart(struct clamd_fx *c)
{
	char conf[300];
	pid_t pid;

	if (access(CLAMD_BIN, X_OK) != 0) {
		fprintf(stderr, "clamd_fx: %s missing; install clamav-daemon (deploy/setup.sh)\n",
		        CLAMD_BIN);
		return -1;
	}
	snprintf(conf, sizeof(conf), "%s/clamd.conf", c->dir);
	unlink(c->sock);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		char log[300];
		snprintf(log, sizeof(log), "%s/clamd.out", c->dir);
		if (!freopen(log, "a", stdout) || !freopen(log, "a", stderr))
			_exit(127);
		execl(CLAMD_BIN, "clamd", "-c", conf, (char *)NULL);
		_exit(127);
	}
	c->pid = pid;
	for (int i = 0; i < 600; i++) {
		struct timespec ts = {0, 50 * 1000000L};
		int st;
		if (ping(c->sock) == 0)
			return 0;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			fprintf(stderr, "clamd_fx: clamd exited; see %s/clamd.out\n", c->dir);
			c->pid = 0;
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "clamd_fx: clamd did not answer within 30 s\n");
	clamd_fx_stop(c);
	return -1;
}

int clamd_fx_start(struct clamd_fx *c, const char *dir)
{
	char path[300], text[1600], hex[2 * sizeof(CLAMD_FX_MARKER) + 1];

	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	snprintf(c->sock, sizeof(c->sock), "%s/clamd.sock", dir);
	snprintf(c->addr, sizeof(c->addr), "unix:%s", c->sock);
	snprintf(path, sizeof(path), "%s/db", dir);
	if (mkdir(dir, 0700) != 0 || mkdir(path, 0700) != 0) {
		fprintf(stderr, "clamd_fx: cannot make %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(CLAMD_FX_MARKER) - 1; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)CLAMD_FX_MARKER[i]);
	/* name:target (0, any file):offset (anywhere):hex body */
	snprintf(text, sizeof(text), "Mailroom.Test.Marker:0:*:%s\n", hex);
	snprintf(path, sizeof(path), "%s/db/mailroom.ndb", dir);
	if (write_file(path, text))
		return -1;
	snprintf(text, sizeof(text),
	         "LocalSocket %s\nDatabaseDirectory %s/db\nTemporaryDirectory %s\nForeground yes\n"
	         "LogFile %s/clamd.log\nStreamMaxLength 64M\nSelfCheck 3600\n",
	         c->sock, dir, dir, dir);
	snprintf(path, sizeof(path), "%s/clamd.conf", dir);
	if (write_file(path, text))
		return -1;
	return clamd_fx_restart(c);
}

int clamd_fx_stop(struct clamd_fx *c)
{
	int st;

	if (c->pid <= 0)
		return 0;
	kill(c->pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		struct timespec ts = {0, 50 * 1000000L};
		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			c->pid = 0;
			unlink(c->sock);
			return 0;
		}
		nanosleep(&ts, NULL);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, &st, 0);
	c->pid = 0;
	unlink(c->sock);
	return 0;
}
