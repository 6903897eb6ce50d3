/*
 * db_pg: what common/db.c shares with common/dbq.c, the two modules that see
 * libpq (the synchronous and the asynchronous way). Not for other modules.
 */
#ifndef PGFLEET_DB_PG_H
#define PGFLEET_DB_PG_H

#include <stddef.h>
#include <libpq-fe.h>

#include "common/db.h"

/* The keywords and values of a connection (psql's -h -p -U -d, conninfo last); at most 6 + NULL. */
void db_pg_params(const struct db_target *t, const char *keys[7], const char *vals[7]);
/* Wrap a result (taken over); NULL when out of memory (res is cleared then). */
struct db_result *db_pg_result(PGresult *res);
/*
 * "primary[: detail] (SQLSTATE xxxxx)" of a failed result (res may be NULL: the
 * connection's message); state gets the SQLSTATE (08006 when the connection is bad,
 * XX000 when the server gave none).
 */
void db_pg_error(PGconn *conn, const PGresult *res, char *msg, size_t size, char state[6]);
/* s on one line: runs of newlines and tabs become one space. */
void db_pg_flatten(char *dst, size_t size, const char *s);
/* libpq notices to the log at debug level. */
void db_pg_notice(void *arg, const char *message);

#endif
