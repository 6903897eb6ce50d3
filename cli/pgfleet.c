/*
 * pgfleet: the admin command. Global options, then a subcommand from the table.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/db.h"
#include "common/log.h"
#include "common/schema.h"
#include "common/version.h"

struct cli_global cli_global;

struct cli_cmd {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
};

static const struct cli_cmd commands[] = {
	{"migrate", cmd_migrate, "apply pending database migrations (--status to list them)"},
	{"pki", cmd_pki, "development certificate authority: pki init, pki issue NAME"},
	{"computer", cmd_computer, "inventory: computer add|list|show|remove|import|pending|accept|reject|revoke"},
	{"group", cmd_group, "computer groups: group add|list|members"},
	{"token", cmd_token, "enrolment tokens: token create|list|revoke"},
	{"submit", cmd_submit, "validate and apply a YAML job batch (--dry-run to check only)"},
	{"job", cmd_job, "jobs: job list|show|export"},
	{"run", cmd_run, "run a job now or at a time: run JOB --on TARGETS [--at TIME] [--wait]"},
	{"status", cmd_status, "a schedule's progress and events: status SCHEDULE_ID [--watch]"},
	{"window", cmd_window, "maintenance windows: window add|list|show|remove|attach|detach|check"},
	{"next", cmd_next, "when a cron expression runs, in a time zone: next CRON [--timezone Z]"},
	{"resume", cmd_resume, "resume a rollout halted by its max_failures: resume SCHEDULE_ID"},
	{"abort", cmd_abort, "end a rollout, halted or not: abort SCHEDULE_ID"},
	{"cancel", cmd_cancel, "cancel a schedule: cancel SCHEDULE_ID"},
	{"retry", cmd_retry, "run a schedule's failed events again: retry SCHEDULE_ID --failed"},
	{"output", cmd_output, "what each task of an event printed: output EVENT_ID [--seq N]"},
	{"maintain", cmd_maintain, "retention: new status_log partitions, old history removed"},
	{"report", cmd_report, "job history reports: history, failures, job, computer, summary"},
	{"audit", cmd_audit, "who changed what: audit [--since 7d] [--actor ROLE] [--action ACTION]"},
	{"schedulers", cmd_schedulers, "the schedulers sharing this database and their state"},
};

const char *
cli_conninfo(void)
{
	if (cli_global.conninfo != NULL)
		return cli_global.conninfo;
	const char *env = getenv("PGFLEET_DATABASE");
	return env != NULL ? env : "";
}

struct db *
cli_db_open(int check_schema, char *err, size_t errlen)
{
	struct db_target t = {.conninfo = cli_conninfo(), .host = cli_global.host,
	    .port = cli_global.port, .user = cli_global.user};
	struct db *db = db_open_target(&t, err, errlen);
	if (db == NULL || !check_schema)
		return db;
	char msg[512];
	int st = schema_check(db, msg, sizeof(msg));
	if (st == SCHEMA_NEWER)
		fprintf(stderr, "pgfleet: warning: %s\n", msg);
	if (st == -1 || st == SCHEMA_MISSING || st == SCHEMA_OLDER) {
		snprintf(err, errlen, "%s%s", st == -1 ? "database: " : "", msg);
		db_close(db);
		return NULL;
	}
	return db;
}

int
cli_live(FILE *f)
{
	const char *term = getenv("TERM");
	return isatty(fileno(f)) && term != NULL && term[0] != '\0' && strcmp(term, "dumb") != 0;
}

int
cli_color(FILE *f)
{
	const char *no = getenv("NO_COLOR");
	return cli_live(f) && (no == NULL || no[0] == '\0');
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: pgfleet [OPTION]... COMMAND [ARGS...]\n\n"
		   "Connection options (as psql's; the PG* variables and ~/.pgpass fill the rest):\n"
		   "  -h, --host=HOST        database server host or socket directory\n"
		   "  -p, --port=PORT        database server port\n"
		   "  -U, --username=USER    database user name\n"
		   "  -d, --dbname=DBNAME    database name, or a connection string or URI\n"
		   "                         (default: $PGFLEET_DATABASE, then PGDATABASE); never a\n"
		   "                         password: use PGPASSWORD, ~/.pgpass or a service file\n"
		   "Other options:\n"
		   "  -v, --verbose          more log output on stderr (repeat for more)\n"
		   "  -V, --version          print the version and exit\n"
		   "  -?, --help             this help; COMMAND --help describes one command\n\n"
		   "Exit codes: 0 done, 1 a job failed, 2 usage or input error, 3 could not run.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"username", required_argument, NULL, 'U'},
		{"dbname", required_argument, NULL, 'd'},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'H'},
		{NULL, 0, NULL, 0}
	};
	int level = LL_WARNING, c;
	opterr = 0;
	/* "+": options stop at the command; its own options are its business */
	while ((c = getopt_long(argc, argv, "+h:p:U:d:vV?", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': cli_global.host = optarg; break;
		case 'p': cli_global.port = optarg; break;
		case 'U': cli_global.user = optarg; break;
		case 'd': cli_global.conninfo = optarg; break;
		case 'v': level++; break;
		case 'V':
			version_print(stdout, "pgfleet");
			return CLI_OK;
		case 'H':
			usage(stdout);
			return CLI_OK;
		case '?':
			/* getopt says '?' for -? itself and for every option it does not know */
			if (strcmp(argv[optind - 1], "-?") == 0) {
				usage(stdout);
				return CLI_OK;
			}
			/* FALLTHROUGH */
		default:
			if (optopt != 0 && strchr("hpUd", optopt) != NULL)
				fprintf(stderr, "pgfleet: option -%c needs a value\n", optopt);
			else if (optopt != 0)
				fprintf(stderr, "pgfleet: unknown option -%c\n", optopt);
			else
				fprintf(stderr, "pgfleet: unknown option %s\n", argv[optind - 1]);
			fprintf(stderr, "pgfleet: pgfleet --help lists the options\n");
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
	if (optind == argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].fn(argc - optind, argv + optind);
	fprintf(stderr, "pgfleet: unknown command \"%s\" (pgfleet --help lists them)\n", argv[optind]);
	return CLI_USAGE;
}
