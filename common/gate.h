/*
 * gate: the budget of a listener's connections that have not finished their
 * TLS handshake (docs/protocol.md): at most max at once (a new one closes the
 * oldest, which has had the longest to finish), at most per_source at once
 * from one address (more are refused at once). Refusals are logged once per
 * address, then counted and reported once a minute ("<label>: N connections
 * refused from X in the last minute"), so a flood cannot flood the log too.
 * The owner embeds a struct gate_entry in each connection, keeps its own
 * handshake deadline, and frees the gate with gate_free.
 */
#ifndef PGFLEET_GATE_H
#define PGFLEET_GATE_H

#include <netinet/in.h>

struct event_base;
struct gate;

struct gate_entry {
	struct gate_entry *prev, *next; /* newest first */
	char host[INET6_ADDRSTRLEN];
	int in;                         /* counted in the budget */
	/* close the connection (the owner calls gate_leave, or frees it, which must) */
	void (*evict)(struct gate_entry *e, const char *why);
};

/* label prefixes every log line ("transfer", "agents"). NULL when out of memory. */
struct gate *gate_new(struct event_base *base, const char *label, int max, int per_source);
void gate_free(struct gate *g);
/* <= 0 keeps the current value. */
void gate_set_limits(struct gate *g, int max, int per_source);
/*
 * A new connection from host: 0 when it is admitted (e is in the budget; the
 * oldest may have been evicted to make room), -1 when it is refused (logged;
 * the caller closes it).
 */
int gate_enter(struct gate *g, struct gate_entry *e, const char *host,
    void (*evict)(struct gate_entry *e, const char *why)) __attribute__((warn_unused_result));
/* Out of the budget (handshake done, or closed); harmless when it is not in. */
void gate_leave(struct gate *g, struct gate_entry *e);
/* A refusal decided by the owner (a failed handshake): logged and counted as above. */
void gate_refused(struct gate *g, const char *host, const char *why);
/* Connections in the budget now. */
int gate_count(const struct gate *g);

#endif
