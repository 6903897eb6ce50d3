/*
 * pgfleet-test-drip: a hostile agent for the fault suite. It listens on
 * 127.0.0.1 (port 0, printed on stdout), completes the TLS handshake with a
 * real certificate (so the worker's checks pass), reads and drops whatever
 * the worker sends, and answers one byte every --interval-ms of a reply that
 * never ends. Each connection is served by a forked child that dies with
 * its parent and after --max-seconds at the latest.
 *   pgfleet-test-drip --ca C --cert C --key K [--interval-ms 2000] [--max-seconds 300]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/tls.h"

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "pgfleet-test-drip: %s: %s\n", what, why);
	exit(2);
}

static long long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One connection: handshake, then a byte of "Reply=" and then 'x' every interval. */
static void __attribute__((noreturn))
serve(SSL_CTX *ctx, int fd, long long interval_ms, long long max_ms)
{
	char err[512], buf[4096];
	SSL *ssl = NULL;
	const char *head = "Reply=";
	long long end = now_ms() + max_ms;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (tls_accept_blocking(ctx, fd, 10000, &ssl, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet-test-drip: handshake: %s\n", err);
		_exit(1);
	}
	for (size_t sent = 0; now_ms() < end; sent++) {
		long long next = now_ms() + interval_ms;
		/* read and drop what comes in until the next byte is due */
		while (now_ms() < next) {
			ssize_t n = tls_read_some(ssl, buf, sizeof(buf), next - now_ms(), err, sizeof(err));
			if (n == 0 || (n < 0 && strstr(err, "timed out") == NULL)) {
				fprintf(stderr, "pgfleet-test-drip: peer gone after %zu bytes\n", sent);
				_exit(0);
			}
		}
		char c = sent < strlen(head) ? head[sent] : 'x';
		if (tls_write_all(ssl, &c, 1, 5000, err, sizeof(err)) == -1) {
			fprintf(stderr, "pgfleet-test-drip: write: %s\n", err);
			_exit(0);
		}
	}
	_exit(0);
}

int
main(int argc, char **argv)
{
	const char *ca = NULL, *cert = NULL, *key = NULL;
	long long interval_ms = 2000, max_s = 300;
	char err[512];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--ca") == 0) ca = argv[i + 1];
		else if (strcmp(argv[i], "--cert") == 0) cert = argv[i + 1];
		else if (strcmp(argv[i], "--key") == 0) key = argv[i + 1];
		else if (strcmp(argv[i], "--interval-ms") == 0) interval_ms = atoll(argv[i + 1]);
		else if (strcmp(argv[i], "--max-seconds") == 0) max_s = atoll(argv[i + 1]);
		else die("unknown option", argv[i]);
	}
	if (ca == NULL || cert == NULL || key == NULL || interval_ms <= 0 || max_s <= 0)
		die("usage", "--ca C --cert C --key K [--interval-ms N] [--max-seconds N]");
	SSL_CTX *ctx = tls_server_ctx(ca, cert, key, err, sizeof(err));
	if (ctx == NULL)
		die("tls", err);

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sin);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 || listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		die("listen", strerror(errno));
	printf("%u\n", ntohs(sin.sin_port));
	fflush(stdout);
	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c == -1) {
			if (errno != EINTR)
				perror("pgfleet-test-drip: accept");
			continue;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(fd);
			serve(ctx, c, interval_ms, max_s * 1000);
		}
		if (pid == -1)
			perror("pgfleet-test-drip: fork");
		close(c);
	}
}
