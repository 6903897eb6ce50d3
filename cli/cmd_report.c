/*
 * pgfleet report history|failures|job NAME|computer NAME|summary: the job history as an
 * aligned table, CSV or JSON. Every query reads the report views of 0003_reporting (so
 * a member of pgfleet_report may run it), with its values as $n parameters.
 */
#include <limits.h>
#include <stddef.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "cli/opts.h"
#include "cli/reportfmt.h"
#include "common/db.h"
#include "common/units.h"

/* $1 period in ms or NULL, $2 UTC start or NULL: one of them is set. */
#define SINCE "coalesce($2::timestamptz, now() - $1::bigint * interval '1 millisecond')"
#define TS(x) "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
/* successes over the events that ended done or failed: a cancelled event is no failed run */
#define RATE(h) "round(100.0 * count(*) FILTER (WHERE " h ".state = 'done')" \
	" / nullif(count(*) FILTER (WHERE " h ".state IN ('done', 'failed')), 0), 1)"

#define T REPORTFMT_TEXT
#define N REPORTFMT_NUMBER

enum { DEFAULT_LIMIT = 1000 };

/* Which options a report takes. */
enum { OPT_NAME = 1, OPT_FILTER = 2, OPT_LIMIT = 4 };

struct report {
	const char *name;
	int opts;
	const char *synopsis;
	const char *about;
	/* Parameters in $n order: m period ms, t start, j --job, c --computer, l --limit, n NAME. */
	const char *args;
	const char *sql;
	const struct reportfmt_col *cols;
	int ncols;
};

static const struct reportfmt_col history_cols[] = {
	{"event_id", N}, {"finished_at", T}, {"job", T}, {"computer", T}, {"schedule_id", N},
	{"attempt", N}, {"state", T}, {"status_code", N}, {"status_name", T}, {"duration_ms", N},
};

static const struct reportfmt_col failures_cols[] = {
	{"event_id", N}, {"finished_at", T}, {"job", T}, {"computer", T}, {"attempt", N},
	{"task_seq", N}, {"status_code", N}, {"status_name", T}, {"meaning", T}, {"message", T},
	{"output_tail", T},
};

static const struct reportfmt_col job_cols[] = {
	{"day", T}, {"runs", N}, {"successes", N}, {"failures", N}, {"cancelled", N},
	{"success_pct", N}, {"p50_ms", N}, {"p95_ms", N}, {"max_ms", N},
};

static const struct reportfmt_col computer_cols[] = {
	{"job", T}, {"runs", N}, {"successes", N}, {"failures", N}, {"cancelled", N},
	{"success_pct", N}, {"p50_ms", N}, {"last_finished", T}, {"last_status", T},
};

static const struct reportfmt_col summary_cols[] = {
	{"job", T}, {"runs", N}, {"successes", N}, {"failures", N}, {"cancelled", N},
	{"success_pct", N}, {"p50_ms", N}, {"p95_ms", N}, {"last_finished", T},
};

#define COLS(a) a, (int)(sizeof(a) / sizeof(a[0]))

static const struct report reports[] = {
	{"history", OPT_FILTER | OPT_LIMIT, "history [--job NAME] [--computer NAME] [--limit N]",
	    "Finished events, newest first (view pgfleet.job_history).", "mtjcl",
	    "SELECT h.event_id, " TS("h.finished_at") " AS finished_at, h.job, h.computer,"
	    " h.schedule_id, h.attempt, h.state, h.status_code, h.status_name, h.duration_ms"
	    " FROM pgfleet.job_history h"
	    " WHERE h.finished_at >= " SINCE
	    " AND ($3::text IS NULL OR h.job = $3) AND ($4::text IS NULL OR h.computer = $4)"
	    " ORDER BY h.finished_at DESC, h.event_id DESC LIMIT $5::bigint",
	    COLS(history_cols)},
	{"failures", OPT_FILTER | OPT_LIMIT, "failures [--job NAME] [--computer NAME] [--limit N]",
	    "Failed events, newest first, with the code's meaning and the last lines of the\n"
	    "failing task's output (view pgfleet.failures).", "mtjcl",
	    "SELECT f.event_id, " TS("f.finished_at") " AS finished_at, f.job, f.computer,"
	    " f.attempt, f.task_seq, f.status_code, f.status_name, f.meaning, f.message,"
	    " f.output_tail"
	    " FROM pgfleet.failures f"
	    " WHERE f.finished_at >= " SINCE
	    " AND ($3::text IS NULL OR f.job = $3) AND ($4::text IS NULL OR f.computer = $4)"
	    " ORDER BY f.finished_at DESC, f.event_id DESC LIMIT $5::bigint",
	    COLS(failures_cols)},
	{"job", OPT_NAME, "job NAME",
	    "One job, one row per UTC day: runs, successes, failures, duration percentiles\n"
	    "(view pgfleet.job_daily).", "mtn",
	    "SELECT d.day::text AS day, d.runs, d.successes, d.failures, d.cancelled,"
	    " round(100.0 * d.successes / nullif(d.successes + d.failures, 0), 1) AS success_pct,"
	    " d.p50_ms, d.p95_ms, d.max_ms"
	    " FROM pgfleet.job_daily d"
	    " WHERE d.job = $3 AND d.day >= (" SINCE " AT TIME ZONE 'UTC')::date"
	    " ORDER BY d.day",
	    COLS(job_cols)},
	{"computer", OPT_NAME, "computer NAME",
	    "One computer, one row per job it ran: counts, median duration and the last\n"
	    "result (view pgfleet.job_history).", "mtn",
	    "SELECT h.job, count(*) AS runs,"
	    " count(*) FILTER (WHERE h.state = 'done') AS successes,"
	    " count(*) FILTER (WHERE h.state = 'failed') AS failures,"
	    " count(*) FILTER (WHERE h.state = 'cancelled') AS cancelled,"
	    " " RATE("h") " AS success_pct,"
	    " round(percentile_cont(0.5) WITHIN GROUP (ORDER BY h.duration_ms))::bigint AS p50_ms,"
	    " " TS("max(h.finished_at)") " AS last_finished,"
	    " (array_agg(h.status_name ORDER BY h.finished_at DESC, h.event_id DESC)"
	    "  FILTER (WHERE NOT (h.state = 'cancelled' AND h.started_at IS NULL)))[1]"
	    " AS last_status"
	    " FROM pgfleet.job_history h"
	    " WHERE h.computer = $3 AND h.finished_at >= " SINCE
	    " GROUP BY h.job ORDER BY h.job",
	    COLS(computer_cols)},
	{"summary", OPT_FILTER, "summary [--job NAME] [--computer NAME]",
	    "One row per job: counts, success rate and duration percentiles\n"
	    "(view pgfleet.job_history).", "mtjc",
	    /* grouped on job_id (an integer sort) with both percentiles from one sort */
	    "SELECT j.name AS job, a.runs, a.successes, a.failures, a.cancelled,"
	    " round(100.0 * a.successes / nullif(a.successes + a.failures, 0), 1) AS success_pct,"
	    " round(a.p[1])::bigint AS p50_ms, round(a.p[2])::bigint AS p95_ms,"
	    " " TS("a.last") " AS last_finished"
	    " FROM (SELECT h.job_id, count(*) AS runs,"
	    " count(*) FILTER (WHERE h.state = 'done') AS successes,"
	    " count(*) FILTER (WHERE h.state = 'failed') AS failures,"
	    " count(*) FILTER (WHERE h.state = 'cancelled') AS cancelled,"
	    " percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY h.duration_ms) AS p,"
	    " max(h.finished_at) AS last"
	    " FROM pgfleet.job_history h"
	    " WHERE h.finished_at >= " SINCE
	    " AND ($3::text IS NULL OR h.job = $3) AND ($4::text IS NULL OR h.computer = $4)"
	    " GROUP BY h.job_id) a"
	    " JOIN pgfleet.job_list j ON j.job_id = a.job_id"
	    " ORDER BY j.name",
	    COLS(summary_cols)},
};

#define NREPORTS (sizeof(reports) / sizeof(reports[0]))

struct options {
	const struct report *r;
	const char *name; /* NAME of job/computer */
	const char *job, *computer, *since, *format;
	long long since_ms;
	char since_ts[32];
	long long limit;
	enum reportfmt_format fmt;
	int explain;
};

/* --since and --format are checked after the parse, to say "pgfleet report: --since: ..." */
#define O(f) offsetof(struct options, f)
static const struct opts_spec specs[] = {
	OPTS_ROW_STR("--since", O(since), "DURATION|DATE", "the period: 30d (default), 12h, or from a UTC date\n"
	    "2025-01-31 or time 2025-01-31T08:00:00Z"),
	OPTS_ROW_STR("--format", O(format), "table|csv|json", "aligned table (default), RFC 4180 CSV or a JSON array"),
	OPTS_ROW_STR("--job", O(job), "NAME", "only this job", .only = OPT_FILTER),
	OPTS_ROW_STR("--computer", O(computer), "NAME", "only this computer", .only = OPT_FILTER),
	OPTS_ROW_INT("--limit", O(limit), "N", 0, LLONG_MAX, "at most N rows, newest first (default 1000, 0: all)",
	    .only = OPT_LIMIT),
	OPTS_ROW_FLAG("--explain", O(explain), "print EXPLAIN (ANALYZE, BUFFERS) of the query instead"),
};
#undef O

/* The parse of report r's options (its usage is report_usage's, with r). */
static struct opts_cmd
report_cmd(const struct report *r, char *cmd, size_t cmdlen)
{
	snprintf(cmd, cmdlen, "report %s", r != NULL ? r->name : "");
	return (struct opts_cmd){.cmd = cmd, OPTS_TABLE(specs),
	    .sub = r != NULL ? (unsigned)r->opts : 0, .maxpos = r != NULL && (r->opts & OPT_NAME) ? 1 : 0,
	    .terse = 1, .elsewhere = "%s is not an option of this report"};
}

static void
usage(FILE *f)
{
	char cmd[64];
	const struct opts_cmd c = report_cmd(NULL, cmd, sizeof(cmd));
	fprintf(f, "usage: pgfleet report REPORT [options]\n\n"
		   "Reports on the job history (finished events), read from the pgfleet views:\n");
	for (size_t i = 0; i < NREPORTS; i++)
		fprintf(f, "  pgfleet report %s\n", reports[i].synopsis);
	fprintf(f, "\nOptions (pgfleet report REPORT --help: those of one):\n");
	opts_help(f, &c);
	fprintf(f, "\nExit status: 0 ok, 1 database failure, 2 usage error or unknown name.\n");
}

static void
report_usage(FILE *f, const struct report *r)
{
	char cmd[64];
	const struct opts_cmd oc = report_cmd(r, cmd, sizeof(cmd));
	fprintf(f, "usage: pgfleet report %s [--since DURATION|DATE] [--format table|csv|json]\n\n"
		   "%s\n\nOptions:\n",
	    r->synopsis, r->about);
	opts_help(f, &oc);
	fprintf(f, "\nColumns:");
	for (int c = 0; c < r->ncols; c++)
		fprintf(f, " %s", r->cols[c].name);
	fprintf(f, "\nTimes are UTC, durations in milliseconds.\n");
}

/* 0 ok, 1 help shown, -1 usage error (said on stderr). */
static int
parse(int argc, char **argv, struct options *o)
{
	char err[512], cmd[64];
	const struct opts_cmd c = report_cmd(o->r, cmd, sizeof(cmd));
	struct opts_pos pos;
	o->since = "30d";
	o->limit = DEFAULT_LIMIT;
	o->fmt = REPORTFMT_TABLE;
	int rc = opts_parse(&c, argc - 1, argv + 1, o, &pos);
	if (rc == 1)
		report_usage(stdout, o->r);
	if (rc != 0)
		return rc;
	o->name = pos.n > 0 ? pos.v[0] : NULL;
	if ((o->r->opts & OPT_NAME) && (o->name == NULL || o->name[0] == '\0')) {
		fprintf(stderr, "pgfleet report %s: needs a %s name\n", o->r->name, o->r->name);
		return -1;
	}
	if (o->format != NULL && reportfmt_format_parse(o->format, &o->fmt, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet report: --format: %s\n", err);
		return -1;
	}
	if (cmdutil_since(o->since, o->since_ts, sizeof(o->since_ts), err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet report: %s\n", err);
		return -1;
	}
	o->since_ms = -1;
	return 0;
}

/* 0 exists, 1 does not, -1 database failure (err set). */
static int
check_name(struct db *db, const char *what, const char *name, char *err, size_t errlen)
{
	struct db_result *res;
	const char *p[1] = {name};
	int rc = db_exec(db, &res, strcmp(what, "job") == 0
		? "SELECT 1 FROM pgfleet.job_list WHERE name = $1"
		: "SELECT 1 FROM pgfleet.computer_list WHERE name = $1",
	    1, p, err, errlen);
	if (rc == -1)
		return -1;
	rc = db_ntuples(res) == 0;
	db_result_free(res);
	return rc;
}

/* The names the report is of (NAME, --job, --computer) exist: CLI_OK; CLI_USAGE or
 * CLI_ERROR, said. */
static int
names_exist(struct db *db, const struct options *o)
{
	char err[2048];
	struct { const char *what, *name; } names[] = {
		{o->r->name, o->name}, {"job", o->job}, {"computer", o->computer},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].name == NULL)
			continue;
		int e = check_name(db, names[i].what, names[i].name, err, sizeof(err));
		if (e == -1) {
			fprintf(stderr, "pgfleet report %s: %s\n", o->r->name, err);
			return CLI_ERROR;
		}
		if (e == 1) {
			fprintf(stderr, "pgfleet report: %s \"%s\" does not exist\n", names[i].what,
			    names[i].name);
			return CLI_USAGE;
		}
	}
	return CLI_OK;
}

/* The report's parameters in $n order (its args); ms and lim hold the numbers' text. */
static int
report_params(const struct options *o, const char **params, char *ms, char *lim, size_t len)
{
	int np = 0;
	snprintf(ms, len, "%lld", o->since_ms);
	snprintf(lim, len, "%lld", o->limit);
	for (const char *a = o->r->args; *a; a++) {
		switch (*a) {
		case 'm': params[np++] = o->since_ms >= 0 ? ms : NULL; break;
		case 't': params[np++] = o->since_ms >= 0 ? NULL : o->since_ts; break;
		case 'j': params[np++] = o->job; break;
		case 'c': params[np++] = o->computer; break;
		case 'l': params[np++] = o->limit > 0 ? lim : NULL; break;
		case 'n': params[np++] = o->name; break;
		}
	}
	return np;
}

/* EXPLAIN (ANALYZE, BUFFERS) of the report's query, printed; 0, or -1 with err. */
static int
explain(struct db *db, const struct report *r, int np, const char *const *params, char *err, size_t errlen)
{
	struct db_result *res;
	char *sql = malloc(strlen(r->sql) + 64);
	if (sql == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sprintf(sql, "EXPLAIN (ANALYZE, BUFFERS) %s", r->sql);
	int e = db_exec(db, &res, sql, np, params, err, errlen);
	free(sql);
	if (e == -1)
		return -1;
	for (int i = 0; i < db_ntuples(res); i++)
		printf("%s\n", db_value(res, i, 0));
	db_result_free(res);
	return 0;
}

/* The report's rows in the chosen format; 0, or -1 with err. */
static int
write_rows(const struct options *o, const struct db_result *res, char *err, size_t errlen)
{
	const struct report *r = o->r;
	int nrows = db_ntuples(res), ncols = db_nfields(res);
	if (ncols != r->ncols) {
		snprintf(err, errlen, "the query returned %d columns, not %d", ncols, r->ncols);
		return -1;
	}
	for (int c = 0; c < ncols; c++)
		if (strcmp(db_fname(res, c), r->cols[c].name) != 0) {
			snprintf(err, errlen, "column %d is %s, not %s", c + 1, db_fname(res, c), r->cols[c].name);
			return -1;
		}
	const char **cells = calloc((size_t)nrows * (size_t)ncols + 1, sizeof(*cells));
	if (cells == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < nrows; i++)
		for (int c = 0; c < ncols; c++)
			cells[(size_t)i * ncols + c] = db_isnull(res, i, c) ? NULL : db_value(res, i, c);
	int rc = reportfmt_write(stdout, o->fmt, r->cols, ncols, cells, nrows, err, errlen);
	free(cells);
	if (rc == 0 && o->fmt == REPORTFMT_TABLE && (r->opts & OPT_LIMIT) && o->limit > 0 && nrows == o->limit)
		fprintf(stderr, "pgfleet report: the first %lld rows only (--limit 0 shows all)\n", o->limit);
	return rc;
}

static int
run(struct db *db, const struct options *o)
{
	char err[2048], ms[32], lim[32];
	const char *params[8];
	struct db_result *res = NULL;
	int rc = names_exist(db, o);
	if (rc != CLI_OK)
		return rc;
	int np = report_params(o, params, ms, lim, sizeof(ms));
	if (o->explain)
		rc = explain(db, o->r, np, params, err, sizeof(err));
	else if ((rc = db_exec(db, &res, o->r->sql, np, params, err, sizeof(err))) == 0)
		rc = write_rows(o, res, err, sizeof(err));
	db_result_free(res);
	if (rc == -1) {
		fprintf(stderr, "pgfleet report %s: %s\n", o->r->name, err);
		return CLI_ERROR;
	}
	return CLI_OK;
}

int
cmd_report(int argc, char **argv)
{
	struct options o;
	char err[1024];

	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	memset(&o, 0, sizeof(o));
	for (size_t i = 0; i < NREPORTS; i++)
		if (strcmp(argv[1], reports[i].name) == 0)
			o.r = &reports[i];
	if (o.r == NULL) {
		fprintf(stderr, "pgfleet report: %s: unknown report (history, failures, job, "
				"computer or summary)\n", argv[1]);
		return CLI_USAGE;
	}
	int p = parse(argc, argv, &o);
	if (p != 0)
		return p == 1 ? CLI_OK : CLI_USAGE;
	struct db *db = cli_db_open(1, err, sizeof(err));
	if (db == NULL) {
		fprintf(stderr, "pgfleet report: %s\n", err);
		return CLI_ERROR;
	}
	/* JIT compiling costs these millisecond queries more than it gains (100 ms of 200
	 * for failures over a year of history): off for this session; and room enough for
	 * summary's sort of a month of events (3.6 MB) to stay in memory. */
	if (db_exec(db, NULL, "SET jit = off", 0, NULL, err, sizeof(err)) == -1 ||
	    db_exec(db, NULL, "SET work_mem = '32MB'", 0, NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet report: %s\n", err);
		db_close(db);
		return CLI_ERROR;
	}
	int rc = run(db, &o);
	db_close(db);
	return rc;
}
