/*
 * pgfleet-test-wiredrip: a TLS peer that completes the handshake and the Hello,
 * then sends a message one byte at a time, to prove that deadlines cover a
 * whole message and not each read.
 *   agent  --ca C --cert C --key K --port P [--host H] --name NAME --every-ms N --bytes B
 *          [--silent] [--reconnect]
 *     connects to a scheduler's agent port as computer NAME (Request=Hello),
 *     then answers each request it reads with a reply that never ends (B bytes,
 *     one every N ms); --silent: reads requests and never answers (a hung
 *     agent); --reconnect: connects again, 500 ms after a connection ends.
 *   server --ca C --cert C --key K --every-ms N --bytes B
 *     listens on 127.0.0.1 (prints "port P") as a scheduler; for each agent:
 *     handshake, its Hello answered, then a request that never ends dripped.
 * Each connection prints "closed by peer after X bytes in M ms" or
 * "dripped X bytes in M ms" (the peer held on to the end).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/clock.h"
#include "common/tls.h"

struct opts {
	const char *ca, *cert, *key, *host, *name;
	long long port, every_ms, bytes;
	int silent, reconnect;
};

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "pgfleet-test-wiredrip: %s: %s\n", what, why);
	exit(2);
}


static void
parse(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->every_ms = 200;
	o->bytes = 200;
	for (int i = 2; i < argc; i += 2) {
		const char *a = argv[i];
		if (strcmp(a, "--silent") == 0 || strcmp(a, "--reconnect") == 0) {
			*(a[2] == 's' ? &o->silent : &o->reconnect) = 1;
			i--;
			continue;
		}
		if (i + 1 >= argc)
			die("needs a value", a);
		const char *v = argv[i + 1];
		if (strcmp(a, "--ca") == 0) o->ca = v;
		else if (strcmp(a, "--cert") == 0) o->cert = v;
		else if (strcmp(a, "--key") == 0) o->key = v;
		else if (strcmp(a, "--host") == 0) o->host = v;
		else if (strcmp(a, "--port") == 0) o->port = atoll(v);
		else if (strcmp(a, "--every-ms") == 0) o->every_ms = atoll(v);
		else if (strcmp(a, "--bytes") == 0) o->bytes = atoll(v);
		else if (strcmp(a, "--name") == 0) o->name = v;
		else die("unknown option", a);
	}
	if (o->ca == NULL || o->cert == NULL || o->key == NULL)
		die("usage", "--ca, --cert and --key are required");
}

/* 1 when the peer closed (or failed) while we waited ms, 0 when nothing came. */
static int
peer_gone(SSL *ssl, int fd, long long ms)
{
	long long end = clock_mono_ms() + ms;
	for (;;) {
		long long left = end - clock_mono_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0;
		char buf[4096];
		int n = SSL_read(ssl, buf, sizeof(buf));
		if (n > 0)
			continue; /* the peer may say why before it closes: ignore it */
		int e = SSL_get_error(ssl, n);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return 1;
	}
}

/* Send msg one byte every every_ms until bytes are out or the peer is gone. */
static void
drip(SSL *ssl, int fd, const char *msg, const struct opts *o)
{
	char err[256];
	long long t0 = clock_mono_ms(), n = 0;
	size_t len = strlen(msg);
	for (n = 0; n < o->bytes; n++) {
		char c = (size_t)n < len ? msg[n] : 'x';
		if (tls_write_all(ssl, &c, 1, 5000, err, sizeof(err)) == -1 || peer_gone(ssl, fd, o->every_ms)) {
			printf("closed by peer after %lld bytes in %lld ms\n", n + 1, clock_mono_ms() - t0);
			fflush(stdout);
			return;
		}
	}
	printf("dripped %lld bytes in %lld ms\n", n, clock_mono_ms() - t0);
	fflush(stdout);
}

/* One message, up to its empty line (bytes after it are kept for the next). 0, or -1. */
static int
read_msg(SSL *ssl, char *buf, size_t size, size_t *have, long long timeout_ms)
{
	char err[256];
	for (;;) {
		buf[*have] = '\0';
		char *end = strstr(buf, "\n\n");
		if (end != NULL) {
			size_t used = (size_t)(end + 2 - buf);
			memmove(buf, end + 2, *have - used);
			*have -= used;
			return 0;
		}
		if (*have >= size - 1)
			return -1;
		ssize_t n = tls_read_some(ssl, buf + *have, size - 1 - *have, timeout_ms, err, sizeof(err));
		if (n <= 0)
			return -1;
		*have += (size_t)n;
	}
}

/* One connection of the agent: Hello, then drip (or say nothing) for each request. */
static void
agent_once(SSL_CTX *ctx, const struct opts *o)
{
	char err[512], hello[512], buf[16384];
	SSL *ssl = NULL;
	int fd = -1;
	size_t have = 0;
	if (tls_connect_blocking(ctx, o->host, (int)o->port, 5000, NULL, NULL, &ssl, &fd, err,
		sizeof(err)) == -1) {
		printf("connect failed: %s\n", err);
		fflush(stdout);
		return;
	}
	int n = snprintf(hello, sizeof(hello), "Request=Hello\nComputer=%s\nProtocol=1\n"
	    "Agent-Version=wiredrip\n\n", o->name);
	if (tls_write_all(ssl, hello, (size_t)n, 5000, err, sizeof(err)) == -1 ||
	    read_msg(ssl, buf, sizeof(buf), &have, 10000) == -1) {
		printf("hello failed\n");
		fflush(stdout);
		tls_close(ssl);
		return;
	}
	printf("connected\n");
	fflush(stdout);
	while (read_msg(ssl, buf, sizeof(buf), &have, -1) == 0) {
		if (o->silent)
			continue;
		drip(ssl, fd, "Reply=StatusUpdate\nStatus-Code=2500\nPad=", o);
		break;
	}
	tls_close(ssl);
}

static void __attribute__((noreturn))
agent(const struct opts *o)
{
	char err[512];
	if (o->name == NULL || o->port <= 0)
		die("usage", "agent needs --name and --port");
	SSL_CTX *ctx = tls_client_ctx(o->ca, o->cert, o->key, err, sizeof(err));
	if (ctx == NULL)
		die("tls", err);
	do {
		agent_once(ctx, o);
		if (o->reconnect)
			usleep(500000);
	} while (o->reconnect);
	exit(0);
}

static void __attribute__((noreturn))
server(const struct opts *o)
{
	char err[512], buf[16384];
	SSL_CTX *ctx = tls_server_ctx(o->ca, o->cert, o->key, err, sizeof(err));
	if (ctx == NULL)
		die("tls", err);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sin);
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 || listen(lfd, 16) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) == -1)
		die("listen", strerror(errno));
	printf("port %u\n", ntohs(sin.sin_port));
	fflush(stdout);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd == -1)
			continue;
		SSL *ssl = NULL;
		size_t have = 0;
		if (tls_accept_blocking(ctx, fd, 5000, &ssl, err, sizeof(err)) == -1) {
			printf("handshake failed: %s\n", err);
			fflush(stdout);
			continue;
		}
		static const char ok[] = "Reply=Hello\nResult=Success\nID=5000011\nScheduler=drip\n"
		    "Protocol=1\n\n";
		if (read_msg(ssl, buf, sizeof(buf), &have, 5000) == 0 &&
		    tls_write_all(ssl, ok, sizeof(ok) - 1, 5000, err, sizeof(err)) == 0)
			drip(ssl, fd, "Request=Cancel\nPad=", o);
		tls_close(ssl);
	}
}

int
main(int argc, char **argv)
{
	struct opts o;
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		die("usage", "agent|server [options]");
	parse(argc, argv, &o);
	if (strcmp(argv[1], "agent") == 0)
		agent(&o);
	if (strcmp(argv[1], "server") == 0)
		server(&o);
	die("unknown mode", argv[1]);
	return 2;
}
