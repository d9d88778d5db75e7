/* witness --serve: the C2SP tlog-witness HTTP interface over
 * libmicrohttpd. One thread serves every connection, so requests are
 * taken one at a time; each also holds the state directory's lock while
 * it checks and keeps the checkpoint (au_witness_add), so a pull run on
 * the same DIR cannot interleave either. Bodies over AU_NOTE_MAX plus a
 * full proof are refused before they are read. */
#include "au_tlog.h"
#include "pb_err.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX (AU_NOTE_MAX + 4096)

struct upload {
	char *buf;
	size_t len;
	int too_big;
};

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *ctype,
                                 const char *body, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (!resp)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	rc = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *data, size_t *size, void **state)
{
	const struct au_opts *o = cls;
	struct upload *u = *state;
	struct au_wreply r;
	enum MHD_Result rc;

	(void)version;
	if (strcmp(url, "/add-checkpoint") != 0)
		return send_text(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n", 10);
	if (strcmp(method, "POST") != 0) {
		struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST");
		rc = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
		MHD_destroy_response(resp);
		return rc;
	}
	if (!u) {
		if (!(u = calloc(1, sizeof(*u))))
			return MHD_NO;
		*state = u;
		return MHD_YES;
	}
	if (*size) {
		if (u->too_big || *size > BODY_MAX - u->len) {
			u->too_big = 1;
		} else {
			char *grown = realloc(u->buf, u->len + *size + 1);
			if (!grown)
				return MHD_NO;
			u->buf = grown;
			memcpy(u->buf + u->len, data, *size);
			u->len += *size;
			u->buf[u->len] = '\0';
		}
		*size = 0;
		return MHD_YES;
	}
	if (u->too_big)
		return send_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain", "body too large\n", 15);
	if (au_witness_add(o, u->buf ? u->buf : "", u->len, &r) != PB_OK)
		return MHD_NO;
	rc = send_text(c, (unsigned)r.status, r.ctype, r.body, r.len);
	free(r.body);
	return rc;
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
                    enum MHD_RequestTerminationCode toe)
{
	struct upload *u = *state;

	(void)cls;
	(void)c;
	(void)toe;
	if (u) {
		free(u->buf);
		free(u);
		*state = NULL;
	}
}

/* ADDR:PORT, an IPv4 address; port 0 takes a free one. */
static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	const char *colon = strrchr(s, ':');
	char host[64], *end;
	unsigned long port;

	memset(sa, 0, sizeof(*sa));
	if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s)
		return PB_EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end || colon[1] == '\0' || port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return PB_EINVAL;
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return PB_OK;
}

int au_witness_serve(const struct au_opts *o)
{
	struct sockaddr_in sa;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	char host[INET_ADDRSTRLEN];
	sigset_t set;
	int sig;

	if (!o->url || !o->pubkey)
		return au_usage("witness", "--serve needs --url BASE (the log, to follow key "
		                           "rotations) and --pubkey FILE");
	if (o->json)
		return au_usage("witness", "--serve writes its log on stderr; --json does not apply");
	if (parse_addr(o->serve, &sa))
		return au_usage("witness", "--serve takes IPv4-ADDRESS:PORT, e.g. 127.0.0.1:7380");
	/* Taken synchronously below; the server's thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	                     on_request, (void *)o, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	                     MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
	                     MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	if (!d)
		return au_fail(0, AU_EXIT_OPEN, "cannot_listen", "cannot listen on %s", o->serve);
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host));
	fprintf(stderr, AU_PROG ": witness: serving add-checkpoint on http://%s:%u\n", host,
	        info ? (unsigned)info->port : (unsigned)ntohs(sa.sin_port));
	fflush(stderr);
	while (sigwait(&set, &sig) != 0)
		;
	MHD_stop_daemon(d);
	fprintf(stderr, AU_PROG ": witness: stopped on signal %d\n", sig);
	return AU_EXIT_OK;
}
