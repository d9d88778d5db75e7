/* Secret files open to group or others: the router and the gateway refuse
 * to start, naming the file and the chmod that fixes it, and start again
 * once it is done. */
#include "it.h"

#include <signal.h>
#include <sys/stat.h>

TestSuite(secrets, .init = it_init, .fini = it_fini, .timeout = 120);

/* Starts p with file at mode, expects the refusal, then fixes the mode
 * and expects a normal start. */
static void refused_then_started(struct mr_proc *p, const char *name, mode_t mode)
{
	char path[MR_PATH], want[2 * MR_PATH];
	int (*start)(struct mr_env *) = p == &env.router ? mr_router_start : mr_gateway_start;

	snprintf(path, sizeof(path), "%s/keys/%s", env.dir, name);
	cr_assert_eq(chmod(path, mode), 0, "chmod %s", path);
	cr_expect_neq(start(&env), 0, "%s started with %s at mode %04o", p->what, name,
	              (unsigned)mode);
	mr_proc_stop(&env, p, SIGKILL);   /* reaps it; it has exited already */
	char *log = mr_read_text(p->log, NULL);
	cr_assert_not_null(log, "no %s log", p->what);
	snprintf(want, sizeof(want), "chmod 600 %s", path);
	cr_expect(strstr(log, want) != NULL, "%s log does not say '%s':\n%s", p->what, want, log);
	free(log);

	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(start(&env), 0, "%s did not start once %s was 0600", p->what, name);
}

Test(secrets, router_and_gateway_refuse_secrets_others_may_read)
{
	cr_assert_eq(mr_env_init(&env, NULL), 0);
	/* The first start creates store.key and data.key, 0600. */
	cr_assert_eq(mr_router_start(&env), 0);
	mr_proc_stop(&env, &env.router, SIGTERM);

	refused_then_started(&env.router, "store.key", 0644);
	mr_proc_stop(&env, &env.router, SIGTERM);
	refused_then_started(&env.router, "data.key", 0640);
	mr_proc_stop(&env, &env.router, SIGTERM);
	refused_then_started(&env.router, "gateway.secret", 0604);

	refused_then_started(&env.gateway, "gateway.secret", 0644);
	mr_proc_stop(&env, &env.gateway, SIGTERM);
	refused_then_started(&env.gateway, "hotline-" MR_HOTLINE_APP ".secret", 0644);
	IT_DOWN();
}
