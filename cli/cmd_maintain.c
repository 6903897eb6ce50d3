/*
 * pgfleet maintain [--retention DURATION] [--batch N] [--months-ahead N]: the retention
 * janitor by hand. Calls pgfleet.maintain() (0003_reporting) until it has nothing left
 * to do, one small committed step per call, and prints a line per step.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/units.h"
#include "common/util.h"

enum { MAINTAIN_MIN_RETENTION_MS = 86400000 };

static const char SQL_MAINTAIN[] =
    "SELECT partitions_created, partitions_dropped, status_rows_deleted, events_deleted,"
    " schedules_deleted, job_days_rolled_up, detail"
    " FROM pgfleet.maintain($1::bigint * interval '1 millisecond', $2::int, $3::int)";

struct maintain_args {
	long long retention, batch, ahead;
};

/* --retention DURATION, at least a day */
static int
retention_arg(void *field, const char *value, char *err, size_t errlen)
{
	if (units_duration_ms(value, field, err, errlen) == -1)
		return -1;
	if (*(long long *)field < MAINTAIN_MIN_RETENTION_MS) {
		snprintf(err, errlen, "%s is shorter than 1d", value);
		return -1;
	}
	return 0;
}

#define O(f) offsetof(struct maintain_args, f)
static const struct opts_spec specs[] = {
	OPTS_ROW_CALL("--retention", O(retention), "DURATION", retention_arg, "history to keep (default 180d; at least 1d)"),
	OPTS_ROW_INT("--batch", O(batch), "N", 1, 100000, "rows per transaction (default 1000, 1..100000)"),
	OPTS_ROW_INT("--months-ahead", O(ahead), "N", 0, 120, "partitions to keep ready after this month (default 3)"),
};
#undef O

static const struct opts_cmd maintain_cmd = {.cmd = "maintain", OPTS_TABLE(specs),
    .unknown = "%s: unknown argument", .extra = "%s: unknown argument",
    .about = "usage: pgfleet maintain [--retention DURATION] [--batch N] [--months-ahead N]\n\n"
		   "Create the coming months' status_log partitions, drop the partitions lying\n"
		   "wholly before now - retention, and delete finished events and schedules older\n"
		   "than that in small batches (one short transaction each), until none is left;\n"
		   "roll up the days that are over for job_daily (about N events a step).\n"
		   "The scheduler's janitor does the same with its `retention` setting.\n\n",
    .epilog = "\nExit status: 0 ok, 1 database failure, 2 usage error.\n"};

static int
loop(struct db *db, long long retention_ms, long long batch, long long ahead)
{
	char err[2048], rbuf[32], bbuf[32], abuf[32], shown[32];
	const char *params[3] = {rbuf, bbuf, abuf};
	long long total[6] = {0, 0, 0, 0, 0, 0};

	snprintf(rbuf, sizeof(rbuf), "%lld", retention_ms);
	snprintf(bbuf, sizeof(bbuf), "%lld", batch);
	snprintf(abuf, sizeof(abuf), "%lld", ahead);
	units_format_duration(retention_ms, shown, sizeof(shown));
	printf("retention %s, batch %lld\n", shown, batch);
	for (int step = 1;; step++) {
		struct db_result *res;
		long long t0 = clock_mono_ms(), n[6];
		if (db_exec(db, &res, SQL_MAINTAIN, 3, params, err, sizeof(err)) == -1) {
			fprintf(stderr, "pgfleet maintain: step %d: %s\n", step, err);
			return CLI_ERROR;
		}
		for (int i = 0; i < 6; i++) {
			n[i] = strtoll(db_value(res, 0, i), NULL, 10);
			total[i] += n[i];
		}
		long long work = n[1] + n[2] + n[3] + n[4] + n[5];
		if (work > 0 || n[0] > 0 || !db_isnull(res, 0, 6))
			printf("step %d: %lld partitions created, %lld dropped, deleted %lld events, "
			       "%lld schedules, %lld status rows, rolled up %lld job days (%lld ms)%s%s\n",
			    step, n[0], n[1], n[3], n[4], n[2], n[5], clock_mono_ms() - t0,
			    db_isnull(res, 0, 6) ? "" : ": ", db_value(res, 0, 6));
		fflush(stdout);
		db_result_free(res);
		if (work == 0)
			break;
	}
	printf("done: %lld partitions created, %lld dropped, deleted %lld events, %lld schedules, "
	       "%lld status rows, rolled up %lld job days\n",
	    total[0], total[1], total[3], total[4], total[2], total[5]);
	return CLI_OK;
}

int
cmd_maintain(int argc, char **argv)
{
	struct maintain_args ma = {180LL * 86400000, 1000, 3};
	char err[1024];
	int rc = opts_parse(&maintain_cmd, argc, argv, &ma, NULL);
	if (rc != 0)
		return opts_exit(rc);
	struct db *db = cli_db_open(1, err, sizeof(err));
	if (db == NULL) {
		fprintf(stderr, "pgfleet maintain: %s\n", err);
		return CLI_ERROR;
	}
	rc = loop(db, ma.retention, ma.batch, ma.ahead);
	db_close(db);
	return rc;
}
