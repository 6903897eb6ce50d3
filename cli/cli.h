/*
 * cli: the pgfleet command's subcommands, one cmd_<name>.c each.
 * Exit codes: CLI_OK 0, CLI_FAILED 1 (a job failed), CLI_USAGE 2 (usage or input error).
 */
#ifndef PGFLEET_CLI_H
#define PGFLEET_CLI_H

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

/* Options every subcommand shares, set from the global flags. */
struct cli_global {
	const char *conninfo; /* -d CONNINFO, else PGFLEET_DATABASE, else PG* variables */
};
extern struct cli_global cli_global;

/* The conninfo to use ("" lets libpq read the PG* variables); never NULL. */
const char *cli_conninfo(void);

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

/*
 * Validate FILE as a job batch and apply it (submit), or only its computers: and
 * groups: (inventory_only, computer import). cmd names the command in messages.
 */
int cmd_submit_file(const char *cmd, const char *path, int dry_run, int inventory_only);
int cmd_maintain(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_audit(int argc, char **argv);

#endif
