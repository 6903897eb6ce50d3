/*
 * pgfleet: the admin command. Global options, then a subcommand from the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/db.h"
#include "common/log.h"

struct cli_global cli_global;

struct cli_cmd {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
};

static const struct cli_cmd commands[] = {
	{"migrate", cmd_migrate, "apply pending database migrations (--status to list them)"},
	{"pki", cmd_pki, "development certificate authority: pki init, pki issue NAME"},
	{"computer", cmd_computer, "inventory: computer add|list|show|remove|import"},
	{"group", cmd_group, "computer groups: group add|list|members"},
	{"submit", cmd_submit, "validate and apply a YAML job batch (--dry-run to check only)"},
	{"job", cmd_job, "jobs: job list|show|export"},
	{"run", cmd_run, "run a job now or at a time: run JOB --on TARGETS [--at TIME] [--wait]"},
	{"status", cmd_status, "a schedule's progress and events: status SCHEDULE_ID [--watch]"},
	{"cancel", cmd_cancel, "cancel a schedule: cancel SCHEDULE_ID"},
	{"retry", cmd_retry, "run a schedule's failed events again: retry SCHEDULE_ID --failed"},
	{"output", cmd_output, "what each task of an event printed: output EVENT_ID [--seq N]"},
	{"maintain", cmd_maintain, "retention: new status_log partitions, old history removed"},
	{"report", cmd_report, "job history reports: history, failures, job, computer, summary"},
	{"audit", cmd_audit, "who changed what: audit [--since 7d] [--actor ROLE] [--action ACTION]"},
};

const char *
cli_conninfo(void)
{
	if (cli_global.conninfo != NULL)
		return cli_global.conninfo;
	const char *env = getenv("PGFLEET_DATABASE");
	return env != NULL ? env : "";
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: pgfleet [-d CONNINFO] [-v] COMMAND [ARGS...]\n\n"
		   "Options:\n"
		   "  -d CONNINFO   libpq connection string (default: $PGFLEET_DATABASE, then the PG* variables);\n"
		   "                no password: use PGPASSWORD, ~/.pgpass or a service file\n"
		   "  -v            more log output on stderr (repeat for more)\n"
		   "  -h, --help    this help; COMMAND --help describes one command\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int
main(int argc, char **argv)
{
	int level = LOG_WARNING;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) {
			cli_global.conninfo = argv[++i];
		} else if (strcmp(argv[i], "-v") == 0) {
			level++;
		} else {
			fprintf(stderr, "pgfleet: unknown option %s\n", argv[i]);
			usage(stderr);
			return CLI_USAGE;
		}
	}
	log_init(level, NULL);
	/* argv is readable by every user (ps, /proc): a password there is a password given away */
	if (cli_global.conninfo != NULL && db_conninfo_has_password(cli_global.conninfo)) {
		fprintf(stderr, "pgfleet: -d: the connection string holds a password, which every "
				"user of this machine can read in the process list; give it in "
				"PGPASSWORD, ~/.pgpass or a service file (PGSERVICE) instead\n");
		return CLI_USAGE;
	}
	if (i == argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (strcmp(argv[i], commands[c].name) == 0)
			return commands[c].fn(argc - i, argv + i);
	fprintf(stderr, "pgfleet: unknown command \"%s\" (pgfleet --help lists them)\n", argv[i]);
	return CLI_USAGE;
}
