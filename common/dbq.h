/*
 * dbq: asynchronous database access for a process that runs a libevent loop
 * (a scheduler's worker). One connection, libpq in nonblocking pipeline mode,
 * events on PQsocket; the units of common/dbqueue.h go out in order, several
 * at once, and their callbacks run from the loop. Connecting, and reconnecting
 * after a loss, are states of the loop with back-off (never a sleep); units
 * submitted meanwhile wait (or expire at their deadline).
 *
 * Ownership: dbq_new returns a struct dbq freed by dbq_free, which drops every
 * unit it holds without calling back (never from inside a callback). A unit
 * given to dbq_submit belongs to the dbq (see dbqueue.h). A host name in the
 * connection string is resolved by libpq as it connects, which blocks: give
 * workers an address (host=127.0.0.1, hostaddr=) or a socket directory.
 */
#ifndef PGFLEET_DBQ_H
#define PGFLEET_DBQ_H

#include "common/dbqueue.h"

struct event_base;
struct dbq;

/*
 * conninfo: as db_open takes it (kept by pointer); what: the connection's name
 * in log lines ("database", "database (tokens)"); max_inflight: units answered
 * at once (1: each is sent when the one before is answered). Nothing connects
 * before dbq_connect or the first unit.
 */
struct dbq *dbq_new(struct event_base *base, const char *conninfo, const char *what,
    int max_inflight);
void dbq_free(struct dbq *q);
/* Connect now rather than with the first unit. */
void dbq_connect(struct dbq *q);
/* Called each time the connection is (re-)opened; cb may be NULL. */
void dbq_set_ready_cb(struct dbq *q, void (*cb)(void *arg), void *arg);

/* Queue u (see dbqueue.h): its callback runs from the loop, never inside this call. */
void dbq_submit(struct dbq *q, struct dbq_unit *u);
/* Its callback will not run (see dbqueue_cancel). */
void dbq_cancel(struct dbq *q, struct dbq_unit *u);

enum dbq_state dbq_state(const struct dbq *q);
int dbq_queued(const struct dbq *q);
int dbq_inflight(const struct dbq *q);
/* Connections opened so far (reconnects are the ones after the first). */
unsigned dbq_connects(const struct dbq *q);

#endif
