/*
 * pgfleet-test-unixfwd SOCKET PORT: accept on the Unix socket SOCKET and forward
 * each connection to 127.0.0.1:PORT, both ways, until either side closes. It lets
 * a process in another network namespace (t_readme) reach the test's PostgreSQL
 * over TCP, with its password authentication, through a file. Serves until killed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <netinet/in.h>
#include <arpa/inet.h>

static struct event_base *base;
static struct sockaddr_in target;

struct pair {
	struct bufferevent *a, *b;
};

static void
pair_close(struct pair *p)
{
	bufferevent_free(p->a);
	bufferevent_free(p->b);
	free(p);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct pair *p = arg;
	struct bufferevent *other = bev == p->a ? p->b : p->a;
	bufferevent_write_buffer(other, bufferevent_get_input(bev));
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct pair *p = arg;
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		pair_close(p);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
	(void)l;
	(void)sa;
	(void)len;
	(void)arg;
	struct pair *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		close(fd);
		return;
	}
	p->a = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	p->b = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (p->a == NULL || p->b == NULL ||
	    bufferevent_socket_connect(p->b, (struct sockaddr *)&target, sizeof(target)) == -1) {
		perror("unixfwd: connect");
		if (p->a == NULL)
			close(fd);
		if (p->a != NULL)
			bufferevent_free(p->a);
		if (p->b != NULL)
			bufferevent_free(p->b);
		free(p);
		return;
	}
	bufferevent_setcb(p->a, on_read, NULL, on_event, p);
	bufferevent_setcb(p->b, on_read, NULL, on_event, p);
	bufferevent_enable(p->a, EV_READ | EV_WRITE);
	bufferevent_enable(p->b, EV_READ | EV_WRITE);
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: pgfleet-test-unixfwd SOCKET PORT\n");
		return 2;
	}
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "unixfwd: %s: path too long\n", argv[1]);
		return 2;
	}
	strcpy(sun.sun_path, argv[1]);
	unlink(argv[1]);
	target.sin_family = AF_INET;
	target.sin_port = htons((unsigned short)atoi(argv[2]));
	target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	base = event_base_new();
	struct evconnlistener *l = base == NULL ? NULL :
	    evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE, 64,
		(struct sockaddr *)&sun, sizeof(sun));
	if (l == NULL) {
		perror("unixfwd: listen");
		return 1;
	}
	event_base_dispatch(base);
	return 0;
}
