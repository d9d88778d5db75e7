/* Connections: deadlines per request, a budget with room held for
 * clients that behave, and the client's address behind a trusted proxy.
 *
 * MHD's own timeout is an idle timeout: a client sending a byte a second
 * never trips it. So every connection is tracked here (from
 * MHD_OPTION_NOTIFY_CONNECTION) in one of three states:
 *   HEAD  waiting for a request's headers (new, or idle between requests)
 *   BODY  headers in, body arriving: must keep up body_min_rate
 *   BUSY  the body is in; the router call is bounded by router_timeout_ms
 * A sweeper thread closes a connection past its deadline with
 * shutdown(2): MHD sees the end of the stream on its own thread and frees
 * the connection as for any client that left. The socket is never closed
 * here, and an entry is removed (under the lock) before MHD closes its
 * socket, so a shutdown can never hit a reused descriptor.
 *
 * Budget: past max_connections - reserve_connections live connections, or
 * max_per_ip from one address, a new connection pushes out the oldest
 * connection still waiting for headers (of that address, for the
 * per-address limit; for the total, failing that, the oldest still
 * sending a body). A flood of idle or slow connections thus churns
 * among itself, while a client that sends its request at once is never
 * the oldest waiting one.
 *
 * HTTP version: libmicrohttpd 0.9.75 answers a request line naming
 * HTTP/0.x or HTTP/2+ with its own 505 before any callback of ours. The
 * listening sockets (public and console) defer accept until data arrives
 * (TCP_DEFER_ACCEPT), so when MHD announces a connection its first line
 * is normally already received: it is peeked at (never read) and a
 * version other than HTTP/1.0 or HTTP/1.1 gets our 400 and the connection
 * is shut down before MHD parses it; a connection that arrives with
 * nothing received was silent for header_timeout_s and is shut down too.
 * A first line not complete yet is held from MHD (SO_RCVLOWAT, so the
 * kernel does not wake it) and looked at again by the sweeper. The
 * console listener uses the same list with the version check alone.
 * Later requests on the connection are checked by the access handler
 * (gw_http.c), for HTTP/1.2 and up only: MHD answers the rest first. */
#include "gw.h"
#include "pb_err.h"
#include "pb_log.h"
#include "pb_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define SWEEP_MS 100
#define HELD_MS 10   /* while a first line is held: it waits on the sweeper */
#define FIRST_LOOK 2048   /* bytes of a first look; longer lines are peeked at less often */

enum { CS_HEAD, CS_BODY, CS_BUSY };

struct gw_conn {
	struct gw_conn *prev, *next;
	int fd;
	int state;
	int closing;               /* shut down here; MHD has yet to notice */
	int proxy;                 /* a trusted proxy: no per-address limit */
	int held;                  /* first line incomplete: MHD not woken yet */
	int seen;                  /* bytes received when last looked at */
	unsigned requests;         /* begun on this connection */
	int64_t since_ms;          /* state entered */
	uint64_t body;             /* bytes of this request's body so far */
	uint8_t addr[16];          /* IPv4, or an IPv6 /64 */
	int alen;
};

struct gw_conns {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t sweeper;
	int stop;
	/* oldest first; an entry moves to the tail when it starts to wait
	 * for headers, so the first HEAD entry is the longest waiting */
	struct gw_conn *head, *tail;
	int live;                  /* entries not closing */
	int held;                  /* entries held */
	unsigned passes;           /* of the sweeper */
	int lines_only;            /* the version check alone (the console) */
	char *line;                /* the sweeper's peek buffer, GW_LINE_MAX */
	atomic_int deferred;       /* the listener has TCP_DEFER_ACCEPT */
	const struct pb_conf *conf;
	struct gw_metrics *m;
	struct gw_nets proxies;
};

/* ------------------------------------------------------------ addresses -- */

static int key_of(const struct sockaddr *sa, uint8_t *out)
{
	if (sa && sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(out, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, 8);
		return 8;
	}
	return 0;
}

int gw_addr_parse(const char *text, size_t len, struct sockaddr_storage *out)
{
	char buf[INET6_ADDRSTRLEN + 1];

	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, buf, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

int gw_nets_parse(const char *list, struct gw_nets *out)
{
	const char *p = list;

	memset(out, 0, sizeof(*out));
	while (*p) {
		size_t n = strcspn(p, ", \t");
		if (n > 0) {
			struct gw_net *net = &out->net[out->n];
			struct sockaddr_storage ss;
			const char *slash = memchr(p, '/', n);
			size_t alen = slash ? (size_t)(slash - p) : n;
			if (out->n >= GW_MAX_NETS || gw_addr_parse(p, alen, &ss) != 0)
				return -1;
			net->family = ss.ss_family;
			int max = ss.ss_family == AF_INET ? 32 : 128;
			if (ss.ss_family == AF_INET)
				memcpy(net->a, &((struct sockaddr_in *)&ss)->sin_addr, 4);
			else
				memcpy(net->a, ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr, 16);
			net->bits = max;
			if (slash) {
				char *end;
				long b = strtol(slash + 1, &end, 10);
				if (end != p + n || end == slash + 1 || b < 0 || b > max)
					return -1;
				net->bits = (int)b;
			}
			out->n++;
		}
		p += n;
		p += strspn(p, ", \t");
	}
	return 0;
}

int gw_nets_match(const struct gw_nets *nets, const struct sockaddr *sa)
{
	const uint8_t *a;

	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET)
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	else
		return 0;
	for (int i = 0; i < nets->n; i++) {
		const struct gw_net *net = &nets->net[i];
		int bits = net->bits;
		if (net->family != sa->sa_family)
			continue;
		if (memcmp(net->a, a, (size_t)bits / 8) != 0)
			continue;
		if (bits % 8) {
			uint8_t mask = (uint8_t)(0xff << (8 - bits % 8));
			if ((net->a[bits / 8] & mask) != (a[bits / 8] & mask))
				continue;
		}
		return 1;
	}
	return 0;
}

int gw_client_addr(const struct gw_nets *proxies, const struct sockaddr *peer, const char *xff,
                   struct sockaddr_storage *out)
{
	size_t plen = peer && peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                                 : sizeof(struct sockaddr_in);

	memset(out, 0, sizeof(*out));
	if (peer)
		memcpy(out, peer, plen);
	if (!xff || !gw_nets_match(proxies, peer))
		return 0;
	/* Right to left: each trusted hop appended the address it saw; the
	 * first one no proxy of ours vouches for is the client. */
	for (size_t end = strlen(xff); end > 0;) {
		size_t start = end;
		struct sockaddr_storage ss;
		while (start > 0 && xff[start - 1] != ',')
			start--;
		if (gw_addr_parse(xff + start, end - start, &ss) != 0)
			return -1;   /* keep the proxy's own address */
		*out = ss;
		if (!gw_nets_match(proxies, (struct sockaddr *)&ss))
			return 0;
		end = start > 0 ? start - 1 : 0;
	}
	return 0;
}

/* ---------------------------------------------------------- the list -- */

static void unlink_conn(struct gw_conns *cs, struct gw_conn *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		cs->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		cs->tail = e->prev;
	e->prev = e->next = NULL;
}

static void append(struct gw_conns *cs, struct gw_conn *e)
{
	e->prev = cs->tail;
	e->next = NULL;
	if (cs->tail)
		cs->tail->next = e;
	else
		cs->head = e;
	cs->tail = e;
}

/* Under mu. */
static void kill_conn(struct gw_conns *cs, struct gw_conn *e, int why)
{
	if (e->closing)
		return;
	e->closing = 1;
	cs->live--;
	cs->held -= e->held;
	e->held = 0;
	shutdown(e->fd, SHUT_RDWR);
	atomic_fetch_add_explicit(&cs->m->closed[why], 1, memory_order_relaxed);
}

/* The longest in state other than skip (of one address when key is given). */
static struct gw_conn *oldest(struct gw_conns *cs, int state, const struct gw_conn *skip,
                              const uint8_t *key, int klen)
{
	for (struct gw_conn *e = cs->head; e; e = e->next)
		if (e->state == state && !e->closing && e != skip &&
		    (!key || (e->alen == klen && memcmp(e->addr, key, (size_t)klen) == 0)))
			return e;
	return NULL;
}

/* ------------------------------------------------- the first bytes -- */

/* Shared by both listeners: what a fresh connection has sent so far,
 * looked at (MSG_PEEK), never read, so MHD still reads all of it. */

int gw_version_served(const char *version)
{
	return version && (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 ||
	                   strcmp(version, MHD_HTTP_VERSION_1_0) == 0);
}

/* What the bytes received so far say of the first request line:
 * GW_FIRST_PARTIAL while it has no end, GW_FIRST_VERSION when it names
 * an HTTP other than 1.0 or 1.1, else GW_FIRST_OK (no version at all is
 * MHD's own 400). Lengths, not strings: the bytes may hold a NUL. */
static int line_verdict(const char *buf, size_t n)
{
	const char *p = buf, *end = buf + n, *eol, *sp;
	char version[16];
	size_t len;

	/* empty lines before a request are allowed, as MHD allows them */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	if (!(eol = memchr(p, '\n', (size_t)(end - p))))
		return GW_FIRST_PARTIAL;
	len = (size_t)(eol - p);
	if (len > 0 && p[len - 1] == '\r')
		len--;
	for (sp = p + len; sp > p && sp[-1] != ' ';)
		sp--;
	len -= (size_t)(sp - p);
	if (sp == p || len < 5 || memcmp(sp, "HTTP/", 5) != 0)
		return GW_FIRST_OK;   /* no version at all: MHD's own 400 */
	if (len >= sizeof(version))
		return GW_FIRST_VERSION;
	memcpy(version, sp, len);
	version[len] = '\0';
	return gw_version_served(version) ? GW_FIRST_OK : GW_FIRST_VERSION;
}

/* The first line's verdict from a peek into buf (cap bytes), then, for a
 * line longer than that, into a buffer as large as MHD's: a line still
 * without an end there is too long for MHD, which refuses it with its
 * own 414. *got: the bytes received, -1 when none could be peeked. */
static int peek_line(int fd, char *buf, size_t cap, ssize_t *got)
{
	ssize_t n = recv(fd, buf, cap, MSG_PEEK | MSG_DONTWAIT);
	int v;

	*got = n;
	if (n <= 0)
		return GW_FIRST_OK;
	v = line_verdict(buf, (size_t)n);
	if (v == GW_FIRST_PARTIAL && (size_t)n == cap && cap < GW_LINE_MAX) {
		char *big = malloc(GW_LINE_MAX);
		if (!big)
			return GW_FIRST_OK;
		v = peek_line(fd, big, GW_LINE_MAX, got);
		free(big);
	}
	return v == GW_FIRST_PARTIAL && *got >= (ssize_t)GW_LINE_MAX ? GW_FIRST_OK : v;
}

/* A connection whose first line is not complete is held from MHD: with
 * SO_RCVLOWAT above what that line may take, the kernel does not report
 * it readable, so MHD reads nothing until the line is checked (by the
 * sweeper, which lowers it again, and the kernel then wakes MHD). 64 KiB,
 * about a default receive window: the kernel wakes MHD by itself only
 * once that much is in (see gateway/README.md, "Strict HTTP"). */
static int hold(int fd, int on)
{
	int v = on ? 64 * 1024 : 1;

	return setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v));
}

static void refuse_version(int fd)
{
	static const char body[] = "{\"error\":{\"code\":\"unsupported_http_version\","
	                           "\"message\":\"" GW_VERSION_MESSAGE "\"}}";
	char out[512];
	int n = snprintf(out, sizeof(out),
	                 "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n"
	                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	                 sizeof(body) - 1, body);

	/* A fresh socket's send buffer is empty: this fits or the client is gone. */
	if (n > 0 && (size_t)n < sizeof(out))
		(void)send(fd, out, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* With TCP_DEFER_ACCEPT the kernel hands over a connection once it has
 * data, or once it stayed silent through the defer time, during which it
 * resent its SYN-ACK (counted in the new socket's total_retrans). A
 * silent one has had its header_timeout_s, and is not given to MHD for a
 * second one (where a request line sent late would get MHD's 505). A
 * connection accepted on a SYN cookie, as under a SYN flood, skips the
 * deferral and has no resent SYN-ACK: it is left to the deadlines. */
static int timed_out(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	       len >= offsetof(struct tcp_info, tcpi_total_retrans) + sizeof(ti.tcpi_total_retrans) &&
	       ti.tcpi_total_retrans > 0;
}

int gw_first_bytes(int fd, int deferred, int tls)
{
	char buf[FIRST_LOOK];
	ssize_t n;
	int v;

	if (tls) {   /* the first bytes are a handshake: only silence counts */
		n = recv(fd, buf, 1, MSG_PEEK | MSG_DONTWAIT);
		v = GW_FIRST_OK;
	} else {
		v = peek_line(fd, buf, sizeof(buf), &n);
	}
	if (n < 0)
		return deferred && (errno == EAGAIN || errno == EWOULDBLOCK) && timed_out(fd)
		               ? GW_FIRST_SILENT
		               : GW_FIRST_OK;
	if (v == GW_FIRST_VERSION)
		refuse_version(fd);
	if (v == GW_FIRST_PARTIAL && hold(fd, 1) != 0)
		return GW_FIRST_OK;   /* cannot hold: left to MHD */
	return v;
}

/* A held connection's line again (buf: GW_LINE_MAX bytes): GW_FIRST_PARTIAL
 * while it is still held; otherwise it is answered or given to MHD. */
int gw_held_line(int fd, char *buf)
{
	ssize_t n;
	int v = peek_line(fd, buf, GW_LINE_MAX, &n);

	if (v == GW_FIRST_PARTIAL && n > 0)
		return v;
	if (v == GW_FIRST_VERSION)
		refuse_version(fd);
	else
		hold(fd, 0);   /* the kernel wakes MHD, which reads the line */
	return v;
}

/* Accept a connection only once its first bytes are in (or after
 * seconds of silence), so the first line is there to look at. */
int gw_defer_accept(struct MHD_Daemon *d, int seconds)
{
	const union MHD_DaemonInfo *li = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);

	if (seconds > 0 && li && setsockopt(li->listen_fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds,
	                                    sizeof(seconds)) == 0)
		return 1;
	pb_warn("TCP_DEFER_ACCEPT not set: a request line naming HTTP/2 or HTTP/0.9 may get "
	        "libmicrohttpd's 505");
	return 0;
}

void gw_conns_deferred(struct gw_conns *cs, int on)
{
	atomic_store(&cs->deferred, on);
}

static void started(struct gw_conns *cs, struct MHD_Connection *conn, void **sc)
{
	const union MHD_ConnectionInfo *fi =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ai =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct gw_conn *e = calloc(1, sizeof(*e));

	*sc = e;
	if (!e || !fi)
		return;   /* untracked: MHD's idle timeout still applies */
	e->fd = fi->connect_fd;
	e->alen = key_of(ai ? ai->client_addr : NULL, e->addr);
	e->proxy = gw_nets_match(&cs->proxies, ai ? ai->client_addr : NULL);
	e->since_ms = pb_mono_us() / 1000;
	int first = gw_first_bytes(e->fd, atomic_load(&cs->deferred),
	                           cs->conf->https_cert_file[0] != '\0');
	pthread_mutex_lock(&cs->mu);
	append(cs, e);
	cs->live++;
	atomic_store(&cs->m->conns, cs->live);
	if (first == GW_FIRST_VERSION || first == GW_FIRST_SILENT) {
		/* MHD then sees the end of the stream: a line it still reads
		 * gets a 505 that meets a shut socket. */
		kill_conn(cs, e, first == GW_FIRST_VERSION ? GW_CLOSE_VERSION : GW_CLOSE_HEADERS);
		pthread_mutex_unlock(&cs->mu);
		return;
	}
	if (first == GW_FIRST_PARTIAL) {
		e->held = 1;
		cs->held++;
		pthread_cond_signal(&cs->cv);   /* look again in HELD_MS */
	}
	if (cs->lines_only) {
		pthread_mutex_unlock(&cs->mu);
		return;
	}
	if (!e->proxy) {
		int same = 0;
		for (struct gw_conn *o = cs->head; o; o = o->next)
			same += !o->closing && o->alen == e->alen &&
			        memcmp(o->addr, e->addr, (size_t)e->alen) == 0;
		if (same > cs->conf->http_max_per_ip) {
			struct gw_conn *v = oldest(cs, CS_HEAD, e, e->addr, e->alen);
			kill_conn(cs, v ? v : e, GW_CLOSE_PER_ADDRESS);
		}
	}
	/* Then a body still arriving: bodies kept just above body_min_rate
	 * would otherwise hold the budget for body_max / body_min_rate. */
	if (cs->live > cs->conf->http_max_conns - cs->conf->reserve_connections) {
		struct gw_conn *v = oldest(cs, CS_HEAD, e, NULL, 0);
		if (!v)
			v = oldest(cs, CS_BODY, e, NULL, 0);
		kill_conn(cs, v ? v : e, GW_CLOSE_BUDGET);
	}
	pthread_mutex_unlock(&cs->mu);
}

void gw_conns_notify(void *cls, struct MHD_Connection *conn, void **sc,
                     enum MHD_ConnectionNotificationCode code)
{
	struct gw_conns *cs = cls;
	struct gw_conn *e = *sc;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		started(cs, conn, sc);
		return;
	}
	if (!e)
		return;
	pthread_mutex_lock(&cs->mu);
	if (e->prev || e->next || cs->head == e) {
		unlink_conn(cs, e);
		if (!e->closing)
			cs->live--;
		cs->held -= e->held;
	}
	atomic_store(&cs->m->conns, cs->live);
	pthread_mutex_unlock(&cs->mu);
	free(e);
	*sc = NULL;
}

void gw_conn_mark(struct gw_conns *cs, struct MHD_Connection *conn, int event, size_t bytes)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct gw_conn *e = ci ? ci->socket_context : NULL;

	if (!e)
		return;
	pthread_mutex_lock(&cs->mu);
	switch (event) {
	case GW_CONN_HEADERS:   /* a request's headers are in */
		e->state = CS_BODY;
		e->since_ms = pb_mono_us() / 1000;
		e->body = 0;
		e->requests++;
		break;
	case GW_CONN_BODY:
		e->body += bytes;
		break;
	case GW_CONN_BUSY:
		e->state = CS_BUSY;
		break;
	default:   /* GW_CONN_DONE: waiting for the next request */
		e->state = CS_HEAD;
		e->since_ms = pb_mono_us() / 1000;
		if (e->prev || e->next || cs->head == e) {
			unlink_conn(cs, e);
			append(cs, e);
		}
		break;
	}
	pthread_mutex_unlock(&cs->mu);
}

/* --------------------------------------------------------- the sweeper -- */

/* Under mu. A held line is peeked at again only when more came, and one
 * past the first look only every SWEEP_MS: each peek copies the line from
 * its start, and a thousand long lines trickling in must not cost that
 * a hundred times a second. */
static void look_again(struct gw_conns *cs, struct gw_conn *e)
{
	int avail = 0;

	if (ioctl(e->fd, FIONREAD, &avail) == 0 &&
	    (avail == e->seen || (avail > FIRST_LOOK && cs->passes % (SWEEP_MS / HELD_MS) != 0)))
		return;
	e->seen = avail;
	int v = gw_held_line(e->fd, cs->line);
	if (v == GW_FIRST_PARTIAL)
		return;
	e->held = 0;
	cs->held--;
	if (v == GW_FIRST_VERSION)
		kill_conn(cs, e, GW_CLOSE_VERSION);
}

static void sweep(struct gw_conns *cs, int64_t now)
{
	const struct pb_conf *c = cs->conf;
	int64_t head_ms = (int64_t)c->header_timeout_s * 1000;

	for (struct gw_conn *e = cs->head; e; e = e->next) {
		if (e->closing)
			continue;
		if (e->held)
			look_again(cs, e);
		if (cs->lines_only) {
			if (e->held && now - e->since_ms > head_ms)
				kill_conn(cs, e, GW_CLOSE_HEADERS);
			continue;
		}
		if (e->state == CS_HEAD && now - e->since_ms > head_ms)
			kill_conn(cs, e, e->requests ? GW_CLOSE_IDLE : GW_CLOSE_HEADERS);
		else if (e->state == CS_BODY &&
		         now - e->since_ms > (int64_t)c->body_grace_s * 1000 +
		                                 (int64_t)(e->body * 1000 / (uint64_t)c->body_min_rate))
			kill_conn(cs, e, GW_CLOSE_BODY);
	}
}

static void *sweeper(void *arg)
{
	struct gw_conns *cs = arg;

	pthread_mutex_lock(&cs->mu);
	while (!cs->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (cs->held ? HELD_MS : SWEEP_MS) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&cs->cv, &cs->mu, &ts);
		if (!cs->stop) {
			cs->passes++;
			sweep(cs, pb_mono_us() / 1000);
		}
		atomic_store(&cs->m->conns, cs->live);
	}
	pthread_mutex_unlock(&cs->mu);
	return NULL;
}

/* Enough descriptors for max_connections, as far as the hard limit lets. */
static void raise_nofile(int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= (rlim_t)want)
		return;
	rl.rlim_cur = rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		pb_warn("cannot raise the open file limit to %d", want);
}

int gw_conns_start(struct gw_conns **out, const struct pb_conf *c, struct gw_metrics *m,
                   int lines_only)
{
	struct gw_conns *cs = calloc(1, sizeof(*cs));
	pthread_condattr_t ca;

	*out = NULL;
	if (cs && !(cs->line = malloc(GW_LINE_MAX))) {
		free(cs);
		cs = NULL;
	}
	if (!cs)
		return PB_ENOMEM;
	cs->conf = c;
	cs->m = m;
	cs->lines_only = lines_only;
	if (gw_nets_parse(c->trusted_proxies, &cs->proxies) != 0) {
		pb_error("trusted_proxies: not a list of addresses or networks (at most %d)",
		         GW_MAX_NETS);
		free(cs->line);
		free(cs);
		return PB_EINVAL;
	}
	if (c->reserve_connections >= c->http_max_conns) {
		pb_error("reserve_connections must be below max_connections");
		free(cs->line);
		free(cs);
		return PB_EINVAL;
	}
	raise_nofile(c->http_max_conns + 256);
	pthread_mutex_init(&cs->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cs->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&cs->sweeper, NULL, sweeper, cs) != 0) {
		pthread_cond_destroy(&cs->cv);
		pthread_mutex_destroy(&cs->mu);
		free(cs->line);
		free(cs);
		return PB_ENOMEM;
	}
	*out = cs;
	return PB_OK;
}

const struct gw_nets *gw_conns_proxies(const struct gw_conns *cs)
{
	return &cs->proxies;
}

/* After MHD has stopped: every connection was closed and notified. */
void gw_conns_stop(struct gw_conns *cs)
{
	if (!cs)
		return;
	pthread_mutex_lock(&cs->mu);
	cs->stop = 1;
	pthread_cond_signal(&cs->cv);
	pthread_mutex_unlock(&cs->mu);
	pthread_join(cs->sweeper, NULL);
	while (cs->head) {
		struct gw_conn *e = cs->head;
		unlink_conn(cs, e);
		free(e);
	}
	pthread_cond_destroy(&cs->cv);
	pthread_mutex_destroy(&cs->mu);
	free(cs->line);
	free(cs);
}
