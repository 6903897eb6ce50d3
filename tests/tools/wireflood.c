/*
 * pgfleet-test-wireflood: holds many idle TCP connections to a port, as an
 * unauthenticated flood does: never a TLS byte.
 *   flood --port P [--host 127.0.0.1] --from FIRST --sources N --each K
 * connects K times from each of N source addresses FIRST, FIRST+1, ...
 * (IPv4, e.g. 127.0.0.2: all of 127/8 is local on Linux), prints
 * "opened X of Y" once every connect has been answered, then holds them
 * until killed. Connections the server closes stay closed: each time some
 * are, it prints "held H closed C" (H still open, C closed by the server),
 * so that a test can see how many a listener keeps and when it lets go.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "pgfleet-test-wireflood: %s: %s\n", what, why);
	exit(2);
}

/* Hold the n connections in p until killed, printing "held H closed C" when the server closes some. */
static void
hold(struct pollfd *p, int n)
{
	int held = n;
	for (;;) {
		if (poll(p, (nfds_t)n, -1) == -1) {
			if (errno == EINTR)
				continue;
			die("poll", strerror(errno));
		}
		int before = held;
		for (int i = 0; i < n; i++) {
			char buf[512];
			if (p[i].fd == -1 || p[i].revents == 0)
				continue;
			if (read(p[i].fd, buf, sizeof(buf)) > 0)
				continue; /* a listener says nothing before TLS: not expected, ignored */
			close(p[i].fd); /* end of file or reset: closed by the server */
			p[i].fd = -1;   /* poll skips it from now on */
			held--;
		}
		if (held != before) {
			printf("held %d closed %d\n", held, n - held);
			fflush(stdout);
		}
	}
}

int
main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *from = "127.0.0.2";
	int port = 0, sources = 1, each = 1;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--host") == 0) host = argv[i + 1];
		else if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--from") == 0) from = argv[i + 1];
		else if (strcmp(argv[i], "--sources") == 0) sources = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--each") == 0) each = atoi(argv[i + 1]);
		else die("unknown option", argv[i]);
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct in_addr first;
	if (inet_pton(AF_INET, host, &to.sin_addr) != 1 || inet_pton(AF_INET, from, &first) != 1)
		die("address", "--host and --from must be IPv4 addresses");
	int opened = 0, total = sources * each;
	struct pollfd *held = calloc(total > 0 ? (size_t)total : 1, sizeof(*held));
	if (held == NULL)
		die("memory", strerror(errno));
	for (int s = 0; s < sources; s++) {
		struct sockaddr_in me = {.sin_family = AF_INET};
		me.sin_addr.s_addr = htonl(ntohl(first.s_addr) + (uint32_t)s);
		for (int k = 0; k < each; k++) {
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd == -1)
				die("socket", strerror(errno));
			if (bind(fd, (struct sockaddr *)&me, sizeof(me)) == -1)
				die("bind", strerror(errno));
			if (connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0)
				held[opened++] = (struct pollfd){.fd = fd, .events = POLLIN};
			else
				close(fd);
		}
	}
	printf("opened %d of %d\n", opened, total);
	fflush(stdout);
	hold(held, opened);
	return 0;
}
