/*
 * cli: the pgfleet command's subcommands, one cmd_<name>.c each.
 * Exit codes (docs/cli.md): CLI_OK 0; CLI_FAILED 1, a job ran and an event failed or
 * was cancelled; CLI_USAGE 2, usage or input error, nothing done; CLI_ERROR 3, could
 * not run: the database unreachable, failing or not migrated, a file not written.
 */
#ifndef PGFLEET_CLI_H
#define PGFLEET_CLI_H

#include <stddef.h>
#include <stdio.h>

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2, CLI_ERROR = 3 };

struct db;

/* Options every subcommand shares, set from the global flags (psql's names). */
struct cli_global {
	const char *conninfo; /* -d/--dbname NAME|CONNINFO, else PGFLEET_DATABASE, else PG* */
	const char *host;     /* -h/--host, else PGHOST */
	const char *port;     /* -p/--port, else PGPORT */
	const char *user;     /* -U/--username, else PGUSER */
};
extern struct cli_global cli_global;

/* The conninfo to use ("" lets libpq read the PG* variables); never NULL. */
const char *cli_conninfo(void);
/*
 * Connect with the global options, then check the schema: NULL with the reason in err
 * (a missing database or schema, or one older than this pgfleet, names the fix:
 * pgfleet migrate). check_schema 0 skips the check (migrate itself).
 */
struct db *cli_db_open(int check_schema, char *err, size_t errlen);
/*
 * Whether f may be redrawn in place (a progress bar with \r and ESC[K): a terminal
 * whose TERM is set and not "dumb".
 */
int cli_live(FILE *f);
/* Whether f may get colours: cli_live and NO_COLOR unset or empty (no-color.org). */
int cli_color(FILE *f);

/* Each subcommand: argv[0] is its name; returns an exit code. */
int cmd_migrate(int argc, char **argv);
int cmd_pki(int argc, char **argv);
int cmd_computer(int argc, char **argv);
int cmd_group(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_retry(int argc, char **argv);
int cmd_output(int argc, char **argv);
int cmd_next(int argc, char **argv);
int cmd_window(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_abort(int argc, char **argv);

/*
 * Validate FILE as a job batch and apply it (submit), or only its computers: and
 * groups: (inventory_only, computer import). cmd names the command in messages.
 */
int cmd_submit_file(const char *cmd, const char *path, int dry_run, int inventory_only);
int cmd_maintain(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_schedulers(int argc, char **argv);
int cmd_notifications(int argc, char **argv);
int cmd_token(int argc, char **argv);
/* pgfleet computer pending, and accept|reject|revoke NAME (cli/cmd_enrol.c). */
int enrol_cmd_pending(int fmt);
int enrol_cmd_decide(const char *verb, const char *name);

#endif
