/*
 * pushq: the worker's window of tasks pushed to agents whose file has not been
 * fetched yet. A push takes a slot; while every slot is taken, pushes wait in
 * the order they came. A slot frees when the agent answers about its task (the
 * file arrived, or the task ended) or the session lets go of it; the next
 * waiting push then goes, from the event loop. A fan-out to many computers so
 * sends agents fetching at the rate the transfer port serves them, instead of
 * all at once with one-time keys that expire while they queue.
 */
#ifndef PGFLEET_PUSHQ_H
#define PGFLEET_PUSHQ_H

struct event_base;
struct pushq;

enum pushq_where { PUSHQ_OUT = 0, PUSHQ_WAITING, PUSHQ_HOLDING };

/* One per session, embedded; zeroed it is out of the queue. */
struct pushq_item {
	struct pushq_item *prev, *next; /* while waiting */
	enum pushq_where where;
	void *owner;                    /* handed to go() */
};

/* go(owner): a waiting item got its slot (called from the loop, never from pushq_enter). */
struct pushq *pushq_new(struct event_base *base, void (*go)(void *owner))
    __attribute__((warn_unused_result));
void pushq_free(struct pushq *q);
/*
 * Ask for a slot for it (which must be out), with max slots in all (at least 1):
 * 1 when it holds one now, 0 when it waits (go() follows once one frees).
 */
int pushq_enter(struct pushq *q, struct pushq_item *it, int max, void *owner)
    __attribute__((warn_unused_result));
/* Give up its slot, or its place in the queue; nothing when it is out. */
void pushq_leave(struct pushq *q, struct pushq_item *it);
int pushq_holding(const struct pushq *q);
int pushq_waiting(const struct pushq *q);

#endif
