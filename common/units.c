/*
 * units: strict parsers: no sign, no spaces, no trailing garbage, no overflow.
 */
#include "common/units.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Parse leading decimal digits; returns the number of digits (0 = none), -1 on overflow. */
static int
digits(const char *s, unsigned long long *v)
{
	int n = 0;
	*v = 0;
	while (isdigit((unsigned char)s[n])) {
		unsigned d = (unsigned)(s[n] - '0');
		if (*v > (ULLONG_MAX - d) / 10)
			return -1;
		*v = *v * 10 + d;
		n++;
	}
	return n;
}

int
units_int(const char *s, long long min, long long max, long long *out, char *err, size_t errlen)
{
	int neg = s[0] == '-';
	unsigned long long v;
	int n = digits(s + neg, &v);
	if (n <= 0 || s[neg + n] != '\0' || v > (unsigned long long)LLONG_MAX) {
		snprintf(err, errlen, "\"%s\" is not an integer", s);
		return -1;
	}
	long long x = neg ? -(long long)v : (long long)v;
	if (x < min || x > max) {
		snprintf(err, errlen, "%lld is out of range %lld..%lld", x, min, max);
		return -1;
	}
	*out = x;
	return 0;
}

int
units_duration_ms(const char *s, long long *ms, char *err, size_t errlen)
{
	static const struct { const char *unit; long long ms; } units[] = {
		{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
		{"", 1000},
	};
	unsigned long long v;
	int n = digits(s, &v);
	if (n <= 0) {
		snprintf(err, errlen, "\"%s\" is not a duration (examples: 500ms, 10s, 5m, 2h, 1d)", s);
		return -1;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s + n, units[i].unit) != 0)
			continue;
		if (v > (unsigned long long)(LLONG_MAX / units[i].ms)) {
			snprintf(err, errlen, "duration \"%s\" is too large", s);
			return -1;
		}
		*ms = (long long)v * units[i].ms;
		return 0;
	}
	snprintf(err, errlen, "\"%s\" has an unknown duration unit (use ms, s, m, h or d)", s);
	return -1;
}

int
units_size(const char *s, unsigned long long *bytes, char *err, size_t errlen)
{
	static const struct { const char *unit; unsigned long long mul; } units[] = {
		{"", 1}, {"B", 1}, {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30},
		{"K", 1ULL << 10}, {"M", 1ULL << 20}, {"G", 1ULL << 30},
		{"kB", 1000}, {"MB", 1000000}, {"GB", 1000000000},
	};
	unsigned long long v;
	int n = digits(s, &v);
	if (n <= 0) {
		snprintf(err, errlen, "\"%s\" is not a size (examples: 4096, 64KiB, 16MiB, 1GiB)", s);
		return -1;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s + n, units[i].unit) != 0)
			continue;
		if (v > ULLONG_MAX / units[i].mul) {
			snprintf(err, errlen, "size \"%s\" is too large", s);
			return -1;
		}
		*bytes = v * units[i].mul;
		return 0;
	}
	snprintf(err, errlen, "\"%s\" has an unknown size unit (use B, KiB, MiB or GiB)", s);
	return -1;
}

int
units_port_range(const char *s, int *lo, int *hi, char *err, size_t errlen)
{
	unsigned long long a, b;
	int n = digits(s, &a);
	if (n <= 0 || a < 1 || a > 65535)
		goto bad;
	if (s[n] == '\0') {
		*lo = *hi = (int)a;
		return 0;
	}
	if (s[n] != '-')
		goto bad;
	int m = digits(s + n + 1, &b);
	if (m <= 0 || s[n + 1 + m] != '\0' || b < 1 || b > 65535)
		goto bad;
	if (b < a) {
		snprintf(err, errlen, "port range \"%s\" ends before it starts", s);
		return -1;
	}
	*lo = (int)a;
	*hi = (int)b;
	return 0;
bad:
	snprintf(err, errlen, "\"%s\" is not a port or port range (example: 20000-20999, ports 1-65535)", s);
	return -1;
}

void
units_format_duration(long long ms, char *buf, size_t size)
{
	if (ms != 0 && ms % 86400000 == 0)
		snprintf(buf, size, "%lldd", ms / 86400000);
	else if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, size, "%lldh", ms / 3600000);
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, size, "%lldm", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%llds", ms / 1000);
	else
		snprintf(buf, size, "%lldms", ms);
}

static int
leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* n decimal digits at *p into *v, *p moved past them. */
static int
fixed_digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

int
units_zone_name(const char *s, char *err, size_t errlen)
{
	size_t len = strlen(s);
	int ok = len > 0 && len < UNITS_ZONE_MAX && isalpha((unsigned char)s[0]) && s[len - 1] != '/';
	for (size_t i = 0; ok && i < len; i++)
		ok = (isalnum((unsigned char)s[i]) || strchr("_+-/", s[i]) != NULL) &&
		    !(s[i] == '/' && s[i + 1] == '/');
	if (!ok) {
		snprintf(err, errlen, "\"%.70s\" is not a time zone name (examples: Europe/Berlin, "
		    "America/New_York, UTC)", s);
		return -1;
	}
	return 0;
}

/* The zone in "[...]" at p, which must end the string. */
static int
time_zone_suffix(const char *s, const char *p, struct units_time *out, char *err, size_t errlen)
{
	const char *close = strchr(p, ']');
	if (close == NULL || close[1] != '\0' || (size_t)(close - p - 1) >= UNITS_ZONE_MAX) {
		snprintf(err, errlen, "\"%.80s\": a zone is written in brackets at the end "
		    "(2026-12-01T02:00:00[Europe/Berlin])", s);
		return -1;
	}
	memcpy(out->zone, p + 1, (size_t)(close - p - 1));
	out->zone[close - p - 1] = '\0';
	return units_zone_name(out->zone, err, errlen);
}

int
units_time(const char *s, struct units_time *out, char *err, size_t errlen)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = s;
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;

	memset(out, 0, sizeof(*out));
	if (fixed_digits(&p, 4, &y) || *p++ != '-' || fixed_digits(&p, 2, &mo) || *p++ != '-' ||
	    fixed_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' ') ||
	    (p++, fixed_digits(&p, 2, &h)) || *p++ != ':' || fixed_digits(&p, 2, &mi) ||
	    *p++ != ':' || fixed_digits(&p, 2, &se))
		goto bad;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			goto bad;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		out->has_offset = 1;
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (fixed_digits(&p, 2, &oh) || *p++ != ':' || fixed_digits(&p, 2, &om) || oh > 23 ||
		    om > 59)
			goto bad;
		out->has_offset = 1;
	}
	if (*p == '[') {
		if (out->has_offset) {
			snprintf(err, errlen, "\"%.80s\": give an offset or a zone, not both", s);
			return -1;
		}
		if (time_zone_suffix(s, p, out, err, errlen) == -1)
			return -1;
	} else if (*p != '\0')
		goto bad;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap_year(y)) ||
	    h > 23 || mi > 59 || se > 59)
		goto bad;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
	    .tm_min = mi, .tm_sec = se};
	out->t = timegm(&tm) - sign * (oh * 3600 + om * 60);
	return 0;
bad:
	snprintf(err, errlen, "\"%.80s\" is not an RFC 3339 timestamp (examples: "
	    "2026-12-01T02:00:00Z, 2026-12-01T03:00:00+01:00, 2026-12-01T03:00:00[Europe/Berlin])", s);
	return -1;
}
