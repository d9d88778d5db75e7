/* The router link over tls+tcp:// (nng's TLS, mbedTLS underneath).
 * Every process opens its router link with these two calls instead of
 * nng_listen/nng_dial: for any other scheme they are exactly those calls;
 * for tls+tcp:// they attach the [tls] certificate settings. The listener
 * (the router) requires and verifies the peer's certificate against
 * ca_file (mutual TLS); dialers verify the router's against ca_file and
 * the name server_name (else the URL's host).
 *
 * The settings are the process's own [tls] section: pb_conf_load hands
 * them over (pb_tls_configure), so a call site needs no configuration. */
#ifndef PB_TLS_H
#define PB_TLS_H

#include <nng/nng.h>

struct pb_conf;

/* Keeps a copy of c's [tls] settings for the calls below. */
void pb_tls_configure(const struct pb_conf *c);
/* Is url a TLS URL (tls+tcp://, tls+tcp4://, tls+tcp6://)? */
int pb_tls_url(const char *url);
/* nng_listen(sock, url), with TLS when url asks for it. A TLS listener
 * logs, once a second at most, how many peers it refused (bad or
 * missing certificate). Returns PB_OK, PB_EINVAL (settings) or PB_EIO. */
int pb_tls_listen(nng_socket sock, const char *url);
/* nng_dial(sock, url, dp, flags), with TLS when url asks for it; dp, if
 * not NULL, gets the dialer. On failure writes the reason into err and
 * returns nng's error code. */
int pb_tls_dial(nng_socket sock, const char *url, int flags, nng_dialer *dp, char *err,
                size_t errlen);

#endif
