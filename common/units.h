/*
 * units: the value syntaxes shared by configs and job batches: durations
 * ("500ms", "10s", "5m", "2h", "1d"; a bare number is seconds), sizes
 * ("64KiB", "16MiB", "1GiB", bare bytes), port ranges ("20000-20999" or
 * "4020"), integers, timestamps (RFC 3339, or a wall-clock time with a time zone name).
 * Each returns 0, or -1 with a reason in err. No allocation.
 */
#ifndef PGFLEET_UNITS_H
#define PGFLEET_UNITS_H

#include <stddef.h>
#include <time.h>

#define UNITS_ZONE_MAX 64 /* longest time zone name accepted, NUL included */

int units_duration_ms(const char *s, long long *ms, char *err, size_t errlen);
int units_size(const char *s, unsigned long long *bytes, char *err, size_t errlen);
int units_port_range(const char *s, int *lo, int *hi, char *err, size_t errlen);
/* A decimal integer in [min, max]. */
int units_int(const char *s, long long min, long long max, long long *out, char *err, size_t errlen);
/*
 * A timestamp: RFC 3339 with Z or an offset ("2026-12-01T02:00:00Z",
 * "2026-12-01 03:00:00.5+01:00"), or a wall-clock time with no offset, alone
 * ("2026-12-01T02:00:00", the caller names the zone) or with a zone name in
 * brackets as RFC 9557 writes it ("2026-12-01T02:00:00[Europe/Berlin]"). Years
 * 1970-9999; fractions of a second dropped; an offset and a zone together refused.
 */
struct units_time {
	time_t t;       /* the instant when has_offset, else the wall-clock time read as UTC */
	int has_offset; /* Z or an offset was given */
	char zone[UNITS_ZONE_MAX]; /* the bracketed zone name, "" when none */
};
int units_time(const char *s, struct units_time *out, char *err, size_t errlen);
/* The syntax of a time zone name ("Europe/Berlin", "UTC", "America/Port-au-Prince"):
 * letters, digits, '_', '+', '-' in '/'-separated parts, at most 63 bytes. Whether
 * the zone exists is the database's to say (pg_timezone_names). */
int units_zone_name(const char *s, char *err, size_t errlen);
/* Format ms back as the shortest exact unit ("90s", "5m", "250ms"). */
void units_format_duration(long long ms, char *buf, size_t size);

#endif
