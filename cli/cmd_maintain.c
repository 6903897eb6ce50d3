/*
 * pgfleet maintain [--retention DURATION] [--batch N] [--months-ahead N]: the retention
 * janitor by hand. Calls pgfleet.maintain() (0003_reporting) until it has nothing left
 * to do, one small committed step per call, and prints a line per step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/units.h"
#include "common/util.h"

enum { MAINTAIN_MIN_RETENTION_MS = 86400000 };

static const char SQL_MAINTAIN[] =
    "SELECT partitions_created, partitions_dropped, status_rows_deleted, events_deleted,"
    " schedules_deleted, job_days_rolled_up, detail"
    " FROM pgfleet.maintain($1::bigint * interval '1 millisecond', $2::int, $3::int)";

static void
usage(FILE *f)
{
	fprintf(f, "usage: pgfleet maintain [--retention DURATION] [--batch N] [--months-ahead N]\n\n"
		   "Create the coming months' status_log partitions, drop the partitions lying\n"
		   "wholly before now - retention, and delete finished events and schedules older\n"
		   "than that in small batches (one short transaction each), until none is left;\n"
		   "roll up the days that are over for job_daily (about N events a step).\n"
		   "The scheduler's janitor does the same with its `retention` setting.\n\n"
		   "Options:\n"
		   "  --retention DURATION  history to keep (default 180d; at least 1d)\n"
		   "  --batch N             rows per transaction (default 1000, 1..100000)\n"
		   "  --months-ahead N      partitions to keep ready after this month (default 3)\n"
		   "  -h, --help            this help\n\n"
		   "Exit status: 0 ok, 1 database failure, 2 usage error.\n");
}

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
	long long retention = 180LL * 86400000, batch = 1000, ahead = 3;
	char err[1024];

	for (int i = 1; i < argc; i++) {
		static const char *const names[] = {"--retention", "--batch", "--months-ahead"};
		const char *a = argv[i], *v = NULL;
		int which = -1;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return CLI_OK;
		}
		for (int k = 0; k < 3; k++) {
			size_t n = strlen(names[k]);
			if (strncmp(a, names[k], n) == 0 && (a[n] == '\0' || a[n] == '=')) {
				which = k;
				v = a[n] == '=' ? a + n + 1 : NULL;
			}
		}
		if (which == -1) {
			fprintf(stderr, "pgfleet maintain: %s: unknown argument\n", a);
			usage(stderr);
			return CLI_USAGE;
		}
		if (v == NULL && i + 1 < argc)
			v = argv[++i];
		if (v == NULL) {
			fprintf(stderr, "pgfleet maintain: %s needs a value\n", a);
			return CLI_USAGE;
		}
		int bad;
		if (which == 0) {
			bad = units_duration_ms(v, &retention, err, sizeof(err)) == -1;
			if (!bad && retention < MAINTAIN_MIN_RETENTION_MS) {
				snprintf(err, sizeof(err), "%s is shorter than 1d", v);
				bad = 1;
			}
		} else if (which == 1) {
			bad = units_int(v, 1, 100000, &batch, err, sizeof(err)) == -1;
		} else {
			bad = units_int(v, 0, 120, &ahead, err, sizeof(err)) == -1;
		}
		if (bad) {
			fprintf(stderr, "pgfleet maintain: %s: %s\n", names[which], err);
			return CLI_USAGE;
		}
	}
	struct db *db = cli_db_open(1, err, sizeof(err));
	if (db == NULL) {
		fprintf(stderr, "pgfleet maintain: %s\n", err);
		return CLI_ERROR;
	}
	int rc = loop(db, retention, batch, ahead);
	db_close(db);
	return rc;
}
