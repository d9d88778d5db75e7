/* The listener behind pb_mon.h: GET only, no bodies, a few connections,
 * short timeouts. It knows no routes; the owner's function does. */
#include "pb_mon.h"
#include "pb_err.h"
#include "pb_log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct pb_mon {
	struct MHD_Daemon *mhd;
	pb_mon_fn fn;
	void *arg;
};

int pb_mon_text(const char *text, char **body, size_t *len)
{
	*len = strlen(text);
	return (*body = strdup(text)) ? PB_OK : PB_ENOMEM;
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *type,
                              char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
	struct pb_mon *m = cls;
	const char *type = "text/plain";
	unsigned status = 405;
	char *body = NULL;
	size_t len = 0;

	(void)version;
	(void)upload_data;
	(void)req_cls;
	if (*upload_data_size)
		return MHD_NO;   /* no bodies here */
	if (strcmp(method, "GET") != 0) {
		if (pb_mon_text("GET only\n", &body, &len) != PB_OK)
			return MHD_NO;
	} else if (m->fn(m->arg, url, &status, &type, &body, &len) != PB_OK) {
		free(body);
		return MHD_NO;
	}
	return answer(conn, status, type, body, len);
}

int pb_mon_start(const char *section, const char *addr, int port, pb_mon_fn fn, void *arg,
                 struct pb_mon **out)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct pb_mon *m;

	*out = NULL;
	if (!addr[0])
		return PB_OK;
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		pb_error("%s metrics_addr '%s' is not a numeric IPv4 address", section, addr);
		return PB_EINVAL;
	}
	sa.sin_port = htons((uint16_t)port);
	if (!(m = calloc(1, sizeof(*m))))
		return PB_ENOMEM;
	m->fn = fn;
	m->arg = arg;
	m->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
	                          NULL, on_request, m, MHD_OPTION_SOCK_ADDR, &sa,
	                          MHD_OPTION_CONNECTION_LIMIT, 16u,
	                          MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!m->mhd) {
		pb_error("cannot listen for metrics on %s port %d", addr, port);
		free(m);
		return PB_EIO;
	}
	pb_info("metrics on http://%s:%d/metrics", addr, pb_mon_port(m));
	*out = m;
	return PB_OK;
}

int pb_mon_port(const struct pb_mon *m)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_BIND_PORT);

	return info ? (int)info->port : -1;
}

void pb_mon_stop(struct pb_mon *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->mhd);
	free(m);
}
