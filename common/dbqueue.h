/*
 * dbqueue: the state machine of one asynchronous database connection, without
 * any I/O: units of work wait in a queue, go out in order while the connection
 * is up, and their results come back in the order they went; a lost connection
 * fails the units in flight (or puts those marked DBQ_RETRY back at the head of
 * the queue) and the connection is tried again after a back-off. common/dbq.c
 * drives it with libpq and libevent; the unit tests drive it directly.
 *
 * A unit is a few statements sent together in pipeline mode, in segments
 * closed by a Sync: the statements of one segment are one transaction (an
 * implicit one unless the segment says BEGIN), an error skips the rest of its
 * segment only, and the unit ends with its last Sync. A unit must leave no
 * transaction open: one that says BEGIN ends with a segment that says ROLLBACK
 * or COMMIT.
 *
 * Ownership: a unit is the caller's from dbq_unit_new until it is submitted
 * (or dbq_unit_free), then the queue's, which frees it after its callback
 * returned, or at once when it is cancelled. SQL text is kept by pointer (a
 * constant); parameters are copied. A reply and the results in it live during
 * the callback only. dbqueue_new's queue is freed by dbqueue_free, which frees
 * every unit still held without calling back.
 */
#ifndef PGFLEET_DBQUEUE_H
#define PGFLEET_DBQUEUE_H

#include <stddef.h>
#include <stdint.h>

struct db_result;
struct dbqueue;
struct dbq_unit;

/* What a unit's callback learns; pointers live during the call only. */
struct dbq_reply {
	int ok;                  /* 1: every statement succeeded */
	int lost;                /* the connection went away before the unit's last Sync came back:
	                          * what the server did with it is unknown */
	int expired;             /* its deadline passed before it could be sent */
	int failed_at;           /* the first statement that failed (0-based, statements only), or -1 */
	const char *err;         /* why, when !ok: "message (SQLSTATE xxxxx)" */
	const char *sqlstate;    /* of that error; "" when none came from the server */
	int nresults;            /* the unit's statements */
	struct db_result *const *results; /* per statement: NULL unless it succeeded */
};

typedef void dbq_done_fn(const struct dbq_reply *reply, void *arg);

enum dbq_flags {
	DBQ_RETRY = 1 /* a read (or otherwise safe to repeat): sent again after a lost connection */
};

/* done may be NULL (nothing to learn). NULL only when out of memory. */
struct dbq_unit *dbq_unit_new(dbq_done_fn *done, void *arg, int flags);
/* A unit never submitted; NULL is fine. */
void dbq_unit_free(struct dbq_unit *u);
/* Append a statement (params[i] NULL: SQL NULL). 0, or -1 when out of memory. */
int dbq_add(struct dbq_unit *u, const char *sql, int nparams, const char *const *params)
    __attribute__((warn_unused_result));
/* Close the current segment (a Sync); the unit's last is closed for you. 0 or -1 (memory). */
int dbq_sync(struct dbq_unit *u) __attribute__((warn_unused_result));
/*
 * deadline_ms (monotonic, clock_mono_ms): a unit not sent by then ends expired. When
 * stmt >= 0, parameter param of statement stmt is set, as the unit is sent, to the
 * milliseconds left until the deadline (for a statement_timeout).
 */
void dbq_unit_deadline(struct dbq_unit *u, long long deadline_ms, int stmt, int param);

/* Statements of a unit and what one of them says, for the I/O side. */
int dbq_unit_nitems(const struct dbq_unit *u);
/* Item i: 1 and the statement, or 0 when it is a Sync. */
int dbq_unit_item(const struct dbq_unit *u, int i, const char **sql, int *nparams,
    const char *const **params);

enum dbq_state {
	DBQ_IDLE,       /* never asked to connect: the first unit submitted connects */
	DBQ_DOWN,       /* waiting for the back-off to pass */
	DBQ_CONNECTING,
	DBQ_READY
};

/* What came back for the next item in flight. */
enum dbq_result_kind {
	DBQ_R_OK,       /* a statement succeeded (res: its result, taken over) */
	DBQ_R_ERROR,    /* a statement failed (err, sqlstate) */
	DBQ_R_ABORTED,  /* skipped: an earlier statement of its segment failed */
	DBQ_R_SYNC      /* a segment's Sync */
};

/*
 * max_inflight: units sent and not yet answered at once (1: the next is sent
 * when the previous one's answer is in); backoff_ms..max_backoff_ms: the
 * reconnect back-off window (common/backoff.c).
 */
struct dbqueue *dbqueue_new(int max_inflight, long long backoff_ms, long long max_backoff_ms);
void dbqueue_free(struct dbqueue *q);

/* Queue a unit (the queue owns it now). */
void dbqueue_submit(struct dbqueue *q, struct dbq_unit *u);
/*
 * Forget a unit submitted earlier: its callback is never called. A unit still
 * queued is freed; one in flight is answered and dropped. Unknown units
 * (answered already) are ignored.
 */
void dbqueue_cancel(struct dbqueue *q, struct dbq_unit *u);

enum dbq_state dbqueue_state(const struct dbqueue *q);
int dbqueue_queued(const struct dbqueue *q);    /* waiting to be sent */
int dbqueue_inflight(const struct dbqueue *q);  /* sent, not answered */
/* Failed connection attempts since the last success. */
int dbqueue_failures(const struct dbqueue *q);

/* The I/O side: state changes. */
void dbqueue_connecting(struct dbqueue *q);
void dbqueue_connected(struct dbqueue *q);
/*
 * The connection failed or was lost (why: for the replies). Units in flight end
 * lost, or go back to the head of the queue (DBQ_RETRY). Returns the delay in ms
 * before the next attempt, drawn with r (a random 32-bit value).
 */
long long dbqueue_lost(struct dbqueue *q, const char *why, uint32_t r);

/*
 * The next unit to send now (it moves in flight), or NULL: not ready, nothing
 * queued, or max_inflight reached. Units whose deadline passed end expired
 * first; a timeout parameter is filled here.
 */
struct dbq_unit *dbqueue_next(struct dbqueue *q, long long now_ms);
/* End the queued units whose deadline is now or past; the earliest deadline left, or 0. */
long long dbqueue_expire(struct dbqueue *q, long long now_ms);
/* The earliest deadline of a queued unit, or 0; nothing changes. */
long long dbqueue_first_deadline(const struct dbqueue *q);

/*
 * The result of the next item in flight: res is taken over (freed when it does
 * not fit or nobody wants it). Returns 0, or -1 when it does not match what the
 * unit expects (a Sync where a statement was due, or nothing in flight): the
 * connection is out of step and must be dropped (dbqueue_lost).
 */
int dbqueue_result(struct dbqueue *q, enum dbq_result_kind kind, struct db_result *res,
    const char *err, const char *sqlstate) __attribute__((warn_unused_result));

#endif
