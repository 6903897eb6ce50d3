/*
 * cmdutil: what the pgfleet subcommands share: the database connection with its
 * error message, --help detection, aligned tables and JSON from queries.
 * cmdutil_open returns a struct db the caller closes with db_close; nothing else allocates.
 */
#ifndef PGFLEET_CMDUTIL_H
#define PGFLEET_CMDUTIL_H

#include <stddef.h>
#include <stdio.h>

struct db;
struct db_result;

/* 1 for -h and --help. */
int cmdutil_is_help(const char *arg);
/* Connect with cli_conninfo(); NULL after "pgfleet CMD: database: ..." on stderr. */
struct db *cmdutil_open(const char *cmd);
/*
 * The client's own login name ($USER, else the uid's), for schedule.client_user only:
 * it is the client's word. created_by is the database's session_user. Never NULL.
 */
const char *cmdutil_user(void);

/* Print a result as aligned columns with its column names as header. */
void cmdutil_table(const struct db_result *r, FILE *fp);
/*
 * Run a query returning one row, one column (json text) and print it; "pgfleet CMD: ..."
 * on failure. Returns an exit code (CLI_OK or CLI_FAILED).
 */
int cmdutil_print_json(struct db *db, const char *cmd, const char *sql, int nparams,
    const char *const *params);
/* Run sql and print it as a table; returns an exit code. */
int cmdutil_print_table(struct db *db, const char *cmd, const char *sql, int nparams,
    const char *const *params);

#endif
