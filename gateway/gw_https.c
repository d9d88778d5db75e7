/* HTTPS on the gateway's own listeners ([gateway] tls_cert_file and
 * tls_key_file): libmicrohttpd with GnuTLS. Both listeners, public and
 * console, serve the same certificate; the PEM files are read once and
 * kept for the life of the process, since the daemons refer to them. */
#include "gw.h"
#include "pb_err.h"
#include "pb_log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define GW_PEM_MAX (64u << 10)

static pthread_mutex_t https_mu = PTHREAD_MUTEX_INITIALIZER;
static char *https_cert, *https_key;
static struct MHD_OptionItem https_opts[3] = {{MHD_OPTION_END, 0, NULL}};
static const struct MHD_OptionItem no_opts[1] = {{MHD_OPTION_END, 0, NULL}};

static int read_pem(const char *path, int secret, char **out)
{
	uint8_t *buf = malloc(GW_PEM_MAX + 1);
	size_t len = 0;
	int rc;

	if (!buf)
		return PB_ENOMEM;
	rc = secret ? pb_read_secret_file(path, buf, GW_PEM_MAX, &len)
	            : pb_read_file(path, buf, GW_PEM_MAX, &len);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*out = (char *)buf;
	return PB_OK;
}

static int load(const struct pb_conf *c)
{
	int rc;

	if (https_cert)
		return PB_OK;
	if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
		pb_error("[gateway] tls_cert_file is set, but this libmicrohttpd has no TLS");
		return PB_EINVAL;
	}
	if ((rc = read_pem(c->https_cert_file, 0, &https_cert))) {
		pb_error("cannot read [gateway] tls_cert_file %s: %s", c->https_cert_file,
		         pb_err_str(rc));
		return PB_EINVAL;
	}
	if ((rc = read_pem(c->https_key_file, 1, &https_key))) {
		pb_error("cannot read [gateway] tls_key_file %s: %s", c->https_key_file,
		         pb_err_str(rc));
		free(https_cert);
		https_cert = NULL;
		return PB_EINVAL;
	}
	https_opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, https_cert};
	https_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, https_key};
	https_opts[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	return PB_OK;
}

int gw_https_options(const struct pb_conf *c, unsigned *flags, const struct MHD_OptionItem **opts)
{
	int rc = PB_OK;

	*opts = no_opts;
	if (!c->https_cert_file[0])
		return PB_OK;
	pthread_mutex_lock(&https_mu);
	if ((rc = load(c)) == PB_OK) {
		/* libmicrohttpd 0.9.75's edge-triggered epoll misses a request
		 * body GnuTLS already holds decrypted (the POST hangs); poll
		 * asks GnuTLS for pending records. */
		if (*flags & MHD_USE_EPOLL)
			*flags = (*flags & ~(unsigned)MHD_USE_EPOLL) | MHD_USE_POLL;
		*flags |= MHD_USE_TLS;
		*opts = https_opts;
	}
	pthread_mutex_unlock(&https_mu);
	return rc;
}

const char *gw_https_scheme(const struct pb_conf *c)
{
	return c->https_cert_file[0] ? "https" : "http";
}
