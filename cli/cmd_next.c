/*
 * pgfleet next CRON [--timezone ZONE] [--after TIME] [--count N]: when a cron
 * expression runs, in UTC and in the zone's wall-clock time, computed as the
 * scheduler computes each next occurrence (common/cron.c with PostgreSQL's time
 * zone data, common/tzdb.c): a way to check a schedule, daylight saving included,
 * before submitting it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "common/cron.h"
#include "common/db.h"
#include "common/tzdb.h"
#include "common/units.h"

#define NEXT_MAX_COUNT 1000

static void
usage(FILE *f)
{
	fprintf(f, "usage: pgfleet next CRON [--timezone ZONE] [--after TIME] [--count N]\n\n"
		   "The next runs of a cron expression (docs/yaml.md \"Cron expressions\"), one\n"
		   "line each: the instant in UTC, then the wall-clock time in ZONE with its\n"
		   "offset. Daylight saving time as the scheduler handles it: a skipped local time\n"
		   "runs once at the change, a repeated one runs once (docs/yaml.md \"Time zones\").\n\n"
		   "Options:\n"
		   "  --timezone ZONE  an IANA zone PostgreSQL knows (Europe/Berlin); default UTC\n"
		   "  --after TIME     count from this instant (RFC 3339, +DURATION or now; default\n"
		   "                   now, or PGFLEET_NOW when set)\n"
		   "  --count N        how many runs, 1-%d (default 5)\n"
		   "  -h, --help       this help\n",
	    NEXT_MAX_COUNT);
}

/* "2026-03-29T03:00:00+02:00": t in the zone's wall clock. */
static int
print_local(struct db *db, const char *tz, time_t t, char *err, size_t errlen)
{
	struct cron_zone z;
	char buf[40];
	struct tm tm;
	if (tzdb_zone(db, tz, t, t + 1, &z, err, errlen) == -1)
		return -1;
	int off = z.off0, a = off < 0 ? -off : off;
	time_t local = t + off;
	gmtime_r(&local, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("  %s%c%02d:%02d", buf, off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
	return 0;
}

static int
next_print(struct db *db, const struct cron *c, const char *tz, time_t after, int count)
{
	char err[512], buf[40];
	for (int i = 0; i < count; i++) {
		time_t t;
		int rc = tzdb_cron_next(db, c, tz, after, &t, err, sizeof(err));
		if (rc == -1) {
			fprintf(stderr, "pgfleet next: %s\n", err);
			return CLI_ERROR;
		}
		if (rc == 1)
			break; /* none within ten years */
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fputs(buf, stdout);
		if (print_local(db, tz, t, err, sizeof(err)) == -1) {
			fprintf(stderr, "\npgfleet next: %s\n", err);
			return CLI_ERROR;
		}
		putchar('\n');
		after = t;
	}
	return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}

int
cmd_next(int argc, char **argv)
{
	const char *expr = NULL, *tz = "UTC", *after_s = NULL;
	long long count = 5;
	char err[512];
	struct cron c;
	time_t now, after;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (cmdutil_is_help(o)) {
			usage(stdout);
			return CLI_OK;
		} else if ((strcmp(o, "--timezone") == 0 || strcmp(o, "--after") == 0 ||
			       strcmp(o, "--count") == 0) && i + 1 < argc) {
			const char *v = argv[++i];
			if (o[2] == 't')
				tz = v;
			else if (o[2] == 'a')
				after_s = v;
			else if (units_int(v, 1, NEXT_MAX_COUNT, &count, err, sizeof(err)) == -1) {
				fprintf(stderr, "pgfleet next: --count: %s\n", err);
				return CLI_USAGE;
			}
		} else if (o[0] != '-' && expr == NULL) {
			expr = o;
		} else {
			fprintf(stderr, "pgfleet next: %s: %s\n", o,
			    o[0] == '-' ? "unknown option or missing value" : "one CRON only");
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (expr == NULL) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (cron_parse(expr, &c, err, sizeof(err)) == -1 ||
	    units_zone_name(tz, err, sizeof(err)) == -1 || args_now(&now, err, sizeof(err)) == -1 ||
	    args_time(after_s != NULL ? after_s : "now", now, &after, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet next: %s\n", err);
		return CLI_USAGE;
	}
	struct db *db = cmdutil_open("next");
	if (db == NULL)
		return CLI_ERROR;
	int known = tzdb_known(db, tz, err, sizeof(err));
	int rc = CLI_ERROR;
	if (known == -1)
		fprintf(stderr, "pgfleet next: %s\n", err);
	else if (known == 0) {
		fprintf(stderr, "pgfleet next: time zone \"%s\" is not one PostgreSQL knows "
		    "(pg_timezone_names)\n", tz);
		rc = CLI_USAGE;
	} else
		rc = next_print(db, &c, tz, after, (int)count);
	db_close(db);
	return rc;
}
