/*
 * pgfleet audit [--since DURATION|DATE] [--actor ROLE] [--action ACTION] [--limit N]
 * [--format table|csv|json]: the audit log (view pgfleet.audit_history), newest first.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmdutil.h"
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

static void
usage(FILE *f)
{
	fprintf(f, "usage: pgfleet audit [--since DURATION|DATE] [--actor ROLE] [--action ACTION]\n"
		   "                     [--limit N] [--format table|csv|json]\n\n"
		   "Who changed what, newest first: every call of the SQL API (run, cancel, retry,\n"
		   "submit) and every change of the inventory and of the team scopes, with the\n"
		   "database login that made it (view pgfleet.audit_history). Read-scoped roles see\n"
		   "their own rows only.\n\n"
		   "Options:\n"
		   "  --since DURATION|DATE  the period: 7d (default), 12h, or from a UTC date\n"
		   "                         (2026-12-01) or time (2026-12-01T02:00:00Z)\n"
		   "  --actor ROLE           only what this login did\n"
		   "  --action ACTION        only this action (run, cancel, computer.insert, ...);\n"
		   "                         a word before the dot takes them all (computer)\n"
		   "  --limit N              at most N rows (default 1000, 0: all)\n"
		   "  --format FORMAT        table (default), csv or json; --json is json\n"
		   "  -h, --help             this help\n\n"
		   "Columns: audit_id at actor action object args client_user client_addr "
		   "application_name\n"
		   "Times are UTC. client_user is what the client said its user was, never checked.\n");
}

int
cmd_audit(int argc, char **argv)
{
	const char *since = "7d", *actor = NULL, *action = NULL;
	long long limit = AUDIT_DEFAULT_LIMIT;
	enum reportfmt_format fmt = REPORTFMT_TABLE;
	char err[2048], ts[32], lim[32];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int f;
		if (cmdutil_is_help(a)) {
			usage(stdout);
			return CLI_OK;
		}
		if ((f = cmdutil_format_option("audit", argc, argv, &i, &fmt)) != 0) {
			if (f == -1)
				return CLI_USAGE;
			continue;
		}
		if (strcmp(a, "--since") != 0 && strcmp(a, "--actor") != 0 && strcmp(a, "--action") != 0 &&
		    strcmp(a, "--limit") != 0) {
			fprintf(stderr, "pgfleet audit: %s: %s\n", a,
			    a[0] == '-' ? "unknown option" : "unexpected argument");
			usage(stderr);
			return CLI_USAGE;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "pgfleet audit: %s needs a value\n", a);
			return CLI_USAGE;
		}
		const char *v = argv[++i];
		if (strcmp(a, "--since") == 0) {
			since = v;
		} else if (strcmp(a, "--actor") == 0) {
			actor = v;
		} else if (strcmp(a, "--action") == 0) {
			action = v;
		} else if (units_int(v, 0, LLONG_MAX, &limit, err, sizeof(err)) == -1) {
			fprintf(stderr, "pgfleet audit: --limit: %s\n", err);
			return CLI_USAGE;
		}
	}
	if (cmdutil_since(since, ts, sizeof(ts), err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet audit: %s\n", err);
		return CLI_USAGE;
	}
	snprintf(lim, sizeof(lim), "%lld", limit);
	struct db *db = cmdutil_open("audit");
	if (db == NULL)
		return CLI_ERROR;
	struct db_result *r = NULL;
	const char **cells = NULL;
	int rc = CLI_ERROR;
	const char *p[4] = {ts, actor, action, limit > 0 ? lim : NULL};
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
