/*
 * tzdb: time zones from PostgreSQL's time zone data, the one the database's
 * AT TIME ZONE uses: a zone's offsets over a range (pgfleet.tz_offsets of
 * migrations/0020_timezones.sql) into a struct cron_zone, the next cron
 * occurrence in a zone, a wall-clock time of a zone to an instant. Each is one
 * or a few statements on the caller's connection. Nothing returned needs freeing.
 */
#ifndef PGFLEET_TZDB_H
#define PGFLEET_TZDB_H

#include <stddef.h>
#include <time.h>

#include "common/cron.h"

struct db;

/* The zone's offsets over [from, to) (at most CRON_ZONE_MAX changes). 0, or -1 with err. */
int tzdb_zone(struct db *db, const char *tz, time_t from, time_t to, struct cron_zone *z,
    char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * The first occurrence of c strictly after `after` in tz (cron_next_tz's rules), searched
 * a year at a time up to ten years: 0 with *next, 1 when there is none within ten years,
 * -1 with err (a database error, or a zone PostgreSQL does not know).
 */
int tzdb_cron_next(struct db *db, const struct cron *c, const char *tz, time_t after, time_t *next,
    char *err, size_t errlen) __attribute__((warn_unused_result));
/* A wall-clock time of tz (its fields read as UTC) to an instant (cron_zone_utc's rules). */
int tzdb_local(struct db *db, const char *tz, time_t local, time_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* 1 when PostgreSQL knows tz by that name (pg_timezone_names), 0 when not, -1 with err. */
int tzdb_known(struct db *db, const char *tz, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
