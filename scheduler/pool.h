/*
 * pool: the scheduler parent's worker slots: fork each worker with its own
 * socketpair, hand out claimed events to the worker holding the computer's
 * connection, reap every child. A worker that dies is restarted at once (past
 * the restart limit its slot waits for the window to pass); its events are
 * handed back (on_abandoned) for another attempt, since its agents'
 * connections died with it. A reload rolls
 * the workers: each running one drains (finishes what it holds, takes nothing
 * new) while a fresh one takes its slot. The pool owns its slots and their
 * in-flight tables; pool_free releases all.
 */
#ifndef PGFLEET_POOL_H
#define PGFLEET_POOL_H

#include <stdint.h>
#include <sys/types.h>

#include "common/ipc.h"

struct event_base;
struct pool;

struct pool_callbacks {
	/* Runs in the child after fork with only fd (the worker's end) and the log
	 * descriptor open; must not return. */
	void (*worker_main)(int slot, int fd, void *arg);
	void (*on_done)(const struct ipc_done *done, void *arg);
	void (*on_released)(int64_t event_id, void *arg);
	/* A worker died holding these events and no successor takes them: they
	 * must go back to the database for another attempt. ids valid during the call. */
	void (*on_abandoned)(int slot, const int64_t *ids, int n, void *arg);
	/* A worker died and hit the restart limit: its slot waits for the window. */
	void (*on_give_up)(int slot, void *arg);
	/* A worker's message about its agents' connections (IPC_AGENT_HELLO, _GONE, _SEEN);
	 * pid names the worker (a retiring one shares its slot's index). */
	void (*on_agent)(int slot, pid_t pid, const struct ipc_msg *msg, void *arg);
	/* A worker exited (or was killed): every connection it held is gone. */
	void (*on_exit)(int slot, pid_t pid, void *arg);
	/* A child that is no worker exited (the enrolment service); may be NULL. */
	void (*on_other_exit)(pid_t pid, int status, void *arg);
	/* A child that is no worker exited (a notification command): 1 when the callback
	 * knew it (not logged here), 0 to have it logged as an unknown child. */
	int (*on_child)(pid_t pid, int status, void *arg);
	void *arg;
};

/* A slot whose worker was started restarts times within window_ms waits
 * until the oldest of those starts leaves the window. */
struct pool *pool_new(struct event_base *base, int nworkers, int capacity, int restarts,
    long long window_ms, const struct pool_callbacks *cb);
/* The clock of the restart limit (ms, any origin); NULL: CLOCK_MONOTONIC. */
void pool_set_clock(struct pool *p, long long (*now_ms)(void *), void *arg);
/* New restart limit (SIGHUP). Returns 0, or -1 out of memory (limit unchanged). */
int pool_set_restart_limit(struct pool *p, int restarts, long long window_ms)
    __attribute__((warn_unused_result));
/* Fork every worker. Returns 0, or -1 when not one could be started. */
int pool_start(struct pool *p);
/* Free session slots across live workers. */
int pool_free_capacity(const struct pool *p);
/* Events held by any worker, retiring ones included. */
int pool_inflight(const struct pool *p);
/* Give an event to the least loaded live worker; -1 when none has room. */
int pool_dispatch(struct pool *p, const struct ipc_event *ev);
/* Give an event to the live worker pid (the one holding its computer's connection);
 * -1 when it is gone, retiring or full. */
int pool_dispatch_to(struct pool *p, pid_t pid, const struct ipc_event *ev);
/* Send a message to worker pid (retiring ones too); -1 when it is gone. */
int pool_send(struct pool *p, pid_t pid, uint32_t type, const void *payload, size_t len);
/* A descriptor the workers keep open across the fork (the agent listener); -1: none. */
void pool_keep_fd(struct pool *p, int fd);
/* Ask the worker holding event_id to cancel it; -1 when no worker holds it. */
int pool_cancel(struct pool *p, int64_t event_id);
/* True when the event is held by one of our workers. */
int pool_holds(const struct pool *p, int64_t event_id);
/* Send a payload-less message (IPC_DRAIN, IPC_REOPEN) to every worker; after
 * IPC_DRAIN, a worker started later is told to drain too. */
void pool_broadcast(struct pool *p, uint32_t type);
/* Reap exited workers (call from the loop after SIGCHLD); log each exit,
 * restart within the limit, hand back what cannot be restarted. */
void pool_reap(struct pool *p);
/* Start the waiting slots whose restart window has passed (the pool's own
 * timer calls it; callable from the loop at any time). Returns how many started. */
int pool_maintain(struct pool *p);
/* Reload: each live worker drains and retires, a new worker (forked now,
 * so it sees the caller's current config) takes its slot. Returns how many. */
int pool_roll(struct pool *p);
/* Stop respawning; SIGTERM every worker (stop_now: SIGKILL). */
void pool_shutdown(struct pool *p, int stop_now);
/* Workers taking events (retiring ones not counted). */
int pool_live(const struct pool *p);
/* Worker processes still running, retiring ones included. */
int pool_procs(const struct pool *p);
/* Event ids held, for lease release at shutdown; returns the count written. */
int pool_held_events(const struct pool *p, int64_t *ids, int max);
/* Event ids held by running workers only: the leases worth renewing. */
int pool_live_events(const struct pool *p, int64_t *ids, int max);
void pool_free(struct pool *p);

/*
 * The restart limit, pure: a slot whose last n starts (oldest first, in ms)
 * are starts[] may start again after how many ms (0: now) so that fewer than
 * limit starts fall within window_ms before now.
 */
long long pool_restart_wait(const long long *starts, int n, int limit, long long window_ms,
    long long now);

#endif
