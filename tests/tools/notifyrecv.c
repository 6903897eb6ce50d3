/*
 * pgfleet-test-notifyrecv SOCKET: a stand-in for systemd's notification socket.
 * Binds a datagram Unix socket at SOCKET and prints each message received on one
 * line ("READY=1\nSTATUS=..." as "READY=1|STATUS=..."), flushed at once, until killed.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (argc != 2 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: pgfleet-test-notifyrecv SOCKET\n");
		return 2;
	}
	strcpy(sun.sun_path, argv[1]);
	unlink(argv[1]);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror("notifyrecv");
		return 1;
	}
	char buf[4096];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0) {
			perror("notifyrecv: recv");
			continue;
		}
		buf[n] = '\0';
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\n')
				buf[i] = '|';
		printf("%s\n", buf);
		fflush(stdout);
	}
}
