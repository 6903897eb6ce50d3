/*
 * pgfleet audit [--since DURATION|DATE] [--actor ROLE] [--action ACTION] [--limit N]
 * [--format table|csv|json]: the audit log (view pgfleet.audit_history), newest first.
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "cli/opts.h"
#include "cli/reportfmt.h"
#include "common/db.h"
#include "common/units.h"

enum { AUDIT_DEFAULT_LIMIT = 1000 };

/* $1 start (UTC), $2 actor or NULL, $3 action or NULL (also its prefix before a dot), $4 limit or NULL */
static const char SQL_AUDIT[] =
    "SELECT audit_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS at, actor,"
    " action, object, args::text AS args, client_user, host(client_addr) AS client_addr,"
    " application_name"
    " FROM pgfleet.audit_history"
    " WHERE at >= $1::timestamptz AND ($2::text IS NULL OR actor = $2)"
    " AND ($3::text IS NULL OR action = $3 OR action LIKE replace(replace(replace($3, '\\', '\\\\'),"
    "  '%', '\\%'), '_', '\\_') || '.%')"
    " ORDER BY at DESC, audit_id DESC LIMIT $4::bigint";

static const struct reportfmt_col audit_cols[] = {
	{"audit_id", REPORTFMT_NUMBER}, {"at", REPORTFMT_TEXT}, {"actor", REPORTFMT_TEXT},
	{"action", REPORTFMT_TEXT}, {"object", REPORTFMT_TEXT}, {"args", REPORTFMT_TEXT},
	{"client_user", REPORTFMT_TEXT}, {"client_addr", REPORTFMT_TEXT},
	{"application_name", REPORTFMT_TEXT},
};
#define NCOLS ((int)(sizeof(audit_cols) / sizeof(audit_cols[0])))

struct audit_args {
	const char *since, *actor, *action;
	long long limit;
	enum reportfmt_format fmt;
};

#define O(f) offsetof(struct audit_args, f)
static const struct opts_spec specs[] = {
	OPTS_ROW_STR("--since", O(since), "DURATION|DATE", "the period: 7d (default), 12h, or from a UTC\n"
	    "date (2026-12-01) or time (2026-12-01T02:00:00Z)"),
	OPTS_ROW_STR("--actor", O(actor), "ROLE", "only what this login did"),
	OPTS_ROW_STR("--action", O(action), "ACTION", "only this action (run, cancel, computer.insert,\n"
	    "...); a word before the dot takes them all\n(computer)"),
	OPTS_ROW_INT("--limit", O(limit), "N", 0, LLONG_MAX, "at most N rows (default 1000, 0: all)"),
	CMDUTIL_FORMAT_OPTS(O(fmt), "table (default), csv or json; --json is json", 0),
};
#undef O

static const struct opts_cmd audit_cmd = {.cmd = "audit", OPTS_TABLE(specs),
    .about = "usage: pgfleet audit [--since DURATION|DATE] [--actor ROLE] [--action ACTION]\n"
		   "                     [--limit N] [--format table|csv|json]\n\n"
		   "Who changed what, newest first: every call of the SQL API (run, cancel, retry,\n"
		   "submit) and every change of the inventory and of the team scopes, with the\n"
		   "database login that made it (view pgfleet.audit_history). Read-scoped roles see\n"
		   "their own rows only.\n\n",
    .epilog = "\nColumns: audit_id at actor action object args client_user client_addr "
		   "application_name\n"
		   "Times are UTC. client_user is what the client said its user was, never checked.\n"};

int
cmd_audit(int argc, char **argv)
{
	struct audit_args aa = {"7d", NULL, NULL, AUDIT_DEFAULT_LIMIT, REPORTFMT_TABLE};
	char err[2048], ts[32], lim[32];
	int rc = opts_parse(&audit_cmd, argc, argv, &aa, NULL);
	if (rc != 0)
		return opts_exit(rc);
	if (cmdutil_since(aa.since, ts, sizeof(ts), err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet audit: %s\n", err);
		return CLI_USAGE;
	}
	long long limit = aa.limit;
	enum reportfmt_format fmt = aa.fmt;
	snprintf(lim, sizeof(lim), "%lld", limit);
	struct db *db = cmdutil_open("audit");
	if (db == NULL)
		return CLI_ERROR;
	struct db_result *r = NULL;
	const char **cells = NULL;
	rc = CLI_ERROR;
	const char *p[4] = {ts, aa.actor, aa.action, limit > 0 ? lim : NULL};
	if (db_exec(db, &r, SQL_AUDIT, 4, p, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet audit: %s\n", err);
		goto out;
	}
	int nrows = db_ntuples(r);
	if ((cells = calloc((size_t)nrows * NCOLS + 1, sizeof(*cells))) == NULL) {
		fprintf(stderr, "pgfleet audit: out of memory\n");
		goto out;
	}
	for (int i = 0; i < nrows; i++)
		for (int c = 0; c < NCOLS; c++)
			cells[(size_t)i * NCOLS + c] = db_isnull(r, i, c) ? NULL : db_value(r, i, c);
	if (reportfmt_write(stdout, fmt, audit_cols, NCOLS, cells, nrows, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet audit: %s\n", err);
		goto out;
	}
	if (fmt == REPORTFMT_TABLE && limit > 0 && nrows == limit)
		fprintf(stderr, "pgfleet audit: the first %lld rows only (--limit 0 shows all)\n", limit);
	rc = CLI_OK;
out:
	free(cells);
	db_result_free(r);
	db_close(db);
	return rc;
}
