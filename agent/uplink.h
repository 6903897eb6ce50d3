/*
 * uplink: the agent's one connection to a scheduler (docs/protocol.md, "The
 * control connection"): connect to an entry of servers over mutual TLS (the
 * peer must be a scheduler, and in tls.allow_schedulers when that is set),
 * Request=Hello and the scheduler's Reply=Hello, keepalives, whole-message
 * deadlines, and reconnection with back-off and full jitter, failing over
 * round the servers list (common/backoff.c). Requests go to the owner's hook.
 * Event-driven (libevent). uplink_new returns a struct freed with uplink_free.
 */
#ifndef PGFLEET_UPLINK_H
#define PGFLEET_UPLINK_H

#include <stdint.h>

#include <openssl/ssl.h>

struct event_base;
struct conf_agent;
struct wire_msg;
struct uplink;

#define UPLINK_PROTOCOL "1"

struct uplink_hooks {
	/* Request=SendFile or Request=Cancel (or another request, for the owner to refuse);
	 * m stays the uplink's. */
	void (*request)(const struct wire_msg *m, void *arg);
	/* The connection is up (Reply=Hello said Success) or down. */
	void (*up)(void *arg);
	void (*down)(void *arg);
	void *arg;
};

/* conf is read at each attempt (uplink_set_conf after a reload). NULL when out of memory. */
struct uplink *uplink_new(struct event_base *base, SSL_CTX *ctx, const struct conf_agent *conf,
    const char *version, const struct uplink_hooks *hooks);
/* The first attempt, at once. */
void uplink_start(struct uplink *u);
void uplink_set_conf(struct uplink *u, const struct conf_agent *conf);
/* Close the connection and make no more attempts. */
void uplink_stop(struct uplink *u);
void uplink_free(struct uplink *u);
/* Send a whole message: 0, or -1 when the connection is not up or it cannot be built. */
int uplink_send(struct uplink *u, const struct wire_msg *m) __attribute__((warn_unused_result));
int uplink_is_up(const struct uplink *u);
/* Counts connections that came up: a task's replies go only on the one it came in on. */
uint64_t uplink_generation(const struct uplink *u);
/* Of the connection up: the scheduler's numeric address, its certificate name, our ID. */
const char *uplink_peer_addr(const struct uplink *u);
const char *uplink_peer_name(const struct uplink *u);
long long uplink_computer_id(const struct uplink *u);
/* The connection's socket (for a forked child to close), or -1. */
int uplink_fd(const struct uplink *u);

#endif
