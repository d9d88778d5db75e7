/* hotline-platform: the stand-in 12345 platform as a program, for trying
 * mailroom-hotline by hand.
 *   hotline-platform --app-id ID --secret-file FILE [--orders N]
 *                    [--invalid-rate R] [--seed S] [--fault NAME=RATE]...
 * NAME is 5xx, 429, slow, reset, dup_page, revoke or redispatch. It prints
 * its URL, serves until SIGINT or SIGTERM, then prints what it saw. */
#include "hp.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fault_names[HP_F_COUNT] = {"5xx", "429", "slow", "reset", "dup_page",
                                                    "revoke", "redispatch"};

static int read_secret(const char *path, char *hex, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -1;
	n = fread(hex, 1, len - 1, f);
	fclose(f);
	while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r' || hex[n - 1] == ' '))
		n--;
	hex[n] = '\0';
	return n ? 0 : -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: hotline-platform --app-id ID --secret-file FILE [--orders N] "
	                "[--invalid-rate R] [--seed S] [--fault NAME=RATE]...\n");
	return 1;
}

int main(int argc, char **argv)
{
	struct hp_opts o = {0};
	double rates[HP_F_COUNT] = {0}, invalid = 0;
	const char *secret_file = NULL;
	char hex[300];
	int orders = 0, sig;
	struct hp *p;
	sigset_t set;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return usage();
		if (strcmp(a, "--app-id") == 0)
			o.app_id = v;
		else if (strcmp(a, "--secret-file") == 0)
			secret_file = v;
		else if (strcmp(a, "--orders") == 0)
			orders = atoi(v);
		else if (strcmp(a, "--invalid-rate") == 0)
			invalid = atof(v);
		else if (strcmp(a, "--seed") == 0)
			o.seed = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--fault") == 0) {
			const char *eq = strchr(v, '=');
			int k = -1;
			for (int f = 0; eq && f < HP_F_COUNT; f++)
				if (strlen(fault_names[f]) == (size_t)(eq - v) &&
				    strncmp(v, fault_names[f], (size_t)(eq - v)) == 0)
					k = f;
			if (k < 0)
				return usage();
			rates[k] = atof(eq + 1);
		} else {
			return usage();
		}
		i++;
	}
	if (!o.app_id || !secret_file)
		return usage();
	if (read_secret(secret_file, hex, sizeof(hex))) {
		fprintf(stderr, "hotline-platform: cannot read %s\n", secret_file);
		return 1;
	}
	o.secret_hex = hex;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (hp_start(&o, &p)) {
		fprintf(stderr, "hotline-platform: cannot start\n");
		return 1;
	}
	for (int f = 0; f < HP_F_COUNT; f++)
		hp_fault_rate(p, f, rates[f]);
	if (orders > 0)
		hp_feed_random(p, orders, invalid);
	printf("listening on %s\n", hp_url(p));
	fflush(stdout);
	sigwait(&set, &sig);
	struct hp_stats s;
	hp_stats(p, &s);
	printf("pages %lu, events %lu: accepted %lu, duplicates %lu, conflicts %lu, malformed %lu\n",
	       s.pages, s.events, s.accepted, s.duplicates, s.conflicts, s.malformed);
	hp_stop(p);
	return 0;
}
