#include "pb_tls.h"

#include "pb_conf.h"
#include "pb_err.h"
#include "pb_log.h"

#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PB_PEM_MAX (64u << 10)

struct pb_tls_settings {
	char tls_cert_file[PB_PATH_MAX];
	char tls_key_file[PB_PATH_MAX];
	char tls_ca_file[PB_PATH_MAX];
	char tls_server_name[256];
};

static struct pb_tls_settings settings;

void pb_tls_configure(const struct pb_conf *c)
{
	snprintf(settings.tls_cert_file, sizeof(settings.tls_cert_file), "%s", c->tls_cert_file);
	snprintf(settings.tls_key_file, sizeof(settings.tls_key_file), "%s", c->tls_key_file);
	snprintf(settings.tls_ca_file, sizeof(settings.tls_ca_file), "%s", c->tls_ca_file);
	snprintf(settings.tls_server_name, sizeof(settings.tls_server_name), "%s",
	         c->tls_server_name);
}

int pb_tls_url(const char *url)
{
	return strncmp(url, "tls+tcp", 7) == 0;
}

/* Reads a PEM file NUL-terminated, as mbedTLS wants it. The key goes
 * through the secret reader, so a key others may read stops the process. */
static int read_pem(const char *path, int secret, char **out)
{
	uint8_t *buf = malloc(PB_PEM_MAX + 1);
	size_t len = 0;
	int rc;

	if (!buf)
		return PB_ENOMEM;
	rc = secret ? pb_read_secret_file(path, buf, PB_PEM_MAX, &len)
	            : pb_read_file(path, buf, PB_PEM_MAX, &len);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*out = (char *)buf;
	return PB_OK;
}

/* The host of tls+tcp://HOST:PORT, for checking the router's name when
 * [tls] server_name is not set. */
static void url_host(const char *url, char *out, size_t n)
{
	const char *h = strstr(url, "://");
	const char *end;

	out[0] = '\0';
	if (!h)
		return;
	h += 3;
	if (*h == '[') {
		h++;
		end = strchr(h, ']');
	} else {
		end = strrchr(h, ':');
	}
	if (!end || (size_t)(end - h) >= n)
		return;
	memcpy(out, h, (size_t)(end - h));
	out[end - h] = '\0';
}

/* Our certificate and key, and the CA that must have signed the peer's. */
static int tls_config(const struct pb_tls_settings *c, nng_tls_mode mode, const char *url,
                      nng_tls_config **out, char *err, size_t errlen)
{
	nng_tls_config *cfg = NULL;
	char *cert = NULL, *key = NULL, *ca = NULL, host[256];
	const char *what = "";
	int rv, rc;

	if (!c->tls_cert_file[0] || !c->tls_key_file[0] || !c->tls_ca_file[0]) {
		snprintf(err, errlen, "%s needs [tls] cert_file, key_file and ca_file", url);
		return NNG_EINVAL;
	}
	if ((rc = read_pem(c->tls_cert_file, 0, &cert))) {
		snprintf(err, errlen, "cannot read [tls] cert_file %s: %s", c->tls_cert_file,
		         pb_err_str(rc));
		return NNG_EINVAL;
	}
	if ((rc = read_pem(c->tls_key_file, 1, &key)) || (rc = read_pem(c->tls_ca_file, 0, &ca))) {
		snprintf(err, errlen, "cannot read [tls] %s: %s", key ? "ca_file" : "key_file",
		         pb_err_str(rc));
		rv = NNG_EINVAL;
		goto out;
	}
	if ((rv = nng_tls_config_alloc(&cfg, mode)) != 0) {
		what = "alloc";
		goto fail;
	}
	/* Both ends verify: the router refuses a peer without a certificate
	 * from our CA, a peer refuses a router that is not the one named. */
	if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
		what = "auth mode";
		goto fail;
	}
	if ((rv = nng_tls_config_version(cfg, NNG_TLS_1_2, NNG_TLS_1_3)) != 0 &&
	    (rv = nng_tls_config_version(cfg, NNG_TLS_1_2, NNG_TLS_1_2)) != 0) {
		what = "version";
		goto fail;
	}
	if ((rv = nng_tls_config_ca_chain(cfg, ca, NULL)) != 0) {
		what = "ca_file";
		goto fail;
	}
	if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
		what = "cert_file/key_file";
		goto fail;
	}
	if (mode == NNG_TLS_MODE_CLIENT) {
		if (c->tls_server_name[0])
			snprintf(host, sizeof(host), "%s", c->tls_server_name);
		else
			url_host(url, host, sizeof(host));
		if ((rv = nng_tls_config_server_name(cfg, host)) != 0) {
			what = "server_name";
			goto fail;
		}
	}
	*out = cfg;
	cfg = NULL;
	goto out;
fail:
	snprintf(err, errlen, "TLS %s for %s: %s", what, url, nng_strerror(rv));
out:
	if (cfg)
		nng_tls_config_free(cfg);
	if (key) {
		sodium_memzero(key, strlen(key));
		free(key);
	}
	free(cert);
	free(ca);
	return rv;
}

/* nng refuses a bad certificate inside its accept loop and says nothing;
 * its listener counts the refusal ("auth"). This thread turns the count
 * into a log line, so an operator sees which side is misconfigured. */
struct watch {
	nng_listener l;
	char url[PB_PATH_MAX];
};

/* Our own walk: nng 1.5's nng_stat_find_listener can answer another
 * listener's scope. */
static nng_stat *child(nng_stat *scope, const char *name)
{
	for (nng_stat *s = nng_stat_child(scope); s; s = nng_stat_next(s))
		if (strcmp(nng_stat_name(s), name) == 0)
			return s;
	return NULL;
}

static uint64_t listener_stat(nng_listener l, const char *name)
{
	nng_stat *all = NULL, *id, *st;
	uint64_t v = 0;

	if (nng_stats_get(&all) != 0)
		return 0;
	for (nng_stat *s = nng_stat_child(all); s; s = nng_stat_next(s)) {
		if (strcmp(nng_stat_name(s), "listener") != 0 || !(id = child(s, "id")) ||
		    nng_stat_value(id) != (uint64_t)nng_listener_id(l))
			continue;
		if ((st = child(s, name)))
			v = nng_stat_value(st);
		break;
	}
	nng_stats_free(all);
	return v;
}

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	uint64_t seen = 0;

	for (;;) {
		sleep(1);
		uint64_t n = listener_stat(w->l, "auth");
		if (n > seen)
			pb_warn("tls: refused %llu peer(s) on %s: certificate missing, not from [tls] "
			        "ca_file, or handshake failed (%llu since start)",
			        (unsigned long long)(n - seen), w->url, (unsigned long long)n);
		seen = n;
	}
	return NULL;
}

static void watch_start(nng_listener l, const char *url)
{
	struct watch *w = calloc(1, sizeof(*w));
	pthread_t t;

	if (!w)
		return;
	w->l = l;
	snprintf(w->url, sizeof(w->url), "%s", url);
	if (pthread_create(&t, NULL, watch_main, w) != 0) {
		free(w);
		return;
	}
	pthread_detach(t);
}

int pb_tls_listen(nng_socket sock, const char *url)
{
	nng_tls_config *cfg = NULL;
	nng_listener l;
	char err[PB_PATH_MAX + 128];
	int rv;

	if (!pb_tls_url(url)) {
		if ((rv = nng_listen(sock, url, NULL, 0)) != 0) {
			pb_error("cannot listen on %s: %s", url, nng_strerror(rv));
			return PB_EIO;
		}
		return PB_OK;
	}
	if ((rv = tls_config(&settings, NNG_TLS_MODE_SERVER, url, &cfg, err, sizeof(err))) != 0) {
		pb_error("%s", err);
		return PB_EINVAL;
	}
	if ((rv = nng_listener_create(&l, sock, url)) != 0 ||
	    (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0) {
		pb_error("cannot listen on %s: %s", url, nng_strerror(rv));
		nng_tls_config_free(cfg);
		return PB_EIO;
	}
	nng_tls_config_free(cfg);         /* the listener holds its own reference */
	watch_start(l, url);
	pb_info("listening on %s with TLS, peers' certificates required", url);
	return PB_OK;
}

int pb_tls_dial(nng_socket sock, const char *url, int flags, nng_dialer *dp, char *err,
                size_t errlen)
{
	nng_tls_config *cfg = NULL;
	nng_dialer d;
	int rv;

	if (!pb_tls_url(url)) {
		if ((rv = nng_dial(sock, url, dp, flags)) != 0)
			snprintf(err, errlen, "cannot dial %s: %s", url, nng_strerror(rv));
		return rv;
	}
	if ((rv = tls_config(&settings, NNG_TLS_MODE_CLIENT, url, &cfg, err, errlen)) != 0)
		return rv;
	if ((rv = nng_dialer_create(&d, sock, url)) != 0) {
		snprintf(err, errlen, "cannot dial %s: %s", url, nng_strerror(rv));
	} else if ((rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) != 0 ||
	           (rv = nng_dialer_start(d, flags)) != 0) {
		snprintf(err, errlen, "cannot dial %s: %s", url, nng_strerror(rv));
		nng_dialer_close(d);
	} else if (dp) {
		*dp = d;
	}
	nng_tls_config_free(cfg);
	return rv;
}
