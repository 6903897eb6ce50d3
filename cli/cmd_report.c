/*
 * pgfleet report history|failures|job NAME|computer NAME|summary: the job history as an
 * aligned table, CSV or JSON. Every query reads the report views of 0003_reporting (so
 * a member of pgfleet_report may run it), with its values as $n parameters.
 */
#include <limits.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
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

static const char OPTIONS_HELP[] =
    "  --since DURATION|DATE    the period: 30d (default), 12h, or from a UTC date\n"
    "                           2025-01-31 or time 2025-01-31T08:00:00Z\n"
    "  --format table|csv|json  aligned table (default), RFC 4180 CSV or a JSON array\n";

static void
usage(FILE *f)
{
	fprintf(f, "usage: pgfleet report REPORT [options]\n\n"
		   "Reports on the job history (finished events), read from the pgfleet views:\n");
	for (size_t i = 0; i < NREPORTS; i++)
		fprintf(f, "  pgfleet report %s\n", reports[i].synopsis);
	fprintf(f, "\nOptions:\n%s"
		   "  --job NAME, --computer NAME  only this job or computer (history, failures, summary)\n"
		   "  --limit N                at most N rows, newest first (default %d, 0: all)\n"
		   "  --explain                print EXPLAIN (ANALYZE, BUFFERS) of the query instead\n"
		   "  -h, --help               this help; pgfleet report REPORT --help for one\n\n"
		   "Exit status: 0 ok, 1 database failure, 2 usage error or unknown name.\n",
	    OPTIONS_HELP, DEFAULT_LIMIT);
}

static void
report_usage(FILE *f, const struct report *r)
{
	fprintf(f, "usage: pgfleet report %s [--since DURATION|DATE] [--format table|csv|json]\n\n"
		   "%s\n\nOptions:\n%s",
	    r->synopsis, r->about, OPTIONS_HELP);
	if (r->opts & OPT_FILTER)
		fprintf(f, "  --job NAME               only this job\n"
			   "  --computer NAME          only this computer\n");
	if (r->opts & OPT_LIMIT)
		fprintf(f, "  --limit N                at most N rows (default %d, 0: all)\n",
		    DEFAULT_LIMIT);
	fprintf(f, "  --explain                print EXPLAIN (ANALYZE, BUFFERS) of the query instead\n"
		   "  -h, --help               this help\n\n"
		   "Columns:");
	for (int c = 0; c < r->ncols; c++)
		fprintf(f, " %s", r->cols[c].name);
	fprintf(f, "\nTimes are UTC, durations in milliseconds.\n");
}

struct options {
	const struct report *r;
	const char *name; /* NAME of job/computer */
	const char *job, *computer;
	long long since_ms;
	char since_ts[32];
	long long limit;
	enum reportfmt_format fmt;
	int explain;
};

/* Value of --opt VALUE or --opt=VALUE at argv[*i]; NULL when this is not that option. */
static const char *
option_value(int argc, char **argv, int *i, const char *opt, int *missing)
{
	size_t n = strlen(opt);
	if (strncmp(argv[*i], opt, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

/* 0 ok, 1 help shown, -1 usage error (said on stderr). */
static int
parse(int argc, char **argv, struct options *o)
{
	char err[512];
	const char *since = "30d";
	int missing = 0;

	o->since_ms = 30LL * 86400000;
	o->limit = DEFAULT_LIMIT;
	o->fmt = REPORTFMT_TABLE;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			report_usage(stdout, o->r);
			return 1;
		} else if (strcmp(a, "--explain") == 0) {
			o->explain = 1;
		} else if ((v = option_value(argc, argv, &i, "--since", &missing)) != NULL) {
			since = v;
		} else if ((v = option_value(argc, argv, &i, "--format", &missing)) != NULL) {
			if (reportfmt_format_parse(v, &o->fmt, err, sizeof(err)) == -1) {
				fprintf(stderr, "pgfleet report: --format: %s\n", err);
				return -1;
			}
		} else if ((v = option_value(argc, argv, &i, "--job", &missing)) != NULL ||
		    (v = option_value(argc, argv, &i, "--computer", &missing)) != NULL) {
			if (!(o->r->opts & OPT_FILTER)) {
				fprintf(stderr, "pgfleet report %s: %s is not an option of this "
						"report\n", o->r->name, a);
				return -1;
			}
			*(strncmp(a, "--job", 5) == 0 ? &o->job : &o->computer) = v;
		} else if ((v = option_value(argc, argv, &i, "--limit", &missing)) != NULL) {
			if (!(o->r->opts & OPT_LIMIT)) {
				fprintf(stderr, "pgfleet report %s: --limit is not an option of this "
						"report\n", o->r->name);
				return -1;
			}
			if (units_int(v, 0, LLONG_MAX, &o->limit, err, sizeof(err)) == -1) {
				fprintf(stderr, "pgfleet report: --limit: %s\n", err);
				return -1;
			}
		} else if (missing) {
			break;
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "pgfleet report %s: %s: unknown option\n", o->r->name, a);
			return -1;
		} else if ((o->r->opts & OPT_NAME) && o->name == NULL) {
			o->name = a;
		} else {
			fprintf(stderr, "pgfleet report %s: %s: unexpected argument\n", o->r->name, a);
			return -1;
		}
	}
	if (missing) {
		fprintf(stderr, "pgfleet report %s: %s needs a value\n", o->r->name, argv[argc - 1]);
		return -1;
	}
	if ((o->r->opts & OPT_NAME) && (o->name == NULL || o->name[0] == '\0')) {
		fprintf(stderr, "pgfleet report %s: needs a %s name\n", o->r->name, o->r->name);
		return -1;
	}
	if (cmdutil_since(since, o->since_ts, sizeof(o->since_ts), err, sizeof(err)) == -1) {
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

static int
run(struct db *db, const struct options *o)
{
	char err[2048], ms[32], lim[32];
	const char *params[8];
	int np = 0, rc = CLI_ERROR;
	struct db_result *res = NULL;
	const char **cells = NULL;
	const struct report *r = o->r;
	struct { const char *what, *name; } names[] = {
		{r->name, o->name}, {"job", o->job}, {"computer", o->computer},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].name == NULL)
			continue;
		int e = check_name(db, names[i].what, names[i].name, err, sizeof(err));
		if (e == -1)
			goto fail;
		if (e == 1) {
			fprintf(stderr, "pgfleet report: %s \"%s\" does not exist\n", names[i].what,
			    names[i].name);
			return CLI_USAGE;
		}
	}
	snprintf(ms, sizeof(ms), "%lld", o->since_ms);
	snprintf(lim, sizeof(lim), "%lld", o->limit);
	for (const char *a = r->args; *a; a++) {
		switch (*a) {
		case 'm': params[np++] = o->since_ms >= 0 ? ms : NULL; break;
		case 't': params[np++] = o->since_ms >= 0 ? NULL : o->since_ts; break;
		case 'j': params[np++] = o->job; break;
		case 'c': params[np++] = o->computer; break;
		case 'l': params[np++] = o->limit > 0 ? lim : NULL; break;
		case 'n': params[np++] = o->name; break;
		}
	}
	if (o->explain) {
		char *sql = malloc(strlen(r->sql) + 64);
		if (sql == NULL) {
			snprintf(err, sizeof(err), "out of memory");
			goto fail;
		}
		sprintf(sql, "EXPLAIN (ANALYZE, BUFFERS) %s", r->sql);
		int e = db_exec(db, &res, sql, np, params, err, sizeof(err));
		free(sql);
		if (e == -1)
			goto fail;
		for (int i = 0; i < db_ntuples(res); i++)
			printf("%s\n", db_value(res, i, 0));
		rc = CLI_OK;
		goto out;
	}
	if (db_exec(db, &res, r->sql, np, params, err, sizeof(err)) == -1)
		goto fail;
	int nrows = db_ntuples(res), ncols = db_nfields(res);
	if (ncols != r->ncols) {
		snprintf(err, sizeof(err), "the query returned %d columns, not %d", ncols, r->ncols);
		goto fail;
	}
	for (int c = 0; c < ncols; c++)
		if (strcmp(db_fname(res, c), r->cols[c].name) != 0) {
			snprintf(err, sizeof(err), "column %d is %s, not %s", c + 1, db_fname(res, c),
			    r->cols[c].name);
			goto fail;
		}
	cells = calloc((size_t)nrows * (size_t)ncols + 1, sizeof(*cells));
	if (cells == NULL) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	for (int i = 0; i < nrows; i++)
		for (int c = 0; c < ncols; c++)
			cells[(size_t)i * ncols + c] = db_isnull(res, i, c) ? NULL : db_value(res, i, c);
	if (reportfmt_write(stdout, o->fmt, r->cols, ncols, cells, nrows, err, sizeof(err)) == -1)
		goto fail;
	if (o->fmt == REPORTFMT_TABLE && (r->opts & OPT_LIMIT) && o->limit > 0 && nrows == o->limit)
		fprintf(stderr, "pgfleet report: the first %lld rows only (--limit 0 shows all)\n",
		    o->limit);
	rc = CLI_OK;
	goto out;
fail:
	fprintf(stderr, "pgfleet report %s: %s\n", r->name, err);
out:
	free(cells);
	db_result_free(res);
	return rc;
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
