/*
 * presence: the scheduler parent's book of which computer is connected to
 * which worker (docs/protocol.md, "Routing by presence"), and its batched
 * writes to pgfleet.agent_presence: the workers report connections (Hello),
 * closes and the computers heard from; presence_flush writes all of it in a
 * few statements (closes first, then connections, then last_message_at) and
 * answers each Hello through the verdict callback. The claim asks
 * presence_route where a computer's connection is. presence_new returns a
 * struct freed with presence_free.
 */
#ifndef PGFLEET_PRESENCE_H
#define PGFLEET_PRESENCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/ipc.h"

struct db;
struct gate;
struct presence;

/* How a Hello was decided; why is the Error of a refusal. old_pid/old_link: a previous
 * connection of the same computer to close (0 when none). */
struct presence_verdict {
	pid_t pid;
	int64_t link_id;
	int64_t computer_id;  /* 0: refused */
	const char *why;
	pid_t old_pid;
	int64_t old_link;
	int want_facts;       /* accepted: ask the agent for its facts */
};

typedef void presence_verdict_fn(const struct presence_verdict *v, void *arg);

/* owner: the lease owner (name:pid), as in agent_presence.scheduler; refusals are
 * logged through refusals (rate-limited per address). NULL when out of memory. */
struct presence *presence_new(const char *owner, struct gate *refusals);
void presence_free(struct presence *p);

/* A worker's report. -1 only when out of memory. */
int presence_hello(struct presence *p, int slot, pid_t pid, const struct ipc_agent_hello *h)
    __attribute__((warn_unused_result));
void presence_gone(struct presence *p, pid_t pid, int64_t link_id, int64_t computer_id);
void presence_seen(struct presence *p, const int64_t *ids, int n);
/* Worker pid exited: every connection it held is gone. */
void presence_worker_gone(struct presence *p, pid_t pid);

/* The worker and connection of a connected computer: 0, or -1 when it is not connected here. */
int presence_route(const struct presence *p, int64_t computer_id, pid_t *pid, int64_t *link_id);
/* Computers connected here. */
size_t presence_connected(const struct presence *p);
/* The computers connected here into ids[0..max): how many, or -1 when there are more
 * than max (ids then unspecified). */
int presence_list(const struct presence *p, int64_t *ids, int max);
/* Hellos waiting for the next flush. */
int presence_waiting(const struct presence *p);
/* Whether presence_flush has something to write now (seen: include last_message_at). */
int presence_dirty(const struct presence *p, int seen);

/*
 * Write what is queued (the heard-from computers only when seen is set) and
 * call verdict for each Hello decided. 0, or -1 with err: the rest stays
 * queued for the next try.
 */
int presence_flush(struct presence *p, struct db *db, int seen, presence_verdict_fn *verdict,
    void *arg, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Remove the rows of earlier processes of scheduler name (keep: our own owner), or
 * with keep NULL every row of name. Returns how many, or -1 with err. */
int presence_clear(struct db *db, const char *name, const char *keep, char *err, size_t errlen);

#endif
