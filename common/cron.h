/*
 * cron: 5-field cron expressions (minute hour day-of-month month day-of-week)
 * parsed into bit sets, and the next matching minute after a time, in UTC.
 * No allocation: a struct cron is a plain value the caller owns.
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
	char text[CRON_TEXT_MAX]; /* the expression, fields joined by one space */
};

/*
 * Parse s into c. Returns 0, or -1 with err naming the expression, the field
 * and the value: cron "61 * * * *": minute 61 out of range 0-59
 */
int cron_parse(const char *s, struct cron *c, char *err, size_t errlen);

/* The first matching minute strictly after `after` (UTC); (time_t)-1 if none within 10 years. */
time_t cron_next(const struct cron *c, time_t after);

#endif
