/*
 * evloop: small pieces the libevent loops share: event_free that takes NULL, the
 * peer of an accepted socket as text, and the start of a connection a TLS listener
 * accepted (the agents' links, enrolment, transfers): its SSL and place in the
 * listener's gate, then its bufferevent and its deadline. Nothing here keeps state;
 * what evloop_tls_admit and evloop_tls_accept make is the caller's to free.
 */
#ifndef PGFLEET_EVLOOP_H
#define PGFLEET_EVLOOP_H

#include <stddef.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

struct gate;
struct gate_entry;
struct sockaddr;

/* event_free, and nothing for NULL (as free). */
void evloop_event_free(struct event *ev);

/* sa's address into host ("?" for a family other than IPv4 and IPv6), its port into *port (0) unless NULL. */
void evloop_peer(const struct sockaddr *sa, char *host, size_t hlen, int *port);

/*
 * Admit fd, accepted from sa, for a connection the caller just allocated (e its gate
 * entry; NULL when the allocation failed): e in gate's budget (e->host the peer's
 * address, *port its port unless NULL) and an SSL of ctx. The SSL (the caller's until
 * evloop_tls_accept takes it), or NULL with fd closed and nothing left to free but the
 * caller's connection.
 */
SSL *evloop_tls_admit(SSL_CTX *ctx, struct gate *gate, struct gate_entry *e,
    void (*evict)(struct gate_entry *e, const char *why), evutil_socket_t fd,
    const struct sockaddr *sa, int *port);

/* The callbacks of an accepted TLS connection, all given arg. */
struct evloop_tls_cbs {
	bufferevent_data_cb read, write; /* write may be NULL */
	bufferevent_event_cb event;
	event_callback_fn deadline;      /* the deadline passed */
	void *arg;
};

/*
 * TLS accepted on fd with ssl: *bev a bufferevent that owns both from here (when it cannot
 * be made, both are freed here), dirty shutdowns allowed, the callbacks set, reading and
 * writing; *deadline a timer armed for deadline_ms. 0, or -1 when either could not be made:
 * the caller frees the one that was (it closes its connection).
 */
int evloop_tls_accept(struct event_base *base, evutil_socket_t fd, SSL *ssl,
    const struct evloop_tls_cbs *cbs, long long deadline_ms, struct bufferevent **bev,
    struct event **deadline) __attribute__((warn_unused_result));

#endif
