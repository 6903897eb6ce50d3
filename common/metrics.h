/*
 * metrics: the scheduler's counters and histograms, in one block of shared
 * memory (mmap MAP_SHARED|MAP_ANONYMOUS) that the parent maps before it forks
 * its workers. Every process adds to it with relaxed atomics: no message per
 * observation, nothing lost when a worker dies, counters that stay monotonic
 * across worker restarts (Prometheus counters). Gauges that belong to one
 * process (its open sessions) live in a cell of that process, keyed by pid;
 * the parent sums the cells of processes still alive. The parent renders the
 * block as Prometheus text (metrics_write). Before metrics_init, and in
 * processes that never call it (the CLI, the agent), every call is a no-op.
 * Nothing here allocates what the caller frees.
 */
#ifndef PGFLEET_METRICS_H
#define PGFLEET_METRICS_H

#include <stdio.h>

enum metrics_counter {
	MC_EVENTS_CLAIMED,   /* events the claim handed to workers */
	MC_TASKS_SUCCESS,    /* final task rows by outcome: success ... */
	MC_TASKS_FAILURE,    /* ... failure (a script's code judged a failure) ... */
	MC_TASKS_ERROR,      /* ... pgfleet's own negative codes (unreachable, TLS, timeout ...) */
	MC_TRANSFER_BYTES,   /* script bytes sent to agents */
	MC_WORKER_STARTS,    /* worker processes started (first starts, restarts, rolls) */
	MC_CLAIM_ERRORS,     /* claim passes the database failed */
	MC_PUSHES_WAITED,    /* pushes that waited for a slot (transfer.max_pending) */
	MC_N
};

enum metrics_hist {
	MH_DISPATCH,     /* seconds from an event's due time to its first 2501 (started) */
	MH_TASK,         /* seconds from a task's 2501 to its result */
	MH_DB_FLUSH,     /* seconds of one batched status write (a transaction) */
	MH_DB_ROUNDTRIP, /* seconds of one single-statement round trip (the heartbeat row) */
	MH_CLAIM,        /* seconds of one claim transaction */
	MH_CLAIM_BATCH,  /* events per claim that got any */
	MH_N
};

/* Map the shared block (before any fork). 0, or -1 with errno. */
int metrics_init(void) __attribute__((warn_unused_result));
/* Unmap it (the parent, at exit). */
void metrics_free(void);

void metrics_add(enum metrics_counter c, unsigned long long n);
/* One observation: seconds for the timing histograms, a count for MH_CLAIM_BATCH. */
void metrics_observe(enum metrics_hist h, double value);
/* This process's gauge of open sessions moves by delta. */
void metrics_sessions(int delta);
/* Read a counter (tests, the heartbeat). */
unsigned long long metrics_counter(enum metrics_counter c);

/*
 * One task's timeline, kept in its session: due time of its event (epoch ms),
 * when the current task started (monotonic ms), whether the event has started
 * one task yet (dispatch latency is measured once per attempt).
 */
struct metrics_task {
	long long due_ms;
	long long started_mono_ms;
	int dispatched;
};
/*
 * A status row was recorded: 2501 starts the clock (and the event's dispatch
 * latency once); a final row (outcome "Success"/"Failed") ends it and counts the
 * task by outcome. 2500 and other progress codes change nothing.
 */
void metrics_task_status(struct metrics_task *t, int code, const char *outcome);

/*
 * Events finished as the parent hears of them: done or failed, by status code.
 * Kept in the parent's memory (only it hears of them).
 */
void metrics_event_finished(int failed, int code);

/* Write every metric in the Prometheus text format (version 0.0.4). 0 or -1. */
int metrics_write(FILE *f);

#endif
