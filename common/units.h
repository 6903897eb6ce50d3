/*
 * units: the value syntaxes shared by configs and job batches: durations
 * ("500ms", "10s", "5m", "2h", "1d"; a bare number is seconds), sizes
 * ("64KiB", "16MiB", "1GiB", bare bytes), port ranges ("20000-20999" or
 * "4020"), integers. Each returns 0, or -1 with a reason in err. No allocation.
 */
#ifndef PGFLEET_UNITS_H
#define PGFLEET_UNITS_H

#include <stddef.h>

int units_duration_ms(const char *s, long long *ms, char *err, size_t errlen);
int units_size(const char *s, unsigned long long *bytes, char *err, size_t errlen);
int units_port_range(const char *s, int *lo, int *hi, char *err, size_t errlen);
/* A decimal integer in [min, max]. */
int units_int(const char *s, long long min, long long max, long long *out, char *err, size_t errlen);
/* Format ms back as the shortest exact unit ("90s", "5m", "250ms"). */
void units_format_duration(long long ms, char *buf, size_t size);

#endif
