/*
 * link: the agents' control connections one worker holds (docs/protocol.md,
 * "The control connection"). Every worker accepts on the scheduler's one
 * agent listener; a connection goes through the pre-TLS budget
 * (common/gate.c), the TLS handshake (the context requires the agent role),
 * Request=Hello (checked against the certificate's name), the parent's
 * verdict (it knows the computers), and then carries keepalives, which it
 * answers itself, and replies about tasks, which go to the owner's hook.
 * links_new returns a struct links freed with links_free, which closes every
 * connection; a struct link belongs to its links and is freed by it, after its
 * gone hook, on the next turn of the loop.
 */
#ifndef PGFLEET_LINK_H
#define PGFLEET_LINK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct event_base;
struct conf_scheduler;
struct wire_msg;
struct link;
struct links;

#define LINK_PROTOCOL "1"
#define LINK_HANDSHAKE_MS 2000     /* accept to TLS handshake done: the pre-TLS budget's deadline */
#define LINK_PRETLS_MAX 64         /* connections without TLS at once (per worker) */
#define LINK_PRETLS_PER_SOURCE 16  /* ... from one address */
#define LINK_MAX_BODY (64 * 1024 * 1024) /* a reply's output */

struct links_hooks {
	/* A connection sent a valid Hello: ask the parent (link_accept / link_refuse answer). */
	void (*hello)(struct link *l, void *arg);
	/* A connection is closing: code 0 when it was lost or closed, or the status a task in
	 * flight fails with (STATUS_PROTOCOL, STATUS_MESSAGE_TIMEOUT). accepted: it had been
	 * accepted (its computer is connected). The link is freed after this returns. */
	void (*gone)(struct link *l, int accepted, int code, const char *why, void *arg);
	/* A message about a task (Reply=StatusUpdate, SendFile, Cancel, Error); m is the
	 * caller's to free. */
	void (*message)(struct link *l, struct wire_msg *m, void *arg);
	/* Request=Facts (docs/enrolment.md): the agent's facts document in m's body; m is the
	 * caller's to free. NULL: facts are refused as unexpected. */
	void (*facts)(struct link *l, struct wire_msg *m, void *arg);
	void *arg;
};

/*
 * Accept on listen_fd (shared with the other workers; not closed by links_free).
 * NULL with err on failure.
 */
struct links *links_new(struct event_base *base, SSL_CTX *ctx, int listen_fd, int slot,
    const struct conf_scheduler *conf, const struct links_hooks *hooks, char *err, size_t errlen);
void links_free(struct links *ls);
/* Take no new connections (the worker drains). */
void links_stop_accepting(struct links *ls);
/* The connection with this id, or NULL (also when it is closing). */
struct link *links_find(struct links *ls, int64_t link_id);
/* Every open connection, for a walk: first, then link_next until NULL. */
struct link *links_first(struct links *ls);
struct link *link_next(struct link *l);
/* Connections accepted (computers connected) now. */
int links_ready(const struct links *ls);
/*
 * The computers heard from since the last call, at most max of them into ids;
 * returns how many. Called again while some are left, it goes on with them.
 */
int links_take_seen(struct links *ls, int64_t *ids, int max);

/* The parent's verdict on a Hello; want_facts: ask the agent for its facts (Facts=Send). */
void link_accept(struct link *l, int64_t computer_id, int want_facts);
void link_refuse(struct link *l, const char *why);
/* Close now; the gone hook runs with code and why. */
void link_close(struct link *l, int code, const char *why);
/*
 * Send a message (built whole). 0, or -1 with err when it cannot be serialized or
 * the connection is not accepted.
 */
int link_send(struct link *l, const struct wire_msg *m, char *err, size_t errlen)
    __attribute__((warn_unused_result));

int64_t link_id(const struct link *l);
int64_t link_computer(const struct link *l);   /* 0 until accepted */
const char *link_name(const struct link *l);   /* the certificate's name */
const char *link_peer(const struct link *l);   /* numeric address of the agent */
const char *link_version(const struct link *l); /* Agent-Version, "" when not sent */
const char *link_serial(const struct link *l);  /* the certificate's serial (upper-case hex) */
const char *link_facts_hash(const struct link *l); /* Facts-Hash of the Hello, "" when none */
int link_ready(const struct link *l);

#endif
