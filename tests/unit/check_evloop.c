/*
 * Unit tests for common/evloop: event_free that takes NULL, the peer of an accepted
 * socket as text, a connection's admission (an SSL and a place in the gate, or the
 * socket closed), and an accepted TLS connection's start (its bufferevent and its
 * deadline armed).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/evloop.h"
#include "common/gate.h"

START_TEST(test_evloop_event_free_takes_null)
{
	struct event_base *base = event_base_new();
	ck_assert_ptr_nonnull(base);
	evloop_event_free(NULL);
	struct event *ev = evtimer_new(base, NULL, NULL);
	ck_assert_ptr_nonnull(ev);
	evloop_event_free(ev);
	event_base_free(base);
}
END_TEST

START_TEST(test_evloop_peer_names_ipv4_ipv6_and_others)
{
	char host[64];
	int port = -1;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(8420)};
	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.2", &sin.sin_addr), 1);
	evloop_peer((struct sockaddr *)&sin, host, sizeof(host), &port);
	ck_assert_str_eq(host, "127.0.0.2");
	ck_assert_int_eq(port, 8420);

	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
	ck_assert_int_eq(inet_pton(AF_INET6, "::1", &sin6.sin6_addr), 1);
	evloop_peer((struct sockaddr *)&sin6, host, sizeof(host), &port);
	ck_assert_str_eq(host, "::1");
	ck_assert_int_eq(port, 443);
	/* the port is optional */
	evloop_peer((struct sockaddr *)&sin6, host, sizeof(host), NULL);
	ck_assert_str_eq(host, "::1");

	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	evloop_peer((struct sockaddr *)&sun, host, sizeof(host), &port);
	ck_assert_str_eq(host, "?");
	ck_assert_int_eq(port, 0);
}
END_TEST

static void
evict_none(struct gate_entry *e, const char *why)
{
	(void)e;
	(void)why;
	ck_abort_msg("nothing is evicted here");
}

static int
closed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

START_TEST(test_evloop_tls_admit_enters_gate_or_closes_socket)
{
	struct event_base *base = event_base_new();
	struct gate *g = gate_new(base, "test", 4, 1);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_nonnull(ctx);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(50000)};
	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.3", &sin.sin_addr), 1);
	struct gate_entry e[2];
	memset(e, 0, sizeof(e));
	int sv[2], port = 0;

	/* admitted: the SSL is the caller's, the socket still open */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	SSL *ssl = evloop_tls_admit(ctx, g, &e[0], evict_none, sv[0], (struct sockaddr *)&sin, &port);
	ck_assert_ptr_nonnull(ssl);
	ck_assert_str_eq(e[0].host, "127.0.0.3");
	ck_assert_int_eq(port, 50000);
	ck_assert_int_eq(gate_count(g), 1);
	ck_assert(!closed(sv[0]));
	SSL_free(ssl);
	close(sv[0]);
	close(sv[1]);

	/* a second one from the address is over its limit: refused, the socket closed */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_ptr_null(evloop_tls_admit(ctx, g, &e[1], evict_none, sv[0], (struct sockaddr *)&sin, NULL));
	ck_assert(closed(sv[0]));
	ck_assert_int_eq(gate_count(g), 1);
	close(sv[1]);

	/* no connection (its allocation failed): the socket closed too */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_ptr_null(evloop_tls_admit(ctx, g, NULL, evict_none, sv[0], (struct sockaddr *)&sin, NULL));
	ck_assert(closed(sv[0]));
	close(sv[1]);

	gate_leave(g, &e[0]);
	gate_free(g);
	SSL_CTX_free(ctx);
	event_base_free(base);
}
END_TEST

static int deadline_fired;

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	deadline_fired++;
	event_base_loopexit(arg, NULL);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	(void)arg;
}

START_TEST(test_evloop_tls_accept_starts_bufferevent_and_deadline)
{
	struct event_base *base = event_base_new();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	ck_assert_ptr_nonnull(base);
	ck_assert_ptr_nonnull(ctx);
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(evutil_make_socket_nonblocking(sv[0]), 0);
	SSL *ssl = SSL_new(ctx);
	ck_assert_ptr_nonnull(ssl);
	struct bufferevent *bev = NULL;
	struct event *deadline = NULL;
	const struct evloop_tls_cbs cbs = {.event = on_event, .deadline = on_deadline, .arg = base};
	deadline_fired = 0;
	ck_assert_int_eq(evloop_tls_accept(base, sv[0], ssl, &cbs, 20, &bev, &deadline), 0);
	ck_assert_ptr_nonnull(bev);
	ck_assert_ptr_nonnull(deadline);
	ck_assert(evtimer_pending(deadline, NULL));
	ck_assert_int_eq(bufferevent_get_enabled(bev) & (EV_READ | EV_WRITE), EV_READ | EV_WRITE);
	ck_assert_int_eq(bufferevent_getfd(bev), sv[0]);
	/* the peer says nothing: the loop ends when the deadline passes */
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_int_eq(deadline_fired, 1);
	bufferevent_free(bev); /* frees the SSL, closes sv[0] */
	evloop_event_free(deadline);
	close(sv[1]);
	SSL_CTX_free(ctx);
	event_base_free(base);
}
END_TEST

Suite *
evloop_suite(void)
{
	Suite *s = suite_create("evloop");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_evloop_event_free_takes_null);
	tcase_add_test(tc, test_evloop_peer_names_ipv4_ipv6_and_others);
	tcase_add_test(tc, test_evloop_tls_admit_enters_gate_or_closes_socket);
	tcase_add_test(tc, test_evloop_tls_accept_starts_bufferevent_and_deadline);
	suite_add_tcase(s, tc);
	return s;
}
