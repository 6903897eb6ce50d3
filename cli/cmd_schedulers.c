/*
 * pgfleet schedulers [--all] [--format table|csv|json]: the schedulers sharing this
 * database, from their heartbeat rows (pgfleet.scheduler_list, migration 0013).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "cli/opts.h"
#include "common/db.h"

struct sched_args {
	int all;
	enum reportfmt_format fmt;
};

static const struct opts_spec specs[] = {
	OPTS_ROW_FLAG("--all", offsetof(struct sched_args, all), "also the stopped ones (a scheduler removes its own\n"
	    "old rows when it starts again)"),
	CMDUTIL_FORMAT_OPTS(offsetof(struct sched_args, fmt), "table (default), csv (RFC 4180) or json", 0),
};

static const struct opts_cmd sched_cmd = {.cmd = "schedulers", OPTS_TABLE(specs),
    .extra = "%s: unknown argument",
    .about = "usage: pgfleet schedulers [--all] [--format table|csv|json]\n\n"
		   "The schedulers sharing this database, one line each: name, host, pid, version,\n"
		   "state (running; lost: no heartbeat for three intervals; stopped), when it\n"
		   "started and was last seen (UTC), its workers alive of those configured, the\n"
		   "events it holds, its last claim, and where it serves /metrics.\n\n"};

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
	struct sched_args sa = {0, REPORTFMT_TABLE};
	int rc = opts_parse(&sched_cmd, argc, argv, &sa, NULL);
	if (rc != 0)
		return opts_exit(rc);
	struct db *db = cmdutil_open("schedulers");
	if (db == NULL)
		return CLI_ERROR;
	const char *p[1] = {sa.all ? "true" : "false"};
	rc = cmdutil_print_list(db, "schedulers", sa.fmt, table_sql, json_sql, 1, p);
	db_close(db);
	return rc;
}
