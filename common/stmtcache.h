/*
 * stmtcache: which statements a database connection has prepared. A daemon sends
 * the same few statements thousands of times; sent unnamed (PQexecParams) each is
 * parsed, analysed and planned again every time, up to two milliseconds of the
 * server's CPU for the larger ones. Prepared once per connection under a name of
 * its own, each later execution skips all three.
 *
 * A statement is known by its text's address (the SQL of this code base is static
 * text) and checked against a copy of the text, so that a buffer reused for
 * another statement is never taken for the first. Pure bookkeeping: the caller
 * prepares, executes, and says when the connection changed or a name failed.
 */
#ifndef PGFLEET_STMTCACHE_H
#define PGFLEET_STMTCACHE_H

struct stmtcache;

enum stmt_use {
	STMT_UNNAMED,  /* send it unnamed: the cache is full, or its name failed */
	STMT_PREPARE,  /* prepare it under *name first, then execute *name */
	STMT_PREPARED  /* execute *name: prepared on this connection already */
};

/* A cache of at most max statements; NULL out of memory. */
struct stmtcache *stmtcache_new(int max);
void stmtcache_free(struct stmtcache *c);
/* How to send sql; *name is the statement's name unless STMT_UNNAMED. After
 * STMT_PREPARE the caller sends the prepare, then executes the name; until it says
 * stmtcache_prepared (the server answered the prepare), further uses are unnamed,
 * so that no execution by name can overtake a prepare that fails. */
enum stmt_use stmtcache_use(struct stmtcache *c, const char *sql, const char **name);
/* The server prepared it: executed by name from now on. */
void stmtcache_prepared(struct stmtcache *c, const char *sql);
/* Its prepare failed, or the server no longer takes the name (plan cache errors):
 * sent unnamed until the next connection. */
void stmtcache_failed(struct stmtcache *c, const char *sql);
/* Its prepare never ran (an earlier statement of its pipeline failed): prepared again
 * at its next use (unless it failed). */
void stmtcache_forget(struct stmtcache *c, const char *sql);
/* A new connection: nothing is prepared on it. */
void stmtcache_reset(struct stmtcache *c);
/* Statements known, and of them prepared on the current connection. */
int stmtcache_count(const struct stmtcache *c, int *prepared);

#endif
