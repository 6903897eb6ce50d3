/*
 * gate: the budget of a listener's connections that have not finished their
 * TLS handshake (docs/protocol.md): at most max at once, at most per_source at
 * once from one address (more are refused at once). When the budget is full, a
 * new connection closes the oldest one whose peer has not sent its TLS hello
 * GATE_IDLE_MIN_MS after the accept (an idle connect holding a slot), else the
 * oldest one older than stale_ms; when
 * every connection in the budget is a handshake under way and younger, the new
 * one is refused instead (its peer tries again): work nearly done is never
 * thrown away for work not started; an owner that set a pause callback stops
 * accepting meanwhile instead, so that newcomers wait in the kernel's listen
 * queue rather than being refused into their back-off. Refusals are logged once per
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
	long long entered_ms;           /* when it entered (monotonic) */
	/* optional, set by the owner: 1 once the peer's TLS hello has come (NULL: never) */
	int (*started)(const struct gate_entry *e);
	/* close the connection (the owner calls gate_leave, or frees it, which must) */
	void (*evict)(struct gate_entry *e, const char *why);
};

/* label prefixes every log line ("transfer", "agents"). NULL when out of memory. */
struct gate *gate_new(struct event_base *base, const char *label, int max, int per_source);
void gate_free(struct gate *g);
/* <= 0 keeps the current value. */
void gate_set_limits(struct gate *g, int max, int per_source);
/* A handshake under way this long may be closed for a newcomer (default GATE_STALE_MS). */
void gate_set_stale(struct gate *g, long long stale_ms);
#define GATE_STALE_MS 1000
#define GATE_IDLE_MIN_MS 250   /* a peer gets this long to send its hello */
/*
 * A new connection from host: 0 when it is admitted (e is in the budget; the
 * oldest may have been evicted to make room), -1 when it is refused (logged;
 * the caller closes it).
 */
int gate_enter(struct gate *g, struct gate_entry *e, const char *host,
    void (*evict)(struct gate_entry *e, const char *why)) __attribute__((warn_unused_result));
/* The same at now_ms (monotonic): for tests. */
int gate_enter_at(struct gate *g, struct gate_entry *e, const char *host,
    void (*evict)(struct gate_entry *e, const char *why), long long now_ms)
    __attribute__((warn_unused_result));
/* Out of the budget (handshake done, or closed); harmless when it is not in. */
void gate_leave(struct gate *g, struct gate_entry *e);
/* A refusal decided by the owner (a failed handshake): logged and counted as above. */
void gate_refused(struct gate *g, const char *host, const char *why);
/*
 * Log the refusals counted since the last report, one line per address, and forget the
 * addresses that had none (their next refusal is logged at once). A timer calls it once
 * a minute; tests call it to fire the report without waiting for the minute.
 */
void gate_report_refusals(struct gate *g);
/*
 * Instead of refusing newcomers while the budget is full of handshakes under way,
 * none idle or stale: pause(arg, 1) once it is so (the owner stops accepting: new
 * connections wait in the kernel's listen queue, their handshakes not yet begun,
 * instead of being refused into their back-off), pause(arg, 0) once there is room
 * (a slot freed, or a connection became idle: checked every 50 ms). With a pause
 * callback, a stale handshake is never closed for a newcomer: it runs to the
 * owner's handshake deadline.
 */
void gate_set_pause(struct gate *g, void (*pause)(void *arg, int paused), void *arg);
int gate_paused(const struct gate *g);
/* Connections in the budget now. */
int gate_count(const struct gate *g);

#endif
