/*
 * pool: the scheduler parent's worker slots: fork each worker with its own
 * socketpair, hand out claimed events to the least loaded, reap and respawn
 * a dead worker (with a restart limit) and give its events to the new one.
 * The pool owns its slots and their in-flight tables; pool_free releases all.
 */
#ifndef PGFLEET_POOL_H
#define PGFLEET_POOL_H

#include <stdint.h>

#include "common/ipc.h"

struct event_base;
struct pool;

struct pool_callbacks {
	/* Runs in the child after fork with only fd (the worker's end) and the log
	 * descriptor open; must not return. */
	void (*worker_main)(int slot, int fd, void *arg);
	void (*on_done)(const struct ipc_done *done, void *arg);
	void (*on_released)(int64_t event_id, void *arg);
	/* A worker died and could not be restarted within the limit. */
	void (*on_give_up)(int slot, void *arg);
	void *arg;
};

/* A slot whose worker was started restarts times within window_ms is given up. */
struct pool *pool_new(struct event_base *base, int nworkers, int capacity, int restarts,
    long long window_ms, const struct pool_callbacks *cb);
/* Fork every worker. Returns 0, or -1 when not one could be started. */
int pool_start(struct pool *p);
/* Free session slots across live workers. */
int pool_free_capacity(const struct pool *p);
int pool_inflight(const struct pool *p);
/* Give an event to the least loaded live worker; -1 when none has room. */
int pool_dispatch(struct pool *p, const struct ipc_event *ev);
/* Ask the worker holding event_id to cancel it; -1 when no worker holds it. */
int pool_cancel(struct pool *p, int64_t event_id);
/* True when the event is held by one of our workers. */
int pool_holds(const struct pool *p, int64_t event_id);
/* Send a payload-less message (IPC_DRAIN, IPC_REOPEN) to every live worker. */
void pool_broadcast(struct pool *p, uint32_t type);
/* Reap exited workers (call from the loop after SIGCHLD); respawns them. */
void pool_reap(struct pool *p);
/* Stop respawning; SIGTERM every worker (stop_now: SIGKILL). */
void pool_shutdown(struct pool *p, int stop_now);
int pool_live(const struct pool *p);
/* Event ids held, for lease release at shutdown; returns the count written. */
int pool_held_events(const struct pool *p, int64_t *ids, int max);
void pool_free(struct pool *p);

#endif
