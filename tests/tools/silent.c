/*
 * A peer that accepts TCP connections on 127.0.0.1 and then says nothing,
 * holding them open: a hung agent for the scheduler's handshake and idle
 * timeouts. Prints its port, serves until killed. With a FILE argument it appends
 * one line to FILE per connection accepted (a test can prove nobody connected).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sin);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 || listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		perror("silent");
		return 1;
	}
	printf("%u\n", ntohs(sin.sin_port));
	fflush(stdout);
	for (;;) {
		if (accept(fd, NULL, NULL) == -1) {
			perror("silent: accept");
			continue;
		}
		if (argc > 1) {
			int log = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
			if (log == -1 || write(log, "accepted\n", 9) != 9)
				perror(argv[1]);
			if (log != -1)
				close(log);
		}
	}
}
