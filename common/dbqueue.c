/*
 * dbqueue: two FIFO lists of units, the queued and the ones in flight, and the
 * connection's state. Results are matched to the first unit in flight, item by
 * item: libpq's pipeline answers in the order things were sent.
 */
#include "common/dbqueue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/db.h"
#include "common/log.h"

struct item {
	const char *sql;   /* NULL: a Sync */
	int nparams;
	char **params;
};

struct dbq_unit {
	struct dbq_unit *next;
	dbq_done_fn *done;
	void *arg;
	int flags;
	struct item *items;
	int nitems, cap;
	int nstmts;
	long long deadline;  /* 0: none */
	int to_stmt, to_param;
	/* while in flight */
	int recv;            /* the next item whose answer is due */
	int stmt_recv;       /* the statement it is, counting statements only */
	struct db_result **results;
	int failed_at;
	char err[1024];
	char sqlstate[6];
	int cancelled;
};

struct list {
	struct dbq_unit *head, *tail;
	int n;
};

struct dbqueue {
	struct list queued, inflight;
	int max_inflight;
	enum dbq_state state;
	int failures;
	long long base_ms, max_ms;
};

static void
list_push(struct list *l, struct dbq_unit *u)
{
	u->next = NULL;
	if (l->tail != NULL)
		l->tail->next = u;
	else
		l->head = u;
	l->tail = u;
	l->n++;
}

static struct dbq_unit *
list_pop(struct list *l)
{
	struct dbq_unit *u = l->head;
	if (u == NULL)
		return NULL;
	l->head = u->next;
	if (l->head == NULL)
		l->tail = NULL;
	l->n--;
	u->next = NULL;
	return u;
}

/* Take u out of l; 1 when it was there. */
static int
list_remove(struct list *l, struct dbq_unit *u)
{
	struct dbq_unit *prev = NULL;
	for (struct dbq_unit *p = l->head; p != NULL; prev = p, p = p->next) {
		if (p != u)
			continue;
		if (prev != NULL)
			prev->next = p->next;
		else
			l->head = p->next;
		if (l->tail == p)
			l->tail = prev;
		l->n--;
		p->next = NULL;
		return 1;
	}
	return 0;
}

struct dbq_unit *
dbq_unit_new(dbq_done_fn *done, void *arg, int flags)
{
	struct dbq_unit *u = calloc(1, sizeof(*u));
	if (u == NULL)
		return NULL;
	u->done = done;
	u->arg = arg;
	u->flags = flags;
	u->to_stmt = -1;
	u->failed_at = -1;
	return u;
}

static void
results_clear(struct dbq_unit *u)
{
	for (int i = 0; u->results != NULL && i < u->nstmts; i++) {
		db_result_free(u->results[i]);
		u->results[i] = NULL;
	}
}

void
dbq_unit_free(struct dbq_unit *u)
{
	if (u == NULL)
		return;
	for (int i = 0; i < u->nitems; i++) {
		for (int k = 0; k < u->items[i].nparams; k++)
			free(u->items[i].params[k]);
		free(u->items[i].params);
	}
	free(u->items);
	results_clear(u);
	free(u->results);
	free(u);
}

static struct item *
item_push(struct dbq_unit *u)
{
	if (u->nitems == u->cap) {
		int cap = u->cap > 0 ? u->cap * 2 : 8;
		struct item *v = realloc(u->items, (size_t)cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		u->items = v;
		u->cap = cap;
	}
	struct item *it = &u->items[u->nitems];
	memset(it, 0, sizeof(*it));
	return it;
}

int
dbq_add(struct dbq_unit *u, const char *sql, int nparams, const char *const *params)
{
	struct item *it = item_push(u);
	if (it == NULL)
		return -1;
	if (nparams > 0 && (it->params = calloc((size_t)nparams, sizeof(char *))) == NULL)
		return -1;
	for (int i = 0; i < nparams; i++) {
		if (params[i] != NULL && (it->params[i] = strdup(params[i])) == NULL) {
			for (int k = 0; k < i; k++)
				free(it->params[k]);
			free(it->params);
			it->params = NULL;
			return -1;
		}
	}
	it->sql = sql;
	it->nparams = nparams;
	u->nitems++;
	u->nstmts++;
	return 0;
}

int
dbq_sync(struct dbq_unit *u)
{
	struct item *it = item_push(u);
	if (it == NULL)
		return -1;
	u->nitems++;
	return 0;
}

void
dbq_unit_deadline(struct dbq_unit *u, long long deadline_ms, int stmt, int param)
{
	u->deadline = deadline_ms;
	u->to_stmt = stmt;
	u->to_param = param;
}

int
dbq_unit_nitems(const struct dbq_unit *u)
{
	return u->nitems;
}

int
dbq_unit_item(const struct dbq_unit *u, int i, const char **sql, int *nparams,
    const char *const **params)
{
	const struct item *it = &u->items[i];
	if (it->sql == NULL)
		return 0;
	*sql = it->sql;
	*nparams = it->nparams;
	*params = (const char *const *)it->params;
	return 1;
}

struct dbqueue *
dbqueue_new(int max_inflight, long long backoff_ms, long long max_backoff_ms)
{
	struct dbqueue *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->max_inflight = max_inflight > 0 ? max_inflight : 1;
	q->base_ms = backoff_ms;
	q->max_ms = max_backoff_ms;
	q->state = DBQ_IDLE;
	return q;
}

void
dbqueue_free(struct dbqueue *q)
{
	if (q == NULL)
		return;
	struct dbq_unit *u;
	while ((u = list_pop(&q->queued)) != NULL)
		dbq_unit_free(u);
	while ((u = list_pop(&q->inflight)) != NULL)
		dbq_unit_free(u);
	free(q);
}

/* Call the unit's callback (unless cancelled) and free it; it is in no list any more. */
static void
finish(struct dbq_unit *u, int lost, int expired)
{
	if (!u->cancelled && u->done != NULL) {
		struct dbq_reply r = {
		    .ok = !lost && !expired && u->failed_at < 0,
		    .lost = lost, .expired = expired, .failed_at = u->failed_at,
		    .err = u->err, .sqlstate = u->sqlstate, .nresults = u->nstmts,
		    .results = u->results};
		u->done(&r, u->arg);
	}
	dbq_unit_free(u);
}

void
dbqueue_submit(struct dbqueue *q, struct dbq_unit *u)
{
	if ((u->nitems == 0 || u->items[u->nitems - 1].sql != NULL) && dbq_sync(u) == -1)
		fatalx("out of memory");
	if (u->results == NULL && u->nstmts > 0 &&
	    (u->results = calloc((size_t)u->nstmts, sizeof(*u->results))) == NULL)
		fatalx("out of memory");
	list_push(&q->queued, u);
}

void
dbqueue_cancel(struct dbqueue *q, struct dbq_unit *u)
{
	if (u == NULL)
		return;
	if (list_remove(&q->queued, u)) {
		dbq_unit_free(u);
		return;
	}
	for (struct dbq_unit *p = q->inflight.head; p != NULL; p = p->next)
		if (p == u)
			u->cancelled = 1;
}

enum dbq_state
dbqueue_state(const struct dbqueue *q)
{
	return q->state;
}

int
dbqueue_queued(const struct dbqueue *q)
{
	return q->queued.n;
}

int
dbqueue_inflight(const struct dbqueue *q)
{
	return q->inflight.n;
}

int
dbqueue_failures(const struct dbqueue *q)
{
	return q->failures;
}

void
dbqueue_connecting(struct dbqueue *q)
{
	q->state = DBQ_CONNECTING;
}

void
dbqueue_connected(struct dbqueue *q)
{
	q->state = DBQ_READY;
	q->failures = 0;
}

/* Back to its state before it was sent. */
static void
unit_rewind(struct dbq_unit *u)
{
	results_clear(u);
	u->recv = 0;
	u->stmt_recv = 0;
	u->failed_at = -1;
	u->err[0] = '\0';
	u->sqlstate[0] = '\0';
}

long long
dbqueue_lost(struct dbqueue *q, const char *why, uint32_t r)
{
	struct list retry = {0}, failed = {0};
	struct dbq_unit *u;
	q->state = DBQ_DOWN;
	q->failures++;
	while ((u = list_pop(&q->inflight)) != NULL) {
		if ((u->flags & DBQ_RETRY) && !u->cancelled) {
			unit_rewind(u);
			list_push(&retry, u);
		} else {
			snprintf(u->err, sizeof(u->err), "%s", why);
			snprintf(u->sqlstate, sizeof(u->sqlstate), "08006");
			list_push(&failed, u);
		}
	}
	/* the retried go out first, in the order they went before */
	if (retry.head != NULL) {
		retry.tail->next = q->queued.head;
		if (q->queued.tail == NULL)
			q->queued.tail = retry.tail;
		q->queued.head = retry.head;
		q->queued.n += retry.n;
	}
	/* last: a callback may queue more */
	while ((u = list_pop(&failed)) != NULL)
		finish(u, 1, 0);
	return backoff_delay(q->base_ms, q->max_ms, q->failures - 1, r);
}

static void
expire(struct dbq_unit *u)
{
	snprintf(u->err, sizeof(u->err), "timed out waiting for the database");
	finish(u, 0, 1);
}

long long
dbqueue_expire(struct dbqueue *q, long long now_ms)
{
	/* gather first: a callback may queue (or cancel) more */
	struct list gone = {0};
	struct dbq_unit *prev = NULL, *u = q->queued.head;
	while (u != NULL) {
		struct dbq_unit *next = u->next;
		if (u->deadline > 0 && u->deadline <= now_ms) {
			if (prev != NULL)
				prev->next = next;
			else
				q->queued.head = next;
			if (q->queued.tail == u)
				q->queued.tail = prev;
			q->queued.n--;
			list_push(&gone, u);
		} else {
			prev = u;
		}
		u = next;
	}
	while ((u = list_pop(&gone)) != NULL)
		expire(u);
	return dbqueue_first_deadline(q);
}

long long
dbqueue_first_deadline(const struct dbqueue *q)
{
	long long first = 0;
	for (const struct dbq_unit *u = q->queued.head; u != NULL; u = u->next)
		if (u->deadline > 0 && (first == 0 || u->deadline < first))
			first = u->deadline;
	return first;
}

struct dbq_unit *
dbqueue_next(struct dbqueue *q, long long now_ms)
{
	while (q->state == DBQ_READY && q->inflight.n < q->max_inflight) {
		struct dbq_unit *u = list_pop(&q->queued);
		if (u == NULL)
			return NULL;
		if (u->deadline > 0 && u->deadline <= now_ms) {
			expire(u);
			continue;
		}
		if (u->to_stmt >= 0) {
			/* the statement's parameter: the milliseconds left as it goes out */
			int s = -1;
			for (int i = 0; i < u->nitems; i++) {
				struct item *it = &u->items[i];
				if (it->sql == NULL || ++s != u->to_stmt || u->to_param >= it->nparams)
					continue;
				char left[24];
				snprintf(left, sizeof(left), "%lld", u->deadline - now_ms);
				char *p = strdup(left);
				if (p == NULL)
					fatalx("out of memory");
				free(it->params[u->to_param]);
				it->params[u->to_param] = p;
			}
		}
		unit_rewind(u);
		list_push(&q->inflight, u);
		return u;
	}
	return NULL;
}

int
dbqueue_result(struct dbqueue *q, enum dbq_result_kind kind, struct db_result *res,
    const char *err, const char *sqlstate)
{
	struct dbq_unit *u = q->inflight.head;
	if (u == NULL || u->recv >= u->nitems) {
		db_result_free(res);
		return -1;
	}
	struct item *it = &u->items[u->recv];
	if ((it->sql == NULL) != (kind == DBQ_R_SYNC)) {
		db_result_free(res);
		return -1;
	}
	u->recv++;
	if (kind == DBQ_R_SYNC) {
		if (u->recv == u->nitems)
			finish(list_pop(&q->inflight), 0, 0);
		return 0;
	}
	int s = u->stmt_recv++;
	if (kind == DBQ_R_OK && !u->cancelled) {
		u->results[s] = res;
		return 0;
	}
	db_result_free(res);
	if (kind == DBQ_R_ERROR && u->failed_at < 0) {
		u->failed_at = s;
		snprintf(u->err, sizeof(u->err), "%s", err != NULL ? err : "failed");
		snprintf(u->sqlstate, sizeof(u->sqlstate), "%s", sqlstate != NULL ? sqlstate : "");
	}
	return 0;
}
