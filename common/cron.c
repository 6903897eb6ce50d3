/*
 * cron: parse the classic Vixie cron syntax into bit sets and find the next
 * matching minute. Days follow Vixie cron's rule: when both day-of-month and
 * day-of-week are restricted (neither field begins with '*'), a day matches if
 * EITHER matches; otherwise both must match (so a field that begins with '*',
 * stepped or not, leaves the other alone in charge). All times are UTC.
 */
#include "common/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, F_COUNT };

static const struct field {
	const char *name;
	int min, max;
	const char *const *names; /* names[i] stands for min + i, or NULL */
	const char *hint;         /* how a name looks, for messages */
} fields[F_COUNT] = {
	{"minute", 0, 59, NULL, NULL},
	{"hour", 0, 23, NULL, NULL},
	{"day-of-month", 1, 31, NULL, NULL},
	{"month", 1, 12,
	 (const char *const[]){"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
			       "oct", "nov", "dec", NULL},
	 "a month name (jan..dec)"},
	{"day-of-week", 0, 7,
	 (const char *const[]){"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL},
	 "a day name (sun..sat)"},
};

static const struct {
	const char *name;
	const char *expr;
} macros[] = {
	{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
};

/* Days in each month, February with its leap day (a cron day can match in some year). */
static const int month_days[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* Parse a value (number or name) of field f from [s, e). Returns 0 or -1 with err. */
static int
parse_value(const char *expr, const struct field *f, const char *s, const char *e, int *out,
	    char *err, size_t errlen)
{
	int n = (int)(e - s);
	if (n > 0 && n <= 9) {
		int i, v = 0;
		for (i = 0; i < n && isdigit((unsigned char)s[i]); i++)
			v = v * 10 + (s[i] - '0');
		if (i == n) {
			if (v < f->min || v > f->max) {
				snprintf(err, errlen, "cron \"%s\": %s %d out of range %d-%d", expr,
					 f->name, v, f->min, f->max);
				return -1;
			}
			*out = v;
			return 0;
		}
	}
	if (f->names != NULL && n == 3) {
		for (int i = 0; f->names[i] != NULL; i++) {
			if (strncasecmp(s, f->names[i], 3) == 0) {
				*out = f->min + i;
				return 0;
			}
		}
	}
	if (f->names != NULL)
		snprintf(err, errlen, "cron \"%s\": %s \"%.*s\" is not a number or %s", expr, f->name,
			 n, s, f->hint);
	else
		snprintf(err, errlen, "cron \"%s\": %s \"%.*s\" is not a number", expr, f->name, n, s);
	return -1;
}

/* Parse one list item: star, star/S, A, A-B, A-B/S, A/S (from A to the field's end). */
static int
parse_item(const char *expr, const struct field *f, const char *s, const char *e,
	   uint64_t *bits, char *err, size_t errlen)
{
	const char *slash = memchr(s, '/', (size_t)(e - s));
	const char *re = slash != NULL ? slash : e;
	int lo, hi, step = 1;

	if (s == re) {
		snprintf(err, errlen, "cron \"%s\": %s has an empty list item", expr, f->name);
		return -1;
	}
	if (re - s == 1 && *s == '*') {
		lo = f->min;
		hi = f->max == 7 ? 6 : f->max;
	} else {
		const char *dash = memchr(s, '-', (size_t)(re - s));
		if (parse_value(expr, f, s, dash != NULL ? dash : re, &lo, err, errlen) == -1)
			return -1;
		if (dash != NULL) {
			if (parse_value(expr, f, dash + 1, re, &hi, err, errlen) == -1)
				return -1;
			if (hi < lo) {
				snprintf(err, errlen, "cron \"%s\": %s range %.*s ends before it starts",
					 expr, f->name, (int)(re - s), s);
				return -1;
			}
		} else
			hi = slash != NULL ? (f->max == 7 ? 6 : f->max) : lo;
	}
	if (slash != NULL) {
		const char *p = slash + 1;
		int n = (int)(e - p), v = 0, i;
		int smax = f->max - f->min;
		for (i = 0; i < n && i < 9 && isdigit((unsigned char)p[i]); i++)
			v = v * 10 + (p[i] - '0');
		if (n == 0 || i != n) {
			snprintf(err, errlen, "cron \"%s\": %s step \"%.*s\" is not a number", expr,
				 f->name, n, p);
			return -1;
		}
		if (v < 1 || v > smax) {
			snprintf(err, errlen, "cron \"%s\": %s step %d out of range 1-%d", expr, f->name,
				 v, smax);
			return -1;
		}
		step = v;
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= 1ULL << (f->max == 7 && v == 7 ? 0 : v);
	return 0;
}

/* Parse one field [s, e) (a comma list) into bits. */
static int
parse_field(const char *expr, const struct field *f, const char *s, const char *e,
	    uint64_t *bits, char *err, size_t errlen)
{
	*bits = 0;
	for (;;) {
		const char *comma = memchr(s, ',', (size_t)(e - s));
		const char *ie = comma != NULL ? comma : e;
		if (parse_item(expr, f, s, ie, bits, err, errlen) == -1)
			return -1;
		if (comma == NULL)
			return 0;
		s = comma + 1;
	}
}

/* With day-of-week unrestricted, some chosen day-of-month must exist in some chosen month. */
static int
days_can_match(const struct cron *c)
{
	for (int m = 1; m <= 12; m++) {
		if (!(c->month & (1U << m)))
			continue;
		for (int d = 1; d <= month_days[m]; d++)
			if (c->dom & (1U << d))
				return 1;
	}
	return 0;
}

int
cron_parse(const char *s, struct cron *c, char *err, size_t errlen)
{
	const char *start[F_COUNT], *end[F_COUNT];
	uint64_t bits[F_COUNT];
	const char *expr = s;
	int n = 0;

	memset(c, 0, sizeof(*c));
	if (strlen(s) >= CRON_TEXT_MAX) {
		snprintf(err, errlen, "cron \"%.40s...\": too long (at most %d characters)", s,
			 CRON_TEXT_MAX - 1);
		return -1;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '@') {
		size_t len = strcspn(s, " \t");
		const char *rest = s + len + strspn(s + len, " \t");
		for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
			if (*rest == '\0' && strlen(macros[i].name) == len &&
			    strncasecmp(s, macros[i].name, len) == 0) {
				if (cron_parse(macros[i].expr, c, err, errlen) == -1)
					return -1;
				snprintf(c->text, sizeof(c->text), "%s", macros[i].name);
				return 0;
			}
		}
		snprintf(err, errlen,
			 "cron \"%s\": unknown macro (use @yearly, @annually, @monthly, @weekly, "
			 "@daily, @midnight or @hourly)",
			 expr);
		return -1;
	}
	while (*s != '\0') {
		size_t len = strcspn(s, " \t");
		if (n < F_COUNT) {
			start[n] = s;
			end[n] = s + len;
		}
		n++;
		s += len;
		s += strspn(s, " \t");
	}
	if (n != F_COUNT) {
		snprintf(err, errlen,
			 "cron \"%s\": expected 5 fields (minute hour day-of-month month day-of-week), "
			 "found %d",
			 expr, n);
		return -1;
	}
	for (int i = 0; i < F_COUNT; i++)
		if (parse_field(expr, &fields[i], start[i], end[i], &bits[i], err, errlen) == -1)
			return -1;
	c->minute = bits[F_MINUTE];
	c->hour = (uint32_t)bits[F_HOUR];
	c->dom = (uint32_t)bits[F_DOM];
	c->month = (uint16_t)bits[F_MONTH];
	c->dow = (uint8_t)bits[F_DOW];
	c->dom_star = *start[F_DOM] == '*';
	c->dow_star = *start[F_DOW] == '*';
	c->min_star = *start[F_MINUTE] == '*';
	c->hour_star = *start[F_HOUR] == '*';
	if (c->dow_star && !days_can_match(c)) {
		snprintf(err, errlen,
			 "cron \"%s\": never matches (no chosen day-of-month occurs in a chosen month)",
			 expr);
		return -1;
	}
	snprintf(c->text, sizeof(c->text), "%.*s %.*s %.*s %.*s %.*s",
		 (int)(end[0] - start[0]), start[0], (int)(end[1] - start[1]), start[1],
		 (int)(end[2] - start[2]), start[2], (int)(end[3] - start[3]), start[3],
		 (int)(end[4] - start[4]), start[4]);
	return 0;
}

static int
day_matches(const struct cron *c, const struct tm *tm)
{
	int dom = (c->dom >> tm->tm_mday) & 1;
	int dow = (c->dow >> tm->tm_wday) & 1;
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

/* Re-read tm after a field moved past its range (timegm carries it over). */
static void
normalize(struct tm *tm)
{
	time_t t = timegm(tm);
	gmtime_r(&t, tm);
}

time_t
cron_next(const struct cron *c, time_t after)
{
	struct tm tm;
	time_t t = after - (after % 60 + 60) % 60 + 60;
	int last_year;

	if (gmtime_r(&t, &tm) == NULL)
		return (time_t)-1;
	last_year = tm.tm_year + 10;
	while (tm.tm_year <= last_year) {
		if (!(c->month & (1U << (tm.tm_mon + 1)))) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = 0;
		} else if (!day_matches(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = 0;
		} else if (!(c->hour & (1U << tm.tm_hour))) {
			tm.tm_hour++;
			tm.tm_min = 0;
		} else if (!(c->minute & (1ULL << tm.tm_min))) {
			tm.tm_min++;
		} else
			return timegm(&tm);
		tm.tm_sec = 0;
		normalize(&tm);
	}
	return (time_t)-1;
}

/* Segment i of the zone: [*s, *e) with offset *off. Segments: 0..z->n. */
static void
zone_segment(const struct cron_zone *z, int i, time_t *s, time_t *e, int *off)
{
	*s = i == 0 ? z->from : z->tr[i - 1].at;
	*e = i == z->n ? z->to : z->tr[i].at;
	*off = i == 0 ? z->off0 : z->tr[i - 1].off;
}

int
cron_zone_offset(const struct cron_zone *z, time_t t)
{
	int off = z->off0;
	for (int i = 0; i < z->n && z->tr[i].at <= t; i++)
		off = z->tr[i].off;
	return off;
}

time_t
cron_next_tz(const struct cron *c, const struct cron_zone *z, time_t after)
{
	int fixed = !c->min_star && !c->hour_star;
	int k = 0;
	if (after < z->from || after >= z->to)
		return (time_t)-1;
	while (k < z->n && z->tr[k].at <= after)
		k++;
	for (int i = k; i <= z->n; i++) {
		time_t s, e, lo;
		int off, prev;
		zone_segment(z, i, &s, &e, &off);
		/* local times are searched strictly after lo: from after, or from the segment start */
		lo = i == k ? after + off : s + off - 1;
		if (i > 0) {
			prev = i == 1 ? z->off0 : z->tr[i - 2].off;
			if (off > prev && fixed && i > k) {
				/* clocks went forward at s: a fixed time in the gap runs once, at s */
				time_t g = cron_next(c, s + prev - 1);
				if (g != (time_t)-1 && g < s + off)
					return s;
			} else if (off < prev && fixed && lo < s + prev - 1) {
				/* clocks went back at s: the repeated local times ran already */
				lo = s + prev - 1;
			}
		}
		time_t l = cron_next(c, lo);
		if (l == (time_t)-1)
			return (time_t)-1;
		if (l < e + off)
			return l - off;
	}
	return (time_t)-1;
}

time_t
cron_zone_utc(const struct cron_zone *z, time_t local)
{
	for (int i = 0; i <= z->n; i++) {
		time_t s, e;
		int off;
		zone_segment(z, i, &s, &e, &off);
		if (local >= s + off && local < e + off)
			return local - off;
		if (i > 0) {
			int prev = i == 1 ? z->off0 : z->tr[i - 2].off;
			if (off > prev && local >= s + prev && local < s + off)
				return s; /* skipped: the moment clocks went forward */
		}
	}
	return (time_t)-1;
}
