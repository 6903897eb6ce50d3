/*
 * pgfleet next CRON [--timezone ZONE] [--after TIME] [--count N]: when a cron
 * expression runs, in UTC and in the zone's wall-clock time, computed as the
 * scheduler computes each next occurrence (common/cron.c with PostgreSQL's time
 * zone data, common/tzdb.c): a way to check a schedule, daylight saving included,
 * before submitting it.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "cli/opts.h"
#include "common/cron.h"
#include "common/db.h"
#include "common/tzdb.h"
#include "common/units.h"

#define NEXT_MAX_COUNT 1000

struct next_args {
	const char *tz, *after;
	long long count;
};

#define O(f) offsetof(struct next_args, f)
static const struct opts_spec specs[] = {
	OPTS_ROW_STR("--timezone", O(tz), "ZONE", "an IANA zone PostgreSQL knows (Europe/Berlin);\ndefault UTC"),
	OPTS_ROW_STR("--after", O(after), "TIME", "count from this instant (RFC 3339, +DURATION or\n"
	    "now; default now, or PGFLEET_NOW when set)"),
	OPTS_ROW_INT("--count", O(count), "N", 1, NEXT_MAX_COUNT, "how many runs, 1-1000 (default 5)"),
};
#undef O

static const struct opts_cmd next_cmd = {.cmd = "next", OPTS_TABLE(specs), .maxpos = 1,
    .extra = "%s: one CRON only",
    .about = "usage: pgfleet next CRON [--timezone ZONE] [--after TIME] [--count N]\n\n"
		   "The next runs of a cron expression (docs/yaml.md \"Cron expressions\"), one\n"
		   "line each: the instant in UTC, then the wall-clock time in ZONE with its\n"
		   "offset. Daylight saving time as the scheduler handles it: a skipped local time\n"
		   "runs once at the change, a repeated one runs once (docs/yaml.md \"Time zones\").\n\n"};

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
	struct next_args na = {"UTC", NULL, 5};
	struct opts_pos pos;
	char err[512];
	struct cron c;
	time_t now, after;
	int rc = opts_parse(&next_cmd, argc, argv, &na, &pos);
	if (rc != 0)
		return opts_exit(rc);
	if (pos.n == 0) {
		opts_usage(stderr, &next_cmd);
		return CLI_USAGE;
	}
	const char *expr = pos.v[0], *tz = na.tz, *after_s = na.after;
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
	rc = CLI_ERROR;
	if (known == -1)
		fprintf(stderr, "pgfleet next: %s\n", err);
	else if (known == 0) {
		fprintf(stderr, "pgfleet next: time zone \"%s\" is not one PostgreSQL knows "
		    "(pg_timezone_names)\n", tz);
		rc = CLI_USAGE;
	} else
		rc = next_print(db, &c, tz, after, (int)na.count);
	db_close(db);
	return rc;
}
