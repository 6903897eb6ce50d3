/*
 * pgfleet: the admin command. Global options, then a subcommand from the table.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opts.h"
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
	{"notifications", cmd_notifications, "the outbox: notifications sent, waiting or failed, newest first"},
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
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
}

/* -v, repeatable: one log level more each time. */
static int
more_verbose(void *field, const char *value, char *err, size_t errlen)
{
	(void)value, (void)err, (void)errlen;
	(*(int *)field)++;
	return 0;
}

/* What comes before the command: psql's connection options, -v, -V. */
struct global_opts {
	const char *host, *port, *user, *dbname;
	int level, version;
};

#define G(f) offsetof(struct global_opts, f)
static const struct opts_spec global_specs[] = {
	OPTS_ROW_STR("--host", G(host), "HOST", NULL, .letter = 'h'),
	OPTS_ROW_STR("--port", G(port), "PORT", NULL, .letter = 'p'),
	OPTS_ROW_STR("--username", G(user), "USER", NULL, .letter = 'U'),
	OPTS_ROW_STR("--dbname", G(dbname), "DBNAME", NULL, .letter = 'd'),
	OPTS_ROW_CALL("--verbose", G(level), NULL, more_verbose, NULL, .letter = 'v'),
	OPTS_ROW_FLAG("--version", G(version), NULL, .letter = 'V'),
};
#undef G

static const struct opts_cmd global_cmd = {
	.cmd = "", OPTS_TABLE(global_specs), .usage = usage, .terse = 1, .head = 1,
	.help_short = "-?", .unknown = "unknown option %s",
};

int
main(int argc, char **argv)
{
	struct global_opts g = {.level = LL_WARNING};
	struct opts_pos pos;
	int rc = opts_parse(&global_cmd, argc, argv, &g, &pos);
	opts_free(&global_cmd, &g);
	if (rc == -1)
		fprintf(stderr, "pgfleet: pgfleet --help lists the options\n");
	if (rc != 0)
		return opts_exit(rc);
	if (g.version) {
		version_print(stdout, "pgfleet");
		return CLI_OK;
	}
	cli_global.host = g.host;
	cli_global.port = g.port;
	cli_global.user = g.user;
	cli_global.conninfo = g.dbname;
	int level = g.level;
	log_init(level, NULL);
	/* argv is readable by every user (ps, /proc): a password there is a password given away */
	if (cli_global.conninfo != NULL && db_conninfo_has_password(cli_global.conninfo)) {
		fprintf(stderr, "pgfleet: -d: the connection string holds a password, which every "
				"user of this machine can read in the process list; give it in "
				"PGPASSWORD, ~/.pgpass or a service file (PGSERVICE) instead\n");
		return CLI_USAGE;
	}
	if (pos.at == argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[pos.at], commands[i].name) == 0)
			return commands[i].fn(argc - pos.at, argv + pos.at);
	fprintf(stderr, "pgfleet: unknown command \"%s\" (pgfleet --help lists them)\n", argv[pos.at]);
	return CLI_USAGE;
}
