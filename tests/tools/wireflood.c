/*
 * pgfleet-test-wireflood: holds many idle TCP connections to a port, as an
 * unauthenticated flood does: never a TLS byte.
 *   flood --port P [--host 127.0.0.1] --from FIRST --sources N --each K
 * connects K times from each of N source addresses FIRST, FIRST+1, ...
 * (IPv4, e.g. 127.0.0.2: all of 127/8 is local on Linux), prints
 * "opened X of Y" once every connect has been answered, then holds them
 * until killed. Connections the server closes stay closed.
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
				opened++;
			else
				close(fd);
		}
	}
	printf("opened %d of %d\n", opened, total);
	fflush(stdout);
	for (;;)
		pause();
}
