/*
 * observe: the scheduler parent's HTTP endpoints on metrics.listen (libevent's
 * evhttp, in the parent's loop): GET /metrics, Prometheus text (its own gauges,
 * then common/metrics.c's counters and histograms); GET /healthz, 200 or 503
 * with a JSON body saying why. Nothing here touches the database: the parent
 * hands its latest state through a callback. observe_new returns a struct
 * freed by observe_free.
 */
#ifndef PGFLEET_OBSERVE_H
#define PGFLEET_OBSERVE_H

#include <stddef.h>

struct event_base;

/* What the parent knows now; times are monotonic ms (0: never). */
struct observe_state {
	int workers;            /* configured */
	int workers_alive;
	int inflight;           /* events its workers hold */
	int draining;
	long long poll_interval_ms;
	long long last_claim_ms;   /* the last claim pass that reached the database */
	long long last_db_ok_ms;   /* the last statement that worked */
	long long started_wall_ms; /* epoch ms */
	const char *db_error;      /* the last database error, NULL when the last statement worked */
};

typedef void (*observe_state_fn)(void *arg, struct observe_state *st);

/*
 * Listen on host:port (port 0: any free one). NULL with the reason in err when
 * the address cannot be bound.
 */
struct observe *observe_new(struct event_base *base, const char *host, int port,
    observe_state_fn state, void *arg, char *err, size_t errlen);
void observe_free(struct observe *o);
/* The port bound (the one asked for, or the one port 0 got). */
int observe_port(const struct observe *o);

/*
 * The health rule, pure: healthy (1) when not draining, at least one worker is
 * alive, the database answered within max(10 s, 3 poll intervals) and a claim pass
 * worked within max(30 s, 10 poll intervals); else 0 with the first reason in why.
 */
int observe_healthy(const struct observe_state *st, long long now_ms, char *why, size_t whylen);
/* The /healthz body for st at now_ms (JSON, one line). Returns its length. */
int observe_health_json(const struct observe_state *st, long long now_ms, char *buf, size_t size);

#endif
