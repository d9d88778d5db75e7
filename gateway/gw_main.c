/* mailroom-gateway [-c deploy/mailroom.ini]: the public HTTP face of
 * Mailroom. Runs until SIGINT or SIGTERM, then drains and exits 0. */
#include "gw.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_version.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr, "usage: mailroom-gateway [-c config.ini]\n");
	exit(2);
}

static const char help[] =
	"usage: mailroom-gateway [-c CONFIG]\n"
	"  Serves HTTP until SIGINT or SIGTERM; SIGHUP re-reads CONFIG.\n"
	"  -c CONFIG     default deploy/mailroom.ini (built-in defaults if missing)\n"
	"  --version     this version and the libraries'\n";

int main(int argc, char **argv)
{
	static struct pb_conf conf;   /* large: keep it off the stack */
	const char *path = "deploy/mailroom.ini";
	char err[PB_PATH_MAX + 128];
	struct stat st;
	sigset_t sigs;
	struct gw *g;
	int opt, sig;

	if ((opt = pb_std_args(argc, argv, "mailroom-gateway", help)) >= 0)
		return opt;
	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt == 'c')
			path = optarg;
		else
			usage();
	}
	if (optind != argc)
		usage();
	/* A missing file means the built-in defaults (a loopback demo). */
	if (stat(path, &st) != 0 && errno == ENOENT)
		path = NULL;
	if (pb_conf_load(path, &conf, err, sizeof(err)) != PB_OK) {
		fprintf(stderr, "mailroom-gateway: %s\n", err);
		return 1;
	}
	pb_log_init("gateway", pb_log_level_parse(conf.log_level));
	if (!path)
		pb_info("no configuration file; using defaults");

	/* Blocked before any thread starts, so every thread inherits the
	 * mask and only sigwait below sees the signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (gw_start(&conf, &g) != PB_OK)
		return 1;
	gw_notify_ready(g);
	while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
		gw_reload(g, path);
	if (sig != SIGINT)
		sig = SIGTERM;
	sd_notify(0, "STOPPING=1");
	pb_info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	gw_stop(g);
	return 0;
}
