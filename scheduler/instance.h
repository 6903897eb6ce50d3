/*
 * instance: this scheduler's heartbeat row in pgfleet.scheduler_instance
 * (migrations/0013_ops.sql): written at start, at every heartbeat, marked
 * stopped at a clean stop. `pgfleet schedulers` and dashboards read it.
 * Nothing returned needs freeing.
 */
#ifndef PGFLEET_INSTANCE_H
#define PGFLEET_INSTANCE_H

#include <stddef.h>

struct db;

struct instance_beat {
	const char *owner;	/* NAME:PID, as in the leases */
	const char *name;
	long pid;
	long long heartbeat_ms;
	int workers, workers_alive, inflight;
	long long last_claim_ms;	/* epoch ms of the last claim pass that worked; 0: none */
	const char *metrics;	/* HOST:PORT of /metrics, NULL when off */
};

/* At start: remove the stopped and lost rows of this name, then write ours. 0 or -1. */
int instance_start(struct db *db, const struct instance_beat *b, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* A heartbeat: our row with last_seen = now() (written again if it went). 0 or -1. */
int instance_beat(struct db *db, const struct instance_beat *b, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* A clean stop: stopped_at = now(). 0 or -1. */
int instance_stop(struct db *db, const char *owner, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
