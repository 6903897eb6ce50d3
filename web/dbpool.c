/*
 * pool: each connection is a small state machine driven by events on its socket and
 * one timer (connect deadline, then re-open backoff): down -> connecting -> setup ->
 * idle <-> busy, or -> listening for the LISTEN connection. A lost connection is closed
 * and started again after a pause; the statement it carried is sent once more on
 * another (the pages' statements only read), or fails (a pool of dbpool_once, whose
 * statements write).
 */
#include "web/dbpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event_struct.h>

#include "common/clock.h"
#include "common/log.h"

enum cstate { C_DOWN, C_CONNECTING, C_SETUP, C_IDLE, C_BUSY, C_LISTENING };

struct pq {
	const char *sql;
	int nparams;
	char *params[DBPOOL_MAX_PARAMS];
	dbpool_cb *cb;
	void *arg;
	int tries;
	long long queued_at; /* clock_mono_ms */
	struct pq *next;
};

struct pconn {
	struct dbpool *p;
	struct db *db;
	enum cstate state;
	int step;        /* setup: 0 the setup statement, then 1..n LISTEN channel n-1 */
	int flushing;    /* a statement is still being written */
	int io_added;
	int listener;
	int backoff_ms;
	int warned;      /* its loss was logged: quiet until it is up again */
	struct event io;
	struct event timer;
	struct pq *q;    /* the statement in flight */
};

struct dbpool {
	struct event_base *base;
	char *target[4];     /* conninfo, host, port, user (NULL: not given) */
	char *setup_sql;
	int nsetup;
	char *setup[DBPOOL_MAX_PARAMS];
	int size;
	struct pconn *conns;
	struct pconn *lc; /* the LISTEN connection, or NULL */
	char **channels;
	int nchannels;
	dbpool_notify_cb *notify;
	dbpool_up_cb *up;
	void *arg;
	struct pq *head, *tail;
	int queued;
	int once;         /* statements write: never sent a second time */
};

static void on_io(evutil_socket_t fd, short what, void *arg);
static void conn_fail(struct pconn *c, const char *why);
static void dispatch(struct dbpool *p);

static void
pq_free(struct pq *q)
{
	if (q == NULL)
		return;
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q);
}

static void
wait_io(struct pconn *c, short what)
{
	if (c->io_added)
		event_del(&c->io);
	event_assign(&c->io, c->p->base, db_socket(c->db), what, on_io, c);
	c->io_added = event_add(&c->io, NULL) == 0;
	if (!c->io_added)
		conn_fail(c, "event_add failed");
}

static void
timer_in(struct pconn *c, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_del(&c->timer);
	evtimer_add(&c->timer, &tv);
}

static int
live(const struct pconn *c)
{
	return c->state != C_DOWN;
}

static int
any_live(const struct dbpool *p)
{
	for (int i = 0; i < p->size; i++)
		if (live(&p->conns[i]))
			return 1;
	return 0;
}

/* Nothing can answer now: every waiting statement fails. */
static void
fail_queue(struct dbpool *p, const char *why)
{
	char msg[600];
	snprintf(msg, sizeof(msg), "database unavailable: %s", why);
	while (p->head != NULL) {
		struct pq *q = p->head;
		p->head = q->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->queued--;
		q->cb(q->arg, NULL, msg);
		pq_free(q);
	}
}

/*
 * Statements that waited longer than a connection may take to come up fail: while the
 * connections keep failing (a role refused, say) one of them may always be on its way,
 * and nothing would ever answer them.
 */
static void
expire_queue(struct dbpool *p, const char *why)
{
	long long now = clock_mono_ms();
	char msg[600];
	snprintf(msg, sizeof(msg), "database unavailable: %s", why);
	for (struct pq **pp = &p->head; *pp != NULL;) {
		struct pq *q = *pp;
		long long waited = now - q->queued_at;
		if (waited < DBPOOL_CONNECT_MS) {
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		if (p->tail == q) {
			p->tail = NULL;
			for (struct pq *t = p->head; t != NULL; t = t->next)
				p->tail = t;
		}
		p->queued--;
		q->cb(q->arg, NULL, msg);
		pq_free(q);
	}
}

static void
push_front(struct dbpool *p, struct pq *q)
{
	q->next = p->head;
	p->head = q;
	if (p->tail == NULL)
		p->tail = q;
	p->queued++;
}

/* Send on c; on a failure the connection is given up (and q, if any, re-queued). */
static void
conn_send(struct pconn *c, const char *sql, int n, const char *const *params)
{
	char err[1024];
	int rc = db_send(c->db, sql, n, params, err, sizeof(err));
	if (rc == -1) {
		conn_fail(c, err);
		return;
	}
	c->flushing = rc == DB_WANT_WRITE;
	wait_io(c, c->flushing ? EV_WRITE : EV_READ);
}

static void
setup_step(struct pconn *c)
{
	struct dbpool *p = c->p;
	if (c->step == 0) {
		conn_send(c, p->setup_sql, p->nsetup, (const char *const *)p->setup);
		return;
	}
	/* a validated channel name (db_check_channel), quoted: no data in this text */
	char sql[96];
	snprintf(sql, sizeof(sql), "LISTEN \"%s\"", p->channels[c->step - 1]);
	conn_send(c, sql, 0, NULL);
}

static void
conn_start(struct pconn *c)
{
	char err[1024];
	struct db_target t = {.conninfo = c->p->target[0], .host = c->p->target[1],
	    .port = c->p->target[2], .user = c->p->target[3]};
	c->db = db_open_start(&t, err, sizeof(err));
	if (c->db == NULL) {
		conn_fail(c, err);
		return;
	}
	c->state = C_CONNECTING;
	timer_in(c, DBPOOL_CONNECT_MS);
	/* libpq: after PQconnectStart, wait for the socket to be writable, then poll */
	wait_io(c, EV_WRITE);
}

static void
conn_fail(struct pconn *c, const char *why)
{
	struct dbpool *p = c->p;
	struct pq *q = c->q;

	if (!c->warned)
		log_warnx("database connection%s lost: %s", c->listener ? " (LISTEN)" : "", why);
	c->warned = 1;
	if (c->io_added)
		event_del(&c->io);
	c->io_added = 0;
	db_close(c->db);
	c->db = NULL;
	c->state = C_DOWN;
	c->flushing = 0;
	c->q = NULL;
	timer_in(c, c->backoff_ms);
	c->backoff_ms = c->backoff_ms * 2 > DBPOOL_BACKOFF_MAX_MS ? DBPOOL_BACKOFF_MAX_MS : c->backoff_ms * 2;
	if (q != NULL) {
		if (q->tries++ == 0 && !p->once)
			push_front(p, q);
		else {
			char msg[700];
			snprintf(msg, sizeof(msg), "database: %s%s", why, p->once ? " (the connection was lost "
			    "while the statement ran: it may or may not have been done)" : "");
			q->cb(q->arg, NULL, msg);
			pq_free(q);
		}
	}
	if (!c->listener) {
		if (!any_live(p))
			fail_queue(p, why);
		else {
			expire_queue(p, why);
			dispatch(p);
		}
	}
}

static void
conn_ready(struct pconn *c)
{
	c->state = c->listener ? C_LISTENING : C_IDLE;
	c->backoff_ms = DBPOOL_BACKOFF_MS;
	c->warned = 0;
	evtimer_del(&c->timer);
	/* idle: readable means the server went away (or a notice); listening: notifications */
	if (c->io_added)
		event_del(&c->io);
	event_assign(&c->io, c->p->base, db_socket(c->db), EV_READ | EV_PERSIST, on_io, c);
	c->io_added = event_add(&c->io, NULL) == 0;
	if (c->listener) {
		if (c->p->up != NULL)
			c->p->up(c->p->arg);
	} else
		dispatch(c->p);
}

static void
on_notify(const char *channel, const char *payload, void *arg)
{
	struct dbpool *p = arg;
	if (p->notify != NULL)
		p->notify(p->arg, channel, payload);
}

static void
ignore_notify(const char *channel, const char *payload, void *arg)
{
	(void)channel;
	(void)payload;
	(void)arg;
}

/* The statement in flight on c ended: res, or err. */
static void
statement_done(struct pconn *c, int rc, struct db_result *res, const char *err)
{
	if (c->state == C_SETUP) {
		db_result_free(res);
		if (rc == -1) {
			conn_fail(c, err);
			return;
		}
		if (c->listener && c->step < c->p->nchannels) {
			c->step++;
			setup_step(c);
			return;
		}
		conn_ready(c);
		return;
	}
	struct pq *q = c->q;
	c->q = NULL;
	if (rc == -1 && !db_connected(c->db)) {
		c->q = q;
		conn_fail(c, err);
		return;
	}
	conn_ready(c);
	q->cb(q->arg, res, rc == -1 ? err : NULL);
	pq_free(q);
}

static void
on_io(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *c = arg;
	char err[1024];
	struct db_result *res = NULL;
	int rc;
	(void)fd;
	(void)what;

	switch (c->state) {
	case C_CONNECTING:
		rc = db_open_poll(c->db, err, sizeof(err));
		if (rc == -1)
			conn_fail(c, err);
		else if (rc > 0)
			wait_io(c, rc == DB_WANT_READ ? EV_READ : EV_WRITE);
		else {
			c->state = C_SETUP;
			c->step = 0;
			setup_step(c);
		}
		return;
	case C_SETUP:
	case C_BUSY:
		if (c->flushing) {
			rc = db_flush(c->db, err, sizeof(err));
			if (rc == -1)
				conn_fail(c, err);
			else {
				c->flushing = rc == DB_WANT_WRITE;
				wait_io(c, c->flushing ? EV_WRITE : EV_READ);
			}
			return;
		}
		rc = db_receive(c->db, &res, err, sizeof(err));
		if (rc == DB_WANT_READ) {
			wait_io(c, EV_READ);
			return;
		}
		statement_done(c, rc, res, err);
		return;
	case C_IDLE:
		if (db_consume_notifies(c->db, ignore_notify, NULL, err, sizeof(err)) == -1)
			conn_fail(c, "the server closed the connection");
		return;
	case C_LISTENING:
		if (db_consume_notifies(c->db, on_notify, c->p, err, sizeof(err)) == -1)
			conn_fail(c, "the server closed the connection");
		return;
	case C_DOWN:
		return;
	}
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *c = arg;
	(void)fd;
	(void)what;
	if (c->state == C_DOWN)
		conn_start(c);
	else if (c->state == C_CONNECTING || c->state == C_SETUP)
		conn_fail(c, "not connected within the connect deadline");
}

static void
dispatch(struct dbpool *p)
{
	for (int i = 0; i < p->size && p->head != NULL; i++) {
		struct pconn *c = &p->conns[i];
		if (c->state != C_IDLE)
			continue;
		struct pq *q = p->head;
		p->head = q->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->queued--;
		q->next = NULL;
		c->q = q;
		c->state = C_BUSY;
		conn_send(c, q->sql, q->nparams, (const char *const *)q->params);
	}
}

static void
conn_init(struct dbpool *p, struct pconn *c, int listener)
{
	c->p = p;
	c->listener = listener;
	c->state = C_DOWN;
	c->backoff_ms = DBPOOL_BACKOFF_MS;
	evtimer_assign(&c->timer, p->base, on_timer, c);
}

struct dbpool *
dbpool_new(struct event_base *base, const struct db_target *target, int size,
    const char *setup_sql, int nsetup, const char *const *setup_params)
{
	if (size < 1 || size > 32 || nsetup < 0 || nsetup > DBPOOL_MAX_PARAMS || setup_sql == NULL)
		return NULL;
	struct dbpool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->base = base;
	p->size = size;
	p->nsetup = nsetup;
	const char *tv[4] = {target->conninfo != NULL ? target->conninfo : "", target->host,
	    target->port, target->user};
	int bad = 0;
	for (int i = 0; i < 4; i++)
		if (tv[i] != NULL && (p->target[i] = strdup(tv[i])) == NULL)
			bad = 1;
	p->setup_sql = strdup(setup_sql);
	p->conns = calloc((size_t)size, sizeof(*p->conns));
	bad = bad || p->setup_sql == NULL || p->conns == NULL;
	for (int i = 0; i < nsetup && !bad; i++)
		if (setup_params[i] != NULL && (p->setup[i] = strdup(setup_params[i])) == NULL)
			bad = 1;
	if (bad) {
		dbpool_free(p);
		return NULL;
	}
	for (int i = 0; i < size; i++) {
		conn_init(p, &p->conns[i], 0);
		conn_start(&p->conns[i]);
	}
	return p;
}

static void
conn_end(struct pconn *c)
{
	if (c->io_added)
		event_del(&c->io);
	evtimer_del(&c->timer);
	db_close(c->db);
	pq_free(c->q);
}

void
dbpool_free(struct dbpool *p)
{
	if (p == NULL)
		return;
	for (int i = 0; p->conns != NULL && i < p->size; i++)
		conn_end(&p->conns[i]);
	if (p->lc != NULL) {
		conn_end(p->lc);
		free(p->lc);
	}
	while (p->head != NULL) {
		struct pq *q = p->head;
		p->head = q->next;
		pq_free(q);
	}
	for (int i = 0; i < p->nchannels; i++)
		free(p->channels[i]);
	free(p->channels);
	for (int i = 0; i < p->nsetup; i++)
		free(p->setup[i]);
	free(p->conns);
	for (int i = 0; i < 4; i++)
		free(p->target[i]);
	free(p->setup_sql);
	free(p);
}

void
dbpool_once(struct dbpool *p)
{
	p->once = 1;
}

int
dbpool_query(struct dbpool *p, const char *sql, int nparams, const char *const *params, dbpool_cb *cb,
    void *arg, char *err, size_t errlen)
{
	if (nparams < 0 || nparams > DBPOOL_MAX_PARAMS) {
		snprintf(err, errlen, "too many parameters");
		return -1;
	}
	if (p->queued >= DBPOOL_MAX_QUEUE) {
		snprintf(err, errlen, "too many queries waiting for the database");
		return -1;
	}
	if (!any_live(p)) {
		snprintf(err, errlen, "database unavailable (reconnecting)");
		return -1;
	}
	struct pq *q = calloc(1, sizeof(*q));
	if (q == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	q->sql = sql;
	q->cb = cb;
	q->arg = arg;
	q->queued_at = clock_mono_ms();
	for (int i = 0; i < nparams; i++) {
		if (params[i] != NULL && (q->params[i] = strdup(params[i])) == NULL) {
			pq_free(q);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		q->nparams = i + 1;
	}
	q->nparams = nparams;
	if (p->tail != NULL)
		p->tail->next = q;
	else
		p->head = q;
	p->tail = q;
	p->queued++;
	dispatch(p);
	return 0;
}

int
dbpool_listen(struct dbpool *p, const char *const *channels, int nchannels, dbpool_notify_cb *notify,
    dbpool_up_cb *up, void *arg, char *err, size_t errlen)
{
	if (p->lc != NULL || nchannels < 1) {
		snprintf(err, errlen, "dbpool_listen: called twice or without a channel");
		return -1;
	}
	for (int i = 0; i < nchannels; i++)
		if (db_check_channel(channels[i], err, errlen) == -1)
			return -1;
	p->channels = calloc((size_t)nchannels, sizeof(*p->channels));
	p->lc = calloc(1, sizeof(*p->lc));
	if (p->lc != NULL)
		conn_init(p, p->lc, 1);
	if (p->channels == NULL || p->lc == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < nchannels; i++) {
		if ((p->channels[i] = strdup(channels[i])) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		p->nchannels = i + 1;
	}
	p->notify = notify;
	p->up = up;
	p->arg = arg;
	conn_start(p->lc);
	return 0;
}

int
dbpool_up(const struct dbpool *p)
{
	int n = 0;
	for (int i = 0; i < p->size; i++)
		n += p->conns[i].state == C_IDLE || p->conns[i].state == C_BUSY;
	return n;
}
