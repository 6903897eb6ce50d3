/*
 * listen: getaddrinfo, socket, SO_REUSEADDR, bind, listen, getsockname.
 */
#include "common/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/conf.h"

int
listen_tcp(const struct conf_listen *l, const char *what, int backlog, int *port, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai = NULL;
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", l->port);
	int rc = getaddrinfo(l->host, ps, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "%s %s:%d: %s", what, l->host, l->port, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	int one = 1;
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 || listen(fd, backlog) == -1) {
		snprintf(err, errlen, "%s %s:%d: %s", what, l->host, l->port, strerror(errno));
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd == -1)
		return -1;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	*port = l->port;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		*port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
		    ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}
