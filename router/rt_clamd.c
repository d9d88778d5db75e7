/* The clamd client (rt_clamd.h). zINSTREAM: the command, then the file
 * as chunks each led by its big-endian length, then a zero length; clamd
 * answers "stream: OK" or "stream: NAME FOUND", NUL-terminated. Anything
 * else (an ERROR, a size limit, a cut connection) is no verdict. */
#include "rt_clamd.h"
#include "pb_err.h"
#include "pb_log.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define CHUNK (32u << 10)

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_tcp(const char *hostport)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int fd = -1;

	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		return -1;
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -1;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd;
}

static int send_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_stream(int fd, const uint8_t *p, size_t n)
{
	static const char cmd[] = "zINSTREAM";   /* the NUL ends the command */
	uint8_t len[4];

	if (send_all(fd, cmd, sizeof(cmd)) != 0)
		return -1;
	for (size_t off = 0; off < n;) {
		size_t k = n - off > CHUNK ? CHUNK : n - off;
		len[0] = (uint8_t)(k >> 24);
		len[1] = (uint8_t)(k >> 16);
		len[2] = (uint8_t)(k >> 8);
		len[3] = (uint8_t)k;
		if (send_all(fd, len, 4) != 0 || send_all(fd, p + off, k) != 0)
			return -1;
		off += k;
	}
	memset(len, 0, sizeof(len));
	return send_all(fd, len, 4);
}

/* Reads the answer up to its NUL (or the close). */
static int recv_reply(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(buf, '\0', n))
			break;
	}
	buf[n] = '\0';
	return n > 0 ? 0 : -1;
}

int rt_clamd_scan(const char *addr, int timeout_ms, const uint8_t *p, size_t n, char *sig,
                  size_t siglen)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	char reply[512];
	size_t rl;
	int fd;

	if (strncmp(addr, "unix:", 5) == 0)
		fd = connect_unix(addr + 5);
	else if (strncmp(addr, "tcp:", 4) == 0)
		fd = connect_tcp(addr + 4);
	else
		return PB_EINVAL;
	if (fd < 0)
		return PB_EUNAVAIL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (send_stream(fd, p, n) != 0 || recv_reply(fd, reply, sizeof(reply)) != 0) {
		close(fd);
		return PB_EUNAVAIL;
	}
	close(fd);
	rl = strlen(reply);
	while (rl > 0 && (reply[rl - 1] == '\n' || reply[rl - 1] == '\r'))
		reply[--rl] = '\0';
	if (strcmp(reply, "stream: OK") == 0)
		return RT_SCAN_CLEAN;
	if (rl > 14 && strncmp(reply, "stream: ", 8) == 0 &&
	    strcmp(reply + rl - 6, " FOUND") == 0) {
		size_t k = rl - 8 - 6;
		if (k >= siglen)
			k = siglen - 1;
		memcpy(sig, reply + 8, k);
		sig[k] = '\0';
		return RT_SCAN_INFECTED;
	}
	pb_warn("clamd: no verdict: %.200s", reply);
	return PB_EUNAVAIL;
}
