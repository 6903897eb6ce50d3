/*
 * tzdb: PostgreSQL samples the zone's offset every hour over the range and
 * narrows each change to its minute (pgfleet.tz_offsets); the arithmetic is
 * common/cron.c's, unit-tested without a database.
 */
#include "common/tzdb.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/db.h"

static const char SQL_OFFSETS[] =
    "SELECT extract(epoch FROM at)::bigint, utc_offset"
    " FROM pgfleet.tz_offsets($1, to_timestamp($2::bigint), to_timestamp($3::bigint))";

static const char SQL_KNOWN[] = "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)";

#define YEAR_S (366LL * 86400)
#define SLACK_S (2LL * 86400) /* before `after`: a change just before it is known */

int
tzdb_zone(struct db *db, const char *tz, time_t from, time_t to, struct cron_zone *z, char *err,
    size_t errlen)
{
	char sfrom[24], sto[24];
	struct db_result *r;
	snprintf(sfrom, sizeof(sfrom), "%lld", (long long)from);
	snprintf(sto, sizeof(sto), "%lld", (long long)to);
	const char *p[] = {tz, sfrom, sto};
	if (db_exec(db, &r, SQL_OFFSETS, 3, p, err, errlen) == -1)
		return -1;
	int n = db_ntuples(r);
	if (n < 1 || n > CRON_ZONE_MAX + 1) {
		snprintf(err, errlen, "time zone %s: %d offset changes in a year", tz, n - 1);
		db_result_free(r);
		return -1;
	}
	z->from = from;
	z->to = to;
	z->off0 = atoi(db_value(r, 0, 1));
	z->n = 0;
	for (int i = 1; i < n; i++) {
		z->tr[z->n].at = (time_t)strtoll(db_value(r, i, 0), NULL, 10);
		z->tr[z->n].off = atoi(db_value(r, i, 1));
		z->n++;
	}
	db_result_free(r);
	return 0;
}

int
tzdb_cron_next(struct db *db, const struct cron *c, const char *tz, time_t after, time_t *next,
    char *err, size_t errlen)
{
	struct cron_zone z;
	time_t from = after - SLACK_S, start = after;
	while (after < start + 10 * YEAR_S) {
		if (tzdb_zone(db, tz, from, after + YEAR_S, &z, err, errlen) == -1)
			return -1;
		time_t t = cron_next_tz(c, &z, after);
		if (t != (time_t)-1) {
			*next = t;
			return 0;
		}
		/* none before z.to: on from there, a change just before it known */
		after = z.to - 1;
		from = after - SLACK_S;
	}
	return 1;
}

int
tzdb_local(struct db *db, const char *tz, time_t local, time_t *out, char *err, size_t errlen)
{
	struct cron_zone z;
	/* offsets are under a day: the instant is within a day of the wall-clock time */
	if (tzdb_zone(db, tz, local - SLACK_S, local + SLACK_S, &z, err, errlen) == -1)
		return -1;
	time_t t = cron_zone_utc(&z, local);
	if (t == (time_t)-1) {
		snprintf(err, errlen, "time zone %s: no offset found for that time", tz);
		return -1;
	}
	*out = t;
	return 0;
}

int
tzdb_known(struct db *db, const char *tz, char *err, size_t errlen)
{
	struct db_result *r;
	const char *p[] = {tz};
	if (db_exec(db, &r, SQL_KNOWN, 1, p, err, errlen) == -1)
		return -1;
	int known = db_value(r, 0, 0)[0] == 't';
	db_result_free(r);
	return known;
}
