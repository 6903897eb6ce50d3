/*
 * pool: a few asynchronous database connections for one libevent loop (pgfleet-web).
 * A query waits in a bounded queue for a free connection and its callback gets the
 * result (the callback owns it: db_result_free) or an error; connections are opened,
 * set up with one statement and re-opened after a loss in the background, with
 * backoff timers: nothing here ever blocks the loop. A statement that has waited longer
 * than DBPOOL_CONNECT_MS while connections keep failing fails. One more connection can LISTEN.
 * dbpool_new's strings are copied; dbpool_free ends every connection and drops the queue
 * without calling callbacks.
 */
#ifndef PGFLEET_WEB_DBPOOL_H
#define PGFLEET_WEB_DBPOOL_H

#include <event2/event.h>

#include "common/db.h"

struct dbpool;

enum {
	DBPOOL_MAX_PARAMS = 8,
	DBPOOL_MAX_QUEUE = 256,      /* queries waiting for a connection; more are refused */
	DBPOOL_CONNECT_MS = 10000,   /* a connection not up by then is dropped and retried */
	DBPOOL_BACKOFF_MS = 100,     /* first pause before re-opening; doubled up to the max */
	DBPOOL_BACKOFF_MAX_MS = 5000
};

/* res (owned by the callee, may be NULL) when the statement succeeded, else err. */
typedef void dbpool_cb(void *arg, struct db_result *res, const char *err);
/* A notification on the LISTEN connection; up = 1 once it is (again) listening. */
typedef void dbpool_notify_cb(void *arg, const char *channel, const char *payload);
typedef void dbpool_up_cb(void *arg);

/*
 * size connections (1..32) to target (its strings copied); each runs setup_sql with setup_params
 * (nsetup <= DBPOOL_MAX_PARAMS) once connected, before any query. NULL on bad arguments
 * or out of memory.
 */
struct dbpool *dbpool_new(struct event_base *base, const struct db_target *target, int size,
    const char *setup_sql, int nsetup, const char *const *setup_params)
    __attribute__((warn_unused_result));
void dbpool_free(struct dbpool *p);

/*
 * Queue one statement (nparams <= DBPOOL_MAX_PARAMS, copied). 0: cb will be called
 * exactly once, later, from the loop. -1: refused at once (queue full, or no
 * connection up and none on its way), with the reason in err; cb is not called.
 */
int dbpool_query(struct dbpool *p, const char *sql, int nparams, const char *const *params,
    dbpool_cb *cb, void *arg, char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * One more connection that LISTENs on channels (each [a-z_][a-z0-9_]*, copied) after
 * the setup statement; notify gets each notification, up is called each time it is
 * listening again (notifications in between were missed). 0, or -1 with err.
 */
int dbpool_listen(struct dbpool *p, const char *const *channels, int nchannels,
    dbpool_notify_cb *notify, dbpool_up_cb *up, void *arg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * The pool's statements write (pgfleet-web's actions): one in flight on a connection that
 * is lost fails instead of being sent again on another.
 */
void dbpool_once(struct dbpool *p);

/* Connections up and ready (the LISTEN one not counted). */
int dbpool_up(const struct dbpool *p);

#endif
