/*
 * cmdutil: what the pgfleet subcommands share: the database connection with its
 * error message, --help detection, aligned tables and JSON from queries.
 * cmdutil_open returns a struct db the caller closes with db_close; nothing else allocates.
 */
#ifndef PGFLEET_CMDUTIL_H
#define PGFLEET_CMDUTIL_H

#include <stddef.h>
#include <stdio.h>

#include "cli/opts.h"
#include "cli/reportfmt.h"

struct db;
struct db_result;

/* 1 for -h and --help. */
int cmdutil_is_help(const char *arg);
/*
 * Connect with the global options and check the schema (cli_db_open), then tell the
 * session the client's user (cmdutil_user) in the setting pgfleet.client_user, which the
 * SQL API records as the client's word; NULL after "pgfleet CMD: ..." on stderr.
 */
struct db *cmdutil_open(const char *cmd);
/*
 * Report err, the failure of a statement on db, for command cmd, and return the exit code.
 * The SQL API's refusals (SQLSTATE 22023 a bad value, 42704 does not exist, 42710 exists
 * already, 42501 not allowed, 55000 not in this state, P0002 nothing matched) are input
 * errors: "pgfleet CMD: message", CLI_USAGE. Anything else is a database failure: the
 * message with its SQLSTATE, CLI_ERROR.
 */
int cmdutil_api_error(const struct db *db, const char *cmd, const char *err)
    __attribute__((warn_unused_result));
/* 1 when the last statement on db failed as the SQL API refuses input (db_api_refused). */
int cmdutil_api_refused(const struct db *db);
/*
 * The client's own login name ($USER, else the uid's), for schedule.client_user only:
 * it is the client's word. created_by is the database's session_user. Never NULL.
 */
const char *cmdutil_user(void);

/*
 * --since DURATION|DATE as the UTC start of the period, "YYYY-MM-DD HH:MM:SS.mmm+00" in ts
 * (tslen >= 32): a duration counts back from the CLI's now (args_now, PGFLEET_NOW), as
 * --at does. 0, or -1 with "--since: why" (or the PGFLEET_NOW error) in err.
 */
int cmdutil_since(const char *since, char *ts, size_t tslen, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Does sql (one parameter, key) return a row? CLI_OK; CLI_USAGE after "pgfleet CMD: "
 * and missing (a format with key's %s: "job \"%s\" does not exist"); CLI_ERROR after
 * the database's error.
 */
int cmdutil_exists(struct db *db, const char *cmd, const char *sql, const char *key,
    const char *missing) __attribute__((warn_unused_result));
/* The first row of r, a line a column that is not NULL: its name padded to width, its value. */
void cmdutil_fields(const struct db_result *r, int width, FILE *fp);
/* Print a result as aligned columns with its column names as header. */
void cmdutil_table(const struct db_result *r, FILE *fp);
/*
 * Run a query returning one row, one column (json text) and print it; "pgfleet CMD: ..."
 * on failure. Returns an exit code (CLI_OK or CLI_ERROR).
 */
int cmdutil_print_json(struct db *db, const char *cmd, const char *sql, int nparams,
    const char *const *params);
/* Run sql and print it as a table; returns an exit code. */
int cmdutil_print_table(struct db *db, const char *cmd, const char *sql, int nparams,
    const char *const *params);
/* Run sql and print it as RFC 4180 CSV (header, CRLF) of the same columns; an exit code. */
int cmdutil_print_csv(struct db *db, const char *cmd, const char *sql, int nparams,
    const char *const *params);
/*
 * A listing in the chosen format: table_sql for table and CSV (the same columns),
 * json_sql (one row, one column) for JSON. Returns an exit code.
 */
int cmdutil_print_list(struct db *db, const char *cmd, enum reportfmt_format fmt,
    const char *table_sql, const char *json_sql, int nparams, const char *const *params);
/*
 * The output options of a listing command, for its opts table (cli/opts.h): --format
 * table|csv|json (value) and --json (NULL: the same as --format json), into an enum
 * reportfmt_format; 0, or -1 with err.
 */
int cmdutil_format_arg(void *fmt, const char *value, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The two table rows of cmdutil_format_arg: --format FORMAT (help text HELP) and --json,
 * for the subcommands SUBS (0: all), into the enum at offset OFF. */
#define CMDUTIL_FORMAT_OPTS(OFF, HELP, SUBS) \
	OPTS_ROW_CALL("--format", OFF, "FORMAT", cmdutil_format_arg, HELP, .only = (SUBS)), \
	OPTS_ROW_CALL("--json", OFF, NULL, cmdutil_format_arg, NULL, .only = (SUBS))
/*
 * The options of command c into dst and its one argument, an id of what ("schedule",
 * "event"): *id and 0; or as opts_parse, 1 after --help, -1 after "pgfleet CMD: ..." (no
 * id, not an id, an unknown option).
 */
int cmdutil_id_arg(const struct opts_cmd *c, int argc, char **argv, void *dst, const char *what,
    const char **id) __attribute__((warn_unused_result));
/* The usual help text of --format. */
#define CMDUTIL_FORMAT_HELP "table (default), csv (RFC 4180) or json; --json is json"

#endif
