/*
 * cron: 5-field cron expressions (minute hour day-of-month month day-of-week)
 * parsed into bit sets, and the next matching minute after a time, in UTC or in
 * the wall-clock time of a zone whose offsets the caller supplies (a struct
 * cron_zone, read from PostgreSQL's time zone data by common/tzdb.h).
 * No allocation: a struct cron and a struct cron_zone are plain values the caller owns.
 */
#ifndef PGFLEET_CRON_H
#define PGFLEET_CRON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CRON_TEXT_MAX 128 /* longest accepted expression, NUL included */

struct cron {
	uint64_t minute; /* bit n: minute n, 0-59 */
	uint32_t hour;   /* bit n: hour n, 0-23 */
	uint32_t dom;    /* bit n: day of month n, 1-31 */
	uint16_t month;  /* bit n: month n, 1-12 */
	uint8_t dow;     /* bit n: day of week n, 0 (Sunday)-6; 7 is stored as 0 */
	int dom_star;    /* day-of-month field began with '*' (see the OR rule in cron.c) */
	int dow_star;    /* day-of-week field began with '*' */
	int min_star;    /* minute field began with '*': with hour_star, a "wildcard" job (DST) */
	int hour_star;   /* hour field began with '*' */
	char text[CRON_TEXT_MAX]; /* the expression, fields joined by one space */
};

/*
 * Parse s into c. Returns 0, or -1 with err naming the expression, the field
 * and the value: cron "61 * * * *": minute 61 out of range 0-59
 */
int cron_parse(const char *s, struct cron *c, char *err, size_t errlen);

/* The first matching minute strictly after `after` (UTC); (time_t)-1 if none within 10 years. */
time_t cron_next(const struct cron *c, time_t after);

#define CRON_ZONE_MAX 64 /* offset changes one struct cron_zone holds */

/*
 * A time zone's offsets from UTC over [from, to): off0 in force at from, then
 * each change, at ascending instants strictly inside the range.
 */
struct cron_zone {
	time_t from, to;
	int off0; /* seconds east of UTC (Europe/Berlin: 3600 in winter) */
	int n;
	struct cron_zone_change {
		time_t at;
		int off;
	} tr[CRON_ZONE_MAX];
};

/* The offset in force at t (clamped to the range). */
int cron_zone_offset(const struct cron_zone *z, time_t t);

/*
 * The first occurrence strictly after `after` (from <= after < to) of c read in
 * the zone's wall-clock time, or (time_t)-1 when none starts before z->to (the
 * caller asks again with the next range). Daylight saving time as cron does it:
 * a job at fixed times (neither minute nor hour begins with '*') whose local
 * time is skipped when clocks go forward runs once at the moment of the change
 * (several skipped times of one gap, once in all), and a local time that comes
 * twice when clocks go back runs only the first time; a wildcard job follows the
 * wall clock (a skipped minute does not exist, a repeated one runs each time).
 */
time_t cron_next_tz(const struct cron *c, const struct cron_zone *z, time_t after);

/*
 * A wall-clock time of the zone (its fields read as UTC) to an instant: the first
 * of two when it comes twice, the moment of the change when it is skipped.
 * (time_t)-1 when outside the zone's range.
 */
time_t cron_zone_utc(const struct cron_zone *z, time_t local);

#endif
