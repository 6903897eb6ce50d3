/*
 * db: libpq the synchronous way (the CLI, the scheduler's parent; a worker's loop uses
 * common/dbq.c, the other module that sees libpq, which shares db_pg.h with this one).
 * Statements go through db_exec (PQexecParams, $n parameters, one statement each); the
 * last SQLSTATE is kept, a lost connection is re-opened with exponential backoff, and
 * LISTEN channels are re-issued after it. Results of either module are read with
 * db_value and friends.
 * Ownership: db_open returns a struct db freed by db_close; db_exec hands out a
 * struct db_result freed by db_result_free; strings from db_value/db_fname/db_sqlstate
 * live as long as the result (or the db). Both free functions accept NULL.
 * A struct db is for one process: never use it on both sides of a fork.
 */
#ifndef PGFLEET_DB_H
#define PGFLEET_DB_H

#include <stddef.h>

struct db;
struct db_result;

/* Default limits of the reconnect loop (db_set_retry changes them per connection). */
enum {
	DB_RETRY_ATTEMPTS = 6,    /* reconnect attempts before a statement fails */
	DB_RETRY_BASE_MS = 100,   /* first pause; doubled after each failed attempt */
	DB_RETRY_MAX_MS = 5000    /* longest pause */
};

/*
 * Name this process reports as application_name (fallback_application_name: a
 * conninfo or PGAPPNAME value wins). Kept by pointer; default: the program's name.
 */
void db_application_name(const char *name);

/*
 * Connect. conninfo is a libpq connection string or URI (a bare word is a
 * database name); "" means the PG* variables. Returns NULL with the reason in err ("database: ...").
 */
struct db *db_open(const char *conninfo, char *err, size_t errlen);
/*
 * Connect as psql does with -h, -p, -U and -d: host, port and user (each NULL when
 * not given) come first, then conninfo (as db_open takes it) may override them.
 * A database that does not exist is said with the fix: createdb, then pgfleet migrate.
 */
struct db_target {
	const char *conninfo;
	const char *host;
	const char *port;
	const char *user;
};
struct db *db_open_target(const struct db_target *t, char *err, size_t errlen);
void db_close(struct db *db);
/*
 * 1 when conninfo (a connection string or URI, as db_open takes it) sets a password, 0 when
 * not (a bare database name sets none). Parsed only, never connected; nothing is kept.
 */
int db_conninfo_has_password(const char *conninfo) __attribute__((warn_unused_result));
/* Reconnect attempts and backoff (ms); attempts 0 disables reconnecting. */
void db_set_retry(struct db *db, int attempts, int base_ms, int max_ms);

/*
 * Run one statement with text parameters ($1..$nparams; a NULL entry is SQL NULL).
 * out, when not NULL, receives the result (also for commands: db_cmd_tuples).
 * Returns 0, or -1 with "server message[: detail] (SQLSTATE xxxxx)" in err.
 * A connection lost outside a transaction is re-opened and the statement sent
 * once more (so a statement outside a transaction may run twice if the server
 * committed it just before the connection dropped: wrap what must not, in one).
 * Lost inside a transaction, the statement fails with SQLSTATE 08006 and is not
 * re-run; the connection is re-opened (the transaction is gone) for the caller to
 * start over.
 */
int db_exec(struct db *db, struct db_result **out, const char *sql, int nparams,
    const char *const *params, char *err, size_t errlen);
/*
 * Run a trusted script of several statements (simple protocol, no parameters):
 * for migration files only. Never re-run. Errors add "at line N" when the server
 * gives a position.
 */
int db_exec_script(struct db *db, const char *sql, char *err, size_t errlen);

/* SQLSTATE of the last statement: "00000" after a success, never NULL. */
const char *db_sqlstate(const struct db *db);
/*
 * An err written by this module ("message[: detail] (SQLSTATE xxxxx)", also as a caller
 * passed it on): the length of its message without the SQLSTATE (at most 4096), and the
 * SQLSTATE into state (6 bytes; "" when err has none) unless state is NULL.
 */
int db_err_split(const char *err, char *state);
/*
 * 1 when sqlstate is one of the SQL API's refusals of its input (0016, docs/sql-api.md):
 * 22023 a bad value, 42704 does not exist, 42710 exists already, 42501 not allowed,
 * 55000 not in this state, P0002 nothing matched.
 */
int db_api_refused(const char *sqlstate);

int db_begin(struct db *db, char *err, size_t errlen);
int db_commit(struct db *db, char *err, size_t errlen);
/* Also fine when no transaction is open (or the connection that held it is gone). */
int db_rollback(struct db *db, char *err, size_t errlen);
/* 1 when a transaction is open (also when it has failed and awaits ROLLBACK). */
int db_in_transaction(const struct db *db);

/* A channel name is [a-z_][a-z0-9_]{0,62}; 0, or -1 with the reason in err. */
int db_check_channel(const char *channel, char *err, size_t errlen);
/* LISTEN channel; remembered and re-issued after every reconnect. */
int db_listen(struct db *db, const char *channel, char *err, size_t errlen);
/* SELECT pg_notify($1, $2); payload may be NULL (empty). */
int db_notify(struct db *db, const char *channel, const char *payload, char *err, size_t errlen);
/*
 * The socket to watch for readability; it changes when the connection is re-opened
 * (db_reconnects counts that): re-read it after any call. -1 when not connected.
 */
int db_socket(const struct db *db);
unsigned db_reconnects(const struct db *db);
/*
 * Read what the server sent and call cb(channel, payload, arg) for each queued
 * notification (the strings live during the call). Returns how many, or -1 with
 * the reason in err (the connection is re-opened when it was lost: re-read db_socket).
 */
int db_consume_notifies(struct db *db,
    void (*cb)(const char *channel, const char *payload, void *arg), void *arg,
    char *err, size_t errlen);
/*
 * hook(arg) is called when a statement (db_exec, db_exec_script) came back with
 * notifications: libpq read them from the socket with the statement's result, so
 * the socket will not become readable for them. They wait for db_consume_notifies;
 * the hook only says so (schedule that call: it must not use the connection).
 * It is called too when the connection was re-opened: its socket is a new one
 * (watch it again, even under the same number: db_reconnects tells) and whatever
 * was notified while it was down is lost.
 */
void db_set_notify_hook(struct db *db, void (*hook)(void *arg), void *arg);
/*
 * From now on db_exec prepares each statement (up to max of them) on the connection
 * at its first use and executes it by name afterwards: PostgreSQL parses and plans
 * it once per connection, not at every call. For long-lived connections that send
 * the same statements over and over (the scheduler); a statement's text must stay
 * at the same address (static SQL). 0, or -1 out of memory.
 */
int db_prepare_statements(struct db *db, int max) __attribute__((warn_unused_result));

/*
 * Asynchronous use, for a process whose event loop must never wait on the database
 * (pgfleet-web). A connection opened with db_open_start is non-blocking: drive the
 * handshake with db_open_poll, then send one statement at a time with db_send and
 * collect its result with db_receive, each when db_socket is ready as they ask.
 * Nothing here reconnects by itself (the caller closes and starts again, on its
 * own timer); db_exec still works on such a connection, and blocks.
 */
enum {
	DB_WANT_READ = 1,  /* wait until db_socket is readable, then call again */
	DB_WANT_WRITE = 2  /* wait until db_socket is writable, then call again */
};
/* Start connecting (PQconnectStartParams). NULL with the reason in err. */
struct db *db_open_start(const struct db_target *t, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Advance the handshake: 0 connected, DB_WANT_READ / DB_WANT_WRITE, or -1 with err. */
int db_open_poll(struct db *db, char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * Send one statement with text parameters (copied: they may go at once). 0 sent,
 * DB_WANT_WRITE when part of it waits for db_flush, or -1 with err.
 */
int db_send(struct db *db, const char *sql, int nparams, const char *const *params, char *err,
    size_t errlen) __attribute__((warn_unused_result));
/* Push what db_send left: 0 all sent, DB_WANT_WRITE, or -1 with err. */
int db_flush(struct db *db, char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * Read what arrived for the statement sent: DB_WANT_READ while it runs; 0 when it is
 * done, with its result in *out (freed by db_result_free; NULL out to drop it); -1
 * when it failed, with err (db_connected then says whether the connection survived).
 * Notifications that arrived meanwhile stay queued for db_consume_notifies.
 */
int db_receive(struct db *db, struct db_result **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* 1 while the connection is up (also between statements), 0 once lost or failed. */
int db_connected(const struct db *db);

int db_ntuples(const struct db_result *res);
int db_nfields(const struct db_result *res);
/* Text of a field; "" for NULL (db_isnull tells them apart) and out of range. */
const char *db_value(const struct db_result *res, int row, int col);
int db_isnull(const struct db_result *res, int row, int col);
/* Column name, or "" out of range; db_fnumber: its index or -1. */
const char *db_fname(const struct db_result *res, int col);
int db_fnumber(const struct db_result *res, const char *name);
/* What a column holds: 'n' a number (integer, numeric, float), 'b' a boolean, 't' else. */
char db_fkind(const struct db_result *res, int col);
/* Rows a command touched (INSERT/UPDATE/DELETE/SELECT); 0 when not given. */
long long db_cmd_tuples(const struct db_result *res);
void db_result_free(struct db_result *res);

#endif
