/*
 * pushq: a counted window and a FIFO of the items waiting for it (pushq.h).
 * Slots are handed to waiting items only from a deferred loop callback, so
 * that a session giving up its slot inside its own callbacks never runs
 * another session's push under its feet.
 */
#include "worker/pushq.h"

#include <stdlib.h>

#include <event2/event.h>

#include "common/evloop.h"

struct pushq {
	struct event *kick;
	void (*go)(void *owner);
	struct pushq_item *head, *tail;
	int holding, waiting, max;
};

static void
pushq_kick(evutil_socket_t fd, short what, void *arg)
{
	struct pushq *q = arg;
	(void)fd;
	(void)what;
	while (q->head != NULL && q->holding < q->max) {
		struct pushq_item *it = q->head;
		q->head = it->next;
		if (q->head != NULL)
			q->head->prev = NULL;
		else
			q->tail = NULL;
		it->prev = it->next = NULL;
		q->waiting--;
		it->where = PUSHQ_HOLDING;
		q->holding++;
		q->go(it->owner); /* may leave at once (and so kick again): the loop goes on */
	}
}

struct pushq *
pushq_new(struct event_base *base, void (*go)(void *owner))
{
	struct pushq *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->kick = event_new(base, -1, 0, pushq_kick, q);
	if (q->kick == NULL) {
		free(q);
		return NULL;
	}
	q->go = go;
	q->max = 1;
	return q;
}

void
pushq_free(struct pushq *q)
{
	if (q == NULL)
		return;
	evloop_event_free(q->kick);
	free(q);
}

static void
pushq_maybe_kick(struct pushq *q)
{
	if (q->head != NULL && q->holding < q->max)
		event_active(q->kick, 0, 0);
}

int
pushq_enter(struct pushq *q, struct pushq_item *it, int max, void *owner)
{
	q->max = max > 0 ? max : 1;
	it->owner = owner;
	if (it->where != PUSHQ_OUT)
		return it->where == PUSHQ_HOLDING;
	if (q->head == NULL && q->holding < q->max) {
		it->where = PUSHQ_HOLDING;
		q->holding++;
		return 1;
	}
	it->where = PUSHQ_WAITING;
	it->next = NULL;
	it->prev = q->tail;
	if (q->tail != NULL)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->waiting++;
	pushq_maybe_kick(q); /* a larger max since the last call may let it go at once */
	return 0;
}

void
pushq_leave(struct pushq *q, struct pushq_item *it)
{
	if (it->where == PUSHQ_HOLDING) {
		q->holding--;
	} else if (it->where == PUSHQ_WAITING) {
		if (it->prev != NULL)
			it->prev->next = it->next;
		else
			q->head = it->next;
		if (it->next != NULL)
			it->next->prev = it->prev;
		else
			q->tail = it->prev;
		it->prev = it->next = NULL;
		q->waiting--;
	}
	it->where = PUSHQ_OUT;
	pushq_maybe_kick(q);
}

int pushq_holding(const struct pushq *q) { return q->holding; }
int pushq_waiting(const struct pushq *q) { return q->waiting; }
