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
