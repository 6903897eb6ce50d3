/*
 * evloop: what the accept callbacks of the TLS listeners and the teardowns of the
 * libevent loops would otherwise each write again.
 */
#include "common/evloop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include <event2/bufferevent_ssl.h>

#include "common/clock.h"
#include "common/gate.h"

void
evloop_event_free(struct event *ev)
{
	if (ev != NULL)
		event_free(ev);
}

void
evloop_peer(const struct sockaddr *sa, char *host, size_t hlen, int *port)
{
	int p = 0;
	snprintf(host, hlen, "?");
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, host, (socklen_t)hlen);
		p = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, (socklen_t)hlen);
		p = ntohs(sin6->sin6_port);
	}
	if (port != NULL)
		*port = p;
}

SSL *
evloop_tls_admit(SSL_CTX *ctx, struct gate *gate, struct gate_entry *e,
    void (*evict)(struct gate_entry *e, const char *why), evutil_socket_t fd,
    const struct sockaddr *sa, int *port)
{
	char host[INET6_ADDRSTRLEN];
	evloop_peer(sa, host, sizeof(host), port);
	SSL *ssl = e != NULL ? SSL_new(ctx) : NULL;
	if (ssl == NULL || gate_enter(gate, e, host, evict) == -1) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		return NULL;
	}
	return ssl;
}

int
evloop_tls_accept(struct event_base *base, evutil_socket_t fd, SSL *ssl,
    const struct evloop_tls_cbs *cbs, long long deadline_ms, struct bufferevent **bev,
    struct event **deadline)
{
	*deadline = evtimer_new(base, cbs->deadline, cbs->arg);
	*bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (*bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
	}
	if (*bev == NULL || *deadline == NULL)
		return -1;
	bufferevent_openssl_set_allow_dirty_shutdown(*bev, 1);
	bufferevent_setcb(*bev, cbs->read, cbs->write, cbs->event, cbs->arg);
	bufferevent_enable(*bev, EV_READ | EV_WRITE);
	struct timeval tv = clock_tv(deadline_ms);
	evtimer_add(*deadline, &tv);
	return 0;
}
