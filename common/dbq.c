/*
 * dbq: libpq's asynchronous interface on a libevent loop. PQconnectStartParams
 * and PQconnectPoll while connecting; then nonblocking pipeline mode:
 * PQsendQueryParams and PQpipelineSync for each unit dbqueue hands out,
 * PQflush until the output is gone (EV_WRITE meanwhile), PQconsumeInput and
 * PQgetResult while not PQisBusy on EV_READ. Every result goes to dbqueue,
 * which matches it to its unit. A loss (or a connection out of step) closes
 * the connection; one timer wakes the loop for the next attempt, a connection
 * attempt that takes too long, and the deadlines of queued units.
 *
 * Each statement is prepared on the connection at its first use (common/stmtcache:
 * a Parse under a name of its own, pipelined just before the first execution) and
 * executed by name afterwards: the server parses and plans it once per connection
 * instead of at every execution. What was sent is remembered in order (a prepare,
 * a statement, a sync) so that a prepare's answer is taken here and never reaches
 * dbqueue; a prepare that fails gives its error to the statement after it.
 *
 * Callbacks run from inside the handlers here; what they ask (a new unit) is
 * sent once the handler is done with the connection.
 */
#include "common/dbq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/db_pg.h"
#include "common/evloop.h"
#include "common/log.h"
#include "common/stmtcache.h"

#define DBQ_CONNECT_TIMEOUT_MS 10000
#define DBQ_BACKOFF_MS DB_RETRY_BASE_MS
#define DBQ_MAX_BACKOFF_MS DB_RETRY_MAX_MS
#define DBQ_STATEMENTS 64 /* prepared per connection, at most */

/* What was sent, in order: each answer belongs to the oldest not yet answered. */
enum sent_kind { SENT_PREPARE, SENT_QUERY, SENT_SYNC };
struct sent {
	enum sent_kind kind;
	const char *sql;  /* SENT_PREPARE, and SENT_QUERY by name: the statement */
	int named;
};

struct dbq {
	struct event_base *base;
	struct dbqueue *qs;
	const char *conninfo;
	char what[48];
	PGconn *conn;
	struct event *io;
	int io_fd;
	short io_flags;
	struct event *timer;
	struct event *kick;       /* sends what was submitted, from the loop */
	long long retry_at;       /* DOWN: the next attempt */
	long long connect_until;  /* CONNECTING: given up then */
	long long down_since;     /* the outage began (0: none) */
	unsigned connects;
	int in_handler;           /* inside one of our handlers: sends wait until it is done */
	int kick_later;
	void (*ready_cb)(void *arg);
	void *ready_arg;
	struct stmtcache *stmts;
	struct sent *sent;        /* a ring: sent_head, sent_len of sent_cap */
	int sent_head, sent_len, sent_cap;
	int head_answered;        /* the oldest sent statement has had a result */
	char prep_err[1024];      /* a failed prepare's error, for the statement after it */
	char prep_state[6];
};

static void dbq_kick(struct dbq *q);
static void timer_cb(evutil_socket_t fd, short what, void *arg);
static void kick_cb(evutil_socket_t fd, short what, void *arg);

struct dbq *
dbq_new(struct event_base *base, const char *conninfo, const char *what, int max_inflight)
{
	struct dbq *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->base = base;
	q->conninfo = conninfo != NULL ? conninfo : "";
	snprintf(q->what, sizeof(q->what), "%s", what);
	q->io_fd = -1;
	q->qs = dbqueue_new(max_inflight, DBQ_BACKOFF_MS, DBQ_MAX_BACKOFF_MS);
	q->timer = evtimer_new(base, timer_cb, q);
	q->kick = event_new(base, -1, 0, kick_cb, q);
	q->stmts = stmtcache_new(DBQ_STATEMENTS);
	if (q->qs == NULL || q->timer == NULL || q->kick == NULL || q->stmts == NULL) {
		dbq_free(q);
		return NULL;
	}
	return q;
}

static void
unwatch(struct dbq *q)
{
	evloop_event_free(q->io);
	q->io = NULL;
	q->io_fd = -1;
	q->io_flags = 0;
}

void
dbq_free(struct dbq *q)
{
	if (q == NULL)
		return;
	unwatch(q);
	evloop_event_free(q->timer);
	evloop_event_free(q->kick);
	if (q->conn != NULL)
		PQfinish(q->conn);
	dbqueue_free(q->qs);
	stmtcache_free(q->stmts);
	free(q->sent);
	free(q);
}

/* Remember what was just sent; 0, or -1 out of memory. */
static int
sent_push(struct dbq *q, enum sent_kind kind, const char *sql, int named)
{
	if (q->sent_len == q->sent_cap) {
		int cap = q->sent_cap > 0 ? q->sent_cap * 2 : 64;
		struct sent *v = malloc((size_t)cap * sizeof(*v));
		if (v == NULL)
			return -1;
		for (int i = 0; i < q->sent_len; i++)
			v[i] = q->sent[(q->sent_head + i) % q->sent_cap];
		free(q->sent);
		q->sent = v;
		q->sent_cap = cap;
		q->sent_head = 0;
	}
	q->sent[(q->sent_head + q->sent_len) % q->sent_cap] = (struct sent){kind, sql, named};
	q->sent_len++;
	return 0;
}

static struct sent *
sent_oldest(struct dbq *q)
{
	return q->sent_len > 0 ? &q->sent[q->sent_head] : NULL;
}

static void
sent_pop(struct dbq *q)
{
	if (q->sent_len == 0)
		return;
	q->sent_head = (q->sent_head + 1) % q->sent_cap;
	q->sent_len--;
	q->head_answered = 0;
}

/* Forget what was sent on a connection that is gone, and what it had prepared. */
static void
sent_clear(struct dbq *q)
{
	q->sent_head = q->sent_len = 0;
	q->head_answered = 0;
	q->prep_err[0] = '\0';
	stmtcache_reset(q->stmts);
}

void
dbq_set_ready_cb(struct dbq *q, void (*cb)(void *arg), void *arg)
{
	q->ready_cb = cb;
	q->ready_arg = arg;
}

enum dbq_state dbq_state(const struct dbq *q) { return dbqueue_state(q->qs); }
int dbq_queued(const struct dbq *q) { return dbqueue_queued(q->qs); }
int dbq_inflight(const struct dbq *q) { return dbqueue_inflight(q->qs); }
unsigned dbq_connects(const struct dbq *q) { return q->connects; }

static void io_cb(evutil_socket_t fd, short what, void *arg);

/* Watch the connection's socket for flags (EV_PERSIST is added). */
static void
watch(struct dbq *q, short flags)
{
	int fd = q->conn != NULL ? PQsocket(q->conn) : -1;
	if (q->io != NULL && fd == q->io_fd && flags == q->io_flags)
		return;
	unwatch(q);
	if (fd < 0)
		return;
	q->io = event_new(q->base, fd, flags | EV_PERSIST, io_cb, q);
	if (q->io == NULL || event_add(q->io, NULL) == -1)
		fatalx("%s: cannot watch the connection's socket", q->what);
	q->io_fd = fd;
	q->io_flags = flags;
}

/* The timer, for whichever comes first: the next attempt, a connect that takes too long,
 * a queued unit's deadline. */
static void
arm_timer(struct dbq *q)
{
	long long next = dbqueue_first_deadline(q->qs);
	enum dbq_state st = dbqueue_state(q->qs);
	if (st == DBQ_DOWN && (next == 0 || q->retry_at < next))
		next = q->retry_at;
	if (st == DBQ_CONNECTING && (next == 0 || q->connect_until < next))
		next = q->connect_until;
	if (next == 0) {
		evtimer_del(q->timer);
		return;
	}
	long long ms = next - clock_mono_ms();
	if (ms < 0)
		ms = 0;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(q->timer, &tv);
}

/* The connection failed or was lost: close it, answer or requeue what was in flight. */
static void
lost(struct dbq *q, const char *why)
{
	int was_ready = dbqueue_state(q->qs) == DBQ_READY;
	unwatch(q);
	if (q->conn != NULL)
		PQfinish(q->conn);
	q->conn = NULL;
	sent_clear(q);
	uint32_t r = 0;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)clock_mono_ms();
	int inflight = dbqueue_inflight(q->qs);
	long long delay = dbqueue_lost(q->qs, why, r);
	q->retry_at = clock_mono_ms() + delay;
	if (q->down_since == 0) {
		q->down_since = clock_mono_ms();
		log_warnx("%s: %s%s; %d requests in flight, %d waiting; reconnecting with back-off",
		    q->what, was_ready ? "connection lost: " : "cannot connect: ", why, inflight,
		    dbqueue_queued(q->qs));
	} else {
		log_debug("%s: attempt %d failed: %s; next in %lld ms", q->what,
		    dbqueue_failures(q->qs), why, delay);
	}
	arm_timer(q);
}

static void
lost_conn(struct dbq *q, const char *what)
{
	char msg[1024];
	db_pg_flatten(msg, sizeof(msg), q->conn != NULL ? PQerrorMessage(q->conn) : "");
	char why[1200];
	snprintf(why, sizeof(why), "%s%s%s", what, msg[0] != '\0' ? ": " : "", msg);
	lost(q, why);
}

static void
connected(struct dbq *q)
{
	if (PQsetnonblocking(q->conn, 1) != 0 || PQenterPipelineMode(q->conn) != 1) {
		lost_conn(q, "pipeline mode");
		return;
	}
	PQsetNoticeProcessor(q->conn, db_pg_notice, NULL);
	dbqueue_connected(q->qs);
	q->connects++;
	if (q->down_since != 0)
		log_notice("%s: connection re-opened after %.1f s", q->what,
		    (double)(clock_mono_ms() - q->down_since) / 1000.0);
	q->down_since = 0;
	watch(q, EV_READ);
	arm_timer(q);
	q->kick_later = 1; /* what waited goes now */
	if (q->ready_cb != NULL)
		q->ready_cb(q->ready_arg);
}

/* One step of PQconnectPoll. */
static void
connect_step(struct dbq *q, PostgresPollingStatusType st)
{
	switch (st) {
	case PGRES_POLLING_READING:
		watch(q, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		watch(q, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		connected(q);
		return;
	default:
		lost_conn(q, "connect");
		return;
	}
}

static void
start_connect(struct dbq *q)
{
	const char *keys[7], *vals[7];
	struct db_target t = {.conninfo = q->conninfo};
	db_pg_params(&t, keys, vals);
	q->conn = PQconnectStartParams(keys, vals, 1);
	if (q->conn == NULL)
		fatalx("out of memory");
	dbqueue_connecting(q->qs);
	q->connect_until = clock_mono_ms() + DBQ_CONNECT_TIMEOUT_MS;
	if (PQstatus(q->conn) == CONNECTION_BAD) {
		lost_conn(q, "connect");
		return;
	}
	arm_timer(q);
	connect_step(q, PGRES_POLLING_WRITING);
}

/* Send what dbqueue lets go now, then flush. */
static void
send_more(struct dbq *q)
{
	struct dbq_unit *u;
	int sent = 0;
	while ((u = dbqueue_next(q->qs, clock_mono_ms())) != NULL) {
		sent++;
		for (int i = 0; i < dbq_unit_nitems(u); i++) {
			const char *sql;
			int n;
			const char *const *p;
			int ok;
			if (dbq_unit_item(u, i, &sql, &n, &p)) {
				const char *name;
				switch (stmtcache_use(q->stmts, sql, &name)) {
				case STMT_PREPARE:
					ok = PQsendPrepare(q->conn, name, sql, n, NULL) &&
					    sent_push(q, SENT_PREPARE, sql, 1) == 0 &&
					    PQsendQueryPrepared(q->conn, name, n, p, NULL, NULL, 0) &&
					    sent_push(q, SENT_QUERY, sql, 1) == 0;
					break;
				case STMT_PREPARED:
					ok = PQsendQueryPrepared(q->conn, name, n, p, NULL, NULL, 0) &&
					    sent_push(q, SENT_QUERY, sql, 1) == 0;
					break;
				default:
					ok = PQsendQueryParams(q->conn, sql, n, NULL, p, NULL, NULL, 0) &&
					    sent_push(q, SENT_QUERY, sql, 0) == 0;
					break;
				}
			} else {
				ok = PQpipelineSync(q->conn) && sent_push(q, SENT_SYNC, NULL, 0) == 0;
			}
			if (!ok) {
				lost_conn(q, "send");
				return;
			}
		}
	}
	if (sent == 0 && !(q->io_flags & EV_WRITE))
		return;
	int r = PQflush(q->conn);
	if (r == -1) {
		lost_conn(q, "send");
		return;
	}
	watch(q, r == 1 ? EV_READ | EV_WRITE : EV_READ);
}

/* The answer to one of our prepares: ours, not dbqueue's; a failure is told with the
 * statement it was for. 0, or -1 when the connection was dropped. */
static int
prepare_answered(struct dbq *q, const struct sent *head, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK) {
		stmtcache_prepared(q->stmts, head->sql);
	} else if (st == PGRES_PIPELINE_ABORTED) {
		stmtcache_forget(q->stmts, head->sql);
	} else {
		db_pg_error(q->conn, r, q->prep_err, sizeof(q->prep_err), q->prep_state);
		stmtcache_failed(q->stmts, head->sql);
		if (PQstatus(q->conn) == CONNECTION_BAD) {
			PQclear(r);
			lost(q, q->prep_err);
			return -1;
		}
	}
	PQclear(r);
	return 0;
}

/* One result of a statement or sync, to dbqueue (r is taken). 0, or -1 when the
 * connection was dropped. */
static int
hand_result(struct dbq *q, const struct sent *head, PGresult *r)
{
	int rc;
	switch (PQresultStatus(r)) {
	case PGRES_PIPELINE_SYNC:
		PQclear(r);
		q->prep_err[0] = '\0';
		if (head->kind != SENT_SYNC) {
			lost(q, "a sync answered where a statement was expected");
			return -1;
		}
		sent_pop(q);
		rc = dbqueue_result(q->qs, DBQ_R_SYNC, NULL, NULL, NULL);
		break;
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY: {
		struct db_result *res = db_pg_result(r);
		if (res == NULL)
			fatalx("out of memory");
		rc = dbqueue_result(q->qs, DBQ_R_OK, res, NULL, NULL);
		break;
	}
	case PGRES_PIPELINE_ABORTED:
		PQclear(r);
		if (q->prep_err[0] != '\0') {
			/* its prepare failed: that error is this statement's */
			rc = dbqueue_result(q->qs, DBQ_R_ERROR, NULL, q->prep_err, q->prep_state);
			q->prep_err[0] = '\0';
			break;
		}
		rc = dbqueue_result(q->qs, DBQ_R_ABORTED, NULL, NULL, NULL);
		break;
	default: {
		char msg[1024], state[6];
		db_pg_error(q->conn, r, msg, sizeof(msg), state);
		PQclear(r);
		if (PQstatus(q->conn) == CONNECTION_BAD) {
			lost(q, msg);
			return -1;
		}
		/* the name is gone or its plan no longer fits (the schema changed under it):
		 * the statement goes unnamed from now on */
		if (head->named && (strcmp(state, "26000") == 0 || strcmp(state, "0A000") == 0))
			stmtcache_failed(q->stmts, head->sql);
		rc = dbqueue_result(q->qs, DBQ_R_ERROR, NULL, msg, state);
		break;
	}
	}
	if (rc == -1) {
		lost(q, "the connection's answers are out of step with what was sent");
		return -1;
	}
	return 0;
}

/* Hand every result that is in to dbqueue. 0, or -1 when the connection was dropped. */
static int
read_results(struct dbq *q)
{
	int nulls = 0;
	while (q->conn != NULL && !PQisBusy(q->conn)) {
		PGresult *r = PQgetResult(q->conn);
		struct sent *head = sent_oldest(q);
		if (r == NULL) {
			/* one ends a statement's results; a second: nothing more is in */
			if (head != NULL && head->kind != SENT_SYNC && q->head_answered)
				sent_pop(q);
			if (++nulls >= 2)
				break;
			continue;
		}
		nulls = 0;
		if (head == NULL) {
			PQclear(r);
			lost(q, "an answer came for nothing that was sent");
			return -1;
		}
		q->head_answered = 1;
		int rc = head->kind == SENT_PREPARE ? prepare_answered(q, head, r) : hand_result(q, head, r);
		if (rc == -1)
			return -1;
	}
	return 0;
}

static void
handler_enter(struct dbq *q)
{
	q->in_handler++;
}

static void
handler_leave(struct dbq *q)
{
	if (--q->in_handler == 0 && q->kick_later) {
		q->kick_later = 0;
		dbq_kick(q);
	}
}

static void
io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dbq *q = arg;
	(void)fd;
	handler_enter(q);
	if (dbqueue_state(q->qs) == DBQ_CONNECTING) {
		connect_step(q, PQconnectPoll(q->conn));
		handler_leave(q);
		return;
	}
	if (q->conn == NULL) {
		handler_leave(q);
		return;
	}
	if ((what & EV_WRITE) != 0) {
		int r = PQflush(q->conn);
		if (r == -1) {
			lost_conn(q, "send");
			handler_leave(q);
			return;
		}
		watch(q, r == 1 ? EV_READ | EV_WRITE : EV_READ);
	}
	if ((what & EV_READ) != 0) {
		if (!PQconsumeInput(q->conn)) {
			lost_conn(q, "read");
		} else if (read_results(q) == 0 && PQstatus(q->conn) == CONNECTION_BAD) {
			lost_conn(q, "read");
		}
	}
	q->kick_later = 1;
	handler_leave(q);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dbq *q = arg;
	(void)fd;
	(void)what;
	handler_enter(q);
	long long now = clock_mono_ms();
	enum dbq_state st = dbqueue_state(q->qs);
	dbqueue_expire(q->qs, now);
	if (st == DBQ_CONNECTING && now >= q->connect_until)
		lost(q, "connection attempt timed out");
	else if (st == DBQ_DOWN && now >= q->retry_at)
		start_connect(q);
	arm_timer(q);
	handler_leave(q);
}

static void
dbq_kick(struct dbq *q)
{
	if (q->in_handler > 0) {
		q->kick_later = 1;
		return;
	}
	handler_enter(q);
	switch (dbqueue_state(q->qs)) {
	case DBQ_IDLE:
		start_connect(q);
		break;
	case DBQ_READY:
		send_more(q);
		break;
	default:
		break;
	}
	arm_timer(q);
	q->kick_later = 0;
	handler_leave(q);
}

void
dbq_connect(struct dbq *q)
{
	if (dbqueue_state(q->qs) == DBQ_IDLE)
		dbq_kick(q);
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dbq_kick(arg);
}

void
dbq_submit(struct dbq *q, struct dbq_unit *u)
{
	dbqueue_submit(q->qs, u);
	if (q->in_handler > 0) {
		q->kick_later = 1;
		return;
	}
	/* from the loop: no callback runs inside dbq_submit, and what is submitted in
	 * one turn of the loop goes out together */
	event_active(q->kick, EV_TIMEOUT, 0);
}

void
dbq_cancel(struct dbq *q, struct dbq_unit *u)
{
	dbqueue_cancel(q->qs, u);
}
