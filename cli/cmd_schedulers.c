/*
 * pgfleet schedulers [--all] [--format table|csv|json]: the schedulers sharing this
 * database, from their heartbeat rows (pgfleet.scheduler_list, migration 0013).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "common/db.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: pgfleet schedulers [--all] [--format table|csv|json]\n\n"
		   "The schedulers sharing this database, one line each: name, host, pid, version,\n"
		   "state (running; lost: no heartbeat for three intervals; stopped), when it\n"
		   "started and was last seen (UTC), its workers alive of those configured, the\n"
		   "events it holds, its last claim, and where it serves /metrics.\n\n"
		   "Options:\n"
		   "  --all            also the stopped ones (a scheduler removes its own old rows\n"
		   "                   when it starts again)\n"
		   "  --format FORMAT  table (default), csv (RFC 4180) or json\n"
		   "  -h, --help       this help\n");
}

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"

static const char table_sql[] =
    "SELECT name AS \"NAME\", host AS \"HOST\", pid AS \"PID\", version AS \"VERSION\","
    " state AS \"STATE\", " TS("started_at") " AS \"STARTED\", " TS("last_seen") " AS \"LAST_SEEN\","
    " workers_alive || '/' || workers AS \"WORKERS\", inflight AS \"INFLIGHT\","
    " coalesce(" TS("last_claim_at") ", '-') AS \"LAST_CLAIM\", coalesce(metrics, '-') AS \"METRICS\""
    " FROM pgfleet.scheduler_list WHERE $1::bool OR state <> 'stopped'"
    " ORDER BY name, started_at";

static const char json_sql[] =
    "SELECT coalesce(json_agg(x ORDER BY x.name, x.started_at), '[]') FROM ("
    " SELECT name, host, pid, version, state, started_at, last_seen, stopped_at, workers,"
    "  workers_alive, inflight, last_claim_at, metrics"
    " FROM pgfleet.scheduler_list WHERE $1::bool OR state <> 'stopped') x";

int
cmd_schedulers(int argc, char **argv)
{
	enum reportfmt_format fmt = REPORTFMT_TABLE;
	int all = 0, f;
	for (int i = 1; i < argc; i++) {
		if (cmdutil_is_help(argv[i])) {
			usage(stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--all") == 0) {
			all = 1;
		} else if ((f = cmdutil_format_option("schedulers", argc, argv, &i, &fmt)) != 0) {
			if (f == -1)
				return CLI_USAGE;
		} else {
			fprintf(stderr, "pgfleet schedulers: %s: unknown %s\n", argv[i],
			    argv[i][0] == '-' ? "option" : "argument");
			usage(stderr);
			return CLI_USAGE;
		}
	}
	struct db *db = cmdutil_open("schedulers");
	if (db == NULL)
		return CLI_ERROR;
	const char *p[1] = {all ? "true" : "false"};
	int rc = cmdutil_print_list(db, "schedulers", fmt, table_sql, json_sql, 1, p);
	db_close(db);
	return rc;
}
